/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-recipe-job.c: the training job: recipe -> data -> model -> fw_train -> run folder.
 *
 * The run folder (recipe.ini, metrics.csv, summary.json, model.safetensors) is written only
 * after training and evaluation succeeded, into "<dir>.partial-XXXXXX" next to it, then moved
 * into place by rename: a cancelled or failed run leaves no folder and no model file. */
#include "fw-recipe.h"
#include "fw-run-dir.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "fw-dataset.h"
#include "fw-embed.h"
#include "fw-error.h"
#include "fw-gemm.h"
#include "fw-model.h"
#include "fw-noise.h"
#include "fw-robust.h"
#include "fw-safetensors.h"
#include "fw-train.h"
#include "fw-util.h"


void
fw_run_result_free (FwRunResult *r)
{
  if (r == NULL)
    return;
  g_free (r->run_dir);
  g_clear_pointer (&r->model, fw_model_unref);
  g_clear_pointer (&r->metrics, g_array_unref);
  g_clear_pointer (&r->test_eval, fw_eval_result_free);
  g_clear_pointer (&r->test, fw_dataset_unref);
  g_free (r);
}

/* Log lines go to the job's events, or to g_debug() without a job. */
static void G_GNUC_PRINTF (2, 3)
run_log (FwJob *job, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  if (job != NULL)
    fw_job_log (job, "%s", msg);
  else
    g_debug ("%s", msg);
}

static gboolean
check_cancel (GCancellable *cancellable, GError **error)
{
  if (g_cancellable_is_cancelled (cancellable))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_CANCELLED, "Training cancelled");
      return FALSE;
    }
  return TRUE;
}

static char *
shape_string (FwShape s)
{
  return g_strdup_printf ("%dx%dx%d", s.c, s.h, s.w);
}

static const char *
recipe_file (const FwRecipe *r)
{
  return r->path != NULL ? r->path : r->name;
}

/* ---- data ---- */

typedef struct {
  FwDataset *train, *val, *test;
  /* [noise]: labels flipped in train (validation and test stay clean) */
  int noise_flipped;
  double noise_rate;
  gint32 *y_true;          /* train's true labels with noise, else NULL */
} Data;

static void
data_clear (Data *d)
{
  g_clear_pointer (&d->train, fw_dataset_unref);
  g_clear_pointer (&d->val, fw_dataset_unref);
  g_clear_pointer (&d->test, fw_dataset_unref);
  g_clear_pointer (&d->y_true, g_free);
}

