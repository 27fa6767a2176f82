/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-weak-job.c: [weak], [active] and [calibrate] recipe groups as jobs (see fw-weak-job.h). */
#include "fw-weak-job.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "fw-aug-sweep.h"
#include "fw-error.h"
#include "fw-gemm.h"
#include "fw-loss.h"
#include "fw-recipe-ext.h"
#include "fw-run-dir.h"
#include "fw-util.h"

static const char *const weak_keys[] = {
  "methods", "per_class", "unlabelled", "test_limit", "seeds", "encoder", "hidden", "dim",
  "pretrain_epochs", "pretrain_lr", "pretrain_batch", "finetune_epochs", "finetune_lr",
  "finetune_batch", "probe_epochs", "views", "vic_inv", "vic_var", "vic_cov", "var_target",
  "proj_dim", "dino_tau_s", "dino_tau_t", "dino_ema", "dino_center_m", "dino_centre",
  "clusters", "mask", "rounds", "threshold", "topk", NULL,
};
static const char *const active_keys[] = {
  "strategies", "start_per_class", "batch", "rounds", "pool", "seeds", "epochs", "lr", "hidden",
  "test_limit", NULL,
};
static const char *const calibrate_keys[] = {
  "per_class", "val_per_class", "epochs", "lr", "hidden", "bins", "check_size", "shift_class",
  "shift_fraction", "test_limit", NULL,
};

const FwRecipeExt fw_weak_recipe_ext = {
  "weak", "Few labels", weak_keys, fw_weak_job_run, "weak",
};
const FwRecipeExt fw_active_recipe_ext = {
  "active", "Active learning", active_keys, fw_active_job_run, "weak",
};
const FwRecipeExt fw_calibrate_recipe_ext = {
  "calibrate", "Calibration and class proportions", calibrate_keys, fw_calibrate_job_run,
  "weak",
};

static void G_GNUC_PRINTF (2, 3)
job_log (FwJob *job, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (job != NULL)
    fw_job_log (job, "%s", msg);
  else
    g_printerr ("%s\n", msg);
}

static const char *
recipe_file (const FwRecipe *r)
{
  return r->path != NULL ? r->path : r->name != NULL ? r->name : "recipe";
}

static gboolean
load_data (const FwRecipe *r, int test_limit, FwDataset **train, FwDataset **test,
           GCancellable *cancellable, GError **error)
{
  g_autoptr (FwDataset) all = fw_dataset_load (r->dataset, r->seed, cancellable, error);
  if (all == NULL || !fw_aug_sweep_load_test (all, r->dataset, train, test, cancellable, error))
    return FALSE;
  if (test_limit > 0 && test_limit < (*test)->n)
    {
      g_autoptr (FwDataset) t = NULL;
      fw_dataset_split (*test, (double) test_limit / (*test)->n, r->seed, &t, NULL);
      fw_dataset_unref (*test);
      *test = g_steal_pointer (&t);
    }
  return TRUE;
}

/* "a,b,c" or "all" into flags[n] through lookup(name) -> index or -1 */
static gboolean
parse_names (const FwRecipe *r, const char *group, const char *key, const char *text, int n,
             int (*lookup) (const char *), const char *valid, gboolean *flags, GError **error)
{
  memset (flags, 0, sizeof (gboolean) * n);
  if (g_strcmp0 (g_strstrip ((char *) text), "all") == 0)
    {
      for (int i = 0; i < n; i++)
        flags[i] = TRUE;
      return TRUE;
    }
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  int count = 0;
  for (int i = 0; parts[i] != NULL; i++)
    {
      const char *name = g_strstrip (parts[i]);
      if (*name == '\0')
        continue;
      int idx = lookup (name);
      if (idx < 0)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "%s: [%s] %s: '%s' is not one of %s (or all)", recipe_file (r), group,
                       key, name, valid);
          return FALSE;
        }
      flags[idx] = TRUE;
      count++;
    }
  if (count == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [%s] %s is empty; name at least one "
                   "of %s", recipe_file (r), group, key, valid);
      return FALSE;
    }
  return TRUE;
}

static int
method_lookup (const char *s)
{
  FwWeakMethod m;
  return fw_weak_method_from_string (s, &m) ? (int) m : -1;
}

static int
query_lookup (const char *s)
{
  FwQueryStrategy q;
  return fw_query_from_string (s, &q) ? (int) q : -1;
}

#define GET_INT(g, key, def, lo, hi, dst) \
  if (!fw_recipe_ext_get_int (r, g, key, def, lo, hi, &(dst), error)) return NULL
