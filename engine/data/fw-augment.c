/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-augment.c: augmentation operations, pipelines (parse/print/apply), CutMix and Mixup.
 *
 * Coordinates: pixel centres at integers, x to the right, y down, centre
 * (cx, cy) = ((w - 1) / 2, (h - 1) / 2). Every geometric operation is written as its
 * output-to-input map (see fw-augment.h); affine maps are 2x3 matrices
 *   [a0 a1 a2]                                    composed as 3x3 with a last row [0 0 1]:
 *   [a3 a4 a5]   xs = a0 x + a1 y + a2, ys = a3 x + a4 y + a5.
 *
 * Scratch layout of fw_aug_apply (floats): buf[c*h*w] | mapx[h*w] | mapy[h*w]
 * | tmp[max(2, c)*h*w]. */
#include "fw-augment.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"

/* The engine builds with -ffast-math. Reassociation would let the vectoriser's alignment
 * peeling change which pixels get which rounding (the same seed giving images that differ in
 * the last bits depending on where a buffer lies): keep the written order of operations. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("no-associative-math")
#endif

/* as in fw-trainer.c: an AVX2/FMA copy of the smoothing loops next to the x86-64-v2 one */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && !defined(FW_NO_IFUNC)
#define FW_VECTOR_CLONES __attribute__ ((target_clones ("arch=x86-64-v3", "default")))
#else
#define FW_VECTOR_CLONES
#endif

#define PAD_R 32 /* the largest Gaussian radius the padded row buffer holds */

static const char *const border_names[] = { "zero", "edge", "reflect", NULL };

#define P_PROB(d) { "p", "Probability", 0, 1, d, 0.05, NULL }
#define P_BORDER { "border", "Border", 0, 2, 0, 1, border_names }

static const FwAugOpInfo op_table[FW_AUG_N_OPS] = {
  [FW_AUG_ROTATE] = { "rotate", "Rotate", "Rotate by an angle drawn from [-deg, deg]",
                      FW_AUG_KIND_AFFINE, FALSE, 3,
                      { { "deg", "Max angle (degrees)", 0, 180, 15, 1, NULL }, P_BORDER,
                        P_PROB (1) } },
  [FW_AUG_TRANSLATE] = { "translate", "Translate", "Shift by up to px pixels in x and in y",
                         FW_AUG_KIND_AFFINE, FALSE, 3,
                         { { "px", "Max shift (pixels)", 0, 16, 2, 0.5, NULL }, P_BORDER,
                           P_PROB (1) } },
  [FW_AUG_SCALE] = { "scale", "Scale", "Zoom by a factor drawn from [min, max]",
                     FW_AUG_KIND_AFFINE, FALSE, 4,
                     { { "min", "Smallest zoom", 0.25, 1, 0.9, 0.05, NULL },
                       { "max", "Largest zoom", 1, 4, 1.1, 0.05, NULL }, P_BORDER,
                       P_PROB (1) } },
  [FW_AUG_SHEAR] = { "shear", "Shear", "Shear x and y by angles drawn from [-deg, deg]",
                     FW_AUG_KIND_AFFINE, FALSE, 3,
                     { { "deg", "Max shear (degrees)", 0, 45, 10, 1, NULL }, P_BORDER,
                       P_PROB (1) } },
  [FW_AUG_CROP] = { "crop", "Random resized crop",
                    "Crop a random box (area fraction >= area, aspect <= ratio), resize back",
                    FW_AUG_KIND_AFFINE, FALSE, 3,
                    { { "area", "Smallest area fraction", 0.05, 1, 0.6, 0.05, NULL },
                      { "ratio", "Largest aspect ratio", 1, 4, 1.33, 0.05, NULL },
                      P_PROB (1) } },
  [FW_AUG_HFLIP] = { "hflip", "Horizontal flip", "Mirror left-right",
                     FW_AUG_KIND_AFFINE, FALSE, 1, { P_PROB (0.5) } },
  [FW_AUG_VFLIP] = { "vflip", "Vertical flip", "Mirror top-bottom",
                     FW_AUG_KIND_AFFINE, FALSE, 1, { P_PROB (0.5) } },
  [FW_AUG_ELASTIC] = { "elastic", "Elastic deformation",
                       "Random displacement field smoothed by a Gaussian (sigma), times alpha "
                       "(Simard et al. 2003)",
                       FW_AUG_KIND_WARP, FALSE, 4,
                       { { "alpha", "Strength alpha (pixels)", 0, 60, 8, 0.5, NULL },
                         { "sigma", "Smoothness sigma (pixels)", 0.5, 10, 3, 0.1, NULL },
                         P_BORDER, P_PROB (1) } },
  [FW_AUG_PERSPECTIVE] = { "perspective", "Perspective",
                           "Move each corner by up to d of the image size (a homography)",
                           FW_AUG_KIND_WARP, FALSE, 3,
                           { { "d", "Corner shift (fraction)", 0, 0.5, 0.1, 0.01, NULL },
                             P_BORDER, P_PROB (1) } },
  [FW_AUG_GRID] = { "grid", "Grid warp",
                    "Move the points of a cells x cells grid by up to d of the image size",
                    FW_AUG_KIND_WARP, FALSE, 4,
                    { { "d", "Point shift (fraction)", 0, 0.3, 0.05, 0.01, NULL },
                      { "cells", "Grid cells", 1, 8, 4, 1, NULL }, P_BORDER, P_PROB (1) } },
  [FW_AUG_BRIGHTNESS] = { "brightness", "Brightness", "Add b drawn from [-delta, delta]",
                          FW_AUG_KIND_PIXEL, FALSE, 2,
                          { { "delta", "Max change", 0, 1, 0.2, 0.01, NULL }, P_PROB (1) } },
  [FW_AUG_CONTRAST] = { "contrast", "Contrast",
                        "Scale the distance to the image mean by f drawn from [1-f, 1+f]",
                        FW_AUG_KIND_PIXEL, FALSE, 2,
                        { { "f", "Max change", 0, 1, 0.3, 0.01, NULL }, P_PROB (1) } },
  [FW_AUG_GAMMA] = { "gamma", "Gamma", "x^gamma with gamma drawn from [1-g, 1+g]",
                     FW_AUG_KIND_PIXEL, FALSE, 2,
                     { { "g", "Max change", 0, 0.9, 0.3, 0.01, NULL }, P_PROB (1) } },
  [FW_AUG_COLOR] = { "color", "Colour balance",
                     "Multiply each channel by a gain drawn from [1-gain, 1+gain]",
                     FW_AUG_KIND_PIXEL, TRUE, 2,
                     { { "gain", "Max gain change", 0, 1, 0.2, 0.01, NULL }, P_PROB (1) } },
  [FW_AUG_HSV] = { "hsv", "Hue / saturation",
                   "Rotate the hue by up to hue turns, scale saturation by [1-sat, 1+sat]",
                   FW_AUG_KIND_PIXEL, TRUE, 3,
                   { { "hue", "Max hue shift (turns)", 0, 0.5, 0.05, 0.01, NULL },
                     { "sat", "Max saturation change", 0, 1, 0.3, 0.01, NULL },
                     P_PROB (1) } },
  [FW_AUG_NOISE] = { "noise", "Gaussian noise", "Add Gaussian noise of standard deviation std",
                     FW_AUG_KIND_PIXEL, FALSE, 2,
                     { { "std", "Std deviation", 0, 0.5, 0.05, 0.01, NULL }, P_PROB (1) } },
  [FW_AUG_SALT_PEPPER] = { "saltpepper", "Salt and pepper",
                           "Set a fraction amount of pixels to black or white",
                           FW_AUG_KIND_PIXEL, FALSE, 2,
                           { { "amount", "Fraction of pixels", 0, 0.5, 0.02, 0.01, NULL },
                             P_PROB (1) } },
  [FW_AUG_SPECKLE] = { "speckle", "Speckle", "Multiplicative noise: x + x * std * n",
                       FW_AUG_KIND_PIXEL, FALSE, 2,
                       { { "std", "Std deviation", 0, 1, 0.1, 0.01, NULL }, P_PROB (1) } },
  [FW_AUG_BLUR] = { "blur", "Blur", "Gaussian blur, sigma drawn from [0, sigma]",
                    FW_AUG_KIND_PIXEL, FALSE, 2,
                    { { "sigma", "Max sigma (pixels)", 0.1, 5, 1, 0.1, NULL }, P_PROB (1) } },
  [FW_AUG_CUTOUT] = { "cutout", "Cutout / random erasing",
                      "Fill a square of side size (fraction of the image) at a random place",
                      FW_AUG_KIND_PIXEL, FALSE, 3,
                      { { "size", "Side (fraction)", 0.05, 1, 0.3, 0.01, NULL },
                        { "value", "Fill value", 0, 1, 0, 0.01, NULL }, P_PROB (1) } },
  [FW_AUG_RANDAUGMENT] = { "randaugment", "RandAugment",
                           "n operations drawn at random, each at magnitude m (of 10)",
                           FW_AUG_KIND_MULTI, FALSE, 3,
                           { { "n", "Operations", 1, 5, 2, 1, NULL },
                             { "m", "Magnitude (0-10)", 0, 10, 5, 0.5, NULL }, P_PROB (1) } },
  [FW_AUG_CUTMIX] = { "cutmix", "CutMix",
                      "Paste a box of another sample (lambda ~ Beta(alpha, alpha)); label "
                      "weights = area fractions",
                      FW_AUG_KIND_BATCH, FALSE, 2,
                      { { "alpha", "Beta alpha", 0.1, 5, 1, 0.05, NULL }, P_PROB (1) } },
  [FW_AUG_MIXUP] = { "mixup", "Mixup",
                     "Blend with another sample, lambda ~ Beta(alpha, alpha)",
                     FW_AUG_KIND_BATCH, FALSE, 2,
                     { { "alpha", "Beta alpha", 0.05, 2, 0.2, 0.05, NULL }, P_PROB (1) } },
};

