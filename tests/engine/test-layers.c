/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests of the layer kinds: gradients of every kind against finite differences, conv and
 * pooling forward passes against naive loops, dropout and batch-norm behaviour against closed
 * forms, the named architectures' shapes and parameter counts, FLOPs, and bad specs. */
#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-kernels.h"
#include "fw-model.h"
#include "fw-test-util.h"

/* ---- gradient checks, one case per layer kind ---- */

typedef struct {
  const char *name;    /* test path component */
  const char *spec;    /* a parameterised layer precedes the kind, so its dx is checked too */
  FwShape input;
  int n;               /* batch */
  double h;            /* finite-difference step; 0: 1e-3 */
} GradCase;

static const GradCase grad_cases[] = {
  { "dense", "flatten,dense:7,dense:5,tanh,dense:3", { 2, 3, 3 }, 3 },
  { "relu", "conv:2:1,relu,flatten,dense:3", { 2, 5, 5 }, 3 },
  { "lrelu", "conv:2:1,lrelu:0.1,flatten,dense:3", { 2, 5, 5 }, 3 },
  { "tanh", "conv:2:1,tanh,flatten,dense:3", { 2, 5, 5 }, 3 },
  { "sigmoid", "conv:2:1,sigmoid,flatten,dense:3", { 2, 5, 5 }, 3 },
  { "flatten", "conv:2:1,flatten,dense:4,tanh,dense:3", { 2, 4, 4 }, 3 },
  { "dropout", "conv:2:1,dropout:0,flatten,dense:3", { 2, 4, 4 }, 3 },
  { "conv", "conv:2:1,conv:3:3,flatten,dense:3", { 2, 6, 6 }, 3 },
  { "conv_stride2_pad1", "conv:2:1,conv:3:3:2:1,flatten,dense:3", { 2, 7, 6 }, 3 },
  { "conv_5x5_pad2", "conv:2:1,conv:2:5:1:2,flatten,dense:3", { 2, 6, 6 }, 2 },
  { "conv_pointwise", "conv:2:1,conv:3:1,flatten,dense:3", { 2, 4, 4 }, 3 },
  /* large planes: one sample per group of columns */
  { "conv_large_plane", "conv:2:1,conv:3:3:1:1,gap,dense:3", { 2, 32, 32 }, 2 },
  { "conv_large_plane_stride2", "conv:2:1,conv:3:3:2:1,gap,dense:3", { 2, 64, 64 }, 2 },
  /* a wide 1x1 plane runs without unfolding (a separate code path) */
  { "conv_pointwise_wide", "conv:2:1,conv:3:1,flatten,dense:3", { 2, 16, 16 }, 2 },
  { "conv_first_layer", "conv:3:3:2:1,tanh,conv:2:3,flatten,dense:3", { 1, 7, 7 }, 3 },
  { "dwconv", "conv:3:1,dwconv:3:2:1,flatten,dense:3", { 2, 7, 7 }, 3 },
  { "maxpool", "conv:2:1,maxpool:2,flatten,dense:3", { 2, 6, 6 }, 3 },
  { "maxpool_odd_plane", "conv:2:1,maxpool:2,flatten,dense:3", { 2, 7, 5 }, 3 },
  { "maxpool_3x3", "conv:2:1,maxpool:3,flatten,dense:3", { 2, 7, 6 }, 3 },
  /* two window entries within 1e-3 of each other swap places at h = 1e-3 (the error falls
   * with h: 0.06 at 1e-2, 0.01 at 1e-3, 8e-4 at 3e-4), so a smaller step here */
  { "maxpool_overlap", "conv:2:1,maxpool:3:2,flatten,dense:3", { 2, 7, 7 }, 3, 3e-4 },
  { "avgpool", "conv:2:1,avgpool:2,flatten,dense:3", { 2, 6, 6 }, 3 },
  { "avgpool_overlap", "conv:2:1,avgpool:3:2,flatten,dense:3", { 2, 7, 7 }, 3 },
  { "gap", "conv:3:1,gap,dense:3", { 2, 5, 5 }, 3 },
  { "bn", "conv:3:1,bn,flatten,dense:3", { 2, 4, 4 }, 4 },
  { "bn_features", "flatten,dense:5,bn,tanh,dense:3", { 1, 3, 3 }, 6 },
  /* the blocks hold two or three ReLU layers: at h = 1e-3 some unit changes side (errors of
   * 0.01-0.02 that shrink with h, down to ~1e-4 at h = 1e-4), so a smaller step */
  { "dwsep", "conv:3:1,dwsep:4:2,flatten,dense:3", { 2, 7, 7 }, 3, 1e-4 },
  { "dwsep_stride1", "conv:3:1,dwsep:2,flatten,dense:3", { 2, 5, 5 }, 3, 1e-4 },
  { "fire", "conv:3:1,fire:2:3,flatten,dense:3", { 2, 5, 5 }, 3, 1e-4 },
  { "mbconv", "conv:3:1,mbconv:3:2,flatten,dense:3", { 2, 5, 5 }, 3, 1e-4 },
  { "mbconv_stride2", "conv:3:1,mbconv:4:2:2,flatten,dense:3", { 2, 6, 5 }, 3, 1e-4 },
  /* 3x3 stride-1 pad-1 between 8 or more channels: Winograd F(2x2, 3x3), odd plane sides */
  { "conv_winograd", "conv:8:1,conv:8:3:1:1,flatten,dense:3", { 2, 5, 6 }, 8 },
  /* factored kinds of engine/compress (the decompositions run and fine-tune in them) */
  { "dwrect", "conv:3:1,dwrect:3:1:2:1:1:0,dwrect:1:2:1:2:0:1,flatten,dense:3", { 2, 7, 6 }, 3 },
  { "tt", "conv:2:1,tt:2x3x2:3x2x2:2x3,tanh,dense:3", { 2, 3, 2 }, 3 },
  { "ht", "conv:2:1,ht:2x1x3x2:2x3x2x2:2x2x3x2x3x2,tanh,dense:3", { 2, 3, 4 }, 3 },
};

