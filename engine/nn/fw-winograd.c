/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-winograd.c: Winograd F(2x2, 3x3) convolution (3x3, stride 1, pad 1): forward, input
 * gradient and weight gradient as 16 batched GEMMs each.
 *
 * One dimension first. For a 3-tap filter g and a 4-sample input d, the two outputs
 * y_i = sum_k g_k d_(i+k) are
 *   y = A^T [ (G g) . (B^T d) ]          (. = element-wise, 4 products instead of 6)
 * with
 *   B^T = | 1  0 -1  0 |   G = | 1    0    0  |   A^T = | 1  1  1  0 |
 *         | 0  1  1  0 |       | 1/2  1/2  1/2 |         | 0  1 -1 -1 |
 *         | 0 -1  1  0 |       | 1/2 -1/2  1/2 |
 *         | 0  1  0 -1 |       | 0    0    1  |
 * and in two dimensions, for a 4x4 input tile d and a 3x3 filter g, the 2x2 output tile is
 *   Y = A^T [ U . V ] A,   U = G g G^T,  V = B^T d B.
 * Output tile (ti, tj) covers output rows 2ti, 2ti+1 and columns 2tj, 2tj+1; its input tile
 * is rows 2ti-1 .. 2ti+2 and columns 2tj-1 .. 2tj+2 (zero outside the plane: the padding).
 *
 * Over channels, with xi in 0..15 indexing the 4x4 transformed positions and t the tiles:
 *   M[xi][o][t] = sum_c U[xi][o][c] V[xi][c][t]     16 GEMMs [OUT x C] [C x T]
 *   Y[o][t] = A^T M[.][o][t] A (+ bias)
 *
 * Backward, from the trilinear form  sum_ij dY_ij Y_ij = sum_xi Z_xi (U . V)_xi  with
 * Z = A dY A^T (the 2x2 output gradient of a tile spread to 4x4):
 *   dU[xi][o][c] = sum_t Z[xi][o][t] V[xi][c][t]     16 GEMMs [OUT x T] [T x C]
 *   dW[o][c] = G^T dU[.][o][c] G                      (because U = G g G^T)
 *   dV[xi][c][t] = sum_o U[xi][o][c] Z[xi][o][t]      16 GEMMs [C x OUT] [OUT x T]
 *   dd = B dV B^T, added into the (overlapping) 4x4 input tiles, padding dropped
 * so the three passes share the transforms and each does 16 C OUT multiply-adds per tile
 * where im2col + GEMM does 36 (2.25x fewer).
 *
 * Layouts in scratch (nt = tiles of the group of samples, g T):
 *   U  [16][OUT][C]   transformed weights, recomputed per call (cheap: 16 OUT C)
 *   dU [16][OUT][C]   accumulated over the groups of a batch
 *   V  [16][C][nt]    transformed input tiles (reused for dV in backward)
 *   MZ [16][OUT][nt]  products M (forward) or transformed output gradient Z (backward)
 *   pad [PH x PW]     one zero-bordered plane, PH = 2 th + 2, PW = 2 tw + 2
 *
 * Precision: the transforms only add, subtract and halve, so the rounding error stays within
 * a small multiple of im2col + GEMM's (test-layers checks against double-precision loops). */
#include "fw-winograd.h"

#include <string.h>

#include "fw-gemm.h"
#include "fw-kernels.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("O3")
#endif

/* The transforms are short vector loops; on x86-64 an AVX2 copy runs where the CPU has it. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && !defined(FW_NO_IFUNC)
#define FW_WINO_CLONES __attribute__ ((target_clones ("arch=x86-64-v3", "default")))
#else
#define FW_WINO_CLONES
#endif

/* Floats of transformed tiles (V and Z) per group of samples: in L2 between the transform
 * and the products, and enough tiles for the 16-column blocks to be mostly full. */
#ifndef WINO_GROUP_FLOATS
#define WINO_GROUP_FLOATS (256 * 1024)
#endif
#define WINO_MAX_GROUP 64
/* the kernel's block: 4 rows (output or input channels) by 16 tiles */
#define WINO_MR 4
#define WINO_NR 16

typedef struct {
  int th, tw, T;     /* tile rows, tile columns, tiles per sample */
  int ph, pw;        /* padded plane */
  int outp, cp;      /* OUT and C rounded up to WINO_MR */
  gsize oc;          /* OUT C */
} Tiles;

