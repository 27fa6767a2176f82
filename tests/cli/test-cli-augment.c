/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cli-augment.c: `frugal augment` and `frugal augment-sweep` run as a user would: the PNG
 * grid's size, the label weights, the sweep's CSV rows and summaries, and the usage errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "fw-cli-test-util.h"

static void
test_grid_png (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fw-cli-aug-XXXXXX", NULL);
  g_autofree char *png = g_build_filename (dir, "grid.png", NULL);
  g_autofree char *out = NULL, *err = NULL;
  /* one sample 8 times plus the original: 9 tiles of 28x28 at zoom 2 in 3 columns, 2 px gaps */
  int st = fw_cli_run_frugal (&out, &err, 60, "augment", "--data", "sim:50", "--pipeline",
                       "rotate:deg=20;translate:px=2;cutmix", "--n", "8", "--index", "3",
                       "--zoom", "2", "--out", png, NULL);
  g_assert_cmpint (st, ==, 0);
  g_assert_nonnull (strstr (out, "pipeline 'rotate:deg=20;translate;cutmix'"));
  g_assert_nonnull (strstr (out, "label weights"));
  /* read the PNG header by hand (no gdk-pixbuf in this test): width and height at 16..23 */
  g_autofree char *bytes = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (png, &bytes, &len, NULL));
  g_assert_cmpuint (len, >, 24);
  g_assert_cmpmem (bytes + 1, 3, "PNG", 3);
  const guint8 *b = (const guint8 *) bytes;
  guint32 w = (guint32) b[16] << 24 | b[17] << 16 | b[18] << 8 | b[19];
  guint32 h = (guint32) b[20] << 24 | b[21] << 16 | b[22] << 8 | b[23];
  g_assert_cmpuint (w, ==, 3 * (28 * 2 + 2) + 2);
  g_assert_cmpuint (h, ==, 3 * (28 * 2 + 2) + 2);
  g_free (out);
  g_free (err);
  /* usage and pipeline errors */
  st = fw_cli_run_frugal (&out, &err, 30, "augment", "--pipeline", "rotate;twirl", "--out", png, NULL);
  g_assert_cmpint (st, ==, 1);
  g_assert_nonnull (strstr (err, "twirl"));
  g_free (out);
  g_free (err);
  st = fw_cli_run_frugal (&out, &err, 30, "augment", "--out", png, NULL);
  g_assert_cmpint (st, ==, 2);
  g_assert_nonnull (strstr (err, "--pipeline"));
  g_unlink (png);
  g_rmdir (dir);
}

static void
test_sweep_csv (void)
{
  g_autofree char *out = NULL, *err = NULL;
  int st = fw_cli_run_frugal (&out, &err, 120, "augment-sweep", "--data", "sim:300", "--arch", "mlp",
                       "--per-class", "3,6", "--seeds", "2", "--steps", "10", "--only",
                       "none,cutmix", NULL);
  g_assert_cmpint (st, ==, 0);
  g_auto (GStrv) lines = g_strsplit (g_strchomp (out), "\n", -1);
  g_assert_cmpstr (lines[0], ==, "pipeline,per_class,seed,test_acc,seconds");
  /* rows: 2 sizes x 2 seeds x 2 pipelines; summaries: mean of the two seeds' rows */
  int rows = 0, summaries = 0;
  double acc[2][2][2] = { 0 };
  for (int i = 1; lines[i] != NULL; i++)
    {
      if (lines[i][0] == '#')
        {
          char name[32];
          int k;
          double mean, sd;
          g_assert_cmpint (sscanf (lines[i], "# %31s per_class=%d: %lf%% +- %lf%%", name, &k,
                                   &mean, &sd), ==, 4);
          int pi = strcmp (name, "none") == 0 ? 0 : 1, si = k == 3 ? 0 : 1;
          double m = 50 * (acc[pi][si][0] + acc[pi][si][1]);
          g_assert_cmpfloat (fabs (mean - m), <, 0.051);
          summaries++;
          continue;
        }
      g_auto (GStrv) f = g_strsplit (lines[i], ",", -1);
      g_assert_cmpuint (g_strv_length (f), ==, 5);
      g_assert_true (strcmp (f[0], "none") == 0 || strcmp (f[0], "cutmix") == 0);
      int k = atoi (f[1]), seed = atoi (f[2]);
      g_assert_true (k == 3 || k == 6);
      g_assert_true (seed == 1 || seed == 2);
      double a = g_ascii_strtod (f[3], NULL);
      g_assert_true (a >= 0 && a <= 1);
      acc[strcmp (f[0], "none") == 0 ? 0 : 1][k == 3 ? 0 : 1][seed - 1] = a;
      rows++;
    }
  g_assert_cmpint (rows, ==, 8);
  g_assert_cmpint (summaries, ==, 4);
  g_free (out);
  g_free (err);
  out = err = NULL;
  st = fw_cli_run_frugal (&out, &err, 30, "augment-sweep", "--per-class", "5,x", NULL);
  g_assert_cmpint (st, ==, 2);
  g_assert_nonnull (strstr (err, "--per-class"));
}

