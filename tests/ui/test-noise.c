/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-noise.c: the Noise page driven under Xvfb: the regression demo follows its sliders, a
 * tiny noise curve fills the plot with what the engine computes, detection shows flagged
 * samples, and a PNG of the page. */
#include <math.h>
#include <string.h>

#include "fw-application.h"
#include "fw-dataset.h"
#include "fw-noise.h"
#include "fw-page-data-private.h"
#include "fw-page-noise.h"
#include "fw-plot.h"
#include "fw-robust.h"
#include "fw-window-private.h"
#include "fw-ui-test-util.h"

static FwApplication *app;
static FwWindow *win;
static FwPageNoise *page;
static FwDataset *train, *test;

static gboolean
page_idle (gpointer p)
{
  return !fw_page_noise_is_running (page);
}

static FwPageNoise *
find_page (void)
{
  GtkStack *stack = fw_window_get_stack (win);
  GtkWidget *child = gtk_stack_get_child_by_name (stack, "noise");
  g_assert_nonnull (child);
  return FW_PAGE_NOISE (child);
}

static void
test_sigma_slider (void)
{
  g_action_group_activate_action (G_ACTION_GROUP (win), "show-page",
                                  g_variant_new_string ("noise"));
  fw_ui_spin_for (0.2);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (fw_window_get_stack (win)), ==, "noise");
  FwLinePlot *plot = fw_page_noise_get_regression_plot (page);
  gsize n = fw_line_plot_series_len (plot, 0);
  g_assert_cmpuint (n, >, 3);
  g_assert_cmpuint (fw_line_plot_series_len (plot, 1), ==, n);
  double s1 = gtk_range_get_value (fw_page_noise_get_sigma_scale (page));
  g_autofree double *before = g_new (double, n);
  for (gsize i = 0; i < n; i++)
    {
      double x, y, xt, yt;
      g_assert_true (fw_line_plot_get_point (plot, 0, i, &x, &y));
      g_assert_true (fw_line_plot_get_point (plot, 1, i, &xt, &yt));
      before[i] = y;
      /* theory: sigma^2 / N at x = N (a log-log plot: both axes logarithmic) */
      g_assert_cmpfloat (fabs (yt - s1 * s1 / x), <, 1e-9 * yt);
      /* measured within a factor 2 of the theory (hundreds of trials) */
      g_assert_cmpfloat (y / yt, >, 0.5);
      g_assert_cmpfloat (y / yt, <, 2.0);
    }
  /* move the slider: the same draws scaled by sigma, so every error by (s2 / s1)^2 */
  double s2 = 3.0;
  gtk_range_set_value (fw_page_noise_get_sigma_scale (page), s2);
  fw_ui_spin_for (0.05);
  g_assert_cmpuint (fw_line_plot_series_len (plot, 0), ==, n);
  for (gsize i = 0; i < n; i++)
    {
      double x, y;
      g_assert_true (fw_line_plot_get_point (plot, 0, i, &x, &y));
      g_assert_cmpfloat (y, !=, before[i]);
      g_assert_cmpfloat (fabs (y / before[i] - (s2 / s1) * (s2 / s1)), <, 1e-6);
    }
  /* the N slider sets log10 of the largest N: the last point sits at N = 100 */
  gtk_range_set_value (fw_page_noise_get_n_scale (page), 2.0);
  fw_ui_spin_for (0.05);
  gsize n2 = fw_line_plot_series_len (plot, 0);
  double x, y;
  g_assert_true (fw_line_plot_get_point (plot, 0, n2 - 1, &x, &y));
  g_assert_cmpfloat (fabs (x - 100.0), <, 1e-9);
  g_assert_cmpuint (n2, <, n);
}

static void
collect (gpointer user, const FwNoisePoint *p)
{
  GArray *a = user;
  g_array_append_val (a, *p);
}

