/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests of the dataset loaders: IDX (raw, gzip, broken), Fashion-MNIST and digits.png against
 * independent readers, the digit simulator, image folders, CSV, stratified subsets and splits,
 * specs, cancellation. */
#include <math.h>
#include <string.h>

#include <cairo.h>
#include <gdk-pixbuf/gdk-pixbuf.h>

#include "fw-dataset.h"
#include "fw-error.h"
#include "fw-idx.h"
#include "fw-simulator.h"
#include "fw-test-util.h"
#include "fw-util.h"

/* ---- helpers ---- */

static void
write_file (const char *path, const void *data, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, data, (gssize) len, &error);
  g_assert_no_error (error);
}

/* gzip-compresses data into path with GIO's zlib compressor. */
static void
write_gz (const char *path, const void *data, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GFile) f = g_file_new_for_path (path);
  g_autoptr (GFileOutputStream) fo = g_file_replace (f, NULL, FALSE, G_FILE_CREATE_NONE, NULL,
                                                     &error);
  g_assert_no_error (error);
  g_autoptr (GZlibCompressor) comp = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 6);
  g_autoptr (GOutputStream) out = g_converter_output_stream_new (G_OUTPUT_STREAM (fo),
                                                                G_CONVERTER (comp));
  gsize written = 0;
  g_output_stream_write_all (out, data, len, &written, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_close (out, NULL, &error);
  g_assert_no_error (error);
}

static guint8 *
read_all (const char *path, gsize *len)
{
  g_autoptr (GError) error = NULL;
  char *data = NULL;
  g_file_get_contents (path, &data, len, &error);
  g_assert_no_error (error);
  return (guint8 *) data;
}

static void
put_be32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

/* An IDX image file of n x h x w bytes (magic 0x803) in a new buffer. */
static guint8 *
make_idx_images (const guint8 *pix, guint32 n, guint32 h, guint32 w, gsize *len)
{
  *len = 16 + (gsize) n * h * w;
  guint8 *b = g_malloc (*len);
  put_be32 (b, 0x803);
  put_be32 (b + 4, n);
  put_be32 (b + 8, h);
  put_be32 (b + 12, w);
  memcpy (b + 16, pix, (gsize) n * h * w);
  return b;
}

static guint8 *
make_idx_labels (const guint8 *lab, guint32 n, gsize *len)
{
  *len = 8 + n;
  guint8 *b = g_malloc (*len);
  put_be32 (b, 0x801);
  put_be32 (b + 4, n);
  memcpy (b + 8, lab, n);
  return b;
}

/* Asserts error is an FW_ERROR whose message names needle (usually the file). */
static void
assert_error_names (const GError *error, const char *needle)
{
  g_assert_nonnull (error);
  g_assert_true (error->domain == FW_ERROR);
  g_test_message ("error: %s", error->message);
  if (strstr (error->message, needle) == NULL)
    g_error ("message \"%s\" does not name \"%s\"", error->message, needle);
}

/* ---- IDX ---- */

#define IN 7
#define IH 5
#define IW 4

static void
make_small_idx (guint8 *pix, guint8 *lab)
{
  FwRng rng;
  fw_rng_init (&rng, 3);
  for (int i = 0; i < IN * IH * IW; i++)
    pix[i] = (guint8) fw_rng_below (&rng, 256);
  for (int i = 0; i < IN; i++)
    lab[i] = (guint8) fw_rng_below (&rng, 4);
  lab[2] = 5; /* max label 5 -> 6 classes */
}

static void
check_small_idx (const FwDataset *ds, const guint8 *pix, const guint8 *lab)
{
  g_assert_nonnull (ds);
  g_assert_cmpint (ds->n, ==, IN);
  g_assert_cmpint (ds->shape.c, ==, 1);
  g_assert_cmpint (ds->shape.h, ==, IH);
  g_assert_cmpint (ds->shape.w, ==, IW);
  g_assert_cmpint (ds->n_classes, ==, 6);
  for (int i = 0; i < IN * IH * IW; i++)
    g_assert_cmpfloat_with_epsilon (ds->x[i], pix[i] / 255.0, 1e-6);
  for (int i = 0; i < IN; i++)
    g_assert_cmpint (ds->y[i], ==, lab[i]);
}

