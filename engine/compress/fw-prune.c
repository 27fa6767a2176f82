/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-prune.c: pruning masks, scores, selection, schedules, regularisers, training hooks,
 * rewinding and GUI snapshots (see fw-prune.h). */
#include "fw-prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"
#include "fw-loss.h"
#include "fw-prune-private.h"
#include "fw-util.h"

/* ---- names ---- */

static const char *const criterion_names[] = { "magnitude", "saliency", "snip", "movement",
                                               NULL };
static const char *const granularity_names[] = { "weights", "neurons", "channels", "units",
                                                 "layers", "blocks", NULL };
static const char *const scope_names[] = { "per-layer", "global", NULL };
static const char *const schedule_names[] = { "oneshot", "cubic", "geometric", NULL };

const char *const *fw_prune_criterion_names (void) { return criterion_names; }
const char *const *fw_prune_granularity_names (void) { return granularity_names; }
const char *const *fw_prune_scope_names (void) { return scope_names; }
const char *const *fw_prune_schedule_names (void) { return schedule_names; }

gboolean
fw_prune_enum_from_string (const char *const *names, const char *what, const char *s, int *out,
                           GError **error)
{
  for (int i = 0; names[i] != NULL; i++)
    if (s != NULL && g_ascii_strcasecmp (g_strstrip ((char *) s), names[i]) == 0)
      {
        *out = i;
        return TRUE;
      }
  g_autofree char *all = g_strjoinv (", ", (char **) names);
  g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: '%s' is not one of %s", what,
               s != NULL ? s : "(null)", all);
  return FALSE;
}

/* ---- layer geometry ---- */

gboolean
fw_prune_geom (const FwModel *m, int i, FwPruneGeom *g)
{
  memset (g, 0, sizeof *g);
  const FwLayer *l = m->layers[i];
  gboolean dense = strcmp (l->klass->name, "dense") == 0;
  gboolean conv = strcmp (l->klass->name, "conv") == 0;
  if (!dense && !conv)
    return FALSE;
  FwTensorInfo t[FW_LAYER_MAX_TENSORS];
  int nt = l->klass->tensors (l, t);
  gsize base = (gsize) (l->w - m->params);
  gboolean have_w = FALSE;
  for (int k = 0; k < nt; k++)
    {
      if (!t[k].trainable)
        continue;
      if (strcmp (t[k].name, "weight") == 0)
        {
          have_w = TRUE;
          g->w_off = base + t[k].offset;
          g->rows = t[k].dims[0];
          g->cols = 1;
          for (int d = 1; d < t[k].ndim; d++)
            g->cols *= t[k].dims[d];
          g->kh = t[k].ndim == 4 ? t[k].dims[2] : 1;
          g->kw = t[k].ndim == 4 ? t[k].dims[3] : 1;
        }
      else if (strcmp (t[k].name, "bias") == 0)
        {
          g->has_bias = TRUE;
          g->b_off = base + t[k].offset;
        }
    }
  g->conv = conv;
  return have_w;
}

gboolean
fw_prune_layer_prunable (const FwModel *m, int i)
{
  FwPruneGeom g;
  return i >= 0 && i < m->n_layers && fw_prune_geom (m, i, &g);
}

int
fw_prune_last_prunable (const FwModel *m)
{
  for (int i = m->n_layers - 1; i >= 0; i--)
    if (fw_prune_layer_prunable (m, i))
      return i;
  return -1;
}

static gboolean
is_passthrough (const FwLayer *l)
{
  static const char *const kinds[] = { "relu", "lrelu", "tanh", "dropout", "maxpool", "avgpool",
                                       "gap", "flatten", "bn", NULL };
  for (int i = 0; kinds[i] != NULL; i++)
    if (strcmp (l->klass->name, kinds[i]) == 0)
      return TRUE;
  return FALSE;
}

int
fw_prune_consumer (const FwModel *m, int i)
{
  for (int j = i + 1; j < m->n_layers; j++)
    {
      const FwLayer *l = m->layers[j];
      if (fw_prune_layer_prunable (m, j))
        return j;
      if (!is_passthrough (l))
        return -1;
    }
  return -1;
}

