/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-idx: IDX image + label files (raw or gzip) through fw_idx_load and
 * fw_read_file_maybe_gzip. Input: the first byte picks how the input splits into the images
 * and labels files (images = the first (byte * size / 256) bytes after it). */
#include "fuzz-common.h"
#include "fw-idx.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  size_t cut = (size_t) data[0] * (size - 1) / 256;
  g_autofree char *images = fuzz_write ("train-images-idx3-ubyte", data + 1, cut);
  g_autofree char *labels = fuzz_write ("train-labels-idx1-ubyte", data + 1 + cut, size - 1 - cut);

  g_autoptr(GError) err = NULL;
  g_autoptr(GBytes) b = fw_read_file_maybe_gzip (images, NULL, &err);
  FUZZ_CHECK_RESULT (b, err);
  g_clear_error (&err);

  FwDataset *ds = fw_idx_load (images, labels, NULL, &err);
  FUZZ_CHECK_RESULT (ds, err);
  if (ds)
    fw_dataset_unref (ds);
  return 0;
}
