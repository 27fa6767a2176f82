/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-robust.c: robust losses (GCE, SCE), small-loss selection and co-teaching. */
#include "fw-robust.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"
#include "fw-gemm.h"
#include "fw-job.h"
#include "fw-noise.h"
#include "fw-loss.h"
#include "fw-util.h"

static const char *const loss_names[] = { "ce", "gce", "sce", NULL };

gboolean
fw_loss_kind_from_string (const char *s, FwLossKind *kind)
{
  for (int i = 0; loss_names[i] != NULL; i++)
    if (s != NULL && g_ascii_strcasecmp (s, loss_names[i]) == 0)
      {
        *kind = (FwLossKind) i;
        return TRUE;
      }
  return FALSE;
}

const char *
fw_loss_kind_to_string (FwLossKind kind)
{
  return (int) kind >= 0 && kind <= FW_LOSS_SCE ? loss_names[kind] : "ce";
}

/* Row softmax in double: p[j] = exp(z_j - max) / sum. */
static void
softmax_row (const float *z, int k, double *p)
{
  double mx = z[0], s = 0;
  for (int j = 1; j < k; j++)
    mx = MAX (mx, z[j]);
  for (int j = 0; j < k; j++)
    s += (p[j] = exp ((double) z[j] - mx));
  for (int j = 0; j < k; j++)
    p[j] /= s;
}

double
fw_loss_gce (const float *logits, int n, int k, const gint32 *labels, double q, float *grad,
             float *per_sample)
{
  g_autofree double *p = g_new (double, k);
  double total = 0;
  for (int i = 0; i < n; i++)
    {
      const float *z = logits + (gsize) i * k;
      softmax_row (z, k, p);
      int y = labels[i];
      double py = MAX (p[y], 1e-30);
      /* L = (1 - p_y^q) / q; as q -> 0 this is -log p_y */
      double pq = pow (py, q);
      double l = q > 1e-8 ? (1 - pq) / q : -log (py);
      total += l;
      if (per_sample)
        per_sample[i] = (float) l;
      if (grad)
        {
          /* dL/dz_j = -p_y^(q-1) dp_y/dz_j = -p_y^(q-1) p_y ([j=y] - p_j) = p_y^q (p_j - [j=y]) */
          float *g = grad + (gsize) i * k;
          double w = (q > 1e-8 ? pq : 1.0) / n;
          for (int j = 0; j < k; j++)
            g[j] = (float) (w * (p[j] - (j == y)));
        }
    }
  return total / MAX (n, 1);
}

double
fw_loss_sce (const float *logits, int n, int k, const gint32 *labels, double alpha,
             double beta, float *grad, float *per_sample)
{
  g_autofree double *p = g_new (double, k);
  const double A = 4.0; /* -log 0 clamped: log t_j = -4 for j != y */
  double total = 0;
  for (int i = 0; i < n; i++)
    {
      const float *z = logits + (gsize) i * k;
      softmax_row (z, k, p);
      int y = labels[i];
      double py = MAX (p[y], 1e-30);
      /* CE = -log p_y ; RCE = -sum_{j != y} p_j (-A) = A (1 - p_y) */
      double l = alpha * -log (py) + beta * A * (1 - p[y]);
      total += l;
      if (per_sample)
        per_sample[i] = (float) l;
      if (grad)
        {
          /* alpha (p_j - [j=y]) + beta A p_y (p_j - [j=y]) */
          float *g = grad + (gsize) i * k;
          double w = (alpha + beta * A * p[y]) / n;
          for (int j = 0; j < k; j++)
            g[j] = (float) (w * (p[j] - (j == y)));
        }
    }
  return total / MAX (n, 1);
}

double
fw_loss_select (FwLossKind kind, double gce_q, double sce_alpha, double sce_beta,
                float label_smoothing, const float *logits, int n, int k,
                const gint32 *labels, float *grad)
{
  switch (kind)
    {
    case FW_LOSS_GCE:
      return fw_loss_gce (logits, n, k, labels, gce_q > 0 ? gce_q : 0.7, grad, NULL);
    case FW_LOSS_SCE:
      if (sce_alpha <= 0 && sce_beta <= 0)
        sce_alpha = 0.1, sce_beta = 1.0;
      return fw_loss_sce (logits, n, k, labels, sce_alpha, sce_beta, grad, NULL);
    case FW_LOSS_CE:
    default:
      return fw_loss_softmax_xent (logits, n, k, labels, NULL, label_smoothing, grad, NULL);
    }
}

