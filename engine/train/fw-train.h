/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-train.h: optimizers, learning-rate schedules, the training loop and evaluation.
 *
 * The optimizers work on the model's flat parameter buffer (m->params / m->grads): one loop
 * over n_params floats, skipping the views of frozen layers. */
#pragma once

#include <gio/gio.h>

#include "fw-augment.h"
#include "fw-dataset.h"
#include "fw-model.h"

G_BEGIN_DECLS

typedef enum { FW_OPT_SGD, FW_OPT_ADAM, FW_OPT_ADAMW } FwOptKind;
typedef enum { FW_SCHED_CONSTANT, FW_SCHED_STEP, FW_SCHED_COSINE } FwSchedKind;

typedef struct {
  int epochs;              /* 10 */
  int batch;               /* 128 */
  FwOptKind opt;           /* sgd */
  double lr;               /* 0.05 */
  double momentum;         /* 0.9 (sgd) */
  gboolean nesterov;       /* FALSE */
  double weight_decay;     /* 0 (sgd, adam: L2 added to the gradient; adamw: decoupled) */
  double beta1, beta2, eps;/* 0.9, 0.999, 1e-8 */
  FwSchedKind schedule;    /* constant */
  int step_epochs;         /* step: every step_epochs epochs ... (default 5) */
  double step_gamma;       /* ... multiply by step_gamma (default 0.1) */
  int warmup_epochs;       /* linear warm-up from lr/10 over this many epochs (default 0) */
  double min_lr;           /* cosine floor (default 0) */
  double clip_norm;        /* global gradient-norm clipping, 0 = off */
  double label_smoothing;  /* 0 */
  int patience;            /* early stopping on validation loss, 0 = off; restores the best */
  guint64 seed;            /* shuffling (and dropout through the model) */
  /* the loss (fw-robust.h): 0 = cross-entropy (with label_smoothing), 1 = generalised CE
   * with gce_q (0 -> 0.7), 2 = symmetric CE sce_alpha CE + sce_beta RCE (0, 0 -> 0.1, 1) */
  int loss;
  double gce_q;
  double sce_alpha, sce_beta;
  /* on-the-fly augmentation of every gathered minibatch (borrowed, not freed; NULL = none):
   * per-sample steps on each sample, then CutMix/Mixup with soft targets. Its randomness is
   * split from seed (FW_RNG_AUGMENT, then the epoch), so each epoch sees new variants. */
  const FwAugPipeline *augment;
} FwTrainConfig;

void fw_train_config_defaults (FwTrainConfig *cfg);
/* The learning rate in force during `epoch` (0-based), fractional epochs allowed for warm-up. */
double fw_train_lr_at (const FwTrainConfig *cfg, double epoch);

typedef struct {
  int epoch;               /* 1-based */
  double train_loss, train_acc;   /* mean over the epoch's batches */
  double val_loss, val_acc;       /* NaN without a validation set */
  double test_acc;                /* NaN without a test set */
  double lr;
  double seconds;                 /* wall time of the epoch's training (not evaluation) */
} FwEpochMetrics;

typedef struct {
  /* called on the training thread after every batch; may block (pause) */
  void (*batch) (gpointer user, int epoch, int n_epochs, int batch, int n_batches,
                 double loss, double acc);
  /* called on the training thread after every epoch */
  void (*epoch) (gpointer user, const FwEpochMetrics *m);
  gpointer user;
} FwTrainHooks;

/* The optimizer state for one model. */
typedef struct _FwOptimizer FwOptimizer;
FwOptimizer *fw_optimizer_new   (FwModel *m, const FwTrainConfig *cfg);
/* One update with learning rate lr, from m->grads. */
void         fw_optimizer_step  (FwOptimizer *opt, FwModel *m, double lr);
void         fw_optimizer_free  (FwOptimizer *opt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwOptimizer, fw_optimizer_free)

/* Trains m on train for cfg->epochs epochs. val and test may be NULL. Appends one
 * FwEpochMetrics per epoch to metrics (a GArray of FwEpochMetrics) when not NULL.
 * Checks cancellable every batch (FW_ERROR_CANCELLED); a NaN/Inf loss or gradient stops with
 * FW_ERROR_NUMERIC naming the epoch and the layer. With patience > 0 and a val set, stops
 * early and restores the best weights. */
gboolean fw_train (FwModel *m, const FwTrainConfig *cfg, FwDataset *train, FwDataset *val,
                   FwDataset *test, const FwTrainHooks *hooks, GCancellable *cancellable,
                   GArray *metrics, GError **error);

typedef struct {
  int n, n_classes;
  double accuracy;         /* in [0, 1] */
  double loss;             /* mean cross-entropy */
  gint64 *confusion;       /* [n_classes x n_classes], row = true class, column = predicted */
  double *per_class_acc;   /* [n_classes], NaN for a class without samples */
  gint32 *preds;           /* [n] predicted class of each sample */
} FwEvalResult;

FwEvalResult *fw_evaluate (FwModel *m, const FwDataset *ds, int batch,
                           GCancellable *cancellable, GError **error);
void          fw_eval_result_free (FwEvalResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwEvalResult, fw_eval_result_free)

G_END_DECLS
