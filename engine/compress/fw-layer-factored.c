/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-layer-factored.c: layer kinds that run decomposed weights in factored form.
 *
 * dwrect:KH:KW[:SH:SW:PH:PW]  depthwise convolution with a rectangular KH x KW kernel, stride
 *     (SH, SW), padding (PH, PW): the Kx1 and 1xK stages of a CP-decomposed convolution.
 *     weight [C][1][KH][KW], bias [C]; iarg = C, KH, KW, SH, SW, PH, PW.
 *       y[c][oh][ow] = b[c] + sum_{i,j} w[c][i][j] x[c][oh SH + i - PH][ow SW + j - PW]
 *     Direct loops: for each tap (i, j) and output row, one contiguous run of outputs whose
 *     input lies inside the plane.
 *
 * tt:M1x..xMd:N1x..xNd:R1x..xR(d-1)  a dense layer [M x N] (M = prod M_k, N = prod N_k) in
 *     tensor-train form (Novikov et al. 2015):
 *       W[(i_1..i_d)][(j_1..j_d)] = G_1[i_1, j_1] G_2[i_2, j_2] ... G_d[i_d, j_d]
 *     with G_k[i, j] an R_(k-1) x R_k matrix (R_0 = R_d = 1). Core k is stored as
 *     A_k [M_k][R_k][R_(k-1)][N_k], a matrix [(M_k R_k) x (R_(k-1) N_k)], then the bias [M].
 *     Forward, over the batch at once: Z_0 = x^T [N x n] = [(R_0 N_1) x (N_2..N_d n)], then for
 *     k = 1..d
 *       T   = A_k Z_(k-1)                 [(M_k R_k) x rest]   (one GEMM)
 *       Z_k = T^T seen as [M_k x R_k rest] transposed: the index i_k moves to the back
 *     so that Z_k = [(R_k N_(k+1)) x (N_(k+2)..N_d n i_1..i_k)] and finally Z_d = y [n x M].
 *     Backward runs the same steps in reverse: dT = (dZ_k moved back), G_A_k = dT Z_(k-1)^T,
 *     dZ_(k-1) = A_k^T dT, dx = dZ_0^T. The Z_k of the forward pass stay in scratch. */
#include "fw-layer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"
#include "fw-gemm.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("O3")
#endif

/* ---- dwrect ---- */

static int
out_extent (int in, int k, int s, int p)
{
  int span = in + 2 * p - k;
  return span < 0 ? 0 : span / s + 1;
}

/* outputs o in [lo, hi) with 0 <= o s + off - p < in */
static inline void
valid_range (int off, int s, int p, int in, int n_out, int *lo, int *hi)
{
  int a = p - off;
  int l0 = a <= 0 ? 0 : (a + s - 1) / s;
  int b = in - 1 + p - off;
  int h0 = b < 0 ? 0 : b / s + 1;
  *lo = MIN (l0, n_out);
  *hi = CLAMP (h0, *lo, n_out);
}

static gboolean
dwrect_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int kh, kw, sh, sw, ph, pw;
  if (n_args > 6)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d (dwrect): at most 6 arguments (KH:KW:SH:SW:PH:PW), got %d",
                   l->index + 1, n_args);
      return FALSE;
    }
  if (!fw_layer_parse_int (l, args, n_args, 0, -1, 1, 64, &kh, error)
      || !fw_layer_parse_int (l, args, n_args, 1, -1, 1, 64, &kw, error)
      || !fw_layer_parse_int (l, args, n_args, 2, 1, 1, 64, &sh, error)
      || !fw_layer_parse_int (l, args, n_args, 3, 1, 1, 64, &sw, error)
      || !fw_layer_parse_int (l, args, n_args, 4, 0, 0, 64, &ph, error)
      || !fw_layer_parse_int (l, args, n_args, 5, 0, 0, 64, &pw, error))
    return FALSE;
  int v[7] = { l->in.c, kh, kw, sh, sw, ph, pw };
  memcpy (l->iarg, v, sizeof v);
  l->out = (FwShape) { l->in.c, out_extent (l->in.h, kh, sh, ph),
                       out_extent (l->in.w, kw, sw, pw) };
  l->n_w = (gsize) l->in.c * kh * kw + l->in.c;
  return TRUE;
}

static void
dwrect_init (FwLayer *l, FwRng *rng)
{
  int c = l->iarg[0], kk = l->iarg[1] * l->iarg[2];
  fw_init_uniform_fan_in (l->w, (gsize) c * kk + c, kk, rng);
}

/* The one loop nest of forward and backward: for each tap and output row, the contiguous run
 * of valid outputs. mode 0: y += w x; mode 1: gw += dy x; mode 2: dx += w dy. */
