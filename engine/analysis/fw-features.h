/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-features.h: per-sample feature vectors for embeddings: raw pixels or one layer's output.
 *
 * Features of a model's layer i are the activations m->act[i] after a forward pass in eval
 * mode (the same numbers fw_model_forward computes), flattened per sample (c*h*w values).
 * With a model, the predicted class and its softmax probability come from the same pass. */
#pragma once

#include <gio/gio.h>

#include "fw-dataset.h"
#include "fw-model.h"

G_BEGIN_DECLS

typedef struct {
  int n;            /* samples */
  int d;            /* feature width */
  float *x;         /* [n x d] */
  gint32 *label;    /* [n] the dataset's labels */
  gint32 *index;    /* [n] sample index in the dataset */
  gint32 *pred;     /* [n] predicted class, NULL for pixel features */
  float *conf;      /* [n] softmax probability of the predicted class, NULL for pixels */
} FwFeatures;

void        fw_features_free    (FwFeatures *f);

/* Pixel features of samples idx[0..n) of ds (all samples in order when idx is NULL; n is
 * then ignored). */
FwFeatures *fw_features_pixels  (const FwDataset *ds, const gint32 *idx, int n);

/* Layer features: layer in [0, m->n_layers) (the last one gives the logits), or -1 for the
 * model's normalised input. The forward pass runs in batches of `batch` (0: 256) in eval
 * mode; the model's activation buffers are overwritten (use a private copy of a shared model).
 * Errors: a layer out of range, a dataset whose sample shape differs from the model's input,
 * cancellation (checked between batches). */
FwFeatures *fw_features_layer   (FwModel *m, int layer, const FwDataset *ds,
                                 const gint32 *idx, int n, int batch,
                                 GCancellable *cancellable, GError **error);

/* Width of layer i's output (c*h*w), or the input size for layer -1. */
int         fw_features_layer_width (const FwModel *m, int layer);
/* "3: dense:128 (128)" style label for a layer drop-down; free with g_free. */
char       *fw_features_layer_label (const FwModel *m, int layer);

/* A seeded uniform choice of min(n, ds->n) distinct sample indices, in increasing order;
 * returns the count written to idx_out[n]. */
int         fw_features_pick    (const FwDataset *ds, int n, guint64 seed, gint32 *idx_out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwFeatures, fw_features_free)

G_END_DECLS