const FwAugOpInfo *
fw_aug_op_info (FwAugOp op)
{
  g_return_val_if_fail (op >= 0 && op < FW_AUG_N_OPS, NULL);
  return &op_table[op];
}

int
fw_aug_op_lookup (const char *name)
{
  for (int i = 0; i < FW_AUG_N_OPS; i++)
    if (g_strcmp0 (name, op_table[i].name) == 0)
      return i;
  return -1;
}

gboolean
fw_aug_op_applies (FwAugOp op, int c, const char **reason)
{
  if (op_table[op].rgb_only && c != 3)
    {
      if (reason != NULL)
        *reason = op == FW_AUG_COLOR
                    ? "colour balance needs RGB images; these images are grayscale"
                    : "hue and saturation need RGB images; these images are grayscale";
      return FALSE;
    }
  return TRUE;
}

/* ---- pipelines ---- */

struct _FwAugPipeline {
  GArray *steps; /* FwAugStep */
};

FwAugPipeline *
fw_aug_pipeline_new (void)
{
  FwAugPipeline *p = g_new0 (FwAugPipeline, 1);
  p->steps = g_array_new (FALSE, TRUE, sizeof (FwAugStep));
  return p;
}

FwAugPipeline *
fw_aug_pipeline_copy (const FwAugPipeline *src)
{
  FwAugPipeline *p = fw_aug_pipeline_new ();
  g_array_append_vals (p->steps, src->steps->data, src->steps->len);
  return p;
}

void
fw_aug_pipeline_free (FwAugPipeline *p)
{
  if (p == NULL)
    return;
  g_array_unref (p->steps);
  g_free (p);
}

int
fw_aug_pipeline_n_steps (const FwAugPipeline *p)
{
  return (int) p->steps->len;
}

FwAugStep *
fw_aug_pipeline_step (FwAugPipeline *p, int i)
{
  g_return_val_if_fail (i >= 0 && i < (int) p->steps->len, NULL);
  return &g_array_index (p->steps, FwAugStep, i);
}

static void
step_defaults (FwAugStep *s, FwAugOp op)
{
  memset (s, 0, sizeof *s);
  s->op = op;
  s->enabled = TRUE;
  for (int j = 0; j < op_table[op].n_params; j++)
    s->v[j] = op_table[op].params[j].def;
}

int
fw_aug_pipeline_add (FwAugPipeline *p, FwAugOp op)
{
  g_return_val_if_fail (op >= 0 && op < FW_AUG_N_OPS, -1);
  FwAugStep s;
  step_defaults (&s, op);
  g_array_append_val (p->steps, s);
  return (int) p->steps->len - 1;
}

void
fw_aug_pipeline_remove (FwAugPipeline *p, int i)
{
  g_return_if_fail (i >= 0 && i < (int) p->steps->len);
  g_array_remove_index (p->steps, i);
}

void
fw_aug_pipeline_move (FwAugPipeline *p, int i, int j)
{
  int n = (int) p->steps->len;
  g_return_if_fail (i >= 0 && i < n && j >= 0 && j < n);
  FwAugStep s = g_array_index (p->steps, FwAugStep, i);
  g_array_remove_index (p->steps, i);
  g_array_insert_val (p->steps, j, s);
}

static int
param_index (FwAugOp op, const char *key)
{
  for (int j = 0; j < op_table[op].n_params; j++)
    if (strcmp (op_table[op].params[j].key, key) == 0)
      return j;
  return -1;
}

gboolean
fw_aug_step_set (FwAugStep *s, const char *key, double value)
{
  int j = param_index (s->op, key);
  if (j < 0)
    return FALSE;
  const FwAugParamInfo *pi = &op_table[s->op].params[j];
  s->v[j] = CLAMP (value, pi->min, pi->max);
  return TRUE;
}

double
fw_aug_step_get (const FwAugStep *s, const char *key)
{
  int j = param_index (s->op, key);
  return j < 0 ? NAN : s->v[j];
}

gboolean
fw_aug_pipeline_has_batch_ops (const FwAugPipeline *p)
{
  for (guint i = 0; p != NULL && i < p->steps->len; i++)
    {
      const FwAugStep *s = &g_array_index (p->steps, FwAugStep, i);
      if (s->enabled && op_table[s->op].kind == FW_AUG_KIND_BATCH)
        return TRUE;
    }
  return FALSE;
}

gboolean
fw_aug_pipeline_check (const FwAugPipeline *p, int c, GError **error)
{
  for (guint i = 0; i < p->steps->len; i++)
    {
      const FwAugStep *s = &g_array_index (p->steps, FwAugStep, i);
      const char *reason = NULL;
      if (s->enabled && !fw_aug_op_applies (s->op, c, &reason))
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "augmentation '%s' cannot run here: %s (remove it or use '!%s' to "
                       "disable it)", op_table[s->op].name, reason, op_table[s->op].name);
          return FALSE;
        }
    }
  return TRUE;
}

static char *
known_ops (void)
{
  GString *g = g_string_new (NULL);
  for (int i = 0; i < FW_AUG_N_OPS; i++)
    g_string_append_printf (g, "%s%s", i ? ", " : "", op_table[i].name);
  return g_string_free (g, FALSE);
}

static char *
known_keys (FwAugOp op)
{
  GString *g = g_string_new (NULL);
  for (int j = 0; j < op_table[op].n_params; j++)
    g_string_append_printf (g, "%s%s", j ? ", " : "", op_table[op].params[j].key);
  return g_string_free (g, FALSE);
}

