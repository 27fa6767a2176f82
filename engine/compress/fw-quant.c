/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-quant.c: fp16 conversion, int8 quantization and its kernel, the compressed fine-tuning
 * loop, ternary / binary weights trained with a straight-through estimator. */
#include "fw-quant.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-kernels.h"
#include "fw-layer-quant.h"
#include "fw-loss.h"
#include "fw-util.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define FW_QUANT_X86 1
#include <immintrin.h>
#endif

/* ---- fp16 ---- */

static inline guint32
f32_bits (float x)
{
  guint32 u;
  memcpy (&u, &x, 4);
  return u;
}

static inline float
f32_from_bits (guint32 u)
{
  float x;
  memcpy (&x, &u, 4);
  return x;
}

/* x = (-1)^s 1.f 2^e: keep the top 10 fraction bits, round the 13 dropped ones to nearest
 * even (a carry into the exponent is the right answer, up to infinity). Below 2^-14 the
 * value is m 2^-24 with m = 1f >> (-e - 1), rounded the same way. */
guint16
fw_f16_from_f32 (float x)
{
  guint32 u = f32_bits (x);
  guint32 sign = (u >> 16) & 0x8000u;
  u &= 0x7fffffffu;
  if (u >= 0x7f800000u) /* inf, NaN (quiet, payload's top bits kept) */
    return (guint16) (sign | 0x7c00u | (u > 0x7f800000u ? 0x200u | ((u >> 13) & 0x3ffu) : 0));
  int e = (int) (u >> 23) - 127;
  guint32 mant = u & 0x7fffffu;
  if (e > 15)
    return (guint16) (sign | 0x7c00u);
  if (e >= -14)
    {
      guint32 h = ((guint32) (e + 15) << 10) | (mant >> 13);
      guint32 rem = mant & 0x1fffu;
      if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++;
      return (guint16) (sign | h);
    }
  int s = -e - 1; /* 14 .. */
  if (s > 24)
    return (guint16) sign;
  guint32 m = mant | 0x800000u;
  guint32 h = m >> s, rem = m & ((1u << s) - 1u), half = 1u << (s - 1);
  if (rem > half || (rem == half && (h & 1u)))
    h++;
  return (guint16) (sign | h);
}

float
fw_f16_to_f32 (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000u) << 16;
  guint32 e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0)
    {
      float v = ldexpf ((float) m, -24);
      return sign ? -v : v;
    }
  if (e == 31)
    return f32_from_bits (sign | 0x7f800000u | (m << 13));
  return f32_from_bits (sign | ((e - 15 + 127) << 23) | (m << 13));
}

void
fw_f16_encode (const float *x, gsize n, guint16 *out)
{
  for (gsize i = 0; i < n; i++)
    out[i] = fw_f16_from_f32 (x[i]);
}

void
fw_f16_decode (const guint16 *h, gsize n, float *out)
{
  for (gsize i = 0; i < n; i++)
    out[i] = fw_f16_to_f32 (h[i]);
}

/* ---- int8 ---- */

FwQParams
fw_qparams_from_range (float lo, float hi, gboolean symmetric)
{
  FwQParams p = { 1.0f, 0 };
  if (!isfinite (lo) || !isfinite (hi) || lo > hi)
    return p;
  if (symmetric)
    {
      float a = MAX (fabsf (lo), fabsf (hi));
      if (a > 0)
        p.scale = a / 127.0f;
      return p;
    }
  lo = MIN (lo, 0.0f);
  hi = MAX (hi, 0.0f);
  if (hi - lo <= 0)
    return p;
  p.scale = (hi - lo) / 254.0f;
  long z = lroundf (-127.0f - lo / p.scale);
  p.zero = (int) CLAMP (z, -127, 127);
  return p;
}

void
fw_quantize_i8 (const float *x, gsize n, FwQParams p, gint8 *q)
{
  float inv = 1.0f / p.scale;
  const float lo = -127.0f;
  for (gsize i = 0; i < n; i++)
    {
      float v = rintf (x[i] * inv) + (float) p.zero;
      v = v < lo ? lo : (v > 127.0f ? 127.0f : v);
      /* a NaN input (NaN weights in a loaded file upstream) quantizes to the zero point: a
       * float-to-int conversion of NaN is undefined (found by tests/fuzz/fuzz-safetensors) */
      q[i] = v == v ? (gint8) v : (gint8) p.zero;
    }
}

