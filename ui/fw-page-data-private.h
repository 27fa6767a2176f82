/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-data-private.h: what tests read from the Data page. */
#pragma once

#include "fw-page-data.h"
#include "fw-plot.h"

G_BEGIN_DECLS

/* The samples in the grid (after the per-class filter). */
GListModel    *fw_page_data_get_grid_model  (FwPageData *self);
FwBarChart    *fw_page_data_get_histogram   (FwPageData *self);
GtkSpinButton *fw_page_data_get_per_class_spin (FwPageData *self);
GtkDropDown   *fw_page_data_get_dropdown    (FwPageData *self);
GtkGridView   *fw_page_data_get_grid_view   (FwPageData *self);
/* TRUE while a load job is queued or running. */
gboolean       fw_page_data_is_loading      (FwPageData *self);

G_END_DECLS