static void
test_idx_round_trip (void)
{
  const char *dir = fw_test_tmpdir ();
  guint8 pix[IN * IH * IW], lab[IN];
  make_small_idx (pix, lab);
  gsize il, ll;
  g_autofree guint8 *ib = make_idx_images (pix, IN, IH, IW, &il);
  g_autofree guint8 *lb = make_idx_labels (lab, IN, &ll);

  /* raw, labels named explicitly */
  g_autofree char *ri = g_build_filename (dir, "raw-img.idx", NULL);
  g_autofree char *rl = g_build_filename (dir, "raw-lab.idx", NULL);
  write_file (ri, ib, il);
  write_file (rl, lb, ll);
  g_autoptr (GError) error = NULL;
  g_autofree char *spec = g_strdup_printf ("idx:%s:%s", ri, rl);
  g_autoptr (FwDataset) a = fw_dataset_load (spec, 0, NULL, &error);
  g_assert_no_error (error);
  check_small_idx (a, pix, lab);

  /* gzip, labels found by the MNIST naming convention */
  g_autofree char *gi = g_build_filename (dir, "small-images-idx3-ubyte.gz", NULL);
  g_autofree char *gl = g_build_filename (dir, "small-labels-idx1-ubyte.gz", NULL);
  write_gz (gi, ib, il);
  write_gz (gl, lb, ll);
  g_autofree char *spec2 = g_strdup_printf ("idx:%s", gi);
  g_autoptr (FwDataset) b = fw_dataset_load (spec2, 0, NULL, &error);
  g_assert_no_error (error);
  check_small_idx (b, pix, lab);
  g_assert_cmpstr (b->source, ==, gi);

  /* a gzip file whose name does not say so is still recognised by its magic */
  g_autofree char *gi2 = g_build_filename (dir, "plain-name.idx", NULL);
  write_gz (gi2, ib, il);
  g_autoptr (FwDataset) c = fw_idx_load (gi2, rl, NULL, &error);
  g_assert_no_error (error);
  check_small_idx (c, pix, lab);

  /* no test set beside small-images; MNIST names give t10k-images as the test set */
  g_autoptr (FwDataset) none = fw_dataset_load_test (spec2, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (none);
  g_autofree char *sub = g_build_filename (dir, "mnist", NULL);
  g_assert_cmpint (g_mkdir_with_parents (sub, 0755), ==, 0);
  guint8 tpix[IN * IH * IW], tlab[IN];
  for (int i = 0; i < IN * IH * IW; i++)
    tpix[i] = 255 - pix[i];
  for (int i = 0; i < IN; i++)
    tlab[i] = lab[IN - 1 - i];
  gsize tl, tll;
  g_autofree guint8 *tib = make_idx_images (tpix, IN, IH, IW, &tl);
  g_autofree guint8 *tlb = make_idx_labels (tlab, IN, &tll);
  const char *names[] = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                          "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };
  const guint8 *blobs[] = { ib, lb, tib, tlb };
  const gsize lens[] = { il, ll, tl, tll };
  for (int k = 0; k < 4; k++)
    {
      g_autofree char *p = g_build_filename (sub, names[k], NULL);
      write_file (p, blobs[k], lens[k]);
    }
  g_autofree char *spec3 = g_strdup_printf ("idx:%s/train-images-idx3-ubyte", sub);
  g_autoptr (FwDataset) tr = fw_dataset_load (spec3, 0, NULL, &error);
  g_assert_no_error (error);
  check_small_idx (tr, pix, lab);
  g_autoptr (FwDataset) te = fw_dataset_load_test (spec3, 0, NULL, &error);
  g_assert_no_error (error);
  check_small_idx (te, tpix, tlab);
}

typedef struct {
  const char *name;
  const guint8 *data;
  gsize len;
  gboolean in_labels; /* the broken file is the label file */
  const char *says;   /* a word the message must contain */
} BadCase;

static void
test_idx_bad_inputs (void)
{
  const char *dir = fw_test_tmpdir ();
  guint8 pix[IN * IH * IW], lab[IN];
  make_small_idx (pix, lab);
  gsize il, ll, gzl;
  g_autofree guint8 *ib = make_idx_images (pix, IN, IH, IW, &il);
  g_autofree guint8 *lb = make_idx_labels (lab, IN, &ll);
  g_autofree char *good_l = g_build_filename (dir, "good-labels", NULL);
  write_file (good_l, lb, ll);
  g_autofree char *good_gz = g_build_filename (dir, "good.gz", NULL);
  write_gz (good_gz, ib, il);
  g_autofree guint8 *gz = read_all (good_gz, &gzl);

  BadCase cases[12];
  int nc = 0;

  /* truncated gzip: the stream ends in the middle */
  cases[nc++] = (BadCase) { "truncated.gz", gz, gzl / 2, FALSE, "truncated" };
  /* truncated in the gzip trailer (CRC and size) */
  cases[nc++] = (BadCase) { "no-trailer.gz", gz, gzl - 4, FALSE, "truncated" };
  /* corrupt gzip: the deflate data is garbage */
  g_autofree guint8 *bad = g_memdup2 (gz, gzl);
  for (gsize i = 12; i < gzl - 8; i += 3)
    bad[i] ^= 0x5a;
  cases[nc++] = (BadCase) { "corrupt.gz", bad, gzl, FALSE, "corrupt" };
  /* intact deflate data, wrong CRC in the trailer */
  g_autofree guint8 *crc = g_memdup2 (gz, gzl);
  crc[gzl - 6] ^= 0xff;
  cases[nc++] = (BadCase) { "bad-crc.gz", crc, gzl, FALSE, "corrupt" };
  /* wrong magic */
  g_autofree guint8 *wm = g_memdup2 (ib, il);
  put_be32 (wm, 0x12345678);
  cases[nc++] = (BadCase) { "wrong-magic", wm, il, FALSE, "magic" };
  /* image and label files swapped */
  cases[nc++] = (BadCase) { "labels-as-images", lb, ll, FALSE, "swapped" };
  /* raw data cut short */
  cases[nc++] = (BadCase) { "short-raw", ib, il - 5, FALSE, "truncated" };
  /* implausible dimension */
  g_autofree guint8 *dim = g_memdup2 (ib, il);
  put_be32 (dim + 8, 0);
  cases[nc++] = (BadCase) { "zero-rows", dim, il, FALSE, "implausible" };
  /* labels for one image less than there are images */
  g_autofree guint8 *few = g_memdup2 (lb, ll);
  put_be32 (few + 4, IN - 1);
  cases[nc++] = (BadCase) { "few-labels", few, ll - 1, TRUE, "labels" };

  for (int k = 0; k < nc; k++)
    {
      g_autofree char *p = g_build_filename (dir, cases[k].name, NULL);
      write_file (p, cases[k].data, cases[k].len);
      g_autofree char *good_i = g_build_filename (dir, "good-images", NULL);
      write_file (good_i, ib, il);
      g_autoptr (GError) error = NULL;
      g_autoptr (FwDataset) ds = cases[k].in_labels ? fw_idx_load (good_i, p, NULL, &error)
                                                    : fw_idx_load (p, good_l, NULL, &error);
      g_assert_null (ds);
      assert_error_names (error, p);
      assert_error_names (error, cases[k].says);
    }

  /* a missing file is NOT_FOUND and named */
  g_autofree char *missing = g_build_filename (dir, "nothing-images-idx3-ubyte", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) ds = fw_idx_load (missing, good_l, NULL, &error);
  g_assert_null (ds);
  g_assert_error (error, FW_ERROR, FW_ERROR_NOT_FOUND);
  assert_error_names (error, missing);
}

/* ---- Fashion-MNIST ---- */

/* The decompressed file by the gzip program: a reader independent of GIO's. */
static GBytes *
gunzip_with_program (const char *path)
{
  g_autofree char *out = NULL;
  gsize len = 0;
  const char *argv[] = { "gzip", "-dc", path, NULL };
  g_autoptr (GSubprocess) sp = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, NULL);
  if (sp == NULL)
    return NULL;
  g_autoptr (GBytes) b = NULL;
  if (!g_subprocess_communicate (sp, NULL, NULL, &b, NULL, NULL))
    return NULL;
  (void) out;
  (void) len;
  return g_steal_pointer (&b);
}

