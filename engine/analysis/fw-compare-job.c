/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-compare-job.c: the measuring loop shared by the Compare page and the [compare] recipe job.
 *
 *   [compare] models = a.safetensors, b.safetensors   saved models (relative paths: from the
 *                                                     recipe's folder, else the working folder)
 *             baseline = 1                            the model deltas are taken against
 *             timing = true                           latency and throughput (the slow part)
 *             reps = 15                               timed repetitions (medians reported)
 * The test set is the [data] dataset's test split (the whole dataset when it has none).
 * The run folder: recipe.ini, compare.csv, compare.md, compare.tex, compare.txt, summary.json. */
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "fw-compare.h"
#include "fw-error.h"
#include "fw-recipe-ext.h"
#include "fw-run-dir.h"
#include "fw-safetensors.h"

FwDataset *
fw_compare_load_test (const char *spec, FwJob *job, GCancellable *cancellable, GError **error)
{
  GError *local = NULL;
  FwDataset *test = fw_dataset_load_test (spec, 1, cancellable, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return NULL;
    }
  if (test != NULL)
    return test;
  test = fw_dataset_load (spec, 1, cancellable, error);
  if (test != NULL && job != NULL)
    fw_job_log (job, "%s has no test split: the models are measured on the whole dataset",
                spec);
  return test;
}

typedef struct {
  FwJob *job;
  double start;
  int n;
} TimingProgress;

static void
timing_progress (gpointer user, double fraction)
{
  TimingProgress *tp = user;
  if (tp->job != NULL)
    fw_job_progress (tp->job, tp->start + (1 - tp->start) * fraction, tp->n, tp->n, 0, 0, NAN,
                     NAN);
}

FwCompareTable *
fw_compare_run_job (FwJob *job, const FwCompareInput *in, int n, const FwDataset *test,
                    const FwCompareOptions *opt, GCancellable *cancellable, GError **error)
{
  g_autoptr (FwCompareTable) t = fw_compare_table_new ((const char *const *) test->class_names,
                                                       test->n_classes);
  t->data_name = g_strdup (test->name);
  t->n_test = test->n;
  if (job != NULL)
    {
      FwCompareTable *start = fw_compare_table_new ((const char *const *) test->class_names,
                                                    test->n_classes);
      start->data_name = g_strdup (test->name);
      start->n_test = test->n;
      fw_job_emit_snapshot (job, "compare-start", start, (GDestroyNotify) fw_compare_table_free);
    }
  /* accuracy, sizes and FLOPs model by model; timing afterwards, all models side by side */
  FwCompareOptions eval_opt = *opt;
  eval_opt.measure_time = FALSE;
  double eval_share = opt->measure_time ? 0.3 : 1.0;
  for (int i = 0; i < n; i++)
    {
      if (job != NULL)
        {
          fw_job_progress (job, eval_share * i / n, i + 1, n, 0, 0, NAN, NAN);
          fw_job_log (job, "evaluating %s", in[i].name);
        }
      FwCompareRow *row = fw_compare_measure (t, in[i].name, in[i].kind, in[i].model,
                                              in[i].path, test, &eval_opt, cancellable, error);
      if (row == NULL)
        return NULL;
      if (job != NULL)
        fw_job_emit_snapshot (job, "compare-row", fw_compare_row_copy (row),
                              (GDestroyNotify) fw_compare_row_free);
    }
  if (opt->measure_time)
    {
      int big = MAX (opt->big_batch, 1);
      g_autofree float *x = fw_compare_timing_batch (test, big);
      g_autofree FwModel **models = g_new (FwModel *, (gsize) MAX (n, 1));
      double *times = g_new (double, 2 * (gsize) n);
      for (int i = 0; i < n; i++)
        models[i] = in[i].model;
      if (job != NULL)
        fw_job_log (job, "timing %d models side by side (%d rounds)", n, opt->reps);
      TimingProgress tp = { job, eval_share, n };
      if (!fw_compare_time_models (models, n, x, big, opt->reps, opt->min_rep_s, times,
                                   times + n, timing_progress, &tp, cancellable))
        {
          g_free (times);
          g_set_error (error, FW_ERROR, FW_ERROR_CANCELLED, "Timing cancelled");
          return NULL;
        }
      for (int i = 0; i < n; i++)
        {
          fw_compare_table_row (t, i)->latency_s = times[i];
          fw_compare_table_row (t, i)->throughput = times[n + i];
        }
      if (job != NULL)
        fw_job_emit_snapshot (job, "compare-times", times, g_free);
      else
        g_free (times);
    }
  if (job != NULL)
    fw_job_progress (job, 1.0, n, n, 0, 0, NAN, NAN);
  return g_steal_pointer (&t);
}

/* ---- the [compare] recipe job ---- */

static const char *const compare_keys[] = { "models", "baseline", "timing", "reps", NULL };

const FwRecipeExt fw_compare_recipe_ext = {
  .group = "compare",
  .title = "Compare board",
  .keys = compare_keys,
  .run = fw_compare_job_run,
  .page = "compare",
};

/* A model path of the recipe: as written when it exists, else relative to the recipe's folder. */
static char *
resolve_model (const FwRecipe *r, const char *p)
{
  if (g_path_is_absolute (p) || g_file_test (p, G_FILE_TEST_EXISTS) || r->path == NULL)
    return g_strdup (p);
  g_autofree char *dir = g_path_get_dirname (r->path);
  return g_build_filename (dir, p, NULL);
}

/* The name a model file shows as: its __metadata__ "name", else the file name without
 * .safetensors, or the run folder's name for a run's model.safetensors. */
char *
fw_compare_model_name (const char *path, GHashTable *meta)
{
  const char *given = meta != NULL ? g_hash_table_lookup (meta, "name") : NULL;
  if (given != NULL && *given != '\0')
    return g_strdup (given);
  g_autofree char *base = g_path_get_basename (path);
  if (g_strcmp0 (base, "model.safetensors") == 0)
    {
      g_autofree char *dir = g_path_get_dirname (path);
      g_autofree char *abs = g_canonicalize_filename (dir, NULL);
      return g_path_get_basename (abs);
    }
  if (g_str_has_suffix (base, ".safetensors"))
    base[strlen (base) - strlen (".safetensors")] = '\0';
  return g_steal_pointer (&base);
}

void
fw_compare_input_clear (FwCompareInput *in)
{
  g_free (in->name);
  g_free (in->kind);
  g_free (in->path);
  g_clear_pointer (&in->model, fw_model_unref);
}

gboolean
fw_compare_load_inputs (char **paths, GArray *inputs, GError **error)
{
  for (int i = 0; paths[i] != NULL; i++)
    {
      g_autoptr (GHashTable) meta = NULL;
      FwModel *m = fw_model_load (paths[i], &meta, error);
      if (m == NULL)
        return FALSE;
      /* what made it: "method" (most jobs), "compression" (quantize, cluster), "pruned" */
      const char *kind = NULL, *pruned = NULL;
      if (meta != NULL)
        {
          kind = g_hash_table_lookup (meta, "method");
          if (kind == NULL)
            kind = g_hash_table_lookup (meta, "compression");
          pruned = g_hash_table_lookup (meta, "pruned");
        }
      g_autofree char *pruned_kind = kind == NULL && pruned != NULL
                                       ? g_strdup_printf ("pruned (%s)", pruned) : NULL;
      FwCompareInput in = { fw_compare_model_name (paths[i], meta),
                            g_strdup (pruned_kind != NULL ? pruned_kind : kind),
                            g_strdup (paths[i]), m };
      g_array_append_val (inputs, in);
    }
  return TRUE;
}

static char *
summary_json (const FwCompareTable *t)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "test_set");
  json_builder_add_string_value (b, t->data_name != NULL ? t->data_name : "");
  json_builder_set_member_name (b, "test_images");
  json_builder_add_int_value (b, t->n_test);
  json_builder_set_member_name (b, "baseline");
  json_builder_add_string_value (b, fw_compare_table_row (t, t->baseline)->name);
  json_builder_set_member_name (b, "models");
  json_builder_begin_array (b);
  for (guint i = 0; i < t->rows->len; i++)
    {
      const FwCompareRow *r = fw_compare_table_row (t, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, r->name);
      json_builder_set_member_name (b, "file");
      json_builder_add_string_value (b, r->path != NULL ? r->path : "");
      json_builder_set_member_name (b, "accuracy");
      json_builder_add_double_value (b, r->accuracy);
      json_builder_set_member_name (b, "bytes_on_disk");
      json_builder_add_int_value (b, r->file_bytes);
      json_builder_set_member_name (b, "params_stored");
      json_builder_add_int_value (b, (gint64) r->params_stored);
      json_builder_set_member_name (b, "params_nonzero");
      json_builder_add_int_value (b, (gint64) r->params_nonzero);
      json_builder_set_member_name (b, "flops_per_image");
      json_builder_add_double_value (b, r->flops);
      if (isfinite (r->latency_s))
        {
          json_builder_set_member_name (b, "latency_batch1_s");
          json_builder_add_double_value (b, r->latency_s);
          json_builder_set_member_name (b, "throughput_images_per_s");
          json_builder_add_double_value (b, r->throughput);
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonGenerator) g = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (g, root);
  json_generator_set_pretty (g, TRUE);
  return json_generator_to_data (g, NULL);
}

