/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-faults: fault injection. A disk that fills up and a read-only folder while a model or a
 * run folder is saved (the previous file stays intact, no partial file), dataset files
 * truncated or deleted around a job, cancellation at random points of every job kind (no
 * partial folder), a NaN injected into a gradient (a clear message, parameters untouched).
 *
 * The disk faults run in a subprocess: as root in a private mount namespace on a tiny tmpfs
 * (full disk: size=64k; read-only: remounted ro); otherwise with RLIMIT_FSIZE (full disk)
 * and a chmod 0555 folder (read-only). The messages a user would see are printed with
 * g_test_message (run with --verbose to read them). */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "fw-error.h"
#include "fw-job.h"
#include "fw-recipe-ext.h"
#include "fw-recipe.h"
#include "fw-run-dir.h"
#include "fw-safetensors.h"
#include "fw-test-util.h"
#include "fw-train.h"

/* ---- helpers ---- */

static FwModel *
tiny_model (int hidden, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *spec = g_strdup_printf ("flatten,dense:%d,relu,dense:3", hidden);
  FwModel *m = fw_model_new ("custom", spec, (FwShape) { 1, 4, 4 }, &error);
  g_assert_no_error (error);
  fw_model_init (m, seed);
  return m;
}

static GBytes *
read_bytes (const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (path, &data, &len, &error));
  return g_bytes_new_take (g_steal_pointer (&data), len);
}

/* Every entry under dir (recursive, relative paths, sorted), one per line. */
static void
list_into (const char *dir, const char *rel, GPtrArray *out)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *e;
  while (d && (e = g_dir_read_name (d)))
    {
      g_autofree char *p = g_build_filename (dir, e, NULL);
      char *r = rel ? g_build_filename (rel, e, NULL) : g_strdup (e);
      g_ptr_array_add (out, r);
      if (g_file_test (p, G_FILE_TEST_IS_DIR))
        list_into (p, r, out);
    }
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static char *
listing (const char *dir)
{
  g_autoptr (GPtrArray) a = g_ptr_array_new_with_free_func (g_free);
  list_into (dir, NULL, a);
  g_ptr_array_sort (a, cmp_str);
  g_ptr_array_add (a, NULL);
  return g_strjoinv ("\n", (char **) a->pdata);
}

/* No hidden partial/temporary entry anywhere under dir. */
static void
assert_no_partial (const char *dir)
{
  g_autofree char *l = listing (dir);
  g_test_message ("%s holds:\n%s", dir, l);
  g_assert_null (strstr (l, ".partial"));
  g_assert_null (strstr (l, ".goutputstream"));
  g_assert_null (strstr (l, "~"));
  for (char *p = l; p && *p; p = strchr (p, '\n') ? strchr (p, '\n') + 1 : NULL)
    {
      const char *base = p;
      for (const char *q = p; *q && *q != '\n'; q++)
        if (*q == '/')
          base = q + 1;
      g_assert_cmpint (base[0], !=, '.'); /* no hidden temporary file */
    }
}

typedef enum { DISK_FULL, DISK_READ_ONLY } DiskFault;

/* In a test subprocess: makes dir a small tmpfs in a private mount namespace (root), else
 * leaves it as is; returns TRUE when it is a tmpfs. */
static gboolean
private_tmpfs (const char *dir, const char *size)
{
  if (geteuid () != 0 || unshare (CLONE_NEWNS) != 0)
    return FALSE;
  if (mount ("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    return FALSE;
  g_autofree char *opts = g_strdup_printf ("size=%s,mode=0755", size);
  return mount ("tmpfs", dir, "tmpfs", 0, opts) == 0;
}

/* Applies the fault to dir (after the "previous" files were written there). */
static void
apply_fault (const char *dir, DiskFault fault, gboolean tmpfs)
{
  if (fault == DISK_READ_ONLY)
    {
      if (tmpfs)
        g_assert_cmpint (mount ("none", dir, NULL, MS_REMOUNT | MS_RDONLY, NULL), ==, 0);
      else
        g_assert_cmpint (g_chmod (dir, 0555), ==, 0);
    }
  else if (!tmpfs)
    {
      /* no tmpfs: the file size limit stands in for the full disk */
      struct rlimit rl = { 16 * 1024, 16 * 1024 };
      signal (SIGXFSZ, SIG_IGN);
      g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &rl), ==, 0);
    }
  else
    {
      /* fill what is left of the tmpfs but a few KB */
      g_autofree char *filler = g_build_filename (dir, "filler.bin", NULL);
      FILE *f = fopen (filler, "wb");
      g_assert_nonnull (f);
      static const char block[1024];
      while (fwrite (block, 1, sizeof block, f) == sizeof block)
        ;
      fclose (f);
      /* leave 4 KB free: the save starts, then fails mid-way */
      struct stat st;
      g_assert_cmpint (stat (filler, &st), ==, 0);
      g_assert_cmpint (truncate (filler, st.st_size > 4096 ? st.st_size - 4096 : 0), ==, 0);
    }
}

