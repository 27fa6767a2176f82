/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-lecture-demos.c: the lecture demos as one job: each demo kind fills figure panels from
 * the engine's own routines (training, augmentation, noise curves, embeddings). */
#include "fw-lecture.h"

#include <math.h>
#include <string.h>

#include <cairo.h>
#include <json-glib/json-glib.h>

#include "fw-aug-sweep.h"
#include "fw-augment.h"
#include "fw-embed.h"
#include "fw-error.h"
#include "fw-features.h"
#include "fw-gemm.h"
#include "fw-noise.h"
#include "fw-robust.h"
#include "fw-util.h"
#include "fw-recipe-ext.h"

typedef struct {
  FwJob *job;
  const FwLecture *l;
  const FwRecipe *r;
  GCancellable *cancellable;
  FwLectureResult *res;
  char *run_dir;
  double t_last_emit;
  /* progress: the current stage maps [0,1] into [lo, hi] */
  double lo, hi;
  gboolean standalone;   /* fw_lecture_plot_files: errors name the file, not a recipe */
} Demo;

/* Where a plot error is: "NAME.ini: [lecture] plot" in a demo, "plot" standalone. */
static char *
plot_where (const Demo *d)
{
  return d->standalone ? g_strdup ("plot") : g_strdup_printf ("%s.ini: [lecture] plot",
                                                              d->l->name);
}

static void
demo_emit (Demo *d, gboolean force)
{
  double now = fw_now ();
  if (d->job == NULL || (!force && now - d->t_last_emit < 0.2))
    return;
  d->t_last_emit = now;
  fw_job_emit_snapshot (d->job, "lecture-result", fw_lecture_result_copy (d->res),
                        (GDestroyNotify) fw_lecture_result_free);
}

static void
demo_progress (Demo *d, double f, int i, int n)
{
  if (d->job != NULL)
    fw_job_progress (d->job, d->lo + (d->hi - d->lo) * CLAMP (f, 0, 1), i, n, 0, 0, NAN, NAN);
}

static void G_GNUC_PRINTF (2, 3)
demo_log (Demo *d, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (d->job != NULL)
    fw_job_log (d->job, "%s", msg);
  else
    g_debug ("%s", msg);
}

static gboolean
check_cancel (GCancellable *c, GError **error)
{
  if (c != NULL && g_cancellable_is_cancelled (c))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_CANCELLED, "cancelled");
      return FALSE;
    }
  return TRUE;
}

/* ---- [lecture] keys of the demos ---- */

static gboolean
key_error (GError **error, const Demo *d, const char *key, const char *v, const char *what)
{
  if (d->standalone)
    g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: '%s' %s", key, v, what);
  else
    g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s.ini: [lecture] %s: '%s' %s",
                 d->l->name, key, v, what);
  return FALSE;
}

static gboolean
get_int (const Demo *d, const char *key, int def, int min, int max, int *out, GError **error)
{
  *out = def;
  g_autofree char *v = g_key_file_get_value (d->l->kf, "lecture", key, NULL);
  if (v == NULL)
    return TRUE;
  g_strstrip (v);
  char *end = NULL;
  gint64 x = g_ascii_strtoll (v, &end, 10);
  if (end == v || *end != '\0' || x < min || x > max)
    {
      g_autofree char *what = g_strdup_printf ("is not an integer in [%d, %d]", min, max);
      return key_error (error, d, key, v, what);
    }
  *out = (int) x;
  return TRUE;
}

static gboolean
get_double (const Demo *d, const char *key, double def, double min, double max, double *out,
            GError **error)
{
  *out = def;
  g_autofree char *v = g_key_file_get_value (d->l->kf, "lecture", key, NULL);
  if (v == NULL)
    return TRUE;
  g_strstrip (v);
  char *end = NULL;
  double x = g_ascii_strtod (v, &end);
  if (end == v || *end != '\0' || !(x >= min && x <= max))
    {
      g_autofree char *what = g_strdup_printf ("is not a number in [%g, %g]", min, max);
      return key_error (error, d, key, v, what);
    }
  *out = x;
  return TRUE;
}

/* "1,2,4" -> doubles in [min, max], at least one, at most 64 */
static GArray *
get_list (const Demo *d, const char *key, const char *def, double min, double max,
          gboolean integers, GError **error)
{
  g_autofree char *v = g_key_file_get_value (d->l->kf, "lecture", key, NULL);
  const char *text = v != NULL ? g_strstrip (v) : def;
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  GArray *a = g_array_new (FALSE, FALSE, sizeof (double));
  for (int i = 0; parts[i] != NULL; i++)
    {
      char *p = g_strstrip (parts[i]), *end = NULL;
      double x = g_ascii_strtod (p, &end);
      if (end == p || *end != '\0' || !(x >= min && x <= max) || (integers && x != floor (x)))
        {
          g_autofree char *what = g_strdup_printf ("has '%s', not a %s in [%g, %g] — write "
                                                   "e.g. %s", p, integers ? "whole number"
                                                   : "number", min, max, def);
          key_error (error, d, key, text, what);
          g_array_unref (a);
          return NULL;
        }
      g_array_append_val (a, x);
    }
  if (a->len < 1 || a->len > 64)
    {
      key_error (error, d, key, text, "needs 1 to 64 values");
      g_array_unref (a);
      return NULL;
    }
  return a;
}

/* ---- data ---- */

static FwDataset *
load_train (Demo *d, GError **error)
{
  const FwRecipe *r = d->r;
  FwRng root, rng;
  fw_rng_init (&root, r->seed);
  fw_rng_split (&root, FW_RNG_DATA, &rng);
  guint64 limit_seed = fw_rng_next (&rng);
  guint64 per_class_seed = fw_rng_next (&rng);

  demo_log (d, "loading %s", r->dataset);
  g_autoptr (GError) local = NULL;
  FwDataset *ds = fw_dataset_load (r->dataset, r->seed, d->cancellable, &local);
  if (ds == NULL)
    {
      g_set_error (error, local->domain, local->code, "%s.ini: [data] dataset = %s: %s",
                   d->l->name, r->dataset, local->message);
      return NULL;
    }
  if (r->train_limit > 0 && r->train_limit < ds->n)
    {
      FwDataset *part = NULL, *rest = NULL;
      fw_dataset_split (ds, (double) r->train_limit / ds->n, limit_seed, &part, &rest);
      fw_dataset_unref (rest);
      fw_dataset_unref (ds);
      ds = part;
    }
  if (r->per_class > 0)
    {
      FwDataset *part = fw_dataset_per_class (ds, r->per_class, per_class_seed, NULL);
      fw_dataset_unref (ds);
      ds = part;
    }
  if (ds == NULL || ds->n < 2)
    {
      g_clear_pointer (&ds, fw_dataset_unref);
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s.ini: [data] fewer than 2 training "
                   "samples — raise train_limit or per_class", d->l->name);
    }
  return ds;
}

static FwDataset *
load_test (Demo *d, GError **error)
{
  const FwRecipe *r = d->r;
  g_autoptr (GError) local = NULL;
  FwDataset *t = NULL;
  if (g_ascii_strcasecmp (r->test, "auto") == 0)
    t = fw_dataset_load_test (r->dataset, r->seed, d->cancellable, &local);
  else if (g_ascii_strcasecmp (r->test, "none") != 0)
    t = fw_dataset_load (r->test, r->seed, d->cancellable, &local);
  if (t == NULL)
    {
      if (local != NULL)
        g_set_error (error, local->domain, local->code, "%s.ini: [data] test = %s: %s",
                     d->l->name, r->test, local->message);
      else
        g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s.ini: [data] test = %s: this demo "
                     "needs a test set — write test = SPEC", d->l->name, r->test);
    }
  return t;
}

/* planar c x h x w -> interleaved h x w x c */
static void
to_hwc (const float *chw, int c, int h, int w, float *hwc)
{
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int k = 0; k < c; k++)
        hwc[(y * w + x) * c + k] = chw[(k * h + y) * w + x];
}

