/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-tt.c: tensor-train (TT-SVD, Oseledets 2011) and hierarchical Tucker (Grasedyck 2010)
 * decompositions, and the rewrite of dense layers into tt / ht layers (fw-layer-factored.c).
 *
 * A dense weight W [M x N] with M = m_1..m_d, N = n_1..n_d (row index i = (i_1..i_d), column
 * index j = (j_1..j_d), both row-major) is seen as the d-way tensor
 *   T[(i_1 j_1)][(i_2 j_2)]...[(i_d j_d)],  mode k of size m_k n_k, index i_k n_k + j_k
 * (the "TT-matrix" of Novikov et al. 2015) before it is decomposed. */
#include "fw-decomp-private.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"

/* ---- TT-SVD ---- */

gboolean
fw_tt_svd (const double *x, int d, const int *dims, int max_rank, double eps, int *ranks,
           double **cores, GError **error)
{
  gsize total = 1;
  for (int k = 0; k < d; k++)
    total *= (gsize) dims[k];
  double norm2 = 0;
  for (gsize f = 0; f < total; f++)
    norm2 += x[f] * x[f];
  double delta2 = eps > 0 && d > 1 ? eps * eps / (d - 1) * norm2 : 0;

  g_autofree double *c = g_memdup2 (x, sizeof (double) * total);
  gsize rest = total;
  ranks[0] = 1;
  for (int k = 0; k < d - 1; k++)
    {
      int rows = ranks[k] * dims[k];
      gsize cols = rest / dims[k];
      int kmin = (int) MIN ((gsize) rows, cols);
      g_autofree double *u = g_new (double, (gsize) rows * kmin);
      g_autofree double *s = g_new (double, kmin);
      g_autofree double *vt = g_new (double, (gsize) kmin * cols);
      if (!fw_svd (rows, (int) cols, c, u, s, vt, error))
        return FALSE;
      int rk = kmin;
      if (delta2 > 0)
        {
          /* the smallest rank whose discarded tail stays within delta^2 */
          double tail = 0;
          while (rk > 1 && tail + s[rk - 1] * s[rk - 1] <= delta2)
            {
              tail += s[rk - 1] * s[rk - 1];
              rk--;
            }
        }
      if (max_rank > 0)
        rk = MIN (rk, max_rank);
      ranks[k + 1] = rk;
      cores[k] = g_new (double, (gsize) rows * rk);
      for (int i = 0; i < rows; i++)
        memcpy (cores[k] + (gsize) i * rk, u + (gsize) i * kmin, sizeof (double) * rk);
      /* c <- diag(s) Vt, [rk x cols] */
      for (int i = 0; i < rk; i++)
        for (gsize j = 0; j < cols; j++)
          c[(gsize) i * cols + j] = s[i] * vt[(gsize) i * cols + j];
      rest = cols;
    }
  ranks[d] = 1;
  cores[d - 1] = g_memdup2 (c, sizeof (double) * (gsize) ranks[d - 1] * dims[d - 1]);
  return TRUE;
}

void
fw_tt_reconstruct (int d, const int *dims, const int *ranks, double *const *cores, double *out)
{
  /* t [prefix x r_k], grown core by core */
  gsize prefix = dims[0];
  g_autofree double *t = g_memdup2 (cores[0], sizeof (double) * prefix * ranks[1]);
  for (int k = 1; k < d; k++)
    {
      double *nt = g_new (double, prefix * dims[k] * ranks[k + 1]);
      fw_dgemm (FALSE, FALSE, (int) prefix, dims[k] * ranks[k + 1], ranks[k], t, cores[k], nt);
      g_free (t);
      t = nt;
      prefix *= dims[k];
    }
  memcpy (out, t, sizeof (double) * prefix);
}

/* ---- hierarchical Tucker over {{0,1},{2,3}} ---- */

/* The mode-k product of a 4-way x [dims]: with transpose, x x_k U^T for u [dims[k] x r]
 * (projection onto u's columns), else x x_k U for u [r x dims[k]]; mode k becomes r.
 *   out[p][a][q] = sum_i u(a, i) x[p][i][q] */
