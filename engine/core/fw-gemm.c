/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "fw-gemm.h"

#include <cblas.h>

/* openblas_set_num_threads is declared in OpenBLAS's cblas.h */

void
fw_sgemm (gboolean trans_a, gboolean trans_b, int m, int n, int k,
          float alpha, const float *a, int lda, const float *b, int ldb,
          float beta, float *c, int ldc)
{
  if (m <= 0 || n <= 0)
    return;
  if (k <= 0)
    {
      for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
          c[(gsize) i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(gsize) i * ldc + j];
      return;
    }
  if (m == 1)
    {
      /* c[1 x N] = alpha * a[1 x K] op(B)[K x N]: y = op(B)^T x */
      /* op(B) = B (K x N, stride ldb): y = B^T a  -> sgemv(Trans) on B as stored */
      /* op(B) = B^T where B is N x K stored: y = B a -> sgemv(NoTrans) */
      int inc_a = trans_a ? lda : 1;
      if (!trans_b)
        cblas_sgemv (CblasRowMajor, CblasTrans, k, n, alpha, b, ldb, a, inc_a, beta, c, 1);
      else
        cblas_sgemv (CblasRowMajor, CblasNoTrans, n, k, alpha, b, ldb, a, inc_a, beta, c, 1);
      return;
    }
  if (n == 1 && ldc == 1)
    {
      /* c[M x 1] = alpha * op(A)[M x K] b[K x 1] */
      int inc_b = trans_b ? 1 : ldb;
      if (!trans_a)
        cblas_sgemv (CblasRowMajor, CblasNoTrans, m, k, alpha, a, lda, b, inc_b, beta, c, 1);
      else
        cblas_sgemv (CblasRowMajor, CblasTrans, k, m, alpha, a, lda, b, inc_b, beta, c, 1);
      return;
    }
  cblas_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
               trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void
fw_sgemm_ref (gboolean trans_a, gboolean trans_b, int m, int n, int k,
              float alpha, const float *a, int lda, const float *b, int ldb,
              float beta, float *c, int ldc)
{
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++)
      {
        double s = 0;
        for (int p = 0; p < k; p++)
          {
            double av = trans_a ? a[(gsize) p * lda + i] : a[(gsize) i * lda + p];
            double bv = trans_b ? b[(gsize) j * ldb + p] : b[(gsize) p * ldb + j];
            s += av * bv;
          }
        float *cij = &c[(gsize) i * ldc + j];
        *cij = (float) (alpha * s + (beta == 0.0f ? 0.0 : (double) beta * *cij));
      }
}

int
fw_blas_set_threads (int n)
{
  if (n < 1)
    n = 1;
  openblas_set_num_threads (n);
  return openblas_get_num_threads ();
}

int
fw_blas_get_threads (void)
{
  return openblas_get_num_threads ();
}
