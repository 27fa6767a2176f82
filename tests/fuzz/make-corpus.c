/* SPDX-License-Identifier: GPL-3.0-or-later */
/* make-corpus: writes the seed corpora of the fuzz targets, small valid files made by the
 * engine itself: make-corpus OUTDIR SRCROOT -> OUTDIR/<target>/<seed files>.
 * Recipes are the project's own the .ini files of resources/recipes. */
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "fw-cluster.h"
#include "fw-prune.h"
#include "fw-quant.h"
#include "fw-safetensors.h"
#include "fw-session.h"

static void
put (const char *dir, const char *target, const char *name, const void *data, gsize len)
{
  g_autofree char *d = g_build_filename (dir, target, NULL);
  g_autofree char *p = g_build_filename (d, name, NULL);
  g_autoptr(GError) err = NULL;
  g_mkdir_with_parents (d, 0755);
  if (!g_file_set_contents (p, data, (gssize) len, &err))
    g_error ("%s", err->message);
}

static GBytes *
gzip (const guint8 *data, gsize len)
{
  g_autoptr(GZlibCompressor) z = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 9);
  gsize cap = len + 1024, in_read, out_written;
  guint8 *out = g_malloc (cap);
  g_autoptr(GError) err = NULL;
  if (g_converter_convert (G_CONVERTER (z), data, len, out, cap, G_CONVERTER_INPUT_AT_END,
                           &in_read, &out_written, &err) != G_CONVERTER_FINISHED)
    g_error ("gzip: %s", err ? err->message : "not finished");
  return g_bytes_new_take (out, out_written);
}

/* The idx fuzzer's input: byte 0 splits it into images and labels. */
static void
idx_seed (const char *dir, const char *name, int n, int rows, int cols, gboolean gz)
{
  GByteArray *img = g_byte_array_new (), *lab = g_byte_array_new ();
  guint8 h[16] = { 0, 0, 8, 3, 0, 0, 0, (guint8) n, 0, 0, 0, (guint8) rows, 0, 0, 0, (guint8) cols };
  g_byte_array_append (img, h, 16);
  for (int i = 0; i < n * rows * cols; i++)
    {
      guint8 v = (guint8) (i * 37);
      g_byte_array_append (img, &v, 1);
    }
  guint8 hl[8] = { 0, 0, 8, 1, 0, 0, 0, (guint8) n };
  g_byte_array_append (lab, hl, 8);
  for (int i = 0; i < n; i++)
    {
      guint8 v = (guint8) (i % 3);
      g_byte_array_append (lab, &v, 1);
    }
  g_autoptr(GBytes) gi = gz ? gzip (img->data, img->len) : g_bytes_new (img->data, img->len);
  g_autoptr(GBytes) gl = gz ? gzip (lab->data, lab->len) : g_bytes_new (lab->data, lab->len);
  gsize ni, nl;
  const guint8 *pi = g_bytes_get_data (gi, &ni), *pl = g_bytes_get_data (gl, &nl);
  /* cut = byte0 * (size-1) / 256 must equal ni: choose byte0 so that it does (pad labels) */
  gsize total = ni + nl;
  int b0 = (int) ((ni * 256 + total - 1) / total);
  while (b0 < 256 && (gsize) b0 * total / 256 < ni)
    b0++;
  while (b0 > 0 && (gsize) b0 * total / 256 > ni)
    b0--;
  GByteArray *out = g_byte_array_new ();
  guint8 c = (guint8) b0;
  g_byte_array_append (out, &c, 1);
  g_byte_array_append (out, pi, ni);
  g_byte_array_append (out, pl, nl);
  put (dir, "idx", name, out->data, out->len);
  g_byte_array_unref (out);
  g_byte_array_unref (img);
  g_byte_array_unref (lab);
}

static void
model_seed (const char *dir, const char *name, FwModel *m)
{
  g_autofree char *tmp = g_build_filename (dir, "tmp.safetensors", NULL);
  g_autoptr(GError) err = NULL;
  if (!fw_model_save (m, tmp, NULL, &err))
    g_error ("%s: %s", name, err->message);
  g_autofree char *data = NULL;
  gsize len;
  g_file_get_contents (tmp, &data, &len, NULL);
  put (dir, "safetensors", name, data, len);
  g_unlink (tmp);
}

static FwModel *
new_model (const char *spec, FwShape in, int k)
{
  g_autoptr(GError) err = NULL;
  FwModel *m = fw_model_new ("custom", spec, in, &err);
  if (!m)
    g_error ("%s: %s", spec, err->message);
  fw_model_init (m, 7);
  static const char *const names[] = { "a", "b", "c", "d", NULL };
  if (k <= 4)
    {
      g_strfreev (m->class_names);
      m->class_names = g_new0 (char *, k + 1);
      for (int i = 0; i < k; i++)
        m->class_names[i] = g_strdup (names[i]);
    }
  return m;
}

static void
image_seed (const char *dir, GdkPixbuf *pb, const char *type, const char *name)
{
  g_autofree char *buf = NULL;
  gsize len;
  g_autoptr(GError) err = NULL;
  if (!gdk_pixbuf_save_to_buffer (pb, &buf, &len, type, &err, NULL))
    {
      g_printerr ("skipping %s seed: %s\n", type, err->message);
      return;
    }
  put (dir, "image", name, buf, len);
}

