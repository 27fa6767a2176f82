/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-plot.c: plot models and their pure Cairo + PangoCairo draw functions (no GTK here). */
#include "fw-plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <pango/pangocairo.h>

#include "fw-util.h"

/* ============================================================================================
 * Style and the drawing context
 * ========================================================================================== */

void
fw_plot_style_init (FwPlotStyle *style)
{
  g_return_if_fail (style != NULL);
  style->font_scale = 1.0;
  style->line_scale = 1.0;
  style->dark = FALSE;
  style->transparent = FALSE;
  style->font_family = NULL;
  style->high_contrast = FALSE;
}

/* Everything one draw (or one hit test) needs: resolved style, font sizes in logical pixels,
 * theme colours, and one reusable PangoLayout. Layout measures are identical whether the target
 * is an image, SVG, PDF or the widget: metrics hinting is off. */
typedef struct {
  cairo_t              *cr;
  cairo_surface_t      *scratch;   /* owned when measuring without a target */
  FwPlotStyle           st;
  PangoLayout          *layout;
  PangoFontDescription *font;
  double                fs_tick;   /* tick labels, legend, cell numbers */
  double                fs_label;  /* axis labels */
  double                fs_title;
  double                lw;        /* 1 logical px * line_scale */
  double                pad;       /* outer padding */
  FwRgba                bg, text, muted, axis, grid, masked, highlight;
} Ctx;

static void
ctx_init (Ctx *c, cairo_t *cr, const FwPlotStyle *style)
{
  memset (c, 0, sizeof *c);
  if (style != NULL)
    c->st = *style;
  else
    fw_plot_style_init (&c->st);
  if (!(c->st.font_scale > 0.1 && c->st.font_scale < 20.0))
    c->st.font_scale = 1.0;
  if (!(c->st.line_scale > 0.1 && c->st.line_scale < 20.0))
    c->st.line_scale = 1.0;
  if (cr == NULL)
    {
      c->scratch = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 1, 1);
      c->cr = cairo_create (c->scratch);
    }
  else
    c->cr = cairo_reference (cr);

  c->layout = pango_cairo_create_layout (c->cr);
  PangoContext *pc = pango_layout_get_context (c->layout);
  cairo_font_options_t *fo = cairo_font_options_create ();
  cairo_font_options_set_hint_metrics (fo, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_hint_style (fo, CAIRO_HINT_STYLE_NONE);
  pango_cairo_context_set_font_options (pc, fo);
  cairo_font_options_destroy (fo);
  pango_layout_context_changed (c->layout);

  c->font = pango_font_description_from_string (c->st.font_family ? c->st.font_family : "Sans");
  double fs = c->st.font_scale;
  c->fs_tick = 11.0 * fs;
  c->fs_label = 12.5 * fs;
  c->fs_title = 14.0 * fs;
  c->lw = c->st.line_scale;
  c->pad = 8.0 * fs;

  gboolean dark = c->st.dark;
  c->bg = fw_theme_color (FW_THEME_BACKGROUND, dark);
  c->text = fw_theme_color (FW_THEME_TEXT, dark);
  c->muted = fw_theme_color (FW_THEME_TEXT_MUTED, dark);
  c->axis = fw_theme_color (FW_THEME_AXIS, dark);
  c->grid = fw_theme_color (FW_THEME_GRID, dark);
  c->masked = fw_theme_color (FW_THEME_MASKED, dark);
  c->highlight = fw_theme_color (FW_THEME_HIGHLIGHT, dark);
  if (c->st.high_contrast)
    {
      /* a washed-out projector: pure text colour, axes and muted text as text, grid at a
       * third of the way from the background to the text */
      c->text = dark ? (FwRgba) { 1, 1, 1, 1 } : (FwRgba) { 0, 0, 0, 1 };
      c->muted = c->text;
      c->axis = c->text;
      c->grid = (FwRgba) { c->bg.r + (c->text.r - c->bg.r) / 3, c->bg.g + (c->text.g - c->bg.g) / 3,
                           c->bg.b + (c->text.b - c->bg.b) / 3, 1 };
    }
}

static void
ctx_clear (Ctx *c)
{
  g_clear_object (&c->layout);
  g_clear_pointer (&c->font, pango_font_description_free);
  g_clear_pointer (&c->cr, cairo_destroy);
  g_clear_pointer (&c->scratch, cairo_surface_destroy);
}

