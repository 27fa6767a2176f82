/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal-augment.c: `frugal augment`: a PNG grid of augmented samples of a dataset, and the
 * pipeline's cost per image. */
#include <cairo.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frugal-cli.h"
#include "fw-augment.h"
#include "fw-dataset.h"
#include "fw-util.h"

/* Draws n images (c x h x w, [0, 1]) as a grid of cols columns, each pixel zoom x zoom,
 * 2 px gaps, into a PNG at path (through a temporary file renamed over it). */
static gboolean
write_grid (const char *path, const float *imgs, int n, int c, int h, int w, int cols, int zoom,
            GError **error)
{
  int rows = (n + cols - 1) / cols, gap = 2;
  int W = cols * (w * zoom + gap) + gap, H = rows * (h * zoom + gap) + gap;
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, W, H);
  if (cairo_surface_status (s) != CAIRO_STATUS_SUCCESS)
    {
      cairo_surface_destroy (s);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "cannot make a %dx%d image", W, H);
      return FALSE;
    }
  cairo_surface_flush (s);
  guint8 *data = cairo_image_surface_get_data (s);
  int stride = cairo_image_surface_get_stride (s);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      *(guint32 *) (data + (gsize) y * stride + 4 * x) = 0x404040; /* the gaps */
  gsize plane = (gsize) h * w;
  for (int i = 0; i < n; i++)
    {
      const float *img = imgs + (gsize) i * c * plane;
      int ox = gap + (i % cols) * (w * zoom + gap), oy = gap + (i / cols) * (h * zoom + gap);
      for (int y = 0; y < h * zoom; y++)
        for (int x = 0; x < w * zoom; x++)
          {
            gsize o = (gsize) (y / zoom) * w + x / zoom;
            guint32 px = 0;
            for (int ch = 0; ch < 3; ch++)
              {
                float v = img[(c == 3 ? ch : 0) * plane + o];
                guint32 b = (guint32) lrintf (255.f * CLAMP (v, 0.f, 1.f));
                px |= b << (8 * (2 - ch));
              }
            *(guint32 *) (data + (gsize) (oy + y) * stride + 4 * (ox + x)) = px;
          }
    }
  cairo_surface_mark_dirty (s);
  g_autofree char *tmp = g_strdup_printf ("%s.tmp-%d", path, (int) getpid ());
  cairo_status_t st = cairo_surface_write_to_png (s, tmp);
  cairo_surface_destroy (s);
  if (st != CAIRO_STATUS_SUCCESS || g_rename (tmp, path) != 0)
    {
      g_unlink (tmp);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot write %s: %s", path,
                   st != CAIRO_STATUS_SUCCESS ? cairo_status_to_string (st)
                                              : g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

int
frugal_cmd_augment (int argc, char **argv)
{
  g_autofree char *data = NULL, *pipeline = NULL, *out = NULL;
  int n = 16, index = -1, zoom = 3, cols = 0;
  gint64 seed = 1;
  gboolean timing = FALSE;
  GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_STRING, &data, "Dataset spec (default sim:200)", "SPEC" },
    { "pipeline", 'p', 0, G_OPTION_ARG_STRING, &pipeline,
      "Augmentation pipeline, e.g. 'rotate:deg=15;translate:px=2;cutmix:p=0.5'", "TEXT" },
    { "n", 'n', 0, G_OPTION_ARG_INT, &n, "Number of augmented images (default 16)", "N" },
    { "index", 'i', 0, G_OPTION_ARG_INT, &index,
      "Augment this one sample N times (default: N different samples)", "I" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Random seed (default 1)", "S" },
    { "zoom", 0, 0, G_OPTION_ARG_INT, &zoom, "Pixels per image pixel (default 3)", "Z" },
    { "cols", 0, 0, G_OPTION_ARG_INT, &cols, "Grid columns (default: about square)", "C" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Output PNG", "FILE" },
    { "time", 't', 0, G_OPTION_ARG_NONE, &timing,
      "Also time the per-sample pipeline (microseconds per image)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- a grid of augmented samples");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
    "Writes a PNG grid: the first row's first image is the original when --index is given.\n"
    "Operations and their keys: see docs/recipes.md ([data] augment).\n"
    "Example: frugal augment --data digits --pipeline 'rotate:deg=20;elastic' --out a.png");
  if (!frugal_parse_options (ctx, "augment", &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (argc > 1)
    return frugal_usage_error ("augment", "unexpected argument '%s'", argv[1]);
  if (pipeline == NULL)
    return frugal_usage_error ("augment", "--pipeline is required");
  if (out == NULL && !timing)
    return frugal_usage_error ("augment", "--out FILE.png is required (or --time)");
  if (n < 1 || n > 1024 || zoom < 1 || zoom > 32 || cols < 0)
    return frugal_usage_error ("augment", "--n must be in [1, 1024], --zoom in [1, 32]");

  g_autoptr (GError) error = NULL;
  g_autoptr (FwAugPipeline) p = fw_aug_pipeline_parse (pipeline, &error);
  if (p == NULL)
    return frugal_fail (error);
  g_autoptr (FwDataset) ds = fw_dataset_load (data != NULL ? data : "sim:200", (guint64) seed,
                                              NULL, &error);
  if (ds == NULL)
    return frugal_fail (error);
  const int c = ds->shape.c, h = ds->shape.h, w = ds->shape.w;
  if (!fw_aug_pipeline_check (p, c, &error))
    return frugal_fail (error);
  if (index >= ds->n)
    return frugal_failf ("--index %d: the dataset '%s' has %d samples", index, ds->name, ds->n);

  const gsize size = (gsize) c * h * w;
  const gboolean one = index >= 0;
  const int total = n + (one ? 1 : 0);
  g_autofree float *imgs = g_new (float, (gsize) total * size);
  g_autofree gint32 *labels = g_new (gint32, total);
  for (int i = 0; i < total; i++)
    {
      int j = one ? index : (int) ((gint64) i * ds->n / n);
      memcpy (imgs + (gsize) i * size, ds->x + (gsize) j * size, sizeof (float) * size);
      labels[i] = ds->y[j];
    }
  FwRng root, rng;
  fw_rng_init (&root, (guint64) seed);
  fw_rng_split (&root, FW_RNG_AUGMENT, &rng);
  g_autofree float *scratch = g_new (float, fw_aug_scratch_floats (c, h, w));
  float *aug = imgs + (one ? size : 0);
  for (int i = 0; i < n; i++)
    fw_aug_apply (p, aug + (gsize) i * size, c, h, w, &rng, scratch, NULL);
  if (fw_aug_pipeline_has_batch_ops (p))
    {
      g_autofree float *soft = g_new (float, (gsize) n * ds->n_classes);
      fw_aug_apply_batch (p, aug, labels + (one ? 1 : 0), n, c, h, w, ds->n_classes, &rng,
                          NULL, soft);
      for (int i = 0; i < MIN (n, 8); i++)
        {
          g_autoptr (GString) line = g_string_new (NULL);
          for (int k = 0; k < ds->n_classes; k++)
            if (soft[(gsize) i * ds->n_classes + k] > 0)
              g_string_append_printf (line, " %s %.3f", ds->class_names != NULL
                                                          ? ds->class_names[k] : "?",
                                      soft[(gsize) i * ds->n_classes + k]);
          printf ("image %d label weights:%s\n", i + 1, line->str);
        }
    }
  if (out != NULL)
    {
      int cc = cols > 0 ? cols : (int) ceil (sqrt (total));
      if (!write_grid (out, imgs, total, c, h, w, cc, zoom, &error))
        return frugal_fail (error);
      g_autofree char *text = fw_aug_pipeline_to_string (p);
      printf ("%s: %d augmented %s of %s (%dx%dx%d), pipeline '%s'\n", out, n,
              one ? "versions of one sample" : "samples", ds->name, c, h, w, text);
    }
  if (timing)
    {
      int reps = MAX (2000, 20 * n);
      g_autofree float *img = g_new (float, size);
      double best = INFINITY;
      for (int round = 0; round < 5; round++)
        {
          double t0 = fw_now ();
          for (int r = 0; r < reps; r++)
            {
              memcpy (img, ds->x + (gsize) (r % ds->n) * size, sizeof (float) * size);
              fw_aug_apply (p, img, c, h, w, &rng, scratch, NULL);
            }
          best = MIN (best, (fw_now () - t0) / reps);
        }
      printf ("per-sample pipeline: %.2f us per %dx%dx%d image (best of 5 rounds of %d, "
              "copy included)\n", best * 1e6, c, h, w, reps);
    }
  return FRUGAL_EXIT_OK;
}
