/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-plot-view.c: FwPlotView, the widget that shows one plot model: snapshot, tooltips, zoom/pan, export dialog. */
#include "fw-plot-view.h"

#include <math.h>

#include "fw-error.h"

struct _FwPlotView {
  GtkWidget parent_instance;

  /* owned */
  FwPlotKind          kind;
  gpointer            plot;         /* a reference of the matching type */
  double              font_scale;
  char               *export_name;
  GtkWidget          *menu;         /* GtkPopoverMenu, parented to self */
  FwPlotThumbnailFunc thumb_func;
  gpointer            thumb_data;
  GDestroyNotify      thumb_destroy;
  FwPlotTooltipFunc   tip_func;
  gpointer            tip_data;
  GDestroyNotify      tip_destroy;

  /* interaction state */
  double   drag_view[4];   /* scatter view at drag start */
  gboolean dragging;
  gssize   hover;          /* hovered scatter point, -1 none */
  double   pointer_x, pointer_y;  /* last pointer position (zoom centre) */
};

G_DEFINE_FINAL_TYPE (FwPlotView, fw_plot_view, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_FONT_SCALE,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_ITEM_ACTIVATED,
  SIGNAL_EXPORTED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

GtkWidget *
fw_plot_view_new (void)
{
  return g_object_new (FW_TYPE_PLOT_VIEW, NULL);
}

/* ---- style ----------------------------------------------------------------------------------- */

static gboolean
widget_is_dark (GtkWidget *widget)
{
  GdkRGBA fg;
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &fg);
  G_GNUC_END_IGNORE_DEPRECATIONS
  /* light text means a dark theme */
  FwRgba c = { fg.red, fg.green, fg.blue, 1 };
  return fw_rgba_luminance (c) > 0.4;
}

void
fw_plot_view_get_style (FwPlotView *self, FwPlotStyle *style)
{
  g_return_if_fail (FW_IS_PLOT_VIEW (self));
  fw_plot_style_init (style);
  style->font_scale = self->font_scale;
  style->line_scale = sqrt (self->font_scale);
  style->high_contrast = self->font_scale > 1.0;  /* presentation */
  style->dark = widget_is_dark (GTK_WIDGET (self));
}

/* ---- model ----------------------------------------------------------------------------------- */

void
fw_plot_view_set_plot (FwPlotView *self, FwPlotKind kind, gpointer plot)
{
  g_return_if_fail (FW_IS_PLOT_VIEW (self));
  if (plot == NULL)
    kind = FW_PLOT_NONE;
  if (kind == self->kind && plot == self->plot)
    {
      gtk_widget_queue_draw (GTK_WIDGET (self));
      return;
    }
  gpointer old = self->plot;
  FwPlotKind old_kind = self->kind;
  self->plot = fw_plot_ref (kind, plot);
  self->kind = kind;
  self->hover = -1;
  fw_plot_unref (old_kind, old);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "plot.reset-view", kind == FW_PLOT_SCATTER);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
fw_plot_view_set_line_plot (FwPlotView *self, FwLinePlot *plot)
{
  fw_plot_view_set_plot (self, FW_PLOT_LINE, plot);
}

void
fw_plot_view_set_scatter (FwPlotView *self, FwScatterPlot *plot)
{
  fw_plot_view_set_plot (self, FW_PLOT_SCATTER, plot);
}

void
fw_plot_view_set_heatmap (FwPlotView *self, FwHeatmap *plot)
{
  fw_plot_view_set_plot (self, FW_PLOT_HEATMAP, plot);
}

void
fw_plot_view_set_bars (FwPlotView *self, FwBarChart *plot)
{
  fw_plot_view_set_plot (self, FW_PLOT_BARS, plot);
}

void
fw_plot_view_set_image_grid (FwPlotView *self, FwImageGrid *plot)
{
  fw_plot_view_set_plot (self, FW_PLOT_IMAGE_GRID, plot);
}

FwPlotKind
fw_plot_view_get_kind (FwPlotView *self)
{
  g_return_val_if_fail (FW_IS_PLOT_VIEW (self), FW_PLOT_NONE);
  return self->kind;
}

gpointer
fw_plot_view_get_plot (FwPlotView *self)
{
  g_return_val_if_fail (FW_IS_PLOT_VIEW (self), NULL);
  return self->plot;
}

