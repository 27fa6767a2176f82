/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-prune-job.c: the [prune] recipe group and its job (see fw-prune.h).
 *
 *   [prune] criterion = magnitude       magnitude | saliency | snip | movement
 *           granularity = weights       weights | neurons | channels | units | layers |
 *                                       blocks (1 x 8 runs of a row, for the block-CSR kernel)
 *           scope = per-layer           per-layer | global
 *           sparsity = 0.9              fraction of prunable weights (units, blocks) removed
 *           schedule = cubic            oneshot | cubic | geometric
 *           steps = 5                   prune steps (iterative schedules)
 *           finetune_epochs = 1         fine-tuning epochs after each step
 *           finetune_lr = 0             0: [train] lr
 *           score_batches = 16          minibatches of gradients for saliency / snip
 *           prune_last = true           the logits layer's weights may be pruned
 *           l1 = 0, group_lasso = 0     regularisers (proximal steps) in all training
 *           reg_epochs = 0              regularised epochs before pruning
 *           lottery = false             lottery-ticket rounds (train, prune, rewind)
 *           rewind_batches = 0          rewind to init (0) or after this many minibatches
 *           random_reinit = true        lottery control: same mask, fresh initialisation
 *           seeds = 1                   lottery: seeds [run] seed .. seed + seeds - 1
 *           compact = true              save the physically smaller model
 *           model =                     prune this saved model instead of training one
 *                                       ([model] init = FILE does the same)
 *
 * The run folder: recipe.ini, metrics.csv (one row per step / round), summary.json,
 * model.safetensors (the pruned model as stored: smaller dense/conv or CSR layers),
 * dense.safetensors (the same weights in the original dense layout, zeros included),
 * base.safetensors (the model before pruning; not for lottery runs, which train per seed). */
#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-gemm.h"
#include "fw-prune-private.h"
#include "fw-recipe-ext.h"
#include "fw-run-dir.h"
#include "fw-safetensors.h"
#include "fw-util.h"

/* Dense layers at least this sparse run as CSR. The sparse kernel reads an index per weight,
 * so below about half zeros the dense GEMM is as fast (tests/bench/prune-speed.sh). */
#define SPARSE_MIN 0.5

static const char *const prune_keys[] = {
  "criterion", "granularity", "scope", "sparsity", "schedule", "steps", "finetune_epochs",
  "finetune_lr", "score_batches", "prune_last", "l1", "group_lasso", "reg_epochs", "lottery",
  "rewind_batches", "random_reinit", "seeds", "compact", "model", NULL,
};

const char *const *
fw_prune_keys (void)
{
  return prune_keys;
}

const FwRecipeExt fw_prune_recipe_ext = {
  .group = "prune",
  .title = "Pruning",
  .keys = prune_keys,
  .run = fw_prune_job_run,
  .page = "compress",
};

void
fw_prune_config_defaults (FwPruneConfig *c)
{
  memset (c, 0, sizeof *c);
  c->criterion = FW_PRUNE_MAGNITUDE;
  c->granularity = FW_PRUNE_WEIGHTS;
  c->scope = FW_PRUNE_PER_LAYER;
  c->sparsity = 0.9;
  c->schedule = FW_PRUNE_CUBIC;
  c->steps = 5;
  c->finetune_epochs = 1;
  c->score_batches = 16;
  c->prune_last = TRUE;
  c->random_reinit = TRUE;
  c->seeds = 1;
  c->compact = TRUE;
}

void
fw_prune_config_clear (FwPruneConfig *c)
{
  g_clear_pointer (&c->model, g_free);
}

gboolean
fw_prune_config_check (const FwPruneConfig *c, const char *file, GError **error)
{
  const char *f = file != NULL ? file : "recipe";
  if (!(c->sparsity >= 0 && c->sparsity < 1))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [prune] sparsity: %g is not in "
                   "[0, 1) — write the fraction of weights to remove, e.g. 0.9", f, c->sparsity);
      return FALSE;
    }
  if (c->lottery && c->granularity != FW_PRUNE_WEIGHTS && c->granularity != FW_PRUNE_BLOCKS)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [prune] lottery = true prunes "
                   "weights: set granularity = weights (or blocks)", f);
      return FALSE;
    }
  if (c->lottery && c->criterion != FW_PRUNE_MAGNITUDE)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [prune] lottery = true uses "
                   "magnitude pruning: set criterion = magnitude", f);
      return FALSE;
    }
  if (c->granularity == FW_PRUNE_LAYERS && c->criterion != FW_PRUNE_MAGNITUDE)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [prune] granularity = layers "
                   "ranks blocks by the validation loss without them: leave criterion = "
                   "magnitude", f);
      return FALSE;
    }
  if (c->criterion == FW_PRUNE_SNIP && c->model != NULL && *c->model)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [prune] criterion = snip prunes at "
                   "initialisation: it cannot start from a trained model (remove model)", f);
      return FALSE;
    }
  return TRUE;
}