static gboolean
load_data (const FwRecipe *r, FwJob *job, GCancellable *cancellable, Data *d, GError **error)
{
  /* one seed per purpose, all from the recipe's seed */
  FwRng root, rng;
  fw_rng_init (&root, r->seed);
  fw_rng_split (&root, FW_RNG_DATA, &rng);
  guint64 limit_seed = fw_rng_next (&rng);
  guint64 per_class_seed = fw_rng_next (&rng);
  guint64 val_seed = fw_rng_next (&rng);
  guint64 noise_seed = fw_rng_next (&rng);

  run_log (job, "loading %s", r->dataset);
  g_autoptr (GError) local = NULL;
  FwDataset *ds = fw_dataset_load (r->dataset, r->seed, cancellable, &local);
  if (ds == NULL)
    {
      if (g_error_matches (local, FW_ERROR, FW_ERROR_CANCELLED))
        g_propagate_error (error, g_steal_pointer (&local));
      else
        g_set_error (error, local->domain, local->code, "%s: [data] dataset = %s: %s",
                     recipe_file (r), r->dataset, local->message);
      return FALSE;
    }
  if (ds->n < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [data] dataset = %s is empty — "
                   "check the source", recipe_file (r), r->dataset);
      fw_dataset_unref (ds);
      return FALSE;
    }
  int n_loaded = ds->n;

  if (r->train_limit > 0 && r->train_limit < ds->n)
    {
      FwDataset *part = NULL, *rest = NULL;
      fw_dataset_split (ds, (double) r->train_limit / ds->n, limit_seed, &part, &rest);
      fw_dataset_unref (rest);
      fw_dataset_unref (ds);
      ds = part;
    }
  if (r->per_class > 0)
    {
      FwDataset *part = fw_dataset_per_class (ds, r->per_class, per_class_seed, NULL);
      fw_dataset_unref (ds);
      ds = part;
    }
  if (r->val_fraction > 0)
    {
      FwDataset *val = NULL, *train = NULL;
      fw_dataset_split (ds, r->val_fraction, val_seed, &val, &train);
      fw_dataset_unref (ds);
      ds = train;
      if (val != NULL && val->n > 0)
        d->val = val;
      else
        g_clear_pointer (&val, fw_dataset_unref);
    }
  d->train = ds;
  if (d->train == NULL || d->train->n < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [data] no training samples left "
                   "after train_limit, per_class and val_fraction — use more data or a smaller "
                   "val_fraction", recipe_file (r));
      return FALSE;
    }

  FwNoiseKind nk = FW_NOISE_NONE;
  fw_noise_kind_from_string (r->noise_kind, &nk);
  if (nk != FW_NOISE_NONE)
    {
      g_autoptr (FwNoisyLabels) nl = fw_noise_apply_kind (d->train, nk, r->noise_rate,
                                                          r->noise_matrix, noise_seed, &local);
      if (nl == NULL)
        {
          g_set_error (error, local->domain, local->code, "%s: [noise]: %s", recipe_file (r),
                       local->message);
          return FALSE;
        }
      fw_dataset_unref (d->train);
      d->train = fw_dataset_ref (nl->noisy);
      d->y_true = g_steal_pointer (&nl->y_true);
      d->noise_flipped = nl->n_flipped;
      d->noise_rate = nl->rate;
      run_log (job, "label noise (%s): %d of %d training labels flipped (%.2f%%); validation "
               "and test labels are clean", r->noise_kind, nl->n_flipped, d->train->n,
               100.0 * nl->rate);
    }

  if (!check_cancel (cancellable, error))
    return FALSE;

  if (g_ascii_strcasecmp (r->test, "none") == 0)
    d->test = NULL;
  else if (g_ascii_strcasecmp (r->test, "auto") == 0)
    {
      d->test = fw_dataset_load_test (r->dataset, r->seed, cancellable, &local);
      if (d->test == NULL && local != NULL)
        {
          if (g_error_matches (local, FW_ERROR, FW_ERROR_CANCELLED))
            g_propagate_error (error, g_steal_pointer (&local));
          else
            g_set_error (error, local->domain, local->code, "%s: [data] test = auto (%s): %s",
                         recipe_file (r), r->dataset, local->message);
          return FALSE;
        }
      if (d->test == NULL)
        run_log (job, "%s has no test split of its own: no test set (write test = SPEC in "
                 "[data] to give one)", r->dataset);
    }
  else
    {
      d->test = fw_dataset_load (r->test, r->seed, cancellable, &local);
      if (d->test == NULL)
        {
          if (g_error_matches (local, FW_ERROR, FW_ERROR_CANCELLED))
            g_propagate_error (error, g_steal_pointer (&local));
          else
            g_set_error (error, local->domain, local->code, "%s: [data] test = %s: %s",
                         recipe_file (r), r->test, local->message);
          return FALSE;
        }
    }
  if (d->test != NULL && d->test->n < 1)
    g_clear_pointer (&d->test, fw_dataset_unref);
  if (d->test != NULL
      && (fw_shape_size (d->test->shape) != fw_shape_size (d->train->shape)
          || d->test->shape.c != d->train->shape.c || d->test->n_classes != d->train->n_classes))
    {
      g_autofree char *a = shape_string (d->train->shape);
      g_autofree char *b = shape_string (d->test->shape);
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [data] test: the test set has "
                   "samples %s and %d classes, the training set %s and %d — give a test set "
                   "of the same kind", recipe_file (r), b, d->test->n_classes, a,
                   d->train->n_classes);
      return FALSE;
    }

  g_autofree char *shape = shape_string (d->train->shape);
  run_log (job, "data: %s, %d loaded, %d train, %d validation, %d test; samples %s, %d classes",
           d->train->name != NULL ? d->train->name : r->dataset, n_loaded, d->train->n,
           d->val != NULL ? d->val->n : 0, d->test != NULL ? d->test->n : 0, shape,
           d->train->n_classes);
  return TRUE;
}