static FwPanel *
images_panel (Demo *d, const FwDataset *ds, const char *step, const char *title)
{
  FwPanel *p = fw_panel_new (d->res, FW_PANEL_IMAGES, step, title);
  p->c = ds->shape.c;
  p->h = ds->shape.h;
  p->w = ds->shape.w;
  return p;
}

static const char *
class_name (const FwDataset *ds, int k)
{
  return ds->class_names != NULL && k >= 0 && k < ds->n_classes ? ds->class_names[k] : "?";
}

/* the first sample of each class (up to 10): what the data looks like */
static void
data_preview (Demo *d, const FwDataset *ds)
{
  FwPanel *p = images_panel (d, ds, "data", ds->name != NULL ? ds->name : "the data");
  gsize sz = fw_dataset_sample_size (ds);
  g_autofree float *hwc = g_new (float, sz);
  int shown = 0;
  for (int k = 0; k < MIN (ds->n_classes, 10); k++)
    for (int i = 0; i < ds->n; i++)
      if (ds->y[i] == k)
        {
          to_hwc (ds->x + (gsize) i * sz, ds->shape.c, ds->shape.h, ds->shape.w, hwc);
          fw_panel_add_image (p, hwc, class_name (ds, k), k);
          shown++;
          break;
        }
  p->columns = MIN (shown, 5);
}

/* ---- train and compare ---- */

typedef struct {
  Demo *d;
  FwPanelSeries *acc, *loss, *val_loss;
  int n_epochs;
  double f0, f1;       /* this run's share of the job's progress */
} TrainHook;

static void
hook_batch (gpointer user, int epoch, int n_epochs, int batch, int n_batches, double loss,
            double acc)
{
  TrainHook *h = user;
  double f = ((epoch - 1) + (double) batch / MAX (n_batches, 1)) / MAX (n_epochs, 1);
  if (h->d->job != NULL)
    fw_job_progress (h->d->job, h->f0 + (h->f1 - h->f0) * f, epoch, n_epochs, batch,
                     n_batches, loss, acc);
}

static void
hook_epoch (gpointer user, const FwEpochMetrics *m)
{
  TrainHook *h = user;
  double acc = !isnan (m->test_acc) ? m->test_acc : m->val_acc;
  if (h->acc != NULL)
    fw_panel_series_append (h->acc, m->epoch, 100.0 * acc, NAN, NAN);
  if (h->loss != NULL)
    fw_panel_series_append (h->loss, m->epoch, m->train_loss, NAN, NAN);
  if (h->val_loss != NULL && !isnan (m->val_loss))
    fw_panel_series_append (h->val_loss, m->epoch, m->val_loss, NAN, NAN);
  if (h->d->job != NULL)
    fw_job_emit_epoch (h->d->job, m);
  demo_emit (h->d, TRUE);
}

static FwPanel *
curves_panel (Demo *d, const char *step, const char *title, const char *xl, const char *xu,
              const char *yl, const char *yu)
{
  FwPanel *p = fw_panel_new (d->res, FW_PANEL_CURVES, step, title);
  p->x_label = g_strdup (xl);
  p->x_unit = g_strdup (xu);
  p->y_label = g_strdup (yl);
  p->y_unit = g_strdup (yu);
  return p;
}

/* Runs recipe r (a variant of the demo's) into run_dir/sub with the hooks. */
static FwRunResult *
train_run (Demo *d, const FwRecipe *base, const char *sub, TrainHook *h, GError **error)
{
  g_autoptr (FwRecipe) r = fw_recipe_copy (base);
  g_free (r->out_dir);
  r->out_dir = g_build_filename (d->run_dir, sub, NULL);
  r->save_model = TRUE;
  FwTrainHooks hooks = { hook_batch, hook_epoch, h };
  h->n_epochs = r->train.epochs;
  FwRunResult *run = fw_recipe_run_sync (r, &hooks, d->cancellable, error);
  if (run != NULL && run->run_dir != NULL)
    {
      FwLectureModel *m = g_new0 (FwLectureModel, 1);
      m->name = g_strdup_printf ("%s%s%s", d->l->name, h->acc != NULL && h->acc->name != NULL
                                 && strcmp (h->acc->name, "test") != 0 ? ": " : "",
                                 h->acc != NULL && h->acc->name != NULL
                                 && strcmp (h->acc->name, "test") != 0 ? h->acc->name : "");
      m->path = g_build_filename (run->run_dir, "model.safetensors", NULL);
      m->accuracy = run->test_eval != NULL ? run->test_eval->accuracy : NAN;
      m->metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
      if (run->metrics != NULL)
        g_array_append_vals (m->metrics, run->metrics->data, run->metrics->len);
      g_ptr_array_add (d->res->models, m);
    }
  return run;
}

static gboolean
demo_train (Demo *d, GError **error)
{
  g_autoptr (FwDataset) ds = load_train (d, error);
  if (ds == NULL)
    return FALSE;
  data_preview (d, ds);
  demo_emit (d, TRUE);

  FwPanel *lp = curves_panel (d, "train", "Loss while training", "epoch", NULL, "loss", NULL);
  FwPanel *ap = curves_panel (d, "curve", "Test accuracy", "epoch", NULL, "accuracy", "%");
  TrainHook h = { d, fw_panel_add_series (ap, "test", 0), fw_panel_add_series (lp, "train", 0),
                  fw_panel_add_series (lp, "validation", 1), 0, 0.0, 1.0 };
  g_autoptr (FwRunResult) run = train_run (d, d->r, "run", &h, error);
  if (run == NULL)
    return FALSE;
  if (run->test_eval != NULL)
    {
      const FwEvalResult *e = run->test_eval;
      FwPanel *m = fw_panel_new (d->res, FW_PANEL_MATRIX, "confusion", "Confusion on the test "
                                 "set");
      m->rows = m->cols = e->n_classes;
      for (int i = 0; i < e->n_classes * e->n_classes; i++)
        {
          double v = (double) e->confusion[i];
          g_array_append_val (m->values, v);
        }
      m->class_names = run->test != NULL ? g_strdupv (run->test->class_names) : NULL;
      m->row_title = g_strdup ("true class");
      m->col_title = g_strdup ("predicted class");
      d->res->summary = g_strdup_printf ("test accuracy %.1f%% after %d epochs",
                                         100.0 * e->accuracy, d->r->train.epochs);
    }
  return TRUE;
}

/* The demo's file with overrides "group.key=value;..." applied, loaded as a recipe (errors
 * name [lecture] `key`). */
static FwRecipe *
variant_recipe (Demo *d, const char *overrides, const char *name, const char *key,
                GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  gsize len = 0;
  g_autofree char *data = g_key_file_to_data (d->l->kf, &len, NULL);
  g_key_file_load_from_data (kf, data, len, G_KEY_FILE_NONE, NULL);
  g_auto (GStrv) ovs = g_strsplit (overrides, ";", -1);
  for (int k = 0; ovs[k] != NULL; k++)
    {
      char *o = g_strstrip (ovs[k]);
      const char *eq = strchr (o, '='), *dot = strchr (o, '.');
      if (*o == '\0')
        continue;
      if (eq == NULL || dot == NULL || dot > eq)
        return key_error (error, d, key, o, "is not group.key=value"), NULL;
      g_autofree char *group = g_strstrip (g_strndup (o, dot - o));
      g_autofree char *k2 = g_strstrip (g_strndup (dot + 1, eq - dot - 1));
      g_autofree char *val = g_strstrip (g_strdup (eq + 1));
      g_key_file_set_value (kf, group, k2, val);
    }
  g_free (data);
  data = g_key_file_to_data (kf, &len, NULL);
  g_autofree char *fname = g_strdup_printf ("%s.ini (%s)", d->l->name, name);
  return fw_recipe_load_data (data, len, fname, error);
}

