/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-augment.c: the Augment page (see fw-page-augment.h). Augmentation of a few dozen
 * small images takes a millisecond or two, so previews are computed on the main thread. */
#include "fw-page-augment.h"

#include <math.h>
#include <string.h>

#include "fw-aug-sweep.h"
#include "fw-error.h"
#include "fw-recipe-ext.h"
#include "fw-page-data.h"
#include "fw-plot-view.h"
#include "fw-util.h"
#include "fw-window-private.h"

struct _FwPageAugment {
  GtkWidget parent_instance;

  /* template widgets */
  GtkWidget *root;
  GtkSpinButton *index_spin;
  GtkSpinButton *n_spin;
  GtkLabel *sample_label;
  GtkDropDown *op_dropdown;
  GtkButton *add_button;
  GtkBox *steps_box;
  GtkButton *resample_button;
  GtkLabel *text_label;
  GtkButton *copy_button;
  GtkLabel *timing_label;
  GtkStack *viz_stack;
  GtkBox *variants_box;
  GtkBox *steps_view_box;
  GtkBox *mix_box;
  GtkEntry *sizes_entry;
  GtkSpinButton *seeds_spin;
  GtkSpinButton *steps_spin;
  GtkButton *sweep_button;
  GtkButton *cancel_button;
  GtkBox *sweep_box;
  GtkLabel *sweep_label;

  /* owned */
  FwJob *job;               /* the running sweep, or NULL */
  FwLinePlot *sweep_plot;
  FwPlotView *sweep_view;
  GArray *sweep_points;     /* FwAugSweepPoint received so far */
  FwAugPipeline *pipe;
  FwDataset *ds;            /* the samples (the override or the Data page's) */
  gboolean ds_override;
  FwImageGrid *grid, *steps_grid, *mix_grid, *field_grid;
  FwPlotView *grid_view, *steps_view, *mix_view, *field_view;
  GPtrArray *scales;        /* GtkRange per (step, param), with "fw-step"/"fw-key" data */
  guint64 draw;             /* re-sample counter: the preview's seed */
  double last_ms;
  gboolean rebuilding;
};

G_DEFINE_FINAL_TYPE (FwPageAugment, fw_page_augment, GTK_TYPE_WIDGET)

/* chw floats -> hwc floats for FwImageGrid */
static void
to_hwc (const float *chw, float *hwc, int c, int h, int w)
{
  gsize plane = (gsize) h * w;
  for (gsize o = 0; o < plane; o++)
    for (int ch = 0; ch < c; ch++)
      hwc[o * c + ch] = chw[ch * plane + o];
}

static const char *
class_name (const FwDataset *ds, int k)
{
  if (ds->class_names != NULL && k >= 0 && k < ds->n_classes && ds->class_names[k] != NULL)
    return ds->class_names[k];
  return "?";
}

/* The displacement field of the first enabled elastic step, drawn as arrows over the sample
 * (scale x zoom): each arrow goes from an output pixel p to p + d(p), where the deformed image
 * reads its value; next to it the sample deformed by exactly that field. */
static void
refresh_field (FwPageAugment *self, const float *src, const FwRng *root)
{
  const FwDataset *ds = self->ds;
  const int c = ds->shape.c, h = ds->shape.h, w = ds->shape.w;
  const FwAugStep *el = NULL;
  for (int i = 0; i < fw_aug_pipeline_n_steps (self->pipe) && el == NULL; i++)
    {
      const FwAugStep *s = fw_aug_pipeline_step (self->pipe, i);
      if (s->enabled && s->op == FW_AUG_ELASTIC)
        el = s;
    }
  const int zoom = MAX (2, 256 / MAX (h, w));
  const int W = w * zoom, H = h * zoom;
  fw_image_grid_unref (self->field_grid);
  self->field_grid = fw_image_grid_new (W, H, 3);
  gtk_widget_set_visible (GTK_WIDGET (self->field_view), el != NULL);
  if (el == NULL)
    {
      fw_plot_view_set_image_grid (self->field_view, self->field_grid);
      return;
    }
  fw_image_grid_set_title (self->field_grid, "Elastic field: each pixel reads from its "
                                             "arrow's tip");
  gsize plane = (gsize) h * w;
  g_autofree float *dx = g_new (float, plane);
  g_autofree float *dy = g_new (float, plane);
  FwRng frng;
  fw_rng_split (root, FW_RNG_AUGMENT + 200, &frng);
  fw_aug_elastic_field (&frng, h, w, el->v[0], el->v[1], dx, dy, NULL);
  /* the deformed sample: dst(p) = src(p + d(p)) */
  g_autofree float *mapx = g_new (float, plane);
  g_autofree float *mapy = g_new (float, plane);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        mapx[y * w + x] = x + dx[y * w + x];
        mapy[y * w + x] = y + dy[y * w + x];
      }
  g_autofree float *warped = g_new (float, (gsize) c * plane);
  fw_aug_remap (src, warped, c, h, w, mapx, mapy, (FwAugBorder) el->v[2]);
  for (int which = 0; which < 2; which++)
    {
      const float *img = which == 0 ? src : warped;
      cairo_surface_t *surf = cairo_image_surface_create (CAIRO_FORMAT_RGB24, W, H);
      cairo_t *cr = cairo_create (surf);
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            double r = img[y * w + x], g = r, b = r;
            if (c == 3)
              g = img[plane + y * w + x], b = img[2 * plane + y * w + x];
            /* dimmed under the arrows */
            double f = which == 0 ? 0.55 : 1.0;
            cairo_set_source_rgb (cr, f * r, f * g, f * b);
            cairo_rectangle (cr, x * zoom, y * zoom, zoom, zoom);
            cairo_fill (cr);
          }
      if (which == 0)
        {
          int stride = MAX (1, MAX (h, w) / 14);
          cairo_set_source_rgb (cr, 0.9, 0.6, 0.0); /* palette orange */
          cairo_set_line_width (cr, MAX (1.0, zoom / 6.0));
          for (int y = stride / 2; y < h; y += stride)
            for (int x = stride / 2; x < w; x += stride)
              {
                double x0 = (x + 0.5) * zoom, y0 = (y + 0.5) * zoom;
                double x1 = x0 + dx[y * w + x] * zoom, y1 = y0 + dy[y * w + x] * zoom;
                double len = hypot (x1 - x0, y1 - y0);
                cairo_move_to (cr, x0, y0);
                cairo_line_to (cr, x1, y1);
                cairo_stroke (cr);
                if (len > 1)
                  {
                    double a = atan2 (y1 - y0, x1 - x0), hl = MIN (len * 0.4, zoom * 0.8);
                    cairo_move_to (cr, x1, y1);
                    cairo_line_to (cr, x1 - hl * cos (a - 0.5), y1 - hl * sin (a - 0.5));
                    cairo_move_to (cr, x1, y1);
                    cairo_line_to (cr, x1 - hl * cos (a + 0.5), y1 - hl * sin (a + 0.5));
                    cairo_stroke (cr);
                  }
              }
        }
      cairo_destroy (cr);
      cairo_surface_flush (surf);
      const guint8 *data = cairo_image_surface_get_data (surf);
      int st = cairo_image_surface_get_stride (surf);
      g_autofree guint8 *rgb = g_new (guint8, (gsize) W * H * 3);
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
          {
            guint32 px = *(const guint32 *) (data + (gsize) y * st + 4 * x);
            guint8 *o = rgb + ((gsize) y * W + x) * 3;
            o[0] = (px >> 16) & 0xff;
            o[1] = (px >> 8) & 0xff;
            o[2] = px & 0xff;
          }
      cairo_surface_destroy (surf);
      guint t = fw_image_grid_add_u8 (self->field_grid, rgb);
      g_autofree char *cap = which == 0
        ? g_strdup_printf ("field: alpha %.1f, sigma %.1f", el->v[0], el->v[1])
        : g_strdup ("deformed by this field");
      fw_image_grid_set_caption (self->field_grid, t, cap, -1);
    }
  fw_plot_view_set_image_grid (self->field_view, self->field_grid);
}

