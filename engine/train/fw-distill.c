/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-distill.c: the distillation loss, its training loop and the [distill] recipe job. */
#include "fw-distill.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-loss.h"
#include "fw-run-dir.h"
#include "fw-safetensors.h"
#include "fw-util.h"

double
fw_distill_loss (const float *student, const float *teacher, const gint32 *labels, int n,
                 int k, float temperature, float alpha, float *grad)
{
  double T = temperature, total = 0;
  g_autofree double *ps = g_new (double, k);
  g_autofree double *pt = g_new (double, k);
  g_autofree double *p1 = g_new (double, k);
  for (int i = 0; i < n; i++)
    {
      const float *zs = student + (gsize) i * k, *zt = teacher + (gsize) i * k;
      /* log-softmax of z / T for both, and of z_s at T = 1 */
      double ms = -INFINITY, mt = -INFINITY;
      for (int j = 0; j < k; j++)
        {
          ms = MAX (ms, zs[j]);
          mt = MAX (mt, zt[j]);
        }
      double ss = 0, st = 0, s1 = 0;
      for (int j = 0; j < k; j++)
        {
          ss += exp ((zs[j] - ms) / T);
          st += exp ((zt[j] - mt) / T);
          s1 += exp (zs[j] - ms);
        }
      double lss = log (ss), lst = log (st), ls1 = log (s1);
      double kl = 0;
      for (int j = 0; j < k; j++)
        {
          double lps = (zs[j] - ms) / T - lss, lpt = (zt[j] - mt) / T - lst;
          ps[j] = exp (lps);
          pt[j] = exp (lpt);
          p1[j] = exp (zs[j] - ms - ls1);
          if (pt[j] > 0)
            kl += pt[j] * (lpt - lps);
        }
      double ce = -(zs[labels[i]] - ms - ls1);
      total += alpha * T * T * kl + (1 - alpha) * ce;
      if (grad != NULL)
        for (int j = 0; j < k; j++)
          {
            double g = alpha * T * (ps[j] - pt[j]) + (1 - alpha) * (p1[j] - (j == labels[i]));
            grad[(gsize) i * k + j] = (float) (g / n);
          }
    }
  return total / MAX (n, 1);
}

