/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-compare.c: the compare board: bytes are the files' sizes on disk, per-class deltas match
 * a naive count, the Pareto frontier matches brute force, seeds aggregate to the closed-form
 * mean and standard deviation, and the CSV / Markdown exports parse back to the rows. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "fw-compare.h"
#include "fw-error.h"
#include "fw-rng.h"
#include "fw-safetensors.h"
#include "fw-test-util.h"
#include "fw-util.h"

static FwDataset *test_set;

static FwModel *
make_mlp (const char *widths, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *spec = fw_model_arch_spec ("mlp", widths, test_set->shape,
                                              test_set->n_classes, &error);
  g_assert_no_error (error);
  FwModel *m = fw_model_new ("mlp", spec, test_set->shape, &error);
  g_assert_no_error (error);
  fw_model_init (m, seed);
  return m;
}

static FwCompareOptions
fast_options (gboolean timing)
{
  FwCompareOptions opt;
  fw_compare_options_init (&opt);
  opt.measure_time = timing;
  opt.reps = 3;
  opt.min_rep_s = 0.001;
  opt.big_batch = 32;
  return opt;
}

static gint64
stat_size (const char *path)
{
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return (gint64) st.st_size;
}

static void
test_bytes_are_file_sizes (void)
{
  const char *dir = fw_test_tmpdir ();
  g_autoptr (FwModel) a = make_mlp ("32", 1);
  g_autoptr (FwModel) b = make_mlp ("64,32", 2);
  g_autofree char *pa = g_build_filename (dir, "a.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_model_save (a, pa, NULL, &error));
  /* some metadata makes the file bigger than its tensors: the board must read the file */
  g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (meta, (gpointer) "note", (gpointer) "padding padding padding padding");
  g_autofree char *pa2 = g_build_filename (dir, "a2.safetensors", NULL);
  g_assert_true (fw_model_save (a, pa2, meta, &error));
  g_assert_cmpint (stat_size (pa2), >, stat_size (pa));

  FwCompareOptions opt = fast_options (FALSE);
  g_autoptr (FwCompareTable) t = fw_compare_table_new (
      (const char *const *) test_set->class_names, test_set->n_classes);
  FwCompareRow *ra = fw_compare_measure (t, "a", "trained", a, pa, test_set, &opt, NULL, &error);
  g_assert_no_error (error);
  FwCompareRow *ra2 = fw_compare_measure (t, "a2", NULL, a, pa2, test_set, &opt, NULL, &error);
  g_assert_no_error (error);
  /* no file: measured through a temporary save, which is what fw_model_save writes */
  FwCompareRow *rb = fw_compare_measure (t, "b", NULL, b, NULL, test_set, &opt, NULL, &error);
  g_assert_no_error (error);
  g_autofree char *pb = g_build_filename (dir, "b.safetensors", NULL);
  g_assert_true (fw_model_save (b, pb, NULL, &error));

  g_assert_cmpint (ra->file_bytes, ==, stat_size (pa));
  g_assert_cmpint (ra2->file_bytes, ==, stat_size (pa2));
  g_assert_cmpint (rb->file_bytes, ==, stat_size (pb));
  g_assert_null (rb->path);
  /* stored values: every float of the file's tensors; fp32 bytes fit under the file size */
  g_assert_cmpuint (ra->params_stored, ==, fw_model_param_count (a));
  g_assert_cmpint (ra->file_bytes, >, 4 * (gint64) ra->params_stored);
  g_assert_cmpint (ra->file_bytes, <, 4 * (gint64) ra->params_stored + 4096);
  g_assert_cmpfloat (ra->flops, ==, fw_model_flops (a));
  g_assert_true (isnan (ra->latency_s));
}

static void
test_nonzero_counts (void)
{
  g_autoptr (FwModel) m = make_mlp ("32", 3);
  FwRng rng;
  fw_rng_init (&rng, 7);
  gsize zeroed = 0;
  /* zero a random third of the parameters (some twice: count distinct ones naively) */
  for (gsize i = 0; i < m->n_params / 3; i++)
    m->params[fw_rng_below (&rng, m->n_params)] = 0.0f;
  for (gsize i = 0; i < m->n_params; i++)
    zeroed += m->params[i] == 0.0f;
  for (gsize i = 0; i < m->n_state; i++)
    zeroed += m->state[i] == 0.0f;
  gsize stored, nonzero;
  fw_compare_count_params (m, &stored, &nonzero);
  g_assert_cmpuint (stored, ==, m->n_params + m->n_state);
  g_assert_cmpuint (nonzero, ==, stored - zeroed);
  g_assert_cmpuint (zeroed, >, m->n_params / 5);
}

/* ---- a test-only packed kind: a CSR matrix (values F32, col_index I32, row_ptr I32) ---- */

typedef struct {
  int nnz;
  float *values;       /* [nnz] */
  gint32 *col_index;   /* [nnz] */
  gint32 *row_ptr;     /* [rows + 1] */
} Csr;

static gboolean
csr_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int out;
  if (!fw_layer_parse_int (l, args, n_args, 0, -1, 1, 4096, &out, error))
    return FALSE;
  l->out = (FwShape) { out, 1, 1 };
  Csr *c = g_new0 (Csr, 1);
  c->row_ptr = g_new0 (gint32, out + 1);
  l->priv = c;
  return TRUE;
}

