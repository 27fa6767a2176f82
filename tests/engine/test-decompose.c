/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-decompose.c: SVD / CP / Tucker-2 / TT / HT decompositions (engine/compress).
 *
 * Reconstructions are checked against the original tensor (exact at full rank, error
 * non-increasing with rank), the factored layers' outputs against a model that holds the
 * reconstructed weight, recomputed here by naive loops straight from the stored factors. */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "fw-engine.h"
#include "fw-lowrank.h"
#include "fw-recipe-ext.h"
#include "fw-test-util.h"

static void
fill_normal (double *a, gsize n, guint64 seed)
{
  FwRng rng;
  fw_rng_init (&rng, seed);
  for (gsize i = 0; i < n; i++)
    a[i] = fw_rng_normal (&rng);
}

/* ---- the numerical routines ---- */

static void
test_svd_exact_and_energy (void)
{
  int m = 7, n = 5, k = 5;
  double a[35], u[35], s[5], vt[25], rec[35] = { 0 };
  fill_normal (a, 35, 1);
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_svd (m, n, a, u, s, vt, &error));
  g_assert_no_error (error);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++)
      for (int q = 0; q < k; q++)
        rec[i * n + j] += u[i * k + q] * s[q] * vt[q * n + j];
  g_assert_cmpfloat (fw_rel_error (rec, a, 35), <, 1e-12);
  for (int q = 1; q < k; q++)
    g_assert_cmpfloat (s[q], <=, s[q - 1]);
  /* energy: the rank keeping 100% is full, a tiny fraction keeps one value */
  g_assert_cmpint (fw_rank_for_energy (s, k, 1.0), ==, k);
  g_assert_cmpint (fw_rank_for_energy (s, k, 1e-6), ==, 1);
  double tot = 0, first2 = s[0] * s[0] + s[1] * s[1];
  for (int q = 0; q < k; q++)
    tot += s[q] * s[q];
  g_assert_cmpint (fw_rank_for_energy (s, k, first2 / tot), ==, 2);
  g_assert_cmpint (fw_rank_for_energy (s, k, first2 / tot + 1e-6), ==, 3);
}

static void
test_cp_recovers_low_rank_tensor (void)
{
  int dims[4] = { 5, 4, 3, 3 }, R = 3;
  double *f[4];
  for (int k = 0; k < 4; k++)
    {
      f[k] = g_new (double, dims[k] * R);
      fill_normal (f[k], dims[k] * R, 10 + k);
    }
  gsize n = 5 * 4 * 3 * 3;
  g_autofree double *x = g_new (double, n);
  /* x by naive loops (independent of fw_cp_reconstruct) */
  for (int a = 0; a < 5; a++)
    for (int b = 0; b < 4; b++)
      for (int c = 0; c < 3; c++)
        for (int d = 0; d < 3; d++)
          {
            double s = 0;
            for (int r = 0; r < R; r++)
              s += f[0][a * R + r] * f[1][b * R + r] * f[2][c * R + r] * f[3][d * R + r];
            x[((a * 4 + b) * 3 + c) * 3 + d] = s;
          }
  double errs[4];
  for (int rank = 1; rank <= 3; rank++)
    {
      double *g[4];
      for (int k = 0; k < 4; k++)
        g[k] = g_new (double, dims[k] * rank);
      errs[rank] = fw_cp_als (x, 4, dims, rank, 300, 7, g);
      /* the returned error is that of the factors */
      g_autofree double *rec = g_new (double, n);
      fw_cp_reconstruct (4, dims, rank, g, rec);
      g_assert_cmpfloat (fabs (fw_rel_error (rec, x, n) - errs[rank]), <, 1e-12);
      for (int k = 0; k < 4; k++)
        g_free (g[k]);
    }
  g_test_message ("CP errors rank 1..3: %g %g %g", errs[1], errs[2], errs[3]);
  g_assert_cmpfloat (errs[3], <, 1e-5);
  g_assert_cmpfloat (errs[1], >, errs[3] + 0.01);
  for (int k = 0; k < 4; k++)
    g_free (f[k]);
}

