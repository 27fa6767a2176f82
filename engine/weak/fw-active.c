/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-active.c: active-learning query strategies and runs (see fw-active.h). */
#include "fw-active.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"
#include "fw-features.h"
#include "fw-gemm.h"
#include "fw-loss.h"
#include "fw-weak-private.h"

static const struct {
  const char *name, *title;
} queries[FW_QUERY_N] = {
  [FW_QUERY_LEAST_CONFIDENCE] = { "least-confidence", "Least confidence" },
  [FW_QUERY_MARGIN] = { "margin", "Margin" },
  [FW_QUERY_ENTROPY] = { "entropy", "Entropy" },
  [FW_QUERY_CORESET] = { "coreset", "Core-set (k-centre)" },
  [FW_QUERY_RANDOM] = { "random", "Random" },
};

const char *
fw_query_name (FwQueryStrategy s)
{
  return s < FW_QUERY_N ? queries[s].name : "?";
}

const char *
fw_query_title (FwQueryStrategy s)
{
  return s < FW_QUERY_N ? queries[s].title : "?";
}

gboolean
fw_query_from_string (const char *s, FwQueryStrategy *out)
{
  for (int i = 0; i < FW_QUERY_N; i++)
    if (g_strcmp0 (s, queries[i].name) == 0)
      {
        *out = (FwQueryStrategy) i;
        return TRUE;
      }
  return FALSE;
}

double
fw_query_score (FwQueryStrategy s, const float *p, int k)
{
  double p1 = -1.0, p2 = -1.0, h = 0.0;
  for (int j = 0; j < k; j++)
    {
      double v = p[j];
      if (v > p1)
        {
          p2 = p1;
          p1 = v;
        }
      else if (v > p2)
        p2 = v;
      if (v > 0.0)
        h -= v * log (v);
    }
  switch (s)
    {
    case FW_QUERY_LEAST_CONFIDENCE:
      return 1.0 - p1;
    case FW_QUERY_MARGIN:
      return -(p1 - p2);
    case FW_QUERY_ENTROPY:
      return h;
    default:
      return 0.0;
    }
}

typedef struct {
  double score;
  gint32 index;
} Scored;

static int
scored_cmp (const void *a, const void *b)
{
  const Scored *x = a, *y = b;
  if (x->score != y->score)
    return x->score > y->score ? -1 : 1;
  return x->index - y->index;
}

int
fw_query_select (FwQueryStrategy s, const float *probs, int n, int k, const float *emb, int d,
                 const float *centres, int n_centres, int batch, FwRng *rng, gint32 *picks)
{
  int b = MIN (batch, n);
  if (b <= 0)
    return 0;
  if (s == FW_QUERY_RANDOM)
    {
      g_autofree gint32 *perm = g_new (gint32, n);
      for (int i = 0; i < n; i++)
        perm[i] = i;
      /* partial Fisher-Yates: the first b of a uniform permutation */
      for (int i = 0; i < b; i++)
        {
          int j = i + (int) fw_rng_below (rng, (guint32) (n - i));
          gint32 t = perm[i];
          perm[i] = perm[j];
          perm[j] = t;
          picks[i] = perm[i];
        }
      return b;
    }
  if (s == FW_QUERY_CORESET)
    {
      /* dist[i] = squared distance to the nearest centre so far */
      g_autofree double *dist = g_new (double, n);
      for (int i = 0; i < n; i++)
        {
          dist[i] = INFINITY;
          for (int c = 0; c < n_centres; c++)
            dist[i] = MIN (dist[i], fw_weak_sqdist (emb + (gsize) i * d,
                                                    centres + (gsize) c * d, d));
        }
      for (int t = 0; t < b; t++)
        {
          int best = 0;
          for (int i = 1; i < n; i++)
            if (dist[i] > dist[best])
              best = i;
          picks[t] = best;
          for (int i = 0; i < n; i++)
            dist[i] = MIN (dist[i], fw_weak_sqdist (emb + (gsize) i * d,
                                                    emb + (gsize) best * d, d));
          dist[best] = -1.0;   /* never again */
        }
      return b;
    }
  g_autofree Scored *sc = g_new (Scored, n);
  for (int i = 0; i < n; i++)
    sc[i] = (Scored) { fw_query_score (s, probs + (gsize) i * k, k), i };
  qsort (sc, n, sizeof (Scored), scored_cmp);
  for (int i = 0; i < b; i++)
    picks[i] = sc[i].index;
  return b;
}

/* ---- runs ---- */

