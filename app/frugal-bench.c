/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal-bench.c: `frugal bench`, the engine's side of ../shared/bench/torch_fmnist.py.
 *
 * Same models (mlp 784-256-128-10, lenet, cnn), same data (Fashion-MNIST standardised with
 * mean 0.2860, std 0.3530, here as the model's input normalisation), same settings (batch 128,
 * SGD momentum 0.9 lr 0.05, or Adam lr 1e-3), same measurements, same JSON-lines records:
 *
 *   epoch time    forward + backward + update over the 60,000 training images; the per-epoch
 *                 shuffle and gather happen before the timer starts (as in the script). The
 *                 default loop is written here from the engine's public pieces (forward,
 *                 softmax cross-entropy, backward, optimizer step) so that it mirrors the torch
 *                 loop exactly, with one optimizer kept across epochs. --trainer times
 *                 fw_train() for one epoch at a time instead: its own shuffle and gather are
 *                 then inside the timer and its optimizer state restarts every epoch.
 *   test accuracy after the last epoch (batches of 1000).
 *   latency       one image (n = 1, eval mode) after 100 warm-up calls: median and minimum
 *                 over at least --latency-calls calls and --min-window seconds.
 *   throughput    batches of 1000 over the whole test set, repeated for --min-window seconds.
 *   foreign_cores CPU used by other processes during each timed phase: the busy time in
 *                 /proc/stat minus this process's own CPU time (getrusage), per wall second.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "fw-dataset.h"
#include "fw-error.h"
#include "fw-gemm.h"
#include "fw-loss.h"
#include "fw-model.h"
#include "fw-rng.h"
#include "fw-train.h"
#include "fw-util.h"

#include "frugal-cli.h"

#define FMNIST_MEAN 0.2860f
#define FMNIST_STD 0.3530f

typedef struct {
  /* options */
  char *model;          /* torch's name: mlp | lenet | cnn */
  const char *arch;     /* the engine's: mlp | lenet5 | cnn-small */
  int threads, epochs, repeats, batch, latency_calls;
  char *opt;
  char *data;
  char *out;
  gint64 seed;
  double min_window, foreign_limit;
  gboolean skip_train, use_trainer;
  /* state */
  FILE *out_file;
} Bench;

/* ---- clocks and interference ---- */

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

typedef struct {
  double busy;   /* all CPUs' busy seconds (user nice system irq softirq steal) */
  double own;    /* this process's CPU seconds, all threads */
  double wall;
} Snap;

static Snap
snap (void)
{
  Snap s = { 0 };
  static long tck = 0;
  if (tck == 0)
    tck = sysconf (_SC_CLK_TCK);
  FILE *f = fopen ("/proc/stat", "r");
  if (f != NULL)
    {
      unsigned long long v[8] = { 0 };
      if (fscanf (f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                  &v[4], &v[5], &v[6], &v[7]) == 8)
        s.busy = (double) (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double) tck;
      fclose (f);
    }
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  s.own = (double) ru.ru_utime.tv_sec + 1e-6 * (double) ru.ru_utime.tv_usec
          + (double) ru.ru_stime.tv_sec + 1e-6 * (double) ru.ru_stime.tv_usec;
  s.wall = now_s ();
  return s;
}

/* cores' worth of other work on the machine between a and b */
static double
foreign (Snap a, Snap b)
{
  double dt = b.wall - a.wall;
  if (dt <= 0)
    return 0;
  return MAX (0.0, ((b.busy - a.busy) - (b.own - a.own)) / dt);
}

/* ---- JSON lines ---- */

static JsonBuilder *
record_begin (Bench *b, const char *kind)
{
  JsonBuilder *j = json_builder_new ();
  json_builder_begin_object (j);
  json_builder_set_member_name (j, "kind");
  json_builder_add_string_value (j, kind);
  if (strcmp (kind, "meta") != 0)
    {
      json_builder_set_member_name (j, "model");
      json_builder_add_string_value (j, b->model);
      json_builder_set_member_name (j, "threads");
      json_builder_add_int_value (j, b->threads);
      json_builder_set_member_name (j, "opt");
      json_builder_add_string_value (j, b->opt);
    }
  return j;
}

static void
add_double (JsonBuilder *j, const char *name, double v)
{
  json_builder_set_member_name (j, name);
  if (isfinite (v))
    json_builder_add_double_value (j, v);
  else
    json_builder_add_null_value (j);
}

static void
add_int (JsonBuilder *j, const char *name, gint64 v)
{
  json_builder_set_member_name (j, name);
  json_builder_add_int_value (j, v);
}