FwPlotView *
fw_plot_view_new_in_box (GtkBox *box, const char *export_name)
{
  FwPlotView *view = FW_PLOT_VIEW (fw_plot_view_new ());
  gtk_widget_set_hexpand (GTK_WIDGET (view), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (view), TRUE);
  fw_plot_view_set_export_name (view, export_name);
  gtk_box_append (box, GTK_WIDGET (view));
  return view;
}

void
fw_plot_view_queue_update (FwPlotView *self)
{
  g_return_if_fail (FW_IS_PLOT_VIEW (self));
  /* GTK coalesces: any number of queue_draw calls before the next frame clock tick cost one
   * snapshot. */
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
fw_plot_view_set_font_scale (FwPlotView *self, double scale)
{
  g_return_if_fail (FW_IS_PLOT_VIEW (self));
  scale = CLAMP (scale, 0.5, 4.0);
  if (scale == self->font_scale)
    return;
  self->font_scale = scale;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FONT_SCALE]);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

double
fw_plot_view_get_font_scale (FwPlotView *self)
{
  g_return_val_if_fail (FW_IS_PLOT_VIEW (self), 1.0);
  return self->font_scale;
}

void
fw_plot_view_set_export_name (FwPlotView *self, const char *name)
{
  g_return_if_fail (FW_IS_PLOT_VIEW (self));
  g_free (self->export_name);
  self->export_name = g_strdup (name && *name ? name : "plot");
}

void
fw_plot_view_set_thumbnail_func (FwPlotView *self, FwPlotThumbnailFunc func, gpointer user_data,
                                 GDestroyNotify destroy)
{
  g_return_if_fail (FW_IS_PLOT_VIEW (self));
  if (self->thumb_destroy)
    self->thumb_destroy (self->thumb_data);
  self->thumb_func = func;
  self->thumb_data = user_data;
  self->thumb_destroy = destroy;
}

void
fw_plot_view_set_tooltip_func (FwPlotView *self, FwPlotTooltipFunc func, gpointer user_data,
                               GDestroyNotify destroy)
{
  g_return_if_fail (FW_IS_PLOT_VIEW (self));
  if (self->tip_destroy)
    self->tip_destroy (self->tip_data);
  self->tip_func = func;
  self->tip_data = user_data;
  self->tip_destroy = destroy;
}

gboolean
fw_plot_view_export (FwPlotView *self, const char *path, int width, int height, double scale,
                     GError **error)
{
  g_return_val_if_fail (FW_IS_PLOT_VIEW (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  FwPlotStyle style;
  fw_plot_style_init (&style);
  style.font_scale = self->font_scale;
  style.line_scale = sqrt (self->font_scale);
  style.high_contrast = self->font_scale > 1.0;  /* presentation */
  style.dark = FALSE;
  if (!fw_plot_export (path, FW_EXPORT_AUTO, self->kind, self->plot, width, height, scale, &style,
                       error))
    return FALSE;
  g_signal_emit (self, signals[SIGNAL_EXPORTED], 0, path);
  return TRUE;
}

/* ---- drawing --------------------------------------------------------------------------------- */

/* Draw into our own image surface at the device scale and hand it over as a texture: the draw
 * functions then always see a plain image target (the scatter fast path applies) and the
 * result is the same pixels as a PNG export at that scale. */
static void
fw_plot_view_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  FwPlotView *self = FW_PLOT_VIEW (widget);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  int scale = gtk_widget_get_scale_factor (widget);
  if (w <= 0 || h <= 0)
    return;
  FwPlotStyle style;
  fw_plot_view_get_style (self, &style);
  cairo_surface_t *surf = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, w * scale, h * scale);
  if (cairo_surface_status (surf) != CAIRO_STATUS_SUCCESS)
    {
      cairo_surface_destroy (surf);
      return;
    }
  cairo_t *cr = cairo_create (surf);
  cairo_scale (cr, scale, scale);
  fw_plot_draw (cr, self->kind, self->plot, w, h, &style);
  cairo_destroy (cr);
  cairo_surface_flush (surf);
  int stride = cairo_image_surface_get_stride (surf);
  /* the bytes keep the surface alive; CAIRO_FORMAT_ARGB32 is GDK_MEMORY_DEFAULT */
  GBytes *bytes = g_bytes_new_with_free_func (cairo_image_surface_get_data (surf),
                                              (gsize) stride * h * scale,
                                              (GDestroyNotify) cairo_surface_destroy, surf);
  GdkTexture *tex = gdk_memory_texture_new (w * scale, h * scale, GDK_MEMORY_DEFAULT, bytes, stride);
  g_bytes_unref (bytes);
  gtk_snapshot_append_texture (snapshot, tex, &GRAPHENE_RECT_INIT (0, 0, w, h));
  g_object_unref (tex);
}

