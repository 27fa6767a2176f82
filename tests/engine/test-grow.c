/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-grow.c: TINY's algebra against independent computations (LAPACK's least-squares
 * solver, the projector property, finite differences of the loss), the model surgery
 * (gamma = 0 keeps the function) and the growth run (determinism by seed, loss drops). */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "fw-dataset.h"
#include "fw-error.h"
#include "fw-grow.h"
#include "fw-loss.h"
#include "fw-recipe-ext.h"
#include "fw-test-util.h"

static FwDataset *
sim_data (int n, int size)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *spec = g_strdup_printf ("sim:%d:%d", n, size);
  FwDataset *ds = fw_dataset_load (spec, 7, NULL, &error);
  g_assert_no_error (error);
  return ds;
}

static FwModel *
make_model (const char *spec, FwShape in, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  FwModel *m = fw_model_new ("custom", spec, in, &error);
  g_assert_no_error (error);
  fw_model_init (m, seed);
  m->in_mean = 0.2f;
  m->in_std = 0.3f;
  return m;
}

/* --- dW* = (S^+ M)^T is the minimum-norm least-squares solution of B^T dW^T = V^T --- */

static void
test_best_update_lstsq (void)
{
  /* random B [n x d] with a repeated column (S singular), V [n x o] */
  int n = 40, d = 6, o = 3;
  FwRng rng;
  fw_rng_init (&rng, 3);
  g_autofree double *B = g_new (double, n * d), *V = g_new (double, n * o);
  for (int i = 0; i < n; i++)
    {
      for (int j = 0; j < d - 1; j++)
        B[i * d + j] = fw_rng_normal (&rng);
      B[i * d + d - 1] = B[i * d + 1];
      for (int j = 0; j < o; j++)
        V[i * o + j] = fw_rng_normal (&rng);
    }
  g_autofree double *S = g_new0 (double, d * d), *M = g_new0 (double, d * o);
  for (int i = 0; i < n; i++)
    for (int a = 0; a < d; a++)
      {
        for (int b = 0; b < d; b++)
          S[a * d + b] += B[i * d + a] * B[i * d + b] / n;
        for (int c = 0; c < o; c++)
          M[a * o + c] += B[i * d + a] * V[i * o + c] / n;
      }
  g_autofree double *dW = g_new (double, o * d);
  g_autoptr (GError) error = NULL;
  double gain = fw_grow_best_update (S, M, d, o, 1e-9, dW, &error);
  g_assert_no_error (error);

  /* direct: min-norm lstsq B X = V (LAPACK dgelsd), X [d x o] */
  g_autofree double *A = g_memdup2 (B, sizeof (double) * n * d);
  g_autofree double *X = g_memdup2 (V, sizeof (double) * n * o);
  g_autofree double *sv = g_new (double, d);
  lapack_int rank = 0;
  g_assert_cmpint (LAPACKE_dgelsd (LAPACK_ROW_MAJOR, n, d, o, A, d, X, o, sv, 1e-9, &rank), ==,
                   0);
  g_assert_cmpint (rank, ==, d - 1);
  double tr = 0;
  for (int a = 0; a < d; a++)
    for (int c = 0; c < o; c++)
      {
        g_assert_cmpfloat_with_epsilon (dW[c * d + a], X[a * o + c], 1e-8);
        tr += M[a * o + c] * X[a * o + c];
      }
  g_assert_cmpfloat_with_epsilon (gain, tr, 1e-9);
  g_assert_cmpfloat (gain, >, 0);
}

/* The proposal's dW at a real site equals the lstsq fit of -n dL/da_B from B's inputs; with
 * every singular direction kept, the new neurons' sum_j alpha_j omega_j^T equals
 * S2^+ N = the lstsq fit of V_proj from A's inputs (since alpha omega^T = S2^{-1/2} u lambda
 * v^T and sum_j u_j lambda_j v_j^T = S2^{-1/2} N). */
