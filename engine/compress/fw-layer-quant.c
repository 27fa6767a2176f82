/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-layer-quant.c: int8 layers (qdense, qconv) and the storage wrappers f16 and cluster.
 * The formats are described in fw-layer-quant.h. */
#include "fw-layer-quant.h"

#include <math.h>
#include <string.h>

#include "fw-cluster.h"
#include "fw-error.h"
#include "fw-util.h"

static gsize
numel (int ndim, const int *dims)
{
  gsize n = 1;
  for (int d = 0; d < ndim; d++)
    n *= (gsize) dims[d];
  return n;
}

static const FwPackedTensor *
find_packed (const FwPackedTensor *in, int n, const char *name)
{
  for (int i = 0; i < n; i++)
    if (g_strcmp0 (in[i].name, name) == 0)
      return &in[i];
  return NULL;
}

/* the tensor `name` of dtype and element count expected, or an error */
static const FwPackedTensor *
need_packed (const FwPackedTensor *in, int n, const char *name, FwDType dtype, gsize count,
             GError **error)
{
  const FwPackedTensor *t = find_packed (in, n, name);
  if (t == NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "tensor '%s' is missing; re-save the model",
                   name);
      return NULL;
    }
  if (t->dtype != dtype || t->bytes != count * fw_dtype_size (dtype)
      || numel (t->ndim, t->dims) != count || (count > 0 && t->data == NULL))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                   "tensor '%s' holds %" G_GSIZE_FORMAT " bytes of %s, expected %" G_GSIZE_FORMAT
                   " %s values; re-save the model", name, t->bytes, fw_dtype_name (t->dtype),
                   count, fw_dtype_name (dtype));
      return NULL;
    }
  return t;
}

static FwPackedTensor
packed_entry (const char *name, FwDType dtype, int ndim, const int *dims, const void *data)
{
  FwPackedTensor t = { name, dtype, ndim, { 0 }, data, 0 };
  for (int d = 0; d < ndim; d++)
    t.dims[d] = dims[d];
  t.bytes = numel (ndim, dims) * fw_dtype_size (dtype);
  return t;
}

/* =============================== qdense / qconv =============================== */

/* iarg: [0] out, [1] in (dense) or k, [2] stride, [3] pad, [4] per-channel, [5] symmetric */
typedef struct {
  gboolean conv;
  int out, kin;          /* output units / channels; inner dimension (in or C k k) */
  int c, h, w, k, s, p, oh, ow;  /* conv geometry */
  int nsc;               /* scales: 1 or out */
  gint8 *wq;             /* [out x kin] */
  float *wscale;         /* [nsc] */
  gint8 *wzero;          /* [nsc] */
  float *bias;           /* [out] */
  float in_scale;
  gint8 in_zero;
  gint32 *rowsum;        /* [out] sum_p wq[o][p] */
  int kpad;              /* conv: kin rounded up to 32 (zeros appended), the kernel's fast step */
  gint8 *wpad;           /* conv: [out x kpad] the weights with zero columns appended */
} QLayer;

static gboolean
parse_qflags (FwLayer *l, char **args, int n_args, int first, GError **error)
{
  l->iarg[4] = 1; /* per-channel */
  l->iarg[5] = 1; /* symmetric */
  for (int i = first; i < n_args; i++)
    {
      if (g_strcmp0 (args[i], "pc") == 0)
        l->iarg[4] = 1;
      else if (g_strcmp0 (args[i], "pt") == 0)
        l->iarg[4] = 0;
      else if (g_strcmp0 (args[i], "sym") == 0)
        l->iarg[5] = 1;
      else if (g_strcmp0 (args[i], "aff") == 0)
        l->iarg[5] = 0;
      else
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "layer %d (%s): option '%s' is unknown (pc or pt: per-channel or "
                       "per-tensor; sym or aff: symmetric or affine)", l->index + 1,
                       l->klass->name, args[i]);
          return FALSE;
        }
    }
  return TRUE;
}

static void
qlayer_alloc (FwLayer *l, QLayer *q)
{
  q->nsc = l->iarg[4] ? q->out : 1;
  q->wq = g_new0 (gint8, (gsize) q->out * q->kin);
  q->wscale = g_new (float, q->nsc);
  for (int i = 0; i < q->nsc; i++)
    q->wscale[i] = 1.0f;
  q->wzero = g_new0 (gint8, q->nsc);
  q->bias = g_new0 (float, q->out);
  q->rowsum = g_new0 (gint32, q->out);
  q->in_scale = 1.0f;
  l->priv = q;
}