static void
fw_plot_view_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum,
                      int *natural, int *minimum_baseline, int *natural_baseline)
{
  FwPlotView *self = FW_PLOT_VIEW (widget);
  double s = self->font_scale;
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = (int) (160 * s);
      *natural = (int) (320 * s);
    }
  else
    {
      *minimum = (int) (120 * s);
      *natural = (int) (240 * s);
    }
}

/* ---- hit testing ------------------------------------------------------------------------------
 * One numbering for items: scatter point index, heatmap row*cols+col, bar index, tile index,
 * line: point index within the picked series. Returns -1 for none. */
static gssize
pick_item (FwPlotView *self, double x, double y, guint *line_series)
{
  int w = gtk_widget_get_width (GTK_WIDGET (self)), h = gtk_widget_get_height (GTK_WIDGET (self));
  FwPlotStyle style;
  fw_plot_view_get_style (self, &style);
  double radius = 8.0 * style.line_scale;
  switch (self->kind)
    {
    case FW_PLOT_LINE:
      {
        guint s = 0;
        gsize i = 0;
        if (!fw_line_plot_pick (self->plot, w, h, &style, x, y, radius, &s, &i))
          return -1;
        if (line_series)
          *line_series = s;
        return (gssize) i;
      }
    case FW_PLOT_SCATTER:
      return fw_scatter_plot_pick (self->plot, w, h, &style, x, y, radius);
    case FW_PLOT_HEATMAP:
      {
        guint r, c;
        if (!fw_heatmap_pick (self->plot, w, h, &style, x, y, &r, &c))
          return -1;
        return (gssize) r * fw_heatmap_get_cols (self->plot) + c;
      }
    case FW_PLOT_BARS:
      return fw_bar_chart_pick (self->plot, w, h, &style, x, y);
    case FW_PLOT_IMAGE_GRID:
      return fw_image_grid_pick (self->plot, w, h, &style, x, y);
    case FW_PLOT_NONE:
    default:
      return -1;
    }
}

static char *
default_tooltip (FwPlotView *self, gssize item, guint series)
{
  switch (self->kind)
    {
    case FW_PLOT_LINE:
      {
        double x, y;
        if (!fw_line_plot_get_point (self->plot, series, (gsize) item, &x, &y))
          return NULL;
        const char *name = fw_line_plot_get_series_name (self->plot, series);
        return g_markup_printf_escaped ("<b>%s</b>\nx = %.4g\ny = %.4g", name ? name : "", x, y);
      }
    case FW_PLOT_SCATTER:
      {
        double x, y;
        int k;
        if (!fw_scatter_plot_get_point (self->plot, (gsize) item, &x, &y, &k))
          return NULL;
        const char *name = fw_scatter_plot_get_class_name (self->plot, k);
        if (name)
          return g_markup_printf_escaped ("<span color='%s'>●</span> %s\n#%" G_GSSIZE_FORMAT
                                          "  (%.3g, %.3g)", fw_palette_hex (k), name, item, x, y);
        return g_markup_printf_escaped ("class %d\n#%" G_GSSIZE_FORMAT "  (%.3g, %.3g)", k, item,
                                        x, y);
      }
    case FW_PLOT_HEATMAP:
      {
        guint cols = fw_heatmap_get_cols (self->plot);
        guint r = (guint) (item / cols), c = (guint) (item % cols);
        double v = fw_heatmap_get_value (self->plot, r, c);
        const char *rl = fw_heatmap_get_row_label (self->plot, r);
        const char *cl = fw_heatmap_get_col_label (self->plot, c);
        g_autofree char *rs = rl ? g_strdup (rl) : g_strdup_printf ("row %u", r);
        g_autofree char *cs = cl ? g_strdup (cl) : g_strdup_printf ("column %u", c);
        if (fw_heatmap_is_masked (self->plot, r, c))
          return g_markup_printf_escaped ("%s, %s\nmasked (pruned)", rs, cs);
        return g_markup_printf_escaped ("%s, %s\n<b>%.4g</b>", rs, cs, v);
      }
    case FW_PLOT_BARS:
      {
        g_autofree char *val = fw_bar_chart_format_value (self->plot, (guint) item);
        return g_markup_printf_escaped ("%s: <b>%s</b>",
                                        fw_bar_chart_get_label (self->plot, (guint) item), val);
      }
    case FW_PLOT_IMAGE_GRID:
      {
        const char *cap = fw_image_grid_get_caption (self->plot, (guint) item);
        if (cap)
          return g_strdup (cap);  /* escaped by the caller unless it parses as markup */
        return g_strdup_printf ("image %" G_GSSIZE_FORMAT, item);
      }
    case FW_PLOT_NONE:
    default:
      return NULL;
    }
}

