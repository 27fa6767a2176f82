/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-embed.h: 2-D (or k-D) embeddings of feature vectors: PCA and t-SNE.
 *
 * PCA: centre X [n x d] on its column means mu, covariance C = Xc^T Xc / (n - 1) [d x d],
 * eigendecomposition C = V diag(lambda) V^T (LAPACK ssyevd; ssyevr when k < d/4), keep the
 * k largest eigenpairs; projections Y = Xc V_k [n x k]; explained variance ratio lambda_i / trace(C).
 *
 * t-SNE (van der Maaten & Hinton 2008; Barnes-Hut: van der Maaten 2014):
 *   p_{j|i} = exp(-beta_i |x_i - x_j|^2) / sum_k exp(-beta_i |x_i - x_k|^2), beta_i found by
 *   binary search so that the entropy of p_{.|i} is log(perplexity) (natural log);
 *   the exact version uses all j != i, the Barnes-Hut version the floor(3 * perplexity)
 *   nearest neighbours; p_ij = (p_{j|i} + p_{i|j}) / 2n, so sum_{i != j} p_ij = 1.
 *   q_ij = w_ij / Z with w_ij = 1 / (1 + |y_i - y_j|^2), Z = sum_{k != l} w_kl.
 *   KL(P || Q) = sum_{i != j} p_ij log(p_ij / q_ij), and
 *   dKL/dy_i = 4 sum_j (p_ij - q_ij) w_ij (y_i - y_j)
 *            = 4 [ sum_j p_ij w_ij (y_i - y_j)  -  (1/Z) sum_j w_ij^2 (y_i - y_j) ].
 *   The second (repulsive) sum and Z are computed exactly over all pairs (O(n^2)) or by
 *   Barnes-Hut on a quadtree: a cell of width r at distance dist from y_i whose
 *   r / dist < theta stands for all its points at their centre of mass.
 *   Optimisation: gradient descent with momentum (0.5, then 0.8 after the exaggeration
 *   phase), per-coordinate gains (+0.2 when the gradient changes sign against the last
 *   step, x0.8 otherwise, at least 0.01), P multiplied by the early exaggeration (12) for the
 *   first 250 iterations; the layout is re-centred every iteration.
 */
#pragma once

#include <gio/gio.h>

#include "fw-dataset.h"
#include "fw-model.h"

G_BEGIN_DECLS

/* ---- PCA ---- */

typedef struct {
  int d, k;
  float *mean;          /* [d] column means */
  float *components;    /* [k x d] unit principal directions, largest variance first */
  float *variance;      /* [k] eigenvalues of the covariance (variance along each direction) */
  float *ratio;         /* [k] explained variance ratio: variance[i] / total_variance */
  double total_variance;/* trace of the covariance */
} FwPca;

/* Fits PCA with k components (1 <= k <= d) on x [n x d], n >= 2. The sign of each component
 * is fixed so that its largest-magnitude coordinate is positive. */
FwPca   *fw_pca_fit       (const float *x, int n, int d, int k, GError **error);
/* y [n x k] <- (x - mean) V_k */
void     fw_pca_transform (const FwPca *pca, const float *x, int n, float *y);
void     fw_pca_free      (FwPca *pca);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwPca, fw_pca_free)

/* ---- t-SNE ---- */

/* Symmetric affinities P in compressed rows: the entries of row i are
 * val[row[i] .. row[i+1]) at columns col[...]; both (i, j) and (j, i) are stored. */
typedef struct {
  int n;
  gint64 *row;          /* [n + 1] */
  gint32 *col;          /* [nnz] */
  double *val;          /* [nnz] */
} FwTsneP;

void     fw_tsne_p_free   (FwTsneP *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwTsneP, fw_tsne_p_free)

/* P from x [n x d] over the k_neighbours nearest neighbours of each point (k_neighbours
 * >= n - 1 or <= 0: all other points, the exact t-SNE affinities). The perplexity must be
 * below the number of neighbours used (else an error). */
FwTsneP *fw_tsne_affinities (const float *x, int n, int d, double perplexity,
                             int k_neighbours, GError **error);

