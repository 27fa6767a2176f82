/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-panel-quant.c: the Quantize and Cluster panels (see fw-panel-quant.h). */
#include "fw-panel-quant.h"

#include <glib/gstdio.h>
#include <math.h>
#include <pango/pangocairo.h>
#include <string.h>
#include <unistd.h>

#include "fw-colors.h"
#include "fw-model-shelf.h"
#include "fw-page-compress.h"
#include "fw-recipe-ext.h"
#include "fw-safetensors.h"
#include "fw-util.h"
#include "fw-window.h"

struct _FwPanelQuant {
  GtkBox parent;
  gboolean cluster;
  /* widgets (owned by the box) */
  GtkDropDown *model_dd;
  GtkStringList *model_names;
  GtkDropDown *mode_dd;
  GtkWidget *per_channel, *symmetric;
  GtkWidget *int8_box;
  GtkSpinButton *k_spin, *epochs_spin, *pull_spin;
  GtkButton *run_button;
  GtkLabel *status;
  GtkDrawingArea *area;
  /* owned */
  FwModel *source;           /* set by fw_panel_quant_set_source, or NULL: the shelf's */
  char *data_spec;
  int train_limit;
  FwJob *job;
  char *tmp_model;           /* the source saved for the job, removed when it ends */
  FwWeightHist *hist;
  guint n_frames;
  FwQuantResult *result;
  FwModelShelf *shelf;       /* borrowed, from the window when mapped */
  FwPageCompress *page;      /* borrowed: the page owns the panel; NULL for a free panel */
  double font_scale;
  gulong shelf_handler;
};

G_DEFINE_FINAL_TYPE (FwPanelQuant, fw_panel_quant, GTK_TYPE_BOX)

static const char *const quant_modes[] = { "int8", "f16", "ternary", "binary", NULL };
static const char *const quant_mode_titles[] = { "int8 (post-training)", "fp16 (storage)",
                                                 "ternary {-a, 0, +a} (STE)",
                                                 "binary {-a, +a} (STE)", NULL };

/* ---- the histogram plot ---- */

static void
draw_text (cairo_t *cr, const char *text, double x, double y, double size, gboolean bold,
           double align, FwRgba color)
{
  PangoLayout *layout = pango_cairo_create_layout (cr);
  g_autofree char *font = g_strdup_printf ("Sans %s %.1fpx", bold ? "Bold" : "", size);
  PangoFontDescription *fd = pango_font_description_from_string (font);
  pango_layout_set_font_description (layout, fd);
  pango_font_description_free (fd);
  pango_layout_set_text (layout, text, -1);
  int w, h;
  pango_layout_get_pixel_size (layout, &w, &h);
  cairo_set_source_rgba (cr, color.r, color.g, color.b, color.a);
  cairo_move_to (cr, x - align * w, y - h / 2.0);
  pango_cairo_show_layout (cr, layout);
  g_object_unref (layout);
}