static void
mode_product (const double *x, const int *dims, int k, const double *u, int r,
              gboolean transpose, double *out, int *out_dims)
{
  gsize pre = 1, post = 1;
  for (int q = 0; q < k; q++)
    pre *= dims[q];
  for (int q = k + 1; q < 4; q++)
    post *= dims[q];
  for (gsize p = 0; p < pre; p++)
    fw_dgemm (transpose, FALSE, r, (int) post, dims[k], u, x + p * dims[k] * post,
              out + p * r * post);
  for (int q = 0; q < 4; q++)
    out_dims[q] = dims[q];
  out_dims[k] = r;
}

static gsize
prod4 (const int *d)
{
  return (gsize) d[0] * d[1] * d[2] * d[3];
}

void
fw_ht_clear (FwHT *ht)
{
  for (int k = 0; k < 4; k++)
    g_clear_pointer (&ht->u[k], g_free);
  g_clear_pointer (&ht->b12, g_free);
  g_clear_pointer (&ht->b34, g_free);
  g_clear_pointer (&ht->root, g_free);
}

gboolean
fw_ht_decompose (const double *x, const int *dims, int rank, FwHT *ht, GError **error)
{
  memset (ht, 0, sizeof *ht);
  memcpy (ht->dims, dims, sizeof ht->dims);
  gsize total = prod4 (dims);
  /* leaves: leading left singular vectors of each mode unfolding */
  g_autofree double *buf = g_new (double, total);
  g_autofree double *cur = g_memdup2 (x, sizeof (double) * total);
  int cd[4] = { dims[0], dims[1], dims[2], dims[3] };
  for (int k = 0; k < 4; k++)
    {
      gsize pre = 1, post = 1;
      for (int q = 0; q < k; q++)
        pre *= dims[q];
      for (int q = k + 1; q < 4; q++)
        post *= dims[q];
      /* unfolding [dims[k] x pre post] of x */
      for (gsize p = 0; p < pre; p++)
        for (int i = 0; i < dims[k]; i++)
          for (gsize q = 0; q < post; q++)
            buf[(gsize) i * pre * post + p * post + q] = x[(p * dims[k] + i) * post + q];
      int rk = (int) MIN ((gsize) MIN (rank, dims[k]), pre * post);
      ht->r[k] = rk;
      ht->u[k] = g_new (double, (gsize) dims[k] * rk);
      if (!fw_leading_left (dims[k], (int) (pre * post), buf, rk, ht->u[k], NULL, error))
        {
          fw_ht_clear (ht);
          return FALSE;
        }
    }
  /* core C = x x_0 U0^T x_1 U1^T x_2 U2^T x_3 U3^T, [r0][r1][r2][r3] */
  for (int k = 0; k < 4; k++)
    {
      int nd[4];
      mode_product (cur, cd, k, ht->u[k], ht->r[k], TRUE, buf, nd);
      memcpy (cd, nd, sizeof cd);
      memcpy (cur, buf, sizeof (double) * prod4 (cd));
    }
  int r01 = ht->r[0] * ht->r[1], r23 = ht->r[2] * ht->r[3];
  /* node {0,1}: leading left singular vectors of C as [r01 x r23]; node {2,3}: of C^T */
  int r12 = MIN (rank, MIN (r01, r23)), r34 = r12;
  ht->r[4] = r12;
  ht->r[5] = r34;
  ht->b12 = g_new (double, (gsize) r01 * r12);
  ht->b34 = g_new (double, (gsize) r23 * r34);
  g_autofree double *ct = g_new (double, (gsize) r01 * r23);
  for (int i = 0; i < r01; i++)
    for (int j = 0; j < r23; j++)
      ct[(gsize) j * r01 + i] = cur[(gsize) i * r23 + j];
  if (!fw_leading_left (r01, r23, cur, r12, ht->b12, NULL, error)
      || !fw_leading_left (r23, r01, ct, r34, ht->b34, NULL, error))
    {
      fw_ht_clear (ht);
      return FALSE;
    }
  /* root = B12^T C B34 */
  g_autofree double *t = g_new (double, (gsize) r12 * r23);
  fw_dgemm (TRUE, FALSE, r12, r23, r01, ht->b12, cur, t);
  ht->root = g_new (double, (gsize) r12 * r34);
  fw_dgemm (FALSE, FALSE, r12, r34, r23, t, ht->b34, ht->root);
  return TRUE;
}

