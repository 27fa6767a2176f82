/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cli-embed.c: `frugal embed` run as a user would: the CSV it writes (rows, labels, PCA's
 * centred coordinates with the larger variance first), t-SNE output, and its usage errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "fw-cli-test-util.h"

/* Reads the CSV: checks the header, returns the rows as xy [n x 2] and labels [n]. */
static int
read_points (const char *path, const char *header, double **xy, int **label)
{
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_assert_cmpstr (lines[0], ==, header);
  g_auto (GStrv) names = g_strsplit (header, ",", -1);
  guint n_fields = g_strv_length (names);
  int n = 0;
  for (int i = 1; lines[i] != NULL && lines[i][0] != '\0'; i++)
    n++;
  *xy = g_new (double, 2 * n);
  *label = g_new (int, n);
  for (int i = 0; i < n; i++)
    {
      g_auto (GStrv) f = g_strsplit (lines[i + 1], ",", -1);
      g_assert_cmpuint (g_strv_length (f), ==, n_fields);
      char *endp;
      (*xy)[2 * i] = g_ascii_strtod (f[0], &endp);
      g_assert_true (*endp == '\0' && isfinite ((*xy)[2 * i]));
      (*xy)[2 * i + 1] = g_ascii_strtod (f[1], &endp);
      g_assert_true (*endp == '\0' && isfinite ((*xy)[2 * i + 1]));
      (*label)[i] = atoi (f[2]);
      g_assert_cmpint ((*label)[i], >=, 0);
      g_assert_cmpint ((*label)[i], <, 10);
    }
  return n;
}

static char *
tmp_csv (const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("fw-cli-embed-XXXXXX", &error);
  g_assert_no_error (error);
  return g_build_filename (dir, name, NULL);
}

static void
remove_csv (const char *path)
{
  g_remove (path);
  g_autofree char *dir = g_path_get_dirname (path);
  g_rmdir (dir);
}

static void
test_pca_csv (void)
{
  g_autofree char *csv = tmp_csv ("pca.csv");
  g_autofree char *out = NULL, *err = NULL;
  int code = fw_cli_run_frugal (&out, &err, 60, "embed", "--pixels", "--data", "sim:150",
                         "--method", "pca", "--n", "120", "--out", csv, NULL);
  g_assert_cmpint (code, ==, 0);
  g_assert_nonnull (strstr (out, "explained variance"));
  g_assert_nonnull (strstr (out, "PCA:"));
  g_autofree double *xy = NULL;
  g_autofree int *lab = NULL;
  int n = read_points (csv, "x,y,label", &xy, &lab);
  g_assert_cmpint (n, ==, 120);
  double sx = 0, sy = 0, sxx = 0, syy = 0;
  gboolean classes[10] = { FALSE };
  for (int i = 0; i < n; i++)
    {
      sx += xy[2 * i];
      sy += xy[2 * i + 1];
      sxx += xy[2 * i] * xy[2 * i];
      syy += xy[2 * i + 1] * xy[2 * i + 1];
      classes[lab[i]] = TRUE;
    }
  /* centred projections, the first axis with the larger variance; several classes */
  g_assert_cmpfloat (fabs (sx / n), <, 1e-3 * sqrt (sxx / n));
  g_assert_cmpfloat (fabs (sy / n), <, 1e-3 * sqrt (sxx / n));
  g_assert_cmpfloat (sxx, >=, syy);
  int nc = 0;
  for (int k = 0; k < 10; k++)
    nc += classes[k];
  g_assert_cmpint (nc, >=, 5);
  remove_csv (csv);
}

static void
test_tsne_csv (void)
{
  g_autofree char *csv = tmp_csv ("tsne.csv");
  g_autofree char *out = NULL, *err = NULL;
  int code = fw_cli_run_frugal (&out, &err, 90, "embed", "--pixels", "--data", "sim:100",
                         "--method", "tsne", "--iter", "250", "--perplexity", "10",
                         "--out", csv, NULL);
  g_assert_cmpint (code, ==, 0);
  g_assert_nonnull (strstr (out, "t-SNE:"));
  g_assert_nonnull (strstr (out, "1-NN label agreement"));
  g_autofree double *xy = NULL;
  g_autofree int *lab = NULL;
  int n = read_points (csv, "x,y,label", &xy, &lab);
  g_assert_cmpint (n, ==, 100);
  /* a spread layout, not collapsed to a point */
  double spread = 0;
  for (int i = 0; i < n; i++)
    spread += xy[2 * i] * xy[2 * i] + xy[2 * i + 1] * xy[2 * i + 1];
  g_assert_cmpfloat (sqrt (spread / n), >, 1.0);
  remove_csv (csv);
}

static void
test_usage_errors (void)
{
  g_autofree char *csv = tmp_csv ("x.csv");
  struct {
    int code;
    const char *needle;
    const char *args[12];
  } cases[] = {
    { 2, "--out", { "embed", "--pixels", "--data", "sim:20", NULL } },
    { 2, "pca or tsne", { "embed", "--pixels", "--data", "sim:20", "--method", "umap", "--out",
                          csv, NULL } },
    { 2, "--data", { "embed", "--pixels", "--out", csv, NULL } },
    { 2, "MODEL", { "embed", "--data", "sim:20", "--out", csv, NULL } },
    { 1, "at least 4", { "embed", "--pixels", "--data", "sim:3", "--out", csv, NULL } },
    { 1, "no-such-model.safetensors", { "embed", "no-such-model.safetensors", "--data",
                                        "sim:20", "--out", csv, NULL } },
  };
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      const char *const *a = cases[c].args;
      g_autofree char *out = NULL, *err = NULL;
      /* the list ends at its first NULL; the trailing NULL is for the compiler's check */
      int code = fw_cli_run_frugal (&out, &err, 30, a[0], a[1], a[2], a[3], a[4], a[5], a[6],
                                    a[7], a[8], a[9], a[10], a[11], NULL);
      g_assert_cmpint (code, ==, cases[c].code);
      g_assert_nonnull (strstr (err, cases[c].needle));
      g_assert_false (g_file_test (csv, G_FILE_TEST_EXISTS));
    }
  remove_csv (csv);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/CliEmbed/pca_writes_centred_points", test_pca_csv);
  g_test_add_func ("/CliEmbed/tsne_writes_a_spread_layout", test_tsne_csv);
  g_test_add_func ("/CliEmbed/usage_errors_are_clear", test_usage_errors);
  return g_test_run ();
}
