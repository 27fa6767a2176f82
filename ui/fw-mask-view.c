/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-mask-view.c: the pruning-mask view. */
#include "fw-mask-view.h"

#include <math.h>

#include "fw-plot-export.h"

#define MAX_TILE_ROWS 32
#define MAX_TILE_COLS 16

FwHeatmap *
fw_mask_layer_heatmap (const FwPruneLayerView *l)
{
  gboolean conv = l->kh * l->kw > 1;
  FwHeatmap *h;

  if (!conv)
    {
      h = fw_heatmap_new (l->rows, l->cols);
      fw_heatmap_set_values_f (h, l->weight);
      g_autofree guint8 *mask = g_new (guint8, (gsize) l->rows * l->cols);
      for (gsize i = 0; i < (gsize) l->rows * l->cols; i++)
        mask[i] = !l->keep[i];
      fw_heatmap_set_mask (h, mask);
    }
  else
    {
      int in_c = l->cols / (l->kh * l->kw);
      int tr = MIN (l->rows, MAX_TILE_ROWS), tc = MIN (in_c, MAX_TILE_COLS);
      int hr = tr * (l->kh + 1) - 1, hc = tc * (l->kw + 1) - 1;
      g_autofree double *v = g_new0 (double, (gsize) hr * hc);
      g_autofree guint8 *mask = g_new0 (guint8, (gsize) hr * hc);
      for (int f = 0; f < tr; f++)
        for (int c = 0; c < tc; c++)
          for (int y = 0; y < l->kh; y++)
            for (int x = 0; x < l->kw; x++)
              {
                gsize src = (gsize) f * l->cols + (gsize) c * l->kh * l->kw + y * l->kw + x;
                gsize dst = (gsize) (f * (l->kh + 1) + y) * hc + c * (l->kw + 1) + x;
                v[dst] = l->weight[src];
                mask[dst] = !l->keep[src];
              }
      h = fw_heatmap_new (hr, hc);
      fw_heatmap_set_values (h, v);
      fw_heatmap_set_mask (h, mask);
    }
  fw_heatmap_set_colormap (h, FW_COLORMAP_DIVERGING);
  fw_heatmap_set_show_colorbar (h, FALSE);
  return h;
}

static char *
layer_title (const FwPruneLayerView *l)
{
  int removed = 0;
  for (int r = 0; r < l->rows; r++)
    removed += l->unit_kept != NULL && !l->unit_kept[r];
  gboolean conv = l->kh * l->kw > 1;
  g_autofree char *units = removed > 0
                             ? g_strdup_printf (" · %d of %d %s removed", removed, l->rows,
                                                conv ? "filters" : "neurons")
                             : g_strdup ("");
  g_autofree char *extra = conv && (l->rows > MAX_TILE_ROWS
                                    || l->cols / (l->kh * l->kw) > MAX_TILE_COLS)
                             ? g_strdup (" (first filters and channels)") : g_strdup ("");
  return g_strdup_printf ("%s: %.1f%% pruned%s%s", l->name, 100.0 * l->sparsity, units, extra);
}

void
fw_mask_draw (cairo_t *cr, const FwPruneSnapshot *snap, double width, double height,
              const FwPlotStyle *style)
{
  FwPlotStyle st;
  if (style == NULL)
    {
      fw_plot_style_init (&st);
      style = &st;
    }
  if (snap == NULL || snap->n_layers == 0)
    {
      FwPlotStyle s2 = *style;
      fw_plot_draw (cr, FW_PLOT_NONE, NULL, width, height, &s2);
      fw_plot_draw_message (cr, "No mask yet: pick a model and run pruning", width, height,
                            style);
      return;
    }
  /* background once, then the panels transparent over it */
  fw_plot_draw (cr, FW_PLOT_NONE, NULL, width, height, style);
  FwPlotStyle inner = *style;
  inner.transparent = TRUE;

  /* per-layer sparsity bars on the right (below when the view is narrow); the layers stacked */
  gboolean narrow = width < 560.0 * style->font_scale;
  double bars_w = narrow ? width : MIN (MAX (width * 0.24, 160.0 * style->font_scale),
                                        width * 0.4);
  double bars_h = narrow ? MIN (MAX (height * 0.3, 120.0), height * 0.45) : height;
  double left_w = narrow ? width : width - bars_w;
  double layers_h = narrow ? height - bars_h : height;
  int n = snap->n_layers;
  double each = layers_h / n;
  for (int i = 0; i < n; i++)
    {
      const FwPruneLayerView *l = &snap->layers[i];
      g_autoptr (FwHeatmap) h = fw_mask_layer_heatmap (l);
      g_autofree char *title = layer_title (l);
      fw_heatmap_set_title (h, title);
      cairo_save (cr);
      cairo_translate (cr, 0, i * each);
      fw_plot_draw_heatmap (cr, h, left_w, each, &inner);
      /* removed units: a mark left of their row (dense rows; conv tile rows) */
      if (l->unit_kept != NULL)
        {
          gboolean conv = l->kh * l->kw > 1;
          int shown = conv ? MIN (l->rows, MAX_TILE_ROWS) : l->rows;
          FwRgba red = { 0.84, 0.15, 0.16, 1 };
          fw_rgba_set_source (cr, red);
          for (int r = 0; r < shown; r++)
            {
              double x, y, w, ch;
              if (l->unit_kept[r])
                continue;
              guint hr = conv ? (guint) (r * (l->kh + 1)) : (guint) r;
              if (!fw_heatmap_cell_rect (h, left_w, each, &inner, hr, 0, &x, &y, &w, &ch))
                continue;
              double mh = conv ? ch * l->kh : ch;
              cairo_rectangle (cr, x - 6 * style->line_scale, y, 4 * style->line_scale,
                               MAX (mh, 1.0));
            }
          cairo_fill (cr);
        }
      cairo_restore (cr);
    }

  g_autoptr (FwBarChart) bars = fw_bar_chart_new ();
  g_autofree double *v = g_new (double, n);
  g_autofree char **labels = g_new0 (char *, n + 1);
  for (int i = 0; i < n; i++)
    {
      v[i] = snap->layers[i].sparsity;
      labels[i] = snap->layers[i].name;
    }
  fw_bar_chart_set_data (bars, v, (const char *const *) labels, n);
  fw_bar_chart_set_format (bars, FW_VALUE_PERCENT);
  fw_bar_chart_set_range (bars, 0, 1);
  fw_bar_chart_set_title (bars, "Pruned per layer");
  fw_bar_chart_set_single_color (bars, fw_palette_color (0));
  cairo_save (cr);
  if (narrow)
    cairo_translate (cr, 0, layers_h);
  else
    cairo_translate (cr, left_w, 0);
  fw_plot_draw_bars (cr, bars, bars_w, bars_h, &inner);
  cairo_restore (cr);
}

