/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-plots.c: headless tests of the plot library: ticks, colours, every draw function by its pixels, export. */
#include <math.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <cairo.h>

#include <gtk/gtk.h>

#include "fw-colors.h"
#include "fw-error.h"
#include "fw-lecture-figure.h"
#include "fw-plot.h"
#include "fw-plot-export.h"
#include "fw-plot-view.h"

/* ---- helpers ------------------------------------------------------------------------------- */

typedef struct {
  guint8 r, g, b;
} Px;

static cairo_surface_t *
new_surface (int w, int h)
{
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, w, h);
  g_assert_cmpint (cairo_surface_status (s), ==, CAIRO_STATUS_SUCCESS);
  return s;
}

static Px
pixel (cairo_surface_t *s, int x, int y)
{
  cairo_surface_flush (s);
  int w = cairo_image_surface_get_width (s), h = cairo_image_surface_get_height (s);
  g_assert_true (x >= 0 && y >= 0 && x < w && y < h);
  const guint8 *d = cairo_image_surface_get_data (s);
  guint32 v = *(const guint32 *) (d + (gsize) y * cairo_image_surface_get_stride (s) + 4 * x);
  /* backgrounds are opaque, so premultiplied == straight */
  return (Px) { (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };
}

static Px
px_of (FwRgba c)
{
  return (Px) { (guint8) lround (c.r * 255), (guint8) lround (c.g * 255),
                (guint8) lround (c.b * 255) };
}

static int
px_dist (Px a, Px b)
{
  return MAX (MAX (abs (a.r - b.r), abs (a.g - b.g)), abs (a.b - b.b));
}

/* Output directory for the review PNGs. */
static const char *
out_dir (void)
{
  const char *d = g_getenv ("G_TEST_BUILDDIR");
  return d ? d : ".";
}

static void
save_png (cairo_surface_t *s, const char *name)
{
  g_autofree char *path = g_build_filename (out_dir (), name, NULL);
  g_assert_cmpint (cairo_surface_write_to_png (s, path), ==, CAIRO_STATUS_SUCCESS);
  g_test_message ("wrote %s", path);
}

/* Independent sRGB -> relative luminance and CIELAB, written out here rather than calling the
 * library's own conversion. */
static double
lin (double c)
{
  return c <= 0.04045 ? c / 12.92 : pow ((c + 0.055) / 1.055, 2.4);
}

static double
luminance (FwRgba c)
{
  return 0.2126 * lin (c.r) + 0.7152 * lin (c.g) + 0.0722 * lin (c.b);
}

static void
linear_to_lab (const double rgb[3], double lab[3])
{
  double X = (0.4124 * rgb[0] + 0.3576 * rgb[1] + 0.1805 * rgb[2]) / 0.95047;
  double Y = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
  double Z = (0.0193 * rgb[0] + 0.1192 * rgb[1] + 0.9505 * rgb[2]) / 1.08883;
  double f[3], in[3] = { X, Y, Z };
  for (int i = 0; i < 3; i++)
    f[i] = in[i] > 216.0 / 24389.0 ? cbrt (in[i]) : (24389.0 / 27.0 * in[i] + 16) / 116;
  lab[0] = 116 * f[1] - 16;
  lab[1] = 500 * (f[0] - f[1]);
  lab[2] = 200 * (f[1] - f[2]);
}

/* ---- ticks --------------------------------------------------------------------------------- */

typedef struct {
  double lo, hi;
  guint  max_int;
  double first, step;
  guint  n;
} TickCase;

static void
test_ticks_closed_form (void)
{
  static const TickCase cases[] = {
    { 0, 1, 5, 0, 0.2, 6 },        /* 0, 0.2, ..., 1 */
    { 0, 97, 5, 0, 20, 6 },        /* 0, 20, ..., 100 */
    { 3, 7, 5, 3, 1, 5 },          /* 3, 4, 5, 6, 7 */
    { -1, 1, 4, -1, 0.5, 5 },
    { -37, 412, 5, -200, 200, 5 },  /* step 100 needs 6 intervals (-100..500) */
    { 0.001, 0.0093, 5, 0, 0.002, 6 },
    { 0, 1e6, 5, 0, 2e5, 6 },
    { 7, 3, 5, 3, 1, 5 },          /* swapped */
    { 0, 10, 2, 0, 5, 3 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const TickCase *c = &cases[i];
      FwTicks t;
      fw_nice_ticks (c->lo, c->hi, c->max_int, &t);
      g_test_message ("case %u: [%g, %g] -> first %g step %g n %u", i, c->lo, c->hi, t.first,
                      t.step, t.n);
      g_assert_cmpfloat_with_epsilon (t.first, c->first, 1e-12 * MAX (1, fabs (c->first)));
      g_assert_cmpfloat_with_epsilon (t.step, c->step, 1e-12 * c->step);
      g_assert_cmpuint (t.n, ==, c->n);
    }
  /* the values themselves, exactly */
  FwTicks t;
  fw_nice_ticks (0, 1, 5, &t);
  for (guint i = 0; i < t.n; i++)
    g_assert_cmpfloat_with_epsilon (fw_ticks_value (&t, i), 0.2 * i, 1e-12);
  /* degenerate input */
  fw_nice_ticks (5, 5, 5, &t);
  g_assert_cmpfloat (fw_ticks_value (&t, 0), <=, 5);
  g_assert_cmpfloat (fw_ticks_value (&t, t.n - 1), >=, 5);
  g_assert_cmpfloat (t.step, >, 0);
  fw_nice_ticks (NAN, 3, 5, &t);
  g_assert_cmpfloat (fw_ticks_value (&t, 0), ==, 0);
  g_assert_cmpfloat (fw_ticks_value (&t, t.n - 1), ==, 1);
}

/* The rule, checked against brute force on random ranges: the chosen step is of the form
 * {1,2,5} x 10^k, covers [lo, hi] in <= max intervals, and the next smaller nice step does not. */
static gboolean
is_nice (double step)
{
  double k = floor (log10 (step) + 1e-9);
  double m = step / pow (10, k);
  return fabs (m - 1) < 1e-9 || fabs (m - 2) < 1e-9 || fabs (m - 5) < 1e-9;
}

static double
smaller_nice (double step)
{
  double k = floor (log10 (step) + 1e-9);
  double m = round (step / pow (10, k));
  if (m == 1)
    return 5 * pow (10, k - 1);
  if (m == 2)
    return pow (10, k);
  return 2 * pow (10, k);
}

static guint
intervals_needed (double lo, double hi, double step)
{
  return (guint) (ceil (hi / step - 1e-9) - floor (lo / step + 1e-9));
}

static void
test_ticks_rule_brute_force (void)
{
  GRand *r = g_rand_new_with_seed (42);
  for (int it = 0; it < 2000; it++)
    {
      double scale = pow (10, g_rand_double_range (r, -6, 6));
      double lo = g_rand_double_range (r, -1, 1) * scale;
      double hi = lo + g_rand_double_range (r, 0.01, 3) * scale;
      guint max_int = g_rand_int_range (r, 2, 11);
      FwTicks t;
      fw_nice_ticks (lo, hi, max_int, &t);
      g_assert_true (is_nice (t.step));
      double first = fw_ticks_value (&t, 0), last = fw_ticks_value (&t, t.n - 1);
      g_assert_cmpfloat (first, <=, lo + 1e-9 * t.step);
      g_assert_cmpfloat (last, >=, hi - 1e-9 * t.step);
      g_assert_cmpuint (t.n - 1, <=, max_int);
      g_assert_cmpuint (t.n - 1, ==, intervals_needed (lo, hi, t.step));
      double smaller = smaller_nice (t.step);
      g_assert_cmpuint (intervals_needed (lo, hi, smaller), >, max_int);
    }
  g_rand_free (r);
}

static void
test_ticks_format (void)
{
  struct { double v, step; const char *want; } cases[] = {
    { 0.6000000000000001, 0.2, "0.6" }, { 20, 20, "20" },   { 0, 0.5, "0" },
    { -0.0, 1, "0" },                   { 1e-17, 0.1, "0" }, { 2.5, 0.5, "2.5" },
    { 0.004, 0.002, "0.004" },          { -100, 50, "-100" }, { 2e6, 1e6, "2e+06" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *s = fw_format_tick (cases[i].v, cases[i].step);
      g_assert_cmpstr (s, ==, cases[i].want);
    }
  FwTicks t;
  fw_log_ticks (0.03, 2, &t);  /* decades 10^-2 .. 10^1 */
  g_assert_cmpfloat (t.first, ==, -2);
  g_assert_cmpuint (t.n, ==, 4);
}

/* ---- colours ------------------------------------------------------------------------------- */

static void
test_viridis (void)
{
  FwRgba lo = fw_colormap_viridis (0), hi = fw_colormap_viridis (1);
  /* matplotlib viridis endpoints #440154 and #fde725 */
  g_assert_cmpint (px_dist (px_of (lo), (Px) { 0x44, 0x01, 0x54 }), <=, 1);
  g_assert_cmpint (px_dist (px_of (hi), (Px) { 0xfd, 0xe7, 0x25 }), <=, 1);
  /* clamped outside [0,1] */
  g_assert_cmpint (px_dist (px_of (fw_colormap_viridis (-3)), px_of (lo)), ==, 0);
  g_assert_cmpint (px_dist (px_of (fw_colormap_viridis (7)), px_of (hi)), ==, 0);
  /* strictly increasing luminance, computed here */
  double prev = -1;
  for (int i = 0; i <= 1000; i++)
    {
      double L = luminance (fw_colormap_viridis (i / 1000.0));
      g_assert_cmpfloat (L, >, prev);
      prev = L;
    }
  g_assert_cmpfloat (luminance (hi) / MAX (luminance (lo), 1e-6), >, 20);
  /* fw_colormap_map over a range */
  g_assert_cmpint (px_dist (px_of (fw_colormap_map (FW_COLORMAP_VIRIDIS, 5, 5, 15)), px_of (lo)),
                   ==, 0);
  g_assert_cmpint (px_dist (px_of (fw_colormap_map (FW_COLORMAP_VIRIDIS, 15, 5, 15)), px_of (hi)),
                   ==, 0);
}

static void
test_diverging (void)
{
  FwRgba neg = fw_colormap_diverging (-1), zero = fw_colormap_diverging (0),
         pos = fw_colormap_diverging (1);
  g_assert_cmpfloat (zero.r, >, 0.93);
  g_assert_cmpfloat (zero.g, >, 0.93);
  g_assert_cmpfloat (zero.b, >, 0.93);
  g_assert_cmpfloat (neg.b, >, neg.r + 0.2);  /* blue */
  g_assert_cmpfloat (pos.r, >, pos.b + 0.2);  /* red */
  /* lightness peaks at zero and falls monotonically on both sides */
  double prev = -1;
  for (int i = 0; i <= 500; i++)
    {
      double L = luminance (fw_colormap_diverging (-1 + i / 500.0));
      g_assert_cmpfloat (L, >=, prev - 1e-9);
      prev = L;
    }
  for (int i = 0; i <= 500; i++)
    {
      double L = luminance (fw_colormap_diverging (i / 500.0));
      g_assert_cmpfloat (L, <=, prev + 1e-9);
      prev = L;
    }
  /* zero stays the centre for an asymmetric range */
  FwRgba z2 = fw_colormap_map (FW_COLORMAP_DIVERGING, 0, -1, 3);
  g_assert_cmpint (px_dist (px_of (z2), px_of (zero)), ==, 0);
  FwRgba m = fw_colormap_map (FW_COLORMAP_DIVERGING, -3, -1, 3);
  g_assert_cmpint (px_dist (px_of (m), px_of (neg)), ==, 0);
}

/* Machado, Oliveira & Fernandes (2009) dichromacy simulation matrices, severity 1, applied in
 * linear RGB. */
static const double protan[9] = { 0.152286, 1.052583, -0.204868, 0.114503, 0.786281,
                                  0.099216, -0.003882, -0.048116, 1.051998 };
static const double deutan[9] = { 0.367322, 0.860646, -0.227968, 0.280085, 0.672501,
                                  0.047413, -0.011820, 0.042940, 0.968881 };

static void
palette_lab (int i, const double *m, double lab[3])
{
  FwRgba c = fw_palette_color (i);
  double l[3] = { lin (c.r), lin (c.g), lin (c.b) }, s[3];
  for (int r = 0; r < 3; r++)
    s[r] = m ? CLAMP (m[3 * r] * l[0] + m[3 * r + 1] * l[1] + m[3 * r + 2] * l[2], 0, 1) : l[r];
  linear_to_lab (s, lab);
}

static void
test_palette (void)
{
  g_assert_cmpint (FW_PALETTE_SIZE, ==, 10);
  struct { const double *m; const char *name; double min_de; } visions[] = {
    { NULL, "normal", 20.0 }, { protan, "protanopia", 10.0 }, { deutan, "deuteranopia", 10.0 },
  };
  for (guint v = 0; v < G_N_ELEMENTS (visions); v++)
    {
      double worst = 1e9;
      for (int i = 0; i < 10; i++)
        for (int j = i + 1; j < 10; j++)
          {
            double a[3], b[3];
            palette_lab (i, visions[v].m, a);
            palette_lab (j, visions[v].m, b);
            double de = sqrt ((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1])
                              + (a[2] - b[2]) * (a[2] - b[2]));
            worst = MIN (worst, de);
            if (de <= visions[v].min_de)
              g_error ("palette colours %d and %d differ by dE %.1f under %s", i, j, de,
                       visions[v].name);
          }
      g_test_message ("palette: smallest pairwise dE76 under %s vision = %.1f", visions[v].name,
                      worst);
    }
  /* wraps, hex agrees with the colour, negative is a neutral grey */
  g_assert_cmpint (px_dist (px_of (fw_palette_color (13)), px_of (fw_palette_color (3))), ==, 0);
  FwRgba parsed;
  g_assert_true (fw_rgba_parse (fw_palette_hex (4), &parsed));
  g_assert_cmpint (px_dist (px_of (parsed), px_of (fw_palette_color (4))), ==, 0);
  FwRgba grey = fw_palette_color (-1);
  g_assert_cmpfloat (fabs (grey.r - grey.g) + fabs (grey.g - grey.b), <, 0.01);
  g_assert_false (fw_rgba_parse ("12345", &parsed));
  g_assert_false (fw_rgba_parse ("#12g", &parsed));
}

static void
test_theme_contrast (void)
{
  for (int dark = 0; dark <= 1; dark++)
    {
      FwRgba bg = fw_theme_color (FW_THEME_BACKGROUND, dark);
      FwRgba text = fw_theme_color (FW_THEME_TEXT, dark);
      FwRgba muted = fw_theme_color (FW_THEME_TEXT_MUTED, dark);
      double lb = luminance (bg), lt = luminance (text), lm = luminance (muted);
      double ct = (MAX (lb, lt) + 0.05) / (MIN (lb, lt) + 0.05);
      double cm = (MAX (lb, lm) + 0.05) / (MIN (lb, lm) + 0.05);
      g_assert_cmpfloat (ct, >=, 7.0);
      g_assert_cmpfloat (cm, >=, 4.5);
      g_assert_cmpfloat (fabs (fw_rgba_contrast (bg, text) - ct), <, 1e-9);
      g_assert_true (dark ? lb < 0.05 : lb > 0.9);
    }
  /* text on cells: white on dark viridis, black on bright viridis */
  g_assert_cmpfloat (fw_rgba_text_on (fw_colormap_viridis (0)).r, ==, 1.0);
  g_assert_cmpfloat (fw_rgba_text_on (fw_colormap_viridis (1)).r, ==, 0.0);
}

/* ---- line plot ----------------------------------------------------------------------------- */

/* Bounding box of pixels within @tol of colour @c; returns the count. */
static int
find_color (cairo_surface_t *s, Px c, int tol, int *x0, int *y0, int *x1, int *y1)
{
  int w = cairo_image_surface_get_width (s), h = cairo_image_surface_get_height (s), n = 0;
  *x0 = *y0 = G_MAXINT;
  *x1 = *y1 = -1;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if (px_dist (pixel (s, x, y), c) <= tol)
        {
          n++;
          *x0 = MIN (*x0, x);
          *y0 = MIN (*y0, y);
          *x1 = MAX (*x1, x);
          *y1 = MAX (*y1, y);
        }
  return n;
}

static void
check_diagonal (cairo_surface_t *s, Px c, const char *what)
{
  int w = cairo_image_surface_get_width (s), h = cairo_image_surface_get_height (s);
  int x0, y0, x1, y1;
  int n = find_color (s, c, 40, &x0, &y0, &x1, &y1);
  g_test_message ("%s: %d line pixels in [%d,%d]x[%d,%d]", what, n, x0, x1, y0, y1);
  g_assert_cmpint (n, >, 200);
  /* the line spans most of the image both ways */
  g_assert_cmpint (x1 - x0, >, w / 2);
  g_assert_cmpint (y1 - y0, >, h / 2);
  /* every line pixel lies near the rising diagonal of its bounding box; none in the corners */
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++)
      {
        if (px_dist (pixel (s, x, y), c) > 40)
          continue;
        double expect_y = y1 - (double) (x - x0) / (x1 - x0) * (y1 - y0);
        if (fabs (y - expect_y) > 4.0)
          g_error ("%s: line pixel (%d,%d) is %.1f px off the diagonal", what, x, y,
                   fabs (y - expect_y));
      }
  /* the opposite corners hold no line colour */
  int qx = (x1 - x0) / 4, qy = (y1 - y0) / 4;
  for (int y = y0; y < y0 + qy; y++)
    for (int x = x0; x < x0 + qx; x++)
      g_assert_cmpint (px_dist (pixel (s, x, y), c), >, 40);
  for (int y = y1 - qy; y <= y1; y++)
    for (int x = x1 - qx; x <= x1; x++)
      g_assert_cmpint (px_dist (pixel (s, x, y), c), >, 40);
}

static void
test_line_diagonal (void)
{
  g_autoptr (FwLinePlot) p = fw_line_plot_new ();
  guint s = fw_line_plot_add_series (p, "y = x", 0);
  for (int i = 0; i <= 100; i++)
    fw_line_plot_append (p, s, i / 100.0, i / 100.0);
  fw_line_plot_set_x_label (p, "x", "m");
  fw_line_plot_set_y_label (p, "y", "m");
  cairo_surface_t *surf = new_surface (400, 300);
  cairo_t *cr = cairo_create (surf);
  fw_plot_draw_line (cr, p, 400, 300, NULL);
  cairo_destroy (cr);
  Px c = px_of (fw_palette_color (0));
  check_diagonal (surf, c, "y = x");

  /* pick: the point under the middle of the line is x = y = 0.5 */
  int x0, y0, x1, y1;
  find_color (surf, c, 40, &x0, &y0, &x1, &y1);
  guint ps;
  gsize pi;
  g_assert_true (fw_line_plot_pick (p, 400, 300, NULL, (x0 + x1) / 2.0, (y0 + y1) / 2.0, 6,
                                    &ps, &pi));
  g_assert_cmpuint (ps, ==, s);
  g_assert_cmpint (labs ((long) pi - 50), <=, 2);
  g_assert_false (fw_line_plot_pick (p, 400, 300, NULL, x0 + 5, y0 + 5, 6, &ps, &pi));
  cairo_surface_destroy (surf);
}

static void
test_line_log_y (void)
{
  /* y = 10^(3x) is a straight line on a log axis */
  g_autoptr (FwLinePlot) p = fw_line_plot_new ();
  guint s = fw_line_plot_add_series (p, "exp", 3);
  for (int i = 0; i <= 60; i++)
    fw_line_plot_append (p, s, i / 60.0, pow (10, 3.0 * i / 60.0));
  fw_line_plot_append (p, s, 1.1, -5);  /* not drawable on a log axis: skipped */
  fw_line_plot_set_log_y (p, TRUE);
  fw_line_plot_set_x_range (p, 0, 1);
  cairo_surface_t *surf = new_surface (420, 320);
  cairo_t *cr = cairo_create (surf);
  fw_plot_draw_line (cr, p, 420, 320, NULL);
  cairo_destroy (cr);
  check_diagonal (surf, px_of (fw_palette_color (3)), "log y");
  cairo_surface_destroy (surf);
}

static void
test_line_log_x (void)
{
  /* x = 10^(3t), y = t: a straight diagonal on a log x axis; x <= 0 is skipped */
  g_autoptr (FwLinePlot) p = fw_line_plot_new ();
  guint s = fw_line_plot_add_series (p, "log", 4);
  for (int i = 0; i <= 60; i++)
    fw_line_plot_append (p, s, pow (10, 3.0 * i / 60.0), i / 60.0);
  fw_line_plot_append (p, s, -3, 0.5);
  fw_line_plot_set_log_x (p, TRUE);
  fw_line_plot_set_y_range (p, 0, 1);
  cairo_surface_t *surf = new_surface (420, 320);
  cairo_t *cr = cairo_create (surf);
  fw_plot_draw_line (cr, p, 420, 320, NULL);
  cairo_destroy (cr);
  check_diagonal (surf, px_of (fw_palette_color (4)), "log x");
  cairo_surface_destroy (surf);
}

/* Points-only series: dots of the series colour with error bars spanning the band, no line
 * between the dots. */
static void
test_line_points_error_bars (void)
{
  g_autoptr (FwLinePlot) p = fw_line_plot_new ();
  guint s = fw_line_plot_add_series (p, "seeds", 1);
  fw_line_plot_series_set_points_only (p, s, TRUE);
  fw_line_plot_append_band (p, s, 0.25, 0.5, 0.2, 0.8);
  fw_line_plot_append (p, s, 0.75, 0.5);
  fw_line_plot_set_x_range (p, 0, 1);
  fw_line_plot_set_y_range (p, 0, 1);
  cairo_surface_t *surf = new_surface (400, 300);
  cairo_t *cr = cairo_create (surf);
  fw_plot_draw_line (cr, p, 400, 300, NULL);
  cairo_destroy (cr);
  Px c = px_of (fw_palette_color (1));
  int x0, y0, x1, y1;
  find_color (surf, c, 10, &x0, &y0, &x1, &y1);
  /* the first point's bar spans 0.2..0.8 of the axis: 60% of the height between y = 0 and 1;
   * the second has none, so the coloured box is as tall as the bar */
  int xm = (x0 + x1) / 2, ym = (y0 + y1) / 2;
  g_assert_cmpint (y1 - y0, >, 100);
  /* no line between the two dots: the colour is absent half-way between them */
  g_assert_cmpint (px_dist (pixel (surf, xm, ym), c), >, 10);
  cairo_surface_destroy (surf);
}

/* Long series take the envelope path (many points per pixel column): a smooth one is still a
 * thin diagonal, a zigzag one fills the band between its extremes. */
static void
test_line_long_series (void)
{
  g_autoptr (FwLinePlot) p = fw_line_plot_new ();
  guint s = fw_line_plot_add_series (p, "y = x", 0);
  for (int i = 0; i <= 20000; i++)
    fw_line_plot_append (p, s, i / 20000.0, i / 20000.0);
  cairo_surface_t *surf = new_surface (400, 300);
  cairo_t *cr = cairo_create (surf);
  fw_plot_draw_line (cr, p, 400, 300, NULL);
  cairo_destroy (cr);
  check_diagonal (surf, px_of (fw_palette_color (0)), "20k points y = x");
  cairo_surface_destroy (surf);

  g_autoptr (FwLinePlot) z = fw_line_plot_new ();
  s = fw_line_plot_add_series (z, "zigzag", 2);
  for (int i = 0; i <= 20000; i++)
    fw_line_plot_append (z, s, i / 20000.0, 0.25 + 0.5 * (i % 2));
  fw_line_plot_set_y_range (z, 0, 1);
  surf = new_surface (400, 300);
  cr = cairo_create (surf);
  fw_plot_draw_line (cr, z, 400, 300, NULL);
  cairo_destroy (cr);
  Px c = px_of (fw_palette_color (2));
  int x0, y0, x1, y1;
  find_color (surf, c, 10, &x0, &y0, &x1, &y1);
  /* band from y = 0.25 to 0.75: half the plot height; solid inside */
  int mid_y = (y0 + y1) / 2;
  for (int x = x0 + 2; x < x1 - 2; x += 7)
    g_assert_cmpint (px_dist (pixel (surf, x, mid_y), c), <=, 10);
  g_assert_cmpint (x1 - x0, >, 250);
  double frac = (double) (y1 - y0) / (300 - 40);
  g_assert_cmpfloat (frac, >, 0.4);
  g_assert_cmpfloat (frac, <, 0.65);
  cairo_surface_destroy (surf);
}

static int
count_color_in_rows (cairo_surface_t *s, Px c, int ya, int yb)
{
  int n = 0, w = cairo_image_surface_get_width (s);
  for (int y = ya; y < yb; y++)
    for (int x = 0; x < w; x++)
      n += px_dist (pixel (s, x, y), c) <= 30;
  return n;
}

static void
test_line_legend_only_with_two_series (void)
{
  /* data in the lower half of a fixed 0..1 range: series colour in the top band of the image
   * can only be a legend swatch */
  for (int n_series = 1; n_series <= 2; n_series++)
    {
      g_autoptr (FwLinePlot) p = fw_line_plot_new ();
      fw_line_plot_set_y_range (p, 0, 1);
      for (int k = 0; k < n_series; k++)
        {
          guint s = fw_line_plot_add_series (p, k ? "validation" : "train", k);
          for (int i = 0; i <= 20; i++)
            fw_line_plot_append (p, s, i, 0.1 + 0.01 * i + 0.1 * k);
        }
      /* a series without points yet does not count */
      fw_line_plot_add_series (p, "test", 3);
      cairo_surface_t *surf = new_surface (500, 300);
      cairo_t *cr = cairo_create (surf);
      fw_plot_draw_line (cr, p, 500, 300, NULL);
      cairo_destroy (cr);
      int top0 = count_color_in_rows (surf, px_of (fw_palette_color (0)), 0, 40);
      int top1 = count_color_in_rows (surf, px_of (fw_palette_color (1)), 0, 40);
      g_assert_cmpint (count_color_in_rows (surf, px_of (fw_palette_color (3)), 0, 300), ==, 0);
      if (n_series == 1)
        g_assert_cmpint (top0, ==, 0);
      else
        {
          g_assert_cmpint (top0, >, 5);
          g_assert_cmpint (top1, >, 5);
        }
      cairo_surface_destroy (surf);
    }
}

static void
test_line_band (void)
{
  g_autoptr (FwLinePlot) p = fw_line_plot_new ();
  guint s = fw_line_plot_add_series (p, "mean", 2);
  for (int i = 0; i <= 10; i++)
    fw_line_plot_append_band (p, s, i, 5, 3, 7);
  fw_line_plot_set_y_range (p, 0, 10);
  cairo_surface_t *surf = new_surface (400, 300);
  cairo_t *cr = cairo_create (surf);
  fw_plot_draw_line (cr, p, 400, 300, NULL);
  cairo_destroy (cr);
  /* find the horizontal line (y = 5), then look 1/10 of the plot height above it: the band
   * tint (series colour over white) is there */
  Px c = px_of (fw_palette_color (2));
  int x0, y0, x1, y1;
  g_assert_cmpint (find_color (surf, c, 40, &x0, &y0, &x1, &y1), >, 100);
  int yl = (y0 + y1) / 2, xm = (x0 + x1) / 2;
  Px tint = pixel (surf, xm, yl - 12);
  FwRgba col = fw_palette_color (2);
  Px expect = { (guint8) lround (255 * (0.78 + 0.22 * col.r)),
                (guint8) lround (255 * (0.78 + 0.22 * col.g)),
                (guint8) lround (255 * (0.78 + 0.22 * col.b)) };
  g_assert_cmpint (px_dist (tint, expect), <=, 3);
  cairo_surface_destroy (surf);
}

static void
test_line_empty_state (void)
{
  g_autoptr (FwLinePlot) p = fw_line_plot_new ();
  fw_line_plot_add_series (p, "train", 0);
  cairo_surface_t *surf = new_surface (300, 200);
  cairo_t *cr = cairo_create (surf);
  fw_plot_draw_line (cr, p, 300, 200, NULL);
  cairo_destroy (cr);
  /* some text pixels around the centre, none of the series colour, corners are background */
  Px bg = px_of (fw_theme_color (FW_THEME_BACKGROUND, FALSE));
  int text = 0;
  for (int y = 80; y < 120; y++)
    for (int x = 50; x < 250; x++)
      text += px_dist (pixel (surf, x, y), bg) > 60;
  g_assert_cmpint (text, >, 20);
  int x0, y0, x1, y1;
  g_assert_cmpint (find_color (surf, px_of (fw_palette_color (0)), 30, &x0, &y0, &x1, &y1), ==, 0);
  g_assert_cmpint (px_dist (pixel (surf, 2, 2), bg), ==, 0);
  cairo_surface_destroy (surf);
}

/* NaN and infinities are data a training run can produce: they leave gaps, never break a plot. */
static void
test_non_finite (void)
{
  cairo_surface_t *surf = new_surface (300, 200);
  cairo_t *cr = cairo_create (surf);

  g_autoptr (FwLinePlot) lp = fw_line_plot_new ();
  guint s = fw_line_plot_add_series (lp, "loss", 0);
  fw_line_plot_append (lp, s, 0, 1);
  fw_line_plot_append (lp, s, 1, NAN);
  fw_line_plot_append (lp, s, 2, INFINITY);
  fw_line_plot_append (lp, s, NAN, 3);
  fw_line_plot_append (lp, s, 3, 0.5);
  fw_line_plot_append (lp, s, 4, 0.25);
  fw_plot_draw_line (cr, lp, 300, 200, NULL);
  g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);
  /* only NaN: the empty state, no crash */
  g_autoptr (FwLinePlot) only_nan = fw_line_plot_new ();
  s = fw_line_plot_add_series (only_nan, "loss", 0);
  fw_line_plot_append (only_nan, s, NAN, NAN);
  fw_plot_draw_line (cr, only_nan, 300, 200, NULL);

  float xy[6] = { 0, 0, NAN, 1, 1, INFINITY };
  g_autoptr (FwScatterPlot) sp = fw_scatter_plot_new ();
  fw_scatter_plot_set_points (sp, xy, NULL, 3);
  fw_plot_draw_scatter (cr, sp, 300, 200, NULL);
  g_assert_cmpint (fw_scatter_plot_pick (sp, 300, 200, NULL, 150, 100, 500), ==, 0);

  double hv[4] = { NAN, 1, INFINITY, 0 };
  g_autoptr (FwHeatmap) h = fw_heatmap_new (2, 2);
  fw_heatmap_set_values (h, hv);
  g_assert_true (fw_heatmap_is_masked (h, 0, 0));
  fw_plot_draw_heatmap (cr, h, 300, 200, NULL);

  double bv[3] = { 1, NAN, -INFINITY };
  g_autoptr (FwBarChart) b = fw_bar_chart_new ();
  fw_bar_chart_set_data (b, bv, NULL, 3);
  fw_plot_draw_bars (cr, b, 300, 200, NULL);

  /* zero and tiny sizes */
  fw_plot_draw_line (cr, lp, 0, 0, NULL);
  fw_plot_draw_heatmap (cr, h, 3, 2, NULL);
  fw_plot_draw_scatter (cr, sp, 1, 1, NULL);
  g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);
  cairo_destroy (cr);
  cairo_surface_destroy (surf);
}

