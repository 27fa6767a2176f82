/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "fw-util.h"

#include <stdlib.h>
#include <string.h>

char *
fw_format_count (double n)
{
  double a = n < 0 ? -n : n;
  if (a >= 1e9)
    return g_strdup_printf ("%.1fG", n / 1e9);
  if (a >= 1e6)
    return g_strdup_printf ("%.1fM", n / 1e6);
  if (a >= 1e3)
    return g_strdup_printf ("%.1fk", n / 1e3);
  return g_strdup_printf ("%.0f", n);
}

char *
fw_format_bytes (double b)
{
  if (b >= 1024.0 * 1024.0 * 1024.0)
    return g_strdup_printf ("%.1f GiB", b / (1024.0 * 1024.0 * 1024.0));
  if (b >= 1024.0 * 1024.0)
    return g_strdup_printf ("%.1f MiB", b / (1024.0 * 1024.0));
  if (b >= 1024.0)
    return g_strdup_printf ("%.1f KiB", b / 1024.0);
  return g_strdup_printf ("%.0f B", b);
}

char *
fw_format_seconds (double s)
{
  if (s < 1e-3)
    return g_strdup_printf ("%.0f us", s * 1e6);
  if (s < 1.0)
    return g_strdup_printf ("%.1f ms", s * 1e3);
  if (s < 60.0)
    return g_strdup_printf ("%.1f s", s);
  int m = (int) (s / 60.0);
  return g_strdup_printf ("%d min %02d s", m, (int) (s - 60.0 * m));
}

float *
fw_alloc_floats (gsize n)
{
  if (n == 0)
    n = 1;
  if (n > G_MAXSIZE / sizeof (float) - 64)
    g_error ("fw_alloc_floats: %" G_GSIZE_FORMAT " floats overflow", n);
  gsize bytes = (n * sizeof (float) + 63) & ~(gsize) 63;
  void *p = aligned_alloc (64, bytes);
  if (p == NULL)
    g_error ("fw_alloc_floats: out of memory for %" G_GSIZE_FORMAT " bytes", bytes);
  memset (p, 0, bytes);
  return p;
}

void
fw_free_aligned (gpointer p)
{
  free (p);
}

double
fw_now (void)
{
  return (double) g_get_monotonic_time () / 1e6;
}
