/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-plot.h: plot data models and one pure Cairo+Pango draw function per plot kind. */
#pragma once

/*
 * The plot library, in one page.
 *
 * Five plot kinds: line plot, scatter plot, heatmap, bar chart, image grid. Each kind is an
 * opaque, reference-counted data model (FwLinePlot, ...) plus one draw function
 *
 *   void fw_plot_draw_<kind> (cairo_t *cr, const Fw<Kind> *p, double width, double height,
 *                             const FwPlotStyle *style);
 *
 * that paints the whole plot (background included) into the rectangle (0,0)-(width,height) of
 * the current user space of @cr. Draw functions use only Cairo and PangoCairo, never GTK, so the
 * same call draws into a widget (FwPlotView), a PNG/SVG/PDF file (fw-plot-export.h) or a test's
 * image surface, with no display. HiDPI is the caller's cairo_scale(); @width/@height are in
 * logical pixels. Drawing is deterministic: the same model, size and style give the same bytes.
 *
 * Ownership: every setter COPIES what it is given (arrays, strings); the caller keeps its own
 * buffers. Models are main-thread objects (not locked); to feed them from a job, copy the
 * numbers out of the job's event on the main thread, then call fw_plot_view_queue_update().
 * _ref/_unref are atomic, so handing a finished model to another thread for export is fine as
 * long as nobody mutates it meanwhile.
 *
 * Hit testing (tooltips, clicks) uses the same layout as drawing: pass the same width, height
 * and style that were used to draw.
 */

#include <glib.h>
#include <cairo.h>

#include "fw-colors.h"

G_BEGIN_DECLS

/* ---- Style -------------------------------------------------------------------------------- */
typedef struct {
  double      font_scale;   /* 1.0 = normal (tick labels ~11 px, labels ~12 px); presentation ~1.6 */
  double      line_scale;   /* multiplies line widths, point sizes and marks; 1.0 = normal */
  gboolean    dark;         /* dark theme colours (background, text, grid) */
  gboolean    transparent;  /* do not paint the background (the widget's own shows through) */
  const char *font_family;  /* NULL = "Sans"; not copied, must outlive the draw call */
  gboolean    high_contrast;/* projector: text, axes and secondary text at full contrast,
                             * grid lines darker (presentation view, slide figures) */
} FwPlotStyle;

/* Defaults: font_scale 1, line_scale 1, light, opaque background, "Sans". */
void fw_plot_style_init (FwPlotStyle *style);

/* ---- Nice ticks ----------------------------------------------------------------------------
 * The rule: the step is the smallest number of the form m * 10^k, m in {1, 2, 5}, k an integer,
 * such that [lo, hi] fits in at most @max_intervals steps once widened to multiples of the step:
 *   first = floor(lo / step) * step,  last = ceil(hi / step) * step,
 *   (last - first) / step <= max_intervals.
 * Examples (max_intervals = 5): 0..1 -> 0, 0.2, ..., 1;  0..97 -> 0, 20, ..., 100;
 * 3..7 -> 3, 4, 5, 6, 7. If lo == hi the range is widened around the value first; if lo > hi they
 * are swapped; non-finite input gives 0..1. */
typedef struct {
  double first;  /* first tick (<= lo) */
  double step;   /* > 0 */
  guint  n;      /* number of ticks, = intervals + 1, >= 2 */
} FwTicks;

void   fw_nice_ticks       (double lo, double hi, guint max_intervals, FwTicks *out);
/* Tick i: first + i * step, snapped so that a value that should be 0 is exactly 0. */
double fw_ticks_value      (const FwTicks *t, guint i);
/* Label for a tick value with as many decimals as @step needs ("0.2", "20", "1e-05" for tiny
 * or huge magnitudes). */
char  *fw_format_tick      (double value, double step);

/* Decades for a log axis over [lo, hi] (both > 0): ticks at 10^k, k from floor(log10 lo) to
 * ceil(log10 hi). out->first is the exponent of the first decade, out->step = 1 (one decade). */
