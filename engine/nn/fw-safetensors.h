/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-safetensors.h: models as .safetensors files (the public format: 8-byte little-endian
 * header length N, N bytes of JSON {"name": {"dtype": "F32", "shape": [...],
 * "data_offsets": [begin, end]}, ..., "__metadata__": {string: string}}, then the data).
 *
 * Tensor names: "layers.<i>.<tensor>" (e.g. "layers.0.weight"). __metadata__ holds
 * "format": "frugal-workbench", "arch", "spec", "input" ("c,h,w"), "in_mean", "in_std",
 * "classes" (comma-separated names), plus any extra pairs the caller gives.
 * Writing goes to a temporary file renamed over the target: no partial file, ever. */
#pragma once

#include <glib.h>

#include "fw-model.h"

G_BEGIN_DECLS

gboolean  fw_model_save (const FwModel *m, const char *path, GHashTable *extra_metadata,
                         GError **error);
/* extra_metadata (optional out): a new table of all __metadata__ pairs */
FwModel  *fw_model_load (const char *path, GHashTable **metadata, GError **error);

G_END_DECLS
