/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-robust.h: training under label noise: robust losses (generalised cross-entropy,
 * symmetric cross-entropy), small-loss sample selection and co-teaching.
 *
 * Losses follow fw-loss.h: the mean over the batch is returned and d(mean)/d(logits) written
 * to grad when it is not NULL; per_sample[n] (optional) receives each sample's loss. */
#pragma once

#include <gio/gio.h>

#include "fw-train.h"

G_BEGIN_DECLS

typedef enum { FW_LOSS_CE = 0, FW_LOSS_GCE = 1, FW_LOSS_SCE = 2 } FwLossKind;

gboolean    fw_loss_kind_from_string (const char *s, FwLossKind *kind);
const char *fw_loss_kind_to_string   (FwLossKind kind);

/* Generalised cross-entropy (Zhang & Sabuncu 2018): L = (1 - p_y^q) / q, q in (0, 1].
 * q -> 0 gives cross-entropy -log p_y, q = 1 gives 1 - p_y (half the L1 distance between p
 * and the one-hot target, i.e. MAE). dL/dz_j = p_y^q (p_j - [j = y]). */
double fw_loss_gce (const float *logits, int n, int k, const gint32 *labels, double q,
                    float *grad, float *per_sample);

/* Symmetric cross-entropy (Wang et al. 2019): alpha * CE + beta * RCE with the reverse
 * cross-entropy RCE = -sum_j p_j log t_j, log 0 clamped to A = -4, so RCE = 4 (1 - p_y).
 * dRCE/dz_j = 4 p_y (p_j - [j = y]). */
double fw_loss_sce (const float *logits, int n, int k, const gint32 *labels, double alpha,
                    double beta, float *grad, float *per_sample);

/* The loss a trainer selects (kind with its parameters; CE uses label_smoothing). */
double fw_loss_select (FwLossKind kind, double gce_q, double sce_alpha, double sce_beta,
                       float label_smoothing, const float *logits, int n, int k,
                       const gint32 *labels, float *grad);

/* Co-teaching (Han et al. 2018). Two networks see the same batches; each ranks the batch by
 * its own cross-entropy and keeps its R(t) = 1 - forget_rate(t) smallest-loss fraction, and
 * the OTHER network is updated on those samples only. forget_rate(t) = tau * min(t / tk, 1)
 * with t the 0-based epoch. With b == NULL it is plain small-loss selection: the network
 * is updated on its own small-loss samples. */
typedef struct {
  double tau;          /* final forget rate, e.g. the expected noise rate (0.2) */
  int tk;              /* epochs of the linear ramp (default 10; 0 = tau from the start) */
} FwCoteachConfig;

typedef struct {
  int epoch;                  /* 1-based */
  double forget_rate;         /* scheduled */
  double kept_fraction;       /* realised: samples used for updates / samples seen (per net) */
  double train_loss;          /* network a's mean CE on its updates */
  double clean_kept;          /* with y_true: fraction of a's kept samples whose label is right */
  double test_acc_a, test_acc_b; /* NaN without a test set (b: NaN without b) */
  double seconds;
} FwCoteachEpoch;

double fw_coteach_forget_rate (const FwCoteachConfig *ct, int epoch0);

/* Trains a (and b) on train with cfg's optimizer, lr schedule, batch and epochs (loss: CE).
 * y_true (may be NULL) only feeds clean_kept. Appends one FwCoteachEpoch per epoch to
 * epochs (may be NULL). epoch_hook (may be NULL) is called after every epoch. */
gboolean fw_train_coteaching (FwModel *a, FwModel *b, const FwTrainConfig *cfg,
                              const FwCoteachConfig *ct, const FwDataset *train,
                              const gint32 *y_true, const FwDataset *test,
                              void (*epoch_hook) (gpointer user, const FwCoteachEpoch *e),
                              gpointer user, GCancellable *cancellable, GArray *epochs,
                              GError **error);

/* ---- label-noise curves: test accuracy vs noise rate per training-set size ----
 *
 * For every seed, size and rate (in that order, so that whole curves arrive first): a seeded
 * stratified subset of `size` training samples (all when size <= 0 or >= n), noise of `kind`
 * at `rate` (exact), a fresh model (arch, widths) initialised with the seed, trained with cfg
 * (loss, epochs ...) and evaluated on the clean test set. */
typedef struct {
  double rate;             /* requested */
  double realised_rate;
  int size;                /* training samples used */
  int seed;                /* 0-based seed index */
  double test_acc;
  double seconds;          /* training time */
  int index, total;        /* this point's number and the number of points */
} FwNoisePoint;

typedef struct {
  FwDataset *train, *test; /* references, owned by the config */
  double *rates;           /* [n_rates] */
  int n_rates;
  int *sizes;              /* [n_sizes] */
  int n_sizes;
  int seeds;
  guint64 base_seed;
  int kind;                /* FwNoiseKind (fw-noise.h) */
  char *arch, *widths;     /* "mlp", "256,128" */
  FwTrainConfig cfg;       /* cfg.loss, cfg.label_smoothing pick the robust loss */
  int threads;             /* OpenBLAS threads */
  gboolean coteaching;     /* co-teaching (CE) with forget rate = the noise rate (at most
                            * 0.9), ramped over max(1, epochs / 2) epochs */
} FwNoiseCurveConfig;

FwNoiseCurveConfig *fw_noise_curve_config_new  (FwDataset *train, FwDataset *test);
void                fw_noise_curve_config_free (FwNoiseCurveConfig *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwNoiseCurveConfig, fw_noise_curve_config_free)

gboolean fw_noise_curve_run (const FwNoiseCurveConfig *c,
                             void (*point) (gpointer user, const FwNoisePoint *p),
                             gpointer user, GCancellable *cancellable, GError **error);

/* Out-of-sample class probabilities for confident learning: the samples are split into
 * `folds` seeded folds; for each fold a fresh model (arch, widths, seed) is trained with cfg on
 * the other folds (their labels as given) and predicts the held-out fold. probs[n x k]. */
gboolean fw_cross_val_probs (const FwDataset *ds, const char *arch, const char *widths,
                             const FwTrainConfig *cfg, int folds, guint64 seed,
                             GCancellable *cancellable, float *probs, GError **error);

/* The same as a job (fw-job.h): data = an FwNoiseCurveConfig (freed with
 * fw_noise_curve_config_free); every point is emitted as a SNAPSHOT of payload type
 * "noise-point" (an FwNoisePoint, g_free), with progress after each point. */
struct _FwJob;
gboolean fw_noise_curve_job_run (struct _FwJob *job, gpointer config,
                                 GCancellable *cancellable, GError **error);

G_END_DECLS
