/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-grow-job.c: the [grow] recipe group and its job: load the data per [data], build the
 * tiny start model per [model], grow it (fw_grow_run), write the run folder:
 *   recipe.ini  growth.csv  summary.json  model.safetensors  fixed.safetensors
 * and emit SNAPSHOT "grow-step" (FwGrowPoint) per step and "grow" (FwGrowResult) at the end.
 *
 *   [grow]  method = tiny            tiny | gradmax | random
 *           budget = 20000           stop once the model has this many parameters
 *           max_steps = 20           growth steps at most
 *           epochs_per_step = 1      training epochs after each step (and before the first)
 *           final_epochs = 15        then this many more, the learning rate decaying to 0
 *           max_new = 8              neurons added per step at most
 *           lambda_rel = 0.1         TINY: keep lambda_k >= lambda_rel lambda_1
 *           stat_samples = 0         samples for the statistics and the line search
 *                                    (0: automatic, fw_grow_auto_stat_samples)
 *           min_rel_drop = 0.001     TINY: reject a step whose relative loss drop is below
 *           update_existing = true   TINY: also update the existing weights by gamma dW*
 *           fixed_baseline = true    also train the final architecture from scratch
 *           test_limit = 0           evaluate on at most this many test samples (0 = all)
 */
#include "fw-grow.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-gemm.h"
#include "fw-recipe-ext.h"
#include "fw-safetensors.h"
#include "fw-util.h"

static const char *const grow_keys[] = {
  "method", "budget", "max_steps", "epochs_per_step", "final_epochs", "max_new", "lambda_rel",
  "stat_samples", "min_rel_drop", "update_existing", "fixed_baseline", "test_limit", NULL,
};

const FwRecipeExt fw_grow_recipe_ext = {
  .group = "grow",
  .title = "Architecture growth",
  .keys = grow_keys,
  .run = fw_grow_job_run,
  .page = "grow",
};

static const char *const methods[] = { "tiny", "gradmax", "random", NULL };

gboolean
fw_grow_config_from_recipe (const FwRecipe *r, FwGrowConfig *c, int *test_limit,
                            GError **error)
{
  fw_grow_config_defaults (c);
  c->train = r->train;
  c->seed = r->seed;
  int method = 0, budget = 0, per = 0, stat = 0;
  gboolean ok =
    fw_recipe_ext_get_choice (r, "grow", "method", methods, 0, &method, error)
    && fw_recipe_ext_get_int (r, "grow", "budget", 20000, 10, 100000000, &budget, error)
    && fw_recipe_ext_get_int (r, "grow", "max_steps", 20, 0, 10000, &c->max_steps, error)
    && fw_recipe_ext_get_int (r, "grow", "epochs_per_step", 1, 1, 1000, &per, error)
    && fw_recipe_ext_get_int (r, "grow", "final_epochs", FW_GROW_DEFAULT_FINAL_EPOCHS, 0, 1000,
                              &c->final_epochs, error)
    && fw_recipe_ext_get_int (r, "grow", "max_new", 8, 1, 4096, &c->opt.max_new, error)
    && fw_recipe_ext_get_double (r, "grow", "lambda_rel", 0.1, 0.0, 1.0, &c->opt.lambda_rel,
                                 error)
    && fw_recipe_ext_get_int (r, "grow", "stat_samples", 0, 0, 1000000, &stat, error)
    && fw_recipe_ext_get_double (r, "grow", "min_rel_drop", 1e-3, 0.0, 1.0, &c->min_rel_drop,
                                 error)
    && fw_recipe_ext_get_bool (r, "grow", "update_existing", TRUE, &c->update_existing, error)
    && fw_recipe_ext_get_bool (r, "grow", "fixed_baseline", TRUE, &c->fixed_baseline, error)
    && fw_recipe_ext_get_int (r, "grow", "test_limit", 0, 0, G_MAXINT, test_limit, error);
  c->method = method;
  c->budget = (gsize) budget;
  c->epochs_per_step = per;
  c->stat_samples = stat;
  return ok;
}

static char *
recipe_file (const FwRecipe *r)
{
  return r->path != NULL ? g_path_get_basename (r->path)
                         : g_strdup_printf ("%s.ini", r->name != NULL ? r->name : "recipe");
}