static void
test_tucker_exact_and_decreasing (void)
{
  int o = 6, c = 4, h = 3, w = 3;
  gsize n = (gsize) o * c * h * w;
  g_autofree double *k = g_new (double, n);
  fill_normal (k, n, 3);
  double prev = INFINITY;
  for (int r = 1; r <= 6; r++)
    {
      int ro = MIN (r, o), ri = MIN (r, c);
      g_autofree double *uo = g_new (double, o * ro);
      g_autofree double *ui = g_new (double, c * ri);
      g_autofree double *core = g_new (double, ro * ri * h * w);
      g_autoptr (GError) error = NULL;
      double e = fw_tucker2 (k, o, c, h, w, ro, ri, r % 2, uo, ui, core, &error);
      g_assert_no_error (error);
      g_autofree double *rec = g_new (double, n);
      fw_tucker2_reconstruct (o, c, h, w, ro, ri, uo, ui, core, rec);
      g_assert_cmpfloat (fabs (fw_rel_error (rec, k, n) - e), <, 1e-12);
      g_assert_cmpfloat (e, <=, prev + 1e-12);
      prev = e;
      if (ro == o && ri == c)
        g_assert_cmpfloat (e, <, 1e-12);
      else
        g_assert_cmpfloat (e, >, 1e-3);
    }
}

static void
test_tt_exact_and_decreasing (void)
{
  int dims[4] = { 3, 4, 2, 5 }, ranks[5];
  gsize n = 3 * 4 * 2 * 5;
  g_autofree double *x = g_new (double, n);
  fill_normal (x, n, 4);
  double prev = INFINITY;
  for (int cap = 1; cap <= 12; cap++)
    {
      double *cores[4];
      g_autoptr (GError) error = NULL;
      g_assert_true (fw_tt_svd (x, 4, dims, cap, 0, ranks, cores, &error));
      g_autofree double *rec = g_new (double, n);
      fw_tt_reconstruct (4, dims, ranks, cores, rec);
      double e = fw_rel_error (rec, x, n);
      g_assert_cmpfloat (e, <=, prev + 1e-12);
      prev = e;
      for (int k = 0; k < 4; k++)
        g_free (cores[k]);
    }
  /* the maximal TT-ranks of a 3x4x2x5 tensor are 3, 10 (= min(12, 10)), 5: exact there */
  g_assert_cmpfloat (prev, <, 1e-12);
  /* eps-truncation keeps the error within eps (Oseledets 2011, theorem 2.2) */
  for (double eps = 0.05; eps < 0.6; eps += 0.2)
    {
      double *cores[4];
      g_assert_true (fw_tt_svd (x, 4, dims, 0, eps, ranks, cores, NULL));
      g_autofree double *rec = g_new (double, n);
      fw_tt_reconstruct (4, dims, ranks, cores, rec);
      g_assert_cmpfloat (fw_rel_error (rec, x, n), <=, eps + 1e-12);
      for (int k = 0; k < 4; k++)
        g_free (cores[k]);
    }
}

static void
test_ht_exact_and_decreasing (void)
{
  int dims[4] = { 3, 4, 2, 3 };
  gsize n = 3 * 4 * 2 * 3;
  g_autofree double *x = g_new (double, n);
  fill_normal (x, n, 5);
  double prev = INFINITY;
  for (int r = 1; r <= 12; r++)
    {
      FwHT h;
      g_autoptr (GError) error = NULL;
      g_assert_true (fw_ht_decompose (x, dims, r, &h, &error));
      g_autofree double *rec = g_new (double, n);
      fw_ht_reconstruct (&h, rec);
      double e = fw_rel_error (rec, x, n);
      g_test_message ("HT rank %d: error %g", r, e);
      g_assert_cmpfloat (e, <=, prev + 1e-12);
      prev = e;
      fw_ht_clear (&h);
    }
  g_assert_cmpfloat (prev, <, 1e-12);
}

static void
test_factor_modes (void)
{
  int m[4];
  fw_factor_modes (784, 3, m);
  g_assert_cmpint (m[0] * m[1] * m[2], ==, 784);
  g_assert_cmpint (m[0], <=, 2 * m[2]); /* balanced: 14x8x7 */
  g_assert_true (m[0] >= m[1] && m[1] >= m[2]);
  fw_factor_modes (256, 4, m);
  for (int i = 0; i < 4; i++)
    g_assert_cmpint (m[i], ==, 4);
  fw_factor_modes (13, 3, m);
  g_assert_cmpint (m[0], ==, 13);
  g_assert_cmpint (m[1] * m[2], ==, 1);
}

