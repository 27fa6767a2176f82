/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-prune-shrink.c: physically smaller models from pruning masks: fewer rows and channels
 * (fw_prune_shrink), CSR layers for sparse weights (fw_prune_sparsify), whole blocks removed
 * (fw_prune_remove_blocks). Each builds a new model from a new spec and copies the kept
 * parameters across; the tests compare its outputs with the masked original. */
#include <string.h>

#include "fw-error.h"
#include "fw-prune-private.h"
#include "fw-sparse.h"

static gboolean
kind_is (const FwLayer *l, const char *name)
{
  return strcmp (l->klass->name, name) == 0;
}

static FwModel *
new_like (const FwModel *m, const char *spec, GError **error)
{
  g_autoptr (GError) local = NULL;
  FwModel *r = fw_model_new (m->arch, spec, m->input, &local);
  if (r == NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "the smaller model's spec '%s' is not "
                   "valid: %s", spec, local->message);
      return NULL;
    }
  r->in_mean = m->in_mean;
  r->in_std = m->in_std;
  r->class_names = g_strdupv (m->class_names);
  r->dropout_rng = m->dropout_rng;
  return r;
}

static gboolean
has_packed (const FwModel *m, GError **error)
{
  for (int i = 0; i < m->n_layers; i++)
    if (m->layers[i]->klass->packed != NULL)
      {
        g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "layer %d (%s) is already compressed: "
                     "prune the dense model, then compress", i + 1,
                     m->layers[i]->klass->name);
        return TRUE;
      }
  return FALSE;
}

FwModel *
fw_prune_shrink (const FwModel *m, const FwPruneMask *mask, GError **error)
{
  g_return_val_if_fail (mask->n == m->n_params, NULL);
  if (has_packed (m, error))
    return NULL;
  const int L = m->n_layers;
  /* kept rows of each unit-prunable layer (NULL: every row kept) */
  g_autofree guint8 **rows = g_new0 (guint8 *, (guint) L);
  g_autofree int *n_rows = g_new0 (int, (guint) L);
  for (int i = 0; i < L; i++)
    {
      FwPruneGeom g;
      if (!fw_prune_geom (m, i, &g))
        continue;
      n_rows[i] = g.rows;
      if (!fw_prune_unit_layer (m, i, FW_PRUNE_UNITS))
        continue;
      rows[i] = g_new (guint8, g.rows);
      int pruned = fw_prune_units_pruned (mask, m, i, rows[i]);
      n_rows[i] = g.rows - pruned;
      if (n_rows[i] == 0)
        {
          for (int j = 0; j < L; j++)
            g_free (rows[j]);
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "layer %d (%s): every unit is pruned, "
                       "the model would compute a constant — prune less", i + 1,
                       m->layers[i]->klass->name);
          return NULL;
        }
    }
  /* the new spec */
  g_autoptr (GString) spec = g_string_new (NULL);
  for (int i = 0; i < L; i++)
    {
      const FwLayer *l = m->layers[i];
      g_autofree char *tok = NULL;
      if (kind_is (l, "dense"))
        tok = g_strdup_printf ("dense:%d", n_rows[i]);
      else if (kind_is (l, "conv"))
        tok = g_strdup_printf ("conv:%d:%d:%d:%d", n_rows[i], l->iarg[1], l->iarg[2],
                               l->iarg[3]);
      else
        tok = l->klass->spec (l);
      g_string_append_printf (spec, "%s%s", i > 0 ? "," : "", tok);
    }
  FwModel *r = new_like (m, spec->str, error);
  if (r == NULL)
    {
      for (int j = 0; j < L; j++)
        g_free (rows[j]);
      return NULL;
    }

  /* walk the layers with the keep flags of the current activation's channels */
  g_autofree guint8 *keep = NULL; /* [channels of the current activation], NULL = all */
  for (int i = 0; i < L; i++)
    {
      const FwLayer *l = m->layers[i];
      FwLayer *nl = r->layers[i];
      int C = l->in.c, hw = l->in.h * l->in.w;
      FwPruneGeom g, ng;
      if (fw_prune_geom (m, i, &g))
        {
          fw_prune_geom (r, i, &ng);
          /* an input column q of a dense layer reads channel q / hw; a conv's column
           * (c, ky, kx) reads channel c: cols per channel = cols / C */
          int per = g.conv ? g.kh * g.kw : hw;
          int nr = 0;
          for (int o = 0; o < g.rows; o++)
            {
              if (rows[i] != NULL && !rows[i][o])
                continue;
              const float *src = m->params + g.w_off + (gsize) o * g.cols;
              float *dst = r->params + ng.w_off + (gsize) nr * ng.cols;
              int nc = 0;
              for (int q = 0; q < g.cols; q++)
                if (keep == NULL || keep[q / per])
                  dst[nc++] = src[q];
              g_assert (nc == ng.cols);
              if (g.has_bias)
                r->params[ng.b_off + nr] = m->params[g.b_off + o];
              nr++;
            }
          g_clear_pointer (&keep, g_free);
          if (rows[i] != NULL)
            keep = g_memdup2 (rows[i], g.rows);
          continue;
        }
      if (kind_is (l, "bn"))
        {
          /* gamma [C], beta [C]; running_mean [C], running_var [C] */
          int nc = 0;
          for (int c = 0; c < C; c++)
            {
              if (keep != NULL && !keep[c])
                continue;
              nl->w[nc] = l->w[c];
              nl->w[nl->in.c + nc] = l->w[C + c];
              nl->st[nc] = l->st[c];
              nl->st[nl->in.c + nc] = l->st[C + c];
              nc++;
            }
          continue;
        }
      if (kind_is (l, "flatten") && keep != NULL)
        {
          /* channel c becomes features c hw .. c hw + hw - 1 */
          guint8 *f = g_new (guint8, (gsize) C * hw);
          for (int q = 0; q < C * hw; q++)
            f[q] = keep[q / hw];
          g_free (keep);
          keep = f;
          continue;
        }
      /* pass-through kinds keep the channel flags; anything else has its own parameters
       * copied and resets them (only units with a pass-through chain were pruned) */
      if (!(kind_is (l, "relu") || kind_is (l, "lrelu") || kind_is (l, "tanh")
            || kind_is (l, "dropout") || kind_is (l, "maxpool") || kind_is (l, "avgpool")
            || kind_is (l, "gap") || kind_is (l, "flatten")))
        {
          g_assert (keep == NULL);
          memcpy (nl->w, l->w, sizeof (float) * l->n_w);
          memcpy (nl->st, l->st, sizeof (float) * l->n_st);
        }
    }
  for (int j = 0; j < L; j++)
    g_free (rows[j]);
  for (int i = 0; i < L; i++)
    r->layers[i]->frozen = m->layers[i]->frozen;
  fw_model_reserve (r, m->max_batch);
  return r;
}