static void
dwrect_sweep (const FwLayer *l, int mode, const float *x, float *y, const float *dy, float *dx,
              int n)
{
  int C = l->iarg[0], KH = l->iarg[1], KW = l->iarg[2], SH = l->iarg[3], SW = l->iarg[4];
  int PH = l->iarg[5], PW = l->iarg[6];
  int H = l->in.h, W = l->in.w, OH = l->out.h, OW = l->out.w;
  gsize ip = (gsize) H * W, op = (gsize) OH * OW;
  for (int j = 0; j < n; j++)
    for (int c = 0; c < C; c++)
      {
        const float *wc = l->w + (gsize) c * KH * KW;
        float *gc = l->gw + (gsize) c * KH * KW;
        gsize xo = ((gsize) j * C + c) * ip, yo = ((gsize) j * C + c) * op;
        for (int ki = 0; ki < KH; ki++)
          {
            int oh_lo, oh_hi;
            valid_range (ki, SH, PH, H, OH, &oh_lo, &oh_hi);
            for (int kj = 0; kj < KW; kj++)
              {
                int ow_lo, ow_hi;
                valid_range (kj, SW, PW, W, OW, &ow_lo, &ow_hi);
                float wt = wc[ki * KW + kj], g = 0;
                for (int oh = oh_lo; oh < oh_hi; oh++)
                  {
                    gsize xr = xo + (gsize) (oh * SH + ki - PH) * W + (kj - PW);
                    gsize yr = yo + (gsize) oh * OW;
                    if (mode == 0)
                      {
                        const float *xs = x + xr;
                        float *yd = y + yr;
                        for (int ow = ow_lo; ow < ow_hi; ow++)
                          yd[ow] += wt * xs[(gsize) ow * SW];
                      }
                    else if (mode == 1)
                      {
                        const float *xs = x + xr, *d = dy + yr;
                        for (int ow = ow_lo; ow < ow_hi; ow++)
                          g += d[ow] * xs[(gsize) ow * SW];
                      }
                    else
                      {
                        float *xd = dx + xr;
                        const float *d = dy + yr;
                        for (int ow = ow_lo; ow < ow_hi; ow++)
                          xd[(gsize) ow * SW] += wt * d[ow];
                      }
                  }
                if (mode == 1)
                  gc[ki * KW + kj] += g;
              }
          }
      }
}

static void
dwrect_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  int C = l->iarg[0];
  gsize op = (gsize) l->out.h * l->out.w;
  const float *b = l->w + (gsize) C * l->iarg[1] * l->iarg[2];
  for (int j = 0; j < n; j++)
    for (int c = 0; c < C; c++)
      {
        float *yc = y + ((gsize) j * C + c) * op;
        for (gsize q = 0; q < op; q++)
          yc[q] = b[c];
      }
  dwrect_sweep (l, 0, x, y, NULL, NULL, n);
}

static void
dwrect_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  int C = l->iarg[0];
  gsize op = (gsize) l->out.h * l->out.w;
  float *gb = l->gw + (gsize) C * l->iarg[1] * l->iarg[2];
  memset (l->gw, 0, sizeof (float) * l->n_w);
  for (int j = 0; j < n; j++)
    for (int c = 0; c < C; c++)
      {
        const float *d = dy + ((gsize) j * C + c) * op;
        float s = 0;
        for (gsize q = 0; q < op; q++)
          s += d[q];
        gb[c] += s;
      }
  dwrect_sweep (l, 1, x, NULL, dy, NULL, n);
  if (dx != NULL)
    {
      memset (dx, 0, sizeof (float) * (gsize) n * fw_shape_size (l->in));
      dwrect_sweep (l, 2, NULL, NULL, dy, dx, n);
    }
}

static double
dwrect_flops (const FwLayer *l)
{
  return 2.0 * l->iarg[0] * l->iarg[1] * l->iarg[2] * l->out.h * l->out.w;
}

static int
dwrect_tensors (const FwLayer *l, FwTensorInfo *t)
{
  int c = l->iarg[0], kh = l->iarg[1], kw = l->iarg[2];
  t[0] = (FwTensorInfo) { "weight", TRUE, 0, 4, { c, 1, kh, kw } };
  t[1] = (FwTensorInfo) { "bias", TRUE, (gsize) c * kh * kw, 1, { c } };
  return 2;
}

static char *
dwrect_spec (const FwLayer *l)
{
  return g_strdup_printf ("dwrect:%d:%d:%d:%d:%d:%d", l->iarg[1], l->iarg[2], l->iarg[3],
                          l->iarg[4], l->iarg[5], l->iarg[6]);
}

