/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-compare.c: the compare board: models measured as stored, the Pareto frontier, exports. */
#include "fw-compare.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-safetensors.h"
#include "fw-train.h"
#include "fw-util.h"

void
fw_compare_options_init (FwCompareOptions *opt)
{
  opt->measure_time = TRUE;
  opt->reps = 15;
  opt->min_rep_s = 0.005;
  opt->big_batch = 256;
  opt->eval_batch = 256;
}

/* ---- rows and the table ---- */

void
fw_compare_row_free (FwCompareRow *row)
{
  if (row == NULL)
    return;
  g_free (row->name);
  g_free (row->kind);
  g_free (row->path);
  g_free (row->variant);
  g_free (row->per_class_acc);
  g_free (row->delta);
  g_free (row->confusion);
  g_free (row);
}

FwCompareRow *
fw_compare_row_copy (const FwCompareRow *row)
{
  FwCompareRow *c = g_memdup2 (row, sizeof *row);
  int k = row->n_classes;

  c->name = g_strdup (row->name);
  c->kind = g_strdup (row->kind);
  c->path = g_strdup (row->path);
  c->variant = g_strdup (row->variant);
  c->per_class_acc = g_memdup2 (row->per_class_acc, sizeof (double) * k);
  c->delta = g_memdup2 (row->delta, sizeof (double) * k);
  c->confusion = g_memdup2 (row->confusion, sizeof (gint64) * k * k);
  return c;
}

FwCompareTable *
fw_compare_table_new (const char *const *class_names, int n_classes)
{
  FwCompareTable *t = g_new0 (FwCompareTable, 1);

  g_return_val_if_fail (n_classes > 0, NULL);
  t->n_classes = n_classes;
  t->class_names = g_new0 (char *, n_classes + 1);
  for (int c = 0; c < n_classes; c++)
    t->class_names[c] = class_names != NULL && class_names[c] != NULL
                          ? g_strdup (class_names[c]) : g_strdup_printf ("%d", c);
  t->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) fw_compare_row_free);
  return t;
}

void
fw_compare_table_free (FwCompareTable *t)
{
  if (t == NULL)
    return;
  g_strfreev (t->class_names);
  g_ptr_array_unref (t->rows);
  g_free (t->data_name);
  g_free (t);
}

void
fw_compare_table_add_row (FwCompareTable *t, const FwCompareRow *row)
{
  g_return_if_fail (row->n_classes == t->n_classes);
  g_ptr_array_add (t->rows, fw_compare_row_copy (row));
}

/* ---- names with seeds ---- */

char *
fw_compare_split_seed (const char *name, int *seed)
{
  /* "<variant> seed 3", "<variant>-seed3", "<variant>_s3", "<variant> (seed 3)" */
  static GRegex *re;
  g_autoptr (GMatchInfo) mi = NULL;

  if (g_once_init_enter (&re))
    {
      GRegex *r = g_regex_new ("^(.*?\\S)(?:[ _-]+(?:seed[ =_-]*|s)|\\s*\\(seed[ =]*)(\\d{1,6})\\)?$",
                               G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL);
      g_once_init_leave (&re, r);
    }
  *seed = -1;
  if (name == NULL)
    return g_strdup ("");
  if (g_regex_match (re, name, 0, &mi))
    {
      g_autofree char *digits = g_match_info_fetch (mi, 2);
      g_autofree char *whole = g_match_info_fetch (mi, 0);
      /* "(seed 3" without the closing parenthesis, or "x seed 3)": not a suffix */
      gboolean open = strstr (whole, "(seed") != NULL || strstr (whole, "(SEED") != NULL;
      gboolean close = g_str_has_suffix (name, ")");
      if (open == close)
        {
          *seed = atoi (digits);
          return g_match_info_fetch (mi, 1);
        }
    }
  return g_strdup (name);
}

/* ---- measuring ---- */

