/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests of recipes (defaults, round trip, error messages, the example files) and of the
 * training job: the run folder it writes, determinism, cancellation. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-dataset.h"
#include "fw-error.h"
#include "fw-recipe.h"
#include "fw-recipe-ext.h"
#include "fw-run-dir.h"
#include "fw-safetensors.h"
#include "fw-test-util.h"
#include "fw-train.h"
#include "fw-util.h"

/* ---- recipes ---- */

static void
test_defaults (void)
{
  g_autoptr (FwRecipe) r = fw_recipe_new_default ();
  /* the defaults documented in fw-recipe.h */
  g_assert_cmpstr (r->dataset, ==, "fashion-mnist");
  g_assert_cmpint (r->per_class, ==, 0);
  g_assert_cmpfloat (r->val_fraction, ==, 0.1);
  g_assert_cmpstr (r->test, ==, "auto");
  g_assert_cmpint (r->train_limit, ==, 0);
  g_assert_cmpstr (r->arch, ==, "mlp");
  g_assert_cmpstr (r->widths, ==, "256,128");
  g_assert_cmpstr (r->spec, ==, "");
  g_assert_cmpstr (r->init, ==, "");
  g_assert_cmpstr (r->out_dir, ==, "");
  g_assert_true (r->save_model);
  g_assert_cmpuint (r->seed, ==, 1);
  g_assert_cmpint (r->threads, ==, 1);
  /* [train] is the trainer's own defaults */
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  g_assert_cmpint (r->train.epochs, ==, cfg.epochs);
  g_assert_cmpint (r->train.batch, ==, cfg.batch);
  g_assert_cmpint (r->train.opt, ==, cfg.opt);
  g_assert_cmpfloat (r->train.lr, ==, cfg.lr);
  g_assert_cmpfloat (r->train.momentum, ==, cfg.momentum);
  g_assert_cmpint (r->train.schedule, ==, cfg.schedule);
  g_assert_cmpint (r->train.patience, ==, cfg.patience);
  g_assert_cmpfloat (r->train.weight_decay, ==, cfg.weight_decay);
  g_assert_cmpint (r->train.epochs, ==, 10);
  g_assert_cmpint (r->train.batch, ==, 128);

  /* an empty file and a file with only comments are the defaults */
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) e = fw_recipe_load_data ("", 0, "empty.ini", &error);
  g_assert_no_error (error);
  g_assert_true (fw_recipe_equal (e, r));
  g_assert_cmpstr (e->name, ==, "empty");
  g_autoptr (FwRecipe) c = fw_recipe_load_data ("# nothing\n[train]\n# still nothing\n", -1,
                                                "c.ini", &error);
  g_assert_no_error (error);
  g_assert_true (fw_recipe_equal (c, r));
}

static void
test_round_trip (void)
{
  g_autoptr (FwRecipe) r = fw_recipe_new_default ();
  g_free (r->name);
  r->name = g_strdup ("odd one");
  g_free (r->dataset);
  r->dataset = g_strdup ("folder:/tmp/my images/set #1");
  r->per_class = 17;
  r->val_fraction = 0.123456789012345;
  g_free (r->test);
  r->test = g_strdup ("none");
  r->train_limit = 4321;
  g_free (r->arch);
  r->arch = g_strdup ("custom");
  g_free (r->widths);
  r->widths = g_strdup ("64,32,16");
  g_free (r->spec);
  r->spec = g_strdup ("flatten,dense:64,relu,dense:10");
  g_free (r->init);
  r->init = g_strdup ("models/start;here.safetensors");
  r->train.epochs = 7;
  r->train.batch = 33;
  r->train.opt = FW_OPT_ADAMW;
  r->train.lr = 1.0 / 3.0;
  r->train.momentum = 0.5;
  r->train.nesterov = TRUE;
  r->train.weight_decay = 1e-5;
  r->train.beta1 = 0.8;
  r->train.beta2 = 0.95;
  r->train.eps = 1e-7;
  r->train.schedule = FW_SCHED_STEP;
  r->train.step_epochs = 3;
  r->train.step_gamma = 0.5;
  r->train.warmup_epochs = 2;
  r->train.min_lr = 1e-6;
  r->train.clip_norm = 2.5;
  r->train.label_smoothing = 0.1;
  r->train.patience = 4;
  g_free (r->out_dir);
  r->out_dir = g_strdup ("runs/x y");
  r->save_model = FALSE;
  r->seed = G_MAXUINT64 - 5;
  r->threads = 3;

  g_autofree char *text = fw_recipe_to_data (r);
  g_test_message ("%s", text);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) back = fw_recipe_load_data (text, -1, "odd one.ini", &error);
  g_assert_no_error (error);
  g_assert_true (fw_recipe_equal (r, back));
  g_assert_cmpfloat (back->train.lr, ==, 1.0 / 3.0);
  g_assert_cmpuint (back->seed, ==, G_MAXUINT64 - 5);
  g_assert_cmpuint (back->train.seed, ==, G_MAXUINT64 - 5);
  /* the recipe differs from the defaults in every key: equality is not vacuous */
  g_autoptr (FwRecipe) def = fw_recipe_new_default ();
  g_assert_false (fw_recipe_equal (r, def));
  /* writing again gives the same text */
  g_autofree char *text2 = fw_recipe_to_data (back);
  g_assert_cmpstr (text, ==, text2);

  /* every key is written, each under a comment line */
  g_auto (GStrv) keys = fw_recipe_keys ();
  g_assert_cmpuint (g_strv_length (keys), >=, 30);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (int k = 0; keys[k] != NULL; k++)
    {
      const char *key = strchr (keys[k], '.') + 1;
      g_autofree char *prefix = g_strconcat (key, "=", NULL);
      int found = -1;
      for (int i = 0; lines[i] != NULL; i++)
        if (g_str_has_prefix (lines[i], prefix))
          found = i;
      if (found < 0)
        g_error ("key %s not written", keys[k]);
      g_assert_cmpint (found, >, 0);
      g_assert_true (lines[found - 1][0] == '#');
    }
  /* the defaults round-trip too */
  g_autofree char *dtext = fw_recipe_to_data (def);
  g_autoptr (FwRecipe) dback = fw_recipe_load_data (dtext, -1, "recipe.ini", &error);
  g_assert_no_error (error);
  g_assert_true (fw_recipe_equal (def, dback));
}

