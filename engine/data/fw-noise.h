/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-noise.h: label noise at exact rates, the same-sample regression demo, and detection of
 * likely-mislabelled samples (confident-learning style per-class thresholds).
 *
 * A noise model is a row-stochastic matrix T[k x k], T[i][j] = P(given label j | true label i).
 * Injection does not draw each label independently (which realises the rate only on average):
 * for every cell it computes the expected count T[i][j] * n_i, rounds the off-diagonal cells
 * by largest remainder so that their total is round(sum of expected flips), and then flips
 * exactly that many randomly chosen samples of class i to class j. The realised noise matrix
 * therefore equals the requested one up to rounding, and so does the realised rate. */
#pragma once

#include <gio/gio.h>

#include "fw-dataset.h"

G_BEGIN_DECLS

typedef enum {
  FW_NOISE_NONE,
  FW_NOISE_SYMMETRIC,   /* rate spread uniformly over the k - 1 other classes */
  FW_NOISE_PAIR,        /* rate moved to one fixed confusable class (see fw_noise_pair_map) */
  FW_NOISE_MATRIX,      /* a given class-conditional matrix */
} FwNoiseKind;

/* "none" | "symmetric" | "pair" | "matrix" -> kind; FALSE for an unknown name. */
gboolean    fw_noise_kind_from_string (const char *s, FwNoiseKind *kind);
const char *fw_noise_kind_to_string   (FwNoiseKind kind);

/* The pair-flip target of each class: map[k]. For Fashion-MNIST's 10 named classes the
 * confusable pairs T-shirt <-> Shirt, Pullover <-> Coat, Trouser <-> Dress,
 * Sneaker <-> Ankle boot, Sandal <-> Bag; otherwise class c -> (c + 1) mod k.
 * class_names may be NULL. Free with g_free. */
int        *fw_noise_pair_map (int k, const char *const *class_names);

/* The noise matrix T[k x k] (g_free) for a kind and rate in [0, 1]; for MATRIX, read a text
 * file of k rows of k numbers (rows are normalised; negative entries or an all-zero row are
 * errors naming the file and row). pair_map may be NULL (then fw_noise_pair_map (k, NULL)). */
double     *fw_noise_matrix_new  (FwNoiseKind kind, double rate, int k, const int *pair_map,
                                  GError **error);
double     *fw_noise_matrix_load (const char *path, int k, GError **error);

/* Noisy copy of a labelled set. */
typedef struct {
  FwDataset *noisy;     /* same samples (copied), labels with the injected noise */
  gint32 *y_true;       /* [n] the original labels (a copy; the input dataset is not touched) */
  int n, n_classes;
  int n_flipped;        /* samples whose noisy label differs from the true one */
  double rate;          /* realised rate n_flipped / n */
  gint64 *counts;       /* [k x k] realised: counts[i*k + j] = #(true i, given j) */
} FwNoisyLabels;

/* Injects noise from matrix T (k = ds->n_classes) with a seeded generator. */
FwNoisyLabels *fw_noise_apply (const FwDataset *ds, const double *T, guint64 seed,
                               GError **error);
/* Convenience: kind + rate (+ matrix file for MATRIX). */
FwNoisyLabels *fw_noise_apply_kind (const FwDataset *ds, FwNoiseKind kind, double rate,
                                    const char *matrix_path, guint64 seed, GError **error);
void           fw_noisy_labels_free (FwNoisyLabels *nl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwNoisyLabels, fw_noisy_labels_free)

/* The same-sample regression demo. For each ns[i]: `trials` times, draw ns[i] observations
 * y = target + sigma * z (z standard normal), estimate g = mean(y), and average
 * (g - target)^2 into mse[i]. The theory: E[(g - target)^2] = sigma^2 / N. */
void fw_noise_regression_curve (double target, double sigma, const int *ns, int m,
                                int trials, guint64 seed, double *mse);

/* Data-size compensation. acc[s * n_rates + r] = mean test accuracy measured with sizes[s]
 * training samples (ascending, > 0) at noise rates[r]; NaN = not measured. The reference is
 * the clean accuracy a_ref at sizes[0] (the rate-0 column; FALSE without one). For every rate,
 * needed[r] = the training-set size at which its curve first reaches a_ref, interpolated
 * linearly in log(size) between the two measured sizes around the crossing (sizes[0] when it
 * is reached there already, NaN when it is not reached within the measured sizes), and
 * predicted[r] = sizes[0] / (1 - rates[r]): "keep the number of correct labels constant"
 * (inf for rate 1). */
gboolean fw_noise_size_needed (const double *sizes, int n_sizes, const double *rates,
                               int n_rates, const double *acc, double *needed,
                               double *predicted);

/* Confident-learning style detection. probs[n x k] = predicted class probabilities
 * (preferably out-of-sample), given[n] = the labels as given. Per class j the threshold t[j]
 * is the mean of probs[i][j] over the samples given label j (their self-confidence). A sample
 * is flagged when probs[i][given_i] < t[given_i] and some other class j has
 * probs[i][j] >= t[j]; suggested[i] is then the most probable such j (else given_i).
 * With y_true (may be NULL), precision = flagged and truly flipped / flagged and
 * recall = flagged and truly flipped / truly flipped (NaN when undefined). */
typedef struct {
  int n, n_classes;
  double *thresholds;     /* [k] */
  gboolean *flagged;      /* [n] */
  gint32 *suggested;      /* [n] */
  int n_flagged;
  int n_true_flips;       /* with y_true, else 0 */
  int n_hits;             /* flagged and truly flipped */
  double precision, recall;
} FwMislabelReport;

FwMislabelReport *fw_noise_detect (const float *probs, int n, int k, const gint32 *given,
                                   const gint32 *y_true, GError **error);
void              fw_mislabel_report_free (FwMislabelReport *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwMislabelReport, fw_mislabel_report_free)

G_END_DECLS
