/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-compare.c: the Compare and Compress pages driven under Xvfb as a user would: two real
 * small trained models compared (the board's bytes are the files on disk, the baseline moves
 * the deltas, the Pareto plots show the frontier, side-by-side columns show confusion matrices
 * and masks, the table exports); a small trained model pruned on the Compress page (the masks
 * appear step by step, the pruned model lands on the shelf and the board). PNGs of the pages
 * go to $FW_COMPARE_SHOT_DIR when set. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "fw-application.h"
#include "fw-compare.h"
#include "fw-error.h"
#include "fw-plot-export.h"
#include "fw-util.h"
#include "fw-mask-view.h"
#include "fw-model-shelf.h"
#include "fw-page-data.h"
#include "fw-page-compare.h"
#include "fw-page-compress.h"
#include "fw-prune-panel.h"
#include "fw-recipe-ext.h"
#include "fw-safetensors.h"
#include "fw-train.h"
#include "fw-window-private.h"
#include "fw-ui-test-util.h"

static FwApplication *app;
static FwWindow *win;
static FwDataset *train, *test;
static char *tmp_dir;

static GtkWidget *
page (const char *name)
{
  GtkWidget *child = gtk_stack_get_child_by_name (fw_window_get_stack (win), name);
  g_assert_nonnull (child);
  return child;
}

static void
show (const char *name)
{
  g_action_group_activate_action (G_ACTION_GROUP (win), "show-page", g_variant_new_string (name));
  fw_ui_spin_for (0.2);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (fw_window_get_stack (win)), ==, name);
}

static void
shot (const char *name)
{
  const char *dir = g_getenv ("FW_COMPARE_SHOT_DIR");
  if (dir == NULL)
    return;
  fw_ui_spin_for (0.4);
  g_autofree char *path = g_strdup_printf ("%s/%s.png", dir, name);
  g_assert_true (fw_ui_save_png (win, path));
  g_test_message ("screenshot %s", path);
}

/* The GtkStack below @root that has a child named @child. */
static GtkStack *
find_stack (GtkWidget *root, const char *child)
{
  GtkStack *found = NULL;
  GPtrArray *todo = g_ptr_array_new ();
  g_ptr_array_add (todo, root);
  while (todo->len > 0 && found == NULL)
    {
      GtkWidget *c = g_ptr_array_steal_index (todo, todo->len - 1);
      if (GTK_IS_STACK (c) && gtk_stack_get_child_by_name (GTK_STACK (c), child))
        found = GTK_STACK (c);
      for (GtkWidget *k = gtk_widget_get_first_child (c); k; k = gtk_widget_get_next_sibling (k))
        g_ptr_array_add (todo, k);
    }
  g_ptr_array_unref (todo);
  g_assert_nonnull (found);
  return found;
}

