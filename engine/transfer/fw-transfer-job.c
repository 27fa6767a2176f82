/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-transfer-job.c: the [transfer] recipe group and its job (frugal run, frugal transfer, the
 * Transfer page).
 *
 *   [transfer]
 *   mode = experiment            experiment | multitask
 *   source = sim:3000:20         source task (dataset spec); source_classes = 0-4 (optional)
 *   source_model =               a pre-trained .safetensors instead of pre-training
 *   source_limit = 0             pre-train on at most this many source samples (0 = all)
 *   pretrain_epochs = 4
 *   target = digits              target task; target_classes = 5-9 (optional)
 *   methods = scratch,head,finetune,lora,knn      (also prompt, prefix)
 *   labels_per_class = 1,5,10,50,0                (0 = all)
 *   seeds = 3
 *   steps = 150                  optimizer steps per training (min_epochs .. max_epochs)
 *   min_epochs = 3, max_epochs = 100
 *   head =                       the new head's spec ("" = dense:CLASSES)
 *   unfreeze_last = 0            fine-tune phase: the last k weight layers (0 = all)
 *   lr_scale = 0.1               fine-tune phase learning rate = lr * lr_scale
 *   lr_decay = 1                 ... times lr_decay^depth per weight layer below the head
 *   lora_rank = 4, lora_alpha = 8
 *   prompt = 2                   visual prompt frame width in pixels
 *   retrieval_k = 5, retrieval_mix = 1
 *   test_limit = 0               evaluate on at most this many test samples (0 = all)
 *   task1_per_class = 10         multitask: labels per class of task 1
 *   task2_limit = 6000           multitask: samples of task 2
 * Base keys used: [model] arch, [train] batch and lr (Adam; 0.002 when the file has no lr),
 * epochs (multitask), [run] seed, [output] dir. */
#include "fw-transfer.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-recipe-ext.h"

static const char *const transfer_keys[] = {
  "mode", "source", "source_classes", "source_model", "source_limit", "pretrain_epochs",
  "target", "target_classes", "methods", "labels_per_class", "seeds", "steps", "min_epochs",
  "max_epochs", "head", "unfreeze_last", "lr_scale", "lr_decay", "lora_rank", "lora_alpha", "prompt",
  "retrieval_k", "retrieval_mix", "test_limit", "task1_per_class", "task2_limit", NULL,
};

static const char *const modes[] = { "experiment", "multitask", NULL };

#define G "transfer"