/* "NAME: group.key=value;... | NAME: ..." */
static gboolean
demo_compare (Demo *d, GError **error)
{
  g_autofree char *v = g_key_file_get_string (d->l->kf, "lecture", "variants", NULL);
  if (v == NULL)
    return key_error (error, d, "variants", "", "is missing — write e.g. variants = CE: "
                      "train.loss=ce | GCE: train.loss=gce");
  g_auto (GStrv) vars = g_strsplit (v, "|", -1);
  guint n = g_strv_length (vars);
  if (n < 1 || n > 8)
    return key_error (error, d, "variants", v, "needs 1 to 8 variants separated by |");

  g_autoptr (FwDataset) ds = load_train (d, error);
  if (ds == NULL)
    return FALSE;
  data_preview (d, ds);
  FwPanel *ap = curves_panel (d, "curve", g_ascii_strcasecmp (d->r->test, "none") == 0
                                          ? "Validation accuracy per variant"
                                          : "Test accuracy per variant", "epoch", NULL,
                              "accuracy", "%");
  demo_emit (d, TRUE);
  GString *summary = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    {
      char *item = g_strstrip (vars[i]);
      const char *colon = strchr (item, ':');
      if (colon == NULL || colon == item)
        {
          g_string_free (summary, TRUE);
          return key_error (error, d, "variants", item, "is not NAME: group.key=value;...");
        }
      g_autofree char *name = g_strstrip (g_strndup (item, colon - item));
      g_autoptr (FwRecipe) r = variant_recipe (d, colon + 1, name, "variants", error);
      if (r == NULL)
        {
          g_string_free (summary, TRUE);
          return FALSE;
        }
      TrainHook h = { d, fw_panel_add_series (ap, name, (int) i), NULL, NULL, 0,
                      (double) i / n, (double) (i + 1) / n };
      g_autofree char *sub = g_strdup_printf ("variant-%u", i + 1);
      demo_log (d, "variant %s", name);
      g_autoptr (FwRunResult) run = train_run (d, r, sub, &h, error);
      if (run == NULL)
        {
          g_string_free (summary, TRUE);
          return FALSE;
        }
      if (run->test_eval != NULL)
        g_string_append_printf (summary, "%s%s %.1f%%", i ? ", " : "", name,
                                100.0 * run->test_eval->accuracy);
    }
  d->res->summary = g_string_free (summary, FALSE);
  return TRUE;
}

/* ---- augmentation ---- */

static gboolean
demo_augment_gallery (Demo *d, gboolean mix, GError **error)
{
  g_autofree char *text = g_key_file_get_string (d->l->kf, "lecture", "pipeline", NULL);
  if (text == NULL)
    text = g_strdup (mix ? "cutmix:p=1" : d->r->augment);
  g_strstrip (text);
  if (*text == '\0')
    return key_error (error, d, "pipeline", "", "is empty — give a pipeline, e.g. "
                      "rotate:deg=15;elastic");
  g_autoptr (GError) local = NULL;
  g_autoptr (FwAugPipeline) pipe = fw_aug_pipeline_parse (text, &local);
  if (pipe == NULL)
    return key_error (error, d, "pipeline", text, local->message);
  int samples, sample;
  if (!get_int (d, "samples", mix ? 6 : 15, 1, 60, &samples, error)
      || !get_int (d, "sample", 0, 0, G_MAXINT, &sample, error))
    return FALSE;
  g_autoptr (FwDataset) ds = load_train (d, error);
  if (ds == NULL)
    return FALSE;
  if (!fw_aug_pipeline_check (pipe, ds->shape.c, &local))
    return key_error (error, d, "pipeline", text, local->message);
  sample = sample % ds->n;
  int c = ds->shape.c, h = ds->shape.h, w = ds->shape.w, k = ds->n_classes;
  gsize sz = fw_dataset_sample_size (ds);
  g_autofree float *img = g_new (float, sz);
  g_autofree float *hwc = g_new (float, sz);
  FwRng root, rng;
  fw_rng_init (&root, d->r->seed);
  fw_rng_split (&root, FW_RNG_AUGMENT, &rng);

  if (!mix)
    {
      FwPanel *p0 = images_panel (d, ds, "image", "The sample");
      to_hwc (ds->x + (gsize) sample * sz, c, h, w, hwc);
      fw_panel_add_image (p0, hwc, class_name (ds, ds->y[sample]), ds->y[sample]);
      g_autofree char *t1 = g_strdup_printf ("%d augmented variants", samples);
      FwPanel *p1 = images_panel (d, ds, "grid", t1);
      p1->columns = 5;
      g_autofree float *scratch = g_new (float, fw_aug_scratch_floats (c, h, w));
      for (int i = 0; i < samples; i++)
        {
          memcpy (img, ds->x + (gsize) sample * sz, sz * sizeof (float));
          fw_aug_apply (pipe, img, c, h, w, &rng, scratch, NULL);
          to_hwc (img, c, h, w, hwc);
          fw_panel_add_image (p1, hwc, NULL, -1);
          demo_progress (d, (double) (i + 1) / samples, i + 1, samples);
        }
      d->res->summary = g_strdup_printf ("%d variants of sample %d (%s) through %s", samples,
                                         sample, class_name (ds, ds->y[sample]), text);
      return TRUE;
    }

  /* pairs: sample i with a seeded partner of another class */
  if (k < 2 || k > 4096)
    return key_error (error, d, "pipeline", text, "needs a dataset of 2 or more classes");
  FwPanel *p0 = images_panel (d, ds, "image", "Pairs");
  p0->columns = 2;
  FwPanel *p1 = images_panel (d, ds, "grid", mix && strstr (text, "mixup") != NULL
                                               ? "Mixed: label weights" : "Cut and pasted: label "
                                               "weights = area shares");
  p1->columns = MIN (samples, 3);
  g_autofree float *batch = g_new (float, 2 * sz);
  g_autofree float *soft = g_new (float, 2 * k);
  g_autofree float *scratch = g_new (float, fw_aug_batch_scratch_floats (2, c, h, w, k));
  for (int i = 0; i < samples; i++)
    {
      int a = (int) fw_rng_below (&rng, ds->n), b = a;
      for (int tries = 0; tries < 100 && ds->y[b] == ds->y[a]; tries++)
        b = (int) fw_rng_below (&rng, ds->n);
      memcpy (batch, ds->x + (gsize) a * sz, sz * sizeof (float));
      memcpy (batch + sz, ds->x + (gsize) b * sz, sz * sizeof (float));
      gint32 y[2] = { ds->y[a], ds->y[b] };
      to_hwc (batch, c, h, w, hwc);
      fw_panel_add_image (p0, hwc, class_name (ds, y[0]), y[0]);
      to_hwc (batch + sz, c, h, w, hwc);
      fw_panel_add_image (p0, hwc, class_name (ds, y[1]), y[1]);
      /* sample 0 of the batch mixes with sample 1 (the only other one) */
      fw_aug_apply_batch (pipe, batch, y, 2, c, h, w, k, &rng, scratch, soft);
      to_hwc (batch, c, h, w, hwc);
      int ya = CLAMP (y[0], 0, k - 1), yb = CLAMP (y[1], 0, k - 1);
      g_autofree char *cap = g_strdup_printf ("%.2f %s + %.2f %s", soft[ya],
                                              class_name (ds, ya), soft[yb],
                                              class_name (ds, yb));
      fw_panel_add_image (p1, hwc, cap, -1);
      demo_progress (d, (double) (i + 1) / samples, i + 1, samples);
    }
  d->res->summary = g_strdup_printf ("%d mixed pairs through %s; each label weight is the "
                                     "share of its image", samples, text);
  return TRUE;
}

typedef struct {
  Demo *d;
  FwPanelSeries *series[FW_AUG_SWEEP_N_PIPELINES];
  GArray *labels;
  int seeds, total, done;
  double *sum, *sum2;  /* [pipeline][label] */
  int *count;
} SweepAcc;

