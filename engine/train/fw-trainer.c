/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-trainer.c: the training loop: shuffle, gather, forward, loss, backward, clip, step;
 * per-epoch metrics, evaluation, early stopping.
 *
 * Memory is allocated once per run, before the first batch:
 *   idx[n]                 the epoch's permutation of the training set
 *   xb[batch x size(in)]   the gathered minibatch
 *   yb[batch]              its labels
 *   dlogits[batch x k]     d(mean loss)/d(logits)
 *   best_params[n_params], best_state[n_state]   early stopping's snapshot (patience > 0)
 * plus the optimizer state (FwOptimizer). The epoch loop adds one memcpy per sample (the
 * gather) and a few passes over the logits to the model's own forward/backward work.
 * With cfg->augment: aug_scratch[fw_aug_scratch_floats] for the per-sample steps and, when the
 * pipeline mixes samples, soft[batch x k] targets and mix_scratch for the batch copy. */
#include "fw-train.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "fw-error.h"
#include "fw-loss.h"
#include "fw-robust.h"
#include "fw-util.h"

/* as in fw-optimizer.c: an AVX2 copy of the per-batch loops next to the x86-64-v2 one */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && !defined(FW_NO_IFUNC)
#define FW_VECTOR_CLONES __attribute__ ((target_clones ("arch=x86-64-v3", "default")))
#else
#define FW_VECTOR_CLONES
#endif

/* Evaluation batches: 1000 samples, fewer when the activations of a sample are large
 * (a budget of about 256 MB of activations, gradients and scratch). */
static int
eval_batch_size (const FwModel *m, int train_batch)
{
  gsize per_sample = fw_shape_size (m->input);
  for (int i = 0; i < m->n_layers; i++)
    per_sample += 2 * fw_shape_size (m->layers[i]->out) + m->layers[i]->scratch_per_sample;
  gsize budget = (gsize) 64 << 20; /* floats */
  gsize b = budget / MAX (per_sample, 1);
  b = MIN (b, 1000);
  return (int) MAX (b, (gsize) train_batch);
}

static gboolean
check_dataset (const FwModel *m, const FwDataset *ds, const char *role, GError **error)
{
  if (ds == NULL)
    return TRUE;
  if (fw_dataset_sample_size (ds) != fw_shape_size (m->input))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "%s set '%s': samples of %dx%dx%d do not fit the model's input %dx%dx%d",
                   role, ds->name, ds->shape.c, ds->shape.h, ds->shape.w, m->input.c,
                   m->input.h, m->input.w);
      return FALSE;
    }
  if (ds->n_classes > m->n_classes)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "%s set '%s' has %d classes but the model predicts only %d", role,
                   ds->name, ds->n_classes, m->n_classes);
      return FALSE;
    }
  for (int i = 0; i < ds->n; i++)
    if (ds->y[i] < 0 || ds->y[i] >= m->n_classes)
      {
        g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                     "%s set '%s': sample %d has label %d outside [0, %d)", role, ds->name, i,
                     ds->y[i], m->n_classes);
        return FALSE;
      }
  return TRUE;
}

static gboolean
check_config (const FwTrainConfig *cfg, GError **error)
{
  const char *bad = NULL;
  if (cfg->epochs < 1)
    bad = "epochs must be at least 1";
  else if (cfg->batch < 1)
    bad = "batch must be at least 1";
  else if (!(cfg->lr > 0) || !isfinite (cfg->lr))
    bad = "lr must be a positive number";
  else if (cfg->momentum < 0 || cfg->momentum >= 1)
    bad = "momentum must be in [0, 1)";
  else if (cfg->weight_decay < 0)
    bad = "weight_decay must not be negative";
  else if (cfg->beta1 < 0 || cfg->beta1 >= 1 || cfg->beta2 < 0 || cfg->beta2 >= 1)
    bad = "beta1 and beta2 must be in [0, 1)";
  else if (!(cfg->eps > 0))
    bad = "eps must be positive";
  else if (cfg->label_smoothing < 0 || cfg->label_smoothing >= 1)
    bad = "label_smoothing must be in [0, 1)";
  else if (cfg->clip_norm < 0)
    bad = "clip_norm must not be negative (0 turns clipping off)";
  else if (cfg->patience < 0)
    bad = "patience must not be negative (0 turns early stopping off)";
  else if (cfg->schedule == FW_SCHED_STEP && cfg->step_epochs < 1)
    bad = "step_epochs must be at least 1 for the step schedule";
  if (bad == NULL)
    return TRUE;
  g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "training configuration: %s", bad);
  return FALSE;
}