static void
test_gradcheck (gconstpointer data)
{
  const GradCase *gc = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new (NULL, gc->spec, gc->input, &error);
  g_assert_no_error (error);
  fw_model_init (m, 11);
  /* Central differences in float: rounding noise ~1e-6 / h, truncation O(h^2), and a step
   * small enough that a ReLU or max rarely changes side. The worst case seen is 8e-4; a
   * gradient 1% off shows up as an error of about 5e-3. */
  double worst = fw_test_gradcheck_model (m, gc->n, -1.0f, 1.0f, gc->h > 0 ? gc->h : 1e-3,
                                          0, 5);
  g_test_message ("%s: worst relative error %.3g over %" G_GSIZE_FORMAT " parameters", gc->spec,
                  worst, m->n_params);
  g_assert_cmpfloat (worst, <, 2e-3);
}

/* Each layer's tensors() tile its parameters and state exactly; spec() rebuilds the layer. */
static void
test_tensors_and_spec (gconstpointer data)
{
  const GradCase *gc = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new (NULL, gc->spec, gc->input, &error);
  g_assert_no_error (error);
  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = m->layers[i];
      FwTensorInfo t[FW_LAYER_MAX_TENSORS];
      int nt = l->klass->tensors (l, t);
      g_assert_cmpint (nt, <=, FW_LAYER_MAX_TENSORS);
      g_autofree guint8 *wcov = g_malloc0 (l->n_w + 1), *scov = g_malloc0 (l->n_st + 1);
      for (int k = 0; k < nt; k++)
        {
          gsize sz = 1;
          for (int d = 0; d < t[k].ndim; d++)
            sz *= t[k].dims[d];
          guint8 *cov = t[k].trainable ? wcov : scov;
          gsize lim = t[k].trainable ? l->n_w : l->n_st;
          g_assert_cmpuint (t[k].offset + sz, <=, lim);
          for (gsize e = 0; e < sz; e++)
            cov[t[k].offset + e]++;
        }
      for (gsize e = 0; e < l->n_w; e++)
        g_assert_cmpuint (wcov[e], ==, 1);
      for (gsize e = 0; e < l->n_st; e++)
        g_assert_cmpuint (scov[e], ==, 1);
    }
  g_autoptr (FwModel) m2 = fw_model_new (NULL, m->spec, gc->input, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (m2->spec, ==, m->spec);
  g_assert_cmpuint (m2->n_params, ==, m->n_params);
  g_assert_cmpuint (m2->n_state, ==, m->n_state);
}

/* ---- conv and pooling forward against naive loops ---- */

/* y[j][o][oh][ow] = b[o] + sum_{c,ki,kj} w[o][c][ki][kj] x[j][c][oh s + ki - p][ow s + kj - p];
 * groups = 1 (conv) or groups = C = OUT (depthwise). */
static void
naive_conv (const float *x, const float *w, const float *b, float *y, int n, FwShape in,
            int out, int k, int s, int p, gboolean depthwise)
{
  int oh_n = (in.h + 2 * p - k) / s + 1, ow_n = (in.w + 2 * p - k) / s + 1;
  int wc = depthwise ? 1 : in.c;
  for (int j = 0; j < n; j++)
    for (int o = 0; o < out; o++)
      for (int oh = 0; oh < oh_n; oh++)
        for (int ow = 0; ow < ow_n; ow++)
          {
            double acc = b[o];
            for (int c = 0; c < wc; c++)
              for (int ki = 0; ki < k; ki++)
                for (int kj = 0; kj < k; kj++)
                  {
                    int ih = oh * s + ki - p, iw = ow * s + kj - p;
                    int ic = depthwise ? o : c;
                    if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w)
                      continue;
                    acc += (double) w[((o * wc + c) * k + ki) * k + kj]
                           * x[(((gsize) j * in.c + ic) * in.h + ih) * in.w + iw];
                  }
            y[(((gsize) j * out + o) * oh_n + oh) * ow_n + ow] = (float) acc;
          }
}

