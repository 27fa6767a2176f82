/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-window.c: the workbench window driven through its actions, under Xvfb: pages, a
 * training run end to end, cancel, a bad dataset, and a PNG of each page. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-application.h"
#include "fw-dataset.h"
#include "fw-job-indicator.h"
#include "fw-model-shelf.h"
#include "fw-page-data-private.h"
#include "fw-page-train-private.h"
#include "fw-plot.h"
#include "fw-sample-item.h"
#include "fw-window-private.h"
#include "fw-page-augment.h"
#include "fw-ui-test-util.h"

static FwApplication *app;
static FwWindow *win;
static char *runs_dir;
/* A small simulated dataset written as IDX files before the window exists. The jobs of these
 * tests read it instead of running the simulator: the simulator renders with Pango/cairo-ft on
 * the worker thread, and Pango text on two threads at once can crash inside cairo 1.16
 * (cairo_scaled_font_glyph_extents; reproduced without GTK). */
static char *train_spec;   /* "idx:IMAGES:LABELS" */
static char *test_spec;
static int test_n;

static void
write_be32 (GString *s, guint32 v)
{
  g_string_append_c (s, (char) (v >> 24));
  g_string_append_c (s, (char) (v >> 16));
  g_string_append_c (s, (char) (v >> 8));
  g_string_append_c (s, (char) v);
}

/* IDX: magic 0x0803 (unsigned bytes, 3 dims) n h w, then the pixels; labels 0x0801 n. */
static char *
write_idx (const FwDataset *ds, const char *dir, const char *name)
{
  g_autoptr (GString) img = g_string_new (NULL);
  g_autoptr (GString) lab = g_string_new (NULL);
  g_autofree char *ipath = g_strdup_printf ("%s/%s-images.idx", dir, name);
  g_autofree char *lpath = g_strdup_printf ("%s/%s-labels.idx", dir, name);
  gsize size = fw_dataset_sample_size (ds);

  write_be32 (img, 0x0803);
  write_be32 (img, ds->n);
  write_be32 (img, ds->shape.h);
  write_be32 (img, ds->shape.w);
  for (gsize i = 0; i < (gsize) ds->n * size; i++)
    g_string_append_c (img, (char) (guint8) lrintf (CLAMP (ds->x[i], 0.f, 1.f) * 255.f));
  write_be32 (lab, 0x0801);
  write_be32 (lab, ds->n);
  for (int i = 0; i < ds->n; i++)
    g_string_append_c (lab, (char) ds->y[i]);
  g_assert_true (g_file_set_contents (ipath, img->str, img->len, NULL));
  g_assert_true (g_file_set_contents (lpath, lab->str, lab->len, NULL));
  return g_strdup_printf ("idx:%s:%s", ipath, lpath);
}

/* ---- bounded waits ---- */

/* Iterates the main context until cond holds or timeout_s passes; TRUE if it holds. */

static gboolean
data_loaded (gpointer p)
{
  FwPageData *page = fw_window_get_page_data (win);
  return !fw_page_data_is_loading (page) && fw_page_data_get_dataset (page) != NULL;
}

static gboolean
train_idle (gpointer p)
{
  return !fw_page_train_is_running (fw_window_get_page_train (win));
}

static gboolean
ui_idle (gpointer p)
{
  FwPageTrain *page = fw_window_get_page_train (win);
  FwJobIndicator *ind = fw_window_get_job_indicator (win);

  return !fw_page_train_is_running (page)
         && gtk_widget_is_sensitive (fw_page_train_get_start_button (page))
         && !gtk_widget_get_visible (GTK_WIDGET (ind));
}

static gboolean
batches_seen (gpointer p)
{
  FwLinePlot *loss = fw_page_train_get_loss_plot (fw_window_get_page_train (win));
  return fw_line_plot_series_len (loss, FW_LOSS_BATCH) > 2;
}

static gboolean
error_shown (gpointer p)
{
  return fw_window_get_error_text (win) != NULL;
}

static gboolean
not_loading (gpointer p)
{
  return !fw_page_data_is_loading (fw_window_get_page_data (win));
}

/* ---- tests ---- */

static void
test_pages (void)
{
  GtkStack *stack = fw_window_get_stack (win);
  FwPageData *data = fw_window_get_page_data (win);
  FwDataset *ds;
  GListModel *grid;
  FwBarChart *hist;
  g_autofree int *counts = NULL;
  double total = 0;

  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (win)));
  g_assert_nonnull (gtk_stack_get_child_by_name (stack, "data"));
  g_assert_nonnull (gtk_stack_get_child_by_name (stack, "train"));
  /* the window opens on its start screen, the lecture demos; then the Data page */
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "lecture");
  gtk_stack_set_visible_child_name (stack, "data");

  /* the default dataset arrives from the worker */
  g_assert_true (fw_ui_wait_until (data_loaded, NULL, 30));
  ds = fw_page_data_get_dataset (data);
  grid = fw_page_data_get_grid_model (data);
  g_assert_nonnull (grid);
  g_assert_cmpuint (g_list_model_get_n_items (grid), ==, (guint) ds->n);

  /* the histogram's bars are the label counts (counted here independently) */
  hist = fw_page_data_get_histogram (data);
  counts = g_new0 (int, ds->n_classes);
  for (int i = 0; i < ds->n; i++)
    counts[ds->y[i]]++;
  g_assert_cmpuint (fw_bar_chart_get_n_bars (hist), ==, (guint) ds->n_classes);
  for (int k = 0; k < ds->n_classes; k++)
    {
      g_assert_cmpfloat (fw_bar_chart_get_value (hist, k), ==, counts[k]);
      total += fw_bar_chart_get_value (hist, k);
    }
  g_assert_cmpfloat (total, ==, ds->n);
}