static void
csr_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  const Csr *c = l->priv;
  int in = (int) fw_shape_size (l->in), out = l->out.c;
  for (int s = 0; s < n; s++)
    for (int o = 0; o < out; o++)
      {
        float acc = 0;
        for (int k = c->row_ptr[o]; k < c->row_ptr[o + 1]; k++)
          acc += c->values[k] * x[s * in + c->col_index[k]];
        y[s * out + o] = acc;
      }
}

static double
csr_flops (const FwLayer *l)
{
  return 2.0 * ((const Csr *) l->priv)->nnz;
}

static char *
csr_spec (const FwLayer *l)
{
  return g_strdup_printf ("cmpcsr:%d", l->out.c);
}

static void
csr_finalize (FwLayer *l)
{
  Csr *c = l->priv;
  g_free (c->values);
  g_free (c->col_index);
  g_free (c->row_ptr);
  g_free (c);
}

static int
csr_packed (const FwLayer *l, FwPackedTensor *out)
{
  const Csr *c = l->priv;
  out[0] = (FwPackedTensor) { "values", FW_DTYPE_F32, 1, { c->nnz }, c->values,
                              sizeof (float) * c->nnz };
  out[1] = (FwPackedTensor) { "col_index", FW_DTYPE_I32, 1, { c->nnz }, c->col_index,
                              sizeof (gint32) * c->nnz };
  out[2] = (FwPackedTensor) { "row_ptr", FW_DTYPE_I32, 1, { l->out.c + 1 }, c->row_ptr,
                              sizeof (gint32) * (l->out.c + 1) };
  return 3;
}

static gboolean
csr_unpack (FwLayer *l, const FwPackedTensor *in, int n, GError **error)
{
  Csr *c = l->priv;
  if (n != 3 || in[0].bytes != in[1].bytes
      || in[2].bytes != sizeof (gint32) * (l->out.c + 1))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "cmpcsr: inconsistent CSR tensors");
      return FALSE;
    }
  c->nnz = (int) (in[0].bytes / sizeof (float));
  g_free (c->values);
  g_free (c->col_index);
  c->values = g_memdup2 (in[0].data, in[0].bytes);
  c->col_index = g_memdup2 (in[1].data, in[1].bytes);
  memcpy (c->row_ptr, in[2].data, in[2].bytes);
  return TRUE;
}

static const FwLayerClass test_csr = {
  .name = "cmpcsr",
  .help = "cmpcsr:OUT  test-only CSR matrix",
  .setup = csr_setup,
  .forward = csr_forward,
  .flops = csr_flops,
  .tensors = fw_layer_no_tensors,
  .spec = csr_spec,
  .finalize = csr_finalize,
  .packed = csr_packed,
  .unpack = csr_unpack,
};

/* The packed model's stored values are the CSR arrays, its non-zeros the values only, its
 * bytes the saved file's size: the board reports the model as stored, not a float copy. */
