/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-weak.c: the Weak labels page (see fw-page-weak.h). */
#include "fw-page-weak.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-aug-sweep.h"
#include "fw-colors.h"
#include "fw-error.h"
#include "fw-plot-view.h"
#include "fw-recipe-ext.h"
#include "fw-util.h"
#include "fw-weak-job.h"
#include "fw-window-private.h"

#define ACTIVE_TEST_LIMIT 2000

typedef struct {
  int strategy, seed, n_labels;
  double acc;
} ActiveRow;

struct _FwPageWeak {
  GtkWidget parent_instance;

  /* template widgets */
  GtkWidget *root;
  GtkDropDown *method_dropdown, *encoder_dropdown, *strategy_dropdown;
  GtkSpinButton *per_class_spin, *unlabelled_spin, *pre_epochs_spin, *seeds_spin,
                *threshold_spin, *start_spin, *batch_spin, *rounds_spin, *calib_per_class_spin,
                *shift_spin;
  GtkCheckButton *variance_check;
  GtkWidget *weak_button, *active_button, *query_button, *add_labels_button, *calib_button,
            *cancel_button;
  GtkLabel *summary_label;
  GtkStack *viz_stack;
  GtkBox *methods_box, *selftrain_box, *variance_box, *active_box, *calib_box;

  /* plots (owned) and their views */
  FwBarChart *methods_bars, *st_bars, *var_bars;
  FwLinePlot *pretext, *st_acc, *active_plot, *rel_plot;
  FwImageGrid *query_grid;
  FwHeatmap *props;
  FwPlotView *methods_view, *pretext_view, *st_view, *st_acc_view, *var_view, *active_view,
             *query_view, *rel_view, *props_view;

  /* state */
  FwJob *job;
  char **extra_keys;
  double fine[FW_WEAK_N_METHODS][16], probe[FW_WEAK_N_METHODS][16];
  int n_seen[FW_WEAK_N_METHODS];
  int pretext_series[FW_WEAK_N_METHODS];
  double pretext_first[FW_WEAK_N_METHODS];
  GArray *rounds;              /* FwSelftrainRound of seed 1 */
  GArray *active_rows;         /* ActiveRow */
  int active_series[FW_QUERY_N + 1];
  /* hand labelling */
  FwDataset *hand_ds;          /* the pool the session labels (a reference) */
  char *hand_spec;
  GArray *hand_lab, *hand_labels, *hand_cand;   /* gint32 */
  gint32 *queried;             /* [n_queried] */
  int *given;                  /* [n_queried] the person's labels, -1 = none */
  int n_queried;
  GtkWidget *popover;
  int popover_tile;
};

G_DEFINE_FINAL_TYPE (FwPageWeak, fw_page_weak, GTK_TYPE_WIDGET)

FwBarChart *fw_page_weak_get_methods_chart (FwPageWeak *self) { return self->methods_bars; }
FwLinePlot *fw_page_weak_get_pretext_plot (FwPageWeak *self) { return self->pretext; }
FwBarChart *fw_page_weak_get_selftrain_chart (FwPageWeak *self) { return self->st_bars; }
FwBarChart *fw_page_weak_get_variance_chart (FwPageWeak *self) { return self->var_bars; }
FwLinePlot *fw_page_weak_get_active_plot (FwPageWeak *self) { return self->active_plot; }
FwImageGrid *fw_page_weak_get_query_grid (FwPageWeak *self) { return self->query_grid; }
FwLinePlot *fw_page_weak_get_reliability_plot (FwPageWeak *self) { return self->rel_plot; }
FwHeatmap *fw_page_weak_get_proportions (FwPageWeak *self) { return self->props; }
gboolean fw_page_weak_is_running (FwPageWeak *self) { return self->job != NULL; }

void
fw_page_weak_show_view (FwPageWeak *self, const char *view)
{
  if (gtk_stack_get_child_by_name (self->viz_stack, view) != NULL)
    gtk_stack_set_visible_child_name (self->viz_stack, view);
}

int
fw_page_weak_get_n_hand_labelled (FwPageWeak *self)
{
  return self->hand_lab != NULL ? (int) self->hand_lab->len : 0;
}

void
fw_page_weak_set_font_scale (FwPageWeak *self, double scale)
{
  FwPlotView *views[] = { self->methods_view, self->pretext_view, self->st_view,
                          self->st_acc_view, self->var_view, self->active_view,
                          self->query_view, self->rel_view, self->props_view };
  for (gsize i = 0; i < G_N_ELEMENTS (views); i++)
    fw_plot_view_set_font_scale (views[i], scale);
}

static void
select_string (GtkDropDown *dd, const char *value)
{
  GListModel *m = gtk_drop_down_get_model (dd);
  for (guint i = 0; i < g_list_model_get_n_items (m); i++)
    if (g_strcmp0 (gtk_string_list_get_string (GTK_STRING_LIST (m), i), value) == 0)
      gtk_drop_down_set_selected (dd, i);
}

static const char *
selected_string (GtkDropDown *dd)
{
  GListModel *m = gtk_drop_down_get_model (dd);
  return gtk_string_list_get_string (GTK_STRING_LIST (m), gtk_drop_down_get_selected (dd));
}

void
fw_page_weak_set_form (FwPageWeak *self, const char *methods, int per_class, int unlabelled,
                       int pre_epochs, int seeds)
{
  select_string (self->method_dropdown, methods);
  if (strcmp (selected_string (self->method_dropdown), methods) != 0)
    {
      /* a list not in the drop-down: keep it as an extra key */
      g_autofree char *kv = g_strdup_printf ("methods=%s", methods);
      const char *keys[] = { kv, NULL };
      fw_page_weak_set_extra_keys (self, keys);
    }
  gtk_spin_button_set_value (self->per_class_spin, per_class);
  gtk_spin_button_set_value (self->unlabelled_spin, unlabelled);
  gtk_spin_button_set_value (self->pre_epochs_spin, pre_epochs);
  gtk_spin_button_set_value (self->seeds_spin, seeds);
}

void
fw_page_weak_set_active_form (FwPageWeak *self, const char *strategy, int start, int batch,
                              int rounds)
{
  select_string (self->strategy_dropdown, strategy);
  gtk_spin_button_set_value (self->start_spin, start);
  gtk_spin_button_set_value (self->batch_spin, batch);
  gtk_spin_button_set_value (self->rounds_spin, rounds);
}

