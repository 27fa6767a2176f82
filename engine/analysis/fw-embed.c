/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-embed.c: PCA (covariance by GEMM + LAPACK ssyevd) and t-SNE (exact and Barnes-Hut). */
#include "fw-embed.h"

#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-features.h"
#include "fw-gemm.h"
#include "fw-kernels.h"
#include "fw-rng.h"

/* ------------------------------------------------------------------------------------------
 * PCA
 * ---------------------------------------------------------------------------------------- */

void
fw_pca_free (FwPca *pca)
{
  if (pca == NULL)
    return;
  g_free (pca->mean);
  g_free (pca->components);
  g_free (pca->variance);
  g_free (pca->ratio);
  g_free (pca);
}

FwPca *
fw_pca_fit (const float *x, int n, int d, int k, GError **error)
{
  if (n < 2 || d < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "PCA needs at least 2 samples of at least 1 feature (got %d x %d)", n, d);
      return NULL;
    }
  if (k < 1 || k > d)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "PCA: the number of components must be between 1 and the feature width %d "
                   "(got %d)", d, k);
      return NULL;
    }

  for (gsize e = 0; e < (gsize) n * d; e++)
    if (!isfinite (x[e]))
      {
        g_set_error (error, FW_ERROR, FW_ERROR_NUMERIC,
                     "PCA: feature %d of sample %d is not a finite number; check the model "
                     "(a diverged training gives NaN activations)", (int) (e % d), (int) (e / d));
        return NULL;
      }

  g_autoptr (FwPca) pca = g_new0 (FwPca, 1);
  pca->d = d;
  pca->k = k;
  pca->mean = g_new (float, d);
  pca->components = g_new (float, (gsize) k * d);
  pca->variance = g_new (float, k);
  pca->ratio = g_new (float, k);

  /* mu_j = (1/n) sum_i x_ij, accumulated in double */
  g_autofree double *acc = g_new0 (double, d);
  for (int i = 0; i < n; i++)
    {
      const float *r = x + (gsize) i * d;
      for (int j = 0; j < d; j++)
        acc[j] += r[j];
    }
  for (int j = 0; j < d; j++)
    pca->mean[j] = (float) (acc[j] / n);

  /* Xc = X - 1 mu^T */
  g_autofree float *xc = g_new (float, (gsize) n * d);
  for (int i = 0; i < n; i++)
    {
      const float *r = x + (gsize) i * d;
      float *o = xc + (gsize) i * d;
      for (int j = 0; j < d; j++)
        o[j] = r[j] - pca->mean[j];
    }

  /* C [d x d] <- Xc^T Xc / (n - 1) */
  g_autofree float *cov = g_new (float, (gsize) d * d);
  fw_sgemm (TRUE, FALSE, d, d, n, 1.0f / (float) (n - 1), xc, d, xc, d, 0.0f, cov, d);
  g_clear_pointer (&xc, g_free);

  double trace = 0.0;
  for (int j = 0; j < d; j++)
    trace += cov[(gsize) j * d + j];
  pca->total_variance = trace;

  /* C = V diag(w) V^T, w ascending. Few components: ssyevr computes only the top k
   * eigenvectors (saves the O(d^3) back-transformation); otherwise ssyevd computes all.
   * Row-major results: column c of vec [d x ld] is the eigenvector of w[c]. */
  g_autofree float *w = g_new (float, d);
  g_autofree float *vec = NULL;
  int ld, first;
  lapack_int info;
  if (4 * k < d)
    {
      vec = g_new (float, (gsize) d * k);
      g_autofree lapack_int *support = g_new (lapack_int, 2 * (gsize) k);
      lapack_int found = 0;
      info = LAPACKE_ssyevr (LAPACK_ROW_MAJOR, 'V', 'I', 'U', d, cov, d, 0.0f, 0.0f,
                             d - k + 1, d, 0.0f, &found, w, vec, k, support);
      if (info == 0 && found != k)
        info = -1000;
      ld = k;
      first = 0;
    }
  else
    {
      info = LAPACKE_ssyevd (LAPACK_ROW_MAJOR, 'V', 'U', d, cov, d, w);
      vec = g_steal_pointer (&cov);
      ld = d;
      first = d - k;
    }
  if (info != 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_NUMERIC,
                   "PCA: the eigendecomposition of the %d x %d covariance failed (LAPACK "
                   "info %d); check the features for NaN or Inf", d, d, (int) info);
      return NULL;
    }
  for (int c = 0; c < k; c++)
    {
      /* largest first: the last of the k ascending eigenpairs */
      int src = first + k - 1 - c;
      float *v = pca->components + (gsize) c * d;
      int big = 0;
      for (int j = 0; j < d; j++)
        {
          v[j] = vec[(gsize) j * ld + src];
          if (fabsf (v[j]) > fabsf (v[big]))
            big = j;
        }
      if (v[big] < 0.0f)
        for (int j = 0; j < d; j++)
          v[j] = -v[j];
      float lam = MAX (w[src], 0.0f);
      pca->variance[c] = lam;
      pca->ratio[c] = trace > 0.0 ? (float) (lam / trace) : 0.0f;
    }
  return g_steal_pointer (&pca);
}