static void
test_packed_model_counts (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new ("custom", "flatten,cmpcsr:10", test_set->shape, &error);
  g_assert_no_error (error);
  Csr *c = m->layers[1]->priv;
  int in = (int) fw_shape_size (test_set->shape), rows = 10;
  FwRng rng;
  fw_rng_init (&rng, 5);
  GArray *vals = g_array_new (FALSE, FALSE, sizeof (float));
  GArray *cols = g_array_new (FALSE, FALSE, sizeof (gint32));
  int zero_values = 0;
  for (int o = 0; o < rows; o++)
    {
      for (gint32 i = 0; i < in; i++)
        if (fw_rng_below (&rng, 10) == 0)   /* 90% sparse */
          {
            /* a few stored entries are exactly zero: stored, but not non-zero */
            float v = fw_rng_below (&rng, 8) == 0 ? 0.0f : (float) fw_rng_normal (&rng);
            zero_values += v == 0.0f;
            g_array_append_val (vals, v);
            g_array_append_val (cols, i);
          }
      c->row_ptr[o + 1] = (gint32) vals->len;
    }
  c->nnz = (int) vals->len;
  c->values = (float *) g_array_free (vals, FALSE);
  c->col_index = (gint32 *) g_array_free (cols, FALSE);

  g_autofree char *path = g_build_filename (fw_test_tmpdir (), "csr.safetensors", NULL);
  g_assert_true (fw_model_save (m, path, NULL, &error));
  g_assert_no_error (error);
  g_autoptr (FwCompareTable) t = fw_compare_table_new (
      (const char *const *) test_set->class_names, test_set->n_classes);
  FwCompareOptions opt = fast_options (FALSE);
  FwCompareRow *r = fw_compare_measure (t, "csr", "sparse", m, path, test_set, &opt, NULL,
                                        &error);
  g_assert_no_error (error);
  g_assert_cmpuint (r->params_stored, ==, 2 * (gsize) c->nnz + rows + 1);
  g_assert_cmpuint (r->params_nonzero, ==, (gsize) (c->nnz - zero_values));
  g_assert_cmpint (zero_values, >, 0);
  g_assert_cmpint (r->file_bytes, ==, stat_size (path));
  /* the file holds 8 bytes per stored entry, far less than the dense float matrix */
  g_assert_cmpint (r->file_bytes, <, 4 * (gint64) in * rows / 3);
  g_assert_cmpfloat (r->flops, ==, 2.0 * c->nnz);
}

static void
test_per_class_deltas_naive (void)
{
  g_autoptr (FwModel) a = make_mlp ("32", 11);
  g_autoptr (FwModel) b = make_mlp ("48", 12);
  g_autoptr (FwModel) c = make_mlp ("16", 13);
  FwModel *models[] = { a, b, c };
  FwCompareOptions opt = fast_options (FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwCompareTable) t = fw_compare_table_new (
      (const char *const *) test_set->class_names, test_set->n_classes);
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("m%d", i);
      fw_compare_measure (t, name, NULL, models[i], NULL, test_set, &opt, NULL, &error);
      g_assert_no_error (error);
    }
  int baseline = 1;
  fw_compare_table_finish (t, baseline);
  g_assert_cmpint (t->baseline, ==, baseline);

  /* naive: predict every sample one by one, count per class */
  int k = test_set->n_classes, n = test_set->n;
  gsize in = fw_shape_size (test_set->shape);
  double acc[3][16];
  double total[3];
  for (int i = 0; i < 3; i++)
    {
      int hit[16] = { 0 }, count[16] = { 0 }, all = 0;
      for (int s = 0; s < n; s++)
        {
          const float *logits = fw_model_forward (models[i], test_set->x + (gsize) s * in, 1,
                                                  FALSE);
          int best = 0;
          for (int j = 1; j < k; j++)
            if (logits[j] > logits[best])
              best = j;
          count[test_set->y[s]]++;
          hit[test_set->y[s]] += best == test_set->y[s];
          all += best == test_set->y[s];
        }
      for (int j = 0; j < k; j++)
        acc[i][j] = count[j] > 0 ? (double) hit[j] / count[j] : NAN;
      total[i] = (double) all / n;
    }
  gboolean some_nonzero = FALSE;
  for (int i = 0; i < 3; i++)
    {
      const FwCompareRow *r = fw_compare_table_row (t, i);
      g_assert_cmpfloat (fabs (r->accuracy - total[i]), <, 1e-12);
      g_assert_cmpfloat (fabs (r->delta_acc - (total[i] - total[baseline])), <, 1e-12);
      for (int j = 0; j < k; j++)
        {
          g_assert_cmpfloat (fabs (r->per_class_acc[j] - acc[i][j]), <, 1e-12);
          g_assert_cmpfloat (fabs (r->delta[j] - (acc[i][j] - acc[baseline][j])), <, 1e-12);
          some_nonzero = some_nonzero || fabs (r->delta[j]) > 0;
          if (i == baseline)
            g_assert_cmpfloat (r->delta[j], ==, 0);
        }
      /* the confusion matrix's diagonal over its row sums is the per-class accuracy */
      for (int j = 0; j < k; j++)
        {
          gint64 rs = 0;
          for (int p = 0; p < k; p++)
            rs += r->confusion[j * k + p];
          if (rs > 0)
            g_assert_cmpfloat (fabs ((double) r->confusion[j * k + j] / rs - acc[i][j]), <,
                               1e-12);
        }
    }
  g_assert_true (some_nonzero);
}

