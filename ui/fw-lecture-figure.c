/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-lecture-figure.c: result panels -> plot models -> one figure. */
#include "fw-lecture-figure.h"

#include <math.h>
#include <string.h>

#include <pango/pangocairo.h>

void
fw_plot_style_presentation (FwPlotStyle *style)
{
  fw_plot_style_init (style);
  style->font_scale = 1.8;
  style->line_scale = 2.0;
  style->high_contrast = TRUE;
}

int
fw_lecture_panel_step (const char *const *steps, const FwPanel *p)
{
  int n = 0;
  for (; steps != NULL && steps[n] != NULL; n++)
    if (p->step != NULL && strcmp (steps[n], p->step) == 0)
      return n;
  return MAX (n - 1, 0);
}

GPtrArray *
fw_lecture_visible_panels (const char *const *steps, const FwLectureResult *r, int upto)
{
  GPtrArray *out = g_ptr_array_new ();
  for (guint i = 0; r != NULL && i < r->panels->len; i++)
    {
      FwPanel *p = g_ptr_array_index (r->panels, i);
      if (upto < 0 || fw_lecture_panel_step (steps, p) <= upto)
        g_ptr_array_add (out, p);
    }
  return out;
}

/* One panel as a plot model of the plot library (a new reference in *plot). */
static FwPlotKind
panel_plot (const FwPanel *p, gpointer *plot)
{
  switch (p->kind)
    {
    case FW_PANEL_IMAGES:
      {
        FwImageGrid *g = fw_image_grid_new (p->w, p->h, p->c == 3 ? 3 : 1);
        gsize sz = (gsize) p->w * p->h * p->c;
        guint n = sz > 0 ? p->pixels->len / sz : 0;
        for (guint i = 0; i < n; i++)
          {
            const float *px = &g_array_index (p->pixels, float, i * sz);
            guint t;
            if (p->c == 3 || p->c == 1)
              t = fw_image_grid_add (g, px);
            else
              {
                /* other channel counts: show the first channel */
                g_autofree float *one = g_new (float, (gsize) p->w * p->h);
                for (gsize j = 0; j < (gsize) p->w * p->h; j++)
                  one[j] = px[j * p->c];
                t = fw_image_grid_add (g, one);
              }
            const char *cap = i < p->captions->len ? g_ptr_array_index (p->captions, i) : "";
            int color = i < p->caption_colors->len ? g_array_index (p->caption_colors, int, i)
                                                   : -1;
            if (cap != NULL && *cap != '\0')
              fw_image_grid_set_caption (g, t, cap, color);
          }
        fw_image_grid_set_columns (g, p->columns > 0 ? (guint) p->columns : 0);
        fw_image_grid_set_title (g, p->title);
        *plot = g;
        return FW_PLOT_IMAGE_GRID;
      }
    case FW_PANEL_CURVES:
      {
        /* categories ("distilled", "hard labels", "alone", "+ similar task"): every series
         * one point. A bar each, named on the axis, with its spread over the seeds */
        gboolean categorical = p->categorical && p->series->len > 0;
        for (guint s = 0; s < p->series->len && categorical; s++)
          categorical = ((const FwPanelSeries *) g_ptr_array_index (p->series, s))->x->len == 1;
        if (categorical)
          {
            guint n = p->series->len;
            g_autofree double *v = g_new (double, n), *lo = g_new (double, n),
                              *hi = g_new (double, n);
            g_autofree const char **names = g_new0 (const char *, n + 1);
            g_autofree int *colors = g_new (int, n);
            for (guint s = 0; s < n; s++)
              {
                const FwPanelSeries *se = g_ptr_array_index (p->series, s);
                names[s] = se->name;
                colors[s] = se->color;
                v[s] = g_array_index (se->y, double, 0);
                lo[s] = g_array_index (se->lo, double, 0);
                hi[s] = g_array_index (se->hi, double, 0);
              }
            FwBarChart *bc = fw_bar_chart_new ();
            fw_bar_chart_set_title (bc, p->title);
            /* a CSV column name as the axis title: "test_accuracy" -> "test accuracy", and
             * accuracies as fractions shown in % */
            g_autofree char *yl = g_strdelimit (g_strdup (p->y_label != NULL ? p->y_label : ""),
                                                "_", ' ');
            gboolean fractions = strstr (yl, "acc") != NULL;
            for (guint s = 0; s < n && fractions; s++)
              {
                const FwPanelSeries *se = g_ptr_array_index (p->series, s);
                double y = g_array_index (se->y, double, 0);
                fractions = y >= 0 && y <= 1;
              }
            /* a panel already in % (the lecture's plot panels): back to fractions for the
             * chart's percent format ("91.2%" on the bars) */
            gboolean in_percent = g_strcmp0 (p->y_unit, "%") == 0;
            for (guint s = 0; s < n && in_percent; s++)
              {
                v[s] /= 100;
                lo[s] /= 100;
                hi[s] /= 100;
              }
            if ((fractions && p->y_unit == NULL) || in_percent)
              fw_bar_chart_set_format (bc, FW_VALUE_PERCENT);
            fw_bar_chart_set_y_label (bc, yl, in_percent ? NULL : p->y_unit);
            fw_bar_chart_set_x_label (bc, p->x_label);
            fw_bar_chart_set_data (bc, v, names, n);
            fw_bar_chart_set_color_indices (bc, colors);
            fw_bar_chart_set_errors (bc, lo, hi);
            if (!isnan (p->y_min) || !isnan (p->y_max))
              fw_bar_chart_set_range (bc, p->y_min, p->y_max);
            *plot = bc;
            return FW_PLOT_BARS;
          }
        FwLinePlot *lp = fw_line_plot_new ();
        fw_line_plot_set_title (lp, p->title);
        fw_line_plot_set_x_label (lp, p->x_label, p->x_unit);
        fw_line_plot_set_y_label (lp, p->y_label, p->y_unit);
        fw_line_plot_set_log_y (lp, p->log_y);
        if (!isnan (p->y_min) || !isnan (p->y_max))
          fw_line_plot_set_y_range (lp, p->y_min, p->y_max);
        if (!isnan (p->x_min) || !isnan (p->x_max))
          fw_line_plot_set_x_range (lp, p->x_min, p->x_max);
        fw_line_plot_set_empty_text (lp, "Running…");
        for (guint s = 0; s < p->series->len; s++)
          {
            const FwPanelSeries *se = g_ptr_array_index (p->series, s);
            guint k = fw_line_plot_add_series (lp, se->name, se->color);
            fw_line_plot_series_set_dashed (lp, k, se->dashed);
            fw_line_plot_series_set_markers (lp, k, se->markers);
            /* a series of one point (a category: "distilled", "hard labels"): a large dot with
             * its spread over the seeds as an error bar */
            if (se->x->len == 1)
              fw_line_plot_series_set_points_only (lp, k, TRUE);
            for (guint j = 0; j < se->x->len; j++)
              {
                double lo = g_array_index (se->lo, double, j);
                double hi = g_array_index (se->hi, double, j);
                double x = g_array_index (se->x, double, j);
                double y = g_array_index (se->y, double, j);
                if (!isnan (lo) && !isnan (hi))
                  fw_line_plot_append_band (lp, k, x, y, lo, hi);
                else
                  fw_line_plot_append (lp, k, x, y);
              }
          }
        *plot = lp;
        return FW_PLOT_LINE;
      }
    case FW_PANEL_POINTS:
      {
        FwScatterPlot *sp = fw_scatter_plot_new ();
        fw_scatter_plot_set_title (sp, p->title);
        fw_scatter_plot_set_points (sp, (const float *) p->xy->data,
                                    (const int *) p->classes->data, p->classes->len);
        if (p->class_names != NULL)
          fw_scatter_plot_set_class_names (sp, (const char *const *) p->class_names,
                                           g_strv_length (p->class_names));
        fw_scatter_plot_set_point_size (sp, 5);
        fw_scatter_plot_set_x_label (sp, "PC 1", NULL);
        fw_scatter_plot_set_y_label (sp, "PC 2", NULL);
        *plot = sp;
        return FW_PLOT_SCATTER;
      }
    case FW_PANEL_MATRIX:
      {
        FwHeatmap *h = fw_heatmap_new (p->rows, p->cols);
        fw_heatmap_set_values (h, (const double *) p->values->data);
        fw_heatmap_set_title (h, p->title);
        fw_heatmap_set_axis_titles (h, p->row_title, p->col_title);
        if (p->class_names != NULL && (int) g_strv_length (p->class_names) == p->rows
            && p->rows == p->cols)
          {
            fw_heatmap_set_row_labels (h, (const char *const *) p->class_names);
            fw_heatmap_set_col_labels (h, (const char *const *) p->class_names);
            fw_heatmap_set_class_colored_labels (h, TRUE);
          }
        fw_heatmap_set_show_values (h, TRUE, "%.0f");
        fw_heatmap_set_show_colorbar (h, FALSE);
        *plot = h;
        return FW_PLOT_HEATMAP;
      }
    }
  *plot = NULL;
  return FW_PLOT_NONE;
}

