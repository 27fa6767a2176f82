/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-weak.c: few-label learning: pretext labels, decoder layers, pseudo-label selection,
 * VICReg and DINO losses, the EMA teacher, k-means, calibration (ECE, temperature scaling, EM
 * priors), active-learning queries against brute force, and tiny end-to-end runs. */
#include <math.h>
#include <string.h>

#include "fw-active.h"
#include "fw-augment.h"
#include "fw-calib.h"
#include "fw-dataset.h"
#include "fw-error.h"
#include "fw-features.h"
#include "fw-loss.h"
#include "fw-test-util.h"
#include "fw-weak.h"

/* ---- pretext tasks ---- */

static void
test_rotation_labels (void)
{
  FwRng rng;
  fw_rng_init (&rng, 3);
  const int n = 40, c = 2, h = 9;
  gsize size = (gsize) c * h * h;
  g_autofree float *x = g_new (float, n * size);
  g_autofree float *out = g_new (float, n * size);
  g_autofree float *ref = g_new (float, size);
  g_autofree gint32 *labels = g_new (gint32, n);
  fw_test_fill_uniform (x, n * size, 0, 1, &rng);
  fw_rotation_batch (x, n, c, h, out, labels, &rng);
  int seen[4] = { 0 };
  for (int i = 0; i < n; i++)
    {
      g_assert_cmpint (labels[i], >=, 0);
      g_assert_cmpint (labels[i], <, 4);
      seen[labels[i]]++;
      /* independent: the augmentation's bilinear rotation about the centre by label * 90
       * degrees lands exactly on pixel centres */
      double A[6];
      fw_aug_matrix_rotate (A, 90.0 * labels[i], h, h);
      fw_aug_warp_affine (x + i * size, ref, c, h, h, A, FW_AUG_BORDER_ZERO);
      for (gsize j = 0; j < size; j++)
        g_assert_cmpfloat_with_epsilon (out[i * size + j], ref[j], 1e-5);
    }
  for (int r = 0; r < 4; r++)
    g_assert_cmpint (seen[r], >, 0);
  /* four quarter turns are the identity; 1 then 3 too */
  g_autofree float *a = g_new (float, size);
  g_autofree float *b = g_new (float, size);
  memcpy (a, x, sizeof (float) * size);
  for (int t = 0; t < 4; t++)
    {
      fw_rotate90 (a, b, c, h, 1);
      memcpy (a, b, sizeof (float) * size);
    }
  g_assert_cmpmem (a, sizeof (float) * size, x, sizeof (float) * size);
  fw_rotate90 (x, a, c, h, 1);
  fw_rotate90 (a, b, c, h, 3);
  g_assert_cmpmem (b, sizeof (float) * size, x, sizeof (float) * size);
}

static void
test_mask_batch (void)
{
  FwRng rng;
  fw_rng_init (&rng, 5);
  const int n = 10, c = 1, h = 12, w = 10, p = 4;
  gsize size = (gsize) c * h * w;
  g_autofree float *x = g_new (float, n * size);
  g_autofree float *out = g_new (float, n * size);
  g_autofree float *mask = g_new (float, n * size);
  fw_test_fill_uniform (x, n * size, 0.1f, 1, &rng);
  fw_mask_batch (x, n, c, h, w, p, &rng, out, mask);
  for (int i = 0; i < n; i++)
    {
      int ones = 0, r0 = h, r1 = -1, c0 = w, c1 = -1;
      for (int y = 0; y < h; y++)
        for (int xx = 0; xx < w; xx++)
          {
            gsize o = i * size + (gsize) y * w + xx;
            if (mask[o] == 1.0f)
              {
                ones++;
                g_assert_cmpfloat (out[o], ==, 0.0f);
                r0 = MIN (r0, y), r1 = MAX (r1, y), c0 = MIN (c0, xx), c1 = MAX (c1, xx);
              }
            else
              {
                g_assert_cmpfloat (mask[o], ==, 0.0f);
                g_assert_cmpfloat (out[o], ==, x[o]);
              }
          }
      /* one p x p square */
      g_assert_cmpint (ones, ==, p * p);
      g_assert_cmpint (r1 - r0 + 1, ==, p);
      g_assert_cmpint (c1 - c0 + 1, ==, p);
    }
}

/* ---- decoder layers ---- */