/* ---- the widget ---- */

struct _FwMaskView {
  GtkWidget parent_instance;
  FwPruneSnapshot *snap;
  char *empty_text;
  double font_scale;
};

G_DEFINE_FINAL_TYPE (FwMaskView, fw_mask_view, GTK_TYPE_WIDGET)

static gboolean
is_dark (GtkWidget *widget)
{
  GdkRGBA fg;
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &fg);
  G_GNUC_END_IGNORE_DEPRECATIONS
  FwRgba c = { fg.red, fg.green, fg.blue, 1 };
  return fw_rgba_luminance (c) > 0.4;
}

static void
view_style (FwMaskView *self, FwPlotStyle *st)
{
  fw_plot_style_init (st);
  st->font_scale = self->font_scale;
  st->line_scale = sqrt (self->font_scale);
}

static void
fw_mask_view_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  FwMaskView *self = FW_MASK_VIEW (widget);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  if (w <= 0 || h <= 0)
    return;
  FwPlotStyle st;
  view_style (self, &st);
  st.dark = is_dark (widget);
  cairo_t *cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, w, h));
  if (self->snap == NULL && self->empty_text != NULL)
    {
      fw_plot_draw (cr, FW_PLOT_NONE, NULL, w, h, &st);
      fw_plot_draw_message (cr, self->empty_text, w, h, &st);
    }
  else
    fw_mask_draw (cr, self->snap, w, h, &st);
  cairo_destroy (cr);
}

static void
fw_mask_view_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *min,
                      int *nat, int *min_base, int *nat_base)
{
  *min = 120;
  *nat = orientation == GTK_ORIENTATION_HORIZONTAL ? 480 : 360;
  *min_base = *nat_base = -1;
}

static void
fw_mask_view_finalize (GObject *object)
{
  FwMaskView *self = FW_MASK_VIEW (object);
  g_clear_pointer (&self->snap, fw_prune_snapshot_unref);
  g_free (self->empty_text);
  G_OBJECT_CLASS (fw_mask_view_parent_class)->finalize (object);
}

static void
fw_mask_view_class_init (FwMaskViewClass *klass)
{
  GTK_WIDGET_CLASS (klass)->snapshot = fw_mask_view_snapshot;
  GTK_WIDGET_CLASS (klass)->measure = fw_mask_view_measure;
  G_OBJECT_CLASS (klass)->finalize = fw_mask_view_finalize;
  gtk_widget_class_set_css_name (GTK_WIDGET_CLASS (klass), "fwmaskview");
}

static void
fw_mask_view_init (FwMaskView *self)
{
  self->font_scale = 1.0;
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);
}

GtkWidget *
fw_mask_view_new (void)
{
  return g_object_new (FW_TYPE_MASK_VIEW, NULL);
}

void
fw_mask_view_set_snapshot (FwMaskView *self, FwPruneSnapshot *snap)
{
  g_return_if_fail (FW_IS_MASK_VIEW (self));
  if (snap != NULL)
    fw_prune_snapshot_ref (snap);
  g_clear_pointer (&self->snap, fw_prune_snapshot_unref);
  self->snap = snap;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

FwPruneSnapshot *
fw_mask_view_get_snapshot (FwMaskView *self)
{
  return self->snap;
}

void
fw_mask_view_set_empty_text (FwMaskView *self, const char *text)
{
  g_free (self->empty_text);
  self->empty_text = g_strdup (text);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
fw_mask_view_set_font_scale (FwMaskView *self, double scale)
{
  self->font_scale = scale;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
export_draw (cairo_t *cr, double width, double height, gpointer user_data)
{
  FwMaskView *self = user_data;
  FwPlotStyle st;
  view_style (self, &st);
  fw_mask_draw (cr, self->snap, width, height, &st);
}

gboolean
fw_mask_view_export (FwMaskView *self, const char *path, int width, int height,
                     GError **error)
{
  return fw_export_drawing (path, FW_EXPORT_AUTO, width, height, 1.0, export_draw, self,
                            error);
}