void   fw_log_ticks        (double lo, double hi, FwTicks *out);

/* ---- Line plot -----------------------------------------------------------------------------
 * Several named series of (x, y) points, appended live. The legend lists the series that have
 * points and is drawn only when there are at least two of them.
 * Optional per-point band (y_lo, y_hi) drawn as a translucent area (e.g. mean +- std over
 * seeds). Axes auto-range over all data unless fixed with set_x_range / set_y_range. */
typedef struct _FwLinePlot FwLinePlot;

FwLinePlot *fw_line_plot_new             (void);
FwLinePlot *fw_line_plot_ref             (FwLinePlot *p);
void        fw_line_plot_unref           (FwLinePlot *p);

void        fw_line_plot_set_title       (FwLinePlot *p, const char *title);       /* NULL = none */
/* Axis label and unit, drawn as "label (unit)"; either may be NULL. */
void        fw_line_plot_set_x_label     (FwLinePlot *p, const char *label, const char *unit);
void        fw_line_plot_set_y_label     (FwLinePlot *p, const char *label, const char *unit);
void        fw_line_plot_set_log_y       (FwLinePlot *p, gboolean log_y);  /* y <= 0 are skipped */
/* Log x axis (decades, minor grid at 2..9); x <= 0 are skipped. */
void        fw_line_plot_set_log_x       (FwLinePlot *p, gboolean log_x);
/* Fixed ranges; pass NAN for an end to keep it automatic (e.g. y from 0 to auto). */
void        fw_line_plot_set_x_range     (FwLinePlot *p, double min, double max);
void        fw_line_plot_set_y_range     (FwLinePlot *p, double min, double max);
/* Text shown when no series has a point; default "No data yet". */
void        fw_line_plot_set_empty_text  (FwLinePlot *p, const char *text);

/* Adds a series, returns its index (0, 1, ...). @color_index picks the class palette colour. */
guint       fw_line_plot_add_series      (FwLinePlot *p, const char *name, int color_index);
void        fw_line_plot_series_set_color  (FwLinePlot *p, guint series, FwRgba color);
void        fw_line_plot_series_set_dashed (FwLinePlot *p, guint series, gboolean dashed);
/* Scatter-style series: a larger dot per point and no connecting line; a point's band
 * (y_lo, y_hi) is drawn as an error bar with caps (mean +- std over seeds). */
void        fw_line_plot_series_set_points_only (FwLinePlot *p, guint series,
                                                 gboolean points_only);
/* Draw a dot on every point (useful for few points). */
void        fw_line_plot_series_set_markers (FwLinePlot *p, guint series, gboolean markers);
void        fw_line_plot_append          (FwLinePlot *p, guint series, double x, double y);
/* Append with a band: the area between y_lo and y_hi is shaded for consecutive banded points. */
void        fw_line_plot_append_band     (FwLinePlot *p, guint series, double x, double y,
                                          double y_lo, double y_hi);
/* Replace a series' points with copies of x[n], y[n] (y_lo/y_hi may be NULL: no band). */
void        fw_line_plot_set_series_data (FwLinePlot *p, guint series, const double *x,
                                          const double *y, const double *y_lo,
                                          const double *y_hi, gsize n);
void        fw_line_plot_clear_series    (FwLinePlot *p, guint series);  /* drop its points */
void        fw_line_plot_clear           (FwLinePlot *p);                /* drop all series */
guint       fw_line_plot_get_n_series    (const FwLinePlot *p);
const char *fw_line_plot_get_series_name (const FwLinePlot *p, guint series);
gsize       fw_line_plot_series_len      (const FwLinePlot *p, guint series);
/* Point i of a series; FALSE if out of range. */
gboolean    fw_line_plot_get_point       (const FwLinePlot *p, guint series, gsize i,
                                          double *x, double *y);