static void
test_tiny_curve (void)
{
  fw_page_noise_set_datasets (page, train, test);
  fw_page_noise_set_curve_form (page, "0,0.5", "150,300", 2, 2);
  fw_page_noise_run_curve (page);
  g_assert_true (fw_page_noise_is_running (page));
  /* points arrive while the job runs, before it is over */
  g_assert_true (fw_ui_wait_until ((FwUiCond) page_idle, NULL, 120));
  g_assert_cmpuint (fw_page_noise_get_n_curve_points (page), ==, 8);
  g_assert_null (fw_window_get_error_text (win));

  /* the plot shows the mean over the seeds of what the engine computes for the same config */
  g_autoptr (FwNoiseCurveConfig) c = fw_noise_curve_config_new (train, test);
  double rates[] = { 0, 0.5 };
  int sizes[] = { 150, 300 };
  g_free (c->rates);
  c->rates = g_memdup2 (rates, sizeof rates);
  c->n_rates = 2;
  g_free (c->sizes);
  c->sizes = g_memdup2 (sizes, sizeof sizes);
  c->n_sizes = 2;
  c->seeds = 2;
  c->cfg.epochs = 2;
  g_free (c->widths);
  c->widths = g_strdup ("128");
  g_autoptr (GArray) pts = g_array_new (FALSE, FALSE, sizeof (FwNoisePoint));
  g_autoptr (GError) err = NULL;
  g_assert_true (fw_noise_curve_run (c, collect, pts, NULL, &err));
  g_assert_no_error (err);
  FwLinePlot *plot = fw_page_noise_get_curve_plot (page);
  g_assert_cmpuint (fw_line_plot_get_n_series (plot), ==, 2);
  for (int z = 0; z < 2; z++)
    {
      g_assert_cmpuint (fw_line_plot_series_len (plot, z), ==, 2);
      for (int r = 0; r < 2; r++)
        {
          double mean = 0;
          for (guint i = 0; i < pts->len; i++)
            {
              FwNoisePoint *p = &g_array_index (pts, FwNoisePoint, i);
              if (p->rate == rates[r] && p->size == sizes[z])
                mean += 100 * p->test_acc / 2;
            }
          double x, y;
          g_assert_true (fw_line_plot_get_point (plot, z, r, &x, &y));
          g_assert_cmpfloat (fabs (x - 100 * rates[r]), <, 1e-9);
          g_assert_cmpfloat (fabs (y - mean), <, 1e-6);
        }
    }
  /* size needed: the prediction n0 / (1 - rate) with n0 = the smallest size */
  FwLinePlot *need = fw_page_noise_get_size_plot (page);
  g_assert_cmpuint (fw_line_plot_series_len (need, 1), ==, 2);
  for (int r = 0; r < 2; r++)
    {
      double x, y;
      g_assert_true (fw_line_plot_get_point (need, 1, r, &x, &y));
      g_assert_cmpfloat (fabs (y - 150 / (1 - rates[r])), <, 1e-9);
    }
  /* measured: rate 0 needs the reference size itself */
  double x0, y0;
  g_assert_true (fw_line_plot_get_point (need, 0, 0, &x0, &y0));
  g_assert_cmpfloat (x0, ==, 0);
  g_assert_cmpfloat (y0, ==, 150);
}

static void
test_detection (void)
{
  fw_page_noise_set_datasets (page, train, test);
  fw_page_noise_set_detect_form (page, 0.2, 600);
  fw_page_noise_find_mislabelled (page);
  g_assert_true (fw_ui_wait_until ((FwUiCond) page_idle, NULL, 120));
  g_assert_null (fw_window_get_error_text (win));
  double precision, recall;
  int n_flagged;
  fw_page_noise_get_detection (page, &precision, &recall, &n_flagged);
  g_assert_cmpint (n_flagged, >, 0);
  g_assert_true (isfinite (precision) && isfinite (recall));
  /* better than flagging at random (20% of the labels are wrong) */
  g_assert_cmpfloat (precision, >, 0.3);
  FwImageGrid *grid = fw_page_noise_get_detect_grid (page);
  g_assert_cmpuint (fw_image_grid_get_n_tiles (grid), ==, MIN (n_flagged, 40));
  const char *cap = fw_image_grid_get_caption (grid, 0);
  g_assert_nonnull (cap);
  g_assert_nonnull (strstr (cap, "→"));
  /* the detection's samples go to the Embeddings page, which becomes visible */
  GtkStack *stack = fw_window_get_stack (win);
  if (gtk_stack_get_child_by_name (stack, "embed") != NULL)
    {
      g_assert_true (fw_page_noise_show_in_embeddings (page));
      g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "embed");
      g_action_group_activate_action (G_ACTION_GROUP (win), "show-page",
                                      g_variant_new_string ("noise"));
    }
}

static gboolean
data_page_ready (gpointer p)
{
  FwPageData *data = fw_window_get_page_data (win);
  return !fw_page_data_is_loading (data) && fw_page_data_get_dataset (data) != NULL;
}

