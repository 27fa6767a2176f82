/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cli-prune.c: `frugal prune` run as a user would: train + prune into a run folder, prune
 * the saved model again with --model, `frugal info` reporting the real parameter count and the
 * file's bytes, and bad values as usage errors. */
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "fw-cli-test-util.h"

/* the integer after "label: " in text */
static gint64
number_after (const char *text, const char *label)
{
  const char *p = strstr (text, label);
  g_assert_nonnull (p);
  return g_ascii_strtoll (p + strlen (label), NULL, 10);
}

static void
test_prune_and_info (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("fw-cli-prune-XXXXXX", NULL);
  g_autofree char *dir = g_build_filename (tmp, "a", NULL);
  g_autofree char *out = NULL, *err = NULL;
  int status = fw_cli_run_frugal (&out, &err, 120, "prune", "--dataset", "sim:300:20",
                                  "--arch", "mlp", "--widths", "32", "--epochs", "1",
                                  "--sparsity", "0.8", "--steps", "2", "--out", dir, NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "sparsity: 80.0%"));
  g_autofree char *model = g_build_filename (dir, "model.safetensors", NULL);
  g_autofree char *dense = g_build_filename (dir, "dense.safetensors", NULL);

  /* frugal info: parameters as stored (the CSR values and biases) and the file's bytes */
  g_autofree char *info = NULL, *ierr = NULL;
  g_assert_cmpint (fw_cli_run_frugal (&info, &ierr, 60, "info", model, NULL), ==, 0);
  g_assert_nonnull (strstr (info, "sparse:32:"));
  GStatBuf st;
  g_assert_cmpint (g_stat (model, &st), ==, 0);
  g_assert_cmpint (number_after (info, "bytes on disk: "), ==, (gint64) st.st_size);
  /* 80% of the 20-by-20 x 32 and 32 x 10 weights pruned: round(0.2 n) values + biases */
  gint64 want = (gint64) (400 * 32 * 2 / 10) + (32 * 10 * 2 / 10) + 32 + 10;
  g_assert_cmpint (number_after (info, "parameters: "), ==, want);
  g_autofree char *dinfo = NULL, *derr = NULL;
  g_assert_cmpint (fw_cli_run_frugal (&dinfo, &derr, 60, "info", dense, NULL), ==, 0);
  g_assert_cmpint (number_after (dinfo, "parameters: "), ==, 400 * 32 + 32 + 32 * 10 + 10);
  g_assert_cmpint (number_after (dinfo, "non-zero parameters: "), ==, want);

  /* the saved dense model pruned again, structurally */
  g_autofree char *dir2 = g_build_filename (tmp, "b", NULL);
  g_autofree char *out2 = NULL, *err2 = NULL;
  status = fw_cli_run_frugal (&out2, &err2, 120, "prune", "--model", dense, "--dataset",
                              "sim:300:20", "--granularity", "neurons", "--sparsity", "0.5",
                              "--schedule", "oneshot", "--out", dir2, NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out2, "flatten,dense:16,relu,dense:10"));
}

static void
test_usage_errors (void)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = fw_cli_run_frugal (&out, &err, 60, "prune", "--dataset", "sim:100:20",
                                  "--sparsity", "1.5", NULL);
  g_assert_cmpint (status, ==, 2);
  g_assert_nonnull (strstr (err, "sparsity"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  status = fw_cli_run_frugal (&out, &err, 60, "prune", "--granularity", "rows", NULL);
  g_assert_cmpint (status, ==, 2);
  g_assert_nonnull (strstr (err, "neurons"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  status = fw_cli_run_frugal (&out, &err, 60, "prune", "--model", "/nonexistent.safetensors",
                              NULL);
  g_assert_cmpint (status, ==, 2);
  g_assert_nonnull (strstr (err, "--dataset"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  status = fw_cli_run_frugal (&out, &err, 60, "prune", "--model", "/nonexistent.safetensors",
                              "--dataset", "sim:100:20", NULL);
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (err, "/nonexistent.safetensors"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/CLI/prune/train_prune_info_and_reprune", test_prune_and_info);
  g_test_add_func ("/CLI/prune/usage_errors", test_usage_errors);
  return g_test_run ();
}