static void
test_dark_background (void)
{
  g_autoptr (FwBarChart) b = fw_bar_chart_new ();
  double v[3] = { 1, 2, 3 };
  fw_bar_chart_set_data (b, v, NULL, 3);
  FwPlotStyle st;
  fw_plot_style_init (&st);
  st.dark = TRUE;
  cairo_surface_t *surf = new_surface (200, 150);
  cairo_t *cr = cairo_create (surf);
  fw_plot_draw_bars (cr, b, 200, 150, &st);
  cairo_destroy (cr);
  g_assert_cmpint (px_dist (pixel (surf, 1, 1), px_of (fw_theme_color (FW_THEME_BACKGROUND, TRUE))),
                   ==, 0);
  cairo_surface_destroy (surf);
}

/* ---- scatter ------------------------------------------------------------------------------- */

static FwScatterPlot *
make_clusters (gsize n)
{
  /* deterministic LCG, two Gaussian-ish clusters per class in a 10-class layout */
  float *xy = g_new (float, 2 * n);
  int *cls = g_new (int, n);
  guint32 st = 12345;
  for (gsize i = 0; i < n; i++)
    {
      int k = (int) (i % 10);
      double u = 0, v = 0;
      for (int j = 0; j < 4; j++)
        {
          st = st * 1664525u + 1013904223u;
          u += (st >> 8) / 16777216.0 - 0.5;
          st = st * 1664525u + 1013904223u;
          v += (st >> 8) / 16777216.0 - 0.5;
        }
      xy[2 * i] = (float) (5 * cos (k * 0.628) + u);
      xy[2 * i + 1] = (float) (5 * sin (k * 0.628) + v);
      cls[i] = k;
    }
  FwScatterPlot *p = fw_scatter_plot_new ();
  fw_scatter_plot_set_points (p, xy, cls, n);
  g_free (xy);
  g_free (cls);
  return p;
}

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static void
test_scatter_speed (void)
{
  g_autoptr (FwScatterPlot) p = make_clusters (20000);
  fw_scatter_plot_set_point_size (p, 4);
  cairo_surface_t *surf = new_surface (800, 600);
  double t[7];
  for (int rep = 0; rep < 7; rep++)
    {
      cairo_t *cr = cairo_create (surf);
      gint64 t0 = g_get_monotonic_time ();
      fw_plot_draw_scatter (cr, p, 800, 600, NULL);
      cairo_surface_flush (surf);
      t[rep] = (g_get_monotonic_time () - t0) / 1000.0;
      cairo_destroy (cr);
    }
  qsort (t, 7, sizeof (double), cmp_double);
  /* reported, not asserted: timing belongs to benchmarks */
  g_test_message ("scatter: 20000 points, 800x600 image surface: median %.1f ms (min %.1f)", t[3],
                  t[0]);
  g_printerr ("# scatter: 20000 points on an 800x600 image surface: median %.1f ms, min %.1f ms\n",
              t[3], t[0]);
  /* every class colour is present */
  for (int k = 0; k < 10; k++)
    {
      Px e = px_of (fw_palette_color (k));
      int x0, y0, x1, y1;
      g_assert_cmpint (find_color (surf, e, 2, &x0, &y0, &x1, &y1), >, 50);
    }
  cairo_surface_destroy (surf);
}

