/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-compare.h: the compare board: models measured side by side as they are stored.
 *
 * One row per model: test accuracy and per-class accuracy (delta vs a chosen baseline row),
 * parameters stored and non-zero, bytes of the saved .safetensors file on disk (stat of the
 * real file; a model with no file is saved to a temporary file first), FLOPs per image,
 * measured batch-1 latency and batch-256 throughput (median of repeated timed runs on this
 * machine, with the caller's BLAS thread count).
 *
 * Seeds: models named "<variant> seed 2", "<variant>-seed2", "<variant>_s2" ... share the
 * variant "<variant>"; a variant with several seeds gets the mean and sample standard
 * deviation of accuracy, latency and throughput (error bars of the Pareto plot).
 *
 * Pareto frontier: the rows no other row beats on both axes (higher accuracy AND lower cost).
 *
 * Exports: CSV (RFC 4180 quoting, one row per model, per-class accuracy and delta columns),
 * Markdown and LaTeX tables, and the plain-text table `frugal compare` prints.
 *
 * Usage (the GUI job and the CLI do exactly this):
 *   FwCompareTable *t = fw_compare_table_new (test->class_names, test->n_classes);
 *   for each model: fw_compare_measure (t, name, kind, model, path, test, &opt, c, &err);
 *   fw_compare_table_finish (t, baseline);     deltas vs the baseline, seed aggregates
 */
#pragma once

#include <gio/gio.h>

#include "fw-dataset.h"
#include "fw-job.h"
#include "fw-model.h"

G_BEGIN_DECLS

typedef struct {
  gboolean measure_time;  /* TRUE: latency and throughput (the slow part); FALSE: NaN */
  int reps;               /* timed repetitions, the median is kept (default 15) */
  double min_rep_s;       /* each repetition runs enough forwards to last this long (0.005) */
  int big_batch;          /* the throughput batch (256) */
  int eval_batch;         /* evaluation batch (256) */
} FwCompareOptions;

void fw_compare_options_init (FwCompareOptions *opt);

typedef struct {
  char *name;              /* as shown */
  char *kind;              /* method tag ("trained", "pruned", "int8" ...), may be NULL */
  char *path;              /* the file measured (NULL if it was a temporary file) */
  char *variant;           /* name without its seed suffix */
  int seed;                /* the seed suffix, -1 when the name has none */

  double accuracy;         /* test accuracy in [0, 1] */
  int n_classes;
  double *per_class_acc;   /* [n_classes], NaN for a class without test samples */
  double *delta;           /* [n_classes] per_class_acc - baseline's (fractions), after finish */
  double delta_acc;        /* accuracy - baseline's accuracy */
  gint64 *confusion;       /* [n_classes x n_classes], row = true, column = predicted */

  gsize params_stored;     /* every value stored in the file (float and packed tensors) */
  gsize params_nonzero;    /* of those, the non-zero ones (index tensors excluded) */
  gint64 file_bytes;       /* size of the .safetensors file on disk */
  double flops;            /* forward FLOPs per image (multiply-add = 2) */
  double latency_s;        /* median seconds of one batch-1 forward, NaN when not measured */
  double throughput;       /* images per second at big_batch (median), NaN when not measured */

  /* the variant over its seeds (after finish); n_seeds = 1 and std 0 for a single model */
  int n_seeds;
  double acc_mean, acc_std;
  double latency_mean, latency_std;
  double throughput_mean, throughput_std;
} FwCompareRow;

typedef struct {
  int n_classes;
  char **class_names;      /* n_classes names, NULL-terminated */
  GPtrArray *rows;         /* FwCompareRow *, owned */
  int baseline;            /* index of the baseline row (after finish) */
  char *data_name;         /* the test set's name, or NULL */
  int n_test;              /* its size */
} FwCompareTable;

FwCompareTable *fw_compare_table_new    (const char *const *class_names, int n_classes);
void            fw_compare_table_free   (FwCompareTable *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwCompareTable, fw_compare_table_free)

static inline FwCompareRow *
fw_compare_table_row (const FwCompareTable *t, guint i)
{
  return g_ptr_array_index (t->rows, i);
}

/* Measures one model and appends its row (returned, owned by the table). @path is the model's
 * saved file, or NULL: then the model is saved to a temporary file that is measured and removed.
 * The model is used (forward passes): not concurrently with another thread. Errors: the test
 * set does not fit the model (input shape, classes), the file cannot be read or written,
 * FW_ERROR_CANCELLED. */
FwCompareRow   *fw_compare_measure      (FwCompareTable *t, const char *name, const char *kind,
                                         FwModel *m, const char *path, const FwDataset *test,
                                         const FwCompareOptions *opt,
                                         GCancellable *cancellable, GError **error);
/* Appends a copy of a row measured elsewhere (the GUI's job hands rows over one by one). */
void            fw_compare_table_add_row (FwCompareTable *t, const FwCompareRow *row);
FwCompareRow   *fw_compare_row_copy     (const FwCompareRow *row);
void            fw_compare_row_free     (FwCompareRow *row);

/* Deltas vs row @baseline (clamped into range) and the seed aggregates of every variant. */
void            fw_compare_table_finish (FwCompareTable *t, int baseline);

/* "pruned-90 seed 3" -> "pruned-90", 3; a name without a seed suffix -> itself, -1. */
char           *fw_compare_split_seed   (const char *name, int *seed);

/* The seconds one forward pass of @batch samples takes: the median over @reps repetitions, each
 * timing enough back-to-back passes to last @min_rep_s. @x holds @batch samples. */
double          fw_compare_time_forward (FwModel *m, const float *x, int batch, int reps,
                                         double min_rep_s, GCancellable *cancellable);

/* Times n models side by side: batch-1 latency[i] (seconds) and big-batch throughput[i]
 * (images/s), medians over @reps repetitions (reps/2, at least 3, for the big batch), the
 * repetitions alternating between the models (round-robin) so that a change of the machine's
 * load hits every model alike. @x holds @big samples. progress (may be NULL) gets [0, 1].
 * FALSE when cancelled. */
typedef void (*FwCompareTimingFunc) (gpointer user, double fraction);
gboolean        fw_compare_time_models  (FwModel *const *models, int n, const float *x, int big,
                                         int reps, double min_rep_s, double *latency,
                                         double *throughput, FwCompareTimingFunc progress,
                                         gpointer user, GCancellable *cancellable);
/* @big test images as one batch (repeated when the test set is smaller): g_free. */
float          *fw_compare_timing_batch (const FwDataset *test, int big);

/* Stored and non-zero value counts of a model as fw_model_save() writes it: every element of
 * its float tensors and packed tensors; non-zero leaves out index tensors (names with "index",
 * "indices", "ptr", "offsets"): they are storage, not weights. */
void            fw_compare_count_params (const FwModel *m, gsize *stored, gsize *nonzero);
/* The same, any of them NULL, plus *weights: the stored values without the index tensors (the
 * model's size in parameters as stored: an int8 or clustered model counts its codes). */
void            fw_compare_count_values (const FwModel *m, gsize *stored, gsize *nonzero,
                                         gsize *weights);

/* Pareto frontier of n points, maximising @value and minimising @cost: on_front[i] = TRUE when
 * no point j has value_j >= value_i and cost_j <= cost_i with one of them strict. Points with a
 * non-finite coordinate are never on the front. Returns the number on the front. */
int             fw_pareto_front         (const double *cost, const double *value, int n,
                                         gboolean *on_front);

typedef enum {
  FW_TABLE_TEXT,      /* aligned columns for a terminal */
  FW_TABLE_CSV,
  FW_TABLE_MARKDOWN,
  FW_TABLE_LATEX,
} FwTableFormat;

/* The columns of the human-readable table (model, kind, accuracy, Δ acc, worst class Δ,
 * params, non-zero, bytes on disk, FLOPs/image, latency, throughput) and row i's cells as the
 * text / Markdown / LaTeX tables show them (n strings, NULL-terminated: g_strfreev). The
 * baseline's name carries " (baseline)". */
const char *const *fw_compare_column_titles (guint *n);
char          **fw_compare_row_cells    (const FwCompareTable *t, guint i);

/* The table in @format (newly allocated). */
char           *fw_compare_table_format (const FwCompareTable *t, FwTableFormat format);
/* The format for a file name's extension: .csv, .md/.markdown, .tex, .txt; FALSE with an error
 * naming the extensions that work otherwise. */
gboolean        fw_table_format_for_path (const char *path, FwTableFormat *format,
                                          GError **error);
/* Writes the table to @path atomically in the format its extension names. */
gboolean        fw_compare_table_write  (const FwCompareTable *t, const char *path,
                                         GError **error);

/* ---- jobs (fw-compare-job.c) ---- */

/* One model to measure: its name, method tag (may be NULL), saved file (may be NULL) and the
 * model (used by the job's thread only). */
typedef struct {
  char *name;
  char *kind;
  char *path;
  FwModel *model;
} FwCompareInput;

/* Frees an input's fields (the struct itself is not freed: GArray clear func). */
void            fw_compare_input_clear  (FwCompareInput *in);

/* The measuring loop of the Compare page and the [compare] job: emits "compare-start" (an empty
 * FwCompareTable naming the test set), one "compare-row" (FwCompareRow, not timed yet) per model
 * as it is evaluated, then, when opt->measure_time, times all models side by side
 * (fw_compare_time_models) and emits "compare-times" (a double array: latency[n], then
 * throughput[n]); job may be NULL. Returns the table (not finished), or NULL with an error. */
FwCompareTable *fw_compare_run_job      (FwJob *job, const FwCompareInput *in, int n,
                                         const FwDataset *test, const FwCompareOptions *opt,
                                         GCancellable *cancellable, GError **error);
/* The test split of a dataset spec, or the whole dataset when it has none (logged). */
FwDataset      *fw_compare_load_test    (const char *spec, FwJob *job,
                                         GCancellable *cancellable, GError **error);
/* Loads saved models (NULL-terminated paths) as inputs (appended to a GArray of
 * FwCompareInput): names from __metadata__ "name" or the file / run folder name, kinds from
 * __metadata__ "method" (else "compression", else "pruned (...)"). */
gboolean        fw_compare_load_inputs  (char **paths, GArray *inputs, GError **error);
char           *fw_compare_model_name   (const char *path, GHashTable *meta);
/* The [compare] recipe job (data = an FwRecipe): writes compare.csv/.md/.tex/.txt and
 * summary.json into the run folder. */
gboolean        fw_compare_job_run      (FwJob *job, gpointer recipe,
                                         GCancellable *cancellable, GError **error);

G_END_DECLS
