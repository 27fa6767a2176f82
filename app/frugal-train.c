/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal-train.c: `frugal run` (a recipe as a job, with a terminal progress display and
 * Ctrl-C cancellation) and `frugal eval` (a saved model on a dataset). */
#include <glib-unix.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fw-dataset.h"
#include "fw-error.h"
#include "fw-gemm.h"
#include "fw-job.h"
#include "fw-model.h"
#include "fw-recipe.h"
#include "fw-recipe-ext.h"
#include "fw-safetensors.h"
#include "fw-train.h"
#include "fw-util.h"

#include "frugal-cli.h"

/* ---- frugal run ---- */

#define BAR_WIDTH 24
/* The progress line is redrawn at most this often (seconds). */
#define REDRAW_INTERVAL 0.1

typedef struct {
  GMainLoop *loop;
  FwJob *job;               /* borrowed from run's scope */
  gboolean tty;             /* stderr is a terminal: one progress line redrawn with \r */
  gboolean bar_shown;       /* the progress line is on screen and must be cleared first */
  double last_draw;
  int n_epochs;             /* from the recipe, for events that do not carry it */
  int signals;              /* SIGINT/SIGTERM received so far */
  int exit_code;
  char *run_dir;
  double test_acc;          /* NaN until the run's result arrives */
  double train_seconds;
} RunState;

static void
clear_bar (RunState *s)
{
  if (s->tty && s->bar_shown)
    {
      /* carriage return, then erase to the end of the line */
      fputs ("\r\033[K", stderr);
      fflush (stderr);
      s->bar_shown = FALSE;
    }
}

static void
draw_bar (RunState *s, const FwEvent *ev)
{
  double now = fw_now ();
  if (s->bar_shown && now - s->last_draw < REDRAW_INTERVAL && ev->fraction < 1.0)
    return;
  s->last_draw = now;

  double f = CLAMP (ev->fraction, 0.0, 1.0);
  int filled = (int) (f * BAR_WIDTH + 0.5);
  char bar[BAR_WIDTH + 1];
  for (int i = 0; i < BAR_WIDTH; i++)
    bar[i] = i < filled ? '#' : '-';
  bar[BAR_WIDTH] = '\0';

  int n_epochs = ev->n_epochs > 0 ? ev->n_epochs : s->n_epochs;
  g_autofree char *acc = frugal_format_percent (ev->acc);
  g_autofree char *eta = ev->eta_s < 0 ? g_strdup ("?")
                         : ev->eta_s < 1 ? g_strdup ("<1 s")
                         : fw_format_seconds (round (ev->eta_s));
  fprintf (stderr, "\r\033[Kepoch %d/%d [%s] batch %d/%d loss %.3f acc %s ETA %s",
           ev->epoch, n_epochs, bar, ev->batch, ev->n_batches, ev->loss, acc, eta);
  fflush (stderr);
  s->bar_shown = TRUE;
}

static void
print_epoch (RunState *s, const FwEvent *ev)
{
  const FwEpochMetrics *m = &ev->metrics;
  int n_epochs = ev->n_epochs > 0 ? ev->n_epochs : s->n_epochs;
  g_autoptr (GString) line = g_string_new (NULL);
  g_autofree char *tacc = frugal_format_percent (m->train_acc);

  g_string_append_printf (line, "epoch %d/%d train loss %.4f acc %s", m->epoch, n_epochs,
                          m->train_loss, tacc);
  if (!isnan (m->val_loss))
    {
      g_autofree char *vacc = frugal_format_percent (m->val_acc);
      g_string_append_printf (line, " val loss %.4f acc %s", m->val_loss, vacc);
    }
  if (!isnan (m->test_acc))
    {
      g_autofree char *teacc = frugal_format_percent (m->test_acc);
      g_string_append_printf (line, " test acc %s", teacc);
    }
  g_autofree char *secs = fw_format_seconds (m->seconds);
  g_string_append_printf (line, " lr %.3g %s", m->lr, secs);

  clear_bar (s);
  printf ("%s\n", line->str);
  fflush (stdout);
}