static gboolean
parse_step (const char *tok, FwAugStep *s, GError **error)
{
  gboolean enabled = TRUE;
  while (*tok == '!')
    {
      enabled = FALSE;
      tok++;
      while (g_ascii_isspace (*tok))
        tok++;
    }
  g_autofree char *name = NULL;
  const char *colon = strchr (tok, ':');
  name = g_strstrip (colon ? g_strndup (tok, colon - tok) : g_strdup (tok));
  int op = fw_aug_op_lookup (name);
  if (op < 0)
    {
      g_autofree char *known = known_ops ();
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "augmentation pipeline: unknown operation '%s' (known: %s)", name, known);
      return FALSE;
    }
  step_defaults (s, op);
  s->enabled = enabled;
  if (colon == NULL)
    return TRUE;
  g_auto (GStrv) kvs = g_strsplit (colon + 1, ",", -1);
  for (int i = 0; kvs[i] != NULL; i++)
    {
      char *kv = g_strstrip (kvs[i]);
      if (*kv == '\0')
        continue;
      char *eq = strchr (kv, '=');
      if (eq == NULL)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "augmentation '%s': '%s' is not key=value", name, kv);
          return FALSE;
        }
      *eq = '\0';
      char *key = g_strstrip (kv), *val = g_strstrip (eq + 1);
      int j = param_index (op, key);
      if (j < 0)
        {
          g_autofree char *keys = known_keys (op);
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "augmentation '%s': unknown parameter '%s' (%s takes %s)", name, key,
                       name, keys);
          return FALSE;
        }
      const FwAugParamInfo *pi = &op_table[op].params[j];
      double v = NAN;
      if (pi->choices != NULL)
        for (int k = 0; pi->choices[k] != NULL; k++)
          if (g_ascii_strcasecmp (val, pi->choices[k]) == 0)
            v = k;
      if (isnan (v))
        {
          char *end = NULL;
          v = g_ascii_strtod (val, &end);
          if (pi->choices != NULL && (end == val || *end != '\0'))
            {
              g_autofree char *names = g_strjoinv (", ", (char **) pi->choices);
              g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                           "augmentation '%s': %s=%s is not one of %s", name, key, val, names);
              return FALSE;
            }
          if (end == val || *end != '\0' || !isfinite (v))
            {
              g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                           "augmentation '%s': %s=%s is not a number", name, key, val);
              return FALSE;
            }
        }
      if (v < pi->min || v > pi->max || (pi->choices != NULL && v != floor (v)))
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "augmentation '%s': %s=%s is outside [%g, %g]", name, key, val, pi->min,
                       pi->max);
          return FALSE;
        }
      s->v[j] = v;
    }
  const FwAugParamInfo *pr = op_table[op].params;
  if (op == FW_AUG_SCALE && s->v[0] > s->v[1])
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "augmentation 'scale': min=%g is larger than max=%g", s->v[0], s->v[1]);
      return FALSE;
    }
  (void) pr;
  return TRUE;
}

FwAugPipeline *
fw_aug_pipeline_parse (const char *text, GError **error)
{
  g_autoptr (FwAugPipeline) p = fw_aug_pipeline_new ();
  if (text == NULL)
    return g_steal_pointer (&p);
  g_auto (GStrv) toks = g_strsplit_set (text, ";\n", -1);
  for (int i = 0; toks[i] != NULL; i++)
    {
      char *t = g_strstrip (toks[i]);
      if (*t == '\0')
        continue;
      FwAugStep s;
      if (!parse_step (t, &s, error))
        return NULL;
      g_array_append_val (p->steps, s);
    }
  return g_steal_pointer (&p);
}

char *
fw_aug_pipeline_to_string (const FwAugPipeline *p)
{
  GString *g = g_string_new (NULL);
  for (guint i = 0; i < p->steps->len; i++)
    {
      const FwAugStep *s = &g_array_index (p->steps, FwAugStep, i);
      const FwAugOpInfo *oi = &op_table[s->op];
      g_string_append_printf (g, "%s%s%s", i ? ";" : "", s->enabled ? "" : "!", oi->name);
      gboolean first = TRUE;
      for (int j = 0; j < oi->n_params; j++)
        {
          const FwAugParamInfo *pi = &oi->params[j];
          char buf[G_ASCII_DTOSTR_BUF_SIZE];
          g_ascii_formatd (buf, sizeof buf, "%.6g", s->v[j]);
          char dbuf[G_ASCII_DTOSTR_BUF_SIZE];
          g_ascii_formatd (dbuf, sizeof dbuf, "%.6g", pi->def);
          if (strcmp (buf, dbuf) == 0)
            continue;
          g_string_append_printf (g, "%s%s=%s", first ? ":" : ",", pi->key,
                                  pi->choices ? pi->choices[CLAMP ((int) s->v[j], 0, 2)] : buf);
          first = FALSE;
        }
    }
  return g_string_free (g, FALSE);
}

/* ---- sampling ---- */

static inline int
resolve (int i, int n, FwAugBorder border)
{
  if (i >= 0 && i < n)
    return i;
  if (border == FW_AUG_BORDER_ZERO)
    return -1;
  if (border == FW_AUG_BORDER_EDGE || n == 1)
    return i < 0 ? 0 : n - 1;
  /* reflect about the edge pixels: -1 -> 1, n -> n - 2 (period 2n - 2) */
  int period = 2 * n - 2;
  i %= period;
  if (i < 0)
    i += period;
  return i < n ? i : period - i;
}

/* dst[ch * plane + o] <- bilinear sample of src at (xs, ys) for every channel */
static inline void
sample_px (const float *src, float *dst, gsize plane, int c, int h, int w, double xs, double ys,
           FwAugBorder border)
{
  if (!(xs > -4.0 * w - 4) || !(xs < 5.0 * w + 4))
    xs = -4.0 * w - 4; /* far outside (also NaN) */
  if (!(ys > -4.0 * h - 4) || !(ys < 5.0 * h + 4))
    ys = -4.0 * h - 4;
  double fx0 = floor (xs), fy0 = floor (ys);
  double fx = xs - fx0, fy = ys - fy0;
  /* snap coordinates within 1e-4 of an integer: exact shifts, flips and quarter turns */
  if (fx < 1e-4)
    fx = 0;
  else if (fx > 1 - 1e-4)
    fx = 0, fx0 += 1;
  if (fy < 1e-4)
    fy = 0;
  else if (fy > 1 - 1e-4)
    fy = 0, fy0 += 1;
  int x0 = (int) fx0, y0 = (int) fy0;
  float wx = (float) fx, wy = (float) fy;
  if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h)
    {
      const float *s = src + (gsize) y0 * w + x0;
      for (int ch = 0; ch < c; ch++, s += plane)
        {
          float top = s[0] + wx * (s[1] - s[0]);
          float bot = s[w] + wx * (s[w + 1] - s[w]);
          dst[ch * plane] = top + wy * (bot - top);
        }
      return;
    }
  int xa = resolve (x0, w, border), xb = resolve (x0 + 1, w, border);
  int ya = resolve (y0, h, border), yb = resolve (y0 + 1, h, border);
  if (wx == 0)
    xb = xa;
  if (wy == 0)
    yb = ya;
  for (int ch = 0; ch < c; ch++)
    {
      const float *s = src + ch * plane;
      float v00 = (xa >= 0 && ya >= 0) ? s[ya * w + xa] : 0.f;
      float v01 = (xb >= 0 && ya >= 0) ? s[ya * w + xb] : 0.f;
      float v10 = (xa >= 0 && yb >= 0) ? s[yb * w + xa] : 0.f;
      float v11 = (xb >= 0 && yb >= 0) ? s[yb * w + xb] : 0.f;
      float top = v00 + wx * (v01 - v00);
      float bot = v10 + wx * (v11 - v10);
      dst[ch * plane] = top + wy * (bot - top);
    }
}