static void
test_fashion_mnist (void)
{
  g_autofree char *dir = fw_dataset_find_fashion_mnist ();
  if (dir == NULL)
    {
      g_test_skip ("Fashion-MNIST is not installed (dataset-fashion-mnist)");
      return;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) tr = fw_dataset_load ("fashion-mnist", 0, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwDataset) te = fw_dataset_load_test ("fashion-mnist:train", 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tr->n, ==, 60000);
  g_assert_cmpint (te->n, ==, 10000);
  g_assert_cmpint (tr->shape.h, ==, 28);
  g_assert_cmpint (tr->shape.w, ==, 28);
  g_assert_cmpint (tr->n_classes, ==, 10);
  g_assert_cmpstr (tr->class_names[0], ==, "T-shirt/top");
  g_assert_cmpstr (tr->class_names[9], ==, "Ankle boot");
  g_assert_cmpstr (tr->name, ==, "Fashion-MNIST (train)");
  g_assert_cmpstr (te->name, ==, "Fashion-MNIST (test)");
  /* the published dataset is balanced: 6000 and 1000 per class */
  int counts[10];
  fw_dataset_class_counts (tr, counts);
  for (int c = 0; c < 10; c++)
    g_assert_cmpint (counts[c], ==, 6000);
  fw_dataset_class_counts (te, counts);
  for (int c = 0; c < 10; c++)
    g_assert_cmpint (counts[c], ==, 1000);

  g_autofree char *lp = g_build_filename (dir, "train-labels-idx1-ubyte.gz", NULL);
  g_autofree char *ip = g_build_filename (dir, "train-images-idx3-ubyte.gz", NULL);
  g_autoptr (GBytes) lb = gunzip_with_program (lp);
  g_autoptr (GBytes) ib = gunzip_with_program (ip);
  if (lb == NULL || ib == NULL)
    {
      g_test_skip ("the gzip program is needed for the independent check");
      return;
    }
  gsize ll, il;
  const guint8 *l = g_bytes_get_data (lb, &ll);
  const guint8 *im = g_bytes_get_data (ib, &il);
  g_assert_cmpuint (ll, ==, 8 + 60000);
  g_assert_cmpuint (il, ==, 16 + 60000 * 784);
  /* labels at both ends, and the first and last images pixel by pixel */
  g_assert_cmpint (tr->y[0], ==, l[8]);
  g_assert_cmpint (tr->y[59999], ==, l[8 + 59999]);
  for (int j = 0; j < 784; j++)
    {
      g_assert_cmpfloat_with_epsilon (tr->x[j], im[16 + j] / 255.0, 1e-6);
      g_assert_cmpfloat_with_epsilon (tr->x[59999 * 784 + j], im[16 + 59999 * 784 + j] / 255.0,
                                      1e-6);
    }
}

/* ---- digits.png ---- */

/* Where the PLATFORM notes' one-file extraction of opencv-doc puts digits.png on the
 * development machine; main() points FW_DATA_DIR there when nothing else provides it. */
#define EXTRACTED_DIGITS_DIR "/tmp/ocv/usr/share/doc/opencv-doc/examples/data"

static void
test_digits (void)
{
  g_autofree char *path = fw_dataset_find_digits ();
  if (path == NULL)
    {
      g_test_skip ("digits.png is absent (opencv-doc)");
      return;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) tr = fw_dataset_load ("digits", 0, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwDataset) te = fw_dataset_load ("digits:test", 0, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwDataset) te2 = fw_dataset_load_test ("digits", 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tr->n, ==, 4000);
  g_assert_cmpint (te->n, ==, 1000);
  g_assert_cmpint (te2->n, ==, 1000);
  g_assert_cmpint (tr->shape.h, ==, 20);
  g_assert_cmpint (tr->shape.w, ==, 20);
  int counts[10];
  fw_dataset_class_counts (tr, counts);
  for (int c = 0; c < 10; c++)
    g_assert_cmpint (counts[c], ==, 400);
  fw_dataset_class_counts (te, counts);
  for (int c = 0; c < 10; c++)
    g_assert_cmpint (counts[c], ==, 100);

  /* pixels straight from the pixbuf: tile (row r, column k) has its corner at (20k, 20r) */
  g_autoptr (GdkPixbuf) pb = gdk_pixbuf_new_from_file (path, &error);
  g_assert_no_error (error);
  int nch = gdk_pixbuf_get_n_channels (pb), stride = gdk_pixbuf_get_rowstride (pb);
  const guint8 *px = gdk_pixbuf_read_pixels (pb);
  struct { const FwDataset *ds; int i, row, col, label; } tiles[] = {
    { tr, 0, 0, 0, 0 },        /* first train tile */
    { tr, 399, 3, 99, 0 },     /* last train tile of class 0 */
    { tr, 400, 5, 0, 1 },      /* first of class 1 */
    { te, 0, 4, 0, 0 },        /* the test part is each class's fifth row */
    { te, 999, 49, 99, 9 },
  };
  for (gsize t = 0; t < G_N_ELEMENTS (tiles); t++)
    {
      const float *x = tiles[t].ds->x + (gsize) tiles[t].i * 400;
      g_assert_cmpint (tiles[t].ds->y[tiles[t].i], ==, tiles[t].label);
      double ink = 0;
      for (int y = 0; y < 20; y++)
        for (int xx = 0; xx < 20; xx++)
          {
            guint8 v = px[(gsize) (tiles[t].row * 20 + y) * stride +
                          (gsize) (tiles[t].col * 20 + xx) * nch];
            g_assert_cmpfloat_with_epsilon (x[y * 20 + xx], v / 255.0, 1e-6);
            ink += v;
          }
      g_assert_cmpfloat (ink, >, 0); /* a real digit, not an empty tile */
    }
  g_assert_cmpmem (te->x, 1000 * 400 * sizeof (float), te2->x, 1000 * 400 * sizeof (float));
}

