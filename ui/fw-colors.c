/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-colors.c: class palette, viridis-like and diverging colour maps (CIELAB-interpolated tables), theme colours. */
#include "fw-colors.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- Palette -------------------------------------------------------------------------------
 * Okabe & Ito (2008) chromatic colours, then violet, brown and wine. Chosen (offline, by a small
 * search) so every pair differs by CIE76 dE > 25 for normal vision, > 20 under simulated
 * protanopia and > 12 under deuteranopia (Machado et al. 2009 matrices), and every colour has a
 * WCAG contrast >= 2.4 against the dark background. Yellow (6) is weak on white for thin lines;
 * line plots use low indices first. */
static const char *const palette_hex[FW_PALETTE_SIZE] = {
  "#0072b2", /* 0 blue */
  "#e69f00", /* 1 orange */
  "#009e73", /* 2 bluish green */
  "#d55e00", /* 3 vermillion */
  "#56b4e9", /* 4 sky blue */
  "#cc79a7", /* 5 reddish purple */
  "#f0e442", /* 6 yellow */
  "#7b3fbf", /* 7 violet */
  "#8c5a2b", /* 8 brown */
  "#aa3377", /* 9 wine */
};
static const char *const unlabelled_hex = "#8c8c8c";

gboolean
fw_rgba_parse (const char *hex, FwRgba *out)
{
  if (hex == NULL || hex[0] != '#')
    return FALSE;
  gsize n = strlen (hex + 1);
  unsigned v[4] = { 0, 0, 0, 255 };
  for (gsize i = 1; i <= n; i++)
    if (!g_ascii_isxdigit (hex[i]))
      return FALSE;
  if (n == 3)
    {
      for (int i = 0; i < 3; i++)
        v[i] = 17 * g_ascii_xdigit_value (hex[1 + i]);
    }
  else if (n == 6 || n == 8)
    {
      for (gsize i = 0; i < n / 2; i++)
        v[i] = 16 * g_ascii_xdigit_value (hex[1 + 2 * i]) + g_ascii_xdigit_value (hex[2 + 2 * i]);
    }
  else
    return FALSE;
  out->r = v[0] / 255.0;
  out->g = v[1] / 255.0;
  out->b = v[2] / 255.0;
  out->a = v[3] / 255.0;
  return TRUE;
}

static FwRgba
rgba_from_hex (const char *hex)
{
  FwRgba c = { 0.5, 0.5, 0.5, 1.0 };
  fw_rgba_parse (hex, &c);
  return c;
}

const char *
fw_palette_hex (int index)
{
  if (index < 0)
    return unlabelled_hex;
  return palette_hex[index % FW_PALETTE_SIZE];
}

FwRgba
fw_palette_color (int index)
{
  return rgba_from_hex (fw_palette_hex (index));
}

/* ---- sRGB <-> CIELAB (D65) ------------------------------------------------------------------ */
static double
srgb_to_linear (double c)
{
  return c <= 0.04045 ? c / 12.92 : pow ((c + 0.055) / 1.055, 2.4);
}

static double
linear_to_srgb (double c)
{
  if (c <= 0.0)
    return 0.0;
  if (c >= 1.0)
    return 1.0;
  return c <= 0.0031308 ? 12.92 * c : 1.055 * pow (c, 1.0 / 2.4) - 0.055;
}

static const double white_x = 0.95047, white_z = 1.08883;

static double
lab_f (double t)
{
  const double eps = 216.0 / 24389.0, kappa = 24389.0 / 27.0;
  return t > eps ? cbrt (t) : (kappa * t + 16.0) / 116.0;
}

static double
lab_finv (double f)
{
  const double eps = 216.0 / 24389.0, kappa = 24389.0 / 27.0;
  double f3 = f * f * f;
  return f3 > eps ? f3 : (116.0 * f - 16.0) / kappa;
}

static void
rgb_to_lab (FwRgba c, double lab[3])
{
  double r = srgb_to_linear (c.r), g = srgb_to_linear (c.g), b = srgb_to_linear (c.b);
  /* [X Y Z] = M_sRGB->XYZ * [r g b] (D65) */
  double x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
  double y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
  double z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b;
  double fx = lab_f (x / white_x), fy = lab_f (y), fz = lab_f (z / white_z);
  lab[0] = 116.0 * fy - 16.0;
  lab[1] = 500.0 * (fx - fy);
  lab[2] = 200.0 * (fy - fz);
}

