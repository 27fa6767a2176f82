/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-quant.c: the Quantize and Cluster panels driven under Xvfb inside the real window: a
 * tiny digits model quantized to int8 and clustered with k = 3; the histograms, the results
 * and the shelf checked against the engine's own numbers; a PNG of each panel
 * (FW_QUANT_SHOT_DIR). */
#include <math.h>
#include <string.h>

#include "fw-application.h"
#include "fw-cluster.h"
#include "fw-layer-quant.h"
#include "fw-model-shelf.h"
#include "fw-page-compress.h"
#include "fw-panel-quant.h"
#include "fw-train.h"
#include "fw-window-private.h"
#include "fw-ui-test-util.h"

static FwApplication *app;
static FwWindow *win;
static FwModel *model;

static gboolean
panel_idle (gpointer p)
{
  return !fw_panel_quant_is_running (p);
}

/* the method's panel on the Compress page, shown */
static FwPanelQuant *
show_panel (gboolean cluster, const char *name)
{
  const char *id = cluster ? "cluster" : "quantize";
  GtkStack *stack = fw_window_get_stack (win);
  GtkWidget *page = gtk_stack_get_child_by_name (stack, "compress");
  g_assert_nonnull (page);
  g_action_group_activate_action (G_ACTION_GROUP (win), "show-page",
                                  g_variant_new_string ("compress"));
  g_assert_true (fw_page_compress_set_method (FW_PAGE_COMPRESS (page), id));
  fw_ui_spin_for (0.2);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "compress");
  GtkWidget *p = fw_page_compress_get_panel (FW_PAGE_COMPRESS (page), id);
  g_assert_nonnull (p);
  (void) name;
  return FW_PANEL_QUANT (p);
}

static void
write_png (const char *name)
{
  const char *dir = g_getenv ("FW_QUANT_SHOT_DIR");
  if (dir == NULL)
    return;
  GtkWidget *w = GTK_WIDGET (win);
  fw_ui_spin_for (0.3);
  GdkPaintable *p = gtk_widget_paintable_new (w);
  GtkSnapshot *snap = gtk_snapshot_new ();
  gdk_paintable_snapshot (p, snap, gtk_widget_get_width (w), gtk_widget_get_height (w));
  g_autoptr (GskRenderNode) node = gtk_snapshot_free_to_node (snap);
  GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (w));
  g_autoptr (GdkTexture) tex = gsk_renderer_render_texture (renderer, node, NULL);
  g_autofree char *path = g_strdup_printf ("%s/%s.png", dir, name);
  g_assert_true (gdk_texture_save_to_png (tex, path));
  g_test_message ("wrote %s", path);
  g_object_unref (p);
}

static guint
hist_total (const guint *c, int bins)
{
  guint s = 0;
  for (int i = 0; i < bins; i++)
    s += c[i];
  return s;
}

static void
test_int8 (void)
{
  FwPanelQuant *panel = show_panel (FALSE, "test-quantize");
  FwModelShelf *shelf = fw_window_get_shelf (win);
  guint n_shelf = g_list_model_get_n_items (G_LIST_MODEL (shelf));
  fw_panel_quant_set_source (panel, model, "digits");
  fw_panel_quant_set_form (panel, "int8", 0, 0, 600);
  g_assert_true (fw_panel_quant_run (panel));
  g_assert_true (fw_panel_quant_is_running (panel));
  g_assert_true (fw_ui_wait_until (panel_idle, panel, 120));
  g_assert_null (fw_window_get_error_text (win));
  const FwQuantResult *r = fw_panel_quant_get_result (panel);
  g_assert_nonnull (r);
  g_assert_cmpstr (r->method, ==, "int8");
  /* the shown accuracy is the model's own on the digits test split */
  g_autoptr (GError) error = NULL;
  FwDataset *test = fw_dataset_load_test ("digits", 1, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwEvalResult) e = fw_evaluate (r->model, test, 256, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (fabs (e->accuracy - r->acc), <, 1e-12);
  fw_dataset_unref (test);
  /* really smaller: an int8 layer in the model, the file about 4x smaller */
  g_assert_true (r->model->layers[1]->klass == &fw_layer_qdense);
  g_assert_cmpint (r->bytes, <, r->bytes_base / 3);
  /* the histogram counts every weight of the largest tensor (dense 400 -> 32) */
  const FwWeightHist *h = fw_panel_quant_get_hist (panel);
  g_assert_nonnull (h);
  g_assert_cmpstr (h->stage, ==, "final");
  g_assert_cmpuint (fw_panel_quant_get_n_frames (panel), >=, 2);
  g_assert_cmpuint (hist_total (h->before, h->bins), ==, 400 * 32);
  g_assert_cmpuint (hist_total (h->after, h->bins), ==, 400 * 32);
  /* and the result is on the shelf, its parameters counted as stored (the float count alone
   * showed "0 params"): per int8 dense layer the same weights and biases as the float model,
   * plus a scale and a zero point per output channel and an input scale and zero point */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (shelf)), ==, n_shelf + 1);
  g_autoptr (FwShelfItem) item = g_list_model_get_item (G_LIST_MODEL (shelf), n_shelf);
  g_assert_true (fw_shelf_item_get_model (item) == r->model);
  gsize expect = r->model->n_params + r->model->n_state;
  for (int i = 0; i < r->model->n_layers; i++)
    if (r->model->layers[i]->klass == &fw_layer_qdense)
      expect += (gsize) model->layers[i]->n_w + 2 * (gsize) model->layers[i]->out.c + 2;
  g_assert_cmpuint (fw_shelf_item_get_params (item), ==, expect);
  g_assert_cmpuint (expect, >, fw_model_param_count (model));
  write_png ("quantize-int8");
}