static int
label_index (GArray *labels, int per_class)
{
  for (guint i = 0; i < labels->len; i++)
    if ((int) g_array_index (labels, double, i) == per_class)
      return (int) i;
  return -1;
}

/* series i = mean +- std over the seeds done so far, at every label count measured */
static void
sweep_point (const FwAugSweepPoint *pt, gpointer user)
{
  SweepAcc *s = user;
  int L = (int) s->labels->len, li = label_index (s->labels, pt->per_class);
  if (li < 0)
    return;
  int at = pt->pipeline * L + li;
  s->sum[at] += 100.0 * pt->test_acc;
  s->sum2[at] += 1e4 * pt->test_acc * pt->test_acc;
  s->count[at]++;
  FwPanelSeries *se = s->series[pt->pipeline];
  g_array_set_size (se->x, 0);
  g_array_set_size (se->y, 0);
  g_array_set_size (se->lo, 0);
  g_array_set_size (se->hi, 0);
  for (int j = 0; j < L; j++)
    {
      int q = pt->pipeline * L + j;
      if (s->count[q] == 0)
        continue;
      double m = s->sum[q] / s->count[q];
      double var = s->count[q] > 1 ? MAX (0, s->sum2[q] / s->count[q] - m * m) : 0;
      double sd = sqrt (var);
      fw_panel_series_append (se, g_array_index (s->labels, double, j), m,
                              s->count[q] > 1 ? m - sd : NAN, s->count[q] > 1 ? m + sd : NAN);
    }
  s->done++;
  demo_progress (s->d, (double) s->done / s->total, s->done, s->total);
  demo_emit (s->d, FALSE);
}

static gboolean
demo_augment_sweep (Demo *d, GError **error)
{
  g_autoptr (GArray) labels = get_list (d, "labels", "5,10,20", 1, 100000, TRUE, error);
  int seeds, updates;
  if (labels == NULL || !get_int (d, "seeds", 2, 1, 20, &seeds, error)
      || !get_int (d, "updates", 300, 1, 1000000, &updates, error))
    return FALSE;
  g_autoptr (FwDataset) train = load_train (d, error);
  if (train == NULL)
    return FALSE;
  g_autoptr (FwDataset) test = load_test (d, error);
  if (test == NULL)
    return FALSE;
  data_preview (d, train);
  FwPanel *p = curves_panel (d, "curve", "Augmentation vs labels per class",
                             "labelled samples per class", NULL, "test accuracy", "%");
  SweepAcc s = { d, { 0 }, labels, seeds, 0, 0, NULL, NULL, NULL };
  for (int i = 0; i < FW_AUG_SWEEP_N_PIPELINES; i++)
    {
      s.series[i] = fw_panel_add_series (p, fw_aug_sweep_name (i), i);
      s.series[i]->markers = TRUE;
    }
  int L = (int) labels->len;
  s.total = FW_AUG_SWEEP_N_PIPELINES * L * seeds;
  s.sum = g_new0 (double, FW_AUG_SWEEP_N_PIPELINES * L);
  s.sum2 = g_new0 (double, FW_AUG_SWEEP_N_PIPELINES * L);
  s.count = g_new0 (int, FW_AUG_SWEEP_N_PIPELINES * L);
  g_autofree int *pc = g_new (int, L);
  for (int i = 0; i < L; i++)
    pc[i] = (int) g_array_index (labels, double, i);
  demo_emit (d, TRUE);
  gboolean ok = fw_aug_sweep_run (train, test, pc, L, seeds, updates,
                                  g_strcmp0 (d->r->arch, "custom") == 0 ? NULL : d->r->arch, 0,
                                  sweep_point, &s, d->cancellable, error);
  if (ok)
    {
      int last = L - 1;
      d->res->summary = g_strdup_printf ("at %d labels per class: none %.1f%%, geometric "
                                         "%.1f%%, RandAugment %.1f%%, CutMix %.1f%%", pc[last],
                                         s.sum[0 * L + last] / MAX (s.count[0 * L + last], 1),
                                         s.sum[1 * L + last] / MAX (s.count[1 * L + last], 1),
                                         s.sum[2 * L + last] / MAX (s.count[2 * L + last], 1),
                                         s.sum[3 * L + last] / MAX (s.count[3 * L + last], 1));
    }
  g_free (s.sum);
  g_free (s.sum2);
  g_free (s.count);
  return ok;
}

/* ---- noise ---- */

typedef struct {
  Demo *d;
  GArray *rates, *sizes;
  int seeds;
  double *sum, *sum2;  /* [size][rate] */
  int *count;
  FwPanelSeries **series;  /* per size */
} CurveAcc;

static void
curve_point (gpointer user, const FwNoisePoint *pt)
{
  CurveAcc *c = user;
  int R = (int) c->rates->len, si = -1, ri = -1;
  for (guint i = 0; i < c->sizes->len; i++)
    if ((int) g_array_index (c->sizes, double, i) == pt->size)
      si = (int) i;
  for (guint i = 0; i < c->rates->len; i++)
    if (g_array_index (c->rates, double, i) == pt->rate)
      ri = (int) i;
  if (si < 0)
    si = 0;  /* a size above the training set: all samples, reported as the set's size */
  if (ri < 0)
    return;
  int at = si * R + ri;
  c->sum[at] += 100.0 * pt->test_acc;
  c->sum2[at] += 1e4 * pt->test_acc * pt->test_acc;
  c->count[at]++;
  FwPanelSeries *se = c->series[si];
  g_array_set_size (se->x, 0);
  g_array_set_size (se->y, 0);
  g_array_set_size (se->lo, 0);
  g_array_set_size (se->hi, 0);
  for (int j = 0; j < R; j++)
    {
      int q = si * R + j;
      if (c->count[q] == 0)
        continue;
      double m = c->sum[q] / c->count[q];
      double sd = c->count[q] > 1 ? sqrt (MAX (0, c->sum2[q] / c->count[q] - m * m)) : 0;
      fw_panel_series_append (se, 100.0 * g_array_index (c->rates, double, j), m,
                              c->count[q] > 1 ? m - sd : NAN, c->count[q] > 1 ? m + sd : NAN);
    }
  demo_progress (c->d, (double) (pt->index + 1) / pt->total, pt->index + 1, pt->total);
  demo_emit (c->d, FALSE);
}