static void
test_copy_is_deep (void)
{
  g_autoptr (FwRecipe) r = fw_recipe_new_default ();
  g_autoptr (FwRecipe) c = fw_recipe_copy (r);
  g_assert_true (fw_recipe_equal (r, c));
  g_assert_true (c->dataset != r->dataset);
  g_free (c->dataset);
  c->dataset = g_strdup ("digits");
  g_assert_false (fw_recipe_equal (r, c));
  g_assert_cmpstr (r->dataset, ==, "fashion-mnist");
}

typedef struct {
  const char *text;
  const char *group;   /* "[group]" must appear */
  const char *key;     /* NULL: the group itself is the problem */
  const char *also;    /* a further piece the message must hold (what to do, valid names) */
} BadCase;

static const BadCase bad_cases[] = {
  { "[train]\nlr = -0.1\n", "train", "lr", "negative" },
  { "[train]\nlr = 0\n", "train", "lr", "positive" },
  { "[train]\nlr = fast\n", "train", "lr", "not a number" },
  { "[train]\nepochs = 0\n", "train", "epochs", "at least 1" },
  { "[train]\nepochs = 2.5\n", "train", "epochs", "whole number" },
  { "[train]\nbatch = 0\n", "train", "batch", "at least 1" },
  { "[train]\nbatch = -8\n", "train", "batch", NULL },
  { "[data]\nval_fraction = 0.95\n", "data", "val_fraction", "0.9" },
  { "[data]\nval_fraction = -0.1\n", "data", "val_fraction", "0.9" },
  { "[data]\nper_class = -3\n", "data", "per_class", NULL },
  { "[data]\ndataset =\n", "data", "dataset", "sim" },
  { "[train]\noptimizer = rmsprop\n", "train", "optimizer", "adamw" },
  { "[train]\nschedule = linear\n", "train", "schedule", "cosine" },
  { "[train]\nmomentum = 1\n", "train", "momentum", NULL },
  { "[train]\nnesterov = maybe\n", "train", "nesterov", "true or false" },
  { "[model]\narch = resnet50\n", "model", "arch", "lenet5" },
  { "[model]\narch = custom\n", "model", "spec", "custom" },
  { "[model]\nwidths = 256,abc\n", "model", "widths", "abc" },
  { "[train]\nlearning_rate = 0.1\n", "train", "learning_rate", "lr" },
  { "[training]\nepochs = 3\n", "training", NULL, "[train]" },
  { "[output]\nsave_model = perhaps\n", "output", "save_model", NULL },
  { "[run]\nthreads = 0\n", "run", "threads", "at least 1" },
  { "[run]\nseed = -1\n", "run", "seed", NULL },
};

static void
test_bad_inputs_name_file_group_key (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      const BadCase *c = &bad_cases[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (FwRecipe) r = fw_recipe_load_data (c->text, -1, "bad-recipe.ini", &error);
      g_assert_null (r);
      g_assert_nonnull (error);
      g_test_message ("%s", error->message);
      g_assert_true (error->domain == FW_ERROR);
      g_assert_nonnull (strstr (error->message, "bad-recipe.ini"));
      g_autofree char *group = g_strdup_printf ("[%s]", c->group);
      g_assert_nonnull (strstr (error->message, group));
      if (c->key != NULL)
        {
          g_autofree char *key = g_strdup_printf ("] %s:", c->key);
          g_assert_nonnull (strstr (error->message, key));
        }
      if (c->also != NULL)
        g_assert_nonnull (strstr (error->message, c->also));
    }

  /* the same without the bad line loads */
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) ok = fw_recipe_load_data ("[train]\nlr = 0.1\nepochs = 2\n", -1,
                                                 "good.ini", &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (ok->train.lr, ==, 0.1);
  g_assert_cmpint (ok->train.epochs, ==, 2);
}

static void
test_syntax_error_and_missing_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) r = fw_recipe_load_data ("this is not an ini file\n", -1, "junk.ini",
                                                &error);
  g_assert_null (r);
  g_assert_error (error, FW_ERROR, FW_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "junk.ini"));
  g_clear_error (&error);

  g_autofree char *path = g_build_filename (fw_test_tmpdir (), "nope.ini", NULL);
  g_autoptr (FwRecipe) r2 = fw_recipe_load (path, &error);
  g_assert_null (r2);
  g_assert_error (error, FW_ERROR, FW_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, path));
}

static void
test_load_and_save_file (void)
{
  const char *dir = fw_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "my-recipe.ini", NULL);
  const char *text = "[data]\ndataset = sim:500\n[model]\narch = lenet5\n"
                     "init = \"\"\n[train]\nepochs = 4\noptimizer = Adam\n";
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) r = fw_recipe_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->name, ==, "my-recipe");
  g_assert_cmpstr (r->path, ==, path);
  g_assert_cmpstr (r->dataset, ==, "sim:500");
  g_assert_cmpstr (r->arch, ==, "lenet5");
  g_assert_cmpstr (r->init, ==, "");  /* the quotes of the header's example are not a path */
  g_assert_cmpint (r->train.epochs, ==, 4);
  g_assert_cmpint (r->train.opt, ==, FW_OPT_ADAM);
  /* unspecified keys keep their defaults */
  g_assert_cmpfloat (r->val_fraction, ==, 0.1);

  g_autofree char *out = g_build_filename (dir, "saved.ini", NULL);
  g_assert_true (fw_recipe_save (r, out, &error));
  g_autoptr (FwRecipe) back = fw_recipe_load (out, &error);
  g_assert_no_error (error);
  g_assert_true (fw_recipe_equal (r, back));

  g_autofree char *bad = g_build_filename (dir, "no", "such", "dir", "x.ini", NULL);
  g_assert_false (fw_recipe_save (r, bad, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_IO);
}

