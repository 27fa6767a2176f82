/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-noise.c: label-noise injection at exact rates, the same-sample regression demo and
 * confident-learning style detection of likely-mislabelled samples. */
#include "fw-noise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"
#include "fw-rng.h"

static const char *const kind_names[] = { "none", "symmetric", "pair", "matrix", NULL };

gboolean
fw_noise_kind_from_string (const char *s, FwNoiseKind *kind)
{
  for (int i = 0; kind_names[i] != NULL; i++)
    if (s != NULL && g_ascii_strcasecmp (s, kind_names[i]) == 0)
      {
        *kind = (FwNoiseKind) i;
        return TRUE;
      }
  return FALSE;
}

const char *
fw_noise_kind_to_string (FwNoiseKind kind)
{
  return (int) kind >= 0 && kind <= FW_NOISE_MATRIX ? kind_names[kind] : "none";
}

int *
fw_noise_pair_map (int k, const char *const *class_names)
{
  int *map = g_new (int, MAX (k, 1));
  for (int c = 0; c < k; c++)
    map[c] = (c + 1) % k;
  /* Fashion-MNIST: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
   * 7 Sneaker, 8 Bag, 9 Ankle boot */
  if (k == 10 && class_names != NULL && class_names[0] != NULL
      && g_str_has_prefix (class_names[0], "T-shirt"))
    {
      static const int fm[10] = { 6, 3, 4, 1, 2, 8, 0, 9, 5, 7 };
      memcpy (map, fm, sizeof fm);
    }
  return map;
}

double *
fw_noise_matrix_new (FwNoiseKind kind, double rate, int k, const int *pair_map,
                     GError **error)
{
  if (k < 2)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "label noise needs at least 2 classes (the dataset has %d)", k);
      return NULL;
    }
  if (!(rate >= 0 && rate <= 1))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "noise rate %g is outside [0, 1]: give a fraction such as 0.2", rate);
      return NULL;
    }
  if (kind == FW_NOISE_MATRIX)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "a noise matrix is read from a file (fw_noise_matrix_load)");
      return NULL;
    }
  double *T = g_new0 (double, (gsize) k * k);
  g_autofree int *own = pair_map == NULL ? fw_noise_pair_map (k, NULL) : NULL;
  const int *pm = pair_map != NULL ? pair_map : own;
  for (int i = 0; i < k; i++)
    {
      double *row = T + (gsize) i * k;
      switch (kind)
        {
        case FW_NOISE_NONE:
          row[i] = 1;
          break;
        case FW_NOISE_SYMMETRIC:
          for (int j = 0; j < k; j++)
            row[j] = j == i ? 1 - rate : rate / (k - 1);
          break;
        case FW_NOISE_PAIR:
          if (pm[i] == i || pm[i] < 0 || pm[i] >= k)
            row[i] = 1;
          else
            {
              row[i] = 1 - rate;
              row[pm[i]] = rate;
            }
          break;
        case FW_NOISE_MATRIX:
          break;
        }
    }
  return T;
}

double *
fw_noise_matrix_load (const char *path, int k, GError **error)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, error))
    {
      g_prefix_error (error, "noise matrix: ");
      return NULL;
    }
  g_autofree double *T = g_new0 (double, (gsize) k * k);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  int row = 0;
  for (int l = 0; lines[l] != NULL; l++)
    {
      char *line = g_strstrip (lines[l]);
      if (*line == '\0' || *line == '#')
        continue;
      if (row >= k)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                       "noise matrix %s: more than %d rows (one row per class)", path, k);
          return NULL;
        }
      for (char *p = line; *p; p++)
        if (*p == ',' || *p == ';' || *p == '\t')
          *p = ' ';
      g_auto (GStrv) f = g_strsplit_set (line, " ", -1);
      int col = 0;
      double sum = 0;
      for (int c = 0; f[c] != NULL; c++)
        {
          if (*f[c] == '\0')
            continue;
          char *end = NULL;
          double v = g_ascii_strtod (f[c], &end);
          if (end == f[c] || *end != '\0' || !isfinite (v) || v < 0 || col >= k)
            {
              g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                           "noise matrix %s, row %d: '%s' is not a non-negative number or "
                           "the row has more than %d entries", path, row + 1, f[c], k);
              return NULL;
            }
          T[(gsize) row * k + col++] = v;
          sum += v;
        }
      if (col != k || !(sum > 0))
        {
          g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                       "noise matrix %s, row %d: needs %d non-negative numbers, not all zero "
                       "(found %d)", path, row + 1, k, col);
          return NULL;
        }
      for (int j = 0; j < k; j++)
        T[(gsize) row * k + j] /= sum;
      row++;
    }
  if (row != k)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                   "noise matrix %s: %d rows, the dataset has %d classes (one row per class)",
                   path, row, k);
      return NULL;
    }
  return g_steal_pointer (&T);
}

