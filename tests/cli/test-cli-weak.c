/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cli-weak.c: `frugal weak`, `frugal active`, `frugal calibrate` and `frugal run` of a
 * [weak] recipe, run as a user would: the run folders' CSV rows agree with the summaries
 * (recomputed here), self-training's counts add up, active-learning curves grow by the batch,
 * ECE recomputed from the reliability rows, and the usage / recipe errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "fw-cli-test-util.h"

static char *
read_file (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

static JsonObject *
read_json (const char *dir, const char *name, JsonParser *parser)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_assert_true (json_parser_load_from_file (parser, path, NULL));
  return json_node_get_object (json_parser_get_root (parser));
}

static char *
run_dir (const char *tag)
{
  g_autofree char *parent = g_dir_make_tmp ("fw-cli-weak-XXXXXX", NULL);
  return g_build_filename (parent, tag, NULL);
}

static void
remove_tree (const char *dir)
{
  g_autofree char *parent = g_path_get_dirname (dir);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", parent);
  g_assert_cmpint (system (cmd), ==, 0);
}

static void
test_weak_command (void)
{
  g_autofree char *dir = run_dir ("weak");
  g_autofree char *out = NULL, *err = NULL;
  int st = fw_cli_run_frugal (&out, &err, 120, "weak", "--data", "sim:800:20", "--method",
                              "supervised,ae,selftrain", "--seeds", "2", "--per-class", "3",
                              "--unlabelled", "200", "--pretrain-epochs", "2",
                              "--finetune-epochs", "10", "--rounds", "2", "--threshold", "0.5",
                              "--set", "hidden=32", "--set", "dim=8", "--set", "probe_epochs=5",
                              "--out", dir, NULL);
  g_assert_cmpint (st, ==, 0);
  g_assert_nonnull (strstr (out, "run folder:"));
  g_assert_nonnull (strstr (out, "Autoencoder pre-training"));
  /* results.csv: 3 methods x 2 seeds; summary.json: their means */
  g_autofree char *csv = read_file (dir, "results.csv");
  g_auto (GStrv) lines = g_strsplit (g_strchomp (csv), "\n", -1);
  g_assert_cmpstr (lines[0], ==, "method,seed,probe_acc,finetune_acc,seconds");
  g_assert_cmpint (g_strv_length (lines), ==, 1 + 6);
  double sum[3] = { 0 };
  const char *names[3] = { "supervised", "ae", "selftrain" };
  for (int i = 1; lines[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (lines[i], ",", -1);
      for (int m = 0; m < 3; m++)
        if (strcmp (f[0], names[m]) == 0)
          sum[m] += g_ascii_strtod (f[3], NULL);
      double acc = g_ascii_strtod (f[3], NULL);
      g_assert_cmpfloat (acc, >=, 0.0);
      g_assert_cmpfloat (acc, <=, 1.0);
      /* a probe only after pre-training */
      g_assert_cmpint (strcmp (f[2], "nan") == 0, ==, strcmp (f[0], "ae") != 0);
    }
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root = read_json (dir, "summary.json", parser);
  JsonObject *methods = json_object_get_object_member (root, "methods");
  for (int m = 0; m < 3; m++)
    {
      JsonObject *o = json_object_get_object_member (methods, names[m]);
      g_assert_cmpfloat_with_epsilon (json_object_get_double_member (o, "finetune_mean"),
                                      sum[m] / 2, 1e-5);
    }
  /* self-training: totals are running sums, each round trains on what came before */
  g_autofree char *st_csv = read_file (dir, "selftrain.csv");
  g_auto (GStrv) rows = g_strsplit (g_strchomp (st_csv), "\n", -1);
  g_assert_cmpint (g_strv_length (rows), ==, 1 + 2 * 3);
  int prev_train = 0, tot = 0, totw = 0, prev_added = 0;
  for (int i = 1; rows[i] != NULL; i++)
    {
      int seed, round, n_train, added, wrong, tp, tw;
      double acc;
      g_assert_cmpint (sscanf (rows[i], "%d,%d,%d,%lf,%d,%d,%d,%d", &seed, &round, &n_train,
                               &acc, &added, &wrong, &tp, &tw), ==, 8);
      if (round == 0)
        {
          tot = totw = 0;
          g_assert_cmpint (n_train, ==, 30);
        }
      else
        g_assert_cmpint (n_train, ==, prev_train + prev_added);
      g_assert_cmpint (wrong, <=, added);
      tot += added;
      totw += wrong;
      g_assert_cmpint (tp, ==, tot);
      g_assert_cmpint (tw, ==, totw);
      prev_train = n_train;
      prev_added = added;
    }
  g_autofree char *stds = read_file (dir, "embedding-std.csv");
  g_assert_nonnull (strstr (stds, "ae,1,7,"));
  remove_tree (dir);
}

static void
test_active_command (void)
{
  g_autofree char *dir = run_dir ("active");
  g_autofree char *out = NULL, *err = NULL;
  int st = fw_cli_run_frugal (&out, &err, 120, "active", "--data", "sim:800:20", "--strategies",
                              "margin,random", "--start", "1", "--batch", "4", "--rounds", "2",
                              "--pool", "100", "--epochs", "3", "--out", dir, NULL);
  g_assert_cmpint (st, ==, 0);
  g_autofree char *csv = read_file (dir, "curves.csv");
  g_auto (GStrv) lines = g_strsplit (g_strchomp (csv), "\n", -1);
  g_assert_cmpstr (lines[0], ==, "strategy,seed,round,n_labels,test_acc");
  g_assert_cmpint (g_strv_length (lines), ==, 1 + 2 * 3);
  double last[2] = { NAN, NAN };
  for (int i = 1; lines[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (lines[i], ",", -1);
      int round = atoi (f[2]), n = atoi (f[3]);
      g_assert_cmpint (n, ==, 10 + 4 * round);
      if (round == 2)
        last[strcmp (f[0], "margin") == 0 ? 0 : 1] = g_ascii_strtod (f[4], NULL);
    }
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *s = json_object_get_object_member (read_json (dir, "summary.json", parser),
                                                 "strategies");
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (
                                    json_object_get_object_member (s, "margin"), "final_mean"),
                                  last[0], 1e-5);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (
                                    json_object_get_object_member (s, "random"), "final_mean"),
                                  last[1], 1e-5);
  g_assert_false (json_object_has_member (s, "entropy"));
  remove_tree (dir);
}

