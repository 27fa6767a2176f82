/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-lowrank.h: low-rank and tensor decompositions of trained layers, run in factored form.
 *
 * Every method rewrites a model into a NEW model whose decomposed layers are replaced by
 * sequences of small layers holding the factors (so the model is really smaller, runs as such,
 * and can be fine-tuned in that form with fw_train):
 *
 *   svd     dense:OUT (W [OUT x IN]) -> dense:R, dense:OUT
 *           W ~ (U_R S_R^1/2)(S_R^1/2 V_R^T), truncated SVD (LAPACK dgesdd)
 *   cp      conv:OUT:K:S:P (K [OUT][C][K][K]) ->
 *           conv:R:1, dwrect:K:1:S:1:P:0, dwrect:1:K:1:S:0:P, conv:OUT:1  (Lebedev et al. 2015)
 *           K[o][c][i][j] ~ sum_r A[o][r] B[c][r] V[i][r] H[j][r], CP by alternating least
 *           squares, HOSVD-initialised
 *   tucker  conv:OUT:K:S:P -> conv:R3:1, conv:R4:K:S:P, conv:OUT:1 (Tucker-2 over the two
 *           channel modes: K ~ G x_0 U_out x_1 U_in; HOSVD, then optional HOOI sweeps)
 *   tt      dense:OUT -> tt:M1x..xMd:N1x..xNd:R1x..xR(d-1) (fw-layer-factored.c): TT-SVD
 *           (Oseledets 2011) of W seen as a d-way tensor of modes (m_k, n_k), run as a chain of
 *           small GEMMs over the cores (Novikov et al. 2015)
 *   ht      dense:OUT -> ht:M1xM2xM3xM4:N1xN2xN3xN4:R (fw-layer-factored.c): hierarchical
 *           Tucker over the balanced tree {{1,2},{3,4}} (leaf frames by truncated SVD of the
 *           mode unfoldings, transfer tensors by projection; Grasedyck 2010)
 *
 * The first factor layers' biases are zero and the last carries the original bias, so at full
 * rank the factored layer computes exactly what the original did. Layers whose factored form
 * would not be smaller are left as they are (and reported as such).
 *
 * Below the model level the plain numerical routines (row-major, double precision) are public
 * for tests and the reconstruction-error curves. */
#pragma once

#include <gio/gio.h>

#include "fw-model.h"
#include "fw-recipe.h"

G_BEGIN_DECLS

typedef enum {
  FW_DECOMP_SVD,
  FW_DECOMP_CP,
  FW_DECOMP_TUCKER,
  FW_DECOMP_TT,
  FW_DECOMP_HT,
} FwDecompMethod;

/* "svd" "cp" "tucker" "tt" "ht" */
const char *fw_decomp_method_name  (FwDecompMethod m);
gboolean    fw_decomp_method_parse (const char *s, FwDecompMethod *out, GError **error);
/* TRUE when the method applies to layers of this kind (dense for svd/tt/ht, conv for cp/tucker) */
gboolean    fw_decomp_applies      (FwDecompMethod m, const FwLayer *l);

typedef struct {
  FwDecompMethod method;
  int rank;              /* rank (svd, cp), ranks R3 = R4 (tucker), maximal TT/HT rank; 0: by energy */
  double energy;         /* with rank 0: keep this fraction of the squared Frobenius norm (0, 1] */
  int iters;             /* cp: ALS sweeps (default 40); tucker: HOOI sweeps after HOSVD (0) */
  int modes;             /* tt/ht: number of modes d (tt: 2..6, default 3; ht: 4) */
  int min_weights;       /* leave layers with fewer weights than this (default 1000) */
  char *layers;          /* NULL/"" = every eligible layer, else "2,5" (1-based layer numbers) */
  guint64 seed;          /* cp: initialisation of the columns beyond the HOSVD ones */
  gboolean allow_larger; /* decompose even where the factored form is not smaller (to see
                            that full rank is exact) */
} FwDecompConfig;

void fw_decomp_config_defaults (FwDecompConfig *cfg);
void fw_decomp_config_clear    (FwDecompConfig *cfg);

/* What happened to one layer of the original model. */
typedef struct {
  int layer;             /* 0-based index in the original model */
  char *before;          /* "dense:256" */
  char *after;           /* "dense:32,dense:256", or the same token when left alone */
  char *ranks;           /* "32", "16x24", "8x8" ... ("" when left alone) */
  gsize params_before, params_after;
  double flops_before, flops_after;
  double rel_error;      /* ||W - W_r||_F / ||W||_F of the weight (0 when left alone) */
  gboolean decomposed;
  char *note;            /* why it was left alone, or NULL */
} FwDecompLayer;

void fw_decomp_layer_clear (FwDecompLayer *r);
/* a GArray of FwDecompLayer that clears its elements */
GArray *fw_decomp_report_new (void);

/* The decomposed copy of m (same input normalisation and class names, arch "<arch>+<method>"),
 * and per original layer a row in report (optional, from fw_decomp_report_new()). Fails when no
 * layer could be decomposed. Checks cancellable between layers. */
FwModel *fw_decompose_model (const FwModel *m, const FwDecompConfig *cfg, GArray *report,
                             GCancellable *cancellable, GError **error);

/* Reconstruction error of layer l of m vs rank for the method: n points with ranks[i] in
 * increasing order (chosen to cover 1 .. full rank), errs[i] = relative Frobenius error.
 * Returns the number of points written (<= max_points), 0 with an error when the method does
 * not apply. cp runs a short ALS per point. */
