/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-sample-item.c: dataset samples as list items with lazy thumbnails; a lazy list model. */
#include "fw-sample-item.h"

#include <math.h>

struct _FwSampleItem {
  GObject parent_instance;

  FwDataset *ds;         /* owned reference */
  int index;
  GdkTexture *texture;   /* made on first use */
  int texture_min_size;
};

G_DEFINE_FINAL_TYPE (FwSampleItem, fw_sample_item, G_TYPE_OBJECT)

static void
fw_sample_item_finalize (GObject *object)
{
  FwSampleItem *self = FW_SAMPLE_ITEM (object);

  g_clear_object (&self->texture);
  g_clear_pointer (&self->ds, fw_dataset_unref);
  G_OBJECT_CLASS (fw_sample_item_parent_class)->finalize (object);
}

static void
fw_sample_item_class_init (FwSampleItemClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = fw_sample_item_finalize;
}

static void
fw_sample_item_init (FwSampleItem *self)
{
}

FwSampleItem *
fw_sample_item_new (FwDataset *ds, int index)
{
  FwSampleItem *self;

  g_return_val_if_fail (ds != NULL && index >= 0 && index < ds->n, NULL);
  self = g_object_new (FW_TYPE_SAMPLE_ITEM, NULL);
  self->ds = fw_dataset_ref (ds);
  self->index = index;
  return self;
}

int
fw_sample_item_get_index (FwSampleItem *self)
{
  return self->index;
}

int
fw_sample_item_get_label (FwSampleItem *self)
{
  return self->ds->y[self->index];
}

const char *
fw_sample_item_get_class_name (FwSampleItem *self)
{
  int y = self->ds->y[self->index];

  if (self->ds->class_names != NULL && y >= 0 && y < self->ds->n_classes
      && self->ds->class_names[y] != NULL)
    return self->ds->class_names[y];
  return NULL;
}

static guint8
to_byte (float v)
{
  if (!(v > 0))   /* also NaN */
    return 0;
  if (v >= 1)
    return 255;
  return (guint8) lrintf (v * 255.f);
}

GBytes *
fw_sample_pixels_rgb (const FwDataset *ds, int index, int scale, int *out_w, int *out_h)
{
  const float *x = ds->x + (gsize) index * fw_dataset_sample_size (ds);
  int c = ds->shape.c, h = ds->shape.h, w = ds->shape.w;
  gboolean features = (h == 1 && w == 1);
  float lo = 0, hi = 1;
  int W, H;
  guint8 *px;

  if (features)
    {
      /* a feature vector: one row of c cells, scaled to its own range */
      lo = hi = x[0];
      for (int i = 1; i < c; i++)
        {
          lo = MIN (lo, x[i]);
          hi = MAX (hi, x[i]);
        }
      if (hi - lo < 1e-12f)
        hi = lo + 1;
      w = c;
      h = 1;
    }
  W = w * scale;
  H = h * scale;
  px = g_malloc ((gsize) W * H * 3);
  for (int yy = 0; yy < H; yy++)
    for (int xx = 0; xx < W; xx++)
      {
        int sy = yy / scale, sx = xx / scale;
        guint8 *o = px + ((gsize) yy * W + xx) * 3;

        if (features)
          o[0] = o[1] = o[2] = to_byte ((x[sx] - lo) / (hi - lo));
        else if (c >= 3)
          for (int k = 0; k < 3; k++)   /* planar [c][h][w] -> interleaved RGB */
            o[k] = to_byte (x[((gsize) k * h + sy) * w + sx]);
        else
          o[0] = o[1] = o[2] = to_byte (x[(gsize) sy * w + sx]);
      }
  *out_w = W;
  *out_h = H;
  return g_bytes_new_take (px, (gsize) W * H * 3);
}

GdkTexture *
fw_sample_item_get_texture (FwSampleItem *self, int min_size)
{
  g_autoptr (GBytes) bytes = NULL;
  int w0, scale, W, H;

  if (self->texture != NULL && self->texture_min_size == min_size)
    return self->texture;
  g_clear_object (&self->texture);
  w0 = (self->ds->shape.h == 1 && self->ds->shape.w == 1) ? self->ds->shape.c
                                                          : self->ds->shape.w;
  scale = MAX (1, (min_size + w0 - 1) / MAX (w0, 1));
  bytes = fw_sample_pixels_rgb (self->ds, self->index, scale, &W, &H);
  self->texture = gdk_memory_texture_new (W, H, GDK_MEMORY_R8G8B8, bytes, (gsize) W * 3);
  self->texture_min_size = min_size;
  return self->texture;
}

/* ---- FwSampleList ---- */

struct _FwSampleList {
  GObject parent_instance;

  FwDataset *ds;   /* owned reference, may be NULL */
};

static GType
list_get_item_type (GListModel *model)
{
  return FW_TYPE_SAMPLE_ITEM;
}

static guint
list_get_n_items (GListModel *model)
{
  FwSampleList *self = FW_SAMPLE_LIST (model);
  return self->ds != NULL ? (guint) self->ds->n : 0;
}

static gpointer
list_get_item (GListModel *model, guint position)
{
  FwSampleList *self = FW_SAMPLE_LIST (model);

  if (self->ds == NULL || position >= (guint) self->ds->n)
    return NULL;
  /* made on demand: the view keeps the items of the rows it shows */
  return fw_sample_item_new (self->ds, (int) position);
}

static void
list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = list_get_item_type;
  iface->get_n_items = list_get_n_items;
  iface->get_item = list_get_item;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (FwSampleList, fw_sample_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_init))

static void
fw_sample_list_finalize (GObject *object)
{
  FwSampleList *self = FW_SAMPLE_LIST (object);

  g_clear_pointer (&self->ds, fw_dataset_unref);
  G_OBJECT_CLASS (fw_sample_list_parent_class)->finalize (object);
}

static void
fw_sample_list_class_init (FwSampleListClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = fw_sample_list_finalize;
}

static void
fw_sample_list_init (FwSampleList *self)
{
}

FwSampleList *
fw_sample_list_new (FwDataset *ds)
{
  FwSampleList *self = g_object_new (FW_TYPE_SAMPLE_LIST, NULL);

  self->ds = ds != NULL ? fw_dataset_ref (ds) : NULL;
  return self;
}

FwDataset *
fw_sample_list_get_dataset (FwSampleList *self)
{
  return self->ds;
}