void
fw_page_weak_set_extra_keys (FwPageWeak *self, const char *const *keys)
{
  g_strfreev (self->extra_keys);
  self->extra_keys = keys != NULL ? g_strdupv ((char **) keys) : NULL;
}

/* ---- jobs ---- */

static void
set_running (FwPageWeak *self, gboolean running)
{
  gtk_widget_set_sensitive (self->weak_button, !running);
  gtk_widget_set_sensitive (self->active_button, !running);
  gtk_widget_set_sensitive (self->query_button, !running);
  gtk_widget_set_sensitive (self->calib_button, !running);
  gtk_widget_set_sensitive (self->add_labels_button, !running && self->n_queried > 0);
  gtk_widget_set_sensitive (self->cancel_button, running);
}

static void
set_summary (FwPageWeak *self, const char *text)
{
  g_autofree char *esc = g_markup_escape_text (text, -1);
  gtk_label_set_markup (self->summary_label, esc);
}

/* A recipe of the group for the Data page's dataset, with the extra keys set; NULL with an
 * error shown when there is no dataset. */
static FwRecipe *
make_recipe (FwPageWeak *self, const char *group)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win == NULL)
    return NULL;
  const char *spec = fw_window_get_data_spec (win);
  if (spec == NULL || fw_window_get_dataset (win) == NULL)
    {
      fw_window_show_error (win, "No dataset yet: choose one on the Data page.");
      return NULL;
    }
  g_autofree char *text = g_strdup_printf ("[data]\ndataset = %s\n[%s]\n", spec, group);
  g_autoptr (GError) error = NULL;
  FwRecipe *r = fw_recipe_load_data (text, strlen (text), group, &error);
  if (r == NULL)
    {
      fw_window_show_error (win, error->message);
      return NULL;
    }
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *dir = g_strdup_printf ("%s-%s", group, stamp);
  g_free (r->out_dir);
  r->out_dir = g_build_filename (fw_window_get_runs_dir (win), dir, NULL);
  return r;
}

static void
apply_extra_keys (FwPageWeak *self, FwRecipe *r, const char *group)
{
  const FwRecipeExt *ext = fw_recipe_ext_lookup (group);
  for (int i = 0; self->extra_keys != NULL && self->extra_keys[i] != NULL; i++)
    {
      g_auto (GStrv) kv = g_strsplit (self->extra_keys[i], "=", 2);
      if (kv[0] == NULL || kv[1] == NULL)
        continue;
      for (int j = 0; ext->keys[j] != NULL; j++)
        if (strcmp (ext->keys[j], kv[0]) == 0)
          fw_recipe_ext_set (r, group, kv[0], kv[1]);
    }
}

static void set_int_key (FwRecipe *r, const char *group, const char *key, double v)
{
  g_autofree char *s = g_strdup_printf ("%d", (int) lround (v));
  fw_recipe_ext_set (r, group, key, s);
}

static void set_double_key (FwRecipe *r, const char *group, const char *key, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  fw_recipe_ext_set (r, group, key, g_ascii_dtostr (buf, sizeof buf, v));
}

static void job_event (FwJob *job, const FwEvent *ev, gpointer user_data);

static void
submit (FwPageWeak *self, const char *title, FwJobFunc run, gpointer data,
        GDestroyNotify data_free)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  fw_window_clear_error (win);
  self->job = fw_window_submit_job (win, title, run, data, data_free, job_event, self);
  set_running (self, TRUE);
}

/* ---- few-label methods ---- */

static void
reset_methods (FwPageWeak *self)
{
  memset (self->n_seen, 0, sizeof self->n_seen);
  for (int m = 0; m < FW_WEAK_N_METHODS; m++)
    self->pretext_series[m] = -1;
  fw_line_plot_clear (self->pretext);
  fw_bar_chart_set_data (self->methods_bars, NULL, NULL, 0);
  fw_bar_chart_set_data (self->st_bars, NULL, NULL, 0);
  fw_bar_chart_set_data (self->var_bars, NULL, NULL, 0);
  fw_line_plot_clear (self->st_acc);
  g_array_set_size (self->rounds, 0);
}

void
fw_page_weak_run_methods (FwPageWeak *self)
{
  if (self->job != NULL)
    return;
  g_autoptr (FwRecipe) r = make_recipe (self, "weak");
  if (r == NULL)
    return;
  const char *G = "weak";
  const char *m = selected_string (self->method_dropdown);
  fw_recipe_ext_set (r, G, "methods", strcmp (m, "lecture five") == 0
                                      ? "supervised,ae,rotation,vicreg,selftrain" : m);
  set_int_key (r, G, "per_class", gtk_spin_button_get_value (self->per_class_spin));
  set_int_key (r, G, "unlabelled", gtk_spin_button_get_value (self->unlabelled_spin));
  set_int_key (r, G, "pretrain_epochs", gtk_spin_button_get_value (self->pre_epochs_spin));
  set_int_key (r, G, "seeds", gtk_spin_button_get_value (self->seeds_spin));
  set_double_key (r, G, "threshold", gtk_spin_button_get_value (self->threshold_spin));
  fw_recipe_ext_set (r, G, "encoder", selected_string (self->encoder_dropdown));
  if (!gtk_check_button_get_active (self->variance_check))
    {
      fw_recipe_ext_set (r, G, "vic_var", "0");
      fw_recipe_ext_set (r, G, "vic_cov", "0");
    }
  fw_recipe_ext_set (r, G, "test_limit", "2000");
  apply_extra_keys (self, r, G);
  reset_methods (self);
  gtk_stack_set_visible_child_name (self->viz_stack, "methods");
  submit (self, "Few labels", fw_weak_job_run, g_steal_pointer (&r),
          (GDestroyNotify) fw_recipe_free);
}

static gboolean
is_pretext_phase (const char *phase)
{
  return strcmp (phase, "probe") != 0 && strcmp (phase, "fine-tune") != 0
         && strcmp (phase, "supervised") != 0 && strncmp (phase, "round", 5) != 0;
}

