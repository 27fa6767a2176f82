/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-lowrank.c: the model rewrite shared by all decompositions, the truncated SVD of dense
 * layers, and the numerical helpers (SVD through LAPACKE, double GEMM through CBLAS). */
#include "fw-decomp-private.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"

static const char *const method_names[] = { "svd", "cp", "tucker", "tt", "ht" };

const char *
fw_decomp_method_name (FwDecompMethod m)
{
  return (int) m >= 0 && (int) m < (int) G_N_ELEMENTS (method_names) ? method_names[m] : "?";
}

gboolean
fw_decomp_method_parse (const char *s, FwDecompMethod *out, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (method_names); i++)
    if (g_ascii_strcasecmp (s, method_names[i]) == 0)
      {
        *out = (FwDecompMethod) i;
        return TRUE;
      }
  g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
               "unknown decomposition '%s' (choose svd, cp, tucker, tt or ht)", s);
  return FALSE;
}

gboolean
fw_decomp_applies (FwDecompMethod m, const FwLayer *l)
{
  const char *kind = l->klass->name;
  switch (m)
    {
    case FW_DECOMP_SVD:
    case FW_DECOMP_TT:
    case FW_DECOMP_HT:
      return strcmp (kind, "dense") == 0;
    case FW_DECOMP_CP:
    case FW_DECOMP_TUCKER:
      return strcmp (kind, "conv") == 0 && l->iarg[1] > 1;
    }
  return FALSE;
}

void
fw_decomp_config_defaults (FwDecompConfig *cfg)
{
  *cfg = (FwDecompConfig) {
    .method = FW_DECOMP_SVD,
    .rank = 0,
    .energy = 0.9,
    .iters = -1,
    .modes = 0,
    .min_weights = 1000,
    .layers = NULL,
    .seed = 1,
  };
}

void
fw_decomp_config_clear (FwDecompConfig *cfg)
{
  g_clear_pointer (&cfg->layers, g_free);
}

void
fw_decomp_layer_clear (FwDecompLayer *r)
{
  g_clear_pointer (&r->before, g_free);
  g_clear_pointer (&r->after, g_free);
  g_clear_pointer (&r->ranks, g_free);
  g_clear_pointer (&r->note, g_free);
}

GArray *
fw_decomp_report_new (void)
{
  GArray *a = g_array_new (FALSE, TRUE, sizeof (FwDecompLayer));
  g_array_set_clear_func (a, (GDestroyNotify) fw_decomp_layer_clear);
  return a;
}

void
fw_decomp_repl_init (FwDecompRepl *r)
{
  memset (r, 0, sizeof *r);
  r->spec = g_string_new (NULL);
  r->weights = g_ptr_array_new_with_free_func (g_free);
  r->sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
}

void
fw_decomp_repl_clear (FwDecompRepl *r)
{
  if (r->spec != NULL)
    g_string_free (r->spec, TRUE);
  g_clear_pointer (&r->weights, g_ptr_array_unref);
  g_clear_pointer (&r->sizes, g_array_unref);
  g_clear_pointer (&r->ranks, g_free);
  g_clear_pointer (&r->note, g_free);
}

void
fw_decomp_repl_add (FwDecompRepl *r, const char *token, const float *w, gsize n)
{
  if (r->spec->len > 0)
    g_string_append_c (r->spec, ',');
  g_string_append (r->spec, token);
  g_ptr_array_add (r->weights, g_memdup2 (w, sizeof (float) * MAX (n, 1)));
  g_array_append_val (r->sizes, n);
}

double *
fw_decomp_weight_d (const FwLayer *l, gsize *n)
{
  gsize m;
  if (strcmp (l->klass->name, "dense") == 0)
    m = (gsize) l->iarg[0] * l->iarg[1];
  else /* conv */
    m = (gsize) l->iarg[0] * l->in.c * l->iarg[1] * l->iarg[1];
  double *d = g_new (double, m);
  for (gsize i = 0; i < m; i++)
    d[i] = l->w[i];
  *n = m;
  return d;
}

