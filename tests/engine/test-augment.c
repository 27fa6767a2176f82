/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-augment.c: augmentation operations against independent computations, pipelines. */
#include <math.h>
#include <string.h>

#include "fw-aug-sweep.h"
#include "fw-augment.h"
#include "fw-error.h"
#include "fw-recipe.h"
#include "fw-train.h"
#include "fw-util.h"

static void
fill_random (float *a, gsize n, guint64 seed)
{
  FwRng r;
  fw_rng_init (&r, seed);
  for (gsize i = 0; i < n; i++)
    a[i] = (float) fw_rng_uniform (&r);
}

static FwAugPipeline *
parse_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  FwAugPipeline *p = fw_aug_pipeline_parse (text, &error);
  g_assert_no_error (error);
  g_assert_nonnull (p);
  return p;
}

static void
test_rot90_is_transpose_and_flip (void)
{
  for (int c = 1; c <= 3; c += 2)
    for (int n = 5; n <= 8; n++)
      {
        int h = n, w = n;
        gsize plane = (gsize) h * w;
        g_autofree float *src = g_new (float, c * plane);
        g_autofree float *dst = g_new (float, c * plane);
        fill_random (src, c * plane, 7 + n);
        double A[6];
        fw_aug_matrix_rotate (A, 90, h, w);
        fw_aug_warp_affine (src, dst, c, h, w, A, FW_AUG_BORDER_ZERO);
        /* counter-clockwise on screen: out[y][x] = in[x][w-1-y] (transpose of a mirrored
         * image), computed here by index shuffling alone */
        for (int ch = 0; ch < c; ch++)
          for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
              g_assert_cmpfloat (dst[ch * plane + y * w + x], ==,
                                 src[ch * plane + x * w + (w - 1 - y)]);
        /* and 4 quarter turns through the pipeline give the image back exactly */
        g_autofree float *img = g_memdup2 (src, sizeof (float) * c * plane);
        g_autoptr (FwAugPipeline) p = fw_aug_pipeline_new ();
        for (int i = 0; i < 4; i++)
          {
            int s = fw_aug_pipeline_add (p, FW_AUG_ROTATE);
            fw_aug_step_set (fw_aug_pipeline_step (p, s), "deg", 0);
          }
        FwRng rng;
        fw_rng_init (&rng, 1);
        for (int i = 0; i < 4; i++)
          {
            fw_aug_warp_affine (img, dst, c, h, w, A, FW_AUG_BORDER_ZERO);
            memcpy (img, dst, sizeof (float) * c * plane);
          }
        g_assert_cmpmem (img, sizeof (float) * c * plane, src, sizeof (float) * c * plane);
      }
}

static void
test_integer_translation_exact (void)
{
  int c = 3, h = 9, w = 11;
  gsize plane = (gsize) h * w;
  float src[3 * 99], dst[3 * 99];
  fill_random (src, c * plane, 3);
  for (int dy = -3; dy <= 3; dy++)
    for (int dx = -4; dx <= 4; dx++)
      {
        /* content moves by (dx, dy): out(x, y) = in(x - dx, y - dy), 0 outside */
        double A[6] = { 1, 0, -dx, 0, 1, -dy };
        fw_aug_warp_affine (src, dst, c, h, w, A, FW_AUG_BORDER_ZERO);
        for (int ch = 0; ch < c; ch++)
          for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
              {
                int xs = x - dx, ys = y - dy;
                float want = (xs >= 0 && xs < w && ys >= 0 && ys < h)
                               ? src[ch * plane + ys * w + xs] : 0.f;
                g_assert_cmpfloat (dst[ch * plane + y * w + x], ==, want);
              }
        /* edge border: clamped indices */
        fw_aug_warp_affine (src, dst, c, h, w, A, FW_AUG_BORDER_EDGE);
        for (int y = 0; y < h; y++)
          for (int x = 0; x < w; x++)
            g_assert_cmpfloat (dst[y * w + x], ==,
                               src[CLAMP (y - dy, 0, h - 1) * w + CLAMP (x - dx, 0, w - 1)]);
        /* reflect border: mirrored about the edge pixels */
        fw_aug_warp_affine (src, dst, c, h, w, A, FW_AUG_BORDER_REFLECT);
        for (int y = 0; y < h; y++)
          for (int x = 0; x < w; x++)
            {
              int xs = x - dx, ys = y - dy;
              xs = xs < 0 ? -xs : xs >= w ? 2 * (w - 1) - xs : xs;
              ys = ys < 0 ? -ys : ys >= h ? 2 * (h - 1) - ys : ys;
              g_assert_cmpfloat (dst[y * w + x], ==, src[ys * w + xs]);
            }
      }
}

static void
test_half_pixel_shift_is_bilinear (void)
{
  /* a shift by 0.5 in x averages neighbours: out(x) = (in(x - 1) + in(x)) / 2 */
  int h = 4, w = 6;
  float src[24], dst[24];
  fill_random (src, 24, 5);
  double A[6] = { 1, 0, -0.5, 0, 1, 0 };
  fw_aug_warp_affine (src, dst, 1, h, w, A, FW_AUG_BORDER_EDGE);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        float want = 0.5f * (src[y * w + MAX (x - 1, 0)] + src[y * w + x]);
        g_assert_cmpfloat_with_epsilon (dst[y * w + x], want, 1e-6);
      }
}

