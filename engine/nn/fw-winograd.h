/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-winograd.h: Winograd F(2x2, 3x3) for 3x3 convolutions with stride 1 and padding 1
 * (output plane = input plane): forward, input gradient and weight gradient, each as 16
 * batched GEMMs over 4x4 input tiles (2.25x fewer multiplies than im2col + GEMM).
 *
 * Tensors as in fw-layer-conv.c: x [n][C][H][W], y [n][OUT][H][W], weight [OUT][C][3][3],
 * bias [OUT]. The scratch (fw_wino_scratch_floats) is caller-owned and fixed whatever n is:
 * samples run in groups of fw_wino_group() whose transformed tiles fit in cache. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  int c, h, w, out;
} FwWinoDims;

/* Samples per group for these dimensions (>= 1). */
int   fw_wino_group          (const FwWinoDims *d);
/* Scratch floats needed by forward and backward. */
gsize fw_wino_scratch_floats (const FwWinoDims *d);

/* y <- conv(x, weight) + bias */
void  fw_wino_forward  (const FwWinoDims *d, const float *weight, const float *bias,
                        const float *x, float *y, int n, float *scratch);
/* gweight <- dL/dweight (overwritten), dx <- dL/dx (overwritten, skipped when NULL).
 * The bias gradient is left to the caller (a plain sum of dy). */
void  fw_wino_backward (const FwWinoDims *d, const float *weight, const float *x,
                        const float *dy, float *gweight, float *dx, int n, float *scratch);

G_END_DECLS