#define GET(call) \
  if (!(call)) \
    return FALSE

gboolean
fw_prune_config_from_recipe (FwPruneConfig *c, const FwRecipe *r, GError **error)
{
  const char *G = "prune";
  int v;
  fw_prune_config_defaults (c);
  GET (fw_recipe_ext_get_choice (r, G, "criterion", fw_prune_criterion_names (), c->criterion, &v,
                                 error));
  c->criterion = v;
  GET (fw_recipe_ext_get_choice (r, G, "granularity", fw_prune_granularity_names (),
                                 c->granularity, &v, error));
  c->granularity = v;
  GET (fw_recipe_ext_get_choice (r, G, "scope", fw_prune_scope_names (), c->scope, &v, error));
  c->scope = v;
  GET (fw_recipe_ext_get_double (r, G, "sparsity", c->sparsity, 0.0, 0.999, &c->sparsity,
                                 error));
  GET (fw_recipe_ext_get_choice (r, G, "schedule", fw_prune_schedule_names (), c->schedule, &v,
                                 error));
  c->schedule = v;
  GET (fw_recipe_ext_get_int (r, G, "steps", c->steps, 1, 100, &c->steps, error));
  GET (fw_recipe_ext_get_int (r, G, "finetune_epochs", c->finetune_epochs, 0, 1000,
                              &c->finetune_epochs, error));
  GET (fw_recipe_ext_get_double (r, G, "finetune_lr", 0.0, 0.0, 10.0, &c->finetune_lr, error));
  GET (fw_recipe_ext_get_int (r, G, "score_batches", c->score_batches, 1, 10000,
                              &c->score_batches, error));
  GET (fw_recipe_ext_get_bool (r, G, "prune_last", c->prune_last, &c->prune_last, error));
  GET (fw_recipe_ext_get_double (r, G, "l1", 0.0, 0.0, 100.0, &c->l1, error));
  GET (fw_recipe_ext_get_double (r, G, "group_lasso", 0.0, 0.0, 100.0, &c->group_lasso,
                                 error));
  GET (fw_recipe_ext_get_int (r, G, "reg_epochs", 0, 0, 1000, &c->reg_epochs, error));
  GET (fw_recipe_ext_get_bool (r, G, "lottery", FALSE, &c->lottery, error));
  GET (fw_recipe_ext_get_int (r, G, "rewind_batches", 0, 0, 1 << 30, &c->rewind_batches,
                              error));
  GET (fw_recipe_ext_get_bool (r, G, "random_reinit", TRUE, &c->random_reinit, error));
  GET (fw_recipe_ext_get_int (r, G, "seeds", 1, 1, 100, &c->seeds, error));
  GET (fw_recipe_ext_get_bool (r, G, "compact", TRUE, &c->compact, error));
  c->model = fw_recipe_ext_get_string (r, G, "model", "");
  if (*c->model == '\0')
    g_clear_pointer (&c->model, g_free);
  if (c->schedule == FW_PRUNE_ONESHOT && !c->lottery)
    c->steps = 1;
  return fw_prune_config_check (c, r->path, error);
}

void
fw_prune_config_to_recipe (const FwPruneConfig *c, FwRecipe *r)
{
  const char *G = "prune";
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_autofree char *steps = g_strdup_printf ("%d", c->steps);
  g_autofree char *ft = g_strdup_printf ("%d", c->finetune_epochs);
  g_autofree char *sb = g_strdup_printf ("%d", c->score_batches);
  g_autofree char *re = g_strdup_printf ("%d", c->reg_epochs);
  g_autofree char *rb = g_strdup_printf ("%d", c->rewind_batches);
  g_autofree char *seeds = g_strdup_printf ("%d", c->seeds);
  fw_recipe_ext_set (r, G, "criterion", fw_prune_criterion_names ()[c->criterion]);
  fw_recipe_ext_set (r, G, "granularity", fw_prune_granularity_names ()[c->granularity]);
  fw_recipe_ext_set (r, G, "scope", fw_prune_scope_names ()[c->scope]);
  fw_recipe_ext_set (r, G, "sparsity", g_ascii_dtostr (buf, sizeof buf, c->sparsity));
  fw_recipe_ext_set (r, G, "schedule", fw_prune_schedule_names ()[c->schedule]);
  fw_recipe_ext_set (r, G, "steps", steps);
  fw_recipe_ext_set (r, G, "finetune_epochs", ft);
  fw_recipe_ext_set (r, G, "finetune_lr", g_ascii_dtostr (buf, sizeof buf, c->finetune_lr));
  fw_recipe_ext_set (r, G, "score_batches", sb);
  fw_recipe_ext_set (r, G, "prune_last", c->prune_last ? "true" : "false");
  fw_recipe_ext_set (r, G, "l1", g_ascii_dtostr (buf, sizeof buf, c->l1));
  fw_recipe_ext_set (r, G, "group_lasso", g_ascii_dtostr (buf, sizeof buf, c->group_lasso));
  fw_recipe_ext_set (r, G, "reg_epochs", re);
  fw_recipe_ext_set (r, G, "lottery", c->lottery ? "true" : "false");
  fw_recipe_ext_set (r, G, "rewind_batches", rb);
  fw_recipe_ext_set (r, G, "random_reinit", c->random_reinit ? "true" : "false");
  fw_recipe_ext_set (r, G, "seeds", seeds);
  fw_recipe_ext_set (r, G, "compact", c->compact ? "true" : "false");
  fw_recipe_ext_set (r, G, "model", c->model != NULL ? c->model : "");
}

