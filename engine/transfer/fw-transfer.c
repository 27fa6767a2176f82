/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-transfer.c: transfer strategies as model surgery: new heads, freezing, prompts, prefix
 * channels; class subsets of datasets for source / target tasks. */
#include "fw-transfer.h"

#include <stdlib.h>
#include <string.h>

#include "fw-error.h"

static const struct {
  const char *name, *title;
} methods[FW_TRANSFER_N_METHODS] = {
  [FW_TRANSFER_SCRATCH] = { "scratch", "From scratch" },
  [FW_TRANSFER_HEAD] = { "head", "Pre-trained + new head" },
  [FW_TRANSFER_FINETUNE] = { "finetune", "+ fine-tune" },
  [FW_TRANSFER_LORA] = { "lora", "+ LoRA" },
  [FW_TRANSFER_PROMPT] = { "prompt", "+ visual prompt" },
  [FW_TRANSFER_PREFIX] = { "prefix", "+ prefix channel" },
  [FW_TRANSFER_KNN] = { "knn", "kNN retrieval" },
};

const char *
fw_transfer_method_name (FwTransferMethod m)
{
  return m < FW_TRANSFER_N_METHODS ? methods[m].name : "?";
}

const char *
fw_transfer_method_title (FwTransferMethod m)
{
  return m < FW_TRANSFER_N_METHODS ? methods[m].title : "?";
}

int
fw_transfer_method_parse (const char *name, GError **error)
{
  g_autoptr (GString) all = g_string_new (NULL);
  for (int i = 0; i < FW_TRANSFER_N_METHODS; i++)
    {
      if (g_strcmp0 (name, methods[i].name) == 0)
        return i;
      g_string_append_printf (all, "%s%s", i ? ", " : "", methods[i].name);
    }
  g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "unknown transfer method '%s' (choose %s)",
               name, all->str);
  return -1;
}

int
fw_transfer_head_index (const FwModel *m)
{
  for (int i = m->n_layers - 1; i >= 0; i--)
    if (m->layers[i]->n_w > 0)
      return i;
  return -1;
}

static char *
layer_token (const FwLayer *l)
{
  return l->klass->spec (l);
}

FwModel *
fw_transfer_rebuild (const FwModel *src, const char *spec, int shift, guint64 seed,
                     GError **error)
{
  FwModel *m = fw_model_new (src->arch, spec, src->input, error);
  if (m == NULL)
    return NULL;
  fw_model_init (m, seed);
  m->in_mean = src->in_mean;
  m->in_std = src->in_std;
  if (src->class_names != NULL && m->n_classes == src->n_classes)
    m->class_names = g_strdupv (src->class_names);
  for (int i = 0; i < src->n_layers && i + shift < m->n_layers; i++)
    {
      const FwLayer *a = src->layers[i];
      FwLayer *b = m->layers[i + shift];
      g_autofree char *ta = layer_token (a);
      g_autofree char *tb = layer_token (b);
      if (a->klass != b->klass || g_strcmp0 (ta, tb) != 0 || a->n_w != b->n_w
          || a->n_st != b->n_st || fw_shape_size (a->in) != fw_shape_size (b->in))
        continue;
      memcpy (b->w, a->w, sizeof (float) * a->n_w);
      memcpy (b->st, a->st, sizeof (float) * a->n_st);
    }
  return m;
}

FwModel *
fw_transfer_new_head (const FwModel *src, int n_classes, const char *head_spec, guint64 seed,
                      GError **error)
{
  int head = fw_transfer_head_index (src);
  if (head <= 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "the model has no trunk to transfer: "
                   "its first layer with weights is its head (use a deeper model)");
      return NULL;
    }
  if (n_classes < 2)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "a new head needs at least 2 classes, "
                   "got %d", n_classes);
      return NULL;
    }
  g_autoptr (GString) spec = g_string_new (NULL);
  for (int i = 0; i < head; i++)
    {
      g_autofree char *tok = layer_token (src->layers[i]);
      g_string_append_printf (spec, "%s%s", i ? "," : "", tok);
    }
  if (head_spec != NULL && *head_spec)
    g_string_append_printf (spec, ",%s", head_spec);
  else
    g_string_append_printf (spec, ",dense:%d", n_classes);
  FwModel *m = fw_transfer_rebuild (src, spec->str, 0, seed, error);
  if (m == NULL)
    return NULL;
  if (m->n_classes != n_classes)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "head '%s' gives %d outputs, the task has "
                   "%d classes", head_spec, m->n_classes, n_classes);
      fw_model_unref (m);
      return NULL;
    }
  for (int i = 0; i < m->n_layers; i++)
    m->layers[i]->frozen = i < head && m->layers[i]->n_w > 0;
  return m;
}

void
fw_transfer_unfreeze_last (FwModel *m, int k)
{
  int seen = 0;
  for (int i = m->n_layers - 1; i >= 0; i--)
    {
      FwLayer *l = m->layers[i];
      if (l->n_w == 0)
        continue;
      l->frozen = k > 0 && seen >= k;
      seen++;
    }
}

void
fw_transfer_set_lr_decay (FwModel *m, double decay)
{
  double s = 1.0;
  for (int i = m->n_layers - 1; i >= 0; i--)
    {
      FwLayer *l = m->layers[i];
      if (l->n_w == 0)
        continue;
      l->lr_scale = decay > 0 && decay != 1 ? (float) s : 0.0f;
      s *= decay;
    }
}

