/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-augment.h: seeded data augmentation: operations on one image, pipelines, CutMix/Mixup.
 *
 * An image is img[c][h][w] floats in [0, 1] (c = 1 grey or 3 RGB). Every random choice comes
 * from an FwRng the caller passes (split it from the recipe's seed with FW_RNG_AUGMENT).
 *
 * Geometric operations map each OUTPUT pixel p = (x, y) (pixel centres at integers) to an input
 * point q = M p and read the input there by bilinear interpolation with a border mode. For
 * consecutive affine operations M = M_1 M_2 ... M_k (I_k(p) = I_0(M_1 ... M_k p)), so a run of
 * affine operations (rotate, translate, scale, shear, crop, flips) is resampled once; a
 * following warp (elastic, perspective, grid) absorbs that composite too.
 *
 * A pipeline is an ordered list of steps (operation, parameters, enabled, probability p),
 * written as compact text for recipes:
 *   "rotate:deg=15;translate:px=2;elastic:alpha=8,sigma=3;cutmix:p=0.5"
 * "!op" is a disabled step; every operation takes p (the probability of applying it, default
 * 1, or 0.5 for the flips); geometric ones take border=zero|edge|reflect. Unknown operations
 * or keys are a GError naming them. */
#pragma once

#include <glib.h>

#include "fw-rng.h"

G_BEGIN_DECLS

typedef enum {
  FW_AUG_ROTATE,
  FW_AUG_TRANSLATE,
  FW_AUG_SCALE,
  FW_AUG_SHEAR,
  FW_AUG_CROP,         /* random resized crop */
  FW_AUG_HFLIP,
  FW_AUG_VFLIP,
  FW_AUG_ELASTIC,
  FW_AUG_PERSPECTIVE,
  FW_AUG_GRID,
  FW_AUG_BRIGHTNESS,
  FW_AUG_CONTRAST,
  FW_AUG_GAMMA,
  FW_AUG_COLOR,        /* colour balance: per-channel gains (RGB only) */
  FW_AUG_HSV,          /* hue rotation and saturation (RGB only) */
  FW_AUG_NOISE,
  FW_AUG_SALT_PEPPER,
  FW_AUG_SPECKLE,
  FW_AUG_BLUR,
  FW_AUG_CUTOUT,
  FW_AUG_RANDAUGMENT,
  FW_AUG_CUTMIX,       /* batch-level */
  FW_AUG_MIXUP,        /* batch-level */
  FW_AUG_N_OPS
} FwAugOp;

typedef enum { FW_AUG_BORDER_ZERO, FW_AUG_BORDER_EDGE, FW_AUG_BORDER_REFLECT } FwAugBorder;

typedef enum {
  FW_AUG_KIND_AFFINE,  /* composes into one matrix */
  FW_AUG_KIND_WARP,    /* a per-pixel coordinate map */
  FW_AUG_KIND_PIXEL,   /* changes values, not positions */
  FW_AUG_KIND_MULTI,   /* RandAugment: a random choice of others */
  FW_AUG_KIND_BATCH,   /* mixes two samples and their labels */
} FwAugKind;

#define FW_AUG_MAX_PARAMS 5

typedef struct {
  const char *key;       /* "deg" */
  const char *label;     /* "Max angle (degrees)" */
  double min, max, def;  /* the slider's range and the default */
  double step;           /* the slider's step (1 for counts and choices) */
  const char *const *choices; /* non-NULL: the value is an index into these names */
} FwAugParamInfo;

typedef struct {
  const char *name;      /* "rotate": the recipe word */
  const char *title;     /* "Rotate" */
  const char *blurb;     /* one line for tooltips */
  FwAugKind kind;
  gboolean rgb_only;
  int n_params;          /* including p (always the last) */
  FwAugParamInfo params[FW_AUG_MAX_PARAMS];
} FwAugOpInfo;

const FwAugOpInfo *fw_aug_op_info   (FwAugOp op);
/* -1 when unknown */
int                fw_aug_op_lookup (const char *name);
/* TRUE when op can run on images with c channels; else FALSE with *reason (static text). */
gboolean           fw_aug_op_applies (FwAugOp op, int c, const char **reason);

typedef struct {
  FwAugOp op;
  gboolean enabled;
  double v[FW_AUG_MAX_PARAMS];  /* in the order of the op's params; p is v[n_params - 1] */
} FwAugStep;

typedef struct _FwAugPipeline FwAugPipeline;

FwAugPipeline *fw_aug_pipeline_new    (void);
FwAugPipeline *fw_aug_pipeline_copy   (const FwAugPipeline *p);
void           fw_aug_pipeline_free   (FwAugPipeline *p);
FwAugPipeline *fw_aug_pipeline_parse  (const char *text, GError **error);
/* Compact text: only non-default values, "%.6g"; "" for an empty pipeline. */
char          *fw_aug_pipeline_to_string (const FwAugPipeline *p);
int            fw_aug_pipeline_n_steps (const FwAugPipeline *p);
FwAugStep     *fw_aug_pipeline_step   (FwAugPipeline *p, int i);
/* Appends op with default parameters, enabled; returns its index. */
int            fw_aug_pipeline_add    (FwAugPipeline *p, FwAugOp op);
void           fw_aug_pipeline_remove (FwAugPipeline *p, int i);
/* Moves step i to position j. */
void           fw_aug_pipeline_move   (FwAugPipeline *p, int i, int j);
/* Set a parameter by key; FALSE when the op has no such key. Values are clamped to range. */
gboolean       fw_aug_step_set        (FwAugStep *s, const char *key, double value);
double         fw_aug_step_get        (const FwAugStep *s, const char *key);
/* TRUE when an enabled step is CutMix or Mixup (the trainer then needs soft targets). */
gboolean       fw_aug_pipeline_has_batch_ops (const FwAugPipeline *p);
/* An error naming the first enabled step that cannot run on c-channel images. */
gboolean       fw_aug_pipeline_check  (const FwAugPipeline *p, int c, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwAugPipeline, fw_aug_pipeline_free)

/* Scratch floats fw_aug_apply needs for one c x h x w image. */
gsize    fw_aug_scratch_floats (int c, int h, int w);
/* Applies the per-sample steps (not CutMix/Mixup) to img in place. scratch: at least
 * fw_aug_scratch_floats() floats, or NULL to allocate. steps_out (optional, for the GUI's step
 * view): (n_steps) images of c*h*w floats receiving the image after each step (a skipped or
 * disabled step copies its input); affine runs are then resampled step by step. */
void     fw_aug_apply (const FwAugPipeline *p, float *img, int c, int h, int w, FwRng *rng,
                       float *scratch, float *steps_out);

/* Batch level: x[n][c*h*w] (already augmented per sample), labels y[n]; writes soft targets
 * soft[n][k] (one-hot where nothing was mixed). Each enabled CutMix/Mixup step runs on each
 * sample with its probability p, pairing it with a random other sample of the batch (read from
 * a copy of the batch taken before mixing; soft targets mix the same way, so CutMix then Mixup
 * compose). scratch: fw_aug_batch_scratch_floats() floats or NULL. */
gsize    fw_aug_batch_scratch_floats (int n, int c, int h, int w, int k);
void     fw_aug_apply_batch (const FwAugPipeline *p, float *x, const gint32 *y, int n, int c,
                             int h, int w, int k, FwRng *rng, float *scratch, float *soft);

/* ---- The building blocks, deterministic, for tests and the GUI ---- */

/* dst(p) = src(A p) with A = {a0, a1, a2, a3, a4, a5}: xs = a0 x + a1 y + a2,
 * ys = a3 x + a4 y + a5 (bilinear; coordinates within 1e-4 of an integer are snapped). */
void     fw_aug_warp_affine (const float *src, float *dst, int c, int h, int w,
                             const double A[6], FwAugBorder border);
/* dst(p) = src(mapx[p], mapy[p]) */
void     fw_aug_remap (const float *src, float *dst, int c, int h, int w, const float *mapx,
                       const float *mapy, FwAugBorder border);
/* The output-to-input matrix of a rotation by deg degrees (counter-clockwise as seen on the
 * screen, y down) about the image centre. */
void     fw_aug_matrix_rotate (double A[6], double deg, int h, int w);
/* The elastic displacement field (Simard et al. 2003): uniform [-1, 1] per pixel, smoothed by a
 * normalised Gaussian of sigma, times alpha. dx, dy: [h*w]; tmp: 2*h*w floats or NULL. */
void     fw_aug_elastic_field (FwRng *rng, int h, int w, double alpha, double sigma,
                               float *dx, float *dy, float *tmp);
/* CutMix of a (kept) and b (pasted in the box [x0, x1) x [y0, y1)): returns the weight of a's
 * label, the fraction of pixels kept from a. */
double   fw_aug_cutmix_box (float *a, const float *b, int c, int h, int w, int x0, int y0,
                            int x1, int y1);

/* Closed-form intensity operations (what brightness and contrast draw their values into):
 * brightness: x <- clamp(x + b); contrast: x <- clamp(m + f (x - m)), m = mean of the image. */
void     fw_aug_brightness (float *img, gsize n, double b);
void     fw_aug_contrast   (float *img, gsize n, double f);

G_END_DECLS