/* ---- factored layers vs the reconstructed weight ---- */

typedef struct {
  const char *name;
  FwDecompMethod method;
  const char *spec;
  FwShape input;
  int layer;          /* the decomposed layer (0-based) */
  int rank;
  int n_new;          /* layers replacing it */
} FactorCase;

static const FactorCase factor_cases[] = {
  { "svd", FW_DECOMP_SVD, "flatten,dense:12,tanh,dense:4", { 1, 5, 4 }, 1, 3, 2 },
  { "cp", FW_DECOMP_CP, "conv:5:3:2:1,tanh,flatten,dense:3", { 3, 7, 6 }, 0, 4, 4 },
  { "tucker", FW_DECOMP_TUCKER, "conv:6:3:1:1,tanh,flatten,dense:3", { 5, 5, 4 }, 0, 3, 3 },
  { "tt", FW_DECOMP_TT, "flatten,dense:12,tanh,dense:4", { 1, 4, 6 }, 1, 2, 1 },
  { "ht", FW_DECOMP_HT, "flatten,dense:16,tanh,dense:4", { 1, 4, 6 }, 1, 2, 1 },
};

/* the parameter view of tensor `name` of layer l, its dims in dims */
static const float *
tensor (const FwLayer *l, const char *name, int *dims)
{
  FwTensorInfo t[FW_LAYER_MAX_TENSORS];
  int n = l->klass->tensors (l, t);
  for (int i = 0; i < n; i++)
    if (strcmp (t[i].name, name) == 0)
      {
        if (dims != NULL)
          memcpy (dims, t[i].dims, sizeof t[i].dims);
        return l->w + t[i].offset;
      }
  g_assert_not_reached ();
}

static void
assert_zero (const float *a, int n)
{
  for (int i = 0; i < n; i++)
    g_assert_cmpfloat (a[i], ==, 0.0f);
}

