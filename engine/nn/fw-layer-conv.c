/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-layer-conv.c: 2-D convolution "conv:OUT:K[:STRIDE[:PAD]]" (im2col + GEMM) and depthwise
 * convolution "dwconv:K[:STRIDE[:PAD]]" (one K x K filter per channel, per-plane im2col and
 * weighted sums of the K K shifted planes).
 *
 * conv parameters: weight [out][in_c][k][k] (PyTorch layout), then bias [out].
 * iarg[0] = out channels, iarg[1] = k, iarg[2] = stride, iarg[3] = pad.
 *
 * Shapes: input (C, H, W), output (OUT, OH, OW) with OH = (H + 2 pad - k) / stride + 1; write
 * CKK = C k k (one column of the unfolded input) and P = OH OW (output pixels per channel).
 *
 * The batch runs in groups of g samples (conv_group: the group's columns and outputs fit in
 * cache, and g P is wide enough for an efficient GEMM; g = 1 from P = 256 on). For a group:
 *   cols [CKK x g P]   im2col of the g samples side by side (sample j in columns j P .. j P + P)
 *   Yb   [OUT x g P] <- W [OUT x CKK] cols [CKK x g P]
 *   y[j][o][q] = Yb[o][j P + q] + b[o]                         back to NCHW
 * Backward, per group (the columns are recomputed: cheaper than keeping the whole batch's):
 *   dYb  [OUT x g P]   dy gathered the same way
 *   G_W  [OUT x CKK] += dYb [OUT x g P] cols^T [g P x CKK]
 *   G_b  [o]         += sum over j, q of dy[j][o][q]
 *   dcols[CKK x g P] <- W^T [CKK x OUT] dYb [OUT x g P]        (over cols), col2im -> dx
 * With g = 1, Yb and dYb are y_j and dy_j themselves (no scatter, no gather).
 * The model's first layer gets dx == NULL and skips the last GEMM and col2im.
 * Scratch: scratch_fixed = g CKK P (+ g OUT P when g > 1) floats, whatever the batch size.
 *
 * A 1x1 convolution with stride 1 and no padding over a wide plane needs no unfolding: the
 * columns of sample j are x_j itself, so it runs as per-sample GEMMs with no scratch. */
#include "fw-layer.h"

#include <string.h>

#include "fw-error.h"
#include "fw-gemm.h"
#include "fw-winograd.h"

/* The hot loops here (im2col, col2im, bias, window maxima) are written plainly; GCC's -O2 cost
 * model leaves most of them scalar, -O3 vectorises and if-converts them (measured: maxpool
 * forward 3x faster, conv layers about 10-20%). Without loop distribution GCC keeps im2col's
 * short row copies inline instead of turning them into memcpy calls (which cost more). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("O3", "no-tree-loop-distribute-patterns")
#endif

typedef struct {
  int c, h, w;       /* input */
  int out, k, s, p;  /* configuration */
  int oh, ow;        /* output */
  int ckk, np;       /* C k k, OH OW */
} ConvDims;

static inline ConvDims
conv_dims (const FwLayer *l)
{
  ConvDims d = {
    .c = l->in.c, .h = l->in.h, .w = l->in.w,
    .out = l->iarg[0], .k = l->iarg[1], .s = l->iarg[2], .p = l->iarg[3],
    .oh = l->out.h, .ow = l->out.w,
  };
  d.ckk = d.c * d.k * d.k;
  d.np = d.oh * d.ow;
  return d;
}

static inline gboolean
conv_is_pointwise (const ConvDims *d)
{
  return d->k == 1 && d->s == 1 && d->p == 0;
}

/* 3x3 "same" convolutions (stride 1, pad 1) between enough channels run as Winograd
 * F(2x2, 3x3) (fw-winograd.c): 16 GEMMs with K = C (or OUT) instead of one with K = 9 C, 2.25x
 * fewer multiply-adds in all three products. With few channels the 16 small GEMMs and the
 * transforms cost more than they save, and im2col + GEMM stays. */
#define CONV_WINO_MIN_CHANNELS 8

