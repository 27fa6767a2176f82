/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-layer-blocks.c: composite blocks built from conv / dwconv children:
 *   dwsep:OUT[:STRIDE]  MobileNet depthwise-separable block:
 *                       dwconv 3x3 (pad 1, stride) -> ReLU -> conv 1x1 to OUT -> ReLU
 *   fire:S:E            SqueezeNet fire module: conv 1x1 to S -> ReLU, then
 *                       [conv 1x1 to E -> ReLU, conv 3x3 pad 1 to E -> ReLU] concatenated
 *                       on channels -> 2E channels
 *
 * A block owns child FwLayer structs (in l->priv) that use the ordinary conv kinds. Before each
 * pass the children's views are bound into the block's own buffers: parameters at fixed
 * offsets of l->w / l->gw, scratch laid out for the current batch n inside l->scratch as
 *   [block intermediates: n x inter floats][child 0: fixed + n x per_sample] [child 1] ...
 * each region rounded up to 16 floats. backward() runs on the same n as the forward before it,
 * so both see the same layout. */
#include "fw-layer.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"

/* Plain loops (ReLU masks, copies) left scalar by GCC's -O2 cost model: see fw-layer-conv.c. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("O3")
#endif

#define BLOCK_MAX_CHILDREN 3
#define ROUND16(x) (((x) + 15) & ~(gsize) 15)

typedef struct {
  FwLayer *ch[BLOCK_MAX_CHILDREN];
  gsize w_off[BLOCK_MAX_CHILDREN];
  int n_ch;
  gsize inter;      /* block intermediates per sample, in floats */
} Block;

static void
block_finalize (FwLayer *l)
{
  Block *b = l->priv;
  if (b == NULL)
    return;
  for (int i = 0; i < b->n_ch; i++)
    {
      if (b->ch[i]->klass->finalize != NULL)
        b->ch[i]->klass->finalize (b->ch[i]);
      g_free (b->ch[i]);
    }
  g_free (b);
  l->priv = NULL;
}

/* Adds a child of kind klass over input `in`, configured by the spec arguments `args`
 * ("8:1" -> conv:8:1). */
static FwLayer *
block_add_child (FwLayer *l, const FwLayerClass *klass, FwShape in, const char *args,
                 GError **error)
{
  Block *b = l->priv;
  g_assert (b->n_ch < BLOCK_MAX_CHILDREN);
  FwLayer *c = g_new0 (FwLayer, 1);
  c->klass = klass;
  c->index = l->index;
  c->in = in;
  c->rng = l->rng;
  b->ch[b->n_ch++] = c;
  g_auto (GStrv) parts = g_strsplit (args, ":", -1);
  if (!klass->setup (c, parts, (int) g_strv_length (parts), error))
    {
      g_prefix_error (error, "inside %s: ", l->klass->name);
      return NULL;
    }
  if (c->out.c < 1 || c->out.h < 1 || c->out.w < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d (%s): input %dx%dx%d is too small for it", l->index + 1,
                   l->klass->name, in.c, in.h, in.w);
      return NULL;
    }
  b->w_off[b->n_ch - 1] = l->n_w;
  l->n_w += c->n_w;
  return c;
}

/* Scratch the children need beyond the block's intermediates; set after all children exist. */
static void
block_finish_setup (FwLayer *l)
{
  Block *b = l->priv;
  gsize fixed = 16, per = b->inter;
  for (int i = 0; i < b->n_ch; i++)
    {
      fixed += b->ch[i]->scratch_fixed + 16; /* + rounding of each region */
      per += b->ch[i]->scratch_per_sample;
    }
  l->scratch_fixed = fixed;
  l->scratch_per_sample = per;
}

/* Points the children into the block's buffers for batch n; returns the intermediates. */
static float *
block_bind (FwLayer *l, int n)
{
  Block *b = l->priv;
  float *base = l->scratch;
  gsize off = ROUND16 ((gsize) n * b->inter);
  for (int i = 0; i < b->n_ch; i++)
    {
      FwLayer *c = b->ch[i];
      c->w = l->w + b->w_off[i];
      c->gw = l->gw + b->w_off[i];
      c->frozen = l->frozen;
      c->rng = l->rng;
      c->scratch = base + off;
      off += ROUND16 (c->scratch_fixed + (gsize) n * c->scratch_per_sample);
    }
  return base;
}