static gboolean
qdense_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int units;
  if (!fw_layer_parse_int (l, args, n_args, 0, -1, 1, 1 << 20, &units, error)
      || !parse_qflags (l, args, n_args, 1, error))
    return FALSE;
  int in = (int) fw_shape_size (l->in);
  l->iarg[0] = units;
  l->iarg[1] = in;
  l->out = (FwShape) { units, 1, 1 };
  l->n_w = 0;
  /* quantized input bytes, then the int32 sums */
  l->scratch_per_sample = (gsize) (in + 3) / 4 + (gsize) units + 1;
  QLayer *q = g_new0 (QLayer, 1);
  q->out = units;
  q->kin = in;
  qlayer_alloc (l, q);
  return TRUE;
}

static gboolean
qconv_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int out, k, s, p, n_num = 0;
  /* the numbers as conv takes them (stride and pad optional), then the flags */
  while (n_num < n_args && n_num < 4 && g_ascii_isdigit (args[n_num][0]))
    n_num++;
  if (!fw_layer_parse_int (l, args, n_num, 0, -1, 1, 1 << 16, &out, error)
      || !fw_layer_parse_int (l, args, n_num, 1, -1, 1, 64, &k, error)
      || !fw_layer_parse_int (l, args, n_num, 2, 1, 1, 64, &s, error)
      || !fw_layer_parse_int (l, args, n_num, 3, 0, 0, 64, &p, error)
      || !parse_qflags (l, args, n_args, n_num, error))
    return FALSE;
  QLayer *q = g_new0 (QLayer, 1);
  q->conv = TRUE;
  q->c = l->in.c, q->h = l->in.h, q->w = l->in.w;
  q->out = out, q->k = k, q->s = s, q->p = p;
  int oh = (q->h + 2 * p - k) / s + 1, ow = (q->w + 2 * p - k) / s + 1;
  if (q->h + 2 * p < k || q->w + 2 * p < k)
    oh = ow = 0;
  q->oh = oh, q->ow = ow;
  q->kin = q->c * k * k;
  q->kpad = (q->kin + 31) & ~31;
  l->iarg[0] = out, l->iarg[1] = k, l->iarg[2] = s, l->iarg[3] = p;
  l->out = (FwShape) { out, oh, ow };
  l->n_w = 0;
  /* per sample, one at a time: the quantized input, the int8 columns [P x CKK], int32 [P x OUT] */
  gsize np = (gsize) MAX (oh, 0) * MAX (ow, 0);
  l->scratch_fixed = ((gsize) q->c * (q->h + 2 * p) * (q->w + 2 * p) + 3) / 4
                     + (np * q->kpad + 3) / 4 + np * out;
  qlayer_alloc (l, q);
  q->wpad = g_new0 (gint8, (gsize) out * q->kpad);
  return TRUE;
}

static void
qlayer_finalize (FwLayer *l)
{
  QLayer *q = l->priv;
  if (q == NULL)
    return;
  g_free (q->wq);
  g_free (q->wscale);
  g_free (q->wzero);
  g_free (q->bias);
  g_free (q->rowsum);
  g_free (q->wpad);
  g_free (q);
}

/* y = sx sw (acc - zx rowsum_w - zw sum_x + K zx zw) + b, for one row of outputs */
static inline void
qlayer_rescale (const QLayer *q, const gint32 *acc, gint64 sum_x, float *y, gsize ystride)
{
  const gint64 zx = q->in_zero, K = q->kin;
  for (int o = 0; o < q->out; o++)
    {
      int sc = q->nsc > 1 ? o : 0;
      gint64 zw = q->wzero[sc];
      gint64 v = (gint64) acc[o] - zx * q->rowsum[o] - zw * sum_x + K * zx * zw;
      y[(gsize) o * ystride] = q->in_scale * q->wscale[sc] * (float) v + q->bias[o];
    }
}

static gboolean
qlayer_affine_weights (const QLayer *q)
{
  for (int i = 0; i < q->nsc; i++)
    if (q->wzero[i] != 0)
      return TRUE;
  return FALSE;
}

static void
qdense_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  QLayer *q = l->priv;
  const int in = q->kin, out = q->out;
  gint8 *xq = (gint8 *) l->scratch;
  gint32 *acc = (gint32 *) (l->scratch + ((gsize) n * in + 3) / 4);
  FwQParams pin = { q->in_scale, q->in_zero };
  fw_quantize_i8 (x, (gsize) n * in, pin, xq);
  /* acc[n x out] = xq[n x in] wq[out x in]^T, int8 x int8 -> int32 */
  fw_qgemm_i8 (n, out, in, xq, in, q->wq, in, acc, out);
  gboolean aff = qlayer_affine_weights (q);
  for (int i = 0; i < n; i++)
    {
      gint64 sx = 0;
      if (aff)
        for (int p = 0; p < in; p++)
          sx += xq[(gsize) i * in + p];
      qlayer_rescale (q, acc + (gsize) i * out, sx, y + (gsize) i * out, 1);
    }
}