/* ---- saving a model: full disk, read-only folder ---- */

static void
check_model_save_fault (DiskFault fault)
{
  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDOUT | G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  g_autofree char *dir = g_build_filename (fw_test_tmpdir (), "models", NULL);
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  gboolean tmpfs = private_tmpfs (dir, "64k");
  g_printerr ("# fault on %s\n", tmpfs ? "a 64 KB tmpfs" : "a plain folder (not root)");
  g_autofree char *path = g_build_filename (dir, "model.safetensors", NULL);

  g_autoptr (FwModel) v1 = tiny_model (4, 1);
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_model_save (v1, path, NULL, &error));
  g_autoptr (GBytes) before = read_bytes (path);

  apply_fault (dir, fault, tmpfs);
  g_autoptr (FwModel) v2 = tiny_model (600, 2); /* 16*600 floats: 38 KB, more than is free */
  g_assert_false (fw_model_save (v2, path, NULL, &error));
  g_assert_nonnull (error);
  g_printerr ("# user sees: %s\n", error->message);
  g_assert_nonnull (strstr (error->message, "model.safetensors"));

  /* the previous model is intact and still loads; no temporary file is left behind */
  g_autoptr (GBytes) after = read_bytes (path);
  g_assert_true (g_bytes_equal (before, after));
  g_clear_error (&error);
  g_autoptr (FwModel) back = fw_model_load (path, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (back->params, back->n_params * sizeof (float), v1->params,
                   v1->n_params * sizeof (float));
  assert_no_partial (dir);
}

static void
test_save_model_disk_full (void)
{
  check_model_save_fault (DISK_FULL);
}

static void
test_save_model_read_only (void)
{
  check_model_save_fault (DISK_READ_ONLY);
}

/* ---- a training job's run folder: full disk, read-only folder ---- */

static FwRecipe *
sim_recipe (const char *out_dir, int widths, int epochs)
{
  g_autofree char *text = g_strdup_printf (
    "[data]\ndataset = sim:200\nval_fraction = 0.1\ntest = none\n"
    "[model]\narch = mlp\nwidths = %d\n"
    "[train]\nepochs = %d\nbatch = 50\nlr = 0.05\n"
    "[output]\ndir = %s\n"
    "[run]\nseed = 3\nthreads = 1\n", widths, epochs, out_dir);
  g_autoptr (GError) error = NULL;
  FwRecipe *r = fw_recipe_load_data (text, strlen (text), "fault.ini", &error);
  g_assert_no_error (error);
  return r;
}

static void
check_run_dir_fault (DiskFault fault)
{
  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDOUT | G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  g_autofree char *dir = g_build_filename (fw_test_tmpdir (), "runs", NULL);
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  gboolean tmpfs = private_tmpfs (dir, "128k");
  g_autofree char *run = g_build_filename (dir, "run", NULL);

  /* a previous run in the folder: a small model */
  g_autoptr (FwRecipe) small = sim_recipe (run, 2, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRunResult) first = fw_recipe_run_sync (small, NULL, NULL, &error);
  g_assert_no_error (error);
  g_autofree char *model = g_build_filename (run, "model.safetensors", NULL);
  g_autoptr (GBytes) before = read_bytes (model);
  g_autofree char *list_before = listing (run);

  apply_fault (dir, fault, tmpfs);
  /* the same run folder with a bigger model: 784 x 64 floats, 200 KB, cannot fit */
  g_autoptr (FwRecipe) big = sim_recipe (run, 64, 1);
  g_autoptr (FwRunResult) second = fw_recipe_run_sync (big, NULL, NULL, &error);
  g_assert_null (second);
  g_assert_nonnull (error);
  g_printerr ("# user sees: %s\n", error->message);

  g_autoptr (GBytes) after = read_bytes (model);
  g_assert_true (g_bytes_equal (before, after));
  g_autofree char *list_after = listing (run);
  g_assert_cmpstr (list_before, ==, list_after);
  if (fault == DISK_FULL && tmpfs)
    {
      g_autofree char *filler = g_build_filename (dir, "filler.bin", NULL);
      g_unlink (filler);
    }
  assert_no_partial (dir);
}