/* ---- the job ---- */

typedef struct {
  const FwRecipe *r;
  FwPruneConfig cfg;
  FwJob *job;               /* NULL when run synchronously */
  GCancellable *cancellable;
  FwDataset *train, *val, *test;
  FwDataset *eval_set;      /* test, else val, else NULL */
  FwPruneResult *res;
  /* progress over the whole job, in epochs */
  double epochs_total, epochs_done;
  /* the state the epoch hook reports */
  FwModel *model;
  const FwPruneMask *mask;
  int step, n_steps, seed;
  const char *phase;
  double target;
} Ctx;

static void G_GNUC_PRINTF (2, 3)
ctx_log (Ctx *c, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (c->job != NULL)
    fw_job_log (c->job, "%s", msg);
  else
    g_debug ("%s", msg);
}

static double
accuracy (Ctx *c, FwModel *m, FwDataset *ds, GError **error)
{
  if (ds == NULL)
    return NAN;
  g_autoptr (FwEvalResult) e = fw_evaluate (m, ds, 256, c->cancellable, error);
  return e != NULL ? e->accuracy : -1.0;
}

static void
emit (Ctx *c, FwModel *m, const FwPruneMask *mask, int epoch, double acc)
{
  if (c->job == NULL)
    return;
  FwPruneSnapshot *s = fw_prune_snapshot_new (m, mask);
  s->step = c->step;
  s->n_steps = c->n_steps;
  s->epoch = epoch;
  s->phase = c->phase;
  s->target = c->target;
  s->accuracy = acc;
  fw_job_emit_snapshot (c->job, "prune-step", s, (GDestroyNotify) fw_prune_snapshot_unref);
}

static void
hook_batch (gpointer user, int epoch, int n_epochs, int batch, int n_batches, double loss,
            double acc)
{
  Ctx *c = user;
  if (c->job == NULL)
    return;
  double done = c->epochs_done + (epoch - 1) + (double) batch / n_batches;
  fw_job_progress (c->job, done / MAX (c->epochs_total, 1e-9), epoch, n_epochs, batch,
                   n_batches, loss, acc);
}

static void
hook_epoch (gpointer user, const FwEpochMetrics *row)
{
  Ctx *c = user;
  if (c->job == NULL)
    return;
  fw_job_emit_epoch (c->job, row);
  double acc = !isnan (row->test_acc) ? row->test_acc : row->val_acc;
  emit (c, c->model, c->mask, row->epoch, acc);
}

/* Trains m for `epochs` epochs with the mask re-applied and the regularisers after every step;
 * movement scores accumulate into movement when not NULL. */
static gboolean
train_masked (Ctx *c, FwModel *m, const FwPruneMask *mask, int epochs, double lr,
              float *movement, FwPruneTrainer *trainer_out, GError **error)
{
  if (epochs <= 0)
    return TRUE;
  FwTrainConfig tc = c->r->train;
  tc.epochs = epochs;
  if (lr > 0)
    tc.lr = lr;
  tc.patience = 0;
  FwTrainHooks next = { hook_batch, hook_epoch, c };
  FwPruneTrainer local, *t = trainer_out != NULL ? trainer_out : &local;
  if (trainer_out == NULL)
    fw_prune_trainer_init (t, m, mask, &tc, &next);
  else
    {
      t->cfg = &tc;
      t->next = &next;
      t->mask = mask;
    }
  t->l1 = c->cfg.l1;
  t->group_lasso = c->cfg.group_lasso;
  t->movement = movement;
  c->model = m;
  c->mask = mask;
  if (mask != NULL)
    fw_prune_mask_apply (mask, m);
  gboolean ok = fw_train (m, &tc, c->train, c->val, c->eval_set == c->test ? c->test : NULL,
                          &t->hooks, c->cancellable, NULL, error);
  c->epochs_done += epochs;
  t->cfg = NULL;
  t->next = NULL;
  return ok;
}

static void
add_row (Ctx *c, FwModel *m, const FwPruneMask *mask, double test_acc, double val_acc)
{
  FwPruneRow row = {
    .step = c->step, .phase = c->phase, .seed = c->seed, .target = c->target,
    .sparsity = mask != NULL ? fw_prune_mask_sparsity (mask, m, -1)
                             : fw_prune_zero_fraction (m, -1),
    .val_acc = val_acc, .test_acc = test_acc,
  };
  for (gsize i = 0; i < m->n_params; i++)
    row.params_nonzero += m->params[i] != 0.0f;
  g_array_append_val (c->res->rows, row);
}