/* Random subset of at most limit samples (all when limit is 0 or large enough). */
static FwDataset *
limit_dataset (FwDataset *ds, int limit, guint64 seed)
{
  if (limit <= 0 || limit >= ds->n)
    return fw_dataset_ref (ds);
  g_autofree gint32 *idx = g_new (gint32, ds->n);
  for (int i = 0; i < ds->n; i++)
    idx[i] = i;
  FwRng rng;
  fw_rng_init (&rng, seed);
  fw_rng_shuffle (&rng, idx, ds->n);
  return fw_dataset_subset (ds, idx, limit, ds->name);
}

static gboolean
load_data (const FwRecipe *r, int test_limit, FwDataset **train, FwDataset **test,
           GCancellable *cancellable, GError **error)
{
  g_autofree char *file = recipe_file (r);
  g_autoptr (GError) local = NULL;
  g_autoptr (FwDataset) all = fw_dataset_load (r->dataset, r->seed, cancellable, &local);
  if (all == NULL)
    {
      g_set_error (error, local->domain, local->code, "%s: [data] dataset = %s: %s", file,
                   r->dataset, local->message);
      return FALSE;
    }
  g_autoptr (FwDataset) pc = NULL;
  if (r->per_class > 0)
    pc = fw_dataset_per_class (all, r->per_class, r->seed, NULL);
  else
    pc = fw_dataset_ref (all);
  *train = limit_dataset (pc, r->train_limit, r->seed);
  g_autoptr (FwDataset) t = NULL;
  if (g_strcmp0 (r->test, "none") == 0)
    t = NULL;
  else if (r->test == NULL || g_strcmp0 (r->test, "auto") == 0)
    t = fw_dataset_load_test (r->dataset, r->seed, cancellable, &local);
  else
    t = fw_dataset_load (r->test, r->seed, cancellable, &local);
  if (local != NULL)
    {
      g_clear_pointer (train, fw_dataset_unref);
      g_set_error (error, local->domain, local->code, "%s: [data] test: %s", file,
                   local->message);
      return FALSE;
    }
  if (t != NULL && (fw_shape_size (t->shape) != fw_shape_size ((*train)->shape)
                    || t->n_classes != (*train)->n_classes))
    {
      g_clear_pointer (train, fw_dataset_unref);
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [data] test: the test set's samples "
                   "or classes differ from the training set's — give a test set of the same "
                   "kind", file);
      return FALSE;
    }
  *test = t != NULL ? limit_dataset (t, test_limit, r->seed + 1) : NULL;
  return TRUE;
}

static FwModel *
start_model (const FwRecipe *r, const FwDataset *train, GError **error)
{
  g_autofree char *file = recipe_file (r);
  g_autoptr (GError) local = NULL;
  g_autofree char *spec = g_strcmp0 (r->arch, "custom") == 0
                            ? g_strdup (r->spec)
                            : fw_model_arch_spec (r->arch, r->widths, train->shape,
                                                  train->n_classes, &local);
  g_autoptr (FwModel) m = spec != NULL ? fw_model_new (r->arch, spec, train->shape, &local)
                                       : NULL;
  if (m == NULL)
    {
      g_set_error (error, local->domain, local->code, "%s: [model]: %s", file, local->message);
      return NULL;
    }
  if (m->n_classes != train->n_classes)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [model] spec: the last layer gives "
                   "%d outputs, the dataset has %d classes — end the spec with dense:%d", file,
                   m->n_classes, train->n_classes, train->n_classes);
      return NULL;
    }
  FwGrowSite sites[FW_GROW_MAX_SITES];
  if (fw_grow_sites (m, sites, FW_GROW_MAX_SITES) == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [model]: %s has no place to grow — "
                   "[grow] needs two dense or conv layers with only activations or flatten "
                   "between them (e.g. arch = mlp, widths = 2,2)", file, m->spec);
      return NULL;
    }
  fw_model_init (m, r->seed);
  float mean = 0, std = 1;
  fw_dataset_stats (train, &mean, &std);
  m->in_mean = mean;
  m->in_std = std > 1e-6f ? std : 1.0f;
  m->class_names = g_strdupv (train->class_names);
  return g_steal_pointer (&m);
}