/* brute force: i is on the front iff no j dominates it */
static void
test_pareto_brute_force (void)
{
  FwRng rng;
  fw_rng_init (&rng, 42);
  for (int trial = 0; trial < 300; trial++)
    {
      int n = 1 + (int) fw_rng_below (&rng, 25);
      double cost[32], value[32];
      gboolean front[32];
      for (int i = 0; i < n; i++)
        {
          /* small integer grids make ties (equal cost, equal value, duplicates) common */
          cost[i] = (double) fw_rng_below (&rng, 8);
          value[i] = (double) fw_rng_below (&rng, 8);
          if (fw_rng_below (&rng, 20) == 0)
            value[i] = NAN;
        }
      int count = fw_pareto_front (cost, value, n, front);
      int expect_count = 0;
      for (int i = 0; i < n; i++)
        {
          gboolean dominated = !isfinite (cost[i]) || !isfinite (value[i]);
          for (int j = 0; j < n && !dominated; j++)
            if (j != i && isfinite (value[j]) && value[j] >= value[i] && cost[j] <= cost[i]
                && (value[j] > value[i] || cost[j] < cost[i]))
              dominated = TRUE;
          g_assert_cmpint (front[i], ==, !dominated);
          expect_count += !dominated;
        }
      g_assert_cmpint (count, ==, expect_count);
    }
}

