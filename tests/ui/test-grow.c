/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-grow.c: the Grow page driven under Xvfb: a TINY run on simulated digits fills the
 * diagram, the bottleneck bars and the curves with what the job computed, puts the grown and
 * the fixed-size models on the shelf, exports its figures; cancel stops a run; the diagram
 * highlights the new neurons; and a PNG of the page (FW_GROW_SHOT=path keeps it). */
#include <math.h>
#include <string.h>

#include "fw-application.h"
#include "fw-grow-diagram.h"
#include "fw-model-shelf.h"
#include "fw-page-grow.h"
#include "fw-plot.h"
#include "fw-window-private.h"
#include "fw-ui-test-util.h"

static FwApplication *app;
static FwWindow *win;
static FwPageGrow *page;
static char *runs;

static gboolean
page_idle (gpointer p)
{
  return !fw_page_grow_is_running (page);
}

static gboolean
has_points (gpointer p)
{
  return fw_page_grow_get_n_points (page) >= GPOINTER_TO_UINT (p);
}

static long
mlp_params (const FwGrowPoint *pt)
{
  long p = 0;
  for (int i = 1; i < pt->n_widths; i++)
    p += (long) (pt->widths[i - 1] + 1) * pt->widths[i];
  return p;
}

static void
test_show_page (void)
{
  g_action_group_activate_action (G_ACTION_GROUP (win), "show-page",
                                  g_variant_new_string ("grow"));
  fw_ui_spin_for (0.2);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (fw_window_get_stack (win)), ==, "grow");
}

static void
test_tiny_run (void)
{
  GListModel *shelf = G_LIST_MODEL (fw_window_get_shelf (win));
  guint shelf_before = g_list_model_get_n_items (shelf);
  fw_page_grow_set_dataset_spec (page, "sim:400:12");
  fw_page_grow_set_form (page, "tiny", FALSE, 2, 1200, 3, 1, 0);
  g_assert_true (fw_page_grow_start (page));
  g_assert_true (fw_page_grow_is_running (page));
  g_assert_true (fw_ui_wait_until (page_idle, NULL, 120));
  g_assert_null (fw_window_get_error_text (win));

  /* the start, at most 3 steps, then the final training of the page's default final epochs:
   * one more point, no neurons added */
  guint n = fw_page_grow_get_n_points (page);
  g_assert_cmpuint (n, >=, 3);
  g_assert_cmpuint (n, <=, 5);
  const FwGrowPoint *last = fw_page_grow_get_last_point (page);
  g_assert_cmpint (last->site, ==, -1);
  g_assert_cmpint (last->added, ==, 0);
  g_assert_cmpint (last->n_widths, ==, 4);
  g_assert_cmpint ((long) last->params, ==, mlp_params (last));
  g_assert_cmpint (last->widths[0], ==, 144);
  g_assert_cmpint (last->widths[3], ==, 10);

  /* the accuracy curve holds every point the job sent: x = parameters, y = accuracy in % */
  FwLinePlot *acc = fw_page_grow_get_accuracy_plot (page);
  guint s = G_MAXUINT;
  for (guint i = 0; i < fw_line_plot_get_n_series (acc); i++)
    if (g_strcmp0 (fw_line_plot_get_series_name (acc, i), "grown (TINY)") == 0)
      s = i;
  g_assert_cmpuint (s, !=, G_MAXUINT);
  g_assert_cmpuint (fw_line_plot_series_len (acc, s), ==, n);
  double x, y;
  g_assert_true (fw_line_plot_get_point (acc, s, n - 1, &x, &y));
  g_assert_cmpfloat (x, ==, (double) last->params);
  g_assert_cmpfloat (fabs (y - 100 * last->test_acc), <, 1e-9);
  /* the fixed-size baseline: one point at the final size */
  guint fs = G_MAXUINT;
  for (guint i = 0; i < fw_line_plot_get_n_series (acc); i++)
    if (g_strcmp0 (fw_line_plot_get_series_name (acc, i),
                   "fixed size, from scratch (TINY's size)") == 0)
      fs = i;
  g_assert_cmpuint (fs, !=, G_MAXUINT);
  g_assert_cmpuint (fw_line_plot_series_len (acc, fs), ==, 1);
  g_assert_true (fw_line_plot_get_point (acc, fs, 0, &x, &y));
  g_assert_cmpfloat (x, ==, (double) last->params);
  g_assert_cmpfloat (y, >=, 0);
  g_assert_cmpfloat (y, <=, 100);

  /* the bars: one per site, the relative bottleneck of the last step, in [0, 1] */
  FwBarChart *bars = fw_page_grow_get_bottleneck_bars (page);
  g_assert_cmpuint (fw_bar_chart_get_n_bars (bars), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      double v = fw_bar_chart_get_value (bars, i);
      g_assert_cmpfloat (fabs (v - last->bottleneck[i]), <, 1e-12);
      g_assert_cmpfloat (v, >=, 0);
      g_assert_cmpfloat (v, <=, 1.0 + 1e-9);
    }

  /* the run folder has one CSV row per point; the shelf has the grown and the fixed model */
  const char *dir = fw_page_grow_get_run_dir (page);
  g_assert_nonnull (dir);
  g_assert_true (g_str_has_prefix (dir, runs));
  g_autofree char *csv_path = g_build_filename (dir, "growth.csv", NULL);
  g_autofree char *csv = NULL;
  g_assert_true (g_file_get_contents (csv_path, &csv, NULL, NULL));
  g_auto (GStrv) rows = g_strsplit (g_strchomp (csv), "\n", -1);
  g_assert_cmpuint (g_strv_length (rows), ==, n + 3);   /* + header, two fixed-size rows */
  g_assert_true (g_str_has_prefix (rows[n + 1], "fixed (same epochs),-1,"));
  g_assert_true (g_str_has_prefix (rows[n + 2], "fixed (same compute),-1,"));
  /* the page's first-launch settings reached the run: AdamW with weight decay (without it
   * grown networks stay behind their fixed-size ones), the default final epochs */
  g_autofree char *ini = g_build_filename (dir, "recipe.ini", NULL);
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_assert_true (g_key_file_load_from_file (kf, ini, G_KEY_FILE_NONE, NULL));
  g_autofree char *opt = g_key_file_get_string (kf, "train", "optimizer", NULL);
  g_assert_cmpstr (opt, ==, "adamw");
  g_assert_cmpfloat (g_key_file_get_double (kf, "train", "weight_decay", NULL), ==, 0.5);
  g_assert_cmpint (g_key_file_get_integer (kf, "grow", "final_epochs", NULL), ==,
                   FW_GROW_DEFAULT_FINAL_EPOCHS);
  g_assert_cmpuint (g_list_model_get_n_items (shelf), ==, shelf_before + 2);
  g_autoptr (FwShelfItem) grown = g_list_model_get_item (shelf, shelf_before);
  g_assert_true (g_str_has_prefix (fw_shelf_item_get_name (grown), "grown TINY"));
  g_assert_cmpuint (fw_shelf_item_get_params (grown), >=, last->params);
  g_assert_cmpfloat (fw_shelf_item_get_accuracy (grown), ==, last->test_acc);
}

