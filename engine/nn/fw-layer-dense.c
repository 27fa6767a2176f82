/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-layer-dense.c: fully connected layer "dense:UNITS".
 *
 * Parameters: weight [out x in] (row-major, as PyTorch's Linear), then bias [out].
 * iarg[0] = out units, iarg[1] = in features. */
#include "fw-layer.h"

#include <string.h>

#include "fw-gemm.h"

static gboolean
dense_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int units;
  if (!fw_layer_parse_int (l, args, n_args, 0, -1, 1, 1 << 20, &units, error))
    return FALSE;
  int in = (int) fw_shape_size (l->in);
  l->iarg[0] = units;
  l->iarg[1] = in;
  l->out = (FwShape) { units, 1, 1 };
  l->n_w = (gsize) units * in + units;
  return TRUE;
}

static void
dense_init (FwLayer *l, FwRng *rng)
{
  int out = l->iarg[0], in = l->iarg[1];
  fw_init_uniform_fan_in (l->w, (gsize) out * in + out, in, rng);
}

static void
dense_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  int out = l->iarg[0], in = l->iarg[1];
  const float *W = l->w, *b = l->w + (gsize) out * in;
  /* bias first, then y[n x out] <- x[n x in] W^T + y */
  for (int i = 0; i < n; i++)
    memcpy (y + (gsize) i * out, b, sizeof (float) * out);
  fw_sgemm (FALSE, TRUE, n, out, in, 1.0f, x, in, W, in, 1.0f, y, out);
}

static void
dense_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  int out = l->iarg[0], in = l->iarg[1];
  const float *W = l->w;
  float *gW = l->gw, *gb = l->gw + (gsize) out * in;
  /* G_W[out x in] <- dy^T[out x n] x[n x in] */
  fw_sgemm (TRUE, FALSE, out, in, n, 1.0f, dy, out, x, in, 0.0f, gW, in);
  /* G_b <- sum over the batch of dy */
  memset (gb, 0, sizeof (float) * out);
  for (int i = 0; i < n; i++)
    {
      const float *r = dy + (gsize) i * out;
      for (int j = 0; j < out; j++)
        gb[j] += r[j];
    }
  /* G_x[n x in] <- dy[n x out] W[out x in] */
  if (dx != NULL)
    fw_sgemm (FALSE, FALSE, n, in, out, 1.0f, dy, out, W, in, 0.0f, dx, in);
}

static double
dense_flops (const FwLayer *l)
{
  return 2.0 * l->iarg[0] * l->iarg[1];
}

static int
dense_tensors (const FwLayer *l, FwTensorInfo *t)
{
  int out = l->iarg[0], in = l->iarg[1];
  t[0] = (FwTensorInfo) { "weight", TRUE, 0, 2, { out, in } };
  t[1] = (FwTensorInfo) { "bias", TRUE, (gsize) out * in, 1, { out } };
  return 2;
}

static char *
dense_spec (const FwLayer *l)
{
  return g_strdup_printf ("dense:%d", l->iarg[0]);
}

const FwLayerClass fw_layer_dense = {
  .name = "dense",
  .help = "dense:UNITS  fully connected layer",
  .setup = dense_setup,
  .init = dense_init,
  .forward = dense_forward,
  .backward = dense_backward,
  .flops = dense_flops,
  .tensors = dense_tensors,
  .spec = dense_spec,
};