/* W[o][i] from the factored layers starting at layer j of d (naive loops) */
static void
reconstruct_dense (const FactorCase *fc, FwModel *d, int j, int out, int in, float *w)
{
  if (fc->method == FW_DECOMP_SVD)
    {
      const FwLayer *a = d->layers[j], *b = d->layers[j + 1];
      int r = a->iarg[0];
      assert_zero (tensor (a, "bias", NULL), r);
      for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++)
          {
            double s = 0;
            for (int q = 0; q < r; q++)
              s += (double) b->w[o * r + q] * a->w[q * in + i];
            w[o * in + i] = (float) s;
          }
      return;
    }
  const FwLayer *l = d->layers[j];
  FwTensorInfo t[FW_LAYER_MAX_TENSORS];
  int nt = l->klass->tensors (l, t);
  if (fc->method == FW_DECOMP_TT)
    {
      int dd = nt - 1, m[8], n[8];
      for (int k = 0; k < dd; k++)
        {
          m[k] = t[k].dims[0];
          n[k] = t[k].dims[3];
        }
      for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++)
          {
            /* v <- v G_k[i_k, j_k], a row vector of length r_k */
            double v[64] = { 1 }, nv[64];
            int r0 = 1, ii[8], jj[8];
            for (int k = dd - 1, a = o, b = i; k >= 0; k--)
              {
                ii[k] = a % m[k];
                a /= m[k];
                jj[k] = b % n[k];
                b /= n[k];
              }
            for (int k = 0; k < dd; k++)
              {
                int r1 = t[k].dims[1];
                const float *g = l->w + t[k].offset;
                for (int bb = 0; bb < r1; bb++)
                  {
                    nv[bb] = 0;
                    for (int aa = 0; aa < r0; aa++)
                      nv[bb] += v[aa] * g[((ii[k] * r1 + bb) * r0 + aa) * n[k] + jj[k]];
                  }
                memcpy (v, nv, sizeof (double) * r1);
                r0 = r1;
              }
            w[o * in + i] = (float) v[0];
          }
      return;
    }
  /* ht: W = sum_{a,c} F12[(i0 j0)(i1 j1)][a] root[a][c] F34[(i2 j2)(i3 j3)][c] */
  int ud[4][4], bd[2][4], rd[4];
  const float *u[4], *b12 = tensor (l, "b12", bd[0]), *b34 = tensor (l, "b34", bd[1]);
  const float *root = tensor (l, "root", rd);
  const char *un[4] = { "u0", "u1", "u2", "u3" };
  for (int k = 0; k < 4; k++)
    u[k] = tensor (l, un[k], ud[k]);
  /* modes from the spec token: ht:M:N:R */
  g_autofree char *tok = l->klass->spec (l);
  g_auto (GStrv) parts = g_strsplit (tok, ":", -1);
  g_auto (GStrv) ms = g_strsplit (parts[1], "x", -1), ns = g_strsplit (parts[2], "x", -1);
  int m[4], n[4];
  for (int k = 0; k < 4; k++)
    {
      m[k] = atoi (ms[k]);
      n[k] = atoi (ns[k]);
    }
  int r[4] = { ud[0][1], ud[1][1], ud[2][1], ud[3][1] }, r12 = rd[0], r34 = rd[1];
  for (int o = 0; o < out; o++)
    for (int i = 0; i < in; i++)
      {
        int ii[4], jj[4];
        for (int k = 3, a = o, bb = i; k >= 0; k--)
          {
            ii[k] = a % m[k];
            a /= m[k];
            jj[k] = bb % n[k];
            bb /= n[k];
          }
        int p[4];
        for (int k = 0; k < 4; k++)
          p[k] = ii[k] * n[k] + jj[k];
        double s = 0;
        for (int a = 0; a < r12; a++)
          for (int c = 0; c < r34; c++)
            {
              double f12 = 0, f34 = 0;
              for (int x0 = 0; x0 < r[0]; x0++)
                for (int x1 = 0; x1 < r[1]; x1++)
                  f12 += u[0][p[0] * r[0] + x0] * u[1][p[1] * r[1] + x1]
                         * b12[(x0 * r[1] + x1) * r12 + a];
              for (int x2 = 0; x2 < r[2]; x2++)
                for (int x3 = 0; x3 < r[3]; x3++)
                  f34 += u[2][p[2] * r[2] + x2] * u[3][p[3] * r[3] + x3]
                         * b34[(x2 * r[3] + x3) * r34 + c];
              s += f12 * root[a * r34 + c] * f34;
            }
        w[o * in + i] = (float) s;
      }
}

/* K[o][c][i][j] from the factored conv layers starting at layer j of d (naive loops) */
static void
reconstruct_conv (const FactorCase *fc, FwModel *d, int j, int O, int C, int K, float *w)
{
  if (fc->method == FW_DECOMP_CP)
    {
      const FwLayer *a = d->layers[j], *v = d->layers[j + 1], *h = d->layers[j + 2];
      const FwLayer *b = d->layers[j + 3];
      int R = a->iarg[0];
      assert_zero (tensor (a, "bias", NULL), R);
      assert_zero (tensor (v, "bias", NULL), R);
      assert_zero (tensor (h, "bias", NULL), R);
      for (int o = 0; o < O; o++)
        for (int c = 0; c < C; c++)
          for (int ki = 0; ki < K; ki++)
            for (int kj = 0; kj < K; kj++)
              {
                double s = 0;
                for (int r = 0; r < R; r++)
                  s += (double) b->w[o * R + r] * a->w[r * C + c] * v->w[r * K + ki]
                       * h->w[r * K + kj];
                w[((o * C + c) * K + ki) * K + kj] = (float) s;
              }
      return;
    }
  const FwLayer *a = d->layers[j], *g = d->layers[j + 1], *b = d->layers[j + 2];
  int ri = a->iarg[0], ro = g->iarg[0];
  assert_zero (tensor (a, "bias", NULL), ri);
  assert_zero (tensor (g, "bias", NULL), ro);
  for (int o = 0; o < O; o++)
    for (int c = 0; c < C; c++)
      for (int t = 0; t < K * K; t++)
        {
          double s = 0;
          for (int p = 0; p < ro; p++)
            for (int q = 0; q < ri; q++)
              s += (double) b->w[o * ro + p] * g->w[(p * ri + q) * K * K + t] * a->w[q * C + c];
          w[(o * C + c) * K * K + t] = (float) s;
        }
}

