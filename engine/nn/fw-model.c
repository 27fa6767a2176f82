/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-model.c: building a model from a spec, its flat buffers, forward and backward passes. */
#include "fw-model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"
#include "fw-util.h"

static const char *const arch_names[] = {
  "mlp", "lenet5", "cnn-small", "mobilenet-tiny", "squeezenet-tiny", "efficientnet-tiny", NULL,
};

const char *const *
fw_model_arch_names (void)
{
  return arch_names;
}

char *
fw_model_arch_spec (const char *arch, const char *widths, FwShape input, int n_classes,
                    GError **error)
{
  if (n_classes < 2)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "a classifier needs at least 2 classes, "
                   "got %d", n_classes);
      return NULL;
    }
  if (g_strcmp0 (arch, "mlp") == 0)
    {
      g_autoptr (GString) s = g_string_new ("flatten");
      g_auto (GStrv) ws = g_strsplit (widths != NULL && *widths ? widths : "256,128", ",", -1);
      for (int i = 0; ws[i] != NULL; i++)
        {
          char *end = NULL;
          g_strstrip (ws[i]);
          long w = strtol (ws[i], &end, 10);
          if (end == ws[i] || *end != '\0' || w < 1 || w > 1 << 20)
            {
              g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                           "mlp widths '%s': '%s' is not a positive integer (write e.g. 256,128)",
                           widths, ws[i]);
              return NULL;
            }
          g_string_append_printf (s, ",dense:%ld,relu", w);
        }
      g_string_append_printf (s, ",dense:%d", n_classes);
      return g_string_free (g_steal_pointer (&s), FALSE);
    }
  if (g_strcmp0 (arch, "lenet5") == 0)
    return g_strdup_printf ("conv:6:5,relu,maxpool:2,conv:16:5,relu,maxpool:2,flatten,"
                            "dense:120,relu,dense:84,relu,dense:%d", n_classes);
  if (g_strcmp0 (arch, "cnn-small") == 0)
    return g_strdup_printf ("conv:32:3:1:1,relu,maxpool:2,conv:64:3:1:1,relu,maxpool:2,flatten,"
                            "dense:128,relu,dense:%d", n_classes);
  if (g_strcmp0 (arch, "mobilenet-tiny") == 0)
    return g_strdup_printf ("conv:16:3:1:1,bn,relu,dwsep:32:2,dwsep:64:2,dwsep:64:1,gap,flatten,"
                            "dense:%d", n_classes);
  if (g_strcmp0 (arch, "squeezenet-tiny") == 0)
    return g_strdup_printf ("conv:32:3:1:1,relu,maxpool:2,fire:8:32,fire:8:32,maxpool:2,"
                            "fire:16:64,gap,flatten,dense:%d", n_classes);
  if (g_strcmp0 (arch, "efficientnet-tiny") == 0)
    return g_strdup_printf ("conv:16:3:1:1,bn,relu,mbconv:16:2,mbconv:24:4:2,mbconv:32:4:2,gap,"
                            "flatten,dense:%d", n_classes);
  g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
               "unknown architecture '%s' (choose mlp, lenet5, cnn-small, mobilenet-tiny, "
               "squeezenet-tiny, efficientnet-tiny, or give a layer spec)", arch ? arch : "(null)");
  return NULL;
}

static void
layer_free (FwLayer *l)
{
  if (l == NULL)
    return;
  if (l->klass->finalize != NULL)
    l->klass->finalize (l);
  g_free (l);
}

static void
model_clear (gpointer data)
{
  FwModel *m = data;
  for (int i = 0; i < m->n_layers; i++)
    layer_free (m->layers[i]);
  g_free (m->layers);
  if (m->act != NULL)
    for (int i = 0; i < m->n_layers; i++)
      {
        fw_free_aligned (m->act[i]);
        fw_free_aligned (m->dact[i]);
      }
  g_free (m->act);
  g_free (m->dact);
  fw_free_aligned (m->act_in);
  fw_free_aligned (m->scratch);
  fw_free_aligned (m->params);
  fw_free_aligned (m->grads);
  fw_free_aligned (m->state);
  g_strfreev (m->class_names);
  g_free (m->arch);
  g_free (m->spec);
}

