/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-quant.h: quantization: fp16 storage, int8 post-training quantization with an int8
 * kernel, ternary and binary weights trained with a straight-through estimator.
 *
 * FP16. IEEE 754 binary16 (1 sign, 5 exponent, 10 fraction bits), converted with round to
 * nearest even; magnitudes beyond 65504 round to infinity, below 2^-24 to (signed) zero,
 * subnormals in between. Storage only: layers decode to float once, at load.
 *
 * INT8. A real x is represented by an integer q in [-128, 127] with x ~ scale (q - zero).
 *   symmetric:  zero = 0, scale = max|x| / 127, q in [-127, 127]
 *   affine:     the range [lo, hi] (widened to contain 0, so 0 is exact) maps onto
 *               [-128, 127]: scale = (hi - lo) / 255, zero = round(-128 - lo / scale)
 *   q = clamp(round(x / scale) + zero), so |x - scale (q - zero)| <= scale / 2 inside the range.
 * Weights get one (scale, zero) per tensor or per output channel (row of W); activations one
 * per layer input, calibrated on a sample of the data (its observed min and max).
 * A quantized product: with A = sa (qa - za), B = sb (qb - zb) over an inner dimension K,
 *   sum_p A_p B_p = sa sb (sum qa qb - zb sum qa - za sum qb + K za zb)
 * and the kernel below computes the integer sums sum qa qb (int8 x int8 -> int32, exact).
 *
 * TERNARY / BINARY (TWN, Li et al. 2016; BinaryConnect / XNOR-style scaling). Per tensor:
 *   ternary: delta = 0.7 mean|w|, alpha = mean of |w_i| over |w_i| > delta,
 *            q_i = alpha sign(w_i) if |w_i| > delta else 0
 *   binary:  alpha = mean|w|, q_i = alpha sign(w_i) (sign(0) = +1)
 * Training keeps float latent weights; the forward pass runs the quantized ones and the
 * gradient with respect to the quantized weight is applied to the latent one (straight-through
 * estimator), zeroed where |w_i| > clip (the hard-tanh STE; clip = 0 means no clipping). */
#pragma once

#include <gio/gio.h>

#include "fw-dataset.h"
#include "fw-model.h"
#include "fw-train.h"

G_BEGIN_DECLS

/* ---- fp16 ---- */
guint16 fw_f16_from_f32 (float x);
float   fw_f16_to_f32   (guint16 h);
void    fw_f16_encode   (const float *x, gsize n, guint16 *out);
void    fw_f16_decode   (const guint16 *h, gsize n, float *out);

/* ---- int8 ---- */
typedef struct {
  float scale;            /* > 0 */
  int zero;               /* in [-127, 127]; 0 for symmetric */
} FwQParams;

/* The parameters that map [lo, hi] (lo <= hi) onto int8. An empty or all-zero range gives
 * scale 1 (every value quantizes to its rounding). */
FwQParams fw_qparams_from_range (float lo, float hi, gboolean symmetric);
/* q_i = clamp(round(x_i / scale) + zero, -127, 127) */
void      fw_quantize_i8        (const float *x, gsize n, FwQParams p, gint8 *q);
void      fw_dequantize_i8      (const gint8 *q, gsize n, FwQParams p, float *x);

/* The int8 kernel: C[m x n] = A[m x k] B[n x k]^T in exact int32 arithmetic,
 *   C(i, j) = sum_p A(i, p) B(j, p),  A(i, p) = a[i lda + p], B(j, p) = b[j ldb + p],
 *   C(i, j) = c[i ldc + j]  (overwritten).
 * Both operands have the inner dimension contiguous: A is a batch of quantized inputs, B the
 * quantized weight rows, every value in [-127, 127] (as fw_quantize_i8 makes them; -128 is
 * outside the contract: the AVX2 path would be wrong for it). Exact while k < 2^17. AVX2 (32
 * products per vpmaddubsw on |a| and b sign(a), no saturation for |values| <= 127) where the
 * CPU has it and FW_NO_AVX2 is unset, else plain C; the same integers either way. */
