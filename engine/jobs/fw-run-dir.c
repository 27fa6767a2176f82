/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-run-dir.c: a job's run folder, written atomically (see fw-run-dir.h). */
#include "fw-run-dir.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "fw-error.h"
#include "fw-safetensors.h"

struct _FwRunDir {
  char *target;
  char *partial;
  GPtrArray *files;   /* names written, in order */
  gboolean spent;
};

/* "runs/<name>-YYYYmmdd-HHMMSS", with "-2", "-3" ... when taken. */
static char *
default_run_dir (const FwRecipe *r)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *base = g_strdup_printf ("%s-%s", r->name != NULL ? r->name : "run", stamp);
  char *dir = g_build_filename ("runs", base, NULL);
  for (int i = 2; g_file_test (dir, G_FILE_TEST_EXISTS) && i < 1000; i++)
    {
      g_free (dir);
      g_autofree char *b2 = g_strdup_printf ("%s-%d", base, i);
      dir = g_build_filename ("runs", b2, NULL);
    }
  return dir;
}

FwRunDir *
fw_run_dir_begin_at (const char *dir, const char *what, GError **error)
{
  g_autofree char *parent = g_path_get_dirname (dir);
  if (g_mkdir_with_parents (parent, 0755) != 0)
    {
      int e = errno;
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "%s: cannot create %s: %s — choose a writable "
                   "folder", what, parent, g_strerror (e));
      return NULL;
    }
  if (g_file_test (dir, G_FILE_TEST_EXISTS) && !g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "%s: %s exists and is not a folder — choose "
                   "another folder", what, dir);
      return NULL;
    }
  g_autofree char *base = g_path_get_basename (dir);
  char *partial = g_strdup_printf ("%s/.%s.partial-XXXXXX", parent, base);
  if (g_mkdtemp (partial) == NULL)
    {
      int e = errno;
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "%s: cannot create a folder in %s: %s — choose "
                   "a writable folder", what, parent, g_strerror (e));
      g_free (partial);
      return NULL;
    }
  FwRunDir *rd = g_new0 (FwRunDir, 1);
  rd->target = g_strdup (dir);
  rd->partial = partial;
  rd->files = g_ptr_array_new_with_free_func (g_free);
  return rd;
}

FwRunDir *
fw_run_dir_begin (const FwRecipe *r, GError **error)
{
  g_autofree char *dir = r->out_dir != NULL && *r->out_dir ? g_strdup (r->out_dir)
                                                           : default_run_dir (r);
  g_autofree char *what = g_strdup_printf ("%s: [output] dir",
                                           r->path != NULL ? r->path
                                           : r->name != NULL ? r->name : "recipe");
  return fw_run_dir_begin_at (dir, what, error);
}

const char *
fw_run_dir_target (FwRunDir *rd)
{
  return rd->target;
}

static void
note_file (FwRunDir *rd, const char *file)
{
  for (guint i = 0; i < rd->files->len; i++)
    if (g_strcmp0 (g_ptr_array_index (rd->files, i), file) == 0)
      return;
  g_ptr_array_add (rd->files, g_strdup (file));
}

char *
fw_run_dir_path (FwRunDir *rd, const char *file)
{
  g_return_val_if_fail (strchr (file, '/') == NULL, NULL);
  note_file (rd, file);
  return g_build_filename (rd->partial, file, NULL);
}