static void
refresh (FwPageAugment *self)
{
  if (self->ds == NULL || self->ds->n < 1)
    {
      fw_image_grid_clear (self->grid);
      fw_image_grid_clear (self->steps_grid);
      fw_image_grid_clear (self->mix_grid);
      gtk_label_set_text (self->sample_label, "No dataset yet: load one on the Data page.");
      fw_plot_view_queue_update (self->grid_view);
      fw_plot_view_queue_update (self->steps_view);
      fw_plot_view_queue_update (self->mix_view);
      return;
    }
  double t0 = fw_now ();
  FwDataset *ds = self->ds;
  const int c = ds->shape.c, h = ds->shape.h, w = ds->shape.w;
  const gsize size = (gsize) c * h * w;
  int index = CLAMP (gtk_spin_button_get_value_as_int (self->index_spin), 0, ds->n - 1);
  int n = gtk_spin_button_get_value_as_int (self->n_spin);
  const float *src = ds->x + (gsize) index * size;
  g_autofree char *label = g_strdup_printf ("Sample %d of %d, class %s (%dx%dx%d)", index, ds->n,
                                            class_name (ds, ds->y[index]), c, h, w);
  gtk_label_set_text (self->sample_label, label);

  g_autofree float *scratch = g_new (float, fw_aug_scratch_floats (c, h, w));
  g_autofree float *img = g_new (float, size);
  g_autofree float *hwc = g_new (float, size);
  FwRng root, rng;
  fw_rng_init (&root, self->draw);
  fw_rng_split (&root, FW_RNG_AUGMENT, &rng);

  /* variants: the original, then n fresh draws */
  if (self->grid != NULL)
    fw_image_grid_unref (self->grid);
  self->grid = fw_image_grid_new (w, h, c);
  fw_image_grid_set_title (self->grid, "Augmented variants (Space: new draws)");
  to_hwc (src, hwc, c, h, w);
  guint t = fw_image_grid_add (self->grid, hwc);
  fw_image_grid_set_caption (self->grid, t, "original", -1);
  fw_image_grid_set_border (self->grid, t, ds->y[index] % 10);
  for (int i = 0; i < n; i++)
    {
      memcpy (img, src, sizeof (float) * size);
      fw_aug_apply (self->pipe, img, c, h, w, &rng, scratch, NULL);
      to_hwc (img, hwc, c, h, w);
      fw_image_grid_add (self->grid, hwc);
    }
  fw_plot_view_set_image_grid (self->grid_view, self->grid);
  self->last_ms = (fw_now () - t0) * 1e3;

  /* steps: the image after each operation (affine runs resampled step by step here) */
  int ns = fw_aug_pipeline_n_steps (self->pipe);
  fw_image_grid_unref (self->steps_grid);
  self->steps_grid = fw_image_grid_new (w, h, c);
  fw_image_grid_set_title (self->steps_grid, "The image after each step");
  t = fw_image_grid_add (self->steps_grid, (to_hwc (src, hwc, c, h, w), hwc));
  fw_image_grid_set_caption (self->steps_grid, t, "input", -1);
  if (ns > 0)
    {
      g_autofree float *steps = g_new (float, (gsize) ns * size);
      memcpy (img, src, sizeof (float) * size);
      FwRng srng;
      fw_rng_split (&root, FW_RNG_AUGMENT + 100, &srng);
      fw_aug_apply (self->pipe, img, c, h, w, &srng, scratch, steps);
      for (int i = 0; i < ns; i++)
        {
          const FwAugStep *s = fw_aug_pipeline_step (self->pipe, i);
          const FwAugOpInfo *oi = fw_aug_op_info (s->op);
          to_hwc (steps + (gsize) i * size, hwc, c, h, w);
          t = fw_image_grid_add (self->steps_grid, hwc);
          g_autofree char *cap = g_strdup_printf ("%d. %s%s", i + 1, oi->title,
                                                  !s->enabled ? " (off)"
                                                  : oi->kind == FW_AUG_KIND_BATCH
                                                    ? " (batch)" : "");
          fw_image_grid_set_caption (self->steps_grid, t, cap, -1);
        }
    }
  fw_plot_view_set_image_grid (self->steps_view, self->steps_grid);
  refresh_field (self, src, &root);

  /* CutMix / Mixup: this sample and partners from the dataset, mixed by the pipeline's batch
   * steps (or by CutMix when it has none, to show what it does) */
  fw_image_grid_unref (self->mix_grid);
  self->mix_grid = fw_image_grid_new (w, h, c);
  g_autoptr (FwAugPipeline) mixp = NULL;
  if (fw_aug_pipeline_has_batch_ops (self->pipe))
    mixp = fw_aug_pipeline_copy (self->pipe);
  else
    {
      mixp = fw_aug_pipeline_new ();
      fw_aug_pipeline_add (mixp, FW_AUG_CUTMIX);
    }
  fw_image_grid_set_title (self->mix_grid,
                           fw_aug_pipeline_has_batch_ops (self->pipe)
                             ? "The pipeline's CutMix/Mixup: sources, result, label weights"
                             : "CutMix (add CutMix or Mixup to the pipeline to mix in training)");
  const int pairs = 4, k = MAX (ds->n_classes, 1);
  float *pair = g_new (float, 2 * size);
  gint32 labels[2];
  float soft[2 * 256];
  g_autofree float *bscratch = g_new (float, fw_aug_batch_scratch_floats (2, c, h, w, k));
  fw_image_grid_set_columns (self->mix_grid, 3);
  for (int pi = 0; pi < pairs && k <= 256; pi++)
    {
      /* partners spread over the dataset by golden-ratio steps (classes vary) */
      int other = (int) ((index + 1 + (gint64) ((pi + 1) * 0.6180339887 * ds->n)) % ds->n);
      memcpy (pair, src, sizeof (float) * size);
      memcpy (pair + size, ds->x + (gsize) other * size, sizeof (float) * size);
      labels[0] = ds->y[index];
      labels[1] = ds->y[other];
      to_hwc (pair, hwc, c, h, w);
      t = fw_image_grid_add (self->mix_grid, hwc);
      fw_image_grid_set_caption (self->mix_grid, t, class_name (ds, labels[0]), labels[0] % 10);
      to_hwc (pair + size, hwc, c, h, w);
      t = fw_image_grid_add (self->mix_grid, hwc);
      fw_image_grid_set_caption (self->mix_grid, t, class_name (ds, labels[1]), labels[1] % 10);
      /* mix sample 0 with sample 1: the partner draw may pick 0 itself, so retry a few times */
      g_autofree float *orig = g_memdup2 (pair, sizeof (float) * 2 * size);
      for (int tries = 0; tries < 8; tries++)
        {
          memcpy (pair, orig, sizeof (float) * 2 * size);
          fw_aug_apply_batch (mixp, pair, labels, 2, c, h, w, k, &rng, bscratch, soft);
          if (labels[0] == labels[1] || soft[labels[1]] > 0)
            break;
        }
      to_hwc (pair, hwc, c, h, w);
      t = fw_image_grid_add (self->mix_grid, hwc);
      g_autofree char *cap = labels[0] == labels[1]
        ? g_strdup_printf ("%s: 1.00", class_name (ds, labels[0]))
        : g_strdup_printf ("%s: %.2f · %s: %.2f", class_name (ds, labels[0]), soft[labels[0]],
                           class_name (ds, labels[1]), soft[labels[1]]);
      fw_image_grid_set_caption (self->mix_grid, t, cap, -1);
    }
  g_free (pair);
  fw_plot_view_set_image_grid (self->mix_view, self->mix_grid);

  g_autofree char *timing = g_strdup_printf ("%d variants in %.1f ms (%.0f µs each)", n,
                                             self->last_ms, self->last_ms * 1e3 / MAX (n, 1));
  gtk_label_set_text (self->timing_label, timing);
}