void
fw_dequantize_i8 (const gint8 *q, gsize n, FwQParams p, float *x)
{
  for (gsize i = 0; i < n; i++)
    x[i] = p.scale * (float) ((int) q[i] - p.zero);
}

static void
qgemm_c (int m, int n, int k, const gint8 *restrict a, int lda, const gint8 *restrict b,
         int ldb, gint32 *restrict c, int ldc)
{
  for (int i = 0; i < m; i++)
    {
      const gint8 *ar = a + (gsize) i * lda;
      for (int j = 0; j < n; j++)
        {
          const gint8 *br = b + (gsize) j * ldb;
          gint32 s = 0;
          for (int p = 0; p < k; p++)
            s += (gint32) ar[p] * (gint32) br[p];
          c[(gsize) i * ldc + j] = s;
        }
    }
}

#ifdef FW_QUANT_X86
__attribute__ ((target ("avx2"))) static inline gint32
hsum_epi32 (__m256i v)
{
  __m128i s = _mm_add_epi32 (_mm256_castsi256_si128 (v), _mm256_extracti128_si256 (v, 1));
  s = _mm_add_epi32 (s, _mm_shuffle_epi32 (s, 0x4e));
  s = _mm_add_epi32 (s, _mm_shuffle_epi32 (s, 0xb1));
  return _mm_cvtsi128_si32 (s);
}

__attribute__ ((target ("avx2"))) static inline __m256i
load16_i8_as_i16 (const gint8 *p)
{
  return _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) p));
}

/* Per 32 inner elements, with A's bytes a and a weight row's bytes b, both in [-127, 127]:
 *   vpmaddubsw (|a|, b sign(a)) = a_p b_p + a_{p+1} b_{p+1} in 16 bits (|.| <= 2 127^2 < 2^15:
 *   no saturation), then vpmaddwd with ones widens pairs of those to 32 bits. Four weight rows
 * share A's load and absolute value. A 16-element step (sign-extended to 16 bits, vpmaddwd) and
 * scalar code take the rest of k. */
__attribute__ ((target ("avx2"))) static inline __m256i
dot32 (__m256i aabs, __m256i av, const gint8 *b, __m256i ones)
{
  __m256i bs = _mm256_sign_epi8 (_mm256_loadu_si256 ((const __m256i *) b), av);
  return _mm256_madd_epi16 (_mm256_maddubs_epi16 (aabs, bs), ones);
}

__attribute__ ((target ("avx2"))) static void
qgemm_avx2 (int m, int n, int k, const gint8 *restrict a, int lda, const gint8 *restrict b,
            int ldb, gint32 *restrict c, int ldc)
{
  const int k32 = k & ~31, k16 = k & ~15;
  const __m256i ones = _mm256_set1_epi16 (1);
  for (int i = 0; i < m; i++)
    {
      const gint8 *ar = a + (gsize) i * lda;
      gint32 *cr = c + (gsize) i * ldc;
      int j = 0;
      for (; j + 4 <= n; j += 4)
        {
          const gint8 *b0 = b + (gsize) j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
          __m256i c0 = _mm256_setzero_si256 (), c1 = _mm256_setzero_si256 ();
          __m256i c2 = _mm256_setzero_si256 (), c3 = _mm256_setzero_si256 ();
          for (int p = 0; p < k32; p += 32)
            {
              __m256i av = _mm256_loadu_si256 ((const __m256i *) (ar + p));
              __m256i aabs = _mm256_sign_epi8 (av, av);
              c0 = _mm256_add_epi32 (c0, dot32 (aabs, av, b0 + p, ones));
              c1 = _mm256_add_epi32 (c1, dot32 (aabs, av, b1 + p, ones));
              c2 = _mm256_add_epi32 (c2, dot32 (aabs, av, b2 + p, ones));
              c3 = _mm256_add_epi32 (c3, dot32 (aabs, av, b3 + p, ones));
            }
          for (int p = k32; p < k16; p += 16)
            {
              __m256i av = load16_i8_as_i16 (ar + p);
              c0 = _mm256_add_epi32 (c0, _mm256_madd_epi16 (av, load16_i8_as_i16 (b0 + p)));
              c1 = _mm256_add_epi32 (c1, _mm256_madd_epi16 (av, load16_i8_as_i16 (b1 + p)));
              c2 = _mm256_add_epi32 (c2, _mm256_madd_epi16 (av, load16_i8_as_i16 (b2 + p)));
              c3 = _mm256_add_epi32 (c3, _mm256_madd_epi16 (av, load16_i8_as_i16 (b3 + p)));
            }
          gint32 s0 = hsum_epi32 (c0), s1 = hsum_epi32 (c1);
          gint32 s2 = hsum_epi32 (c2), s3 = hsum_epi32 (c3);
          for (int p = k16; p < k; p++)
            {
              gint32 av = ar[p];
              s0 += av * b0[p];
              s1 += av * b1[p];
              s2 += av * b2[p];
              s3 += av * b3[p];
            }
          cr[j] = s0;
          cr[j + 1] = s1;
          cr[j + 2] = s2;
          cr[j + 3] = s3;
        }
      for (; j < n; j++)
        {
          const gint8 *br = b + (gsize) j * ldb;
          __m256i acc = _mm256_setzero_si256 ();
          for (int p = 0; p < k32; p += 32)
            {
              __m256i av = _mm256_loadu_si256 ((const __m256i *) (ar + p));
              acc = _mm256_add_epi32 (acc, dot32 (_mm256_sign_epi8 (av, av), av, br + p, ones));
            }
          for (int p = k32; p < k16; p += 16)
            acc = _mm256_add_epi32 (acc, _mm256_madd_epi16 (load16_i8_as_i16 (ar + p),
                                                            load16_i8_as_i16 (br + p)));
          gint32 s = hsum_epi32 (acc);
          for (int p = k16; p < k; p++)
            s += (gint32) ar[p] * br[p];
          cr[j] = s;
        }
    }
}
#endif