static void
test_digits_missing_says_how_to_get_it (void)
{
  if (g_file_test ("/usr/share/doc/opencv-doc/examples/data/digits.png", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("opencv-doc is installed: the missing case cannot be shown");
      return;
    }
  if (g_test_subprocess ())
    {
      /* in a fresh process: changing the environment is safe before any thread starts */
      g_setenv ("FW_DATA_DIR", fw_test_tmpdir (), TRUE);
      g_autoptr (GError) error = NULL;
      g_autoptr (FwDataset) ds = fw_dataset_load ("digits", 0, NULL, &error);
      g_assert_null (ds);
      g_assert_error (error, FW_ERROR, FW_ERROR_NOT_FOUND);
      assert_error_names (error, "opencv-doc");
      assert_error_names (error, "FW_DATA_DIR");
      return;
    }
  g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* ---- simulator ---- */

static FwDataset *
sim (const char *spec, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  FwDataset *ds = fw_dataset_load (spec, seed, NULL, &error);
  g_assert_no_error (error);
  return ds;
}

static void
test_sim_deterministic (void)
{
  g_autoptr (FwDataset) a = sim ("sim:300", 11);
  g_autoptr (FwDataset) b = sim ("sim:300", 11);
  g_autoptr (FwDataset) c = sim ("sim:300", 12);
  g_autoptr (FwDataset) p = sim ("sim:120", 11);
  g_autoptr (FwDataset) t = sim ("sim:300:28:test", 11);
  g_autoptr (FwDataset) t2 = sim (" SIM-test:300 ", 11); /* blanks and case do not matter */
  gsize sz = 300 * 784 * sizeof (float);
  g_assert_cmpmem (a->x, sz, b->x, sz);
  g_assert_cmpmem (a->y, 300 * sizeof (gint32), b->y, 300 * sizeof (gint32));
  g_assert_cmpmem (t->x, sz, t2->x, sz);
  /* sample i depends on the seed and i only: a shorter set is a prefix */
  g_assert_cmpmem (p->x, 120 * 784 * sizeof (float), a->x, 120 * 784 * sizeof (float));
  /* another seed, or the test stream, gives other images: count samples that differ */
  int diff_seed = 0, diff_test = 0;
  for (int i = 0; i < 300; i++)
    {
      diff_seed += memcmp (a->x + i * 784, c->x + i * 784, 784 * sizeof (float)) != 0;
      diff_test += memcmp (a->x + i * 784, t->x + i * 784, 784 * sizeof (float)) != 0;
    }
  g_assert_cmpint (diff_seed, ==, 300);
  g_assert_cmpint (diff_test, ==, 300);
}

static void
test_sim_balanced_plausible (void)
{
  double t0 = fw_now ();
  g_autoptr (FwDataset) ds = sim ("sim", 5);
  double dt = fw_now () - t0;
  /* measured, not asserted: timing belongs to benchmarks */
  g_test_message ("5000 simulated 28x28 digits in %.3f s", dt);
  g_assert_cmpint (ds->n, ==, 5000);
  g_assert_cmpint (ds->shape.c, ==, 1);
  g_assert_cmpint (ds->shape.h, ==, 28);
  g_assert_cmpint (ds->n_classes, ==, 10);
  g_assert_cmpstr (ds->class_names[3], ==, "3");
  int counts[10];
  fw_dataset_class_counts (ds, counts);
  for (int c = 0; c < 10; c++)
    g_assert_cmpint (counts[c], ==, 500);
  gsize m = (gsize) ds->n * 784;
  for (gsize i = 0; i < m; i++)
    g_assert_true (ds->x[i] >= 0.0f && ds->x[i] <= 1.0f);
  /* MNIST's mean pixel is 0.13: a digit covers a fifth of the image or less */
  float mean, std;
  fw_dataset_stats (ds, &mean, &std);
  g_test_message ("mean %.3f std %.3f", mean, std);
  g_assert_cmpfloat (mean, >, 0.05);
  g_assert_cmpfloat (mean, <, 0.30);
  /* every sample has ink: a bright pixel, and more than a few lit pixels */
  for (int i = 0; i < ds->n; i++)
    {
      const float *x = ds->x + (gsize) i * 784;
      float mx = 0;
      int lit = 0;
      for (int j = 0; j < 784; j++)
        {
          mx = MAX (mx, x[j]);
          lit += x[j] > 0.5f;
        }
      g_assert_cmpfloat (mx, >, 0.7f);
      g_assert_cmpint (lit, >=, 10);
    }

  /* 20x20 works too */
  g_autoptr (FwDataset) s20 = sim ("sim:50:20", 5);
  g_assert_cmpint (s20->shape.h, ==, 20);
  g_assert_cmpint (s20->shape.w, ==, 20);
}

/* Class-mean images are distinct, and a nearest-class-mean classifier fitted on the training
 * stream recognises the test stream far above chance: the classes really are the digits. */
static void
test_sim_classes_differ (void)
{
  g_autoptr (FwDataset) tr = sim ("sim:2000", 9);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) te = fw_dataset_load_test ("sim:2000", 9, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (te->n, ==, 400);
  g_assert_cmpstr (te->name, ==, "Simulated digits (test)");
  g_autofree double *mu = g_new0 (double, 10 * 784);
  int counts[10] = { 0 };
  for (int i = 0; i < tr->n; i++)
    {
      counts[tr->y[i]]++;
      for (int j = 0; j < 784; j++)
        mu[tr->y[i] * 784 + j] += tr->x[(gsize) i * 784 + j];
    }
  for (int c = 0; c < 10; c++)
    for (int j = 0; j < 784; j++)
      mu[c * 784 + j] /= counts[c];
  double min_d = INFINITY;
  for (int a = 0; a < 10; a++)
    for (int b = a + 1; b < 10; b++)
      {
        double d = 0;
        for (int j = 0; j < 784; j++)
          d += (mu[a * 784 + j] - mu[b * 784 + j]) * (mu[a * 784 + j] - mu[b * 784 + j]);
        min_d = MIN (min_d, sqrt (d));
      }
  g_test_message ("smallest distance between class means %.3f", min_d);
  g_assert_cmpfloat (min_d, >, 1.0);
  int right = 0;
  for (int i = 0; i < te->n; i++)
    {
      int best = -1;
      double bd = INFINITY;
      for (int c = 0; c < 10; c++)
        {
          double d = 0;
          for (int j = 0; j < 784; j++)
            {
              double e = te->x[(gsize) i * 784 + j] - mu[c * 784 + j];
              d += e * e;
            }
          if (d < bd)
            bd = d, best = c;
        }
      right += best == te->y[i];
    }
  g_test_message ("nearest class mean: %d / %d right", right, te->n);
  g_assert_cmpint (right, >, te->n * 4 / 10);
}

/* With one font only (the simulator's minimum), or a family fontconfig has to substitute,
 * samples are still deterministic, inked, and recognisable by class means. */
static void
test_sim_single_font (void)
{
  g_auto (GStrv) all = fw_simulator_font_families ();
  const char *one[] = { all[0], NULL };
  const char *unknown[] = { "No Such Font Family", NULL };
  const char *const *sets[] = { one, unknown };
  for (gsize s = 0; s < G_N_ELEMENTS (sets); s++)
    {
      FwSimParams p;
      fw_sim_params_init (&p, 28);
      p.families = sets[s];
      g_autoptr (GError) error = NULL;
      g_autoptr (FwDataset) a = fw_simulator_generate (&p, 400, 3, FW_SIM_TRAIN, NULL, &error);
      g_assert_no_error (error);
      g_autoptr (FwDataset) b = fw_simulator_generate (&p, 400, 3, FW_SIM_TRAIN, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (a->x, 400 * 784 * sizeof (float), b->x, 400 * 784 * sizeof (float));
      g_assert_nonnull (strstr (a->source, "1 font family"));
      /* leave-one-out nearest class mean over the set: far above chance (10%) */
      g_autofree double *mu = g_new0 (double, 10 * 784);
      for (int i = 0; i < a->n; i++)
        for (int j = 0; j < 784; j++)
          mu[a->y[i] * 784 + j] += a->x[(gsize) i * 784 + j] / 40.0;
      int right = 0;
      for (int i = 0; i < a->n; i++)
        {
          int best = -1;
          double bd = INFINITY;
          for (int c = 0; c < 10; c++)
            {
              double d = 0;
              for (int j = 0; j < 784; j++)
                {
                  double m = mu[c * 784 + j];
                  if (c == a->y[i]) /* the class mean without sample i */
                    m = (m * 40.0 - a->x[(gsize) i * 784 + j]) / 39.0;
                  double e = a->x[(gsize) i * 784 + j] - m;
                  d += e * e;
                }
              if (d < bd)
                bd = d, best = c;
            }
          right += best == a->y[i];
        }
      float mean, std;
      fw_dataset_stats (a, &mean, &std);
      g_test_message ("families {%s}: mean pixel %.3f, nearest mean %d / 400", sets[s][0], mean,
                      right);
      g_assert_cmpfloat (mean, >, 0.05);
      g_assert_cmpint (right, >, 120); /* 3x chance */
    }

  /* an empty list is an error that says what to install */
  const char *none[] = { NULL };
  FwSimParams p;
  fw_sim_params_init (&p, 28);
  p.families = none;
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) ds = fw_simulator_generate (&p, 10, 3, FW_SIM_TRAIN, NULL, &error);
  g_assert_null (ds);
  g_assert_error (error, FW_ERROR, FW_ERROR_NOT_FOUND);
  assert_error_names (error, "font");
}

/* The simulator is meant to pre-train for real digits: class means of simulated 20x20 digits
 * already classify digits.png's test part far above chance (10%). */
static void
test_sim_resembles_real_digits (void)
{
  g_autofree char *path = fw_dataset_find_digits ();
  if (path == NULL)
    {
      g_test_skip ("digits.png is absent (opencv-doc)");
      return;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) real = fw_dataset_load ("digits:test", 0, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwDataset) s = sim ("sim:2000:20", 4);
  g_autofree double *mu = g_new0 (double, 10 * 400);
  for (int i = 0; i < s->n; i++)
    for (int j = 0; j < 400; j++)
      mu[s->y[i] * 400 + j] += s->x[(gsize) i * 400 + j] / 200.0;
  int right = 0;
  for (int i = 0; i < real->n; i++)
    {
      int best = -1;
      double bd = INFINITY;
      for (int c = 0; c < 10; c++)
        {
          double d = 0;
          for (int j = 0; j < 400; j++)
            {
              double e = real->x[(gsize) i * 400 + j] - mu[c * 400 + j];
              d += e * e;
            }
          if (d < bd)
            bd = d, best = c;
        }
      right += best == real->y[i];
    }
  g_test_message ("simulated class means classify %d / %d real digits", right, real->n);
  g_assert_cmpint (right, >, real->n * 3 / 10);
}

static void
test_sim_bad_specs (void)
{
  const char *bad[] = { "sim:0", "sim:abc", "sim:10:4", "sim:10:28:val", "sim-test:1:28:test",
                        "nope", "fashion-mnist:valid", "digits:train:x", "idx:", "csv:" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (FwDataset) ds = fw_dataset_load (bad[i], 0, NULL, &error);
      g_assert_null (ds);
      g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
      assert_error_names (error, bad[i]);
    }
}

static void
test_sim_font_families (void)
{
  g_auto (GStrv) f = fw_simulator_font_families ();
  g_assert_cmpuint (g_strv_length (f), >=, 1);
  for (guint i = 0; f[i] != NULL; i++)
    {
      g_test_message ("font: %s", f[i]);
      if (f[i + 1] != NULL)
        g_assert_cmpint (strcmp (f[i], f[i + 1]), <, 0); /* sorted, no duplicates */
    }
}

/* ---- image folder ---- */

/* A w x h PNG, black with a white rectangle (x0, y0, rw, rh), in the given colour. */
static void
write_png (const char *path, int w, int h, int x0, int y0, int rw, int rh, double r, double g,
           double b)
{
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, w, h);
  cairo_t *cr = cairo_create (s);
  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_paint (cr);
  cairo_set_source_rgb (cr, r, g, b);
  cairo_rectangle (cr, x0, y0, rw, rh);
  cairo_fill (cr);
  cairo_destroy (cr);
  g_assert_cmpint (cairo_surface_write_to_png (s, path), ==, CAIRO_STATUS_SUCCESS);
  cairo_surface_destroy (s);
}

static char *
make_folder (const char *root, const char *cls)
{
  char *d = g_build_filename (root, cls, NULL);
  g_assert_cmpint (g_mkdir_with_parents (d, 0755), ==, 0);
  return d;
}

static void
test_folder_two_classes (void)
{
  const char *root = fw_test_tmpdir ();
  g_autofree char *bars = make_folder (root, "bars");
  g_autofree char *dots = make_folder (root, "dots");
  g_autofree char *hidden = make_folder (root, ".cache");
  /* "bars": a vertical bar in columns 2..3; "dots": a 2x2 square at (10, 10) */
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *p = g_strdup_printf ("%s/b%d.png", bars, i);
      write_png (p, 16, 12, 2, 0, 2, 12, 1, 1, 1);
      g_autofree char *q = g_strdup_printf ("%s/d%d.png", dots, i);
      write_png (q, 16, 12, 10, 10, 2, 2, 1, 1, 1);
    }
  /* mixed sizes: a 32x24 bar image is resized to 16x12 */
  g_autofree char *big = g_strdup_printf ("%s/z-big.png", bars);
  write_png (big, 32, 24, 4, 0, 4, 24, 1, 1, 1);
  g_autofree char *dotfile = g_strdup_printf ("%s/.DS_Store", dots);
  write_file (dotfile, "junk", 4);

  g_autoptr (GError) error = NULL;
  g_autofree char *spec = g_strdup_printf ("folder:%s", root);
  g_autoptr (FwDataset) ds = fw_dataset_load (spec, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ds->n, ==, 7);
  g_assert_cmpint (ds->n_classes, ==, 2);
  g_assert_cmpstr (ds->class_names[0], ==, "bars");
  g_assert_cmpstr (ds->class_names[1], ==, "dots");
  g_assert_null (ds->class_names[2]);
  g_assert_cmpint (ds->shape.c, ==, 1);
  g_assert_cmpint (ds->shape.h, ==, 12);
  g_assert_cmpint (ds->shape.w, ==, 16);
  int counts[2];
  fw_dataset_class_counts (ds, counts);
  g_assert_cmpint (counts[0], ==, 4);
  g_assert_cmpint (counts[1], ==, 3);
  /* sorted order: b0 b1 b2 z-big, then d0 d1 d2 */
  for (int i = 0; i < 7; i++)
    {
      const float *x = ds->x + (gsize) i * 16 * 12;
      g_assert_cmpint (ds->y[i], ==, i < 4 ? 0 : 1);
      if (i < 3)
        for (int y = 0; y < 12; y++)
          for (int xx = 0; xx < 16; xx++)
            g_assert_cmpfloat_with_epsilon (x[y * 16 + xx], (xx == 2 || xx == 3) ? 1.0 : 0.0, 1e-6);
      else if (i == 3)
        {
          /* the resized bar: bright in columns 2..3, dark far from it */
          g_assert_cmpfloat (x[5 * 16 + 2], >, 0.7f);
          g_assert_cmpfloat (x[5 * 16 + 3], >, 0.7f);
          g_assert_cmpfloat (x[5 * 16 + 8], <, 0.05f);
        }
      else
        {
          g_assert_cmpfloat (x[10 * 16 + 10], ==, 1.0f);
          g_assert_cmpfloat (x[0], ==, 0.0f);
        }
    }

  /* one colour image makes the dataset RGB */
  g_autofree char *red = g_strdup_printf ("%s/red.png", dots);
  write_png (red, 16, 12, 0, 0, 16, 12, 1, 0, 0);
  g_autoptr (FwDataset) rgb = fw_dataset_load (spec, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (rgb->shape.c, ==, 3);
  g_assert_cmpint (rgb->n, ==, 8);
  const float *r = rgb->x + (gsize) 7 * 3 * 192; /* dots: d0 d1 d2 red */
  g_assert_cmpfloat (r[0], ==, 1.0f);          /* R plane */
  g_assert_cmpfloat (r[192], ==, 0.0f);        /* G plane */
  g_assert_cmpfloat (r[2 * 192], ==, 0.0f);    /* B plane */
  /* grey images have equal planes */
  const float *b0 = rgb->x;
  g_assert_cmpfloat (b0[2], ==, 1.0f);
  g_assert_cmpfloat (b0[192 + 2], ==, 1.0f);
  g_assert_cmpfloat (b0[2 * 192 + 2], ==, 1.0f);
}

static void
test_folder_errors (void)
{
  const char *root = fw_test_tmpdir ();
  g_autofree char *a = make_folder (root, "a");
  g_autofree char *p = g_strdup_printf ("%s/one.png", a);
  write_png (p, 8, 8, 0, 0, 4, 4, 1, 1, 1);
  g_autofree char *txt = g_strdup_printf ("%s/notes.txt", a);
  write_file (txt, "not an image\n", 13);
  g_autofree char *spec = g_strdup_printf ("folder:%s", root);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) ds = fw_dataset_load (spec, 0, NULL, &error);
  g_assert_null (ds);
  g_assert_error (error, FW_ERROR, FW_ERROR_FORMAT);
  assert_error_names (error, txt);
  g_clear_error (&error);

  /* a folder without class sub-folders */
  g_autoptr (FwDataset) ds2 = fw_dataset_load_folder (a, NULL, &error);
  g_assert_null (ds2);
  assert_error_names (error, a);
  g_clear_error (&error);

  g_autofree char *none = g_build_filename (root, "does-not-exist", NULL);
  g_autoptr (FwDataset) ds3 = fw_dataset_load_folder (none, NULL, &error);
  g_assert_null (ds3);
  g_assert_error (error, FW_ERROR, FW_ERROR_NOT_FOUND);
  assert_error_names (error, none);
}

