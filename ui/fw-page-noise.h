/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-noise.h: the Noise page: the same-sample regression demo, label-noise curves filled
 * in live, and likely-mislabelled samples found by confident learning. */
#pragma once

#include <gtk/gtk.h>

#include "fw-dataset.h"
#include "fw-plot.h"

G_BEGIN_DECLS

#define FW_TYPE_PAGE_NOISE (fw_page_noise_get_type ())
G_DECLARE_FINAL_TYPE (FwPageNoise, fw_page_noise, FW, PAGE_NOISE, GtkWidget)

/* Datasets to use instead of the Data page's (train, and test or NULL = its test split or
 * a 20% hold-out); NULL train = follow the Data page again. */
void        fw_page_noise_set_datasets   (FwPageNoise *self, FwDataset *train, FwDataset *test);
/* Starts a noise-curve job with the form's settings (the "Run noise curve" button). */
void        fw_page_noise_run_curve      (FwPageNoise *self);
/* Starts the mislabel detection job (the "Find mislabelled" button). */
void        fw_page_noise_find_mislabelled (FwPageNoise *self);
gboolean    fw_page_noise_is_running     (FwPageNoise *self);
/* Opens the last detection's samples (noisy labels, true labels known) on the Embeddings page
 * ("Show in Embeddings"); FALSE without a detection or an Embeddings page. */
gboolean    fw_page_noise_show_in_embeddings (FwPageNoise *self);
void        fw_page_noise_set_font_scale (FwPageNoise *self, double scale);

/* For tests: the plots and controls. */
FwLinePlot  *fw_page_noise_get_regression_plot (FwPageNoise *self);
FwLinePlot  *fw_page_noise_get_curve_plot      (FwPageNoise *self);
FwLinePlot  *fw_page_noise_get_size_plot       (FwPageNoise *self);
FwImageGrid *fw_page_noise_get_detect_grid     (FwPageNoise *self);
GtkRange    *fw_page_noise_get_sigma_scale     (FwPageNoise *self);
GtkRange    *fw_page_noise_get_n_scale         (FwPageNoise *self);
/* The form's curve settings: rates, sizes (comma lists), seeds and epochs. */
void         fw_page_noise_set_curve_form      (FwPageNoise *self, const char *rates,
                                                const char *sizes, int seeds, int epochs);
void         fw_page_noise_set_detect_form     (FwPageNoise *self, double rate, int n);
/* Points received by the curve so far; precision/recall of the last detection (NaN before). */
guint        fw_page_noise_get_n_curve_points  (FwPageNoise *self);
void         fw_page_noise_get_detection       (FwPageNoise *self, double *precision,
                                                double *recall, int *n_flagged);

G_END_DECLS
