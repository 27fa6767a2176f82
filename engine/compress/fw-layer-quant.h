/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-layer-quant.h: the inference forms of quantized and clustered layers (fw-layer-quant.c).
 *
 *   qdense:UNITS[:pc|pt[:sym|aff]]            int8 fully connected layer
 *   qconv:OUT:K:S:P[:pc|pt[:sym|aff]]         int8 2-D convolution
 *       pc / pt: per-channel (one scale per output unit / channel) or per-tensor weights;
 *       sym / aff: symmetric (zero point 0) or affine quantization of weights and input.
 *       Stored: "weight" I8 [out x in] (conv: [out][c][k][k]), "weight_scale" F32 [1 or out],
 *       "weight_zero" I8 [1 or out], "bias" F32 [out], "input_scale" F32 [1],
 *       "input_zero" I8 [1]. Forward: the input is quantized with the calibrated (scale, zero),
 *       the product runs in int8 x int8 -> int32 (fw_qgemm_i8), the result is rescaled to
 *       float with the zero-point corrections, plus the bias.
 *   f16:<token>                                any layer with its tensors stored as fp16
 *   cluster:K:<token>                          any layer with each "...weight" tensor stored as
 *       "<name>.codebook" F32 [<= K] + "<name>.codes" U8 (bit-packed, ceil(log2 K) bits per
 *       weight), its other tensors F32
 * The wrappers decode once at load into a float copy of the inner layer and run it.
 *
 * All four are inference forms: no trainable parameters (n_w = 0). Their backward gives dx
 * (through the dequantized / decoded weights) so a model that mixes them with float layers
 * still trains its float layers; the compressed layers themselves are not updated. */
#pragma once

#include "fw-layer.h"
#include "fw-quant.h"

G_BEGIN_DECLS

extern const FwLayerClass fw_layer_qdense;
extern const FwLayerClass fw_layer_qconv;
extern const FwLayerClass fw_layer_f16;
extern const FwLayerClass fw_layer_cluster;

/* Fill a freshly built qdense / qconv layer from the float dense / conv layer src (same
 * shapes), with the input range [in_lo, in_hi] observed on calibration data. */
gboolean fw_layer_quant_set_from   (FwLayer *l, const FwLayer *src, float in_lo, float in_hi,
                                    GError **error);
/* Fill a freshly built "f16:<token>" layer from the float layer src of kind <token>. */
gboolean fw_layer_f16_set_from     (FwLayer *l, const FwLayer *src, GError **error);
/* Fill a freshly built "cluster:K:<token>" layer from the float layer src whose weight
 * tensors take at most K distinct values each. */
gboolean fw_layer_cluster_set_from (FwLayer *l, const FwLayer *src, GError **error);
/* The float layer a wrapper (f16, cluster) runs, or NULL for other kinds (read-only). */
const FwLayer *fw_layer_wrapped    (const FwLayer *l);

G_END_DECLS