static inline gboolean
conv_use_winograd (const ConvDims *d)
{
  return d->k == 3 && d->s == 1 && d->p == 1 && d->c >= CONV_WINO_MIN_CHANNELS
         && d->out >= CONV_WINO_MIN_CHANNELS;
}

static inline FwWinoDims
conv_wino_dims (const ConvDims *d)
{
  return (FwWinoDims) { d->c, d->h, d->w, d->out };
}

/* Samples per GEMM: enough that N = group P is wide, few enough that the group's columns and
 * outputs, (CKK + OUT) group P floats, stay in cache (about CONV_GROUP_FLOATS). 0: a 1x1
 * convolution over a wide plane, run per sample on x itself with no copy. */
#ifndef CONV_GROUP_FLOATS
#define CONV_GROUP_FLOATS (128 * 1024)
#endif
#define CONV_MAX_GROUP 64
/* From this many output pixels on, one sample's GEMM is wide enough by itself, and with one
 * sample per group the products read dy and write y in place (no gather, no scatter). */
#define CONV_WIDE_PLANE 256

static int
conv_group (const ConvDims *d)
{
  if (d->np >= CONV_WIDE_PLANE)
    return conv_is_pointwise (d) ? 0 : 1;
  gsize per = (gsize) (d->ckk + d->out) * d->np;
  gsize g = CONV_GROUP_FLOATS / MAX (per, 1);
  return (int) CLAMP (g, 1, CONV_MAX_GROUP);
}

static inline void
fill (float *a, float v, int m)
{
  for (int i = 0; i < m; i++)
    a[i] = v;
}

static inline void
add_bias (float *restrict dst, const float *restrict src, float b, int m)
{
  for (int i = 0; i < m; i++)
    dst[i] = src[i] + b;
}

static inline float
sum (const float *a, int m)
{
  float s = 0.0f;
  for (int i = 0; i < m; i++)
    s += a[i];
  return s;
}

/* Output extent of a window sweep; 0 when the window does not fit. */
static int
conv_out_extent (int in, int k, int s, int p)
{
  int span = in + 2 * p - k;
  return span < 0 ? 0 : span / s + 1;
}

/* First and one-past-last output position o (in [0, n_out)) whose input coordinate
 * o s + off - p lies inside [0, in). */
static inline void
conv_valid_range (int off, int s, int p, int in, int n_out, int *lo, int *hi)
{
  /* o s + off - p >= 0  <=>  o >= ceil((p - off) / s) */
  int a = p - off;
  int l0 = a <= 0 ? 0 : (a + s - 1) / s;
  /* o s + off - p <= in - 1  <=>  o <= floor((in - 1 + p - off) / s) */
  int b = in - 1 + p - off;
  int h0 = b < 0 ? 0 : b / s + 1;
  *lo = MIN (l0, n_out);
  *hi = CLAMP (h0, *lo, n_out);
}

/* im2col of one sample x [C][H][W] into cols (row stride ld):
 * cols[(c k + ki) k + kj][oh OW + ow] = x[c][oh s + ki - p][ow s + kj - p] (0 outside). */
/* "Same" convolutions with stride 1 (OW == W, OH == H): row (c, ki, kj) of the columns is the
 * plane x[c] shifted by (ki - p) W + (kj - p), except in the columns ow where ow + kj - p
 * falls off the row (zero there). One long copy, then those columns (at most p on each side)
 * are cleared: much faster than one short copy per output row. */
static inline gboolean
conv_is_same_s1 (const ConvDims *d)
{
  return d->s == 1 && d->ow == d->w && d->oh == d->h;
}

/* The range [*lo, *hi) of q in [0, P) with 0 <= q + shift < P, for a shift of a plane. */
static inline void
shift_range (int shift, int np, int *lo, int *hi)
{
  *lo = MAX (0, -shift);
  *hi = MIN (np, np - shift);
  if (*hi < *lo)
    *hi = *lo;
}

