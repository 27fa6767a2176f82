/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-transfer.h: transfer learning, LoRA, prompting, retrieval and multi-task learning.
 *
 * STRATEGIES (fw-transfer.c), after the lecture:
 *   1 "scratch"   copy the architecture and the processing chain, train from random weights;
 *   2 "head"      copy the weights, freeze them, replace the head (new classes), train the head;
 *   3 "finetune"  phase 2, then unfreeze all (or the last k weight layers) and fine-tune with
 *                 the learning rate scaled by lr_scale.
 * The "head" of a model is its last layer with weights (and what follows it); the trunk is
 * everything before. fw_transfer_new_head() copies the trunk's weights bit for bit.
 *
 * LoRA (fw-lora.c): layer kinds "lora:UNITS:RANK:ALPHA" (dense) and
 * "loraconv:OUT:K:STRIDE:PAD:RANK:ALPHA" (conv). The frozen base weight W and bias b live in the
 * layer's non-trainable state (tensors "weight", "bias"); the trainable parameters are
 * A [RANK x fan_in] (uniform +-1/sqrt(fan_in)) and B [OUT x RANK] (zero), and the layer computes
 * the dense/conv of W' = W + (ALPHA / RANK) B A. Gradients: G_A = s B^T G_W', G_B = s G_W' A^T.
 * fw_lora_merge() writes W' into plain dense/conv layers (inference form).
 *
 * PROMPTING (fw-prompt.c): "prompt:add:P" adds a learned pattern to the P-pixel frame of the
 * (normalised) input; "prompt:pad:P" shrinks the image (bilinear) into the centre and fills the
 * P-pixel frame with learned values. "prefix:C" appends C learned input channels (the image
 * analogue of a prefix token): fw_transfer_add_prefix() widens the first weight layer to read
 * them, with fixed random weights for the new channel, so only the prefix is learned.
 *
 * RETRIEVAL (fw-retrieval.c): a memory of L2-normalised embeddings (one layer's output) with
 * labels; p(c | x) = (1 - mix) softmax(logits)_c + mix * (votes of the k nearest by cosine)/k.
 *
 * MULTI-TASK (fw-multitask.c): a shared trunk (an FwModel whose output is the feature vector)
 * and two heads (FwModels over {d,1,1}) trained jointly on L = L1 + w2 L2, each task with its
 * own dataset. */
#pragma once

#include <gio/gio.h>

#include "fw-dataset.h"
#include "fw-job.h"
#include "fw-model.h"
#include "fw-recipe.h"
#include "fw-run-dir.h"
#include "fw-train.h"

G_BEGIN_DECLS

/* ---- strategies and model surgery (fw-transfer.c) ---- */

typedef enum {
  FW_TRANSFER_SCRATCH,    /* 1 */
  FW_TRANSFER_HEAD,       /* 2 */
  FW_TRANSFER_FINETUNE,   /* 3 */
  FW_TRANSFER_LORA,       /* new head + LoRA adapters on the frozen trunk */
  FW_TRANSFER_PROMPT,     /* new head + learned frame prompt, trunk frozen */
  FW_TRANSFER_PREFIX,     /* new head + learned extra input channel, trunk frozen */
  FW_TRANSFER_KNN,        /* no training: kNN retrieval over the pre-trained embeddings */
  FW_TRANSFER_N_METHODS
} FwTransferMethod;

const char *fw_transfer_method_name  (FwTransferMethod m);   /* "scratch", "head", ... */
const char *fw_transfer_method_title (FwTransferMethod m);   /* "From scratch", ... */
/* Parses a name; -1 with an error listing the names. */
int         fw_transfer_method_parse (const char *name, GError **error);

/* Index of the head: the last layer with weights. -1 when the model has none. */
int       fw_transfer_head_index  (const FwModel *m);
/* A copy of src whose layers from the head on are replaced by head_spec (NULL: "dense:K"),
 * freshly initialised from seed, for n_classes outputs. Trunk parameters, state, input
 * normalisation are copied; trunk layers are frozen, the new head is trainable. */
FwModel  *fw_transfer_new_head    (const FwModel *src, int n_classes, const char *head_spec,
                                   guint64 seed, GError **error);
/* Freezes every layer with weights except the last k of them (k <= 0: unfreeze all). */
void      fw_transfer_unfreeze_last (FwModel *m, int k);
/* Discriminative fine-tuning: the head's weight layer keeps the learning rate, the weight layer
 * below it gets lr x decay, the next lr x decay^2 ... (decay <= 0 or 1: all 1). */
void      fw_transfer_set_lr_decay (FwModel *m, double decay);
/* Counts trainable and frozen parameters (state such as LoRA's base weights counts as
 * frozen). */
void      fw_transfer_count       (const FwModel *m, gsize *trainable, gsize *frozen);
/* A new model with a "prefix:1" layer first and the first weight layer widened to read it
 * (fixed random weights from seed for the new channel). Every layer is frozen except the
 * prefix. The first weight layer must be a conv or a dense (after flatten). */
FwModel  *fw_transfer_add_prefix  (const FwModel *src, guint64 seed, GError **error);
/* A new model with "prompt:MODE:P" first (MODE add or pad); every other layer frozen. */
FwModel  *fw_transfer_add_prompt  (const FwModel *src, const char *mode, int pad,
                                   GError **error);
/* Builds the model of spec over src's input with src's normalisation, initialised from seed,
 * then copies the parameters and state of every src layer i whose spec token and sizes match
 * the new layer i + shift (helper of the surgeries above). No layer is frozen. */
FwModel  *fw_transfer_rebuild     (const FwModel *src, const char *spec, int shift,
                                   guint64 seed, GError **error);

/* Samples of ds whose class is in classes[0..n) (given in "0-4" or "5,6,7" form through
 * fw_transfer_parse_classes), relabelled 0..n-1 in that order, with the class names kept. */
FwDataset *fw_transfer_class_subset (const FwDataset *ds, const int *classes, int n,
                                     GError **error);
/* "0-4", "5,7,9", "" (all: returns 0) -> classes[]; checks range [0, n_classes). */
int        fw_transfer_parse_classes (const char *text, int n_classes, int *classes,
                                      GError **error);

/* ---- LoRA (fw-lora.c) ---- */

/* layer kinds fw_layer_lora, fw_layer_loraconv (declared in fw-layer.h) */
/* A copy of src with every dense and conv layer before the head (and the head too when
 * include_head) replaced by a LoRA layer of rank and alpha holding the same base weights;
 * A initialised from seed, B = 0. LoRA layers are trainable (their base weights are state),
 * other layers with weights are frozen except the head when !include_head. */
FwModel  *fw_lora_wrap   (const FwModel *src, int rank, float alpha, gboolean include_head,
                          guint64 seed, GError **error);
/* The inference form: every LoRA layer becomes the plain dense/conv with W + (alpha/r) B A. */
FwModel  *fw_lora_merge  (const FwModel *src, GError **error);

/* ---- prompting (fw-prompt.c) ---- */

/* layer kinds fw_layer_prompt, fw_layer_prefix (declared in fw-layer.h) */

/* ---- retrieval (fw-retrieval.c) ---- */

typedef struct _FwRetrieval FwRetrieval;
/* A memory of embeddings of m's layer (-1: the model's input; m is referenced and used for
 * forward passes: give a private copy), for n_classes labels. */
FwRetrieval *fw_retrieval_new     (FwModel *m, int layer, int n_classes, GError **error);
void         fw_retrieval_free    (FwRetrieval *r);
int          fw_retrieval_size    (const FwRetrieval *r);
/* Embeds every sample of ds and adds it (with its label) to the memory. */
gboolean     fw_retrieval_add     (FwRetrieval *r, const FwDataset *ds,
                                   GCancellable *cancellable, GError **error);
/* Adds already computed embedding rows x[n x d] (normalised here). */
void         fw_retrieval_add_rows (FwRetrieval *r, const float *x, const gint32 *labels,
                                    int n);
/* Predicts every sample of ds: probs[n x n_classes] (may be NULL) and preds[n]. mix in [0, 1]
 * weighs the kNN vote against the model's softmax (mix = 1: pure kNN; the softmax is used only
 * when the model's class count equals the memory's). */
gboolean     fw_retrieval_predict (FwRetrieval *r, const FwDataset *ds, int k, double mix,
                                   float *probs, gint32 *preds, GCancellable *cancellable,
                                   GError **error);
/* The k nearest memory rows of one normalised query q[d] by cosine similarity (ties: lower
 * row first): fills idx[k] (k <= size); returns how many were written. */
int          fw_retrieval_nearest (const FwRetrieval *r, const float *q, int k, int *idx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwRetrieval, fw_retrieval_free)

/* ---- multi-task (fw-multitask.c) ---- */

typedef struct {
  FwModel *trunk;         /* input -> features {d,1,1} */
  FwModel *head[2];       /* features -> logits of task 1 / task 2 */
} FwMultiTask;

/* trunk_spec over input; heads "dense:k1" and "dense:k2" over the trunk's output. */
FwMultiTask *fw_multitask_new   (const char *trunk_spec, FwShape input, int k1, int k2,
                                 guint64 seed, GError **error);
void         fw_multitask_free  (FwMultiTask *mt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwMultiTask, fw_multitask_free)
/* One forward + backward on n1 samples of task 1 (x1, y1) and n2 of task 2 (n2 may be 0):
 * L = mean CE1 + w2 mean CE2; fills the grads of trunk and heads; returns L. With dlogits
 * (not NULL) the loss is instead L = sum r1 . logits1 + w2 sum r2 . logits2 for the given
 * fixed weights r1 [n1 x k1], r2 [n2 x k2] (for finite-difference tests). */
double       fw_multitask_loss_grad (FwMultiTask *mt, const float *x1, const gint32 *y1, int n1,
                                     const float *x2, const gint32 *y2, int n2, double w2,
                                     const float *r1, const float *r2);
/* Trains jointly for cfg->epochs epochs over task 1 (epoch = one pass over the larger set,
 * the smaller cycled); w2 = 0 trains task 1 alone. Adam/SGD per cfg. */
gboolean     fw_multitask_train (FwMultiTask *mt, const FwTrainConfig *cfg, FwDataset *t1,
                                 FwDataset *t2, double w2, GCancellable *cancellable,
                                 GError **error);
/* Accuracy of head h on ds. */
double       fw_multitask_accuracy (FwMultiTask *mt, int h, const FwDataset *ds);
/* Task 2 over the samples of ds: its coarse grouping (Fashion-MNIST: tops, trousers,
 * footwear, bags; else the lower / upper half of the classes), or with dissimilar seeded
 * random labels over as many classes (a task with nothing in common with task 1). */
FwDataset   *fw_multitask_task2 (const FwDataset *ds, gboolean dissimilar, guint64 seed);
/* The trunk of a named architecture: its layers before the head. */
char        *fw_multitask_trunk_spec (const char *arch, FwShape input, int n_classes,
                                      GError **error);

/* ---- the experiment (fw-transfer-exp.c) ---- */

typedef struct {
  char *source;            /* dataset spec of the source task ("sim:3000:20") */
  char *source_classes;    /* "" (all) or "0-4" */
  char *target;            /* dataset spec of the target task ("digits") */
  char *target_classes;    /* "" or "5-9" */
  char *arch;              /* "lenet5" */
  char *source_model;      /* a .safetensors pre-trained model, "" = pre-train one */
  char *head;              /* the new head's spec, "" = dense:CLASSES */
  int *labels_per_class;   /* e.g. 1 5 10 50 0 (0 = all) */
  int n_lpc;
  int seeds;               /* 3 */
  guint32 methods;         /* bit mask of FwTransferMethod */
  int pretrain_epochs;     /* 4 */
  int source_limit;        /* pre-train on at most this many source samples (0 = all) */
  int steps;               /* optimizer steps per training (epochs follow from the set size) */
  int min_epochs;          /* 3 */
  int max_epochs;          /* 100 */
  int batch;               /* 64 */
  double lr;               /* 0.002 (Adam) */
  double lr_scale;         /* fine-tune phase lr = lr * lr_scale (0.1) */
  double lr_decay;         /* fine-tune phase: per-layer factor decay^depth below the head (1) */
  int unfreeze_last;       /* 0 = all */
  int lora_rank;           /* 4 */
  double lora_alpha;       /* 8 */
  int prompt_pad;          /* 2 */
  int retrieval_k;         /* 5 */
  double retrieval_mix;    /* 1.0: pure kNN */
  int test_limit;          /* at most this many test samples (0 = all) */
  guint64 seed;            /* base seed; seeds are seed, seed+1, ... */
  int task1_per_class;     /* multitask: 10 */
  int task2_limit;         /* multitask: 6000 */
} FwTransferConfig;

void fw_transfer_config_defaults (FwTransferConfig *c);
void fw_transfer_config_clear    (FwTransferConfig *c);
void fw_transfer_config_copy     (FwTransferConfig *dst, const FwTransferConfig *src);

typedef struct {
  FwTransferMethod method;
  int lpc;                 /* labels per class (0 = all) */
  int n_train;             /* labelled training samples actually used */
  guint64 seed;
  double accuracy;         /* on the target test set */
  double seconds;          /* wall time of the training phases (not evaluation) */
  double seconds_phase[2]; /* head / fine-tune phases (finetune), else [0] = all */
  gsize trainable, frozen; /* parameters */
} FwTransferRow;

typedef struct {
  FwTransferMethod method;
  guint64 seed;
  GArray *seconds;         /* double: cumulative training time after each epoch */
  GArray *accuracy;        /* double: test accuracy after each epoch */
} FwTransferCurve;

typedef struct {
  FwTransferConfig config;
  GArray *rows;            /* FwTransferRow */
  GPtrArray *curves;       /* FwTransferCurve * at the largest labels-per-class value */
  double source_accuracy;  /* pre-trained model on the source test set */
  double zero_shot;        /* pre-trained model on the target test set (same classes), or NaN */
  double pretrain_seconds;
  FwModel *source_model;   /* the pre-trained (or loaded) model */
  char *run_dir;           /* where the results were written, or NULL */
} FwTransferResult;

void fw_transfer_result_free (FwTransferResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwTransferResult, fw_transfer_result_free)
/* Mean and sample standard deviation of the accuracy of (method, lpc) over the seeds, and
 * the median training seconds; returns the number of rows found. */
int  fw_transfer_result_stats (const FwTransferResult *r, FwTransferMethod m, int lpc,
                               double *mean, double *sd, double *median_seconds);

/* Runs the experiment: pre-train (or load) the source model, then every method x labels per
 * class x seed. job may be NULL (progress and logs then go nowhere / g_debug). */
FwTransferResult *fw_transfer_experiment (const FwTransferConfig *c, FwJob *job,
                                          GCancellable *cancellable, GError **error);
/* Writes results.csv, curves.csv, summary.json, table.txt, source.safetensors into rd. */
gboolean fw_transfer_result_write (const FwTransferResult *r, FwRunDir *rd, GError **error);
/* summary.json's text; a plain-text table of mean +- sd accuracy and mean seconds. */
char    *fw_transfer_result_summary_json (const FwTransferResult *r);
char    *fw_transfer_result_table (const FwTransferResult *r);

/* ---- recipes and jobs (fw-transfer-job.c) ---- */

/* The [transfer] group (and the base keys it uses) of a recipe; errors name file and key. */
gboolean  fw_transfer_config_from_recipe (const FwRecipe *r, FwTransferConfig *c,
                                          GError **error);
/* [transfer] mode: 0 experiment, 1 multitask; -1 with an error. */
int       fw_transfer_recipe_mode   (const FwRecipe *r, GError **error);

#define FW_MULTITASK_MAX_SEEDS 16
typedef struct {
  int seeds, n1, n2;
  double mean[3], sd[3];   /* task 1 accuracy: alone, + similar task 2, + dissimilar task 2 */
  double task2_acc[3];     /* task 2's own accuracy ([1], [2]) */
  double seconds[3];       /* mean training seconds */
  double acc[3][FW_MULTITASK_MAX_SEEDS];   /* task 1 accuracy per setup and seed */
} FwMultiTaskResult;
/* multitask.csv: setup,seed,task1_accuracy (setups: alone, similar, dissimilar) */
char     *fw_multitask_result_csv   (const FwMultiTaskResult *r);
void      fw_multitask_result_free  (FwMultiTaskResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwMultiTaskResult, fw_multitask_result_free)
/* Task 1 = c->target with c->task1_per_class labels per class; task 2 = up to c->task2_limit
 * other images of it, with coarse or random labels; trunk = c->arch without its head. */
FwMultiTaskResult *fw_multitask_demo (const FwTransferConfig *c, int epochs, FwJob *job,
                                      GCancellable *cancellable, GError **error);
char     *fw_multitask_result_table (const FwMultiTaskResult *r);

G_END_DECLS