const float *
fw_decomp_bias (const FwLayer *l)
{
  gsize n;
  if (strcmp (l->klass->name, "dense") == 0)
    n = (gsize) l->iarg[0] * l->iarg[1];
  else
    n = (gsize) l->iarg[0] * l->in.c * l->iarg[1] * l->iarg[1];
  return l->w + n;
}

/* ---- numerics ---- */

void
fw_dgemm (gboolean ta, gboolean tb, int m, int n, int k, const double *a, const double *b,
          double *c)
{
  cblas_dgemm (CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
               m, n, k, 1.0, a, ta ? m : k, b, tb ? k : n, 0.0, c, n);
}

gboolean
fw_svd (int m, int n, const double *a, double *u, double *s, double *vt, GError **error)
{
  int k = MIN (m, n);
  g_autofree double *copy = g_memdup2 (a, sizeof (double) * (gsize) m * n);
  lapack_int info = LAPACKE_dgesdd (LAPACK_ROW_MAJOR, 'S', m, n, copy, n, s, u, k, vt, n);
  if (info != 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_NUMERIC,
                   "SVD of a %d x %d matrix failed (LAPACK dgesdd info %d); the weights may "
                   "hold NaN or Inf: retrain or reload the model", m, n, (int) info);
      return FALSE;
    }
  return TRUE;
}

gboolean
fw_leading_left (int m, int n, const double *a, int r, double *u, double *s, GError **error)
{
  int k = MIN (m, n);
  g_assert (r <= k);
  g_autofree double *uu = g_new (double, (gsize) m * k);
  g_autofree double *ss = g_new (double, k);
  g_autofree double *vt = g_new (double, (gsize) k * n);
  if (!fw_svd (m, n, a, uu, ss, vt, error))
    return FALSE;
  for (int i = 0; i < m; i++)
    memcpy (u + (gsize) i * r, uu + (gsize) i * k, sizeof (double) * r);
  if (s != NULL)
    memcpy (s, ss, sizeof (double) * k);
  return TRUE;
}

int
fw_rank_for_energy (const double *s, int k, double energy)
{
  double total = 0, acc = 0;
  for (int i = 0; i < k; i++)
    total += s[i] * s[i];
  if (total <= 0)
    return 1;
  for (int i = 0; i < k; i++)
    {
      acc += s[i] * s[i];
      if (acc >= energy * total * (1 - 1e-12))
        return i + 1;
    }
  return k;
}

double
fw_rel_error (const double *a, const double *b, gsize n)
{
  double num = 0, den = 0;
  for (gsize i = 0; i < n; i++)
    {
      num += (a[i] - b[i]) * (a[i] - b[i]);
      den += b[i] * b[i];
    }
  return den > 0 ? sqrt (num / den) : sqrt (num);
}

void
fw_factor_modes (int n, int d, int *modes)
{
  int primes[64], np = 0;
  for (int p = 2, v = n; v > 1 && np < 64;)
    {
      if (v % p == 0)
        {
          primes[np++] = p;
          v /= p;
        }
      else
        p = p * p > v ? v : p + 1;
    }
  for (int i = 0; i < d; i++)
    modes[i] = 1;
  /* largest primes first, each into the currently smallest mode */
  for (int i = np - 1; i >= 0; i--)
    {
      int best = 0;
      for (int j = 1; j < d; j++)
        if (modes[j] < modes[best])
          best = j;
      modes[best] *= primes[i];
    }
  /* largest first */
  for (int i = 0; i < d; i++)
    for (int j = i + 1; j < d; j++)
      if (modes[j] > modes[i])
        {
          int t = modes[i];
          modes[i] = modes[j];
          modes[j] = t;
        }
}

/* ---- truncated SVD of a dense layer: dense:OUT -> dense:R (no bias), dense:OUT ---- */