/* the timing batch (below), shared with the job's side-by-side timing */
static float *timing_batch (const FwDataset *test, int big);

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (double *v, int n)
{
  qsort (v, n, sizeof (double), cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Passes per repetition so that one repetition lasts min_rep_s (after a warm-up pass); 0 when
 * cancelled. */
static long
calibrate (FwModel *m, const float *x, int batch, double min_rep_s, GCancellable *cancellable)
{
  long k = 1;
  fw_model_reserve (m, batch);
  fw_model_forward (m, x, batch, FALSE);   /* warm-up: caches, lazy buffers */
  for (;;)
    {
      double t0 = fw_now ();
      for (long i = 0; i < k; i++)
        fw_model_forward (m, x, batch, FALSE);
      double dt = fw_now () - t0;
      if (dt >= min_rep_s || k >= (1L << 24))
        return k;
      if (g_cancellable_is_cancelled (cancellable))
        return 0;
      k = dt > 0 ? MAX (2 * k, (long) ceil (1.2 * k * min_rep_s / dt)) : 10 * k;
    }
}

/* Seconds per pass over one repetition of k passes. */
static double
time_rep (FwModel *m, const float *x, int batch, long k)
{
  double t0 = fw_now ();
  for (long i = 0; i < k; i++)
    fw_model_forward (m, x, batch, FALSE);
  return (fw_now () - t0) / (double) k;
}

double
fw_compare_time_forward (FwModel *m, const float *x, int batch, int reps, double min_rep_s,
                         GCancellable *cancellable)
{
  reps = MAX (reps, 1);
  long k = calibrate (m, x, batch, min_rep_s, cancellable);
  if (k == 0)
    return NAN;
  g_autofree double *times = g_new (double, reps);
  for (int r = 0; r < reps; r++)
    {
      if (g_cancellable_is_cancelled (cancellable))
        return NAN;
      times[r] = time_rep (m, x, batch, k);
    }
  return median (times, reps);
}

gboolean
fw_compare_time_models (FwModel *const *models, int n, const float *x, int big, int reps,
                        double min_rep_s, double *latency, double *throughput,
                        FwCompareTimingFunc progress, gpointer user, GCancellable *cancellable)
{
  const int batches[2] = { 1, big };
  reps = MAX (reps, 1);
  g_autofree long *k = g_new (long, (gsize) MAX (n, 1));
  g_autofree double *times = g_new (double, (gsize) n * reps);
  for (int b = 0; b < 2; b++)
    {
      int nr = b == 0 ? reps : MAX (reps / 2, 3);
      for (int i = 0; i < n; i++)
        if ((k[i] = calibrate (models[i], x, batches[b], min_rep_s, cancellable)) == 0)
          return FALSE;
      /* round-robin: repetition r of every model before repetition r + 1 of any */
      for (int r = 0; r < nr; r++)
        {
          if (g_cancellable_is_cancelled (cancellable))
            return FALSE;
          for (int i = 0; i < n; i++)
            times[(gsize) i * nr + r] = time_rep (models[i], x, batches[b], k[i]);
          if (progress != NULL)
            progress (user, (b * nr + r + 1.0) / (2.0 * nr));
        }
      for (int i = 0; i < n; i++)
        {
          double t = median (times + (gsize) i * nr, nr);
          if (b == 0)
            latency[i] = t;
          else
            throughput[i] = big / t;
        }
    }
  return TRUE;
}

float *
fw_compare_timing_batch (const FwDataset *test, int big)
{
  return timing_batch (test, big);
}

/* @big test images (repeated when the test set is smaller), [big x size(input)]. */
static float *
timing_batch (const FwDataset *test, int big)
{
  gsize in = fw_dataset_sample_size (test);
  float *x = g_new (float, (gsize) big * in);
  for (int i = 0; i < big; i++)
    memcpy (x + (gsize) i * in, test->x + (gsize) (i % test->n) * in, in * sizeof (float));
  return x;
}

static gsize
count_nonzero_f (const float *v, gsize n)
{
  gsize nz = 0;
  for (gsize i = 0; i < n; i++)
    nz += v[i] != 0.0f;
  return nz;
}

/* Index structures (CSR column indices, row pointers) are storage, not weights: they are
 * counted as stored but never as non-zero parameters. */
static gboolean
is_index_tensor (const char *name)
{
  return name != NULL && (strstr (name, "index") != NULL || strstr (name, "indices") != NULL
                          || strstr (name, "ptr") != NULL || strstr (name, "offsets") != NULL);
}

static gsize
count_nonzero_packed (const FwPackedTensor *p, gsize n)
{
  gsize nz = 0;
  if (p->data == NULL)
    return 0;
  for (gsize i = 0; i < n; i++)
    switch (p->dtype)
      {
      case FW_DTYPE_F32: nz += ((const float *) p->data)[i] != 0.0f; break;
      case FW_DTYPE_F16: nz += (((const guint16 *) p->data)[i] & 0x7fff) != 0; break;
      case FW_DTYPE_I8: case FW_DTYPE_U8: nz += ((const guint8 *) p->data)[i] != 0; break;
      case FW_DTYPE_I16: case FW_DTYPE_U16: nz += ((const guint16 *) p->data)[i] != 0; break;
      case FW_DTYPE_I32: nz += ((const guint32 *) p->data)[i] != 0; break;
      default: break;
      }
  return nz;
}

void
fw_compare_count_params (const FwModel *m, gsize *stored, gsize *nonzero)
{
  fw_compare_count_values (m, stored, nonzero, NULL);
}

void
fw_compare_count_values (const FwModel *m, gsize *stored, gsize *nonzero, gsize *weights)
{
  gsize s = 0, nz = 0, wt = 0;

  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = m->layers[i];
      FwTensorInfo info[FW_LAYER_MAX_TENSORS];
      int nt = l->klass->tensors (l, info);

      for (int j = 0; j < nt; j++)
        {
          gsize n = 1;
          for (int d = 0; d < info[j].ndim; d++)
            n *= (gsize) info[j].dims[d];
          const float *base = info[j].trainable ? l->w : l->st;
          s += n;
          wt += n;
          if (nonzero != NULL)
            nz += count_nonzero_f (base + info[j].offset, n);
        }
      if (l->klass->packed != NULL)
        {
          FwPackedTensor pk[FW_LAYER_MAX_TENSORS];
          int np = l->klass->packed (l, pk);
          for (int j = 0; j < np; j++)
            {
              gsize n = pk[j].ndim > 0 ? 1 : 0;
              for (int d = 0; d < pk[j].ndim; d++)
                n *= (gsize) pk[j].dims[d];
              s += n;
              if (!is_index_tensor (pk[j].name))
                {
                  wt += n;
                  if (nonzero != NULL)
                    nz += count_nonzero_packed (&pk[j], n);
                }
            }
        }
    }
  if (stored != NULL)
    *stored = s;
  if (nonzero != NULL)
    *nonzero = nz;
  if (weights != NULL)
    *weights = wt;
}

static gboolean
file_size (const char *path, gint64 *bytes, GError **error)
{
  GStatBuf st;
  if (g_stat (path, &st) != 0)
    {
      int e = errno;
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "%s: cannot read its size: %s", path,
                   g_strerror (e));
      return FALSE;
    }
  *bytes = (gint64) st.st_size;
  return TRUE;
}

