/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-embed.c: the Embeddings page driven through its actions under Xvfb: PCA of a small
 * simulated dataset coloured by class, live t-SNE frames, a shelf model's layer coloured by
 * correctness, selection, cancel, and a PNG of the page. */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "fw-application.h"
#include "fw-dataset.h"
#include "fw-model-shelf.h"
#include "fw-page-embed-private.h"
#include "fw-plot.h"
#include "fw-window-private.h"
#include "fw-ui-test-util.h"

static FwApplication *app;
static FwWindow *win;
static FwPageEmbed *page;
static FwDataset *ds;

/* ---- bounded waits ---- */

static gboolean
wait_idle (double timeout_s)
{
  gint64 end = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);
  while (fw_page_embed_is_running (page))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
  return TRUE;
}

static void
configure (guint method, int points, int iters)
{
  gtk_drop_down_set_selected (fw_page_embed_get_method_dropdown (page), method);
  gtk_spin_button_set_value (fw_page_embed_get_points_spin (page), points);
  gtk_spin_button_set_value (fw_page_embed_get_iter_spin (page), iters);
}

static void
run_and_wait (double timeout_s)
{
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "embed.run", NULL));
  g_assert_true (fw_page_embed_is_running (page));
  g_assert_true (wait_idle (timeout_s));
}

/* ---- tests ---- */

static void
test_pca_points_coloured_by_class (void)
{
  const int n = 150;
  gtk_drop_down_set_selected (fw_page_embed_get_source_dropdown (page), 0);   /* pixels */
  gtk_drop_down_set_selected (fw_page_embed_get_color_dropdown (page), FW_EMBED_COLOR_CLASS);
  configure (0, n, 1000);
  run_and_wait (60);
  g_assert_null (fw_window_get_error_text (win));

  FwScatterPlot *sc = fw_page_embed_get_scatter (page);
  g_assert_cmpuint (fw_scatter_plot_get_n_points (sc), ==, n);
  int m = 0;
  const gint32 *idx = fw_page_embed_get_indices (page, &m);
  g_assert_cmpint (m, ==, n);
  /* each point: the class of its dataset sample; distinct samples */
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);
  double sx = 0, sy = 0, sxx = 0, syy = 0;
  for (int i = 0; i < n; i++)
    {
      double x, y;
      int k;
      g_assert_true (fw_scatter_plot_get_point (sc, i, &x, &y, &k));
      g_assert_cmpint (idx[i], >=, 0);
      g_assert_cmpint (idx[i], <, ds->n);
      g_assert_cmpint (k, ==, ds->y[idx[i]]);
      g_assert_false (g_hash_table_contains (seen, GINT_TO_POINTER (idx[i])));
      g_hash_table_add (seen, GINT_TO_POINTER (idx[i]));
      sx += x;
      sy += y;
      sxx += x * x;
      syy += y * y;
    }
  /* PCA coordinates: centred, and the first axis carries the most variance */
  g_assert_cmpfloat (fabs (sx / n), <, 1e-3 * sqrt (sxx / n));
  g_assert_cmpfloat (fabs (sy / n), <, 1e-3 * sqrt (sxx / n));
  g_assert_cmpfloat (sxx, >=, syy);
  g_assert_cmpfloat (syy, >, 0.0);
  /* the legend names the dataset's classes */
  g_assert_cmpstr (fw_scatter_plot_get_class_name (sc, 3), ==, ds->class_names[3]);
  g_assert_nonnull (strstr (fw_page_embed_get_summary (page), "PCA"));
  g_assert_nonnull (strstr (fw_page_embed_get_summary (page), "variance explained"));
}

static void
test_tsne_shows_live_frames (void)
{
  configure (1, 120, 300);
  run_and_wait (120);
  g_assert_cmpuint (fw_scatter_plot_get_n_points (fw_page_embed_get_scatter (page)), ==, 120);
  /* live iterations were drawn before the final layout */
  g_test_message ("%u frames", fw_page_embed_get_n_frames (page));
  g_assert_cmpuint (fw_page_embed_get_n_frames (page), >=, 2);
  g_assert_cmpuint (fw_page_embed_get_n_frames (page), <=, 300 / 10 + 1);
  g_assert_nonnull (strstr (fw_page_embed_get_summary (page), "t-SNE"));
  g_assert_nonnull (strstr (fw_page_embed_get_summary (page), "nearest neighbour"));
}

