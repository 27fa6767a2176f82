/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cli-grow.c: `frugal grow` and `frugal run` of a [grow] recipe as a user runs them: the
 * growth CSV (parameter counts recomputed from the printed widths), the run folder, and the
 * errors for bad options, bad keys and a model with no place to grow. */
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "fw-cli-test-util.h"

/* parameters of flatten,dense:w1,relu,...,dense:wk from the widths "in-w1-...-wk" */
static long
mlp_params (const char *widths)
{
  g_auto (GStrv) w = g_strsplit (widths, "-", -1);
  long p = 0;
  for (int i = 1; w[i] != NULL; i++)
    p += (atol (w[i - 1]) + 1) * atol (w[i]);
  return p;
}

static void
test_grow_csv_and_folder (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fw-cli-grow-XXXXXX", NULL);
  g_autofree char *run = g_build_filename (dir, "run", NULL);
  g_autofree char *out = NULL, *err = NULL;
  int status = fw_cli_run_frugal (&out, &err, 120, "grow", "--data", "sim:300:12", "--budget",
                                  "900", "--steps", "4", "--stat-samples", "128", "--out", run,
                                  "--csv", "--seed", "3", NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (err, "fixed-size from scratch"));
  g_auto (GStrv) rows = g_strsplit (g_strchomp (out), "\n", -1);
  g_assert_cmpstr (rows[0], ==, "method,step,params,test_acc,test_loss,train_loss,site,added,"
                                "gamma,loss_before,loss_after,first_order,widths,bottleneck,"
                                "seconds");
  /* the growth points, then the two fixed-size baselines (step -1) */
  guint n = g_strv_length (rows) - 2;
  g_assert_cmpuint (n, >=, 3);
  long prev = 0;
  for (guint i = 1; i < n; i++)
    {
      g_auto (GStrv) f = g_strsplit (rows[i], ",", -1);
      g_assert_cmpuint (g_strv_length (f), ==, 15);
      g_assert_cmpstr (f[0], ==, "tiny");
      long params = atol (f[2]);
      g_assert_cmpint (params, ==, mlp_params (f[12]));
      g_assert_cmpint (params, >=, prev);
      prev = params;
      if (i > 1 && atoi (f[7]) > 0)
        g_assert_cmpfloat (g_ascii_strtod (f[10], NULL), <, g_ascii_strtod (f[9], NULL));
    }
  /* it grew, and stopped at the budget (or the step limit) */
  g_autofree char *first_w = g_strdup (rows[1]);
  g_assert_cmpint (prev, >, atol (strchr (strchr (first_w, ',') + 1, ',') + 1));
  /* n - 1 points: the start, up to 4 steps, the final training (15 epochs by default) */
  g_assert_true (prev >= 900 || n == 7);
  g_auto (GStrv) last_f = g_strsplit (rows[n - 1], ",", -1);
  g_assert_cmpstr (last_f[6], ==, "-1");   /* the final training: no site, nothing added */
  g_assert_cmpstr (last_f[7], ==, "0");
  for (guint b = 0; b < 2; b++)
    {
      g_auto (GStrv) f = g_strsplit (rows[n + b], ",", -1);
      g_assert_cmpuint (g_strv_length (f), ==, 15);
      g_assert_cmpstr (f[0], ==, b == 0 ? "fixed (same epochs)" : "fixed (same compute)");
      g_assert_cmpstr (f[1], ==, "-1");
      g_assert_cmpint (atol (f[2]), ==, prev);
      g_assert_cmpstr (f[12], ==, last_f[12]);
      double acc = g_ascii_strtod (f[3], NULL);
      g_assert_cmpfloat (acc, >, 0);
      g_assert_cmpfloat (acc, <=, 1);
    }

  /* the run folder: the same CSV, the summary, both models */
  g_autofree char *csv_path = g_build_filename (run, "growth.csv", NULL);
  g_autofree char *csv = NULL;
  g_assert_true (g_file_get_contents (csv_path, &csv, NULL, NULL));
  g_assert_cmpstr (g_strchomp (csv), ==, out);
  g_autofree char *json_path = g_build_filename (run, "summary.json", NULL);
  g_autoptr (JsonParser) jp = json_parser_new ();
  g_assert_true (json_parser_load_from_file (jp, json_path, NULL));
  JsonObject *o = json_node_get_object (json_parser_get_root (jp));
  g_assert_cmpint (json_object_get_int_member (o, "params"), ==, prev);
  g_assert_cmpstr (json_object_get_string_member (o, "method"), ==, "tiny");
  for (const char *const *f = (const char *const[]) { "model.safetensors", "fixed.safetensors",
                                                      "recipe.ini", NULL }; *f; f++)
    {
      g_autofree char *p = g_build_filename (run, *f, NULL);
      g_assert_true (g_file_test (p, G_FILE_TEST_IS_REGULAR));
    }
  /* the grown model is a real model of that size */
  g_autofree char *mpath = g_build_filename (run, "model.safetensors", NULL);
  g_autofree char *iout = NULL, *ierr = NULL;
  g_assert_cmpint (fw_cli_run_frugal (&iout, &ierr, 60, "info", mpath, NULL), ==, 0);
  g_autofree char *spec_line = g_strdup_printf ("spec:         %s\n",
                                                json_object_get_string_member (o, "spec"));
  g_assert_nonnull (strstr (iout, spec_line));
}

