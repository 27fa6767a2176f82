/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-cluster.c: 1-D k-means, bit-packed codes, clustered training with centroid gradients and
 * the codebook inference form of a model. */
#include "fw-cluster.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"
#include "fw-layer-quant.h"
#include "fw-quant.h"
#include "fw-util.h"

int
fw_cluster_bits (int k)
{
  int b = 1;
  while ((1 << b) < k)
    b++;
  return b;
}

gsize
fw_codes_packed_bytes (gsize n, int bits)
{
  return (n * (gsize) bits + 7) / 8;
}

/* code i occupies bits [i bits, (i + 1) bits) of the little-endian bit stream */
void
fw_codes_pack (const guint8 *codes, gsize n, int bits, guint8 *out)
{
  memset (out, 0, fw_codes_packed_bytes (n, bits));
  gsize pos = 0;
  for (gsize i = 0; i < n; i++, pos += (gsize) bits)
    {
      guint32 v = codes[i] & ((1u << bits) - 1u);
      gsize byte = pos >> 3;
      int sh = (int) (pos & 7);
      out[byte] |= (guint8) (v << sh);
      if (sh + bits > 8)
        out[byte + 1] |= (guint8) (v >> (8 - sh));
    }
}

void
fw_codes_unpack (const guint8 *packed, gsize n, int bits, guint8 *codes)
{
  gsize pos = 0, nbytes = fw_codes_packed_bytes (n, bits);
  guint32 mask = (1u << bits) - 1u;
  for (gsize i = 0; i < n; i++, pos += (gsize) bits)
    {
      gsize byte = pos >> 3;
      int sh = (int) (pos & 7);
      guint32 v = packed[byte] >> sh;
      if (sh + bits > 8 && byte + 1 < nbytes)
        v |= (guint32) packed[byte + 1] << (8 - sh);
      codes[i] = (guint8) (v & mask);
    }
}

/* centres ascending: the nearest is found among the k - 1 midpoints by binary search;
 * code = number of midpoints strictly below x (a tie goes to the lower centre) */
void
fw_cluster_assign (const float *x, gsize n, const float *centres, int k, guint8 *codes)
{
  float mid[FW_CLUSTER_MAX_K];
  for (int j = 0; j + 1 < k; j++)
    mid[j] = 0.5f * (centres[j] + centres[j + 1]);
  for (gsize i = 0; i < n; i++)
    {
      int lo = 0, hi = k - 1; /* answer in [lo, hi] */
      float v = x[i];
      while (lo < hi)
        {
          int m = (lo + hi) >> 1;
          if (mid[m] < v)
            lo = m + 1;
          else
            hi = m;
        }
      codes[i] = (guint8) lo;
    }
}

static int
cmp_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return (x > y) - (x < y);
}

double
fw_kmeans_1d (const float *x, gsize n, int k, int iters, float *centres, guint8 *codes)
{
  g_return_val_if_fail (k >= 1 && k <= FW_CLUSTER_MAX_K, NAN);
  float lo = INFINITY, hi = -INFINITY;
  for (gsize i = 0; i < n; i++)
    {
      lo = MIN (lo, x[i]);
      hi = MAX (hi, x[i]);
    }
  if (n == 0)
    lo = hi = 0;
  /* linear initialisation: k points evenly over [lo, hi] (Han et al. found it keeps the few
   * large weights, which matter most, better than density-based starts) */
  for (int j = 0; j < k; j++)
    centres[j] = k == 1 ? 0.5f * (lo + hi) : lo + (hi - lo) * (float) j / (float) (k - 1);
  double sum[FW_CLUSTER_MAX_K];
  gsize cnt[FW_CLUSTER_MAX_K];
  fw_cluster_assign (x, n, centres, k, codes);
  for (int it = 0; it < iters; it++)
    {
      memset (sum, 0, sizeof (double) * k);
      memset (cnt, 0, sizeof (gsize) * k);
      for (gsize i = 0; i < n; i++)
        {
          sum[codes[i]] += x[i];
          cnt[codes[i]]++;
        }
      for (int j = 0; j < k; j++)
        if (cnt[j] > 0)
          centres[j] = (float) (sum[j] / (double) cnt[j]);
      qsort (centres, k, sizeof (float), cmp_float);
      gsize changed = 0;
      for (gsize i = 0; i < n; i++)
        {
          guint8 old = codes[i];
          fw_cluster_assign (x + i, 1, centres, k, codes + i);
          changed += codes[i] != old;
        }
      if (changed == 0)
        break;
    }
  double sse = 0;
  for (gsize i = 0; i < n; i++)
    {
      double d = (double) x[i] - centres[codes[i]];
      sse += d * d;
    }
  return sse;
}

