/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-test-util.h: helpers shared by the engine tests. */
#pragma once

#include <glib.h>

#include "fw-model.h"
#include "fw-recipe.h"
#include "fw-rng.h"

G_BEGIN_DECLS

/* Fills a with uniform values in [lo, hi). */
void   fw_test_fill_uniform (float *a, gsize n, float lo, float hi, FwRng *rng);
/* Max |a - b| / (|b| + atol) style check: returns the worst relative error. */
double fw_test_max_rel_err  (const float *a, const float *b, gsize n, double atol);

/* Finite-difference gradient check of a whole model under the loss
 *   L = sum_ij r_ij * logits_ij   (r fixed random weights)
 * in double-sided differences with step h, on n random inputs in [lo, hi), in train mode
 * (dropout must be off or p = 0; batch-norm uses batch statistics consistently).
 * Checks every parameter (or up to max_checks sampled ones). A layer's input gradient (dx) is
 * checked through the parameters of a layer placed before it: wrong dx, wrong gradients there.
 * Returns the worst relative error; prints the worst entry with g_test_message. */
double fw_test_gradcheck_model (FwModel *m, int n, float lo, float hi, double h,
                                int max_checks, guint64 seed);

/* A temporary directory removed (recursively) at the end of the test. Returns a path owned
 * by the test framework's queue (valid until the test ends). */
const char *fw_test_tmpdir (void);
/* Removes path and everything under it (no error when missing). */
void        fw_test_rm_rf  (const char *path);

/* The process as /proc/self shows it now: resident memory, open file descriptors, threads. */
typedef struct {
  long rss_kb;
  int fds, threads;
} FwProcSample;
FwProcSample fw_test_proc_sample (void);
/* Least-squares slope of s[first..last].rss_kb against the index (KB per step); 0 for fewer
 * than two points. */
double       fw_test_rss_slope   (const FwProcSample *s, int first, int last);

/* The project's first example recipe (resources/recipes, then resources/recipes/lecture; from
 * $FW_SOURCE_ROOT) that has the group, made small: [data] dataset = sim:1600:20, [train]
 * epochs = 1 (where the keys exist), [output] dir = out_dir, [run] threads = 1. "train" finds
 * a plain training recipe. NULL when none has the group. */
FwRecipe *fw_test_small_example_recipe (const char *group, const char *out_dir);

G_END_DECLS