static void
add_string (JsonBuilder *j, const char *name, const char *v)
{
  json_builder_set_member_name (j, name);
  if (v != NULL)
    json_builder_add_string_value (j, v);
  else
    json_builder_add_null_value (j);
}

static void
record_end (Bench *b, JsonBuilder *j)
{
  json_builder_end_object (j);
  g_autoptr (JsonNode) root = json_builder_get_root (j);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  g_autofree char *line = json_generator_to_data (gen, NULL);
  printf ("%s\n", line);
  fflush (stdout);
  if (b->out_file != NULL)
    {
      fprintf (b->out_file, "%s\n", line);
      fflush (b->out_file);
    }
  g_object_unref (j);
}

/* ---- measurements ---- */

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

typedef struct {
  FwOptimizer *opt;      /* kept across epochs, like torch's optimizer object */
  FwRng shuffle_rng;
  gint32 *perm;          /* [n] */
  float *xs;             /* [n x d] the shuffled epoch, gathered before the timer */
  gint32 *ys;            /* [n] */
  float *dlogits;        /* [batch x k] */
} TrainBuffers;

/* One epoch in the torch loop's shape. Returns the timed seconds; *last_loss = the loss of the
 * last batch. */
static double
train_epoch_own (Bench *b, FwModel *m, const FwTrainConfig *cfg, TrainBuffers *tb,
                 const FwDataset *train, double *last_loss, double *fo)
{
  int n = train->n, k = m->n_classes;
  gsize d = fw_dataset_sample_size (train);

  for (int i = 0; i < n; i++)
    tb->perm[i] = i;
  fw_rng_shuffle (&tb->shuffle_rng, tb->perm, (gsize) n);
  for (int i = 0; i < n; i++)
    {
      memcpy (tb->xs + (gsize) i * d, train->x + (gsize) tb->perm[i] * d, d * sizeof (float));
      tb->ys[i] = train->y[tb->perm[i]];
    }

  Snap s0 = snap ();
  double t0 = now_s ();
  double loss = NAN;
  for (int i = 0; i < n; i += b->batch)   /* the last batch is 96 images, not dropped */
    {
      int nb = MIN (b->batch, n - i);
      const float *logits = fw_model_forward (m, tb->xs + (gsize) i * d, nb, TRUE);
      /* dlogits = (softmax(logits) - onehot(y)) / nb */
      loss = fw_loss_softmax_xent (logits, nb, k, tb->ys + i, NULL, 0.0f, tb->dlogits, NULL);
      fw_model_backward (m, tb->dlogits, nb);
      fw_optimizer_step (tb->opt, m, cfg->lr);
    }
  double dt = now_s () - t0;
  *fo = foreign (s0, snap ());
  *last_loss = loss;
  return dt;
}

static void
trainer_batch_hook (gpointer user, int epoch, int n_epochs, int batch, int n_batches,
                    double loss, double acc)
{
  *(double *) user = loss;
}

/* One epoch through fw_train(): its shuffle and gather are inside the timer. */
static double
train_epoch_trainer (Bench *b, FwModel *m, const FwTrainConfig *cfg, guint64 seed,
                     FwDataset *train, double *last_loss, double *fo, GError **error)
{
  FwTrainConfig one = *cfg;
  one.epochs = 1;
  one.seed = seed;
  double loss = NAN;
  FwTrainHooks hooks = { trainer_batch_hook, NULL, &loss };
  Snap s0 = snap ();
  double t0 = now_s ();
  gboolean ok = fw_train (m, &one, train, NULL, NULL, &hooks, NULL, NULL, error);
  double dt = now_s () - t0;
  *fo = foreign (s0, snap ());
  *last_loss = loss;
  return ok ? dt : -1;
}

static void
latency_b1 (Bench *b, FwModel *m, const FwDataset *test, double *median, double *min,
            int *calls, double *fo)
{
  gsize d = fw_dataset_sample_size (test);
  for (int i = 0; i < 100; i++)   /* warm-up */
    fw_model_forward (m, test->x + (gsize) (i % test->n) * d, 1, FALSE);

  GArray *ts = g_array_sized_new (FALSE, FALSE, sizeof (double), (guint) b->latency_calls);
  Snap s0 = snap ();
  double start = now_s ();
  for (int i = 0; i < b->latency_calls || now_s () - start < b->min_window; i++)
    {
      const float *xi = test->x + (gsize) (i % test->n) * d;
      double t0 = now_s ();
      fw_model_forward (m, xi, 1, FALSE);
      double dt = now_s () - t0;
      g_array_append_val (ts, dt);
    }
  *fo = foreign (s0, snap ());
  qsort (ts->data, ts->len, sizeof (double), compare_doubles);
  double *v = (double *) ts->data;
  guint len = ts->len;
  /* the median as statistics.median takes it: the middle, or the mean of the two middles */
  *median = 1e6 * (len % 2 ? v[len / 2] : 0.5 * (v[len / 2 - 1] + v[len / 2]));
  *min = 1e6 * v[0];
  *calls = (int) len;
  g_array_free (ts, TRUE);
}