void
fw_pca_transform (const FwPca *pca, const float *x, int n, float *y)
{
  int d = pca->d, k = pca->k;
  /* Y [n x k] <- X V_k^T ... then (X - 1 mu^T) V_k^T = X V_k^T - 1 (V_k mu)^T */
  fw_sgemm (FALSE, TRUE, n, k, d, 1.0f, x, d, pca->components, d, 0.0f, y, k);
  g_autofree float *off = g_new (float, k);
  for (int c = 0; c < k; c++)
    {
      double s = 0.0;
      const float *v = pca->components + (gsize) c * d;
      for (int j = 0; j < d; j++)
        s += (double) v[j] * pca->mean[j];
      off[c] = (float) s;
    }
  for (int i = 0; i < n; i++)
    for (int c = 0; c < k; c++)
      y[(gsize) i * k + c] -= off[c];
}

/* ------------------------------------------------------------------------------------------
 * t-SNE affinities
 * ---------------------------------------------------------------------------------------- */

void
fw_tsne_p_free (FwTsneP *p)
{
  if (p == NULL)
    return;
  g_free (p->row);
  g_free (p->col);
  g_free (p->val);
  g_free (p);
}

/* Row i's conditional distribution p_{.|i} over m neighbours at squared distances d2[m]:
 * binary search on beta for entropy H = log(perplexity). Writes p[m]. */
static void
calibrate_row (const double *d2, int m, double perplexity, double *p)
{
  double target = log (perplexity);
  double dmin = d2[0];
  for (int j = 1; j < m; j++)
    dmin = MIN (dmin, d2[j]);
  double beta = 1.0, lo = 0.0, hi = INFINITY;
  for (int it = 0; it < 200; it++)
    {
      /* p_j = exp(-beta (d_j - dmin)) / S;  H = log S + beta * sum_j p_j (d_j - dmin) */
      double s = 0.0, sd = 0.0;
      for (int j = 0; j < m; j++)
        {
          double e = exp (-beta * (d2[j] - dmin));
          p[j] = e;
          s += e;
          sd += e * (d2[j] - dmin);
        }
      double h = log (s) + beta * sd / s;
      for (int j = 0; j < m; j++)
        p[j] /= s;
      if (fabs (h - target) < 1e-5)
        break;
      if (h > target)
        {
          /* too flat: narrower kernel */
          lo = beta;
          beta = isinf (hi) ? beta * 2.0 : 0.5 * (beta + hi);
        }
      else
        {
          hi = beta;
          beta = 0.5 * (beta + lo);
        }
    }
}

/* A max-heap of (distance, index) of capacity k: keeps the k smallest distances. */
static void
heap_push (float *hd, gint32 *hi, int *len, int k, float dist, gint32 idx)
{
  if (*len < k)
    {
      int c = (*len)++;
      while (c > 0)
        {
          int p = (c - 1) / 2;
          if (hd[p] >= dist)
            break;
          hd[c] = hd[p];
          hi[c] = hi[p];
          c = p;
        }
      hd[c] = dist;
      hi[c] = idx;
      return;
    }
  if (dist >= hd[0])
    return;
  /* replace the root and sift down */
  int c = 0;
  for (;;)
    {
      int l = 2 * c + 1, r = l + 1, big = c;
      float bv = dist;
      if (l < k && hd[l] > bv)
        {
          big = l;
          bv = hd[l];
        }
      if (r < k && hd[r] > bv)
        big = r;
      if (big == c)
        break;
      hd[c] = hd[big];
      hi[c] = hi[big];
      c = big;
    }
  hd[c] = dist;
  hi[c] = idx;
}