static void
im2col_same_s1 (const ConvDims *d, const float *restrict x, float *restrict cols, gsize ld)
{
  int np = d->np, W = d->w;
  for (int c = 0; c < d->c; c++)
    for (int ki = 0; ki < d->k; ki++)
      for (int kj = 0; kj < d->k; kj++)
        {
          const float *xc = x + (gsize) c * np;
          float *dst = cols + (gsize) ((c * d->k + ki) * d->k + kj) * ld;
          int shift = (ki - d->p) * W + (kj - d->p), lo, hi;
          shift_range (shift, np, &lo, &hi);
          for (int q = 0; q < lo; q++)
            dst[q] = 0.0f;
          for (int q = lo; q < hi; q++)
            dst[q] = xc[q + shift];
          for (int q = hi; q < np; q++)
            dst[q] = 0.0f;
          /* the columns that wrapped around to the neighbouring row */
          for (int ow = 0; ow < d->p - kj; ow++)
            for (int oh = 0; oh < d->oh; oh++)
              dst[oh * W + ow] = 0.0f;
          for (int ow = W - (kj - d->p); ow < W; ow++)
            for (int oh = 0; oh < d->oh; oh++)
              dst[oh * W + ow] = 0.0f;
        }
}

/* The adjoint of im2col_same_s1; clears the wrapped columns of dcols first. */
static void
col2im_same_s1 (const ConvDims *d, float *restrict dcols, gsize ld, float *restrict dx)
{
  int np = d->np, W = d->w;
  memset (dx, 0, sizeof (float) * (gsize) d->c * np);
  for (int c = 0; c < d->c; c++)
    for (int ki = 0; ki < d->k; ki++)
      for (int kj = 0; kj < d->k; kj++)
        {
          float *dxc = dx + (gsize) c * np;
          float *src = dcols + (gsize) ((c * d->k + ki) * d->k + kj) * ld;
          int shift = (ki - d->p) * W + (kj - d->p), lo, hi;
          for (int ow = 0; ow < d->p - kj; ow++)
            for (int oh = 0; oh < d->oh; oh++)
              src[oh * W + ow] = 0.0f;
          for (int ow = W - (kj - d->p); ow < W; ow++)
            for (int oh = 0; oh < d->oh; oh++)
              src[oh * W + ow] = 0.0f;
          shift_range (shift, np, &lo, &hi);
          for (int q = lo; q < hi; q++)
            dxc[q + shift] += src[q];
        }
}

static void
im2col (const ConvDims *d, const float *restrict x, float *restrict cols, gsize ld)
{
  if (conv_is_same_s1 (d))
    {
      im2col_same_s1 (d, x, cols, ld);
      return;
    }
  for (int c = 0; c < d->c; c++)
    for (int ki = 0; ki < d->k; ki++)
      {
        int oh_lo, oh_hi;
        conv_valid_range (ki, d->s, d->p, d->h, d->oh, &oh_lo, &oh_hi);
        for (int kj = 0; kj < d->k; kj++)
          {
            int ow_lo, ow_hi;
            conv_valid_range (kj, d->s, d->p, d->w, d->ow, &ow_lo, &ow_hi);
            float *dst = cols + (gsize) ((c * d->k + ki) * d->k + kj) * ld;
            if (oh_lo > 0)
              memset (dst, 0, sizeof (float) * (gsize) oh_lo * d->ow);
            for (int oh = oh_lo; oh < oh_hi; oh++)
              {
                float *row = dst + (gsize) oh * d->ow;
                const float *src = x + ((gsize) c * d->h + (oh * d->s + ki - d->p)) * d->w
                                   + (kj - d->p);
                for (int ow = 0; ow < ow_lo; ow++)
                  row[ow] = 0.0f;
                if (d->s == 1) /* rows are short: a loop beats a memcpy call */
                  for (int ow = ow_lo; ow < ow_hi; ow++)
                    row[ow] = src[ow];
                else
                  for (int ow = ow_lo; ow < ow_hi; ow++)
                    row[ow] = src[ow * d->s];
                for (int ow = ow_hi; ow < d->ow; ow++)
                  row[ow] = 0.0f;
              }
            if (oh_hi < d->oh)
              memset (dst + (gsize) oh_hi * d->ow, 0,
                      sizeof (float) * (gsize) (d->oh - oh_hi) * d->ow);
          }
      }
}

/* col2im, the adjoint of im2col: dx[c][ih][iw] = sum of the dcols entries that im2col read
 * from there. dx is overwritten; dcols may be modified. */
