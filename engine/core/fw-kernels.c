/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-kernels.c: register-blocked kernels with an AVX2/FMA version chosen at run time. */
#include "fw-kernels.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define FW_KERNELS_X86 1
#include <immintrin.h>
#endif

/* Plain C: the reference and the fallback. Sixty-four accumulators; the compiler keeps what
 * it can in registers. */
static void
gemm4x16_batch_c (int batch, int k, const float *restrict a, gsize a_bs, int ars, int acs,
                  const float *restrict b, gsize b_bs, int ldb, float *restrict c)
{
  for (int q = 0; q < batch; q++)
    {
      const float *aq = a + (gsize) q * a_bs, *bq = b + (gsize) q * b_bs;
      float acc[4][16];
      memset (acc, 0, sizeof acc);
      for (int p = 0; p < k; p++)
        {
          const float *br = bq + (gsize) p * ldb;
          for (int i = 0; i < 4; i++)
            {
              float av = aq[(gsize) i * ars + (gsize) p * acs];
              for (int j = 0; j < 16; j++)
                acc[i][j] += av * br[j];
            }
        }
      memcpy (c + (gsize) q * 64, acc, sizeof acc);
    }
}

#ifdef FW_KERNELS_X86
/* C_q = A_q B_q with the 4 x 16 block in eight 8-float registers: per p, two loads of B's
 * row, four broadcasts of A's column, eight fused multiply-adds. */
__attribute__ ((target ("avx2,fma"))) static void
gemm4x16_batch_avx2 (int batch, int k, const float *restrict a, gsize a_bs, int ars, int acs,
                     const float *restrict b, gsize b_bs, int ldb, float *restrict c)
{
  for (int q = 0; q < batch; q++)
    {
      const float *aq = a + (gsize) q * a_bs, *bq = b + (gsize) q * b_bs;
      __m256 c00 = _mm256_setzero_ps (), c01 = _mm256_setzero_ps ();
      __m256 c10 = _mm256_setzero_ps (), c11 = _mm256_setzero_ps ();
      __m256 c20 = _mm256_setzero_ps (), c21 = _mm256_setzero_ps ();
      __m256 c30 = _mm256_setzero_ps (), c31 = _mm256_setzero_ps ();
      const float *a0 = aq, *a1 = aq + ars, *a2 = aq + 2 * (gsize) ars, *a3 = aq + 3 * (gsize) ars;
      for (int p = 0; p < k; p++)
        {
          const float *br = bq + (gsize) p * ldb;
          gsize ap = (gsize) p * acs;
          __m256 b0 = _mm256_loadu_ps (br), b1 = _mm256_loadu_ps (br + 8);
          __m256 v = _mm256_broadcast_ss (a0 + ap);
          c00 = _mm256_fmadd_ps (v, b0, c00);
          c01 = _mm256_fmadd_ps (v, b1, c01);
          v = _mm256_broadcast_ss (a1 + ap);
          c10 = _mm256_fmadd_ps (v, b0, c10);
          c11 = _mm256_fmadd_ps (v, b1, c11);
          v = _mm256_broadcast_ss (a2 + ap);
          c20 = _mm256_fmadd_ps (v, b0, c20);
          c21 = _mm256_fmadd_ps (v, b1, c21);
          v = _mm256_broadcast_ss (a3 + ap);
          c30 = _mm256_fmadd_ps (v, b0, c30);
          c31 = _mm256_fmadd_ps (v, b1, c31);
        }
      float *cq = c + (gsize) q * 64;
      _mm256_storeu_ps (cq, c00);
      _mm256_storeu_ps (cq + 8, c01);
      _mm256_storeu_ps (cq + 16, c10);
      _mm256_storeu_ps (cq + 24, c11);
      _mm256_storeu_ps (cq + 32, c20);
      _mm256_storeu_ps (cq + 40, c21);
      _mm256_storeu_ps (cq + 48, c30);
      _mm256_storeu_ps (cq + 56, c31);
    }
}
#endif

gboolean
fw_kernels_have_avx2 (void)
{
#ifdef FW_KERNELS_X86
  static gsize have = 0; /* 0: not yet known, 1: no, 2: yes */
  if (g_once_init_enter (&have))
    {
      /* libgcc fills the CPU model in a constructor */
      gboolean yes = __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma")
                     && g_getenv ("FW_NO_AVX2") == NULL;
      g_once_init_leave (&have, yes ? 2 : 1);
    }
  return have == 2;
#else
  return FALSE;
#endif
}

void
fw_kernel_gemm4x16_batch (int batch, int k, const float *a, gsize a_bs, int ars, int acs,
                          const float *b, gsize b_bs, int ldb, float *c)
{
#ifdef FW_KERNELS_X86
  if (fw_kernels_have_avx2 ())
    {
      gemm4x16_batch_avx2 (batch, k, a, a_bs, ars, acs, b, b_bs, ldb, c);
      return;
    }
#endif
  gemm4x16_batch_c (batch, k, a, a_bs, ars, acs, b, b_bs, ldb, c);
}