/* ---- a model's clustering ---- */

void
fw_clustering_free (FwClustering *c)
{
  if (c == NULL)
    return;
  for (int i = 0; i < c->n_tensors; i++)
    {
      g_free (c->t[i].centres);
      g_free (c->t[i].codes);
      g_free (c->t[i].m1);
      g_free (c->t[i].m2);
      g_free (c->t[i].grad);
    }
  g_free (c->t);
  g_free (c);
}

FwClustering *
fw_clustering_new (const FwModel *m, int k, int iters, GError **error)
{
  if (k < 2 || k > FW_CLUSTER_MAX_K)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "clustering: k = %d centres is out of range (choose 2 to %d)", k,
                   FW_CLUSTER_MAX_K);
      return NULL;
    }
  g_autoptr (GArray) ts = fw_quant_weight_tensors (m);
  if (ts->len == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "clustering: the model '%s' has no weight tensors to cluster", m->spec);
      return NULL;
    }
  FwClustering *c = g_new0 (FwClustering, 1);
  c->k = k;
  c->n_tensors = (int) ts->len;
  c->t = g_new0 (FwClusterTensor, ts->len);
  c->beta1 = 0.9;
  c->beta2 = 0.999;
  c->eps = 1e-8;
  for (guint i = 0; i < ts->len; i++)
    {
      const gsize *row = &g_array_index (ts, gsize, 3 * i);
      FwClusterTensor *t = &c->t[i];
      t->offset = row[0];
      t->n = row[1];
      t->layer = (int) row[2];
      t->k = k;
      t->centres = g_new0 (float, k);
      t->codes = g_new0 (guint8, t->n);
      t->m1 = g_new0 (float, k);
      t->m2 = g_new0 (float, k);
      t->grad = g_new0 (double, k);
      fw_kmeans_1d (m->params + t->offset, t->n, k, iters, t->centres, t->codes);
    }
  return c;
}

void
fw_clustering_snap (const FwClustering *c, FwModel *m)
{
  for (int i = 0; i < c->n_tensors; i++)
    {
      const FwClusterTensor *t = &c->t[i];
      float *w = m->params + t->offset;
      for (gsize j = 0; j < t->n; j++)
        w[j] = t->centres[t->codes[j]];
    }
}

void
fw_clustering_recentre (FwClustering *c, const FwModel *m)
{
  for (int i = 0; i < c->n_tensors; i++)
    {
      FwClusterTensor *t = &c->t[i];
      const float *w = m->params + t->offset;
      double sum[FW_CLUSTER_MAX_K] = { 0 };
      gsize cnt[FW_CLUSTER_MAX_K] = { 0 };
      fw_cluster_assign (w, t->n, t->centres, t->k, t->codes);
      for (gsize j = 0; j < t->n; j++)
        {
          sum[t->codes[j]] += w[j];
          cnt[t->codes[j]]++;
        }
      for (int j = 0; j < t->k; j++)
        if (cnt[j] > 0)
          t->centres[j] = (float) (sum[j] / (double) cnt[j]);
      qsort (t->centres, t->k, sizeof (float), cmp_float);
      fw_cluster_assign (w, t->n, t->centres, t->k, t->codes);
    }
}