/* ---- model ---- */

static FwModel *
build_model (const FwRecipe *r, FwJob *job, const FwDataset *train, GError **error)
{
  g_autoptr (FwModel) m = NULL;
  g_autoptr (GError) local = NULL;

  if (r->init != NULL && *r->init != '\0')
    {
      m = fw_model_load (r->init, NULL, &local);
      if (m == NULL)
        {
          g_set_error (error, local->domain, local->code, "%s: [model] init = %s: %s",
                       recipe_file (r), r->init, local->message);
          return NULL;
        }
      if (m->input.c != train->shape.c || m->input.h != train->shape.h
          || m->input.w != train->shape.w || m->n_classes != train->n_classes)
        {
          g_autofree char *a = shape_string (m->input);
          g_autofree char *b = shape_string (train->shape);
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [model] init = %s: the model "
                       "takes %s inputs and gives %d classes, the dataset has %s samples and "
                       "%d classes — start from a model made for this dataset, or leave init "
                       "empty", recipe_file (r), r->init, a, m->n_classes, b,
                       train->n_classes);
          return NULL;
        }
      run_log (job, "model: %s from %s (its own input normalisation kept)", m->arch, r->init);
    }
  else
    {
      g_autofree char *spec = NULL;
      if (g_strcmp0 (r->arch, "custom") == 0)
        spec = g_strdup (r->spec);
      else
        spec = fw_model_arch_spec (r->arch, r->widths, train->shape, train->n_classes, &local);
      if (spec == NULL)
        {
          g_set_error (error, local->domain, local->code, "%s: [model] arch = %s: %s",
                       recipe_file (r), r->arch, local->message);
          return NULL;
        }
      m = fw_model_new (r->arch, spec, train->shape, &local);
      if (m == NULL)
        {
          g_set_error (error, local->domain, local->code, "%s: [model] %s: %s", recipe_file (r),
                       g_strcmp0 (r->arch, "custom") == 0 ? "spec" : "arch", local->message);
          return NULL;
        }
      if (m->n_classes != train->n_classes)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [model] spec: the last layer "
                       "gives %d outputs, the dataset has %d classes — end the spec with "
                       "dense:%d", recipe_file (r), m->n_classes, train->n_classes,
                       train->n_classes);
          return NULL;
        }
      fw_model_init (m, r->seed);
      /* input normalisation from the training set: (x - mean) / std */
      float mean = 0, std = 1;
      fw_dataset_stats (train, &mean, &std);
      m->in_mean = mean;
      m->in_std = std > 1e-6f ? std : 1.0f;
    }
  if (train->class_names != NULL)
    {
      g_strfreev (m->class_names);
      m->class_names = g_strdupv (train->class_names);
    }

  g_autofree char *params = fw_format_count ((double) fw_model_param_count (m));
  g_autofree char *flops = fw_format_count (fw_model_flops (m));
  g_autofree char *desc = fw_model_describe (m);
  g_strchomp (desc);
  run_log (job, "model %s: %s parameters, %s FLOPs per sample\n%s", m->arch, params, flops,
           desc);
  return g_steal_pointer (&m);
}

/* ---- the run folder ---- */