/* naive bilinear sample with zero border, written independently of the engine */
static float
naive_sample (const float *img, int h, int w, double xs, double ys)
{
  int x0 = (int) floor (xs), y0 = (int) floor (ys);
  double fx = xs - x0, fy = ys - y0;
  double v = 0;
  for (int dy = 0; dy <= 1; dy++)
    for (int dx = 0; dx <= 1; dx++)
      {
        int x = x0 + dx, y = y0 + dy;
        double wgt = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
        if (x >= 0 && x < w && y >= 0 && y < h)
          v += wgt * img[y * w + x];
      }
  return (float) v;
}

static void
test_general_affine_matches_naive (void)
{
  /* rotations, zooms and shears of all sizes: every pixel (inside, edge and outside runs)
   * against the naive reference, through the affine resampler and through remap */
  for (int trial = 0; trial < 40; trial++)
    {
      FwRng r;
      fw_rng_init (&r, 100 + trial);
      int h = 5 + (int) fw_rng_below (&r, 30), w = 5 + (int) fw_rng_below (&r, 30), c = 2;
      g_autofree float *src = g_new (float, c * h * w);
      g_autofree float *dst = g_new (float, c * h * w);
      fill_random (src, c * h * w, 7 + trial);
      double t = (fw_rng_uniform (&r) - 0.5) * 4, z = 0.5 + fw_rng_uniform (&r);
      double sh = (fw_rng_uniform (&r) - 0.5) * 0.6;
      double A[6] = { z * cos (t), -z * sin (t) + sh, (fw_rng_uniform (&r) - 0.5) * w,
                      z * sin (t), z * cos (t), (fw_rng_uniform (&r) - 0.5) * h };
      fw_aug_warp_affine (src, dst, c, h, w, A, FW_AUG_BORDER_ZERO);
      for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++)
          for (int x = 0; x < w; x++)
            {
              double xs = A[0] * x + A[1] * y + A[2], ys = A[3] * x + A[4] * y + A[5];
              float want = naive_sample (src + ch * h * w, h, w, xs, ys);
              /* 2e-4: the engine snaps coordinates within 1e-4 of an integer */
              g_assert_cmpfloat_with_epsilon (dst[(ch * h + y) * w + x], want, 2e-4);
            }
      /* the same map given point by point (the path of elastic, perspective, grid) */
      g_autofree float *mx = g_new (float, h * w);
      g_autofree float *my = g_new (float, h * w);
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            mx[y * w + x] = (float) (A[0] * x + A[1] * y + A[2]);
            my[y * w + x] = (float) (A[3] * x + A[4] * y + A[5]);
          }
      fw_aug_remap (src, dst, c, h, w, mx, my, FW_AUG_BORDER_ZERO);
      for (int ch = 0; ch < c; ch++)
        for (int q = 0; q < h * w; q++)
          g_assert_cmpfloat_with_epsilon (dst[ch * h * w + q],
                                          naive_sample (src + ch * h * w, h, w, mx[q], my[q]),
                                          2e-4);
    }
}

static void
test_double_flip_identity (void)
{
  int c = 3, h = 7, w = 10;
  gsize size = (gsize) c * h * w;
  g_autofree float *src = g_new (float, size);
  g_autofree float *img = g_new (float, size);
  fill_random (src, size, 11);
  memcpy (img, src, sizeof (float) * size);
  g_autoptr (FwAugPipeline) p = parse_ok ("hflip:p=1;vflip:p=1;hflip:p=1;vflip:p=1");
  FwRng rng;
  fw_rng_init (&rng, 2);
  fw_aug_apply (p, img, c, h, w, &rng, NULL, NULL);
  g_assert_cmpmem (img, sizeof (float) * size, src, sizeof (float) * size);
  /* one hflip alone mirrors the columns exactly */
  g_autoptr (FwAugPipeline) one = parse_ok ("hflip:p=1");
  fw_aug_apply (one, img, c, h, w, &rng, NULL, NULL);
  for (int ch = 0; ch < c; ch++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        g_assert_cmpfloat (img[(ch * h + y) * w + x], ==, src[(ch * h + y) * w + (w - 1 - x)]);
}

static void
test_elastic_alpha_zero_identity (void)
{
  int c = 1, h = 28, w = 28;
  gsize size = (gsize) c * h * w;
  g_autofree float *src = g_new (float, size);
  g_autofree float *img = g_new (float, size);
  fill_random (src, size, 13);
  memcpy (img, src, sizeof (float) * size);
  g_autoptr (FwAugPipeline) p = parse_ok ("elastic:alpha=0,sigma=3");
  FwRng rng;
  fw_rng_init (&rng, 4);
  fw_aug_apply (p, img, c, h, w, &rng, NULL, NULL);
  g_assert_cmpmem (img, sizeof (float) * size, src, sizeof (float) * size);
  /* with alpha > 0 the image changes, and the field is smooth: neighbouring displacements
   * differ far less than independent ones would */
  g_autoptr (FwAugPipeline) q = parse_ok ("elastic:alpha=8,sigma=3");
  fw_aug_apply (q, img, c, h, w, &rng, NULL, NULL);
  g_assert_true (memcmp (img, src, sizeof (float) * size) != 0);
  float dx[784], dy[784];
  fw_aug_elastic_field (&rng, h, w, 8, 3, dx, dy, NULL);
  double var = 0, dvar = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x + 1 < w; x++)
      {
        var += dx[y * w + x] * dx[y * w + x];
        double d = dx[y * w + x + 1] - dx[y * w + x];
        dvar += d * d;
      }
  g_assert_cmpfloat (var, >, 0);
  g_assert_cmpfloat (dvar, <, 0.2 * var);
}