/* Global L2 norm of the gradients; scales them to clip when it is larger. Frozen layers
 * have zero gradients (fw_model_backward clears them), so they add nothing. */
static double
clip_gradients (FwModel *m, double clip)
{
  double sum = 0;
  const float *g = m->grads;
  for (gsize i = 0; i < m->n_params; i++)
    sum += (double) g[i] * g[i];
  double norm = sqrt (sum);
  if (clip > 0 && norm > clip)
    {
      float s = (float) (clip / (norm + 1e-6));
      float *gw = m->grads;
      for (gsize i = 0; i < m->n_params; i++)
        gw[i] *= s;
    }
  return norm;
}

/* TRUE when every gradient is finite. A float is NaN or Inf when its exponent bits are all
 * ones; the test is done on the bits (integer max, vectorisable) so that -ffast-math cannot
 * fold it away. */
FW_VECTOR_CLONES static gboolean
gradients_finite (const FwModel *m)
{
  const float *g = m->grads;
  guint32 mx = 0;
  for (gsize i = 0; i < m->n_params; i++)
    {
      guint32 bits;
      memcpy (&bits, g + i, sizeof bits); /* the float's bits, without breaking aliasing */
      guint32 e = bits & 0x7f800000u;
      mx = e > mx ? e : mx;
    }
  return mx != 0x7f800000u;
}

static void
set_nonfinite_error (FwModel *m, gboolean loss_finite, int epoch, int batch, GError **error)
{
  const char *head = loss_finite ? "Gradients became NaN" : "Loss became NaN";
  int l = fw_model_find_nonfinite (m, TRUE);
  const char *what = "gradients";
  if (l < 0)
    {
      l = fw_model_find_nonfinite (m, FALSE);
      what = "parameters";
    }
  if (l >= 0)
    g_set_error (error, FW_ERROR, FW_ERROR_NUMERIC,
                 "%s at epoch %d, batch %d: %s of layer %d (%s) are not finite; %s"
                 "lower the learning rate or enable gradient clipping", head, epoch, batch, what,
                 l + 1, m->layers[l]->klass->name,
                 loss_finite ? "check the input data for NaN/Inf, " : "");
  else
    g_set_error (error, FW_ERROR, FW_ERROR_NUMERIC,
                 "%s at epoch %d, batch %d: the logits are not finite; check the input data "
                 "for NaN/Inf, lower the learning rate or enable gradient clipping", head, epoch,
                 batch);
}

/* ---- on-the-fly augmentation: a prefetch helper ----
 *
 * While the model trains on batch b, a helper thread (one per fw_train call) augments batch
 * b + 1 into the other buffer; when the main thread is done with b it claims the images the
 * helper has not started yet, so slow pipelines are split between both cores. Each image gets
 * its own random stream, split from the epoch's augmentation stream by its position in the
 * epoch, so the result does not depend on which thread augmented it (or how many there are).
 * CutMix/Mixup then run on the whole batch on the main thread, from a stream split by batch.
 * Plain pthread locking (not GMutex): ThreadSanitizer sees it. */
typedef struct {
  const FwAugPipeline *aug;
  const FwDataset *train;
  const gint32 *idx;
  const FwRng *epoch_rng;  /* the epoch's augmentation stream (read only) */
  int c, h, w;
  int s, nb;               /* the batch: positions s .. s+nb of the epoch's permutation */
  float *x;                /* [nb x c*h*w] */
  gint32 *y;               /* [nb] */
} AugBatch;

typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t work, finished;
  pthread_t thread;
  gboolean started, quit;
  AugBatch batch;          /* under lock: the batch being prepared */
  int next, done;          /* under lock: images claimed, images finished */
  float *scratch;          /* the helper's own fw_aug_apply scratch */
} AugPrefetch;

static void
aug_one (const AugBatch *b, int i, float *scratch)
{
  const gsize in = (gsize) b->c * b->h * b->w;
  gint32 t = b->idx[b->s + i];
  FwRng rng;

  memcpy (b->x + (gsize) i * in, b->train->x + (gsize) t * in, sizeof (float) * in);
  b->y[i] = b->train->y[t];
  fw_rng_split (b->epoch_rng, (guint64) (b->s + i), &rng);
  fw_aug_apply (b->aug, b->x + (gsize) i * in, b->c, b->h, b->w, &rng, scratch, NULL);
}

