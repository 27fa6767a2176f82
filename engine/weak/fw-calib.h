/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-calib.h: global checks of a classifier on a whole (unlabelled) set: calibration and class
 * proportions.
 *
 * RELIABILITY. Samples are put in `bins` equal-width bins of their confidence c (the largest
 * softmax probability; bin b holds c in (b/B, (b+1)/B], c = 0 in bin 0). Per bin: the count n_b,
 * the mean confidence conf_b and the accuracy acc_b (fraction whose prediction is right).
 * Expected calibration error (Guo et al. 2017, 15 bins): ECE = sum_b (n_b / N) |acc_b - conf_b|.
 *
 * TEMPERATURE SCALING. p = softmax(z / T) with one T > 0 fitted on validation logits by
 * minimising the mean negative log-likelihood. With beta = 1/T,
 *   NLL(beta) = mean_i [ log sum_j exp(beta z_ij) - beta z_iy ],
 *   NLL'(beta) = mean_i [ E_p[z_i] - z_iy ],  NLL''(beta) = mean_i Var_p[z_i] >= 0,
 * a convex function of beta: Newton steps guarded by bisection on the sign of NLL'. Dividing the
 * logits by T > 0 never changes the argmax, so accuracy is unchanged; only the confidences move.
 *
 * CLASS PRIORS UNDER SHIFT (Saerens, Latinne & Decaestecker 2002). A model trained with class
 * priors pi_train gives posteriors p(y|x). On a set whose priors are pi, the posteriors become
 *   p'(y|x) = [pi(y) / pi_train(y)] p(y|x) / sum_j [pi(j) / pi_train(j)] p(j|x),
 * and EM re-estimates pi: start with pi = pi_train; E-step p' as above; M-step pi(y) = mean_x
 * p'(y|x); repeat until the largest change is below tol. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FW_CALIB_BINS 15

typedef struct {
  int bins;
  gint64 *count;   /* [bins] */
  double *conf;    /* [bins] mean confidence (NaN for an empty bin) */
  double *acc;     /* [bins] accuracy (NaN for an empty bin) */
  double ece;      /* expected calibration error */
  double mce;      /* maximum calibration error over non-empty bins */
  double accuracy; /* overall */
  double mean_conf;/* overall */
  double nll;      /* mean negative log-likelihood (NaN when built from confidences only) */
  int n;
} FwReliability;

void           fw_reliability_free (FwReliability *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwReliability, fw_reliability_free)

/* From confidences conf[n] in [0, 1] and correctness correct[n] (0/1). bins >= 1. */
FwReliability *fw_reliability_from_conf  (const float *conf, const guint8 *correct, int n,
                                          int bins);
/* From logits [n x k] with temperature T (> 0) and labels[n]. */
FwReliability *fw_reliability_from_logits (const float *logits, int n, int k,
                                           const gint32 *labels, double temperature, int bins);

/* Mean NLL of labels under softmax(logits / T). */
double   fw_calib_nll          (const float *logits, int n, int k, const gint32 *labels,
                                double temperature);
/* Fits T (returned in *temperature, within [1e-2, 1e2]); FALSE with an error for n < 1 or
 * non-finite logits. */
gboolean fw_calib_fit_temperature (const float *logits, int n, int k, const gint32 *labels,
                                   double *temperature, GError **error);

/* EM re-estimation of class priors. probs [n x k] (posteriors under train_prior[k], which must
 * be > 0); prior_out[k]; adjusted [n x k] (optional) receives the adjusted posteriors. Returns
 * the number of iterations used. */
int      fw_calib_prior_em     (const float *probs, int n, int k, const double *train_prior,
                                int max_iter, double tol, double *prior_out, float *adjusted);
/* Fraction of samples predicted in each class (argmax of probs): out[k]. */
void     fw_calib_predicted_proportions (const float *probs, int n, int k, double *out);

G_END_DECLS