/* "Final epochs" (and "Update existing weights" off) in the form: one more point at the final size, no neurons added, and its
 * accuracy is the grown model's on the shelf */
static void
test_final_epochs (void)
{
  GListModel *shelf = G_LIST_MODEL (fw_window_get_shelf (win));
  guint shelf_before = g_list_model_get_n_items (shelf);
  fw_page_grow_set_form (page, "tiny", FALSE, 2, 1200, 2, 1, 0);
  fw_page_grow_set_final_epochs (page, 2);
  fw_page_grow_set_update_existing (page, FALSE);
  g_assert_true (fw_page_grow_start (page));
  g_assert_true (fw_ui_wait_until (page_idle, NULL, 120));
  fw_page_grow_set_final_epochs (page, 0);
  fw_page_grow_set_update_existing (page, TRUE);
  g_assert_null (fw_window_get_error_text (win));
  guint n = fw_page_grow_get_n_points (page);
  g_assert_cmpuint (n, >=, 2);
  const FwGrowPoint *last = fw_page_grow_get_last_point (page);
  g_assert_cmpint (last->site, ==, -1);
  g_assert_cmpint (last->added, ==, 0);
  g_assert_cmpint ((long) last->params, ==, mlp_params (last));
  g_autoptr (FwShelfItem) grown = g_list_model_get_item (shelf, shelf_before);
  g_assert_cmpfloat (fw_shelf_item_get_accuracy (grown), ==, last->test_acc);
  /* the recipe in the run folder carries the key */
  g_autofree char *ini = g_build_filename (fw_page_grow_get_run_dir (page), "recipe.ini", NULL);
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_assert_true (g_key_file_load_from_file (kf, ini, G_KEY_FILE_NONE, NULL));
  g_assert_cmpint (g_key_file_get_integer (kf, "grow", "final_epochs", NULL), ==, 2);
  g_assert_false (g_key_file_get_boolean (kf, "grow", "update_existing", NULL));
}

