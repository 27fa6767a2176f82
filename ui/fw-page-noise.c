/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-noise.c: the Noise page. */
#include "fw-page-noise.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-noise.h"
#include "fw-page-data.h"
#include "fw-page-embed.h"
#include "fw-plot-view.h"
#include "fw-robust.h"
#include "fw-util.h"
#include "fw-window-private.h"

#define MAX_FLAGGED_TILES 40
#define REGRESSION_WORK 2000000   /* normal deviates per redraw of the regression demo */

struct _FwPageNoise {
  GtkWidget parent_instance;

  /* template widgets */
  GtkWidget *root;
  GtkRange *sigma_scale;
  GtkRange *n_scale;
  GtkLabel *regression_label;
  GtkDropDown *kind_dropdown;
  GtkDropDown *loss_dropdown;
  GtkEntry *rates_entry;
  GtkEntry *sizes_entry;
  GtkSpinButton *seeds_spin;
  GtkSpinButton *epochs_spin;
  GtkWidget *curve_button;
  GtkSpinButton *detect_rate_spin;
  GtkSpinButton *detect_n_spin;
  GtkWidget *detect_button;
  GtkWidget *embed_button;
  GtkWidget *cancel_button;
  GtkLabel *summary_label;
  GtkStack *viz_stack;
  GtkBox *regression_box;
  GtkBox *curves_box;
  GtkBox *size_box;
  GtkBox *detect_box;

  /* plots (owned) and views (children) */
  FwLinePlot *regression;
  FwLinePlot *curves;
  FwLinePlot *size_plot;
  FwImageGrid *grid;
  FwPlotView *regression_view, *curves_view, *size_view, *grid_view;
  GtkLabel *detect_label;

  /* owned */
  FwDataset *train_override, *test_override;
  FwJob *job;
  GArray *points;        /* FwNoisePoint of the current curve */
  GArray *series_sizes;  /* int: the training-set size of each curve series */
  double precision, recall;
  int n_flagged;
  FwDataset *last_noisy;  /* the last detection's samples with noisy labels ... */
  gint32 *last_true;      /* ... and their true labels */
};

G_DEFINE_FINAL_TYPE (FwPageNoise, fw_page_noise, GTK_TYPE_WIDGET)

FwLinePlot *fw_page_noise_get_regression_plot (FwPageNoise *self) { return self->regression; }
FwLinePlot *fw_page_noise_get_curve_plot (FwPageNoise *self) { return self->curves; }
FwLinePlot *fw_page_noise_get_size_plot (FwPageNoise *self) { return self->size_plot; }
FwImageGrid *fw_page_noise_get_detect_grid (FwPageNoise *self) { return self->grid; }
GtkRange *fw_page_noise_get_sigma_scale (FwPageNoise *self) { return self->sigma_scale; }
GtkRange *fw_page_noise_get_n_scale (FwPageNoise *self) { return self->n_scale; }
guint fw_page_noise_get_n_curve_points (FwPageNoise *self) { return self->points->len; }
gboolean fw_page_noise_is_running (FwPageNoise *self) { return self->job != NULL; }

void
fw_page_noise_get_detection (FwPageNoise *self, double *precision, double *recall,
                             int *n_flagged)
{
  *precision = self->precision;
  *recall = self->recall;
  *n_flagged = self->n_flagged;
}

void
fw_page_noise_set_curve_form (FwPageNoise *self, const char *rates, const char *sizes,
                              int seeds, int epochs)
{
  gtk_editable_set_text (GTK_EDITABLE (self->rates_entry), rates);
  gtk_editable_set_text (GTK_EDITABLE (self->sizes_entry), sizes);
  gtk_spin_button_set_value (self->seeds_spin, seeds);
  gtk_spin_button_set_value (self->epochs_spin, epochs);
}

void
fw_page_noise_set_detect_form (FwPageNoise *self, double rate, int n)
{
  gtk_spin_button_set_value (self->detect_rate_spin, rate);
  gtk_spin_button_set_value (self->detect_n_spin, n);
}

void
fw_page_noise_set_datasets (FwPageNoise *self, FwDataset *train, FwDataset *test)
{
  g_clear_pointer (&self->train_override, fw_dataset_unref);
  g_clear_pointer (&self->test_override, fw_dataset_unref);
  if (train != NULL)
    self->train_override = fw_dataset_ref (train);
  if (test != NULL)
    self->test_override = fw_dataset_ref (test);
}