static void
test_conv_forward_matches_naive (void)
{
  /* out, k, stride, pad over a non-square input; the last is depthwise (out = C) */
  const int cfg[][5] = { { 4, 3, 1, 0, 0 }, { 4, 3, 2, 1, 0 }, { 2, 5, 1, 2, 0 }, { 4, 3, 1, 1, 0 },
                         { 5, 1, 1, 0, 0 }, { 3, 2, 3, 1, 0 }, { 3, 1, 2, 0, 0 },
                         { 3, 3, 1, 1, 1 }, { 3, 3, 2, 1, 1 }, { 3, 2, 1, 0, 1 } };
  const struct {
    FwShape in;
    int n;
  } inputs[] = {
    { { 3, 9, 8 }, 3 },
    { { 3, 9, 8 }, 150 },   /* several groups of samples, the last one partial */
    { { 3, 17, 16 }, 2 },   /* wide planes: 1x1 convolutions run without unfolding */
    { { 3, 40, 41 }, 2 },   /* large planes: one sample per group of columns */
  };
  FwRng rng;
  fw_rng_init (&rng, 3);
  for (gsize t = 0; t < G_N_ELEMENTS (inputs); t++)
  for (gsize c = 0; c < G_N_ELEMENTS (cfg); c++)
    {
      FwShape in = inputs[t].in;
      int n = inputs[t].n;
      g_autofree float *x = g_new (float, n * fw_shape_size (in));
      fw_test_fill_uniform (x, n * fw_shape_size (in), -1, 1, &rng);
      int out = cfg[c][0], k = cfg[c][1], s = cfg[c][2], p = cfg[c][3];
      gboolean dw = cfg[c][4];
      g_autofree char *spec = dw ? g_strdup_printf ("dwconv:%d:%d:%d", k, s, p)
                                 : g_strdup_printf ("conv:%d:%d:%d:%d", out, k, s, p);
      g_autoptr (GError) error = NULL;
      g_autoptr (FwModel) m = fw_model_new (NULL, spec, in, &error);
      g_assert_no_error (error);
      fw_model_init (m, 100 + c);
      const FwLayer *l = m->layers[0];
      int oh = (in.h + 2 * p - k) / s + 1, ow = (in.w + 2 * p - k) / s + 1;
      g_assert_cmpint (l->out.c, ==, out);
      g_assert_cmpint (l->out.h, ==, oh);
      g_assert_cmpint (l->out.w, ==, ow);
      gsize ny = (gsize) n * out * oh * ow;
      g_autofree float *ref = g_new (float, ny);
      gsize nwt = (gsize) out * (dw ? 1 : in.c) * k * k;
      naive_conv (x, l->w, l->w + nwt, ref, n, in, out, k, s, p, dw);
      const float *y = fw_model_forward (m, x, n, FALSE);
      double err = fw_test_max_rel_err (y, ref, ny, 1.0);
      g_test_message ("%s on %dx%dx%d, batch %d: max error %.3g", spec, in.c, in.h, in.w, n,
                      err);
      g_assert_cmpfloat (err, <, 1e-5);
      /* train mode computes the same values */
      y = fw_model_forward (m, x, n, TRUE);
      g_assert_cmpfloat (fw_test_max_rel_err (y, ref, ny, 1.0), <, 1e-5);
    }
}

static void
test_maxpool_forward_matches_naive (void)
{
  const int cfg[][2] = { { 2, 2 }, { 3, 2 }, { 2, 1 }, { 3, 3 } };
  FwShape in = { 2, 7, 8 };
  int n = 2;
  FwRng rng;
  fw_rng_init (&rng, 4);
  gsize nx = n * fw_shape_size (in);
  g_autofree float *x = g_new (float, nx);
  fw_test_fill_uniform (x, nx, -1, 1, &rng);
  for (gsize c = 0; c < G_N_ELEMENTS (cfg); c++)
    for (int avg = 0; avg < 2; avg++)
      {
        int k = cfg[c][0], s = cfg[c][1];
        g_autofree char *spec = g_strdup_printf ("%s:%d:%d", avg ? "avgpool" : "maxpool", k, s);
        g_autoptr (GError) error = NULL;
        g_autoptr (FwModel) m = fw_model_new (NULL, spec, in, &error);
        g_assert_no_error (error);
        int oh = (in.h - k) / s + 1, ow = (in.w - k) / s + 1;
        g_assert_cmpint (m->layers[0]->out.h, ==, oh);
        g_assert_cmpint (m->layers[0]->out.w, ==, ow);
        const float *y = fw_model_forward (m, x, n, TRUE);
        for (int j = 0; j < n; j++)
          for (int ch = 0; ch < in.c; ch++)
            for (int a = 0; a < oh; a++)
              for (int b = 0; b < ow; b++)
                {
                  double best = -INFINITY, sum = 0;
                  for (int ki = 0; ki < k; ki++)
                    for (int kj = 0; kj < k; kj++)
                      {
                        float v = x[(((gsize) j * in.c + ch) * in.h + a * s + ki) * in.w
                                    + b * s + kj];
                        best = MAX (best, v);
                        sum += v;
                      }
                  double want = avg ? sum / (k * k) : best;
                  float got = y[(((gsize) j * in.c + ch) * oh + a) * ow + b];
                  g_assert_cmpfloat (fabs (got - want), <, 1e-6);
                }
      }
}

/* maxpool routes the whole gradient to the window's maximum: with dL/dy = 1 everywhere
 * and non-overlapping windows, dx is 1 exactly at the maxima and 0 elsewhere. */
static void
test_maxpool_backward_routes_to_max (void)
{
  FwShape in = { 1, 4, 4 };
  const float x[16] = { 1, 5, 2, 0,
                        3, 4, 9, 1,
                        0, 0, 1, 2,
                        -1, 7, 3, 8 };
  const float want[16] = { 0, 1, 0, 0,
                           0, 0, 1, 0,
                           0, 0, 0, 0,
                           0, 1, 0, 1 };
  g_autoptr (GError) error = NULL;
  /* a 1x1 conv with weight 1 and bias 0 is the identity; having parameters, it makes the model
   * compute maxpool's dx */
  g_autoptr (FwModel) q = fw_model_new (NULL, "conv:1:1,maxpool:2", in, &error);
  g_assert_no_error (error);
  q->params[0] = 1.0f; /* weight */
  q->params[1] = 0.0f; /* bias */
  fw_model_forward (q, x, 1, TRUE);
  const float dy[4] = { 1, 1, 1, 1 };
  fw_model_backward (q, dy, 1);
  const float *dx = q->dact[0]; /* dL/d(output of the conv) = dL/d(input of maxpool) */
  for (int i = 0; i < 16; i++)
    g_assert_cmpfloat (dx[i], ==, want[i]);
}

/* The gradient of a batch is the sum of its samples' gradients (no batch statistics here),
 * and each sample's dx depends on that sample only: checks the grouping of samples in conv. */
