/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-embed.h: the Embeddings page: raw pixels or a shelf model's layer features projected
 * to 2-D by PCA or t-SNE (live), coloured by class, correctness or confidence. */
#pragma once

#include <gtk/gtk.h>

#include "fw-dataset.h"

G_BEGIN_DECLS

#define FW_TYPE_PAGE_EMBED (fw_page_embed_get_type ())
G_DECLARE_FINAL_TYPE (FwPageEmbed, fw_page_embed, FW, PAGE_EMBED, GtkWidget)

/* The dataset to embed; NULL (the default) follows the Data page's dataset. Takes a ref. */
void      fw_page_embed_set_dataset   (FwPageEmbed *self, FwDataset *ds);
/* Starts the embedding job with the form's settings (the embed.run action, Ctrl+R). */
void      fw_page_embed_run           (FwPageEmbed *self);
gboolean  fw_page_embed_is_running    (FwPageEmbed *self);
/* Font scale of the plot (presentation mode). */
void      fw_page_embed_set_font_scale (FwPageEmbed *self, double scale);

G_END_DECLS