static void
weak_epoch (FwPageWeak *self, const FwWeakEpoch *e)
{
  if (e->seed != 0 || !is_pretext_phase (e->phase) || !isfinite (e->loss))
    return;
  int m = e->method;
  if (self->pretext_series[m] < 0 || e->epoch == 1)
    {
      if (self->pretext_series[m] < 0)
        self->pretext_series[m] = (int) fw_line_plot_add_series (
            self->pretext, fw_weak_method_title (m), m);
      else
        fw_line_plot_clear_series (self->pretext, self->pretext_series[m]);
      self->pretext_first[m] = e->loss > 0 ? e->loss : 1.0;
    }
  fw_line_plot_append (self->pretext, self->pretext_series[m], e->epoch,
                       e->loss / self->pretext_first[m]);
  fw_plot_view_queue_update (self->pretext_view);
}

static void
rebuild_selftrain (FwPageWeak *self)
{
  guint n = self->rounds->len;
  g_autofree double *v = g_new (double, 2 * n + 1);
  g_autofree int *col = g_new (int, 2 * n + 1);
  g_autoptr (GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);
  guint nb = 0;
  for (guint i = 0; i < n; i++)
    {
      FwSelftrainRound *r = &g_array_index (self->rounds, FwSelftrainRound, i);
      if (r->added == 0 && i + 1 == n)
        break;
      v[nb] = r->added - r->wrong;
      col[nb] = 2;
      g_ptr_array_add (labels, g_strdup_printf ("R%d right", r->round + 1));
      nb++;
      v[nb] = r->wrong;
      col[nb] = 5;
      g_ptr_array_add (labels, g_strdup_printf ("R%d wrong", r->round + 1));
      nb++;
    }
  g_ptr_array_add (labels, NULL);
  fw_bar_chart_set_data (self->st_bars, v, (const char *const *) labels->pdata, nb);
  fw_bar_chart_set_color_indices (self->st_bars, col);
  fw_plot_view_queue_update (self->st_view);
}

static void
weak_round (FwPageWeak *self, const FwWeakRoundEvent *e)
{
  char name[32];
  g_snprintf (name, sizeof name, "seed %d", e->seed + 1);
  guint s = 0;
  gboolean found = FALSE;
  for (guint i = 0; i < fw_line_plot_get_n_series (self->st_acc) && !found; i++)
    if (strcmp (fw_line_plot_get_series_name (self->st_acc, i), name) == 0)
      s = i, found = TRUE;
  if (!found)
    {
      s = fw_line_plot_add_series (self->st_acc, name, e->seed);
      fw_line_plot_series_set_markers (self->st_acc, s, TRUE);
    }
  fw_line_plot_append (self->st_acc, s, e->round.round, 100 * e->round.test_acc);
  fw_plot_view_queue_update (self->st_acc_view);
  if (e->seed == 0)
    {
      g_array_append_val (self->rounds, e->round);
      rebuild_selftrain (self);
    }
}

static void
weak_result (FwPageWeak *self, const FwWeakResult *r)
{
  int m = r->method;
  if (self->n_seen[m] < 16)
    {
      self->fine[m][self->n_seen[m]] = r->fine_acc;
      self->probe[m][self->n_seen[m]] = r->probe_acc;
      self->n_seen[m]++;
    }
  double v[FW_WEAK_N_METHODS];
  int cols[FW_WEAK_N_METHODS];
  char *labels[FW_WEAK_N_METHODS + 1];
  guint nb = 0;
  for (int k = 0; k < FW_WEAK_N_METHODS; k++)
    {
      if (self->n_seen[k] == 0)
        continue;
      double s = 0, q = 0;
      for (int i = 0; i < self->n_seen[k]; i++)
        s += self->fine[k][i];
      double mean = s / self->n_seen[k];
      for (int i = 0; i < self->n_seen[k]; i++)
        q += (self->fine[k][i] - mean) * (self->fine[k][i] - mean);
      double sd = self->n_seen[k] > 1 ? sqrt (q / (self->n_seen[k] - 1)) : 0;
      v[nb] = mean;
      cols[nb] = k;
      labels[nb] = self->n_seen[k] > 1
                   ? g_strdup_printf ("%s ±%.1f", fw_weak_method_name (k), 100 * sd)
                   : g_strdup (fw_weak_method_name (k));
      nb++;
    }
  labels[nb] = NULL;
  fw_bar_chart_set_data (self->methods_bars, v, (const char *const *) labels, nb);
  fw_bar_chart_set_color_indices (self->methods_bars, cols);
  for (guint i = 0; i < nb; i++)
    g_free (labels[i]);
  fw_plot_view_queue_update (self->methods_view);
  if (r->emb_std != NULL && r->n_dims > 0)
    {
      g_autofree double *sd = g_new (double, r->n_dims);
      for (int j = 0; j < r->n_dims; j++)
        sd[j] = r->emb_std[j];
      fw_bar_chart_set_data (self->var_bars, sd, NULL, r->n_dims);
      fw_bar_chart_set_single_color (self->var_bars, fw_palette_color (m));
      g_autofree char *title = g_strdup_printf ("Per-dimension std of the embedding after %s "
                                                "(seed %d); VICReg's target is 1",
                                                fw_weak_method_title (m), r->seed + 1);
      fw_bar_chart_set_title (self->var_bars, title);
      fw_plot_view_queue_update (self->var_view);
    }
  g_autofree char *msg = isnan (r->probe_acc)
    ? g_strdup_printf ("%s, seed %d: test accuracy %.1f%%", fw_weak_method_title (m),
                       r->seed + 1, 100 * r->fine_acc)
    : g_strdup_printf ("%s, seed %d: linear probe %.1f%%, fine-tuned %.1f%%",
                       fw_weak_method_title (m), r->seed + 1, 100 * r->probe_acc,
                       100 * r->fine_acc);
  set_summary (self, msg);
}

/* ---- active learning ---- */

static guint
active_series (FwPageWeak *self, int strategy)
{
  if (self->active_series[strategy] < 0)
    {
      const char *name = strategy == FW_QUERY_N ? "your labels" : fw_query_title (strategy);
      guint s = fw_line_plot_add_series (self->active_plot, name, strategy);
      fw_line_plot_series_set_markers (self->active_plot, s, TRUE);
      if (strategy == FW_QUERY_RANDOM)
        fw_line_plot_series_set_dashed (self->active_plot, s, TRUE);
      self->active_series[strategy] = (int) s;
    }
  return (guint) self->active_series[strategy];
}