gboolean
fw_distill_train (FwModel *student, FwModel *teacher, const FwTrainConfig *cfg,
                  float temperature, float alpha, FwDataset *train, FwDataset *test,
                  const FwTrainHooks *hooks, GCancellable *cancellable, GArray *metrics,
                  GError **error)
{
  const int k = student->n_classes;
  const gsize in = fw_shape_size (student->input);
  if (teacher->n_classes != k || fw_shape_size (teacher->input) != in
      || fw_shape_size (train->shape) != in || train->n_classes != k)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "distillation: teacher (%d classes, %zu inputs), student (%d classes, %zu "
                   "inputs) and data (%d classes, %zu inputs) must agree — pick a teacher "
                   "trained on this dataset", teacher->n_classes, fw_shape_size (teacher->input),
                   k, in, train->n_classes, fw_shape_size (train->shape));
      return FALSE;
    }
  if (!(temperature >= 1 && temperature <= 100) || !(alpha >= 0 && alpha <= 1)
      || cfg->epochs < 1 || cfg->batch < 1 || train->n < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "distillation: temperature %g must be in [1, 100], alpha %g in [0, 1], "
                   "epochs and batch >= 1 and the training set not empty", temperature, alpha);
      return FALSE;
    }
  const int n = train->n, batch = MIN (cfg->batch, n);
  const int n_batches = (n + batch - 1) / batch;
  /* the teacher's logits over the training set, once */
  g_autofree float *tl = g_new (float, (gsize) n * k);
  fw_model_reserve (teacher, 256);
  for (int s = 0; s < n; s += 256)
    {
      int nb = MIN (256, n - s);
      memcpy (tl + (gsize) s * k, fw_model_forward (teacher, train->x + (gsize) s * in, nb, FALSE),
              sizeof (float) * nb * k);
    }
  fw_model_reserve (student, batch);
  g_autofree gint32 *idx = g_new (gint32, n);
  float *xb = fw_alloc_floats ((gsize) batch * in);
  g_autofree float *tb = g_new (float, (gsize) batch * k);
  g_autofree gint32 *yb = g_new (gint32, batch);
  g_autofree float *dlogits = g_new (float, (gsize) batch * k);
  g_autoptr (FwOptimizer) opt = fw_optimizer_new (student, cfg);
  FwRng root, shuffle_rng;
  fw_rng_init (&root, cfg->seed);
  fw_rng_split (&root, FW_RNG_SHUFFLE, &shuffle_rng);
  fw_rng_split (&root, FW_RNG_DROPOUT, &student->dropout_rng);
  gboolean ok = TRUE;
  for (int e = 0; e < cfg->epochs && ok; e++)
    {
      double t0 = fw_now (), loss_sum = 0, lr = fw_train_lr_at (cfg, e);
      gint64 correct = 0;
      FwRng rng;
      fw_rng_split (&shuffle_rng, (guint64) e, &rng);
      for (int i = 0; i < n; i++)
        idx[i] = i;
      fw_rng_shuffle (&rng, idx, n);
      for (int b = 0; b < n_batches; b++)
        {
          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            {
              ok = FALSE;
              break;
            }
          int s = b * batch, nb = MIN (batch, n - s);
          for (int i = 0; i < nb; i++)
            {
              gint32 j = idx[s + i];
              memcpy (xb + (gsize) i * in, train->x + (gsize) j * in, sizeof (float) * in);
              memcpy (tb + (gsize) i * k, tl + (gsize) j * k, sizeof (float) * k);
              yb[i] = train->y[j];
            }
          const float *z = fw_model_forward (student, xb, nb, TRUE);
          double loss = fw_distill_loss (z, tb, yb, nb, k, temperature, alpha, dlogits);
          int bc = 0;
          for (int i = 0; i < nb; i++)
            {
              int best = 0;
              for (int j = 1; j < k; j++)
                if (z[(gsize) i * k + j] > z[(gsize) i * k + best])
                  best = j;
              bc += best == yb[i];
            }
          if (!isfinite (loss))
            {
              g_set_error (error, FW_ERROR, FW_ERROR_NUMERIC,
                           "distillation: the loss became %g at epoch %d, batch %d — lower the "
                           "learning rate", loss, e + 1, b + 1);
              ok = FALSE;
              break;
            }
          fw_model_backward (student, dlogits, nb);
          if (cfg->warmup_epochs > 0 && e < cfg->warmup_epochs)
            lr = fw_train_lr_at (cfg, e + (double) b / n_batches);
          fw_optimizer_step (opt, student, lr);
          loss_sum += loss * nb;
          correct += bc;
          if (hooks != NULL && hooks->batch != NULL)
            hooks->batch (hooks->user, e + 1, cfg->epochs, b + 1, n_batches, loss,
                          (double) bc / nb);
        }
      if (!ok)
        break;
      FwEpochMetrics row = {
        .epoch = e + 1, .train_loss = loss_sum / n, .train_acc = (double) correct / n,
        .val_loss = NAN, .val_acc = NAN, .test_acc = NAN, .lr = fw_train_lr_at (cfg, e),
        .seconds = fw_now () - t0,
      };
      if (test != NULL)
        {
          g_autoptr (FwEvalResult) r = fw_evaluate (student, test, 256, cancellable, error);
          if (r == NULL)
            {
              ok = FALSE;
              break;
            }
          row.test_acc = r->accuracy;
        }
      if (metrics != NULL)
        g_array_append_val (metrics, row);
      if (hooks != NULL && hooks->epoch != NULL)
        hooks->epoch (hooks->user, &row);
    }
  fw_free_aligned (xb);
  return ok;
}

/* ---- the [distill] job ---- */

void
fw_distill_result_free (FwDistillResult *r)
{
  if (r == NULL)
    return;
  g_free (r->run_dir);
  g_free (r->teacher_path);
  g_free (r->acc_distilled);
  g_free (r->acc_hard);
  g_free (r->sample_x);
  g_free (r->soft_t);
  g_free (r->soft_1);
  g_strfreev (r->class_names);
  g_free (r);
}

