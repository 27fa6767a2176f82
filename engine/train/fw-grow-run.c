/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-grow-run.c: the growth schedule. Train the tiny network, then repeat: draw a statistics
 * batch, compute a proposal at every site, grow the chosen site (TINY: the largest expected
 * gain, amplitude by line search; baselines: round robin, no line search), train
 * epochs_per_step epochs; until the parameter budget or max_steps. Optionally train the final
 * architecture from scratch for the same number of epochs (the fixed-size baseline). */
#include "fw-grow.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-util.h"

void
fw_grow_config_defaults (FwGrowConfig *c)
{
  memset (c, 0, sizeof *c);
  c->method = FW_GROW_TINY;
  fw_grow_options_defaults (&c->opt);
  c->budget = 20000;
  c->max_steps = 20;
  c->epochs_per_step = 1;
  c->stat_samples = 0;   /* automatic */
  c->min_rel_drop = 1e-3;
  c->update_existing = TRUE;
  c->final_epochs = FW_GROW_DEFAULT_FINAL_EPOCHS;
  c->fixed_baseline = TRUE;
  fw_train_config_defaults (&c->train);
  fw_grow_train_defaults (&c->train, 0);
  c->seed = 1;
}

void
fw_grow_train_defaults (FwTrainConfig *t, int n_train)
{
  gboolean large = n_train > FW_GROW_LARGE_TRAIN;
  t->opt = FW_OPT_ADAMW;
  t->lr = large ? 1e-3 : 3e-3;
  t->weight_decay = large ? 0.1 : 0.5;
  t->batch = 64;
}

void
fw_grow_result_free (FwGrowResult *r)
{
  if (r == NULL)
    return;
  g_free (r->dataset);
  if (r->points != NULL)
    g_array_unref (r->points);
  g_clear_pointer (&r->model, fw_model_unref);
  g_clear_pointer (&r->fixed, fw_model_unref);
  g_free (r->spec_start);
  g_free (r->run_dir);
  g_free (r);
}