gboolean
fw_decomp_svd_layer (const FwLayer *l, const FwDecompConfig *cfg, FwDecompRepl *r,
                     GError **error)
{
  int out = l->iarg[0], in = l->iarg[1], k = MIN (out, in);
  gsize nw;
  g_autofree double *w = fw_decomp_weight_d (l, &nw);
  g_autofree double *u = g_new (double, (gsize) out * k);
  g_autofree double *s = g_new (double, k);
  g_autofree double *vt = g_new (double, (gsize) k * in);
  if (!fw_svd (out, in, w, u, s, vt, error))
    return FALSE;
  int rank = cfg->rank > 0 ? MIN (cfg->rank, k) : fw_rank_for_energy (s, k, cfg->energy);
  double tail = 0, total = 0;
  for (int i = 0; i < k; i++)
    {
      total += s[i] * s[i];
      if (i >= rank)
        tail += s[i] * s[i];
    }
  r->rel_error = total > 0 ? sqrt (tail / total) : 0;
  if (r->measure_only)
    return TRUE;
  if (!cfg->allow_larger && (gsize) rank * (in + out) + rank >= nw)
    {
      r->note = g_strdup_printf ("rank %d would not be smaller than %d x %d", rank, out, in);
      return TRUE;
    }
  /* first: S^1/2 V^T [rank x in], zero bias; second: U S^1/2 [out x rank], the bias */
  g_autofree float *a = g_new0 (float, (gsize) rank * in + rank);
  g_autofree float *b = g_new0 (float, (gsize) out * rank + out);
  for (int i = 0; i < rank; i++)
    {
      double sq = sqrt (s[i]);
      for (int j = 0; j < in; j++)
        a[(gsize) i * in + j] = (float) (sq * vt[(gsize) i * in + j]);
      for (int o = 0; o < out; o++)
        b[(gsize) o * rank + i] = (float) (u[(gsize) o * k + i] * sq);
    }
  memcpy (b + (gsize) out * rank, fw_decomp_bias (l), sizeof (float) * out);
  g_autofree char *t1 = g_strdup_printf ("dense:%d", rank);
  g_autofree char *t2 = g_strdup_printf ("dense:%d", out);
  fw_decomp_repl_add (r, t1, a, (gsize) rank * in + rank);
  fw_decomp_repl_add (r, t2, b, (gsize) out * rank + out);
  r->ranks = g_strdup_printf ("%d", rank);
  return TRUE;
}

/* ---- the model rewrite ---- */

static gboolean
parse_layer_list (const char *s, int n_layers, gboolean *sel, GError **error)
{
  if (s == NULL || *s == '\0')
    {
      for (int i = 0; i < n_layers; i++)
        sel[i] = TRUE;
      return TRUE;
    }
  g_auto (GStrv) parts = g_strsplit (s, ",", -1);
  for (int i = 0; parts[i] != NULL; i++)
    {
      char *end = NULL;
      g_strstrip (parts[i]);
      long v = strtol (parts[i], &end, 10);
      if (end == parts[i] || *end != '\0' || v < 1 || v > n_layers)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "layers '%s': '%s' is not a layer number in [1, %d] (see 'frugal info "
                       "MODEL')", s, parts[i], n_layers);
          return FALSE;
        }
      sel[v - 1] = TRUE;
    }
  return TRUE;
}

static gboolean
decomp_layer (const FwLayer *l, const FwDecompConfig *cfg, FwDecompRepl *r, GError **error)
{
  switch (cfg->method)
    {
    case FW_DECOMP_SVD:
      return fw_decomp_svd_layer (l, cfg, r, error);
    case FW_DECOMP_CP:
      return fw_decomp_cp_layer (l, cfg, r, error);
    case FW_DECOMP_TUCKER:
      return fw_decomp_tucker_layer (l, cfg, r, error);
    case FW_DECOMP_TT:
      return fw_decomp_tt_layer (l, cfg, r, error);
    case FW_DECOMP_HT:
      return fw_decomp_ht_layer (l, cfg, r, error);
    }
  g_assert_not_reached ();
}