/* mean ± std over seeds at each number of labels, per strategy */
static void
rebuild_active (FwPageWeak *self, int strategy)
{
  guint s = active_series (self, strategy);
  g_autoptr (GArray) xs = g_array_new (FALSE, FALSE, sizeof (int));
  for (guint i = 0; i < self->active_rows->len; i++)
    {
      ActiveRow *a = &g_array_index (self->active_rows, ActiveRow, i);
      gboolean seen = FALSE;
      for (guint j = 0; j < xs->len; j++)
        seen |= g_array_index (xs, int, j) == a->n_labels;
      if (a->strategy == strategy && !seen)
        g_array_append_val (xs, a->n_labels);
    }
  fw_line_plot_clear_series (self->active_plot, s);
  for (guint j = 0; j < xs->len; j++)
    {
      int x = g_array_index (xs, int, j), n = 0;
      double sum = 0, sq = 0;
      for (guint i = 0; i < self->active_rows->len; i++)
        {
          ActiveRow *a = &g_array_index (self->active_rows, ActiveRow, i);
          if (a->strategy == strategy && a->n_labels == x)
            sum += 100 * a->acc, sq += 1e4 * a->acc * a->acc, n++;
        }
      double mean = sum / n, sd = n > 1 ? sqrt (MAX (sq - n * mean * mean, 0) / (n - 1)) : 0;
      fw_line_plot_append_band (self->active_plot, s, x, mean, mean - sd, mean + sd);
    }
  fw_plot_view_queue_update (self->active_view);
}

static void
reset_active_plot (FwPageWeak *self)
{
  fw_line_plot_clear (self->active_plot);
  for (int i = 0; i <= FW_QUERY_N; i++)
    self->active_series[i] = -1;
  g_array_set_size (self->active_rows, 0);
}

void
fw_page_weak_run_active (FwPageWeak *self)
{
  if (self->job != NULL)
    return;
  g_autoptr (FwRecipe) r = make_recipe (self, "active");
  if (r == NULL)
    return;
  const char *G = "active";
  fw_recipe_ext_set (r, G, "strategies", selected_string (self->strategy_dropdown));
  set_int_key (r, G, "start_per_class", gtk_spin_button_get_value (self->start_spin));
  set_int_key (r, G, "batch", gtk_spin_button_get_value (self->batch_spin));
  set_int_key (r, G, "rounds", gtk_spin_button_get_value (self->rounds_spin));
  set_int_key (r, G, "test_limit", ACTIVE_TEST_LIMIT);
  apply_extra_keys (self, r, G);
  reset_active_plot (self);
  gtk_stack_set_visible_child_name (self->viz_stack, "active");
  submit (self, "Active learning", fw_active_job_run, g_steal_pointer (&r),
          (GDestroyNotify) fw_recipe_free);
}

/* one hand-labelling round on the worker */
typedef struct {
  FwDataset *train;
  char *spec;
  int strategy, batch, epochs;
  GArray *lab, *labels, *cand;
} HandJob;

static void
hand_job_free (gpointer p)
{
  HandJob *h = p;
  g_clear_pointer (&h->train, fw_dataset_unref);
  g_free (h->spec);
  g_array_unref (h->lab);
  g_array_unref (h->labels);
  g_array_unref (h->cand);
  g_free (h);
}

static gboolean
hand_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  HandJob *h = data;
  g_autoptr (FwDataset) train = NULL;
  g_autoptr (FwDataset) test = NULL;
  if (!fw_aug_sweep_load_test (h->train, h->spec, &train, &test, cancellable, error))
    return FALSE;
  if (test->n > ACTIVE_TEST_LIMIT)
    {
      FwDataset *part = NULL;
      fw_dataset_split (test, (double) ACTIVE_TEST_LIMIT / test->n, 1, &part, NULL);
      fw_dataset_unref (g_steal_pointer (&test));
      test = part;
    }
  /* the page's indices refer to h->train; a hold-out split would renumber them */
  g_autoptr (FwActiveConfig) c = fw_active_config_new (h->train, test);
  c->cfg.epochs = h->epochs;
  FwActivePoint *p = g_new0 (FwActivePoint, 1);
  if (!fw_active_round (c, h->strategy, 1, (gint32 *) h->lab->data, (gint32 *) h->labels->data,
                        (int) h->lab->len, (gint32 *) h->cand->data, (int) h->cand->len,
                        h->batch, p, cancellable, error))
    {
      fw_active_point_free (p);
      return FALSE;
    }
  p->seed = -1;   /* marks the hand-labelling session */
  fw_job_log (job, "trained on %d labels: test %.1f%%; %d samples to label", p->n_labels,
              100 * p->test_acc, p->n_queried);
  fw_job_emit_snapshot (job, "active-point", p, (GDestroyNotify) fw_active_point_free);
  return TRUE;
}

static void
hand_round (FwPageWeak *self)
{
  HandJob *h = g_new0 (HandJob, 1);
  h->train = fw_dataset_ref (self->hand_ds);
  h->spec = g_strdup (self->hand_spec);
  const char *s = selected_string (self->strategy_dropdown);
  FwQueryStrategy q = FW_QUERY_MARGIN;
  if (!fw_query_from_string (s, &q))
    q = FW_QUERY_MARGIN;   /* "all" means nothing for one person: margin */
  h->strategy = q;
  h->batch = (int) gtk_spin_button_get_value (self->batch_spin);
  h->epochs = 40;
  for (int i = 0; self->extra_keys != NULL && self->extra_keys[i] != NULL; i++)
    if (g_str_has_prefix (self->extra_keys[i], "epochs="))
      h->epochs = MAX (1, atoi (self->extra_keys[i] + 7));
  /* the job reads copies: the page may change its arrays meanwhile */
  h->lab = g_array_copy (self->hand_lab);
  h->labels = g_array_copy (self->hand_labels);
  h->cand = g_array_copy (self->hand_cand);
  gtk_stack_set_visible_child_name (self->viz_stack, "active");
  submit (self, "Active learning: query", hand_job_run, h, hand_job_free);
}

