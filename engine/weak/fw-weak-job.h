/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-weak-job.h: the few-label features as recipe jobs, shared by `frugal run`, the
 * `frugal weak|active|calibrate` commands and the Weak labels page.
 *
 *   [weak]       methods = supervised,ae,rotation,vicreg,selftrain   (or "all")
 *                per_class = 10, unlabelled = 5000, test_limit = 0, seeds = 3,
 *                encoder = dense|conv, hidden = 256, dim = 64,
 *                pretrain_epochs = 10, pretrain_lr = 0.001, pretrain_batch = 128,
 *                finetune_epochs = 60, finetune_lr = 0.001, finetune_batch = 32,
 *                probe_epochs = 100, views = <augmentation pipeline of the two views>,
 *                vic_inv = 25, vic_var = 25, vic_cov = 1, var_target = 1, proj_dim = 64,
 *                dino_tau_s = 0.1, dino_tau_t = 0.04, dino_ema = 0.99, dino_center_m = 0.9,
 *                dino_centre = true, clusters = 50, mask = 10,
 *                rounds = 5, threshold = 0.9, topk = 0
 *   [active]     strategies = least-confidence,margin,entropy,coreset,random  (or "all"),
 *                start_per_class = 2, batch = 20, rounds = 8, pool = 3000, seeds = 1,
 *                epochs = 40, lr = 0.001, hidden = 256, test_limit = 0
 *   [calibrate]  per_class = 100, val_per_class = 50, epochs = 30, lr = 0.001, hidden = 256,
 *                bins = 15, check_size = 2000, shift_class = 0, shift_fraction = 0 (0 = the
 *                check set keeps the dataset's proportions), test_limit = 0
 * The dataset is [data] dataset (its test split, or 20% held out); [run] seed, threads;
 * [output] dir. Run folders: results.csv, pretext.csv, selftrain.csv, embedding-std.csv,
 * summary.json (weak); curves.csv, summary.json (active); reliability.csv, proportions.csv,
 * summary.json (calibrate).
 *
 * Snapshots (payload types): "weak-epoch" (FwWeakEpoch), "weak-round" (FwWeakRoundEvent),
 * "weak-result" (FwWeakResult), "active-point" (FwActivePoint), "calib" (FwCalibReport). */
#pragma once

#include "fw-active.h"
#include "fw-calib.h"
#include "fw-job.h"
#include "fw-recipe.h"
#include "fw-weak.h"

G_BEGIN_DECLS

typedef struct {
  FwWeakMethod method;
  int seed;
  char phase[32];
  int epoch, n_epochs;
  double loss;
} FwWeakEpoch;

typedef struct {
  FwWeakMethod method;
  int seed;
  FwSelftrainRound round;
} FwWeakRoundEvent;

typedef struct {
  int k;
  char **class_names;            /* k names, NULL-terminated */
  double temperature;
  FwReliability *before, *after; /* on the test set */
  double *prop_train;            /* [k] class proportions of the labelled training set */
  double *prop_true;             /* [k] true proportions of the check set (known in the demo) */
  double *prop_pred;             /* [k] predicted (argmax) proportions */
  double *prop_em;               /* [k] EM re-estimated priors (Saerens 2002) */
  int em_iterations;
  int check_size;
} FwCalibReport;

void fw_calib_report_free (FwCalibReport *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwCalibReport, fw_calib_report_free)

/* The parsed groups (errors name file, group and key). train/test: references taken. */
FwWeakConfig   *fw_weak_config_from_recipe   (const FwRecipe *r, FwDataset *train,
                                              FwDataset *test, gboolean *methods,
                                              GError **error);
FwActiveConfig *fw_active_config_from_recipe (const FwRecipe *r, FwDataset *train,
                                              FwDataset *test, GError **error);

/* The jobs (data = an FwRecipe *). job may be NULL (the work runs on the calling thread; log
 * lines go to stderr). */
gboolean fw_weak_job_run      (FwJob *job, gpointer recipe, GCancellable *cancellable,
                               GError **error);
gboolean fw_active_job_run    (FwJob *job, gpointer recipe, GCancellable *cancellable,
                               GError **error);
gboolean fw_calibrate_job_run (FwJob *job, gpointer recipe, GCancellable *cancellable,
                               GError **error);

G_END_DECLS
