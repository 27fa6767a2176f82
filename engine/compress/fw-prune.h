/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-prune.h: pruning weights, neurons, channels and layers; lottery tickets; physically
 * smaller results.
 *
 * PRUNABLE WEIGHTS. The "weight" tensors of dense and conv layers (biases, batch-norm and the
 * other kinds are never scored). A weight matrix is seen as rows = output units (neurons of a
 * dense layer, filters of a conv layer) x cols = inputs (in, or in_c k k). The logits layer's
 * weights are prunable one by one (cfg->prune_last) but its rows (the classes) never are.
 *
 * MASK. An FwPruneMask holds one keep flag per parameter of the model (m->n_params, the flat
 * buffer's layout): fw_prune_mask_apply() zeroes the pruned parameters. Pruning a unit
 * (structured) clears its row, its bias and the gamma/beta of a batch norm right after it, so
 * the masked model computes exactly what the physically smaller model computes
 * (fw_prune_shrink). Masks only shrink: an entry pruned at one step stays pruned.
 *
 * SCORES (higher = more important), one float per parameter:
 *   magnitude   |w|
 *   saliency    |w dL/dw| with dL/dw summed over a few minibatches of the current model
 *   snip        the same at initialisation, pruned once before training (Lee et al. 2019)
 *   movement    -sum over fine-tuning steps of w dL/dw (weights moving away from zero keep;
 *               Sanh et al. 2020), accumulated by the fine-tuning hooks
 * A unit's score is the mean of its weights' scores (for magnitude: the root mean square), so
 * layers of different fan-in compare under a global scope.
 *
 * SELECTION. fw_prune_select() prunes exactly round(sparsity N) of the N prunable entries
 * (weights, 1 x 8 blocks of weights, or units; a block scores the mean of its weights), per layer (each layer the same fraction) or globally (one ranking),
 * keeping the highest scores; ties go to the lower index. Already pruned entries count.
 *
 * SCHEDULE. One-shot, or iterative: step t of T reaches
 *   cubic      s_t = s (1 - (1 - t/T)^3)          (Zhu & Gupta 2017: prune fast, then slowly)
 *   geometric  s_t = 1 - (1 - s)^(t/T)            (the same fraction of what is left each step)
 * each step followed by finetune_epochs of training with the mask re-applied after every
 * optimizer step.
 *
 * REGULARISERS (proximal steps after every optimizer step, learning rate lr):
 *   L1          w <- sign(w) max(|w| - lr l1, 0)                     (weights only)
 *   group Lasso w_g <- w_g max(0, 1 - lr gl / ||w_g||_2)               (g = a unit's row+bias)
 * They produce exact zeros; fw_prune_zero_fraction() is the live sparsity readout.
 *
 * LOTTERY TICKET (Frankle & Carbin 2019). Train, prune p of the remaining weights by magnitude,
 * rewind the kept weights to their values at initialisation (or after rewind_batches
 * minibatches), repeat; then train the final mask from a random re-initialisation as the
 * control. Rewinding restores the saved weights bit-exactly (fw_prune_rewind).
 *
 * PHYSICALLY SMALLER. fw_prune_shrink() builds the smaller dense/conv model from a structured
 * mask (fewer rows/filters; the next layer loses the matching inputs). fw_prune_sparsify()
 * turns sparse dense layers into "sparse" layers (fw-sparse.h: CSR, values F32, indices I16 or
 * I32) whose kernel skips the zeros. fw_prune_remove_blocks() removes whole layers.
 *
 * JOB AND GUI. fw_prune_job_run() is the [prune] recipe's job (shared by `frugal prune`,
 * `frugal run` and the Compress page). It emits SNAPSHOT events:
 *   "prune-step"    FwPruneSnapshot (refcounted, immutable): after every prune step and every
 *                   fine-tuning epoch: sparsity, accuracy, per-layer weights and masks
 *   "prune-result"  FwPruneResult at the end: the run folder, the saved model, the table
 * Payloads are freed with their unref function; consumers take a reference to keep one. */
#pragma once

#include <gio/gio.h>

#include "fw-dataset.h"
#include "fw-job.h"
#include "fw-model.h"
#include "fw-recipe.h"
#include "fw-train.h"

G_BEGIN_DECLS

typedef enum {
  FW_PRUNE_MAGNITUDE,
  FW_PRUNE_SALIENCY,
  FW_PRUNE_SNIP,
  FW_PRUNE_MOVEMENT,
} FwPruneCriterion;

typedef enum {
  FW_PRUNE_WEIGHTS,    /* individual weights (unstructured) */
  FW_PRUNE_NEURONS,    /* rows of dense layers */
  FW_PRUNE_CHANNELS,   /* filters of conv layers */
  FW_PRUNE_UNITS,      /* neurons and channels */
  FW_PRUNE_LAYERS,     /* whole blocks (a layer with its bn/activation) replaced by identity */
  FW_PRUNE_BLOCKS,     /* runs of FW_PRUNE_BLOCK consecutive weights of a row (1 x 8 blocks):
                        * unstructured enough to keep accuracy, regular enough for a block-CSR
                        * kernel that loads inputs as vectors instead of gathering them */
} FwPruneGranularity;

/* The width of a block of FW_PRUNE_BLOCKS (the last block of a row may be shorter). */
#define FW_PRUNE_BLOCK 8

typedef enum { FW_PRUNE_PER_LAYER, FW_PRUNE_GLOBAL } FwPruneScope;
typedef enum { FW_PRUNE_ONESHOT, FW_PRUNE_CUBIC, FW_PRUNE_GEOMETRIC } FwPruneSchedule;

/* Names as written in recipes and on the command line ("magnitude", "per-layer", ...);
 * NULL-terminated arrays in enum order, for combo boxes. from_string() errors list the valid
 * names. */
const char *const *fw_prune_criterion_names   (void);
const char *const *fw_prune_granularity_names (void);
const char *const *fw_prune_scope_names       (void);
const char *const *fw_prune_schedule_names    (void);
gboolean fw_prune_enum_from_string (const char *const *names, const char *what,
                                    const char *s, int *out, GError **error);

typedef struct {
  FwPruneCriterion criterion;     /* magnitude */
  FwPruneGranularity granularity; /* weights */
  FwPruneScope scope;             /* per-layer */
  double sparsity;                /* 0.9: fraction of prunable weights (units, blocks) removed */
  FwPruneSchedule schedule;       /* cubic */
  int steps;                      /* 5 prune steps (1 with oneshot) */
  int finetune_epochs;            /* 1 epoch of fine-tuning after each step */
  double finetune_lr;             /* 0: the recipe's [train] lr */
  int score_batches;              /* 16 minibatches of gradients for saliency and snip */
  gboolean prune_last;            /* TRUE: the logits layer's weights may be pruned (weights) */
  double l1;                      /* 0: L1 strength during all training of the job */
  double group_lasso;             /* 0: group-Lasso strength on units */
  int reg_epochs;                 /* 0: epochs trained with the regularisers before pruning */
  gboolean lottery;               /* FALSE: lottery-ticket rounds instead of fine-tuning */
  int rewind_batches;             /* 0: rewind to init; k: to the weights after k minibatches */
  gboolean random_reinit;         /* TRUE: lottery control, same mask from a fresh init */
  int seeds;                      /* 1: lottery runs with seeds seed .. seed + seeds - 1 */
  gboolean compact;               /* TRUE: save the physically smaller model */
  char *model;                    /* NULL: train a base model from the recipe; else a file */
} FwPruneConfig;

void     fw_prune_config_defaults (FwPruneConfig *c);
void     fw_prune_config_clear    (FwPruneConfig *c);
/* Checks ranges and combinations ("[prune] sparsity: 1.5 is not in [0, 1)"); file names the
 * recipe in messages (may be NULL). */
gboolean fw_prune_config_check    (const FwPruneConfig *c, const char *file, GError **error);
/* The recipe's [prune] group -> a config (values checked, errors name file, group and key),
 * and back (the GUI fills a recipe from its form; needs the extension registered). */
gboolean fw_prune_config_from_recipe (FwPruneConfig *c, const FwRecipe *r, GError **error);
void     fw_prune_config_to_recipe   (const FwPruneConfig *c, FwRecipe *r);
/* NULL-terminated key names of the [prune] group. */
const char *const *fw_prune_keys (void);

/* ---- masks ---- */

typedef struct {
  gsize n;          /* = m->n_params */
  guint8 *keep;     /* [n] 1 = kept, 0 = pruned */
} FwPruneMask;

FwPruneMask *fw_prune_mask_new   (const FwModel *m);   /* everything kept */
FwPruneMask *fw_prune_mask_copy  (const FwPruneMask *mask);
void         fw_prune_mask_free  (FwPruneMask *mask);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwPruneMask, fw_prune_mask_free)
/* m->params[i] = 0 where keep[i] == 0. */
void         fw_prune_mask_apply (const FwPruneMask *mask, FwModel *m);

