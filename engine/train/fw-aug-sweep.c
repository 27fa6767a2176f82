/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-aug-sweep.c: test accuracy vs labels per class with and without augmentation. */
#include "fw-aug-sweep.h"

#include <math.h>

#include "fw-augment.h"
#include "fw-gemm.h"
#include "fw-recipe-ext.h"
#include "fw-run-dir.h"
#include "fw-error.h"
#include "fw-model.h"
#include "fw-train.h"
#include "fw-util.h"

static const struct {
  const char *name, *text;
} pipelines_table[FW_AUG_SWEEP_N_PIPELINES] = {
  { "none", "" },
  { "geometric", "rotate:deg=15;translate:px=2;scale:min=0.9,max=1.1;elastic:alpha=8,sigma=3" },
  { "randaugment", "randaugment:n=2,m=5" },
  { "cutmix", "cutmix:p=0.5" },
};

const char *
fw_aug_sweep_name (int pipeline)
{
  g_return_val_if_fail (pipeline >= 0 && pipeline < FW_AUG_SWEEP_N_PIPELINES, NULL);
  return pipelines_table[pipeline].name;
}

const char *
fw_aug_sweep_pipeline (int pipeline)
{
  g_return_val_if_fail (pipeline >= 0 && pipeline < FW_AUG_SWEEP_N_PIPELINES, NULL);
  return pipelines_table[pipeline].text;
}

gboolean
fw_aug_sweep_run (FwDataset *train, FwDataset *test, const int *per_class, int n_sizes,
                  int seeds, int steps, const char *arch, guint pipelines, FwAugSweepFunc point,
                  gpointer user, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (train != NULL && test != NULL && per_class != NULL, FALSE);
  if (n_sizes < 1 || seeds < 1 || steps < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "augmentation sweep: give at least one size, one seed and one step");
      return FALSE;
    }
  if (arch == NULL)
    arch = "lenet5";
  if (pipelines == 0)
    pipelines = (1u << FW_AUG_SWEEP_N_PIPELINES) - 1;
  /* sizes outer, then seeds, then pipelines: every curve grows point by point */
  for (int si = 0; si < n_sizes; si++)
    for (int seed = 1; seed <= seeds; seed++)
      {
        g_autoptr (FwDataset) sub = fw_dataset_per_class (train, per_class[si], (guint64) seed,
                                                          NULL);
        for (int pi = 0; pi < FW_AUG_SWEEP_N_PIPELINES; pi++)
          {
            if (!(pipelines & (1u << pi)))
              continue;
            if (g_cancellable_set_error_if_cancelled (cancellable, error))
              {
                g_clear_error (error);
                g_set_error (error, FW_ERROR, FW_ERROR_CANCELLED, "Sweep cancelled");
                return FALSE;
              }
            g_autoptr (FwAugPipeline) p = fw_aug_pipeline_parse (pipelines_table[pi].text,
                                                                 error);
            g_assert (p != NULL);
            g_autofree char *spec = fw_model_arch_spec (arch, NULL, sub->shape, sub->n_classes,
                                                        error);
            if (spec == NULL)
              return FALSE;
            g_autoptr (FwModel) m = fw_model_new (arch, spec, sub->shape, error);
            if (m == NULL)
              return FALSE;
            fw_model_init (m, (guint64) seed);
            FwTrainConfig cfg;
            fw_train_config_defaults (&cfg);
            cfg.batch = 32;
            cfg.opt = FW_OPT_ADAM;
            cfg.lr = 1e-3;
            cfg.seed = (guint64) seed;
            /* the same number of updates at every size: small sets get more epochs */
            cfg.epochs = (int) MAX (1, ((gint64) steps * 32 + sub->n - 1) / sub->n);
            cfg.augment = fw_aug_pipeline_n_steps (p) > 0 ? p : NULL;
            double t0 = fw_now ();
            if (!fw_train (m, &cfg, sub, NULL, NULL, NULL, cancellable, NULL, error))
              return FALSE;
            FwAugSweepPoint pt = { pi, per_class[si], seed, 0, fw_now () - t0 };
            g_autoptr (FwEvalResult) r = fw_evaluate (m, test, 500, cancellable, error);
            if (r == NULL)
              return FALSE;
            pt.test_acc = r->accuracy;
            if (point != NULL)
              point (&pt, user);
          }
      }
  return TRUE;
}

/* ---- the sweep as a recipe job: [augment-sweep] ---- */

static const char *const sweep_keys[] = { "per_class", "seeds", "steps", "only", NULL };

const FwRecipeExt fw_aug_sweep_recipe_ext = {
  "augment-sweep", "Augmentation sweep", sweep_keys, fw_aug_sweep_job_run, "augment",
};

typedef struct {
  FwJob *job;
  GString *csv;
  int done, total;
} SweepRun;

