/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-selftrain.c: self-training with pseudo-labels, counting the wrong ones (see fw-weak.h). */
#include "fw-weak-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"

typedef struct {
  float conf;
  gint32 index;
} Cand;

static int
cand_cmp (const void *a, const void *b)
{
  const Cand *x = a, *y = b;
  if (x->conf != y->conf)
    return x->conf > y->conf ? -1 : 1;
  return x->index - y->index;
}

static int
int_cmp (const void *a, const void *b)
{
  return *(const gint32 *) a - *(const gint32 *) b;
}

int
fw_selftrain_select (const float *probs, int n, int k, const guint8 *taken, double threshold,
                     int topk, gint32 *picks, gint32 *labels)
{
  g_autofree Cand *cand = g_new (Cand, MAX (n, 1));
  g_autofree gint32 *pred = g_new (gint32, MAX (n, 1));
  int nc = 0;
  for (int i = 0; i < n; i++)
    {
      if (taken != NULL && taken[i])
        continue;
      const float *p = probs + (gsize) i * k;
      int best = 0;
      for (int j = 1; j < k; j++)
        if (p[j] > p[best])
          best = j;
      pred[i] = best;
      if (p[best] >= threshold)
        cand[nc++] = (Cand) { p[best], i };
    }
  int out = 0;
  if (topk <= 0)
    for (int c = 0; c < nc; c++)
      picks[out++] = cand[c].index;
  else
    {
      qsort (cand, nc, sizeof (Cand), cand_cmp);
      g_autofree int *per = g_new0 (int, k);
      for (int c = 0; c < nc; c++)
        {
          int y = pred[cand[c].index];
          if (per[y] < topk)
            {
              per[y]++;
              picks[out++] = cand[c].index;
            }
        }
      qsort (picks, out, sizeof (gint32), int_cmp);
    }
  for (int i = 0; i < out; i++)
    labels[i] = pred[picks[i]];
  return out;
}

/* labelled + the pseudo-labelled pool samples */
static FwDataset *
train_set (const FwWeakData *d, const gint32 *pseudo, const gint32 *plabels, int np)
{
  FwDataset *l = d->labelled;
  FwDataset *ds = fw_dataset_new ("labelled + pseudo-labelled", l->n + np, l->shape,
                                  l->n_classes);
  g_strfreev (ds->class_names);
  ds->class_names = g_strdupv (l->class_names);
  memcpy (ds->x, l->x, sizeof (float) * l->n * d->size);
  memcpy (ds->y, l->y, sizeof (gint32) * l->n);
  for (int i = 0; i < np; i++)
    {
      memcpy (ds->x + (gsize) (l->n + i) * d->size, d->pool->x + (gsize) pseudo[i] * d->size,
              sizeof (float) * d->size);
      ds->y[l->n + i] = plabels[i];
    }
  return ds;
}

gboolean
fw_weak_selftrain (const FwWeakConfig *c, const FwWeakData *d, FwWeakResult *r,
                   const FwWeakHooks *hooks, GCancellable *cancellable, GError **error)
{
  int n = d->pool->n, k = d->labelled->n_classes;
  g_autofree guint8 *taken = g_new0 (guint8, n);
  g_autofree gint32 *pseudo = g_new (gint32, n);
  g_autofree gint32 *plabels = g_new (gint32, n);
  g_autofree gint32 *picks = g_new (gint32, n);
  g_autofree gint32 *labels = g_new (gint32, n);
  g_autofree float *probs = g_new (float, (gsize) n * k);
  int np = 0, total_wrong = 0;
  for (int round = 0; round <= c->rounds; round++)
    {
      g_autoptr (FwDataset) ts = train_set (d, pseudo, plabels, np);
      g_autoptr (FwModel) m = fw_weak_classifier (d, k, error);
      if (m == NULL)
        return FALSE;
      /* the same number of updates as the supervised run, whatever the set's size */
      FwTrainConfig cfg = c->fine;
      cfg.seed = d->seed;
      cfg.epochs = MAX (3, (int) ceil ((double) c->fine.epochs * d->labelled->n / ts->n));
      g_autofree char *phase = g_strdup_printf ("round %d", round);
      if (!fw_weak_train (m, &cfg, ts, phase, hooks, NULL, cancellable, error))
        return FALSE;
      FwSelftrainRound sr = { .round = round, .n_train = ts->n };
      sr.test_acc = fw_weak_test_acc (m, d->test, cancellable, error);
      if (isnan (sr.test_acc))
        return FALSE;
      if (round < c->rounds)
        {
          fw_weak_probs (m, d->pool->x, n, probs);
          int added = fw_selftrain_select (probs, n, k, taken, c->threshold, c->topk, picks,
                                           labels);
          for (int i = 0; i < added; i++)
            {
              taken[picks[i]] = 1;
              pseudo[np] = picks[i];
              plabels[np] = labels[i];
              np++;
              sr.wrong += labels[i] != d->pool->y[picks[i]];
            }
          sr.added = added;
        }
      total_wrong += sr.wrong;
      sr.total_pseudo = np;
      sr.total_wrong = total_wrong;
      g_array_append_val (r->rounds, sr);
      if (hooks != NULL && hooks->round != NULL)
        hooks->round (hooks->user, &sr);
      r->fine_acc = sr.test_acc;
    }
  return TRUE;
}