#define GET_DBL(g, key, def, lo, hi, dst) \
  if (!fw_recipe_ext_get_double (r, g, key, def, lo, hi, &(dst), error)) return NULL

FwWeakConfig *
fw_weak_config_from_recipe (const FwRecipe *r, FwDataset *train, FwDataset *test,
                            gboolean *methods, GError **error)
{
  const char *G = "weak";
  g_autoptr (FwWeakConfig) c = fw_weak_config_new (train, test);
  static const char *const encoders[] = { "dense", "conv", NULL };
  int enc = 0, i;
  g_autofree char *mtext = fw_recipe_ext_get_string (r, G, "methods",
                                                     "supervised,ae,rotation,vicreg,selftrain");
  gboolean local[FW_WEAK_N_METHODS];
  if (!parse_names (r, G, "methods", mtext, FW_WEAK_N_METHODS, method_lookup,
                    "supervised, ae, rotation, masked, vicreg, dino, clusterfit, selftrain",
                    methods != NULL ? methods : local, error))
    return NULL;
  GET_INT (G, "per_class", r->per_class > 0 ? r->per_class : 10, 1, 100000, c->per_class);
  GET_INT (G, "unlabelled", 5000, 0, 10000000, c->unlabelled);
  GET_INT (G, "test_limit", 0, 0, 10000000, c->test_limit);
  GET_INT (G, "seeds", 3, 1, 100, c->seeds);
  if (!fw_recipe_ext_get_choice (r, G, "encoder", encoders, 0, &enc, error))
    return NULL;
  c->conv = enc == 1;
  GET_INT (G, "hidden", 256, 1, 100000, c->hidden);
  GET_INT (G, "dim", 64, 1, 100000, c->dim);
  GET_INT (G, "pretrain_epochs", 10, 1, 100000, c->pre.epochs);
  GET_DBL (G, "pretrain_lr", 1e-3, 1e-7, 10, c->pre.lr);
  GET_INT (G, "pretrain_batch", 128, 2, 100000, c->pre.batch);
  GET_INT (G, "finetune_epochs", 60, 1, 100000, c->fine.epochs);
  GET_DBL (G, "finetune_lr", 1e-3, 1e-7, 10, c->fine.lr);
  GET_INT (G, "finetune_batch", 32, 1, 100000, c->fine.batch);
  GET_INT (G, "probe_epochs", 100, 1, 100000, c->probe_epochs);
  g_autofree char *views = fw_recipe_ext_get_string (r, G, "views", FW_WEAK_DEFAULT_VIEWS);
  g_autoptr (GError) verr = NULL;
  FwAugPipeline *p = fw_aug_pipeline_parse (views, &verr);
  if (p == NULL || !fw_aug_pipeline_check (p, train->shape.c, &verr))
    {
      g_clear_pointer (&p, fw_aug_pipeline_free);
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [weak] views: %s", recipe_file (r),
                   verr->message);
      return NULL;
    }
  fw_aug_pipeline_free (c->views);
  c->views = p;
  GET_DBL (G, "vic_inv", 25, 0, 1e6, c->vicreg.lambda);
  GET_DBL (G, "vic_var", 25, 0, 1e6, c->vicreg.mu);
  GET_DBL (G, "vic_cov", 1, 0, 1e6, c->vicreg.nu);
  GET_DBL (G, "var_target", 1, 0, 1e6, c->vicreg.gamma);
  GET_INT (G, "proj_dim", 64, 2, 100000, c->proj_dim);
  GET_DBL (G, "dino_tau_s", 0.1, 1e-3, 100, c->dino_tau_s);
  GET_DBL (G, "dino_tau_t", 0.04, 1e-3, 100, c->dino_tau_t);
  GET_DBL (G, "dino_ema", 0.99, 0, 1, c->dino_ema);
  GET_DBL (G, "dino_center_m", 0.9, 0, 1, c->dino_center_m);
  if (!fw_recipe_ext_get_bool (r, G, "dino_centre", TRUE, &c->dino_centre, error))
    return NULL;
  GET_INT (G, "clusters", 50, 2, 100000, c->clusters);
  GET_INT (G, "mask", 10, 1, 10000, c->mask);
  GET_INT (G, "rounds", 5, 1, 1000, c->rounds);
  GET_DBL (G, "threshold", 0.9, 0, 1, c->threshold);
  GET_INT (G, "topk", 0, 0, 10000000, i);
  c->topk = i;
  c->base_seed = r->seed;
  c->threads = r->threads;
  return g_steal_pointer (&c);
}