static void
test_per_class_filter (void)
{
  FwPageData *data = fw_window_get_page_data (win);
  FwDataset *ds;
  GListModel *grid;
  FwBarChart *hist;

  g_assert_true (fw_ui_wait_until (data_loaded, NULL, 30));
  ds = fw_page_data_get_dataset (data);
  gtk_spin_button_set_value (fw_page_data_get_per_class_spin (data), 3);
  grid = fw_page_data_get_grid_model (data);
  /* every class of the default datasets has more than 3 samples */
  g_assert_cmpuint (g_list_model_get_n_items (grid), ==, (guint) (3 * ds->n_classes));
  hist = fw_page_data_get_histogram (data);
  for (int k = 0; k < ds->n_classes; k++)
    g_assert_cmpfloat (fw_bar_chart_get_value (hist, k), ==, 3);
  gtk_spin_button_set_value (fw_page_data_get_per_class_spin (data), 0);
  grid = fw_page_data_get_grid_model (data);
  g_assert_cmpuint (g_list_model_get_n_items (grid), ==, (guint) ds->n);
}

static void
test_recipe_round_trip (void)
{
  FwPageTrain *page = fw_window_get_page_train (win);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) r = NULL;
  const char *ini = "[data]\ndataset = sim:321\nper_class = 7\nval_fraction = 0.2\n"
                    "[model]\narch = lenet5\nwidths = 64,32\n"
                    "[train]\nepochs = 9\nbatch = 48\noptimizer = adamw\nlr = 0.003\n"
                    "momentum = 0.5\nweight_decay = 0.0001\nschedule = cosine\npatience = 3\n"
                    "label_smoothing = 0.1\nloss = gce\ncoteaching = true\n"
                    "[data]\naugment = rotate:deg=12;cutmix:p=0.5\n"
                    "[noise]\nkind = pair\nrate = 0.3\n[output]\nembed_points = 300\n"
                    "[run]\nseed = 42\nthreads = 1\n";

  g_assert_true (fw_page_train_set_recipe_data (page, ini, &error));
  g_assert_no_error (error);
  r = fw_page_train_get_recipe (page);
  g_assert_cmpstr (r->dataset, ==, "sim:321");
  g_assert_cmpint (r->per_class, ==, 7);
  g_assert_cmpfloat_with_epsilon (r->val_fraction, 0.2, 1e-9);
  g_assert_cmpstr (r->arch, ==, "lenet5");
  g_assert_cmpstr (r->widths, ==, "64,32");
  g_assert_cmpint (r->train.epochs, ==, 9);
  g_assert_cmpint (r->train.batch, ==, 48);
  g_assert_cmpint (r->train.opt, ==, FW_OPT_ADAMW);
  g_assert_cmpfloat_with_epsilon (r->train.lr, 0.003, 1e-9);
  g_assert_cmpfloat_with_epsilon (r->train.momentum, 0.5, 1e-9);
  g_assert_cmpfloat_with_epsilon (r->train.weight_decay, 0.0001, 1e-9);
  g_assert_cmpint (r->train.schedule, ==, FW_SCHED_COSINE);
  g_assert_cmpint (r->train.patience, ==, 3);
  g_assert_cmpfloat_with_epsilon (r->train.label_smoothing, 0.1, 1e-9);
  g_assert_cmpuint (r->seed, ==, 42);
  g_assert_cmpint (r->threads, ==, 1);
  /* the noisy-label, augmentation and embedding settings have widgets too */
  g_assert_cmpstr (r->loss, ==, "gce");
  g_assert_true (r->coteaching);
  g_assert_cmpstr (r->augment, ==, "rotate:deg=12;cutmix:p=0.5");
  g_assert_cmpstr (r->noise_kind, ==, "pair");
  g_assert_cmpfloat_with_epsilon (r->noise_rate, 0.3, 1e-9);
  g_assert_cmpint (r->embed_points, ==, 300);
}

/* the Embedding tab follows a run with live embedding: one layout per epoch; a wrong
 * augmentation text is refused before any job starts */
static void
test_train_live_embedding (void)
{
  FwPageTrain *page = fw_window_get_page_train (win);
  g_autoptr (GError) error = NULL;
  g_autofree char *bad = g_strdup_printf ("[data]\ndataset = %s\naugment = rotate:deg=12\n"
                                          "[model]\narch = mlp\nwidths = 16\n", train_spec);
  g_assert_true (fw_ui_wait_until (not_loading, NULL, 30));
  g_assert_true (fw_page_train_set_recipe_data (page, bad, &error));
  /* a broken pipeline in the form */
  {
    g_autoptr (FwRecipe) r = fw_page_train_get_recipe (page);
    g_free (r->augment);
    r->augment = g_strdup ("rotat:deg=12");
    fw_page_train_set_recipe (page, r);
  }
  g_action_group_activate_action (G_ACTION_GROUP (win), "train-start", NULL);
  g_assert_false (fw_page_train_is_running (page));
  g_assert_nonnull (fw_window_get_error_text (win));
  g_assert_nonnull (strstr (fw_window_get_error_text (win), "rotat"));
  fw_window_clear_error (win);

  g_autofree char *ini = g_strdup_printf ("[data]\ndataset = %s\ntest = %s\n"
                                          "val_fraction = 0.1\naugment = rotate:deg=10\n"
                                          "[model]\narch = mlp\nwidths = 16\n"
                                          "[train]\nepochs = 2\nbatch = 32\noptimizer = sgd\n"
                                          "lr = 0.05\n[noise]\nkind = symmetric\nrate = 0.2\n"
                                          "[output]\nembed_points = 60\n"
                                          "[run]\nseed = 1\nthreads = 1\n",
                                          train_spec, test_spec);
  g_assert_true (fw_page_train_set_recipe_data (page, ini, &error));
  g_assert_no_error (error);
  g_action_group_activate_action (G_ACTION_GROUP (win), "train-start", NULL);
  g_assert_true (fw_page_train_is_running (page));
  g_assert_true (fw_ui_wait_until (train_idle, NULL, 120));
  g_assert_null (fw_window_get_error_text (win));
  g_assert_cmpuint (fw_page_train_get_n_embed_frames (page), ==, 2);
  FwScatterPlot *sp = fw_page_train_get_embedding (page);
  g_assert_cmpuint (fw_scatter_plot_get_n_points (sp), ==, 60);
  double x, y;
  int k;
  g_assert_true (fw_scatter_plot_get_point (sp, 0, &x, &y, &k));
  g_assert_true (isfinite (x) && isfinite (y) && k >= 0);
}