/* The bytes a model takes on disk: its file, or a temporary save of it. */
static gboolean
measure_bytes (FwModel *m, const char *path, gint64 *bytes, GError **error)
{
  g_autofree char *tmp = NULL;
  gboolean ok;
  int fd;

  if (path != NULL)
    return file_size (path, bytes, error);
  fd = g_file_open_tmp ("fw-compare-XXXXXX.safetensors", &tmp, error);
  if (fd < 0)
    {
      g_prefix_error (error, "cannot measure the saved size of the model: ");
      return FALSE;
    }
  close (fd);
  ok = fw_model_save (m, tmp, NULL, error) && file_size (tmp, bytes, error);
  g_unlink (tmp);
  return ok;
}

FwCompareRow *
fw_compare_measure (FwCompareTable *t, const char *name, const char *kind, FwModel *m,
                    const char *path, const FwDataset *test, const FwCompareOptions *opt,
                    GCancellable *cancellable, GError **error)
{
  FwCompareOptions defaults;
  g_autoptr (FwEvalResult) ev = NULL;
  FwCompareRow *row;
  int k = t->n_classes;

  if (opt == NULL)
    {
      fw_compare_options_init (&defaults);
      opt = &defaults;
    }
  if (m->n_classes != k || test->n_classes != k)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "%s: the model predicts %d classes, the test set %s has %d and the board %d; "
                   "compare models of one task on its test set", name, m->n_classes, test->name,
                   test->n_classes, k);
      return NULL;
    }
  if (test->n < 1)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: the test set is empty", test->name);
      return NULL;
    }
  ev = fw_evaluate (m, test, opt->eval_batch, cancellable, error);
  if (ev == NULL)
    {
      g_prefix_error (error, "%s: ", name);
      return NULL;
    }

  row = g_new0 (FwCompareRow, 1);
  row->name = g_strdup (name);
  row->kind = g_strdup (kind);
  row->path = g_strdup (path);
  row->variant = fw_compare_split_seed (name, &row->seed);
  row->n_classes = k;
  row->accuracy = ev->accuracy;
  row->per_class_acc = g_memdup2 (ev->per_class_acc, sizeof (double) * k);
  row->delta = g_new0 (double, k);
  row->confusion = g_memdup2 (ev->confusion, sizeof (gint64) * k * k);
  fw_compare_count_params (m, &row->params_stored, &row->params_nonzero);
  row->flops = fw_model_flops (m);
  row->latency_s = row->throughput = NAN;
  row->n_seeds = 1;
  if (!measure_bytes (m, path, &row->file_bytes, error))
    {
      fw_compare_row_free (row);
      return NULL;
    }

  if (opt->measure_time)
    {
      int big = MAX (opt->big_batch, 1);
      g_autofree float *x = timing_batch (test, big);
      row->latency_s = fw_compare_time_forward (m, x, 1, opt->reps, opt->min_rep_s,
                                                cancellable);
      double tb = fw_compare_time_forward (m, x, big, MAX (opt->reps / 2, 3), opt->min_rep_s,
                                           cancellable);
      row->throughput = big / tb;
      if (g_cancellable_is_cancelled (cancellable))
        {
          g_set_error (error, FW_ERROR, FW_ERROR_CANCELLED, "Timing %s cancelled", name);
          fw_compare_row_free (row);
          return NULL;
        }
    }
  if (t->data_name == NULL)
    {
      t->data_name = g_strdup (test->name);
      t->n_test = test->n;
    }
  g_ptr_array_add (t->rows, row);
  return row;
}

