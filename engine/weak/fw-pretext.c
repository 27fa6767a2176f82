/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-pretext.c: unsupervised and self-supervised pre-training with generated targets:
 * autoencoders (dense and conv), masked-patch reconstruction, rotation prediction. */
#include "fw-weak-private.h"

#include <string.h>

#include "fw-error.h"
#include "fw-loss.h"

void
fw_rotate90 (const float *img, float *out, int c, int h, int r)
{
  r &= 3;
  gsize plane = (gsize) h * h;
  for (int ch = 0; ch < c; ch++)
    {
      const float *in = img + ch * plane;
      float *o = out + ch * plane;
      for (int i = 0; i < h; i++)
        for (int j = 0; j < h; j++)
          {
            int si, sj;   /* out(i, j) = in(si, sj) */
            switch (r)
              {
              case 0: si = i; sj = j; break;
              case 1: si = j; sj = h - 1 - i; break;          /* 90 degrees counter-clockwise */
              case 2: si = h - 1 - i; sj = h - 1 - j; break;
              default: si = h - 1 - j; sj = i; break;         /* 270 */
              }
            o[i * h + j] = in[si * h + sj];
          }
    }
}

void
fw_rotation_batch (const float *x, int n, int c, int h, float *out, gint32 *labels, FwRng *rng)
{
  gsize size = (gsize) c * h * h;
  for (int i = 0; i < n; i++)
    {
      labels[i] = (gint32) fw_rng_below (rng, 4);
      fw_rotate90 (x + i * size, out + i * size, c, h, labels[i]);
    }
}

void
fw_mask_batch (const float *x, int n, int c, int h, int w, int p, FwRng *rng, float *out,
               float *mask)
{
  gsize size = (gsize) c * h * w;
  p = CLAMP (p, 1, MIN (h, w));
  memcpy (out, x, sizeof (float) * size * n);
  memset (mask, 0, sizeof (float) * size * n);
  for (int s = 0; s < n; s++)
    {
      int y0 = (int) fw_rng_below (rng, (guint32) (h - p + 1));
      int x0 = (int) fw_rng_below (rng, (guint32) (w - p + 1));
      for (int ch = 0; ch < c; ch++)
        for (int i = y0; i < y0 + p; i++)
          for (int j = x0; j < x0 + p; j++)
            {
              gsize o = s * size + ((gsize) ch * h + i) * w + j;
              out[o] = 0.0f;
              mask[o] = 1.0f;
            }
    }
}

/* ---- autoencoder / masked patch ---- */

typedef struct {
  const FwWeakData *d;
  gboolean masked;
  int patch;
  float *xb, *xin, *mask, *grad;
} AeState;

static double
ae_step (gpointer user, FwModel *m, const gint32 *idx, int nb, FwRng *rng)
{
  AeState *st = user;
  const FwWeakData *d = st->d;
  FwShape s = d->labelled->shape;
  fw_weak_gather (d, idx, nb, st->xb);
  const float *in = st->xb;
  if (st->masked)
    {
      fw_mask_batch (st->xb, nb, s.c, s.h, s.w, st->patch, rng, st->xin, st->mask);
      in = st->xin;
    }
  const float *y = fw_model_forward (m, in, nb, TRUE);
  gsize total = (gsize) nb * d->size;
  double loss;
  if (!st->masked)
    loss = fw_loss_mse (y, st->xb, nb, (int) d->size, st->grad);
  else
    {
      /* L = 1/(2n) sum_masked (y - x)^2 */
      double sum = 0.0;
      for (gsize i = 0; i < total; i++)
        {
          float e = (y[i] - st->xb[i]) * st->mask[i];
          sum += (double) e * e;
          st->grad[i] = e / nb;
        }
      loss = sum / (2.0 * nb);
    }
  fw_model_backward (m, st->grad, nb);
  return loss;
}

FwModel *
fw_weak_pretrain_ae (const FwWeakConfig *c, const FwWeakData *d, gboolean masked,
                     FwWeakResult *r, const FwWeakHooks *hooks, GCancellable *cancellable,
                     GError **error)
{
  FwShape s = d->labelled->shape;
  g_autofree char *dec = fw_weak_decoder_spec (c->conv, s, c->hidden, c->dim, error);
  if (dec == NULL)
    return NULL;
  g_autofree char *spec = g_strdup_printf ("%s,%s", d->enc_spec, dec);
  g_autoptr (FwModel) m = fw_weak_model_new (spec, s, d->seed, d->mean, d->std, error);
  if (m == NULL)
    return NULL;
  int bs = MAX (c->pre.batch, 2);
  g_autofree float *xb = g_new (float, (gsize) bs * d->size);
  g_autofree float *xin = g_new (float, (gsize) bs * d->size);
  g_autofree float *mask = g_new (float, (gsize) bs * d->size);
  g_autofree float *grad = g_new (float, (gsize) bs * d->size);
  AeState st = { d, masked, c->mask, xb, xin, mask, grad };
  FwTrainConfig cfg = c->pre;
  cfg.seed = d->seed;
  if (!fw_weak_loop (m, &cfg, d->n_images, ae_step, NULL, &st,
                     masked ? "masked patch" : "autoencoder", hooks, r->pretext_loss,
                     cancellable, error))
    return NULL;
  return g_steal_pointer (&m);
}

/* ---- rotation ---- */

typedef struct {
  const FwWeakData *d;
  float *xb, *xr, *grad;
  gint32 *labels;
} RotState;

static double
rotation_step (gpointer user, FwModel *m, const gint32 *idx, int nb, FwRng *rng)
{
  RotState *st = user;
  FwShape s = st->d->labelled->shape;
  fw_weak_gather (st->d, idx, nb, st->xb);
  fw_rotation_batch (st->xb, nb, s.c, s.h, st->xr, st->labels, rng);
  const float *z = fw_model_forward (m, st->xr, nb, TRUE);
  double loss = fw_loss_softmax_xent (z, nb, 4, st->labels, NULL, 0.0f, st->grad, NULL);
  fw_model_backward (m, st->grad, nb);
  return loss;
}

FwModel *
fw_weak_pretrain_rotation (const FwWeakConfig *c, const FwWeakData *d, FwWeakResult *r,
                           const FwWeakHooks *hooks, GCancellable *cancellable, GError **error)
{
  FwShape s = d->labelled->shape;
  if (s.h != s.w)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "rotation pretext needs square images (got %dx%d); choose another method",
                   s.h, s.w);
      return NULL;
    }
  g_autofree char *spec = g_strdup_printf ("%s,relu,dense:4", d->enc_spec);
  g_autoptr (FwModel) m = fw_weak_model_new (spec, s, d->seed, d->mean, d->std, error);
  if (m == NULL)
    return NULL;
  int bs = MAX (c->pre.batch, 2);
  g_autofree float *xb = g_new (float, (gsize) bs * d->size);
  g_autofree float *xr = g_new (float, (gsize) bs * d->size);
  g_autofree float *grad = g_new (float, (gsize) bs * 4);
  g_autofree gint32 *labels = g_new (gint32, bs);
  RotState st = { d, xb, xr, grad, labels };
  FwTrainConfig cfg = c->pre;
  cfg.seed = d->seed;
  if (!fw_weak_loop (m, &cfg, d->n_images, rotation_step, NULL, &st, "rotation", hooks,
                     r != NULL ? r->pretext_loss : NULL, cancellable, error))
    return NULL;
  return g_steal_pointer (&m);
}