/* Prepare the layout for @text at @size px. @max_w > 0 ellipsizes to that width. */
static void
ctx_set_text (Ctx *c, const char *text, double size, gboolean bold, gboolean markup,
              double max_w)
{
  pango_font_description_set_absolute_size (c->font, size * PANGO_SCALE);
  pango_font_description_set_weight (c->font, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
  pango_layout_set_font_description (c->layout, c->font);
  if (max_w > 0)
    {
      pango_layout_set_width (c->layout, (int) (max_w * PANGO_SCALE));
      pango_layout_set_ellipsize (c->layout, PANGO_ELLIPSIZE_END);
    }
  else
    {
      pango_layout_set_width (c->layout, -1);
      pango_layout_set_ellipsize (c->layout, PANGO_ELLIPSIZE_NONE);
    }
  pango_layout_set_alignment (c->layout, PANGO_ALIGN_LEFT);
  if (markup)
    pango_layout_set_markup (c->layout, text ? text : "", -1);
  else
    {
      /* set_text keeps the attributes of an earlier set_markup: drop them */
      pango_layout_set_attributes (c->layout, NULL);
      pango_layout_set_text (c->layout, text ? text : "", -1);
    }
}

static void
layout_size (Ctx *c, double *w, double *h)
{
  PangoRectangle logical;
  pango_layout_get_extents (c->layout, NULL, &logical);
  if (w)
    *w = (double) logical.width / PANGO_SCALE;
  if (h)
    *h = (double) logical.height / PANGO_SCALE;
}

static void
text_size (Ctx *c, const char *text, double size, gboolean bold, double *w, double *h)
{
  ctx_set_text (c, text, size, bold, FALSE, -1);
  layout_size (c, w, h);
}

/* Line height of the font at @size (height of "Ag"). */
static double
line_height (Ctx *c, double size)
{
  double h;
  text_size (c, "Ag", size, FALSE, NULL, &h);
  return h;
}

/* Draw the prepared layout with its logical box anchored: (ax, ay) in [0,1] are the fractions of
 * the box that sit on (x, y) (0,0 = top-left, 0.5,0.5 = centre). @angle rotates about (x, y). */
static void
draw_layout (Ctx *c, FwRgba color, double x, double y, double ax, double ay, double angle)
{
  double w, h;
  layout_size (c, &w, &h);
  cairo_save (c->cr);
  cairo_translate (c->cr, x, y);
  if (angle != 0.0)
    cairo_rotate (c->cr, angle);
  cairo_move_to (c->cr, -ax * w, -ay * h);
  fw_rgba_set_source (c->cr, color);
  pango_cairo_show_layout (c->cr, c->layout);
  cairo_restore (c->cr);
}

static void
draw_text (Ctx *c, const char *text, double size, gboolean bold, FwRgba color, double x,
           double y, double ax, double ay)
{
  ctx_set_text (c, text, size, bold, FALSE, -1);
  draw_layout (c, color, x, y, ax, ay, 0.0);
}

/* An error bar's path: a vertical line at x from y_lo to y_hi with caps half-width cap. */
static void
whisker_path (cairo_t *cr, double x, double y_lo, double y_hi, double cap)
{
  cairo_move_to (cr, x, y_lo);
  cairo_line_to (cr, x, y_hi);
  cairo_move_to (cr, x - cap, y_lo);
  cairo_line_to (cr, x + cap, y_lo);
  cairo_move_to (cr, x - cap, y_hi);
  cairo_line_to (cr, x + cap, y_hi);
}

static void
paint_background (Ctx *c, double width, double height)
{
  if (c->st.transparent)
    return;
  cairo_save (c->cr);
  fw_rgba_set_source (c->cr, c->bg);
  cairo_rectangle (c->cr, 0, 0, width, height);
  cairo_fill (c->cr);
  cairo_restore (c->cr);
}

/* "label (unit)", "label", "unit" or NULL. */
static char *
axis_title (const char *label, const char *unit)
{
  gboolean has_l = label && *label, has_u = unit && *unit;
  if (has_l && has_u)
    return g_strdup_printf ("%s (%s)", label, unit);
  if (has_l)
    return g_strdup (label);
  if (has_u)
    return g_strdup (unit);
  return NULL;
}

static void
set_str (char **dst, const char *src)
{
  if (*dst == src)
    return;
  g_free (*dst);
  *dst = (src && *src) ? g_strdup (src) : NULL;
}

void
fw_plot_draw_message (cairo_t *cr, const char *text, double width, double height,
                      const FwPlotStyle *style)
{
  g_return_if_fail (cr != NULL);
  Ctx c;
  ctx_init (&c, cr, style);
  /* one ellipsized line, centred by draw_layout's anchor (a centre alignment inside the
   * layout's width would shift it right by half the spare width) */
  ctx_set_text (&c, text, c.fs_label * 1.15, FALSE, FALSE, MAX (width - 2 * c.pad, 10));
  draw_layout (&c, c.muted, width / 2, height / 2, 0.5, 0.5, 0.0);
  ctx_clear (&c);
}

/* ============================================================================================
 * Nice ticks
 * ========================================================================================== */

void
fw_nice_ticks (double lo, double hi, guint max_intervals, FwTicks *out)
{
  g_return_if_fail (out != NULL);
  if (!isfinite (lo) || !isfinite (hi))
    {
      lo = 0.0;
      hi = 1.0;
    }
  if (lo > hi)
    {
      double t = lo;
      lo = hi;
      hi = t;
    }
  if (max_intervals < 1)
    max_intervals = 1;
  if (hi - lo <= 1e-12 * MAX (fabs (lo), fabs (hi)) || hi == lo)
    {
      double d = fabs (lo) > 0 ? 0.1 * fabs (lo) : 1.0;
      lo -= d;
      hi += d;
    }
  double raw = (hi - lo) / max_intervals;
  int k = (int) floor (log10 (raw)) - 1;
  static const double mant[3] = { 1.0, 2.0, 5.0 };
  for (int tries = 0; tries < 8; tries++, k++)
    {
      double p10 = pow (10.0, k);
      for (int m = 0; m < 3; m++)
        {
          double step = mant[m] * p10;
          /* tolerances absorb round-off of lo/step (e.g. 0.6 / 0.2 = 2.9999999999999996) */
          double i0 = floor (lo / step + 1e-9), i1 = ceil (hi / step - 1e-9);
          if (i1 - i0 <= max_intervals)
            {
              if (i1 <= i0)
                i1 = i0 + 1;
              out->first = i0 * step;
              out->step = step;
              out->n = (guint) (i1 - i0) + 1;
              return;
            }
        }
    }
  /* not reached for finite input; keep a sane answer anyway */
  out->first = lo;
  out->step = hi - lo;
  out->n = 2;
}

double
fw_ticks_value (const FwTicks *t, guint i)
{
  double i0 = round (t->first / t->step);
  double v = (i0 + i) * t->step;
  if (fabs (v) < 1e-9 * t->step)
    v = 0.0;
  return v;
}

char *
fw_format_tick (double value, double step)
{
  if (value == 0.0 || fabs (value) < 1e-12 * fabs (step))
    return g_strdup ("0");
  double a = fabs (value);
  if (a >= 1e6 || (a < 1e-4) || step < 1e-4)
    {
      /* enough significant digits to tell neighbouring ticks apart */
      int digits = (int) CLAMP (ceil (log10 (a / step)) + 1, 1, 15);
      return g_strdup_printf ("%.*g", digits, value);
    }
  int decimals = step >= 1.0 ? 0 : (int) ceil (-log10 (step) - 1e-9);
  return g_strdup_printf ("%.*f", decimals, value);
}

void
fw_log_ticks (double lo, double hi, FwTicks *out)
{
  g_return_if_fail (out != NULL);
  if (!(lo > 0) || !isfinite (lo))
    lo = 1.0;
  if (!(hi > 0) || !isfinite (hi))
    hi = 10.0;
  if (lo > hi)
    {
      double t = lo;
      lo = hi;
      hi = t;
    }
  double k0 = floor (log10 (lo) + 1e-9), k1 = ceil (log10 (hi) - 1e-9);
  if (k1 <= k0)
    k1 = k0 + 1;
  out->first = k0;
  out->step = 1.0;
  out->n = (guint) (k1 - k0) + 1;
}

static char *
format_decade (double k)
{
  double v = pow (10.0, k);
  if (k >= -3 && k <= 5)
    return g_strdup_printf ("%.*f", k < 0 ? (int) -k : 0, v);
  return g_strdup_printf ("1e%+.0f", k);
}

static char *
format_value (double v, FwValueFormat fmt)
{
  switch (fmt)
    {
    case FW_VALUE_PERCENT:
      return g_strdup_printf ("%.1f%%", 100.0 * v);
    case FW_VALUE_COUNT:
      return fw_format_count (v);
    case FW_VALUE_PLAIN:
    default:
      return g_strdup_printf ("%.4g", v);
    }
}

/* ============================================================================================
 * Crisp pixels on every target
 * ========================================================================================== */

/* Image targets honour CAIRO_FILTER_NEAREST. SVG viewers ignore it and smooth embedded images
 * (blurry cells and digits), so for vector targets the image is first enlarged by whole factors
 * (pixel replication) up to about the size it is shown at: smoothing then only touches a sliver
 * at each pixel edge. Returns a new reference; *fx, *fy are the factors used. */
static cairo_surface_t *
nearest_for_target (cairo_t *cr, cairo_surface_t *src, double shown_w, double shown_h, int *fx,
                    int *fy)
{
  *fx = *fy = 1;
  if (cairo_surface_get_type (cairo_get_target (cr)) == CAIRO_SURFACE_TYPE_IMAGE)
    return cairo_surface_reference (src);
  int w = cairo_image_surface_get_width (src), h = cairo_image_surface_get_height (src);
  cairo_format_t fmt = cairo_image_surface_get_format (src);
  int bpp = fmt == CAIRO_FORMAT_A8 ? 1 : 4;
  *fx = (int) CLAMP (ceil (shown_w / MAX (w, 1)), 1, MAX (1, 2048 / MAX (w, 1)));
  *fy = (int) CLAMP (ceil (shown_h / MAX (h, 1)), 1, MAX (1, 2048 / MAX (h, 1)));
  if (*fx == 1 && *fy == 1)
    return cairo_surface_reference (src);
  cairo_surface_t *dst = cairo_image_surface_create (fmt, w * *fx, h * *fy);
  if (cairo_surface_status (dst) != CAIRO_STATUS_SUCCESS)
    {
      cairo_surface_destroy (dst);
      *fx = *fy = 1;
      return cairo_surface_reference (src);
    }
  cairo_surface_flush (src);
  cairo_surface_flush (dst);
  const guint8 *sd = cairo_image_surface_get_data (src);
  guint8 *dd = cairo_image_surface_get_data (dst);
  int ss = cairo_image_surface_get_stride (src), ds = cairo_image_surface_get_stride (dst);
  for (int y = 0; y < h * *fy; y++)
    {
      const guint8 *srow = sd + (gsize) (y / *fy) * ss;
      guint8 *drow = dd + (gsize) y * ds;
      for (int x = 0; x < w * *fx; x++)
        memcpy (drow + (gsize) x * bpp, srow + (gsize) (x / *fx) * bpp, bpp);
    }
  cairo_surface_mark_dirty (dst);
  return dst;
}

/* Paint @img (w x h pixels) into the rectangle (x, y, shown_w, shown_h), pixels as crisp squares. */
static void
paint_nearest (cairo_t *cr, cairo_surface_t *img, double x, double y, double shown_w,
               double shown_h)
{
  int fx, fy;
  cairo_surface_t *big = nearest_for_target (cr, img, shown_w, shown_h, &fx, &fy);
  int bw = cairo_image_surface_get_width (big), bh = cairo_image_surface_get_height (big);
  cairo_save (cr);
  cairo_rectangle (cr, x, y, shown_w, shown_h);
  cairo_clip (cr);
  cairo_translate (cr, x, y);
  cairo_scale (cr, shown_w / bw, shown_h / bh);
  cairo_set_source_surface (cr, big, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_NEAREST);
  cairo_pattern_set_extend (cairo_get_source (cr), CAIRO_EXTEND_PAD);
  cairo_paint (cr);
  cairo_restore (cr);
  cairo_surface_destroy (big);
}

/* ============================================================================================
 * Axes frame shared by line, scatter and bar plots
 * ========================================================================================== */

typedef struct {
  const char *name;
  FwRgba      color;
  gboolean    dashed;
  gboolean    dot;    /* swatch is a dot (scatter) rather than a line */
  gboolean    box;    /* swatch is a filled square (bars) */
} LegendEntry;

typedef struct {
  /* plot area, logical px (y0 = top) */
  double   x0, y0, x1, y1;
  /* data values at the area's edges; for log_y, ymin/ymax are log10 of the values */
  double   xmin, xmax, ymin, ymax;
  gboolean log_y;
  gboolean log_x;          /* xmin/xmax are log10 of the values */
  gboolean x_categorical;  /* bars: no x ticks, categories instead */
  FwTicks  xt, yt;
  double   title_y;        /* top of the title line */
  double   legend_y;       /* top of the legend rows */
  double   legend_h;
  double   y_title_x;      /* centre x of the rotated y axis title */
  double   x_title_y;      /* top y of the x axis title */
  double   tick_len;
  double   cat_label_h;    /* bars: height reserved for category labels */
  gboolean cat_rotated;
} Frame;

static double
frame_px (const Frame *f, double x)
{
  double v = f->log_x ? (x > 0 ? log10 (x) : -INFINITY) : x;
  return f->x0 + (v - f->xmin) / (f->xmax - f->xmin) * (f->x1 - f->x0);
}

static double
frame_py (const Frame *f, double y)
{
  double v = f->log_y ? (y > 0 ? log10 (y) : -INFINITY) : y;
  return f->y1 - (v - f->ymin) / (f->ymax - f->ymin) * (f->y1 - f->y0);
}

/* Legend rows: entries flow left to right, wrapping, right-aligned block above the plot. */
static double
legend_entry_width (Ctx *c, const LegendEntry *e)
{
  double tw;
  text_size (c, e->name, c->fs_tick, FALSE, &tw, NULL);
  return 22.0 * c->st.font_scale + tw + 14.0 * c->st.font_scale;
}

static double
legend_height (Ctx *c, const LegendEntry *e, guint n, double avail_w)
{
  if (n == 0)
    return 0.0;
  double lh = line_height (c, c->fs_tick) + 2.0 * c->st.font_scale;
  guint rows = 1;
  double x = 0;
  for (guint i = 0; i < n; i++)
    {
      double ew = legend_entry_width (c, &e[i]);
      if (x > 0 && x + ew > avail_w)
        {
          rows++;
          x = 0;
        }
      x += ew;
    }
  return rows * lh;
}

static void
legend_draw (Ctx *c, const LegendEntry *e, guint n, double left, double right, double top)
{
  if (n == 0)
    return;
  cairo_t *cr = c->cr;
  double fs = c->st.font_scale;
  double lh = line_height (c, c->fs_tick) + 2.0 * fs;
  double avail = right - left;
  /* split into rows first so each row can be right-aligned */
  guint start = 0;
  double y = top;
  while (start < n)
    {
      double row_w = 0;
      guint end = start;
      while (end < n)
        {
          double ew = legend_entry_width (c, &e[end]);
          if (end > start && row_w + ew > avail)
            break;
          row_w += ew;
          end++;
        }
      double x = MAX (left, right - row_w + 14.0 * fs);
      for (guint i = start; i < end; i++)
        {
          double cy = y + lh / 2;
          cairo_save (cr);
          fw_rgba_set_source (cr, e[i].color);
          if (e[i].dot)
            {
              cairo_arc (cr, x + 9 * fs, cy, 4.0 * fs, 0, 2 * G_PI);
              cairo_fill (cr);
            }
          else if (e[i].box)
            {
              cairo_rectangle (cr, x + 3 * fs, cy - 6 * fs, 12 * fs, 12 * fs);
              cairo_fill (cr);
            }
          else
            {
              cairo_set_line_width (cr, 2.5 * c->lw);
              if (e[i].dashed)
                {
                  double d[2] = { 4 * c->lw, 3 * c->lw };
                  cairo_set_dash (cr, d, 2, 0);
                }
              cairo_move_to (cr, x, cy);
              cairo_line_to (cr, x + 18 * fs, cy);
              cairo_stroke (cr);
            }
          cairo_restore (cr);
          draw_text (c, e[i].name, c->fs_tick, FALSE, c->text, x + 22 * fs, cy, 0.0, 0.5);
          x += legend_entry_width (c, &e[i]);
        }
      y += lh;
      start = end;
    }
}

/* Widest tick label of a tick set. */
static double
ticks_label_width (Ctx *c, const FwTicks *t, gboolean log, double vmin, double vmax,
                   double *last_w)
{
  double wmax = 0;
  if (last_w)
    *last_w = 0;
  for (guint i = 0; i < t->n; i++)
    {
      double v = fw_ticks_value (t, i);
      if (v < vmin - 1e-9 * t->step || v > vmax + 1e-9 * t->step)
        continue;
      g_autofree char *s = log ? format_decade (v) : fw_format_tick (v, t->step);
      double w;
      text_size (c, s, c->fs_tick, FALSE, &w, NULL);
      wmax = MAX (wmax, w);
      if (last_w)
        *last_w = w;
    }
  return wmax;
}

/* Ranges in: xmin..xmax, ymin..ymax (data; log_y: positive values), with per-end "auto" flags
 * saying the end may be widened to a tick. Fills the frame. */
typedef struct {
  const char        *title;
  const char        *x_title;
  const char        *y_title;
  const LegendEntry *legend;
  guint              n_legend;
  double             xmin, xmax, ymin, ymax;
  gboolean           x_auto_lo, x_auto_hi, y_auto_lo, y_auto_hi;
  gboolean           log_y;
  gboolean           log_x;
  gboolean           x_categorical;
  /* bars only: category labels, to reserve space */
  const char *const *cat_labels;
  guint              n_cat;
} FrameSpec;

static void
ticks_for_range (double *lo, double *hi, gboolean auto_lo, gboolean auto_hi, gboolean log,
                 guint max_int, FwTicks *t)
{
  if (log)
    {
      double l = pow (10.0, *lo), h = pow (10.0, *hi);
      fw_log_ticks (l, h, t);
      if (auto_lo)
        *lo = t->first;
      if (auto_hi)
        *hi = t->first + (t->n - 1);
      return;
    }
  if (!auto_lo || !auto_hi)
    {
      /* A fixed end clips the outer ticks away: allow a finer step as long as the ticks that
       * remain inside the range are at most max_int + 1 (and at least 2). */
      for (guint extra = 2;; extra--)
        {
          fw_nice_ticks (*lo, *hi, max_int + extra, t);
          guint inside = 0;
          for (guint i = 0; i < t->n; i++)
            {
              double v = fw_ticks_value (t, i);
              inside += v >= *lo - 1e-9 * t->step && v <= *hi + 1e-9 * t->step;
            }
          if ((inside <= max_int + 1 && inside >= 2) || extra == 0)
            break;
        }
    }
  else
    fw_nice_ticks (*lo, *hi, max_int, t);
  if (auto_lo)
    *lo = fw_ticks_value (t, 0);
  if (auto_hi)
    *hi = fw_ticks_value (t, t->n - 1);
  if (*hi <= *lo)
    {
      *lo = fw_ticks_value (t, 0);
      *hi = fw_ticks_value (t, t->n - 1);
    }
}

static void
frame_layout (Ctx *c, const FrameSpec *s, double width, double height, Frame *f)
{
  memset (f, 0, sizeof *f);
  double fs = c->st.font_scale;
  double pad = c->pad;
  double tick_h = line_height (c, c->fs_tick);
  double label_h = line_height (c, c->fs_label);
  f->tick_len = 4.0 * fs;
  f->log_y = s->log_y;
  f->log_x = s->log_x;
  f->x_categorical = s->x_categorical;

  double top = pad;
  if (s->title)
    {
      f->title_y = top;
      top += line_height (c, c->fs_title) + pad * 0.5;
    }
  if (s->n_legend > 0)
    {
      f->legend_y = top;
      f->legend_h = legend_height (c, s->legend, s->n_legend, width - 2 * pad);
      top += f->legend_h + pad * 0.5;
    }
  top = MAX (top, pad + tick_h / 2);

  double bottom = height - pad;
  if (s->x_title)
    {
      f->x_title_y = bottom - label_h;
      bottom -= label_h + pad * 0.5;
    }

  double left = pad;
  if (s->y_title)
    {
      f->y_title_x = left + label_h / 2;
      left += label_h + pad * 0.5;
    }

  /* data ranges (log axis in exponent space) */
  double ylo = s->ymin, yhi = s->ymax;
  if (s->log_y)
    {
      ylo = log10 (ylo);
      yhi = log10 (yhi);
    }
  double xlo = s->xmin, xhi = s->xmax;
  if (s->log_x)
    {
      xlo = log10 (xlo);
      xhi = log10 (xhi);
    }

  /* Two passes: tick counts depend on the area, the area on the tick labels' sizes. */
  double area_h = MAX (bottom - top - tick_h - f->tick_len, 20);
  double area_w = MAX (width - left - pad - 40 * fs, 20);
  for (int pass = 0; pass < 2; pass++)
    {
      double ylo2 = ylo, yhi2 = yhi;
      guint y_int = (guint) CLAMP (area_h / (3.2 * tick_h), 2, 10);
      ticks_for_range (&ylo2, &yhi2, s->y_auto_lo, s->y_auto_hi, s->log_y, y_int, &f->yt);
      f->ymin = ylo2;
      f->ymax = yhi2;
      double ylab_w = ticks_label_width (c, &f->yt, s->log_y, ylo2, yhi2, NULL);
      f->x0 = left + ylab_w + f->tick_len + 3 * fs;

      double bottom_area = bottom;
      if (s->x_categorical)
        {
          /* categories: horizontal labels if they fit, else rotated (reading upwards) */
          double slot = (width - pad - f->x0) / MAX (s->n_cat, 1);
          double maxw = 0;
          for (guint i = 0; i < s->n_cat; i++)
            {
              double w;
              text_size (c, s->cat_labels ? s->cat_labels[i] : "00", c->fs_tick, FALSE, &w,
                         NULL);
              maxw = MAX (maxw, w);
            }
          f->cat_rotated = maxw > slot - 4 * fs;
          f->cat_label_h = f->cat_rotated ? MIN (maxw, height * 0.35) : tick_h;
          bottom_area -= f->cat_label_h + f->tick_len + 3 * fs;
          f->x1 = width - pad;
          f->xmin = s->xmin;
          f->xmax = s->xmax;
        }
      else
        {
          double xlo2 = xlo, xhi2 = xhi, last_w = 0;
          guint x_int = (guint) CLAMP (area_w / (70.0 * fs), 2, 10);
          /* fewer intervals while the labels would collide */
          for (;;)
            {
              xlo2 = xlo;
              xhi2 = xhi;
              ticks_for_range (&xlo2, &xhi2, s->x_auto_lo, s->x_auto_hi, s->log_x, x_int,
                               &f->xt);
              double xw = ticks_label_width (c, &f->xt, s->log_x, xlo2, xhi2, &last_w);
              double spacing = area_w / MAX ((xhi2 - xlo2) / f->xt.step, 1.0);
              if (xw + 10 * fs <= spacing || x_int <= 1)
                break;
              x_int--;
            }
          f->xmin = xlo2;
          f->xmax = xhi2;
          f->x1 = width - MAX (pad, last_w / 2 + 2 * fs);
          bottom_area -= tick_h + f->tick_len + 2 * fs;
        }
      f->y0 = top;
      f->y1 = bottom_area;
      area_h = MAX (f->y1 - f->y0, 20);
      area_w = MAX (f->x1 - f->x0, 20);
    }
  /* degenerate sizes: keep the transform finite */
  if (f->x1 - f->x0 < 1)
    f->x1 = f->x0 + 1;
  if (f->y1 - f->y0 < 1)
    f->y1 = f->y0 + 1;
  if (!(f->xmax > f->xmin))
    f->xmax = f->xmin + 1;
  if (!(f->ymax > f->ymin))
    f->ymax = f->ymin + 1;
}

/* Snap a coordinate to the centre of a device pixel for crisp 1 px lines. */
static double
snap (cairo_t *cr, double v, gboolean is_x)
{
  double x = is_x ? v : 0, y = is_x ? 0 : v;
  cairo_user_to_device (cr, &x, &y);
  double d = is_x ? x : y;
  d = floor (d) + 0.5;
  if (is_x)
    x = d;
  else
    y = d;
  cairo_device_to_user (cr, &x, &y);
  return is_x ? x : y;
}

static void
frame_draw (Ctx *c, const FrameSpec *s, const Frame *f, double width, double height)
{
  cairo_t *cr = c->cr;
  double fs = c->st.font_scale;

  if (s->title)
    {
      /* a title wider than the plot ends in "…" instead of being cut at both edges */
      ctx_set_text (c, s->title, c->fs_title, TRUE, FALSE, MAX (width - 2 * c->pad, 1));
      draw_layout (c, c->text, width / 2, f->title_y, 0.5, 0.0, 0.0);
    }
  if (s->n_legend > 0)
    legend_draw (c, s->legend, s->n_legend, c->pad, width - c->pad, f->legend_y);

  /* grid + y ticks */
  cairo_save (cr);
  cairo_set_line_width (cr, c->lw);
  for (guint i = 0; i < f->yt.n; i++)
    {
      double v = fw_ticks_value (&f->yt, i);
      if (v < f->ymin - 1e-9 * f->yt.step || v > f->ymax + 1e-9 * f->yt.step)
        continue;
      double py = f->y1 - (v - f->ymin) / (f->ymax - f->ymin) * (f->y1 - f->y0);
      double sy = snap (cr, py, FALSE);
      fw_rgba_set_source (cr, c->grid);
      cairo_move_to (cr, f->x0, sy);
      cairo_line_to (cr, f->x1, sy);
      cairo_stroke (cr);
      fw_rgba_set_source (cr, c->axis);
      cairo_move_to (cr, f->x0 - f->tick_len, sy);
      cairo_line_to (cr, f->x0, sy);
      cairo_stroke (cr);
      g_autofree char *lab = f->log_y ? format_decade (v) : fw_format_tick (v, f->yt.step);
      draw_text (c, lab, c->fs_tick, FALSE, c->muted, f->x0 - f->tick_len - 3 * fs, py, 1.0, 0.5);

      if (f->log_y && i + 1 < f->yt.n)
        {
          /* faint minor grid at 2..9 within the decade */
          fw_rgba_set_source (cr, fw_rgba_with_alpha (c->grid, 0.55));
          for (int m = 2; m <= 9; m++)
            {
              double lv = v + log10 ((double) m);
              if (lv > f->ymax)
                break;
              if (lv < f->ymin)
                continue;
              double my = snap (cr, f->y1 - (lv - f->ymin) / (f->ymax - f->ymin) * (f->y1 - f->y0),
                                FALSE);
              cairo_move_to (cr, f->x0, my);
              cairo_line_to (cr, f->x1, my);
              cairo_stroke (cr);
            }
        }
    }
  if (!f->x_categorical)
    for (guint i = 0; i < f->xt.n; i++)
      {
        double v = fw_ticks_value (&f->xt, i);
        if (v < f->xmin - 1e-9 * f->xt.step || v > f->xmax + 1e-9 * f->xt.step)
          continue;
        double px = f->x0 + (v - f->xmin) / (f->xmax - f->xmin) * (f->x1 - f->x0);
        double sx = snap (cr, px, TRUE);
        fw_rgba_set_source (cr, c->grid);
        cairo_move_to (cr, sx, f->y0);
        cairo_line_to (cr, sx, f->y1);
        cairo_stroke (cr);
        fw_rgba_set_source (cr, c->axis);
        cairo_move_to (cr, sx, f->y1);
        cairo_line_to (cr, sx, f->y1 + f->tick_len);
        cairo_stroke (cr);
        g_autofree char *lab = f->log_x ? format_decade (v) : fw_format_tick (v, f->xt.step);
        draw_text (c, lab, c->fs_tick, FALSE, c->muted, px, f->y1 + f->tick_len + 2 * fs, 0.5,
                   0.0);
        if (f->log_x && i + 1 < f->xt.n)
          {
            /* faint minor grid at 2..9 within the decade */
            fw_rgba_set_source (cr, fw_rgba_with_alpha (c->grid, 0.55));
            for (int m = 2; m <= 9; m++)
              {
                double lv = v + log10 ((double) m);
                if (lv > f->xmax)
                  break;
                if (lv < f->xmin)
                  continue;
                double mx = snap (cr, f->x0 + (lv - f->xmin) / (f->xmax - f->xmin)
                                              * (f->x1 - f->x0), TRUE);
                cairo_move_to (cr, mx, f->y0);
                cairo_line_to (cr, mx, f->y1);
                cairo_stroke (cr);
              }
          }
      }
  /* axis lines: left and bottom */
  fw_rgba_set_source (cr, c->axis);
  double ax = snap (cr, f->x0, TRUE), ay = snap (cr, f->y1, FALSE);
  cairo_move_to (cr, ax, f->y0);
  cairo_line_to (cr, ax, ay);
  cairo_line_to (cr, f->x1, ay);
  cairo_stroke (cr);
  cairo_restore (cr);

  if (s->y_title)
    {
      ctx_set_text (c, s->y_title, c->fs_label, FALSE, FALSE, f->y1 - f->y0 + 2 * c->pad);
      pango_layout_set_alignment (c->layout, PANGO_ALIGN_CENTER);
      draw_layout (c, c->text, f->y_title_x, (f->y0 + f->y1) / 2, 0.5, 0.5, -G_PI / 2);
    }
  if (s->x_title)
    {
      ctx_set_text (c, s->x_title, c->fs_label, FALSE, FALSE, -1);
      draw_layout (c, c->text, (f->x0 + f->x1) / 2, f->x_title_y, 0.5, 0.0, 0.0);
    }
}

/* ============================================================================================
 * Line plot
 * ========================================================================================== */

typedef struct {
  double x, y, lo, hi;  /* lo/hi NaN: no band at this point */
} LinePt;

typedef struct {
  char    *name;
  FwRgba   color;
  gboolean dashed;
  gboolean markers;
  gboolean points_only;  /* markers without a line; bands drawn as error bars */
  GArray  *pts;  /* LinePt */
} LineSeries;

struct _FwLinePlot {
  char      *title;
  char      *x_label, *x_unit, *y_label, *y_unit;
  char      *empty_text;
  gboolean   log_y;
  gboolean   log_x;
  double     x_min, x_max, y_min, y_max;  /* NAN = auto */
  GPtrArray *series;                      /* LineSeries* */
};

static void
line_series_free (gpointer p)
{
  LineSeries *s = p;
  g_free (s->name);
  g_array_unref (s->pts);
  g_free (s);
}

FwLinePlot *
fw_line_plot_new (void)
{
  FwLinePlot *p = g_atomic_rc_box_new0 (FwLinePlot);
  p->x_min = p->x_max = p->y_min = p->y_max = NAN;
  p->series = g_ptr_array_new_with_free_func (line_series_free);
  return p;
}

FwLinePlot *
fw_line_plot_ref (FwLinePlot *p)
{
  g_return_val_if_fail (p != NULL, NULL);
  return g_atomic_rc_box_acquire (p);
}

static void
line_plot_clear_mem (gpointer data)
{
  FwLinePlot *p = data;
  g_free (p->title);
  g_free (p->x_label);
  g_free (p->x_unit);
  g_free (p->y_label);
  g_free (p->y_unit);
  g_free (p->empty_text);
  g_ptr_array_unref (p->series);
}

void
fw_line_plot_unref (FwLinePlot *p)
{
  if (p != NULL)
    g_atomic_rc_box_release_full (p, line_plot_clear_mem);
}

void
fw_line_plot_set_title (FwLinePlot *p, const char *title)
{
  g_return_if_fail (p != NULL);
  set_str (&p->title, title);
}

void
fw_line_plot_set_x_label (FwLinePlot *p, const char *label, const char *unit)
{
  g_return_if_fail (p != NULL);
  set_str (&p->x_label, label);
  set_str (&p->x_unit, unit);
}

void
fw_line_plot_set_y_label (FwLinePlot *p, const char *label, const char *unit)
{
  g_return_if_fail (p != NULL);
  set_str (&p->y_label, label);
  set_str (&p->y_unit, unit);
}

void
fw_line_plot_set_log_y (FwLinePlot *p, gboolean log_y)
{
  g_return_if_fail (p != NULL);
  p->log_y = !!log_y;
}

void
fw_line_plot_set_x_range (FwLinePlot *p, double min, double max)
{
  g_return_if_fail (p != NULL);
  p->x_min = min;
  p->x_max = max;
}

void
fw_line_plot_set_y_range (FwLinePlot *p, double min, double max)
{
  g_return_if_fail (p != NULL);
  p->y_min = min;
  p->y_max = max;
}

void
fw_line_plot_set_empty_text (FwLinePlot *p, const char *text)
{
  g_return_if_fail (p != NULL);
  set_str (&p->empty_text, text);
}

guint
fw_line_plot_add_series (FwLinePlot *p, const char *name, int color_index)
{
  g_return_val_if_fail (p != NULL, 0);
  LineSeries *s = g_new0 (LineSeries, 1);
  s->name = g_strdup (name ? name : "");
  s->color = fw_palette_color (color_index);
  s->pts = g_array_new (FALSE, FALSE, sizeof (LinePt));
  g_ptr_array_add (p->series, s);
  return p->series->len - 1;
}

static LineSeries *
line_series (const FwLinePlot *p, guint series)
{
  g_return_val_if_fail (p != NULL, NULL);
  if (series >= p->series->len)
    {
      g_critical ("FwLinePlot: series %u does not exist (%u series)", series, p->series->len);
      return NULL;
    }
  return g_ptr_array_index (p->series, series);
}

void
fw_line_plot_series_set_color (FwLinePlot *p, guint series, FwRgba color)
{
  LineSeries *s = line_series (p, series);
  if (s)
    s->color = color;
}

void
fw_line_plot_series_set_dashed (FwLinePlot *p, guint series, gboolean dashed)
{
  LineSeries *s = line_series (p, series);
  if (s)
    s->dashed = !!dashed;
}

void
fw_line_plot_set_log_x (FwLinePlot *p, gboolean log_x)
{
  g_return_if_fail (p != NULL);
  p->log_x = !!log_x;
}

void
fw_line_plot_series_set_points_only (FwLinePlot *p, guint series, gboolean points_only)
{
  LineSeries *s = line_series (p, series);
  if (s)
    s->points_only = !!points_only;
}

void
fw_line_plot_series_set_markers (FwLinePlot *p, guint series, gboolean markers)
{
  LineSeries *s = line_series (p, series);
  if (s)
    s->markers = !!markers;
}

void
fw_line_plot_append_band (FwLinePlot *p, guint series, double x, double y, double y_lo,
                          double y_hi)
{
  LineSeries *s = line_series (p, series);
  if (!s)
    return;
  LinePt pt = { x, y, y_lo, y_hi };
  g_array_append_val (s->pts, pt);
}

void
fw_line_plot_append (FwLinePlot *p, guint series, double x, double y)
{
  fw_line_plot_append_band (p, series, x, y, NAN, NAN);
}

void
fw_line_plot_set_series_data (FwLinePlot *p, guint series, const double *x, const double *y,
                              const double *y_lo, const double *y_hi, gsize n)
{
  LineSeries *s = line_series (p, series);
  if (!s)
    return;
  g_return_if_fail (n == 0 || (x != NULL && y != NULL));
  g_array_set_size (s->pts, 0);
  for (gsize i = 0; i < n; i++)
    {
      LinePt pt = { x[i], y[i], y_lo && y_hi ? y_lo[i] : NAN, y_lo && y_hi ? y_hi[i] : NAN };
      g_array_append_val (s->pts, pt);
    }
}

void
fw_line_plot_clear_series (FwLinePlot *p, guint series)
{
  LineSeries *s = line_series (p, series);
  if (s)
    g_array_set_size (s->pts, 0);
}

void
fw_line_plot_clear (FwLinePlot *p)
{
  g_return_if_fail (p != NULL);
  g_ptr_array_set_size (p->series, 0);
}

guint
fw_line_plot_get_n_series (const FwLinePlot *p)
{
  g_return_val_if_fail (p != NULL, 0);
  return p->series->len;
}

const char *
fw_line_plot_get_series_name (const FwLinePlot *p, guint series)
{
  LineSeries *s = line_series (p, series);
  return s ? s->name : NULL;
}

gsize
fw_line_plot_series_len (const FwLinePlot *p, guint series)
{
  LineSeries *s = line_series (p, series);
  return s ? s->pts->len : 0;
}

gboolean
fw_line_plot_get_point (const FwLinePlot *p, guint series, gsize i, double *x, double *y)
{
  LineSeries *s = line_series (p, series);
  if (!s || i >= s->pts->len)
    return FALSE;
  LinePt *pt = &g_array_index (s->pts, LinePt, i);
  if (x)
    *x = pt->x;
  if (y)
    *y = pt->y;
  return TRUE;
}

static gboolean
line_point_ok (const FwLinePlot *p, double x, double y)
{
  return isfinite (x) && isfinite (y) && (!p->log_y || y > 0) && (!p->log_x || x > 0);
}

/* Layout of a line plot. Returns FALSE when there is nothing to plot (empty state). */
static gboolean
line_layout (Ctx *c, const FwLinePlot *p, double width, double height, Frame *f,
             FrameSpec *spec, LegendEntry **legend, char **x_title, char **y_title)
{
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (guint s = 0; s < p->series->len; s++)
    {
      LineSeries *ls = g_ptr_array_index (p->series, s);
      for (guint i = 0; i < ls->pts->len; i++)
        {
          LinePt *pt = &g_array_index (ls->pts, LinePt, i);
          if (!line_point_ok (p, pt->x, pt->y))
            continue;
          xmin = MIN (xmin, pt->x);
          xmax = MAX (xmax, pt->x);
          ymin = MIN (ymin, pt->y);
          ymax = MAX (ymax, pt->y);
          if (isfinite (pt->lo) && isfinite (pt->hi) && (!p->log_y || pt->lo > 0))
            {
              ymin = MIN (ymin, pt->lo);
              ymax = MAX (ymax, pt->hi);
            }
        }
    }
  if (!(xmin <= xmax))
    return FALSE;

  memset (spec, 0, sizeof *spec);
  spec->x_auto_lo = isnan (p->x_min);
  spec->x_auto_hi = isnan (p->x_max);
  spec->y_auto_lo = isnan (p->y_min);
  spec->y_auto_hi = isnan (p->y_max);
  spec->xmin = spec->x_auto_lo ? xmin : p->x_min;
  spec->xmax = spec->x_auto_hi ? xmax : p->x_max;
  spec->ymin = spec->y_auto_lo ? ymin : p->y_min;
  spec->ymax = spec->y_auto_hi ? ymax : p->y_max;
  if (p->log_y)
    {
      if (!(spec->ymin > 0))
        spec->ymin = ymin > 0 ? ymin : 1e-3;
      if (!(spec->ymax > spec->ymin))
        spec->ymax = spec->ymin * 10;
    }
  if (p->log_x)
    {
      if (!(spec->xmin > 0))
        spec->xmin = xmin > 0 ? xmin : 1e-3;
      if (!(spec->xmax > spec->xmin))
        spec->xmax = spec->xmin * 10;
    }
  if (spec->xmax < spec->xmin)
    {
      double t = spec->xmax;
      spec->xmax = spec->xmin;
      spec->xmin = t;
    }
  if (spec->ymax < spec->ymin)
    {
      double t = spec->ymax;
      spec->ymax = spec->ymin;
      spec->ymin = t;
    }
  spec->log_y = p->log_y;
  spec->log_x = p->log_x;
  spec->title = p->title;
  *x_title = axis_title (p->x_label, p->x_unit);
  *y_title = axis_title (p->y_label, p->y_unit);
  spec->x_title = *x_title;
  spec->y_title = *y_title;
  /* legend: the series that have points, only when there are at least two of them */
  *legend = NULL;
  guint n_with_data = 0;
  for (guint s = 0; s < p->series->len; s++)
    n_with_data += ((LineSeries *) g_ptr_array_index (p->series, s))->pts->len > 0;
  if (n_with_data > 1)
    {
      *legend = g_new0 (LegendEntry, n_with_data);
      guint k = 0;
      for (guint s = 0; s < p->series->len; s++)
        {
          LineSeries *ls = g_ptr_array_index (p->series, s);
          if (ls->pts->len == 0)
            continue;
          (*legend)[k].name = ls->name;
          (*legend)[k].color = ls->color;
          (*legend)[k].dashed = ls->dashed;
          (*legend)[k].dot = ls->points_only;
          k++;
        }
      spec->legend = *legend;
      spec->n_legend = n_with_data;
    }
  frame_layout (c, spec, width, height, f);
  return TRUE;
}

/* Path decimation for long series: consecutive points falling into the same half-pixel column
 * collapse to that column's first, lowest, highest and last points (in their original order),
 * which draws the same envelope as the full path at a fraction of the cost. */
typedef struct {
  double key;
  int    n;
  double y_min, x_min, y_max, x_max;
  int    i_min, i_max;   /* order of arrival of the extremes */
  double x_last, y_last;
} Bucket;

static void
bucket_start (Bucket *b, double key, double x, double y)
{
  b->key = key;
  b->n = 1;
  b->x_min = b->x_max = b->x_last = x;
  b->y_min = b->y_max = b->y_last = y;
  b->i_min = b->i_max = 0;
}

static void
bucket_add (Bucket *b, double x, double y)
{
  if (y < b->y_min)
    {
      b->y_min = y;
      b->x_min = x;
      b->i_min = b->n;
    }
  if (y > b->y_max)
    {
      b->y_max = y;
      b->x_max = x;
      b->i_max = b->n;
    }
  b->x_last = x;
  b->y_last = y;
  b->n++;
}

/* The bucket's first point is already on the path. */
static void
bucket_flush (cairo_t *cr, Bucket *b)
{
  if (b->n > 1)
    {
      gboolean min_first = b->i_min <= b->i_max;
      double xa = min_first ? b->x_min : b->x_max, ya = min_first ? b->y_min : b->y_max;
      double xb = min_first ? b->x_max : b->x_min, yb = min_first ? b->y_max : b->y_min;
      int ia = min_first ? b->i_min : b->i_max, ib = min_first ? b->i_max : b->i_min;
      if (ia > 0 && ia < b->n - 1)
        cairo_line_to (cr, xa, ya);
      if (ib > 0 && ib < b->n - 1 && ib != ia)
        cairo_line_to (cr, xb, yb);
      cairo_line_to (cr, b->x_last, b->y_last);
    }
  b->n = 0;
}

/* Very long series (many points per pixel column, e.g. per-batch loss): stroking the zigzag
 * through every point makes Cairo's stroker crawl (~100 ms for 20k noisy points). Draw what the
 * eye sees instead: per half-pixel column the band between the lowest and highest point, filled,
 * with its upper and lower edges stroked at the line width (~10x faster). */
typedef struct {
  double x, lo, hi;  /* pixels: column centre, min y, max y */
} EnvCol;

static void
envelope_flush (cairo_t *cr, GArray *cols, double lw)
{
  if (cols->len == 0)
    return;
  EnvCol *e = (EnvCol *) (void *) cols->data;
  for (guint i = 0; i < cols->len; i++)
    i == 0 ? cairo_move_to (cr, e[i].x, e[i].lo) : cairo_line_to (cr, e[i].x, e[i].lo);
  for (guint i = cols->len; i-- > 0;)
    cairo_line_to (cr, e[i].x, e[i].hi);
  cairo_close_path (cr);
  cairo_fill (cr);
  cairo_set_line_width (cr, lw);
  for (guint i = 0; i < cols->len; i++)
    i == 0 ? cairo_move_to (cr, e[i].x, e[i].lo) : cairo_line_to (cr, e[i].x, e[i].lo);
  cairo_stroke (cr);
  for (guint i = 0; i < cols->len; i++)
    i == 0 ? cairo_move_to (cr, e[i].x, e[i].hi) : cairo_line_to (cr, e[i].x, e[i].hi);
  cairo_stroke (cr);
  g_array_set_size (cols, 0);
}

static void
draw_envelope (cairo_t *cr, const FwLinePlot *p, const LineSeries *ls, const Frame *f, double lw)
{
  GArray *cols = g_array_new (FALSE, FALSE, sizeof (EnvCol));
  double key = NAN;
  fw_rgba_set_source (cr, ls->color);
  for (guint i = 0; i < ls->pts->len; i++)
    {
      const LinePt *pt = &g_array_index (ls->pts, LinePt, i);
      if (!line_point_ok (p, pt->x, pt->y))
        {
          envelope_flush (cr, cols, lw);  /* a gap */
          key = NAN;
          continue;
        }
      double px = frame_px (f, pt->x), py = frame_py (f, pt->y);
      double k = floor (px * 2.0);
      if (k == key && cols->len > 0)
        {
          EnvCol *e = &g_array_index (cols, EnvCol, cols->len - 1);
          e->lo = MIN (e->lo, py);
          e->hi = MAX (e->hi, py);
          continue;
        }
      if (cols->len > 0 && k < key)
        envelope_flush (cr, cols, lw);  /* x went backwards: start a new envelope */
      EnvCol e = { (k + 0.5) / 2.0, py, py };
      g_array_append_val (cols, e);
      key = k;
    }
  envelope_flush (cr, cols, lw);
  g_array_unref (cols);
}

void
fw_plot_draw_line (cairo_t *cr, const FwLinePlot *p, double width, double height,
                   const FwPlotStyle *style)
{
  g_return_if_fail (cr != NULL && p != NULL);
  Ctx c;
  ctx_init (&c, cr, style);
  cairo_save (cr);
  paint_background (&c, width, height);

  Frame f;
  FrameSpec spec;
  LegendEntry *legend = NULL;
  char *xt = NULL, *yt = NULL;
  if (!line_layout (&c, p, width, height, &f, &spec, &legend, &xt, &yt))
    {
      if (p->title)
        draw_text (&c, p->title, c.fs_title, TRUE, c.text, width / 2, c.pad, 0.5, 0.0);
      cairo_restore (cr);
      ctx_clear (&c);
      fw_plot_draw_message (cr, p->empty_text ? p->empty_text : "No data yet", width, height,
                            style);
      return;
    }
  frame_draw (&c, &spec, &f, width, height);

  cairo_save (cr);
  /* the frame with room for a whole marker on its edges (a point at the end of the x range) */
  cairo_rectangle (cr, f.x0 - 3 * c.lw, f.y0 - 3 * c.lw, f.x1 - f.x0 + 6 * c.lw,
                   f.y1 - f.y0 + 6 * c.lw);
  cairo_clip (cr);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);

  /* bands first, under every line; error bars for points-only series */
  for (guint s = 0; s < p->series->len; s++)
    {
      LineSeries *ls = g_ptr_array_index (p->series, s);
      guint n = ls->pts->len;
      guint i = 0;
      if (ls->points_only)
        {
          double cap = 4.0 * c.lw;
          for (guint k = 0; k < n; k++)
            {
              LinePt *pt = &g_array_index (ls->pts, LinePt, k);
              if (!line_point_ok (p, pt->x, pt->y) || !isfinite (pt->lo) || !isfinite (pt->hi)
                  || (p->log_y && pt->lo <= 0))
                continue;
              double px = frame_px (&f, pt->x), ylo = frame_py (&f, pt->lo);
              double yhi = frame_py (&f, pt->hi);
              whisker_path (cr, px, ylo, yhi, cap);
            }
          fw_rgba_set_source (cr, ls->color);
          cairo_set_line_width (cr, 1.5 * c.lw);
          cairo_stroke (cr);
          continue;
        }
      while (i < n)
        {
          /* a run of consecutive banded points */
          guint j = i;
          while (j < n)
            {
              LinePt *pt = &g_array_index (ls->pts, LinePt, j);
              if (!(isfinite (pt->x) && isfinite (pt->lo) && isfinite (pt->hi)
                    && (!p->log_y || pt->lo > 0)))
                break;
              j++;
            }
          if (j - i >= 2)
            {
              for (guint k = i; k < j; k++)
                {
                  LinePt *pt = &g_array_index (ls->pts, LinePt, k);
                  if (k == i)
                    cairo_move_to (cr, frame_px (&f, pt->x), frame_py (&f, pt->hi));
                  else
                    cairo_line_to (cr, frame_px (&f, pt->x), frame_py (&f, pt->hi));
                }
              for (guint k = j; k-- > i;)
                {
                  LinePt *pt = &g_array_index (ls->pts, LinePt, k);
                  cairo_line_to (cr, frame_px (&f, pt->x), frame_py (&f, pt->lo));
                }
              cairo_close_path (cr);
              fw_rgba_set_source (cr, fw_rgba_with_alpha (ls->color, 0.22));
              cairo_fill (cr);
            }
          i = MAX (j, i + 1);
        }
    }

  for (guint s = 0; s < p->series->len; s++)
    {
      LineSeries *ls = g_ptr_array_index (p->series, s);
      if (ls->points_only)
        {
          for (guint i = 0; i < ls->pts->len; i++)
            {
              LinePt *pt = &g_array_index (ls->pts, LinePt, i);
              if (!line_point_ok (p, pt->x, pt->y))
                continue;
              cairo_new_sub_path (cr);
              cairo_arc (cr, frame_px (&f, pt->x), frame_py (&f, pt->y), 5.0 * c.lw, 0,
                         2 * G_PI);
            }
          fw_rgba_set_source (cr, ls->color);
          cairo_fill_preserve (cr);
          fw_rgba_set_source (cr, c.bg);
          cairo_set_line_width (cr, 1.0 * c.lw);
          cairo_stroke (cr);
          continue;
        }
      if (ls->pts->len > 4 * (f.x1 - f.x0) && !ls->dashed)
        {
          draw_envelope (cr, p, ls, &f, 2.0 * c.lw);
          continue;
        }
      gboolean pen_down = FALSE;
      guint n_ok = 0;
      Bucket b = { 0 };
      for (guint i = 0; i < ls->pts->len; i++)
        {
          LinePt *pt = &g_array_index (ls->pts, LinePt, i);
          if (!line_point_ok (p, pt->x, pt->y))
            {
              bucket_flush (cr, &b);
              pen_down = FALSE;  /* a gap */
              continue;
            }
          double px = frame_px (&f, pt->x), py = frame_py (&f, pt->y);
          double key = floor (px * 2.0);
          n_ok++;
          if (pen_down && key == b.key)
            {
              bucket_add (&b, px, py);
              continue;
            }
          if (pen_down)
            {
              bucket_flush (cr, &b);
              cairo_line_to (cr, px, py);
            }
          else
            cairo_move_to (cr, px, py);
          bucket_start (&b, key, px, py);
          pen_down = TRUE;
        }
      bucket_flush (cr, &b);
      fw_rgba_set_source (cr, ls->color);
      cairo_set_line_width (cr, 2.0 * c.lw);
      if (ls->dashed)
        {
          double d[2] = { 6 * c.lw, 4 * c.lw };
          cairo_set_dash (cr, d, 2, 0);
        }
      cairo_stroke (cr);
      cairo_set_dash (cr, NULL, 0, 0);
      if (ls->markers || n_ok == 1)
        {
          for (guint i = 0; i < ls->pts->len; i++)
            {
              LinePt *pt = &g_array_index (ls->pts, LinePt, i);
              if (!line_point_ok (p, pt->x, pt->y))
                continue;
              cairo_new_sub_path (cr);
              cairo_arc (cr, frame_px (&f, pt->x), frame_py (&f, pt->y), 3.0 * c.lw, 0,
                         2 * G_PI);
            }
          cairo_fill (cr);
        }
    }
  cairo_restore (cr);

  g_free (legend);
  g_free (xt);
  g_free (yt);
  cairo_restore (cr);
  ctx_clear (&c);
}