/* TRUE when layer i's weight tensor is prunable (dense or conv). */
gboolean     fw_prune_layer_prunable (const FwModel *m, int i);
/* Fraction of prunable weights pruned, over layer i (i < 0: all prunable layers). */
double       fw_prune_mask_sparsity  (const FwPruneMask *mask, const FwModel *m, int i);
/* Fraction of prunable weights that are exactly zero (the live readout under L1/group Lasso),
 * layer i or all (i < 0). */
double       fw_prune_zero_fraction  (const FwModel *m, int i);
/* Units (rows) of layer i whose weights, bias all pruned: a count, and per-row flags when
 * unit_kept != NULL ([rows], 1 = kept). */
int          fw_prune_units_pruned   (const FwPruneMask *mask, const FwModel *m, int i,
                                      guint8 *unit_kept);

/* ---- scores ---- */

/* scores[n_params] <- |w| (0 outside prunable weights). */
void     fw_prune_score_magnitude (const FwModel *m, float *scores);
/* scores <- |w G| with G = dL/dw summed over `batches` minibatches of `batch` samples drawn
 * (seeded) from ds, in eval mode with the current weights. */
gboolean fw_prune_score_saliency  (FwModel *m, FwDataset *ds, int batches, int batch,
                                   guint64 seed, float *scores, GCancellable *cancellable,
                                   GError **error);