/* The integer x in [0, w) for which a x + b lies in [lo, hi], as [*x0, *x1) (maybe empty). */
static void
x_range (double a, double b, double lo, double hi, int w, int *x0, int *x1)
{
  double l, r;
  if (fabs (a) < 1e-12)
    {
      gboolean in = b >= lo && b <= hi;
      *x0 = 0;
      *x1 = in ? w : 0;
      return;
    }
  l = (lo - b) / a;
  r = (hi - b) / a;
  if (l > r)
    {
      double t = l;
      l = r;
      r = t;
    }
  /* one pixel of margin on each side for rounding: those go through the general path */
  double fl = ceil (l) + 1, fr = floor (r) - 1;
  *x0 = (int) CLAMP (fl, 0, w);
  *x1 = (int) CLAMP (fr + 1, 0, w);
  if (*x1 < *x0)
    *x1 = *x0;
}

void
fw_aug_warp_affine (const float *src, float *dst, int c, int h, int w, const double A[6],
                    FwAugBorder border)
{
  gsize plane = (gsize) h * w;
  int offs[1024];
  float wxs[1024], wys[1024];
  for (int y = 0; y < h; y++)
    {
      const double bx = A[1] * y + A[2], by = A[3] * 0 + A[4] * y + A[5];
      /* the run of x whose 2x2 neighbourhood lies inside the image (no border logic) */
      int xa, xb, ya, yb;
      x_range (A[0], bx, 1e-3, w - 1 - 1e-3, w, &xa, &xb);
      x_range (A[3], by, 1e-3, h - 1 - 1e-3, w, &ya, &yb);
      int i0 = MAX (xa, ya), i1 = MIN (xb, yb);
      if (i1 - i0 > 1024 || w < 2 || h < 2)
        i0 = i1 = 0;
      for (int x = 0; x < MIN (i0, w); x++)
        sample_px (src, dst + (gsize) y * w + x, plane, c, h, w, A[0] * x + bx, A[3] * x + by,
                   border);
      if (i1 > i0)
        {
          /* pass 1: offsets and weights, same arithmetic as sample_px (snapping included) */
          for (int x = i0; x < i1; x++)
            {
              double xs = A[0] * x + bx, ys = A[3] * x + by;
              double fx0 = floor (xs), fy0 = floor (ys);
              double fx = xs - fx0, fy = ys - fy0;
              if (fx < 1e-4)
                fx = 0;
              else if (fx > 1 - 1e-4)
                fx = 0, fx0 += 1;
              if (fy < 1e-4)
                fy = 0;
              else if (fy > 1 - 1e-4)
                fy = 0, fy0 += 1;
              offs[x - i0] = (int) fy0 * w + (int) fx0;
              wxs[x - i0] = (float) fx;
              wys[x - i0] = (float) fy;
            }
          /* pass 2: the 2x2 taps; inside the image by construction (x0 + 1 < w, y0 + 1 < h,
           * or a zero weight on a tap that stays in the buffer) */
          for (int ch = 0; ch < c; ch++)
            {
              const float *sp = src + ch * plane;
              float *dp = dst + ch * plane + (gsize) y * w;
              for (int x = i0; x < i1; x++)
                {
                  const float *s = sp + offs[x - i0];
                  float wx = wxs[x - i0], wy = wys[x - i0];
                  float top = s[0] + wx * (s[1] - s[0]);
                  float bot = s[w] + wx * (s[w + 1] - s[w]);
                  dp[x] = top + wy * (bot - top);
                }
            }
        }
      for (int x = MAX (i1, i0); x < w; x++)
        sample_px (src, dst + (gsize) y * w + x, plane, c, h, w, A[0] * x + bx, A[3] * x + by,
                   border);
    }
}

void
fw_aug_remap (const float *src, float *dst, int c, int h, int w, const float *mapx,
              const float *mapy, FwAugBorder border)
{
  gsize plane = (gsize) h * w;
  int offs[1024];
  float wxs[1024], wys[1024];
  /* blocks of up to 1024 pixels: those whose 2x2 neighbourhood is inside the image go through
   * two tight passes (as in fw_aug_warp_affine), the others through the general path */
  for (gsize base = 0; base < plane; base += 1024)
    {
      int n = (int) MIN ((gsize) 1024, plane - base);
      for (int i = 0; i < n; i++)
        {
          double xs = mapx[base + i], ys = mapy[base + i];
          if (!(xs >= 1e-3 && xs <= w - 1 - 1e-3 && ys >= 1e-3 && ys <= h - 1 - 1e-3))
            {
              offs[i] = -1;
              continue;
            }
          double fx0 = floor (xs), fy0 = floor (ys);
          double fx = xs - fx0, fy = ys - fy0;
          if (fx < 1e-4)
            fx = 0;
          else if (fx > 1 - 1e-4)
            fx = 0, fx0 += 1;
          if (fy < 1e-4)
            fy = 0;
          else if (fy > 1 - 1e-4)
            fy = 0, fy0 += 1;
          offs[i] = (int) fy0 * w + (int) fx0;
          wxs[i] = (float) fx;
          wys[i] = (float) fy;
        }
      for (int ch = 0; ch < c; ch++)
        {
          const float *sp = src + ch * plane;
          float *dp = dst + ch * plane + base;
          for (int i = 0; i < n; i++)
            {
              if (offs[i] < 0)
                continue;
              const float *s = sp + offs[i];
              float wx = wxs[i], wy = wys[i];
              float top = s[0] + wx * (s[1] - s[0]);
              float bot = s[w] + wx * (s[w + 1] - s[w]);
              dp[i] = top + wy * (bot - top);
            }
        }
      for (int i = 0; i < n; i++)
        if (offs[i] < 0)
          sample_px (src, dst + base + i, plane, c, h, w, mapx[base + i], mapy[base + i],
                     border);
    }
}

/* R <- A B for 2x3 affine maps (3x3 with last row 0 0 1) */
static void
mat_mul (double R[6], const double A[6], const double B[6])
{
  double r[6] = {
    A[0] * B[0] + A[1] * B[3], A[0] * B[1] + A[1] * B[4], A[0] * B[2] + A[1] * B[5] + A[2],
    A[3] * B[0] + A[4] * B[3], A[3] * B[1] + A[4] * B[4], A[3] * B[2] + A[4] * B[5] + A[5],
  };
  memcpy (R, r, sizeof r);
}

/* A maps an output point p to c + L (p - c) with the 2x2 linear part L about the centre */
static void
mat_about_centre (double A[6], double l0, double l1, double l3, double l4, int h, int w)
{
  double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
  A[0] = l0, A[1] = l1, A[2] = cx - l0 * cx - l1 * cy;
  A[3] = l3, A[4] = l4, A[5] = cy - l3 * cx - l4 * cy;
}

void
fw_aug_matrix_rotate (double A[6], double deg, int h, int w)
{
  /* content turns counter-clockwise on screen by deg: the output point p reads the input at
   * c + R(deg) (p - c), R = [cos -sin; sin cos] in y-down coordinates */
  double t = deg * G_PI / 180.0, cs = cos (t), sn = sin (t);
  mat_about_centre (A, cs, -sn, sn, cs, h, w);
}

static void
mat_translate (double A[6], double dx, double dy)
{
  /* content moves by (dx, dy): the output point p reads the input at p - d */
  double M[6] = { 1, 0, -dx, 0, 1, -dy };
  memcpy (A, M, sizeof M);
}

static void
mat_scale (double A[6], double z, int h, int w)
{
  mat_about_centre (A, 1 / z, 0, 0, 1 / z, h, w);
}

static void
mat_shear (double A[6], double degx, double degy, int h, int w)
{
  mat_about_centre (A, 1, -tan (degx * G_PI / 180), -tan (degy * G_PI / 180), 1, h, w);
}