void
fw_weight_hist_draw (cairo_t *cr, const FwWeightHist *h, double width, double height,
                     const FwPlotStyle *style)
{
  FwPlotStyle def;
  if (style == NULL)
    {
      fw_plot_style_init (&def);
      style = &def;
    }
  const double fs = 12 * style->font_scale, ls = style->line_scale;
  FwRgba bg = style->dark ? (FwRgba) { 0.14, 0.14, 0.15, 1 } : (FwRgba) { 1, 1, 1, 1 };
  FwRgba fg = style->dark ? (FwRgba) { 0.92, 0.92, 0.92, 1 } : (FwRgba) { 0.13, 0.13, 0.13, 1 };
  FwRgba grid = style->dark ? (FwRgba) { 1, 1, 1, 0.12 } : (FwRgba) { 0, 0, 0, 0.10 };
  if (!style->transparent)
    {
      cairo_set_source_rgba (cr, bg.r, bg.g, bg.b, 1);
      cairo_paint (cr);
    }
  if (h == NULL)
    {
      draw_text (cr, "Run to see the weight histogram before and after", width / 2, height / 2,
                 fs * 1.2, FALSE, 0.5, fg);
      return;
    }
  const double ml = 64 * style->font_scale, mr = 20, mt = 52 * style->font_scale;
  const double mb = 48 * style->font_scale;
  const double pw = MAX (width - ml - mr, 10), ph = MAX (height - mt - mb, 10);
  guint cmax = 1;
  for (int b = 0; b < h->bins; b++)
    cmax = MAX (cmax, MAX (h->before[b], h->after[b]));
  /* sqrt count axis: a few large bins (all weights on 5 centres) next to the spread-out float
   * histogram stay readable */
  const double ymax = sqrt ((double) cmax) * 1.05;
#define X(v) (ml + ((v) - h->lo) / (h->hi - h->lo) * pw)
#define Y(c) (mt + ph - sqrt ((double) (c)) / ymax * ph)
  /* grid and x ticks */
  FwTicks xt;
  fw_nice_ticks (h->lo, h->hi, 6, &xt);
  cairo_set_line_width (cr, 1);
  for (guint i = 0; i < xt.n; i++)
    {
      double v = fw_ticks_value (&xt, i);
      if (v < h->lo || v > h->hi)
        continue;
      cairo_set_source_rgba (cr, grid.r, grid.g, grid.b, grid.a);
      cairo_move_to (cr, X (v), mt);
      cairo_line_to (cr, X (v), mt + ph);
      cairo_stroke (cr);
      g_autofree char *s = fw_format_tick (v, xt.step);
      draw_text (cr, s, X (v), mt + ph + fs, fs * 0.9, FALSE, 0.5, fg);
    }
  /* y ticks on the sqrt scale: counts at nice values */
  FwTicks yt;
  fw_nice_ticks (0, (double) cmax, 4, &yt);
  for (guint i = 0; i < yt.n; i++)
    {
      double c = fw_ticks_value (&yt, i);
      if (c < 0 || c > cmax)
        continue;
      cairo_set_source_rgba (cr, grid.r, grid.g, grid.b, grid.a);
      cairo_move_to (cr, ml, Y (c));
      cairo_line_to (cr, ml + pw, Y (c));
      cairo_stroke (cr);
      g_autofree char *s = fw_format_tick (c, yt.step);
      draw_text (cr, s, ml - 6, Y (c), fs * 0.9, FALSE, 1.0, fg);
    }
  double bw = pw / h->bins;
  /* before: grey bars; after: coloured bars over them */
  for (int pass = 0; pass < 2; pass++)
    {
      const guint *cnt = pass == 0 ? h->before : h->after;
      FwRgba c = pass == 0 ? (FwRgba) { 0.55, 0.55, 0.58, 0.45 } : fw_palette_color (0);
      cairo_set_source_rgba (cr, c.r, c.g, c.b, pass == 0 ? c.a : 0.85);
      for (int b = 0; b < h->bins; b++)
        if (cnt[b] > 0)
          {
            double y = Y (cnt[b]);
            double wbar = pass == 0 ? bw : MAX (bw * 0.8, 1.5 * ls);
            cairo_rectangle (cr, ml + b * bw + (bw - wbar) / 2, y, wbar, mt + ph - y);
          }
      cairo_fill (cr);
    }
  /* the levels / centres */
  FwRgba lc = fw_palette_color (3);
  gboolean label_levels = h->n_levels <= 16;
  for (int i = 0; i < h->n_levels; i++)
    {
      double v = h->levels[i];
      if (v < h->lo || v > h->hi)
        continue;
      cairo_set_source_rgba (cr, lc.r, lc.g, lc.b, label_levels ? 0.95 : 0.35);
      cairo_set_line_width (cr, (label_levels ? 2.0 : 1.0) * ls);
      double dash[2] = { 6 * ls, 4 * ls };
      cairo_set_dash (cr, dash, label_levels ? 2 : 0, 0);
      cairo_move_to (cr, X (v), mt);
      cairo_line_to (cr, X (v), mt + ph);
      cairo_stroke (cr);
      cairo_set_dash (cr, NULL, 0, 0);
      if (label_levels)
        {
          g_autofree char *s = g_strdup_printf ("%.3f", v);
          draw_text (cr, s, X (v), mt - fs * 0.55, fs * 0.85, FALSE, 0.5, lc);
        }
    }
  /* axes, labels, title and legend */
  cairo_set_source_rgba (cr, fg.r, fg.g, fg.b, 0.8);
  cairo_set_line_width (cr, 1);
  cairo_move_to (cr, ml, mt);
  cairo_line_to (cr, ml, mt + ph);
  cairo_line_to (cr, ml + pw, mt + ph);
  cairo_stroke (cr);
  draw_text (cr, "weight value", ml + pw / 2, height - fs * 0.9, fs, FALSE, 0.5, fg);
  cairo_save (cr);
  cairo_translate (cr, fs * 0.9, mt + ph / 2);
  cairo_rotate (cr, -G_PI / 2);
  draw_text (cr, "weights per bin (square-root scale)", 0, 0, fs, FALSE, 0.5, fg);
  cairo_restore (cr);
  g_autofree char *title = g_strdup_printf ("%s — %s", h->title, h->stage);
  draw_text (cr, title, ml, fs * 0.9, fs * 1.15, TRUE, 0, fg);
  /* legend, top right */
  double lx = ml + pw - 330 * style->font_scale, ly = fs * 2.5;
  struct { const char *name; FwRgba c; } leg[3] = {
    { "float weights", { 0.55, 0.55, 0.58, 0.6 } },
    { "weights now", fw_palette_color (0) },
    { h->n_levels > 0 ? "levels / centres" : NULL, lc },
  };
  for (int i = 0; i < 3; i++)
    if (leg[i].name != NULL)
      {
        cairo_set_source_rgba (cr, leg[i].c.r, leg[i].c.g, leg[i].c.b, leg[i].c.a);
        cairo_rectangle (cr, lx, ly - fs * 0.35, fs * 0.9, fs * 0.7);
        cairo_fill (cr);
        draw_text (cr, leg[i].name, lx + fs * 1.2, ly, fs * 0.9, FALSE, 0, fg);
        lx += (strlen (leg[i].name) * 0.55 + 2.8) * fs;
      }
#undef X
#undef Y
}

