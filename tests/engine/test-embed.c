/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-embed.c: PCA, t-SNE and layer features against independent computations. */
#include <math.h>
#include <string.h>

#include "fw-embed.h"
#include "fw-error.h"
#include "fw-features.h"
#include "fw-model.h"
#include "fw-test-util.h"

/* ---- helpers ---- */

/* Gaussian clusters: n_clusters centres N(0, sep^2) in d dims, points N(centre, 1). */
static float *
make_clusters (int n_clusters, int per, int d, double sep, guint64 seed, gint32 *label)
{
  FwRng rng;
  fw_rng_init (&rng, seed);
  g_autofree double *c = g_new (double, (gsize) n_clusters * d);
  for (int e = 0; e < n_clusters * d; e++)
    c[e] = sep * fw_rng_normal (&rng);
  float *x = g_new (float, (gsize) n_clusters * per * d);
  for (int k = 0; k < n_clusters; k++)
    for (int i = 0; i < per; i++)
      {
        int s = k * per + i;
        label[s] = k;
        for (int j = 0; j < d; j++)
          x[(gsize) s * d + j] = (float) (c[k * d + j] + fw_rng_normal (&rng));
      }
  return x;
}

/* Fraction of points whose nearest other point in y [n x 2] has the same label. */
static double
nn_agreement (const float *y, const gint32 *label, int n)
{
  int ok = 0;
  for (int i = 0; i < n; i++)
    {
      double best = INFINITY;
      int bj = -1;
      for (int j = 0; j < n; j++)
        {
          if (j == i)
            continue;
          double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
          double d2 = dx * dx + dy * dy;
          if (d2 < best)
            {
              best = d2;
              bj = j;
            }
        }
      ok += label[bj] == label[i];
    }
  return (double) ok / n;
}

/* Naive covariance in double: c [d x d] */
static void
naive_cov (const float *x, int n, int d, double *c)
{
  g_autofree double *mu = g_new0 (double, d);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < d; j++)
      mu[j] += x[(gsize) i * d + j] / n;
  memset (c, 0, sizeof (double) * d * d);
  for (int i = 0; i < n; i++)
    for (int a = 0; a < d; a++)
      for (int b = 0; b < d; b++)
        c[a * d + b] += (x[(gsize) i * d + a] - mu[a]) * (x[(gsize) i * d + b] - mu[b]) / (n - 1);
}

/* Random correlated data: x = z A with z ~ N(0, 1), A with decaying column scales. */
static float *
make_correlated (int n, int d, guint64 seed)
{
  FwRng rng;
  fw_rng_init (&rng, seed);
  g_autofree double *a = g_new (double, d * d);
  for (int r = 0; r < d; r++)
    for (int c = 0; c < d; c++)
      a[r * d + c] = fw_rng_normal (&rng) * (r + 1.0) / d;
  float *x = g_new (float, (gsize) n * d);
  g_autofree double *z = g_new (double, d);
  for (int i = 0; i < n; i++)
    {
      for (int r = 0; r < d; r++)
        z[r] = fw_rng_normal (&rng) * pow (0.6, r);
      for (int c = 0; c < d; c++)
        {
          double s = 3.0;
          for (int r = 0; r < d; r++)
            s += z[r] * a[r * d + c];
          x[(gsize) i * d + c] = (float) s;
        }
    }
  return x;
}

/* ---- PCA ---- */

static void
test_pca_matches_power_iteration (void)
{
  const int n = 400, d = 10, k = 3;
  g_autofree float *x = make_correlated (n, d, 11);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwPca) pca = fw_pca_fit (x, n, d, k, &error);
  g_assert_no_error (error);

  /* top-k eigenpairs of the naive covariance by power iteration with deflation */
  g_autofree double *c = g_new (double, d * d);
  naive_cov (x, n, d, c);
  g_autofree double *v = g_new (double, d);
  g_autofree double *t = g_new (double, d);
  for (int comp = 0; comp < k; comp++)
    {
      for (int j = 0; j < d; j++)
        v[j] = 1.0 + 0.1 * j;
      double lam = 0.0;
      for (int it = 0; it < 5000; it++)
        {
          for (int a = 0; a < d; a++)
            {
              t[a] = 0.0;
              for (int b = 0; b < d; b++)
                t[a] += c[a * d + b] * v[b];
            }
          double norm = 0.0;
          for (int a = 0; a < d; a++)
            norm += t[a] * t[a];
          norm = sqrt (norm);
          lam = norm;
          for (int a = 0; a < d; a++)
            v[a] = t[a] / norm;
        }
      double dot = 0.0;
      for (int j = 0; j < d; j++)
        dot += v[j] * pca->components[comp * d + j];
      g_test_message ("component %d: lambda %g vs %g, |cos| %.8f", comp, lam,
                      pca->variance[comp], fabs (dot));
      g_assert_cmpfloat (fabs (dot), >, 0.9999);
      g_assert_cmpfloat (fabs (lam - pca->variance[comp]) / lam, <, 1e-3);
      /* deflate: C <- C - lam v v^T */
      for (int a = 0; a < d; a++)
        for (int b = 0; b < d; b++)
          c[a * d + b] -= lam * v[a] * v[b];
    }
}