gboolean
fw_prune_unit_layer (const FwModel *m, int i, FwPruneGranularity g)
{
  FwPruneGeom geom;
  if (!fw_prune_geom (m, i, &geom) || fw_prune_consumer (m, i) < 0)
    return FALSE;
  switch (g)
    {
    case FW_PRUNE_NEURONS: return !geom.conv;
    case FW_PRUNE_CHANNELS: return geom.conv;
    case FW_PRUNE_UNITS: return TRUE;
    default: return FALSE;
    }
}

/* The parameters that belong to unit r of layer i besides its weight row: its bias and the
 * gamma/beta of batch norms between the layer and its consumer. Calls f for each offset. */
static void
unit_extras (const FwModel *m, int i, int r, void (*f) (gsize off, gpointer user),
             gpointer user)
{
  FwPruneGeom g;
  fw_prune_geom (m, i, &g);
  if (g.has_bias)
    f (g.b_off + r, user);
  int c = fw_prune_consumer (m, i);
  for (int j = i + 1; j < m->n_layers && (c < 0 || j < c); j++)
    {
      const FwLayer *l = m->layers[j];
      if (strcmp (l->klass->name, "bn") != 0)
        continue;
      /* gamma [C], beta [C] at the start of the layer's view */
      gsize base = (gsize) (l->w - m->params);
      f (base + r, user);
      f (base + l->iarg[0] + r, user);
    }
}

/* ---- masks ---- */

FwPruneMask *
fw_prune_mask_new (const FwModel *m)
{
  FwPruneMask *mask = g_new0 (FwPruneMask, 1);
  mask->n = m->n_params;
  mask->keep = g_malloc (MAX (mask->n, 1));
  memset (mask->keep, 1, mask->n);
  return mask;
}

FwPruneMask *
fw_prune_mask_copy (const FwPruneMask *mask)
{
  FwPruneMask *c = g_new0 (FwPruneMask, 1);
  c->n = mask->n;
  c->keep = g_memdup2 (mask->keep, MAX (mask->n, 1));
  return c;
}

void
fw_prune_mask_free (FwPruneMask *mask)
{
  if (mask == NULL)
    return;
  g_free (mask->keep);
  g_free (mask);
}

void
fw_prune_mask_apply (const FwPruneMask *mask, FwModel *m)
{
  g_return_if_fail (mask->n == m->n_params);
  float *p = m->params;
  const guint8 *k = mask->keep;
  for (gsize i = 0; i < mask->n; i++)
    if (!k[i])
      p[i] = 0.0f;
}

static void
count_layer (const FwModel *m, int i, const FwPruneMask *mask, gsize *pruned, gsize *total)
{
  FwPruneGeom g;
  if (!fw_prune_geom (m, i, &g))
    return;
  gsize n = (gsize) g.rows * g.cols;
  *total += n;
  if (mask != NULL)
    {
      for (gsize k = 0; k < n; k++)
        *pruned += !mask->keep[g.w_off + k];
    }
  else
    {
      const float *w = m->params + g.w_off;
      for (gsize k = 0; k < n; k++)
        *pruned += w[k] == 0.0f;
    }
}

static double
fraction (const FwModel *m, const FwPruneMask *mask, int i)
{
  gsize pruned = 0, total = 0;
  for (int j = 0; j < m->n_layers; j++)
    if (i < 0 || j == i)
      count_layer (m, j, mask, &pruned, &total);
  return total > 0 ? (double) pruned / (double) total : 0.0;
}

double
fw_prune_mask_sparsity (const FwPruneMask *mask, const FwModel *m, int i)
{
  return fraction (m, mask, i);
}

double
fw_prune_zero_fraction (const FwModel *m, int i)
{
  return fraction (m, NULL, i);
}

