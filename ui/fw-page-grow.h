/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-grow.h: the Grow page: architecture growth (TINY, GradMax, random) run as a [grow]
 * recipe job on the current dataset, drawn live: the network widening, the expressivity
 * bottleneck per layer, accuracy and loss against parameters next to fixed-size networks. */
#pragma once

#include <gtk/gtk.h>

#include "fw-grow.h"
#include "fw-plot.h"

G_BEGIN_DECLS

#define FW_TYPE_PAGE_GROW (fw_page_grow_get_type ())
G_DECLARE_FINAL_TYPE (FwPageGrow, fw_page_grow, FW, PAGE_GROW, GtkWidget)

/* Fills the form. method: "tiny" | "gradmax" | "random"; cnn: the CNN start network. */
void         fw_page_grow_set_form       (FwPageGrow *self, const char *method, gboolean cnn,
                                          int start, int budget, int steps, int epochs,
                                          int train_limit);
/* The form's "Final epochs": epochs after the last growth step, learning rate decaying. */
void         fw_page_grow_set_final_epochs (FwPageGrow *self, int epochs);
/* The form's "Update existing weights" (TINY's gamma dW*; off = neurons only). */
void         fw_page_grow_set_update_existing (FwPageGrow *self, gboolean update);
/* Use this dataset spec instead of the Data page's (tests, demos); NULL = the Data page's. */
void         fw_page_grow_set_dataset_spec (FwPageGrow *self, const char *spec);
/* Where run folders go (default: the window's runs folder). */
void         fw_page_grow_set_runs_dir   (FwPageGrow *self, const char *dir);
/* The Grow button: builds the recipe from the form and submits it. FALSE (and an error bar)
 * when there is no dataset. */
gboolean     fw_page_grow_start          (FwPageGrow *self);
gboolean     fw_page_grow_is_running     (FwPageGrow *self);
void         fw_page_grow_cancel         (FwPageGrow *self);

/* The points of the current (or last) run, and its last point (NULL before any). */
guint        fw_page_grow_get_n_points   (FwPageGrow *self);
const FwGrowPoint *fw_page_grow_get_last_point (FwPageGrow *self);
const char  *fw_page_grow_get_run_dir    (FwPageGrow *self);   /* NULL until a run finished */
FwLinePlot  *fw_page_grow_get_accuracy_plot (FwPageGrow *self);
FwLinePlot  *fw_page_grow_get_loss_plot  (FwPageGrow *self);
FwBarChart  *fw_page_grow_get_bottleneck_bars (FwPageGrow *self);

/* Writes network, accuracy, loss and bottleneck as PNG, SVG and PDF into dir. */
gboolean     fw_page_grow_export_figures (FwPageGrow *self, const char *dir, GError **error);
void         fw_page_grow_set_font_scale (FwPageGrow *self, double scale);

G_END_DECLS
