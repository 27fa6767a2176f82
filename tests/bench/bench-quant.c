/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-quant.c: int8 inference against float32 at batch 1, side by side.
 *
 *   bench-quant [MODEL.safetensors | ARCH]
 *
 * For the model (a saved one, or a freshly initialised named architecture over 28x28 inputs:
 * mlp (the default, 784-256-128-10), lenet5, cnn-small; timing does not depend on the weights) and for each of its dense layers alone, the float32 form and the int8 form
 * (qdense, per-channel symmetric, calibrated on random inputs) run one sample at a time,
 * alternately: 31 rounds, each timing enough forward passes to last ~20 ms, per form. Prints
 * the medians and the ratio float / int8 (> 1: int8 faster). One BLAS thread. Set FW_NO_AVX2=1
 * to time the plain C int8 kernel. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fw-engine.h"
#include "fw-kernels.h"
#include "fw-quant.h"

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* CPU seconds of this thread: the machine is shared, and with one BLAS thread all the work
 * runs here, so waiting for a core does not count */
static double
thread_cpu_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* CPU seconds per forward pass, one round */
static double
time_round (FwModel *m, const float *x, int reps)
{
  double t0 = thread_cpu_now ();
  for (int i = 0; i < reps; i++)
    fw_model_forward (m, x, 1, FALSE);
  return (thread_cpu_now () - t0) / reps;
}

static void
compare (const char *what, FwModel *f, FwModel *q, const float *x)
{
  enum { ROUNDS = 31 };
  /* repetitions per round: ~20 ms of the float model */
  int reps = 1;
  while (time_round (f, x, reps) * reps < 0.02 && reps < (1 << 20))
    reps *= 2;
  double tf[ROUNDS], tq[ROUNDS];
  for (int r = 0; r < ROUNDS; r++)
    {
      tf[r] = time_round (f, x, reps);
      tq[r] = time_round (q, x, reps);
    }
  qsort (tf, ROUNDS, sizeof (double), cmp_double);
  qsort (tq, ROUNDS, sizeof (double), cmp_double);
  double mf = tf[ROUNDS / 2], mq = tq[ROUNDS / 2];
  printf ("%-34s float32 %8.2f us   int8 %8.2f us   float/int8 %.2fx\n", what, 1e6 * mf,
          1e6 * mq, mf / mq);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  fw_blas_set_threads (1);
  g_autoptr (FwModel) m = NULL;
  const char *arg = argc > 1 ? argv[1] : "mlp";
  if (g_str_has_suffix (arg, ".safetensors"))
    m = fw_model_load (arg, NULL, &error);
  else
    {
      FwShape in = { 1, 28, 28 };
      g_autofree char *spec = fw_model_arch_spec (arg, NULL, in, 10, &error);
      if (spec != NULL)
        m = fw_model_new (arg, spec, in, &error);
      if (m != NULL)
        fw_model_init (m, 1);
    }
  if (m == NULL)
    {
      fprintf (stderr, "bench-quant: %s\n", error->message);
      return 1;
    }
  gsize in = fw_shape_size (m->input);
  const int n_cal = 256;
  g_autofree float *x = g_new (float, in * n_cal);
  FwRng rng;
  fw_rng_init (&rng, 7);
  for (gsize i = 0; i < in * n_cal; i++)
    x[i] = (float) fw_rng_uniform (&rng);
  printf ("int8 kernel: %s; batch 1, one thread, CPU time, medians of 31 alternating rounds\n",
          fw_kernels_have_avx2 () ? "AVX2" : "plain C");
  g_autoptr (FwModel) q = fw_quant_model_int8 (m, x, n_cal, TRUE, TRUE, &error);
  if (q == NULL)
    {
      fprintf (stderr, "bench-quant: %s\n", error->message);
      return 1;
    }
  g_autofree char *what = g_strdup_printf ("whole model (%s)", m->arch);
  compare (what, m, q, x);
  /* each dense / conv layer alone, over its own input shape */
  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = m->layers[i];
      if (l->klass != &fw_layer_dense && l->klass != &fw_layer_conv)
        continue;
      g_autofree char *tok = l->klass->spec (l);
      g_autoptr (FwModel) one = fw_model_new ("layer", tok, l->in, &error);
      g_assert_no_error (error);
      memcpy (one->params, l->w, sizeof (float) * l->n_w);
      gsize isz = fw_shape_size (l->in);
      g_autofree float *xi = g_new (float, isz * 64);
      for (gsize j = 0; j < isz * 64; j++)
        xi[j] = (float) fw_rng_uniform (&rng);
      g_autoptr (FwModel) oq = fw_quant_model_int8 (one, xi, 64, TRUE, TRUE, &error);
      g_assert_no_error (error);
      g_autofree char *name = g_strdup_printf ("layer %d %s (%dx%dx%d in)", i + 1, tok,
                                               l->in.c, l->in.h, l->in.w);
      compare (name, one, oq, xi);
    }
  return 0;
}
