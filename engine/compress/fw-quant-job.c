/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-quant-job.c: [quantize] and [cluster] recipe jobs (keys in fw-quant-job.h). */
#include "fw-quant-job.h"

#include <math.h>
#include <string.h>

#include "fw-cluster.h"
#include "fw-error.h"
#include "fw-gemm.h"
#include "fw-layer-quant.h"
#include "fw-quant.h"
#include "fw-run-dir.h"
#include "fw-safetensors.h"
#include "fw-util.h"

#define HIST_BINS 120

static const char *const quant_keys[] = { "mode", "per_channel", "symmetric", "calib", "epochs",
                                          "lr", "clip", NULL };
static const char *const cluster_keys[] = { "k", "iters", "epochs", "pull", "pull_epochs", "lr",
                                            NULL };

const FwRecipeExt fw_quant_recipe_ext = {
  "quantize", "Quantization", quant_keys, fw_quant_job_run, "compress",
};

const FwRecipeExt fw_cluster_recipe_ext = {
  "cluster", "Weight clustering", cluster_keys, fw_cluster_job_run, "compress",
};

void
fw_weight_hist_free (FwWeightHist *h)
{
  if (h == NULL)
    return;
  g_free (h->title);
  g_free (h->stage);
  g_free (h->before);
  g_free (h->after);
  g_free (h->levels);
  g_free (h);
}

FwWeightHist *
fw_weight_hist_copy (const FwWeightHist *h)
{
  FwWeightHist *c = g_memdup2 (h, sizeof *h);
  c->title = g_strdup (h->title);
  c->stage = g_strdup (h->stage);
  c->before = g_memdup2 (h->before, sizeof (guint) * h->bins);
  c->after = g_memdup2 (h->after, sizeof (guint) * h->bins);
  c->levels = h->n_levels > 0 ? g_memdup2 (h->levels, sizeof (float) * h->n_levels) : NULL;
  return c;
}

void
fw_quant_result_free (FwQuantResult *r)
{
  if (r == NULL)
    return;
  g_free (r->method);
  g_free (r->name);
  g_free (r->run_dir);
  g_clear_pointer (&r->base, fw_model_unref);
  g_clear_pointer (&r->model, fw_model_unref);
  g_clear_pointer (&r->metrics, g_array_unref);
  g_free (r);
}

/* ---- the job's state ---- */

typedef struct {
  FwJob *job;
  const FwRecipe *r;
  FwDataset *train, *test;
  FwModel *base;
  /* the tensor shown in the histogram: the largest weight tensor */
  gsize h_off, h_n;
  int h_layer;
  float h_lo, h_hi;
  guint *h_before;
  char *h_title;
  FwWeightHist *last_hist;
  FwClustering *clustering;  /* cluster job: the live centres */
  FwTrainHooks job_hooks;
  FwModel *training;         /* the model being fine-tuned */
  char *base_dir;            /* <target>/base trained by this job: removed unless it commits */
  gboolean target_created;   /* <target> did not exist before the base was trained */
} QJob;

static void
qjob_clear (QJob *q)
{
  g_clear_pointer (&q->train, fw_dataset_unref);
  g_clear_pointer (&q->test, fw_dataset_unref);
  g_clear_pointer (&q->base, fw_model_unref);
  g_clear_pointer (&q->h_before, g_free);
  g_clear_pointer (&q->h_title, g_free);
  g_clear_pointer (&q->last_hist, fw_weight_hist_free);
  /* failed or cancelled after the base model was trained: no folder is left behind */
  if (q->base_dir != NULL)
    fw_run_dir_remove_committed (q->base_dir, q->target_created);
  g_clear_pointer (&q->base_dir, g_free);
}

static void G_GNUC_PRINTF (2, 3)
qlog (QJob *q, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *s = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (q->job != NULL)
    fw_job_log (q->job, "%s", s);
  else
    g_debug ("%s", s);
}

static const char *
recipe_file (const FwRecipe *r)
{
  return r->path != NULL ? r->path : (r->name != NULL ? r->name : "recipe");
}