void
fw_page_weak_query (FwPageWeak *self)
{
  if (self->job != NULL)
    return;
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win == NULL)
    return;
  FwDataset *ds = fw_window_get_dataset (win);
  const char *spec = fw_window_get_data_spec (win);
  if (ds == NULL || spec == NULL)
    {
      fw_window_show_error (win, "No dataset yet: choose one on the Data page.");
      return;
    }
  if (self->hand_ds != ds)
    {
      /* a new session: the seeded starting labels (known), the candidate pool */
      g_clear_pointer (&self->hand_ds, fw_dataset_unref);
      self->hand_ds = fw_dataset_ref (ds);
      g_free (self->hand_spec);
      self->hand_spec = g_strdup (spec);
      g_autoptr (FwActiveConfig) c = fw_active_config_new (ds, ds);
      c->start_per_class = (int) gtk_spin_button_get_value (self->start_spin);
      gint32 *lab, *cand;
      int nl, nc;
      fw_active_start (c, 1, &lab, &nl, &cand, &nc);
      g_array_set_size (self->hand_lab, 0);
      g_array_set_size (self->hand_labels, 0);
      g_array_set_size (self->hand_cand, 0);
      g_array_append_vals (self->hand_lab, lab, nl);
      for (int i = 0; i < nl; i++)
        g_array_append_val (self->hand_labels, ds->y[lab[i]]);
      g_array_append_vals (self->hand_cand, cand, nc);
      g_free (lab);
      g_free (cand);
      if (self->active_series[FW_QUERY_N] >= 0)
        fw_line_plot_clear_series (self->active_plot, self->active_series[FW_QUERY_N]);
    }
  hand_round (self);
}

static void
show_queried (FwPageWeak *self, const FwActivePoint *p)
{
  FwDataset *ds = self->hand_ds;
  g_clear_pointer (&self->queried, g_free);
  g_clear_pointer (&self->given, g_free);
  self->n_queried = p->n_queried;
  self->queried = g_memdup2 (p->queried, sizeof (gint32) * MAX (p->n_queried, 1));
  self->given = g_new (int, MAX (p->n_queried, 1));
  FwImageGrid *old = self->query_grid;
  self->query_grid = fw_image_grid_new (ds->shape.w, ds->shape.h, ds->shape.c == 3 ? 3 : 1);
  fw_image_grid_set_title (self->query_grid, "Queried samples: click one to give its label");
  gsize size = fw_dataset_sample_size (ds), plane = (gsize) ds->shape.h * ds->shape.w;
  g_autofree float *px = g_new (float, size);
  for (int i = 0; i < p->n_queried; i++)
    {
      const float *x = ds->x + (gsize) p->queried[i] * size;
      if (ds->shape.c == 3)   /* planar to interleaved */
        for (gsize j = 0; j < plane; j++)
          for (int ch = 0; ch < 3; ch++)
            px[j * 3 + ch] = x[ch * plane + j];
      else
        memcpy (px, x, sizeof (float) * plane);
      guint t = fw_image_grid_add (self->query_grid, px);
      self->given[i] = -1;
      g_autofree char *cap = g_strdup_printf ("? (model: %s)", ds->class_names[p->predicted[i]]);
      fw_image_grid_set_caption (self->query_grid, t, cap, -1);
    }
  fw_plot_view_set_image_grid (self->query_view, self->query_grid);
  g_clear_pointer (&old, fw_image_grid_unref);
}

int
fw_page_weak_get_hand_label (FwPageWeak *self, guint tile)
{
  return tile < (guint) self->n_queried ? self->given[tile] : -1;
}

void
fw_page_weak_set_hand_label (FwPageWeak *self, guint tile, int label)
{
  if (tile >= (guint) self->n_queried || self->hand_ds == NULL
      || label >= self->hand_ds->n_classes)
    return;
  self->given[tile] = label < 0 ? -1 : label;
  if (label >= 0)
    {
      fw_image_grid_set_caption (self->query_grid, tile, self->hand_ds->class_names[label],
                                 label);
      fw_image_grid_set_border (self->query_grid, tile, label);
    }
  else
    {
      fw_image_grid_set_caption (self->query_grid, tile, "?", -1);
      fw_image_grid_set_border (self->query_grid, tile, -1);
    }
  fw_plot_view_queue_update (self->query_view);
}

void
fw_page_weak_add_hand_labels (FwPageWeak *self)
{
  if (self->job != NULL || self->n_queried == 0)
    return;
  int added = 0;
  for (int i = 0; i < self->n_queried; i++)
    {
      if (self->given[i] < 0)
        continue;
      g_array_append_val (self->hand_lab, self->queried[i]);
      g_array_append_val (self->hand_labels, self->given[i]);
      for (guint j = 0; j < self->hand_cand->len; j++)
        if (g_array_index (self->hand_cand, gint32, j) == self->queried[i])
          {
            g_array_remove_index_fast (self->hand_cand, j);
            break;
          }
      added++;
    }
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (added == 0)
    {
      if (win != NULL)
        fw_window_show_toast (win, "Click a queried sample and choose its class first");
      return;
    }
  hand_round (self);
}

static void
popover_class_clicked (GtkButton *button, FwPageWeak *self)
{
  int label = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (button), "label"));
  fw_page_weak_set_hand_label (self, (guint) self->popover_tile, label);
  gtk_popover_popdown (GTK_POPOVER (self->popover));
}

static void
query_tile_activated (FwPlotView *view, int index, FwPageWeak *self)
{
  if (index < 0 || index >= self->n_queried || self->hand_ds == NULL)
    return;
  self->popover_tile = index;
  g_clear_pointer (&self->popover, gtk_widget_unparent);
  GtkWidget *pop = gtk_popover_new ();
  GtkWidget *flow = gtk_flow_box_new ();
  gtk_flow_box_set_max_children_per_line (GTK_FLOW_BOX (flow), 2);
  gtk_flow_box_set_selection_mode (GTK_FLOW_BOX (flow), GTK_SELECTION_NONE);
  for (int k = -1; k < self->hand_ds->n_classes; k++)
    {
      GtkWidget *b = gtk_button_new_with_label (k < 0 ? "No label" : self->hand_ds->class_names[k]);
      g_object_set_data (G_OBJECT (b), "label", GINT_TO_POINTER (k));
      g_signal_connect (b, "clicked", G_CALLBACK (popover_class_clicked), self);
      gtk_flow_box_append (GTK_FLOW_BOX (flow), b);
    }
  gtk_popover_set_child (GTK_POPOVER (pop), flow);
  gtk_widget_set_parent (pop, GTK_WIDGET (view));
  FwPlotStyle style;
  fw_plot_view_get_style (view, &style);
  double x, y, w, h;
  if (fw_image_grid_tile_rect (self->query_grid, gtk_widget_get_width (GTK_WIDGET (view)),
                               gtk_widget_get_height (GTK_WIDGET (view)), &style, index, &x, &y,
                               &w, &h))
    gtk_popover_set_pointing_to (GTK_POPOVER (pop),
                                 &(GdkRectangle) { (int) x, (int) y, (int) w, (int) h });
  self->popover = pop;
  gtk_popover_popup (GTK_POPOVER (pop));
}