gboolean
fw_line_plot_pick (const FwLinePlot *p, double width, double height, const FwPlotStyle *style,
                   double px, double py, double radius, guint *series, gsize *index)
{
  g_return_val_if_fail (p != NULL, FALSE);
  Ctx c;
  ctx_init (&c, NULL, style);
  Frame f;
  FrameSpec spec;
  LegendEntry *legend = NULL;
  char *xt = NULL, *yt = NULL;
  gboolean found = FALSE;
  if (line_layout (&c, p, width, height, &f, &spec, &legend, &xt, &yt))
    {
      double best = radius * radius;
      for (guint s = 0; s < p->series->len; s++)
        {
          LineSeries *ls = g_ptr_array_index (p->series, s);
          for (guint i = 0; i < ls->pts->len; i++)
            {
              LinePt *pt = &g_array_index (ls->pts, LinePt, i);
              if (!line_point_ok (p, pt->x, pt->y))
                continue;
              double dx = frame_px (&f, pt->x) - px, dy = frame_py (&f, pt->y) - py;
              double d2 = dx * dx + dy * dy;
              if (d2 <= best)
                {
                  best = d2;
                  found = TRUE;
                  if (series)
                    *series = s;
                  if (index)
                    *index = i;
                }
            }
        }
    }
  g_free (legend);
  g_free (xt);
  g_free (yt);
  ctx_clear (&c);
  return found;
}

