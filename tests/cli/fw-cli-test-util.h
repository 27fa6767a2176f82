/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-cli-test-util.h: running the real frugal binary (path in $FRUGAL_BIN) from CLI tests. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Runs frugal with the given arguments (NULL-terminated) for at most timeout_s seconds and
 * returns its exit status (-1 when killed by a signal); out and err receive its stdout and
 * stderr (free them). Aborts the test when it does not finish in time. */
int fw_cli_run_frugal (char **out, char **err, double timeout_s, ...) G_GNUC_NULL_TERMINATED;

G_END_DECLS
