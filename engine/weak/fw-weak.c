/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-weak.c: the few-label experiment: data of a seed, encoders and heads, the custom training
 * loop, linear probe and fine-tune after each pre-training method (see fw-weak.h). */
#include "fw-weak-private.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-features.h"
#include "fw-loss.h"
#include "fw-util.h"

static const struct {
  const char *name, *title;
} methods[FW_WEAK_N_METHODS] = {
  [FW_WEAK_SUPERVISED] = { "supervised", "Supervised only" },
  [FW_WEAK_AE] = { "ae", "Autoencoder pre-training" },
  [FW_WEAK_ROTATION] = { "rotation", "Rotation pretext" },
  [FW_WEAK_MASKED] = { "masked", "Masked-patch pretext" },
  [FW_WEAK_VICREG] = { "vicreg", "Invariance (VICReg)" },
  [FW_WEAK_DINO] = { "dino", "Invariance (DINO teacher)" },
  [FW_WEAK_CLUSTERFIT] = { "clusterfit", "ClusterFit" },
  [FW_WEAK_SELFTRAIN] = { "selftrain", "Self-training" },
};

const char *
fw_weak_method_name (FwWeakMethod m)
{
  return m < FW_WEAK_N_METHODS ? methods[m].name : "?";
}

const char *
fw_weak_method_title (FwWeakMethod m)
{
  return m < FW_WEAK_N_METHODS ? methods[m].title : "?";
}

gboolean
fw_weak_method_from_string (const char *s, FwWeakMethod *out)
{
  for (int i = 0; i < FW_WEAK_N_METHODS; i++)
    if (g_strcmp0 (s, methods[i].name) == 0)
      {
        *out = (FwWeakMethod) i;
        return TRUE;
      }
  return FALSE;
}

/* ---- specs and models ---- */

char *
fw_weak_encoder_spec (gboolean conv, FwShape s, int hidden, int dim)
{
  if (conv)
    return g_strdup_printf ("conv:16:3:1:1,relu,maxpool:2,conv:32:3:1:1,relu,maxpool:2,flatten,"
                            "dense:%d", dim);
  return g_strdup_printf ("flatten,dense:%d,relu,dense:%d", hidden, dim);
}

char *
fw_weak_decoder_spec (gboolean conv, FwShape s, int hidden, int dim, GError **error)
{
  if (!conv)
    return g_strdup_printf ("relu,dense:%d,relu,dense:%" G_GSIZE_FORMAT ",sigmoid", hidden,
                            fw_shape_size (s));
  if (s.h % 4 != 0 || s.w % 4 != 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "the conv autoencoder needs image sides divisible by 4 (got %dx%d); "
                   "use encoder = dense", s.h, s.w);
      return NULL;
    }
  int h4 = s.h / 4, w4 = s.w / 4;
  return g_strdup_printf ("relu,dense:%d,relu,reshape:32:%d:%d,upsample:2,conv:16:3:1:1,relu,"
                          "upsample:2,conv:%d:3:1:1,sigmoid", 32 * h4 * w4, h4, w4, s.c);
}

int
fw_weak_spec_layers (const char *spec)
{
  int n = 1;
  for (const char *p = spec; *p != '\0'; p++)
    n += *p == ',';
  return n;
}

gboolean
fw_weak_copy_prefix (FwModel *dst, const FwModel *src, int n_layers, GError **error)
{
  if (n_layers > dst->n_layers || n_layers > src->n_layers)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "cannot copy %d layers: the models have %d and %d", n_layers, src->n_layers,
                   dst->n_layers);
      return FALSE;
    }
  for (int i = 0; i < n_layers; i++)
    {
      FwLayer *a = dst->layers[i], *b = src->layers[i];
      g_autofree char *ta = a->klass->spec (a);
      g_autofree char *tb = b->klass->spec (b);
      if (strcmp (ta, tb) != 0 || a->n_w != b->n_w || a->n_st != b->n_st)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "layer %d differs (%s in the pre-trained model, %s here); the encoder "
                       "must be the same", i + 1, tb, ta);
          return FALSE;
        }
      if (a->n_w > 0)
        memcpy (a->w, b->w, sizeof (float) * a->n_w);
      if (a->n_st > 0)
        memcpy (a->st, b->st, sizeof (float) * a->n_st);
    }
  dst->in_mean = src->in_mean;
  dst->in_std = src->in_std;
  return TRUE;
}

FwModel *
fw_weak_model_new (const char *spec, FwShape s, guint64 seed, float mean, float std,
                   GError **error)
{
  FwModel *m = fw_model_new ("custom", spec, s, error);
  if (m == NULL)
    return NULL;
  fw_model_init (m, seed);
  m->in_mean = mean;
  m->in_std = std > 1e-6f ? std : 1.0f;
  return m;
}