static void
test_train_end_to_end (void)
{
  FwPageTrain *page = fw_window_get_page_train (win);
  FwModelShelf *shelf = fw_application_get_shelf (app);
  guint shelf_before = g_list_model_get_n_items (G_LIST_MODEL (shelf));
  guint runs_before = fw_page_train_get_n_runs (page);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwShelfItem) item = NULL;
  FwHeatmap *cm;
  FwLinePlot *loss, *acc;
  double sum = 0;
  g_autofree char *ini = g_strdup_printf ("[data]\ndataset = %s\ntest = %s\n"
                                          "val_fraction = 0.1\n"
                                          "[model]\narch = mlp\nwidths = 16\n"
                                          "[train]\nepochs = 2\nbatch = 32\noptimizer = sgd\n"
                                          "lr = 0.05\n[run]\nseed = 1\nthreads = 1\n",
                                          train_spec, test_spec);

  g_assert_true (fw_ui_wait_until (not_loading, NULL, 30));
  g_assert_true (fw_page_train_set_recipe_data (page, ini, &error));
  g_assert_no_error (error);

  g_action_group_activate_action (G_ACTION_GROUP (win), "train-start", NULL);
  g_assert_true (fw_page_train_is_running (page));
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (win), "train-start"));
  g_assert_true (fw_ui_wait_until (train_idle, NULL, 120));
  g_assert_null (fw_window_get_error_text (win));

  /* one point per epoch on the epoch curves */
  loss = fw_page_train_get_loss_plot (page);
  acc = fw_page_train_get_acc_plot (page);
  g_assert_cmpuint (fw_line_plot_series_len (loss, FW_LOSS_TRAIN), ==, 2);
  g_assert_cmpuint (fw_line_plot_series_len (loss, FW_LOSS_VAL), ==, 2);
  g_assert_cmpuint (fw_line_plot_series_len (acc, FW_ACC_TRAIN), ==, 2);
  for (gsize i = 0; i < 2; i++)
    {
      double x, y;
      g_assert_true (fw_line_plot_get_point (loss, FW_LOSS_TRAIN, i, &x, &y));
      g_assert_cmpfloat (x, ==, (double) (i + 1));
      g_assert_true (isfinite (y) && y > 0);
    }

  /* the model is on the shelf, and the run in the history */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (shelf)), ==, shelf_before + 1);
  item = g_list_model_get_item (G_LIST_MODEL (shelf), shelf_before);
  g_assert_cmpstr (fw_shelf_item_get_arch (item), ==, "mlp");
  g_assert_true (g_str_has_prefix (fw_shelf_item_get_name (item), "mlp "));
  g_assert_true (fw_shelf_item_get_accuracy (item) >= 0 && fw_shelf_item_get_accuracy (item) <= 1);
  g_assert_cmpuint (fw_page_train_get_n_runs (page), ==, runs_before + 1);
  g_assert_nonnull (fw_shelf_item_get_run_dir (item));
  g_assert_true (g_str_has_prefix (fw_shelf_item_get_run_dir (item), runs_dir));

  /* the confusion matrix counts every test sample once (the test set written at start) */
  cm = fw_page_train_get_confusion (page);
  g_assert_cmpuint (fw_heatmap_get_rows (cm), ==, 10);
  for (guint i = 0; i < fw_heatmap_get_rows (cm); i++)
    for (guint j = 0; j < fw_heatmap_get_cols (cm); j++)
      sum += fw_heatmap_get_value (cm, i, j);
  g_assert_cmpfloat (sum, ==, test_n);
  /* and the diagonal over the total is the shelf's accuracy */
  {
    double diag = 0;
    for (guint i = 0; i < fw_heatmap_get_rows (cm); i++)
      diag += fw_heatmap_get_value (cm, i, i);
    g_assert_cmpfloat_with_epsilon (diag / sum, fw_shelf_item_get_accuracy (item), 1e-9);
  }
  /* the toast tells the outcome */
  g_assert_nonnull (fw_window_get_last_toast (win));
  g_assert_true (strstr (fw_window_get_last_toast (win), "Trained") != NULL);
}