static void
test_batch_gradient_is_sum_over_samples (void)
{
  const struct {
    const char *spec;
    FwShape in;
  } cases[] = {
    { "conv:3:3:1:1,conv:4:3:2:1,flatten,dense:3", { 2, 17, 16 } },
    { "conv:3:1,conv:4:1,dwconv:3:1:1,fire:2:3,flatten,dense:3", { 2, 17, 16 } },
    { "conv:3:1,dwsep:4:2,maxpool:2,flatten,dense:3", { 2, 17, 16 } },
    /* a large plane: one sample per group of columns */
    { "conv:2:1,conv:3:3:1:1,gap,dense:3", { 2, 40, 36 } },
  };
  int n = 150;
  for (gsize s = 0; s < G_N_ELEMENTS (cases); s++)
    {
      const char *spec = cases[s].spec;
      FwShape in = cases[s].in;
      g_autoptr (GError) error = NULL;
      g_autoptr (FwModel) m = fw_model_new (NULL, spec, in, &error);
      g_assert_no_error (error);
      fw_model_init (m, 7);
      FwRng rng;
      fw_rng_init (&rng, 8);
      gsize sx = fw_shape_size (in), sx1 = fw_shape_size (m->layers[0]->out);
      g_autofree float *x = g_new (float, n * sx), *r = g_new (float, n * 3);
      fw_test_fill_uniform (x, n * sx, -1, 1, &rng);
      fw_test_fill_uniform (r, n * 3, -1, 1, &rng);
      /* whole batch */
      fw_model_forward (m, x, n, TRUE);
      fw_model_backward (m, r, n);
      g_autofree float *g_all = g_memdup2 (m->grads, sizeof (float) * m->n_params);
      g_autofree float *dx_all = g_memdup2 (m->dact[0], sizeof (float) * n * sx1);
      /* in three uneven pieces */
      g_autofree float *g_sum = g_new0 (float, m->n_params);
      g_autofree float *dx_cat = g_new0 (float, n * sx1);
      const int cuts[] = { 0, 1, 67, n };
      for (int p = 0; p < 3; p++)
        {
          int a = cuts[p], b = cuts[p + 1];
          fw_model_forward (m, x + a * sx, b - a, TRUE);
          fw_model_backward (m, r + a * 3, b - a);
          for (gsize i = 0; i < m->n_params; i++)
            g_sum[i] += m->grads[i];
          memcpy (dx_cat + a * sx1, m->dact[0], sizeof (float) * (b - a) * sx1);
        }
      double eg = fw_test_max_rel_err (g_all, g_sum, m->n_params, 1.0);
      double ex = fw_test_max_rel_err (dx_all, dx_cat, n * sx1, 1e-3);
      g_test_message ("%s: gradient %.3g, dx %.3g", spec, eg, ex);
      g_assert_cmpfloat (eg, <, 1e-4);
      g_assert_cmpfloat (ex, <, 1e-4);
    }
}

/* ---- dropout ---- */

static void
test_dropout_train_and_eval (void)
{
  FwShape in = { 1, 100, 100 };
  gsize m_in = fw_shape_size (in);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new (NULL, "flatten,dropout:0.5", in, &error);
  g_assert_no_error (error);
  fw_model_init (m, 1);
  g_autofree float *x = g_new (float, m_in);
  FwRng rng;
  fw_rng_init (&rng, 9);
  fw_test_fill_uniform (x, m_in, 0.5f, 1.5f, &rng);
  const float *y = fw_model_forward (m, x, 1, TRUE);
  gsize zeros = 0;
  for (gsize i = 0; i < m_in; i++)
    {
      if (y[i] == 0.0f)
        zeros++;
      else
        g_assert_cmpfloat (y[i], ==, 2.0f * x[i]); /* kept values scaled by 1 / (1 - p) */
    }
  /* Binomial(10000, 0.5): sd 50, allow 6 sd */
  g_assert_cmpuint (zeros, >, 5000 - 300);
  g_assert_cmpuint (zeros, <, 5000 + 300);
  /* backward: the same mask */
  g_autofree float *dy = g_new (float, m_in);
  for (gsize i = 0; i < m_in; i++)
    dy[i] = 1.0f;
  /* a model without parameters propagates nothing (no layer needs a gradient), so drive the
   * dropout layer's backward directly */
  g_autofree float *dx = g_new (float, m_in);
  FwLayer *drop = m->layers[1];
  drop->klass->backward (drop, m->act[0], y, dy, dx, 1);
  for (gsize i = 0; i < m_in; i++)
    g_assert_cmpfloat (dx[i], ==, y[i] == 0.0f ? 0.0f : 2.0f);
  /* eval: identity */
  y = fw_model_forward (m, x, 1, FALSE);
  for (gsize i = 0; i < m_in; i++)
    g_assert_cmpfloat (y[i], ==, x[i]);
}

/* ---- batch normalisation ---- */

