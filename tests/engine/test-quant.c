/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-quant.c: fp16 and int8 against their closed forms, the int8 kernel against a naive
 * integer product, the int8 layers against double-precision float layers over the dequantized
 * values, file sizes on disk, ternary / binary quantizers and the straight-through estimator. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-loss.h"
#include "fw-layer-quant.h"
#include "fw-quant.h"
#include "fw-safetensors.h"
#include "fw-test-util.h"

/* ---- fp16 ---- */

/* binary16 by its definition: (-1)^s 2^(e - 15) (1 + m / 1024), subnormal m 2^-24 */
static double
half_value (guint16 h)
{
  int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? ldexp (m, -24) : ldexp (1.0 + m / 1024.0, e - 15);
  return s ? -v : v;
}

static void
test_f16_closed_form (void)
{
  /* every finite half decodes to its defined value and encodes back to itself */
  for (guint32 h = 0; h < 65536; h++)
    {
      if (((h >> 10) & 31) == 31)
        continue;
      float f = fw_f16_to_f32 ((guint16) h);
      g_assert_cmpfloat (f, ==, (float) half_value ((guint16) h));
      guint16 back = fw_f16_from_f32 (f);
      g_assert_cmpuint (back, ==, h);
    }
  g_assert_true (isinf (fw_f16_to_f32 (0x7c00)) && fw_f16_to_f32 (0x7c00) > 0);
  g_assert_true (isnan (fw_f16_to_f32 (fw_f16_from_f32 (NAN))));
  g_assert_cmpuint (fw_f16_from_f32 (1e6f), ==, 0x7c00);
  g_assert_cmpuint (fw_f16_from_f32 (-1e6f), ==, 0xfc00);
  /* random floats over the whole half range: the result is the nearest half, ties to even */
  FwRng rng;
  fw_rng_init (&rng, 16);
  for (int i = 0; i < 200000; i++)
    {
      float x = (float) ldexp (fw_rng_uniform (&rng) * 2 - 1, (int) fw_rng_below (&rng, 42) - 26);
      if (i % 1000 == 0) /* exact midpoints between neighbours */
        {
          guint16 a = (guint16) fw_rng_below (&rng, 0x7bff);
          x = (float) ((half_value (a) + half_value (a + 1)) / 2);
        }
      guint16 h = fw_f16_from_f32 (x);
      double err = fabs (x - half_value (h));
      guint16 mag = h & 0x7fff, sign = h & 0x8000;
      if (mag > 0)
        g_assert_cmpfloat (err, <=, fabs (x - half_value (sign | (mag - 1))));
      if (mag < 0x7bff)
        g_assert_cmpfloat (err, <=, fabs (x - half_value (sign | (mag + 1))));
      if (mag > 0 && mag < 0x7bff
          && (err == fabs (x - half_value (sign | (mag - 1)))
              || err == fabs (x - half_value (sign | (mag + 1)))) && err > 0)
        g_assert_cmpuint (h & 1, ==, 0); /* a tie went to the even neighbour */
#ifdef __FLT16_MAX__
      _Float16 ref = (_Float16) x; /* the compiler's own conversion, an independent check */
      guint16 rb;
      memcpy (&rb, &ref, 2);
      g_assert_cmpuint (h, ==, rb);
#endif
    }
}

/* ---- int8 ---- */