static void
test_model_layer_coloured_by_correctness (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *spec = fw_model_arch_spec ("mlp", "32,16", ds->shape, ds->n_classes, &error);
  g_assert_no_error (error);
  g_autoptr (FwModel) m = fw_model_new ("mlp", spec, ds->shape, &error);
  g_assert_no_error (error);
  fw_model_init (m, 7);
  g_autoptr (FwShelfItem) item = fw_shelf_item_new ("test-mlp", m, NAN, NULL, NULL);
  FwModelShelf *shelf = fw_window_get_shelf (win);
  fw_model_shelf_add (shelf, item);
  fw_ui_spin_for (0.05);

  /* the new model is offered and chosen; its layers are listed */
  GtkDropDown *src = fw_page_embed_get_source_dropdown (page);
  guint n_models = g_list_model_get_n_items (G_LIST_MODEL (shelf));
  g_assert_cmpuint (g_list_model_get_n_items (gtk_drop_down_get_model (src)), ==, n_models + 1);
  g_assert_cmpuint (gtk_drop_down_get_selected (src), ==, n_models);
  GtkDropDown *layers = fw_page_embed_get_layer_dropdown (page);
  g_assert_cmpuint (g_list_model_get_n_items (gtk_drop_down_get_model (layers)), ==,
                    (guint) m->n_layers);
  g_assert_cmpuint (gtk_drop_down_get_selected (layers), ==, (guint) m->n_layers - 2);

  configure (0, 100, 1000);
  run_and_wait (60);
  g_assert_null (fw_window_get_error_text (win));
  gtk_drop_down_set_selected (fw_page_embed_get_color_dropdown (page), FW_EMBED_COLOR_CORRECT);

  /* class 0 = correct, 1 = wrong, against the model's own predictions */
  FwScatterPlot *sc = fw_page_embed_get_scatter (page);
  int n = 0;
  const gint32 *idx = fw_page_embed_get_indices (page, &n);
  g_assert_cmpint (n, ==, 100);
  g_assert_cmpuint (fw_scatter_plot_get_n_points (sc), ==, 100);
  gsize in = fw_dataset_sample_size (ds);
  g_autofree float *x = g_new (float, (gsize) n * in);
  for (int i = 0; i < n; i++)
    memcpy (x + (gsize) i * in, ds->x + (gsize) idx[i] * in, sizeof (float) * in);
  g_autofree gint32 *pred = g_new (gint32, n);
  fw_model_predict (m, x, n, 32, pred);
  int wrong = 0;
  for (int i = 0; i < n; i++)
    {
      double px, py;
      int k;
      g_assert_true (fw_scatter_plot_get_point (sc, i, &px, &py, &k));
      g_assert_cmpint (k, ==, pred[i] == ds->y[idx[i]] ? 0 : 1);
      wrong += k;
    }
  g_test_message ("%d of %d wrong (untrained model)", wrong, n);
  g_assert_cmpint (wrong, >, 0);
  g_assert_cmpstr (fw_scatter_plot_get_class_name (sc, 1), ==, "wrong");

  /* back to class colours */
  gtk_drop_down_set_selected (fw_page_embed_get_color_dropdown (page), FW_EMBED_COLOR_CLASS);
  for (int i = 0; i < n; i++)
    {
      double px, py;
      int k;
      fw_scatter_plot_get_point (sc, i, &px, &py, &k);
      g_assert_cmpint (k, ==, ds->y[idx[i]]);
    }

  /* another page's "show the embedding" for this model: chosen and run */
  gtk_drop_down_set_selected (src, 0);
  g_assert_true (fw_page_embed_show_model (page, m));
  g_assert_cmpuint (gtk_drop_down_get_selected (src), ==, n_models);
  g_assert_true (wait_idle (60));
  g_assert_nonnull (strstr (fw_page_embed_get_summary (page), "features of layer"));
  g_autoptr (FwModel) stranger = fw_model_copy (m);
  g_assert_false (fw_page_embed_show_model (page, stranger));

  /* a click selects: the sample's picture and description */
  fw_page_embed_select (page, 5);
  g_assert_cmpint (fw_page_embed_get_selected (page), ==, 5);
  fw_page_embed_select (page, -1);
  g_assert_cmpint (fw_page_embed_get_selected (page), ==, -1);
  gtk_drop_down_set_selected (src, 0);
}

static void
test_noisy_labels_coloured_by_flip (void)
{
  /* a copy whose every fifth label is flipped to the next class; the true ones kept aside */
  g_autofree gint32 *all = g_new (gint32, ds->n);
  for (int i = 0; i < ds->n; i++)
    all[i] = i;
  g_autoptr (FwDataset) noisy = fw_dataset_subset (ds, all, ds->n, "noisy");
  for (int i = 0; i < ds->n; i += 5)
    noisy->y[i] = (noisy->y[i] + 1) % noisy->n_classes;
  fw_page_embed_set_noisy_dataset (page, noisy, ds->y);
  gtk_drop_down_set_selected (fw_page_embed_get_source_dropdown (page), 0);
  configure (0, 200, 1000);
  run_and_wait (60);
  gtk_drop_down_set_selected (fw_page_embed_get_color_dropdown (page), FW_EMBED_COLOR_NOISY);

  FwScatterPlot *sc = fw_page_embed_get_scatter (page);
  int n = 0, flipped = 0;
  const gint32 *idx = fw_page_embed_get_indices (page, &n);
  g_assert_cmpint (n, ==, 200);
  for (int i = 0; i < n; i++)
    {
      double x, y;
      int k;
      g_assert_true (fw_scatter_plot_get_point (sc, i, &x, &y, &k));
      g_assert_cmpint (k, ==, idx[i] % 5 == 0 ? 1 : 0);
      flipped += k;
    }
  g_test_message ("%d of %d shown flipped", flipped, n);
  g_assert_cmpint (flipped, >, 0);
  g_assert_cmpstr (fw_scatter_plot_get_class_name (sc, 1), ==, "flipped label");

  gtk_drop_down_set_selected (fw_page_embed_get_color_dropdown (page), FW_EMBED_COLOR_CLASS);
  fw_page_embed_set_dataset (page, ds);
}