static gboolean
check_config (const FwDecompConfig *cfg, GError **error)
{
  if (cfg->rank < 0 || (cfg->rank == 0 && !(cfg->energy > 0 && cfg->energy <= 1)))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "decomposition: give a rank >= 1, or rank 0 and an energy in (0, 1] "
                   "(got rank %d, energy %g)", cfg->rank, cfg->energy);
      return FALSE;
    }
  if (cfg->method == FW_DECOMP_CP && cfg->rank < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "decomposition cp: give the CP rank (e.g. rank = 8); CP has no "
                   "energy-based rank");
      return FALSE;
    }
  if (cfg->method == FW_DECOMP_TT && cfg->modes != 0 && (cfg->modes < 2 || cfg->modes > 6))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "decomposition tt: modes %d is not in [2, 6]", cfg->modes);
      return FALSE;
    }
  if (cfg->method == FW_DECOMP_HT && cfg->modes != 0 && cfg->modes != 4)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "decomposition ht: only the 4-mode balanced tree is implemented "
                   "(modes = 4), got %d", cfg->modes);
      return FALSE;
    }
  return TRUE;
}

FwModel *
fw_decompose_model (const FwModel *m, const FwDecompConfig *cfg, GArray *report,
                    GCancellable *cancellable, GError **error)
{
  if (!check_config (cfg, error))
    return NULL;
  g_autofree gboolean *sel = g_new0 (gboolean, m->n_layers);
  if (!parse_layer_list (cfg->layers, m->n_layers, sel, error))
    return NULL;

  FwDecompRepl *repl = g_new0 (FwDecompRepl, m->n_layers);
  g_autoptr (GString) spec = g_string_new (NULL);
  int n_done = 0;
  gboolean ok = TRUE;
  for (int i = 0; i < m->n_layers && ok; i++)
    {
      const FwLayer *l = m->layers[i];
      fw_decomp_repl_init (&repl[i]);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          ok = FALSE;
          break;
        }
      g_autofree char *tok = l->klass->spec (l);
      if (sel[i] && fw_decomp_applies (cfg->method, l))
        {
          gsize nw = l->n_w;
          if (nw < (gsize) cfg->min_weights)
            repl[i].note = g_strdup_printf ("only %zu weights (min_weights %d)", nw,
                                            cfg->min_weights);
          else if (!decomp_layer (l, cfg, &repl[i], error))
            {
              g_prefix_error (error, "layer %d (%s): ", i + 1, tok);
              ok = FALSE;
              break;
            }
        }
      if (spec->len > 0)
        g_string_append_c (spec, ',');
      if (repl[i].spec->len > 0)
        {
          g_string_append (spec, repl[i].spec->str);
          n_done++;
        }
      else
        g_string_append (spec, tok);
    }

  FwModel *out = NULL;
  if (ok && n_done == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "%s: no layer was decomposed (%s applies to %s layers with at least %d "
                   "weights whose factored form is smaller; lower the rank or min_weights)",
                   fw_decomp_method_name (cfg->method), fw_decomp_method_name (cfg->method),
                   cfg->method == FW_DECOMP_CP || cfg->method == FW_DECOMP_TUCKER
                     ? "conv (k > 1)" : "dense", cfg->min_weights);
      ok = FALSE;
    }
  if (ok)
    {
      g_autofree char *arch = g_strdup_printf ("%s+%s", m->arch, fw_decomp_method_name (cfg->method));
      out = fw_model_new (arch, spec->str, m->input, error);
      ok = out != NULL;
    }
  if (ok)
    {
      out->in_mean = m->in_mean;
      out->in_std = m->in_std;
      out->class_names = g_strdupv (m->class_names);
      int j = 0; /* layer index in the new model */
      for (int i = 0; i < m->n_layers; i++)
        {
          const FwLayer *l = m->layers[i];
          FwDecompLayer row = { .layer = i, .before = l->klass->spec (l) };
          row.params_before = l->n_w + l->n_st;
          row.flops_before = l->klass->flops (l);
          if (repl[i].spec->len == 0)
            {
              FwLayer *nl = out->layers[j++];
              g_assert (nl->n_w == l->n_w && nl->n_st == l->n_st);
              memcpy (nl->w, l->w, sizeof (float) * l->n_w);
              memcpy (nl->st, l->st, sizeof (float) * l->n_st);
              nl->frozen = l->frozen;
              row.after = g_strdup (row.before);
              row.ranks = g_strdup ("");
              row.params_after = row.params_before;
              row.flops_after = row.flops_before;
              row.note = g_strdup (repl[i].note);
            }
          else
            {
              for (guint q = 0; q < repl[i].weights->len; q++)
                {
                  FwLayer *nl = out->layers[j++];
                  gsize n = g_array_index (repl[i].sizes, gsize, q);
                  g_assert (nl->n_w == n);
                  memcpy (nl->w, g_ptr_array_index (repl[i].weights, q), sizeof (float) * n);
                  row.params_after += nl->n_w + nl->n_st;
                  row.flops_after += nl->klass->flops (nl);
                }
              row.after = g_strdup (repl[i].spec->str);
              row.ranks = g_strdup (repl[i].ranks);
              row.rel_error = repl[i].rel_error;
              row.decomposed = TRUE;
            }
          if (report != NULL)
            g_array_append_val (report, row);
          else
            fw_decomp_layer_clear (&row);
        }
      g_assert (j == out->n_layers);
    }
  for (int i = 0; i < m->n_layers; i++)
    if (repl[i].spec != NULL)
      fw_decomp_repl_clear (&repl[i]);
  g_free (repl);
  if (!ok)
    g_clear_pointer (&out, fw_model_unref);
  return out;
}