static gboolean
is_cancel_error (const GError *error)
{
  return error != NULL && (g_error_matches (error, FW_ERROR, FW_ERROR_CANCELLED)
                           || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
}

static void
on_run_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  RunState *s = user_data;

  switch (ev->kind)
    {
    case FW_EVENT_QUEUED:
      break;
    case FW_EVENT_STARTED:
      if (!s->tty)
        {
          printf ("started %s\n", fw_job_get_name (job));
          fflush (stdout);
        }
      break;
    case FW_EVENT_PROGRESS:
      if (s->tty)
        draw_bar (s, ev);
      break;
    case FW_EVENT_EPOCH:
      print_epoch (s, ev);
      break;
    case FW_EVENT_LOG:
      clear_bar (s);
      fprintf (stderr, "%s\n", ev->message != NULL ? ev->message : "");
      fflush (stderr);
      break;
    case FW_EVENT_SNAPSHOT:
      if (g_strcmp0 (ev->payload_type, "run") == 0 && ev->payload != NULL)
        {
          const FwRunResult *r = ev->payload;
          g_free (s->run_dir);
          s->run_dir = g_strdup (r->run_dir);
          s->test_acc = r->test_eval != NULL ? r->test_eval->accuracy : NAN;
          s->train_seconds = r->train_seconds;
        }
      break;
    case FW_EVENT_FINISHED:
      clear_bar (s);
      if (ev->message != NULL && *ev->message)
        printf ("%s\n", ev->message);
      s->exit_code = FRUGAL_EXIT_OK;
      g_main_loop_quit (s->loop);
      break;
    case FW_EVENT_FAILED:
      clear_bar (s);
      if (is_cancel_error (ev->error) || s->signals > 0)
        s->exit_code = FRUGAL_EXIT_CANCELLED;
      else
        s->exit_code = frugal_fail (ev->error);
      g_main_loop_quit (s->loop);
      break;
    case FW_EVENT_CANCELLED:
      clear_bar (s);
      s->exit_code = FRUGAL_EXIT_CANCELLED;
      g_main_loop_quit (s->loop);
      break;
    default:
      break;
    }
}

static gboolean
on_signal (gpointer user_data)
{
  RunState *s = user_data;
  s->signals++;
  clear_bar (s);
  if (s->signals == 1)
    {
      fprintf (stderr, "cancelling...\n");
      fflush (stderr);
      fw_job_cancel (s->job);
      return G_SOURCE_CONTINUE;
    }
  /* A second signal while the job winds down: leave now (files are written atomically, so
   * nothing half-written stays behind). */
  fprintf (stderr, "cancelled\n");
  _exit (FRUGAL_EXIT_CANCELLED);
  return G_SOURCE_REMOVE;
}

int
frugal_run_recipe_job (FwRecipe *recipe)
{
  RunState s = { 0 };
  s.loop = g_main_loop_new (NULL, FALSE);
  s.tty = isatty (STDERR_FILENO);
  s.n_epochs = recipe->train.epochs;
  s.exit_code = FRUGAL_EXIT_ERROR;
  s.test_acc = NAN;

  /* a recipe with an extension's group ([prune], [grow] ...) is a job of that kind */
  const FwRecipeExt *ext = fw_recipe_ext_of (recipe);
  FwJobFunc job_func = ext != NULL ? ext->run : fw_recipe_job_run;
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  g_autofree char *name = g_strdup_printf ("%s %s", ext != NULL ? ext->group : "run",
                                           recipe->name != NULL ? recipe->name : "");
  g_autoptr (FwJob) job = fw_job_runner_submit (runner, name, job_func,
                                                g_steal_pointer (&recipe),
                                                (GDestroyNotify) fw_recipe_free,
                                                NULL, on_run_event, &s);
  s.job = job;
  guint sigint = g_unix_signal_add (SIGINT, on_signal, &s);
  guint sigterm = g_unix_signal_add (SIGTERM, on_signal, &s);

  g_main_loop_run (s.loop);

  g_source_remove (sigint);
  g_source_remove (sigterm);
  /* waits for the worker thread to finish */
  g_clear_pointer (&runner, fw_job_runner_free);
  g_main_loop_unref (s.loop);

  if (s.exit_code == FRUGAL_EXIT_OK && ext == NULL)
    {
      if (s.run_dir != NULL)
        printf ("run folder: %s\n", s.run_dir);
      g_autofree char *acc = frugal_format_percent (s.test_acc);
      printf ("test accuracy: %s\n", acc);
      fflush (stdout);
    }
  else if (s.exit_code == FRUGAL_EXIT_CANCELLED)
    {
      fprintf (stderr, "cancelled\n");
    }
  g_free (s.run_dir);
  return s.exit_code;
}