FwModel *
fw_model_new (const char *arch, const char *spec, FwShape input, GError **error)
{
  return fw_model_new_limited (arch, spec, input, FW_MODEL_MAX_PARAMS, error);
}

FwModel *
fw_model_new_limited (const char *arch, const char *spec, FwShape input, gsize max_floats,
                      GError **error)
{
  if (input.c < 1 || input.h < 1 || input.w < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "model input shape %dx%dx%d is empty",
                   input.c, input.h, input.w);
      return NULL;
    }
  if (fw_shape_size (input) > FW_MODEL_MAX_SAMPLE_FLOATS)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "model input %dx%dx%d is too large (more "
                   "than %" G_GSIZE_FORMAT " values per sample)", input.c, input.h, input.w,
                   FW_MODEL_MAX_SAMPLE_FLOATS);
      return NULL;
    }
  g_auto (GStrv) tokens = g_strsplit (spec, ",", -1);
  int n = g_strv_length (tokens);
  if (n == 0 || spec[0] == '\0')
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "model spec is empty");
      return NULL;
    }

  FwModel *m = g_atomic_rc_box_new0 (FwModel);
  m->arch = g_strdup (arch != NULL ? arch : "custom");
  m->input = input;
  m->in_mean = 0.0f;
  m->in_std = 1.0f;
  m->layers = g_new0 (FwLayer *, n);
  fw_rng_init (&m->dropout_rng, 0x5eed);

  FwShape shape = input;
  g_autoptr (GString) canon = g_string_new (NULL);
  for (int i = 0; i < n; i++)
    {
      g_strstrip (tokens[i]);
      if (tokens[i][0] == '\0')
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "layer %d: empty layer token in spec '%s' (two commas in a row?)", i + 1,
                       spec);
          fw_model_unref (m);
          return NULL;
        }
      g_auto (GStrv) parts = g_strsplit (tokens[i], ":", -1);
      const FwLayerClass *klass = fw_layer_class_lookup (parts[0]);
      if (klass == NULL)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "layer %d: unknown layer kind '%s' (see 'frugal layers')", i + 1,
                       parts[0]);
          fw_model_unref (m);
          return NULL;
        }
      FwLayer *l = g_new0 (FwLayer, 1);
      l->klass = klass;
      l->index = i;
      l->in = shape;
      l->rng = &m->dropout_rng;
      m->layers[i] = l;
      m->n_layers = i + 1;
      if (!klass->setup (l, parts + 1, (int) g_strv_length (parts) - 1, error))
        {
          fw_model_unref (m);
          return NULL;
        }
      if (l->out.c < 1 || l->out.h < 1 || l->out.w < 1)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "layer %d (%s): input %dx%dx%d is too small for it", i + 1, klass->name,
                       shape.c, shape.h, shape.w);
          fw_model_unref (m);
          return NULL;
        }
      shape = l->out;
      m->n_params += l->n_w;
      m->n_state += l->n_st;
      g_autofree char *tok = klass->spec (l);
      if (i > 0)
        g_string_append_c (canon, ',');
      g_string_append (canon, tok);
    }
  m->n_classes = (int) fw_shape_size (shape);
  m->spec = g_strdup (canon->str);

  /* memory before allocating it: a damaged or hostile spec must not take the machine down */
  gsize per_sample = fw_shape_size (input), fixed = 0;
  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = m->layers[i];
      per_sample += 2 * fw_shape_size (l->out) + l->scratch_per_sample;
      fixed += l->scratch_fixed;
    }
  if (m->n_params + m->n_state > MIN (max_floats, FW_MODEL_MAX_PARAMS)
      || per_sample > FW_MODEL_MAX_SAMPLE_FLOATS || fixed > FW_MODEL_MAX_PARAMS)
    {
      g_autofree char *need = fw_format_bytes (4.0 * (double) MAX (m->n_params + m->n_state,
                                                                   MAX (per_sample, fixed)));
      if (m->n_params + m->n_state > max_floats && max_floats < FW_MODEL_MAX_PARAMS)
        g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "the spec needs %" G_GSIZE_FORMAT
                     " parameters but only %" G_GSIZE_FORMAT " are available",
                     m->n_params + m->n_state, max_floats);
      else
        g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "the model is too large: it needs %s "
                     "(parameters, or one sample's activations) — use fewer units or channels",
                     need);
      fw_model_unref (m);
      return NULL;
    }

  m->params = fw_alloc_floats (m->n_params);
  m->grads = fw_alloc_floats (m->n_params);
  m->state = fw_alloc_floats (m->n_state);
  gsize pw = 0, ps = 0;
  for (int i = 0; i < m->n_layers; i++)
    {
      FwLayer *l = m->layers[i];
      l->w = m->params + pw;
      l->gw = m->grads + pw;
      l->st = m->state + ps;
      pw += l->n_w;
      ps += l->n_st;
    }
  m->act = g_new0 (float *, m->n_layers);
  m->dact = g_new0 (float *, m->n_layers);
  fw_model_reserve (m, 1);
  return m;
}