static const char *
recipe_file (const FwRecipe *r)
{
  return r->path != NULL ? r->path : r->name;
}

gboolean
fw_recipe_train_test (const FwRecipe *r, FwDataset **train, FwDataset **test,
                      GCancellable *cancellable, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (FwDataset) ds = fw_dataset_load (r->dataset, r->seed, cancellable, &local);
  if (ds == NULL)
    {
      g_set_error (error, local->domain, local->code, "%s: [data] dataset = %s: %s",
                   recipe_file (r), r->dataset, local->message);
      return FALSE;
    }
  FwRng rng;
  fw_rng_init (&rng, r->seed ^ 0xd157);
  if (r->train_limit > 0 && r->train_limit < ds->n)
    {
      FwDataset *part = NULL, *rest = NULL;
      fw_dataset_split (ds, (double) r->train_limit / ds->n, fw_rng_next (&rng), &part, &rest);
      fw_dataset_unref (rest);
      g_clear_pointer (&ds, fw_dataset_unref);
      ds = part;
    }
  if (r->per_class > 0)
    {
      FwDataset *part = fw_dataset_per_class (ds, r->per_class, fw_rng_next (&rng), NULL);
      g_clear_pointer (&ds, fw_dataset_unref);
      ds = part;
    }
  FwDataset *t = NULL;
  if (g_strcmp0 (r->test, "none") != 0)
    {
      const char *spec = r->test == NULL || g_strcmp0 (r->test, "auto") == 0 ? r->dataset
                                                                             : r->test;
      t = g_strcmp0 (r->test, "auto") == 0 || r->test == NULL
        ? fw_dataset_load_test (spec, r->seed, cancellable, &local)
        : fw_dataset_load (spec, r->seed, cancellable, &local);
      if (t == NULL)
        {
          g_set_error (error, local->domain, local->code, "%s: [data] test: %s", recipe_file (r),
                       local->message);
          return FALSE;
        }
    }
  *train = g_steal_pointer (&ds);
  *test = t;
  return TRUE;
}

FwModel *
fw_recipe_fresh_model (const FwRecipe *r, const FwDataset *train, guint64 seed, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *spec = g_strcmp0 (r->arch, "custom") == 0
    ? g_strdup (r->spec)
    : fw_model_arch_spec (r->arch, r->widths, train->shape, train->n_classes, &local);
  FwModel *m = spec != NULL ? fw_model_new (r->arch, spec, train->shape, &local) : NULL;
  if (m == NULL)
    {
      g_set_error (error, local->domain, local->code, "%s: [model]: %s", recipe_file (r),
                   local->message);
      return NULL;
    }
  if (m->n_classes != train->n_classes)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [model] gives %d outputs, the data "
                   "has %d classes", recipe_file (r), m->n_classes, train->n_classes);
      fw_model_unref (m);
      return NULL;
    }
  fw_model_init (m, seed);
  float mean = 0, std = 1;
  fw_dataset_stats (train, &mean, &std);
  m->in_mean = mean;
  m->in_std = std > 1e-6f ? std : 1.0f;
  if (train->class_names != NULL)
    m->class_names = g_strdupv (train->class_names);
  return m;
}

#define G "distill"

static const char *const distill_keys[] = {
  "teacher", "temperature", "alpha", "seeds", "hard_baseline", NULL,
};

typedef struct {
  FwJob *job;
  int run, n_runs;
} Progress;

static void
progress_batch (gpointer user, int epoch, int n_epochs, int batch, int n_batches, double loss,
                double acc)
{
  Progress *p = user;
  if (p->job == NULL)
    return;
  double f = (p->run + ((epoch - 1) + (double) batch / n_batches) / n_epochs) / p->n_runs;
  fw_job_progress (p->job, f, epoch, n_epochs, batch, n_batches, loss, acc);
}

static void
progress_epoch (gpointer user, const FwEpochMetrics *m)
{
  Progress *p = user;
  if (p->job != NULL)
    fw_job_emit_epoch (p->job, m);
}

