/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "fw-loss.h"

#include <math.h>

void
fw_softmax (const float *logits, int n, int k, float temperature, float *out)
{
  float inv_t = 1.0f / temperature;
  for (int i = 0; i < n; i++)
    {
      const float *z = logits + (gsize) i * k;
      float *p = out + (gsize) i * k;
      float mx = z[0];
      for (int j = 1; j < k; j++)
        mx = MAX (mx, z[j]);
      double sum = 0;
      for (int j = 0; j < k; j++)
        {
          p[j] = expf ((z[j] - mx) * inv_t);
          sum += p[j];
        }
      float inv = (float) (1.0 / sum);
      for (int j = 0; j < k; j++)
        p[j] *= inv;
    }
}

double
fw_loss_softmax_xent (const float *logits, int n, int k, const gint32 *labels,
                      const float *soft, float label_smoothing, float *grad, float *probs)
{
  double total = 0;
  float off = label_smoothing / k, on = 1.0f - label_smoothing + off;
  float inv_n = 1.0f / n;
  for (int i = 0; i < n; i++)
    {
      const float *z = logits + (gsize) i * k;
      float mx = z[0];
      for (int j = 1; j < k; j++)
        mx = MAX (mx, z[j]);
      double sum = 0;
      for (int j = 0; j < k; j++)
        sum += exp ((double) z[j] - mx);
      double lse = mx + log (sum); /* log sum exp z */
      for (int j = 0; j < k; j++)
        {
          double t = soft != NULL ? soft[(gsize) i * k + j] : (labels[i] == j ? on : off);
          double logp = z[j] - lse;
          if (t != 0.0)
            total -= t * logp;
          float p = (float) exp (logp);
          if (probs != NULL)
            probs[(gsize) i * k + j] = p;
          if (grad != NULL)
            grad[(gsize) i * k + j] = (p - (float) t) * inv_n;
        }
    }
  return total / n;
}

double
fw_loss_mse (const float *y, const float *t, int n, int k, float *grad)
{
  double total = 0;
  gsize m = (gsize) n * k;
  for (gsize i = 0; i < m; i++)
    {
      double d = (double) y[i] - t[i];
      total += d * d;
      if (grad != NULL)
        grad[i] = (float) d / n;
    }
  return total / (2.0 * n);
}