int
fw_prune_units_pruned (const FwPruneMask *mask, const FwModel *m, int i, guint8 *unit_kept)
{
  FwPruneGeom g;
  if (!fw_prune_geom (m, i, &g))
    return 0;
  int n = 0;
  for (int r = 0; r < g.rows; r++)
    {
      gboolean all = TRUE;
      const guint8 *k = mask->keep + g.w_off + (gsize) r * g.cols;
      for (int c = 0; c < g.cols && all; c++)
        all = !k[c];
      if (all && g.has_bias)
        all = !mask->keep[g.b_off + r];
      if (unit_kept != NULL)
        unit_kept[r] = !all;
      n += all;
    }
  return n;
}

/* ---- scores ---- */

void
fw_prune_score_magnitude (const FwModel *m, float *scores)
{
  memset (scores, 0, sizeof (float) * m->n_params);
  for (int i = 0; i < m->n_layers; i++)
    {
      FwPruneGeom g;
      if (!fw_prune_geom (m, i, &g))
        continue;
      gsize n = (gsize) g.rows * g.cols;
      for (gsize k = 0; k < n; k++)
        scores[g.w_off + k] = fabsf (m->params[g.w_off + k]);
    }
}

gboolean
fw_prune_score_saliency (FwModel *m, FwDataset *ds, int batches, int batch, guint64 seed,
                         float *scores, GCancellable *cancellable, GError **error)
{
  if (ds == NULL || ds->n < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "saliency scores need training samples, "
                   "the training set is empty");
      return FALSE;
    }
  batch = MAX (1, MIN (batch, ds->n));
  batches = MAX (1, batches);
  const gsize in = fw_shape_size (m->input);
  const int k = m->n_classes;
  g_autofree gint32 *idx = g_new (gint32, ds->n);
  for (int i = 0; i < ds->n; i++)
    idx[i] = i;
  FwRng rng;
  fw_rng_init (&rng, seed);
  fw_rng_shuffle (&rng, idx, ds->n);

  float *x = fw_alloc_floats ((gsize) batch * in);
  float *dl = fw_alloc_floats ((gsize) batch * k);
  g_autofree gint32 *y = g_new (gint32, batch);
  g_autofree float *sum = g_new0 (float, m->n_params);
  /* train-mode forward (backward needs it) must not move batch-norm statistics */
  g_autofree float *state = g_memdup2 (m->state, sizeof (float) * MAX (m->n_state, 1));
  FwRng dropout = m->dropout_rng;
  gboolean ok = TRUE;
  int pos = 0;
  for (int b = 0; b < batches; b++)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          ok = FALSE;
          break;
        }
      for (int i = 0; i < batch; i++)
        {
          int j = idx[pos];
          pos = (pos + 1) % ds->n;
          memcpy (x + (gsize) i * in, ds->x + (gsize) j * in, sizeof (float) * in);
          y[i] = ds->y[j];
        }
      const float *logits = fw_model_forward (m, x, batch, TRUE);
      fw_loss_softmax_xent (logits, batch, k, y, NULL, 0.0f, dl, NULL);
      fw_model_backward (m, dl, batch);
      for (gsize i = 0; i < m->n_params; i++)
        sum[i] += m->grads[i];
    }
  memcpy (m->state, state, sizeof (float) * m->n_state);
  m->dropout_rng = dropout;
  fw_free_aligned (x);
  fw_free_aligned (dl);
  if (!ok)
    return FALSE;
  memset (scores, 0, sizeof (float) * m->n_params);
  for (int i = 0; i < m->n_layers; i++)
    {
      FwPruneGeom g;
      if (!fw_prune_geom (m, i, &g))
        continue;
      gsize n = (gsize) g.rows * g.cols;
      for (gsize q = g.w_off; q < g.w_off + n; q++)
        scores[q] = fabsf (m->params[q] * sum[q]);
    }
  return TRUE;
}

void
fw_prune_movement_accumulate (const FwModel *m, float *acc)
{
  for (int i = 0; i < m->n_layers; i++)
    {
      FwPruneGeom g;
      if (!fw_prune_geom (m, i, &g))
        continue;
      gsize n = (gsize) g.rows * g.cols;
      const float *w = m->params + g.w_off, *gw = m->grads + g.w_off;
      float *a = acc + g.w_off;
      for (gsize q = 0; q < n; q++)
        a[q] -= w[q] * gw[q];
    }
}