/* dx[n x kin] = dy[n x out] W_deq[out x kin] (the input rounding passes straight through) */
static void
qdense_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  QLayer *q = l->priv;
  if (dx == NULL)
    return;
  const int in = q->kin, out = q->out;
  memset (dx, 0, sizeof (float) * (gsize) n * in);
  for (int i = 0; i < n; i++)
    for (int o = 0; o < out; o++)
      {
        int sc = q->nsc > 1 ? o : 0;
        float g = dy[(gsize) i * out + o] * q->wscale[sc];
        const gint8 *wr = q->wq + (gsize) o * in;
        float *dr = dx + (gsize) i * in;
        for (int p = 0; p < in; p++)
          dr[p] += g * (float) (wr[p] - q->wzero[sc]);
      }
}

/* rows of the unfolded quantized input: cols[P x kpad], row (oy, ox) holds the k x k windows
 * of every channel, read from xpad, the quantized input inside a border of the input's zero
 * point (real value 0) of width pad: plain k-byte copies, no bounds checks */
static inline __attribute__ ((always_inline)) void
im2row_k (const QLayer *q, const gint8 *xpad, gint8 *cols, const int k)
{
  const int hp = q->h + 2 * q->p, wp = q->w + 2 * q->p;
  for (int oy = 0; oy < q->oh; oy++)
    for (int ox = 0; ox < q->ow; ox++)
      {
        gint8 *r = cols + ((gsize) oy * q->ow + ox) * q->kpad;
        memset (r + q->kin, 0, q->kpad - q->kin); /* zeros times the zero padding of wpad */
        for (int c = 0; c < q->c; c++)
          for (int ki = 0; ki < k; ki++, r += k)
            memcpy (r, xpad + ((gsize) c * hp + oy * q->s + ki) * wp + (gsize) ox * q->s, k);
      }
}

/* the common kernel sizes with a constant k, so the row copies are inlined */
static void
qconv_im2row (const QLayer *q, const gint8 *xpad, gint8 *cols)
{
  switch (q->k)
    {
    case 1: im2row_k (q, xpad, cols, 1); break;
    case 3: im2row_k (q, xpad, cols, 3); break;
    case 5: im2row_k (q, xpad, cols, 5); break;
    default: im2row_k (q, xpad, cols, q->k); break;
    }
}

static gsize
qconv_pad_bytes (const QLayer *q)
{
  return (gsize) q->c * (q->h + 2 * q->p) * (q->w + 2 * q->p);
}

static void
qconv_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  QLayer *q = l->priv;
  const gsize in = fw_shape_size (l->in), np = (gsize) q->oh * q->ow;
  const gsize padb = qconv_pad_bytes (q);
  const int hp = q->h + 2 * q->p, wp = q->w + 2 * q->p;
  gint8 *xpad = (gint8 *) l->scratch;
  gint8 *cols = (gint8 *) (l->scratch + (padb + 3) / 4);
  gint32 *acc = (gint32 *) (l->scratch + (padb + 3) / 4 + (np * q->kpad + 3) / 4);
  FwQParams pin = { q->in_scale, q->in_zero };
  gboolean aff = qlayer_affine_weights (q);
  memset (xpad, q->in_zero, padb); /* the border; the inside is overwritten per sample */
  for (int i = 0; i < n; i++)
    {
      const float *xi = x + (gsize) i * in;
      for (int c = 0; c < q->c; c++)
        for (int r = 0; r < q->h; r++)
          fw_quantize_i8 (xi + ((gsize) c * q->h + r) * q->w, q->w, pin,
                          xpad + ((gsize) c * hp + r + q->p) * wp + q->p);
      qconv_im2row (q, xpad, cols);
      /* acc[P x OUT] = cols[P x kpad] wpad[OUT x kpad]^T */
      fw_qgemm_i8 ((int) np, q->out, q->kpad, cols, q->kpad, q->wpad, q->kpad, acc, q->out);
      float *yi = y + (gsize) i * q->out * np;
      for (gsize pix = 0; pix < np; pix++)
        {
          gint64 sx = 0;
          if (aff)
            for (int p = 0; p < q->kin; p++)
              sx += cols[pix * q->kpad + p];
          qlayer_rescale (q, acc + pix * q->out, sx, yi + pix, np);
        }
    }
}

/* dx through the dequantized weights: for every output pixel, dx[window] += W_deq^T dy */
static void
qconv_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  QLayer *q = l->priv;
  if (dx == NULL)
    return;
  const gsize in = fw_shape_size (l->in), np = (gsize) q->oh * q->ow;
  memset (dx, 0, sizeof (float) * in * n);
  for (int i = 0; i < n; i++)
    for (int o = 0; o < q->out; o++)
      {
        int sc = q->nsc > 1 ? o : 0;
        const gint8 *wr = q->wq + (gsize) o * q->kin;
        for (int oy = 0; oy < q->oh; oy++)
          for (int ox = 0; ox < q->ow; ox++)
            {
              float g = dy[((gsize) i * q->out + o) * np + (gsize) oy * q->ow + ox]
                        * q->wscale[sc];
              if (g == 0.0f)
                continue;
              for (int c = 0; c < q->c; c++)
                for (int ki = 0; ki < q->k; ki++)
                  for (int kj = 0; kj < q->k; kj++)
                    {
                      int iy = oy * q->s - q->p + ki, ix = ox * q->s - q->p + kj;
                      if (iy < 0 || iy >= q->h || ix < 0 || ix >= q->w)
                        continue;
                      dx[(gsize) i * in + ((gsize) c * q->h + iy) * q->w + ix]
                        += g * (float) (wr[(c * q->k + ki) * q->k + kj] - q->wzero[sc]);
                    }
            }
      }
}