static void
test_pca_line_direction (void)
{
  /* points c + t u (+ tiny noise): the first component is u */
  const int n = 200, d = 6;
  double u[6] = { 1, -2, 0.5, 0, 3, 1 };
  double nu = 0.0;
  for (int j = 0; j < d; j++)
    nu += u[j] * u[j];
  nu = sqrt (nu);
  for (int j = 0; j < d; j++)
    u[j] /= nu;
  FwRng rng;
  fw_rng_init (&rng, 3);
  g_autofree float *x = g_new (float, n * d);
  for (int i = 0; i < n; i++)
    {
      double tt = 5.0 * fw_rng_normal (&rng);
      for (int j = 0; j < d; j++)
        x[i * d + j] = (float) (7.0 - j + tt * u[j] + 1e-3 * fw_rng_normal (&rng));
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (FwPca) pca = fw_pca_fit (x, n, d, 2, &error);
  g_assert_no_error (error);
  double dot = 0.0;
  for (int j = 0; j < d; j++)
    dot += u[j] * pca->components[j];
  g_assert_cmpfloat (fabs (dot), >, 0.99999);
  g_assert_cmpfloat (pca->ratio[0], >, 0.9999);
  g_assert_cmpfloat (pca->ratio[1], <, 1e-4);
}

static void
test_pca_ratio_sums_to_one (void)
{
  const int n = 300, d = 8;
  g_autofree float *x = make_correlated (n, d, 5);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwPca) pca = fw_pca_fit (x, n, d, d, &error);
  g_assert_no_error (error);
  double s = 0.0;
  for (int c = 0; c < d; c++)
    {
      s += pca->ratio[c];
      if (c > 0)
        g_assert_cmpfloat (pca->variance[c], <=, pca->variance[c - 1]);
    }
  g_assert_cmpfloat (fabs (s - 1.0), <, 1e-4);
  /* the total variance is the trace of the naive covariance */
  g_autofree double *c = g_new (double, d * d);
  naive_cov (x, n, d, c);
  double tr = 0.0;
  for (int j = 0; j < d; j++)
    tr += c[j * d + j];
  g_assert_cmpfloat (fabs (tr - pca->total_variance) / tr, <, 1e-4);
}

static void
test_pca_few_components_match_full (void)
{
  /* k < d/4 takes LAPACK's selected-eigenvector path; k = d the full decomposition */
  const int n = 300, d = 40, k = 3;
  g_autofree float *x = make_correlated (n, d, 17);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwPca) few = fw_pca_fit (x, n, d, k, &error);
  g_assert_no_error (error);
  g_autoptr (FwPca) all = fw_pca_fit (x, n, d, d, &error);
  g_assert_no_error (error);
  for (int c = 0; c < k; c++)
    {
      g_assert_cmpfloat (fabs (few->variance[c] - all->variance[c]), <,
                         1e-4 * all->variance[0]);
      g_assert_cmpfloat (fabs (few->ratio[c] - all->ratio[c]), <, 1e-5);
      for (int j = 0; j < d; j++)
        g_assert_cmpfloat (fabs (few->components[c * d + j] - all->components[c * d + j]), <,
                           1e-3);
    }
}

static void
test_pca_projection_matches_naive (void)
{
  const int n = 50, d = 7, k = 3;
  g_autofree float *x = make_correlated (n, d, 9);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwPca) pca = fw_pca_fit (x, n, d, k, &error);
  g_assert_no_error (error);
  g_autofree float *y = g_new (float, n * k);
  fw_pca_transform (pca, x, n, y);
  g_autofree double *mu = g_new0 (double, d);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < d; j++)
      mu[j] += x[i * d + j] / (double) n;
  for (int i = 0; i < n; i++)
    for (int c = 0; c < k; c++)
      {
        double s = 0.0;
        for (int j = 0; j < d; j++)
          s += (x[i * d + j] - mu[j]) * pca->components[c * d + j];
        g_assert_cmpfloat (fabs (s - y[i * k + c]), <, 1e-3 * (1.0 + fabs (s)));
      }
}