static void
test_cluster (void)
{
  FwPanelQuant *panel = show_panel (TRUE, "test-cluster");
  fw_panel_quant_set_source (panel, model, "digits");
  fw_panel_quant_set_form (panel, NULL, 3, 1, 600);
  g_assert_true (fw_panel_quant_run (panel));
  g_assert_true (fw_ui_wait_until (panel_idle, panel, 120));
  g_assert_null (fw_window_get_error_text (win));
  const FwQuantResult *r = fw_panel_quant_get_result (panel);
  g_assert_nonnull (r);
  g_assert_cmpstr (r->method, ==, "cluster");
  g_assert_cmpuint (r->metrics->len, ==, 1);
  /* k-means, one epoch, final: at least three frames */
  g_assert_cmpuint (fw_panel_quant_get_n_frames (panel), >=, 3);
  const FwWeightHist *h = fw_panel_quant_get_hist (panel);
  g_assert_cmpint (h->n_levels, ==, 3);
  /* every stored weight sits on one of the three centres: the non-empty bins of "after" are
   * exactly the bins of the levels */
  guint on_levels = 0;
  for (int b = 0; b < h->bins; b++)
    {
      gboolean has_level = FALSE;
      for (int i = 0; i < h->n_levels; i++)
        has_level |= (int) floorf ((h->levels[i] - h->lo) / (h->hi - h->lo) * h->bins) == b;
      if (!has_level)
        g_assert_cmpuint (h->after[b], ==, 0);
      else
        on_levels += h->after[b];
    }
  g_assert_cmpuint (on_levels, ==, 400 * 32);
  /* 2-bit codes: the file is much smaller than the float one */
  g_assert_cmpint (r->bytes, <, r->bytes_base / 8);
  write_png ("cluster-k3");
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  fw_ui_test_env ();
  g_autofree char *runs = g_dir_make_tmp ("fw-test-quant-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("FW_RUNS_DIR", runs, TRUE);
  g_test_init (&argc, &argv, NULL);
  /* a small digits MLP, trained here */
  FwDataset *train = fw_dataset_load ("digits", 1, NULL, &error);
  if (train == NULL)
    {
      g_test_skip (error->message);
      return g_test_run ();
    }
  model = fw_model_new ("mlp", "flatten,dense:32,relu,dense:10", train->shape, &error);
  g_assert_no_error (error);
  fw_model_init (model, 1);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 2;
  cfg.lr = 0.05;
  g_assert_true (fw_train (model, &cfg, train, NULL, NULL, NULL, NULL, NULL, &error));
  fw_dataset_unref (train);
  if (!gtk_init_check ())
    {
      g_test_skip ("no display (run under xvfb-run)");
      return g_test_run ();
    }
  win = fw_ui_open_window (&app);
  g_test_add_func ("/QuantPanel/int8_result_histogram_and_shelf", test_int8);
  g_test_add_func ("/QuantPanel/cluster_weights_sit_on_the_centres", test_cluster);
  int ret = g_test_run ();
  gtk_window_destroy (GTK_WINDOW (win));
  fw_ui_spin_for (0.1);
  g_application_quit (G_APPLICATION (app));
  g_object_unref (app);
  fw_model_unref (model);
  return ret;
}
