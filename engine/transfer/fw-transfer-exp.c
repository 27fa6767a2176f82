/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-transfer-exp.c: the lecture's experiment: accuracy vs labels per class for each transfer
 * method, over seeds, and accuracy vs training wall time.
 *
 * 1. The source model: loaded (source_model) or pre-trained on the source task (source spec,
 *    optional class subset, at most source_limit samples) with Adam for pretrain_epochs.
 * 2. For every labels-per-class value N and seed s: the target training set is a stratified
 *    N-per-class subset (seed s) of the target's training split; every method trains on it for
 *    max(min_epochs, ceil(steps / batches per epoch)) epochs (the fine-tune phase of
 *    "finetune" as many again at lr * lr_scale) and is evaluated on the target's test split.
 *    "From scratch" copies the processing chain (architecture, input normalisation, optimizer)
 *    and starts from random weights of seed s.
 * 3. For the largest N, every epoch's test accuracy and cumulative training time (the trainer's
 *    own per-epoch seconds: evaluation excluded) give the accuracy-vs-time curves. */
#include "fw-transfer.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"
#include "fw-features.h"
#include "fw-run-dir.h"
#include "fw-safetensors.h"
#include "fw-util.h"

void
fw_transfer_config_defaults (FwTransferConfig *c)
{
  memset (c, 0, sizeof *c);
  c->source = g_strdup ("sim:3000:20");
  c->source_classes = g_strdup ("");
  c->target = g_strdup ("digits");
  c->target_classes = g_strdup ("");
  c->arch = g_strdup ("lenet5");
  c->source_model = g_strdup ("");
  c->head = g_strdup ("");
  c->task1_per_class = 10;
  c->task2_limit = 6000;
  static const int lpc[] = { 1, 5, 10, 50, 0 };
  c->n_lpc = G_N_ELEMENTS (lpc);
  c->labels_per_class = g_memdup2 (lpc, sizeof lpc);
  c->seeds = 3;
  c->methods = (1u << FW_TRANSFER_SCRATCH) | (1u << FW_TRANSFER_HEAD)
               | (1u << FW_TRANSFER_FINETUNE) | (1u << FW_TRANSFER_LORA)
               | (1u << FW_TRANSFER_KNN);
  c->pretrain_epochs = 4;
  c->source_limit = 0;
  c->steps = 150;
  c->min_epochs = 3;
  c->max_epochs = 100;
  c->batch = 64;
  c->lr = 0.002;
  c->lr_scale = 0.1;
  c->lr_decay = 1.0;
  c->unfreeze_last = 0;
  c->lora_rank = 4;
  c->lora_alpha = 8;
  c->prompt_pad = 2;
  c->retrieval_k = 5;
  c->retrieval_mix = 1.0;
  c->test_limit = 0;
  c->seed = 1;
}

void
fw_transfer_config_clear (FwTransferConfig *c)
{
  g_clear_pointer (&c->source, g_free);
  g_clear_pointer (&c->source_classes, g_free);
  g_clear_pointer (&c->target, g_free);
  g_clear_pointer (&c->target_classes, g_free);
  g_clear_pointer (&c->arch, g_free);
  g_clear_pointer (&c->source_model, g_free);
  g_clear_pointer (&c->head, g_free);
  g_clear_pointer (&c->labels_per_class, g_free);
}

void
fw_transfer_config_copy (FwTransferConfig *dst, const FwTransferConfig *src)
{
  *dst = *src;
  dst->source = g_strdup (src->source);
  dst->source_classes = g_strdup (src->source_classes);
  dst->target = g_strdup (src->target);
  dst->target_classes = g_strdup (src->target_classes);
  dst->arch = g_strdup (src->arch);
  dst->source_model = g_strdup (src->source_model);
  dst->head = g_strdup (src->head);
  dst->labels_per_class = g_memdup2 (src->labels_per_class, sizeof (int) * src->n_lpc);
}