void
fw_ht_reconstruct (const FwHT *ht, double *out)
{
  int r01 = ht->r[0] * ht->r[1], r23 = ht->r[2] * ht->r[3], r12 = ht->r[4], r34 = ht->r[5];
  /* C' = B12 root B34^T [r01 x r23] */
  g_autofree double *t = g_new (double, (gsize) r01 * r34);
  fw_dgemm (FALSE, FALSE, r01, r34, r12, ht->b12, ht->root, t);
  gsize total = prod4 (ht->dims);
  g_autofree double *cur = g_new (double, total);
  g_autofree double *buf = g_new (double, total);
  fw_dgemm (FALSE, TRUE, r01, r23, r34, t, ht->b34, cur);
  int cd[4] = { ht->r[0], ht->r[1], ht->r[2], ht->r[3] };
  for (int k = 0; k < 4; k++)
    {
      int nd[4];
      mode_product (cur, cd, k, ht->u[k], ht->dims[k], FALSE, buf, nd);
      memcpy (cd, nd, sizeof cd);
      memcpy (cur, buf, sizeof (double) * prod4 (cd));
    }
  memcpy (out, cur, sizeof (double) * total);
}

/* ---- dense weights as TT-matrices ---- */

/* t[(i_1 j_1)...(i_d j_d)] <- w[i][j] (to_tensor) or back */
static void
matrix_tensor (int d, const int *m, const int *n, double *w, double *t, gboolean to_tensor)
{
  int M = 1, N = 1;
  for (int k = 0; k < d; k++)
    {
      M *= m[k];
      N *= n[k];
    }
  int ii[8], jj[8];
  for (int i = 0; i < M; i++)
    {
      for (int k = d - 1, v = i; k >= 0; k--)
        {
          ii[k] = v % m[k];
          v /= m[k];
        }
      for (int j = 0; j < N; j++)
        {
          for (int k = d - 1, v = j; k >= 0; k--)
            {
              jj[k] = v % n[k];
              v /= n[k];
            }
          gsize f = 0;
          for (int k = 0; k < d; k++)
            f = f * ((gsize) m[k] * n[k]) + (gsize) ii[k] * n[k] + jj[k];
          if (to_tensor)
            t[f] = w[(gsize) i * N + j];
          else
            w[(gsize) i * N + j] = t[f];
        }
    }
}

static char *
join_modes (const int *v, int n)
{
  GString *s = g_string_new (NULL);
  for (int i = 0; i < n; i++)
    g_string_append_printf (s, i > 0 ? "x%d" : "%d", v[i]);
  return g_string_free (s, FALSE);
}

gboolean
fw_decomp_tt_layer (const FwLayer *l, const FwDecompConfig *cfg, FwDecompRepl *r,
                    GError **error)
{
  int out = l->iarg[0], in = l->iarg[1];
  int d = cfg->modes > 0 ? cfg->modes : 3;
  int m[8], n[8], dims[8], ranks[9];
  fw_factor_modes (out, d, m);
  fw_factor_modes (in, d, n);
  for (int k = 0; k < d; k++)
    dims[k] = m[k] * n[k];
  gsize nw;
  g_autofree double *w = fw_decomp_weight_d (l, &nw);
  g_autofree double *t = g_new (double, nw);
  matrix_tensor (d, m, n, w, t, TRUE);
  double *cores[8] = { NULL };
  double eps = cfg->rank > 0 ? 0 : sqrt (MAX (0, 1 - cfg->energy));
  if (!fw_tt_svd (t, d, dims, cfg->rank, eps, ranks, cores, error))
    return FALSE;
  g_autofree double *rec = g_new (double, nw);
  fw_tt_reconstruct (d, dims, ranks, cores, rec);
  r->rel_error = fw_rel_error (rec, t, nw);
  gsize after = out;
  for (int k = 0; k < d; k++)
    after += (gsize) ranks[k] * dims[k] * ranks[k + 1];
  if (!r->measure_only && !cfg->allow_larger && after >= nw + out)
    r->note = g_strdup_printf ("TT ranks would not make %d x %d smaller", out, in);
  else if (!r->measure_only)
    {
      /* layer storage: core k as [m_k][r_k][r_(k-1)][n_k] (fw-layer-factored.c), then bias */
      g_autofree float *p = g_new (float, after);
      gsize off = 0;
      for (int k = 0; k < d; k++)
        {
          int r0 = ranks[k], r1 = ranks[k + 1];
          for (int i = 0; i < m[k]; i++)
            for (int b = 0; b < r1; b++)
              for (int a = 0; a < r0; a++)
                for (int j = 0; j < n[k]; j++)
                  p[off++] = (float) cores[k][((gsize) a * dims[k] + i * n[k] + j) * r1 + b];
        }
      memcpy (p + off, fw_decomp_bias (l), sizeof (float) * out);
      g_autofree char *ms = join_modes (m, d);
      g_autofree char *ns = join_modes (n, d);
      g_autofree char *rs = join_modes (ranks + 1, d - 1);
      g_autofree char *tok = g_strdup_printf ("tt:%s:%s:%s", ms, ns, rs);
      fw_decomp_repl_add (r, tok, p, after);
      r->ranks = g_strdup (rs);
    }
  for (int k = 0; k < d; k++)
    g_free (cores[k]);
  return TRUE;
}