static gboolean
on_query_tooltip (GtkWidget *widget, int x, int y, gboolean keyboard, GtkTooltip *tooltip,
                  gpointer user_data)
{
  FwPlotView *self = FW_PLOT_VIEW (widget);
  if (self->plot == NULL || keyboard)
    return FALSE;
  guint series = 0;
  gssize item = pick_item (self, x, y, &series);
  if (item < 0)
    return FALSE;
  g_autofree char *text = NULL;
  if (self->tip_func)
    text = self->tip_func (self, (gsize) item, self->tip_data);
  if (text == NULL)
    text = default_tooltip (self, item, series);
  if (text == NULL)
    return FALSE;
  /* captions set as plain text must not be parsed as markup */
  if (self->kind == FW_PLOT_IMAGE_GRID && !self->tip_func
      && !pango_parse_markup (text, -1, 0, NULL, NULL, NULL, NULL))
    {
      char *esc = g_markup_escape_text (text, -1);
      g_free (text);
      text = esc;
    }

  GdkTexture *thumb = NULL;
  if (self->thumb_func
      && (self->kind == FW_PLOT_SCATTER || self->kind == FW_PLOT_IMAGE_GRID))
    thumb = self->thumb_func (self, (gsize) item, self->thumb_data);
  if (thumb)
    {
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
      GtkWidget *pic = gtk_picture_new_for_paintable (GDK_PAINTABLE (thumb));
      gtk_picture_set_can_shrink (GTK_PICTURE (pic), TRUE);
      gtk_widget_set_size_request (pic, 84, 84);
      GtkWidget *label = gtk_label_new (NULL);
      gtk_label_set_markup (GTK_LABEL (label), text);
      gtk_box_append (GTK_BOX (box), pic);
      gtk_box_append (GTK_BOX (box), label);
      gtk_tooltip_set_custom (tooltip, box);
      g_object_unref (thumb);
    }
  else
    gtk_tooltip_set_markup (tooltip, text);
  return TRUE;
}

/* ---- pointer: hover highlight, click, zoom, pan ------------------------------------------------ */

static void
on_motion (GtkEventControllerMotion *ctl, double x, double y, gpointer user_data)
{
  FwPlotView *self = user_data;
  self->pointer_x = x;
  self->pointer_y = y;
  if (self->kind != FW_PLOT_SCATTER || self->dragging)
    return;
  gssize item = pick_item (self, x, y, NULL);
  if (item != self->hover)
    {
      self->hover = item;
      fw_scatter_plot_set_highlight (self->plot, item);
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }
}

static void
on_leave (GtkEventControllerMotion *ctl, gpointer user_data)
{
  FwPlotView *self = user_data;
  if (self->kind == FW_PLOT_SCATTER && self->hover >= 0)
    {
      self->hover = -1;
      fw_scatter_plot_set_highlight (self->plot, -1);
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }
}

static void
on_primary_released (GtkGestureClick *gesture, int n_press, double x, double y,
                     gpointer user_data)
{
  FwPlotView *self = user_data;
  if (self->plot == NULL)
    return;
  if (n_press == 2 && self->kind == FW_PLOT_SCATTER)
    {
      fw_scatter_plot_reset_view (self->plot);
      gtk_widget_queue_draw (GTK_WIDGET (self));
      return;
    }
  if (n_press != 1)
    return;
  gssize item = pick_item (self, x, y, NULL);
  if (item >= 0)
    g_signal_emit (self, signals[SIGNAL_ITEM_ACTIVATED], 0, (int) item);
}

