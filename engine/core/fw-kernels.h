/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-kernels.h: small register-blocked kernels for hot loops that a BLAS call serves badly.
 *
 * The engine is built for x86-64-v2 (SSE4.2); where the CPU has AVX2 and FMA (checked once at
 * run time), the kernels run an AVX2/FMA version, else plain C. Both compute the same sums
 * in the same order per output element (up to FMA's single rounding). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A batch of small products with a short inner dimension k, each written to a 4 x 16 block:
 *   for q in [0, batch):  C_q[4 x 16] = A_q[4 x k] B_q[k x 16]
 * with A_q(i, p) = a[q a_bs + i ars + p acs], B_q(p, j) = b[q b_bs + p ldb + j],
 * C_q(i, j) = c[64 q + 16 i + j] (c holds batch 4 x 16 blocks, overwritten).
 * This is fw_sgemm's job in general; it exists for Winograd's 16 products per tile block,
 * whose k (a channel count, 8 to a few hundred) is too short for a BLAS call to pay off and
 * whose results are consumed at once from L1 (no beta pass, no packing). */
void fw_kernel_gemm4x16_batch (int batch, int k, const float *a, gsize a_bs, int ars, int acs,
                               const float *b, gsize b_bs, int ldb, float *c);

/* TRUE when the AVX2/FMA versions run: the CPU has AVX2 and FMA and the environment variable
 * FW_NO_AVX2 was not set when first asked (tests use it to run the plain C versions). */
gboolean fw_kernels_have_avx2 (void);

G_END_DECLS
