/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-window-private.h: what tests and sibling widgets read from the window. */
#pragma once

#include "fw-window.h"
#include "fw-job-indicator.h"
#include "fw-page-data.h"
#include "fw-page-train.h"

G_BEGIN_DECLS

FwPageData     *fw_window_get_page_data     (FwWindow *self);
FwPageTrain    *fw_window_get_page_train    (FwWindow *self);
FwJobIndicator *fw_window_get_job_indicator (FwWindow *self);
GtkStack       *fw_window_get_stack         (FwWindow *self);
/* The text of the error bar while it is shown, else NULL. */
const char     *fw_window_get_error_text    (FwWindow *self);
/* The last toast's text, or NULL. */
const char     *fw_window_get_last_toast    (FwWindow *self);

G_END_DECLS
