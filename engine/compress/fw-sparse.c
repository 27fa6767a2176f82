/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-sparse.c: "sparse:OUT:NNZ", a fully connected layer stored in CSR form.
 *
 * y[s][r] = b[r] + sum over k in row_ptr[r] .. row_ptr[r+1] - 1 of values[k] x[s][col[k]]
 *
 * Storage: trainable F32 tensors "values" [NNZ] and "bias" [OUT] (in l->w, so fine-tuning,
 * optimizers and the file's F32 entries work as for any layer), packed tensors "row_ptr"
 * I32 [OUT + 1] and "col_index" [NNZ], I16 when the layer has at most 32767 inputs (half the
 * bytes), else I32. The spec token carries NNZ so setup() can size the parameters; a layer
 * built from a spec alone (no file) gets an evenly spread pattern of NNZ / OUT entries per row,
 * which fw_sparse_layer_set() or a loaded file replaces.
 *
 * Kernels (forward):
 *   n < SPARSE_TRANSPOSE_MIN  per sample, per row a gathered dot product: NNZ multiply-adds
 *                             instead of OUT IN for the dense layer (batch-1 latency)
 *   otherwise                 x transposed once to xt [IN x n] (scratch), then per row
 *                             acc[0..n) += values[k] xt[col[k]][0..n): contiguous, vectorised
 * Backward: G_values[k] = sum_s dy[s][r] x[s][col[k]], G_b = sum_s dy, dx[s][col[k]] +=
 * values[k] dy[s][r]. */
#include "fw-sparse.h"

#include <string.h>

#include "fw-error.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("O3")
#endif

#define SPARSE_TRANSPOSE_MIN 4

typedef struct {
  gint32 *row_ptr;        /* [out + 1] */
  gint32 *col32;          /* [nnz] when !narrow */
  guint16 *col16;         /* [nnz] when narrow */
  gboolean narrow;
} Sparse;

static inline int
sp_out (const FwLayer *l)
{
  return l->iarg[0];
}

static inline int
sp_nnz (const FwLayer *l)
{
  return l->iarg[1];
}

static inline int
sp_in (const FwLayer *l)
{
  return l->iarg[2];
}

/* the default pattern: row r holds nnz/out (+1 for the first nnz%out rows) entries spread
 * evenly over the inputs, shifted by r */
static void
default_pattern (FwLayer *l)
{
  Sparse *p = l->priv;
  int out = sp_out (l), nnz = sp_nnz (l), in = sp_in (l);
  int k = 0;
  p->row_ptr[0] = 0;
  for (int r = 0; r < out; r++)
    {
      int cnt = nnz / out + (r < nnz % out);
      for (int j = 0; j < cnt; j++, k++)
        {
          int c = (int) (((gint64) j * in / cnt + r) % in);
          if (p->narrow)
            p->col16[k] = (guint16) c;
          else
            p->col32[k] = c;
        }
      p->row_ptr[r + 1] = k;
    }
}

static gboolean
sparse_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int out, nnz;
  int in = (int) fw_shape_size (l->in);
  if (n_args > 2)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "layer %d (sparse): too many arguments; "
                   "usage: %s", l->index + 1, l->klass->help);
      return FALSE;
    }
  if (!fw_layer_parse_int (l, args, n_args, 0, -1, 1, 1 << 20, &out, error))
    return FALSE;
  gint64 max_nnz = MIN ((gint64) out * in, G_MAXINT32);
  if (!fw_layer_parse_int (l, args, n_args, 1, -1, 0, (int) max_nnz, &nnz, error))
    return FALSE;
  l->iarg[0] = out;
  l->iarg[1] = nnz;
  l->iarg[2] = in;
  l->out = (FwShape) { out, 1, 1 };
  l->n_w = (gsize) nnz + out;
  /* transposed input and one row of accumulators per sample */
  l->scratch_per_sample = (gsize) in + 1;
  Sparse *p = g_new0 (Sparse, 1);
  p->narrow = in <= G_MAXINT16;
  p->row_ptr = g_new0 (gint32, out + 1);
  if (p->narrow)
    p->col16 = g_new0 (guint16, MAX (nnz, 1));
  else
    p->col32 = g_new0 (gint32, MAX (nnz, 1));
  l->priv = p;
  default_pattern (l);
  return TRUE;
}

static void
sparse_finalize (FwLayer *l)
{
  Sparse *p = l->priv;
  if (p == NULL)
    return;
  g_free (p->row_ptr);
  g_free (p->col32);
  g_free (p->col16);
  g_free (p);
}