static void
test_int8_closed_form (void)
{
  FwRng rng;
  fw_rng_init (&rng, 8);
  for (int trial = 0; trial < 50; trial++)
    {
      float lo = (float) (-fw_rng_uniform (&rng) * 3), hi = (float) (fw_rng_uniform (&rng) * 5);
      if (trial % 5 == 0)
        {
          lo = 0.25f; /* a range without 0 is widened to contain it */
          hi += lo;
        }
      for (int sym = 0; sym < 2; sym++)
        {
          FwQParams p = fw_qparams_from_range (lo, hi, sym);
          double a = MAX (fabs (lo), fabs (hi));
          double l0 = MIN (lo, 0.0), h0 = MAX (hi, 0.0);
          double want_scale = sym ? a / 127 : (h0 - l0) / 254;
          g_assert_cmpfloat (fabs (p.scale - want_scale), <=, 1e-6 * want_scale);
          if (sym)
            g_assert_cmpint (p.zero, ==, 0);
          else
            g_assert_cmpint (p.zero, ==, (int) lround (-127 - l0 / p.scale));
          /* grid points are exact, and 0 is on the grid */
          for (int q = -127; q <= 127; q++)
            {
              float x = p.scale * (float) (q - p.zero);
              gint8 got;
              fw_quantize_i8 (&x, 1, p, &got);
              g_assert_cmpint (got, ==, q);
            }
          float zero = 0, back;
          gint8 qz;
          fw_quantize_i8 (&zero, 1, p, &qz);
          fw_dequantize_i8 (&qz, 1, p, &back);
          g_assert_cmpfloat (back, ==, 0.0f);
          /* inside the range the error is at most half a step, outside values clamp */
          for (int i = 0; i < 500; i++)
            {
              float x = lo + (hi - lo) * (float) fw_rng_uniform (&rng), y;
              gint8 q;
              fw_quantize_i8 (&x, 1, p, &q);
              fw_dequantize_i8 (&q, 1, p, &y);
              g_assert_cmpfloat (fabs (x - y), <=, 0.5 * p.scale * (1 + 1e-5));
            }
          float big = 100.0f * (hi + 1);
          gint8 q;
          fw_quantize_i8 (&big, 1, p, &q);
          g_assert_cmpint (q, ==, 127);
          big = -big;
          fw_quantize_i8 (&big, 1, p, &q);
          g_assert_cmpint (q, ==, -127);
        }
    }
}

static void
test_kernel_matches_naive (void)
{
  static const int ks[] = { 1, 7, 15, 16, 17, 31, 32, 33, 48, 100, 784 };
  static const int ns[] = { 1, 3, 4, 5, 9, 16 };
  FwRng rng;
  fw_rng_init (&rng, 32);
  for (guint a = 0; a < G_N_ELEMENTS (ks); a++)
    for (guint b = 0; b < G_N_ELEMENTS (ns); b++)
      for (int m = 1; m <= 3; m++)
        {
          int k = ks[a], n = ns[b], lda = k + 3, ldb = k + 1, ldc = n + 2;
          g_autofree gint8 *A = g_new (gint8, (gsize) m * lda);
          g_autofree gint8 *B = g_new (gint8, (gsize) n * ldb);
          for (int i = 0; i < m * lda; i++)
            A[i] = (gint8) ((int) fw_rng_below (&rng, 255) - 127);
          for (int i = 0; i < n * ldb; i++)
            B[i] = (gint8) ((int) fw_rng_below (&rng, 255) - 127);
          if (a == G_N_ELEMENTS (ks) - 1 && m == 1) /* the extremes: -127 * -127 everywhere */
            {
              memset (A, 0x81, (gsize) m * lda);
              memset (B, 0x81, (gsize) n * ldb);
            }
          if (a == G_N_ELEMENTS (ks) - 1 && m == 2) /* -127 * 127 and zeros in A */
            for (int i = 0; i < m * lda; i++)
              {
                A[i] = (gint8) (i % 3 == 0 ? 0 : -127);
                B[i % (n * ldb)] = 127;
              }
          for (int v = 0; v < 2; v++)
            {
              g_autofree gint32 *C = g_new (gint32, (gsize) m * ldc);
              fw_qgemm_i8_variant (v, m, n, k, A, lda, B, ldb, C, ldc);
              for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                  {
                    gint64 s = 0;
                    for (int p = 0; p < k; p++)
                      s += (gint64) A[i * lda + p] * B[j * ldb + p];
                    g_assert_cmpint (C[i * ldc + j], ==, s);
                  }
            }
        }
}

/* ---- the int8 layers ---- */

static FwModel *
random_model (const char *spec, FwShape in, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  FwModel *m = fw_model_new ("custom", spec, in, &error);
  g_assert_no_error (error);
  fw_model_init (m, seed);
  for (gsize i = 0; i < m->n_params; i++) /* biases too, so the bias path is checked */
    if (m->params[i] == 0)
      m->params[i] = 0.01f * (float) ((i % 7) - 3);
  return m;
}

/* A qdense / qconv layer's output against double-precision sums over the dequantized input
 * and weights: y = sum_p deq(q(x))_p deq(w)_p + b. */
