/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-window-private.h: what tests and sibling widgets read from the window. */
#pragma once

#include "fw-window.h"
#include "fw-job-indicator.h"
#include "fw-page-data.h"
#include "fw-page-train.h"
#include "fw-page-lecture.h"
#include "fw-session.h"

G_BEGIN_DECLS

FwPageData     *fw_window_get_page_data     (FwWindow *self);
FwPageTrain    *fw_window_get_page_train    (FwWindow *self);
FwJobIndicator *fw_window_get_job_indicator (FwWindow *self);
GtkStack       *fw_window_get_stack         (FwWindow *self);
/* The text of the error bar while it is shown, else NULL. */
const char     *fw_window_get_error_text    (FwWindow *self);
FwPageLecture  *fw_window_get_page_lecture  (FwWindow *self);
/* (Re)reads the lecture demos of dir (NULL = fw_lecture_dir()) into the Lecture page and the
 * Lecture menu; errors go to the error bar. */
gboolean        fw_window_load_lecture_demos (FwWindow *self, const char *dir);
/* Session snapshots (fw-session.h): the window's state as a session, and back. */
FwSession      *fw_window_get_session       (FwWindow *self);
void            fw_window_apply_session     (FwWindow *self, const FwSession *s);
gboolean        fw_window_save_session      (FwWindow *self, const char *path, GError **error);
gboolean        fw_window_open_session      (FwWindow *self, const char *path, GError **error);
/* The last toast's text, or NULL. */
const char     *fw_window_get_last_toast    (FwWindow *self);

G_END_DECLS