static double
qlayer_flops (const FwLayer *l)
{
  const QLayer *q = l->priv;
  return 2.0 * q->out * q->kin * (q->conv ? (double) q->oh * q->ow : 1.0);
}

static char *
qlayer_flags (const FwLayer *l)
{
  return g_strdup_printf ("%s:%s", l->iarg[4] ? "pc" : "pt", l->iarg[5] ? "sym" : "aff");
}

static char *
qdense_spec (const FwLayer *l)
{
  g_autofree char *f = qlayer_flags (l);
  return g_strdup_printf ("qdense:%d:%s", l->iarg[0], f);
}

static char *
qconv_spec (const FwLayer *l)
{
  g_autofree char *f = qlayer_flags (l);
  return g_strdup_printf ("qconv:%d:%d:%d:%d:%s", l->iarg[0], l->iarg[1], l->iarg[2],
                          l->iarg[3], f);
}

static int
qlayer_packed (const FwLayer *l, FwPackedTensor *t)
{
  const QLayer *q = l->priv;
  int wd[4] = { q->out, q->kin, 0, 0 }, wnd = 2;
  if (q->conv)
    {
      wd[1] = q->c, wd[2] = q->k, wd[3] = q->k;
      wnd = 4;
    }
  int one = 1;
  t[0] = packed_entry ("weight", FW_DTYPE_I8, wnd, wd, q->wq);
  t[1] = packed_entry ("weight_scale", FW_DTYPE_F32, 1, &q->nsc, q->wscale);
  t[2] = packed_entry ("weight_zero", FW_DTYPE_I8, 1, &q->nsc, q->wzero);
  t[3] = packed_entry ("bias", FW_DTYPE_F32, 1, &q->out, q->bias);
  t[4] = packed_entry ("input_scale", FW_DTYPE_F32, 1, &one, &q->in_scale);
  t[5] = packed_entry ("input_zero", FW_DTYPE_I8, 1, &one, &q->in_zero);
  return 6;
}

static gboolean
qlayer_unpack (FwLayer *l, const FwPackedTensor *in, int n, GError **error)
{
  QLayer *q = l->priv;
  const gsize nw = (gsize) q->out * q->kin;
  const FwPackedTensor *w, *sc, *z, *b, *is, *iz;
  if ((w = need_packed (in, n, "weight", FW_DTYPE_I8, nw, error)) == NULL
      || (sc = need_packed (in, n, "weight_scale", FW_DTYPE_F32, q->nsc, error)) == NULL
      || (z = need_packed (in, n, "weight_zero", FW_DTYPE_I8, q->nsc, error)) == NULL
      || (b = need_packed (in, n, "bias", FW_DTYPE_F32, q->out, error)) == NULL
      || (is = need_packed (in, n, "input_scale", FW_DTYPE_F32, 1, error)) == NULL
      || (iz = need_packed (in, n, "input_zero", FW_DTYPE_I8, 1, error)) == NULL)
    return FALSE;
  float scales[2] = { 0 };
  memcpy (scales, is->data, sizeof (float));
  g_autofree float *ws = g_memdup2 (sc->data, sizeof (float) * q->nsc);
  for (int i = 0; i <= q->nsc; i++)
    {
      float v = i < q->nsc ? ws[i] : scales[0];
      if (!(isfinite (v) && v > 0))
        {
          g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                       "%s %g is not a positive number; re-quantize the model",
                       i < q->nsc ? "a weight scale" : "the input scale", v);
          return FALSE;
        }
    }
  memcpy (q->wq, w->data, nw);
  memcpy (q->wscale, ws, sizeof (float) * q->nsc);
  memcpy (q->wzero, z->data, q->nsc);
  memcpy (q->bias, b->data, sizeof (float) * q->out);
  q->in_scale = scales[0];
  memcpy (&q->in_zero, iz->data, 1);
  for (int o = 0; o < q->out; o++)
    {
      gint32 s = 0;
      for (int p = 0; p < q->kin; p++)
        s += q->wq[(gsize) o * q->kin + p];
      q->rowsum[o] = s;
      if (q->wpad != NULL)
        memcpy (q->wpad + (gsize) o * q->kpad, q->wq + (gsize) o * q->kin, q->kin);
    }
  return TRUE;
}