/* ---- the run folder ---- */

static void
csv_num (GString *s, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_string_append_c (s, ',');
  if (isfinite (v))
    g_string_append (s, g_ascii_formatd (buf, sizeof buf, "%.6g", v));
}

char *
fw_grow_points_csv (const FwGrowResult *res)
{
  GString *s = g_string_new ("method,step,params,test_acc,test_loss,train_loss,site,added,"
                             "gamma,loss_before,loss_after,first_order,widths,bottleneck,"
                             "seconds\n");
  for (guint i = 0; i < res->points->len; i++)
    {
      const FwGrowPoint *p = &g_array_index (res->points, FwGrowPoint, i);
      g_string_append_printf (s, "%s,%d,%zu", fw_grow_method_name (res->method), p->step,
                              p->params);
      csv_num (s, p->test_acc);
      csv_num (s, p->test_loss);
      csv_num (s, p->train_loss);
      g_string_append_printf (s, ",%d,%d", p->site, p->added);
      csv_num (s, p->gamma);
      csv_num (s, p->loss_before);
      csv_num (s, p->loss_after);
      csv_num (s, p->first_order);
      g_string_append_c (s, ',');
      for (int j = 0; j < p->n_widths; j++)
        g_string_append_printf (s, "%s%d", j ? "-" : "", p->widths[j]);
      g_string_append_c (s, ',');
      for (int j = 0; p->step > 0 && j < p->n_sites; j++)
        g_string_append_printf (s, "%s%.4f", j ? "-" : "", p->bottleneck[j]);
      csv_num (s, p->seconds);
      g_string_append_c (s, '\n');
    }
  /* the fixed-size baselines, step -1: the final architecture from scratch for the same
   * epochs and for the same training compute (one point each on a plot of test_acc vs
   * params with series = method) */
  if (res->fixed != NULL && res->points->len > 0)
    {
      const FwGrowPoint *last = &g_array_index (res->points, FwGrowPoint, res->points->len - 1);
      for (int b = 0; b < 2; b++)
        {
          g_string_append_printf (s, "%s,-1,%zu", b == 0 ? "fixed (same epochs)" : "fixed (same compute)",
                                  last->params);
          csv_num (s, b == 0 ? res->fixed_acc : res->fixed_compute_acc);
          csv_num (s, b == 0 ? res->fixed_loss : res->fixed_compute_loss);
          g_string_append (s, ",,-1,0,,,,,");
          for (int w = 0; w < last->n_widths; w++)
            g_string_append_printf (s, "%s%d", w ? "-" : "", last->widths[w]);
          g_string_append (s, ",,\n");
        }
    }
  return g_string_free (s, FALSE);
}

static char *
summary_json (const FwRecipe *r, const FwGrowResult *res)
{
  const FwGrowPoint *last = &g_array_index (res->points, FwGrowPoint, res->points->len - 1);
  const FwGrowPoint *first = &g_array_index (res->points, FwGrowPoint, 0);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
#define STR(k, v) (json_builder_set_member_name (b, k), json_builder_add_string_value (b, v))
#define INT(k, v) (json_builder_set_member_name (b, k), json_builder_add_int_value (b, v))
#define NUM(k, v) (json_builder_set_member_name (b, k), isfinite (v) \
                   ? json_builder_add_double_value (b, v) : json_builder_add_null_value (b))
  STR ("recipe", r->name != NULL ? r->name : "");
  STR ("dataset", r->dataset);
  STR ("method", fw_grow_method_name (res->method));
  STR ("spec_start", res->spec_start);
  STR ("spec", res->model->spec);
  INT ("params_start", (gint64) first->params);
  INT ("params", (gint64) last->params);
  INT ("steps", last->step - (res->final_epochs > 0 ? 1 : 0));
  INT ("epochs", res->total_epochs);
  INT ("final_epochs", res->final_epochs);
  NUM ("test_accuracy", last->test_acc);
  NUM ("test_loss", last->test_loss);
  NUM ("fixed_test_accuracy", res->fixed != NULL ? res->fixed_acc : NAN);
  NUM ("fixed_test_loss", res->fixed != NULL ? res->fixed_loss : NAN);
  INT ("fixed_compute_epochs", res->fixed != NULL ? res->fixed_compute_epochs : 0);
  NUM ("fixed_compute_test_accuracy", res->fixed != NULL ? res->fixed_compute_acc : NAN);
  NUM ("seconds", last->seconds);
  NUM ("train_gflops", res->train_flops / 1e9);
  NUM ("fixed_train_gflops", res->fixed != NULL ? res->fixed_train_flops / 1e9 : NAN);
  NUM ("grow_seconds", res->grow_seconds);
  NUM ("train_seconds", res->train_seconds);
  NUM ("fixed_seconds", res->fixed != NULL ? res->fixed_seconds : NAN);