/* the elastic field is alpha times the Gaussian-smoothed uniform noise (edge border), as a
 * naive 2-D convolution in double computes it from the same random stream */
static void
test_elastic_field_is_smoothed_noise (void)
{
  const int sizes[][2] = { { 28, 28 }, { 13, 21 }, { 32, 17 } };
  const double sigmas[] = { 1.0, 3.0, 4.5 };
  for (gsize si = 0; si < G_N_ELEMENTS (sizes); si++)
    for (gsize gi = 0; gi < G_N_ELEMENTS (sigmas); gi++)
      {
        int h = sizes[si][0], w = sizes[si][1];
        double sigma = sigmas[gi], alpha = 7.5;
        gsize n = (gsize) h * w;
        g_autofree float *dx = g_new (float, n);
        g_autofree float *dy = g_new (float, n);
        FwRng rng, ref;
        fw_rng_init (&rng, 40 + si);
        ref = rng;
        fw_aug_elastic_field (&rng, h, w, alpha, sigma, dx, dy, NULL);
        /* the noise: one 64-bit draw per pixel, high half for x, low half for y */
        g_autofree double *nx = g_new (double, n);
        g_autofree double *ny = g_new (double, n);
        for (gsize i = 0; i < n; i++)
          {
            guint64 r = fw_rng_next (&ref);
            nx[i] = (double) (r >> 32) / 2147483648.0 - 1.0;
            ny[i] = (double) (r & 0xffffffffu) / 2147483648.0 - 1.0;
          }
        int rad = (int) ceil (3 * sigma);
        double ksum = 0;
        for (int t = -rad; t <= rad; t++)
          ksum += exp (-0.5 * t * t / (sigma * sigma));
        double worst = 0;
        for (int y = 0; y < h; y++)
          for (int x = 0; x < w; x++)
            {
              double sx = 0, sy = 0;
              for (int a = -rad; a <= rad; a++)
                for (int b = -rad; b <= rad; b++)
                  {
                    double g = exp (-0.5 * (a * a + b * b) / (sigma * sigma)) / (ksum * ksum);
                    int yy = CLAMP (y + a, 0, h - 1), xx = CLAMP (x + b, 0, w - 1);
                    sx += g * nx[yy * w + xx];
                    sy += g * ny[yy * w + xx];
                  }
              worst = MAX (worst, fabs (alpha * sx - dx[y * w + x]));
              worst = MAX (worst, fabs (alpha * sy - dy[y * w + x]));
            }
        if (worst > 1e-4 * alpha)
          g_error ("%dx%d sigma %g: field differs from the naive convolution by %g", h, w, sigma,
                   worst);
      }
}

static void
test_cutmix_weight_is_area_fraction (void)
{
  int n = 6, c = 1, h = 12, w = 10, k = 4;
  gsize size = (gsize) c * h * w;
  g_autofree float *x = g_new (float, n * size);
  gint32 y[6];
  /* sample i is constant (i + 1) / 8 with label i % k: every pixel tells where it came from */
  for (int i = 0; i < n; i++)
    {
      y[i] = i % k;
      for (gsize q = 0; q < size; q++)
        x[i * size + q] = (float) (i + 1) / 8;
    }
  g_autoptr (FwAugPipeline) p = parse_ok ("cutmix:alpha=1");
  g_autofree float *soft = g_new (float, n * k);
  FwRng rng;
  fw_rng_init (&rng, 21);
  int mixed = 0;
  for (int round = 0; round < 20; round++)
    {
      for (int i = 0; i < n; i++)
        for (gsize q = 0; q < size; q++)
          x[i * size + q] = (float) (i + 1) / 8;
      fw_aug_apply_batch (p, x, y, n, c, h, w, k, &rng, NULL, soft);
      for (int i = 0; i < n; i++)
        {
          /* count kept pixels; the partner is whichever other value appears */
          int kept = 0, partner = -1;
          for (gsize q = 0; q < size; q++)
            {
              int who = (int) lroundf (x[i * size + q] * 8) - 1;
              if (who == i)
                kept++;
              else
                partner = who;
            }
          double frac = (double) kept / size;
          float want[4] = { 0 };
          want[y[i]] += (float) frac;
          if (partner >= 0)
            {
              want[y[partner]] += 1.f - (float) frac;
              mixed++;
            }
          else
            want[y[i]] = 1.f;
          float sum = 0;
          for (int j = 0; j < k; j++)
            {
              g_assert_cmpfloat_with_epsilon (soft[i * k + j], want[j], 1e-6);
              sum += soft[i * k + j];
            }
          g_assert_cmpfloat_with_epsilon (sum, 1, 1e-6);
        }
    }
  g_assert_cmpint (mixed, >, 20);
  /* the box helper itself */
  float a[120] = { 0 }, b[120];
  for (int q = 0; q < 120; q++)
    b[q] = 1;
  double keep = fw_aug_cutmix_box (a, b, 1, 12, 10, 2, 3, 7, 11);
  g_assert_cmpfloat (keep, ==, 1.0 - 5.0 * 8.0 / 120.0);
  float ones = 0;
  for (int q = 0; q < 120; q++)
    ones += a[q];
  g_assert_cmpfloat (ones, ==, 40);
}