static double
test_accuracy (FwModel *m, FwDataset *test, GCancellable *c, GError **error)
{
  if (test == NULL)
    return NAN;
  g_autoptr (FwEvalResult) e = fw_evaluate (m, test, 256, c, error);
  return e != NULL ? e->accuracy : -1;
}

FwDistillResult *
fw_distill_run (const FwRecipe *r, FwJob *job, GCancellable *cancellable, GError **error)
{
  g_autofree char *tpath = fw_recipe_ext_get_string (r, G, "teacher", "");
  double temp, alpha;
  int seeds;
  gboolean hard;
  if (!fw_recipe_ext_get_double (r, G, "temperature", 4, 1, 100, &temp, error)
      || !fw_recipe_ext_get_double (r, G, "alpha", 0.9, 0, 1, &alpha, error)
      || !fw_recipe_ext_get_int (r, G, "seeds", 1, 1, 20, &seeds, error)
      || !fw_recipe_ext_get_bool (r, G, "hard_baseline", TRUE, &hard, error))
    return NULL;
  if (*tpath == '\0')
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "%s: [distill] teacher is missing: give a trained model (.safetensors), e.g. "
                   "the model.safetensors of a run folder", recipe_file (r));
      return NULL;
    }
  g_autoptr (GError) local = NULL;
  g_autoptr (FwModel) teacher = fw_model_load (tpath, NULL, &local);
  if (teacher == NULL)
    {
      g_set_error (error, local->domain, local->code, "%s: [distill] teacher = %s: %s",
                   recipe_file (r), tpath, local->message);
      return NULL;
    }
  g_autoptr (FwDataset) train = NULL, test = NULL;
  if (!fw_recipe_train_test (r, &train, &test, cancellable, error))
    return NULL;

  g_autoptr (FwDistillResult) res = g_new0 (FwDistillResult, 1);
  res->teacher_path = g_strdup (tpath);
  res->temperature = temp;
  res->alpha = alpha;
  res->n_seeds = seeds;
  res->acc_distilled = g_new (double, seeds);
  res->acc_hard = g_new (double, seeds);
  res->teacher_params = fw_model_param_count (teacher);
  res->teacher_acc = test_accuracy (teacher, test, cancellable, error);
  if (res->teacher_acc < 0)
    return NULL;
  if (job != NULL)
    fw_job_log (job, "teacher %s: %zu parameters, test accuracy %.2f%%", tpath,
                res->teacher_params, 100 * res->teacher_acc);

  Progress prog = { job, 0, seeds * (hard ? 2 : 1) };
  FwTrainHooks hooks = { progress_batch, progress_epoch, &prog };
  g_autoptr (FwModel) first = NULL;
  g_autoptr (GString) csv = g_string_new ("seed,variant,test_accuracy,final_train_loss\n");
  for (int s = 0; s < seeds; s++)
    for (int v = 0; v < (hard ? 2 : 1); v++)
      {
        guint64 seed = r->seed + s;
        g_autoptr (FwModel) st = fw_recipe_fresh_model (r, train, seed, error);
        if (st == NULL)
          return NULL;
        res->student_params = fw_model_param_count (st);
        FwTrainConfig cfg = r->train;
        cfg.seed = seed;
        g_autoptr (GArray) metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
        /* the hard-label student: the same loop with alpha = 0 (pure cross-entropy) */
        if (!fw_distill_train (st, teacher, &cfg, (float) temp, v == 0 ? (float) alpha : 0.0f,
                               train, test, &hooks, cancellable, metrics, error))
          return NULL;
        prog.run++;
        double acc = test_accuracy (st, test, cancellable, error);
        if (acc < 0)
          return NULL;
        (v == 0 ? res->acc_distilled : res->acc_hard)[s] = acc;
        double last = metrics->len > 0
          ? g_array_index (metrics, FwEpochMetrics, metrics->len - 1).train_loss : NAN;
        g_string_append_printf (csv, "%" G_GUINT64_FORMAT ",%s,%.6f,%.6f\n", seed,
                                v == 0 ? "distilled" : "hard", acc, last);
        if (job != NULL)
          fw_job_log (job, "seed %" G_GUINT64_FORMAT ": %s student %.2f%%", seed,
                      v == 0 ? "distilled" : "hard-label", 100 * acc);
        if (s == 0 && v == 0)
          first = fw_model_ref (st);
      }
  if (!hard)
    for (int s = 0; s < seeds; s++)
      res->acc_hard[s] = NAN;

  /* the teacher's softened outputs for one test sample (the GUI shows them) */
  FwDataset *src = test != NULL ? test : train;
  gsize in = fw_shape_size (src->shape);
  res->n_classes = teacher->n_classes;
  res->sample_shape = src->shape;
  res->sample_x = g_memdup2 (src->x, sizeof (float) * in);
  res->sample_label = src->y[0];
  const float *z = fw_model_forward (teacher, src->x, 1, FALSE);
  res->soft_t = g_new (float, res->n_classes);
  res->soft_1 = g_new (float, res->n_classes);
  fw_softmax (z, 1, res->n_classes, (float) temp, res->soft_t);
  fw_softmax (z, 1, res->n_classes, 1.0f, res->soft_1);
  res->class_names = g_strdupv (src->class_names);

  g_autoptr (FwRunDir) rd = fw_run_dir_begin (r, error);
  if (rd == NULL)
    return NULL;
  g_autoptr (GString) js = g_string_new ("{\n");
  g_string_append_printf (js, "  \"teacher\": \"%s\",\n  \"teacher_accuracy\": %.6f,\n"
                          "  \"teacher_params\": %zu,\n  \"student_params\": %zu,\n"
                          "  \"temperature\": %g,\n  \"alpha\": %g,\n  \"seeds\": %d,\n",
                          tpath, res->teacher_acc, res->teacher_params, res->student_params,
                          temp, alpha, seeds);
  double md = 0, mh = 0;
  for (int s = 0; s < seeds; s++)
    {
      md += res->acc_distilled[s] / seeds;
      mh += res->acc_hard[s] / seeds;
    }
  g_string_append_printf (js, "  \"mean_accuracy_distilled\": %.6f,\n", md);
  if (hard)
    g_string_append_printf (js, "  \"mean_accuracy_hard\": %.6f\n}\n", mh);
  else
    g_string_append (js, "  \"mean_accuracy_hard\": null\n}\n");
  if (!fw_run_dir_write (rd, "distill.csv", csv->str, -1, error)
      || !fw_run_dir_write (rd, "summary.json", js->str, -1, error)
      || !fw_run_dir_save_model_as (rd, "student.safetensors", first, "distilled", NULL, error)
      || !fw_run_dir_write_recipe (rd, r, error))
    return NULL;
  res->run_dir = fw_run_dir_commit (g_steal_pointer (&rd), error);
  if (res->run_dir == NULL)
    return NULL;
  return g_steal_pointer (&res);
}

