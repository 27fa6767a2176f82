/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-distill.h: knowledge distillation (Hinton, Vinyals & Dean 2015).
 *
 * A trained teacher's logits z_t, softened at temperature T, are the targets of a smaller
 * student (logits z_s), mixed with the hard labels:
 *   L = alpha T^2 KL(softmax(z_t / T) || softmax(z_s / T)) + (1 - alpha) CE(y, softmax(z_s))
 * averaged over the batch. T^2 keeps the soft term's gradient, T (p_s^T - p_t^T), on the
 * scale of the hard term's as T grows. The teacher runs once over the training set (eval mode)
 * before training; its logits are reused every epoch.
 *
 * The [distill] recipe group (fw_distill_recipe_ext, job "distill"):
 *   teacher = FILE         the teacher (.safetensors; e.g. a run folder's model)
 *   temperature = 4        T >= 1
 *   alpha = 0.9            weight of the soft term in [0, 1]
 *   seeds = 1              students per variant (seeds seed, seed + 1, ...)
 *   hard_baseline = true   also train the same student on hard labels only (same seeds)
 * The student is the recipe's [model], trained with its [train] settings on its [data]. */
#pragma once

#include "fw-recipe-ext.h"
#include "fw-train.h"

G_BEGIN_DECLS

/* The loss above (mean over n rows of k logits) and, when grad != NULL, dL/dz_s [n x k]. */
double fw_distill_loss (const float *student, const float *teacher, const gint32 *labels,
                        int n, int k, float temperature, float alpha, float *grad);

/* Trains student against teacher (same input shape and classes) with cfg (optimizer,
 * schedule, epochs, batch, seed; loss / augmentation are ignored). test may be NULL; hooks as
 * in fw_train (epoch metrics: train loss = distillation loss). */
gboolean fw_distill_train (FwModel *student, FwModel *teacher, const FwTrainConfig *cfg,
                           float temperature, float alpha, FwDataset *train, FwDataset *test,
                           const FwTrainHooks *hooks, GCancellable *cancellable,
                           GArray *metrics, GError **error);

/* The result of a [distill] job (SNAPSHOT "distill"). */
typedef struct {
  char *run_dir;
  char *teacher_path;
  double teacher_acc;
  gsize teacher_params, student_params;
  double temperature, alpha;
  int n_seeds;
  double *acc_distilled;  /* [n_seeds] test accuracy of the distilled student */
  double *acc_hard;       /* [n_seeds] the same student on hard labels (NaN: not trained) */
  int n_classes;
  float *sample_x;        /* one test sample [size(input)] */
  FwShape sample_shape;
  int sample_label;
  float *soft_t;          /* [n_classes] the teacher's softmax(z / T) for it */
  float *soft_1;          /* [n_classes] at T = 1 */
  char **class_names;     /* NULL-terminated or NULL */
} FwDistillResult;

void fw_distill_result_free (FwDistillResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwDistillResult, fw_distill_result_free)

/* The job's work without a job (job may be NULL): the CLI calls it. Writes the run folder
 * (distill.csv, summary.json, recipe.ini, student.safetensors = first distilled student). */
FwDistillResult *fw_distill_run (const FwRecipe *r, FwJob *job, GCancellable *cancellable,
                                 GError **error);

/* Helpers for recipe jobs that train small models themselves (the decomposition job too): the
 * recipe's training set ([data] dataset, train_limit, per_class; no validation split) and test
 * set (test = auto | none | SPEC); a freshly initialised [model] for train with the given seed
 * and the input normalisation of train. */
gboolean fw_recipe_train_test  (const FwRecipe *r, FwDataset **train, FwDataset **test,
                                GCancellable *cancellable, GError **error);
FwModel *fw_recipe_fresh_model (const FwRecipe *r, const FwDataset *train, guint64 seed,
                                GError **error);

G_END_DECLS