void
fw_page_noise_set_font_scale (FwPageNoise *self, double scale)
{
  fw_plot_view_set_font_scale (self->regression_view, scale);
  fw_plot_view_set_font_scale (self->curves_view, scale);
  fw_plot_view_set_font_scale (self->size_view, scale);
  fw_plot_view_set_font_scale (self->grid_view, scale);
}

/* ---- the same-sample regression demo ---- */

static void
update_regression (FwPageNoise *self)
{
  double sigma = gtk_range_get_value (self->sigma_scale);
  int nmax = (int) lround (pow (10, gtk_range_get_value (self->n_scale)));
  int ns[64], m = 0;
  gint64 work = 0;
  /* N = 1, 2, 5, 10, 20, 50 ... up to nmax, and nmax itself */
  for (double d = 1; d <= nmax && m < 60; d *= 10)
    {
      static const int mult[] = { 1, 2, 5 };
      for (int j = 0; j < 3; j++)
        if (d * mult[j] <= nmax)
          ns[m++] = (int) (d * mult[j]);
    }
  if (m == 0 || ns[m - 1] != nmax)
    ns[m++] = nmax;
  for (int i = 0; i < m; i++)
    work += ns[i];
  int trials = (int) CLAMP (REGRESSION_WORK / MAX (work, 1), 40, 1000);
  double mse[64], x[64], theory[64];
  fw_noise_regression_curve (0.0, sigma, ns, m, trials, 1, mse);
  for (int i = 0; i < m; i++)
    {
      x[i] = ns[i];
      theory[i] = sigma * sigma / ns[i];
    }
  fw_line_plot_set_series_data (self->regression, 0, x, mse, NULL, NULL, m);
  fw_line_plot_set_series_data (self->regression, 1, x, theory, NULL, NULL, m);
  fw_plot_view_queue_update (self->regression_view);
  g_autofree char *markup = g_markup_printf_escaped (
      "N = <b>%d</b>: squared error of the mean <b>%.3g</b>, σ²/N = <b>%.3g</b> "
      "(average of %d trials)", nmax, mse[m - 1], theory[m - 1], trials);
  gtk_label_set_markup (self->regression_label, markup);
}

/* ---- jobs: common ---- */

static void
set_running (FwPageNoise *self, gboolean running)
{
  gtk_widget_set_sensitive (self->curve_button, !running);
  gtk_widget_set_sensitive (self->detect_button, !running);
  gtk_widget_set_sensitive (self->cancel_button, running);
  gtk_widget_set_sensitive (self->embed_button, !running && self->last_noisy != NULL);
}

/* The training set to use: the override, else the Data page's dataset (a new reference). */
static FwDataset *
current_dataset (FwPageNoise *self, char **spec)
{
  *spec = NULL;
  if (self->train_override != NULL)
    return fw_dataset_ref (self->train_override);
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win == NULL)
    return NULL;
  FwPageData *data = fw_window_get_page_data (win);
  FwDataset *ds = fw_page_data_get_dataset (data);
  if (ds == NULL)
    return NULL;
  *spec = g_strdup (fw_page_data_get_spec (data));
  return fw_dataset_ref (ds);
}

static gboolean
job_final (FwPageNoise *self, FwJob *job, const FwEvent *ev, const char *what)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (ev->kind != FW_EVENT_FINISHED && ev->kind != FW_EVENT_FAILED
      && ev->kind != FW_EVENT_CANCELLED)
    return FALSE;
  if (self->job == job)
    g_clear_pointer (&self->job, fw_job_unref);
  set_running (self, FALSE);
  if (ev->kind == FW_EVENT_FAILED && win != NULL)
    {
      g_autofree char *msg = g_strdup_printf ("%s failed: %s", what,
                                              ev->error ? ev->error->message : "unknown error");
      fw_window_show_error (win, msg);
    }
  else if (ev->kind == FW_EVENT_CANCELLED)
    gtk_label_set_text (self->summary_label, "Cancelled.");
  return TRUE;
}

/* ---- label-noise curves ---- */

typedef struct {
  FwDataset *train, *test;
  char *spec;
  GArray *rates, *sizes;
  int seeds, epochs, kind, method;
} CurveJob;

static void
curve_job_free (gpointer p)
{
  CurveJob *cj = p;
  g_clear_pointer (&cj->train, fw_dataset_unref);
  g_clear_pointer (&cj->test, fw_dataset_unref);
  g_free (cj->spec);
  g_array_unref (cj->rates);
  g_array_unref (cj->sizes);
  g_free (cj);
}