static gboolean
demo_noise_curve (Demo *d, gboolean compensate, GError **error)
{
  g_autoptr (GArray) rates = get_list (d, "rates", "0,0.2,0.4,0.6", 0, 0.95, FALSE, error);
  g_autoptr (GArray) sizes = NULL;
  int seeds;
  if (rates == NULL || (sizes = get_list (d, "sizes", "1000,4000", 10, 1e7, TRUE, error)) == NULL
      || !get_int (d, "seeds", 1, 1, 20, &seeds, error))
    return FALSE;
  if (compensate && g_array_index (rates, double, 0) != 0)
    return key_error (error, d, "rates", "", "must start with 0: the clean accuracy is the "
                      "reference");
  for (guint i = 1; i < sizes->len; i++)
    if (g_array_index (sizes, double, i) <= g_array_index (sizes, double, i - 1))
      return key_error (error, d, "sizes", "", "must be increasing");
  g_autoptr (FwDataset) train = load_train (d, error);
  if (train == NULL)
    return FALSE;
  g_autoptr (FwDataset) test = load_test (d, error);
  if (test == NULL)
    return FALSE;
  data_preview (d, train);

  FwNoiseKind kind = FW_NOISE_SYMMETRIC;
  if (g_strcmp0 (d->r->noise_kind, "pair") == 0)
    kind = FW_NOISE_PAIR;
  g_autoptr (FwNoiseCurveConfig) cfg = fw_noise_curve_config_new (train, test);
  int R = (int) rates->len, S = (int) sizes->len;
  cfg->n_rates = R;
  g_free (cfg->rates); /* the defaults of fw_noise_curve_config_new */
  cfg->rates = g_new (double, R);
  memcpy (cfg->rates, rates->data, R * sizeof (double));
  cfg->n_sizes = S;
  g_free (cfg->sizes);
  cfg->sizes = g_new (int, S);
  for (int i = 0; i < S; i++)
    cfg->sizes[i] = (int) g_array_index (sizes, double, i);
  cfg->seeds = seeds;
  cfg->base_seed = d->r->seed;
  cfg->kind = kind;
  g_free (cfg->arch);
  cfg->arch = g_strdup (d->r->arch);
  g_free (cfg->widths);
  cfg->widths = g_strdup (d->r->widths);
  cfg->cfg = d->r->train;
  cfg->threads = MAX (d->r->threads, 1);
  cfg->coteaching = d->r->coteaching;

  FwPanel *p = curves_panel (d, "curve", "Test accuracy vs label noise", "labels flipped", "%",
                             "test accuracy", "%");
  CurveAcc c = { d, rates, sizes, seeds, g_new0 (double, R * S), g_new0 (double, R * S),
                 g_new0 (int, R * S), g_new0 (FwPanelSeries *, S) };
  for (int i = 0; i < S; i++)
    {
      g_autofree char *n = fw_format_count (cfg->sizes[i]);
      g_autofree char *name = g_strdup_printf ("%s training samples", n);
      c.series[i] = fw_panel_add_series (p, name, i);
      c.series[i]->markers = TRUE;
    }
  demo_emit (d, TRUE);
  if (compensate)
    d->hi = 0.95;
  gboolean ok = fw_noise_curve_run (cfg, curve_point, &c, d->cancellable, error);
  if (ok)
    {
      int last = S - 1;
      d->res->summary = g_strdup_printf ("%d samples: clean %.1f%%, %.0f%% noise %.1f%%",
                                         cfg->sizes[last], c.sum[last * R] / MAX (c.count[last * R], 1),
                                         100 * g_array_index (rates, double, R - 1),
                                         c.sum[last * R + R - 1] / MAX (c.count[last * R + R - 1], 1));
    }
  if (ok && compensate)
    {
      g_autofree double *acc = g_new (double, R * S);
      g_autofree double *needed = g_new (double, R);
      g_autofree double *predicted = g_new (double, R);
      for (int i = 0; i < R * S; i++)
        acc[i] = c.count[i] > 0 ? c.sum[i] / c.count[i] / 100.0 : NAN;
      if (fw_noise_size_needed ((const double *) sizes->data, S, (const double *) rates->data, R,
                                acc, needed, predicted))
        {
          FwPanel *q = curves_panel (d, "size", "Training samples needed to match the clean "
                                     "accuracy", "labels flipped", "%", "training samples",
                                     NULL);
          q->log_y = TRUE;
          FwPanelSeries *m = fw_panel_add_series (q, "measured", 0);
          FwPanelSeries *pr = fw_panel_add_series (q, "n0 / (1 - rate)", 1);
          m->markers = TRUE;
          pr->dashed = TRUE;
          for (int r = 0; r < R; r++)
            {
              double x = 100 * g_array_index (rates, double, r);
              if (!isnan (needed[r]))
                fw_panel_series_append (m, x, needed[r], NAN, NAN);
              if (isfinite (predicted[r]))
                fw_panel_series_append (pr, x, predicted[r], NAN, NAN);
            }
        }
    }
  g_free (c.sum);
  g_free (c.sum2);
  g_free (c.count);
  g_free (c.series);
  return ok;
}

static gboolean
demo_sigma_n (Demo *d, GError **error)
{
  double sigma;
  int trials;
  g_autoptr (GArray) ns = get_list (d, "ns", "1,2,4,8,16,32,64,128,256", 1, 1e6, TRUE, error);
  if (ns == NULL || !get_double (d, "sigma", 1.0, 1e-6, 1e6, &sigma, error)
      || !get_int (d, "trials", 2000, 10, 10000000, &trials, error))
    return FALSE;
  int m = (int) ns->len;
  g_autofree int *n = g_new (int, m);
  g_autofree double *mse = g_new (double, m);
  for (int i = 0; i < m; i++)
    n[i] = (int) g_array_index (ns, double, i);
  fw_noise_regression_curve (0.0, sigma, n, m, trials, d->r->seed, mse);
  FwPanel *p = curves_panel (d, "curve", "Averaging N noisy labels of the same sample",
                             "labels averaged, log2 N", NULL, "squared error of the mean",
                             NULL);
  p->log_y = TRUE;
  FwPanelSeries *meas = fw_panel_add_series (p, "measured", 0);
  FwPanelSeries *th = fw_panel_add_series (p, "sigma^2 / N", 1);
  meas->markers = TRUE;
  th->dashed = TRUE;
  for (int i = 0; i < m; i++)
    {
      fw_panel_series_append (meas, log2 (n[i]), mse[i], NAN, NAN);
      fw_panel_series_append (th, log2 (n[i]), sigma * sigma / n[i], NAN, NAN);
    }
  d->res->summary = g_strdup_printf ("sigma = %g: squared error %.4g at N = 1, %.4g at N = %d "
                                     "(theory %.4g)", sigma, mse[0], mse[m - 1], n[m - 1],
                                     sigma * sigma / n[m - 1]);
  return TRUE;
}

static gboolean
demo_noise_embed (Demo *d, GError **error)
{
  int points;
  if (!get_int (d, "points", 600, 10, 5000, &points, error))
    return FALSE;
  g_autoptr (FwDataset) train = load_train (d, error);
  if (train == NULL)
    return FALSE;
  FwNoiseKind kind = FW_NOISE_SYMMETRIC;
  fw_noise_kind_from_string (d->r->noise_kind, &kind);
  if (kind == FW_NOISE_NONE)
    kind = FW_NOISE_SYMMETRIC;
  FwRng root, rng;
  fw_rng_init (&root, d->r->seed);
  fw_rng_split (&root, FW_RNG_NOISE, &rng);
  g_autoptr (FwNoisyLabels) nl = fw_noise_apply_kind (train, kind, d->r->noise_rate,
                                                      d->r->noise_matrix, fw_rng_next (&rng),
                                                      error);
  if (nl == NULL)
    return FALSE;
  demo_log (d, "%d of %d training labels flipped", nl->n_flipped, nl->n);

  /* a model trained on the noisy labels (no validation split: every sample is embedded),
   * built as the training job builds it */
  g_autoptr (FwModel) m = fw_recipe_build_model (d->r, d->job, nl->noisy, error);
  if (m == NULL)
    return FALSE;
  FwTrainConfig cfg = d->r->train;
  cfg.seed = d->r->seed;
  FwPanel *lp = curves_panel (d, "train", "Training on noisy labels", "epoch", NULL,
                              "accuracy on the given labels", "%");
  FwPanelSeries *acc = fw_panel_add_series (lp, "train (noisy labels)", 0);
  TrainHook h = { d, NULL, NULL, NULL, cfg.epochs, 0.0, 0.8 };
  FwTrainHooks hooks = { hook_batch, hook_epoch, &h };
  g_autoptr (GArray) metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  demo_emit (d, TRUE);
  if (!fw_train (m, &cfg, nl->noisy, NULL, NULL, &hooks, d->cancellable, metrics, error))
    return FALSE;
  for (guint i = 0; i < metrics->len; i++)
    {
      FwEpochMetrics *e = &g_array_index (metrics, FwEpochMetrics, i);
      fw_panel_series_append (acc, e->epoch, 100.0 * e->train_acc, NAN, NAN);
    }

  /* PCA of the last hidden layer's features of a seeded choice of training points */
  g_autofree gint32 *idx = g_new (gint32, MIN (points, train->n));
  int n = fw_features_pick (nl->noisy, points, d->r->seed, idx);
  int layer = m->n_layers - 2 >= 0 ? m->n_layers - 2 : 0;
  g_autoptr (FwFeatures) f = fw_features_layer (m, layer, nl->noisy, idx, n, 256,
                                                d->cancellable, error);
  if (f == NULL)
    return FALSE;
  FwPca *pca = fw_pca_fit (f->x, f->n, f->d, 2, error);
  if (pca == NULL)
    return FALSE;
  g_autofree float *y = g_new (float, 2 * (gsize) n);
  fw_pca_transform (pca, f->x, n, y);
  fw_pca_free (pca);
  FwPanel *p1 = fw_panel_new (d->res, FW_PANEL_POINTS, "embed", "Features coloured by the "
                              "given label");
  FwPanel *p2 = fw_panel_new (d->res, FW_PANEL_POINTS, "noisy", "Flipped labels (coloured), "
                              "clean (grey)");
  p1->class_names = g_strdupv (train->class_names);
  p2->class_names = g_strdupv (train->class_names);
  int flipped = 0;
  for (int i = 0; i < n; i++)
    {
      int j = idx[i];
      int given = nl->noisy->y[j];
      int grey = nl->y_true[j] == given ? -1 : given;
      flipped += grey >= 0;
      g_array_append_vals (p1->xy, y + 2 * i, 2);
      g_array_append_vals (p2->xy, y + 2 * i, 2);
      g_array_append_val (p1->classes, given);
      g_array_append_val (p2->classes, grey);
    }
  d->res->summary = g_strdup_printf ("%d points, %d with a flipped label: they sit in the "
                                     "cluster of their true class", n, flipped);
  return TRUE;
}