static void
col2im (const ConvDims *d, float *dcols, gsize ld, float *dx)
{
  if (conv_is_same_s1 (d))
    {
      col2im_same_s1 (d, dcols, ld, dx);
      return;
    }
  memset (dx, 0, sizeof (float) * (gsize) d->c * d->h * d->w);
  for (int c = 0; c < d->c; c++)
    for (int ki = 0; ki < d->k; ki++)
      {
        int oh_lo, oh_hi;
        conv_valid_range (ki, d->s, d->p, d->h, d->oh, &oh_lo, &oh_hi);
        for (int kj = 0; kj < d->k; kj++)
          {
            int ow_lo, ow_hi;
            conv_valid_range (kj, d->s, d->p, d->w, d->ow, &ow_lo, &ow_hi);
            const float *src = dcols + (gsize) ((c * d->k + ki) * d->k + kj) * ld;
            for (int oh = oh_lo; oh < oh_hi; oh++)
              {
                const float *row = src + (gsize) oh * d->ow;
                float *dst = dx + ((gsize) c * d->h + (oh * d->s + ki - d->p)) * d->w
                             + (kj - d->p);
                if (d->s == 1)
                  for (int ow = ow_lo; ow < ow_hi; ow++)
                    dst[ow] += row[ow];
                else
                  for (int ow = ow_lo; ow < ow_hi; ow++)
                    dst[ow * d->s] += row[ow];
              }
          }
      }
}

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
conv_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int out, k, s, p;
  if (!fw_layer_parse_int (l, args, n_args, 0, -1, 1, 1 << 16, &out, error)
      || !fw_layer_parse_int (l, args, n_args, 1, -1, 1, 64, &k, error)
      || !fw_layer_parse_int (l, args, n_args, 2, 1, 1, 64, &s, error)
      || !fw_layer_parse_int (l, args, n_args, 3, 0, 0, 64, &p, error))
    return FALSE;
  if (!check_n_args (l, n_args, 4, error))
    return FALSE;
  l->iarg[0] = out;
  l->iarg[1] = k;
  l->iarg[2] = s;
  l->iarg[3] = p;
  l->out = (FwShape) { out, conv_out_extent (l->in.h, k, s, p),
                       conv_out_extent (l->in.w, k, s, p) };
  ConvDims d = conv_dims (l);
  l->n_w = (gsize) out * d.ckk + out;
  /* the columns and outputs of one group of samples (see conv_group) */
  int group = conv_group (&d);
  l->scratch_fixed = (gsize) group * (d.ckk + (group > 1 ? d.out : 0)) * d.np;
  if (conv_use_winograd (&d))
    {
      FwWinoDims wd = conv_wino_dims (&d);
      l->scratch_fixed = fw_wino_scratch_floats (&wd);
    }
  return TRUE;
}

static void
conv_init (FwLayer *l, FwRng *rng)
{
  ConvDims d = conv_dims (l);
  fw_init_uniform_fan_in (l->w, (gsize) d.out * d.ckk, d.ckk, rng);
  fw_init_uniform_fan_in (l->w + (gsize) d.out * d.ckk, d.out, d.ckk, rng);
}