static void
test_split_seed (void)
{
  static const struct { const char *name, *variant; int seed; } cases[] = {
    { "pruned-90 seed 3", "pruned-90", 3 },
    { "pruned-90-seed3", "pruned-90", 3 },
    { "pruned_90_s12", "pruned_90", 12 },
    { "lottery (seed 2)", "lottery", 2 },
    { "int8 Seed=1", "int8", 1 },
    { "mlp 88.9%", "mlp 88.9%", -1 },
    { "mlps1", "mlps1", -1 },
    { "seed 3", "seed 3", -1 },
    { "lenet5", "lenet5", -1 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      int seed = 99;
      g_autofree char *v = fw_compare_split_seed (cases[i].name, &seed);
      g_assert_cmpstr (v, ==, cases[i].variant);
      g_assert_cmpint (seed, ==, cases[i].seed);
    }
}

static FwCompareRow *
hand_row (const char *name, double acc, double latency, int k)
{
  FwCompareRow *r = g_new0 (FwCompareRow, 1);
  r->name = g_strdup (name);
  r->variant = fw_compare_split_seed (name, &r->seed);
  r->n_classes = k;
  r->accuracy = acc;
  r->per_class_acc = g_new0 (double, k);
  for (int c = 0; c < k; c++)
    r->per_class_acc[c] = acc;
  r->delta = g_new0 (double, k);
  r->confusion = g_new0 (gint64, k * k);
  r->latency_s = latency;
  r->throughput = 1.0 / latency;
  r->file_bytes = 1000;
  return r;
}

static void
test_seed_aggregates (void)
{
  /* two "student" files (alike in name, from different folders) carry no seed: two models */
  const char *names[] = { "base", "p90 seed 1", "p90 seed 2", "p90 seed 3", "q-s1", "student",
                          "student" };
  const double accs[] = { 0.9, 0.81, 0.84, 0.86, 0.7, 0.6, 0.5 };
  const double lats[] = { 1e-3, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4, 7e-4 };
  const char *classes[] = { "a", "b", NULL };
  g_autoptr (FwCompareTable) t = fw_compare_table_new (classes, 2);
  for (int i = 0; i < 7; i++)
    {
      FwCompareRow *r = hand_row (names[i], accs[i], lats[i], 2);
      fw_compare_table_add_row (t, r);
      fw_compare_row_free (r);
    }
  fw_compare_table_finish (t, 0);
  /* closed form over the three p90 seeds */
  double mean = (0.81 + 0.84 + 0.86) / 3;
  double var = (pow (0.81 - mean, 2) + pow (0.84 - mean, 2) + pow (0.86 - mean, 2)) / 2;
  double lmean = 3e-4, lvar = (1e-8 + 0 + 1e-8) / 2;
  for (int i = 1; i <= 3; i++)
    {
      const FwCompareRow *r = fw_compare_table_row (t, i);
      g_assert_cmpstr (r->variant, ==, "p90");
      g_assert_cmpint (r->seed, ==, i);
      g_assert_cmpint (r->n_seeds, ==, 3);
      g_assert_cmpfloat (fabs (r->acc_mean - mean), <, 1e-12);
      g_assert_cmpfloat (fabs (r->acc_std - sqrt (var)), <, 1e-12);
      g_assert_cmpfloat (fabs (r->latency_mean - lmean), <, 1e-15);
      g_assert_cmpfloat (fabs (r->latency_std - sqrt (lvar)), <, 1e-15);
    }
  const FwCompareRow *q = fw_compare_table_row (t, 4);
  g_assert_cmpint (q->n_seeds, ==, 1);
  g_assert_cmpfloat (q->acc_std, ==, 0);
  g_assert_cmpfloat (q->acc_mean, ==, 0.7);
  for (int i = 5; i < 7; i++)
    {
      const FwCompareRow *s = fw_compare_table_row (t, i);
      g_assert_cmpint (s->n_seeds, ==, 1);
      g_assert_cmpfloat (s->acc_mean, ==, accs[i]);
    }
  /* the text and Markdown tables summarise the variant once */
  g_autofree char *md = fw_compare_table_format (t, FW_TABLE_MARKDOWN);
  g_autofree char *expect = g_strdup_printf ("| p90 | 3 | %.1f ± %.1f%% |", 100 * mean,
                                             100 * sqrt (var));
  g_assert_nonnull (strstr (md, expect));
  g_assert_null (strstr (strstr (md, expect) + 1, "| p90 | 3 |"));
}

/* RFC 4180: fields separated by commas, quoted fields with doubled quotes inside. */
static GPtrArray *
parse_csv_line (const char **p)
{
  GPtrArray *fields = g_ptr_array_new_with_free_func (g_free);
  GString *f = g_string_new (NULL);
  const char *s = *p;
  gboolean quoted = FALSE;
  for (;; s++)
    {
      if (quoted)
        {
          if (*s == '"' && s[1] == '"')
            g_string_append_c (f, '"'), s++;
          else if (*s == '"')
            quoted = FALSE;
          else
            {
              g_assert_true (*s != '\0');
              g_string_append_c (f, *s);
            }
        }
      else if (*s == '"')
        quoted = TRUE;
      else if (*s == ',' || *s == '\n' || *s == '\0')
        {
          g_ptr_array_add (fields, g_strdup (f->str));
          g_string_truncate (f, 0);
          if (*s != ',')
            break;
        }
      else
        g_string_append_c (f, *s);
    }
  *p = *s == '\n' ? s + 1 : s;
  g_string_free (f, TRUE);
  return fields;
}

static int
col (GPtrArray *header, const char *name)
{
  for (guint i = 0; i < header->len; i++)
    if (g_strcmp0 (g_ptr_array_index (header, i), name) == 0)
      return (int) i;
  g_assert_not_reached ();
  return -1;
}

static FwCompareTable *
measured_table (void)
{
  g_autoptr (FwModel) a = make_mlp ("32", 21);
  g_autoptr (FwModel) b = make_mlp ("16", 22);
  FwCompareOptions opt = fast_options (TRUE);
  g_autoptr (GError) error = NULL;
  FwCompareTable *t = fw_compare_table_new ((const char *const *) test_set->class_names,
                                            test_set->n_classes);
  fw_compare_measure (t, "plain", "trained", a, NULL, test_set, &opt, NULL, &error);
  g_assert_no_error (error);
  /* a name that needs quoting in CSV and escaping in Markdown / LaTeX */
  fw_compare_measure (t, "odd, \"quoted\" | 50%_a", "pruned", b, NULL, test_set, &opt, NULL,
                      &error);
  g_assert_no_error (error);
  fw_compare_table_finish (t, 0);
  return t;
}

static void
test_csv_parses_back (void)
{
  g_autoptr (FwCompareTable) t = measured_table ();
  const char *dir = fw_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "board.csv", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_compare_table_write (t, path, &error));
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));

  const char *p = text;
  g_autoptr (GPtrArray) header = parse_csv_line (&p);
  g_assert_cmpuint (header->len, ==, 17 + 2 * test_set->n_classes);
  for (guint i = 0; i < t->rows->len; i++)
    {
      const FwCompareRow *r = fw_compare_table_row (t, i);
      g_autoptr (GPtrArray) f = parse_csv_line (&p);
      g_assert_cmpuint (f->len, ==, header->len);
      g_assert_cmpstr (g_ptr_array_index (f, col (header, "model")), ==, r->name);
      g_assert_cmpstr (g_ptr_array_index (f, col (header, "kind")), ==, r->kind);
      double acc = g_ascii_strtod (g_ptr_array_index (f, col (header, "accuracy")), NULL);
      g_assert_cmpfloat (fabs (acc - r->accuracy), <, 1e-5);
      gint64 bytes = g_ascii_strtoll (g_ptr_array_index (f, col (header, "bytes_on_disk")),
                                      NULL, 10);
      g_assert_cmpint (bytes, ==, r->file_bytes);
      guint64 nz = g_ascii_strtoull (g_ptr_array_index (f, col (header, "params_nonzero")),
                                     NULL, 10);
      g_assert_cmpuint (nz, ==, r->params_nonzero);
      double lat = g_ascii_strtod (g_ptr_array_index (f, col (header, "latency_batch1_ms")),
                                   NULL);
      g_assert_cmpfloat (fabs (lat - 1000 * r->latency_s), <=, 1e-5 * 1000 * r->latency_s);
      g_assert_cmpfloat (r->latency_s, >, 0);
      for (int c = 0; c < test_set->n_classes; c++)
        {
          g_autofree char *h = g_strdup_printf ("delta_%s", test_set->class_names[c]);
          double d = g_ascii_strtod (g_ptr_array_index (f, col (header, h)), NULL);
          g_assert_cmpfloat (fabs (d - r->delta[c]), <, 1e-5);
        }
      g_assert_cmpint (atoi (g_ptr_array_index (f, col (header, "baseline"))), ==, i == 0);
    }
  g_assert_cmpstr (p, ==, "");
}