static inline int
round_up (int n, int m)
{
  return (n + m - 1) / m * m;
}

static inline Tiles
tiles_of (const FwWinoDims *d)
{
  Tiles t;
  t.th = (d->h + 1) / 2;
  t.tw = (d->w + 1) / 2;
  t.T = t.th * t.tw;
  t.ph = 2 * t.th + 2;
  t.pw = 2 * t.tw + 2;
  t.outp = round_up (d->out, WINO_MR);
  t.cp = round_up (d->c, WINO_MR);
  t.oc = (gsize) d->out * d->c;
  return t;
}

int
fw_wino_group (const FwWinoDims *d)
{
  Tiles t = tiles_of (d);
  gsize per = (gsize) 16 * (d->c + d->out) * t.T;
  gsize g = WINO_GROUP_FLOATS / MAX (per, 1);
  return (int) CLAMP (g, 1, WINO_MAX_GROUP);
}

static inline gsize
round16 (gsize n)
{
  return (n + 15) & ~(gsize) 15;
}

/* The stride between the 16 xi slices of V or Z, rows x ntp floats plus one cache line: the
 * transforms write all 16 slices at once, and slices a multiple of 4 KiB apart would share
 * L1 sets (16 streams over 8 ways; measured 3x slower transforms at 20 KiB apart). */
static inline gsize
xi_stride (int rows, gsize ntp)
{
  return round16 ((gsize) rows * ntp) + 16;
}

/* the tiles of a full group, rounded up to whole kernel blocks */
static inline gsize
group_ntp (const FwWinoDims *d, const Tiles *t)
{
  return (gsize) round_up (fw_wino_group (d) * t->T, WINO_NR);
}

gsize
fw_wino_scratch_floats (const FwWinoDims *d)
{
  Tiles t = tiles_of (d);
  gsize ntp = group_ntp (d, &t), g = fw_wino_group (d);
  return round16 (16 * (gsize) t.outp * t.cp) + round16 (16 * t.oc)
         + 16 * xi_stride (d->c, ntp) + 16 * xi_stride (d->out, ntp)
         + round16 (g * d->c * (gsize) t.ph * t.pw) + round16 ((gsize) t.ph * t.pw)
         + 16 * (gsize) MAX (t.outp, t.cp) * WINO_NR;
}

typedef struct {
  float *U;    /* [16][OUTp][Cp] transformed weights, zero in the padding rows / columns */
  float *dU;   /* [16][OUT][C] */
  float *V;    /* [16][C][ntp] transformed input tiles (then dV, block by block) */
  float *Z;    /* [16][OUT][ntp] transformed output gradient */
  float *dpad; /* [g][C][PH][PW] input gradient with its border */
  float *pad;  /* [PH][PW] one bordered plane */
  float *buf;  /* [16][rows][16] the products of one block of 16 tiles, all xi */
} Scratch;

static Scratch
scratch_split (const FwWinoDims *d, float *s)
{
  Tiles t = tiles_of (d);
  gsize ntp = group_ntp (d, &t), g = fw_wino_group (d);
  Scratch p;
  p.U = s;
  p.dU = p.U + round16 (16 * (gsize) t.outp * t.cp);
  p.V = p.dU + round16 (16 * t.oc);
  p.Z = p.V + 16 * xi_stride (d->c, ntp);
  p.dpad = p.Z + 16 * xi_stride (d->out, ntp);
  p.pad = p.dpad + round16 (g * d->c * (gsize) t.ph * t.pw);
  p.buf = p.pad + round16 ((gsize) t.ph * t.pw);
  return p;
}