FwActiveConfig *
fw_active_config_from_recipe (const FwRecipe *r, FwDataset *train, FwDataset *test,
                              GError **error)
{
  const char *G = "active";
  g_autoptr (FwActiveConfig) c = fw_active_config_new (train, test);
  g_autofree char *stext = fw_recipe_ext_get_string (r, G, "strategies", "all");
  if (!parse_names (r, G, "strategies", stext, FW_QUERY_N, query_lookup,
                    "least-confidence, margin, entropy, coreset, random", c->strategies, error))
    return NULL;
  int hidden;
  GET_INT (G, "start_per_class", 2, 1, 100000, c->start_per_class);
  GET_INT (G, "batch", 20, 1, 100000, c->batch);
  GET_INT (G, "rounds", 8, 0, 10000, c->rounds);
  GET_INT (G, "pool", 3000, 0, 10000000, c->pool);
  GET_INT (G, "seeds", 1, 1, 100, c->seeds);
  GET_INT (G, "epochs", 40, 1, 100000, c->cfg.epochs);
  GET_DBL (G, "lr", 1e-3, 1e-7, 10, c->cfg.lr);
  GET_INT (G, "hidden", 256, 1, 100000, hidden);
  c->spec = g_strdup_printf ("flatten,dense:%d,relu,dense:%d", hidden, train->n_classes);
  c->base_seed = r->seed;
  c->threads = r->threads;
  return g_steal_pointer (&c);
}

/* ---- [weak] ---- */

typedef struct {
  FwJob *job;
  FwWeakMethod method;
  int seed;
  int done, total;
  GString *pretext_csv, *selftrain_csv;
} WeakRun;

static void
weak_epoch (gpointer user, const char *phase, int epoch, int n_epochs, double loss)
{
  WeakRun *w = user;
  gboolean pretext = strcmp (phase, "probe") != 0 && strcmp (phase, "fine-tune") != 0
                     && strcmp (phase, "supervised") != 0 && strncmp (phase, "round", 5) != 0;
  if (pretext)
    g_string_append_printf (w->pretext_csv, "%s,%d,%s,%d,%.6g\n",
                            fw_weak_method_name (w->method), w->seed + 1, phase, epoch, loss);
  if (w->job == NULL)
    return;
  FwWeakEpoch *e = g_new0 (FwWeakEpoch, 1);
  e->method = w->method;
  e->seed = w->seed;
  g_strlcpy (e->phase, phase, sizeof e->phase);
  e->epoch = epoch;
  e->n_epochs = n_epochs;
  e->loss = loss;
  fw_job_emit_snapshot (w->job, "weak-epoch", e, g_free);
  double within = n_epochs > 0 ? (double) epoch / n_epochs : 0.5;
  fw_job_progress (w->job, (w->done + 0.5 * within) / w->total, epoch, n_epochs, 0, 0, loss,
                   NAN);
}

static void
weak_round (gpointer user, const FwSelftrainRound *sr)
{
  WeakRun *w = user;
  g_string_append_printf (w->selftrain_csv, "%d,%d,%d,%.6f,%d,%d,%d,%d\n", w->seed + 1,
                          sr->round, sr->n_train, sr->test_acc, sr->added, sr->wrong,
                          sr->total_pseudo, sr->total_wrong);
  job_log (w->job, "  self-training round %d: %d samples, test %.1f%%; +%d pseudo-labels "
           "(%d wrong), %d in all (%d wrong)", sr->round, sr->n_train, 100 * sr->test_acc,
           sr->added, sr->wrong, sr->total_pseudo, sr->total_wrong);
  if (w->job != NULL)
    {
      FwWeakRoundEvent *e = g_new0 (FwWeakRoundEvent, 1);
      e->method = w->method;
      e->seed = w->seed;
      e->round = *sr;
      fw_job_emit_snapshot (w->job, "weak-round", e, g_free);
    }
}

static void
mean_std (const double *v, int n, double *mean, double *std)
{
  double s = 0, q = 0;
  int c = 0;
  for (int i = 0; i < n; i++)
    if (!isnan (v[i]))
      {
        s += v[i];
        c++;
      }
  *mean = c > 0 ? s / c : NAN;
  for (int i = 0; i < n; i++)
    if (!isnan (v[i]))
      q += (v[i] - *mean) * (v[i] - *mean);
  *std = c > 1 ? sqrt (q / (c - 1)) : (c == 1 ? 0.0 : NAN);
}

static void
json_number (GString *s, double v)
{
  if (isnan (v))
    g_string_append (s, "null");
  else
    g_string_append_printf (s, "%.6g", v);
}

