/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-aug-sweep.c: test accuracy vs labels per class with and without augmentation. */
#include "fw-aug-sweep.h"

#include "fw-augment.h"
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