/* U[xi][o][c] = (G g G^T)[xi] for g = weight[o][c]; padding rows and columns zero */
static void
weight_transform (const FwWinoDims *d, const Tiles *tl, const float *restrict weight,
                  float *restrict U)
{
  gsize ld = (gsize) tl->outp * tl->cp;
  memset (U, 0, sizeof (float) * 16 * ld);
  for (int o = 0; o < d->out; o++)
    for (int c = 0; c < d->c; c++)
      {
        const float *g = weight + 9 * ((gsize) o * d->c + c);
        gsize f = (gsize) o * tl->cp + c;
        float a[4][3];
        /* G g: rows of the 4x3 intermediate */
        for (int q = 0; q < 3; q++)
          {
            float g0 = g[q], g1 = g[3 + q], g2 = g[6 + q];
            a[0][q] = g0;
            a[1][q] = 0.5f * (g0 + g1 + g2);
            a[2][q] = 0.5f * (g0 - g1 + g2);
            a[3][q] = g2;
          }
        /* (G g) G^T */
        for (int r = 0; r < 4; r++)
          {
            float g0 = a[r][0], g1 = a[r][1], g2 = a[r][2];
            U[(gsize) (4 * r + 0) * ld + f] = g0;
            U[(gsize) (4 * r + 1) * ld + f] = 0.5f * (g0 + g1 + g2);
            U[(gsize) (4 * r + 2) * ld + f] = 0.5f * (g0 - g1 + g2);
            U[(gsize) (4 * r + 3) * ld + f] = g2;
          }
      }
}

/* weight gradient [o][c][3][3] = G^T dU[.][o][c] G */
static void
weight_gradient (const FwWinoDims *d, const float *restrict dU, float *restrict gweight)
{
  gsize oc = (gsize) d->out * d->c;
  for (gsize f = 0; f < oc; f++)
    {
      float D[4][4], e[3][4];
      for (int xi = 0; xi < 16; xi++)
        D[xi / 4][xi % 4] = dU[(gsize) xi * oc + f];
      /* G^T D: G^T = | 1 1/2 1/2 0 ; 0 1/2 -1/2 0 ; 0 1/2 1/2 1 | */
      for (int s = 0; s < 4; s++)
        {
          float h1 = 0.5f * D[1][s], h2 = 0.5f * D[2][s];
          e[0][s] = D[0][s] + h1 + h2;
          e[1][s] = h1 - h2;
          e[2][s] = h1 + h2 + D[3][s];
        }
      /* (G^T D) G */
      float *gw = gweight + 9 * f;
      for (int r = 0; r < 3; r++)
        {
          float h1 = 0.5f * e[r][1], h2 = 0.5f * e[r][2];
          gw[3 * r + 0] = e[r][0] + h1 + h2;
          gw[3 * r + 1] = h1 - h2;
          gw[3 * r + 2] = h1 + h2 + e[r][3];
        }
    }
}

/* Zero the columns [nt, ntp) of rows [16 x rows] of stride ntp: the last block's padding. */
static void
clear_tail (float *restrict a, int rows, gsize nt, gsize ntp)
{
  if (nt == ntp)
    return;
  for (int xi = 0; xi < 16; xi++)
    for (int r = 0; r < rows; r++)
      memset (a + xi * xi_stride (rows, ntp) + (gsize) r * ntp + nt, 0,
              sizeof (float) * (ntp - nt));
}

/* V[xi][c][t] = (B^T d B)[xi] for the input tiles of samples x_0 .. x_(g-1); row stride ntp.
 * The bordered plane is kept as its even and odd columns, E[R][k] = P[R][2k] and
 * O[R][k] = P[R][2k + 1] (P = the plane with its zero border, R = row, k in 0..tw): tile tj
 * reads P columns 2tj .. 2tj + 3 = E[tj], O[tj], E[tj + 1], O[tj + 1], so every step runs
 * over consecutive tj (vectorised) instead of stride-2 gathers. */