static void
test_run_dir_disk_full (void)
{
  check_run_dir_fault (DISK_FULL);
}

static void
test_run_dir_read_only (void)
{
  check_run_dir_fault (DISK_READ_ONLY);
}

/* ---- dataset files truncated or deleted ---- */

/* n images of 6x6 (classes i % 3) as IDX files; returns the images path. */
static char *
write_idx (const char *dir, int n)
{
  g_autofree char *img = g_build_filename (dir, "train-images-idx3-ubyte", NULL);
  g_autofree char *lab = g_build_filename (dir, "train-labels-idx1-ubyte", NULL);
  GByteArray *a = g_byte_array_new (), *b = g_byte_array_new ();
  guint8 h[16] = { 0, 0, 8, 3, 0, 0, 0, (guint8) n, 0, 0, 0, 6, 0, 0, 0, 6 };
  guint8 hl[8] = { 0, 0, 8, 1, 0, 0, 0, (guint8) n };
  g_byte_array_append (a, h, 16);
  g_byte_array_append (b, hl, 8);
  for (int i = 0; i < n; i++)
    {
      guint8 y = (guint8) (i % 3);
      g_byte_array_append (b, &y, 1);
      for (int p = 0; p < 36; p++)
        {
          guint8 v = (guint8) ((p % 6 == y * 2) ? 250 : (i * 7 + p) % 40);
          g_byte_array_append (a, &v, 1);
        }
    }
  g_assert_true (g_file_set_contents (img, (char *) a->data, a->len, NULL));
  g_assert_true (g_file_set_contents (lab, (char *) b->data, b->len, NULL));
  g_byte_array_unref (a);
  g_byte_array_unref (b);
  return g_steal_pointer (&img);
}

static FwRecipe *
idx_recipe (const char *images, const char *out_dir, int epochs)
{
  g_autofree char *text = g_strdup_printf (
    "[data]\ndataset = idx:%s\nval_fraction = 0.2\n"
    "[model]\narch = mlp\nwidths = 8\n"
    "[train]\nepochs = %d\nbatch = 10\nlr = 0.05\n"
    "[output]\ndir = %s\n[run]\nthreads = 1\n", images, epochs, out_dir);
  g_autoptr (GError) error = NULL;
  FwRecipe *r = fw_recipe_load_data (text, strlen (text), "idx.ini", &error);
  g_assert_no_error (error);
  return r;
}

static void
test_dataset_truncated (void)
{
  const char *tmp = fw_test_tmpdir ();
  g_autofree char *images = write_idx (tmp, 60);
  g_autofree char *out = g_build_filename (tmp, "run", NULL);
  g_autoptr (FwRecipe) r = idx_recipe (images, out, 1);
  /* truncated after the recipe was opened, before the job reads it */
  g_assert_cmpint (truncate (images, 16 + 36 * 30 + 5), ==, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRunResult) res = fw_recipe_run_sync (r, NULL, NULL, &error);
  g_assert_null (res);
  g_assert_error (error, FW_ERROR, FW_ERROR_FORMAT);
  g_test_message ("user sees: %s", error->message);
  g_assert_nonnull (strstr (error->message, "train-images-idx3-ubyte"));
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  assert_no_partial (tmp);
}

static void
test_dataset_deleted (void)
{
  const char *tmp = fw_test_tmpdir ();
  g_autofree char *images = write_idx (tmp, 60);
  g_autofree char *out = g_build_filename (tmp, "run", NULL);
  g_autoptr (FwRecipe) r = idx_recipe (images, out, 1);
  g_autofree char *labels = g_build_filename (tmp, "train-labels-idx1-ubyte", NULL);
  g_assert_cmpint (g_unlink (labels), ==, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRunResult) res = fw_recipe_run_sync (r, NULL, NULL, &error);
  g_assert_null (res);
  g_assert_error (error, FW_ERROR, FW_ERROR_NOT_FOUND);
  g_test_message ("user sees: %s", error->message);
  g_assert_nonnull (strstr (error->message, "train-labels-idx1-ubyte"));
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
}

/* Files deleted and truncated while the job trains: the data is in memory, the job
 * completes with the same result as an undisturbed run. */
