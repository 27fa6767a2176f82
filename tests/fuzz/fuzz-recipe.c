/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-recipe: a recipe .ini through fw_recipe_load_data. Property: a recipe that loads
 * writes out (fw_recipe_to_data) to text that loads again into an equal recipe. */
#include "fuzz-common.h"
#include "fw-recipe.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) err = NULL;
  g_autoptr(FwRecipe) r = fw_recipe_load_data ((const char *) data, size, "fuzz.ini", &err);
  FUZZ_CHECK_RESULT (r, err);
  if (!r)
    return 0;
  g_autofree char *text = fw_recipe_to_data (r);
  g_autoptr(FwRecipe) r2 = fw_recipe_load_data (text, strlen (text), "fuzz-again.ini", &err);
  if (!r2)
    {
      fprintf (stderr, "written recipe does not load again: %s\n---\n%s\n---\n",
               err->message, text);
      abort ();
    }
  if (!fw_recipe_equal (r, r2))
    {
      g_autofree char *text2 = fw_recipe_to_data (r2);
      fprintf (stderr, "written recipe loads into a different recipe\n---\n%s\n--- written again:\n%s\n---\n",
               text, text2);
      abort ();
    }
  return 0;
}
