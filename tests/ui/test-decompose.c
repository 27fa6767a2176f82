/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-decompose.c: the decomposition and distillation methods of the Compress page, in the
 * real window: a small trained MLP decomposed by SVD over a rank sweep (error curves per layer,
 * accuracy vs compression, every decomposed model on the shelf with its file), then distilled
 * into a smaller student (the teacher's soft targets shown, the student on the shelf). With
 * FW_DECOMP_SHOT_DIR set, PNGs of both panels are written there. */
#include <glib/gstdio.h>
#include <math.h>

#include "fw-application.h"
#include "fw-model-shelf.h"
#include "fw-page-compress.h"
#include "fw-page-data.h"
#include "fw-panel-decompose.h"
#include "fw-recipe-ext.h"
#include "fw-safetensors.h"
#include "fw-train.h"
#include "fw-window-private.h"
#include "fw-ui-test-util.h"

static FwApplication *app;
static FwWindow *win;
static FwDataset *train;
static char *tmp_dir;

static void
shot (const char *name)
{
  const char *dir = g_getenv ("FW_DECOMP_SHOT_DIR");
  if (dir == NULL)
    return;
  fw_ui_spin_for (0.4);
  g_autofree char *path = g_strdup_printf ("%s/%s.png", dir, name);
  g_assert_true (fw_ui_save_png (win, path));
  g_test_message ("screenshot %s", path);
}

static gboolean
data_ready (gpointer spec)
{
  FwPageData *d = fw_window_get_page_data (win);
  return g_strcmp0 (fw_page_data_get_spec (d), spec) == 0 && fw_page_data_get_dataset (d) != NULL;
}

static gboolean
decomp_idle (gpointer p)
{
  return !fw_decomp_panel_is_running (p);
}

static gboolean
distill_idle (gpointer p)
{
  return !fw_distill_panel_is_running (p);
}

static FwPageCompress *
compress_page (void)
{
  GtkWidget *child = gtk_stack_get_child_by_name (fw_window_get_stack (win), "compress");
  g_assert_nonnull (child);
  g_action_group_activate_action (G_ACTION_GROUP (win), "show-page",
                                  g_variant_new_string ("compress"));
  fw_ui_spin_for (0.2);
  return FW_PAGE_COMPRESS (child);
}

/* a trained MLP on the shelf (with its file), selected on the page */
static char *
shelf_trained_mlp (FwPageCompress *cp, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *spec = fw_model_arch_spec ("mlp", "64", train->shape, train->n_classes,
                                              &error);
  g_autoptr (FwModel) m = fw_model_new ("mlp", spec, train->shape, &error);
  fw_model_init (m, 3);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 3;
  cfg.batch = 32;
  cfg.opt = FW_OPT_ADAM;
  cfg.lr = 3e-3;
  g_assert_true (fw_train (m, &cfg, train, NULL, NULL, NULL, NULL, NULL, &error));
  char *path = g_strdup_printf ("%s/%s.safetensors", tmp_dir, name);
  g_assert_true (fw_model_save (m, path, NULL, &error));
  g_autoptr (FwShelfItem) item = fw_shelf_item_new (name, m, NAN, NULL, NULL);
  fw_shelf_item_set_method (item, "trained");
  fw_shelf_item_set_file (item, path);
  FwModelShelf *shelf = fw_window_get_shelf (win);
  fw_model_shelf_add (shelf, item);
  fw_page_compress_select (cp, g_list_model_get_n_items (G_LIST_MODEL (shelf)) - 1);
  fw_page_data_load (fw_window_get_page_data (win), "sim:600:20");
  g_assert_true (fw_ui_wait_until (data_ready, (gpointer) "sim:600:20", 60));
  return path;
}

static void
test_lowrank_sweep (void)
{
  FwPageCompress *cp = compress_page ();
  g_assert_true (fw_page_compress_set_method (cp, "lowrank"));
  FwDecompPanel *panel = FW_DECOMP_PANEL (fw_page_compress_get_panel (cp, "lowrank"));
  g_autofree char *path = shelf_trained_mlp (cp, "mlp-64");
  FwModelShelf *shelf = fw_window_get_shelf (win);
  guint before = g_list_model_get_n_items (G_LIST_MODEL (shelf));
  fw_decomp_panel_set_form (panel, 0, 0.9, "2,4,8,16", 1);
  g_assert_true (fw_decomp_panel_run (panel));
  g_assert_true (fw_ui_wait_until (decomp_idle, panel, 300));
  /* one error curve per dense layer with >= 1000 weights (400 -> 64 only), ranks 1 .. 64 */
  FwLinePlot *ep = fw_decomp_panel_get_error_plot (panel);
  g_assert_cmpuint (fw_line_plot_get_n_series (ep), ==, 1);
  gsize n = fw_line_plot_series_len (ep, 0);
  g_assert_cmpuint (n, >=, 5);
  double x0, y0, x1, y1;
  g_assert_true (fw_line_plot_get_point (ep, 0, 0, &x0, &y0));
  g_assert_true (fw_line_plot_get_point (ep, 0, n - 1, &x1, &y1));
  g_assert_cmpfloat (x0, ==, 1);
  g_assert_cmpfloat (x1, ==, 64);
  g_assert_cmpfloat (y1, <, 1e-3);
  g_assert_cmpfloat (y0, >, y1);
  /* four ranks: four points before and after fine-tuning, four models on the shelf */
  FwLinePlot *ap = fw_decomp_panel_get_acc_plot (panel);
  g_assert_cmpuint (fw_line_plot_series_len (ap, 0), ==, 4);
  g_assert_cmpuint (fw_line_plot_series_len (ap, 1), ==, 4);
  g_assert_cmpuint (fw_decomp_panel_get_n_results (panel), ==, 4);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (shelf)), ==, before + 4);
  FwShelfItem *last = fw_model_shelf_get_item (shelf, before + 3);
  g_assert_cmpstr (fw_shelf_item_get_method (last), ==, "svd");
  g_assert_nonnull (fw_shelf_item_get_file (last));
  GStatBuf a, b;
  g_assert_cmpint (g_stat (fw_shelf_item_get_file (last), &a), ==, 0);
  g_assert_cmpint (g_stat (path, &b), ==, 0);
  g_assert_cmpint (a.st_size, <, b.st_size);
  shot ("compress-lowrank");
}

