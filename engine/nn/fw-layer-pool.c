/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-layer-pool.c: pooling layers "maxpool:K[:S]", "avgpool:K[:S]" (K x K windows, stride S,
 * default S = K, no padding) and "gap" (global average pooling, (c, h, w) -> (c, 1, 1)).
 *
 * iarg[0] = k, iarg[1] = stride. Output extent (H - K) / S + 1.
 * maxpool keeps, per output element, the in-sample offset of the winning input (gint32) in
 * scratch; backward routes dy there. Ties go to the first maximum in row-major window order. */
#include "fw-layer.h"

#include <string.h>

#include "fw-error.h"

/* The hot loops here (im2col, col2im, bias, window maxima) are written plainly; GCC's -O2 cost
 * model leaves most of them scalar, -O3 vectorises and if-converts them (measured: maxpool
 * forward 3x faster, conv layers about 10-20%). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("O3")
#endif

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
pool_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int k, s;
  if (!check_n_args (l, n_args, 2, error)
      || !fw_layer_parse_int (l, args, n_args, 0, -1, 1, 1024, &k, error)
      || !fw_layer_parse_int (l, args, n_args, 1, k, 1, 1024, &s, error))
    return FALSE;
  l->iarg[0] = k;
  l->iarg[1] = s;
  /* an output of 0 makes the model report the input as too small */
  int oh = l->in.h < k ? 0 : (l->in.h - k) / s + 1;
  int ow = l->in.w < k ? 0 : (l->in.w - k) / s + 1;
  l->out = (FwShape) { l->in.c, oh, ow };
  return TRUE;
}

static double
pool_flops (const FwLayer *l)
{
  /* one compare or add per window element */
  return (double) fw_shape_size (l->out) * l->iarg[0] * l->iarg[0];
}

static char *
pool_spec (const FwLayer *l)
{
  if (l->iarg[1] == l->iarg[0])
    return g_strdup_printf ("%s:%d", l->klass->name, l->iarg[0]);
  return g_strdup_printf ("%s:%d:%d", l->klass->name, l->iarg[0], l->iarg[1]);
}

/* ---- maxpool ---- */

static gboolean
maxpool_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  if (!pool_setup (l, args, n_args, error))
    return FALSE;
  G_STATIC_ASSERT (sizeof (gint32) == sizeof (float));
  l->scratch_per_sample = fw_shape_size (l->out);
  return TRUE;
}

static void
maxpool_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  int k = l->iarg[0], s = l->iarg[1];
  int H = l->in.h, W = l->in.w, OH = l->out.h, OW = l->out.w;
  int planes = n * l->in.c;
  gint32 *arg = (gint32 *) l->scratch;
  for (int pl = 0; pl < planes; pl++)
    {
      const float *xp = x + (gsize) pl * H * W;
      float *yp = y + (gsize) pl * OH * OW;
      gint32 *ap = arg + (gsize) pl * OH * OW;
      gint32 base = (gint32) ((pl % l->in.c) * H * W); /* offset of this plane in its sample */
      if (k == 2 && s == 2)
        {
          /* the common case, unrolled */
          for (int oh = 0; oh < OH; oh++)
            {
              const float *r0 = xp + (gsize) (2 * oh) * W, *r1 = r0 + W;
              for (int ow = 0; ow < OW; ow++)
                {
                  int c0 = 2 * ow;
                  float m = r0[c0];
                  int at = 2 * oh * W + c0;
                  if (r0[c0 + 1] > m) { m = r0[c0 + 1]; at = 2 * oh * W + c0 + 1; }
                  if (r1[c0] > m) { m = r1[c0]; at = (2 * oh + 1) * W + c0; }
                  if (r1[c0 + 1] > m) { m = r1[c0 + 1]; at = (2 * oh + 1) * W + c0 + 1; }
                  yp[oh * OW + ow] = m;
                  ap[oh * OW + ow] = base + at;
                }
            }
          continue;
        }
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++)
          {
            int at = oh * s * W + ow * s;
            float m = xp[at];
            for (int ki = 0; ki < k; ki++)
              for (int kj = 0; kj < k; kj++)
                {
                  int i = (oh * s + ki) * W + ow * s + kj;
                  if (xp[i] > m)
                    {
                      m = xp[i];
                      at = i;
                    }
                }
            yp[oh * OW + ow] = m;
            ap[oh * OW + ow] = base + at;
          }
    }
}

