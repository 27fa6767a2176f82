/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-sparse.c: "sparse:OUT:NNZ[:B]", a fully connected layer stored in CSR form, or in block
 * CSR with 1 x B blocks (B consecutive inputs of a row; B = 1 is plain CSR).
 *
 * y[s][r] = b[r] + sum over blocks k in row_ptr[r] .. row_ptr[r+1] - 1 of
 *                  sum over j < B of values[k B + j] x[s][col[k] + j]
 * NNZ counts blocks; the layer stores NNZ B values.
 *
 * Storage: trainable F32 tensors "values" [NNZ B] and "bias" [OUT] (in l->w, so fine-tuning,
 * optimizers and the file's F32 entries work as for any layer), packed tensors "row_ptr"
 * I32 [OUT + 1] and "col_index" [NNZ], I16 when the layer has at most 32767 inputs (half the
 * bytes), else I32. The spec token carries NNZ so setup() can size the parameters; a layer
 * built from a spec alone (no file) gets an evenly spread pattern of NNZ / OUT entries per row,
 * which fw_sparse_layer_set() or a loaded file replaces.
 *
 * Kernels (forward):
 *   n < SPARSE_GEMM_BATCH  per sample, per row a sparse dot product: NNZ B multiply-adds
 *                          instead of OUT IN for the dense layer (batch-1 latency). B = 1: AVX2
 *                          gathers 8 inputs at a time with FMA when the CPU has them
 *                          (fw-kernels.h), else scalar C with 4 accumulators; a gathered
 *                          input costs about as much as 3 loads, which caps CSR at about 2x
 *                          over OpenBLAS's dense product at 90% sparsity on this machine.
 *                          B = 8 (or 4): one vector load of x per block, no gather: 3-5x.
 *   otherwise              the values are scattered into a dense [OUT x IN] scratch matrix and
 *                          one GEMM runs (a batch amortises the scatter, and OpenBLAS's GEMM
 *                          beats any CSR kernel at 10% density and batch 256: measured by
 *                          tests/bench/bench-prune.c); the file and the model stay sparse
 * Backward: G_values[k] = sum_s dy[s][r] x[s][col[k]], G_b = sum_s dy, dx[s][col[k]] +=
 * values[k] dy[s][r]. */
#include "fw-sparse.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define SPARSE_X86 1
#include <immintrin.h>
#endif

#include "fw-error.h"
#include "fw-gemm.h"
#include "fw-kernels.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("O3")
#endif

#define SPARSE_GEMM_BATCH 16

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

static inline int
sp_b (const FwLayer *l)
{
  return l->iarg[3];
}

/* the default pattern: row r holds nnz/out (+1 for the first nnz%out rows) entries spread
 * evenly over the inputs, shifted by r */
static void
default_pattern (FwLayer *l)
{
  Sparse *p = l->priv;
  int out = sp_out (l), nnz = sp_nnz (l), in = sp_in (l) - sp_b (l) + 1;
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
  int out, nnz, B;
  int in = (int) fw_shape_size (l->in);
  if (n_args > 3)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "layer %d (sparse): too many arguments; "
                   "usage: %s", l->index + 1, l->klass->help);
      return FALSE;
    }
  if (!fw_layer_parse_int (l, args, n_args, 0, -1, 1, 1 << 20, &out, error))
    return FALSE;
  if (!fw_layer_parse_int (l, args, n_args, 2, 1, 1, MIN (in, 64), &B, error))
    return FALSE;
  gint64 max_nnz = MIN ((gint64) out * (in / B), G_MAXINT32 / B);
  if (!fw_layer_parse_int (l, args, n_args, 1, -1, 0, (int) max_nnz, &nnz, error))
    return FALSE;
  l->iarg[0] = out;
  l->iarg[1] = nnz;
  l->iarg[2] = in;
  l->iarg[3] = B;
  l->out = (FwShape) { out, 1, 1 };
  l->n_w = (gsize) nnz * B + out;
  /* the dense matrix for batches of SPARSE_GEMM_BATCH or more */
  l->scratch_fixed = (gsize) out * in;
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
  int out = sp_out (l), nv = sp_nnz (l) * sp_b (l);
  /* fan-in of the sparse layer: the mean number of inputs a row reads */
  int fan = MAX (1, nv / MAX (out, 1));
  fw_init_uniform_fan_in (l->w, (gsize) nv + out, fan, rng);
}

