/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-compress.h: the Compress page: pick a shelf model and a method; each method is a
 * panel (its controls and its visualisation) in a stack; results go onto the shelf and so onto
 * the compare board.
 *
 * Adding a method (one line in fw_page_compress_init, or from anywhere before the page shows):
 *   fw_page_compress_add_method (page, "quant", "Quantization", fw_quant_panel_new (page));
 * A panel reads the chosen model with fw_page_compress_get_item() (and follows the signal
 * "item-changed"), lays itself out with fw_compress_panel_new (controls, viz) so every method
 * looks alike, runs its job with fw_window_submit_job(), and hands its result to
 * fw_page_compress_add_result(). */
#pragma once

#include <gtk/gtk.h>

#include "fw-model-shelf.h"
#include "fw-window.h"

G_BEGIN_DECLS

#define FW_TYPE_PAGE_COMPRESS (fw_page_compress_get_type ())
G_DECLARE_FINAL_TYPE (FwPageCompress, fw_page_compress, FW, PAGE_COMPRESS, GtkWidget)

/* Adds a method: @title in the Method drop-down, @panel (floating reference taken) in the
 * stack under @id. The first method added is the one shown. */
void         fw_page_compress_add_method (FwPageCompress *page, const char *id,
                                          const char *title, GtkWidget *panel);
/* Shows method @id; FALSE when there is no such method. */
gboolean     fw_page_compress_set_method (FwPageCompress *page, const char *id);
const char  *fw_page_compress_get_method (FwPageCompress *page);
GtkWidget   *fw_page_compress_get_panel  (FwPageCompress *page, const char *id);

/* The shelf the Model drop-down lists (the window's, taken when the page is first shown). */
void          fw_page_compress_set_shelf (FwPageCompress *page, FwModelShelf *shelf);
FwModelShelf *fw_page_compress_get_shelf (FwPageCompress *page);
/* The chosen shelf model, or NULL (transfer none). Signal "item-changed" when it changes. */
FwShelfItem  *fw_page_compress_get_item  (FwPageCompress *page);
void          fw_page_compress_select    (FwPageCompress *page, guint position);

/* Puts a compressed model on the shelf (so on the compare board): @file is its saved
 * .safetensors (measured on disk by the board), @method its tag ("pruned", "int8" ...). Shows a
 * toast. Returns the new item (transfer none). */
FwShelfItem  *fw_page_compress_add_result (FwPageCompress *page, const char *name,
                                           const char *method, FwModel *model, double accuracy,
                                           const char *file, const char *run_dir);

/* Submits a method's job on the window: `run` (a recipe extension's job) gets recipe r (taken)
 * with the shelf item's model under [group] key: its file, or (a model without a file) a copy
 * that the job saves to a temporary file first (the shelf's model belongs to the main thread;
 * the file is removed with the job). Events go to on_event (data). */
FwJob        *fw_page_compress_submit_job (FwWindow *win, const char *job_name, FwJobFunc run,
                                           FwRecipe *r, const char *group, const char *key,
                                           FwShelfItem *item, FwEventFunc on_event,
                                           gpointer data);

/* The standard layout of a method panel: @controls in a narrow scrolled column on the left
 * (style class fw-controls), a separator, @viz filling the rest (style class fw-viz). */
GtkWidget    *fw_compress_panel_new       (GtkWidget *controls, GtkWidget *viz);

void          fw_page_compress_set_font_scale (FwPageCompress *page, double scale);

G_END_DECLS