void        fw_plot_draw_line            (cairo_t *cr, const FwLinePlot *p, double width,
                                          double height, const FwPlotStyle *style);
/* Nearest point (in pixels, within @radius px) to (px, py); returns TRUE and its series/index. */
gboolean    fw_line_plot_pick            (const FwLinePlot *p, double width, double height,
                                          const FwPlotStyle *style, double px, double py,
                                          double radius, guint *series, gsize *index);

/* ---- Scatter plot --------------------------------------------------------------------------
 * Many points (10k+) coloured by class index through the palette; a view rectangle in data
 * coordinates for zoom/pan (defaults to the data bounds plus a margin). */
typedef struct _FwScatterPlot FwScatterPlot;

FwScatterPlot *fw_scatter_plot_new        (void);
FwScatterPlot *fw_scatter_plot_ref        (FwScatterPlot *p);
void           fw_scatter_plot_unref      (FwScatterPlot *p);

/* Copies n points: xy is n x 2 row-major (x0, y0, x1, y1, ...); classes[n] may be NULL (all
 * class 0). Negative class = unlabelled (grey). Resets the view to fit the data. */
void           fw_scatter_plot_set_points (FwScatterPlot *p, const float *xy, const int *classes,
                                           gsize n);
gsize          fw_scatter_plot_get_n_points (const FwScatterPlot *p);
gboolean       fw_scatter_plot_get_point  (const FwScatterPlot *p, gsize i, double *x, double *y,
                                           int *klass);
/* Names of classes 0..n-1 for the legend (copied); NULL/0 = no legend. */
void           fw_scatter_plot_set_class_names (FwScatterPlot *p, const char *const *names,
                                                guint n);
const char    *fw_scatter_plot_get_class_name  (const FwScatterPlot *p, int klass);
void           fw_scatter_plot_set_title  (FwScatterPlot *p, const char *title);
void           fw_scatter_plot_set_x_label (FwScatterPlot *p, const char *label, const char *unit);
void           fw_scatter_plot_set_y_label (FwScatterPlot *p, const char *label, const char *unit);
void           fw_scatter_plot_set_empty_text (FwScatterPlot *p, const char *text);
/* Point diameter in logical pixels (times style->line_scale); default 4. */
void           fw_scatter_plot_set_point_size (FwScatterPlot *p, double size);
/* Index of a point drawn with a ring on top (hover); -1 = none. */
void           fw_scatter_plot_set_highlight  (FwScatterPlot *p, gssize index);

/* The view rectangle (data coordinates). set_view ignores empty/non-finite rectangles. */
void           fw_scatter_plot_set_view   (FwScatterPlot *p, double xmin, double xmax,
                                           double ymin, double ymax);
void           fw_scatter_plot_get_view   (const FwScatterPlot *p, double *xmin, double *xmax,
                                           double *ymin, double *ymax);
void           fw_scatter_plot_reset_view (FwScatterPlot *p);
/* Zoom by @factor (> 1 zooms in) keeping the data point under pixel (px, py) fixed. */
void           fw_scatter_plot_zoom       (FwScatterPlot *p, double width, double height,
                                           const FwPlotStyle *style, double px, double py,
                                           double factor);
/* Move the view so the content follows a drag of (dx, dy) pixels. */
void           fw_scatter_plot_pan        (FwScatterPlot *p, double width, double height,
                                           const FwPlotStyle *style, double dx, double dy);
/* Pixel -> data coordinates (inverse of the drawing transform). */
void           fw_scatter_plot_to_data    (const FwScatterPlot *p, double width, double height,
                                           const FwPlotStyle *style, double px, double py,
                                           double *x, double *y);

void           fw_plot_draw_scatter       (cairo_t *cr, const FwScatterPlot *p, double width,
                                           double height, const FwPlotStyle *style);
