/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-application.h: the workbench application: app actions, the job runner, the model shelf. */
#pragma once

#include <adwaita.h>

#include "fw-job.h"
#include "fw-model-shelf.h"

G_BEGIN_DECLS

#define FW_APPLICATION_ID "org.frugal.Workbench"

#define FW_TYPE_APPLICATION (fw_application_get_type ())
G_DECLARE_FINAL_TYPE (FwApplication, fw_application, FW, APPLICATION, AdwApplication)

FwApplication *fw_application_new         (void);
/* The one worker that runs every job of the GUI (transfer none). */
FwJobRunner   *fw_application_get_runner  (FwApplication *self);
/* The model shelf shared by all windows and pages (transfer none). */
FwModelShelf  *fw_application_get_shelf   (FwApplication *self);
/* Where run folders go: $FW_RUNS_DIR, else "runs" in the working directory. */
const char    *fw_application_get_runs_dir (FwApplication *self);

G_END_DECLS