static void
mean_std (const double *v, int n, double *mean, double *std)
{
  double s = 0, q = 0;
  int m = 0;
  for (int i = 0; i < n; i++)
    if (isfinite (v[i]))
      s += v[i], m++;
  *mean = m > 0 ? s / m : NAN;
  for (int i = 0; i < n; i++)
    if (isfinite (v[i]))
      q += (v[i] - *mean) * (v[i] - *mean);
  *std = m > 1 ? sqrt (q / (m - 1)) : 0;
}

void
fw_compare_table_finish (FwCompareTable *t, int baseline)
{
  guint n = t->rows->len;
  int k = t->n_classes;

  if (n == 0)
    {
      t->baseline = 0;
      return;
    }
  t->baseline = CLAMP (baseline, 0, (int) n - 1);
  const FwCompareRow *b = fw_compare_table_row (t, t->baseline);
  for (guint i = 0; i < n; i++)
    {
      FwCompareRow *r = fw_compare_table_row (t, i);
      r->delta_acc = r->accuracy - b->accuracy;
      for (int c = 0; c < k; c++)
        r->delta[c] = r->per_class_acc[c] - b->per_class_acc[c];
    }
  /* seed aggregates: every row of a variant gets the variant's statistics. Only names that
   * carry a seed group: two files called alike in different folders ("student" twice) are
   * two models, not two seeds of one */
  g_autofree double *acc = g_new (double, n), *lat = g_new (double, n), *thr = g_new (double, n);
  for (guint i = 0; i < n; i++)
    {
      FwCompareRow *r = fw_compare_table_row (t, i);
      int m = 0;
      for (guint j = 0; j < n; j++)
        {
          const FwCompareRow *o = fw_compare_table_row (t, j);
          if (o == r || (r->seed >= 0 && o->seed >= 0 && g_strcmp0 (o->variant, r->variant) == 0))
            {
              acc[m] = o->accuracy;
              lat[m] = o->latency_s;
              thr[m] = o->throughput;
              m++;
            }
        }
      r->n_seeds = m;
      mean_std (acc, m, &r->acc_mean, &r->acc_std);
      mean_std (lat, m, &r->latency_mean, &r->latency_std);
      mean_std (thr, m, &r->throughput_mean, &r->throughput_std);
    }
}

/* ---- Pareto frontier ---- */

int
fw_pareto_front (const double *cost, const double *value, int n, gboolean *on_front)
{
  /* sort by cost ascending, value descending; sweep keeping the best value seen so far: a
   * point is on the front iff its value beats every point of strictly lower cost, and no
   * point of equal cost has a higher value. O(n log n). */
  g_autofree int *order = g_new (int, MAX (n, 1));
  int m = 0, count = 0;

  for (int i = 0; i < n; i++)
    {
      on_front[i] = FALSE;
      if (isfinite (cost[i]) && isfinite (value[i]))
        order[m++] = i;
    }
  /* insertion sort keeps this dependency-free and n is a shelf of models (tens) */
  for (int i = 1; i < m; i++)
    for (int j = i; j > 0; j--)
      {
        int a = order[j - 1], b = order[j];
        gboolean swap = cost[b] < cost[a] || (cost[b] == cost[a] && value[b] > value[a]);
        if (!swap)
          break;
        order[j - 1] = b;
        order[j] = a;
      }
  double best = -INFINITY;   /* the best value at a strictly lower cost */
  for (int i = 0; i < m;)
    {
      double c = cost[order[i]], top = value[order[i]];   /* the group's highest value */
      int g = i;
      for (; g < m && cost[order[g]] == c; g++)
        if (value[order[g]] == top && top > best)
          {
            on_front[order[g]] = TRUE;
            count++;
          }
      best = MAX (best, top);
      i = g;
    }
  return count;
}

