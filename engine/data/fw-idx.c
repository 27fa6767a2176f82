/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-idx.c: IDX image/label files (raw or gzip) and the file helpers the loaders share. */
#include "fw-idx.h"

#include <string.h>

#include "fw-error.h"

gboolean
fw_data_cancelled (GCancellable *cancellable, GError **error)
{
  if (cancellable != NULL && g_cancellable_is_cancelled (cancellable))
    {
      g_set_error_literal (error, FW_ERROR, FW_ERROR_CANCELLED,
                           "Loading the dataset was cancelled");
      return TRUE;
    }
  return FALSE;
}

void
fw_data_set_class_names (FwDataset *ds, const char *const *names)
{
  g_strfreev (ds->class_names);
  ds->class_names = g_new0 (char *, ds->n_classes + 1);
  for (int i = 0; i < ds->n_classes; i++)
    ds->class_names[i] = g_strdup (names[i]);
}

/* Turns a GIO error met while reading path into an FW_ERROR that names the file. */
static void
set_read_error (GError **error, const char *path, GError *gio, gboolean gzip)
{
  if (g_error_matches (gio, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_set_error_literal (error, FW_ERROR, FW_ERROR_CANCELLED, "Loading the dataset was cancelled");
  else if (g_error_matches (gio, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    g_set_error (error, FW_ERROR, FW_ERROR_NOT_FOUND, "%s: no such file", path);
  else if (gzip && g_error_matches (gio, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT))
    g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                 "%s: truncated gzip file (the compressed stream ends early): download it again",
                 path);
  else if (gzip && gio->domain == G_IO_ERROR)
    g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                 "%s: corrupt gzip data (%s): download it again", path, gio->message);
  else
    g_set_error (error, FW_ERROR, FW_ERROR_IO, "%s: %s", path, gio->message);
}

GBytes *
fw_read_file_maybe_gzip (const char *path, GCancellable *cancellable, GError **error)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GError) gio = NULL;
  g_autoptr (GFileInputStream) fin = g_file_read (file, cancellable, &gio);
  if (fin == NULL)
    {
      set_read_error (error, path, gio, FALSE);
      return NULL;
    }

  /* peek at the first two bytes through a buffered stream, then decide */
  g_autoptr (GInputStream) buffered = g_buffered_input_stream_new (G_INPUT_STREAM (fin));
  if (g_buffered_input_stream_fill (G_BUFFERED_INPUT_STREAM (buffered), 2, cancellable, &gio) < 0)
    {
      set_read_error (error, path, gio, FALSE);
      return NULL;
    }
  gsize avail = 0;
  const guint8 *head = g_buffered_input_stream_peek_buffer (G_BUFFERED_INPUT_STREAM (buffered),
                                                            &avail);
  gboolean gzip = avail >= 2 && head[0] == 0x1f && head[1] == 0x8b;

  g_autoptr (GInputStream) in = NULL;
  if (gzip)
    {
      g_autoptr (GZlibDecompressor) dec = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
      in = g_converter_input_stream_new (buffered, G_CONVERTER (dec));
    }
  else
    in = g_object_ref (buffered);

  g_autoptr (GByteArray) out = g_byte_array_sized_new (1 << 20);
  const gsize chunk = 1 << 18;
  for (;;)
    {
      gsize len = out->len;
      g_byte_array_set_size (out, len + chunk);
      /* the cancellable is checked by GIO on every chunk */
      gssize r = g_input_stream_read (in, out->data + len, chunk, cancellable, &gio);
      if (r < 0)
        {
          set_read_error (error, path, gio, gzip);
          return NULL;
        }
      g_byte_array_set_size (out, len + (gsize) r);
      if (r == 0)
        break;
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static guint32
be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

/* Checks an IDX header of the expected rank (3 images, 1 labels) and the data size.
 * dims[rank] receives the sizes; *data points at the first value. */
static gboolean
parse_idx (GBytes *bytes, const char *path, int rank, guint32 *dims, const guint8 **data,
           GError **error)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (bytes, &len);
  const char *what = rank == 3 ? "images" : "labels";
  guint32 want = 0x800 | (guint32) rank;
  if (len < 4)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                   "%s: not an IDX file (only %" G_GSIZE_FORMAT " bytes)", path, len);
      return FALSE;
    }
  guint32 magic = be32 (p);
  if (magic != want)
    {
      if ((magic & 0xffffff00u) == 0x800 && (magic & 0xff) != (guint32) rank)
        g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                     "%s: an IDX file of rank %u where %s need rank %d (magic 0x%08x, expected "
                     "0x%08x): are the image and label files swapped?",
                     path, magic & 0xff, what, rank, magic, want);
      else if ((magic & 0xffff0000u) == 0 && (magic & 0xff) == (guint32) rank)
        g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                     "%s: IDX value type 0x%02x is not supported, only unsigned bytes (0x08)",
                     path, (magic >> 8) & 0xff);
      else
        g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                     "%s: not an IDX %s file (wrong magic 0x%08x, expected 0x%08x)", path, what,
                     magic, want);
      return FALSE;
    }
  gsize header = 4 + 4 * (gsize) rank;
  if (len < header)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                   "%s: truncated IDX header (%" G_GSIZE_FORMAT " bytes)", path, len);
      return FALSE;
    }
  guint64 count = 1;
  for (int i = 0; i < rank; i++)
    {
      dims[i] = be32 (p + 4 + 4 * i);
      /* at most 100 million samples, images at most 4096 x 4096 */
      guint32 limit = i == 0 ? 100000000u : 4096u;
      if (dims[i] == 0 || dims[i] > limit)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                       "%s: implausible IDX size %u in dimension %d (expected 1..%u)", path,
                       dims[i], i, limit);
          return FALSE;
        }
      count *= dims[i];
    }
  if (len - header < count)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                   "%s: truncated IDX file: the header announces %" G_GUINT64_FORMAT
                   " values but only %" G_GSIZE_FORMAT " bytes follow",
                   path, count, len - header);
      return FALSE;
    }
  if (len - header > count)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                   "%s: %" G_GUINT64_FORMAT " unexpected bytes after the IDX data", path,
                   (guint64) (len - header - count));
      return FALSE;
    }
  *data = p + header;
  return TRUE;
}

