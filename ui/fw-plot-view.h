/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-plot-view.h: a widget that shows one plot, with tooltips, zoom/pan and "Export…". */
#pragma once

#include <gtk/gtk.h>

#include "fw-plot.h"
#include "fw-plot-export.h"

G_BEGIN_DECLS

/*
 * FwPlotView draws one plot model (fw-plot.h) with the shared Cairo draw function. It follows
 * dark mode by itself (derived from the luminance of the widget's foreground colour) and has:
 *  - tooltips: line points, scatter points (with an optional thumbnail, see
 *    fw_plot_view_set_thumbnail_func), heatmap cells, bars, image-grid captions;
 *  - scatter plots: scroll to zoom around the pointer, drag to pan, double-click to reset;
 *  - a right-click menu and Ctrl+E: "Export…" (format, size, scale, then a save dialog);
 *  - the signal "item-activated" (int index) on a primary click on an item: scatter point
 *    index, heatmap cell row*cols+col, bar index, image tile index, line point index (within
 *    the nearest series);
 *  - the signal "exported" (const char *path) after a successful export (for a toast);
 *  - hovering a scatter point sets it as the model's highlight (fw_scatter_plot_set_highlight)
 *    and zoom/pan change the model's view: the model is shared, so every view of it follows.
 *
 * The view takes its own reference on the model it is given (the caller keeps its reference and
 * may go on mutating the model on the main thread; call fw_plot_view_queue_update() after). The
 * natural size is 320x240; it expands.
 *
 * Actions installed on the class: "plot.export" (Ctrl+E), "plot.reset-view".
 */

#define FW_TYPE_PLOT_VIEW (fw_plot_view_get_type ())
G_DECLARE_FINAL_TYPE (FwPlotView, fw_plot_view, FW, PLOT_VIEW, GtkWidget)

GtkWidget  *fw_plot_view_new             (void);

/* Each takes a new reference on @plot (NULL shows only the empty background) and redraws. */
void        fw_plot_view_set_line_plot   (FwPlotView *self, FwLinePlot *plot);
/* A new view that fills its share of box (expands both ways), exported as export_name. */
FwPlotView *fw_plot_view_new_in_box (GtkBox *box, const char *export_name);
void        fw_plot_view_set_scatter     (FwPlotView *self, FwScatterPlot *plot);
void        fw_plot_view_set_heatmap     (FwPlotView *self, FwHeatmap *plot);
void        fw_plot_view_set_bars        (FwPlotView *self, FwBarChart *plot);
void        fw_plot_view_set_image_grid  (FwPlotView *self, FwImageGrid *plot);
/* Generic form of the above. */
void        fw_plot_view_set_plot        (FwPlotView *self, FwPlotKind kind, gpointer plot);
FwPlotKind  fw_plot_view_get_kind        (FwPlotView *self);
gpointer    fw_plot_view_get_plot        (FwPlotView *self);   /* transfer none */

/* The model changed: redraw on the next frame. Any number of calls per frame cost one redraw. */
void        fw_plot_view_queue_update    (FwPlotView *self);

/* Presentation mode: multiplies fonts (and lines by sqrt of it); above 1 the high-contrast
 * style too. Property "font-scale". */
void        fw_plot_view_set_font_scale  (FwPlotView *self, double scale);
double      fw_plot_view_get_font_scale  (FwPlotView *self);

/* The style the view draws with right now (dark flag from the theme, font scale). */
void        fw_plot_view_get_style       (FwPlotView *self, FwPlotStyle *style);

/* Base name suggested in the export dialog (without extension), e.g. "confusion-matrix". */
void        fw_plot_view_set_export_name (FwPlotView *self, const char *name);

/* Write the plot to @path (format from the extension) at @width x @height logical pixels with
 * the current font scale, in the light theme. Same rules as fw_plot_export(). */
gboolean    fw_plot_view_export          (FwPlotView *self, const char *path, int width,
                                          int height, double scale, GError **error);

/* Open the "Export…" dialog (what Ctrl+E does). */
void        fw_plot_view_show_export_dialog (FwPlotView *self);

/* Thumbnail for a scatter point or image tile in its tooltip: return a new GdkTexture
 * (transfer full) for item @index, or NULL for none. */
typedef GdkTexture *(*FwPlotThumbnailFunc) (FwPlotView *view, gsize index, gpointer user_data);
void        fw_plot_view_set_thumbnail_func (FwPlotView *self, FwPlotThumbnailFunc func,
                                             gpointer user_data, GDestroyNotify destroy);

/* Custom tooltip text for item @index (same numbering as "item-activated"); return a newly
 * allocated string (Pango markup) or NULL to use the default text. */
typedef char *(*FwPlotTooltipFunc) (FwPlotView *view, gsize index, gpointer user_data);
void        fw_plot_view_set_tooltip_func (FwPlotView *self, FwPlotTooltipFunc func,
                                           gpointer user_data, GDestroyNotify destroy);

G_END_DECLS