static void
conv_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  ConvDims d = conv_dims (l);
  const float *W = l->w, *b = l->w + (gsize) d.out * d.ckk;
  gsize in_size = fw_shape_size (l->in), out_size = fw_shape_size (l->out);
  int group = conv_group (&d);

  if (conv_use_winograd (&d))
    {
      FwWinoDims wd = conv_wino_dims (&d);
      fw_wino_forward (&wd, W, b, x, y, n, l->scratch);
      return;
    }
  if (group == 0)
    {
      /* 1x1: y_j [OUT x P] <- W [OUT x C] x_j [C x P] + b, sample by sample */
      for (int j = 0; j < n; j++)
        {
          float *yj = y + (gsize) j * out_size;
          for (int o = 0; o < d.out; o++)
            fill (yj + (gsize) o * d.np, b[o], d.np);
          fw_sgemm (FALSE, FALSE, d.out, d.np, d.ckk, 1.0f, W, d.ckk, x + (gsize) j * in_size,
                    d.np, 1.0f, yj, d.np);
        }
      return;
    }

  for (int j0 = 0; j0 < n; j0 += group)
    {
      int g = MIN (group, n - j0);
      int ld = g * d.np;
      float *cols = l->scratch;                     /* [CKK x g P] */
      float *yb = cols + (gsize) d.ckk * ld;        /* [OUT x g P] */
      for (int j = 0; j < g; j++)
        im2col (&d, x + (gsize) (j0 + j) * in_size, cols + (gsize) j * d.np, ld);
      if (g == 1)
        {
          /* Yb is y_j itself: y_j [OUT x P] <- W [OUT x CKK] cols [CKK x P] + b */
          float *yj = y + (gsize) j0 * out_size;
          for (int o = 0; o < d.out; o++)
            fill (yj + (gsize) o * d.np, b[o], d.np);
          fw_sgemm (FALSE, FALSE, d.out, ld, d.ckk, 1.0f, W, d.ckk, cols, ld, 1.0f, yj, ld);
          continue;
        }
      /* Yb [OUT x g P] <- W [OUT x CKK] cols [CKK x g P] */
      fw_sgemm (FALSE, FALSE, d.out, ld, d.ckk, 1.0f, W, d.ckk, cols, ld, 0.0f, yb, ld);
      /* y[j][o][q] = Yb[o][j P + q] + b[o] */
      for (int j = 0; j < g; j++)
        for (int o = 0; o < d.out; o++)
          add_bias (y + (gsize) (j0 + j) * out_size + (gsize) o * d.np,
                    yb + (gsize) o * ld + (gsize) j * d.np, b[o], d.np);
    }
}

static void
conv_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  ConvDims d = conv_dims (l);
  const float *W = l->w;
  float *gW = l->gw, *gb = l->gw + (gsize) d.out * d.ckk;
  gsize in_size = fw_shape_size (l->in), out_size = fw_shape_size (l->out);
  int group = conv_group (&d);

  /* G_b[o] <- sum over samples and pixels of dy[.][o] */
  memset (gb, 0, sizeof (float) * d.out);
  for (int j = 0; j < n; j++)
    for (int o = 0; o < d.out; o++)
      gb[o] += sum (dy + (gsize) j * out_size + (gsize) o * d.np, d.np);

  if (conv_use_winograd (&d))
    {
      FwWinoDims wd = conv_wino_dims (&d);
      fw_wino_backward (&wd, W, x, dy, gW, dx, n, l->scratch);
      return;
    }
  if (group == 0)
    {
      for (int j = 0; j < n; j++)
        {
          const float *xj = x + (gsize) j * in_size, *dyj = dy + (gsize) j * out_size;
          /* G_W [OUT x C] += dy_j [OUT x P] x_j^T [P x C] */
          fw_sgemm (FALSE, TRUE, d.out, d.ckk, d.np, 1.0f, dyj, d.np, xj, d.np,
                    j == 0 ? 0.0f : 1.0f, gW, d.ckk);
          /* dx_j [C x P] <- W^T [C x OUT] dy_j [OUT x P] */
          if (dx != NULL)
            fw_sgemm (TRUE, FALSE, d.ckk, d.np, d.out, 1.0f, W, d.ckk, dyj, d.np, 0.0f,
                      dx + (gsize) j * in_size, d.np);
        }
      return;
    }

  for (int j0 = 0; j0 < n; j0 += group)
    {
      int g = MIN (group, n - j0);
      int ld = g * d.np;
      float *cols = l->scratch;                     /* [CKK x g P] */
      float *gather = cols + (gsize) d.ckk * ld;    /* [OUT x g P] */
      /* dYb: dy_j itself for one sample, else gathered */
      const float *dyb = g == 1 ? dy + (gsize) j0 * out_size : gather;
      /* the columns again: recomputing a cache-sized group is cheaper than keeping all */
      for (int j = 0; j < g; j++)
        {
          im2col (&d, x + (gsize) (j0 + j) * in_size, cols + (gsize) j * d.np, ld);
          for (int o = 0; o < d.out && g > 1; o++)
            memcpy (gather + (gsize) o * ld + (gsize) j * d.np,
                    dy + (gsize) (j0 + j) * out_size + (gsize) o * d.np,
                    sizeof (float) * d.np);
        }
      /* G_W [OUT x CKK] += dYb [OUT x g P] cols^T [g P x CKK] */
      fw_sgemm (FALSE, TRUE, d.out, d.ckk, ld, 1.0f, dyb, ld, cols, ld, j0 == 0 ? 0.0f : 1.0f,
                gW, d.ckk);
      if (dx == NULL)
        continue;
      /* dcols [CKK x g P] <- W^T [CKK x OUT] dYb [OUT x g P] (over cols), folded into dx */
      fw_sgemm (TRUE, FALSE, d.ckk, ld, d.out, 1.0f, W, d.ckk, dyb, ld, 0.0f, cols, ld);
      for (int j = 0; j < g; j++)
        col2im (&d, cols + (gsize) j * d.np, ld, dx + (gsize) (j0 + j) * in_size);
    }
}