#undef STR
#undef INT
#undef NUM
  json_builder_end_object (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

static const char *const run_files[] = {
  "recipe.ini", "growth.csv", "summary.json", "model.safetensors", "fixed.safetensors", NULL,
};

static gboolean
write_text (const char *dir, const char *name, const char *text, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) local = NULL;
  if (!g_file_set_contents (path, text, -1, &local))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "cannot write %s: %s — check the disk space "
                   "and permissions", path, local->message);
      return FALSE;
    }
  return TRUE;
}

/* Writes the files into a hidden partial folder next to the target, then renames it. */
static char *
write_run_folder (const FwRecipe *r, const FwGrowResult *res, GError **error)
{
  g_autofree char *dir = NULL;
  if (r->out_dir != NULL && *r->out_dir)
    dir = g_strdup (r->out_dir);
  else
    {
      g_autoptr (GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
      g_autofree char *base = g_strdup_printf ("%s-%s", r->name != NULL ? r->name : "grow",
                                               stamp);
      dir = g_build_filename ("runs", base, NULL);
    }
  g_autofree char *final = g_strdup (dir);
  for (int i = 2; g_file_test (final, G_FILE_TEST_EXISTS) && i < 1000; i++)
    {
      g_free (final);
      final = g_strdup_printf ("%s-%d", dir, i);
    }
  g_autofree char *parent = g_path_get_dirname (final);
  g_autofree char *base = g_path_get_basename (final);
  g_autofree char *partial = g_strdup_printf ("%s/.%s.partial-XXXXXX", parent, base);
  if (g_mkdir_with_parents (parent, 0755) != 0 || g_mkdtemp (partial) == NULL)
    {
      int e = errno;
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "[output] dir: cannot create a folder in %s: "
                   "%s — choose a writable folder", parent, g_strerror (e));
      return NULL;
    }
  g_autoptr (FwRecipe) resolved = fw_recipe_copy (r);
  g_free (resolved->out_dir);
  resolved->out_dir = g_strdup (final);
  g_autofree char *ini = fw_recipe_to_data (resolved);
  g_autofree char *csv = fw_grow_points_csv (res);
  g_autofree char *json = summary_json (r, res);
  g_autofree char *mpath = g_build_filename (partial, "model.safetensors", NULL);
  g_autofree char *fpath = g_build_filename (partial, "fixed.safetensors", NULL);
  /* what made each file: the compare board's "kind" */
  g_autofree char *grown = g_strdup_printf ("grown (%s)", fw_grow_method_name (res->method));
  g_autoptr (GHashTable) mmeta = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) fmeta = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (mmeta, (gpointer) "method", grown);
  g_hash_table_insert (fmeta, (gpointer) "method", (gpointer) "fixed size, from scratch");
  gboolean ok = write_text (partial, "recipe.ini", ini, error)
                && write_text (partial, "growth.csv", csv, error)
                && write_text (partial, "summary.json", json, error)
                && fw_model_save (res->model, mpath, mmeta, error)
                && (res->fixed == NULL || fw_model_save (res->fixed, fpath, fmeta, error));
  if (ok && g_rename (partial, final) != 0)
    {
      int e = errno;
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "cannot move %s to %s: %s", partial, final,
                   g_strerror (e));
      ok = FALSE;
    }
  if (!ok)
    {
      for (int i = 0; run_files[i] != NULL; i++)
        {
          g_autofree char *p = g_build_filename (partial, run_files[i], NULL);
          g_unlink (p);
        }
      g_rmdir (partial);
      return NULL;
    }
  return g_steal_pointer (&final);
}