gboolean
fw_run_dir_write (FwRunDir *rd, const char *file, const char *data, gssize len, GError **error)
{
  g_autofree char *path = fw_run_dir_path (rd, file);
  g_autoptr (GError) local = NULL;
  if (!g_file_set_contents (path, data, len, &local))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "cannot write %s: %s — check the disk space "
                   "and permissions", path, local->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
fw_run_dir_save_model (FwRunDir *rd, const char *file, const FwModel *m, GHashTable *metadata,
                       gint64 *bytes, GError **error)
{
  g_autofree char *path = fw_run_dir_path (rd, file);
  if (!fw_model_save (m, path, metadata, error))
    return FALSE;
  if (bytes != NULL)
    {
      GStatBuf st;
      *bytes = g_stat (path, &st) == 0 ? (gint64) st.st_size : -1;
    }
  return TRUE;
}

gboolean
fw_run_dir_save_model_as (FwRunDir *rd, const char *file, const FwModel *m, const char *method,
                          gint64 *bytes, GError **error)
{
  g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (meta, (gpointer) "method", (gpointer) method);
  return fw_run_dir_save_model (rd, file, m, meta, bytes, error);
}

gboolean
fw_run_dir_write_recipe (FwRunDir *rd, const FwRecipe *r, GError **error)
{
  g_autoptr (FwRecipe) resolved = fw_recipe_copy (r);
  g_free (resolved->out_dir);
  resolved->out_dir = g_strdup (rd->target);
  g_autofree char *text = fw_recipe_to_data (resolved);
  return fw_run_dir_write (rd, "recipe.ini", text, -1, error);
}

static void
remove_partial (FwRunDir *rd)
{
  for (guint i = 0; i < rd->files->len; i++)
    {
      g_autofree char *p = g_build_filename (rd->partial, g_ptr_array_index (rd->files, i),
                                             NULL);
      g_unlink (p);
    }
  g_rmdir (rd->partial);
}

static void
remove_files (const char *dir, int depth)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *e;
  while (d != NULL && (e = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (dir, e, NULL);
      if (depth > 0 && g_file_test (p, G_FILE_TEST_IS_DIR) && !g_file_test (p, G_FILE_TEST_IS_SYMLINK))
        remove_files (p, depth - 1);
      else
        g_unlink (p);
    }
  g_rmdir (dir);
}

void
fw_run_dir_remove_committed (const char *dir, gboolean parent_created)
{
  remove_files (dir, 1);
  if (parent_created)
    {
      g_autofree char *parent = g_path_get_dirname (dir);
      g_rmdir (parent); /* only when empty */
    }
}

static char *commit (FwRunDir *rd, GError **error);

char *
fw_run_dir_commit (FwRunDir *rd, GError **error)
{
  g_return_val_if_fail (rd != NULL && !rd->spent, NULL);
  rd->spent = TRUE;
  char *dir = commit (rd, error);
  fw_run_dir_free (rd);
  return dir;
}

static char *
commit (FwRunDir *rd, GError **error)
{
  if (!g_file_test (rd->target, G_FILE_TEST_EXISTS))
    {
      if (g_rename (rd->partial, rd->target) == 0)
        return g_strdup (rd->target);
      if (!g_file_test (rd->target, G_FILE_TEST_EXISTS))
        {
          int e = errno;
          g_set_error (error, FW_ERROR, FW_ERROR_IO, "cannot move %s to %s: %s", rd->partial,
                       rd->target, g_strerror (e));
          remove_partial (rd);
          return NULL;
        }
    }
  if (!g_file_test (rd->target, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "%s exists and is not a folder — choose "
                   "another output folder", rd->target);
      remove_partial (rd);
      return NULL;
    }
  /* into an existing folder: file by file (each rename atomic), models last, so that a model
   * file next to the others means they are all complete */
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < rd->files->len; i++)
      {
        const char *f = g_ptr_array_index (rd->files, i);
        if (g_str_has_suffix (f, ".safetensors") != (pass == 1))
          continue;
        g_autofree char *from = g_build_filename (rd->partial, f, NULL);
        g_autofree char *to = g_build_filename (rd->target, f, NULL);
        if (!g_file_test (from, G_FILE_TEST_EXISTS))
          continue;
        if (g_rename (from, to) != 0)
          {
            int e = errno;
            g_set_error (error, FW_ERROR, FW_ERROR_IO, "cannot move %s to %s: %s", from, to,
                         g_strerror (e));
            remove_partial (rd);
            return NULL;
          }
      }
  g_rmdir (rd->partial);
  return g_strdup (rd->target);
}

void
fw_run_dir_free (FwRunDir *rd)
{
  if (rd == NULL)
    return;
  if (!rd->spent)
    remove_partial (rd);
  g_free (rd->target);
  g_free (rd->partial);
  g_ptr_array_unref (rd->files);
  g_free (rd);
}