static void
test_bn_eval_uses_running_stats (void)
{
  FwShape in = { 3, 2, 5 };
  int n = 4, C = 3, hw = 10;
  gsize sz = (gsize) n * fw_shape_size (in);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new (NULL, "bn", in, &error);
  g_assert_no_error (error);
  fw_model_init (m, 1);
  FwLayer *l = m->layers[0];
  g_assert_cmpuint (l->n_w, ==, 2 * C);
  g_assert_cmpuint (l->n_st, ==, 2 * C);
  for (int c = 0; c < C; c++)
    {
      g_assert_cmpfloat (l->w[c], ==, 1.0f);
      g_assert_cmpfloat (l->w[C + c], ==, 0.0f);
      g_assert_cmpfloat (l->st[c], ==, 0.0f);
      g_assert_cmpfloat (l->st[C + c], ==, 1.0f);
    }
  FwRng rng;
  fw_rng_init (&rng, 21);
  g_autofree float *x = g_new (float, sz), *x2 = g_new (float, sz);
  /* channel c has mean around c and spread 1 + c */
  for (int j = 0; j < n; j++)
    for (int c = 0; c < C; c++)
      for (int i = 0; i < hw; i++)
        {
          gsize at = ((gsize) j * C + c) * hw + i;
          x[at] = c + (1 + c) * (2.0f * (float) fw_rng_uniform (&rng) - 1.0f);
          x2[at] = 3.0f * (2.0f * (float) fw_rng_uniform (&rng) - 1.0f);
        }
  /* non-trivial affine parameters */
  for (int c = 0; c < C; c++)
    {
      l->w[c] = 0.5f + c;
      l->w[C + c] = -1.0f + c;
    }
  const float *y = fw_model_forward (m, x, n, TRUE);
  double mean[3], var[3];
  for (int c = 0; c < C; c++)
    {
      double s = 0, ss = 0, ys = 0, yss = 0;
      for (int j = 0; j < n; j++)
        for (int i = 0; i < hw; i++)
          {
            gsize at = ((gsize) j * C + c) * hw + i;
            s += x[at];
            ys += y[at];
          }
      mean[c] = s / (n * hw);
      double ymean = ys / (n * hw);
      for (int j = 0; j < n; j++)
        for (int i = 0; i < hw; i++)
          {
            gsize at = ((gsize) j * C + c) * hw + i;
            ss += (x[at] - mean[c]) * (x[at] - mean[c]);
            yss += (y[at] - ymean) * (y[at] - ymean);
          }
      var[c] = ss / (n * hw);
      /* train output: per channel mean beta, variance gamma^2 var / (var + eps) */
      g_assert_cmpfloat (fabs (ymean - l->w[C + c]), <, 1e-5);
      double want_var = l->w[c] * l->w[c] * var[c] / (var[c] + 1e-5);
      g_assert_cmpfloat (fabs (yss / (n * hw) - want_var), <, 1e-4 * want_var);
      /* running = 0.9 initial + 0.1 batch, variance unbiased */
      double rm = 0.1 * mean[c], rv = 0.9 + 0.1 * ss / (n * hw - 1);
      g_assert_cmpfloat (fabs (l->st[c] - rm), <, 1e-6);
      g_assert_cmpfloat (fabs (l->st[C + c] - rv), <, 1e-5);
    }
  /* eval: the running statistics, not x2's */
  y = fw_model_forward (m, x2, n, FALSE);
  for (int j = 0; j < n; j++)
    for (int c = 0; c < C; c++)
      for (int i = 0; i < hw; i++)
        {
          gsize at = ((gsize) j * C + c) * hw + i;
          double rm = 0.1 * mean[c], rv = 0.9 + 0.1 * var[c] * (n * hw) / (n * hw - 1);
          double want = (x2[at] - rm) / sqrt (rv + 1e-5) * l->w[c] + l->w[C + c];
          g_assert_cmpfloat (fabs (y[at] - want), <, 1e-5 * (1 + fabs (want)));
        }
  /* eval mode leaves the running statistics alone */
  float keep = l->st[0];
  fw_model_forward (m, x, n, FALSE);
  g_assert_cmpfloat (l->st[0], ==, keep);
}

/* ---- named architectures ---- */

static gsize
conv_params (int in, int out, int k)
{
  return (gsize) out * in * k * k + out;
}

static gsize
dense_params (int in, int out)
{
  return (gsize) out * in + out;
}

static void
test_arch_param_counts (void)
{
  FwShape in = { 1, 28, 28 };
  /* closed forms, by hand */
  gsize mlp = dense_params (784, 256) + dense_params (256, 128) + dense_params (128, 10);
  g_assert_cmpuint (mlp, ==, 235146);
  gsize lenet = conv_params (1, 6, 5) + conv_params (6, 16, 5) + dense_params (256, 120)
                + dense_params (120, 84) + dense_params (84, 10);
  g_assert_cmpuint (lenet, ==, 44426);
  gsize cnn = conv_params (1, 32, 3) + conv_params (32, 64, 3) + dense_params (3136, 128)
              + dense_params (128, 10);
  /* mobilenet-tiny: conv 1->16 (28x28), bn(16): 2x16 trainable + 2x16 running stats,
   * dwsep 16->32 s2 (14x14), 32->64 s2 (7x7), 64->64: depthwise 3x3 + pointwise 1x1 each */
  gsize dwsep1 = (16 * 9 + 16) + conv_params (16, 32, 1);
  gsize dwsep2 = (32 * 9 + 32) + conv_params (32, 64, 1);
  gsize dwsep3 = (64 * 9 + 64) + conv_params (64, 64, 1);
  gsize mobile_w = conv_params (1, 16, 3) + 2 * 16 + dwsep1 + dwsep2 + dwsep3
                   + dense_params (64, 10);
  gsize mobile_st = 2 * 16;
  /* squeezenet-tiny: conv 1->32, pool, fire(8,32) on 32, fire(8,32) on 64, pool,
   * fire(16,64) on 64 -> 128 channels, gap, dense 128->10 */
#define FIRE(c, s, e) (conv_params (c, s, 1) + conv_params (s, e, 1) + conv_params (s, e, 3))
  gsize squeeze = conv_params (1, 32, 3) + FIRE (32, 8, 32) + FIRE (64, 8, 32)
                  + FIRE (64, 16, 64) + dense_params (128, 10);
#undef FIRE
  /* efficientnet-tiny: conv 1->16, bn, relu, mbconv 16->16 (x2), 16->24 (x4, s2),
   * 24->32 (x4, s2), gap, dense 32->10; an mbconv on C channels expanding to E = x C with
   * squeeze-excitation R = E / 4: expand 1x1, depthwise 3x3, project 1x1, two dense SE layers */
#define MB(c, out, x) (conv_params (c, (x) * (c), 1) + 10 * (x) * (c) \
                       + conv_params ((x) * (c), out, 1) + 2 * ((x) * (c) / 4) * (x) * (c) \
                       + ((x) * (c) / 4) + (x) * (c))
  gsize effnet = conv_params (1, 16, 3) + 2 * 16 + MB (16, 16, 2) + MB (16, 24, 4)
                 + MB (24, 32, 4) + dense_params (32, 10);