static void
csv_number (GString *s, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_string_append_c (s, ',');
  if (isfinite (v))
    g_string_append (s, g_ascii_formatd (buf, sizeof buf, "%.9g", v));
}

static char *
metrics_csv (GArray *metrics)
{
  GString *s = g_string_new ("epoch,train_loss,train_acc,val_loss,val_acc,test_acc,lr,seconds\n");
  for (guint i = 0; i < metrics->len; i++)
    {
      const FwEpochMetrics *m = &g_array_index (metrics, FwEpochMetrics, i);
      g_string_append_printf (s, "%d", m->epoch);
      csv_number (s, m->train_loss);
      csv_number (s, m->train_acc);
      csv_number (s, m->val_loss);
      csv_number (s, m->val_acc);
      csv_number (s, m->test_acc);
      csv_number (s, m->lr);
      csv_number (s, m->seconds);
      g_string_append_c (s, '\n');
    }
  return g_string_free (s, FALSE);
}

static void
json_number (JsonBuilder *b, const char *name, double v)
{
  json_builder_set_member_name (b, name);
  if (isfinite (v))
    json_builder_add_double_value (b, v);
  else
    json_builder_add_null_value (b);
}

static char *
summary_json (const FwRecipe *r, const FwModel *m, const Data *d, GArray *metrics,
              const FwEvalResult *test_eval, gint64 model_bytes, double train_seconds)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "recipe");
  json_builder_add_string_value (b, r->name != NULL ? r->name : "");
  json_builder_set_member_name (b, "dataset");
  json_builder_add_string_value (b, r->dataset);
  json_builder_set_member_name (b, "n_train");
  json_builder_add_int_value (b, d->train->n);
  json_builder_set_member_name (b, "n_val");
  json_builder_add_int_value (b, d->val != NULL ? d->val->n : 0);
  json_builder_set_member_name (b, "n_test");
  json_builder_add_int_value (b, d->test != NULL ? d->test->n : 0);
  json_builder_set_member_name (b, "arch");
  json_builder_add_string_value (b, m->arch);
  json_builder_set_member_name (b, "spec");
  json_builder_add_string_value (b, m->spec);
  json_builder_set_member_name (b, "params");
  json_builder_add_int_value (b, (gint64) fw_model_param_count (m));
  json_builder_set_member_name (b, "model_bytes");
  if (model_bytes >= 0)
    json_builder_add_int_value (b, model_bytes);
  else
    json_builder_add_null_value (b);
  json_number (b, "flops_per_sample", fw_model_flops (m));
  json_builder_set_member_name (b, "epochs_run");
  json_builder_add_int_value (b, metrics->len);

  json_builder_set_member_name (b, "final");
  json_builder_begin_object (b);
  if (metrics->len > 0)
    {
      const FwEpochMetrics *f = &g_array_index (metrics, FwEpochMetrics, metrics->len - 1);
      json_builder_set_member_name (b, "epoch");
      json_builder_add_int_value (b, f->epoch);
      json_number (b, "train_loss", f->train_loss);
      json_number (b, "train_acc", f->train_acc);
      json_number (b, "val_loss", f->val_loss);
      json_number (b, "val_acc", f->val_acc);
      json_number (b, "test_acc", f->test_acc);
      json_number (b, "lr", f->lr);
    }
  json_builder_end_object (b);

  json_number (b, "test_accuracy", test_eval != NULL ? test_eval->accuracy : NAN);
  json_number (b, "test_loss", test_eval != NULL ? test_eval->loss : NAN);

  json_builder_set_member_name (b, "class_names");
  json_builder_begin_array (b);
  for (int c = 0; m->class_names != NULL && c < m->n_classes && m->class_names[c]; c++)
    json_builder_add_string_value (b, m->class_names[c]);
  json_builder_end_array (b);

  json_builder_set_member_name (b, "per_class_accuracy");
  if (test_eval != NULL)
    {
      json_builder_begin_array (b);
      for (int c = 0; c < test_eval->n_classes; c++)
        if (isfinite (test_eval->per_class_acc[c]))
          json_builder_add_double_value (b, test_eval->per_class_acc[c]);
        else
          json_builder_add_null_value (b);
      json_builder_end_array (b);
    }
  else
    json_builder_add_null_value (b);

  json_builder_set_member_name (b, "confusion");
  if (test_eval != NULL)
    {
      int k = test_eval->n_classes;
      json_builder_begin_array (b);
      for (int i = 0; i < k; i++)
        {
          json_builder_begin_array (b);
          for (int j = 0; j < k; j++)
            json_builder_add_int_value (b, test_eval->confusion[(gsize) i * k + j]);
          json_builder_end_array (b);
        }
      json_builder_end_array (b);
    }
  else
    json_builder_add_null_value (b);

  json_builder_set_member_name (b, "noise");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, r->noise_kind);
  json_number (b, "requested_rate", g_strcmp0 (r->noise_kind, "none") == 0 ? 0 : r->noise_rate);
  json_number (b, "realised_rate", d->noise_rate);
  json_builder_set_member_name (b, "flipped");
  json_builder_add_int_value (b, d->noise_flipped);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "loss");
  json_builder_add_string_value (b, r->coteaching ? "coteaching" : r->loss);
  json_number (b, "train_seconds", train_seconds);
  json_builder_set_member_name (b, "threads");
  json_builder_add_int_value (b, r->threads);
  json_builder_set_member_name (b, "seed");
  /* JSON numbers lose integers above 2^53: the seed is written as a string too */
  json_builder_add_int_value (b, (gint64) r->seed);
  json_builder_set_member_name (b, "seed_string");
  g_autofree char *seed = g_strdup_printf ("%" G_GUINT64_FORMAT, r->seed);
  json_builder_add_string_value (b, seed);
  json_builder_end_object (b);

  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  char *out = json_generator_to_data (gen, NULL);
  char *with_nl = g_strconcat (out, "\n", NULL);
  g_free (out);
  return with_nl;
}