int
frugal_cmd_run (int argc, char **argv)
{
  g_autofree char *out_dir = NULL;
  int threads = -1, epochs = -1;
  gint64 seed = -1;
  GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir,
      "Write the run folder here (overrides [output] dir)", "DIR" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads,
      "Number of threads (overrides [run] threads)", "N" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed,
      "Random seed (overrides [run] seed)", "S" },
    { "epochs", 'e', 0, G_OPTION_ARG_INT, &epochs,
      "Number of epochs (overrides [train] epochs)", "E" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("RECIPE.ini");
  g_option_context_set_summary (ctx, "Train a model from a recipe file. The run folder receives "
                                "recipe.ini, metrics.csv, summary.json and model.safetensors.\n"
                                "Ctrl-C cancels the run cleanly (exit code 130).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!frugal_parse_options (ctx, "run", &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (argc != 2)
    return frugal_usage_error ("run", "expected one RECIPE.ini, got %d arguments", argc - 1);
  if (threads != -1 && threads < 1)
    return frugal_usage_error ("run", "--threads %d: give at least 1", threads);
  if (epochs != -1 && epochs < 1)
    return frugal_usage_error ("run", "--epochs %d: give at least 1", epochs);
  if (seed < -1)
    return frugal_usage_error ("run", "--seed %" G_GINT64_FORMAT ": give a seed >= 0", seed);

  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) recipe = fw_recipe_load (argv[1], &error);
  if (recipe == NULL)
    return frugal_fail (error);
  if (out_dir != NULL)
    {
      g_free (recipe->out_dir);
      recipe->out_dir = g_strdup (out_dir);
    }
  if (threads > 0)
    recipe->threads = threads;
  if (seed >= 0)
    {
      recipe->seed = (guint64) seed;
      recipe->train.seed = (guint64) seed;
    }
  if (epochs > 0)
    recipe->train.epochs = epochs;

  return frugal_run_recipe_job (g_steal_pointer (&recipe));
}

/* ---- frugal eval ---- */

static int
count_digits (gint64 v)
{
  int d = 1;
  while (v >= 10)
    {
      v /= 10;
      d++;
    }
  return d;
}

