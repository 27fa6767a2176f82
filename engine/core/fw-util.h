/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-util.h: small shared helpers: number formatting for people, aligned buffers. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "12.3k", "1.2M", "950" */
char   *fw_format_count   (double n);
/* "512 B", "12.3 KiB", "1.2 MiB" */
char   *fw_format_bytes   (double bytes);
/* "850 us", "12.3 ms", "4.2 s", "3 min 12 s" */
char   *fw_format_seconds (double s);

/* 64-byte aligned, zeroed allocation of n floats; free with fw_free_aligned(). Aborts on OOM
 * like g_malloc; overflow is checked. */
float  *fw_alloc_floats   (gsize n);
void    fw_free_aligned   (gpointer p);

/* Monotonic seconds. */
double  fw_now            (void);

G_END_DECLS
