/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-decomp-private.h: what the decomposition files share (not part of the engine's API).
 *
 * A method turns one layer into a replacement: spec tokens for the new layers and, per new
 * layer, the exact content of its parameter view l->w (weights then bias, in the layout of
 * that layer kind). */
#pragma once

#include "fw-lowrank.h"

G_BEGIN_DECLS

typedef struct {
  GString *spec;        /* "dense:32,dense:256" */
  GPtrArray *weights;   /* float * per new layer (its l->w content) */
  GArray *sizes;        /* gsize per new layer */
  char *ranks;          /* "32" */
  double rel_error;
  char *note;           /* set (and spec empty) when the layer is left alone */
  gboolean measure_only;/* in: only compute rel_error (for the curves), build no layers */
} FwDecompRepl;

void fw_decomp_repl_init  (FwDecompRepl *r);
void fw_decomp_repl_clear (FwDecompRepl *r);
/* appends a new layer with its spec token and parameters (copied) */
void fw_decomp_repl_add   (FwDecompRepl *r, const char *token, const float *w, gsize n);

/* The per-method rewrites of one layer (fw-lowrank.c, fw-cpd.c, fw-tucker.c, fw-tt.c). */
gboolean fw_decomp_svd_layer    (const FwLayer *l, const FwDecompConfig *cfg, FwDecompRepl *r,
                                 GError **error);
gboolean fw_decomp_cp_layer     (const FwLayer *l, const FwDecompConfig *cfg, FwDecompRepl *r,
                                 GError **error);
gboolean fw_decomp_tucker_layer (const FwLayer *l, const FwDecompConfig *cfg, FwDecompRepl *r,
                                 GError **error);
gboolean fw_decomp_tt_layer     (const FwLayer *l, const FwDecompConfig *cfg, FwDecompRepl *r,
                                 GError **error);
gboolean fw_decomp_ht_layer     (const FwLayer *l, const FwDecompConfig *cfg, FwDecompRepl *r,
                                 GError **error);

/* The layer's weight (without bias) as doubles: dense [out x in], conv [out][c][k][k]. */
double  *fw_decomp_weight_d (const FwLayer *l, gsize *n);
/* Its bias (l->w after the weight) */
const float *fw_decomp_bias (const FwLayer *l);

/* Matrix helpers (row-major): c [m x n] = a [m x k] b [k x n] (ta / tb: use a^T / b^T). */
void fw_dgemm (gboolean ta, gboolean tb, int m, int n, int k, const double *a,
               const double *b, double *c);
/* The leading r left singular vectors of a [m x n] into u [m x r] (r <= min(m, n)); s (optional)
 * receives all min(m, n) singular values. */
gboolean fw_leading_left (int m, int n, const double *a, int r, double *u, double *s,
                          GError **error);

G_END_DECLS