gboolean
fw_layer_quant_set_from (FwLayer *l, const FwLayer *src, float in_lo, float in_hi,
                         GError **error)
{
  QLayer *q = l->priv;
  const char *want = l->klass == &fw_layer_qdense ? "dense" : "conv";
  if ((l->klass != &fw_layer_qdense && l->klass != &fw_layer_qconv)
      || g_strcmp0 (src->klass->name, want) != 0 || src->n_w != (gsize) q->out * q->kin + q->out)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d: a %s layer cannot be quantized into %s", l->index + 1,
                   src->klass->name, l->klass->name);
      return FALSE;
    }
  const gboolean sym = l->iarg[5] != 0;
  const gsize nw = (gsize) q->out * q->kin;
  g_autofree gint8 *wq = g_new (gint8, nw);
  g_autofree float *ws = g_new (float, q->nsc);
  g_autofree gint8 *wz = g_new (gint8, q->nsc);
  for (int g = 0; g < q->nsc; g++)
    {
      gsize len = q->nsc > 1 ? (gsize) q->kin : nw, off = (gsize) g * len;
      float lo = INFINITY, hi = -INFINITY;
      for (gsize i = 0; i < len; i++)
        {
          lo = MIN (lo, src->w[off + i]);
          hi = MAX (hi, src->w[off + i]);
        }
      FwQParams p = fw_qparams_from_range (lo, hi, sym);
      fw_quantize_i8 (src->w + off, len, p, wq + off);
      ws[g] = p.scale;
      wz[g] = (gint8) p.zero;
    }
  FwQParams pin = fw_qparams_from_range (in_lo, in_hi, sym);
  float in_scale = pin.scale;
  gint8 in_zero = (gint8) pin.zero;
  FwPackedTensor t[6];
  qlayer_packed (l, t);
  t[0].data = wq;
  t[1].data = ws;
  t[2].data = wz;
  t[3].data = src->w + nw;
  t[4].data = &in_scale;
  t[5].data = &in_zero;
  return qlayer_unpack (l, t, 6, error);
}

const FwLayerClass fw_layer_qdense = {
  .name = "qdense",
  .help = "qdense:UNITS[:pc|pt[:sym|aff]]  int8 fully connected layer (inference form)",
  .setup = qdense_setup,
  .forward = qdense_forward,
  .backward = qdense_backward,
  .flops = qlayer_flops,
  .tensors = fw_layer_no_tensors,
  .spec = qdense_spec,
  .finalize = qlayer_finalize,
  .packed = qlayer_packed,
  .unpack = qlayer_unpack,
};

const FwLayerClass fw_layer_qconv = {
  .name = "qconv",
  .help = "qconv:OUT:K:S:P[:pc|pt[:sym|aff]]  int8 convolution (inference form)",
  .setup = qconv_setup,
  .forward = qconv_forward,
  .backward = qconv_backward,
  .flops = qlayer_flops,
  .tensors = fw_layer_no_tensors,
  .spec = qconv_spec,
  .finalize = qlayer_finalize,
  .packed = qlayer_packed,
  .unpack = qlayer_unpack,
};

/* =============================== wrappers: f16, cluster =============================== */

typedef struct {
  FwLayer inner;          /* the float layer that runs; w/gw/st point into the buffers below */
  float *wbuf, *gbuf, *stbuf;
  int nt;
  FwTensorInfo ti[FW_LAYER_MAX_TENSORS];
  gboolean is_weight[FW_LAYER_MAX_TENSORS];
  /* f16: one half-precision copy per tensor */
  guint16 *half[FW_LAYER_MAX_TENSORS];
  /* cluster: per weight tensor a codebook and packed codes */
  int k, bits;
  int kt[FW_LAYER_MAX_TENSORS];
  float *codebook[FW_LAYER_MAX_TENSORS];
  guint8 *codes[FW_LAYER_MAX_TENSORS];
  const char *cb_name[FW_LAYER_MAX_TENSORS], *codes_name[FW_LAYER_MAX_TENSORS];
} Wrap;

static gboolean
wrap_setup (FwLayer *l, char **args, int n_args, int first, GError **error)
{
  if (first >= n_args)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d (%s): the wrapped layer is missing (write e.g. %s:dense:128)",
                   l->index + 1, l->klass->name,
                   l->klass == &fw_layer_cluster ? "cluster:5" : "f16");
      return FALSE;
    }
  const FwLayerClass *ik = fw_layer_class_lookup (args[first]);
  if (ik == NULL || ik->packed != NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d (%s): '%s' is %s", l->index + 1, l->klass->name, args[first],
                   ik == NULL ? "not a layer kind" : "already a compressed kind");
      return FALSE;
    }
  Wrap *w = g_new0 (Wrap, 1);
  l->priv = w;
  w->inner.klass = ik;
  w->inner.index = l->index;
  w->inner.in = l->in;
  w->inner.rng = l->rng;
  if (!ik->setup (&w->inner, args + first + 1, n_args - first - 1, error))
    return FALSE;
  l->out = w->inner.out;
  l->n_w = 0;
  l->n_st = 0;
  l->scratch_per_sample = w->inner.scratch_per_sample;
  l->scratch_fixed = w->inner.scratch_fixed;
  w->wbuf = fw_alloc_floats (MAX (w->inner.n_w, 1));
  w->gbuf = fw_alloc_floats (MAX (w->inner.n_w, 1));
  w->stbuf = fw_alloc_floats (MAX (w->inner.n_st, 1));
  w->inner.w = w->wbuf;
  w->inner.gw = w->gbuf;
  w->inner.st = w->stbuf;
  w->nt = ik->tensors (&w->inner, w->ti);
  for (int t = 0; t < w->nt; t++)
    w->is_weight[t] = w->ti[t].trainable && g_str_has_suffix (w->ti[t].name, "weight");
  return TRUE;
}