typedef struct {
  char *images, *labels;
  int epochs_seen;
  FwEventKind final;
  FwModel *model;          /* a reference on the result's model (the payload is the event's) */
} Disturb;

static void
disturb_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  Disturb *d = user_data;
  if (ev->kind == FW_EVENT_EPOCH && d->epochs_seen++ == 0)
    {
      g_assert_cmpint (truncate (d->images, 10), ==, 0);
      g_assert_cmpint (g_unlink (d->labels), ==, 0);
    }
  if (ev->kind == FW_EVENT_SNAPSHOT && g_strcmp0 (ev->payload_type, "run") == 0)
    d->model = fw_model_ref (((FwRunResult *) ev->payload)->model);
  if (ev->kind >= FW_EVENT_FINISHED)
    d->final = ev->kind;
}

static void
test_dataset_gone_while_training (void)
{
  const char *tmp = fw_test_tmpdir ();
  g_autofree char *a = g_build_filename (tmp, "a", NULL), *b = g_build_filename (tmp, "b", NULL);
  g_mkdir (a, 0755);
  g_mkdir (b, 0755);
  g_autofree char *ia = write_idx (a, 60), *ib = write_idx (b, 60);
  g_autofree char *oa = g_build_filename (tmp, "run-a", NULL);
  g_autofree char *ob = g_build_filename (tmp, "run-b", NULL);
  g_autoptr (FwRecipe) ra = idx_recipe (ia, oa, 3);
  g_autoptr (FwRecipe) rb = idx_recipe (ib, ob, 3);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRunResult) undisturbed = fw_recipe_run_sync (ra, NULL, NULL, &error);
  g_assert_no_error (error);

  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  Disturb d = { ib, g_build_filename (b, "train-labels-idx1-ubyte", NULL), 0, 0, NULL };
  g_autoptr (FwJob) job = fw_job_runner_submit (runner, "disturbed", fw_recipe_job_run,
                                                fw_recipe_copy (rb),
                                                (GDestroyNotify) fw_recipe_free, NULL,
                                                disturb_event, &d);
  fw_job_wait (job, NULL);
  g_assert_cmpint (d.final, ==, FW_EVENT_FINISHED);
  g_assert_cmpint (d.epochs_seen, ==, 3);
  g_assert_nonnull (d.model);
  /* same data, same seed: the same trained weights as the undisturbed run */
  g_assert_cmpmem (d.model->params, d.model->n_params * sizeof (float),
                   undisturbed->model->params, undisturbed->model->n_params * sizeof (float));
  g_autofree char *m = g_build_filename (ob, "model.safetensors", NULL);
  g_assert_true (g_file_test (m, G_FILE_TEST_IS_REGULAR));
  g_free (d.labels);
  fw_model_unref (d.model);
}

/* ---- cancellation at random points of every job kind ---- */

typedef struct {
  FwEventKind final;
  char *message;
} Outcome;

static void
outcome_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  Outcome *o = user_data;
  if (ev->kind >= FW_EVENT_FINISHED)
    {
      o->final = ev->kind;
      g_free (o->message);
      o->message = g_strdup (ev->error ? ev->error->message : ev->message);
    }
}

/* The .safetensors files a recipe names that do not exist (a distillation teacher, the compare
 * board's models: written by other runs). With supply_dir: each is written there now (a small
 * untrained MLP for the recipe's dataset), the recipe pointed at it, and *supplied counted;
 * returns NULL. Without: returns the first missing path (or NULL). */
