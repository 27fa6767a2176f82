/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-decomp-job.c: the [decompose] recipe group: decompose a trained model at one rank or a
 * sweep of ranks, measure each result as stored (parameters, file bytes, FLOPs, test
 * accuracy), optionally fine-tune it in factored form, and write the run folder. */
#include <math.h>
#include <string.h>

#include "fw-decomp-private.h"
#include "fw-distill.h"
#include "fw-error.h"
#include "fw-recipe-ext.h"
#include "fw-run-dir.h"
#include "fw-safetensors.h"

#define G "decompose"

static const char *const decomp_keys[] = {
  "model", "method", "rank", "ranks", "energy", "iters", "modes", "layers", "min_weights",
  "finetune_epochs", "curve_points", NULL,
};

static void
curve_free (gpointer p)
{
  FwDecompCurve *c = p;
  g_free (c->name);
  g_free (c);
}

static void
point_clear (gpointer p)
{
  FwDecompPoint *pt = p;
  g_free (pt->ranks);
  g_free (pt->file);
}

void
fw_decomp_result_free (FwDecompResult *r)
{
  if (r == NULL)
    return;
  g_free (r->run_dir);
  g_free (r->model_path);
  g_clear_pointer (&r->points, g_array_unref);
  g_clear_pointer (&r->curves, g_ptr_array_unref);
  g_free (r);
}

static const char *
recipe_file (const FwRecipe *r)
{
  return r->path != NULL ? r->path : r->name;
}

static gint64
saved_bytes (FwRunDir *rd, const char *file, const FwModel *m, const char *method,
             GError **error)
{
  gint64 bytes = -1;
  return fw_run_dir_save_model_as (rd, file, m, method, &bytes, error) ? bytes : -1;
}

static double
accuracy (FwModel *m, FwDataset *test, GCancellable *c, GError **error)
{
  if (test == NULL)
    return NAN;
  g_autoptr (FwEvalResult) e = fw_evaluate (m, test, 256, c, error);
  return e != NULL ? e->accuracy : -1;
}

static void
csv_num (GString *s, double v, gboolean last)
{
  if (isnan (v))
    g_string_append (s, last ? "\n" : ",");
  else
    g_string_append_printf (s, last ? "%.6g\n" : "%.6g,", v);
}