static char *
recipes_dir (void)
{
  const char *root = g_getenv ("FW_SOURCE_ROOT");
  if (root == NULL)
    return NULL;
  return g_build_filename (root, "resources", "recipes", NULL);
}

static void
test_example_recipes_load (void)
{
  g_autofree char *dir = recipes_dir ();
  if (dir == NULL || !g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("FW_SOURCE_ROOT not set: run through meson test");
      return;
    }
  const char *expect[] = { "quick-sim-mlp.ini", "fmnist-mlp.ini", "fmnist-lenet5.ini",
                           "fmnist-cnn-small.ini", "digits-lenet5.ini",
                           "small-data-100-per-class.ini" };
  for (gsize i = 0; i < G_N_ELEMENTS (expect); i++)
    {
      g_autofree char *path = g_build_filename (dir, expect[i], NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (FwRecipe) r = fw_recipe_load (path, &error);
      g_assert_no_error (error);
      g_autofree char *text = NULL;
      g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
      g_assert_true (text[0] == '#');  /* each starts with a comment saying what it is */
    }
  g_autofree char *quick = g_build_filename (dir, "quick-sim-mlp.ini", NULL);
  g_autoptr (FwRecipe) q = fw_recipe_load (quick, NULL);
  g_assert_cmpstr (q->dataset, ==, "sim:3000");
  g_assert_cmpstr (q->arch, ==, "mlp");
  g_assert_cmpint (q->train.epochs, ==, 3);
  g_autofree char *small = g_build_filename (dir, "small-data-100-per-class.ini", NULL);
  g_autoptr (FwRecipe) s = fw_recipe_load (small, NULL);
  g_assert_cmpint (s->per_class, ==, 100);
}

/* ---- the training job ---- */

static FwRecipe *
small_recipe (const char *out_dir, int epochs)
{
  FwRecipe *r = fw_recipe_new_default ();
  g_free (r->name);
  r->name = g_strdup ("tiny-sim");
  g_free (r->dataset);
  r->dataset = g_strdup ("sim:600");
  g_free (r->widths);
  r->widths = g_strdup ("32");
  r->train.epochs = epochs;
  r->train.batch = 32;
  r->train.lr = 0.05;
  r->val_fraction = 0.1;
  r->seed = 7;
  r->train.seed = 7;
  r->threads = 1;
  g_free (r->out_dir);
  r->out_dir = g_strdup (out_dir);
  return r;
}

typedef struct {
  int n_epoch, n_log, n_final, n_progress;
  FwEventKind final;
  char *message;
  FwRunResult *run;      /* stolen from the snapshot */
  double last_fraction;
  FwJob *cancel_after_first_epoch;
} JobSeen;

static void
on_job_event (FwJob *job, const FwEvent *ev, gpointer user)
{
  JobSeen *s = user;
  switch (ev->kind)
    {
    case FW_EVENT_EPOCH:
      s->n_epoch++;
      if (s->cancel_after_first_epoch != NULL)
        fw_job_cancel (s->cancel_after_first_epoch);
      break;
    case FW_EVENT_LOG:
      s->n_log++;
      break;
    case FW_EVENT_PROGRESS:
      s->n_progress++;
      s->last_fraction = ev->fraction;
      break;
    case FW_EVENT_SNAPSHOT:
      if (g_strcmp0 (ev->payload_type, "run") == 0)
        {
          /* the payload belongs to the event: keep what we need by reference */
          const FwRunResult *r = ev->payload;
          s->run = g_new0 (FwRunResult, 1);
          s->run->run_dir = g_strdup (r->run_dir);
          s->run->model = fw_model_ref (r->model);
          s->run->metrics = g_array_ref (r->metrics);
          s->run->test = r->test != NULL ? fw_dataset_ref (r->test) : NULL;
          s->run->train_seconds = r->train_seconds;
        }
      break;
    case FW_EVENT_FINISHED:
    case FW_EVENT_FAILED:
    case FW_EVENT_CANCELLED:
      s->n_final++;
      s->final = ev->kind;
      g_free (s->message);
      s->message = g_strdup (ev->error != NULL ? ev->error->message : ev->message);
      break;
    default:
      break;
    }
}

static gboolean
done_cond (FwJob *job)
{
  return fw_job_is_done (job);
}

/* Runs a recipe on a runner; waits (bounded) for the end. */
static void
run_job (const FwRecipe *r, JobSeen *seen, gboolean cancel_after_first_epoch)
{
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  g_autoptr (FwJob) job = fw_job_runner_submit (runner, "train", fw_recipe_job_run,
                                                fw_recipe_copy (r),
                                                (GDestroyNotify) fw_recipe_free, NULL,
                                                on_job_event, seen);
  if (cancel_after_first_epoch)
    seen->cancel_after_first_epoch = job;
  double end = fw_now () + 120;
  while (!done_cond (job) && fw_now () < end)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (fw_job_is_done (job));
  seen->cancel_after_first_epoch = NULL;
}

static void
job_seen_clear (JobSeen *s)
{
  g_free (s->message);
  fw_run_result_free (s->run);
}

/* The rows of metrics.csv split into fields. */
static GPtrArray *
read_csv (const char *path)
{
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (int i = 0; lines[i] != NULL; i++)
    if (*lines[i])
      g_ptr_array_add (rows, g_strsplit (lines[i], ",", -1));
  return rows;
}

static void
test_full_run_writes_the_run_folder (void)
{
  const char *tmp = fw_test_tmpdir ();
  g_autofree char *dir = g_build_filename (tmp, "run1", NULL);
  g_autoptr (FwRecipe) r = small_recipe (dir, 2);
  JobSeen seen = { 0 };
  double t0 = fw_now ();
  run_job (r, &seen, FALSE);
  g_test_message ("run took %.2f s", fw_now () - t0);
  if (seen.final != FW_EVENT_FINISHED)
    g_error ("the run did not finish: %s", seen.message);
  g_assert_cmpint (seen.n_final, ==, 1);
  g_assert_cmpint (seen.n_epoch, ==, 2);
  g_assert_cmpint (seen.n_log, >=, 2);
  g_assert_cmpint (seen.n_progress, >=, 1);
  g_assert_cmpfloat (seen.last_fraction, ==, 1.0);
  g_assert_nonnull (seen.run);
  g_assert_cmpstr (seen.run->run_dir, ==, dir);
  g_assert_nonnull (seen.run->test);

  /* the four files */
  const char *files[] = { "recipe.ini", "metrics.csv", "summary.json", "model.safetensors" };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *p = g_build_filename (dir, files[i], NULL);
      if (!g_file_test (p, G_FILE_TEST_IS_REGULAR))
        g_error ("%s missing", p);
    }

  /* recipe.ini: the resolved recipe */
  g_autofree char *ini = g_build_filename (dir, "recipe.ini", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) back = fw_recipe_load (ini, &error);
  g_assert_no_error (error);
  g_assert_true (fw_recipe_equal (back, r));

  /* metrics.csv: header + one row per epoch, same numbers as the epoch events */
  g_autofree char *csv = g_build_filename (dir, "metrics.csv", NULL);
  g_autoptr (GPtrArray) rows = read_csv (csv);
  g_assert_cmpuint (rows->len, ==, 3);
  g_autofree char *header = g_strjoinv (",", rows->pdata[0]);
  g_assert_cmpstr (header, ==, "epoch,train_loss,train_acc,val_loss,val_acc,test_acc,lr,seconds");
  for (int e = 1; e <= 2; e++)
    {
      char **row = rows->pdata[e];
      g_assert_cmpuint (g_strv_length (row), ==, 8);
      g_assert_cmpint (atoi (row[0]), ==, e);
      const FwEpochMetrics *m = &g_array_index (seen.run->metrics, FwEpochMetrics, e - 1);
      g_assert_cmpfloat (fabs (g_ascii_strtod (row[1], NULL) - m->train_loss), <=,
                         1e-7 * fabs (m->train_loss));
      g_assert_cmpfloat (fabs (g_ascii_strtod (row[5], NULL) - m->test_acc), <=, 1e-8);
      g_assert_cmpstr (row[3], !=, "");  /* a validation set exists */
    }

  /* summary.json parses; its test accuracy is the saved model's on the same test set */
  g_autofree char *js = g_build_filename (dir, "summary.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (parser, js, &error));
  g_assert_no_error (error);
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (o, "recipe"), ==, "tiny-sim");
  g_assert_cmpstr (json_object_get_string_member (o, "dataset"), ==, "sim:600");
  g_assert_cmpstr (json_object_get_string_member (o, "arch"), ==, "mlp");
  g_assert_cmpint (json_object_get_int_member (o, "epochs_run"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (o, "seed"), ==, 7);

  g_autofree char *model_path = g_build_filename (dir, "model.safetensors", NULL);
  g_autoptr (FwModel) m = fw_model_load (model_path, NULL, &error);
  g_assert_no_error (error);
  GStatBuf st;
  g_assert_cmpint (g_stat (model_path, &st), ==, 0);
  g_assert_cmpint (json_object_get_int_member (o, "model_bytes"), ==, st.st_size);
  g_assert_cmpint (json_object_get_int_member (o, "params"), ==, fw_model_param_count (m));
  /* the model: 784 -> 32 -> 10 */
  g_assert_cmpint (fw_model_param_count (m), ==, 784 * 32 + 32 + 32 * 10 + 10);

  /* the test set, loaded independently of the job */
  g_autoptr (FwDataset) test = fw_dataset_load_test ("sim:600", r->seed, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (test);
  g_assert_cmpint (test->n, ==, seen.run->test->n);
  g_assert_cmpint (json_object_get_int_member (o, "n_test"), ==, test->n);
  g_autoptr (FwEvalResult) ev = fw_evaluate (m, test, 100, NULL, &error);
  g_assert_no_error (error);
  double acc = json_object_get_double_member (o, "test_accuracy");
  g_test_message ("test accuracy %.4f (reloaded model %.4f)", acc, ev->accuracy);
  g_assert_cmpfloat (fabs (acc - ev->accuracy), <, 1e-12);
  /* 2 epochs on 540 simulated digits: well above chance (10%) */
  g_assert_cmpfloat (acc, >, 0.2);

  /* confusion matrix: k x k, sums to the test size, its diagonal gives the accuracy */
  JsonArray *conf = json_object_get_array_member (o, "confusion");
  g_assert_cmpuint (json_array_get_length (conf), ==, 10);
  gint64 total = 0, diag = 0;
  for (guint i = 0; i < 10; i++)
    {
      JsonArray *row = json_array_get_array_element (conf, i);
      g_assert_cmpuint (json_array_get_length (row), ==, 10);
      for (guint j = 0; j < 10; j++)
        {
          gint64 v = json_array_get_int_element (row, j);
          total += v;
          diag += i == j ? v : 0;
        }
    }
  g_assert_cmpint (total, ==, test->n);
  g_assert_cmpfloat (fabs ((double) diag / total - acc), <, 1e-12);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o,
                                                                         "per_class_accuracy")),
                    ==, 10);

  /* nothing else (no partial folder) next to the run */
  g_autoptr (GDir) d = g_dir_open (tmp, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    g_assert_cmpstr (name, ==, "run1");
  job_seen_clear (&seen);
}