static void
test_export (void)
{
  g_autofree char *dir = g_build_filename (runs, "figures", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_page_grow_export_figures (page, dir, &error));
  g_assert_no_error (error);
  const char *names[] = { "network", "accuracy", "loss", "bottleneck" };
  const char *exts[] = { "png", "svg", "pdf" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    for (guint j = 0; j < G_N_ELEMENTS (exts); j++)
      {
        g_autofree char *p = g_strdup_printf ("%s/grow-%s.%s", dir, names[i], exts[j]);
        g_autofree char *data = NULL;
        gsize len = 0;
        g_assert_true (g_file_get_contents (p, &data, &len, NULL));
        g_assert_cmpuint (len, >, 500);
        if (j == 0)
          g_assert_cmpmem (data + 1, 3, "PNG", 3);
        else if (j == 2)
          g_assert_cmpmem (data, 4, "%PDF", 4);
      }
}

static void
test_cancel (void)
{
  GListModel *shelf = G_LIST_MODEL (fw_window_get_shelf (win));
  guint shelf_before = g_list_model_get_n_items (shelf);
  fw_page_grow_set_dataset_spec (page, "sim:600:12");
  fw_page_grow_set_form (page, "random", FALSE, 2, 1000000, 200, 2, 0);
  g_assert_true (fw_page_grow_start (page));
  g_assert_true (fw_ui_wait_until (has_points, GUINT_TO_POINTER (1), 60));
  fw_page_grow_cancel (page);
  g_assert_true (fw_ui_wait_until (page_idle, NULL, 30));
  g_assert_cmpuint (fw_page_grow_get_n_points (page), <, 200);
  g_assert_cmpuint (g_list_model_get_n_items (shelf), ==, shelf_before);
}

/* The diagram of pt drawn on a w x h RGB24 surface in the default style. */
static cairo_surface_t *
draw_diagram (const FwGrowPoint *pt, int w, int h, FwPlotStyle *st)
{
  cairo_surface_t *surf = cairo_image_surface_create (CAIRO_FORMAT_RGB24, w, h);
  cairo_t *cr = cairo_create (surf);
  fw_plot_style_init (st);
  fw_grow_draw_network (cr, pt, "TINY", w, h, st);
  cairo_destroy (cr);
  cairo_surface_flush (surf);
  return surf;
}

/* New neurons are orange (palette 1), old ones blue (palette 0), where neuron_pos says. */
static void
test_diagram_colours (void)
{
  FwGrowPoint pt = { .step = 3, .added = 2, .params = 1234, .n_widths = 4,
                     .widths = { 144, 5, 3, 10 }, .added_at = { 0, 2, 0, 0 },
                     .kinds = { 'i', 'd', 'd', 'd' } };
  int w = 600, h = 400;
  FwPlotStyle st;
  cairo_surface_t *surf = draw_diagram (&pt, w, h, &st);
  const guint8 *px = cairo_image_surface_get_data (surf);
  int stride = cairo_image_surface_get_stride (surf);
  for (int j = 0; j < 5; j++)
    {
      double x, y, r;
      g_assert_true (fw_grow_network_neuron_pos (&pt, w, h, &st, 1, j, &x, &y, &r));
      const guint8 *p = px + (int) y * stride + 4 * (int) x;
      FwRgba want = fw_palette_color (j >= 3 ? 1 : 0);
      g_assert_cmpint (abs (p[2] - (int) lround (255 * want.r)), <=, 2);
      g_assert_cmpint (abs (p[1] - (int) lround (255 * want.g)), <=, 2);
      g_assert_cmpint (abs (p[0] - (int) lround (255 * want.b)), <=, 2);
    }
  double x, y, r;
  g_assert_false (fw_grow_network_neuron_pos (&pt, w, h, &st, 1, 5, &x, &y, &r));
  cairo_surface_destroy (surf);
}

/* In a narrow area the title shrinks to fit: no ink in the outermost pixel columns of the
 * title band (the Grow page's diagram is about 300 px wide on a 1280 px window; the final
 * point's title "TINY step 13 · 20.0k parameters · no neuron added" was cut at both ends). */
static void
test_diagram_title_fits (void)
{
  FwGrowPoint pt = { .step = 13, .added = 0, .site = -1, .params = 20250, .n_widths = 4,
                     .widths = { 784, 24, 40, 10 }, .kinds = { 'i', 'd', 'd', 'd' } };
  int w = 280, h = 320;
  FwPlotStyle st;
  cairo_surface_t *surf = draw_diagram (&pt, w, h, &st);
  const guint8 *px = cairo_image_surface_get_data (surf);
  int stride = cairo_image_surface_get_stride (surf);
  guint32 bg = *(const guint32 *) (px + 2 * stride + 4 * (w / 2));
  int inked = 0, edge_ink = 0;
  for (int y = 8; y < 40; y++)
    for (int x = 0; x < w; x++)
      {
        guint32 v = *(const guint32 *) (px + y * stride + 4 * x) & 0xffffff;
        if (v != (bg & 0xffffff))
          {
            inked++;
            edge_ink += x < 3 || x >= w - 3;
          }
      }
  g_assert_cmpint (inked, >, 50);      /* the title is there */
  g_assert_cmpint (edge_ink, ==, 0);   /* and whole */
  cairo_surface_destroy (surf);
}

/* Opening a [grow] recipe in the window shows the Grow page and runs it as written. */
static void
test_open_recipe (void)
{
  g_autofree char *ini = g_build_filename (runs, "opened.ini", NULL);
  g_autofree char *out = g_build_filename (runs, "opened-run", NULL);
  g_autofree char *text = g_strdup_printf (
    "[data]\ndataset = sim:300:12\n[model]\narch = mlp\nwidths = 3,3\n"
    "[train]\noptimizer = adam\nlr = 0.003\nbatch = 32\n"
    "[grow]\nmethod = gradmax\nbudget = 900\nmax_steps = 2\nfixed_baseline = false\n"
    "[output]\ndir = %s\n", out);
  g_assert_true (g_file_set_contents (ini, text, -1, NULL));
  g_action_group_activate_action (G_ACTION_GROUP (win), "show-page",
                                  g_variant_new_string ("data"));
  g_assert_true (fw_window_open_recipe_file (win, ini));
  fw_ui_spin_for (0.2);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (fw_window_get_stack (win)), ==, "grow");
  g_assert_true (fw_ui_wait_until (page_idle, NULL, 120));
  g_assert_cmpstr (fw_page_grow_get_run_dir (page), ==, out);
  const FwGrowPoint *first = NULL;
  /* the start, two steps, the final training (the recipe gives no final_epochs: 15) */
  g_assert_cmpuint (fw_page_grow_get_n_points (page), ==, 4);
  first = fw_page_grow_get_last_point (page);
  g_assert_cmpint (first->widths[1] + first->widths[2], >, 6);   /* it grew from 3,3 */
  FwLinePlot *acc = fw_page_grow_get_accuracy_plot (page);
  gboolean found = FALSE;
  for (guint i = 0; i < fw_line_plot_get_n_series (acc); i++)
    found |= g_strcmp0 (fw_line_plot_get_series_name (acc, i), "grown (GradMax)") == 0;
  g_assert_true (found);
}