static gboolean
curve_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  CurveJob *cj = data;
  g_autoptr (FwDataset) train = fw_dataset_ref (cj->train);
  g_autoptr (FwDataset) test = cj->test != NULL ? fw_dataset_ref (cj->test) : NULL;
  if (test == NULL && cj->spec != NULL)
    {
      GError *local = NULL;
      test = fw_dataset_load_test (cj->spec, 1, cancellable, &local);
      if (local != NULL)
        {
          g_propagate_error (error, local);
          return FALSE;
        }
    }
  if (test == NULL)
    {
      /* no test split of its own: hold out 20% (stratified) */
      FwDataset *part = NULL, *rest = NULL;
      fw_dataset_split (cj->train, 0.8, 1, &part, &rest);
      g_clear_pointer (&train, fw_dataset_unref);
      train = part;
      test = rest;
      fw_job_log (job, "no test split: 20%% of the training set held out as the test set");
    }
  g_autoptr (FwNoiseCurveConfig) c = fw_noise_curve_config_new (train, test);
  g_free (c->rates);
  c->n_rates = cj->rates->len;
  c->rates = g_memdup2 (cj->rates->data, sizeof (double) * cj->rates->len);
  g_free (c->sizes);
  c->n_sizes = cj->sizes->len;
  c->sizes = g_memdup2 (cj->sizes->data, sizeof (int) * cj->sizes->len);
  c->seeds = cj->seeds;
  c->kind = cj->kind;
  c->cfg.epochs = cj->epochs;
  /* methods: ce, gce, sce, ce with label smoothing 0.1, co-teaching */
  c->cfg.loss = cj->method <= FW_LOSS_SCE ? cj->method : FW_LOSS_CE;
  c->cfg.label_smoothing = cj->method == 3 ? 0.1 : 0;
  c->coteaching = cj->method == 4;
  g_free (c->widths);
  c->widths = g_strdup ("128");
  return fw_noise_curve_job_run (job, c, cancellable, error);
}

static int
series_for_size (FwPageNoise *self, int size)
{
  for (guint i = 0; i < self->series_sizes->len; i++)
    if (g_array_index (self->series_sizes, int, i) == size)
      return (int) i;
  g_autofree char *count = fw_format_count (size);
  g_autofree char *name = g_strdup_printf ("%s training samples", count);
  guint s = fw_line_plot_add_series (self->curves, name, (int) self->series_sizes->len);
  fw_line_plot_series_set_markers (self->curves, s, TRUE);
  g_array_append_val (self->series_sizes, size);
  return (int) s;
}

