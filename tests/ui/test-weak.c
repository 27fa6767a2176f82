/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-weak.c: the Weak labels page driven under Xvfb on simulated digits: the few-label
 * comparison's bars, curves and variance bars hold what the run folder's CSVs say; the oracle
 * active-learning curve follows curves.csv; hand labelling adds exactly the labels given; the
 * calibration plots follow reliability.csv and proportions.csv; a [weak] recipe opens here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-application.h"
#include "fw-page-data.h"
#include "fw-page-data-private.h"
#include "fw-page-weak.h"
#include "fw-plot.h"
#include "fw-window-private.h"
#include "fw-ui-test-util.h"

static FwApplication *app;
static FwWindow *win;
static FwPageWeak *page;
static const char *runs;

static gboolean
page_idle (gpointer p)
{
  return !fw_page_weak_is_running (page);
}

static gboolean
data_ready (gpointer spec)
{
  FwPageData *data = fw_window_get_page_data (win);
  return !fw_page_data_is_loading (data) && fw_page_data_get_dataset (data) != NULL
         && g_strcmp0 (fw_page_data_get_spec (data), spec) == 0;
}

/* The newest run folder whose name starts with prefix, read file name from it (split lines). */
static GStrv
run_file_lines (const char *prefix, const char *name)
{
  g_autoptr (GDir) d = g_dir_open (runs, 0, NULL);
  g_assert_nonnull (d);
  g_autofree char *best = NULL;
  const char *e;
  while ((e = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (e, prefix) && (best == NULL || strcmp (e, best) > 0))
      {
        g_free (best);
        best = g_strdup (e);
      }
  g_assert_nonnull (best);
  g_autofree char *path = g_build_filename (runs, best, name, NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return g_strsplit (g_strchomp (text), "\n", -1);
}

static void
clear_runs (void)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'/*", runs);
  g_assert_cmpint (system (cmd), ==, 0);
}

static void
test_methods (void)
{
  clear_runs ();
  const char *extra[] = { "methods=supervised,ae,selftrain", "finetune_epochs=4",
                          "probe_epochs=3", "hidden=16", "dim=4", "rounds=2",
                          "threshold=0.5", NULL };
  fw_page_weak_set_form (page, "lecture five", 3, 200, 2, 2);
  fw_page_weak_set_extra_keys (page, extra);
  fw_page_weak_run_methods (page);
  g_assert_true (fw_page_weak_is_running (page));
  g_assert_true (fw_ui_wait_until (page_idle, NULL, 180));
  g_assert_null (fw_window_get_error_text (win));
  /* bars: the mean fine-tuned accuracy of each method over the two seeds, as in results.csv */
  g_auto (GStrv) res = run_file_lines ("weak-", "results.csv");
  FwBarChart *bars = fw_page_weak_get_methods_chart (page);
  g_assert_cmpuint (fw_bar_chart_get_n_bars (bars), ==, 3);
  for (guint b = 0; b < 3; b++)
    {
      const char *label = fw_bar_chart_get_label (bars, b);
      double sum = 0;
      int n = 0;
      for (int i = 1; res[i] != NULL; i++)
        {
          g_auto (GStrv) f = g_strsplit (res[i], ",", -1);
          if (g_str_has_prefix (label, f[0]) && label[strlen (f[0])] == ' ')
            sum += g_ascii_strtod (f[3], NULL), n++;
        }
      g_assert_cmpint (n, ==, 2);
      g_assert_cmpfloat_with_epsilon (fw_bar_chart_get_value (bars, b), sum / 2, 1e-5);
    }
  /* pre-training curve of seed 1: the autoencoder's two epochs, relative to the first */
  FwLinePlot *pre = fw_page_weak_get_pretext_plot (page);
  g_assert_cmpuint (fw_line_plot_get_n_series (pre), ==, 1);
  g_assert_cmpuint (fw_line_plot_series_len (pre, 0), ==, 2);
  double x, y;
  g_assert_true (fw_line_plot_get_point (pre, 0, 0, &x, &y));
  g_assert_cmpfloat (y, ==, 1.0);
  /* self-training bars: right and wrong pseudo-labels of seed 1's rounds, as in selftrain.csv */
  g_auto (GStrv) st = run_file_lines ("weak-", "selftrain.csv");
  FwBarChart *sb = fw_page_weak_get_selftrain_chart (page);
  guint bar = 0;
  for (int i = 1; st[i] != NULL; i++)
    {
      int seed, round, n_train, added, wrong, tp, tw;
      double acc;
      sscanf (st[i], "%d,%d,%d,%lf,%d,%d,%d,%d", &seed, &round, &n_train, &acc, &added, &wrong,
              &tp, &tw);
      if (seed != 1 || round == 2)
        continue;
      g_assert_cmpfloat (fw_bar_chart_get_value (sb, bar++), ==, added - wrong);
      g_assert_cmpfloat (fw_bar_chart_get_value (sb, bar++), ==, wrong);
    }
  g_assert_cmpuint (fw_bar_chart_get_n_bars (sb), ==, bar);
  /* variance bars: the last pre-trained embedding (ae, seed 2), per dimension */
  g_auto (GStrv) sd = run_file_lines ("weak-", "embedding-std.csv");
  FwBarChart *vb = fw_page_weak_get_variance_chart (page);
  g_assert_cmpuint (fw_bar_chart_get_n_bars (vb), ==, 4);
  for (int i = 1; sd[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (sd[i], ",", -1);
      if (strcmp (f[0], "ae") == 0 && atoi (f[1]) == 2)
        g_assert_cmpfloat_with_epsilon (fw_bar_chart_get_value (vb, atoi (f[2])),
                                        g_ascii_strtod (f[3], NULL), 1e-5);
    }
  fw_page_weak_set_extra_keys (page, NULL);
}

static void
test_active_oracle (void)
{
  clear_runs ();
  const char *extra[] = { "epochs=3", "pool=100", NULL };
  fw_page_weak_set_extra_keys (page, extra);
  fw_page_weak_set_active_form (page, "margin", 1, 4, 2);
  fw_page_weak_run_active (page);
  g_assert_true (fw_ui_wait_until (page_idle, NULL, 120));
  g_assert_null (fw_window_get_error_text (win));
  g_auto (GStrv) rows = run_file_lines ("active-", "curves.csv");
  FwLinePlot *plot = fw_page_weak_get_active_plot (page);
  g_assert_cmpuint (fw_line_plot_get_n_series (plot), ==, 1);
  g_assert_cmpstr (fw_line_plot_get_series_name (plot, 0), ==, "Margin");
  g_assert_cmpuint (fw_line_plot_series_len (plot, 0), ==, 3);
  for (int i = 1; rows[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (rows[i], ",", -1);
      double x, y;
      g_assert_true (fw_line_plot_get_point (plot, 0, i - 1, &x, &y));
      g_assert_cmpfloat (x, ==, atoi (f[3]));
      g_assert_cmpfloat_with_epsilon (y, 100 * g_ascii_strtod (f[4], NULL), 1e-3);
    }
}

static void
test_hand_labelling (void)
{
  fw_page_weak_set_active_form (page, "entropy", 1, 5, 2);
  fw_page_weak_query (page);
  g_assert_true (fw_ui_wait_until (page_idle, NULL, 120));
  g_assert_null (fw_window_get_error_text (win));
  FwDataset *ds = fw_page_data_get_dataset (fw_window_get_page_data (win));
  int start = fw_page_weak_get_n_hand_labelled (page);
  g_assert_cmpint (start, ==, ds->n_classes);
  FwImageGrid *grid = fw_page_weak_get_query_grid (page);
  g_assert_cmpuint (fw_image_grid_get_n_tiles (grid), ==, 5);
  g_assert_true (g_str_has_prefix (fw_image_grid_get_caption (grid, 0), "? (model: "));
  /* label two of the five (one deliberately "wrong": a person's answer is taken as given) */
  fw_page_weak_set_hand_label (page, 0, 3);
  fw_page_weak_set_hand_label (page, 2, 1);
  g_assert_cmpint (fw_page_weak_get_hand_label (page, 0), ==, 3);
  g_assert_cmpint (fw_page_weak_get_hand_label (page, 1), ==, -1);
  g_assert_cmpstr (fw_image_grid_get_caption (grid, 0), ==, ds->class_names[3]);
  fw_page_weak_add_hand_labels (page);
  g_assert_true (fw_ui_wait_until (page_idle, NULL, 120));
  g_assert_cmpint (fw_page_weak_get_n_hand_labelled (page), ==, start + 2);
  /* the "your labels" curve: one point per round at the number of labels */
  FwLinePlot *plot = fw_page_weak_get_active_plot (page);
  guint s = fw_line_plot_get_n_series (plot) - 1;
  g_assert_cmpstr (fw_line_plot_get_series_name (plot, s), ==, "your labels");
  g_assert_cmpuint (fw_line_plot_series_len (plot, s), ==, 2);
  double x, y;
  g_assert_true (fw_line_plot_get_point (plot, s, 1, &x, &y));
  g_assert_cmpfloat (x, ==, start + 2);
  /* a new query shows new samples, none of them already labelled */
  g_assert_cmpuint (fw_image_grid_get_n_tiles (fw_page_weak_get_query_grid (page)), ==, 5);
  fw_page_weak_set_extra_keys (page, NULL);
}

static void
test_calibration (void)
{
  clear_runs ();
  const char *extra[] = { "per_class=20", "val_per_class=10", "epochs=5", "check_size=300",
                          NULL };
  fw_page_weak_set_extra_keys (page, extra);
  fw_page_weak_run_calibration (page);
  g_assert_true (fw_ui_wait_until (page_idle, NULL, 120));
  g_assert_null (fw_window_get_error_text (win));
  g_auto (GStrv) rel = run_file_lines ("calibrate-", "reliability.csv");
  FwLinePlot *plot = fw_page_weak_get_reliability_plot (page);
  g_assert_cmpuint (fw_line_plot_get_n_series (plot), ==, 3);
  gsize nb[2] = { 0, 0 };
  for (int i = 1; rel[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (rel[i], ",", -1);
      for (int a = 0; a < 2; a++)
        if (atoi (f[3 + 3 * a]) > 0)
          {
            double x, y;
            g_assert_true (fw_line_plot_get_point (plot, 1 + a, nb[a], &x, &y));
            g_assert_cmpfloat_with_epsilon (x, 100 * g_ascii_strtod (f[4 + 3 * a], NULL), 1e-3);
            g_assert_cmpfloat_with_epsilon (y, 100 * g_ascii_strtod (f[5 + 3 * a], NULL), 1e-3);
            nb[a]++;
          }
    }
  g_assert_cmpuint (fw_line_plot_series_len (plot, 1), ==, nb[0]);
  g_assert_cmpuint (fw_line_plot_series_len (plot, 2), ==, nb[1]);
  g_auto (GStrv) prop = run_file_lines ("calibrate-", "proportions.csv");
  FwHeatmap *h = fw_page_weak_get_proportions (page);
  for (int i = 1; prop[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (prop[i], ",", -1);
      for (int r = 0; r < 4; r++)
        g_assert_cmpfloat_with_epsilon (fw_heatmap_get_value (h, r, i - 1),
                                        100 * g_ascii_strtod (f[2 + r], NULL), 1e-3);
    }
  fw_page_weak_set_extra_keys (page, NULL);
}

static void
test_open_recipe (void)
{
  const char *root = g_getenv ("FW_SOURCE_ROOT");
  g_autofree char *path = g_build_filename (root, "resources", "recipes",
                                            "weak-all-methods-quick.ini", NULL);
  g_assert_true (fw_window_open_recipe_file (win, path));
  fw_ui_spin_for (0.3);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (fw_window_get_stack (win)), ==, "weak");
  /* the recipe's dataset loads first, then the job runs on this page */
  g_assert_true (fw_ui_wait_until (data_ready, "sim:1500:20", 60));
  g_assert_true (fw_ui_wait_until (page_idle, NULL, 180));
  fw_ui_spin_for (0.5);
  g_assert_true (fw_ui_wait_until (page_idle, NULL, 180));
  g_assert_null (fw_window_get_error_text (win));
  g_assert_cmpuint (fw_bar_chart_get_n_bars (fw_page_weak_get_methods_chart (page)), ==, 8);
}

static void
test_png (void)
{
  /* the page as the user sees it, for a look (path in the log) */
  const char *dir = g_getenv ("FW_WEAK_SHOT_DIR");
  if (dir == NULL)
    {
      g_test_skip ("set FW_WEAK_SHOT_DIR to write the page PNGs");
      return;
    }
  const char *views[] = { "methods", "selftrain", "variance", "active", "calibration" };
  for (guint i = 0; i < G_N_ELEMENTS (views); i++)
    {
      fw_page_weak_show_view (page, views[i]);
      fw_ui_spin_for (0.5);
      g_autofree char *path = g_strdup_printf ("%s/weak-%s.png", dir, views[i]);
      g_assert_true (fw_ui_save_png (win, path));
      g_test_message ("wrote %s", path);
    }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  fw_ui_test_env ();
  runs = g_dir_make_tmp ("fw-test-weak-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("FW_RUNS_DIR", runs, TRUE);
  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      g_test_skip ("no display (run under xvfb-run)");
      return g_test_run ();
    }
  win = fw_ui_open_window (&app);
  GtkWidget *child = gtk_stack_get_child_by_name (fw_window_get_stack (win), "weak");
  g_assert_nonnull (child);
  page = FW_PAGE_WEAK (child);
  g_action_group_activate_action (G_ACTION_GROUP (win), "show-page",
                                  g_variant_new_string ("weak"));
  /* simulated digits on the Data page (whatever it loaded at start-up first) */
  FwPageData *data = fw_window_get_page_data (win);
  fw_ui_wait_until ((FwUiCond) data_ready, (gpointer) "never", 5);
  while (fw_page_data_is_loading (data))
    fw_ui_spin_for (0.1);
  fw_page_data_load (data, "sim:800:20");
  g_assert_true (fw_ui_wait_until (data_ready, "sim:800:20", 60));

  g_test_add_func ("/WeakPage/methods_bars_curves_variance_match_the_run", test_methods);
  g_test_add_func ("/WeakPage/oracle_curve_matches_curves_csv", test_active_oracle);
  g_test_add_func ("/WeakPage/hand_labels_are_added_as_given", test_hand_labelling);
  g_test_add_func ("/WeakPage/calibration_plots_match_the_run", test_calibration);
  g_test_add_func ("/WeakPage/weak_recipe_opens_here", test_open_recipe);
  g_test_add_func ("/WeakPage/renders_to_png", test_png);
  int ret = g_test_run ();
  gtk_window_destroy (GTK_WINDOW (win));
  fw_ui_spin_for (0.2);
  g_object_unref (app);
  return ret;
}