int fw_decomp_error_curve (const FwModel *m, int layer, FwDecompMethod method, int max_points,
                           int *ranks, double *errs, GError **error);

/* ---- the [decompose] recipe group and job (fw-decomp-job.c) ----
 *   model = FILE           the trained model to decompose (empty: train one from the recipe)
 *   method = svd           svd | cp | tucker | tt | ht
 *   rank = 0               rank (0: by energy) ...
 *   ranks =                ... or a sweep "2,4,8,16": one decomposed model per rank
 *   energy = 0.9           kept fraction of the squared norm when rank = 0
 *   iters, modes, layers, min_weights   as in FwDecompConfig
 *   finetune_epochs = 0    fine-tune each decomposed model in factored form ([train] settings)
 *   curve_points = 12      points of the per-layer error-vs-rank curves
 * The run folder holds decompose.csv (one row per rank: parameters, bytes on disk, FLOPs,
 * accuracy before/after fine-tuning), curves.csv, layers.csv, summary.json and the models. */
typedef struct {
  int layer;
  char *name;            /* "3: dense:256" */
  int n;
  int ranks[32];
  double errs[32];
} FwDecompCurve;

typedef struct {
  int rank;              /* the requested rank (0: by energy) */
  char *ranks;           /* the ranks chosen per decomposed layer, "32, 16" */
  gsize params;
  gint64 bytes;          /* the saved file */
  double flops;
  double rel_error;      /* the largest over the decomposed layers */
  double acc;            /* test accuracy right after decomposing */
  double acc_ft;         /* after fine-tuning (NaN without) */
  char *file;            /* model file name in the run folder */
} FwDecompPoint;

typedef struct {
  char *run_dir;
  FwDecompMethod method;
  char *model_path;      /* the original model */
  gsize base_params;
  gint64 base_bytes;
  double base_flops, base_acc;
  GArray *points;        /* FwDecompPoint */
  GPtrArray *curves;     /* FwDecompCurve * */
} FwDecompResult;

void fw_decomp_result_free (FwDecompResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwDecompResult, fw_decomp_result_free)

/* The job's work (job may be NULL: the CLI). */
FwDecompResult *fw_decomp_run (const FwRecipe *r, FwJob *job, GCancellable *cancellable,
                               GError **error);
/* One line per rank: parameters, bytes, FLOPs and accuracy vs the original. */
char *fw_decomp_result_summary (const FwDecompResult *res);

/* ---- numerical building blocks (row-major doubles) ---- */

/* Thin SVD of a [m x n]: u [m x k], s [k] (descending), vt [k x n], k = min(m, n). */
gboolean fw_svd (int m, int n, const double *a, double *u, double *s, double *vt,
                 GError **error);
/* The smallest rank r whose leading singular values keep `energy` of sum s^2. */
int      fw_rank_for_energy (const double *s, int k, double energy);
/* ||a - b||_F / ||b||_F */
double   fw_rel_error (const double *a, const double *b, gsize n);

/* CP of a d-way tensor x (dims[d]) by ALS: factors[k] [dims[k] x rank]; lambda folded into
 * factors[0]. Returns the relative error of the final fit. */
double   fw_cp_als (const double *x, int d, const int *dims, int rank, int iters, guint64 seed,
                    double **factors);
/* out = sum_r prod_k factors[k][i_k][r] */
void     fw_cp_reconstruct (int d, const int *dims, int rank, double *const *factors,
                            double *out);

/* Tucker-2 of a 4-way kernel k [O][C][H][W] over modes 0 and 1: uo [O x ro], ui [C x ri]
 * (orthonormal columns), core [ro][ri][H][W]; HOSVD plus `iters` HOOI sweeps. Returns the
 * relative error. */
double   fw_tucker2 (const double *k, int o, int c, int h, int w, int ro, int ri, int iters,
                     double *uo, double *ui, double *core, GError **error);
void     fw_tucker2_reconstruct (int o, int c, int h, int w, int ro, int ri, const double *uo,
                                 const double *ui, const double *core, double *out);

/* TT-SVD of a d-way tensor (dims[d]) with TT-ranks at most max_rank (0 = no cap) and, when
 * eps > 0, each truncation keeping all but eps / sqrt(d - 1) of the norm (Oseledets 2011).
 * ranks[d + 1] (ranks[0] = ranks[d] = 1) and cores[k] (newly allocated, [r_k][dims[k]][r_k+1])
 * are returned. Returns FALSE on a LAPACK failure. */
gboolean fw_tt_svd (const double *x, int d, const int *dims, int max_rank, double eps,
                    int *ranks, double **cores, GError **error);
void     fw_tt_reconstruct (int d, const int *dims, const int *ranks, double *const *cores,
                            double *out);

/* Hierarchical Tucker of a 4-way tensor over the tree {{0,1},{2,3}} with all ranks <= rank:
 * leaves u[k] [dims[k] x r_k], transfer tensors b12 [r0][r1][r12], b34 [r2][r3][r34], root
 * [r12 x r34]; ranks out: r[0..3], r12, r34 in r[4], r[5]. Arrays newly allocated. */
typedef struct {
  int dims[4];
  int r[6];
  double *u[4], *b12, *b34, *root;
} FwHT;
gboolean fw_ht_decompose (const double *x, const int *dims, int rank, FwHT *ht, GError **error);
void     fw_ht_reconstruct (const FwHT *ht, double *out);
void     fw_ht_clear (FwHT *ht);

/* Balanced factorisation of n into d factors (largest first), e.g. 784, 3 -> 16x7x7. */
void     fw_factor_modes (int n, int d, int *modes);

G_END_DECLS