gboolean
fw_transfer_config_from_recipe (const FwRecipe *r, FwTransferConfig *c, GError **error)
{
  fw_transfer_config_defaults (c);
  struct { const char *key; char **dst; } strs[] = {
    { "source", &c->source }, { "source_classes", &c->source_classes },
    { "source_model", &c->source_model }, { "target", &c->target },
    { "target_classes", &c->target_classes }, { "head", &c->head },
  };
  for (guint i = 0; i < G_N_ELEMENTS (strs); i++)
    {
      char *v = fw_recipe_ext_get_string (r, G, strs[i].key, *strs[i].dst);
      g_free (*strs[i].dst);
      *strs[i].dst = v;
    }
  g_free (c->arch);
  c->arch = g_strdup (r->arch);
  c->batch = r->train.batch;
  c->lr = r->kf != NULL && g_key_file_has_key (r->kf, "train", "lr", NULL) ? r->train.lr : 0.002;
  c->seed = r->seed;
  if (!fw_recipe_ext_get_int (r, G, "source_limit", c->source_limit, 0, G_MAXINT,
                              &c->source_limit, error)
      || !fw_recipe_ext_get_int (r, G, "pretrain_epochs", c->pretrain_epochs, 1, 1000,
                                 &c->pretrain_epochs, error)
      || !fw_recipe_ext_get_int (r, G, "seeds", c->seeds, 1, 100, &c->seeds, error)
      || !fw_recipe_ext_get_int (r, G, "steps", c->steps, 1, 1000000, &c->steps, error)
      || !fw_recipe_ext_get_int (r, G, "min_epochs", c->min_epochs, 1, 10000, &c->min_epochs,
                                 error)
      || !fw_recipe_ext_get_int (r, G, "max_epochs", c->max_epochs, 1, 10000, &c->max_epochs,
                                 error)
      || !fw_recipe_ext_get_int (r, G, "unfreeze_last", c->unfreeze_last, 0, 1000,
                                 &c->unfreeze_last, error)
      || !fw_recipe_ext_get_double (r, G, "lr_scale", c->lr_scale, 1e-6, 10, &c->lr_scale,
                                    error)
      || !fw_recipe_ext_get_double (r, G, "lr_decay", c->lr_decay, 0.01, 1, &c->lr_decay,
                                    error)
      || !fw_recipe_ext_get_int (r, G, "lora_rank", c->lora_rank, 1, 1024, &c->lora_rank, error)
      || !fw_recipe_ext_get_double (r, G, "lora_alpha", c->lora_alpha, 1e-6, 1e6,
                                    &c->lora_alpha, error)
      || !fw_recipe_ext_get_int (r, G, "prompt", c->prompt_pad, 1, 32, &c->prompt_pad, error)
      || !fw_recipe_ext_get_int (r, G, "retrieval_k", c->retrieval_k, 1, 1000, &c->retrieval_k,
                                 error)
      || !fw_recipe_ext_get_double (r, G, "retrieval_mix", c->retrieval_mix, 0, 1,
                                    &c->retrieval_mix, error)
      || !fw_recipe_ext_get_int (r, G, "test_limit", c->test_limit, 0, G_MAXINT,
                                 &c->test_limit, error)
      || !fw_recipe_ext_get_int (r, G, "task1_per_class", c->task1_per_class, 1, 100000,
                                 &c->task1_per_class, error)
      || !fw_recipe_ext_get_int (r, G, "task2_limit", c->task2_limit, 0, G_MAXINT,
                                 &c->task2_limit, error))
    return FALSE;
  g_autoptr (GArray) lpc = fw_recipe_ext_get_int_list (r, G, "labels_per_class", "1,5,10,50,0",
                                                       0, 1000000, error);
  if (lpc == NULL)
    return FALSE;
  if (lpc->len == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [transfer] labels_per_class is "
                   "empty; write e.g. 1,5,10,50,0 (0 = all)", r->path ? r->path : r->name);
      return FALSE;
    }
  g_free (c->labels_per_class);
  c->n_lpc = (int) lpc->len;
  c->labels_per_class = g_memdup2 (lpc->data, sizeof (int) * lpc->len);
  g_autofree char *methods = fw_recipe_ext_get_string (r, G, "methods", NULL);
  if (methods != NULL)
    {
      c->methods = 0;
      g_auto (GStrv) parts = g_strsplit (methods, ",", -1);
      for (int i = 0; parts[i] != NULL; i++)
        {
          g_autoptr (GError) e2 = NULL;
          int m = fw_transfer_method_parse (g_strstrip (parts[i]), &e2);
          if (m < 0)
            {
              g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [transfer] methods: %s",
                           r->path ? r->path : r->name, e2->message);
              return FALSE;
            }
          c->methods |= 1u << m;
        }
    }
  return TRUE;
}

int
fw_transfer_recipe_mode (const FwRecipe *r, GError **error)
{
  int mode;
  if (!fw_recipe_ext_get_choice (r, G, "mode", modes, 0, &mode, error))
    return -1;
  return mode;
}

/* ---- multi-task demonstration ---- */

void
fw_multitask_result_free (FwMultiTaskResult *r)
{
  g_free (r);
}

static void
mean_sd (const double *v, int n, double *mean, double *sd)
{
  double s = 0, ss = 0;
  for (int i = 0; i < n; i++)
    s += v[i];
  *mean = s / n;
  for (int i = 0; i < n; i++)
    ss += (v[i] - *mean) * (v[i] - *mean);
  *sd = n > 1 ? sqrt (ss / (n - 1)) : 0;
}

