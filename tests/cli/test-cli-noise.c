/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cli-noise.c: `frugal noise-curve` run as a user would: its CSV rows (exact realised
 * rates), the summary's means recomputed from the rows, the size-needed prediction, and its
 * usage errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "fw-cli-test-util.h"

static GStrv
read_lines (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return g_strsplit (g_strchomp (text), "\n", -1);
}

static void
test_curve_csv (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fw-cli-noise-XXXXXX", NULL);
  g_autofree char *out = NULL, *err = NULL;
  int status = fw_cli_run_frugal (&out, &err, 120, "noise-curve", "--data", "sim:600:20", "--rates",
                           "0,0.5", "--sizes", "100,300", "--seeds", "2", "--epochs", "1",
                           "--widths", "32", "--out", dir, NULL);
  g_assert_cmpint (status, ==, 0);
  g_auto (GStrv) rows = read_lines (dir, "noise-curve.csv");
  g_assert_cmpstr (rows[0], ==, "rate,realised_rate,size,seed,test_acc,train_seconds");
  g_assert_cmpuint (g_strv_length (rows), ==, 1 + 2 * 2 * 2);
  double sum[2][2] = { { 0 } };
  for (int i = 1; rows[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (rows[i], ",", -1);
      g_assert_cmpuint (g_strv_length (f), ==, 6);
      double rate = g_ascii_strtod (f[0], NULL), real = g_ascii_strtod (f[1], NULL);
      int size = atoi (f[2]);
      double acc = g_ascii_strtod (f[4], NULL);
      /* exact: round(rate * size) of size labels flipped */
      g_assert_cmpfloat (fabs (real - rate), <, 1e-9);
      g_assert_true (size == 100 || size == 300);
      g_assert_cmpfloat (acc, >=, 0);
      g_assert_cmpfloat (acc, <=, 1);
      sum[size == 300][rate > 0] += acc / 2;
    }
  g_auto (GStrv) summary = read_lines (dir, "noise-curve-summary.csv");
  g_assert_cmpstr (summary[0], ==, "rate,size,seeds,mean_test_acc,sd_test_acc");
  g_assert_cmpuint (g_strv_length (summary), ==, 5);
  for (int i = 1; summary[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (summary[i], ",", -1);
      double rate = g_ascii_strtod (f[0], NULL);
      int size = atoi (f[1]);
      g_assert_cmpint (atoi (f[2]), ==, 2);
      g_assert_cmpfloat (fabs (g_ascii_strtod (f[3], NULL) - sum[size == 300][rate > 0]), <,
                         2e-6);
    }
  g_auto (GStrv) need = read_lines (dir, "noise-size-needed.csv");
  g_assert_cmpstr (need[0], ==, "rate,needed_size,predicted_size");
  g_assert_cmpuint (g_strv_length (need), ==, 3);
  for (int i = 1; need[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (need[i], ",", -1);
      double rate = g_ascii_strtod (f[0], NULL);
      g_assert_cmpfloat (fabs (g_ascii_strtod (f[2], NULL) - 100 / (1 - rate)), <, 0.1);
    }
  g_assert_nonnull (strstr (out, "total"));
}

static void
test_usage_errors (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fw-cli-noise-XXXXXX", NULL);
  struct {
    const char *opt, *val, *needle;
  } bad[] = {
    { "--rates", "0,1.5", "--rates" },
    { "--sizes", "100,abc", "--sizes" },
    { "--kind", "matrix", "--kind" },
    { "--loss", "hinge", "--loss" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *out = NULL, *err = NULL;
      int status = fw_cli_run_frugal (&out, &err, 30, "noise-curve", "--data", "sim:100:20",
                               bad[i].opt, bad[i].val, "--out", dir, NULL);
      g_assert_cmpint (status, ==, 2);
      g_assert_nonnull (strstr (err, bad[i].needle));
    }
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (fw_cli_run_frugal (&out, &err, 30, "noise-curve", "--data", "sim:100:20", NULL), ==,
                   2);
  g_assert_nonnull (strstr (err, "--out"));
  g_autofree char *out2 = NULL, *err2 = NULL;
  g_assert_cmpint (fw_cli_run_frugal (&out2, &err2, 30, "noise-curve", "--data", "idx:/nonexistent",
                               "--out", dir, NULL), ==, 1);
  g_assert_nonnull (strstr (err2, "frugal:"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/CliNoise/curve_csv_rows_summary_and_size_needed", test_curve_csv);
  g_test_add_func ("/CliNoise/usage_errors", test_usage_errors);
  return g_test_run ();
}