static void
update_text (FwPageAugment *self)
{
  g_autofree char *text = fw_aug_pipeline_to_string (self->pipe);
  g_autofree char *line = g_strdup_printf ("augment = %s", text);
  gtk_label_set_text (self->text_label, line);
}

static void rebuild_steps (FwPageAugment *self);
static void cancel_clicked (FwPageAugment *self);

static void
scale_changed (GtkRange *range, FwPageAugment *self)
{
  if (self->rebuilding)
    return;
  int i = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (range), "fw-step"));
  const char *key = g_object_get_data (G_OBJECT (range), "fw-key");
  if (i < 0 || i >= fw_aug_pipeline_n_steps (self->pipe))
    return;
  fw_aug_step_set (fw_aug_pipeline_step (self->pipe, i), key, gtk_range_get_value (range));
  update_text (self);
  refresh (self);
}

static void
choice_changed (GtkDropDown *dd, GParamSpec *pspec, FwPageAugment *self)
{
  if (self->rebuilding)
    return;
  int i = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dd), "fw-step"));
  const char *key = g_object_get_data (G_OBJECT (dd), "fw-key");
  if (i < 0 || i >= fw_aug_pipeline_n_steps (self->pipe))
    return;
  fw_aug_step_set (fw_aug_pipeline_step (self->pipe, i), key, gtk_drop_down_get_selected (dd));
  update_text (self);
  refresh (self);
}

static void
toggle_changed (GtkCheckButton *check, FwPageAugment *self)
{
  if (self->rebuilding)
    return;
  int i = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (check), "fw-step"));
  fw_aug_pipeline_step (self->pipe, i)->enabled = gtk_check_button_get_active (check);
  update_text (self);
  refresh (self);
}