const FwLayerClass fw_layer_dwrect = {
  .name = "dwrect",
  .help = "dwrect:KH:KW[:SH:SW:PH:PW]  depthwise KH x KW convolution (CP stages Kx1, 1xK)",
  .setup = dwrect_setup,
  .init = dwrect_init,
  .forward = dwrect_forward,
  .backward = dwrect_backward,
  .flops = dwrect_flops,
  .tensors = dwrect_tensors,
  .spec = dwrect_spec,
};

/* ---- tt ---- */

#define TT_MAX_D 8

typedef struct {
  int d;
  int m[TT_MAX_D], n[TT_MAX_D], r[TT_MAX_D + 1];
  gsize core_off[TT_MAX_D + 1]; /* core k at l->w + core_off[k]; bias at core_off[d] */
  gsize rest[TT_MAX_D];         /* per sample: columns of Z_(k-1) / n = the "rest" of step k */
  gsize z_off[TT_MAX_D];        /* per sample offset of the saved Z_(k-1) */
  gsize z_total, maxsz;         /* per sample */
  int M, N;
} TT;

static const char *const tt_core_names[TT_MAX_D] = {
  "core1", "core2", "core3", "core4", "core5", "core6", "core7", "core8",
};

static gboolean
parse_modes (const FwLayer *l, const char *s, const char *what, int *v, int max, int *count,
             GError **error)
{
  g_auto (GStrv) parts = g_strsplit (s, "x", -1);
  int n = (int) g_strv_length (parts);
  if (n < 1 || n > max)
    goto bad;
  for (int i = 0; i < n; i++)
    {
      char *end = NULL;
      long x = strtol (parts[i], &end, 10);
      if (end == parts[i] || *end != '\0' || x < 1 || x > 65536)
        goto bad;
      v[i] = (int) x;
    }
  *count = n;
  return TRUE;
bad:
  g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
               "layer %d (%s): %s '%s' should be up to %d positive integers joined by 'x' "
               "(e.g. 4x8x8)", l->index + 1, l->klass->name, what, s, max);
  return FALSE;
}

static void
tt_finalize (FwLayer *l)
{
  g_clear_pointer (&l->priv, g_free);
}

static gboolean
tt_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  if (n_args != 3)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d (tt): expected tt:OUTMODES:INMODES:RANKS (e.g. "
                   "tt:4x8x8:16x7x7:8x8), got %d arguments", l->index + 1, n_args);
      return FALSE;
    }
  TT *t = g_new0 (TT, 1);
  l->priv = t;
  int dm, dn, dr = 0;
  if (!parse_modes (l, args[0], "output modes", t->m, TT_MAX_D, &dm, error)
      || !parse_modes (l, args[1], "input modes", t->n, TT_MAX_D, &dn, error))
    return FALSE;
  if (dm != dn || dm < 2)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d (tt): %d output modes and %d input modes; give the same number, "
                   "at least 2", l->index + 1, dm, dn);
      return FALSE;
    }
  t->d = dm;
  if (!parse_modes (l, args[2], "ranks", t->r + 1, TT_MAX_D, &dr, error))
    return FALSE;
  if (dr != t->d - 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d (tt): %d modes need %d ranks, got %d (%s)", l->index + 1, t->d,
                   t->d - 1, dr, args[2]);
      return FALSE;
    }
  t->r[0] = t->r[t->d] = 1;
  t->M = t->N = 1;
  for (int k = 0; k < t->d; k++)
    {
      t->M *= t->m[k];
      t->N *= t->n[k];
    }
  if ((gsize) t->N != fw_shape_size (l->in))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d (tt): input modes %s multiply to %d but the input has %zu values",
                   l->index + 1, args[1], t->N, fw_shape_size (l->in));
      return FALSE;
    }
  gsize off = 0, zoff = 0;
  /* rest of step k: N_(k+1)..N_d M_1..M_(k-1) (per sample) */
  for (int k = 0; k < t->d; k++)
    {
      gsize rest = 1;
      for (int q = k + 1; q < t->d; q++)
        rest *= t->n[q];
      for (int q = 0; q < k; q++)
        rest *= t->m[q];
      t->rest[k] = rest;
      t->core_off[k] = off;
      off += (gsize) t->m[k] * t->r[k + 1] * t->r[k] * t->n[k];
      t->z_off[k] = zoff;
      gsize zin = (gsize) t->r[k] * t->n[k] * rest, tout = (gsize) t->m[k] * t->r[k + 1] * rest;
      zoff += zin;
      t->maxsz = MAX (t->maxsz, MAX (zin, tout));
    }
  t->core_off[t->d] = off;
  t->z_total = zoff;
  l->out = (FwShape) { t->M, 1, 1 };
  l->n_w = off + t->M;
  l->scratch_per_sample = t->z_total + 3 * t->maxsz;
  return TRUE;
}

