/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-train.c: the Train page. */
#include "fw-page-train-private.h"

#include <math.h>
#include <string.h>

#include <adwaita.h>

#include "fw-error.h"
#include "fw-model-shelf.h"
#include "fw-plot-view.h"
#include "fw-util.h"
#include "fw-window-private.h"

#define MAX_MISTAKES 18   /* 6 x 3 tiles: big enough to read the captions */
#define BATCH_EMA 0.9   /* smoothing of the live batch loss: s <- 0.9 s + 0.1 loss */
#define BATCH_PLOT_INTERVAL_S 0.05   /* the live batch curve gets a point at most 20 times/s */

/* One run in the history list: this session's or one found on disk. */
typedef struct {
  char *name;
  char *dir;
  GArray *metrics;       /* FwEpochMetrics */
  double accuracy;       /* test accuracy of the last epoch, NaN if unknown */
  double seconds;
} RunRecord;

struct _FwPageTrain {
  GtkWidget parent_instance;

  /* template widgets */
  GtkWidget *root;
  GtkLabel *dataset_label;
  GtkDropDown *arch_dropdown;
  GtkEntry *widths_entry;
  GtkSpinButton *epochs_spin;
  GtkSpinButton *batch_spin;
  GtkDropDown *optimizer_dropdown;
  GtkSpinButton *lr_spin;
  GtkSpinButton *momentum_spin;
  GtkSpinButton *weight_decay_spin;
  GtkDropDown *schedule_dropdown;
  GtkSpinButton *patience_spin;
  GtkSpinButton *smoothing_spin;
  GtkSpinButton *val_spin;
  GtkSpinButton *per_class_spin;
  GtkSpinButton *seed_spin;
  GtkSpinButton *threads_spin;
  GtkEntry *augment_entry;
  GtkDropDown *noise_dropdown;
  GtkSpinButton *noise_rate_spin;
  GtkDropDown *loss_dropdown;
  GtkSwitch *coteach_switch;
  GtkSpinButton *embed_spin;
  GtkStack *embed_stack;
  GtkBox *embed_box;
  GtkWidget *start_button;
  GtkButton *pause_button;
  GtkWidget *cancel_button;
  GtkLabel *summary_label;
  GtkLabel *cost_label;
  GtkStack *viz_stack;
  GtkBox *loss_box;
  GtkBox *acc_box;
  GtkStack *results_stack;
  GtkBox *confusion_box;
  GtkBox *per_class_box;
  GtkBox *mistakes_box;
  GtkListBox *history_list;

  /* plots (owned) and their views (children) */
  FwLinePlot *loss;
  FwLinePlot *acc;
  FwHeatmap *confusion;
  FwBarChart *per_class;
  FwImageGrid *mistakes;
  FwScatterPlot *embed;
  FwPlotView *loss_view, *acc_view, *confusion_view, *per_class_view, *mistakes_view;
  FwPlotView *embed_view;
  guint n_embed_frames;  /* of the current run */

  /* owned */
  FwRecipe *base;        /* settings the form does not show are kept from here */
  char *dataset_spec;
  char **dataset_names;  /* the dataset's class names, or NULL */
  gboolean have_shape;   /* the dataset's input shape and classes are known */
  FwShape shape;
  int n_classes;
  FwJob *train_job;      /* while queued or running */
  char *train_name;
  double batch_ema;
  gboolean have_ema;
  double last_batch_plot;   /* fw_now() of the last point on the batch curve */
  double last_test_acc;
  double last_train_seconds;   /* of the run that just finished (its snapshot) */
  GPtrArray *runs;       /* RunRecord */
  GHashTable *run_dirs;  /* dirs already listed */
  GtkNativeDialog *chooser;
};

G_DEFINE_FINAL_TYPE (FwPageTrain, fw_page_train, GTK_TYPE_WIDGET)

static void
run_record_free (gpointer p)
{
  RunRecord *r = p;
  g_free (r->name);
  g_free (r->dir);
  g_clear_pointer (&r->metrics, g_array_unref);
  g_free (r);
}

/* ---- accessors ---- */

FwLinePlot *fw_page_train_get_loss_plot (FwPageTrain *self) { return self->loss; }
FwLinePlot *fw_page_train_get_acc_plot (FwPageTrain *self) { return self->acc; }
FwHeatmap *fw_page_train_get_confusion (FwPageTrain *self) { return self->confusion; }
FwBarChart *fw_page_train_get_per_class (FwPageTrain *self) { return self->per_class; }
FwImageGrid *fw_page_train_get_mistakes (FwPageTrain *self) { return self->mistakes; }
FwScatterPlot *fw_page_train_get_embedding (FwPageTrain *self) { return self->embed; }
guint fw_page_train_get_n_embed_frames (FwPageTrain *self) { return self->n_embed_frames; }
GtkWidget *fw_page_train_get_start_button (FwPageTrain *self) { return self->start_button; }
GtkStack *fw_page_train_get_viz_stack (FwPageTrain *self) { return self->viz_stack; }
guint fw_page_train_get_n_runs (FwPageTrain *self) { return self->runs->len; }

gboolean
fw_page_train_is_running (FwPageTrain *self)
{
  return self->train_job != NULL;
}

/* ---- form <-> recipe ---- */

static const char *
dropdown_get (GtkDropDown *dd)
{
  GListModel *model = gtk_drop_down_get_model (dd);
  guint i = gtk_drop_down_get_selected (dd);

  if (i == GTK_INVALID_LIST_POSITION)
    return NULL;
  return gtk_string_list_get_string (GTK_STRING_LIST (model), i);
}

static gboolean
dropdown_set (GtkDropDown *dd, const char *value)
{
  GListModel *model = gtk_drop_down_get_model (dd);
  guint n = g_list_model_get_n_items (model);

  for (guint i = 0; value != NULL && i < n; i++)
    if (g_strcmp0 (gtk_string_list_get_string (GTK_STRING_LIST (model), i), value) == 0)
      {
        gtk_drop_down_set_selected (dd, i);
        return TRUE;
      }
  return FALSE;
}

static const char *const opt_names[] = { "sgd", "adam", "adamw" };
static const char *const sched_names[] = { "constant", "step", "cosine" };

