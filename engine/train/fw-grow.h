/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-grow.h: neural architecture growth. Start from a tiny network and add neurons where it
 * lacks expressivity: TINY (Verbockhaven, Rudkiewicz, Chevallier, Charpiat, "Growing Tiny
 * Networks: Spotting Expressivity Bottlenecks and Fixing Them Optimally", TMLR 2024), with
 * random and GradMax-style neuron addition as baselines.
 *
 * A growth SITE is a pair of layers (A, B), each dense or conv, with only elementwise
 * activations (relu, tanh, lrelu, sigmoid) or flatten between them: new neurons are new units
 * (dense) or output channels (conv) of A, their incoming weights alpha read A's input, their
 * outgoing weights omega write B's pre-activation a_B.
 *
 * The algebra, over a batch of n samples (conv layers: every output pixel p of B is one more
 * "sample": the im2col patches; P = pixels per sample, P = 1 for dense):
 *   b_i      B's input patch with a trailing 1 (bias)                        [dB]
 *   v_i      V_goal = -d l_i / d a_B, the desired change of B's output          [OUT]
 *   S = (1/nP) sum b b^T,  M = (1/nP) sum b v^T
 *   dW* = (S^+ M)^T      the best update of B's weights (least squares, min norm)
 *   V_proj = V_goal - dW* b   what B's current inputs cannot express (the bottleneck)
 *   x_{p,u}  A's input patch (with a 1) that feeds B's kernel tap u at output pixel p
 *            (dense after dense: one tap; dense after flatten: one tap per plane pixel)
 *   S2 = (1/nP) sum_{p,u} x x^T,  N = (1/nP) sum_{p,u} x (v_proj[p] (x) e_u)^T   [dA x OUT U]
 *   S2^{-1/2} by eigendecomposition (eigenvalues below eig_rel * max dropped)
 *   SVD  S2^{-1/2} N = sum_k lambda_k u_k v_k^T
 *   alpha_k = sign(lambda_k) sqrt|lambda_k| S2^{-1/2} u_k,  omega_k = sqrt|lambda_k| v_k
 * The activation is linearised at 0 (sigma'(0) = 1). The step adds the neurons scaled by
 * sqrt(gamma) and dW* scaled by gamma; gamma comes from a line search on the batch.
 * All linear algebra in double precision through LAPACK (OpenBLAS): dsyevd, dgesdd.
 *
 * Baselines at the same site: GRADMAX (incoming weights zero, outgoing the top right singular
 * vectors of N_goal = (1/nP) sum x (v_goal (x) e_u)^T, the correlation of A's inputs with the
 * loss gradient, which maximises the gradient norm of the new incoming weights), RANDOM (new
 * neurons with small random weights). Neither updates the existing weights. */
#pragma once

#include <gio/gio.h>

#include "fw-dataset.h"
#include "fw-job.h"
#include "fw-model.h"
#include "fw-recipe.h"
#include "fw-train.h"

G_BEGIN_DECLS

typedef enum { FW_GROW_TINY, FW_GROW_GRADMAX, FW_GROW_RANDOM } FwGrowMethod;

const char *fw_grow_method_name  (FwGrowMethod m);   /* "tiny" "gradmax" "random" */
gboolean    fw_grow_method_parse (const char *s, FwGrowMethod *out);

typedef struct {
  int a, b;                 /* layer indices: A grows, B reads its outputs */
} FwGrowSite;

/* The growth sites of a model, in layer order; returns how many (at most max). */
int  fw_grow_sites (const FwModel *m, FwGrowSite *out, int max);

/* ---- the linear algebra (exposed for tests) ---- */

/* dW[o x d] <- (S^+ M)^T with S [d x d] symmetric, M [d x o]; eigenvalues of S below
 * eig_rel * max are treated as 0. Returns tr(M dW) (the first-order gain) or NaN on a LAPACK
 * failure (error set). */
double   fw_grow_best_update (const double *S, const double *M, int d, int o, double eig_rel,
                              double *dW, GError **error);
/* out[d x d] <- S^{-1/2} on the eigenspace of eigenvalues >= eig_rel * max (0 elsewhere);
 * *rank = the kept dimension. */
gboolean fw_grow_inv_sqrt    (const double *S, int d, double eig_rel, double *out, int *rank,
                              GError **error);

/* ---- one growth proposal at one site ---- */

typedef struct {
  double lambda_rel;        /* keep lambda_k >= lambda_rel * lambda_1 (0.1) */
  int max_new;              /* at most this many neurons per step (8) */
  double eig_rel;           /* relative eigenvalue cut of S and S2 (1e-6) */
  double random_scale;      /* random: outgoing weights scale vs the default init (0.1) */
} FwGrowOptions;

void fw_grow_options_defaults (FwGrowOptions *o);

typedef struct {
  FwGrowMethod method;
  FwGrowSite site;
  int d_b, d_out;           /* B's patch size + 1, B's output channels */
  int d_a, n_taps;          /* A's patch size + 1, taps U of omega per output channel */
  int pixels;               /* P */
  double *dW;               /* [d_out x d_b] (TINY; zero for the baselines) */
  double gain_dw;           /* tr(M dW*) */
  double goal_norm;         /* sqrt((1/nP) sum |v_goal|^2) */
  double bottleneck;        /* sqrt((1/nP) sum |v_proj|^2): the expressivity bottleneck */
  double *lambda;           /* [n_lambda] singular values, decreasing */
  int n_lambda;
  int k;                    /* neurons proposed */
  double *alpha;            /* [k x d_a] incoming (last entry: bias) */
  double *omega;            /* [k x d_out n_taps] outgoing, row o of block j: omega[j][o U + u] */
  double gain_neurons;      /* sum of the kept lambda_k^2 */
  /* d L / d gamma at gamma = 0 of the whole step (dW* and neurons, activation linearised),
   * with the sign flipped: the loss decrease per unit gamma to first order. */
  double first_order;
} FwGrowProposal;

void fw_grow_proposal_free (FwGrowProposal *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwGrowProposal, fw_grow_proposal_free)

/* Computes the proposal of `method` at `site` from the batch x [n x input], y [n]. Runs a
 * forward and backward pass on m (overwrites its activations and gradients). rng is used by
 * RANDOM only. */
FwGrowProposal *fw_grow_propose (FwModel *m, FwGrowSite site, FwGrowMethod method,
                                 const float *x, const gint32 *y, int n,
                                 const FwGrowOptions *opt, FwRng *rng, GError **error);

/* Drops the update of the existing weights from a proposal (dW = 0): only the neurons are
 * added; first_order and gain_dw are adjusted to the smaller step. */
void     fw_grow_proposal_drop_update (FwGrowProposal *p);

/* The statistics batch size for m: enough (sample, pixel, tap) rows that every site's S2 is
 * estimated from at least 2.5 rows per incoming weight of a new neuron, 512 to 8192 samples.
 * A 784-input MLP gets 1963 (its first layer's new neurons have 785 incoming weights: with
 * 512 samples they fit the batch's noise), a CNN the floor of 512 (every output pixel is a
 * row). */
int      fw_grow_auto_stat_samples (const FwModel *m);

/* A new model: m with the proposal's k neurons added to A (incoming alpha sqrt(gamma),
 * outgoing omega sqrt(gamma)) and B's weights updated by gamma dW. k_use <= p->k (the first
 * k_use neurons). gamma = 0 gives a wider model with the same function. */
FwModel *fw_grow_apply (const FwModel *m, const FwGrowProposal *p, int k_use, double gamma,
                        GError **error);

/* Mean cross-entropy of m on x, y (inference mode). */
double   fw_grow_loss  (FwModel *m, const float *x, const gint32 *y, int n);

/* Units of every dense/conv layer (output width / channels), for diagrams. */
int      fw_grow_widths (const FwModel *m, int *out, int max);

/* ---- the growth run ---- */

typedef struct {
  FwGrowMethod method;      /* tiny */
  FwGrowOptions opt;
  gsize budget;             /* stop once the model has this many parameters (20000) */
  int max_steps;            /* at most this many growth steps (20) */
  int epochs_per_step;      /* training epochs after each growth step and at first (1) */
  int stat_samples;         /* samples for the statistics and the line search; 0 = automatic
                             * (fw_grow_auto_stat_samples) */
  double min_rel_drop;      /* TINY: reject a step whose best relative loss drop is below */
  gboolean update_existing; /* TINY: also apply gamma dW* to the existing weights (TRUE, as in
                             * the paper); FALSE adds the neurons only */
  int final_epochs;         /* after the last step: train the grown network this many more
                             * epochs, the learning rate decaying to 0 (cosine); 0 = none
                             * (FW_GROW_DEFAULT_FINAL_EPOCHS).
                             * The fixed-size baseline then gets a cosine schedule over all
                             * its epochs, so both end on a decayed learning rate (0) */
  gboolean fixed_baseline;  /* also train the final architecture from scratch, same epochs,
                             * and again for the same training compute */
  FwTrainConfig train;      /* epochs is ignored (epochs_per_step); fw_grow_train_defaults */
  guint64 seed;
} FwGrowConfig;

void fw_grow_config_defaults (FwGrowConfig *c);

/* The training settings growth runs use unless a recipe says otherwise ([train] without lr,
 * optimizer and weight_decay), for n_train training samples (0: unknown, taken as small):
 * AdamW, batch 64, learning rate 3e-3 and decoupled weight decay 0.5 up to 15000 samples,
 * 1e-3 and 0.1 above. The decay matters: growing leaves the neurons and biases trained while
 * the network was tiny several times larger than a from-scratch network's (the 2 first-layer
 * neurons of a Fashion-MNIST MLP end with twice the weight norm); without decay the grown MLP
 * stays 0.6-0.8 points behind its fixed-size network however long it trains, with it it
 * reaches it. AdamW decays once per optimizer step, so more samples per epoch need less:
 * measured on 5000, 10000, 20000 and all 60000 Fashion-MNIST images (README, Architecture
 * growth). */
void fw_grow_train_defaults (FwTrainConfig *t, int n_train);
#define FW_GROW_LARGE_TRAIN 15000
#define FW_GROW_DEFAULT_FINAL_EPOCHS 15

#define FW_GROW_MAX_SITES 16
#define FW_GROW_MAX_LAYERS 16

/* One point of the run: after the initial training and after every growth step's training. */
typedef struct {
  int step;                 /* 0 = the initial network; the final training is one more */
  int site;                 /* grown site (index into the run's sites), -1 for none */
  int added;                /* neurons added at this step */
  double gamma;             /* the amplitude chosen (TINY) */
  double loss_before, loss_after;  /* line-search batch loss before / right after growing */
  double first_order;       /* predicted decrease per unit gamma */
  gsize params;
  double test_acc, test_loss, train_loss;
  int n_widths;
  int widths[FW_GROW_MAX_LAYERS];  /* units of the grown layers' chain: input, A.., output */
  int added_at[FW_GROW_MAX_LAYERS];/* neurons added at this step per width entry */
  char kinds[FW_GROW_MAX_LAYERS];  /* 'i' input (widths[0]: features, or channels before a
                                      conv), 'd' dense, 'c' conv */
  int n_sites;
  double bottleneck[FW_GROW_MAX_SITES];  /* per site, relative: |V_proj| / |V_goal| */
  double gain[FW_GROW_MAX_SITES];        /* TINY expected gain per site */
  double seconds;           /* wall time so far */
} FwGrowPoint;

typedef struct {
  FwGrowMethod method;
  char *dataset;
  GArray *points;           /* FwGrowPoint */
  FwModel *model;           /* the grown model */
  char *spec_start;
  /* fixed-size baseline: final spec trained from scratch for the same epochs */
  FwModel *fixed;           /* NULL unless run */
  double fixed_acc, fixed_loss;
  /* the same architecture trained from scratch for the grown run's training compute: the
   * whole epochs whose FLOPs come nearest to train_flops (at most total_epochs; equal to the
   * fixed-size baseline then) */
  int fixed_compute_epochs;
  double fixed_compute_acc, fixed_compute_loss;
  int total_epochs;
  int final_epochs;         /* of them, after the last growth step (its own last point) */
  /* compute: training FLOPs (3 x the forward FLOPs per sample x samples seen, at the width of
   * each phase) of the grown run and of the fixed-size baseline; wall time of the growth
   * steps' statistics, proposals and line searches, of the grown run's training and of the
   * baseline's */
  double train_flops, fixed_train_flops;
  double grow_seconds, train_seconds, fixed_seconds;
  char *run_dir;            /* NULL when not written */
} FwGrowResult;

void fw_grow_result_free (FwGrowResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwGrowResult, fw_grow_result_free)

/* Copies of a point for the GUI: SNAPSHOT "grow-step" payload (an FwGrowPoint, g_free). */
/* Grows `start` (initialised, normalised) on train, evaluating on test (may be NULL) after
 * every step. job may be NULL (logs go to g_debug). Cancellable checked every minibatch. */
FwGrowResult *fw_grow_run (FwModel *start, const FwGrowConfig *cfg, FwDataset *train,
                           FwDataset *test, FwJob *job, GCancellable *cancellable,
                           GError **error);

/* growth.csv of a run: one row per point, then (when the fixed-size baselines ran) a row
 * "fixed (same epochs)" and a row "fixed (same compute)" with step -1, the final parameters and their test
 * accuracy and loss */
char *fw_grow_points_csv (const FwGrowResult *res);

/* The growth settings of a recipe: [grow] keys over fw_grow_config_defaults(), [train] and
 * [run] seed; *test_limit = [grow] test_limit. Errors name the file, group and key. */
gboolean fw_grow_config_from_recipe (const FwRecipe *r, FwGrowConfig *c, int *test_limit,
                                     GError **error);

/* The [grow] recipe group (fw-recipe-ext.h), run by `frugal run` and the Grow page. */
gboolean fw_grow_job_run (FwJob *job, gpointer recipe, GCancellable *cancellable,
                          GError **error);

G_END_DECLS