static void
test_run_grow_recipe (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fw-cli-grow-XXXXXX", NULL);
  g_autofree char *ini = g_build_filename (dir, "g.ini", NULL);
  g_autofree char *run = g_build_filename (dir, "run", NULL);
  g_autofree char *text = g_strdup_printf (
    "[data]\ndataset = sim:200:12\n[model]\narch = custom\n"
    "spec = conv:2:3:2:1,relu,conv:2:3:2:1,relu,flatten,dense:10\n"
    "[train]\noptimizer = adam\nlr = 0.003\nbatch = 32\n"
    "[grow]\nmethod = gradmax\nbudget = 2000\nmax_steps = 2\nfixed_baseline = false\n"
    "stat_samples = 64\n[output]\ndir = %s\n", run);
  g_assert_true (g_file_set_contents (ini, text, -1, NULL));
  g_autofree char *out = NULL, *err = NULL;
  int status = fw_cli_run_frugal (&out, &err, 120, "run", ini, NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "grown (gradmax)"));
  g_assert_nonnull (strstr (out, "not run"));
  g_autofree char *csv_path = g_build_filename (run, "growth.csv", NULL);
  g_autofree char *csv = NULL;
  g_assert_true (g_file_get_contents (csv_path, &csv, NULL, NULL));
  g_auto (GStrv) rows = g_strsplit (g_strchomp (csv), "\n", -1);
  /* header, start, two steps, the final training (final_epochs not given: 15) */
  g_assert_cmpuint (g_strv_length (rows), ==, 5);
  g_assert_true (g_str_has_prefix (rows[3], "gradmax,2,"));
  g_assert_true (g_str_has_prefix (rows[4], "gradmax,3,"));
  g_autofree char *fixed = g_build_filename (run, "fixed.safetensors", NULL);
  g_assert_false (g_file_test (fixed, G_FILE_TEST_EXISTS));
}

/* Training settings: without [train] in the recipe (here: no recipe) the run uses growth's
 * defaults for its training-set size, written into recipe.ini: AdamW 3e-3 / decay 0.5 up to
 * 15000 samples, 1e-3 / 0.1 above; a recipe that sets [train] keeps its own. */
static char *
run_and_read_recipe (const char *dir, const char *name, const char *data, const char *recipe)
{
  g_autofree char *run = g_build_filename (dir, name, NULL);
  g_autofree char *out = NULL, *err = NULL;
  int status = fw_cli_run_frugal (&out, &err, 120, "grow", "--data", data, "--steps", "0",
                                  "--final-epochs", "0", "--no-fixed", "--quiet", "--out", run,
                                  recipe, NULL);
  g_assert_cmpint (status, ==, 0);
  g_autofree char *ini = g_build_filename (run, "recipe.ini", NULL);
  char *text = NULL;
  g_assert_true (g_file_get_contents (ini, &text, NULL, NULL));
  return text;
}

static void
test_training_defaults_by_size (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fw-cli-grow-XXXXXX", NULL);
  g_autofree char *small = run_and_read_recipe (dir, "small", "sim:300:12", NULL);
  g_assert_nonnull (strstr (small, "optimizer=adamw\n"));
  g_assert_nonnull (strstr (small, "lr=0.003\n"));
  g_assert_nonnull (strstr (small, "weight_decay=0.5\n"));
  g_autofree char *large = run_and_read_recipe (dir, "large", "sim:20001:12", NULL);
  g_assert_nonnull (strstr (large, "optimizer=adamw\n"));
  g_assert_nonnull (strstr (large, "lr=0.001\n"));
  g_assert_nonnull (strstr (large, "weight_decay=0.1\n"));
  g_autofree char *ini = g_build_filename (dir, "own.ini", NULL);
  g_assert_true (g_file_set_contents (ini, "[train]\noptimizer = adam\nlr = 0.002\n", -1, NULL));
  g_autofree char *own = run_and_read_recipe (dir, "own", "sim:20001:12", ini);
  g_assert_nonnull (strstr (own, "optimizer=adam\n"));
  g_assert_nonnull (strstr (own, "lr=0.002\n"));
}

static void
test_errors (void)
{
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (fw_cli_run_frugal (&out, &err, 30, "grow", "--method", "magic", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "tiny, gradmax or random"));

  g_autofree char *dir = g_dir_make_tmp ("fw-cli-grow-XXXXXX", NULL);
  g_autofree char *ini = g_build_filename (dir, "bad.ini", NULL);
  g_assert_true (g_file_set_contents (ini, "[data]\ndataset = sim:50:12\n[grow]\nbudget = -5\n",
                                      -1, NULL));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (fw_cli_run_frugal (&out, &err, 30, "grow", ini, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "bad.ini"));
  g_assert_nonnull (strstr (err, "budget"));

  g_autofree char *ini2 = g_build_filename (dir, "nosite.ini", NULL);
  g_assert_true (g_file_set_contents (ini2, "[data]\ndataset = sim:50:12\n[model]\narch = custom\n"
                                      "spec = flatten,dense:10\n[grow]\nmethod = random\n",
                                      -1, NULL));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (fw_cli_run_frugal (&out, &err, 30, "run", ini2, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "no place to grow"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/CliGrow/csv_rows_and_run_folder", test_grow_csv_and_folder);
  g_test_add_func ("/CliGrow/run_dispatches_grow_recipe", test_run_grow_recipe);
  g_test_add_func ("/CliGrow/training_defaults_by_size", test_training_defaults_by_size);
  g_test_add_func ("/CliGrow/errors", test_errors);
  return g_test_run ();
}
