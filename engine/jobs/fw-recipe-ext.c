/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-recipe-ext.c: the table of recipe extensions and the typed readers of their keys. */
#include "fw-recipe-ext.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"

/* One line per feature (declared in fw-recipe-ext.h). */
static const FwRecipeExt *const exts[] = {
  &fw_aug_sweep_recipe_ext,
  &fw_grow_recipe_ext,
  &fw_transfer_recipe_ext,
  &fw_quant_recipe_ext,
  &fw_cluster_recipe_ext,
  &fw_weak_recipe_ext,
  &fw_active_recipe_ext,
  &fw_calibrate_recipe_ext,
  &fw_prune_recipe_ext,
  &fw_decompose_recipe_ext,
  &fw_distill_recipe_ext,
  &fw_compare_recipe_ext,
  &fw_lecture_recipe_ext,
  NULL,
};

/* the table plus fw_recipe_ext_register()ed ones, NULL-terminated; built on first use */
static GPtrArray *all;

static GPtrArray *
all_exts (void)
{
  if (all == NULL)
    {
      all = g_ptr_array_new ();
      for (int i = 0; exts[i] != NULL; i++)
        g_ptr_array_add (all, (gpointer) exts[i]);
      g_ptr_array_add (all, NULL);
    }
  return all;
}

void
fw_recipe_ext_register (const FwRecipeExt *ext)
{
  g_return_if_fail (ext != NULL && ext->group != NULL);
  GPtrArray *a = all_exts ();
  g_ptr_array_insert (a, (int) a->len - 1, (gpointer) ext);
}

const FwRecipeExt *const *
fw_recipe_exts (void)
{
  return (const FwRecipeExt *const *) all_exts ()->pdata;
}

const FwRecipeExt *
fw_recipe_ext_lookup (const char *group)
{
  for (const FwRecipeExt *const *e = fw_recipe_exts (); *e != NULL; e++)
    if (g_strcmp0 ((*e)->group, group) == 0)
      return *e;
  return NULL;
}

gboolean
fw_recipe_has_group (const FwRecipe *r, const char *group)
{
  return r->kf != NULL && g_key_file_has_group (r->kf, group);
}

const FwRecipeExt *
fw_recipe_ext_of (const FwRecipe *r)
{
  for (const FwRecipeExt *const *e = fw_recipe_exts (); *e != NULL; e++)
    if ((*e)->run != NULL && fw_recipe_has_group (r, (*e)->group))
      return *e;
  return NULL;
}

/* "prune.ini" for error messages */
static char *
file_label (const FwRecipe *r)
{
  if (r->path != NULL)
    return g_path_get_basename (r->path);
  return g_strdup_printf ("%s.ini", r->name != NULL ? r->name : "recipe");
}

/* the stripped raw value, or NULL when absent */
static char *
raw_value (const FwRecipe *r, const char *group, const char *key)
{
  if (r->kf == NULL || !g_key_file_has_key (r->kf, group, key, NULL))
    return NULL;
  char *v = g_key_file_get_value (r->kf, group, key, NULL);
  return v != NULL ? g_strstrip (v) : NULL;
}

static gboolean G_GNUC_PRINTF (5, 6)
value_error (GError **error, const FwRecipe *r, const char *group, const char *key,
             const char *format, ...)
{
  g_autofree char *file = file_label (r);
  va_list ap;
  va_start (ap, format);
  g_autofree char *msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [%s] %s: %s", file, group, key, msg);
  return FALSE;
}

static gboolean
parse_int (const char *s, gint64 *out)
{
  char *end = NULL;
  errno = 0;
  gint64 v = g_ascii_strtoll (s, &end, 10);
  if (end == s || *end != '\0' || errno != 0)
    return FALSE;
  *out = v;
  return TRUE;
}

static gboolean
parse_double (const char *s, double *out)
{
  char *end = NULL;
  double v = g_ascii_strtod (s, &end);
  if (end == s || *end != '\0' || !isfinite (v))
    return FALSE;
  *out = v;
  return TRUE;
}

gboolean
fw_recipe_ext_get_int (const FwRecipe *r, const char *group, const char *key, int def, int min,
                       int max, int *out, GError **error)
{
  g_autofree char *v = raw_value (r, group, key);
  if (v == NULL)
    {
      *out = def;
      return TRUE;
    }
  gint64 x;
  if (!parse_int (v, &x))
    return value_error (error, r, group, key, "'%s' is not a whole number — write e.g. %d", v,
                        def);
  if (x < min || x > max)
    return value_error (error, r, group, key, "%s is not in [%d, %d]", v, min, max);
  *out = (int) x;
  return TRUE;
}