/* ============================================================================================
 * Scatter plot
 * ========================================================================================== */

struct _FwScatterPlot {
  float    *xy;        /* n x 2 */
  int      *klass;     /* n */
  gsize     n;
  guint    *order;     /* n: point indices grouped by class (drawing batches) */
  char    **class_names;
  guint     n_class_names;
  char     *title;
  char     *x_label, *x_unit, *y_label, *y_unit;
  char     *empty_text;
  double    point_size;
  gssize    highlight;
  double    vx0, vx1, vy0, vy1;  /* view rectangle */
};

FwScatterPlot *
fw_scatter_plot_new (void)
{
  FwScatterPlot *p = g_atomic_rc_box_new0 (FwScatterPlot);
  p->point_size = 4.0;
  p->highlight = -1;
  p->vx0 = p->vy0 = 0.0;
  p->vx1 = p->vy1 = 1.0;
  return p;
}

FwScatterPlot *
fw_scatter_plot_ref (FwScatterPlot *p)
{
  g_return_val_if_fail (p != NULL, NULL);
  return g_atomic_rc_box_acquire (p);
}

static void
scatter_clear_mem (gpointer data)
{
  FwScatterPlot *p = data;
  g_free (p->xy);
  g_free (p->klass);
  g_free (p->order);
  g_strfreev (p->class_names);
  g_free (p->title);
  g_free (p->x_label);
  g_free (p->x_unit);
  g_free (p->y_label);
  g_free (p->y_unit);
  g_free (p->empty_text);
}

void
fw_scatter_plot_unref (FwScatterPlot *p)
{
  if (p != NULL)
    g_atomic_rc_box_release_full (p, scatter_clear_mem);
}

void
fw_scatter_plot_reset_view (FwScatterPlot *p)
{
  g_return_if_fail (p != NULL);
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (gsize i = 0; i < p->n; i++)
    {
      float x = p->xy[2 * i], y = p->xy[2 * i + 1];
      if (!isfinite (x) || !isfinite (y))
        continue;
      x0 = MIN (x0, x);
      x1 = MAX (x1, x);
      y0 = MIN (y0, y);
      y1 = MAX (y1, y);
    }
  if (!(x0 <= x1))
    {
      x0 = y0 = 0;
      x1 = y1 = 1;
    }
  double mx = (x1 - x0) * 0.05, my = (y1 - y0) * 0.05;
  if (mx <= 0)
    mx = fabs (x0) > 0 ? 0.1 * fabs (x0) : 1;
  if (my <= 0)
    my = fabs (y0) > 0 ? 0.1 * fabs (y0) : 1;
  p->vx0 = x0 - mx;
  p->vx1 = x1 + mx;
  p->vy0 = y0 - my;
  p->vy1 = y1 + my;
}

static int
scatter_class_key (int k)
{
  /* batches: unlabelled (negative) first so labelled points draw on top */
  return k < 0 ? -1 : k % FW_PALETTE_SIZE;
}

