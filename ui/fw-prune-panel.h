/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-prune-panel.h: the Pruning method of the Compress page: criterion, granularity, scope,
 * target and schedule; runs the [prune] recipe job (fw-prune.h) on the chosen shelf model and
 * shows the pruning masks live, with accuracy and sparsity per step; the pruned model goes onto
 * the shelf. */
#pragma once

#include <gtk/gtk.h>

#include "fw-mask-view.h"
#include "fw-plot.h"

G_BEGIN_DECLS

typedef struct _FwPageCompress FwPageCompress;

#define FW_TYPE_PRUNE_PANEL (fw_prune_panel_get_type ())
G_DECLARE_FINAL_TYPE (FwPrunePanel, fw_prune_panel, FW, PRUNE_PANEL, GtkWidget)

GtkWidget   *fw_prune_panel_new         (FwPageCompress *page);

/* Starts pruning the page's model with the form's settings (the "Prune" button); FALSE with a
 * message in the window's error bar when it cannot start. */
gboolean     fw_prune_panel_run         (FwPrunePanel *self);
void         fw_prune_panel_cancel      (FwPrunePanel *self);
gboolean     fw_prune_panel_is_running  (FwPrunePanel *self);
/* The form: criterion/granularity/scope/schedule by their recipe names ("magnitude", ...). */
void         fw_prune_panel_set_form    (FwPrunePanel *self, const char *criterion,
                                         const char *granularity, const char *scope,
                                         double sparsity, const char *schedule, int steps,
                                         int finetune_epochs);

/* For tests: the views and what the last run produced. */
FwMaskView  *fw_prune_panel_get_mask_view  (FwPrunePanel *self);
FwLinePlot  *fw_prune_panel_get_steps_plot (FwPrunePanel *self);
guint        fw_prune_panel_get_n_snapshots (FwPrunePanel *self);
const char  *fw_prune_panel_get_result_path (FwPrunePanel *self);   /* NULL before a result */

G_END_DECLS
