/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-data.h: the Data page: choose or open a dataset, browse every sample, see the class
 * balance, take N labels per class. */
#pragma once

#include <gtk/gtk.h>

#include "fw-dataset.h"

G_BEGIN_DECLS

#define FW_TYPE_PAGE_DATA (fw_page_data_get_type ())
G_DECLARE_FINAL_TYPE (FwPageData, fw_page_data, FW, PAGE_DATA, GtkWidget)

/* Loads a dataset spec (fw-dataset.h) on the worker; errors go to the window's error bar. */
void       fw_page_data_load           (FwPageData *self, const char *spec);
/* Fashion-MNIST when installed, else "sim:5000". */
void       fw_page_data_load_default   (FwPageData *self);
/* Font scale of the page's plots (presentation mode). */
void       fw_page_data_set_font_scale (FwPageData *self, double scale);
/* The dataset shown (all of it, before the per-class subset), or NULL (transfer none). */
FwDataset *fw_page_data_get_dataset    (FwPageData *self);
const char *fw_page_data_get_spec      (FwPageData *self);

G_END_DECLS