static void
test_history_reload (void)
{
  FwPageTrain *page = fw_window_get_page_train (win);
  FwLinePlot *loss = fw_page_train_get_loss_plot (page);
  guint n = fw_page_train_get_n_runs (page);
  guint last;

  if (n == 0)
    {
      g_test_skip ("no run in the history (the training test did not run)");
      return;
    }
  last = n - 1;
  fw_line_plot_clear_series (loss, FW_LOSS_TRAIN);
  g_assert_cmpuint (fw_line_plot_series_len (loss, FW_LOSS_TRAIN), ==, 0);
  fw_page_train_show_run (page, last);
  g_assert_cmpuint (fw_line_plot_series_len (loss, FW_LOSS_TRAIN), ==, 2);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (fw_page_train_get_viz_stack (page)), ==,
                   "curves");

  /* a run folder on disk is found by a scan of the runs folder (from its metrics.csv) */
  {
    g_autofree char *dir = g_build_filename (runs_dir, "disk-run", NULL);
    g_autofree char *csv = g_build_filename (dir, "metrics.csv", NULL);
    const char *text = "epoch,train_loss,train_acc,val_loss,val_acc,test_acc,lr,seconds\n"
                       "1,2.0,0.3,2.1,0.25,0.2,0.05,1.5\n"
                       "2,1.0,0.6,1.1,0.55,0.5,0.05,1.5\n"
                       "3,0.5,0.8,0.6,0.75,0.7,0.05,1.5\n";
    double x, y;

    g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
    g_assert_true (g_file_set_contents (csv, text, -1, NULL));
    fw_page_train_scan_runs (page, runs_dir);
    g_assert_cmpuint (fw_page_train_get_n_runs (page), ==, n + 1);
    fw_page_train_show_run (page, n);
    g_assert_cmpuint (fw_line_plot_series_len (loss, FW_LOSS_TRAIN), ==, 3);
    g_assert_true (fw_line_plot_get_point (loss, FW_LOSS_TRAIN, 2, &x, &y));
    g_assert_cmpfloat (x, ==, 3);
    g_assert_cmpfloat (y, ==, 0.5);
    g_assert_cmpuint (fw_line_plot_series_len (fw_page_train_get_acc_plot (page), FW_ACC_TEST),
                      ==, 3);
    /* scanning again adds nothing */
    fw_page_train_scan_runs (page, runs_dir);
    g_assert_cmpuint (fw_page_train_get_n_runs (page), ==, n + 1);
  }
}

static void
test_cancel (void)
{
  FwPageTrain *page = fw_window_get_page_train (win);
  g_autoptr (GError) error = NULL;
  gint64 t0;
  double dt;
  g_autofree char *ini = g_strdup_printf ("[data]\ndataset = %s\ntest = %s\n"
                                          "val_fraction = 0.1\n"
                                          "[model]\narch = mlp\nwidths = 64\n"
                                          "[train]\nepochs = 500\nbatch = 8\n"
                                          "[run]\nseed = 2\nthreads = 1\n",
                                          train_spec, test_spec);

  g_assert_true (fw_page_train_set_recipe_data (page, ini, &error));
  g_assert_no_error (error);
  g_action_group_activate_action (G_ACTION_GROUP (win), "train-start", NULL);
  g_assert_true (fw_page_train_is_running (page));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (fw_window_get_job_indicator (win))));
  g_assert_true (fw_ui_wait_until (batches_seen, NULL, 60));

  t0 = g_get_monotonic_time ();
  g_action_group_activate_action (G_ACTION_GROUP (win), "job-cancel", NULL);
  g_assert_true (fw_ui_wait_until (ui_idle, NULL, 5));
  dt = (g_get_monotonic_time () - t0) / 1e6;
  g_test_message ("UI idle %.3f s after cancel", dt);
  g_assert_cmpfloat (dt, <, 1.0);
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (win), "train-start"));
  g_assert_null (fw_window_get_error_text (win));
}

static void
test_bad_dataset (void)
{
  FwPageData *data = fw_window_get_page_data (win);
  FwDataset *before;
  const char *err;

  g_assert_true (fw_ui_wait_until (not_loading, NULL, 30));
  before = fw_page_data_get_dataset (data);
  fw_window_clear_error (win);
  fw_page_data_load (data, "folder:/nonexistent/fw-test-folder");
  g_assert_true (fw_ui_wait_until (error_shown, NULL, 10));
  g_assert_true (fw_ui_wait_until (not_loading, NULL, 10));
  err = fw_window_get_error_text (win);
  g_test_message ("error shown: %s", err);
  g_assert_true (strstr (err, "fw-test-folder") != NULL);
  /* nothing else changed: the previous dataset is still shown */
  g_assert_true (fw_page_data_get_dataset (data) == before);
  g_assert_cmpuint (g_list_model_get_n_items (fw_page_data_get_grid_model (data)), ==,
                    (guint) before->n);
}

/* A job that fails on the worker (its dataset file is missing: found out when the worker
 * loads it) shows its message; the window stays up, back to idle, and the next job runs to the
 * end on the same worker. */
