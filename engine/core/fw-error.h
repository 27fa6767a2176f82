/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-error.h: the engine's GError domain. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FW_ERROR (fw_error_quark ())

typedef enum {
  FW_ERROR_FAILED,     /* anything else */
  FW_ERROR_INVALID,    /* a bad value: recipe key, argument, shape */
  FW_ERROR_IO,         /* reading or writing a file failed */
  FW_ERROR_FORMAT,     /* a file exists but its content is corrupt or unexpected */
  FW_ERROR_NOT_FOUND,  /* a dataset, file or key is missing */
  FW_ERROR_CANCELLED,  /* the job was cancelled */
  FW_ERROR_NUMERIC,    /* NaN / Inf during training */
} FwError;

GQuark fw_error_quark (void);

G_END_DECLS
