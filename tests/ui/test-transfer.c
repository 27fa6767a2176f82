/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-transfer.c: the Transfer page driven under Xvfb: the trainable / frozen counts follow
 * the strategy (checked against counts made layer by layer here), a tiny experiment fills both
 * plots with the numbers its run folder's results.csv holds, and the multi-task demo runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-application.h"
#include "fw-page-transfer.h"
#include "fw-plot.h"
#include "fw-transfer.h"
#include "fw-window-private.h"
#include "fw-ui-test-util.h"

static FwApplication *app;
static FwWindow *win;
static FwPageTransfer *page;

static gboolean
page_idle (gpointer p)
{
  return !fw_page_transfer_is_running (page);
}

static void
test_param_counts (void)
{
  g_action_group_activate_action (G_ACTION_GROUP (win), "show-page",
                                  g_variant_new_string ("transfer"));
  fw_ui_spin_for (0.2);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (fw_window_get_stack (win)), ==, "transfer");
  fw_page_transfer_set_form (page, "sim:100:20", "sim:100:20", NULL, 0, 0, 0, NULL);
  /* the page's default source: lenet5 over 1x20x20, 10 classes; count here layer by layer */
  g_autoptr (GError) error = NULL;
  FwShape s = { 1, 20, 20 };
  g_autofree char *spec = fw_model_arch_spec ("lenet5", NULL, s, 10, &error);
  g_autoptr (FwModel) m = fw_model_new ("lenet5", spec, s, &error);
  g_assert_no_error (error);
  gsize total = m->n_params, head = m->layers[m->n_layers - 1]->n_w;
  gsize t, f;
  fw_page_transfer_set_strategy (page, FW_TRANSFER_SCRATCH);
  fw_ui_spin_for (0.05);
  fw_page_transfer_get_param_counts (page, &t, &f);
  g_assert_cmpuint (t, ==, total);
  g_assert_cmpuint (f, ==, 0);
  fw_page_transfer_set_strategy (page, FW_TRANSFER_HEAD);
  fw_ui_spin_for (0.05);
  fw_page_transfer_get_param_counts (page, &t, &f);
  g_assert_cmpuint (t, ==, 84 * 10 + 10);
  g_assert_cmpuint (t, ==, head);
  g_assert_cmpuint (f, ==, total - head);
  /* LoRA rank 4 on every conv / dense before the head: r (fan_in + out) each */
  fw_page_transfer_set_strategy (page, FW_TRANSFER_LORA);
  fw_ui_spin_for (0.05);
  fw_page_transfer_get_param_counts (page, &t, &f);
  gsize adapters = 0;
  for (int i = 0; i < m->n_layers - 1; i++)
    {
      FwLayer *l = m->layers[i];
      if (l->n_w == 0)
        continue;
      gsize out = (gsize) l->out.c, fan = (l->n_w - out) / out;
      adapters += 4 * (fan + out);
    }
  g_assert_cmpuint (t, ==, adapters + head);
  g_assert_cmpuint (f, ==, total - head); /* the base weights, now state */
}

