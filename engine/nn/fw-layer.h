/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-layer.h: one layer kind = one small function table (FwLayerClass).
 *
 * Activations are batches in NCHW order: x[n][c][h][w], one sample contiguous, sample size
 * fw_shape_size(shape). A dense vector of width d has shape {d, 1, 1}.
 *
 * A layer's trainable parameters are a view (l->w, l->gw, l->n_w) into the model's one flat
 * parameter / gradient buffer; non-trainable state (batch-norm running statistics) is a view
 * (l->st, l->n_st) into the model's flat state buffer; l->scratch is a buffer of
 * l->scratch_fixed + max_batch * l->scratch_per_sample floats owned by the model, for im2col
 * columns, dropout masks, normalised activations and whatever backward() needs from forward().
 *
 * Contract:
 *   setup()    parses the spec arguments ("dense:128" -> args {"128"}), knows l->in, sets
 *              l->out, l->n_w, l->n_st, l->scratch_per_sample, l->scratch_fixed. No allocation
 *              of parameter memory (views are assigned by the model afterwards); may set
 *              l->priv (freed by finalize()).
 *   init()     fills l->w (and l->st) given the rng (He / Glorot as suits the kind).
 *   forward()  y[n x out] <- f(x[n x in]); train selects train-mode behaviour (dropout, BN).
 *   backward() given x, y (as forward produced them, in the same mode and same batch) and
 *              dy, OVERWRITES l->gw with dL/dw for this batch and, when dx != NULL, writes
 *              dx = dL/dx. dx is NULL for the model's first layer.
 *   flops()    multiply-adds count 2, per sample, forward only.
 *   tensors()  lists the named tensors inside l->w (and l->st) for serialization, pruning and
 *              display: "weight", "bias", "gamma", "running_mean"...
 *   spec()     the spec token that rebuilds this layer ("conv:16:3:1:1").
 */
#pragma once

#include <glib.h>

#include "fw-rng.h"

G_BEGIN_DECLS

typedef struct {
  int c, h, w;
} FwShape;

static inline gsize
fw_shape_size (FwShape s)
{
  return (gsize) s.c * (gsize) s.h * (gsize) s.w;
}

typedef struct _FwLayer FwLayer;
typedef struct _FwLayerClass FwLayerClass;

/* Element types of packed tensors, named as in the safetensors format. */
typedef enum {
  FW_DTYPE_F32,
  FW_DTYPE_F16,
  FW_DTYPE_I8,
  FW_DTYPE_U8,
  FW_DTYPE_I16,
  FW_DTYPE_U16,
  FW_DTYPE_I32,
} FwDType;

#define FW_N_DTYPES 7

const char *fw_dtype_name  (FwDType t);   /* "F32" "F16" "I8" "U8" "I16" "U16" "I32" */
gsize       fw_dtype_size  (FwDType t);   /* bytes per element */
/* The dtype of a safetensors name; FALSE when unknown. */
gboolean    fw_dtype_parse (const char *name, FwDType *out);

#define FW_TENSOR_MAX_DIMS 4
#define FW_LAYER_MAX_TENSORS 12

typedef struct {
  const char *name;       /* "weight", "bias", ... (static string) */
  gboolean trainable;     /* TRUE: offset is into l->w; FALSE: into l->st */
  gsize offset;           /* in floats */
  int ndim;
  int dims[FW_TENSOR_MAX_DIMS];
} FwTensorInfo;

/* A tensor of a layer's packed storage (compressed kinds: sparse, int8, codebook, fp16). */
typedef struct {
  const char *name;       /* "values", "col_index", "codes", ... (static string) */
  FwDType dtype;
  int ndim;
  int dims[FW_TENSOR_MAX_DIMS];
  const void *data;       /* little-endian bytes; owned by the layer (packed()) or by the
                             file buffer (unpack(): copy what you keep) */
  gsize bytes;            /* product(dims) * fw_dtype_size(dtype) */
} FwPackedTensor;

struct _FwLayerClass {
  const char *name;       /* spec keyword: "dense", "conv", "relu", ... */
  const char *help;       /* "dense:UNITS  fully connected layer" */
  gboolean (*setup)    (FwLayer *l, char **args, int n_args, GError **error);
  void     (*init)     (FwLayer *l, FwRng *rng);
  void     (*forward)  (FwLayer *l, const float *x, float *y, int n, gboolean train);
  void     (*backward) (FwLayer *l, const float *x, const float *y, const float *dy,
                        float *dx, int n);
  double   (*flops)    (const FwLayer *l);
  int      (*tensors)  (const FwLayer *l, FwTensorInfo *out);
  char    *(*spec)     (const FwLayer *l);
  void     (*finalize) (FwLayer *l);
  /* Optional: storage beyond the float tensors of tensors(), for compressed kinds.
   * packed() lists the layer's packed tensors (at most FW_LAYER_MAX_TENSORS) with their
   * current data; on a freshly set-up layer it must still list every name and dtype (data may
   * be NULL, dims 0). On load, unpack() receives the tensors found in the file under those
   * names, with the file's dims, and must validate them (sizes, index ranges) and copy them
   * into l->priv. fw_model_copy() copies packed storage through packed() -> unpack(). */
  int      (*packed)   (const FwLayer *l, FwPackedTensor *out);
  gboolean (*unpack)   (FwLayer *l, const FwPackedTensor *in, int n, GError **error);
};

