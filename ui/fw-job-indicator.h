/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-job-indicator.h: the header bar's view of the running job: name, progress, ETA, pause,
 * cancel, and how many jobs wait behind it. Hidden when no job is queued or running. */
#pragma once

#include <gtk/gtk.h>

#include "fw-job.h"

G_BEGIN_DECLS

#define FW_TYPE_JOB_INDICATOR (fw_job_indicator_get_type ())
G_DECLARE_FINAL_TYPE (FwJobIndicator, fw_job_indicator, FW, JOB_INDICATOR, GtkWidget)

GtkWidget *fw_job_indicator_new         (void);
/* Starts showing job (takes a reference) until its final event is passed to _update(). */
void       fw_job_indicator_track       (FwJobIndicator *self, FwJob *job);
/* Feeds an event of a tracked job (on the main thread, from the job's event callback). */
void       fw_job_indicator_update      (FwJobIndicator *self, FwJob *job, const FwEvent *ev);
/* The job shown (the oldest tracked one), or NULL (transfer none). */
FwJob     *fw_job_indicator_get_current (FwJobIndicator *self);
guint      fw_job_indicator_get_n_jobs  (FwJobIndicator *self);
/* Pause/resume and cancel the job shown (what the buttons do). */
void       fw_job_indicator_toggle_pause (FwJobIndicator *self);
void       fw_job_indicator_cancel      (FwJobIndicator *self);
/* Read back what is shown (tests). */
const char *fw_job_indicator_get_text   (FwJobIndicator *self);
double      fw_job_indicator_get_fraction (FwJobIndicator *self);

G_END_DECLS