static void
check_qlayer (const char *spec, FwShape in, gboolean conv)
{
  static const char *const flags[] = { "pc:sym", "pc:aff", "pt:sym", "pt:aff" };
  g_autoptr (FwModel) f = random_model (spec, in, 3);
  const int n = 3;
  gsize isz = fw_shape_size (in);
  g_autofree float *x = g_new (float, n * isz);
  FwRng rng;
  fw_rng_init (&rng, 5);
  fw_test_fill_uniform (x, n * isz, -0.3f, 1.0f, &rng);
  for (int fi = 0; fi < 4; fi++)
    {
      g_autoptr (GError) error = NULL;
      gboolean pc = fi < 2, sym = fi % 2 == 0;
      g_autoptr (FwModel) q = fw_quant_model_int8 (f, x, n, pc, sym, &error);
      g_assert_no_error (error);
      g_assert_true (g_str_has_suffix (q->spec, flags[fi]));
      const FwLayer *ql = q->layers[0], *fl = f->layers[0];
      g_assert_true (ql->klass == (conv ? &fw_layer_qconv : &fw_layer_qdense));
      FwPackedTensor pt[FW_LAYER_MAX_TENSORS];
      ql->klass->packed (ql, pt);
      const gint8 *wq = pt[0].data, *wz = pt[2].data;
      const float *ws = pt[1].data, *bias = pt[3].data;
      FwQParams pin = { *(const float *) pt[4].data, *(const gint8 *) pt[5].data };
      int nsc = pt[1].dims[0], out = ql->out.c;
      g_assert_cmpint (nsc, ==, pc ? out : 1);
      g_autofree gint8 *xq = g_new (gint8, n * isz);
      g_autofree float *xd = g_new (float, n * isz);
      fw_quantize_i8 (x, n * isz, pin, xq);
      fw_dequantize_i8 (xq, n * isz, pin, xd);
      gsize kin = (gsize) fl->n_w / out - 1;
      g_autofree double *wd = g_new (double, (gsize) out * kin);
      for (int o = 0; o < out; o++)
        for (gsize p = 0; p < kin; p++)
          {
            int sc = nsc > 1 ? o : 0;
            wd[o * kin + p] = (double) ws[sc] * (wq[o * kin + p] - wz[sc]);
            /* and the weights are the float ones within half a step */
            g_assert_cmpfloat (fabs (wd[o * kin + p] - fl->w[o * kin + p]), <=,
                               0.5 * ws[sc] * 1.0001);
          }
      const float *y = fw_model_forward (q, x, n, FALSE);
      const int oh = ql->out.h, ow = ql->out.w;
      const int k = conv ? ql->iarg[1] : 1, s = conv ? ql->iarg[2] : 1, pad = conv ? ql->iarg[3] : 0;
      for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++)
          for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
              {
                double acc = bias[o];
                if (!conv)
                  for (gsize p = 0; p < kin; p++)
                    acc += (double) xd[i * isz + p] * wd[o * kin + p];
                else
                  for (int c = 0; c < in.c; c++)
                    for (int ki = 0; ki < k; ki++)
                      for (int kj = 0; kj < k; kj++)
                        {
                          int iy = oy * s - pad + ki, ix = ox * s - pad + kj;
                          if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w)
                            continue;
                          acc += (double) xd[i * isz + (c * in.h + iy) * in.w + ix]
                                 * wd[o * kin + (c * k + ki) * k + kj];
                        }
                float got = y[((gsize) i * out + o) * oh * ow + oy * ow + ox];
                g_assert_cmpfloat (fabs (got - acc), <=, 1e-4 * (1 + fabs (acc)));
              }
    }
}

static void
test_qdense_matches_dequantized (void)
{
  check_qlayer ("dense:37", (FwShape) { 45, 1, 1 }, FALSE);
}

static void
test_qconv_matches_dequantized (void)
{
  check_qlayer ("conv:5:3:1:1", (FwShape) { 3, 7, 6 }, TRUE);
  check_qlayer ("conv:4:5:2:0", (FwShape) { 2, 11, 9 }, TRUE);
}