/* ---- CSV ---- */

static FwDataset *
load_csv_text (const char *name, const char *text, GError **error)
{
  g_autofree char *p = g_build_filename (fw_test_tmpdir (), name, NULL);
  write_file (p, text, strlen (text));
  g_autofree char *spec = g_strdup_printf ("csv:%s", p);
  return fw_dataset_load (spec, 0, NULL, error);
}

static void
test_csv_good (void)
{
  g_autoptr (GError) error = NULL;
  /* no header, integer labels, CRLF, a comment and a blank line */
  g_autoptr (FwDataset) a = load_csv_text ("a.csv",
                                           "\xef\xbb\xbf# two features\r\n"
                                           "1.5,-2,0\r\n"
                                           "\r\n"
                                           "3,4e-1,2\r\n"
                                           "0,0,1.0\r\n", &error);
  g_assert_no_error (error);
  g_assert_cmpint (a->n, ==, 3);
  g_assert_cmpint (a->shape.c, ==, 2);
  g_assert_cmpint (a->shape.h, ==, 1);
  g_assert_cmpint (a->shape.w, ==, 1);
  g_assert_cmpint (a->n_classes, ==, 3);
  const float want[] = { 1.5f, -2.0f, 3.0f, 0.4f, 0.0f, 0.0f };
  for (int i = 0; i < 6; i++)
    g_assert_cmpfloat_with_epsilon (a->x[i], want[i], 1e-6);
  g_assert_cmpint (a->y[0], ==, 0);
  g_assert_cmpint (a->y[1], ==, 2);
  g_assert_cmpint (a->y[2], ==, 1);

  /* header detected, string labels numbered in sorted order, ';' separator, quotes */
  g_autoptr (FwDataset) b = load_csv_text ("iris.csv",
                                           "\"sepal\";\"petal\";\"species\"\n"
                                           "5.1;1.4;virginica\n"
                                           "4.9;1.5;setosa\n"
                                           "6.0;4.5;\"versicolor\"\n"
                                           "5.0;1.3;setosa\n", &error);
  g_assert_no_error (error);
  g_assert_cmpint (b->n, ==, 4);
  g_assert_cmpint (b->shape.c, ==, 2);
  g_assert_cmpint (b->n_classes, ==, 3);
  g_assert_cmpstr (b->class_names[0], ==, "setosa");
  g_assert_cmpstr (b->class_names[1], ==, "versicolor");
  g_assert_cmpstr (b->class_names[2], ==, "virginica");
  g_assert_cmpint (b->y[0], ==, 2);
  g_assert_cmpint (b->y[1], ==, 0);
  g_assert_cmpint (b->y[2], ==, 1);
  g_assert_cmpint (b->y[3], ==, 0);
  g_assert_cmpfloat_with_epsilon (b->x[0], 5.1f, 1e-6);
  g_assert_cmpfloat_with_epsilon (b->x[5], 4.5f, 1e-6);

  /* no natural test set */
  g_autofree char *spec = g_strdup_printf ("csv:%s", b->source);
  g_autoptr (FwDataset) t = fw_dataset_load_test (spec, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (t);
}

static void
test_csv_errors (void)
{
  struct {
    const char *name, *text, *needles[3];
  } cases[] = {
    { "missing.csv", "x,y,label\n1,2,0\n3,,1\n", { "line 3", "column 2 (y)", "missing" } },
    { "word.csv", "1,2,0\n3,abc,1\n", { "line 2", "column 2", "abc" } },
    { "ragged.csv", "1,2,0\n3,1\n", { "line 2", "2 fields", "3" } },
    { "nolabel.csv", "1,2,0\n3,4,\n", { "line 2", "missing label", "column 3" } },
    { "single.csv", "1\n2\n", { "single column", "line 1", "label" } },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (FwDataset) ds = load_csv_text (cases[i].name, cases[i].text, &error);
      g_assert_null (ds);
      assert_error_names (error, cases[i].name);
      for (int k = 0; k < 3; k++)
        assert_error_names (error, cases[i].needles[k]);
    }
}

/* ---- subsets and splits ---- */

/* 103 samples, unbalanced classes (class c has about c + 5 samples), x[0] = sample index so
 * that subsets can be traced back. */
static FwDataset *
make_tagged (void)
{
  FwShape shape = { 2, 1, 1 };
  FwDataset *ds = fw_dataset_new ("tagged", 103, shape, 8);
  int i = 0;
  for (int c = 0; i < 103; c = (c + 1) % 8)
    for (int k = 0; k <= c && i < 103; k++, i++)
      {
        ds->y[i] = c;
        ds->x[2 * i] = (float) i;
        ds->x[2 * i + 1] = (float) c;
      }
  return ds;
}

/* Asserts part and rest are disjoint, cover ds, and keep each sample's label. */
static void
assert_partition (const FwDataset *ds, const FwDataset *part, const FwDataset *rest)
{
  g_assert_cmpint (part->n + rest->n, ==, ds->n);
  g_autofree int *seen = g_new0 (int, ds->n);
  const FwDataset *both[] = { part, rest };
  for (int p = 0; p < 2; p++)
    for (int i = 0; i < both[p]->n; i++)
      {
        int id = (int) both[p]->x[2 * i];
        g_assert_cmpint (id, >=, 0);
        g_assert_cmpint (id, <, ds->n);
        g_assert_cmpint (both[p]->y[i], ==, ds->y[id]);
        seen[id]++;
      }
  for (int i = 0; i < ds->n; i++)
    g_assert_cmpint (seen[i], ==, 1);
}

static void
test_per_class_and_split (void)
{
  g_autoptr (FwDataset) ds = make_tagged ();
  int counts[8], pc[8], rc[8];
  fw_dataset_class_counts (ds, counts);

  FwDataset *rest = NULL;
  g_autoptr (FwDataset) sub = fw_dataset_per_class (ds, 6, 42, &rest);
  g_autoptr (FwDataset) rest_a = rest;
  fw_dataset_class_counts (sub, pc);
  fw_dataset_class_counts (rest_a, rc);
  for (int c = 0; c < 8; c++)
    {
      g_assert_cmpint (pc[c], ==, MIN (6, counts[c]));
      g_assert_cmpint (rc[c], ==, counts[c] - MIN (6, counts[c]));
    }
  assert_partition (ds, sub, rest_a);
  /* same seed, same subset; another seed, another subset */
  g_autoptr (FwDataset) sub2 = fw_dataset_per_class (ds, 6, 42, NULL);
  g_autoptr (FwDataset) sub3 = fw_dataset_per_class (ds, 6, 43, NULL);
  g_assert_cmpmem (sub->x, sub->n * 2 * sizeof (float), sub2->x, sub2->n * 2 * sizeof (float));
  g_assert_cmpint (sub3->n, ==, sub->n);
  g_assert_true (memcmp (sub->x, sub3->x, sub->n * 2 * sizeof (float)) != 0);

  FwDataset *part = NULL;
  rest = NULL;
  fw_dataset_split (ds, 0.25, 7, &part, &rest);
  g_autoptr (FwDataset) pa = part;
  g_autoptr (FwDataset) re = rest;
  fw_dataset_class_counts (pa, pc);
  for (int c = 0; c < 8; c++)
    g_assert_cmpint (pc[c], ==, (int) floor (0.25 * counts[c] + 0.5));
  assert_partition (ds, pa, re);
  FwDataset *pa2 = NULL;
  fw_dataset_split (ds, 0.25, 7, &pa2, NULL);
  g_assert_cmpmem (pa->x, pa->n * 2 * sizeof (float), pa2->x, pa2->n * 2 * sizeof (float));
  fw_dataset_unref (pa2);
}

/* ---- loading in general ---- */

static void
test_cancelled_load (void)
{
  g_autoptr (GCancellable) c = g_cancellable_new ();
  g_cancellable_cancel (c);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) a = fw_dataset_load ("sim:1000", 1, c, &error);
  g_assert_null (a);
  g_assert_error (error, FW_ERROR, FW_ERROR_CANCELLED);
  g_clear_error (&error);

  const char *dir = fw_test_tmpdir ();
  guint8 pix[IN * IH * IW], lab[IN];
  make_small_idx (pix, lab);
  gsize il, ll;
  g_autofree guint8 *ib = make_idx_images (pix, IN, IH, IW, &il);
  g_autofree guint8 *lb = make_idx_labels (lab, IN, &ll);
  g_autofree char *ip = g_build_filename (dir, "c-images", NULL);
  g_autofree char *lp = g_build_filename (dir, "c-labels", NULL);
  write_gz (ip, ib, il);
  write_file (lp, lb, ll);
  g_autoptr (FwDataset) b = fw_idx_load (ip, NULL, c, &error);
  g_assert_null (b);
  g_assert_error (error, FW_ERROR, FW_ERROR_CANCELLED);
}