static void
tt_init (FwLayer *l, FwRng *rng)
{
  TT *t = l->priv;
  /* Var W = prod_k s_k^2 * prod of the inner ranks; aim at 1 / (3 N) (uniform fan-in) */
  double ranks = 1;
  for (int k = 1; k < t->d; k++)
    ranks *= t->r[k];
  double s = sqrt (pow (1.0 / (3.0 * t->N) / ranks, 1.0 / t->d));
  for (gsize i = 0; i < t->core_off[t->d]; i++)
    l->w[i] = (float) (s * fw_rng_normal (rng));
  fw_init_uniform_fan_in (l->w + t->core_off[t->d], t->M, t->N, rng);
}

/* dst [cols x rows] = src [rows x cols]^T */
static void
transpose (const float *restrict src, gsize rows, gsize cols, float *restrict dst)
{
  const gsize B = 32;
  for (gsize i0 = 0; i0 < rows; i0 += B)
    for (gsize j0 = 0; j0 < cols; j0 += B)
      {
        gsize i1 = MIN (i0 + B, rows), j1 = MIN (j0 + B, cols);
        for (gsize i = i0; i < i1; i++)
          for (gsize j = j0; j < j1; j++)
            dst[j * rows + i] = src[i * cols + j];
      }
}

static void
tt_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  TT *t = l->priv;
  float *z = l->scratch, *tb = l->scratch + (gsize) n * t->z_total;
  transpose (x, n, t->N, z);
  for (int k = 0; k < t->d; k++)
    {
      int rows = t->m[k] * t->r[k + 1], inner = t->r[k] * t->n[k];
      gsize cols = (gsize) n * t->rest[k];
      float *zk = z + (gsize) n * t->z_off[k];
      fw_sgemm (FALSE, FALSE, rows, (int) cols, inner, 1.0f, l->w + t->core_off[k], inner, zk,
                (int) cols, 0.0f, tb, (int) cols);
      float *dst = k + 1 < t->d ? z + (gsize) n * t->z_off[k + 1] : y;
      transpose (tb, t->m[k], (gsize) t->r[k + 1] * cols, dst);
    }
  const float *b = l->w + t->core_off[t->d];
  for (int j = 0; j < n; j++)
    for (int i = 0; i < t->M; i++)
      y[(gsize) j * t->M + i] += b[i];
}

static void
tt_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  TT *t = l->priv;
  float *z = l->scratch, *dz = l->scratch + (gsize) n * t->z_total;
  float *dtb = dz + (gsize) n * t->maxsz, *dz2 = dtb + (gsize) n * t->maxsz;
  float *gb = l->gw + t->core_off[t->d];
  memset (gb, 0, sizeof (float) * t->M);
  for (int j = 0; j < n; j++)
    for (int i = 0; i < t->M; i++)
      gb[i] += dy[(gsize) j * t->M + i];
  const float *cur = dy; /* dZ_k */
  for (int k = t->d - 1; k >= 0; k--)
    {
      int rows = t->m[k] * t->r[k + 1], inner = t->r[k] * t->n[k];
      gsize cols = (gsize) n * t->rest[k];
      /* dT [m_k x (r_(k+1) cols)] from dZ_k [(r_(k+1) cols) x m_k] */
      transpose (cur, (gsize) t->r[k + 1] * cols, t->m[k], dtb);
      const float *zk = z + (gsize) n * t->z_off[k];
      fw_sgemm (FALSE, TRUE, rows, inner, (int) cols, 1.0f, dtb, (int) cols, zk, (int) cols,
                0.0f, l->gw + t->core_off[k], inner);
      if (k == 0 && dx == NULL)
        break;
      float *out = cur == dz ? dz2 : dz;
      fw_sgemm (TRUE, FALSE, inner, (int) cols, rows, 1.0f, l->w + t->core_off[k], inner, dtb,
                (int) cols, 0.0f, out, (int) cols);
      cur = out;
    }
  if (dx != NULL)
    transpose (cur, t->N, n, dx);
}

static double
tt_flops (const FwLayer *l)
{
  const TT *t = l->priv;
  double f = 0;
  for (int k = 0; k < t->d; k++)
    f += 2.0 * t->m[k] * t->r[k + 1] * t->r[k] * t->n[k] * (double) t->rest[k];
  return f + t->M;
}

static int
tt_tensors (const FwLayer *l, FwTensorInfo *out)
{
  const TT *t = l->priv;
  for (int k = 0; k < t->d; k++)
    out[k] = (FwTensorInfo) { tt_core_names[k], TRUE, t->core_off[k], 4,
                              { t->m[k], t->r[k + 1], t->r[k], t->n[k] } };
  out[t->d] = (FwTensorInfo) { "bias", TRUE, t->core_off[t->d], 1, { t->M } };
  return t->d + 1;
}

