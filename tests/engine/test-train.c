/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests of engine/train: optimizer updates against closed forms and double-precision
 * reference loops, schedules against their formulas, the training loop's behaviour (learning,
 * determinism, NaN, cancellation, early stopping, clipping) and evaluation against a naive
 * per-sample loop. */
#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-loss.h"
#include "fw-test-util.h"
#include "fw-train.h"

/* ---- helpers ---- */

/* "dense:2" over {3,1,1}: 8 parameters (weight 2x3, bias 2) */
static FwModel *
tiny_model (void)
{
  g_autoptr (GError) error = NULL;
  FwModel *m = fw_model_new ("custom", "dense:2", (FwShape) { 3, 1, 1 }, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (m->n_params, ==, 8);
  return m;
}

static const float p_init[8] = { 0.5f, -1.0f, 2.0f, 0.25f, -0.75f, 1.5f, 0.1f, -0.3f };
static const float g_const[8] = { 0.2f, -0.4f, 1.0f, 0.0f, 3.0f, -0.05f, 0.7f, -1.2f };

static void
assert_close (const float *got, const double *want, int n, double rtol)
{
  for (int i = 0; i < n; i++)
    {
      double tol = rtol * (fabs (want[i]) + 1e-3);
      if (fabs (got[i] - want[i]) > tol)
        g_test_message ("entry %d: got %.9g want %.9g", i, got[i], want[i]);
      g_assert_cmpfloat (fabs (got[i] - want[i]), <=, tol);
    }
}

/* Runs `steps` optimizer steps with the constant gradient g_const from p_init. */
static void
run_steps (const FwTrainConfig *cfg, int steps, double lr, float *out)
{
  g_autoptr (FwModel) m = tiny_model ();
  memcpy (m->params, p_init, sizeof p_init);
  g_autoptr (FwOptimizer) opt = fw_optimizer_new (m, cfg);
  for (int s = 0; s < steps; s++)
    {
      memcpy (m->grads, g_const, sizeof g_const); /* gradients set by hand */
      fw_optimizer_step (opt, m, lr);
    }
  memcpy (out, m->params, sizeof p_init);
}

/* ---- optimizers ---- */

static void
test_sgd_momentum_closed_form (void)
{
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  const double lr = 0.1, mu = 0.9;
  for (int steps = 1; steps <= 4; steps += 3)
    {
      float got[8];
      run_steps (&cfg, steps, lr, got);
      /* constant g: b_t = g (1 - mu^t) / (1 - mu), p_T = p_0 - lr sum_t b_t */
      double want[8];
      for (int i = 0; i < 8; i++)
        {
          double sum = 0;
          for (int t = 1; t <= steps; t++)
            sum += g_const[i] * (1 - pow (mu, t)) / (1 - mu);
          want[i] = p_init[i] - lr * sum;
        }
      assert_close (got, want, 8, 1e-5);
    }
}

static void
test_sgd_nesterov_closed_form (void)
{
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.nesterov = TRUE;
  const double lr = 0.05, mu = 0.9;
  float got[8];
  run_steps (&cfg, 3, lr, got);
  /* p_T = p_0 - lr sum_t (g + mu b_t) */
  double want[8];
  for (int i = 0; i < 8; i++)
    {
      double sum = 0;
      for (int t = 1; t <= 3; t++)
        sum += g_const[i] + mu * g_const[i] * (1 - pow (mu, t)) / (1 - mu);
      want[i] = p_init[i] - lr * sum;
    }
  assert_close (got, want, 8, 1e-5);
}

static void
test_sgd_weight_decay_reference (void)
{
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.weight_decay = 0.01;
  cfg.momentum = 0.8;
  const double lr = 0.2;
  float got[8];
  run_steps (&cfg, 5, lr, got);
  /* reference in double: g' = g + wd p; b = mu b + g'; p -= lr b */
  double p[8], b[8] = { 0 };
  for (int i = 0; i < 8; i++)
    p[i] = p_init[i];
  for (int t = 0; t < 5; t++)
    for (int i = 0; i < 8; i++)
      {
        double gi = g_const[i] + 0.01 * p[i];
        b[i] = 0.8 * b[i] + gi;
        p[i] -= lr * b[i];
      }
  assert_close (got, p, 8, 1e-5);

  /* plain SGD without momentum: one step p - lr (g + wd p) */
  cfg.momentum = 0;
  run_steps (&cfg, 1, lr, got);
  for (int i = 0; i < 8; i++)
    p[i] = p_init[i] - lr * (g_const[i] + 0.01 * p_init[i]);
  assert_close (got, p, 8, 1e-6);
}

static void
test_adam_closed_form (void)
{
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.opt = FW_OPT_ADAM;
  const double lr = 0.01;
  for (int steps = 1; steps <= 6; steps += 5)
    {
      float got[8];
      run_steps (&cfg, steps, lr, got);
      /* constant g: bias-corrected m_hat = g and v_hat = g^2 at every step, so each step
       * moves by lr g / (|g| + eps) */
      double want[8];
      for (int i = 0; i < 8; i++)
        want[i] = p_init[i] - steps * lr * g_const[i] / (fabs (g_const[i]) + 1e-8);
      assert_close (got, want, 8, 1e-5);
    }
}

static void
test_adam_weight_decay_reference (void)
{
  for (int w = 0; w < 2; w++)
    {
      FwTrainConfig cfg;
      fw_train_config_defaults (&cfg);
      cfg.opt = w ? FW_OPT_ADAMW : FW_OPT_ADAM;
      cfg.weight_decay = 0.1;
      cfg.beta1 = 0.8;
      cfg.beta2 = 0.95;
      const double lr = 0.03;
      float got[8];
      run_steps (&cfg, 4, lr, got);
      /* PyTorch's Adam (L2 into g) and AdamW (p *= 1 - lr wd first), in double */
      double p[8], m1[8] = { 0 }, m2[8] = { 0 };
      for (int i = 0; i < 8; i++)
        p[i] = p_init[i];
      for (int t = 1; t <= 4; t++)
        for (int i = 0; i < 8; i++)
          {
            double g = g_const[i];
            if (w)
              p[i] *= 1 - lr * 0.1;
            else
              g += 0.1 * p[i];
            m1[i] = 0.8 * m1[i] + 0.2 * g;
            m2[i] = 0.95 * m2[i] + 0.05 * g * g;
            double mh = m1[i] / (1 - pow (0.8, t)), vh = m2[i] / (1 - pow (0.95, t));
            p[i] -= lr * mh / (sqrt (vh) + 1e-8);
          }
      assert_close (got, p, 8, 2e-5);
    }
  /* AdamW with zero gradient only shrinks: p_T = p_0 (1 - lr wd)^T */
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.opt = FW_OPT_ADAMW;
  cfg.weight_decay = 0.5;
  g_autoptr (FwModel) m = tiny_model ();
  memcpy (m->params, p_init, sizeof p_init);
  g_autoptr (FwOptimizer) opt = fw_optimizer_new (m, &cfg);
  for (int t = 0; t < 3; t++)
    {
      memset (m->grads, 0, sizeof (float) * 8);
      fw_optimizer_step (opt, m, 0.1);
    }
  double want[8];
  for (int i = 0; i < 8; i++)
    want[i] = p_init[i] * pow (1 - 0.1 * 0.5, 3);
  assert_close (m->params, want, 8, 1e-6);
}

static void
test_frozen_layer_unchanged (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new ("custom", "dense:4,relu,dense:2", (FwShape) { 3, 1, 1 },
                                        &error);
  g_assert_no_error (error);
  fw_model_init (m, 3);
  m->layers[0]->frozen = TRUE;
  for (int kind = FW_OPT_SGD; kind <= FW_OPT_ADAMW; kind++)
    {
      FwTrainConfig cfg;
      fw_train_config_defaults (&cfg);
      cfg.opt = kind;
      cfg.weight_decay = 0.1;
      g_autofree float *before = g_memdup2 (m->params, sizeof (float) * m->n_params);
      g_autoptr (FwOptimizer) opt = fw_optimizer_new (m, &cfg);
      for (gsize i = 0; i < m->n_params; i++)
        m->grads[i] = 0.5f;
      fw_optimizer_step (opt, m, 0.1);
      FwLayer *l0 = m->layers[0], *l2 = m->layers[2];
      g_assert_cmpmem (l0->w, sizeof (float) * l0->n_w, before, sizeof (float) * l0->n_w);
      g_assert_true (memcmp (l2->w, before + (l2->w - m->params), sizeof (float) * l2->n_w)
                     != 0);
    }
}

/* ---- schedules ---- */

static void
test_schedules_closed_forms (void)
{
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.lr = 0.2;
  cfg.epochs = 10;
  for (int e = 0; e < 12; e++)
    g_assert_cmpfloat (fw_train_lr_at (&cfg, e), ==, 0.2);

  cfg.schedule = FW_SCHED_STEP;
  cfg.step_epochs = 3;
  cfg.step_gamma = 0.5;
  const double step_want[] = { 0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025 };
  for (int e = 0; e < 10; e++)
    g_assert_cmpfloat_with_epsilon (fw_train_lr_at (&cfg, e), step_want[e], 1e-12);

  cfg.schedule = FW_SCHED_COSINE;
  cfg.min_lr = 0.01;
  g_assert_cmpfloat_with_epsilon (fw_train_lr_at (&cfg, 0), 0.2, 1e-12);
  g_assert_cmpfloat_with_epsilon (fw_train_lr_at (&cfg, 5), 0.105, 1e-12); /* halfway */
  g_assert_cmpfloat_with_epsilon (fw_train_lr_at (&cfg, 10), 0.01, 1e-12);
  /* e = 2: 0.01 + 0.19 (1 + cos(pi/5)) / 2 */
  g_assert_cmpfloat_with_epsilon (fw_train_lr_at (&cfg, 2),
                                  0.01 + 0.19 * (1 + cos (G_PI * 2 / 10)) / 2, 1e-12);

  /* warm-up: linear from lr/10 to lr over warmup_epochs, fractional epochs */
  cfg.schedule = FW_SCHED_CONSTANT;
  cfg.warmup_epochs = 2;
  g_assert_cmpfloat_with_epsilon (fw_train_lr_at (&cfg, 0), 0.02, 1e-12);
  g_assert_cmpfloat_with_epsilon (fw_train_lr_at (&cfg, 1), 0.11, 1e-12);
  g_assert_cmpfloat_with_epsilon (fw_train_lr_at (&cfg, 0.5), 0.02 + 0.18 * 0.25, 1e-12);
  g_assert_cmpfloat_with_epsilon (fw_train_lr_at (&cfg, 2), 0.2, 1e-12);
  g_assert_cmpfloat_with_epsilon (fw_train_lr_at (&cfg, 7), 0.2, 1e-12);
}

static void
test_config_defaults (void)
{
  FwTrainConfig cfg;
  memset (&cfg, 0xab, sizeof cfg);
  fw_train_config_defaults (&cfg);
  g_assert_cmpint (cfg.epochs, ==, 10);
  g_assert_cmpint (cfg.batch, ==, 128);
  g_assert_cmpint (cfg.opt, ==, FW_OPT_SGD);
  g_assert_cmpfloat (cfg.lr, ==, 0.05);
  g_assert_cmpfloat (cfg.momentum, ==, 0.9);
  g_assert_false (cfg.nesterov);
  g_assert_cmpfloat (cfg.weight_decay, ==, 0);
  g_assert_cmpfloat (cfg.beta2, ==, 0.999);
  g_assert_cmpint (cfg.schedule, ==, FW_SCHED_CONSTANT);
  g_assert_cmpint (cfg.step_epochs, ==, 5);
  g_assert_cmpint (cfg.patience, ==, 0);
  g_assert_cmpuint (cfg.seed, ==, 1);
}

/* ---- the training loop ---- */

/* 3 classes x 2 Gaussian blobs in the plane, n points, well separated (std 0.35). */
static FwDataset *
blobs (int n, guint64 seed, gboolean random_labels)
{
  static const float centres[3][2][2] = {
    { { -3, 0 }, { 3, 3 } }, { { 0, 3 }, { 3, -3 } }, { { 0, -3 }, { -3, 3 } },
  };
  FwRng rng;
  fw_rng_init (&rng, seed);
  FwDataset *ds = fw_dataset_new ("blobs", n, (FwShape) { 2, 1, 1 }, 3);
  for (int i = 0; i < n; i++)
    {
      int c = i % 3, b = (i / 3) % 2;
      ds->x[2 * i] = centres[c][b][0] + 0.35f * (float) fw_rng_normal (&rng);
      ds->x[2 * i + 1] = centres[c][b][1] + 0.35f * (float) fw_rng_normal (&rng);
      ds->y[i] = random_labels ? (gint32) fw_rng_below (&rng, 3) : c;
    }
  return ds;
}

static FwModel *
blob_model (guint64 seed)
{
  g_autoptr (GError) error = NULL;
  FwModel *m = fw_model_new ("custom", "dense:16,relu,dense:3", (FwShape) { 2, 1, 1 }, &error);
  g_assert_no_error (error);
  fw_model_init (m, seed);
  return m;
}

typedef struct {
  int batches, epochs, last_n_batches, last_epoch;
  GCancellable *cancel_at;
  int cancel_batch;
} HookLog;

static void
log_batch (gpointer user, int epoch, int n_epochs, int batch, int n_batches, double loss,
           double acc)
{
  HookLog *h = user;
  h->batches++;
  h->last_n_batches = n_batches;
  g_assert_true (acc >= 0 && acc <= 1);
  if (h->cancel_at != NULL && h->batches == h->cancel_batch)
    g_cancellable_cancel (h->cancel_at);
}

static void
log_epoch (gpointer user, const FwEpochMetrics *m)
{
  HookLog *h = user;
  h->epochs++;
  h->last_epoch = m->epoch;
}

static void
test_train_learns_blobs (void)
{
  g_autoptr (FwDataset) train = blobs (600, 11, FALSE);
  g_autoptr (FwDataset) test = blobs (300, 12, FALSE);
  g_autoptr (FwModel) m = blob_model (5);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 6;
  cfg.batch = 32;
  HookLog log = { 0 };
  FwTrainHooks hooks = { log_batch, log_epoch, &log };
  g_autoptr (GArray) metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_train (m, &cfg, train, NULL, test, &hooks, NULL, metrics, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (metrics->len, ==, 6);
  g_assert_cmpint (log.epochs, ==, 6);
  /* 600 / 32: 18 full batches and a partial one, which is kept */
  g_assert_cmpint (log.last_n_batches, ==, 19);
  g_assert_cmpint (log.batches, ==, 6 * 19);
  FwEpochMetrics *first = &g_array_index (metrics, FwEpochMetrics, 0);
  FwEpochMetrics *last = &g_array_index (metrics, FwEpochMetrics, 5);
  g_test_message ("loss %.4f -> %.4f, train acc %.3f, test acc %.3f", first->train_loss,
                  last->train_loss, last->train_acc, last->test_acc);
  g_assert_cmpfloat (last->train_loss, <, first->train_loss);
  g_assert_cmpfloat (last->train_acc, >, 0.95);
  g_assert_cmpfloat (last->test_acc, >, 0.95);
  g_assert_true (isnan (last->val_loss) && isnan (last->val_acc));
  g_assert_cmpfloat (last->lr, ==, 0.05);
  g_assert_cmpint (last->epoch, ==, 6);
  g_assert_cmpfloat (last->seconds, >=, 0);
  /* the reported test accuracy is the model's accuracy on the test set */
  g_autoptr (FwEvalResult) r = fw_evaluate (m, test, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (r->accuracy, ==, last->test_acc);

  /* Adam learns it too */
  g_autoptr (FwModel) m2 = blob_model (5);
  cfg.opt = FW_OPT_ADAM;
  cfg.lr = 0.01;
  g_array_set_size (metrics, 0);
  g_assert_true (fw_train (m2, &cfg, train, NULL, test, NULL, NULL, metrics, &error));
  g_assert_cmpfloat (g_array_index (metrics, FwEpochMetrics, 5).test_acc, >, 0.95);
}

static void
train_once (guint64 seed, GArray *metrics, float **params, gsize *n)
{
  g_autoptr (FwDataset) train = blobs (300, 21, FALSE);
  g_autoptr (FwDataset) val = blobs (90, 22, FALSE);
  g_autoptr (FwModel) m = blob_model (7);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 3;
  cfg.batch = 16;
  cfg.seed = seed;
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_train (m, &cfg, train, val, NULL, NULL, NULL, metrics, &error));
  g_assert_no_error (error);
  *params = g_memdup2 (m->params, sizeof (float) * m->n_params);
  *n = m->n_params;
}

static void
test_train_metrics_follow_schedule (void)
{
  g_autoptr (FwDataset) train = blobs (60, 25, FALSE);
  g_autoptr (FwModel) m = blob_model (3);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 7;
  cfg.batch = 500; /* larger than the set: one batch of 60 per epoch */
  cfg.schedule = FW_SCHED_STEP;
  cfg.step_epochs = 2;
  cfg.step_gamma = 0.5;
  cfg.lr = 0.08;
  HookLog log = { 0 };
  FwTrainHooks hooks = { log_batch, log_epoch, &log };
  g_autoptr (GArray) metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_train (m, &cfg, train, NULL, NULL, &hooks, NULL, metrics, &error));
  g_assert_cmpint (log.batches, ==, 7);
  g_assert_cmpuint (metrics->len, ==, 7);
  for (guint i = 0; i < metrics->len; i++)
    {
      FwEpochMetrics *row = &g_array_index (metrics, FwEpochMetrics, i);
      g_assert_cmpint (row->epoch, ==, (int) i + 1);
      g_assert_cmpfloat_with_epsilon (row->lr, 0.08 * pow (0.5, i / 2), 1e-12);
      g_assert_true (isnan (row->test_acc));
    }
}

static void
test_train_deterministic (void)
{
  g_autoptr (GArray) a = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  g_autoptr (GArray) b = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  g_autoptr (GArray) c = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  g_autofree float *pa = NULL, *pb = NULL, *pc = NULL;
  gsize n;
  train_once (1, a, &pa, &n);
  train_once (1, b, &pb, &n);
  train_once (2, c, &pc, &n);
  g_assert_cmpmem (pa, n * sizeof (float), pb, n * sizeof (float));
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++)
    {
      FwEpochMetrics *x = &g_array_index (a, FwEpochMetrics, i);
      FwEpochMetrics *y = &g_array_index (b, FwEpochMetrics, i);
      g_assert_cmpfloat (x->train_loss, ==, y->train_loss);
      g_assert_cmpfloat (x->train_acc, ==, y->train_acc);
      g_assert_cmpfloat (x->val_loss, ==, y->val_loss);
      g_assert_cmpfloat (x->val_acc, ==, y->val_acc);
    }
  /* another shuffling seed, other numbers */
  g_assert_true (memcmp (pa, pc, n * sizeof (float)) != 0);
  g_assert_cmpfloat (g_array_index (a, FwEpochMetrics, 0).train_loss, !=,
                     g_array_index (c, FwEpochMetrics, 0).train_loss);
}