static inline double
unif (FwRng *rng, double a, double b)
{
  return a + (b - a) * fw_rng_uniform (rng);
}

/* ---- Gaussian smoothing (separable, normalised, edge border) ---- */

static int
gauss_kernel (double sigma, float *k)
{
  int r = (int) ceil (3 * sigma);
  r = CLAMP (r, 1, PAD_R);
  double sum = 0;
  for (int i = -r; i <= r; i++)
    sum += k[i + r] = (float) exp (-0.5 * i * i / (sigma * sigma));
  for (int i = 0; i <= 2 * r; i++)
    k[i] = (float) (k[i] / sum);
  return r;
}

typedef float fw_v8f __attribute__ ((vector_size (32)));
typedef float fw_v4f __attribute__ ((vector_size (16)));

/* out[x] = sum_t k[t] src_t[x + t * step] for x in [0, w), src_t = rows[t], for a symmetric
 * kernel (k[t] = k[nt-1-t], nt odd): mirrored taps are added first, so each output takes
 * (nt+1)/2 multiplies. Blocks of 8 (then 4, then 1) outputs accumulate in vector registers
 * (GCC vector extensions: AVX in the x86-64-v3 clone, pairs of SSE registers otherwise). */
#define TAPS_BLOCK(V, X)                                                                    \
  do                                                                                        \
    {                                                                                       \
      V acc, sa, sb;                                                                        \
      memcpy (&sa, rows[half] + half * step + (X), sizeof sa);                              \
      acc = k[half] * sa;                                                                   \
      for (int t = 0; t < half; t++)                                                        \
        {                                                                                   \
          memcpy (&sa, rows[t] + t * step + (X), sizeof sa);                                \
          memcpy (&sb, rows[nt - 1 - t] + (nt - 1 - t) * step + (X), sizeof sb);            \
          acc += k[t] * (sa + sb);                                                          \
        }                                                                                   \
      memcpy (out + (X), &acc, sizeof acc);                                                 \
    }                                                                                       \
  while (0)

static inline __attribute__ ((always_inline)) void
taps_row (float *out, int w, const float *k, int nt, const float *const *rows, int step)
{
  const int half = nt / 2;
  int x = 0;
  for (; x + 16 <= w; x += 16)
    {
      TAPS_BLOCK (fw_v8f, x);
      TAPS_BLOCK (fw_v8f, x + 8);
    }
  for (; x + 8 <= w; x += 8)
    TAPS_BLOCK (fw_v8f, x);
  for (; x + 4 <= w; x += 4)
    TAPS_BLOCK (fw_v4f, x);
  for (; x < w; x++)
    {
      float acc = k[half] * rows[half][half * step + x];
      for (int t = 0; t < half; t++)
        acc += k[t] * (rows[t][t * step + x] + rows[nt - 1 - t][(nt - 1 - t) * step + x]);
      out[x] = acc;
    }
}
#undef TAPS_BLOCK

/* f[h*w] <- f smoothed by the kernel k[2r+1] (edge border); tmp[h*w]; pad: w + 2r floats.
 * Rows: out[x] = sum_t k[t] pad[x + t] with pad the row extended by its edge values; columns:
 * out_y = sum_t k[t] tmp_{clamp(y + t - r)}. Each output accumulates tap by tap, t = 0, 1 ... */
FW_VECTOR_CLONES static void
smooth_plane (float *f, int h, int w, const float *k, int r, float *tmp, float *pad)
{
  const float *rows[2 * PAD_R + 1];
  int nt = 2 * r + 1;
  for (int t = 0; t < nt; t++)
    rows[t] = pad;
  for (int y = 0; y < h; y++)
    {
      const float *in = f + (gsize) y * w;
      for (int i = 0; i < r; i++)
        pad[i] = in[0], pad[w + r + i] = in[w - 1];
      memcpy (pad + r, in, sizeof (float) * w);
      taps_row (tmp + (gsize) y * w, w, k, nt, rows, 1);
    }
  for (int y = 0; y < h; y++)
    {
      for (int t = 0; t < nt; t++)
        rows[t] = tmp + (gsize) CLAMP (y + t - r, 0, h - 1) * w;
      taps_row (f + (gsize) y * w, w, k, nt, rows, 0);
    }
}

void
fw_aug_elastic_field (FwRng *rng, int h, int w, double alpha, double sigma, float *dx,
                      float *dy, float *tmp)
{
  gsize n = (gsize) h * w;
  if (alpha == 0)
    {
      memset (dx, 0, n * sizeof (float));
      memset (dy, 0, n * sizeof (float));
      return;
    }
  /* uniform in [-1, 1): two 32-bit halves of one draw */
  for (gsize i = 0; i < n; i++)
    {
      guint64 r = fw_rng_next (rng);
      dx[i] = (float) (r >> 32) * 0x1.0p-31f - 1.f;
      dy[i] = (float) (r & 0xffffffffu) * 0x1.0p-31f - 1.f;
    }
  float k[2 * PAD_R + 1];
  int r = gauss_kernel (sigma, k);
  g_autofree float *own = tmp == NULL ? g_new (float, n) : NULL;
  float *t = tmp != NULL ? tmp : own;
  float pad_stack[256];
  g_autofree float *pad_heap = w + 2 * r > 256 ? g_new (float, w + 2 * r)
                                                         : NULL;
  float *pad = pad_heap != NULL ? pad_heap : pad_stack;
  smooth_plane (dx, h, w, k, r, t, pad);
  smooth_plane (dy, h, w, k, r, t, pad);
  float a = (float) alpha;
  for (gsize i = 0; i < n; i++)
    dx[i] *= a, dy[i] *= a;
}

/* ---- closed-form intensity ops ---- */

static inline float
clamp01 (float v)
{
  return v < 0.f ? 0.f : v > 1.f ? 1.f : v;
}

void
fw_aug_brightness (float *img, gsize n, double b)
{
  float fb = (float) b;
  for (gsize i = 0; i < n; i++)
    img[i] = clamp01 (img[i] + fb);
}

void
fw_aug_contrast (float *img, gsize n, double f)
{
  double m = 0;
  for (gsize i = 0; i < n; i++)
    m += img[i];
  m /= MAX (n, 1);
  float fm = (float) m, ff = (float) f;
  for (gsize i = 0; i < n; i++)
    img[i] = clamp01 (fm + ff * (img[i] - fm));
}

double
fw_aug_cutmix_box (float *a, const float *b, int c, int h, int w, int x0, int y0, int x1,
                   int y1)
{
  x0 = CLAMP (x0, 0, w), x1 = CLAMP (x1, x0, w);
  y0 = CLAMP (y0, 0, h), y1 = CLAMP (y1, y0, h);
  gsize plane = (gsize) h * w;
  for (int ch = 0; ch < c; ch++)
    for (int y = y0; y < y1; y++)
      memcpy (a + ch * plane + (gsize) y * w + x0, b + ch * plane + (gsize) y * w + x0,
              sizeof (float) * (x1 - x0));
  return 1.0 - (double) (x1 - x0) * (y1 - y0) / (double) plane;
}

/* ---- the per-sample engine ---- */

typedef struct {
  int c, h, w;
  gsize plane, size;
  float *img;            /* the caller's image, the result is always here */
  float *buf, *mapx, *mapy, *tmp;
  double M[6];           /* pending affine composite */
  gboolean have_M;
  FwAugBorder border;    /* of the pending composite (its first operation's) */
} AugState;

static void
flush_affine (AugState *st)
{
  if (!st->have_M)
    return;
  fw_aug_warp_affine (st->img, st->buf, st->c, st->h, st->w, st->M, st->border);
  memcpy (st->img, st->buf, sizeof (float) * st->size);
  st->have_M = FALSE;
}

