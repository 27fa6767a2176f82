/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-lora.c: LoRA adapters on dense and conv layers (Hu et al. 2021, "LoRA: Low-Rank
 * Adaptation of Large Language Models").
 *
 *   lora:UNITS:RANK:ALPHA                   a dense layer W [UNITS x IN]
 *   loraconv:OUT:K:STRIDE:PAD:RANK:ALPHA    a conv layer W [OUT x C K K]
 *
 * Write F for the fan-in (IN or C K K) and s = ALPHA / RANK. Trainable parameters l->w:
 * A [RANK x F], then B [OUT x RANK]. State l->st (frozen, saved as "weight" and "bias"): the
 * base W [OUT x F] then b [OUT]. The layer is the plain dense/conv (run by an inner layer of
 * that kind, so every fast path of fw-layer-conv.c is reused) with the effective weights
 *   W' = W + s B A,
 * rebuilt at every forward. The inner layer's backward gives G_W' (and dx); then
 *   G_A = s B^T G_W'     [RANK x F]
 *   G_B = s G_W' A^T     [OUT x RANK]
 * and the base weights and bias get no update. */
#include "fw-transfer.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-gemm.h"
#include "fw-util.h"

typedef struct {
  FwLayer inner;       /* a dense or conv layer whose w / gw are weff / geff */
  float *weff;         /* [inner.n_w] W' then b */
  float *geff;         /* [inner.n_w] */
  int out, fan, rank;
  float scale;         /* alpha / rank */
} Lora;

static gboolean
lora_setup_common (FwLayer *l, const FwLayerClass *base, char **args, int n_base_args,
                   int n_args, GError **error)
{
  int rank;
  float alpha;
  if (n_args > n_base_args + 2)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "layer %d (%s): too many arguments "
                   "(%d, at most %d)", l->index + 1, l->klass->name, n_args, n_base_args + 2);
      return FALSE;
    }
  if (!fw_layer_parse_int (l, args, n_args, n_base_args, 4, 1, 4096, &rank, error)
      || !fw_layer_parse_float (l, args, n_args, n_base_args + 1, (float) (2 * rank), 1e-6f,
                                1e6f, &alpha, error))
    return FALSE;
  Lora *p = g_new0 (Lora, 1);
  l->priv = p;
  p->inner.klass = base;
  p->inner.index = l->index;
  p->inner.in = l->in;
  p->inner.rng = l->rng;
  if (!base->setup (&p->inner, args, MIN (n_args, n_base_args), error))
    return FALSE;
  p->out = p->inner.iarg[0];
  p->fan = (int) ((p->inner.n_w - (gsize) p->out) / (gsize) p->out);
  p->rank = rank;
  p->scale = alpha / (float) rank;
  l->iarg[0] = rank;
  l->farg[0] = alpha;
  l->out = p->inner.out;
  l->n_w = (gsize) rank * p->fan + (gsize) p->out * rank;
  l->n_st = p->inner.n_w;
  l->scratch_fixed = p->inner.scratch_fixed;
  l->scratch_per_sample = p->inner.scratch_per_sample;
  p->weff = fw_alloc_floats (p->inner.n_w);
  p->geff = fw_alloc_floats (p->inner.n_w);
  p->inner.w = p->weff;
  p->inner.gw = p->geff;
  return TRUE;
}

/* lora:UNITS[:RANK[:ALPHA]] over a dense, loraconv:OUT:K:STRIDE:PAD[:RANK[:ALPHA]] over a conv */
static gboolean
lora_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  gboolean conv = l->klass == &fw_layer_loraconv;
  int n_base = conv ? 4 : 1;
  if (n_args < n_base)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "layer %d (%s): write %s", l->index + 1,
                   l->klass->name, conv ? "loraconv:OUT:K:STRIDE:PAD[:RANK[:ALPHA]]"
                                        : "lora:UNITS[:RANK[:ALPHA]]");
      return FALSE;
    }
  return lora_setup_common (l, conv ? &fw_layer_conv : &fw_layer_dense, args, n_base, n_args,
                            error);
}