static void
test_train_nan_input_stops (void)
{
  g_autoptr (FwDataset) train = blobs (200, 31, FALSE);
  train->x[2 * 150] = NAN;
  g_autoptr (FwModel) m = blob_model (1);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 2;
  cfg.batch = 200; /* one batch: the NaN is met in epoch 1, batch 1 */
  g_autoptr (GError) error = NULL;
  g_assert_false (fw_train (m, &cfg, train, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_NUMERIC);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "epoch 1, batch 1"));
  g_assert_nonnull (strstr (error->message, "layer 1 (dense)"));
}

static void
test_train_huge_lr_stops (void)
{
  g_autoptr (FwDataset) train = blobs (300, 41, FALSE);
  g_autoptr (FwModel) m = blob_model (1);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 20;
  cfg.batch = 30;
  cfg.lr = 1e6;
  HookLog log = { 0 };
  FwTrainHooks hooks = { log_batch, log_epoch, &log };
  g_autoptr (GError) error = NULL;
  g_assert_false (fw_train (m, &cfg, train, NULL, NULL, &hooks, NULL, NULL, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_NUMERIC);
  g_test_message ("%s", error->message);
  g_autofree char *where = g_strdup_printf ("at epoch %d, batch ", log.epochs + 1);
  g_assert_nonnull (strstr (error->message, where));
  g_assert_nonnull (strstr (error->message, "lower the learning rate"));
}

static void
test_train_cancel_within_one_batch (void)
{
  g_autoptr (FwDataset) train = blobs (600, 51, FALSE);
  g_autoptr (FwModel) m = blob_model (1);
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.batch = 10;
  HookLog log = { .cancel_at = cancel, .cancel_batch = 3 };
  FwTrainHooks hooks = { log_batch, log_epoch, &log };
  g_autoptr (GError) error = NULL;
  g_assert_false (fw_train (m, &cfg, train, NULL, NULL, &hooks, cancel, NULL, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_CANCELLED);
  g_assert_cmpstr (error->message, ==, "Training cancelled");
  g_assert_cmpint (log.batches, ==, 3);
  g_assert_cmpint (log.epochs, ==, 0);
}

static void
test_train_early_stopping_restores_best (void)
{
  /* random labels: the model can only memorise the 60 training points, so the loss on the
   * validation set rises after a while */
  g_autoptr (FwDataset) train = blobs (60, 61, TRUE);
  g_autoptr (FwDataset) val = blobs (300, 62, TRUE);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new ("custom", "dense:64,relu,dense:64,relu,dense:3",
                                        (FwShape) { 2, 1, 1 }, &error);
  g_assert_no_error (error);
  fw_model_init (m, 2);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 200;
  cfg.batch = 10;
  cfg.patience = 3;
  g_autoptr (GArray) metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  g_assert_true (fw_train (m, &cfg, train, val, NULL, NULL, NULL, metrics, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (metrics->len, <, 200); /* it stopped early */
  double best = INFINITY;
  guint best_at = 0;
  for (guint i = 0; i < metrics->len; i++)
    if (g_array_index (metrics, FwEpochMetrics, i).val_loss < best)
      {
        best = g_array_index (metrics, FwEpochMetrics, i).val_loss;
        best_at = i;
      }
  g_test_message ("stopped after %u epochs, best val loss %.5f at epoch %u", metrics->len, best,
                  best_at + 1);
  /* exactly `patience` epochs without improvement after the best one */
  g_assert_cmpuint (metrics->len, ==, best_at + 1 + 3);
  g_autoptr (FwEvalResult) r = fw_evaluate (m, val, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (r->loss, ==, best);
  g_assert_cmpfloat (r->loss, <, g_array_index (metrics, FwEpochMetrics, metrics->len - 1)
                     .val_loss);
}

static void
test_train_clipping_bounds_update (void)
{
  g_autoptr (FwDataset) train = blobs (90, 71, FALSE);
  for (int i = 0; i < 2 * 90; i++)
    train->x[i] *= 50.0f; /* large inputs, large gradients */
  for (int clip = 0; clip < 2; clip++)
    {
      g_autoptr (FwModel) m = blob_model (4);
      g_autofree float *before = g_memdup2 (m->params, sizeof (float) * m->n_params);
      FwTrainConfig cfg;
      fw_train_config_defaults (&cfg);
      cfg.epochs = 1;
      cfg.batch = 90; /* one step */
      cfg.momentum = 0;
      cfg.lr = 1.0;
      cfg.clip_norm = clip ? 0.5 : 0;
      g_autoptr (GError) error = NULL;
      g_assert_true (fw_train (m, &cfg, train, NULL, NULL, NULL, NULL, NULL, &error));
      double sq = 0;
      for (gsize i = 0; i < m->n_params; i++)
        sq += ((double) m->params[i] - before[i]) * ((double) m->params[i] - before[i]);
      g_test_message ("clip %d: update norm %g", clip, sqrt (sq));
      if (clip)
        {
          g_assert_cmpfloat (sqrt (sq), <=, 0.5 * (1 + 1e-5));
          g_assert_cmpfloat (sqrt (sq), >, 0.49);
        }
      else
        g_assert_cmpfloat (sqrt (sq), >, 0.5);
    }
}

static void
test_train_keeps_frozen_layers_and_flags (void)
{
  g_autoptr (FwDataset) train = blobs (120, 75, FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new ("custom", "flatten,dense:8,relu,dense:8,relu,dense:3",
                                        (FwShape) { 2, 1, 1 }, &error);
  g_assert_no_error (error);
  fw_model_init (m, 6);
  m->layers[1]->frozen = TRUE;
  FwLayer *l1 = m->layers[1], *l3 = m->layers[3];
  g_autofree float *w1 = g_memdup2 (l1->w, sizeof (float) * l1->n_w);
  g_autofree float *w3 = g_memdup2 (l3->w, sizeof (float) * l3->n_w);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 2;
  cfg.batch = 16;
  cfg.weight_decay = 0.01;
  g_assert_true (fw_train (m, &cfg, train, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (l1->w, sizeof (float) * l1->n_w, w1, sizeof (float) * l1->n_w);
  g_assert_true (memcmp (l3->w, w3, sizeof (float) * l3->n_w) != 0);
  /* the flags are the caller's again: only layer 1 frozen */
  for (int i = 0; i < m->n_layers; i++)
    g_assert_cmpint (m->layers[i]->frozen, ==, i == 1);
}

static void
test_train_rejects_bad_input (void)
{
  g_autoptr (FwDataset) train = blobs (30, 81, FALSE);
  g_autoptr (FwModel) m = blob_model (1);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  g_autoptr (GError) error = NULL;

  cfg.batch = 0;
  g_assert_false (fw_train (m, &cfg, train, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "batch"));
  g_clear_error (&error);

  fw_train_config_defaults (&cfg);
  g_autoptr (FwDataset) wide = fw_dataset_new ("wide", 10, (FwShape) { 3, 1, 1 }, 3);
  g_assert_false (fw_train (m, &cfg, wide, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "wide"));
  g_clear_error (&error);

  train->y[4] = 7;
  g_assert_false (fw_train (m, &cfg, train, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "label 7"));
}

/* ---- evaluation ---- */

static void
test_evaluate_matches_naive_loop (void)
{
  g_autoptr (FwDataset) ds = blobs (97, 91, FALSE);
  g_autoptr (FwModel) m = blob_model (9); /* untrained: plenty of mistakes */
  g_autoptr (GError) error = NULL;
  g_autoptr (FwEvalResult) r = fw_evaluate (m, ds, 7, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r->n, ==, 97);
  g_assert_cmpint (r->n_classes, ==, 3);

  /* naive: one sample at a time, argmax, log-softmax in double */
  gint64 conf[3][3] = { { 0 } };
  int correct = 0;
  double loss = 0;
  for (int i = 0; i < ds->n; i++)
    {
      const float *z = fw_model_forward (m, ds->x + 2 * i, 1, FALSE);
      int best = 0;
      for (int j = 1; j < 3; j++)
        if (z[j] > z[best])
          best = j;
      g_assert_cmpint (r->preds[i], ==, best);
      conf[ds->y[i]][best]++;
      correct += best == ds->y[i];
      double lse = log (exp (z[0]) + exp (z[1]) + exp (z[2]));
      loss += lse - z[ds->y[i]];
    }
  gint64 total = 0, diag = 0;
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++)
      {
        g_assert_cmpint (r->confusion[a * 3 + b], ==, conf[a][b]);
        total += r->confusion[a * 3 + b];
        diag += a == b ? r->confusion[a * 3 + b] : 0;
      }
  g_assert_cmpint (total, ==, 97);
  g_assert_cmpfloat (r->accuracy, ==, (double) diag / 97);
  g_assert_cmpfloat (r->accuracy, ==, (double) correct / 97);
  g_assert_cmpfloat_with_epsilon (r->loss, loss / 97, 1e-5);
  for (int c = 0; c < 3; c++)
    {
      gint64 row = conf[c][0] + conf[c][1] + conf[c][2];
      g_assert_cmpfloat_with_epsilon (r->per_class_acc[c], (double) conf[c][c] / row, 1e-12);
    }
  g_assert_true (r->accuracy < 0.9); /* the check above saw mistakes */

  /* a class without samples has NaN accuracy */
  for (int i = 0; i < ds->n; i++)
    if (ds->y[i] == 2)
      ds->y[i] = 1;
  g_autoptr (FwEvalResult) r2 = fw_evaluate (m, ds, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (isnan (r2->per_class_acc[2]));
  g_assert_false (isnan (r2->per_class_acc[1]));
}

static void
test_evaluate_cancelled (void)
{
  g_autoptr (FwDataset) ds = blobs (30, 92, FALSE);
  g_autoptr (FwModel) m = blob_model (9);
  g_autoptr (GCancellable) c = g_cancellable_new ();
  g_cancellable_cancel (c);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwEvalResult) r = fw_evaluate (m, ds, 10, c, &error);
  g_assert_null (r);
  g_assert_error (error, FW_ERROR, FW_ERROR_CANCELLED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Optimizer/sgd_momentum_matches_closed_form", test_sgd_momentum_closed_form);
  g_test_add_func ("/Optimizer/sgd_nesterov_matches_closed_form", test_sgd_nesterov_closed_form);
  g_test_add_func ("/Optimizer/sgd_weight_decay_matches_reference",
                   test_sgd_weight_decay_reference);
  g_test_add_func ("/Optimizer/adam_constant_gradient_closed_form", test_adam_closed_form);
  g_test_add_func ("/Optimizer/adam_adamw_weight_decay_match_reference",
                   test_adam_weight_decay_reference);
  g_test_add_func ("/Optimizer/frozen_layer_unchanged", test_frozen_layer_unchanged);
  g_test_add_func ("/Schedule/closed_forms", test_schedules_closed_forms);
  g_test_add_func ("/Train/config_defaults", test_config_defaults);
  g_test_add_func ("/Train/learns_separable_blobs", test_train_learns_blobs);
  g_test_add_func ("/Train/metrics_follow_schedule", test_train_metrics_follow_schedule);
  g_test_add_func ("/Train/same_seed_same_numbers", test_train_deterministic);
  g_test_add_func ("/Train/nan_input_stops_naming_epoch_and_layer", test_train_nan_input_stops);
  g_test_add_func ("/Train/huge_lr_stops_with_numeric_error", test_train_huge_lr_stops);
  g_test_add_func ("/Train/cancel_stops_within_one_batch", test_train_cancel_within_one_batch);
  g_test_add_func ("/Train/early_stopping_restores_best", test_train_early_stopping_restores_best);
  g_test_add_func ("/Train/clipping_bounds_update_norm", test_train_clipping_bounds_update);
  g_test_add_func ("/Train/keeps_frozen_layers_and_flags",
                   test_train_keeps_frozen_layers_and_flags);
  g_test_add_func ("/Train/rejects_bad_input", test_train_rejects_bad_input);
  g_test_add_func ("/Evaluate/matches_naive_loop", test_evaluate_matches_naive_loop);
  g_test_add_func ("/Evaluate/cancelled", test_evaluate_cancelled);
  return g_test_run ();
}
