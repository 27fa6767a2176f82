/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests of engine/core and the losses: GEMM against the naive loops, the RNG's statistics and
 * determinism, number formatting, loss gradients against finite differences. */
#include <math.h>
#include <string.h>

#include "fw-gemm.h"
#include "fw-loss.h"
#include "fw-rng.h"
#include "fw-test-util.h"
#include "fw-util.h"

static void
test_gemm_matches_naive (void)
{
  FwRng rng;
  fw_rng_init (&rng, 42);
  /* every transpose combination, with shapes that hit the sgemv routes (m = 1, n = 1) */
  const int shapes[][3] = { { 7, 5, 3 }, { 1, 9, 4 }, { 6, 1, 8 }, { 33, 17, 65 }, { 1, 1, 5 } };
  for (gsize s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++)
        {
          int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
          int lda = ta ? m : k, ldb = tb ? k : n, ldc = n;
          g_autofree float *a = g_new (float, (gsize) m * k);
          g_autofree float *b = g_new (float, (gsize) k * n);
          g_autofree float *c1 = g_new (float, (gsize) m * n);
          g_autofree float *c2 = g_new (float, (gsize) m * n);
          fw_test_fill_uniform (a, (gsize) m * k, -1, 1, &rng);
          fw_test_fill_uniform (b, (gsize) k * n, -1, 1, &rng);
          fw_test_fill_uniform (c1, (gsize) m * n, -1, 1, &rng);
          memcpy (c2, c1, sizeof (float) * m * n);
          fw_sgemm (ta, tb, m, n, k, 0.7f, a, lda, b, ldb, 0.3f, c1, ldc);
          fw_sgemm_ref (ta, tb, m, n, k, 0.7f, a, lda, b, ldb, 0.3f, c2, ldc);
          double err = fw_test_max_rel_err (c1, c2, (gsize) m * n, 0.1);
          if (err > 1e-4)
            g_test_message ("m=%d n=%d k=%d ta=%d tb=%d err=%g", m, n, k, ta, tb, err);
          g_assert_cmpfloat (err, <, 1e-4);
        }
}