static void
active_point (FwPageWeak *self, const FwActivePoint *p)
{
  if (p->seed < 0)
    {
      /* hand labelling */
      guint s = active_series (self, FW_QUERY_N);
      fw_line_plot_append (self->active_plot, s, p->n_labels, 100 * p->test_acc);
      fw_plot_view_queue_update (self->active_view);
      show_queried (self, p);
      g_autofree char *msg = g_strdup_printf ("Trained on %d labels: test accuracy %.1f%%. "
                                              "Click each queried sample, choose its class, then "
                                              "Add my labels.", p->n_labels, 100 * p->test_acc);
      set_summary (self, msg);
      return;
    }
  ActiveRow row = { p->strategy, p->seed, p->n_labels, p->test_acc };
  g_array_append_val (self->active_rows, row);
  rebuild_active (self, p->strategy);
  g_autofree char *msg = g_strdup_printf ("%s, seed %d: %d labels → test accuracy %.1f%%",
                                          fw_query_title (p->strategy), p->seed + 1,
                                          p->n_labels, 100 * p->test_acc);
  set_summary (self, msg);
}

/* ---- calibration ---- */

void
fw_page_weak_run_calibration (FwPageWeak *self)
{
  if (self->job != NULL)
    return;
  g_autoptr (FwRecipe) r = make_recipe (self, "calibrate");
  if (r == NULL)
    return;
  const char *G = "calibrate";
  set_int_key (r, G, "per_class", gtk_spin_button_get_value (self->calib_per_class_spin));
  set_double_key (r, G, "shift_fraction", gtk_spin_button_get_value (self->shift_spin));
  apply_extra_keys (self, r, G);
  gtk_stack_set_visible_child_name (self->viz_stack, "calibration");
  submit (self, "Calibration", fw_calibrate_job_run, g_steal_pointer (&r),
          (GDestroyNotify) fw_recipe_free);
}

static void
show_calibration (FwPageWeak *self, const FwCalibReport *rep)
{
  fw_line_plot_clear (self->rel_plot);
  guint d = fw_line_plot_add_series (self->rel_plot, "perfect calibration", 7);
  fw_line_plot_series_set_dashed (self->rel_plot, d, TRUE);
  fw_line_plot_append (self->rel_plot, d, 0, 0);
  fw_line_plot_append (self->rel_plot, d, 100, 100);
  g_autofree char *n0 = g_strdup_printf ("before (ECE %.3f)", rep->before->ece);
  g_autofree char *n1 = g_strdup_printf ("after T = %.2f (ECE %.3f)", rep->temperature,
                                         rep->after->ece);
  const FwReliability *rs[2] = { rep->before, rep->after };
  const char *names[2] = { n0, n1 };
  for (int a = 0; a < 2; a++)
    {
      guint s = fw_line_plot_add_series (self->rel_plot, names[a], a == 0 ? 1 : 2);
      fw_line_plot_series_set_markers (self->rel_plot, s, TRUE);
      for (int b = 0; b < rs[a]->bins; b++)
        if (rs[a]->count[b] > 0)
          fw_line_plot_append (self->rel_plot, s, 100 * rs[a]->conf[b], 100 * rs[a]->acc[b]);
    }
  fw_plot_view_queue_update (self->rel_view);
  fw_heatmap_set_size (self->props, 4, rep->k);
  g_autofree double *v = g_new (double, 4 * (gsize) rep->k);
  const double *rows[4] = { rep->prop_train, rep->prop_true, rep->prop_pred, rep->prop_em };
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < rep->k; j++)
      v[i * rep->k + j] = 100 * rows[i][j];
  fw_heatmap_set_values (self->props, v);
  const char *row_labels[] = { "training labels", "true (check set)", "predicted (argmax)",
                               "EM estimate", NULL };
  fw_heatmap_set_row_labels (self->props, row_labels);
  fw_heatmap_set_col_labels (self->props, (const char *const *) rep->class_names);
  fw_plot_view_queue_update (self->props_view);
  double l1p = 0, l1e = 0;
  for (int j = 0; j < rep->k; j++)
    {
      l1p += fabs (rep->prop_pred[j] - rep->prop_true[j]);
      l1e += fabs (rep->prop_em[j] - rep->prop_true[j]);
    }
  g_autofree char *msg = g_strdup_printf (
      "Test accuracy %.1f%% (the same after scaling). T = %.2f: ECE %.3f → %.3f, NLL %.3f → "
      "%.3f. Class proportions on %d samples: L1 error %.2f predicted, %.2f EM.",
      100 * rep->before->accuracy, rep->temperature, rep->before->ece, rep->after->ece,
      rep->before->nll, rep->after->nll, rep->check_size, l1p, l1e);
  set_summary (self, msg);
}

/* ---- events ---- */

static void
job_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  FwPageWeak *self = user_data;
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  switch (ev->kind)
    {
    case FW_EVENT_SNAPSHOT:
      if (g_strcmp0 (ev->payload_type, "weak-epoch") == 0)
        weak_epoch (self, ev->payload);
      else if (g_strcmp0 (ev->payload_type, "weak-round") == 0)
        weak_round (self, ev->payload);
      else if (g_strcmp0 (ev->payload_type, "weak-result") == 0)
        weak_result (self, ev->payload);
      else if (g_strcmp0 (ev->payload_type, "active-point") == 0)
        active_point (self, ev->payload);
      else if (g_strcmp0 (ev->payload_type, "calib") == 0)
        show_calibration (self, ev->payload);
      break;
    case FW_EVENT_FINISHED:
    case FW_EVENT_FAILED:
    case FW_EVENT_CANCELLED:
      if (self->job == job)
        g_clear_pointer (&self->job, fw_job_unref);
      set_running (self, FALSE);
      if (ev->kind == FW_EVENT_FAILED && win != NULL)
        {
          g_autofree char *msg = g_strdup_printf ("%s failed: %s", fw_job_get_name (job),
                                                  ev->error ? ev->error->message : "unknown");
          fw_window_show_error (win, msg);
        }
      else if (ev->kind == FW_EVENT_CANCELLED)
        set_summary (self, "Cancelled.");
      else if (ev->message != NULL && *ev->message != '\0'
               && strcmp (fw_job_get_name (job), "Calibration") != 0)
        {
          /* the job's summary starts with its run folder; the numbers are in the plots */
          g_auto (GStrv) lines = g_strsplit (ev->message, "\n", 2);
          g_autofree char *msg = g_strdup_printf ("%s finished; %s", fw_job_get_name (job),
                                                  lines[0]);
          set_summary (self, msg);
          if (win != NULL)
            {
              g_autofree char *t = g_strdup_printf ("%s finished", fw_job_get_name (job));
              fw_window_show_toast (win, t);
            }
        }
      break;
    default:
      break;
    }
}