/* Writes every file of the run into the run folder being built. */
static gboolean
write_run_files (FwRunDir *rd, const FwRecipe *r, FwModel *m, const Data *d, GArray *metrics,
                 const FwEvalResult *test_eval, double train_seconds, const char *embed_csv,
                 GError **error)
{
  if (embed_csv != NULL && !fw_run_dir_write (rd, "embedding.csv", embed_csv, -1, error))
    return FALSE;
  g_autofree char *csv = metrics_csv (metrics);

  /* the model: measured on disk even when not kept */
  g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  /* one extra key only: the file's bytes must not depend on the order of a hash table */
  g_hash_table_insert (meta, (gpointer) "recipe", (gpointer) (r->name != NULL ? r->name : ""));
  gint64 model_bytes = -1;
  if (!fw_run_dir_save_model (rd, "model.safetensors", m, meta, &model_bytes, error))
    return FALSE;
  if (!r->save_model)
    {
      g_autofree char *model_path = fw_run_dir_path (rd, "model.safetensors");
      g_unlink (model_path);
    }

  g_autofree char *json = summary_json (r, m, d, metrics, test_eval, model_bytes,
                                        train_seconds);
  return fw_run_dir_write_recipe (rd, r, error)
         && fw_run_dir_write (rd, "metrics.csv", csv, -1, error)
         && fw_run_dir_write (rd, "summary.json", json, -1, error);
}

static char *
write_run_folder (const FwRecipe *r, FwModel *m, const Data *d, GArray *metrics,
                  const FwEvalResult *test_eval, double train_seconds, const char *embed_csv,
                  GError **error)
{
  g_autoptr (FwRunDir) rd = fw_run_dir_begin (r, error);
  if (rd == NULL)
    return NULL;
  if (!write_run_files (rd, r, m, d, metrics, test_eval, train_seconds, embed_csv, error))
    return NULL; /* freeing rd removes the partial files */
  return fw_run_dir_commit (g_steal_pointer (&rd), error);
}

