/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-loss.h: losses over a batch of logits. Each returns the mean loss over the batch and
 * writes d(mean loss)/d(logits) when grad != NULL. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Softmax cross-entropy. Targets are either hard labels (labels[n], soft NULL) or soft
 * distributions (soft[n x k], rows summing to 1; labels ignored). label_smoothing in [0, 1)
 * mixes hard labels with the uniform distribution. probs[n x k] (optional) receives softmax.
 * grad[n x k] = (softmax - target) / n. */
double fw_loss_softmax_xent (const float *logits, int n, int k, const gint32 *labels,
                             const float *soft, float label_smoothing, float *grad,
                             float *probs);

/* Mean squared error: (1/n) sum_i sum_j (y_ij - t_ij)^2 / 2 ... defined as
 * L = 1/(2n) * sum (y - t)^2 so that grad = (y - t) / n. */
double fw_loss_mse (const float *y, const float *t, int n, int k, float *grad);

/* Row-wise softmax with temperature T (T = 1 for the plain softmax), numerically stable. */
void   fw_softmax (const float *logits, int n, int k, float temperature, float *out);

G_END_DECLS