/* bytes of the data section of a .safetensors file: size - 8 - header length */
static gsize
file_data_bytes (const char *path, gsize *total)
{
  g_autofree char *buf = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &buf, &len, NULL));
  guint64 hl = 0;
  for (int i = 7; i >= 0; i--)
    hl = (hl << 8) | (guint8) buf[i];
  *total = len;
  return len - 8 - (gsize) hl;
}

static void
test_files_are_smaller (void)
{
  g_autoptr (GError) error = NULL;
  FwShape in = { 1, 8, 8 };
  g_autoptr (FwModel) f = random_model ("conv:4:3:1:1,relu,maxpool:2,flatten,dense:20,relu,"
                                        "dense:10", in, 11);
  const int n = 16;
  g_autofree float *x = g_new (float, n * 64);
  FwRng rng;
  fw_rng_init (&rng, 12);
  fw_test_fill_uniform (x, n * 64, 0, 1, &rng);
  g_autoptr (FwModel) h = fw_quant_model_f16 (f, &error);
  g_assert_no_error (error);
  g_autoptr (FwModel) q = fw_quant_model_int8 (f, x, n, TRUE, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (q->spec, ==, "qconv:4:3:1:1:pc:sym,relu,maxpool:2,flatten,qdense:20:pc:sym,"
                   "relu,qdense:10:pc:sym");
  const char *dir = fw_test_tmpdir ();
  g_autofree char *pf = g_build_filename (dir, "f.safetensors", NULL);
  g_autofree char *ph = g_build_filename (dir, "h.safetensors", NULL);
  g_autofree char *pq = g_build_filename (dir, "q.safetensors", NULL);
  g_assert_true (fw_model_save (f, pf, NULL, &error));
  g_assert_true (fw_model_save (h, ph, NULL, &error));
  g_assert_true (fw_model_save (q, pq, NULL, &error));
  gsize tf, th, tq;
  gsize df = file_data_bytes (pf, &tf), dh = file_data_bytes (ph, &th);
  gsize dq = file_data_bytes (pq, &tq);
  /* float32: 4 bytes a parameter; fp16: 2; int8: 1 a weight + per channel scale (4) and zero
   * (1) + float bias (4) + the input's scale and zero (5) per quantized layer */
  gsize np = f->n_params;
  g_assert_cmpuint (df, ==, 4 * np);
  g_assert_cmpuint (dh, ==, 2 * np);
  gsize want = 0;
  for (int i = 0; i < f->n_layers; i++)
    {
      const FwLayer *l = f->layers[i];
      if (l->n_w == 0)
        continue;
      gsize out = l->out.c, w = l->n_w - out;
      want += w + out * (4 + 1) + out * 4 + 5;
    }
  g_assert_cmpuint (dq, ==, want);
  g_assert_cmpuint (dq, <, df / 3);
  g_assert_cmpuint (tq, <, tf);
  /* loaded models compute what the in-memory ones did */
  g_autoptr (FwModel) h2 = fw_model_load (ph, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwModel) q2 = fw_model_load (pq, NULL, &error);
  g_assert_no_error (error);
  g_autofree float *yh = g_memdup2 (fw_model_forward (h, x, n, FALSE), sizeof (float) * n * 10);
  g_autofree float *yq = g_memdup2 (fw_model_forward (q, x, n, FALSE), sizeof (float) * n * 10);
  g_autofree float *yf = g_memdup2 (fw_model_forward (f, x, n, FALSE), sizeof (float) * n * 10);
  const float *yh2 = fw_model_forward (h2, x, n, FALSE);
  for (int i = 0; i < n * 10; i++)
    g_assert_cmpfloat (yh2[i], ==, yh[i]);
  const float *yq2 = fw_model_forward (q2, x, n, FALSE);
  for (int i = 0; i < n * 10; i++)
    g_assert_cmpfloat (yq2[i], ==, yq[i]);
  /* and stay close to the float model (fp16: relative 1e-3; int8: a few percent of the range) */
  float range = 0;
  for (int i = 0; i < n * 10; i++)
    range = MAX (range, fabsf (yf[i]));
  for (int i = 0; i < n * 10; i++)
    {
      g_assert_cmpfloat (fabsf (yh[i] - yf[i]), <=, 2e-3f * range);
      g_assert_cmpfloat (fabsf (yq[i] - yf[i]), <=, 0.05f * range);
    }
  /* a copy carries the packed storage */
  g_autoptr (FwModel) qc = fw_model_copy (q);
  const float *yqc = fw_model_forward (qc, x, n, FALSE);
  for (int i = 0; i < n * 10; i++)
    g_assert_cmpfloat (yqc[i], ==, yq[i]);
}

static void
test_bad_specs_and_files (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new ("custom", "qdense:4:xx", (FwShape) { 3, 1, 1 }, &error);
  g_assert_null (m);
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "xx"));
  g_clear_error (&error);
  g_autoptr (FwModel) w = fw_model_new ("custom", "f16:nope:3", (FwShape) { 3, 1, 1 }, &error);
  g_assert_null (w);
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_clear_error (&error);
  /* a zero scale in the file is refused with a message naming it */
  g_autoptr (FwModel) q = fw_model_new ("custom", "qdense:2", (FwShape) { 3, 1, 1 }, &error);
  g_assert_no_error (error);
  FwPackedTensor pt[FW_LAYER_MAX_TENSORS];
  int np = q->layers[0]->klass->packed (q->layers[0], pt);
  float zero = 0;
  pt[4].data = &zero;
  g_assert_false (q->layers[0]->klass->unpack (q->layers[0], pt, np, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "input scale"));
}