static gboolean
load_data (QJob *q, GCancellable *cancellable, GError **error)
{
  const FwRecipe *r = q->r;
  g_autoptr (GError) local = NULL;
  qlog (q, "loading %s", r->dataset);
  q->train = fw_dataset_load (r->dataset, r->seed, cancellable, &local);
  if (q->train == NULL)
    {
      g_set_error (error, local->domain, local->code, "%s: [data] dataset = %s: %s",
                   recipe_file (r), r->dataset, local->message);
      return FALSE;
    }
  if (r->train_limit > 0 && r->train_limit < q->train->n)
    {
      FwDataset *part = NULL, *rest = NULL;
      fw_dataset_split (q->train, (double) r->train_limit / q->train->n, r->seed, &part, &rest);
      fw_dataset_unref (rest);
      fw_dataset_unref (q->train);
      q->train = part;
    }
  if (g_ascii_strcasecmp (r->test, "none") == 0)
    return TRUE;
  if (g_ascii_strcasecmp (r->test, "auto") == 0)
    q->test = fw_dataset_load_test (r->dataset, r->seed, cancellable, &local);
  else
    q->test = fw_dataset_load (r->test, r->seed, cancellable, &local);
  if (q->test == NULL && local != NULL)
    {
      g_set_error (error, local->domain, local->code, "%s: [data] test = %s: %s",
                   recipe_file (r), r->test, local->message);
      return FALSE;
    }
  return TRUE;
}

/* [model] init, or a base model trained by the recipe's base groups into <target>/base */
static gboolean
base_model (QJob *q, const char *target, GCancellable *cancellable, GError **error)
{
  const FwRecipe *r = q->r;
  g_autoptr (GError) local = NULL;
  if (r->init != NULL && *r->init != '\0')
    {
      q->base = fw_model_load (r->init, NULL, &local);
      if (q->base == NULL)
        {
          g_set_error (error, local->domain, local->code, "%s: [model] init = %s: %s",
                       recipe_file (r), r->init, local->message);
          return FALSE;
        }
      for (int i = 0; i < q->base->n_layers; i++)
        if (q->base->layers[i]->klass->packed != NULL)
          {
            g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                         "%s: [model] init = %s is already compressed (layer %d is %s); start "
                         "from the float model", recipe_file (r), r->init, i + 1,
                         q->base->layers[i]->klass->name);
            return FALSE;
          }
      qlog (q, "model: %s from %s", q->base->spec, r->init);
      return TRUE;
    }
  qlog (q, "no [model] init: training the base model first");
  g_autoptr (FwRecipe) rb = fw_recipe_copy (r);
  g_free (rb->out_dir);
  rb->out_dir = g_build_filename (target, "base", NULL);
  gboolean target_existed = g_file_test (target, G_FILE_TEST_EXISTS);
  gboolean base_existed = g_file_test (rb->out_dir, G_FILE_TEST_EXISTS);
  g_autoptr (FwRunResult) res = fw_recipe_run_sync (rb, q->job != NULL ? &q->job_hooks : NULL,
                                                    cancellable, error);
  if (res == NULL)
    return FALSE;
  if (!base_existed)
    {
      q->base_dir = g_strdup (rb->out_dir);
      q->target_created = !target_existed;
    }
  q->base = fw_model_ref (res->model);
  return TRUE;
}

static double
test_accuracy (FwModel *m, FwDataset *test, GCancellable *cancellable, GError **error)
{
  if (test == NULL)
    return NAN;
  g_autoptr (FwEvalResult) e = fw_evaluate (m, test, 256, cancellable, error);
  return e != NULL ? e->accuracy : -1;
}

/* ---- histograms ---- */

static void
hist_setup (QJob *q)
{
  g_autoptr (GArray) ts = fw_quant_weight_tensors (q->base);
  gsize best = 0;
  for (guint i = 0; i < ts->len; i++)
    {
      const gsize *row = &g_array_index (ts, gsize, 3 * i);
      if (row[1] > best)
        {
          best = row[1];
          q->h_off = row[0];
          q->h_n = row[1];
          q->h_layer = (int) row[2];
        }
    }
  const float *w = q->base->params + q->h_off;
  float lo = INFINITY, hi = -INFINITY;
  for (gsize i = 0; i < q->h_n; i++)
    {
      lo = MIN (lo, w[i]);
      hi = MAX (hi, w[i]);
    }
  if (!(hi > lo))
    {
      lo -= 1;
      hi += 1;
    }
  float pad = 0.02f * (hi - lo);
  q->h_lo = lo - pad;
  q->h_hi = hi + pad;
  q->h_before = g_new (guint, HIST_BINS);
  fw_weight_histogram (w, q->h_n, HIST_BINS, q->h_lo, q->h_hi, q->h_before);
  const FwLayer *l = q->base->layers[q->h_layer];
  g_autofree char *tok = l->klass->spec (l);
  g_autofree char *cnt = fw_format_count ((double) q->h_n);
  q->h_title = g_strdup_printf ("layer %d %s: %s weights", q->h_layer + 1, tok, cnt);
}

