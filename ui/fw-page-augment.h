/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-augment.h: the Augment page: build an augmentation pipeline on one sample and see it
 * live: a grid of freshly sampled variants, the image after each step, CutMix/Mixup with their
 * label weights, and the pipeline as recipe text. */
#pragma once

#include <gtk/gtk.h>

#include "fw-augment.h"
#include "fw-dataset.h"
#include "fw-plot.h"

G_BEGIN_DECLS

#define FW_TYPE_PAGE_AUGMENT (fw_page_augment_get_type ())
G_DECLARE_FINAL_TYPE (FwPageAugment, fw_page_augment, FW, PAGE_AUGMENT, GtkWidget)

/* The dataset to take samples from; NULL = the Data page's (looked up when the page is shown). */
void         fw_page_augment_set_dataset   (FwPageAugment *self, FwDataset *ds);
/* Your own image (what dropping a file on the page does): read with gdk-pixbuf, resized to the
 * current dataset's sample shape (grey or RGB), or fitted into 64x64 without one; it becomes
 * the page's one sample. An unreadable file is an error naming it. */
gboolean     fw_page_augment_load_image    (FwPageAugment *self, const char *path,
                                            GError **error);
/* Appends an operation with its default parameters; returns its step index. */
int          fw_page_augment_add_op        (FwPageAugment *self, FwAugOp op);
/* Replaces the pipeline by one parsed from text (FALSE with an error naming the bad
 * operation or key; the pipeline is then unchanged). */
gboolean     fw_page_augment_set_pipeline_text (FwPageAugment *self, const char *text,
                                                GError **error);
/* The pipeline as recipe text ([data] augment); free with g_free. */
char        *fw_page_augment_get_pipeline_text (FwPageAugment *self);
/* Draws new random variants (the Space key). */
void         fw_page_augment_resample      (FwPageAugment *self);

/* Starts the sweep job (test accuracy vs labels per class for no augmentation, geometric,
 * RandAugment, CutMix) on the current dataset: 80% (or all but 2000) to train, the rest to
 * test. The "Run sweep" button. */
void         fw_page_augment_run_sweep     (FwPageAugment *self);
gboolean     fw_page_augment_is_running    (FwPageAugment *self);
void         fw_page_augment_set_sweep_form (FwPageAugment *self, const char *sizes, int seeds,
                                             int steps);
FwLinePlot  *fw_page_augment_get_sweep_plot (FwPageAugment *self);
/* The sweep form's labels-per-class text (free it), seeds and steps. */
char        *fw_page_augment_get_sweep_form (FwPageAugment *self, int *seeds, int *steps);

/* For tests: the slider of parameter key of step i (NULL when absent), the grids. */
GtkRange    *fw_page_augment_get_scale     (FwPageAugment *self, int step, const char *key);
FwImageGrid *fw_page_augment_get_grid      (FwPageAugment *self);
FwImageGrid *fw_page_augment_get_steps_grid (FwPageAugment *self);
FwImageGrid *fw_page_augment_get_mix_grid  (FwPageAugment *self);
/* Milliseconds the last grid refresh took. */
double       fw_page_augment_get_last_ms   (FwPageAugment *self);

G_END_DECLS