static void
step_action (GtkButton *button, FwPageAugment *self)
{
  int i = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (button), "fw-step"));
  const char *what = g_object_get_data (G_OBJECT (button), "fw-action");
  int n = fw_aug_pipeline_n_steps (self->pipe);
  if (g_strcmp0 (what, "up") == 0 && i > 0)
    fw_aug_pipeline_move (self->pipe, i, i - 1);
  else if (g_strcmp0 (what, "down") == 0 && i + 1 < n)
    fw_aug_pipeline_move (self->pipe, i, i + 1);
  else if (g_strcmp0 (what, "remove") == 0)
    fw_aug_pipeline_remove (self->pipe, i);
  else
    return;
  rebuild_steps (self);
  update_text (self);
  refresh (self);
}

static GtkWidget *
icon_button (FwPageAugment *self, const char *icon, const char *tip, int i, const char *action)
{
  GtkWidget *b = gtk_button_new_from_icon_name (icon);
  gtk_widget_set_tooltip_text (b, tip);
  gtk_widget_add_css_class (b, "flat");
  g_object_set_data (G_OBJECT (b), "fw-step", GINT_TO_POINTER (i));
  g_object_set_data (G_OBJECT (b), "fw-action", (gpointer) action);
  g_signal_connect (b, "clicked", G_CALLBACK (step_action), self);
  return b;
}

/* One frame per step: [x] Title  (up) (down) (remove), then a slider per parameter. */
static void
rebuild_steps (FwPageAugment *self)
{
  self->rebuilding = TRUE;
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->steps_box))) != NULL)
    gtk_box_remove (self->steps_box, child);
  g_ptr_array_set_size (self->scales, 0);
  int c = self->ds != NULL ? self->ds->shape.c : 1;
  int n = fw_aug_pipeline_n_steps (self->pipe);
  if (n == 0)
    {
      GtkWidget *l = gtk_label_new ("No operations yet: pick one above and press +.");
      gtk_label_set_wrap (GTK_LABEL (l), TRUE);
      gtk_label_set_xalign (GTK_LABEL (l), 0);
      gtk_widget_add_css_class (l, "dim-label");
      gtk_box_append (self->steps_box, l);
    }
  for (int i = 0; i < n; i++)
    {
      FwAugStep *s = fw_aug_pipeline_step (self->pipe, i);
      const FwAugOpInfo *oi = fw_aug_op_info (s->op);
      const char *reason = NULL;
      gboolean applies = fw_aug_op_applies (s->op, c, &reason);
      GtkWidget *frame = gtk_frame_new (NULL);
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
      gtk_widget_set_margin_start (box, 6);
      gtk_widget_set_margin_end (box, 6);
      gtk_widget_set_margin_top (box, 4);
      gtk_widget_set_margin_bottom (box, 4);
      gtk_frame_set_child (GTK_FRAME (frame), box);
      GtkWidget *head = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 2);
      g_autofree char *title = g_strdup_printf ("%d. %s", i + 1, oi->title);
      GtkWidget *check = gtk_check_button_new_with_label (title);
      gtk_check_button_set_active (GTK_CHECK_BUTTON (check), s->enabled);
      gtk_widget_set_hexpand (check, TRUE);
      gtk_widget_set_tooltip_text (check, applies ? oi->blurb : reason);
      g_object_set_data (G_OBJECT (check), "fw-step", GINT_TO_POINTER (i));
      g_signal_connect (check, "toggled", G_CALLBACK (toggle_changed), self);
      gtk_box_append (GTK_BOX (head), check);
      gtk_box_append (GTK_BOX (head), icon_button (self, "go-up-symbolic", "Move up", i, "up"));
      gtk_box_append (GTK_BOX (head),
                      icon_button (self, "go-down-symbolic", "Move down", i, "down"));
      gtk_box_append (GTK_BOX (head),
                      icon_button (self, "list-remove-symbolic", "Remove", i, "remove"));
      gtk_box_append (GTK_BOX (box), head);
      if (!applies)
        {
          GtkWidget *why = gtk_label_new (reason);
          gtk_label_set_wrap (GTK_LABEL (why), TRUE);
          gtk_label_set_xalign (GTK_LABEL (why), 0);
          gtk_widget_add_css_class (why, "caption");
          gtk_widget_add_css_class (why, "error");
          gtk_box_append (GTK_BOX (box), why);
        }
      for (int j = 0; j < oi->n_params; j++)
        {
          const FwAugParamInfo *pi = &oi->params[j];
          GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
          GtkWidget *l = gtk_label_new (pi->label);
          gtk_label_set_xalign (GTK_LABEL (l), 0);
          gtk_widget_set_size_request (l, 120, -1);
          gtk_label_set_ellipsize (GTK_LABEL (l), PANGO_ELLIPSIZE_END);
          gtk_widget_set_tooltip_text (l, pi->key);
          gtk_widget_add_css_class (l, "caption");
          gtk_box_append (GTK_BOX (row), l);
          GtkWidget *ctl;
          if (pi->choices != NULL)
            {
              ctl = gtk_drop_down_new_from_strings (pi->choices);
              gtk_drop_down_set_selected (GTK_DROP_DOWN (ctl), (guint) s->v[j]);
              g_signal_connect (ctl, "notify::selected", G_CALLBACK (choice_changed), self);
            }
          else
            {
              ctl = gtk_scale_new_with_range (GTK_ORIENTATION_HORIZONTAL, pi->min, pi->max,
                                              pi->step);
              int digits = pi->step >= 1 ? 0 : pi->step >= 0.1 ? 1 : 2;
              gtk_scale_set_digits (GTK_SCALE (ctl), digits);
              gtk_scale_set_draw_value (GTK_SCALE (ctl), TRUE);
              gtk_scale_set_value_pos (GTK_SCALE (ctl), GTK_POS_RIGHT);
              gtk_range_set_value (GTK_RANGE (ctl), s->v[j]);
              g_signal_connect (ctl, "value-changed", G_CALLBACK (scale_changed), self);
              g_ptr_array_add (self->scales, ctl);
            }
          gtk_widget_set_hexpand (ctl, TRUE);
          g_object_set_data (G_OBJECT (ctl), "fw-step", GINT_TO_POINTER (i));
          g_object_set_data (G_OBJECT (ctl), "fw-key", (gpointer) pi->key);
          gtk_box_append (GTK_BOX (row), ctl);
          gtk_widget_set_sensitive (row, applies);
          gtk_box_append (GTK_BOX (box), row);
        }
      gtk_box_append (self->steps_box, frame);
    }
  self->rebuilding = FALSE;
}

