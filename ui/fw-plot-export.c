/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-plot-export.c: PNG/SVG/PDF export through Cairo surfaces, written to a temp file then renamed. */
#include "fw-plot-export.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <cairo-pdf.h>
#include <cairo-svg.h>

#include "fw-error.h"

#define MAX_PIXELS_PER_SIDE 16384

FwExportFormat
fw_export_format_for_path (const char *path)
{
  if (path == NULL)
    return FW_EXPORT_AUTO;
  const char *dot = strrchr (path, '.');
  const char *slash = strrchr (path, G_DIR_SEPARATOR);
  if (dot == NULL || (slash && dot < slash))
    return FW_EXPORT_AUTO;
  if (g_ascii_strcasecmp (dot, ".png") == 0)
    return FW_EXPORT_PNG;
  if (g_ascii_strcasecmp (dot, ".svg") == 0)
    return FW_EXPORT_SVG;
  if (g_ascii_strcasecmp (dot, ".pdf") == 0)
    return FW_EXPORT_PDF;
  return FW_EXPORT_AUTO;
}

const char *
fw_export_format_extension (FwExportFormat format)
{
  switch (format)
    {
    case FW_EXPORT_PNG: return "png";
    case FW_EXPORT_SVG: return "svg";
    case FW_EXPORT_PDF: return "pdf";
    case FW_EXPORT_AUTO:
    default: return NULL;
    }
}

typedef struct {
  int fd;
  int err;  /* first errno, 0 if fine */
} Sink;

static cairo_status_t
sink_write (void *closure, const unsigned char *data, unsigned int length)
{
  Sink *s = closure;
  while (length > 0)
    {
      ssize_t n = write (s->fd, data, length);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (s->err == 0)
            s->err = errno;
          return CAIRO_STATUS_WRITE_ERROR;
        }
      data += n;
      length -= (unsigned int) n;
    }
  return CAIRO_STATUS_SUCCESS;
}

gboolean
fw_export_drawing (const char *path, FwExportFormat format, double width, double height,
                   double scale, FwExportDrawFunc draw, gpointer user_data, GError **error)
{
  g_return_val_if_fail (path != NULL && draw != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (format == FW_EXPORT_AUTO)
    format = fw_export_format_for_path (path);
  if (format == FW_EXPORT_AUTO)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "Cannot export to “%s”: unknown file type; use a name ending in .png, .svg "
                   "or .pdf", path);
      return FALSE;
    }
  if (!(scale > 0) || !isfinite (scale))
    scale = 1.0;
  double pw = format == FW_EXPORT_PNG ? round (width * scale) : width;
  double ph = format == FW_EXPORT_PNG ? round (height * scale) : height;
  if (!(width >= 1 && height >= 1 && pw >= 1 && ph >= 1 && pw <= MAX_PIXELS_PER_SIDE
        && ph <= MAX_PIXELS_PER_SIDE))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "Cannot export to “%s”: size %g x %g (scale %g) is out of range; use 1 to "
                   "%d pixels per side", path, width, height, scale, MAX_PIXELS_PER_SIDE);
      return FALSE;
    }

  /* temporary file beside the target, so the final rename is atomic */
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmpl = g_strdup_printf ("%s%c.%s.XXXXXX", dir, G_DIR_SEPARATOR, base);
  int fd = g_mkstemp_full (tmpl, O_WRONLY, 0644);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, FW_ERROR, FW_ERROR_IO,
                   "Cannot write “%s”: %s in folder “%s”; choose a folder that exists and is "
                   "writable", path, g_strerror (e), dir);
      return FALSE;
    }

  Sink sink = { fd, 0 };
  cairo_surface_t *surface = NULL;
  switch (format)
    {
    case FW_EXPORT_PNG:
      surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) pw, (int) ph);
      break;
    case FW_EXPORT_SVG:
      surface = cairo_svg_surface_create_for_stream (sink_write, &sink, pw, ph);
      /* 1 logical px = 1 SVG px (the default unit, pt, would show it 4/3 larger) */
      cairo_svg_surface_set_document_unit (surface, CAIRO_SVG_UNIT_PX);
      break;
    case FW_EXPORT_PDF:
      surface = cairo_pdf_surface_create_for_stream (sink_write, &sink, pw, ph);
      break;
    case FW_EXPORT_AUTO:
    default:
      g_assert_not_reached ();
    }

  cairo_t *cr = cairo_create (surface);
  if (format == FW_EXPORT_PNG)
    cairo_scale (cr, scale, scale);
  draw (cr, width, height, user_data);
  cairo_status_t st = cairo_status (cr);
  cairo_destroy (cr);
  if (st == CAIRO_STATUS_SUCCESS && format == FW_EXPORT_PNG)
    st = cairo_surface_write_to_png_stream (surface, sink_write, &sink);
  cairo_surface_finish (surface);
  if (st == CAIRO_STATUS_SUCCESS)
    st = cairo_surface_status (surface);
  cairo_surface_destroy (surface);

  gboolean ok = st == CAIRO_STATUS_SUCCESS && sink.err == 0;
  if (ok && fsync (fd) != 0 && errno != EINVAL)
    {
      sink.err = errno;
      ok = FALSE;
    }
  if (close (fd) != 0 && ok)
    {
      sink.err = errno;
      ok = FALSE;
    }
  if (ok && g_rename (tmpl, path) != 0)
    {
      sink.err = errno;
      ok = FALSE;
    }
  if (!ok)
    {
      g_unlink (tmpl);
      if (sink.err != 0)
        g_set_error (error, FW_ERROR, FW_ERROR_IO, "Cannot write “%s”: %s", path,
                     g_strerror (sink.err));
      else
        g_set_error (error, FW_ERROR, FW_ERROR_IO, "Cannot write “%s”: drawing failed (%s)",
                     path, cairo_status_to_string (st));
      return FALSE;
    }
  return TRUE;
}

typedef struct {
  FwPlotKind         kind;
  gconstpointer      plot;
  const FwPlotStyle *style;
} PlotDraw;

static void
plot_draw_cb (cairo_t *cr, double width, double height, gpointer user_data)
{
  PlotDraw *d = user_data;
  fw_plot_draw (cr, d->kind, d->plot, width, height, d->style);
}

gboolean
fw_plot_export (const char *path, FwExportFormat format, FwPlotKind kind, gconstpointer plot,
                double width, double height, double scale, const FwPlotStyle *style,
                GError **error)
{
  PlotDraw d = { kind, plot, style };
  return fw_export_drawing (path, format, width, height, scale, plot_draw_cb, &d, error);
}