gboolean
fw_recipe_ext_get_double (const FwRecipe *r, const char *group, const char *key, double def,
                          double min, double max, double *out, GError **error)
{
  g_autofree char *v = raw_value (r, group, key);
  if (v == NULL)
    {
      *out = def;
      return TRUE;
    }
  double x;
  if (!parse_double (v, &x))
    return value_error (error, r, group, key, "'%s' is not a number — write e.g. %g", v, def);
  if (x < min || x > max)
    return value_error (error, r, group, key, "%s is not in [%g, %g]", v, min, max);
  *out = x;
  return TRUE;
}

gboolean
fw_recipe_ext_get_bool (const FwRecipe *r, const char *group, const char *key, gboolean def,
                        gboolean *out, GError **error)
{
  g_autofree char *v = raw_value (r, group, key);
  if (v == NULL)
    {
      *out = def;
      return TRUE;
    }
  if (g_ascii_strcasecmp (v, "true") == 0 || strcmp (v, "1") == 0)
    *out = TRUE;
  else if (g_ascii_strcasecmp (v, "false") == 0 || strcmp (v, "0") == 0)
    *out = FALSE;
  else
    return value_error (error, r, group, key, "'%s' is not a truth value — write true or false",
                        v);
  return TRUE;
}

gboolean
fw_recipe_ext_get_choice (const FwRecipe *r, const char *group, const char *key,
                          const char *const *choices, int def, int *out, GError **error)
{
  g_autofree char *v = raw_value (r, group, key);
  if (v == NULL)
    {
      *out = def;
      return TRUE;
    }
  for (int i = 0; choices[i] != NULL; i++)
    if (strcmp (choices[i], v) == 0)
      {
        *out = i;
        return TRUE;
      }
  g_autofree char *list = g_strjoinv (" | ", (char **) choices);
  return value_error (error, r, group, key, "'%s' is not one of %s", v, list);
}

char *
fw_recipe_ext_get_string (const FwRecipe *r, const char *group, const char *key,
                          const char *def)
{
  if (r->kf == NULL || !g_key_file_has_key (r->kf, group, key, NULL))
    return g_strdup (def);
  char *v = g_key_file_get_string (r->kf, group, key, NULL);
  if (v == NULL)
    return g_strdup (def);
  return g_strstrip (v);
}

static GArray *
get_list (const FwRecipe *r, const char *group, const char *key, const char *def,
          gboolean integers, double min, double max, GError **error)
{
  g_autofree char *v = raw_value (r, group, key);
  const char *text = v != NULL ? v : def;
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, integers ? sizeof (int) : sizeof (double));
  g_auto (GStrv) parts = g_strsplit (text != NULL ? text : "", ",", -1);
  for (int i = 0; parts[i] != NULL; i++)
    {
      g_strstrip (parts[i]);
      if (parts[i][0] == '\0' && parts[i + 1] == NULL && i > 0)
        break; /* a trailing comma */
      gint64 n = 0;
      double x = 0;
      gboolean ok = integers ? parse_int (parts[i], &n) : parse_double (parts[i], &x);
      if (integers)
        x = (double) n;
      if (!ok || x < min || x > max)
        {
          value_error (error, r, group, key, "'%s' in '%s' is not a %s in [%g, %g] — write a "
                       "comma-separated list, e.g. 1,5,10", parts[i], text,
                       integers ? "whole number" : "number", min, max);
          return NULL;
        }
      if (integers)
        {
          int iv = (int) n;
          g_array_append_val (out, iv);
        }
      else
        g_array_append_val (out, x);
    }
  if (out->len == 0)
    {
      value_error (error, r, group, key, "the list is empty — write e.g. 1,5,10");
      return NULL;
    }
  return g_steal_pointer (&out);
}

GArray *
fw_recipe_ext_get_int_list (const FwRecipe *r, const char *group, const char *key,
                            const char *def, int min, int max, GError **error)
{
  return get_list (r, group, key, def, TRUE, min, max, error);
}

GArray *
fw_recipe_ext_get_double_list (const FwRecipe *r, const char *group, const char *key,
                               const char *def, double min, double max, GError **error)
{
  return get_list (r, group, key, def, FALSE, min, max, error);
}

void
fw_recipe_ext_set (FwRecipe *r, const char *group, const char *key, const char *value)
{
  g_return_if_fail (fw_recipe_ext_lookup (group) != NULL);
  /* copy on write: other copies of the recipe share the old key file */
  GKeyFile *kf = g_key_file_new ();
  if (r->kf != NULL)
    {
      g_autofree char *data = g_key_file_to_data (r->kf, NULL, NULL);
      g_key_file_load_from_data (kf, data, (gsize) -1, G_KEY_FILE_KEEP_COMMENTS, NULL);
      g_key_file_unref (r->kf);
    }
  r->kf = kf;
  if (value != NULL)
    g_key_file_set_string (kf, group, key, value);
  else
    g_key_file_remove_key (kf, group, key, NULL);
}