FW_WINO_CLONES static void
input_transform (const FwWinoDims *d, const Tiles *tl, const float *restrict x, int g,
                 gsize ntp, float *restrict V, float *restrict pad)
{
  int H = d->h, W = d->w, tw = tl->tw, le = tw + 1;
  gsize ldv = xi_stride (d->c, ntp), plane = (gsize) H * W;
  float *E = pad, *O = pad + (gsize) tl->ph * le;
  /* border rows (0, and H + 1 .. ph - 1) and columns stay zero */
  memset (pad, 0, sizeof (float) * 2 * tl->ph * le);
  for (int j = 0; j < g; j++)
    for (int c = 0; c < d->c; c++)
      {
        const float *xc = x + ((gsize) j * d->c + c) * plane;
        for (int h = 0; h < H; h++)
          {
            const float *xr = xc + (gsize) h * W;
            float *er = E + (gsize) (h + 1) * le, *orow = O + (gsize) (h + 1) * le;
            /* P[h + 1][col] = x[h][col - 1]: E[k] = x[2k - 1], O[k] = x[2k] */
            for (int k = 1; 2 * k - 1 < W; k++)
              er[k] = xr[2 * k - 1];
            for (int k = 0; 2 * k < W; k++)
              orow[k] = xr[2 * k];
          }
        float *v = V + (gsize) c * ntp + (gsize) j * tl->T;
        for (int ti = 0; ti < tl->th; ti++)
          {
            const float *e0 = E + (gsize) (2 * ti) * le, *e1 = e0 + le, *e2 = e1 + le,
                        *e3 = e2 + le;
            const float *o0 = O + (gsize) (2 * ti) * le, *o1 = o0 + le, *o2 = o1 + le,
                        *o3 = o2 + le;
            float *restrict vt = v + (gsize) ti * tw;
            for (int tj = 0; tj < tw; tj++)
              {
                /* B^T d down the columns (d0 - d2, d1 + d2, d2 - d1, d1 - d3), for the four
                 * columns E[tj], O[tj], E[tj + 1], O[tj + 1] of the tile */
                float a[4][4];
                a[0][0] = e0[tj] - e2[tj];
                a[0][1] = o0[tj] - o2[tj];
                a[0][2] = e0[tj + 1] - e2[tj + 1];
                a[0][3] = o0[tj + 1] - o2[tj + 1];
                a[1][0] = e1[tj] + e2[tj];
                a[1][1] = o1[tj] + o2[tj];
                a[1][2] = e1[tj + 1] + e2[tj + 1];
                a[1][3] = o1[tj + 1] + o2[tj + 1];
                a[2][0] = e2[tj] - e1[tj];
                a[2][1] = o2[tj] - o1[tj];
                a[2][2] = e2[tj + 1] - e1[tj + 1];
                a[2][3] = o2[tj + 1] - o1[tj + 1];
                a[3][0] = e1[tj] - e3[tj];
                a[3][1] = o1[tj] - o3[tj];
                a[3][2] = e1[tj + 1] - e3[tj + 1];
                a[3][3] = o1[tj + 1] - o3[tj + 1];
                /* (B^T d) B: the same along each row */
                for (int r = 0; r < 4; r++)
                  {
                    vt[(gsize) (4 * r + 0) * ldv + tj] = a[r][0] - a[r][2];
                    vt[(gsize) (4 * r + 1) * ldv + tj] = a[r][1] + a[r][2];
                    vt[(gsize) (4 * r + 2) * ldv + tj] = a[r][2] - a[r][1];
                    vt[(gsize) (4 * r + 3) * ldv + tj] = a[r][1] - a[r][3];
                  }
              }
          }
      }
  clear_tail (V, d->c, (gsize) g * tl->T, ntp);
}

/* Z[xi][o][t] = (A dY A^T)[xi] for the 2x2 output-gradient tiles (zero beyond the plane).
 * As above, the plane as even and odd columns: E[h][k] = dy[h][2k], O[h][k] = dy[h][2k + 1],
 * k in 0..tw - 1, rows 0..2 th - 1 (zero beyond the plane). */