/* `frugal run` of an [augment-sweep] recipe: the run folder holds the recipe (with its group)
 * and one CSV row per run; the same CSV numbers as `frugal augment-sweep` with the same data */
static void
test_sweep_recipe_run (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fw-cli-sweep-XXXXXX", NULL);
  g_autofree char *ini = g_build_filename (dir, "sweep.ini", NULL);
  g_autofree char *run = g_build_filename (dir, "run", NULL);
  g_assert_true (g_file_set_contents (ini, "[data]\ndataset = sim:300\n[model]\narch = mlp\n"
                                      "[augment-sweep]\nper_class = 3,6\nseeds = 1\n"
                                      "steps = 10\nonly = none,cutmix\n", -1, NULL));
  g_autofree char *out = NULL, *err = NULL;
  int st = fw_cli_run_frugal (&out, &err, 120, "run", ini, "--out", run, NULL);
  if (st != 0)
    g_error ("frugal run failed (%d): %s", st, err);
  g_assert_nonnull (strstr (out, "run folder: "));
  g_autofree char *csv_path = g_build_filename (run, "sweep.csv", NULL);
  g_autofree char *csv = NULL;
  g_assert_true (g_file_get_contents (csv_path, &csv, NULL, NULL));
  g_auto (GStrv) rows = g_strsplit (g_strchomp (csv), "\n", -1);
  g_assert_cmpuint (g_strv_length (rows), ==, 1 + 2 * 1 * 2);
  g_autofree char *recipe_path = g_build_filename (run, "recipe.ini", NULL);
  g_autofree char *recipe = NULL;
  g_assert_true (g_file_get_contents (recipe_path, &recipe, NULL, NULL));
  g_assert_nonnull (strstr (recipe, "[augment-sweep]"));
  g_assert_nonnull (strstr (recipe, "per_class=3,6"));

  /* the direct command on the same settings gives the same accuracies */
  g_autofree char *out2 = NULL, *err2 = NULL;
  st = fw_cli_run_frugal (&out2, &err2, 120, "augment-sweep", "--data", "sim:300", "--arch",
                          "mlp", "--per-class", "3,6", "--seeds", "1", "--steps", "10",
                          "--only", "none,cutmix", NULL);
  g_assert_cmpint (st, ==, 0);
  for (int i = 1; rows[i] != NULL; i++)
    {
      /* pipeline,per_class,seed,acc: the first four fields agree to the printed precision */
      g_auto (GStrv) f = g_strsplit (rows[i], ",", -1);
      g_autofree char *key = g_strdup_printf ("%s,%s,%s,%.4f", f[0], f[1], f[2],
                                              g_ascii_strtod (f[3], NULL));
      if (strstr (out2, key) == NULL)
        g_error ("row '%s' of the recipe run is not in the direct sweep's output:\n%s", key,
                 out2);
    }

  /* a bad key value is named with file, group and key */
  g_assert_true (g_file_set_contents (ini, "[data]\ndataset = sim:300\n[augment-sweep]\n"
                                      "seeds = 0\n", -1, NULL));
  g_free (err);
  g_free (out);
  st = fw_cli_run_frugal (&out, &err, 60, "run", ini, NULL);
  g_assert_cmpint (st, !=, 0);
  g_assert_nonnull (strstr (err, "[augment-sweep] seeds: 0 is not in [1, 100]"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/CliAugment/grid_png", test_grid_png);
  g_test_add_func ("/CliAugment/sweep_csv", test_sweep_csv);
  g_test_add_func ("/CliAugment/sweep_recipe_run", test_sweep_recipe_run);
  return g_test_run ();
}
