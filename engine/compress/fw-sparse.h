/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-sparse.h: the "sparse" layer kind (CSR fully connected layer, fw-sparse.c), which
 * fw_prune_sparsify() puts in place of dense layers that pruning left mostly zero. */
#pragma once

#include "fw-layer.h"

G_BEGIN_DECLS

/* Sets the sparsity pattern of a sparse layer: row_ptr [OUT + 1] (0 .. NNZ, non-decreasing),
 * cols [NNZ] the first input of each block, in [0, IN - B]. The values stay in l->w (values
 * [NNZ B], then bias [OUT]). */
void fw_sparse_layer_set (FwLayer *l, const gint32 *row_ptr, const gint32 *cols);
/* Copies the pattern out (same shapes as above). */
void fw_sparse_layer_get (const FwLayer *l, gint32 *row_ptr, gint32 *cols);

G_END_DECLS