static void
test_scatter_pick_and_colors (void)
{
  float xy[] = { 0, 0, 10, 10, 10, 0 };
  int cls[] = { 0, 1, 5 };
  g_autoptr (FwScatterPlot) p = fw_scatter_plot_new ();
  fw_scatter_plot_set_points (p, xy, cls, 3);
  fw_scatter_plot_set_point_size (p, 10);
  const int W = 300, H = 300;
  cairo_surface_t *surf = new_surface (W, H);
  cairo_t *cr = cairo_create (surf);
  fw_plot_draw_scatter (cr, p, W, H, NULL);
  cairo_destroy (cr);
  cairo_surface_t *rec = cairo_recording_surface_create (CAIRO_CONTENT_COLOR_ALPHA, NULL);
  cr = cairo_create (rec);
  fw_plot_draw_scatter (cr, p, W, H, NULL);
  cairo_destroy (cr);
  cairo_surface_t *vec = new_surface (W, H);
  cr = cairo_create (vec);
  cairo_set_source_surface (cr, rec, 0, 0);
  cairo_paint (cr);
  cairo_destroy (cr);
  cairo_surface_destroy (rec);
  /* data -> pixel through the inverse of to_data (it is affine) */
  double ax0, ay0, ax1, ay1;
  fw_scatter_plot_to_data (p, W, H, NULL, 0, 0, &ax0, &ay0);
  fw_scatter_plot_to_data (p, W, H, NULL, 100, 100, &ax1, &ay1);
  for (int i = 0; i < 3; i++)
    {
      double px = (xy[2 * i] - ax0) / (ax1 - ax0) * 100, py = (xy[2 * i + 1] - ay0) / (ay1 - ay0) * 100;
      Px e = px_of (fw_palette_color (cls[i]));
      g_assert_cmpint (px_dist (pixel (surf, (int) px, (int) py), e), ==, 0);
      /* the vector path (recording surface, as for SVG/PDF) agrees with the raster stamp */
      g_assert_cmpint (px_dist (pixel (vec, (int) px, (int) py), e), ==, 0);
      g_assert_cmpint (fw_scatter_plot_pick (p, W, H, NULL, px + 2, py - 2, 6), ==, i);
    }
  /* far from every point */
  double cx = (5 - ax0) / (ax1 - ax0) * 100, cy = (7 - ay0) / (ay1 - ay0) * 100;
  g_assert_cmpint (fw_scatter_plot_pick (p, W, H, NULL, cx, cy, 6), ==, -1);
  cairo_surface_destroy (surf);
  cairo_surface_destroy (vec);
}