static void
test_cancel_keeps_the_layout (void)
{
  configure (1, 300, 5000);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "embed.run", NULL));
  gint64 end = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (fw_page_embed_get_n_frames (page) < 1 && g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  g_assert_cmpuint (fw_page_embed_get_n_frames (page), >=, 1);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "embed.cancel", NULL));
  g_assert_true (wait_idle (2.0));
  g_assert_nonnull (strstr (fw_page_embed_get_summary (page), "cancelled"));
  g_assert_cmpuint (fw_scatter_plot_get_n_points (fw_page_embed_get_scatter (page)), ==, 300);
}

/* Renders widget to a PNG; returns the number of distinct colours. */
static guint
render_png (GtkWidget *widget, const char *path)
{
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  g_assert_cmpint (w, >, 0);
  gdk_paintable_snapshot (paintable, snapshot, w, h);
  g_autoptr (GskRenderNode) node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  g_autoptr (GdkTexture) tex = gsk_renderer_render_texture (renderer, node,
                                                            &GRAPHENE_RECT_INIT (0, 0, w, h));
  g_assert_true (gdk_texture_save_to_png (tex, path));
  g_autofree guint32 *px = g_new (guint32, (gsize) w * h);
  gdk_texture_download (tex, (guchar *) px, (gsize) w * 4);
  g_autoptr (GHashTable) colours = g_hash_table_new (NULL, NULL);
  for (gsize i = 0; i < (gsize) w * h; i++)
    g_hash_table_add (colours, GUINT_TO_POINTER (px[i]));
  return g_hash_table_size (colours);
}

static void
test_screenshot (void)
{
  configure (1, 400, 500);
  gtk_drop_down_set_selected (fw_page_embed_get_color_dropdown (page), FW_EMBED_COLOR_CLASS);
  run_and_wait (120);
  fw_page_embed_select (page, 10);
  fw_ui_spin_for (0.5);
  const char *dir = g_getenv ("G_TEST_BUILDDIR");
  g_autofree char *path = g_build_filename (dir != NULL ? dir : ".", "window-embed.png", NULL);
  guint n = render_png (GTK_WIDGET (win), path);
  g_test_message ("%s: %u colours", path, n);
  g_assert_cmpuint (n, >, 50);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int ret;

  fw_ui_test_env ();
  g_autofree char *runs = g_dir_make_tmp ("fw-test-embed-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("FW_RUNS_DIR", runs, TRUE);

  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      g_test_skip ("no display (run under xvfb-run)");
      return g_test_run ();
    }
  adw_init ();
  app = fw_application_new ();
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_application_activate (G_APPLICATION (app));
  win = FW_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  g_assert_nonnull (win);
  GtkStack *stack = fw_window_get_stack (win);
  page = FW_PAGE_EMBED (gtk_stack_get_child_by_name (stack, "embed"));
  g_assert_nonnull (page);
  gtk_stack_set_visible_child_name (stack, "embed");

  /* a small simulated set, made here on the main thread (the simulator draws with fonts) */
  ds = fw_dataset_load ("sim:400", 3, NULL, &error);
  g_assert_no_error (error);
  fw_page_embed_set_dataset (page, ds);

  g_test_add_func ("/Embed/pca_points_coloured_by_class", test_pca_points_coloured_by_class);
  g_test_add_func ("/Embed/tsne_shows_live_frames", test_tsne_shows_live_frames);
  g_test_add_func ("/Embed/model_layer_coloured_by_correctness",
                   test_model_layer_coloured_by_correctness);
  g_test_add_func ("/Embed/noisy_labels_coloured_by_flip", test_noisy_labels_coloured_by_flip);
  g_test_add_func ("/Embed/cancel_keeps_the_layout", test_cancel_keeps_the_layout);
  g_test_add_func ("/Embed/renders_the_page_to_png", test_screenshot);
  ret = g_test_run ();

  fw_dataset_unref (ds);
  gtk_window_destroy (GTK_WINDOW (win));
  fw_ui_spin_for (0.1);
  g_application_quit (G_APPLICATION (app));
  g_object_unref (app);
  g_rmdir (runs);
  return ret;
}