/* splits "| a | b \| c |" into cells, honouring backslash escapes */
static GPtrArray *
md_cells (const char *line)
{
  GPtrArray *cells = g_ptr_array_new_with_free_func (g_free);
  GString *c = g_string_new (NULL);
  g_assert_true (line[0] == '|');
  for (const char *s = line + 1; *s; s++)
    {
      if (*s == '\\' && s[1] != '\0')
        g_string_append_c (c, *++s);
      else if (*s == '|')
        {
          g_ptr_array_add (cells, g_strdup (g_strstrip (c->str)));
          g_string_truncate (c, 0);
        }
      else
        g_string_append_c (c, *s);
    }
  g_string_free (c, TRUE);
  return cells;
}

static void
test_markdown_parses_back (void)
{
  g_autoptr (FwCompareTable) t = measured_table ();
  g_autofree char *md = fw_compare_table_format (t, FW_TABLE_MARKDOWN);
  g_auto (GStrv) lines = g_strsplit (md, "\n", -1);
  int first = -1;
  for (int i = 0; lines[i] != NULL && first < 0; i++)
    if (g_str_has_prefix (lines[i], "| model | kind |"))
      first = i;
  g_assert_cmpint (first, >=, 0);
  g_autoptr (GPtrArray) header = md_cells (lines[first]);
  g_assert_cmpuint (header->len, ==, 11);
  g_assert_true (g_str_has_prefix (lines[first + 1], "|---|---|---:|"));
  for (guint i = 0; i < t->rows->len; i++)
    {
      const FwCompareRow *r = fw_compare_table_row (t, i);
      g_autoptr (GPtrArray) cells = md_cells (lines[first + 2 + i]);
      g_assert_cmpuint (cells->len, ==, header->len);
      g_autofree char *name = i == 0 ? g_strdup_printf ("%s (baseline)", r->name)
                                     : g_strdup (r->name);
      g_assert_cmpstr (g_ptr_array_index (cells, 0), ==, name);
      g_autofree char *acc = g_strdup_printf ("%.1f%%", 100 * r->accuracy);
      g_assert_cmpstr (g_ptr_array_index (cells, 2), ==, acc);
      g_autofree char *bytes = fw_format_bytes ((double) r->file_bytes);
      g_assert_cmpstr (g_ptr_array_index (cells, 7), ==, bytes);
    }
  /* LaTeX: the special characters are escaped, one row per model */
  g_autofree char *tex = fw_compare_table_format (t, FW_TABLE_LATEX);
  g_assert_nonnull (strstr (tex, "odd, \"quoted\" | 50\\%\\_a & pruned"));
  g_assert_nonnull (strstr (tex, "\\begin{tabular}{llrrrrrrrrr}"));
}

