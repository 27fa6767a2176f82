/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-image-folder.c: a folder of images, one sub-folder per class, read with gdk-pixbuf. */
#include "fw-dataset.h"

#include <gdk-pixbuf/gdk-pixbuf.h>

#include "fw-error.h"
#include "fw-idx.h"

#define MAX_SIDE 64

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

/* Sorted names of the entries of dir that are (want_dirs) folders or (!want_dirs) files,
 * hidden ones excepted. */
static GPtrArray *
list_entries (const char *dir, gboolean want_dirs, GError **error)
{
  g_autoptr (GError) ge = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &ge);
  if (d == NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_NOT_FOUND, "%s: cannot open the folder (%s)", dir,
                   ge->message);
      return NULL;
    }
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (name[0] == '.')
        continue;
      g_autofree char *full = g_build_filename (dir, name, NULL);
      if (g_file_test (full, G_FILE_TEST_IS_DIR) == want_dirs)
        g_ptr_array_add (names, g_strdup (name));
    }
  g_ptr_array_sort (names, cmp_str);
  return names;
}

static gboolean
pixbuf_has_colour (GdkPixbuf *pb)
{
  int nch = gdk_pixbuf_get_n_channels (pb);
  if (nch < 3)
    return FALSE;
  int w = gdk_pixbuf_get_width (pb), h = gdk_pixbuf_get_height (pb);
  int stride = gdk_pixbuf_get_rowstride (pb);
  const guint8 *px = gdk_pixbuf_read_pixels (pb);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        const guint8 *p = px + (gsize) y * stride + (gsize) x * nch;
        if (p[0] != p[1] || p[1] != p[2])
          return TRUE;
      }
  return FALSE;
}

FwDataset *
fw_dataset_load_folder (const char *path, GCancellable *cancellable, GError **error)
{
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_NOT_FOUND,
                   "%s: no such folder (an image dataset is a folder with one sub-folder of "
                   "images per class)", path);
      return NULL;
    }
  g_autoptr (GPtrArray) classes = list_entries (path, TRUE, error);
  if (classes == NULL)
    return NULL;
  if (classes->len == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "%s: no class sub-folders: put the images of each class in a sub-folder "
                   "named after the class", path);
      return NULL;
    }

  g_autoptr (GPtrArray) images = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GArray) labels = g_array_new (FALSE, FALSE, sizeof (gint32));
  int tw = 0, th = 0;
  gboolean colour = FALSE;
  for (guint c = 0; c < classes->len; c++)
    {
      g_autofree char *cdir = g_build_filename (path, classes->pdata[c], NULL);
      g_autoptr (GPtrArray) files = list_entries (cdir, FALSE, error);
      if (files == NULL)
        return NULL;
      for (guint f = 0; f < files->len; f++)
        {
          if (fw_data_cancelled (cancellable, error))
            return NULL;
          g_autofree char *file = g_build_filename (cdir, files->pdata[f], NULL);
          g_autoptr (GError) pe = NULL;
          g_autoptr (GdkPixbuf) raw = gdk_pixbuf_new_from_file (file, &pe);
          if (raw == NULL)
            {
              g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                           "%s: not an image that can be read (%s): remove it from the class "
                           "folder", file, pe->message);
              return NULL;
            }
          g_autoptr (GdkPixbuf) pb = gdk_pixbuf_apply_embedded_orientation (raw);
          int w = gdk_pixbuf_get_width (pb), h = gdk_pixbuf_get_height (pb);
          if (tw == 0)
            {
              /* the common size: the first image's, scaled down to fit MAX_SIDE */
              double k = MIN (1.0, (double) MAX_SIDE / MAX (w, h));
              tw = MAX (1, (int) (w * k + 0.5));
              th = MAX (1, (int) (h * k + 0.5));
            }
          if (w != tw || h != th)
            {
              GdkPixbuf *s = gdk_pixbuf_scale_simple (pb, tw, th, GDK_INTERP_BILINEAR);
              g_object_unref (pb);
              pb = s;
            }
          colour = colour || pixbuf_has_colour (pb);
          g_ptr_array_add (images, g_steal_pointer (&pb));
          gint32 y = (gint32) c;
          g_array_append_val (labels, y);
        }
    }
  if (images->len == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "%s: the class sub-folders hold no images", path);
      return NULL;
    }

  int nc = colour ? 3 : 1;
  FwShape shape = { nc, th, tw };
  g_autofree char *base = g_path_get_basename (path);
  g_autoptr (FwDataset) ds = fw_dataset_new (base, (int) images->len, shape, (int) classes->len);
  ds->source = g_strdup (path);
  g_ptr_array_add (classes, NULL);
  fw_data_set_class_names (ds, (const char *const *) classes->pdata);
  gsize plane = (gsize) tw * th;
  for (guint i = 0; i < images->len; i++)
    {
      GdkPixbuf *pb = images->pdata[i];
      int nch = gdk_pixbuf_get_n_channels (pb);
      gboolean alpha = gdk_pixbuf_get_has_alpha (pb);
      int ncol = alpha ? nch - 1 : nch;
      int stride = gdk_pixbuf_get_rowstride (pb);
      const guint8 *px = gdk_pixbuf_read_pixels (pb);
      float *x = ds->x + (gsize) i * nc * plane;
      for (int yy = 0; yy < th; yy++)
        for (int xx = 0; xx < tw; xx++)
          {
            const guint8 *p = px + (gsize) yy * stride + (gsize) xx * nch;
            /* composited over black: value * alpha */
            float a = alpha ? p[nch - 1] / 255.0f : 1.0f;
            if (nc == 3)
              for (int k = 0; k < 3; k++)
                x[k * plane + yy * tw + xx] = p[MIN (k, ncol - 1)] / 255.0f * a;
            else
              {
                int s = 0;
                for (int k = 0; k < ncol; k++)
                  s += p[k];
                x[yy * tw + xx] = (float) (s / (255.0 * ncol)) * a;
              }
          }
      ds->y[i] = g_array_index (labels, gint32, i);
    }
  return g_steal_pointer (&ds);
}