FwRecipe *
fw_page_train_get_recipe (FwPageTrain *self)
{
  FwRecipe *r = fw_recipe_copy (self->base);
  const char *s;
  int seed;

  g_return_val_if_fail (FW_IS_PAGE_TRAIN (self), NULL);
  if (self->dataset_spec != NULL)
    {
      g_free (r->dataset);
      r->dataset = g_strdup (self->dataset_spec);
    }
  g_free (r->arch);
  r->arch = g_strdup (dropdown_get (self->arch_dropdown));
  g_free (r->widths);
  r->widths = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->widths_entry))));
  r->train.epochs = gtk_spin_button_get_value_as_int (self->epochs_spin);
  r->train.batch = gtk_spin_button_get_value_as_int (self->batch_spin);
  s = dropdown_get (self->optimizer_dropdown);
  for (guint i = 0; i < G_N_ELEMENTS (opt_names); i++)
    if (g_strcmp0 (s, opt_names[i]) == 0)
      r->train.opt = (FwOptKind) i;
  r->train.lr = gtk_spin_button_get_value (self->lr_spin);
  r->train.momentum = gtk_spin_button_get_value (self->momentum_spin);
  r->train.weight_decay = gtk_spin_button_get_value (self->weight_decay_spin);
  s = dropdown_get (self->schedule_dropdown);
  for (guint i = 0; i < G_N_ELEMENTS (sched_names); i++)
    if (g_strcmp0 (s, sched_names[i]) == 0)
      r->train.schedule = (FwSchedKind) i;
  r->train.patience = gtk_spin_button_get_value_as_int (self->patience_spin);
  r->train.label_smoothing = gtk_spin_button_get_value (self->smoothing_spin);
  r->val_fraction = gtk_spin_button_get_value (self->val_spin);
  r->per_class = gtk_spin_button_get_value_as_int (self->per_class_spin);
  seed = gtk_spin_button_get_value_as_int (self->seed_spin);
  r->seed = (guint64) seed;
  r->train.seed = (guint64) seed;
  r->threads = gtk_spin_button_get_value_as_int (self->threads_spin);
  g_free (r->augment);
  r->augment = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->augment_entry))));
  g_free (r->noise_kind);
  r->noise_kind = g_strdup (dropdown_get (self->noise_dropdown));
  r->noise_rate = gtk_spin_button_get_value (self->noise_rate_spin);
  g_free (r->loss);
  r->loss = g_strdup (dropdown_get (self->loss_dropdown));
  r->coteaching = gtk_switch_get_active (self->coteach_switch);
  r->embed_points = gtk_spin_button_get_value_as_int (self->embed_spin);
  return r;
}

static void
update_dataset_label (FwPageTrain *self, FwDataset *ds)
{
  g_autofree char *text = NULL;

  if (ds != NULL)
    {
      g_autofree char *n = fw_format_count (ds->n);
      text = g_strdup_printf ("%s — %s samples, %d classes", ds->name, n, ds->n_classes);
    }
  else
    text = g_strdup_printf ("%s", self->dataset_spec != NULL ? self->dataset_spec
                                                             : "none (choose one on the Data page)");
  gtk_label_set_text (self->dataset_label, text);
}

void
fw_page_train_set_recipe (FwPageTrain *self, const FwRecipe *r)
{
  g_return_if_fail (FW_IS_PAGE_TRAIN (self));
  g_return_if_fail (r != NULL);

  g_clear_pointer (&self->base, fw_recipe_free);
  self->base = fw_recipe_copy (r);
  if (r->dataset != NULL && *r->dataset != '\0'
      && g_strcmp0 (r->dataset, self->dataset_spec) != 0)
    {
      g_free (self->dataset_spec);
      self->dataset_spec = g_strdup (r->dataset);
      self->have_shape = FALSE;
      update_dataset_label (self, NULL);
    }
  dropdown_set (self->arch_dropdown, r->arch);
  gtk_editable_set_text (GTK_EDITABLE (self->widths_entry), r->widths != NULL ? r->widths : "");
  gtk_spin_button_set_value (self->epochs_spin, r->train.epochs);
  gtk_spin_button_set_value (self->batch_spin, r->train.batch);
  if ((guint) r->train.opt < G_N_ELEMENTS (opt_names))
    dropdown_set (self->optimizer_dropdown, opt_names[r->train.opt]);
  gtk_spin_button_set_value (self->lr_spin, r->train.lr);
  gtk_spin_button_set_value (self->momentum_spin, r->train.momentum);
  gtk_spin_button_set_value (self->weight_decay_spin, r->train.weight_decay);
  if ((guint) r->train.schedule < G_N_ELEMENTS (sched_names))
    dropdown_set (self->schedule_dropdown, sched_names[r->train.schedule]);
  gtk_spin_button_set_value (self->patience_spin, r->train.patience);
  gtk_spin_button_set_value (self->smoothing_spin, r->train.label_smoothing);
  gtk_spin_button_set_value (self->val_spin, r->val_fraction);
  gtk_spin_button_set_value (self->per_class_spin, r->per_class);
  gtk_spin_button_set_value (self->seed_spin, (double) r->seed);
  gtk_spin_button_set_value (self->threads_spin, MAX (1, r->threads));
  gtk_editable_set_text (GTK_EDITABLE (self->augment_entry),
                         r->augment != NULL ? r->augment : "");
  /* a noise matrix file has no widget: kept from the recipe (base) */
  if (!dropdown_set (self->noise_dropdown, r->noise_kind))
    dropdown_set (self->noise_dropdown, "none");
  gtk_spin_button_set_value (self->noise_rate_spin, r->noise_rate);
  dropdown_set (self->loss_dropdown, r->loss);
  gtk_switch_set_active (self->coteach_switch, r->coteaching);
  gtk_spin_button_set_value (self->embed_spin, r->embed_points);
  gtk_widget_set_sensitive (GTK_WIDGET (self->noise_rate_spin),
                            g_strcmp0 (r->noise_kind, "none") != 0);
}

gboolean
fw_page_train_set_recipe_data (FwPageTrain *self, const char *ini, GError **error)
{
  g_autoptr (FwRecipe) r = fw_recipe_load_data (ini, strlen (ini), "test", error);

  if (r == NULL)
    return FALSE;
  fw_page_train_set_recipe (self, r);
  return TRUE;
}