int
main (int argc, char **argv)
{
  if (argc != 3)
    {
      g_printerr ("usage: make-corpus OUTDIR SRCROOT\n");
      return 2;
    }
  const char *out = argv[1], *src = argv[2];
  g_autoptr(GError) err = NULL;

  /* IDX */
  idx_seed (out, "raw-3x4x4", 3, 4, 4, FALSE);
  idx_seed (out, "raw-2x2x3", 2, 2, 3, FALSE);
  idx_seed (out, "gz-3x4x4", 3, 4, 4, TRUE);

  /* CSV */
  static const char *const csv[] = {
    "1.5,2,0\n3,4.25,1\n-1,0,2\n",
    "x;y;label\n0.1;0.2;cat\n0.3;0.4;dog\n# comment\n\n0.5;0.6;cat\n",
    "a\tb\tc\tclass\n1\t2\t3\t0\n4\t5\t6\t1\n",
    "1e3,-2.5e-1,NaN,0\n2,3,4,1\n",
  };
  for (guint i = 0; i < G_N_ELEMENTS (csv); i++)
    {
      g_autofree char *n = g_strdup_printf ("seed-%u.csv", i);
      put (out, "csv", n, csv[i], strlen (csv[i]));
    }

  /* images: grey and colour, several formats gdk-pixbuf writes */
  GdkPixbuf *rgb = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 5, 3);
  GdkPixbuf *rgba = gdk_pixbuf_new (GDK_COLORSPACE_RGB, TRUE, 8, 4, 4);
  gdk_pixbuf_fill (rgb, 0x8040c0ff);
  gdk_pixbuf_fill (rgba, 0x20a0e080);
  image_seed (out, rgb, "png", "rgb.png");
  image_seed (out, rgba, "png", "rgba.png");
  image_seed (out, rgb, "jpeg", "rgb.jpg");
  image_seed (out, rgb, "bmp", "rgb.bmp");
  image_seed (out, rgba, "ico", "rgba.ico");
  image_seed (out, rgb, "tiff", "rgb.tiff");
  g_object_unref (rgb);
  g_object_unref (rgba);

  /* safetensors: plain, conv, packed layer kinds */
  g_autoptr(FwModel) mlp = new_model ("flatten,dense:6,relu,dense:3", (FwShape) { 1, 3, 3 }, 3);
  mlp->in_mean = 0.25f;
  mlp->in_std = 0.5f;
  model_seed (out, "mlp.safetensors", mlp);
  g_autoptr(FwModel) cnn = new_model ("conv:2:3,bn,relu,maxpool:2,flatten,dense:4",
                                      (FwShape) { 1, 6, 6 }, 4);
  model_seed (out, "cnn.safetensors", cnn);
  g_autoptr(FwModel) f16 = fw_quant_model_f16 (mlp, &err);
  if (f16)
    model_seed (out, "f16.safetensors", f16);
  g_clear_error (&err);
  float calib[2 * 9];
  for (int i = 0; i < 18; i++)
    calib[i] = (float) i / 18.0f;
  g_autoptr(FwModel) i8 = fw_quant_model_int8 (mlp, calib, 2, TRUE, TRUE, &err);
  if (i8)
    model_seed (out, "int8.safetensors", i8);
  g_clear_error (&err);
  g_autoptr(FwModel) sp = fw_model_copy (mlp);
  for (gsize i = 0; i < sp->n_params; i += 2)
    sp->params[i] = 0;
  g_autoptr(FwModel) sparse = fw_prune_sparsify (sp, 0.3, &err);
  if (sparse)
    model_seed (out, "sparse.safetensors", sparse);
  g_clear_error (&err);
  g_autoptr(FwModel) cl = fw_model_copy (mlp);
  for (gsize i = 0; i < cl->n_params; i++)
    cl->params[i] = (float) (i % 3) * 0.5f;
  g_autoptr(FwModel) clu = fw_cluster_model_pack (cl, 4, &err);
  if (clu)
    model_seed (out, "cluster.safetensors", clu);
  g_clear_error (&err);

  /* recipes: the project's own */
  g_autofree char *rdir = g_build_filename (src, "resources", "recipes", NULL);
  g_autoptr(GDir) d = g_dir_open (rdir, 0, &err);
  const char *e;
  while (d && (e = g_dir_read_name (d)))
    if (g_str_has_suffix (e, ".ini"))
      {
        g_autofree char *p = g_build_filename (rdir, e, NULL);
        g_autofree char *t = NULL;
        gsize len;
        if (g_file_get_contents (p, &t, &len, NULL))
          put (out, "recipe", e, t, len);
      }

  /* sessions */
  FwSession *s = fw_session_new ();
  s->page = g_strdup ("lecture");
  s->dataset = g_strdup ("sim:300");
  fw_session_add_model (s, "mlp", mlp, 0.75, NULL, "runs/x");
  g_autoptr(GBytes) sb = fw_session_to_bytes (s, &err);
  if (!sb)
    g_error ("session: %s", err->message);
  put (out, "session", "one-model.fwsession", g_bytes_get_data (sb, NULL), g_bytes_get_size (sb));
  FwSession *empty = fw_session_new ();
  g_autoptr(GBytes) eb = fw_session_to_bytes (empty, &err);
  if (eb)
    put (out, "session", "empty.fwsession", g_bytes_get_data (eb, NULL), g_bytes_get_size (eb));
  fw_session_free (s);
  fw_session_free (empty);
  return 0;
}