void
fw_clustering_bytes (const FwClustering *c, gsize *packed, gsize *f32)
{
  gsize p = 0, f = 0;
  for (int i = 0; i < c->n_tensors; i++)
    {
      p += fw_codes_packed_bytes (c->t[i].n, fw_cluster_bits (c->t[i].k))
           + sizeof (float) * (gsize) c->t[i].k;
      f += sizeof (float) * c->t[i].n;
    }
  if (packed != NULL)
    *packed = p;
  if (f32 != NULL)
    *f32 = f;
}

void
fw_weight_histogram (const float *w, gsize n, int bins, float lo, float hi, guint *counts)
{
  memset (counts, 0, sizeof (guint) * bins);
  float scale = hi > lo ? bins / (hi - lo) : 0.0f;
  for (gsize i = 0; i < n; i++)
    {
      int b = (int) floorf ((w[i] - lo) * scale);
      if (b >= 0 && b < bins)
        counts[b]++;
      else if (w[i] == hi && bins > 0)
        counts[bins - 1]++;
    }
}

/* ---- clustered training ---- */

/* pull phase: dL/dw += pull (w - c[code]) */
static void
pull_restore (FwModel *m, gpointer user)
{
  FwClustering *c = user;
  for (int i = 0; i < c->n_tensors; i++)
    {
      const FwClusterTensor *t = &c->t[i];
      const float *w = m->params + t->offset;
      float *g = m->grads + t->offset;
      for (gsize j = 0; j < t->n; j++)
        g[j] += c->pull * (w[j] - t->centres[t->codes[j]]);
    }
}

static void
pull_epoch_end (FwModel *m, int epoch, gpointer user)
{
  fw_clustering_recentre (user, m);
}

/* tied phase: dL/dc_j = sum of the gradients of the weights coded j; the weights' own
 * gradients are zeroed so the model's optimizer leaves them alone */
static void
tied_restore (FwModel *m, gpointer user)
{
  FwClustering *c = user;
  for (int i = 0; i < c->n_tensors; i++)
    {
      FwClusterTensor *t = &c->t[i];
      float *g = m->grads + t->offset;
      memset (t->grad, 0, sizeof (double) * t->k);
      for (gsize j = 0; j < t->n; j++)
        {
          t->grad[t->codes[j]] += g[j];
          g[j] = 0.0f;
        }
    }
}

/* an Adam step on every centre, then w_i <- c[code_i] */
static void
tied_after_step (FwModel *m, double lr, gpointer user)
{
  FwClustering *c = user;
  c->adam_t++;
  double bc1 = 1.0 - pow (c->beta1, c->adam_t), bc2 = 1.0 - pow (c->beta2, c->adam_t);
  for (int i = 0; i < c->n_tensors; i++)
    {
      FwClusterTensor *t = &c->t[i];
      for (int j = 0; j < t->k; j++)
        {
          double g = t->grad[j];
          t->m1[j] = (float) (c->beta1 * t->m1[j] + (1 - c->beta1) * g);
          t->m2[j] = (float) (c->beta2 * t->m2[j] + (1 - c->beta2) * g * g);
          t->centres[j] -= (float) (lr * (t->m1[j] / bc1) / (sqrt (t->m2[j] / bc2) + c->eps));
        }
    }
  fw_clustering_snap (c, m);
}

gboolean
fw_cluster_pull (FwModel *m, FwClustering *c, const FwTrainConfig *cfg, float pull,
                 FwDataset *train, FwDataset *test, const FwTrainHooks *train_hooks,
                 GCancellable *cancellable, GArray *metrics, GError **error)
{
  c->pull = pull;
  FwCompressHooks h = { NULL, pull_restore, NULL, pull_epoch_end, c, 0 };
  gboolean ok = fw_compress_finetune (m, cfg, train, test, &h, train_hooks, cancellable,
                                      metrics, error);
  c->pull = 0;
  return ok;
}

