/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-dataset.h: an in-memory labelled image (or feature) set.
 *
 * x[n][c][h][w] floats in [0, 1] (features of a CSV are stored as given, shape {d, 1, 1}),
 * y[n] class indices in [0, n_classes). Refcounted (g_atomic_rc_box) and immutable once
 * published to another thread. */
#pragma once

#include <gio/gio.h>

#include "fw-layer.h"
#include "fw-rng.h"

G_BEGIN_DECLS

typedef struct _FwDataset FwDataset;

struct _FwDataset {
  char *name;            /* "Fashion-MNIST (train)" */
  char *source;          /* a path or "simulator" */
  int n;
  FwShape shape;
  int n_classes;
  float *x;              /* [n x size(shape)] */
  gint32 *y;             /* [n] */
  char **class_names;    /* n_classes names, NULL-terminated */
};

FwDataset *fw_dataset_new      (const char *name, int n, FwShape shape, int n_classes);
FwDataset *fw_dataset_ref      (FwDataset *ds);
void       fw_dataset_unref    (FwDataset *ds);

static inline gsize
fw_dataset_sample_size (const FwDataset *ds)
{
  return fw_shape_size (ds->shape);
}

/* A new dataset made of the samples idx[0..n) (copied). */
FwDataset *fw_dataset_subset   (const FwDataset *ds, const gint32 *idx, int n,
                                const char *name);
/* Seeded stratified subset with at most per_class samples of each class; (*rest) receives
 * the others when rest != NULL. */
FwDataset *fw_dataset_per_class (const FwDataset *ds, int per_class, guint64 seed,
                                 FwDataset **rest);
/* Seeded stratified split: the first part gets round(fraction * n) samples. */
void       fw_dataset_split    (const FwDataset *ds, double fraction, guint64 seed,
                                FwDataset **part, FwDataset **rest);
/* Counts per class: counts[n_classes]. */
void       fw_dataset_class_counts (const FwDataset *ds, int *counts);
/* Mean and standard deviation of all pixel values. */
void       fw_dataset_stats    (const FwDataset *ds, float *mean, float *std);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwDataset, fw_dataset_unref)

/* ---- Loaders (fw-dataset-load.c, fw-idx.c, fw-simulator.c ...) ----
 *
 * A dataset SPEC names a source:
 *   fashion-mnist[:train|test]       /usr/share/datasets/fashion-mnist (or $FW_DATA_DIR)
 *   digits                           handwritten digits from opencv-doc's digits.png (20x20)
 *   sim[:N[:SIZE]]                   N simulated digits, SIZE 28 or 20 (default 28)
 *   idx:IMAGES[:LABELS]              IDX files (gzip or raw)
 *   folder:PATH                      image folder, one sub-folder per class
 *   csv:PATH                         numeric features, label in the last column
 * fw_dataset_load() resolves a spec to a dataset; seed matters for sim only. */
FwDataset *fw_dataset_load     (const char *spec, guint64 seed, GCancellable *cancellable,
                                GError **error);

/* One line per known dataset: name, availability here, how to get it when missing. */
char      *fw_datasets_report  (void);

/* The natural test set for a spec, or NULL with no error when the spec has none:
 *   fashion-mnist[:train] -> fashion-mnist:test, digits[:train] -> digits:test,
 *   sim[:N[:SIZE]] -> N/5 simulated digits from another seed stream (sim-test:N/5:SIZE);
 *   idx:DIR/train-images... -> idx:DIR/t10k-images... (or test-images...) when it exists;
 *   other idx:, folder:, csv: -> NULL (split the training set instead). */
FwDataset *fw_dataset_load_test (const char *spec, guint64 seed, GCancellable *cancellable,
                                 GError **error);

/* The loaders behind the specs (fw-dataset-load.c, fw-digits.c, fw-image-folder.c,
 * fw-csv.c; fw-idx.h and fw-simulator.h have the IDX reader and the simulator).
 *
 * Fashion-MNIST: 60000 train / 10000 test, 1x28x28, 10 named classes. */
FwDataset *fw_dataset_load_fashion_mnist (gboolean test, GCancellable *cancellable,
                                          GError **error);
/* Handwritten digits of digits.png: 1x20x20, 10 classes. Fixed split: of each class's 500
 * tiles (5 rows of 100, read row by row) the first 400 are train, the last 100 (the class's
 * fifth row) are test. Samples are ordered by class, then row, then column. */
FwDataset *fw_dataset_load_digits (gboolean test, GCancellable *cancellable, GError **error);
/* Where digits.png is here, or NULL (searched: $FW_DATA_DIR/digits.png, then opencv-doc's). */
char      *fw_dataset_find_digits (void);
/* Where the Fashion-MNIST files are here, or NULL. */
char      *fw_dataset_find_fashion_mnist (void);
/* An image folder: one sub-folder per class (class names = sorted sub-folder names, hidden
 * entries skipped), every file in them an image gdk-pixbuf reads (else an error naming the
 * file). Shape: the first image's size, scaled down to fit 64x64 keeping its aspect; images
 * of other sizes are resized to it (bilinear). c = 3 when any image has colour, else 1
 * (grey = mean of R, G, B). Transparent pixels are composited over black. */
FwDataset *fw_dataset_load_folder (const char *path, GCancellable *cancellable,
                                   GError **error);
/* CSV: comma (or ';' or tab, guessed from the first line) separated, numeric features, label
 * in the last column. A first row whose feature fields are not all numbers is a header.
 * Labels: when all are integers >= 0 they are class indices (n_classes = max + 1), otherwise
 * class names, numbered in sorted order. Blank lines and lines starting with '#' are skipped.
 * Shape {d, 1, 1}; features are stored as given (not scaled). */
FwDataset *fw_dataset_load_csv (const char *path, GCancellable *cancellable, GError **error);

G_END_DECLS