static char *
missing_models (FwRecipe *r, const char *supply_dir, int *supplied)
{
  g_autoptr (FwDataset) ds = NULL;
  if (!r->kf)
    return NULL;
  g_auto (GStrv) groups = g_key_file_get_groups (r->kf, NULL);
  for (int g = 0; groups[g]; g++)
    {
      g_auto (GStrv) keys = g_key_file_get_keys (r->kf, groups[g], NULL, NULL);
      for (int k = 0; keys && keys[k]; k++)
        {
          g_autofree char *v = g_key_file_get_value (r->kf, groups[g], keys[k], NULL);
          if (v == NULL || !g_strstr_len (v, -1, ".safetensors"))
            continue;
          /* one path or a list of them ([compare] models) */
          g_auto (GStrv) parts = g_strsplit (v, ",", -1);
          for (int j = 0; parts[j]; j++)
            {
              if (g_file_test (g_strstrip (parts[j]), G_FILE_TEST_EXISTS))
                continue;
              if (supply_dir == NULL)
                return g_strdup (parts[j]);
              g_autoptr (GError) error = NULL;
              if (ds == NULL)
                ds = fw_dataset_load (r->dataset, r->seed, NULL, &error);
              g_assert_no_error (error);
              g_autofree char *spec = g_strdup_printf ("flatten,dense:%d,relu,dense:%d",
                                                       8 + *supplied, ds->n_classes);
              g_autoptr (FwModel) m = fw_model_new ("custom", spec, ds->shape, &error);
              g_assert_no_error (error);
              fw_model_init (m, 1 + *supplied);
              g_free (parts[j]);
              parts[j] = g_strdup_printf ("%s/supplied-%d.safetensors", supply_dir,
                                          (*supplied)++);
              g_assert_true (fw_model_save (m, parts[j], NULL, &error));
            }
          g_autofree char *joined = g_strjoinv (", ", parts);
          g_key_file_set_value (r->kf, groups[g], keys[k], joined);
        }
    }
  return NULL;
}

static void
test_cancel_every_job_kind (void)
{
  const FwRecipeExt *const *exts = fw_recipe_exts ();
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  int n_kinds = 0, n_cancelled = 0;
  for (int i = -1; i < 0 || exts[i]; i++)
    {
      const char *group = i < 0 ? "train" : exts[i]->group;
      FwJobFunc run = i < 0 ? fw_recipe_job_run : exts[i]->run;
      if (!run)
        continue;
      g_autofree char *base = g_build_filename (fw_test_tmpdir (), group, NULL);
      g_autofree char *out = g_build_filename (base, "run", NULL);
      g_mkdir (base, 0755);
      FwRecipe *r = fw_test_small_example_recipe (group, out);
      if (!r)
        {
          g_test_message ("[%s]: no example recipe, not tested", group);
          continue;
        }
      /* distill's teacher, compare's models: supplied (untrained) */
      int supplied = 0;
      g_free (missing_models (r, base, &supplied));
      if (supplied > 0)
        g_test_message ("[%s]: %d model file(s) the example reads were supplied", group,
                        supplied);
      g_autofree char *missing = missing_models (r, NULL, NULL);
      if (missing)
        {
          g_test_message ("[%s]: the example reads %s (written by another run), not tested",
                          group, missing);
          fw_recipe_free (r);
          continue;
        }
      for (int round = 0; round < 2; round++)
        {
          /* a random point: 0 to 400 ms into the job (g_test_rand: --seed reproduces it) */
          int delay_ms = g_test_rand_int_range (0, 400);
          Outcome o = { 0, NULL };
          g_autoptr (FwJob) job = fw_job_runner_submit (runner, group, run, fw_recipe_copy (r),
                                                        (GDestroyNotify) fw_recipe_free, NULL,
                                                        outcome_event, &o);
          gint64 t_end = g_get_monotonic_time () + delay_ms * 1000;
          while (!fw_job_is_done (job) && g_get_monotonic_time () < t_end)
            g_main_context_iteration (NULL, FALSE);
          fw_job_cancel (job);
          fw_job_wait (job, NULL);
          g_test_message ("[%s] cancel after %d ms: %s %s", group, delay_ms,
                          o.final == FW_EVENT_CANCELLED ? "cancelled" :
                          o.final == FW_EVENT_FINISHED ? "finished first" : "FAILED",
                          o.message ? o.message : "");
          if (o.final == FW_EVENT_FAILED)
            g_error ("[%s] failed instead of cancelling: %s", group, o.message);
          g_assert_true (o.final == FW_EVENT_CANCELLED || o.final == FW_EVENT_FINISHED);
          if (o.final == FW_EVENT_CANCELLED)
            {
              n_cancelled++;
              if (g_file_test (out, G_FILE_TEST_EXISTS))
                {
                  g_autofree char *l = listing (out);
                  g_error ("[%s] cancelled, yet its run folder exists:\n%s", group, l);
                }
            }
          assert_no_partial (base);
          /* a finished run's folder is removed so that the next round starts clean */
          fw_test_rm_rf (out);
          g_free (o.message);
        }
      fw_recipe_free (r);
      n_kinds++;
    }
  g_test_message ("%d job kinds, %d cancellations", n_kinds, n_cancelled);
  g_assert_cmpint (n_kinds, >=, 2);
  g_assert_cmpint (n_cancelled, >, 0);
}

/* ---- NaN injected into a gradient ---- */

