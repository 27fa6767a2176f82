/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "fw-cli-test-util.h"

#include <gio/gio.h>
#include <stdarg.h>

typedef struct {
  gboolean done;
  char *out, *err;
} Result;

static void
communicated (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Result *r = user_data;
  g_autoptr (GError) error = NULL;
  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (src), res, &r->out, &r->err, &error);
  g_assert_no_error (error);
  r->done = TRUE;
}

/* See fw-cli-test-util.h. */
int
fw_cli_run_frugal (char **out, char **err, double timeout_s, ...)
{
  const char *bin = g_getenv ("FRUGAL_BIN");
  g_assert_nonnull (bin);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) bin);
  va_list ap;
  va_start (ap, timeout_s);
  for (const char *a = va_arg (ap, const char *); a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_newv ((const char *const *) argv->pdata,
                                                 G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                 | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  Result r = { 0 };
  g_subprocess_communicate_utf8_async (p, NULL, NULL, communicated, &r);
  gint64 end = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);
  while (!r.done && g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  if (!r.done)
    {
      g_subprocess_force_exit (p);
      g_error ("frugal %s did not finish within %.0f s",
               argv->len > 2 ? (const char *) argv->pdata[1] : "", timeout_s);
    }
  g_autoptr (GError) werr = NULL;
  g_assert_true (g_subprocess_wait (p, NULL, &werr));
  g_test_message ("stdout:\n%s\nstderr:\n%s", r.out, r.err);
  *out = r.out;
  *err = r.err;
  return g_subprocess_get_if_exited (p) ? g_subprocess_get_exit_status (p) : -1;
}
