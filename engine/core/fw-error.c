/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "fw-error.h"

G_DEFINE_QUARK (fw-error-quark, fw_error)