/* ---- public ---- */

static void
set_dataset (FwPageAugment *self, FwDataset *ds)
{
  if (ds == self->ds)
    return;
  g_clear_pointer (&self->ds, fw_dataset_unref);
  if (ds != NULL)
    self->ds = fw_dataset_ref (ds);
  gtk_adjustment_set_upper (gtk_spin_button_get_adjustment (self->index_spin),
                            ds != NULL ? MAX (ds->n - 1, 0) : 0);
  rebuild_steps (self);
}

void
fw_page_augment_set_dataset (FwPageAugment *self, FwDataset *ds)
{
  g_return_if_fail (FW_IS_PAGE_AUGMENT (self));
  self->ds_override = ds != NULL;
  set_dataset (self, ds);
  refresh (self);
}

int
fw_page_augment_add_op (FwPageAugment *self, FwAugOp op)
{
  g_return_val_if_fail (FW_IS_PAGE_AUGMENT (self), -1);
  int i = fw_aug_pipeline_add (self->pipe, op);
  rebuild_steps (self);
  update_text (self);
  refresh (self);
  return i;
}

gboolean
fw_page_augment_set_pipeline_text (FwPageAugment *self, const char *text, GError **error)
{
  FwAugPipeline *p = fw_aug_pipeline_parse (text, error);
  if (p == NULL)
    return FALSE;
  fw_aug_pipeline_free (self->pipe);
  self->pipe = p;
  rebuild_steps (self);
  update_text (self);
  refresh (self);
  return TRUE;
}

char *
fw_page_augment_get_pipeline_text (FwPageAugment *self)
{
  return fw_aug_pipeline_to_string (self->pipe);
}

void
fw_page_augment_resample (FwPageAugment *self)
{
  self->draw++;
  refresh (self);
}

GtkRange *
fw_page_augment_get_scale (FwPageAugment *self, int step, const char *key)
{
  for (guint i = 0; i < self->scales->len; i++)
    {
      GObject *o = g_ptr_array_index (self->scales, i);
      if (GPOINTER_TO_INT (g_object_get_data (o, "fw-step")) == step
          && g_strcmp0 (g_object_get_data (o, "fw-key"), key) == 0)
        return GTK_RANGE (o);
    }
  return NULL;
}

FwImageGrid *
fw_page_augment_get_grid (FwPageAugment *self)
{
  return self->grid;
}

FwImageGrid *
fw_page_augment_get_steps_grid (FwPageAugment *self)
{
  return self->steps_grid;
}

FwImageGrid *
fw_page_augment_get_mix_grid (FwPageAugment *self)
{
  return self->mix_grid;
}

double
fw_page_augment_get_last_ms (FwPageAugment *self)
{
  return self->last_ms;
}

/* ---- your own image ---- */

gboolean
fw_page_augment_load_image (FwPageAugment *self, const char *path, GError **error)
{
  /* the current dataset's shape when there is one (so the pipeline's scale is the same), else
   * the image fitted into 64 x 64, colour kept */
  int c = 3, h = 64, w = 64;
  gboolean keep_aspect = TRUE;
  if (self->ds != NULL && !self->ds_override && (self->ds->shape.c == 1 || self->ds->shape.c == 3)
      && self->ds->shape.h > 1)
    c = self->ds->shape.c, h = self->ds->shape.h, w = self->ds->shape.w, keep_aspect = FALSE;
  g_autoptr (GError) local = NULL;
  g_autoptr (GdkPixbuf) pb = gdk_pixbuf_new_from_file_at_scale (path, w, h, keep_aspect, &local);
  if (pb == NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "%s: not an image this machine reads (%s)",
                   path, local->message);
      return FALSE;
    }
  w = gdk_pixbuf_get_width (pb);
  h = gdk_pixbuf_get_height (pb);
  int nch = gdk_pixbuf_get_n_channels (pb), rs = gdk_pixbuf_get_rowstride (pb);
  gboolean alpha = gdk_pixbuf_get_has_alpha (pb);
  const guint8 *px = gdk_pixbuf_read_pixels (pb);
  g_autofree char *base = g_path_get_basename (path);
  g_autoptr (FwDataset) d = fw_dataset_new (base, 1, (FwShape) { c, h, w }, 1);
  d->y[0] = 0;
  gsize plane = (gsize) h * w;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        const guint8 *q = px + (gsize) y * rs + (gsize) x * nch;
        /* transparent pixels over black */
        float a = alpha ? q[3] / 255.f : 1.f;
        float r = a * q[0] / 255.f, g = a * q[1] / 255.f, b = a * q[2] / 255.f;
        if (nch < 3)
          g = b = r;
        if (c == 1)
          d->x[(gsize) y * w + x] = (r + g + b) / 3.f;
        else
          {
            d->x[(gsize) y * w + x] = r;
            d->x[plane + (gsize) y * w + x] = g;
            d->x[2 * plane + (gsize) y * w + x] = b;
          }
      }
  if (d->class_names != NULL && d->class_names[0] != NULL)
    {
      g_free (d->class_names[0]);
      d->class_names[0] = g_strdup (base);
    }
  fw_page_augment_set_dataset (self, d);
  return TRUE;
}

static gboolean
file_dropped (GtkDropTarget *target, const GValue *value, double x, double y,
              FwPageAugment *self)
{
  GFile *file = g_value_get_object (value);
  g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
  if (path == NULL)
    return FALSE;
  g_autoptr (GError) error = NULL;
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (!fw_page_augment_load_image (self, path, &error))
    {
      if (win != NULL)
        fw_window_show_error (win, error->message);
      return FALSE;
    }
  if (win != NULL)
    fw_window_clear_error (win);
  return TRUE;
}

