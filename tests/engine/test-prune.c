/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-prune.c: pruning masks, scores, schedules, proximal steps, rewinding, physically
 * smaller models and the sparse kernel, each against an independent computation. */
#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"
#include "fw-kernels.h"
#include "fw-loss.h"
#include "fw-prune.h"
#include "fw-prune-private.h"
#include "fw-safetensors.h"
#include "fw-sparse.h"
#include "fw-recipe-ext.h"
#include "fw-test-util.h"

static FwModel *
make_model (const char *spec, FwShape in, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  FwModel *m = fw_model_new ("custom", spec, in, &error);
  g_assert_no_error (error);
  fw_model_init (m, seed);
  /* non-zero biases and batch-norm parameters, so pruning them shows */
  FwRng rng;
  fw_rng_init (&rng, seed + 99);
  for (int i = 0; i < m->n_layers; i++)
    {
      FwLayer *l = m->layers[i];
      FwTensorInfo t[FW_LAYER_MAX_TENSORS];
      int nt = l->klass->tensors (l, t);
      for (int k = 0; k < nt; k++)
        if (t[k].trainable && strcmp (t[k].name, "weight") != 0)
          {
            gsize n = 1;
            for (int d = 0; d < t[k].ndim; d++)
              n *= t[k].dims[d];
            fw_test_fill_uniform (l->w + t[k].offset, n, 0.1f, 0.5f, &rng);
          }
    }
  return m;
}