FW_WINO_CLONES static void
grad_transform (const FwWinoDims *d, const Tiles *tl, const float *restrict dy, int g,
                gsize ntp, float *restrict Z, float *restrict pad)
{
  int H = d->h, W = d->w, tw = tl->tw;
  gsize ldz = xi_stride (d->out, ntp), plane = (gsize) H * W;
  float *E = pad, *O = pad + (gsize) (2 * tl->th) * tw;
  memset (pad, 0, sizeof (float) * 2 * (gsize) (2 * tl->th) * tw);
  for (int j = 0; j < g; j++)
    for (int o = 0; o < d->out; o++)
      {
        const float *dyo = dy + ((gsize) j * d->out + o) * plane;
        for (int h = 0; h < H; h++)
          {
            const float *r = dyo + (gsize) h * W;
            float *er = E + (gsize) h * tw, *orow = O + (gsize) h * tw;
            for (int k = 0; 2 * k < W; k++)
              er[k] = r[2 * k];
            for (int k = 0; 2 * k + 1 < W; k++)
              orow[k] = r[2 * k + 1];
          }
        float *z = Z + (gsize) o * ntp + (gsize) j * tl->T;
        for (int ti = 0; ti < tl->th; ti++)
          {
            const float *e0 = E + (gsize) (2 * ti) * tw, *e1 = e0 + tw;
            const float *o0 = O + (gsize) (2 * ti) * tw, *o1 = o0 + tw;
            float *restrict zt = z + (gsize) ti * tw;
            for (int tj = 0; tj < tw; tj++)
              {
                /* A dY: (z0, z0 + z1, z0 - z1, -z1) down each of the 2 columns */
                float a[4][2];
                a[0][0] = e0[tj];
                a[0][1] = o0[tj];
                a[1][0] = e0[tj] + e1[tj];
                a[1][1] = o0[tj] + o1[tj];
                a[2][0] = e0[tj] - e1[tj];
                a[2][1] = o0[tj] - o1[tj];
                a[3][0] = -e1[tj];
                a[3][1] = -o1[tj];
                /* (A dY) A^T: the same along each row */
                for (int r = 0; r < 4; r++)
                  {
                    float u0 = a[r][0], u1 = a[r][1];
                    zt[(gsize) (4 * r + 0) * ldz + tj] = u0;
                    zt[(gsize) (4 * r + 1) * ldz + tj] = u0 + u1;
                    zt[(gsize) (4 * r + 2) * ldz + tj] = u0 - u1;
                    zt[(gsize) (4 * r + 3) * ldz + tj] = -u1;
                  }
              }
          }
      }
  clear_tail (Z, d->out, (gsize) g * tl->T, ntp);
}

/* Where the tiles t0 .. t0 + 15 of a group sit (computed once per block, not per channel):
 * offsets of their first output in the group's y (channel 0) and of their first input in the
 * bordered planes (channel 0), and whether their right column / lower row are in the plane. */
typedef struct {
  int n;                          /* tiles in the block (the last one may be short) */
  gsize yoff[WINO_NR], poff[WINO_NR];
  gboolean right[WINO_NR], down[WINO_NR];
} BlockPos;

static void
block_pos (const FwWinoDims *d, const Tiles *tl, int t0, int nt, BlockPos *bp)
{
  gsize plane = (gsize) d->h * d->w, pplane = (gsize) tl->ph * tl->pw;
  int j = t0 / tl->T, r = t0 % tl->T, ti = r / tl->tw, tj = r % tl->tw;
  bp->n = MIN (WINO_NR, nt - t0);
  for (int i = 0; i < bp->n; i++)
    {
      int h = 2 * ti, w = 2 * tj;
      bp->yoff[i] = (gsize) j * d->out * plane + (gsize) h * d->w + w;
      bp->poff[i] = (gsize) j * d->c * pplane + (gsize) h * tl->pw + w;
      bp->right[i] = w + 1 < d->w;
      bp->down[i] = h + 1 < d->h;
      if (++tj == tl->tw)
        {
          tj = 0;
          if (++ti == tl->th)
            {
              ti = 0;
              j++;
            }
        }
    }
}

/* One kernel block of M = U V (rows = output channels o0 .. o0 + 3, columns = tiles
 * t0 .. t0 + 15) to y: Y = A^T M A + b, cropped to the plane. buf[xi][i][jt]. */
FW_WINO_CLONES static void
output_block (const FwWinoDims *d, const BlockPos *bp, const float *restrict buf, gsize xs,
              const float *restrict bias, int o0, float *restrict y)
{
  int W = d->w;
  gsize plane = (gsize) d->h * W;
  for (int i = 0; i < WINO_MR && o0 + i < d->out; i++)
    {
      const float *m = buf + i * WINO_NR;
      float y4[4][WINO_NR];
      /* A^T M A over the 16 tiles at once: q = A^T M down columns, then along rows */
      for (int jt = 0; jt < WINO_NR; jt++)
        {
          float q0[4], q1[4];
          for (int s = 0; s < 4; s++)
            {
              float m0 = m[(0 + s) * xs + jt], m1 = m[(4 + s) * xs + jt];
              float m2 = m[(8 + s) * xs + jt], m3 = m[(12 + s) * xs + jt];
              q0[s] = m0 + m1 + m2;
              q1[s] = m1 - m2 - m3;
            }
          y4[0][jt] = q0[0] + q0[1] + q0[2];
          y4[1][jt] = q0[1] - q0[2] - q0[3];
          y4[2][jt] = q1[0] + q1[1] + q1[2];
          y4[3][jt] = q1[1] - q1[2] - q1[3];
        }
      float b = bias[o0 + i];
      float *yo = y + (gsize) (o0 + i) * plane;
      for (int jt = 0; jt < bp->n; jt++)
        {
          float *y0 = yo + bp->yoff[jt];
          if (bp->right[jt] && bp->down[jt])
            {
              y0[0] = b + y4[0][jt];
              y0[1] = b + y4[1][jt];
              y0[W] = b + y4[2][jt];
              y0[W + 1] = b + y4[3][jt];
              continue;
            }
          y0[0] = b + y4[0][jt];
          if (bp->right[jt])
            y0[1] = b + y4[1][jt];
          if (bp->down[jt])
            {
              y0[W] = b + y4[2][jt];
              if (bp->right[jt])
                y0[W + 1] = b + y4[3][jt];
            }
        }
    }
}

