/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-lecture-figure.h: a lecture demo's result panels drawn as one figure (Cairo only).
 *
 * The same function draws the stage of the Lecture page (revealing panels step by step) and
 * the figure `frugal lecture run` writes (every panel, PNG/SVG/PDF at 1920x1080). */
#pragma once

#include <cairo.h>

#include "fw-lecture.h"
#include "fw-plot.h"
#include "fw-plot-export.h"

G_BEGIN_DECLS

/* The presentation style: fonts x1.8, lines x2, high contrast, light, opaque. */
void     fw_plot_style_presentation (FwPlotStyle *style);

/* The step index that reveals panel p: its step's position in steps, or the last step when
 * steps does not name it. */
int      fw_lecture_panel_step   (const char *const *steps, const FwPanel *p);

/* The panels of r revealed by steps[0..upto] (upto < 0: all), in order; transfer container. */
GPtrArray *fw_lecture_visible_panels (const char *const *steps, const FwLectureResult *r,
                                      int upto);

/* Draws the title line (title, NULL = none) and the visible panels in a grid filling
 * (0,0)-(width,height). r NULL or no visible panel: a centred message (empty_text). */
void     fw_lecture_figure_draw  (cairo_t *cr, const char *title, const char *const *steps,
                                  const FwLectureResult *r, int upto, const char *empty_text,
                                  double width, double height, const FwPlotStyle *style);

/* Writes the figure of every panel to path (.png/.svg/.pdf) at width x height. */
gboolean fw_lecture_figure_export (const char *path, const char *title,
                                   const char *const *steps, const FwLectureResult *r,
                                   double width, double height, const FwPlotStyle *style,
                                   GError **error);

G_END_DECLS
