/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-weak.h: the Weak labels page: few-label methods compared (pre-training curves live,
 * accuracy per method, self-training's added and wrong pseudo-labels per round, per-dimension
 * embedding variance), active learning (oracle curves per strategy, or samples labelled by hand
 * in a strip of queried images) and calibration (reliability diagram before and after
 * temperature scaling, class proportions predicted vs EM-estimated vs true). Every job is the
 * same recipe job the CLI runs ([weak], [active], [calibrate]; fw-weak-job.h). */
#pragma once

#include <gtk/gtk.h>

#include "fw-plot.h"

G_BEGIN_DECLS

#define FW_TYPE_PAGE_WEAK (fw_page_weak_get_type ())
G_DECLARE_FINAL_TYPE (FwPageWeak, fw_page_weak, FW, PAGE_WEAK, GtkWidget)

/* The buttons: few-label comparison, oracle curves, calibration, one hand-labelling query, add
 * the hand labels (and query again). Each starts a job on the window's worker. */
void         fw_page_weak_run_methods    (FwPageWeak *self);
void         fw_page_weak_run_active     (FwPageWeak *self);
void         fw_page_weak_run_calibration (FwPageWeak *self);
void         fw_page_weak_query          (FwPageWeak *self);
void         fw_page_weak_add_hand_labels (FwPageWeak *self);
gboolean     fw_page_weak_is_running     (FwPageWeak *self);
/* Shows one of the views: "methods", "selftrain", "variance", "active", "calibration". */
void         fw_page_weak_show_view      (FwPageWeak *self, const char *view);
void         fw_page_weak_set_font_scale (FwPageWeak *self, double scale);

/* For tests: the form and what the plots hold. method: a [weak] methods value ("all",
 * "supervised,selftrain", ...). */
void         fw_page_weak_set_form       (FwPageWeak *self, const char *methods, int per_class,
                                          int unlabelled, int pre_epochs, int seeds);
void         fw_page_weak_set_active_form (FwPageWeak *self, const char *strategy, int start,
                                           int batch, int rounds);
/* Extra [weak]/[active]/[calibrate] keys the next job gets (e.g. "finetune_epochs=5"), a
 * NULL-terminated list of KEY=VALUE (tests keep jobs short); NULL clears. */
void         fw_page_weak_set_extra_keys (FwPageWeak *self, const char *const *keys);
FwBarChart  *fw_page_weak_get_methods_chart (FwPageWeak *self);
FwLinePlot  *fw_page_weak_get_pretext_plot  (FwPageWeak *self);
FwBarChart  *fw_page_weak_get_selftrain_chart (FwPageWeak *self);
FwBarChart  *fw_page_weak_get_variance_chart (FwPageWeak *self);
FwLinePlot  *fw_page_weak_get_active_plot   (FwPageWeak *self);
FwImageGrid *fw_page_weak_get_query_grid    (FwPageWeak *self);
FwLinePlot  *fw_page_weak_get_reliability_plot (FwPageWeak *self);
FwHeatmap   *fw_page_weak_get_proportions   (FwPageWeak *self);
/* Hand labelling: the label given to queried tile i (-1 = none yet) and setting it (what a
 * click on the tile and a class in the popover do). */
int          fw_page_weak_get_hand_label (FwPageWeak *self, guint tile);
void         fw_page_weak_set_hand_label (FwPageWeak *self, guint tile, int label);
/* Labelled samples of the hand-labelling session (0 before the first query). */
int          fw_page_weak_get_n_hand_labelled (FwPageWeak *self);

G_END_DECLS
