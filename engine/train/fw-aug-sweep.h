/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-aug-sweep.h: the experiment of the augmentation lecture: test accuracy against labels per
 * class with no augmentation, a geometric pipeline, RandAugment and CutMix, several seeds.
 *
 * Every run at a (size, seed) sees the same labelled subset, the same initial weights and the
 * same number of updates, whatever the pipeline: the differences are the augmentation's. */
#pragma once

#include <gio/gio.h>

#include "fw-dataset.h"
#include "fw-job.h"

G_BEGIN_DECLS

enum { FW_AUG_SWEEP_N_PIPELINES = 4 };

/* "none", "geometric", "randaugment", "cutmix" and their pipeline texts */
const char *fw_aug_sweep_name     (int pipeline);
const char *fw_aug_sweep_pipeline (int pipeline);

typedef struct {
  int pipeline;          /* index, see above */
  int per_class;
  int seed;
  double test_acc;
  double seconds;        /* training time */
} FwAugSweepPoint;

typedef void (*FwAugSweepFunc) (const FwAugSweepPoint *point, gpointer user);

/* Runs pipelines (a bit mask, 0 = all) x per_class[n_sizes] x seeds 1..seeds: arch (NULL =
 * lenet5), batch 32, Adam lr 1e-3, epochs = ceil(steps * 32 / subset size). Calls point after
 * each run (on the calling thread). Checks cancellable between and inside runs. */
gboolean fw_aug_sweep_run (FwDataset *train, FwDataset *test, const int *per_class,
                           int n_sizes, int seeds, int steps, const char *arch,
                           guint pipelines, FwAugSweepFunc point, gpointer user,
                           GCancellable *cancellable, GError **error);

/* "none,cutmix" -> a pipeline mask (0 for "" = all); FALSE with an error naming the word. */
gboolean fw_aug_sweep_parse_only (const char *only, guint *mask, GError **error);
/* Train on all and test on the test split of spec (fw_dataset_load_test), or when it has
 * none (or spec is NULL) hold out 20% of all (at most 2000 samples): fw_aug_sweep_hold_out. */
gboolean fw_aug_sweep_load_test  (FwDataset *all, const char *spec, FwDataset **train,
                                  FwDataset **test, GCancellable *cancellable, GError **error);
void     fw_aug_sweep_hold_out   (FwDataset *all, guint64 seed, FwDataset **train,
                                  FwDataset **test);
/* The sweep as a job (data = an FwRecipe with an [augment-sweep] group: per_class, seeds,
 * steps, only; [data] dataset, [model] arch, [run] threads): emits PROGRESS, a LOG line and a
 * SNAPSHOT "aug-sweep-point" (FwAugSweepPoint) per run, writes recipe.ini and sweep.csv into
 * the run folder. */
gboolean fw_aug_sweep_job_run    (FwJob *job, gpointer recipe, GCancellable *cancellable,
                                  GError **error);

G_END_DECLS