FwTsneP *
fw_tsne_affinities (const float *x, int n, int d, double perplexity, int k_neighbours,
                    GError **error)
{
  if (n < 2)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "t-SNE needs at least 2 points (got %d)", n);
      return NULL;
    }
  int k = (k_neighbours <= 0 || k_neighbours >= n - 1) ? n - 1 : k_neighbours;
  if (!(perplexity >= 1.0) || perplexity >= k)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "t-SNE: the perplexity (%g) must be at least 1 and below the number of "
                   "neighbours (%d); lower it or use more points", perplexity, k);
      return NULL;
    }

  /* |x_i|^2 */
  g_autofree float *sq = g_new (float, n);
  for (int i = 0; i < n; i++)
    {
      double s = 0.0;
      const float *r = x + (gsize) i * d;
      for (int j = 0; j < d; j++)
        s += (double) r[j] * r[j];
      sq[i] = (float) s;
    }

  /* conditional P, k entries per row */
  g_autofree gint32 *nb = g_new (gint32, (gsize) n * k);
  g_autofree double *pc = g_new (double, (gsize) n * k);
  const int block = 256;
  g_autofree float *g = g_new (float, (gsize) block * n);
  g_autofree float *hd = g_new (float, k);
  g_autofree gint32 *hidx = g_new (gint32, k);
  g_autofree double *d2 = g_new (double, k);
  for (int i0 = 0; i0 < n; i0 += block)
    {
      int b = MIN (block, n - i0);
      /* G [b x n] <- X_block X^T;  |x_i - x_j|^2 = |x_i|^2 + |x_j|^2 - 2 G_ij */
      fw_sgemm (FALSE, TRUE, b, n, d, 1.0f, x + (gsize) i0 * d, d, x, d, 0.0f, g, n);
      for (int r = 0; r < b; r++)
        {
          int i = i0 + r;
          const float *gr = g + (gsize) r * n;
          gint32 *nbi = nb + (gsize) i * k;
          if (k == n - 1)
            {
              int m = 0;
              for (int j = 0; j < n; j++)
                if (j != i)
                  {
                    nbi[m] = j;
                    d2[m++] = MAX (0.0, (double) sq[i] + sq[j] - 2.0 * gr[j]);
                  }
            }
          else
            {
              int len = 0;
              for (int j = 0; j < n; j++)
                if (j != i)
                  heap_push (hd, hidx, &len, k, MAX (0.0f, sq[i] + sq[j] - 2.0f * gr[j]), j);
              for (int m = 0; m < k; m++)
                {
                  nbi[m] = hidx[m];
                  d2[m] = hd[m];
                }
            }
          calibrate_row (d2, k, perplexity, pc + (gsize) i * k);
        }
    }
  g_clear_pointer (&g, g_free);

  /* transpose of the conditional pattern: for each j, the rows i that chose j */
  g_autofree gint64 *tr = g_new0 (gint64, n + 1);
  for (gsize e = 0; e < (gsize) n * k; e++)
    tr[nb[e] + 1]++;
  for (int j = 0; j < n; j++)
    tr[j + 1] += tr[j];
  g_autofree gint32 *tcol = g_new (gint32, (gsize) n * k);
  g_autofree double *tval = g_new (double, (gsize) n * k);
  g_autofree gint64 *fill = g_memdup2 (tr, sizeof (gint64) * n);
  for (int i = 0; i < n; i++)
    for (int m = 0; m < k; m++)
      {
        gsize e = (gsize) i * k + m;
        gint64 at = fill[nb[e]]++;
        tcol[at] = i;
        tval[at] = pc[e];
      }

  /* p_ij = (p_{j|i} + p_{i|j}) / 2n: row i merges row i of Pc and row i of Pc^T */
  g_autoptr (FwTsneP) p = g_new0 (FwTsneP, 1);
  p->n = n;
  p->row = g_new (gint64, n + 1);
  gsize cap = (gsize) n * k * 2;
  p->col = g_new (gint32, cap);
  p->val = g_new (double, cap);
  g_autofree gint64 *pos = g_new (gint64, n);
  for (int j = 0; j < n; j++)
    pos[j] = -1;
  gint64 nnz = 0;
  double scale = 1.0 / (2.0 * n);
  for (int i = 0; i < n; i++)
    {
      p->row[i] = nnz;
      for (int m = 0; m < k; m++)
        {
          gsize e = (gsize) i * k + m;
          pos[nb[e]] = nnz;
          p->col[nnz] = nb[e];
          p->val[nnz++] = pc[e] * scale;
        }
      for (gint64 e = tr[i]; e < tr[i + 1]; e++)
        {
          int j = tcol[e];
          if (pos[j] >= 0)
            p->val[pos[j]] += tval[e] * scale;
          else
            {
              p->col[nnz] = j;
              p->val[nnz++] = tval[e] * scale;
            }
        }
      for (gint64 e = p->row[i]; e < nnz; e++)
        pos[p->col[e]] = -1;
    }
  p->row[n] = nnz;
  p->col = g_renew (gint32, p->col, MAX (nnz, 1));
  p->val = g_renew (double, p->val, MAX (nnz, 1));
  return g_steal_pointer (&p);
}