static void
push_affine (AugState *st, const double A[6], FwAugBorder border)
{
  if (!st->have_M)
    {
      memcpy (st->M, A, sizeof st->M);
      st->border = border;
      st->have_M = TRUE;
    }
  else
    mat_mul (st->M, st->M, A);
}

/* img <- img(map), the pending affine composite applied to the map first */
static void
finish_warp (AugState *st, FwAugBorder border)
{
  if (st->have_M)
    {
      const double *M = st->M;
      for (gsize o = 0; o < st->plane; o++)
        {
          double x = st->mapx[o], y = st->mapy[o];
          st->mapx[o] = (float) (M[0] * x + M[1] * y + M[2]);
          st->mapy[o] = (float) (M[3] * x + M[4] * y + M[5]);
        }
      border = st->border;
      st->have_M = FALSE;
    }
  fw_aug_remap (st->img, st->buf, st->c, st->h, st->w, st->mapx, st->mapy, border);
  memcpy (st->img, st->buf, sizeof (float) * st->size);
}

/* solve the 8x8 system of the homography that maps the 4 points P to Q (Gaussian elimination
 * with partial pivoting); H[9] with H[8] = 1 */
static gboolean
homography (const double P[8], const double Q[8], double H[9])
{
  double a[8][9];
  for (int i = 0; i < 4; i++)
    {
      double x = P[2 * i], y = P[2 * i + 1], u = Q[2 * i], v = Q[2 * i + 1];
      /* u = (h0 x + h1 y + h2) / (h6 x + h7 y + 1), v likewise with h3..h5 */
      double r0[9] = { x, y, 1, 0, 0, 0, -u * x, -u * y, u };
      double r1[9] = { 0, 0, 0, x, y, 1, -v * x, -v * y, v };
      memcpy (a[2 * i], r0, sizeof r0);
      memcpy (a[2 * i + 1], r1, sizeof r1);
    }
  for (int col = 0; col < 8; col++)
    {
      int piv = col;
      for (int r = col + 1; r < 8; r++)
        if (fabs (a[r][col]) > fabs (a[piv][col]))
          piv = r;
      if (fabs (a[piv][col]) < 1e-12)
        return FALSE;
      if (piv != col)
        for (int j = 0; j < 9; j++)
          {
            double t = a[col][j];
            a[col][j] = a[piv][j];
            a[piv][j] = t;
          }
      for (int r = 0; r < 8; r++)
        if (r != col)
          {
            double f = a[r][col] / a[col][col];
            for (int j = col; j < 9; j++)
              a[r][j] -= f * a[col][j];
          }
    }
  for (int i = 0; i < 8; i++)
    H[i] = a[i][8] / a[i][i];
  H[8] = 1;
  return TRUE;
}

static void
blur_image (AugState *st, double sigma)
{
  float k[2 * PAD_R + 1];
  int r = gauss_kernel (sigma, k);
  float pad_stack[256];
  g_autofree float *pad_heap = st->w + 2 * r > 256 ? g_new (float, st->w + 2 * r) : NULL;
  float *pad = pad_heap != NULL ? pad_heap : pad_stack;
  for (int ch = 0; ch < st->c; ch++)
    smooth_plane (st->img + ch * st->plane, st->h, st->w, k, r, st->buf, pad);
}

/* the pixel's colour through a 3x3 matrix (RGB planes) */
static void
color_matrix (AugState *st, const float m[9])
{
  float *r = st->img, *g = r + st->plane, *b = g + st->plane;
  for (gsize i = 0; i < st->plane; i++)
    {
      float R = r[i], G = g[i], B = b[i];
      r[i] = clamp01 (m[0] * R + m[1] * G + m[2] * B);
      g[i] = clamp01 (m[3] * R + m[4] * G + m[5] * B);
      b[i] = clamp01 (m[6] * R + m[7] * G + m[8] * B);
    }
}

/* hue rotation by turns t and saturation factor s as one matrix: in YIQ, rotate the (I, Q)
 * chroma plane by 2 pi t and scale it by s; M = YIQ^-1 * diag(1, sR) * YIQ */
static void
hsv_matrix (float m[9], double t, double s)
{
  static const double T[9] = { 0.299, 0.587, 0.114, 0.596, -0.274, -0.322,
                               0.211, -0.523, 0.312 };
  static const double Ti[9] = { 1, 0.956, 0.621, 1, -0.272, -0.647, 1, -1.106, 1.703 };
  double cs = cos (2 * G_PI * t) * s, sn = sin (2 * G_PI * t) * s;
  double C[9] = { 1, 0, 0, 0, cs, -sn, 0, sn, cs };
  double CT[9];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      CT[3 * i + j] = C[3 * i] * T[j] + C[3 * i + 1] * T[3 + j] + C[3 * i + 2] * T[6 + j];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      m[3 * i + j] = (float) (Ti[3 * i] * CT[j] + Ti[3 * i + 1] * CT[3 + j]
                              + Ti[3 * i + 2] * CT[6 + j]);
}

/* x <- clamp(x + sd n) (or x + x sd n, speckle), n standard normal by Box-Muller in float,
 * two deviates per 64-bit draw, in blocks so that logf/sincos run as vector calls */
static void
add_noise (AugState *st, FwRng *rng, float sd, gboolean multiplicative)
{
  enum { NB = 64 };
  float *x = st->img;
  gsize n = st->size;
  for (gsize base = 0; base < n; base += 2 * NB)
    {
      float u1[NB], u2[NB], z[2 * NB];
      int m = (int) MIN ((gsize) NB, (n - base + 1) / 2);
      for (int j = 0; j < m; j++)
        {
          guint64 r = fw_rng_next (rng);
          u1[j] = ((float) (r >> 40) + 0.5f) * 0x1.0p-24f; /* (0, 1) */
          u2[j] = (float) (r & 0xffffff) * 0x1.0p-24f;
        }
      for (int j = 0; j < m; j++)
        {
          float rad = sqrtf (-2.f * logf (u1[j])), t = 6.2831853f * u2[j];
          z[j] = rad * cosf (t);
          z[NB + j] = rad * sinf (t);
        }
      int cnt = (int) MIN ((gsize) 2 * NB, n - base);
      float *xb = x + base;
      for (int j = 0; j < cnt; j++)
        {
          float zz = j < m ? z[j] : z[NB + j - m];
          float amp = multiplicative ? xb[j] * sd : sd;
          xb[j] = clamp01 (xb[j] + amp * zz);
        }
    }
}

static void
cutout (AugState *st, FwRng *rng, double size, float value)
{
  int side = (int) lround (size * MIN (st->h, st->w));
  side = MAX (side, 1);
  int cx = (int) fw_rng_below (rng, st->w), cy = (int) fw_rng_below (rng, st->h);
  int x0 = MAX (cx - side / 2, 0), x1 = MIN (cx - side / 2 + side, st->w);
  int y0 = MAX (cy - side / 2, 0), y1 = MIN (cy - side / 2 + side, st->h);
  for (int ch = 0; ch < st->c; ch++)
    for (int y = y0; y < y1; y++)
      for (int x = x0; x < x1; x++)
        st->img[ch * st->plane + (gsize) y * st->w + x] = value;
}

static void
gamma_op (AugState *st, double g)
{
  float e = (float) MAX (g, 0.05);
  for (gsize i = 0; i < st->size; i++)
    st->img[i] = st->img[i] > 0 ? powf (st->img[i], e) : 0.f;
}

/* RandAugment: n operations from a fixed list, each at magnitude m/10 of its range with a
 * random sign (Cubuk et al. 2020); colour operations only on RGB images */