void
fw_scatter_plot_set_points (FwScatterPlot *p, const float *xy, const int *classes, gsize n)
{
  g_return_if_fail (p != NULL);
  g_return_if_fail (n == 0 || xy != NULL);
  g_free (p->xy);
  g_free (p->klass);
  g_free (p->order);
  p->n = n;
  p->xy = g_memdup2 (xy, n * 2 * sizeof (float));
  p->klass = g_new0 (int, MAX (n, 1));
  if (classes)
    memcpy (p->klass, classes, n * sizeof (int));
  /* counting sort of indices by colour batch: -1, 0, ..., 9 */
  gsize count[FW_PALETTE_SIZE + 1] = { 0 }, start[FW_PALETTE_SIZE + 1];
  for (gsize i = 0; i < n; i++)
    count[scatter_class_key (p->klass[i]) + 1]++;
  gsize acc = 0;
  for (int b = 0; b <= FW_PALETTE_SIZE; b++)
    {
      start[b] = acc;
      acc += count[b];
    }
  p->order = g_new (guint, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    p->order[start[scatter_class_key (p->klass[i]) + 1]++] = (guint) i;
  if (p->highlight >= (gssize) n)
    p->highlight = -1;
  fw_scatter_plot_reset_view (p);
}

gsize
fw_scatter_plot_get_n_points (const FwScatterPlot *p)
{
  g_return_val_if_fail (p != NULL, 0);
  return p->n;
}

gboolean
fw_scatter_plot_get_point (const FwScatterPlot *p, gsize i, double *x, double *y, int *klass)
{
  g_return_val_if_fail (p != NULL, FALSE);
  if (i >= p->n)
    return FALSE;
  if (x)
    *x = p->xy[2 * i];
  if (y)
    *y = p->xy[2 * i + 1];
  if (klass)
    *klass = p->klass[i];
  return TRUE;
}

void
fw_scatter_plot_set_class_names (FwScatterPlot *p, const char *const *names, guint n)
{
  g_return_if_fail (p != NULL);
  g_strfreev (p->class_names);
  p->class_names = NULL;
  p->n_class_names = 0;
  if (names == NULL || n == 0)
    return;
  p->class_names = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    p->class_names[i] = g_strdup (names[i] ? names[i] : "");
  p->n_class_names = n;
}

const char *
fw_scatter_plot_get_class_name (const FwScatterPlot *p, int klass)
{
  g_return_val_if_fail (p != NULL, NULL);
  if (klass < 0 || (guint) klass >= p->n_class_names)
    return NULL;
  return p->class_names[klass];
}

void
fw_scatter_plot_set_title (FwScatterPlot *p, const char *title)
{
  g_return_if_fail (p != NULL);
  set_str (&p->title, title);
}

void
fw_scatter_plot_set_x_label (FwScatterPlot *p, const char *label, const char *unit)
{
  g_return_if_fail (p != NULL);
  set_str (&p->x_label, label);
  set_str (&p->x_unit, unit);
}

void
fw_scatter_plot_set_y_label (FwScatterPlot *p, const char *label, const char *unit)
{
  g_return_if_fail (p != NULL);
  set_str (&p->y_label, label);
  set_str (&p->y_unit, unit);
}

void
fw_scatter_plot_set_empty_text (FwScatterPlot *p, const char *text)
{
  g_return_if_fail (p != NULL);
  set_str (&p->empty_text, text);
}

void
fw_scatter_plot_set_point_size (FwScatterPlot *p, double size)
{
  g_return_if_fail (p != NULL);
  if (size > 0 && isfinite (size))
    p->point_size = size;
}

void
fw_scatter_plot_set_highlight (FwScatterPlot *p, gssize index)
{
  g_return_if_fail (p != NULL);
  p->highlight = (index >= 0 && (gsize) index < p->n) ? index : -1;
}

void
fw_scatter_plot_set_view (FwScatterPlot *p, double xmin, double xmax, double ymin, double ymax)
{
  g_return_if_fail (p != NULL);
  if (!(isfinite (xmin) && isfinite (xmax) && isfinite (ymin) && isfinite (ymax)))
    return;
  if (!(xmax > xmin) || !(ymax > ymin))
    return;
  p->vx0 = xmin;
  p->vx1 = xmax;
  p->vy0 = ymin;
  p->vy1 = ymax;
}

void
fw_scatter_plot_get_view (const FwScatterPlot *p, double *xmin, double *xmax, double *ymin,
                          double *ymax)
{
  g_return_if_fail (p != NULL);
  if (xmin)
    *xmin = p->vx0;
  if (xmax)
    *xmax = p->vx1;
  if (ymin)
    *ymin = p->vy0;
  if (ymax)
    *ymax = p->vy1;
}

typedef struct {
  Frame        f;
  FrameSpec    spec;
  LegendEntry *legend;
  char        *xt, *yt;
} ScatterLayout;

static void
scatter_layout (Ctx *c, const FwScatterPlot *p, double width, double height, ScatterLayout *L)
{
  memset (L, 0, sizeof *L);
  FrameSpec *s = &L->spec;
  s->title = p->title;
  L->xt = axis_title (p->x_label, p->x_unit);
  L->yt = axis_title (p->y_label, p->y_unit);
  s->x_title = L->xt;
  s->y_title = L->yt;
  s->xmin = p->vx0;
  s->xmax = p->vx1;
  s->ymin = p->vy0;
  s->ymax = p->vy1;
  if (p->n_class_names > 0)
    {
      L->legend = g_new0 (LegendEntry, p->n_class_names);
      for (guint i = 0; i < p->n_class_names; i++)
        {
          L->legend[i].name = p->class_names[i];
          L->legend[i].color = fw_palette_color ((int) i);
          L->legend[i].dot = TRUE;
        }
      s->legend = L->legend;
      s->n_legend = p->n_class_names;
    }
  frame_layout (c, s, width, height, &L->f);
}

static void
scatter_layout_clear (ScatterLayout *L)
{
  g_free (L->legend);
  g_free (L->xt);
  g_free (L->yt);
}

/* Raster fast path. Filling one path of thousands of overlapping circles makes Cairo compute
 * their union (~350 ms for 20k points); instead, stamp a precomputed anti-aliased disc into the
 * pixels ("over" in premultiplied ARGB32): a few ms. Only for a plain image target under a
 * uniform scale + translation (tests, export, the widget's own backing image); returns FALSE
 * otherwise and the caller draws paths. Disc centres snap to device pixel centres. */
static gboolean
scatter_stamp (cairo_t *cr, const FwScatterPlot *p, const Frame *f, double ax, double bx,
               double ay, double by, double r)
{
  cairo_surface_t *target = cairo_get_group_target (cr);
  if (cairo_surface_get_type (target) != CAIRO_SURFACE_TYPE_IMAGE)
    return FALSE;
  cairo_format_t fmt = cairo_image_surface_get_format (target);
  if (fmt != CAIRO_FORMAT_ARGB32 && fmt != CAIRO_FORMAT_RGB24)
    return FALSE;
  cairo_matrix_t m;
  cairo_get_matrix (cr, &m);
  double dsx, dsy, dox, doy;
  cairo_surface_get_device_scale (target, &dsx, &dsy);
  cairo_surface_get_device_offset (target, &dox, &doy);
  if (m.xy != 0 || m.yx != 0 || !(m.xx > 0) || fabs (m.xx - m.yy) > 1e-9 || dsx != dsy)
    return FALSE;
  /* user -> pixel: X = sc * x + ox */
  double sc = m.xx * dsx, ox = m.x0 * dsx + dox, oy = m.y0 * dsy + doy;
  int W = cairo_image_surface_get_width (target), H = cairo_image_surface_get_height (target);

  /* clip: plot area (already the current clip) within the surface */
  double ex0, ey0, ex1, ey1;
  cairo_clip_extents (cr, &ex0, &ey0, &ex1, &ey1);
  int px0 = MAX (0, (int) floor (sc * MAX (ex0, f->x0) + ox));
  int py0 = MAX (0, (int) floor (sc * MAX (ey0, f->y0) + oy));
  int px1 = MIN (W, (int) ceil (sc * MIN (ex1, f->x1) + ox));
  int py1 = MIN (H, (int) ceil (sc * MIN (ey1, f->y1) + oy));
  if (px1 <= px0 || py1 <= py0)
    return TRUE;

  /* coverage of a disc of radius rp centred on pixel (R, R), 4x4 supersampled, 0..255 */
  double rp = MAX (r * sc, 0.5);
  int R = (int) ceil (rp);
  int size = 2 * R + 1;
  guint8 *cov = g_new0 (guint8, size * size);
  for (int j = 0; j < size; j++)
    for (int i = 0; i < size; i++)
      {
        int hits = 0;
        for (int sj = 0; sj < 4; sj++)
          for (int si = 0; si < 4; si++)
            {
              double dx = i + (si + 0.5) / 4 - (R + 0.5), dy = j + (sj + 0.5) / 4 - (R + 0.5);
              hits += dx * dx + dy * dy <= rp * rp;
            }
        cov[j * size + i] = (guint8) ((hits * 255 + 8) / 16);
      }

  cairo_surface_flush (target);
  guint8 *data = cairo_image_surface_get_data (target);
  int stride = cairo_image_surface_get_stride (target);
  gsize i = 0;
  while (i < p->n)
    {
      int key = scatter_class_key (p->klass[p->order[i]]);
      FwRgba col = fw_palette_color (key);
      guint32 cr8 = (guint32) lround (col.r * 255), cg8 = (guint32) lround (col.g * 255),
              cb8 = (guint32) lround (col.b * 255);
      gsize j = i;
      for (; j < p->n && scatter_class_key (p->klass[p->order[j]]) == key; j++)
        {
          guint k = p->order[j];
          double X = sc * (ax * p->xy[2 * k] + bx) + ox, Y = sc * (ay * p->xy[2 * k + 1] + by) + oy;
          if (!(X >= px0 - R - 1 && X < px1 + R + 1 && Y >= py0 - R - 1 && Y < py1 + R + 1))
            continue;
          int cx = (int) floor (X), cy = (int) floor (Y);
          for (int dy = -R; dy <= R; dy++)
            {
              int y = cy + dy;
              if (y < py0 || y >= py1)
                continue;
              guint32 *row = (guint32 *) (data + (gsize) y * stride);
              const guint8 *crow = cov + (dy + R) * size;
              for (int dx = -R; dx <= R; dx++)
                {
                  int x = cx + dx;
                  guint32 a = crow[dx + R];
                  if (a == 0 || x < px0 || x >= px1)
                    continue;
                  if (a == 255)
                    {
                      row[x] = 0xff000000u | (cr8 << 16) | (cg8 << 8) | cb8;
                      continue;
                    }
                  /* dst = src * a + dst * (1 - a), per premultiplied channel */
                  guint32 d = row[x], na = 255 - a;
                  guint32 dA = d >> 24, dR = (d >> 16) & 0xff, dG = (d >> 8) & 0xff, dB = d & 0xff;
                  if (fmt == CAIRO_FORMAT_RGB24)
                    dA = 255;
                  guint32 oA = a + (dA * na + 127) / 255;
                  guint32 oR = (cr8 * a + dR * na + 127) / 255;
                  guint32 oG = (cg8 * a + dG * na + 127) / 255;
                  guint32 oB = (cb8 * a + dB * na + 127) / 255;
                  row[x] = (oA << 24) | (oR << 16) | (oG << 8) | oB;
                }
            }
        }
      i = j;
    }
  cairo_surface_mark_dirty_rectangle (target, px0, py0, px1 - px0, py1 - py0);
  g_free (cov);
  return TRUE;
}

void
fw_plot_draw_scatter (cairo_t *cr, const FwScatterPlot *p, double width, double height,
                      const FwPlotStyle *style)
{
  g_return_if_fail (cr != NULL && p != NULL);
  Ctx c;
  ctx_init (&c, cr, style);
  cairo_save (cr);
  paint_background (&c, width, height);
  if (p->n == 0)
    {
      if (p->title)
        draw_text (&c, p->title, c.fs_title, TRUE, c.text, width / 2, c.pad, 0.5, 0.0);
      cairo_restore (cr);
      ctx_clear (&c);
      fw_plot_draw_message (cr, p->empty_text ? p->empty_text : "No points yet", width, height,
                            style);
      return;
    }
  ScatterLayout L;
  scatter_layout (&c, p, width, height, &L);
  Frame *f = &L.f;
  frame_draw (&c, &L.spec, f, width, height);

  cairo_save (cr);
  cairo_rectangle (cr, f->x0, f->y0, f->x1 - f->x0, f->y1 - f->y0);
  cairo_clip (cr);
  /* transform data -> pixels once: px = ax * x + bx, py = ay * y + by */
  double ax = (f->x1 - f->x0) / (f->xmax - f->xmin), bx = f->x0 - ax * f->xmin;
  double ay = -(f->y1 - f->y0) / (f->ymax - f->ymin), by = f->y1 - ay * f->ymin;
  double r = 0.5 * p->point_size * c.lw;
  double cx0 = f->x0 - r, cx1 = f->x1 + r, cy0 = f->y0 - r, cy1 = f->y1 + r;
  if (!scatter_stamp (cr, p, f, ax, bx, ay, by, r))
    {
      /* Vector targets: one path per colour batch; each point a small square when tiny (looks
       * the same) or a circle. Points outside the view are skipped. */
      gboolean squares = r < 1.6;
      gsize i = 0;
      while (i < p->n)
        {
          int key = scatter_class_key (p->klass[p->order[i]]);
          gsize j = i;
          for (; j < p->n && scatter_class_key (p->klass[p->order[j]]) == key; j++)
            {
              guint k = p->order[j];
              double x = ax * p->xy[2 * k] + bx, y = ay * p->xy[2 * k + 1] + by;
              if (!(x >= cx0 && x <= cx1 && y >= cy0 && y <= cy1))
                continue;
              if (squares)
                cairo_rectangle (cr, x - r, y - r, 2 * r, 2 * r);
              else
                {
                  cairo_move_to (cr, x + r, y);
                  cairo_arc (cr, x, y, r, 0, 2 * G_PI);
                }
            }
          fw_rgba_set_source (cr, fw_palette_color (key));
          cairo_fill (cr);
          i = j;
        }
    }
  if (p->highlight >= 0)
    {
      gsize k = (gsize) p->highlight;
      double x = ax * p->xy[2 * k] + bx, y = ay * p->xy[2 * k + 1] + by;
      fw_rgba_set_source (cr, fw_palette_color (p->klass[k]));
      cairo_arc (cr, x, y, r + 2 * c.lw, 0, 2 * G_PI);
      cairo_fill (cr);
      cairo_set_line_width (cr, 2 * c.lw);
      fw_rgba_set_source (cr, c.highlight);
      cairo_arc (cr, x, y, r + 3 * c.lw, 0, 2 * G_PI);
      cairo_stroke (cr);
    }
  cairo_restore (cr);
  scatter_layout_clear (&L);
  cairo_restore (cr);
  ctx_clear (&c);
}

gssize
fw_scatter_plot_pick (const FwScatterPlot *p, double width, double height,
                      const FwPlotStyle *style, double px, double py, double radius)
{
  g_return_val_if_fail (p != NULL, -1);
  if (p->n == 0)
    return -1;
  Ctx c;
  ctx_init (&c, NULL, style);
  ScatterLayout L;
  scatter_layout (&c, p, width, height, &L);
  Frame *f = &L.f;
  gssize best_i = -1;
  if (px >= f->x0 - radius && px <= f->x1 + radius && py >= f->y0 - radius
      && py <= f->y1 + radius)
    {
      double ax = (f->x1 - f->x0) / (f->xmax - f->xmin), bx = f->x0 - ax * f->xmin;
      double ay = -(f->y1 - f->y0) / (f->ymax - f->ymin), by = f->y1 - ay * f->ymin;
      double best = radius * radius;
      /* later batches draw on top: iterate in drawing order, ties go to the top-most point */
      for (gsize j = 0; j < p->n; j++)
        {
          guint k = p->order[j];
          double x = ax * p->xy[2 * k] + bx, y = ay * p->xy[2 * k + 1] + by;
          if (x < f->x0 || x > f->x1 || y < f->y0 || y > f->y1)
            continue;
          double d2 = (x - px) * (x - px) + (y - py) * (y - py);
          if (d2 <= best)
            {
              best = d2;
              best_i = k;
            }
        }
    }
  scatter_layout_clear (&L);
  ctx_clear (&c);
  return best_i;
}

void
fw_scatter_plot_to_data (const FwScatterPlot *p, double width, double height,
                         const FwPlotStyle *style, double px, double py, double *x, double *y)
{
  g_return_if_fail (p != NULL);
  Ctx c;
  ctx_init (&c, NULL, style);
  ScatterLayout L;
  scatter_layout (&c, p, width, height, &L);
  Frame *f = &L.f;
  if (x)
    *x = f->xmin + (px - f->x0) / (f->x1 - f->x0) * (f->xmax - f->xmin);
  if (y)
    *y = f->ymin + (f->y1 - py) / (f->y1 - f->y0) * (f->ymax - f->ymin);
  scatter_layout_clear (&L);
  ctx_clear (&c);
}

void
fw_scatter_plot_zoom (FwScatterPlot *p, double width, double height, const FwPlotStyle *style,
                      double px, double py, double factor)
{
  g_return_if_fail (p != NULL);
  if (!(factor > 0) || !isfinite (factor))
    return;
  double x, y;
  fw_scatter_plot_to_data (p, width, height, style, px, py, &x, &y);
  /* the point (x, y) stays under the pointer: new_edge = x + (edge - x) / factor */
  fw_scatter_plot_set_view (p, x + (p->vx0 - x) / factor, x + (p->vx1 - x) / factor,
                            y + (p->vy0 - y) / factor, y + (p->vy1 - y) / factor);
}

void
fw_scatter_plot_pan (FwScatterPlot *p, double width, double height, const FwPlotStyle *style,
                     double dx, double dy)
{
  g_return_if_fail (p != NULL);
  double xa, ya, xb, yb;
  fw_scatter_plot_to_data (p, width, height, style, 0, 0, &xa, &ya);
  fw_scatter_plot_to_data (p, width, height, style, dx, dy, &xb, &yb);
  /* content follows the pointer: the view moves the opposite way */
  double ddx = xb - xa, ddy = yb - ya;
  fw_scatter_plot_set_view (p, p->vx0 - ddx, p->vx1 - ddx, p->vy0 - ddy, p->vy1 - ddy);
}

/* ============================================================================================
 * Heatmap
 * ========================================================================================== */

struct _FwHeatmap {
  guint       rows, cols;
  double     *values;   /* rows x cols */
  guint8     *mask;     /* rows x cols or NULL */
  FwColormap  map;
  double      vmin, vmax;  /* NAN = auto */
  char      **row_labels, **col_labels;
  char       *row_title, *col_title, *title, *cbar_label;
  gboolean    show_cbar;
  gboolean    show_values;
  char       *value_format;
  gboolean    class_colored;
};

FwHeatmap *
fw_heatmap_new (guint rows, guint cols)
{
  FwHeatmap *h = g_atomic_rc_box_new0 (FwHeatmap);
  h->vmin = h->vmax = NAN;
  h->show_cbar = TRUE;
  h->map = FW_COLORMAP_VIRIDIS;
  fw_heatmap_set_size (h, rows, cols);
  return h;
}

FwHeatmap *
fw_heatmap_ref (FwHeatmap *h)
{
  g_return_val_if_fail (h != NULL, NULL);
  return g_atomic_rc_box_acquire (h);
}

static void
heatmap_clear_mem (gpointer data)
{
  FwHeatmap *h = data;
  g_free (h->values);
  g_free (h->mask);
  g_strfreev (h->row_labels);
  g_strfreev (h->col_labels);
  g_free (h->row_title);
  g_free (h->col_title);
  g_free (h->title);
  g_free (h->cbar_label);
  g_free (h->value_format);
}

void
fw_heatmap_unref (FwHeatmap *h)
{
  if (h != NULL)
    g_atomic_rc_box_release_full (h, heatmap_clear_mem);
}

guint
fw_heatmap_get_rows (const FwHeatmap *h)
{
  g_return_val_if_fail (h != NULL, 0);
  return h->rows;
}

guint
fw_heatmap_get_cols (const FwHeatmap *h)
{
  g_return_val_if_fail (h != NULL, 0);
  return h->cols;
}

void
fw_heatmap_set_size (FwHeatmap *h, guint rows, guint cols)
{
  g_return_if_fail (h != NULL);
  g_return_if_fail (cols == 0 || rows <= G_MAXSIZE / sizeof (double) / cols);
  g_free (h->values);
  g_clear_pointer (&h->mask, g_free);
  g_clear_pointer (&h->row_labels, g_strfreev);
  g_clear_pointer (&h->col_labels, g_strfreev);
  h->rows = rows;
  h->cols = cols;
  h->values = g_new0 (double, MAX ((gsize) rows * cols, 1));
}

void
fw_heatmap_set_values (FwHeatmap *h, const double *values)
{
  g_return_if_fail (h != NULL && values != NULL);
  memcpy (h->values, values, (gsize) h->rows * h->cols * sizeof (double));
}

void
fw_heatmap_set_values_f (FwHeatmap *h, const float *values)
{
  g_return_if_fail (h != NULL && values != NULL);
  for (gsize i = 0; i < (gsize) h->rows * h->cols; i++)
    h->values[i] = values[i];
}

void
fw_heatmap_set_value (FwHeatmap *h, guint row, guint col, double v)
{
  g_return_if_fail (h != NULL && row < h->rows && col < h->cols);
  h->values[(gsize) row * h->cols + col] = v;
}

double
fw_heatmap_get_value (const FwHeatmap *h, guint row, guint col)
{
  g_return_val_if_fail (h != NULL && row < h->rows && col < h->cols, NAN);
  return h->values[(gsize) row * h->cols + col];
}

void
fw_heatmap_set_mask (FwHeatmap *h, const guint8 *mask)
{
  g_return_if_fail (h != NULL);
  g_clear_pointer (&h->mask, g_free);
  if (mask)
    h->mask = g_memdup2 (mask, (gsize) h->rows * h->cols);
}

gboolean
fw_heatmap_is_masked (const FwHeatmap *h, guint row, guint col)
{
  g_return_val_if_fail (h != NULL && row < h->rows && col < h->cols, FALSE);
  gsize k = (gsize) row * h->cols + col;
  return (h->mask && h->mask[k]) || isnan (h->values[k]);
}

void
fw_heatmap_set_colormap (FwHeatmap *h, FwColormap map)
{
  g_return_if_fail (h != NULL);
  h->map = map;
}

void
fw_heatmap_set_range (FwHeatmap *h, double vmin, double vmax)
{
  g_return_if_fail (h != NULL);
  h->vmin = vmin;
  h->vmax = vmax;
}

static char **
copy_labels (const char *const *labels, guint n)
{
  if (labels == NULL)
    return NULL;
  char **out = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    out[i] = g_strdup (labels[i] ? labels[i] : "");
  return out;
}

void
fw_heatmap_set_row_labels (FwHeatmap *h, const char *const *labels)
{
  g_return_if_fail (h != NULL);
  g_strfreev (h->row_labels);
  h->row_labels = copy_labels (labels, h->rows);
}

void
fw_heatmap_set_col_labels (FwHeatmap *h, const char *const *labels)
{
  g_return_if_fail (h != NULL);
  g_strfreev (h->col_labels);
  h->col_labels = copy_labels (labels, h->cols);
}

const char *
fw_heatmap_get_row_label (const FwHeatmap *h, guint row)
{
  g_return_val_if_fail (h != NULL, NULL);
  return h->row_labels && row < h->rows ? h->row_labels[row] : NULL;
}

const char *
fw_heatmap_get_col_label (const FwHeatmap *h, guint col)
{
  g_return_val_if_fail (h != NULL, NULL);
  return h->col_labels && col < h->cols ? h->col_labels[col] : NULL;
}

void
fw_heatmap_set_axis_titles (FwHeatmap *h, const char *row_title, const char *col_title)
{
  g_return_if_fail (h != NULL);
  set_str (&h->row_title, row_title);
  set_str (&h->col_title, col_title);
}

void
fw_heatmap_set_title (FwHeatmap *h, const char *title)
{
  g_return_if_fail (h != NULL);
  set_str (&h->title, title);
}

void
fw_heatmap_set_colorbar_label (FwHeatmap *h, const char *label)
{
  g_return_if_fail (h != NULL);
  set_str (&h->cbar_label, label);
}

void
fw_heatmap_set_show_colorbar (FwHeatmap *h, gboolean show)
{
  g_return_if_fail (h != NULL);
  h->show_cbar = !!show;
}

void
fw_heatmap_set_show_values (FwHeatmap *h, gboolean show, const char *format)
{
  g_return_if_fail (h != NULL);
  h->show_values = !!show;
  set_str (&h->value_format, format);
}

void
fw_heatmap_set_class_colored_labels (FwHeatmap *h, gboolean colored)
{
  g_return_if_fail (h != NULL);
  h->class_colored = !!colored;
}

/* The colour map's range: explicit ends, else min/max of the unmasked finite values. */
static void
heatmap_range (const FwHeatmap *h, double *lo, double *hi)
{
  double a = INFINITY, b = -INFINITY;
  gsize n = (gsize) h->rows * h->cols;
  for (gsize k = 0; k < n; k++)
    {
      double v = h->values[k];
      if (!isfinite (v) || (h->mask && h->mask[k]))
        continue;
      a = MIN (a, v);
      b = MAX (b, v);
    }
  if (!(a <= b))
    {
      a = 0;
      b = 1;
    }
  if (!isnan (h->vmin))
    a = h->vmin;
  if (!isnan (h->vmax))
    b = h->vmax;
  if (h->map == FW_COLORMAP_DIVERGING)
    {
      double m = MAX (fabs (a), fabs (b));
      if (!isnan (h->vmin) && !isnan (h->vmax))
        m = MAX (fabs (h->vmin), fabs (h->vmax));
      if (m == 0)
        m = 1;
      a = -m;
      b = m;
    }
  if (a == b)
    b = a + 1;
  *lo = a;
  *hi = b;
}

typedef struct {
  double   mx0, my0, cw, ch;      /* matrix origin and cell size */
  double   title_y;
  double   row_lab_x1;            /* right edge of row labels */
  double   col_lab_y0;            /* top of column labels */
  gboolean col_rot;
  double   row_title_x, col_title_y;
  double   cb_x0, cb_w, cb_y0, cb_y1;  /* colour bar */
  double   cb_label_x;
  double   vlo, vhi;
  FwTicks  cbt;
} HeatLayout;

static void
heatmap_layout (Ctx *c, const FwHeatmap *h, double width, double height, HeatLayout *L)
{
  memset (L, 0, sizeof *L);
  double fs = c->st.font_scale, pad = c->pad;
  double tick_h = line_height (c, c->fs_tick), label_h = line_height (c, c->fs_label);
  heatmap_range (h, &L->vlo, &L->vhi);

  double top = pad, bottom = height - pad, left = pad, right = width - pad;
  if (h->title)
    {
      L->title_y = top;
      top += line_height (c, c->fs_title) + pad * 0.5;
    }
  if (h->row_title)
    {
      L->row_title_x = left + label_h / 2;
      left += label_h + pad * 0.5;
    }
  if (h->col_title)
    {
      L->col_title_y = bottom - label_h;
      bottom -= label_h + pad * 0.5;
    }
  /* row labels */
  double row_lab_w = 0, col_lab_h = 0;
  if (h->row_labels)
    {
      double mw = 0;
      for (guint r = 0; r < h->rows; r++)
        {
          double w;
          text_size (c, h->row_labels[r], c->fs_tick, FALSE, &w, NULL);
          mw = MAX (mw, w);
        }
      mw = MIN (mw, width * 0.3);
      row_lab_w = mw;
      left += mw + 4 * fs;
    }
  L->row_lab_x1 = left - 4 * fs;
  /* colour bar on the right */
  if (h->show_cbar)
    {
      L->cb_w = 14 * fs;
      fw_nice_ticks (L->vlo, L->vhi, 5, &L->cbt);
      double tw = ticks_label_width (c, &L->cbt, FALSE, L->vlo, L->vhi, NULL);
      double need = L->cb_w + 4 * fs + tw + 3 * fs;
      if (h->cbar_label)
        {
          need += label_h + pad * 0.5;
          L->cb_label_x = right - label_h / 2;
        }
      right -= need + pad;
      L->cb_x0 = right + pad;
    }
  /* column labels: horizontal if they fit the cell, else rotated */
  double avail_w = MAX (right - left, 1);
  double cw_guess = avail_w / MAX (h->cols, 1);
  if (h->col_labels)
    {
      double mw = 0;
      for (guint k = 0; k < h->cols; k++)
        {
          double w;
          text_size (c, h->col_labels[k], c->fs_tick, FALSE, &w, NULL);
          mw = MAX (mw, w);
        }
      L->col_rot = mw > cw_guess - 4 * fs;
      double lab_h = L->col_rot ? MIN (mw, height * 0.3) : tick_h;
      col_lab_h = lab_h;
      bottom -= lab_h + 4 * fs;
    }
  L->col_lab_y0 = bottom + 4 * fs;
  double avail_h = MAX (bottom - top, 1);
  double cw = avail_w / MAX (h->cols, 1), ch = avail_h / MAX (h->rows, 1);
  /* square cells unless the matrix is very elongated */
  double ratio = (double) MAX (h->rows, h->cols) / MAX (MIN (h->rows, h->cols), 1);
  if (ratio <= 4.0)
    cw = ch = MIN (cw, ch);
  L->cw = cw;
  L->ch = ch;
  double mw = cw * h->cols, mh = ch * h->rows;
  L->mx0 = left + (avail_w - mw) / 2;
  L->my0 = top + (avail_h - mh) / 2;
  /* labels hug the matrix */
  L->row_lab_x1 = L->mx0 - 4 * fs;
  L->col_lab_y0 = L->my0 + mh + 4 * fs;
  if (h->row_title)
    L->row_title_x = L->row_lab_x1 - row_lab_w - pad * 0.5 - label_h / 2;
  if (h->col_title)
    L->col_title_y = L->col_lab_y0 + col_lab_h + pad * 0.5;
  if (h->show_cbar)
    {
      L->cb_x0 = L->mx0 + mw + pad * 1.5;
      L->cb_y0 = L->my0;
      L->cb_y1 = L->my0 + mh;
      if (L->cb_y1 - L->cb_y0 < 60 * fs)
        {
          double mid = (L->cb_y0 + L->cb_y1) / 2;
          L->cb_y0 = MAX (top, mid - 30 * fs);
          L->cb_y1 = MIN (height - pad, mid + 30 * fs);
        }
      if (h->cbar_label)
        {
          double tw = ticks_label_width (c, &L->cbt, FALSE, L->vlo, L->vhi, NULL);
          L->cb_label_x = L->cb_x0 + L->cb_w + 4 * fs + tw + 3 * fs + pad * 0.5 + label_h / 2;
        }
    }
}

void
fw_plot_draw_heatmap (cairo_t *cr, const FwHeatmap *h, double width, double height,
                      const FwPlotStyle *style)
{
  g_return_if_fail (cr != NULL && h != NULL);
  Ctx c;
  ctx_init (&c, cr, style);
  cairo_save (cr);
  paint_background (&c, width, height);
  if (h->rows == 0 || h->cols == 0)
    {
      cairo_restore (cr);
      ctx_clear (&c);
      fw_plot_draw_message (cr, "No data yet", width, height, style);
      return;
    }
  HeatLayout L;
  heatmap_layout (&c, h, width, height, &L);
  double fs = c.st.font_scale;
  double mw = L.cw * h->cols, mh = L.ch * h->rows;

  if (h->title)
    draw_text (&c, h->title, c.fs_title, TRUE, c.text, width / 2, L.title_y, 0.5, 0.0);

  /* cells: one pixel per cell in an image, scaled up with nearest-neighbour sampling */
  cairo_surface_t *img = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, h->cols, h->rows);
  cairo_surface_flush (img);
  guint8 *data = cairo_image_surface_get_data (img);
  int stride = cairo_image_surface_get_stride (img);
  FwRgba mbase = { c.bg.r + 0.25 * (c.masked.r - c.bg.r), c.bg.g + 0.25 * (c.masked.g - c.bg.g),
                   c.bg.b + 0.25 * (c.masked.b - c.bg.b), 1 };
  gboolean any_masked = FALSE;
  for (guint r = 0; r < h->rows; r++)
    {
      guint32 *row = (guint32 *) (data + (gsize) r * stride);
      for (guint k = 0; k < h->cols; k++)
        {
          FwRgba col;
          if (fw_heatmap_is_masked (h, r, k))
            {
              col = mbase;
              any_masked = TRUE;
            }
          else
            col = fw_colormap_map (h->map, h->values[(gsize) r * h->cols + k], L.vlo, L.vhi);
          guint32 R = (guint32) lround (CLAMP (col.r, 0, 1) * 255);
          guint32 G = (guint32) lround (CLAMP (col.g, 0, 1) * 255);
          guint32 B = (guint32) lround (CLAMP (col.b, 0, 1) * 255);
          row[k] = 0xff000000u | (R << 16) | (G << 8) | B;
        }
    }
  cairo_surface_mark_dirty (img);
  paint_nearest (cr, img, L.mx0, L.my0, mw, mh);
  cairo_surface_destroy (img);

  /* hatching over masked cells: diagonal lines over the whole matrix, painted through a
   * one-byte-per-cell mask scaled like the cells (fast for large matrices, exact in PDF/SVG) */
  if (any_masked)
    {
      cairo_surface_t *msk = cairo_image_surface_create (CAIRO_FORMAT_A8, h->cols, h->rows);
      cairo_surface_flush (msk);
      guint8 *md = cairo_image_surface_get_data (msk);
      int ms = cairo_image_surface_get_stride (msk);
      for (guint r = 0; r < h->rows; r++)
        for (guint k = 0; k < h->cols; k++)
          md[(gsize) r * ms + k] = fw_heatmap_is_masked (h, r, k) ? 255 : 0;
      cairo_surface_mark_dirty (msk);

      cairo_save (cr);
      cairo_rectangle (cr, L.mx0, L.my0, mw, mh);
      cairo_clip (cr);
      cairo_push_group (cr);
      double spacing = MAX (5.0 * c.lw, 3.0);
      fw_rgba_set_source (cr, c.masked);
      cairo_set_line_width (cr, MAX (1.0 * c.lw, 0.75));
      for (double d = -mh; d < mw; d += spacing)
        {
          cairo_move_to (cr, L.mx0 + d, L.my0 + mh);
          cairo_line_to (cr, L.mx0 + d + mh, L.my0);
        }
      cairo_stroke (cr);
      cairo_pop_group_to_source (cr);
      int fx, fy;
      cairo_surface_t *bigm = nearest_for_target (cr, msk, mw, mh, &fx, &fy);
      cairo_matrix_t mm;
      /* mask pattern space: cell (k, r) <- user (mx0 + k*cw, my0 + r*ch), times the factors */
      cairo_matrix_init_scale (&mm, fx / L.cw, fy / L.ch);
      cairo_matrix_translate (&mm, -L.mx0, -L.my0);
      cairo_pattern_t *mp = cairo_pattern_create_for_surface (bigm);
      cairo_surface_destroy (bigm);
      cairo_pattern_set_matrix (mp, &mm);
      cairo_pattern_set_filter (mp, CAIRO_FILTER_NEAREST);
      cairo_mask (cr, mp);
      cairo_pattern_destroy (mp);
      cairo_restore (cr);
      cairo_surface_destroy (msk);
    }

  /* thin separators when cells are large (confusion matrices) */
  if (L.cw >= 14 && L.ch >= 14 && h->rows * h->cols <= 2500)
    {
      cairo_save (cr);
      fw_rgba_set_source (cr, fw_rgba_with_alpha (c.bg, 0.6));
      cairo_set_line_width (cr, 1.0);
      for (guint k = 1; k < h->cols; k++)
        {
          cairo_move_to (cr, L.mx0 + k * L.cw, L.my0);
          cairo_line_to (cr, L.mx0 + k * L.cw, L.my0 + mh);
        }
      for (guint r = 1; r < h->rows; r++)
        {
          cairo_move_to (cr, L.mx0, L.my0 + r * L.ch);
          cairo_line_to (cr, L.mx0 + mw, L.my0 + r * L.ch);
        }
      cairo_stroke (cr);
      cairo_restore (cr);
    }

  /* numbers in cells, when they fit */
  if (h->show_values)
    {
      const char *fmt = h->value_format ? h->value_format : "%.3g";
      double size = c.fs_tick;
      double lh = line_height (&c, size);
      if (lh > L.ch * 0.8)
        {
          size *= L.ch * 0.8 / lh;
          lh = L.ch * 0.8;
        }
      if (size >= 7.0)
        for (guint r = 0; r < h->rows; r++)
          for (guint k = 0; k < h->cols; k++)
            {
              if (fw_heatmap_is_masked (h, r, k))
                continue;
              double v = h->values[(gsize) r * h->cols + k];
              char buf[64];
              g_snprintf (buf, sizeof buf, fmt, v);
              double tw;
              text_size (&c, buf, size, FALSE, &tw, NULL);
              if (tw > L.cw - 2)
                continue;
              FwRgba cell = fw_colormap_map (h->map, v, L.vlo, L.vhi);
              draw_layout (&c, fw_rgba_text_on (cell), L.mx0 + (k + 0.5) * L.cw,
                           L.my0 + (r + 0.5) * L.ch, 0.5, 0.5, 0.0);
            }
    }

  /* row and column labels */
  if (h->row_labels)
    {
      double size = MIN (c.fs_tick, MAX (L.ch * 0.9, 1));
      if (size >= 6.0)
        for (guint r = 0; r < h->rows; r++)
          {
            FwRgba col = h->class_colored ? fw_palette_color ((int) r) : c.muted;
            ctx_set_text (&c, h->row_labels[r], size, FALSE, FALSE, width * 0.3);
            draw_layout (&c, col, L.row_lab_x1, L.my0 + (r + 0.5) * L.ch, 1.0, 0.5, 0.0);
          }
    }
  if (h->col_labels)
    {
      double size = MIN (c.fs_tick, MAX (L.cw * 0.9, 1));
      if (size >= 6.0)
        for (guint k = 0; k < h->cols; k++)
          {
            FwRgba col = h->class_colored ? fw_palette_color ((int) k) : c.muted;
            ctx_set_text (&c, h->col_labels[k], size, FALSE, FALSE, L.col_rot ? height * 0.3 : -1);
            if (L.col_rot)
              draw_layout (&c, col, L.mx0 + (k + 0.5) * L.cw, L.col_lab_y0, 1.0, 0.5, -G_PI / 2);
            else
              draw_layout (&c, col, L.mx0 + (k + 0.5) * L.cw, L.col_lab_y0, 0.5, 0.0, 0.0);
          }
    }
  if (h->row_title)
    {
      ctx_set_text (&c, h->row_title, c.fs_label, FALSE, FALSE, -1);
      draw_layout (&c, c.text, L.row_title_x, L.my0 + mh / 2, 0.5, 0.5, -G_PI / 2);
    }
  if (h->col_title)
    {
      ctx_set_text (&c, h->col_title, c.fs_label, FALSE, FALSE, -1);
      draw_layout (&c, c.text, L.mx0 + mw / 2, L.col_title_y, 0.5, 0.0, 0.0);
    }

  /* colour bar: a 1 x 256 strip, top = high values */
  if (h->show_cbar)
    {
      cairo_surface_t *bar = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 1, 256);
      cairo_surface_flush (bar);
      guint8 *bd = cairo_image_surface_get_data (bar);
      int bs = cairo_image_surface_get_stride (bar);
      for (int i = 0; i < 256; i++)
        {
          double v = L.vhi - (L.vhi - L.vlo) * (i + 0.5) / 256.0;
          FwRgba col = fw_colormap_map (h->map, v, L.vlo, L.vhi);
          guint32 *px = (guint32 *) (bd + (gsize) i * bs);
          *px = ((guint32) lround (col.r * 255) << 16) | ((guint32) lround (col.g * 255) << 8)
                | (guint32) lround (col.b * 255);
        }
      cairo_surface_mark_dirty (bar);
      double bh = L.cb_y1 - L.cb_y0;
      cairo_save (cr);
      cairo_rectangle (cr, L.cb_x0, L.cb_y0, L.cb_w, bh);
      cairo_clip (cr);
      cairo_translate (cr, L.cb_x0, L.cb_y0);
      cairo_scale (cr, L.cb_w, bh / 256.0);
      cairo_set_source_surface (cr, bar, 0, 0);
      cairo_pattern_set_extend (cairo_get_source (cr), CAIRO_EXTEND_PAD);
      cairo_paint (cr);
      cairo_restore (cr);
      cairo_surface_destroy (bar);

      cairo_save (cr);
      cairo_set_line_width (cr, c.lw);
      fw_rgba_set_source (cr, c.axis);
      cairo_rectangle (cr, L.cb_x0, L.cb_y0, L.cb_w, bh);
      cairo_stroke (cr);
      for (guint i = 0; i < L.cbt.n; i++)
        {
          double v = fw_ticks_value (&L.cbt, i);
          if (v < L.vlo - 1e-9 * L.cbt.step || v > L.vhi + 1e-9 * L.cbt.step)
            continue;
          double y = L.cb_y1 - (v - L.vlo) / (L.vhi - L.vlo) * bh;
          fw_rgba_set_source (cr, c.axis);
          cairo_move_to (cr, L.cb_x0 + L.cb_w, y);
          cairo_line_to (cr, L.cb_x0 + L.cb_w + 3 * fs, y);
          cairo_stroke (cr);
          g_autofree char *lab = fw_format_tick (v, L.cbt.step);
          draw_text (&c, lab, c.fs_tick, FALSE, c.muted, L.cb_x0 + L.cb_w + 4 * fs, y, 0.0, 0.5);
        }
      cairo_restore (cr);
      if (h->cbar_label)
        {
          ctx_set_text (&c, h->cbar_label, c.fs_label, FALSE, FALSE, -1);
          draw_layout (&c, c.text, L.cb_label_x, (L.cb_y0 + L.cb_y1) / 2, 0.5, 0.5, -G_PI / 2);
        }
    }

  cairo_restore (cr);
  ctx_clear (&c);
}