static gboolean
measure_row (Ctx *c, FwModel *m, const FwPruneMask *mask, double *acc_out, GError **error)
{
  double ta = accuracy (c, m, c->test, error);
  if (ta < 0)
    return FALSE;
  double va = accuracy (c, m, c->val, error);
  if (va < 0)
    return FALSE;
  add_row (c, m, mask, ta, va);
  *acc_out = c->eval_set == c->test ? ta : va;
  return TRUE;
}

static FwModel *
base_model (Ctx *c, gboolean trained, guint64 seed, GError **error)
{
  g_autoptr (GError) local = NULL;
  if (c->cfg.model != NULL)
    {
      FwModel *m = fw_model_load (c->cfg.model, NULL, &local);
      if (m == NULL)
        {
          g_set_error (error, local->domain, local->code, "[prune] model = %s: %s",
                       c->cfg.model, local->message);
          return NULL;
        }
      if (fw_shape_size (m->input) != fw_shape_size (c->train->shape)
          || m->n_classes != c->train->n_classes)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "[prune] model = %s takes %dx%dx%d "
                       "inputs and %d classes, the dataset has %dx%dx%d and %d — prune a "
                       "model made for this dataset", c->cfg.model, m->input.c, m->input.h,
                       m->input.w, m->n_classes, c->train->shape.c, c->train->shape.h,
                       c->train->shape.w, c->train->n_classes);
          fw_model_unref (m);
          return NULL;
        }
      ctx_log (c, "pruning %s (%s)", c->cfg.model, m->spec);
      return m;
    }
  g_autoptr (FwRecipe) r = fw_recipe_copy (c->r);
  r->seed = seed;
  g_autoptr (FwModel) m = fw_recipe_build_model (r, c->job, c->train, error);
  if (m == NULL)
    return NULL;
  if (trained)
    {
      ctx_log (c, "training the dense model (%d epochs)%s", c->r->train.epochs,
               c->cfg.l1 > 0 || c->cfg.group_lasso > 0 ? " with the regularisers" : "");
      c->phase = "base";
      if (!train_masked (c, m, NULL, c->r->train.epochs, 0, NULL, NULL, error))
        return NULL;
    }
  return g_steal_pointer (&m);
}