static void
test_failing_worker_keeps_the_window (void)
{
  FwPageTrain *page = fw_window_get_page_train (win);
  g_autoptr (GError) error = NULL;
  const char *bad = "[data]\ndataset = csv:/nonexistent/fw-missing.csv\ntest = none\n"
                    "[model]\narch = mlp\nwidths = 16\n"
                    "[train]\nepochs = 1\nbatch = 32\n[run]\nseed = 1\nthreads = 1\n";
  g_assert_true (fw_ui_wait_until (not_loading, NULL, 30));
  fw_window_clear_error (win);
  gboolean set = fw_page_train_set_recipe_data (page, bad, &error);
  g_assert_no_error (error);
  g_assert_true (set);
  g_action_group_activate_action (G_ACTION_GROUP (win), "train-start", NULL);
  g_assert_true (fw_ui_wait_until (error_shown, NULL, 120));
  g_assert_true (fw_ui_wait_until (train_idle, NULL, 30));
  const char *err = fw_window_get_error_text (win);
  g_test_message ("error shown: %s", err);
  g_assert_nonnull (strstr (err, "fw-missing.csv"));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (win)));
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (win), "train-start"));

  /* the worker is still there: a sane job runs to the end */
  fw_window_clear_error (win);
  g_autofree char *ok = g_strdup_printf ("[data]\ndataset = %s\ntest = none\n"
                                         "[model]\narch = mlp\nwidths = 8\n"
                                         "[train]\nepochs = 1\nbatch = 32\nlr = 0.05\n"
                                         "[run]\nseed = 1\nthreads = 1\n", train_spec);
  g_assert_true (fw_page_train_set_recipe_data (page, ok, &error));
  g_assert_no_error (error);
  guint runs_before = fw_page_train_get_n_runs (page);
  g_action_group_activate_action (G_ACTION_GROUP (win), "train-start", NULL);
  g_assert_true (fw_ui_wait_until (train_idle, NULL, 120));
  g_assert_null (fw_window_get_error_text (win));
  g_assert_cmpuint (fw_page_train_get_n_runs (page), ==, runs_before + 1);
}

/* Renders widget to a PNG; returns the number of distinct colours (a blank image has 1). */
static guint
render_png (GtkWidget *widget, const char *path)
{
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autoptr (GHashTable) colours = g_hash_table_new (NULL, NULL);
  g_autofree guint32 *px = NULL;
  GskRenderer *renderer;

  g_assert_cmpint (w, >, 0);
  g_assert_cmpint (h, >, 0);
  node = fw_ui_snapshot_node (widget, 10);
  g_assert_nonnull (node);
  renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
  g_assert_true (gdk_texture_save_to_png (texture, path));
  px = g_new (guint32, (gsize) w * h);
  gdk_texture_download (texture, (guchar *) px, (gsize) w * 4);
  for (gsize i = 0; i < (gsize) w * h; i++)
    g_hash_table_add (colours, GUINT_TO_POINTER (px[i]));
  return g_hash_table_size (colours);
}

static gboolean
two_jobs_tracked (gpointer p)
{
  return fw_job_indicator_get_n_jobs (fw_window_get_job_indicator (win)) == 2;
}

static gboolean
sim_loaded (gpointer spec)
{
  FwPageData *data = fw_window_get_page_data (win);
  return !fw_page_data_is_loading (data) && g_strcmp0 (fw_page_data_get_spec (data), spec) == 0;
}

static void
test_queue_and_pause (void)
{
  FwPageTrain *page = fw_window_get_page_train (win);
  FwPageData *data = fw_window_get_page_data (win);
  FwJobIndicator *ind = fw_window_get_job_indicator (win);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) r = NULL;
  FwJob *job;
  g_autofree char *ini = g_strdup_printf ("[data]\ndataset = %s\ntest = %s\n"
                                          "[model]\narch = mlp\nwidths = 32\n"
                                          "[train]\nepochs = 500\nbatch = 8\n"
                                          "[run]\nseed = 3\nthreads = 1\n",
                                          train_spec, test_spec);

  g_assert_true (fw_ui_wait_until (ui_idle, NULL, 10));
  /* a dataset load, then a training job behind it: the header says the second one waits */
  fw_page_data_load (data, test_spec);
  g_assert_true (fw_page_train_set_recipe_data (page, ini, &error));
  g_assert_no_error (error);
  g_action_group_activate_action (G_ACTION_GROUP (win), "train-start", NULL);
  g_assert_true (two_jobs_tracked (NULL));
  g_test_message ("indicator: %s", fw_job_indicator_get_text (ind));
  g_assert_true (strstr (fw_job_indicator_get_text (ind), "+1 queued") != NULL);

  /* the load finishes (the Data page and the Train page's dataset follow it) */
  g_assert_true (fw_ui_wait_until (sim_loaded, test_spec, 30));
  r = fw_page_train_get_recipe (page);
  g_assert_cmpstr (r->dataset, ==, test_spec);

  /* pause the training: no more batches arrive until resumed */
  g_assert_true (fw_ui_wait_until (batches_seen, NULL, 60));
  job = fw_job_indicator_get_current (ind);
  g_assert_nonnull (job);
  g_action_group_activate_action (G_ACTION_GROUP (win), "job-pause", NULL);
  g_assert_true (fw_job_is_paused (job));
  fw_ui_spin_for (0.3);   /* the batch in flight lands */
  {
    FwLinePlot *loss = fw_page_train_get_loss_plot (page);
    gsize n = fw_line_plot_series_len (loss, FW_LOSS_BATCH);
    fw_ui_spin_for (0.5);
    g_assert_cmpuint (fw_line_plot_series_len (loss, FW_LOSS_BATCH), ==, n);
  }
  g_action_group_activate_action (G_ACTION_GROUP (win), "job-pause", NULL);
  g_assert_false (fw_job_is_paused (job));
  g_action_group_activate_action (G_ACTION_GROUP (win), "job-cancel", NULL);
  g_assert_true (fw_ui_wait_until (ui_idle, NULL, 5));
}