gboolean
fw_weak_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  const FwRecipe *r = data;
  int test_limit;
  if (!fw_recipe_ext_get_int (r, "weak", "test_limit", 0, 0, 10000000, &test_limit, error))
    return FALSE;
  fw_blas_set_threads (MAX (r->threads, 1));
  g_autoptr (FwDataset) train = NULL;
  g_autoptr (FwDataset) test = NULL;
  if (!load_data (r, 0, &train, &test, cancellable, error))
    return FALSE;
  gboolean methods[FW_WEAK_N_METHODS];
  g_autoptr (FwWeakConfig) c = fw_weak_config_from_recipe (r, train, test, methods, error);
  if (c == NULL)
    return FALSE;
  int n_methods = 0;
  for (int m = 0; m < FW_WEAK_N_METHODS; m++)
    n_methods += methods[m];
  job_log (job, "few labels on %s: %d per class, %d unlabelled, %s encoder, %d seeds, "
           "%d methods", r->dataset, c->per_class, c->unlabelled, c->conv ? "conv" : "dense",
           c->seeds, n_methods);
  WeakRun w = { job, 0, 0, 0, c->seeds * n_methods,
                g_string_new ("method,seed,phase,epoch,loss\n"),
                g_string_new ("seed,round,n_train,test_acc,added,wrong,total_pseudo,"
                              "total_wrong\n") };
  g_autoptr (GString) results = g_string_new ("method,seed,probe_acc,finetune_acc,seconds\n");
  g_autoptr (GString) stds = g_string_new ("method,seed,dim,std\n");
  g_autofree double *probe = g_new (double, (gsize) FW_WEAK_N_METHODS * c->seeds);
  g_autofree double *fine = g_new (double, (gsize) FW_WEAK_N_METHODS * c->seeds);
  FwWeakHooks hooks = { weak_epoch, weak_round, &w };
  gboolean ok = TRUE;
  for (int seed = 0; seed < c->seeds && ok; seed++)
    for (int m = 0; m < FW_WEAK_N_METHODS && ok; m++)
      {
        if (!methods[m])
          continue;
        w.method = m;
        w.seed = seed;
        FwWeakResult *res = fw_weak_run (c, m, seed, &hooks, cancellable, error);
        if (res == NULL)
          {
            ok = FALSE;
            break;
          }
        w.done++;
        res->index = w.done;
        res->total = w.total;
        probe[m * c->seeds + seed] = res->probe_acc;
        fine[m * c->seeds + seed] = res->fine_acc;
        g_string_append_printf (results, "%s,%d,%.6f,%.6f,%.2f\n", fw_weak_method_name (m),
                                seed + 1, res->probe_acc, res->fine_acc, res->seconds);
        for (int j = 0; j < res->n_dims; j++)
          g_string_append_printf (stds, "%s,%d,%d,%.6g\n", fw_weak_method_name (m), seed + 1,
                                  j, res->emb_std[j]);
        if (isnan (res->probe_acc))
          job_log (job, "%s, seed %d: test %.1f%% (%.0f s)", fw_weak_method_title (m),
                   seed + 1, 100 * res->fine_acc, res->seconds);
        else
          job_log (job, "%s, seed %d: linear probe %.1f%%, fine-tuned %.1f%% (%.0f s)",
                   fw_weak_method_title (m), seed + 1, 100 * res->probe_acc,
                   100 * res->fine_acc, res->seconds);
        if (job != NULL)
          {
            fw_job_progress (job, (double) w.done / w.total, 0, 0, 0, 0, NAN, res->fine_acc);
            fw_job_emit_snapshot (job, "weak-result", res, (GDestroyNotify) fw_weak_result_free);
          }
        else
          fw_weak_result_free (res);
      }
  g_autofree char *pretext = g_string_free (w.pretext_csv, FALSE);
  g_autofree char *selftrain = g_string_free (w.selftrain_csv, FALSE);
  if (!ok)
    return FALSE;

  g_autoptr (GString) json = g_string_new ("{\n  \"dataset\": ");
  g_string_append_printf (json, "\"%s\",\n  \"per_class\": %d,\n  \"unlabelled\": %d,\n"
                          "  \"seeds\": %d,\n  \"encoder\": \"%s\",\n  \"methods\": {", r->dataset,
                          c->per_class, c->unlabelled, c->seeds, c->conv ? "conv" : "dense");
  g_autoptr (GString) summary = g_string_new (NULL);
  gboolean first = TRUE;
  for (int m = 0; m < FW_WEAK_N_METHODS; m++)
    {
      if (!methods[m])
        continue;
      double fm, fs, pm, ps;
      mean_std (fine + m * c->seeds, c->seeds, &fm, &fs);
      mean_std (probe + m * c->seeds, c->seeds, &pm, &ps);
      g_string_append_printf (json, "%s\n    \"%s\": { \"finetune_mean\": ", first ? "" : ",",
                              fw_weak_method_name (m));
      json_number (json, fm);
      g_string_append (json, ", \"finetune_std\": ");
      json_number (json, fs);
      g_string_append (json, ", \"probe_mean\": ");
      json_number (json, pm);
      g_string_append (json, ", \"probe_std\": ");
      json_number (json, ps);
      g_string_append (json, " }");
      first = FALSE;
      g_string_append_printf (summary, "%-26s %5.1f%% ± %.1f", fw_weak_method_title (m),
                              100 * fm, 100 * fs);
      if (!isnan (pm))
        g_string_append_printf (summary, "   (linear probe %.1f%% ± %.1f)", 100 * pm, 100 * ps);
      g_string_append_c (summary, '\n');
    }
  g_string_append (json, "\n  }\n}\n");

  g_autoptr (FwRunDir) rd = fw_run_dir_begin (r, error);
  if (rd == NULL || !fw_run_dir_write_recipe (rd, r, error)
      || !fw_run_dir_write (rd, "results.csv", results->str, -1, error)
      || !fw_run_dir_write (rd, "pretext.csv", pretext, -1, error)
      || !fw_run_dir_write (rd, "selftrain.csv", selftrain, -1, error)
      || !fw_run_dir_write (rd, "embedding-std.csv", stds->str, -1, error)
      || !fw_run_dir_write (rd, "summary.json", json->str, -1, error))
    return FALSE;
  g_autofree char *dir = fw_run_dir_commit (g_steal_pointer (&rd), error);
  if (dir == NULL)
    return FALSE;
  g_autofree char *head = g_strdup_printf ("run folder: %s\ntest accuracy, mean ± std over "
                                           "seeds:\n", dir);
  g_string_prepend (summary, head);
  if (job != NULL)
    fw_job_set_summary (job, summary->str);
  else
    g_print ("%s", summary->str);
  return TRUE;
}

