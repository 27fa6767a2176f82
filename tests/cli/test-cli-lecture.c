/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cli-lecture.c: `frugal lecture` and `frugal session` through the real binary: every
 * lecture recipe runs at its reduced size and writes its figure (a 1920x1080 PNG) and its
 * metrics; a demo replays bit-identically from its seed (and another seed changes it); the
 * session container written here by an independent writer is read back, damage is refused. */
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include <gio/gio.h>

#include "fw-cli-test-util.h"

static char *tmp;
static char *lecture_dir;

/* the lecture recipes in the source tree (the list is checked against the folder) */
static GPtrArray *
recipe_names (void)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) d = g_dir_open (lecture_dir, 0, NULL);
  g_assert_nonnull (d);
  const char *f;
  while ((f = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (f, ".ini"))
      g_ptr_array_add (names, g_strndup (f, strlen (f) - 4));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  return names;
}

static void
png_size (const char *path, guint32 *w, guint32 *h)
{
  g_autofree guchar *data = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, (char **) &data, &len, NULL));
  g_assert_cmpuint (len, >, 33);
  static const guchar sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  g_assert_cmpmem (data, 8, sig, 8);
  g_assert_cmpmem (data + 12, 4, "IHDR", 4);
  *w = (guint32) data[16] << 24 | data[17] << 16 | data[18] << 8 | data[19];
  *h = (guint32) data[20] << 24 | data[21] << 16 | data[22] << 8 | data[23];
}

static void
test_list (void)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = fw_cli_run_frugal (&out, &err, 30, "lecture", "list", "--dir", lecture_dir, NULL);
  g_assert_cmpint (rc, ==, 0);
  g_autoptr (GPtrArray) names = recipe_names ();
  g_assert_cmpuint (names->len, >=, 9);
  for (guint i = 0; i < names->len; i++)
    g_assert_nonnull (strstr (out, g_ptr_array_index (names, i)));
  /* grouped like the course: part I before part III */
  const char *one = strstr (out, "I. Small data"), *three = strstr (out, "III. Noisy labels");
  g_assert_nonnull (one);
  g_assert_nonnull (three);
  g_assert_true (one < three);
}

static void
test_every_demo_reduced (void)
{
  g_autoptr (GPtrArray) names = recipe_names ();
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *out_dir = g_build_filename (tmp, name, NULL);
      g_autofree char *out = NULL, *err = NULL;
      double t0 = g_get_monotonic_time () / 1e6;
      int rc = fw_cli_run_frugal (&out, &err, 240, "lecture", "run", name, "--reduced",
                                  "--out", out_dir, "--dir", lecture_dir, NULL);
      g_test_message ("%s: %.1f s: %s", name, g_get_monotonic_time () / 1e6 - t0, out);
      if (rc != 0 && strstr (err, "not available in this build") != NULL)
        continue;   /* a feature this build lacks: listed greyed out, never faked */
      if (rc != 0)
        g_test_message ("stderr: %s", err);
      g_assert_cmpint (rc, ==, 0);
      g_autofree char *fig = g_build_filename (out_dir, "figure.png", NULL);
      guint32 w = 0, h = 0;
      png_size (fig, &w, &h);
      g_assert_cmpuint (w, ==, 1920);
      g_assert_cmpuint (h, ==, 1080);
      g_autofree char *csv_path = g_build_filename (out_dir, "metrics.csv", NULL);
      g_autofree char *csv = NULL;
      g_assert_true (g_file_get_contents (csv_path, &csv, NULL, NULL));
      g_assert_true (g_str_has_prefix (csv, "panel,series,x,y,lo,hi\n"));
      g_autofree char *json_path = g_build_filename (out_dir, "summary.json", NULL);
      g_autofree char *json = NULL;
      g_assert_true (g_file_get_contents (json_path, &json, NULL, NULL));
      g_assert_nonnull (strstr (json, "\"reduced\" : true"));
    }
}