/* The metric columns except seconds, joined. */
static char *
metrics_without_seconds (const char *dir)
{
  g_autofree char *csv = g_build_filename (dir, "metrics.csv", NULL);
  g_autoptr (GPtrArray) rows = read_csv (csv);
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < rows->len; i++)
    {
      char **row = rows->pdata[i];
      for (int j = 0; row[j] != NULL; j++)
        if (j != 7)
          g_string_append_printf (s, "%s,", row[j]);
      g_string_append_c (s, '\n');
    }
  return g_string_free (s, FALSE);
}

static void
test_same_recipe_same_numbers (void)
{
  const char *tmp = fw_test_tmpdir ();
  g_autofree char *a = g_build_filename (tmp, "a", NULL);
  g_autofree char *b = g_build_filename (tmp, "b", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) ra = small_recipe (a, 2);
  g_autoptr (FwRecipe) rb = small_recipe (b, 2);
  g_autoptr (FwRunResult) resa = fw_recipe_run_sync (ra, NULL, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwRunResult) resb = fw_recipe_run_sync (rb, NULL, NULL, &error);
  g_assert_no_error (error);

  g_autofree char *ma = metrics_without_seconds (a);
  g_autofree char *mb = metrics_without_seconds (b);
  g_assert_cmpstr (ma, ==, mb);

  g_autofree char *pa = g_build_filename (a, "model.safetensors", NULL);
  g_autofree char *pb = g_build_filename (b, "model.safetensors", NULL);
  g_autofree char *da = NULL, *db = NULL;
  gsize la = 0, lb = 0;
  g_assert_true (g_file_get_contents (pa, &da, &la, NULL));
  g_assert_true (g_file_get_contents (pb, &db, &lb, NULL));
  g_assert_cmpuint (la, ==, lb);
  g_assert_true (memcmp (da, db, la) == 0);

  /* another seed gives other numbers: the comparison above can fail */
  g_autofree char *c = g_build_filename (tmp, "c", NULL);
  g_autoptr (FwRecipe) rc = small_recipe (c, 2);
  rc->seed = 8;
  rc->train.seed = 8;
  g_autoptr (FwRunResult) resc = fw_recipe_run_sync (rc, NULL, NULL, &error);
  g_assert_no_error (error);
  g_autofree char *mc = metrics_without_seconds (c);
  g_assert_cmpstr (ma, !=, mc);
}