/* ------------------------------------------------------------------------------------------
 * Gradients
 * ---------------------------------------------------------------------------------------- */

/* attr_i = sum_j p_ij w_ij (y_i - y_j) into grad (scaled by 4 * ex). When kl != NULL,
 * *kl <- sum_ij p_ij log(p_ij / w_ij), so that KL = that + log Z (as sum p = 1). */
static void
attractive (const FwTsneP *p, const double *y, double ex, double *grad, double *kl)
{
  double klpart = 0.0;
  for (int i = 0; i < p->n; i++)
    {
      double gx = 0.0, gy = 0.0;
      double yx = y[2 * i], yy = y[2 * i + 1];
      for (gint64 e = p->row[i]; e < p->row[i + 1]; e++)
        {
          int j = p->col[e];
          double dx = yx - y[2 * j], dy = yy - y[2 * j + 1];
          double w = 1.0 / (1.0 + dx * dx + dy * dy);
          double pw = p->val[e] * w;
          gx += pw * dx;
          gy += pw * dy;
        }
      grad[2 * i] = 4.0 * ex * gx;
      grad[2 * i + 1] = 4.0 * ex * gy;
    }
  if (kl == NULL)
    return;
  for (int i = 0; i < p->n; i++)
    for (gint64 e = p->row[i]; e < p->row[i + 1]; e++)
      if (p->val[e] > 0.0)
        {
          int j = p->col[e];
          double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
          klpart += p->val[e] * log (p->val[e] * (1.0 + dx * dx + dy * dy));
        }
  *kl = klpart;
}

/* rep [n x 2] <- sum_j w_ij^2 (y_i - y_j) over all pairs, each unordered pair once, from the
 * coordinates in separate arrays (so the inner loop vectorises); returns Z = sum_{i != j} w_ij.
 * Compiled twice like the Barnes-Hut traversal. */
static inline __attribute__ ((always_inline)) double
exact_repulsion_body (int n, const double *ya, const double *yb, double *ra, double *rb)
{
  double z = 0.0;
  for (int i = 0; i < n; i++)
    {
      double yx = ya[i], yy = yb[i];
      double rx = 0.0, ry = 0.0, zi = 0.0;
      for (int j = i + 1; j < n; j++)
        {
          double dx = yx - ya[j], dy = yy - yb[j];
          double w = 1.0 / (1.0 + dx * dx + dy * dy);
          double w2 = w * w;
          zi += w;
          rx += w2 * dx;
          ry += w2 * dy;
          ra[j] -= w2 * dx;
          rb[j] -= w2 * dy;
        }
      ra[i] += rx;
      rb[i] += ry;
      z += 2.0 * zi;
    }
  return z;
}

static double
exact_repulsion_generic (int n, const double *ya, const double *yb, double *ra, double *rb)
{
  return exact_repulsion_body (n, ya, yb, ra, rb);
}

__attribute__ ((target ("avx2,fma"))) static double
exact_repulsion_avx2 (int n, const double *ya, const double *yb, double *ra, double *rb)
{
  return exact_repulsion_body (n, ya, yb, ra, rb);
}

void
fw_tsne_gradient_exact (const FwTsneP *p, const double *y, double exaggeration, double *grad,
                        double *kl)
{
  int n = p->n;
  attractive (p, y, exaggeration, grad, kl);
  /* rep_i = sum_j w_ij^2 (y_i - y_j), Z = sum_{i != j} w_ij */
  g_autofree double *buf = g_new0 (double, 4 * (gsize) n);
  double *ya = buf, *yb = buf + n, *ra = buf + 2 * (gsize) n, *rb = buf + 3 * (gsize) n;
  for (int i = 0; i < n; i++)
    {
      ya[i] = y[2 * i];
      yb[i] = y[2 * i + 1];
    }
  double z = fw_kernels_have_avx2 () ? exact_repulsion_avx2 (n, ya, yb, ra, rb)
                                     : exact_repulsion_generic (n, ya, yb, ra, rb);
  /* dKL/dy_i = 4 (ex * attr_i - rep_i / Z) */
  for (int i = 0; i < n; i++)
    {
      grad[2 * i] -= 4.0 * ra[i] / z;
      grad[2 * i + 1] -= 4.0 * rb[i] / z;
    }
  if (kl != NULL)
    *kl += log (z);
}

