/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal-embed.c: `frugal embed`: pixels or a model layer's features projected to 2-D by PCA
 * or t-SNE, written as CSV (x,y,label[,pred]). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fw-dataset.h"
#include "fw-embed.h"
#include "fw-error.h"
#include "fw-features.h"
#include "fw-gemm.h"
#include "fw-model.h"
#include "fw-safetensors.h"
#include "fw-util.h"

#include "frugal-cli.h"

/* CPU seconds of this process (the timings under load from other processes) */
static double
cpu_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Fraction of points whose nearest other point in the 2-D layout has the same label. */
static double
nn_agreement (const float *y, const gint32 *label, int n)
{
  int ok = 0;
  for (int i = 0; i < n; i++)
    {
      float best = INFINITY;
      int bj = i;
      for (int j = 0; j < n; j++)
        {
          float dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
          float d2 = dx * dx + dy * dy;
          if (j != i && d2 < best)
            {
              best = d2;
              bj = j;
            }
        }
      ok += label[bj] == label[i];
    }
  return n > 0 ? (double) ok / n : 0.0;
}

int
frugal_cmd_embed (int argc, char **argv)
{
  g_autofree char *data = NULL, *method = NULL, *out = NULL;
  gboolean pixels = FALSE;
  int layer = -2, n = 2000, iter = 1000, threads = 1, exact_max = -1;
  double perplexity = 30.0, theta = 0.5;
  gint64 seed = 1;
  GOptionEntry entries[] = {
    { "pixels", 0, 0, G_OPTION_ARG_NONE, &pixels, "Embed the raw pixels (no model)", NULL },
    { "data", 'd', 0, G_OPTION_ARG_STRING, &data,
      "Dataset spec (fashion-mnist:test, digits, sim:N, idx:..., folder:..., csv:...)",
      "SPEC" },
    { "layer", 'l', 0, G_OPTION_ARG_INT, &layer,
      "Layer whose output is the feature (0-based; negative counts from the end: -1 = logits; "
      "default -2)", "N" },
    { "method", 'm', 0, G_OPTION_ARG_STRING, &method, "pca or tsne (default tsne)", "M" },
    { "n", 'n', 0, G_OPTION_ARG_INT, &n,
      "Number of samples, a seeded random choice (default 2000; 0 = all)", "N" },
    { "perplexity", 'p', 0, G_OPTION_ARG_DOUBLE, &perplexity, "t-SNE perplexity (default 30)",
      "P" },
    { "iter", 'i', 0, G_OPTION_ARG_INT, &iter, "t-SNE iterations (default 1000)", "N" },
    { "theta", 0, 0, G_OPTION_ARG_DOUBLE, &theta, "Barnes-Hut accuracy (default 0.5)", "T" },
    { "exact-max", 0, 0, G_OPTION_ARG_INT, &exact_max,
      "Exact O(n^2) t-SNE up to this many points (default 1000)", "N" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed (sample choice, layout, sim data)", "S" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "BLAS threads (default 1)", "N" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Output CSV (required)", "FILE" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL.safetensors | --pixels");
  g_option_context_set_summary (ctx, "Project features to 2-D: the raw pixels or the output of "
                                "one layer of a saved model, by PCA or t-SNE (exact for small "
                                "sets, Barnes-Hut beyond). Writes x,y,label[,pred] per sample "
                                "and prints the timings.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!frugal_parse_options (ctx, "embed", &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (pixels ? argc != 1 : argc != 2)
    return frugal_usage_error ("embed", pixels ? "--pixels takes no model argument"
                                               : "expected one MODEL.safetensors (or --pixels)");
  if (data == NULL)
    return frugal_usage_error ("embed", "--data SPEC is required (e.g. --data fashion-mnist:test)");
  if (out == NULL)
    return frugal_usage_error ("embed", "--out FILE is required (e.g. --out points.csv)");
  gboolean tsne = method == NULL || g_strcmp0 (method, "tsne") == 0;
  if (!tsne && g_strcmp0 (method, "pca") != 0)
    return frugal_usage_error ("embed", "--method %s: use pca or tsne", method);
  if (n < 0 || threads < 1 || iter < 1 || seed < 0)
    return frugal_usage_error ("embed", "--n must be >= 0, --threads and --iter >= 1, "
                               "--seed >= 0");

  fw_blas_set_threads (threads);
  g_autoptr (GError) error = NULL;
  double t0 = fw_now ();
  g_autoptr (FwModel) m = NULL;
  if (!pixels)
    {
      m = fw_model_load (argv[1], NULL, &error);
      if (m == NULL)
        return frugal_fail (error);
      if (layer < 0)
        layer += m->n_layers;
      if (layer < 0 || layer >= m->n_layers)
        return frugal_usage_error ("embed", "--layer: the model has layers 0 to %d",
                                   m->n_layers - 1);
    }
  g_autoptr (FwDataset) ds = fw_dataset_load (data, (guint64) seed, NULL, &error);
  if (ds == NULL)
    return frugal_fail (error);
  if (ds->n < 4)
    return frugal_failf ("dataset '%s' has %d samples: at least 4 are needed", data, ds->n);
  double t_load = fw_now () - t0;

  int want = n == 0 ? ds->n : MIN (n, ds->n);
  g_autofree gint32 *idx = g_new (gint32, want);
  want = fw_features_pick (ds, want, (guint64) seed, idx);

  t0 = fw_now ();
  g_autoptr (FwFeatures) f = NULL;
  if (pixels)
    f = fw_features_pixels (ds, idx, want);
  else
    {
      f = fw_features_layer (m, layer, ds, idx, want, 256, NULL, &error);
      if (f == NULL)
        return frugal_fail (error);
    }
  double t_feat = fw_now () - t0;

  g_autofree float *y = g_new (float, 2 * (gsize) f->n);
  t0 = fw_now ();
  double c0 = cpu_now ();
  if (tsne)
    {
      FwTsneParams prm;
      fw_tsne_params_init (&prm);
      prm.perplexity = perplexity;
      prm.n_iter = iter;
      prm.theta = theta;
      prm.seed = (guint64) seed;
      if (exact_max >= 0)
        prm.exact_max = exact_max;
      if (!fw_tsne_run (f->x, f->n, f->d, &prm, y, &error))
        return frugal_fail (error);
    }
  else
    {
      g_autoptr (FwPca) pca = fw_pca_fit (f->x, f->n, f->d, MIN (2, f->d), &error);
      if (pca == NULL)
        return frugal_fail (error);
      g_autofree float *yk = g_new0 (float, 2 * (gsize) f->n);
      fw_pca_transform (pca, f->x, f->n, yk);
      if (pca->k == 1)
        for (int i = 0; i < f->n; i++)
          {
            y[2 * i] = yk[i];
            y[2 * i + 1] = 0.0f;
          }
      else
        memcpy (y, yk, sizeof (float) * 2 * f->n);
      printf ("explained variance: %.1f%% + %.1f%%\n", 100.0 * pca->ratio[0],
              pca->k > 1 ? 100.0 * pca->ratio[1] : 0.0);
    }
  double t_embed = fw_now () - t0;
  double c_embed = cpu_now () - c0;

  FILE *fp = fopen (out, "w");
  if (fp == NULL)
    return frugal_failf ("cannot write %s: %s", out, g_strerror (errno));
  fprintf (fp, f->pred != NULL ? "x,y,label,pred\n" : "x,y,label\n");
  for (int i = 0; i < f->n; i++)
    {
      if (f->pred != NULL)
        fprintf (fp, "%.6g,%.6g,%d,%d\n", y[2 * i], y[2 * i + 1], f->label[i], f->pred[i]);
      else
        fprintf (fp, "%.6g,%.6g,%d\n", y[2 * i], y[2 * i + 1], f->label[i]);
    }
  if (fclose (fp) != 0)
    return frugal_failf ("cannot write %s: %s", out, g_strerror (errno));

  printf ("points:   %d of %d-D features (%s)\n", f->n, f->d, pixels ? "pixels" : "layer");
  if (!pixels)
    {
      g_autofree char *lab = fw_features_layer_label (m, layer);
      printf ("layer:    %s\n", lab);
    }
  printf ("method:   %s\n", tsne ? "t-SNE" : "PCA");
  printf ("load:     %.3f s\n", t_load);
  printf ("features: %.3f s\n", t_feat);
  printf ("%s %.3f s wall, %.3f s CPU (%d thread%s)\n", tsne ? "t-SNE:   " : "PCA:     ",
          t_embed, c_embed, threads, threads == 1 ? "" : "s");
  g_autofree char *agree = frugal_format_percent (nn_agreement (y, f->label, f->n));
  printf ("1-NN label agreement in 2-D: %s\n", agree);
  printf ("wrote:    %s\n", out);
  return FRUGAL_EXIT_OK;
}