/* The block width for a layer's weights [rows x cols]: 8 or 4 when the non-zeros come in
 * aligned 1 x B blocks with few zeros inside (at most 25% more values stored than non-zeros,
 * as granularity = blocks leaves them), else 1 (plain CSR). Counts the blocks in *nblk. */
static int
choose_block (const float *w, int rows, int cols, gsize nnz, gsize *nblk)
{
  const int widths[] = { 8, 4 };
  for (guint t = 0; t < G_N_ELEMENTS (widths); t++)
    {
      int B = widths[t];
      if (cols % B != 0)
        continue;
      gsize n = 0;
      for (gsize q = 0; q < (gsize) rows * cols; q += B)
        {
          gboolean any = FALSE;
          for (int j = 0; j < B; j++)
            any |= w[q + j] != 0.0f;
          n += any;
        }
      if ((double) n * B <= 1.25 * (double) nnz)
        {
          *nblk = n;
          return B;
        }
    }
  *nblk = nnz;
  return 1;
}

FwModel *
fw_prune_sparsify (const FwModel *m, double min_sparsity, GError **error)
{
  if (has_packed (m, error))
    return NULL;
  const int L = m->n_layers;
  g_autofree int *nnz = g_new0 (int, (guint) L);
  g_autofree int *bw = g_new0 (int, (guint) L);
  g_autoptr (GString) spec = g_string_new (NULL);
  for (int i = 0; i < L; i++)
    {
      const FwLayer *l = m->layers[i];
      FwPruneGeom g;
      nnz[i] = -1;
      g_autofree char *tok = NULL;
      if (kind_is (l, "dense") && fw_prune_geom (m, i, &g))
        {
          gsize n = (gsize) g.rows * g.cols, nz = 0;
          const float *w = m->params + g.w_off;
          for (gsize q = 0; q < n; q++)
            nz += w[q] != 0.0f;
          if (n > 0 && 1.0 - (double) nz / n >= min_sparsity)
            {
              gsize nblk;
              bw[i] = choose_block (w, g.rows, g.cols, nz, &nblk);
              nnz[i] = (int) nblk;
              tok = bw[i] > 1 ? g_strdup_printf ("sparse:%d:%d:%d", g.rows, nnz[i], bw[i])
                              : g_strdup_printf ("sparse:%d:%d", g.rows, nnz[i]);
            }
        }
      if (tok == NULL)
        tok = l->klass->spec (l);
      g_string_append_printf (spec, "%s%s", i > 0 ? "," : "", tok);
    }
  FwModel *r = new_like (m, spec->str, error);
  if (r == NULL)
    return NULL;
  for (int i = 0; i < L; i++)
    {
      const FwLayer *l = m->layers[i];
      FwLayer *nl = r->layers[i];
      if (nnz[i] < 0)
        {
          memcpy (nl->w, l->w, sizeof (float) * l->n_w);
          memcpy (nl->st, l->st, sizeof (float) * l->n_st);
          nl->frozen = l->frozen;
          continue;
        }
      FwPruneGeom g;
      fw_prune_geom (m, i, &g);
      int B = bw[i];
      g_autofree gint32 *row_ptr = g_new (gint32, g.rows + 1);
      g_autofree gint32 *cols = g_new (gint32, MAX (nnz[i], 1));
      int k = 0;
      row_ptr[0] = 0;
      for (int o = 0; o < g.rows; o++)
        {
          const float *w = m->params + g.w_off + (gsize) o * g.cols;
          for (int c = 0; c < g.cols; c += B)
            {
              gboolean any = FALSE;
              for (int j = 0; j < B; j++)
                any |= w[c + j] != 0.0f;
              if (!any)
                continue;
              memcpy (nl->w + (gsize) k * B, w + c, sizeof (float) * B);
              cols[k++] = c;
            }
          row_ptr[o + 1] = k;
        }
      g_assert (k == nnz[i]);
      /* bias after the values */
      memcpy (nl->w + (gsize) nnz[i] * B, m->params + g.b_off, sizeof (float) * g.rows);
      fw_sparse_layer_set (nl, row_ptr, cols);
    }
  fw_model_reserve (r, m->max_batch);
  return r;
}