static void
lora_finalize (FwLayer *l)
{
  Lora *p = l->priv;
  if (p == NULL)
    return;
  if (p->inner.klass->finalize != NULL)
    p->inner.klass->finalize (&p->inner);
  fw_free_aligned (p->weff);
  fw_free_aligned (p->geff);
  g_free (p);
}

static void
lora_init (FwLayer *l, FwRng *rng)
{
  Lora *p = l->priv;
  /* the base weights like the plain kind would have them, A like PyTorch's Linear, B = 0 */
  p->inner.w = l->st;
  p->inner.klass->init (&p->inner, rng);
  p->inner.w = p->weff;
  fw_init_uniform_fan_in (l->w, (gsize) p->rank * p->fan, p->fan, rng);
  memset (l->w + (gsize) p->rank * p->fan, 0, sizeof (float) * p->out * p->rank);
}

/* W' = W + s B A into dst (then the bias) */
static void
lora_effective (const FwLayer *l, float *dst)
{
  const Lora *p = l->priv;
  memcpy (dst, l->st, sizeof (float) * l->n_st);
  const float *A = l->w, *B = l->w + (gsize) p->rank * p->fan;
  fw_sgemm (FALSE, FALSE, p->out, p->fan, p->rank, p->scale, B, p->rank, A, p->fan, 1.0f, dst,
            p->fan);
}

static void
lora_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  Lora *p = l->priv;
  lora_effective (l, p->weff);
  p->inner.scratch = l->scratch;
  p->inner.klass->forward (&p->inner, x, y, n, train);
}

static void
lora_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  Lora *p = l->priv;
  p->inner.scratch = l->scratch;
  p->inner.klass->backward (&p->inner, x, y, dy, dx, n);
  const float *A = l->w, *B = l->w + (gsize) p->rank * p->fan;
  float *gA = l->gw, *gB = l->gw + (gsize) p->rank * p->fan;
  /* G_A [r x F] = s B^T [r x out] G_W' [out x F];  G_B [out x r] = s G_W' [out x F] A^T */
  fw_sgemm (TRUE, FALSE, p->rank, p->fan, p->out, p->scale, B, p->rank, p->geff, p->fan, 0.0f,
            gA, p->fan);
  fw_sgemm (FALSE, TRUE, p->out, p->rank, p->fan, p->scale, p->geff, p->fan, A, p->fan, 0.0f,
            gB, p->rank);
}

static double
lora_flops (const FwLayer *l)
{
  const Lora *p = l->priv;
  return p->inner.klass->flops (&p->inner);
}

static int
lora_tensors (const FwLayer *l, FwTensorInfo *t)
{
  const Lora *p = l->priv;
  FwTensorInfo base[FW_LAYER_MAX_TENSORS];
  int nb = p->inner.klass->tensors (&p->inner, base);
  t[0] = (FwTensorInfo) { "lora_A", TRUE, 0, 2, { p->rank, p->fan } };
  t[1] = (FwTensorInfo) { "lora_B", TRUE, (gsize) p->rank * p->fan, 2, { p->out, p->rank } };
  for (int i = 0; i < nb && i + 2 < FW_LAYER_MAX_TENSORS; i++)
    {
      t[2 + i] = base[i];
      t[2 + i].trainable = FALSE; /* the base weight and bias are state here */
    }
  return 2 + nb;
}

static char *
lora_spec (const FwLayer *l)
{
  const Lora *p = l->priv;
  g_autofree char *base = p->inner.klass->spec (&p->inner);
  if (p->inner.klass == &fw_layer_dense)
    return g_strdup_printf ("lora:%d:%d:%g", p->out, p->rank, (double) l->farg[0]);
  /* conv: always write all four conv arguments, then rank and alpha */
  return g_strdup_printf ("loraconv:%d:%d:%d:%d:%d:%g", p->inner.iarg[0], p->inner.iarg[1],
                          p->inner.iarg[2], p->inner.iarg[3], p->rank, (double) l->farg[0]);
}

