/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cli-transfer.c: `frugal transfer` run as a user would: a tiny experiment's files (the
 * summary's means recomputed from results.csv), LoRA wrap + merge leaving predictions
 * unchanged, parameter counts, and usage errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "fw-cli-test-util.h"

static char *dir;  /* the experiment's run folder, shared by the tests */

static void
test_experiment (void)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = fw_cli_run_frugal (&out, &err, 240, "transfer", "experiment", "--source",
                                  "sim:150:20", "--target", "sim:200:20", "--labels", "2,0",
                                  "--seeds", "2", "--steps", "5", "--pretrain-epochs", "1",
                                  "--methods", "head,lora,knn", "--out", dir, NULL);
  if (status != 0)
    g_test_message ("stderr: %s", err);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "Pre-trained + new head"));
  g_autofree char *csv_path = g_build_filename (dir, "results.csv", NULL);
  g_autofree char *csv = NULL;
  g_assert_true (g_file_get_contents (csv_path, &csv, NULL, NULL));
  g_auto (GStrv) rows = g_strsplit (g_strchomp (csv), "\n", -1);
  g_assert_cmpuint (g_strv_length (rows), ==, 1 + 3 * 2 * 2);
  double sum[3][2] = { { 0 } };
  const char *names[3] = { "head", "lora", "knn" };
  for (int i = 1; rows[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (rows[i], ",", -1);
      g_assert_cmpuint (g_strv_length (f), ==, 10);
      int m = -1;
      for (int j = 0; j < 3; j++)
        if (g_strcmp0 (f[0], names[j]) == 0)
          m = j;
      g_assert_cmpint (m, >=, 0);
      int lpc = atoi (f[1]);
      g_assert_cmpint (atoi (f[2]), ==, lpc == 2 ? 20 : 200);
      double acc = g_ascii_strtod (f[4], NULL);
      g_assert_cmpfloat (acc, >=, 0);
      g_assert_cmpfloat (acc, <=, 1);
      sum[m][lpc == 0] += acc / 2;
    }
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autofree char *js = g_build_filename (dir, "summary.json", NULL);
  g_assert_true (json_parser_load_from_file (p, js, NULL));
  JsonObject *root = json_node_get_object (json_parser_get_root (p));
  JsonArray *methods = json_object_get_array_member (root, "methods");
  g_assert_cmpuint (json_array_get_length (methods), ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      JsonObject *mo = json_array_get_object_element (methods, i);
      const char *name = json_object_get_string_member (mo, "method");
      int m = -1;
      for (int j = 0; j < 3; j++)
        if (g_strcmp0 (name, names[j]) == 0)
          m = j;
      g_assert_cmpint (m, >=, 0);
      JsonArray *pts = json_object_get_array_member (mo, "points");
      for (guint k = 0; k < json_array_get_length (pts); k++)
        {
          JsonObject *pt = json_array_get_object_element (pts, k);
          int lpc = (int) json_object_get_int_member (pt, "labels_per_class");
          double mean = json_object_get_double_member (pt, "accuracy_mean");
          g_assert_cmpfloat (fabs (mean - sum[m][lpc == 0]), <, 2e-6);
        }
    }
  for (const char *const *f = (const char *const[]) { "curves.csv", "table.txt", "recipe.ini",
                                                      "source.safetensors", NULL }; *f; f++)
    {
      g_autofree char *path = g_build_filename (dir, *f, NULL);
      g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
    }
}

static char *
accuracy_line (const char *out)
{
  const char *a = strstr (out, "accuracy:");
  g_assert_nonnull (a);
  return g_strndup (a, strcspn (a, "\n"));
}

static void
test_lora_merge (void)
{
  g_autofree char *src = g_build_filename (dir, "source.safetensors", NULL);
  g_autofree char *lora = g_build_filename (dir, "lora.safetensors", NULL);
  g_autofree char *merged = g_build_filename (dir, "merged.safetensors", NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (fw_cli_run_frugal (&out, &err, 60, "transfer", "lora", src, "--rank", "2",
                                      "--out", lora, NULL), ==, 0);
  /* lenet5 over 20x20: adapters r (fan_in + out) on conv 1, conv 2, dense 120, dense 84 */
  int adapters = 2 * ((25 + 6) + (150 + 16) + (64 + 120) + (120 + 84));
  g_autofree char *want = g_strdup_printf ("trainable parameters: %d\n", adapters + 850);
  g_assert_nonnull (strstr (out, want));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (fw_cli_run_frugal (&out, &err, 60, "transfer", "merge", lora, "--out",
                                      merged, NULL), ==, 0);
  /* B = 0: the merged model predicts exactly like the source */
  g_autofree char *o1 = NULL, *o2 = NULL, *e1 = NULL, *e2 = NULL;
  g_assert_cmpint (fw_cli_run_frugal (&o1, &e1, 60, "eval", src, "--data", "sim:200:20", NULL),
                   ==, 0);
  g_assert_cmpint (fw_cli_run_frugal (&o2, &e2, 60, "eval", merged, "--data", "sim:200:20",
                                      NULL), ==, 0);
  g_autofree char *a1 = accuracy_line (o1), *a2 = accuracy_line (o2);
  g_assert_cmpstr (a1, ==, a2);
}

static void
test_usage_errors (void)
{
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (fw_cli_run_frugal (&out, &err, 30, "transfer", "bogus", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "unknown command 'bogus'"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (fw_cli_run_frugal (&out, &err, 30, "transfer", "experiment", "--methods",
                                      "head,magic", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "magic"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (fw_cli_run_frugal (&out, &err, 30, "transfer", "lora", NULL), ==, 2);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (fw_cli_run_frugal (&out, &err, 30, "transfer", "params", "/nonexistent.st",
                                      NULL), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autofree char *tmp = g_dir_make_tmp ("fw-cli-transfer-XXXXXX", NULL);
  dir = g_build_filename (tmp, "run", NULL);
  g_test_add_func ("/CliTransfer/experiment", test_experiment);
  g_test_add_func ("/CliTransfer/lora-merge", test_lora_merge);
  g_test_add_func ("/CliTransfer/usage-errors", test_usage_errors);
  int ret = g_test_run ();
  g_free (dir);
  return ret;
}
