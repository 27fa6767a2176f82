/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "fw-rng.h"

#include <math.h>

static inline guint64
rotl (guint64 x, int k)
{
  return (x << k) | (x >> (64 - k));
}

static guint64
splitmix64 (guint64 *x)
{
  guint64 z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void
fw_rng_init (FwRng *rng, guint64 seed)
{
  guint64 x = seed;
  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64 (&x);
  rng->has_spare = FALSE;
  rng->spare = 0;
}

void
fw_rng_split (const FwRng *parent, guint64 stream, FwRng *child)
{
  /* hash the parent's state with the stream id through splitmix64 */
  guint64 x = parent->s[0] ^ rotl (parent->s[1], 17) ^ rotl (parent->s[2], 31) ^
              rotl (parent->s[3], 47) ^ (stream * 0xd1342543de82ef95ULL);
  for (int i = 0; i < 4; i++)
    child->s[i] = splitmix64 (&x);
  child->has_spare = FALSE;
  child->spare = 0;
}

guint64
fw_rng_next (FwRng *rng)
{
  guint64 *s = rng->s;
  const guint64 result = rotl (s[1] * 5, 7) * 9;
  const guint64 t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

guint32
fw_rng_u32 (FwRng *rng)
{
  return (guint32) (fw_rng_next (rng) >> 32);
}

double
fw_rng_uniform (FwRng *rng)
{
  return (double) (fw_rng_next (rng) >> 11) * 0x1.0p-53;
}

guint32
fw_rng_below (FwRng *rng, guint32 n)
{
  g_return_val_if_fail (n > 0, 0);
  /* Lemire's nearly divisionless method */
  guint64 m = (guint64) fw_rng_u32 (rng) * n;
  guint32 l = (guint32) m;
  if (l < n)
    {
      guint32 t = (guint32) (-n) % n;
      while (l < t)
        {
          m = (guint64) fw_rng_u32 (rng) * n;
          l = (guint32) m;
        }
    }
  return (guint32) (m >> 32);
}

double
fw_rng_normal (FwRng *rng)
{
  if (rng->has_spare)
    {
      rng->has_spare = FALSE;
      return rng->spare;
    }
  double u, v, s;
  do
    {
      u = 2.0 * fw_rng_uniform (rng) - 1.0;
      v = 2.0 * fw_rng_uniform (rng) - 1.0;
      s = u * u + v * v;
    }
  while (s >= 1.0 || s == 0.0);
  double f = sqrt (-2.0 * log (s) / s);
  rng->spare = v * f;
  rng->has_spare = TRUE;
  return u * f;
}

void
fw_rng_shuffle (FwRng *rng, gint32 *a, gsize n)
{
  for (gsize i = n; i > 1; i--)
    {
      gsize j = fw_rng_below (rng, (guint32) i);
      gint32 t = a[i - 1];
      a[i - 1] = a[j];
      a[j] = t;
    }
}

double
fw_rng_gamma (FwRng *rng, double shape)
{
  if (shape < 1.0)
    {
      /* boost: G(a) = G(a + 1) * U^(1/a) */
      double u = fw_rng_uniform (rng);
      return fw_rng_gamma (rng, shape + 1.0) * pow (u > 0 ? u : 1e-300, 1.0 / shape);
    }
  double d = shape - 1.0 / 3.0, c = 1.0 / sqrt (9.0 * d);
  for (;;)
    {
      double x, v;
      do
        {
          x = fw_rng_normal (rng);
          v = 1.0 + c * x;
        }
      while (v <= 0.0);
      v = v * v * v;
      double u = fw_rng_uniform (rng);
      if (u < 1.0 - 0.0331 * x * x * x * x)
        return d * v;
      if (log (u) < 0.5 * x * x + d * (1.0 - v + log (v)))
        return d * v;
    }
}

double
fw_rng_beta (FwRng *rng, double a, double b)
{
  double x = fw_rng_gamma (rng, a), y = fw_rng_gamma (rng, b);
  return x + y > 0 ? x / (x + y) : 0.5;
}