static void
test_factored_matches_reconstructed (gconstpointer data)
{
  const FactorCase *fc = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new (NULL, fc->spec, fc->input, &error);
  g_assert_no_error (error);
  fw_model_init (m, 3);
  FwDecompConfig cfg;
  fw_decomp_config_defaults (&cfg);
  cfg.method = fc->method;
  cfg.rank = fc->rank;
  cfg.min_weights = 0;
  cfg.iters = fc->method == FW_DECOMP_TUCKER ? 2 : 30;
  cfg.allow_larger = TRUE;
  g_autofree char *one = g_strdup_printf ("%d", fc->layer + 1);
  cfg.layers = one;
  g_autoptr (GArray) report = fw_decomp_report_new ();
  g_autoptr (FwModel) d = fw_decompose_model (m, &cfg, report, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (d->n_layers, ==, m->n_layers + fc->n_new - 1);
  const FwDecompLayer *row = &g_array_index (report, FwDecompLayer, fc->layer);
  g_assert_true (row->decomposed);
  g_test_message ("%s -> %s, ranks %s, error %.3g", row->before, row->after, row->ranks,
                  row->rel_error);

  /* the original model with the reconstructed weight in place of the layer's */
  g_autoptr (FwModel) rec = fw_model_copy (m);
  FwLayer *l = rec->layers[fc->layer];
  gsize nw = l->n_w - l->iarg[0];
  g_autofree float *w = g_new (float, nw);
  if (strcmp (l->klass->name, "dense") == 0)
    reconstruct_dense (fc, d, fc->layer, l->iarg[0], l->iarg[1], w);
  else
    reconstruct_conv (fc, d, fc->layer, l->iarg[0], l->in.c, l->iarg[1], w);
  /* the report's error is the reconstruction's */
  double num = 0, den = 0;
  for (gsize i = 0; i < nw; i++)
    {
      num += ((double) w[i] - l->w[i]) * ((double) w[i] - l->w[i]);
      den += (double) l->w[i] * l->w[i];
    }
  g_assert_cmpfloat (fabs (sqrt (num / den) - row->rel_error), <, 1e-4);
  g_assert_cmpfloat (row->rel_error, >, 1e-3); /* a real truncation */
  memcpy (l->w, w, sizeof (float) * nw);

  int n = 5;
  gsize in = fw_shape_size (m->input);
  g_autofree float *x = g_new (float, n * in);
  FwRng rng;
  fw_rng_init (&rng, 9);
  fw_test_fill_uniform (x, n * in, 0, 1, &rng);
  g_autofree float *y1 = g_memdup2 (fw_model_forward (d, x, n, FALSE),
                                    sizeof (float) * n * m->n_classes);
  const float *y2 = fw_model_forward (rec, x, n, FALSE);
  g_assert_cmpfloat (fw_test_max_rel_err (y1, y2, n * m->n_classes, 1e-3), <, 1e-4);
  g_assert_cmpint (fw_model_param_count (d), ==,
                   fw_model_param_count (m) - row->params_before + row->params_after);
}

/* At full rank the factored model computes what the original did. */
static void
test_full_rank_equals_original (gconstpointer data)
{
  const FactorCase *fc = data;
  g_autoptr (FwModel) m = fw_model_new (NULL, fc->spec, fc->input, NULL);
  fw_model_init (m, 4);
  FwDecompConfig cfg;
  fw_decomp_config_defaults (&cfg);
  cfg.method = fc->method;
  cfg.rank = 0;
  cfg.energy = 1.0;
  cfg.min_weights = 0;
  cfg.allow_larger = TRUE;
  g_autofree char *one = g_strdup_printf ("%d", fc->layer + 1);
  cfg.layers = one;
  if (fc->method == FW_DECOMP_HT)
    cfg.rank = 64; /* every rank at its maximum */
  g_autoptr (GArray) report = fw_decomp_report_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) d = fw_decompose_model (m, &cfg, report, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (g_array_index (report, FwDecompLayer, fc->layer).rel_error, <, 1e-6);
  int n = 4;
  gsize in = fw_shape_size (m->input);
  g_autofree float *x = g_new (float, n * in);
  FwRng rng;
  fw_rng_init (&rng, 2);
  fw_test_fill_uniform (x, n * in, 0, 1, &rng);
  g_autofree float *y1 = g_memdup2 (fw_model_forward (d, x, n, FALSE),
                                    sizeof (float) * n * m->n_classes);
  const float *y2 = fw_model_forward (m, x, n, FALSE);
  g_assert_cmpfloat (fw_test_max_rel_err (y1, y2, n * m->n_classes, 1e-3), <, 1e-4);
}

static void
test_error_curve_decreasing (void)
{
  g_autoptr (FwModel) m = fw_model_new (NULL, "conv:8:3:1:1,relu,flatten,dense:24,relu,dense:3",
                                        (FwShape) { 3, 4, 4 }, NULL);
  fw_model_init (m, 6);
  const struct { FwDecompMethod method; int layer; } cases[] = {
    { FW_DECOMP_SVD, 3 }, { FW_DECOMP_TT, 3 }, { FW_DECOMP_TUCKER, 0 },
  };
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      int ranks[16];
      double errs[16];
      g_autoptr (GError) error = NULL;
      int n = fw_decomp_error_curve (m, cases[c].layer, cases[c].method, 8, ranks, errs, &error);
      g_assert_no_error (error);
      g_assert_cmpint (n, >=, 3);
      g_assert_cmpint (ranks[0], ==, 1);
      for (int i = 1; i < n; i++)
        {
          g_assert_cmpint (ranks[i], >, ranks[i - 1]);
          g_assert_cmpfloat (errs[i], <=, errs[i - 1] + 1e-9);
        }
      g_assert_cmpfloat (errs[n - 1], <, 1e-6);  /* full rank: exact */
      g_assert_cmpfloat (errs[0], >, 0.1);
    }
  /* a method that does not apply is an error, not a curve */
  int ranks[4];
  double errs[4];
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (fw_decomp_error_curve (m, 0, FW_DECOMP_SVD, 4, ranks, errs, &error), ==, 0);
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
}