void
fw_qgemm_i8_variant (gboolean avx2, int m, int n, int k, const gint8 *a, int lda,
                     const gint8 *b, int ldb, gint32 *c, int ldc)
{
#ifdef FW_QUANT_X86
  if (avx2 && __builtin_cpu_supports ("avx2"))
    {
      qgemm_avx2 (m, n, k, a, lda, b, ldb, c, ldc);
      return;
    }
#endif
  qgemm_c (m, n, k, a, lda, b, ldb, c, ldc);
}

void
fw_qgemm_i8 (int m, int n, int k, const gint8 *a, int lda, const gint8 *b, int ldb, gint32 *c,
             int ldc)
{
#ifdef FW_QUANT_X86
  if (fw_kernels_have_avx2 ())
    {
      qgemm_avx2 (m, n, k, a, lda, b, ldb, c, ldc);
      return;
    }
#endif
  qgemm_c (m, n, k, a, lda, b, ldb, c, ldc);
}

/* ---- modes ---- */

static const char *const mode_names[] = { "f16", "int8", "ternary", "binary" };

const char *
fw_quant_mode_name (FwQuantMode mode)
{
  return (unsigned) mode < G_N_ELEMENTS (mode_names) ? mode_names[mode] : "?";
}

gboolean
fw_quant_mode_parse (const char *s, FwQuantMode *mode, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (mode_names); i++)
    if (g_strcmp0 (s, mode_names[i]) == 0)
      {
        *mode = (FwQuantMode) i;
        return TRUE;
      }
  if (g_strcmp0 (s, "fp16") == 0)
    {
      *mode = FW_QUANT_F16;
      return TRUE;
    }
  g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
               "quantization mode '%s' is unknown (choose f16, int8, ternary or binary)",
               s != NULL ? s : "");
  return FALSE;
}

/* ---- ternary / binary ---- */

float
fw_ternarize (const float *w, gsize n, float *q, float *delta)
{
  double mean_abs = 0;
  for (gsize i = 0; i < n; i++)
    mean_abs += fabsf (w[i]);
  mean_abs /= MAX (n, 1);
  float d = (float) (0.7 * mean_abs);
  double sum = 0;
  gsize cnt = 0;
  for (gsize i = 0; i < n; i++)
    if (fabsf (w[i]) > d)
      {
        sum += fabsf (w[i]);
        cnt++;
      }
  float alpha = cnt > 0 ? (float) (sum / cnt) : 0.0f;
  for (gsize i = 0; i < n; i++)
    q[i] = fabsf (w[i]) > d ? (w[i] > 0 ? alpha : -alpha) : 0.0f;
  if (delta != NULL)
    *delta = d;
  return alpha;
}

