/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-safetensors: a model file through fw_model_load, then one forward pass of two samples
 * (values from the input bytes) on the loaded model. */
#include "fuzz-common.h"
#include "fw-safetensors.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *path = fuzz_write ("model.safetensors", data, size);
  g_autoptr(GError) err = NULL;
  g_autoptr(GHashTable) meta = NULL;
  FwModel *m = fw_model_load (path, &meta, &err);
  FUZZ_CHECK_RESULT (m, err);
  if (!m)
    return 0;
  gsize in = (gsize) m->input.c * m->input.h * m->input.w;
  float *x = g_new (float, 2 * in);
  for (gsize i = 0; i < 2 * in; i++)
    x[i] = size ? (float) data[i % size] / 255.0f : 0.0f;
  const float *y = fw_model_forward (m, x, 2, FALSE);
  if (!y)
    abort ();
  volatile float sink = 0;
  for (int i = 0; i < 2 * m->n_classes; i++)
    sink += y[i];
  (void) sink;
  g_free (x);
  fw_model_unref (m);
  return 0;
}