FwModel *
fw_model_ref (FwModel *m)
{
  return g_atomic_rc_box_acquire (m);
}

void
fw_model_unref (FwModel *m)
{
  if (m != NULL)
    g_atomic_rc_box_release_full (m, model_clear);
}

void
fw_model_reserve (FwModel *m, int n)
{
  if (n <= m->max_batch)
    return;
  m->max_batch = n;
  fw_free_aligned (m->act_in);
  m->act_in = fw_alloc_floats ((gsize) n * fw_shape_size (m->input));
  gsize scratch = 0;
  for (int i = 0; i < m->n_layers; i++)
    {
      FwLayer *l = m->layers[i];
      fw_free_aligned (m->act[i]);
      fw_free_aligned (m->dact[i]);
      m->act[i] = fw_alloc_floats ((gsize) n * fw_shape_size (l->out));
      m->dact[i] = fw_alloc_floats ((gsize) n * fw_shape_size (l->out));
      scratch += l->scratch_fixed + (gsize) n * l->scratch_per_sample;
      scratch = (scratch + 15) & ~(gsize) 15; /* keep each layer's scratch 64-byte aligned */
    }
  fw_free_aligned (m->scratch);
  m->scratch = fw_alloc_floats (scratch);
  gsize off = 0;
  for (int i = 0; i < m->n_layers; i++)
    {
      FwLayer *l = m->layers[i];
      l->scratch = m->scratch + off;
      off += l->scratch_fixed + (gsize) n * l->scratch_per_sample;
      off = (off + 15) & ~(gsize) 15;
    }
}

FwModel *
fw_model_copy (const FwModel *src)
{
  g_autoptr (GError) error = NULL;
  FwModel *m = fw_model_new (src->arch, src->spec, src->input, &error);
  g_assert_no_error (error); /* the spec was valid when src was built */
  memcpy (m->params, src->params, sizeof (float) * src->n_params);
  memcpy (m->state, src->state, sizeof (float) * src->n_state);
  m->in_mean = src->in_mean;
  m->in_std = src->in_std;
  m->class_names = g_strdupv (src->class_names);
  for (int i = 0; i < m->n_layers; i++)
    {
      FwLayer *l = m->layers[i];
      const FwLayer *sl = src->layers[i];
      l->frozen = sl->frozen;
      l->lr_scale = sl->lr_scale;
      if (l->klass->packed != NULL && l->klass->unpack != NULL)
        {
          FwPackedTensor pt[FW_LAYER_MAX_TENSORS];
          int np = sl->klass->packed (sl, pt);
          if (!l->klass->unpack (l, pt, np, &error))
            g_error ("fw_model_copy: layer %d (%s) could not take its own packed storage: %s",
                     i, l->klass->name, error->message);
        }
    }
  m->dropout_rng = src->dropout_rng;
  fw_model_reserve (m, src->max_batch);
  return m;
}

void
fw_model_init (FwModel *m, guint64 seed)
{
  FwRng root, rng;
  fw_rng_init (&root, seed);
  fw_rng_split (&root, FW_RNG_INIT, &rng);
  fw_rng_split (&root, FW_RNG_DROPOUT, &m->dropout_rng);
  memset (m->params, 0, sizeof (float) * m->n_params);
  memset (m->state, 0, sizeof (float) * m->n_state);
  for (int i = 0; i < m->n_layers; i++)
    if (m->layers[i]->klass->init != NULL)
      m->layers[i]->klass->init (m->layers[i], &rng);
}

