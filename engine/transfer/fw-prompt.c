/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-prompt.c: visual prompting and a learned prefix channel, for frozen vision models.
 *
 *   prompt:add:P    y = x + theta on the P-pixel frame of every channel (Bahng et al. 2022,
 *                   "Exploring Visual Prompts for Adapting Large-Scale Models"); the interior
 *                   passes unchanged.
 *   prompt:pad:P    the image is shrunk (bilinear, pixel centres aligned) into the interior
 *                   (H - 2P) x (W - 2P) and the frame is theta: the model sees the whole image
 *                   plus a learned border.
 *   prefix:C        y = [x ; theta]: C learned channels appended to the input, the image
 *                   analogue of a prefix token (the frozen model reads them through the fixed
 *                   weights fw_transfer_add_prefix gives its widened first layer).
 *
 * Parameters: prompt  theta [C x F] for the F frame pixels of a plane (row-major order);
 *             prefix  theta [C x H x W].
 * iarg: prompt {mode (0 add, 1 pad), P}; prefix {C}. */
#include "fw-transfer.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"

typedef struct {
  int n_frame;       /* frame pixels per plane */
  int *pos;          /* [n_frame] their offsets in the plane */
  /* pad mode: the interior pixel q of the output reads the input at (y0, x0) .. (y0+1, x0+1)
   * with weights; [n_in] entries for the n_in = (H - 2P)(W - 2P) interior pixels */
  int n_in;
  int *in_pos;       /* [n_in] output offset */
  int *src;          /* [n_in x 4] input offsets */
  float *wt;         /* [n_in x 4] bilinear weights */
} Prompt;

static void
prompt_finalize (FwLayer *l)
{
  Prompt *p = l->priv;
  if (p == NULL)
    return;
  g_free (p->pos);
  g_free (p->in_pos);
  g_free (p->src);
  g_free (p->wt);
  g_free (p);
}

static gboolean
prompt_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int mode;
  if (n_args >= 1 && g_strcmp0 (args[0], "add") == 0)
    mode = 0;
  else if (n_args >= 1 && g_strcmp0 (args[0], "pad") == 0)
    mode = 1;
  else
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "layer %d (prompt): the first argument "
                   "is '%s'; write prompt:add:PIXELS or prompt:pad:PIXELS", l->index + 1,
                   n_args >= 1 ? args[0] : "");
      return FALSE;
    }
  int P;
  int H = l->in.h, W = l->in.w;
  if (!fw_layer_parse_int (l, args, n_args, 1, 2, 1, MAX (1, (MIN (H, W) - 2) / 2), &P, error))
    return FALSE;
  l->iarg[0] = mode;
  l->iarg[1] = P;
  l->out = l->in;
  Prompt *p = g_new0 (Prompt, 1);
  l->priv = p;
  p->pos = g_new (int, (gsize) H * W);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      if (y < P || y >= H - P || x < P || x >= W - P)
        p->pos[p->n_frame++] = y * W + x;
  l->n_w = (gsize) l->in.c * p->n_frame;
  if (mode == 1)
    {
      int ih = H - 2 * P, iw = W - 2 * P;
      p->n_in = ih * iw;
      p->in_pos = g_new (int, p->n_in);
      p->src = g_new (int, (gsize) p->n_in * 4);
      p->wt = g_new (float, (gsize) p->n_in * 4);
      int q = 0;
      for (int y = 0; y < ih; y++)
        for (int x = 0; x < iw; x++, q++)
          {
            /* source coordinates of this pixel's centre, clamped to the image */
            double sy = CLAMP ((y + 0.5) * H / ih - 0.5, 0.0, H - 1.0);
            double sx = CLAMP ((x + 0.5) * W / iw - 0.5, 0.0, W - 1.0);
            int y0 = (int) floor (sy), x0 = (int) floor (sx);
            int y1 = MIN (y0 + 1, H - 1), x1 = MIN (x0 + 1, W - 1);
            double fy = sy - y0, fx = sx - x0;
            p->in_pos[q] = (y + P) * W + (x + P);
            int *s = p->src + (gsize) q * 4;
            float *w = p->wt + (gsize) q * 4;
            s[0] = y0 * W + x0; w[0] = (float) ((1 - fy) * (1 - fx));
            s[1] = y0 * W + x1; w[1] = (float) ((1 - fy) * fx);
            s[2] = y1 * W + x0; w[2] = (float) (fy * (1 - fx));
            s[3] = y1 * W + x1; w[3] = (float) (fy * fx);
          }
    }
  return TRUE;
}

static void
prompt_init (FwLayer *l, FwRng *rng)
{
  (void) rng;
  memset (l->w, 0, sizeof (float) * l->n_w); /* the prompt starts as "no change" / black */
}