static FwRgba
lab_to_rgb (const double lab[3])
{
  double fy = (lab[0] + 16.0) / 116.0;
  double fx = fy + lab[1] / 500.0, fz = fy - lab[2] / 200.0;
  double x = white_x * lab_finv (fx), y = lab_finv (fy), z = white_z * lab_finv (fz);
  /* [r g b] = M_XYZ->sRGB * [X Y Z] */
  double r = 3.2404542 * x - 1.5371385 * y - 0.4985314 * z;
  double g = -0.9692660 * x + 1.8760108 * y + 0.0415560 * z;
  double b = 0.0556434 * x - 0.2040259 * y + 1.0572252 * z;
  return (FwRgba) { linear_to_srgb (r), linear_to_srgb (g), linear_to_srgb (b), 1.0 };
}

/* ---- Colour map tables ----------------------------------------------------------------------
 * Each map is a few anchor colours, interpolated piecewise-linearly in CIELAB into a 257-entry
 * table once; lookups interpolate the table linearly in sRGB (entries are 1/255 apart). */
#define MAP_N 257  /* odd: the diverging centre t = 0.5 is an exact entry */

/* Viridis anchors: ten evenly spaced samples of matplotlib's viridis (van der Walt & Smith);
 * lightness rises monotonically from 0.0 to 1.0. */
static const char *const viridis_anchors[] = {
  "#440154", "#482878", "#3e4a89", "#31688e", "#26828e",
  "#1f9e89", "#35b779", "#6dcd59", "#b4de2c", "#fde725",
};

/* ColorBrewer RdBu, 11 classes, ordered from strong blue (-1) to strong red (+1). */
static const char *const diverging_anchors[] = {
  "#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7",
  "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f",
};

static void
build_table (FwRgba *table, const char *const *anchors, guint n_anchors)
{
  double lab[16][3];
  g_assert (n_anchors <= 16);
  for (guint i = 0; i < n_anchors; i++)
    rgb_to_lab (rgba_from_hex (anchors[i]), lab[i]);
  for (guint k = 0; k < MAP_N; k++)
    {
      double pos = (double) k / (MAP_N - 1) * (n_anchors - 1);
      guint i = (guint) floor (pos);
      if (i >= n_anchors - 1)
        i = n_anchors - 2;
      double f = pos - i, mix[3];
      for (int j = 0; j < 3; j++)
        mix[j] = (1.0 - f) * lab[i][j] + f * lab[i + 1][j];
      table[k] = lab_to_rgb (mix);
    }
}

static FwRgba viridis_table[MAP_N];
static FwRgba diverging_table[MAP_N];

static void
ensure_tables (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done))
    {
      build_table (viridis_table, viridis_anchors, G_N_ELEMENTS (viridis_anchors));
      build_table (diverging_table, diverging_anchors, G_N_ELEMENTS (diverging_anchors));
      g_once_init_leave (&done, 1);
    }
}

static FwRgba
table_lookup (const FwRgba *table, double t)
{
  if (t <= 0.0)
    return table[0];
  if (t >= 1.0)
    return table[MAP_N - 1];
  double pos = t * (MAP_N - 1);
  int i = (int) pos;
  if (i >= MAP_N - 1)
    return table[MAP_N - 1];
  double f = pos - i;
  FwRgba a = table[i], b = table[i + 1];
  return (FwRgba) { a.r + f * (b.r - a.r), a.g + f * (b.g - a.g), a.b + f * (b.b - a.b), 1.0 };
}

static const FwRgba nan_color = { 0.5, 0.5, 0.5, 0.0 };

FwRgba
fw_colormap_viridis (double t)
{
  if (isnan (t))
    return nan_color;
  ensure_tables ();
  return table_lookup (viridis_table, t);
}

FwRgba
fw_colormap_diverging (double t)
{
  if (isnan (t))
    return nan_color;
  ensure_tables ();
  return table_lookup (diverging_table, 0.5 * (t + 1.0));
}