static int
cmp_float_desc (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* Independent check of one layer (or all layers' union): the pruned count is exactly
 * round(s N), and every kept |w| >= the k-th largest |w| >= every pruned |w| (a full sort). */
static void
check_largest_kept (const float *w, const guint8 *keep, gsize n, double s)
{
  gsize want = (gsize) floor (s * n + 0.5), pruned = 0;
  for (gsize i = 0; i < n; i++)
    pruned += !keep[i];
  g_assert_cmpuint (pruned, ==, want);
  g_autofree float *sorted = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    sorted[i] = fabsf (w[i]);
  qsort (sorted, n, sizeof (float), cmp_float_desc);
  gsize n_keep = n - want;
  float thr_keep = n_keep > 0 ? sorted[n_keep - 1] : INFINITY; /* smallest kept value */
  for (gsize i = 0; i < n; i++)
    {
      if (keep[i])
        g_assert_cmpfloat (fabsf (w[i]), >=, thr_keep);
      else if (n_keep > 0)
        g_assert_cmpfloat (fabsf (w[i]), <=, thr_keep);
    }
}

static void
test_magnitude_per_layer (void)
{
  FwShape in = { 1, 6, 6 };
  g_autoptr (FwModel) m = make_model ("flatten,dense:20,relu,dense:15,relu,dense:4", in, 3);
  g_autofree float *scores = g_new (float, m->n_params);
  fw_prune_score_magnitude (m, scores);
  const double sp[] = { 0.0, 0.33, 0.7, 0.95 };
  for (guint k = 0; k < G_N_ELEMENTS (sp); k++)
    {
      g_autoptr (FwPruneMask) mask = fw_prune_mask_new (m);
      fw_prune_select (m, scores, FW_PRUNE_WEIGHTS, FW_PRUNE_PER_LAYER, sp[k], TRUE, mask);
      for (int i = 0; i < m->n_layers; i++)
        {
          FwPruneGeom g;
          if (!fw_prune_geom (m, i, &g))
            continue;
          gsize n = (gsize) g.rows * g.cols;
          check_largest_kept (m->params + g.w_off, mask->keep + g.w_off, n, sp[k]);
          /* biases are never pruned by weight pruning */
          for (int r = 0; r < g.rows; r++)
            g_assert_true (mask->keep[g.b_off + r]);
        }
      fw_prune_mask_apply (mask, m);
      g_assert_cmpfloat (fabs (fw_prune_mask_sparsity (mask, m, -1) - sp[k]), <, 0.01);
      /* re-init for the next round: apply() zeroed the pruned weights */
      fw_model_init (m, 3);
      fw_prune_score_magnitude (m, scores);
    }
}

static void
test_magnitude_global (void)
{
  FwShape in = { 1, 5, 5 };
  g_autoptr (FwModel) m = make_model ("conv:4:3,relu,flatten,dense:12,relu,dense:3", in, 5);
  /* scale the dense layer so that a global ranking differs from a per-layer one */
  FwPruneGeom g;
  g_assert_true (fw_prune_geom (m, 3, &g));
  for (gsize q = 0; q < (gsize) g.rows * g.cols; q++)
    m->params[g.w_off + q] *= 0.1f;
  g_autofree float *scores = g_new (float, m->n_params);
  fw_prune_score_magnitude (m, scores);
  g_autoptr (FwPruneMask) mask = fw_prune_mask_new (m);
  fw_prune_select (m, scores, FW_PRUNE_WEIGHTS, FW_PRUNE_GLOBAL, 0.6, TRUE, mask);
  /* gather the union of all prunable weights and check it as one set */
  GArray *w = g_array_new (FALSE, FALSE, sizeof (float));
  GByteArray *k = g_byte_array_new ();
  for (int i = 0; i < m->n_layers; i++)
    if (fw_prune_geom (m, i, &g))
      {
        g_array_append_vals (w, m->params + g.w_off, (gsize) g.rows * g.cols);
        g_byte_array_append (k, mask->keep + g.w_off, (guint) ((gsize) g.rows * g.cols));
      }
  check_largest_kept ((float *) w->data, k->data, w->len, 0.6);
  /* the scaled-down layer loses more than 60% of its weights */
  g_assert_true (fw_prune_geom (m, 3, &g));
  g_assert_cmpfloat (fw_prune_mask_sparsity (mask, m, 3), >, 0.6);
  g_array_unref (w);
  g_byte_array_unref (k);
}

static void
test_iterative_monotone (void)
{
  FwShape in = { 1, 4, 4 };
  g_autoptr (FwModel) m = make_model ("flatten,dense:16,relu,dense:3", in, 7);
  g_autofree float *scores = g_new (float, m->n_params);
  g_autoptr (FwPruneMask) mask = fw_prune_mask_new (m);
  FwRng rng;
  fw_rng_init (&rng, 1);
  for (int t = 1; t <= 4; t++)
    {
      g_autoptr (FwPruneMask) before = fw_prune_mask_copy (mask);
      /* random scores each step: the mask must still only shrink */
      fw_test_fill_uniform (scores, m->n_params, 0.0f, 1.0f, &rng);
      double s = fw_prune_schedule_at (FW_PRUNE_CUBIC, 0.8, t, 4);
      fw_prune_select (m, scores, FW_PRUNE_WEIGHTS, FW_PRUNE_PER_LAYER, s, TRUE, mask);
      for (gsize i = 0; i < mask->n; i++)
        g_assert_true (before->keep[i] || !mask->keep[i]);
      g_assert_cmpfloat (fabs (fw_prune_mask_sparsity (mask, m, -1) - s), <, 0.01);
    }
}

static void
test_schedules (void)
{
  /* cubic: s (1 - (1 - t/T)^3), reaches s, steps shrink */
  double prev = 0, prev_d = INFINITY;
  for (int t = 1; t <= 6; t++)
    {
      double v = fw_prune_schedule_at (FW_PRUNE_CUBIC, 0.9, t, 6);
      double f = 1.0 - (double) t / 6;
      g_assert_cmpfloat (fabs (v - 0.9 * (1 - f * f * f)), <, 1e-12);
      g_assert_cmpfloat (v - prev, <, prev_d);
      prev_d = v - prev;
      prev = v;
    }
  g_assert_cmpfloat (prev, ==, 0.9);
  /* geometric: the kept fraction shrinks by the same factor every step */
  double keep_prev = 1.0, ratio = NAN;
  for (int t = 1; t <= 5; t++)
    {
      double keep = 1.0 - fw_prune_schedule_at (FW_PRUNE_GEOMETRIC, 0.9, t, 5);
      if (t > 1)
        g_assert_cmpfloat (fabs (keep / keep_prev - ratio), <, 1e-9);
      ratio = keep / keep_prev;
      keep_prev = keep;
    }
  g_assert_cmpfloat (fabs (keep_prev - 0.1), <, 1e-12);
  g_assert_cmpfloat (fw_prune_schedule_at (FW_PRUNE_ONESHOT, 0.5, 1, 1), ==, 0.5);
}

/* Structured pruning clears exactly round(s rows) whole units per layer (row, bias, the
 * batch norm's gamma/beta), the smallest mean |w| rows, never the logits layer. */
static void
test_units (void)
{
  FwShape in = { 2, 6, 6 };
  g_autoptr (FwModel) m = make_model ("conv:8:3:1:1,bn,relu,maxpool:2,flatten,dense:10,relu,"
                                      "dense:3", in, 11);
  g_autofree float *scores = g_new (float, m->n_params);
  fw_prune_score_magnitude (m, scores);
  g_autoptr (FwPruneMask) mask = fw_prune_mask_new (m);
  fw_prune_select (m, scores, FW_PRUNE_UNITS, FW_PRUNE_PER_LAYER, 0.5, FALSE, mask);
  const int layers[] = { 0, 5 };
  for (int q = 0; q < 2; q++)
    {
      int i = layers[q];
      FwPruneGeom g;
      g_assert_true (fw_prune_geom (m, i, &g));
      g_autofree guint8 *kept = g_new (guint8, g.rows);
      int n = fw_prune_units_pruned (mask, m, i, kept);
      g_assert_cmpint (n, ==, g.rows / 2);
      /* the pruned rows have the smallest mean |w| (a brute-force comparison) */
      g_autofree double *mean = g_new (double, g.rows);
      for (int r = 0; r < g.rows; r++)
        {
          mean[r] = 0;
          for (int c = 0; c < g.cols; c++)
            mean[r] += fabs (m->params[g.w_off + (gsize) r * g.cols + c]) / g.cols;
        }
      for (int a = 0; a < g.rows; a++)
        for (int b = 0; b < g.rows; b++)
          if (kept[a] && !kept[b])
            g_assert_cmpfloat (mean[a], >=, mean[b]);
    }
  /* the bn's gamma and beta of a pruned channel are pruned too */
  FwPruneGeom g;
  fw_prune_geom (m, 0, &g);
  g_autofree guint8 *kept = g_new (guint8, g.rows);
  fw_prune_units_pruned (mask, m, 0, kept);
  gsize bn = (gsize) (m->layers[1]->w - m->params);
  for (int r = 0; r < g.rows; r++)
    {
      g_assert_cmpint (mask->keep[bn + r], ==, kept[r]);
      g_assert_cmpint (mask->keep[bn + 8 + r], ==, kept[r]);
    }
  /* the logits layer keeps every row */
  g_assert_cmpint (fw_prune_units_pruned (mask, m, 7, NULL), ==, 0);
}

/* prox_t(v) = argmin_x 1/2 ||x - v||^2 + t ||x||_2: checked by its optimality conditions
 * (x = 0 iff ||v|| <= t; otherwise x - v + t x / ||x|| = 0), computed in double here. */
static void
test_group_lasso_prox (void)
{
  FwShape in = { 1, 3, 3 };
  g_autoptr (FwModel) m = make_model ("flatten,dense:12,relu,dense:3", in, 13);
  g_autoptr (FwModel) v = fw_model_copy (m);
  /* a wide spread of row norms: some rows fall below the threshold */
  FwPruneGeom g;
  fw_prune_geom (m, 1, &g);
  for (int r = 0; r < g.rows; r++)
    for (int c = 0; c < g.cols; c++)
      m->params[g.w_off + (gsize) r * g.cols + c] *= 0.2f * (r + 1);
  memcpy (v->params, m->params, sizeof (float) * m->n_params);
  const double t = 0.6;
  fw_prune_prox_group_lasso (m, t);
  int zeros = 0;
  for (int r = 0; r < g.rows; r++)
    {
      double nv = 0, nx = 0;
      for (int c = 0; c <= g.cols; c++)
        {
          gsize o = c < g.cols ? g.w_off + (gsize) r * g.cols + c : g.b_off + r;
          nv += (double) v->params[o] * v->params[o];
          nx += (double) m->params[o] * m->params[o];
        }
      nv = sqrt (nv);
      nx = sqrt (nx);
      if (nv <= t)
        {
          g_assert_cmpfloat (nx, ==, 0.0);
          zeros++;
          continue;
        }
      for (int c = 0; c <= g.cols; c++)
        {
          gsize o = c < g.cols ? g.w_off + (gsize) r * g.cols + c : g.b_off + r;
          double x = m->params[o];
          g_assert_cmpfloat (fabs (x - v->params[o] + t * x / nx), <, 1e-5);
        }
    }
  g_assert_cmpint (zeros, >, 0);
  g_assert_cmpint (zeros, <, g.rows);
  /* the logits layer is untouched */
  fw_prune_geom (m, 3, &g);
  g_assert_cmpmem (m->params + g.w_off, sizeof (float) * g.rows * g.cols,
                   v->params + g.w_off, sizeof (float) * g.rows * g.cols);
  /* L1: per weight, x = 0 iff |v| <= t, else x = v - t sign(v) */
  memcpy (m->params, v->params, sizeof (float) * m->n_params);
  fw_prune_prox_l1 (m, 0.05);
  for (int i = 0; i < m->n_layers; i++)
    if (fw_prune_geom (m, i, &g))
      for (gsize q = g.w_off; q < g.w_off + (gsize) g.rows * g.cols; q++)
        {
          double a = v->params[q];
          double want = fabs (a) <= 0.05 ? 0.0 : a - 0.05 * (a > 0 ? 1 : -1);
          g_assert_cmpfloat (fabs (m->params[q] - want), <, 1e-7);
        }
  g_assert_cmpfloat (fw_prune_zero_fraction (m, -1), >, 0.0);
}

static FwDataset *
small_data (int n, FwShape shape, int k, guint64 seed)
{
  FwDataset *ds = fw_dataset_new ("probe", n, shape, k);
  FwRng rng;
  fw_rng_init (&rng, seed);
  fw_test_fill_uniform (ds->x, (gsize) n * fw_shape_size (shape), 0.0f, 1.0f, &rng);
  for (int i = 0; i < n; i++)
    {
      /* a learnable rule: the class is which third of the image is brightest */
      gsize s = fw_shape_size (shape);
      double part[3] = { 0 };
      for (gsize j = 0; j < s; j++)
        part[j * 3 / s] += ds->x[(gsize) i * s + j];
      int best = part[1] > part[0] ? 1 : 0;
      best = part[2] > part[best] ? 2 : best;
      ds->y[i] = best % k;
    }
  return ds;
}

/* Saliency |w dL/dw|: dL/dw compared with central finite differences of the summed loss. */
static void
test_saliency_scores (void)
{
  FwShape in = { 1, 3, 3 };
  g_autoptr (FwModel) m = make_model ("flatten,dense:5,tanh,dense:3", in, 17);
  g_autoptr (FwDataset) ds = small_data (8, in, 3, 1);
  g_autofree float *scores = g_new (float, m->n_params);
  g_autoptr (GError) error = NULL;
  /* one batch of all 8 samples: the gradient of the batch's mean loss */
  g_assert_true (fw_prune_score_saliency (m, ds, 1, 8, 1, scores, NULL, &error));
  g_assert_no_error (error);
  int k = m->n_classes;
  g_autofree float *dl = g_new (float, 8 * k);
  for (gsize q = 0; q < m->n_params; q += 7)
    {
      FwPruneGeom g;
      gboolean weight = FALSE;
      for (int i = 0; i < m->n_layers; i++)
        if (fw_prune_geom (m, i, &g) && q >= g.w_off && q < g.w_off + (gsize) g.rows * g.cols)
          weight = TRUE;
      if (!weight)
        {
          g_assert_cmpfloat (scores[q], ==, 0.0f);
          continue;
        }
      float w0 = m->params[q];
      double h = 1e-3, lp, lm;
      m->params[q] = w0 + (float) h;
      lp = fw_loss_softmax_xent (fw_model_forward (m, ds->x, 8, FALSE), 8, k, ds->y, NULL, 0,
                                 dl, NULL);
      m->params[q] = w0 - (float) h;
      lm = fw_loss_softmax_xent (fw_model_forward (m, ds->x, 8, FALSE), 8, k, ds->y, NULL, 0,
                                 dl, NULL);
      m->params[q] = w0;
      double fd = fabs (w0 * (lp - lm) / (2 * h));
      g_assert_cmpfloat (fabs (fd - scores[q]), <, 1e-3 * (fabs (fd) + 1e-2));
    }
}

/* Rewinding puts back the saved weights bit for bit (kept entries), zeros elsewhere. */
static void
test_rewind_bit_exact (void)
{
  FwShape in = { 1, 4, 4 };
  g_autoptr (FwModel) m = make_model ("flatten,dense:16,relu,dense:3", in, 19);
  g_autofree float *init = g_memdup2 (m->params, sizeof (float) * m->n_params);
  g_autoptr (FwDataset) ds = small_data (64, in, 3, 2);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 2;
  cfg.batch = 16;
  g_autoptr (FwPruneMask) mask = fw_prune_mask_new (m);
  FwPruneTrainer t;
  fw_prune_trainer_init (&t, m, mask, &cfg, NULL);
  g_autofree float *early = g_new0 (float, m->n_params);
  t.rewind_at = 3;
  t.rewind_params = early;
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_train (m, &cfg, ds, NULL, NULL, &t.hooks, NULL, NULL, &error));
  g_assert_cmpint (t.steps, ==, 8);
  g_assert_true (memcmp (m->params, init, sizeof (float) * m->n_params) != 0);
  g_autofree float *scores = g_new (float, m->n_params);
  fw_prune_score_magnitude (m, scores);
  fw_prune_select (m, scores, FW_PRUNE_WEIGHTS, FW_PRUNE_GLOBAL, 0.5, TRUE, mask);
  fw_prune_rewind (m, init, mask);
  for (gsize i = 0; i < m->n_params; i++)
    if (mask->keep[i])
      g_assert_true (memcmp (&m->params[i], &init[i], sizeof (float)) == 0);
    else
      g_assert_cmpfloat (m->params[i], ==, 0.0f);
  /* the early snapshot differs from init and from the end */
  g_assert_true (memcmp (early, init, sizeof (float) * m->n_params) != 0);
  /* training with the mask keeps pruned weights at zero after every step */
  g_assert_true (fw_train (m, &cfg, ds, NULL, NULL, &t.hooks, NULL, NULL, &error));
  for (gsize i = 0; i < m->n_params; i++)
    if (!mask->keep[i])
      g_assert_cmpfloat (m->params[i], ==, 0.0f);
}

static void
test_snapshot (void)
{
  FwShape in = { 1, 5, 5 };
  g_autoptr (FwModel) m = make_model ("conv:3:3,relu,flatten,dense:6,relu,dense:3", in, 23);
  g_autofree float *scores = g_new (float, m->n_params);
  fw_prune_score_magnitude (m, scores);
  g_autoptr (FwPruneMask) mask = fw_prune_mask_new (m);
  fw_prune_select (m, scores, FW_PRUNE_WEIGHTS, FW_PRUNE_PER_LAYER, 0.5, TRUE, mask);
  fw_prune_mask_apply (mask, m);
  g_autoptr (FwPruneSnapshot) s = fw_prune_snapshot_new (m, mask);
  g_assert_cmpint (s->n_layers, ==, 3);
  g_assert_cmpint (s->layers[0].rows, ==, 3);
  g_assert_cmpint (s->layers[0].cols, ==, 9);
  g_assert_cmpint (s->layers[0].kh, ==, 3);
  g_assert_cmpint (s->layers[1].cols, ==, 3 * 3 * 3);
  g_assert_cmpfloat (fabs (s->sparsity - fw_prune_mask_sparsity (mask, m, -1)), <, 1e-12);
  for (int i = 0; i < s->n_layers; i++)
    {
      FwPruneGeom g;
      fw_prune_geom (m, s->layers[i].layer, &g);
      g_assert_cmpmem (s->layers[i].keep, (gsize) g.rows * g.cols, mask->keep + g.w_off,
                       (gsize) g.rows * g.cols);
    }
  /* a copy: changing the model afterwards does not change the snapshot */
  float before = s->layers[2].weight[0];
  m->params[m->n_params - 1 - 3] += 1.0f;
  fw_model_init (m, 99);
  g_assert_cmpfloat (s->layers[2].weight[0], ==, before);
}

/* 1 x 8 blocks: exactly round(s B) blocks pruned per layer, whole blocks, the ones with the
 * smallest mean |w| (brute force over all pairs). */
static void
test_blocks (void)
{
  FwShape in = { 1, 5, 5 };
  g_autoptr (FwModel) m = make_model ("flatten,dense:12,relu,dense:3", in, 41);
  g_autofree float *scores = g_new (float, m->n_params);
  fw_prune_score_magnitude (m, scores);
  g_autoptr (FwPruneMask) mask = fw_prune_mask_new (m);
  fw_prune_select (m, scores, FW_PRUNE_BLOCKS, FW_PRUNE_PER_LAYER, 0.7, TRUE, mask);
  for (int i = 0; i < m->n_layers; i++)
    {
      FwPruneGeom g;
      if (!fw_prune_geom (m, i, &g))
        continue;
      int per_row = (g.cols + 7) / 8, nb = g.rows * per_row, pruned = 0;
      g_autofree double *mean = g_new (double, nb);
      g_autofree gboolean *kept = g_new (gboolean, nb);
      for (int r = 0; r < g.rows; r++)
        for (int b = 0; b < per_row; b++)
          {
            int id = r * per_row + b, c0 = 8 * b, c1 = MIN (c0 + 8, g.cols);
            gsize q = g.w_off + (gsize) r * g.cols;
            mean[id] = 0;
            for (int c = c0; c < c1; c++)
              {
                mean[id] += fabs (m->params[q + c]) / (c1 - c0);
                /* all or nothing within a block */
                g_assert_cmpint (mask->keep[q + c], ==, mask->keep[q + c0]);
              }
            kept[id] = mask->keep[q + c0];
            pruned += !kept[id];
          }
      g_assert_cmpint (pruned, ==, (int) floor (0.7 * nb + 0.5));
      for (int a = 0; a < nb; a++)
        for (int b = 0; b < nb; b++)
          if (kept[a] && !kept[b])
            g_assert_cmpfloat (mean[a], >=, mean[b]);
    }
}

/* Forward of n random inputs in eval mode, copied out. */
static float *
outputs (FwModel *m, const float *x, int n)
{
  const float *y = fw_model_forward (m, x, n, FALSE);
  return g_memdup2 (y, sizeof (float) * n * m->n_classes);
}

static void
check_shrink (const char *spec, FwShape in, FwPruneGranularity gran, FwPruneScope scope)
{
  g_autoptr (FwModel) m = make_model (spec, in, 29);
  /* batch-norm running statistics away from (0, 1) */
  FwRng rng;
  fw_rng_init (&rng, 4);
  for (gsize i = 0; i < m->n_state; i++)
    m->state[i] = (float) fw_rng_uniform (&rng) * 0.5f + 0.5f;
  g_autofree float *scores = g_new (float, m->n_params);
  fw_prune_score_magnitude (m, scores);
  g_autoptr (FwPruneMask) mask = fw_prune_mask_new (m);
  gsize n = fw_prune_select (m, scores, gran, scope, 0.5, FALSE, mask);
  g_assert_cmpuint (n, >, 0);
  fw_prune_mask_apply (mask, m);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) s = fw_prune_shrink (m, mask, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (s->n_params, <, m->n_params);
  /* the smaller model computes what the masked one computes */
  const int nx = 5;
  gsize sz = fw_shape_size (in);
  g_autofree float *x = g_new (float, nx * sz);
  fw_test_fill_uniform (x, nx * sz, 0.0f, 1.0f, &rng);
  g_autofree float *a = outputs (m, x, nx);
  g_autofree float *b = outputs (s, x, nx);
  g_assert_cmpfloat (fw_test_max_rel_err (b, a, nx * m->n_classes, 1e-3), <, 1e-4);
  /* the parameter count is the masked model's minus what the removed units carried */
  gsize removed_units = 0;
  for (int i = 0; i < m->n_layers; i++)
    if (fw_prune_layer_prunable (m, i))
      removed_units += fw_prune_units_pruned (mask, m, i, NULL);
  g_assert_cmpuint (removed_units, >, 0);
  g_test_message ("%s: %" G_GSIZE_FORMAT " -> %" G_GSIZE_FORMAT " parameters (%s)", spec,
                  m->n_params, s->n_params, s->spec);
}

static void
test_shrink_equals_masked (void)
{
  check_shrink ("conv:8:3:1:1,bn,relu,maxpool:2,conv:6:3:1:1,relu,flatten,dense:10,relu,dense:3",
                (FwShape) { 2, 6, 6 }, FW_PRUNE_UNITS, FW_PRUNE_PER_LAYER);
  check_shrink ("conv:8:3,relu,conv:6:3,relu,gap,flatten,dense:3", (FwShape) { 1, 7, 7 },
                FW_PRUNE_CHANNELS, FW_PRUNE_GLOBAL);
  check_shrink ("flatten,dense:20,relu,dense:12,tanh,dense:4", (FwShape) { 1, 5, 5 },
                FW_PRUNE_NEURONS, FW_PRUNE_GLOBAL);
  /* dense reading a conv's output directly (no flatten) */
  check_shrink ("conv:4:3,relu,dense:7,relu,dense:3", (FwShape) { 1, 5, 5 }, FW_PRUNE_UNITS,
                FW_PRUNE_PER_LAYER);
}

/* y = W x + b by plain double loops over the masked dense weights */
static void
naive_dense (const float *W, const float *b, int out, int in, const float *x, int n, double *y)
{
  for (int s = 0; s < n; s++)
    for (int o = 0; o < out; o++)
      {
        double acc = b[o];
        for (int c = 0; c < in; c++)
          acc += (double) W[(gsize) o * in + c] * x[(gsize) s * in + c];
        y[(gsize) s * out + o] = acc;
      }
}

static void
check_sparse_layer (FwShape in, int out, double sparsity, FwPruneGranularity gran, int want_b)
{
  g_autofree char *spec = g_strdup_printf ("flatten,dense:%d", out);
  g_autoptr (FwModel) m = make_model (spec, in, 31);
  g_autofree float *scores = g_new (float, m->n_params);
  fw_prune_score_magnitude (m, scores);
  g_autoptr (FwPruneMask) mask = fw_prune_mask_new (m);
  fw_prune_select (m, scores, gran, FW_PRUNE_PER_LAYER, sparsity, TRUE, mask);
  fw_prune_mask_apply (mask, m);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) s = fw_prune_sparsify (m, 0.5, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s->layers[1]->klass->name, ==, "sparse");
  g_assert_cmpint (s->layers[1]->iarg[3], ==, want_b);
  FwPruneGeom g;
  fw_prune_geom (m, 1, &g);
  int d = (int) fw_shape_size (in);
  FwRng rng;
  fw_rng_init (&rng, 8);
  /* batches below 16 run the per-sample kernel, 20 the scatter + GEMM path */
  const int ns[] = { 1, 2, 9, 20 };
  for (guint t = 0; t < G_N_ELEMENTS (ns); t++)
    {
      int n = ns[t];
      g_autofree float *x = g_new (float, (gsize) n * d);
      fw_test_fill_uniform (x, (gsize) n * d, -1.0f, 1.0f, &rng);
      g_autofree double *want = g_new (double, (gsize) n * out);
      naive_dense (m->params + g.w_off, m->params + g.b_off, out, d, x, n, want);
      const float *y = fw_model_forward (s, x, n, FALSE);
      for (gsize q = 0; q < (gsize) n * out; q++)
        g_assert_cmpfloat (fabs (y[q] - want[q]), <, 1e-4 * (1 + fabs (want[q])));
    }
  /* the file holds values F32 + indices, nothing for the zeros */
  g_autofree char *path = g_build_filename (fw_test_tmpdir (), "sparse.safetensors", NULL);
  g_assert_true (fw_model_save (s, path, NULL, &error));
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  guint64 hlen = 0;
  memcpy (&hlen, data, 8);
  gsize nnz = (gsize) s->layers[1]->iarg[1];
  gsize idx = d <= 32767 ? 2 : 4;
  gsize want_bytes = nnz * want_b * 4 + (gsize) out * 4 + (gsize) (out + 1) * 4 + nnz * idx;
  g_assert_cmpuint (len - 8 - hlen, ==, want_bytes);
  g_assert_nonnull (strstr (data + 8, d <= 32767 ? "\"I16\"" : "\"I32\""));
  /* and loads back to the same outputs */
  g_autoptr (FwModel) back = fw_model_load (path, NULL, &error);
  g_assert_no_error (error);
  g_autofree float *x = g_new (float, 3 * d);
  fw_test_fill_uniform (x, 3 * d, -1.0f, 1.0f, &rng);
  g_autofree float *a = outputs (s, x, 3);
  g_autofree float *b = outputs (back, x, 3);
  g_assert_cmpmem (a, sizeof (float) * 3 * out, b, sizeof (float) * 3 * out);
  g_assert_cmpfloat (fabs (fw_model_flops (s) - 2.0 * nnz * want_b), <, 1e-9);
}