gboolean
fw_compare_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  const FwRecipe *r = data;
  const char *file = r->path != NULL ? r->path : "recipe";
  g_autofree char *list = fw_recipe_ext_get_string (r, "compare", "models", "");
  g_auto (GStrv) parts = g_strsplit (list, ",", -1);
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; parts[i] != NULL; i++)
    if (*g_strstrip (parts[i]) != '\0')
      g_ptr_array_add (paths, resolve_model (r, parts[i]));
  g_ptr_array_add (paths, NULL);
  int n = (int) paths->len - 1;
  if (n < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "%s: [compare] models: name at least one saved model, e.g. models = "
                   "runs/mlp/model.safetensors, runs/pruned/model.safetensors", file);
      return FALSE;
    }
  int baseline, reps;
  gboolean timing;
  if (!fw_recipe_ext_get_int (r, "compare", "baseline", 1, 1, n, &baseline, error)
      || !fw_recipe_ext_get_int (r, "compare", "reps", 15, 1, 1001, &reps, error)
      || !fw_recipe_ext_get_bool (r, "compare", "timing", TRUE, &timing, error))
    return FALSE;
  if (r->dataset == NULL || *r->dataset == '\0')
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "%s: [data] dataset: name the dataset the models were trained on", file);
      return FALSE;
    }

  g_autoptr (GArray) inputs = g_array_new (FALSE, TRUE, sizeof (FwCompareInput));
  g_array_set_clear_func (inputs, (GDestroyNotify) fw_compare_input_clear);
  if (!fw_compare_load_inputs ((char **) paths->pdata, inputs, error))
    return FALSE;
  g_autoptr (FwDataset) test = fw_compare_load_test (r->dataset, job, cancellable, error);
  if (test == NULL)
    return FALSE;
  FwCompareOptions opt;
  fw_compare_options_init (&opt);
  opt.measure_time = timing;
  opt.reps = reps;
  g_autoptr (FwCompareTable) t = fw_compare_run_job (job, (FwCompareInput *) inputs->data, n,
                                                     test, &opt, cancellable, error);
  if (t == NULL)
    return FALSE;
  fw_compare_table_finish (t, baseline - 1);

  g_autoptr (FwRunDir) rd = fw_run_dir_begin (r, error);
  if (rd == NULL)
    return FALSE;
  static const struct { const char *name; FwTableFormat f; } outs[] = {
    { "compare.csv", FW_TABLE_CSV }, { "compare.md", FW_TABLE_MARKDOWN },
    { "compare.tex", FW_TABLE_LATEX }, { "compare.txt", FW_TABLE_TEXT },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (outs); i++)
    {
      g_autofree char *text = fw_compare_table_format (t, outs[i].f);
      if (!fw_run_dir_write (rd, outs[i].name, text, -1, error))
        return FALSE;
    }
  g_autofree char *json = summary_json (t);
  if (!fw_run_dir_write (rd, "summary.json", json, -1, error)
      || !fw_run_dir_write_recipe (rd, r, error))
    return FALSE;
  g_autofree char *dir = fw_run_dir_commit (g_steal_pointer (&rd), error);
  if (dir == NULL)
    return FALSE;
  g_autofree char *text = fw_compare_table_format (t, FW_TABLE_TEXT);
  fw_job_log (job, "%s", text);
  fw_job_log (job, "compare board written to %s", dir);
  return TRUE;
}
