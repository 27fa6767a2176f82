/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-engine.h: the Frugal Workbench engine in one include.
 *
 * The engine trains and compresses small neural networks on the CPU, without GTK. Its model
 * in one page:
 *
 * DATA. An FwDataset (fw-dataset.h) is an in-memory batch of samples x[n][c][h][w] in [0, 1]
 * with class labels y[n]. fw_dataset_load() resolves a spec string ("fashion-mnist",
 * "digits:test", "sim:5000", "folder:PATH", "idx:FILE", "csv:FILE") to one. Subsets and splits
 * are seeded and stratified. Datasets are refcounted and immutable once shared.
 *
 * MODELS. An FwModel (fw-model.h) is a sequence of layers described by a spec string
 * ("conv:6:5,relu,maxpool:2,...,dense:10") over an input shape. All trainable parameters live
 * in ONE flat buffer m->params with per-layer views (l->w), gradients likewise (m->grads,
 * l->gw); batch-norm statistics in m->state. Each layer kind is a small function table
 * (FwLayerClass in fw-layer.h): setup, init, forward, backward, flops, tensors, spec.
 * Activations are kept per layer in buffers allocated once per max batch, so backward can
 * read the input and output of every layer. Every matrix product goes through fw_sgemm()
 * (fw-gemm.h) over OpenBLAS; fw_sgemm_ref() is the naive reference the tests compare with.
 *
 *     logits = fw_model_forward (m, x, n, TRUE);          x: [n x c*h*w], raw pixels
 *     loss = fw_loss_softmax_xent (logits, n, k, y, NULL, 0, dlogits, NULL);
 *     fw_model_backward (m, dlogits, n);                   fills m->grads
 *     fw_optimizer_step (opt, m, lr);                      one pass over the flat buffer
 *
 * TRAINING. fw_train() (fw-train.h) runs epochs of shuffled minibatches with SGD/Adam/AdamW,
 * schedules, clipping, early stopping and NaN detection, reporting through FwTrainHooks.
 * fw_evaluate() gives accuracy, confusion matrix and per-class accuracy.
 *
 * FILES. Models are .safetensors files (fw-safetensors.h) with the architecture in
 * __metadata__; writing is atomic.
 *
 * JOBS. Long work runs on the one worker thread of an FwJobRunner (fw-job.h); a job reports
 * coalesced progress and queued events (epoch metrics, logs, immutable snapshots) that reach
 * the consumer's GMainContext through at most one pending idle source, and it stops at the
 * next minibatch when its GCancellable is cancelled. A recipe (fw-recipe.h, a GKeyFile .ini)
 * describes one training job; fw_recipe_job_run() is that job, shared by the CLI and the GUI.
 *
 * RANDOMNESS. Every random number flows from a seed through FwRng (fw-rng.h), split per
 * purpose (init, shuffle, dropout, augmentation, noise): same recipe, seed and thread count,
 * same numbers.
 *
 * ERRORS. Every fallible call takes a GError ** in the FW_ERROR domain (fw-error.h) whose
 * message names the file or key and says what to do.
 */
#pragma once

#include "fw-error.h"
#include "fw-gemm.h"
#include "fw-rng.h"
#include "fw-util.h"
#include "fw-layer.h"
#include "fw-loss.h"
#include "fw-model.h"
#include "fw-safetensors.h"
#include "fw-dataset.h"
#include "fw-train.h"
#include "fw-job.h"
#include "fw-recipe.h"
#include "fw-recipe-ext.h"
#include "fw-run-dir.h"