/* ---- a feature's own job (a recipe extension): its run folder becomes the figure ---- */

/* One plot of a CSV the feature wrote ([lecture] plot): column x against column y, one series
 * per value of column `series` (or one series), mean +- std over rows sharing (series, x) (the
 * seeds). A non-numeric x puts each value at 1, 2, 3 ... in file order with its own series. */
typedef struct {
  char *file, *x, *y, *series, *title;
  gboolean log_y;
  gboolean each_row;   /* every row its own point (a run's sequence with repeated x), not
                        * rows with equal x averaged (seeds) */
  gboolean last;       /* the last row of each (series, x) only, e.g. a run's final point */
} PlotSpec;

static void
plot_spec_clear (PlotSpec *p)
{
  g_free (p->file);
  g_free (p->x);
  g_free (p->y);
  g_free (p->series);
  g_free (p->title);
}

/* "FILE: x=COL, y=COL, series=COL, title=TEXT, log_y" */
static gboolean
parse_plot (Demo *d, const char *text, PlotSpec *p, GError **error)
{
  memset (p, 0, sizeof *p);
  const char *colon = strchr (text, ':');
  if (colon == NULL)
    return key_error (error, d, "plot", text, "is not FILE: x=COLUMN, y=COLUMN[, series=COLUMN]"
                      "[, title=TEXT][, log_y][, each_row][, last]");
  p->file = g_strstrip (g_strndup (text, colon - text));
  if (*p->file == '\0' || strchr (p->file, '/') != NULL || p->file[0] == '.')
    return key_error (error, d, "plot", text, "needs a file name of the run folder");
  g_auto (GStrv) opts = g_strsplit (colon + 1, ",", -1);
  for (int i = 0; opts[i] != NULL; i++)
    {
      char *o = g_strstrip (opts[i]);
      if (*o == '\0')
        continue;
      if (strcmp (o, "log_y") == 0)
        {
          p->log_y = TRUE;
          continue;
        }
      if (strcmp (o, "each_row") == 0)
        {
          p->each_row = TRUE;
          continue;
        }
      if (strcmp (o, "last") == 0)
        {
          p->last = TRUE;
          continue;
        }
      char *eq = strchr (o, '=');
      if (eq == NULL)
        return key_error (error, d, "plot", o, "is not KEY=VALUE (x, y, series, title), log_y, "
                          "each_row or last");
      *eq = '\0';
      char *k = g_strstrip (o), *v = g_strstrip (eq + 1);
      char **slot = strcmp (k, "x") == 0 ? &p->x : strcmp (k, "y") == 0 ? &p->y
                    : strcmp (k, "series") == 0 ? &p->series
                    : strcmp (k, "title") == 0 ? &p->title : NULL;
      if (slot == NULL)
        return key_error (error, d, "plot", k, "is not one of x, y, series, title, log_y, "
                          "each_row, last");
      g_free (*slot);
      *slot = g_strdup (v);
    }
  if (p->x == NULL || p->y == NULL)
    return key_error (error, d, "plot", text, "needs x=COLUMN and y=COLUMN");
  return TRUE;
}

static int
column_of (GStrv head, const char *name)
{
  for (int i = 0; head[i] != NULL; i++)
    if (strcmp (g_strstrip (head[i]), name) == 0)
      return i;
  return -1;
}

typedef struct {
  double sum, sum2;
  int n;
} Acc;

/* A CSV column name as axis words: "test_acc" -> "test accuracy", "n_labels" -> "labels",
 * "params" -> "parameters". */
