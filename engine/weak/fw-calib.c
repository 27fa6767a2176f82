/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-calib.c: reliability bins, ECE, temperature scaling, EM class priors (see fw-calib.h). */
#include "fw-calib.h"

#include <math.h>

#include "fw-error.h"

void
fw_reliability_free (FwReliability *r)
{
  if (r == NULL)
    return;
  g_free (r->count);
  g_free (r->conf);
  g_free (r->acc);
  g_free (r);
}

static int
conf_bin (double c, int bins)
{
  /* bin b holds (b/B, (b+1)/B]: ceil(c B) - 1, clamped */
  int b = (int) ceil (c * bins) - 1;
  return CLAMP (b, 0, bins - 1);
}

FwReliability *
fw_reliability_from_conf (const float *conf, const guint8 *correct, int n, int bins)
{
  g_return_val_if_fail (bins >= 1, NULL);
  FwReliability *r = g_new0 (FwReliability, 1);
  r->bins = bins;
  r->n = n;
  r->count = g_new0 (gint64, bins);
  r->conf = g_new0 (double, bins);
  r->acc = g_new0 (double, bins);
  r->nll = NAN;
  double sc = 0.0, sa = 0.0;
  for (int i = 0; i < n; i++)
    {
      int b = conf_bin (conf[i], bins);
      r->count[b]++;
      r->conf[b] += conf[i];
      r->acc[b] += correct[i] ? 1.0 : 0.0;
      sc += conf[i];
      sa += correct[i] ? 1.0 : 0.0;
    }
  r->ece = 0.0;
  r->mce = 0.0;
  for (int b = 0; b < bins; b++)
    {
      if (r->count[b] == 0)
        {
          r->conf[b] = NAN;
          r->acc[b] = NAN;
          continue;
        }
      r->conf[b] /= (double) r->count[b];
      r->acc[b] /= (double) r->count[b];
      double gap = fabs (r->acc[b] - r->conf[b]);
      r->ece += (double) r->count[b] / n * gap;
      r->mce = MAX (r->mce, gap);
    }
  r->accuracy = n > 0 ? sa / n : NAN;
  r->mean_conf = n > 0 ? sc / n : NAN;
  return r;
}

/* log sum_j exp(z_j / T) and the argmax, for one row */
static double
row_lse (const float *z, int k, double inv_t, int *argmax)
{
  int best = 0;
  for (int j = 1; j < k; j++)
    if (z[j] > z[best])
      best = j;
  double mx = z[best] * inv_t, s = 0.0;
  for (int j = 0; j < k; j++)
    s += exp (z[j] * inv_t - mx);
  if (argmax != NULL)
    *argmax = best;
  return mx + log (s);
}

FwReliability *
fw_reliability_from_logits (const float *logits, int n, int k, const gint32 *labels,
                            double temperature, int bins)
{
  g_autofree float *conf = g_new (float, MAX (n, 1));
  g_autofree guint8 *correct = g_new (guint8, MAX (n, 1));
  double inv_t = 1.0 / temperature, nll = 0.0;
  for (int i = 0; i < n; i++)
    {
      const float *z = logits + (gsize) i * k;
      int best;
      double lse = row_lse (z, k, inv_t, &best);
      conf[i] = (float) exp (z[best] * inv_t - lse);
      correct[i] = best == labels[i];
      nll += lse - z[labels[i]] * inv_t;
    }
  FwReliability *r = fw_reliability_from_conf (conf, correct, n, bins);
  r->nll = n > 0 ? nll / n : NAN;
  return r;
}

double
fw_calib_nll (const float *logits, int n, int k, const gint32 *labels, double temperature)
{
  double inv_t = 1.0 / temperature, s = 0.0;
  for (int i = 0; i < n; i++)
    {
      const float *z = logits + (gsize) i * k;
      s += row_lse (z, k, inv_t, NULL) - z[labels[i]] * inv_t;
    }
  return n > 0 ? s / n : NAN;
}

/* NLL'(beta) and NLL''(beta) */
static void
nll_derivs (const float *logits, int n, int k, const gint32 *labels, double beta, double *d1,
            double *d2)
{
  double s1 = 0.0, s2 = 0.0;
  for (int i = 0; i < n; i++)
    {
      const float *z = logits + (gsize) i * k;
      double lse = row_lse (z, k, beta, NULL), ez = 0.0, ez2 = 0.0;
      for (int j = 0; j < k; j++)
        {
          double p = exp (z[j] * beta - lse);
          ez += p * z[j];
          ez2 += p * (double) z[j] * z[j];
        }
      s1 += ez - z[labels[i]];
      s2 += ez2 - ez * ez;
    }
  *d1 = s1 / n;
  *d2 = s2 / n;
}