/* ---- selection ---- */

typedef struct {
  float score;
  guint32 id;
} Entry;

/* ascending score; among equal scores the higher id first (pruned first: lower ids kept) */
static int
entry_cmp (const void *a, const void *b)
{
  const Entry *x = a, *y = b;
  if (x->score < y->score)
    return -1;
  if (x->score > y->score)
    return 1;
  return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

/* Prunes the k lowest of the candidates (already sorted or not). Returns how many. */
static gsize
prune_lowest (Entry *e, gsize n, gsize k, void (*prune) (guint32 id, gpointer user),
              gpointer user)
{
  k = MIN (k, n);
  if (k == 0)
    return 0;
  qsort (e, n, sizeof (Entry), entry_cmp);
  for (gsize i = 0; i < k; i++)
    prune (e[i].id, user);
  return k;
}

typedef struct {
  const FwModel *m;
  FwPruneMask *mask;
  const int *layer_of;    /* unit id -> layer */
  const int *row_of;      /* unit id -> row */
} UnitCtx;

static void
extra_clear (gsize off, gpointer user)
{
  ((FwPruneMask *) user)->keep[off] = 0;
}

static void
prune_unit (guint32 id, gpointer user)
{
  UnitCtx *u = user;
  FwPruneGeom g;
  int i = u->layer_of[id], r = u->row_of[id];
  fw_prune_geom (u->m, i, &g);
  memset (u->mask->keep + g.w_off + (gsize) r * g.cols, 0, g.cols);
  unit_extras (u->m, i, r, extra_clear, u->mask);
}

static gsize
target_count (double sparsity, gsize n)
{
  double t = floor (sparsity * (double) n + 0.5);
  return (gsize) CLAMP (t, 0.0, (double) n);
}

typedef struct {
  FwPruneMask *mask;
  const gsize *off;       /* block id -> first parameter */
  const int *len;         /* block id -> its length */
} BlockCtx;

static void
prune_block (guint32 id, gpointer user)
{
  BlockCtx *b = user;
  memset (b->mask->keep + b->off[id], 0, b->len[id]);
}

/* Weights (B = 1) or 1 x B blocks of the rows of the prunable layers. */
static gsize
select_weights (const FwModel *m, const float *scores, FwPruneScope scope, double sparsity,
                gboolean prune_last, int B, FwPruneMask *mask)
{
  int last = fw_prune_last_prunable (m);
  gsize total = 0;
  for (int i = 0; i < m->n_layers; i++)
    {
      FwPruneGeom g;
      if (fw_prune_geom (m, i, &g) && (prune_last || i != last))
        total += (gsize) g.rows * ((g.cols + B - 1) / B);
    }
  g_autofree Entry *e = g_new (Entry, MAX (total, 1));
  g_autofree gsize *off = g_new (gsize, MAX (total, 1));
  g_autofree int *len = g_new (int, MAX (total, 1));
  BlockCtx ctx = { mask, off, len };
  gsize pruned_now = 0, n = 0, already = 0, id = 0;
  for (int i = 0; i < m->n_layers; i++)
    {
      FwPruneGeom g;
      if (!fw_prune_geom (m, i, &g) || (!prune_last && i == last))
        continue;
      gsize nl = (gsize) g.rows * ((g.cols + B - 1) / B), already_l = 0;
      if (scope == FW_PRUNE_PER_LAYER)
        n = 0;
      for (int r = 0; r < g.rows; r++)
        for (int c = 0; c < g.cols; c += B, id++)
          {
            gsize q = g.w_off + (gsize) r * g.cols + c;
            int lb = MIN (B, g.cols - c);
            off[id] = q;
            len[id] = lb;
            gboolean kept = FALSE;
            double sum = 0;
            for (int j = 0; j < lb; j++)
              {
                kept |= mask->keep[q + j];
                sum += scores[q + j];
              }
            if (kept)
              e[n++] = (Entry) { (float) (sum / lb), (guint32) id };
            else
              already_l++;
          }
      already += already_l;
      if (scope == FW_PRUNE_PER_LAYER)
        {
          gsize want = target_count (sparsity, nl);
          if (want > already_l)
            pruned_now += prune_lowest (e, n, want - already_l, prune_block, &ctx);
        }
    }
  if (scope == FW_PRUNE_GLOBAL)
    {
      gsize want = target_count (sparsity, total);
      if (want > already)
        pruned_now += prune_lowest (e, n, want - already, prune_block, &ctx);
    }
  return pruned_now;
}

static gsize
select_units (const FwModel *m, const float *scores, FwPruneGranularity gran,
              FwPruneScope scope, double sparsity, FwPruneMask *mask)
{
  gsize total = 0;
  for (int i = 0; i < m->n_layers; i++)
    {
      FwPruneGeom g;
      if (fw_prune_unit_layer (m, i, gran) && fw_prune_geom (m, i, &g))
        total += g.rows;
    }
  g_autofree Entry *e = g_new (Entry, MAX (total, 1));
  g_autofree int *layer_of = g_new (int, MAX (total, 1));
  g_autofree int *row_of = g_new (int, MAX (total, 1));
  UnitCtx u = { m, mask, layer_of, row_of };
  gsize n = 0, id = 0, already = 0, pruned_now = 0;
  for (int i = 0; i < m->n_layers; i++)
    {
      FwPruneGeom g;
      if (!fw_prune_unit_layer (m, i, gran) || !fw_prune_geom (m, i, &g))
        continue;
      g_autofree guint8 *kept = g_new (guint8, g.rows);
      fw_prune_units_pruned (mask, m, i, kept);
      gsize already_l = 0;
      if (scope == FW_PRUNE_PER_LAYER)
        n = 0;
      for (int r = 0; r < g.rows; r++, id++)
        {
          layer_of[id] = i;
          row_of[id] = r;
          if (!kept[r])
            {
              already_l++;
              continue;
            }
          /* a unit's score: the mean of its weights' scores */
          const float *s = scores + g.w_off + (gsize) r * g.cols;
          double sum = 0;
          for (int c = 0; c < g.cols; c++)
            sum += s[c];
          e[n++] = (Entry) { (float) (sum / g.cols), (guint32) id };
        }
      already += already_l;
      if (scope == FW_PRUNE_PER_LAYER)
        {
          /* never remove every unit of a layer: the model would be cut in two */
          gsize want = MIN (target_count (sparsity, g.rows), (gsize) g.rows - 1);
          if (want > already_l)
            pruned_now += prune_lowest (e, n, want - already_l, prune_unit, &u);
        }
    }
  if (scope == FW_PRUNE_GLOBAL)
    {
      gsize want = target_count (sparsity, total);
      if (want > already)
        {
          /* keep at least one unit per layer: prune in score order, skipping a layer's last */
          qsort (e, n, sizeof (Entry), entry_cmp);
          g_autofree int *left = g_new0 (int, m->n_layers);
          for (gsize q = 0; q < n; q++)
            left[layer_of[e[q].id]]++;
          gsize need = want - already;
          for (gsize q = 0; q < n && need > 0; q++)
            {
              int i = layer_of[e[q].id];
              if (left[i] <= 1)
                continue;
              left[i]--;
              prune_unit (e[q].id, &u);
              need--;
              pruned_now++;
            }
        }
    }
  return pruned_now;
}

gsize
fw_prune_select (const FwModel *m, const float *scores, FwPruneGranularity granularity,
                 FwPruneScope scope, double sparsity, gboolean prune_last, FwPruneMask *mask)
{
  g_return_val_if_fail (mask->n == m->n_params, 0);
  g_return_val_if_fail (granularity != FW_PRUNE_LAYERS, 0);
  if (granularity == FW_PRUNE_WEIGHTS || granularity == FW_PRUNE_BLOCKS)
    return select_weights (m, scores, scope, sparsity, prune_last,
                           granularity == FW_PRUNE_BLOCKS ? FW_PRUNE_BLOCK : 1, mask);
  return select_units (m, scores, granularity, scope, sparsity, mask);
}

double
fw_prune_schedule_at (FwPruneSchedule schedule, double s, int t, int T)
{
  if (T < 1 || t >= T || schedule == FW_PRUNE_ONESHOT)
    return s;
  if (t <= 0)
    return 0.0;
  double f = (double) t / T;
  if (schedule == FW_PRUNE_CUBIC)
    return s * (1.0 - pow (1.0 - f, 3.0));
  return 1.0 - pow (1.0 - s, f);
}

/* ---- regularisers ---- */

void
fw_prune_prox_l1 (FwModel *m, double t)
{
  float tf = (float) t;
  for (int i = 0; i < m->n_layers; i++)
    {
      FwPruneGeom g;
      if (!fw_prune_geom (m, i, &g) || m->layers[i]->frozen)
        continue;
      float *w = m->params + g.w_off;
      gsize n = (gsize) g.rows * g.cols;
      for (gsize q = 0; q < n; q++)
        {
          float a = fabsf (w[q]) - tf;
          w[q] = a > 0.0f ? copysignf (a, w[q]) : 0.0f;
        }
    }
}

void
fw_prune_prox_group_lasso (FwModel *m, double t)
{
  for (int i = 0; i < m->n_layers; i++)
    {
      FwPruneGeom g;
      if (!fw_prune_unit_layer (m, i, FW_PRUNE_UNITS) || !fw_prune_geom (m, i, &g)
          || m->layers[i]->frozen)
        continue;
      for (int r = 0; r < g.rows; r++)
        {
          float *w = m->params + g.w_off + (gsize) r * g.cols;
          float *b = g.has_bias ? m->params + g.b_off + r : NULL;
          double ss = 0;
          for (int c = 0; c < g.cols; c++)
            ss += (double) w[c] * w[c];
          if (b != NULL)
            ss += (double) *b * *b;
          double norm = sqrt (ss);
          float f = norm > t ? (float) (1.0 - t / norm) : 0.0f;
          for (int c = 0; c < g.cols; c++)
            w[c] *= f;
          if (b != NULL)
            *b *= f;
        }
    }
}

/* ---- training with a mask ---- */

static void
trainer_batch (gpointer user, int epoch, int n_epochs, int batch, int n_batches, double loss,
               double acc)
{
  FwPruneTrainer *t = user;
  FwModel *m = t->model;
  if (t->movement != NULL)
    fw_prune_movement_accumulate (m, t->movement);
  if (t->l1 > 0 || t->group_lasso > 0)
    {
      double lr = t->cfg != NULL ? fw_train_lr_at (t->cfg, epoch - 1) : 0.0;
      if (t->l1 > 0)
        fw_prune_prox_l1 (m, lr * t->l1);
      if (t->group_lasso > 0)
        fw_prune_prox_group_lasso (m, lr * t->group_lasso);
    }
  if (t->mask != NULL)
    fw_prune_mask_apply (t->mask, m);
  t->steps++;
  if (t->rewind_params != NULL && t->steps == t->rewind_at)
    memcpy (t->rewind_params, m->params, sizeof (float) * m->n_params);
  if (t->next != NULL && t->next->batch != NULL)
    t->next->batch (t->next->user, epoch, n_epochs, batch, n_batches, loss, acc);
}

static void
trainer_epoch (gpointer user, const FwEpochMetrics *row)
{
  FwPruneTrainer *t = user;
  if (t->next != NULL && t->next->epoch != NULL)
    t->next->epoch (t->next->user, row);
}

void
fw_prune_trainer_init (FwPruneTrainer *t, FwModel *m, const FwPruneMask *mask,
                       const FwTrainConfig *cfg, const FwTrainHooks *next)
{
  memset (t, 0, sizeof *t);
  t->hooks.batch = trainer_batch;
  t->hooks.epoch = trainer_epoch;
  t->hooks.user = t;
  t->model = m;
  t->mask = mask;
  t->cfg = cfg;
  t->next = next;
  t->rewind_at = -1;
}

void
fw_prune_rewind (FwModel *m, const float *saved, const FwPruneMask *mask)
{
  for (gsize i = 0; i < m->n_params; i++)
    m->params[i] = mask == NULL || mask->keep[i] ? saved[i] : 0.0f;
}

/* ---- snapshots ---- */

static void
snapshot_clear (gpointer data)
{
  FwPruneSnapshot *s = data;
  for (int i = 0; i < s->n_layers; i++)
    {
      g_free (s->layers[i].name);
      g_free (s->layers[i].weight);
      g_free (s->layers[i].keep);
      g_free (s->layers[i].unit_kept);
    }
  g_free (s->layers);
}

FwPruneSnapshot *
fw_prune_snapshot_new (const FwModel *m, const FwPruneMask *mask)
{
  FwPruneSnapshot *s = g_atomic_rc_box_new0 (FwPruneSnapshot);
  s->phase = "prune";
  s->accuracy = NAN;
  s->params = m->n_params;
  for (gsize i = 0; i < m->n_params; i++)
    s->params_nonzero += m->params[i] != 0.0f;
  int n = 0;
  for (int i = 0; i < m->n_layers; i++)
    n += fw_prune_layer_prunable (m, i);
  s->layers = g_new0 (FwPruneLayerView, MAX (n, 1));
  gsize pruned = 0, total = 0;
  for (int i = 0; i < m->n_layers; i++)
    {
      FwPruneGeom g;
      if (!fw_prune_geom (m, i, &g))
        continue;
      FwPruneLayerView *v = &s->layers[s->n_layers++];
      const FwLayer *l = m->layers[i];
      gsize nw = (gsize) g.rows * g.cols;
      v->layer = i;
      v->name = l->klass->spec (l);
      v->rows = g.rows;
      v->cols = g.cols;
      v->kh = g.kh;
      v->kw = g.kw;
      v->weight = g_memdup2 (m->params + g.w_off, sizeof (float) * nw);
      v->keep = g_new (guint8, nw);
      v->unit_kept = g_new (guint8, g.rows);
      for (gsize q = 0; q < nw; q++)
        v->keep[q] = mask != NULL ? mask->keep[g.w_off + q] : v->weight[q] != 0.0f;
      for (int r = 0; r < g.rows; r++)
        {
          gboolean any = FALSE;
          for (int c = 0; c < g.cols && !any; c++)
            any = v->keep[(gsize) r * g.cols + c];
          if (!any && g.has_bias)
            any = mask != NULL ? mask->keep[g.b_off + r] : m->params[g.b_off + r] != 0.0f;
          v->unit_kept[r] = any;
        }
      for (gsize q = 0; q < nw; q++)
        v->n_kept += v->keep[q];
      v->sparsity = nw > 0 ? 1.0 - (double) v->n_kept / nw : 0.0;
      pruned += nw - v->n_kept;
      total += nw;
    }
  s->sparsity = total > 0 ? (double) pruned / total : 0.0;
  return s;
}

FwPruneSnapshot *
fw_prune_snapshot_ref (FwPruneSnapshot *s)
{
  return g_atomic_rc_box_acquire (s);
}

void
fw_prune_snapshot_unref (FwPruneSnapshot *s)
{
  if (s != NULL)
    g_atomic_rc_box_release_full (s, snapshot_clear);
}

/* ---- results ---- */

static void
result_clear (gpointer data)
{
  FwPruneResult *r = data;
  g_free (r->run_dir);
  g_free (r->model_path);
  g_clear_pointer (&r->model, fw_model_unref);
  g_clear_pointer (&r->rows, g_array_unref);
}

FwPruneResult *
fw_prune_result_new (void)
{
  FwPruneResult *r = g_atomic_rc_box_new0 (FwPruneResult);
  r->base_acc = r->final_acc = NAN;
  r->rows = g_array_new (FALSE, TRUE, sizeof (FwPruneRow));
  return r;
}

FwPruneResult *
fw_prune_result_ref (FwPruneResult *r)
{
  return g_atomic_rc_box_acquire (r);
}

void
fw_prune_result_unref (FwPruneResult *r)
{
  if (r != NULL)
    g_atomic_rc_box_release_full (r, result_clear);
}