static gpointer
cancel_soon (gpointer c)
{
  g_usleep (30 * 1000);
  g_cancellable_cancel (c);
  return NULL;
}

/* Cancelling while the simulator runs stops it: 20000 samples take seconds, the cancel
 * comes after 30 ms and must be noticed between samples. */
static void
test_cancel_while_loading (void)
{
  g_autoptr (GCancellable) c = g_cancellable_new ();
  GThread *t = g_thread_new ("cancel", cancel_soon, c);
  g_autoptr (GError) error = NULL;
  double t0 = fw_now ();
  g_autoptr (FwDataset) ds = fw_dataset_load ("sim:20000", 1, c, &error);
  g_test_message ("returned %.3f s after the start", fw_now () - t0);
  g_thread_join (t);
  g_assert_null (ds);
  g_assert_error (error, FW_ERROR, FW_ERROR_CANCELLED);
}

static gpointer
load_sim_in_thread (gpointer spec)
{
  g_autoptr (GError) error = NULL;
  FwDataset *ds = fw_dataset_load (spec, 21, NULL, &error);
  g_assert_no_error (error);
  return ds;
}

/* Jobs run on a worker thread (with its own Pango font map): same pixels as here. */
static void
test_sim_same_on_worker_thread (void)
{
  g_autoptr (FwDataset) here = sim ("sim:200:20", 21);
  GThread *t = g_thread_new ("worker", load_sim_in_thread, (gpointer) "sim:200:20");
  g_autoptr (FwDataset) there = g_thread_join (t);
  g_assert_cmpmem (here->x, 200 * 400 * sizeof (float), there->x, 200 * 400 * sizeof (float));
}