typedef struct {
  int cell;       /* a row or a column */
  double frac;    /* fractional part of the expected count */
  guint32 tie;    /* random tie-breaker */
} Remainder;

static int
cmp_remainder (const void *a, const void *b)
{
  const Remainder *x = a, *y = b;
  if (x->frac != y->frac)
    return x->frac > y->frac ? -1 : 1;
  return x->tie < y->tie ? -1 : x->tie > y->tie;
}

FwNoisyLabels *
fw_noise_apply (const FwDataset *ds, const double *T, guint64 seed, GError **error)
{
  int n = ds->n, k = ds->n_classes;
  if (k < 2 || n < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "label noise on '%s' needs samples and at least 2 classes", ds->name);
      return NULL;
    }
  for (int i = 0; i < k; i++)
    {
      double s = 0;
      for (int j = 0; j < k; j++)
        {
          double v = T[(gsize) i * k + j];
          if (!(v >= 0 && v <= 1))
            {
              g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                           "noise matrix row %d: entry %d is %g, not a probability", i, j, v);
              return NULL;
            }
          s += v;
        }
      if (fabs (s - 1) > 1e-6)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "noise matrix row %d sums to %g, not 1", i, s);
          return NULL;
        }
    }
  for (int i = 0; i < n; i++)
    if (ds->y[i] < 0 || ds->y[i] >= k)
      {
        g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                     "'%s': sample %d has label %d outside [0, %d)", ds->name, i, ds->y[i], k);
        return NULL;
      }

  FwRng root, rng;
  fw_rng_init (&root, seed);
  fw_rng_split (&root, FW_RNG_NOISE, &rng);

  /* class members */
  g_autofree int *ni = g_new0 (int, k);
  for (int i = 0; i < n; i++)
    ni[ds->y[i]]++;
  g_autofree int *start = g_new0 (int, k + 1);
  for (int c = 0; c < k; c++)
    start[c + 1] = start[c] + ni[c];
  g_autofree gint32 *members = g_new (gint32, n);
  g_autofree int *fill = g_memdup2 (start, sizeof (int) * k);
  for (int i = 0; i < n; i++)
    members[fill[ds->y[i]]++] = i;

  /* exact counts, rounded in two levels so that every cell and every row is within rounding
   * of its expectation and the total is round(expected flips):
   *  1. row totals R_i: floor(E_i) with E_i = n_i (1 - T_ii), plus one for the rows with the
   *     largest fractional parts until sum R_i = round(sum E_i);
   *  2. within row i: floor(T_ij n_i), plus one for the cells with the largest fractional
   *     parts until the row holds R_i. */
  g_autofree gint64 *cnt = g_new0 (gint64, (gsize) k * k);
  g_autofree gint64 *row_flips = g_new0 (gint64, k);
  g_autofree Remainder *rem = g_new (Remainder, MAX (k, 1));
  double expected = 0;
  gint64 floors = 0;
  int n_rem = 0;
  for (int i = 0; i < k; i++)
    {
      double e = 0;
      for (int j = 0; j < k; j++)
        if (j != i)
          e += T[(gsize) i * k + j] * ni[i];
      e = MIN (e, (double) ni[i]);
      expected += e;
      row_flips[i] = (gint64) floor (e + 1e-9);
      floors += row_flips[i];
      double fr = e - (double) row_flips[i];
      if (fr > 1e-9)
        rem[n_rem++] = (Remainder) { i, fr, fw_rng_u32 (&rng) };
    }
  gint64 extra = (gint64) llround (expected) - floors;
  qsort (rem, n_rem, sizeof (Remainder), cmp_remainder);
  for (int r = 0; r < n_rem && extra > 0; r++, extra--)
    row_flips[rem[r].cell]++;
  for (int i = 0; i < k; i++)
    {
      gint64 left = row_flips[i];
      n_rem = 0;
      for (int j = 0; j < k; j++)
        {
          if (j == i)
            continue;
          double e = T[(gsize) i * k + j] * ni[i];
          gint64 f = MIN ((gint64) floor (e + 1e-9), left);
          cnt[(gsize) i * k + j] = f;
          left -= f;
          double fr = e - (double) f;
          if (fr > 1e-9)
            rem[n_rem++] = (Remainder) { j, fr, fw_rng_u32 (&rng) };
        }
      qsort (rem, n_rem, sizeof (Remainder), cmp_remainder);
      for (int r = 0; r < n_rem && left > 0; r++, left--)
        cnt[(gsize) i * k + rem[r].cell]++;
    }

  FwNoisyLabels *nl = g_new0 (FwNoisyLabels, 1);
  nl->n = n;
  nl->n_classes = k;
  nl->y_true = g_memdup2 (ds->y, sizeof (gint32) * n);
  g_autofree gint32 *all = g_new (gint32, n);
  for (int i = 0; i < n; i++)
    all[i] = i;
  g_autofree char *name = g_strdup_printf ("%s, noisy labels", ds->name);
  nl->noisy = fw_dataset_subset (ds, all, n, name);
  nl->counts = g_new0 (gint64, (gsize) k * k);
  for (int i = 0; i < k; i++)
    {
      /* a random order of the class's samples; the first cnt[i][j0] go to j0, ... */
      gint32 *mem = members + start[i];
      fw_rng_shuffle (&rng, mem, ni[i]);
      int p = 0;
      for (int j = 0; j < k; j++)
        {
          if (j == i)
            continue;
          for (gint64 c = 0; c < cnt[(gsize) i * k + j]; c++)
            nl->noisy->y[mem[p++]] = j;
        }
    }
  for (int i = 0; i < n; i++)
    {
      nl->counts[(gsize) nl->y_true[i] * k + nl->noisy->y[i]]++;
      nl->n_flipped += nl->noisy->y[i] != nl->y_true[i];
    }
  nl->rate = (double) nl->n_flipped / n;
  return nl;
}