static void
test_mismatched_model_is_an_error (void)
{
  g_autoptr (GError) error = NULL;
  FwShape other = { 1, 8, 8 };
  g_autoptr (FwModel) m = fw_model_new ("custom", "flatten,dense:3", other, &error);
  g_assert_no_error (error);
  fw_model_init (m, 1);
  g_autoptr (FwCompareTable) t = fw_compare_table_new (
      (const char *const *) test_set->class_names, test_set->n_classes);
  FwCompareOptions opt = fast_options (FALSE);
  g_assert_null (fw_compare_measure (t, "wrong", NULL, m, NULL, test_set, &opt, NULL, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "wrong"));
  g_assert_cmpuint (t->rows->len, ==, 0);
  /* a table file with an unknown extension is refused before anything is written */
  g_clear_error (&error);
  g_autofree char *path = g_build_filename (fw_test_tmpdir (), "board.xlsx", NULL);
  g_assert_false (fw_compare_table_write (t, path, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* the "kind" of a saved model comes from what the job wrote into its metadata: "method", or
 * the quantize/cluster job's "compression", or the prune job's "pruned" */
static void
test_kind_from_metadata (void)
{
  g_autoptr (FwModel) m = make_mlp ("8", 1);
  g_autofree char *dir = g_dir_make_tmp ("fw-kind-XXXXXX", NULL);
  const char *keys[] = { "method", "compression", "pruned", NULL };
  const char *values[] = { "grown (tiny)", "int8", "magnitude weights layer 0.9", NULL };
  const char *expect[] = { "grown (tiny)", "int8", "pruned (magnitude weights layer 0.9)", NULL };
  char *paths[5] = { NULL };
  for (int i = 0; i < 4; i++)
    {
      paths[i] = g_strdup_printf ("%s/m%d.safetensors", dir, i);
      g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
      if (keys[i] != NULL)
        g_hash_table_insert (meta, (gpointer) keys[i], (gpointer) values[i]);
      g_autoptr (GError) error = NULL;
      g_assert_true (fw_model_save (m, paths[i], meta, &error));
    }
  g_autoptr (GArray) in = g_array_new (FALSE, TRUE, sizeof (FwCompareInput));
  g_array_set_clear_func (in, (GDestroyNotify) fw_compare_input_clear);
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_compare_load_inputs (paths, in, &error));
  g_assert_cmpuint (in->len, ==, 4);
  for (int i = 0; i < 4; i++)
    {
      g_assert_cmpstr (g_array_index (in, FwCompareInput, i).kind, ==, expect[i]);
      g_unlink (paths[i]);
      g_free (paths[i]);
    }
  g_rmdir (dir);
}

static void
test_time_forward (void)
{
  g_autoptr (FwModel) small = make_mlp ("16", 31);
  g_autoptr (FwModel) big = make_mlp ("512,512", 32);
  gsize in = fw_shape_size (test_set->shape);
  double ts = fw_compare_time_forward (small, test_set->x, 1, 5, 0.002, NULL);
  double tb = fw_compare_time_forward (big, test_set->x, 1, 5, 0.002, NULL);
  g_assert_true (isfinite (ts) && ts > 0);
  /* 40x the multiply-adds: slower, by any machine's measure */
  g_assert_cmpfloat (tb, >, ts);
  /* cancelled: returns at once with NaN */
  g_autoptr (GCancellable) c = g_cancellable_new ();
  g_cancellable_cancel (c);
  g_assert_true (isnan (fw_compare_time_forward (small, test_set->x, 1, 5, 0.002, c)));

  /* side by side, round-robin: the same ordering, every number positive; cancelled: FALSE */
  FwModel *models[] = { small, big };
  double lat[2], thr[2];
  g_autofree float *x = fw_compare_timing_batch (test_set, 32);
  g_assert_true (fw_compare_time_models (models, 2, x, 32, 5, 0.002, lat, thr, NULL, NULL,
                                         NULL));
  g_assert_cmpfloat (lat[0], >, 0);
  g_assert_cmpfloat (lat[1], >, lat[0]);
  g_assert_cmpfloat (thr[0], >, thr[1]);
  g_assert_false (fw_compare_time_models (models, 2, x, 32, 5, 0.002, lat, thr, NULL, NULL, c));
  /* the timing batch is the test images, cycled */
  for (int i = 0; i < 32; i++)
    g_assert_cmpint (memcmp (x + (gsize) i * in, test_set->x + (gsize) (i % test_set->n) * in,
                             in * sizeof (float)), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autoptr (GError) error = NULL;
  fw_layer_class_register (&test_csr);
  /* the built-in simulator: real rendered digits, always available */
  test_set = fw_dataset_load ("sim:300:20", 5, NULL, &error);
  g_assert_no_error (error);

  g_test_add_func ("/Compare/bytes_are_file_sizes_on_disk", test_bytes_are_file_sizes);
  g_test_add_func ("/Compare/nonzero_counts_match_naive", test_nonzero_counts);
  g_test_add_func ("/Compare/packed_model_counts_and_bytes", test_packed_model_counts);
  g_test_add_func ("/Compare/per_class_deltas_match_naive", test_per_class_deltas_naive);
  g_test_add_func ("/Compare/pareto_front_matches_brute_force", test_pareto_brute_force);
  g_test_add_func ("/Compare/seed_suffixes", test_split_seed);
  g_test_add_func ("/Compare/seed_aggregates_closed_form", test_seed_aggregates);
  g_test_add_func ("/Compare/csv_parses_back", test_csv_parses_back);
  g_test_add_func ("/Compare/markdown_latex_parse_back", test_markdown_parses_back);
  g_test_add_func ("/Compare/mismatched_model_is_an_error", test_mismatched_model_is_an_error);
  g_test_add_func ("/Compare/time_forward", test_time_forward);
  g_test_add_func ("/Compare/kind_from_metadata", test_kind_from_metadata);
  int rc = g_test_run ();
  fw_dataset_unref (test_set);
  return rc;
}
