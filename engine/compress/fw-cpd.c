/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-cpd.c: CP (CANDECOMP/PARAFAC) decomposition by alternating least squares, and the CP
 * rewrite of a convolution into 1x1 -> Kx1 -> 1xK -> 1x1 (Lebedev et al. 2015).
 *
 * ALS (Kolda & Bader 2009, section 3.4): for each mode n in turn, with the other factors fixed,
 *   F_n <- X_(n) (KR of the other factors) V^+,  V = Hadamard product of F_k^T F_k (k != n)
 * where X_(n) (KR ...) is computed entry by entry ("MTTKRP": M[i_n][r] += x * prod_k F_k[i_k][r])
 * and V^+ by a Cholesky solve of the R x R system (with a tiny ridge when V is singular).
 * Columns are normalised after each update, their norms kept in lambda and folded into the
 * first factor at the end. Initialisation: the leading left singular vectors of each mode
 * unfolding (HOSVD), random normal columns beyond the mode's size. */
#include "fw-decomp-private.h"

#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "fw-rng.h"

#define CP_MAX_D 6

static gsize
numel (int d, const int *dims)
{
  gsize n = 1;
  for (int k = 0; k < d; k++)
    n *= (gsize) dims[k];
  return n;
}

/* next multi-index in row-major order */
static inline void
inc_index (int d, const int *dims, int *idx)
{
  for (int k = d - 1; k >= 0; k--)
    {
      if (++idx[k] < dims[k])
        return;
      idx[k] = 0;
    }
}

/* mode-n unfolding u [dims[n] x numel / dims[n]] (the other indices in row-major order) */
static void
unfold (const double *x, int d, const int *dims, int n, double *u)
{
  gsize total = numel (d, dims), rest = total / dims[n];
  int idx[CP_MAX_D] = { 0 };
  for (gsize f = 0; f < total; f++)
    {
      gsize col = 0;
      for (int k = 0; k < d; k++)
        if (k != n)
          col = col * dims[k] + idx[k];
      u[(gsize) idx[n] * rest + col] = x[f];
      inc_index (d, dims, idx);
    }
}

void
fw_cp_reconstruct (int d, const int *dims, int rank, double *const *factors, double *out)
{
  gsize total = numel (d, dims);
  int idx[CP_MAX_D] = { 0 };
  for (gsize f = 0; f < total; f++)
    {
      double s = 0;
      for (int r = 0; r < rank; r++)
        {
          double p = 1;
          for (int k = 0; k < d; k++)
            p *= factors[k][(gsize) idx[k] * rank + r];
          s += p;
        }
      out[f] = s;
      inc_index (d, dims, idx);
    }
}

double
fw_cp_als (const double *x, int d, const int *dims, int rank, int iters, guint64 seed,
           double **factors)
{
  g_assert (d >= 2 && d <= CP_MAX_D && rank >= 1);
  gsize total = numel (d, dims);
  FwRng rng;
  fw_rng_init (&rng, seed);
  for (int k = 0; k < d; k++)
    {
      int nk = dims[k], lead = MIN (rank, nk);
      gsize rest = total / nk;
      lead = MIN (lead, (int) rest);
      g_autofree double *u = g_new (double, total);
      g_autofree double *lu = g_new (double, (gsize) nk * MAX (lead, 1));
      unfold (x, d, dims, k, u);
      gboolean have = lead > 0 && fw_leading_left (nk, (int) rest, u, lead, lu, NULL, NULL);
      for (int i = 0; i < nk; i++)
        for (int r = 0; r < rank; r++)
          factors[k][(gsize) i * rank + r] = have && r < lead ? lu[(gsize) i * lead + r]
                                                             : fw_rng_normal (&rng) / sqrt (nk);
    }
  g_autofree double *lambda = g_new (double, rank);
  for (int r = 0; r < rank; r++)
    lambda[r] = 1;
  g_autofree double *v = g_new (double, (gsize) rank * rank);
  g_autofree double *gram = g_new (double, (gsize) rank * rank);
  g_autofree double *prod = g_new (double, rank);
  int maxdim = 0;
  for (int k = 0; k < d; k++)
    maxdim = MAX (maxdim, dims[k]);
  g_autofree double *m = g_new (double, (gsize) maxdim * rank);
  g_autofree double *mt = g_new (double, (gsize) maxdim * rank);

  for (int it = 0; it < iters; it++)
    for (int n = 0; n < d; n++)
      {
        /* V = Hadamard of the Grams of the other factors */
        for (gsize q = 0; q < (gsize) rank * rank; q++)
          v[q] = 1;
        for (int k = 0; k < d; k++)
          {
            if (k == n)
              continue;
            fw_dgemm (TRUE, FALSE, rank, rank, dims[k], factors[k], factors[k], gram);
            for (gsize q = 0; q < (gsize) rank * rank; q++)
              v[q] *= gram[q];
          }
        /* MTTKRP */
        memset (m, 0, sizeof (double) * (gsize) dims[n] * rank);
        int idx[CP_MAX_D] = { 0 };
        for (gsize f = 0; f < total; f++)
          {
            double xv = x[f];
            if (xv != 0)
              {
                for (int r = 0; r < rank; r++)
                  prod[r] = xv;
                for (int k = 0; k < d; k++)
                  if (k != n)
                    {
                      const double *row = factors[k] + (gsize) idx[k] * rank;
                      for (int r = 0; r < rank; r++)
                        prod[r] *= row[r];
                    }
                double *mr = m + (gsize) idx[n] * rank;
                for (int r = 0; r < rank; r++)
                  mr[r] += prod[r];
              }
            inc_index (d, dims, idx);
          }
        /* solve V F^T = M^T (V symmetric positive semi-definite) */
        double tr = 0;
        for (int r = 0; r < rank; r++)
          tr += v[(gsize) r * rank + r];
        for (int r = 0; r < rank; r++)
          v[(gsize) r * rank + r] += 1e-12 * MAX (tr, 1e-300);
        for (int i = 0; i < dims[n]; i++)
          for (int r = 0; r < rank; r++)
            mt[(gsize) r * dims[n] + i] = m[(gsize) i * rank + r];
        lapack_int info = LAPACKE_dposv (LAPACK_ROW_MAJOR, 'U', rank, dims[n], v, rank, mt,
                                         dims[n]);
        if (info != 0)
          {
            /* not positive definite even with the ridge: a stronger ridge, recomputed V */
            for (gsize q = 0; q < (gsize) rank * rank; q++)
              v[q] = 1;
            for (int k = 0; k < d; k++)
              if (k != n)
                {
                  fw_dgemm (TRUE, FALSE, rank, rank, dims[k], factors[k], factors[k], gram);
                  for (gsize q = 0; q < (gsize) rank * rank; q++)
                    v[q] *= gram[q];
                }
            for (int r = 0; r < rank; r++)
              v[(gsize) r * rank + r] += 1e-6 * MAX (tr, 1e-300) + 1e-300;
            for (int i = 0; i < dims[n]; i++)
              for (int r = 0; r < rank; r++)
                mt[(gsize) r * dims[n] + i] = m[(gsize) i * rank + r];
            if (LAPACKE_dposv (LAPACK_ROW_MAJOR, 'U', rank, dims[n], v, rank, mt, dims[n]) != 0)
              continue; /* keep the previous factor */
          }
        /* F_n = solution^T, columns normalised into lambda */
        for (int r = 0; r < rank; r++)
          {
            double nrm = 0;
            for (int i = 0; i < dims[n]; i++)
              nrm += mt[(gsize) r * dims[n] + i] * mt[(gsize) r * dims[n] + i];
            nrm = sqrt (nrm);
            lambda[r] = nrm;
            double inv = nrm > 0 ? 1 / nrm : 0;
            for (int i = 0; i < dims[n]; i++)
              factors[n][(gsize) i * rank + r] = mt[(gsize) r * dims[n] + i] * inv;
          }
      }
  /* fold lambda into the first factor (only after at least one update normalised them) */
  if (iters > 0)
    for (int i = 0; i < dims[0]; i++)
      for (int r = 0; r < rank; r++)
        factors[0][(gsize) i * rank + r] *= lambda[r];
  g_autofree double *rec = g_new (double, total);
  fw_cp_reconstruct (d, dims, rank, factors, rec);
  return fw_rel_error (rec, x, total);
}

