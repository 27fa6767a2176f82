/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-train.h: the Train page: a recipe's settings, live curves while it trains, the test
 * results (confusion matrix, per-class accuracy, mistakes) and the run history. */
#pragma once

#include <gtk/gtk.h>

#include "fw-dataset.h"
#include "fw-recipe.h"

G_BEGIN_DECLS

#define FW_TYPE_PAGE_TRAIN (fw_page_train_get_type ())
G_DECLARE_FINAL_TYPE (FwPageTrain, fw_page_train, FW, PAGE_TRAIN, GtkWidget)

/* The dataset to train on (the Data page's choice); ds may be NULL (only the spec is known). */
void      fw_page_train_set_dataset   (FwPageTrain *self, const char *spec, FwDataset *ds);
/* The form's settings as a recipe (transfer full), and back. */
FwRecipe *fw_page_train_get_recipe    (FwPageTrain *self);
void      fw_page_train_set_recipe    (FwPageTrain *self, const FwRecipe *recipe);
/* Starts a training job with the form's recipe (the win.train-start action). */
void      fw_page_train_start         (FwPageTrain *self);
gboolean  fw_page_train_is_running    (FwPageTrain *self);
/* Pause button label follows the job's state. */
void      fw_page_train_sync_buttons  (FwPageTrain *self);
/* Open / save dialogs for recipes (.ini). */
void      fw_page_train_open_recipe   (FwPageTrain *self);
void      fw_page_train_save_recipe   (FwPageTrain *self);
/* "N labels per class" (0 = all). */
void      fw_page_train_set_per_class (FwPageTrain *self, int per_class);
/* Font scale of every plot on the page (presentation mode). */
void      fw_page_train_set_font_scale (FwPageTrain *self, double scale);
/* Adds the runs found in dir (one folder per run with a metrics.csv) to the history. */
void      fw_page_train_scan_runs     (FwPageTrain *self, const char *dir);

G_END_DECLS