static void
on_secondary_pressed (GtkGestureClick *gesture, int n_press, double x, double y,
                      gpointer user_data)
{
  FwPlotView *self = user_data;
  gtk_popover_set_pointing_to (GTK_POPOVER (self->menu),
                               &(GdkRectangle) { (int) x, (int) y, 1, 1 });
  gtk_popover_popup (GTK_POPOVER (self->menu));
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
}

static gboolean
on_scroll (GtkEventControllerScroll *ctl, double dx, double dy, gpointer user_data)
{
  FwPlotView *self = user_data;
  if (self->kind != FW_PLOT_SCATTER || dy == 0)
    return FALSE;
  FwPlotStyle style;
  fw_plot_view_get_style (self, &style);
  double factor = pow (1.15, -dy);
  fw_scatter_plot_zoom (self->plot, gtk_widget_get_width (GTK_WIDGET (self)),
                        gtk_widget_get_height (GTK_WIDGET (self)), &style, self->pointer_x, self->pointer_y, factor);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  return TRUE;
}

static void
on_drag_begin (GtkGestureDrag *gesture, double x, double y, gpointer user_data)
{
  FwPlotView *self = user_data;
  if (self->kind != FW_PLOT_SCATTER)
    {
      gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_DENIED);
      return;
    }
  fw_scatter_plot_get_view (self->plot, &self->drag_view[0], &self->drag_view[1],
                            &self->drag_view[2], &self->drag_view[3]);
  self->dragging = TRUE;
}

static void
on_drag_update (GtkGestureDrag *gesture, double dx, double dy, gpointer user_data)
{
  FwPlotView *self = user_data;
  if (!self->dragging || self->kind != FW_PLOT_SCATTER)
    return;
  FwPlotStyle style;
  fw_plot_view_get_style (self, &style);
  fw_scatter_plot_set_view (self->plot, self->drag_view[0], self->drag_view[1],
                            self->drag_view[2], self->drag_view[3]);
  fw_scatter_plot_pan (self->plot, gtk_widget_get_width (GTK_WIDGET (self)),
                       gtk_widget_get_height (GTK_WIDGET (self)), &style, dx, dy);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_drag_end (GtkGestureDrag *gesture, double dx, double dy, gpointer user_data)
{
  FwPlotView *self = user_data;
  self->dragging = FALSE;
}

/* ---- export dialog ----------------------------------------------------------------------------- */

typedef struct {
  FwPlotView *view;      /* strong ref */
  GtkWidget  *window;
  GtkWidget  *format;    /* GtkDropDown: PNG, SVG, PDF */
  GtkWidget  *width, *height, *scale;  /* GtkSpinButton */
  GtkFileChooserNative *chooser;
} ExportDialog;

static void
export_dialog_free (ExportDialog *d)
{
  g_clear_object (&d->chooser);
  g_clear_object (&d->view);
  g_free (d);
}

static const FwExportFormat dialog_formats[] = { FW_EXPORT_PNG, FW_EXPORT_SVG, FW_EXPORT_PDF };

static void
show_error (GtkWidget *parent, const char *message)
{
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  GtkRoot *root = parent ? gtk_widget_get_root (parent) : NULL;
  GtkWidget *md = gtk_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                          GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                          GTK_MESSAGE_ERROR, GTK_BUTTONS_CLOSE, "Export failed");
  gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (md), "%s", message);
  g_signal_connect (md, "response", G_CALLBACK (gtk_window_destroy), NULL);
  gtk_window_present (GTK_WINDOW (md));
  G_GNUC_END_IGNORE_DEPRECATIONS
}

