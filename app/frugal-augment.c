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
#include "fw-aug-sweep.h"
#include "fw-augment.h"
#include "fw-dataset.h"
#include "fw-gemm.h"
#include "fw-train.h"
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

/* ---- frugal augment-sweep: what augmentation buys at small data ----
 *
 * Test accuracy against labels per class for a few pipelines, several seeds each: one CSV row
 * per run (pipeline, per_class, seed, test_acc), then a mean and standard deviation per point.
 * The same data, model and seed are used by every pipeline at a point, so the differences are
 * the augmentation's. */

typedef struct {
  double sum[FW_AUG_SWEEP_N_PIPELINES], sum2[FW_AUG_SWEEP_N_PIPELINES];
  int count[FW_AUG_SWEEP_N_PIPELINES];
  int seeds;
} SweepPrint;

static void
sweep_point (const FwAugSweepPoint *pt, gpointer user)
{
  SweepPrint *sp = user;
  printf ("%s,%d,%d,%.4f,%.2f\n", fw_aug_sweep_name (pt->pipeline), pt->per_class, pt->seed,
          pt->test_acc, pt->seconds);
  int i = pt->pipeline;
  sp->sum[i] += pt->test_acc;
  sp->sum2[i] += pt->test_acc * pt->test_acc;
  if (++sp->count[i] == sp->seeds)
    {
      int n = sp->count[i];
      double mean = sp->sum[i] / n;
      double sd = n > 1 ? sqrt (MAX (sp->sum2[i] / n - mean * mean, 0) * n / (n - 1)) : 0;
      printf ("# %s per_class=%d: %.1f%% +- %.1f%%\n", fw_aug_sweep_name (i), pt->per_class,
              100 * mean, 100 * sd);
      sp->sum[i] = sp->sum2[i] = 0;
      sp->count[i] = 0;
    }
  fflush (stdout);
}

static gboolean
parse_int_list (const char *text, GArray *out)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  for (int i = 0; parts[i] != NULL; i++)
    {
      char *end = NULL;
      gint64 v = g_ascii_strtoll (g_strstrip (parts[i]), &end, 10);
      if (end == parts[i] || *end != '\0' || v < 1 || v > 100000)
        return FALSE;
      int iv = (int) v;
      g_array_append_val (out, iv);
    }
  return out->len > 0;
}