/* ---- [active] ---- */

typedef struct {
  FwJob *job;
  GString *csv;
  double *final_acc;     /* [FW_QUERY_N x seeds] */
  double *mean_acc;      /* [FW_QUERY_N x seeds] mean over rounds (area under the curve) */
  int seeds, rounds;
} ActiveRun;

static void
active_point (gpointer user, const FwActivePoint *p)
{
  ActiveRun *a = user;
  g_string_append_printf (a->csv, "%s,%d,%d,%d,%.6f\n", fw_query_name (p->strategy),
                          p->seed + 1, p->round, p->n_labels, p->test_acc);
  a->mean_acc[p->strategy * a->seeds + p->seed] += p->test_acc / (a->rounds + 1);
  if (p->round == a->rounds)
    a->final_acc[p->strategy * a->seeds + p->seed] = p->test_acc;
  job_log (a->job, "%s, seed %d: %d labels, test %.1f%%", fw_query_title (p->strategy),
           p->seed + 1, p->n_labels, 100 * p->test_acc);
  if (a->job != NULL)
    {
      FwActivePoint *c = g_memdup2 (p, sizeof *p);
      c->queried = g_memdup2 (p->queried, sizeof (gint32) * MAX (p->n_queried, 1));
      c->predicted = g_memdup2 (p->predicted, sizeof (gint32) * MAX (p->n_queried, 1));
      fw_job_progress (a->job, (double) p->index / p->total, 0, 0, 0, 0, NAN, p->test_acc);
      fw_job_emit_snapshot (a->job, "active-point", c, (GDestroyNotify) fw_active_point_free);
    }
}