/* ---- formats ---- */

static const char *const text_headers[] = {
  "model", "kind", "accuracy", "Δ acc", "worst class Δ", "params", "non-zero", "bytes on disk",
  "FLOPs/image", "latency (b=1)", "images/s (b=256)",
};
#define N_TEXT_COLS G_N_ELEMENTS (text_headers)

static int
worst_class (const FwCompareRow *r)
{
  int w = -1;
  for (int c = 0; c < r->n_classes; c++)
    if (isfinite (r->delta[c]) && (w < 0 || r->delta[c] < r->delta[w]))
      w = c;
  return w;
}

static char *
fmt_pp (double d)
{
  if (!isfinite (d))
    return g_strdup ("—");
  return g_strdup_printf ("%+.1f", 100.0 * d);
}

/* three significant digits: "2.51 µs", "10.5 µs", "1.23 ms" (latencies are small) */
static char *
fmt_ms (double s)
{
  if (!isfinite (s))
    return g_strdup ("—");
  if (s >= 1)
    return fw_format_seconds (s);
  double v = s >= 1e-3 ? s * 1e3 : s * 1e6;
  return g_strdup_printf ("%.*f %s", v >= 100 ? 0 : v >= 10 ? 1 : 2, v,
                          s >= 1e-3 ? "ms" : "µs");
}

static char *
fmt_rate (double r)
{
  if (!isfinite (r))
    return g_strdup ("—");
  return fw_format_count (r);
}

const char *const *
fw_compare_column_titles (guint *n)
{
  *n = N_TEXT_COLS;
  return text_headers;
}

/* The human cells of row i (N_TEXT_COLS strings, free with g_strfreev). */
char **
fw_compare_row_cells (const FwCompareTable *t, guint i)
{
  const FwCompareRow *r = fw_compare_table_row (t, i);
  char **cells = g_new0 (char *, N_TEXT_COLS + 1);
  int w = worst_class (r);
  g_autofree char *acc = g_strdup_printf ("%.1f%%", 100.0 * r->accuracy);

  cells[0] = (int) i == t->baseline ? g_strdup_printf ("%s (baseline)", r->name)
                                    : g_strdup (r->name);
  cells[1] = g_strdup (r->kind != NULL ? r->kind : "");
  cells[2] = r->n_seeds > 1 ? g_strdup_printf ("%s (%.1f ± %.1f, %d seeds)", acc,
                                               100 * r->acc_mean, 100 * r->acc_std, r->n_seeds)
                            : g_strdup (acc);
  cells[3] = (int) i == t->baseline ? g_strdup ("") : fmt_pp (r->delta_acc);
  if ((int) i == t->baseline || w < 0)
    cells[4] = g_strdup ("");
  else
    {
      g_autofree char *d = fmt_pp (r->delta[w]);
      cells[4] = g_strdup_printf ("%s (%s)", d, t->class_names[w]);
    }
  cells[5] = fw_format_count ((double) r->params_stored);
  cells[6] = fw_format_count ((double) r->params_nonzero);
  cells[7] = fw_format_bytes ((double) r->file_bytes);
  cells[8] = fw_format_count (r->flops);
  cells[9] = fmt_ms (r->latency_s);
  cells[10] = fmt_rate (r->throughput);
  return cells;
}

static void
csv_field (GString *s, const char *v)
{
  if (v != NULL && strpbrk (v, ",\"\n\r") != NULL)
    {
      g_string_append_c (s, '"');
      for (const char *p = v; *p; p++)
        {
          if (*p == '"')
            g_string_append_c (s, '"');
          g_string_append_c (s, *p);
        }
      g_string_append_c (s, '"');
    }
  else if (v != NULL)
    g_string_append (s, v);
}

static void
csv_num (GString *s, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  if (isfinite (v))
    g_string_append (s, g_ascii_formatd (buf, sizeof buf, "%.6g", v));
}