/* Without datasets given, the page uses the Data page's dataset (and its test split). */
static void
test_uses_data_page_dataset (void)
{
  if (!fw_ui_wait_until ((FwUiCond) data_page_ready, NULL, 60))
    {
      g_test_skip ("the Data page has no dataset here");
      return;
    }
  FwDataset *ds = fw_page_data_get_dataset (fw_window_get_page_data (win));
  fw_page_noise_set_datasets (page, NULL, NULL);
  fw_page_noise_set_curve_form (page, "0", "200", 1, 1);
  fw_page_noise_run_curve (page);
  g_assert_true (fw_ui_wait_until ((FwUiCond) page_idle, NULL, 120));
  g_assert_null (fw_window_get_error_text (win));
  g_assert_cmpuint (fw_page_noise_get_n_curve_points (page), ==, 1);
  FwLinePlot *plot = fw_page_noise_get_curve_plot (page);
  double x, y;
  g_assert_true (fw_line_plot_get_point (plot, 0, 0, &x, &y));
  /* better than chance on the Data page's classes */
  g_assert_cmpfloat (y, >, 100.0 / ds->n_classes);
}

static void
test_png (void)
{
  /* the page as the user sees it, for a look (path in the log) */
  const char *dir = g_getenv ("FW_NOISE_SHOT_DIR");
  if (dir == NULL)
    {
      g_test_skip ("set FW_NOISE_SHOT_DIR to write the page PNGs");
      return;
    }
  const char *pages[] = { "regression", "curves", "size", "mislabelled" };
  GtkWidget *w = GTK_WIDGET (win);
  for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      GtkWidget *viz = NULL;
      /* find the page's GtkStack by walking its children */
      GPtrArray *todo = g_ptr_array_new ();
      g_ptr_array_add (todo, page);
      while (todo->len > 0 && viz == NULL)
        {
          GtkWidget *c = g_ptr_array_steal_index (todo, todo->len - 1);
          if (GTK_IS_STACK (c) && gtk_stack_get_child_by_name (GTK_STACK (c), pages[i]))
            viz = c;
          for (GtkWidget *k = gtk_widget_get_first_child (c); k != NULL;
               k = gtk_widget_get_next_sibling (k))
            g_ptr_array_add (todo, k);
        }
      g_ptr_array_unref (todo);
      g_assert_nonnull (viz);
      gtk_stack_set_visible_child_name (GTK_STACK (viz), pages[i]);
      fw_ui_spin_for (0.5);
      GdkPaintable *p = gtk_widget_paintable_new (w);
      int width = gtk_widget_get_width (w), height = gtk_widget_get_height (w);
      GtkSnapshot *snap = gtk_snapshot_new ();
      gdk_paintable_snapshot (p, snap, width, height);
      g_autoptr (GskRenderNode) node = gtk_snapshot_free_to_node (snap);
      g_assert_nonnull (node);
      GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (w));
      g_autoptr (GdkTexture) tex = gsk_renderer_render_texture (renderer, node, NULL);
      g_autofree char *path = g_strdup_printf ("%s/noise-%s.png", dir, pages[i]);
      g_assert_true (gdk_texture_save_to_png (tex, path));
      g_test_message ("wrote %s", path);
      g_object_unref (p);
    }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  fw_ui_test_env ();
  g_autofree char *runs = g_dir_make_tmp ("fw-test-noise-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("FW_RUNS_DIR", runs, TRUE);
  g_test_init (&argc, &argv, NULL);
  /* simulated digits made here, on the main thread, before any job runs */
  train = fw_dataset_load ("sim:1000:20", 1, NULL, &error);
  g_assert_no_error (error);
  test = fw_dataset_load_test ("sim:1000:20", 1, NULL, &error);
  g_assert_no_error (error);
  if (!gtk_init_check ())
    {
      g_test_skip ("no display (run under xvfb-run)");
      return g_test_run ();
    }
  win = fw_ui_open_window (&app);
  page = find_page ();

  g_test_add_func ("/NoisePage/sigma_slider_moves_the_regression_plot", test_sigma_slider);
  g_test_add_func ("/NoisePage/tiny_noise_curve_fills_the_plot", test_tiny_curve);
  g_test_add_func ("/NoisePage/detection_shows_flagged_samples", test_detection);
  g_test_add_func ("/NoisePage/uses_the_data_page_dataset", test_uses_data_page_dataset);
  g_test_add_func ("/NoisePage/renders_to_png", test_png);
  int ret = g_test_run ();
  gtk_window_destroy (GTK_WINDOW (win));
  fw_ui_spin_for (0.1);
  g_application_quit (G_APPLICATION (app));
  g_object_unref (app);
  fw_dataset_unref (train);
  fw_dataset_unref (test);
  return ret;
}
