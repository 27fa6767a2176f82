/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-recipe.h: recipes are GKeyFile .ini files; one recipe = one job the CLI and GUI run.
 *
 *   [data]     dataset = fashion-mnist        a dataset spec (see fw-dataset.h)
 *              per_class = 0                  N labels per class (0 = all)
 *              val_fraction = 0.1             part of train held out for validation
 *              test = auto                    auto (the dataset's own test split) | none | SPEC
 *              train_limit = 0                use at most this many training samples (0 = all)
 *              augment =                      on-the-fly augmentation pipeline (fw-augment.h),
 *                                             e.g. rotate:deg=15;translate:px=2;cutmix:p=0.5
 *   [model]    arch = mlp                     mlp | lenet5 | cnn-small | mobilenet-tiny |
 *                                             squeezenet-tiny | efficientnet-tiny | custom
 *              widths = 256,128               mlp hidden widths
 *              spec =                         custom layer spec (arch = custom)
 *              init = ""                      a .safetensors to start from instead of random
 *   [train]    epochs, batch, optimizer (sgd|adam|adamw), lr, momentum, nesterov,
 *              weight_decay, schedule (constant|step|cosine), step_epochs, step_gamma,
 *              warmup_epochs, min_lr, clip_norm, label_smoothing, patience
 *              loss = ce (ce|gce|sce), gce_q, sce_alpha, sce_beta, coteaching = false,
 *              forget_rate = 0.2, forget_epochs = 10
 *   [noise]    kind = none (none|symmetric|pair|matrix), rate = 0.2, matrix = FILE: label
 *              noise injected into the training set only (validation/test stay clean)
 *   [output]   dir = runs/<recipe name>-<date> ; save_model = true
 *              embed_points = 0               each epoch, t-SNE of N test samples' last hidden
 *                                             features (embedding.csv, SNAPSHOT "embed-frame")
 *   [run]      seed = 1, threads = 1
 */
#pragma once

#include <gio/gio.h>

#include "fw-job.h"
#include "fw-train.h"

G_BEGIN_DECLS

typedef struct {
  char *name;             /* recipe name (file basename without .ini) */
  char *path;             /* where it was loaded from, or NULL */
  /* [data] */
  char *dataset;
  int per_class;
  double val_fraction;
  char *test;
  int train_limit;
  /* [model] */
  char *arch;
  char *widths;
  char *spec;
  char *init;
  /* [train] */
  FwTrainConfig train;
  /* [output] */
  char *out_dir;
  gboolean save_model;
  int embed_points;       /* [output] embed_points: per-epoch 2-D embedding of N test samples */
  /* [run] */
  guint64 seed;
  int threads;
  /* [noise] label noise on the training set only (fw-noise.h) */
  char *noise_kind;       /* none | symmetric | pair | matrix */
  double noise_rate;
  char *noise_matrix;     /* kind = matrix: a file of k rows of k numbers */
  /* [train] robust training (fw-robust.h); train.loss etc. are set from loss */
  char *loss;             /* ce | gce | sce */
  gboolean coteaching;
  double forget_rate;
  int forget_epochs;
  /* [data] augment: a pipeline text (fw-augment.h), "" = none; validated on load */
  char *augment;
  /* the file as loaded (shared between copies, treat as read-only), holding the groups of
   * recipe extensions (fw-recipe-ext.h); NULL for a recipe built in code */
  GKeyFile *kf;
} FwRecipe;

FwRecipe *fw_recipe_new_default (void);
/* Errors name the file, group and key: "lenet.ini: [train] lr: -0.1 is negative ...". */
FwRecipe *fw_recipe_load        (const char *path, GError **error);
FwRecipe *fw_recipe_load_data   (const char *data, gsize len, const char *name,
                                 GError **error);
/* The resolved recipe with every key written, with a comment per key. */
char     *fw_recipe_to_data     (const FwRecipe *r);
gboolean  fw_recipe_save        (const FwRecipe *r, const char *path, GError **error);
FwRecipe *fw_recipe_copy        (const FwRecipe *r);
void      fw_recipe_free        (FwRecipe *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwRecipe, fw_recipe_free)

/* What a finished training job leaves behind (payload "run" of a SNAPSHOT event, and the
 * result of fw_recipe_run_sync). */
typedef struct {
  char *run_dir;          /* recipe.ini, metrics.csv, summary.json, model.safetensors */
  FwModel *model;         /* the trained model (a reference) */
  GArray *metrics;        /* FwEpochMetrics per epoch */
  FwEvalResult *test_eval;/* on the test set, or NULL */
  FwDataset *test;        /* the test set used (a reference), or NULL */
  double train_seconds;
} FwRunResult;
void fw_run_result_free (FwRunResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwRunResult, fw_run_result_free)

/* The training job: loads data, builds the model, trains, evaluates, writes the run folder
 * (atomically: files are complete or absent), emits a SNAPSHOT "run" (FwRunResult) at the end.
 * data = an FwRecipe (owned by the job, freed with fw_recipe_free). */
gboolean fw_recipe_job_run (FwJob *job, gpointer recipe, GCancellable *cancellable,
                            GError **error);

/* ---- additions (fw-recipe.c, fw-recipe-job.c) ---- */

/* TRUE when every key of a and b holds the same value (name and path are not compared). */
gboolean  fw_recipe_equal       (const FwRecipe *a, const FwRecipe *b);
/* Every key as "group.key", in file order (NULL-terminated, free with g_strfreev). */
char    **fw_recipe_keys        (void);

/* The same work as fw_recipe_job_run() without a job runner, on the calling thread: returns
 * the run's result, or NULL with an error (FW_ERROR_CANCELLED when cancelled). hooks may be
 * NULL; log lines go to g_debug(). */
FwRunResult *fw_recipe_run_sync (const FwRecipe *r, const FwTrainHooks *hooks,
                                 GCancellable *cancellable, GError **error);

/* Payload of the SNAPSHOT "embed-frame" a training job with [output] embed_points > 0 emits
 * after each epoch: the layout of the tracked samples, following the previous epoch's. */
typedef struct {
  int epoch;
  int n;
  float *xy;              /* [n x 2] */
  gint32 *index;          /* [n] the samples' indices in the test (or validation) set */
  gint32 *label;          /* [n] their labels */
  gint32 *pred;           /* [n] the model's predictions at this epoch */
} FwEmbedFrame;
void fw_embed_frame_free (FwEmbedFrame *f);

/* For feature jobs that train or fine-tune themselves: the recipe's data exactly as the
 * training job loads it (same seeds, limits, validation split, label noise); val and test may
 * come back NULL. job may be NULL (log lines go to g_debug). */
gboolean  fw_recipe_load_datasets (const FwRecipe *r, FwJob *job, GCancellable *cancellable,
                                   FwDataset **train, FwDataset **val, FwDataset **test,
                                   GError **error);
/* The recipe's model as the training job builds it: [model] init, or the architecture
 * initialised from [run] seed with the training set's input normalisation. */
FwModel  *fw_recipe_build_model   (const FwRecipe *r, FwJob *job, const FwDataset *train,
                                   GError **error);

G_END_DECLS