gboolean
fw_decomp_ht_layer (const FwLayer *l, const FwDecompConfig *cfg, FwDecompRepl *r,
                    GError **error)
{
  int out = l->iarg[0], in = l->iarg[1];
  int m[4], n[4], dims[4];
  fw_factor_modes (out, 4, m);
  fw_factor_modes (in, 4, n);
  for (int k = 0; k < 4; k++)
    dims[k] = m[k] * n[k];
  gsize nw;
  g_autofree double *w = fw_decomp_weight_d (l, &nw);
  g_autofree double *t = g_new (double, nw);
  matrix_tensor (4, m, n, w, t, TRUE);
  int rank = cfg->rank;
  if (rank <= 0)
    {
      /* by energy: the smallest rank (doubling, then refined) whose error is within budget */
      double budget = sqrt (MAX (0, 1 - cfg->energy));
      int hi = 1;
      for (;; hi *= 2)
        {
          FwHT h;
          if (!fw_ht_decompose (t, dims, hi, &h, error))
            return FALSE;
          g_autofree double *rec = g_new (double, nw);
          fw_ht_reconstruct (&h, rec);
          fw_ht_clear (&h);
          if (fw_rel_error (rec, t, nw) <= budget || hi >= MAX (MAX (dims[0], dims[1]), MAX (dims[2], dims[3])))
            break;
        }
      rank = hi;
    }
  FwHT h;
  if (!fw_ht_decompose (t, dims, rank, &h, error))
    return FALSE;
  g_autofree double *rec = g_new (double, nw);
  fw_ht_reconstruct (&h, rec);
  r->rel_error = fw_rel_error (rec, t, nw);
  gsize after = out;
  for (int k = 0; k < 4; k++)
    after += (gsize) dims[k] * h.r[k];
  after += (gsize) h.r[0] * h.r[1] * h.r[4] + (gsize) h.r[2] * h.r[3] * h.r[5]
           + (gsize) h.r[4] * h.r[5];
  if (!r->measure_only && !cfg->allow_larger && after >= nw + out)
    r->note = g_strdup_printf ("HT rank %d would not make %d x %d smaller", rank, out, in);
  else if (!r->measure_only)
    {
      /* layer storage (fw-layer-factored.c): U0..U3, B12, B34, root, bias */
      g_autofree float *p = g_new (float, after);
      gsize off = 0;
      const double *parts[7] = { h.u[0], h.u[1], h.u[2], h.u[3], h.b12, h.b34, h.root };
      gsize sizes[7] = { (gsize) dims[0] * h.r[0], (gsize) dims[1] * h.r[1],
                         (gsize) dims[2] * h.r[2], (gsize) dims[3] * h.r[3],
                         (gsize) h.r[0] * h.r[1] * h.r[4], (gsize) h.r[2] * h.r[3] * h.r[5],
                         (gsize) h.r[4] * h.r[5] };
      for (int q = 0; q < 7; q++)
        for (gsize i = 0; i < sizes[q]; i++)
          p[off++] = (float) parts[q][i];
      memcpy (p + off, fw_decomp_bias (l), sizeof (float) * out);
      g_autofree char *ms = join_modes (m, 4);
      g_autofree char *ns = join_modes (n, 4);
      g_autofree char *rs = join_modes (h.r, 6);
      g_autofree char *tok = g_strdup_printf ("ht:%s:%s:%s", ms, ns, rs);
      fw_decomp_repl_add (r, tok, p, after);
      r->ranks = g_strdup (rs);
    }
  fw_ht_clear (&h);
  return TRUE;
}
