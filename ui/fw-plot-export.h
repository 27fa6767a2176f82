/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-plot-export.h: write a plot to a PNG, SVG or PDF file (atomic: temp file, then rename). */
#pragma once

#include <glib.h>
#include <cairo.h>

#include "fw-plot.h"

G_BEGIN_DECLS

typedef enum {
  FW_EXPORT_AUTO,  /* from the file name's extension (.png, .svg, .pdf; case-insensitive) */
  FW_EXPORT_PNG,
  FW_EXPORT_SVG,
  FW_EXPORT_PDF,
} FwExportFormat;

/* Format for @path's extension; FW_EXPORT_AUTO if it is none of .png/.svg/.pdf. */
FwExportFormat fw_export_format_for_path (const char *path);
const char    *fw_export_format_extension (FwExportFormat format);  /* "png", "svg", "pdf" */

/* Draws into the rectangle (0,0)-(width,height) of @cr (logical pixels). */
typedef void (*FwExportDrawFunc) (cairo_t *cr, double width, double height, gpointer user_data);

/* Export any drawing. @width x @height are logical pixels. PNG: the image is
 * round(width*scale) x round(height*scale) device pixels and the drawing is cairo_scale()d by
 * @scale (2 = HiDPI figure). SVG: width x height px; PDF: width x height points (1 px = 1 pt);
 * @scale is ignored (vector output). The file is written to a temporary file in the same
 * directory and renamed over @path only when complete: on any error (FW_ERROR_IO: unwritable
 * directory; FW_ERROR_INVALID: unknown extension, bad size) @path is untouched and no temporary
 * file is left. */
gboolean fw_export_drawing (const char *path, FwExportFormat format, double width,
                            double height, double scale, FwExportDrawFunc draw,
                            gpointer user_data, GError **error);

/* Export one plot (see fw_plot_draw()); @style may be NULL (light defaults; exports are light
 * unless you pass a dark style). */
gboolean fw_plot_export (const char *path, FwExportFormat format, FwPlotKind kind,
                         gconstpointer plot, double width, double height, double scale,
                         const FwPlotStyle *style, GError **error);

G_END_DECLS