/* One kernel block of dV = U^T Z (rows = input channels c0 .. c0 + 3, columns = tiles) to
 * the bordered input-gradient planes: dd = B dV B^T added at the tile's input position. */
FW_WINO_CLONES static void
input_grad_block (const FwWinoDims *d, const Tiles *tl, const BlockPos *bp,
                  const float *restrict buf, gsize xs, int c0, float *restrict dpad)
{
  int pw = tl->pw;
  gsize pplane = (gsize) tl->ph * pw;
  for (int i = 0; i < WINO_MR && c0 + i < d->c; i++)
    {
      const float *v = buf + i * WINO_NR;
      float dd[16][WINO_NR];
      for (int jt = 0; jt < WINO_NR; jt++)
        {
          /* dV B^T along each row: B = | 1 0 0 0 ; 0 1 -1 1 ; -1 1 1 0 ; 0 0 0 -1 |,
           * (v0, v1 - v2 + v3, v1 + v2 - v0, -v3) */
          float a[4][4];
          for (int r = 0; r < 4; r++)
            {
              float v0 = v[(4 * r + 0) * xs + jt], v1 = v[(4 * r + 1) * xs + jt];
              float v2 = v[(4 * r + 2) * xs + jt], v3 = v[(4 * r + 3) * xs + jt];
              a[r][0] = v0;
              a[r][1] = v1 - v2 + v3;
              a[r][2] = v1 + v2 - v0;
              a[r][3] = -v3;
            }
          /* B (dV B^T): the same down each column */
          for (int q = 0; q < 4; q++)
            {
              dd[0 + q][jt] = a[0][q];
              dd[4 + q][jt] = a[1][q] - a[2][q] + a[3][q];
              dd[8 + q][jt] = a[1][q] + a[2][q] - a[0][q];
              dd[12 + q][jt] = -a[3][q];
            }
        }
      /* the tile's input rows h - 1 .. h + 2 are the bordered plane's rows h .. h + 3 */
      float *pc = dpad + (gsize) (c0 + i) * pplane;
      for (int jt = 0; jt < bp->n; jt++)
        {
          float *r0 = pc + bp->poff[jt];
          for (int r = 0; r < 4; r++)
            for (int q = 0; q < 4; q++)
              r0[(gsize) r * pw + q] += dd[4 * r + q][jt];
        }
    }
}

void
fw_wino_forward (const FwWinoDims *d, const float *weight, const float *bias, const float *x,
                 float *y, int n, float *scratch)
{
  Tiles tl = tiles_of (d);
  Scratch s = scratch_split (d, scratch);
  int group = fw_wino_group (d);
  gsize in_size = (gsize) d->c * d->h * d->w, out_size = (gsize) d->out * d->h * d->w;
  gsize ldu = (gsize) tl.outp * tl.cp;
  weight_transform (d, &tl, weight, s.U);
  for (int j0 = 0; j0 < n; j0 += group)
    {
      int g = MIN (group, n - j0), nt = g * tl.T;
      gsize ntp = (gsize) round_up (nt, WINO_NR);
      input_transform (d, &tl, x + (gsize) j0 * in_size, g, ntp, s.V, s.pad);
      float *yg = y + (gsize) j0 * out_size;
      /* per block of 16 tiles and 4 output channels, for each xi:
       *   M[xi] [4 x 16] <- U[xi] [4 x C] V[xi] [C x 16], then straight to y */
      for (int t0 = 0; t0 < nt; t0 += WINO_NR)
        {
          BlockPos bp;
          block_pos (d, &tl, t0, nt, &bp);
          /* xi outermost: V[xi]'s 16 columns (C rows) and U[xi] stay in L1 over the rows;
           * buf[xi][o][jt] gathers the block's products for the output transform */
          gsize xs = (gsize) tl.outp * WINO_NR;
          for (int xi = 0; xi < 16; xi++)
            for (int o0 = 0; o0 < d->out; o0 += WINO_MR)
              fw_kernel_gemm4x16_batch (1, d->c, s.U + xi * ldu + (gsize) o0 * tl.cp, 0, tl.cp,
                                        1, s.V + xi * xi_stride (d->c, ntp) + t0, 0, (int) ntp,
                                        s.buf + xi * xs + (gsize) o0 * WINO_NR);
          for (int o0 = 0; o0 < d->out; o0 += WINO_MR)
            output_block (d, &bp, s.buf + (gsize) o0 * WINO_NR, xs, bias, o0, yg);
        }
    }
}

