/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cli-decompose.c: `frugal decompose` and `frugal distill` run as a user would: on a model
 * saved by the engine, the CSV rows against the saved files and parameter counts recomputed
 * from the layer sizes, `frugal run` on a [decompose] recipe, and usage errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "fw-cli-test-util.h"
#include "fw-engine.h"

static char *
saved_mlp (const char *dir)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new ("mlp", "flatten,dense:40,relu,dense:10",
                                        (FwShape) { 1, 20, 20 }, &error);
  g_assert_no_error (error);
  fw_model_init (m, 1);
  char *path = g_build_filename (dir, "mlp.safetensors", NULL);
  g_assert_true (fw_model_save (m, path, NULL, &error));
  return path;
}

static void
test_decompose_sweep (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fw-cli-decomp-XXXXXX", NULL);
  g_autofree char *model = saved_mlp (dir);
  g_autofree char *run = g_build_filename (dir, "run", NULL);
  g_autofree char *out = NULL, *err = NULL;
  int status = fw_cli_run_frugal (&out, &err, 120, "decompose", model, "--method", "svd",
                                  "--ranks", "3,6", "--data", "sim:200:20", "--out", run,
                                  "--csv", NULL);
  g_assert_cmpint (status, ==, 0);
  g_auto (GStrv) rows = g_strsplit (g_strchomp (out), "\n", -1);
  g_assert_cmpuint (g_strv_length (rows), ==, 4);
  g_assert_true (g_str_has_prefix (rows[0], "rank,ranks,params,bytes,flops"));
  /* the original first: 400 x 40 + 40, 40 x 10 + 10 */
  g_assert_true (g_str_has_prefix (rows[1], "full,,16450,"));
  for (int i = 2; i <= 3; i++)
    {
      g_auto (GStrv) f = g_strsplit (rows[i], ",", -1);
      int r = atoi (f[0]);
      g_assert_true (r == 3 || r == 6);
      /* 400 -> 40 becomes 400 -> r -> 40; the 40 -> 10 classifier (400 weights) stays */
      g_assert_cmpint (atoi (f[2]), ==, r * 400 + r + 40 * r + 40 + 410);
      g_autofree char *file = g_build_filename (run, f[10], NULL);
      GStatBuf st;
      g_assert_cmpint (g_stat (file, &st), ==, 0);
      g_assert_cmpint (st.st_size, ==, g_ascii_strtoll (f[3], NULL, 10));
    }
  g_assert_nonnull (strstr (err, "svd rank 3"));
  /* the curves: error 0 at full rank 40 */
  g_autofree char *o2 = NULL, *e2 = NULL, *run2 = g_build_filename (dir, "run2", NULL);
  status = fw_cli_run_frugal (&o2, &e2, 120, "decompose", model, "--rank", "4", "--data",
                              "sim:200:20", "--out", run2, "--curves", NULL);
  g_assert_cmpint (status, ==, 0);
  g_auto (GStrv) cr = g_strsplit (g_strchomp (o2), "\n", -1);
  guint n = g_strv_length (cr);
  g_assert_cmpstr (cr[0], ==, "layer,rank,rel_error");
  g_auto (GStrv) last = g_strsplit (cr[n - 1], ",", -1);
  g_assert_cmpint (atoi (last[1]), ==, 40);
  g_assert_cmpfloat (g_ascii_strtod (last[2], NULL), <, 1e-5);
}

