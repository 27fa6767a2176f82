/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-rng.h: the engine's seeded, splittable random number generator (xoshiro256**).
 *
 * All randomness flows from a recipe's seed: split the root generator once per purpose
 * (init, shuffle, augmentation, noise, dropout) so that changing one consumer does not shift
 * the numbers another one sees. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint64 s[4];
  /* cached second normal deviate of the Box-Muller pair */
  double spare;
  gboolean has_spare;
} FwRng;

/* Well-known purposes for fw_rng_split(). */
enum {
  FW_RNG_INIT = 1,
  FW_RNG_SHUFFLE = 2,
  FW_RNG_AUGMENT = 3,
  FW_RNG_NOISE = 4,
  FW_RNG_DROPOUT = 5,
  FW_RNG_DATA = 6,
  FW_RNG_SPLIT = 7,
};

void     fw_rng_init     (FwRng *rng, guint64 seed);
/* child <- a generator derived from (parent's seed state, stream); parent is not advanced */
void     fw_rng_split    (const FwRng *parent, guint64 stream, FwRng *child);
guint64  fw_rng_next     (FwRng *rng);
guint32  fw_rng_u32      (FwRng *rng);
/* uniform in [0, 1) with 53 bits */
double   fw_rng_uniform  (FwRng *rng);
/* uniform integer in [0, n) without modulo bias; n > 0 */
guint32  fw_rng_below    (FwRng *rng, guint32 n);
/* standard normal deviate */
double   fw_rng_normal   (FwRng *rng);
/* Fisher-Yates shuffle of an int array */
void     fw_rng_shuffle  (FwRng *rng, gint32 *a, gsize n);
/* Gamma(shape, 1) (Marsaglia-Tsang) and Beta(a, b) deviates, for Mixup and friends */
double   fw_rng_gamma    (FwRng *rng, double shape);
double   fw_rng_beta     (FwRng *rng, double a, double b);

G_END_DECLS