/* Index of the visible point nearest to (px, py) within @radius pixels, or -1. */
gssize         fw_scatter_plot_pick       (const FwScatterPlot *p, double width, double height,
                                           const FwPlotStyle *style, double px, double py,
                                           double radius);

/* ---- Heatmap -------------------------------------------------------------------------------
 * rows x cols matrix through a colour map, colour bar with ticks, optional row/col labels,
 * optional numbers in cells (text colour chosen for contrast), optional masked cells drawn with
 * grey hatching (pruned weights), NaN cells drawn as masked. */
typedef struct _FwHeatmap FwHeatmap;

FwHeatmap  *fw_heatmap_new            (guint rows, guint cols);  /* all zeros */
FwHeatmap  *fw_heatmap_ref            (FwHeatmap *h);
void        fw_heatmap_unref          (FwHeatmap *h);
guint       fw_heatmap_get_rows       (const FwHeatmap *h);
guint       fw_heatmap_get_cols       (const FwHeatmap *h);
/* Resize (drops values, mask and labels). */
void        fw_heatmap_set_size       (FwHeatmap *h, guint rows, guint cols);
/* Copies rows*cols values, row-major (row 0 is drawn at the top). */
void        fw_heatmap_set_values     (FwHeatmap *h, const double *values);
void        fw_heatmap_set_values_f   (FwHeatmap *h, const float *values);
void        fw_heatmap_set_value      (FwHeatmap *h, guint row, guint col, double v);
double      fw_heatmap_get_value      (const FwHeatmap *h, guint row, guint col);
/* Copies rows*cols flags, non-zero = masked; NULL clears the mask. */
void        fw_heatmap_set_mask       (FwHeatmap *h, const guint8 *mask);
gboolean    fw_heatmap_is_masked      (const FwHeatmap *h, guint row, guint col);
void        fw_heatmap_set_colormap   (FwHeatmap *h, FwColormap map);
/* Value range of the colour map; NAN = automatic from the unmasked finite values (diverging:
 * symmetric about 0). */
void        fw_heatmap_set_range      (FwHeatmap *h, double vmin, double vmax);
/* Labels (copied); NULL clears. Length must be rows / cols. */
void        fw_heatmap_set_row_labels (FwHeatmap *h, const char *const *labels);
void        fw_heatmap_set_col_labels (FwHeatmap *h, const char *const *labels);
const char *fw_heatmap_get_row_label  (const FwHeatmap *h, guint row);  /* NULL if none */
const char *fw_heatmap_get_col_label  (const FwHeatmap *h, guint col);
/* Axis titles, e.g. "true class" (rows) and "predicted class" (cols). */
void        fw_heatmap_set_axis_titles (FwHeatmap *h, const char *row_title, const char *col_title);
void        fw_heatmap_set_title      (FwHeatmap *h, const char *title);
void        fw_heatmap_set_colorbar_label (FwHeatmap *h, const char *label);
void        fw_heatmap_set_show_colorbar  (FwHeatmap *h, gboolean show);   /* default TRUE */
/* Print each value in its cell with the printf @format for one double (e.g. "%.0f", "%.2f"),
 * when the cell is big enough. NULL format = "%.3g". */
void        fw_heatmap_set_show_values (FwHeatmap *h, gboolean show, const char *format);
/* Colour row labels with the class palette (confusion matrices). */
void        fw_heatmap_set_class_colored_labels (FwHeatmap *h, gboolean colored);

void        fw_plot_draw_heatmap      (cairo_t *cr, const FwHeatmap *h, double width,
                                       double height, const FwPlotStyle *style);
/* Cell under (px, py): TRUE with row/col, FALSE outside the matrix. */
gboolean    fw_heatmap_pick           (const FwHeatmap *h, double width, double height,
                                       const FwPlotStyle *style, double px, double py,
                                       guint *row, guint *col);
