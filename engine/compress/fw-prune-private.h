/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-prune-private.h: what the pruning files share (layer geometry, unit chains). */
#pragma once

#include "fw-prune.h"

G_BEGIN_DECLS

/* The weight matrix of a prunable (dense or conv) layer in the flat buffer. */
typedef struct {
  gsize w_off;            /* offset of "weight" in m->params */
  gsize b_off;            /* offset of "bias" (when has_bias) */
  gboolean has_bias;
  gboolean conv;
  int rows, cols;         /* rows = units, cols = in (dense) or in_c kh kw (conv) */
  int kh, kw;
} FwPruneGeom;

gboolean fw_prune_geom           (const FwModel *m, int i, FwPruneGeom *g);
/* Index of the last prunable layer (the logits layer), or -1. */
int      fw_prune_last_prunable  (const FwModel *m);
/* The dense/conv layer that reads layer i's units through pass-through layers only
 * (activations with f(0) = 0, pools, flatten, dropout, bn), or -1. */
int      fw_prune_consumer       (const FwModel *m, int i);
/* TRUE when layer i's rows may be pruned as units under granularity g. */
gboolean fw_prune_unit_layer     (const FwModel *m, int i, FwPruneGranularity g);

FwPruneResult *fw_prune_result_new (void);

G_END_DECLS