/* ---- the whole run ---- */

/* co-teaching's epochs as the trainer's metrics (network a) */
typedef struct {
  GArray *metrics;
  const FwTrainHooks *hooks;
  FwDataset *val;
  FwModel *m;
  GCancellable *cancellable;
  const FwTrainConfig *cfg;
} CoteachHook;

static void
coteach_epoch (gpointer user, const FwCoteachEpoch *e)
{
  CoteachHook *ch = user;
  FwEpochMetrics em = { 0 };
  em.epoch = e->epoch;
  em.train_loss = e->train_loss;
  em.train_acc = NAN;
  em.val_loss = em.val_acc = NAN;
  if (ch->val != NULL)
    {
      g_autoptr (FwEvalResult) v = fw_evaluate (ch->m, ch->val, 1000, ch->cancellable, NULL);
      if (v != NULL)
        em.val_loss = v->loss, em.val_acc = v->accuracy;
    }
  em.test_acc = e->test_acc_a;
  em.lr = fw_train_lr_at (ch->cfg, e->epoch - 1);
  em.seconds = e->seconds;
  g_array_append_val (ch->metrics, em);
  if (ch->hooks != NULL && ch->hooks->epoch != NULL)
    ch->hooks->epoch (ch->hooks->user, &em);
}

/* ---- [output] embed_points: the embedding that follows training ---- */

void
fw_embed_frame_free (FwEmbedFrame *f)
{
  if (f == NULL)
    return;
  g_free (f->xy);
  g_free (f->index);
  g_free (f->label);
  g_free (f->pred);
  g_free (f);
}

/* wraps the job's hooks: after each epoch, one tracker update on the training thread */
typedef struct {
  const FwTrainHooks *inner;
  FwJob *job;
  FwModel *m;
  FwDataset *ds;            /* the samples' dataset */
  FwEmbedTracker *tracker;
  GString *csv;             /* epoch,index,label,pred,x,y */
  GCancellable *cancellable;
  GError **error;           /* the first failure (training goes on without the embedding) */
} EmbedHook;

static void
embed_hook_batch (gpointer user, int epoch, int n_epochs, int batch, int n_batches, double loss,
                  double acc)
{
  EmbedHook *eh = user;
  if (eh->inner != NULL && eh->inner->batch != NULL)
    eh->inner->batch (eh->inner->user, epoch, n_epochs, batch, n_batches, loss, acc);
}

static void
embed_hook_epoch (gpointer user, const FwEpochMetrics *em)
{
  EmbedHook *eh = user;
  if (eh->inner != NULL && eh->inner->epoch != NULL)
    eh->inner->epoch (eh->inner->user, em);
  if (*eh->error != NULL)
    return;
  if (!fw_embed_tracker_update (eh->tracker, eh->m, eh->cancellable, eh->error))
    {
      if (!g_cancellable_is_cancelled (eh->cancellable))
        run_log (eh->job, "embedding stopped: %s", (*eh->error)->message);
      return;
    }
  int n = 0;
  const float *xy = fw_embed_tracker_layout (eh->tracker, &n);
  const gint32 *idx = fw_embed_tracker_indices (eh->tracker);
  FwEmbedFrame *f = g_new0 (FwEmbedFrame, 1);
  f->epoch = em->epoch;
  f->n = n;
  f->xy = g_memdup2 (xy, sizeof (float) * 2 * n);
  f->index = g_memdup2 (idx, sizeof (gint32) * n);
  f->label = g_new (gint32, n);
  f->pred = g_new (gint32, n);
  gsize size = fw_shape_size (eh->ds->shape);
  g_autofree float *x = g_new (float, (gsize) n * size);
  for (int i = 0; i < n; i++)
    {
      f->label[i] = eh->ds->y[idx[i]];
      memcpy (x + (gsize) i * size, eh->ds->x + (gsize) idx[i] * size, sizeof (float) * size);
    }
  fw_model_predict (eh->m, x, n, 256, f->pred);
  for (int i = 0; i < n; i++)
    g_string_append_printf (eh->csv, "%d,%d,%d,%d,%.5g,%.5g\n", f->epoch, f->index[i],
                            f->label[i], f->pred[i], f->xy[2 * i], f->xy[2 * i + 1]);
  if (eh->job != NULL)
    fw_job_emit_snapshot (eh->job, "embed-frame", f, (GDestroyNotify) fw_embed_frame_free);
  else
    fw_embed_frame_free (f);
}