/* A small MLP trained for real on the simulated digits (one epoch). */
static FwModel *
trained_mlp (const char *widths, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *spec = fw_model_arch_spec ("mlp", widths, train->shape, train->n_classes,
                                              &error);
  g_assert_no_error (error);
  FwModel *m = fw_model_new ("mlp", spec, train->shape, &error);
  g_assert_no_error (error);
  fw_model_init (m, seed);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 2;
  cfg.batch = 32;
  cfg.seed = seed;
  g_assert_true (fw_train (m, &cfg, train, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  return m;
}

static gint64
size_of (const char *path)
{
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_size;
}

static gboolean
compare_idle (gpointer p)
{
  return !fw_page_compare_is_running (p);
}

static FwShelfItem *
shelf_add (FwModel *m, const char *name, const char *method, const char *file)
{
  g_autoptr (FwShelfItem) item = fw_shelf_item_new (name, m, NAN, NULL, NULL);
  fw_shelf_item_set_method (item, method);
  if (file != NULL)
    fw_shelf_item_set_file (item, file);
  fw_model_shelf_add (fw_window_get_shelf (win), item);
  return item;
}

static void
test_compare_two_models (void)
{
  FwPageCompare *cmp = FW_PAGE_COMPARE (page ("compare"));
  show ("compare");
  g_autoptr (FwModel) wide = trained_mlp ("64", 1);
  g_autoptr (FwModel) narrow = trained_mlp ("8", 2);
  /* half of the wide model's first-layer weights set to zero: a "pruned" look-alike whose
   * mask the side-by-side column shows */
  g_autoptr (FwModel) zeroed = fw_model_copy (wide);
  FwLayer *first = NULL;
  for (int i = 0; i < zeroed->n_layers && first == NULL; i++)
    if (zeroed->layers[i]->n_w > 0)
      first = zeroed->layers[i];
  for (gsize i = 0; i < first->n_w / 2; i++)
    first->w[2 * i] = 0;
  g_autofree char *wide_path = g_build_filename (tmp_dir, "wide.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_model_save (wide, wide_path, NULL, &error));

  FwModelShelf *shelf = fw_window_get_shelf (win);
  guint base = g_list_model_get_n_items (G_LIST_MODEL (shelf));
  shelf_add (wide, "wide", "trained", wide_path);
  shelf_add (narrow, "narrow", "trained", NULL);
  shelf_add (zeroed, "wide half-zero", "pruned", NULL);
  /* one variant run with two seeds: one point with an error bar on the Pareto plots */
  g_autoptr (FwModel) tiny1 = trained_mlp ("12", 11);
  g_autoptr (FwModel) tiny2 = trained_mlp ("12", 12);
  shelf_add (tiny1, "tiny seed 1", "trained", NULL);
  shelf_add (tiny2, "tiny seed 2", "trained", NULL);
  /* a model made for other images (8x8) is left out of the board, not an error */
  g_autoptr (FwModel) other = fw_model_new ("custom", "flatten,dense:10",
                                            (FwShape) { 1, 8, 8 }, &error);
  g_assert_no_error (error);
  fw_model_init (other, 3);
  shelf_add (other, "other data", "trained", NULL);
  fw_ui_spin_for (0.1);

  fw_page_compare_set_test_set (cmp, test);
  fw_page_compare_set_timing (cmp, TRUE, 3);
  g_assert_true (fw_page_compare_measure (cmp));
  g_assert_true (fw_ui_wait_until (compare_idle, cmp, 120));
  g_assert_null (fw_window_get_error_text (win));
  FwCompareTable *t = fw_page_compare_get_table (cmp);
  g_assert_nonnull (t);
  g_assert_cmpuint (t->rows->len, ==, base + 5);
  for (guint i = 0; i < t->rows->len; i++)
    g_assert_cmpstr (fw_compare_table_row (t, i)->name, !=, "other data");

  const FwCompareRow *rw = fw_compare_table_row (t, base);
  const FwCompareRow *rn = fw_compare_table_row (t, base + 1);
  const FwCompareRow *rz = fw_compare_table_row (t, base + 2);
  g_assert_cmpstr (rw->name, ==, "wide");
  /* the board's bytes are the file on disk */
  g_assert_cmpint (rw->file_bytes, ==, size_of (wide_path));
  g_assert_cmpint (rn->file_bytes, <, rw->file_bytes);
  g_assert_cmpuint (rz->params_nonzero, <, rw->params_nonzero);
  g_assert_true (rw->latency_s > 0 && rn->latency_s > 0);
  /* accuracy: recount the wide model's test predictions here */
  g_autofree gint32 *pred = g_new (gint32, test->n);
  fw_model_predict (wide, test->x, test->n, 64, pred);
  int hits = 0;
  for (int i = 0; i < test->n; i++)
    hits += pred[i] == test->y[i];
  g_assert_cmpfloat (fabs (rw->accuracy - (double) hits / test->n), <, 1e-12);
  g_assert_cmpfloat (rw->accuracy, >, 2.0 / test->n_classes);   /* it learned something */

  /* the table shows what the engine formats, the bytes as on disk */
  g_autofree char *bytes = fw_format_bytes ((double) size_of (wide_path));
  g_assert_cmpstr (fw_page_compare_get_cell (cmp, base, 5), ==, bytes);

  /* baseline: the narrow model; the wide model's accuracy delta follows */
  fw_page_compare_set_baseline (cmp, base + 1);
  g_assert_cmpint (t->baseline, ==, (int) base + 1);
  g_autofree char *delta = g_strdup_printf ("%+.1f", 100 * (rw->accuracy - rn->accuracy));
  g_assert_cmpstr (fw_page_compare_get_cell (cmp, base, 3), ==, delta);
  g_assert_cmpstr (fw_page_compare_get_cell (cmp, base + 1, 3), ==, "baseline");
  FwHeatmap *deltas = fw_page_compare_get_deltas (cmp);
  g_assert_cmpuint (fw_heatmap_get_rows (deltas), ==, base + 5);
  for (int c = 0; c < t->n_classes; c++)
    {
      double d = rw->per_class_acc[c] - rn->per_class_acc[c];
      g_assert_cmpfloat (fabs (rw->delta[c] - d), <, 1e-12);
      g_assert_cmpfloat (fabs (fw_heatmap_get_value (deltas, base, c) - 100 * d), <, 1e-9);
      g_assert_cmpfloat (fw_heatmap_get_value (deltas, base + 1, c), ==, 0);
    }

  /* Pareto plot: one point per model at (KiB on disk, accuracy %) */
  FwLinePlot *bp = fw_page_compare_get_bytes_plot (cmp);
  gboolean found = FALSE;
  for (guint s = 0; s < fw_line_plot_get_n_series (bp); s++)
    if (g_strcmp0 (fw_line_plot_get_series_name (bp, s), "wide") == 0)
      {
        double x, y;
        g_assert_true (fw_line_plot_get_point (bp, s, 0, &x, &y));
        g_assert_cmpfloat (fabs (x - size_of (wide_path) / 1024.0), <, 1e-9);
        g_assert_cmpfloat (fabs (y - 100 * rw->accuracy), <, 1e-9);
        found = TRUE;
      }
  g_assert_true (found);
  const FwCompareRow *t1 = fw_compare_table_row (t, base + 3), *t2 = fw_compare_table_row (t, base + 4);
  g_assert_cmpint (t1->n_seeds, ==, 2);
  g_assert_cmpfloat (fabs (t1->acc_mean - (t1->accuracy + t2->accuracy) / 2), <, 1e-12);
  found = FALSE;
  for (guint s = 0; s < fw_line_plot_get_n_series (bp); s++)
    if (g_strcmp0 (fw_line_plot_get_series_name (bp, s), "tiny (2 seeds)") == 0)
      {
        double x, y;
        g_assert_cmpuint (fw_line_plot_series_len (bp, s), ==, 1);
        g_assert_true (fw_line_plot_get_point (bp, s, 0, &x, &y));
        g_assert_cmpfloat (fabs (y - 100 * t1->acc_mean), <, 1e-9);
        found = TRUE;
      }
  g_assert_true (found);
  shot ("compare-table");

  /* side by side: the wide model and its half-zeroed copy */
  fw_page_compare_set_side (cmp, (int) base, (int) base + 2, -1);
  fw_ui_spin_for (0.1);
  FwHeatmap *conf = fw_page_compare_get_side_confusion (cmp, 0);
  g_assert_nonnull (conf);
  for (int a = 0; a < t->n_classes; a++)
    {
      gint64 sum = 0;
      for (int b = 0; b < t->n_classes; b++)
        sum += rw->confusion[a * t->n_classes + b];
      if (sum > 0)
        g_assert_cmpfloat (fabs (fw_heatmap_get_value (conf, a, a)
                                 - 100.0 * rw->confusion[a * t->n_classes + a] / sum), <, 1e-9);
    }
  FwPruneSnapshot *snap = fw_mask_view_get_snapshot (fw_page_compare_get_side_mask (cmp, 1));
  g_assert_nonnull (snap);
  g_assert_cmpint (snap->n_layers, >=, 2);
  /* half of the first layer is zero: its mask shows 50% pruned, the wide model's none */
  g_assert_cmpfloat (fabs (snap->layers[0].sparsity - 0.5), <, 0.01);
  FwPruneSnapshot *snap0 = fw_mask_view_get_snapshot (fw_page_compare_get_side_mask (cmp, 0));
  g_assert_cmpfloat (snap0->layers[0].sparsity, <, 0.01);
  g_autoptr (FwHeatmap) h = fw_mask_layer_heatmap (&snap->layers[0]);
  guint masked = 0;
  for (guint r = 0; r < fw_heatmap_get_rows (h); r++)
    for (guint c = 0; c < fw_heatmap_get_cols (h); c++)
      masked += fw_heatmap_is_masked (h, r, c);
  /* the even entries of the weight matrix (it comes first in the layer's parameters) */
  guint n_weights = (guint) snap->layers[0].rows * snap->layers[0].cols;
  g_assert_cmpuint (masked, ==, (n_weights + 1) / 2);

  /* export: CSV / Markdown / LaTeX by extension; an unknown one is refused */
  const char *exts[] = { "csv", "md", "tex" };
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/board.%s", tmp_dir, exts[i]);
      g_assert_true (fw_page_compare_export_table (cmp, path, &error));
      g_assert_no_error (error);
      g_autofree char *text = NULL;
      g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
      g_assert_nonnull (strstr (text, "wide half-zero"));
    }
  g_autofree char *bad = g_strdup_printf ("%s/board.xls", tmp_dir);
  g_assert_false (fw_page_compare_export_table (cmp, bad, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_clear_error (&error);
  /* the plots export through their views (PNG, SVG, PDF) */
  g_autofree char *pdf = g_strdup_printf ("%s/pareto.pdf", tmp_dir);
  g_assert_true (fw_plot_export (pdf, FW_EXPORT_AUTO, FW_PLOT_LINE, bp, 640, 480, 1, NULL,
                                 &error));
  g_assert_true (size_of (pdf) > 1000);
}

static void
test_compare_pngs (void)
{
  if (g_getenv ("FW_COMPARE_SHOT_DIR") == NULL)
    {
      g_test_skip ("set FW_COMPARE_SHOT_DIR to write the page PNGs");
      return;
    }
  show ("compare");
  GtkWidget *cmp = page ("compare");
  GtkStack *viz = find_stack (cmp, "pareto");
  show ("compress");
  shot ("compress-page");
  show ("compare");
  const char *names[] = { "table", "pareto", "side" };
  for (int i = 0; i < 3; i++)
    {
      gtk_stack_set_visible_child_name (viz, names[i]);
      g_autofree char *n = g_strdup_printf ("compare-%s", names[i]);
      shot (n);
    }
}

static const FwCompareRow *
row_named (const FwCompareTable *t, const char *name)
{
  for (guint i = 0; i < t->rows->len; i++)
    if (g_strcmp0 (fw_compare_table_row (t, i)->name, name) == 0)
      return fw_compare_table_row (t, i);
  g_assert_not_reached ();
  return NULL;
}

static gboolean
prune_idle (gpointer p)
{
  return !fw_prune_panel_is_running (p);
}

static gboolean
data_ready (gpointer spec)
{
  FwPageData *d = fw_window_get_page_data (win);
  return g_strcmp0 (fw_page_data_get_spec (d), spec) == 0 && fw_page_data_get_dataset (d) != NULL;
}

static void
test_prune_shows_masks (void)
{
  const FwRecipeExt *ext = fw_recipe_ext_lookup ("prune");
  if (ext == NULL || ext->run == NULL)
    {
      g_test_skip ("the [prune] job is not in this build");
      return;
    }
  FwPageCompress *cp = FW_PAGE_COMPRESS (page ("compress"));
  show ("compress");
  g_assert_cmpstr (fw_page_compress_get_method (cp), ==, "prune");
  FwPrunePanel *panel = FW_PRUNE_PANEL (fw_page_compress_get_panel (cp, "prune"));
  g_autoptr (FwModel) m = trained_mlp ("48", 5);
  g_autofree char *path = g_build_filename (tmp_dir, "to-prune.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_model_save (m, path, NULL, &error));
  FwModelShelf *shelf = fw_window_get_shelf (win);
  shelf_add (m, "to prune", "trained", path);
  guint pos = g_list_model_get_n_items (G_LIST_MODEL (shelf)) - 1;
  fw_page_compress_select (cp, pos);
  g_assert_true (fw_page_compress_get_item (cp) == fw_model_shelf_get_item (shelf, pos));

  /* the Data page's dataset is the one pruning fine-tunes and tests on */
  fw_page_data_load (fw_window_get_page_data (win), "sim:600:20");
  g_assert_true (fw_ui_wait_until (data_ready, (gpointer) "sim:600:20", 60));
  fw_prune_panel_set_form (panel, "magnitude", "weights", "per-layer", 0.8, "cubic", 2, 1);
  g_assert_true (fw_prune_panel_run (panel));
  g_assert_true (fw_ui_wait_until (prune_idle, panel, 300));
  if (fw_window_get_error_text (win) != NULL)
    g_test_message ("error: %s", fw_window_get_error_text (win));
  g_assert_null (fw_window_get_error_text (win));
  /* the masks were shown step by step */
  g_assert_cmpuint (fw_prune_panel_get_n_snapshots (panel), >=, 2);
  FwPruneSnapshot *snap = fw_mask_view_get_snapshot (fw_prune_panel_get_mask_view (panel));
  g_assert_nonnull (snap);
  for (int i = 0; i < snap->n_layers; i++)
    {
      const FwPruneLayerView *l = &snap->layers[i];
      gsize kept = 0;
      for (gsize k = 0; k < (gsize) l->rows * l->cols; k++)
        {
          kept += l->keep[k];
          if (!l->keep[k])
            g_assert_cmpfloat (l->weight[k], ==, 0);
        }
      g_assert_cmpuint (kept, ==, l->n_kept);
    }
  g_assert_cmpfloat (fabs (snap->sparsity - 0.8), <, 0.02);
  g_assert_true (fw_line_plot_series_len (fw_prune_panel_get_steps_plot (panel), 1) >= 2);
  /* the pruned model is on the shelf with its file */
  FwShelfItem *last = fw_model_shelf_get_item (shelf, g_list_model_get_n_items (
                                                          G_LIST_MODEL (shelf)) - 1);
  g_assert_cmpstr (fw_shelf_item_get_method (last), ==, "pruned");
  g_assert_nonnull (fw_shelf_item_get_file (last));
  g_assert_cmpstr (fw_shelf_item_get_file (last), ==, fw_prune_panel_get_result_path (panel));
  g_assert_cmpfloat (fw_shelf_item_get_bytes (last), ==,
                     (double) size_of (fw_shelf_item_get_file (last)));
  g_assert_cmpfloat (fw_shelf_item_get_bytes (last), <, (double) size_of (path));
  shot ("compress-prune");

  /* on the compare board, side by side with its dense original: the CSR model's mask shows
   * the same 80% pruned */
  FwPageCompare *cmp = FW_PAGE_COMPARE (page ("compare"));
  show ("compare");
  guint n = g_list_model_get_n_items (G_LIST_MODEL (shelf));
  fw_page_compare_set_test_set (cmp, test);
  fw_page_compare_set_timing (cmp, FALSE, 3);
  g_assert_true (fw_page_compare_measure (cmp));
  g_assert_true (fw_ui_wait_until (compare_idle, cmp, 120));
  fw_page_compare_set_side (cmp, (int) pos, (int) n - 1, -1);
  fw_ui_spin_for (0.1);
  FwPruneSnapshot *dense = fw_mask_view_get_snapshot (fw_page_compare_get_side_mask (cmp, 0));
  FwPruneSnapshot *pruned = fw_mask_view_get_snapshot (fw_page_compare_get_side_mask (cmp, 1));
  g_assert_nonnull (dense);
  g_assert_nonnull (pruned);
  g_assert_cmpint (pruned->n_layers, ==, dense->n_layers);
  g_assert_cmpfloat (dense->sparsity, <, 0.01);
  g_assert_cmpfloat (fabs (pruned->sparsity - snap->sparsity), <, 0.01);
  /* the board reads the pruned file's bytes */
  FwCompareTable *t = fw_page_compare_get_table (cmp);
  const FwCompareRow *rp = row_named (t, fw_shelf_item_get_name (last));
  const FwCompareRow *ro = row_named (t, "to prune");
  g_assert_cmpint (rp->file_bytes, ==, size_of (fw_shelf_item_get_file (last)));
  g_assert_cmpuint (rp->params_nonzero, <, ro->params_nonzero / 3);
  /* the Side by side tab, for a look */
  gtk_stack_set_visible_child_name (find_stack (GTK_WIDGET (cmp), "side"), "side");
  shot ("compare-side-pruned");
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  fw_ui_test_env ();
  tmp_dir = g_dir_make_tmp ("fw-test-compare-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("FW_RUNS_DIR", tmp_dir, TRUE);
  g_test_init (&argc, &argv, NULL);
  train = fw_dataset_load ("sim:600:20", 1, NULL, &error);
  g_assert_no_error (error);
  test = fw_dataset_load_test ("sim:600:20", 1, NULL, &error);
  g_assert_no_error (error);
  if (!gtk_init_check ())
    {
      g_test_skip ("no display (run under xvfb-run)");
      return g_test_run ();
    }
  win = fw_ui_open_window (&app);

  g_test_add_func ("/ComparePage/two_trained_models_side_by_side", test_compare_two_models);
  g_test_add_func ("/ComparePage/renders_to_png", test_compare_pngs);
  g_test_add_func ("/CompressPage/prune_a_trained_model_shows_masks", test_prune_shows_masks);
  int ret = g_test_run ();
  gtk_window_destroy (GTK_WINDOW (win));
  fw_ui_spin_for (0.1);
  g_application_quit (G_APPLICATION (app));
  g_object_unref (app);
  fw_dataset_unref (train);
  fw_dataset_unref (test);
  return ret;
}
