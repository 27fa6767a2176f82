/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-active.h: active learning: which unlabelled samples to ask an oracle (or a person) about.
 *
 * Query strategies over a pool of n candidates with class probabilities p [n x k]:
 *   least-confidence  score 1 - max_j p_j                (largest first)
 *   margin            score -(p_(1) - p_(2))             (smallest gap between the top two first)
 *   entropy           score -sum_j p_j log p_j           (largest first)
 *   core-set          greedy k-centre (Sener & Savarese 2018) on embeddings e [n x d]: repeatedly
 *                     take the candidate farthest (Euclidean) from its nearest centre, centres =
 *                     the labelled samples' embeddings plus the picks so far
 *   random            a seeded uniform choice
 * Ties are broken by the lower pool index. The picks come back in the order they were chosen.
 *
 * An active-learning run: start with `start_per_class` labels per class, then rounds of: train a
 * fresh model (same seed) on the labelled samples, measure test accuracy, query `batch` samples
 * of the pool, have them labelled (oracle: the true label), until `rounds` rounds. */
#pragma once

#include <gio/gio.h>

#include "fw-dataset.h"
#include "fw-model.h"
#include "fw-train.h"

G_BEGIN_DECLS

typedef enum {
  FW_QUERY_LEAST_CONFIDENCE,
  FW_QUERY_MARGIN,
  FW_QUERY_ENTROPY,
  FW_QUERY_CORESET,
  FW_QUERY_RANDOM,
  FW_QUERY_N
} FwQueryStrategy;

const char *fw_query_name        (FwQueryStrategy s);   /* "least-confidence", ... */
const char *fw_query_title       (FwQueryStrategy s);   /* "Least confidence", ... */
/* FALSE for an unknown name */
gboolean    fw_query_from_string (const char *s, FwQueryStrategy *out);

/* Uncertainty score of one row of probabilities (larger = asked first); for the three
 * uncertainty strategies only. */
double      fw_query_score       (FwQueryStrategy s, const float *p, int k);

/* Picks min(batch, n) distinct candidates into picks[]; returns the count. probs [n x k] for
 * the uncertainty strategies; emb [n x d] and centres [n_centres x d] for core-set (with no
 * centres the first pick is candidate 0); rng for random. */
int         fw_query_select      (FwQueryStrategy s, const float *probs, int n, int k,
                                  const float *emb, int d, const float *centres, int n_centres,
                                  int batch, FwRng *rng, gint32 *picks);

/* ---- a run ---- */

typedef struct {
  FwQueryStrategy strategy;
  int seed;              /* 0-based seed index */
  int round;             /* 0-based */
  int n_labels;          /* labelled samples the model was trained on */
  double test_acc;
  int n_queried;         /* picks of this round */
  gint32 *queried;       /* [n_queried] dataset indices into the training set */
  gint32 *predicted;     /* [n_queried] the model's predictions for them */
  int index, total;      /* this point's number and the total */
} FwActivePoint;

void fw_active_point_free (FwActivePoint *p);

typedef struct {
  FwDataset *train;       /* the pool (labels = the oracle), a reference */
  FwDataset *test;        /* a reference */
  char *spec;             /* classifier spec; NULL: flatten,dense:256,relu,dense:K */
  FwTrainConfig cfg;      /* training of each round */
  int start_per_class;    /* 2 */
  int batch;              /* 20 */
  int rounds;             /* 8 */
  int pool;               /* candidates scored per round (seeded subset; 0 = all) 3000 */
  int seeds;              /* 1 */
  guint64 base_seed;
  gboolean strategies[FW_QUERY_N];
  int threads;
} FwActiveConfig;

FwActiveConfig *fw_active_config_new  (FwDataset *train, FwDataset *test);
void            fw_active_config_free (FwActiveConfig *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwActiveConfig, fw_active_config_free)

/* One round for a caller that holds the labelled set itself (the GUI's hand labelling):
 * trains a fresh model on samples labelled[0..n_labelled) of train with the labels given
 * (which may differ from train->y: a person's answers), measures test accuracy, and queries
 * up to batch samples among candidates[0..n_candidates) (indices into train, none of them
 * labelled). Fills *point (queried, predicted allocated). */
gboolean fw_active_round (const FwActiveConfig *c, FwQueryStrategy s, guint64 seed,
                          const gint32 *labelled, const gint32 *labels, int n_labelled,
                          const gint32 *candidates, int n_candidates, int batch,
                          FwActivePoint *point, GCancellable *cancellable, GError **error);

/* The seeded starting labels and candidate pool of a run: start_per_class per class (stratified)
 * into *labelled (n_labelled), the pool (up to c->pool others) into *candidates. */
void     fw_active_start (const FwActiveConfig *c, guint64 seed, gint32 **labelled,
                          int *n_labelled, gint32 **candidates, int *n_candidates);

/* The whole comparison: for each seed and each enabled strategy, rounds with the oracle.
 * point() receives each point (valid during the call). */
gboolean fw_active_run (const FwActiveConfig *c,
                        void (*point) (gpointer user, const FwActivePoint *p), gpointer user,
                        GCancellable *cancellable, GError **error);

G_END_DECLS
