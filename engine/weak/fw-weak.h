/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-weak.h: learning from few labels: unsupervised pre-training (autoencoders), self-supervised
 * pretext tasks (rotation, masked patch), invariance learning (VICReg, DINO), ClusterFit and
 * self-training with pseudo-labels; each followed by a linear probe and a fine-tune on the few
 * labelled samples.
 *
 * ENCODER AND HEADS. Every method trains the same encoder, a spec ending in dense:D (the
 * embedding), e.g. dense: "flatten,dense:256,relu,dense:64", conv: "conv:16:3:1:1,relu,maxpool:2,
 * conv:32:3:1:1,relu,maxpool:2,flatten,dense:64". A task adds a head ",relu,dense:OUT" (classes,
 * 4 rotations, clusters, a projector) or a decoder (autoencoders: back to the image through
 * dense, reshape, upsample, conv and a final sigmoid). All trainable parameters of a model live
 * in one flat buffer in layer order, so the encoder's parameters are the same prefix in every
 * model built on it: fw_weak_copy_prefix() moves a pre-trained encoder into the classifier.
 * Linear probe: the encoder layers frozen, only the head trained; fine-tune: everything trained.
 *
 * PRETEXT TASKS. Rotation (Gidaris et al. 2018): each image rotated by r * 90 degrees, r uniform
 * in {0, 1, 2, 3}, label r (exact index permutation, square images). Masked patch: a random
 * P x P square set to 0, the network reconstructs the image; the loss counts the masked pixels
 * only: L = 1/(2 n) sum_masked (y - x)^2.
 *
 * VICREG (Bardes et al. 2022) on two augmented views' projections Z, Z' [n x D]:
 *   inv  = 1/(n D) sum_i |z_i - z'_i|^2
 *   var  = 1/D sum_j max(0, gamma - S_j),  S_j = sqrt(Var_j + eps), Var_j unbiased (1/(n-1))
 *   cov  = 1/D sum_{i != j} C_ij^2,  C = Zc^T Zc / (n - 1), Zc = Z centred
 *   L = lambda inv + mu (var(Z) + var(Z')) + nu (cov(Z) + cov(Z'))
 * with gradients dvar/dz_ij = -[S_j < gamma] (z_ij - m_j) / (D (n-1) S_j) and
 * dcov/dZ = 4 / (D (n-1)) Zc Coff (Coff = C without its diagonal).
 *
 * DINO (Caron et al. 2021): a teacher network = exponential moving average of the student,
 * theta_t <- m theta_t + (1 - m) theta_s after every step. Outputs over K dims; the teacher's are
 * centred (minus c) and sharpened (temperature tau_t < tau_s): P_t = softmax((t - c) / tau_t),
 * P_s = softmax(s / tau_s); loss = 1/(2n) sum_i [H(P_t(v1_i), P_s(v2_i)) + H(P_t(v2_i),
 * P_s(v1_i))], dL/ds = (P_s - P_t(other view)) / (2 n tau_s); c <- m_c c + (1 - m_c) mean(t).
 *
 * CLUSTERFIT (Yan et al. 2020): k-means (k-means++ seeding, Lloyd iterations) on the features
 * of a rotation-pretrained encoder, then a fresh network trained to predict the cluster ids.
 *
 * SELF-TRAINING: rounds of: train on labelled + pseudo-labelled samples (a fresh model, same
 * seed); predict the rest of the unlabelled pool; add those whose confidence is >= threshold
 * (or, with topk > 0, the topk most confident per predicted class among them) with the
 * predicted class as label. The true labels (known in the demo) count how many are wrong. */
#pragma once

#include <gio/gio.h>

#include "fw-augment.h"
#include "fw-dataset.h"
#include "fw-model.h"
#include "fw-train.h"

G_BEGIN_DECLS

typedef enum {
  FW_WEAK_SUPERVISED,   /* labelled samples only */
  FW_WEAK_AE,           /* autoencoder pre-training */
  FW_WEAK_ROTATION,     /* rotation prediction */
  FW_WEAK_MASKED,       /* masked-patch reconstruction */
  FW_WEAK_VICREG,       /* invariance + variance + covariance */
  FW_WEAK_DINO,         /* EMA teacher with centring and sharpening */
  FW_WEAK_CLUSTERFIT,   /* k-means pseudo-classes */
  FW_WEAK_SELFTRAIN,    /* pseudo-labels in rounds */
  FW_WEAK_N_METHODS
} FwWeakMethod;

