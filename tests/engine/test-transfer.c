/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-transfer.c: transfer strategies, LoRA, prompts, retrieval, multi-task. */
#include <math.h>
#include <string.h>

#include "fw-engine.h"
#include "fw-simulator.h"
#include "fw-test-util.h"
#include "fw-transfer.h"
#include "fw-recipe-ext.h"

/* a small labelled set of random images with a learnable rule: class = which quadrant of the
 * image is brightest */
static FwDataset *
quadrant_set (int n, int k, guint64 seed)
{
  FwShape s = { 1, 8, 8 };
  FwDataset *ds = fw_dataset_new ("quadrants", n, s, k);
  FwRng rng;
  fw_rng_init (&rng, seed);
  for (int i = 0; i < n; i++)
    {
      int c = i % k;
      float *x = ds->x + (gsize) i * 64;
      for (int p = 0; p < 64; p++)
        {
          int q = (p / 8 >= 4) * 2 + (p % 8 >= 4);
          x[p] = (float) (0.3 * fw_rng_uniform (&rng) + (q == c % 4 ? 0.6 : 0.0));
        }
      ds->y[i] = c;
    }
  return ds;
}

static FwModel *
new_model (const char *spec, FwShape in, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  FwModel *m = fw_model_new ("custom", spec, in, &error);
  g_assert_no_error (error);
  fw_model_init (m, seed);
  return m;
}