static void
test_decoder_layers (void)
{
  g_autoptr (GError) error = NULL;
  FwShape in = { 1, 4, 4 };
  g_autoptr (FwModel) m = fw_model_new ("custom", "flatten,dense:12,reshape:3:2:2,upsample:2,"
                                        "conv:2:3:1:1,upsample:3,flatten,dense:3", in, &error);
  g_assert_no_error (error);
  fw_model_init (m, 1);
  g_assert_cmpint (m->layers[3]->out.h, ==, 4);
  g_assert_cmpint (m->layers[5]->out.w, ==, 12);
  double err = fw_test_gradcheck_model (m, 3, -1, 1, 1e-2, 0, 7);
  g_assert_cmpfloat (err, <, 2e-2);
  /* upsample forward against the definition y(c, i, j) = x(c, i / f, j / f) */
  const float *x = m->act[1];
  const float *y = m->act[3];
  for (int s = 0; s < 3; s++)
    for (int ch = 0; ch < 3; ch++)
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
          g_assert_cmpfloat (y[((s * 3 + ch) * 4 + i) * 4 + j], ==,
                             x[((s * 3 + ch) * 2 + i / 2) * 2 + j / 2]);
  /* a reshape that does not keep the size is an error naming it */
  g_autoptr (FwModel) bad = fw_model_new ("custom", "flatten,reshape:2:3:3", in, &error);
  g_assert_null (bad);
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "reshape"));
}