gboolean
fw_calib_fit_temperature (const float *logits, int n, int k, const gint32 *labels,
                          double *temperature, GError **error)
{
  if (n < 1 || k < 2)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "temperature scaling needs validation samples (got %d) of at least 2 "
                   "classes (got %d)", n, k);
      return FALSE;
    }
  for (gsize i = 0; i < (gsize) n * k; i++)
    if (!isfinite (logits[i]))
      {
        g_set_error (error, FW_ERROR, FW_ERROR_NUMERIC,
                     "temperature scaling: logit %" G_GSIZE_FORMAT " of sample %" G_GSIZE_FORMAT
                     " is not finite; the model diverged, retrain it", i % k, i / k);
        return FALSE;
      }
  /* beta = 1/T in [lo, hi] = [1e-2, 1e2]; NLL' is increasing in beta */
  double lo = 1e-2, hi = 1e2, d1, d2;
  nll_derivs (logits, n, k, labels, lo, &d1, &d2);
  if (d1 >= 0.0)
    {
      *temperature = 1.0 / lo;
      return TRUE;
    }
  nll_derivs (logits, n, k, labels, hi, &d1, &d2);
  if (d1 <= 0.0)
    {
      *temperature = 1.0 / hi;
      return TRUE;
    }
  double beta = 1.0;
  for (int it = 0; it < 100; it++)
    {
      nll_derivs (logits, n, k, labels, beta, &d1, &d2);
      if (d1 > 0.0)
        hi = beta;
      else
        lo = beta;
      double next = d2 > 0.0 ? beta - d1 / d2 : 0.5 * (lo + hi);
      if (!(next > lo && next < hi))
        next = 0.5 * (lo + hi);
      if (fabs (next - beta) < 1e-10 * MAX (1.0, beta) || hi - lo < 1e-12)
        {
          beta = next;
          break;
        }
      beta = next;
    }
  *temperature = 1.0 / beta;
  return TRUE;
}

/* out[k] <- p'(y|x): p(y|x) reweighted by prior / train_prior and renormalised */
static void
adjust_row (const float *p, int k, const double *prior, const double *train_prior, double *out)
{
  double s = 0.0;
  for (int j = 0; j < k; j++)
    {
      out[j] = prior[j] / train_prior[j] * p[j];
      s += out[j];
    }
  for (int j = 0; j < k; j++)
    out[j] = s > 0.0 ? out[j] / s : 1.0 / k;
}

int
fw_calib_prior_em (const float *probs, int n, int k, const double *train_prior, int max_iter,
                   double tol, double *prior_out, float *adjusted)
{
  g_autofree double *prior = g_new (double, k);
  g_autofree double *next = g_new (double, k);
  g_autofree double *row = g_new (double, k);
  for (int j = 0; j < k; j++)
    prior[j] = train_prior[j];
  int it = 0;
  for (it = 1; it <= max_iter; it++)
    {
      for (int j = 0; j < k; j++)
        next[j] = 0.0;
      for (int i = 0; i < n; i++)
        {
          adjust_row (probs + (gsize) i * k, k, prior, train_prior, row);
          for (int j = 0; j < k; j++)
            next[j] += row[j];
        }
      double change = 0.0;
      for (int j = 0; j < k; j++)
        {
          next[j] /= MAX (n, 1);
          change = MAX (change, fabs (next[j] - prior[j]));
          prior[j] = next[j];
        }
      if (change < tol)
        break;
    }
  it = MIN (it, max_iter);
  for (int j = 0; j < k; j++)
    prior_out[j] = prior[j];
  if (adjusted != NULL)
    for (int i = 0; i < n; i++)
      {
        adjust_row (probs + (gsize) i * k, k, prior, train_prior, row);
        for (int j = 0; j < k; j++)
          adjusted[(gsize) i * k + j] = (float) row[j];
      }
  return it;
}

void
fw_calib_predicted_proportions (const float *probs, int n, int k, double *out)
{
  for (int j = 0; j < k; j++)
    out[j] = 0.0;
  for (int i = 0; i < n; i++)
    {
      const float *p = probs + (gsize) i * k;
      int best = 0;
      for (int j = 1; j < k; j++)
        if (p[j] > p[best])
          best = j;
      out[best] += 1.0;
    }
  for (int j = 0; j < k; j++)
    out[j] /= MAX (n, 1);
}