static char *
column_words (const char *col)
{
  g_auto (GStrv) w = g_strsplit (col, "_", -1);
  g_autoptr (GString) s = g_string_new (NULL);
  for (int i = 0; w[i] != NULL; i++)
    {
      const char *t = w[i];
      if (*t == '\0' || (i == 0 && strcmp (t, "n") == 0 && w[1] != NULL))
        continue;
      t = strcmp (t, "acc") == 0 ? "accuracy" : strcmp (t, "params") == 0 ? "parameters"
          : strcmp (t, "conf") == 0 ? "confidence" : t;
      g_string_append_printf (s, "%s%s", s->len > 0 ? " " : "", t);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static gboolean
plot_panel (Demo *d, const char *dir, const PlotSpec *ps, const char *step, GError **error)
{
  g_autofree char *path = g_build_filename (dir, ps->file, NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL) || !g_utf8_validate (text, -1, NULL))
    {
      g_autofree char *where = plot_where (d);
      g_set_error (error, FW_ERROR, FW_ERROR_NOT_FOUND, "%s: no readable %s in %s%s", where,
                   ps->file, dir, d->standalone ? "" : " (the feature's run folder)");
      return FALSE;
    }
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  /* "# ..." lines are block titles: they name the series of the rows below them */
  int first = 0;
  while (lines[first] != NULL && lines[first][0] == '#')
    first++;
  g_auto (GStrv) head = g_strsplit (lines[first] != NULL ? lines[first] : "", ",", -1);
  int cx = column_of (head, ps->x), cy = column_of (head, ps->y);
  int cs = ps->series != NULL ? column_of (head, ps->series) : -1;
  if (cx < 0 || cy < 0 || (ps->series != NULL && cs < 0))
    {
      g_autofree char *where = plot_where (d);
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: %s has no "
                   "column '%s' — its columns: %s", where, ps->file,
                   cx < 0 ? ps->x : cy < 0 ? ps->y : ps->series,
                   lines[first] != NULL ? lines[first] : "");
      return FALSE;
    }
  /* series name -> (x key -> Acc), in first-seen order */
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) xs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  g_autoptr (GPtrArray) accs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  g_autoptr (GPtrArray) cats = g_ptr_array_new_with_free_func (g_free);  /* categorical x */
  gboolean categorical = FALSE;
  g_autofree char *block = first > 0 ? g_strstrip (g_strdup (lines[first - 1] + 1)) : NULL;
  for (int i = first + 1; lines[i] != NULL; i++)
    {
      if (*g_strstrip (lines[i]) == '\0')
        continue;
      if (lines[i][0] == '#')
        {
          g_free (block);
          block = g_strstrip (g_strdup (lines[i] + 1));
          continue;
        }
      g_auto (GStrv) cells = g_strsplit (lines[i], ",", -1);
      int n = (int) g_strv_length (cells);
      if (cx >= n || cy >= n || cs >= n)
        continue;
      char *end = NULL;
      double y = g_ascii_strtod (g_strstrip (cells[cy]), &end);
      if (end == cells[cy] || !isfinite (y))
        continue;
      const char *xv = g_strstrip (cells[cx]);
      double x = g_ascii_strtod (xv, &end);
      if (end == xv || *end != '\0')
        categorical = TRUE;
      const char *sname = cs >= 0 ? g_strstrip (cells[cs]) : block != NULL ? block : ps->y;
      if (categorical)
        {
          /* each category its own series at its position */
          guint k = 0;
          while (k < cats->len && strcmp (g_ptr_array_index (cats, k), xv) != 0)
            k++;
          if (k == cats->len)
            g_ptr_array_add (cats, g_strdup (xv));
          x = k + 1;
          sname = xv;
        }
      guint si = 0;
      while (si < names->len && strcmp (g_ptr_array_index (names, si), sname) != 0)
        si++;
      if (si == names->len)
        {
          if (names->len >= 10)
            continue;
          g_ptr_array_add (names, g_strdup (sname));
          g_ptr_array_add (xs, g_array_new (FALSE, FALSE, sizeof (double)));
          g_ptr_array_add (accs, g_array_new (FALSE, TRUE, sizeof (Acc)));
        }
      GArray *sx = g_ptr_array_index (xs, si), *sa = g_ptr_array_index (accs, si);
      guint j = 0;
      while (j < sx->len && (ps->each_row || g_array_index (sx, double, j) != x))
        j++;
      if (j == sx->len)
        {
          Acc zero = { 0, 0, 0 };
          g_array_append_val (sx, x);
          g_array_append_val (sa, zero);
        }
      Acc *a = &g_array_index (sa, Acc, j);
      if (ps->last)
        a->sum = a->sum2 = 0, a->n = 0;
      a->sum += y;
      a->sum2 += y * y;
      a->n++;
    }
  if (names->len == 0)
    {
      g_autofree char *where = plot_where (d);
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: %s has no rows with numbers in '%s'",
                   where, ps->file, ps->y);
      return FALSE;
    }
  /* axis titles in words; accuracies stored as fractions are shown in % (unless x is a
   * fraction too, as in a reliability diagram) */
  g_autofree char *xw = column_words (ps->x), *yw = column_words (ps->y);
  gboolean percent = strstr (yw, "accuracy") != NULL && strstr (xw, "accuracy") == NULL
                     && strstr (xw, "confidence") == NULL;
  for (guint si = 0; si < names->len && percent; si++)
    {
      GArray *sa = g_ptr_array_index (accs, si);
      for (guint j = 0; j < sa->len && percent; j++)
        {
          const Acc *a = &g_array_index (sa, Acc, j);
          percent = a->sum / a->n >= 0 && a->sum / a->n <= 1;
        }
    }
  double scale = percent ? 100.0 : 1.0;
  FwPanel *p = curves_panel (d, step, ps->title != NULL ? ps->title : yw,
                             categorical ? NULL : xw, NULL, yw, percent ? "%" : NULL);
  p->log_y = ps->log_y;
  if (categorical)
    {
      /* one point per category at 1, 2, ...: room around them */
      p->categorical = TRUE;
      p->x_min = 0.5;
      p->x_max = cats->len + 0.5;
    }
  for (guint si = 0; si < names->len; si++)
    {
      FwPanelSeries *se = fw_panel_add_series (p, g_ptr_array_index (names, si), (int) si);
      GArray *sx = g_ptr_array_index (xs, si), *sa = g_ptr_array_index (accs, si);
      se->markers = sx->len <= 30;
      /* points in increasing x */
      g_autofree guint *order = g_new (guint, sx->len);
      for (guint j = 0; j < sx->len; j++)
        order[j] = j;
      for (guint a = 1; a < sx->len; a++)
        for (guint b = a; b > 0 && g_array_index (sx, double, order[b - 1])
                                     > g_array_index (sx, double, order[b]); b--)
          {
            guint t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
          }
      for (guint j = 0; j < sx->len; j++)
        {
          const Acc *a = &g_array_index (sa, Acc, order[j]);
          double m = a->sum / a->n;
          double sd = a->n > 1 ? sqrt (MAX (0, a->sum2 / a->n - m * m)) : NAN;
          m *= scale;
          sd *= scale;
          fw_panel_series_append (se, g_array_index (sx, double, order[j]), m,
                                  a->n > 1 ? m - sd : NAN, a->n > 1 ? m + sd : NAN);
        }
    }
  return TRUE;
}

static gboolean
demo_ext (Demo *d, GError **error)
{
  const FwRecipeExt *ext = fw_recipe_ext_of (d->r);
  if (ext == NULL || ext->run == NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s.ini: [lecture] demo = ext: the recipe "
                   "has no feature group with a job (such as [prune]) — add one or choose "
                   "another demo kind", d->l->name);
      return FALSE;
    }
  if (d->job == NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: a feature demo runs as a job "
                   "(frugal lecture run, or the Lecture page)", d->l->name);
      return FALSE;
    }
  g_autoptr (FwRecipe) r = fw_recipe_copy (d->r);
  g_free (r->out_dir);
  /* a folder no earlier run of the demo left behind: some jobs put their files beside an
   * existing folder ("work-2"), and the figure must read this run's tables, not stale ones */
  r->out_dir = g_build_filename (d->run_dir, "work", NULL);
  for (int i = 2; g_file_test (r->out_dir, G_FILE_TEST_EXISTS) && i < 10000; i++)
    {
      g_free (r->out_dir);
      g_autofree char *name = g_strdup_printf ("work-%d", i);
      r->out_dir = g_build_filename (d->run_dir, name, NULL);
    }
  /* pretrain = GROUP.KEY: overrides — a model trained first from the base groups with the
   * overrides (a teacher, say), its file given to the feature as GROUP.KEY */
  g_autofree char *pre = g_key_file_get_string (d->l->kf, "lecture", "pretrain", NULL);
  if (pre != NULL && *g_strstrip (pre) != '\0')
    {
      const char *colon = strchr (pre, ':');
      g_autofree char *target = g_strstrip (g_strndup (pre, colon != NULL ? colon - pre
                                                                      : (long) strlen (pre)));
      const char *dot = strchr (target, '.');
      if (dot == NULL || strncmp (target, ext->group, dot - target) != 0
          || strlen (ext->group) != (gsize) (dot - target))
        return key_error (error, d, "pretrain", pre, "must start with the feature's own key, "
                          "e.g. distill.teacher: model.widths=512");
      g_autoptr (FwRecipe) base = variant_recipe (d, colon != NULL ? colon + 1 : "",
                                                  "pre-trained model", "pretrain", error);
      if (base == NULL)
        return FALSE;
      g_autofree char *ptitle = g_strdup_printf ("Training the %s", dot + 1);
      FwPanel *lp = curves_panel (d, d->l->steps[0], ptitle, "epoch", NULL, "accuracy", "%");
      TrainHook h = { d, fw_panel_add_series (lp, "test", 0), NULL, NULL, 0, 0.0, 0.4 };
      demo_log (d, "training the model for %s first", target);
      g_autoptr (FwRunResult) run = train_run (d, base, "pretrained", &h, error);
      if (run == NULL)
        return FALSE;
      g_autofree char *model = g_build_filename (run->run_dir, "model.safetensors", NULL);
      fw_recipe_ext_set (r, ext->group, dot + 1, model);
      g_ptr_array_set_size (d->res->models, 0);   /* the helper model stays off the shelf */
    }
  demo_log (d, "%s: the feature's own job", ext->title);
  if (!ext->run (d->job, r, d->cancellable, error))
    return FALSE;
  /* the figure: [lecture] plot lists the tables to draw, one panel each (step by step) */
  g_autofree char *plots = g_key_file_get_string (d->l->kf, "lecture", "plot", NULL);
  if (plots == NULL || *g_strstrip (plots) == '\0')
    return key_error (error, d, "plot", "", "is missing — name the run folder's tables to draw, "
                      "e.g. plot = curves.csv: x=n_labels, y=test_acc, series=strategy");
  g_auto (GStrv) items = g_strsplit (plots, "|", -1);
  int n_steps = (int) g_strv_length (d->l->steps);
  for (int i = 0; items[i] != NULL; i++)
    {
      PlotSpec ps;
      gboolean ok = parse_plot (d, g_strstrip (items[i]), &ps, error)
                    && plot_panel (d, r->out_dir, &ps, d->l->steps[MIN (i, n_steps - 1)], error);
      plot_spec_clear (&ps);
      if (!ok)
        return FALSE;
    }
  d->res->summary = g_strdup_printf ("%s: run folder %s", ext->title, r->out_dir);
  return TRUE;
}