const float *
fw_model_forward (FwModel *m, const float *x, int n, gboolean train)
{
  fw_model_reserve (m, n);
  gsize in = (gsize) n * fw_shape_size (m->input);
  float mean = m->in_mean, inv = 1.0f / m->in_std;
  /* x_hat = (x - mean) / std */
  for (gsize i = 0; i < in; i++)
    m->act_in[i] = (x[i] - mean) * inv;
  const float *cur = m->act_in;
  for (int i = 0; i < m->n_layers; i++)
    {
      FwLayer *l = m->layers[i];
      l->klass->forward (l, cur, m->act[i], n, train);
      cur = m->act[i];
    }
  return cur;
}

void
fw_model_backward (FwModel *m, const float *dlogits, int n)
{
  g_return_if_fail (n <= m->max_batch);
  /* the first layer with trainable parameters: nothing below it needs a gradient, so its
   * input gradient is not computed (for an MLP that skips the 784-wide GEMM under flatten) */
  int first = 0;
  while (first < m->n_layers && (m->layers[first]->frozen || m->layers[first]->n_w == 0))
    first++;
  for (int i = m->n_layers - 1; i >= first; i--)
    {
      FwLayer *l = m->layers[i];
      const float *x = i == 0 ? m->act_in : m->act[i - 1];
      const float *dy = i == m->n_layers - 1 ? dlogits : m->dact[i];
      float *dx = i == first ? NULL : m->dact[i - 1];
      l->klass->backward (l, x, m->act[i], dy, dx, n);
      if (l->frozen && l->n_w > 0)
        memset (l->gw, 0, sizeof (float) * l->n_w);
    }
  for (int i = 0; i < first; i++)
    if (m->layers[i]->n_w > 0)
      memset (m->layers[i]->gw, 0, sizeof (float) * m->layers[i]->n_w);
}

void
fw_model_predict (FwModel *m, const float *x, int n, int batch, gint32 *preds)
{
  gsize in = fw_shape_size (m->input);
  int k = m->n_classes;
  for (int s = 0; s < n; s += batch)
    {
      int b = MIN (batch, n - s);
      const float *logits = fw_model_forward (m, x + (gsize) s * in, b, FALSE);
      for (int i = 0; i < b; i++)
        {
          const float *r = logits + (gsize) i * k;
          int best = 0;
          for (int j = 1; j < k; j++)
            if (r[j] > r[best])
              best = j;
          preds[s + i] = best;
        }
    }
}

gsize
fw_model_param_count (const FwModel *m)
{
  return m->n_params + m->n_state;
}

double
fw_model_flops (const FwModel *m)
{
  double f = 0;
  for (int i = 0; i < m->n_layers; i++)
    f += m->layers[i]->klass->flops (m->layers[i]);
  return f;
}

int
fw_model_find_nonfinite (const FwModel *m, gboolean grads)
{
  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = m->layers[i];
      const float *p = grads ? l->gw : l->w;
      for (gsize j = 0; j < l->n_w; j++)
        if (!isfinite (p[j]))
          return i;
    }
  return -1;
}

char *
fw_model_describe (const FwModel *m)
{
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "%-4s %-22s %-14s %10s %12s\n", "#", "layer", "output", "params",
                          "FLOPs");
  g_autofree char *ins = g_strdup_printf ("%dx%dx%d", m->input.c, m->input.h, m->input.w);
  g_string_append_printf (s, "%-4s %-22s %-14s %10s %12s\n", "", "input", ins, "", "");
  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = m->layers[i];
      g_autofree char *tok = l->klass->spec (l);
      g_autofree char *shape = g_strdup_printf ("%dx%dx%d", l->out.c, l->out.h, l->out.w);
      g_autofree char *fl = fw_format_count (l->klass->flops (l));
      g_string_append_printf (s, "%-4d %-22s %-14s %10" G_GSIZE_FORMAT " %12s%s\n", i + 1, tok,
                              shape, l->n_w + l->n_st, fl, l->frozen ? "  (frozen)" : "");
    }
  g_autofree char *fl = fw_format_count (fw_model_flops (m));
  g_autofree char *by = fw_format_bytes (4.0 * (double) fw_model_param_count (m));
  g_string_append_printf (s, "total: %" G_GSIZE_FORMAT " parameters (%s as fp32), %s FLOPs per "
                          "sample\n", fw_model_param_count (m), by, fl);
  return g_string_free (s, FALSE);
}
