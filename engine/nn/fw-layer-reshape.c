/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-layer-reshape.c: layers that change the shape for decoders: reshape:C:H:W (data unchanged,
 * c*h*w must equal the input size) and upsample:F (nearest-neighbour: every pixel becomes an
 * F x F block; backward sums the block's gradients). */
#include "fw-layer.h"

#include <string.h>

#include "fw-error.h"

/* ---- reshape:C:H:W (iarg[0..2]) ---- */

static gboolean
reshape_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  for (int i = 0; i < 3; i++)
    if (!fw_layer_parse_int (l, args, n_args, i, 0, 1, 1 << 24, &l->iarg[i], error))
      return FALSE;
  FwShape out = { l->iarg[0], l->iarg[1], l->iarg[2] };
  if (fw_shape_size (out) != fw_shape_size (l->in))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d (reshape): %dx%dx%d has %" G_GSIZE_FORMAT " values but its input "
                   "%dx%dx%d has %" G_GSIZE_FORMAT "; make C*H*W equal the input size",
                   l->index + 1, out.c, out.h, out.w, fw_shape_size (out), l->in.c, l->in.h,
                   l->in.w, fw_shape_size (l->in));
      return FALSE;
    }
  l->out = out;
  return TRUE;
}

static void
reshape_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  memcpy (y, x, sizeof (float) * (gsize) n * fw_shape_size (l->in));
}

static void
reshape_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  if (dx != NULL)
    memcpy (dx, dy, sizeof (float) * (gsize) n * fw_shape_size (l->in));
}

static double
no_flops (const FwLayer *l)
{
  return 0.0;
}

static char *
reshape_spec (const FwLayer *l)
{
  return g_strdup_printf ("reshape:%d:%d:%d", l->out.c, l->out.h, l->out.w);
}

const FwLayerClass fw_layer_reshape = {
  .name = "reshape",
  .help = "reshape:C:H:W  same values seen as C x H x W (decoders after a dense layer)",
  .setup = reshape_setup,
  .forward = reshape_forward,
  .backward = reshape_backward,
  .flops = no_flops,
  .tensors = fw_layer_no_tensors,
  .spec = reshape_spec,
};

/* ---- upsample:F (iarg[0] = F) ---- */

static gboolean
upsample_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  if (!fw_layer_parse_int (l, args, n_args, 0, 2, 1, 16, &l->iarg[0], error))
    return FALSE;
  int f = l->iarg[0];
  l->out = (FwShape) { l->in.c, l->in.h * f, l->in.w * f };
  return TRUE;
}

static void
upsample_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  int f = l->iarg[0], h = l->in.h, w = l->in.w, ow = w * f;
  gsize planes = (gsize) n * l->in.c;
  for (gsize p = 0; p < planes; p++)
    {
      const float *src = x + p * h * w;
      float *dst = y + p * h * w * f * f;
      for (int i = 0; i < h; i++)
        {
          float *row = dst + (gsize) i * f * ow;
          for (int j = 0; j < w; j++)
            for (int b = 0; b < f; b++)
              row[j * f + b] = src[i * w + j];
          for (int a = 1; a < f; a++)
            memcpy (row + (gsize) a * ow, row, sizeof (float) * ow);
        }
    }
}

static void
upsample_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  if (dx == NULL)
    return;
  int f = l->iarg[0], h = l->in.h, w = l->in.w, ow = w * f;
  gsize planes = (gsize) n * l->in.c;
  for (gsize p = 0; p < planes; p++)
    {
      const float *g = dy + p * h * w * f * f;
      float *d = dx + p * h * w;
      for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++)
          {
            float s = 0.0f;
            for (int a = 0; a < f; a++)
              for (int b = 0; b < f; b++)
                s += g[(gsize) (i * f + a) * ow + j * f + b];
            d[i * w + j] = s;
          }
    }
}

static char *
upsample_spec (const FwLayer *l)
{
  return g_strdup_printf ("upsample:%d", l->iarg[0]);
}

const FwLayerClass fw_layer_upsample = {
  .name = "upsample",
  .help = "upsample[:F]  nearest-neighbour upsampling by F (default 2), for conv decoders",
  .setup = upsample_setup,
  .forward = upsample_forward,
  .backward = upsample_backward,
  .flops = no_flops,
  .tensors = fw_layer_no_tensors,
  .spec = upsample_spec,
};
