/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-prune.c: is the pruned model really faster? Batch-1 latency (and batch-256 throughput)
 * of a dense model and its pruned, physically smaller form, timed in alternating rounds on this
 * machine, one thread; prints medians and the ratio of medians.
 *
 *   bench-prune [ROUNDS]
 *
 * Pairs (speed does not depend on trained values, only on shapes and the sparsity pattern, so
 * the models are initialised and pruned by magnitude here):
 *   mlp-300-100  784-300-100-10 dense   vs  90% of weights pruned per layer, CSR layers
 *   mlp-300-100  784-300-100-10 dense   vs  90% pruned in 1 x 8 blocks, block-CSR layers
 *   mlp-300-100  784-300-100-10 dense   vs  half the neurons pruned (784-150-50-10)
 *   cnn-small    conv32,conv64,dense128 vs  half the channels and neurons pruned
 *   lenet5       conv6,conv16,120,84    vs  half the channels and neurons pruned
 * Targets (issue #6): 90%-sparse MLP >= 3x faster at batch 1; half channels >= 1.6x. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fw-compare.h"
#include "fw-gemm.h"
#include "fw-prune.h"

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (double *v, int n)
{
  qsort (v, n, sizeof (double), cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static FwModel *
pruned (FwModel *m, FwPruneGranularity g, double s)
{
  g_autoptr (GError) error = NULL;
  g_autofree float *scores = g_new (float, m->n_params);
  fw_prune_score_magnitude (m, scores);
  g_autoptr (FwPruneMask) mask = fw_prune_mask_new (m);
  fw_prune_select (m, scores, g, FW_PRUNE_PER_LAYER, s, TRUE, mask);
  g_autoptr (FwModel) masked = fw_model_copy (m);
  fw_prune_mask_apply (mask, masked);
  FwModel *r = g == FW_PRUNE_WEIGHTS || g == FW_PRUNE_BLOCKS
                 ? fw_prune_sparsify (masked, 0.5, &error)
                                     : fw_prune_shrink (masked, mask, &error);
  if (r == NULL)
    g_error ("%s", error->message);
  return r;
}

static void
bench_pair (const char *name, FwModel *a, FwModel *b, int rounds)
{
  FwShape in = a->input;
  gsize sz = fw_shape_size (in);
  const int big = 256;
  g_autofree float *x = g_new (float, sz * big);
  FwRng rng;
  fw_rng_init (&rng, 1);
  for (gsize i = 0; i < sz * big; i++)
    x[i] = (float) fw_rng_uniform (&rng);
  g_autofree double *ta = g_new (double, rounds), *tb = g_new (double, rounds);
  g_autofree double *ra = g_new (double, rounds), *rb = g_new (double, rounds);
  g_autofree double *ratio = g_new (double, rounds);
  for (int r = 0; r < rounds; r++)
    {
      /* alternate which goes first */
      FwModel *first = r % 2 ? b : a, *second = r % 2 ? a : b;
      double t1 = fw_compare_time_forward (first, x, 1, 3, 0.05, NULL);
      double t2 = fw_compare_time_forward (second, x, 1, 3, 0.05, NULL);
      ta[r] = r % 2 ? t2 : t1;
      tb[r] = r % 2 ? t1 : t2;
      ratio[r] = ta[r] / tb[r];
      double u1 = fw_compare_time_forward (first, x, big, 1, 0.05, NULL);
      double u2 = fw_compare_time_forward (second, x, big, 1, 0.05, NULL);
      ra[r] = big / (r % 2 ? u2 : u1);
      rb[r] = big / (r % 2 ? u1 : u2);
    }
  double ma = median (ta, rounds), mb = median (tb, rounds), mr = median (ratio, rounds);
  double qa = median (ra, rounds), qb = median (rb, rounds);
  printf ("%-34s batch 1: %8.1f us -> %8.1f us  speed-up %.2fx (median of round ratios "
          "%.2fx)  batch 256: %9.0f -> %9.0f img/s (%.2fx)\n", name, 1e6 * ma, 1e6 * mb,
          ma / mb, mr, qa, qb, qb / qa);
  printf ("%-34s   %s (%" G_GSIZE_FORMAT " params) -> %s (%" G_GSIZE_FORMAT " params)\n", "",
          a->spec, fw_model_param_count (a), b->spec, fw_model_param_count (b));
}

static FwModel *
arch_model (const char *arch, const char *widths, FwShape in)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *spec = fw_model_arch_spec (arch, widths, in, 10, &error);
  FwModel *m = spec != NULL ? fw_model_new (arch, spec, in, &error) : NULL;
  if (m == NULL)
    g_error ("%s", error->message);
  fw_model_init (m, 1);
  return m;
}

int
main (int argc, char **argv)
{
  int rounds = argc > 1 ? atoi (argv[1]) : 9;
  rounds = MAX (rounds, 1);
  fw_blas_set_threads (1);
  FwShape in = { 1, 28, 28 };
  printf ("bench-prune: %d alternating rounds, 1 thread; times are medians\n", rounds);

  g_autoptr (FwModel) mlp = arch_model ("mlp", "300,100", in);
  g_autoptr (FwModel) mlp_sparse = pruned (mlp, FW_PRUNE_WEIGHTS, 0.9);
  bench_pair ("mlp-300-100, 90% weights (CSR)", mlp, mlp_sparse, rounds);
  g_autoptr (FwModel) mlp_blocks = pruned (mlp, FW_PRUNE_BLOCKS, 0.9);
  bench_pair ("mlp-300-100, 90% in 1x8 blocks", mlp, mlp_blocks, rounds);
  g_autoptr (FwModel) mlp_sparse95 = pruned (mlp, FW_PRUNE_WEIGHTS, 0.95);
  bench_pair ("mlp-300-100, 95% weights (CSR)", mlp, mlp_sparse95, rounds);
  g_autoptr (FwModel) mlp_sparse50 = pruned (mlp, FW_PRUNE_WEIGHTS, 0.5);
  bench_pair ("mlp-300-100, 50% weights (CSR)", mlp, mlp_sparse50, rounds);
  g_autoptr (FwModel) mlp_half = pruned (mlp, FW_PRUNE_NEURONS, 0.5);
  bench_pair ("mlp-300-100, half the neurons", mlp, mlp_half, rounds);
  g_autoptr (FwModel) cnn = arch_model ("cnn-small", NULL, in);
  g_autoptr (FwModel) cnn_half = pruned (cnn, FW_PRUNE_UNITS, 0.5);
  bench_pair ("cnn-small, half the channels", cnn, cnn_half, rounds);
  g_autoptr (FwModel) lenet = arch_model ("lenet5", NULL, in);
  g_autoptr (FwModel) lenet_half = pruned (lenet, FW_PRUNE_UNITS, 0.5);
  bench_pair ("lenet5, half the channels", lenet, lenet_half, rounds);
  return 0;
}