const char *fw_weak_method_name  (FwWeakMethod m);   /* "supervised", "ae", ... */
const char *fw_weak_method_title (FwWeakMethod m);   /* "Supervised only", ... */
gboolean    fw_weak_method_from_string (const char *s, FwWeakMethod *out);

/* ---- building blocks (tested one by one) ---- */

/* The encoder spec for input shape s: conv or dense, hidden width (dense) and embedding dim. */
char    *fw_weak_encoder_spec (gboolean conv, FwShape s, int hidden, int dim);
/* The autoencoder decoder appended to an encoder of embedding dim (conv: needs h, w divisible by
 * 4; else an error). */
char    *fw_weak_decoder_spec (gboolean conv, FwShape s, int hidden, int dim, GError **error);
/* Number of layers in a spec (comma-separated tokens). */
int      fw_weak_spec_layers  (const char *spec);
/* Copies parameters and state of layers [0, n_layers) of src into dst; an error when the two
 * models' layers differ there (spec tokens). */
gboolean fw_weak_copy_prefix  (FwModel *dst, const FwModel *src, int n_layers, GError **error);
/* A model from a spec, initialised with seed, input normalised by mean/std. */
FwModel *fw_weak_model_new    (const char *spec, FwShape s, guint64 seed, float mean, float std,
                               GError **error);

/* Rotation batch: out[i] = x[i] rotated by labels[i] * 90 degrees counter-clockwise (as seen
 * on screen), labels uniform in 0..3 from rng. Square images (h == w). */
void     fw_rotate90          (const float *img, float *out, int c, int h, int r);
void     fw_rotation_batch    (const float *x, int n, int c, int h, float *out, gint32 *labels,
                               FwRng *rng);
/* Masked patch: out = x with a random p x p square (per sample) set to 0; mask[n x c*h*w] = 1
 * inside the square, 0 outside. */
void     fw_mask_batch        (const float *x, int n, int c, int h, int w, int p, FwRng *rng,
                               float *out, float *mask);

typedef struct {
  double lambda, mu, nu;      /* 25, 25, 1 */
  double gamma;               /* target std, 1 */
  double eps;                 /* 1e-4 */
} FwVicregParams;

typedef struct {
  double inv, var, cov;       /* the unweighted terms (var and cov summed over both views) */
  double loss;
} FwVicregTerms;

void     fw_vicreg_params_init (FwVicregParams *p);
/* Loss of z1, z2 [n x d] (n >= 2); g1, g2 [n x d] receive dL/dz (may be NULL). */
double   fw_vicreg_loss       (const float *z1, const float *z2, int n, int d,
                               const FwVicregParams *p, float *g1, float *g2,
                               FwVicregTerms *terms);
/* The variance term of one view alone and its gradient (g may be NULL). */
double   fw_vicreg_variance   (const float *z, int n, int d, double gamma, double eps, float *g);

/* DINO loss: s, t [2n x K] student / teacher outputs, rows [0, n) view 1, [n, 2n) view 2;
 * center[K]; grad_s [2n x K] (may be NULL). */
double   fw_dino_loss         (const float *s, const float *t, int n, int k, const float *center,
                               double tau_s, double tau_t, float *grad_s);
/* center <- m center + (1 - m) mean over the rows of t [rows x K] */
void     fw_dino_center_update (float *center, const float *t, int rows, int k, double m);
/* teacher <- m teacher + (1 - m) student over all parameters and state (same spec) */
void     fw_ema_update        (FwModel *teacher, const FwModel *student, double m);

/* k-means of x [n x d] into k clusters: centres [k x d], assign[n]; returns the inertia (sum of
 * squared distances to the assigned centre). */
double   fw_kmeans            (const float *x, int n, int d, int k, int iters, guint64 seed,
                               float *centres, gint32 *assign);

/* Per-dimension standard deviation of z [n x d] over the n rows (unbiased): std[d]. */
void     fw_dim_std           (const float *z, int n, int d, float *std);

