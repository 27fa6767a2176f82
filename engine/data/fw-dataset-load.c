/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-dataset-load.c: dataset specs ("fashion-mnist:test", "sim:5000:28", ...) to datasets;
 * Fashion-MNIST; the availability report. */
#include "fw-dataset.h"

#include <string.h>

#include "fw-error.h"
#include "fw-idx.h"
#include "fw-simulator.h"

#define FMNIST_SYSTEM_DIR "/usr/share/datasets/fashion-mnist"
#define SIM_DEFAULT_N 5000

static const char *const fmnist_classes[] = {
  "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot", NULL,
};

/* dir/base.gz or dir/base, whichever exists, or NULL */
static char *
find_file (const char *dir, const char *base)
{
  g_autofree char *gz = g_strconcat (base, ".gz", NULL);
  g_autofree char *p = g_build_filename (dir, gz, NULL);
  if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&p);
  g_free (p);
  p = g_build_filename (dir, base, NULL);
  if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&p);
  return NULL;
}

char *
fw_dataset_find_fashion_mnist (void)
{
  const char *env = g_getenv ("FW_DATA_DIR");
  g_autofree char *sub = env != NULL && *env ? g_build_filename (env, "fashion-mnist", NULL)
                                             : NULL;
  const char *dirs[] = { sub, env != NULL && *env ? env : NULL, FMNIST_SYSTEM_DIR };
  for (gsize i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      if (dirs[i] == NULL)
        continue;
      g_autofree char *f = find_file (dirs[i], "train-images-idx3-ubyte");
      if (f != NULL)
        return g_strdup (dirs[i]);
    }
  return NULL;
}

FwDataset *
fw_dataset_load_fashion_mnist (gboolean test, GCancellable *cancellable, GError **error)
{
  g_autofree char *dir = fw_dataset_find_fashion_mnist ();
  if (dir == NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_NOT_FOUND,
                   "Fashion-MNIST not found in " FMNIST_SYSTEM_DIR
                   ": install the Debian package dataset-fashion-mnist or set FW_DATA_DIR");
      return NULL;
    }
  const char *prefix = test ? "t10k" : "train";
  g_autofree char *ib = g_strconcat (prefix, "-images-idx3-ubyte", NULL);
  g_autofree char *lb = g_strconcat (prefix, "-labels-idx1-ubyte", NULL);
  g_autofree char *images = find_file (dir, ib);
  g_autofree char *labels = find_file (dir, lb);
  if (images == NULL || labels == NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_NOT_FOUND,
                   "Fashion-MNIST in %s lacks %s: reinstall the Debian package "
                   "dataset-fashion-mnist", dir, images == NULL ? ib : lb);
      return NULL;
    }
  g_autoptr (FwDataset) ds = fw_idx_load (images, labels, cancellable, error);
  if (ds == NULL)
    return NULL;
  if (ds->n_classes > 10)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                   "%s: labels up to %d where Fashion-MNIST has 10 classes", labels,
                   ds->n_classes - 1);
      return NULL;
    }
  g_free (ds->name);
  ds->name = g_strdup (test ? "Fashion-MNIST (test)" : "Fashion-MNIST (train)");
  g_free (ds->source);
  ds->source = g_strdup (dir);
  ds->n_classes = 10;
  fw_data_set_class_names (ds, fmnist_classes);
  return g_steal_pointer (&ds);
}

/* ---- specs ---- */

typedef enum { KIND_FMNIST, KIND_DIGITS, KIND_SIM, KIND_IDX, KIND_FOLDER, KIND_CSV } Kind;

typedef struct {
  Kind kind;
  gboolean test;
  int n, size;          /* sim */
  char *a, *b;          /* paths */
} Spec;

static void
spec_clear (Spec *s)
{
  g_free (s->a);
  g_free (s->b);
}

static const char spec_help[] =
  "expected fashion-mnist[:train|test], digits[:train|test], sim[:N[:SIZE]], "
  "sim-test[:N[:SIZE]], idx:IMAGES[:LABELS], folder:PATH or csv:PATH";