/* The model the form describes, built (not trained) for the dataset's shape: its costs. */
static void
update_cost (FwPageTrain *self)
{
  const char *arch = dropdown_get (self->arch_dropdown);
  const char *widths = gtk_editable_get_text (GTK_EDITABLE (self->widths_entry));
  g_autoptr (GError) error = NULL;
  g_autofree char *spec = NULL;
  g_autoptr (FwModel) m = NULL;

  gtk_widget_set_sensitive (GTK_WIDGET (self->widths_entry), g_strcmp0 (arch, "mlp") == 0);
  if (!self->have_shape || arch == NULL)
    {
      gtk_label_set_text (self->cost_label, "");
      return;
    }
  spec = fw_model_arch_spec (arch, g_strcmp0 (arch, "mlp") == 0 ? widths : NULL, self->shape,
                             self->n_classes, &error);
  if (spec != NULL)
    m = fw_model_new (arch, spec, self->shape, &error);
  if (m == NULL)
    {
      g_autofree char *markup = g_markup_printf_escaped ("<span foreground=\"#c01c28\">%s"
                                                         "</span>", error->message);
      gtk_label_set_markup (self->cost_label, markup);
      return;
    }
  {
    gsize n = fw_model_param_count (m);
    g_autofree char *params = fw_format_count ((double) n);
    g_autofree char *bytes = fw_format_bytes (4.0 * (double) n);
    g_autofree char *flops = fw_format_count (fw_model_flops (m));
    g_autofree char *markup = g_markup_printf_escaped ("<b>%s</b> parameters · <b>%s</b>\n"
                                                       "%s FLOPs per image",
                                                       params, bytes, flops);
    gtk_label_set_markup (self->cost_label, markup);
  }
}

static void
form_changed (FwPageTrain *self)
{
  update_cost (self);
}

static void
noise_kind_changed (FwPageTrain *self)
{
  gtk_widget_set_sensitive (GTK_WIDGET (self->noise_rate_spin),
                            g_strcmp0 (dropdown_get (self->noise_dropdown), "none") != 0);
}

/* an epoch's layout of the tracked test samples: the points move to it */
static void
on_embed_frame (FwPageTrain *self, const FwEmbedFrame *f)
{
  g_autofree int *cls = g_new (int, MAX (f->n, 1));
  for (int i = 0; i < f->n; i++)
    cls[i] = f->label[i];
  fw_scatter_plot_set_points (self->embed, f->xy, cls, (gsize) f->n);
  /* few points: big enough to see from the back of a lecture hall */
  fw_scatter_plot_set_point_size (self->embed, f->n <= 300 ? 8 : f->n <= 1000 ? 6 : 4);
  int right = 0;
  for (int i = 0; i < f->n; i++)
    right += f->pred[i] == f->label[i];
  g_autofree char *title = g_strdup_printf ("Epoch %d: %d test samples, last hidden layer "
                                            "(t-SNE) — %.0f%% classified right", f->epoch, f->n,
                                            f->n > 0 ? 100.0 * right / f->n : 0.0);
  fw_scatter_plot_set_title (self->embed, title);
  self->n_embed_frames++;
  gtk_stack_set_visible_child_name (self->embed_stack, "plot");
  fw_plot_view_queue_update (self->embed_view);
}

void
fw_page_train_set_dataset (FwPageTrain *self, const char *spec, FwDataset *ds)
{
  g_return_if_fail (FW_IS_PAGE_TRAIN (self));
  g_free (self->dataset_spec);
  self->dataset_spec = g_strdup (spec);
  self->have_shape = ds != NULL;
  g_clear_pointer (&self->dataset_names, g_strfreev);
  if (ds != NULL)
    {
      self->shape = ds->shape;
      self->n_classes = ds->n_classes;
      self->dataset_names = g_strdupv (ds->class_names);
    }
  update_dataset_label (self, ds);
  update_cost (self);
}

void
fw_page_train_set_per_class (FwPageTrain *self, int per_class)
{
  g_return_if_fail (FW_IS_PAGE_TRAIN (self));
  gtk_spin_button_set_value (self->per_class_spin, MAX (0, per_class));
}

void
fw_page_train_set_font_scale (FwPageTrain *self, double scale)
{
  FwPlotView *views[] = { self->loss_view, self->acc_view, self->confusion_view,
                          self->per_class_view, self->mistakes_view, self->embed_view };

  for (gsize i = 0; i < G_N_ELEMENTS (views); i++)
    fw_plot_view_set_font_scale (views[i], scale);
}

/* ---- plots ---- */

static void
set_epoch_range (FwPageTrain *self, int n_epochs)
{
  /* the curves grow into a frame of the whole run */
  double hi = MAX (1, n_epochs);
  fw_line_plot_set_x_range (self->loss, 0, hi);
  fw_line_plot_set_x_range (self->acc, 0, hi);
}

static void
setup_curves (FwPageTrain *self)
{
  guint s;

  fw_line_plot_clear (self->loss);
  fw_line_plot_set_title (self->loss, "Loss");
  fw_line_plot_set_x_label (self->loss, "epoch", NULL);
  fw_line_plot_set_y_label (self->loss, "cross-entropy", "nats");
  fw_line_plot_set_y_range (self->loss, 0, NAN);
  fw_line_plot_set_empty_text (self->loss, "Press Train (Ctrl+Return): the loss appears here, "
                                            "epoch by epoch");
  s = fw_line_plot_add_series (self->loss, "train", 0);
  fw_line_plot_series_set_markers (self->loss, s, TRUE);
  s = fw_line_plot_add_series (self->loss, "validation", 1);
  fw_line_plot_series_set_markers (self->loss, s, TRUE);
  s = fw_line_plot_add_series (self->loss, "batches (smoothed)", 0);
  fw_line_plot_series_set_color (self->loss, s,
                                 fw_rgba_with_alpha (fw_palette_color (0), 0.45));
  fw_line_plot_series_set_dashed (self->loss, s, TRUE);

  fw_line_plot_clear (self->acc);
  fw_line_plot_set_title (self->acc, "Accuracy");
  fw_line_plot_set_x_label (self->acc, "epoch", NULL);
  fw_line_plot_set_y_label (self->acc, "accuracy", "%");
  fw_line_plot_set_y_range (self->acc, NAN, 100);
  fw_line_plot_set_empty_text (self->acc, "Accuracy on train, validation and test sets");
  s = fw_line_plot_add_series (self->acc, "train", 0);
  fw_line_plot_series_set_markers (self->acc, s, TRUE);
  s = fw_line_plot_add_series (self->acc, "validation", 1);
  fw_line_plot_series_set_markers (self->acc, s, TRUE);
  s = fw_line_plot_add_series (self->acc, "test", 2);
  fw_line_plot_series_set_markers (self->acc, s, TRUE);

  self->have_ema = FALSE;
  self->last_batch_plot = 0;
  fw_plot_view_queue_update (self->loss_view);
  fw_plot_view_queue_update (self->acc_view);
}

