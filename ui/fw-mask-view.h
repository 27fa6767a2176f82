/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-mask-view.h: the pruning-mask view: per prunable layer, its weight matrix (conv filters
 * as small kh x kw tiles) as a diverging heatmap with pruned entries hatched, removed units
 * marked, and per-layer sparsity bars. One Cairo draw function shared by the widget and
 * PNG/SVG/PDF export. */
#pragma once

#include <gtk/gtk.h>

#include "fw-plot.h"
#include "fw-prune.h"

G_BEGIN_DECLS

/* Draws the snapshot's layers into (0,0)-(width,height); NULL or no layer: an empty message. */
void        fw_mask_draw (cairo_t *cr, const FwPruneSnapshot *snap, double width,
                          double height, const FwPlotStyle *style);

/* The heatmap fw_mask_draw shows for one layer (exported for tests): dense layers rows x cols;
 * conv layers a mosaic of kh x kw tiles, one tile row per filter (at most 32) and one tile
 * column per input channel (at most 16), tiles separated by one blank cell. Masked cells are
 * exactly the pruned weights shown. */
FwHeatmap  *fw_mask_layer_heatmap (const FwPruneLayerView *layer);

#define FW_TYPE_MASK_VIEW (fw_mask_view_get_type ())
G_DECLARE_FINAL_TYPE (FwMaskView, fw_mask_view, FW, MASK_VIEW, GtkWidget)

GtkWidget       *fw_mask_view_new          (void);
/* Takes a reference on @snap (NULL clears) and redraws on the next frame. */
void             fw_mask_view_set_snapshot (FwMaskView *self, FwPruneSnapshot *snap);
FwPruneSnapshot *fw_mask_view_get_snapshot (FwMaskView *self);   /* transfer none */
void             fw_mask_view_set_empty_text (FwMaskView *self, const char *text);
void             fw_mask_view_set_font_scale (FwMaskView *self, double scale);
/* Writes the view (light theme) to a PNG/SVG/PDF file at width x height logical pixels. */
gboolean         fw_mask_view_export       (FwMaskView *self, const char *path, int width,
                                            int height, GError **error);

G_END_DECLS