float
fw_binarize (const float *w, gsize n, float *q)
{
  double mean_abs = 0;
  for (gsize i = 0; i < n; i++)
    mean_abs += fabsf (w[i]);
  float alpha = (float) (mean_abs / MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    q[i] = w[i] >= 0 ? alpha : -alpha;
  return alpha;
}

/* ---- the fine-tuning loop ---- */

gboolean
fw_compress_finetune (FwModel *m, const FwTrainConfig *cfg, FwDataset *train, FwDataset *test,
                      const FwCompressHooks *hooks, const FwTrainHooks *train_hooks,
                      GCancellable *cancellable, GArray *metrics, GError **error)
{
  static const FwCompressHooks none = { 0 };
  if (hooks == NULL)
    hooks = &none;
  const gsize in = fw_shape_size (m->input);
  if (train == NULL || train->n < 1 || fw_dataset_sample_size (train) != in)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "fine-tuning: the training set is empty or its samples do not fit the "
                   "model's input %dx%dx%d", m->input.c, m->input.h, m->input.w);
      return FALSE;
    }
  if (test != NULL && (test->n < 1 || fw_dataset_sample_size (test) != in))
    test = NULL;
  const int n = train->n, k = m->n_classes;
  const int batch = MAX (1, MIN (cfg->batch, n));
  const int n_batches = (n + batch - 1) / batch;
  fw_model_reserve (m, batch);
  g_autofree gint32 *idx = g_new (gint32, n);
  g_autofree gint32 *yb = g_new (gint32, batch);
  float *xb = fw_alloc_floats ((gsize) batch * in);
  float *dlogits = fw_alloc_floats ((gsize) batch * k);
  g_autoptr (FwOptimizer) opt = fw_optimizer_new (m, cfg);
  FwRng root, shuffle_rng;
  fw_rng_init (&root, cfg->seed);
  fw_rng_split (&root, FW_RNG_SHUFFLE, &shuffle_rng);
  fw_rng_split (&root, FW_RNG_DROPOUT, &m->dropout_rng);

  gboolean ok = TRUE;
  for (int e = 0; e < cfg->epochs && ok; e++)
    {
      double t0 = fw_now ();
      FwRng rng;
      fw_rng_split (&shuffle_rng, (guint64) e, &rng);
      for (int i = 0; i < n; i++)
        idx[i] = i;
      fw_rng_shuffle (&rng, idx, n);
      double lr = fw_train_lr_at (cfg, e), loss_sum = 0;
      gint64 correct = 0;
      for (int b = 0; b < n_batches && ok; b++)
        {
          if (g_cancellable_is_cancelled (cancellable))
            {
              g_set_error (error, FW_ERROR, FW_ERROR_CANCELLED, "Fine-tuning cancelled");
              ok = FALSE;
              break;
            }
          int s = b * batch, nb = MIN (batch, n - s);
          for (int i = 0; i < nb; i++)
            {
              gint32 j = idx[s + i];
              memcpy (xb + (gsize) i * in, train->x + (gsize) j * in, sizeof (float) * in);
              yb[i] = train->y[j];
            }
          if (hooks->apply != NULL)
            hooks->apply (m, hooks->user);
          const float *logits = fw_model_forward (m, xb, nb, TRUE);
          double loss = fw_loss_softmax_xent (logits, nb, k, yb, NULL,
                                              (float) cfg->label_smoothing, dlogits, NULL);
          for (int i = 0; i < nb; i++)
            {
              const float *r = logits + (gsize) i * k;
              int best = 0;
              for (int j = 1; j < k; j++)
                if (r[j] > r[best])
                  best = j;
              correct += best == yb[i];
            }
          fw_model_backward (m, dlogits, nb);
          if (hooks->restore != NULL)
            hooks->restore (m, hooks->user);
          if (!isfinite (loss) || fw_model_find_nonfinite (m, TRUE) >= 0)
            {
              g_set_error (error, FW_ERROR, FW_ERROR_NUMERIC,
                           "fine-tuning diverged in epoch %d (loss %g): lower the learning rate",
                           e + 1, loss);
              ok = FALSE;
              break;
            }
          fw_optimizer_step (opt, m, lr);
          if (hooks->after_step != NULL)
            hooks->after_step (m, lr, hooks->user);
          loss_sum += loss * nb;
          if (train_hooks != NULL && train_hooks->batch != NULL)
            train_hooks->batch (train_hooks->user, e + 1 + hooks->epoch_offset,
                                cfg->epochs + hooks->epoch_offset, b + 1, n_batches, loss,
                                (double) correct / (s + nb));
        }
      if (!ok)
        break;
      double secs = fw_now () - t0;
      if (hooks->epoch_end != NULL)
        hooks->epoch_end (m, e, hooks->user);
      FwEpochMetrics em = { e + 1 + hooks->epoch_offset, loss_sum / n, (double) correct / n, NAN, NAN, NAN, lr, secs };
      if (test != NULL)
        {
          if (hooks->apply != NULL)
            hooks->apply (m, hooks->user);
          g_autoptr (FwEvalResult) r = fw_evaluate (m, test, 1000, cancellable, error);
          if (hooks->restore != NULL)
            hooks->restore (m, hooks->user);
          if (r == NULL)
            {
              ok = FALSE;
              break;
            }
          em.test_acc = r->accuracy;
        }
      if (metrics != NULL)
        g_array_append_val (metrics, em);
      if (train_hooks != NULL && train_hooks->epoch != NULL)
        train_hooks->epoch (train_hooks->user, &em);
    }
  fw_free_aligned (xb);
  fw_free_aligned (dlogits);
  return ok;
}

