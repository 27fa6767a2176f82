/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-grow-diagram.c: the growing network as a Cairo drawing (see fw-grow-diagram.h). */
#include "fw-grow-diagram.h"

#include <math.h>
#include <pango/pangocairo.h>

#include "fw-colors.h"
#include "fw-util.h"

typedef struct {
  double x0, x1, y0, y1;   /* the area of the columns */
  double col_dx;           /* distance between columns */
  double r;                /* neuron radius */
  double pitch;            /* vertical distance between neurons */
  double fs;               /* font size */
} Layout;

static int
drawn_count (const FwGrowPoint *pt, int c)
{
  /* the input is drawn as one box, not neurons */
  return c == 0 ? 0 : MIN (pt->widths[c], FW_GROW_DIAGRAM_MAX_DRAWN);
}

static Layout
layout_of (const FwGrowPoint *pt, double width, double height, const FwPlotStyle *style)
{
  Layout L;
  double fscale = style != NULL ? style->font_scale : 1.0;
  L.fs = 12.0 * fscale;
  double pad = 16 + L.fs;
  L.x0 = pad + 14;
  L.x1 = width - pad - 14;
  L.y0 = pad + 2.2 * L.fs;            /* title */
  L.y1 = height - pad - 2.6 * L.fs;   /* labels under the columns */
  int n = MAX (pt->n_widths, 2);
  L.col_dx = (L.x1 - L.x0) / (n - 1);
  int most = 1;
  for (int c = 1; c < pt->n_widths; c++)
    most = MAX (most, drawn_count (pt, c));
  L.pitch = MIN ((L.y1 - L.y0) / most, 36.0);
  L.r = CLAMP (0.36 * L.pitch, 1.5, 11.0) * (style != NULL ? sqrt (style->line_scale) : 1.0);
  return L;
}

gboolean
fw_grow_network_neuron_pos (const FwGrowPoint *pt, double width, double height,
                            const FwPlotStyle *style, int c, int j, double *x, double *y,
                            double *r)
{
  if (pt == NULL || c < 1 || c >= pt->n_widths || j < 0 || j >= drawn_count (pt, c))
    return FALSE;
  Layout L = layout_of (pt, width, height, style);
  int m = drawn_count (pt, c);
  double mid = 0.5 * (L.y0 + L.y1);
  *x = L.x0 + c * L.col_dx;
  *y = mid + (j - 0.5 * (m - 1)) * L.pitch;
  *r = L.r;
  return TRUE;
}

