/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-run-dir.h: a job's run folder, written atomically.
 *
 * Files are written into a hidden "<parent>/.<name>.partial-XXXXXX" folder; commit moves them
 * into place (one rename of the folder when the target does not exist yet, else one rename per
 * file), abort removes them. A cancelled or failed job therefore leaves no folder and no file.
 *
 *   g_autoptr (FwRunDir) rd = fw_run_dir_begin (recipe, &error);     the [output] dir or
 *                                                                     runs/<name>-<stamp>
 *   fw_run_dir_write (rd, "metrics.csv", csv, -1, &error);
 *   fw_run_dir_save_model (rd, "model.safetensors", model, NULL, &error);
 *   fw_run_dir_write_recipe (rd, recipe, &error);                    recipe.ini, dir resolved
 *   g_autofree char *dir = fw_run_dir_commit (rd, &error);           the final folder
 * Freeing an FwRunDir that was not committed aborts it. */
#pragma once

#include "fw-model.h"
#include "fw-recipe.h"

G_BEGIN_DECLS

typedef struct _FwRunDir FwRunDir;

/* The folder r->out_dir, or "runs/<recipe name>-YYYYmmdd-HHMMSS" ("-2", "-3" ... when taken). */
FwRunDir   *fw_run_dir_begin        (const FwRecipe *r, GError **error);
/* The same for an explicit target folder (errors name `what`, e.g. "--out"). */
FwRunDir   *fw_run_dir_begin_at     (const char *dir, const char *what, GError **error);
/* The final folder (where files will be after commit). */
const char *fw_run_dir_target       (FwRunDir *rd);
/* The partial folder (write other files here with fw_run_dir_path). */
char       *fw_run_dir_path         (FwRunDir *rd, const char *file);
gboolean    fw_run_dir_write        (FwRunDir *rd, const char *file, const char *data,
                                     gssize len, GError **error);
/* Saves the model; *bytes (optional) receives the file's size on disk. */
gboolean    fw_run_dir_save_model   (FwRunDir *rd, const char *file, const FwModel *m,
                                     GHashTable *metadata, gint64 *bytes, GError **error);
/* The same with one metadata entry, "method": what made the model (the compare board's
 * "kind" column). */
gboolean    fw_run_dir_save_model_as (FwRunDir *rd, const char *file, const FwModel *m,
                                      const char *method, gint64 *bytes, GError **error);
/* recipe.ini: the recipe with every key, [output] dir set to the target. */
gboolean    fw_run_dir_write_recipe (FwRunDir *rd, const FwRecipe *r, GError **error);
/* Moves everything into place; returns the folder, or NULL with an error (the partial files
 * are removed). Frees rd either way (pass it with g_steal_pointer from a g_autoptr). */
char       *fw_run_dir_commit       (FwRunDir *rd, GError **error);
void        fw_run_dir_free         (FwRunDir *rd);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwRunDir, fw_run_dir_free)

/* Undoes a committed sub-run (a job that trained a base model into <target>/base and then
 * failed or was cancelled): removes the folder dir and its files (one level of sub-folders),
 * then its parent when that is left empty and parent_created. */
void        fw_run_dir_remove_committed (const char *dir, gboolean parent_created);

G_END_DECLS
