/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-grow-diagram.h: the growing network drawn with Cairo: one column per layer (input, each
 * dense/conv layer), one circle per neuron (rounded squares for conv channels), the neurons
 * added by the last growth step highlighted; shared by the Grow page's widget and its figure
 * export. */
#pragma once

#include <cairo.h>

#include "fw-grow.h"
#include "fw-plot.h"

G_BEGIN_DECLS

/* Most neurons drawn per column; wider layers show this many and "+N more". */
#define FW_GROW_DIAGRAM_MAX_DRAWN 40

/* Draws the network of point pt (NULL: an empty-state message) into (0,0)-(width,height).
 * method names the growth method in the title (may be NULL). */
void fw_grow_draw_network (cairo_t *cr, const FwGrowPoint *pt, const char *method,
                           double width, double height, const FwPlotStyle *style);

/* Where neuron j of column c is drawn (centre and radius); FALSE when not drawn (beyond the
 * column's drawn count, or c out of range). Same layout as fw_grow_draw_network. */
gboolean fw_grow_network_neuron_pos (const FwGrowPoint *pt, double width, double height,
                                     const FwPlotStyle *style, int c, int j, double *x,
                                     double *y, double *r);

G_END_DECLS
