/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-panel-decompose.h: Compress page methods of engine/compress/fw-lowrank.h and
 * engine/train/fw-distill.h.
 *
 * FwDecompPanel (one instance per method group: "Low rank" = svd, "CP" = cp, "Tucker" =
 * tucker, "Tensor train" = tt or ht): rank (or kept energy), an optional sweep of ranks,
 * fine-tuning epochs; runs the [decompose] job on the chosen shelf model and shows the
 * reconstruction error of every decomposable layer vs rank (the curve to pick the rank from)
 * and, per decomposed model, test accuracy vs compression ratio. Each decomposed model goes onto
 * the shelf (so the compare board) as its saved file.
 *
 * FwDistillPanel: the chosen shelf model is the teacher; a student architecture, temperature,
 * alpha, epochs, seeds; runs the [distill] job and shows the teacher's softened outputs at the
 * chosen temperature for a test sample (next to T = 1), and distilled vs hard-label accuracy per
 * seed. The first distilled student goes onto the shelf. */
#pragma once

#include <gtk/gtk.h>

#include "fw-lowrank.h"
#include "fw-plot.h"

G_BEGIN_DECLS

typedef struct _FwPageCompress FwPageCompress;

#define FW_TYPE_DECOMP_PANEL (fw_decomp_panel_get_type ())
G_DECLARE_FINAL_TYPE (FwDecompPanel, fw_decomp_panel, FW, DECOMP_PANEL, GtkWidget)

/* methods: the choices offered (n >= 1), the first one selected */
GtkWidget  *fw_decomp_panel_new      (FwPageCompress *page, const FwDecompMethod *methods,
                                      int n_methods);
gboolean    fw_decomp_panel_run      (FwDecompPanel *self);
void        fw_decomp_panel_set_form (FwDecompPanel *self, int rank, double energy,
                                      const char *ranks, int finetune_epochs);
gboolean    fw_decomp_panel_is_running (FwDecompPanel *self);
/* for tests */
FwLinePlot *fw_decomp_panel_get_error_plot (FwDecompPanel *self);
FwLinePlot *fw_decomp_panel_get_acc_plot   (FwDecompPanel *self);
guint       fw_decomp_panel_get_n_results  (FwDecompPanel *self);

#define FW_TYPE_DISTILL_PANEL (fw_distill_panel_get_type ())
G_DECLARE_FINAL_TYPE (FwDistillPanel, fw_distill_panel, FW, DISTILL_PANEL, GtkWidget)

GtkWidget  *fw_distill_panel_new      (FwPageCompress *page);
gboolean    fw_distill_panel_run      (FwDistillPanel *self);
void        fw_distill_panel_set_form (FwDistillPanel *self, const char *arch,
                                       const char *widths, double temperature, double alpha,
                                       int epochs, int seeds);
gboolean    fw_distill_panel_is_running (FwDistillPanel *self);
FwBarChart *fw_distill_panel_get_soft_chart (FwDistillPanel *self);
guint       fw_distill_panel_get_n_results  (FwDistillPanel *self);

G_END_DECLS