static double
csv_mean (const char *path, const char *method, int lpc, int *n)
{
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  double s = 0;
  *n = 0;
  for (int i = 1; lines[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (lines[i], ",", -1);
      if (g_strv_length (f) < 5 || g_strcmp0 (f[0], method) != 0 || atoi (f[1]) != lpc)
        continue;
      s += g_ascii_strtod (f[4], NULL);
      (*n)++;
    }
  return *n > 0 ? s / *n : NAN;
}

static void
test_experiment (void)
{
  fw_page_transfer_set_form (page, "sim:150:20", "sim:200:20", "2,0", 2, 5, 1, "head,knn");
  fw_page_transfer_run_experiment (page);
  g_assert_true (fw_page_transfer_is_running (page));
  g_assert_true (fw_ui_wait_until (page_idle, NULL, 240));
  const char *table = fw_page_transfer_get_table_text (page);
  g_assert_nonnull (table);
  /* the run folder is the table's first line */
  g_autofree char *dir = g_strndup (table, strcspn (table, "\n"));
  g_autofree char *csv = g_build_filename (dir, "results.csv", NULL);
  g_assert_true (g_file_test (csv, G_FILE_TEST_EXISTS));
  FwLinePlot *plot = fw_page_transfer_get_labels_plot (page);
  /* head, knn, and the dashed "no target label" line (source and target share 10 classes) */
  g_assert_cmpuint (fw_line_plot_get_n_series (plot), ==, 3);
  const char *methods[2] = { "head", "knn" };
  for (guint s = 0; s < 2; s++)
    {
      g_assert_cmpuint (fw_line_plot_series_len (plot, s), ==, 2);
      double x, y;
      int n;
      /* 2 labels per class at log10 2, then "all" (200 / 10 per class) at log10 20 */
      g_assert_true (fw_line_plot_get_point (plot, s, 0, &x, &y));
      g_assert_cmpfloat (fabs (x - log10 (2)), <, 1e-9);
      g_assert_cmpfloat (fabs (y - 100 * csv_mean (csv, methods[s], 2, &n)), <, 1e-3);
      g_assert_cmpint (n, ==, 2);
      g_assert_true (fw_line_plot_get_point (plot, s, 1, &x, &y));
      g_assert_cmpfloat (fabs (x - log10 (20)), <, 1e-9);
      g_assert_cmpfloat (fabs (y - 100 * csv_mean (csv, methods[s], 0, &n)), <, 1e-3);
    }
  /* accuracy vs time: one series per method, time never decreasing */
  FwLinePlot *tp = fw_page_transfer_get_time_plot (page);
  g_assert_cmpuint (fw_line_plot_get_n_series (tp), ==, 2);
  for (guint s = 0; s < 2; s++)
    {
      gsize len = fw_line_plot_series_len (tp, s);
      g_assert_cmpuint (len, >=, 1);
      double px = -1, x, y;
      for (gsize i = 0; i < len; i++)
        {
          g_assert_true (fw_line_plot_get_point (tp, s, i, &x, &y));
          g_assert_cmpfloat (x, >=, px);
          g_assert_cmpfloat (y, >=, 0);
          g_assert_cmpfloat (y, <=, 100);
          px = x;
        }
    }
  /* after the experiment the counts are about its source model (an MLP-free lenet5) */
  gsize t, f;
  fw_page_transfer_set_strategy (page, FW_TRANSFER_HEAD);
  fw_ui_spin_for (0.05);
  fw_page_transfer_get_param_counts (page, &t, &f);
  g_assert_cmpuint (t, ==, 850);
}

static void
test_bad_form (void)
{
  /* an invalid labels list: an error, no job */
  fw_page_transfer_set_form (page, NULL, NULL, "1,x", 0, 0, 0, NULL);
  fw_page_transfer_run_experiment (page);
  g_assert_false (fw_page_transfer_is_running (page));
  g_assert_nonnull (strstr (fw_window_get_error_text (win), "labels_per_class"));
  fw_page_transfer_set_form (page, NULL, NULL, "2,0", 0, 0, 0, NULL);
}

static void
test_png (void)
{
  const char *dir = g_getenv ("FW_TRANSFER_SHOT_DIR");
  if (dir == NULL)
    {
      g_test_skip ("set FW_TRANSFER_SHOT_DIR to write the page PNG");
      return;
    }
  const char *views[] = { "labels", "time", "table" };
  for (guint i = 0; i < G_N_ELEMENTS (views); i++)
    {
      fw_page_transfer_show_view (page, views[i]);
      fw_ui_spin_for (0.5);
      g_autofree char *file = g_strdup_printf ("transfer-%s.png", views[i]);
      g_autofree char *path = g_build_filename (dir, file, NULL);
      g_assert_true (fw_ui_save_png (GTK_WIDGET (win), path));
    }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  fw_ui_test_env ();
  g_autofree char *runs = g_dir_make_tmp ("fw-test-transfer-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("FW_RUNS_DIR", runs, TRUE);
  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      g_test_skip ("no display (run under xvfb-run)");
      return g_test_run ();
    }
  win = fw_ui_open_window (&app);
  GtkWidget *child = gtk_stack_get_child_by_name (fw_window_get_stack (win), "transfer");
  g_assert_nonnull (child);
  page = FW_PAGE_TRANSFER (child);

  g_test_add_func ("/TransferPage/param_counts_follow_the_strategy", test_param_counts);
  g_test_add_func ("/TransferPage/bad_form_is_an_error", test_bad_form);
  g_test_add_func ("/TransferPage/experiment_fills_both_plots", test_experiment);
  g_test_add_func ("/TransferPage/renders_to_png", test_png);
  int ret = g_test_run ();
  gtk_window_destroy (GTK_WINDOW (win));
  fw_ui_spin_for (0.1);
  g_application_quit (G_APPLICATION (app));
  g_object_unref (app);
  return ret;
}