static gboolean
block_tail (const FwLayer *l)
{
  return kind_is (l, "bn") || kind_is (l, "relu") || kind_is (l, "lrelu") || kind_is (l, "tanh")
         || kind_is (l, "sigmoid") || kind_is (l, "dropout");
}

static gboolean
same_shape (FwShape a, FwShape b)
{
  return a.c == b.c && a.h == b.h && a.w == b.w;
}

int
fw_prune_layer_blocks (const FwModel *m, int *first, int *last, int max)
{
  int n = 0, last_p = fw_prune_last_prunable (m);
  for (int i = 0; i < m->n_layers; i++)
    {
      if (!fw_prune_layer_prunable (m, i) || i == last_p)
        continue;
      int j = i;
      while (j + 1 < m->n_layers && block_tail (m->layers[j + 1]))
        j++;
      if (!same_shape (m->layers[i]->in, m->layers[j]->out))
        continue;
      if (n < max)
        {
          first[n] = i;
          last[n] = j;
        }
      n++;
    }
  return MIN (n, max);
}

FwModel *
fw_prune_remove_blocks (const FwModel *m, const gboolean *remove, GError **error)
{
  const int L = m->n_layers;
  g_autofree int *first = g_new (int, (guint) L), *last = g_new (int, (guint) L);
  int nb = fw_prune_layer_blocks (m, first, last, L);
  g_autofree gboolean *drop = g_new0 (gboolean, (guint) L);
  int kept_layers = L;
  for (int b = 0; b < nb; b++)
    if (remove[b])
      for (int i = first[b]; i <= last[b]; i++)
        {
          drop[i] = TRUE;
          kept_layers--;
        }
  if (kept_layers < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "removing these blocks leaves no layer");
      return NULL;
    }
  g_autoptr (GString) spec = g_string_new (NULL);
  for (int i = 0; i < L; i++)
    if (!drop[i])
      {
        g_autofree char *tok = m->layers[i]->klass->spec (m->layers[i]);
        g_string_append_printf (spec, "%s%s", spec->len > 0 ? "," : "", tok);
      }
  FwModel *r = new_like (m, spec->str, error);
  if (r == NULL)
    return NULL;
  for (int i = 0, j = 0; i < L; i++)
    {
      if (drop[i])
        continue;
      const FwLayer *l = m->layers[i];
      FwLayer *nl = r->layers[j++];
      g_assert (nl->n_w == l->n_w && nl->n_st == l->n_st);
      memcpy (nl->w, l->w, sizeof (float) * l->n_w);
      memcpy (nl->st, l->st, sizeof (float) * l->n_st);
      nl->frozen = l->frozen;
    }
  fw_model_reserve (r, m->max_batch);
  return r;
}