double
fw_coteach_forget_rate (const FwCoteachConfig *ct, int epoch0)
{
  if (ct->tk <= 0)
    return ct->tau;
  return ct->tau * MIN ((double) epoch0 / ct->tk, 1.0);
}

typedef struct {
  float loss;
  int i;
} LossIdx;

static int
cmp_loss (const void *a, const void *b)
{
  const LossIdx *x = a, *y = b;
  if (x->loss != y->loss)
    return x->loss < y->loss ? -1 : 1;
  return x->i - y->i;
}

/* per-sample CE into loss[n] */
static void
per_sample_ce (const float *logits, int n, int k, const gint32 *y, float *loss, double *p)
{
  for (int i = 0; i < n; i++)
    {
      softmax_row (logits + (gsize) i * k, k, p);
      loss[i] = (float) -log (MAX (p[y[i]], 1e-30));
    }
}

/* keep[i] = TRUE for the n_keep smallest losses */
static void
select_small (const float *loss, int n, int n_keep, LossIdx *tmp, gboolean *keep)
{
  for (int i = 0; i < n; i++)
    tmp[i] = (LossIdx) { loss[i], i }, keep[i] = FALSE;
  qsort (tmp, n, sizeof (LossIdx), cmp_loss);
  for (int r = 0; r < n_keep; r++)
    keep[tmp[r].i] = TRUE;
}

/* CE gradient restricted to the kept rows, mean over the kept rows: dlogits[n x k] */
static double
masked_ce_grad (const float *logits, int n, int k, const gint32 *y, const gboolean *keep,
                int n_keep, float *dlogits, double *p)
{
  double total = 0;
  for (int i = 0; i < n; i++)
    {
      float *g = dlogits + (gsize) i * k;
      if (!keep[i])
        {
          memset (g, 0, sizeof (float) * k);
          continue;
        }
      softmax_row (logits + (gsize) i * k, k, p);
      total += -log (MAX (p[y[i]], 1e-30));
      for (int j = 0; j < k; j++)
        g[j] = (float) ((p[j] - (j == y[i])) / n_keep);
    }
  return total / MAX (n_keep, 1);
}

static double
test_accuracy (FwModel *m, const FwDataset *test, GCancellable *c, GError **error)
{
  if (test == NULL || m == NULL)
    return NAN;
  g_autoptr (FwEvalResult) r = fw_evaluate (m, test, 1000, c, error);
  return r ? r->accuracy : NAN;
}