FwDecompResult *
fw_decomp_run (const FwRecipe *r, FwJob *job, GCancellable *cancellable, GError **error)
{
  FwDecompConfig cfg;
  fw_decomp_config_defaults (&cfg);
  g_autofree char *model_path = fw_recipe_ext_get_string (r, G, "model", "");
  g_autofree char *method = fw_recipe_ext_get_string (r, G, "method", "svd");
  int ft_epochs, curve_points;
  if (!fw_decomp_method_parse (method, &cfg.method, error))
    {
      g_prefix_error (error, "%s: [decompose] method: ", recipe_file (r));
      return NULL;
    }
  cfg.layers = fw_recipe_ext_get_string (r, G, "layers", "");
  gboolean ok = fw_recipe_ext_get_int (r, G, "rank", 0, 0, 4096, &cfg.rank, error)
    && fw_recipe_ext_get_double (r, G, "energy", 0.9, 1e-6, 1, &cfg.energy, error)
    && fw_recipe_ext_get_int (r, G, "iters", -1, -1, 1000, &cfg.iters, error)
    && fw_recipe_ext_get_int (r, G, "modes", 0, 0, 6, &cfg.modes, error)
    && fw_recipe_ext_get_int (r, G, "min_weights", 1000, 0, G_MAXINT, &cfg.min_weights, error)
    && fw_recipe_ext_get_int (r, G, "finetune_epochs", 0, 0, 1000, &ft_epochs, error)
    && fw_recipe_ext_get_int (r, G, "curve_points", 12, 0, 32, &curve_points, error);
  g_autofree char *ranks_text = fw_recipe_ext_get_string (r, G, "ranks", "");
  g_autoptr (GArray) ranks = !ok ? NULL
    : *ranks_text != '\0' ? fw_recipe_ext_get_int_list (r, G, "ranks", "", 1, 4096, error)
                           : g_array_new (FALSE, FALSE, sizeof (int));
  if (!ok || ranks == NULL)
    {
      fw_decomp_config_clear (&cfg);
      return NULL;
    }
  if (ranks->len == 0)
    g_array_append_val (ranks, cfg.rank);
  cfg.seed = r->seed;

  /* the original model: a file, or trained now from the recipe */
  g_autoptr (FwModel) m = NULL;
  g_autoptr (GError) local = NULL;
  if (*model_path != '\0')
    {
      m = fw_model_load (model_path, NULL, &local);
      if (m == NULL)
        g_set_error (error, local->domain, local->code, "%s: [decompose] model = %s: %s",
                     recipe_file (r), model_path, local->message);
    }
  else
    {
      if (job != NULL)
        fw_job_log (job, "no [decompose] model given: training one from the recipe first");
      g_autoptr (FwRunResult) base = fw_recipe_run_sync (r, NULL, cancellable, error);
      if (base != NULL)
        {
          m = fw_model_ref (base->model);
          g_free (model_path);
          model_path = g_build_filename (base->run_dir, "model.safetensors", NULL);
        }
    }
  g_autoptr (FwDataset) train = NULL, test = NULL;
  if (m == NULL || !fw_recipe_train_test (r, &train, &test, cancellable, error))
    {
      fw_decomp_config_clear (&cfg);
      return NULL;
    }

  g_autoptr (FwDecompResult) res = g_new0 (FwDecompResult, 1);
  res->method = cfg.method;
  res->model_path = g_strdup (model_path);
  res->points = g_array_new (FALSE, TRUE, sizeof (FwDecompPoint));
  g_array_set_clear_func (res->points, point_clear);
  res->curves = g_ptr_array_new_with_free_func (curve_free);
  g_autoptr (FwRunDir) rd = fw_run_dir_begin (r, error);
  ok = rd != NULL;
  if (ok)
    {
      res->base_params = fw_model_param_count (m);
      res->base_flops = fw_model_flops (m);
      res->base_bytes = saved_bytes (rd, "original.safetensors", m, "original", error);
      res->base_acc = accuracy (m, test, cancellable, error);
      ok = res->base_bytes >= 0 && res->base_acc >= 0;
    }
  if (ok && job != NULL)
    fw_job_log (job, "original: %zu parameters, %.2f%% test accuracy", res->base_params,
                100 * res->base_acc);

  /* reconstruction error vs rank of every layer the method applies to */
  for (int i = 0; ok && i < m->n_layers && curve_points > 1; i++)
    {
      const FwLayer *l = m->layers[i];
      if (!fw_decomp_applies (cfg.method, l) || l->n_w < (gsize) cfg.min_weights)
        continue;
      FwDecompCurve *c = g_new0 (FwDecompCurve, 1);
      g_autofree char *tok = l->klass->spec (l);
      c->layer = i;
      c->name = g_strdup_printf ("%d: %s", i + 1, tok);
      c->n = fw_decomp_error_curve (m, i, cfg.method, MIN (curve_points, 32), c->ranks, c->errs,
                                    error);
      g_ptr_array_add (res->curves, c);
      ok = c->n > 0;
      if (job != NULL)
        fw_job_progress (job, 0.1 * (i + 1) / m->n_layers, 0, 0, 0, 0, NAN, NAN);
    }

  g_autoptr (GArray) report = NULL;
  for (guint p = 0; ok && p < ranks->len; p++)
    {
      cfg.rank = g_array_index (ranks, int, p);
      g_clear_pointer (&report, g_array_unref);
      report = fw_decomp_report_new ();
      g_autoptr (FwModel) d = fw_decompose_model (m, &cfg, report, cancellable, error);
      if (d == NULL)
        {
          g_prefix_error (error, "%s: [decompose] rank %d: ", recipe_file (r), cfg.rank);
          ok = FALSE;
          break;
        }
      FwDecompPoint pt = { .rank = cfg.rank, .acc_ft = NAN };
      g_autoptr (GString) rs = g_string_new (NULL);
      for (guint q = 0; q < report->len; q++)
        {
          const FwDecompLayer *row = &g_array_index (report, FwDecompLayer, q);
          if (!row->decomposed)
            continue;
          g_string_append_printf (rs, "%s%s", rs->len ? " " : "", row->ranks);
          pt.rel_error = MAX (pt.rel_error, row->rel_error);
        }
      pt.ranks = g_string_free (g_steal_pointer (&rs), FALSE);
      pt.params = fw_model_param_count (d);
      pt.flops = fw_model_flops (d);
      pt.acc = accuracy (d, test, cancellable, error);
      ok = pt.acc >= 0;
      if (ok && ft_epochs > 0)
        {
          FwTrainConfig tc = r->train;
          tc.epochs = ft_epochs;
          tc.seed = r->seed;
          FwTrainHooks hooks;
          if (job != NULL)
            fw_job_train_hooks_init (&hooks, job);
          ok = fw_train (d, &tc, train, NULL, NULL, job != NULL ? &hooks : NULL, cancellable,
                         NULL, error)
               && (pt.acc_ft = accuracy (d, test, cancellable, error)) >= 0;
        }
      pt.file = ranks->len == 1 ? g_strdup ("model.safetensors")
                                : g_strdup_printf ("model-%s%d.safetensors",
                                                   cfg.rank > 0 ? "r" : "e", cfg.rank);
      if (ok)
        {
          g_autofree char *how = g_strdup_printf ("%s %s", fw_decomp_method_name (cfg.method),
                                                  pt.ranks);
          ok = (pt.bytes = saved_bytes (rd, pt.file, d, how, error)) >= 0;
        }
      if (ok && job != NULL)
        {
          fw_job_log (job, "rank %s: %zu parameters (%.1fx fewer), %.2f%% accuracy%s", pt.ranks,
                      pt.params, (double) res->base_params / pt.params, 100 * pt.acc,
                      isnan (pt.acc_ft) ? "" : " before fine-tuning");
          if (!isnan (pt.acc_ft))
            fw_job_log (job, "  after %d fine-tuning epochs: %.2f%%", ft_epochs, 100 * pt.acc_ft);
          fw_job_progress (job, 0.1 + 0.9 * (p + 1) / ranks->len, 0, 0, 0, 0, NAN, pt.acc);
        }
      g_array_append_val (res->points, pt);
    }
  fw_decomp_config_clear (&cfg);
  if (!ok)
    return NULL;

  /* the run folder */
  g_autoptr (GString) csv = g_string_new ("rank,ranks,params,bytes,flops,compression,"
                                          "flops_ratio,max_rel_error,accuracy,"
                                          "accuracy_finetuned,file\n");
  g_string_append_printf (csv, "full,,%zu,%" G_GINT64_FORMAT ",%.6g,1,1,0,%.6g,,"
                          "original.safetensors\n", res->base_params, res->base_bytes,
                          res->base_flops, res->base_acc);
  for (guint p = 0; p < res->points->len; p++)
    {
      const FwDecompPoint *pt = &g_array_index (res->points, FwDecompPoint, p);
      g_string_append_printf (csv, "%d,%s,%zu,%" G_GINT64_FORMAT ",%.6g,%.4f,%.4f,", pt->rank,
                              pt->ranks, pt->params, pt->bytes, pt->flops,
                              (double) res->base_bytes / pt->bytes, res->base_flops / pt->flops);
      csv_num (csv, pt->rel_error, FALSE);
      csv_num (csv, pt->acc, FALSE);
      csv_num (csv, pt->acc_ft, FALSE);
      g_string_append_printf (csv, "%s\n", pt->file);
    }
  g_autoptr (GString) cv = g_string_new ("layer,rank,rel_error\n");
  for (guint c = 0; c < res->curves->len; c++)
    {
      const FwDecompCurve *cu = g_ptr_array_index (res->curves, c);
      for (int i = 0; i < cu->n; i++)
        g_string_append_printf (cv, "%d,%d,%.6g\n", cu->layer + 1, cu->ranks[i], cu->errs[i]);
    }
  g_autoptr (GString) lc = g_string_new ("layer,before,after,ranks,params_before,params_after,"
                                         "flops_before,flops_after,rel_error,note\n");
  for (guint q = 0; report != NULL && q < report->len; q++)
    {
      const FwDecompLayer *row = &g_array_index (report, FwDecompLayer, q);
      g_string_append_printf (lc, "%d,\"%s\",\"%s\",%s,%zu,%zu,%.6g,%.6g,%.6g,\"%s\"\n",
                              row->layer + 1, row->before, row->after, row->ranks,
                              row->params_before, row->params_after, row->flops_before,
                              row->flops_after, row->rel_error, row->note ? row->note : "");
    }
  g_autoptr (GString) js = g_string_new ("{\n");
  g_string_append_printf (js, "  \"method\": \"%s\",\n  \"model\": \"%s\",\n"
                          "  \"original\": {\"params\": %zu, \"bytes\": %" G_GINT64_FORMAT
                          ", \"flops\": %.6g, \"accuracy\": %.6f},\n  \"points\": [\n",
                          fw_decomp_method_name (res->method), res->model_path, res->base_params,
                          res->base_bytes, res->base_flops, res->base_acc);
  for (guint p = 0; p < res->points->len; p++)
    {
      const FwDecompPoint *pt = &g_array_index (res->points, FwDecompPoint, p);
      char ft[32] = "null";
      if (!isnan (pt->acc_ft))
        g_snprintf (ft, sizeof ft, "%.6f", pt->acc_ft);
      g_string_append_printf (js, "    {\"rank\": %d, \"ranks\": \"%s\", \"params\": %zu, "
                              "\"bytes\": %" G_GINT64_FORMAT ", \"flops\": %.6g, "
                              "\"accuracy\": %.6f, \"accuracy_finetuned\": %s, \"file\": \"%s\"}%s\n",
                              pt->rank, pt->ranks, pt->params, pt->bytes, pt->flops, pt->acc,
                              ft,
                              pt->file, p + 1 < res->points->len ? "," : "");
    }
  g_string_append (js, "  ]\n}\n");
  if (!fw_run_dir_write (rd, "decompose.csv", csv->str, -1, error)
      || !fw_run_dir_write (rd, "curves.csv", cv->str, -1, error)
      || !fw_run_dir_write (rd, "layers.csv", lc->str, -1, error)
      || !fw_run_dir_write (rd, "summary.json", js->str, -1, error)
      || !fw_run_dir_write_recipe (rd, r, error))
    return NULL;
  res->run_dir = fw_run_dir_commit (g_steal_pointer (&rd), error);
  if (res->run_dir == NULL)
    return NULL;
  return g_steal_pointer (&res);
}

