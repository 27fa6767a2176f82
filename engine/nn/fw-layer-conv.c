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
 * columns of sample j are x_j itself, so it runs as per-sample GEMMs with no scratch.
 *
 * Two other paths, chosen in setup from the shape alone (conv_use_winograd, conv_use_direct):
 *   3x3, stride 1, pad 1, C and OUT >= 8   Winograd F(2x2, 3x3) (fw-winograd.c), for batches
 *                                          of 8 or more
 *   stride 1, k <= 7, OW >= 8, CKK <= 512  direct loops over a bordered copy of the sample,
 *                                          4 output channels x 8 outputs per register block
 * (measured on this project's benchmark layers: cnn-small's 32->64 about 1.3-1.6x faster than
 * im2col + GEMM, LeNet's two layers 2-3x; test-layers checks all paths against
 * double-precision loops, with the AVX2 and the plain C kernels). */
#include "fw-layer.h"

#include <string.h>

#include "fw-error.h"
#include "fw-gemm.h"
#include "fw-kernels.h"
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
/* Below this batch the weight transform (16 OUT C values per call) and the part-empty tile
 * blocks cost more than they save: a single image (latency) runs im2col + GEMM, measured
 * 93 us against 182 us for cnn-small's 32->64 layer. */
#define CONV_WINO_MIN_BATCH 8

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

/* ---- direct convolution, stride 1: for few channels, where im2col's copies cost more than
 * the products (LeNet's 1->6 and 6->16 5x5, a first 3x3 layer over one channel) ----
 *
 * One sample at a time, on a zero-bordered copy xp of the input [C][H + 2p][PWB], where
 * PWB = OW rounded up to 8, plus k - 1 (so that the last block of 8 outputs reads inside):
 *   y[o][oh][ow] = b[o] + sum_{c,ki,kj} w[o][c][ki][kj] xp[c][oh + ki][ow + kj]
 * in blocks of 4 output channels x 8 consecutive ow (32 sums kept in registers; each
 * loaded xp value serves 4 multiply-adds). The weight gradient
 *   G_W[o][c][ki][kj] += sum_{oh,ow} dy[o][oh][ow] xp[c][oh + ki][ow + kj]
 * keeps k blocks of 8 partial sums per (o, c, ki), and the input gradient is the same forward
 * sweep over dy with pad k - 1 - p and the kernel flipped and transposed:
 *   dx[c][ih][iw] = sum_{o,ki,kj} w[o][c][k-1-ki][k-1-kj] dyp[o][ih + ki][iw + kj]. */

#define DIRECT_MAX_K 7

static inline int
round8 (int n)
{
  return (n + 7) & ~7;
}

static inline gboolean
conv_use_direct (const ConvDims *d)
{
  return d->s == 1 && d->k >= 2 && d->k <= DIRECT_MAX_K && d->p <= d->k - 1 && d->ow >= 8
         && d->ckk <= 512 && !conv_use_winograd (d);
}

/* Copies planes x [C][H][W] into xp [C][H + 2p][pwb] at offset (p, p); the border must be
 * zero already (it is never written). */
static void
direct_pad (const float *restrict x, int C, int H, int W, int p, int pwb, float *restrict xp)
{
  int ph = H + 2 * p;
  for (int c = 0; c < C; c++)
    for (int h = 0; h < H; h++)
      memcpy (xp + ((gsize) c * ph + h + p) * pwb + p, x + ((gsize) c * H + h) * W,
              sizeof (float) * W);
}

/* y [OUT][OH][OW] = b + w * xp for one sample (b may be NULL: no bias); K is the kernel side,
 * a constant where the callers below inline it. */