static void
test_proposal_dw_is_lstsq (void)
{
  g_autoptr (FwDataset) ds = sim_data (120, 10);
  FwShape in = ds->shape;
  g_autoptr (FwModel) m = make_model ("flatten,dense:5,relu,dense:3,relu,dense:10", in, 1);
  FwGrowSite sites[4];
  g_assert_cmpint (fw_grow_sites (m, sites, 4), ==, 2);
  FwGrowOptions opt;
  fw_grow_options_defaults (&opt);
  opt.eig_rel = 1e-10;
  opt.max_new = 100;
  opt.lambda_rel = 0;
  int n = ds->n;
  g_autoptr (GError) error = NULL;
  g_autoptr (FwGrowProposal) p = fw_grow_propose (m, sites[1], FW_GROW_TINY, ds->x, ds->y, n,
                                                  &opt, NULL, &error);
  g_assert_no_error (error);
  /* site 3->5: B = the head dense:10, its input act[4] = relu(dense:3) [n x 3], its output
   * gradient d(mean loss)/d logits */
  int db = 4, out = 10;
  const float *logits = fw_model_forward (m, ds->x, n, TRUE);
  g_autofree float *dl = g_new (float, n * 10);
  fw_loss_softmax_xent (logits, n, 10, ds->y, NULL, 0, dl, NULL);
  fw_model_backward (m, dl, n);
  g_autofree double *A = g_new (double, n * db), *X = g_new (double, n * out);
  for (int i = 0; i < n; i++)
    {
      for (int j = 0; j < 3; j++)
        A[i * db + j] = m->act[4][i * 3 + j];
      A[i * db + 3] = 1.0;
      for (int o = 0; o < out; o++)
        X[i * out + o] = -(double) n * dl[i * out + o];
    }
  g_autofree double *A0 = g_memdup2 (A, sizeof (double) * n * db);
  g_autofree double *Vp = g_memdup2 (X, sizeof (double) * n * out);
  g_autofree double *sv = g_new (double, 6);   /* min (n, columns): 4, then 6 */
  lapack_int rank = 0;
  g_assert_cmpint (LAPACKE_dgelsd (LAPACK_ROW_MAJOR, n, db, out, A, db, X, out, sv, 1e-10,
                                   &rank), ==, 0);
  /* V_proj = V - A0 dW*^T ; A's inputs: relu(dense:5) = act[2] [n x 5] and a 1 */
  cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, out, db, -1.0, A0, db, X, out,
               1.0, Vp, out);
  int da = 6;
  g_autofree double *XA = g_new (double, n * da);
  for (int i = 0; i < n; i++)
    {
      for (int j = 0; j < 5; j++)
        XA[i * da + j] = m->act[2][i * 5 + j];
      XA[i * da + 5] = 1.0;
    }
  g_assert_cmpint (LAPACKE_dgelsd (LAPACK_ROW_MAJOR, n, da, out, XA, da, Vp, out, sv, 1e-10,
                                   &rank), ==, 0);
  /* N's bias row is 0 (V_proj is a residual orthogonal to B's constant input, and A's 1 is
   * that constant): 5 directions, all kept */
  g_assert_cmpint (rank, ==, da);
  g_assert_cmpint (p->k, ==, da - 1);
  g_assert_cmpint (p->d_a, ==, da);
  double zs = 0;
  for (int i = 0; i < da * out; i++)
    zs = MAX (zs, fabs (Vp[i]));
  for (int a = 0; a < da; a++)
    for (int o = 0; o < out; o++)
      {
        double s = 0;
        for (int j = 0; j < p->k; j++)
          s += p->alpha[j * da + a] * p->omega[j * out + o];
        g_assert_cmpfloat (fabs (s - Vp[a * out + o]), <, 1e-6 * zs + 1e-9);
      }
  double scale = 0;
  for (int i = 0; i < db * out; i++)
    scale = MAX (scale, fabs (X[i]));
  for (int a = 0; a < db; a++)
    for (int o = 0; o < out; o++)
      g_assert_cmpfloat (fabs (p->dW[o * db + a] - X[a * out + o]), <, 1e-4 * scale + 1e-6);
  g_assert_cmpfloat (p->bottleneck, <=, p->goal_norm + 1e-12);
}

/* --- S2^{-1/2} S2 S2^{-1/2} is the identity on the kept eigenspace (and 0 off it) --- */