static void
sweep_job_point (const FwAugSweepPoint *pt, gpointer user)
{
  SweepRun *sr = user;
  g_string_append_printf (sr->csv, "%s,%d,%d,%.6f,%.3f\n", fw_aug_sweep_name (pt->pipeline),
                          pt->per_class, pt->seed, pt->test_acc, pt->seconds);
  sr->done++;
  if (sr->job != NULL)
    {
      fw_job_progress (sr->job, (double) sr->done / sr->total, 0, 0, 0, 0, NAN, pt->test_acc);
      fw_job_log (sr->job, "%s, %d per class, seed %d: %.1f%%", fw_aug_sweep_name (pt->pipeline),
                  pt->per_class, pt->seed, 100 * pt->test_acc);
      fw_job_emit_snapshot (sr->job, "aug-sweep-point", g_memdup2 (pt, sizeof *pt), g_free);
    }
}

gboolean
fw_aug_sweep_parse_only (const char *only, guint *mask, GError **error)
{
  *mask = 0;
  if (only == NULL || *only == '\0')
    return TRUE;
  g_auto (GStrv) names = g_strsplit (only, ",", -1);
  for (int i = 0; names[i] != NULL; i++)
    {
      int found = -1;
      for (int pi = 0; pi < FW_AUG_SWEEP_N_PIPELINES; pi++)
        if (g_strcmp0 (g_strstrip (names[i]), fw_aug_sweep_name (pi)) == 0)
          found = pi;
      if (found < 0)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "'%s' is not one of none, geometric, "
                       "randaugment, cutmix", names[i]);
          return FALSE;
        }
      *mask |= 1u << found;
    }
  return TRUE;
}

void
fw_aug_sweep_hold_out (FwDataset *all, guint64 seed, FwDataset **train, FwDataset **test)
{
  double test_frac = MIN (0.2, 2000.0 / all->n);
  fw_dataset_split (all, 1 - test_frac, seed, train, test);
}

gboolean
fw_aug_sweep_load_test (FwDataset *all, const char *spec, FwDataset **train, FwDataset **test,
                        GCancellable *cancellable, GError **error)
{
  GError *local = NULL;
  FwDataset *t = spec != NULL ? fw_dataset_load_test (spec, 1, cancellable, &local) : NULL;
  if (t == NULL && local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  if (t != NULL)
    {
      *train = fw_dataset_ref (all);
      *test = t;
    }
  else
    fw_aug_sweep_hold_out (all, 1, train, test);
  return TRUE;
}

gboolean
fw_aug_sweep_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  const FwRecipe *r = data;
  const char *g = "augment-sweep";
  int seeds, steps;
  g_autofree char *only = fw_recipe_ext_get_string (r, g, "only", "");
  g_autoptr (GArray) sizes = fw_recipe_ext_get_int_list (r, g, "per_class", "5,10,20,50", 1,
                                                         100000, error);
  guint mask = 0;
  if (sizes == NULL || !fw_recipe_ext_get_int (r, g, "seeds", 3, 1, 100, &seeds, error)
      || !fw_recipe_ext_get_int (r, g, "steps", 1000, 1, 10000000, &steps, error))
    return FALSE;
  g_autoptr (GError) only_error = NULL;
  if (!fw_aug_sweep_parse_only (only, &mask, &only_error))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [augment-sweep] only: %s",
                   r->path != NULL ? r->path : r->name, only_error->message);
      return FALSE;
    }
  fw_blas_set_threads (r->threads);
  g_autoptr (FwDataset) all = fw_dataset_load (r->dataset, r->seed, cancellable, error);
  g_autoptr (FwDataset) train = NULL;
  g_autoptr (FwDataset) test = NULL;
  if (all == NULL
      || !fw_aug_sweep_load_test (all, r->dataset, &train, &test, cancellable, error))
    return FALSE;
  if (job != NULL)
    fw_job_log (job, "augmentation sweep on %s: %d training, %d test samples", r->dataset,
                train->n, test->n);
  int n_pipes = 0;
  for (int pi = 0; pi < FW_AUG_SWEEP_N_PIPELINES; pi++)
    n_pipes += mask == 0 || (mask & (1u << pi));
  SweepRun sr = { job, g_string_new ("pipeline,per_class,seed,test_acc,seconds\n"), 0,
                  (int) sizes->len * seeds * n_pipes };
  const char *arch = r->arch != NULL && g_strcmp0 (r->arch, "custom") != 0 ? r->arch : NULL;
  gboolean ok = fw_aug_sweep_run (train, test, (const int *) sizes->data, (int) sizes->len,
                                  seeds, steps, arch, mask, sweep_job_point, &sr, cancellable,
                                  error);
  g_autofree char *csv = g_string_free (sr.csv, FALSE);
  if (!ok)
    return FALSE;
  g_autoptr (FwRunDir) rd = fw_run_dir_begin (r, error);
  if (rd == NULL || !fw_run_dir_write_recipe (rd, r, error)
      || !fw_run_dir_write (rd, "sweep.csv", csv, -1, error))
    return FALSE;
  g_autofree char *dir = fw_run_dir_commit (g_steal_pointer (&rd), error);
  if (dir == NULL)
    return FALSE;
  g_autofree char *summary = g_strdup_printf ("run folder: %s\n%d runs in sweep.csv", dir,
                                              sr.done);
  if (job != NULL)
    fw_job_set_summary (job, summary);
  return TRUE;
}