static void
test_calibrate_command (void)
{
  g_autofree char *dir = run_dir ("calib");
  g_autofree char *out = NULL, *err = NULL;
  int st = fw_cli_run_frugal (&out, &err, 120, "calibrate", "--data", "sim:1500:20",
                              "--per-class", "20", "--val-per-class", "10", "--epochs", "5",
                              "--check-size", "300", "--shift-fraction", "0.5", "--out", dir,
                              NULL);
  g_assert_cmpint (st, ==, 0);
  g_assert_nonnull (strstr (out, "unchanged by temperature scaling"));
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *sum = read_json (dir, "summary.json", parser);
  /* ECE recomputed from the reliability rows: sum_b n_b / N |acc_b - conf_b| */
  g_autofree char *csv = read_file (dir, "reliability.csv");
  g_auto (GStrv) lines = g_strsplit (g_strchomp (csv), "\n", -1);
  g_assert_cmpint (g_strv_length (lines), ==, 1 + 15);
  double ece[2] = { 0 }, n[2] = { 0 };
  for (int i = 1; lines[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (lines[i], ",", -1);
      for (int a = 0; a < 2; a++)
        {
          double cnt = g_ascii_strtod (f[3 + 3 * a], NULL);
          n[a] += cnt;
          if (cnt > 0)
            ece[a] += cnt * fabs (g_ascii_strtod (f[5 + 3 * a], NULL)
                                  - g_ascii_strtod (f[4 + 3 * a], NULL));
        }
    }
  g_assert_cmpfloat (n[0], ==, n[1]);
  g_assert_cmpfloat_with_epsilon (ece[0] / n[0],
                                  json_object_get_double_member (sum, "ece_before"), 1e-4);
  g_assert_cmpfloat_with_epsilon (ece[1] / n[1],
                                  json_object_get_double_member (sum, "ece_after"), 1e-4);
  g_assert_cmpfloat (json_object_get_double_member (sum, "temperature"), >, 0.0);
  /* proportions: each column sums to 1, class 0 holds about half the check set */
  g_autofree char *prop = read_file (dir, "proportions.csv");
  g_auto (GStrv) pl = g_strsplit (g_strchomp (prop), "\n", -1);
  double col[4] = { 0 };
  for (int i = 1; pl[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (pl[i], ",", -1);
      for (int c = 0; c < 4; c++)
        col[c] += g_ascii_strtod (f[2 + c], NULL);
      if (i == 1)
        g_assert_cmpfloat (g_ascii_strtod (f[3], NULL), >, 0.3);
    }
  for (int c = 0; c < 4; c++)
    g_assert_cmpfloat_with_epsilon (col[c], 1.0, 1e-3);
  g_autofree char *model = g_build_filename (dir, "model.safetensors", NULL);
  g_assert_true (g_file_test (model, G_FILE_TEST_EXISTS));
  remove_tree (dir);
}

static void
test_recipe_and_errors (void)
{
  g_autofree char *dir = run_dir ("recipe");
  g_autofree char *out = NULL, *err = NULL;
  const char *root = g_getenv ("FW_SOURCE_ROOT");
  g_autofree char *recipe = g_build_filename (root, "resources", "recipes",
                                              "weak-all-methods-quick.ini", NULL);
  /* frugal run dispatches a [weak] recipe to the few-label job */
  int st = fw_cli_run_frugal (&out, &err, 120, "run", recipe, "--out", dir, NULL);
  g_assert_cmpint (st, ==, 0);
  g_autofree char *csv = read_file (dir, "results.csv");
  g_auto (GStrv) lines = g_strsplit (g_strchomp (csv), "\n", -1);
  g_assert_cmpint (g_strv_length (lines), ==, 1 + 8);   /* every method once */
  remove_tree (dir);
  g_free (out);
  g_free (err);
  /* a misspelt method names the key and the valid ones */
  st = fw_cli_run_frugal (&out, &err, 30, "weak", "--data", "sim:100:20", "--method",
                          "supervised,rotaton", NULL);
  g_assert_cmpint (st, ==, 1);
  g_assert_nonnull (strstr (err, "[weak] methods: 'rotaton'"));
  g_free (out);
  g_free (err);
  /* an unknown --set key is a usage error listing the keys */
  st = fw_cli_run_frugal (&out, &err, 30, "active", "--set", "batchsize=3", NULL);
  g_assert_cmpint (st, ==, 2);
  g_assert_nonnull (strstr (err, "start_per_class"));
  g_free (out);
  g_free (err);
  /* a value out of range names the key */
  st = fw_cli_run_frugal (&out, &err, 30, "calibrate", "--data", "sim:200:20",
                          "--shift-fraction", "1.5", NULL);
  g_assert_cmpint (st, ==, 1);
  g_assert_nonnull (strstr (err, "[calibrate] shift_fraction"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/CliWeak/weak_rows_summaries_and_rounds", test_weak_command);
  g_test_add_func ("/CliWeak/active_curves_grow_by_the_batch", test_active_command);
  g_test_add_func ("/CliWeak/calibrate_ece_from_rows", test_calibrate_command);
  g_test_add_func ("/CliWeak/recipe_and_errors", test_recipe_and_errors);
  return g_test_run ();
}