gboolean
fw_heatmap_pick (const FwHeatmap *h, double width, double height, const FwPlotStyle *style,
                 double px, double py, guint *row, guint *col)
{
  g_return_val_if_fail (h != NULL, FALSE);
  if (h->rows == 0 || h->cols == 0)
    return FALSE;
  Ctx c;
  ctx_init (&c, NULL, style);
  HeatLayout L;
  heatmap_layout (&c, h, width, height, &L);
  ctx_clear (&c);
  double fx = (px - L.mx0) / L.cw, fy = (py - L.my0) / L.ch;
  if (!(fx >= 0 && fy >= 0 && fx < h->cols && fy < h->rows))
    return FALSE;
  if (row)
    *row = (guint) fy;
  if (col)
    *col = (guint) fx;
  return TRUE;
}

gboolean
fw_heatmap_cell_rect (const FwHeatmap *h, double width, double height, const FwPlotStyle *style,
                      guint row, guint col, double *x, double *y, double *w, double *cell_h)
{
  g_return_val_if_fail (h != NULL, FALSE);
  if (row >= h->rows || col >= h->cols)
    return FALSE;
  Ctx c;
  ctx_init (&c, NULL, style);
  HeatLayout L;
  heatmap_layout (&c, h, width, height, &L);
  ctx_clear (&c);
  if (x)
    *x = L.mx0 + col * L.cw;
  if (y)
    *y = L.my0 + row * L.ch;
  if (w)
    *w = L.cw;
  if (cell_h)
    *cell_h = L.ch;
  return TRUE;
}