static void
test_mixup_weights_sum_to_one (void)
{
  int n = 8, c = 1, h = 5, w = 5, k = 3;
  gsize size = (gsize) c * h * w;
  g_autofree float *x = g_new (float, n * size);
  g_autofree float *x0 = g_new (float, n * size);
  gint32 y[8];
  for (int i = 0; i < n; i++)
    y[i] = i % k;
  fill_random (x0, n * size, 8);
  memcpy (x, x0, sizeof (float) * n * size);
  g_autoptr (FwAugPipeline) p = parse_ok ("mixup:alpha=0.4");
  g_autofree float *soft = g_new (float, n * k);
  FwRng rng;
  fw_rng_init (&rng, 31);
  fw_aug_apply_batch (p, x, y, n, c, h, w, k, &rng, NULL, soft);
  int changed = 0;
  for (int i = 0; i < n; i++)
    {
      float sum = 0;
      for (int j = 0; j < k; j++)
        {
          g_assert_cmpfloat (soft[i * k + j], >=, 0);
          sum += soft[i * k + j];
        }
      g_assert_cmpfloat_with_epsilon (sum, 1, 1e-6);
      /* the image is lam x_i + (1 - lam) x_j for some j with lam = weight of y_i when
       * y_j != y_i: find a j that explains every pixel */
      double lam = soft[i * k + y[i]];
      gboolean explained = FALSE;
      for (int j = 0; j < n && !explained; j++)
        {
          double l = (y[j] == y[i]) ? NAN : lam;
          if (isnan (l))
            {
              /* same class: lam unknown from labels; fit it from one pixel */
              double den = x0[i * size] - x0[j * size];
              l = fabs (den) > 1e-3 ? (x[i * size] - x0[j * size]) / den : 1;
            }
          gboolean ok = TRUE;
          for (gsize q = 0; q < size && ok; q++)
            ok = fabs (x[i * size + q] - (l * x0[i * size + q] + (1 - l) * x0[j * size + q]))
                 < 1e-4;
          explained = ok;
        }
      g_assert_true (explained);
      changed += memcmp (x + i * size, x0 + i * size, sizeof (float) * size) != 0;
    }
  g_assert_cmpint (changed, >, 0);
}

static void
test_brightness_contrast_closed_form (void)
{
  float img[50], ref[50];
  fill_random (ref, 50, 17);
  memcpy (img, ref, sizeof img);
  fw_aug_brightness (img, 50, 0.25);
  for (int i = 0; i < 50; i++)
    g_assert_cmpfloat_with_epsilon (img[i], MIN (ref[i] + 0.25, 1.0), 1e-7);
  memcpy (img, ref, sizeof img);
  fw_aug_contrast (img, 50, 1.5);
  double m = 0;
  for (int i = 0; i < 50; i++)
    m += ref[i];
  m /= 50;
  for (int i = 0; i < 50; i++)
    g_assert_cmpfloat_with_epsilon (img[i], CLAMP (m + 1.5 * (ref[i] - m), 0, 1), 1e-6);
  /* through the pipeline: one constant b in [-delta, delta] explains every unclipped pixel */
  for (int i = 0; i < 50; i++)
    ref[i] = 0.3f + 0.4f * ref[i];
  memcpy (img, ref, sizeof img);
  g_autoptr (FwAugPipeline) p = parse_ok ("brightness:delta=0.2");
  FwRng rng;
  fw_rng_init (&rng, 9);
  fw_aug_apply (p, img, 1, 5, 10, &rng, NULL, NULL);
  double b = img[0] - ref[0];
  g_assert_cmpfloat (fabs (b), <=, 0.2 + 1e-6);
  g_assert_cmpfloat (fabs (b), >, 0);
  for (int i = 0; i < 50; i++)
    g_assert_cmpfloat_with_epsilon (img[i] - ref[i], b, 1e-6);
}