#undef MB
  const struct {
    const char *arch;
    gsize n_w, n_st;
    FwShape last_conv_out; /* output of the layer before flatten/gap (c = 0: not checked) */
    int at;
  } cases[] = {
    { "mlp", mlp, 0, { 0 }, 0 },
    { "lenet5", lenet, 0, { 16, 4, 4 }, 5 },
    { "cnn-small", cnn, 0, { 64, 7, 7 }, 5 },
    { "mobilenet-tiny", mobile_w, mobile_st, { 64, 7, 7 }, 5 },
    { "squeezenet-tiny", squeeze, 0, { 128, 7, 7 }, 6 },
    { "efficientnet-tiny", effnet, 2 * 16, { 32, 7, 7 }, 5 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *spec = fw_model_arch_spec (cases[i].arch, NULL, in, 10, &error);
      g_assert_no_error (error);
      g_autoptr (FwModel) m = fw_model_new (cases[i].arch, spec, in, &error);
      g_assert_no_error (error);
      g_test_message ("%s: %" G_GSIZE_FORMAT " + %" G_GSIZE_FORMAT " parameters",
                      cases[i].arch, m->n_params, m->n_state);
      g_assert_cmpint (m->n_classes, ==, 10);
      g_assert_cmpuint (m->n_params, ==, cases[i].n_w);
      g_assert_cmpuint (m->n_state, ==, cases[i].n_st);
      g_assert_cmpuint (fw_model_param_count (m), ==, cases[i].n_w + cases[i].n_st);
      if (cases[i].last_conv_out.c > 0)
        {
          FwShape s = m->layers[cases[i].at]->out;
          g_assert_cmpint (s.c, ==, cases[i].last_conv_out.c);
          g_assert_cmpint (s.h, ==, cases[i].last_conv_out.h);
          g_assert_cmpint (s.w, ==, cases[i].last_conv_out.w);
        }
      /* a forward pass runs and gives finite logits */
      fw_model_init (m, 1);
      g_autofree float *x = g_new0 (float, 2 * 28 * 28);
      for (int k = 0; k < 2 * 28 * 28; k++)
        x[k] = (float) ((k * 37) % 101) / 101.0f;
      const float *z = fw_model_forward (m, x, 2, TRUE);
      for (int k = 0; k < 20; k++)
        g_assert_true (isfinite (z[k]));
      /* and a backward pass gives finite gradients, not all zero */
      float dz[20];
      for (int k = 0; k < 20; k++)
        dz[k] = (k % 3) - 1.0f;
      fw_model_backward (m, dz, 2);
      g_assert_cmpint (fw_model_find_nonfinite (m, TRUE), ==, -1);
      double gsum = 0;
      for (gsize k = 0; k < m->n_params; k++)
        gsum += fabs (m->grads[k]);
      g_assert_cmpfloat (gsum, >, 0);
    }
}

static void
test_flops_closed_form (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new ("lenet5", "conv:6:5,relu,maxpool:2,conv:16:5:1:1,"
                                        "flatten,dense:120,conv:7:1", (FwShape) { 1, 28, 28 },
                                        &error);
  g_assert_no_error (error);
  const FwLayer *c1 = m->layers[0], *c2 = m->layers[3], *d = m->layers[5], *pw = m->layers[6];
  /* 2 per multiply-add: out channels x output pixels x (in channels x k x k) */
  g_assert_cmpfloat (c1->klass->flops (c1), ==, 2.0 * 6 * 24 * 24 * (1 * 5 * 5));
  g_assert_cmpint (c2->out.h, ==, 10);
  g_assert_cmpfloat (c2->klass->flops (c2), ==, 2.0 * 16 * 10 * 10 * (6 * 5 * 5));
  g_assert_cmpfloat (d->klass->flops (d), ==, 2.0 * 1600 * 120);
  g_assert_cmpfloat (pw->klass->flops (pw), ==, 2.0 * 7 * 120);
}