/* The decomposed model saves to a smaller file that loads back to the same outputs. */
static void
test_saved_file_smaller (void)
{
  g_autoptr (FwModel) m = fw_model_new ("mlp", "flatten,dense:64,relu,dense:10",
                                        (FwShape) { 1, 12, 12 }, NULL);
  fw_model_init (m, 8);
  FwDecompConfig cfg;
  fw_decomp_config_defaults (&cfg);
  cfg.rank = 8;
  g_autoptr (GArray) report = fw_decomp_report_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) d = fw_decompose_model (m, &cfg, report, NULL, &error);
  g_assert_no_error (error);
  /* the 10 x 64 classifier (640 weights) is below min_weights and stays */
  g_assert_false (g_array_index (report, FwDecompLayer, 3).decomposed);
  g_assert_cmpstr (d->spec, ==, "flatten,dense:8,dense:64,relu,dense:10");
  g_assert_cmpstr (d->arch, ==, "mlp+svd");
  const char *dir = fw_test_tmpdir ();
  g_autofree char *p1 = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree char *p2 = g_build_filename (dir, "d.safetensors", NULL);
  g_assert_true (fw_model_save (m, p1, NULL, NULL));
  g_assert_true (fw_model_save (d, p2, NULL, NULL));
  GStatBuf s1, s2;
  g_assert_cmpint (g_stat (p1, &s1), ==, 0);
  g_assert_cmpint (g_stat (p2, &s2), ==, 0);
  gsize p_m = fw_model_param_count (m), p_d = fw_model_param_count (d);
  g_test_message ("params %zu -> %zu, file %lld -> %lld bytes", p_m, p_d,
                  (long long) s1.st_size, (long long) s2.st_size);
  /* the float payloads differ by 4 bytes per parameter (headers are a few hundred bytes) */
  g_assert_cmpint ((gint64) s1.st_size - (gint64) s2.st_size, >, 4 * (gint64) (p_m - p_d) - 512);
  g_autoptr (FwModel) back = fw_model_load (p2, NULL, &error);
  g_assert_no_error (error);
  float x[144];
  FwRng rng;
  fw_rng_init (&rng, 1);
  fw_test_fill_uniform (x, 144, 0, 1, &rng);
  g_autofree float *y1 = g_memdup2 (fw_model_forward (d, x, 1, FALSE), sizeof (float) * 10);
  const float *y2 = fw_model_forward (back, x, 1, FALSE);
  g_assert_cmpfloat (fw_test_max_rel_err (y1, y2, 10, 1e-6), <, 1e-6);
}