static gboolean
recipe_sets_training (const FwRecipe *r)
{
  static const char *const keys[] = { "lr", "optimizer", "weight_decay" };
  for (guint i = 0; r->kf != NULL && i < G_N_ELEMENTS (keys); i++)
    if (g_key_file_has_key (r->kf, "train", keys[i], NULL))
      return TRUE;
  return FALSE;
}

gboolean
fw_grow_job_run (FwJob *job, gpointer recipe, GCancellable *cancellable, GError **error)
{
  const FwRecipe *r = recipe;
  FwGrowConfig cfg;
  int test_limit = 0;
  if (!fw_grow_config_from_recipe (r, &cfg, &test_limit, error))
    return FALSE;
  fw_blas_set_threads (r->threads);
  g_autoptr (FwDataset) train = NULL;
  g_autoptr (FwDataset) test = NULL;
  if (!load_data (r, test_limit, &train, &test, cancellable, error))
    return FALSE;
  /* a recipe that does not set the training (the CLI without a recipe, the Grow page, a
   * recipe file without [train] lr / optimizer / weight_decay): growth's defaults for this
   * training set's size, written into the run folder's recipe.ini */
  g_autoptr (FwRecipe) used = fw_recipe_copy (r);
  if (!recipe_sets_training (r))
    {
      fw_grow_train_defaults (&used->train, train->n);
      cfg.train = used->train;
    }
  r = used;
  g_autoptr (FwModel) start = start_model (r, train, error);
  if (start == NULL)
    return FALSE;
  if (job != NULL)
    fw_job_log (job, "grow (%s): %s on %s, %d train / %d test samples, budget %zu parameters "
                "(start %zu)", fw_grow_method_name (cfg.method), start->spec, r->dataset,
                train->n, test != NULL ? test->n : 0, cfg.budget, fw_model_param_count (start));
  g_autoptr (FwGrowResult) res = fw_grow_run (start, &cfg, train, test, job, cancellable, error);
  if (res == NULL)
    return FALSE;
  res->run_dir = write_run_folder (r, res, error);
  if (res->run_dir == NULL)
    return FALSE;
  if (job != NULL)
    {
      const FwGrowPoint *last = &g_array_index (res->points, FwGrowPoint, res->points->len - 1);
      g_autofree char *acc = g_strdup_printf ("%.1f%%", 100 * last->test_acc);
      g_autofree char *facc = res->fixed != NULL
                                ? g_strdup_printf ("%.1f%%", 100 * res->fixed_acc)
                                : g_strdup ("not run");
      g_autofree char *cmp = res->fixed != NULL
        ? g_strdup_printf ("\nfixed-size from scratch for the same compute (%d epochs): test "
                           "accuracy %.1f%%", res->fixed_compute_epochs,
                           100 * res->fixed_compute_acc)
        : g_strdup ("");
      g_autofree char *gf = fw_format_count (res->train_flops);
      g_autofree char *ff = fw_format_count (res->fixed_train_flops);
      g_autofree char *cost = res->fixed != NULL && res->fixed_train_flops > 0
        ? g_strdup_printf ("\ncompute: growing took %s FLOP of training (%.0f%% of the "
                           "fixed-size network's %s FLOP) in %.1f s, plus %.1f s for the growth "
                           "statistics; the fixed-size network %.1f s", gf,
                           100 * res->train_flops / res->fixed_train_flops, ff,
                           res->train_seconds, res->grow_seconds, res->fixed_seconds)
        : g_strdup_printf ("\ncompute: %s FLOP of training in %.1f s, plus %.1f s for the "
                           "growth statistics", gf, res->train_seconds, res->grow_seconds);
      g_autofree char *sum = g_strdup_printf (
        "run folder: %s\ngrown (%s): %s, %zu parameters, test accuracy %s\n"
        "fixed-size from scratch (%d epochs): test accuracy %s%s%s", res->run_dir,
        fw_grow_method_name (cfg.method), res->model->spec, last->params, acc,
        res->total_epochs, facc, cmp, cost);
      fw_job_set_summary (job, sum);
      fw_job_emit_snapshot (job, "grow", g_steal_pointer (&res),
                            (GDestroyNotify) fw_grow_result_free);
    }
  return TRUE;
}