FwMultiTaskResult *
fw_multitask_demo (const FwTransferConfig *c, int epochs, FwJob *job,
                   GCancellable *cancellable, GError **error)
{
  g_autoptr (FwDataset) all = fw_dataset_load (c->target, c->seed, cancellable, error);
  if (all == NULL)
    return NULL;
  g_autoptr (FwDataset) test = fw_dataset_load_test (c->target, c->seed, cancellable, error);
  if (test == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, FW_ERROR, FW_ERROR_NOT_FOUND, "%s has no test split", c->target);
      return NULL;
    }
  if (c->test_limit > 0 && c->test_limit < test->n)
    {
      FwDataset *lim = fw_dataset_per_class (test, MAX (1, c->test_limit / test->n_classes),
                                             c->seed, NULL);
      fw_dataset_unref (test);
      test = lim;
    }
  g_autofree char *trunk = fw_multitask_trunk_spec (c->arch, all->shape, all->n_classes, error);
  if (trunk == NULL)
    return NULL;
  FwMultiTaskResult *res = g_new0 (FwMultiTaskResult, 1);
  res->seeds = MIN (c->seeds, FW_MULTITASK_MAX_SEEDS);
  double acc[3][FW_MULTITASK_MAX_SEEDS];
  for (int s = 0; s < res->seeds; s++)
    {
      guint64 seed = c->seed + (guint64) s;
      g_autoptr (FwDataset) rest = NULL;
      g_autoptr (FwDataset) t1 = fw_dataset_per_class (all, c->task1_per_class, seed, &rest);
      /* task 2: other images of the same source (many), coarse or random labels */
      int lim = c->task2_limit > 0 ? MIN (c->task2_limit, rest->n) : rest->n;
      g_autoptr (FwDataset) pool = fw_dataset_per_class (rest, MAX (1, lim / rest->n_classes),
                                                         seed, NULL);
      res->n1 = t1->n;
      res->n2 = pool->n;
      for (int v = 0; v < 3; v++)
        {
          g_autoptr (FwDataset) t2 = v == 0 ? NULL : fw_multitask_task2 (pool, v == 2, seed);
          g_autoptr (FwMultiTask) mt = fw_multitask_new (trunk, all->shape, all->n_classes,
                                                         t2 != NULL ? t2->n_classes : 2, seed,
                                                         error);
          if (mt == NULL)
            {
              fw_multitask_result_free (res);
              return NULL;
            }
          FwTrainConfig t;
          fw_train_config_defaults (&t);
          t.epochs = epochs;
          if (v == 0) /* alone: as many optimizer steps as the joint runs take */
            t.epochs = epochs * ((pool->n + c->batch - 1) / c->batch)
                       / MAX (1, (t1->n + c->batch - 1) / c->batch);
          t.batch = c->batch;
          t.opt = FW_OPT_ADAM;
          t.lr = c->lr;
          t.seed = seed;
          gint64 t0 = g_get_monotonic_time ();
          if (!fw_multitask_train (mt, &t, t1, t2, 1.0, cancellable, error))
            {
              fw_multitask_result_free (res);
              return NULL;
            }
          res->seconds[v] += (g_get_monotonic_time () - t0) / 1e6 / res->seeds;
          acc[v][s] = fw_multitask_accuracy (mt, 0, test);
          if (v > 0)
            {
              g_autoptr (FwDataset) t2test = fw_multitask_task2 (test, v == 2, seed + 7);
              res->task2_acc[v] += fw_multitask_accuracy (mt, 1, t2test) / res->seeds;
            }
          static const char *const names[3] = { "task 1 alone", "+ similar task 2 (coarse)",
                                                 "+ dissimilar task 2 (random labels)" };
          if (job != NULL)
            {
              fw_job_log (job, "seed %" G_GUINT64_FORMAT ", %s: task 1 accuracy %.1f%%", seed,
                          names[v], 100 * acc[v][s]);
              fw_job_progress (job, (s * 3 + v + 1) / (3.0 * res->seeds), s * 3 + v + 1,
                               3 * res->seeds, 0, 0, NAN, acc[v][s]);
            }
        }
    }
  for (int v = 0; v < 3; v++)
    {
      mean_sd (acc[v], res->seeds, &res->mean[v], &res->sd[v]);
      memcpy (res->acc[v], acc[v], sizeof (double) * res->seeds);
    }
  return res;
}