/* Claims and augments images of the posted batch until none is left. Called with the lock
 * held; returns with it held. */
static void
aug_work_locked (AugPrefetch *p, float *scratch)
{
  while (p->next < p->batch.nb)
    {
      int i = p->next++;
      AugBatch b = p->batch;
      pthread_mutex_unlock (&p->lock);
      aug_one (&b, i, scratch);
      pthread_mutex_lock (&p->lock);
      if (++p->done == p->batch.nb)
        pthread_cond_broadcast (&p->finished);
    }
}

static void *
aug_helper_main (void *data)
{
  AugPrefetch *p = data;
  pthread_mutex_lock (&p->lock);
  for (;;)
    {
      while (!p->quit && p->next >= p->batch.nb)
        pthread_cond_wait (&p->work, &p->lock);
      if (p->next >= p->batch.nb)  /* quit, and nothing left to do */
        break;
      aug_work_locked (p, p->scratch);
    }
  pthread_mutex_unlock (&p->lock);
  return NULL;
}

static void
aug_prefetch_init (AugPrefetch *p, int c, int h, int w)
{
  memset (p, 0, sizeof *p);
  pthread_mutex_init (&p->lock, NULL);
  pthread_cond_init (&p->work, NULL);
  pthread_cond_init (&p->finished, NULL);
  p->scratch = g_new (float, fw_aug_scratch_floats (c, h, w));
  /* without a helper thread the main thread augments every image itself */
  p->started = pthread_create (&p->thread, NULL, aug_helper_main, p) == 0;
}

/* Hands batch b to the helper (it starts at once). The previous batch must be collected. */
static void
aug_prefetch_post (AugPrefetch *p, const AugBatch *b)
{
  pthread_mutex_lock (&p->lock);
  g_assert (p->done == p->batch.nb);
  p->batch = *b;
  p->next = p->done = 0;
  pthread_cond_signal (&p->work);
  pthread_mutex_unlock (&p->lock);
}

/* Helps with the posted batch, then waits until every image of it is done. */
static void
aug_prefetch_collect (AugPrefetch *p, float *scratch)
{
  pthread_mutex_lock (&p->lock);
  aug_work_locked (p, scratch);
  while (p->done < p->batch.nb)
    pthread_cond_wait (&p->finished, &p->lock);
  pthread_mutex_unlock (&p->lock);
}

/* Finishes what was posted, stops the helper. */
static void
aug_prefetch_clear (AugPrefetch *p)
{
  pthread_mutex_lock (&p->lock);
  p->quit = TRUE;
  pthread_cond_signal (&p->work);
  pthread_mutex_unlock (&p->lock);
  if (p->started)
    pthread_join (p->thread, NULL);
  pthread_cond_destroy (&p->work);
  pthread_cond_destroy (&p->finished);
  pthread_mutex_destroy (&p->lock);
  g_free (p->scratch);
}