static void
test_same_seed_same_images (void)
{
  const char *text = "rotate:deg=20;translate:px=3;scale;shear;crop;hflip;elastic;perspective;"
                     "grid;brightness;contrast;gamma;color;hsv;noise;saltpepper;speckle;blur;"
                     "cutout;randaugment:n=3,m=7";
  g_autoptr (FwAugPipeline) p = parse_ok (text);
  int c = 3, h = 16, w = 16;
  gsize size = (gsize) c * h * w;
  g_autofree float *src = g_new (float, size);
  g_autofree float *a = g_new (float, size);
  g_autofree float *b = g_new (float, size);
  fill_random (src, size, 19);
  FwRng r1, r2;
  fw_rng_init (&r1, 99);
  fw_rng_init (&r2, 99);
  for (int rep = 0; rep < 5; rep++)
    {
      memcpy (a, src, sizeof (float) * size);
      memcpy (b, src, sizeof (float) * size);
      fw_aug_apply (p, a, c, h, w, &r1, NULL, NULL);
      fw_aug_apply (p, b, c, h, w, &r2, NULL, NULL);
      g_assert_cmpmem (a, sizeof (float) * size, b, sizeof (float) * size);
      g_assert_true (memcmp (a, src, sizeof (float) * size) != 0);
      for (gsize i = 0; i < size; i++)
        g_assert_true (a[i] >= 0 && a[i] <= 1);
    }
  /* another seed, other images */
  FwRng r3;
  fw_rng_init (&r3, 100);
  memcpy (b, src, sizeof (float) * size);
  fw_aug_apply (p, b, c, h, w, &r3, NULL, NULL);
  g_assert_true (memcmp (a, b, sizeof (float) * size) != 0);
}

static void
test_pipeline_round_trip (void)
{
  const char *text = "rotate:deg=15;translate:px=2;elastic:alpha=8,sigma=3;cutmix:p=0.5";
  g_autoptr (FwAugPipeline) p = parse_ok (text);
  g_assert_cmpint (fw_aug_pipeline_n_steps (p), ==, 4);
  g_assert_cmpint (fw_aug_pipeline_step (p, 2)->op, ==, FW_AUG_ELASTIC);
  g_assert_cmpfloat (fw_aug_step_get (fw_aug_pipeline_step (p, 3), "p"), ==, 0.5);
  g_assert_true (fw_aug_pipeline_has_batch_ops (p));
  g_autofree char *s = fw_aug_pipeline_to_string (p);
  /* default values are left out: deg=15, px=2, alpha=8, sigma=3 are the defaults */
  g_assert_cmpstr (s, ==, "rotate;translate;elastic;cutmix:p=0.5");
  /* non-defaults, choices and disabled steps survive print -> parse -> print */
  const char *text2 = " !rotate:deg=30,border=reflect ; scale:min=0.5,max=2;hflip;"
                      "randaugment:n=3,m=7.5;mixup:alpha=0.3\n";
  g_autoptr (FwAugPipeline) q = parse_ok (text2);
  g_autofree char *s2 = fw_aug_pipeline_to_string (q);
  g_assert_cmpstr (s2, ==,
                   "!rotate:deg=30,border=reflect;scale:min=0.5,max=2;hflip;"
                   "randaugment:n=3,m=7.5;mixup:alpha=0.3");
  g_autoptr (FwAugPipeline) q2 = parse_ok (s2);
  g_assert_cmpint (fw_aug_pipeline_n_steps (q2), ==, fw_aug_pipeline_n_steps (q));
  for (int i = 0; i < fw_aug_pipeline_n_steps (q); i++)
    {
      FwAugStep *x = fw_aug_pipeline_step (q, i), *y = fw_aug_pipeline_step (q2, i);
      g_assert_cmpint (x->op, ==, y->op);
      g_assert_cmpint (x->enabled, ==, y->enabled);
      for (int j = 0; j < FW_AUG_MAX_PARAMS; j++)
        g_assert_cmpfloat (x->v[j], ==, y->v[j]);
    }
  g_assert_false (fw_aug_pipeline_step (q, 0)->enabled);
  /* editing: move and remove */
  fw_aug_pipeline_move (q, 0, 4);
  g_assert_cmpint (fw_aug_pipeline_step (q, 4)->op, ==, FW_AUG_ROTATE);
  fw_aug_pipeline_remove (q, 4);
  g_autofree char *s3 = fw_aug_pipeline_to_string (q);
  g_assert_cmpstr (s3, ==, "scale:min=0.5,max=2;hflip;randaugment:n=3,m=7.5;mixup:alpha=0.3");
  /* empty text, empty pipeline */
  g_autoptr (FwAugPipeline) e = parse_ok (" ; ");
  g_assert_cmpint (fw_aug_pipeline_n_steps (e), ==, 0);
}