static void
train_steps (FwModel *m, FwDataset *ds, int epochs)
{
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = epochs;
  cfg.batch = 16;
  cfg.opt = FW_OPT_ADAMW;
  cfg.weight_decay = 0.1; /* decay must not touch frozen weights either */
  cfg.lr = 0.01;
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_train (m, &cfg, ds, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
test_freeze_bit_identical (void)
{
  FwShape in = { 1, 8, 8 };
  g_autoptr (FwModel) src = new_model ("conv:4:3,relu,flatten,dense:16,relu,dense:4", in, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_transfer_new_head (src, 3, NULL, 7, &error);
  g_assert_no_error (error);
  g_autofree float *before = g_memdup2 (m->params, sizeof (float) * m->n_params);
  g_autoptr (FwDataset) ds = quadrant_set (48, 3, 2);
  train_steps (m, ds, 3);
  int head = fw_transfer_head_index (m);
  gsize trunk = (gsize) (m->layers[head]->w - m->params);
  /* the frozen trunk is bit-identical, the head moved */
  g_assert_cmpint (memcmp (before, m->params, sizeof (float) * trunk), ==, 0);
  g_assert_cmpint (memcmp (before + trunk, m->params + trunk,
                           sizeof (float) * (m->n_params - trunk)), !=, 0);
  /* unfreezing the last 2 weight layers lets the middle dense move, not the conv */
  fw_transfer_unfreeze_last (m, 2);
  g_autofree float *b2 = g_memdup2 (m->params, sizeof (float) * m->n_params);
  train_steps (m, ds, 2);
  gsize conv_n = m->layers[0]->n_w;
  g_assert_cmpint (memcmp (b2, m->params, sizeof (float) * conv_n), ==, 0);
  g_assert_cmpint (memcmp (b2 + conv_n, m->params + conv_n, sizeof (float) * m->layers[3]->n_w),
                   !=, 0);
}

static void
test_lr_decay (void)
{
  /* plain SGD: each layer moves by exactly lr x its factor x its gradient */
  FwShape in = { 1, 8, 8 };
  g_autoptr (FwModel) m = new_model ("conv:4:3,relu,flatten,dense:16,relu,dense:4", in, 31);
  fw_transfer_set_lr_decay (m, 0.5);
  g_assert_cmpfloat (m->layers[5]->lr_scale, ==, 1.0f);
  g_assert_cmpfloat (m->layers[3]->lr_scale, ==, 0.5f);
  g_assert_cmpfloat (m->layers[0]->lr_scale, ==, 0.25f);
  g_autoptr (FwModel) copy = fw_model_copy (m);
  g_assert_cmpfloat (copy->layers[0]->lr_scale, ==, 0.25f);
  g_autoptr (FwDataset) ds = quadrant_set (8, 4, 32);
  fw_model_forward (m, ds->x, 8, TRUE);
  float dl[8 * 4];
  fw_loss_softmax_xent (m->act[5], 8, 4, ds->y, NULL, 0, dl, NULL);
  fw_model_backward (m, dl, 8);
  g_autofree float *p0 = g_memdup2 (m->params, sizeof (float) * m->n_params);
  g_autofree float *g0 = g_memdup2 (m->grads, sizeof (float) * m->n_params);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.opt = FW_OPT_SGD;
  cfg.momentum = 0;
  cfg.weight_decay = 0;
  g_autoptr (FwOptimizer) opt = fw_optimizer_new (m, &cfg);
  fw_optimizer_step (opt, m, 0.1);
  for (int li = 0; li < m->n_layers; li++)
    {
      FwLayer *l = m->layers[li];
      gsize off = (gsize) (l->w - m->params);
      for (gsize j = 0; j < l->n_w; j++)
        {
          double want = p0[off + j] - 0.1 * l->lr_scale * g0[off + j];
          g_assert_cmpfloat (fabs (m->params[off + j] - want), <, 1e-6);
        }
    }
  /* decay 1 switches the factors off */
  fw_transfer_set_lr_decay (m, 1.0);
  g_assert_cmpfloat (m->layers[0]->lr_scale, ==, 0.0f);
}

static void
test_new_head (void)
{
  FwShape in = { 1, 8, 8 };
  g_autoptr (FwModel) src = new_model ("conv:4:3,relu,flatten,dense:16,relu,dense:10", in, 3);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_transfer_new_head (src, 5, NULL, 9, &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->n_classes, ==, 5);
  g_assert_cmpint (m->layers[m->n_layers - 1]->out.c, ==, 5);
  g_assert_cmpint (m->n_layers, ==, src->n_layers);
  /* the trunk is copied, the head is new; counts add up */
  for (int i = 0; i < m->n_layers - 1; i++)
    {
      g_assert_cmpint (m->layers[i]->n_w, ==, src->layers[i]->n_w);
      g_assert_cmpint (memcmp (m->layers[i]->w, src->layers[i]->w,
                               sizeof (float) * src->layers[i]->n_w), ==, 0);
      g_assert_true (m->layers[i]->frozen == (m->layers[i]->n_w > 0));
    }
  gsize t, f;
  fw_transfer_count (m, &t, &f);
  g_assert_cmpuint (t, ==, 16 * 5 + 5);
  g_assert_cmpuint (t + f, ==, m->n_params);
  /* a custom head spec; a wrong class count is refused */
  g_autoptr (FwModel) m2 = fw_transfer_new_head (src, 4, "dense:8,relu,dense:4", 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (m2->n_classes, ==, 4);
  g_autoptr (FwModel) bad = fw_transfer_new_head (src, 3, "dense:4", 1, &error);
  g_assert_null (bad);
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
}

static double
max_abs_diff (const float *a, const float *b, gsize n)
{
  double w = 0;
  for (gsize i = 0; i < n; i++)
    w = MAX (w, fabs ((double) a[i] - b[i]));
  return w;
}

static const char *lora_spec_src = "conv:4:3:1:1,relu,maxpool:2,conv:6:3,relu,flatten,"
                                   "dense:12,relu,dense:5";

static void
test_lora_b_zero (void)
{
  FwShape in = { 1, 8, 8 };
  g_autoptr (FwModel) src = new_model (lora_spec_src, in, 5);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_lora_wrap (src, 2, 4.0f, FALSE, 11, &error);
  g_assert_no_error (error);
  g_assert_true (m->layers[0]->klass == &fw_layer_loraconv);
  g_assert_true (m->layers[6]->klass == &fw_layer_lora);
  g_assert_true (m->layers[8]->klass == &fw_layer_dense); /* the head stays plain */
  FwRng rng;
  fw_rng_init (&rng, 4);
  float x[6 * 64];
  fw_test_fill_uniform (x, G_N_ELEMENTS (x), 0, 1, &rng);
  g_autofree float *ref = g_memdup2 (fw_model_forward (src, x, 6, FALSE), sizeof (float) * 30);
  const float *y = fw_model_forward (m, x, 6, FALSE);
  /* B = 0: W' = W exactly */
  g_assert_cmpfloat (max_abs_diff (y, ref, 30), ==, 0.0);
  /* trainable = the adapters + the head */
  gsize t, f;
  fw_transfer_count (m, &t, &f);
  gsize adapters = 2 * (9 + 4) + 2 * (36 + 6) + 2 * (24 + 12);
  g_assert_cmpuint (t, ==, adapters + 12 * 5 + 5);
}

static void
randomise_b (FwModel *m, guint64 seed)
{
  FwRng rng;
  fw_rng_init (&rng, seed);
  for (int i = 0; i < m->n_layers; i++)
    {
      FwLayer *l = m->layers[i];
      if (l->klass == &fw_layer_lora || l->klass == &fw_layer_loraconv)
        fw_test_fill_uniform (l->w, l->n_w, -0.3f, 0.3f, &rng); /* A and B */
    }
}

static void
test_lora_merge (void)
{
  FwShape in = { 1, 8, 8 };
  g_autoptr (FwModel) src = new_model (lora_spec_src, in, 6);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_lora_wrap (src, 3, 6.0f, TRUE, 12, &error);
  g_assert_no_error (error);
  randomise_b (m, 13);
  g_autoptr (FwModel) merged = fw_lora_merge (m, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (merged->spec, ==, src->spec);
  FwRng rng;
  fw_rng_init (&rng, 8);
  float x[5 * 64];
  fw_test_fill_uniform (x, G_N_ELEMENTS (x), 0, 1, &rng);
  g_autofree float *a = g_memdup2 (fw_model_forward (m, x, 5, FALSE), sizeof (float) * 25);
  g_autofree float *ref = g_memdup2 (fw_model_forward (src, x, 5, FALSE), sizeof (float) * 25);
  const float *b = fw_model_forward (merged, x, 5, FALSE);
  g_assert_cmpfloat (max_abs_diff (a, b, 25), <, 1e-4);
  g_assert_cmpfloat (max_abs_diff (a, ref, 25), >, 1e-3); /* the adapters do change outputs */
  /* merged weights against a naive W + s B A of the first dense */
  const FwLayer *ll = m->layers[6];
  int out = 12, fan = 24, r = 3;
  float s = 6.0f / 3;
  const float *A = ll->w, *B = ll->w + r * fan;
  double worst = 0;
  for (int o = 0; o < out; o++)
    for (int j = 0; j < fan; j++)
      {
        double v = ll->st[o * fan + j];
        for (int t = 0; t < r; t++)
          v += s * (double) B[o * r + t] * A[t * fan + j];
        worst = MAX (worst, fabs (v - merged->layers[6]->w[o * fan + j]));
      }
  g_assert_cmpfloat (worst, <, 1e-5);
  /* a LoRA model survives a save / load round trip */
  g_autofree char *path = g_build_filename (fw_test_tmpdir (), "lora.safetensors", NULL);
  g_assert_true (fw_model_save (m, path, NULL, &error));
  g_autoptr (FwModel) back = fw_model_load (path, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (max_abs_diff (fw_model_forward (back, x, 5, FALSE), a, 25), ==, 0.0);
}

static void
unfreeze_all (FwModel *m)
{
  for (int i = 0; i < m->n_layers; i++)
    m->layers[i]->frozen = FALSE;
}

static void
test_lora_gradcheck (void)
{
  FwShape in = { 1, 8, 8 };
  g_autoptr (FwModel) src = new_model ("conv:3:3,tanh,flatten,dense:7,tanh,dense:4", in, 21);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_lora_wrap (src, 2, 3.0f, TRUE, 22, &error);
  g_assert_no_error (error);
  randomise_b (m, 23);
  unfreeze_all (m);
  g_assert_cmpuint (m->n_params, ==, 2 * 9 + 3 * 2 + 2 * 108 + 7 * 2 + 2 * 7 + 4 * 2);
  double err = fw_test_gradcheck_model (m, 3, 0, 1, 1e-2, 0, 24);
  g_assert_cmpfloat (err, <, 2e-2);
}

static void
test_prompt_gradcheck (void)
{
  FwShape in = { 2, 8, 8 };
  const char *specs[] = { "prompt:add:2,conv:3:3,tanh,flatten,dense:4",
                          "prompt:pad:2,conv:3:3,tanh,flatten,dense:4",
                          "prefix:1,conv:3:3,tanh,flatten,dense:4",
                          "conv:2:1,tanh,prompt:pad:1,flatten,dense:3" };
  for (guint i = 0; i < G_N_ELEMENTS (specs); i++)
    {
      FwShape s = i == 3 ? (FwShape) { 1, 4, 4 } : in;
      g_autoptr (FwModel) m = new_model (specs[i], s, 30 + i);
      /* a non-zero prompt so that every term is exercised */
      FwRng rng;
      fw_rng_init (&rng, 40 + i);
      fw_test_fill_uniform (m->params, m->n_params, -0.5f, 0.5f, &rng);
      double err = fw_test_gradcheck_model (m, 2, 0, 1, 1e-2, 0, 50 + i);
      g_test_message ("%s: %g", specs[i], err);
      g_assert_cmpfloat (err, <, 2e-2);
    }
  /* frame sizes: 8x8 with P=2 has 64 - 16 = 48 frame pixels per channel */
  g_autoptr (FwModel) p = new_model (specs[0], in, 1);
  g_assert_cmpuint (p->layers[0]->n_w, ==, 2 * 48);
}

static void
test_prompt_prefix_surgery (void)
{
  FwShape in = { 1, 8, 8 };
  g_autoptr (FwModel) src = new_model ("conv:4:3,relu,flatten,dense:5", in, 60);
  g_autoptr (FwModel) mlp = new_model ("flatten,dense:6,relu,dense:5", in, 61);
  FwRng rng;
  fw_rng_init (&rng, 62);
  float x[4 * 64];
  fw_test_fill_uniform (x, G_N_ELEMENTS (x), 0, 1, &rng);
  FwModel *srcs[2] = { src, mlp };
  for (int k = 0; k < 2; k++)
    {
      g_autoptr (GError) error = NULL;
      FwModel *s = srcs[k];
      g_autofree float *ref = g_memdup2 (fw_model_forward (s, x, 4, FALSE), sizeof (float) * 20);
      /* a zero additive prompt changes nothing */
      g_autoptr (FwModel) pm = fw_transfer_add_prompt (s, "add", 2, &error);
      g_assert_no_error (error);
      g_assert_cmpfloat (max_abs_diff (fw_model_forward (pm, x, 4, FALSE), ref, 20), <, 1e-6);
      /* a zero prefix channel changes nothing either (its weights multiply zeros) */
      g_autoptr (FwModel) px = fw_transfer_add_prefix (s, 3, &error);
      g_assert_no_error (error);
      g_assert_cmpfloat (max_abs_diff (fw_model_forward (px, x, 4, FALSE), ref, 20), <, 1e-5);
      /* only the prefix is trainable */
      gsize t;
      fw_transfer_count (px, &t, NULL);
      g_assert_cmpuint (t, ==, 64);
      /* a non-zero prefix changes outputs */
      for (int j = 0; j < 64; j++)
        px->layers[0]->w[j] = 1.0f;
      g_assert_cmpfloat (max_abs_diff (fw_model_forward (px, x, 4, FALSE), ref, 20), >, 1e-3);
    }
}

static void
test_retrieval_self (void)
{
  g_autoptr (FwDataset) ds = quadrant_set (40, 4, 70);
  FwShape in = { 1, 8, 8 };
  g_autoptr (FwModel) m = new_model ("conv:4:3,relu,flatten,dense:16,relu,dense:7", in, 71);
  g_autoptr (GError) error = NULL;
  int layers[2] = { -1, 3 };
  for (int li = 0; li < 2; li++)
    {
      g_autoptr (FwRetrieval) r = fw_retrieval_new (m, layers[li], 4, &error);
      g_assert_no_error (error);
      g_assert_true (fw_retrieval_add (r, ds, NULL, &error));
      g_assert_cmpint (fw_retrieval_size (r), ==, 40);
      g_autofree gint32 *pred = g_new (gint32, ds->n);
      g_autofree float *probs = g_new (float, ds->n * 4);
      g_assert_true (fw_retrieval_predict (r, ds, 1, 1.0, probs, pred, NULL, &error));
      for (int i = 0; i < ds->n; i++)
        {
          g_assert_cmpint (pred[i], ==, ds->y[i]);
          g_assert_cmpfloat (probs[i * 4 + ds->y[i]], ==, 1.0f);
        }
    }
  /* brute force: nearest by cosine over raw pixels */
  g_autoptr (FwRetrieval) r = fw_retrieval_new (m, -1, 4, &error);
  g_assert_true (fw_retrieval_add (r, ds, NULL, &error));
  g_autoptr (FwDataset) q = quadrant_set (10, 4, 72);
  for (int i = 0; i < q->n; i++)
    {
      float qv[64];
      double nq = 0;
      for (int j = 0; j < 64; j++)
        nq += (double) q->x[i * 64 + j] * q->x[i * 64 + j];
      for (int j = 0; j < 64; j++)
        qv[j] = (float) (q->x[i * 64 + j] / sqrt (nq));
      int idx[3];
      g_assert_cmpint (fw_retrieval_nearest (r, qv, 3, idx), ==, 3);
      /* every row outside the top 3 is no more similar than the 3rd */
      double sims[40];
      for (int j = 0; j < 40; j++)
        {
          double dot = 0, nn = 0;
          for (int t = 0; t < 64; t++)
            {
              dot += (double) qv[t] * ds->x[j * 64 + t];
              nn += (double) ds->x[j * 64 + t] * ds->x[j * 64 + t];
            }
          sims[j] = dot / sqrt (nn);
        }
      g_assert_cmpfloat (sims[idx[0]], >=, sims[idx[1]] - 1e-6);
      g_assert_cmpfloat (sims[idx[1]], >=, sims[idx[2]] - 1e-6);
      for (int j = 0; j < 40; j++)
        if (j != idx[0] && j != idx[1] && j != idx[2])
          g_assert_cmpfloat (sims[j], <=, sims[idx[2]] + 1e-6);
    }
}

static void
test_retrieval_memory_update (void)
{
  /* a query identical to a new memory row with another label flips at once with k = 1 */
  g_autoptr (FwDataset) ds = quadrant_set (20, 4, 80);
  FwShape in = { 1, 8, 8 };
  g_autoptr (FwModel) m = new_model ("flatten,dense:4", in, 81);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRetrieval) r = fw_retrieval_new (m, -1, 4, &error);
  g_assert_true (fw_retrieval_add (r, ds, NULL, &error));
  g_autoptr (FwDataset) one = fw_dataset_subset (ds, (gint32[]) { 3 }, 1, "one");
  gint32 pred;
  g_assert_true (fw_retrieval_predict (r, one, 1, 1.0, NULL, &pred, NULL, &error));
  g_assert_cmpint (pred, ==, ds->y[3]);
  /* the same image, scaled (same direction: cosine 1), labelled (y + 1) % 4, added first */
  g_autoptr (FwRetrieval) r2 = fw_retrieval_new (m, -1, 4, &error);
  float row[64];
  for (int j = 0; j < 64; j++)
    row[j] = 2.0f * one->x[j];
  gint32 lab = (ds->y[3] + 1) % 4;
  fw_retrieval_add_rows (r2, row, &lab, 1);
  g_assert_true (fw_retrieval_add (r2, ds, NULL, &error));
  g_assert_true (fw_retrieval_predict (r2, one, 1, 1.0, NULL, &pred, NULL, &error));
  g_assert_cmpint (pred, ==, lab);
  /* mix = 0 is the model's own argmax */
  gint32 mp;
  fw_model_predict (m, one->x, 1, 1, &mp);
  g_assert_true (fw_retrieval_predict (r2, one, 1, 0.0, NULL, &pred, NULL, &error));
  g_assert_cmpint (pred, ==, mp);
}

static void
test_multitask_gradients (void)
{
  FwShape in = { 1, 6, 6 };
  g_autoptr (GError) error = NULL;
  g_autoptr (FwMultiTask) mt = fw_multitask_new ("conv:2:3,tanh,flatten,dense:5,tanh", in, 3, 4,
                                                 90, &error);
  g_assert_no_error (error);
  FwRng rng;
  fw_rng_init (&rng, 91);
  int n1 = 2, n2 = 3;
  float x1[2 * 36], x2[3 * 36], r1[2 * 3], r2[3 * 4];
  fw_test_fill_uniform (x1, 72, 0, 1, &rng);
  fw_test_fill_uniform (x2, 108, 0, 1, &rng);
  fw_test_fill_uniform (r1, 6, -1, 1, &rng);
  fw_test_fill_uniform (r2, 12, -1, 1, &rng);
  float zero1[6] = { 0 }, zero2[12] = { 0 };
  FwModel *trunk = mt->trunk;
  gsize np = trunk->n_params;
  /* trunk gradients from head 1 alone, head 2 alone, both: each against finite differences */
  struct { const float *a, *b; } cases[3] = { { r1, zero2 }, { zero1, r2 }, { r1, r2 } };
  float *g_alone[2] = { NULL, NULL };
  for (int c = 0; c < 3; c++)
    {
      double w2 = 0.7;
      fw_multitask_loss_grad (mt, x1, NULL, n1, x2, NULL, n2, w2, cases[c].a, cases[c].b);
      g_autofree float *g = g_memdup2 (trunk->grads, sizeof (float) * np);
      double worst = 0, norm = 0;
      for (gsize i = 0; i < np; i++)
        {
          float keep = trunk->params[i];
          const double h = 1e-2;
          trunk->params[i] = (float) (keep + h);
          double lp = fw_multitask_loss_grad (mt, x1, NULL, n1, x2, NULL, n2, w2, cases[c].a,
                                              cases[c].b);
          trunk->params[i] = (float) (keep - h);
          double lm = fw_multitask_loss_grad (mt, x1, NULL, n1, x2, NULL, n2, w2, cases[c].a,
                                              cases[c].b);
          trunk->params[i] = keep;
          double num = (lp - lm) / (2 * h);
          worst = MAX (worst, fabs (num - g[i]) / MAX (1.0, fabs (num) + fabs (g[i])));
          norm += fabs (g[i]);
        }
      g_test_message ("case %d: worst %g, |g| %g", c, worst, norm);
      g_assert_cmpfloat (worst, <, 2e-2);
      g_assert_cmpfloat (norm, >, 1e-3); /* the head reaches the trunk */
      if (c < 2)
        g_alone[c] = g_steal_pointer (&g);
      else
        for (gsize i = 0; i < np; i++) /* linearity: both = head 1 + head 2 */
          g_assert_cmpfloat (fabs (g[i] - g_alone[0][i] - g_alone[1][i]), <, 1e-4);
    }
  g_free (g_alone[0]);
  g_free (g_alone[1]);
}

static void
test_multitask_train (void)
{
  /* training jointly learns both tasks: task 2 = the quadrant's row (2 classes) */
  g_autoptr (FwDataset) t1 = quadrant_set (64, 4, 100);
  g_autoptr (FwDataset) t2 = quadrant_set (64, 4, 101);
  for (int i = 0; i < t2->n; i++)
    t2->y[i] = t2->y[i] / 2;
  t2->n_classes = 2;
  g_autoptr (GError) error = NULL;
  g_autoptr (FwMultiTask) mt = fw_multitask_new ("flatten,dense:16,relu", t1->shape, 4, 2, 102,
                                                 &error);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 30;
  cfg.batch = 16;
  cfg.opt = FW_OPT_ADAM;
  cfg.lr = 0.01;
  g_assert_true (fw_multitask_train (mt, &cfg, t1, t2, 1.0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (fw_multitask_accuracy (mt, 0, t1), >, 0.9);
  g_assert_cmpfloat (fw_multitask_accuracy (mt, 1, t2), >, 0.9);
}

static void
test_simulator_deterministic (void)
{
  FwSimParams p;
  fw_sim_params_init (&p, 20);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) a = fw_simulator_generate (&p, 12, 5, FW_SIM_TRAIN, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwDataset) b = fw_simulator_generate (&p, 12, 5, FW_SIM_TRAIN, NULL, &error);
  g_autoptr (FwDataset) c = fw_simulator_generate (&p, 12, 6, FW_SIM_TRAIN, NULL, &error);
  gsize bytes = sizeof (float) * 12 * 400;
  g_assert_cmpint (memcmp (a->x, b->x, bytes), ==, 0);
  g_assert_cmpint (memcmp (a->y, b->y, sizeof (gint32) * 12), ==, 0);
  g_assert_cmpint (memcmp (a->x, c->x, bytes), !=, 0);
}

static void
test_classes (void)
{
  int cl[10];
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (fw_transfer_parse_classes ("5-9", 10, cl, &error), ==, 5);
  g_assert_cmpint (cl[0], ==, 5);
  g_assert_cmpint (cl[4], ==, 9);
  g_assert_cmpint (fw_transfer_parse_classes ("1,3, 0", 10, cl, &error), ==, 3);
  g_assert_cmpint (cl[2], ==, 0);
  g_assert_cmpint (fw_transfer_parse_classes ("", 10, cl, &error), ==, 0);
  g_assert_cmpint (fw_transfer_parse_classes ("8-11", 10, cl, &error), ==, -1);
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (fw_transfer_parse_classes ("2,2", 10, cl, &error), ==, -1);
  g_clear_error (&error);
  g_autoptr (FwDataset) ds = quadrant_set (40, 4, 110);
  int pick[2] = { 3, 1 };
  g_autoptr (FwDataset) sub = fw_transfer_class_subset (ds, pick, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (sub->n, ==, 20);
  g_assert_cmpint (sub->n_classes, ==, 2);
  for (int i = 0, j = 0; i < ds->n; i++)
    if (ds->y[i] == 3 || ds->y[i] == 1)
      {
        g_assert_cmpint (sub->y[j], ==, ds->y[i] == 3 ? 0 : 1);
        g_assert_cmpint (memcmp (sub->x + j * 64, ds->x + i * 64, 256), ==, 0);
        j++;
      }
}

static void
test_experiment_small (void)
{
  /* a tiny experiment end to end: every method, two label counts, two seeds */
  FwTransferConfig c;
  fw_transfer_config_defaults (&c);
  g_free (c.source);
  c.source = g_strdup ("sim:120:20");
  g_free (c.target);
  c.target = g_strdup ("sim:160:20");
  c.seed = 3;
  g_free (c.arch);
  c.arch = g_strdup ("mlp");
  c.pretrain_epochs = 2;
  c.steps = 6;
  c.min_epochs = 1;
  c.seeds = 2;
  c.test_limit = 40;
  int lpc[2] = { 2, 0 };
  g_free (c.labels_per_class);
  c.labels_per_class = g_memdup2 (lpc, sizeof lpc);
  c.n_lpc = 2;
  c.methods = (1u << FW_TRANSFER_N_METHODS) - 1;
  g_autoptr (GError) error = NULL;
  g_autoptr (FwTransferResult) r = fw_transfer_experiment (&c, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (r->rows->len, ==, 2 * 2 * FW_TRANSFER_N_METHODS);
  g_assert_false (isnan (r->zero_shot)); /* same 10 digit classes on both sides */
  for (guint i = 0; i < r->rows->len; i++)
    {
      const FwTransferRow *row = &g_array_index (r->rows, FwTransferRow, i);
      g_assert_cmpfloat (row->accuracy, >=, 0.0);
      g_assert_cmpfloat (row->accuracy, <=, 1.0);
      g_assert_cmpint (row->n_train, ==, row->lpc == 2 ? 20 : 160);
      if (row->method == FW_TRANSFER_HEAD)
        g_assert_cmpuint (row->trainable, ==, 128 * 10 + 10);
      if (row->method == FW_TRANSFER_FINETUNE || row->method == FW_TRANSFER_SCRATCH)
        g_assert_cmpuint (row->frozen, ==, 0);
    }
  /* stats against a direct mean over the rows */
  double mean, sd, sec, sum = 0;
  g_assert_cmpint (fw_transfer_result_stats (r, FW_TRANSFER_LORA, 2, &mean, &sd, &sec), ==, 2);
  for (guint i = 0; i < r->rows->len; i++)
    {
      const FwTransferRow *row = &g_array_index (r->rows, FwTransferRow, i);
      if (row->method == FW_TRANSFER_LORA && row->lpc == 2)
        sum += row->accuracy;
    }
  g_assert_cmpfloat (fabs (mean - sum / 2), <, 1e-12);
  /* curves for the largest label count (all): one per method and seed, time increasing */
  g_assert_cmpuint (r->curves->len, ==, 2 * FW_TRANSFER_N_METHODS);
  for (guint i = 0; i < r->curves->len; i++)
    {
      const FwTransferCurve *cv = g_ptr_array_index (r->curves, i);
      g_assert_cmpuint (cv->seconds->len, >=, 1);
      for (guint j = 1; j < cv->seconds->len; j++)
        g_assert_cmpfloat (g_array_index (cv->seconds, double, j), >=,
                           g_array_index (cv->seconds, double, j - 1));
    }
  g_autofree char *table = fw_transfer_result_table (r);
  g_assert_nonnull (strstr (table, "kNN retrieval"));
  fw_transfer_config_clear (&c);
}

static void
test_recipe_keys (void)
{
  const char *ini = "[model]\narch = lenet5\n[transfer]\nmethods = head, lora\n"
                    "labels_per_class = 1,10,0\nseeds = 2\nlora_rank = 3\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) r = fw_recipe_load_data (ini, -1, "t", &error);
  g_assert_no_error (error);
  g_assert_true (fw_recipe_ext_of (r) == &fw_transfer_recipe_ext);
  FwTransferConfig c;
  g_assert_true (fw_transfer_config_from_recipe (r, &c, &error));
  g_assert_cmpuint (c.methods, ==, (1u << FW_TRANSFER_HEAD) | (1u << FW_TRANSFER_LORA));
  g_assert_cmpint (c.n_lpc, ==, 3);
  g_assert_cmpint (c.labels_per_class[2], ==, 0);
  g_assert_cmpint (c.lora_rank, ==, 3);
  g_assert_cmpfloat (c.lr, ==, 0.002); /* no [train] lr: Adam's default here */
  fw_transfer_config_clear (&c);
  const char *bad[] = { "[transfer]\nmethods = head,magic\n", "[transfer]\nlora_rank = 0\n",
                        "[transfer]\nlabels_per_clas = 1\n", "[transfer]\nmode = both\n" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) e2 = NULL;
      g_autoptr (FwRecipe) rb = fw_recipe_load_data (bad[i], -1, "bad", &e2);
      gboolean ok = rb != NULL && fw_transfer_recipe_mode (rb, &e2) >= 0
                    && fw_transfer_config_from_recipe (rb, &c, &e2);
      if (rb != NULL)
        fw_transfer_config_clear (&c);
      g_assert_false (ok);
      g_assert_nonnull (e2);
      g_test_message ("%s", e2->message);
    }
}

static void
test_example_recipes (void)
{
  /* every resources/recipes/transfer-*.ini is a valid [transfer] job */
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
      if (!g_str_has_prefix (name, "transfer-") || !g_str_has_suffix (name, ".ini"))
        continue;
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (FwRecipe) r = fw_recipe_load (path, &error);
      g_assert_no_error (error);
      g_assert_true (fw_recipe_ext_of (r) == &fw_transfer_recipe_ext);
      g_assert_cmpint (fw_transfer_recipe_mode (r, &error), >=, 0);
      FwTransferConfig c;
      g_assert_true (fw_transfer_config_from_recipe (r, &c, &error));
      g_assert_no_error (error);
      fw_transfer_config_clear (&c);
      n++;
    }
  g_assert_cmpint (n, >=, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Transfer/freeze-bit-identical", test_freeze_bit_identical);
  g_test_add_func ("/Transfer/new-head", test_new_head);
  g_test_add_func ("/Transfer/lr-decay", test_lr_decay);
  g_test_add_func ("/Transfer/classes", test_classes);
  g_test_add_func ("/Transfer/prompt-prefix-surgery", test_prompt_prefix_surgery);
  g_test_add_func ("/Transfer/prompt-gradcheck", test_prompt_gradcheck);
  g_test_add_func ("/LoRA/b-zero-unchanged", test_lora_b_zero);
  g_test_add_func ("/LoRA/merge", test_lora_merge);
  g_test_add_func ("/LoRA/gradcheck", test_lora_gradcheck);
  g_test_add_func ("/Retrieval/k1-self", test_retrieval_self);
  g_test_add_func ("/Retrieval/memory-update", test_retrieval_memory_update);
  g_test_add_func ("/MultiTask/gradients-reach-trunk", test_multitask_gradients);
  g_test_add_func ("/MultiTask/train", test_multitask_train);
  g_test_add_func ("/Transfer/simulator-deterministic", test_simulator_deterministic);
  g_test_add_func ("/Transfer/experiment-small", test_experiment_small);
  g_test_add_func ("/Transfer/recipe-keys", test_recipe_keys);
  g_test_add_func ("/Transfer/example-recipes", test_example_recipes);
  return g_test_run ();
}