/* emits the histogram of w (the shown tensor's current values) with levels */
static void
hist_emit (QJob *q, const float *w, const float *levels, int n_levels, const char *stage)
{
  FwWeightHist *h = g_new0 (FwWeightHist, 1);
  h->layer = q->h_layer;
  h->title = g_strdup (q->h_title);
  h->stage = g_strdup (stage);
  h->bins = HIST_BINS;
  h->lo = q->h_lo;
  h->hi = q->h_hi;
  h->before = g_memdup2 (q->h_before, sizeof (guint) * HIST_BINS);
  h->after = g_new (guint, HIST_BINS);
  fw_weight_histogram (w, q->h_n, HIST_BINS, q->h_lo, q->h_hi, h->after);
  h->n_levels = n_levels;
  h->levels = n_levels > 0 ? g_memdup2 (levels, sizeof (float) * n_levels) : NULL;
  g_clear_pointer (&q->last_hist, fw_weight_hist_free);
  q->last_hist = fw_weight_hist_copy (h);
  if (q->job != NULL)
    fw_job_emit_snapshot (q->job, "weight-hist", h, (GDestroyNotify) fw_weight_hist_free);
  else
    fw_weight_hist_free (h);
}

/* the weights of the shown tensor in a compressed model, decoded to float */
static float *
decoded_weights (QJob *q, FwModel *m, float *levels, int *n_levels)
{
  *n_levels = 0;
  const FwLayer *l = m->layers[q->h_layer];
  const FwLayer *inner = fw_layer_wrapped (l);
  float *w = g_new0 (float, q->h_n);
  if (inner != NULL)
    {
      gsize off = q->h_off - (gsize) (q->base->layers[q->h_layer]->w - q->base->params);
      memcpy (w, inner->w + off, sizeof (float) * q->h_n);
      if (l->klass == &fw_layer_cluster)
        {
          FwPackedTensor pt[FW_LAYER_MAX_TENSORS];
          int np = l->klass->packed (l, pt);
          for (int i = 0; i < np && *n_levels == 0; i++)
            if (g_str_has_suffix (pt[i].name, ".codebook"))
              {
                *n_levels = pt[i].dims[0];
                memcpy (levels, pt[i].data, sizeof (float) * *n_levels);
              }
        }
      return w;
    }
  if (l->klass == &fw_layer_qdense || l->klass == &fw_layer_qconv)
    {
      FwPackedTensor pt[FW_LAYER_MAX_TENSORS];
      l->klass->packed (l, pt);
      const gint8 *wq = pt[0].data, *z = pt[2].data;
      const float *s = pt[1].data;
      int nsc = pt[1].dims[0];
      gsize row = q->h_n / (gsize) MAX (l->out.c, 1);
      for (gsize i = 0; i < q->h_n; i++)
        {
          int g = nsc > 1 ? (int) (i / row) : 0;
          w[i] = s[g] * (float) (wq[i] - z[g]);
        }
      if (nsc == 1) /* per tensor: the 256 levels themselves */
        for (int v = -128; v <= 127; v++)
          levels[(*n_levels)++] = s[0] * (float) (v - z[0]);
    }
  return w;
}

/* ---- fine-tuning hooks: the job's events plus a live histogram ---- */

static void
hooks_batch (gpointer user, int epoch, int n_epochs, int batch, int n_batches, double loss,
             double acc)
{
  QJob *q = user;
  if (q->job_hooks.batch != NULL)
    q->job_hooks.batch (q->job_hooks.user, epoch, n_epochs, batch, n_batches, loss, acc);
  /* the pull phase moves the weights visibly within an epoch: a frame every 50 batches */
  if (q->clustering != NULL && q->clustering->pull > 0 && batch % 50 == 0)
    {
      fw_clustering_recentre (q->clustering, q->training); /* centres follow the weights */
      const FwClusterTensor *t = NULL;
      for (int i = 0; i < q->clustering->n_tensors; i++)
        if (q->clustering->t[i].offset == q->h_off)
          t = &q->clustering->t[i];
      g_autofree char *stage = g_strdup_printf ("pull, epoch %d", epoch);
      if (t != NULL)
        hist_emit (q, q->training->params + q->h_off, t->centres, t->k, stage);
    }
}