static float *
wrap_tensor_data (Wrap *w, int t)
{
  return (w->ti[t].trainable ? w->wbuf : w->stbuf) + w->ti[t].offset;
}

static gboolean
f16_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  if (!wrap_setup (l, args, n_args, 0, error))
    return FALSE;
  Wrap *w = l->priv;
  for (int t = 0; t < w->nt; t++)
    w->half[t] = g_new0 (guint16, numel (w->ti[t].ndim, w->ti[t].dims));
  return TRUE;
}

static gboolean
cluster_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int k;
  if (!fw_layer_parse_int (l, args, n_args, 0, -1, 2, FW_CLUSTER_MAX_K, &k, error)
      || !wrap_setup (l, args, n_args, 1, error))
    return FALSE;
  Wrap *w = l->priv;
  w->k = k;
  w->bits = fw_cluster_bits (k);
  l->iarg[0] = k;
  for (int t = 0; t < w->nt; t++)
    if (w->is_weight[t])
      {
        gsize n = numel (w->ti[t].ndim, w->ti[t].dims);
        w->kt[t] = k;
        w->codebook[t] = g_new0 (float, k);
        w->codes[t] = g_new0 (guint8, fw_codes_packed_bytes (n, w->bits));
        g_autofree char *cb = g_strconcat (w->ti[t].name, ".codebook", NULL);
        g_autofree char *cd = g_strconcat (w->ti[t].name, ".codes", NULL);
        w->cb_name[t] = g_intern_string (cb);
        w->codes_name[t] = g_intern_string (cd);
      }
  return TRUE;
}

static void
wrap_finalize (FwLayer *l)
{
  Wrap *w = l->priv;
  if (w == NULL)
    return;
  if (w->inner.klass != NULL && w->inner.klass->finalize != NULL)
    w->inner.klass->finalize (&w->inner);
  fw_free_aligned (w->wbuf);
  fw_free_aligned (w->gbuf);
  fw_free_aligned (w->stbuf);
  for (int t = 0; t < FW_LAYER_MAX_TENSORS; t++)
    {
      g_free (w->half[t]);
      g_free (w->codebook[t]);
      g_free (w->codes[t]);
    }
  g_free (w);
}

static void
wrap_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  Wrap *w = l->priv;
  w->inner.scratch = l->scratch;
  w->inner.klass->forward (&w->inner, x, y, n, train);
}

static void
wrap_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  Wrap *w = l->priv;
  w->inner.scratch = l->scratch;
  w->inner.klass->backward (&w->inner, x, y, dy, dx, n);
}

static double
wrap_flops (const FwLayer *l)
{
  const Wrap *w = l->priv;
  return w->inner.klass->flops (&w->inner);
}

static char *
f16_spec (const FwLayer *l)
{
  const Wrap *w = l->priv;
  g_autofree char *tok = w->inner.klass->spec (&w->inner);
  return g_strconcat ("f16:", tok, NULL);
}

static char *
cluster_spec (const FwLayer *l)
{
  const Wrap *w = l->priv;
  g_autofree char *tok = w->inner.klass->spec (&w->inner);
  return g_strdup_printf ("cluster:%d:%s", w->k, tok);
}

static int
f16_packed (const FwLayer *l, FwPackedTensor *out)
{
  const Wrap *w = l->priv;
  for (int t = 0; t < w->nt; t++)
    out[t] = packed_entry (w->ti[t].name, FW_DTYPE_F16, w->ti[t].ndim, w->ti[t].dims,
                           w->half[t]);
  return w->nt;
}

static gboolean
f16_unpack (FwLayer *l, const FwPackedTensor *in, int n, GError **error)
{
  Wrap *w = l->priv;
  for (int t = 0; t < w->nt; t++)
    {
      gsize cnt = numel (w->ti[t].ndim, w->ti[t].dims);
      const FwPackedTensor *p = need_packed (in, n, w->ti[t].name, FW_DTYPE_F16, cnt, error);
      if (p == NULL)
        return FALSE;
      memcpy (w->half[t], p->data, cnt * 2);
    }
  for (int t = 0; t < w->nt; t++)
    fw_f16_decode (w->half[t], numel (w->ti[t].ndim, w->ti[t].dims), wrap_tensor_data (w, t));
  return TRUE;
}