/* ---- the sweep job ---- */

typedef struct {
  FwDataset *train, *test;  /* test NULL: the dataset's own test split, loaded by the job */
  char *spec;               /* the Data page's dataset spec */
  GArray *sizes;
  int seeds, steps;
} SweepJob;

static void
sweep_job_free (gpointer data)
{
  SweepJob *sj = data;
  fw_dataset_unref (sj->train);
  g_clear_pointer (&sj->test, fw_dataset_unref);
  g_free (sj->spec);
  g_array_unref (sj->sizes);
  g_free (sj);
}

static void
sweep_point_emit (const FwAugSweepPoint *pt, gpointer user)
{
  fw_job_emit_snapshot (user, "aug-sweep-point", g_memdup2 (pt, sizeof *pt), g_free);
}

/* worker thread */
static gboolean
sweep_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  SweepJob *sj = data;
  if (sj->test == NULL)
    {
      /* the Data page's dataset: its own test split when it has one, else held out */
      FwDataset *all = g_steal_pointer (&sj->train);
      if (!fw_aug_sweep_load_test (all, sj->spec, &sj->train, &sj->test, cancellable, error))
        {
          sj->train = all;
          return FALSE;
        }
      fw_dataset_unref (all);
      fw_job_log (job, "training on %d samples, testing on %d", sj->train->n, sj->test->n);
    }
  return fw_aug_sweep_run (sj->train, sj->test, (const int *) sj->sizes->data,
                           (int) sj->sizes->len, sj->seeds, sj->steps, NULL, 0,
                           sweep_point_emit, job, cancellable, error);
}

/* series i <- mean and mean +- std over the seeds at each size, in size order */
static void
rebuild_sweep_series (FwPageAugment *self, int pipeline)
{
  g_autoptr (GArray) sizes = g_array_new (FALSE, FALSE, sizeof (int));
  for (guint i = 0; i < self->sweep_points->len; i++)
    {
      const FwAugSweepPoint *p = &g_array_index (self->sweep_points, FwAugSweepPoint, i);
      gboolean seen = FALSE;
      for (guint j = 0; j < sizes->len; j++)
        seen |= g_array_index (sizes, int, j) == p->per_class;
      if (p->pipeline == pipeline && !seen)
        g_array_append_val (sizes, p->per_class);
    }
  gsize n = sizes->len;
  /* insertion sort: a handful of sizes */
  for (gsize i = 1; i < n; i++)
    for (gsize j = i; j > 0 && g_array_index (sizes, int, j - 1) > g_array_index (sizes, int, j);
         j--)
      {
        int t = g_array_index (sizes, int, j);
        g_array_index (sizes, int, j) = g_array_index (sizes, int, j - 1);
        g_array_index (sizes, int, j - 1) = t;
      }
  g_autofree double *x = g_new (double, MAX (n, 1));
  g_autofree double *y = g_new (double, MAX (n, 1));
  g_autofree double *lo = g_new (double, MAX (n, 1));
  g_autofree double *hi = g_new (double, MAX (n, 1));
  for (gsize j = 0; j < n; j++)
    {
      int size = g_array_index (sizes, int, j);
      double sum = 0, sum2 = 0;
      int cnt = 0;
      for (guint i = 0; i < self->sweep_points->len; i++)
        {
          const FwAugSweepPoint *p = &g_array_index (self->sweep_points, FwAugSweepPoint, i);
          if (p->pipeline == pipeline && p->per_class == size)
            sum += 100 * p->test_acc, sum2 += 1e4 * p->test_acc * p->test_acc, cnt++;
        }
      double mean = sum / cnt;
      double sd = cnt > 1 ? sqrt (MAX (sum2 / cnt - mean * mean, 0) * cnt / (cnt - 1)) : 0;
      x[j] = size;
      y[j] = mean;
      lo[j] = mean - sd;
      hi[j] = mean + sd;
    }
  fw_line_plot_set_series_data (self->sweep_plot, pipeline, x, y, lo, hi, n);
  fw_plot_view_queue_update (self->sweep_view);
}

static void
set_sweep_running (FwPageAugment *self, gboolean running)
{
  gtk_widget_set_sensitive (GTK_WIDGET (self->sweep_button), !running);
  gtk_widget_set_sensitive (GTK_WIDGET (self->cancel_button), running);
}

static void
sweep_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  FwPageAugment *self = user_data;
  if (job != self->job)
    return;
  if (ev->kind == FW_EVENT_SNAPSHOT && g_strcmp0 (ev->payload_type, "aug-sweep-point") == 0)
    {
      const FwAugSweepPoint *p = ev->payload;
      g_array_append_val (self->sweep_points, *p);
      rebuild_sweep_series (self, p->pipeline);
      g_autofree char *markup = g_markup_printf_escaped (
          "Run <b>%u</b>: %s, %d labels per class, seed %d → test accuracy <b>%.1f%%</b>",
          self->sweep_points->len, fw_aug_sweep_name (p->pipeline), p->per_class, p->seed,
          100 * p->test_acc);
      gtk_label_set_markup (self->sweep_label, markup);
    }
  else if (ev->kind == FW_EVENT_FINISHED || ev->kind == FW_EVENT_FAILED
           || ev->kind == FW_EVENT_CANCELLED)
    {
      g_clear_pointer (&self->job, fw_job_unref);
      set_sweep_running (self, FALSE);
      if (ev->kind == FW_EVENT_FINISHED)
        {
          g_autofree char *markup = g_markup_printf_escaped (
              "Sweep done: <b>%u</b> runs. Bands: ± one standard deviation over the seeds.",
              self->sweep_points->len);
          gtk_label_set_markup (self->sweep_label, markup);
          FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
          if (win != NULL)
            fw_window_show_toast (win, "Augmentation sweep finished");
        }
      else
        gtk_label_set_text (self->sweep_label, ev->kind == FW_EVENT_CANCELLED
                                                 ? "Sweep cancelled." : "Sweep failed.");
    }
}