/* The tensors of each kind by name and shape, as serialization and the UI see them. */
static void
test_tensor_names_and_shapes (void)
{
  const struct {
    const char *spec;
    FwShape in;
    const char *names;   /* "name:d0xd1..." separated by spaces */
  } cases[] = {
    { "conv:4:3:2:1", { 3, 8, 8 }, "weight:4x3x3x3 bias:4" },
    { "dwconv:3:2:1", { 3, 8, 8 }, "weight:3x1x3x3 bias:3" },
    { "bn", { 3, 8, 8 }, "gamma:3 beta:3 running_mean:3 running_var:3" },
    { "dwsep:5:2", { 3, 8, 8 }, "dw.weight:3x1x3x3 dw.bias:3 pw.weight:5x3x1x1 pw.bias:5" },
    { "fire:2:4", { 3, 8, 8 }, "squeeze.weight:2x3x1x1 squeeze.bias:2 expand1.weight:4x2x1x1 "
                               "expand1.bias:4 expand3.weight:4x2x3x3 expand3.bias:4" },
    { "maxpool:2", { 3, 8, 8 }, "" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (FwModel) m = fw_model_new (NULL, cases[i].spec, cases[i].in, &error);
      g_assert_no_error (error);
      const FwLayer *l = m->layers[0];
      FwTensorInfo t[FW_LAYER_MAX_TENSORS];
      int nt = l->klass->tensors (l, t);
      g_autoptr (GString) got = g_string_new (NULL);
      for (int k = 0; k < nt; k++)
        {
          g_string_append_printf (got, "%s%s:", k > 0 ? " " : "", t[k].name);
          for (int d = 0; d < t[k].ndim; d++)
            g_string_append_printf (got, "%s%d", d > 0 ? "x" : "", t[k].dims[d]);
        }
      g_assert_cmpstr (got->str, ==, cases[i].names);
    }
}

static void
test_bad_specs_are_errors (void)
{
  const struct {
    const char *spec;
    FwShape in;
  } bad[] = {
    { "conv:0:3", { 1, 8, 8 } },
    { "conv:4", { 1, 8, 8 } },
    { "conv:4:x", { 1, 8, 8 } },
    { "conv:4:3:0", { 1, 8, 8 } },
    { "conv:4:3:1:-1", { 1, 8, 8 } },
    { "conv:4:3:1:1:9", { 1, 8, 8 } },
    { "conv:8:5", { 1, 3, 3 } },
    { "maxpool", { 1, 8, 8 } },
    { "maxpool:0", { 1, 8, 8 } },
    { "maxpool:9", { 1, 8, 8 } },
    { "avgpool:2:0", { 1, 8, 8 } },
    { "dwconv", { 2, 8, 8 } },
    { "dwsep", { 2, 8, 8 } },
    { "dwsep:0", { 2, 8, 8 } },
    { "fire:8", { 2, 8, 8 } },
    { "fire:0:4", { 2, 8, 8 } },
    { "maxpool:2:2:2", { 1, 8, 8 } },
    { "gap:1", { 1, 8, 8 } },
    { "bn:0.1", { 1, 8, 8 } },
    { "dwconv:3:1:1:1", { 2, 8, 8 } },
    { "dwsep:4:1:1", { 2, 8, 8 } },
    { "fire:2:3:4", { 2, 8, 8 } },
    { "nonsense", { 1, 8, 8 } },
    { "conv:4:3,,dense:2", { 1, 8, 8 } },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      FwModel *m = fw_model_new (NULL, bad[i].spec, bad[i].in, &error);
      g_assert_null (m);
      g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
      g_assert_nonnull (error->message);
      g_test_message ("'%s': %s", bad[i].spec, error->message);
    }
}

/* ---- conv backward against naive loops (covers the Winograd path of 3x3 "same"
 * convolutions between many channels, and the im2col paths) ---- */

/* dW[o][c][ki][kj] = sum_{j,oh,ow} dy[j][o][oh][ow] x[j][c][oh s + ki - p][ow s + kj - p],
 * db[o] = sum dy[j][o], dx[j][c][ih][iw] = sum of w[o][c][ki][kj] dy[j][o][oh][ow] over the
 * (o, ki, kj, oh, ow) that read x[j][c][ih][iw]; all in double. */
static void
naive_conv_backward (const float *x, const float *w, const float *dy, double *gw, double *gb,
                     double *dx, int n, FwShape in, int out, int k, int s, int p)
{
  int oh_n = (in.h + 2 * p - k) / s + 1, ow_n = (in.w + 2 * p - k) / s + 1;
  memset (gw, 0, sizeof (double) * out * in.c * k * k);
  memset (gb, 0, sizeof (double) * out);
  memset (dx, 0, sizeof (double) * n * fw_shape_size (in));
  for (int j = 0; j < n; j++)
    for (int o = 0; o < out; o++)
      for (int oh = 0; oh < oh_n; oh++)
        for (int ow = 0; ow < ow_n; ow++)
          {
            double g = dy[(((gsize) j * out + o) * oh_n + oh) * ow_n + ow];
            gb[o] += g;
            for (int c = 0; c < in.c; c++)
              for (int ki = 0; ki < k; ki++)
                for (int kj = 0; kj < k; kj++)
                  {
                    int ih = oh * s + ki - p, iw = ow * s + kj - p;
                    if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w)
                      continue;
                    gsize xi = (((gsize) j * in.c + c) * in.h + ih) * in.w + iw;
                    gsize wi = (((gsize) o * in.c + c) * k + ki) * k + kj;
                    gw[wi] += g * x[xi];
                    dx[xi] += g * w[wi];
                  }
          }
}

/* max |a - b| over max(max |b|, 1e-3): errors relative to the tensor's scale */
static double
scaled_err (const float *a, const double *b, gsize m)
{
  double mb = 1e-3, e = 0;
  for (gsize i = 0; i < m; i++)
    mb = MAX (mb, fabs (b[i]));
  for (gsize i = 0; i < m; i++)
    {
      double d = fabs ((double) a[i] - b[i]);
      if (!(d <= e))
        e = isnan (d) ? INFINITY : d;
    }
  return e / mb;
}