static void
sparse_init (FwLayer *l, FwRng *rng)
{
  int out = sp_out (l), nnz = sp_nnz (l);
  /* fan-in of the sparse layer: the mean number of inputs a row reads */
  int fan = MAX (1, nnz / MAX (out, 1));
  fw_init_uniform_fan_in (l->w, (gsize) nnz + out, fan, rng);
}

static inline int
col_at (const Sparse *p, int k)
{
  return p->narrow ? p->col16[k] : p->col32[k];
}

/* one sample: y[r] = b[r] + sum values[k] x[col[k]] */
static void
spmv_narrow (const Sparse *p, int out, const float *v, const float *b, const float *x,
             float *y)
{
  const gint32 *rp = p->row_ptr;
  const guint16 *col = p->col16;
  for (int r = 0; r < out; r++)
    {
      int k = rp[r], e = rp[r + 1];
      float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (; k + 4 <= e; k += 4)
        {
          a0 += v[k] * x[col[k]];
          a1 += v[k + 1] * x[col[k + 1]];
          a2 += v[k + 2] * x[col[k + 2]];
          a3 += v[k + 3] * x[col[k + 3]];
        }
      for (; k < e; k++)
        a0 += v[k] * x[col[k]];
      y[r] = b[r] + ((a0 + a1) + (a2 + a3));
    }
}

static void
spmv_wide (const Sparse *p, int out, const float *v, const float *b, const float *x, float *y)
{
  const gint32 *rp = p->row_ptr, *col = p->col32;
  for (int r = 0; r < out; r++)
    {
      int k = rp[r], e = rp[r + 1];
      float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (; k + 4 <= e; k += 4)
        {
          a0 += v[k] * x[col[k]];
          a1 += v[k + 1] * x[col[k + 1]];
          a2 += v[k + 2] * x[col[k + 2]];
          a3 += v[k + 3] * x[col[k + 3]];
        }
      for (; k < e; k++)
        a0 += v[k] * x[col[k]];
      y[r] = b[r] + ((a0 + a1) + (a2 + a3));
    }
}

static void
sparse_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  const Sparse *p = l->priv;
  int out = sp_out (l), in = sp_in (l), nnz = sp_nnz (l);
  const float *v = l->w, *b = l->w + nnz;
  if (n < SPARSE_TRANSPOSE_MIN)
    {
      for (int s = 0; s < n; s++)
        {
          if (p->narrow)
            spmv_narrow (p, out, v, b, x + (gsize) s * in, y + (gsize) s * out);
          else
            spmv_wide (p, out, v, b, x + (gsize) s * in, y + (gsize) s * out);
        }
      return;
    }
  /* xt [in x n] <- x^T; acc [n] per row */
  float *xt = l->scratch, *acc = l->scratch + (gsize) in * n;
  for (int s = 0; s < n; s++)
    for (int c = 0; c < in; c++)
      xt[(gsize) c * n + s] = x[(gsize) s * in + c];
  for (int r = 0; r < out; r++)
    {
      for (int s = 0; s < n; s++)
        acc[s] = b[r];
      for (int k = p->row_ptr[r]; k < p->row_ptr[r + 1]; k++)
        {
          const float vk = v[k];
          const float *xr = xt + (gsize) col_at (p, k) * n;
          for (int s = 0; s < n; s++)
            acc[s] += vk * xr[s];
        }
      for (int s = 0; s < n; s++)
        y[(gsize) s * out + r] = acc[s];
    }
}

static void
sparse_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  const Sparse *p = l->priv;
  int out = sp_out (l), in = sp_in (l), nnz = sp_nnz (l);
  const float *v = l->w;
  float *gv = l->gw, *gb = l->gw + nnz;
  memset (l->gw, 0, sizeof (float) * l->n_w);
  if (dx != NULL)
    memset (dx, 0, sizeof (float) * (gsize) n * in);
  for (int s = 0; s < n; s++)
    {
      const float *xs = x + (gsize) s * in, *ds = dy + (gsize) s * out;
      float *dxs = dx != NULL ? dx + (gsize) s * in : NULL;
      for (int r = 0; r < out; r++)
        {
          float d = ds[r];
          gb[r] += d;
          if (d == 0.0f)
            continue;
          for (int k = p->row_ptr[r]; k < p->row_ptr[r + 1]; k++)
            {
              int c = col_at (p, k);
              gv[k] += d * xs[c];
              if (dxs != NULL)
                dxs[c] += v[k] * d;
            }
        }
    }
}

static double
sparse_flops (const FwLayer *l)
{
  return 2.0 * sp_nnz (l);
}

static int
sparse_tensors (const FwLayer *l, FwTensorInfo *t)
{
  t[0] = (FwTensorInfo) { "values", TRUE, 0, 1, { sp_nnz (l) } };
  t[1] = (FwTensorInfo) { "bias", TRUE, (gsize) sp_nnz (l), 1, { sp_out (l) } };
  return 2;
}