static void
hooks_epoch (gpointer user, const FwEpochMetrics *m)
{
  QJob *q = user;
  if (q->job_hooks.epoch != NULL)
    q->job_hooks.epoch (q->job_hooks.user, m);
  if (q->clustering != NULL)
    {
      const FwClusterTensor *t = NULL;
      for (int i = 0; i < q->clustering->n_tensors; i++)
        if (q->clustering->t[i].offset == q->h_off)
          t = &q->clustering->t[i];
      g_autofree char *stage = g_strdup_printf ("epoch %d", m->epoch);
      if (t != NULL)
        hist_emit (q, q->training->params + q->h_off, t->centres, t->k, stage);
    }
}

/* ---- writing the run folder ---- */

static gsize
weight_bytes (const FwModel *m, gboolean packed_only)
{
  gsize b = 0;
  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = m->layers[i];
      FwTensorInfo ti[FW_LAYER_MAX_TENSORS];
      int nt = l->klass->tensors (l, ti);
      for (int t = 0; t < nt && !packed_only; t++)
        if (g_str_has_suffix (ti[t].name, "weight"))
          {
            gsize n = 4;
            for (int d = 0; d < ti[t].ndim; d++)
              n *= (gsize) ti[t].dims[d];
            b += n;
          }
      if (l->klass->packed == NULL)
        continue;
      FwPackedTensor pt[FW_LAYER_MAX_TENSORS];
      int np = l->klass->packed (l, pt);
      for (int t = 0; t < np; t++)
        if (strstr (pt[t].name, "weight") != NULL)
          b += pt[t].bytes;
    }
  return b;
}

static void
csv_num (GString *s, double v)
{
  if (isfinite (v))
    g_string_append_printf (s, ",%.6g", v);
  else
    g_string_append (s, ",");
}

static char *
metrics_csv (GArray *metrics)
{
  GString *s = g_string_new ("epoch,train_loss,train_acc,test_acc,lr,seconds\n");
  for (guint i = 0; metrics != NULL && i < metrics->len; i++)
    {
      const FwEpochMetrics *m = &g_array_index (metrics, FwEpochMetrics, i);
      g_string_append_printf (s, "%d", m->epoch);
      csv_num (s, m->train_loss);
      csv_num (s, m->train_acc);
      csv_num (s, m->test_acc);
      csv_num (s, m->lr);
      csv_num (s, m->seconds);
      g_string_append_c (s, '\n');
    }
  return g_string_free (s, FALSE);
}

static char *
hist_csv (const FwWeightHist *h)
{
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "# %s, %s\nbin_lo,bin_hi,count_before,count_after\n", h->title,
                          h->stage);
  for (int b = 0; b < h->bins; b++)
    g_string_append_printf (s, "%.6g,%.6g,%u,%u\n", h->lo + (h->hi - h->lo) * b / h->bins,
                            h->lo + (h->hi - h->lo) * (b + 1) / h->bins, h->before[b],
                            h->after[b]);
  for (int i = 0; i < h->n_levels; i++)
    g_string_append_printf (s, "# level %d: %.8g\n", i, h->levels[i]);
  return g_string_free (s, FALSE);
}

static void
json_num (GString *s, const char *key, double v, gboolean last)
{
  if (isfinite (v))
    g_string_append_printf (s, "  \"%s\": %.8g%s\n", key, v, last ? "" : ",");
  else
    g_string_append_printf (s, "  \"%s\": null%s\n", key, last ? "" : ",");
}