/* Quadtree over the layout with leaf buckets: the points are permuted so that every cell's
 * points are contiguous (px, py, id in [start, end)); a cell of at most QT_LEAF points (or
 * of identical points) is a leaf, whose points are visited one by one when it is opened.
 * Children of a cell are consecutive nodes, empty quadrants omitted. */
#define QT_LEAF 8

typedef struct {
  double mx, my;          /* centre of mass */
  double size2;           /* (cell side)^2 */
  int count;              /* points in the cell */
  int start;              /* first point (in the permuted order) */
  int child, n_child;     /* first child and number of children; n_child = 0 for a leaf */
} QNode;

typedef struct {
  QNode *nodes;
  int len, cap;
  double *px, *py;        /* [n] permuted positions */
  int *id, *tmp;          /* [n] original index of each permuted point; scratch */
} QTree;

static int
qtree_new_nodes (QTree *t, int k)
{
  if (t->len + k > t->cap)
    {
      t->cap = MAX (t->len + k, MAX (64, t->cap * 2));
      t->nodes = g_renew (QNode, t->nodes, t->cap);
    }
  int at = t->len;
  t->len += k;
  return at;
}

/* Fills node `at` for the points [start, start + count) inside the square of centre (cx, cy)
 * and half width hw, partitioning them into quadrants as needed. */
static void
qtree_build (QTree *t, int at, int start, int count, double cx, double cy, double hw, int depth)
{
  double sx = 0.0, sy = 0.0;
  gboolean same = TRUE;
  for (int e = start; e < start + count; e++)
    {
      sx += t->px[e];
      sy += t->py[e];
      same = same && t->px[e] == t->px[start] && t->py[e] == t->py[start];
    }
  QNode *q = &t->nodes[at];
  q->mx = sx / count;
  q->my = sy / count;
  q->size2 = 4.0 * hw * hw;
  q->count = count;
  q->start = start;
  q->child = -1;
  q->n_child = 0;
  if (count <= QT_LEAF || same || depth > 48)
    return;

  /* counting sort of [start, start + count) by quadrant: (x >= cx) + 2 (y >= cy) */
  int cnt[4] = { 0, 0, 0, 0 };
  for (int e = start; e < start + count; e++)
    {
      int qd = (t->px[e] >= cx) + 2 * (t->py[e] >= cy);
      t->tmp[e] = qd;
      cnt[qd]++;
    }
  int off[4], pos[4];
  off[0] = start;
  for (int k = 1; k < 4; k++)
    off[k] = off[k - 1] + cnt[k - 1];
  memcpy (pos, off, sizeof pos);
  /* permute through scratch copies */
  g_autofree double *bx = g_memdup2 (t->px + start, sizeof (double) * count);
  g_autofree double *by = g_memdup2 (t->py + start, sizeof (double) * count);
  g_autofree int *bi = g_memdup2 (t->id + start, sizeof (int) * count);
  g_autofree int *bq = g_memdup2 (t->tmp + start, sizeof (int) * count);
  for (int e = 0; e < count; e++)
    {
      int dst = pos[bq[e]]++;
      t->px[dst] = bx[e];
      t->py[dst] = by[e];
      t->id[dst] = bi[e];
    }
  int n_child = (cnt[0] > 0) + (cnt[1] > 0) + (cnt[2] > 0) + (cnt[3] > 0);
  int first = qtree_new_nodes (t, n_child);
  q = &t->nodes[at];   /* the array may have moved */
  q->child = first;
  q->n_child = n_child;
  double h = 0.5 * hw;
  int c = first;
  for (int k = 0; k < 4; k++)
    if (cnt[k] > 0)
      qtree_build (t, c++, off[k], cnt[k], cx + ((k & 1) ? h : -h), cy + ((k & 2) ? h : -h),
                   h, depth + 1);
}