FwModel *
fw_weak_classifier (const FwWeakData *d, int n_classes, GError **error)
{
  g_autofree char *spec = g_strdup_printf ("%s,relu,dense:%d", d->enc_spec, n_classes);
  return fw_weak_model_new (spec, d->labelled->shape, d->seed, d->mean, d->std, error);
}

void
fw_dim_std (const float *z, int n, int d, float *std)
{
  for (int j = 0; j < d; j++)
    {
      double m = 0.0, v = 0.0;
      for (int i = 0; i < n; i++)
        m += z[(gsize) i * d + j];
      m /= MAX (n, 1);
      for (int i = 0; i < n; i++)
        {
          double e = z[(gsize) i * d + j] - m;
          v += e * e;
        }
      std[j] = (float) sqrt (v / MAX (n - 1, 1));
    }
}

/* ---- config and results ---- */

FwWeakConfig *
fw_weak_config_new (FwDataset *train, FwDataset *test)
{
  FwWeakConfig *c = g_new0 (FwWeakConfig, 1);
  c->train = fw_dataset_ref (train);
  c->test = fw_dataset_ref (test);
  c->per_class = 10;
  c->unlabelled = 5000;
  c->test_limit = 0;
  c->seeds = 3;
  c->base_seed = 1;
  c->hidden = 256;
  c->dim = 64;
  fw_train_config_defaults (&c->pre);
  c->pre.opt = FW_OPT_ADAM;
  c->pre.lr = 1e-3;
  c->pre.epochs = 10;
  c->pre.batch = 128;
  fw_train_config_defaults (&c->fine);
  c->fine.opt = FW_OPT_ADAM;
  c->fine.lr = 1e-3;
  c->fine.epochs = 60;
  c->fine.batch = 32;
  c->probe_epochs = 100;
  c->views = fw_aug_pipeline_parse (FW_WEAK_DEFAULT_VIEWS, NULL);
  g_assert (c->views != NULL);
  fw_vicreg_params_init (&c->vicreg);
  c->proj_dim = 64;
  c->dino_tau_s = 0.1;
  c->dino_tau_t = 0.04;
  c->dino_ema = 0.99;
  c->dino_center_m = 0.9;
  c->dino_centre = TRUE;
  c->clusters = 50;
  c->mask = 10;
  c->rounds = 5;
  c->threshold = 0.9;
  c->topk = 0;
  c->threads = 1;
  return c;
}

void
fw_weak_config_free (FwWeakConfig *c)
{
  if (c == NULL)
    return;
  g_clear_pointer (&c->train, fw_dataset_unref);
  g_clear_pointer (&c->test, fw_dataset_unref);
  g_clear_pointer (&c->views, fw_aug_pipeline_free);
  g_free (c);
}

void
fw_weak_result_free (FwWeakResult *r)
{
  if (r == NULL)
    return;
  if (r->pretext_loss != NULL)
    g_array_unref (r->pretext_loss);
  if (r->rounds != NULL)
    g_array_unref (r->rounds);
  g_free (r->emb_std);
  g_free (r);
}

void
fw_weak_data_clear (FwWeakData *d)
{
  g_clear_pointer (&d->labelled, fw_dataset_unref);
  g_clear_pointer (&d->pool, fw_dataset_unref);
  g_clear_pointer (&d->test, fw_dataset_unref);
  g_clear_pointer (&d->images, g_free);
  g_clear_pointer (&d->enc_spec, g_free);
}

static gboolean
weak_data_init (const FwWeakConfig *c, int seed, FwWeakData *d, GError **error)
{
  memset (d, 0, sizeof *d);
  d->seed = c->base_seed + (guint64) seed;
  FwDataset *rest = NULL;
  d->labelled = fw_dataset_per_class (c->train, c->per_class, d->seed, &rest);
  int np = c->unlabelled > 0 ? MIN (c->unlabelled, rest->n) : rest->n;
  g_autofree gint32 *idx = g_new (gint32, MAX (np, 1));
  np = fw_features_pick (rest, np, d->seed, idx);
  d->pool = fw_dataset_subset (rest, idx, np, "unlabelled pool");
  fw_dataset_unref (rest);
  if (c->test_limit > 0 && c->test_limit < c->test->n)
    {
      g_autofree gint32 *ti = g_new (gint32, c->test_limit);
      int nt = fw_features_pick (c->test, c->test_limit, c->base_seed, ti);
      d->test = fw_dataset_subset (c->test, ti, nt, c->test->name);
    }
  else
    d->test = fw_dataset_ref (c->test);
  d->size = fw_dataset_sample_size (d->labelled);
  d->n_images = d->labelled->n + d->pool->n;
  d->images = g_new (float, (gsize) d->n_images * d->size);
  memcpy (d->images, d->labelled->x, sizeof (float) * d->labelled->n * d->size);
  memcpy (d->images + (gsize) d->labelled->n * d->size, d->pool->x,
          sizeof (float) * d->pool->n * d->size);
  fw_dataset_stats (d->pool, &d->mean, &d->std);
  d->enc_spec = fw_weak_encoder_spec (c->conv, d->labelled->shape, c->hidden, c->dim);
  d->n_enc = fw_weak_spec_layers (d->enc_spec);
  if (d->labelled->n < 2 || d->pool->n < 2)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "few-label run: %d labelled and %d unlabelled samples; need at least 2 of "
                   "each (per_class, unlabelled)", d->labelled->n, d->pool->n);
      return FALSE;
    }
  return TRUE;
}

