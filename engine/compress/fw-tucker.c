/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-tucker.c: Tucker-2 of a convolution kernel over its two channel modes, and the rewrite of
 * conv:OUT:K:S:P into conv:R3:1 -> conv:R4:K:S:P -> conv:OUT:1 (Kim et al. 2016).
 *
 *   K[o][c][h][w] ~ sum_{a,b} U_out[o][a] U_in[c][b] G[a][b][h][w]
 *
 * HOSVD: U_out = leading left singular vectors of the mode-0 unfolding K_(0) [O x C H W],
 * U_in those of K_(1) [C x O H W], G = K x_0 U_out^T x_1 U_in^T. HOOI sweeps then alternate
 * U_out <- leading of (K x_1 U_in^T)_(0), U_in <- leading of (K x_0 U_out^T)_(1). */
#include "fw-decomp-private.h"

#include <math.h>
#include <string.h>

/* t [O][ri][HW] = K x_1 U_in^T (per o: ui^T [ri x C] K[o] [C x HW]) */
static void
mode1_product (const double *k, int o, int c, int hw, int ri, const double *ui, double *t)
{
  for (int i = 0; i < o; i++)
    fw_dgemm (TRUE, FALSE, ri, hw, c, ui, k + (gsize) i * c * hw, t + (gsize) i * ri * hw);
}

/* mode-1 unfolding of t [O][C][HW]: u [C x O HW] */
static void
unfold1 (const double *t, int o, int c, int hw, double *u)
{
  for (int i = 0; i < o; i++)
    for (int j = 0; j < c; j++)
      memcpy (u + (gsize) j * o * hw + (gsize) i * hw, t + ((gsize) i * c + j) * hw,
              sizeof (double) * hw);
}

double
fw_tucker2 (const double *k, int o, int c, int h, int w, int ro, int ri, int iters,
            double *uo, double *ui, double *core, GError **error)
{
  int hw = h * w;
  gsize n = (gsize) o * c * hw;
  g_autofree double *u1 = g_new (double, n);
  g_autofree double *t = g_new (double, n);
  /* HOSVD */
  if (!fw_leading_left (o, c * hw, k, ro, uo, NULL, error))
    return NAN;
  unfold1 (k, o, c, hw, u1);
  if (!fw_leading_left (c, o * hw, u1, ri, ui, NULL, error))
    return NAN;
  /* HOOI */
  for (int it = 0; it < iters; it++)
    {
      mode1_product (k, o, c, hw, ri, ui, t); /* [O x ri HW] */
      if (!fw_leading_left (o, ri * hw, t, ro, uo, NULL, error))
        return NAN;
      fw_dgemm (TRUE, FALSE, ro, c * hw, o, uo, k, t); /* [ro][C][HW] */
      unfold1 (t, ro, c, hw, u1);                      /* [C x ro HW] */
      if (!fw_leading_left (c, ro * hw, u1, ri, ui, NULL, error))
        return NAN;
    }
  /* core = (K x_0 U_out^T) x_1 U_in^T */
  fw_dgemm (TRUE, FALSE, ro, c * hw, o, uo, k, t);
  mode1_product (t, ro, c, hw, ri, ui, core);
  g_autofree double *rec = g_new (double, n);
  fw_tucker2_reconstruct (o, c, h, w, ro, ri, uo, ui, core, rec);
  return fw_rel_error (rec, k, n);
}

void
fw_tucker2_reconstruct (int o, int c, int h, int w, int ro, int ri, const double *uo,
                        const double *ui, const double *core, double *out)
{
  int hw = h * w;
  g_autofree double *t = g_new (double, (gsize) o * ri * hw);
  /* t [O][ri][HW] = U_out [O x ro] core [ro x ri HW] */
  fw_dgemm (FALSE, FALSE, o, ri * hw, ro, uo, core, t);
  /* out[i] [C x HW] = U_in [C x ri] t[i] [ri x HW] */
  for (int i = 0; i < o; i++)
    fw_dgemm (FALSE, FALSE, c, hw, ri, ui, t + (gsize) i * ri * hw, out + (gsize) i * c * hw);
}