static double
conv_flops (const FwLayer *l)
{
  ConvDims d = conv_dims (l);
  return 2.0 * d.out * d.ckk * d.np;
}

static int
conv_tensors (const FwLayer *l, FwTensorInfo *t)
{
  ConvDims d = conv_dims (l);
  t[0] = (FwTensorInfo) { "weight", TRUE, 0, 4, { d.out, d.c, d.k, d.k } };
  t[1] = (FwTensorInfo) { "bias", TRUE, (gsize) d.out * d.ckk, 1, { d.out } };
  return 2;
}

static char *
conv_spec (const FwLayer *l)
{
  if (l->iarg[3] != 0)
    return g_strdup_printf ("conv:%d:%d:%d:%d", l->iarg[0], l->iarg[1], l->iarg[2], l->iarg[3]);
  if (l->iarg[2] != 1)
    return g_strdup_printf ("conv:%d:%d:%d", l->iarg[0], l->iarg[1], l->iarg[2]);
  return g_strdup_printf ("conv:%d:%d", l->iarg[0], l->iarg[1]);
}

const FwLayerClass fw_layer_conv = {
  .name = "conv",
  .help = "conv:OUT:K[:STRIDE[:PAD]]  2-D convolution, OUT filters of K x K (stride 1, pad 0)",
  .setup = conv_setup,
  .init = conv_init,
  .forward = conv_forward,
  .backward = conv_backward,
  .flops = conv_flops,
  .tensors = conv_tensors,
  .spec = conv_spec,
};

/* ---- dwconv:K[:STRIDE[:PAD]]: depthwise convolution, channel c filtered by its own K x K
 * kernel. weight [C][1][K][K], bias [C]. iarg[0] = C, iarg[1..3] = k, stride, pad (the same
 * slots as conv, so conv_dims applies with out = C and ckk read as C k k). ----
 *   y[c][oh][ow] = b[c] + sum_{ki,kj} w[c][ki][kj] x[c][oh s + ki - p][ow s + kj - p] */

static gboolean
dwconv_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int k, s, p;
  if (!check_n_args (l, n_args, 3, error)
      || !fw_layer_parse_int (l, args, n_args, 0, -1, 1, 64, &k, error)
      || !fw_layer_parse_int (l, args, n_args, 1, 1, 1, 64, &s, error)
      || !fw_layer_parse_int (l, args, n_args, 2, 0, 0, 64, &p, error))
    return FALSE;
  l->iarg[0] = l->in.c;
  l->iarg[1] = k;
  l->iarg[2] = s;
  l->iarg[3] = p;
  l->out = (FwShape) { l->in.c, conv_out_extent (l->in.h, k, s, p),
                       conv_out_extent (l->in.w, k, s, p) };
  l->n_w = (gsize) l->in.c * k * k + l->in.c;
  /* the columns of one plane [K K x P] */
  l->scratch_fixed = (gsize) k * k * l->out.h * l->out.w;
  return TRUE;
}

static void
dwconv_init (FwLayer *l, FwRng *rng)
{
  int c = l->iarg[0], kk = l->iarg[1] * l->iarg[1];
  fw_init_uniform_fan_in (l->w, (gsize) c * kk, kk, rng);
  fw_init_uniform_fan_in (l->w + (gsize) c * kk, c, kk, rng);
}