/* ---- ternary / binary and the STE ---- */

static void
test_ternary_binary_definition (void)
{
  /* worked example: mean|w| = 0.76, delta = 0.532, alpha = mean(1, 2) = 1.5 */
  const float w[5] = { -1.0f, -0.2f, 0.1f, 0.5f, 2.0f };
  float q[5], delta;
  float a = fw_ternarize (w, 5, q, &delta);
  g_assert_cmpfloat (fabsf (delta - 0.532f), <, 1e-6f);
  g_assert_cmpfloat (fabsf (a - 1.5f), <, 1e-6f);
  const float tq[5] = { -1.5f, 0, 0, 0, 1.5f };
  for (int i = 0; i < 5; i++)
    g_assert_cmpfloat (fabsf (q[i] - tq[i]), <, 1e-6f);
  a = fw_binarize (w, 5, q);
  g_assert_cmpfloat (fabsf (a - 0.76f), <, 1e-6f);
  for (int i = 0; i < 5; i++)
    g_assert_cmpfloat (q[i], ==, w[i] >= 0 ? a : -a);
  /* TWN's alpha minimises sum (w - alpha t)^2 over alpha for the ternary pattern t */
  FwRng rng;
  fw_rng_init (&rng, 3);
  float r[400], rq[400];
  fw_test_fill_uniform (r, 400, -1, 1, &rng);
  a = fw_ternarize (r, 400, rq, NULL);
  double num = 0, den = 0;
  for (int i = 0; i < 400; i++)
    if (rq[i] != 0)
      {
        num += fabsf (r[i]);
        den += 1;
      }
  g_assert_cmpfloat (fabs (a - num / den), <, 1e-5);
}

/* One full-batch SGD step (no momentum) of STE training moves each latent weight by
 * -lr dL/dw evaluated at the QUANTIZED weights (the straight-through estimator), and not at
 * all where |w| > clip; compared with the plain gradient of a model holding the quantized
 * weights. */