static void
test_inv_sqrt_projector (void)
{
  int d = 7, r = 4, n = 20;
  FwRng rng;
  fw_rng_init (&rng, 11);
  /* S = Z Z^T / n, Z [d x n] = F [d x r] G [r x n]: rank r, range = span(F) */
  g_autofree double *F = g_new (double, d * r), *G = g_new (double, r * n);
  for (int i = 0; i < d * r; i++)
    F[i] = fw_rng_normal (&rng);
  for (int i = 0; i < r * n; i++)
    G[i] = fw_rng_normal (&rng);
  g_autofree double *Z = g_new (double, d * n), *S = g_new (double, d * d);
  cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, d, n, r, 1, F, r, G, n, 0, Z, n);
  cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasTrans, d, d, n, 1.0 / n, Z, n, Z, n, 0, S, d);
  g_autofree double *H = g_new (double, d * d), *T = g_new (double, d * d),
                    *R = g_new (double, d * d), *R2 = g_new (double, d * d);
  int rank = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_grow_inv_sqrt (S, d, 1e-9, H, &rank, &error));
  g_assert_no_error (error);
  g_assert_cmpint (rank, ==, r);
  cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1, H, d, S, d, 0, T, d);
  cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1, T, d, H, d, 0, R, d);
  cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1, R, d, R, d, 0, R2, d);
  double trace = 0;
  for (int i = 0; i < d; i++)
    {
      trace += R[i * d + i];
      for (int j = 0; j < d; j++)
        {
          g_assert_cmpfloat_with_epsilon (R[i * d + j], R[j * d + i], 1e-9);   /* symmetric */
          g_assert_cmpfloat_with_epsilon (R2[i * d + j], R[i * d + j], 1e-8);  /* idempotent */
        }
    }
  g_assert_cmpfloat_with_epsilon (trace, r, 1e-8);
  /* identity on the range of S: R F = F */
  g_autofree double *RF = g_new (double, d * r);
  cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, d, r, d, 1, R, d, F, r, 0, RF, r);
  for (int i = 0; i < d * r; i++)
    g_assert_cmpfloat_with_epsilon (RF[i], F[i], 1e-8 * (1 + fabs (F[i])));
}

/* --- surgery: gamma = 0 leaves the outputs unchanged, every method, dense and conv --- */

static const char *const specs[] = {
  "flatten,dense:3,relu,dense:2,relu,dense:10",
  "conv:2:3:2:1,relu,conv:2:3:1:1,tanh,flatten,dense:10",
};

static void
test_gamma_zero_keeps_outputs (void)
{
  g_autoptr (FwDataset) ds = sim_data (64, 12);
  for (guint s = 0; s < G_N_ELEMENTS (specs); s++)
    {
      g_autoptr (FwModel) m = make_model (specs[s], ds->shape, 5);
      FwGrowSite sites[4];
      int ns = fw_grow_sites (m, sites, 4);
      g_assert_cmpint (ns, ==, 2);
      int n = ds->n;
      g_autofree float *ref = g_memdup2 (fw_model_forward (m, ds->x, n, FALSE),
                                         sizeof (float) * n * 10);
      for (int meth = FW_GROW_TINY; meth <= FW_GROW_RANDOM; meth++)
        for (int i = 0; i < ns; i++)
          {
            FwGrowOptions opt;
            fw_grow_options_defaults (&opt);
            opt.lambda_rel = 0;
            opt.max_new = 2;
            FwRng rng;
            fw_rng_init (&rng, 1);
            g_autoptr (GError) error = NULL;
            g_autoptr (FwGrowProposal) p = fw_grow_propose (m, sites[i], meth, ds->x, ds->y, n,
                                                            &opt, &rng, &error);
            g_assert_no_error (error);
            g_assert_cmpint (p->k, ==, 2);
            g_autoptr (FwModel) g0 = fw_grow_apply (m, p, p->k, 0.0, &error);
            g_assert_no_error (error);
            gsize per = (gsize) p->d_a + (gsize) p->d_out * p->n_taps;
            g_assert_cmpuint (fw_model_param_count (g0), ==,
                              fw_model_param_count (m) + 2 * per);
            const float *out = fw_model_forward (g0, ds->x, n, FALSE);
            for (int j = 0; j < n * 10; j++)
              g_assert_cmpfloat_with_epsilon (out[j], ref[j], 1e-5 * (1 + fabs (ref[j])));
            /* and gamma = 1 does change them (the neurons are really wired in) */
            g_autoptr (FwModel) g1 = fw_grow_apply (m, p, p->k, 1.0, &error);
            out = fw_model_forward (g1, ds->x, n, FALSE);
            double diff = 0;
            for (int j = 0; j < n * 10; j++)
              diff = MAX (diff, fabs (out[j] - ref[j]));
            g_assert_cmpfloat (diff, >, 1e-6);
          }
    }
}

/* --- the first-order gain predicts the loss decrease for small gamma --- */