void
fw_page_augment_run_sweep (FwPageAugment *self)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win == NULL || self->job != NULL)
    return;
  if (self->ds == NULL || self->ds->n < 10)
    {
      fw_window_show_error (win, "No dataset yet: load one on the Data page.");
      return;
    }
  g_autoptr (GArray) sizes = g_array_new (FALSE, FALSE, sizeof (int));
  g_auto (GStrv) parts = g_strsplit (gtk_editable_get_text (GTK_EDITABLE (self->sizes_entry)),
                                     ",", -1);
  for (int i = 0; parts[i] != NULL; i++)
    {
      char *end = NULL;
      gint64 v = g_ascii_strtoll (g_strstrip (parts[i]), &end, 10);
      if (end == parts[i] || *end != '\0' || v < 1 || v > 100000)
        {
          fw_window_show_error (win, "Labels per class: write positive whole numbers "
                                     "separated by commas, e.g. 5,10,20,50");
          return;
        }
      int iv = (int) v;
      g_array_append_val (sizes, iv);
    }
  if (sizes->len == 0)
    return;
  SweepJob *sj = g_new0 (SweepJob, 1);
  if (self->ds == fw_window_get_dataset (win) && fw_window_get_data_spec (win) != NULL)
    {
      /* the Data page's dataset: the job loads its test split */
      sj->train = fw_dataset_ref (self->ds);
      sj->spec = g_strdup (fw_window_get_data_spec (win));
    }
  else
    {
      /* test on a held-out part (at most 2000 samples), train on the rest */
      fw_aug_sweep_hold_out (self->ds, 1, &sj->train, &sj->test);
    }
  sj->sizes = g_steal_pointer (&sizes);
  sj->seeds = gtk_spin_button_get_value_as_int (self->seeds_spin);
  sj->steps = gtk_spin_button_get_value_as_int (self->steps_spin);
  g_array_set_size (self->sweep_points, 0);
  for (int i = 0; i < FW_AUG_SWEEP_N_PIPELINES; i++)
    fw_line_plot_clear_series (self->sweep_plot, i);
  fw_plot_view_queue_update (self->sweep_view);
  gtk_stack_set_visible_child_name (self->viz_stack, "sweep");
  gtk_label_set_text (self->sweep_label, "Sweep: training the first model…");
  fw_window_clear_error (win);
  self->job = fw_window_submit_job (win, "Augmentation sweep", sweep_job_run, sj,
                                    sweep_job_free, sweep_event, self);
  set_sweep_running (self, TRUE);
}

gboolean
fw_page_augment_is_running (FwPageAugment *self)
{
  return self->job != NULL;
}

FwLinePlot *
fw_page_augment_get_sweep_plot (FwPageAugment *self)
{
  return self->sweep_plot;
}

char *
fw_page_augment_get_sweep_form (FwPageAugment *self, int *seeds, int *steps)
{
  *seeds = gtk_spin_button_get_value_as_int (self->seeds_spin);
  *steps = gtk_spin_button_get_value_as_int (self->steps_spin);
  return g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->sizes_entry)));
}

void
fw_page_augment_set_sweep_form (FwPageAugment *self, const char *sizes, int seeds, int steps)
{
  gtk_editable_set_text (GTK_EDITABLE (self->sizes_entry), sizes);
  gtk_spin_button_set_value (self->seeds_spin, seeds);
  gtk_spin_button_set_value (self->steps_spin, steps);
}

/* an [augment-sweep] recipe opened from the window: its settings fill the sweep form */
static void
open_sweep_recipe (GtkWidget *page, const FwRecipe *r)
{
  FwPageAugment *self = FW_PAGE_AUGMENT (page);
  int seeds = 3, steps = 1000;
  g_autofree char *sizes = fw_recipe_ext_get_string (r, "augment-sweep", "per_class",
                                                     "5,10,20,50");
  /* out-of-range values keep the defaults; the job itself reports them when run */
  fw_recipe_ext_get_int (r, "augment-sweep", "seeds", 3, 1, 100, &seeds, NULL);
  fw_recipe_ext_get_int (r, "augment-sweep", "steps", 1000, 1, 10000000, &steps, NULL);
  fw_page_augment_set_sweep_form (self, sizes, seeds, steps);
  gtk_stack_set_visible_child_name (self->viz_stack, "sweep");
}

static void
cancel_clicked (FwPageAugment *self)
{
  if (self->job != NULL)
    fw_job_cancel (self->job);
}

/* ---- signals ---- */

static void
add_clicked (FwPageAugment *self)
{
  guint sel = gtk_drop_down_get_selected (self->op_dropdown);
  if (sel < FW_AUG_N_OPS)
    fw_page_augment_add_op (self, (FwAugOp) sel);
}

static void
copy_clicked (FwPageAugment *self)
{
  g_autofree char *text = fw_aug_pipeline_to_string (self->pipe);
  g_autofree char *line = g_strdup_printf ("augment = %s", text);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), line);
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win != NULL)
    fw_window_show_toast (win, "Copied: paste it into the [data] group of a recipe");
}

static void
page_mapped (FwPageAugment *self)
{
  if (self->ds_override)
    return;
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win == NULL)
    return;
  FwDataset *ds = fw_page_data_get_dataset (fw_window_get_page_data (win));
  if (ds != self->ds)
    {
      set_dataset (self, ds);
      refresh (self);
    }
}

static void
resample_action (GtkWidget *widget, const char *name, GVariant *param)
{
  fw_page_augment_resample (FW_PAGE_AUGMENT (widget));
}

static void
fw_page_augment_dispose (GObject *object)
{
  FwPageAugment *self = FW_PAGE_AUGMENT (object);
  if (self->job != NULL)
    fw_job_cancel (self->job);
  g_clear_pointer (&self->job, fw_job_unref);
  gtk_widget_dispose_template (GTK_WIDGET (object), FW_TYPE_PAGE_AUGMENT);
  G_OBJECT_CLASS (fw_page_augment_parent_class)->dispose (object);
}

