/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cli-compare.c: `frugal compare` as a user runs it on two trained models: the printed
 * table, the CSV's bytes equal the files' sizes on disk, the Markdown file, and usage errors. */
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "fw-cli-test-util.h"

/* Trains a tiny MLP with `frugal run` into dir/name; returns the model's path. */
static char *
train_model (const char *dir, const char *name, const char *widths)
{
  g_autofree char *ini = g_strdup_printf ("%s/%s.ini", dir, name);
  g_autofree char *out_dir = g_build_filename (dir, name, NULL);
  g_autofree char *text = g_strdup_printf ("[data]\ndataset = sim:400:20\n[model]\narch = mlp\n"
                                           "widths = %s\n[train]\nepochs = 1\n[output]\n"
                                           "dir = %s\n", widths, out_dir);
  g_assert_true (g_file_set_contents (ini, text, -1, NULL));
  g_autofree char *out = NULL, *err = NULL;
  int status = fw_cli_run_frugal (&out, &err, 120, "run", ini, NULL);
  if (status != 0)
    g_test_message ("frugal run: %s", err);
  g_assert_cmpint (status, ==, 0);
  return g_build_filename (out_dir, "model.safetensors", NULL);
}

static gint64
size_of (const char *path)
{
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_size;
}

static void
test_compare_two_models (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fw-cli-compare-XXXXXX", NULL);
  g_autofree char *a = train_model (dir, "wide", "64");
  g_autofree char *b = train_model (dir, "narrow", "8");
  g_autofree char *csv = g_build_filename (dir, "board.csv", NULL);
  g_autofree char *md = g_build_filename (dir, "board.md", NULL);
  g_autofree char *out = NULL, *err = NULL;
  int status = fw_cli_run_frugal (&out, &err, 120, "compare", "--data", "sim-test:200:20",
                                  "--reps", "3", "--csv", csv, "--md", md, a, b, NULL);
  if (status != 0)
    g_test_message ("frugal compare: %s", err);
  g_assert_cmpint (status, ==, 0);
  /* the printed table names both models (the run folders' names), the first as baseline */
  g_assert_nonnull (strstr (out, "wide (baseline)"));
  g_assert_nonnull (strstr (out, "\nnarrow "));
  g_assert_nonnull (strstr (out, "bytes on disk"));

  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (csv, &text, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (g_strchomp (text), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_auto (GStrv) h = g_strsplit (lines[0], ",", -1);
  int bytes_col = -1, file_col = -1, acc_col = -1;
  for (int i = 0; h[i] != NULL; i++)
    {
      if (strcmp (h[i], "bytes_on_disk") == 0)
        bytes_col = i;
      if (strcmp (h[i], "file") == 0)
        file_col = i;
      if (strcmp (h[i], "accuracy") == 0)
        acc_col = i;
    }
  g_assert_cmpint (bytes_col, >=, 0);
  for (int r = 1; r <= 2; r++)
    {
      g_auto (GStrv) f = g_strsplit (lines[r], ",", -1);
      g_assert_cmpstr (f[file_col], ==, r == 1 ? a : b);
      g_assert_cmpint (g_ascii_strtoll (f[bytes_col], NULL, 10), ==, size_of (r == 1 ? a : b));
      double acc = g_ascii_strtod (f[acc_col], NULL);
      g_assert_cmpfloat (acc, >=, 0);
      g_assert_cmpfloat (acc, <=, 1);
    }
  g_autofree char *mdtext = NULL;
  g_assert_true (g_file_get_contents (md, &mdtext, NULL, NULL));
  g_assert_nonnull (strstr (mdtext, "| wide (baseline) |"));
  g_assert_nonnull (strstr (mdtext, "| narrow |"));

  /* --baseline 2: the deltas are taken against the second model */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  status = fw_cli_run_frugal (&out, &err, 120, "compare", "--data", "sim-test:200:20",
                              "--no-timing", "--baseline", "2", a, b, NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "narrow (baseline)"));
  g_assert_nonnull (strstr (out, "—"));   /* no timing: no latency */

  /* usage errors */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  status = fw_cli_run_frugal (&out, &err, 30, "compare", a, NULL);
  g_assert_cmpint (status, ==, 2);
  g_assert_nonnull (strstr (err, "--data"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  status = fw_cli_run_frugal (&out, &err, 30, "compare", "--data", "sim-test:50:20",
                              "--baseline", "3", a, b, NULL);
  g_assert_cmpint (status, ==, 2);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_autofree char *missing = g_build_filename (dir, "missing.safetensors", NULL);
  status = fw_cli_run_frugal (&out, &err, 30, "compare", "--data", "sim-test:50:20", a,
                              missing, NULL);
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (err, "missing.safetensors"));
}

/* The same board from a recipe: frugal run X.ini with a [compare] group writes a run folder. */
static void
test_compare_recipe (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fw-cli-compare-XXXXXX", NULL);
  g_autofree char *a = train_model (dir, "big", "48");
  g_autofree char *b = train_model (dir, "small", "6");
  g_autofree char *out_dir = g_build_filename (dir, "board", NULL);
  g_autofree char *ini = g_build_filename (dir, "board.ini", NULL);
  g_autofree char *text = g_strdup_printf ("[data]\ndataset = sim:400:20\n[compare]\n"
                                           "models = %s, %s\nbaseline = 2\nreps = 3\n"
                                           "[output]\ndir = %s\n", a, b, out_dir);
  g_assert_true (g_file_set_contents (ini, text, -1, NULL));
  g_autofree char *out = NULL, *err = NULL;
  int status = fw_cli_run_frugal (&out, &err, 120, "run", ini, NULL);
  if (status != 0)
    g_test_message ("frugal run: %s", err);
  g_assert_cmpint (status, ==, 0);
  const char *files[] = { "compare.csv", "compare.md", "compare.tex", "compare.txt",
                          "summary.json", "recipe.ini" };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *p = g_build_filename (out_dir, files[i], NULL);
      g_assert_true (g_file_test (p, G_FILE_TEST_IS_REGULAR));
    }
  /* summary.json: the files' sizes on disk, the baseline named */
  g_autofree char *json = NULL;
  g_autofree char *jp = g_build_filename (out_dir, "summary.json", NULL);
  g_assert_true (g_file_get_contents (jp, &json, NULL, NULL));
  g_autofree char *want_a = g_strdup_printf ("\"bytes_on_disk\" : %" G_GINT64_FORMAT,
                                             size_of (a));
  g_autofree char *want_b = g_strdup_printf ("\"bytes_on_disk\" : %" G_GINT64_FORMAT,
                                             size_of (b));
  g_assert_nonnull (strstr (json, want_a));
  g_assert_nonnull (strstr (json, want_b));
  g_assert_nonnull (strstr (json, "\"baseline\" : \"small\""));
  g_autofree char *txt = NULL;
  g_autofree char *tp = g_build_filename (out_dir, "compare.txt", NULL);
  g_assert_true (g_file_get_contents (tp, &txt, NULL, NULL));
  g_assert_nonnull (strstr (txt, "small (baseline)"));

  /* a bad key value: a clear error naming the file, group and key; no run folder */
  g_autofree char *bad_dir = g_build_filename (dir, "bad", NULL);
  g_autofree char *bad = g_strdup_printf ("[data]\ndataset = sim:400:20\n[compare]\n"
                                          "models = %s\nbaseline = 3\n[output]\ndir = %s\n",
                                          a, bad_dir);
  g_assert_true (g_file_set_contents (ini, bad, -1, NULL));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  status = fw_cli_run_frugal (&out, &err, 60, "run", ini, NULL);
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (err, "[compare] baseline"));
  g_assert_false (g_file_test (bad_dir, G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/CliCompare/two_trained_models", test_compare_two_models);
  g_test_add_func ("/CliCompare/recipe_writes_a_run_folder", test_compare_recipe);
  return g_test_run ();
}