static void
test_scatter_zoom_pan (void)
{
  g_autoptr (FwScatterPlot) p = make_clusters (500);
  const int W = 400, H = 300;
  double x_before, y_before, x_after, y_after, vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
  fw_scatter_plot_get_view (p, &vx0, &vx1, &vy0, &vy1);
  fw_scatter_plot_to_data (p, W, H, NULL, 150, 120, &x_before, &y_before);
  fw_scatter_plot_zoom (p, W, H, NULL, 150, 120, 2.0);
  fw_scatter_plot_to_data (p, W, H, NULL, 150, 120, &x_after, &y_after);
  fw_scatter_plot_get_view (p, &wx0, &wx1, &wy0, &wy1);
  g_assert_cmpfloat_with_epsilon (x_after, x_before, 1e-9 * (vx1 - vx0));
  g_assert_cmpfloat_with_epsilon (y_after, y_before, 1e-9 * (vy1 - vy0));
  g_assert_cmpfloat_with_epsilon (wx1 - wx0, (vx1 - vx0) / 2, 1e-9);
  g_assert_cmpfloat_with_epsilon (wy1 - wy0, (vy1 - vy0) / 2, 1e-9);
  /* pan: what was under (100, 100) is under (130, 90) afterwards */
  fw_scatter_plot_to_data (p, W, H, NULL, 100, 100, &x_before, &y_before);
  fw_scatter_plot_pan (p, W, H, NULL, 30, -10);
  fw_scatter_plot_to_data (p, W, H, NULL, 130, 90, &x_after, &y_after);
  g_assert_cmpfloat_with_epsilon (x_after, x_before, 1e-9 * (vx1 - vx0));
  g_assert_cmpfloat_with_epsilon (y_after, y_before, 1e-9 * (vy1 - vy0));
  fw_scatter_plot_reset_view (p);
  fw_scatter_plot_get_view (p, &wx0, &wx1, &wy0, &wy1);
  g_assert_cmpfloat (wx0, ==, vx0);
  g_assert_cmpfloat (wy1, ==, vy1);
}

/* ---- heatmap ------------------------------------------------------------------------------- */

/* Centre of cell (row, col) from fw_heatmap_cell_rect, checked against fw_heatmap_pick: the
 * centre and points just inside the cell's corners pick that cell; points just outside do not. */
static gboolean
cell_centre (const FwHeatmap *h, int W, int H, guint row, guint col, int *cx, int *cy)
{
  double x, y, w, hh;
  if (!fw_heatmap_cell_rect (h, W, H, NULL, row, col, &x, &y, &w, &hh))
    return FALSE;
  guint r, c;
  double in[5][2] = { { x + w / 2, y + hh / 2 }, { x + 1, y + 1 }, { x + w - 1, y + 1 },
                      { x + 1, y + hh - 1 }, { x + w - 1, y + hh - 1 } };
  for (int i = 0; i < 5; i++)
    {
      g_assert_true (fw_heatmap_pick (h, W, H, NULL, in[i][0], in[i][1], &r, &c));
      g_assert_cmpuint (r, ==, row);
      g_assert_cmpuint (c, ==, col);
    }
  double out[4][2] = { { x - 1, y + hh / 2 }, { x + w + 1, y + hh / 2 }, { x + w / 2, y - 1 },
                       { x + w / 2, y + hh + 1 } };
  for (int i = 0; i < 4; i++)
    if (fw_heatmap_pick (h, W, H, NULL, out[i][0], out[i][1], &r, &c))
      g_assert_true (r != row || c != col);
  *cx = (int) floor (x + w / 2);
  *cy = (int) floor (y + hh / 2);
  return TRUE;
}

static void
test_heatmap_2x2 (void)
{
  double v[4] = { 0, 1, 1, 0 };
  g_autoptr (FwHeatmap) h = fw_heatmap_new (2, 2);
  fw_heatmap_set_values (h, v);
  const int W = 160, H = 120;
  cairo_surface_t *surf = new_surface (W, H);
  cairo_t *cr = cairo_create (surf);
  fw_plot_draw_heatmap (cr, h, W, H, NULL);
  cairo_destroy (cr);
  int cx, cy;
  g_assert_true (cell_centre (h, W, H, 0, 0, &cx, &cy));
  g_assert_cmpint (px_dist (pixel (surf, cx, cy), px_of (fw_colormap_viridis (0))), <=, 1);
  g_assert_true (cell_centre (h, W, H, 0, 1, &cx, &cy));
  g_assert_cmpint (px_dist (pixel (surf, cx, cy), px_of (fw_colormap_viridis (1))), <=, 1);
  int lx, ly;
  g_assert_true (cell_centre (h, W, H, 1, 0, &lx, &ly));
  g_assert_cmpint (px_dist (pixel (surf, lx, ly), px_of (fw_colormap_viridis (1))), <=, 1);
  /* geometry: top-right is right of top-left, bottom-left below it */
  int tx, ty;
  cell_centre (h, W, H, 0, 0, &tx, &ty);
  g_assert_cmpint (cx, >, tx);
  g_assert_cmpint (ly, >, ty);
  cairo_surface_destroy (surf);
}