static char *
run_metrics (const char *dir, const char *name, const char *out_name)
{
  g_autofree char *out_dir = g_build_filename (tmp, out_name, NULL);
  g_autofree char *out = NULL, *err = NULL;
  int rc = fw_cli_run_frugal (&out, &err, 240, "lecture", "run", name, "--reduced", "--out",
                              out_dir, "--dir", dir, NULL);
  if (rc != 0)
    g_test_message ("%s", err);
  g_assert_cmpint (rc, ==, 0);
  g_autofree char *path = g_build_filename (out_dir, "metrics.csv", NULL);
  char *csv = NULL;
  g_assert_true (g_file_get_contents (path, &csv, NULL, NULL));
  return csv;
}

/* A [lecture] plot of a feature's CSV: the plotted points are that CSV's rows, accuracies
 * stored as fractions shown in % (the growth demo: growth.csv's test_acc x 100 against
 * params). */
static void
test_plot_is_the_csv_in_percent (void)
{
  g_autofree char *metrics = run_metrics (lecture_dir, "growth", "growth-plot");
  g_autofree char *path = g_build_filename (tmp, "growth-plot", "work", "growth.csv", NULL);
  g_autofree char *csv = NULL;
  g_assert_true (g_file_get_contents (path, &csv, NULL, NULL));
  g_auto (GStrv) rows = g_strsplit (csv, "\n", -1);
  g_auto (GStrv) head = g_strsplit (rows[0], ",", -1);
  int cp = -1, ca = -1;
  for (int i = 0; head[i] != NULL; i++)
    {
      if (strcmp (head[i], "params") == 0)
        cp = i;
      if (strcmp (head[i], "test_acc") == 0)
        ca = i;
    }
  g_assert_cmpint (cp, >=, 0);
  g_assert_cmpint (ca, >=, 0);
  int n = 0;
  /* each_row: rows with equal params (the final training) are points of their own, in order:
   * search each series from after its previous point */
  g_autoptr (GHashTable) from = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (int r = 1; rows[r] != NULL && *rows[r] != '\0'; r++)
    {
      g_auto (GStrv) c = g_strsplit (rows[r], ",", -1);
      double acc = g_ascii_strtod (c[ca], NULL);
      g_assert_cmpfloat (acc, >=, 0);
      g_assert_cmpfloat (acc, <=, 1);
      /* metrics.csv: "panel","series",x,y,, with y in % (printed with 6 digits); the series
       * is the method (tiny, fixed (same epochs), fixed (same compute)) */
      g_autofree char *want = g_strdup_printf ("\"%s\",%s,", c[0], c[cp]);
      const char *start = g_hash_table_lookup (from, c[0]);
      const char *line = strstr (start != NULL ? start : metrics, want);
      g_assert_nonnull (line);
      g_hash_table_replace (from, g_strdup (c[0]), (gpointer) (line + 1));
      double y = g_ascii_strtod (line + strlen (want), NULL);
      g_assert_cmpfloat (fabs (y - 100 * acc), <, 1e-3 * MAX (1, 100 * acc));
      n++;
    }
  g_assert_cmpint (n, >=, 2);
}

/* `frugal lecture plot`: a CSV table drawn as a figure of the requested size; a bad spec is a
 * clear error */
static void
test_plot_command (void)
{
  g_autofree char *csv = g_build_filename (tmp, "table.csv", NULL);
  g_assert_true (g_file_set_contents (csv, "method,params,test_acc\nA,10,0.5\nA,20,0.7\n"
                                      "B,10,0.4\n", -1, NULL));
  g_autofree char *spec = g_strdup_printf ("%s: x=params, y=test_acc, series=method", csv);
  g_autofree char *fig = g_build_filename (tmp, "table.png", NULL);
  g_autofree char *out = NULL, *err = NULL;
  int rc = fw_cli_run_frugal (&out, &err, 60, "lecture", "plot", spec, spec, "--figure", fig,
                              "--size", "800x600", "--title", "Two panels", NULL);
  if (rc != 0)
    g_test_message ("%s", err);
  g_assert_cmpint (rc, ==, 0);
  g_assert_nonnull (strstr (out, "2 panels"));
  guint32 w = 0, h = 0;
  png_size (fig, &w, &h);
  g_assert_cmpuint (w, ==, 800);
  g_assert_cmpuint (h, ==, 600);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  rc = fw_cli_run_frugal (&out, &err, 60, "lecture", "plot", "no colon here", "--figure", fig,
                          NULL);
  g_assert_cmpint (rc, !=, 0);
  g_assert_nonnull (strstr (err, "FILE.csv: x=COLUMN"));
}