static void
block_init (FwLayer *l, FwRng *rng)
{
  Block *b = l->priv;
  block_bind (l, 1);
  for (int i = 0; i < b->n_ch; i++)
    if (b->ch[i]->klass->init != NULL)
      b->ch[i]->klass->init (b->ch[i], rng);
}

static double
block_child_flops (const FwLayer *l)
{
  const Block *b = l->priv;
  double f = 0;
  for (int i = 0; i < b->n_ch; i++)
    f += b->ch[i]->klass->flops (b->ch[i]);
  return f;
}

/* y = max(x, 0) in place */
static void
relu_inplace (float *a, gsize m)
{
  for (gsize i = 0; i < m; i++)
    a[i] = a[i] > 0.0f ? a[i] : 0.0f;
}

/* ---- dwsep:OUT[:STRIDE]; iarg[0] = OUT, iarg[1] = stride ----
 * Intermediates per sample: a [C x P] (depthwise output after ReLU), da [C x P],
 * dz [OUT x P] (gradient at the pointwise conv's output), P = output pixels. */

/* More arguments than the kind takes is a mistake in the spec, not something to ignore. */
static gboolean
check_n_args (const FwLayer *l, int n_args, int max, GError **error)
{
  if (n_args <= max)
    return TRUE;
  g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "layer %d (%s): too many arguments (%d, at "
               "most %d); usage: %s", l->index + 1, l->klass->name, n_args, max, l->klass->help);
  return FALSE;
}

static gboolean
dwsep_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int out, s;
  if (!check_n_args (l, n_args, 2, error)
      || !fw_layer_parse_int (l, args, n_args, 0, -1, 1, 1 << 16, &out, error)
      || !fw_layer_parse_int (l, args, n_args, 1, 1, 1, 16, &s, error))
    return FALSE;
  l->iarg[0] = out;
  l->iarg[1] = s;
  l->priv = g_new0 (Block, 1);
  g_autofree char *dw_args = g_strdup_printf ("3:%d:1", s);
  g_autofree char *pw_args = g_strdup_printf ("%d:1", out);
  FwLayer *dw = block_add_child (l, &fw_layer_dwconv, l->in, dw_args, error);
  if (dw == NULL)
    return FALSE;
  FwLayer *pw = block_add_child (l, &fw_layer_conv, dw->out, pw_args, error);
  if (pw == NULL)
    return FALSE;
  l->out = pw->out;
  gsize p = (gsize) dw->out.h * dw->out.w;
  Block *b = l->priv;
  b->inter = 2 * fw_shape_size (dw->out) + (gsize) out * p;
  block_finish_setup (l);
  return TRUE;
}

static void
dwsep_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  Block *b = l->priv;
  FwLayer *dw = b->ch[0], *pw = b->ch[1];
  float *a = block_bind (l, n);
  dw->klass->forward (dw, x, a, n, train);
  relu_inplace (a, (gsize) n * fw_shape_size (dw->out));
  pw->klass->forward (pw, a, y, n, train);
  relu_inplace (y, (gsize) n * fw_shape_size (l->out));
}

static void
dwsep_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  Block *b = l->priv;
  FwLayer *dw = b->ch[0], *pw = b->ch[1];
  float *a = block_bind (l, n);
  gsize ma = (gsize) n * fw_shape_size (dw->out), mo = (gsize) n * fw_shape_size (l->out);
  float *da = a + ma, *dz = da + ma;
  /* through the output ReLU: dz = dy where y > 0 */
  for (gsize i = 0; i < mo; i++)
    dz[i] = y[i] > 0.0f ? dy[i] : 0.0f;
  pw->klass->backward (pw, a, y, dz, da, n);
  /* through the inner ReLU (a is its output) */
  for (gsize i = 0; i < ma; i++)
    da[i] = a[i] > 0.0f ? da[i] : 0.0f;
  dw->klass->backward (dw, x, a, da, dx, n);
}