static void
plot_epoch (FwPageTrain *self, const FwEpochMetrics *m)
{
  double x = m->epoch;

  if (isfinite (m->train_loss))
    fw_line_plot_append (self->loss, FW_LOSS_TRAIN, x, m->train_loss);
  if (isfinite (m->val_loss))
    fw_line_plot_append (self->loss, FW_LOSS_VAL, x, m->val_loss);
  if (isfinite (m->train_acc))
    fw_line_plot_append (self->acc, FW_ACC_TRAIN, x, 100 * m->train_acc);
  if (isfinite (m->val_acc))
    fw_line_plot_append (self->acc, FW_ACC_VAL, x, 100 * m->val_acc);
  if (isfinite (m->test_acc))
    fw_line_plot_append (self->acc, FW_ACC_TEST, x, 100 * m->test_acc);
  fw_plot_view_queue_update (self->loss_view);
  fw_plot_view_queue_update (self->acc_view);
}

static void
show_metrics (FwPageTrain *self, GArray *metrics)
{
  setup_curves (self);
  if (metrics != NULL)
    set_epoch_range (self, (int) metrics->len);
  for (guint i = 0; metrics != NULL && i < metrics->len; i++)
    plot_epoch (self, &g_array_index (metrics, FwEpochMetrics, i));
}

static const char *
name_of (char **names, int k, char *buf, gsize len)
{
  if (names != NULL && names[k] != NULL)
    return names[k];
  g_snprintf (buf, len, "%d", k);
  return buf;
}

static void
show_results (FwPageTrain *self, const FwRunResult *r)
{
  const FwEvalResult *ev = r->test_eval;
  const FwDataset *test = r->test;
  char **names;
  int k;
  g_autofree double *values = NULL;
  g_autofree const char **labels = NULL;
  char *numbers;   /* k labels of up to 16 bytes for unnamed classes */

  if (ev == NULL)
    {
      gtk_stack_set_visible_child_name (self->results_stack, "empty");
      return;
    }
  k = ev->n_classes;
  names = test != NULL && test->class_names != NULL ? test->class_names
                                                    : r->model->class_names;
  numbers = g_malloc0 ((gsize) k * 16);
  labels = g_new0 (const char *, k + 1);
  for (int i = 0; i < k; i++)
    labels[i] = name_of (names, i, numbers + (gsize) i * 16, 16);

  /* confusion matrix: row = true class, column = predicted */
  values = g_new (double, (gsize) k * k);
  for (int i = 0; i < k * k; i++)
    values[i] = (double) ev->confusion[i];
  fw_heatmap_set_size (self->confusion, k, k);
  fw_heatmap_set_values (self->confusion, values);
  fw_heatmap_set_row_labels (self->confusion, labels);
  fw_heatmap_set_col_labels (self->confusion, labels);
  fw_heatmap_set_axis_titles (self->confusion, "true class", "predicted class");
  fw_heatmap_set_title (self->confusion, "Confusion matrix (test set)");
  fw_heatmap_set_colorbar_label (self->confusion, "samples");
  fw_heatmap_set_show_values (self->confusion, TRUE, "%.0f");
  fw_heatmap_set_class_colored_labels (self->confusion, TRUE);
  fw_heatmap_set_colormap (self->confusion, FW_COLORMAP_VIRIDIS);
  fw_plot_view_queue_update (self->confusion_view);

  /* per-class accuracy */
  fw_bar_chart_set_data (self->per_class, ev->per_class_acc, labels, k);
  fw_bar_chart_set_format (self->per_class, FW_VALUE_PERCENT);
  fw_bar_chart_set_range (self->per_class, 0, 1);
  fw_bar_chart_set_title (self->per_class, "Accuracy per class (test set)");
  fw_bar_chart_set_y_label (self->per_class, "accuracy", "%");
  fw_plot_view_queue_update (self->per_class_view);

  /* the first misclassified test images */
  g_clear_pointer (&self->mistakes, fw_image_grid_unref);
  if (test != NULL && !(test->shape.h == 1 && test->shape.w == 1)
      && (test->shape.c == 1 || test->shape.c == 3))
    {
      int c = test->shape.c, h = test->shape.h, w = test->shape.w;
      g_autofree float *tile = g_new (float, (gsize) c * h * w);
      int shown = 0, wrong = 0;
      FwPlotStyle style;
      fw_plot_view_get_style (self->mistakes_view, &style);
      gboolean dark = style.dark;

      self->mistakes = fw_image_grid_new (w, h, c);
      for (int i = 0; i < ev->n && i < test->n; i++)
        {
          int t = test->y[i], p = ev->preds[i];
          const float *x = test->x + (gsize) i * fw_dataset_sample_size (test);
          g_autofree char *markup = NULL;
          char b1[16], b2[16];
          guint idx;

          if (p == t)
            continue;
          wrong++;
          if (shown >= MAX_MISTAKES)
            continue;
          /* planar [c][h][w] -> interleaved [h][w][c] */
          for (int yy = 0; yy < h; yy++)
            for (int xx = 0; xx < w; xx++)
              for (int ch = 0; ch < c; ch++)
                tile[((gsize) yy * w + xx) * c + ch] = x[((gsize) ch * h + yy) * w + xx];
          idx = fw_image_grid_add (self->mistakes, tile);
          /* class colours as text colours: darkened (or lightened) to stay readable */
          markup = g_markup_printf_escaped ("<span color=\"%s\">%s</span> / "
                                            "<span color=\"%s\">%s</span>",
                                            fw_palette_text_hex (p, dark),
                                            name_of (names, p, b1, sizeof b1),
                                            fw_palette_text_hex (t, dark),
                                            name_of (names, t, b2, sizeof b2));
          fw_image_grid_set_caption_markup (self->mistakes, idx, markup);
          fw_image_grid_set_border (self->mistakes, idx, p);
          shown++;
        }
      {
        g_autofree char *title = g_strdup_printf ("Mistakes: predicted / true (%d of %d shown)",
                                                  shown, wrong);
        fw_image_grid_set_title (self->mistakes, title);
        fw_image_grid_set_empty_text (self->mistakes, "No mistakes on the test set");
      }
    }
  else
    {
      self->mistakes = fw_image_grid_new (1, 1, 1);
      fw_image_grid_set_title (self->mistakes, "Mistakes");
      fw_image_grid_set_empty_text (self->mistakes, "Feature data: no images to show");
    }
  fw_plot_view_set_image_grid (self->mistakes_view, self->mistakes);
  g_free (numbers);
  gtk_stack_set_visible_child_name (self->results_stack, "results");
}

