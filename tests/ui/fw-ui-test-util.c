/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "fw-ui-test-util.h"

#include <gtk/gtk.h>

gboolean
fw_ui_wait_until (FwUiCond cond, gpointer data, double timeout_s)
{
  gint64 end = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);
  while (!cond (data))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
  return TRUE;
}

void
fw_ui_spin_for (double seconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);
  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
}

GskRenderNode *
fw_ui_snapshot_node (gpointer widget, double timeout_s)
{
  GtkWidget *w = GTK_WIDGET (widget);
  gint64 end = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);
  for (;;)
    {
      int width = gtk_widget_get_width (w), height = gtk_widget_get_height (w);
      if (width > 0 && height > 0)
        {
          GdkPaintable *p = gtk_widget_paintable_new (w);
          GtkSnapshot *snap = gtk_snapshot_new ();
          gdk_paintable_snapshot (p, snap, width, height);
          g_object_unref (p);
          GskRenderNode *node = gtk_snapshot_free_to_node (snap);
          if (node != NULL)
            return node;
        }
      /* a widget waiting for its next layout draws nothing yet (slow sanitizer builds) */
      if (g_get_monotonic_time () >= end)
        return NULL;
      fw_ui_spin_for (0.05);
    }
}

/* The widget as drawn now (its own renderer), written to a PNG. */
gboolean
fw_ui_save_png (gpointer widget, const char *path)
{
  GtkWidget *w = GTK_WIDGET (widget);
  g_autoptr (GskRenderNode) node = fw_ui_snapshot_node (w, 10);
  if (node == NULL)
    return FALSE;
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (w));
  g_autoptr (GdkTexture) tex = gsk_renderer_render_texture (renderer, node, NULL);
  return gdk_texture_save_to_png (tex, path);
}

void
fw_ui_test_env (void)
{
  g_setenv ("GTK_A11Y", "none", TRUE);
  g_setenv ("OPENBLAS_NUM_THREADS", "1", FALSE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
}

FwWindow *
fw_ui_open_window (FwApplication **app)
{
  g_autoptr (GError) error = NULL;
  adw_init ();
  *app = fw_application_new ();
  g_assert_true (g_application_register (G_APPLICATION (*app), NULL, &error));
  g_assert_no_error (error);
  g_application_activate (G_APPLICATION (*app));
  FwWindow *win = FW_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (*app)));
  g_assert_nonnull (win);
  gtk_window_set_default_size (GTK_WINDOW (win), 1280, 800);
  return win;
}
