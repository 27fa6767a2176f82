/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-layer-bn.c: batch normalisation "bn" over channels (per feature for (d, 1, 1) inputs),
 * with PyTorch's conventions: momentum 0.1, eps 1e-5, running variance updated with the
 * unbiased batch variance, normalisation with the biased one.
 *
 * Parameters (trainable): gamma [C], beta [C]. State: running_mean [C], running_var [C].
 * iarg[0] = C, iarg[1] = h w, iarg[2] = 1 when the last forward ran in train mode.
 * Scratch: fixed [2 C] = mean and 1/sqrt(var + eps) used by the last forward; per sample
 * [C h w] = x_hat, the normalised input.
 *
 * Over the M = n h w values of channel c:
 *   train: mu = mean x, var = mean (x - mu)^2;  eval: mu, var = running statistics
 *   x_hat = (x - mu) / sqrt(var + eps),   y = gamma x_hat + beta
 * Backward (train; the statistics depend on x):
 *   G_beta = sum dy,  G_gamma = sum dy x_hat
 *   dx = gamma / sqrt(var + eps) / M * (M dy - G_beta - x_hat G_gamma)
 * Backward (eval; statistics are constants): dx = gamma / sqrt(var + eps) dy. */
#include "fw-layer.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"

/* The hot loops here (im2col, col2im, bias, window maxima) are written plainly; GCC's -O2 cost
 * model leaves most of them scalar, -O3 vectorises and if-converts them (measured: maxpool
 * forward 3x faster, conv layers about 10-20%). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("O3")
#endif

#define BN_MOMENTUM 0.1
#define BN_EPS 1e-5

/* More arguments than the kind takes is a mistake in the spec, not something to ignore. */
static gboolean
check_n_args (const FwLayer *l, int n_args, int max, GError **error)
{
  if (n_args <= max)
    return TRUE;
  g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "layer %d (%s): too many arguments (%d, at "
               "most %d); usage: %s", l->index + 1, l->klass->name, n_args, max, l->klass->help);
  return FALSE;
}

static gboolean
bn_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  if (!check_n_args (l, n_args, 0, error))
    return FALSE;
  l->out = l->in;
  l->iarg[0] = l->in.c;
  l->iarg[1] = l->in.h * l->in.w;
  l->n_w = 2 * (gsize) l->in.c;
  l->n_st = 2 * (gsize) l->in.c;
  l->scratch_fixed = 2 * (gsize) l->in.c;
  l->scratch_per_sample = fw_shape_size (l->in);
  return TRUE;
}

static void
bn_init (FwLayer *l, FwRng *rng)
{
  int C = l->iarg[0];
  for (int c = 0; c < C; c++)
    {
      l->w[c] = 1.0f;          /* gamma */
      l->w[C + c] = 0.0f;      /* beta */
      l->st[c] = 0.0f;         /* running_mean */
      l->st[C + c] = 1.0f;     /* running_var */
    }
}

static void
bn_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  int C = l->iarg[0], hw = l->iarg[1];
  const float *gamma = l->w, *beta = l->w + C;
  float *rmean = l->st, *rvar = l->st + C;
  float *mean = l->scratch, *invstd = l->scratch + C;
  float *xhat = l->scratch + l->scratch_fixed;
  gsize csz = (gsize) C * hw;
  double m = (double) n * hw;
  l->iarg[2] = train ? 1 : 0;

  for (int c = 0; c < C; c++)
    {
      double mu, var;
      if (train)
        {
          double s = 0;
          for (int j = 0; j < n; j++)
            {
              const float *xc = x + j * csz + (gsize) c * hw;
              for (int i = 0; i < hw; i++)
                s += xc[i];
            }
          mu = s / m;
          double v = 0;
          for (int j = 0; j < n; j++)
            {
              const float *xc = x + j * csz + (gsize) c * hw;
              for (int i = 0; i < hw; i++)
                v += (xc[i] - mu) * (xc[i] - mu);
            }
          var = v / m;
          /* running = (1 - momentum) running + momentum batch (unbiased variance) */
          double unbiased = m > 1 ? v / (m - 1) : var;
          rmean[c] = (float) ((1.0 - BN_MOMENTUM) * rmean[c] + BN_MOMENTUM * mu);
          rvar[c] = (float) ((1.0 - BN_MOMENTUM) * rvar[c] + BN_MOMENTUM * unbiased);
        }
      else
        {
          mu = rmean[c];
          var = rvar[c];
        }
      float fmu = (float) mu, is = (float) (1.0 / sqrt (var + BN_EPS));
      float g = gamma[c], b = beta[c];
      mean[c] = fmu;
      invstd[c] = is;
      for (int j = 0; j < n; j++)
        {
          gsize off = j * csz + (gsize) c * hw;
          const float *xc = x + off;
          float *hc = xhat + off, *yc = y + off;
          for (int i = 0; i < hw; i++)
            {
              float h = (xc[i] - fmu) * is;
              hc[i] = h;
              yc[i] = g * h + b;
            }
        }
    }
}

static void
bn_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  int C = l->iarg[0], hw = l->iarg[1];
  gboolean train = l->iarg[2] != 0;
  const float *gamma = l->w;
  float *ggamma = l->gw, *gbeta = l->gw + C;
  const float *invstd = l->scratch + C;
  const float *xhat = l->scratch + l->scratch_fixed;
  gsize csz = (gsize) C * hw;
  float m = (float) n * hw;

  for (int c = 0; c < C; c++)
    {
      double sb = 0, sg = 0;
      for (int j = 0; j < n; j++)
        {
          gsize off = j * csz + (gsize) c * hw;
          const float *dyc = dy + off, *hc = xhat + off;
          for (int i = 0; i < hw; i++)
            {
              sb += dyc[i];
              sg += (double) dyc[i] * hc[i];
            }
        }
      gbeta[c] = (float) sb;
      ggamma[c] = (float) sg;
      if (dx == NULL)
        continue;
      float k = gamma[c] * invstd[c];
      float fb = (float) sb / m, fg = (float) sg / m;
      for (int j = 0; j < n; j++)
        {
          gsize off = j * csz + (gsize) c * hw;
          const float *dyc = dy + off, *hc = xhat + off;
          float *dxc = dx + off;
          if (train)
            for (int i = 0; i < hw; i++)
              dxc[i] = k * (dyc[i] - fb - hc[i] * fg);
          else
            for (int i = 0; i < hw; i++)
              dxc[i] = k * dyc[i];
        }
    }
}

static double
bn_flops (const FwLayer *l)
{
  /* one multiply-add per element at inference (folded scale and shift) */
  return 2.0 * (double) fw_shape_size (l->in);
}

static int
bn_tensors (const FwLayer *l, FwTensorInfo *t)
{
  int C = l->iarg[0];
  t[0] = (FwTensorInfo) { "gamma", TRUE, 0, 1, { C } };
  t[1] = (FwTensorInfo) { "beta", TRUE, (gsize) C, 1, { C } };
  t[2] = (FwTensorInfo) { "running_mean", FALSE, 0, 1, { C } };
  t[3] = (FwTensorInfo) { "running_var", FALSE, (gsize) C, 1, { C } };
  return 4;
}

static char *
bn_spec (const FwLayer *l)
{
  return g_strdup ("bn");
}

const FwLayerClass fw_layer_bn = {
  .name = "bn",
  .help = "bn  batch normalisation per channel (momentum 0.1, eps 1e-5)",
  .setup = bn_setup,
  .init = bn_init,
  .forward = bn_forward,
  .backward = bn_backward,
  .flops = bn_flops,
  .tensors = bn_tensors,
  .spec = bn_spec,
};