static gboolean
finish (QJob *q, FwModel *compressed, const char *method, const char *name, GArray *metrics,
        FwRunDir *rd_in, GCancellable *cancellable, GError **error)
{
  g_autoptr (FwRunDir) rd = rd_in;
  double acc_base = test_accuracy (q->base, q->test, cancellable, error);
  if (acc_base < 0)
    return FALSE;
  double acc = test_accuracy (compressed, q->test, cancellable, error);
  if (acc < 0)
    return FALSE;
  g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (meta, "compression", (gpointer) name);
  gint64 bytes_base = 0, bytes = 0;
  if (!fw_run_dir_save_model (rd, "base.safetensors", q->base, NULL, &bytes_base, error)
      || !fw_run_dir_save_model (rd, "model.safetensors", compressed, meta, &bytes, error))
    return FALSE;
  gsize wb32 = weight_bytes (q->base, FALSE), wb = weight_bytes (compressed, TRUE);
  int nl = 0;
  float levels[256];
  g_autofree float *w = decoded_weights (q, compressed, levels, &nl);
  if (q->clustering == NULL || nl == 0)
    hist_emit (q, w, levels, nl, "final");
  else
    hist_emit (q, w, levels, nl, "final (stored codebook)");
  g_autofree char *mcsv = metrics_csv (metrics);
  g_autofree char *hcsv = hist_csv (q->last_hist);
  g_autoptr (GString) js = g_string_new ("{\n");
  g_string_append_printf (js, "  \"method\": \"%s\",\n  \"name\": \"%s\",\n", method, name);
  g_autofree char *spec = g_strescape (compressed->spec, NULL);
  g_string_append_printf (js, "  \"spec\": \"%s\",\n", spec);
  json_num (js, "test_acc_base", acc_base, FALSE);
  json_num (js, "test_acc", acc, FALSE);
  json_num (js, "bytes_base", (double) bytes_base, FALSE);
  json_num (js, "bytes", (double) bytes, FALSE);
  json_num (js, "file_ratio", (double) bytes_base / MAX (bytes, 1), FALSE);
  json_num (js, "weight_bytes_f32", (double) wb32, FALSE);
  json_num (js, "weight_bytes", (double) wb, FALSE);
  json_num (js, "weight_ratio", (double) wb32 / MAX (wb, 1), TRUE);
  g_string_append (js, "}\n");
  if (!fw_run_dir_write (rd, "metrics.csv", mcsv, -1, error)
      || !fw_run_dir_write (rd, "weights.csv", hcsv, -1, error)
      || !fw_run_dir_write (rd, "summary.json", js->str, -1, error)
      || !fw_run_dir_write_recipe (rd, q->r, error))
    return FALSE;
  g_autofree char *dir = fw_run_dir_commit (g_steal_pointer (&rd), error);
  if (dir == NULL)
    return FALSE;
  g_clear_pointer (&q->base_dir, g_free); /* committed: the base folder is part of the run */
  FwQuantResult *res = g_new0 (FwQuantResult, 1);
  res->method = g_strdup (method);
  res->name = g_strdup (name);
  res->run_dir = g_strdup (dir);
  res->base = fw_model_ref (q->base);
  res->model = fw_model_ref (compressed);
  res->acc_base = acc_base;
  res->acc = acc;
  res->bytes_base = bytes_base;
  res->bytes = bytes;
  res->weight_bytes_f32 = wb32;
  res->weight_bytes = wb;
  res->metrics = metrics != NULL ? g_array_ref (metrics)
                                 : g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  g_autofree char *a0 = g_strdup_printf ("%.2f%%", 100 * acc_base);
  g_autofree char *a1 = g_strdup_printf ("%.2f%%", 100 * acc);
  g_autofree char *b0 = fw_format_bytes ((double) bytes_base);
  g_autofree char *b1 = fw_format_bytes ((double) bytes);
  g_autofree char *summary = g_strdup_printf (
    "run folder: %s\n%s: test accuracy %s (float %s, %+.2f points)\n"
    "file: %s (float %s, %.2fx smaller); weights %.2fx smaller than float32",
    dir, name, a1, a0, 100 * (acc - acc_base), b1, b0, (double) bytes_base / MAX (bytes, 1),
    (double) wb32 / MAX (wb, 1));
  if (q->job != NULL)
    {
      fw_job_set_summary (q->job, summary);
      fw_job_emit_snapshot (q->job, "quant-result", res, (GDestroyNotify) fw_quant_result_free);
    }
  else
    {
      g_debug ("%s", summary);
      fw_quant_result_free (res);
    }
  return TRUE;
}

