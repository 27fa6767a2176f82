/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-transfer.h: the Transfer page: a source model (pre-trained here or from the shelf),
 * a target task, a strategy with its trainable / frozen parameters, and the experiment of the
 * lecture in one click: accuracy vs labels per class (error bands over seeds) and accuracy vs
 * training time, plus the multi-task demonstration. */
#pragma once

#include <gtk/gtk.h>

#include "fw-plot.h"

G_BEGIN_DECLS

#define FW_TYPE_PAGE_TRANSFER (fw_page_transfer_get_type ())
G_DECLARE_FINAL_TYPE (FwPageTransfer, fw_page_transfer, FW, PAGE_TRANSFER, GtkWidget)

/* Fills the experiment form: source spec, target spec, labels per class ("1,10,0"), seeds,
 * steps, pre-training epochs, methods (comma-separated names, NULL = leave the checks). */
void        fw_page_transfer_set_form        (FwPageTransfer *self, const char *source,
                                              const char *target, const char *labels,
                                              int seeds, int steps, int pretrain_epochs,
                                              const char *methods);
/* Starts the experiment / the multi-task demonstration with the form's settings. */
void        fw_page_transfer_run_experiment  (FwPageTransfer *self);
void        fw_page_transfer_run_multitask   (FwPageTransfer *self);
gboolean    fw_page_transfer_is_running      (FwPageTransfer *self);
/* Selects a strategy (FwTransferMethod) in the drop-down. */
void        fw_page_transfer_set_strategy    (FwPageTransfer *self, int method);
/* Trainable and frozen parameters shown for the current strategy (0 when unknown). */
void        fw_page_transfer_get_param_counts (FwPageTransfer *self, gsize *trainable,
                                               gsize *frozen);
FwLinePlot *fw_page_transfer_get_labels_plot (FwPageTransfer *self);
FwLinePlot *fw_page_transfer_get_time_plot   (FwPageTransfer *self);
const char *fw_page_transfer_get_table_text  (FwPageTransfer *self);
void        fw_page_transfer_set_font_scale  (FwPageTransfer *self, double scale);
/* Shows one of the views: "labels", "time" or "table". */
void        fw_page_transfer_show_view       (FwPageTransfer *self, const char *name);

G_END_DECLS