struct _FwLayer {
  const FwLayerClass *klass;
  int index;              /* position in the model */
  FwShape in, out;

  /* parsed configuration, meaning per kind (documented in each kind's file) */
  int iarg[8];
  float farg[4];

  /* views into the model's flat buffers */
  float *w;               /* [n_w] trainable parameters */
  float *gw;              /* [n_w] their gradients */
  gsize n_w;
  float *st;              /* [n_st] non-trainable state */
  gsize n_st;

  /* scratch owned by the model: scratch_fixed + max_batch * scratch_per_sample floats */
  float *scratch;
  gsize scratch_per_sample;
  gsize scratch_fixed;

  gboolean frozen;        /* no update by optimizers (transfer learning) */
  float lr_scale;         /* this layer's learning-rate factor, 0 = 1 (discriminative fine-tuning) */
  FwRng *rng;             /* borrowed from the model (dropout) */
  gpointer priv;          /* kind-specific, freed by klass->finalize */
};

/* Registry of layer kinds. */
const FwLayerClass *fw_layer_class_lookup (const char *name);
/* NULL-terminated array of all built-in kinds (for --help). */
const FwLayerClass *const *fw_layer_classes (void);
/* Adds a kind at run time (tests, plug-ins); looked up after the built-in ones. Call before
 * models using it are built; not thread-safe against concurrent lookups. */
void                fw_layer_class_register (const FwLayerClass *klass);

/* Helpers for setup() implementations. */
gboolean fw_layer_parse_int   (const FwLayer *l, char **args, int n_args, int i, int def,
                               int min, int max, int *out, GError **error);
gboolean fw_layer_parse_float (const FwLayer *l, char **args, int n_args, int i, float def,
                               float min, float max, float *out, GError **error);
/* Generic tensors() for kinds with no parameters. */
int      fw_layer_no_tensors  (const FwLayer *l, FwTensorInfo *out);
/* He-normal / Glorot-uniform fill. */
void     fw_init_he_normal    (float *w, gsize n, int fan_in, FwRng *rng);
void     fw_init_glorot_uniform (float *w, gsize n, int fan_in, int fan_out, FwRng *rng);
/* Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for Linear/Conv weights & bias */
void     fw_init_uniform_fan_in (float *w, gsize n, int fan_in, FwRng *rng);

/* The kinds (each defined in its own file). */
extern const FwLayerClass fw_layer_dense;
extern const FwLayerClass fw_layer_relu;
extern const FwLayerClass fw_layer_leaky_relu;
extern const FwLayerClass fw_layer_tanh;
extern const FwLayerClass fw_layer_sigmoid;
extern const FwLayerClass fw_layer_flatten;
extern const FwLayerClass fw_layer_dropout;
extern const FwLayerClass fw_layer_conv;
extern const FwLayerClass fw_layer_dwconv;
extern const FwLayerClass fw_layer_maxpool;
extern const FwLayerClass fw_layer_avgpool;
extern const FwLayerClass fw_layer_gap;
extern const FwLayerClass fw_layer_bn;
extern const FwLayerClass fw_layer_dwsep;
extern const FwLayerClass fw_layer_fire;
extern const FwLayerClass fw_layer_lora;      /* engine/transfer/fw-lora.c */
extern const FwLayerClass fw_layer_loraconv;  /* engine/transfer/fw-lora.c */
extern const FwLayerClass fw_layer_prompt;    /* engine/transfer/fw-prompt.c */
extern const FwLayerClass fw_layer_prefix;    /* engine/transfer/fw-prompt.c */
extern const FwLayerClass fw_layer_sparse;   /* engine/compress/fw-sparse.c */
extern const FwLayerClass fw_layer_reshape;
extern const FwLayerClass fw_layer_upsample;
extern const FwLayerClass fw_layer_qdense;   /* engine/compress/fw-layer-quant.c */
extern const FwLayerClass fw_layer_qconv;
extern const FwLayerClass fw_layer_f16;
extern const FwLayerClass fw_layer_cluster;
extern const FwLayerClass fw_layer_mbconv;   /* fw-layer-blocks.c */
extern const FwLayerClass fw_layer_dwrect;   /* engine/compress/fw-layer-factored.c */
extern const FwLayerClass fw_layer_tt;
extern const FwLayerClass fw_layer_ht;

G_END_DECLS