int
frugal_cmd_augment_sweep (int argc, char **argv)
{
  g_autofree char *data = NULL, *sizes = NULL, *arch = NULL, *only = NULL;
  int seeds = 0, steps = 0, threads = 0; /* 0: from the recipe, else the defaults */
  GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_STRING, &data, "Dataset spec (default digits)", "SPEC" },
    { "per-class", 'k', 0, G_OPTION_ARG_STRING, &sizes,
      "Labels per class, comma-separated (default 5,10,20,50)", "LIST" },
    { "seeds", 's', 0, G_OPTION_ARG_INT, &seeds, "Runs per point (default 3)", "N" },
    { "steps", 'n', 0, G_OPTION_ARG_INT, &steps,
      "Minibatch steps per run (default 1000; epochs = steps x 32 / training samples)", "N" },
    { "arch", 'a', 0, G_OPTION_ARG_STRING, &arch, "Model architecture (default lenet5)",
      "ARCH" },
    { "only", 0, 0, G_OPTION_ARG_STRING, &only,
      "Only these pipelines (comma-separated of none, geometric, randaugment, cutmix)", "LIST" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "BLAS threads (default 1)", "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx
    = g_option_context_new ("[RECIPE.ini] - test accuracy vs labels per class, with and "
                            "without augmentation");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
    "Pipelines: none; geometric = rotate, translate, scale, elastic; randaugment (n=2, m=5);\n"
    "cutmix (p=0.5). Prints CSV: pipeline,per_class,seed,test_acc, then mean and std per point.\n"
    "Each run trains on per_class labelled samples per class (seeded, stratified), with batch\n"
    "32 and Adam (lr 1e-3), and is tested on the dataset's test split.\n"
    "A recipe gives the settings: [data] dataset, [model] arch, [run] threads and\n"
    "[augment-sweep] per_class = 5,10,20,50, seeds = 3, steps = 600, only = none,cutmix;\n"
    "options given on the command line win.");
  if (!frugal_parse_options (ctx, "augment-sweep", &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (argc > 2)
    return frugal_usage_error ("augment-sweep", "unexpected argument '%s'", argv[2]);
  if (argc == 2)
    {
      /* the recipe's settings fill what the command line left out */
      g_autoptr (GKeyFile) kf = g_key_file_new ();
      g_autoptr (GError) kerr = NULL;
      if (!g_key_file_load_from_file (kf, argv[1], G_KEY_FILE_NONE, &kerr))
        return frugal_failf ("%s: %s", argv[1], kerr->message);
#define RECIPE_STR(var, group, key) \
      if (var == NULL && g_key_file_has_key (kf, group, key, NULL)) \
        var = g_strstrip (g_key_file_get_string (kf, group, key, NULL));
#define RECIPE_INT(var, group, key) \
      if (var == 0 && g_key_file_has_key (kf, group, key, NULL)) \
        { \
          var = g_key_file_get_integer (kf, group, key, &kerr); \
          if (kerr != NULL) \
            return frugal_failf ("%s: [%s] %s: %s", argv[1], group, key, kerr->message); \
          if (var < 1) \
            return frugal_failf ("%s: [%s] %s must be at least 1", argv[1], group, key); \
        }
      RECIPE_STR (data, "data", "dataset");
      RECIPE_STR (arch, "model", "arch");
      RECIPE_STR (sizes, "augment-sweep", "per_class");
      RECIPE_STR (only, "augment-sweep", "only");
      RECIPE_INT (seeds, "augment-sweep", "seeds");
      RECIPE_INT (steps, "augment-sweep", "steps");
      RECIPE_INT (threads, "run", "threads");
#undef RECIPE_STR
#undef RECIPE_INT
    }
  seeds = seeds > 0 ? seeds : 3;
  steps = steps > 0 ? steps : 1000;
  threads = threads > 0 ? threads : 1;
  g_autoptr (GArray) per_class = g_array_new (FALSE, FALSE, sizeof (int));
  if (!parse_int_list (sizes != NULL ? sizes : "5,10,20,50", per_class))
    return frugal_usage_error ("augment-sweep", "--per-class: write positive whole numbers "
                               "separated by commas, e.g. 5,10,20");
  if (seeds < 1 || seeds > 100 || steps < 1 || steps > 10000000 || threads < 1)
    return frugal_usage_error ("augment-sweep", "--seeds in [1, 100], --steps at least 1");

  g_autoptr (GError) error = NULL;
  const char *spec = data != NULL ? data : "digits";
  g_autoptr (FwDataset) all = fw_dataset_load (spec, 1, NULL, &error);
  g_autoptr (FwDataset) train = NULL;
  g_autoptr (FwDataset) test = NULL;
  if (all == NULL || !fw_aug_sweep_load_test (all, spec, &train, &test, NULL, &error))
    return frugal_fail (error);
  guint mask = 0;
  if (!fw_aug_sweep_parse_only (only, &mask, &error))
    return frugal_usage_error ("augment-sweep", "--only: %s", error->message);
  fw_blas_set_threads (threads);
  printf ("pipeline,per_class,seed,test_acc,seconds\n");
  SweepPrint sp = { .seeds = seeds };
  if (!fw_aug_sweep_run (train, test, (const int *) per_class->data, (int) per_class->len, seeds,
                         steps, arch, mask, sweep_point, &sp, NULL, &error))
    return frugal_fail (error);
  return FRUGAL_EXIT_OK;
}