static void
on_chooser_response (GtkNativeDialog *native, int response, gpointer user_data)
{
  ExportDialog *d = user_data;
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (native));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      guint fi = gtk_drop_down_get_selected (GTK_DROP_DOWN (d->format));
      FwExportFormat fmt = dialog_formats[MIN (fi, 2)];
      if (path && fw_export_format_for_path (path) != fmt)
        {
          /* the user typed a name without (or with another) extension: add ours */
          char *p2 = g_strconcat (path, ".", fw_export_format_extension (fmt), NULL);
          g_free (path);
          path = p2;
        }
      if (path)
        {
          g_autoptr (GError) error = NULL;
          int w = gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (d->width));
          int h = gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (d->height));
          double s = gtk_spin_button_get_value (GTK_SPIN_BUTTON (d->scale));
          if (!fw_plot_view_export (d->view, path, w, h, s, &error))
            show_error (GTK_WIDGET (d->view), error->message);
        }
    }
  gtk_native_dialog_destroy (native);
  gtk_window_destroy (GTK_WINDOW (d->window));
}

static void
on_export_clicked (GtkButton *button, gpointer user_data)
{
  ExportDialog *d = user_data;
  guint fi = gtk_drop_down_get_selected (GTK_DROP_DOWN (d->format));
  FwExportFormat fmt = dialog_formats[MIN (fi, 2)];
  g_autofree char *name = g_strdup_printf ("%s.%s", d->view->export_name,
                                           fw_export_format_extension (fmt));
  gtk_widget_set_visible (d->window, FALSE);
  d->chooser = gtk_file_chooser_native_new ("Export Plot", GTK_WINDOW (d->window),
                                            GTK_FILE_CHOOSER_ACTION_SAVE, "_Export", "_Cancel");
  gtk_native_dialog_set_transient_for (GTK_NATIVE_DIALOG (d->chooser),
                                       gtk_window_get_transient_for (GTK_WINDOW (d->window)));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (d->chooser), TRUE);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (d->chooser), name);
  g_signal_connect (d->chooser, "response", G_CALLBACK (on_chooser_response), d);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (d->chooser));
}

static void
on_format_changed (GObject *dropdown, GParamSpec *pspec, gpointer user_data)
{
  ExportDialog *d = user_data;
  /* scale only matters for PNG */
  gtk_widget_set_sensitive (d->scale, gtk_drop_down_get_selected (GTK_DROP_DOWN (d->format)) == 0);
}

static GtkWidget *
grid_label (const char *text)
{
  GtkWidget *l = gtk_label_new_with_mnemonic (text);
  gtk_label_set_xalign (GTK_LABEL (l), 1.0);
  return l;
}