static double
dwsep_flops (const FwLayer *l)
{
  const Block *b = l->priv;
  return block_child_flops (l) + (double) fw_shape_size (b->ch[0]->out)
         + (double) fw_shape_size (l->out);
}

static int
dwsep_tensors (const FwLayer *l, FwTensorInfo *t)
{
  const Block *b = l->priv;
  const FwLayer *dw = b->ch[0], *pw = b->ch[1];
  int c = dw->in.c, out = pw->out.c;
  gsize o1 = b->w_off[1];
  t[0] = (FwTensorInfo) { "dw.weight", TRUE, 0, 4, { c, 1, 3, 3 } };
  t[1] = (FwTensorInfo) { "dw.bias", TRUE, (gsize) c * 9, 1, { c } };
  t[2] = (FwTensorInfo) { "pw.weight", TRUE, o1, 4, { out, c, 1, 1 } };
  t[3] = (FwTensorInfo) { "pw.bias", TRUE, o1 + (gsize) out * c, 1, { out } };
  return 4;
}

static char *
dwsep_spec (const FwLayer *l)
{
  if (l->iarg[1] != 1)
    return g_strdup_printf ("dwsep:%d:%d", l->iarg[0], l->iarg[1]);
  return g_strdup_printf ("dwsep:%d", l->iarg[0]);
}

const FwLayerClass fw_layer_dwsep = {
  .name = "dwsep",
  .help = "dwsep:OUT[:STRIDE]  depthwise 3x3 + ReLU + pointwise 1x1 to OUT + ReLU (MobileNet)",
  .setup = dwsep_setup,
  .init = block_init,
  .forward = dwsep_forward,
  .backward = dwsep_backward,
  .flops = dwsep_flops,
  .tensors = dwsep_tensors,
  .spec = dwsep_spec,
  .finalize = block_finalize,
};

/* ---- fire:S:E; iarg[0] = S, iarg[1] = E ----
 * Intermediates per sample, P = h w: s [S x P] (squeeze output after ReLU), e1 [E x P],
 * e3 [E x P] (expand outputs; reused for their gradients in backward), ds1, ds2 [S x P]
 * (the two expands' gradients with respect to s, summed). */

static gboolean
fire_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int s, e;
  if (!check_n_args (l, n_args, 2, error)
      || !fw_layer_parse_int (l, args, n_args, 0, -1, 1, 1 << 16, &s, error)
      || !fw_layer_parse_int (l, args, n_args, 1, -1, 1, 1 << 16, &e, error))
    return FALSE;
  l->iarg[0] = s;
  l->iarg[1] = e;
  l->priv = g_new0 (Block, 1);
  g_autofree char *sq_args = g_strdup_printf ("%d:1", s);
  g_autofree char *e1_args = g_strdup_printf ("%d:1", e);
  g_autofree char *e3_args = g_strdup_printf ("%d:3:1:1", e);
  FwLayer *sq = block_add_child (l, &fw_layer_conv, l->in, sq_args, error);
  if (sq == NULL || block_add_child (l, &fw_layer_conv, sq->out, e1_args, error) == NULL
      || block_add_child (l, &fw_layer_conv, sq->out, e3_args, error) == NULL)
    return FALSE;
  l->out = (FwShape) { 2 * e, l->in.h, l->in.w };
  gsize p = (gsize) l->in.h * l->in.w;
  Block *b = l->priv;
  b->inter = (3 * (gsize) s + 2 * (gsize) e) * p;
  block_finish_setup (l);
  return TRUE;
}

static void
fire_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  Block *b = l->priv;
  FwLayer *sq = b->ch[0], *e1 = b->ch[1], *e3 = b->ch[2];
  int S = l->iarg[0], E = l->iarg[1];
  gsize p = (gsize) l->in.h * l->in.w, ep = (gsize) E * p;
  float *s = block_bind (l, n);
  float *z1 = s + (gsize) n * S * p, *z3 = z1 + (gsize) n * ep;
  sq->klass->forward (sq, x, s, n, train);
  relu_inplace (s, (gsize) n * S * p);
  e1->klass->forward (e1, s, z1, n, train);
  e3->klass->forward (e3, s, z3, n, train);
  /* y_j = [relu(z1_j); relu(z3_j)] */
  for (int j = 0; j < n; j++)
    {
      float *yj = y + (gsize) j * 2 * ep;
      const float *a = z1 + (gsize) j * ep, *c = z3 + (gsize) j * ep;
      for (gsize i = 0; i < ep; i++)
        yj[i] = a[i] > 0.0f ? a[i] : 0.0f;
      for (gsize i = 0; i < ep; i++)
        yj[ep + i] = c[i] > 0.0f ? c[i] : 0.0f;
    }
}