/* The Barnes-Hut traversal for every point: rep [n x 2] (in original order); returns Z.
 * Points are visited in tree order: neighbours in turn walk the same cells. One body, compiled
 * twice: for any x86-64 and, chosen at run time, with AVX2/FMA (the leaf loop 4 wide). */
static inline __attribute__ ((always_inline)) double
bh_repulsion_body (const QTree *t, int n, double th2, double *rep)
{
  int stack[4 * 52 + 8];
  double z = 0.0;
  for (int s = 0; s < n; s++)
    {
      double px = t->px[s], py = t->py[s];
      double rx = 0.0, ry = 0.0, zi = 0.0;
      int sp = 0;
      stack[sp++] = 0;
      while (sp > 0)
        {
          const QNode *q = &t->nodes[stack[--sp]];
          double dx = px - q->mx, dy = py - q->my;
          double d2 = dx * dx + dy * dy;
          if (q->n_child > 0)
            {
              if (q->size2 >= th2 * d2)
                {
                  for (int c = 0; c < q->n_child; c++)
                    stack[sp++] = q->child + c;
                  continue;
                }
              double w = 1.0 / (1.0 + d2);
              double cw = q->count * w;
              zi += cw;
              rx += cw * w * dx;
              ry += cw * w * dy;
              continue;
            }
          /* an opened leaf: each of its points exactly (duplicates count: w = 1, no force).
           * This point itself, when in the leaf, adds w = 1 and no force: taken off after
           * the loop, which keeps the loop branch-free (vectorised). */
          double lz = 0.0, lx = 0.0, ly = 0.0;
          const double *lpx = t->px + q->start, *lpy = t->py + q->start;
          for (int e = 0; e < q->count; e++)
            {
              double ex = px - lpx[e], ey = py - lpy[e];
              double w = 1.0 / (1.0 + ex * ex + ey * ey);
              double w2 = w * w;
              lz += w;
              lx += w2 * ex;
              ly += w2 * ey;
            }
          if (s >= q->start && s < q->start + q->count)
            lz -= 1.0;
          zi += lz;
          rx += lx;
          ry += ly;
        }
      int i = t->id[s];
      rep[2 * i] = rx;
      rep[2 * i + 1] = ry;
      z += zi;
    }
  return z;
}

static double
bh_repulsion_generic (const QTree *t, int n, double th2, double *rep)
{
  return bh_repulsion_body (t, n, th2, rep);
}

__attribute__ ((target ("avx2,fma"))) static double
bh_repulsion_avx2 (const QTree *t, int n, double th2, double *rep)
{
  return bh_repulsion_body (t, n, th2, rep);
}

void
fw_tsne_gradient_bh (const FwTsneP *p, const double *y, double theta, double exaggeration,
                     double *grad, double *kl)
{
  int n = p->n;
  attractive (p, y, exaggeration, grad, kl);

  QTree t = { 0 };
  t.px = g_new (double, n);
  t.py = g_new (double, n);
  t.id = g_new (int, n);
  t.tmp = g_new (int, n);
  double x0 = y[0], x1 = y[0], y0 = y[1], y1 = y[1];
  for (int i = 0; i < n; i++)
    {
      t.px[i] = y[2 * i];
      t.py[i] = y[2 * i + 1];
      t.id[i] = i;
      x0 = MIN (x0, t.px[i]);
      x1 = MAX (x1, t.px[i]);
      y0 = MIN (y0, t.py[i]);
      y1 = MAX (y1, t.py[i]);
    }
  double hw = 0.5 * MAX (x1 - x0, y1 - y0) * (1.0 + 1e-9) + 1e-12;
  qtree_new_nodes (&t, 1);
  qtree_build (&t, 0, 0, n, 0.5 * (x0 + x1), 0.5 * (y0 + y1), hw, 0);

  /* rep_i = sum over accepted cells of count * w^2 (y_i - com) (w = 1 / (1 + |y_i - com|^2))
   * plus the exact terms of the points of opened leaves; Z likewise with count * w. */
  g_autofree double *rep = g_new (double, 2 * (gsize) n);
  double z = fw_kernels_have_avx2 () ? bh_repulsion_avx2 (&t, n, theta * theta, rep)
                                     : bh_repulsion_generic (&t, n, theta * theta, rep);
  g_free (t.nodes);
  g_free (t.px);
  g_free (t.py);
  g_free (t.id);
  g_free (t.tmp);
  for (gsize e = 0; e < 2 * (gsize) n; e++)
    grad[e] -= 4.0 * rep[e] / z;
  if (kl != NULL)
    *kl += log (z);
}