static void
test_gemm_beta_zero_ignores_garbage (void)
{
  float a[4] = { 1, 2, 3, 4 }, b[4] = { 1, 0, 0, 1 }, c[4] = { NAN, NAN, NAN, NAN };
  fw_sgemm (FALSE, FALSE, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat (c[i], ==, a[i]);
}

static void
test_rng_same_seed_same_stream (void)
{
  FwRng a, b, c;
  fw_rng_init (&a, 7);
  fw_rng_init (&b, 7);
  fw_rng_init (&c, 8);
  gboolean differs = FALSE;
  for (int i = 0; i < 100; i++)
    {
      guint64 x = fw_rng_next (&a), y = fw_rng_next (&b), z = fw_rng_next (&c);
      g_assert_cmpuint (x, ==, y);
      differs |= x != z;
    }
  g_assert_true (differs);
}

static void
test_rng_split_streams_independent (void)
{
  FwRng root, s1, s2, s1b;
  fw_rng_init (&root, 1);
  fw_rng_split (&root, FW_RNG_INIT, &s1);
  fw_rng_split (&root, FW_RNG_SHUFFLE, &s2);
  fw_rng_split (&root, FW_RNG_INIT, &s1b);
  int same = 0;
  for (int i = 0; i < 64; i++)
    {
      guint64 a = fw_rng_next (&s1);
      same += a == fw_rng_next (&s2);
      g_assert_cmpuint (a, ==, fw_rng_next (&s1b));
    }
  g_assert_cmpint (same, ==, 0);
}

static void
test_rng_uniform_and_normal_moments (void)
{
  FwRng rng;
  fw_rng_init (&rng, 123);
  const int n = 200000;
  double su = 0, su2 = 0, sn = 0, sn2 = 0;
  for (int i = 0; i < n; i++)
    {
      double u = fw_rng_uniform (&rng), z = fw_rng_normal (&rng);
      g_assert_cmpfloat (u, >=, 0.0);
      g_assert_cmpfloat (u, <, 1.0);
      su += u;
      su2 += u * u;
      sn += z;
      sn2 += z * z;
    }
  /* closed forms: U(0,1) mean 1/2 var 1/12; N(0,1) mean 0 var 1; tolerance ~ 5 sigma */
  g_assert_cmpfloat (fabs (su / n - 0.5), <, 5 * sqrt (1.0 / 12 / n));
  g_assert_cmpfloat (fabs (su2 / n - (su / n) * (su / n) - 1.0 / 12), <, 0.002);
  g_assert_cmpfloat (fabs (sn / n), <, 5 / sqrt (n));
  g_assert_cmpfloat (fabs (sn2 / n - 1.0), <, 0.02);
}

static void
test_rng_below_is_uniform (void)
{
  FwRng rng;
  fw_rng_init (&rng, 99);
  int counts[7] = { 0 };
  const int n = 70000;
  for (int i = 0; i < n; i++)
    counts[fw_rng_below (&rng, 7)]++;
  /* chi-square with 6 degrees of freedom: 99.9% quantile is 22.46 */
  double chi2 = 0;
  for (int i = 0; i < 7; i++)
    chi2 += (counts[i] - n / 7.0) * (counts[i] - n / 7.0) / (n / 7.0);
  g_assert_cmpfloat (chi2, <, 22.46);
}

static void
test_rng_beta_mean (void)
{
  FwRng rng;
  fw_rng_init (&rng, 5);
  const int n = 50000;
  double s = 0;
  for (int i = 0; i < n; i++)
    s += fw_rng_beta (&rng, 0.4, 0.4 * 3);
  /* Beta(a, b) mean a / (a + b) = 0.25 */
  g_assert_cmpfloat (fabs (s / n - 0.25), <, 0.005);
}

static void
test_rng_shuffle_is_permutation (void)
{
  FwRng rng;
  fw_rng_init (&rng, 3);
  gint32 a[100];
  for (int i = 0; i < 100; i++)
    a[i] = i;
  fw_rng_shuffle (&rng, a, 100);
  gboolean seen[100] = { FALSE };
  int moved = 0;
  for (int i = 0; i < 100; i++)
    {
      g_assert_false (seen[a[i]]);
      seen[a[i]] = TRUE;
      moved += a[i] != i;
    }
  g_assert_cmpint (moved, >, 80);
}

static void
test_format_for_people (void)
{
  const struct { double v; const char *count, *bytes; } cases[] = {
    { 950, "950", "950 B" },
    { 12345, "12.3k", "12.1 KiB" },
    { 1234567, "1.2M", "1.2 MiB" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *c = fw_format_count (cases[i].v);
      g_autofree char *b = fw_format_bytes (cases[i].v);
      g_assert_cmpstr (c, ==, cases[i].count);
      g_assert_cmpstr (b, ==, cases[i].bytes);
    }
  g_autofree char *t = fw_format_seconds (0.0123);
  g_assert_cmpstr (t, ==, "12.3 ms");
}

/* d(mean loss)/d(logits) against central differences, for hard, smoothed and soft targets */
static void
test_softmax_xent_gradient_matches_finite_differences (void)
{
  FwRng rng;
  fw_rng_init (&rng, 11);
  const int n = 4, k = 5;
  float z[20], g[20], soft[20];
  gint32 labels[4] = { 0, 3, 4, 1 };
  fw_test_fill_uniform (z, n * k, -3, 3, &rng);
  fw_test_fill_uniform (soft, n * k, 0.1f, 1, &rng);
  for (int i = 0; i < n; i++)
    {
      float s = 0;
      for (int j = 0; j < k; j++)
        s += soft[i * k + j];
      for (int j = 0; j < k; j++)
        soft[i * k + j] /= s;
    }
  for (int mode = 0; mode < 3; mode++)
    {
      const float *t = mode == 2 ? soft : NULL;
      float ls = mode == 1 ? 0.1f : 0.0f;
      fw_loss_softmax_xent (z, n, k, labels, t, ls, g, NULL);
      for (int i = 0; i < n * k; i++)
        {
          float keep = z[i];
          const double h = 1e-3;
          z[i] = keep + h;
          double lp = fw_loss_softmax_xent (z, n, k, labels, t, ls, NULL, NULL);
          z[i] = keep - h;
          double lm = fw_loss_softmax_xent (z, n, k, labels, t, ls, NULL, NULL);
          z[i] = keep;
          g_assert_cmpfloat_with_epsilon (g[i], (lp - lm) / (2 * h), 2e-4);
        }
    }
}

static void
test_softmax_xent_closed_form (void)
{
  /* uniform logits over k classes: loss = log k exactly */
  float z[10] = { 0 };
  gint32 y = 3;
  double l = fw_loss_softmax_xent (z, 1, 10, &y, NULL, 0.0f, NULL, NULL);
  g_assert_cmpfloat_with_epsilon (l, log (10.0), 1e-9);
  /* large logits stay finite (log-sum-exp) */
  float big[3] = { 1000, -1000, 0 };
  gint32 y0 = 1;
  l = fw_loss_softmax_xent (big, 1, 3, &y0, NULL, 0.0f, NULL, NULL);
  g_assert_cmpfloat_with_epsilon (l, 2000.0, 1e-3);
}

static void
test_mse_gradient_matches_finite_differences (void)
{
  FwRng rng;
  fw_rng_init (&rng, 12);
  float y[12], t[12], g[12];
  fw_test_fill_uniform (y, 12, -2, 2, &rng);
  fw_test_fill_uniform (t, 12, -2, 2, &rng);
  fw_loss_mse (y, t, 3, 4, g);
  for (int i = 0; i < 12; i++)
    {
      float keep = y[i];
      y[i] = keep + 1e-3f;
      double lp = fw_loss_mse (y, t, 3, 4, NULL);
      y[i] = keep - 1e-3f;
      double lm = fw_loss_mse (y, t, 3, 4, NULL);
      y[i] = keep;
      g_assert_cmpfloat_with_epsilon (g[i], (lp - lm) / 2e-3, 1e-3);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Gemm/matches_naive_loops_all_transposes", test_gemm_matches_naive);
  g_test_add_func ("/Gemm/beta_zero_ignores_garbage", test_gemm_beta_zero_ignores_garbage);
  g_test_add_func ("/Rng/same_seed_same_stream", test_rng_same_seed_same_stream);
  g_test_add_func ("/Rng/split_streams_independent", test_rng_split_streams_independent);
  g_test_add_func ("/Rng/uniform_and_normal_moments", test_rng_uniform_and_normal_moments);
  g_test_add_func ("/Rng/below_is_uniform", test_rng_below_is_uniform);
  g_test_add_func ("/Rng/beta_mean", test_rng_beta_mean);
  g_test_add_func ("/Rng/shuffle_is_permutation", test_rng_shuffle_is_permutation);
  g_test_add_func ("/Util/format_for_people", test_format_for_people);
  g_test_add_func ("/Loss/softmax_xent_gradient_matches_finite_differences",
                   test_softmax_xent_gradient_matches_finite_differences);
  g_test_add_func ("/Loss/softmax_xent_closed_form", test_softmax_xent_closed_form);
  g_test_add_func ("/Loss/mse_gradient_matches_finite_differences",
                   test_mse_gradient_matches_finite_differences);
  return g_test_run ();
}