static double
draw_title (cairo_t *cr, const char *title, double width, const FwPlotStyle *style)
{
  if (title == NULL || *title == '\0')
    return 0;
  PangoLayout *layout = pango_cairo_create_layout (cr);
  g_autofree char *font = g_strdup_printf ("%s Bold", style->font_family != NULL
                                                      ? style->font_family : "Sans");
  PangoFontDescription *fd = pango_font_description_from_string (font);
  pango_font_description_set_absolute_size (fd, 20.0 * style->font_scale * PANGO_SCALE);
  pango_layout_set_font_description (layout, fd);
  pango_layout_set_text (layout, title, -1);
  pango_layout_set_width (layout, (int) ((width - 24) * PANGO_SCALE));
  pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
  int lw, lh;
  pango_layout_get_pixel_size (layout, &lw, &lh);
  if (style->dark)
    cairo_set_source_rgb (cr, 1, 1, 1);
  else
    cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_move_to (cr, 12, 8);
  pango_cairo_show_layout (cr, layout);
  pango_font_description_free (fd);
  g_object_unref (layout);
  return lh + 16;
}

void
fw_lecture_figure_draw (cairo_t *cr, const char *title, const char *const *steps,
                        const FwLectureResult *r, int upto, const char *empty_text,
                        double width, double height, const FwPlotStyle *style)
{
  FwPlotStyle def;
  if (style == NULL)
    {
      fw_plot_style_init (&def);
      style = &def;
    }
  g_autoptr (GPtrArray) vis = fw_lecture_visible_panels (steps, r, upto);
  /* the background, then the title line */
  fw_plot_draw (cr, FW_PLOT_NONE, NULL, width, height, style);
  if (vis->len == 0)
    {
      fw_plot_draw_message (cr, empty_text != NULL ? empty_text : "Press Run", width, height,
                            style);
      double th = draw_title (cr, title, width, style);
      (void) th;
      return;
    }
  double top = draw_title (cr, title, width, style);
  guint n = vis->len;
  guint cols = n <= 3 ? n : (n == 4 ? 2 : 3);
  guint rows = (n + cols - 1) / cols;
  double gap = 8 * style->font_scale;
  double cw = (width - gap * (cols + 1)) / cols;
  double ch = (height - top - gap * (rows + 1)) / rows;
  if (cw < 20 || ch < 20)
    return;
  FwPlotStyle st = *style;
  for (guint i = 0; i < n; i++)
    {
      const FwPanel *p = g_ptr_array_index (vis, i);
      gpointer plot = NULL;
      FwPlotKind kind = panel_plot (p, &plot);
      double x = gap + (i % cols) * (cw + gap);
      double y = top + gap + (i / cols) * (ch + gap);
      cairo_save (cr);
      cairo_translate (cr, x, y);
      cairo_rectangle (cr, 0, 0, cw, ch);
      cairo_clip (cr);
      fw_plot_draw (cr, kind, plot, cw, ch, &st);
      cairo_restore (cr);
      if (plot != NULL)
        fw_plot_unref (kind, plot);
    }
}

typedef struct {
  const char *title;
  const char *const *steps;
  const FwLectureResult *r;
  const FwPlotStyle *style;
} ExportData;

static void
export_draw (cairo_t *cr, double width, double height, gpointer user_data)
{
  ExportData *e = user_data;
  fw_lecture_figure_draw (cr, e->title, e->steps, e->r, -1, NULL, width, height, e->style);
}

gboolean
fw_lecture_figure_export (const char *path, const char *title, const char *const *steps,
                          const FwLectureResult *r, double width, double height,
                          const FwPlotStyle *style, GError **error)
{
  FwPlotStyle pres;
  if (style == NULL)
    {
      fw_plot_style_presentation (&pres);
      style = &pres;
    }
  ExportData e = { title, steps, r, style };
  return fw_export_drawing (path, FW_EXPORT_AUTO, width, height, 1.0, export_draw, &e, error);
}