/* ============================================================================================
 * Bar chart
 * ========================================================================================== */

struct _FwBarChart {
  double       *values;
  char        **labels;
  int          *colors;
  guint         n;
  gboolean      single;
  FwRgba        single_color;
  char         *title, *y_label, *y_unit, *x_label, *empty_text;
  FwValueFormat format;
  gboolean      show_values;
  double        vmin, vmax;
  double       *err_lo, *err_hi;  /* NULL, or [n]: an error bar per bar (NaN = none) */
};

FwBarChart *
fw_bar_chart_new (void)
{
  FwBarChart *b = g_atomic_rc_box_new0 (FwBarChart);
  b->show_values = TRUE;
  b->vmin = b->vmax = NAN;
  return b;
}

FwBarChart *
fw_bar_chart_ref (FwBarChart *b)
{
  g_return_val_if_fail (b != NULL, NULL);
  return g_atomic_rc_box_acquire (b);
}

static void
bars_clear_mem (gpointer data)
{
  FwBarChart *b = data;
  g_free (b->values);
  g_strfreev (b->labels);
  g_free (b->colors);
  g_free (b->err_lo);
  g_free (b->err_hi);
  g_free (b->title);
  g_free (b->y_label);
  g_free (b->y_unit);
  g_free (b->x_label);
  g_free (b->empty_text);
}

void
fw_bar_chart_unref (FwBarChart *b)
{
  if (b != NULL)
    g_atomic_rc_box_release_full (b, bars_clear_mem);
}

void
fw_bar_chart_set_data (FwBarChart *b, const double *values, const char *const *labels, guint n)
{
  g_return_if_fail (b != NULL);
  g_return_if_fail (n == 0 || values != NULL);
  g_free (b->values);
  g_strfreev (b->labels);
  g_clear_pointer (&b->colors, g_free);
  g_clear_pointer (&b->err_lo, g_free);
  g_clear_pointer (&b->err_hi, g_free);
  b->n = n;
  b->values = g_memdup2 (values, n * sizeof (double));
  b->labels = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    b->labels[i] = labels && labels[i] ? g_strdup (labels[i]) : g_strdup_printf ("%u", i);
}

void
fw_bar_chart_set_value (FwBarChart *b, guint i, double value)
{
  g_return_if_fail (b != NULL && i < b->n);
  b->values[i] = value;
}

guint
fw_bar_chart_get_n_bars (const FwBarChart *b)
{
  g_return_val_if_fail (b != NULL, 0);
  return b->n;
}

double
fw_bar_chart_get_value (const FwBarChart *b, guint i)
{
  g_return_val_if_fail (b != NULL && i < b->n, NAN);
  return b->values[i];
}

const char *
fw_bar_chart_get_label (const FwBarChart *b, guint i)
{
  g_return_val_if_fail (b != NULL && i < b->n, NULL);
  return b->labels[i];
}

char *
fw_bar_chart_format_value (const FwBarChart *b, guint i)
{
  g_return_val_if_fail (b != NULL && i < b->n, NULL);
  return format_value (b->values[i], b->format);
}

void
fw_bar_chart_set_color_indices (FwBarChart *b, const int *indices)
{
  g_return_if_fail (b != NULL);
  g_clear_pointer (&b->colors, g_free);
  b->single = FALSE;
  if (indices)
    b->colors = g_memdup2 (indices, b->n * sizeof (int));
}

void
fw_bar_chart_set_single_color (FwBarChart *b, FwRgba color)
{
  g_return_if_fail (b != NULL);
  b->single = TRUE;
  b->single_color = color;
}

void
fw_bar_chart_set_title (FwBarChart *b, const char *title)
{
  g_return_if_fail (b != NULL);
  set_str (&b->title, title);
}

void
fw_bar_chart_set_y_label (FwBarChart *b, const char *label, const char *unit)
{
  g_return_if_fail (b != NULL);
  set_str (&b->y_label, label);
  set_str (&b->y_unit, unit);
}

void
fw_bar_chart_set_x_label (FwBarChart *b, const char *label)
{
  g_return_if_fail (b != NULL);
  set_str (&b->x_label, label);
}

void
fw_bar_chart_set_format (FwBarChart *b, FwValueFormat format)
{
  g_return_if_fail (b != NULL);
  b->format = format;
}

void
fw_bar_chart_set_show_values (FwBarChart *b, gboolean show)
{
  g_return_if_fail (b != NULL);
  b->show_values = !!show;
}

void
fw_bar_chart_set_errors (FwBarChart *b, const double *lo, const double *hi)
{
  g_return_if_fail (b != NULL);
  g_clear_pointer (&b->err_lo, g_free);
  g_clear_pointer (&b->err_hi, g_free);
  if (lo == NULL || hi == NULL || b->n == 0)
    return;
  b->err_lo = g_memdup2 (lo, b->n * sizeof (double));
  b->err_hi = g_memdup2 (hi, b->n * sizeof (double));
}

gboolean
fw_bar_chart_get_error (const FwBarChart *b, guint i, double *lo, double *hi)
{
  g_return_val_if_fail (b != NULL && i < b->n, FALSE);
  if (b->err_lo == NULL || !isfinite (b->err_lo[i]) || !isfinite (b->err_hi[i]))
    return FALSE;
  *lo = b->err_lo[i];
  *hi = b->err_hi[i];
  return TRUE;
}

void
fw_bar_chart_set_range (FwBarChart *b, double min, double max)
{
  g_return_if_fail (b != NULL);
  b->vmin = min;
  b->vmax = max;
}

void
fw_bar_chart_set_empty_text (FwBarChart *b, const char *text)
{
  g_return_if_fail (b != NULL);
  set_str (&b->empty_text, text);
}

static FwRgba
bar_color (const FwBarChart *b, guint i)
{
  if (b->single)
    return b->single_color;
  return fw_palette_color (b->colors ? b->colors[i] : (int) i);
}

typedef struct {
  Frame     f;
  FrameSpec spec;
  char     *yt;
  double    scale;  /* 100 for percent (axis in %), else 1 */
} BarLayout;

static void
bars_layout (Ctx *c, const FwBarChart *b, double width, double height, BarLayout *L)
{
  memset (L, 0, sizeof *L);
  L->scale = b->format == FW_VALUE_PERCENT ? 100.0 : 1.0;
  double lo = 0, hi = -INFINITY;
  for (guint i = 0; i < b->n; i++)
    if (isfinite (b->values[i]))
      {
        lo = MIN (lo, b->values[i] * L->scale);
        hi = MAX (hi, b->values[i] * L->scale);
        double el, eh;
        if (fw_bar_chart_get_error (b, i, &el, &eh))
          {
            lo = MIN (lo, el * L->scale);
            hi = MAX (hi, eh * L->scale);
          }
      }
  if (!(hi > lo))
    hi = lo + 1;
  FrameSpec *s = &L->spec;
  s->title = b->title;
  L->yt = axis_title (b->y_label, b->format == FW_VALUE_PERCENT && !b->y_unit ? "%" : b->y_unit);
  s->y_title = L->yt;
  s->x_title = b->x_label;
  s->x_categorical = TRUE;
  s->cat_labels = (const char *const *) b->labels;
  s->n_cat = b->n;
  s->xmin = 0;
  s->xmax = MAX (b->n, 1);
  s->y_auto_lo = isnan (b->vmin);
  s->y_auto_hi = isnan (b->vmax);
  s->ymin = s->y_auto_lo ? lo : b->vmin * L->scale;
  s->ymax = s->y_auto_hi ? hi : b->vmax * L->scale;
  /* headroom for the value labels above the bars */
  if (b->show_values && s->y_auto_hi)
    s->ymax += 0.08 * (s->ymax - s->ymin);
  if (!(s->ymax > s->ymin))
    s->ymax = s->ymin + 1;
  frame_layout (c, s, width, height, &L->f);
}

void
fw_plot_draw_bars (cairo_t *cr, const FwBarChart *b, double width, double height,
                   const FwPlotStyle *style)
{
  g_return_if_fail (cr != NULL && b != NULL);
  Ctx c;
  ctx_init (&c, cr, style);
  cairo_save (cr);
  paint_background (&c, width, height);
  if (b->n == 0)
    {
      if (b->title)
        draw_text (&c, b->title, c.fs_title, TRUE, c.text, width / 2, c.pad, 0.5, 0.0);
      cairo_restore (cr);
      ctx_clear (&c);
      fw_plot_draw_message (cr, b->empty_text ? b->empty_text : "No data yet", width, height,
                            style);
      return;
    }
  BarLayout L;
  bars_layout (&c, b, width, height, &L);
  Frame *f = &L.f;
  frame_draw (&c, &L.spec, f, width, height);
  double fs = c.st.font_scale;
  double slot = (f->x1 - f->x0) / b->n;
  double bw = slot * 0.72;
  double base = CLAMP (0.0, f->ymin, f->ymax);
  double y_base = f->y1 - (base - f->ymin) / (f->ymax - f->ymin) * (f->y1 - f->y0);

  cairo_save (cr);
  cairo_rectangle (cr, f->x0, f->y0, f->x1 - f->x0, f->y1 - f->y0);
  cairo_clip (cr);
  for (guint i = 0; i < b->n; i++)
    {
      double v = b->values[i];
      if (!isfinite (v))
        continue;
      double yv = f->y1 - (v * L.scale - f->ymin) / (f->ymax - f->ymin) * (f->y1 - f->y0);
      double x = f->x0 + i * slot + (slot - bw) / 2;
      fw_rgba_set_source (cr, bar_color (b, i));
      cairo_rectangle (cr, x, MIN (yv, y_base), bw, fabs (y_base - yv));
      cairo_fill (cr);
    }
  /* error bars: a whisker from lo to hi with caps, in the text colour */
  for (guint i = 0; i < b->n; i++)
    {
      double el, eh;
      if (!isfinite (b->values[i]) || !fw_bar_chart_get_error (b, i, &el, &eh))
        continue;
      double y_lo = f->y1 - (el * L.scale - f->ymin) / (f->ymax - f->ymin) * (f->y1 - f->y0);
      double y_hi = f->y1 - (eh * L.scale - f->ymin) / (f->ymax - f->ymin) * (f->y1 - f->y0);
      double xc = f->x0 + (i + 0.5) * slot, cap = MIN (bw * 0.2, 8 * fs);
      fw_rgba_set_source (cr, c.text);
      cairo_set_line_width (cr, 1.5 * c.lw);
      whisker_path (cr, xc, y_lo, y_hi, cap);
      cairo_stroke (cr);
    }
  cairo_restore (cr);

  /* values above bars, when they fit the slot */
  if (b->show_values)
    for (guint i = 0; i < b->n; i++)
      {
        double v = b->values[i];
        if (!isfinite (v))
          continue;
        g_autofree char *s = format_value (v, b->format);
        double tw, th;
        text_size (&c, s, c.fs_tick, FALSE, &tw, &th);
        if (tw > slot - 2)
          continue;
        double top = v, el, eh;
        if (v >= 0 && fw_bar_chart_get_error (b, i, &el, &eh))
          top = MAX (v, eh);  /* the value sits above the whisker */
        double yv = f->y1 - (top * L.scale - f->ymin) / (f->ymax - f->ymin) * (f->y1 - f->y0);
        double ty = v >= 0 ? yv - 2 * fs : yv + 2 * fs;
        FwRgba tc = c.text;
        double ay = v >= 0 ? 1.0 : 0.0;
        if (v >= 0 && ty - th < f->y0)
          {
            /* no room above: inside the top of the bar, in a contrasting colour */
            if (fabs (y_base - yv) < th + 4 * fs)
              continue;
            ty = MAX (yv, f->y0) + 2 * fs;
            ay = 0.0;
            tc = fw_rgba_text_on (bar_color (b, i));
          }
        draw_layout (&c, tc, f->x0 + (i + 0.5) * slot, ty, 0.5, ay, 0.0);
      }

  /* category labels */
  for (guint i = 0; i < b->n; i++)
    {
      double x = f->x0 + (i + 0.5) * slot;
      if (f->cat_rotated)
        {
          if (slot < line_height (&c, c.fs_tick) * 0.9)
            continue;  /* too many categories to label */
          ctx_set_text (&c, b->labels[i], c.fs_tick, FALSE, FALSE, f->cat_label_h);
          draw_layout (&c, c.muted, x, f->y1 + f->tick_len, 1.0, 0.5, -G_PI / 2);
        }
      else
        draw_text (&c, b->labels[i], c.fs_tick, FALSE, c.muted, x, f->y1 + f->tick_len, 0.5,
                   0.0);
    }
  g_free (L.yt);
  cairo_restore (cr);
  ctx_clear (&c);
}