static void
test_dropdown_loads_digits (void)
{
  FwPageData *data = fw_window_get_page_data (win);
  GtkDropDown *dd = fw_page_data_get_dropdown (data);
  g_autofree char *digits = fw_dataset_find_digits ();
  g_autoptr (FwRecipe) r = NULL;

  if (digits == NULL)
    {
      g_test_skip ("digits.png (opencv-doc) is not installed");
      return;
    }
  g_assert_true (fw_ui_wait_until (not_loading, NULL, 30));
  /* the drop-down's second entry is the handwritten digits */
  if (gtk_drop_down_get_selected (dd) == 1)
    gtk_drop_down_set_selected (dd, 0);
  g_assert_true (fw_ui_wait_until (not_loading, NULL, 30));
  gtk_drop_down_set_selected (dd, 1);
  g_assert_true (fw_page_data_is_loading (data));
  g_assert_true (fw_ui_wait_until (sim_loaded, (gpointer) "digits", 60));
  g_assert_cmpint (fw_page_data_get_dataset (data)->shape.w, ==, 20);
  g_assert_cmpint (fw_page_data_get_dataset (data)->n_classes, ==, 10);
  r = fw_page_train_get_recipe (fw_window_get_page_train (win));
  g_assert_cmpstr (r->dataset, ==, "digits");
}

static GtkWindow *
other_window (void)
{
  GListModel *tops = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (tops); i++)
    {
      g_autoptr (GtkWindow) w = g_list_model_get_item (tops, i);
      if (w != GTK_WINDOW (win) && gtk_widget_get_visible (GTK_WIDGET (w)))
        return w;
    }
  return NULL;
}

static gboolean
has_other_window (gpointer type)
{
  GtkWindow *w = other_window ();
  return w != NULL && G_TYPE_CHECK_INSTANCE_TYPE (w, GPOINTER_TO_SIZE (type));
}

static void
test_about_and_shortcuts (void)
{
  GtkWindow *w;

  g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
  g_assert_true (fw_ui_wait_until (has_other_window, GSIZE_TO_POINTER (ADW_TYPE_ABOUT_WINDOW), 5));
  w = other_window ();
  g_assert_cmpstr (adw_about_window_get_application_name (ADW_ABOUT_WINDOW (w)), ==,
                   "Frugal Workbench");
  gtk_window_destroy (w);
  fw_ui_spin_for (0.1);

  g_action_group_activate_action (G_ACTION_GROUP (app), "shortcuts", NULL);
  g_assert_true (fw_ui_wait_until (has_other_window, GSIZE_TO_POINTER (GTK_TYPE_SHORTCUTS_WINDOW), 5));
  gtk_window_destroy (other_window ());
  fw_ui_spin_for (0.1);

  /* every primary action has a shortcut */
  {
    const char *actions[] = { "win.train-start", "win.job-cancel", "win.job-pause",
                              "win.open-recipe", "win.save-recipe", "app.quit",
                              "app.shortcuts" };
    for (gsize i = 0; i < G_N_ELEMENTS (actions); i++)
      {
        g_auto (GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (app),
                                                                       actions[i]);
        g_assert_nonnull (accels);
        g_assert_nonnull (accels[0]);
      }
  }
}

/* The grid's thumbnails: planar [c][h][w] floats -> interleaved RGB bytes, each pixel repeated
 * scale x scale times (checked against the definition, pixel by pixel). */
static void
test_thumbnail_pixels (void)
{
  FwShape grey_shape = { 1, 3, 2 }, rgb_shape = { 3, 2, 3 };
  g_autoptr (FwDataset) grey = fw_dataset_new ("grey", 2, grey_shape, 2);
  g_autoptr (FwDataset) rgb = fw_dataset_new ("rgb", 1, rgb_shape, 2);
  int w, h;

  for (gsize i = 0; i < 2 * fw_dataset_sample_size (grey); i++)
    grey->x[i] = (float) (i % 7) / 6.f;
  grey->y[0] = 0;
  grey->y[1] = 1;
  for (gsize i = 0; i < fw_dataset_sample_size (rgb); i++)
    rgb->x[i] = (float) i / 17.f;
  rgb->y[0] = 1;

  {
    /* sample 1 of the grey set at scale 3: 6 x 9 pixels */
    g_autoptr (GBytes) b = fw_sample_pixels_rgb (grey, 1, 3, &w, &h);
    const guint8 *px = g_bytes_get_data (b, NULL);
    g_assert_cmpint (w, ==, 6);
    g_assert_cmpint (h, ==, 9);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        {
          float v = grey->x[6 + (y / 3) * 2 + x / 3];
          guint8 want = (guint8) lrintf (v * 255.f);
          for (int k = 0; k < 3; k++)
            g_assert_cmpuint (px[(y * w + x) * 3 + k], ==, want);
        }
  }
  {
    g_autoptr (GBytes) b = fw_sample_pixels_rgb (rgb, 0, 2, &w, &h);
    const guint8 *px = g_bytes_get_data (b, NULL);
    g_assert_cmpint (w, ==, 6);
    g_assert_cmpint (h, ==, 4);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        for (int k = 0; k < 3; k++)
          {
            float v = rgb->x[(k * 2 + y / 2) * 3 + x / 2];
            g_assert_cmpuint (px[(y * w + x) * 3 + k], ==, (guint8) lrintf (v * 255.f));
          }
  }
  {
    /* items make their texture once, at the size asked */
    g_autoptr (FwSampleItem) item = fw_sample_item_new (grey, 1);
    GdkTexture *t = fw_sample_item_get_texture (item, 10);
    g_assert_cmpint (fw_sample_item_get_label (item), ==, 1);
    g_assert_cmpint (gdk_texture_get_width (t), ==, 10);   /* scale ceil(10 / 2) = 5 */
    g_assert_cmpint (gdk_texture_get_height (t), ==, 15);
    g_assert_true (fw_sample_item_get_texture (item, 10) == t);
  }
}