/* Where cell (row, col) is drawn (logical px); FALSE if out of range. */
gboolean    fw_heatmap_cell_rect      (const FwHeatmap *h, double width, double height,
                                       const FwPlotStyle *style, guint row, guint col,
                                       double *x, double *y, double *w, double *cell_h);

/* ---- Bar chart -----------------------------------------------------------------------------
 * One bar per category (class histogram, per-class accuracy). Bar i is palette colour i unless
 * colours are set. */
typedef enum {
  FW_VALUE_PLAIN,    /* "%.4g" of the value */
  FW_VALUE_COUNT,    /* 12.3k / 1.2M */
  FW_VALUE_PERCENT,  /* value is a fraction in [0,1], shown "91.2%"; axis 0..100 % */
} FwValueFormat;

typedef struct _FwBarChart FwBarChart;

FwBarChart *fw_bar_chart_new          (void);
FwBarChart *fw_bar_chart_ref          (FwBarChart *b);
void        fw_bar_chart_unref        (FwBarChart *b);
/* Copies n values and labels (labels may be NULL: categories numbered 0..n-1). */
void        fw_bar_chart_set_data     (FwBarChart *b, const double *values,
                                       const char *const *labels, guint n);
void        fw_bar_chart_set_value    (FwBarChart *b, guint i, double value);
guint       fw_bar_chart_get_n_bars   (const FwBarChart *b);
double      fw_bar_chart_get_value    (const FwBarChart *b, guint i);
const char *fw_bar_chart_get_label    (const FwBarChart *b, guint i);
/* The value as shown above its bar ("91.2%", "12.3k"); free with g_free. */
char       *fw_bar_chart_format_value (const FwBarChart *b, guint i);
/* Palette indices per bar (copied, n entries); NULL = bar i uses colour i. */
void        fw_bar_chart_set_color_indices (FwBarChart *b, const int *indices);
/* One colour for all bars (overrides indices). */
void        fw_bar_chart_set_single_color  (FwBarChart *b, FwRgba color);
void        fw_bar_chart_set_title    (FwBarChart *b, const char *title);
void        fw_bar_chart_set_y_label  (FwBarChart *b, const char *label, const char *unit);
void        fw_bar_chart_set_x_label  (FwBarChart *b, const char *label);
void        fw_bar_chart_set_format   (FwBarChart *b, FwValueFormat format);
/* Print the value above each bar (default TRUE). */
void        fw_bar_chart_set_show_values (FwBarChart *b, gboolean show);
/* An error bar per bar from lo[i] to hi[i] (values as the bars'; copied, n entries; NaN = no
 * bar for that one; NULL = none). Set after fw_bar_chart_set_data, which clears them. */
void        fw_bar_chart_set_errors   (FwBarChart *b, const double *lo, const double *hi);
gboolean    fw_bar_chart_get_error    (const FwBarChart *b, guint i, double *lo, double *hi);
/* Fixed value range (NAN = automatic: from min(0, values) to max(values)). */
void        fw_bar_chart_set_range    (FwBarChart *b, double min, double max);
void        fw_bar_chart_set_empty_text (FwBarChart *b, const char *text);

void        fw_plot_draw_bars         (cairo_t *cr, const FwBarChart *b, double width,
                                       double height, const FwPlotStyle *style);
/* Bar under (px, py) (anywhere in its column), or -1. */
int         fw_bar_chart_pick         (const FwBarChart *b, double width, double height,
                                       const FwPlotStyle *style, double px, double py);

/* ---- Image grid ----------------------------------------------------------------------------
 * N small images (all of one size) in a grid, scaled with a nearest-neighbour filter
 * (crisp pixels), each with an optional caption and optional coloured border. */
typedef struct _FwImageGrid FwImageGrid;

/* Tiles are @width x @height pixels with @channels = 1 (grey) or 3 (RGB). */
FwImageGrid *fw_image_grid_new        (guint width, guint height, guint channels);
FwImageGrid *fw_image_grid_ref        (FwImageGrid *g);
void         fw_image_grid_unref      (FwImageGrid *g);
/* Append a tile: @pixels is height x width x channels floats in [0,1] (clamped), row-major,
 * channels interleaved; copied (converted to 8 bits). Returns the tile index. */