/* ---- the loop ---- */

gboolean
fw_weak_loop (FwModel *m, const FwTrainConfig *cfg, int n, FwWeakStep step, FwWeakAfter after,
              gpointer user, const char *phase, const FwWeakHooks *hooks, GArray *losses,
              GCancellable *cancellable, GError **error)
{
  g_autoptr (FwOptimizer) opt = fw_optimizer_new (m, cfg);
  FwRng root, rng;
  fw_rng_init (&root, cfg->seed);
  fw_rng_split (&root, FW_RNG_SHUFFLE, &rng);
  g_autofree gint32 *idx = g_new (gint32, MAX (n, 1));
  for (int i = 0; i < n; i++)
    idx[i] = i;
  int bs = MAX (cfg->batch, 2);
  int n_batches = MAX ((n + bs - 1) / bs, 1);
  for (int e = 0; e < cfg->epochs; e++)
    {
      fw_rng_shuffle (&rng, idx, n);
      double sum = 0.0;
      int count = 0;
      for (int b = 0; b < n_batches; b++)
        {
          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            return FALSE;
          int s = b * bs, nb = MIN (bs, n - s);
          if (nb < 2)
            continue;
          double loss = step (user, m, idx + s, nb, &rng);
          if (!isfinite (loss) || fw_model_find_nonfinite (m, TRUE) >= 0)
            {
              g_set_error (error, FW_ERROR, FW_ERROR_NUMERIC,
                           "%s: the loss became %g at epoch %d, batch %d; lower the "
                           "learning rate", phase, loss, e + 1, b + 1);
              return FALSE;
            }
          fw_optimizer_step (opt, m, fw_train_lr_at (cfg, e + (double) b / n_batches));
          if (after != NULL)
            after (user, m);
          sum += loss;
          count++;
        }
      double mean = count > 0 ? sum / count : NAN;
      if (losses != NULL)
        g_array_append_val (losses, mean);
      if (hooks != NULL && hooks->epoch != NULL)
        hooks->epoch (hooks->user, phase, e + 1, cfg->epochs, mean);
    }
  return TRUE;
}

typedef struct {
  const FwWeakHooks *hooks;
  const char *phase;
  int n_epochs;
  GArray *losses;
} TrainAdapter;

static void
adapter_epoch (gpointer user, const FwEpochMetrics *em)
{
  TrainAdapter *a = user;
  if (a->losses != NULL)
    g_array_append_val (a->losses, em->train_loss);
  if (a->hooks != NULL && a->hooks->epoch != NULL)
    a->hooks->epoch (a->hooks->user, a->phase, em->epoch, a->n_epochs, em->train_loss);
}

gboolean
fw_weak_train (FwModel *m, const FwTrainConfig *cfg, FwDataset *train, const char *phase,
               const FwWeakHooks *hooks, GArray *losses, GCancellable *cancellable,
               GError **error)
{
  TrainAdapter a = { hooks, phase, cfg->epochs, losses };
  FwTrainHooks th = { .epoch = adapter_epoch, .user = &a };
  return fw_train (m, cfg, train, NULL, NULL, &th, cancellable, NULL, error);
}

double
fw_weak_test_acc (FwModel *m, const FwDataset *test, GCancellable *cancellable, GError **error)
{
  g_autoptr (FwEvalResult) ev = fw_evaluate (m, test, 500, cancellable, error);
  return ev != NULL ? ev->accuracy : NAN;
}

void
fw_weak_probs (FwModel *m, const float *x, int n, float *probs)
{
  gsize size = fw_shape_size (m->input);
  int k = m->n_classes;
  for (int s = 0; s < n; s += 500)
    {
      int b = MIN (500, n - s);
      const float *z = fw_model_forward (m, x + (gsize) s * size, b, FALSE);
      fw_softmax (z, b, k, 1.0f, probs + (gsize) s * k);
    }
}

void
fw_weak_gather (const FwWeakData *d, const gint32 *idx, int nb, float *out)
{
  for (int i = 0; i < nb; i++)
    memcpy (out + (gsize) i * d->size, d->images + (gsize) idx[i] * d->size,
            sizeof (float) * d->size);
}

