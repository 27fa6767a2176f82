/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-digits.c: the 5000 handwritten digits of opencv-doc's digits.png (20x20 tiles). */
#include "fw-dataset.h"

#include <gdk-pixbuf/gdk-pixbuf.h>

#include "fw-error.h"
#include "fw-idx.h"

#define DIGITS_SYSTEM_DIR "/usr/share/doc/opencv-doc/examples/data"
#define TILE 20
#define COLS 100
#define ROWS 50
#define ROWS_PER_CLASS 5
#define TRAIN_ROWS 4 /* of each class's 5 rows: 4 train (400 tiles), 1 test (100) */

char *
fw_dataset_find_digits (void)
{
  const char *dir = g_getenv ("FW_DATA_DIR");
  if (dir != NULL && *dir != '\0')
    {
      g_autofree char *p = g_build_filename (dir, "digits.png", NULL);
      if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&p);
    }
  g_autofree char *p = g_build_filename (DIGITS_SYSTEM_DIR, "digits.png", NULL);
  if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&p);
  return NULL;
}

FwDataset *
fw_dataset_load_digits (gboolean test, GCancellable *cancellable, GError **error)
{
  g_autofree char *path = fw_dataset_find_digits ();
  if (path == NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_NOT_FOUND,
                   "Handwritten digits (digits.png) not found in " DIGITS_SYSTEM_DIR
                   "%s%s: apt-get install opencv-doc, or extract just that file (apt-get "
                   "download opencv-doc; dpkg-deb --fsys-tarfile opencv-doc_*.deb | tar -x "
                   "./usr/share/doc/opencv-doc/examples/data/digits.png) and set FW_DATA_DIR "
                   "to its folder",
                   g_getenv ("FW_DATA_DIR") ? " nor in FW_DATA_DIR=" : "",
                   g_getenv ("FW_DATA_DIR") ? g_getenv ("FW_DATA_DIR") : "");
      return NULL;
    }
  if (fw_data_cancelled (cancellable, error))
    return NULL;
  g_autoptr (GError) pe = NULL;
  g_autoptr (GdkPixbuf) pb = gdk_pixbuf_new_from_file (path, &pe);
  if (pb == NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "%s: cannot read the image (%s)", path,
                   pe->message);
      return NULL;
    }
  int W = gdk_pixbuf_get_width (pb), H = gdk_pixbuf_get_height (pb);
  if (W != COLS * TILE || H != ROWS * TILE)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                   "%s: a %dx%d image where the digits grid is %dx%d (100 x 50 tiles of 20x20)",
                   path, W, H, COLS * TILE, ROWS * TILE);
      return NULL;
    }
  int nch = gdk_pixbuf_get_n_channels (pb);
  int stride = gdk_pixbuf_get_rowstride (pb);
  const guint8 *px = gdk_pixbuf_read_pixels (pb);
  /* grey level = mean of the colour channels (the file is grey: they are equal) */
  int ncol = nch >= 3 ? 3 : 1;

  int rows_per_class = test ? ROWS_PER_CLASS - TRAIN_ROWS : TRAIN_ROWS;
  int n = 10 * rows_per_class * COLS;
  FwShape shape = { 1, TILE, TILE };
  g_autoptr (FwDataset) ds = fw_dataset_new (test ? "Handwritten digits (test)"
                                                  : "Handwritten digits (train)",
                                             n, shape, 10);
  ds->source = g_strdup (path);
  int i = 0;
  for (int c = 0; c < 10; c++)
    {
      if (fw_data_cancelled (cancellable, error))
        return NULL;
      for (int rr = 0; rr < rows_per_class; rr++)
        {
          int row = c * ROWS_PER_CLASS + (test ? TRAIN_ROWS : 0) + rr;
          for (int col = 0; col < COLS; col++, i++)
            {
              float *x = ds->x + (gsize) i * TILE * TILE;
              for (int y = 0; y < TILE; y++)
                {
                  const guint8 *line = px + (gsize) (row * TILE + y) * stride;
                  for (int xx = 0; xx < TILE; xx++)
                    {
                      const guint8 *p = line + (gsize) (col * TILE + xx) * nch;
                      int s = 0;
                      for (int k = 0; k < ncol; k++)
                        s += p[k];
                      x[y * TILE + xx] = (float) (s / (255.0 * ncol));
                    }
                }
              ds->y[i] = c;
            }
        }
    }
  return g_steal_pointer (&ds);
}
