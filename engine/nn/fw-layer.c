/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-layer.c: the registry of layer kinds and helpers shared by their setup()/init(). */
#include "fw-layer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "fw-error.h"

static const FwLayerClass *const registry[] = {
  &fw_layer_dense,
  &fw_layer_relu,
  &fw_layer_leaky_relu,
  &fw_layer_tanh,
  &fw_layer_sigmoid,
  &fw_layer_flatten,
  &fw_layer_dropout,
  /* conv family (fw-layer-conv.c and friends) */
  &fw_layer_conv,
  &fw_layer_dwconv,
  &fw_layer_maxpool,
  &fw_layer_avgpool,
  &fw_layer_gap,
  &fw_layer_bn,
  &fw_layer_dwsep,
  &fw_layer_fire,
  &fw_layer_lora,      /* engine/transfer/fw-lora.c */
  &fw_layer_loraconv,  /* engine/transfer/fw-lora.c */
  &fw_layer_prompt,    /* engine/transfer/fw-prompt.c */
  &fw_layer_prefix,    /* engine/transfer/fw-prompt.c */
  &fw_layer_sparse,    /* engine/compress/fw-sparse.c */
  &fw_layer_reshape,
  &fw_layer_upsample,
  &fw_layer_qdense, /* quantized and clustered kinds (engine/compress/fw-layer-quant.c) */
  &fw_layer_qconv,
  &fw_layer_f16,
  &fw_layer_cluster,
  &fw_layer_mbconv,
  &fw_layer_dwrect,
  &fw_layer_tt,
  &fw_layer_ht,
  NULL,
};

const FwLayerClass *const *
fw_layer_classes (void)
{
  return registry;
}

/* kinds added at run time by fw_layer_class_register() */
static GPtrArray *extra_classes;

void
fw_layer_class_register (const FwLayerClass *klass)
{
  g_return_if_fail (klass != NULL && klass->name != NULL);
  if (extra_classes == NULL)
    extra_classes = g_ptr_array_new ();
  g_ptr_array_add (extra_classes, (gpointer) klass);
}

const FwLayerClass *
fw_layer_class_lookup (const char *name)
{
  for (int i = 0; registry[i] != NULL; i++)
    if (g_strcmp0 (registry[i]->name, name) == 0)
      return registry[i];
  for (guint i = 0; extra_classes != NULL && i < extra_classes->len; i++)
    {
      const FwLayerClass *k = g_ptr_array_index (extra_classes, i);
      if (g_strcmp0 (k->name, name) == 0)
        return k;
    }
  return NULL;
}

static const struct {
  const char *name;
  gsize size;
} dtypes[FW_N_DTYPES] = {
  [FW_DTYPE_F32] = { "F32", 4 }, [FW_DTYPE_F16] = { "F16", 2 }, [FW_DTYPE_I8] = { "I8", 1 },
  [FW_DTYPE_U8] = { "U8", 1 },   [FW_DTYPE_I16] = { "I16", 2 }, [FW_DTYPE_U16] = { "U16", 2 },
  [FW_DTYPE_I32] = { "I32", 4 },
};

const char *
fw_dtype_name (FwDType t)
{
  g_return_val_if_fail ((unsigned) t < FW_N_DTYPES, "?");
  return dtypes[t].name;
}

gsize
fw_dtype_size (FwDType t)
{
  g_return_val_if_fail ((unsigned) t < FW_N_DTYPES, 0);
  return dtypes[t].size;
}

gboolean
fw_dtype_parse (const char *name, FwDType *out)
{
  for (int i = 0; i < FW_N_DTYPES; i++)
    if (g_strcmp0 (dtypes[i].name, name) == 0)
      {
        *out = (FwDType) i;
        return TRUE;
      }
  return FALSE;
}

gboolean
fw_layer_parse_int (const FwLayer *l, char **args, int n_args, int i, int def,
                    int min, int max, int *out, GError **error)
{
  if (i >= n_args || args[i][0] == '\0')
    {
      if (def < min)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "layer %d (%s): argument %d is required", l->index + 1,
                       l->klass->name, i + 1);
          return FALSE;
        }
      *out = def;
      return TRUE;
    }
  char *end = NULL;
  errno = 0;
  long v = strtol (args[i], &end, 10);
  if (errno != 0 || end == args[i] || *end != '\0' || v < min || v > max)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d (%s): argument %d is '%s', expected an integer in [%d, %d]",
                   l->index + 1, l->klass->name, i + 1, args[i], min, max);
      return FALSE;
    }
  *out = (int) v;
  return TRUE;
}

gboolean
fw_layer_parse_float (const FwLayer *l, char **args, int n_args, int i, float def,
                      float min, float max, float *out, GError **error)
{
  if (i >= n_args || args[i][0] == '\0')
    {
      if (isnan (def))
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "layer %d (%s): argument %d is required", l->index + 1,
                       l->klass->name, i + 1);
          return FALSE;
        }
      *out = def;
      return TRUE;
    }
  char *end = NULL;
  double v = g_ascii_strtod (args[i], &end);
  if (end == args[i] || *end != '\0' || !(v >= min && v <= max))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d (%s): argument %d is '%s', expected a number in [%g, %g]",
                   l->index + 1, l->klass->name, i + 1, args[i], min, max);
      return FALSE;
    }
  *out = (float) v;
  return TRUE;
}

int
fw_layer_no_tensors (const FwLayer *l, FwTensorInfo *out)
{
  return 0;
}

void
fw_init_he_normal (float *w, gsize n, int fan_in, FwRng *rng)
{
  double sd = sqrt (2.0 / MAX (fan_in, 1));
  for (gsize i = 0; i < n; i++)
    w[i] = (float) (sd * fw_rng_normal (rng));
}

void
fw_init_glorot_uniform (float *w, gsize n, int fan_in, int fan_out, FwRng *rng)
{
  double a = sqrt (6.0 / MAX (fan_in + fan_out, 1));
  for (gsize i = 0; i < n; i++)
    w[i] = (float) (a * (2.0 * fw_rng_uniform (rng) - 1.0));
}

void
fw_init_uniform_fan_in (float *w, gsize n, int fan_in, FwRng *rng)
{
  double a = 1.0 / sqrt (MAX (fan_in, 1));
  for (gsize i = 0; i < n; i++)
    w[i] = (float) (a * (2.0 * fw_rng_uniform (rng) - 1.0));
}