static void
randaugment (AugState *st, FwRng *rng, int n, double m)
{
  enum { RA_IDENTITY, RA_ROTATE, RA_TX, RA_TY, RA_SHX, RA_SHY, RA_BRIGHT, RA_CONTRAST,
         RA_AUTOCONTRAST, RA_POSTERIZE, RA_SOLARIZE, RA_SHARPNESS, RA_COLOR, RA_N };
  double f = m / 10.0;
  int n_ops = st->c == 3 ? RA_N : RA_COLOR;
  for (int i = 0; i < n; i++)
    {
      int which = (int) fw_rng_below (rng, n_ops);
      double sign = fw_rng_below (rng, 2) ? 1.0 : -1.0;
      double A[6];
      switch (which)
        {
        case RA_IDENTITY:
          break;
        case RA_ROTATE:
          fw_aug_matrix_rotate (A, sign * 30 * f, st->h, st->w);
          push_affine (st, A, FW_AUG_BORDER_ZERO);
          break;
        case RA_TX:
        case RA_TY:
          {
            double d = sign * f * 0.3 * (which == RA_TX ? st->w : st->h);
            mat_translate (A, which == RA_TX ? d : 0, which == RA_TY ? d : 0);
            push_affine (st, A, FW_AUG_BORDER_ZERO);
          }
          break;
        case RA_SHX:
        case RA_SHY:
          mat_shear (A, which == RA_SHX ? sign * 17 * f : 0, which == RA_SHY ? sign * 17 * f : 0,
                     st->h, st->w);
          push_affine (st, A, FW_AUG_BORDER_ZERO);
          break;
        default:
          flush_affine (st);
          switch (which)
            {
            case RA_BRIGHT:
              fw_aug_brightness (st->img, st->size, sign * 0.3 * f);
              break;
            case RA_CONTRAST:
              fw_aug_contrast (st->img, st->size, 1 + sign * 0.9 * f);
              break;
            case RA_AUTOCONTRAST:
              {
                float lo = 1, hi = 0;
                for (gsize j = 0; j < st->size; j++)
                  lo = MIN (lo, st->img[j]), hi = MAX (hi, st->img[j]);
                if (hi > lo)
                  for (gsize j = 0; j < st->size; j++)
                    st->img[j] = (st->img[j] - lo) / (hi - lo);
              }
              break;
            case RA_POSTERIZE:
              {
                float levels = (float) ((1 << (8 - (int) lround (4 * f))) - 1);
                for (gsize j = 0; j < st->size; j++)
                  st->img[j] = floorf (st->img[j] * levels + 0.5f) / levels;
              }
              break;
            case RA_SOLARIZE:
              {
                float th = (float) (1 - f);
                for (gsize j = 0; j < st->size; j++)
                  if (st->img[j] >= th)
                    st->img[j] = 1 - st->img[j];
              }
              break;
            case RA_SHARPNESS:
              {
                /* unsharp: x + s (x - blur(x)) */
                memcpy (st->tmp, st->img, sizeof (float) * st->size);
                blur_image (st, 1.0);
                float s = (float) (sign * 0.9 * f);
                for (gsize j = 0; j < st->size; j++)
                  st->img[j] = clamp01 (st->tmp[j] + s * (st->tmp[j] - st->img[j]));
              }
              break;
            case RA_COLOR:
              {
                float mm[9];
                hsv_matrix (mm, 0, 1 + sign * 0.9 * f);
                color_matrix (st, mm);
              }
              break;
            }
        }
    }
}

/* one step; affine ones only push onto the composite */
static void
apply_step (AugState *st, const FwAugStep *s, FwRng *rng)
{
  const double *v = s->v;
  double A[6];
  switch (s->op)
    {
    case FW_AUG_ROTATE:
      fw_aug_matrix_rotate (A, unif (rng, -v[0], v[0]), st->h, st->w);
      push_affine (st, A, (FwAugBorder) v[1]);
      break;
    case FW_AUG_TRANSLATE:
      {
        double dx = unif (rng, -v[0], v[0]);
        mat_translate (A, dx, unif (rng, -v[0], v[0]));
        push_affine (st, A, (FwAugBorder) v[1]);
      }
      break;
    case FW_AUG_SCALE:
      mat_scale (A, unif (rng, v[0], v[1]), st->h, st->w);
      push_affine (st, A, (FwAugBorder) v[2]);
      break;
    case FW_AUG_SHEAR:
      {
        double sx = unif (rng, -v[0], v[0]);
        mat_shear (A, sx, unif (rng, -v[0], v[0]), st->h, st->w);
        push_affine (st, A, (FwAugBorder) v[1]);
      }
      break;
    case FW_AUG_CROP:
      {
        double area = unif (rng, v[0], 1), lr = log (v[1]);
        double ratio = exp (unif (rng, -lr, lr));
        double cw = MIN (st->w * sqrt (area * ratio), st->w);
        double ch = MIN (st->h * sqrt (area / ratio), st->h);
        double x0 = unif (rng, 0, st->w - cw), y0 = unif (rng, 0, st->h - ch);
        double sx = cw / st->w, sy = ch / st->h;
        /* output pixel x covers [x, x+1) of w; it reads the crop at x0 + (x + 1/2) sx - 1/2 */
        double M[6] = { sx, 0, x0 + 0.5 * sx - 0.5, 0, sy, y0 + 0.5 * sy - 0.5 };
        push_affine (st, M, FW_AUG_BORDER_EDGE);
      }
      break;
    case FW_AUG_HFLIP:
      {
        double M[6] = { -1, 0, st->w - 1, 0, 1, 0 };
        push_affine (st, M, FW_AUG_BORDER_EDGE);
      }
      break;
    case FW_AUG_VFLIP:
      {
        double M[6] = { 1, 0, 0, 0, -1, st->h - 1 };
        push_affine (st, M, FW_AUG_BORDER_EDGE);
      }
      break;
    case FW_AUG_ELASTIC:
      fw_aug_elastic_field (rng, st->h, st->w, v[0], v[1], st->mapx, st->mapy, st->tmp);
      for (int y = 0; y < st->h; y++)
        for (int x = 0; x < st->w; x++)
          {
            gsize o = (gsize) y * st->w + x;
            st->mapx[o] += x;
            st->mapy[o] += y;
          }
      finish_warp (st, (FwAugBorder) v[2]);
      break;
    case FW_AUG_PERSPECTIVE:
      {
        double W = st->w - 1, H = st->h - 1, d = v[0];
        double P[8] = { 0, 0, W, 0, W, H, 0, H }, Q[8], Hm[9];
        for (int i = 0; i < 4; i++)
          {
            Q[2 * i] = P[2 * i] + unif (rng, -d, d) * st->w;
            Q[2 * i + 1] = P[2 * i + 1] + unif (rng, -d, d) * st->h;
          }
        if (!homography (P, Q, Hm))
          break;
        for (int y = 0; y < st->h; y++)
          for (int x = 0; x < st->w; x++)
            {
              gsize o = (gsize) y * st->w + x;
              double z = Hm[6] * x + Hm[7] * y + 1;
              z = fabs (z) < 1e-9 ? 1e-9 : z;
              st->mapx[o] = (float) ((Hm[0] * x + Hm[1] * y + Hm[2]) / z);
              st->mapy[o] = (float) ((Hm[3] * x + Hm[4] * y + Hm[5]) / z);
            }
        finish_warp (st, (FwAugBorder) v[1]);
      }
      break;
    case FW_AUG_GRID:
      {
        int g = (int) v[1];
        int np = (g + 1) * (g + 1);
        double gx[81], gy[81];
        for (int i = 0; i < np; i++)
          {
            gx[i] = unif (rng, -v[0], v[0]) * st->w;
            gy[i] = unif (rng, -v[0], v[0]) * st->h;
          }
        for (int y = 0; y < st->h; y++)
          {
            double ty = st->h > 1 ? (double) y * g / (st->h - 1) : 0;
            int iy = MIN ((int) ty, g - 1);
            double fy = ty - iy;
            for (int x = 0; x < st->w; x++)
              {
                double tx = st->w > 1 ? (double) x * g / (st->w - 1) : 0;
                int ix = MIN ((int) tx, g - 1);
                double fx = tx - ix;
                int a = iy * (g + 1) + ix;
                double ddx = (1 - fy) * ((1 - fx) * gx[a] + fx * gx[a + 1])
                             + fy * ((1 - fx) * gx[a + g + 1] + fx * gx[a + g + 2]);
                double ddy = (1 - fy) * ((1 - fx) * gy[a] + fx * gy[a + 1])
                             + fy * ((1 - fx) * gy[a + g + 1] + fx * gy[a + g + 2]);
                gsize o = (gsize) y * st->w + x;
                st->mapx[o] = (float) (x + ddx);
                st->mapy[o] = (float) (y + ddy);
              }
          }
        finish_warp (st, (FwAugBorder) v[2]);
      }
      break;
    default:
      flush_affine (st);
      switch (s->op)
        {
        case FW_AUG_BRIGHTNESS:
          fw_aug_brightness (st->img, st->size, unif (rng, -v[0], v[0]));
          break;
        case FW_AUG_CONTRAST:
          fw_aug_contrast (st->img, st->size, unif (rng, 1 - v[0], 1 + v[0]));
          break;
        case FW_AUG_GAMMA:
          gamma_op (st, unif (rng, 1 - v[0], 1 + v[0]));
          break;
        case FW_AUG_COLOR:
          for (int ch = 0; ch < st->c; ch++)
            {
              float gain = (float) unif (rng, 1 - v[0], 1 + v[0]);
              float *x = st->img + ch * st->plane;
              for (gsize i = 0; i < st->plane; i++)
                x[i] = clamp01 (x[i] * gain);
            }
          break;
        case FW_AUG_HSV:
          {
            float m[9];
            double t = unif (rng, -v[0], v[0]);
            hsv_matrix (m, t, unif (rng, 1 - v[1], 1 + v[1]));
            color_matrix (st, m);
          }
          break;
        case FW_AUG_NOISE:
          add_noise (st, rng, (float) v[0], FALSE);
          break;
        case FW_AUG_SPECKLE:
          add_noise (st, rng, (float) v[0], TRUE);
          break;
        case FW_AUG_SALT_PEPPER:
          {
            /* one 64-bit draw per pixel: 32 bits decide "hit", one bit black or white */
            guint32 th = (guint32) (v[0] * 4294967295.0);
            for (gsize i = 0; i < st->plane; i++)
              {
                guint64 r = fw_rng_next (rng);
                if ((guint32) r < th)
                  for (int ch = 0; ch < st->c; ch++)
                    st->img[ch * st->plane + i] = (r >> 63) ? 1.f : 0.f;
              }
          }
          break;
        case FW_AUG_BLUR:
          {
            double sg = unif (rng, 0, v[0]);
            if (sg >= 0.2)
              blur_image (st, sg);
          }
          break;
        case FW_AUG_CUTOUT:
          cutout (st, rng, v[0], (float) v[1]);
          break;
        case FW_AUG_RANDAUGMENT:
          randaugment (st, rng, (int) v[0], v[1]);
          flush_affine (st);
          break;
        default:
          break;
        }
    }
}

