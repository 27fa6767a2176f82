/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-common.h: what the libFuzzer targets of tests/fuzz share: the input written to a file
 * (the loaders under test read paths), in a per-process folder under /dev/shm. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* A per-process scratch folder (created once, kept for the process' life); $FW_FUZZ_DIR
 * when set (the regression test points it into its temporary folder). */
static inline const char *
fuzz_dir (void)
{
  static char *dir;
  if (!dir && g_getenv ("FW_FUZZ_DIR"))
    dir = g_strdup (g_getenv ("FW_FUZZ_DIR"));
  if (!dir)
    {
      const char *base = g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm" : g_get_tmp_dir ();
      dir = g_strdup_printf ("%s/fw-fuzz-%d", base, (int) getpid ());
      g_mkdir_with_parents (dir, 0700);
    }
  return dir;
}

/* Writes data to <fuzz_dir>/<name> (sub-folders created); returns the path (free it). */
static inline char *
fuzz_write (const char *name, const uint8_t *data, size_t size)
{
  char *path = g_build_filename (fuzz_dir (), name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_mkdir_with_parents (parent, 0700);
  if (!g_file_set_contents (path, (const char *) data, (gssize) size, NULL))
    abort ();
  return path;
}

/* A loader either returns a result or sets an error with a message; never both, never neither. */
#define FUZZ_CHECK_RESULT(res, err) \
  do { \
    if (((res) == NULL) == ((err) == NULL)) abort (); \
    if ((err) && (!(err)->message || !(err)->message[0])) abort (); \
  } while (0)
