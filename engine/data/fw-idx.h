/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-idx.h: IDX files (the MNIST format) and the small file helpers the loaders share.
 *
 * IDX layout: 2 zero bytes, a type byte (0x08 = unsigned byte), a rank byte, then rank
 * big-endian 32-bit sizes, then the values in row-major order. Images are rank 3
 * (magic 0x00000803: n x rows x cols), labels rank 1 (magic 0x00000801: n). Files may be
 * gzip-compressed (detected by the magic bytes 1f 8b, not by the name). */
#pragma once

#include <gio/gio.h>

#include "fw-dataset.h"

G_BEGIN_DECLS

/* The whole content of path, gunzipped when it starts with the gzip magic. Errors name the
 * file: FW_ERROR_NOT_FOUND (missing), FW_ERROR_IO, FW_ERROR_FORMAT (corrupt or truncated gzip),
 * FW_ERROR_CANCELLED. */
GBytes     *fw_read_file_maybe_gzip (const char *path, GCancellable *cancellable,
                                     GError **error);

/* Reads an IDX image file and its label file into a dataset of shape {1, rows, cols} with
 * values in [0, 1] (byte / 255). labels may be NULL: the name is guessed by replacing
 * "images" with "labels" (and "idx3" with "idx1") in the file's base name.
 * n_classes = max label + 1; class names "0", "1", ... */
FwDataset  *fw_idx_load             (const char *images, const char *labels,
                                     GCancellable *cancellable, GError **error);

/* Internal helpers shared by the loaders of engine/data. */

/* TRUE (and error set to FW_ERROR_CANCELLED) when cancellable is cancelled. */
gboolean    fw_data_cancelled       (GCancellable *cancellable, GError **error);
/* Class names "0".."k-1" replaced by a copy of names (NULL-terminated, k entries). */
void        fw_data_set_class_names (FwDataset *ds, const char *const *names);

G_END_DECLS
