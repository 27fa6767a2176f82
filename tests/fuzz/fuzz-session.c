/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-session: a session snapshot (.fwsession) through fw_session_load_data; a session that
 * loads serialises again (fw_session_to_bytes) and that loads too. */
#include "fuzz-common.h"
#include "fw-session.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) err = NULL;
  g_autoptr(FwSession) s = fw_session_load_data (data, size, "fuzz.fwsession", &err);
  FUZZ_CHECK_RESULT (s, err);
  if (!s)
    return 0;
  g_autofree char *desc = fw_session_describe (s);
  if (!desc)
    abort ();
  g_autoptr(GBytes) b = fw_session_to_bytes (s, &err);
  if (!b)
    {
      fprintf (stderr, "loaded session does not serialise: %s\n", err->message);
      abort ();
    }
  gsize n;
  const guint8 *p = g_bytes_get_data (b, &n);
  g_autoptr(FwSession) s2 = fw_session_load_data (p, n, "fuzz-again.fwsession", &err);
  if (!s2)
    {
      fprintf (stderr, "re-serialised session does not load: %s\n", err->message);
      abort ();
    }
  return 0;
}
