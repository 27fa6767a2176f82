/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-retrieval.c: retrieval-augmented prediction, the image analogue of RAG.
 *
 * The memory holds L2-normalised embeddings e_j (one layer's output of a model) with labels
 * y_j. For a query with embedding q (normalised) and logits z:
 *   N_k(q) = the k memory rows with the largest cosine similarity q . e_j
 *   vote_c = |{j in N_k(q) : y_j = c}| / k
 *   p_c    = (1 - mix) softmax(z)_c + mix vote_c          (mix = 1 when the model's classes
 *                                                          are not the memory's)
 * Adding labelled rows changes predictions at once: no training. Similarities of a batch of
 * queries against the memory are one GEMM. */
#include "fw-transfer.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-features.h"
#include "fw-gemm.h"

struct _FwRetrieval {
  FwModel *m;
  int layer, d, n_classes;
  GArray *emb;      /* float, [n x d] normalised rows */
  GArray *labels;   /* gint32 */
};

FwRetrieval *
fw_retrieval_new (FwModel *m, int layer, int n_classes, GError **error)
{
  if (layer < -1 || layer >= m->n_layers)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "retrieval: layer %d does not exist "
                   "(the model has layers 0 to %d, or -1 for the input)", layer,
                   m->n_layers - 1);
      return NULL;
    }
  if (n_classes < 2)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "retrieval: %d classes (need 2 or more)",
                   n_classes);
      return NULL;
    }
  FwRetrieval *r = g_new0 (FwRetrieval, 1);
  r->m = fw_model_ref (m);
  r->layer = layer;
  r->d = fw_features_layer_width (m, layer);
  r->n_classes = n_classes;
  r->emb = g_array_new (FALSE, FALSE, sizeof (float));
  r->labels = g_array_new (FALSE, FALSE, sizeof (gint32));
  return r;
}

void
fw_retrieval_free (FwRetrieval *r)
{
  if (r == NULL)
    return;
  fw_model_unref (r->m);
  g_array_unref (r->emb);
  g_array_unref (r->labels);
  g_free (r);
}

int
fw_retrieval_size (const FwRetrieval *r)
{
  return (int) r->labels->len;
}

static void
normalise (float *x, int d)
{
  double s = 0;
  for (int j = 0; j < d; j++)
    s += (double) x[j] * x[j];
  float inv = s > 0 ? (float) (1.0 / sqrt (s)) : 0.0f;
  for (int j = 0; j < d; j++)
    x[j] *= inv;
}

void
fw_retrieval_add_rows (FwRetrieval *r, const float *x, const gint32 *labels, int n)
{
  guint start = r->emb->len;
  g_array_append_vals (r->emb, x, (guint) n * r->d);
  for (int i = 0; i < n; i++)
    normalise (&g_array_index (r->emb, float, start + (guint) i * r->d), r->d);
  g_array_append_vals (r->labels, labels, n);
}

gboolean
fw_retrieval_add (FwRetrieval *r, const FwDataset *ds, GCancellable *cancellable,
                  GError **error)
{
  if (ds->n_classes > r->n_classes)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "retrieval: %s has %d classes, the memory "
                   "holds %d", ds->name, ds->n_classes, r->n_classes);
      return FALSE;
    }
  g_autoptr (FwFeatures) f = fw_features_layer (r->m, r->layer, ds, NULL, 0, 256, cancellable,
                                                error);
  if (f == NULL)
    return FALSE;
  fw_retrieval_add_rows (r, f->x, f->label, f->n);
  return TRUE;
}

/* the k largest of sim[n] (ties: lower index first) into idx[k], best first */
static int
top_k (const float *sim, int n, int k, int *idx)
{
  k = MIN (k, n);
  int m = 0;
  for (int j = 0; j < n; j++)
    {
      if (m == k && sim[j] <= sim[idx[k - 1]])
        continue;
      int p = m < k ? m++ : k - 1;
      while (p > 0 && sim[idx[p - 1]] < sim[j])
        {
          idx[p] = idx[p - 1];
          p--;
        }
      idx[p] = j;
    }
  return m;
}