/* ------------------------------------------------------------------------------------------
 * The optimisation
 * ---------------------------------------------------------------------------------------- */

void
fw_tsne_params_init (FwTsneParams *params)
{
  *params = (FwTsneParams) {
    .perplexity = 30.0,
    .n_iter = 1000,
    .theta = 0.5,
    .exact_max = 1000,
    .early_exaggeration = 12.0,
    .exaggeration_iters = 250,
    .learning_rate = 0.0,
    .pca_dims = 50,
    .seed = 1,
    .callback_every = 10,
  };
}

gboolean
fw_tsne_run (const float *x, int n, int d, const FwTsneParams *params, float *y_out,
             GError **error)
{
  FwTsneParams def;
  if (params == NULL)
    {
      fw_tsne_params_init (&def);
      params = &def;
    }
  if (n < 4)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "t-SNE needs at least 4 points (got %d): choose more samples", n);
      return FALSE;
    }
  if (params->n_iter < 1 || params->theta < 0.0 || params->early_exaggeration <= 0.0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "t-SNE: iterations must be >= 1, theta >= 0 and the exaggeration > 0 "
                   "(got %d, %g, %g)", params->n_iter, params->theta,
                   params->early_exaggeration);
      return FALSE;
    }
  if (!(params->perplexity >= 1.0))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "t-SNE: the perplexity must be at least 1 (got %g); 5 to 50 is usual",
                   params->perplexity);
      return FALSE;
    }

  for (gsize e = 0; e < (gsize) n * d; e++)
    if (!isfinite (x[e]))
      {
        g_set_error (error, FW_ERROR, FW_ERROR_NUMERIC,
                     "t-SNE: feature %d of point %d is not a finite number; check the model "
                     "(a diverged training gives NaN activations)", (int) (e % d), (int) (e / d));
        return FALSE;
      }

  /* reduce wide inputs by PCA first (the usual practice: faster neighbours, less noise) */
  g_autofree float *xr = NULL;
  if (params->pca_dims > 0 && d > params->pca_dims && n > params->pca_dims)
    {
      g_autoptr (FwPca) pca = fw_pca_fit (x, n, d, params->pca_dims, error);
      if (pca == NULL)
        return FALSE;
      xr = g_new (float, (gsize) n * params->pca_dims);
      fw_pca_transform (pca, x, n, xr);
      x = xr;
      d = params->pca_dims;
    }

  gboolean exact = n <= params->exact_max;
  if (exact && n > FW_TSNE_EXACT_LIMIT)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "Exact t-SNE of %d points would need %d x %d affinities: use Barnes-Hut "
                   "(exact up to %d points at most)", n, n, n, FW_TSNE_EXACT_LIMIT);
      return FALSE;
    }
  double perp = MIN (params->perplexity, (n - 1) / 3.0);
  perp = MAX (perp, 1.0);
  int k = exact ? n - 1 : MIN (n - 1, (int) floor (3.0 * perp));
  if (perp >= k)
    perp = MAX (1.0, k - 1.0);
  g_autoptr (FwTsneP) p = fw_tsne_affinities (x, n, d, perp, k, error);
  if (p == NULL)
    return FALSE;

  gsize m = 2 * (gsize) n;
  g_autofree double *y = g_new (double, m);
  g_autofree double *grad = g_new (double, m);
  g_autofree double *upd = g_new0 (double, m);
  g_autofree double *gains = g_new (double, m);
  g_autofree float *snap = g_new (float, m);
  for (gsize e = 0; e < m; e++)
    gains[e] = 1.0;
  if (params->init != NULL)
    for (gsize e = 0; e < m; e++)
      y[e] = params->init[e];
  else
    {
      FwRng rng;
      fw_rng_init (&rng, params->seed);
      for (gsize e = 0; e < m; e++)
        y[e] = 1e-4 * fw_rng_normal (&rng);
    }
  double lr = params->learning_rate > 0.0
    ? params->learning_rate : MAX (n / params->early_exaggeration / 4.0, 50.0);
  int every = params->callback_every > 0 ? params->callback_every : 10;

  for (int it = 0; it < params->n_iter; it++)
    {
      if (g_cancellable_is_cancelled (params->cancellable))
        {
          g_set_error (error, FW_ERROR, FW_ERROR_CANCELLED, "t-SNE cancelled");
          return FALSE;
        }
      gboolean exag_phase = it < params->exaggeration_iters;
      double ex = exag_phase ? params->early_exaggeration : 1.0;
      double mom = exag_phase ? 0.5 : 0.8;
      gboolean report = params->callback != NULL
                        && ((it + 1) % every == 0 || it + 1 == params->n_iter);
      double kl = NAN;
      if (exact)
        fw_tsne_gradient_exact (p, y, ex, grad, report ? &kl : NULL);
      else
        fw_tsne_gradient_bh (p, y, params->theta, ex, grad, report ? &kl : NULL);
      /* gains grow where the gradient turned against the last step, shrink otherwise */
      for (gsize e = 0; e < m; e++)
        {
          gains[e] = upd[e] * grad[e] < 0.0 ? gains[e] + 0.2 : gains[e] * 0.8;
          if (gains[e] < 0.01)
            gains[e] = 0.01;
          upd[e] = mom * upd[e] - lr * gains[e] * grad[e];
          y[e] += upd[e];
        }
      double cx = 0.0, cy = 0.0;
      for (int i = 0; i < n; i++)
        {
          cx += y[2 * i];
          cy += y[2 * i + 1];
        }
      cx /= n;
      cy /= n;
      for (int i = 0; i < n; i++)
        {
          y[2 * i] -= cx;
          y[2 * i + 1] -= cy;
        }
      if (report)
        {
          for (gsize e = 0; e < m; e++)
            snap[e] = (float) y[e];
          if (!params->callback (it + 1, params->n_iter, snap, n, kl, params->user_data))
            break;
        }
    }
  for (gsize e = 0; e < m; e++)
    y_out[e] = (float) y[e];
  return TRUE;
}

