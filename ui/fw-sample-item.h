/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-sample-item.h: one dataset sample as a list item (index + lazily made thumbnail), and a
 * GListModel over a dataset that makes items on demand, so a 60k-sample grid costs only the
 * rows on screen. */
#pragma once

#include <gtk/gtk.h>

#include "fw-dataset.h"

G_BEGIN_DECLS

#define FW_TYPE_SAMPLE_ITEM (fw_sample_item_get_type ())
G_DECLARE_FINAL_TYPE (FwSampleItem, fw_sample_item, FW, SAMPLE_ITEM, GObject)

/* Takes a reference on ds. */
FwSampleItem *fw_sample_item_new         (FwDataset *ds, int index);
int           fw_sample_item_get_index   (FwSampleItem *self);
int           fw_sample_item_get_label   (FwSampleItem *self);
const char   *fw_sample_item_get_class_name (FwSampleItem *self);
/* The sample's picture, made on first use, nearest-neighbour upscaled by an integer factor
 * so the image is at least min_size pixels wide (crisp pixels). Grey for 1 channel, RGB for 3;
 * feature vectors (CSV) are drawn as one row of grey cells. (transfer none) */
GdkTexture   *fw_sample_item_get_texture (FwSampleItem *self, int min_size);

/* Builds the RGB24 pixels of sample index of ds upscaled by scale: returns a new GBytes of
 * height*scale rows of width*scale*3 bytes; out_w/out_h receive the size. */
GBytes       *fw_sample_pixels_rgb       (const FwDataset *ds, int index, int scale,
                                          int *out_w, int *out_h);

#define FW_TYPE_SAMPLE_LIST (fw_sample_list_get_type ())
G_DECLARE_FINAL_TYPE (FwSampleList, fw_sample_list, FW, SAMPLE_LIST, GObject)

/* All samples of ds (may be NULL: empty). Takes a reference. */
FwSampleList *fw_sample_list_new         (FwDataset *ds);
FwDataset    *fw_sample_list_get_dataset (FwSampleList *self);   /* transfer none */

G_END_DECLS