static void
cancel_clicked (FwPageWeak *self)
{
  if (self->job != NULL)
    fw_job_cancel (self->job);
}

/* A recipe with [weak], [active] or [calibrate] opened in the window: its keys run here. */
static void
open_recipe (GtkWidget *page, const FwRecipe *recipe)
{
  FwPageWeak *self = FW_PAGE_WEAK (page);
  FwWindow *win = fw_window_for_widget (page);
  const FwRecipeExt *ext = fw_recipe_ext_of (recipe);
  if (win == NULL || ext == NULL || self->job != NULL)
    return;
  FwRecipe *r = fw_recipe_copy (recipe);
  g_free (r->out_dir);
  g_autofree char *base = g_path_get_basename (recipe->path != NULL ? recipe->path : ext->group);
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *dir = g_strdup_printf ("%s-%s", ext->group, stamp);
  r->out_dir = g_build_filename (fw_window_get_runs_dir (win), dir, NULL);
  if (strcmp (ext->group, "weak") == 0)
    {
      reset_methods (self);
      gtk_stack_set_visible_child_name (self->viz_stack, "methods");
    }
  else if (strcmp (ext->group, "active") == 0)
    {
      reset_active_plot (self);
      gtk_stack_set_visible_child_name (self->viz_stack, "active");
    }
  else
    gtk_stack_set_visible_child_name (self->viz_stack, "calibration");
  g_autofree char *msg = g_strdup_printf ("Running %s from %s", ext->title, base);
  set_summary (self, msg);
  submit (self, ext->title, ext->run, r, (GDestroyNotify) fw_recipe_free);
}

/* ---- life cycle ---- */

static void
fw_page_weak_dispose (GObject *object)
{
  FwPageWeak *self = FW_PAGE_WEAK (object);
  if (self->job != NULL)
    fw_job_cancel (self->job);
  g_clear_pointer (&self->job, fw_job_unref);
  g_clear_pointer (&self->popover, gtk_widget_unparent);
  gtk_widget_dispose_template (GTK_WIDGET (self), FW_TYPE_PAGE_WEAK);
  G_OBJECT_CLASS (fw_page_weak_parent_class)->dispose (object);
}

static void
fw_page_weak_finalize (GObject *object)
{
  FwPageWeak *self = FW_PAGE_WEAK (object);
  g_clear_pointer (&self->methods_bars, fw_bar_chart_unref);
  g_clear_pointer (&self->st_bars, fw_bar_chart_unref);
  g_clear_pointer (&self->var_bars, fw_bar_chart_unref);
  g_clear_pointer (&self->pretext, fw_line_plot_unref);
  g_clear_pointer (&self->st_acc, fw_line_plot_unref);
  g_clear_pointer (&self->active_plot, fw_line_plot_unref);
  g_clear_pointer (&self->rel_plot, fw_line_plot_unref);
  g_clear_pointer (&self->query_grid, fw_image_grid_unref);
  g_clear_pointer (&self->props, fw_heatmap_unref);
  g_clear_pointer (&self->rounds, g_array_unref);
  g_clear_pointer (&self->active_rows, g_array_unref);
  g_clear_pointer (&self->hand_ds, fw_dataset_unref);
  g_clear_pointer (&self->hand_spec, g_free);
  g_clear_pointer (&self->hand_lab, g_array_unref);
  g_clear_pointer (&self->hand_labels, g_array_unref);
  g_clear_pointer (&self->hand_cand, g_array_unref);
  g_clear_pointer (&self->queried, g_free);
  g_clear_pointer (&self->given, g_free);
  g_strfreev (self->extra_keys);
  G_OBJECT_CLASS (fw_page_weak_parent_class)->finalize (object);
}

static void
fw_page_weak_class_init (FwPageWeakClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = fw_page_weak_dispose;
  object_class->finalize = fw_page_weak_finalize;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/frugal/Workbench/ui/fw-page-weak.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, FwPageWeak, name)
  BIND (root);
  BIND (method_dropdown);
  BIND (encoder_dropdown);
  BIND (strategy_dropdown);
  BIND (per_class_spin);
  BIND (unlabelled_spin);
  BIND (pre_epochs_spin);
  BIND (seeds_spin);
  BIND (threshold_spin);
  BIND (start_spin);
  BIND (batch_spin);
  BIND (rounds_spin);
  BIND (calib_per_class_spin);
  BIND (shift_spin);
  BIND (variance_check);
  BIND (weak_button);
  BIND (active_button);
  BIND (query_button);
  BIND (add_labels_button);
  BIND (calib_button);
  BIND (cancel_button);
  BIND (summary_label);
  BIND (viz_stack);
  BIND (methods_box);
  BIND (selftrain_box);
  BIND (variance_box);
  BIND (active_box);
  BIND (calib_box);