/* Mean and standard deviation over the seeds of every rate, for one size's series. */
static void
rebuild_series (FwPageNoise *self, int size)
{
  int s = series_for_size (self, size);
  g_autoptr (GArray) rates = g_array_new (FALSE, FALSE, sizeof (double));
  for (guint i = 0; i < self->points->len; i++)
    {
      FwNoisePoint *p = &g_array_index (self->points, FwNoisePoint, i);
      gboolean seen = FALSE;
      for (guint j = 0; j < rates->len && !seen; j++)
        seen = g_array_index (rates, double, j) == p->rate;
      if (p->size == size && !seen)
        g_array_append_val (rates, p->rate);
    }
  /* ascending rates */
  for (guint i = 1; i < rates->len; i++)
    for (guint j = i; j > 0 && g_array_index (rates, double, j - 1)
                                   > g_array_index (rates, double, j); j--)
      {
        double t = g_array_index (rates, double, j);
        g_array_index (rates, double, j) = g_array_index (rates, double, j - 1);
        g_array_index (rates, double, j - 1) = t;
      }
  guint m = rates->len;
  g_autofree double *x = g_new (double, m), *y = g_new (double, m);
  g_autofree double *lo = g_new (double, m), *hi = g_new (double, m);
  for (guint j = 0; j < m; j++)
    {
      double r = g_array_index (rates, double, j), sum = 0, sq = 0;
      int n = 0;
      for (guint i = 0; i < self->points->len; i++)
        {
          FwNoisePoint *p = &g_array_index (self->points, FwNoisePoint, i);
          if (p->size == size && p->rate == r)
            sum += 100 * p->test_acc, sq += 1e4 * p->test_acc * p->test_acc, n++;
        }
      double mean = sum / n, sd = n > 1 ? sqrt (MAX (sq - n * mean * mean, 0) / (n - 1)) : 0;
      x[j] = 100 * r;
      y[j] = mean;
      lo[j] = mean - sd;
      hi[j] = mean + sd;
    }
  fw_line_plot_set_series_data (self->curves, s, x, y, lo, hi, m);
  fw_plot_view_queue_update (self->curves_view);
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* The size-needed plot from all points so far (fw_noise_size_needed). */
static void
rebuild_size_needed (FwPageNoise *self)
{
  g_autoptr (GArray) sizes = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) rates = g_array_new (FALSE, FALSE, sizeof (double));
  for (guint i = 0; i < self->points->len; i++)
    {
      FwNoisePoint *p = &g_array_index (self->points, FwNoisePoint, i);
      double sz = p->size;
      gboolean have_s = FALSE, have_r = FALSE;
      for (guint j = 0; j < sizes->len; j++)
        have_s = have_s || g_array_index (sizes, double, j) == sz;
      for (guint j = 0; j < rates->len; j++)
        have_r = have_r || g_array_index (rates, double, j) == p->rate;
      if (!have_s)
        g_array_append_val (sizes, sz);
      if (!have_r)
        g_array_append_val (rates, p->rate);
    }
  fw_line_plot_clear_series (self->size_plot, 0);
  fw_line_plot_clear_series (self->size_plot, 1);
  if (sizes->len >= 2)
    {
      qsort (sizes->data, sizes->len, sizeof (double), cmp_double);
      qsort (rates->data, rates->len, sizeof (double), cmp_double);
      int ns = sizes->len, nr = rates->len;
      g_autofree double *acc = g_new (double, (gsize) ns * nr);
      g_autofree int *cnt = g_new0 (int, (gsize) ns * nr);
      for (int i = 0; i < ns * nr; i++)
        acc[i] = 0;
      for (guint i = 0; i < self->points->len; i++)
        {
          FwNoisePoint *p = &g_array_index (self->points, FwNoisePoint, i);
          int s = 0, r = 0;
          while (g_array_index (sizes, double, s) != p->size)
            s++;
          while (g_array_index (rates, double, r) != p->rate)
            r++;
          acc[s * nr + r] += p->test_acc;
          cnt[s * nr + r]++;
        }
      for (int i = 0; i < ns * nr; i++)
        acc[i] = cnt[i] > 0 ? acc[i] / cnt[i] : NAN;
      g_autofree double *needed = g_new (double, nr), *pred = g_new (double, nr);
      if (fw_noise_size_needed ((double *) sizes->data, ns, (double *) rates->data, nr, acc,
                                needed, pred))
        for (int r = 0; r < nr; r++)
          {
            double x = 100 * g_array_index (rates, double, r);
            if (isfinite (needed[r]))
              fw_line_plot_append (self->size_plot, 0, x, needed[r]);
            if (isfinite (pred[r]))
              fw_line_plot_append (self->size_plot, 1, x, pred[r]);
          }
    }
  fw_plot_view_queue_update (self->size_view);
}

static void
curve_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  FwPageNoise *self = user_data;
  if (job_final (self, job, ev, "Noise curve"))
    {
      if (ev->kind == FW_EVENT_FINISHED)
        {
          g_autofree char *t = fw_format_seconds (ev->elapsed_s);
          g_autofree char *markup = g_markup_printf_escaped (
              "Noise curve done: <b>%u</b> runs in %s. Accuracy on the clean test set; "
              "bands: ± one standard deviation over the seeds.", self->points->len, t);
          gtk_label_set_markup (self->summary_label, markup);
          FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
          if (win != NULL)
            fw_window_show_toast (win, "Noise curve finished");
        }
      return;
    }
  if (ev->kind == FW_EVENT_SNAPSHOT && g_strcmp0 (ev->payload_type, "noise-point") == 0)
    {
      const FwNoisePoint *p = ev->payload;
      g_array_append_val (self->points, *p);
      rebuild_series (self, p->size);
      rebuild_size_needed (self);
      g_autofree char *markup = g_markup_printf_escaped (
          "Run <b>%d/%d</b>: %.0f%% noise, %d samples, seed %d → test accuracy <b>%.1f%%</b>",
          p->index + 1, p->total, 100 * p->rate, p->size, p->seed + 1, 100 * p->test_acc);
      gtk_label_set_markup (self->summary_label, markup);
    }
  else if (ev->kind == FW_EVENT_STARTED)
    gtk_label_set_text (self->summary_label, "Noise curve: training the first model…");
}