static char *
sparse_spec (const FwLayer *l)
{
  return g_strdup_printf ("sparse:%d:%d", sp_out (l), sp_nnz (l));
}

static int
sparse_packed (const FwLayer *l, FwPackedTensor *t)
{
  const Sparse *p = l->priv;
  int out = sp_out (l), nnz = sp_nnz (l);
  FwDType ct = p->narrow ? FW_DTYPE_I16 : FW_DTYPE_I32;
  t[0] = (FwPackedTensor) { "row_ptr", FW_DTYPE_I32, 1, { out + 1 }, p->row_ptr,
                            sizeof (gint32) * (gsize) (out + 1) };
  t[1] = (FwPackedTensor) { "col_index", ct, 1, { nnz },
                            p->narrow ? (const void *) p->col16 : (const void *) p->col32,
                            fw_dtype_size (ct) * (gsize) nnz };
  return 2;
}

static gboolean
sparse_unpack (FwLayer *l, const FwPackedTensor *t, int n, GError **error)
{
  Sparse *p = l->priv;
  int out = sp_out (l), nnz = sp_nnz (l), in = sp_in (l);
  const FwPackedTensor *rp = NULL, *ci = NULL;
  for (int i = 0; i < n; i++)
    if (strcmp (t[i].name, "row_ptr") == 0)
      rp = &t[i];
    else if (strcmp (t[i].name, "col_index") == 0)
      ci = &t[i];
  if (rp == NULL || ci == NULL || rp->ndim != 1 || ci->ndim != 1 || rp->dims[0] != out + 1
      || ci->dims[0] != nnz)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "sparse layer needs row_ptr [%d] and "
                   "col_index [%d] — re-save the model", out + 1, nnz);
      return FALSE;
    }
  g_autofree gint32 *row = g_new (gint32, out + 1);
  memcpy (row, rp->data, sizeof (gint32) * (gsize) (out + 1));
  if (row[0] != 0 || row[out] != nnz)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "sparse row_ptr must run from 0 to %d, "
                   "it runs from %d to %d — the file is corrupt", nnz, row[0], row[out]);
      return FALSE;
    }
  for (int r = 0; r < out; r++)
    if (row[r + 1] < row[r])
      {
        g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "sparse row_ptr decreases at row %d — "
                     "the file is corrupt", r);
        return FALSE;
      }
  g_autofree gint32 *cols = g_new (gint32, MAX (nnz, 1));
  for (int k = 0; k < nnz; k++)
    {
      if (p->narrow)
        {
          gint16 c16;
          memcpy (&c16, (const guint8 *) ci->data + 2 * (gsize) k, 2);
          cols[k] = (guint16) c16;
        }
      else
        memcpy (&cols[k], (const guint8 *) ci->data + 4 * (gsize) k, 4);
      if (cols[k] < 0 || cols[k] >= in)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "sparse col_index[%d] = %d is outside "
                       "[0, %d) — the file is corrupt", k, cols[k], in);
          return FALSE;
        }
    }
  fw_sparse_layer_set (l, row, cols);
  return TRUE;
}

void
fw_sparse_layer_set (FwLayer *l, const gint32 *row_ptr, const gint32 *cols)
{
  Sparse *p = l->priv;
  int out = sp_out (l), nnz = sp_nnz (l);
  memcpy (p->row_ptr, row_ptr, sizeof (gint32) * (gsize) (out + 1));
  for (int k = 0; k < nnz; k++)
    if (p->narrow)
      p->col16[k] = (guint16) cols[k];
    else
      p->col32[k] = cols[k];
}

void
fw_sparse_layer_get (const FwLayer *l, gint32 *row_ptr, gint32 *cols)
{
  const Sparse *p = l->priv;
  int out = sp_out (l), nnz = sp_nnz (l);
  memcpy (row_ptr, p->row_ptr, sizeof (gint32) * (gsize) (out + 1));
  for (int k = 0; k < nnz; k++)
    cols[k] = col_at (p, k);
}

const FwLayerClass fw_layer_sparse = {
  .name = "sparse",
  .help = "sparse:OUT:NNZ  fully connected layer stored in CSR form (made by pruning)",
  .setup = sparse_setup,
  .init = sparse_init,
  .forward = sparse_forward,
  .backward = sparse_backward,
  .flops = sparse_flops,
  .tensors = sparse_tensors,
  .spec = sparse_spec,
  .finalize = sparse_finalize,
  .packed = sparse_packed,
  .unpack = sparse_unpack,
};