static void
test_png (void)
{
  /* a CNN run for the picture: conv channels drawn as squares */
  fw_page_grow_set_dataset_spec (page, "sim:600:12");
  fw_page_grow_set_form (page, "tiny", TRUE, 2, 1500, 4, 1, 0);
  g_assert_true (fw_page_grow_start (page));
  g_assert_true (fw_ui_wait_until (page_idle, NULL, 120));
  const FwGrowPoint *last = fw_page_grow_get_last_point (page);
  g_assert_nonnull (last);
  g_assert_cmpint (last->kinds[1], ==, 'c');
  g_assert_cmpint (last->kinds[2], ==, 'c');
  g_assert_cmpint (last->kinds[3], ==, 'd');
  fw_ui_spin_for (0.3);
  const char *keep = g_getenv ("FW_GROW_SHOT");
  g_autofree char *path = keep != NULL ? g_strdup (keep)
                                       : g_build_filename (runs, "grow-page.png", NULL);
  g_assert_true (fw_ui_save_png (win, path));
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  fw_ui_test_env ();
  runs = g_dir_make_tmp ("fw-test-grow-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("FW_RUNS_DIR", runs, TRUE);
  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      g_test_skip ("no display (run under xvfb-run)");
      return g_test_run ();
    }
  win = fw_ui_open_window (&app);
  GtkWidget *child = gtk_stack_get_child_by_name (fw_window_get_stack (win), "grow");
  g_assert_nonnull (child);
  page = FW_PAGE_GROW (child);

  g_test_add_func ("/GrowPage/shown_by_its_action", test_show_page);
  g_test_add_func ("/GrowPage/tiny_run_fills_diagram_bars_curves_and_shelf", test_tiny_run);
  g_test_add_func ("/GrowPage/exports_figures", test_export);
  g_test_add_func ("/GrowPage/final_epochs_add_a_last_point", test_final_epochs);
  g_test_add_func ("/GrowPage/cancel_stops_the_run", test_cancel);
  g_test_add_func ("/GrowPage/diagram_highlights_new_neurons", test_diagram_colours);
  g_test_add_func ("/GrowPage/diagram_title_fits_a_narrow_area", test_diagram_title_fits);
  g_test_add_func ("/GrowPage/opening_a_grow_recipe_runs_it", test_open_recipe);
  g_test_add_func ("/GrowPage/renders_to_png", test_png);
  int ret = g_test_run ();
  gtk_window_destroy (GTK_WINDOW (win));
  fw_ui_spin_for (0.1);
  g_application_quit (G_APPLICATION (app));
  g_object_unref (app);
  return ret;
}