/* ---- STE training ---- */

/* The tensors a weight quantizer acts on: every "...weight" tensor of the model, as
 * (offset into m->params, length) pairs. */
GArray *
fw_quant_weight_tensors (const FwModel *m)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (gsize) * 3);
  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = m->layers[i];
      FwTensorInfo t[FW_LAYER_MAX_TENSORS];
      int nt = l->klass->tensors (l, t);
      for (int j = 0; j < nt; j++)
        if (t[j].trainable && g_str_has_suffix (t[j].name, "weight"))
          {
            gsize len = 1;
            for (int d = 0; d < t[j].ndim; d++)
              len *= (gsize) t[j].dims[d];
            gsize row[3] = { (gsize) (l->w - m->params) + t[j].offset, len, (gsize) i };
            g_array_append_val (a, row);
          }
    }
  return a;
}

typedef struct {
  FwQuantMode mode;
  float clip;
  GArray *tensors;   /* (offset, len, layer) */
  float *latent;     /* [n_params] the float weights while the quantized ones run */
} SteState;

static void
ste_apply (FwModel *m, gpointer user)
{
  SteState *st = user;
  memcpy (st->latent, m->params, sizeof (float) * m->n_params);
  for (guint i = 0; i < st->tensors->len; i++)
    {
      const gsize *t = &g_array_index (st->tensors, gsize, 3 * i);
      float *w = m->params + t[0];
      if (st->mode == FW_QUANT_TERNARY)
        fw_ternarize (st->latent + t[0], t[1], w, NULL);
      else
        fw_binarize (st->latent + t[0], t[1], w);
    }
}

/* dL/dw_latent := dL/dw_quantized (the straight-through estimator), 0 where |w| > clip */
static void
ste_restore (FwModel *m, gpointer user)
{
  SteState *st = user;
  memcpy (m->params, st->latent, sizeof (float) * m->n_params);
  if (st->clip > 0)
    for (guint i = 0; i < st->tensors->len; i++)
      {
        const gsize *t = &g_array_index (st->tensors, gsize, 3 * i);
        for (gsize j = t[0]; j < t[0] + t[1]; j++)
          if (fabsf (m->params[j]) > st->clip)
            m->grads[j] = 0.0f;
      }
}

gboolean
fw_quant_train_ste (FwModel *m, FwQuantMode mode, float clip, const FwTrainConfig *cfg,
                    FwDataset *train, FwDataset *test, const FwTrainHooks *train_hooks,
                    GCancellable *cancellable, GArray *metrics, GError **error)
{
  if (mode != FW_QUANT_TERNARY && mode != FW_QUANT_BINARY)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "STE training is for ternary or binary weights, not %s",
                   fw_quant_mode_name (mode));
      return FALSE;
    }
  SteState st = { mode, clip, fw_quant_weight_tensors (m), fw_alloc_floats (m->n_params) };
  FwCompressHooks hooks = { ste_apply, ste_restore, NULL, NULL, &st, 0 };
  gboolean ok = fw_compress_finetune (m, cfg, train, test, &hooks, train_hooks, cancellable,
                                      metrics, error);
  ste_apply (m, &st); /* the result: the quantized weights */
  g_array_unref (st.tensors);
  fw_free_aligned (st.latent);
  return ok;
}

/* ---- model conversion ---- */

static FwModel *
model_like (const FwModel *src, const char *spec, GError **error)
{
  FwModel *m = fw_model_new (src->arch, spec, src->input, error);
  if (m == NULL)
    return NULL;
  m->in_mean = src->in_mean;
  m->in_std = src->in_std;
  m->class_names = g_strdupv (src->class_names);
  return m;
}