static char *
format_csv (const FwCompareTable *t)
{
  GString *s = g_string_new ("model,kind,file,variant,seed,baseline,accuracy,delta_accuracy,"
                             "params_stored,params_nonzero,bytes_on_disk,flops_per_image,"
                             "latency_batch1_ms,throughput_images_per_s,variant_seeds,"
                             "variant_acc_mean,variant_acc_std");
  for (int c = 0; c < t->n_classes; c++)
    {
      g_autofree char *h = g_strdup_printf ("acc_%s", t->class_names[c]);
      g_string_append_c (s, ',');
      csv_field (s, h);
    }
  for (int c = 0; c < t->n_classes; c++)
    {
      g_autofree char *h = g_strdup_printf ("delta_%s", t->class_names[c]);
      g_string_append_c (s, ',');
      csv_field (s, h);
    }
  g_string_append_c (s, '\n');
  for (guint i = 0; i < t->rows->len; i++)
    {
      const FwCompareRow *r = fw_compare_table_row (t, i);
      csv_field (s, r->name);
      g_string_append_c (s, ',');
      csv_field (s, r->kind);
      g_string_append_c (s, ',');
      csv_field (s, r->path);
      g_string_append_c (s, ',');
      csv_field (s, r->variant);
      g_string_append_printf (s, ",%d,%d,", r->seed, (int) i == t->baseline);
      csv_num (s, r->accuracy);
      g_string_append_c (s, ',');
      csv_num (s, r->delta_acc);
      g_string_append_printf (s, ",%" G_GSIZE_FORMAT ",%" G_GSIZE_FORMAT ",%" G_GINT64_FORMAT ",",
                              r->params_stored, r->params_nonzero, r->file_bytes);
      csv_num (s, r->flops);
      g_string_append_c (s, ',');
      csv_num (s, 1000.0 * r->latency_s);
      g_string_append_c (s, ',');
      csv_num (s, r->throughput);
      g_string_append_printf (s, ",%d,", r->n_seeds);
      csv_num (s, r->acc_mean);
      g_string_append_c (s, ',');
      csv_num (s, r->acc_std);
      for (int c = 0; c < t->n_classes; c++)
        {
          g_string_append_c (s, ',');
          csv_num (s, r->per_class_acc[c]);
        }
      for (int c = 0; c < t->n_classes; c++)
        {
          g_string_append_c (s, ',');
          csv_num (s, r->delta[c]);
        }
      g_string_append_c (s, '\n');
    }
  return g_string_free (s, FALSE);
}

static char *
md_escape (const char *v)
{
  GString *s = g_string_new (NULL);
  for (const char *p = v; *p; p++)
    {
      if (*p == '|' || *p == '\\' || *p == '*' || *p == '_' || *p == '`')
        g_string_append_c (s, '\\');
      g_string_append_c (s, *p);
    }
  return g_string_free (s, FALSE);
}

static char *
tex_escape (const char *v)
{
  GString *s = g_string_new (NULL);
  for (const char *p = v; *p; p++)
    switch (*p)
      {
      case '&': case '%': case '$': case '#': case '_': case '{': case '}':
        g_string_append_c (s, '\\');
        g_string_append_c (s, *p);
        break;
      case '~':
        g_string_append (s, "\\textasciitilde{}");
        break;
      case '^':
        g_string_append (s, "\\textasciicircum{}");
        break;
      case '\\':
        g_string_append (s, "\\textbackslash{}");
        break;
      default:
        g_string_append_c (s, *p);
      }
  /* UTF-8 symbols that plain LaTeX lacks */
  g_autofree char *a = g_string_free (s, FALSE);
  GString *o = g_string_new (NULL);
  for (const char *p = a; *p;)
    {
      if (g_str_has_prefix (p, "±"))
        g_string_append (o, "$\\pm$"), p += strlen ("±");
      else if (g_str_has_prefix (p, "Δ"))
        g_string_append (o, "$\\Delta$"), p += strlen ("Δ");
      else if (g_str_has_prefix (p, "µ"))
        g_string_append (o, "$\\mu$"), p += strlen ("µ");
      else if (g_str_has_prefix (p, "—"))
        g_string_append (o, "--"), p += strlen ("—");
      else
        g_string_append_c (o, *p++);
    }
  return g_string_free (o, FALSE);
}

typedef char *(*EscapeFunc) (const char *);