void
fw_active_point_free (FwActivePoint *p)
{
  if (p == NULL)
    return;
  g_free (p->queried);
  g_free (p->predicted);
  g_free (p);
}

FwActiveConfig *
fw_active_config_new (FwDataset *train, FwDataset *test)
{
  FwActiveConfig *c = g_new0 (FwActiveConfig, 1);
  c->train = fw_dataset_ref (train);
  c->test = fw_dataset_ref (test);
  fw_train_config_defaults (&c->cfg);
  c->cfg.opt = FW_OPT_ADAM;
  c->cfg.lr = 1e-3;
  c->cfg.epochs = 40;
  c->cfg.batch = 32;
  c->start_per_class = 2;
  c->batch = 20;
  c->rounds = 8;
  c->pool = 3000;
  c->seeds = 1;
  c->base_seed = 1;
  for (int i = 0; i < FW_QUERY_N; i++)
    c->strategies[i] = TRUE;
  c->threads = 1;
  return c;
}

void
fw_active_config_free (FwActiveConfig *c)
{
  if (c == NULL)
    return;
  g_clear_pointer (&c->train, fw_dataset_unref);
  g_clear_pointer (&c->test, fw_dataset_unref);
  g_free (c->spec);
  g_free (c);
}

void
fw_active_start (const FwActiveConfig *c, guint64 seed, gint32 **labelled, int *n_labelled,
                 gint32 **candidates, int *n_candidates)
{
  const FwDataset *ds = c->train;
  int k = ds->n_classes;
  g_autofree gint32 *perm = g_new (gint32, ds->n);
  for (int i = 0; i < ds->n; i++)
    perm[i] = i;
  FwRng root, rng;
  fw_rng_init (&root, seed);
  fw_rng_split (&root, FW_RNG_SPLIT, &rng);
  fw_rng_shuffle (&rng, perm, ds->n);
  g_autofree int *per = g_new0 (int, k);
  int pool = c->pool > 0 ? c->pool : ds->n;
  *labelled = g_new (gint32, (gsize) k * c->start_per_class + 1);
  *candidates = g_new (gint32, MIN (pool, ds->n) + 1);
  *n_labelled = 0;
  *n_candidates = 0;
  for (int i = 0; i < ds->n; i++)
    {
      int y = ds->y[perm[i]];
      if (per[y] < c->start_per_class)
        {
          per[y]++;
          (*labelled)[(*n_labelled)++] = perm[i];
        }
      else if (*n_candidates < pool)
        (*candidates)[(*n_candidates)++] = perm[i];
    }
}

/* the embedding layer for core-set: the last hidden layer's output (the layer before the
 * final dense) */
static int
embedding_layer (const FwModel *m)
{
  return MAX (m->n_layers - 2, 0);
}

