/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-csv: a CSV file through fw_dataset_load_csv. */
#include "fuzz-common.h"
#include "fw-dataset.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *path = fuzz_write ("data.csv", data, size);
  g_autoptr(GError) err = NULL;
  FwDataset *ds = fw_dataset_load_csv (path, NULL, &err);
  FUZZ_CHECK_RESULT (ds, err);
  if (ds)
    fw_dataset_unref (ds);
  return 0;
}