static void
curve_free (gpointer p)
{
  FwTransferCurve *c = p;
  g_array_unref (c->seconds);
  g_array_unref (c->accuracy);
  g_free (c);
}

void
fw_transfer_result_free (FwTransferResult *r)
{
  if (r == NULL)
    return;
  fw_transfer_config_clear (&r->config);
  g_array_unref (r->rows);
  g_ptr_array_unref (r->curves);
  g_clear_pointer (&r->source_model, fw_model_unref);
  g_free (r->run_dir);
  g_free (r);
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

int
fw_transfer_result_stats (const FwTransferResult *r, FwTransferMethod m, int lpc, double *mean,
                          double *sd, double *median_seconds)
{
  double s = 0, ss = 0;
  g_autofree double *t = g_new (double, MAX (r->rows->len, 1));
  int n = 0;
  for (guint i = 0; i < r->rows->len; i++)
    {
      const FwTransferRow *row = &g_array_index (r->rows, FwTransferRow, i);
      if (row->method != m || row->lpc != lpc)
        continue;
      s += row->accuracy;
      ss += row->accuracy * row->accuracy;
      t[n++] = row->seconds;
    }
  double mu = n > 0 ? s / n : NAN;
  if (mean != NULL)
    *mean = mu;
  if (sd != NULL)
    *sd = n > 1 ? sqrt (MAX (0.0, (ss - n * mu * mu) / (n - 1))) : 0.0;
  if (median_seconds != NULL)
    {
      qsort (t, n, sizeof (double), cmp_double);
      *median_seconds = n == 0 ? NAN : n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    }
  return n;
}

/* ---- one experiment ---- */

typedef struct {
  const FwTransferConfig *c;
  FwJob *job;
  GCancellable *cancellable;
  int done, total;
} Exp;

static void G_GNUC_PRINTF (2, 3)
exp_log (Exp *e, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  if (e->job != NULL)
    fw_job_log (e->job, "%s", msg);
  else
    g_debug ("%s", msg);
}

static FwDataset *
load_task (const char *spec, const char *classes, gboolean test, guint64 seed,
           GCancellable *cancellable, GError **error)
{
  g_autoptr (FwDataset) ds = test ? fw_dataset_load_test (spec, seed, cancellable, error)
                                  : fw_dataset_load (spec, seed, cancellable, error);
  if (ds == NULL)
    {
      if (test && error != NULL && *error == NULL)
        g_set_error (error, FW_ERROR, FW_ERROR_NOT_FOUND, "dataset '%s' has no test split; "
                     "choose a dataset with one (digits, fashion-mnist, sim)", spec);
      return NULL;
    }
  int cl[256];
  int n = fw_transfer_parse_classes (classes, MIN (ds->n_classes, 256), cl, error);
  if (n < 0)
    return NULL;
  if (n == 0)
    return g_steal_pointer (&ds);
  return fw_transfer_class_subset (ds, cl, n, error);
}

static int
epochs_for (const FwTransferConfig *c, int n)
{
  int per = MAX (1, (n + c->batch - 1) / c->batch);
  int e = (c->steps + per - 1) / per;
  return CLAMP (e, c->min_epochs, MAX (c->min_epochs, c->max_epochs));
}

static void
train_config (const FwTransferConfig *c, guint64 seed, int epochs, double lr, FwTrainConfig *t)
{
  fw_train_config_defaults (t);
  t->epochs = epochs;
  t->batch = c->batch;
  t->opt = FW_OPT_ADAM;
  t->lr = lr;
  t->seed = seed;
}

/* Trains and appends per-epoch (cumulative seconds, test accuracy) to the curve when given.
 * Returns the training seconds. */
static gboolean
train (Exp *e, FwModel *m, const FwTrainConfig *t, FwDataset *train, FwDataset *test,
       FwTransferCurve *curve, double t_offset, double *seconds, GError **error)
{
  g_autoptr (GArray) metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  if (!fw_train (m, t, train, NULL, curve != NULL ? test : NULL, NULL, e->cancellable, metrics,
                 error))
    return FALSE;
  double s = 0;
  double base = t_offset;
  if (curve != NULL && curve->seconds->len > 0)
    base = g_array_index (curve->seconds, double, curve->seconds->len - 1);
  for (guint i = 0; i < metrics->len; i++)
    {
      const FwEpochMetrics *em = &g_array_index (metrics, FwEpochMetrics, i);
      s += em->seconds;
      if (curve != NULL)
        {
          double cs = base + s;
          g_array_append_val (curve->seconds, cs);
          g_array_append_val (curve->accuracy, em->test_acc);
        }
    }
  *seconds = s;
  return TRUE;
}

static double
accuracy (FwModel *m, FwDataset *test, GCancellable *cancellable, GError **error)
{
  g_autoptr (FwEvalResult) ev = fw_evaluate (m, test, 256, cancellable, error);
  return ev != NULL ? ev->accuracy : NAN;
}

static FwModel *
pretrain (Exp *e, FwTransferResult *res, GError **error)
{
  const FwTransferConfig *c = e->c;
  if (c->source_model != NULL && *c->source_model)
    {
      exp_log (e, "Source model: %s", c->source_model);
      return fw_model_load (c->source_model, NULL, error);
    }
  g_autoptr (FwDataset) src = load_task (c->source, c->source_classes, FALSE, c->seed,
                                         e->cancellable, error);
  if (src == NULL)
    return NULL;
  if (c->source_limit > 0 && c->source_limit < src->n)
    {
      FwDataset *lim = fw_dataset_per_class (src, MAX (1, c->source_limit / src->n_classes),
                                             c->seed, NULL);
      fw_dataset_unref (src);
      src = lim;
    }
  g_autoptr (FwDataset) src_test = load_task (c->source, c->source_classes, TRUE, c->seed,
                                              e->cancellable, error);
  if (src_test == NULL)
    return NULL;
  g_autofree char *spec = fw_model_arch_spec (c->arch, NULL, src->shape, src->n_classes, error);
  if (spec == NULL)
    return NULL;
  g_autoptr (FwModel) m = fw_model_new (c->arch, spec, src->shape, error);
  if (m == NULL)
    return NULL;
  fw_model_init (m, c->seed);
  fw_dataset_stats (src, &m->in_mean, &m->in_std);
  if (m->in_std <= 0)
    m->in_std = 1;
  m->class_names = g_strdupv (src->class_names);
  exp_log (e, "Pre-training %s on %s (%d samples, %d classes) for %d epochs", c->arch,
           src->name, src->n, src->n_classes, c->pretrain_epochs);
  FwTrainConfig t;
  train_config (c, c->seed, c->pretrain_epochs, c->lr, &t);
  g_autoptr (GArray) metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  FwTrainHooks hooks = { 0 }, *hp = NULL;
  if (e->job != NULL)
    {
      fw_job_train_hooks_init (&hooks, e->job);
      hp = &hooks;
    }
  if (!fw_train (m, &t, src, NULL, NULL, hp, e->cancellable, metrics, error))
    return NULL;
  for (guint i = 0; i < metrics->len; i++)
    res->pretrain_seconds += g_array_index (metrics, FwEpochMetrics, i).seconds;
  res->source_accuracy = accuracy (m, src_test, e->cancellable, error);
  if (isnan (res->source_accuracy))
    return NULL;
  exp_log (e, "Source model: %.1f%% on %s after %.1f s", 100 * res->source_accuracy,
           src_test->name, res->pretrain_seconds);
  return g_steal_pointer (&m);
}

static FwDataset *
features_set (FwModel *m, int layer, FwDataset *ds, GCancellable *cancellable, GError **error)
{
  g_autoptr (FwFeatures) f = fw_features_layer (m, layer, ds, NULL, 0, 256, cancellable, error);
  if (f == NULL)
    return NULL;
  FwDataset *fd = fw_dataset_new ("features", f->n, (FwShape) { f->d, 1, 1 }, ds->n_classes);
  memcpy (fd->x, f->x, sizeof (float) * (gsize) f->n * f->d);
  memcpy (fd->y, f->label, sizeof (gint32) * f->n);
  return fd;
}

/* Strategy 2 the frugal way: the frozen trunk's features of the training set are computed
 * once, and only the head (a small model over them) is trained; its weights are then written
 * back into m. Bit-for-bit the same model as training m with a frozen trunk in eval mode. */
static gboolean
train_head_cached (Exp *e, FwModel *m, const FwTrainConfig *t, FwDataset *train_set,
                   FwDataset *test, FwTransferCurve *curve, double *seconds, GError **error)
{
  int head = fw_transfer_head_index (m);
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (FwDataset) fd = features_set (m, head - 1, train_set, e->cancellable, error);
  if (fd == NULL)
    return FALSE;
  double feat_s = (g_get_monotonic_time () - t0) / 1e6;
  g_autoptr (FwDataset) ft = NULL;
  if (curve != NULL && (ft = features_set (m, head - 1, test, e->cancellable, error)) == NULL)
    return FALSE;
  g_autoptr (GString) spec = g_string_new (NULL);
  for (int i = head; i < m->n_layers; i++)
    {
      g_autofree char *tok = m->layers[i]->klass->spec (m->layers[i]);
      g_string_append_printf (spec, "%s%s", i > head ? "," : "", tok);
    }
  g_autoptr (FwModel) hm = fw_model_new ("head", spec->str, fd->shape, error);
  if (hm == NULL)
    return FALSE;
  for (int i = head; i < m->n_layers; i++)
    {
      FwLayer *a = m->layers[i], *b = hm->layers[i - head];
      memcpy (b->w, a->w, sizeof (float) * a->n_w);
      memcpy (b->st, a->st, sizeof (float) * a->n_st);
    }
  if (!train (e, hm, t, fd, ft, curve, feat_s, seconds, error))
    return FALSE;
  for (int i = head; i < m->n_layers; i++)
    {
      FwLayer *a = m->layers[i], *b = hm->layers[i - head];
      memcpy (a->w, b->w, sizeof (float) * a->n_w);
      memcpy (a->st, b->st, sizeof (float) * a->n_st);
    }
  *seconds += feat_s;
  return TRUE;
}

/* the layer whose output feeds the head (embeddings for kNN), or -1 */
static int
embedding_layer (const FwModel *m)
{
  return fw_transfer_head_index (m) - 1;
}

static gboolean
run_method (Exp *e, FwTransferResult *res, FwTransferMethod method, FwModel *src,
            FwDataset *train_set, FwDataset *test, int lpc, guint64 seed, gboolean want_curve,
            GError **error)
{
  const FwTransferConfig *c = e->c;
  int k = test->n_classes;
  int epochs = epochs_for (c, train_set->n);
  FwTransferRow row = { .method = method, .lpc = lpc, .n_train = train_set->n, .seed = seed };
  FwTransferCurve *curve = NULL;
  if (want_curve)
    {
      curve = g_new0 (FwTransferCurve, 1);
      curve->method = method;
      curve->seed = seed;
      curve->seconds = g_array_new (FALSE, FALSE, sizeof (double));
      curve->accuracy = g_array_new (FALSE, FALSE, sizeof (double));
      g_ptr_array_add (res->curves, curve);
    }
  FwTrainConfig t;
  train_config (c, seed, epochs, c->lr, &t);
  g_autoptr (FwModel) m = NULL;
  switch (method)
    {
    case FW_TRANSFER_SCRATCH:
      {
        g_autofree char *spec = fw_model_arch_spec (src->arch, NULL, src->input, k, NULL);
        if (spec == NULL) /* a custom source architecture: its trunk with a new head */
          {
            m = fw_transfer_new_head (src, k, c->head, seed, error);
            if (m == NULL)
              return FALSE;
            fw_model_init (m, seed);
          }
        else if ((m = fw_model_new (src->arch, spec, src->input, error)) == NULL)
          return FALSE;
        fw_model_init (m, seed);
        m->in_mean = src->in_mean; /* the same processing chain */
        m->in_std = src->in_std;
        fw_transfer_unfreeze_last (m, 0);
        break;
      }
    case FW_TRANSFER_HEAD:
    case FW_TRANSFER_FINETUNE:
      m = fw_transfer_new_head (src, k, c->head, seed, error);
      break;
    case FW_TRANSFER_LORA:
      {
        g_autoptr (FwModel) h = fw_transfer_new_head (src, k, c->head, seed, error);
        if (h != NULL)
          m = fw_lora_wrap (h, c->lora_rank, (float) c->lora_alpha, FALSE, seed, error);
        break;
      }
    case FW_TRANSFER_PROMPT:
    case FW_TRANSFER_PREFIX:
      {
        g_autoptr (FwModel) h = fw_transfer_new_head (src, k, c->head, seed, error);
        if (h != NULL)
          m = method == FW_TRANSFER_PROMPT
                ? fw_transfer_add_prompt (h, "pad", c->prompt_pad, error)
                : fw_transfer_add_prefix (h, seed, error);
        if (m != NULL) /* the new head learns too */
          m->layers[fw_transfer_head_index (m)]->frozen = FALSE;
        break;
      }
    case FW_TRANSFER_KNN:
      {
        g_autoptr (FwModel) copy = fw_model_copy (src);
        g_autoptr (FwRetrieval) r = fw_retrieval_new (copy, embedding_layer (copy), k, error);
        if (r == NULL)
          return FALSE;
        gint64 t0 = g_get_monotonic_time ();
        if (!fw_retrieval_add (r, train_set, e->cancellable, error))
          return FALSE;
        row.seconds = (g_get_monotonic_time () - t0) / 1e6;
        row.seconds_phase[0] = row.seconds;
        g_autofree gint32 *pred = g_new (gint32, test->n);
        /* no more neighbours than labels per class: with 1 label per class, k = 1 */
        int kk = MAX (1, MIN (c->retrieval_k, train_set->n / MAX (1, k)));
        if (!fw_retrieval_predict (r, test, kk, c->retrieval_mix,
                                   NULL, pred, e->cancellable, error))
          return FALSE;
        int ok = 0;
        for (int i = 0; i < test->n; i++)
          ok += pred[i] == test->y[i];
        row.accuracy = (double) ok / test->n;
        fw_transfer_count (src, NULL, &row.frozen);
        row.frozen += src->n_params;
        if (curve != NULL)
          {
            g_array_append_val (curve->seconds, row.seconds);
            g_array_append_val (curve->accuracy, row.accuracy);
          }
        g_array_append_val (res->rows, row);
        return TRUE;
      }
    default:
      g_assert_not_reached ();
    }
  if (m == NULL)
    return FALSE;
  fw_transfer_count (m, &row.trainable, &row.frozen);
  if (method == FW_TRANSFER_HEAD || method == FW_TRANSFER_FINETUNE)
    {
      if (!train_head_cached (e, m, &t, train_set, test, curve, &row.seconds_phase[0], error))
        return FALSE;
    }
  else if (!train (e, m, &t, train_set, test, curve, 0, &row.seconds_phase[0], error))
    return FALSE;
  row.seconds = row.seconds_phase[0];
  if (method == FW_TRANSFER_FINETUNE)
    {
      /* phase 3: unfreeze (the last k weight layers or all) at a lower learning rate */
      fw_transfer_unfreeze_last (m, c->unfreeze_last);
      fw_transfer_set_lr_decay (m, c->lr_decay);
      fw_transfer_count (m, &row.trainable, &row.frozen);
      FwTrainConfig t2;
      train_config (c, seed + 1000, epochs, c->lr * c->lr_scale, &t2);
      if (!train (e, m, &t2, train_set, test, curve, 0, &row.seconds_phase[1], error))
        return FALSE;
      row.seconds += row.seconds_phase[1];
    }
  row.accuracy = accuracy (m, test, e->cancellable, error);
  if (isnan (row.accuracy))
    return FALSE;
  g_array_append_val (res->rows, row);
  return TRUE;
}

static int
lpc_rank (int lpc)
{
  return lpc <= 0 ? G_MAXINT : lpc;
}

FwTransferResult *
fw_transfer_experiment (const FwTransferConfig *c, FwJob *job, GCancellable *cancellable,
                        GError **error)
{
  Exp e = { .c = c, .job = job, .cancellable = cancellable };
  g_autoptr (FwTransferResult) res = g_new0 (FwTransferResult, 1);
  fw_transfer_config_copy (&res->config, c);
  res->rows = g_array_new (FALSE, FALSE, sizeof (FwTransferRow));
  res->curves = g_ptr_array_new_with_free_func (curve_free);
  res->zero_shot = NAN;
  res->source_accuracy = NAN;
  if (c->n_lpc < 1 || c->seeds < 1 || c->methods == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "transfer experiment: give at least one "
                   "labels-per-class value, one seed and one method");
      return NULL;
    }
  if (job != NULL)
    fw_job_progress (job, 0.0, 0, 0, 0, 0, NAN, NAN);
  g_autoptr (FwModel) src = pretrain (&e, res, error);
  if (src == NULL)
    return NULL;
  g_autoptr (FwDataset) target = load_task (c->target, c->target_classes, FALSE, c->seed,
                                            cancellable, error);
  if (target == NULL)
    return NULL;
  g_autoptr (FwDataset) test = load_task (c->target, c->target_classes, TRUE, c->seed,
                                          cancellable, error);
  if (test == NULL)
    return NULL;
  if (fw_shape_size (target->shape) != fw_shape_size (src->input))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "the source model reads %dx%dx%d images, "
                   "the target task has %dx%dx%d: pre-train on data of the target's size "
                   "(for digits: sim:N:20)", src->input.c, src->input.h, src->input.w,
                   target->shape.c, target->shape.h, target->shape.w);
      return NULL;
    }
  if (c->test_limit > 0 && c->test_limit < test->n)
    {
      FwDataset *lim = fw_dataset_per_class (test, MAX (1, c->test_limit / test->n_classes),
                                             c->seed, NULL);
      fw_dataset_unref (test);
      test = lim;
    }
  if (src->n_classes == test->n_classes && (c->target_classes == NULL || !*c->target_classes)
      && (c->source_classes == NULL || !*c->source_classes))
    {
      res->zero_shot = accuracy (src, test, cancellable, error);
      if (isnan (res->zero_shot))
        return NULL;
      exp_log (&e, "Source model on the target test set, no target labels: %.1f%%",
               100 * res->zero_shot);
    }
  int n_methods = 0;
  for (int mth = 0; mth < FW_TRANSFER_N_METHODS; mth++)
    n_methods += (c->methods >> mth) & 1;
  e.total = c->n_lpc * c->seeds * n_methods;
  int largest = 0;
  for (int i = 0; i < c->n_lpc; i++)
    if (lpc_rank (c->labels_per_class[i]) > lpc_rank (c->labels_per_class[largest]))
      largest = i;
  for (int li = 0; li < c->n_lpc; li++)
    {
      int lpc = c->labels_per_class[li];
      for (int s = 0; s < c->seeds; s++)
        {
          guint64 seed = c->seed + (guint64) s;
          g_autoptr (FwDataset) tr = lpc > 0 ? fw_dataset_per_class (target, lpc, seed, NULL)
                                             : fw_dataset_ref (target);
          for (int mth = 0; mth < FW_TRANSFER_N_METHODS; mth++)
            {
              if (!((c->methods >> mth) & 1))
                continue;
              if (g_cancellable_is_cancelled (cancellable))
                {
                  g_set_error (error, FW_ERROR, FW_ERROR_CANCELLED, "Transfer experiment "
                               "cancelled");
                  return NULL;
                }
              if (!run_method (&e, res, mth, src, tr, test, lpc, seed, li == largest, error))
                return NULL;
              const FwTransferRow *row = &g_array_index (res->rows, FwTransferRow,
                                                         res->rows->len - 1);
              e.done++;
              char lbl[16];
              g_snprintf (lbl, sizeof lbl, lpc > 0 ? "%d" : "all", lpc);
              exp_log (&e, "%-22s %4s labels/class (n = %4d) seed %" G_GUINT64_FORMAT
                       ": %5.1f%% in %.2f s", fw_transfer_method_title (mth), lbl, tr->n, seed,
                       100 * row->accuracy, row->seconds);
              if (job != NULL)
                fw_job_progress (job, (double) e.done / e.total, e.done, e.total, 0, 0, NAN,
                                 row->accuracy);
            }
        }
    }
  res->source_model = g_steal_pointer (&src);
  return g_steal_pointer (&res);
}