static gboolean
distill_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  const FwRecipe *r = data;
  FwDistillResult *res = fw_distill_run (r, job, cancellable, error);
  if (res == NULL)
    return FALSE;
  g_autoptr (GString) s = g_string_new (NULL);
  g_string_append_printf (s, "run folder: %s\n", res->run_dir);
  double md = 0, mh = 0;
  for (int i = 0; i < res->n_seeds; i++)
    {
      md += res->acc_distilled[i] / res->n_seeds;
      mh += res->acc_hard[i] / res->n_seeds;
    }
  g_string_append_printf (s, "teacher: %.2f%% (%zu parameters)\n", 100 * res->teacher_acc,
                          res->teacher_params);
  g_string_append_printf (s, "student, distilled (T = %g, alpha = %g): %.2f%% (%zu parameters, "
                          "mean of %d)\n", res->temperature, res->alpha, 100 * md,
                          res->student_params, res->n_seeds);
  if (!isnan (mh))
    g_string_append_printf (s, "student, hard labels: %.2f%%\n", 100 * mh);
  fw_job_set_summary (job, s->str);
  fw_job_emit_snapshot (job, "distill", res, (GDestroyNotify) fw_distill_result_free);
  return TRUE;
}

const FwRecipeExt fw_distill_recipe_ext = {
  .group = G,
  .title = "Distillation",
  .keys = distill_keys,
  .run = distill_job_run,
  .page = "compress",
};