static void
test_heatmap_mask_and_values (void)
{
  double v[9] = { 0, 50, 100, 25, 75, 0, 100, 50, 25 };
  guint8 mask[9] = { 0, 0, 0, 0, 1, 0, 0, 0, 0 };
  g_autoptr (FwHeatmap) h = fw_heatmap_new (3, 3);
  fw_heatmap_set_values (h, v);
  fw_heatmap_set_mask (h, mask);
  fw_heatmap_set_show_values (h, TRUE, "%.0f");
  const int W = 300, H = 240;
  cairo_surface_t *surf = new_surface (W, H);
  cairo_t *cr = cairo_create (surf);
  fw_plot_draw_heatmap (cr, h, W, H, NULL);
  cairo_destroy (cr);
  g_assert_true (fw_heatmap_is_masked (h, 1, 1));
  /* masked centre cell: only greys (hatching over a light base), never the colour map */
  int cx, cy;
  g_assert_true (cell_centre (h, W, H, 1, 1, &cx, &cy));
  int greys_dark = 0, greys_light = 0;
  for (int y = cy - 10; y <= cy + 10; y++)
    for (int x = cx - 10; x <= cx + 10; x++)
      {
        Px p = pixel (surf, x, y);
        g_assert_cmpint (MAX (abs (p.r - p.g), abs (p.g - p.b)), <=, 2);
        if (p.r < 200)
          greys_dark++;
        else
          greys_light++;
      }
  g_assert_cmpint (greys_dark, >, 20);
  g_assert_cmpint (greys_light, >, 20);
  /* numbers: white text in the darkest cell (value 0), black in the brightest (100) */
  int ax, ay, bx, by;
  g_assert_true (cell_centre (h, W, H, 0, 0, &ax, &ay));
  g_assert_true (cell_centre (h, W, H, 0, 2, &bx, &by));
  int light_in_dark = 0, dark_in_light = 0;
  for (int y = -6; y <= 6; y++)
    for (int x = -6; x <= 6; x++)
      {
        Px a = pixel (surf, ax + x, ay + y), b = pixel (surf, bx + x, by + y);
        light_in_dark += a.r > 200 && a.g > 200 && a.b > 200;
        dark_in_light += b.r < 60 && b.g < 60 && b.b < 60;
      }
  g_assert_cmpint (light_in_dark, >, 3);
  g_assert_cmpint (dark_in_light, >, 3);
  cairo_surface_destroy (surf);
}

static void
test_heatmap_diverging (void)
{
  double v[3] = { -2, 0, 1 };
  g_autoptr (FwHeatmap) h = fw_heatmap_new (1, 3);
  fw_heatmap_set_values (h, v);
  fw_heatmap_set_colormap (h, FW_COLORMAP_DIVERGING);
  const int W = 300, H = 160;
  cairo_surface_t *surf = new_surface (W, H);
  cairo_t *cr = cairo_create (surf);
  fw_plot_draw_heatmap (cr, h, W, H, NULL);
  cairo_destroy (cr);
  int x, y;
  g_assert_true (cell_centre (h, W, H, 0, 0, &x, &y));
  g_assert_cmpint (px_dist (pixel (surf, x, y), px_of (fw_colormap_diverging (-1))), <=, 1);
  g_assert_true (cell_centre (h, W, H, 0, 1, &x, &y));
  g_assert_cmpint (px_dist (pixel (surf, x, y), px_of (fw_colormap_diverging (0))), <=, 1);
  g_assert_true (cell_centre (h, W, H, 0, 2, &x, &y));
  g_assert_cmpint (px_dist (pixel (surf, x, y), px_of (fw_colormap_diverging (0.5))), <=, 1);
  cairo_surface_destroy (surf);
}

/* ---- bars ---------------------------------------------------------------------------------- */

static int
longest_vertical_run (cairo_surface_t *s, Px c, int *at_x)
{
  int w = cairo_image_surface_get_width (s), h = cairo_image_surface_get_height (s), best = 0;
  for (int x = 0; x < w; x++)
    {
      int run = 0;
      for (int y = 0; y < h; y++)
        {
          run = px_dist (pixel (s, x, y), c) <= 1 ? run + 1 : 0;
          if (run > best)
            {
              best = run;
              if (at_x)
                *at_x = x;
            }
        }
    }
  return best;
}

static void
test_bars_heights (void)
{
  double v[4] = { 3, 7, 2, 5 };
  const char *labels[4] = { "T-shirt", "Trouser", "Pullover", "Dress" };
  g_autoptr (FwBarChart) b = fw_bar_chart_new ();
  fw_bar_chart_set_data (b, v, labels, 4);
  fw_bar_chart_set_y_label (b, "samples", NULL);
  const int W = 420, H = 320;
  cairo_surface_t *surf = new_surface (W, H);
  cairo_t *cr = cairo_create (surf);
  fw_plot_draw_bars (cr, b, W, H, NULL);
  cairo_destroy (cr);
  int runs[4], xs[4];
  for (int i = 0; i < 4; i++)
    runs[i] = longest_vertical_run (surf, px_of (fw_palette_color (i)), &xs[i]);
  /* the tallest bar is bar 1, heights proportional to values (baseline 0) */
  for (int i = 0; i < 4; i++)
    {
      if (i != 1)
        g_assert_cmpint (runs[1], >, runs[i]);
      g_assert_cmpfloat (fabs ((double) runs[i] / runs[1] - v[i] / v[1]), <, 0.02);
      g_assert_cmpint (fw_bar_chart_pick (b, W, H, NULL, xs[i], H / 2.0), ==, i);
    }
  g_assert_cmpint (xs[0], <, xs[1]);
  g_assert_cmpint (xs[1], <, xs[2]);
  g_assert_cmpstr (fw_bar_chart_get_label (b, 1), ==, "Trouser");
  g_autofree char *count = fw_bar_chart_format_value (b, 1);
  g_assert_cmpstr (count, ==, "7");
  fw_bar_chart_set_format (b, FW_VALUE_PERCENT);
  fw_bar_chart_set_value (b, 1, 0.9123);
  g_autofree char *pct = fw_bar_chart_format_value (b, 1);
  g_assert_cmpstr (pct, ==, "91.2%");
  cairo_surface_destroy (surf);
}

/* ---- image grid ---------------------------------------------------------------------------- */

static void
test_image_grid_pixels (void)
{
  const guint w = 4, h = 3;
  float grey[12], rgb[36];
  for (guint i = 0; i < 12; i++)
    grey[i] = i / 11.0f;
  for (guint i = 0; i < 36; i++)
    rgb[i] = (float) ((i * 7) % 36) / 35.0f;
  g_autoptr (FwImageGrid) g = fw_image_grid_new (w, h, 1);
  g_autoptr (FwImageGrid) gc = fw_image_grid_new (w, h, 3);
  for (int k = 0; k < 3; k++)
    {
      guint t = fw_image_grid_add (g, grey);
      fw_image_grid_set_caption (g, t, "pred Shirt / true Coat", k);
      fw_image_grid_set_border (g, t, k == 1 ? 3 : -1);
      fw_image_grid_add (gc, rgb);
    }
  const int W = 360, H = 200;
  for (int pass = 0; pass < 2; pass++)
    {
      FwImageGrid *grid = pass ? gc : g;
      guint ch = pass ? 3 : 1;
      cairo_surface_t *surf = new_surface (W, H);
      cairo_t *cr = cairo_create (surf);
      fw_plot_draw_image_grid (cr, grid, W, H, NULL);
      cairo_destroy (cr);
      for (guint t = 0; t < 3; t++)
        {
          double tx, ty, tw, th;
          g_assert_true (fw_image_grid_tile_rect (grid, W, H, NULL, t, &tx, &ty, &tw, &th));
          g_assert_cmpfloat (tw / w, >=, 2);  /* magnified */
          double s = tw / w;
          for (guint y = 0; y < h; y++)
            for (guint x = 0; x < w; x++)
              {
                Px p = pixel (surf, (int) (tx + (x + 0.5) * s), (int) (ty + (y + 0.5) * s));
                const float *src = pass ? &rgb[3 * (y * w + x)] : &grey[y * w + x];
                Px e = { (guint8) lroundf (src[0] * 255), (guint8) lroundf (src[ch == 3 ? 1 : 0] * 255),
                         (guint8) lroundf (src[ch == 3 ? 2 : 0] * 255) };
                g_assert_cmpint (px_dist (p, e), ==, 0);
              }
          /* crisp pixels: the whole magnified source pixel has one value */
          Px a = pixel (surf, (int) tx, (int) ty), b = pixel (surf, (int) (tx + s - 1), (int) (ty + s - 1));
          g_assert_cmpint (px_dist (a, b), ==, 0);
          g_assert_cmpint (fw_image_grid_pick (grid, W, H, NULL, tx + tw / 2, ty + th / 2), ==, (int) t);
          if (!pass)
            {
              Px border = pixel (surf, (int) tx - 2, (int) (ty + th / 2));
              if (t == 1)
                g_assert_cmpint (px_dist (border, px_of (fw_palette_color (3))), <=, 1);
              else
                g_assert_cmpint (px_dist (border, px_of (fw_theme_color (FW_THEME_BACKGROUND, FALSE))), ==, 0);
            }
        }
      cairo_surface_destroy (surf);
    }
}

/* ---- sample plots, determinism, export ----------------------------------------------------- */

static const char *const fashion[10] = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" };

static FwLinePlot *
sample_line (void)
{
  FwLinePlot *p = fw_line_plot_new ();
  fw_line_plot_set_title (p, "Loss");
  fw_line_plot_set_x_label (p, "epoch", NULL);
  fw_line_plot_set_y_label (p, "cross-entropy", "nats");
  guint a = fw_line_plot_add_series (p, "train", 0);
  guint b = fw_line_plot_add_series (p, "validation", 1);
  fw_line_plot_series_set_markers (p, b, TRUE);
  for (int e = 1; e <= 30; e++)
    {
      double t = 2.3 * exp (-e / 6.0) + 0.25, v = t + 0.05 + 0.004 * e;
      fw_line_plot_append_band (p, a, e, t, t - 0.08, t + 0.08);
      fw_line_plot_append (p, b, e, v);
    }
  return p;
}