/* One table of string cells as Markdown (|a|b|) or LaTeX (a & b \\). */
static void
append_grid (GString *s, FwTableFormat f, const char *const *headers, guint n_cols,
             guint n_left, GPtrArray *rows, const char *caption)
{
  EscapeFunc esc = f == FW_TABLE_LATEX ? tex_escape : md_escape;
  if (f == FW_TABLE_MARKDOWN)
    {
      if (caption != NULL)
        g_string_append_printf (s, "%s\n\n", caption);
      for (guint c = 0; c < n_cols; c++)
        {
          g_autofree char *h = esc (headers[c]);
          g_string_append_printf (s, "| %s ", h);
        }
      g_string_append (s, "|\n");
      for (guint c = 0; c < n_cols; c++)
        g_string_append (s, c < n_left ? "|---" : "|---:");
      g_string_append (s, "|\n");
      for (guint i = 0; i < rows->len; i++)
        {
          char **cells = g_ptr_array_index (rows, i);
          for (guint c = 0; c < n_cols; c++)
            {
              g_autofree char *v = esc (cells[c]);
              g_string_append_printf (s, "| %s ", v);
            }
          g_string_append (s, "|\n");
        }
      g_string_append_c (s, '\n');
      return;
    }
  g_string_append (s, "\\begin{table}[htbp]\n\\centering\n");
  if (caption != NULL)
    {
      g_autofree char *cap = esc (caption);
      g_string_append_printf (s, "\\caption{%s}\n", cap);
    }
  g_string_append (s, "\\begin{tabular}{");
  for (guint c = 0; c < n_cols; c++)
    g_string_append (s, c < n_left ? "l" : "r");
  g_string_append (s, "}\n\\hline\n");
  for (guint c = 0; c < n_cols; c++)
    {
      g_autofree char *h = esc (headers[c]);
      g_string_append_printf (s, "%s%s", c > 0 ? " & " : "", h);
    }
  g_string_append (s, " \\\\\n\\hline\n");
  for (guint i = 0; i < rows->len; i++)
    {
      char **cells = g_ptr_array_index (rows, i);
      for (guint c = 0; c < n_cols; c++)
        {
          g_autofree char *v = esc (cells[c]);
          g_string_append_printf (s, "%s%s", c > 0 ? " & " : "", v);
        }
      g_string_append (s, " \\\\\n");
    }
  g_string_append (s, "\\hline\n\\end{tabular}\n\\end{table}\n\n");
}

static void
append_text_grid (GString *s, const char *const *headers, guint n_cols, guint n_left,
                  GPtrArray *rows)
{
  g_autofree int *w = g_new0 (int, n_cols);
  for (guint c = 0; c < n_cols; c++)
    w[c] = g_utf8_strlen (headers[c], -1);
  for (guint i = 0; i < rows->len; i++)
    for (guint c = 0; c < n_cols; c++)
      w[c] = MAX (w[c], (int) g_utf8_strlen (((char **) g_ptr_array_index (rows, i))[c], -1));
  for (guint i = 0; i <= rows->len; i++)
    {
      const char *const *cells = i == 0 ? headers
                                        : (const char *const *) g_ptr_array_index (rows, i - 1);
      for (guint c = 0; c < n_cols; c++)
        {
          int pad = w[c] - (int) g_utf8_strlen (cells[c], -1);
          if (c >= n_left)   /* numbers right-aligned */
            g_string_append_printf (s, "%*s%s", pad, "", cells[c]);
          else
            g_string_append_printf (s, "%s%*s", cells[c], pad, "");
          g_string_append (s, c + 1 < n_cols ? "  " : "\n");
        }
    }
}

static void
append_any_grid (GString *s, FwTableFormat f, const char *const *headers, guint n_cols,
                 guint n_left, GPtrArray *rows, const char *caption)
{
  if (f == FW_TABLE_TEXT)
    {
      if (caption != NULL)
        g_string_append_printf (s, "\n%s\n", caption);
      append_text_grid (s, headers, n_cols, n_left, rows);
    }
  else
    append_grid (s, f, headers, n_cols, n_left, rows, caption);
}

