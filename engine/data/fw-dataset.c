/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "fw-dataset.h"

#include <math.h>
#include <string.h>

#include "fw-util.h"

static void
dataset_clear (gpointer data)
{
  FwDataset *ds = data;
  g_free (ds->name);
  g_free (ds->source);
  fw_free_aligned (ds->x);
  g_free (ds->y);
  g_strfreev (ds->class_names);
}

FwDataset *
fw_dataset_new (const char *name, int n, FwShape shape, int n_classes)
{
  FwDataset *ds = g_atomic_rc_box_new0 (FwDataset);
  ds->name = g_strdup (name);
  ds->n = n;
  ds->shape = shape;
  ds->n_classes = n_classes;
  ds->x = fw_alloc_floats ((gsize) n * fw_shape_size (shape));
  ds->y = g_new0 (gint32, MAX (n, 1));
  ds->class_names = g_new0 (char *, n_classes + 1);
  for (int i = 0; i < n_classes; i++)
    ds->class_names[i] = g_strdup_printf ("%d", i);
  return ds;
}

FwDataset *
fw_dataset_ref (FwDataset *ds)
{
  return g_atomic_rc_box_acquire (ds);
}

void
fw_dataset_unref (FwDataset *ds)
{
  if (ds != NULL)
    g_atomic_rc_box_release_full (ds, dataset_clear);
}

FwDataset *
fw_dataset_subset (const FwDataset *ds, const gint32 *idx, int n, const char *name)
{
  FwDataset *s = fw_dataset_new (name != NULL ? name : ds->name, n, ds->shape, ds->n_classes);
  gsize sz = fw_dataset_sample_size (ds);
  for (int i = 0; i < n; i++)
    {
      g_assert (idx[i] >= 0 && idx[i] < ds->n);
      memcpy (s->x + (gsize) i * sz, ds->x + (gsize) idx[i] * sz, sizeof (float) * sz);
      s->y[i] = ds->y[idx[i]];
    }
  g_strfreev (s->class_names);
  s->class_names = g_strdupv (ds->class_names);
  s->source = g_strdup (ds->source);
  return s;
}

/* Indices grouped by class, each group shuffled with the seed. */
static GArray **
shuffled_by_class (const FwDataset *ds, guint64 seed)
{
  FwRng root, rng;
  fw_rng_init (&root, seed);
  fw_rng_split (&root, FW_RNG_SPLIT, &rng);
  GArray **by = g_new0 (GArray *, ds->n_classes);
  for (int c = 0; c < ds->n_classes; c++)
    by[c] = g_array_new (FALSE, FALSE, sizeof (gint32));
  for (gint32 i = 0; i < ds->n; i++)
    g_array_append_val (by[ds->y[i]], i);
  for (int c = 0; c < ds->n_classes; c++)
    fw_rng_shuffle (&rng, (gint32 *) by[c]->data, by[c]->len);
  return by;
}

static void
free_by_class (GArray **by, int k)
{
  for (int c = 0; c < k; c++)
    g_array_unref (by[c]);
  g_free (by);
}

static int
cmp_int (gconstpointer a, gconstpointer b)
{
  return *(const gint32 *) a - *(const gint32 *) b;
}

FwDataset *
fw_dataset_per_class (const FwDataset *ds, int per_class, guint64 seed, FwDataset **rest)
{
  GArray **by = shuffled_by_class (ds, seed);
  g_autoptr (GArray) a = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (GArray) b = g_array_new (FALSE, FALSE, sizeof (gint32));
  for (int c = 0; c < ds->n_classes; c++)
    for (guint i = 0; i < by[c]->len; i++)
      {
        gint32 v = g_array_index (by[c], gint32, i);
        if ((int) i < per_class)
          g_array_append_val (a, v);
        else
          g_array_append_val (b, v);
      }
  free_by_class (by, ds->n_classes);
  /* keep the dataset's order within the subset: deterministic and easy to browse */
  g_array_sort (a, cmp_int);
  g_array_sort (b, cmp_int);
  g_autofree char *name = g_strdup_printf ("%s, %d per class", ds->name, per_class);
  if (rest != NULL)
    *rest = fw_dataset_subset (ds, (gint32 *) b->data, b->len, ds->name);
  return fw_dataset_subset (ds, (gint32 *) a->data, a->len, name);
}

void
fw_dataset_split (const FwDataset *ds, double fraction, guint64 seed, FwDataset **part,
                  FwDataset **rest)
{
  GArray **by = shuffled_by_class (ds, seed);
  g_autoptr (GArray) a = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (GArray) b = g_array_new (FALSE, FALSE, sizeof (gint32));
  for (int c = 0; c < ds->n_classes; c++)
    {
      guint take = (guint) floor (fraction * by[c]->len + 0.5);
      for (guint i = 0; i < by[c]->len; i++)
        {
          gint32 v = g_array_index (by[c], gint32, i);
          if (i < take)
            g_array_append_val (a, v);
          else
            g_array_append_val (b, v);
        }
    }
  free_by_class (by, ds->n_classes);
  g_array_sort (a, cmp_int);
  g_array_sort (b, cmp_int);
  if (part != NULL)
    *part = fw_dataset_subset (ds, (gint32 *) a->data, a->len, ds->name);
  if (rest != NULL)
    *rest = fw_dataset_subset (ds, (gint32 *) b->data, b->len, ds->name);
}

void
fw_dataset_class_counts (const FwDataset *ds, int *counts)
{
  memset (counts, 0, sizeof (int) * ds->n_classes);
  for (int i = 0; i < ds->n; i++)
    counts[ds->y[i]]++;
}

void
fw_dataset_stats (const FwDataset *ds, float *mean, float *std)
{
  gsize m = (gsize) ds->n * fw_dataset_sample_size (ds);
  double s = 0, s2 = 0;
  for (gsize i = 0; i < m; i++)
    {
      s += ds->x[i];
      s2 += (double) ds->x[i] * ds->x[i];
    }
  double mu = m ? s / m : 0.0;
  double var = m ? s2 / m - mu * mu : 1.0;
  *mean = (float) mu;
  *std = (float) sqrt (MAX (var, 1e-12));
}