int
frugal_cmd_eval (int argc, char **argv)
{
  g_autofree char *data = NULL;
  int threads = 1, batch = 256;
  gint64 seed = 1;
  GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_STRING, &data,
      "Dataset spec (fashion-mnist:test, digits, sim:N, idx:..., folder:..., csv:...)",
      "SPEC" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Number of threads (default 1)", "N" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Evaluation batch size (default 256)", "B" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed,
      "Seed of a simulated dataset (default 1)", "S" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL.safetensors");
  g_option_context_set_summary (ctx, "Evaluate a saved model on a dataset: accuracy, per-class "
                                "accuracy and the confusion matrix.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!frugal_parse_options (ctx, "eval", &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (argc != 2)
    return frugal_usage_error ("eval", "expected one MODEL.safetensors, got %d arguments",
                               argc - 1);
  if (data == NULL)
    return frugal_usage_error ("eval", "--data SPEC is required (e.g. --data fashion-mnist:test)");
  if (threads < 1 || batch < 1 || seed < 0)
    return frugal_usage_error ("eval", "--threads and --batch must be >= 1, --seed >= 0");

  fw_blas_set_threads (threads);

  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_load (argv[1], NULL, &error);
  if (m == NULL)
    return frugal_fail (error);
  g_autoptr (FwDataset) ds = fw_dataset_load (data, (guint64) seed, NULL, &error);
  if (ds == NULL)
    return frugal_fail (error);

  if (fw_shape_size (ds->shape) != fw_shape_size (m->input)
      || ds->shape.c != m->input.c || ds->shape.h != m->input.h || ds->shape.w != m->input.w)
    return frugal_failf ("%s: dataset '%s' has %dx%dx%d samples but the model expects %dx%dx%d "
                         "(choose a dataset of the model's input size)", argv[1], data,
                         ds->shape.c, ds->shape.h, ds->shape.w,
                         m->input.c, m->input.h, m->input.w);
  if (ds->n_classes != m->n_classes)
    return frugal_failf ("%s: dataset '%s' has %d classes but the model predicts %d "
                         "(choose a dataset with the model's classes)", argv[1], data,
                         ds->n_classes, m->n_classes);
  if (ds->n == 0)
    return frugal_failf ("dataset '%s' is empty", data);

  double t0 = fw_now ();
  g_autoptr (FwEvalResult) r = fw_evaluate (m, ds, batch, NULL, &error);
  if (r == NULL)
    return frugal_fail (error);
  double dt = fw_now () - t0;

  int k = r->n_classes;
  gint64 correct = 0;
  for (int c = 0; c < k; c++)
    correct += r->confusion[c * k + c];

  char **names = ds->class_names != NULL ? ds->class_names : m->class_names;
  g_autofree char *acc = frugal_format_percent (r->accuracy);
  g_autofree char *secs = fw_format_seconds (dt);
  printf ("model:    %s\n", argv[1]);
  printf ("data:     %s (%d samples)\n", ds->name != NULL ? ds->name : data, ds->n);
  printf ("accuracy: %s (%" G_GINT64_FORMAT " of %d correct)\n", acc, correct, r->n);
  printf ("loss:     %.4f (mean cross-entropy)\n", r->loss);
  printf ("time:     %s\n\n", secs);

  /* per-class table */
  int name_w = 5;
  for (int c = 0; c < k; c++)
    if (names != NULL && names[c] != NULL)
      name_w = MAX (name_w, (int) g_utf8_strlen (names[c], -1));
  printf ("%3s  %-*s %8s %9s\n", "#", name_w, "class", "samples", "accuracy");
  for (int c = 0; c < k; c++)
    {
      gint64 row = 0;
      for (int j = 0; j < k; j++)
        row += r->confusion[c * k + j];
      g_autofree char *pc = frugal_format_percent (r->per_class_acc[c]);
      const char *nm = names != NULL && names[c] != NULL ? names[c] : "";
      /* pad by characters, not bytes, for UTF-8 names */
      int pad = name_w - (int) g_utf8_strlen (nm, -1);
      printf ("%3d  %s%*s %8" G_GINT64_FORMAT " %9s\n", c, nm, pad, "", row, pc);
    }

  /* confusion matrix, columns as wide as the largest count */
  gint64 max = 0;
  for (int i = 0; i < k * k; i++)
    max = MAX (max, r->confusion[i]);
  int w = MAX (count_digits (max), count_digits (k - 1)) + 2;
  printf ("\nconfusion matrix (rows: true class, columns: predicted class)\n");
  printf ("%5s", "");
  for (int j = 0; j < k; j++)
    printf ("%*d", w, j);
  printf ("\n");
  for (int c = 0; c < k; c++)
    {
      printf ("%5d", c);
      for (int j = 0; j < k; j++)
        printf ("%*" G_GINT64_FORMAT, w, r->confusion[c * k + j]);
      printf ("\n");
    }
  return FRUGAL_EXIT_OK;
}