static gboolean
prune_layers (Ctx *c, FwModel **mp, GError **error)
{
  FwModel *m = *mp;
  int L = m->n_layers;
  g_autofree int *first = g_new (int, (guint) L), *last = g_new (int, (guint) L);
  int nb = fw_prune_layer_blocks (m, first, last, L);
  int n_remove = (int) floor (c->cfg.sparsity * nb + 0.5);
  if (nb == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "granularity = layers: the model %s has "
                   "no block whose output shape equals its input shape (e.g. dense:256 after a "
                   "256-wide layer) — use neurons or weights", m->spec);
      return FALSE;
    }
  FwDataset *probe = c->val != NULL ? c->val : c->train;
  c->n_steps = n_remove;
  for (int step = 1; step <= n_remove; step++)
    {
      nb = fw_prune_layer_blocks (m, first, last, L);
      int best = -1;
      double best_loss = INFINITY;
      for (int b = 0; b < nb; b++)
        {
          g_autofree gboolean *rm = g_new0 (gboolean, (guint) nb);
          rm[b] = TRUE;
          g_autoptr (FwModel) cand = fw_prune_remove_blocks (m, rm, error);
          if (cand == NULL)
            return FALSE;
          g_autoptr (FwEvalResult) e = fw_evaluate (cand, probe, 256, c->cancellable, error);
          if (e == NULL)
            return FALSE;
          ctx_log (c, "  without layers %d-%d: loss %.4f, accuracy %.2f%%", first[b] + 1,
                   last[b] + 1, e->loss, 100 * e->accuracy);
          if (e->loss < best_loss)
            {
              best_loss = e->loss;
              best = b;
            }
        }
      g_autofree gboolean *rm = g_new0 (gboolean, (guint) nb);
      rm[best] = TRUE;
      ctx_log (c, "step %d: removing layers %d-%d", step, first[best] + 1, last[best] + 1);
      FwModel *n = fw_prune_remove_blocks (m, rm, error);
      if (n == NULL)
        return FALSE;
      fw_model_unref (m);
      *mp = m = n;
      c->step = step;
      c->target = (double) step / nb;
      c->phase = "prune";
      double acc;
      if (!measure_row (c, m, NULL, &acc, error))
        return FALSE;
      emit (c, m, NULL, 0, acc);
      c->phase = "finetune";
      if (!train_masked (c, m, NULL, c->cfg.finetune_epochs, c->cfg.finetune_lr, NULL, NULL,
                         error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
scores_for (Ctx *c, FwModel *m, const float *movement, float *scores, GError **error)
{
  switch (c->cfg.criterion)
    {
    case FW_PRUNE_MAGNITUDE:
      fw_prune_score_magnitude (m, scores);
      return TRUE;
    case FW_PRUNE_SALIENCY:
    case FW_PRUNE_SNIP:
      return fw_prune_score_saliency (m, c->train, c->cfg.score_batches, c->r->train.batch,
                                      c->r->seed + (guint64) c->step, scores, c->cancellable,
                                      error);
    case FW_PRUNE_MOVEMENT:
      memcpy (scores, movement, sizeof (float) * m->n_params);
      return TRUE;
    }
  return FALSE;
}

/* prune -> fine-tune, T steps; SNIP: prune once at initialisation, then train */
static gboolean
prune_iterative (Ctx *c, FwModel *m, FwPruneMask *mask, GError **error)
{
  const FwPruneConfig *p = &c->cfg;
  gboolean snip = p->criterion == FW_PRUNE_SNIP;
  int T = snip || p->schedule == FW_PRUNE_ONESHOT ? 1 : p->steps;
  g_autofree float *scores = g_new (float, m->n_params);
  g_autofree float *movement = p->criterion == FW_PRUNE_MOVEMENT
                                 ? g_new0 (float, m->n_params) : NULL;
  c->n_steps = T;
  if (movement != NULL)
    {
      /* movement needs weights in motion: fine-tune first, accumulating -w dL/dw */
      c->phase = "score";
      ctx_log (c, "movement scores: %d epoch(s) of fine-tuning", MAX (p->finetune_epochs, 1));
      if (!train_masked (c, m, mask, MAX (p->finetune_epochs, 1), p->finetune_lr, movement,
                         NULL, error))
        return FALSE;
    }
  for (int t = 1; t <= T; t++)
    {
      c->step = t;
      c->target = fw_prune_schedule_at (p->schedule, p->sparsity, t, T);
      if (!scores_for (c, m, movement, scores, error))
        return FALSE;
      gsize n = fw_prune_select (m, scores, p->granularity, p->scope, c->target, p->prune_last,
                                 mask);
      fw_prune_mask_apply (mask, m);
      c->phase = "prune";
      double acc;
      if (!measure_row (c, m, mask, &acc, error))
        return FALSE;
      ctx_log (c, "step %d/%d: pruned %" G_GSIZE_FORMAT " more %s, sparsity %.1f%% (target "
               "%.1f%%), accuracy %.2f%%", t, T, n, p->granularity == FW_PRUNE_WEIGHTS
               ? "weights" : p->granularity == FW_PRUNE_BLOCKS ? "blocks" : "units", 100 * fw_prune_mask_sparsity (mask, m, -1),
               100 * c->target, 100 * acc);
      emit (c, m, mask, 0, acc);
      c->phase = "finetune";
      int epochs = snip ? c->r->train.epochs : p->finetune_epochs;
      if (!train_masked (c, m, mask, epochs, snip ? 0 : p->finetune_lr, movement, NULL, error))
        return FALSE;
      if (!measure_row (c, m, mask, &acc, error))
        return FALSE;
      ctx_log (c, "step %d/%d: after %d epoch(s) of fine-tuning, accuracy %.2f%%", t, T, epochs,
               100 * acc);
    }
  return TRUE;
}

/* Lottery ticket: train, prune, rewind, T rounds; then the final ticket and its random
 * re-initialisation are trained and compared. Returns the final ticket in *ticket. */
static gboolean
lottery_seed (Ctx *c, guint64 seed, FwModel **ticket, FwPruneMask **mask_out, GError **error)
{
  const FwPruneConfig *p = &c->cfg;
  int T = p->steps;
  c->seed = (int) seed;
  g_autoptr (FwModel) m = base_model (c, FALSE, seed, error);
  if (m == NULL)
    return FALSE;
  g_autofree float *init = g_memdup2 (m->params, sizeof (float) * m->n_params);
  g_autofree float *early = p->rewind_batches > 0 ? g_new0 (float, m->n_params) : NULL;
  g_autoptr (FwPruneMask) mask = fw_prune_mask_new (m);
  g_autofree float *scores = g_new (float, m->n_params);
  FwPruneTrainer t;
  fw_prune_trainer_init (&t, m, mask, NULL, NULL);
  t.rewind_at = p->rewind_batches > 0 ? p->rewind_batches : -1;
  t.rewind_params = early;
  c->n_steps = T;
  double acc;
  for (int round = 0; round <= T; round++)
    {
      c->step = round;
      c->target = round == 0 ? 0.0 : fw_prune_schedule_at (p->schedule, p->sparsity, round, T);
      if (round > 0)
        {
          fw_prune_score_magnitude (m, scores);
          fw_prune_select (m, scores, p->granularity, p->scope, c->target, p->prune_last,
                           mask);
          /* rewind the kept weights to their early values (init when rewind_batches = 0) */
          fw_prune_rewind (m, early != NULL ? early : init, mask);
        }
      c->phase = round == T ? "ticket" : "train";
      if (!train_masked (c, m, mask, c->r->train.epochs, 0, NULL, &t, error)
          || !measure_row (c, m, mask, &acc, error))
        return FALSE;
      ctx_log (c, "seed %d round %d/%d: %.1f%% of weights left, accuracy %.2f%%", (int) seed,
               round, T, 100 * (1 - fw_prune_mask_sparsity (mask, m, -1)), 100 * acc);
      if (early != NULL && t.steps < t.rewind_at)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "[prune] rewind_batches = %d is more "
                       "than the %" G_GINT64_FORMAT " minibatches of the first training — "
                       "rewind earlier", p->rewind_batches, t.steps);
          return FALSE;
        }
    }
  if (p->random_reinit)
    {
      /* the control: the same mask from a fresh initialisation */
      g_autoptr (FwModel) rnd = fw_model_copy (m);
      fw_model_init (rnd, seed + 7919);
      c->phase = "random";
      if (!train_masked (c, rnd, mask, c->r->train.epochs, 0, NULL, NULL, error)
          || !measure_row (c, rnd, mask, &acc, error))
        return FALSE;
      ctx_log (c, "seed %d random re-initialisation of the same mask: accuracy %.2f%%",
               (int) seed, 100 * acc);
    }
  *ticket = g_steal_pointer (&m);
  *mask_out = g_steal_pointer (&mask);
  return TRUE;
}

static void
csv_num (GString *s, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  if (isnan (v))
    g_string_append (s, ",");
  else
    g_string_append_printf (s, ",%s", g_ascii_formatd (buf, sizeof buf, "%.6g", v));
}

static char *
rows_csv (GArray *rows)
{
  GString *s = g_string_new ("step,phase,seed,target,sparsity,val_acc,test_acc,"
                             "params_nonzero\n");
  for (guint i = 0; i < rows->len; i++)
    {
      const FwPruneRow *r = &g_array_index (rows, FwPruneRow, i);
      g_string_append_printf (s, "%d,%s,%d", r->step, r->phase, r->seed);
      csv_num (s, r->target);
      csv_num (s, r->sparsity);
      csv_num (s, r->val_acc);
      csv_num (s, r->test_acc);
      g_string_append_printf (s, ",%" G_GSIZE_FORMAT "\n", r->params_nonzero);
    }
  return g_string_free (s, FALSE);
}

/* mean and standard deviation of the test accuracy of rows with this phase and step T */
static void
phase_stats (GArray *rows, const char *phase, double *mean, double *sd, int *n)
{
  double s = 0, ss = 0;
  *n = 0;
  for (guint i = 0; i < rows->len; i++)
    {
      const FwPruneRow *r = &g_array_index (rows, FwPruneRow, i);
      if (strcmp (r->phase, phase) != 0 || isnan (r->test_acc))
        continue;
      s += r->test_acc;
      ss += r->test_acc * r->test_acc;
      (*n)++;
    }
  *mean = *n > 0 ? s / *n : NAN;
  *sd = *n > 1 ? sqrt (MAX (0.0, (ss - s * s / *n) / (*n - 1))) : 0.0;
}

static char *
summary_json (Ctx *c, const FwModel *saved, gint64 bytes, gint64 dense_bytes)
{
  const FwPruneConfig *p = &c->cfg;
  GString *s = g_string_new ("{\n");
  char b1[G_ASCII_DTOSTR_BUF_SIZE];
#define NUM(name, v) \
  g_string_append_printf (s, "  \"%s\": %s,\n", name, \
                          isnan (v) ? "null" : g_ascii_formatd (b1, sizeof b1, "%.6g", v))
  g_string_append_printf (s, "  \"criterion\": \"%s\",\n  \"granularity\": \"%s\",\n"
                          "  \"scope\": \"%s\",\n  \"schedule\": \"%s\",\n",
                          fw_prune_criterion_names ()[p->criterion],
                          fw_prune_granularity_names ()[p->granularity],
                          fw_prune_scope_names ()[p->scope],
                          fw_prune_schedule_names ()[p->schedule]);
  NUM ("target_sparsity", p->sparsity);
  NUM ("sparsity", c->res->sparsity);
  NUM ("base_test_acc", c->res->base_acc);
  NUM ("final_test_acc", c->res->final_acc);
  if (p->lottery)
    {
      double m, sd;
      int n;
      phase_stats (c->res->rows, "ticket", &m, &sd, &n);
      NUM ("ticket_test_acc_mean", m);
      NUM ("ticket_test_acc_sd", sd);
      phase_stats (c->res->rows, "random", &m, &sd, &n);
      NUM ("random_test_acc_mean", m);
      NUM ("random_test_acc_sd", sd);
      g_string_append_printf (s, "  \"seeds\": %d,\n", p->seeds);
    }
  g_string_append_printf (s, "  \"spec\": \"%s\",\n", saved->spec);
  g_string_append_printf (s, "  \"params_stored\": %" G_GSIZE_FORMAT ",\n",
                          fw_model_param_count (saved));
  g_string_append_printf (s, "  \"model_bytes\": %" G_GINT64_FORMAT ",\n", bytes);
  g_string_append_printf (s, "  \"dense_bytes\": %" G_GINT64_FORMAT "\n}\n", dense_bytes);
#undef NUM
  return g_string_free (s, FALSE);
}

static FwPruneResult *
prune_run (const FwRecipe *r, FwJob *job, GCancellable *cancellable, GError **error)
{
  Ctx c = { .r = r, .job = job, .cancellable = cancellable, .seed = (int) r->seed };
  if (!fw_prune_config_from_recipe (&c.cfg, r, error))
    return NULL;
  g_autoptr (FwPruneResult) res = fw_prune_result_new ();
  c.res = res;
  FwPruneConfig *p = &c.cfg;
  fw_blas_set_threads (MAX (r->threads, 1));
  gboolean ok = fw_recipe_load_datasets (r, job, cancellable, &c.train, &c.val, &c.test,
                                         error);
  g_autoptr (FwModel) m = NULL;
  g_autoptr (FwModel) dense = NULL;
  g_autoptr (FwPruneMask) mask = NULL;
  g_autoptr (FwModel) saved = NULL;
  g_autoptr (FwModel) base = NULL;
  if (!ok)
    goto out;
  c.eval_set = c.test != NULL ? c.test : c.val;

  /* the job's length in epochs, for one progress bar */
  /* the model to prune: [prune] model, else [model] init as it is, else trained here */
  gboolean has_init = r->init != NULL && *r->init != '\0';
  gboolean trained_base = p->model == NULL && !has_init && p->criterion != FW_PRUNE_SNIP
                          && !p->lottery;
  int T = p->schedule == FW_PRUNE_ONESHOT || p->criterion == FW_PRUNE_SNIP ? 1 : p->steps;
  if (p->lottery)
    c.epochs_total = (double) p->seeds * r->train.epochs * (p->steps + 1 + p->random_reinit);
  else if (p->criterion == FW_PRUNE_SNIP)
    c.epochs_total = r->train.epochs;
  else
    c.epochs_total = (trained_base ? r->train.epochs : 0) + p->reg_epochs
                     + (double) T * p->finetune_epochs
                     + (p->criterion == FW_PRUNE_MOVEMENT ? MAX (p->finetune_epochs, 1) : 0);

  if (p->lottery)
    {
      for (int s = 0; s < p->seeds && ok; s++)
        {
          g_clear_pointer (&m, fw_model_unref);
          g_clear_pointer (&mask, fw_prune_mask_free);
          ok = lottery_seed (&c, r->seed + (guint64) s, &m, &mask, error);
        }
      if (!ok)
        goto out;
      /* the dense baseline: round 0 of each seed */
      double sum = 0;
      int n = 0;
      for (guint i = 0; i < res->rows->len; i++)
        {
          const FwPruneRow *row = &g_array_index (res->rows, FwPruneRow, i);
          if (row->step == 0)
            {
              sum += row->test_acc;
              n++;
            }
        }
      res->base_acc = n > 0 ? sum / n : NAN;
    }
  else
    {
      m = base_model (&c, trained_base, r->seed, error);
      if (m == NULL)
        goto fail;
      c.phase = "base";
      c.step = 0;
      double acc;
      if (!measure_row (&c, m, NULL, &acc, error))
        goto fail;
      res->base_acc = accuracy (&c, m, c.test, error);
      ctx_log (&c, "dense model: accuracy %.2f%%, %.1f%% of weights zero", 100 * acc,
               100 * fw_prune_zero_fraction (m, -1));
      emit (&c, m, NULL, 0, acc);
      base = fw_model_copy (m);
      if (p->reg_epochs > 0)
        {
          c.phase = "regularise";
          if (!train_masked (&c, m, NULL, p->reg_epochs, 0, NULL, NULL, error)
              || !measure_row (&c, m, NULL, &acc, error))
            goto fail;
          ctx_log (&c, "after %d regularised epochs: accuracy %.2f%%, %.1f%% of weights zero",
                   p->reg_epochs, 100 * acc, 100 * fw_prune_zero_fraction (m, -1));
        }
      if (p->granularity == FW_PRUNE_LAYERS)
        ok = prune_layers (&c, &m, error);
      else
        {
          mask = fw_prune_mask_new (m);
          ok = prune_iterative (&c, m, mask, error);
        }
      if (!ok)
        goto out;
    }

  /* the physically smaller form */
  dense = fw_model_ref (m);
  if (mask != NULL)
    fw_prune_mask_apply (mask, m);
  res->sparsity = mask != NULL ? fw_prune_mask_sparsity (mask, m, -1)
                               : 1.0 - (double) m->n_params / MAX (m->n_params, 1);
  if (p->compact && mask != NULL && p->granularity != FW_PRUNE_WEIGHTS
      && p->granularity != FW_PRUNE_BLOCKS)
    saved = fw_prune_shrink (m, mask, error);
  else if (p->compact && mask != NULL)
    saved = fw_prune_sparsify (m, SPARSE_MIN, error);
  else
    saved = fw_model_ref (m);
  if (saved == NULL)
    goto fail;
  res->final_acc = accuracy (&c, saved, c.test, error);
  if (res->final_acc < 0)
    goto fail;
  c.phase = "done";
  emit (&c, m, mask, 0, res->final_acc);

  /* the run folder */
  {
    g_autoptr (FwRunDir) rd = fw_run_dir_begin (r, error);
    if (rd == NULL)
      goto fail;
    g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
    g_autofree char *how = g_strdup_printf ("%s %s %s %.3g",
                                            fw_prune_criterion_names ()[p->criterion],
                                            fw_prune_granularity_names ()[p->granularity],
                                            fw_prune_scope_names ()[p->scope], res->sparsity);
    g_hash_table_insert (meta, (gpointer) "pruned", how);
    gint64 bytes = -1, dense_bytes = -1;
    g_autofree char *csv = rows_csv (res->rows);
    if (!fw_run_dir_save_model (rd, "model.safetensors", saved, meta, &bytes, error)
        || !fw_run_dir_save_model (rd, "dense.safetensors", dense, meta, &dense_bytes, error)
        || (base != NULL
            && !fw_run_dir_save_model (rd, "base.safetensors", base, NULL, NULL, error))
        || !fw_run_dir_write (rd, "metrics.csv", csv, -1, error))
      goto fail;
    g_autofree char *json = summary_json (&c, saved, bytes, dense_bytes);
    if (!fw_run_dir_write (rd, "summary.json", json, -1, error)
        || !fw_run_dir_write_recipe (rd, r, error))
      goto fail;
    res->run_dir = fw_run_dir_commit (g_steal_pointer (&rd), error);
    if (res->run_dir == NULL)
      goto fail;
    res->model_path = g_build_filename (res->run_dir, "model.safetensors", NULL);
    res->model = fw_model_ref (saved);
    g_autofree char *bh = fw_format_bytes ((double) bytes);
    g_autofree char *dh = fw_format_bytes ((double) dense_bytes);
    ctx_log (&c, "saved %s: %s (%s on disk, dense %s), accuracy %.2f%% (dense %.2f%%)",
             res->model_path, saved->spec, bh, dh, 100 * res->final_acc, 100 * res->base_acc);
    if (job != NULL)
      {
        g_autofree char *summary = NULL;
        if (p->lottery)
          {
            double tm, ts, rm, rs;
            int n;
            phase_stats (res->rows, "ticket", &tm, &ts, &n);
            phase_stats (res->rows, "random", &rm, &rs, &n);
            summary = g_strdup_printf ("run folder: %s\nweights left: %.1f%%\nticket test "
                                       "accuracy: %.2f%% ± %.2f\nrandom re-init: %.2f%% ± %.2f\n"
                                       "dense: %.2f%% (%d seeds)", res->run_dir,
                                       100 * (1 - res->sparsity), 100 * tm, 100 * ts, 100 * rm,
                                       100 * rs, 100 * res->base_acc, n);
          }
        else
          summary = g_strdup_printf ("run folder: %s\nsparsity: %.1f%%\ntest accuracy: %.2f%% "
                                     "(%s %.2f%%)\nmodel: %s, %s on disk (dense %s)",
                                     res->run_dir, 100 * res->sparsity, 100 * res->final_acc,
                                     p->criterion == FW_PRUNE_SNIP ? "dense at initialisation"
                                                                   : "dense",
                                     100 * res->base_acc, saved->spec, bh, dh);
        fw_job_set_summary (job, summary);
      }
  }
  goto out;

fail:
  ok = FALSE;
out:
  g_clear_pointer (&c.train, fw_dataset_unref);
  g_clear_pointer (&c.val, fw_dataset_unref);
  g_clear_pointer (&c.test, fw_dataset_unref);
  fw_prune_config_clear (&c.cfg);
  return ok ? g_steal_pointer (&res) : NULL;
}

FwPruneResult *
fw_prune_run_sync (const FwRecipe *r, GCancellable *cancellable, GError **error)
{
  return prune_run (r, NULL, cancellable, error);
}

gboolean
fw_prune_job_run (FwJob *job, gpointer recipe, GCancellable *cancellable, GError **error)
{
  FwPruneResult *res = prune_run (recipe, job, cancellable, error);
  if (res == NULL)
    return FALSE;
  fw_job_emit_snapshot (job, "prune-result", res, (GDestroyNotify) fw_prune_result_unref);
  return TRUE;
}