static FwHeatmap *
sample_confusion (void)
{
  FwHeatmap *h = fw_heatmap_new (10, 10);
  for (guint r = 0; r < 10; r++)
    for (guint c = 0; c < 10; c++)
      fw_heatmap_set_value (h, r, c, r == c ? 850 + 13 * r : ((r * 7 + c * 3) % 11) * 4);
  fw_heatmap_set_row_labels (h, fashion);
  fw_heatmap_set_col_labels (h, fashion);
  fw_heatmap_set_axis_titles (h, "true class", "predicted class");
  fw_heatmap_set_title (h, "Confusion matrix (test set)");
  fw_heatmap_set_colorbar_label (h, "samples");
  fw_heatmap_set_show_values (h, TRUE, "%.0f");
  return h;
}

static FwHeatmap *
sample_weights (void)
{
  FwHeatmap *h = fw_heatmap_new (16, 24);
  guint8 mask[16 * 24];
  for (guint r = 0; r < 16; r++)
    for (guint c = 0; c < 24; c++)
      {
        double v = sin (r * 0.7) * cos (c * 0.4) * 0.8;
        fw_heatmap_set_value (h, r, c, v);
        mask[r * 24 + c] = fabs (v) < 0.15;
      }
  fw_heatmap_set_mask (h, mask);
  fw_heatmap_set_colormap (h, FW_COLORMAP_DIVERGING);
  fw_heatmap_set_title (h, "Dense 1 weights (pruned 30%)");
  fw_heatmap_set_axis_titles (h, "output", "input");
  fw_heatmap_set_colorbar_label (h, "weight");
  return h;
}

static FwBarChart *
sample_bars (void)
{
  double acc[10] = { 0.853, 0.975, 0.812, 0.901, 0.834, 0.962, 0.652, 0.951, 0.977, 0.958 };
  FwBarChart *b = fw_bar_chart_new ();
  fw_bar_chart_set_data (b, acc, fashion, 10);
  fw_bar_chart_set_format (b, FW_VALUE_PERCENT);
  fw_bar_chart_set_title (b, "Per-class accuracy");
  fw_bar_chart_set_y_label (b, "accuracy", NULL);
  fw_bar_chart_set_range (b, 0, 1);
  return b;
}

static FwScatterPlot *
sample_scatter (void)
{
  FwScatterPlot *p = make_clusters (10000);
  fw_scatter_plot_set_class_names (p, fashion, 10);
  fw_scatter_plot_set_title (p, "t-SNE of penultimate features");
  fw_scatter_plot_set_x_label (p, "t-SNE 1", NULL);
  fw_scatter_plot_set_y_label (p, "t-SNE 2", NULL);
  fw_scatter_plot_set_highlight (p, 17);
  return p;
}

static FwImageGrid *
sample_grid (void)
{
  FwImageGrid *g = fw_image_grid_new (28, 28, 1);
  float img[28 * 28];
  for (int t = 0; t < 12; t++)
    {
      for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++)
          {
            double dx = x - 14 + 3 * sin (t), dy = y - 14, r = sqrt (dx * dx + dy * dy);
            img[y * 28 + x] = (float) CLAMP (1.2 - fabs (r - 6 - t % 4) / 2.5, 0, 1);
          }
      guint i = fw_image_grid_add (g, img);
      int pred = t % 10, truth = (t * 3) % 10;
      if (pred == truth)
        fw_image_grid_set_caption (g, i, fashion[pred], -1);
      else
        {
          g_autofree char *m = g_markup_printf_escaped (
            "<span color='%s'>%s</span> / %s", fw_palette_hex (3), fashion[pred], fashion[truth]);
          fw_image_grid_set_caption_markup (g, i, m);
          fw_image_grid_set_border (g, i, 3);
        }
    }
  fw_image_grid_set_title (g, "Misclassified test images (pred / true)");
  return g;
}

typedef struct {
  FwPlotKind kind;
  gpointer   plot;
  const char *name;
} Sample;

static void
samples_make (Sample s[6])
{
  s[0] = (Sample) { FW_PLOT_LINE, sample_line (), "line" };
  s[1] = (Sample) { FW_PLOT_SCATTER, sample_scatter (), "scatter" };
  s[2] = (Sample) { FW_PLOT_HEATMAP, sample_confusion (), "confusion" };
  s[3] = (Sample) { FW_PLOT_HEATMAP, sample_weights (), "weights" };
  s[4] = (Sample) { FW_PLOT_BARS, sample_bars (), "bars" };
  s[5] = (Sample) { FW_PLOT_IMAGE_GRID, sample_grid (), "grid" };
}

static void
samples_free (Sample s[6])
{
  for (int i = 0; i < 6; i++)
    fw_plot_unref (s[i].kind, s[i].plot);
}

static void
test_deterministic (void)
{
  Sample s[6];
  samples_make (s);
  for (int i = 0; i < 6; i++)
    {
      cairo_surface_t *a = new_surface (500, 380), *b = new_surface (500, 380);
      cairo_t *cr = cairo_create (a);
      fw_plot_draw (cr, s[i].kind, s[i].plot, 500, 380, NULL);
      cairo_destroy (cr);
      cr = cairo_create (b);
      fw_plot_draw (cr, s[i].kind, s[i].plot, 500, 380, NULL);
      cairo_destroy (cr);
      cairo_surface_flush (a);
      cairo_surface_flush (b);
      gsize n = (gsize) cairo_image_surface_get_stride (a) * 380;
      g_assert_true (memcmp (cairo_image_surface_get_data (a), cairo_image_surface_get_data (b), n)
                     == 0);
      /* and not blank: more than one colour */
      Px first = pixel (a, 0, 0);
      int differ = 0;
      for (int y = 0; y < 380; y += 3)
        for (int x = 0; x < 500; x += 3)
          differ += px_dist (pixel (a, x, y), first) > 0;
      g_assert_cmpint (differ, >, 100);
      cairo_surface_destroy (a);
      cairo_surface_destroy (b);
    }
  samples_free (s);
}

/* Writes every sample plot as PNG (light, dark, presentation scale) for a human to look at. */
static void
test_review_pngs (void)
{
  Sample s[6];
  samples_make (s);
  struct { const char *suffix; gboolean dark; double fs; int w, h; } variants[] = {
    { "light", FALSE, 1.0, 640, 440 },
    { "dark", TRUE, 1.0, 640, 440 },
    { "present", FALSE, 1.6, 900, 620 },
    { "small", FALSE, 1.0, 320, 220 },
  };
  for (guint v = 0; v < G_N_ELEMENTS (variants); v++)
    for (int i = 0; i < 6; i++)
      {
        FwPlotStyle st;
        fw_plot_style_init (&st);
        st.dark = variants[v].dark;
        st.font_scale = variants[v].fs;
        st.line_scale = sqrt (variants[v].fs);
        cairo_surface_t *surf = new_surface (variants[v].w, variants[v].h);
        cairo_t *cr = cairo_create (surf);
        fw_plot_draw (cr, s[i].kind, s[i].plot, variants[v].w, variants[v].h, &st);
        cairo_destroy (cr);
        g_autofree char *name = g_strdup_printf ("plot-%s-%s.png", s[i].name, variants[v].suffix);
        save_png (surf, name);
        cairo_surface_destroy (surf);
      }
  samples_free (s);
}

static char *
read_head (const char *path, gsize n)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  return g_strndup (data, MIN (n, len));
}

static guint
dir_count (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  while (g_dir_read_name (d))
    n++;
  g_dir_close (d);
  return n;
}

