/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-cluster.h: weight clustering (weight sharing, Han et al. 2016 "Deep Compression").
 *
 * Each weight tensor ("...weight") of a layer is clustered by 1-D k-means into k centres
 * (linear initialisation over [min, max], Lloyd iterations); every weight is replaced by its
 * centre, so the tensor is a codebook c[k] plus one code per weight, stored bit-packed at
 * ceil(log2 k) bits (k = 5: 3 bits, about 10.7x smaller than float32).
 *
 * Clustered training keeps the weights tied to their centres: the gradient of a centre is the
 * sum of the gradients of its weights, dL/dc_j = sum_{i: code_i = j} dL/dw_i, the centres take
 * an Adam step on it and the weights are rewritten w_i = c[code_i]. Biases and other tensors
 * train as usual. Optionally a first "pull" phase trains the weights freely with an added
 * penalty (pull / 2) sum_i (w_i - c[code_i])^2, re-assigning codes and re-centring after every
 * epoch, so the weights gather around the centres before they are snapped onto them.
 *
 * Inference form: the "cluster:K:<inner layer token>" kind (fw-layer-quant.c) stores each
 * weight tensor as "<name>.codebook" (F32 [k]) and "<name>.codes" (U8, bit-packed), its other
 * tensors as F32, and decodes them once at load. */
#pragma once

#include <gio/gio.h>

#include "fw-dataset.h"
#include "fw-model.h"
#include "fw-train.h"

G_BEGIN_DECLS

#define FW_CLUSTER_MAX_K 256

/* Bits per code for k centres: ceil(log2 k), at least 1. */
int    fw_cluster_bits          (int k);
/* Bytes of n codes packed at `bits` bits each (LSB first, little-endian bit order). */
gsize  fw_codes_packed_bytes    (gsize n, int bits);
void   fw_codes_pack            (const guint8 *codes, gsize n, int bits, guint8 *out);
void   fw_codes_unpack          (const guint8 *packed, gsize n, int bits, guint8 *codes);

/* codes[i] <- the index of the centre nearest to x[i]; centres sorted ascending; on a tie the
 * lower centre. */
void   fw_cluster_assign        (const float *x, gsize n, const float *centres, int k,
                                 guint8 *codes);
/* 1-D k-means of x[n] into k (<= FW_CLUSTER_MAX_K) centres, ascending, after `iters` Lloyd
 * iterations from the linear initialisation (stops early when the codes stop changing); writes
 * codes[n]; returns the sum of squared distances to the centres. An empty cluster keeps its
 * previous centre. */
double fw_kmeans_1d             (const float *x, gsize n, int k, int iters, float *centres,
                                 guint8 *codes);

/* The clustering of a model's weight tensors. */
typedef struct {
  int layer;              /* index in the model */
  gsize offset, n;        /* the tensor in m->params */
  int k;
  float *centres;         /* [k] ascending */
  guint8 *codes;          /* [n] */
  float *m1, *m2;         /* [k] the centres' Adam moments */
  double *grad;           /* [k] dL/dc of the last batch */
} FwClusterTensor;

typedef struct {
  int k;
  int n_tensors;
  FwClusterTensor *t;
  float pull;             /* > 0 during the pull phase */
  int adam_t;             /* centre steps taken */
  double beta1, beta2, eps;
} FwClustering;

/* k-means of every weight tensor of m (k centres, iters Lloyd iterations); m is unchanged
 * until fw_clustering_snap(). */
FwClustering *fw_clustering_new   (const FwModel *m, int k, int iters, GError **error);
void          fw_clustering_free  (FwClustering *c);
/* w_i <- c[code_i] for every clustered tensor of m. */
void          fw_clustering_snap  (const FwClustering *c, FwModel *m);
/* One Lloyd step on m's current weights: re-assign codes, move centres to their means. */
void          fw_clustering_recentre (FwClustering *c, const FwModel *m);
/* Weight storage of the clustered tensors in bytes: packed codes + codebooks, and the same
 * tensors as float32. */
void          fw_clustering_bytes (const FwClustering *c, gsize *packed, gsize *f32);

/* The whole clustered training: pull_epochs epochs with the penalty `pull` (0: none), then
 * cfg->epochs - pull_epochs epochs of tied training (centroid gradients), with m snapped onto
 * the centres at the end. Epoch metrics (test accuracy of the snapped model in the tied phase)
 * go to metrics and train_hooks->epoch; numbering runs on across both phases. */
gboolean      fw_cluster_train    (FwModel *m, FwClustering *c, const FwTrainConfig *cfg,
                                   float pull, int pull_epochs, FwDataset *train,
                                   FwDataset *test, const FwTrainHooks *train_hooks,
                                   GCancellable *cancellable, GArray *metrics, GError **error);

/* The pull phase alone: cfg->epochs epochs of free training with the penalty `pull`, codes and
 * centres re-estimated after every epoch; m is not snapped. */
gboolean      fw_cluster_pull     (FwModel *m, FwClustering *c, const FwTrainConfig *cfg,
                                   float pull, FwDataset *train, FwDataset *test,
                                   const FwTrainHooks *train_hooks, GCancellable *cancellable,
                                   GArray *metrics, GError **error);

/* The inference form of a float model whose weight tensors take at most max_k distinct values
 * each (after clustering, or ternary / binary training): every layer with weight tensors
 * becomes "cluster:K:<token>". Fails naming the layer when a tensor has more values. */
FwModel      *fw_cluster_model_pack (const FwModel *src, int max_k, GError **error);

/* A histogram of a clustered tensor's current weights: counts[bins] over [lo, hi]. */
void          fw_weight_histogram (const float *w, gsize n, int bins, float lo, float hi,
                                   guint *counts);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwClustering, fw_clustering_free)

G_END_DECLS