static void
maxpool_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  if (dx == NULL)
    return;
  gsize in_size = fw_shape_size (l->in), out_size = fw_shape_size (l->out);
  const gint32 *arg = (const gint32 *) l->scratch;
  int k = l->iarg[0], W = l->in.w;
  if (k == 2 && l->iarg[1] == 2 && l->in.h % 2 == 0 && W % 2 == 0)
    {
      /* 2x2 windows tiling the plane: write every dx once, dy at the winner, 0 elsewhere
       * (no separate clearing pass). The winner's offset within its sample is known, so
       * compare it with each of the window's four offsets. */
      int OW = l->out.w, planes = n * l->in.c;
      gsize plane_in = (gsize) l->in.h * W, plane_out = (gsize) l->out.h * OW;
      for (int pl = 0; pl < planes; pl++)
        {
          float *dxp = dx + (gsize) pl * plane_in;
          const float *dyp = dy + (gsize) pl * plane_out;
          const gint32 *ap = arg + (gsize) pl * plane_out;
          gint32 base = (gint32) ((pl % l->in.c) * plane_in);
          for (int oh = 0; oh < l->out.h; oh++)
            for (int ow = 0; ow < OW; ow++)
              {
                gint32 a = ap[oh * OW + ow] - base, i0 = 2 * oh * W + 2 * ow, i1 = i0 + W;
                float g = dyp[oh * OW + ow];
                dxp[i0] = a == i0 ? g : 0.0f;
                dxp[i0 + 1] = a == i0 + 1 ? g : 0.0f;
                dxp[i1] = a == i1 ? g : 0.0f;
                dxp[i1 + 1] = a == i1 + 1 ? g : 0.0f;
              }
        }
      return;
    }
  memset (dx, 0, sizeof (float) * in_size * n);
  /* dx[argmax] += dy (+= because overlapping windows can share a winner) */
  for (int j = 0; j < n; j++)
    {
      float *dxj = dx + (gsize) j * in_size;
      const float *dyj = dy + (gsize) j * out_size;
      const gint32 *aj = arg + (gsize) j * out_size;
      for (gsize q = 0; q < out_size; q++)
        dxj[aj[q]] += dyj[q];
    }
}

const FwLayerClass fw_layer_maxpool = {
  .name = "maxpool",
  .help = "maxpool:K[:S]  max over K x K windows, stride S (default K)",
  .setup = maxpool_setup,
  .forward = maxpool_forward,
  .backward = maxpool_backward,
  .flops = pool_flops,
  .tensors = fw_layer_no_tensors,
  .spec = pool_spec,
};

/* ---- avgpool: y = mean over the window ---- */

static void
avgpool_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  int k = l->iarg[0], s = l->iarg[1];
  int H = l->in.h, W = l->in.w, OH = l->out.h, OW = l->out.w;
  float inv = 1.0f / (float) (k * k);
  int planes = n * l->in.c;
  for (int pl = 0; pl < planes; pl++)
    {
      const float *xp = x + (gsize) pl * H * W;
      float *yp = y + (gsize) pl * OH * OW;
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++)
          {
            float sum = 0.0f;
            for (int ki = 0; ki < k; ki++)
              {
                const float *r = xp + (gsize) (oh * s + ki) * W + ow * s;
                for (int kj = 0; kj < k; kj++)
                  sum += r[kj];
              }
            yp[oh * OW + ow] = sum * inv;
          }
    }
}

static void
avgpool_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  if (dx == NULL)
    return;
  int k = l->iarg[0], s = l->iarg[1];
  int H = l->in.h, W = l->in.w, OH = l->out.h, OW = l->out.w;
  float inv = 1.0f / (float) (k * k);
  int planes = n * l->in.c;
  memset (dx, 0, sizeof (float) * (gsize) planes * H * W);
  /* dx[window] += dy / k^2 */
  for (int pl = 0; pl < planes; pl++)
    {
      float *dxp = dx + (gsize) pl * H * W;
      const float *dyp = dy + (gsize) pl * OH * OW;
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++)
          {
            float g = dyp[oh * OW + ow] * inv;
            for (int ki = 0; ki < k; ki++)
              {
                float *r = dxp + (gsize) (oh * s + ki) * W + ow * s;
                for (int kj = 0; kj < k; kj++)
                  r[kj] += g;
              }
          }
    }
}

const FwLayerClass fw_layer_avgpool = {
  .name = "avgpool",
  .help = "avgpool:K[:S]  mean over K x K windows, stride S (default K)",
  .setup = pool_setup,
  .forward = avgpool_forward,
  .backward = avgpool_backward,
  .flops = pool_flops,
  .tensors = fw_layer_no_tensors,
  .spec = pool_spec,
};

/* ---- gap: y[c] = mean over (h, w) of x[c] ---- */

static gboolean
gap_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  if (!check_n_args (l, n_args, 0, error))
    return FALSE;
  l->out = (FwShape) { l->in.c, 1, 1 };
  return TRUE;
}

static void
gap_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  gsize hw = (gsize) l->in.h * l->in.w;
  float inv = 1.0f / (float) hw;
  int planes = n * l->in.c;
  for (int pl = 0; pl < planes; pl++)
    {
      const float *xp = x + (gsize) pl * hw;
      float sum = 0.0f;
      for (gsize i = 0; i < hw; i++)
        sum += xp[i];
      y[pl] = sum * inv;
    }
}

static void
gap_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  if (dx == NULL)
    return;
  gsize hw = (gsize) l->in.h * l->in.w;
  float inv = 1.0f / (float) hw;
  int planes = n * l->in.c;
  /* dx[c][i] = dy[c] / (h w) */
  for (int pl = 0; pl < planes; pl++)
    {
      float g = dy[pl] * inv;
      float *dxp = dx + (gsize) pl * hw;
      for (gsize i = 0; i < hw; i++)
        dxp[i] = g;
    }
}

static double
gap_flops (const FwLayer *l)
{
  return (double) fw_shape_size (l->in);
}

static char *
gap_spec (const FwLayer *l)
{
  return g_strdup ("gap");
}

const FwLayerClass fw_layer_gap = {
  .name = "gap",
  .help = "gap  global average pooling, (c, h, w) -> (c, 1, 1)",
  .setup = gap_setup,
  .forward = gap_forward,
  .backward = gap_backward,
  .flops = gap_flops,
  .tensors = fw_layer_no_tensors,
  .spec = gap_spec,
};