/* ---- files ---- */

static char *
results_csv (const FwTransferResult *r)
{
  GString *s = g_string_new ("method,labels_per_class,n_train,seed,accuracy,seconds,"
                             "seconds_phase1,seconds_phase2,trainable,frozen\n");
  for (guint i = 0; i < r->rows->len; i++)
    {
      const FwTransferRow *row = &g_array_index (r->rows, FwTransferRow, i);
      g_string_append_printf (s, "%s,%d,%d,%" G_GUINT64_FORMAT ",%.6f,%.4f,%.4f,%.4f,%"
                              G_GSIZE_FORMAT ",%" G_GSIZE_FORMAT "\n",
                              fw_transfer_method_name (row->method), row->lpc, row->n_train,
                              row->seed, row->accuracy, row->seconds, row->seconds_phase[0],
                              row->seconds_phase[1], row->trainable, row->frozen);
    }
  return g_string_free (s, FALSE);
}

static char *
curves_csv (const FwTransferResult *r)
{
  GString *s = g_string_new ("method,seed,epoch,seconds,accuracy\n");
  for (guint i = 0; i < r->curves->len; i++)
    {
      const FwTransferCurve *c = g_ptr_array_index (r->curves, i);
      for (guint j = 0; j < c->seconds->len; j++)
        g_string_append_printf (s, "%s,%" G_GUINT64_FORMAT ",%u,%.4f,%.6f\n",
                                fw_transfer_method_name (c->method), c->seed, j + 1,
                                g_array_index (c->seconds, double, j),
                                g_array_index (c->accuracy, double, j));
    }
  return g_string_free (s, FALSE);
}