void
fw_plot_view_show_export_dialog (FwPlotView *self)
{
  g_return_if_fail (FW_IS_PLOT_VIEW (self));
  ExportDialog *d = g_new0 (ExportDialog, 1);
  d->view = g_object_ref (self);
  d->window = gtk_window_new ();
  gtk_window_set_title (GTK_WINDOW (d->window), "Export Plot");
  gtk_window_set_modal (GTK_WINDOW (d->window), TRUE);
  gtk_window_set_resizable (GTK_WINDOW (d->window), FALSE);
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  if (GTK_IS_WINDOW (root))
    gtk_window_set_transient_for (GTK_WINDOW (d->window), GTK_WINDOW (root));
  gtk_window_set_destroy_with_parent (GTK_WINDOW (d->window), TRUE);
  g_object_set_data_full (G_OBJECT (d->window), "fw-export-dialog", d,
                          (GDestroyNotify) export_dialog_free);

  GtkWidget *grid = gtk_grid_new ();
  gtk_grid_set_row_spacing (GTK_GRID (grid), 8);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 12);
  gtk_widget_set_margin_top (grid, 18);
  gtk_widget_set_margin_bottom (grid, 18);
  gtk_widget_set_margin_start (grid, 18);
  gtk_widget_set_margin_end (grid, 18);

  static const char *const formats[] = { "PNG image", "SVG vector", "PDF document", NULL };
  d->format = gtk_drop_down_new_from_strings (formats);
  int w = MAX (gtk_widget_get_width (GTK_WIDGET (self)), 320);
  int h = MAX (gtk_widget_get_height (GTK_WIDGET (self)), 240);
  d->width = gtk_spin_button_new_with_range (64, 8192, 10);
  d->height = gtk_spin_button_new_with_range (64, 8192, 10);
  d->scale = gtk_spin_button_new_with_range (1, 4, 0.5);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (d->width), w);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (d->height), h);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (d->scale), 2);

  GtkWidget *l;
  l = grid_label ("_Format");
  gtk_label_set_mnemonic_widget (GTK_LABEL (l), d->format);
  gtk_grid_attach (GTK_GRID (grid), l, 0, 0, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), d->format, 1, 0, 1, 1);
  l = grid_label ("_Width (px)");
  gtk_label_set_mnemonic_widget (GTK_LABEL (l), d->width);
  gtk_grid_attach (GTK_GRID (grid), l, 0, 1, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), d->width, 1, 1, 1, 1);
  l = grid_label ("_Height (px)");
  gtk_label_set_mnemonic_widget (GTK_LABEL (l), d->height);
  gtk_grid_attach (GTK_GRID (grid), l, 0, 2, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), d->height, 1, 2, 1, 1);
  l = grid_label ("_Scale (PNG)");
  gtk_label_set_mnemonic_widget (GTK_LABEL (l), d->scale);
  gtk_grid_attach (GTK_GRID (grid), l, 0, 3, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), d->scale, 1, 3, 1, 1);

  GtkWidget *buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  gtk_widget_set_halign (buttons, GTK_ALIGN_END);
  gtk_widget_set_margin_top (buttons, 8);
  GtkWidget *cancel = gtk_button_new_with_mnemonic ("_Cancel");
  GtkWidget *ok = gtk_button_new_with_mnemonic ("_Export…");
  gtk_widget_add_css_class (ok, "suggested-action");
  gtk_box_append (GTK_BOX (buttons), cancel);
  gtk_box_append (GTK_BOX (buttons), ok);
  gtk_grid_attach (GTK_GRID (grid), buttons, 0, 4, 2, 1);
  gtk_window_set_child (GTK_WINDOW (d->window), grid);
  gtk_window_set_default_widget (GTK_WINDOW (d->window), ok);

  /* Escape cancels, like a dialog */
  GtkEventController *keys = gtk_shortcut_controller_new ();
  gtk_shortcut_controller_add_shortcut (
    GTK_SHORTCUT_CONTROLLER (keys),
    gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_Escape, 0),
                      gtk_named_action_new ("window.close")));
  gtk_widget_add_controller (d->window, keys);
  g_signal_connect_swapped (cancel, "clicked", G_CALLBACK (gtk_window_destroy), d->window);
  g_signal_connect (ok, "clicked", G_CALLBACK (on_export_clicked), d);
  g_signal_connect (d->format, "notify::selected", G_CALLBACK (on_format_changed), d);
  gtk_window_present (GTK_WINDOW (d->window));
}

static void
action_export (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  fw_plot_view_show_export_dialog (FW_PLOT_VIEW (widget));
}

static void
action_reset_view (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  FwPlotView *self = FW_PLOT_VIEW (widget);
  if (self->kind == FW_PLOT_SCATTER)
    {
      fw_scatter_plot_reset_view (self->plot);
      gtk_widget_queue_draw (widget);
    }
}

/* ---- GObject ----------------------------------------------------------------------------------- */

static void
fw_plot_view_dispose (GObject *object)
{
  FwPlotView *self = FW_PLOT_VIEW (object);
  g_clear_pointer (&self->menu, gtk_widget_unparent);
  fw_plot_view_set_thumbnail_func (self, NULL, NULL, NULL);
  fw_plot_view_set_tooltip_func (self, NULL, NULL, NULL);
  if (self->plot)
    {
      fw_plot_unref (self->kind, self->plot);
      self->plot = NULL;
      self->kind = FW_PLOT_NONE;
    }
  G_OBJECT_CLASS (fw_plot_view_parent_class)->dispose (object);
}

static void
fw_plot_view_finalize (GObject *object)
{
  FwPlotView *self = FW_PLOT_VIEW (object);
  g_free (self->export_name);
  G_OBJECT_CLASS (fw_plot_view_parent_class)->finalize (object);
}

static void
fw_plot_view_size_allocate (GtkWidget *widget, int width, int height, int baseline)
{
  FwPlotView *self = FW_PLOT_VIEW (widget);
  if (self->menu)
    gtk_popover_present (GTK_POPOVER (self->menu));
}