static void
fire_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  Block *b = l->priv;
  FwLayer *sq = b->ch[0], *e1 = b->ch[1], *e3 = b->ch[2];
  int S = l->iarg[0], E = l->iarg[1];
  gsize p = (gsize) l->in.h * l->in.w, ep = (gsize) E * p, ms = (gsize) n * S * p;
  float *s = block_bind (l, n);
  float *dz1 = s + ms, *dz3 = dz1 + (gsize) n * ep;
  float *ds1 = dz3 + (gsize) n * ep, *ds2 = ds1 + ms;
  /* split dy through the output ReLUs: dz = dy where y > 0 */
  for (int j = 0; j < n; j++)
    {
      const float *yj = y + (gsize) j * 2 * ep, *dyj = dy + (gsize) j * 2 * ep;
      float *a = dz1 + (gsize) j * ep, *c = dz3 + (gsize) j * ep;
      for (gsize i = 0; i < ep; i++)
        a[i] = yj[i] > 0.0f ? dyj[i] : 0.0f;
      for (gsize i = 0; i < ep; i++)
        c[i] = yj[ep + i] > 0.0f ? dyj[ep + i] : 0.0f;
    }
  e1->klass->backward (e1, s, NULL, dz1, ds1, n);
  e3->klass->backward (e3, s, NULL, dz3, ds2, n);
  /* ds = ds1 + ds2, through the squeeze ReLU (s is its output) */
  for (gsize i = 0; i < ms; i++)
    ds1[i] = s[i] > 0.0f ? ds1[i] + ds2[i] : 0.0f;
  sq->klass->backward (sq, x, s, ds1, dx, n);
}

static double
fire_flops (const FwLayer *l)
{
  gsize p = (gsize) l->in.h * l->in.w;
  return block_child_flops (l) + (double) ((gsize) l->iarg[0] * p) + fw_shape_size (l->out);
}

static int
fire_tensors (const FwLayer *l, FwTensorInfo *t)
{
  const Block *b = l->priv;
  int C = l->in.c, S = l->iarg[0], E = l->iarg[1];
  gsize o1 = b->w_off[1], o3 = b->w_off[2];
  t[0] = (FwTensorInfo) { "squeeze.weight", TRUE, 0, 4, { S, C, 1, 1 } };
  t[1] = (FwTensorInfo) { "squeeze.bias", TRUE, (gsize) S * C, 1, { S } };
  t[2] = (FwTensorInfo) { "expand1.weight", TRUE, o1, 4, { E, S, 1, 1 } };
  t[3] = (FwTensorInfo) { "expand1.bias", TRUE, o1 + (gsize) E * S, 1, { E } };
  t[4] = (FwTensorInfo) { "expand3.weight", TRUE, o3, 4, { E, S, 3, 3 } };
  t[5] = (FwTensorInfo) { "expand3.bias", TRUE, o3 + (gsize) E * S * 9, 1, { E } };
  return 6;
}

static char *
fire_spec (const FwLayer *l)
{
  return g_strdup_printf ("fire:%d:%d", l->iarg[0], l->iarg[1]);
}

const FwLayerClass fw_layer_fire = {
  .name = "fire",
  .help = "fire:S:E  SqueezeNet fire module: squeeze 1x1 to S, expand 1x1 and 3x3 to E each",
  .setup = fire_setup,
  .init = block_init,
  .forward = fire_forward,
  .backward = fire_backward,
  .flops = fire_flops,
  .tensors = fire_tensors,
  .spec = fire_spec,
  .finalize = block_finalize,
};