/* ---- one method ---- */

/* Per-dimension std over up to 1000 pool samples of the output the pre-training loss acts on
 * for VICReg and DINO (the projector, where collapse happens and the variance term works),
 * else of the encoder's embedding. */
static gboolean
embedding_std (FwModel *pre, const FwWeakData *d, FwWeakResult *r, GCancellable *cancellable,
               GError **error)
{
  gboolean projector = r->method == FW_WEAK_VICREG || r->method == FW_WEAK_DINO;
  int layer = projector ? pre->n_layers - 1 : d->n_enc - 1;
  int n = MIN (d->pool->n, 1000);
  g_autofree gint32 *idx = g_new (gint32, n);
  for (int i = 0; i < n; i++)
    idx[i] = i;
  g_autoptr (FwFeatures) f = fw_features_layer (pre, layer, d->pool, idx, n, 256, cancellable,
                                                error);
  if (f == NULL)
    return FALSE;
  r->n_dims = f->d;
  r->emb_std = g_new (float, f->d);
  fw_dim_std (f->x, f->n, f->d, r->emb_std);
  return TRUE;
}

FwWeakResult *
fw_weak_run (const FwWeakConfig *c, FwWeakMethod method, int seed, const FwWeakHooks *hooks,
             GCancellable *cancellable, GError **error)
{
  double t0 = fw_now ();
  g_auto (FwWeakData) d;
  if (!weak_data_init (c, seed, &d, error))
    return NULL;
  g_autoptr (FwWeakResult) r = g_new0 (FwWeakResult, 1);
  r->method = method;
  r->seed = seed;
  r->probe_acc = NAN;
  r->fine_acc = NAN;
  r->pretext_loss = g_array_new (FALSE, FALSE, sizeof (double));
  r->rounds = g_array_new (FALSE, FALSE, sizeof (FwSelftrainRound));
  int k = c->train->n_classes;
  FwTrainConfig fine = c->fine;
  fine.seed = d.seed;

  if (method == FW_WEAK_SELFTRAIN)
    {
      if (!fw_weak_selftrain (c, &d, r, hooks, cancellable, error))
        return NULL;
      r->seconds = fw_now () - t0;
      return g_steal_pointer (&r);
    }

  g_autoptr (FwModel) pre = NULL;
  switch (method)
    {
    case FW_WEAK_AE:
    case FW_WEAK_MASKED:
      pre = fw_weak_pretrain_ae (c, &d, method == FW_WEAK_MASKED, r, hooks, cancellable, error);
      break;
    case FW_WEAK_ROTATION:
      pre = fw_weak_pretrain_rotation (c, &d, r, hooks, cancellable, error);
      break;
    case FW_WEAK_VICREG:
      pre = fw_weak_pretrain_vicreg (c, &d, r, hooks, cancellable, error);
      break;
    case FW_WEAK_DINO:
      pre = fw_weak_pretrain_dino (c, &d, r, hooks, cancellable, error);
      break;
    case FW_WEAK_CLUSTERFIT:
      pre = fw_weak_pretrain_clusterfit (c, &d, r, hooks, cancellable, error);
      break;
    default:
      break;
    }
  if (method != FW_WEAK_SUPERVISED)
    {
      if (pre == NULL)
        return NULL;
      if (!embedding_std (pre, &d, r, cancellable, error))
        return NULL;
      /* linear probe: the encoder frozen */
      g_autoptr (FwModel) probe = fw_weak_classifier (&d, k, error);
      if (probe == NULL || !fw_weak_copy_prefix (probe, pre, d.n_enc, error))
        return NULL;
      for (int i = 0; i < d.n_enc; i++)
        probe->layers[i]->frozen = TRUE;
      FwTrainConfig pc = fine;
      pc.epochs = c->probe_epochs;
      if (!fw_weak_train (probe, &pc, d.labelled, "probe", hooks, NULL, cancellable, error))
        return NULL;
      r->probe_acc = fw_weak_test_acc (probe, d.test, cancellable, error);
      if (isnan (r->probe_acc))
        return NULL;
    }
  g_autoptr (FwModel) clf = fw_weak_classifier (&d, k, error);
  if (clf == NULL)
    return NULL;
  if (pre != NULL && !fw_weak_copy_prefix (clf, pre, d.n_enc, error))
    return NULL;
  if (!fw_weak_train (clf, &fine, d.labelled,
                      method == FW_WEAK_SUPERVISED ? "supervised" : "fine-tune", hooks,
                      NULL, cancellable, error))
    return NULL;
  r->fine_acc = fw_weak_test_acc (clf, d.test, cancellable, error);
  if (isnan (r->fine_acc))
    return NULL;
  r->seconds = fw_now () - t0;
  return g_steal_pointer (&r);
}