static void
test_recipe_dialog_opens (void)
{
  GtkWindow *w;

  g_action_group_activate_action (G_ACTION_GROUP (win), "open-recipe", NULL);
  g_assert_true (fw_ui_wait_until (has_other_window, GSIZE_TO_POINTER (GTK_TYPE_WINDOW), 5));
  w = other_window ();
  g_test_message ("dialog: %s", G_OBJECT_TYPE_NAME (w));
  g_assert_true (GTK_IS_FILE_CHOOSER (w));
  gtk_dialog_response (GTK_DIALOG (w), GTK_RESPONSE_CANCEL);
  fw_ui_spin_for (0.2);
  g_assert_null (other_window ());
}

static void
test_open_recipe_file (void)
{
  FwPageTrain *page = fw_window_get_page_train (win);
  g_autofree char *path = g_build_filename (runs_dir, ".data", "lecture.ini", NULL);
  g_autofree char *bad = g_build_filename (runs_dir, ".data", "bad.ini", NULL);
  g_autofree char *ini = g_strdup_printf ("[data]\ndataset = %s\n[model]\narch = mlp\n"
                                          "widths = 48,24\n[train]\nepochs = 7\n"
                                          "optimizer = adam\nlr = 0.002\n", train_spec);
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFile) bad_file = g_file_new_for_path (bad);
  g_autoptr (FwRecipe) r = NULL;
  const char *err;

  g_assert_true (fw_ui_wait_until (ui_idle, NULL, 10));
  gtk_stack_set_visible_child_name (fw_window_get_stack (win), "data");
  g_assert_true (g_file_set_contents (path, ini, -1, NULL));
  /* what `frugal-workbench lecture.ini` does */
  g_application_open (G_APPLICATION (app), &file, 1, "");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (fw_window_get_stack (win)), ==, "train");
  r = fw_page_train_get_recipe (page);
  g_assert_cmpstr (r->widths, ==, "48,24");
  g_assert_cmpint (r->train.epochs, ==, 7);
  g_assert_cmpint (r->train.opt, ==, FW_OPT_ADAM);
  g_assert_cmpfloat_with_epsilon (r->train.lr, 0.002, 1e-12);
  g_assert_cmpstr (r->dataset, ==, train_spec);
  /* the Data page follows the recipe's dataset */
  g_assert_true (fw_ui_wait_until (sim_loaded, train_spec, 30));
  g_assert_true (strstr (fw_window_get_last_toast (win), "lecture") != NULL);

  /* a recipe the engine rejects: the error bar names the key, the form keeps its values */
  g_assert_true (g_file_set_contents (bad, "[train]\nlr = -1\n", -1, NULL));
  g_application_open (G_APPLICATION (app), &bad_file, 1, "");
  err = fw_window_get_error_text (win);
  g_assert_nonnull (err);
  g_test_message ("error shown: %s", err);
  g_assert_true (strstr (err, "lr") != NULL);
  g_clear_pointer (&r, fw_recipe_free);
  r = fw_page_train_get_recipe (page);
  g_assert_cmpint (r->train.epochs, ==, 7);
  fw_window_clear_error (win);

  /* a recipe of another kind of job opens its own page: [augment-sweep] -> Augment page */
  g_autofree char *sweep = g_build_filename (runs_dir, ".data", "sweep.ini", NULL);
  g_autofree char *sweep_ini = g_strdup_printf ("[data]\ndataset = %s\n[augment-sweep]\n"
                                                "per_class = 4,8\nseeds = 2\nsteps = 77\n",
                                                train_spec);
  g_assert_true (g_file_set_contents (sweep, sweep_ini, -1, NULL));
  g_autoptr (GFile) sweep_file = g_file_new_for_path (sweep);
  g_application_open (G_APPLICATION (app), &sweep_file, 1, "");
  GtkWidget *aug = gtk_stack_get_visible_child (fw_window_get_stack (win));
  g_assert_cmpstr (gtk_stack_get_visible_child_name (fw_window_get_stack (win)), ==, "augment");
  int seeds = 0, steps = 0;
  g_autofree char *sizes = fw_page_augment_get_sweep_form (FW_PAGE_AUGMENT (aug), &seeds,
                                                           &steps);
  g_assert_cmpstr (sizes, ==, "4,8");
  g_assert_cmpint (seeds, ==, 2);
  g_assert_cmpint (steps, ==, 77);
  g_assert_null (fw_window_get_error_text (win));
}

/* a CSV file dropped on the Data page is loaded as a dataset (what a user dragging a file
 * from the file manager gets: the page's GtkDropTarget receives a GFile) */
static void
test_drop_csv_file (void)
{
  FwPageData *data = fw_window_get_page_data (win);
  g_autofree char *csv = g_build_filename (runs_dir, ".data", "dropped.csv", NULL);
  g_autoptr (GString) text = g_string_new ("a,b,c,d,label\n");
  for (int i = 0; i < 40; i++)
    g_string_append_printf (text, "%d,%d,%g,%g,%d\n", i % 7, i % 3, 0.5 * i, 1.0 / (i + 1),
                            i % 2);
  g_assert_true (g_file_set_contents (csv, text->str, -1, NULL));
  g_assert_true (fw_ui_wait_until (not_loading, NULL, 30));

  GtkDropTarget *drop = NULL;
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (GTK_WIDGET (data));
  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr (GObject) c = g_list_model_get_item (controllers, i);
      if (GTK_IS_DROP_TARGET (c))
        drop = GTK_DROP_TARGET (c);
    }
  g_assert_nonnull (drop);
  g_autoptr (GFile) file = g_file_new_for_path (csv);
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_TYPE_FILE);
  g_value_set_object (&v, file);
  gboolean accepted = FALSE;
  g_signal_emit_by_name (drop, "drop", &v, 10.0, 10.0, &accepted);
  g_value_unset (&v);
  g_assert_true (accepted);
  g_autofree char *spec = g_strdup_printf ("csv:%s", csv);
  g_assert_true (fw_ui_wait_until (sim_loaded, spec, 30));
  FwDataset *ds = fw_page_data_get_dataset (data);
  g_assert_nonnull (ds);
  g_assert_cmpint (ds->n, ==, 40);
  g_assert_cmpint (ds->n_classes, ==, 2);
  g_assert_null (fw_window_get_error_text (win));

  /* back to the tests' dataset */
  fw_page_data_load (data, train_spec);
  g_assert_true (fw_ui_wait_until (sim_loaded, train_spec, 30));
}