#undef BIND
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
fw_page_weak_init (FwPageWeak *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->rounds = g_array_new (FALSE, FALSE, sizeof (FwSelftrainRound));
  self->active_rows = g_array_new (FALSE, FALSE, sizeof (ActiveRow));
  self->hand_lab = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->hand_labels = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->hand_cand = g_array_new (FALSE, FALSE, sizeof (gint32));
  for (int i = 0; i <= FW_QUERY_N; i++)
    self->active_series[i] = -1;
  for (int m = 0; m < FW_WEAK_N_METHODS; m++)
    self->pretext_series[m] = -1;

  self->methods_bars = fw_bar_chart_new ();
  fw_bar_chart_set_title (self->methods_bars, "Test accuracy with few labels (fine-tuned; "
                                              "± std over seeds)");
  fw_bar_chart_set_format (self->methods_bars, FW_VALUE_PERCENT);
  fw_bar_chart_set_y_label (self->methods_bars, "test accuracy", "%");
  fw_bar_chart_set_empty_text (self->methods_bars, "Run the few-label comparison: each method "
                                                   "pre-trains, then fine-tunes on the labels");
  self->methods_view = fw_plot_view_new_in_box (self->methods_box, "few-label-accuracy");
  fw_plot_view_set_bars (self->methods_view, self->methods_bars);
  self->pretext = fw_line_plot_new ();
  fw_line_plot_set_title (self->pretext, "Pre-training loss (seed 1), relative to epoch 1");
  fw_line_plot_set_x_label (self->pretext, "epoch", NULL);
  fw_line_plot_set_y_label (self->pretext, "loss / loss at epoch 1", NULL);
  fw_line_plot_set_empty_text (self->pretext, "Pre-training curves appear here live");
  self->pretext_view = fw_plot_view_new_in_box (self->methods_box, "pretext-loss");
  fw_plot_view_set_line_plot (self->pretext_view, self->pretext);

  self->st_bars = fw_bar_chart_new ();
  fw_bar_chart_set_title (self->st_bars, "Pseudo-labels added per round (seed 1): right and "
                                         "wrong — the mistakes are reinforced");
  fw_bar_chart_set_format (self->st_bars, FW_VALUE_COUNT);
  fw_bar_chart_set_y_label (self->st_bars, "pseudo-labels", NULL);
  fw_bar_chart_set_empty_text (self->st_bars, "Run the comparison with self-training");
  self->st_view = fw_plot_view_new_in_box (self->selftrain_box, "pseudo-labels");
  fw_plot_view_set_bars (self->st_view, self->st_bars);
  self->st_acc = fw_line_plot_new ();
  fw_line_plot_set_title (self->st_acc, "Test accuracy per self-training round");
  fw_line_plot_set_x_label (self->st_acc, "round (0 = labels only)", NULL);
  fw_line_plot_set_y_label (self->st_acc, "test accuracy", "%");
  self->st_acc_view = fw_plot_view_new_in_box (self->selftrain_box, "self-training-accuracy");
  fw_plot_view_set_line_plot (self->st_acc_view, self->st_acc);

  self->var_bars = fw_bar_chart_new ();
  fw_bar_chart_set_title (self->var_bars, "Per-dimension std of the embedding");
  fw_bar_chart_set_x_label (self->var_bars, "embedding dimension");
  fw_bar_chart_set_y_label (self->var_bars, "standard deviation", NULL);
  fw_bar_chart_set_show_values (self->var_bars, FALSE);
  fw_bar_chart_set_empty_text (self->var_bars, "Pre-train a method: a collapsed embedding "
                                               "has every bar near zero (try VICReg without "
                                               "its variance term)");
  self->var_view = fw_plot_view_new_in_box (self->variance_box, "embedding-variance");
  fw_plot_view_set_bars (self->var_view, self->var_bars);

  self->active_plot = fw_line_plot_new ();
  fw_line_plot_set_title (self->active_plot, "Active learning: test accuracy vs labels");
  fw_line_plot_set_x_label (self->active_plot, "labelled samples", NULL);
  fw_line_plot_set_y_label (self->active_plot, "test accuracy", "%");
  fw_line_plot_set_empty_text (self->active_plot, "Run the oracle curves, or query samples "
                                                  "and label them yourself");
  self->active_view = fw_plot_view_new_in_box (self->active_box, "active-learning");
  fw_plot_view_set_line_plot (self->active_view, self->active_plot);
  self->query_grid = fw_image_grid_new (1, 1, 1);
  fw_image_grid_set_empty_text (self->query_grid, "Query samples to label them by hand");
  self->query_view = fw_plot_view_new_in_box (self->active_box, "queried-samples");
  gtk_widget_set_size_request (GTK_WIDGET (self->query_view), -1, 180);
  gtk_widget_set_vexpand (GTK_WIDGET (self->query_view), FALSE);
  fw_plot_view_set_image_grid (self->query_view, self->query_grid);
  g_signal_connect (self->query_view, "item-activated", G_CALLBACK (query_tile_activated),
                    self);

  self->rel_plot = fw_line_plot_new ();
  fw_line_plot_set_title (self->rel_plot, "Reliability diagram (15 bins) before and after "
                                          "temperature scaling");
  fw_line_plot_set_x_label (self->rel_plot, "confidence", "%");
  fw_line_plot_set_y_label (self->rel_plot, "accuracy", "%");
  fw_line_plot_set_x_range (self->rel_plot, 0, 100);
  fw_line_plot_set_y_range (self->rel_plot, 0, 100);
  fw_line_plot_set_empty_text (self->rel_plot, "Run the calibration");
  self->rel_view = fw_plot_view_new_in_box (self->calib_box, "reliability-diagram");
  fw_plot_view_set_line_plot (self->rel_view, self->rel_plot);
  self->props = fw_heatmap_new (4, 10);
  fw_heatmap_set_title (self->props, "Class proportions on the check set (%)");
  fw_heatmap_set_show_values (self->props, TRUE, "%.0f");
  fw_heatmap_set_colorbar_label (self->props, "%");
  self->props_view = fw_plot_view_new_in_box (self->calib_box, "class-proportions");
  gtk_widget_set_size_request (GTK_WIDGET (self->props_view), -1, 200);
  gtk_widget_set_vexpand (GTK_WIDGET (self->props_view), FALSE);
  fw_plot_view_set_heatmap (self->props_view, self->props);

  g_signal_connect_swapped (self->weak_button, "clicked",
                            G_CALLBACK (fw_page_weak_run_methods), self);
  g_signal_connect_swapped (self->active_button, "clicked",
                            G_CALLBACK (fw_page_weak_run_active), self);
  g_signal_connect_swapped (self->query_button, "clicked", G_CALLBACK (fw_page_weak_query),
                            self);
  g_signal_connect_swapped (self->add_labels_button, "clicked",
                            G_CALLBACK (fw_page_weak_add_hand_labels), self);
  g_signal_connect_swapped (self->calib_button, "clicked",
                            G_CALLBACK (fw_page_weak_run_calibration), self);
  g_signal_connect_swapped (self->cancel_button, "clicked", G_CALLBACK (cancel_clicked), self);
  fw_page_set_recipe_opener (GTK_WIDGET (self), open_recipe);
  set_running (self, FALSE);
  set_summary (self, "Few labels: pre-train on unlabelled images, pseudo-label, ask for the "
                     "right labels, check the confidences.");
}