static void
test_export_formats (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("fw-plots-XXXXXX", &error);
  g_assert_no_error (error);
  g_autoptr (FwHeatmap) h = sample_confusion ();
  g_autofree char *png = g_build_filename (dir, "cm.png", NULL);
  g_autofree char *svg = g_build_filename (dir, "cm.SVG", NULL);
  g_autofree char *pdf = g_build_filename (dir, "cm.pdf", NULL);
  g_assert_true (fw_plot_export (png, FW_EXPORT_AUTO, FW_PLOT_HEATMAP, h, 320, 200, 2, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (fw_plot_export (svg, FW_EXPORT_AUTO, FW_PLOT_HEATMAP, h, 320, 200, 1, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (fw_plot_export (pdf, FW_EXPORT_AUTO, FW_PLOT_HEATMAP, h, 320, 200, 1, NULL, &error));
  g_assert_no_error (error);

  cairo_surface_t *back = cairo_image_surface_create_from_png (png);
  g_assert_cmpint (cairo_surface_status (back), ==, CAIRO_STATUS_SUCCESS);
  g_assert_cmpint (cairo_image_surface_get_width (back), ==, 640);
  g_assert_cmpint (cairo_image_surface_get_height (back), ==, 400);
  /* the exported picture is the drawing: same as drawing directly at scale 2 */
  cairo_surface_t *direct = new_surface (640, 400);
  cairo_t *cr = cairo_create (direct);
  cairo_scale (cr, 2, 2);
  fw_plot_draw_heatmap (cr, h, 320, 200, NULL);
  cairo_destroy (cr);
  int diff = 0;
  for (int y = 0; y < 400; y += 2)
    for (int x = 0; x < 640; x += 2)
      diff += px_dist (pixel (back, x, y), pixel (direct, x, y)) > 0;
  g_assert_cmpint (diff, ==, 0);
  cairo_surface_destroy (direct);
  cairo_surface_destroy (back);

  g_autofree char *svg_head = read_head (svg, 64);
  g_assert_true (g_str_has_prefix (svg_head, "<?xml") || g_str_has_prefix (svg_head, "<svg"));
  g_autofree char *pdf_head = read_head (pdf, 64);
  g_assert_true (g_str_has_prefix (pdf_head, "%PDF"));
  /* no temporary files left behind */
  g_assert_cmpuint (dir_count (dir), ==, 3);

  /* overwriting an existing file works and stays a valid PNG */
  g_assert_true (fw_plot_export (png, FW_EXPORT_PNG, FW_PLOT_HEATMAP, h, 100, 80, 1, NULL, &error));
  back = cairo_image_surface_create_from_png (png);
  g_assert_cmpint (cairo_image_surface_get_width (back), ==, 100);
  cairo_surface_destroy (back);
  g_assert_cmpuint (dir_count (dir), ==, 3);

  g_unlink (png);
  g_unlink (svg);
  g_unlink (pdf);
  g_rmdir (dir);
}

static gboolean
pixbuf_reads_svg (void)
{
  gboolean found = FALSE;
  GSList *formats = gdk_pixbuf_get_formats ();
  for (GSList *l = formats; l; l = l->next)
    {
      g_autofree char *name = gdk_pixbuf_format_get_name (l->data);
      found |= g_strcmp0 (name, "svg") == 0;
    }
  g_slist_free (formats);
  return found;
}

/* The SVG renders at its nominal pixel size with crisp cells (viewers smooth embedded images:
 * the exporter enlarges them by pixel replication first). Read back through librsvg's
 * gdk-pixbuf loader when installed. */
static void
test_export_svg_crisp (void)
{
  if (!pixbuf_reads_svg ())
    {
      g_test_skip ("gdk-pixbuf has no SVG loader (librsvg2-common)");
      return;
    }
  double v[4] = { 0, 1, 1, 0 };
  g_autoptr (FwHeatmap) h = fw_heatmap_new (2, 2);
  fw_heatmap_set_values (h, v);
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("fw-plots-XXXXXX", &error);
  g_autofree char *svg = g_build_filename (dir, "h.svg", NULL);
  const int W = 320, H = 200;
  g_assert_true (fw_plot_export (svg, FW_EXPORT_SVG, FW_PLOT_HEATMAP, h, W, H, 1, NULL, &error));
  g_assert_no_error (error);
  GdkPixbuf *pb = gdk_pixbuf_new_from_file (svg, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (pb), ==, W);
  g_assert_cmpint (gdk_pixbuf_get_height (pb), ==, H);
  const guint8 *d = gdk_pixbuf_get_pixels (pb);
  int rs = gdk_pixbuf_get_rowstride (pb), nc = gdk_pixbuf_get_n_channels (pb);
  for (guint r = 0; r < 2; r++)
    for (guint c = 0; c < 2; c++)
      {
        double x, y, cw, ch;
        g_assert_true (fw_heatmap_cell_rect (h, W, H, NULL, r, c, &x, &y, &cw, &ch));
        Px e = px_of (fw_colormap_viridis (v[r * 2 + c]));
        /* centre and 3 px inside each corner */
        double pts[5][2] = { { x + cw / 2, y + ch / 2 }, { x + 3, y + 3 }, { x + cw - 4, y + 3 },
                             { x + 3, y + ch - 4 }, { x + cw - 4, y + ch - 4 } };
        for (int i = 0; i < 5; i++)
          {
            const guint8 *p = d + (gsize) pts[i][1] * rs + (gsize) pts[i][0] * nc;
            Px got = { p[0], p[1], p[2] };
            g_assert_cmpint (px_dist (got, e), <=, 3);
          }
      }
  g_object_unref (pb);
  g_unlink (svg);
  g_rmdir (dir);
}

static void
test_export_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwBarChart) b = sample_bars ();
  g_autofree char *dir = g_dir_make_tmp ("fw-plots-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *missing = g_build_filename (dir, "no-such-dir", "plot.png", NULL);
  g_assert_false (fw_plot_export (missing, FW_EXPORT_AUTO, FW_PLOT_BARS, b, 200, 100, 1, NULL,
                                  &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "no-such-dir"));
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  g_autofree char *bad_ext = g_build_filename (dir, "plot.jpg", NULL);
  g_assert_false (fw_plot_export (bad_ext, FW_EXPORT_AUTO, FW_PLOT_BARS, b, 200, 100, 1, NULL,
                                  &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_clear_error (&error);

  g_autofree char *ok = g_build_filename (dir, "plot.png", NULL);
  g_assert_false (fw_plot_export (ok, FW_EXPORT_AUTO, FW_PLOT_BARS, b, 0, 100, 1, NULL, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (dir_count (dir), ==, 0);
  g_rmdir (dir);
}

/* ---- the widget (needs a display: skipped headless, run under xvfb-run to exercise) -------- */

static gboolean have_display;

static gboolean
wait_until (gboolean (*cond) (gpointer), gpointer data, int timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  while (!cond (data))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  return TRUE;
}

static gboolean
has_size (gpointer w)
{
  return gtk_widget_get_mapped (w) && gtk_widget_get_width (w) > 100
         && gtk_widget_get_height (w) > 100;
}

/* A first frame has been drawn: the widget paintable then has content. */
static gboolean
has_content (gpointer w)
{
  GdkPaintable *paintable = gtk_widget_paintable_new (w);
  GtkSnapshot *snap = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snap, gtk_widget_get_width (w), gtk_widget_get_height (w));
  GskRenderNode *node = gtk_snapshot_free_to_node (snap);
  g_object_unref (paintable);
  if (node)
    gsk_render_node_unref (node);
  return node != NULL;
}

/* Render the widget as the user sees it and return the pixel at logical (x, y). */
static Px
widget_pixel (GtkWidget *view, double x, double y)
{
  int w = gtk_widget_get_width (view), h = gtk_widget_get_height (view);
  GdkPaintable *paintable = gtk_widget_paintable_new (view);
  GskRenderNode *node = NULL;
  /* the paintable can be momentarily empty while a frame is pending: bounded retries */
  for (int tries = 0; node == NULL && tries < 2000; tries++)
    {
      GtkSnapshot *snap = gtk_snapshot_new ();
      gdk_paintable_snapshot (paintable, snap, w, h);
      node = gtk_snapshot_free_to_node (snap);
      if (node == NULL)
        {
          g_main_context_iteration (NULL, FALSE);
          g_usleep (1000);
        }
    }
  g_assert_nonnull (node);
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (view));
  GdkTexture *tex = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
  int tw = gdk_texture_get_width (tex), th = gdk_texture_get_height (tex);
  guint8 *buf = g_malloc ((gsize) tw * th * 4);
  gdk_texture_download (tex, buf, tw * 4);
  int px = (int) (x * tw / w), py = (int) (y * th / h);
  guint32 v = *(guint32 *) (buf + (gsize) py * tw * 4 + 4 * px);
  Px out = { (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };
  g_free (buf);
  g_object_unref (tex);
  gsk_render_node_unref (node);
  g_object_unref (paintable);
  return out;
}

static guint
n_toplevels (void)
{
  return g_list_model_get_n_items (gtk_window_get_toplevels ());
}

static gboolean
more_toplevels (gpointer data)
{
  return n_toplevels () > GPOINTER_TO_UINT (data);
}

static void
test_plot_view (void)
{
  if (!have_display)
    {
      g_test_skip ("no display: run under xvfb-run to test FwPlotView");
      return;
    }
  double v[4] = { 0, 1, 1, 0 };
  g_autoptr (FwHeatmap) h = fw_heatmap_new (2, 2);
  fw_heatmap_set_values (h, v);
  GtkWidget *win = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (win), 400, 300);
  GtkWidget *view = fw_plot_view_new ();
  fw_plot_view_set_heatmap (FW_PLOT_VIEW (view), h);
  gtk_window_set_child (GTK_WINDOW (win), view);
  gtk_window_present (GTK_WINDOW (win));
  g_assert_true (wait_until (has_size, view, 5000));
  g_assert_true (wait_until (has_content, view, 5000));
  g_assert_true (fw_plot_view_get_plot (FW_PLOT_VIEW (view)) == h);
  g_assert_cmpint (fw_plot_view_get_kind (FW_PLOT_VIEW (view)), ==, FW_PLOT_HEATMAP);

  FwPlotStyle st;
  fw_plot_view_get_style (FW_PLOT_VIEW (view), &st);
  int W = gtk_widget_get_width (view), H = gtk_widget_get_height (view);
  double x, y, cw, ch;
  g_assert_true (fw_heatmap_cell_rect (h, W, H, &st, 0, 0, &x, &y, &cw, &ch));
  Px p = widget_pixel (view, x + cw / 2, y + ch / 2);
  g_assert_cmpint (px_dist (p, px_of (fw_colormap_viridis (0))), <=, 2);

  /* the caller mutates its model, queues an update: the widget shows the new values */
  double v2[4] = { 1, 0, 0, 1 };
  fw_heatmap_set_values (h, v2);
  fw_plot_view_queue_update (FW_PLOT_VIEW (view));
  fw_plot_view_queue_update (FW_PLOT_VIEW (view));
  for (int i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  p = widget_pixel (view, x + cw / 2, y + ch / 2);
  g_assert_cmpint (px_dist (p, px_of (fw_colormap_viridis (1))), <=, 2);

  /* export from the widget */
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("fw-plotview-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "view.png", NULL);
  g_assert_true (fw_plot_view_export (FW_PLOT_VIEW (view), path, 300, 200, 2, &error));
  g_assert_no_error (error);
  cairo_surface_t *back = cairo_image_surface_create_from_png (path);
  g_assert_cmpint (cairo_image_surface_get_width (back), ==, 600);
  cairo_surface_destroy (back);
  g_unlink (path);
  g_rmdir (dir);

  /* Ctrl+E's action opens the export dialog as a new toplevel */
  guint before = n_toplevels ();
  g_assert_true (gtk_widget_activate_action (view, "plot.export", NULL));
  g_assert_true (wait_until (more_toplevels, GUINT_TO_POINTER (before), 2000));
  GListModel *tops = gtk_window_get_toplevels ();
  for (guint i = g_list_model_get_n_items (tops); i-- > 0;)
    {
      g_autoptr (GtkWindow) t = g_list_model_get_item (tops, i);
      if (GTK_WIDGET (t) != win)
        gtk_window_destroy (t);
    }

  /* the view holds its own reference */
  FwHeatmap *extra = fw_heatmap_ref (h);
  fw_plot_view_set_heatmap (FW_PLOT_VIEW (view), NULL);
  g_assert_null (fw_plot_view_get_plot (FW_PLOT_VIEW (view)));
  fw_heatmap_unref (extra);
  gtk_window_destroy (GTK_WINDOW (win));
}

/* Class names drawn as text in class colours stay readable: WCAG contrast >= 3 against the
 * plot background in both themes, and the colour stays close to the class colour (only as
 * much darker or lighter as needed). Yellow on white, as the raw palette has it, fails 3:1. */
static void
test_palette_text_contrast (void)
{
  gboolean raw_fails_somewhere = FALSE;
  for (int dark = 0; dark < 2; dark++)
    {
      FwRgba bg = fw_theme_color (FW_THEME_BACKGROUND, dark);
      for (int i = -1; i < FW_PALETTE_SIZE; i++)
        {
          FwRgba raw = fw_palette_color (i), text;
          g_assert_true (fw_rgba_parse (fw_palette_text_hex (i, dark), &text));
          g_assert_cmpfloat (fw_rgba_contrast (text, bg), >=, 3.0);
          if (fw_rgba_contrast (raw, bg) >= 3.0)
            {
              /* already readable: unchanged up to hex rounding */
              g_assert_cmpfloat (fabs (text.r - raw.r) + fabs (text.g - raw.g)
                                 + fabs (text.b - raw.b), <, 3.0 / 255);
            }
          else
            raw_fails_somewhere = TRUE;
        }
    }
  g_assert_true (raw_fails_somewhere);
}

/* Error bars on a bar chart: a whisker from lo to hi through the bar's centre. One bar of 0.5
 * with [0.3, 0.7] on a fixed 0..1 axis: above the bar the whisker runs 0.2 / 0.5 of the bar's
 * height (both measured in pixels down the centre column). */
static void
test_bar_error_bars (void)
{
  const double v = 0.5, lo = 0.3, hi = 0.7;
  const char *labels[] = { "a", NULL };
  FwBarChart *b = fw_bar_chart_new ();
  fw_bar_chart_set_data (b, &v, labels, 1);
  fw_bar_chart_set_errors (b, &lo, &hi);
  fw_bar_chart_set_range (b, 0, 1);
  fw_bar_chart_set_show_values (b, FALSE);
  double el = 0, eh = 0;
  g_assert_true (fw_bar_chart_get_error (b, 0, &el, &eh));
  g_assert_cmpfloat (el, ==, lo);
  g_assert_cmpfloat (eh, ==, hi);
  FwPlotStyle st;
  fw_plot_style_init (&st);
  const int W = 400, H = 400;
  cairo_surface_t *s = new_surface (W, H);
  cairo_t *cr = cairo_create (s);
  fw_plot_draw (cr, FW_PLOT_BARS, b, W, H, &st);
  cairo_destroy (cr);
  /* the bar's columns: the bar-coloured run of its lowest row */
  Px bar = px_of (fw_palette_color (0)), ink = px_of (fw_theme_color (FW_THEME_TEXT, FALSE));
  int row = -1, x0 = -1, x1 = -1;
  for (int y = H - 1; y >= 0 && row < 0; y--)
    for (int x = 0; x < W; x++)
      if (px_dist (pixel (s, x, y), bar) <= 2)
        {
          if (x0 < 0)
            x0 = x;
          x1 = x;
          row = y;
        }
  g_assert_cmpint (row, >=, 0);
  /* the bar's height beside the whisker (which covers the centre column from lo to hi), the
   * whisker's top in the centre column */
  int xc = (x0 + x1) / 2, xb = xc + (x1 - x0) / 4, bar_top = -1, bar_bottom = -1, ink_top = -1;
  for (int y = 0; y < H; y++)
    {
      if (px_dist (pixel (s, xb, y), bar) <= 2)
        {
          if (bar_top < 0)
            bar_top = y;
          bar_bottom = y;
        }
      if (px_dist (pixel (s, xc, y), ink) <= 40 && ink_top < 0)
        ink_top = y;
    }
  g_assert_cmpint (bar_top, >, 0);
  g_assert_cmpint (ink_top, >, 0);
  double bar_h = bar_bottom - bar_top + 1, above = bar_top - ink_top;
  g_test_message ("bar %g px, whisker above it %g px", bar_h, above);
  g_assert_cmpfloat (fabs (above / bar_h - (hi - v) / v), <, 0.04);
  /* without errors: no ink above the bar */
  fw_bar_chart_set_errors (b, NULL, NULL);
  g_assert_false (fw_bar_chart_get_error (b, 0, &el, &eh));
  cairo_surface_destroy (s);
  fw_bar_chart_unref (b);
}

/* A lecture panel of categories ("distilled", "hard labels": one point each) is drawn as bars
 * with their spread; the same points on a numeric axis (a one-epoch curve) stay dots. Counted
 * in pixels of each series' colour. */
static void
test_lecture_categories_as_bars (void)
{
  for (int cat = 0; cat < 2; cat++)
    {
      g_autoptr (FwLectureResult) r = fw_lecture_result_new ();
      FwPanel *p = fw_panel_new (r, FW_PANEL_CURVES, "curve", "Student test accuracy");
      p->categorical = cat;
      p->y_label = g_strdup ("test_accuracy");
      fw_panel_series_append (fw_panel_add_series (p, "distilled", 0), 1, 0.42, 0.40, 0.44);
      fw_panel_series_append (fw_panel_add_series (p, "hard labels", 1), 2, 0.56, 0.53, 0.59);
      FwPlotStyle st;
      fw_plot_style_init (&st);
      const int W = 600, H = 400;
      cairo_surface_t *s = new_surface (W, H);
      cairo_t *cr = cairo_create (s);
      fw_lecture_figure_draw (cr, NULL, NULL, r, -1, NULL, W, H, &st);
      cairo_destroy (cr);
      int count[2] = { 0, 0 };
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
          for (int k = 0; k < 2; k++)
            count[k] += px_dist (pixel (s, x, y), px_of (fw_palette_color (k))) <= 2;
      g_test_message ("categorical %d: %d and %d pixels", cat, count[0], count[1]);
      for (int k = 0; k < 2; k++)
        {
          if (cat)
            g_assert_cmpint (count[k], >, 10000);   /* a bar */
          else
            g_assert_cmpint (count[k], <, 2000);    /* a dot (and its error bar) */
        }
      /* the taller bar is the larger accuracy */
      if (cat)
        g_assert_cmpint (count[1], >, count[0]);
      cairo_surface_destroy (s);
    }
}

/* Image-grid captions in a class colour are drawn in the readable text colour: the caption's
 * most contrasting pixel reaches 3:1 against the background, for every class, in both themes
 * (captions drawn in the raw palette colour stayed under it for yellow and sky blue). */
static void
test_caption_contrast (void)
{
  for (int dark = 0; dark < 2; dark++)
    for (int i = 0; i < FW_PALETTE_SIZE; i++)
      {
        float img[16 * 16] = { 0 };
        FwImageGrid *g = fw_image_grid_new (16, 16, 1);
        fw_image_grid_add (g, img);
        fw_image_grid_set_caption (g, 0, "MMMMMMMM", i);
        FwPlotStyle st;
        fw_plot_style_init (&st);
        st.dark = dark;
        st.font_scale = 2.0;
        const int W = 300, H = 260;
        cairo_surface_t *s = new_surface (W, H);
        cairo_t *cr = cairo_create (s);
        fw_plot_draw (cr, FW_PLOT_IMAGE_GRID, g, W, H, &st);
        cairo_destroy (cr);
        FwRgba bg = fw_theme_color (FW_THEME_BACKGROUND, dark);
        double tx, ty, tw, th;
        g_assert_true (fw_image_grid_tile_rect (g, W, H, &st, 0, &tx, &ty, &tw, &th));
        double best = 1.0;
        for (int y = (int) (ty + th) + 1; y < H; y++)
          for (int x = 0; x < W; x++)
            {
              Px p = pixel (s, x, y);
              FwRgba c = { p.r / 255.0, p.g / 255.0, p.b / 255.0, 1 };
              best = MAX (best, fw_rgba_contrast (c, bg));
            }
        g_assert_cmpfloat (best, >=, 3.0);
        /* and it is the class's text colour, not the theme's text */
        g_assert_cmpfloat (best, <=, fw_rgba_contrast (fw_palette_text_color (i, dark), bg) + 0.05);
        cairo_surface_destroy (s);
        fw_image_grid_unref (g);
      }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* the draw functions need no display; only /PlotView does */
  have_display = gtk_init_check ();
  g_test_add_func ("/Ticks/closed_form_cases", test_ticks_closed_form);
  g_test_add_func ("/Ticks/rule_matches_brute_force", test_ticks_rule_brute_force);
  g_test_add_func ("/Ticks/labels", test_ticks_format);
  g_test_add_func ("/Colors/viridis_endpoints_and_monotonic_luminance", test_viridis);
  g_test_add_func ("/Colors/diverging_white_at_zero", test_diverging);
  g_test_add_func ("/Colors/palette_distinct_for_colour_blind_viewers", test_palette);
  g_test_add_func ("/Colors/palette_text_readable_on_both_themes", test_palette_text_contrast);
  g_test_add_func ("/Colors/caption_text_readable_on_both_themes", test_caption_contrast);
  g_test_add_func ("/Plots/bar_error_bars", test_bar_error_bars);
  g_test_add_func ("/Plots/lecture_categories_as_bars", test_lecture_categories_as_bars);
  g_test_add_func ("/Colors/theme_text_contrast", test_theme_contrast);
  g_test_add_func ("/LinePlot/y_equals_x_draws_the_diagonal", test_line_diagonal);
  g_test_add_func ("/LinePlot/log_y_makes_exponential_straight", test_line_log_y);
  g_test_add_func ("/LinePlot/log_x_makes_exponential_straight", test_line_log_x);
  g_test_add_func ("/LinePlot/points_only_error_bars", test_line_points_error_bars);
  g_test_add_func ("/LinePlot/long_series_envelope", test_line_long_series);
  g_test_add_func ("/LinePlot/legend_only_with_two_series", test_line_legend_only_with_two_series);
  g_test_add_func ("/LinePlot/band_is_shaded", test_line_band);
  g_test_add_func ("/LinePlot/empty_state_message", test_line_empty_state);
  g_test_add_func ("/Style/dark_background", test_dark_background);
  g_test_add_func ("/Draw/non_finite_values_and_tiny_sizes", test_non_finite);
  g_test_add_func ("/Scatter/20k_points_all_classes_drawn", test_scatter_speed);
  g_test_add_func ("/Scatter/pick_finds_point_under_pointer", test_scatter_pick_and_colors);
  g_test_add_func ("/Scatter/zoom_and_pan_keep_point_under_pointer", test_scatter_zoom_pan);
  g_test_add_func ("/Heatmap/viridis_min_and_max_cells", test_heatmap_2x2);
  g_test_add_func ("/Heatmap/masked_hatched_and_numbers_contrast", test_heatmap_mask_and_values);
  g_test_add_func ("/Heatmap/diverging_centre", test_heatmap_diverging);
  g_test_add_func ("/Bars/heights_proportional_tallest_is_largest", test_bars_heights);
  g_test_add_func ("/ImageGrid/pixels_equal_source", test_image_grid_pixels);
  g_test_add_func ("/Draw/deterministic_and_not_blank", test_deterministic);
  g_test_add_func ("/Draw/review_pngs", test_review_pngs);
  g_test_add_func ("/Export/png_svg_pdf", test_export_formats);
  g_test_add_func ("/Export/svg_renders_crisp_at_its_size", test_export_svg_crisp);
  g_test_add_func ("/Export/errors_leave_no_file", test_export_errors);
  g_test_add_func ("/PlotView/shows_model_updates_and_exports", test_plot_view);
  return g_test_run ();
}