/* "0,0.2" -> values; FALSE on a bad field */
static gboolean
parse_list (const char *s, gboolean integers, GArray *out)
{
  g_auto (GStrv) f = g_strsplit (s, ",", -1);
  for (int i = 0; f[i] != NULL; i++)
    {
      char *t = g_strstrip (f[i]), *end = NULL;
      double v = g_ascii_strtod (t, &end);
      if (*t == '\0' || *end != '\0' || !isfinite (v))
        return FALSE;
      if (integers)
        {
          if (v < 1 || v != floor (v) || v > G_MAXINT)
            return FALSE;
          int iv = (int) v;
          g_array_append_val (out, iv);
        }
      else
        {
          if (v < 0 || v > 1)
            return FALSE;
          g_array_append_val (out, v);
        }
    }
  return out->len > 0;
}

void
fw_page_noise_run_curve (FwPageNoise *self)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win == NULL || self->job != NULL)
    return;
  g_autoptr (GArray) rates = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) sizes = g_array_new (FALSE, FALSE, sizeof (int));
  if (!parse_list (gtk_editable_get_text (GTK_EDITABLE (self->rates_entry)), FALSE, rates))
    {
      fw_window_show_error (win, "Noise rates: write fractions between 0 and 1 separated by "
                                 "commas, e.g. 0,0.2,0.5,0.8");
      return;
    }
  if (!parse_list (gtk_editable_get_text (GTK_EDITABLE (self->sizes_entry)), TRUE, sizes))
    {
      fw_window_show_error (win, "Training-set sizes: write positive whole numbers separated "
                                 "by commas, e.g. 1000,4000");
      return;
    }
  char *spec = NULL;
  FwDataset *train = current_dataset (self, &spec);
  if (train == NULL)
    {
      fw_window_show_error (win, "No dataset yet: choose one on the Data page.");
      return;
    }
  CurveJob *cj = g_new0 (CurveJob, 1);
  cj->train = train;
  cj->test = self->test_override != NULL ? fw_dataset_ref (self->test_override) : NULL;
  cj->spec = self->train_override != NULL ? (g_free (spec), NULL) : spec;
  cj->rates = g_steal_pointer (&rates);
  cj->sizes = g_steal_pointer (&sizes);
  cj->seeds = gtk_spin_button_get_value_as_int (self->seeds_spin);
  cj->epochs = gtk_spin_button_get_value_as_int (self->epochs_spin);
  cj->kind = gtk_drop_down_get_selected (self->kind_dropdown) == 1 ? FW_NOISE_PAIR
                                                                   : FW_NOISE_SYMMETRIC;
  cj->method = (int) gtk_drop_down_get_selected (self->loss_dropdown);

  g_array_set_size (self->points, 0);
  g_array_set_size (self->series_sizes, 0);
  fw_line_plot_clear (self->curves);
  fw_plot_view_queue_update (self->curves_view);
  rebuild_size_needed (self);
  gtk_stack_set_visible_child_name (self->viz_stack, "curves");
  fw_window_clear_error (win);
  self->job = fw_window_submit_job (win, "Noise curve", curve_job_run, cj, curve_job_free,
                                    curve_event, self);
  set_running (self, TRUE);
}

/* ---- mislabel detection ---- */

typedef struct {
  FwDataset *train;
  double rate;
  int n;
} DetectJob;

typedef struct {
  FwDataset *noisy;
  gint32 *y_true;
  float *probs;
  FwMislabelReport *rep;
} DetectResult;

static void
detect_job_free (gpointer p)
{
  DetectJob *dj = p;
  fw_dataset_unref (dj->train);
  g_free (dj);
}

static void
detect_result_free (gpointer p)
{
  DetectResult *r = p;
  fw_dataset_unref (r->noisy);
  g_free (r->y_true);
  g_free (r->probs);
  fw_mislabel_report_free (r->rep);
  g_free (r);
}

static gboolean
detect_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  DetectJob *dj = data;
  g_autoptr (FwDataset) sub = NULL;
  if (dj->n < dj->train->n)
    {
      FwDataset *rest = NULL;
      fw_dataset_split (dj->train, (double) dj->n / dj->train->n, 1, &sub, &rest);
      fw_dataset_unref (rest);
    }
  else
    sub = fw_dataset_ref (dj->train);
  g_autoptr (FwNoisyLabels) nl = fw_noise_apply_kind (sub, FW_NOISE_SYMMETRIC, dj->rate, NULL,
                                                      1, error);
  if (nl == NULL)
    return FALSE;
  fw_job_log (job, "%d of %d labels flipped; 2-fold cross-validation of an MLP", nl->n_flipped,
              sub->n);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 5;
  cfg.batch = 64;
  int k = sub->n_classes;
  g_autofree float *probs = g_new (float, (gsize) sub->n * k);
  if (!fw_cross_val_probs (nl->noisy, "mlp", "128", &cfg, 2, 1, cancellable, probs, error))
    return FALSE;
  FwMislabelReport *rep = fw_noise_detect (probs, sub->n, k, nl->noisy->y, nl->y_true, error);
  if (rep == NULL)
    return FALSE;
  DetectResult *r = g_new0 (DetectResult, 1);
  r->noisy = fw_dataset_ref (nl->noisy);
  r->y_true = g_steal_pointer (&nl->y_true);
  r->probs = g_steal_pointer (&probs);
  r->rep = rep;
  fw_job_emit_snapshot (job, "noise-detect", r, detect_result_free);
  return TRUE;
}