gboolean
fw_active_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  const FwRecipe *r = data;
  int test_limit;
  if (!fw_recipe_ext_get_int (r, "active", "test_limit", 0, 0, 10000000, &test_limit, error))
    return FALSE;
  g_autoptr (FwDataset) train = NULL;
  g_autoptr (FwDataset) test = NULL;
  if (!load_data (r, test_limit, &train, &test, cancellable, error))
    return FALSE;
  g_autoptr (FwActiveConfig) c = fw_active_config_from_recipe (r, train, test, error);
  if (c == NULL)
    return FALSE;
  job_log (job, "active learning on %s: %d labels per class to start, +%d per round, %d "
           "rounds, pool %d, test %d", r->dataset, c->start_per_class, c->batch, c->rounds,
           c->pool, test->n);
  ActiveRun a = { job, g_string_new ("strategy,seed,round,n_labels,test_acc\n"),
                  g_new0 (double, (gsize) FW_QUERY_N * c->seeds),
                  g_new0 (double, (gsize) FW_QUERY_N * c->seeds), c->seeds, c->rounds };
  gboolean ok = fw_active_run (c, active_point, &a, cancellable, error);
  g_autofree char *csv = g_string_free (a.csv, FALSE);
  g_autofree double *final_acc = a.final_acc;
  g_autofree double *mean_acc = a.mean_acc;
  if (!ok)
    return FALSE;
  g_autoptr (GString) json = g_string_new ("{\n  \"strategies\": {");
  g_autoptr (GString) summary = g_string_new (NULL);
  g_string_append_printf (summary, "after %d rounds (%d labels), mean over %d seed(s):\n",
                          c->rounds, train->n_classes * c->start_per_class
                                     + c->rounds * c->batch, c->seeds);
  gboolean first = TRUE;
  for (int s = 0; s < FW_QUERY_N; s++)
    {
      if (!c->strategies[s])
        continue;
      double fm, fs, am, as;
      mean_std (final_acc + s * c->seeds, c->seeds, &fm, &fs);
      mean_std (mean_acc + s * c->seeds, c->seeds, &am, &as);
      g_string_append_printf (json, "%s\n    \"%s\": { \"final_mean\": %.6f, \"final_std\": "
                              "%.6f, \"curve_mean\": %.6f }", first ? "" : ",",
                              fw_query_name (s), fm, isnan (fs) ? 0.0 : fs, am);
      g_string_append_printf (summary, "%-20s final %5.1f%% ± %.1f   mean over the curve %.1f%%\n",
                              fw_query_title (s), 100 * fm, 100 * fs, 100 * am);
      first = FALSE;
    }
  g_string_append (json, "\n  }\n}\n");
  g_autoptr (FwRunDir) rd = fw_run_dir_begin (r, error);
  if (rd == NULL || !fw_run_dir_write_recipe (rd, r, error)
      || !fw_run_dir_write (rd, "curves.csv", csv, -1, error)
      || !fw_run_dir_write (rd, "summary.json", json->str, -1, error))
    return FALSE;
  g_autofree char *dir = fw_run_dir_commit (g_steal_pointer (&rd), error);
  if (dir == NULL)
    return FALSE;
  g_autofree char *head = g_strdup_printf ("run folder: %s\n", dir);
  g_string_prepend (summary, head);
  if (job != NULL)
    fw_job_set_summary (job, summary->str);
  else
    g_print ("%s", summary->str);
  return TRUE;
}

/* ---- [calibrate] ---- */

void
fw_calib_report_free (FwCalibReport *r)
{
  if (r == NULL)
    return;
  g_strfreev (r->class_names);
  fw_reliability_free (r->before);
  fw_reliability_free (r->after);
  g_free (r->prop_train);
  g_free (r->prop_true);
  g_free (r->prop_pred);
  g_free (r->prop_em);
  g_free (r);
}

static float *
all_logits (FwModel *m, const FwDataset *ds)
{
  int k = m->n_classes;
  gsize size = fw_dataset_sample_size (ds);
  float *z = g_new (float, (gsize) ds->n * k);
  for (int s = 0; s < ds->n; s += 500)
    {
      int b = MIN (500, ds->n - s);
      memcpy (z + (gsize) s * k, fw_model_forward (m, ds->x + (gsize) s * size, b, FALSE),
              sizeof (float) * b * k);
    }
  return z;
}

/* The check set: size samples of pool; with fraction > 0 class `cls` makes that fraction of
 * it and the other classes share the rest equally (as far as the pool has them). */
static FwDataset *
check_set (const FwDataset *pool, int size, int cls, double fraction, guint64 seed)
{
  int k = pool->n_classes;
  g_autofree gint32 *perm = g_new (gint32, pool->n);
  for (int i = 0; i < pool->n; i++)
    perm[i] = i;
  FwRng root, rng;
  fw_rng_init (&root, seed);
  fw_rng_split (&root, FW_RNG_SPLIT, &rng);
  fw_rng_shuffle (&rng, perm, pool->n);
  size = MIN (size, pool->n);
  g_autofree int *quota = g_new (int, k);
  for (int j = 0; j < k; j++)
    quota[j] = fraction > 0 ? (j == cls ? (int) round (fraction * size)
                                        : (int) ((1 - fraction) * size / (k - 1)))
                            : size;
  g_autofree gint32 *idx = g_new (gint32, size);
  int n = 0;
  for (int i = 0; i < pool->n && n < size; i++)
    if (quota[pool->y[perm[i]]] > 0)
      {
        quota[pool->y[perm[i]]]--;
        idx[n++] = perm[i];
      }
  return fw_dataset_subset (pool, idx, n, "check set");
}

