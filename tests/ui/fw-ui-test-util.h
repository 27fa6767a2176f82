/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-ui-test-util.h: bounded waits shared by the UI tests (every wait in a test is bounded). */
#pragma once

#include <gtk/gtk.h>

#include "fw-window.h"

G_BEGIN_DECLS

typedef gboolean (*FwUiCond) (gpointer data);

/* The environment every UI test runs in: no accessibility bus, one OpenBLAS thread (unless
 * set), GSettings in memory (no session bus under Xvfb). Call before g_test_init. */
void      fw_ui_test_env    (void);
/* The workbench as a user starts it: libadwaita initialised, the application registered and
 * activated; returns its window (at 1280x800), *app receives the application. */
FwWindow *fw_ui_open_window (FwApplication **app);

/* Iterates the default main context until cond (data) holds or timeout_s passes; returns
 * whether it holds. */
gboolean fw_ui_wait_until (FwUiCond cond, gpointer data, double timeout_s);
/* Iterates the default main context for the given time. */
void     fw_ui_spin_for   (double seconds);
/* Renders a (realized) GtkWidget as it is drawn now and writes it to a PNG; FALSE on failure. */
gboolean fw_ui_save_png   (gpointer widget, const char *path);
/* The widget's render node; waits (main loop running, at most timeout_s) while the widget
 * draws nothing because a layout is pending. NULL on timeout. */
GskRenderNode *fw_ui_snapshot_node (gpointer widget, double timeout_s);

G_END_DECLS