typedef struct {
  int i;
  float p;
} Flag;

static int
cmp_flag (const void *a, const void *b)
{
  const Flag *x = a, *y = b;
  return x->p < y->p ? -1 : x->p > y->p ? 1 : x->i - y->i;
}

static const char *
class_name (const FwDataset *ds, int c)
{
  return ds->class_names != NULL && c < ds->n_classes ? ds->class_names[c] : "?";
}

static void
show_detection (FwPageNoise *self, const DetectResult *r)
{
  const FwMislabelReport *rep = r->rep;
  const FwDataset *ds = r->noisy;
  int k = ds->n_classes;
  self->precision = rep->precision;
  self->recall = rep->recall;
  self->n_flagged = rep->n_flagged;
  g_clear_pointer (&self->last_noisy, fw_dataset_unref);
  g_free (self->last_true);
  self->last_noisy = fw_dataset_ref (r->noisy);
  self->last_true = g_memdup2 (r->y_true, sizeof (gint32) * ds->n);
  g_autofree char *markup = g_markup_printf_escaped (
      "<b>%d</b> of %d samples flagged · precision <b>%.1f%%</b> · recall <b>%.1f%%</b> "
      "(%d of the %d flipped labels found). Shown: the %d least confident; "
      "caption = given label → true label; green border = truly flipped, red = false alarm.",
      rep->n_flagged, rep->n, 100 * rep->precision, 100 * rep->recall, rep->n_hits,
      rep->n_true_flips, MIN (rep->n_flagged, MAX_FLAGGED_TILES));
  gtk_label_set_markup (self->detect_label, markup);

  g_autofree Flag *flags = g_new (Flag, MAX (rep->n_flagged, 1));
  int nf = 0;
  for (int i = 0; i < rep->n; i++)
    if (rep->flagged[i])
      flags[nf++] = (Flag) { i, r->probs[(gsize) i * k + ds->y[i]] };
  qsort (flags, nf, sizeof (Flag), cmp_flag);

  int c = ds->shape.c, h = ds->shape.h, w = ds->shape.w;
  g_clear_pointer (&self->grid, fw_image_grid_unref);
  self->grid = fw_image_grid_new (w, h, c == 3 ? 3 : 1);
  fw_image_grid_set_empty_text (self->grid, "No sample flagged");
  g_autofree float *tile = g_new (float, (gsize) h * w * 3);
  for (int t = 0; t < MIN (nf, MAX_FLAGGED_TILES) && (c == 1 || c == 3); t++)
    {
      int i = flags[t].i;
      const float *x = ds->x + (gsize) i * c * h * w;
      /* planar [c][h][w] -> interleaved [h][w][c] */
      for (int p = 0; p < h * w; p++)
        for (int ch = 0; ch < c; ch++)
          tile[p * c + ch] = x[(gsize) ch * h * w + p];
      guint g = fw_image_grid_add (self->grid, tile);
      int given = ds->y[i], truth = r->y_true[i];
      g_autofree char *cap = g_markup_printf_escaped (
          "<span color='%s'>%s</span> → <span color='%s'>%s</span>", fw_palette_hex (given),
          class_name (ds, given), fw_palette_hex (truth), class_name (ds, truth));
      fw_image_grid_set_caption_markup (self->grid, g, cap);
      FwRgba hit = { 0.0, 0.62, 0.45, 1 }, miss = { 0.84, 0.37, 0.0, 1 };
      fw_image_grid_set_border_rgba (self->grid, g, given != truth ? hit : miss);
    }
  fw_plot_view_set_image_grid (self->grid_view, self->grid);
}