static void
append_modes (GString *s, const int *v, int n)
{
  for (int i = 0; i < n; i++)
    g_string_append_printf (s, i > 0 ? "x%d" : "%d", v[i]);
}

static char *
tt_spec (const FwLayer *l)
{
  const TT *t = l->priv;
  GString *s = g_string_new ("tt:");
  append_modes (s, t->m, t->d);
  g_string_append_c (s, ':');
  append_modes (s, t->n, t->d);
  g_string_append_c (s, ':');
  append_modes (s, t->r + 1, t->d - 1);
  return g_string_free (s, FALSE);
}

const FwLayerClass fw_layer_tt = {
  .name = "tt",
  .help = "tt:M1xM2..:N1xN2..:R1x..  dense layer in tensor-train form (out modes, in modes, "
          "TT-ranks)",
  .setup = tt_setup,
  .init = tt_init,
  .forward = tt_forward,
  .backward = tt_backward,
  .flops = tt_flops,
  .tensors = tt_tensors,
  .spec = tt_spec,
  .finalize = tt_finalize,
};

/* ---- ht:M1xM2xM3xM4:N1xN2xN3xN4:R0xR1xR2xR3xR12xR34 ----
 * A dense layer [M x N] in hierarchical Tucker form over the tree {{0,1},{2,3}}: mode k of the
 * weight tensor is (i_k, j_k) of size d_k = M_k N_k (index i_k N_k + j_k). Parameters:
 *   U_k [d_k x R_k] (k = 0..3), B12 [(R0 R1) x R12], B34 [(R2 R3) x R34], root [R12 x R34],
 *   bias [M], in this order.
 *   W[(i0 i1 i2 i3)][(j0 j1 j2 j3)] = sum_{a,c} F12[(i0 j0)(i1 j1)][a] root[a][c]
 *                                             F34[(i2 j2)(i3 j3)][c]
 *   F12 = (U0 (x) U1) B12, F34 = (U2 (x) U3) B34 (the frames of the two inner nodes)
 * Forward: the two node frames are formed (small: d0 d1 R12 floats) and rearranged as
 * A12 [M01 x (N01 R12)] and E34 [N23 x (M23 R34)]; with x seen as [n N01 x N23]:
 *   Q  = x E34                [n N01 x M23 R34]
 *   S  = Q root^T             [n N01 M23 x R12]
 *   y_n = A12 S'_n            [M01 x M23], S'_n = S_n rearranged as [(N01 R12) x M23]
 * Backward runs the same products transposed, then back through the frames to U, B. */

typedef struct {
  int m[4], n[4], d[4], r[6];
  int M, N, M01, M23, N01, N23;
  gsize off[8];                 /* U0..U3, B12, B34, root, bias in l->w */
  gsize p12, f12, p34, f34;     /* sizes (floats) of the node buffers */
  gsize q, s;                   /* per sample: Q and S */
} HT;

static const char *const ht_names[7] = { "u0", "u1", "u2", "u3", "b12", "b34", "root" };

static gboolean
ht_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  if (n_args != 3)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d (ht): expected ht:OUTMODES:INMODES:RANKS with 4 modes each and 6 "
                   "ranks (e.g. ht:4x4x4x4:7x4x7x4:8x8x8x8x8x8), got %d arguments",
                   l->index + 1, n_args);
      return FALSE;
    }
  HT *h = g_new0 (HT, 1);
  l->priv = h;
  int cm, cn, cr;
  if (!parse_modes (l, args[0], "output modes", h->m, 4, &cm, error)
      || !parse_modes (l, args[1], "input modes", h->n, 4, &cn, error)
      || !parse_modes (l, args[2], "ranks", h->r, 6, &cr, error))
    return FALSE;
  if (cm != 4 || cn != 4 || cr != 6)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d (ht): needs exactly 4 output modes, 4 input modes and 6 ranks "
                   "(R0xR1xR2xR3xR12xR34)", l->index + 1);
      return FALSE;
    }
  for (int k = 0; k < 4; k++)
    h->d[k] = h->m[k] * h->n[k];
  h->M01 = h->m[0] * h->m[1];
  h->M23 = h->m[2] * h->m[3];
  h->N01 = h->n[0] * h->n[1];
  h->N23 = h->n[2] * h->n[3];
  h->M = h->M01 * h->M23;
  h->N = h->N01 * h->N23;
  if ((gsize) h->N != fw_shape_size (l->in))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d (ht): input modes %s multiply to %d but the input has %zu values",
                   l->index + 1, args[1], h->N, fw_shape_size (l->in));
      return FALSE;
    }
  gsize sizes[8] = { (gsize) h->d[0] * h->r[0], (gsize) h->d[1] * h->r[1],
                     (gsize) h->d[2] * h->r[2], (gsize) h->d[3] * h->r[3],
                     (gsize) h->r[0] * h->r[1] * h->r[4], (gsize) h->r[2] * h->r[3] * h->r[5],
                     (gsize) h->r[4] * h->r[5], (gsize) h->M };
  gsize off = 0;
  for (int q = 0; q < 8; q++)
    {
      h->off[q] = off;
      off += sizes[q];
    }
  h->p12 = (gsize) h->d[0] * h->r[1] * h->r[4];
  h->f12 = (gsize) h->d[0] * h->d[1] * h->r[4];
  h->p34 = (gsize) h->d[2] * h->r[3] * h->r[5];
  h->f34 = (gsize) h->d[2] * h->d[3] * h->r[5];
  h->q = (gsize) h->N01 * h->M23 * h->r[5];
  h->s = (gsize) h->N01 * h->M23 * h->r[4];
  l->out = (FwShape) { h->M, 1, 1 };
  l->n_w = off;
  /* fixed: P, F, A (and their gradients) of both nodes; per sample: Q, S, S' and gradients */
  l->scratch_fixed = 2 * (h->p12 + 2 * h->f12) + 2 * (h->p34 + 2 * h->f34);
  l->scratch_per_sample = 2 * (h->q + 2 * h->s);
  return TRUE;
}