/* acc[n_params] -= w * m->grads (movement; call after every backward of fine-tuning). */
void     fw_prune_movement_accumulate (const FwModel *m, float *acc);

/* Prunes (in mask, without touching m) so that exactly round(sparsity N) of the N prunable
 * entries are pruned, keeping the highest scores. Entries already pruned stay pruned (when
 * more than the target are already pruned, nothing changes). granularity must not be LAYERS.
 * Returns the number of entries (weights or units) pruned now. */
gsize    fw_prune_select (const FwModel *m, const float *scores, FwPruneGranularity granularity,
                          FwPruneScope scope, double sparsity, gboolean prune_last,
                          FwPruneMask *mask);
/* The schedule's sparsity after step t of T (t = 1..T), target s. */
double   fw_prune_schedule_at (FwPruneSchedule schedule, double s, int t, int T);

/* ---- regularisers (proximal steps, threshold t = lr strength) ---- */

/* w <- sign(w) max(|w| - t, 0) on the prunable weights of m. */
void     fw_prune_prox_l1          (FwModel *m, double t);
/* Every unit of the prunable layers (row of weights + bias): w_g <- w_g max(0, 1 - t/||w_g||)
 * (the logits layer's rows excluded). */
void     fw_prune_prox_group_lasso (FwModel *m, double t);

/* ---- training with a mask ---- */

/* Hooks for fw_train() that, after every optimizer step: apply the regularisers' proximal
 * steps (lr from cfg's schedule), re-apply the mask (may be NULL), accumulate movement scores
 * (movement may be NULL), then call next (may be NULL). Borrowed pointers; the struct lives
 * as long as training. Pass &t->hooks to fw_train. */
typedef struct {
  FwTrainHooks hooks;
  FwModel *model;
  const FwPruneMask *mask;
  const FwTrainConfig *cfg;
  double l1, group_lasso;
  float *movement;
  const FwTrainHooks *next;
  /* lottery: after exactly rewind_at optimizer steps (counted over the trainer's life) the
   * parameters are copied to rewind_params[n_params] (when not NULL) */
  gint64 steps;
  gint64 rewind_at;
  float *rewind_params;
} FwPruneTrainer;
void     fw_prune_trainer_init (FwPruneTrainer *t, FwModel *m, const FwPruneMask *mask,
                                const FwTrainConfig *cfg, const FwTrainHooks *next);

/* Lottery rewinding: params[i] = saved[i] where kept, 0 where pruned (bit-exact copies). */
void     fw_prune_rewind (FwModel *m, const float *saved, const FwPruneMask *mask);

/* ---- physically smaller models ---- */

/* The smaller model: rows (neurons/filters) whose weights and bias are all pruned are removed,
 * with the matching input columns of the next dense/conv layer (through activations, pools,
 * flatten, dropout and batch norm, whose channels are removed too). The result computes what
 * the masked model computes (to float rounding). A unit whose removal cannot be carried
 * through (sigmoid, depthwise or fire blocks after it) is kept. */