static void
detect_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  FwPageNoise *self = user_data;
  if (job_final (self, job, ev, "Mislabel detection"))
    {
      if (ev->kind == FW_EVENT_FINISHED)
        gtk_label_set_text (self->summary_label, "Mislabel detection done.");
      return;
    }
  if (ev->kind == FW_EVENT_SNAPSHOT && g_strcmp0 (ev->payload_type, "noise-detect") == 0)
    show_detection (self, ev->payload);
  else if (ev->kind == FW_EVENT_STARTED)
    gtk_label_set_text (self->summary_label,
                        "Cross-validating a small MLP on noisy labels (two trainings)…");
}

void
fw_page_noise_find_mislabelled (FwPageNoise *self)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win == NULL || self->job != NULL)
    return;
  char *spec = NULL;
  FwDataset *train = current_dataset (self, &spec);
  g_free (spec);
  if (train == NULL)
    {
      fw_window_show_error (win, "No dataset yet: choose one on the Data page.");
      return;
    }
  DetectJob *dj = g_new0 (DetectJob, 1);
  dj->train = train;
  dj->rate = gtk_spin_button_get_value (self->detect_rate_spin);
  dj->n = gtk_spin_button_get_value_as_int (self->detect_n_spin);
  self->precision = self->recall = NAN;
  self->n_flagged = 0;
  gtk_stack_set_visible_child_name (self->viz_stack, "mislabelled");
  fw_window_clear_error (win);
  self->job = fw_window_submit_job (win, "Finding mislabelled samples", detect_job_run, dj,
                                    detect_job_free, detect_event, self);
  set_running (self, TRUE);
}

gboolean
fw_page_noise_show_in_embeddings (FwPageNoise *self)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win == NULL || self->last_noisy == NULL)
    return FALSE;
  GtkStack *stack = fw_window_get_stack (win);
  GtkWidget *embed = gtk_stack_get_child_by_name (stack, "embed");
  if (embed == NULL || !FW_IS_PAGE_EMBED (embed))
    return FALSE;
  fw_page_embed_set_noisy_dataset (FW_PAGE_EMBED (embed), self->last_noisy, self->last_true);
  gtk_stack_set_visible_child_name (stack, "embed");
  return TRUE;
}

static void
cancel_clicked (FwPageNoise *self)
{
  if (self->job != NULL)
    fw_job_cancel (self->job);
}

/* ---- life cycle ---- */

static void
fw_page_noise_dispose (GObject *object)
{
  FwPageNoise *self = FW_PAGE_NOISE (object);
  if (self->job != NULL)
    fw_job_cancel (self->job);
  g_clear_pointer (&self->job, fw_job_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), FW_TYPE_PAGE_NOISE);
  G_OBJECT_CLASS (fw_page_noise_parent_class)->dispose (object);
}

static void
fw_page_noise_finalize (GObject *object)
{
  FwPageNoise *self = FW_PAGE_NOISE (object);
  g_clear_pointer (&self->regression, fw_line_plot_unref);
  g_clear_pointer (&self->curves, fw_line_plot_unref);
  g_clear_pointer (&self->size_plot, fw_line_plot_unref);
  g_clear_pointer (&self->grid, fw_image_grid_unref);
  g_clear_pointer (&self->train_override, fw_dataset_unref);
  g_clear_pointer (&self->test_override, fw_dataset_unref);
  g_clear_pointer (&self->last_noisy, fw_dataset_unref);
  g_clear_pointer (&self->last_true, g_free);
  g_clear_pointer (&self->points, g_array_unref);
  g_clear_pointer (&self->series_sizes, g_array_unref);
  G_OBJECT_CLASS (fw_page_noise_parent_class)->finalize (object);
}

static void
fw_page_noise_class_init (FwPageNoiseClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = fw_page_noise_dispose;
  object_class->finalize = fw_page_noise_finalize;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/frugal/Workbench/ui/fw-page-noise.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, FwPageNoise, name)
  BIND (root);
  BIND (sigma_scale);
  BIND (n_scale);
  BIND (regression_label);
  BIND (kind_dropdown);
  BIND (loss_dropdown);
  BIND (rates_entry);
  BIND (sizes_entry);
  BIND (seeds_spin);
  BIND (epochs_spin);
  BIND (curve_button);
  BIND (detect_rate_spin);
  BIND (detect_n_spin);
  BIND (detect_button);
  BIND (embed_button);
  BIND (cancel_button);
  BIND (summary_label);
  BIND (viz_stack);
  BIND (regression_box);
  BIND (curves_box);
  BIND (size_box);
  BIND (detect_box);