gboolean
fw_train (FwModel *m, const FwTrainConfig *cfg, FwDataset *train, FwDataset *val,
          FwDataset *test, const FwTrainHooks *hooks, GCancellable *cancellable,
          GArray *metrics, GError **error)
{
  g_return_val_if_fail (m != NULL && cfg != NULL && train != NULL, FALSE);
  if (!check_config (cfg, error) || !check_dataset (m, train, "training", error)
      || !check_dataset (m, val, "validation", error) || !check_dataset (m, test, "test", error))
    return FALSE;
  if (train->n < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "training set '%s' is empty",
                   train->name);
      return FALSE;
    }
  if (val != NULL && val->n < 1)
    val = NULL;
  if (test != NULL && test->n < 1)
    test = NULL;

  const int n = train->n, k = m->n_classes;
  const int batch = MIN (cfg->batch, n);
  const int n_batches = (n + batch - 1) / batch; /* the last partial batch is kept */
  const gsize in = fw_shape_size (m->input);
  const gboolean early = cfg->patience > 0 && val != NULL;
  const int eval_batch = eval_batch_size (m, batch);

  /* every buffer of the run, once */
  fw_model_reserve (m, MAX (batch, (val != NULL || test != NULL) ? eval_batch : 0));
  g_autofree gint32 *idx = g_new (gint32, n);
  float *xb = fw_alloc_floats ((gsize) batch * in);
  g_autofree gint32 *yb = g_new (gint32, batch);
  float *dlogits = fw_alloc_floats ((gsize) batch * k);
  float *best_params = early ? fw_alloc_floats (MAX (m->n_params, 1)) : NULL;
  float *best_state = early ? fw_alloc_floats (MAX (m->n_state, 1)) : NULL;
  g_autoptr (FwOptimizer) opt = fw_optimizer_new (m, cfg);

  /* augmentation: only when a pipeline with steps is given (NULL leaves the loop as it was) */
  const FwAugPipeline *aug = cfg->augment;
  if (aug != NULL && fw_aug_pipeline_n_steps (aug) == 0)
    aug = NULL;
  gboolean aug_ok = TRUE;
  if (aug != NULL && fw_aug_pipeline_has_batch_ops (aug) && cfg->loss != 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "training configuration: CutMix and Mixup train on soft targets with the "
                   "cross-entropy loss; set loss = ce or remove them from the augmentation");
      aug_ok = FALSE;
    }
  else if (aug != NULL)
    aug_ok = fw_aug_pipeline_check (aug, train->shape.c, error);
  if (!aug_ok)
    {
      fw_free_aligned (xb);
      fw_free_aligned (dlogits);
      fw_free_aligned (best_params);
      fw_free_aligned (best_state);
      return FALSE;
    }
  const gboolean mixing = aug != NULL && fw_aug_pipeline_has_batch_ops (aug);
  const int ac = train->shape.c, ah = train->shape.h, aw = train->shape.w;
  g_autofree float *aug_scratch = aug != NULL ? g_new (float, fw_aug_scratch_floats (ac, ah, aw))
                                              : NULL;
  /* double buffers: the helper thread fills one while the model trains on the other */
  float *xb2 = aug != NULL ? fw_alloc_floats ((gsize) batch * in) : NULL;
  g_autofree gint32 *yb2 = aug != NULL ? g_new (gint32, batch) : NULL;
  g_autofree float *soft = mixing ? g_new (float, (gsize) batch * k) : NULL;
  g_autofree float *soft2 = mixing ? g_new (float, (gsize) batch * k) : NULL;
  float *bx[2] = { xb, xb2 }, *bs[2] = { soft, soft2 };
  gint32 *by[2] = { yb, yb2 };
  int cur = 0;
  AugPrefetch prefetch;
  if (aug != NULL)
    aug_prefetch_init (&prefetch, ac, ah, aw);
  g_autofree float *mix_scratch = mixing
    ? g_new (float, fw_aug_batch_scratch_floats (batch, ac, ah, aw, k)) : NULL;

  /* randomness of the run: shuffling and dropout, both from cfg->seed */
  FwRng root, shuffle_rng;
  fw_rng_init (&root, cfg->seed);
  fw_rng_split (&root, FW_RNG_SHUFFLE, &shuffle_rng);
  fw_rng_split (&root, FW_RNG_DROPOUT, &m->dropout_rng);
  FwRng aug_root;
  fw_rng_split (&root, FW_RNG_AUGMENT, &aug_root);

  gboolean ok = TRUE;
  double best_val = INFINITY;
  int since_best = 0;
  gboolean have_best = FALSE;

  for (int e = 0; e < cfg->epochs && ok; e++)
    {
      double t0 = fw_now ();
      FwRng rng;
      fw_rng_split (&shuffle_rng, (guint64) e, &rng);
      for (int i = 0; i < n; i++)
        idx[i] = i;
      fw_rng_shuffle (&rng, idx, n);
      FwRng arng;
      fw_rng_split (&aug_root, (guint64) e, &arng);

      double loss_sum = 0, lr = fw_train_lr_at (cfg, e);
      gint64 correct = 0;
      for (int b = 0; b < n_batches; b++)
        {
          if (g_cancellable_is_cancelled (cancellable))
            {
              g_set_error (error, FW_ERROR, FW_ERROR_CANCELLED, "Training cancelled");
              ok = FALSE;
              break;
            }
          int s = b * batch, nb = MIN (batch, n - s);
          float *xcur = xb, *scur = soft;
          gint32 *ycur = yb;
          if (aug == NULL)
            {
              /* gather: xb[i] <- train->x[idx[s + i]] */
              for (int i = 0; i < nb; i++)
                {
                  gint32 j = idx[s + i];
                  memcpy (xb + (gsize) i * in, train->x + (gsize) j * in,
                          sizeof (float) * in);
                  yb[i] = train->y[j];
                }
            }
          else
            {
              if (b == 0)
                {
                  /* the epoch's first batch: both threads on it */
                  cur = 0;
                  aug_prefetch_post (&prefetch, &(AugBatch) { aug, train, idx, &arng, ac, ah,
                                                              aw, s, nb, bx[cur], by[cur] });
                  aug_prefetch_collect (&prefetch, aug_scratch);
                }
              if (mixing)
                {
                  FwRng mrng;
                  fw_rng_split (&arng, (guint64) n + (guint64) b, &mrng);
                  fw_aug_apply_batch (aug, bx[cur], by[cur], nb, ac, ah, aw, k, &mrng,
                                      mix_scratch, bs[cur]);
                }
              xcur = bx[cur];
              ycur = by[cur];
              scur = bs[cur];
              cur = 1 - cur;
              /* the next batch is augmented on the helper thread meanwhile */
              if (b + 1 < n_batches)
                aug_prefetch_post (&prefetch,
                                   &(AugBatch) { aug, train, idx, &arng, ac, ah, aw, s + batch,
                                                 MIN (batch, n - s - batch), bx[cur],
                                                 by[cur] });
            }
          const float *logits = fw_model_forward (m, xcur, nb, TRUE);
          /* CutMix/Mixup train on soft targets with cross-entropy (checked above) */
          double loss = mixing
            ? fw_loss_softmax_xent (logits, nb, k, ycur, scur, 0.f, dlogits, NULL)
            : fw_loss_select ((FwLossKind) cfg->loss, cfg->gce_q, cfg->sce_alpha,
                              cfg->sce_beta, (float) cfg->label_smoothing, logits, nb, k, ycur,
                              dlogits);
          int bc = 0;
          for (int i = 0; i < nb; i++)
            {
              const float *z = logits + (gsize) i * k;
              int best = 0;
              for (int j = 1; j < k; j++)
                if (z[j] > z[best])
                  best = j;
              bc += best == ycur[i];
            }
          fw_model_backward (m, dlogits, nb);
          if (aug != NULL && b + 1 < n_batches)
            aug_prefetch_collect (&prefetch, aug_scratch);
          /* a NaN can hide from the loss (ReLU maps NaN to 0): the gradients are checked
           * too, before they reach the parameters */
          if (!isfinite (loss) || !gradients_finite (m))
            {
              set_nonfinite_error (m, isfinite (loss), e + 1, b + 1, error);
              ok = FALSE;
              break;
            }
          if (cfg->clip_norm > 0)
            clip_gradients (m, cfg->clip_norm);
          if (cfg->warmup_epochs > 0 && e < cfg->warmup_epochs)
            lr = fw_train_lr_at (cfg, e + (double) b / n_batches);
          fw_optimizer_step (opt, m, lr);

          loss_sum += loss * nb;
          correct += bc;
          if (hooks != NULL && hooks->batch != NULL)
            hooks->batch (hooks->user, e + 1, cfg->epochs, b + 1, n_batches, loss,
                          (double) bc / nb);
        }
      if (!ok)
        break;

      FwEpochMetrics row = {
        .epoch = e + 1,
        .train_loss = loss_sum / n,
        .train_acc = (double) correct / n,
        .val_loss = NAN,
        .val_acc = NAN,
        .test_acc = NAN,
        .lr = fw_train_lr_at (cfg, e),
        .seconds = fw_now () - t0,
      };
      if (val != NULL)
        {
          g_autoptr (FwEvalResult) r = fw_evaluate (m, val, eval_batch, cancellable, error);
          if (r == NULL)
            {
              ok = FALSE;
              break;
            }
          row.val_loss = r->loss;
          row.val_acc = r->accuracy;
        }
      if (test != NULL)
        {
          g_autoptr (FwEvalResult) r = fw_evaluate (m, test, eval_batch, cancellable, error);
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

      if (early)
        {
          if (row.val_loss < best_val)
            {
              best_val = row.val_loss;
              since_best = 0;
              have_best = TRUE;
              memcpy (best_params, m->params, sizeof (float) * m->n_params);
              memcpy (best_state, m->state, sizeof (float) * m->n_state);
            }
          else if (++since_best >= cfg->patience)
            break;
        }
    }

  /* early stopping hands back the best weights seen, also after a cancel or a NaN */
  if (have_best)
    {
      memcpy (m->params, best_params, sizeof (float) * m->n_params);
      memcpy (m->state, best_state, sizeof (float) * m->n_state);
    }
  if (aug != NULL)
    aug_prefetch_clear (&prefetch);
  fw_free_aligned (xb);
  fw_free_aligned (xb2);
  fw_free_aligned (dlogits);
  fw_free_aligned (best_params);
  fw_free_aligned (best_state);
  return ok;
}