static gboolean
parse_split (const char *spec, const char *arg, gboolean *test, GError **error)
{
  if (arg == NULL || g_str_equal (arg, "train"))
    *test = FALSE;
  else if (g_str_equal (arg, "test"))
    *test = TRUE;
  else
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "Dataset \"%s\": unknown part \"%s\", expected train or test", spec, arg);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_int (const char *spec, const char *what, const char *s, int lo, int hi, int *out,
           GError **error)
{
  gint64 v = 0;
  if (!g_ascii_string_to_signed (s, 10, lo, hi, &v, NULL))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "Dataset \"%s\": %s \"%s\" is not a whole number from %d to %d", spec, what,
                   s, lo, hi);
      return FALSE;
    }
  *out = (int) v;
  return TRUE;
}

static gboolean
parse_spec (const char *spec, Spec *s, GError **error)
{
  memset (s, 0, sizeof *s);
  if (spec == NULL || *spec == '\0')
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "Empty dataset name: %s", spec_help);
      return FALSE;
    }
  /* surrounding blanks are dropped; the kind is case-insensitive ("Fashion-MNIST:test") */
  g_autofree char *trimmed = g_strstrip (g_strdup (spec));
  spec = trimmed;
  const char *colon = strchr (spec, ':');
  g_autofree char *head0 = colon ? g_strndup (spec, colon - spec) : g_strdup (spec);
  g_autofree char *head = g_ascii_strdown (head0, -1);
  const char *rest = colon ? colon + 1 : NULL;
  g_auto (GStrv) args = rest ? g_strsplit (rest, ":", -1) : g_new0 (char *, 1);
  guint nargs = g_strv_length (args);

  if (g_str_equal (head, "fashion-mnist") || g_str_equal (head, "fmnist"))
    {
      s->kind = KIND_FMNIST;
      if (nargs > 1)
        goto bad;
      return parse_split (spec, args[0], &s->test, error);
    }
  if (g_str_equal (head, "digits"))
    {
      s->kind = KIND_DIGITS;
      if (nargs > 1)
        goto bad;
      return parse_split (spec, args[0], &s->test, error);
    }
  if (g_str_equal (head, "sim") || g_str_equal (head, "sim-test"))
    {
      s->kind = KIND_SIM;
      s->test = g_str_equal (head, "sim-test");
      s->n = s->test ? SIM_DEFAULT_N / 5 : SIM_DEFAULT_N;
      s->size = 28;
      if (nargs > 3 || (nargs == 3 && s->test))
        goto bad;
      if (nargs >= 1 && *args[0] && !parse_int (spec, "sample count", args[0], 1, 10000000,
                                                &s->n, error))
        return FALSE;
      if (nargs >= 2 && *args[1] && !parse_int (spec, "image size", args[1], 8, 128, &s->size,
                                                error))
        return FALSE;
      if (nargs == 3 && !parse_split (spec, args[2], &s->test, error))
        return FALSE;
      return TRUE;
    }
  if (g_str_equal (head, "idx") && rest != NULL && *rest)
    {
      s->kind = KIND_IDX;
      const char *c2 = strchr (rest, ':');
      s->a = c2 ? g_strndup (rest, c2 - rest) : g_strdup (rest);
      s->b = c2 && c2[1] ? g_strdup (c2 + 1) : NULL;
      return TRUE;
    }
  if ((g_str_equal (head, "folder") || g_str_equal (head, "csv")) && rest != NULL && *rest)
    {
      s->kind = g_str_equal (head, "folder") ? KIND_FOLDER : KIND_CSV;
      s->a = g_strdup (rest);
      return TRUE;
    }
bad:
  g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "Unknown dataset \"%s\": %s", spec,
               spec_help);
  return FALSE;
}

static FwDataset *
load_parsed (const Spec *s, guint64 seed, GCancellable *cancellable, GError **error)
{
  switch (s->kind)
    {
    case KIND_FMNIST:
      return fw_dataset_load_fashion_mnist (s->test, cancellable, error);
    case KIND_DIGITS:
      return fw_dataset_load_digits (s->test, cancellable, error);
    case KIND_SIM:
      {
        FwSimParams p;
        fw_sim_params_init (&p, s->size);
        return fw_simulator_generate (&p, s->n, seed, s->test ? FW_SIM_TEST : FW_SIM_TRAIN,
                                      cancellable, error);
      }
    case KIND_IDX:
      return fw_idx_load (s->a, s->b, cancellable, error);
    case KIND_FOLDER:
      return fw_dataset_load_folder (s->a, cancellable, error);
    case KIND_CSV:
      return fw_dataset_load_csv (s->a, cancellable, error);
    default:
      g_assert_not_reached ();
    }
  return NULL;
}