FwRgba
fw_colormap_map (FwColormap map, double value, double vmin, double vmax)
{
  if (isnan (value))
    return nan_color;
  if (map == FW_COLORMAP_DIVERGING)
    {
      double m = MAX (fabs (vmin), fabs (vmax));
      return fw_colormap_diverging (m > 0.0 && isfinite (m) ? value / m : 0.0);
    }
  double span = vmax - vmin;
  double t = span > 0.0 && isfinite (span) ? (value - vmin) / span : 0.5;
  if (map == FW_COLORMAP_GRAY)
    {
      t = CLAMP (t, 0.0, 1.0);
      return (FwRgba) { t, t, t, 1.0 };
    }
  return fw_colormap_viridis (t);
}

/* ---- Helpers -------------------------------------------------------------------------------- */
double
fw_rgba_luminance (FwRgba c)
{
  return 0.2126 * srgb_to_linear (c.r) + 0.7152 * srgb_to_linear (c.g)
         + 0.0722 * srgb_to_linear (c.b);
}

double
fw_rgba_contrast (FwRgba a, FwRgba b)
{
  double la = fw_rgba_luminance (a), lb = fw_rgba_luminance (b);
  return la > lb ? (la + 0.05) / (lb + 0.05) : (lb + 0.05) / (la + 0.05);
}

FwRgba
fw_rgba_text_on (FwRgba background)
{
  static const FwRgba black = { 0, 0, 0, 1 }, white = { 1, 1, 1, 1 };
  return fw_rgba_contrast (background, black) >= fw_rgba_contrast (background, white) ? black
                                                                                     : white;
}

FwRgba
fw_rgba_with_alpha (FwRgba c, double alpha)
{
  c.a = alpha;
  return c;
}

void
fw_rgba_set_source (cairo_t *cr, FwRgba c)
{
  cairo_set_source_rgba (cr, c.r, c.g, c.b, c.a);
}

FwRgba
fw_palette_text_color (int index, gboolean dark)
{
  FwRgba bg = fw_theme_color (FW_THEME_BACKGROUND, dark);
  FwRgba c = fw_palette_color (index), towards = { dark ? 1 : 0, dark ? 1 : 0, dark ? 1 : 0, 1 };
  /* mix in steps of 5% until the contrast holds (at most 100%: black or white always does) */
  for (int k = 0; k <= 20 && fw_rgba_contrast (c, bg) < 3.0; k++)
    {
      FwRgba base = fw_palette_color (index);
      double t = (k + 1) * 0.05;
      c.r = base.r + (towards.r - base.r) * t;
      c.g = base.g + (towards.g - base.g) * t;
      c.b = base.b + (towards.b - base.b) * t;
    }
  return c;
}

const char *
fw_palette_text_hex (int index, gboolean dark)
{
  /* [theme][index + 1]: index -1 (unlabelled grey) included */
  static char buf[2][FW_PALETTE_SIZE + 1][8];
  int slot = index < 0 ? 0 : index % FW_PALETTE_SIZE + 1;
  FwRgba c = fw_palette_text_color (index, dark);
  g_snprintf (buf[dark ? 1 : 0][slot], sizeof buf[0][0], "#%02x%02x%02x",
              (int) (c.r * 255 + 0.5), (int) (c.g * 255 + 0.5), (int) (c.b * 255 + 0.5));
  return buf[dark ? 1 : 0][slot];
}

/* ---- Theme ---------------------------------------------------------------------------------
 * Light: white page, near-black text (like Adwaita's window colours). Dark: Adwaita's dark
 * view background #1e1e1e, near-white text. Grid lines are faint; muted text still passes
 * WCAG 4.5:1 on its background. */
FwRgba
fw_theme_color (FwThemeColor which, gboolean dark)
{
  const char *hex = NULL;
  switch (which)
    {
    case FW_THEME_BACKGROUND: hex = dark ? "#1e1e1e" : "#ffffff"; break;
    case FW_THEME_TEXT:       hex = dark ? "#f2f2f2" : "#1a1a1a"; break;
    case FW_THEME_TEXT_MUTED: hex = dark ? "#b4b4b4" : "#555555"; break;
    case FW_THEME_AXIS:       hex = dark ? "#8a8a8a" : "#6e6e6e"; break;
    case FW_THEME_GRID:       hex = dark ? "#383838" : "#e4e4e4"; break;
    case FW_THEME_MASKED:     hex = dark ? "#6a6a6a" : "#a0a0a0"; break;
    case FW_THEME_HIGHLIGHT:  hex = dark ? "#ffffff" : "#000000"; break;
    default:                  hex = "#808080"; break;
    }
  return rgba_from_hex (hex);
}