/* ---- mbconv:OUT:EXPAND[:STRIDE]; iarg[0] = OUT, iarg[1] = EXPAND, iarg[2] = stride ----
 * EfficientNet's mobile inverted bottleneck with squeeze-excitation (Tan & Le 2019), tiny:
 *   a = ReLU(conv 1x1 C -> E = EXPAND C)          expand
 *   b = ReLU(dwconv 3x3 stride, pad 1)            depthwise
 *   g = sigmoid(W2 ReLU(W1 mean_p(b) + b1) + b2)  squeeze-excitation, R = max(1, E / 4)
 *   y = conv 1x1 (b * g) E -> OUT (+ x when stride 1 and OUT = C: the residual)
 * Parameters: the three convolutions' (children), then W1 [R x E], b1 [R], W2 [E x R], b2 [E].
 * Intermediates per sample (P_in, P planes in and out): a, da [E x P_in]; b, c = b g, dc
 * [E x P]; s [E], h [R] (ReLU(W1 s + b1)), g [E], dg [E], dh [R]. */

typedef struct {
  int c, e, r, out, pin, p;
  gboolean residual;
  gsize se_off;
} MbDims;

static MbDims
mb_dims (const FwLayer *l)
{
  const Block *bk = l->priv;
  MbDims d = { .c = l->in.c, .e = bk->ch[0]->out.c, .out = l->iarg[0],
               .pin = l->in.h * l->in.w, .p = l->out.h * l->out.w };
  d.r = MAX (1, d.e / 4);
  d.residual = l->iarg[2] == 1 && d.out == d.c;
  d.se_off = bk->w_off[2] + bk->ch[2]->n_w;
  return d;
}

static gboolean
mbconv_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int out, ex, s;
  if (!check_n_args (l, n_args, 3, error)
      || !fw_layer_parse_int (l, args, n_args, 0, -1, 1, 1 << 16, &out, error)
      || !fw_layer_parse_int (l, args, n_args, 1, 4, 1, 16, &ex, error)
      || !fw_layer_parse_int (l, args, n_args, 2, 1, 1, 16, &s, error))
    return FALSE;
  l->iarg[0] = out;
  l->iarg[1] = ex;
  l->iarg[2] = s;
  l->priv = g_new0 (Block, 1);
  int e = l->in.c * ex;
  g_autofree char *ex_args = g_strdup_printf ("%d:1", e);
  g_autofree char *dw_args = g_strdup_printf ("3:%d:1", s);
  g_autofree char *pw_args = g_strdup_printf ("%d:1", out);
  FwLayer *xc = block_add_child (l, &fw_layer_conv, l->in, ex_args, error);
  FwLayer *dw = xc != NULL ? block_add_child (l, &fw_layer_dwconv, xc->out, dw_args, error)
                           : NULL;
  FwLayer *pw = dw != NULL ? block_add_child (l, &fw_layer_conv, dw->out, pw_args, error)
                           : NULL;
  if (pw == NULL)
    return FALSE;
  l->out = pw->out;
  int r = MAX (1, e / 4);
  l->n_w += (gsize) r * e + r + (gsize) e * r + e;
  gsize pin = (gsize) l->in.h * l->in.w, p = (gsize) l->out.h * l->out.w;
  Block *b = l->priv;
  b->inter = 2 * (gsize) e * pin + 3 * (gsize) e * p + 3 * (gsize) e + 2 * (gsize) r;
  block_finish_setup (l);
  return TRUE;
}

static void
mbconv_init (FwLayer *l, FwRng *rng)
{
  block_init (l, rng);
  MbDims d = mb_dims (l);
  float *w = l->w + d.se_off;
  fw_init_uniform_fan_in (w, (gsize) d.r * d.e + d.r, d.e, rng);
  fw_init_uniform_fan_in (w + (gsize) d.r * d.e + d.r, (gsize) d.e * d.r + d.e, d.r, rng);
}

/* the intermediates of sample-batch n, in the order of the comment above */
typedef struct {
  float *a, *da, *b, *c, *dc, *s, *h, *g, *dg, *dh;
} MbBufs;