static void
test_report (void)
{
  g_autofree char *r = fw_datasets_report ();
  g_test_message ("%s", r);
  g_auto (GStrv) lines = g_strsplit (r, "\n", -1);
  const char *kinds[] = { "fashion-mnist", "digits", "sim", "idx:" };
  g_assert_cmpuint (g_strv_length (lines), >=, G_N_ELEMENTS (kinds));
  for (gsize k = 0; k < G_N_ELEMENTS (kinds); k++)
    g_assert_true (g_str_has_prefix (lines[k], kinds[k]));
  g_autofree char *fm = fw_dataset_find_fashion_mnist ();
  if (fm != NULL)
    g_assert_nonnull (strstr (lines[0], fm));
  else
    g_assert_nonnull (strstr (lines[0], "dataset-fashion-mnist"));
  g_autofree char *dg = fw_dataset_find_digits ();
  g_assert_nonnull (strstr (lines[1], dg != NULL ? dg : "opencv-doc"));
}

int
main (int argc, char **argv)
{
  g_autofree char *extracted = g_build_filename (EXTRACTED_DIGITS_DIR, "digits.png", NULL);
  g_autofree char *digits = fw_dataset_find_digits ();
  if (digits == NULL && g_getenv ("FW_DATA_DIR") == NULL &&
      g_file_test (extracted, G_FILE_TEST_IS_REGULAR))
    g_setenv ("FW_DATA_DIR", EXTRACTED_DIGITS_DIR, TRUE); /* before any thread exists */
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Idx/round_trip_raw_and_gzip", test_idx_round_trip);
  g_test_add_func ("/Idx/bad_inputs_name_the_file_and_problem", test_idx_bad_inputs);
  g_test_add_func ("/FashionMnist/matches_independent_reader", test_fashion_mnist);
  g_test_add_func ("/Digits/tiles_match_the_png", test_digits);
  g_test_add_func ("/Digits/missing_says_how_to_get_it", test_digits_missing_says_how_to_get_it);
  g_test_add_func ("/Simulator/same_seed_same_pixels", test_sim_deterministic);
  g_test_add_func ("/Simulator/balanced_in_range_not_blank", test_sim_balanced_plausible);
  g_test_add_func ("/Simulator/classes_are_recognisable", test_sim_classes_differ);
  g_test_add_func ("/Simulator/font_families_sorted", test_sim_font_families);
  g_test_add_func ("/Simulator/works_with_a_single_font", test_sim_single_font);
  g_test_add_func ("/Simulator/resembles_real_digits", test_sim_resembles_real_digits);
  g_test_add_func ("/Load/bad_specs_are_invalid", test_sim_bad_specs);
  g_test_add_func ("/Folder/two_classes_sorted_resized_colour", test_folder_two_classes);
  g_test_add_func ("/Folder/non_image_file_named", test_folder_errors);
  g_test_add_func ("/Csv/header_labels_separators", test_csv_good);
  g_test_add_func ("/Csv/errors_name_line_and_column", test_csv_errors);
  g_test_add_func ("/Dataset/per_class_and_split_stratified_seeded", test_per_class_and_split);
  g_test_add_func ("/Load/cancelled", test_cancelled_load);
  g_test_add_func ("/Load/cancel_while_loading", test_cancel_while_loading);
  g_test_add_func ("/Simulator/same_pixels_on_a_worker_thread", test_sim_same_on_worker_thread);
  g_test_add_func ("/Load/report_one_line_per_kind", test_report);
  return g_test_run ();
}
