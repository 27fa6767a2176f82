/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-embed.h: the Embeddings page: raw pixels or a shelf model's layer features projected
 * to 2-D by PCA or t-SNE (live), coloured by class, correctness or confidence. */
#pragma once

#include <gtk/gtk.h>

#include "fw-dataset.h"
#include "fw-model.h"

G_BEGIN_DECLS

#define FW_TYPE_PAGE_EMBED (fw_page_embed_get_type ())
G_DECLARE_FINAL_TYPE (FwPageEmbed, fw_page_embed, FW, PAGE_EMBED, GtkWidget)

/* The dataset to embed; NULL (the default) follows the Data page's dataset. Takes a ref. */
void      fw_page_embed_set_dataset   (FwPageEmbed *self, FwDataset *ds);
/* The same for a dataset with noisy labels (ds->y) whose true labels are known
 * (true_labels[ds->n], copied): "Colour by: noisy / clean label" marks the flipped samples
 * (for the Noise page's data). */
void      fw_page_embed_set_noisy_dataset (FwPageEmbed *self, FwDataset *ds,
                                           const gint32 *true_labels);
/* Other pages' "show the embedding" for a model of the shelf: selects it as the source (its
 * last hidden layer) and starts the job (the window should show the page). FALSE when the
 * model is not on the shelf or a job of the page is running. */
gboolean  fw_page_embed_show_model    (FwPageEmbed *self, FwModel *model);
/* Starts the embedding job with the form's settings (the embed.run action, Ctrl+R). */
void      fw_page_embed_run           (FwPageEmbed *self);
gboolean  fw_page_embed_is_running    (FwPageEmbed *self);
/* Font scale of the plot (presentation mode). */
void      fw_page_embed_set_font_scale (FwPageEmbed *self, double scale);

G_END_DECLS