static MbBufs
mb_bufs (FwLayer *l, const MbDims *d, int n)
{
  float *q = block_bind (l, n);
  MbBufs m;
  gsize ea = (gsize) n * d->e * d->pin, ep = (gsize) n * d->e * d->p;
  m.a = q;
  m.da = m.a + ea;
  m.b = m.da + ea;
  m.c = m.b + ep;
  m.dc = m.c + ep;
  m.s = m.dc + ep;
  m.g = m.s + (gsize) n * d->e;
  m.dg = m.g + (gsize) n * d->e;
  m.h = m.dg + (gsize) n * d->e;
  m.dh = m.h + (gsize) n * d->r;
  return m;
}

static void
mbconv_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  Block *bk = l->priv;
  MbDims d = mb_dims (l);
  MbBufs m = mb_bufs (l, &d, n);
  const float *W1 = l->w + d.se_off, *b1 = W1 + (gsize) d.r * d.e;
  const float *W2 = b1 + d.r, *b2 = W2 + (gsize) d.e * d.r;
  bk->ch[0]->klass->forward (bk->ch[0], x, m.a, n, train);
  relu_inplace (m.a, (gsize) n * d.e * d.pin);
  bk->ch[1]->klass->forward (bk->ch[1], m.a, m.b, n, train);
  relu_inplace (m.b, (gsize) n * d.e * d.p);
  for (int j = 0; j < n; j++)
    {
      float *s = m.s + (gsize) j * d.e, *h = m.h + (gsize) j * d.r, *g = m.g + (gsize) j * d.e;
      const float *bj = m.b + (gsize) j * d.e * d.p;
      float *cj = m.c + (gsize) j * d.e * d.p;
      for (int e = 0; e < d.e; e++)
        {
          float t = 0;
          for (int q = 0; q < d.p; q++)
            t += bj[(gsize) e * d.p + q];
          s[e] = t / d.p;
        }
      for (int r = 0; r < d.r; r++)
        {
          float t = b1[r];
          for (int e = 0; e < d.e; e++)
            t += W1[(gsize) r * d.e + e] * s[e];
          h[r] = t > 0 ? t : 0;
        }
      for (int e = 0; e < d.e; e++)
        {
          float t = b2[e];
          for (int r = 0; r < d.r; r++)
            t += W2[(gsize) e * d.r + r] * h[r];
          g[e] = 1.0f / (1.0f + expf (-t));
          for (int q = 0; q < d.p; q++)
            cj[(gsize) e * d.p + q] = bj[(gsize) e * d.p + q] * g[e];
        }
    }
  bk->ch[2]->klass->forward (bk->ch[2], m.c, y, n, train);
  if (d.residual)
    for (gsize i = 0; i < (gsize) n * d.out * d.p; i++)
      y[i] += x[i];
}