static void
area_draw (GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer user)
{
  FwPanelQuant *self = user;
  FwPlotStyle st;
  fw_plot_style_init (&st);
  st.font_scale = self->font_scale;
  GdkRGBA fg;
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS /* the GTK 4.8 way; gtk_widget_get_color is 4.10 */
  gtk_style_context_get_color (gtk_widget_get_style_context (GTK_WIDGET (area)), &fg);
  G_GNUC_END_IGNORE_DEPRECATIONS
  st.dark = fw_rgba_luminance ((FwRgba) { fg.red, fg.green, fg.blue, 1 }) > 0.4;
  fw_weight_hist_draw (cr, self->hist, width, height, &st);
}

/* ---- the shelf ---- */

static void
shelf_changed (GListModel *list, guint pos, guint removed, guint added, gpointer user)
{
  FwPanelQuant *self = user;
  guint n = g_list_model_get_n_items (list);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (FwShelfItem) it = g_list_model_get_item (list, i);
      g_ptr_array_add (names, g_strdup (fw_shelf_item_get_name (it)));
    }
  g_ptr_array_add (names, NULL);
  guint old = g_list_model_get_n_items (G_LIST_MODEL (self->model_names));
  gtk_string_list_splice (self->model_names, 0, old, (const char *const *) names->pdata);
  /* the newest float model (compressed ones are listed but cannot be compressed again) */
  for (guint i = n; i-- > 0;)
    {
      g_autoptr (FwShelfItem) it = g_list_model_get_item (list, i);
      FwModel *m = fw_shelf_item_get_model (it);
      gboolean packed = FALSE;
      for (int j = 0; m != NULL && j < m->n_layers; j++)
        packed |= m->layers[j]->klass->packed != NULL;
      if (m != NULL && !packed)
        {
          gtk_drop_down_set_selected (self->model_dd, i);
          break;
        }
    }
}