FwNoisyLabels *
fw_noise_apply_kind (const FwDataset *ds, FwNoiseKind kind, double rate,
                     const char *matrix_path, guint64 seed, GError **error)
{
  g_autofree double *T = NULL;
  if (kind == FW_NOISE_MATRIX)
    {
      if (matrix_path == NULL || *matrix_path == '\0')
        {
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "noise kind 'matrix' needs a matrix file (k rows of k numbers)");
          return NULL;
        }
      T = fw_noise_matrix_load (matrix_path, ds->n_classes, error);
    }
  else
    {
      g_autofree int *pm = fw_noise_pair_map (ds->n_classes,
                                              (const char *const *) ds->class_names);
      T = fw_noise_matrix_new (kind, rate, ds->n_classes, pm, error);
    }
  if (T == NULL)
    return NULL;
  return fw_noise_apply (ds, T, seed, error);
}

void
fw_noisy_labels_free (FwNoisyLabels *nl)
{
  if (nl == NULL)
    return;
  fw_dataset_unref (nl->noisy);
  g_free (nl->y_true);
  g_free (nl->counts);
  g_free (nl);
}

void
fw_noise_regression_curve (double target, double sigma, const int *ns, int m, int trials,
                           guint64 seed, double *mse)
{
  FwRng root, rng;
  fw_rng_init (&root, seed);
  fw_rng_split (&root, FW_RNG_NOISE, &rng);
  for (int i = 0; i < m; i++)
    {
      double acc = 0;
      int N = MAX (ns[i], 1);
      for (int t = 0; t < trials; t++)
        {
          /* g = (1/N) sum_s (target + sigma z_s): the minimiser of sum_s (g - y_s)^2 */
          double s = 0;
          for (int j = 0; j < N; j++)
            s += target + sigma * fw_rng_normal (&rng);
          double g = s / N;
          acc += (g - target) * (g - target);
        }
      mse[i] = acc / MAX (trials, 1);
    }
}