static inline int
col_at (const Sparse *p, int k)
{
  return p->narrow ? p->col16[k] : p->col32[k];
}

/* one sample: y[r] = b[r] + sum values[k] x[col[k]]; plain C, not auto-vectorised (GCC's
 * vectorised gathers through pextr/insert are slower than scalar loads) */
#define SPMV_BODY(COL) \
  for (int r = 0; r < out; r++) \
    { \
      int k = rp[r], e = rp[r + 1]; \
      float a0 = 0, a1 = 0, a2 = 0, a3 = 0; \
      for (; k + 4 <= e; k += 4) \
        { \
          a0 += v[k] * x[COL[k]]; \
          a1 += v[k + 1] * x[COL[k + 1]]; \
          a2 += v[k + 2] * x[COL[k + 2]]; \
          a3 += v[k + 3] * x[COL[k + 3]]; \
        } \
      for (; k < e; k++) \
        a0 += v[k] * x[COL[k]]; \
      y[r] = b[r] + ((a0 + a1) + (a2 + a3)); \
    }

__attribute__ ((optimize ("no-tree-vectorize"))) static void
spmv_c (const Sparse *p, int out, const float *v, const float *b, const float *x, float *y)
{
  const gint32 *rp = p->row_ptr;
  if (p->narrow)
    {
      const guint16 *col = p->col16;
      SPMV_BODY (col)
    }
  else
    {
      const gint32 *col = p->col32;
      SPMV_BODY (col)
    }
}

#ifdef SPARSE_X86
__attribute__ ((target ("avx2,fma"))) static inline float
hsum256 (__m256 a)
{
  __m128 s = _mm_add_ps (_mm256_castps256_ps128 (a), _mm256_extractf128_ps (a, 1));
  s = _mm_add_ps (s, _mm_movehl_ps (s, s));
  s = _mm_add_ss (s, _mm_shuffle_ps (s, s, 1));
  return _mm_cvtss_f32 (s);
}

/* the same sums with 8-wide gathers and FMA, four accumulators of 8 lanes per row, the last
 * partial group of 8 through a masked gather (no scalar tail, no branch on the index type
 * inside the loop: IDX16 selects the I16 or I32 column array) */
#define SPMV_AVX2(NAME, LOAD) \
  __attribute__ ((target ("avx2,fma"))) static void \
  NAME (const Sparse *p, int out, const float *v, const float *b, const float *x, float *y) \
  { \
    const gint32 *rp = p->row_ptr; \
    const __m256i lane = _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7); \
    for (int r = 0; r < out; r++) \
      { \
        int k = rp[r], e = rp[r + 1]; \
        __m256 a0 = _mm256_setzero_ps (), a1 = _mm256_setzero_ps (); \
        __m256 a2 = _mm256_setzero_ps (), a3 = _mm256_setzero_ps (); \
        for (; k + 32 <= e; k += 32) \
          { \
            a0 = _mm256_fmadd_ps (_mm256_loadu_ps (v + k), \
                                  _mm256_i32gather_ps (x, LOAD (k), 4), a0); \
            a1 = _mm256_fmadd_ps (_mm256_loadu_ps (v + k + 8), \
                                  _mm256_i32gather_ps (x, LOAD (k + 8), 4), a1); \
            a2 = _mm256_fmadd_ps (_mm256_loadu_ps (v + k + 16), \
                                  _mm256_i32gather_ps (x, LOAD (k + 16), 4), a2); \
            a3 = _mm256_fmadd_ps (_mm256_loadu_ps (v + k + 24), \
                                  _mm256_i32gather_ps (x, LOAD (k + 24), 4), a3); \
          } \
        for (; k + 8 <= e; k += 8) \
          a0 = _mm256_fmadd_ps (_mm256_loadu_ps (v + k), \
                                _mm256_i32gather_ps (x, LOAD (k), 4), a0); \
        if (k < e) \
          { \
            /* lanes k .. e - 1 live; the others read index 0 and value 0 */ \
            __m256i live = _mm256_cmpgt_epi32 (_mm256_set1_epi32 (e - k), lane); \
            float vt[8] = { 0 }; \
            gint32 it[8] = { 0 }; \
            for (int q = 0; q < e - k; q++) \
              { \
                vt[q] = v[k + q]; \
                it[q] = IDX[k + q]; \
              } \
            __m256 g = _mm256_mask_i32gather_ps (_mm256_setzero_ps (), x, \
                                                 _mm256_loadu_si256 ((const __m256i *) it), \
                                                 _mm256_castsi256_ps (live), 4); \
            a1 = _mm256_fmadd_ps (_mm256_loadu_ps (vt), g, a1); \
          } \
        y[r] = b[r] + hsum256 (_mm256_add_ps (_mm256_add_ps (a0, a1), \
                                              _mm256_add_ps (a2, a3))); \
      } \
  }

