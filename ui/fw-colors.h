/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-colors.h: the class palette, the continuous and diverging colour maps, light/dark theme colours. */
#pragma once

#include <glib.h>
#include <cairo.h>

G_BEGIN_DECLS

/* A colour with straight (non-premultiplied) components in [0,1], sRGB-encoded. */
typedef struct {
  double r, g, b, a;
} FwRgba;

/* ---- Class palette ------------------------------------------------------------------------
 * Ten fixed colour-blind-safe colours, so "class 3" has the same colour on every page.
 * Okabe-Ito's seven chromatic colours first, then three extras chosen to stay apart from them
 * under normal vision and the common colour-vision deficiencies. Readable on both the light and
 * the dark background. */
#define FW_PALETTE_SIZE 10

/* Colour of class @index; wraps modulo FW_PALETTE_SIZE. A negative index gives the neutral
 * grey used for "no class / unlabelled". */
FwRgba      fw_palette_color     (int index);
/* "#rrggbb" of the same colour (static string, do not free); for Pango/GTK markup. */
const char *fw_palette_hex       (int index);
/* "#rrggbb" of class @index as a TEXT colour on the theme background (light or @dark): the
 * class colour mixed towards black (light) or white (dark) just enough to reach a 3:1 WCAG
 * contrast, so that yellow or sky-blue class names stay readable. Static buffer per index and
 * theme, do not free. */
const char *fw_palette_text_hex  (int index, gboolean dark);
/* The same colour as FwRgba, for text drawn with Cairo (image-grid captions). */
FwRgba      fw_palette_text_color (int index, gboolean dark);

/* ---- Continuous colour maps --------------------------------------------------------------- */
typedef enum {
  FW_COLORMAP_VIRIDIS,    /* perceptual, dark purple (low) -> yellow (high), monotonic lightness */
  FW_COLORMAP_DIVERGING,  /* blue (negative) -> near-white (zero) -> red (positive), ColorBrewer RdBu */
  FW_COLORMAP_GRAY,       /* black -> white */
} FwColormap;

/* Viridis-like map: t in [0,1] (clamped). NaN gives transparent grey. */
FwRgba fw_colormap_viridis   (double t);
/* Diverging map: t in [-1,1] (clamped), 0 is the near-white centre. NaN gives transparent grey. */
FwRgba fw_colormap_diverging (double t);
/* Map @value for display with @map over [vmin, vmax]. For FW_COLORMAP_DIVERGING the range is made
 * symmetric about zero (m = max(|vmin|, |vmax|), value/m), so zero is always the centre colour. */
FwRgba fw_colormap_map       (FwColormap map, double value, double vmin, double vmax);

/* ---- Colour helpers ----------------------------------------------------------------------- */
/* WCAG relative luminance of an sRGB colour (alpha ignored), in [0,1]. */
double fw_rgba_luminance     (FwRgba c);
/* WCAG contrast ratio (L1 + 0.05) / (L2 + 0.05) with L1 >= L2, in [1,21]. */
double fw_rgba_contrast      (FwRgba a, FwRgba b);
/* Black or white, whichever contrasts more with @background (text on heatmap cells). */
FwRgba fw_rgba_text_on       (FwRgba background);
FwRgba fw_rgba_with_alpha    (FwRgba c, double alpha);
void   fw_rgba_set_source    (cairo_t *cr, FwRgba c);
/* Parse "#rgb" / "#rrggbb" / "#rrggbbaa". FALSE on anything else (out untouched). */
gboolean fw_rgba_parse       (const char *hex, FwRgba *out);

/* ---- Theme colours for plots, light and dark ----------------------------------------------- */
typedef enum {
  FW_THEME_BACKGROUND,  /* plot background */
  FW_THEME_TEXT,        /* titles, axis labels */
  FW_THEME_TEXT_MUTED,  /* tick labels, legend text secondary, empty-state text */
  FW_THEME_AXIS,        /* axis lines and tick marks */
  FW_THEME_GRID,        /* thin grid lines */
  FW_THEME_MASKED,      /* hatching of masked (pruned) heatmap cells */
  FW_THEME_HIGHLIGHT,   /* hover ring / selection */
} FwThemeColor;

FwRgba fw_theme_color (FwThemeColor which, gboolean dark);

G_END_DECLS