/* copies a layer's float tensors and flags (layers left as they are) */
static void
copy_float_layer (FwLayer *dst, const FwLayer *src)
{
  memcpy (dst->w, src->w, sizeof (float) * src->n_w);
  memcpy (dst->st, src->st, sizeof (float) * src->n_st);
  dst->frozen = src->frozen;
}

FwModel *
fw_quant_model_f16 (const FwModel *src, GError **error)
{
  g_autoptr (GString) spec = g_string_new (NULL);
  for (int i = 0; i < src->n_layers; i++)
    {
      const FwLayer *l = src->layers[i];
      FwTensorInfo ti[FW_LAYER_MAX_TENSORS];
      g_autofree char *tok = l->klass->spec (l);
      if (l->klass->packed != NULL)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "layer %d (%s) is already compressed; convert the float model", i + 1,
                       tok);
          return NULL;
        }
      g_string_append_printf (spec, "%s%s%s", i > 0 ? "," : "",
                              l->klass->tensors (l, ti) > 0 ? "f16:" : "", tok);
    }
  g_autoptr (FwModel) m = model_like (src, spec->str, error);
  if (m == NULL)
    return NULL;
  for (int i = 0; i < m->n_layers; i++)
    {
      if (m->layers[i]->klass != &fw_layer_f16)
        copy_float_layer (m->layers[i], src->layers[i]);
      else if (!fw_layer_f16_set_from (m->layers[i], src->layers[i], error))
        return NULL;
    }
  return g_steal_pointer (&m);
}

FwModel *
fw_quant_model_int8 (FwModel *src, const float *calib, int n, gboolean per_channel,
                     gboolean symmetric, GError **error)
{
  if (calib == NULL || n < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "int8 quantization needs calibration samples (got none)");
      return NULL;
    }
  const char *flags = per_channel ? (symmetric ? "pc:sym" : "pc:aff")
                                  : (symmetric ? "pt:sym" : "pt:aff");
  g_autoptr (GString) spec = g_string_new (NULL);
  int n_q = 0;
  for (int i = 0; i < src->n_layers; i++)
    {
      const FwLayer *l = src->layers[i];
      g_autofree char *tok = l->klass->spec (l);
      if (l->klass->packed != NULL)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "layer %d (%s) is already compressed; quantize the float model", i + 1,
                       tok);
          return NULL;
        }
      if (i > 0)
        g_string_append_c (spec, ',');
      if (l->klass == &fw_layer_dense || l->klass == &fw_layer_conv)
        {
          g_string_append_printf (spec, "q%s:%s", tok, flags);
          n_q++;
        }
      else
        g_string_append (spec, tok);
    }
  if (n_q == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "the model '%s' has no dense or conv layer to quantize", src->spec);
      return NULL;
    }
  /* calibration: the range of every layer's input over the sample, in batches */
  g_autofree float *lo = g_new (float, src->n_layers);
  g_autofree float *hi = g_new (float, src->n_layers);
  for (int i = 0; i < src->n_layers; i++)
    lo[i] = INFINITY, hi[i] = -INFINITY;
  const gsize in = fw_shape_size (src->input);
  for (int s = 0; s < n; s += 256)
    {
      int b = MIN (256, n - s);
      fw_model_forward (src, calib + (gsize) s * in, b, FALSE);
      for (int i = 0; i < src->n_layers; i++)
        {
          const FwLayer *l = src->layers[i];
          if (l->klass != &fw_layer_dense && l->klass != &fw_layer_conv)
            continue;
          const float *x = i == 0 ? src->act_in : src->act[i - 1];
          gsize len = (gsize) b * fw_shape_size (l->in);
          for (gsize j = 0; j < len; j++)
            {
              lo[i] = MIN (lo[i], x[j]);
              hi[i] = MAX (hi[i], x[j]);
            }
        }
    }
  g_autoptr (FwModel) m = model_like (src, spec->str, error);
  if (m == NULL)
    return NULL;
  for (int i = 0; i < m->n_layers; i++)
    {
      FwLayer *l = m->layers[i];
      if (l->klass == &fw_layer_qdense || l->klass == &fw_layer_qconv)
        {
          if (!fw_layer_quant_set_from (l, src->layers[i], lo[i], hi[i], error))
            return NULL;
        }
      else
        copy_float_layer (l, src->layers[i]);
    }
  return g_steal_pointer (&m);
}