/* Gradient of KL(exaggeration * P || Q) at y [n x 2] (in double): grad [n x 2].
 * Exact: O(n^2) sums. When kl != NULL, *kl <- KL(P || Q) (without exaggeration; costs a
 * log per entry of P). */
void     fw_tsne_gradient_exact (const FwTsneP *p, const double *y, double exaggeration,
                                 double *grad, double *kl);
/* Barnes-Hut: theta = 0 visits every point (same value as exact up to rounding); *kl is
 * then estimated with the estimated Z. */
void     fw_tsne_gradient_bh    (const FwTsneP *p, const double *y, double theta,
                                 double exaggeration, double *grad, double *kl);

/* Called every `callback_every` iterations with the current layout y [n x 2] (valid during
 * the call only), the KL divergence of it, the iteration (1-based) and the total. Return
 * FALSE to stop early (fw_tsne_run then returns TRUE with the layout reached). */
typedef gboolean (*FwTsneCallback) (int iter, int n_iter, const float *y, int n, double kl,
                                    gpointer user_data);

/* Exact t-SNE keeps n x n affinities: refused above this many points. */
#define FW_TSNE_EXACT_LIMIT 5000

typedef struct {
  double perplexity;          /* 30 (lowered to (n - 1) / 3 for tiny n) */
  int n_iter;                 /* 1000 */
  double theta;               /* Barnes-Hut accuracy, 0.5 */
  int exact_max;              /* exact O(n^2) t-SNE when n <= exact_max (1000) */
  double early_exaggeration;  /* 12 */
  int exaggeration_iters;     /* 250 */
  double learning_rate;       /* <= 0: automatic, max(n / early_exaggeration / 4, 50) */
  int pca_dims;               /* reduce the input to this many dimensions by PCA first when
                               * d is larger (50; 0: never) */
  guint64 seed;               /* random initial layout N(0, 1e-4^2) */
  const float *init;          /* [n x 2] initial layout instead, or NULL */
  FwTsneCallback callback;    /* or NULL */
  gpointer user_data;
  int callback_every;         /* 10 */
  GCancellable *cancellable;  /* checked every iteration */
} FwTsneParams;

void     fw_tsne_params_init (FwTsneParams *params);

/* t-SNE of x [n x d] into y [n x 2]. Errors: n < 4, bad parameters, cancellation. */
gboolean fw_tsne_run      (const float *x, int n, int d, const FwTsneParams *params,
                           float *y, GError **error);

/* ---- Embeddings that follow training ----
 *
 * A tracker holds a fixed choice of samples and the last layout. Each update embeds the
 * features of a model (one epoch's weights, say) by t-SNE starting from the previous layout,
 * without early exaggeration, for fewer iterations: successive layouts move smoothly instead
 * of jumping, which is what animating an embedding across epochs needs. The first update is a
 * full t-SNE from a random start. Used on the worker thread (from a training hook). */
typedef struct _FwEmbedTracker FwEmbedTracker;

/* samples: a seeded choice of n of ds (takes a ref on ds); layer: as fw_features_layer, or
 * counted from the end when negative (-2: the last hidden layer). params: the t-SNE settings
 * of the first update (NULL: defaults; callback and init ignored); next_iter: iterations of
 * later updates (e.g. 250). */
FwEmbedTracker *fw_embed_tracker_new     (FwDataset *ds, int n, int layer, guint64 seed,
                                          const FwTsneParams *params, int next_iter);
void            fw_embed_tracker_free    (FwEmbedTracker *t);
gboolean        fw_embed_tracker_update  (FwEmbedTracker *t, FwModel *model,
                                          GCancellable *cancellable, GError **error);
/* The layout of the last update ([n x 2], NULL before the first), the samples' dataset
 * indices and labels [n]. */
const float    *fw_embed_tracker_layout  (const FwEmbedTracker *t, int *n);
const gint32   *fw_embed_tracker_indices (const FwEmbedTracker *t);
int             fw_embed_tracker_updates (const FwEmbedTracker *t);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwEmbedTracker, fw_embed_tracker_free)

G_END_DECLS