static void
test_screenshots (void)
{
  GtkStack *stack = fw_window_get_stack (win);
  const char *pages[] = { "data", "train" };
  const char *dir = g_getenv ("G_TEST_BUILDDIR");

  g_assert_true (fw_ui_wait_until (not_loading, NULL, 30));
  for (gsize i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      g_autofree char *name = g_strdup_printf ("window-%s.png", pages[i]);
      g_autofree char *path = g_build_filename (dir != NULL ? dir : ".", name, NULL);
      guint n;

      gtk_stack_set_visible_child_name (stack, pages[i]);
      fw_ui_spin_for (0.6);   /* crossfade + a few frames */
      n = render_png (GTK_WIDGET (win), path);
      g_test_message ("%s: %u colours", path, n);
      g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
      g_assert_cmpuint (n, >, 50);
    }
  /* the Train page's Embedding tab, as the live-embedding run left it */
  {
    FwPageTrain *page = fw_window_get_page_train (win);
    g_autofree char *path = g_build_filename (dir != NULL ? dir : ".", "window-train-embedding.png",
                                              NULL);
    gtk_stack_set_visible_child_name (stack, "train");
    gtk_stack_set_visible_child_name (fw_page_train_get_viz_stack (page), "embedding");
    fw_ui_spin_for (0.6);
    guint n = render_png (GTK_WIDGET (win), path);
    g_assert_cmpuint (n, >, 50);
    gtk_stack_set_visible_child_name (fw_page_train_get_viz_stack (page), "curves");
  }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int ret;

  g_setenv ("GTK_A11Y", "none", TRUE);
  g_setenv ("OPENBLAS_NUM_THREADS", "1", FALSE);
  /* no session bus here: dconf would warn when the file chooser saves its settings */
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  runs_dir = g_dir_make_tmp ("fw-test-window-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("FW_RUNS_DIR", runs_dir, TRUE);

  g_test_init (&argc, &argv, NULL);
  {
    g_autoptr (FwDataset) train = fw_dataset_load ("sim:600", 1, NULL, &error);
    g_autoptr (FwDataset) test = NULL;
    g_autofree char *dir = g_build_filename (runs_dir, ".data", NULL);

    g_assert_no_error (error);
    test = fw_dataset_load_test ("sim:600", 1, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
    train_spec = write_idx (train, dir, "train");
    test_spec = write_idx (test, dir, "test");
    test_n = test->n;
  }
  if (!gtk_init_check ())
    {
      g_test_skip ("no display (run under xvfb-run)");
      return g_test_run ();
    }
  adw_init ();

  app = fw_application_new ();
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_application_activate (G_APPLICATION (app));
  win = FW_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  g_assert_nonnull (win);

  g_test_add_func ("/Window/opens_with_data_and_train_pages", test_pages);
  g_test_add_func ("/Window/per_class_spin_filters_the_grid", test_per_class_filter);
  g_test_add_func ("/Window/recipe_fills_the_form_and_back", test_recipe_round_trip);
  g_test_add_func ("/Window/trains_a_model_end_to_end", test_train_end_to_end);
  g_test_add_func ("/Window/live_embedding_follows_training", test_train_live_embedding);
  g_test_add_func ("/Window/history_reloads_run_curves", test_history_reload);
  g_test_add_func ("/Window/cancel_returns_to_idle_within_a_second", test_cancel);
  g_test_add_func ("/Window/bad_dataset_shows_an_error", test_bad_dataset);
  g_test_add_func ("/Window/failing_worker_keeps_the_window", test_failing_worker_keeps_the_window);
  g_test_add_func ("/Window/dropdown_loads_handwritten_digits", test_dropdown_loads_digits);
  g_test_add_func ("/Window/second_job_queues_and_pause_holds_it",
                   test_queue_and_pause);
  g_test_add_func ("/Window/about_and_shortcuts_windows_open", test_about_and_shortcuts);
  g_test_add_func ("/Window/open_recipe_dialog_opens_and_cancels", test_recipe_dialog_opens);
  g_test_add_func ("/Window/opens_a_recipe_file_given_to_the_app", test_open_recipe_file);
  g_test_add_func ("/Window/dropped_csv_file_is_loaded", test_drop_csv_file);
  g_test_add_func ("/Window/renders_each_page_to_png", test_screenshots);
  g_test_add_func ("/SampleItem/thumbnail_pixels_match_the_dataset", test_thumbnail_pixels);
  ret = g_test_run ();

  gtk_window_destroy (GTK_WINDOW (win));
  fw_ui_spin_for (0.1);
  g_application_quit (G_APPLICATION (app));
  /* shutdown runs on the last release: joins the worker */
  g_object_unref (app);
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", runs_dir);
    if (system (cmd) != 0)
      g_test_message ("could not remove %s", runs_dir);
  }
  g_free (runs_dir);
  return ret;
}