static void
test_bad_config (void)
{
  g_autoptr (FwModel) m = fw_model_new (NULL, "flatten,dense:8,relu,dense:3",
                                        (FwShape) { 1, 4, 4 }, NULL);
  fw_model_init (m, 1);
  FwDecompConfig cfg;
  fw_decomp_config_defaults (&cfg);
  g_autoptr (GError) e1 = NULL, e2 = NULL, e3 = NULL;
  /* nothing big enough */
  g_assert_null (fw_decompose_model (m, &cfg, NULL, NULL, &e1));
  g_assert_error (e1, FW_ERROR, FW_ERROR_INVALID);
  cfg.method = FW_DECOMP_CP;
  cfg.rank = 0;
  g_assert_null (fw_decompose_model (m, &cfg, NULL, NULL, &e2));
  g_assert_nonnull (strstr (e2->message, "rank"));
  cfg.method = FW_DECOMP_SVD;
  cfg.layers = (char *) "9";
  g_assert_null (fw_decompose_model (m, &cfg, NULL, NULL, &e3));
  g_assert_nonnull (strstr (e3->message, "layer number"));
  FwDecompMethod meth;
  g_autoptr (GError) e4 = NULL;
  g_assert_false (fw_decomp_method_parse ("svdd", &meth, &e4));
  g_assert_true (fw_decomp_method_parse ("Tucker", &meth, NULL));
  g_assert_cmpint (meth, ==, FW_DECOMP_TUCKER);
}

/* Fine-tuning in factored form: the decomposed model trains with fw_train. */
static void
test_finetune_factored (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) ds = fw_dataset_load ("sim:300:20", 1, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwModel) m = fw_model_new (NULL, "flatten,dense:32,relu,dense:10",
                                        ds->shape, &error);
  fw_model_init (m, 2);
  FwDecompConfig cfg;
  fw_decomp_config_defaults (&cfg);
  cfg.method = FW_DECOMP_TT;
  cfg.rank = 3;
  g_autoptr (FwModel) d = fw_decompose_model (m, &cfg, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (d->layers[1]->klass->name, ==, "tt");
  FwTrainConfig tc;
  fw_train_config_defaults (&tc);
  tc.epochs = 4;
  tc.batch = 32;
  tc.opt = FW_OPT_ADAM;
  tc.lr = 3e-3;
  g_autoptr (GArray) metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  g_assert_true (fw_train (d, &tc, ds, NULL, NULL, NULL, NULL, metrics, &error));
  g_assert_no_error (error);
  FwEpochMetrics *first = &g_array_index (metrics, FwEpochMetrics, 0);
  FwEpochMetrics *last = &g_array_index (metrics, FwEpochMetrics, metrics->len - 1);
  g_test_message ("TT fine-tune loss %.3f -> %.3f, acc %.3f -> %.3f", first->train_loss,
                  last->train_loss, first->train_acc, last->train_acc);
  g_assert_cmpfloat (last->train_loss, <, first->train_loss);
  g_assert_cmpstr (d->layers[1]->klass->name, ==, "tt"); /* still factored */
}