static void
fw_page_augment_finalize (GObject *object)
{
  FwPageAugment *self = FW_PAGE_AUGMENT (object);
  g_clear_pointer (&self->pipe, fw_aug_pipeline_free);
  g_clear_pointer (&self->ds, fw_dataset_unref);
  g_clear_pointer (&self->grid, fw_image_grid_unref);
  g_clear_pointer (&self->steps_grid, fw_image_grid_unref);
  g_clear_pointer (&self->mix_grid, fw_image_grid_unref);
  g_clear_pointer (&self->field_grid, fw_image_grid_unref);
  g_clear_pointer (&self->scales, g_ptr_array_unref);
  g_clear_pointer (&self->sweep_plot, fw_line_plot_unref);
  g_clear_pointer (&self->sweep_points, g_array_unref);
  G_OBJECT_CLASS (fw_page_augment_parent_class)->finalize (object);
}

static void
fw_page_augment_class_init (FwPageAugmentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = fw_page_augment_dispose;
  object_class->finalize = fw_page_augment_finalize;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/frugal/Workbench/ui/fw-page-augment.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, FwPageAugment, name)
  BIND (root);
  BIND (index_spin);
  BIND (n_spin);
  BIND (sample_label);
  BIND (op_dropdown);
  BIND (add_button);
  BIND (steps_box);
  BIND (resample_button);
  BIND (text_label);
  BIND (copy_button);
  BIND (timing_label);
  BIND (viz_stack);
  BIND (variants_box);
  BIND (steps_view_box);
  BIND (mix_box);
  BIND (sizes_entry);
  BIND (seeds_spin);
  BIND (steps_spin);
  BIND (sweep_button);
  BIND (cancel_button);
  BIND (sweep_box);
  BIND (sweep_label);
#undef BIND
  gtk_widget_class_install_action (widget_class, "augment.resample", NULL, resample_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_space, 0, "augment.resample",
                                       NULL);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
fw_page_augment_init (FwPageAugment *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  fw_page_set_recipe_opener (GTK_WIDGET (self), open_sweep_recipe);
  self->pipe = fw_aug_pipeline_new ();
  self->scales = g_ptr_array_new ();
  self->draw = 1;

  GtkStringList *ops = gtk_string_list_new (NULL);
  for (int i = 0; i < FW_AUG_N_OPS; i++)
    gtk_string_list_append (ops, fw_aug_op_info (i)->title);
  gtk_drop_down_set_model (self->op_dropdown, G_LIST_MODEL (ops));
  g_object_unref (ops);

  self->grid = fw_image_grid_new (1, 1, 1);
  self->steps_grid = fw_image_grid_new (1, 1, 1);
  self->mix_grid = fw_image_grid_new (1, 1, 1);
  self->grid_view = fw_plot_view_new_in_box (self->variants_box, "augmented-variants");
  self->steps_view = fw_plot_view_new_in_box (self->steps_view_box, "augmentation-steps");
  self->mix_view = fw_plot_view_new_in_box (self->mix_box, "cutmix-mixup");
  self->field_grid = fw_image_grid_new (1, 1, 3);
  self->field_view = fw_plot_view_new_in_box (self->steps_view_box, "elastic-field");
  fw_plot_view_set_image_grid (self->field_view, self->field_grid);
  gtk_widget_set_visible (GTK_WIDGET (self->field_view), FALSE);
  fw_image_grid_set_empty_text (self->grid, "No dataset yet: load one on the Data page");
  fw_plot_view_set_image_grid (self->grid_view, self->grid);
  fw_plot_view_set_image_grid (self->steps_view, self->steps_grid);
  fw_plot_view_set_image_grid (self->mix_view, self->mix_grid);

  g_signal_connect_swapped (self->add_button, "clicked", G_CALLBACK (add_clicked), self);
  g_signal_connect_swapped (self->copy_button, "clicked", G_CALLBACK (copy_clicked), self);
  g_signal_connect_swapped (self->resample_button, "clicked",
                            G_CALLBACK (fw_page_augment_resample), self);
  g_signal_connect_swapped (self->index_spin, "value-changed", G_CALLBACK (refresh), self);
  g_signal_connect_swapped (self->n_spin, "value-changed", G_CALLBACK (refresh), self);
  g_signal_connect_swapped (self, "map", G_CALLBACK (page_mapped), self);
  GtkDropTarget *drop = gtk_drop_target_new (G_TYPE_FILE, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (file_dropped), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));

  self->sweep_points = g_array_new (FALSE, FALSE, sizeof (FwAugSweepPoint));
  self->sweep_plot = fw_line_plot_new ();
  fw_line_plot_set_title (self->sweep_plot, "Test accuracy vs labels per class");
  fw_line_plot_set_x_label (self->sweep_plot, "labelled samples per class", NULL);
  fw_line_plot_set_y_label (self->sweep_plot, "test accuracy", "%");
  fw_line_plot_set_y_range (self->sweep_plot, NAN, 100);
  fw_line_plot_set_empty_text (self->sweep_plot, "Run the sweep: one model per pipeline, size "
                                                 "and seed on the current dataset");
  for (int i = 0; i < FW_AUG_SWEEP_N_PIPELINES; i++)
    {
      guint sidx = fw_line_plot_add_series (self->sweep_plot, fw_aug_sweep_name (i), i);
      fw_line_plot_series_set_markers (self->sweep_plot, sidx, TRUE);
    }
  self->sweep_view = fw_plot_view_new_in_box (self->sweep_box, "augmentation-sweep");
  fw_plot_view_set_line_plot (self->sweep_view, self->sweep_plot);
  g_signal_connect_swapped (self->sweep_button, "clicked", G_CALLBACK (fw_page_augment_run_sweep),
                            self);
  g_signal_connect_swapped (self->cancel_button, "clicked", G_CALLBACK (cancel_clicked), self);
  rebuild_steps (self);
  update_text (self);
}