static void
finetune_config (const FwRecipe *r, int epochs, double lr, FwTrainConfig *cfg)
{
  *cfg = r->train;
  cfg->epochs = epochs;
  cfg->lr = lr;
  cfg->opt = FW_OPT_ADAM;
  cfg->schedule = FW_SCHED_CONSTANT;
  cfg->warmup_epochs = 0;
  cfg->weight_decay = 0;
  cfg->patience = 0;
  cfg->augment = NULL;
  cfg->seed = r->seed;
}

static gboolean
job_begin (QJob *q, FwJob *job, const FwRecipe *r, FwRunDir **rd, GCancellable *cancellable,
           GError **error)
{
  q->job = job;
  q->r = r;
  if (job != NULL)
    fw_job_train_hooks_init (&q->job_hooks, job);
  fw_blas_set_threads (MAX (r->threads, 1));
  *rd = fw_run_dir_begin (r, error);
  if (*rd == NULL)
    return FALSE;
  if (!load_data (q, cancellable, error)
      || !base_model (q, fw_run_dir_target (*rd), cancellable, error))
    return FALSE;
  if (fw_dataset_sample_size (q->train) != fw_shape_size (q->base->input))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "%s: the model takes %dx%dx%d inputs but %s has %dx%dx%d samples",
                   recipe_file (r), q->base->input.c, q->base->input.h, q->base->input.w,
                   r->dataset, q->train->shape.c, q->train->shape.h, q->train->shape.w);
      return FALSE;
    }
  hist_setup (q);
  return TRUE;
}

gboolean
fw_quant_job_run (FwJob *job, gpointer recipe, GCancellable *cancellable, GError **error)
{
  const FwRecipe *r = recipe;
  const char *g = "quantize";
  static const char *const modes[] = { "f16", "int8", "ternary", "binary", NULL };
  int mode, calib, epochs;
  gboolean pc, sym;
  double lr, clip;
  if (!fw_recipe_ext_get_choice (r, g, "mode", modes, FW_QUANT_INT8, &mode, error)
      || !fw_recipe_ext_get_bool (r, g, "per_channel", TRUE, &pc, error)
      || !fw_recipe_ext_get_bool (r, g, "symmetric", TRUE, &sym, error)
      || !fw_recipe_ext_get_int (r, g, "calib", 512, 1, 1000000, &calib, error)
      || !fw_recipe_ext_get_int (r, g, "epochs", 3, 0, 10000, &epochs, error)
      || !fw_recipe_ext_get_double (r, g, "lr", 1e-4, 1e-9, 1.0, &lr, error)
      || !fw_recipe_ext_get_double (r, g, "clip", 1.0, 0.0, 1e6, &clip, error))
    return FALSE;
  QJob q = { 0 };
  FwRunDir *rd = NULL;
  gboolean ok = FALSE;
  g_autoptr (FwModel) out = NULL;
  g_autoptr (GArray) metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  g_autofree char *name = NULL;
  if (!job_begin (&q, job, r, &rd, cancellable, error))
    goto done;
  hist_emit (&q, q.base->params + q.h_off, NULL, 0, "original");
  switch ((FwQuantMode) mode)
    {
    case FW_QUANT_F16:
      name = g_strdup ("fp16");
      out = fw_quant_model_f16 (q.base, error);
      break;
    case FW_QUANT_INT8:
      {
        name = g_strdup_printf ("int8 %s %s", pc ? "per-channel" : "per-tensor",
                                sym ? "symmetric" : "affine");
        int n = MIN (calib, q.train->n);
        gsize in = fw_dataset_sample_size (q.train);
        g_autofree gint32 *idx = g_new (gint32, q.train->n);
        g_autofree float *x = g_new (float, (gsize) n * in);
        FwRng rng;
        fw_rng_init (&rng, r->seed ^ 0xca1b);
        for (int i = 0; i < q.train->n; i++)
          idx[i] = i;
        fw_rng_shuffle (&rng, idx, q.train->n);
        for (int i = 0; i < n; i++)
          memcpy (x + (gsize) i * in, q.train->x + (gsize) idx[i] * in, sizeof (float) * in);
        qlog (&q, "calibrating the activation ranges on %d training samples", n);
        out = fw_quant_model_int8 (q.base, x, n, pc, sym, error);
        break;
      }
    case FW_QUANT_TERNARY:
    case FW_QUANT_BINARY:
      {
        name = g_strdup_printf ("%s (STE, %d epochs)", fw_quant_mode_name (mode), epochs);
        g_autoptr (FwModel) t = fw_model_copy (q.base);
        FwTrainConfig cfg;
        finetune_config (r, epochs, lr, &cfg);
        FwTrainHooks h = { hooks_batch, hooks_epoch, &q };
        q.training = t;
        if (!fw_quant_train_ste (t, mode, mode == FW_QUANT_BINARY ? (float) clip : 0.0f, &cfg,
                                 q.train, q.test, &h, cancellable, metrics, error))
          goto done;
        out = fw_cluster_model_pack (t, mode == FW_QUANT_TERNARY ? 3 : 2, error);
        break;
      }
    }
  if (out == NULL)
    goto done;
  ok = finish (&q, out, fw_quant_mode_name (mode), name, metrics, g_steal_pointer (&rd),
               cancellable, error);
done:
  g_clear_pointer (&rd, fw_run_dir_free);
  qjob_clear (&q);
  return ok;
}