/* Text summary: one line per rank (the CLI prints it, the job's FINISHED event carries it). */
static char *
result_summary (const FwDecompResult *res)
{
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "run folder: %s\n", res->run_dir);
  g_string_append_printf (s, "original: %zu parameters, %" G_GINT64_FORMAT " bytes, %.2f%%\n",
                          res->base_params, res->base_bytes, 100 * res->base_acc);
  for (guint p = 0; p < res->points->len; p++)
    {
      const FwDecompPoint *pt = &g_array_index (res->points, FwDecompPoint, p);
      g_string_append_printf (s, "%s rank %s: %zu parameters, %" G_GINT64_FORMAT " bytes "
                              "(%.1fx smaller), %.1fx fewer FLOPs, %.2f%%",
                              fw_decomp_method_name (res->method), pt->ranks, pt->params,
                              pt->bytes, (double) res->base_bytes / pt->bytes,
                              res->base_flops / pt->flops, 100 * pt->acc);
      if (!isnan (pt->acc_ft))
        g_string_append_printf (s, ", fine-tuned %.2f%%", 100 * pt->acc_ft);
      g_string_append_c (s, '\n');
    }
  return g_string_free (s, FALSE);
}

char *
fw_decomp_result_summary (const FwDecompResult *res)
{
  return result_summary (res);
}

static gboolean
decomp_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  FwDecompResult *res = fw_decomp_run (data, job, cancellable, error);
  if (res == NULL)
    return FALSE;
  g_autofree char *s = result_summary (res);
  fw_job_set_summary (job, s);
  fw_job_emit_snapshot (job, "decompose", res, (GDestroyNotify) fw_decomp_result_free);
  return TRUE;
}

const FwRecipeExt fw_decompose_recipe_ext = {
  .group = G,
  .title = "Low-rank and tensor decompositions",
  .keys = decomp_keys,
  .run = decomp_job_run,
  .page = "compress",
};