#define LOAD16(k) _mm256_cvtepu16_epi32 (_mm_loadu_si128 ((const __m128i *) (p->col16 + (k))))
#define LOAD32(k) _mm256_loadu_si256 ((const __m256i *) (p->col32 + (k)))
#define IDX p->col16
SPMV_AVX2 (spmv_avx2_i16, LOAD16)
#undef IDX
#define IDX p->col32
SPMV_AVX2 (spmv_avx2_i32, LOAD32)
#undef IDX

#endif

/* blocks of B > 1: sum over j < B of v[k B + j] x[col[k] + j], plain C */
static void
spmv_blocks_c (const Sparse *p, int out, int B, const float *v, const float *b, const float *x,
               float *y)
{
  const gint32 *rp = p->row_ptr;
  for (int r = 0; r < out; r++)
    {
      float acc = 0;
      for (int k = rp[r]; k < rp[r + 1]; k++)
        {
          const float *vk = v + (gsize) k * B, *xk = x + col_at (p, k);
          for (int j = 0; j < B; j++)
            acc += vk[j] * xk[j];
        }
      y[r] = b[r] + acc;
    }
}

#ifdef SPARSE_X86
/* 1 x 8 blocks: one 8-wide load of x per block, four accumulators */
__attribute__ ((target ("avx2,fma"))) static void
spmv_b8_avx2 (const Sparse *p, int out, const float *v, const float *b, const float *x,
              float *y)
{
  const gint32 *rp = p->row_ptr;
  for (int r = 0; r < out; r++)
    {
      int k = rp[r], e = rp[r + 1];
      __m256 a0 = _mm256_setzero_ps (), a1 = _mm256_setzero_ps ();
      __m256 a2 = _mm256_setzero_ps (), a3 = _mm256_setzero_ps ();
      for (; k + 4 <= e; k += 4)
        {
          a0 = _mm256_fmadd_ps (_mm256_loadu_ps (v + 8 * (gsize) k),
                                _mm256_loadu_ps (x + col_at (p, k)), a0);
          a1 = _mm256_fmadd_ps (_mm256_loadu_ps (v + 8 * (gsize) k + 8),
                                _mm256_loadu_ps (x + col_at (p, k + 1)), a1);
          a2 = _mm256_fmadd_ps (_mm256_loadu_ps (v + 8 * (gsize) k + 16),
                                _mm256_loadu_ps (x + col_at (p, k + 2)), a2);
          a3 = _mm256_fmadd_ps (_mm256_loadu_ps (v + 8 * (gsize) k + 24),
                                _mm256_loadu_ps (x + col_at (p, k + 3)), a3);
        }
      for (; k < e; k++)
        a0 = _mm256_fmadd_ps (_mm256_loadu_ps (v + 8 * (gsize) k),
                              _mm256_loadu_ps (x + col_at (p, k)), a0);
      y[r] = b[r] + hsum256 (_mm256_add_ps (_mm256_add_ps (a0, a1), _mm256_add_ps (a2, a3)));
    }
}