/* ---- history ---- */

static void
add_history_row (FwPageTrain *self, RunRecord *rec, gboolean prepend)
{
  GtkWidget *row = adw_action_row_new ();
  g_autofree char *acc = fw_format_percent (rec->accuracy);
  g_autofree char *title = g_markup_printf_escaped ("%s — %s", rec->name, acc);
  g_autofree char *secs = isfinite (rec->seconds) ? fw_format_seconds (rec->seconds) : NULL;
  g_autofree char *subtitle = g_markup_printf_escaped ("%u epochs%s%s · %s",
                                                       rec->metrics->len,
                                                       secs != NULL ? " · " : "",
                                                       secs != NULL ? secs : "",
                                                       rec->dir != NULL ? rec->dir : "");

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  g_object_set_data (G_OBJECT (row), "fw-run", rec);
  if (prepend)
    gtk_list_box_prepend (self->history_list, row);
  else
    gtk_list_box_append (self->history_list, row);
}

void
fw_page_train_show_run (FwPageTrain *self, guint i)
{
  RunRecord *rec;
  g_autofree char *acc = NULL;
  g_autofree char *markup = NULL;

  g_return_if_fail (i < self->runs->len);
  rec = g_ptr_array_index (self->runs, i);
  show_metrics (self, rec->metrics);
  acc = fw_format_percent (rec->accuracy);
  markup = g_markup_printf_escaped ("Run <b>%s</b>: test accuracy <b>%s</b>", rec->name, acc);
  gtk_label_set_markup (self->summary_label, markup);
  gtk_stack_set_visible_child_name (self->viz_stack, "curves");
}

static void
history_row_activated (GtkListBox *list, GtkListBoxRow *row, FwPageTrain *self)
{
  RunRecord *rec = g_object_get_data (G_OBJECT (row), "fw-run");
  guint i;

  if (rec != NULL && g_ptr_array_find (self->runs, rec, &i))
    fw_page_train_show_run (self, i);
}

static double
field (char **cols, int idx)
{
  if (idx < 0 || cols[idx] == NULL || *g_strstrip (cols[idx]) == '\0')
    return NAN;
  return g_ascii_strtod (cols[idx], NULL);
}

/* metrics.csv: a header line naming the columns, then one row per epoch */
static GArray *
read_metrics_csv (const char *path)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_auto (GStrv) header = NULL;
  GArray *rows;
  int ci[8];
  static const char *const want[8] = { "epoch", "train_loss", "train_acc", "val_loss",
                                       "val_acc", "test_acc", "lr", "seconds" };

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  if (lines[0] == NULL)
    return NULL;
  header = g_strsplit (lines[0], ",", -1);
  for (int k = 0; k < 8; k++)
    {
      ci[k] = -1;
      for (int j = 0; header[j] != NULL; j++)
        if (g_strcmp0 (g_strstrip (header[j]), want[k]) == 0)
          ci[k] = j;
    }
  if (ci[0] < 0)
    return NULL;
  rows = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  for (int i = 1; lines[i] != NULL; i++)
    {
      g_auto (GStrv) cols = NULL;
      FwEpochMetrics m;
      int n;

      if (*g_strstrip (lines[i]) == '\0' || lines[i][0] == '#')
        continue;
      cols = g_strsplit (lines[i], ",", -1);
      n = (int) g_strv_length (cols);
      for (int k = 0; k < 8; k++)
        if (ci[k] >= n)
          ci[k] = -1;
      m.epoch = (int) field (cols, ci[0]);
      m.train_loss = field (cols, ci[1]);
      m.train_acc = field (cols, ci[2]);
      m.val_loss = field (cols, ci[3]);
      m.val_acc = field (cols, ci[4]);
      m.test_acc = field (cols, ci[5]);
      m.lr = field (cols, ci[6]);
      m.seconds = field (cols, ci[7]);
      g_array_append_val (rows, m);
    }
  return rows;
}