static void
test_sparse_kernel (void)
{
  check_sparse_layer ((FwShape) { 1, 9, 9 }, 13, 0.9, FW_PRUNE_WEIGHTS, 1);
  check_sparse_layer ((FwShape) { 1, 6, 5 }, 7, 0.6, FW_PRUNE_WEIGHTS, 1);
  /* more than 32767 inputs: I32 column indices */
  check_sparse_layer ((FwShape) { 1, 190, 190 }, 3, 0.99, FW_PRUNE_WEIGHTS, 1);
  /* block CSR: 1 x 8 blocks (64 inputs), 1 x 4 (a width of 36 is not a multiple of 8) */
  check_sparse_layer ((FwShape) { 1, 8, 8 }, 11, 0.8, FW_PRUNE_BLOCKS, 8);
  check_sparse_layer ((FwShape) { 1, 6, 6 }, 9, 0.7, FW_PRUNE_BLOCKS, 4);
  check_sparse_layer ((FwShape) { 4, 16, 16 }, 5, 0.9, FW_PRUNE_BLOCKS, 8);
}

/* The same with the plain C kernels (a CPU without AVX2 / FMA), in a child process where
 * FW_NO_AVX2 is set before the kernels first look at the CPU. */
static void
test_sparse_kernel_plain_c (void)
{
  if (g_test_subprocess ())
    {
      g_setenv ("FW_NO_AVX2", "1", TRUE);
      g_assert_false (fw_kernels_have_avx2 ());
      test_sparse_kernel ();
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
test_sparse_gradients (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new ("custom", "flatten,sparse:6:20,tanh,sparse:3:4:2",
                                        (FwShape) { 1, 3, 3 }, &error);
  g_assert_no_error (error);
  fw_model_init (m, 5);
  double err = fw_test_gradcheck_model (m, 4, -1.0f, 1.0f, 1e-2, 0, 1);
  g_assert_cmpfloat (err, <, 1e-2);
}

/* Removing a block = running the original's layers without it, one layer at a time. */
static void
test_remove_blocks (void)
{
  FwShape in = { 1, 4, 4 };
  g_autoptr (FwModel) m = make_model ("flatten,dense:16,relu,dense:16,relu,dense:16,relu,"
                                      "dense:3", in, 37);
  int first[8], last[8];
  int nb = fw_prune_layer_blocks (m, first, last, 8);
  g_assert_cmpint (nb, ==, 3);
  g_assert_cmpint (first[1], ==, 3);
  g_assert_cmpint (last[1], ==, 4);
  gboolean remove[3] = { FALSE, TRUE, FALSE };
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) r = fw_prune_remove_blocks (m, remove, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r->n_layers, ==, m->n_layers - 2);
  g_assert_cmpuint (r->n_params, ==, m->n_params - (16 * 16 + 16));
  FwRng rng;
  fw_rng_init (&rng, 3);
  float x[16], buf[2][16];
  fw_test_fill_uniform (x, 16, 0.0f, 1.0f, &rng);
  fw_model_reserve (m, 1);
  const float *cur = x;
  int which = 0;
  for (int i = 0; i < m->n_layers; i++)
    {
      if (i >= first[1] && i <= last[1])
        continue;
      m->layers[i]->klass->forward (m->layers[i], cur, buf[which], 1, FALSE);
      cur = buf[which];
      which = 1 - which;
    }
  const float *y = fw_model_forward (r, x, 1, FALSE);
  for (int k = 0; k < 3; k++)
    g_assert_cmpfloat (fabsf (y[k] - cur[k]), <, 1e-5f);
}

/* ---- the job ---- */

static FwRecipe *
job_recipe (const char *prune_group, const char *dir)
{
  g_autofree char *text = g_strdup_printf (
    "[data]\ndataset = sim:300:20\nval_fraction = 0.2\n"
    "[model]\narch = mlp\nwidths = 24,16\n"
    "[train]\nepochs = 2\nbatch = 32\nlr = 0.05\n"
    "[output]\ndir = %s\n[run]\nseed = 3\nthreads = 1\n"
    "[prune]\n%s", dir, prune_group);
  g_autoptr (GError) error = NULL;
  FwRecipe *r = fw_recipe_load_data (text, strlen (text), "prune-test", &error);
  g_assert_no_error (error);
  return r;
}

static FwDataset *
job_test_set (void)
{
  g_autoptr (GError) error = NULL;
  FwDataset *ds = fw_dataset_load_test ("sim:300:20", 3, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ds);
  return ds;
}

/* The saved model (CSR or smaller layers) computes what the saved dense model computes, its
 * accuracy is the one reported, and the file is smaller. */
static void
check_saved_equals_dense (FwPruneResult *res)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dpath = g_build_filename (res->run_dir, "dense.safetensors", NULL);
  g_autoptr (FwModel) saved = fw_model_load (res->model_path, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwModel) dense = fw_model_load (dpath, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwDataset) test = job_test_set ();
  int n = MIN (test->n, 40);
  g_autofree float *a = outputs (saved, test->x, n);
  g_autofree float *b = outputs (dense, test->x, n);
  g_assert_cmpfloat (fw_test_max_rel_err (a, b, (gsize) n * 10, 1e-3), <, 1e-4);
  g_autoptr (FwEvalResult) e = fw_evaluate (saved, test, 64, NULL, &error);
  g_assert_cmpfloat (fabs (e->accuracy - res->final_acc), <, 1e-9);
  GStatBuf st1, st2;
  g_assert_cmpint (g_stat (res->model_path, &st1), ==, 0);
  g_assert_cmpint (g_stat (dpath, &st2), ==, 0);
  g_assert_cmpint (st1.st_size, <, st2.st_size);
}