char *
fw_transfer_result_summary_json (const FwTransferResult *r)
{
  const FwTransferConfig *c = &r->config;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "source");
  json_builder_add_string_value (b, c->source_model && *c->source_model ? c->source_model
                                                                        : c->source);
  json_builder_set_member_name (b, "target");
  json_builder_add_string_value (b, c->target);
  json_builder_set_member_name (b, "source_accuracy");
  json_builder_add_double_value (b, isnan (r->source_accuracy) ? -1 : r->source_accuracy);
  json_builder_set_member_name (b, "zero_shot_accuracy");
  json_builder_add_double_value (b, isnan (r->zero_shot) ? -1 : r->zero_shot);
  json_builder_set_member_name (b, "pretrain_seconds");
  json_builder_add_double_value (b, r->pretrain_seconds);
  json_builder_set_member_name (b, "methods");
  json_builder_begin_array (b);
  for (int m = 0; m < FW_TRANSFER_N_METHODS; m++)
    {
      if (!((c->methods >> m) & 1))
        continue;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "method");
      json_builder_add_string_value (b, fw_transfer_method_name (m));
      json_builder_set_member_name (b, "points");
      json_builder_begin_array (b);
      for (int i = 0; i < c->n_lpc; i++)
        {
          double mean, sd, sec;
          if (fw_transfer_result_stats (r, m, c->labels_per_class[i], &mean, &sd, &sec) == 0)
            continue;
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "labels_per_class");
          json_builder_add_int_value (b, c->labels_per_class[i]);
          json_builder_set_member_name (b, "accuracy_mean");
          json_builder_add_double_value (b, mean);
          json_builder_set_member_name (b, "accuracy_sd");
          json_builder_add_double_value (b, sd);
          json_builder_set_member_name (b, "seconds_median");
          json_builder_add_double_value (b, sec);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonGenerator) g = json_generator_new ();
  json_generator_set_pretty (g, TRUE);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (g, root);
  return json_generator_to_data (g, NULL);
}