static void
panel_map (GtkWidget *w)
{
  FwPanelQuant *self = FW_PANEL_QUANT (w);
  GTK_WIDGET_CLASS (fw_panel_quant_parent_class)->map (w);
  FwWindow *win = fw_window_for_widget (w);
  if (win != NULL && self->shelf == NULL)
    {
      self->shelf = fw_window_get_shelf (win);
      if (self->shelf != NULL)
        {
          self->shelf_handler = g_signal_connect (self->shelf, "items-changed",
                                                  G_CALLBACK (shelf_changed), self);
          shelf_changed (G_LIST_MODEL (self->shelf), 0, 0, 0, self);
        }
    }
}

static FwModel *
selected_model (FwPanelQuant *self)
{
  if (self->source != NULL)
    return self->source;
  if (self->page != NULL)
    {
      FwShelfItem *it = fw_page_compress_get_item (self->page);
      return it != NULL ? fw_shelf_item_get_model (it) : NULL;
    }
  guint i = gtk_drop_down_get_selected (self->model_dd);
  if (self->shelf == NULL || i == GTK_INVALID_LIST_POSITION
      || i >= g_list_model_get_n_items (G_LIST_MODEL (self->shelf)))
    return NULL;
  g_autoptr (FwShelfItem) it = g_list_model_get_item (G_LIST_MODEL (self->shelf), i);
  return fw_shelf_item_get_model (it);
}

/* ---- the job ---- */

static void
set_status (FwPanelQuant *self, const char *markup)
{
  gtk_label_set_markup (self->status, markup);
}

static void
job_ended (FwPanelQuant *self)
{
  g_clear_pointer (&self->job, fw_job_unref);
  if (self->tmp_model != NULL)
    {
      g_unlink (self->tmp_model);
      g_clear_pointer (&self->tmp_model, g_free);
    }
  gtk_widget_set_sensitive (GTK_WIDGET (self->run_button), TRUE);
}

static void
on_event (FwJob *job, const FwEvent *ev, gpointer user)
{
  FwPanelQuant *self = user;
  switch (ev->kind)
    {
    case FW_EVENT_SNAPSHOT:
      if (g_strcmp0 (ev->payload_type, "weight-hist") == 0)
        {
          g_clear_pointer (&self->hist, fw_weight_hist_free);
          self->hist = fw_weight_hist_copy (ev->payload);
          self->n_frames++;
          gtk_widget_queue_draw (GTK_WIDGET (self->area));
        }
      else if (g_strcmp0 (ev->payload_type, "quant-result") == 0)
        {
          const FwQuantResult *r = ev->payload;
          g_clear_pointer (&self->result, fw_quant_result_free);
          FwQuantResult *c = g_memdup2 (r, sizeof *r);
          c->method = g_strdup (r->method);
          c->name = g_strdup (r->name);
          c->run_dir = g_strdup (r->run_dir);
          c->base = fw_model_ref (r->base);
          c->model = fw_model_ref (r->model);
          c->metrics = g_array_ref (r->metrics);
          self->result = c;
          g_autofree char *b0 = fw_format_bytes ((double) r->bytes_base);
          g_autofree char *b1 = fw_format_bytes ((double) r->bytes);
          g_autofree char *m = g_markup_printf_escaped (
            "<b>%s</b>\ntest accuracy <b>%.1f%%</b> (float %.1f%%, %+.1f points)\n"
            "file <b>%s</b> (float %s): <b>%.1fx</b> smaller\nweights %.1fx smaller than "
            "float32", r->name, 100 * r->acc, 100 * r->acc_base, 100 * (r->acc - r->acc_base),
            b1, b0, (double) r->bytes_base / MAX (r->bytes, 1),
            (double) r->weight_bytes_f32 / MAX (r->weight_bytes, 1));
          set_status (self, m);
          if (self->page != NULL)
            {
              g_autofree char *file = g_build_filename (r->run_dir, "model.safetensors", NULL);
              fw_page_compress_add_result (self->page, r->name, r->method, r->model, r->acc,
                                           file, r->run_dir);
            }
          else if (self->shelf != NULL)
            {
              g_autoptr (FwShelfItem) it = fw_shelf_item_new (r->name, r->model, r->acc,
                                                              r->metrics, r->run_dir);
              fw_model_shelf_add (self->shelf, it);
            }
        }
      break;
    case FW_EVENT_FINISHED:
    case FW_EVENT_CANCELLED:
      job_ended (self);
      if (ev->kind == FW_EVENT_CANCELLED)
        set_status (self, "Cancelled.");
      g_object_unref (self); /* the reference the job held (fw_panel_quant_run) */
      break;
    case FW_EVENT_FAILED:
      {
        g_autofree char *m = g_markup_printf_escaped ("<span foreground=\"#b00020\">%s</span>",
                                                      ev->error->message);
        set_status (self, m);
        job_ended (self);
        g_object_unref (self);
        break;
      }
    default:
      break;
    }
}