/* ------------------------------------------------------------------------------------------
 * Tracking an embedding across training
 * ---------------------------------------------------------------------------------------- */

struct _FwEmbedTracker {
  FwDataset *ds;
  int n, layer, next_iter, updates;
  gint32 *idx;            /* [n] */
  FwTsneParams params;
  float *y;               /* [n x 2] or NULL */
};

FwEmbedTracker *
fw_embed_tracker_new (FwDataset *ds, int n, int layer, guint64 seed, const FwTsneParams *params,
                      int next_iter)
{
  g_return_val_if_fail (ds != NULL, NULL);
  FwEmbedTracker *t = g_new0 (FwEmbedTracker, 1);
  t->ds = fw_dataset_ref (ds);
  t->idx = g_new (gint32, MAX (1, MIN (n, ds->n)));
  t->n = fw_features_pick (ds, n, seed, t->idx);
  t->layer = layer;
  t->next_iter = MAX (1, next_iter);
  if (params != NULL)
    t->params = *params;
  else
    fw_tsne_params_init (&t->params);
  t->params.seed = seed;
  t->params.callback = NULL;
  t->params.init = NULL;
  return t;
}

void
fw_embed_tracker_free (FwEmbedTracker *t)
{
  if (t == NULL)
    return;
  fw_dataset_unref (t->ds);
  g_free (t->idx);
  g_free (t->y);
  g_free (t);
}

gboolean
fw_embed_tracker_update (FwEmbedTracker *t, FwModel *model, GCancellable *cancellable,
                         GError **error)
{
  int layer = t->layer < 0 ? model->n_layers + t->layer : t->layer;
  if (layer < 0)
    layer = 0;
  g_autoptr (FwFeatures) f = fw_features_layer (model, layer, t->ds, t->idx, t->n, 256,
                                                cancellable, error);
  if (f == NULL)
    return FALSE;
  FwTsneParams prm = t->params;
  prm.cancellable = cancellable;
  if (t->y != NULL)
    {
      /* continue from the last layout: no exaggeration, fewer steps */
      prm.init = t->y;
      prm.exaggeration_iters = 0;
      prm.n_iter = t->next_iter;
    }
  g_autofree float *y = g_new (float, 2 * (gsize) t->n);
  if (!fw_tsne_run (f->x, f->n, f->d, &prm, y, error))
    return FALSE;
  g_free (t->y);
  t->y = g_steal_pointer (&y);
  t->updates++;
  return TRUE;
}

const float *
fw_embed_tracker_layout (const FwEmbedTracker *t, int *n)
{
  if (n != NULL)
    *n = t->n;
  return t->y;
}

const gint32 *
fw_embed_tracker_indices (const FwEmbedTracker *t)
{
  return t->idx;
}

int
fw_embed_tracker_updates (const FwEmbedTracker *t)
{
  return t->updates;
}