FwDataset *
fw_dataset_load (const char *spec, guint64 seed, GCancellable *cancellable, GError **error)
{
  Spec s;
  if (!parse_spec (spec, &s, error))
    {
      spec_clear (&s);
      return NULL;
    }
  FwDataset *ds = load_parsed (&s, seed, cancellable, error);
  spec_clear (&s);
  return ds;
}

FwDataset *
fw_dataset_load_test (const char *spec, guint64 seed, GCancellable *cancellable,
                      GError **error)
{
  Spec s;
  if (!parse_spec (spec, &s, error))
    {
      spec_clear (&s);
      return NULL;
    }
  FwDataset *ds = NULL;
  switch (s.kind)
    {
    case KIND_FMNIST:
    case KIND_DIGITS:
      s.test = TRUE;
      ds = load_parsed (&s, seed, cancellable, error);
      break;
    case KIND_SIM:
      if (!s.test)
        {
          s.test = TRUE;
          s.n = MAX (s.n / 5, 10);
          ds = load_parsed (&s, seed, cancellable, error);
        }
      break;
    case KIND_IDX:
      {
        /* MNIST-style names: train-images-... has its test set in t10k-images-... or
         * test-images-... next to it */
        g_autofree char *dir = g_path_get_dirname (s.a);
        g_autofree char *base = g_path_get_basename (s.a);
        if (strstr (base, "train") == NULL)
          break;
        const char *alts[] = { "t10k", "test" };
        for (gsize i = 0; i < G_N_ELEMENTS (alts); i++)
          {
            g_auto (GStrv) parts = g_strsplit (base, "train", -1);
            g_autofree char *tb = g_strjoinv (alts[i], parts);
            g_autofree char *tp = g_build_filename (dir, tb, NULL);
            if (g_file_test (tp, G_FILE_TEST_IS_REGULAR))
              {
                ds = fw_idx_load (tp, NULL, cancellable, error);
                break;
              }
          }
        break;
      }
    default:
      break;
    }
  spec_clear (&s);
  return ds;
}

/* ---- report ---- */

char *
fw_datasets_report (void)
{
  GString *r = g_string_new (NULL);
  g_autofree char *fm = fw_dataset_find_fashion_mnist ();
  if (fm != NULL)
    g_string_append_printf (r, "fashion-mnist  Fashion-MNIST, 70000 clothes 28x28, 10 classes: "
                               "available in %s\n", fm);
  else
    g_string_append (r, "fashion-mnist  Fashion-MNIST, 70000 clothes 28x28, 10 classes: "
                        "missing: install the Debian package dataset-fashion-mnist or set "
                        "FW_DATA_DIR\n");
  g_autofree char *dg = fw_dataset_find_digits ();
  if (dg != NULL)
    g_string_append_printf (r, "digits         Handwritten digits, 5000 digits 20x20: available "
                               "in %s\n", dg);
  else
    g_string_append (r, "digits         Handwritten digits, 5000 digits 20x20: missing: "
                        "apt-get install opencv-doc (or extract only examples/data/digits.png "
                        "from it) or set FW_DATA_DIR to a folder with digits.png\n");
  g_auto (GStrv) fams = fw_simulator_font_families ();
  guint nf = g_strv_length (fams);
  if (nf > 0)
    g_string_append_printf (r, "sim            Simulated digits 28x28 or 20x20, any number: "
                               "available, %u font famil%s (more: fonts-bwht, "
                               "fonts-humor-sans, fonts-comic-neue)\n",
                            nf, nf == 1 ? "y" : "ies");
  else
    g_string_append (r, "sim            Simulated digits: missing: no font installed, install "
                        "fonts-dejavu-core\n");
  g_string_append (r, "idx:, folder:, csv:  your own data: IDX files, a folder with one "
                      "sub-folder of images per class, or a CSV with the label last\n");
  return g_string_free (r, FALSE);
}