gboolean
fw_panel_quant_run (FwPanelQuant *self)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (self->job != NULL)
    return FALSE;
  FwModel *m = selected_model (self);
  if (m == NULL || win == NULL)
    {
      set_status (self, "No model yet — train one on the Train page; it appears on the shelf.");
      return FALSE;
    }
  g_autoptr (GError) error = NULL;
  int fd = g_file_open_tmp ("frugal-source-XXXXXX.safetensors", &self->tmp_model, &error);
  if (fd >= 0)
    close (fd);
  if (fd < 0 || !fw_model_save (m, self->tmp_model, NULL, &error))
    {
      fw_window_show_error (win, error->message);
      g_clear_pointer (&self->tmp_model, g_free);
      return FALSE;
    }
  FwRecipe *r = fw_recipe_new_default ();
  g_free (r->dataset);
  const char *spec = self->data_spec != NULL ? self->data_spec : fw_window_get_data_spec (win);
  r->dataset = g_strdup (spec != NULL && *spec ? spec : "fashion-mnist");
  g_free (r->init);
  r->init = g_strdup (self->tmp_model);
  r->threads = 1;
  r->train_limit = self->train_limit;
  int epochs = gtk_spin_button_get_value_as_int (self->epochs_spin);
  g_autofree char *ep = g_strdup_printf ("%d", epochs);
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  const char *group;
  if (self->cluster)
    {
      group = "cluster";
      int k = gtk_spin_button_get_value_as_int (self->k_spin);
      g_autofree char *ks = g_strdup_printf ("%d", k);
      g_autofree char *pull = g_strdup_printf ("%g", gtk_spin_button_get_value (self->pull_spin));
      fw_recipe_ext_set (r, group, "k", ks);
      fw_recipe_ext_set (r, group, "epochs", ep);
      fw_recipe_ext_set (r, group, "pull", pull);
      fw_recipe_ext_set (r, group, "pull_epochs", epochs > 1 ? "1" : "0");
      g_free (r->name);
      r->name = g_strdup_printf ("cluster-k%d", k);
    }
  else
    {
      group = "quantize";
      const char *mode = quant_modes[gtk_drop_down_get_selected (self->mode_dd)];
      fw_recipe_ext_set (r, group, "mode", mode);
      fw_recipe_ext_set (r, group, "per_channel",
                         gtk_switch_get_active (GTK_SWITCH (self->per_channel)) ? "true" : "false");
      fw_recipe_ext_set (r, group, "symmetric",
                         gtk_switch_get_active (GTK_SWITCH (self->symmetric)) ? "true" : "false");
      fw_recipe_ext_set (r, group, "epochs", ep);
      g_free (r->name);
      r->name = g_strdup_printf ("quantize-%s", mode);
    }
  g_free (r->out_dir);
  g_autofree char *dirname = g_strdup_printf ("%s-%s", r->name, stamp);
  r->out_dir = g_build_filename (fw_window_get_runs_dir (win), dirname, NULL);
  g_autofree char *name = g_strdup (r->name);
  self->n_frames = 0;
  set_status (self, self->cluster ? "Clustering…" : "Quantizing…");
  gtk_widget_set_sensitive (GTK_WIDGET (self->run_button), FALSE);
  self->job = fw_window_submit_job (win, name,
                                    self->cluster ? fw_cluster_job_run : fw_quant_job_run, r,
                                    (GDestroyNotify) fw_recipe_free, on_event,
                                    g_object_ref (self));
  return TRUE;
}