/* Replaces every occurrence of from by to in s. */
static char *
replace_all (const char *s, const char *from, const char *to)
{
  g_auto (GStrv) parts = g_strsplit (s, from, -1);
  return g_strjoinv (to, parts);
}

static char *
guess_labels_path (const char *images, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (images);
  g_autofree char *base = g_path_get_basename (images);
  if (strstr (base, "images") == NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "%s: cannot guess the label file (no \"images\" in the name): use "
                   "idx:IMAGES:LABELS", images);
      return NULL;
    }
  g_autofree char *b1 = replace_all (base, "images", "labels");
  g_autofree char *b2 = replace_all (b1, "idx3", "idx1");
  g_autofree char *p2 = g_build_filename (dir, b2, NULL);
  if (g_file_test (p2, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&p2);
  g_autofree char *p1 = g_build_filename (dir, b1, NULL);
  if (g_file_test (p1, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&p1);
  g_set_error (error, FW_ERROR, FW_ERROR_NOT_FOUND,
               "%s: no label file next to it (looked for %s): use idx:IMAGES:LABELS", images, p2);
  return NULL;
}

FwDataset *
fw_idx_load (const char *images, const char *labels, GCancellable *cancellable, GError **error)
{
  g_autofree char *labels_path = NULL;
  if (labels != NULL && *labels != '\0')
    labels_path = g_strdup (labels);
  else if ((labels_path = guess_labels_path (images, error)) == NULL)
    return NULL;

  g_autoptr (GBytes) ib = fw_read_file_maybe_gzip (images, cancellable, error);
  if (ib == NULL)
    return NULL;
  g_autoptr (GBytes) lb = fw_read_file_maybe_gzip (labels_path, cancellable, error);
  if (lb == NULL)
    return NULL;

  guint32 idims[3], ldims[1];
  const guint8 *ip = NULL, *lp = NULL;
  if (!parse_idx (ib, images, 3, idims, &ip, error) ||
      !parse_idx (lb, labels_path, 1, ldims, &lp, error))
    return NULL;
  if (idims[0] != ldims[0])
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                   "%s has %u images but %s has %u labels: these files do not belong together",
                   images, idims[0], labels_path, ldims[0]);
      return NULL;
    }

  int n = (int) idims[0];
  int maxl = 0;
  for (int i = 0; i < n; i++)
    maxl = MAX (maxl, lp[i]);

  FwShape shape = { 1, (int) idims[1], (int) idims[2] };
  g_autofree char *base = g_path_get_basename (images);
  g_autoptr (FwDataset) ds = fw_dataset_new (base, n, shape, maxl + 1);
  ds->source = g_strdup (images);
  gsize sz = fw_shape_size (shape);
  const float inv = 1.0f / 255.0f;
  for (int i = 0; i < n; i++)
    {
      if ((i & 4095) == 0 && fw_data_cancelled (cancellable, error))
        return NULL;
      const guint8 *src = ip + (gsize) i * sz;
      float *dst = ds->x + (gsize) i * sz;
      for (gsize j = 0; j < sz; j++)
        dst[j] = src[j] * inv;
      ds->y[i] = lp[i];
    }
  return g_steal_pointer (&ds);
}