static void
text (cairo_t *cr, const char *s, double size, gboolean bold, FwRgba color, double x, double y,
      double ax, double ay, double max_w, const FwPlotStyle *style)
{
  PangoLayout *layout = pango_cairo_create_layout (cr);
  PangoFontDescription *fd = pango_font_description_from_string (
    style != NULL && style->font_family != NULL ? style->font_family : "Sans");
  pango_font_description_set_absolute_size (fd, size * PANGO_SCALE);
  pango_font_description_set_weight (fd, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
  pango_layout_set_font_description (layout, fd);
  pango_layout_set_text (layout, s, -1);
  int w, h;
  pango_layout_get_pixel_size (layout, &w, &h);
  if (max_w > 0 && w > max_w)
    {
      /* too wide for the area (a narrow window, a long title): shrink to fit */
      pango_font_description_set_absolute_size (fd, size * (max_w / w) * PANGO_SCALE);
      pango_layout_set_font_description (layout, fd);
      pango_layout_get_pixel_size (layout, &w, &h);
    }
  fw_rgba_set_source (cr, color);
  cairo_move_to (cr, x - ax * w, y - ay * h);
  pango_cairo_show_layout (cr, layout);
  pango_font_description_free (fd);
  g_object_unref (layout);
}

void
fw_grow_draw_network (cairo_t *cr, const FwGrowPoint *pt, const char *method, double width,
                      double height, const FwPlotStyle *style)
{
  FwPlotStyle def;
  if (style == NULL)
    {
      fw_plot_style_init (&def);
      style = &def;
    }
  gboolean dark = style->dark;
  if (!style->transparent)
    {
      fw_rgba_set_source (cr, fw_theme_color (FW_THEME_BACKGROUND, dark));
      cairo_paint (cr);
    }
  if (pt == NULL || pt->n_widths < 2)
    {
      fw_plot_draw_message (cr, "Grow a network: its layers widen here as neurons are added",
                            width, height, style);
      return;
    }
  Layout L = layout_of (pt, width, height, style);
  FwRgba fg = fw_theme_color (FW_THEME_TEXT, dark);
  FwRgba muted = fw_theme_color (FW_THEME_TEXT_MUTED, dark);
  FwRgba edge = fw_rgba_with_alpha (fw_theme_color (FW_THEME_AXIS, dark), 0.18);
  FwRgba old_fill = fw_palette_color (0);      /* blue: neurons that were there */
  FwRgba new_fill = fw_palette_color (1);      /* orange: added by the last step */
  FwRgba new_edge = fw_rgba_with_alpha (new_fill, 0.55);

  /* title */
  g_autofree char *params = fw_format_count ((double) pt->params);
  /* the final training's point: nothing added and no growth step tried (no line search) */
  gboolean final = pt->step > 0 && pt->added == 0 && isnan (pt->loss_before);
  g_autofree char *title = pt->step == 0
    ? g_strdup_printf ("Start network · %s parameters", params)
    : final ? g_strdup_printf ("%s · final training · %s parameters",
                               method != NULL ? method : "growth", params)
    : g_strdup_printf ("%s step %d · %s parameters%s", method != NULL ? method : "growth",
                       pt->step, params, pt->added > 0 ? "" : " · no neuron added");
  text (cr, title, L.fs * 1.2, TRUE, fg, width / 2, 10, 0.5, 0, width - 16, style);

  double mid = 0.5 * (L.y0 + L.y1);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  /* edges: between drawn neurons of consecutive columns (the input box: from its edge) */
  for (int c = 1; c < pt->n_widths; c++)
    {
      int m = drawn_count (pt, c), mp = drawn_count (pt, c - 1);
      int first_new = pt->widths[c] - pt->added_at[c];
      for (int j = 0; j < m; j++)
        {
          double x, y, r;
          fw_grow_network_neuron_pos (pt, width, height, style, c, j, &x, &y, &r);
          gboolean is_new = j >= first_new;
          int kp = mp == 0 ? 5 : mp;
          for (int i = 0; i < kp; i++)
            {
              double px, py, pr;
              if (mp == 0)
                {
                  px = L.x0 + (c - 1) * L.col_dx + 14;
                  py = mid + (i - 2) * 0.12 * (L.y1 - L.y0);
                }
              else
                fw_grow_network_neuron_pos (pt, width, height, style, c - 1, i, &px, &py, &pr);
              int pfirst_new = pt->widths[c - 1] - pt->added_at[c - 1];
              gboolean hot = is_new || (mp > 0 && i >= pfirst_new && c - 1 > 0);
              fw_rgba_set_source (cr, hot ? new_edge : edge);
              cairo_set_line_width (cr, (hot ? 1.2 : 0.7) * style->line_scale);
              cairo_move_to (cr, px, py);
              cairo_line_to (cr, x, y);
              cairo_stroke (cr);
            }
        }
    }

  /* the input box */
  {
    double x = L.x0, h = 0.6 * (L.y1 - L.y0);
    cairo_rectangle (cr, x - 14, mid - h / 2, 28, h);
    fw_rgba_set_source (cr, fw_rgba_with_alpha (muted, 0.15));
    cairo_fill_preserve (cr);
    fw_rgba_set_source (cr, muted);
    cairo_set_line_width (cr, 1.0 * style->line_scale);
    cairo_stroke (cr);
  }

  /* neurons */
  for (int c = 1; c < pt->n_widths; c++)
    {
      gboolean conv = pt->kinds[c] == 'c';
      int m = drawn_count (pt, c);
      int first_new = pt->widths[c] - pt->added_at[c];
      for (int j = 0; j < m; j++)
        {
          double x, y, r;
          fw_grow_network_neuron_pos (pt, width, height, style, c, j, &x, &y, &r);
          gboolean is_new = j >= first_new;
          if (conv)
            {
              double s = 1.7 * r, rr = 0.3 * s;
              cairo_new_sub_path (cr);
              cairo_arc (cr, x + s / 2 - rr, y - s / 2 + rr, rr, -G_PI / 2, 0);
              cairo_arc (cr, x + s / 2 - rr, y + s / 2 - rr, rr, 0, G_PI / 2);
              cairo_arc (cr, x - s / 2 + rr, y + s / 2 - rr, rr, G_PI / 2, G_PI);
              cairo_arc (cr, x - s / 2 + rr, y - s / 2 + rr, rr, G_PI, 1.5 * G_PI);
              cairo_close_path (cr);
            }
          else
            cairo_arc (cr, x, y, r, 0, 2 * G_PI);
          fw_rgba_set_source (cr, is_new ? new_fill : old_fill);
          cairo_fill_preserve (cr);
          fw_rgba_set_source (cr, fw_theme_color (FW_THEME_BACKGROUND, dark));
          cairo_set_line_width (cr, 1.0);
          cairo_stroke (cr);
          if (is_new)
            {
              cairo_arc (cr, x, y, r + 3.0 * style->line_scale, 0, 2 * G_PI);
              fw_rgba_set_source (cr, new_fill);
              cairo_set_line_width (cr, 1.5 * style->line_scale);
              cairo_stroke (cr);
            }
        }
      if (pt->widths[c] > m)
        {
          g_autofree char *more = g_strdup_printf ("+%d more", pt->widths[c] - m);
          text (cr, more, L.fs * 0.85, FALSE, muted, L.x0 + c * L.col_dx, L.y1 + 2, 0.5, 0,
                L.col_dx, style);
        }
    }

  /* labels under the columns */
  for (int c = 0; c < pt->n_widths; c++)
    {
      double x = L.x0 + c * L.col_dx;
      g_autofree char *lab = NULL;
      if (c == 0)
        lab = pt->kinds[0] == 'c' ? g_strdup_printf ("input\n%d ch", pt->widths[0])
                                  : g_strdup_printf ("input\n%d", pt->widths[0]);
      else if (c == pt->n_widths - 1)
        lab = g_strdup_printf ("output\n%d", pt->widths[c]);
      else if (pt->added_at[c] > 0)
        lab = g_strdup_printf ("%s\n%d (+%d)", pt->kinds[c] == 'c' ? "conv" : "dense",
                               pt->widths[c], pt->added_at[c]);
      else
        lab = g_strdup_printf ("%s\n%d", pt->kinds[c] == 'c' ? "conv" : "dense", pt->widths[c]);
      text (cr, lab, L.fs, pt->added_at[c] > 0, pt->added_at[c] > 0 ? new_fill : fg, x,
            height - 8, 0.5, 1.0, 0, style);
    }
}
