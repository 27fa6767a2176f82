/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-fuzz-regressions: every input a fuzzer once crashed on (tests/fuzz/regressions/<target>/)
 * runs through that target's harness (the same code: tests/fuzz/fuzz-<target>.c), each in a
 * subprocess: the loader must return a result or a clear GError, and the harness' properties
 * (a loaded recipe/session writes out and loads again, a loaded model runs forward) must hold. */
#include <glib.h>
#include <string.h>

#include "fw-test-util.h"

#define LLVMFuzzerTestOneInput fuzz_idx_one
#include "../fuzz/fuzz-idx.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_image_one
#include "../fuzz/fuzz-image.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_csv_one
#include "../fuzz/fuzz-csv.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_safetensors_one
#include "../fuzz/fuzz-safetensors.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_recipe_one
#include "../fuzz/fuzz-recipe.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_session_one
#include "../fuzz/fuzz-session.c"
#undef LLVMFuzzerTestOneInput

typedef int (*Harness) (const uint8_t *data, size_t size);

static const struct {
  const char *target;
  Harness run;
} harnesses[] = {
  { "idx", fuzz_idx_one },
  { "image", fuzz_image_one },
  { "csv", fuzz_csv_one },
  { "safetensors", fuzz_safetensors_one },
  { "recipe", fuzz_recipe_one },
  { "session", fuzz_session_one },
};

typedef struct {
  Harness run;
  char *path;
} Case;

static void
run_case (gconstpointer data)
{
  const Case *c = data;
  if (g_test_subprocess ())
    {
      g_setenv ("FW_FUZZ_DIR", fw_test_tmpdir (), TRUE);
      g_autofree char *bytes = NULL;
      gsize len = 0;
      g_autoptr(GError) err = NULL;
      g_assert_true (g_file_get_contents (c->path, &bytes, &len, &err));
      c->run ((const uint8_t *) bytes, len);
      return;
    }
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
case_free (gpointer p)
{
  Case *c = p;
  g_free (c->path);
  g_free (c);
}

static int
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_setenv ("OPENBLAS_NUM_THREADS", "1", TRUE);
  const char *root = g_getenv ("FW_SOURCE_ROOT");
  g_autofree char *base = g_build_filename (root ? root : ".", "tests", "fuzz", "regressions", NULL);
  int n = 0;
  g_autoptr (GPtrArray) cases = g_ptr_array_new_with_free_func (case_free);
  for (guint t = 0; t < G_N_ELEMENTS (harnesses); t++)
    {
      g_autofree char *dir = g_build_filename (base, harnesses[t].target, NULL);
      g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
      if (!d)
        continue;
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *e;
      while ((e = g_dir_read_name (d)))
        if (e[0] != '.' && strcmp (e, "README") != 0)
          g_ptr_array_add (names, g_strdup (e));
      g_ptr_array_sort (names, cmp_names);
      for (guint i = 0; i < names->len; i++)
        {
          Case *c = g_new0 (Case, 1);
          c->run = harnesses[t].run;
          c->path = g_build_filename (dir, g_ptr_array_index (names, i), NULL);
          g_autofree char *tp = g_strdup_printf ("/fuzz-regressions/%s/%s", harnesses[t].target,
                                                 (const char *) g_ptr_array_index (names, i));
          g_ptr_array_add (cases, c);
          g_test_add_data_func (tp, c, run_case);
          n++;
        }
    }
  if (n == 0)
    g_error ("no regression inputs under %s", base);
  return g_test_run ();
}
