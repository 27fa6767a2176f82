/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-panel-quant.h: the Quantize and Cluster panels of the Compress page.
 *
 * A narrow column of controls (source model from the shelf, method and its parameters, one
 * primary button) and the weight histogram of the model's largest weight tensor: the float
 * weights (grey) and the weights now (colour) with the quantization levels / cluster centres
 * marked as vertical lines, live while the job fine-tunes. The job is the recipe job of
 * fw-quant-job.h ([quantize] or [cluster]), so the GUI and `frugal run` do the same work; the
 * compressed model lands on the shelf with its test accuracy. */
#pragma once

#include <gtk/gtk.h>

#include "fw-model.h"
#include "fw-plot.h"
#include "fw-quant-job.h"

G_BEGIN_DECLS

#define FW_TYPE_PANEL_QUANT (fw_panel_quant_get_type ())
G_DECLARE_FINAL_TYPE (FwPanelQuant, fw_panel_quant, FW, PANEL_QUANT, GtkBox)

/* cluster = FALSE: the Quantize panel (int8, fp16, ternary, binary); TRUE: the Cluster panel.
 * A free-standing panel (its own Model drop-down over the window's shelf): */
GtkWidget *fw_panel_quant_new (gboolean cluster);
/* A method of the Compress page: the page's layout and Model drop-down, results through
 * fw_page_compress_add_result() (so onto the shelf and the compare board). */
typedef struct _FwPageCompress FwPageCompress;
GtkWidget *fw_panel_quant_new_for_page (FwPageCompress *page, gboolean cluster);

/* The model to compress (instead of the shelf's selection) and the dataset it was trained on
 * (NULL: the window's dataset, or fashion-mnist). */
void       fw_panel_quant_set_source   (FwPanelQuant *self, FwModel *model, const char *data_spec);
/* Form values: mode "int8" "f16" "ternary" "binary" (Quantize panel); k, epochs, train_limit
 * (0 = all) for both panels (k is ignored by the Quantize panel). */
void       fw_panel_quant_set_form     (FwPanelQuant *self, const char *mode, int k, int epochs,
                                        int train_limit);
/* Starts the job (what the primary button does); FALSE with an error shown when it cannot. */
gboolean   fw_panel_quant_run          (FwPanelQuant *self);
gboolean   fw_panel_quant_is_running   (FwPanelQuant *self);
/* The histogram shown (NULL before the first), the number of frames received, the result. */
const FwWeightHist  *fw_panel_quant_get_hist     (FwPanelQuant *self);
guint                fw_panel_quant_get_n_frames (FwPanelQuant *self);
const FwQuantResult *fw_panel_quant_get_result   (FwPanelQuant *self);

/* The histogram plot (pure Cairo + Pango, shared by the widget and exports). */
void       fw_weight_hist_draw (cairo_t *cr, const FwWeightHist *h, double width, double height,
                                const FwPlotStyle *style);

G_END_DECLS
