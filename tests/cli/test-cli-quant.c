/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cli-quant.c: frugal quantize and frugal cluster on a tiny digits model: the run folder's
 * summary agrees with the files on disk and with an independent evaluation of the saved
 * models; the int8 file holds int8 layers; clustered weights take k values; usage errors. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-engine.h"
#include "fw-cli-test-util.h"

static char *base_path;
static char *tmp;

static JsonObject *
read_summary (const char *dir, JsonParser **parser)
{
  g_autofree char *p = g_build_filename (dir, "summary.json", NULL);
  *parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_file (*parser, p, &error));
  return json_node_get_object (json_parser_get_root (*parser));
}

static gint64
file_size (const char *dir, const char *name)
{
  g_autofree char *p = g_build_filename (dir, name, NULL);
  GStatBuf st;
  g_assert_cmpint (g_stat (p, &st), ==, 0);
  return st.st_size;
}

static double
accuracy_of (const char *dir, const char *name, FwModel **out)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *p = g_build_filename (dir, name, NULL);
  FwModel *m = fw_model_load (p, NULL, &error);
  g_assert_no_error (error);
  FwDataset *test = fw_dataset_load_test ("digits", 1, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwEvalResult) e = fw_evaluate (m, test, 256, NULL, &error);
  g_assert_no_error (error);
  fw_dataset_unref (test);
  if (out != NULL)
    *out = m;
  else
    fw_model_unref (m);
  return e->accuracy;
}

static void
check_summary (const char *dir, JsonObject *s)
{
  g_assert_cmpint (json_object_get_int_member (s, "bytes"), ==, file_size (dir, "model.safetensors"));
  g_assert_cmpint (json_object_get_int_member (s, "bytes_base"), ==,
                   file_size (dir, "base.safetensors"));
  g_assert_cmpfloat (fabs (json_object_get_double_member (s, "test_acc")
                           - accuracy_of (dir, "model.safetensors", NULL)), <, 1e-6);
  g_assert_cmpfloat (fabs (json_object_get_double_member (s, "test_acc_base")
                           - accuracy_of (dir, "base.safetensors", NULL)), <, 1e-6);
}

static void
test_int8 (void)
{
  g_autofree char *dir = g_build_filename (tmp, "int8", NULL);
  g_autofree char *out = NULL, *err = NULL;
  int rc = fw_cli_run_frugal (&out, &err, 120, "quantize", "--model", base_path, "--data",
                              "digits", "--mode", "int8", "--out", dir, NULL);
  g_assert_cmpint (rc, ==, 0);
  g_assert_nonnull (strstr (out, "int8 per-channel symmetric"));
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *s = read_summary (dir, &parser);
  check_summary (dir, s);
  g_assert_cmpstr (json_object_get_string_member (s, "method"), ==, "int8");
  /* int8 weights: about 4x smaller */
  g_assert_cmpfloat (json_object_get_double_member (s, "weight_ratio"), >, 3.5);
  FwModel *m = NULL;
  accuracy_of (dir, "model.safetensors", &m);
  g_assert_nonnull (strstr (m->spec, "qdense:32:pc:sym"));
  fw_model_unref (m);
}

static void
test_cluster (void)
{
  g_autofree char *dir = g_build_filename (tmp, "cluster", NULL);
  g_autofree char *out = NULL, *err = NULL;
  int rc = fw_cli_run_frugal (&out, &err, 120, "cluster", "--model", base_path, "--data",
                              "digits", "-k", "4", "--epochs", "1", "--out", dir, NULL);
  g_assert_cmpint (rc, ==, 0);
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *s = read_summary (dir, &parser);
  check_summary (dir, s);
  /* 2-bit codes: at least 12x smaller weights than float32 */
  g_assert_cmpfloat (json_object_get_double_member (s, "weight_ratio"), >, 12);
  g_autofree char *metrics = NULL;
  g_autofree char *mp = g_build_filename (dir, "metrics.csv", NULL);
  g_assert_true (g_file_get_contents (mp, &metrics, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (g_strstrip (metrics), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 2); /* header + one epoch */
  /* every layer's weights decode to at most 4 values */
  FwModel *m = NULL;
  accuracy_of (dir, "model.safetensors", &m);
  g_assert_true (g_str_has_prefix (m->spec, "flatten,cluster:4:dense:32"));
  fw_model_unref (m);
}

static void
test_usage (void)
{
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (fw_cli_run_frugal (&out, &err, 30, "cluster", "-k", "1", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "-k 1"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (fw_cli_run_frugal (&out, &err, 30, "quantize", "--mode", "int4", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "int4"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  /* a missing model file: exit 1 naming it */
  g_assert_cmpint (fw_cli_run_frugal (&out, &err, 60, "quantize", "--model", "/nonexistent.st",
                                      "--data", "digits", "--out", tmp, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "/nonexistent.st"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  /* --print-recipe makes a recipe frugal run accepts */
  g_assert_cmpint (fw_cli_run_frugal (&out, &err, 30, "quantize", "--mode", "ternary",
                                      "--print-recipe", NULL), ==, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) r = fw_recipe_load_data (out, strlen (out), "printed", &error);
  g_assert_no_error (error);
  g_assert_true (fw_recipe_has_group (r, "quantize"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autoptr (GError) error = NULL;
  FwDataset *train = fw_dataset_load ("digits", 1, NULL, &error);
  if (train == NULL)
    {
      g_test_skip (error->message);
      return g_test_run ();
    }
  tmp = g_dir_make_tmp ("fw-test-cli-quant-XXXXXX", &error);
  g_assert_no_error (error);
  /* the float model: a small MLP, two epochs on digits */
  FwModel *m = fw_model_new ("mlp", "flatten,dense:32,relu,dense:10", train->shape, &error);
  g_assert_no_error (error);
  fw_model_init (m, 1);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 2;
  g_assert_true (fw_train (m, &cfg, train, NULL, NULL, NULL, NULL, NULL, &error));
  base_path = g_build_filename (tmp, "base.safetensors", NULL);
  g_assert_true (fw_model_save (m, base_path, NULL, &error));
  fw_model_unref (m);
  fw_dataset_unref (train);
  g_test_add_func ("/CliQuant/int8_summary_matches_files_and_evaluation", test_int8);
  g_test_add_func ("/CliQuant/cluster_summary_matches_files_and_evaluation", test_cluster);
  g_test_add_func ("/CliQuant/usage_and_input_errors", test_usage);
  int rc = g_test_run ();
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmp);
  (void) system (cmd);
  return rc;
}