gboolean
fw_active_round (const FwActiveConfig *c, FwQueryStrategy s, guint64 seed,
                 const gint32 *labelled, const gint32 *labels, int n_labelled,
                 const gint32 *candidates, int n_candidates, int batch, FwActivePoint *point,
                 GCancellable *cancellable, GError **error)
{
  const FwDataset *ds = c->train;
  int k = ds->n_classes;
  if (n_labelled < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "active learning needs at least one labelled sample to start");
      return FALSE;
    }
  g_autoptr (FwDataset) ls = fw_dataset_subset (ds, labelled, n_labelled, "labelled");
  for (int i = 0; i < n_labelled; i++)
    {
      if (labels[i] < 0 || labels[i] >= k)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "labelled sample %d has label %d outside [0, %d)", labelled[i],
                       labels[i], k);
          return FALSE;
        }
      ls->y[i] = labels[i];
    }
  g_autofree char *spec = c->spec != NULL ? g_strdup (c->spec)
                                          : g_strdup_printf ("flatten,dense:256,relu,dense:%d", k);
  float mean, std;
  fw_dataset_stats (ds, &mean, &std);
  g_autoptr (FwModel) m = fw_weak_model_new (spec, ds->shape, seed, mean, std, error);
  if (m == NULL)
    return FALSE;
  FwTrainConfig cfg = c->cfg;
  cfg.seed = seed;
  if (!fw_train (m, &cfg, ls, NULL, NULL, NULL, cancellable, NULL, error))
    return FALSE;
  g_autoptr (FwEvalResult) ev = fw_evaluate (m, c->test, 500, cancellable, error);
  if (ev == NULL)
    return FALSE;
  point->strategy = s;
  point->n_labels = n_labelled;
  point->test_acc = ev->accuracy;
  point->queried = g_new (gint32, MAX (batch, 1));
  point->predicted = g_new (gint32, MAX (batch, 1));
  point->n_queried = 0;
  if (batch <= 0 || n_candidates == 0)
    return TRUE;

  /* probabilities and embeddings of the candidates (and embeddings of the labelled) */
  g_autoptr (FwFeatures) fc = fw_features_layer (m, embedding_layer (m), ds, candidates,
                                                 n_candidates, 500, cancellable, error);
  if (fc == NULL)
    return FALSE;
  g_autofree float *probs = g_new (float, (gsize) n_candidates * k);
  gsize size = fw_dataset_sample_size (ds);
  g_autofree float *xb = g_new (float, (gsize) MIN (n_candidates, 500) * size);
  for (int s0 = 0; s0 < n_candidates; s0 += 500)
    {
      int nb = MIN (500, n_candidates - s0);
      for (int i = 0; i < nb; i++)
        memcpy (xb + (gsize) i * size, ds->x + (gsize) candidates[s0 + i] * size,
                sizeof (float) * size);
      const float *z = fw_model_forward (m, xb, nb, FALSE);
      fw_softmax (z, nb, k, 1.0f, probs + (gsize) s0 * k);
    }
  g_autoptr (FwFeatures) fl = NULL;
  if (s == FW_QUERY_CORESET)
    {
      fl = fw_features_layer (m, embedding_layer (m), ds, labelled, n_labelled, 500,
                              cancellable, error);
      if (fl == NULL)
        return FALSE;
    }
  FwRng root, rng;
  fw_rng_init (&root, seed + (guint64) n_labelled * 7919);
  fw_rng_split (&root, FW_RNG_DATA, &rng);
  g_autofree gint32 *picks = g_new (gint32, MAX (batch, 1));
  int np = fw_query_select (s, probs, n_candidates, k, fc->x, fc->d,
                            fl != NULL ? fl->x : NULL, fl != NULL ? fl->n : 0, batch, &rng,
                            picks);
  for (int i = 0; i < np; i++)
    {
      point->queried[i] = candidates[picks[i]];
      const float *p = probs + (gsize) picks[i] * k;
      int best = 0;
      for (int j = 1; j < k; j++)
        if (p[j] > p[best])
          best = j;
      point->predicted[i] = best;
    }
  point->n_queried = np;
  return TRUE;
}

gboolean
fw_active_run (const FwActiveConfig *c, void (*point) (gpointer user, const FwActivePoint *p),
               gpointer user, GCancellable *cancellable, GError **error)
{
  fw_blas_set_threads (MAX (c->threads, 1));
  int n_strat = 0;
  for (int s = 0; s < FW_QUERY_N; s++)
    n_strat += c->strategies[s];
  int total = c->seeds * n_strat * (c->rounds + 1), index = 0;
  for (int seed = 0; seed < c->seeds; seed++)
    for (int s = 0; s < FW_QUERY_N; s++)
      {
        if (!c->strategies[s])
          continue;
        guint64 sd = c->base_seed + (guint64) seed;
        g_autofree gint32 *lab = NULL, *cand = NULL;
        int nl, nc;
        fw_active_start (c, sd, &lab, &nl, &cand, &nc);
        g_autofree gint32 *labels = g_new (gint32, nl + (gsize) c->rounds * c->batch + 1);
        lab = g_realloc (lab, sizeof (gint32) * (nl + (gsize) c->rounds * c->batch + 1));
        for (int i = 0; i < nl; i++)
          labels[i] = c->train->y[lab[i]];
        for (int round = 0; round <= c->rounds; round++)
          {
            FwActivePoint p = { 0 };
            if (!fw_active_round (c, (FwQueryStrategy) s, sd, lab, labels, nl, cand, nc,
                                  round < c->rounds ? c->batch : 0, &p, cancellable, error))
              {
                g_free (p.queried);
                g_free (p.predicted);
                return FALSE;
              }
            p.seed = seed;
            p.round = round;
            p.index = ++index;
            p.total = total;
            if (point != NULL)
              point (user, &p);
            /* the oracle answers; the picks leave the pool */
            for (int i = 0; i < p.n_queried; i++)
              {
                lab[nl] = p.queried[i];
                labels[nl] = c->train->y[p.queried[i]];
                nl++;
                for (int j = 0; j < nc; j++)
                  if (cand[j] == p.queried[i])
                    {
                      cand[j] = cand[--nc];
                      break;
                    }
              }
            g_free (p.queried);
            g_free (p.predicted);
          }
      }
  return TRUE;
}