static void
prompt_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  (void) train;
  const Prompt *p = l->priv;
  int C = l->in.c;
  gsize plane = (gsize) l->in.h * l->in.w;
  for (int i = 0; i < n; i++)
    for (int c = 0; c < C; c++)
      {
        const float *xs = x + ((gsize) i * C + c) * plane;
        float *ys = y + ((gsize) i * C + c) * plane;
        const float *th = l->w + (gsize) c * p->n_frame;
        if (l->iarg[0] == 0)
          {
            memcpy (ys, xs, sizeof (float) * plane);
            for (int j = 0; j < p->n_frame; j++)
              ys[p->pos[j]] += th[j];
          }
        else
          {
            for (int j = 0; j < p->n_frame; j++)
              ys[p->pos[j]] = th[j];
            for (int q = 0; q < p->n_in; q++)
              {
                const int *s = p->src + (gsize) q * 4;
                const float *w = p->wt + (gsize) q * 4;
                ys[p->in_pos[q]] = w[0] * xs[s[0]] + w[1] * xs[s[1]] + w[2] * xs[s[2]]
                                   + w[3] * xs[s[3]];
              }
          }
      }
}

static void
prompt_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  (void) x;
  (void) y;
  const Prompt *p = l->priv;
  int C = l->in.c;
  gsize plane = (gsize) l->in.h * l->in.w;
  memset (l->gw, 0, sizeof (float) * l->n_w);
  for (int i = 0; i < n; i++)
    for (int c = 0; c < C; c++)
      {
        const float *d = dy + ((gsize) i * C + c) * plane;
        float *g = l->gw + (gsize) c * p->n_frame;
        for (int j = 0; j < p->n_frame; j++)
          g[j] += d[p->pos[j]];
        if (dx == NULL)
          continue;
        float *dxs = dx + ((gsize) i * C + c) * plane;
        if (l->iarg[0] == 0)
          memcpy (dxs, d, sizeof (float) * plane);
        else
          {
            /* the adjoint of the bilinear shrink */
            memset (dxs, 0, sizeof (float) * plane);
            for (int q = 0; q < p->n_in; q++)
              {
                const int *s = p->src + (gsize) q * 4;
                const float *w = p->wt + (gsize) q * 4;
                float v = d[p->in_pos[q]];
                for (int t = 0; t < 4; t++)
                  dxs[s[t]] += w[t] * v;
              }
          }
      }
}

static double
prompt_flops (const FwLayer *l)
{
  return (double) fw_shape_size (l->in);
}

static int
prompt_tensors (const FwLayer *l, FwTensorInfo *t)
{
  const Prompt *p = l->priv;
  t[0] = (FwTensorInfo) { "prompt", TRUE, 0, 2, { l->in.c, p->n_frame } };
  return 1;
}

static char *
prompt_spec (const FwLayer *l)
{
  return g_strdup_printf ("prompt:%s:%d", l->iarg[0] == 0 ? "add" : "pad", l->iarg[1]);
}

const FwLayerClass fw_layer_prompt = {
  .name = "prompt",
  .help = "prompt:add|pad[:PIXELS]  learned visual prompt on a frame of the input (2 pixels)",
  .setup = prompt_setup,
  .init = prompt_init,
  .forward = prompt_forward,
  .backward = prompt_backward,
  .flops = prompt_flops,
  .tensors = prompt_tensors,
  .spec = prompt_spec,
  .finalize = prompt_finalize,
};

/* ---- prefix channels ---- */

static gboolean
prefix_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int C;
  if (!fw_layer_parse_int (l, args, n_args, 0, 1, 1, 64, &C, error))
    return FALSE;
  l->iarg[0] = C;
  l->out = (FwShape) { l->in.c + C, l->in.h, l->in.w };
  l->n_w = (gsize) C * l->in.h * l->in.w;
  return TRUE;
}

static void
prefix_init (FwLayer *l, FwRng *rng)
{
  (void) rng;
  memset (l->w, 0, sizeof (float) * l->n_w);
}

static void
prefix_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  (void) train;
  gsize in = fw_shape_size (l->in), out = fw_shape_size (l->out);
  for (int i = 0; i < n; i++)
    {
      memcpy (y + (gsize) i * out, x + (gsize) i * in, sizeof (float) * in);
      memcpy (y + (gsize) i * out + in, l->w, sizeof (float) * l->n_w);
    }
}

static void
prefix_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  (void) x;
  (void) y;
  gsize in = fw_shape_size (l->in), out = fw_shape_size (l->out);
  memset (l->gw, 0, sizeof (float) * l->n_w);
  for (int i = 0; i < n; i++)
    {
      const float *d = dy + (gsize) i * out;
      for (gsize j = 0; j < l->n_w; j++)
        l->gw[j] += d[in + j];
      if (dx != NULL)
        memcpy (dx + (gsize) i * in, d, sizeof (float) * in);
    }
}

static double
prefix_flops (const FwLayer *l)
{
  (void) l;
  return 0.0;
}

static int
prefix_tensors (const FwLayer *l, FwTensorInfo *t)
{
  t[0] = (FwTensorInfo) { "prefix", TRUE, 0, 3, { l->iarg[0], l->in.h, l->in.w } };
  return 1;
}

static char *
prefix_spec (const FwLayer *l)
{
  return g_strdup_printf ("prefix:%d", l->iarg[0]);
}

const FwLayerClass fw_layer_prefix = {
  .name = "prefix",
  .help = "prefix[:CHANNELS]  appends learned input channels (an image prefix token; 1)",
  .setup = prefix_setup,
  .init = prefix_init,
  .forward = prefix_forward,
  .backward = prefix_backward,
  .flops = prefix_flops,
  .tensors = prefix_tensors,
  .spec = prefix_spec,
};