/* "nangrad": y = g * x with one trainable gain g; its backward writes a NaN gradient on the
 * (iarg[0])-th call (1-based). */
static int nangrad_calls;

static gboolean
nangrad_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  if (!fw_layer_parse_int (l, args, n_args, 0, 1, 1, 100000, &l->iarg[0], error))
    return FALSE;
  l->out = l->in;
  l->n_w = 1;
  return TRUE;
}

static void
nangrad_init (FwLayer *l, FwRng *rng)
{
  l->w[0] = 1.0f;
}

static void
nangrad_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  gsize m = (gsize) n * fw_shape_size (l->in);
  for (gsize i = 0; i < m; i++)
    y[i] = l->w[0] * x[i];
}

static void
nangrad_backward (FwLayer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
  gsize m = (gsize) n * fw_shape_size (l->in);
  double g = 0;
  for (gsize i = 0; i < m; i++)
    {
      g += (double) dy[i] * x[i];
      if (dx)
        dx[i] = l->w[0] * dy[i];
    }
  l->gw[0] = ++nangrad_calls == l->iarg[0] ? NAN : (float) g;
}

static double
nangrad_flops (const FwLayer *l)
{
  return (double) fw_shape_size (l->in);
}

static int
nangrad_tensors (const FwLayer *l, FwTensorInfo *out)
{
  out[0] = (FwTensorInfo) { "gain", TRUE, 0, 1, { 1 } };
  return 1;
}

static char *
nangrad_spec (const FwLayer *l)
{
  return g_strdup_printf ("nangrad:%d", l->iarg[0]);
}

static const FwLayerClass test_nangrad = {
  .name = "nangrad",
  .help = "nangrad:K  test-only gain whose K-th gradient is NaN",
  .setup = nangrad_setup,
  .init = nangrad_init,
  .forward = nangrad_forward,
  .backward = nangrad_backward,
  .flops = nangrad_flops,
  .tensors = nangrad_tensors,
  .spec = nangrad_spec,
};

static void
test_nan_gradient (void)
{
  /* 3 classes of 2-d points, 60 samples, batch 20: 3 batches per epoch; the NaN comes in the
   * 5th backward pass = epoch 2, batch 2 */
  g_autoptr (FwDataset) ds = fw_dataset_new ("nan", 60, (FwShape) { 2, 1, 1 }, 3);
  for (int i = 0; i < 60; i++)
    {
      ds->y[i] = i % 3;
      ds->x[2 * i] = (float) (i % 3) + 0.01f * i;
      ds->x[2 * i + 1] = (float) ((i % 3) * 2 % 3) - 0.01f * i;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new ("custom", "flatten,dense:4,nangrad:5,relu,dense:3",
                                        (FwShape) { 2, 1, 1 }, &error);
  g_assert_no_error (error);
  fw_model_init (m, 5);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 4;
  cfg.batch = 20;
  cfg.lr = 0.01;
  nangrad_calls = 0;
  g_assert_false (fw_train (m, &cfg, ds, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_NUMERIC);
  g_test_message ("user sees: %s", error->message);
  g_assert_nonnull (strstr (error->message, "Gradients became NaN"));
  g_assert_nonnull (strstr (error->message, "epoch 2, batch 2"));
  g_assert_nonnull (strstr (error->message, "layer 3 (nangrad)"));
  /* the NaN never reached the weights */
  for (gsize i = 0; i < m->n_params; i++)
    g_assert_true (isfinite (m->params[i]));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_setenv ("OPENBLAS_NUM_THREADS", "1", TRUE);
  fw_layer_class_register (&test_nangrad);
  g_test_add_func ("/faults/save-model/disk-full", test_save_model_disk_full);
  g_test_add_func ("/faults/save-model/read-only-folder", test_save_model_read_only);
  g_test_add_func ("/faults/run-dir/disk-full", test_run_dir_disk_full);
  g_test_add_func ("/faults/run-dir/read-only-folder", test_run_dir_read_only);
  g_test_add_func ("/faults/dataset/truncated", test_dataset_truncated);
  g_test_add_func ("/faults/dataset/deleted", test_dataset_deleted);
  g_test_add_func ("/faults/dataset/gone-while-training", test_dataset_gone_while_training);
  g_test_add_func ("/faults/cancel/every-job-kind", test_cancel_every_job_kind);
  g_test_add_func ("/faults/nan-gradient", test_nan_gradient);
  return g_test_run ();
}