static int
cluster_packed (const FwLayer *l, FwPackedTensor *out)
{
  const Wrap *w = l->priv;
  int np = 0;
  for (int t = 0; t < w->nt; t++)
    {
      Wrap *ww = (Wrap *) w;
      if (!w->is_weight[t])
        {
          out[np++] = packed_entry (w->ti[t].name, FW_DTYPE_F32, w->ti[t].ndim, w->ti[t].dims,
                                    wrap_tensor_data (ww, t));
          continue;
        }
      int nbytes = (int) fw_codes_packed_bytes (numel (w->ti[t].ndim, w->ti[t].dims), w->bits);
      out[np++] = packed_entry (w->cb_name[t], FW_DTYPE_F32, 1, &w->kt[t], w->codebook[t]);
      out[np++] = packed_entry (w->codes_name[t], FW_DTYPE_U8, 1, &nbytes, w->codes[t]);
    }
  return np;
}

static gboolean
cluster_unpack (FwLayer *l, const FwPackedTensor *in, int n, GError **error)
{
  Wrap *w = l->priv;
  /* validate everything first: a failed load leaves the layer as it was */
  for (int t = 0; t < w->nt; t++)
    {
      gsize cnt = numel (w->ti[t].ndim, w->ti[t].dims);
      if (!w->is_weight[t])
        {
          if (need_packed (in, n, w->ti[t].name, FW_DTYPE_F32, cnt, error) == NULL)
            return FALSE;
          continue;
        }
      const FwPackedTensor *cb = find_packed (in, n, w->cb_name[t]);
      if (cb == NULL || cb->dtype != FW_DTYPE_F32 || cb->ndim != 1 || cb->dims[0] < 1
          || cb->dims[0] > w->k || cb->bytes != (gsize) cb->dims[0] * 4 || cb->data == NULL)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                       "tensor '%s' must be 1 to %d F32 centres; re-save the model",
                       w->cb_name[t], w->k);
          return FALSE;
        }
      const FwPackedTensor *cd = need_packed (in, n, w->codes_name[t], FW_DTYPE_U8,
                                              fw_codes_packed_bytes (cnt, w->bits), error);
      if (cd == NULL)
        return FALSE;
      g_autofree guint8 *codes = g_new (guint8, cnt);
      fw_codes_unpack (cd->data, cnt, w->bits, codes);
      for (gsize i = 0; i < cnt; i++)
        if (codes[i] >= cb->dims[0])
          {
            g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                         "tensor '%s': weight %" G_GSIZE_FORMAT " has code %d but the codebook "
                         "has %d centres; re-save the model", w->codes_name[t], i, codes[i],
                         cb->dims[0]);
            return FALSE;
          }
    }
  for (int t = 0; t < w->nt; t++)
    {
      gsize cnt = numel (w->ti[t].ndim, w->ti[t].dims);
      float *dst = wrap_tensor_data (w, t);
      if (!w->is_weight[t])
        {
          memcpy (dst, find_packed (in, n, w->ti[t].name)->data, cnt * 4);
          continue;
        }
      const FwPackedTensor *cb = find_packed (in, n, w->cb_name[t]);
      const FwPackedTensor *cd = find_packed (in, n, w->codes_name[t]);
      w->kt[t] = cb->dims[0];
      memcpy (w->codebook[t], cb->data, cb->bytes);
      memcpy (w->codes[t], cd->data, cd->bytes);
      g_autofree guint8 *codes = g_new (guint8, cnt);
      fw_codes_unpack (w->codes[t], cnt, w->bits, codes);
      for (gsize i = 0; i < cnt; i++)
        dst[i] = w->codebook[t][codes[i]];
    }
  return TRUE;
}

static gboolean
wrap_check_source (const FwLayer *l, const FwLayer *src, GError **error)
{
  const Wrap *w = l->priv;
  g_autofree char *a = w->inner.klass->spec (&w->inner);
  g_autofree char *b = src->klass->spec (src);
  if (g_strcmp0 (a, b) != 0 || src->n_w != w->inner.n_w || src->n_st != w->inner.n_st)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "layer %d: %s cannot hold a '%s' layer (it wraps '%s')", l->index + 1,
                   l->klass->name, b, a);
      return FALSE;
    }
  return TRUE;
}

gboolean
fw_layer_f16_set_from (FwLayer *l, const FwLayer *src, GError **error)
{
  if (l->klass != &fw_layer_f16 || !wrap_check_source (l, src, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "layer %d is not an f16 layer",
                     l->index + 1);
      return FALSE;
    }
  Wrap *w = l->priv;
  FwPackedTensor pt[FW_LAYER_MAX_TENSORS];
  int np = f16_packed (l, pt);
  for (int t = 0; t < w->nt; t++)
    fw_f16_encode ((w->ti[t].trainable ? src->w : src->st) + w->ti[t].offset,
                   numel (w->ti[t].ndim, w->ti[t].dims), w->half[t]);
  return f16_unpack (l, pt, np, error);
}