char *
fw_multitask_result_csv (const FwMultiTaskResult *r)
{
  static const char *const setups[3] = { "task 1 alone", "+ similar task 2",
                                         "+ dissimilar task 2" };
  GString *s = g_string_new ("setup,seed,task1_accuracy\n");
  for (int v = 0; v < 3; v++)
    for (int k = 0; k < r->seeds; k++)
      g_string_append_printf (s, "%s,%d,%.6f\n", setups[v], k + 1, r->acc[v][k]);
  return g_string_free (s, FALSE);
}

char *
fw_multitask_result_table (const FwMultiTaskResult *r)
{
  return g_strdup_printf ("task 1: %d labelled samples, task 2: %d samples, %d seeds\n"
                          "task 1 alone                          %5.1f%% ± %.1f  (%.1f s)\n"
                          "+ similar task 2 (coarse groups)      %5.1f%% ± %.1f  (%.1f s; task 2 "
                          "%.1f%%)\n"
                          "+ dissimilar task 2 (random labels)   %5.1f%% ± %.1f  (%.1f s; task 2 "
                          "%.1f%%)\n",
                          r->n1, r->n2, r->seeds, 100 * r->mean[0], 100 * r->sd[0],
                          r->seconds[0], 100 * r->mean[1], 100 * r->sd[1], r->seconds[1],
                          100 * r->task2_acc[1], 100 * r->mean[2], 100 * r->sd[2],
                          r->seconds[2], 100 * r->task2_acc[2]);
}

/* ---- the job ---- */

static gboolean
transfer_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  FwRecipe *r = data;
  int mode = fw_transfer_recipe_mode (r, error);
  if (mode < 0)
    return FALSE;
  FwTransferConfig c;
  if (!fw_transfer_config_from_recipe (r, &c, error))
    {
      fw_transfer_config_clear (&c);
      return FALSE;
    }
  g_autoptr (FwRunDir) rd = NULL;
  g_autofree char *table = NULL;
  gboolean ok = FALSE;
  if (mode == 0)
    {
      g_autoptr (FwTransferResult) res = fw_transfer_experiment (&c, job, cancellable, error);
      if (res != NULL && (rd = fw_run_dir_begin (r, error)) != NULL
          && fw_transfer_result_write (res, rd, error) && fw_run_dir_write_recipe (rd, r, error))
        {
          res->run_dir = fw_run_dir_commit (g_steal_pointer (&rd), error);
          if (res->run_dir != NULL)
            {
              g_autofree char *t = fw_transfer_result_table (res);
              table = g_strdup_printf ("%s\n%s", res->run_dir, t);
              fw_job_emit_snapshot (job, "transfer", g_steal_pointer (&res),
                                    (GDestroyNotify) fw_transfer_result_free);
              ok = TRUE;
            }
        }
    }
  else
    {
      g_autoptr (FwMultiTaskResult) res = fw_multitask_demo (&c, r->train.epochs, job,
                                                             cancellable, error);
      if (res != NULL && (rd = fw_run_dir_begin (r, error)) != NULL)
        {
          g_autofree char *t = fw_multitask_result_table (res);
          g_autofree char *csv = fw_multitask_result_csv (res);
          if (fw_run_dir_write (rd, "multitask.txt", t, -1, error)
              && fw_run_dir_write (rd, "multitask.csv", csv, -1, error)
              && fw_run_dir_write_recipe (rd, r, error))
            {
              g_autofree char *dir = fw_run_dir_commit (g_steal_pointer (&rd), error);
              if (dir != NULL)
                {
                  table = g_strdup_printf ("%s\n%s", dir, t);
                  fw_job_emit_snapshot (job, "multitask", g_steal_pointer (&res),
                                        (GDestroyNotify) fw_multitask_result_free);
                  ok = TRUE;
                }
            }
        }
    }
  if (ok)
    fw_job_set_summary (job, table);
  fw_transfer_config_clear (&c);
  return ok;
}

const FwRecipeExt fw_transfer_recipe_ext = {
  .group = "transfer",
  .title = "Transfer learning",
  .keys = transfer_keys,
  .run = transfer_job_run,
  .page = "transfer",
};
