/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-weak-private.h: what the few-label methods' files share (not installed API). */
#pragma once

#include "fw-weak.h"

G_BEGIN_DECLS

/* The data of one seed: labelled few, unlabelled pool (true labels kept for the demo counts),
 * the test set, all images (labelled + pool) for pre-training, the input normalisation. */
typedef struct {
  FwDataset *labelled, *pool, *test;
  float *images;             /* [n_images x size] labelled then pool */
  int n_images;
  gsize size;
  float mean, std;
  guint64 seed;
  char *enc_spec;            /* the encoder */
  int n_enc;                 /* its layers */
} FwWeakData;

void     fw_weak_data_clear   (FwWeakData *d);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (FwWeakData, fw_weak_data_clear)

/* One minibatch of a custom training loop: forward, loss, backward (fills m->grads) on the
 * samples idx[0..nb) of the loop's index space; returns the mean loss (NaN stops the loop). */
typedef double (*FwWeakStep)  (gpointer user, FwModel *m, const gint32 *idx, int nb, FwRng *rng);
/* Called after each optimizer step (DINO's EMA), may be NULL. */
typedef void   (*FwWeakAfter) (gpointer user, FwModel *m);

/* Epochs of shuffled minibatches over n samples with cfg's optimizer, lr schedule, batch and
 * seed; batches of fewer than 2 samples are skipped. Mean loss per epoch appended to losses
 * (may be NULL) and reported to hooks with the phase name. */
gboolean fw_weak_loop         (FwModel *m, const FwTrainConfig *cfg, int n, FwWeakStep step,
                               FwWeakAfter after, gpointer user, const char *phase,
                               const FwWeakHooks *hooks, GArray *losses,
                               GCancellable *cancellable, GError **error);

/* fw_train with the epoch reported to hooks under phase; mean training loss per epoch
 * appended to losses (may be NULL). */
gboolean fw_weak_train        (FwModel *m, const FwTrainConfig *cfg, FwDataset *train,
                               const char *phase, const FwWeakHooks *hooks, GArray *losses,
                               GCancellable *cancellable, GError **error);
/* Test accuracy of m (NaN and an error on failure). */
double   fw_weak_test_acc     (FwModel *m, const FwDataset *test, GCancellable *cancellable,
                               GError **error);
/* Softmax probabilities of m on x [n x size]: probs [n x K]. */
void     fw_weak_probs        (FwModel *m, const float *x, int n, float *probs);
/* Squared Euclidean distance of two d-vectors (in double). */
double   fw_weak_sqdist       (const float *a, const float *b, int d);
/* Gathers images idx[0..nb) of d->images into out. */
void     fw_weak_gather       (const FwWeakData *d, const gint32 *idx, int nb, float *out);

/* The pre-training methods (fw-pretext.c, fw-ssl.c): each returns a model whose first n_enc
 * layers are the trained encoder, fills r->pretext_loss. */
FwModel *fw_weak_pretrain_ae       (const FwWeakConfig *c, const FwWeakData *d, gboolean masked,
                                    FwWeakResult *r, const FwWeakHooks *hooks,
                                    GCancellable *cancellable, GError **error);
FwModel *fw_weak_pretrain_rotation (const FwWeakConfig *c, const FwWeakData *d,
                                    FwWeakResult *r, const FwWeakHooks *hooks,
                                    GCancellable *cancellable, GError **error);
FwModel *fw_weak_pretrain_vicreg   (const FwWeakConfig *c, const FwWeakData *d,
                                    FwWeakResult *r, const FwWeakHooks *hooks,
                                    GCancellable *cancellable, GError **error);
FwModel *fw_weak_pretrain_dino     (const FwWeakConfig *c, const FwWeakData *d,
                                    FwWeakResult *r, const FwWeakHooks *hooks,
                                    GCancellable *cancellable, GError **error);
FwModel *fw_weak_pretrain_clusterfit (const FwWeakConfig *c, const FwWeakData *d,
                                      FwWeakResult *r, const FwWeakHooks *hooks,
                                      GCancellable *cancellable, GError **error);
/* fw-selftrain.c: the rounds; r->fine_acc = the last round's test accuracy. */
gboolean fw_weak_selftrain         (const FwWeakConfig *c, const FwWeakData *d,
                                    FwWeakResult *r, const FwWeakHooks *hooks,
                                    GCancellable *cancellable, GError **error);
/* A fresh classifier (encoder + relu + dense:K) for the data's seed. */
FwModel *fw_weak_classifier        (const FwWeakData *d, int n_classes, GError **error);

G_END_DECLS