guint        fw_image_grid_add        (FwImageGrid *g, const float *pixels);
/* Same from 8-bit pixels (0..255). */
guint        fw_image_grid_add_u8     (FwImageGrid *g, const guint8 *pixels);
/* Caption as plain text in palette colour @color_index (-1 = theme text colour). */
void         fw_image_grid_set_caption (FwImageGrid *g, guint tile, const char *text,
                                        int color_index);
/* Caption as Pango markup (e.g. "<span color='#d55e00'>Shirt</span> / Coat"); copied. */
void         fw_image_grid_set_caption_markup (FwImageGrid *g, guint tile, const char *markup);
/* Border in palette colour @color_index; -1 = no border. */
void         fw_image_grid_set_border (FwImageGrid *g, guint tile, int color_index);
void         fw_image_grid_set_border_rgba (FwImageGrid *g, guint tile, FwRgba color);
/* Columns; 0 = automatic (fills the area with the largest tiles). */
void         fw_image_grid_set_columns (FwImageGrid *g, guint columns);
void         fw_image_grid_set_title  (FwImageGrid *g, const char *title);
void         fw_image_grid_set_empty_text (FwImageGrid *g, const char *text);
void         fw_image_grid_clear      (FwImageGrid *g);
guint        fw_image_grid_get_n_tiles (const FwImageGrid *g);
/* The tile's pixels as an RGB24 image surface (transfer none, owned by the grid). */
cairo_surface_t *fw_image_grid_get_surface (const FwImageGrid *g, guint tile);
const char  *fw_image_grid_get_caption (const FwImageGrid *g, guint tile);  /* plain or markup */

void         fw_plot_draw_image_grid  (cairo_t *cr, const FwImageGrid *g, double width,
                                       double height, const FwPlotStyle *style);
/* Tile under (px, py), or -1. */
int          fw_image_grid_pick       (const FwImageGrid *g, double width, double height,
                                       const FwPlotStyle *style, double px, double py);
/* Where tile @i's image is drawn (logical pixels); FALSE if it does not fit / out of range. */
gboolean     fw_image_grid_tile_rect  (const FwImageGrid *g, double width, double height,
                                       const FwPlotStyle *style, guint i, double *x, double *y,
                                       double *w, double *h);

/* ---- Any plot ------------------------------------------------------------------------------
 * A tagged reference, for code that handles plots of every kind (the widget, export). */
typedef enum {
  FW_PLOT_NONE,
  FW_PLOT_LINE,        /* FwLinePlot */
  FW_PLOT_SCATTER,     /* FwScatterPlot */
  FW_PLOT_HEATMAP,     /* FwHeatmap */
  FW_PLOT_BARS,        /* FwBarChart */
  FW_PLOT_IMAGE_GRID,  /* FwImageGrid */
} FwPlotKind;

/* Draws @plot (of @kind) with the matching draw function; FW_PLOT_NONE paints the background. */
void     fw_plot_draw   (cairo_t *cr, FwPlotKind kind, gconstpointer plot, double width,
                         double height, const FwPlotStyle *style);
gpointer fw_plot_ref    (FwPlotKind kind, gpointer plot);
void     fw_plot_unref  (FwPlotKind kind, gpointer plot);

/* Draw a centred, muted one-line message over the whole area (empty states). */
void     fw_plot_draw_message (cairo_t *cr, const char *text, double width, double height,
                               const FwPlotStyle *style);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwLinePlot, fw_line_plot_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwScatterPlot, fw_scatter_plot_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwHeatmap, fw_heatmap_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwBarChart, fw_bar_chart_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwImageGrid, fw_image_grid_unref)

G_END_DECLS
