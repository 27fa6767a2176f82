/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "fw-test-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-util.h"

void
fw_test_fill_uniform (float *a, gsize n, float lo, float hi, FwRng *rng)
{
  for (gsize i = 0; i < n; i++)
    a[i] = lo + (hi - lo) * (float) fw_rng_uniform (rng);
}

double
fw_test_max_rel_err (const float *a, const float *b, gsize n, double atol)
{
  double worst = 0;
  for (gsize i = 0; i < n; i++)
    {
      double e = fabs ((double) a[i] - b[i]) / (fabs ((double) b[i]) + atol);
      if (!(e <= worst)) /* catches NaN too */
        worst = isnan (e) ? INFINITY : e;
    }
  return worst;
}

/* L = sum r * logits, in double */
static double
probe_loss (FwModel *m, const float *x, int n, const float *r)
{
  /* train mode with a fixed dropout stream: reseed identically for every evaluation */
  FwRng saved = m->dropout_rng;
  const float *z = fw_model_forward (m, x, n, TRUE);
  m->dropout_rng = saved;
  double s = 0;
  for (gsize i = 0; i < (gsize) n * m->n_classes; i++)
    s += (double) r[i] * z[i];
  return s;
}

double
fw_test_gradcheck_model (FwModel *m, int n, float lo, float hi, double h, int max_checks,
                         guint64 seed)
{
  FwRng rng;
  fw_rng_init (&rng, seed);
  gsize in = (gsize) n * fw_shape_size (m->input);
  gsize out = (gsize) n * m->n_classes;
  g_autofree float *x = g_new (float, in);
  g_autofree float *r = g_new (float, out);
  fw_test_fill_uniform (x, in, lo, hi, &rng);
  fw_test_fill_uniform (r, out, -1.0f, 1.0f, &rng);

  /* analytic gradients: dL/dlogits = r */
  FwRng saved = m->dropout_rng;
  fw_model_forward (m, x, n, TRUE);
  m->dropout_rng = saved;
  fw_model_backward (m, r, n);
  g_autofree float *g = g_memdup2 (m->grads, sizeof (float) * MAX (m->n_params, 1));

  double worst = 0;
  gsize worst_i = 0;
  double worst_a = 0, worst_n = 0;
  gsize n_checks = m->n_params;
  if (max_checks > 0 && (gsize) max_checks < n_checks)
    n_checks = max_checks;
  for (gsize c = 0; c < n_checks; c++)
    {
      gsize i = n_checks == m->n_params ? c : fw_rng_below (&rng, (guint32) m->n_params);
      float keep = m->params[i];
      m->params[i] = (float) (keep + h);
      double lp = probe_loss (m, x, n, r);
      m->params[i] = (float) (keep - h);
      double lm = probe_loss (m, x, n, r);
      m->params[i] = keep;
      double num = (lp - lm) / (2.0 * h);
      double err = fabs (num - g[i]) / MAX (1.0, fabs (num) + fabs (g[i]));
      if (err > worst)
        {
          worst = err;
          worst_i = i;
          worst_a = g[i];
          worst_n = num;
        }
    }
  if (worst > 0)
    g_test_message ("worst parameter %" G_GSIZE_FORMAT ": analytic %.6g numeric %.6g (err %.3g)",
                    worst_i, worst_a, worst_n, worst);
  return worst;
}

void
fw_test_rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      GDir *d = g_dir_open (path, 0, NULL);
      const char *e;
      while (d != NULL && (e = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *p = g_build_filename (path, e, NULL);
          fw_test_rm_rf (p);
        }
      if (d != NULL)
        g_dir_close (d);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static void
tmpdir_free (gpointer p)
{
  fw_test_rm_rf (p);
  g_free (p);
}

const char *
fw_test_tmpdir (void)
{
  g_autoptr (GError) error = NULL;
  char *d = g_dir_make_tmp ("fw-test-XXXXXX", &error);
  g_assert_no_error (error);
  g_test_queue_destroy (tmpdir_free, d);
  return d;
}

static int
fw_test_cmp_strv (const char *const *a, const char *const *b, gpointer unused)
{
  return strcmp (*a, *b);
}

FwRecipe *
fw_test_small_example_recipe (const char *group, const char *out_dir)
{
  const char *root = g_getenv ("FW_SOURCE_ROOT");
  static const char *const dirs[] = { "resources/recipes", "resources/recipes/lecture" };
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *dir = g_build_filename (root ? root : ".", dirs[i], NULL);
      g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *e;
      while (d && (e = g_dir_read_name (d)))
        if (g_str_has_suffix (e, ".ini"))
          g_ptr_array_add (names, g_strdup (e));
      /* a stable choice: the first name in sorted order */
      g_ptr_array_sort_with_data (names, (GCompareDataFunc) fw_test_cmp_strv, NULL);
      for (guint k = 0; k < names->len; k++)
        {
          const char *name = g_ptr_array_index (names, k);
          g_autofree char *p = g_build_filename (dir, name, NULL);
          g_autoptr (GKeyFile) kf = g_key_file_new ();
          if (!g_key_file_load_from_file (kf, p, G_KEY_FILE_KEEP_COMMENTS, NULL))
            continue;
          gboolean plain = strcmp (group, "train") == 0;
          if (plain)
            {
              /* a plain training recipe: [train] and no extension group */
              g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);
              gboolean base_only = g_key_file_has_group (kf, "train");
              for (int j = 0; groups[j]; j++)
                if (!g_strv_contains ((const char *const[]) { "data", "model", "train", "noise",
                                                              "output", "run", NULL }, groups[j]))
                  base_only = FALSE;
              if (!base_only)
                continue;
            }
          else if (!g_key_file_has_group (kf, group))
            continue;
          if (g_key_file_has_key (kf, "data", "dataset", NULL))
            g_key_file_set_string (kf, "data", "dataset", "sim:1600:20");
          if (g_key_file_has_key (kf, "data", "test", NULL))
            g_key_file_set_string (kf, "data", "test", "auto");
          if (g_key_file_has_key (kf, "train", "epochs", NULL))
            g_key_file_set_integer (kf, "train", "epochs", 1);
          g_key_file_set_string (kf, "output", "dir", out_dir);
          g_key_file_set_integer (kf, "run", "threads", 1);
          g_test_message ("[%s] from %s", group, name);
          gsize len;
          g_autofree char *text = g_key_file_to_data (kf, &len, NULL);
          g_autoptr (GError) error = NULL;
          FwRecipe *r = fw_recipe_load_data (text, len, name, &error);
          g_assert_no_error (error);
          return r;
        }
    }
  return NULL;
}

FwProcSample
fw_test_proc_sample (void)
{
  FwProcSample s = { 0, 0, 0 };
  g_autofree char *status = NULL;
  if (g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    {
      char *p = strstr (status, "VmRSS:");
      if (p)
        s.rss_kb = strtol (p + 6, NULL, 10);
      p = strstr (status, "Threads:");
      if (p)
        s.threads = (int) strtol (p + 8, NULL, 10);
    }
  g_autoptr (GDir) d = g_dir_open ("/proc/self/fd", 0, NULL);
  while (d && g_dir_read_name (d))
    s.fds++;
  return s;
}

double
fw_test_rss_slope (const FwProcSample *s, int first, int last)
{
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int m = 0;
  for (int i = first; i <= last; i++, m++)
    {
      sx += i;
      sy += s[i].rss_kb;
      sxx += (double) i * i;
      sxy += (double) i * s[i].rss_kb;
    }
  return m > 1 ? (m * sxy - sx * sy) / (m * sxx - sx * sx) : 0;
}