static void
test_first_order_gain (void)
{
  g_autoptr (FwDataset) ds = sim_data (96, 12);
  const char *tanh_specs[] = {
    "flatten,dense:4,tanh,dense:3,tanh,dense:10",
    "conv:2:3:2:1,tanh,conv:2:3:1:1,tanh,flatten,dense:10",
  };
  for (guint s = 0; s < G_N_ELEMENTS (tanh_specs); s++)
    {
      g_autoptr (FwModel) m = make_model (tanh_specs[s], ds->shape, 9);
      FwGrowSite sites[4];
      int ns = fw_grow_sites (m, sites, 4);
      for (int i = 0; i < ns; i++)
        {
          FwGrowOptions opt;
          fw_grow_options_defaults (&opt);
          g_autoptr (GError) error = NULL;
          g_autoptr (FwGrowProposal) p = fw_grow_propose (m, sites[i], FW_GROW_TINY, ds->x,
                                                          ds->y, ds->n, &opt, NULL, &error);
          g_assert_no_error (error);
          g_assert_cmpint (p->k, >=, 1);
          g_assert_cmpfloat (p->first_order, >, 0);
          double l0 = fw_grow_loss (m, ds->x, ds->y, ds->n);
          /* D(g) = (L(0) - L(g)) / g = first_order + O(g); Richardson: 2 D(g/2) - D(g) */
          double g = 1e-3 / (1.0 + p->first_order);
          g_autoptr (FwModel) a = fw_grow_apply (m, p, p->k, g, &error);
          g_autoptr (FwModel) b = fw_grow_apply (m, p, p->k, g / 2, &error);
          double da = (l0 - fw_grow_loss (a, ds->x, ds->y, ds->n)) / g;
          double db = (l0 - fw_grow_loss (b, ds->x, ds->y, ds->n)) / (g / 2);
          double fd = 2 * db - da;
          g_test_message ("%s site %d: first order %.6g, finite differences %.6g (D %.6g)",
                          tanh_specs[s], i, p->first_order, fd, db);
          g_assert_cmpfloat (fabs (fd - p->first_order), <, 0.03 * p->first_order + 1e-4);
          /* TINY's own gain (neurons fitted to V_proj) is a positive part of it */
          g_assert_cmpfloat (p->gain_neurons, >, 0);
          g_assert_cmpfloat (p->gain_dw, >=, 0);

          /* neurons only (update_existing = false): B's existing weights stay as they were,
           * and the reduced first-order decrease still matches finite differences */
          double full = p->first_order;
          fw_grow_proposal_drop_update (p);
          g_assert_cmpfloat (p->gain_dw, ==, 0);
          g_assert_cmpfloat (p->first_order, <=, full + 1e-12);
          g_autoptr (FwModel) c = fw_grow_apply (m, p, p->k, g, &error);
          g_autoptr (FwModel) d = fw_grow_apply (m, p, p->k, g / 2, &error);
          const FwLayer *lb = m->layers[sites[i].b], *cb = c->layers[sites[i].b];
          int out = lb->out.c, old_cols = (int) (lb->n_w / out) - 1;  /* weights + bias */
          int new_cols = (int) (cb->n_w / out) - 1;
          for (int o = 0; o < out; o++)
            {
              g_assert_cmpmem (lb->w + (gsize) o * old_cols, sizeof (float) * old_cols,
                               cb->w + (gsize) o * new_cols, sizeof (float) * old_cols);
              g_assert_cmpfloat (lb->w[(gsize) out * old_cols + o], ==,
                                 cb->w[(gsize) out * new_cols + o]);
            }
          double dc = (l0 - fw_grow_loss (c, ds->x, ds->y, ds->n)) / g;
          double dd = (l0 - fw_grow_loss (d, ds->x, ds->y, ds->n)) / (g / 2);
          double fd2 = 2 * dd - dc;
          g_assert_cmpfloat (fabs (fd2 - p->first_order), <, 0.03 * fabs (p->first_order) + 1e-4);
        }
    }
}

/* --- the run: deterministic by seed; TINY steps lower the batch loss --- */

/* The small runs' settings: a large budget (steps limit the run), 100 statistics samples,
 * batch 32. */
static void
small_config (FwGrowConfig *cfg, guint64 seed, int steps)
{
  fw_grow_config_defaults (cfg);
  cfg->seed = seed;
  cfg->max_steps = steps;
  cfg->budget = 100000;
  cfg->stat_samples = 100;
  cfg->final_epochs = 0;
  cfg->train.batch = 32;
}