gboolean
fw_layer_cluster_set_from (FwLayer *l, const FwLayer *src, GError **error)
{
  if (l->klass != &fw_layer_cluster || !wrap_check_source (l, src, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "layer %d is not a cluster layer",
                     l->index + 1);
      return FALSE;
    }
  Wrap *w = l->priv;
  FwPackedTensor pt[FW_LAYER_MAX_TENSORS];
  float *cbs[FW_LAYER_MAX_TENSORS] = { 0 };
  guint8 *packed[FW_LAYER_MAX_TENSORS] = { 0 };
  int kts[FW_LAYER_MAX_TENSORS] = { 0 };
  gboolean ok = TRUE;
  for (int t = 0; t < w->nt && ok; t++)
    {
      if (!w->is_weight[t])
        continue;
      gsize cnt = numel (w->ti[t].ndim, w->ti[t].dims);
      const float *v = src->w + w->ti[t].offset;
      /* the codebook: the tensor's distinct values, ascending; codes by exact match */
      cbs[t] = g_new (float, w->k);
      int k = 0;
      for (gsize i = 0; i < cnt && ok; i++)
        {
          int j = 0;
          while (j < k && cbs[t][j] != v[i])
            j++;
          if (j == k)
            {
              if (k == w->k)
                {
                  g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                               "layer %d: %s has more than %d distinct values; cluster it "
                               "first", l->index + 1, w->ti[t].name, w->k);
                  ok = FALSE;
                  break;
                }
              cbs[t][k++] = v[i];
            }
        }
      if (!ok)
        break;
      for (int a = 1; a < k; a++) /* insertion sort of at most 256 values */
        for (int b = a; b > 0 && cbs[t][b - 1] > cbs[t][b]; b--)
          {
            float tmp = cbs[t][b];
            cbs[t][b] = cbs[t][b - 1];
            cbs[t][b - 1] = tmp;
          }
      kts[t] = MAX (k, 1);
      g_autofree guint8 *codes = g_new (guint8, cnt);
      fw_cluster_assign (v, cnt, cbs[t], k, codes);
      packed[t] = g_new (guint8, fw_codes_packed_bytes (cnt, w->bits));
      fw_codes_pack (codes, cnt, w->bits, packed[t]);
    }
  if (ok)
    {
      int np = 0;
      for (int t = 0; t < w->nt; t++)
        {
          if (!w->is_weight[t])
            {
              pt[np++] = packed_entry (w->ti[t].name, FW_DTYPE_F32, w->ti[t].ndim,
                                       w->ti[t].dims, src->w + w->ti[t].offset);
              if (!w->ti[t].trainable)
                pt[np - 1].data = src->st + w->ti[t].offset;
              continue;
            }
          int nbytes = (int) fw_codes_packed_bytes (numel (w->ti[t].ndim, w->ti[t].dims),
                                                    w->bits);
          pt[np++] = packed_entry (w->cb_name[t], FW_DTYPE_F32, 1, &kts[t], cbs[t]);
          pt[np++] = packed_entry (w->codes_name[t], FW_DTYPE_U8, 1, &nbytes, packed[t]);
        }
      ok = cluster_unpack (l, pt, np, error);
    }
  for (int t = 0; t < FW_LAYER_MAX_TENSORS; t++)
    {
      g_free (cbs[t]);
      g_free (packed[t]);
    }
  return ok;
}

const FwLayer *
fw_layer_wrapped (const FwLayer *l)
{
  if (l->klass != &fw_layer_f16 && l->klass != &fw_layer_cluster)
    return NULL;
  return &((const Wrap *) l->priv)->inner;
}

const FwLayerClass fw_layer_f16 = {
  .name = "f16",
  .help = "f16:<layer>  any layer with its tensors stored as fp16 (inference form)",
  .setup = f16_setup,
  .forward = wrap_forward,
  .backward = wrap_backward,
  .flops = wrap_flops,
  .tensors = fw_layer_no_tensors,
  .spec = f16_spec,
  .finalize = wrap_finalize,
  .packed = f16_packed,
  .unpack = f16_unpack,
};

const FwLayerClass fw_layer_cluster = {
  .name = "cluster",
  .help = "cluster:K:<layer>  weights as a K-centre codebook + bit-packed codes (inference form)",
  .setup = cluster_setup,
  .forward = wrap_forward,
  .backward = wrap_backward,
  .flops = wrap_flops,
  .tensors = fw_layer_no_tensors,
  .spec = cluster_spec,
  .finalize = wrap_finalize,
  .packed = cluster_packed,
  .unpack = cluster_unpack,
};