FwModel *fw_prune_shrink   (const FwModel *m, const FwPruneMask *mask, GError **error);
/* Dense layers whose weights are at least min_sparsity zero become "sparse" layers (CSR);
 * other layers are copied. The result computes the same outputs (to float rounding). */
FwModel *fw_prune_sparsify (const FwModel *m, double min_sparsity, GError **error);

/* Blocks that can be replaced by identity: a dense/conv layer with the bn, activation and
 * dropout layers right after it, whose output shape equals its input shape (never the logits
 * layer). Fills first[k], last[k] (inclusive layer indices) up to max; returns the count. */
int      fw_prune_layer_blocks   (const FwModel *m, int *first, int *last, int max);
/* A copy of m without the given blocks (remove[k] TRUE removes block k of
 * fw_prune_layer_blocks' list). */
FwModel *fw_prune_remove_blocks  (const FwModel *m, const gboolean *remove, GError **error);

/* ---- snapshots for the GUI ---- */

typedef struct {
  int layer;              /* index in the model */
  char *name;             /* spec token, "dense:300" */
  int rows, cols;         /* weights as [rows x cols]: rows = units, cols = in (dense) or
                           * in_c kh kw (conv) */
  int kh, kw;             /* conv kernel (1 x 1 for dense): draw a row as in_c tiles kh x kw */
  float *weight;          /* [rows x cols] a copy, pruned entries 0 */
  guint8 *keep;           /* [rows x cols] 1 = kept */
  guint8 *unit_kept;      /* [rows] 0 when the whole unit is pruned */
  gsize n_kept;
  double sparsity;        /* fraction of this layer's weights pruned (or exactly zero) */
} FwPruneLayerView;

typedef struct {
  int step, n_steps;      /* prune step (0 = before pruning) */
  int epoch;              /* fine-tuning epoch within the step (0 = just pruned) */
  const char *phase;      /* static: "base", "regularise", "prune", "finetune", "ticket",
                           * "random", "done" */
  double target;          /* the schedule's sparsity for this step */
  double sparsity;        /* fraction of prunable weights pruned or exactly zero */
  double accuracy;        /* test accuracy (validation when there is no test set), or NaN */
  gsize params, params_nonzero;  /* all trainable parameters; those not zero */
  int n_layers;
  FwPruneLayerView *layers;      /* the prunable layers, in model order */
} FwPruneSnapshot;

/* A snapshot of m under mask (NULL: exact zeros count as pruned). Refcounted. */
FwPruneSnapshot *fw_prune_snapshot_new   (const FwModel *m, const FwPruneMask *mask);
FwPruneSnapshot *fw_prune_snapshot_ref   (FwPruneSnapshot *s);
void             fw_prune_snapshot_unref (FwPruneSnapshot *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwPruneSnapshot, fw_prune_snapshot_unref)

/* One row of the job's table (metrics.csv of the run folder). */
typedef struct {
  int step;
  const char *phase;      /* static, as in FwPruneSnapshot */
  int seed;
  double target, sparsity;
  double val_acc, test_acc;
  gsize params_nonzero;
} FwPruneRow;

typedef struct {
  char *run_dir;          /* recipe.ini, metrics.csv, summary.json, model.safetensors,
                           * dense.safetensors, base.safetensors (before pruning) */
  char *model_path;       /* the saved pruned model (compact form when cfg.compact) */
  FwModel *model;         /* that model (a reference) */
  double base_acc;        /* test accuracy of the dense model */
  double final_acc;       /* of the pruned model as saved */
  double sparsity;
  GArray *rows;           /* FwPruneRow */
} FwPruneResult;

FwPruneResult *fw_prune_result_ref   (FwPruneResult *r);
void           fw_prune_result_unref (FwPruneResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwPruneResult, fw_prune_result_unref)

/* The [prune] recipe job. data = an FwRecipe (owned by the job). Registered as the recipe
 * extension fw_prune_recipe_ext (group "prune", page "compress"). */
gboolean fw_prune_job_run (FwJob *job, gpointer recipe, GCancellable *cancellable,
                           GError **error);
/* The same work on the calling thread, without events (tests, benchmarks). */
FwPruneResult *fw_prune_run_sync (const FwRecipe *r, GCancellable *cancellable,
                                  GError **error);

G_END_DECLS