static void
test_distill (void)
{
  FwPageCompress *cp = compress_page ();
  g_assert_true (fw_page_compress_set_method (cp, "distill"));
  FwDistillPanel *panel = FW_DISTILL_PANEL (fw_page_compress_get_panel (cp, "distill"));
  g_autofree char *path = shelf_trained_mlp (cp, "teacher-64");
  FwModelShelf *shelf = fw_window_get_shelf (win);
  guint before = g_list_model_get_n_items (G_LIST_MODEL (shelf));
  fw_distill_panel_set_form (panel, "mlp", "16", 4, 0.9, 2, 1);
  g_assert_true (fw_distill_panel_run (panel));
  g_assert_true (fw_ui_wait_until (distill_idle, panel, 300));
  /* the soft targets: 10 bars at T and 10 at T = 1, each group a distribution, T flatter */
  FwBarChart *bc = fw_distill_panel_get_soft_chart (panel);
  g_assert_cmpuint (fw_bar_chart_get_n_bars (bc), ==, 20);
  double st = 0, s1 = 0, mt = 0, m1 = 0;
  for (guint i = 0; i < 10; i++)
    {
      st += fw_bar_chart_get_value (bc, i);
      s1 += fw_bar_chart_get_value (bc, 10 + i);
      mt = MAX (mt, fw_bar_chart_get_value (bc, i));
      m1 = MAX (m1, fw_bar_chart_get_value (bc, 10 + i));
    }
  g_assert_cmpfloat (fabs (st - 1), <, 1e-4);
  g_assert_cmpfloat (fabs (s1 - 1), <, 1e-4);
  g_assert_cmpfloat (mt, <=, m1);
  g_assert_cmpuint (fw_distill_panel_get_n_results (panel), ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (shelf)), ==, before + 1);
  FwShelfItem *last = fw_model_shelf_get_item (shelf, before);
  g_assert_cmpstr (fw_shelf_item_get_method (last), ==, "distilled");
  g_assert_cmpuint (fw_model_param_count (fw_shelf_item_get_model (last)), <,
                    fw_model_param_count (fw_shelf_item_get_model (fw_model_shelf_get_item (
                      shelf, before - 1))));
  shot ("compress-distill");
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  fw_ui_test_env ();
  tmp_dir = g_dir_make_tmp ("fw-test-decomp-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("FW_RUNS_DIR", tmp_dir, TRUE);
  g_test_init (&argc, &argv, NULL);
  train = fw_dataset_load ("sim:600:20", 1, NULL, &error);
  g_assert_no_error (error);
  if (!gtk_init_check ())
    {
      g_test_skip ("no display (run under xvfb-run)");
      return g_test_run ();
    }
  win = fw_ui_open_window (&app);
  gtk_window_present (GTK_WINDOW (win));
  fw_ui_spin_for (0.5);
  g_test_add_func ("/CompressPage/lowrank_sweep_curves_and_shelf", test_lowrank_sweep);
  g_test_add_func ("/CompressPage/distill_soft_targets_and_student", test_distill);
  int ret = g_test_run ();
  gtk_window_destroy (GTK_WINDOW (win));
  fw_ui_spin_for (0.1);
  g_application_quit (G_APPLICATION (app));
  g_object_unref (app);
  fw_dataset_unref (train);
  return ret;
}