void
fw_wino_backward (const FwWinoDims *d, const float *weight, const float *x, const float *dy,
                  float *gweight, float *dx, int n, float *scratch)
{
  Tiles tl = tiles_of (d);
  Scratch s = scratch_split (d, scratch);
  int group = fw_wino_group (d);
  gsize in_size = (gsize) d->c * d->h * d->w, out_size = (gsize) d->out * d->h * d->w;
  gsize ldu = (gsize) tl.outp * tl.cp, pplane = (gsize) tl.ph * tl.pw;
  if (dx != NULL)
    weight_transform (d, &tl, weight, s.U);
  for (int j0 = 0; j0 < n; j0 += group)
    {
      int g = MIN (group, n - j0), nt = g * tl.T;
      gsize ntp = (gsize) round_up (nt, WINO_NR);
      input_transform (d, &tl, x + (gsize) j0 * in_size, g, ntp, s.V, s.pad);
      grad_transform (d, &tl, dy + (gsize) j0 * out_size, g, ntp, s.Z, s.pad);
      /* dU[xi] [OUT x C] += Z[xi] [OUT x nt] V[xi]^T [nt x C]: k = nt is long, a BLAS call */
      for (int xi = 0; xi < 16; xi++)
        fw_sgemm (FALSE, TRUE, d->out, d->c, nt, 1.0f, s.Z + xi * xi_stride (d->out, ntp),
                  (int) ntp, s.V + xi * xi_stride (d->c, ntp), (int) ntp, j0 == 0 ? 0.0f : 1.0f,
                  s.dU + xi * tl.oc, d->c);
      if (dx == NULL)
        continue;
      /* per block of 16 tiles and 4 input channels, for each xi:
       *   dV[xi] [4 x 16] <- U[xi]^T [4 x OUT] Z[xi] [OUT x 16], then into dx's tiles */
      memset (s.dpad, 0, sizeof (float) * g * d->c * pplane);
      for (int t0 = 0; t0 < nt; t0 += WINO_NR)
        {
          BlockPos bp;
          block_pos (d, &tl, t0, nt, &bp);
          gsize xs = (gsize) tl.cp * WINO_NR;
          for (int xi = 0; xi < 16; xi++)
            for (int c0 = 0; c0 < d->c; c0 += WINO_MR)
              fw_kernel_gemm4x16_batch (1, d->out, s.U + xi * ldu + c0, 0, 1, tl.cp,
                                        s.Z + xi * xi_stride (d->out, ntp) + t0, 0, (int) ntp,
                                        s.buf + xi * xs + (gsize) c0 * WINO_NR);
          for (int c0 = 0; c0 < d->c; c0 += WINO_MR)
            input_grad_block (d, &tl, &bp, s.buf + (gsize) c0 * WINO_NR, xs, c0, s.dpad);
        }
      for (int j = 0; j < g; j++)
        for (int c = 0; c < d->c; c++)
          {
            const float *src = s.dpad + ((gsize) j * d->c + c) * pplane + tl.pw + 1;
            float *dst = dx + (gsize) (j0 + j) * in_size + (gsize) c * d->h * d->w;
            for (int h = 0; h < d->h; h++)
              memcpy (dst + (gsize) h * d->w, src + (gsize) h * tl.pw, sizeof (float) * d->w);
          }
    }
  weight_gradient (d, s.dU, gweight);
}