static void
test_job_weights (void)
{
  g_autofree char *dir = g_build_filename (fw_test_tmpdir (), "w", NULL);
  g_autoptr (FwRecipe) r = job_recipe ("sparsity = 0.8\nschedule = cubic\nsteps = 2\n"
                                       "finetune_epochs = 1\n", dir);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwPruneResult) res = fw_prune_run_sync (r, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (fabs (res->sparsity - 0.8), <, 1e-3);
  g_assert_cmpstr (res->model->layers[1]->klass->name, ==, "sparse");
  /* rows: base, then prune + finetune per step; the targets follow the cubic schedule */
  g_assert_cmpuint (res->rows->len, ==, 5);
  const FwPruneRow *last = &g_array_index (res->rows, FwPruneRow, 4);
  g_assert_cmpstr (last->phase, ==, "finetune");
  g_assert_cmpfloat (last->target, ==, 0.8);
  g_assert_cmpfloat (g_array_index (res->rows, FwPruneRow, 1).target, ==,
                     fw_prune_schedule_at (FW_PRUNE_CUBIC, 0.8, 1, 2));
  check_saved_equals_dense (res);
  /* the run folder */
  const char *files[] = { "metrics.csv", "summary.json", "recipe.ini" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *p = g_build_filename (res->run_dir, files[i], NULL);
      g_assert_true (g_file_test (p, G_FILE_TEST_EXISTS));
    }
  /* the model before pruning, with the accuracy the result reports for it */
  g_autofree char *bpath = g_build_filename (res->run_dir, "base.safetensors", NULL);
  g_autoptr (FwModel) base = fw_model_load (bpath, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (fw_prune_zero_fraction (base, -1), <, 0.01);
  g_autoptr (FwDataset) test = job_test_set ();
  g_autoptr (FwEvalResult) e = fw_evaluate (base, test, 64, NULL, &error);
  g_assert_cmpfloat (fabs (e->accuracy - res->base_acc), <, 1e-9);

  /* [model] init = that file: pruned as it is, not trained again */
  g_autofree char *dir2 = g_build_filename (fw_test_tmpdir (), "w2", NULL);
  g_autoptr (FwRecipe) r2 = job_recipe ("sparsity = 0.5\nschedule = oneshot\n"
                                        "finetune_epochs = 0\n", dir2);
  g_free (r2->init);
  r2->init = g_strdup (bpath);
  /* another shuffling seed: a model trained here would differ from the file's */
  r2->train.seed = 4;
  g_autoptr (FwPruneResult) res2 = fw_prune_run_sync (r2, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (res2->base_acc, ==, res->base_acc);
}

static void
test_job_units_and_layers (void)
{
  g_autofree char *dir = g_build_filename (fw_test_tmpdir (), "u", NULL);
  g_autoptr (FwRecipe) r = job_recipe ("granularity = neurons\ncriterion = saliency\n"
                                       "sparsity = 0.5\nschedule = oneshot\n"
                                       "group_lasso = 0.01\n", dir);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwPruneResult) res = fw_prune_run_sync (r, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (res->model->spec, ==, "flatten,dense:12,relu,dense:8,relu,dense:10");
  check_saved_equals_dense (res);

  /* a stack of equal widths: one block of two removed */
  g_autofree char *dir2 = g_build_filename (fw_test_tmpdir (), "l", NULL);
  g_autoptr (FwRecipe) r2 = job_recipe ("granularity = layers\nsparsity = 0.5\n", dir2);
  g_free (r2->widths);
  r2->widths = g_strdup ("20,20,20");
  g_autoptr (FwPruneResult) res2 = fw_prune_run_sync (r2, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (res2->model->n_layers, ==, 6);
}

static void
test_job_lottery (void)
{
  g_autofree char *dir = g_build_filename (fw_test_tmpdir (), "t", NULL);
  g_autoptr (FwRecipe) r = job_recipe ("lottery = true\nsparsity = 0.75\nschedule = geometric\n"
                                       "steps = 2\nseeds = 2\nrewind_batches = 2\n", dir);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwPruneResult) res = fw_prune_run_sync (r, NULL, &error);
  g_assert_no_error (error);
  /* per seed: rounds 0..2 (train, train, ticket) and the random control */
  g_assert_cmpuint (res->rows->len, ==, 8);
  int tickets = 0, randoms = 0;
  for (guint i = 0; i < res->rows->len; i++)
    {
      const FwPruneRow *row = &g_array_index (res->rows, FwPruneRow, i);
      if (strcmp (row->phase, "ticket") == 0 || strcmp (row->phase, "random") == 0)
        {
          g_assert_cmpfloat (fabs (row->sparsity - 0.75), <, 1e-3);
          tickets += row->phase[0] == 't';
          randoms += row->phase[0] == 'r';
        }
    }
  g_assert_cmpint (tickets, ==, 2);
  g_assert_cmpint (randoms, ==, 2);
  /* a rewind point later than the first training is an error that says so */
  g_autoptr (FwRecipe) r2 = job_recipe ("lottery = true\nsteps = 1\nrewind_batches = 100000\n",
                                        dir);
  g_autoptr (FwPruneResult) none = fw_prune_run_sync (r2, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "rewind_batches"));
}

static void
test_job_bad_values (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) r = job_recipe ("sparsity = 1.5\n", "/nonexistent");
  FwPruneConfig cfg;
  g_assert_false (fw_prune_config_from_recipe (&cfg, r, &error));
  g_assert_nonnull (strstr (error->message, "sparsity"));
  g_clear_error (&error);
  g_autoptr (FwRecipe) r2 = job_recipe ("criterion = biggest\n", "/nonexistent");
  g_assert_false (fw_prune_config_from_recipe (&cfg, r2, &error));
  g_assert_nonnull (strstr (error->message, "magnitude"));
  g_clear_error (&error);
  /* a typo in a key name is caught by the recipe loader */
  const char *text = "[prune]\nsparsty = 0.5\n";
  g_autoptr (FwRecipe) r3 = fw_recipe_load_data (text, strlen (text), "typo", &error);
  g_assert_null (r3);
  g_assert_nonnull (strstr (error->message, "sparsty"));
  g_clear_error (&error);
  /* config -> recipe -> config round trip */
  FwPruneConfig a;
  fw_prune_config_defaults (&a);
  a.criterion = FW_PRUNE_MOVEMENT;
  a.granularity = FW_PRUNE_CHANNELS;
  a.scope = FW_PRUNE_GLOBAL;
  a.sparsity = 0.35;
  a.steps = 7;
  a.l1 = 1e-4;
  g_autoptr (FwRecipe) r4 = fw_recipe_new_default ();
  fw_prune_config_to_recipe (&a, r4);
  FwPruneConfig b;
  g_assert_true (fw_prune_config_from_recipe (&b, r4, &error));
  g_assert_no_error (error);
  g_assert_cmpint (b.criterion, ==, a.criterion);
  g_assert_cmpint (b.granularity, ==, a.granularity);
  g_assert_cmpint (b.scope, ==, a.scope);
  g_assert_cmpfloat (b.sparsity, ==, a.sparsity);
  g_assert_cmpint (b.steps, ==, a.steps);
  g_assert_cmpfloat (b.l1, ==, a.l1);
  fw_prune_config_clear (&b);
}

