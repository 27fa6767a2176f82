/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-window.h: the workbench window: header bar (dataset, running job), the pages in course
 * order, the model shelf, and the in-window error bar and toasts. */
#pragma once

#include <adwaita.h>

#include "fw-application.h"
#include "fw-job.h"
#include "fw-recipe.h"

G_BEGIN_DECLS

#define FW_TYPE_WINDOW (fw_window_get_type ())
G_DECLARE_FINAL_TYPE (FwWindow, fw_window, FW, WINDOW, AdwApplicationWindow)

FwWindow     *fw_window_new             (FwApplication *app);

/* The window that contains widget, or NULL. */
FwWindow     *fw_window_for_widget      (GtkWidget *widget);

/* Runs a job on the application's worker. The window shows it in the header bar, shows an
 * error bar when it fails, then forwards every event to on_event (main thread). The job is
 * cancelled when the window closes. Returns a new reference. */
FwJob        *fw_window_submit_job      (FwWindow *self, const char *name, FwJobFunc run,
                                         gpointer data, GDestroyNotify data_free,
                                         FwEventFunc on_event, gpointer user_data);

/* The error bar under the header bar (stays until dismissed or the next success). */
void          fw_window_show_error      (FwWindow *self, const char *message);
void          fw_window_clear_error     (FwWindow *self);
void          fw_window_show_toast      (FwWindow *self, const char *text);

/* The data page loaded a dataset: header label and the Train page follow. */
void          fw_window_dataset_changed (FwWindow *self, const char *spec, FwDataset *ds);

/* Opens a recipe .ini: the Data page loads its dataset; a plain training recipe goes to the
 * Train page; a recipe with an extension's job group ([prune], [augment-sweep] ...) goes to
 * that extension's page (FwRecipeExt.page), whose recipe opener takes its settings. Errors go
 * to the error bar. */
gboolean      fw_window_open_recipe_file (FwWindow *self, const char *path);

/* A page that can take a recipe of its extension sets an opener once (in its init):
 *   fw_page_set_recipe_opener (GTK_WIDGET (self), my_open_recipe);
 * The opener fills the page's form from the recipe (it may start the job); it runs on the
 * main thread with the page already shown. */
typedef void (*FwRecipeOpener) (GtkWidget *page, const FwRecipe *recipe);
void          fw_page_set_recipe_opener (GtkWidget *page, FwRecipeOpener opener);

/* The spec of the dataset the Data page holds ("fashion-mnist", "folder:/x" ...). */
const char   *fw_window_get_data_spec   (FwWindow *self);
/* The Data page's dataset (all of it), or NULL (transfer none). */
FwDataset    *fw_window_get_dataset     (FwWindow *self);

void          fw_window_set_action_enabled (FwWindow *self, const char *name, gboolean enabled);

FwJobRunner  *fw_window_get_runner      (FwWindow *self);
FwModelShelf *fw_window_get_shelf       (FwWindow *self);
const char   *fw_window_get_runs_dir    (FwWindow *self);

G_END_DECLS