gboolean
fw_decomp_tucker_layer (const FwLayer *l, const FwDecompConfig *cfg, FwDecompRepl *r,
                        GError **error)
{
  int O = l->iarg[0], K = l->iarg[1], S = l->iarg[2], P = l->iarg[3], C = l->in.c;
  int kk = K * K;
  gsize nw;
  g_autofree double *w = fw_decomp_weight_d (l, &nw);
  int ro, ri;
  if (cfg->rank > 0)
    {
      ro = MIN (cfg->rank, O);
      ri = MIN (cfg->rank, C);
    }
  else
    {
      /* per mode: the rank keeping `energy` of the unfolding's squared singular values */
      g_autofree double *s0 = g_new (double, MIN (O, C * kk));
      g_autofree double *s1 = g_new (double, MIN (C, O * kk));
      g_autofree double *u = g_new (double, (gsize) O * 1);
      g_autofree double *u1 = g_new (double, nw);
      g_autofree double *v = g_new (double, (gsize) C * 1);
      if (!fw_leading_left (O, C * kk, w, 1, u, s0, error))
        return FALSE;
      unfold1 (w, O, C, kk, u1);
      if (!fw_leading_left (C, O * kk, u1, 1, v, s1, error))
        return FALSE;
      ro = fw_rank_for_energy (s0, MIN (O, C * kk), cfg->energy);
      ri = fw_rank_for_energy (s1, MIN (C, O * kk), cfg->energy);
    }
  ro = MIN (ro, C * kk);
  ri = MIN (ri, O * kk);
  gsize after = (gsize) ri * C + ri + (gsize) ro * ri * kk + ro + (gsize) O * ro + O;
  if (!r->measure_only && !cfg->allow_larger && after >= nw + O)
    {
      r->note = g_strdup_printf ("Tucker ranks %dx%d would not be smaller than %d x %d x %d x %d",
                                 ro, ri, O, C, K, K);
      return TRUE;
    }
  g_autofree double *uo = g_new (double, (gsize) O * ro);
  g_autofree double *ui = g_new (double, (gsize) C * ri);
  g_autofree double *core = g_new (double, (gsize) ro * ri * kk);
  r->rel_error = fw_tucker2 (w, O, C, K, K, ro, ri, MAX (cfg->iters, 0), uo, ui, core, error);
  if (isnan (r->rel_error))
    return FALSE;
  if (r->measure_only)
    return TRUE;
  g_autofree float *a = g_new0 (float, (gsize) ri * C + ri);
  g_autofree float *g = g_new0 (float, (gsize) ro * ri * kk + ro);
  g_autofree float *b = g_new0 (float, (gsize) O * ro + O);
  for (int j = 0; j < ri; j++)
    for (int c = 0; c < C; c++)
      a[(gsize) j * C + c] = (float) ui[(gsize) c * ri + j];
  for (gsize q = 0; q < (gsize) ro * ri * kk; q++)
    g[q] = (float) core[q];
  for (gsize q = 0; q < (gsize) O * ro; q++)
    b[q] = (float) uo[q];
  memcpy (b + (gsize) O * ro, fw_decomp_bias (l), sizeof (float) * O);
  g_autofree char *t1 = g_strdup_printf ("conv:%d:1", ri);
  g_autofree char *t2 = g_strdup_printf ("conv:%d:%d:%d:%d", ro, K, S, P);
  g_autofree char *t3 = g_strdup_printf ("conv:%d:1", O);
  fw_decomp_repl_add (r, t1, a, (gsize) ri * C + ri);
  fw_decomp_repl_add (r, t2, g, (gsize) ro * ri * kk + ro);
  fw_decomp_repl_add (r, t3, b, (gsize) O * ro + O);
  r->ranks = g_strdup_printf ("%dx%d", ri, ro);
  return TRUE;
}
