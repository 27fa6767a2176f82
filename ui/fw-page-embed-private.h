/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-embed-private.h: what tests read from the Embeddings page. */
#pragma once

#include "fw-page-embed.h"
#include "fw-plot.h"
#include "fw-plot-view.h"

G_BEGIN_DECLS

/* colour modes (the "Colour by" drop-down's positions) */
enum {
  FW_EMBED_COLOR_CLASS,
  FW_EMBED_COLOR_CORRECT,
  FW_EMBED_COLOR_CONFIDENCE,
  FW_EMBED_COLOR_NOISY,
};

FwScatterPlot *fw_page_embed_get_scatter        (FwPageEmbed *self);
FwPlotView    *fw_page_embed_get_view           (FwPageEmbed *self);
GtkDropDown   *fw_page_embed_get_source_dropdown (FwPageEmbed *self);
GtkDropDown   *fw_page_embed_get_layer_dropdown (FwPageEmbed *self);
GtkDropDown   *fw_page_embed_get_method_dropdown (FwPageEmbed *self);
GtkDropDown   *fw_page_embed_get_color_dropdown (FwPageEmbed *self);
GtkSpinButton *fw_page_embed_get_points_spin    (FwPageEmbed *self);
GtkSpinButton *fw_page_embed_get_iter_spin      (FwPageEmbed *self);
/* Dataset indices and labels of the points shown ([n], NULL before a run). */
const gint32  *fw_page_embed_get_indices        (FwPageEmbed *self, int *n);
const gint32  *fw_page_embed_get_labels         (FwPageEmbed *self, int *n);
/* Layout snapshots drawn during the last run (live t-SNE frames, the final one included). */
guint          fw_page_embed_get_n_frames       (FwPageEmbed *self);
/* The sample selected by a click, or -1. */
int            fw_page_embed_get_selected       (FwPageEmbed *self);
/* What clicking point i does. */
void           fw_page_embed_select             (FwPageEmbed *self, int i);
const char    *fw_page_embed_get_summary        (FwPageEmbed *self);

G_END_DECLS