static void
test_run_recipe_and_errors (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fw-cli-decomp-XXXXXX", NULL);
  g_autofree char *model = saved_mlp (dir);
  g_autofree char *ini = g_build_filename (dir, "tt.ini", NULL);
  g_autofree char *run = g_build_filename (dir, "tt-run", NULL);
  g_autofree char *text = g_strdup_printf ("[data]\ndataset = sim:200:20\n[output]\ndir = %s\n"
                                           "[decompose]\nmodel = %s\nmethod = tt\nrank = 3\n",
                                           run, model);
  g_assert_true (g_file_set_contents (ini, text, -1, NULL));
  g_autofree char *out = NULL, *err = NULL;
  int status = fw_cli_run_frugal (&out, &err, 120, "run", ini, NULL);
  g_assert_cmpint (status, ==, 0);
  g_autofree char *csv = g_build_filename (run, "decompose.csv", NULL);
  g_assert_true (g_file_test (csv, G_FILE_TEST_IS_REGULAR));
  g_autofree char *layers = g_build_filename (run, "layers.csv", NULL);
  g_autofree char *lt = NULL;
  g_assert_true (g_file_get_contents (layers, &lt, NULL, NULL));
  g_assert_nonnull (strstr (lt, "tt:"));
  /* usage errors and bad values */
  g_autofree char *o1 = NULL, *e1 = NULL;
  g_assert_cmpint (fw_cli_run_frugal (&o1, &e1, 30, "decompose", model, "--method", "qr", NULL),
                   ==, 2);
  g_assert_nonnull (strstr (e1, "svd, cp, tucker, tt or ht"));
  g_autofree char *o3 = NULL, *e3 = NULL;
  g_assert_cmpint (fw_cli_run_frugal (&o3, &e3, 30, "decompose", model, "--method", "cp",
                                      "--rank", "0", "--data", "sim:50:20", NULL), ==, 1);
  g_assert_nonnull (strstr (e3, "CP rank"));
  g_autofree char *o4 = NULL, *e4 = NULL;
  g_assert_cmpint (fw_cli_run_frugal (&o4, &e4, 30, "distill", model, "-T", "0.5", NULL), ==, 2);
  g_autofree char *o5 = NULL, *e5 = NULL;
  g_assert_cmpint (fw_cli_run_frugal (&o5, &e5, 30, "distill", "/nonexistent.safetensors",
                                      "--data", "sim:50:20", NULL), ==, 1);
  g_assert_nonnull (strstr (e5, "teacher"));
}

static void
test_distill (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fw-cli-distill-XXXXXX", NULL);
  g_autofree char *model = saved_mlp (dir);
  g_autofree char *run = g_build_filename (dir, "run", NULL);
  g_autofree char *out = NULL, *err = NULL;
  int status = fw_cli_run_frugal (&out, &err, 120, "distill", model, "--widths", "8", "-T", "3",
                                  "--alpha", "0.7", "--seeds", "2", "--epochs", "1", "--data",
                                  "sim:200:20", "--out", run, "--csv", NULL);
  g_assert_cmpint (status, ==, 0);
  g_auto (GStrv) rows = g_strsplit (g_strchomp (out), "\n", -1);
  g_assert_cmpstr (rows[0], ==, "seed,variant,test_accuracy,final_train_loss");
  g_assert_cmpuint (g_strv_length (rows), ==, 5);
  /* the summary's lines repeat the CSV's accuracies */
  for (int i = 1; i <= 4; i++)
    {
      g_auto (GStrv) f = g_strsplit (rows[i], ",", -1);
      g_autofree char *pct = g_strdup_printf ("%s %.2f%%", g_strcmp0 (f[1], "hard") == 0
                                              ? "hard labels" : "distilled",
                                              100 * g_ascii_strtod (f[2], NULL));
      g_assert_nonnull (strstr (err, pct));
    }
  g_autofree char *student = g_build_filename (run, "student.safetensors", NULL);
  g_assert_true (g_file_test (student, G_FILE_TEST_IS_REGULAR));
  g_assert_nonnull (strstr (err, "T = 3, alpha = 0.7"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/CLI/decompose/rank_sweep_csv_matches_files", test_decompose_sweep);
  g_test_add_func ("/CLI/decompose/run_recipe_and_errors", test_run_recipe_and_errors);
  g_test_add_func ("/CLI/distill/csv_and_summary", test_distill);
  return g_test_run ();
}