static void
ht_init (FwLayer *l, FwRng *rng)
{
  HT *h = l->priv;
  /* leaves and transfer tensors with variance 1 / rows (about orthonormal columns): the frame
   * entries then have variance 1 / (d0 d1) and 1 / (d2 d3), and W = F12 root F34^T has
   * variance R12 R34 Var(root) / (M N); the root's variance makes that 1 / (3 N) */
  for (int q = 0; q < 6; q++)
    {
      int rows = q < 4 ? h->d[q] : (q == 4 ? h->r[0] * h->r[1] : h->r[2] * h->r[3]);
      gsize n = h->off[q + 1] - h->off[q];
      for (gsize i = 0; i < n; i++)
        l->w[h->off[q] + i] = (float) (fw_rng_normal (rng) / sqrt (rows));
    }
  double s = sqrt ((double) h->M / (3.0 * h->r[4] * h->r[5]));
  for (gsize i = h->off[6]; i < h->off[7]; i++)
    l->w[i] = (float) (s * fw_rng_normal (rng));
  fw_init_uniform_fan_in (l->w + h->off[7], h->M, h->N, rng);
}

/* P [d0 x (r1 rr)] = U0 B, F[p] [d1 x rr] = U1 P[p] */
static void
ht_frame (const float *u0, const float *u1, const float *b, int d0, int d1, int r0, int r1,
          int rr, float *p, float *f)
{
  fw_sgemm (FALSE, FALSE, d0, r1 * rr, r0, 1.0f, u0, r0, b, r1 * rr, 0.0f, p, r1 * rr);
  for (int q = 0; q < d0; q++)
    fw_sgemm (FALSE, FALSE, d1, rr, r1, 1.0f, u1, r1, p + (gsize) q * r1 * rr, rr, 0.0f,
              f + (gsize) q * d1 * rr, rr);
}

/* The adjoint of ht_frame: gradients of U0, U1, B from dF (dp: scratch [d0 x r1 rr]) */
static void
ht_frame_back (const float *u0, const float *u1, const float *b, int d0, int d1, int r0, int r1,
               int rr, const float *p, const float *df, float *dp, float *gu0, float *gu1,
               float *gb)
{
  for (int q = 0; q < d0; q++)
    {
      const float *dfq = df + (gsize) q * d1 * rr;
      fw_sgemm (FALSE, TRUE, d1, r1, rr, 1.0f, dfq, rr, p + (gsize) q * r1 * rr, rr,
                q == 0 ? 0.0f : 1.0f, gu1, r1);
      fw_sgemm (TRUE, FALSE, r1, rr, d1, 1.0f, u1, r1, dfq, rr, 0.0f,
                dp + (gsize) q * r1 * rr, rr);
    }
  fw_sgemm (FALSE, TRUE, d0, r0, r1 * rr, 1.0f, dp, r1 * rr, b, r1 * rr, 0.0f, gu0, r0);
  fw_sgemm (TRUE, FALSE, r0, r1 * rr, d0, 1.0f, u0, r0, dp, r1 * rr, 0.0f, gb, r1 * rr);
}

/* F [(i0 j0)][(i1 j1)][a] <-> left: A [(i0 i1)][(j0 j1)][a], right: E [(j0 j1)][(i0 i1)][a]
 * (to_node: F -> A/E; else back, overwriting F) */