static void
test_bad_text_names_the_op (void)
{
  static const struct { const char *text, *needle; } cases[] = {
    { "rotate;rotat:deg=3", "rotat" },
    { "rotate:dg=3", "dg" },
    { "rotate:deg=abc", "abc" },
    { "rotate:deg=500", "deg=500" },
    { "elastic:alpha", "alpha" },
    { "scale:min=0.9,max=1,border=wavy", "wavy" },
    { "scale:min=1,max=1.5;scale:min=1,max=1;scale:min=1,max=2;", NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (FwAugPipeline) p = fw_aug_pipeline_parse (cases[i].text, &error);
      if (cases[i].needle == NULL)
        {
          g_assert_no_error (error);
          continue;
        }
      g_assert_null (p);
      g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
      g_test_message ("%s -> %s", cases[i].text, error->message);
      g_assert_nonnull (strstr (error->message, cases[i].needle));
    }
  /* colour operations on grayscale: disabled with a reason, and a pipeline check error */
  const char *reason = NULL;
  g_assert_false (fw_aug_op_applies (FW_AUG_COLOR, 1, &reason));
  g_assert_nonnull (strstr (reason, "grayscale"));
  g_assert_true (fw_aug_op_applies (FW_AUG_COLOR, 3, NULL));
  g_autoptr (FwAugPipeline) p = parse_ok ("rotate;color");
  g_autoptr (GError) error = NULL;
  g_assert_false (fw_aug_pipeline_check (p, 1, &error));
  g_assert_nonnull (strstr (error->message, "color"));
  g_assert_true (fw_aug_pipeline_check (p, 3, NULL));
}

static void
test_affine_composite_matches_steps (void)
{
  /* rotate then translate composed into one resample equals resampling twice where no
   * interpolation happens in between (quarter turn + integer shift) */
  int c = 1, h = 9, w = 9;
  float src[81], a[81], b[81], t[81];
  fill_random (src, 81, 23);
  double R[6], T[6] = { 1, 0, -2, 0, 1, 1 };
  fw_aug_matrix_rotate (R, 90, h, w);
  fw_aug_warp_affine (src, t, c, h, w, R, FW_AUG_BORDER_ZERO);
  fw_aug_warp_affine (t, a, c, h, w, T, FW_AUG_BORDER_ZERO);
  /* one resample with the composite C = R T (3x3 products written out): I2(p) = I0(R T p) */
  double C[6] = { R[0] * T[0] + R[1] * T[3], R[0] * T[1] + R[1] * T[4],
                  R[0] * T[2] + R[1] * T[5] + R[2], R[3] * T[0] + R[4] * T[3],
                  R[3] * T[1] + R[4] * T[4], R[3] * T[2] + R[4] * T[5] + R[5] };
  fw_aug_warp_affine (src, b, c, h, w, C, FW_AUG_BORDER_ZERO);
  g_assert_cmpmem (a, sizeof a, b, sizeof b);
  /* the pipeline draws random angles; instead check that steps_out and the fused result agree
   * for random draws */
  g_autoptr (FwAugPipeline) q = parse_ok ("rotate:deg=40;translate:px=3;scale;shear");
  float fused[81], steps[4 * 81];
  FwRng r1, r2;
  fw_rng_init (&r1, 5);
  fw_rng_init (&r2, 5);
  memcpy (fused, src, sizeof src);
  fw_aug_apply (q, fused, c, h, w, &r1, NULL, NULL);
  float stepped[81];
  memcpy (stepped, src, sizeof src);
  fw_aug_apply (q, stepped, c, h, w, &r2, NULL, steps);
  /* step-by-step resampling blurs a little more, but the two agree on the content */
  double err = 0, norm = 0;
  for (int i = 0; i < 81; i++)
    {
      err += fabs (fused[i] - steps[3 * 81 + i]);
      norm += fabs (fused[i]);
    }
  g_assert_cmpmem (stepped, sizeof stepped, steps + 3 * 81, sizeof stepped);
  g_assert_cmpfloat (err, <, 0.35 * norm);
}

static void
bench_pipeline (void)
{
  g_autoptr (FwAugPipeline) p = parse_ok ("rotate:deg=15;translate:px=2;elastic:alpha=8,sigma=3;"
                                          "brightness");
  int c = 1, h = 28, w = 28;
  float src[784], img[784];
  fill_random (src, 784, 1);
  g_autofree float *scratch = g_new (float, fw_aug_scratch_floats (c, h, w));
  FwRng rng;
  fw_rng_init (&rng, 1);
  int reps = 2000;
  double t0 = fw_now ();
  for (int i = 0; i < reps; i++)
    {
      memcpy (img, src, sizeof img);
      fw_aug_apply (p, img, c, h, w, &rng, scratch, NULL);
    }
  double us = (fw_now () - t0) / reps * 1e6;
  g_test_message ("4-op pipeline (rotate, translate, elastic, brightness) on 28x28: %.2f us",
                  us);
  g_test_minimized_result (us, "us per 4-op pipeline on 28x28");
  g_autoptr (FwAugPipeline) q = parse_ok ("rotate;translate;scale;noise");
  t0 = fw_now ();
  for (int i = 0; i < reps; i++)
    {
      memcpy (img, src, sizeof img);
      fw_aug_apply (q, img, c, h, w, &rng, scratch, NULL);
    }
  g_test_message ("rotate, translate, scale, noise on 28x28: %.2f us",
                  (fw_now () - t0) / reps * 1e6);
}

/* n images c x 8 x 8 of 3 classes: a bright bar whose position depends on the class */
static FwDataset *
bars (int n, int c, guint64 seed)
{
  FwDataset *ds = fw_dataset_new ("bars", n, (FwShape) { c, 8, 8 }, 3);
  FwRng r;
  fw_rng_init (&r, seed);
  gsize size = (gsize) c * 64;
  for (int i = 0; i < n; i++)
    {
      int y = i % 3;
      ds->y[i] = y;
      float *x = ds->x + i * size;
      for (gsize q = 0; q < size; q++)
        x[q] = 0.2f * (float) fw_rng_uniform (&r);
      for (int ch = 0; ch < c; ch++)
        for (int row = 0; row < 8; row++)
          x[ch * 64 + row * 8 + 1 + 2 * y] = 0.9f;
    }
  return ds;
}

static FwModel *
small_model (int c)
{
  g_autoptr (GError) error = NULL;
  FwModel *m = fw_model_new ("custom", "flatten,dense:16,relu,dense:3", (FwShape) { c, 8, 8 },
                             &error);
  g_assert_no_error (error);
  fw_model_init (m, 3);
  return m;
}

static void
test_train_hflip_equals_flipped_data (void)
{
  /* training with "hflip:p=1" on the fly equals training on a dataset flipped beforehand
   * (by index arithmetic), with the same seed: the same weights, bit for bit */
  g_autoptr (FwDataset) ds = bars (60, 1, 4);
  gint32 idx[60];
  for (int i = 0; i < 60; i++)
    idx[i] = i;
  g_autoptr (FwDataset) flipped = fw_dataset_subset (ds, idx, 60, "flipped");
  for (int i = 0; i < 60; i++)
    for (int y = 0; y < 8; y++)
      for (int x = 0; x < 8; x++)
        flipped->x[i * 64 + y * 8 + x] = ds->x[i * 64 + y * 8 + (7 - x)];
  g_autoptr (FwAugPipeline) p = parse_ok ("hflip:p=1");
  g_autoptr (FwModel) a = small_model (1);
  g_autoptr (FwModel) b = small_model (1);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 3;
  cfg.batch = 16;
  cfg.augment = p;
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_train (a, &cfg, ds, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  cfg.augment = NULL;
  g_assert_true (fw_train (b, &cfg, flipped, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_cmpmem (a->params, sizeof (float) * a->n_params, b->params,
                   sizeof (float) * b->n_params);
  /* and it is not the unflipped run */
  g_autoptr (FwModel) u = small_model (1);
  g_assert_true (fw_train (u, &cfg, ds, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_true (memcmp (a->params, u->params, sizeof (float) * a->n_params) != 0);
}

static void
test_train_augmented_is_seeded (void)
{
  g_autoptr (FwDataset) ds = bars (90, 3, 5);
  g_autoptr (FwAugPipeline) p = parse_ok ("rotate:deg=10;translate:px=1;color;noise;cutmix:p=0.5;"
                                          "mixup:p=0.3");
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 4;
  cfg.batch = 16;
  cfg.augment = p;
  g_autoptr (FwModel) a = small_model (3);
  g_autoptr (FwModel) b = small_model (3);
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  g_assert_true (fw_train (a, &cfg, ds, NULL, ds, NULL, NULL, metrics, &error));
  g_assert_no_error (error);
  g_assert_true (fw_train (b, &cfg, ds, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_cmpmem (a->params, sizeof (float) * a->n_params, b->params,
                   sizeof (float) * b->n_params);
  /* the bars stay learnable through the augmentation */
  FwEpochMetrics *last = &g_array_index (metrics, FwEpochMetrics, metrics->len - 1);
  g_assert_true (isfinite (last->train_loss));
  g_assert_cmpfloat (last->test_acc, >, 0.6);
  /* another seed, other augmentations, other weights */
  cfg.seed = 2;
  g_autoptr (FwModel) c = small_model (3);
  g_assert_true (fw_train (c, &cfg, ds, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_true (memcmp (a->params, c->params, sizeof (float) * a->n_params) != 0);
}

static void
test_train_rejects_colour_ops_on_grey (void)
{
  g_autoptr (FwDataset) ds = bars (30, 1, 6);
  g_autoptr (FwAugPipeline) p = parse_ok ("rotate;hsv");
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 1;
  cfg.augment = p;
  g_autoptr (FwModel) m = small_model (1);
  g_autoptr (GError) error = NULL;
  g_assert_false (fw_train (m, &cfg, ds, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "hsv"));
}

static void
test_recipe_augment_key (void)
{
  const char *good = "[data]\ndataset = sim:100\naugment = rotate:deg=15;translate:px=2;"
                     "cutmix:p=0.5\n";
  g_autoptr (GError) error = NULL;
  FwRecipe *r = fw_recipe_load_data (good, -1, "good", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->augment, ==, "rotate:deg=15;translate:px=2;cutmix:p=0.5");
  /* written back and read again: the same text */
  g_autofree char *data = fw_recipe_to_data (r);
  FwRecipe *r2 = fw_recipe_load_data (data, -1, "again", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r2->augment, ==, r->augment);
  fw_recipe_free (r2);
  fw_recipe_free (r);
  /* a bad operation: the error names the file, the key and the operation */
  const char *bad = "[data]\ndataset = sim:100\naugment = rotate;twirl:deg=3\n";
  r = fw_recipe_load_data (bad, -1, "bad.ini", &error);
  g_assert_null (r);
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "bad.ini"));
  g_assert_nonnull (strstr (error->message, "augment"));
  g_assert_nonnull (strstr (error->message, "twirl"));
  /* the example recipe with augmentation loads, and its pipeline parses */
  const char *root = g_getenv ("FW_SOURCE_ROOT");
  if (root != NULL)
    {
      g_autofree char *path = g_build_filename (root, "resources", "recipes",
                                                "digits-augmented-20-per-class.ini", NULL);
      g_clear_error (&error);
      g_autoptr (FwRecipe) ex = fw_recipe_load (path, &error);
      g_assert_no_error (error);
      g_assert_cmpint (ex->per_class, ==, 20);
      g_autoptr (FwAugPipeline) p = fw_aug_pipeline_parse (ex->augment, &error);
      g_assert_no_error (error);
      g_assert_cmpint (fw_aug_pipeline_n_steps (p), ==, 4);
    }
}

static void
sweep_collect (const FwAugSweepPoint *pt, gpointer user)
{
  g_array_append_val ((GArray *) user, *pt);
}

static void
test_sweep_points_match_direct_runs (void)
{
  g_autoptr (FwDataset) train = bars (90, 1, 7);
  g_autoptr (FwDataset) test = bars (30, 1, 8);
  int sizes[2] = { 4, 10 };
  g_autoptr (GArray) pts = g_array_new (FALSE, FALSE, sizeof (FwAugSweepPoint));
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_aug_sweep_run (train, test, sizes, 2, 2, 20, "mlp", 0, sweep_collect, pts,
                                   NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pts->len, ==, 2 * 2 * FW_AUG_SWEEP_N_PIPELINES);
  /* the "none" point of (size 10, seed 2), recomputed by hand */
  const FwAugSweepPoint *found = NULL;
  for (guint i = 0; i < pts->len; i++)
    {
      const FwAugSweepPoint *p = &g_array_index (pts, FwAugSweepPoint, i);
      g_assert_cmpfloat (p->test_acc, >=, 0);
      g_assert_cmpfloat (p->test_acc, <=, 1);
      if (p->pipeline == 0 && p->per_class == 10 && p->seed == 2)
        found = p;
    }
  g_assert_nonnull (found);
  g_autoptr (FwDataset) sub = fw_dataset_per_class (train, 10, 2, NULL);
  g_autofree char *spec = fw_model_arch_spec ("mlp", NULL, sub->shape, sub->n_classes, NULL);
  g_autoptr (FwModel) m = fw_model_new ("mlp", spec, sub->shape, &error);
  fw_model_init (m, 2);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.batch = 32;
  cfg.opt = FW_OPT_ADAM;
  cfg.lr = 1e-3;
  cfg.seed = 2;
  cfg.epochs = (20 * 32 + sub->n - 1) / sub->n;
  g_assert_true (fw_train (m, &cfg, sub, NULL, NULL, NULL, NULL, NULL, &error));
  g_autoptr (FwEvalResult) r = fw_evaluate (m, test, 500, NULL, &error);
  g_assert_cmpfloat (r->accuracy, ==, found->test_acc);
  /* a cancelled sweep stops with FW_ERROR_CANCELLED */
  g_autoptr (GCancellable) c = g_cancellable_new ();
  g_cancellable_cancel (c);
  g_autoptr (GError) e2 = NULL;
  g_assert_false (fw_aug_sweep_run (train, test, sizes, 1, 1, 5, "mlp", 0, NULL, NULL, c, &e2));
  g_assert_error (e2, FW_ERROR, FW_ERROR_CANCELLED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Augment/rot90_is_transpose_and_flip", test_rot90_is_transpose_and_flip);
  g_test_add_func ("/Augment/integer_translation_exact", test_integer_translation_exact);
  g_test_add_func ("/Augment/half_pixel_shift_is_bilinear", test_half_pixel_shift_is_bilinear);
  g_test_add_func ("/Augment/general_affine_matches_naive", test_general_affine_matches_naive);
  g_test_add_func ("/Augment/double_flip_identity", test_double_flip_identity);
  g_test_add_func ("/Augment/elastic_alpha_zero_identity", test_elastic_alpha_zero_identity);
  g_test_add_func ("/Augment/elastic_field_is_smoothed_noise",
                   test_elastic_field_is_smoothed_noise);
  g_test_add_func ("/Augment/cutmix_weight_is_area_fraction",
                   test_cutmix_weight_is_area_fraction);
  g_test_add_func ("/Augment/mixup_weights_sum_to_one", test_mixup_weights_sum_to_one);
  g_test_add_func ("/Augment/brightness_contrast_closed_form",
                   test_brightness_contrast_closed_form);
  g_test_add_func ("/Augment/same_seed_same_images", test_same_seed_same_images);
  g_test_add_func ("/Augment/pipeline_round_trip", test_pipeline_round_trip);
  g_test_add_func ("/Augment/bad_text_names_the_op", test_bad_text_names_the_op);
  g_test_add_func ("/Augment/affine_composite_matches_steps",
                   test_affine_composite_matches_steps);
  g_test_add_func ("/Augment/bench_pipeline", bench_pipeline);
  g_test_add_func ("/Augment/train_hflip_equals_flipped_data",
                   test_train_hflip_equals_flipped_data);
  g_test_add_func ("/Augment/train_augmented_is_seeded", test_train_augmented_is_seeded);
  g_test_add_func ("/Augment/recipe_augment_key", test_recipe_augment_key);
  g_test_add_func ("/Augment/sweep_points_match_direct_runs",
                   test_sweep_points_match_direct_runs);
  g_test_add_func ("/Augment/train_rejects_colour_ops_on_grey",
                   test_train_rejects_colour_ops_on_grey);
  return g_test_run ();
}