static void
grow_log (FwJob *job, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
grow_log (FwJob *job, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (job != NULL)
    fw_job_log (job, "%s", msg);
  else
    g_debug ("%s", msg);
}

/* Progress of the whole run from fw_train()'s batch hook: phase `done` of `total` phases
 * (a phase = one growth step's training, or the fixed-size baseline). */
typedef struct {
  FwJob *job;
  int done, total;
  double seconds, flops;    /* training so far: wall time, FLOPs */
} Progress;

static void
progress_batch (gpointer user, int epoch, int n_epochs, int batch, int n_batches, double loss,
                double acc)
{
  Progress *pr = user;
  double in_phase = ((epoch - 1) + (double) (batch + 1) / MAX (n_batches, 1)) / MAX (n_epochs, 1);
  fw_job_progress (pr->job, (pr->done + in_phase) / MAX (pr->total, 1), pr->done + 1, pr->total,
                   batch + 1, n_batches, loss, acc);
}

/* Trains for `epochs` epochs with the given shuffling seed (decay: a cosine schedule over
 * them, else the recipe's). */
static gboolean
train_phase (FwModel *m, const FwGrowConfig *cfg, int epochs, guint64 seed, gboolean decay,
             FwDataset *train, Progress *pr, GCancellable *cancellable, GError **error)
{
  FwTrainConfig tc = cfg->train;
  if (decay)
    {
      tc.schedule = FW_SCHED_COSINE;
      tc.min_lr = 0;
    }
  tc.epochs = epochs;
  tc.seed = seed;
  tc.patience = 0;
  FwTrainHooks hooks = { .batch = progress_batch, .user = pr };
  double t0 = fw_now ();
  gboolean ok = fw_train (m, &tc, train, NULL, NULL, pr->job != NULL ? &hooks : NULL,
                          cancellable, NULL, error);
  pr->seconds += fw_now () - t0;
  pr->flops += 3.0 * fw_model_flops (m) * (double) train->n * epochs;
  return ok;
}

/* The fallback when TINY sees nothing (a dead network) or nothing helps (a stuck start):
 * the proposal at the next site in turn (*n_random counts them) becomes random neurons.
 * Returns that site, or -1 with error set. */
static int
random_in_turn (FwModel *m, const FwGrowSite *sites, int n_sites, FwGrowProposal **props,
                int *n_random, const float *bx, const gint32 *by, int ns,
                const FwGrowOptions *opt, FwRng *rng, GError **error)
{
  int s = (*n_random)++ % n_sites;
  FwGrowProposal *rp = fw_grow_propose (m, sites[s], FW_GROW_RANDOM, bx, by, ns, opt, rng,
                                        error);
  if (rp == NULL)
    return -1;
  fw_grow_proposal_free (props[s]);
  props[s] = rp;
  return s;
}

/* The grown model's architecture, freshly initialised (the fixed-size baselines). */
static FwModel *
fixed_model (const FwModel *m, guint64 seed, GError **error)
{
  FwModel *f = fw_model_new (m->arch, m->spec, m->input, error);
  if (f == NULL)
    return NULL;
  fw_model_init (f, seed);
  f->in_mean = m->in_mean;
  f->in_std = m->in_std;
  f->class_names = g_strdupv (m->class_names);
  return f;
}

static void
evaluate (FwModel *m, FwDataset *test, double *acc, double *loss)
{
  *acc = *loss = NAN;
  if (test == NULL)
    return;
  g_autoptr (FwEvalResult) e = fw_evaluate (m, test, 256, NULL, NULL);
  if (e != NULL)
    {
      *acc = e->accuracy;
      *loss = e->loss;
    }
}

/* Widths of the chain input -> weight layers, and where the step added neurons. */
static void
point_widths (FwGrowPoint *pt, const FwModel *m, int grown_layer, int added)
{
  const FwLayer *first = m->layers[0];
  pt->widths[0] = first->klass == &fw_layer_conv ? m->input.c : (int) fw_shape_size (m->input);
  pt->kinds[0] = first->klass == &fw_layer_conv ? 'c' : 'i';
  int n = 1;
  for (int i = 0; i < m->n_layers && n < FW_GROW_MAX_LAYERS; i++)
    {
      const FwLayer *l = m->layers[i];
      if (l->klass != &fw_layer_dense && l->klass != &fw_layer_conv)
        continue;
      pt->widths[n] = l->out.c;
      pt->kinds[n] = l->klass == &fw_layer_conv ? 'c' : 'd';
      pt->added_at[n] = i == grown_layer ? added : 0;
      n++;
    }
  pt->n_widths = n;
}

/* Neurons to add from proposal p: its k, capped so the model stays within the budget (at
 * least one while below it). */
static int
grow_count (const FwModel *m, const FwGrowProposal *p, gsize budget)
{
  gsize params = fw_model_param_count (m);
  gsize per = (gsize) p->d_a + (gsize) p->d_out * p->n_taps;
  gsize room = budget > params ? (budget - params) / per : 0;
  return (int) MIN ((gsize) p->k, MAX (room, 1));
}

/* The model grown by p with the gamma in 1, 1/2, .. 2^-12 that gives the lowest loss on
 * (x, y); *gamma and *loss receive it. The search halves gamma while the loss falls and stops
 * at the first rise (the loss along the step is nearly always unimodal in gamma, and gamma = 1
 * usually wins at once: 2 evaluations instead of 13). */
static FwModel *
line_search (const FwModel *m, const FwGrowProposal *p, int k, const float *x, const gint32 *y,
             int n, double *gamma, double *loss, GError **error)
{
  FwModel *best = NULL;
  *loss = INFINITY;
  for (int j = 0; j >= -12; j--)
    {
      double g = ldexp (1.0, j);
      FwModel *cand = fw_grow_apply (m, p, k, g, error);
      if (cand == NULL)
        {
          g_clear_pointer (&best, fw_model_unref);
          return NULL;
        }
      double l = fw_grow_loss (cand, x, y, n);
      if (best == NULL || (isfinite (l) && l < *loss))
        {
          g_clear_pointer (&best, fw_model_unref);
          best = cand;
          *loss = l;
          *gamma = g;
        }
      else
        {
          fw_model_unref (cand);
          break;
        }
    }
  return best;
}

FwGrowResult *
fw_grow_run (FwModel *start, const FwGrowConfig *cfg, FwDataset *train, FwDataset *test,
             FwJob *job, GCancellable *cancellable, GError **error)
{
  double t0 = fw_now ();
  FwGrowSite sites[FW_GROW_MAX_SITES];
  int n_sites = fw_grow_sites (start, sites, FW_GROW_MAX_SITES);
  if (n_sites == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "growth: model '%s' has no place to grow "
                   "— it needs two dense or conv layers with only activations (relu, tanh) or "
                   "flatten between them, e.g. mlp with widths = 2,2", start->spec);
      return NULL;
    }
  if (cfg->epochs_per_step < 1 || cfg->stat_samples == 1 || cfg->stat_samples < 0
      || cfg->max_steps < 0 || cfg->final_epochs < 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "growth: epochs_per_step >= 1, "
                   "final_epochs >= 0 and stat_samples >= 2 (or 0: automatic) are needed");
      return NULL;
    }
  g_autoptr (FwGrowResult) res = g_new0 (FwGrowResult, 1);
  res->method = cfg->method;
  res->points = g_array_new (FALSE, TRUE, sizeof (FwGrowPoint));
  res->spec_start = g_strdup (start->spec);
  res->dataset = g_strdup (train->name);
  g_autoptr (FwModel) m = fw_model_copy (start);

  FwRng root, rng_stat, rng_new;
  fw_rng_init (&root, cfg->seed);
  fw_rng_split (&root, FW_RNG_DATA, &rng_stat);
  fw_rng_split (&root, FW_RNG_INIT, &rng_new);

  int ns = cfg->stat_samples > 0 ? cfg->stat_samples : fw_grow_auto_stat_samples (start);
  if (cfg->stat_samples == 0)
    grow_log (job, "statistics batch: %d samples (automatic: 2.5 rows per incoming weight of "
              "a new neuron)", ns);
  ns = MIN (ns, train->n);
  gsize ss = fw_dataset_sample_size (train);
  /* two batches: statistics (bx, by) and the line search (lx, ly), drawn independently so
   * that the amplitude is judged on samples the neurons were not fitted to */
  g_autofree float *bx = g_new (float, (gsize) 2 * ns * ss);
  g_autofree gint32 *by = g_new (gint32, 2 * ns);
  float *lx = bx + (gsize) ns * ss;
  gint32 *ly = by + ns;
  int total_steps = cfg->max_steps + 1;
  int n_random = 0;    /* steps that fell back to random neurons (blind or stuck) */
  int n_accepted = 0;  /* growth steps taken */
  Progress pr = { job, 0, total_steps + (cfg->final_epochs > 0 ? 1 : 0)
                             + (cfg->fixed_baseline ? 2 : 0) };

  for (int step = 0; step <= cfg->max_steps; step++)
    {
      FwGrowPoint pt = { .step = step, .site = -1, .n_sites = n_sites, .gamma = NAN,
                         .loss_before = NAN, .loss_after = NAN, .first_order = NAN };
      int grown_layer = -1;
      if (step > 0 && fw_model_param_count (m) >= cfg->budget)
        break;
      /* the statistics batch */
      for (int i = 0; i < 2 * ns; i++)
        {
          int j = (int) fw_rng_below (&rng_stat, (guint32) train->n);
          memcpy (bx + (gsize) i * ss, train->x + (gsize) j * ss, sizeof (float) * ss);
          by[i] = train->y[j];
        }
      double t_grow = fw_now ();
      if (step > 0)
        {
          FwGrowProposal *props[FW_GROW_MAX_SITES] = { 0 };
          gboolean ok = TRUE;
          for (int s = 0; s < n_sites && ok; s++)
            {
              props[s] = fw_grow_propose (m, sites[s], cfg->method, bx, by, ns, &cfg->opt,
                                          &rng_new, error);
              ok = props[s] != NULL;
              if (ok && !cfg->update_existing)
                fw_grow_proposal_drop_update (props[s]);
              if (ok)
                {
                  const FwGrowProposal *p = props[s];
                  pt.bottleneck[s] = p->goal_norm > 0 ? p->bottleneck / p->goal_norm : 0;
                  pt.gain[s] = p->pixels * (p->gain_dw + p->gain_neurons);
                }
            }
          /* TINY is blind when no site has a direction (every lambda is 0 up to rounding,
           * relative to the gradient's size): the units before
           * every site output 0 for every sample (dead ReLUs), so no gradient reaches the
           * statistics. Add random neurons instead, at the sites in turn: their fresh incoming
           * weights make the layer pass a signal again. */
          gboolean blind = ok && cfg->method == FW_GROW_TINY;
          for (int s = 0; s < n_sites && blind; s++)
            blind = props[s]->k == 0 || !(props[s]->lambda[0] > 1e-9 * props[s]->goal_norm);
          int blind_site = -1;
          if (blind)
            {
              blind_site = random_in_turn (m, sites, n_sites, props, &n_random, bx, by, ns,
                                           &cfg->opt, &rng_new, error);
              ok = blind_site >= 0;
              if (ok)
                grow_log (job, "step %d: TINY sees no gradient at any site (the units before "
                          "them output 0 for every sample: dead ReLUs); adding random "
                          "neurons at layer %d instead", step, sites[blind_site].a + 1);
            }
          /* TINY: at every site, the amplitude by line search on the second batch; the site
           * whose step lowers that batch's loss most wins (the first-order gain, measured on
           * the statistics batch itself, over-rates layers whose input width approaches the
           * batch size: their new neurons fit the batch's noise). Baselines: round robin. */
          int best = -1;
          double best_l = INFINITY, gamma = 1.0;
          FwModel *nm = NULL;
          if (ok)
            pt.loss_before = fw_grow_loss (m, lx, ly, ns);
          for (int s = 0; s < n_sites && ok; s++)
            {
              gboolean searched = cfg->method == FW_GROW_TINY && !blind;
              if (blind ? s != blind_site
                        : cfg->method != FW_GROW_TINY && s != (step - 1) % n_sites)
                continue;
              FwGrowProposal *p = props[s];
              int k = grow_count (m, p, cfg->budget);
              if (k == 0)
                continue;
              double g = 1.0, l = NAN;
              FwModel *cand = searched ? line_search (m, p, k, lx, ly, ns, &g, &l, error)
                                       : fw_grow_apply (m, p, k, 1.0, error);
              ok = cand != NULL;
              if (ok && !searched)
                l = fw_grow_loss (cand, lx, ly, ns);
              if (ok && (best < 0 || l < best_l))
                {
                  g_clear_pointer (&nm, fw_model_unref);
                  nm = cand;
                  best = s;
                  best_l = l;
                  gamma = g;
                }
              else if (cand != NULL)
                fw_model_unref (cand);
            }
          if (ok && nm != NULL && cfg->method == FW_GROW_TINY && !blind
              && !((pt.loss_before - best_l) > cfg->min_rel_drop * pt.loss_before))
            {
              grow_log (job, "step %d: the best step (site %d->%d, gamma %g) lowers the batch "
                        "loss %.4f -> %.4f only: rejected", step, props[best]->site.a,
                        props[best]->site.b, gamma, pt.loss_before, best_l);
              g_clear_pointer (&nm, fw_model_unref);
              /* A start network no TINY step improves is stuck, not finished: a 2-2 MLP
               * whose ReLUs are dead for most samples trains to ~20% and, adding neurons
               * only, rejected all 20 steps (digits, 1 seed in 5). Random neurons at the
               * sites in turn, as for a blind network, until a step is accepted. */
              if (n_accepted == 0)
                {
                  int rs = random_in_turn (m, sites, n_sites, props, &n_random, bx, by, ns,
                                           &cfg->opt, &rng_new, error);
                  int k = rs >= 0 ? grow_count (m, props[rs], cfg->budget) : 0;
                  nm = k > 0 ? fw_grow_apply (m, props[rs], k, 1.0, error) : NULL;
                  ok = rs >= 0 && (k == 0 || nm != NULL);
                  if (nm != NULL)
                    {
                      best = rs;
                      gamma = 1.0;
                      best_l = fw_grow_loss (nm, lx, ly, ns);
                      grow_log (job, "step %d: the start network is stuck (no step lowers its "
                                "loss); adding random neurons at layer %d instead", step,
                                sites[rs].a + 1);
                    }
                }
            }
          if (nm != NULL)
            {
              const FwGrowProposal *p = props[best];
              pt.site = best;
              pt.added = nm->n_params > m->n_params
                           ? (int) ((nm->n_params - m->n_params)
                                    / ((gsize) p->d_a + (gsize) p->d_out * p->n_taps))
                           : 0;
              pt.gamma = gamma;
              pt.first_order = p->first_order;
              grown_layer = p->site.a;
              pt.loss_after = best_l;
              fw_model_unref (m);
              m = nm;
              n_accepted++;
              grow_log (job, "step %d: +%d at layer %d (site %d->%d), gamma %g, batch loss "
                        "%.4f -> %.4f, %zu parameters", step, pt.added, p->site.a + 1,
                        p->site.a, p->site.b, gamma, pt.loss_before, pt.loss_after,
                        fw_model_param_count (m));
            }
          for (int s = 0; s < n_sites; s++)
            fw_grow_proposal_free (props[s]);
          if (!ok)
            return NULL;
        }
      res->grow_seconds += fw_now () - t_grow;
      pr.done = step;
      if (!train_phase (m, cfg, cfg->epochs_per_step, cfg->seed * 1000003u + (guint64) step,
                        FALSE, train, &pr, cancellable, error))
        return NULL;
      res->total_epochs += cfg->epochs_per_step;
      pt.params = fw_model_param_count (m);
      pt.train_loss = fw_grow_loss (m, lx, ly, ns);
      evaluate (m, test, &pt.test_acc, &pt.test_loss);
      point_widths (&pt, m, grown_layer, pt.added);
      pt.seconds = fw_now () - t0;
      g_array_append_val (res->points, pt);
      if (job != NULL)
        {
          fw_job_emit_snapshot (job, "grow-step", g_memdup2 (&pt, sizeof pt), g_free);
        }
      grow_log (job, "step %d: %zu parameters, test accuracy %.2f%%", step, pt.params,
                100 * pt.test_acc);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
    }
  if (cfg->final_epochs > 0 && res->points->len > 0)
    {
      /* the final training: the architecture stays, the learning rate decays */
      FwGrowPoint pt = g_array_index (res->points, FwGrowPoint, res->points->len - 1);
      pt.step++;
      pt.site = -1;
      pt.added = 0;
      pt.gamma = pt.loss_before = pt.loss_after = pt.first_order = NAN;
      memset (pt.added_at, 0, sizeof pt.added_at);
      grow_log (job, "final training: %d epochs, learning rate decaying to 0",
                cfg->final_epochs);
      pr.done = pr.total - 1 - (cfg->fixed_baseline ? 2 : 0);
      if (!train_phase (m, cfg, cfg->final_epochs, cfg->seed * 1000003u + (guint64) pt.step,
                        TRUE, train, &pr, cancellable, error))
        return NULL;
      res->total_epochs += cfg->final_epochs;
      res->final_epochs = cfg->final_epochs;
      pt.train_loss = fw_grow_loss (m, lx, ly, ns);
      evaluate (m, test, &pt.test_acc, &pt.test_loss);
      pt.seconds = fw_now () - t0;
      g_array_append_val (res->points, pt);
      if (job != NULL)
        fw_job_emit_snapshot (job, "grow-step", g_memdup2 (&pt, sizeof pt), g_free);
      grow_log (job, "after the final training: test accuracy %.2f%%", 100 * pt.test_acc);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
    }
  res->model = fw_model_ref (m);
  res->train_flops = pr.flops;
  res->train_seconds = pr.seconds;

  if (cfg->fixed_baseline)
    {
      g_autoptr (FwModel) f = fixed_model (m, cfg->seed, error);
      if (f == NULL)
        return NULL;
      grow_log (job, "fixed-size baseline: %s from scratch, %d epochs", m->spec,
                res->total_epochs);
      pr.done = pr.total - 2;
      if (!train_phase (f, cfg, res->total_epochs, cfg->seed, cfg->final_epochs > 0, train, &pr,
                        cancellable, error))
        return NULL;
      res->fixed_train_flops = pr.flops - res->train_flops;
      res->fixed_seconds = pr.seconds - res->train_seconds;
      evaluate (f, test, &res->fixed_acc, &res->fixed_loss);
      res->fixed = g_steal_pointer (&f);
      grow_log (job, "fixed-size baseline: test accuracy %.2f%%", 100 * res->fixed_acc);

      /* the same architecture for the grown run's training compute: the epochs whose FLOPs
       * at the final width are nearest to what growing spent (at most the same epochs) */
      double per_epoch = 3.0 * fw_model_flops (m) * (double) train->n;
      int ce = per_epoch > 0 ? (int) lround (res->train_flops / per_epoch) : res->total_epochs;
      res->fixed_compute_epochs = CLAMP (ce, 1, res->total_epochs);
      pr.done = pr.total - 1;
      if (res->fixed_compute_epochs == res->total_epochs)
        {
          res->fixed_compute_acc = res->fixed_acc;
          res->fixed_compute_loss = res->fixed_loss;
        }
      else
        {
          g_autoptr (FwModel) fc = fixed_model (m, cfg->seed, error);
          if (fc == NULL)
            return NULL;
          grow_log (job, "fixed-size baseline for the same compute: %d epochs",
                    res->fixed_compute_epochs);
          if (!train_phase (fc, cfg, res->fixed_compute_epochs, cfg->seed,
                            cfg->final_epochs > 0, train, &pr, cancellable, error))
            return NULL;
          evaluate (fc, test, &res->fixed_compute_acc, &res->fixed_compute_loss);
        }
      grow_log (job, "fixed-size baseline, same compute (%d epochs): test accuracy %.2f%%",
                res->fixed_compute_epochs, 100 * res->fixed_compute_acc);
    }
  return g_steal_pointer (&res);
}