static double
throughput_b1000 (Bench *b, FwModel *m, const FwDataset *test, double *fo)
{
  gsize d = fw_dataset_sample_size (test);
  fw_model_reserve (m, 1000);
  fw_model_forward (m, test->x, MIN (1000, test->n), FALSE);   /* warm-up */
  Snap s0 = snap ();
  double t0 = now_s ();
  gint64 n = 0;
  while (n == 0 || now_s () - t0 < b->min_window)
    {
      for (int i = 0; i < test->n; i += 1000)
        fw_model_forward (m, test->x + (gsize) i * d, MIN (1000, test->n - i), FALSE);
      n += test->n;
    }
  double dt = now_s () - t0;
  *fo = foreign (s0, snap ());
  return (double) n / dt;
}

static double
test_accuracy (FwModel *m, const FwDataset *test)
{
  g_autofree gint32 *preds = g_new (gint32, test->n);
  fw_model_predict (m, test->x, test->n, 1000, preds);
  gint64 correct = 0;
  for (int i = 0; i < test->n; i++)
    correct += preds[i] == test->y[i];
  return (double) correct / test->n;
}

/* ---- the command ---- */

static gboolean
resolve_model (Bench *b)
{
  static const struct { const char *torch, *arch, *alias; } names[] = {
    { "mlp", "mlp", "mlp" },
    { "lenet", "lenet5", "lenet5" },
    { "cnn", "cnn-small", "cnn-small" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (b->model, names[i].torch) == 0 || g_strcmp0 (b->model, names[i].alias) == 0)
      {
        g_free (b->model);
        b->model = g_strdup (names[i].torch);
        b->arch = names[i].arch;
        return TRUE;
      }
  return FALSE;
}

static FwDataset *
load_split (const char *dir, const char *images, const char *labels, GError **error)
{
  g_autofree char *xi = g_build_filename (dir, images, NULL);
  g_autofree char *yi = g_build_filename (dir, labels, NULL);
  if (!g_file_test (xi, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_NOT_FOUND,
                   "%s not found: install the Debian package dataset-fashion-mnist or give "
                   "--data DIR with the Fashion-MNIST IDX .gz files", xi);
      return NULL;
    }
  g_autofree char *spec = g_strdup_printf ("idx:%s:%s", xi, yi);
  return fw_dataset_load (spec, 0, NULL, error);
}

int
frugal_cmd_bench (int argc, char **argv)
{
  Bench b = { 0 };
  b.threads = -1;
  b.epochs = -1;
  b.repeats = 3;
  b.batch = 128;
  b.latency_calls = 2000;
  b.seed = 1234;
  b.min_window = 1.0;
  b.foreign_limit = 0.15;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_STRING, &b.model,
      "mlp | lenet (lenet5) | cnn (cnn-small)", "NAME" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &b.threads, "Number of threads (required)", "N" },
    { "epochs", 'e', 0, G_OPTION_ARG_INT, &b.epochs, "Epochs (default: mlp/lenet 3, cnn 2)",
      "E" },
    { "repeats", 'r', 0, G_OPTION_ARG_INT, &b.repeats, "Repeats, fresh model each (default 3)",
      "R" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &b.batch, "Training batch (default 128)", "B" },
    { "opt", 0, 0, G_OPTION_ARG_STRING, &b.opt, "sgd (momentum 0.9, lr 0.05) | adam (lr 1e-3)",
      "OPT" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &b.seed, "Base seed (default 1234)", "S" },
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &b.data,
      "Folder of the Fashion-MNIST IDX .gz files (default /usr/share/datasets/fashion-mnist)",
      "DIR" },
    { "latency-calls", 0, 0, G_OPTION_ARG_INT, &b.latency_calls,
      "Minimum single-image calls (default 2000)", "N" },
    { "min-window", 0, 0, G_OPTION_ARG_DOUBLE, &b.min_window,
      "Latency and throughput phases run at least this long (s, default 1)", "S" },
    { "foreign-limit", 0, 0, G_OPTION_ARG_DOUBLE, &b.foreign_limit,
      "Exit 3 if other processes used more cores than this in a timed phase (default 0.15)",
      "CORES" },
    { "skip-train", 0, 0, G_OPTION_ARG_NONE, &b.skip_train,
      "Only inference timings (random init)", NULL },
    { "trainer", 0, 0, G_OPTION_ARG_NONE, &b.use_trainer,
      "Time fw_train() one epoch at a time instead of the torch-shaped loop", NULL },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &b.out, "Also append the JSON lines to FILE",
      "FILE" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "Train and time a model on Fashion-MNIST the way "
                                "torch_fmnist.py does, and print the same JSON-lines records "
                                "(kind meta, epoch, train, infer).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  int code = FRUGAL_EXIT_OK;
  if (!frugal_parse_options (ctx, "bench", &argc, &argv))
    {
      code = FRUGAL_EXIT_USAGE;
      goto out;
    }
  if (argc != 1)
    {
      code = frugal_usage_error ("bench", "takes no positional arguments");
      goto out;
    }
  if (b.model == NULL || !resolve_model (&b))
    {
      code = frugal_usage_error ("bench", "--model must be mlp, lenet (lenet5) or cnn "
                                 "(cnn-small), got %s", b.model ? b.model : "nothing");
      goto out;
    }
  if (b.threads < 1)
    {
      code = frugal_usage_error ("bench", "--threads N (N >= 1) is required");
      goto out;
    }
  if (b.opt == NULL)
    b.opt = g_strdup ("sgd");
  if (strcmp (b.opt, "sgd") != 0 && strcmp (b.opt, "adam") != 0)
    {
      code = frugal_usage_error ("bench", "--opt must be sgd or adam, got %s", b.opt);
      goto out;
    }
  if (b.epochs < 0)
    b.epochs = strcmp (b.model, "cnn") == 0 ? 2 : 3;
  if (b.epochs < 1 || b.repeats < 1 || b.batch < 1 || b.latency_calls < 1 || b.seed < 0)
    {
      code = frugal_usage_error ("bench", "--epochs, --repeats, --batch, --latency-calls must "
                                 "be >= 1 and --seed >= 0");
      goto out;
    }

  {
    const char *dir = b.data != NULL ? b.data : "/usr/share/datasets/fashion-mnist";
    g_autoptr (GError) error = NULL;
    fw_blas_set_threads (b.threads);

    double t_load = now_s ();
    g_autoptr (FwDataset) train = load_split (dir, "train-images-idx3-ubyte.gz",
                                              "train-labels-idx1-ubyte.gz", &error);
    g_autoptr (FwDataset) test = train == NULL ? NULL
      : load_split (dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", &error);
    if (train == NULL || test == NULL)
      {
        code = frugal_fail (error);
        goto out;
      }
    t_load = now_s () - t_load;
    FwShape in = train->shape;

    g_autofree char *spec = fw_model_arch_spec (b.arch, "256,128", in, train->n_classes,
                                                &error);
    g_autoptr (FwModel) probe = spec ? fw_model_new (b.arch, spec, in, &error) : NULL;
    if (probe == NULL)
      {
        code = frugal_fail (error);
        goto out;
      }

    if (b.out != NULL)
      {
        b.out_file = fopen (b.out, "a");
        if (b.out_file == NULL)
          {
            code = frugal_failf ("cannot append to %s: %s", b.out, g_strerror (errno));
            goto out;
          }
      }

    JsonBuilder *j = record_begin (&b, "meta");
    add_string (j, "model", b.model);
    add_int (j, "threads", b.threads);
    add_string (j, "opt", b.opt);
    add_int (j, "batch", b.batch);
    add_int (j, "epochs", b.epochs);
    add_string (j, "engine", "frugal-workbench 0.1.0");
    add_string (j, "arch", b.arch);
    add_string (j, "spec", spec);
    add_string (j, "loop", b.use_trainer ? "fw_train" : "own");
    add_int (j, "blas_threads", fw_blas_get_threads ());
    add_string (j, "OPENBLAS_NUM_THREADS", g_getenv ("OPENBLAS_NUM_THREADS"));
    add_string (j, "OMP_NUM_THREADS", g_getenv ("OMP_NUM_THREADS"));
    add_string (j, "OPENBLAS_CORETYPE", g_getenv ("OPENBLAS_CORETYPE") ?: "(unset)");
    add_string (j, "GLIBC_TUNABLES", g_getenv ("GLIBC_TUNABLES") ?: "(unset)");
    add_double (j, "data_load_s", round (t_load * 1000) / 1000);
    add_double (j, "fwd_mflop_per_image", fw_model_flops (probe) / 1e6);
    record_end (&b, j);

    double worst = 0;
    for (int rep = 0; rep < b.repeats; rep++)
      {
        g_autoptr (FwModel) m = fw_model_new (b.arch, spec, in, &error);
        fw_model_init (m, (guint64) b.seed + (guint64) rep);
        m->in_mean = FMNIST_MEAN;
        m->in_std = FMNIST_STD;
        fw_model_reserve (m, MAX (b.batch, 1000));
        gsize n_params = fw_model_param_count (m);

        if (!b.skip_train)
          {
            FwTrainConfig cfg;
            fw_train_config_defaults (&cfg);
            cfg.batch = b.batch;
            if (strcmp (b.opt, "sgd") == 0)
              {
                cfg.opt = FW_OPT_SGD;
                cfg.lr = 0.05;
                cfg.momentum = 0.9;
              }
            else
              {
                cfg.opt = FW_OPT_ADAM;
                cfg.lr = 1e-3;
              }
            TrainBuffers tb = { 0 };
            if (!b.use_trainer)
              {
                tb.opt = fw_optimizer_new (m, &cfg);
                fw_rng_init (&tb.shuffle_rng, (guint64) b.seed + 1000 + (guint64) rep);
                tb.perm = g_new (gint32, train->n);
                tb.xs = fw_alloc_floats ((gsize) train->n * fw_dataset_sample_size (train));
                tb.ys = g_new (gint32, train->n);
                tb.dlogits = fw_alloc_floats ((gsize) b.batch * (gsize) m->n_classes);
              }
            g_autoptr (GArray) secs = g_array_new (FALSE, FALSE, sizeof (double));
            double fo_max = 0;
            for (int ep = 0; ep < b.epochs; ep++)
              {
                double last_loss, fo, dt;
                if (b.use_trainer)
                  dt = train_epoch_trainer (&b, m, &cfg,
                                            (guint64) b.seed + 1000 + (guint64) (rep * 1000 + ep),
                                            train, &last_loss, &fo, &error);
                else
                  dt = train_epoch_own (&b, m, &cfg, &tb, train, &last_loss, &fo);
                if (dt < 0)
                  {
                    code = frugal_fail (error);
                    goto out;
                  }
                g_array_append_val (secs, dt);
                fo_max = MAX (fo_max, fo);
                j = record_begin (&b, "epoch");
                add_int (j, "rep", rep);
                add_int (j, "epoch", ep);
                add_double (j, "seconds", dt);
                add_double (j, "last_batch_loss", last_loss);
                add_double (j, "foreign_cores", fo);
                record_end (&b, j);
              }
            if (tb.opt != NULL)
              {
                fw_optimizer_free (tb.opt);
                g_free (tb.perm);
                fw_free_aligned (tb.xs);
                g_free (tb.ys);
                fw_free_aligned (tb.dlogits);
              }
            double acc = test_accuracy (m, test);
            j = record_begin (&b, "train");
            add_int (j, "rep", rep);
            json_builder_set_member_name (j, "epoch_seconds");
            json_builder_begin_array (j);
            for (guint e = 0; e < secs->len; e++)
              json_builder_add_double_value (j, g_array_index (secs, double, e));
            json_builder_end_array (j);
            add_double (j, "test_acc", acc);
            add_int (j, "params", (gint64) n_params);
            add_double (j, "foreign_cores_max", fo_max);
            record_end (&b, j);
            worst = MAX (worst, fo_max);
          }

        double lat_med, lat_min, fo_lat, fo_thr;
        int lat_n;
        latency_b1 (&b, m, test, &lat_med, &lat_min, &lat_n, &fo_lat);
        double thr = throughput_b1000 (&b, m, test, &fo_thr);
        j = record_begin (&b, "infer");
        add_int (j, "rep", rep);
        add_double (j, "latency_b1_us_median", lat_med);
        add_double (j, "latency_b1_us_min", lat_min);
        add_int (j, "latency_calls", lat_n);
        add_double (j, "throughput_b1000_img_s", thr);
        add_double (j, "foreign_cores_latency", fo_lat);
        add_double (j, "foreign_cores_throughput", fo_thr);
        record_end (&b, j);
        worst = MAX (worst, MAX (fo_lat, fo_thr));
      }
    if (worst > b.foreign_limit)
      {
        fprintf (stderr, "interference: other processes used up to %.2f cores during a timed "
                 "phase (limit %.2f)\n", worst, b.foreign_limit);
        code = FRUGAL_EXIT_INTERFERENCE;
      }
  }

out:
  if (b.out_file != NULL)
    fclose (b.out_file);
  g_free (b.model);
  g_free (b.opt);
  g_free (b.data);
  g_free (b.out);
  return code;
}