FwLectureResult *
fw_lecture_plot_files (const char *const *specs, GError **error)
{
  g_autoptr (FwLectureResult) res = fw_lecture_result_new ();
  FwLecture l = { 0 };
  l.name = (char *) "plot";
  Demo d = { .l = &l, .res = res, .standalone = TRUE };
  for (int i = 0; specs != NULL && specs[i] != NULL; i++)
    {
      /* "DIR/FILE.csv: opts" -> the folder, and "FILE.csv: opts" for the lecture syntax */
      const char *colon = strchr (specs[i], ':');
      if (colon == NULL)
        {
          key_error (error, &d, "plot", specs[i], "is not FILE.csv: x=COLUMN, y=COLUMN[, "
                     "series=COLUMN][, title=TEXT][, log_y][, each_row][, last]");
          return NULL;
        }
      g_autofree char *file = g_strstrip (g_strndup (specs[i], colon - specs[i]));
      g_autofree char *dir = g_path_get_dirname (file), *base = g_path_get_basename (file);
      g_autofree char *text = g_strdup_printf ("%s:%s", base, colon + 1);
      PlotSpec ps;
      gboolean ok = parse_plot (&d, text, &ps, error)
                    && plot_panel (&d, dir, &ps, "plot", error);
      plot_spec_clear (&ps);
      if (!ok)
        return NULL;
    }
  if (res->panels->len == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "plot: give at least one FILE.csv: "
                   "x=COLUMN, y=COLUMN");
      return NULL;
    }
  return g_steal_pointer (&res);
}

/* ---- the job ---- */

static char *
default_dir (const FwLecture *l)
{
  const char *root = g_getenv ("FW_RUNS_DIR");
  g_autofree char *name = g_strdup_printf ("lecture-%s", l->name);
  return g_build_filename (root != NULL && *root ? root : "runs", name, NULL);
}

static gboolean
write_text (const char *dir, const char *name, const char *text, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) local = NULL;
  if (!g_file_set_contents (path, text, -1, &local))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "%s: %s — choose a writable [output] dir",
                   path, local->message);
      return FALSE;
    }
  return TRUE;
}

static char *
summary_json (const Demo *d)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "lecture");
  json_builder_add_string_value (b, d->l->name);
  json_builder_set_member_name (b, "title");
  json_builder_add_string_value (b, d->l->title);
  json_builder_set_member_name (b, "demo");
  json_builder_add_string_value (b, d->l->demo);
  json_builder_set_member_name (b, "reduced");
  json_builder_add_boolean_value (b, d->l->reduced);
  json_builder_set_member_name (b, "seed");
  json_builder_add_int_value (b, (gint64) d->r->seed);
  json_builder_set_member_name (b, "threads");
  json_builder_add_int_value (b, d->r->threads);
  json_builder_set_member_name (b, "panels");
  json_builder_add_int_value (b, d->res->panels->len);
  json_builder_set_member_name (b, "summary");
  json_builder_add_string_value (b, d->res->summary != NULL ? d->res->summary : "");
  json_builder_end_object (b);
  g_autoptr (JsonGenerator) g = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (g, root);
  json_generator_set_pretty (g, TRUE);
  return json_generator_to_data (g, NULL);
}

static FwLectureResult *
lecture_run (FwJob *job, const FwLecture *l, GCancellable *cancellable, GError **error)
{
  if (!l->available || l->recipe == NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_NOT_FOUND, "%s: %s", l->title,
                   l->unavailable != NULL ? l->unavailable : "not available");
      return NULL;
    }
  g_autoptr (FwLectureResult) res = fw_lecture_result_new ();
  Demo d = { job, l, l->recipe, cancellable, res, NULL, 0, 0.0, 1.0 };
  d.run_dir = l->recipe->out_dir != NULL && *l->recipe->out_dir != '\0'
                ? g_strdup (l->recipe->out_dir) : default_dir (l);
  if (g_mkdir_with_parents (d.run_dir, 0755) != 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "%s: cannot create the run folder — choose a "
                   "writable [output] dir", d.run_dir);
      g_free (d.run_dir);
      return NULL;
    }
  fw_blas_set_threads (MAX (l->recipe->threads, 1));
  demo_log (&d, "lecture demo %s (%s)%s", l->name, l->demo, l->reduced ? ", reduced" : "");

  gboolean ok;
  const char *k = l->demo;
  if (strcmp (k, "train") == 0)
    ok = demo_train (&d, error);
  else if (strcmp (k, "compare") == 0)
    ok = demo_compare (&d, error);
  else if (strcmp (k, "augment-gallery") == 0)
    ok = demo_augment_gallery (&d, FALSE, error);
  else if (strcmp (k, "cutmix") == 0)
    ok = demo_augment_gallery (&d, TRUE, error);
  else if (strcmp (k, "augment-sweep") == 0)
    ok = demo_augment_sweep (&d, error);
  else if (strcmp (k, "noise-curve") == 0)
    ok = demo_noise_curve (&d, FALSE, error);
  else if (strcmp (k, "size-compensation") == 0)
    ok = demo_noise_curve (&d, TRUE, error);
  else if (strcmp (k, "sigma-n") == 0)
    ok = demo_sigma_n (&d, error);
  else if (strcmp (k, "noise-embed") == 0)
    ok = demo_noise_embed (&d, error);
  else if (strcmp (k, "ext") == 0)
    ok = demo_ext (&d, error);
  else
    ok = (g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s.ini: [lecture] demo = %s is not "
                       "in this build", l->name, k), FALSE);
  if (ok)
    ok = check_cancel (cancellable, error);
  if (ok)
    {
      g_autofree char *csv = fw_lecture_result_metrics_csv (res);
      g_autofree char *json = summary_json (&d);
      g_autofree char *ini = g_key_file_to_data (l->kf, NULL, NULL);
      ok = write_text (d.run_dir, "metrics.csv", csv, error)
           && write_text (d.run_dir, "summary.json", json, error)
           && write_text (d.run_dir, "lecture.ini", ini, error);
    }
  if (ok)
    res->run_dir = g_strdup (d.run_dir);
  g_free (d.run_dir);
  return ok ? g_steal_pointer (&res) : NULL;
}

FwLectureResult *
fw_lecture_run_sync (const FwLecture *l, GCancellable *cancellable, GError **error)
{
  return lecture_run (NULL, l, cancellable, error);
}

gboolean
fw_lecture_job_run (FwJob *job, gpointer lecture, GCancellable *cancellable, GError **error)
{
  FwLectureResult *res = lecture_run (job, lecture, cancellable, error);
  if (res == NULL)
    return FALSE;
  fw_job_progress (job, 1.0, 0, 0, 0, 0, NAN, NAN);
  fw_job_emit_snapshot (job, "lecture-result", res, (GDestroyNotify) fw_lecture_result_free);
  return TRUE;
}
