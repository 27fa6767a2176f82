/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-features.c: feature vectors (pixels or a layer's activations) for embeddings. */
#include "fw-features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"

void
fw_features_free (FwFeatures *f)
{
  if (f == NULL)
    return;
  g_free (f->x);
  g_free (f->label);
  g_free (f->index);
  g_free (f->pred);
  g_free (f->conf);
  g_free (f);
}

static FwFeatures *
features_alloc (const FwDataset *ds, const gint32 *idx, int n, int d)
{
  FwFeatures *f = g_new0 (FwFeatures, 1);
  f->n = n;
  f->d = d;
  f->x = g_new (float, (gsize) n * d);
  f->label = g_new (gint32, n);
  f->index = g_new (gint32, n);
  for (int i = 0; i < n; i++)
    {
      f->index[i] = idx != NULL ? idx[i] : i;
      f->label[i] = ds->y[f->index[i]];
    }
  return f;
}

FwFeatures *
fw_features_pixels (const FwDataset *ds, const gint32 *idx, int n)
{
  g_return_val_if_fail (ds != NULL, NULL);
  if (idx == NULL)
    n = ds->n;
  gsize d = fw_dataset_sample_size (ds);
  FwFeatures *f = features_alloc (ds, idx, n, (int) d);
  for (int i = 0; i < n; i++)
    memcpy (f->x + (gsize) i * d, ds->x + (gsize) f->index[i] * d, sizeof (float) * d);
  return f;
}

int
fw_features_layer_width (const FwModel *m, int layer)
{
  if (layer < 0)
    return (int) fw_shape_size (m->input);
  return (int) fw_shape_size (m->layers[layer]->out);
}

char *
fw_features_layer_label (const FwModel *m, int layer)
{
  if (layer < 0)
    return g_strdup_printf ("input (%d)", fw_features_layer_width (m, -1));
  const FwLayer *l = m->layers[layer];
  g_autofree char *spec = l->klass->spec != NULL ? l->klass->spec (l) : g_strdup (l->klass->name);
  FwShape o = l->out;
  if (o.h == 1 && o.w == 1)
    return g_strdup_printf ("%d: %s (%d)", layer, spec, o.c);
  return g_strdup_printf ("%d: %s (%dx%dx%d)", layer, spec, o.c, o.h, o.w);
}

FwFeatures *
fw_features_layer (FwModel *m, int layer, const FwDataset *ds, const gint32 *idx, int n,
                   int batch, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (m != NULL && ds != NULL, NULL);
  if (layer < -1 || layer >= m->n_layers)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "Layer %d does not exist: the model has layers 0 to %d (or -1 for its input)",
                   layer, m->n_layers - 1);
      return NULL;
    }
  if (fw_shape_size (ds->shape) != fw_shape_size (m->input))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "The dataset's samples (%dx%dx%d) do not fit the model's input (%dx%dx%d): "
                   "choose the dataset the model was trained on",
                   ds->shape.c, ds->shape.h, ds->shape.w,
                   m->input.c, m->input.h, m->input.w);
      return NULL;
    }
  if (idx == NULL)
    n = ds->n;
  if (batch <= 0)
    batch = 256;
  int d = fw_features_layer_width (m, layer);
  gsize in = fw_dataset_sample_size (ds);
  int k = m->n_classes;
  g_autoptr (FwFeatures) f = features_alloc (ds, idx, n, d);
  f->pred = g_new (gint32, n);
  f->conf = g_new (float, n);
  g_autofree float *xb = g_new (float, (gsize) batch * in);

  for (int s = 0; s < n; s += batch)
    {
      if (g_cancellable_is_cancelled (cancellable))
        {
          g_set_error (error, FW_ERROR, FW_ERROR_CANCELLED, "Feature extraction cancelled");
          return NULL;
        }
      int b = MIN (batch, n - s);
      for (int i = 0; i < b; i++)
        memcpy (xb + (gsize) i * in, ds->x + (gsize) f->index[s + i] * in, sizeof (float) * in);
      const float *logits = fw_model_forward (m, xb, b, FALSE);
      const float *src = layer < 0 ? m->act_in : m->act[layer];
      memcpy (f->x + (gsize) s * d, src, sizeof (float) * (gsize) b * d);
      for (int i = 0; i < b; i++)
        {
          /* pred = argmax z, conf = softmax(z)_pred = 1 / sum_j exp(z_j - z_pred) */
          const float *z = logits + (gsize) i * k;
          int best = 0;
          for (int j = 1; j < k; j++)
            if (z[j] > z[best])
              best = j;
          double sum = 0.0;
          for (int j = 0; j < k; j++)
            sum += exp ((double) z[j] - z[best]);
          f->pred[s + i] = best;
          f->conf[s + i] = (float) (1.0 / sum);
        }
    }
  return g_steal_pointer (&f);
}

static int
cmp_int32 (const void *a, const void *b)
{
  gint32 x = *(const gint32 *) a, y = *(const gint32 *) b;
  return (x > y) - (x < y);
}

int
fw_features_pick (const FwDataset *ds, int n, guint64 seed, gint32 *idx_out)
{
  int m = MIN (n, ds->n);
  g_autofree gint32 *all = g_new (gint32, ds->n);
  for (int i = 0; i < ds->n; i++)
    all[i] = i;
  FwRng rng;
  fw_rng_init (&rng, seed);
  /* partial Fisher-Yates: the first m entries are a uniform choice */
  for (int i = 0; i < m; i++)
    {
      int j = i + (int) fw_rng_below (&rng, (guint32) (ds->n - i));
      gint32 t = all[i];
      all[i] = all[j];
      all[j] = t;
    }
  memcpy (idx_out, all, sizeof (gint32) * m);
  /* increasing order: deterministic and easy to browse */
  qsort (idx_out, m, sizeof (gint32), cmp_int32);
  return m;
}