static void
ht_rearrange (int m0, int n0, int m1, int n1, int rr, gboolean left, gboolean to_node,
              float *f, float *a)
{
  int d1 = m1 * n1, M = m0 * m1, N = n0 * n1;
  for (int i0 = 0; i0 < m0; i0++)
    for (int j0 = 0; j0 < n0; j0++)
      for (int i1 = 0; i1 < m1; i1++)
        for (int j1 = 0; j1 < n1; j1++)
          {
            gsize fo = ((gsize) (i0 * n0 + j0) * d1 + (i1 * n1 + j1)) * rr;
            int ii = i0 * m1 + i1, jj = j0 * n1 + j1;
            gsize ao = left ? ((gsize) ii * N + jj) * rr : ((gsize) jj * M + ii) * rr;
            if (to_node)
              memcpy (a + ao, f + fo, sizeof (float) * rr);
            else
              memcpy (f + fo, a + ao, sizeof (float) * rr);
          }
}

typedef struct {
  float *p12, *f12, *a12, *p34, *f34, *e34;      /* forward */
  float *dp12, *df12, *da12, *dp34, *df34, *de34; /* backward */
  float *q, *s, *sp, *dq, *ds, *dsp;              /* per batch */
} HTBufs;

static HTBufs
ht_bufs (const FwLayer *l, int n)
{
  const HT *h = l->priv;
  float *c = l->scratch;
  HTBufs b;
  float **fixed[12] = { &b.p12, &b.f12, &b.a12, &b.p34, &b.f34, &b.e34,
                        &b.dp12, &b.df12, &b.da12, &b.dp34, &b.df34, &b.de34 };
  gsize fs[6] = { h->p12, h->f12, h->f12, h->p34, h->f34, h->f34 };
  for (int q = 0; q < 12; q++)
    {
      *fixed[q] = c;
      c += fs[q % 6];
    }
  float **per[6] = { &b.q, &b.s, &b.sp, &b.dq, &b.ds, &b.dsp };
  gsize ps[3] = { h->q, h->s, h->s };
  for (int q = 0; q < 6; q++)
    {
      *per[q] = c;
      c += (gsize) n * ps[q % 3];
    }
  return b;
}

static void
ht_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  HT *h = l->priv;
  HTBufs b = ht_bufs (l, n);
  const float *w = l->w;
  ht_frame (w + h->off[0], w + h->off[1], w + h->off[4], h->d[0], h->d[1], h->r[0], h->r[1],
            h->r[4], b.p12, b.f12);
  ht_frame (w + h->off[2], w + h->off[3], w + h->off[5], h->d[2], h->d[3], h->r[2], h->r[3],
            h->r[5], b.p34, b.f34);
  ht_rearrange (h->m[0], h->n[0], h->m[1], h->n[1], h->r[4], TRUE, TRUE, b.f12, b.a12);
  ht_rearrange (h->m[2], h->n[2], h->m[3], h->n[3], h->r[5], FALSE, TRUE, b.f34, b.e34);
  int r12 = h->r[4], r34 = h->r[5];
  int rows = n * h->N01;
  /* Q = x E34, S = Q root^T */
  fw_sgemm (FALSE, FALSE, rows, h->M23 * r34, h->N23, 1.0f, x, h->N23, b.e34, h->M23 * r34,
            0.0f, b.q, h->M23 * r34);
  fw_sgemm (FALSE, TRUE, rows * h->M23, r12, r34, 1.0f, b.q, r34, w + h->off[6], r34, 0.0f,
            b.s, r12);
  /* S'[n][j01] = S[n][j01]^T ([M23 x R12] -> [R12 x M23]) */
  for (int q = 0; q < rows; q++)
    transpose (b.s + (gsize) q * h->M23 * r12, h->M23, r12, b.sp + (gsize) q * h->M23 * r12);
  const float *bias = w + h->off[7];
  for (int j = 0; j < n; j++)
    {
      float *yj = y + (gsize) j * h->M;
      for (int i = 0; i < h->M; i++)
        yj[i] = bias[i];
      fw_sgemm (FALSE, FALSE, h->M01, h->M23, h->N01 * r12, 1.0f, b.a12, h->N01 * r12,
                b.sp + (gsize) j * h->s, h->M23, 1.0f, yj, h->M23);
    }
}