/* One channel plane seen as a 1-channel convolution, for im2col / col2im. */
static inline ConvDims
dwconv_plane_dims (const FwLayer *l)
{
  ConvDims d = conv_dims (l);
  d.c = 1;
  d.ckk = d.k * d.k;
  return d;
}

/* Per plane (sample j, channel c): cols [KK x P] = im2col of x[j][c], then
 *   y[j][c] = b[c] + sum_t w[c][t] cols[t]                     (t over the K K taps) */
static void
dwconv_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  ConvDims d = dwconv_plane_dims (l);
  int C = l->in.c, kk = d.ckk, np = d.np;
  gsize hw = (gsize) d.h * d.w;
  const float *b = l->w + (gsize) C * kk;
  float *cols = l->scratch;
  for (int j = 0; j < n; j++)
    for (int c = 0; c < C; c++)
      {
        const float *wc = l->w + (gsize) c * kk;
        float *yc = y + ((gsize) j * C + c) * np;
        im2col (&d, x + ((gsize) j * C + c) * hw, cols, np);
        fill (yc, b[c], np);
        for (int t = 0; t < kk; t++)
          {
            const float *r = cols + (gsize) t * np;
            float wt = wc[t];
            for (int q = 0; q < np; q++)
              yc[q] += wt * r[q];
          }
      }
}

/* Per plane: G_w[c][t] += dy . cols[t],  G_b[c] += sum dy,
 * dcols[t] = w[c][t] dy (over cols), folded back into dx[j][c] by col2im. */
static void
dwconv_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  ConvDims d = dwconv_plane_dims (l);
  int C = l->in.c, kk = d.ckk, np = d.np;
  gsize hw = (gsize) d.h * d.w;
  float *gb = l->gw + (gsize) C * kk;
  float *cols = l->scratch;
  memset (l->gw, 0, sizeof (float) * l->n_w);
  for (int j = 0; j < n; j++)
    for (int c = 0; c < C; c++)
      {
        const float *wc = l->w + (gsize) c * kk;
        float *gwc = l->gw + (gsize) c * kk;
        const float *dyc = dy + ((gsize) j * C + c) * np;
        im2col (&d, x + ((gsize) j * C + c) * hw, cols, np);
        gb[c] += sum (dyc, np);
        for (int t = 0; t < kk; t++)
          {
            const float *r = cols + (gsize) t * np;
            float g = 0.0f;
            for (int q = 0; q < np; q++)
              g += dyc[q] * r[q];
            gwc[t] += g;
          }
        if (dx == NULL)
          continue;
        for (int t = 0; t < kk; t++)
          {
            float *r = cols + (gsize) t * np, wt = wc[t];
            for (int q = 0; q < np; q++)
              r[q] = wt * dyc[q];
          }
        col2im (&d, cols, np, dx + ((gsize) j * C + c) * hw);
      }
}

static double
dwconv_flops (const FwLayer *l)
{
  ConvDims d = conv_dims (l);
  return 2.0 * d.c * d.k * d.k * d.np;
}

static int
dwconv_tensors (const FwLayer *l, FwTensorInfo *t)
{
  int c = l->iarg[0], k = l->iarg[1];
  t[0] = (FwTensorInfo) { "weight", TRUE, 0, 4, { c, 1, k, k } };
  t[1] = (FwTensorInfo) { "bias", TRUE, (gsize) c * k * k, 1, { c } };
  return 2;
}

static char *
dwconv_spec (const FwLayer *l)
{
  return g_strdup_printf ("dwconv:%d:%d:%d", l->iarg[1], l->iarg[2], l->iarg[3]);
}

const FwLayerClass fw_layer_dwconv = {
  .name = "dwconv",
  .help = "dwconv:K[:STRIDE[:PAD]]  depthwise convolution, one K x K filter per channel",
  .setup = dwconv_setup,
  .init = dwconv_init,
  .forward = dwconv_forward,
  .backward = dwconv_backward,
  .flops = dwconv_flops,
  .tensors = dwconv_tensors,
  .spec = dwconv_spec,
};