static RunRecord *
run_record_from_metrics (const char *name, const char *dir, GArray *metrics, double accuracy)
{
  RunRecord *rec = g_new0 (RunRecord, 1);

  rec->name = g_strdup (name);
  rec->dir = g_strdup (dir);
  rec->metrics = g_array_ref (metrics);
  rec->accuracy = accuracy;
  rec->seconds = 0;
  for (guint i = 0; i < metrics->len; i++)
    {
      const FwEpochMetrics *m = &g_array_index (metrics, FwEpochMetrics, i);
      if (isfinite (m->seconds))
        rec->seconds += m->seconds;
      if (!isfinite (accuracy) && isfinite (m->test_acc))
        rec->accuracy = m->test_acc;
    }
  return rec;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

void
fw_page_train_scan_runs (FwPageTrain *self, const char *dir)
{
  g_autoptr (GDir) d = dir != NULL ? g_dir_open (dir, 0, NULL) : NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *entry;

  if (d == NULL)
    return;
  while ((entry = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (entry));
  g_ptr_array_sort (names, compare_names);
  /* oldest first; each new one is prepended, so the newest ends on top */
  for (guint i = names->len > 100 ? names->len - 100 : 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *run_dir = g_build_filename (dir, name, NULL);
      g_autofree char *csv = g_build_filename (run_dir, "metrics.csv", NULL);
      g_autoptr (GArray) metrics = NULL;
      RunRecord *rec;

      if (name[0] == '.' || g_hash_table_contains (self->run_dirs, run_dir))
        continue;
      metrics = read_metrics_csv (csv);
      if (metrics == NULL || metrics->len == 0)
        continue;
      rec = run_record_from_metrics (name, run_dir, metrics, NAN);
      g_ptr_array_add (self->runs, rec);
      g_hash_table_add (self->run_dirs, g_strdup (run_dir));
      add_history_row (self, rec, TRUE);
    }
}

/* ---- the training job ---- */

static void
set_running (FwPageTrain *self, gboolean running)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));

  if (win != NULL)
    fw_window_set_action_enabled (win, "train-start", !running);
  fw_page_train_sync_buttons (self);
}

void
fw_page_train_sync_buttons (FwPageTrain *self)
{
  gboolean paused = self->train_job != NULL && fw_job_is_paused (self->train_job);

  gtk_button_set_label (self->pause_button, paused ? "Resume" : "Pause");
}

static void
on_run_snapshot (FwPageTrain *self, const FwRunResult *r)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  FwModelShelf *shelf = win != NULL ? fw_window_get_shelf (win) : NULL;
  double acc = r->test_eval != NULL ? r->test_eval->accuracy : NAN;
  g_autofree char *pct = fw_format_percent (acc);
  g_autofree char *name = NULL;
  g_autofree char *base = NULL;
  RunRecord *rec;

  /* the curves as the job recorded them, if the live ones missed an epoch (the live batch
   * curve is kept otherwise) */
  if (r->metrics != NULL && r->metrics->len > 0
      && fw_line_plot_series_len (self->loss, FW_LOSS_TRAIN) != r->metrics->len)
    show_metrics (self, r->metrics);
  show_results (self, r);
  self->last_test_acc = acc;
  self->last_train_seconds = r->train_seconds;

  name = g_strdup_printf ("%s %s", r->model->arch, pct);
  if (shelf != NULL)  /* a finished run always has its model (used just above) */
    {
      g_autoptr (FwShelfItem) item = fw_shelf_item_new (name, r->model, acc, r->metrics,
                                                        r->run_dir);
      fw_model_shelf_add (shelf, item);
    }
  base = g_strdup (self->train_name != NULL ? self->train_name : name);
  if (r->metrics != NULL)
    {
      rec = run_record_from_metrics (base, r->run_dir, r->metrics, acc);
      rec->seconds = r->train_seconds;
      g_ptr_array_add (self->runs, rec);
      if (r->run_dir != NULL)
        g_hash_table_add (self->run_dirs, g_strdup (r->run_dir));
      add_history_row (self, rec, TRUE);
    }
}

static void
train_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  FwPageTrain *self = user_data;
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));

  if (job != self->train_job)
    return;

  switch (ev->kind)
    {
    case FW_EVENT_QUEUED:
      gtk_label_set_markup (self->summary_label, "Queued: waiting for the running job");
      break;

    case FW_EVENT_STARTED:
      gtk_label_set_markup (self->summary_label, "Loading data and building the model…");
      break;

    case FW_EVENT_PROGRESS:
      if (ev->n_batches > 0 && isfinite (ev->loss))
        {
          double x = (ev->epoch - 1) + (double) ev->batch / ev->n_batches;
          g_autofree char *markup = NULL;

          self->batch_ema = self->have_ema ? BATCH_EMA * self->batch_ema
                                               + (1 - BATCH_EMA) * ev->loss
                                           : ev->loss;
          self->have_ema = TRUE;
          /* every event moves the average; the curve and the label follow at 20 Hz, which
           * is plenty for the eye and leaves the CPU to the training */
          if (fw_now () - self->last_batch_plot < BATCH_PLOT_INTERVAL_S
              && ev->batch != ev->n_batches)
            break;
          self->last_batch_plot = fw_now ();
          fw_line_plot_append (self->loss, FW_LOSS_BATCH, x, self->batch_ema);
          fw_plot_view_queue_update (self->loss_view);
          markup = g_markup_printf_escaped ("epoch <b>%d/%d</b> · batch %d/%d · loss "
                                            "<b>%.3f</b>",
                                            ev->epoch, ev->n_epochs, ev->batch, ev->n_batches,
                                            self->batch_ema);
          gtk_label_set_markup (self->summary_label, markup);
        }
      fw_page_train_sync_buttons (self);
      break;

    case FW_EVENT_EPOCH:
      plot_epoch (self, &ev->metrics);
      break;

    case FW_EVENT_SNAPSHOT:
      if (g_strcmp0 (ev->payload_type, "run") == 0 && ev->payload != NULL)
        on_run_snapshot (self, ev->payload);
      else if (g_strcmp0 (ev->payload_type, "embed-frame") == 0 && ev->payload != NULL)
        on_embed_frame (self, ev->payload);
      break;

    case FW_EVENT_FINISHED:
      {
        g_autofree char *pct = fw_format_percent (self->last_test_acc);
        g_autofree char *secs = fw_format_seconds (self->last_train_seconds > 0
                                                     ? self->last_train_seconds
                                                     : ev->elapsed_s);
        g_autofree char *toast = g_strdup_printf ("Trained %s: %s test accuracy in %s",
                                                  self->train_name, pct, secs);
        g_autofree char *markup = g_markup_printf_escaped ("%s: test accuracy <b>%s</b> "
                                                           "(%s)", self->train_name, pct,
                                                           secs);

        gtk_label_set_markup (self->summary_label, markup);
        if (win != NULL)
          fw_window_show_toast (win, toast);
        if (g_strcmp0 (gtk_stack_get_visible_child_name (self->results_stack), "results") == 0)
          gtk_stack_set_visible_child_name (self->viz_stack, "results");
      }
      G_GNUC_FALLTHROUGH;
    case FW_EVENT_FAILED:
    case FW_EVENT_CANCELLED:
      if (ev->kind == FW_EVENT_CANCELLED)
        gtk_label_set_markup (self->summary_label, "Cancelled");
      else if (ev->kind == FW_EVENT_FAILED)
        gtk_label_set_markup (self->summary_label, "Failed (see the message above)");
      g_clear_pointer (&self->train_job, fw_job_unref);
      set_running (self, FALSE);
      break;

    default:
      break;
    }
}