static FwGrowResult *
run_once (FwGrowMethod meth, guint64 seed, FwDataset *train, FwDataset *test)
{
  g_autoptr (FwModel) m = make_model ("flatten,dense:2,relu,dense:2,relu,dense:10",
                                      train->shape, seed);
  FwGrowConfig cfg;
  small_config (&cfg, seed, 3);
  cfg.method = meth;
  g_autoptr (GError) error = NULL;
  FwGrowResult *r = fw_grow_run (m, &cfg, train, test, NULL, NULL, &error);
  g_assert_no_error (error);
  return r;
}

static void
test_run_deterministic (void)
{
  g_autoptr (FwDataset) train = sim_data (200, 10);
  g_autoptr (FwDataset) test = sim_data (100, 10);
  for (int meth = FW_GROW_TINY; meth <= FW_GROW_RANDOM; meth++)
    {
      g_autoptr (FwGrowResult) a = run_once (meth, 4, train, test);
      g_autoptr (FwGrowResult) b = run_once (meth, 4, train, test);
      g_autoptr (FwGrowResult) c = run_once (meth, 5, train, test);
      g_assert_cmpstr (a->model->spec, ==, b->model->spec);
      g_assert_cmpuint (a->model->n_params, ==, b->model->n_params);
      g_assert_cmpmem (a->model->params, sizeof (float) * a->model->n_params, b->model->params,
                       sizeof (float) * b->model->n_params);
      g_assert_cmpuint (a->points->len, ==, b->points->len);
      g_assert_cmpfloat (a->fixed_acc, ==, b->fixed_acc);
      gboolean same = a->model->n_params == c->model->n_params
                      && memcmp (a->model->params, c->model->params,
                                 sizeof (float) * a->model->n_params) == 0;
      g_assert_false (same);
      /* the model grew, and the fixed baseline has its final architecture */
      g_assert_cmpuint (a->model->n_params, >, g_array_index (a->points, FwGrowPoint, 0).params);
      g_assert_cmpstr (a->fixed->spec, ==, a->model->spec);
      for (guint i = 1; i < a->points->len; i++)
        {
          const FwGrowPoint *pt = &g_array_index (a->points, FwGrowPoint, i);
          if (meth == FW_GROW_TINY && pt->site >= 0)
            g_assert_cmpfloat (pt->loss_after, <, pt->loss_before);
          g_assert_cmpint (pt->n_widths, ==, 4);
        }
    }
}

/* Trains m by hand as the run's decaying phases do: the run's [train] settings, `epochs`
 * epochs, cosine to 0, shuffling seed `seed`. */
static void
train_cosine (FwModel *m, const FwGrowConfig *cfg, int epochs, guint64 seed, FwDataset *train)
{
  FwTrainConfig tc = cfg->train;
  tc.epochs = epochs;
  tc.schedule = FW_SCHED_COSINE;
  tc.min_lr = 0;
  tc.patience = 0;
  tc.seed = seed;
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_train (m, &tc, train, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
}

/* final_epochs: the grown network trained further, architecture unchanged, exactly as
 * fw_train with a cosine schedule would train the run without it; the fixed baseline gets the
 * extra epochs too */
static void
test_final_epochs (void)
{
  g_autoptr (FwDataset) train = sim_data (200, 10);
  g_autoptr (FwDataset) test = sim_data (100, 10);
  g_autoptr (FwModel) m = make_model ("flatten,dense:2,relu,dense:2,relu,dense:10",
                                      train->shape, 3);
  FwGrowConfig cfg;
  small_config (&cfg, 3, 2);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwGrowResult) a = fw_grow_run (m, &cfg, train, test, NULL, NULL, &error);
  g_assert_no_error (error);
  cfg.final_epochs = 3;
  g_autoptr (FwGrowResult) b = fw_grow_run (m, &cfg, train, test, NULL, NULL, &error);
  g_assert_no_error (error);

  g_assert_cmpuint (b->points->len, ==, a->points->len + 1);
  g_assert_cmpint (b->total_epochs, ==, a->total_epochs + 3);
  g_assert_cmpstr (b->model->spec, ==, a->model->spec);
  const FwGrowPoint *pa = &g_array_index (a->points, FwGrowPoint, a->points->len - 1);
  const FwGrowPoint *pb = &g_array_index (b->points, FwGrowPoint, b->points->len - 1);
  g_assert_cmpint (pb->step, ==, pa->step + 1);
  g_assert_cmpint (pb->site, ==, -1);
  g_assert_cmpint (pb->added, ==, 0);
  g_assert_cmpuint (pb->params, ==, pa->params);

  /* the same training by hand: the run's grown model, 3 epochs, cosine to 0, the phase seed */
  g_autoptr (FwModel) ref = fw_model_copy (a->model);
  train_cosine (ref, &cfg, 3, cfg.seed * 1000003u + (guint64) pb->step, train);
  g_assert_cmpmem (ref->params, sizeof (float) * ref->n_params, b->model->params,
                   sizeof (float) * b->model->n_params);
  g_autoptr (FwEvalResult) ev = fw_evaluate (ref, test, 256, NULL, &error);
  g_assert_cmpfloat (ev->accuracy, ==, pb->test_acc);

  /* a negative count is refused with the key's name */
  cfg.final_epochs = -1;
  g_autoptr (FwGrowResult) c = fw_grow_run (m, &cfg, train, test, NULL, NULL, &error);
  g_assert_null (c);
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "final_epochs"));
}