static void
run_clicked (GtkButton *b, gpointer user)
{
  fw_panel_quant_run (user);
}

static void
mode_changed (GObject *dd, GParamSpec *ps, gpointer user)
{
  FwPanelQuant *self = user;
  guint i = gtk_drop_down_get_selected (self->mode_dd);
  gtk_widget_set_visible (self->int8_box, i == 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->epochs_spin), i >= 2);
}

/* ---- construction ---- */

static GtkWidget *
labelled (const char *text, GtkWidget *w)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  GtkWidget *l = gtk_label_new (text);
  gtk_label_set_xalign (GTK_LABEL (l), 0);
  gtk_widget_add_css_class (l, "dim-label");
  gtk_box_append (GTK_BOX (box), l);
  gtk_box_append (GTK_BOX (box), w);
  return box;
}

static GtkWidget *
switch_row (const char *text, GtkWidget **sw)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *l = gtk_label_new (text);
  gtk_label_set_xalign (GTK_LABEL (l), 0);
  gtk_widget_set_hexpand (l, TRUE);
  *sw = gtk_switch_new ();
  gtk_switch_set_active (GTK_SWITCH (*sw), TRUE);
  gtk_widget_set_valign (*sw, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (box), l);
  gtk_box_append (GTK_BOX (box), *sw);
  return box;
}

static void
fw_panel_quant_init (FwPanelQuant *self)
{
  self->font_scale = 1.0;
}