void
fw_page_train_start (FwPageTrain *self)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  g_autoptr (FwRecipe) r = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = NULL;
  g_autofree char *dir_name = NULL;
  g_autofree char *job_name = NULL;

  g_return_if_fail (FW_IS_PAGE_TRAIN (self));
  if (win == NULL || self->train_job != NULL)
    return;
  r = fw_page_train_get_recipe (self);
  if (r->dataset == NULL || *r->dataset == '\0')
    {
      fw_window_show_error (win, "No dataset to train on: choose one on the Data page.");
      return;
    }
  if (r->path == NULL)
    {
      /* not from a file: name the run after the model, "mlp-256-128", "lenet5" */
      g_free (r->name);
      if (strcmp (r->arch, "mlp") == 0 && r->widths != NULL && *r->widths != '\0')
        {
          g_auto (GStrv) parts = g_strsplit (r->widths, ",", -1);
          g_autofree char *joined = g_strjoinv ("-", parts);
          r->name = g_strdup_printf ("mlp-%s", g_strstrip (joined));
        }
      else
        r->name = g_strdup (r->arch);
    }
  {
    /* the form's recipe goes through the same checks as a recipe file (augmentation text ...) */
    g_autofree char *text = fw_recipe_to_data (r);
    g_autoptr (GError) error = NULL;
    g_autoptr (FwRecipe) check = fw_recipe_load_data (text, (gsize) -1, r->name, &error);
    if (check == NULL)
      {
        fw_window_show_error (win, error->message);
        return;
      }
  }
  stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  dir_name = g_strdup_printf ("%s-%s-%03d", r->name, stamp,
                              (int) (g_date_time_get_microsecond (now) / 1000));
  g_free (r->out_dir);
  r->out_dir = g_build_filename (fw_window_get_runs_dir (win), dir_name, NULL);

  g_free (self->train_name);
  if (strcmp (r->arch, "mlp") == 0 && r->widths != NULL && *r->widths != '\0')
    self->train_name = g_strdup_printf ("mlp %s", r->widths);
  else
    self->train_name = g_strdup (r->arch);
  job_name = g_strdup_printf ("Training %s", self->train_name);
  setup_curves (self);
  set_epoch_range (self, r->train.epochs);
  self->last_test_acc = NAN;
  self->last_train_seconds = 0;
  self->n_embed_frames = 0;
  if (r->embed_points > 0)
    {
      if (self->dataset_names != NULL)
        fw_scatter_plot_set_class_names (self->embed, (const char *const *) self->dataset_names,
                                         g_strv_length (self->dataset_names));
      fw_scatter_plot_set_points (self->embed, NULL, NULL, 0);
      fw_scatter_plot_set_empty_text (self->embed, "The first layout appears after the first "
                                                   "epoch");
      gtk_stack_set_visible_child_name (self->embed_stack, "plot");
    }
  gtk_stack_set_visible_child_name (self->viz_stack, "curves");
  fw_window_clear_error (win);
  self->train_job = fw_window_submit_job (win, job_name, fw_recipe_job_run,
                                          g_steal_pointer (&r), (GDestroyNotify) fw_recipe_free,
                                          train_event, self);
  set_running (self, TRUE);
}

/* ---- recipe files ---- */

static void
open_response (GtkNativeDialog *dialog, int response, FwPageTrain *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));

      if (path != NULL && win != NULL)
        fw_window_open_recipe_file (win, path);
    }
  if (self->chooser == dialog)
    g_clear_object (&self->chooser);
}

static void
save_response (GtkNativeDialog *dialog, int response, FwPageTrain *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);
      g_autoptr (GError) error = NULL;
      g_autoptr (FwRecipe) r = fw_page_train_get_recipe (self);
      FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));

      if (!fw_recipe_save (r, path, &error))
        {
          if (win != NULL)
            fw_window_show_error (win, error->message);
        }
      else if (win != NULL)
        {
          g_autofree char *msg = g_strdup_printf ("Saved %s", path);
          fw_window_show_toast (win, msg);
        }
    }
  if (self->chooser == dialog)
    g_clear_object (&self->chooser);
}

static void
run_chooser (FwPageTrain *self, gboolean save)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkFileChooserNative *chooser;
  g_autoptr (GtkFileFilter) filter = gtk_file_filter_new ();

  chooser = gtk_file_chooser_native_new (save ? "Save Recipe" : "Open Recipe",
                                         GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                         save ? GTK_FILE_CHOOSER_ACTION_SAVE
                                              : GTK_FILE_CHOOSER_ACTION_OPEN,
                                         save ? "_Save" : "_Open", "_Cancel");
  gtk_file_filter_set_name (filter, "Recipes (.ini)");
  gtk_file_filter_add_pattern (filter, "*.ini");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  if (save)
    {
      g_autoptr (FwRecipe) r = fw_page_train_get_recipe (self);
      g_autofree char *name = g_strdup_printf ("%s.ini", r->name != NULL && *r->name != '\0'
                                                           ? r->name : r->arch);
      gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), name);
    }
  g_signal_connect (chooser, "response", G_CALLBACK (save ? save_response : open_response),
                    self);
  g_clear_object (&self->chooser);
  self->chooser = GTK_NATIVE_DIALOG (chooser);
  gtk_native_dialog_show (self->chooser);
}

void
fw_page_train_open_recipe (FwPageTrain *self)
{
  run_chooser (self, FALSE);
}

void
fw_page_train_save_recipe (FwPageTrain *self)
{
  run_chooser (self, TRUE);
}

/* ---- life cycle ---- */