gsize
fw_aug_scratch_floats (int c, int h, int w)
{
  gsize plane = (gsize) h * w;
  return (gsize) c * plane + 2 * plane + (gsize) MAX (2, c) * plane + 16;
}

void
fw_aug_apply (const FwAugPipeline *p, float *img, int c, int h, int w, FwRng *rng,
              float *scratch, float *steps_out)
{
  g_return_if_fail (p != NULL && img != NULL && c >= 1 && h >= 1 && w >= 1);
  g_autofree float *own = scratch == NULL ? g_new (float, fw_aug_scratch_floats (c, h, w))
                                          : NULL;
  float *s = scratch != NULL ? scratch : own;
  AugState st = { .c = c, .h = h, .w = w, .plane = (gsize) h * w, .img = img };
  st.size = st.plane * c;
  st.buf = s;
  st.mapx = st.buf + st.size;
  st.mapy = st.mapx + st.plane;
  st.tmp = st.mapy + st.plane;
  for (guint i = 0; i < p->steps->len; i++)
    {
      const FwAugStep *step = &g_array_index (p->steps, FwAugStep, i);
      const FwAugOpInfo *oi = &op_table[step->op];
      if (step->enabled && oi->kind != FW_AUG_KIND_BATCH && fw_aug_op_applies (step->op, c, NULL))
        {
          double prob = step->v[oi->n_params - 1];
          if (prob >= 1 || fw_rng_uniform (rng) < prob)
            apply_step (&st, step, rng);
        }
      if (steps_out != NULL)
        {
          flush_affine (&st);
          memcpy (steps_out + (gsize) i * st.size, img, sizeof (float) * st.size);
        }
    }
  flush_affine (&st);
}

gsize
fw_aug_batch_scratch_floats (int n, int c, int h, int w, int k)
{
  return (gsize) n * ((gsize) c * h * w + k);
}

void
fw_aug_apply_batch (const FwAugPipeline *p, float *x, const gint32 *y, int n, int c, int h,
                    int w, int k, FwRng *rng, float *scratch, float *soft)
{
  gsize size = (gsize) c * h * w;
  memset (soft, 0, sizeof (float) * (gsize) n * k);
  for (int i = 0; i < n; i++)
    if (y[i] >= 0 && y[i] < k)
      soft[(gsize) i * k + y[i]] = 1.f;
  if (!fw_aug_pipeline_has_batch_ops (p) || n < 1)
    return;
  g_autofree float *own = scratch == NULL
                            ? g_new (float, fw_aug_batch_scratch_floats (n, c, h, w, k)) : NULL;
  float *xc = scratch != NULL ? scratch : own;
  float *sc = xc + (gsize) n * size;
  for (guint t = 0; t < p->steps->len; t++)
    {
      const FwAugStep *s = &g_array_index (p->steps, FwAugStep, t);
      if (!s->enabled || op_table[s->op].kind != FW_AUG_KIND_BATCH)
        continue;
      /* partners are read from the batch as it was before this step */
      memcpy (xc, x, sizeof (float) * n * size);
      memcpy (sc, soft, sizeof (float) * (gsize) n * k);
      double prob = s->v[1], alpha = s->v[0];
      for (int i = 0; i < n; i++)
        {
          if (prob < 1 && fw_rng_uniform (rng) >= prob)
            continue;
          int j = (int) fw_rng_below (rng, n);
          double lam = fw_rng_beta (rng, alpha, alpha);
          float *xi = x + (gsize) i * size;
          const float *xj = xc + (gsize) j * size;
          double keep;
          if (s->op == FW_AUG_CUTMIX)
            {
              /* a box of area fraction 1 - lam at a random centre, clipped by the image */
              double r = sqrt (1 - lam);
              int bw = (int) lround (w * r), bh = (int) lround (h * r);
              int cx = (int) fw_rng_below (rng, w), cy = (int) fw_rng_below (rng, h);
              keep = fw_aug_cutmix_box (xi, xj, c, h, w, cx - bw / 2, cy - bh / 2,
                                        cx - bw / 2 + bw, cy - bh / 2 + bh);
            }
          else
            {
              float a = (float) lam, b = 1.f - a;
              for (gsize q = 0; q < size; q++)
                xi[q] = a * xi[q] + b * xj[q];
              keep = a;
            }
          float *si = soft + (gsize) i * k;
          const float *sj = sc + (gsize) j * k;
          float fk = (float) keep;
          for (int q = 0; q < k; q++)
            si[q] = fk * si[q] + (1.f - fk) * sj[q];
        }
    }
}