static void
build (FwPanelQuant *self)
{
  gtk_orientable_set_orientation (GTK_ORIENTABLE (self), GTK_ORIENTATION_HORIZONTAL);
  gtk_box_set_spacing (GTK_BOX (self), 18);
  GtkWidget *col = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  gtk_widget_set_size_request (col, 260, -1);
  gtk_widget_set_margin_start (col, 18);
  gtk_widget_set_margin_top (col, 18);
  gtk_widget_set_margin_bottom (col, 18);
  GtkWidget *title = gtk_label_new (self->cluster ? "Weight clustering" : "Quantization");
  gtk_widget_add_css_class (title, "title-3");
  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_box_append (GTK_BOX (col), title);
  GtkWidget *blurb = gtk_label_new (self->cluster
    ? "k-means per layer, then fine-tuning with each weight tied to its centre. Stored as a "
      "codebook plus bit-packed codes."
    : "Fewer bits per weight: fp16 storage, int8 run by an int8 kernel, or ternary / binary "
      "weights trained with a straight-through estimator.");
  gtk_label_set_wrap (GTK_LABEL (blurb), TRUE);
  gtk_label_set_xalign (GTK_LABEL (blurb), 0);
  gtk_label_set_max_width_chars (GTK_LABEL (blurb), 30);
  gtk_widget_add_css_class (blurb, "dim-label");
  gtk_box_append (GTK_BOX (col), blurb);

  self->model_names = gtk_string_list_new (NULL);
  self->model_dd = GTK_DROP_DOWN (gtk_drop_down_new (G_LIST_MODEL (self->model_names), NULL));
  gtk_box_append (GTK_BOX (col), labelled ("Model (from the shelf)", GTK_WIDGET (self->model_dd)));

  self->epochs_spin = GTK_SPIN_BUTTON (gtk_spin_button_new_with_range (0, 100, 1));
  gtk_spin_button_set_value (self->epochs_spin, 3);
  if (!self->cluster)
    {
      self->mode_dd = GTK_DROP_DOWN (gtk_drop_down_new_from_strings (quant_mode_titles));
      gtk_box_append (GTK_BOX (col), labelled ("Method", GTK_WIDGET (self->mode_dd)));
      self->int8_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
      gtk_box_append (GTK_BOX (self->int8_box), switch_row ("Per channel", &self->per_channel));
      gtk_box_append (GTK_BOX (self->int8_box), switch_row ("Symmetric", &self->symmetric));
      gtk_box_append (GTK_BOX (col), self->int8_box);
      gtk_box_append (GTK_BOX (col), labelled ("Fine-tuning epochs (ternary, binary)",
                                                GTK_WIDGET (self->epochs_spin)));
      g_signal_connect (self->mode_dd, "notify::selected", G_CALLBACK (mode_changed), self);
      mode_changed (NULL, NULL, self);
    }
  else
    {
      self->k_spin = GTK_SPIN_BUTTON (gtk_spin_button_new_with_range (2, 256, 1));
      gtk_spin_button_set_value (self->k_spin, 5);
      gtk_box_append (GTK_BOX (col), labelled ("Centres per layer (k)", GTK_WIDGET (self->k_spin)));
      gtk_box_append (GTK_BOX (col), labelled ("Fine-tuning epochs",
                                                GTK_WIDGET (self->epochs_spin)));
      self->pull_spin = GTK_SPIN_BUTTON (gtk_spin_button_new_with_range (0, 1, 0.0005));
      gtk_spin_button_set_digits (self->pull_spin, 4);
      gtk_box_append (GTK_BOX (col), labelled ("Pull towards centres first (0 = off)",
                                                GTK_WIDGET (self->pull_spin)));
    }
  self->run_button = GTK_BUTTON (gtk_button_new_with_label (self->cluster ? "Cluster"
                                                                          : "Quantize"));
  gtk_widget_add_css_class (GTK_WIDGET (self->run_button), "suggested-action");
  g_signal_connect (self->run_button, "clicked", G_CALLBACK (run_clicked), self);
  gtk_box_append (GTK_BOX (col), GTK_WIDGET (self->run_button));
  self->status = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (GTK_LABEL (self->status), TRUE);
  gtk_label_set_xalign (self->status, 0);
  gtk_label_set_max_width_chars (self->status, 30);
  gtk_label_set_selectable (self->status, TRUE);
  gtk_box_append (GTK_BOX (col), GTK_WIDGET (self->status));

  self->area = GTK_DRAWING_AREA (gtk_drawing_area_new ());
  gtk_widget_set_hexpand (GTK_WIDGET (self->area), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self->area), TRUE);
  gtk_widget_set_size_request (GTK_WIDGET (self->area), 480, 320);
  gtk_drawing_area_set_draw_func (self->area, area_draw, self, NULL);
  if (self->page != NULL)
    {
      /* the page's layout, like every method; the page's Model drop-down chooses the model */
      gtk_widget_set_visible (gtk_widget_get_parent (GTK_WIDGET (self->model_dd)), FALSE);
      gtk_widget_set_margin_start (col, 0);
      gtk_widget_set_margin_top (col, 0);
      gtk_widget_set_size_request (col, -1, -1);
      GtkWidget *p = fw_compress_panel_new (col, GTK_WIDGET (self->area));
      gtk_widget_set_hexpand (p, TRUE);
      gtk_box_append (GTK_BOX (self), p);
    }
  else
    {
      gtk_box_append (GTK_BOX (self), col);
      gtk_box_append (GTK_BOX (self), GTK_WIDGET (self->area));
    }
}