gboolean
fw_cluster_job_run (FwJob *job, gpointer recipe, GCancellable *cancellable, GError **error)
{
  const FwRecipe *r = recipe;
  const char *g = "cluster";
  int k, iters, epochs, pull_epochs;
  double pull, lr;
  if (!fw_recipe_ext_get_int (r, g, "k", 5, 2, FW_CLUSTER_MAX_K, &k, error)
      || !fw_recipe_ext_get_int (r, g, "iters", 30, 1, 10000, &iters, error)
      || !fw_recipe_ext_get_int (r, g, "epochs", 3, 0, 10000, &epochs, error)
      || !fw_recipe_ext_get_double (r, g, "pull", 0, 0, 1e6, &pull, error)
      || !fw_recipe_ext_get_int (r, g, "pull_epochs", 1, 0, 10000, &pull_epochs, error)
      || !fw_recipe_ext_get_double (r, g, "lr", 1e-4, 1e-9, 1.0, &lr, error))
    return FALSE;
  QJob q = { 0 };
  FwRunDir *rd = NULL;
  gboolean ok = FALSE;
  g_autoptr (FwModel) t = NULL, out = NULL;
  g_autoptr (GArray) metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  if (!job_begin (&q, job, r, &rd, cancellable, error))
    goto done;
  hist_emit (&q, q.base->params + q.h_off, NULL, 0, "original");
  t = fw_model_copy (q.base);
  q.training = t;
  q.clustering = fw_clustering_new (t, k, iters, error);
  if (q.clustering == NULL)
    goto done;
  for (int i = 0; i < q.clustering->n_tensors; i++)
    if (q.clustering->t[i].offset == q.h_off)
      hist_emit (&q, q.base->params + q.h_off, q.clustering->t[i].centres, k, "k-means");
  {
    g_autoptr (FwModel) snapped = fw_model_copy (t);
    fw_clustering_snap (q.clustering, snapped);
    double acc0 = test_accuracy (snapped, q.test, cancellable, error);
    if (acc0 < 0)
      goto done;
    qlog (&q, "k-means (k = %d) without fine-tuning: test accuracy %.2f%%", k, 100 * acc0);
  }
  if (epochs > 0)
    {
      FwTrainConfig cfg;
      finetune_config (r, epochs, lr, &cfg);
      FwTrainHooks h = { hooks_batch, hooks_epoch, &q };
      if (!fw_cluster_train (t, q.clustering, &cfg, (float) pull, pull_epochs, q.train, q.test,
                             &h, cancellable, metrics, error))
        goto done;
    }
  else
    fw_clustering_snap (q.clustering, t);
  out = fw_cluster_model_pack (t, k, error);
  if (out == NULL)
    goto done;
  {
    g_autofree char *name = g_strdup_printf ("cluster k=%d%s", k, epochs > 0 ? " fine-tuned" : "");
    ok = finish (&q, out, "cluster", name, metrics, g_steal_pointer (&rd), cancellable, error);
  }
done:
  g_clear_pointer (&rd, fw_run_dir_free);
  g_clear_pointer (&q.clustering, fw_clustering_free);
  qjob_clear (&q);
  return ok;
}