void
fw_transfer_count (const FwModel *m, gsize *trainable, gsize *frozen)
{
  gsize t = 0, f = 0;
  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = m->layers[i];
      if (l->frozen)
        f += l->n_w;
      else
        t += l->n_w;
      f += l->n_st;
    }
  if (trainable != NULL)
    *trainable = t;
  if (frozen != NULL)
    *frozen = f;
}

static void
freeze_all_but (FwModel *m, int keep)
{
  for (int i = 0; i < m->n_layers; i++)
    m->layers[i]->frozen = i != keep && m->layers[i]->n_w > 0;
}

FwModel *
fw_transfer_add_prompt (const FwModel *src, const char *mode, int pad, GError **error)
{
  g_autofree char *spec = g_strdup_printf ("prompt:%s:%d,%s", mode, pad, src->spec);
  FwModel *m = fw_transfer_rebuild (src, spec, 1, 0, error);
  if (m == NULL)
    return NULL;
  if (src->class_names != NULL && m->class_names == NULL)
    m->class_names = g_strdupv (src->class_names);
  freeze_all_but (m, 0);
  return m;
}

FwModel *
fw_transfer_add_prefix (const FwModel *src, guint64 seed, GError **error)
{
  int first = 0;
  while (first < src->n_layers && src->layers[first]->n_w == 0)
    first++;
  if (first == src->n_layers)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "prefix: the model has no weights");
      return NULL;
    }
  const FwLayer *fl = src->layers[first];
  gboolean conv = fl->klass == &fw_layer_conv, dense = fl->klass == &fw_layer_dense;
  if (!conv && !dense)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "prefix: the first layer with weights is "
                   "a %s; a prefix channel needs a conv or dense there", fl->klass->name);
      return NULL;
    }
  for (int i = 0; i < first; i++)
    {
      const char *k = src->layers[i]->klass->name;
      if (g_strcmp0 (k, "flatten") != 0 && src->layers[i]->out.c != src->layers[i]->in.c)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "prefix: layer %d (%s) before the "
                       "first weight layer changes the channel count", i + 1, k);
          return NULL;
        }
    }
  g_autofree char *spec = g_strdup_printf ("prefix:1,%s", src->spec);
  FwModel *m = fw_transfer_rebuild (src, spec, 1, seed, error);
  if (m == NULL)
    return NULL;
  if (src->class_names != NULL && m->class_names == NULL)
    m->class_names = g_strdupv (src->class_names);
  /* the widened layer: old weights for the old inputs, the seeded random init (which
   * rebuild left there) for the new channel's inputs, the old bias */
  FwLayer *nl = m->layers[first + 1];
  int out = fl->iarg[0];
  gsize fan_old = (fl->n_w - out) / out, fan_new = (nl->n_w - out) / out;
  for (int o = 0; o < out; o++)
    memcpy (nl->w + (gsize) o * fan_new, fl->w + (gsize) o * fan_old, sizeof (float) * fan_old);
  memcpy (nl->w + (gsize) out * fan_new, fl->w + (gsize) out * fan_old, sizeof (float) * out);
  freeze_all_but (m, 0);
  return m;
}

int
fw_transfer_parse_classes (const char *text, int n_classes, int *classes, GError **error)
{
  if (text == NULL || *text == '\0')
    return 0;
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  int n = 0;
  for (int i = 0; parts[i] != NULL; i++)
    {
      char *p = g_strstrip (parts[i]);
      char *end = NULL;
      long a = strtol (p, &end, 10), b = a;
      if (end != p && *end == '-')
        {
          char *q = end + 1;
          b = strtol (q, &end, 10);
          if (end == q)
            end = q - 1;
        }
      if (end == p || *end != '\0' || a < 0 || b < a || b >= n_classes)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "classes '%s': '%s' is not a class "
                       "number or range in 0..%d (write e.g. 0-4 or 5,6,7)", text, p,
                       n_classes - 1);
          return -1;
        }
      for (long c = a; c <= b; c++)
        {
          for (int j = 0; j < n; j++)
            if (classes[j] == c)
              {
                g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "classes '%s': class %ld is "
                             "listed twice", text, c);
                return -1;
              }
          classes[n++] = (int) c;
        }
    }
  return n;
}

FwDataset *
fw_transfer_class_subset (const FwDataset *ds, const int *classes, int n, GError **error)
{
  if (n < 2)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "a task needs at least 2 classes, got %d",
                   n);
      return NULL;
    }
  g_autofree int *map = g_new (int, ds->n_classes);
  for (int c = 0; c < ds->n_classes; c++)
    map[c] = -1;
  for (int j = 0; j < n; j++)
    map[classes[j]] = j;
  g_autofree gint32 *idx = g_new (gint32, ds->n);
  int m = 0;
  for (int i = 0; i < ds->n; i++)
    if (map[ds->y[i]] >= 0)
      idx[m++] = i;
  if (m == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s has no sample of the chosen classes",
                   ds->name);
      return NULL;
    }
  g_autofree char *name = g_strdup_printf ("%s (%d classes)", ds->name, n);
  FwDataset *sub = fw_dataset_subset (ds, idx, m, name);
  /* relabel, with the names in the new order */
  FwDataset *out = fw_dataset_new (name, m, ds->shape, n);
  memcpy (out->x, sub->x, sizeof (float) * (gsize) m * fw_dataset_sample_size (ds));
  for (int i = 0; i < m; i++)
    out->y[i] = map[sub->y[i]];
  if (ds->class_names != NULL)
    for (int j = 0; j < n; j++)
      {
        g_free (out->class_names[j]);
        out->class_names[j] = g_strdup (ds->class_names[classes[j]]);
      }
  g_free (out->source);
  out->source = g_strdup (ds->source);
  fw_dataset_unref (sub);
  return out;
}
