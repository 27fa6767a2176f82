/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-compare.h: the Compare page: every shelf model measured as stored (accuracy, per-class
 * change vs a baseline, parameters, bytes on disk, FLOPs, latency, throughput), Pareto plots
 * with the frontier, side-by-side columns with confusion matrices and masks, exports. */
#pragma once

#include <gtk/gtk.h>

#include "fw-compare.h"
#include "fw-dataset.h"
#include "fw-mask-view.h"
#include "fw-model-shelf.h"
#include "fw-plot.h"

G_BEGIN_DECLS

#define FW_TYPE_PAGE_COMPARE (fw_page_compare_get_type ())
G_DECLARE_FINAL_TYPE (FwPageCompare, fw_page_compare, FW, PAGE_COMPARE, GtkWidget)

/* The shelf listed (the window's, taken when the page is first shown). */
void            fw_page_compare_set_shelf    (FwPageCompare *self, FwModelShelf *shelf);
/* A test set to use instead of the Data page's test split (NULL: follow the Data page). */
void            fw_page_compare_set_test_set (FwPageCompare *self, FwDataset *test);
/* Measures every shelf model as a job ("Measure all"); FALSE when it cannot start (the
 * reason is in the window's error bar). */
gboolean        fw_page_compare_measure      (FwPageCompare *self);
void            fw_page_compare_cancel       (FwPageCompare *self);
gboolean        fw_page_compare_is_running   (FwPageCompare *self);
void            fw_page_compare_set_timing   (FwPageCompare *self, gboolean timing, int reps);
/* The baseline: index into the measured rows (= shelf order at measuring time). */
void            fw_page_compare_set_baseline (FwPageCompare *self, guint index);
/* Side-by-side columns: shelf positions (-1 = none) of the three columns. */
void            fw_page_compare_set_side     (FwPageCompare *self, int a, int b, int c);
/* Writes the table (.csv, .md, .tex) — what "Export table…" does. */
gboolean        fw_page_compare_export_table (FwPageCompare *self, const char *path,
                                              GError **error);
void            fw_page_compare_set_font_scale (FwPageCompare *self, double scale);

/* For tests: the measured table (NULL before), the plots, the side-by-side views. */
FwCompareTable *fw_page_compare_get_table    (FwPageCompare *self);
FwLinePlot     *fw_page_compare_get_bytes_plot   (FwPageCompare *self);
FwLinePlot     *fw_page_compare_get_latency_plot (FwPageCompare *self);
/* The text of the table cell at (row, column) as shown (row 0 = the first model; columns: ★,
 * model, accuracy, Δ acc, non-zero, on disk, FLOPs, latency, images/s). */
const char     *fw_page_compare_get_cell     (FwPageCompare *self, guint row, guint column);
FwMaskView     *fw_page_compare_get_side_mask (FwPageCompare *self, guint column);
FwHeatmap      *fw_page_compare_get_side_confusion (FwPageCompare *self, guint column);
/* Per-class accuracy change vs the baseline (percentage points), models x classes. */
FwHeatmap      *fw_page_compare_get_deltas   (FwPageCompare *self);

G_END_DECLS
