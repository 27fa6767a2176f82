/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-decompose.c: factored layers against their originals, side by side.
 *
 *   bench-decompose
 *
 * Each case is a one-layer model (the layer alone, so the timing is the layer's) in its
 * original form and decomposed by fw_decompose_model at the largest rank (of a list) with at least 4x
 * fewer FLOPs: a 1024 -> 1024 dense layer by SVD and by TT (3 modes); the 32 -> 64 3x3 conv of
 * cnn-small (14 x 14 plane) by Tucker-2 and by CP. Both forms run alternately: 31 rounds, each
 * timing enough forward passes to last ~20 ms, per form, at batch 1 and batch 64. Prints the
 * FLOP ratio, the medians and the speed-up (original / factored). One BLAS thread. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fw-engine.h"
#include "fw-lowrank.h"

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
time_round (FwModel *m, const float *x, int batch, int reps)
{
  double t0 = fw_now ();
  for (int i = 0; i < reps; i++)
    fw_model_forward (m, x, batch, FALSE);
  return (fw_now () - t0) / reps;
}

static void
compare (const char *what, FwModel *a, FwModel *b, int batch)
{
  enum { ROUNDS = 31 };
  gsize in = fw_shape_size (a->input);
  float *x = g_new (float, (gsize) batch * in);
  FwRng rng;
  fw_rng_init (&rng, 1);
  for (gsize i = 0; i < (gsize) batch * in; i++)
    x[i] = (float) fw_rng_uniform (&rng);
  fw_model_reserve (a, batch);
  fw_model_reserve (b, batch);
  int reps = 1;
  while (time_round (a, x, batch, reps) * reps < 0.02 && reps < (1 << 20))
    reps *= 2;
  double ta[ROUNDS], tb[ROUNDS];
  for (int r = 0; r < ROUNDS; r++)
    {
      ta[r] = time_round (a, x, batch, reps);
      tb[r] = time_round (b, x, batch, reps);
    }
  qsort (ta, ROUNDS, sizeof (double), cmp_double);
  qsort (tb, ROUNDS, sizeof (double), cmp_double);
  double ma = ta[ROUNDS / 2], mb = tb[ROUNDS / 2];
  printf ("%-30s batch %3d  FLOPs %5.2fx fewer  original %9.1f us  factored %9.1f us  "
          "speed-up %.2fx\n", what, batch, fw_model_flops (a) / fw_model_flops (b), 1e6 * ma,
          1e6 * mb, ma / mb);
  g_free (x);
}

/* The largest rank (of a few) whose factored form has at least 4x fewer FLOPs. */
static void
run_case (const char *what, const char *spec, FwShape input, FwDecompMethod method, int modes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new (NULL, spec, input, &error);
  if (m == NULL)
    {
      fprintf (stderr, "%s: %s\n", what, error->message);
      exit (1);
    }
  fw_model_init (m, 1);
  const int ranks[] = { 256, 192, 160, 128, 112, 96, 80, 64, 56, 48, 40, 32, 28, 24, 20, 18,
                         16, 14, 12, 10, 8, 6, 4, 2, 1 };
  g_autoptr (FwModel) d = NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (ranks) && d == NULL; i++)
    {
      FwDecompConfig cfg;
      fw_decomp_config_defaults (&cfg);
      cfg.method = method;
      cfg.rank = ranks[i];
      cfg.modes = modes;
      cfg.iters = 3;
      g_clear_error (&error);
      d = fw_decompose_model (m, &cfg, NULL, NULL, &error);
      if (d != NULL && fw_model_flops (m) / fw_model_flops (d) < 4)
        g_clear_pointer (&d, fw_model_unref);
    }
  if (d == NULL)
    {
      fprintf (stderr, "%s: no rank gives 4x fewer FLOPs\n", what);
      exit (1);
    }
  printf ("%s: %s -> %s\n", what, m->spec, d->spec);
  compare (what, m, d, 1);
  compare (what, m, d, 64);
}

int
main (int argc, char **argv)
{
  fw_blas_set_threads (1);
  run_case ("dense 1024x1024, SVD r128", "dense:1024", (FwShape) { 1024, 1, 1 }, FW_DECOMP_SVD, 0);
  run_case ("dense 1024x1024, TT", "dense:1024", (FwShape) { 1024, 1, 1 }, FW_DECOMP_TT, 3);
  run_case ("conv 32->64 3x3 14x14, Tucker", "conv:64:3:1:1", (FwShape) { 32, 14, 14 },
            FW_DECOMP_TUCKER, 0);
  run_case ("conv 32->64 3x3 14x14, CP", "conv:64:3:1:1", (FwShape) { 32, 14, 14 },
            FW_DECOMP_CP, 0);
  return 0;
}