static inline __attribute__ ((always_inline)) void
direct_fwd_body (int C, int ph, int pwb, int OUT, int OH, int OW, const int K,
                 const float *restrict w, const float *restrict b, const float *restrict xp,
                 float *restrict y)
{
  gsize kk = (gsize) K * K;
  for (int o0 = 0; o0 < OUT; o0 += 4)
    {
      int ob = MIN (4, OUT - o0);
      /* rows past OUT repeat the last one (computed, not stored) */
      const float *w0 = w + (gsize) (o0 + 0) * C * kk;
      const float *w1 = w + (gsize) (o0 + MIN (1, ob - 1)) * C * kk;
      const float *w2 = w + (gsize) (o0 + MIN (2, ob - 1)) * C * kk;
      const float *w3 = w + (gsize) (o0 + MIN (3, ob - 1)) * C * kk;
      float b0 = 0, b1 = 0, b2 = 0, b3 = 0;
      if (b != NULL)
        {
          b0 = b[o0];
          b1 = b[o0 + MIN (1, ob - 1)];
          b2 = b[o0 + MIN (2, ob - 1)];
          b3 = b[o0 + MIN (3, ob - 1)];
        }
      for (int oh = 0; oh < OH; oh++)
        for (int ow0 = 0; ow0 < OW; ow0 += 8)
          {
            float a0[8], a1[8], a2[8], a3[8];
            for (int q = 0; q < 8; q++)
              {
                a0[q] = b0;
                a1[q] = b1;
                a2[q] = b2;
                a3[q] = b3;
              }
            for (int c = 0; c < C; c++)
              for (int ki = 0; ki < K; ki++)
                {
                  const float *xr = xp + ((gsize) c * ph + oh + ki) * pwb + ow0;
                  gsize wo = (gsize) c * kk + (gsize) ki * K;
                  for (int kj = 0; kj < K; kj++)
                    {
                      float v0 = w0[wo + kj], v1 = w1[wo + kj], v2 = w2[wo + kj],
                            v3 = w3[wo + kj];
                      for (int q = 0; q < 8; q++)
                        {
                          float xv = xr[kj + q];
                          a0[q] += v0 * xv;
                          a1[q] += v1 * xv;
                          a2[q] += v2 * xv;
                          a3[q] += v3 * xv;
                        }
                    }
                }
            int nq = MIN (8, OW - ow0);
            float *yr = y + ((gsize) o0 * OH + oh) * OW + ow0;
            gsize po = (gsize) OH * OW;
            for (int q = 0; q < nq; q++)
              yr[q] = a0[q];
            if (ob > 1)
              for (int q = 0; q < nq; q++)
                yr[po + q] = a1[q];
            if (ob > 2)
              for (int q = 0; q < nq; q++)
                yr[2 * po + q] = a2[q];
            if (ob > 3)
              for (int q = 0; q < nq; q++)
                yr[3 * po + q] = a3[q];
          }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FW_CONV_AVX2 1

/* The same sums with the 4 x 8 block in four AVX registers (GCC's vectoriser does not keep
 * the C version's arrays in registers). */
static inline __attribute__ ((always_inline, target ("avx2,fma"))) void
direct_fwd_avx2_body (int C, int ph, int pwb, int OUT, int OH, int OW, const int K,
                      const float *restrict w, const float *restrict b,
                      const float *restrict xp, float *restrict y)
{
  gsize kk = (gsize) K * K, po = (gsize) OH * OW;
  for (int o0 = 0; o0 < OUT; o0 += 4)
    {
      int ob = MIN (4, OUT - o0);
      const float *w0 = w + (gsize) (o0 + 0) * C * kk;
      const float *w1 = w + (gsize) (o0 + MIN (1, ob - 1)) * C * kk;
      const float *w2 = w + (gsize) (o0 + MIN (2, ob - 1)) * C * kk;
      const float *w3 = w + (gsize) (o0 + MIN (3, ob - 1)) * C * kk;
      float b0 = 0, b1 = 0, b2 = 0, b3 = 0;
      if (b != NULL)
        {
          b0 = b[o0];
          b1 = b[o0 + MIN (1, ob - 1)];
          b2 = b[o0 + MIN (2, ob - 1)];
          b3 = b[o0 + MIN (3, ob - 1)];
        }
      for (int oh = 0; oh < OH; oh++)
        for (int ow0 = 0; ow0 < OW; ow0 += 8)
          {
            __m256 a0 = _mm256_set1_ps (b0), a1 = _mm256_set1_ps (b1);
            __m256 a2 = _mm256_set1_ps (b2), a3 = _mm256_set1_ps (b3);
            for (int c = 0; c < C; c++)
              for (int ki = 0; ki < K; ki++)
                {
                  const float *xr = xp + ((gsize) c * ph + oh + ki) * pwb + ow0;
                  gsize wo = (gsize) c * kk + (gsize) ki * K;
                  for (int kj = 0; kj < K; kj++)
                    {
                      __m256 xv = _mm256_loadu_ps (xr + kj);
                      a0 = _mm256_fmadd_ps (_mm256_broadcast_ss (w0 + wo + kj), xv, a0);
                      a1 = _mm256_fmadd_ps (_mm256_broadcast_ss (w1 + wo + kj), xv, a1);
                      a2 = _mm256_fmadd_ps (_mm256_broadcast_ss (w2 + wo + kj), xv, a2);
                      a3 = _mm256_fmadd_ps (_mm256_broadcast_ss (w3 + wo + kj), xv, a3);
                    }
                }
            int nq = MIN (8, OW - ow0);
            float *yr = y + ((gsize) o0 * OH + oh) * OW + ow0;
            float t[4][8];
            _mm256_storeu_ps (t[0], a0);
            _mm256_storeu_ps (t[1], a1);
            _mm256_storeu_ps (t[2], a2);
            _mm256_storeu_ps (t[3], a3);
            for (int i = 0; i < ob; i++)
              {
                if (nq == 8)
                  _mm256_storeu_ps (yr + i * po, _mm256_loadu_ps (t[i]));
                else
                  memcpy (yr + i * po, t[i], sizeof (float) * nq);
              }
          }
    }
}

static __attribute__ ((target ("avx2,fma"))) void
direct_fwd_avx2 (int C, int ph, int pwb, int OUT, int OH, int OW, int K, const float *w,
                 const float *b, const float *xp, float *y)
{
  switch (K)
    {
    case 3:
      direct_fwd_avx2_body (C, ph, pwb, OUT, OH, OW, 3, w, b, xp, y);
      break;
    case 5:
      direct_fwd_avx2_body (C, ph, pwb, OUT, OH, OW, 5, w, b, xp, y);
      break;
    default:
      direct_fwd_avx2_body (C, ph, pwb, OUT, OH, OW, K, w, b, xp, y);
      break;
    }
}

/* K blocks of 8 partial sums in registers (K a constant after inlining) */
static inline __attribute__ ((always_inline, target ("avx2,fma"))) void
direct_wgrad_avx2_body (int C, int ph, int pwb, int OUT, int OH, int owp, const int K,
                        const float *restrict dyp, const float *restrict xp,
                        float *restrict gwv)
{
  gsize kk = (gsize) K * K;
  for (int o = 0; o < OUT; o++)
    for (int c = 0; c < C; c++)
      for (int ki = 0; ki < K; ki++)
        {
          /* the partial sums live in gwv across samples (reduced once per batch) */
          float *gv = gwv + (((gsize) o * C + c) * kk + (gsize) ki * K) * 8;
          __m256 acc[DIRECT_MAX_K];
          for (int kj = 0; kj < K; kj++)
            acc[kj] = _mm256_loadu_ps (gv + 8 * kj);
          for (int oh = 0; oh < OH; oh++)
            {
              const float *dr = dyp + ((gsize) o * OH + oh) * owp;
              const float *xr = xp + ((gsize) c * ph + oh + ki) * pwb;
              for (int ow0 = 0; ow0 < owp; ow0 += 8)
                {
                  __m256 dv = _mm256_loadu_ps (dr + ow0);
                  for (int kj = 0; kj < K; kj++)
                    acc[kj] = _mm256_fmadd_ps (dv, _mm256_loadu_ps (xr + ow0 + kj), acc[kj]);
                }
            }
          for (int kj = 0; kj < K; kj++)
            _mm256_storeu_ps (gv + 8 * kj, acc[kj]);
        }
}

static __attribute__ ((target ("avx2,fma"))) void
direct_wgrad_avx2 (int C, int ph, int pwb, int OUT, int OH, int owp, int K, const float *dyp,
                   const float *xp, float *gwv)
{
  switch (K)
    {
    case 3:
      direct_wgrad_avx2_body (C, ph, pwb, OUT, OH, owp, 3, dyp, xp, gwv);
      break;
    case 5:
      direct_wgrad_avx2_body (C, ph, pwb, OUT, OH, owp, 5, dyp, xp, gwv);
      break;
    default:
      direct_wgrad_avx2_body (C, ph, pwb, OUT, OH, owp, K, dyp, xp, gwv);
      break;
    }
}

/* Input gradient when dy's rows fit one register (OW <= 8), for valid or padded 'same'-ish
 * layers such as LeNet's 6->16 (8x8 outputs). Sweeping dy with a bordered copy would spend
 * most multiply-adds on the border's zeros; instead, per input channel c, kernel column kj
 * and 4 consecutive rows r of the bordered gradient (rows r = oh + ki, r in [0, OH + K - 1)):
 *   T[r][0..7] = sum_{o, ki : 0 <= r - ki < OH} w[o][c][ki][kj] dyp[o][r - ki][0..7]
 * then dxb[r][kj + q] += T[r][q], and dx is dxb without its p-wide border. Every
 * multiply-add is a term of the sum (none on padding). dyp rows are 8 wide, zero past OW. */
static inline __attribute__ ((always_inline, target ("avx2,fma"))) void
direct_dx8_avx2_body (int C, int OUT, int OH, const int K, int p, int H, int W,
                      const float *restrict w, const float *restrict dyp, float *restrict dx)
{
  int R = OH + K - 1;
  gsize kk = (gsize) K * K;
  for (int c = 0; c < C; c++)
    for (int r0 = 0; r0 < R; r0 += 4)
      {
        float rb[4][16];
        memset (rb, 0, sizeof rb);
        for (int kj = 0; kj < K; kj++)
          {
            __m256 a0 = _mm256_setzero_ps (), a1 = _mm256_setzero_ps ();
            __m256 a2 = _mm256_setzero_ps (), a3 = _mm256_setzero_ps ();
            for (int o = 0; o < OUT; o++)
              {
                const float *dyo = dyp + (gsize) o * OH * 8;
                const float *wo = w + ((gsize) o * C + c) * kk + kj;
                for (int ki = 0; ki < K; ki++)
                  {
                    __m256 wv = _mm256_broadcast_ss (wo + (gsize) ki * K);
                    int oh = r0 - ki;
                    if (oh >= 0 && oh < OH)
                      a0 = _mm256_fmadd_ps (wv, _mm256_loadu_ps (dyo + oh * 8), a0);
                    if (oh + 1 >= 0 && oh + 1 < OH)
                      a1 = _mm256_fmadd_ps (wv, _mm256_loadu_ps (dyo + (oh + 1) * 8), a1);
                    if (oh + 2 >= 0 && oh + 2 < OH)
                      a2 = _mm256_fmadd_ps (wv, _mm256_loadu_ps (dyo + (oh + 2) * 8), a2);
                    if (oh + 3 >= 0 && oh + 3 < OH)
                      a3 = _mm256_fmadd_ps (wv, _mm256_loadu_ps (dyo + (oh + 3) * 8), a3);
                  }
              }
            _mm256_storeu_ps (rb[0] + kj, _mm256_add_ps (_mm256_loadu_ps (rb[0] + kj), a0));
            _mm256_storeu_ps (rb[1] + kj, _mm256_add_ps (_mm256_loadu_ps (rb[1] + kj), a1));
            _mm256_storeu_ps (rb[2] + kj, _mm256_add_ps (_mm256_loadu_ps (rb[2] + kj), a2));
            _mm256_storeu_ps (rb[3] + kj, _mm256_add_ps (_mm256_loadu_ps (rb[3] + kj), a3));
          }
        for (int i = 0; i < 4; i++)
          {
            int h = r0 + i - p;
            if (h >= 0 && h < H)
              memcpy (dx + ((gsize) c * H + h) * W, rb[i] + p, sizeof (float) * W);
          }
      }
}

static __attribute__ ((target ("avx2,fma"))) void
direct_dx8_avx2 (int C, int OUT, int OH, int K, int p, int H, int W, const float *w,
                 const float *dyp, float *dx)
{
  switch (K)
    {
    case 3:
      direct_dx8_avx2_body (C, OUT, OH, 3, p, H, W, w, dyp, dx);
      break;
    case 5:
      direct_dx8_avx2_body (C, OUT, OH, 5, p, H, W, w, dyp, dx);
      break;
    default:
      direct_dx8_avx2_body (C, OUT, OH, K, p, H, W, w, dyp, dx);
      break;
    }
}
#endif

static inline gboolean
have_avx2 (void)
{
  return fw_kernels_have_avx2 ();
}

static void
direct_fwd (int C, int ph, int pwb, int OUT, int OH, int OW, int K, const float *w,
            const float *b, const float *xp, float *y)
{
#ifdef FW_CONV_AVX2
  if (have_avx2 ())
    {
      direct_fwd_avx2 (C, ph, pwb, OUT, OH, OW, K, w, b, xp, y);
      return;
    }
#endif
  switch (K)
    {
    case 3:
      direct_fwd_body (C, ph, pwb, OUT, OH, OW, 3, w, b, xp, y);
      break;
    case 5:
      direct_fwd_body (C, ph, pwb, OUT, OH, OW, 5, w, b, xp, y);
      break;
    default:
      direct_fwd_body (C, ph, pwb, OUT, OH, OW, K, w, b, xp, y);
      break;
    }
}

/* G_W[o][c] += correlation of dyp[o] (OH x OWP, zero past OW) with xp[c], one sample */
static inline __attribute__ ((always_inline)) void
direct_wgrad_body (int C, int ph, int pwb, int OUT, int OH, int owp, const int K,
                   const float *restrict dyp, const float *restrict xp, float *restrict gwv)
{
  gsize kk = (gsize) K * K;
  for (int o = 0; o < OUT; o++)
    for (int c = 0; c < C; c++)
      for (int ki = 0; ki < K; ki++)
        {
          float *gv = gwv + (((gsize) o * C + c) * kk + (gsize) ki * K) * 8;
          float acc[DIRECT_MAX_K][8];
          for (int kj = 0; kj < K; kj++)
            for (int q = 0; q < 8; q++)
              acc[kj][q] = gv[8 * kj + q];
          for (int oh = 0; oh < OH; oh++)
            {
              const float *dr = dyp + ((gsize) o * OH + oh) * owp;
              const float *xr = xp + ((gsize) c * ph + oh + ki) * pwb;
              for (int ow0 = 0; ow0 < owp; ow0 += 8)
                for (int kj = 0; kj < K; kj++)
                  for (int q = 0; q < 8; q++)
                    acc[kj][q] += dr[ow0 + q] * xr[ow0 + kj + q];
            }
          for (int kj = 0; kj < K; kj++)
            for (int q = 0; q < 8; q++)
              gv[8 * kj + q] = acc[kj][q];
        }
}

static void
direct_wgrad (int C, int ph, int pwb, int OUT, int OH, int owp, int K, const float *dyp,
              const float *xp, float *gwv)
{
#ifdef FW_CONV_AVX2
  if (have_avx2 ())
    {
      direct_wgrad_avx2 (C, ph, pwb, OUT, OH, owp, K, dyp, xp, gwv);
      return;
    }
#endif
  switch (K)
    {
    case 3:
      direct_wgrad_body (C, ph, pwb, OUT, OH, owp, 3, dyp, xp, gwv);
      break;
    case 5:
      direct_wgrad_body (C, ph, pwb, OUT, OH, owp, 5, dyp, xp, gwv);
      break;
    default:
      direct_wgrad_body (C, ph, pwb, OUT, OH, owp, K, dyp, xp, gwv);
      break;
    }
}

/* Scratch of the direct path (floats, each part rounded to 16):
 *   xp  [C][H + 2p][PWB]              bordered input
 *   dyb [OUT][OH + 2q][PWB']          bordered dy for the input gradient, q = k - 1 - p,
 *                                     PWB' = round8(W) + k - 1
 *   dyp [OUT][OH][round8(OW)]         dy rows padded with zeros for the weight gradient
 *   wt  [C][OUT][k][k]                flipped, transposed kernel
 *   gwv [OUT][C][k][k][8]             the weight gradient's 8 partial sums per entry, added
 *                                     up once per batch */
typedef struct {
  int pwb, ph, pwb2, ph2, owp, q;
  gsize xp, dyb, dyp, wt, gwv;
} DirectLayout;

static inline gsize
r16 (gsize n)
{
  return (n + 15) & ~(gsize) 15;
}

static DirectLayout
direct_layout (const ConvDims *d)
{
  DirectLayout L;
  L.pwb = round8 (d->ow) + d->k - 1;
  L.ph = d->h + 2 * d->p;
  L.q = d->k - 1 - d->p;
  L.pwb2 = round8 (d->w) + d->k - 1;
  L.ph2 = d->oh + 2 * L.q;
  L.owp = round8 (d->ow);
  L.xp = r16 ((gsize) d->c * L.ph * L.pwb);
  L.dyb = r16 ((gsize) d->out * L.ph2 * L.pwb2);
  L.dyp = r16 ((gsize) d->out * d->oh * L.owp);
  L.wt = r16 ((gsize) d->c * d->out * d->k * d->k);
  L.gwv = 8 * L.wt;
  return L;
}

static void
direct_forward (const ConvDims *d, const float *W, const float *b, const float *x, float *y,
                int n, float *scratch)
{
  DirectLayout L = direct_layout (d);
  float *xp = scratch;
  gsize in_size = (gsize) d->c * d->h * d->w, out_size = (gsize) d->out * d->np;
  memset (xp, 0, sizeof (float) * L.xp);
  for (int j = 0; j < n; j++)
    {
      direct_pad (x + (gsize) j * in_size, d->c, d->h, d->w, d->p, L.pwb, xp);
      direct_fwd (d->c, L.ph, L.pwb, d->out, d->oh, d->ow, d->k, W, b, xp,
                  y + (gsize) j * out_size);
    }
}

static void
direct_backward (const ConvDims *d, const float *W, const float *x, const float *dy,
                 float *gW, float *dx, int n, float *scratch)
{
  DirectLayout L = direct_layout (d);
  float *xp = scratch, *dyb = xp + L.xp, *dyp = dyb + L.dyb, *wt = dyp + L.dyp;
  float *gwv = wt + L.wt;
  gsize in_size = (gsize) d->c * d->h * d->w, out_size = (gsize) d->out * d->np;
  int k = d->k;
  gsize kk = (gsize) k * k;
  memset (xp, 0, sizeof (float) * L.xp);
  memset (dyp, 0, sizeof (float) * L.dyp);
  memset (gwv, 0, sizeof (float) * 8 * d->out * d->ckk);
  if (dx != NULL)
    {
      memset (dyb, 0, sizeof (float) * L.dyb);
      /* wt[c][o][ki][kj] = W[o][c][k-1-ki][k-1-kj] */
      for (int o = 0; o < d->out; o++)
        for (int c = 0; c < d->c; c++)
          for (gsize t = 0; t < kk; t++)
            wt[((gsize) c * d->out + o) * kk + t] = W[((gsize) o * d->c + c) * kk + kk - 1 - t];
    }
  for (int j = 0; j < n; j++)
    {
      const float *dyj = dy + (gsize) j * out_size;
      direct_pad (x + (gsize) j * in_size, d->c, d->h, d->w, d->p, L.pwb, xp);
      direct_pad (dyj, d->out, d->oh, d->ow, 0, L.owp, dyp);
      direct_wgrad (d->c, L.ph, L.pwb, d->out, d->oh, L.owp, k, dyp, xp, gwv);
      if (dx == NULL)
        continue;
#ifdef FW_CONV_AVX2
      if (L.owp == 8 && have_avx2 ())
        {
          /* rows of the bordered dx: W + 2p = OW + k - 1 <= 8 + 6 fits rb[][16] */
          direct_dx8_avx2 (d->c, d->out, d->oh, k, d->p, d->h, d->w, W, dyp,
                           dx + (gsize) j * in_size);
          continue;
        }
#endif
      direct_pad (dyj, d->out, d->oh, d->ow, L.q, L.pwb2, dyb);
      direct_fwd (d->out, L.ph2, L.pwb2, d->c, d->h, d->w, k, wt, NULL, dyb,
                  dx + (gsize) j * in_size);
    }
  /* G_W = the sum of each entry's 8 partial sums (pairwise) */
  for (gsize e = 0; e < (gsize) d->out * d->ckk; e++)
    {
      const float *t = gwv + 8 * e;
      gW[e] = ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
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
      /* small batches take the im2col path: room for both */
      FwWinoDims wd = conv_wino_dims (&d);
      l->scratch_fixed = MAX (l->scratch_fixed, fw_wino_scratch_floats (&wd));
    }
  else if (conv_use_direct (&d))
    {
      DirectLayout L = direct_layout (&d);
      l->scratch_fixed = L.xp + L.dyb + L.dyp + L.wt + L.gwv;
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

  if (conv_use_winograd (&d) && n >= CONV_WINO_MIN_BATCH)
    {
      FwWinoDims wd = conv_wino_dims (&d);
      fw_wino_forward (&wd, W, b, x, y, n, l->scratch);
      return;
    }
  if (conv_use_direct (&d))
    {
      direct_forward (&d, W, b, x, y, n, l->scratch);
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

  if (conv_use_winograd (&d) && n >= CONV_WINO_MIN_BATCH)
    {
      FwWinoDims wd = conv_wino_dims (&d);
      fw_wino_backward (&wd, W, x, dy, gW, dx, n, l->scratch);
      return;
    }
  if (conv_use_direct (&d))
    {
      direct_backward (&d, W, x, dy, gW, dx, n, l->scratch);
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