int
fw_bar_chart_pick (const FwBarChart *b, double width, double height, const FwPlotStyle *style,
                   double px, double py)
{
  g_return_val_if_fail (b != NULL, -1);
  if (b->n == 0)
    return -1;
  Ctx c;
  ctx_init (&c, NULL, style);
  BarLayout L;
  bars_layout (&c, b, width, height, &L);
  g_free (L.yt);
  ctx_clear (&c);
  Frame *f = &L.f;
  if (px < f->x0 || px >= f->x1 || py < f->y0 || py > f->y1)
    return -1;
  int i = (int) ((px - f->x0) / ((f->x1 - f->x0) / b->n));
  return CLAMP (i, 0, (int) b->n - 1);
}

/* ============================================================================================
 * Image grid
 * ========================================================================================== */

typedef struct {
  cairo_surface_t *surface;  /* RGB24, w x h */
  char            *caption;
  gboolean         markup;
  int              caption_color;  /* palette index, -1 = theme text */
  gboolean         has_border;
  FwRgba           border;
} Tile;

struct _FwImageGrid {
  guint      w, h, channels;
  GPtrArray *tiles;
  guint      columns;
  char      *title, *empty_text;
};

static void
tile_free (gpointer p)
{
  Tile *t = p;
  cairo_surface_destroy (t->surface);
  g_free (t->caption);
  g_free (t);
}

FwImageGrid *
fw_image_grid_new (guint width, guint height, guint channels)
{
  g_return_val_if_fail (width > 0 && height > 0, NULL);
  g_return_val_if_fail (channels == 1 || channels == 3, NULL);
  FwImageGrid *g = g_atomic_rc_box_new0 (FwImageGrid);
  g->w = width;
  g->h = height;
  g->channels = channels;
  g->tiles = g_ptr_array_new_with_free_func (tile_free);
  return g;
}

FwImageGrid *
fw_image_grid_ref (FwImageGrid *g)
{
  g_return_val_if_fail (g != NULL, NULL);
  return g_atomic_rc_box_acquire (g);
}

static void
grid_clear_mem (gpointer data)
{
  FwImageGrid *g = data;
  g_ptr_array_unref (g->tiles);
  g_free (g->title);
  g_free (g->empty_text);
}

void
fw_image_grid_unref (FwImageGrid *g)
{
  if (g != NULL)
    g_atomic_rc_box_release_full (g, grid_clear_mem);
}

static guint8
to_byte (float v)
{
  if (!(v > 0.0f))
    return 0;
  if (v >= 1.0f)
    return 255;
  return (guint8) lrintf (v * 255.0f);
}

static guint
grid_add_tile (FwImageGrid *g, cairo_surface_t *s)
{
  Tile *t = g_new0 (Tile, 1);
  t->surface = s;
  t->caption_color = -1;
  g_ptr_array_add (g->tiles, t);
  return g->tiles->len - 1;
}

guint
fw_image_grid_add (FwImageGrid *g, const float *pixels)
{
  g_return_val_if_fail (g != NULL && pixels != NULL, 0);
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, g->w, g->h);
  cairo_surface_flush (s);
  guint8 *d = cairo_image_surface_get_data (s);
  int stride = cairo_image_surface_get_stride (s);
  for (guint y = 0; y < g->h; y++)
    {
      guint32 *row = (guint32 *) (d + (gsize) y * stride);
      const float *src = pixels + (gsize) y * g->w * g->channels;
      for (guint x = 0; x < g->w; x++)
        {
          guint32 r, gg, b;
          if (g->channels == 1)
            r = gg = b = to_byte (src[x]);
          else
            {
              r = to_byte (src[3 * x]);
              gg = to_byte (src[3 * x + 1]);
              b = to_byte (src[3 * x + 2]);
            }
          row[x] = (r << 16) | (gg << 8) | b;
        }
    }
  cairo_surface_mark_dirty (s);
  return grid_add_tile (g, s);
}

guint
fw_image_grid_add_u8 (FwImageGrid *g, const guint8 *pixels)
{
  g_return_val_if_fail (g != NULL && pixels != NULL, 0);
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, g->w, g->h);
  cairo_surface_flush (s);
  guint8 *d = cairo_image_surface_get_data (s);
  int stride = cairo_image_surface_get_stride (s);
  for (guint y = 0; y < g->h; y++)
    {
      guint32 *row = (guint32 *) (d + (gsize) y * stride);
      const guint8 *src = pixels + (gsize) y * g->w * g->channels;
      for (guint x = 0; x < g->w; x++)
        {
          guint32 r, gg, b;
          if (g->channels == 1)
            r = gg = b = src[x];
          else
            {
              r = src[3 * x];
              gg = src[3 * x + 1];
              b = src[3 * x + 2];
            }
          row[x] = (r << 16) | (gg << 8) | b;
        }
    }
  cairo_surface_mark_dirty (s);
  return grid_add_tile (g, s);
}

static Tile *
grid_tile (const FwImageGrid *g, guint i)
{
  g_return_val_if_fail (g != NULL, NULL);
  if (i >= g->tiles->len)
    {
      g_critical ("FwImageGrid: tile %u does not exist (%u tiles)", i, g->tiles->len);
      return NULL;
    }
  return g_ptr_array_index (g->tiles, i);
}

void
fw_image_grid_set_caption (FwImageGrid *g, guint tile, const char *text, int color_index)
{
  Tile *t = grid_tile (g, tile);
  if (!t)
    return;
  set_str (&t->caption, text);
  t->markup = FALSE;
  t->caption_color = color_index;
}

void
fw_image_grid_set_caption_markup (FwImageGrid *g, guint tile, const char *markup)
{
  Tile *t = grid_tile (g, tile);
  if (!t)
    return;
  set_str (&t->caption, markup);
  t->markup = TRUE;
  t->caption_color = -1;
}

void
fw_image_grid_set_border (FwImageGrid *g, guint tile, int color_index)
{
  Tile *t = grid_tile (g, tile);
  if (!t)
    return;
  t->has_border = color_index >= 0;
  if (color_index >= 0)
    t->border = fw_palette_color (color_index);
}

void
fw_image_grid_set_border_rgba (FwImageGrid *g, guint tile, FwRgba color)
{
  Tile *t = grid_tile (g, tile);
  if (!t)
    return;
  t->has_border = TRUE;
  t->border = color;
}

void
fw_image_grid_set_columns (FwImageGrid *g, guint columns)
{
  g_return_if_fail (g != NULL);
  g->columns = columns;
}

void
fw_image_grid_set_title (FwImageGrid *g, const char *title)
{
  g_return_if_fail (g != NULL);
  set_str (&g->title, title);
}

void
fw_image_grid_set_empty_text (FwImageGrid *g, const char *text)
{
  g_return_if_fail (g != NULL);
  set_str (&g->empty_text, text);
}

void
fw_image_grid_clear (FwImageGrid *g)
{
  g_return_if_fail (g != NULL);
  g_ptr_array_set_size (g->tiles, 0);
}

guint
fw_image_grid_get_n_tiles (const FwImageGrid *g)
{
  g_return_val_if_fail (g != NULL, 0);
  return g->tiles->len;
}

cairo_surface_t *
fw_image_grid_get_surface (const FwImageGrid *g, guint tile)
{
  Tile *t = grid_tile (g, tile);
  return t ? t->surface : NULL;
}

const char *
fw_image_grid_get_caption (const FwImageGrid *g, guint tile)
{
  Tile *t = grid_tile (g, tile);
  return t ? t->caption : NULL;
}

typedef struct {
  double top;        /* top of the grid area */
  double left;       /* left of the grid (centred) */
  guint  cols, rows;
  double cell_w, cell_h;  /* slot size including gap and caption */
  double img_scale;       /* image pixels -> logical px */
  double cap_h;           /* caption line height (0: no captions) */
  double gap;
  double title_y;
} GridLayout;

static void
grid_layout (Ctx *c, const FwImageGrid *g, double width, double height, GridLayout *L)
{
  memset (L, 0, sizeof *L);
  double fs = c->st.font_scale, pad = c->pad;
  double top = pad;
  if (g->title)
    {
      L->title_y = top;
      top += line_height (c, c->fs_title) + pad * 0.5;
    }
  gboolean any_caption = FALSE;
  for (guint i = 0; i < g->tiles->len; i++)
    if (((Tile *) g_ptr_array_index (g->tiles, i))->caption)
      any_caption = TRUE;
  /* caption line + room for a tile border above it */
  L->cap_h = any_caption ? line_height (c, c->fs_tick) + 2 * fs + 3.0 * c->lw : 0;
  L->gap = 6.0 * fs;
  double aw = MAX (width - 2 * pad, 1), ah = MAX (height - top - pad, 1);
  guint n = MAX (g->tiles->len, 1);
  guint best_cols = 1;
  double best_scale = -1;
  guint c0 = g->columns ? g->columns : 1, c1 = g->columns ? g->columns : n;
  for (guint cols = c0; cols <= c1; cols++)
    {
      guint rows = (n + cols - 1) / cols;
      double sw = (aw / cols - L->gap) / g->w;
      double sh = (ah / rows - L->gap - L->cap_h) / g->h;
      double s = MIN (sw, sh);
      if (s > best_scale + 1e-9)
        {
          best_scale = s;
          best_cols = cols;
        }
    }
  /* whole-number magnification when >= 1: every source pixel becomes the same square */
  if (best_scale >= 1.0)
    best_scale = floor (best_scale);
  if (best_scale <= 0)
    best_scale = 0;
  L->img_scale = best_scale;
  L->cols = best_cols;
  L->rows = (n + best_cols - 1) / best_cols;
  /* captions may use the full slot width even when images are small */
  L->cell_w = MAX (g->w * best_scale + L->gap, MIN (aw / L->cols, 120 * fs));
  L->cell_h = g->h * best_scale + L->gap + L->cap_h;
  double gw = L->cell_w * L->cols;
  L->left = round (pad + MAX ((aw - gw) / 2, 0));
  L->top = round (top);
}

gboolean
fw_image_grid_tile_rect (const FwImageGrid *g, double width, double height,
                         const FwPlotStyle *style, guint i, double *x, double *y, double *w,
                         double *h)
{
  g_return_val_if_fail (g != NULL, FALSE);
  if (i >= g->tiles->len)
    return FALSE;
  Ctx c;
  ctx_init (&c, NULL, style);
  GridLayout L;
  grid_layout (&c, g, width, height, &L);
  ctx_clear (&c);
  if (L.img_scale <= 0)
    return FALSE;
  guint col = i % L.cols, row = i / L.cols;
  double iw = g->w * L.img_scale, ih = g->h * L.img_scale;
  double tx = round (L.left + col * L.cell_w + (L.cell_w - iw) / 2);
  double ty = round (L.top + row * L.cell_h + L.gap / 2);
  if (x)
    *x = tx;
  if (y)
    *y = ty;
  if (w)
    *w = iw;
  if (h)
    *h = ih;
  return TRUE;
}

void
fw_plot_draw_image_grid (cairo_t *cr, const FwImageGrid *g, double width, double height,
                         const FwPlotStyle *style)
{
  g_return_if_fail (cr != NULL && g != NULL);
  Ctx c;
  ctx_init (&c, cr, style);
  cairo_save (cr);
  paint_background (&c, width, height);
  if (g->title)
    {
      double tt = c.pad;
      draw_text (&c, g->title, c.fs_title, TRUE, c.text, width / 2, tt, 0.5, 0.0);
    }
  if (g->tiles->len == 0)
    {
      cairo_restore (cr);
      ctx_clear (&c);
      fw_plot_draw_message (cr, g->empty_text ? g->empty_text : "No images yet", width, height,
                            style);
      return;
    }
  GridLayout L;
  grid_layout (&c, g, width, height, &L);
  if (L.img_scale > 0)
    for (guint i = 0; i < g->tiles->len; i++)
      {
        Tile *t = g_ptr_array_index (g->tiles, i);
        guint col = i % L.cols, row = i / L.cols;
        double iw = g->w * L.img_scale, ih = g->h * L.img_scale;
        double tx = round (L.left + col * L.cell_w + (L.cell_w - iw) / 2);
        double ty = round (L.top + row * L.cell_h + L.gap / 2);
        if (t->has_border)
          {
            double bwid = 3.0 * c.lw;
            fw_rgba_set_source (cr, t->border);
            cairo_rectangle (cr, tx - bwid, ty - bwid, iw + 2 * bwid, ih + 2 * bwid);
            cairo_fill (cr);
          }
        paint_nearest (cr, t->surface, tx, ty, iw, ih);
        if (t->caption && L.cap_h > 0)
          {
            double cx = L.left + (col + 0.5) * L.cell_w;
            /* same baseline for every tile, bordered or not */
            double cy = ty + ih + 3.0 * c.lw + 1 * c.st.font_scale;
            ctx_set_text (&c, t->caption, c.fs_tick, FALSE, t->markup, L.cell_w - 2);
            /* class colours as text: darkened (lightened on dark) to a 3:1 contrast */
            FwRgba col_text = t->caption_color >= 0
                                ? fw_palette_text_color (t->caption_color, c.st.dark)
                                : c.text;
            draw_layout (&c, col_text, cx, cy, 0.5, 0.0, 0.0);
          }
      }
  cairo_restore (cr);
  ctx_clear (&c);
}

int
fw_image_grid_pick (const FwImageGrid *g, double width, double height, const FwPlotStyle *style,
                    double px, double py)
{
  g_return_val_if_fail (g != NULL, -1);
  if (g->tiles->len == 0)
    return -1;
  Ctx c;
  ctx_init (&c, NULL, style);
  GridLayout L;
  grid_layout (&c, g, width, height, &L);
  ctx_clear (&c);
  if (L.img_scale <= 0)
    return -1;
  double fx = (px - L.left) / L.cell_w, fy = (py - L.top) / L.cell_h;
  if (fx < 0 || fy < 0 || fx >= L.cols || fy >= L.rows)
    return -1;
  guint i = (guint) fy * L.cols + (guint) fx;
  return i < g->tiles->len ? (int) i : -1;
}

/* ============================================================================================
 * Any plot
 * ========================================================================================== */

void
fw_plot_draw (cairo_t *cr, FwPlotKind kind, gconstpointer plot, double width, double height,
              const FwPlotStyle *style)
{
  g_return_if_fail (cr != NULL);
  if (plot == NULL)
    kind = FW_PLOT_NONE;
  switch (kind)
    {
    case FW_PLOT_LINE:
      fw_plot_draw_line (cr, plot, width, height, style);
      break;
    case FW_PLOT_SCATTER:
      fw_plot_draw_scatter (cr, plot, width, height, style);
      break;
    case FW_PLOT_HEATMAP:
      fw_plot_draw_heatmap (cr, plot, width, height, style);
      break;
    case FW_PLOT_BARS:
      fw_plot_draw_bars (cr, plot, width, height, style);
      break;
    case FW_PLOT_IMAGE_GRID:
      fw_plot_draw_image_grid (cr, plot, width, height, style);
      break;
    case FW_PLOT_NONE:
    default:
      {
        Ctx c;
        ctx_init (&c, cr, style);
        paint_background (&c, width, height);
        ctx_clear (&c);
      }
      break;
    }
}

gpointer
fw_plot_ref (FwPlotKind kind, gpointer plot)
{
  if (plot == NULL)
    return NULL;
  switch (kind)
    {
    case FW_PLOT_LINE: return fw_line_plot_ref (plot);
    case FW_PLOT_SCATTER: return fw_scatter_plot_ref (plot);
    case FW_PLOT_HEATMAP: return fw_heatmap_ref (plot);
    case FW_PLOT_BARS: return fw_bar_chart_ref (plot);
    case FW_PLOT_IMAGE_GRID: return fw_image_grid_ref (plot);
    case FW_PLOT_NONE:
    default: return NULL;
    }
}

void
fw_plot_unref (FwPlotKind kind, gpointer plot)
{
  if (plot == NULL)
    return;
  switch (kind)
    {
    case FW_PLOT_LINE: fw_line_plot_unref (plot); break;
    case FW_PLOT_SCATTER: fw_scatter_plot_unref (plot); break;
    case FW_PLOT_HEATMAP: fw_heatmap_unref (plot); break;
    case FW_PLOT_BARS: fw_bar_chart_unref (plot); break;
    case FW_PLOT_IMAGE_GRID: fw_image_grid_unref (plot); break;
    case FW_PLOT_NONE:
    default: break;
    }
}