static void
fw_page_train_dispose (GObject *object)
{
  FwPageTrain *self = FW_PAGE_TRAIN (object);

  if (self->train_job != NULL)
    fw_job_cancel (self->train_job);
  g_clear_pointer (&self->train_job, fw_job_unref);
  if (self->chooser != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->chooser, self);
      gtk_native_dialog_destroy (self->chooser);
      g_clear_object (&self->chooser);
    }
  gtk_widget_dispose_template (GTK_WIDGET (self), FW_TYPE_PAGE_TRAIN);
  G_OBJECT_CLASS (fw_page_train_parent_class)->dispose (object);
}

static void
fw_page_train_finalize (GObject *object)
{
  FwPageTrain *self = FW_PAGE_TRAIN (object);

  g_clear_pointer (&self->loss, fw_line_plot_unref);
  g_clear_pointer (&self->acc, fw_line_plot_unref);
  g_clear_pointer (&self->confusion, fw_heatmap_unref);
  g_clear_pointer (&self->per_class, fw_bar_chart_unref);
  g_clear_pointer (&self->mistakes, fw_image_grid_unref);
  g_clear_pointer (&self->embed, fw_scatter_plot_unref);
  g_clear_pointer (&self->dataset_names, g_strfreev);
  g_clear_pointer (&self->base, fw_recipe_free);
  g_clear_pointer (&self->runs, g_ptr_array_unref);
  g_clear_pointer (&self->run_dirs, g_hash_table_unref);
  g_free (self->dataset_spec);
  g_free (self->train_name);
  G_OBJECT_CLASS (fw_page_train_parent_class)->finalize (object);
}

static void
fw_page_train_class_init (FwPageTrainClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = fw_page_train_dispose;
  object_class->finalize = fw_page_train_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/frugal/Workbench/ui/fw-page-train.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, FwPageTrain, name)
  BIND (root);
  BIND (dataset_label);
  BIND (arch_dropdown);
  BIND (widths_entry);
  BIND (epochs_spin);
  BIND (batch_spin);
  BIND (optimizer_dropdown);
  BIND (lr_spin);
  BIND (momentum_spin);
  BIND (weight_decay_spin);
  BIND (schedule_dropdown);
  BIND (patience_spin);
  BIND (smoothing_spin);
  BIND (val_spin);
  BIND (per_class_spin);
  BIND (seed_spin);
  BIND (threads_spin);
  BIND (augment_entry);
  BIND (noise_dropdown);
  BIND (noise_rate_spin);
  BIND (loss_dropdown);
  BIND (coteach_switch);
  BIND (embed_spin);
  BIND (embed_stack);
  BIND (embed_box);
  BIND (start_button);
  BIND (pause_button);
  BIND (cancel_button);
  BIND (summary_label);
  BIND (cost_label);
  BIND (viz_stack);
  BIND (loss_box);
  BIND (acc_box);
  BIND (results_stack);
  BIND (confusion_box);
  BIND (per_class_box);
  BIND (mistakes_box);
  BIND (history_list);
#undef BIND
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
fw_page_train_init (FwPageTrain *self)
{
  g_autoptr (FwRecipe) r = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->runs = g_ptr_array_new_with_free_func (run_record_free);
  self->run_dirs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->last_test_acc = NAN;

  self->loss = fw_line_plot_new ();
  self->acc = fw_line_plot_new ();
  self->confusion = fw_heatmap_new (1, 1);
  self->per_class = fw_bar_chart_new ();
  self->mistakes = fw_image_grid_new (1, 1, 1);
  fw_image_grid_set_empty_text (self->mistakes, "Train a model (Ctrl+Return): the test images "
                                                "it gets wrong appear here");
  self->loss_view = fw_plot_view_new_in_box (self->loss_box, "loss");
  self->acc_view = fw_plot_view_new_in_box (self->acc_box, "accuracy");
  self->confusion_view = fw_plot_view_new_in_box (self->confusion_box, "confusion-matrix");
  self->per_class_view = fw_plot_view_new_in_box (self->per_class_box, "per-class-accuracy");
  self->mistakes_view = fw_plot_view_new_in_box (self->mistakes_box, "mistakes");
  fw_plot_view_set_line_plot (self->loss_view, self->loss);
  fw_plot_view_set_line_plot (self->acc_view, self->acc);
  fw_plot_view_set_heatmap (self->confusion_view, self->confusion);
  fw_plot_view_set_bars (self->per_class_view, self->per_class);
  fw_plot_view_set_image_grid (self->mistakes_view, self->mistakes);
  self->embed = fw_scatter_plot_new ();
  fw_scatter_plot_set_title (self->embed, "Test samples, last hidden layer (t-SNE)");
  self->embed_view = fw_plot_view_new_in_box (self->embed_box, "training-embedding");
  fw_plot_view_set_scatter (self->embed_view, self->embed);
  setup_curves (self);

  gtk_adjustment_set_upper (gtk_spin_button_get_adjustment (self->threads_spin),
                            MAX (1, g_get_num_processors ()));
  r = fw_recipe_new_default ();
  if (r->widths == NULL || *r->widths == '\0')
    {
      g_free (r->widths);
      r->widths = g_strdup ("256,128");
    }
  fw_page_train_set_recipe (self, r);
  update_dataset_label (self, NULL);

  g_signal_connect (self->history_list, "row-activated", G_CALLBACK (history_row_activated),
                    self);
  g_signal_connect_swapped (self->arch_dropdown, "notify::selected", G_CALLBACK (form_changed),
                            self);
  g_signal_connect_swapped (self->widths_entry, "changed", G_CALLBACK (form_changed), self);
  g_signal_connect_swapped (self->noise_dropdown, "notify::selected",
                            G_CALLBACK (noise_kind_changed), self);
  {
    GtkWidget *empty = gtk_label_new ("No runs yet. Runs of this session and the run folders "
                                      "found in runs/ appear here; click one to see its "
                                      "curves.");
    gtk_label_set_wrap (GTK_LABEL (empty), TRUE);
    gtk_widget_set_margin_top (empty, 24);
    gtk_widget_set_margin_bottom (empty, 24);
    gtk_widget_set_margin_start (empty, 24);
    gtk_widget_set_margin_end (empty, 24);
    gtk_widget_add_css_class (empty, "dim-label");
    gtk_list_box_set_placeholder (self->history_list, empty);
  }
}
