/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-quant-job.h: quantization and clustering as recipe jobs ([quantize], [cluster]).
 *
 *   [quantize]
 *   mode = int8          f16 | int8 | ternary | binary
 *   per_channel = true   int8: one scale per output unit / channel (false: per tensor)
 *   symmetric = true     int8: zero point 0 (false: affine, the observed [min, max])
 *   calib = 512          int8: training samples the activation ranges are calibrated on
 *   epochs = 3           ternary / binary: STE fine-tuning epochs
 *   lr = 0.0001          ternary / binary: Adam learning rate of the fine-tuning
 *   clip = 1             binary: STE gradient zeroed where |w| > clip (0: never)
 *
 *   [cluster]
 *   k = 5                centres per weight tensor (2 .. 256)
 *   iters = 30           k-means iterations
 *   epochs = 3           clustered fine-tuning epochs (0: k-means only)
 *   pull = 0             strength of the pull phase (0: none)
 *   pull_epochs = 1      epochs of the pull phase (counted in epochs)
 *   lr = 0.0001          Adam learning rate (centres in the tied phase, weights in the pull)
 *
 * The starting model is [model] init = FILE, or without it a model trained by the recipe's
 * base groups first (its run folder goes to <run folder>/base). The job writes into its run
 * folder base.safetensors (the float model), model.safetensors (the compressed one, its real
 * size on disk), metrics.csv (fine-tuning epochs), weights.csv (histograms before / after and
 * the levels), summary.json and recipe.ini. Events: epoch metrics, SNAPSHOT "weight-hist"
 * (FwWeightHist) before, during (each epoch) and after, SNAPSHOT "quant-result"
 * (FwQuantResult) at the end. */
#pragma once

#include "fw-job.h"
#include "fw-recipe.h"
#include "fw-recipe-ext.h"

G_BEGIN_DECLS

/* A histogram of one weight tensor before compression and now, with the levels it is being
 * pulled to / stored as. */
typedef struct {
  int layer;              /* model layer index */
  char *title;            /* "layer 2 dense:256 weight (200,704 weights)" */
  char *stage;            /* "original", "k-means", "epoch 2", "final" */
  int bins;
  float lo, hi;           /* the bins cover [lo, hi] */
  guint *before;          /* [bins] the float model's weights */
  guint *after;           /* [bins] the current weights */
  int n_levels;
  float *levels;          /* [n_levels] centres / quantization levels (may be 0) */
} FwWeightHist;

void          fw_weight_hist_free (FwWeightHist *h);
FwWeightHist *fw_weight_hist_copy (const FwWeightHist *h);

typedef struct {
  char *method;           /* "int8", "f16", "ternary", "binary", "cluster" */
  char *name;             /* "int8 per-channel symmetric", "cluster k=5" */
  char *run_dir;
  FwModel *base, *model;  /* references */
  double acc_base, acc;   /* test accuracy, NaN without a test set */
  gint64 bytes_base, bytes;        /* the two .safetensors files on disk */
  gsize weight_bytes_f32, weight_bytes; /* weight tensors alone: as float32 / as stored */
  GArray *metrics;        /* FwEpochMetrics of the fine-tuning (may be empty) */
} FwQuantResult;

void fw_quant_result_free (FwQuantResult *r);

gboolean fw_quant_job_run   (FwJob *job, gpointer recipe, GCancellable *cancellable,
                             GError **error);
gboolean fw_cluster_job_run (FwJob *job, gpointer recipe, GCancellable *cancellable,
                             GError **error);

G_END_DECLS