#undef BIND
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
fw_page_noise_init (FwPageNoise *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->points = g_array_new (FALSE, FALSE, sizeof (FwNoisePoint));
  self->series_sizes = g_array_new (FALSE, FALSE, sizeof (int));
  self->precision = self->recall = NAN;

  self->regression = fw_line_plot_new ();
  fw_line_plot_set_title (self->regression, "Same-sample regression: error of the mean");
  fw_line_plot_set_x_label (self->regression, "number of noisy labels N", "log scale");
  fw_line_plot_set_y_label (self->regression, "squared error (g - g_real)²", "log scale");
  fw_line_plot_set_log_x (self->regression, TRUE);
  fw_line_plot_set_log_y (self->regression, TRUE);
  guint s0 = fw_line_plot_add_series (self->regression, "measured (mean of N labels)", 0);
  guint s1 = fw_line_plot_add_series (self->regression, "σ²/N", 1);
  fw_line_plot_series_set_markers (self->regression, s0, TRUE);
  fw_line_plot_series_set_dashed (self->regression, s1, TRUE);
  self->regression_view = fw_plot_view_new_in_box (self->regression_box, "same-sample-regression");
  fw_plot_view_set_line_plot (self->regression_view, self->regression);

  self->curves = fw_line_plot_new ();
  fw_line_plot_set_title (self->curves, "Test accuracy vs label noise");
  fw_line_plot_set_x_label (self->curves, "training labels flipped", "%");
  fw_line_plot_set_y_label (self->curves, "test accuracy", "%");
  fw_line_plot_set_x_range (self->curves, 0, 100);
  fw_line_plot_set_y_range (self->curves, 0, 100);
  fw_line_plot_set_empty_text (self->curves, "Run a noise curve: one small model per noise "
                                             "rate, size and seed on the current dataset");
  self->curves_view = fw_plot_view_new_in_box (self->curves_box, "label-noise-curves");
  fw_plot_view_set_line_plot (self->curves_view, self->curves);

  self->size_plot = fw_line_plot_new ();
  fw_line_plot_set_title (self->size_plot, "Training-set size needed to match the clean accuracy");
  fw_line_plot_set_x_label (self->size_plot, "training labels flipped", "%");
  fw_line_plot_set_y_label (self->size_plot, "training samples", "log scale");
  fw_line_plot_set_log_y (self->size_plot, TRUE);
  fw_line_plot_set_x_range (self->size_plot, 0, 100);
  fw_line_plot_set_empty_text (self->size_plot, "Run a noise curve with several sizes "
                                                "(e.g. 500,1000,2000,4000) and rate 0");
  guint z0 = fw_line_plot_add_series (self->size_plot, "measured (interpolated)", 0);
  guint z1 = fw_line_plot_add_series (self->size_plot, "same number of correct labels: "
                                                       "n₀ / (1 − rate)", 1);
  fw_line_plot_series_set_markers (self->size_plot, z0, TRUE);
  fw_line_plot_series_set_dashed (self->size_plot, z1, TRUE);
  self->size_view = fw_plot_view_new_in_box (self->size_box, "size-needed");
  fw_plot_view_set_line_plot (self->size_view, self->size_plot);

  self->detect_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->detect_label, TRUE);
  gtk_label_set_xalign (self->detect_label, 0);
  gtk_label_set_text (self->detect_label, "Find mislabelled samples: flagged samples appear "
                                          "here with their given and true labels.");
  gtk_box_append (self->detect_box, GTK_WIDGET (self->detect_label));
  self->grid = fw_image_grid_new (1, 1, 1);
  fw_image_grid_set_empty_text (self->grid, "No detection yet");
  self->grid_view = fw_plot_view_new_in_box (self->detect_box, "mislabelled-samples");
  fw_plot_view_set_image_grid (self->grid_view, self->grid);

  g_signal_connect_swapped (self->sigma_scale, "value-changed",
                            G_CALLBACK (update_regression), self);
  g_signal_connect_swapped (self->n_scale, "value-changed", G_CALLBACK (update_regression),
                            self);
  g_signal_connect_swapped (self->curve_button, "clicked",
                            G_CALLBACK (fw_page_noise_run_curve), self);
  g_signal_connect_swapped (self->detect_button, "clicked",
                            G_CALLBACK (fw_page_noise_find_mislabelled), self);
  g_signal_connect_swapped (self->cancel_button, "clicked", G_CALLBACK (cancel_clicked), self);
  g_signal_connect_swapped (self->embed_button, "clicked",
                            G_CALLBACK (fw_page_noise_show_in_embeddings), self);
  set_running (self, FALSE);
  update_regression (self);
}