void fw_qgemm_i8         (int m, int n, int k, const gint8 *a, int lda, const gint8 *b, int ldb,
                          gint32 *c, int ldc);
/* The same with the implementation chosen by the caller (tests): avx2 = FALSE runs plain C;
 * avx2 = TRUE on a CPU without AVX2 also runs plain C. */
void fw_qgemm_i8_variant (gboolean avx2, int m, int n, int k, const gint8 *a, int lda,
                          const gint8 *b, int ldb, gint32 *c, int ldc);

/* ---- model conversion (the layer kinds are in fw-layer-quant.c) ---- */
typedef enum {
  FW_QUANT_F16,           /* every layer's tensors stored as fp16 ("f16:" wrapped kinds) */
  FW_QUANT_INT8,          /* dense -> qdense, conv -> qconv, others unchanged */
  FW_QUANT_TERNARY,       /* STE-trained, stored as 2-bit codes + codebook {-a, 0, a} */
  FW_QUANT_BINARY,        /* STE-trained, stored as 1-bit codes + codebook {-a, a} */
} FwQuantMode;

const char *fw_quant_mode_name  (FwQuantMode mode);               /* "f16" "int8" ... */
gboolean    fw_quant_mode_parse (const char *s, FwQuantMode *mode, GError **error);

/* fp16 storage of every layer with tensors. */
FwModel *fw_quant_model_f16  (const FwModel *src, GError **error);
/* int8 post-training quantization of src's dense and conv layers; the inputs of those layers
 * are calibrated on calib (n samples of raw input, [n x size(input)]). */
FwModel *fw_quant_model_int8 (FwModel *src, const float *calib, int n, gboolean per_channel,
                              gboolean symmetric, GError **error);

/* ---- ternary / binary ---- */
/* q[n] <- the ternary (or binary) version of w[n]; returns alpha, *delta the threshold
 * (0 for binary). */
float fw_ternarize (const float *w, gsize n, float *q, float *delta);
float fw_binarize  (const float *w, gsize n, float *q);

/* Hooks of a fine-tuning loop for compressed training (STE, clustered training): each may be
 * NULL. apply() writes the compressed weights into m->params before a forward pass (saving
 * what restore() needs); restore() runs after backward, before the optimizer step (it may edit
 * m->grads), and after an evaluation; after_step() runs after each optimizer step (with its learning rate); epoch_end()
 * after each epoch (before the evaluation). */
typedef struct {
  void (*apply)      (FwModel *m, gpointer user);
  void (*restore)    (FwModel *m, gpointer user);
  void (*after_step) (FwModel *m, double lr, gpointer user);
  void (*epoch_end)  (FwModel *m, int epoch, gpointer user);
  gpointer user;
  int epoch_offset;       /* added to the reported epoch numbers (a second phase) */
} FwCompressHooks;

/* Minibatch training with cfg (epochs, batch, optimizer, lr schedule, seed) calling hooks;
 * after every epoch evaluates test (when not NULL) with the weights as apply() makes them,
 * appends an FwEpochMetrics to metrics and calls train_hooks->epoch. Cancellable per batch. */
gboolean fw_compress_finetune (FwModel *m, const FwTrainConfig *cfg, FwDataset *train,
                               FwDataset *test, const FwCompressHooks *hooks,
                               const FwTrainHooks *train_hooks, GCancellable *cancellable,
                               GArray *metrics, GError **error);

/* The weight tensors compression acts on: every trainable "...weight" tensor of m, as rows of
 * three gsize (offset into m->params, length, layer index). Free with g_array_unref. */
GArray  *fw_quant_weight_tensors (const FwModel *m);

/* STE training of the weight tensors ("...weight") of every dense / conv layer of m, in place;
 * on return m->params hold the quantized weights. clip as above (binary: 1 by default). */
gboolean fw_quant_train_ste (FwModel *m, FwQuantMode mode, float clip, const FwTrainConfig *cfg,
                             FwDataset *train, FwDataset *test, const FwTrainHooks *train_hooks,
                             GCancellable *cancellable, GArray *metrics, GError **error);

G_END_DECLS