/* Self-training selection. probs [n x k]; taken[n] (may be NULL) marks samples already used.
 * Candidates: not taken and max prob >= threshold. topk <= 0: all candidates; else the topk most
 * confident per predicted class. picks[n] (indices) and labels[n] (predicted classes), in
 * increasing index order; returns the count. */
int      fw_selftrain_select  (const float *probs, int n, int k, const guint8 *taken,
                               double threshold, int topk, gint32 *picks, gint32 *labels);

/* ---- the experiment ---- */

/* The default two-view augmentation of invariance learning (fw-augment.h text). */
#define FW_WEAK_DEFAULT_VIEWS \
  "crop:area=0.6;translate:px=2;rotate:deg=10;brightness:delta=0.2;cutout:size=0.3,p=0.5"

typedef struct {
  FwDataset *train, *test;   /* references, owned by the config */
  int per_class;             /* labelled samples per class (10) */
  int unlabelled;            /* unlabelled pool size (5000; 0 = all the rest) */
  int test_limit;            /* evaluate on at most this many test samples (0 = all) */
  int seeds;                 /* 3 */
  guint64 base_seed;
  gboolean conv;             /* conv encoder (else dense) */
  int hidden, dim;           /* dense hidden width (256), embedding dim (64) */
  FwTrainConfig pre;         /* pre-training: adam 1e-3, 10 epochs, batch 128 */
  FwTrainConfig fine;        /* supervised/fine-tune: adam 1e-3, 60 epochs, batch 32 */
  int probe_epochs;          /* linear probe epochs (100) */
  FwAugPipeline *views;      /* the two views of invariance learning (owned) */
  FwVicregParams vicreg;
  int proj_dim;              /* projector / DINO output width (64) */
  double dino_tau_s, dino_tau_t, dino_ema, dino_center_m;   /* 0.1, 0.04, 0.99, 0.9 */
  gboolean dino_centre;      /* TRUE (FALSE shows the collapse) */
  int clusters;              /* 50 */
  int mask;                  /* masked patch size (10) */
  int rounds;                /* self-training rounds (5) */
  double threshold;          /* 0.9 */
  int topk;                  /* 0 = all above the threshold */
  int threads;
} FwWeakConfig;

FwWeakConfig *fw_weak_config_new  (FwDataset *train, FwDataset *test);
void          fw_weak_config_free (FwWeakConfig *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwWeakConfig, fw_weak_config_free)

typedef struct {
  int round;                 /* 0 = supervised only; round r trains on what rounds < r added */
  int n_train;               /* labelled + pseudo-labelled samples trained on */
  double test_acc;
  int added, wrong;          /* pseudo-labels added after this round and how many are wrong */
  int total_pseudo, total_wrong;
} FwSelftrainRound;

typedef struct {
  FwWeakMethod method;
  int seed;                  /* 0-based seed index */
  double probe_acc;          /* linear probe test accuracy (NaN: no pre-training) */
  double fine_acc;           /* fine-tuned (or supervised / last self-training round) */
  GArray *pretext_loss;      /* double per pre-training epoch */
  float *emb_std;            /* [n_dims] per-dimension std of the pre-trained embedding (the
                              * projector output for VICReg and DINO), NULL without one */
  int n_dims;
  GArray *rounds;            /* FwSelftrainRound (self-training), else empty */
  double seconds;
  int index, total;          /* this result's number and the total of the comparison */
} FwWeakResult;

void fw_weak_result_free (FwWeakResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwWeakResult, fw_weak_result_free)

typedef struct {
  /* phase ("pretext", "probe", "fine-tune", "round 2") and its epoch, with its mean loss */
  void (*epoch) (gpointer user, const char *phase, int epoch, int n_epochs, double loss);
  void (*round) (gpointer user, const FwSelftrainRound *r);
  gpointer user;
} FwWeakHooks;

/* One method on one seed (0-based index; the data split and init come from base_seed + seed). */
FwWeakResult *fw_weak_run (const FwWeakConfig *c, FwWeakMethod method, int seed,
                           const FwWeakHooks *hooks, GCancellable *cancellable, GError **error);

G_END_DECLS