static gboolean
dir_is_empty (const char *path)
{
  g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
  g_assert_nonnull (d);
  const char *name = g_dir_read_name (d);
  if (name != NULL)
    g_test_message ("left behind: %s", name);
  return name == NULL;
}

static void
test_cancelled_run_leaves_no_files (void)
{
  const char *tmp = fw_test_tmpdir ();
  g_autofree char *dir = g_build_filename (tmp, "cancelled", NULL);
  g_autoptr (FwRecipe) r = small_recipe (dir, 200);
  JobSeen seen = { 0 };
  double t0 = fw_now ();
  run_job (r, &seen, TRUE);
  g_test_message ("cancelled after %.2f s, %d epochs", fw_now () - t0, seen.n_epoch);
  g_assert_cmpint (seen.final, ==, FW_EVENT_CANCELLED);
  g_assert_cmpint (seen.n_epoch, >=, 1);
  g_assert_cmpint (seen.n_epoch, <, 200);
  g_assert_null (seen.run);
  g_autofree char *model = g_build_filename (dir, "model.safetensors", NULL);
  g_assert_false (g_file_test (model, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  g_assert_true (dir_is_empty (tmp));
  job_seen_clear (&seen);

  /* cancelled before it starts: nothing either */
  g_autoptr (GCancellable) c = g_cancellable_new ();
  g_cancellable_cancel (c);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRunResult) res = fw_recipe_run_sync (r, NULL, c, &error);
  g_assert_null (res);
  g_assert_error (error, FW_ERROR, FW_ERROR_CANCELLED);
  g_assert_true (dir_is_empty (tmp));
}

static void
test_bad_dataset_and_init_fail_clearly (void)
{
  const char *tmp = fw_test_tmpdir ();
  g_autofree char *dir = g_build_filename (tmp, "bad", NULL);
  g_autoptr (FwRecipe) r = small_recipe (dir, 1);
  g_free (r->dataset);
  r->dataset = g_strdup ("idx:/nonexistent/images-idx3-ubyte.gz");
  JobSeen seen = { 0 };
  run_job (r, &seen, FALSE);
  g_assert_cmpint (seen.final, ==, FW_EVENT_FAILED);
  g_test_message ("%s", seen.message);
  g_assert_nonnull (strstr (seen.message, "[data] dataset"));
  g_assert_nonnull (strstr (seen.message, "/nonexistent/images-idx3-ubyte.gz"));
  g_assert_true (dir_is_empty (tmp));
  job_seen_clear (&seen);

  /* a model made for 28x28 inputs as init of a 20x20 dataset */
  g_autoptr (FwModel) m = fw_model_new ("mlp", "flatten,dense:8,relu,dense:10",
                                        (FwShape) { 1, 28, 28 }, NULL);
  g_assert_nonnull (m);
  fw_model_init (m, 1);
  g_autofree char *init = g_build_filename (tmp, "init.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_model_save (m, init, NULL, &error));
  g_free (r->dataset);
  r->dataset = g_strdup ("sim:100:20");
  g_free (r->init);
  r->init = g_strdup (init);
  g_autoptr (FwRunResult) res = fw_recipe_run_sync (r, NULL, NULL, &error);
  g_assert_null (res);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "[model] init"));
  g_assert_nonnull (strstr (error->message, "1x28x28"));
  g_assert_nonnull (strstr (error->message, "1x20x20"));
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

static void
test_init_from_a_saved_model_continues (void)
{
  const char *tmp = fw_test_tmpdir ();
  g_autofree char *a = g_build_filename (tmp, "first", NULL);
  g_autofree char *b = g_build_filename (tmp, "second", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) r = small_recipe (a, 1);
  g_autoptr (FwRunResult) first = fw_recipe_run_sync (r, NULL, NULL, &error);
  g_assert_no_error (error);
  /* a second run from the first model with lr ~ 0 keeps its weights: same test accuracy */
  g_autoptr (FwRecipe) r2 = small_recipe (b, 1);
  g_free (r2->init);
  r2->init = g_build_filename (a, "model.safetensors", NULL);
  r2->train.lr = 1e-12;
  r2->train.momentum = 0;
  g_autoptr (FwRunResult) second = fw_recipe_run_sync (r2, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (fabs (second->test_eval->accuracy - first->test_eval->accuracy), <, 1e-9);
  g_assert_cmpfloat (second->model->in_mean, ==, first->model->in_mean);
}

/* train_limit, per_class, no validation, no test: sizes in summary.json, empty CSV fields */
static void
test_data_options_and_empty_fields (void)
{
  const char *tmp = fw_test_tmpdir ();
  g_autofree char *dir = g_build_filename (tmp, "opts", NULL);
  g_autoptr (FwRecipe) r = small_recipe (dir, 1);
  r->train_limit = 300;
  r->per_class = 20;
  r->val_fraction = 0;
  g_free (r->test);
  r->test = g_strdup ("none");
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRunResult) res = fw_recipe_run_sync (r, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (res->test);
  g_assert_null (res->test_eval);

  g_autofree char *js = g_build_filename (dir, "summary.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (parser, js, &error));
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  /* 300 of 600, then at most 20 of each of the 10 classes */
  g_assert_cmpint (json_object_get_int_member (o, "n_train"), ==, 200);
  g_assert_cmpint (json_object_get_int_member (o, "n_val"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (o, "n_test"), ==, 0);
  g_assert_true (json_object_get_null_member (o, "test_accuracy"));
  g_assert_true (json_object_get_null_member (o, "confusion"));

  g_autofree char *csv = g_build_filename (dir, "metrics.csv", NULL);
  g_autoptr (GPtrArray) rows = read_csv (csv);
  g_assert_cmpuint (rows->len, ==, 2);
  char **row = rows->pdata[1];
  g_assert_cmpuint (g_strv_length (row), ==, 8);
  g_assert_cmpstr (row[3], ==, "");  /* val_loss */
  g_assert_cmpstr (row[4], ==, "");  /* val_acc */
  g_assert_cmpstr (row[5], ==, "");  /* test_acc */
  g_assert_cmpstr (row[1], !=, "");

  /* an explicit test spec */
  g_autofree char *dir2 = g_build_filename (tmp, "spec", NULL);
  g_free (r->out_dir);
  r->out_dir = g_strdup (dir2);
  g_free (r->test);
  r->test = g_strdup ("sim:50");
  g_autoptr (FwRunResult) res2 = fw_recipe_run_sync (r, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (res2->test);
  g_assert_cmpint (res2->test->n, ==, 50);
  g_assert_cmpint (res2->test_eval->n, ==, 50);
}

static void
test_default_out_dir_is_under_runs (void)
{
  const char *tmp = fw_test_tmpdir ();
  g_autofree char *cwd = g_get_current_dir ();
  g_assert_cmpint (g_chdir (tmp), ==, 0);
  g_autoptr (FwRecipe) r = small_recipe ("", 1);
  r->save_model = FALSE;
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRunResult) res = fw_recipe_run_sync (r, NULL, NULL, &error);
  g_autoptr (FwRunResult) res2 = fw_recipe_run_sync (r, NULL, NULL, &error);
  g_assert_cmpint (g_chdir (cwd), ==, 0);
  g_assert_no_error (error);
  g_test_message ("%s, %s", res->run_dir, res2->run_dir);
  /* runs/<name>-YYYYmmdd-HHMMSS, and a second run never overwrites the first */
  g_assert_true (g_regex_match_simple ("^runs/tiny-sim-[0-9]{8}-[0-9]{6}(-[0-9]+)?$",
                                       res->run_dir, 0, 0));
  g_assert_cmpstr (res->run_dir, !=, res2->run_dir);
  g_autofree char *full = g_build_filename (tmp, res->run_dir, NULL);
  g_autofree char *csv = g_build_filename (full, "metrics.csv", NULL);
  g_autofree char *model = g_build_filename (full, "model.safetensors", NULL);
  g_assert_true (g_file_test (csv, G_FILE_TEST_IS_REGULAR));
  /* save_model = false: no model file, but summary.json still tells its size */
  g_assert_false (g_file_test (model, G_FILE_TEST_EXISTS));
}

/* ---- recipe extensions ---- */

static gboolean
demo_job (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  return TRUE;
}

static const char *const demo_keys[] = { "level", "rate", "sizes", "mode", "on", "label", NULL };
static const FwRecipeExt demo_ext = { "demo", "Demo", demo_keys, demo_job, "train" };
static const char *const note_keys[] = { "title", NULL };
static const FwRecipeExt note_ext = { "note", "Note", note_keys, NULL, NULL };

static const char demo_text[] =
  "[data]\ndataset = sim:100\n[demo]\nlevel = 3\nrate = 0.25\nsizes = 1, 5,10\n"
  "mode = fast\non = true\nlabel = a b\n[note]\ntitle = Hello\n";

static void
test_ext_groups_parse_and_round_trip (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) r = fw_recipe_load_data (demo_text, (gsize) -1, "demo.ini", &error);
  g_assert_no_error (error);
  g_assert_true (fw_recipe_ext_of (r) == &demo_ext);
  g_assert_true (fw_recipe_has_group (r, "note"));
  int level, mode;
  double rate;
  gboolean on;
  g_assert_true (fw_recipe_ext_get_int (r, "demo", "level", 1, 0, 10, &level, &error));
  g_assert_cmpint (level, ==, 3);
  g_assert_true (fw_recipe_ext_get_double (r, "demo", "rate", 0.5, 0, 1, &rate, &error));
  g_assert_cmpfloat (rate, ==, 0.25);
  const char *const modes[] = { "slow", "fast", NULL };
  g_assert_true (fw_recipe_ext_get_choice (r, "demo", "mode", modes, 0, &mode, &error));
  g_assert_cmpint (mode, ==, 1);
  g_assert_true (fw_recipe_ext_get_bool (r, "demo", "on", FALSE, &on, &error));
  g_assert_true (on);
  g_autoptr (GArray) sizes = fw_recipe_ext_get_int_list (r, "demo", "sizes", "1", 1, 100,
                                                         &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sizes->len, ==, 3);
  g_assert_cmpint (g_array_index (sizes, int, 2), ==, 10);
  g_autofree char *label = fw_recipe_ext_get_string (r, "demo", "label", "x");
  g_assert_cmpstr (label, ==, "a b");
  /* absent keys give the default */
  int absent;
  g_assert_true (fw_recipe_ext_get_int (r, "demo", "missing", 42, 0, 100, &absent, &error));
  g_assert_cmpint (absent, ==, 42);

  /* written back and read again: same recipe, same extension values */
  g_autofree char *text = fw_recipe_to_data (r);
  g_assert_nonnull (strstr (text, "[demo]"));
  g_autoptr (FwRecipe) back = fw_recipe_load_data (text, (gsize) -1, "demo.ini", &error);
  g_assert_no_error (error);
  g_assert_true (fw_recipe_equal (r, back));
  /* a copy is independent: setting a key changes it, not the original */
  g_autoptr (FwRecipe) c = fw_recipe_copy (r);
  fw_recipe_ext_set (c, "demo", "level", "7");
  g_assert_false (fw_recipe_equal (r, c));
  g_assert_true (fw_recipe_ext_get_int (c, "demo", "level", 1, 0, 10, &level, &error));
  g_assert_cmpint (level, ==, 7);
  g_assert_true (fw_recipe_ext_get_int (r, "demo", "level", 1, 0, 10, &level, &error));
  g_assert_cmpint (level, ==, 3);
  /* a plain recipe has no extension job */
  g_autoptr (FwRecipe) plain = fw_recipe_new_default ();
  g_assert_null (fw_recipe_ext_of (plain));
}

static void
test_ext_bad_values_are_named (void)
{
  struct { const char *text; const char *want; } cases[] = {
    { "[demo]\nlevel = 11\n", "[demo] level: 11 is not in [0, 10]" },
    { "[demo]\nlevel = three\n", "[demo] level: 'three' is not a whole number" },
    { "[demo]\nrate = nan\n", "[demo] rate: 'nan' is not a number" },
    { "[demo]\nmode = medium\n", "'medium' is not one of slow | fast" },
    { "[demo]\non = maybe\n", "'maybe' is not a truth value" },
    { "[demo]\nsizes = 1,x\n", "'x' in '1,x'" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (FwRecipe) r = fw_recipe_load_data (cases[i].text, (gsize) -1, "bad.ini",
                                                    &error);
      g_assert_no_error (error);
      int iv;
      double dv;
      gboolean bv;
      const char *const modes[] = { "slow", "fast", NULL };
      gboolean ok = fw_recipe_ext_get_int (r, "demo", "level", 1, 0, 10, &iv, &error)
                    && fw_recipe_ext_get_double (r, "demo", "rate", 0.5, 0, 1, &dv, &error)
                    && fw_recipe_ext_get_choice (r, "demo", "mode", modes, 0, &iv, &error)
                    && fw_recipe_ext_get_bool (r, "demo", "on", FALSE, &bv, &error);
      if (ok)
        {
          g_autoptr (GArray) a = fw_recipe_ext_get_int_list (r, "demo", "sizes", "1", 1, 9,
                                                             &error);
          ok = a != NULL;
        }
      g_assert_false (ok);
      g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
      g_assert_true (g_str_has_prefix (error->message, "bad.ini: "));
      if (strstr (error->message, cases[i].want) == NULL)
        g_error ("case %zu: '%s' does not contain '%s'", i, error->message, cases[i].want);
    }
  /* unknown keys of an extension and two job groups in one recipe are load errors */
  g_autoptr (GError) e1 = NULL;
  g_autoptr (FwRecipe) r1 = fw_recipe_load_data ("[demo]\nlevle = 1\n", (gsize) -1, "t.ini",
                                                 &e1);
  g_assert_null (r1);
  g_assert_nonnull (strstr (e1->message, "[demo] levle: unknown key — valid keys in [demo]: "
                                         "level, rate"));
  static const char *const k2[] = { NULL };
  static const FwRecipeExt other = { "other", "Other", k2, demo_job, NULL };
  fw_recipe_ext_register (&other);
  g_autoptr (GError) e2 = NULL;
  g_autoptr (FwRecipe) r2 = fw_recipe_load_data ("[demo]\n[other]\n", (gsize) -1, "t.ini",
                                                 &e2);
  g_assert_null (r2);
  g_assert_nonnull (strstr (e2->message, "two kinds of job"));
  /* an unknown group still is an error that lists the extension groups too */
  g_autoptr (GError) e3 = NULL;
  g_autoptr (FwRecipe) r3 = fw_recipe_load_data ("[dmeo]\n", (gsize) -1, "t.ini", &e3);
  g_assert_null (r3);
  g_assert_nonnull (strstr (e3->message, "[demo]"));
}

/* ---- run folders ---- */

static int
count_entries (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  int n = 0;
  while (d != NULL && g_dir_read_name (d) != NULL)
    n++;
  return n;
}

static void
test_run_dir_atomic (void)
{
  g_autofree char *root = g_build_filename (fw_test_tmpdir (), "rundirs", NULL);
  g_autofree char *target = g_build_filename (root, "one", NULL);
  g_autoptr (GError) error = NULL;

  /* abandoned: nothing at all is left, not even the partial folder */
  {
    g_autoptr (FwRunDir) rd = fw_run_dir_begin_at (target, "--out", &error);
    g_assert_no_error (error);
    g_assert_true (fw_run_dir_write (rd, "a.txt", "hello", -1, &error));
    g_assert_cmpint (count_entries (root), ==, 1); /* the hidden partial folder */
  }
  g_assert_cmpint (count_entries (root), ==, 0);

  /* committed: the folder appears with exactly the files written */
  FwRunDir *rd = fw_run_dir_begin_at (target, "--out", &error);
  g_assert_true (fw_run_dir_write (rd, "a.txt", "hello", -1, &error));
  g_autoptr (FwModel) m = fw_model_new ("custom", "flatten,dense:3", (FwShape) { 1, 2, 2 },
                                        &error);
  fw_model_init (m, 1);
  gint64 bytes = 0;
  g_assert_true (fw_run_dir_save_model (rd, "m.safetensors", m, NULL, &bytes, &error));
  g_autofree char *dir = fw_run_dir_commit (rd, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (dir, ==, target);
  g_assert_cmpint (count_entries (root), ==, 1);
  g_assert_cmpint (count_entries (target), ==, 2);
  g_autofree char *mp = g_build_filename (target, "m.safetensors", NULL);
  GStatBuf st;
  g_assert_cmpint (g_stat (mp, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, bytes);

  /* into the existing folder: files replaced one by one, others kept */
  rd = fw_run_dir_begin_at (target, "--out", &error);
  g_assert_true (fw_run_dir_write (rd, "a.txt", "bye", -1, &error));
  g_assert_true (fw_run_dir_write (rd, "b.txt", "new", -1, &error));
  g_free (fw_run_dir_commit (rd, &error));
  g_assert_no_error (error);
  g_autofree char *ap = g_build_filename (target, "a.txt", NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (ap, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "bye");
  g_assert_cmpint (count_entries (target), ==, 3);
  g_assert_cmpint (count_entries (root), ==, 1);

  /* a target that is a file is refused with a message naming it */
  g_autofree char *file = g_build_filename (root, "plain", NULL);
  g_assert_true (g_file_set_contents (file, "x", -1, NULL));
  g_autoptr (FwRunDir) bad = fw_run_dir_begin_at (file, "--out", &error);
  g_assert_null (bad);
  g_assert_error (error, FW_ERROR, FW_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "is not a folder"));
}

/* [output] embed_points: one layout per epoch of the chosen test samples, their true labels and
 * the model's predictions; the last epoch's predictions are the trained model's */
static void
test_embedding_follows_training (void)
{
  const char *tmp = fw_test_tmpdir ();
  g_autofree char *dir = g_build_filename (tmp, "run-embed", NULL);
  g_autoptr (FwRecipe) r = small_recipe (dir, 3);
  r->embed_points = 40;
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRunResult) res = fw_recipe_run_sync (r, NULL, NULL, &error);
  g_assert_no_error (error);
  g_autofree char *csv = g_build_filename (dir, "embedding.csv", NULL);
  g_autoptr (GPtrArray) rows = read_csv (csv);
  g_assert_cmpuint (rows->len, ==, 1 + 3 * 40);
  g_autofree char *header = g_strjoinv (",", rows->pdata[0]);
  g_assert_cmpstr (header, ==, "epoch,index,label,pred,x,y");
  FwDataset *test = res->test;
  int spread_epochs = 0;
  for (int e = 1; e <= 3; e++)
    {
      double sx = 0, sxx = 0;
      for (int i = 0; i < 40; i++)
        {
          char **f = rows->pdata[1 + (e - 1) * 40 + i];
          g_assert_cmpint (atoi (f[0]), ==, e);
          int idx = atoi (f[1]);
          g_assert_cmpint (idx, >=, 0);
          g_assert_cmpint (idx, <, test->n);
          g_assert_cmpint (atoi (f[2]), ==, test->y[idx]);
          /* the same samples every epoch */
          char **first = rows->pdata[1 + i];
          g_assert_cmpint (idx, ==, atoi (first[1]));
          double x = g_ascii_strtod (f[4], NULL);
          g_assert_true (isfinite (x));
          sx += x;
          sxx += x * x;
          if (e == 3)
            {
              gint32 pred;
              gsize size = fw_shape_size (test->shape);
              fw_model_predict (res->model, test->x + (gsize) idx * size, 1, 1, &pred);
              g_assert_cmpint (atoi (f[3]), ==, pred);
            }
        }
      spread_epochs += sxx / 40 - (sx / 40) * (sx / 40) > 1e-6;
    }
  g_assert_cmpint (spread_epochs, ==, 3);   /* a real layout, not all points in one place */
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/RunDir/abandoned_leaves_nothing_committed_has_all",
                   test_run_dir_atomic);
  fw_recipe_ext_register (&demo_ext);
  fw_recipe_ext_register (&note_ext);
  g_test_add_func ("/RecipeExt/groups_parse_and_round_trip", test_ext_groups_parse_and_round_trip);
  g_test_add_func ("/RecipeExt/bad_values_are_named", test_ext_bad_values_are_named);
  g_test_add_func ("/Recipe/defaults_are_documented", test_defaults);
  g_test_add_func ("/Recipe/to_data_round_trips", test_round_trip);
  g_test_add_func ("/Recipe/copy_is_deep", test_copy_is_deep);
  g_test_add_func ("/Recipe/bad_inputs_name_file_group_and_key",
                   test_bad_inputs_name_file_group_key);
  g_test_add_func ("/Recipe/syntax_error_and_missing_file", test_syntax_error_and_missing_file);
  g_test_add_func ("/Recipe/load_and_save_file", test_load_and_save_file);
  g_test_add_func ("/Recipe/example_recipes_load", test_example_recipes_load);
  g_test_add_func ("/RecipeJob/embedding_follows_training", test_embedding_follows_training);
  g_test_add_func ("/RecipeJob/full_run_writes_the_run_folder",
                   test_full_run_writes_the_run_folder);
  g_test_add_func ("/RecipeJob/same_recipe_same_numbers", test_same_recipe_same_numbers);
  g_test_add_func ("/RecipeJob/cancelled_run_leaves_no_files",
                   test_cancelled_run_leaves_no_files);
  g_test_add_func ("/RecipeJob/bad_dataset_and_init_fail_clearly",
                   test_bad_dataset_and_init_fail_clearly);
  g_test_add_func ("/RecipeJob/init_from_a_saved_model_continues",
                   test_init_from_a_saved_model_continues);
  g_test_add_func ("/RecipeJob/data_options_and_empty_fields",
                   test_data_options_and_empty_fields);
  g_test_add_func ("/RecipeJob/default_out_dir_is_under_runs",
                   test_default_out_dir_is_under_runs);
  return g_test_run ();
}