/* A network whose ReLUs are all dead (every unit before every site outputs 0) gives TINY no
 * gradient to follow: the run adds random neurons at the first site instead, after which TINY
 * sees a direction again and the network learns. Without it the run never grows. */
static void
test_dead_network_grows (void)
{
  g_autoptr (FwDataset) train = sim_data (300, 10);
  g_autoptr (FwDataset) test = sim_data (200, 10);
  g_autoptr (FwModel) m = make_model ("flatten,dense:2,relu,dense:2,relu,dense:10",
                                      train->shape, 2);
  /* layer 1 (dense:2 on 100 inputs): weights 0, biases -1; layer 3: biases -1 */
  FwLayer *l1 = m->layers[1], *l3 = m->layers[3];
  g_assert_cmpuint (l1->n_w, ==, 2 * 100 + 2);
  memset (l1->w, 0, sizeof (float) * 200);
  l1->w[200] = l1->w[201] = -1.0f;
  l3->w[4] = l3->w[5] = -1.0f;
  FwGrowConfig cfg;
  small_config (&cfg, 2, 4);
  cfg.stat_samples = 200;
  cfg.fixed_baseline = FALSE;
  g_autoptr (GError) error = NULL;
  g_autoptr (FwGrowResult) r = fw_grow_run (m, &cfg, train, test, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (r->points->len, ==, 5);
  const FwGrowPoint *p0 = &g_array_index (r->points, FwGrowPoint, 0);
  const FwGrowPoint *p1 = &g_array_index (r->points, FwGrowPoint, 1);
  const FwGrowPoint *last = &g_array_index (r->points, FwGrowPoint, r->points->len - 1);
  /* still dead after the first training: predicts one class */
  g_assert_cmpfloat (p0->test_acc, <, 0.2);
  g_assert_cmpint (p1->site, ==, 0);
  g_assert_cmpint (p1->added, ==, cfg.opt.max_new);
  g_assert_cmpint (p1->widths[1], ==, 2 + cfg.opt.max_new);
  /* TINY grows at the following steps, and the network learns */
  int grown = 0;
  for (guint i = 2; i < r->points->len; i++)
    grown += g_array_index (r->points, FwGrowPoint, i).added;
  g_assert_cmpint (grown, >, 0);
  g_assert_cmpfloat (last->test_acc, >, p0->test_acc + 0.2);
}

/* A start network that no TINY step improves is stuck: it gets random neurons (once, at the
 * first site), after which rejected steps stop the growth as usual. min_rel_drop = 0.99 makes
 * every TINY step fall short. */
static void
test_stuck_start_grows (void)
{
  g_autoptr (FwDataset) train = sim_data (200, 10);
  g_autoptr (FwDataset) test = sim_data (100, 10);
  g_autoptr (FwModel) m = make_model ("flatten,dense:2,relu,dense:2,relu,dense:10",
                                      train->shape, 3);
  FwGrowConfig cfg;
  small_config (&cfg, 3, 3);
  cfg.min_rel_drop = 0.99;
  cfg.fixed_baseline = FALSE;
  g_autoptr (GError) error = NULL;
  g_autoptr (FwGrowResult) r = fw_grow_run (m, &cfg, train, test, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (r->points->len, ==, 4);
  const FwGrowPoint *p1 = &g_array_index (r->points, FwGrowPoint, 1);
  g_assert_cmpint (p1->site, ==, 0);
  g_assert_cmpint (p1->added, ==, cfg.opt.max_new);
  g_assert_cmpint (p1->widths[1], ==, 2 + cfg.opt.max_new);
  g_assert_cmpfloat (p1->gamma, ==, 1.0);
  for (guint i = 2; i < r->points->len; i++)
    {
      const FwGrowPoint *p = &g_array_index (r->points, FwGrowPoint, i);
      g_assert_cmpint (p->added, ==, 0);
      g_assert_cmpint (p->site, ==, -1);
      g_assert_cmpuint (p->params, ==, p1->params);
    }
}

/* The automatic statistics batch: 2.5 rows per incoming weight of a new neuron at the most
 * demanding site, rows = samples x B's output pixels x taps; 512 .. 8192. */
static void
test_auto_stat_samples (void)
{
  struct { const char *spec; int side; int expect; } cases[] = {
    /* the first site's new units read 28 x 28 + 1 inputs, one row per sample */
    { "flatten,dense:2,relu,dense:2,relu,dense:10", 28, (int) ceil (2.5 * (28 * 28 + 1)) },
    /* 10 x 10 + 1 inputs: the floor */
    { "flatten,dense:2,relu,dense:2,relu,dense:10", 10, 512 },
    /* 64 x 64 + 1 inputs: the cap */
    { "flatten,dense:2,relu,dense:2,relu,dense:10", 64, 8192 },
    /* strided convolutions: many rows per sample (conv2's 7 x 7 pixels x 9 taps; the dense
     * layer's 49 taps per channel), few weights (10 and 19) */
    { "conv:2:3:2:1,relu,conv:2:3:2:1,relu,flatten,dense:10", 28, 512 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      FwShape in = { 1, cases[i].side, cases[i].side };
      g_autoptr (FwModel) m = make_model (cases[i].spec, in, 1);
      g_assert_cmpint (fw_grow_auto_stat_samples (m), ==, cases[i].expect);
    }
}

/* The compute accounting and the same-compute baseline: train_flops is the sum over the run's
 * phases of 3 x forward FLOPs x samples x epochs at that phase's widths (models rebuilt from
 * the points' widths); the same-compute baseline trains the final architecture from scratch
 * for the nearest whole number of epochs, exactly as fw_train does by hand. */
static void
test_same_compute_baseline (void)
{
  g_autoptr (FwDataset) train = sim_data (200, 10);
  g_autoptr (FwDataset) test = sim_data (100, 10);
  g_autoptr (FwModel) m = make_model ("flatten,dense:2,relu,dense:2,relu,dense:10",
                                      train->shape, 6);
  FwGrowConfig cfg;
  small_config (&cfg, 6, 4);
  cfg.final_epochs = 3;
  g_autoptr (GError) error = NULL;
  g_autoptr (FwGrowResult) r = fw_grow_run (m, &cfg, train, test, NULL, NULL, &error);
  g_assert_no_error (error);
  double flops = 0;
  FwModel *final = NULL;
  for (guint i = 0; i < r->points->len; i++)
    {
      const FwGrowPoint *pt = &g_array_index (r->points, FwGrowPoint, i);
      g_autofree char *spec = g_strdup_printf ("flatten,dense:%d,relu,dense:%d,relu,dense:10",
                                               pt->widths[1], pt->widths[2]);
      g_autoptr (FwModel) w = make_model (spec, train->shape, 1);
      int epochs = i + 1 == r->points->len ? cfg.final_epochs : cfg.epochs_per_step;
      flops += 3.0 * fw_model_flops (w) * train->n * epochs;
      if (i + 1 == r->points->len)
        final = fw_model_ref (w);
    }
  g_autoptr (FwModel) fin = final;
  g_assert_cmpfloat (fabs (r->train_flops - flops), <, 1e-9 * flops);
  double per_epoch = 3.0 * fw_model_flops (fin) * train->n;
  int ce = CLAMP ((int) lround (flops / per_epoch), 1, r->total_epochs);
  g_assert_cmpint (r->fixed_compute_epochs, ==, ce);
  g_assert_cmpint (ce, <, r->total_epochs);
  g_assert_cmpfloat (r->fixed_train_flops, ==, per_epoch * r->total_epochs);

  /* by hand: the final architecture from scratch, ce epochs, cosine (final_epochs > 0) */
  g_autoptr (FwModel) f = fw_model_new (r->model->arch, r->model->spec, r->model->input, &error);
  g_assert_no_error (error);
  fw_model_init (f, cfg.seed);
  f->in_mean = r->model->in_mean;
  f->in_std = r->model->in_std;
  train_cosine (f, &cfg, ce, cfg.seed, train);
  g_autoptr (FwEvalResult) ev = fw_evaluate (f, test, 256, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (ev->accuracy, ==, r->fixed_compute_acc);
}

static void
test_no_site_is_an_error (void)
{
  g_autoptr (FwDataset) train = sim_data (40, 10);
  g_autoptr (FwModel) m = make_model ("flatten,dense:10", train->shape, 1);
  FwGrowConfig cfg;
  fw_grow_config_defaults (&cfg);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwGrowResult) r = fw_grow_run (m, &cfg, train, NULL, NULL, NULL, &error);
  g_assert_null (r);
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "no place to grow"));
}

/* --- the [grow] recipe group: the example recipes parse, bad values are named --- */

static void
test_recipes (void)
{
  const char *root = g_getenv ("FW_SOURCE_ROOT");
  if (root == NULL)
    {
      g_test_skip ("FW_SOURCE_ROOT not set (run through meson test)");
      return;
    }
  g_autofree char *dir = g_build_filename (root, "resources", "recipes", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  int n = 0;
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (!g_str_has_prefix (name, "grow-") || !g_str_has_suffix (name, ".ini"))
        continue;
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (FwRecipe) r = fw_recipe_load (path, &error);
      g_assert_no_error (error);
      g_assert_true (fw_recipe_ext_of (r) == &fw_grow_recipe_ext);
      FwGrowConfig c;
      int tl = -1;
      g_assert_true (fw_grow_config_from_recipe (r, &c, &tl, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (c.budget, >, 100);
      g_assert_cmpint (tl, >=, 0);
      n++;
    }
  g_assert_cmpint (n, >=, 2);

  static const struct { const char *text, *key; } bad[] = {
    { "[grow]\nmethod = magic\n", "method" },
    { "[grow]\nbudget = 5\n", "budget" },
    { "[grow]\nlambda_rel = 2\n", "lambda_rel" },
    { "[grow]\nfixed_baseline = maybe\n", "fixed_baseline" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (FwRecipe) r = fw_recipe_load_data (bad[i].text, -1, "g.ini", &error);
      g_assert_no_error (error);
      FwGrowConfig c;
      int tl;
      g_assert_false (fw_grow_config_from_recipe (r, &c, &tl, &error));
      g_assert_nonnull (error);
      g_assert_nonnull (strstr (error->message, "g.ini"));
      g_assert_nonnull (strstr (error->message, "[grow]"));
      g_assert_nonnull (strstr (error->message, bad[i].key));
    }
  /* a misspelt key is refused by the loader */
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) r = fw_recipe_load_data ("[grow]\nbugdet = 100\n", -1, "g.ini", &error);
  g_assert_null (r);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "bugdet"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Grow/best_update_is_min_norm_lstsq", test_best_update_lstsq);
  g_test_add_func ("/Grow/proposal_dw_is_lstsq_of_the_goal", test_proposal_dw_is_lstsq);
  g_test_add_func ("/Grow/inv_sqrt_is_identity_on_kept_eigenspace", test_inv_sqrt_projector);
  g_test_add_func ("/Grow/gamma_zero_keeps_outputs", test_gamma_zero_keeps_outputs);
  g_test_add_func ("/Grow/first_order_gain_matches_finite_differences", test_first_order_gain);
  g_test_add_func ("/Grow/run_is_deterministic_by_seed", test_run_deterministic);
  g_test_add_func ("/Grow/final_epochs_train_the_grown_network", test_final_epochs);
  g_test_add_func ("/Grow/model_without_site_is_an_error", test_no_site_is_an_error);
  g_test_add_func ("/Grow/dead_network_grows_random_neurons", test_dead_network_grows);
  g_test_add_func ("/Grow/stuck_start_grows_random_neurons", test_stuck_start_grows);
  g_test_add_func ("/Grow/auto_stat_samples", test_auto_stat_samples);
  g_test_add_func ("/Grow/same_compute_baseline", test_same_compute_baseline);
  g_test_add_func ("/Grow/recipes_parse_and_bad_values_are_named", test_recipes);
  return g_test_run ();
}
