/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-train-private.h: what tests read from the Train page. */
#pragma once

#include "fw-page-train.h"
#include "fw-plot.h"

G_BEGIN_DECLS

/* series of the loss plot */
enum { FW_LOSS_TRAIN, FW_LOSS_VAL, FW_LOSS_BATCH };
/* series of the accuracy plot (percent) */
enum { FW_ACC_TRAIN, FW_ACC_VAL, FW_ACC_TEST };

FwLinePlot  *fw_page_train_get_loss_plot     (FwPageTrain *self);
FwLinePlot  *fw_page_train_get_acc_plot      (FwPageTrain *self);
FwHeatmap   *fw_page_train_get_confusion     (FwPageTrain *self);
FwBarChart  *fw_page_train_get_per_class     (FwPageTrain *self);
FwImageGrid *fw_page_train_get_mistakes      (FwPageTrain *self);
FwScatterPlot *fw_page_train_get_embedding   (FwPageTrain *self);
guint        fw_page_train_get_n_embed_frames (FwPageTrain *self);
GtkWidget   *fw_page_train_get_start_button  (FwPageTrain *self);
GtkStack    *fw_page_train_get_viz_stack     (FwPageTrain *self);
/* Runs listed in the history (this session's and those found on disk). */
guint        fw_page_train_get_n_runs        (FwPageTrain *self);
/* Shows run i's curves (what selecting it in the list does). */
void         fw_page_train_show_run          (FwPageTrain *self, guint i);
/* Sets the form from a recipe written as .ini text (tests). */
gboolean     fw_page_train_set_recipe_data   (FwPageTrain *self, const char *ini, GError **error);

G_END_DECLS