char *
fw_transfer_result_table (const FwTransferResult *r)
{
  const FwTransferConfig *c = &r->config;
  GString *s = g_string_new (NULL);
  if (!isnan (r->source_accuracy))
    g_string_append_printf (s, "source model: %.1f%% on the source test set after %.1f s of "
                            "pre-training\n", 100 * r->source_accuracy, r->pretrain_seconds);
  if (!isnan (r->zero_shot))
    g_string_append_printf (s, "source model on the target test set, no target label: "
                            "%.1f%%\n", 100 * r->zero_shot);
  g_string_append_printf (s, "test accuracy %% (mean ± sd over %d seeds)\n", c->seeds);
  g_string_append_printf (s, "%-24s", "labels per class");
  for (int i = 0; i < c->n_lpc; i++)
    {
      g_autofree char *h = c->labels_per_class[i] > 0
                             ? g_strdup_printf ("%d", c->labels_per_class[i])
                             : g_strdup ("all");
      g_string_append_printf (s, " %14s", h);
    }
  g_string_append_c (s, '\n');
  for (int m = 0; m < FW_TRANSFER_N_METHODS; m++)
    {
      if (!((c->methods >> m) & 1))
        continue;
      g_string_append_printf (s, "%-24s", fw_transfer_method_title (m));
      for (int i = 0; i < c->n_lpc; i++)
        {
          double mean, sd;
          fw_transfer_result_stats (r, m, c->labels_per_class[i], &mean, &sd, NULL);
          g_autofree char *cell = g_strdup_printf ("%.1f ± %.1f", 100 * mean, 100 * sd);
          g_string_append_printf (s, " %*s", 14 + 1, cell); /* ± is 2 bytes, 1 column */
        }
      g_string_append_c (s, '\n');
    }
  g_string_append (s, "median training seconds (wall time; this machine is shared, so expect noise)\n");
  for (int m = 0; m < FW_TRANSFER_N_METHODS; m++)
    {
      if (!((c->methods >> m) & 1))
        continue;
      g_string_append_printf (s, "%-24s", fw_transfer_method_title (m));
      for (int i = 0; i < c->n_lpc; i++)
        {
          double sec;
          fw_transfer_result_stats (r, m, c->labels_per_class[i], NULL, NULL, &sec);
          g_string_append_printf (s, " %14.2f", sec);
        }
      g_string_append_c (s, '\n');
    }
  return g_string_free (s, FALSE);
}

gboolean
fw_transfer_result_write (const FwTransferResult *r, FwRunDir *rd, GError **error)
{
  g_autofree char *a = results_csv (r);
  g_autofree char *b = curves_csv (r);
  g_autofree char *j = fw_transfer_result_summary_json (r);
  g_autofree char *t = fw_transfer_result_table (r);
  return fw_run_dir_write (rd, "results.csv", a, -1, error)
         && fw_run_dir_write (rd, "curves.csv", b, -1, error)
         && fw_run_dir_write (rd, "summary.json", j, -1, error)
         && fw_run_dir_write (rd, "table.txt", t, -1, error)
         && (r->source_model == NULL
             || fw_run_dir_save_model (rd, "source.safetensors", r->source_model, NULL, NULL,
                                       error));
}