/* The [decompose] job: a sweep of ranks, each model measured as stored. */
static void
test_job_sweep (void)
{
  const char *dir = fw_test_tmpdir ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) ds = fw_dataset_load ("sim:100:20", 1, NULL, &error);
  g_autoptr (FwModel) m = fw_model_new ("mlp", "flatten,dense:48,relu,dense:10", ds->shape,
                                        &error);
  fw_model_init (m, 5);
  g_autofree char *mpath = g_build_filename (dir, "m.safetensors", NULL);
  g_assert_true (fw_model_save (m, mpath, NULL, &error));
  g_autofree char *out = g_build_filename (dir, "run", NULL);
  g_autofree char *ini = g_strdup_printf ("[data]\ndataset = sim:100:20\nval_fraction = 0\n"
                                          "[train]\nbatch = 20\noptimizer = adam\n"
                                          "[output]\ndir = %s\n[decompose]\nmodel = %s\n"
                                          "method = svd\nranks = 2,8\nfinetune_epochs = 1\n"
                                          "curve_points = 6\n", out, mpath);
  g_autoptr (FwRecipe) r = fw_recipe_load_data (ini, -1, "decompose-test", &error);
  g_assert_no_error (error);
  g_assert_true (fw_recipe_ext_of (r) == &fw_decompose_recipe_ext);
  g_autoptr (FwDecompResult) res = fw_decomp_run (r, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (res->points->len, ==, 2);
  const FwDecompPoint *p2 = &g_array_index (res->points, FwDecompPoint, 0);
  const FwDecompPoint *p8 = &g_array_index (res->points, FwDecompPoint, 1);
  /* 400 -> 48 at rank r: r (400 + 48) + r + 48 + the classifier's 490 */
  g_assert_cmpuint (p2->params, ==, 2 * 448 + 2 + 48 + 490);
  g_assert_cmpuint (p8->params, ==, 8 * 448 + 8 + 48 + 490);
  g_assert_cmpint (p2->bytes, <, p8->bytes);
  g_assert_cmpint (p8->bytes, <, res->base_bytes);
  g_assert_cmpfloat (p2->rel_error, >, p8->rel_error);
  g_assert_false (isnan (p2->acc_ft));
  /* the saved files are what was measured */
  g_autofree char *f2 = g_build_filename (res->run_dir, p2->file, NULL);
  GStatBuf st;
  g_assert_cmpint (g_stat (f2, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, p2->bytes);
  /* one curve, for the 400 -> 48 layer, down to zero at full rank */
  g_assert_cmpuint (res->curves->len, ==, 1);
  const FwDecompCurve *c = g_ptr_array_index (res->curves, 0);
  g_assert_cmpint (c->layer, ==, 1);
  g_assert_cmpfloat (c->errs[c->n - 1], <, 1e-5);
  const char *files[] = { "decompose.csv", "curves.csv", "layers.csv", "summary.json",
                          "recipe.ini", "original.safetensors" };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *p = g_build_filename (res->run_dir, files[i], NULL);
      g_assert_true (g_file_test (p, G_FILE_TEST_IS_REGULAR));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Decompose/svd/exact_and_rank_for_energy", test_svd_exact_and_energy);
  g_test_add_func ("/Decompose/cp/recovers_low_rank_tensor", test_cp_recovers_low_rank_tensor);
  g_test_add_func ("/Decompose/tucker/exact_at_full_rank_and_decreasing",
                   test_tucker_exact_and_decreasing);
  g_test_add_func ("/Decompose/tt/exact_at_full_rank_and_decreasing",
                   test_tt_exact_and_decreasing);
  g_test_add_func ("/Decompose/ht/exact_at_full_rank_and_decreasing",
                   test_ht_exact_and_decreasing);
  g_test_add_func ("/Decompose/factor_modes", test_factor_modes);
  for (gsize i = 0; i < G_N_ELEMENTS (factor_cases); i++)
    {
      g_autofree char *p = g_strdup_printf ("/Decompose/%s/factored_layer_equals_reconstructed",
                                            factor_cases[i].name);
      g_test_add_data_func (p, &factor_cases[i], test_factored_matches_reconstructed);
      if (factor_cases[i].method == FW_DECOMP_CP)
        continue; /* ALS gives no exactness guarantee at a given rank: see recovers_low_rank */
      g_autofree char *q = g_strdup_printf ("/Decompose/%s/full_rank_model_equals_original",
                                            factor_cases[i].name);
      g_test_add_data_func (q, &factor_cases[i], test_full_rank_equals_original);
    }
  g_test_add_func ("/Decompose/error_curve_decreasing_to_exact", test_error_curve_decreasing);
  g_test_add_func ("/Decompose/saved_file_is_smaller", test_saved_file_smaller);
  g_test_add_func ("/Decompose/bad_config_errors", test_bad_config);
  g_test_add_func ("/Decompose/finetune_in_factored_form", test_finetune_factored);
  g_test_add_func ("/Decompose/job_rank_sweep", test_job_sweep);
  return g_test_run ();
}
