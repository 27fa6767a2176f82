/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-ui-test-util.h: bounded waits shared by the UI tests (every wait in a test is bounded). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef gboolean (*FwUiCond) (gpointer data);

/* Iterates the default main context until cond (data) holds or timeout_s passes; returns
 * whether it holds. */
gboolean fw_ui_wait_until (FwUiCond cond, gpointer data, double timeout_s);
/* Iterates the default main context for the given time. */
void     fw_ui_spin_for   (double seconds);
/* Renders a (realized) GtkWidget as it is drawn now and writes it to a PNG; FALSE on failure. */
gboolean fw_ui_save_png   (gpointer widget, const char *path);

G_END_DECLS