static FwRunResult *
recipe_run_data (const FwRecipe *r, FwJob *job, const FwTrainHooks *hooks, Data *d,
                 GCancellable *cancellable, GError **error)
{
  double t_start = fw_now ();
  fw_blas_set_threads (MAX (r->threads, 1));

  if (!load_data (r, job, cancellable, d, error) || !check_cancel (cancellable, error))
    return NULL;
  g_autoptr (FwModel) m = build_model (r, job, d->train, error);
  if (m == NULL)
    return NULL;

  FwTrainConfig cfg = r->train;
  cfg.seed = r->seed;
  /* [data] augment: validated when the recipe was loaded */
  g_autoptr (FwAugPipeline) augment = NULL;
  if (r->augment != NULL && *r->augment != '\0')
    {
      augment = fw_aug_pipeline_parse (r->augment, error);
      if (augment == NULL)
        return NULL;
      cfg.augment = augment;
      g_autofree char *text = fw_aug_pipeline_to_string (augment);
      run_log (job, "augmentation on the fly: %s", text);
    }
  FwTrainHooks job_hooks;
  if (job != NULL)
    {
      fw_job_train_hooks_init (&job_hooks, job);
      hooks = &job_hooks;
    }
  /* [output] embed_points: t-SNE of test (else validation) samples after every epoch */
  g_autoptr (FwEmbedTracker) tracker = NULL;
  g_autoptr (GString) embed_csv = NULL;
  g_autoptr (GError) embed_error = NULL;
  EmbedHook eh = { hooks, job, m, NULL, NULL, NULL, cancellable, &embed_error };
  FwTrainHooks embed_hooks = { embed_hook_batch, embed_hook_epoch, &eh };
  FwDataset *embed_ds = d->test != NULL ? d->test : d->val;
  if (r->embed_points > 0 && embed_ds != NULL && !r->coteaching && m->n_layers > 1)
    {
      eh.ds = embed_ds;
      eh.tracker = tracker = fw_embed_tracker_new (embed_ds, MIN (r->embed_points,
                                                                  embed_ds->n), -2, r->seed,
                                                   NULL, 250);
      eh.csv = embed_csv = g_string_new ("epoch,index,label,pred,x,y\n");
      hooks = &embed_hooks;
      run_log (job, "embedding %d %s samples after every epoch", MIN (r->embed_points,
               embed_ds->n), embed_ds == d->test ? "test" : "validation");
    }
  else if (r->embed_points > 0)
    run_log (job, "[output] embed_points: no embedding (%s)",
             embed_ds == NULL ? "no test or validation set"
             : r->coteaching ? "not with co-teaching" : "the model has one layer");
  run_log (job, "training: %d epochs, batch %d, lr %g, %d thread%s, seed %" G_GUINT64_FORMAT,
           cfg.epochs, cfg.batch, cfg.lr, r->threads, r->threads == 1 ? "" : "s", r->seed);
  g_autoptr (GArray) metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  double t0 = fw_now ();
  if (r->coteaching)
    {
      /* the peer network: the same architecture, another initialisation */
      g_autoptr (FwModel) peer = fw_model_copy (m);
      if (r->init == NULL || *r->init == '\0')
        fw_model_init (peer, r->seed + 0x9e3779b97f4a7c15ull);
      FwCoteachConfig ct = { .tau = r->forget_rate, .tk = r->forget_epochs };
      CoteachHook ch = { metrics, hooks, d->val, m, cancellable, &cfg };
      run_log (job, "co-teaching: forget rate %g reached after %d epochs", ct.tau, ct.tk);
      if (!fw_train_coteaching (m, peer, &cfg, &ct, d->train, d->y_true, d->test,
                                coteach_epoch, &ch, cancellable, NULL, error))
        return NULL;
    }
  else if (!fw_train (m, &cfg, d->train, d->val, d->test, hooks, cancellable, metrics, error))
    return NULL;
  double train_seconds = fw_now () - t0;
  if (!check_cancel (cancellable, error))
    return NULL;

  g_autoptr (FwEvalResult) test_eval = NULL;
  if (d->test != NULL)
    {
      test_eval = fw_evaluate (m, d->test, MAX (cfg.batch, 256), cancellable, error);
      if (test_eval == NULL)
        return NULL;
      run_log (job, "test accuracy %.2f%% on %d samples", 100.0 * test_eval->accuracy,
               d->test->n);
    }
  /* the last chance to cancel: after this the files are written */
  if (!check_cancel (cancellable, error))
    return NULL;

  g_autofree char *dir = write_run_folder (r, m, d, metrics, test_eval, train_seconds,
                                           embed_csv != NULL ? embed_csv->str : NULL, error);
  if (dir == NULL)
    return NULL;
  g_autofree char *took = fw_format_seconds (fw_now () - t_start);
  run_log (job, "run folder %s written (%s in all)", dir, took);

  FwRunResult *res = g_new0 (FwRunResult, 1);
  res->run_dir = g_steal_pointer (&dir);
  res->model = g_steal_pointer (&m);
  res->metrics = g_steal_pointer (&metrics);
  res->test_eval = g_steal_pointer (&test_eval);
  res->test = d->test != NULL ? fw_dataset_ref (d->test) : NULL;
  res->train_seconds = train_seconds;
  return res;
}