static char *
format_tables (const FwCompareTable *t, FwTableFormat f)
{
  GString *s = g_string_new (NULL);
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_autofree char *caption = NULL;

  for (guint i = 0; i < t->rows->len; i++)
    g_ptr_array_add (rows, fw_compare_row_cells (t, i));
  if (t->data_name != NULL)
    caption = g_strdup_printf ("Models compared on %s (%d test images); Δ in percentage points "
                               "vs the baseline; latency and throughput: median of repeated "
                               "runs on this machine.", t->data_name, t->n_test);
  if (f == FW_TABLE_TEXT && caption != NULL)
    g_string_append_printf (s, "%s\n\n", caption);
  append_any_grid (s, f, text_headers, N_TEXT_COLS, 2, rows, f == FW_TABLE_TEXT ? NULL : caption);

  /* per-class deltas vs the baseline */
  if (t->rows->len > 1)
    {
      guint nc = t->n_classes + 1;
      g_autofree const char **h = g_new0 (const char *, nc);
      g_autoptr (GPtrArray) drows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
      h[0] = "model";
      for (int c = 0; c < t->n_classes; c++)
        h[c + 1] = t->class_names[c];
      for (guint i = 0; i < t->rows->len; i++)
        {
          const FwCompareRow *r = fw_compare_table_row (t, i);
          if ((int) i == t->baseline)
            continue;
          char **cells = g_new0 (char *, nc + 1);
          cells[0] = g_strdup (r->name);
          for (int c = 0; c < t->n_classes; c++)
            cells[c + 1] = fmt_pp (r->delta[c]);
          g_ptr_array_add (drows, cells);
        }
      g_autofree char *cap = g_strdup_printf (
          "Per-class accuracy change vs the baseline %s (percentage points)",
          fw_compare_table_row (t, t->baseline)->name);
      /* the model column is text, class columns numbers: left-align only the first */
      append_any_grid (s, f, h, nc, 1, drows, cap);
    }

  /* variants over seeds */
  g_autoptr (GPtrArray) vrows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < t->rows->len; i++)
    {
      const FwCompareRow *r = fw_compare_table_row (t, i);
      if (r->n_seeds < 2 || !g_hash_table_add (seen, r->variant))
        continue;
      char **cells = g_new0 (char *, 6);
      cells[0] = g_strdup (r->variant);
      cells[1] = g_strdup_printf ("%d", r->n_seeds);
      cells[2] = g_strdup_printf ("%.1f ± %.1f%%", 100 * r->acc_mean, 100 * r->acc_std);
      g_autofree char *lm = fmt_ms (r->latency_mean), *ls = fmt_ms (r->latency_std);
      cells[3] = isfinite (r->latency_mean) ? g_strdup_printf ("%s ± %s", lm, ls)
                                            : g_strdup ("—");
      g_autofree char *tm = fmt_rate (r->throughput_mean);
      cells[4] = g_strdup (tm);
      g_ptr_array_add (vrows, cells);
    }
  if (vrows->len > 0)
    {
      static const char *const vh[] = { "variant", "seeds", "accuracy", "latency (b=1)",
                                        "images/s (b=256)" };
      append_any_grid (s, f, vh, G_N_ELEMENTS (vh), 1, vrows,
                       "Variants over seeds (mean ± sample standard deviation)");
    }
  return g_string_free (s, FALSE);
}

char *
fw_compare_table_format (const FwCompareTable *t, FwTableFormat format)
{
  if (format == FW_TABLE_CSV)
    return format_csv (t);
  return format_tables (t, format);
}

gboolean
fw_table_format_for_path (const char *path, FwTableFormat *format, GError **error)
{
  g_autofree char *lower = g_ascii_strdown (path, -1);
  if (g_str_has_suffix (lower, ".csv"))
    *format = FW_TABLE_CSV;
  else if (g_str_has_suffix (lower, ".md") || g_str_has_suffix (lower, ".markdown"))
    *format = FW_TABLE_MARKDOWN;
  else if (g_str_has_suffix (lower, ".tex"))
    *format = FW_TABLE_LATEX;
  else if (g_str_has_suffix (lower, ".txt"))
    *format = FW_TABLE_TEXT;
  else
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "%s: unknown table format; name the file .csv, .md, .tex or .txt", path);
      return FALSE;
    }
  return TRUE;
}

gboolean
fw_compare_table_write (const FwCompareTable *t, const char *path, GError **error)
{
  FwTableFormat f;
  g_autoptr (GError) local = NULL;
  if (!fw_table_format_for_path (path, &f, error))
    return FALSE;
  g_autofree char *text = fw_compare_table_format (t, f);
  /* g_file_set_contents writes a temporary file and renames it: atomic */
  if (!g_file_set_contents (path, text, -1, &local))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "%s: cannot write the table: %s", path,
                   local->message);
      return FALSE;
    }
  return TRUE;
}