/* conv:OUT:K:S:P -> conv:R:1, dwrect:K:1:S:1:P:0, dwrect:1:K:1:S:0:P, conv:OUT:1 */
gboolean
fw_decomp_cp_layer (const FwLayer *l, const FwDecompConfig *cfg, FwDecompRepl *r,
                    GError **error)
{
  int O = l->iarg[0], K = l->iarg[1], S = l->iarg[2], P = l->iarg[3], C = l->in.c;
  int R = cfg->rank;
  gsize nw;
  g_autofree double *w = fw_decomp_weight_d (l, &nw);
  gsize after = (gsize) R * C + R + 2 * ((gsize) R * K + R) + (gsize) O * R + O;
  if (!r->measure_only && !cfg->allow_larger && after >= nw + O)
    {
      r->note = g_strdup_printf ("CP rank %d would not be smaller than %d x %d x %d x %d", R, O,
                                 C, K, K);
      return TRUE;
    }
  int dims[4] = { O, C, K, K };
  double *f[4];
  for (int k = 0; k < 4; k++)
    f[k] = g_new (double, (gsize) dims[k] * R);
  r->rel_error = fw_cp_als (w, 4, dims, R, cfg->iters >= 0 ? cfg->iters : 40, cfg->seed, f);
  if (!r->measure_only)
    {
      g_autofree float *a = g_new0 (float, (gsize) R * C + R);
      g_autofree float *v = g_new0 (float, (gsize) R * K + R);
      g_autofree float *h = g_new0 (float, (gsize) R * K + R);
      g_autofree float *b = g_new0 (float, (gsize) O * R + O);
      for (int q = 0; q < R; q++)
        {
          for (int c = 0; c < C; c++)
            a[(gsize) q * C + c] = (float) f[1][(gsize) c * R + q];
          for (int i = 0; i < K; i++)
            {
              v[(gsize) q * K + i] = (float) f[2][(gsize) i * R + q];
              h[(gsize) q * K + i] = (float) f[3][(gsize) i * R + q];
            }
          for (int o = 0; o < O; o++)
            b[(gsize) o * R + q] = (float) f[0][(gsize) o * R + q];
        }
      memcpy (b + (gsize) O * R, fw_decomp_bias (l), sizeof (float) * O);
      g_autofree char *t1 = g_strdup_printf ("conv:%d:1", R);
      g_autofree char *t2 = g_strdup_printf ("dwrect:%d:1:%d:1:%d:0", K, S, P);
      g_autofree char *t3 = g_strdup_printf ("dwrect:1:%d:1:%d:0:%d", K, S, P);
      g_autofree char *t4 = g_strdup_printf ("conv:%d:1", O);
      fw_decomp_repl_add (r, t1, a, (gsize) R * C + R);
      fw_decomp_repl_add (r, t2, v, (gsize) R * K + R);
      fw_decomp_repl_add (r, t3, h, (gsize) R * K + R);
      fw_decomp_repl_add (r, t4, b, (gsize) O * R + O);
      r->ranks = g_strdup_printf ("%d", R);
    }
  for (int k = 0; k < 4; k++)
    g_free (f[k]);
  return TRUE;
}