static void
fw_panel_quant_dispose (GObject *o)
{
  FwPanelQuant *self = FW_PANEL_QUANT (o);
  if (self->shelf != NULL && self->shelf_handler != 0)
    g_signal_handler_disconnect (self->shelf, self->shelf_handler);
  self->shelf_handler = 0;
  self->shelf = NULL;
  if (self->job != NULL)
    fw_job_cancel (self->job);
  G_OBJECT_CLASS (fw_panel_quant_parent_class)->dispose (o);
}

static void
fw_panel_quant_finalize (GObject *o)
{
  FwPanelQuant *self = FW_PANEL_QUANT (o);
  g_clear_pointer (&self->job, fw_job_unref);
  g_clear_pointer (&self->source, fw_model_unref);
  g_free (self->data_spec);
  if (self->tmp_model != NULL)
    g_unlink (self->tmp_model);
  g_free (self->tmp_model);
  g_clear_pointer (&self->hist, fw_weight_hist_free);
  g_clear_pointer (&self->result, fw_quant_result_free);
  G_OBJECT_CLASS (fw_panel_quant_parent_class)->finalize (o);
}

static void
fw_panel_quant_class_init (FwPanelQuantClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = fw_panel_quant_dispose;
  G_OBJECT_CLASS (klass)->finalize = fw_panel_quant_finalize;
  GTK_WIDGET_CLASS (klass)->map = panel_map;
}

GtkWidget *
fw_panel_quant_new (gboolean cluster)
{
  FwPanelQuant *self = g_object_new (FW_TYPE_PANEL_QUANT, NULL);
  self->cluster = cluster;
  build (self);
  return GTK_WIDGET (self);
}

static void
font_scale_changed (FwPageCompress *page, double scale, FwPanelQuant *self)
{
  self->font_scale = scale;
  gtk_widget_queue_draw (GTK_WIDGET (self->area));
}

GtkWidget *
fw_panel_quant_new_for_page (FwPageCompress *page, gboolean cluster)
{
  FwPanelQuant *self = g_object_new (FW_TYPE_PANEL_QUANT, NULL);
  self->cluster = cluster;
  self->page = page;
  build (self);
  g_signal_connect_object (page, "font-scale-changed", G_CALLBACK (font_scale_changed), self, 0);
  return GTK_WIDGET (self);
}

void
fw_panel_quant_set_source (FwPanelQuant *self, FwModel *model, const char *data_spec)
{
  g_clear_pointer (&self->source, fw_model_unref);
  self->source = model != NULL ? fw_model_ref (model) : NULL;
  g_free (self->data_spec);
  self->data_spec = g_strdup (data_spec);
}

void
fw_panel_quant_set_form (FwPanelQuant *self, const char *mode, int k, int epochs,
                         int train_limit)
{
  if (!self->cluster && mode != NULL)
    for (guint i = 0; quant_modes[i] != NULL; i++)
      if (g_strcmp0 (quant_modes[i], mode) == 0)
        gtk_drop_down_set_selected (self->mode_dd, i);
  if (self->cluster)
    gtk_spin_button_set_value (self->k_spin, k);
  gtk_spin_button_set_value (self->epochs_spin, epochs);
  self->train_limit = train_limit;
}

gboolean
fw_panel_quant_is_running (FwPanelQuant *self)
{
  return self->job != NULL;
}

const FwWeightHist *
fw_panel_quant_get_hist (FwPanelQuant *self)
{
  return self->hist;
}

guint
fw_panel_quant_get_n_frames (FwPanelQuant *self)
{
  return self->n_frames;
}

const FwQuantResult *
fw_panel_quant_get_result (FwPanelQuant *self)
{
  return self->result;
}