gboolean
fw_cluster_train (FwModel *m, FwClustering *c, const FwTrainConfig *cfg, float pull,
                  int pull_epochs, FwDataset *train, FwDataset *test,
                  const FwTrainHooks *train_hooks, GCancellable *cancellable, GArray *metrics,
                  GError **error)
{
  pull_epochs = pull > 0 ? CLAMP (pull_epochs, 0, cfg->epochs) : 0;
  if (pull_epochs > 0)
    {
      FwTrainConfig c1 = *cfg;
      c1.epochs = pull_epochs;
      if (!fw_cluster_pull (m, c, &c1, pull, train, test, train_hooks, cancellable, metrics,
                            error))
        return FALSE;
    }
  fw_clustering_snap (c, m);
  FwTrainConfig c2 = *cfg;
  c2.epochs = cfg->epochs - pull_epochs;
  c2.seed = cfg->seed + (guint64) pull_epochs;
  if (c2.epochs == 0)
    return TRUE;
  FwCompressHooks h = { NULL, tied_restore, tied_after_step, NULL, c, pull_epochs };
  return fw_compress_finetune (m, &c2, train, test, &h, train_hooks, cancellable, metrics,
                               error);
}

/* ---- inference form ---- */

static int
distinct_sorted (const float *w, gsize n, float *vals, int max_k)
{
  g_autofree float *s = g_memdup2 (w, sizeof (float) * n);
  qsort (s, n, sizeof (float), cmp_float);
  int k = 0;
  for (gsize i = 0; i < n; i++)
    if (k == 0 || s[i] != vals[k - 1])
      {
        if (k == max_k)
          return max_k + 1;
        vals[k++] = s[i];
      }
  return k;
}

FwModel *
fw_cluster_model_pack (const FwModel *src, int max_k, GError **error)
{
  max_k = CLAMP (max_k, 2, FW_CLUSTER_MAX_K);
  g_autoptr (GString) spec = g_string_new (NULL);
  int *layer_k = g_new0 (int, src->n_layers);
  for (int i = 0; i < src->n_layers; i++)
    {
      const FwLayer *l = src->layers[i];
      g_autofree char *tok = l->klass->spec (l);
      FwTensorInfo ti[FW_LAYER_MAX_TENSORS];
      int nt = l->klass->tensors (l, ti), k = 0;
      for (int t = 0; t < nt; t++)
        if (ti[t].trainable && g_str_has_suffix (ti[t].name, "weight"))
          {
            gsize n = 1;
            for (int d = 0; d < ti[t].ndim; d++)
              n *= (gsize) ti[t].dims[d];
            float vals[FW_CLUSTER_MAX_K + 1];
            int kt = distinct_sorted (l->w + ti[t].offset, n, vals, max_k);
            if (kt > max_k)
              {
                g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                             "layer %d (%s): %s has more than %d distinct values; cluster or "
                             "quantize the model before packing it", i + 1, tok, ti[t].name,
                             max_k);
                g_free (layer_k);
                return NULL;
              }
            k = MAX (k, MAX (kt, 2));
          }
      layer_k[i] = k;
      if (i > 0)
        g_string_append_c (spec, ',');
      if (k > 0)
        g_string_append_printf (spec, "cluster:%d:%s", k, tok);
      else
        g_string_append (spec, tok);
    }
  FwModel *m = fw_model_new (src->arch, spec->str, src->input, error);
  if (m == NULL)
    {
      g_free (layer_k);
      return NULL;
    }
  m->in_mean = src->in_mean;
  m->in_std = src->in_std;
  m->class_names = g_strdupv (src->class_names);
  gboolean ok = TRUE;
  for (int i = 0; i < m->n_layers && ok; i++)
    {
      const FwLayer *sl = src->layers[i];
      FwLayer *l = m->layers[i];
      if (layer_k[i] == 0)
        {
          memcpy (l->w, sl->w, sizeof (float) * sl->n_w);
          memcpy (l->st, sl->st, sizeof (float) * sl->n_st);
          l->frozen = sl->frozen;
          continue;
        }
      ok = fw_layer_cluster_set_from (l, sl, error);
    }
  g_free (layer_k);
  if (!ok)
    {
      fw_model_unref (m);
      return NULL;
    }
  return m;
}