gboolean
fw_noise_size_needed (const double *sizes, int n_sizes, const double *rates, int n_rates,
                      const double *acc, double *needed, double *predicted)
{
  int r0 = -1;
  for (int r = 0; r < n_rates; r++)
    if (rates[r] == 0)
      r0 = r;
  if (r0 < 0 || n_sizes < 1 || !isfinite (acc[r0]))
    return FALSE;
  double a_ref = acc[r0];
  for (int r = 0; r < n_rates; r++)
    {
      predicted[r] = rates[r] < 1 ? sizes[0] / (1 - rates[r]) : INFINITY;
      needed[r] = NAN;
      int prev = -1;  /* last measured size below the reference */
      for (int s = 0; s < n_sizes; s++)
        {
          double a = acc[s * n_rates + r];
          if (!isfinite (a))
            continue;
          if (a >= a_ref)
            {
              if (prev < 0)
                needed[r] = sizes[s];
              else
                {
                  /* log(size) linear in accuracy between prev and s */
                  double ap = acc[prev * n_rates + r];
                  double t = (a_ref - ap) / (a - ap);
                  needed[r] = exp (log (sizes[prev]) + t * (log (sizes[s]) - log (sizes[prev])));
                }
              break;
            }
          prev = s;
        }
    }
  return TRUE;
}

FwMislabelReport *
fw_noise_detect (const float *probs, int n, int k, const gint32 *given, const gint32 *y_true,
                 GError **error)
{
  if (n < 1 || k < 2)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "mislabel detection needs samples and at least 2 classes");
      return NULL;
    }
  for (int i = 0; i < n; i++)
    if (given[i] < 0 || given[i] >= k)
      {
        g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                     "mislabel detection: sample %d has label %d outside [0, %d)", i,
                     given[i], k);
        return NULL;
      }
  FwMislabelReport *r = g_new0 (FwMislabelReport, 1);
  r->n = n;
  r->n_classes = k;
  r->thresholds = g_new0 (double, k);
  r->flagged = g_new0 (gboolean, n);
  r->suggested = g_new (gint32, n);
  g_autofree int *cnt = g_new0 (int, k);
  /* t[j] = mean over {i : given_i = j} of probs[i][j] */
  for (int i = 0; i < n; i++)
    {
      r->thresholds[given[i]] += probs[(gsize) i * k + given[i]];
      cnt[given[i]]++;
    }
  for (int j = 0; j < k; j++)
    r->thresholds[j] = cnt[j] > 0 ? r->thresholds[j] / cnt[j] : 1.0;
  for (int i = 0; i < n; i++)
    {
      const float *p = probs + (gsize) i * k;
      int g = given[i], best = -1;
      r->suggested[i] = g;
      if (p[g] < r->thresholds[g])
        for (int j = 0; j < k; j++)
          if (j != g && p[j] >= r->thresholds[j] && (best < 0 || p[j] > p[best]))
            best = j;
      if (best >= 0)
        {
          r->flagged[i] = TRUE;
          r->suggested[i] = best;
          r->n_flagged++;
        }
      if (y_true != NULL)
        {
          gboolean flip = y_true[i] != g;
          r->n_true_flips += flip;
          r->n_hits += flip && r->flagged[i];
        }
    }
  r->precision = r->n_flagged > 0 && y_true ? (double) r->n_hits / r->n_flagged : NAN;
  r->recall = r->n_true_flips > 0 ? (double) r->n_hits / r->n_true_flips : NAN;
  return r;
}

void
fw_mislabel_report_free (FwMislabelReport *r)
{
  if (r == NULL)
    return;
  g_free (r->thresholds);
  g_free (r->flagged);
  g_free (r->suggested);
  g_free (r);
}