static void
fw_plot_view_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  FwPlotView *self = FW_PLOT_VIEW (object);
  switch (prop_id)
    {
    case PROP_FONT_SCALE:
      g_value_set_double (value, self->font_scale);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
fw_plot_view_set_property (GObject *object, guint prop_id, const GValue *value,
                           GParamSpec *pspec)
{
  FwPlotView *self = FW_PLOT_VIEW (object);
  switch (prop_id)
    {
    case PROP_FONT_SCALE:
      fw_plot_view_set_font_scale (self, g_value_get_double (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
fw_plot_view_css_changed (GtkWidget *widget, GtkCssStyleChange *change)
{
  GTK_WIDGET_CLASS (fw_plot_view_parent_class)->css_changed (widget, change);
  /* dark/light switch: the colours come from the foreground colour */
  gtk_widget_queue_draw (widget);
}

static void
fw_plot_view_class_init (FwPlotViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = fw_plot_view_dispose;
  object_class->finalize = fw_plot_view_finalize;
  object_class->get_property = fw_plot_view_get_property;
  object_class->set_property = fw_plot_view_set_property;
  widget_class->snapshot = fw_plot_view_snapshot;
  widget_class->measure = fw_plot_view_measure;
  widget_class->size_allocate = fw_plot_view_size_allocate;
  widget_class->css_changed = fw_plot_view_css_changed;

  properties[PROP_FONT_SCALE] =
    g_param_spec_double ("font-scale", NULL, NULL, 0.5, 4.0, 1.0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * FwPlotView::item-activated:
   * @index: scatter point, heatmap cell (row * cols + col), bar, image tile or line point index
   */
  signals[SIGNAL_ITEM_ACTIVATED] =
    g_signal_new ("item-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_INT);
  /**
   * FwPlotView::exported:
   * @path: the file written (emitted after a successful fw_plot_view_export())
   */
  signals[SIGNAL_EXPORTED] =
    g_signal_new ("exported", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);

  gtk_widget_class_install_action (widget_class, "plot.export", NULL, action_export);
  gtk_widget_class_install_action (widget_class, "plot.reset-view", NULL, action_reset_view);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_e, GDK_CONTROL_MASK, "plot.export",
                                       NULL);
  gtk_widget_class_set_css_name (widget_class, "fwplotview");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
fw_plot_view_init (FwPlotView *self)
{
  GtkWidget *widget = GTK_WIDGET (self);
  self->font_scale = 1.0;
  self->hover = -1;
  self->export_name = g_strdup ("plot");
  gtk_widget_set_focusable (widget, TRUE);
  gtk_widget_set_hexpand (widget, TRUE);
  gtk_widget_set_vexpand (widget, TRUE);
  gtk_widget_set_has_tooltip (widget, TRUE);
  g_signal_connect (widget, "query-tooltip", G_CALLBACK (on_query_tooltip), NULL);

  GtkGesture *click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_PRIMARY);
  g_signal_connect (click, "released", G_CALLBACK (on_primary_released), self);
  gtk_widget_add_controller (widget, GTK_EVENT_CONTROLLER (click));

  GtkGesture *menu_click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (menu_click), GDK_BUTTON_SECONDARY);
  g_signal_connect (menu_click, "pressed", G_CALLBACK (on_secondary_pressed), self);
  gtk_widget_add_controller (widget, GTK_EVENT_CONTROLLER (menu_click));

  GtkGesture *drag = gtk_gesture_drag_new ();
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (on_drag_end), self);
  gtk_widget_add_controller (widget, GTK_EVENT_CONTROLLER (drag));

  GtkEventController *scroll = gtk_event_controller_scroll_new (
    GTK_EVENT_CONTROLLER_SCROLL_VERTICAL | GTK_EVENT_CONTROLLER_SCROLL_DISCRETE);
  g_signal_connect (scroll, "scroll", G_CALLBACK (on_scroll), self);
  gtk_widget_add_controller (widget, scroll);

  GtkEventController *motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (widget, motion);

  g_autoptr (GMenu) model = g_menu_new ();
  g_menu_append (model, "Export…", "plot.export");
  g_menu_append (model, "Reset View", "plot.reset-view");
  self->menu = gtk_popover_menu_new_from_model (G_MENU_MODEL (model));
  gtk_popover_set_has_arrow (GTK_POPOVER (self->menu), FALSE);
  gtk_widget_set_halign (self->menu, GTK_ALIGN_START);
  gtk_widget_set_parent (self->menu, widget);
  gtk_widget_action_set_enabled (widget, "plot.reset-view", FALSE);
}