/* 1 x 4 blocks: 4-wide loads, two blocks per 8-wide FMA */
__attribute__ ((target ("avx2,fma"))) static void
spmv_b4_avx2 (const Sparse *p, int out, const float *v, const float *b, const float *x,
              float *y)
{
  const gint32 *rp = p->row_ptr;
  for (int r = 0; r < out; r++)
    {
      int k = rp[r], e = rp[r + 1];
      __m256 a0 = _mm256_setzero_ps (), a1 = _mm256_setzero_ps ();
      for (; k + 4 <= e; k += 4)
        {
          __m256 x0 = _mm256_set_m128 (_mm_loadu_ps (x + col_at (p, k + 1)),
                                       _mm_loadu_ps (x + col_at (p, k)));
          __m256 x1 = _mm256_set_m128 (_mm_loadu_ps (x + col_at (p, k + 3)),
                                       _mm_loadu_ps (x + col_at (p, k + 2)));
          a0 = _mm256_fmadd_ps (_mm256_loadu_ps (v + 4 * (gsize) k), x0, a0);
          a1 = _mm256_fmadd_ps (_mm256_loadu_ps (v + 4 * (gsize) k + 8), x1, a1);
        }
      float t = hsum256 (_mm256_add_ps (a0, a1));
      for (; k < e; k++)
        for (int j = 0; j < 4; j++)
          t += v[4 * (gsize) k + j] * x[col_at (p, k) + j];
      y[r] = b[r] + t;
    }
}

#endif

static void
sparse_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  const Sparse *p = l->priv;
  int out = sp_out (l), in = sp_in (l), nnz = sp_nnz (l), B = sp_b (l);
  const float *v = l->w, *b = l->w + (gsize) nnz * B;
  if (n < SPARSE_GEMM_BATCH)
    {
      for (int s = 0; s < n; s++)
        {
          const float *xs = x + (gsize) s * in;
          float *ys = y + (gsize) s * out;
#ifdef SPARSE_X86
          gboolean avx2 = fw_kernels_have_avx2 ();
          if (B == 1 && avx2 && p->narrow)
            spmv_avx2_i16 (p, out, v, b, xs, ys);
          else if (B == 1 && avx2)
            spmv_avx2_i32 (p, out, v, b, xs, ys);
          else if (B == 8 && avx2)
            spmv_b8_avx2 (p, out, v, b, xs, ys);
          else if (B == 4 && avx2)
            spmv_b4_avx2 (p, out, v, b, xs, ys);
          else
#endif
          if (B == 1)
            spmv_c (p, out, v, b, xs, ys);
          else
            spmv_blocks_c (p, out, B, v, b, xs, ys);
        }
      return;
    }
  /* W [out x in] <- scatter of the values; y <- x W^T + b */
  float *W = l->scratch;
  memset (W, 0, sizeof (float) * (gsize) out * in);
  for (int r = 0; r < out; r++)
    for (int k = p->row_ptr[r]; k < p->row_ptr[r + 1]; k++)
      for (int j = 0; j < B; j++)
        W[(gsize) r * in + col_at (p, k) + j] += v[(gsize) k * B + j];
  for (int s = 0; s < n; s++)
    memcpy (y + (gsize) s * out, b, sizeof (float) * out);
  fw_sgemm (FALSE, TRUE, n, out, in, 1.0f, x, in, W, in, 1.0f, y, out);
}

static void
sparse_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  const Sparse *p = l->priv;
  int out = sp_out (l), in = sp_in (l), nnz = sp_nnz (l), B = sp_b (l);
  const float *v = l->w;
  float *gv = l->gw, *gb = l->gw + (gsize) nnz * B;
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
              for (int j = 0; j < B; j++)
                {
                  /* G_v = dy x, G_x = v dy */
                  gv[(gsize) k * B + j] += d * xs[c + j];
                  if (dxs != NULL)
                    dxs[c + j] += v[(gsize) k * B + j] * d;
                }
            }
        }
    }
}

static double
sparse_flops (const FwLayer *l)
{
  return 2.0 * sp_nnz (l) * sp_b (l);
}

static int
sparse_tensors (const FwLayer *l, FwTensorInfo *t)
{
  gsize nv = (gsize) sp_nnz (l) * sp_b (l);
  t[0] = (FwTensorInfo) { "values", TRUE, 0, 1, { (int) nv } };
  t[1] = (FwTensorInfo) { "bias", TRUE, nv, 1, { sp_out (l) } };
  return 2;
}

static char *
sparse_spec (const FwLayer *l)
{
  if (sp_b (l) > 1)
    return g_strdup_printf ("sparse:%d:%d:%d", sp_out (l), sp_nnz (l), sp_b (l));
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
  int out = sp_out (l), nnz = sp_nnz (l), in = sp_in (l) - sp_b (l) + 1;
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
  .help = "sparse:OUT:NNZ[:B]  fully connected layer in CSR form, NNZ blocks of 1 x B "
          "weights (made by pruning)",
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