static void
mbconv_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  Block *bk = l->priv;
  MbDims d = mb_dims (l);
  MbBufs m = mb_bufs (l, &d, n);
  const float *W1 = l->w + d.se_off, *b1 = W1 + (gsize) d.r * d.e;
  const float *W2 = b1 + d.r;
  float *gW1 = l->gw + d.se_off, *gb1 = gW1 + (gsize) d.r * d.e;
  float *gW2 = gb1 + d.r, *gb2 = gW2 + (gsize) d.e * d.r;
  memset (gW1, 0, sizeof (float) * ((gsize) 2 * d.r * d.e + d.r + d.e));
  bk->ch[2]->klass->backward (bk->ch[2], m.c, y, dy, m.dc, n);
  for (int j = 0; j < n; j++)
    {
      const float *s = m.s + (gsize) j * d.e, *h = m.h + (gsize) j * d.r;
      const float *g = m.g + (gsize) j * d.e;
      float *dg = m.dg + (gsize) j * d.e, *dh = m.dh + (gsize) j * d.r;
      const float *bj = m.b + (gsize) j * d.e * d.p;
      float *dcj = m.dc + (gsize) j * d.e * d.p;
      /* c = b g: dg = sum_p dc b; then dc becomes db (direct part) = dc g */
      for (int e = 0; e < d.e; e++)
        {
          float t = 0;
          for (int q = 0; q < d.p; q++)
            {
              t += dcj[(gsize) e * d.p + q] * bj[(gsize) e * d.p + q];
              dcj[(gsize) e * d.p + q] *= g[e];
            }
          /* through the sigmoid */
          dg[e] = t * g[e] * (1 - g[e]);
          gb2[e] += dg[e];
          for (int r = 0; r < d.r; r++)
            gW2[(gsize) e * d.r + r] += dg[e] * h[r];
        }
      for (int r = 0; r < d.r; r++)
        {
          float t = 0;
          for (int e = 0; e < d.e; e++)
            t += W2[(gsize) e * d.r + r] * dg[e];
          dh[r] = h[r] > 0 ? t : 0;
          gb1[r] += dh[r];
          for (int e = 0; e < d.e; e++)
            gW1[(gsize) r * d.e + e] += dh[r] * s[e];
        }
      /* s = mean_p b: every b[e][p] gets ds[e] / P; then through the ReLU (b is its output) */
      for (int e = 0; e < d.e; e++)
        {
          float ds = 0;
          for (int r = 0; r < d.r; r++)
            ds += W1[(gsize) r * d.e + e] * dh[r];
          ds /= d.p;
          for (int q = 0; q < d.p; q++)
            {
              gsize i = (gsize) e * d.p + q;
              dcj[i] = bj[i] > 0 ? dcj[i] + ds : 0;
            }
        }
    }
  bk->ch[1]->klass->backward (bk->ch[1], m.a, m.b, m.dc, m.da, n);
  for (gsize i = 0; i < (gsize) n * d.e * d.pin; i++)
    m.da[i] = m.a[i] > 0 ? m.da[i] : 0;
  bk->ch[0]->klass->backward (bk->ch[0], x, m.a, m.da, dx, n);
  if (dx != NULL && d.residual)
    for (gsize i = 0; i < (gsize) n * d.c * d.pin; i++)
      dx[i] += dy[i];
}

static double
mbconv_flops (const FwLayer *l)
{
  MbDims d = mb_dims (l);
  return block_child_flops (l) + 4.0 * d.r * d.e + 2.0 * d.e * d.p;
}

static int
mbconv_tensors (const FwLayer *l, FwTensorInfo *t)
{
  const Block *b = l->priv;
  MbDims d = mb_dims (l);
  static const char *const names[3][2] = {
    { "expand.weight", "expand.bias" }, { "dw.weight", "dw.bias" },
    { "project.weight", "project.bias" },
  };
  int n = 0;
  for (int i = 0; i < 3; i++)
    {
      FwTensorInfo ct[2];
      b->ch[i]->klass->tensors (b->ch[i], ct);
      for (int q = 0; q < 2; q++)
        {
          t[n] = ct[q];
          t[n].name = names[i][q];
          t[n].offset += b->w_off[i];
          n++;
        }
    }
  gsize o = d.se_off;
  t[n++] = (FwTensorInfo) { "se.w1", TRUE, o, 2, { d.r, d.e } };
  t[n++] = (FwTensorInfo) { "se.b1", TRUE, o + (gsize) d.r * d.e, 1, { d.r } };
  t[n++] = (FwTensorInfo) { "se.w2", TRUE, o + (gsize) d.r * d.e + d.r, 2, { d.e, d.r } };
  t[n++] = (FwTensorInfo) { "se.b2", TRUE, o + (gsize) 2 * d.r * d.e + d.r, 1, { d.e } };
  return n;
}

static char *
mbconv_spec (const FwLayer *l)
{
  if (l->iarg[2] != 1)
    return g_strdup_printf ("mbconv:%d:%d:%d", l->iarg[0], l->iarg[1], l->iarg[2]);
  return g_strdup_printf ("mbconv:%d:%d", l->iarg[0], l->iarg[1]);
}

const FwLayerClass fw_layer_mbconv = {
  .name = "mbconv",
  .help = "mbconv:OUT[:EXPAND[:STRIDE]]  EfficientNet MBConv: 1x1 expand (x4) + ReLU, "
          "depthwise 3x3 + ReLU, squeeze-excitation, 1x1 project (+ residual)",
  .setup = mbconv_setup,
  .init = mbconv_init,
  .forward = mbconv_forward,
  .backward = mbconv_backward,
  .flops = mbconv_flops,
  .tensors = mbconv_tensors,
  .spec = mbconv_spec,
  .finalize = block_finalize,
};