static void
test_copy_prefix (void)
{
  g_autoptr (GError) error = NULL;
  FwShape s = { 1, 8, 8 };
  g_autofree char *enc = fw_weak_encoder_spec (TRUE, s, 32, 6);
  int ne = fw_weak_spec_layers (enc);
  g_autofree char *a_spec = g_strdup_printf ("%s,relu,dense:4", enc);
  g_autofree char *b_spec = g_strdup_printf ("%s,relu,dense:10", enc);
  g_autoptr (FwModel) a = fw_weak_model_new (a_spec, s, 1, 0.3f, 0.2f, &error);
  g_autoptr (FwModel) b = fw_weak_model_new (b_spec, s, 2, 0.0f, 1.0f, &error);
  g_assert_no_error (error);
  g_assert_true (fw_weak_copy_prefix (b, a, ne, &error));
  g_assert_no_error (error);
  /* the encoder outputs agree */
  g_autoptr (FwDataset) ds = fw_dataset_new ("t", 5, s, 2);
  FwRng rng;
  fw_rng_init (&rng, 9);
  fw_test_fill_uniform (ds->x, 5 * 64, 0, 1, &rng);
  g_autoptr (FwFeatures) fa = fw_features_layer (a, ne - 1, ds, NULL, 0, 0, NULL, &error);
  g_autoptr (FwFeatures) fb = fw_features_layer (b, ne - 1, ds, NULL, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (fa->x, sizeof (float) * fa->n * fa->d, fb->x, sizeof (float) * fb->n * fb->d);
  /* a different encoder is refused */
  g_autofree char *enc2 = fw_weak_encoder_spec (FALSE, s, 32, 6);
  g_autoptr (FwModel) c = fw_weak_model_new (enc2, s, 1, 0, 1, &error);
  g_assert_false (fw_weak_copy_prefix (c, a, 2, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  /* the conv decoder brings the embedding back to the image shape */
  g_clear_error (&error);
  g_autofree char *dec = fw_weak_decoder_spec (TRUE, s, 32, 6, &error);
  g_autofree char *ae = g_strdup_printf ("%s,%s", enc, dec);
  g_autoptr (FwModel) m = fw_weak_model_new (ae, s, 1, 0, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->n_classes, ==, 64);
  FwShape odd = { 1, 10, 10 };
  g_assert_null (fw_weak_decoder_spec (TRUE, odd, 32, 6, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
}

/* ---- self-training ---- */

static void
random_probs (float *p, int n, int k, double sharp, FwRng *rng)
{
  for (int i = 0; i < n; i++)
    {
      double s = 0;
      for (int j = 0; j < k; j++)
        {
          p[i * k + j] = (float) exp (sharp * fw_rng_normal (rng));
          s += p[i * k + j];
        }
      for (int j = 0; j < k; j++)
        p[i * k + j] /= (float) s;
    }
}

static int
argmax (const float *p, int k)
{
  int b = 0;
  for (int j = 1; j < k; j++)
    if (p[j] > p[b])
      b = j;
  return b;
}

static void
test_pseudo_threshold (void)
{
  FwRng rng;
  fw_rng_init (&rng, 11);
  const int n = 500, k = 4;
  g_autofree float *p = g_new (float, n * k);
  random_probs (p, n, k, 2.5, &rng);
  g_autofree guint8 *taken = g_new0 (guint8, n);
  for (int i = 0; i < n; i += 7)
    taken[i] = 1;
  g_autofree gint32 *picks = g_new (gint32, n);
  g_autofree gint32 *labels = g_new (gint32, n);
  const double thr = 0.8;
  int np = fw_selftrain_select (p, n, k, taken, thr, 0, picks, labels);
  g_assert_cmpint (np, >, 10);
  g_autofree guint8 *picked = g_new0 (guint8, n);
  for (int i = 0; i < np; i++)
    {
      picked[picks[i]] = 1;
      g_assert_cmpint (labels[i], ==, argmax (p + picks[i] * k, k));
      if (i > 0)
        g_assert_cmpint (picks[i], >, picks[i - 1]);
    }
  for (int i = 0; i < n; i++)
    {
      double conf = p[i * k + argmax (p + i * k, k)];
      /* picked exactly when free and at or above the threshold */
      g_assert_cmpint (picked[i], ==, !taken[i] && conf >= thr);
    }
  /* top-k per class: brute force, the topk largest confidences among each class's candidates */
  const int topk = 5;
  np = fw_selftrain_select (p, n, k, taken, 0.5, topk, picks, labels);
  memset (picked, 0, n);
  for (int i = 0; i < np; i++)
    picked[picks[i]] = 1;
  for (int y = 0; y < k; y++)
    {
      int cnt = 0;
      for (int i = 0; i < n; i++)
        {
          if (taken[i] || argmax (p + i * k, k) != y || p[i * k + y] < 0.5)
            continue;
          /* rank among this class's candidates */
          int better = 0;
          for (int j = 0; j < n; j++)
            if (!taken[j] && argmax (p + j * k, k) == y && p[j * k + y] >= 0.5
                && (p[j * k + y] > p[i * k + y] || (p[j * k + y] == p[i * k + y] && j < i)))
              better++;
          g_assert_cmpint (picked[i], ==, better < topk);
          cnt += picked[i];
        }
      g_assert_cmpint (cnt, <=, topk);
    }
}

/* ---- VICReg, DINO, EMA ---- */

static void
test_vicreg_variance_zero (void)
{
  FwRng rng;
  fw_rng_init (&rng, 2);
  const int n = 50, d = 6;
  g_autofree float *z = g_new (float, n * d);
  g_autofree float *g = g_new (float, n * d);
  for (int i = 0; i < n * d; i++)
    z[i] = (float) (3.0 * fw_rng_normal (&rng));
  g_autofree float *std = g_new (float, d);
  fw_dim_std (z, n, d, std);
  for (int j = 0; j < d; j++)
    g_assert_cmpfloat (std[j], >, 1.5);
  g_assert_cmpfloat (fw_vicreg_variance (z, n, d, 1.0, 1e-4, g), ==, 0.0);
  for (int i = 0; i < n * d; i++)
    g_assert_cmpfloat (g[i], ==, 0.0f);
  /* a collapsed embedding costs gamma - sqrt(eps) per dimension */
  for (int i = 0; i < n * d; i++)
    z[i] = 0.5f;
  g_assert_cmpfloat_with_epsilon (fw_vicreg_variance (z, n, d, 1.0, 1e-4, NULL), 0.99, 1e-9);
}

static void
test_vicreg_gradient (void)
{
  FwRng rng;
  fw_rng_init (&rng, 4);
  const int n = 12, d = 5;
  g_autofree float *z1 = g_new (float, n * d);
  g_autofree float *z2 = g_new (float, n * d);
  g_autofree float *g1 = g_new (float, n * d);
  g_autofree float *g2 = g_new (float, n * d);
  /* some dimensions below the target std, some above: every branch of the variance hinge */
  for (int i = 0; i < n; i++)
    for (int j = 0; j < d; j++)
      {
        double s = j < 2 ? 0.4 : 1.6;
        z1[i * d + j] = (float) (s * fw_rng_normal (&rng) + 0.3 * j);
        z2[i * d + j] = (float) (z1[i * d + j] + 0.3 * fw_rng_normal (&rng));
      }
  FwVicregParams p;
  fw_vicreg_params_init (&p);
  p.nu = 2.0;   /* make the covariance term count */
  FwVicregTerms terms;
  fw_vicreg_loss (z1, z2, n, d, &p, g1, g2, &terms);
  g_assert_cmpfloat (terms.var, >, 0.0);
  g_assert_cmpfloat (terms.cov, >, 0.0);
  g_assert_cmpfloat_with_epsilon (terms.loss,
                                  p.lambda * terms.inv + p.mu * terms.var + p.nu * terms.cov,
                                  1e-9);
  const double h = 1e-3;
  double worst = 0;
  for (int v = 0; v < 2; v++)
    for (int i = 0; i < n * d; i++)
      {
        float *z = v == 0 ? z1 : z2;
        float keep = z[i];
        z[i] = keep + (float) h;
        double lp = fw_vicreg_loss (z1, z2, n, d, &p, NULL, NULL, NULL);
        z[i] = keep - (float) h;
        double lm = fw_vicreg_loss (z1, z2, n, d, &p, NULL, NULL, NULL);
        z[i] = keep;
        double num = (lp - lm) / (2 * h);
        double ana = (v == 0 ? g1 : g2)[i];
        worst = MAX (worst, fabs (num - ana) / (fabs (num) + 1e-2));
      }
  g_test_message ("VICReg worst relative gradient error %.3g", worst);
  g_assert_cmpfloat (worst, <, 1e-2);
  /* the variance term's own gradient as well */
  g_autofree float *gv = g_new (float, n * d);
  fw_vicreg_variance (z1, n, d, 1.0, 1e-4, gv);
  worst = 0;
  for (int i = 0; i < n * d; i++)
    {
      float keep = z1[i];
      z1[i] = keep + (float) h;
      double lp = fw_vicreg_variance (z1, n, d, 1.0, 1e-4, NULL);
      z1[i] = keep - (float) h;
      double lm = fw_vicreg_variance (z1, n, d, 1.0, 1e-4, NULL);
      z1[i] = keep;
      worst = MAX (worst, fabs ((lp - lm) / (2 * h) - gv[i]) / (fabs (gv[i]) + 1e-2));
    }
  g_assert_cmpfloat (worst, <, 1e-2);
}

static void
test_dino_loss (void)
{
  FwRng rng;
  fw_rng_init (&rng, 6);
  const int n = 4, k = 7;
  g_autofree float *s = g_new (float, 2 * n * k);
  g_autofree float *t = g_new (float, 2 * n * k);
  g_autofree float *g = g_new (float, 2 * n * k);
  float center[7];
  fw_test_fill_uniform (s, 2 * n * k, -1, 1, &rng);
  fw_test_fill_uniform (t, 2 * n * k, -1, 1, &rng);
  fw_test_fill_uniform (center, k, -0.2f, 0.2f, &rng);
  double loss = fw_dino_loss (s, t, n, k, center, 0.1, 0.04, g);
  /* the loss by its definition: cross-entropy of the other view's sharpened centred teacher */
  double ref = 0;
  for (int r = 0; r < 2 * n; r++)
    {
      const float *tr = t + ((r + n) % (2 * n)) * k;
      double zt = 0, zs = 0;
      for (int j = 0; j < k; j++)
        {
          zt += exp ((tr[j] - center[j]) / 0.04);
          zs += exp (s[r * k + j] / 0.1);
        }
      for (int j = 0; j < k; j++)
        ref -= exp ((tr[j] - center[j]) / 0.04) / zt * log (exp (s[r * k + j] / 0.1) / zs);
    }
  ref /= 2 * n;
  g_assert_cmpfloat_with_epsilon (loss, ref, 1e-6 * fabs (ref) + 1e-9);
  const double h = 1e-3;
  for (int i = 0; i < 2 * n * k; i++)
    {
      float keep = s[i];
      s[i] = keep + (float) h;
      double lp = fw_dino_loss (s, t, n, k, center, 0.1, 0.04, NULL);
      s[i] = keep - (float) h;
      double lm = fw_dino_loss (s, t, n, k, center, 0.1, 0.04, NULL);
      s[i] = keep;
      g_assert_cmpfloat_with_epsilon ((lp - lm) / (2 * h), g[i], 2e-3);
    }
  /* centring: c <- m c + (1 - m) mean(t) */
  float c2[7];
  memcpy (c2, center, sizeof c2);
  fw_dino_center_update (c2, t, 2 * n, k, 0.9);
  for (int j = 0; j < k; j++)
    {
      double mean = 0;
      for (int r = 0; r < 2 * n; r++)
        mean += t[r * k + j];
      mean /= 2 * n;
      g_assert_cmpfloat_with_epsilon (c2[j], 0.9 * center[j] + 0.1 * mean, 1e-6);
    }
}

static void
test_ema_exact (void)
{
  g_autoptr (GError) error = NULL;
  FwShape s = { 1, 6, 6 };
  g_autoptr (FwModel) st = fw_weak_model_new ("conv:3:3:1:1,bn,relu,flatten,dense:4", s, 1, 0,
                                              1, &error);
  g_assert_no_error (error);
  g_autoptr (FwModel) te = fw_weak_model_new ("conv:3:3:1:1,bn,relu,flatten,dense:4", s, 2, 0,
                                              1, &error);
  FwRng rng;
  fw_rng_init (&rng, 1);
  fw_test_fill_uniform (te->state, te->n_state, 0, 1, &rng);
  g_autofree float *t0 = g_memdup2 (te->params, sizeof (float) * te->n_params);
  g_autofree float *s0 = g_memdup2 (te->state, sizeof (float) * te->n_state);
  const double m = 0.9;
  fw_ema_update (te, st, m);
  /* exactly m t + (1 - m) s in float, every parameter and every state value */
  for (gsize i = 0; i < te->n_params; i++)
    g_assert_cmpfloat (te->params[i], ==, 0.9f * t0[i] + (float) (1.0 - m) * st->params[i]);
  for (gsize i = 0; i < te->n_state; i++)
    g_assert_cmpfloat (te->state[i], ==, 0.9f * s0[i] + (float) (1.0 - m) * st->state[i]);
  /* k updates towards a fixed student: t_k = s + m^k (t_0 - s) */
  for (int it = 1; it < 20; it++)
    fw_ema_update (te, st, m);
  double mk = pow (m, 20);
  for (gsize i = 0; i < te->n_params; i++)
    g_assert_cmpfloat_with_epsilon (te->params[i], st->params[i] + mk * (t0[i] - st->params[i]),
                                    1e-5);
}

static void
test_kmeans (void)
{
  FwRng rng;
  fw_rng_init (&rng, 8);
  const int n = 300, d = 3, k = 4;
  g_autofree float *x = g_new (float, n * d);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < d; j++)
      x[i * d + j] = (float) (fw_rng_normal (&rng) * 0.3 + ((i % k) == j ? 5 : 0));
  g_autofree float *c = g_new (float, k * d);
  g_autofree gint32 *a = g_new (gint32, n);
  double inertia = fw_kmeans (x, n, d, k, 30, 1, c, a);
  double check = 0;
  for (int i = 0; i < n; i++)
    {
      /* assigned to the nearest centre (brute force) */
      int best = 0;
      double bd = INFINITY;
      for (int q = 0; q < k; q++)
        {
          double dd = 0;
          for (int j = 0; j < d; j++)
            dd += (x[i * d + j] - c[q * d + j]) * (x[i * d + j] - c[q * d + j]);
          if (dd < bd)
            bd = dd, best = q;
        }
      g_assert_cmpint (a[i], ==, best);
      check += bd;
      /* the four well-separated blobs are recovered: same blob, same cluster */
      if (i >= k)
        g_assert_cmpint (a[i], ==, a[i % k]);
    }
  g_assert_cmpfloat_with_epsilon (inertia, check, 1e-6 * check);
}

/* ---- calibration ---- */

static void
test_ece (void)
{
  FwRng rng;
  fw_rng_init (&rng, 12);
  const int n = 300000;
  g_autofree float *conf = g_new (float, n);
  g_autofree guint8 *ok = g_new (guint8, n);
  g_autofree guint8 *ok2 = g_new (guint8, n);
  for (int i = 0; i < n; i++)
    {
      double c = fw_rng_uniform (&rng);
      conf[i] = (float) c;
      ok[i] = fw_rng_uniform (&rng) < c;          /* calibrated: P(correct | c) = c */
      ok2[i] = fw_rng_uniform (&rng) < c * c;     /* overconfident: P(correct | c) = c^2 */
    }
  g_autoptr (FwReliability) r = fw_reliability_from_conf (conf, ok, n, FW_CALIB_BINS);
  g_test_message ("calibrated ECE %.4f", r->ece);
  g_assert_cmpfloat (r->ece, <, 0.01);
  /* with P(correct | c) = c^2 and c uniform every bin has acc < conf, so
   * ECE = int_0^1 (c - c^2) dc = 1/6 */
  g_autoptr (FwReliability) r2 = fw_reliability_from_conf (conf, ok2, n, FW_CALIB_BINS);
  g_test_message ("miscalibrated ECE %.4f (closed form 1/6)", r2->ece);
  g_assert_cmpfloat_with_epsilon (r2->ece, 1.0 / 6.0, 0.01);
  /* the bins: counts add up, each mean confidence lies inside its bin */
  gint64 tot = 0;
  for (int b = 0; b < FW_CALIB_BINS; b++)
    {
      tot += r2->count[b];
      g_assert_cmpfloat (r2->conf[b], >=, (double) b / FW_CALIB_BINS - 1e-9);
      g_assert_cmpfloat (r2->conf[b], <=, (double) (b + 1) / FW_CALIB_BINS + 1e-9);
    }
  g_assert_cmpint (tot, ==, n);
  /* a hand-made case: two bins, ECE = 0.5 |0.5 - 0.9| + 0.5 |1 - 0.3| */
  float cc[4] = { 0.9f, 0.9f, 0.3f, 0.3f };
  guint8 oo[4] = { 1, 0, 1, 1 };
  g_autoptr (FwReliability) r3 = fw_reliability_from_conf (cc, oo, 4, 15);
  g_assert_cmpfloat_with_epsilon (r3->ece, 0.5 * 0.4 + 0.5 * 0.7, 1e-6);
}

static void
test_temperature (void)
{
  FwRng rng;
  fw_rng_init (&rng, 13);
  const int n = 4000, k = 5;
  const double t_true = 2.5;
  g_autofree float *z = g_new (float, n * k);
  g_autofree gint32 *y = g_new (gint32, n);
  /* labels drawn from softmax(z / t_true): the best temperature is near t_true */
  for (int i = 0; i < n; i++)
    {
      for (int j = 0; j < k; j++)
        z[i * k + j] = (float) (4.0 * fw_rng_normal (&rng));
      double p[5], s = 0;
      for (int j = 0; j < k; j++)
        s += p[j] = exp (z[i * k + j] / t_true);
      double u = fw_rng_uniform (&rng) * s;
      y[i] = k - 1;
      for (int j = 0; j < k; j++)
        if ((u -= p[j]) < 0)
          {
            y[i] = j;
            break;
          }
    }
  g_autoptr (GError) error = NULL;
  double t;
  g_assert_true (fw_calib_fit_temperature (z, n, k, y, &t, &error));
  g_test_message ("fitted T = %.3f (labels drawn at %.2f)", t, t_true);
  g_assert_cmpfloat (fabs (t - t_true), <, 0.25);
  /* the optimum: no grid temperature has a lower NLL */
  double best = fw_calib_nll (z, n, k, y, t);
  for (double g = 0.2; g < 10; g *= 1.05)
    g_assert_cmpfloat (best, <=, fw_calib_nll (z, n, k, y, g) + 1e-9);
  /* the argmax never changes, so neither does the accuracy */
  g_autofree float *p = g_new (float, n * k);
  fw_softmax (z, n, k, (float) t, p);
  for (int i = 0; i < n; i++)
    g_assert_cmpint (argmax (p + i * k, k), ==, argmax (z + i * k, k));
  g_autoptr (FwReliability) before = fw_reliability_from_logits (z, n, k, y, 1.0, 15);
  g_autoptr (FwReliability) after = fw_reliability_from_logits (z, n, k, y, t, 15);
  g_assert_cmpfloat (before->accuracy, ==, after->accuracy);
  g_assert_cmpfloat (after->ece, <, before->ece);
  g_assert_cmpfloat (after->nll, <, before->nll);
  /* errors: nothing to fit on, non-finite logits */
  g_assert_false (fw_calib_fit_temperature (z, 0, k, y, &t, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_clear_error (&error);
  z[3] = NAN;
  g_assert_false (fw_calib_fit_temperature (z, n, k, y, &t, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_NUMERIC);
}

static void
test_prior_em (void)
{
  /* two classes, x ~ N(-1, 1) or N(+1, 1); a model trained at priors 50/50 has the exact
   * posterior p(1|x) = sigmoid(2x). On a set drawn with priors 20/80 EM must recover them. */
  FwRng rng;
  fw_rng_init (&rng, 14);
  const int n = 20000;
  g_autofree float *p = g_new (float, n * 2);
  int ones = 0;
  for (int i = 0; i < n; i++)
    {
      int c = fw_rng_uniform (&rng) < 0.8;
      ones += c;
      double x = (c ? 1.0 : -1.0) + fw_rng_normal (&rng);
      double p1 = 1.0 / (1.0 + exp (-2.0 * x));
      p[2 * i] = (float) (1 - p1);
      p[2 * i + 1] = (float) p1;
    }
  double train[2] = { 0.5, 0.5 }, est[2], pred[2];
  fw_calib_predicted_proportions (p, n, 2, pred);
  int it = fw_calib_prior_em (p, n, 2, train, 500, 1e-8, est, NULL);
  g_test_message ("true %.3f, predicted %.3f, EM %.3f after %d iterations",
                  (double) ones / n, pred[1], est[1], it);
  g_assert_cmpfloat (fabs (est[1] - (double) ones / n), <, 0.02);
  /* plain argmax counting is biased towards 50/50 here; EM does better */
  g_assert_cmpfloat (fabs (est[1] - (double) ones / n), <, fabs (pred[1] - (double) ones / n));
  g_assert_cmpfloat_with_epsilon (est[0] + est[1], 1.0, 1e-9);
}

/* ---- active learning ---- */

static double
naive_score (FwQueryStrategy s, const float *p, int k)
{
  /* sorted copy, descending */
  float q[16];
  memcpy (q, p, sizeof (float) * k);
  for (int a = 0; a < k; a++)
    for (int b = a + 1; b < k; b++)
      if (q[b] > q[a])
        {
          float t = q[a];
          q[a] = q[b];
          q[b] = t;
        }
  if (s == FW_QUERY_LEAST_CONFIDENCE)
    return 1.0 - q[0];
  if (s == FW_QUERY_MARGIN)
    return q[1] - q[0];
  double h = 0;
  for (int j = 0; j < k; j++)
    h -= p[j] > 0 ? p[j] * log (p[j]) : 0;
  return h;
}

static void
test_query_brute_force (void)
{
  FwRng rng;
  fw_rng_init (&rng, 21);
  const int n = 200, k = 6, b = 15, d = 3, nc = 4;
  g_autofree float *p = g_new (float, n * k);
  random_probs (p, n, k, 1.5, &rng);
  /* exact ties, broken by the lower index */
  memcpy (p + 50 * k, p + 10 * k, sizeof (float) * k);
  g_autofree gint32 *picks = g_new (gint32, b);
  for (int s = FW_QUERY_LEAST_CONFIDENCE; s <= FW_QUERY_ENTROPY; s++)
    {
      int np = fw_query_select (s, p, n, k, NULL, 0, NULL, 0, b, &rng, picks);
      g_assert_cmpint (np, ==, b);
      g_autofree guint8 *used = g_new0 (guint8, n);
      for (int t = 0; t < b; t++)
        {
          int best = -1;
          for (int i = 0; i < n; i++)
            if (!used[i] && (best < 0 || naive_score (s, p + i * k, k)
                                            > naive_score (s, p + best * k, k) + 1e-12))
              best = i;
          used[best] = 1;
          g_assert_cmpint (picks[t], ==, best);
        }
    }
  /* core-set: brute force recomputes every candidate's distance to all centres each step */
  g_autofree float *e = g_new (float, n * d);
  g_autofree float *cen = g_new (float, (nc + b) * d);
  fw_test_fill_uniform (e, n * d, -1, 1, &rng);
  fw_test_fill_uniform (cen, nc * d, -1, 1, &rng);
  int np = fw_query_select (FW_QUERY_CORESET, NULL, n, 0, e, d, cen, nc, b, &rng, picks);
  g_assert_cmpint (np, ==, b);
  int ncen = nc;
  for (int t = 0; t < b; t++)
    {
      int best = -1;
      double bd = -1;
      for (int i = 0; i < n; i++)
        {
          double md = INFINITY;
          for (int c = 0; c < ncen; c++)
            {
              double dd = 0;
              for (int j = 0; j < d; j++)
                dd += (e[i * d + j] - cen[c * d + j]) * (e[i * d + j] - cen[c * d + j]);
              md = MIN (md, dd);
            }
          if (md > bd)
            bd = md, best = i;
        }
      g_assert_cmpint (picks[t], ==, best);
      memcpy (cen + ncen * d, e + best * d, sizeof (float) * d);
      ncen++;
    }
  /* random: distinct, reproducible, every candidate reachable */
  g_autofree int *hits = g_new0 (int, n);
  for (int rep = 0; rep < 400; rep++)
    {
      FwRng r1, r2;
      fw_rng_init (&r1, rep);
      fw_rng_init (&r2, rep);
      g_autofree gint32 *q = g_new (gint32, b);
      fw_query_select (FW_QUERY_RANDOM, NULL, n, k, NULL, 0, NULL, 0, b, &r1, picks);
      fw_query_select (FW_QUERY_RANDOM, NULL, n, k, NULL, 0, NULL, 0, b, &r2, q);
      g_assert_cmpmem (picks, b * sizeof (gint32), q, b * sizeof (gint32));
      for (int t = 0; t < b; t++)
        {
          hits[picks[t]]++;
          for (int u = 0; u < t; u++)
            g_assert_cmpint (picks[u], !=, picks[t]);
        }
    }
  for (int i = 0; i < n; i++)
    g_assert_cmpint (hits[i], >, 0);   /* expected 30 each */
  /* batch larger than the pool */
  g_assert_cmpint (fw_query_select (FW_QUERY_MARGIN, p, 3, k, NULL, 0, NULL, 0, 10, &rng,
                                    picks), ==, 3);
}

typedef struct {
  int points;
  int last_labels[FW_QUERY_N];
  GHashTable *seen[FW_QUERY_N];
} ActiveLog;

static void
active_point (gpointer user, const FwActivePoint *p)
{
  ActiveLog *log = user;
  log->points++;
  g_assert_cmpint (p->index, ==, log->points);
  g_assert_cmpfloat (p->test_acc, >=, 0.0);
  g_assert_cmpfloat (p->test_acc, <=, 1.0);
  if (p->round > 0)
    g_assert_cmpint (p->n_labels, ==, log->last_labels[p->strategy] + 5);
  log->last_labels[p->strategy] = p->n_labels;
  for (int i = 0; i < p->n_queried; i++)
    {
      /* never queries a sample twice */
      g_assert_false (g_hash_table_contains (log->seen[p->strategy],
                                             GINT_TO_POINTER (p->queried[i] + 1)));
      g_hash_table_add (log->seen[p->strategy], GINT_TO_POINTER (p->queried[i] + 1));
    }
}

static void
test_active_run (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) tr = fw_dataset_load ("sim:300:20", 1, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwDataset) te = fw_dataset_load_test ("sim:300:20", 1, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwActiveConfig) c = fw_active_config_new (tr, te);
  c->start_per_class = 1;
  c->batch = 5;
  c->rounds = 2;
  c->pool = 100;
  c->cfg.epochs = 3;
  ActiveLog log = { 0 };
  for (int s = 0; s < FW_QUERY_N; s++)
    log.seen[s] = g_hash_table_new (NULL, NULL);
  g_assert_true (fw_active_run (c, active_point, &log, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (log.points, ==, FW_QUERY_N * 3);
  for (int s = 0; s < FW_QUERY_N; s++)
    {
      g_assert_cmpint (log.last_labels[s], ==, tr->n_classes + 10);
      g_hash_table_unref (log.seen[s]);
    }
  /* a person's labels are used as given: a bad one is an error naming the sample */
  gint32 lab[2] = { 0, 1 }, labels[2] = { 0, 99 }, cand[3] = { 2, 3, 4 };
  FwActivePoint p = { 0 };
  g_assert_false (fw_active_round (c, FW_QUERY_MARGIN, 1, lab, labels, 2, cand, 3, 2, &p, NULL,
                                   &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
}

/* ---- tiny end-to-end runs ---- */

static void
test_methods_run (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) tr = fw_dataset_load ("sim:400:20", 1, NULL, &error);
  g_autoptr (FwDataset) te = fw_dataset_load_test ("sim:400:20", 1, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwWeakConfig) c = fw_weak_config_new (tr, te);
  c->per_class = 3;
  c->unlabelled = 150;
  c->pre.epochs = 1;
  c->fine.epochs = 2;
  c->probe_epochs = 2;
  c->hidden = 32;
  c->dim = 8;
  c->proj_dim = 8;
  c->clusters = 5;
  c->rounds = 2;
  c->threshold = 0.0;   /* every remaining sample qualifies: round 1 takes the whole pool */
  for (int m = 0; m < FW_WEAK_N_METHODS; m++)
    for (int conv = 0; conv < 2; conv++)
      {
        if (conv && m != FW_WEAK_AE)
          continue;
        c->conv = conv;
        g_autoptr (FwWeakResult) r = fw_weak_run (c, m, 0, NULL, NULL, &error);
        g_assert_no_error (error);
        g_assert_nonnull (r);
        g_assert_cmpfloat (r->fine_acc, >=, 0.0);
        g_assert_cmpfloat (r->fine_acc, <=, 1.0);
        if (m == FW_WEAK_SUPERVISED || m == FW_WEAK_SELFTRAIN)
          g_assert_true (isnan (r->probe_acc));
        else
          {
            g_assert_cmpfloat (r->probe_acc, >=, 0.0);
            g_assert_cmpint (r->pretext_loss->len, ==, 1);
            g_assert_cmpint (r->n_dims, ==, 8);
          }
        if (m == FW_WEAK_SELFTRAIN)
          {
            g_assert_cmpint (r->rounds->len, ==, 3);
            FwSelftrainRound *r0 = &g_array_index (r->rounds, FwSelftrainRound, 0);
            FwSelftrainRound *r1 = &g_array_index (r->rounds, FwSelftrainRound, 1);
            g_assert_cmpint (r0->n_train, ==, 3 * tr->n_classes);
            g_assert_cmpint (r0->added, ==, 150);
            g_assert_cmpint (r0->wrong, <=, r0->added);
            g_assert_cmpint (r1->n_train, ==, 3 * tr->n_classes + 150);
            g_assert_cmpint (r1->added, ==, 0);
            g_assert_cmpint (r1->total_wrong, ==, r0->wrong);
          }
      }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Weak/rotation_labels_by_construction", test_rotation_labels);
  g_test_add_func ("/Weak/masked_patch", test_mask_batch);
  g_test_add_func ("/Weak/decoder_layers_gradcheck", test_decoder_layers);
  g_test_add_func ("/Weak/encoder_transfer", test_copy_prefix);
  g_test_add_func ("/Weak/pseudo_labels_only_above_threshold", test_pseudo_threshold);
  g_test_add_func ("/Weak/vicreg_variance_zero_above_target", test_vicreg_variance_zero);
  g_test_add_func ("/Weak/vicreg_gradient_finite_differences", test_vicreg_gradient);
  g_test_add_func ("/Weak/dino_loss_and_centring", test_dino_loss);
  g_test_add_func ("/Weak/ema_update_exact", test_ema_exact);
  g_test_add_func ("/Weak/kmeans_nearest_centre", test_kmeans);
  g_test_add_func ("/Calib/ece_closed_forms", test_ece);
  g_test_add_func ("/Calib/temperature_keeps_argmax", test_temperature);
  g_test_add_func ("/Calib/prior_em_recovers_shift", test_prior_em);
  g_test_add_func ("/Active/queries_match_brute_force", test_query_brute_force);
  g_test_add_func ("/Active/run_grows_the_labelled_set", test_active_run);
  g_test_add_func ("/Weak/every_method_runs", test_methods_run);
  return g_test_run ();
}
