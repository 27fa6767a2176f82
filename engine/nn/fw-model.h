/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-model.h: a model is a sequence of layers over one flat parameter buffer.
 *
 * A model is described by a spec string: comma-separated layer tokens, e.g.
 *   "conv:6:5,relu,maxpool:2,conv:16:5,relu,maxpool:2,flatten,dense:120,relu,dense:84,relu,dense:10"
 * over an input shape (c, h, w). Named architectures (fw_model_arch_spec) expand to specs.
 * The last layer's output width is the number of classes (logits).
 *
 * Memory (allocated once per model and max batch, never per batch):
 *   params[n_params], grads[n_params]   all layers' trainable parameters, per-layer views
 *   state[n_state]                      non-trainable state (BN running stats)
 *   act[i]   [max_batch x size(out_i)]  output of layer i (act_in holds the normalised input)
 *   dact[i]  [max_batch x size(out_i)]  dL/d(output of layer i)
 *
 * Input normalisation (x - in_mean) / in_std is part of the model and saved with it.
 * Models are refcounted (g_atomic_rc_box); a model is used by one thread at a time.
 */
#pragma once

#include <glib.h>

#include "fw-layer.h"
#include "fw-rng.h"

G_BEGIN_DECLS

typedef struct _FwModel FwModel;

struct _FwModel {
  char *arch;               /* architecture name ("mlp", "lenet5", "custom") */
  char *spec;               /* the full spec string */
  FwShape input;
  int n_classes;
  float in_mean, in_std;    /* input normalisation */
  char **class_names;       /* NULL or n_classes names, NULL-terminated */

  FwLayer **layers;
  int n_layers;

  float *params, *grads;    /* [n_params] */
  gsize n_params;
  float *state;             /* [n_state] */
  gsize n_state;

  int max_batch;            /* capacity of the activation buffers */
  float *act_in;            /* [max_batch x size(input)] normalised input */
  float **act;              /* [n_layers][max_batch x size(out_i)] */
  float **dact;             /* [n_layers][max_batch x size(out_i)] */
  float *scratch;           /* all layers' scratch, one block */

  FwRng dropout_rng;
};

/* Named architectures: "mlp" (widths via arg "256,128"), "lenet5", "cnn-small",
 * "mobilenet-tiny", "squeezenet-tiny". Returns a spec string for the given input and class
 * count, or NULL with an error for an unknown name. widths may be NULL (mlp default 256,128). */
char     *fw_model_arch_spec   (const char *arch, const char *widths, FwShape input,
                                int n_classes, GError **error);
/* NULL-terminated list of architecture names */
const char *const *fw_model_arch_names (void);

/* Builds a model from a spec; parameters are zero until fw_model_init(). A spec whose
 * parameters exceed FW_MODEL_MAX_PARAMS floats, or whose one sample's activations exceed
 * FW_MODEL_MAX_SAMPLE_FLOATS, is an error (before any allocation). */
#define FW_MODEL_MAX_PARAMS ((gsize) 1 << 28)          /* 1 GiB of floats */
#define FW_MODEL_MAX_SAMPLE_FLOATS ((gsize) 1 << 26)   /* 256 MiB per sample */
FwModel  *fw_model_new         (const char *arch, const char *spec, FwShape input,
                                GError **error);
/* The same with at most max_floats parameters + state (a file's loader passes what its data
 * section can hold): more is an FW_ERROR_FORMAT error. */
FwModel  *fw_model_new_limited (const char *arch, const char *spec, FwShape input,
                                gsize max_floats, GError **error);
FwModel  *fw_model_ref         (FwModel *m);
void      fw_model_unref       (FwModel *m);
/* Deep copy (parameters, state, flags), sized for the same max batch. */
FwModel  *fw_model_copy        (const FwModel *m);

void      fw_model_init        (FwModel *m, guint64 seed);
/* Grows (never shrinks) the activation buffers to hold batch n. */
void      fw_model_reserve     (FwModel *m, int n);

/* Forward pass of n samples x [n x size(input)] (raw, un-normalised); returns the logits
 * buffer [n x n_classes] owned by the model (valid until the next call). */
const float *fw_model_forward  (FwModel *m, const float *x, int n, gboolean train);
/* Backward pass after a forward(train=TRUE) on the same batch: dlogits [n x n_classes];
 * fills m->grads. */
void      fw_model_backward    (FwModel *m, const float *dlogits, int n);

/* Predicted classes (argmax) for n samples, in batches of up to `batch`; preds[n]. */
void      fw_model_predict     (FwModel *m, const float *x, int n, int batch, gint32 *preds);

/* Costs: parameters (trainable + state), bytes as stored (fp32), forward FLOPs per sample. */
gsize     fw_model_param_count (const FwModel *m);
double    fw_model_flops       (const FwModel *m);

/* The first layer whose parameters or gradients hold a NaN/Inf, or -1. */
int       fw_model_find_nonfinite (const FwModel *m, gboolean grads);

/* Multi-line human description: one line per layer with shape, params, FLOPs. */
char     *fw_model_describe    (const FwModel *m);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwModel, fw_model_unref)

G_END_DECLS