static void
conv_backward_matches_naive (void)
{
  /* C, H, W, OUT, k, s, p, n */
  const int cfg[][8] = {
    { 8, 6, 6, 8, 3, 1, 1, 8 },      /* Winograd (batches of 8 or more), even plane */
    { 9, 7, 5, 11, 3, 1, 1, 9 },     /* Winograd, odd sides: partial tiles */
    { 16, 14, 14, 12, 3, 1, 1, 37 }, /* Winograd, several groups, the last one partial */
    { 8, 1, 1, 8, 3, 1, 1, 8 },      /* Winograd, a 1x1 plane (one tile, mostly padding) */
    { 8, 6, 6, 8, 3, 1, 1, 7 },      /* the same shape below 8 samples: im2col */
    { 32, 14, 14, 64, 3, 1, 1, 8 },  /* cnn-small's second convolution */
    { 3, 9, 8, 4, 3, 1, 1, 3 },      /* few channels: im2col */
    { 6, 12, 12, 16, 5, 1, 0, 5 },   /* LeNet's second convolution */
    { 1, 28, 28, 6, 5, 1, 0, 2 },    /* LeNet's first */
    { 1, 28, 28, 32, 3, 1, 1, 2 },   /* cnn-small's first */
    { 4, 9, 8, 5, 3, 2, 1, 3 },      /* strided */
  };
  FwRng rng;
  fw_rng_init (&rng, 21);
  for (gsize t = 0; t < G_N_ELEMENTS (cfg); t++)
    {
      FwShape in = { cfg[t][0], cfg[t][1], cfg[t][2] };
      int out = cfg[t][3], k = cfg[t][4], s = cfg[t][5], p = cfg[t][6], n = cfg[t][7];
      g_autofree char *spec = g_strdup_printf ("conv:%d:%d:%d:%d", out, k, s, p);
      g_autoptr (GError) error = NULL;
      g_autoptr (FwModel) m = fw_model_new (NULL, spec, in, &error);
      g_assert_no_error (error);
      fw_model_init (m, 200 + t);
      fw_model_reserve (m, n);
      FwLayer *l = m->layers[0];
      /* a non-zero bias, so that forward checks it too */
      gsize nwt = (gsize) out * in.c * k * k;
      fw_test_fill_uniform (l->w + nwt, out, -1, 1, &rng);
      gsize nx = (gsize) n * fw_shape_size (in), ny = (gsize) n * fw_shape_size (l->out);
      g_autofree float *x = g_new (float, nx), *y = g_new (float, ny), *ref = g_new (float, ny);
      g_autofree float *dy = g_new (float, ny), *dx = g_new (float, nx);
      g_autofree double *gw = g_new (double, nwt), *gb = g_new (double, out);
      g_autofree double *dxr = g_new (double, nx);
      fw_test_fill_uniform (x, nx, -1, 1, &rng);
      fw_test_fill_uniform (dy, ny, -1, 1, &rng);
      l->klass->forward (l, x, y, n, TRUE);
      naive_conv (x, l->w, l->w + nwt, ref, n, in, out, k, s, p, FALSE);
      double ey = fw_test_max_rel_err (y, ref, ny, 1.0);
      l->klass->backward (l, x, y, dy, dx, n);
      naive_conv_backward (x, l->w, dy, gw, gb, dxr, n, in, out, k, s, p);
      double ew = scaled_err (l->gw, gw, nwt), eb = scaled_err (l->gw + nwt, gb, out);
      double ex = scaled_err (dx, dxr, nx);
      /* without dx (a first layer): the same weight gradient */
      g_autofree float *gw1 = g_memdup2 (l->gw, sizeof (float) * l->n_w);
      l->klass->backward (l, x, y, dy, NULL, n);
      double e1 = fw_test_max_rel_err (l->gw, gw1, l->n_w, 1e-6);
      g_test_message ("%s on %dx%dx%d, batch %d: y %.3g, dW %.3g, db %.3g, dx %.3g, "
                      "dW without dx %.3g", spec, in.c, in.h, in.w, n, ey, ew, eb, ex, e1);
      /* float sums of up to a few thousand terms of size ~1 against double: errors of a few
       * 1e-7 relative to the tensor's largest entry (Winograd's transforms add a factor of
       * a few: worst seen 1e-6); a wrong tap or a dropped tile is an error of order 1e-2 */
      g_assert_cmpfloat (ey, <, 1e-5);
      g_assert_cmpfloat (ew, <, 1e-5);
      g_assert_cmpfloat (eb, <, 1e-5);
      g_assert_cmpfloat (ex, <, 1e-5);
      g_assert_cmpfloat (e1, ==, 0.0);
    }
}

static void
test_conv_backward_matches_naive (void)
{
  conv_backward_matches_naive ();
}

/* The same with the plain C kernels (what runs on a CPU without AVX2 / FMA): in a child
 * process, where FW_NO_AVX2 is set before the kernels first look at the CPU. */
static void
test_conv_generic_kernels_match_naive (void)
{
  if (g_test_subprocess ())
    {
      g_setenv ("FW_NO_AVX2", "1", TRUE);
      g_assert_false (fw_kernels_have_avx2 ());
      conv_backward_matches_naive ();
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (grad_cases); i++)
    {
      g_autofree char *p = g_strdup_printf ("/Layer/%s/backward_matches_finite_differences",
                                            grad_cases[i].name);
      g_test_add_data_func (p, &grad_cases[i], test_gradcheck);
      g_autofree char *q = g_strdup_printf ("/Layer/%s/tensors_cover_parameters_and_spec_rebuilds",
                                            grad_cases[i].name);
      g_test_add_data_func (q, &grad_cases[i], test_tensors_and_spec);
    }
  g_test_add_func ("/Layer/conv/forward_matches_naive_loops", test_conv_forward_matches_naive);
  g_test_add_func ("/Layer/conv/batch_gradient_is_sum_over_samples",
                   test_batch_gradient_is_sum_over_samples);
  g_test_add_func ("/Layer/pool/forward_matches_naive_loops", test_maxpool_forward_matches_naive);
  g_test_add_func ("/Layer/maxpool/backward_routes_to_max", test_maxpool_backward_routes_to_max);
  g_test_add_func ("/Layer/dropout/halves_in_train_identity_in_eval",
                   test_dropout_train_and_eval);
  g_test_add_func ("/Layer/bn/eval_uses_running_stats", test_bn_eval_uses_running_stats);
  g_test_add_func ("/Layer/arch/param_counts_match_closed_forms", test_arch_param_counts);
  g_test_add_func ("/Layer/flops/match_closed_forms", test_flops_closed_form);
  g_test_add_func ("/Layer/tensors/names_and_shapes", test_tensor_names_and_shapes);
  g_test_add_func ("/Layer/spec/bad_specs_are_errors", test_bad_specs_are_errors);
  g_test_add_func ("/Layer/conv/backward_matches_naive_loops",
                   test_conv_backward_matches_naive);
  g_test_add_func ("/Layer/conv/generic_kernels_match_naive_loops",
                   test_conv_generic_kernels_match_naive);
  return g_test_run ();
}