gboolean
fw_train_coteaching (FwModel *a, FwModel *b, const FwTrainConfig *cfg,
                     const FwCoteachConfig *ct, const FwDataset *train, const gint32 *y_true,
                     const FwDataset *test,
                     void (*epoch_hook) (gpointer user, const FwCoteachEpoch *e),
                     gpointer user, GCancellable *cancellable, GArray *epochs, GError **error)
{
  if (!(ct->tau >= 0 && ct->tau < 1))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "co-teaching: forget_rate %g must be in [0, 1)", ct->tau);
      return FALSE;
    }
  if (cfg->epochs < 1 || cfg->batch < 1 || train->n < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "co-teaching needs epochs >= 1, batch >= 1 and training samples");
      return FALSE;
    }
  FwModel *nets[2] = { a, b };
  int n_nets = b != NULL ? 2 : 1;
  for (int t = 0; t < n_nets; t++)
    if (fw_shape_size (nets[t]->input) != fw_dataset_sample_size (train)
        || nets[t]->n_classes < train->n_classes)
      {
        g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                     "co-teaching: the training set '%s' does not fit the model's input or "
                     "classes", train->name);
        return FALSE;
      }
  int n = train->n, k = a->n_classes, batch = MIN (cfg->batch, n);
  gsize in = fw_dataset_sample_size (train);
  g_autofree gint32 *idx = g_new (gint32, n);
  for (int i = 0; i < n; i++)
    idx[i] = i;
  g_autofree float *xb = g_new (float, (gsize) batch * in);
  g_autofree gint32 *yb = g_new (gint32, batch);
  g_autofree gint32 *ib = g_new (gint32, batch);
  g_autofree float *loss0 = g_new (float, batch), *loss1 = g_new (float, batch);
  g_autofree gboolean *keep0 = g_new (gboolean, batch), *keep1 = g_new (gboolean, batch);
  float *loss[2] = { loss0, loss1 };
  gboolean *keep[2] = { keep0, keep1 };
  g_autofree float *dlogits = g_new (float, (gsize) batch * k);
  g_autofree LossIdx *tmp = g_new (LossIdx, batch);
  g_autofree double *p = g_new (double, k);
  FwOptimizer *opt[2] = { fw_optimizer_new (a, cfg), b ? fw_optimizer_new (b, cfg) : NULL };
  for (int t = 0; t < n_nets; t++)
    fw_model_reserve (nets[t], batch);
  FwRng root, rng;
  fw_rng_init (&root, cfg->seed);
  fw_rng_split (&root, FW_RNG_SHUFFLE, &rng);
  gboolean ok = TRUE;
  for (int e = 0; e < cfg->epochs && ok; e++)
    {
      gint64 t0 = g_get_monotonic_time ();
      double fr = fw_coteach_forget_rate (ct, e), lr = fw_train_lr_at (cfg, e);
      double loss_sum = 0;
      gint64 seen = 0, kept = 0, kept_clean = 0;
      int n_batches = (n + batch - 1) / batch;
      fw_rng_shuffle (&rng, idx, n);
      for (int bi = 0; bi < n_batches && ok; bi++)
        {
          if (g_cancellable_is_cancelled (cancellable))
            {
              g_set_error (error, FW_ERROR, FW_ERROR_CANCELLED, "Training cancelled");
              ok = FALSE;
              break;
            }
          int s = bi * batch, nb = MIN (batch, n - s);
          for (int i = 0; i < nb; i++)
            {
              gint32 j = idx[s + i];
              memcpy (xb + (gsize) i * in, train->x + (gsize) j * in, sizeof (float) * in);
              yb[i] = train->y[j];
              ib[i] = j;
            }
          /* R(t) = 1 - forget_rate(t) of the batch, at least one sample */
          int n_keep = MAX (1, (int) lround ((1 - fr) * nb));
          const float *logits[2];
          for (int t = 0; t < n_nets; t++)
            {
              logits[t] = fw_model_forward (nets[t], xb, nb, TRUE);
              per_sample_ce (logits[t], nb, k, yb, loss[t], p);
              select_small (loss[t], nb, n_keep, tmp, keep[t]);
            }
          for (int t = 0; t < n_nets; t++)
            {
              /* net t learns from the samples its peer kept (itself without a peer) */
              const gboolean *sel = keep[n_nets == 2 ? 1 - t : t];
              double l = masked_ce_grad (logits[t], nb, k, yb, sel, n_keep, dlogits, p);
              if (t == 0)
                {
                  loss_sum += l * n_keep;
                  kept += n_keep;
                  seen += nb;
                  if (y_true)
                    for (int i = 0; i < nb; i++)
                      kept_clean += sel[i] && y_true[ib[i]] == yb[i];
                }
              fw_model_backward (nets[t], dlogits, nb);
              if (!isfinite (l))
                {
                  g_set_error (error, FW_ERROR, FW_ERROR_NUMERIC,
                               "co-teaching: the loss became %g in epoch %d: lower lr", l,
                               e + 1);
                  ok = FALSE;
                  break;
                }
              fw_optimizer_step (opt[t], nets[t], lr);
            }
        }
      if (!ok)
        break;
      FwCoteachEpoch ep = { 0 };
      ep.epoch = e + 1;
      ep.forget_rate = fr;
      ep.kept_fraction = (double) kept / MAX (seen, 1);
      ep.train_loss = loss_sum / MAX (kept, 1);
      ep.clean_kept = y_true ? (double) kept_clean / MAX (kept, 1) : NAN;
      ep.seconds = (g_get_monotonic_time () - t0) / 1e6;
      ep.test_acc_a = test_accuracy (a, test, cancellable, error);
      ep.test_acc_b = test_accuracy (b, test, cancellable, error);
      if (test != NULL && isnan (ep.test_acc_a))
        {
          ok = FALSE;
          break;
        }
      if (epochs)
        g_array_append_val (epochs, ep);
      if (epoch_hook)
        epoch_hook (user, &ep);
    }
  fw_optimizer_free (opt[0]);
  if (opt[1])
    fw_optimizer_free (opt[1]);
  return ok;
}

/* ---- label-noise curves ---- */