typedef struct {
  int snapshots, results, finished, cancelled;
  double last_sparsity;
  FwJob *cancel_on_snapshot;
} JobSeen;

static void
on_job_event (FwJob *job, const FwEvent *ev, gpointer user)
{
  JobSeen *s = user;
  if (ev->kind == FW_EVENT_SNAPSHOT && g_strcmp0 (ev->payload_type, "prune-step") == 0)
    {
      const FwPruneSnapshot *snap = ev->payload;
      s->snapshots++;
      s->last_sparsity = snap->sparsity;
      g_assert_cmpint (snap->n_layers, ==, 3);
      if (s->cancel_on_snapshot != NULL)
        fw_job_cancel (s->cancel_on_snapshot);
    }
  else if (ev->kind == FW_EVENT_SNAPSHOT && g_strcmp0 (ev->payload_type, "prune-result") == 0)
    s->results++;
  else if (ev->kind == FW_EVENT_FINISHED)
    s->finished++;
  else if (ev->kind == FW_EVENT_CANCELLED
           || (ev->kind == FW_EVENT_FAILED
               && g_error_matches (ev->error, FW_ERROR, FW_ERROR_CANCELLED)))
    s->cancelled++;
}

static void
test_job_events (void)
{
  g_autofree char *dir = g_build_filename (fw_test_tmpdir (), "e", NULL);
  g_autoptr (FwRecipe) r = job_recipe ("sparsity = 0.6\nsteps = 2\n", dir);
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  JobSeen seen = { 0 };
  g_autoptr (FwJob) job = fw_job_runner_submit (runner, "prune", fw_prune_job_run,
                                                g_steal_pointer (&r),
                                                (GDestroyNotify) fw_recipe_free, NULL,
                                                on_job_event, &seen);
  fw_job_wait (job, NULL);
  g_assert_cmpint (seen.finished, ==, 1);
  g_assert_cmpint (seen.results, ==, 1);
  /* base + per step (pruned + one per fine-tuning epoch) + done, at least */
  g_assert_cmpint (seen.snapshots, >=, 1 + 2 * 2 + 1);
  g_assert_cmpfloat (fabs (seen.last_sparsity - 0.6), <, 1e-3);

  /* cancelled at its first snapshot: the job ends cancelled and leaves no run folder */
  g_autofree char *dir2 = g_build_filename (fw_test_tmpdir (), "cancelled", NULL);
  g_autoptr (FwRecipe) r2 = job_recipe ("sparsity = 0.6\nsteps = 5\nfinetune_epochs = 10\n",
                                        dir2);
  JobSeen seen2 = { 0 };
  g_autoptr (FwJob) job2 = fw_job_runner_submit (runner, "prune", fw_prune_job_run,
                                                 g_steal_pointer (&r2),
                                                 (GDestroyNotify) fw_recipe_free, NULL,
                                                 on_job_event, &seen2);
  seen2.cancel_on_snapshot = job2;
  fw_job_wait (job2, NULL);
  g_assert_cmpint (seen2.cancelled, ==, 1);
  g_assert_cmpint (seen2.finished, ==, 0);
  g_assert_cmpint (seen2.results, ==, 0);
  g_assert_false (g_file_test (dir2, G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Prune/magnitude_keeps_largest_weights_per_layer",
                   test_magnitude_per_layer);
  g_test_add_func ("/Prune/magnitude_global_ranking", test_magnitude_global);
  g_test_add_func ("/Prune/iterative_masks_only_shrink", test_iterative_monotone);
  g_test_add_func ("/Prune/schedules_cubic_geometric", test_schedules);
  g_test_add_func ("/Prune/units_smallest_rows_with_bias_and_bn", test_units);
  g_test_add_func ("/Prune/group_lasso_and_l1_prox_optimality", test_group_lasso_prox);
  g_test_add_func ("/Prune/saliency_matches_finite_differences", test_saliency_scores);
  g_test_add_func ("/Prune/rewind_restores_init_bit_exactly", test_rewind_bit_exact);
  g_test_add_func ("/Prune/snapshot_copies_masks", test_snapshot);
  g_test_add_func ("/Prune/blocks_smallest_mean_pruned_whole", test_blocks);
  g_test_add_func ("/Prune/shrink_equals_masked_model", test_shrink_equals_masked);
  g_test_add_func ("/Prune/sparse_kernel_equals_dense_product", test_sparse_kernel);
  g_test_add_func ("/Prune/sparse_kernel_plain_c_equals_dense_product",
                   test_sparse_kernel_plain_c);
  g_test_add_func ("/Prune/sparse_layer_gradients", test_sparse_gradients);
  g_test_add_func ("/Prune/remove_blocks_skips_layers", test_remove_blocks);
  g_test_add_func ("/Prune/job_weights_saves_csr_equal_to_dense", test_job_weights);
  g_test_add_func ("/Prune/job_neurons_and_layers", test_job_units_and_layers);
  g_test_add_func ("/Prune/job_lottery_ticket_and_control", test_job_lottery);
  g_test_add_func ("/Prune/recipe_values_checked", test_job_bad_values);
  g_test_add_func ("/Prune/job_events_snapshots", test_job_events);
  return g_test_run ();
}