const FwLayerClass fw_layer_lora = {
  .name = "lora",
  .help = "lora:UNITS[:RANK[:ALPHA]]  dense layer with frozen weights + low-rank adapter "
          "(rank 4, alpha 2 rank)",
  .setup = lora_setup,
  .init = lora_init,
  .forward = lora_forward,
  .backward = lora_backward,
  .flops = lora_flops,
  .tensors = lora_tensors,
  .spec = lora_spec,
  .finalize = lora_finalize,
};

const FwLayerClass fw_layer_loraconv = {
  .name = "loraconv",
  .help = "loraconv:OUT:K:STRIDE:PAD[:RANK[:ALPHA]]  conv with frozen weights + low-rank "
          "adapter",
  .setup = lora_setup,
  .init = lora_init,
  .forward = lora_forward,
  .backward = lora_backward,
  .flops = lora_flops,
  .tensors = lora_tensors,
  .spec = lora_spec,
  .finalize = lora_finalize,
};

static gboolean
is_lora (const FwLayer *l)
{
  return l->klass == &fw_layer_lora || l->klass == &fw_layer_loraconv;
}

FwModel *
fw_lora_wrap (const FwModel *src, int rank, float alpha, gboolean include_head, guint64 seed,
              GError **error)
{
  if (rank < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "LoRA rank %d: use a rank of 1 or more",
                   rank);
      return NULL;
    }
  int head = fw_transfer_head_index (src);
  g_autoptr (GString) spec = g_string_new (NULL);
  int n_wrapped = 0;
  for (int i = 0; i < src->n_layers; i++)
    {
      const FwLayer *l = src->layers[i];
      gboolean wrap = (i < head || include_head)
                      && (l->klass == &fw_layer_dense || l->klass == &fw_layer_conv);
      if (i > 0)
        g_string_append_c (spec, ',');
      if (wrap && l->klass == &fw_layer_dense)
        g_string_append_printf (spec, "lora:%d:%d:%g", l->iarg[0], rank, (double) alpha);
      else if (wrap)
        g_string_append_printf (spec, "loraconv:%d:%d:%d:%d:%d:%g", l->iarg[0], l->iarg[1],
                                l->iarg[2], l->iarg[3], rank, (double) alpha);
      else
        {
          g_autofree char *tok = l->klass->spec (l);
          g_string_append (spec, tok);
        }
      n_wrapped += wrap;
    }
  if (n_wrapped == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "LoRA: the model has no dense or conv "
                   "layer %s to adapt", include_head ? "" : "before its head");
      return NULL;
    }
  FwModel *m = fw_transfer_rebuild (src, spec->str, 0, seed, error);
  if (m == NULL)
    return NULL;
  for (int i = 0; i < m->n_layers; i++)
    {
      FwLayer *l = m->layers[i];
      if (is_lora (l))
        {
          /* the base weights and bias, bit for bit */
          g_assert (l->n_st == src->layers[i]->n_w);
          memcpy (l->st, src->layers[i]->w, sizeof (float) * l->n_st);
          l->frozen = FALSE;
        }
      else
        l->frozen = l->n_w > 0 && !(i >= head && !include_head);
    }
  return m;
}

FwModel *
fw_lora_merge (const FwModel *src, GError **error)
{
  g_autoptr (GString) spec = g_string_new (NULL);
  for (int i = 0; i < src->n_layers; i++)
    {
      const FwLayer *l = src->layers[i];
      if (i > 0)
        g_string_append_c (spec, ',');
      if (is_lora (l))
        {
          const Lora *p = l->priv;
          g_autofree char *tok = p->inner.klass->spec (&p->inner);
          g_string_append (spec, tok);
        }
      else
        {
          g_autofree char *tok = l->klass->spec (l);
          g_string_append (spec, tok);
        }
    }
  FwModel *m = fw_transfer_rebuild (src, spec->str, 0, 0, error);
  if (m == NULL)
    return NULL;
  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = src->layers[i];
      if (is_lora (l))
        {
          lora_effective (l, m->layers[i]->w);
          m->layers[i]->frozen = FALSE;
        }
      else
        m->layers[i]->frozen = l->frozen;
    }
  return m;
}