/* ---- reconstruction error vs rank ---- */

int
fw_decomp_error_curve (const FwModel *m, int layer, FwDecompMethod method, int max_points,
                       int *ranks, double *errs, GError **error)
{
  if (layer < 0 || layer >= m->n_layers || !fw_decomp_applies (method, m->layers[layer]))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d: %s does not apply to it (svd/tt/ht: dense layers; cp/tucker: "
                   "conv layers with k > 1)", layer + 1, fw_decomp_method_name (method));
      return 0;
    }
  const FwLayer *l = m->layers[layer];
  /* the largest rank worth looking at */
  int full;
  if (method == FW_DECOMP_SVD)
    full = MIN (l->iarg[0], l->iarg[1]);
  else if (method == FW_DECOMP_TUCKER)
    full = MAX (l->iarg[0], l->in.c);
  else if (method == FW_DECOMP_CP)
    full = MIN (l->iarg[0] * l->iarg[1], l->in.c * l->iarg[1]);
  else
    {
      /* the largest TT-rank of the weight tensor: max over splits of min(prefix, suffix) */
      int d = method == FW_DECOMP_HT ? 4 : 3, m[8], n[8];
      fw_factor_modes (l->iarg[0], d, m);
      fw_factor_modes (l->iarg[1], d, n);
      double pre = 1, total = (double) l->iarg[0] * l->iarg[1];
      full = 1;
      for (int k = 0; k < d; k++)
        {
          full = MAX (full, m[k] * n[k]);
          pre *= m[k] * n[k];
          full = MAX (full, (int) MIN (pre, total / pre));
        }
      full = MIN (full, 512);
    }
  max_points = MAX (2, MIN (max_points, full));
  int n = 0;
  for (int i = 0; i < max_points; i++)
    {
      /* geometric spacing from 1 to full */
      int rk = (int) lround (pow (full, (double) i / (max_points - 1)));
      rk = CLAMP (rk, 1, full);
      if (n > 0 && rk <= ranks[n - 1])
        continue;
      ranks[n++] = rk;
    }
  for (int i = 0; i < n; i++)
    {
      FwDecompConfig cfg;
      fw_decomp_config_defaults (&cfg);
      cfg.method = method;
      cfg.rank = ranks[i];
      cfg.iters = method == FW_DECOMP_CP ? 15 : 0;
      FwDecompRepl r;
      fw_decomp_repl_init (&r);
      /* the error is measured even where the factored form would not be smaller */
      r.measure_only = TRUE;
      r.rel_error = NAN;
      gboolean ok = decomp_layer (l, &cfg, &r, error);
      errs[i] = r.rel_error;
      fw_decomp_repl_clear (&r);
      if (!ok)
        return 0;
    }
  return n;
}