static void
ht_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  HT *h = l->priv;
  HTBufs b = ht_bufs (l, n);
  const float *w = l->w;
  float *g = l->gw;
  int r12 = h->r[4], r34 = h->r[5], rows = n * h->N01;
  float *gb = g + h->off[7];
  memset (gb, 0, sizeof (float) * h->M);
  for (int j = 0; j < n; j++)
    for (int i = 0; i < h->M; i++)
      gb[i] += dy[(gsize) j * h->M + i];
  /* y_n = A12 S'_n */
  for (int j = 0; j < n; j++)
    {
      const float *dyj = dy + (gsize) j * h->M;
      fw_sgemm (FALSE, TRUE, h->M01, h->N01 * r12, h->M23, 1.0f, dyj, h->M23,
                b.sp + (gsize) j * h->s, h->M23, j == 0 ? 0.0f : 1.0f, b.da12, h->N01 * r12);
      fw_sgemm (TRUE, FALSE, h->N01 * r12, h->M23, h->M01, 1.0f, b.a12, h->N01 * r12, dyj,
                h->M23, 0.0f, b.dsp + (gsize) j * h->s, h->M23);
    }
  for (int q = 0; q < rows; q++)
    transpose (b.dsp + (gsize) q * h->M23 * r12, r12, h->M23, b.ds + (gsize) q * h->M23 * r12);
  /* S = Q root^T */
  fw_sgemm (TRUE, FALSE, r12, r34, rows * h->M23, 1.0f, b.ds, r12, b.q, r34, 0.0f,
            g + h->off[6], r34);
  fw_sgemm (FALSE, FALSE, rows * h->M23, r34, r12, 1.0f, b.ds, r12, w + h->off[6], r34, 0.0f,
            b.dq, r34);
  /* Q = x E34 */
  fw_sgemm (TRUE, FALSE, h->N23, h->M23 * r34, rows, 1.0f, x, h->N23, b.dq, h->M23 * r34,
            0.0f, b.de34, h->M23 * r34);
  if (dx != NULL)
    fw_sgemm (FALSE, TRUE, rows, h->N23, h->M23 * r34, 1.0f, b.dq, h->M23 * r34, b.e34,
              h->M23 * r34, 0.0f, dx, h->N23);
  /* back through the frames */
  ht_rearrange (h->m[0], h->n[0], h->m[1], h->n[1], r12, TRUE, FALSE, b.df12, b.da12);
  ht_rearrange (h->m[2], h->n[2], h->m[3], h->n[3], r34, FALSE, FALSE, b.df34, b.de34);
  ht_frame_back (w + h->off[0], w + h->off[1], w + h->off[4], h->d[0], h->d[1], h->r[0],
                 h->r[1], r12, b.p12, b.df12, b.dp12, g + h->off[0], g + h->off[1],
                 g + h->off[4]);
  ht_frame_back (w + h->off[2], w + h->off[3], w + h->off[5], h->d[2], h->d[3], h->r[2],
                 h->r[3], r34, b.p34, b.df34, b.dp34, g + h->off[2], g + h->off[3],
                 g + h->off[5]);
}

static double
ht_flops (const FwLayer *l)
{
  const HT *h = l->priv;
  double r12 = h->r[4], r34 = h->r[5];
  return 2.0 * h->N01 * h->N23 * h->M23 * r34 + 2.0 * h->N01 * h->M23 * r34 * r12
         + 2.0 * h->M01 * h->N01 * r12 * h->M23 + h->M;
}

static int
ht_tensors (const FwLayer *l, FwTensorInfo *t)
{
  const HT *h = l->priv;
  for (int k = 0; k < 4; k++)
    t[k] = (FwTensorInfo) { ht_names[k], TRUE, h->off[k], 2, { h->d[k], h->r[k] } };
  t[4] = (FwTensorInfo) { ht_names[4], TRUE, h->off[4], 3, { h->r[0], h->r[1], h->r[4] } };
  t[5] = (FwTensorInfo) { ht_names[5], TRUE, h->off[5], 3, { h->r[2], h->r[3], h->r[5] } };
  t[6] = (FwTensorInfo) { ht_names[6], TRUE, h->off[6], 2, { h->r[4], h->r[5] } };
  t[7] = (FwTensorInfo) { "bias", TRUE, h->off[7], 1, { h->M } };
  return 8;
}

static char *
ht_spec (const FwLayer *l)
{
  const HT *h = l->priv;
  GString *s = g_string_new ("ht:");
  append_modes (s, h->m, 4);
  g_string_append_c (s, ':');
  append_modes (s, h->n, 4);
  g_string_append_c (s, ':');
  append_modes (s, h->r, 6);
  return g_string_free (s, FALSE);
}

const FwLayerClass fw_layer_ht = {
  .name = "ht",
  .help = "ht:M1x..xM4:N1x..xN4:R0x..xR3xR12xR34  dense layer in hierarchical Tucker form",
  .setup = ht_setup,
  .init = ht_init,
  .forward = ht_forward,
  .backward = ht_backward,
  .flops = ht_flops,
  .tensors = ht_tensors,
  .spec = ht_spec,
  .finalize = tt_finalize,
};