FwNoiseCurveConfig *
fw_noise_curve_config_new (FwDataset *train, FwDataset *test)
{
  FwNoiseCurveConfig *c = g_new0 (FwNoiseCurveConfig, 1);
  c->train = fw_dataset_ref (train);
  c->test = test != NULL ? fw_dataset_ref (test) : NULL;
  static const double rates[] = { 0, 0.1, 0.2, 0.5, 0.8, 0.9 };
  c->n_rates = G_N_ELEMENTS (rates);
  c->rates = g_memdup2 (rates, sizeof rates);
  c->n_sizes = 1;
  c->sizes = g_new0 (int, 1);
  c->seeds = 3;
  c->base_seed = 1;
  c->kind = FW_NOISE_SYMMETRIC;
  c->arch = g_strdup ("mlp");
  c->widths = g_strdup ("256,128");
  fw_train_config_defaults (&c->cfg);
  c->cfg.epochs = 3;
  c->threads = 1;
  return c;
}

void
fw_noise_curve_config_free (FwNoiseCurveConfig *c)
{
  if (c == NULL)
    return;
  fw_dataset_unref (c->train);
  if (c->test)
    fw_dataset_unref (c->test);
  g_free (c->rates);
  g_free (c->sizes);
  g_free (c->arch);
  g_free (c->widths);
  g_free (c);
}

/* A fresh model for ds: arch (+ widths) for its shape and classes, initialised with seed,
 * input normalisation from ds. */
static FwModel *
new_model (const char *arch, const char *widths, const FwDataset *ds, guint64 seed,
           GError **error)
{
  g_autofree char *spec = fw_model_arch_spec (arch, widths, ds->shape, ds->n_classes, error);
  if (spec == NULL)
    return NULL;
  FwModel *m = fw_model_new (arch, spec, ds->shape, error);
  if (m == NULL)
    return NULL;
  fw_model_init (m, seed);
  float mean, sd;
  fw_dataset_stats (ds, &mean, &sd);
  m->in_mean = mean;
  m->in_std = sd > 1e-6f ? sd : 1.0f;
  return m;
}

gboolean
fw_cross_val_probs (const FwDataset *ds, const char *arch, const char *widths,
                    const FwTrainConfig *cfg, int folds, guint64 seed,
                    GCancellable *cancellable, float *probs, GError **error)
{
  int n = ds->n, k = ds->n_classes;
  if (folds < 2 || n < folds)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "cross-validation needs at least 2 folds and a sample per fold (%d folds, "
                   "%d samples)", folds, n);
      return FALSE;
    }
  g_autofree gint32 *perm = g_new (gint32, n);
  for (int i = 0; i < n; i++)
    perm[i] = i;
  FwRng root, rng;
  fw_rng_init (&root, seed);
  fw_rng_split (&root, FW_RNG_SPLIT, &rng);
  fw_rng_shuffle (&rng, perm, n);
  g_autofree gint32 *in_idx = g_new (gint32, n);
  g_autofree gint32 *out_idx = g_new (gint32, n);
  gsize sz = fw_dataset_sample_size (ds);
  for (int f = 0; f < folds; f++)
    {
      /* fold f = perm[lo .. hi) */
      int lo = (int) ((gint64) n * f / folds), hi = (int) ((gint64) n * (f + 1) / folds);
      int n_in = 0, n_out = 0;
      for (int i = 0; i < n; i++)
        {
          if (i >= lo && i < hi)
            out_idx[n_out++] = perm[i];
          else
            in_idx[n_in++] = perm[i];
        }
      g_autoptr (FwDataset) part = fw_dataset_subset (ds, in_idx, n_in, NULL);
      g_autoptr (FwModel) m = new_model (arch, widths, part, seed + (guint64) f, error);
      if (m == NULL)
        return FALSE;
      FwTrainConfig c = *cfg;
      c.seed = seed + (guint64) f;
      if (!fw_train (m, &c, part, NULL, NULL, NULL, cancellable, NULL, error))
        return FALSE;
      /* probabilities of the held-out samples, in batches */
      const int B = 500;
      g_autofree float *xb = g_new (float, (gsize) B * sz);
      g_autofree float *pb = g_new (float, (gsize) B * m->n_classes);
      for (int s = 0; s < n_out; s += B)
        {
          int nb = MIN (B, n_out - s);
          for (int i = 0; i < nb; i++)
            memcpy (xb + (gsize) i * sz, ds->x + (gsize) out_idx[s + i] * sz,
                    sizeof (float) * sz);
          const float *logits = fw_model_forward (m, xb, nb, FALSE);
          fw_softmax (logits, nb, m->n_classes, 1.0f, pb);
          for (int i = 0; i < nb; i++)
            memcpy (probs + (gsize) out_idx[s + i] * k, pb + (gsize) i * m->n_classes,
                    sizeof (float) * k);
        }
    }
  return TRUE;
}

