/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-model-shelf.h: the trained models of the session, shared by every page, and its view. */
#pragma once

#include <gtk/gtk.h>

#include "fw-model.h"
#include "fw-train.h"

G_BEGIN_DECLS

/* One model on the shelf: a reference to the model, its test metrics and costs. */
#define FW_TYPE_SHELF_ITEM (fw_shelf_item_get_type ())
G_DECLARE_FINAL_TYPE (FwShelfItem, fw_shelf_item, FW, SHELF_ITEM, GObject)

/* Takes a reference on model; metrics (FwEpochMetrics rows) may be NULL (copied otherwise).
 * accuracy in [0, 1] or NaN when unknown. */
FwShelfItem *fw_shelf_item_new          (const char *name, FwModel *model, double accuracy,
                                         GArray *metrics, const char *run_dir);
const char  *fw_shelf_item_get_name     (FwShelfItem *self);
const char  *fw_shelf_item_get_arch     (FwShelfItem *self);
FwModel     *fw_shelf_item_get_model    (FwShelfItem *self);   /* transfer none */
double       fw_shelf_item_get_accuracy (FwShelfItem *self);
/* Weights as stored: float and packed values (int8, fp16, codes), not sparse indices. */
gsize        fw_shelf_item_get_params   (FwShelfItem *self);
/* Bytes on disk of the saved file (fw_shelf_item_get_file) when there is one, else the fp32
 * size of the parameters. */
double       fw_shelf_item_get_bytes    (FwShelfItem *self);
GArray      *fw_shelf_item_get_metrics  (FwShelfItem *self);   /* transfer none, may be NULL */
const char  *fw_shelf_item_get_run_dir  (FwShelfItem *self);   /* may be NULL */
/* The saved .safetensors of this model: the one set, else <run_dir>/model.safetensors when it
 * exists, else NULL (the compare board then measures a temporary save). */
const char  *fw_shelf_item_get_file     (FwShelfItem *self);
void         fw_shelf_item_set_file     (FwShelfItem *self, const char *path);
/* What made the model: "trained" (default), "pruned", "int8", "low-rank", "distilled" ...
 * shown on the shelf and the compare board. */
const char  *fw_shelf_item_get_method   (FwShelfItem *self);
void         fw_shelf_item_set_method   (FwShelfItem *self, const char *method);

/* The shelf: a GListModel of FwShelfItem, in the order models were added. */
#define FW_TYPE_MODEL_SHELF (fw_model_shelf_get_type ())
G_DECLARE_FINAL_TYPE (FwModelShelf, fw_model_shelf, FW, MODEL_SHELF, GObject)

FwModelShelf *fw_model_shelf_new     (void);
FwShelfItem  *fw_model_shelf_get_item (FwModelShelf *self, guint position);  /* transfer none */
void          fw_model_shelf_add     (FwModelShelf *self, FwShelfItem *item);
void          fw_model_shelf_remove  (FwModelShelf *self, guint position);

/* A list view of the shelf with an empty state ("No model yet ..."). */
GtkWidget    *fw_model_shelf_view_new (FwModelShelf *shelf);

/* "88.9%" with one decimal, "—" for NaN. */
char         *fw_format_percent       (double fraction);

G_END_DECLS