static FwRunResult *
recipe_run (const FwRecipe *r, FwJob *job, const FwTrainHooks *hooks,
            GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (r != NULL, NULL);
  Data d = { 0 };
  FwRunResult *res = recipe_run_data (r, job, hooks, &d, cancellable, error);
  data_clear (&d);
  return res;
}

FwRunResult *
fw_recipe_run_sync (const FwRecipe *r, const FwTrainHooks *hooks, GCancellable *cancellable,
                    GError **error)
{
  return recipe_run (r, NULL, hooks, cancellable, error);
}

gboolean
fw_recipe_job_run (FwJob *job, gpointer recipe, GCancellable *cancellable, GError **error)
{
  FwRunResult *res = recipe_run (recipe, job, NULL, cancellable, error);
  if (res == NULL)
    return FALSE;
  fw_job_emit_snapshot (job, "run", res, (GDestroyNotify) fw_run_result_free);
  return TRUE;
}

gboolean
fw_recipe_load_datasets (const FwRecipe *r, FwJob *job, GCancellable *cancellable,
                         FwDataset **train, FwDataset **val, FwDataset **test, GError **error)
{
  Data d = { 0 };
  gboolean ok = load_data (r, job, cancellable, &d, error);
  if (ok)
    {
      *train = g_steal_pointer (&d.train);
      *val = g_steal_pointer (&d.val);
      *test = g_steal_pointer (&d.test);
    }
  data_clear (&d);
  return ok;
}

FwModel *
fw_recipe_build_model (const FwRecipe *r, FwJob *job, const FwDataset *train, GError **error)
{
  return build_model (r, job, train, error);
}
