/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal-noise.c: `frugal noise-curve`: test accuracy vs label-noise rate per training-set
 * size and seed, as CSV files the GUI's Noise page (or any plotting tool) draws. */
#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frugal-cli.h"
#include "fw-dataset.h"
#include "fw-error.h"
#include "fw-noise.h"
#include "fw-robust.h"

/* "0,0.1,0.2" -> doubles; FALSE on a bad field */
static gboolean
parse_list (const char *s, gboolean integers, GArray *out)
{
  g_auto (GStrv) f = g_strsplit (s, ",", -1);
  for (int i = 0; f[i] != NULL; i++)
    {
      char *t = g_strstrip (f[i]), *end = NULL;
      if (*t == '\0')
        return FALSE;
      double v = g_ascii_strtod (t, &end);
      if (*end != '\0' || !isfinite (v) || (integers && (v != floor (v) || v < 1)))
        return FALSE;
      if (integers)
        {
          int iv = (int) v;
          g_array_append_val (out, iv);
        }
      else
        g_array_append_val (out, v);
    }
  return out->len > 0;
}

typedef struct {
  FILE *csv;
  GArray *points;     /* FwNoisePoint */
} CurveState;

static void
on_point (gpointer user, const FwNoisePoint *p)
{
  CurveState *s = user;
  fprintf (s->csv, "%g,%.6f,%d,%d,%.6f,%.3f\n", p->rate, p->realised_rate, p->size, p->seed + 1,
           p->test_acc, p->seconds);
  fflush (s->csv);
  g_array_append_val (s->points, *p);
  printf ("[%d/%d] noise %4.0f%%  size %6d  seed %d  test accuracy %6.2f%%  (%.1f s)\n",
          p->index + 1, p->total, 100 * p->rate, p->size, p->seed + 1, 100 * p->test_acc,
          p->seconds);
  fflush (stdout);
}