static void
test_ste_gradient (void)
{
  for (int mode = FW_QUANT_TERNARY; mode <= FW_QUANT_BINARY; mode++)
    {
      g_autoptr (GError) error = NULL;
      FwShape in = { 1, 3, 4 };
      g_autoptr (FwModel) m = random_model ("flatten,dense:6,tanh,dense:3", in, 21);
      const int n = 24;
      FwDataset *ds = fw_dataset_new ("rand", n, in, 3);
      FwRng rng;
      fw_rng_init (&rng, 22);
      fw_test_fill_uniform (ds->x, n * 12, 0, 1, &rng);
      for (int i = 0; i < n; i++)
        ds->y[i] = i % 3;
      float clip = mode == FW_QUANT_BINARY ? 0.3f : 0.0f;
      /* the independent side: quantize by hand, plain forward / backward */
      g_autoptr (FwModel) ref = fw_model_copy (m);
      g_autoptr (GArray) ts = fw_quant_weight_tensors (m);
      g_assert_cmpuint (ts->len, ==, 2);
      for (guint t = 0; t < ts->len; t++)
        {
          const gsize *row = &g_array_index (ts, gsize, 3 * t);
          if (mode == FW_QUANT_TERNARY)
            fw_ternarize (m->params + row[0], row[1], ref->params + row[0], NULL);
          else
            fw_binarize (m->params + row[0], row[1], ref->params + row[0]);
        }
      const float *logits = fw_model_forward (ref, ds->x, n, TRUE);
      g_autofree float *dl = g_new (float, n * 3);
      fw_loss_softmax_xent (logits, n, 3, ds->y, NULL, 0, dl, NULL);
      fw_model_backward (ref, dl, n);
      g_autofree float *before = g_memdup2 (m->params, sizeof (float) * m->n_params);
      FwTrainConfig cfg;
      fw_train_config_defaults (&cfg);
      cfg.epochs = 1;
      cfg.batch = n;
      cfg.opt = FW_OPT_SGD;
      cfg.momentum = 0;
      cfg.lr = 0.01;
      /* the latent weights after the step, read through the restore hook's view: train with
       * fw_compress_finetune directly is what fw_quant_train_ste does; it returns quantized
       * weights, so compare on a copy trained for one step and un-quantized by the delta */
      g_autoptr (FwModel) t = fw_model_copy (m);
      g_assert_true (fw_quant_train_ste (t, mode, clip, &cfg, ds, NULL, NULL, NULL, NULL,
                                         &error));
      g_assert_no_error (error);
      /* t holds Q(latent'); biases are plain float: their step is -lr grad */
      double gmax = 0;
      for (gsize i = 0; i < m->n_params; i++)
        gmax = MAX (gmax, fabs (ref->grads[i]));
      for (guint k = 0; k < ts->len; k++)
        {
          const gsize *row = &g_array_index (ts, gsize, 3 * k);
          /* the latent weights after the step, by the STE definition */
          g_autofree float *lat = g_new (float, row[1]);
          g_autofree float *want = g_new (float, row[1]);
          for (gsize j = 0; j < row[1]; j++)
            {
              float w0 = before[row[0] + j];
              float g = (clip > 0 && fabsf (w0) > clip) ? 0.0f : ref->grads[row[0] + j];
              lat[j] = w0 - (float) cfg.lr * g;
            }
          if (mode == FW_QUANT_TERNARY)
            fw_ternarize (lat, row[1], want, NULL);
          else
            fw_binarize (lat, row[1], want);
          for (gsize j = 0; j < row[1]; j++)
            g_assert_cmpfloat (fabsf (t->params[row[0] + j] - want[j]), <=,
                               1e-5f * (1 + fabsf (want[j])));
        }
      /* biases: ordinary SGD on the gradient at the quantized weights */
      for (gsize i = 0; i < m->n_params; i++)
        {
          gboolean is_w = FALSE;
          for (guint k = 0; k < ts->len; k++)
            {
              const gsize *row = &g_array_index (ts, gsize, 3 * k);
              is_w |= i >= row[0] && i < row[0] + row[1];
            }
          if (!is_w)
            g_assert_cmpfloat (fabs (t->params[i] - (before[i] - cfg.lr * ref->grads[i])), <=,
                               1e-4 * cfg.lr * gmax + 1e-7);
        }
      fw_dataset_unref (ds);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Quant/f16_matches_closed_form", test_f16_closed_form);
  g_test_add_func ("/Quant/int8_round_trip_matches_closed_form", test_int8_closed_form);
  g_test_add_func ("/Quant/int8_kernel_matches_naive_integer_product", test_kernel_matches_naive);
  g_test_add_func ("/Quant/qdense_matches_dequantized_float", test_qdense_matches_dequantized);
  g_test_add_func ("/Quant/qconv_matches_dequantized_float", test_qconv_matches_dequantized);
  g_test_add_func ("/Quant/files_on_disk_have_the_compressed_size", test_files_are_smaller);
  g_test_add_func ("/Quant/bad_specs_and_tensors_are_refused", test_bad_specs_and_files);
  g_test_add_func ("/Quant/ternary_binary_match_definition", test_ternary_binary_definition);
  g_test_add_func ("/Quant/ste_steps_latent_by_quantized_gradient", test_ste_gradient);
  return g_test_run ();
}