typedef struct {
  FwJob *job;
  int epochs;
} CalibTrain;

static void
calib_epoch (gpointer user, const FwEpochMetrics *m)
{
  CalibTrain *ct = user;
  if (ct->job != NULL)
    fw_job_progress (ct->job, 0.9 * m->epoch / ct->epochs, m->epoch, ct->epochs, 0, 0,
                     m->train_loss, m->train_acc);
}

gboolean
fw_calibrate_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  const FwRecipe *r = data;
  const char *G = "calibrate";
  int per_class, val_pc, epochs, hidden, bins, check_size, shift_class, test_limit;
  double lr, shift;
  if (!fw_recipe_ext_get_int (r, G, "per_class", 100, 1, 1000000, &per_class, error)
      || !fw_recipe_ext_get_int (r, G, "val_per_class", 50, 1, 1000000, &val_pc, error)
      || !fw_recipe_ext_get_int (r, G, "epochs", 30, 1, 100000, &epochs, error)
      || !fw_recipe_ext_get_double (r, G, "lr", 1e-3, 1e-7, 10, &lr, error)
      || !fw_recipe_ext_get_int (r, G, "hidden", 256, 1, 100000, &hidden, error)
      || !fw_recipe_ext_get_int (r, G, "bins", FW_CALIB_BINS, 1, 1000, &bins, error)
      || !fw_recipe_ext_get_int (r, G, "check_size", 2000, 10, 10000000, &check_size, error)
      || !fw_recipe_ext_get_int (r, G, "shift_class", 0, 0, 100000, &shift_class, error)
      || !fw_recipe_ext_get_double (r, G, "shift_fraction", 0, 0, 1, &shift, error)
      || !fw_recipe_ext_get_int (r, G, "test_limit", 0, 0, 10000000, &test_limit, error))
    return FALSE;
  fw_blas_set_threads (MAX (r->threads, 1));
  g_autoptr (FwDataset) train = NULL;
  g_autoptr (FwDataset) test = NULL;
  if (!load_data (r, test_limit, &train, &test, cancellable, error))
    return FALSE;
  int k = train->n_classes;
  if (shift_class >= k)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [calibrate] shift_class: %d is not "
                   "a class of %s (0 to %d)", recipe_file (r), shift_class, r->dataset, k - 1);
      return FALSE;
    }
  FwDataset *rest1 = NULL, *rest2 = NULL;
  g_autoptr (FwDataset) labelled = fw_dataset_per_class (train, per_class, r->seed, &rest1);
  g_autoptr (FwDataset) r1 = rest1;
  g_autoptr (FwDataset) val = fw_dataset_per_class (r1, val_pc, r->seed + 1, &rest2);
  g_autoptr (FwDataset) pool = rest2;
  g_autoptr (FwDataset) check = check_set (pool, check_size, shift_class, shift, r->seed);
  job_log (job, "calibration on %s: %d labelled, %d validation, %d test, check set of %d",
           r->dataset, labelled->n, val->n, test->n, check->n);
  float mean, std;
  fw_dataset_stats (train, &mean, &std);
  g_autofree char *spec = g_strdup_printf ("flatten,dense:%d,relu,dense:%d", hidden, k);
  g_autoptr (FwModel) m = fw_weak_model_new (spec, train->shape, r->seed, mean, std, error);
  if (m == NULL)
    return FALSE;
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.opt = FW_OPT_ADAM;
  cfg.lr = lr;
  cfg.epochs = epochs;
  cfg.batch = 32;
  cfg.seed = r->seed;
  CalibTrain ct = { job, epochs };
  FwTrainHooks th = { .epoch = calib_epoch, .user = &ct };
  if (!fw_train (m, &cfg, labelled, NULL, NULL, &th, cancellable, NULL, error))
    return FALSE;
  g_autofree float *zv = all_logits (m, val);
  double t;
  if (!fw_calib_fit_temperature (zv, val->n, k, val->y, &t, error))
    return FALSE;
  g_autofree float *zt = all_logits (m, test);
  g_autoptr (FwCalibReport) rep = g_new0 (FwCalibReport, 1);
  rep->k = k;
  rep->class_names = g_strdupv (train->class_names);
  rep->temperature = t;
  rep->before = fw_reliability_from_logits (zt, test->n, k, test->y, 1.0, bins);
  rep->after = fw_reliability_from_logits (zt, test->n, k, test->y, t, bins);
  /* global checks on the check set */
  rep->prop_train = g_new0 (double, k);
  rep->prop_true = g_new0 (double, k);
  rep->prop_pred = g_new0 (double, k);
  rep->prop_em = g_new0 (double, k);
  rep->check_size = check->n;
  g_autofree int *counts = g_new0 (int, k);
  fw_dataset_class_counts (labelled, counts);
  for (int j = 0; j < k; j++)
    rep->prop_train[j] = (double) counts[j] / labelled->n;
  fw_dataset_class_counts (check, counts);
  for (int j = 0; j < k; j++)
    rep->prop_true[j] = (double) counts[j] / MAX (check->n, 1);
  g_autofree float *zc = all_logits (m, check);
  g_autofree float *pc = g_new (float, (gsize) check->n * k);
  fw_softmax (zc, check->n, k, (float) t, pc);   /* calibrated posteriors for EM */
  fw_calib_predicted_proportions (pc, check->n, k, rep->prop_pred);
  rep->em_iterations = fw_calib_prior_em (pc, check->n, k, rep->prop_train, 1000, 1e-6,
                                          rep->prop_em, NULL);
  double l1_pred = 0, l1_em = 0;
  for (int j = 0; j < k; j++)
    {
      l1_pred += fabs (rep->prop_pred[j] - rep->prop_true[j]);
      l1_em += fabs (rep->prop_em[j] - rep->prop_true[j]);
    }

  g_autoptr (GString) rel = g_string_new ("bin,lo,hi,count_before,conf_before,acc_before,"
                                          "count_after,conf_after,acc_after\n");
  for (int b = 0; b < bins; b++)
    g_string_append_printf (rel, "%d,%.6f,%.6f,%" G_GINT64_FORMAT ",%.6f,%.6f,%"
                            G_GINT64_FORMAT ",%.6f,%.6f\n", b, (double) b / bins,
                            (double) (b + 1) / bins, rep->before->count[b], rep->before->conf[b],
                            rep->before->acc[b], rep->after->count[b], rep->after->conf[b],
                            rep->after->acc[b]);
  g_autoptr (GString) prop = g_string_new ("class,name,train,true,predicted,em\n");
  for (int j = 0; j < k; j++)
    g_string_append_printf (prop, "%d,%s,%.6f,%.6f,%.6f,%.6f\n", j, rep->class_names[j],
                            rep->prop_train[j], rep->prop_true[j], rep->prop_pred[j],
                            rep->prop_em[j]);
  g_autofree char *json = g_strdup_printf (
    "{\n  \"temperature\": %.6f,\n  \"test_accuracy\": %.6f,\n  \"ece_before\": %.6f,\n"
    "  \"ece_after\": %.6f,\n  \"nll_before\": %.6f,\n  \"nll_after\": %.6f,\n"
    "  \"bins\": %d,\n  \"check_size\": %d,\n  \"proportions_l1_predicted\": %.6f,\n"
    "  \"proportions_l1_em\": %.6f,\n  \"em_iterations\": %d\n}\n", t, rep->before->accuracy,
    rep->before->ece, rep->after->ece, rep->before->nll, rep->after->nll, bins, check->n,
    l1_pred, l1_em, rep->em_iterations);
  g_autoptr (FwRunDir) rd = fw_run_dir_begin (r, error);
  if (rd == NULL || !fw_run_dir_write_recipe (rd, r, error)
      || !fw_run_dir_write (rd, "reliability.csv", rel->str, -1, error)
      || !fw_run_dir_write (rd, "proportions.csv", prop->str, -1, error)
      || !fw_run_dir_write (rd, "summary.json", json, -1, error)
      || !fw_run_dir_save_model_as (rd, "model.safetensors", m, "calibrated", NULL, error))
    return FALSE;
  g_autofree char *dir = fw_run_dir_commit (g_steal_pointer (&rd), error);
  if (dir == NULL)
    return FALSE;
  g_autofree char *summary = g_strdup_printf (
    "run folder: %s\ntest accuracy %.1f%% (unchanged by temperature scaling)\n"
    "temperature T = %.3f (fitted on %d validation samples)\n"
    "ECE (%d bins): %.4f before, %.4f after; NLL %.4f before, %.4f after\n"
    "class proportions on the check set (%d samples): L1 error %.3f predicted (argmax), "
    "%.3f EM-estimated\n", dir, 100 * rep->before->accuracy, t, val->n, bins, rep->before->ece,
    rep->after->ece, rep->before->nll, rep->after->nll, check->n, l1_pred, l1_em);
  if (job != NULL)
    {
      fw_job_set_summary (job, summary);
      fw_job_emit_snapshot (job, "calib", g_steal_pointer (&rep),
                            (GDestroyNotify) fw_calib_report_free);
    }
  else
    g_print ("%s", summary);
  return TRUE;
}