static void
test_pca_bad_input (void)
{
  float x[12] = { 0 };
  const int ks[] = { 0, 5 };
  for (int t = 0; t < 2; t++)
    {
      g_autoptr (GError) error = NULL;
      FwPca *p = fw_pca_fit (x, 3, 4, ks[t], &error);
      g_assert_null (p);
      g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, "components"));
    }
  g_autoptr (GError) error = NULL;
  g_assert_null (fw_pca_fit (x, 1, 4, 2, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_clear_error (&error);
  x[5] = NAN;
  g_assert_null (fw_pca_fit (x, 3, 4, 2, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_NUMERIC);
  g_assert_nonnull (strstr (error->message, "sample 1"));
  g_clear_error (&error);
  float xt[40];
  for (int i = 0; i < 40; i++)
    xt[i] = (float) (i % 7);
  xt[13] = INFINITY;
  float yt[40];
  g_assert_false (fw_tsne_run (xt, 10, 4, NULL, yt, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_NUMERIC);
}

/* ---- t-SNE ---- */

static void
test_tsne_affinities_symmetric (void)
{
  const int n = 120, d = 5;
  g_autofree gint32 *lab = g_new (gint32, n);
  g_autofree float *x = make_clusters (3, n / 3, d, 4.0, 2, lab);
  const int ks[] = { 0, 30 };
  for (int t = 0; t < 2; t++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (FwTsneP) p = fw_tsne_affinities (x, n, d, 10.0, ks[t], &error);
      g_assert_no_error (error);
      g_autofree double *dense = g_new0 (double, n * n);
      double sum = 0.0;
      for (int i = 0; i < n; i++)
        for (gint64 e = p->row[i]; e < p->row[i + 1]; e++)
          {
            g_assert_cmpint (p->col[e], !=, i);
            g_assert_cmpfloat (dense[i * n + p->col[e]], ==, 0.0);   /* no duplicates */
            dense[i * n + p->col[e]] = p->val[e];
            sum += p->val[e];
          }
      g_assert_cmpfloat (fabs (sum - 1.0), <, 1e-9);
      for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
          g_assert_cmpfloat (fabs (dense[i * n + j] - dense[j * n + i]), <, 1e-15);
    }
  /* a perplexity at or above the neighbour count is refused */
  g_autoptr (GError) error = NULL;
  g_assert_null (fw_tsne_affinities (x, n, d, 40.0, 30, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "perplexity"));
}

/* KL(P || Q) computed directly from a dense P, in double. */
static double
naive_kl (const double *pd, const double *y, int n)
{
  double z = 0.0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      if (i != j)
        {
          double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
          z += 1.0 / (1.0 + dx * dx + dy * dy);
        }
  double kl = 0.0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      if (i != j && pd[i * n + j] > 0.0)
        {
          double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
          double q = 1.0 / (1.0 + dx * dx + dy * dy) / z;
          kl += pd[i * n + j] * log (pd[i * n + j] / q);
        }
  return kl;
}

static void
test_tsne_gradient_matches_finite_differences (void)
{
  const int n = 40, d = 6;
  g_autofree gint32 *lab = g_new (gint32, n);
  g_autofree float *x = make_clusters (4, n / 4, d, 3.0, 7, lab);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwTsneP) p = fw_tsne_affinities (x, n, d, 8.0, 0, &error);
  g_assert_no_error (error);
  g_autofree double *pd = g_new0 (double, n * n);
  for (int i = 0; i < n; i++)
    for (gint64 e = p->row[i]; e < p->row[i + 1]; e++)
      pd[i * n + p->col[e]] = p->val[e];

  FwRng rng;
  fw_rng_init (&rng, 4);
  g_autofree double *y = g_new (double, 2 * n);
  for (int e = 0; e < 2 * n; e++)
    y[e] = 2.0 * fw_rng_normal (&rng);
  g_autofree double *grad = g_new (double, 2 * n);
  double kl = 0.0;
  fw_tsne_gradient_exact (p, y, 1.0, grad, &kl);
  g_assert_cmpfloat (fabs (kl - naive_kl (pd, y, n)), <, 1e-9);

  double worst = 0.0, h = 1e-5;
  for (int e = 0; e < 2 * n; e++)
    {
      double keep = y[e];
      y[e] = keep + h;
      double up = naive_kl (pd, y, n);
      y[e] = keep - h;
      double dn = naive_kl (pd, y, n);
      y[e] = keep;
      double fd = (up - dn) / (2.0 * h);
      double rel = fabs (fd - grad[e]) / (fabs (fd) + 1e-6);
      worst = MAX (worst, rel);
    }
  g_test_message ("worst relative error %g", worst);
  g_assert_cmpfloat (worst, <, 1e-4);

  /* exaggeration scales the attractive part only: grad(ex) - grad(1) = (ex - 1) * attr */
  g_autofree double *g3 = g_new (double, 2 * n);
  fw_tsne_gradient_exact (p, y, 3.0, g3, NULL);
  for (int i = 0; i < n; i++)
    {
      double ax = 0.0, ay = 0.0;
      for (int j = 0; j < n; j++)
        {
          double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
          double w = 1.0 / (1.0 + dx * dx + dy * dy);
          ax += 4.0 * pd[i * n + j] * w * dx;
          ay += 4.0 * pd[i * n + j] * w * dy;
        }
      g_assert_cmpfloat (fabs (g3[2 * i] - grad[2 * i] - 2.0 * ax), <, 1e-9);
      g_assert_cmpfloat (fabs (g3[2 * i + 1] - grad[2 * i + 1] - 2.0 * ay), <, 1e-9);
    }
}

static double
rel_norm_err (const double *a, const double *b, int m)
{
  double num = 0.0, den = 0.0;
  for (int e = 0; e < m; e++)
    {
      num += (a[e] - b[e]) * (a[e] - b[e]);
      den += b[e] * b[e];
    }
  return sqrt (num / den);
}

static void
test_tsne_barnes_hut_matches_exact (void)
{
  const int n = 400, d = 5;
  g_autofree gint32 *lab = g_new (gint32, n);
  g_autofree float *x = make_clusters (4, n / 4, d, 3.0, 8, lab);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwTsneP) p = fw_tsne_affinities (x, n, d, 20.0, 60, &error);
  g_assert_no_error (error);
  FwRng rng;
  fw_rng_init (&rng, 5);
  g_autofree double *y = g_new (double, 2 * n);
  for (int e = 0; e < 2 * n; e++)
    y[e] = 10.0 * fw_rng_normal (&rng);
  /* two coincident points exercise the duplicate-leaf path */
  y[2] = y[0];
  y[3] = y[1];
  g_autofree double *ge = g_new (double, 2 * n);
  g_autofree double *gb = g_new (double, 2 * n);
  double kle = 0.0, klb = 0.0;
  fw_tsne_gradient_exact (p, y, 1.0, ge, &kle);
  fw_tsne_gradient_bh (p, y, 0.0, 1.0, gb, &klb);
  g_assert_cmpfloat (rel_norm_err (gb, ge, 2 * n), <, 1e-10);
  g_assert_cmpfloat (fabs (klb - kle), <, 1e-9);
  double prev = 0.0;
  const double thetas[] = { 0.1, 0.3, 0.5 };
  for (int t = 0; t < 3; t++)
    {
      double klt = 0.0;
      fw_tsne_gradient_bh (p, y, thetas[t], 1.0, gb, &klt);
      double err = rel_norm_err (gb, ge, 2 * n);
      g_test_message ("theta %.1f: gradient relative error %.2e, KL %g vs %g", thetas[t], err,
                      klt, kle);
      g_assert_cmpfloat (err, <, thetas[t] <= 0.1 ? 0.01 : 0.1);
      g_assert_cmpfloat (err, >=, prev * 0.5);
      prev = err;
    }
}

typedef struct {
  int calls, last_iter, stop_at;
  GCancellable *cancel_at_stop;
} CbState;

static gboolean
count_cb (int iter, int n_iter, const float *y, int n, double kl, gpointer user_data)
{
  CbState *s = user_data;
  g_assert_cmpint (iter, >, s->last_iter);
  g_assert_cmpint (iter, <=, n_iter);
  g_assert_true (isfinite (y[0]) && isfinite (y[2 * n - 1]) && isfinite (kl));
  s->calls++;
  s->last_iter = iter;
  if (s->stop_at > 0 && iter >= s->stop_at)
    {
      if (s->cancel_at_stop != NULL)
        {
          g_cancellable_cancel (s->cancel_at_stop);
          return TRUE;
        }
      return FALSE;
    }
  return TRUE;
}

static void
test_tsne_separates_clusters (gconstpointer data)
{
  gboolean bh = GPOINTER_TO_INT (data);
  const int per = bh ? 120 : 60, d = 20;
  const int n = 5 * per;
  g_autofree gint32 *lab = g_new (gint32, n);
  g_autofree float *x = make_clusters (5, per, d, 3.0, 21, lab);
  /* the clusters overlap in no direction: centres ~ 3 sqrt(2 d) apart, noise 1 per axis */
  FwTsneParams prm;
  fw_tsne_params_init (&prm);
  prm.n_iter = 400;
  prm.exact_max = bh ? 0 : 10000;
  CbState st = { 0 };
  prm.callback = count_cb;
  prm.user_data = &st;
  g_autofree float *y = g_new (float, 2 * n);
  g_autoptr (GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  g_assert_true (fw_tsne_run (x, n, d, &prm, y, &error));
  g_assert_no_error (error);
  double agree = nn_agreement (y, lab, n);
  g_test_message ("%s, %d points: 1-NN class agreement %.3f in %.2f s", bh ? "Barnes-Hut" : "exact",
                  n, agree, (g_get_monotonic_time () - t0) / 1e6);
  g_assert_cmpfloat (agree, >, 0.95);
  g_assert_cmpint (st.calls, ==, 40);
  g_assert_cmpint (st.last_iter, ==, 400);
  /* the raw inputs' own 1-NN agreement is not what makes this pass: the random layout fails */
  g_autofree float *r = g_new (float, 2 * n);
  FwRng rng;
  fw_rng_init (&rng, 1);
  for (int e = 0; e < 2 * n; e++)
    r[e] = (float) fw_rng_normal (&rng);
  g_assert_cmpfloat (nn_agreement (r, lab, n), <, 0.5);
}

static void
test_tsne_same_seed_same_layout (void)
{
  const int n = 150, d = 8;
  g_autofree gint32 *lab = g_new (gint32, n);
  g_autofree float *x = make_clusters (3, n / 3, d, 3.0, 12, lab);
  FwTsneParams prm;
  fw_tsne_params_init (&prm);
  prm.n_iter = 120;
  prm.exact_max = 0;   /* Barnes-Hut */
  g_autofree float *a = g_new (float, 2 * n);
  g_autofree float *b = g_new (float, 2 * n);
  g_autofree float *c = g_new (float, 2 * n);
  g_assert_true (fw_tsne_run (x, n, d, &prm, a, NULL));
  g_assert_true (fw_tsne_run (x, n, d, &prm, b, NULL));
  prm.seed = 2;
  g_assert_true (fw_tsne_run (x, n, d, &prm, c, NULL));
  g_assert_cmpmem (a, sizeof (float) * 2 * n, b, sizeof (float) * 2 * n);
  g_assert_true (memcmp (a, c, sizeof (float) * 2 * n) != 0);
}

static void
test_tsne_stop_and_cancel (void)
{
  const int n = 90, d = 4;
  g_autofree gint32 *lab = g_new (gint32, n);
  g_autofree float *x = make_clusters (3, n / 3, d, 3.0, 13, lab);
  g_autofree float *y = g_new (float, 2 * n);
  FwTsneParams prm;
  fw_tsne_params_init (&prm);
  prm.n_iter = 300;
  prm.callback_every = 5;
  CbState st = { .stop_at = 50 };
  prm.callback = count_cb;
  prm.user_data = &st;
  g_assert_true (fw_tsne_run (x, n, d, &prm, y, NULL));
  g_assert_cmpint (st.calls, ==, 10);

  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  CbState st2 = { .stop_at = 20, .cancel_at_stop = cancel };
  prm.user_data = &st2;
  prm.cancellable = cancel;
  g_autoptr (GError) error = NULL;
  g_assert_false (fw_tsne_run (x, n, d, &prm, y, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_CANCELLED);
  g_assert_cmpint (st2.last_iter, ==, 20);

  /* bad input: a clear error, no crash */
  g_clear_error (&error);
  g_assert_false (fw_tsne_run (x, 3, d, NULL, y, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_clear_error (&error);
  fw_tsne_params_init (&prm);
  prm.perplexity = 0.0;
  g_assert_false (fw_tsne_run (x, n, d, &prm, y, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_clear_error (&error);
  fw_tsne_params_init (&prm);
  prm.exact_max = G_MAXINT;
  g_autofree float *big = g_new0 (float, (FW_TSNE_EXACT_LIMIT + 1) * 2);
  g_autofree float *ybig = g_new (float, (FW_TSNE_EXACT_LIMIT + 1) * 2);
  g_assert_false (fw_tsne_run (big, FW_TSNE_EXACT_LIMIT + 1, 2, &prm, ybig, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "Barnes-Hut"));
}

/* How far the clusters moved from layout a to layout b: the class centroids' squared
 * displacement after the best scale s = <A, B> / <A, A> (t-SNE layouts keep expanding
 * slowly, which is no jump), relative to the centroids' spread sum |A_k|^2. */
static double
centroid_move (const float *a, const float *b, const gint32 *lab, int n, int k)
{
  g_autofree double *ca = g_new0 (double, 2 * k);
  g_autofree double *cb = g_new0 (double, 2 * k);
  g_autofree int *cnt = g_new0 (int, k);
  for (int i = 0; i < n; i++)
    {
      cnt[lab[i]]++;
      for (int c = 0; c < 2; c++)
        {
          ca[2 * lab[i] + c] += a[2 * i + c];
          cb[2 * lab[i] + c] += b[2 * i + c];
        }
    }
  double aa = 0.0, ab = 0.0;
  for (int e = 0; e < 2 * k; e++)
    {
      ca[e] /= cnt[e / 2];
      cb[e] /= cnt[e / 2];
      aa += ca[e] * ca[e];
      ab += ca[e] * cb[e];
    }
  double sc = ab / aa, moved = 0.0;
  for (int e = 0; e < 2 * k; e++)
    moved += (cb[e] - sc * ca[e]) * (cb[e] - sc * ca[e]);
  return sqrt (moved / (sc * sc) / aa);
}

static void
test_tsne_init_layout_does_not_jump (void)
{
  /* continuing from a finished layout (no exaggeration) keeps points near where they were,
   * which is what animating an embedding across epochs relies on */
  const int n = 200, d = 10;
  g_autofree gint32 *lab = g_new (gint32, n);
  g_autofree float *x = make_clusters (4, n / 4, d, 3.0, 14, lab);
  FwTsneParams prm;
  fw_tsne_params_init (&prm);
  prm.n_iter = 300;
  g_autofree float *a = g_new (float, 2 * n);
  g_autofree float *b = g_new (float, 2 * n);
  g_assert_true (fw_tsne_run (x, n, d, &prm, a, NULL));
  prm.init = a;
  prm.n_iter = 50;
  prm.exaggeration_iters = 0;
  g_assert_true (fw_tsne_run (x, n, d, &prm, b, NULL));
  double kept = centroid_move (a, b, lab, n, 4);
  g_test_message ("continued: clusters moved %.3g of their spread", kept);
  g_assert_cmpfloat (kept, <, 0.2);
  /* and a fresh random start lands elsewhere (the property is not vacuous) */
  prm.init = NULL;
  prm.seed = 99;
  prm.exaggeration_iters = 250;
  prm.n_iter = 300;
  g_assert_true (fw_tsne_run (x, n, d, &prm, b, NULL));
  double fresh = centroid_move (a, b, lab, n, 4);
  g_test_message ("fresh start: clusters moved %.3g of their spread", fresh);
  g_assert_cmpfloat (fresh, >, 0.3);
}

/* ---- features ---- */

static FwDataset *
small_dataset (int n, FwShape shape, guint64 seed)
{
  FwDataset *ds = fw_dataset_new ("test", n, shape, 3);
  FwRng rng;
  fw_rng_init (&rng, seed);
  fw_test_fill_uniform (ds->x, (gsize) n * fw_shape_size (shape), 0.0f, 1.0f, &rng);
  for (int i = 0; i < n; i++)
    ds->y[i] = i % 3;
  return ds;
}

static void
test_features_layer_matches_manual_forward (void)
{
  FwShape in = { 1, 6, 6 };
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new ("custom", "flatten,dense:12,relu,dense:5,relu,dense:3",
                                        in, &error);
  g_assert_no_error (error);
  fw_model_init (m, 3);
  m->in_mean = 0.4f;
  m->in_std = 0.3f;
  const int n = 23;
  g_autoptr (FwDataset) ds = small_dataset (n, in, 1);
  gint32 idx[] = { 22, 0, 5, 7, 7, 13, 2, 19, 11, 4 };
  const int ni = G_N_ELEMENTS (idx);

  for (int layer = -1; layer < m->n_layers; layer++)
    {
      g_autoptr (FwFeatures) f = fw_features_layer (m, layer, ds, idx, ni, 4, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (f->d, ==, fw_features_layer_width (m, layer));
      for (int s = 0; s < ni; s++)
        {
          /* manual pass, one sample at a time, through each layer's forward() */
          g_autofree float *cur = g_new (float, 36);
          for (int j = 0; j < 36; j++)
            cur[j] = (ds->x[idx[s] * 36 + j] - 0.4f) / 0.3f;
          gsize width = 36;
          for (int l = 0; l <= layer; l++)
            {
              FwLayer *ly = m->layers[l];
              gsize ow = fw_shape_size (ly->out);
              g_autofree float *o = g_new (float, ow);
              ly->klass->forward (ly, cur, o, 1, FALSE);
              g_free (cur);
              cur = g_steal_pointer (&o);
              width = ow;
            }
          g_assert_cmpint ((int) width, ==, f->d);
          for (gsize j = 0; j < width; j++)
            g_assert_cmpfloat (fabsf (cur[j] - f->x[s * f->d + j]), <,
                               1e-5f * (1.0f + fabsf (cur[j])));
          g_assert_cmpint (f->label[s], ==, ds->y[idx[s]]);
          g_assert_cmpint (f->index[s], ==, idx[s]);
          if (layer == m->n_layers - 1)
            {
              /* logits: prediction = argmax, confidence = softmax max */
              int best = 0;
              double z = 0.0;
              for (int j = 1; j < 3; j++)
                if (cur[j] > cur[best])
                  best = j;
              for (int j = 0; j < 3; j++)
                z += exp (cur[j]);
              g_assert_cmpint (f->pred[s], ==, best);
              g_assert_cmpfloat (fabs (f->conf[s] - exp (cur[best]) / z), <, 1e-5);
            }
        }
    }

  /* pixels */
  g_autoptr (FwFeatures) px = fw_features_pixels (ds, idx, ni);
  g_assert_cmpint (px->d, ==, 36);
  g_assert_null (px->pred);
  for (int s = 0; s < ni; s++)
    g_assert_cmpmem (px->x + s * 36, 36 * sizeof (float), ds->x + idx[s] * 36,
                     36 * sizeof (float));

  /* errors */
  g_assert_null (fw_features_layer (m, m->n_layers, ds, NULL, 0, 0, NULL, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_clear_error (&error);
  g_autoptr (FwDataset) other = small_dataset (4, (FwShape) { 1, 5, 5 }, 2);
  g_assert_null (fw_features_layer (m, 0, other, NULL, 0, 0, NULL, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "input"));
  g_clear_error (&error);
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_cancellable_cancel (cancel);
  g_assert_null (fw_features_layer (m, 0, ds, NULL, 0, 0, cancel, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_CANCELLED);
}

static void
test_features_pick (void)
{
  g_autoptr (FwDataset) ds = small_dataset (100, (FwShape) { 1, 2, 2 }, 3);
  gint32 a[40], b[40], c[200];
  g_assert_cmpint (fw_features_pick (ds, 40, 5, a), ==, 40);
  g_assert_cmpint (fw_features_pick (ds, 40, 5, b), ==, 40);
  g_assert_cmpmem (a, sizeof a, b, sizeof b);
  for (int i = 1; i < 40; i++)
    g_assert_cmpint (a[i], >, a[i - 1]);   /* increasing, hence distinct */
  g_assert_cmpint (a[0], >=, 0);
  g_assert_cmpint (a[39], <, 100);
  g_assert_cmpint (fw_features_pick (ds, 200, 5, c), ==, 100);
  for (int i = 0; i < 100; i++)
    g_assert_cmpint (c[i], ==, i);
}

static void
test_tracker_follows_training (void)
{
  /* 4 clusters in 16-D as a dataset, a small random network, "epochs" = small weight changes */
  const int per = 50, d = 16, n = 4 * per;
  g_autofree gint32 *lab = g_new (gint32, n);
  g_autofree float *x = make_clusters (4, per, d, 3.0, 31, lab);
  g_autoptr (FwDataset) ds = fw_dataset_new ("clusters", n, (FwShape) { d, 1, 1 }, 4);
  memcpy (ds->x, x, sizeof (float) * n * d);
  memcpy (ds->y, lab, sizeof (gint32) * n);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new ("custom", "dense:24,relu,dense:4", (FwShape) { d, 1, 1 },
                                        &error);
  g_assert_no_error (error);
  fw_model_init (m, 5);
  m->in_mean = 0.0f;
  m->in_std = 1.0f;

  FwTsneParams prm;
  fw_tsne_params_init (&prm);
  prm.n_iter = 400;
  g_autoptr (FwEmbedTracker) t = fw_embed_tracker_new (ds, 160, -2, 3, &prm, 100);
  int nt = 0;
  g_assert_null (fw_embed_tracker_layout (t, &nt));
  g_assert_cmpint (nt, ==, 160);
  g_assert_true (fw_embed_tracker_update (t, m, NULL, &error));
  g_assert_no_error (error);
  const gint32 *idx = fw_embed_tracker_indices (t);
  g_autofree gint32 *tl = g_new (gint32, nt);
  for (int i = 0; i < nt; i++)
    tl[i] = lab[idx[i]];
  g_autofree float *first = g_memdup2 (fw_embed_tracker_layout (t, NULL), sizeof (float) * 2 * nt);
  g_assert_cmpfloat (nn_agreement (first, tl, nt), >, 0.9);

  FwRng rng;
  fw_rng_init (&rng, 8);
  for (int epoch = 0; epoch < 3; epoch++)
    {
      for (gsize e = 0; e < m->n_params; e++)
        m->params[e] += 0.02f * (float) fw_rng_normal (&rng);
      g_autofree float *before = g_memdup2 (fw_embed_tracker_layout (t, NULL),
                                            sizeof (float) * 2 * nt);
      g_assert_true (fw_embed_tracker_update (t, m, NULL, &error));
      const float *after = fw_embed_tracker_layout (t, NULL);
      double moved = centroid_move (before, after, tl, nt, 4);
      g_test_message ("epoch %d: clusters moved %.3g of their spread, 1-NN %.3f", epoch, moved,
                      nn_agreement (after, tl, nt));
      g_assert_cmpfloat (moved, <, 0.2);
      g_assert_cmpfloat (nn_agreement (after, tl, nt), >, 0.9);
    }
  g_assert_cmpint (fw_embed_tracker_updates (t), ==, 4);

  /* a model of another input size: the features' error, the layout kept */
  g_autoptr (FwModel) other = fw_model_new ("custom", "dense:4", (FwShape) { 5, 1, 1 }, &error);
  g_assert_no_error (error);
  g_assert_false (fw_embed_tracker_update (t, other, NULL, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (fw_embed_tracker_layout (t, NULL));
  g_assert_cmpint (fw_embed_tracker_updates (t), ==, 4);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/PCA/matches_power_iteration", test_pca_matches_power_iteration);
  g_test_add_func ("/PCA/first_component_is_the_line_direction", test_pca_line_direction);
  g_test_add_func ("/PCA/explained_variance_sums_to_one", test_pca_ratio_sums_to_one);
  g_test_add_func ("/PCA/few_components_match_full", test_pca_few_components_match_full);
  g_test_add_func ("/PCA/projection_matches_naive", test_pca_projection_matches_naive);
  g_test_add_func ("/PCA/bad_input_is_an_error", test_pca_bad_input);
  g_test_add_func ("/TSNE/affinities_symmetric_and_normalised", test_tsne_affinities_symmetric);
  g_test_add_func ("/TSNE/gradient_matches_finite_differences",
                   test_tsne_gradient_matches_finite_differences);
  g_test_add_func ("/TSNE/barnes_hut_matches_exact", test_tsne_barnes_hut_matches_exact);
  g_test_add_data_func ("/TSNE/exact_separates_clusters", GINT_TO_POINTER (0),
                        test_tsne_separates_clusters);
  g_test_add_data_func ("/TSNE/barnes_hut_separates_clusters", GINT_TO_POINTER (1),
                        test_tsne_separates_clusters);
  g_test_add_func ("/TSNE/same_seed_same_layout", test_tsne_same_seed_same_layout);
  g_test_add_func ("/TSNE/callback_stop_and_cancel", test_tsne_stop_and_cancel);
  g_test_add_func ("/TSNE/init_layout_does_not_jump", test_tsne_init_layout_does_not_jump);
  g_test_add_func ("/Features/layer_matches_manual_forward",
                   test_features_layer_matches_manual_forward);
  g_test_add_func ("/Features/pick_is_seeded_sorted_distinct", test_features_pick);
  g_test_add_func ("/Tracker/follows_training_without_jumping", test_tracker_follows_training);
  return g_test_run ();
}