static void
test_replay_is_bit_identical (void)
{
  /* a demo that trains networks on noisy labels: the most random one */
  g_autofree char *a = run_metrics (lecture_dir, "label-noise-curves", "replay-a");
  g_autofree char *b = run_metrics (lecture_dir, "label-noise-curves", "replay-b");
  g_assert_cmpuint (strlen (a), >, 60);
  g_assert_cmpstr (a, ==, b);
  /* the same recipe with another seed gives other numbers (the comparison can fail) */
  g_autofree char *src = g_build_filename (lecture_dir, "label-noise-curves.ini", NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (src, &text, NULL, NULL));
  g_autofree char *dir = g_build_filename (tmp, "seed2", NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_autoptr (GRegex) re = g_regex_new ("^seed = 1$", G_REGEX_MULTILINE, 0, NULL);
  g_autofree char *text2 = g_regex_replace_literal (re, text, -1, 0, "seed = 2", 0, NULL);
  g_assert_cmpstr (text, !=, text2);
  g_autofree char *dst = g_build_filename (dir, "label-noise-curves.ini", NULL);
  g_assert_true (g_file_set_contents (dst, text2, -1, NULL));
  g_autofree char *c = run_metrics (dir, "label-noise-curves", "replay-c");
  g_assert_cmpstr (a, !=, c);
}

static void
test_errors (void)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = fw_cli_run_frugal (&out, &err, 30, "lecture", "run", "no-such-demo", "--dir",
                              lecture_dir, NULL);
  g_assert_cmpint (rc, ==, 1);
  g_assert_nonnull (strstr (err, "no lecture demo 'no-such-demo'"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  rc = fw_cli_run_frugal (&out, &err, 30, "lecture", "frobnicate", NULL);
  g_assert_cmpint (rc, ==, 2);
  /* a demo of a feature this build does not have: an error that says so, no figure */
  g_autofree char *dir = g_build_filename (tmp, "unavailable", NULL);
  g_mkdir_with_parents (dir, 0755);
  g_autofree char *ini = g_build_filename (dir, "future.ini", NULL);
  g_assert_true (g_file_set_contents (ini, "[lecture]\ntitle=Future\nsection=II. Few labels\n"
                                      "explanation=x\npage=future\ndemo=ext\nsteps=a\n"
                                      "requires=no-such-feature\n", -1, NULL));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  rc = fw_cli_run_frugal (&out, &err, 30, "lecture", "list", "--dir", dir, NULL);
  g_assert_cmpint (rc, ==, 0);
  g_assert_nonnull (strstr (out, "not available in this build"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  rc = fw_cli_run_frugal (&out, &err, 30, "lecture", "run", "future", "--dir", dir, NULL);
  g_assert_cmpint (rc, ==, 1);
  g_assert_nonnull (strstr (err, "not available in this build"));
}

/* ---- sessions: a container written by this test, following the format in fw-session.h ---- */

static void
le (GByteArray *b, guint64 v, int bytes)
{
  for (int i = 0; i < bytes; i++)
    {
      guint8 x = (v >> (8 * i)) & 0xff;
      g_byte_array_append (b, &x, 1);
    }
}

static GByteArray *
container (const char *manifest)
{
  GByteArray *b = g_byte_array_new ();
  g_byte_array_append (b, (const guint8 *) "FWSESS01", 8);
  le (b, 1, 4);
  le (b, 0, 4);
  const char *name = "manifest.ini";
  gsize ml = strlen (manifest);
  le (b, strlen (name), 2);
  g_byte_array_append (b, (const guint8 *) name, strlen (name));
  guint64 off = 16 + 2 + strlen (name) + 8 + 8 + 32;
  le (b, off, 8);
  le (b, ml, 8);
  guint8 digest[32];
  gsize dl = 32;
  g_autoptr (GChecksum) ck = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (ck, (const guint8 *) manifest, ml);
  g_checksum_get_digest (ck, digest, &dl);
  g_byte_array_append (b, digest, 32);
  g_byte_array_append (b, (const guint8 *) manifest, ml);
  return b;
}

static void
test_session_info (void)
{
  const char *manifest = "[session]\nversion=1\npage=noise\ndataset=digits\n"
                         "pipeline=rotate:deg=10\npresentation=false\n";
  GByteArray *b = container (manifest);
  g_autofree char *path = g_build_filename (tmp, "hand.fwsession", NULL);
  g_assert_true (g_file_set_contents (path, (const char *) b->data, b->len, NULL));
  g_autofree char *out = NULL, *err = NULL;
  int rc = fw_cli_run_frugal (&out, &err, 30, "session", "info", path, NULL);
  if (rc != 0)
    g_test_message ("%s", err);
  g_assert_cmpint (rc, ==, 0);
  g_assert_nonnull (strstr (out, "page: noise"));
  g_assert_nonnull (strstr (out, "dataset: digits"));
  g_assert_nonnull (strstr (out, "pipeline: rotate:deg=10"));
  g_assert_nonnull (strstr (out, "models: 0"));
  /* one byte of the manifest changed: the checksum catches it */
  b->data[b->len - 3] ^= 1;
  g_assert_true (g_file_set_contents (path, (const char *) b->data, b->len, NULL));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  rc = fw_cli_run_frugal (&out, &err, 30, "session", "info", path, NULL);
  g_assert_cmpint (rc, ==, 1);
  g_assert_nonnull (strstr (err, "checksum"));
  g_byte_array_unref (b);
  /* a manifest pointing at an entry that is not there */
  b = container ("[session]\nversion=1\n[model 1]\nname=x\nfile=model-1.safetensors\n"
                 "metrics=model-1.metrics\naccuracy=0.5\n");
  g_assert_true (g_file_set_contents (path, (const char *) b->data, b->len, NULL));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  rc = fw_cli_run_frugal (&out, &err, 30, "session", "info", path, NULL);
  g_assert_cmpint (rc, ==, 1);
  g_assert_nonnull (strstr (err, "no such entry"));
  g_byte_array_unref (b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autoptr (GError) error = NULL;
  tmp = g_dir_make_tmp ("fw-test-cli-lecture-XXXXXX", &error);
  g_assert_no_error (error);
  const char *root = g_getenv ("FW_SOURCE_ROOT");
  lecture_dir = g_build_filename (root != NULL ? root : ".", "resources", "recipes", "lecture",
                                  NULL);
  g_test_add_func ("/CliLecture/list_groups_like_the_course", test_list);
  g_test_add_func ("/CliLecture/every_demo_runs_reduced_and_draws_its_figure",
                   test_every_demo_reduced);
  g_test_add_func ("/CliLecture/replay_is_bit_identical", test_replay_is_bit_identical);
  g_test_add_func ("/CliLecture/plot_is_the_csv_in_percent", test_plot_is_the_csv_in_percent);
  g_test_add_func ("/CliLecture/plot_command_draws_a_csv", test_plot_command);
  g_test_add_func ("/CliLecture/errors", test_errors);
  g_test_add_func ("/CliSession/info_reads_the_container_and_refuses_damage",
                   test_session_info);
  int rc = g_test_run ();
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmp);
  (void) !system (cmd);
  g_free (tmp);
  g_free (lecture_dir);
  return rc;
}