gboolean
fw_noise_curve_run (const FwNoiseCurveConfig *c,
                    void (*point) (gpointer user, const FwNoisePoint *p), gpointer user,
                    GCancellable *cancellable, GError **error)
{
  if (c->test == NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "noise curve: '%s' has no test set — give a dataset with a test split",
                   c->train->name);
      return FALSE;
    }
  if (c->n_rates < 1 || c->n_sizes < 1 || c->seeds < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "noise curve: give at least one rate, one size and one seed");
      return FALSE;
    }
  for (int r = 0; r < c->n_rates; r++)
    if (!(c->rates[r] >= 0 && c->rates[r] <= 1))
      {
        g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                     "noise curve: rate %g is outside [0, 1]", c->rates[r]);
        return FALSE;
      }
  fw_blas_set_threads (MAX (c->threads, 1));
  int total = c->n_rates * c->n_sizes * c->seeds, index = 0;
  for (int s = 0; s < c->seeds; s++)
    for (int z = 0; z < c->n_sizes; z++)
      {
        guint64 seed = c->base_seed + (guint64) s;
        g_autoptr (FwDataset) sub = NULL;
        int size = c->sizes[z];
        if (size > 0 && size < c->train->n)
          {
            FwDataset *rest = NULL;
            fw_dataset_split (c->train, (double) size / c->train->n, seed * 7919 + size, &sub,
                              &rest);
            fw_dataset_unref (rest);
          }
        else
          sub = fw_dataset_ref (c->train);
        for (int r = 0; r < c->n_rates; r++)
          {
            g_autoptr (FwNoisyLabels) nl = fw_noise_apply_kind (sub, (FwNoiseKind) c->kind,
                                                                c->rates[r], NULL, seed, error);
            if (nl == NULL)
              return FALSE;
            g_autoptr (FwModel) m = new_model (c->arch, c->widths, sub, seed, error);
            if (m == NULL)
              return FALSE;
            FwTrainConfig cfg = c->cfg;
            cfg.seed = seed;
            gint64 t0 = g_get_monotonic_time ();
            if (c->coteaching)
              {
                g_autoptr (FwModel) peer = new_model (c->arch, c->widths, sub,
                                                      seed + 0x9e3779b97f4a7c15ull, error);
                FwCoteachConfig ct = { MIN (c->rates[r], 0.9), MAX (1, cfg.epochs / 2) };
                if (peer == NULL
                    || !fw_train_coteaching (m, peer, &cfg, &ct, nl->noisy, NULL, NULL, NULL,
                                             NULL, cancellable, NULL, error))
                  return FALSE;
              }
            else if (!fw_train (m, &cfg, nl->noisy, NULL, NULL, NULL, cancellable, NULL,
                                error))
              return FALSE;
            double secs = (g_get_monotonic_time () - t0) / 1e6;
            g_autoptr (FwEvalResult) ev = fw_evaluate (m, c->test, 1000, cancellable, error);
            if (ev == NULL)
              return FALSE;
            FwNoisePoint p = { c->rates[r], nl->rate, sub->n, s, ev->accuracy, secs, index++,
                               total };
            if (point)
              point (user, &p);
          }
      }
  return TRUE;
}

static void
job_point (gpointer user, const FwNoisePoint *p)
{
  FwJob *job = user;
  fw_job_emit_snapshot (job, "noise-point", g_memdup2 (p, sizeof *p), g_free);
  fw_job_log (job, "noise %.0f%% (realised %.2f%%), %d samples, seed %d: test accuracy %.2f%% "
              "(%.1f s)", 100 * p->rate, 100 * p->realised_rate, p->size, p->seed + 1,
              100 * p->test_acc, p->seconds);
  fw_job_progress (job, (double) (p->index + 1) / p->total, p->index + 1, p->total, 0, 0,
                   NAN, p->test_acc);
}

gboolean
fw_noise_curve_job_run (FwJob *job, gpointer config, GCancellable *cancellable,
                        GError **error)
{
  return fw_noise_curve_run (config, job_point, job, cancellable, error);
}