int
fw_retrieval_nearest (const FwRetrieval *r, const float *q, int k, int *idx)
{
  int n = fw_retrieval_size (r);
  g_autofree float *sim = g_new (float, MAX (n, 1));
  const float *e = (const float *) r->emb->data;
  for (int j = 0; j < n; j++)
    {
      double s = 0;
      for (int t = 0; t < r->d; t++)
        s += (double) q[t] * e[(gsize) j * r->d + t];
      sim[j] = (float) s;
    }
  return top_k (sim, n, k, idx);
}

gboolean
fw_retrieval_predict (FwRetrieval *r, const FwDataset *ds, int k, double mix, float *probs,
                      gint32 *preds, GCancellable *cancellable, GError **error)
{
  int n_mem = fw_retrieval_size (r);
  if (n_mem == 0 && mix > 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "retrieval: the memory is empty; add "
                   "labelled examples first");
      return FALSE;
    }
  if (k < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "retrieval: k = %d (need 1 or more)", k);
      return FALSE;
    }
  gboolean use_model = r->m->n_classes == r->n_classes;
  double w = use_model ? CLAMP (mix, 0.0, 1.0) : 1.0;
  g_autoptr (FwFeatures) f = fw_features_layer (r->m, r->layer, ds, NULL, 0, 256, cancellable,
                                                error);
  if (f == NULL)
    return FALSE;
  /* the logits again for the softmax part (fw_features keeps only the argmax) */
  int K = r->n_classes, d = r->d;
  const int chunk = 256;
  g_autofree float *sim = g_new (float, (gsize) chunk * MAX (n_mem, 1));
  g_autofree int *idx = g_new (int, MAX (k, 1));
  g_autofree float *p = g_new (float, K);
  g_autofree float *logits = use_model && w < 1.0 ? g_new (float, (gsize) f->n * K) : NULL;
  gsize in = fw_dataset_sample_size (ds);
  if (logits != NULL)
    for (int s = 0; s < f->n; s += chunk)
      {
        int b = MIN (chunk, f->n - s);
        const float *z = fw_model_forward (r->m, ds->x + (gsize) s * in, b, FALSE);
        memcpy (logits + (gsize) s * K, z, sizeof (float) * (gsize) b * K);
      }
  for (int s = 0; s < f->n; s += chunk)
    {
      if (g_cancellable_is_cancelled (cancellable))
        {
          g_set_error (error, FW_ERROR, FW_ERROR_CANCELLED, "Retrieval cancelled");
          return FALSE;
        }
      int b = MIN (chunk, f->n - s);
      float *q = f->x + (gsize) s * d;
      for (int i = 0; i < b; i++)
        normalise (q + (gsize) i * d, d);
      /* sim[b x n_mem] = Q [b x d] E^T [d x n_mem] */
      if (n_mem > 0)
        fw_sgemm (FALSE, TRUE, b, n_mem, d, 1.0f, q, d, (const float *) r->emb->data, d, 0.0f,
                  sim, n_mem);
      for (int i = 0; i < b; i++)
        {
          for (int c = 0; c < K; c++)
            p[c] = 0.0f;
          if (w > 0)
            {
              int got = top_k (sim + (gsize) i * n_mem, n_mem, k, idx);
              for (int t = 0; t < got; t++)
                p[g_array_index (r->labels, gint32, idx[t])] += (float) (w / got);
            }
          if (logits != NULL)
            {
              const float *z = logits + (gsize) (s + i) * K;
              float mx = z[0];
              for (int c = 1; c < K; c++)
                mx = MAX (mx, z[c]);
              double sum = 0;
              for (int c = 0; c < K; c++)
                sum += exp ((double) z[c] - mx);
              for (int c = 0; c < K; c++)
                p[c] += (float) ((1.0 - w) * exp ((double) z[c] - mx) / sum);
            }
          int best = 0;
          for (int c = 1; c < K; c++)
            if (p[c] > p[best])
              best = c;
          preds[s + i] = best;
          if (probs != NULL)
            memcpy (probs + (gsize) (s + i) * K, p, sizeof (float) * K);
        }
    }
  return TRUE;
}