int
frugal_cmd_noise_curve (int argc, char **argv)
{
  /* string options start NULL: GOption does not free a default it overwrites */
  g_autofree char *data = NULL, *rates_s = NULL, *sizes_s = NULL;
  g_autofree char *out_dir = NULL, *kind_s = NULL, *loss_s = NULL;
  g_autofree char *arch = NULL, *widths = NULL;
  int seeds = 3, epochs = 3, threads = 1, batch = 128;
  double lr = 0.05, gce_q = 0.7, smoothing = 0;
  gboolean coteaching = FALSE;
  GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_STRING, &data, "Dataset spec (default fashion-mnist); "
      "needs a test split", "SPEC" },
    { "rates", 'r', 0, G_OPTION_ARG_STRING, &rates_s,
      "Noise rates (default 0,0.1,0.2,0.5,0.8,0.9)", "R1,R2,..." },
    { "sizes", 'n', 0, G_OPTION_ARG_STRING, &sizes_s,
      "Training-set sizes (default: the whole training set)", "N1,N2,..." },
    { "seeds", 's', 0, G_OPTION_ARG_INT, &seeds, "Seeds per point (default 3)", "S" },
    { "epochs", 'e', 0, G_OPTION_ARG_INT, &epochs, "Epochs per run (default 3)", "E" },
    { "kind", 'k', 0, G_OPTION_ARG_STRING, &kind_s, "symmetric (default) | pair", "KIND" },
    { "loss", 0, 0, G_OPTION_ARG_STRING, &loss_s, "ce (default) | gce | sce", "LOSS" },
    { "gce-q", 0, 0, G_OPTION_ARG_DOUBLE, &gce_q, "q of the gce loss (default 0.7)", "Q" },
    { "label-smoothing", 0, 0, G_OPTION_ARG_DOUBLE, &smoothing,
      "Label smoothing of the ce loss (default 0)", "S" },
    { "coteaching", 0, 0, G_OPTION_ARG_NONE, &coteaching,
      "Co-teaching: two networks, forget rate = the noise rate (ce loss)", NULL },
    { "arch", 'a', 0, G_OPTION_ARG_STRING, &arch, "Architecture (default mlp)", "ARCH" },
    { "widths", 0, 0, G_OPTION_ARG_STRING, &widths, "mlp widths (default 256,128)", "W" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "SGD learning rate (default 0.05)", "LR" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Batch size (default 128)", "B" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "OpenBLAS threads (default 1)", "N" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir, "Output folder (required)", "DIR" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "Label-noise curves: train one model per (noise rate, "
                                "training-set size, seed) on labels with that exact rate of "
                                "noise and measure its accuracy on the clean test set.\n"
                                "Writes DIR/noise-curve.csv (one row per run, appended as runs "
                                "finish) and DIR/noise-curve-summary.csv (mean and standard "
                                "deviation over the seeds). With several --sizes (ascending, "
                                "with rate 0): DIR/noise-size-needed.csv, the size each rate "
                                "needs to reach the clean accuracy of the smallest size, beside "
                                "the prediction size / (1 - rate).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!frugal_parse_options (ctx, "noise-curve", &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (data == NULL)
    data = g_strdup ("fashion-mnist");
  if (kind_s == NULL)
    kind_s = g_strdup ("symmetric");
  if (arch == NULL)
    arch = g_strdup ("mlp");
  if (widths == NULL)
    widths = g_strdup ("256,128");
  if (argc != 1)
    return frugal_usage_error ("noise-curve", "unexpected argument '%s'", argv[1]);
  if (out_dir == NULL)
    return frugal_usage_error ("noise-curve", "--out DIR is required");
  g_autoptr (GArray) rates = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) sizes = g_array_new (FALSE, FALSE, sizeof (int));
  if (!parse_list (rates_s != NULL ? rates_s : "0,0.1,0.2,0.5,0.8,0.9", FALSE, rates))
    return frugal_usage_error ("noise-curve", "--rates %s: give fractions such as 0,0.2,0.5",
                               rates_s);
  for (guint i = 0; i < rates->len; i++)
    if (g_array_index (rates, double, i) < 0 || g_array_index (rates, double, i) > 1)
      return frugal_usage_error ("noise-curve", "--rates: %g is outside [0, 1]",
                                 g_array_index (rates, double, i));
  if (sizes_s != NULL && !parse_list (sizes_s, TRUE, sizes))
    return frugal_usage_error ("noise-curve", "--sizes %s: give positive whole numbers such "
                               "as 6000,60000", sizes_s);
  if (!(smoothing >= 0 && smoothing < 1) || !(gce_q > 0 && gce_q <= 1))
    return frugal_usage_error ("noise-curve", "--label-smoothing must be in [0, 1) and --gce-q "
                               "in (0, 1]");
  if (seeds < 1 || epochs < 1 || threads < 1 || batch < 1 || !(lr > 0))
    return frugal_usage_error ("noise-curve", "--seeds, --epochs, --threads, --batch and --lr "
                               "must be positive");
  FwNoiseKind kind;
  if (!fw_noise_kind_from_string (kind_s, &kind) || kind == FW_NOISE_MATRIX
      || kind == FW_NOISE_NONE)
    return frugal_usage_error ("noise-curve", "--kind %s: use symmetric or pair", kind_s);
  FwLossKind loss = FW_LOSS_CE;
  if (loss_s != NULL && !fw_loss_kind_from_string (loss_s, &loss))
    return frugal_usage_error ("noise-curve", "--loss %s: use ce, gce or sce", loss_s);

  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) train = fw_dataset_load (data, 1, NULL, &error);
  if (train == NULL)
    return frugal_fail (error);
  g_autoptr (FwDataset) test = fw_dataset_load_test (data, 1, NULL, &error);
  if (test == NULL)
    return error != NULL ? frugal_fail (error)
                         : frugal_failf ("--data %s has no test split: the curve measures "
                                         "test accuracy", data);
  if (g_mkdir_with_parents (out_dir, 0755) != 0)
    return frugal_failf ("%s: cannot create the folder: %s", out_dir, g_strerror (errno));

  g_autoptr (FwNoiseCurveConfig) c = fw_noise_curve_config_new (train, test);
  g_free (c->rates);
  c->n_rates = rates->len;
  c->rates = g_memdup2 (rates->data, sizeof (double) * rates->len);
  if (sizes->len > 0)
    {
      g_free (c->sizes);
      c->n_sizes = sizes->len;
      c->sizes = g_memdup2 (sizes->data, sizeof (int) * sizes->len);
    }
  c->seeds = seeds;
  c->kind = kind;
  g_free (c->arch);
  c->arch = g_strdup (arch);
  g_free (c->widths);
  c->widths = g_strdup (widths);
  c->cfg.epochs = epochs;
  c->cfg.batch = batch;
  c->cfg.lr = lr;
  c->cfg.loss = loss;
  c->cfg.gce_q = gce_q;
  c->cfg.label_smoothing = smoothing;
  c->coteaching = coteaching;
  c->threads = threads;

  g_autofree char *csv_path = g_build_filename (out_dir, "noise-curve.csv", NULL);
  FILE *csv = fopen (csv_path, "w");
  if (csv == NULL)
    return frugal_failf ("%s: cannot write: %s", csv_path, g_strerror (errno));
  fprintf (csv, "rate,realised_rate,size,seed,test_acc,train_seconds\n");
  CurveState s = { csv, g_array_new (FALSE, FALSE, sizeof (FwNoisePoint)) };
  printf ("noise curve: %s, %s noise, %s (%s), %d epochs, %s%s, %u rates x %d sizes x %d "
          "seeds\n", data, kind_s, arch, widths, epochs,
          coteaching ? "co-teaching" : "loss ", coteaching ? "" : fw_loss_kind_to_string (loss),
          rates->len, c->n_sizes, seeds);
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = fw_noise_curve_run (c, on_point, &s, NULL, &error);
  fclose (csv);
  double total = (g_get_monotonic_time () - t0) / 1e6;
  if (!ok)
    {
      g_array_unref (s.points);
      return frugal_fail (error);
    }

  /* summary: mean and sample standard deviation over the seeds */
  g_autofree char *sum_path = g_build_filename (out_dir, "noise-curve-summary.csv", NULL);
  GString *out = g_string_new ("rate,size,seeds,mean_test_acc,sd_test_acc\n");
  printf ("\n  rate    size   accuracy (mean +- sd over %d seeds)\n", seeds);
  g_autofree double *acc = g_new (double, (gsize) c->n_sizes * c->n_rates);
  g_autofree double *real_sizes = g_new (double, c->n_sizes);
  for (int z = 0; z < c->n_sizes; z++)
    for (int r = 0; r < c->n_rates; r++)
      {
        double sum = 0, sq = 0;
        int n = 0, size = 0;
        for (guint i = 0; i < s.points->len; i++)
          {
            FwNoisePoint *p = &g_array_index (s.points, FwNoisePoint, i);
            if (p->rate == c->rates[r] && p->index / c->n_rates % c->n_sizes == z)
              sum += p->test_acc, sq += p->test_acc * p->test_acc, n++, size = p->size;
          }
        double mean = sum / MAX (n, 1);
        double sd = n > 1 ? sqrt (MAX (sq - n * mean * mean, 0) / (n - 1)) : 0;
        g_string_append_printf (out, "%g,%d,%d,%.6f,%.6f\n", c->rates[r], size, n, mean, sd);
        acc[z * c->n_rates + r] = n > 0 ? mean : NAN;
        real_sizes[z] = size;
        printf ("  %4.0f%%  %6d   %6.2f%% +- %.2f\n", 100 * c->rates[r], size, 100 * mean,
                100 * sd);
      }
  g_array_unref (s.points);
  if (!g_file_set_contents (sum_path, out->str, -1, &error))
    {
      g_string_free (out, TRUE);
      return frugal_fail (error);
    }
  g_string_free (out, TRUE);

  /* data-size compensation: the size each noise rate needs to match the clean accuracy at
   * the smallest size (sizes ascending), beside n0 / (1 - rate) */
  gboolean ascending = c->n_sizes > 1;
  for (int z = 1; z < c->n_sizes; z++)
    ascending = ascending && real_sizes[z] > real_sizes[z - 1];
  g_autofree double *needed = g_new (double, c->n_rates);
  g_autofree double *predicted = g_new (double, c->n_rates);
  g_autofree char *need_path = g_build_filename (out_dir, "noise-size-needed.csv", NULL);
  if (ascending && fw_noise_size_needed (real_sizes, c->n_sizes, c->rates, c->n_rates, acc,
                                         needed, predicted))
    {
      GString *nd = g_string_new ("rate,needed_size,predicted_size\n");
      printf ("\n  size needed to match the clean accuracy at %.0f samples (%.2f%%):\n"
              "  rate    measured   n0/(1-rate)\n", real_sizes[0], 100 * acc[0]);
      for (int r = 0; r < c->n_rates; r++)
        {
          g_string_append_printf (nd, "%g,%.1f,%.1f\n", c->rates[r], needed[r], predicted[r]);
          if (isnan (needed[r]))
            printf ("  %4.0f%%   > %6.0f   %9.0f\n", 100 * c->rates[r],
                    real_sizes[c->n_sizes - 1], predicted[r]);
          else
            printf ("  %4.0f%%   %8.0f   %9.0f\n", 100 * c->rates[r], needed[r], predicted[r]);
        }
      gboolean ok_nd = g_file_set_contents (need_path, nd->str, -1, &error);
      g_string_free (nd, TRUE);
      if (!ok_nd)
        return frugal_fail (error);
      printf ("%s\n", need_path);
    }
  printf ("\n%s\n%s\ntotal %.1f s\n", csv_path, sum_path, total);
  return FRUGAL_EXIT_OK;
}
