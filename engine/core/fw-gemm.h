/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-gemm.h: every matrix product of the engine goes through here.
 *
 * Row-major: C[M x N] <- alpha * op(A)[M x K] * op(B)[K x N] + beta * C.
 * op(X) is X or X^T according to trans_a / trans_b; lda, ldb, ldc are the row strides of the
 * matrices as stored. One-row (or one-column) products are routed to sgemv. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void fw_sgemm (gboolean trans_a, gboolean trans_b, int m, int n, int k,
               float alpha, const float *a, int lda, const float *b, int ldb,
               float beta, float *c, int ldc);

/* The naive triple loop, in double precision accumulation: the reference for tests. */
void fw_sgemm_ref (gboolean trans_a, gboolean trans_b, int m, int n, int k,
                   float alpha, const float *a, int lda, const float *b, int ldb,
                   float beta, float *c, int ldc);

/* Sets OpenBLAS's thread count (n >= 1); returns the count in force. */
int  fw_blas_set_threads (int n);
int  fw_blas_get_threads (void);

G_END_DECLS
