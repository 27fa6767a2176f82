/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal-grow.c: `frugal grow`: architecture growth (TINY, GradMax, random) from a recipe with
 * a [grow] group or from options alone; logs on stderr, the summary on stdout, --csv prints
 * the growth points (growth.csv) instead. */
#include <glib-unix.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "frugal-cli.h"
#include "fw-error.h"
#include "fw-grow.h"
#include "fw-recipe-ext.h"

typedef struct {
  GMainLoop *loop;
  FwJob *job;
  int exit_code;
  gboolean quiet;
  char *csv;            /* the result's growth.csv */
  char *summary;
} GrowState;

static void
on_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  GrowState *s = user_data;
  switch (ev->kind)
    {
    case FW_EVENT_LOG:
      if (!s->quiet)
        fprintf (stderr, "%s\n", ev->message != NULL ? ev->message : "");
      break;
    case FW_EVENT_SNAPSHOT:
      if (g_strcmp0 (ev->payload_type, "grow") == 0)
        {
          g_free (s->csv);
          s->csv = fw_grow_points_csv (ev->payload);
        }
      break;
    case FW_EVENT_FINISHED:
      s->summary = g_strdup (ev->message);
      s->exit_code = FRUGAL_EXIT_OK;
      g_main_loop_quit (s->loop);
      break;
    case FW_EVENT_FAILED:
      s->exit_code = g_error_matches (ev->error, FW_ERROR, FW_ERROR_CANCELLED)
                       ? FRUGAL_EXIT_CANCELLED
                       : frugal_fail (ev->error);
      g_main_loop_quit (s->loop);
      break;
    case FW_EVENT_CANCELLED:
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
  GrowState *s = user_data;
  fprintf (stderr, "cancelling...\n");
  fw_job_cancel (s->job);
  return G_SOURCE_CONTINUE;
}

int
frugal_cmd_grow (int argc, char **argv)
{
  g_autofree char *method = NULL, *dataset = NULL, *arch = NULL, *out = NULL;
  int start = 0, budget = 0, steps = -1, per = 0, max_new = 0, train_limit = -1,
      test_limit = -1, threads = 0, stat = 0, final = -1;
  gint64 seed = -1;
  gboolean no_fixed = FALSE, csv = FALSE, quiet = FALSE, neurons_only = FALSE;
  GOptionEntry entries[] = {
    { "method", 'm', 0, G_OPTION_ARG_STRING, &method, "tiny (default), gradmax or random",
      "METHOD" },
    { "data", 'd', 0, G_OPTION_ARG_STRING, &dataset,
      "Dataset spec (fashion-mnist, digits, sim:N, ...)", "SPEC" },
    { "arch", 'a', 0, G_OPTION_ARG_STRING, &arch,
      "Start network: mlp (two hidden layers) or cnn (two strided 3x3 conv layers)", "ARCH" },
    { "start", 0, 0, G_OPTION_ARG_INT, &start,
      "Neurons (mlp) or channels (cnn) per layer at the start (default 2)", "N" },
    { "budget", 'b', 0, G_OPTION_ARG_INT, &budget, "Grow until this many parameters", "N" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, "At most this many growth steps", "N" },
    { "epochs-per-step", 'e', 0, G_OPTION_ARG_INT, &per,
      "Training epochs after every growth step", "E" },
    { "final-epochs", 0, 0, G_OPTION_ARG_INT, &final,
      "Then train the grown network this many more epochs, the learning rate decaying to 0 "
      "(the fixed-size baseline gets the same epochs, also decaying)", "E" },
    { "max-new", 0, 0, G_OPTION_ARG_INT, &max_new, "Neurons added per step at most (default 8)", "K" },
    { "stat-samples", 0, 0, G_OPTION_ARG_INT, &stat,
      "Samples for the statistics and the line search (default: automatic, 2.5 per incoming "
      "weight of a new neuron, at least 512)", "N" },
    { "train-limit", 0, 0, G_OPTION_ARG_INT, &train_limit,
      "Use at most this many training samples (0 = all)", "N" },
    { "test-limit", 0, 0, G_OPTION_ARG_INT, &test_limit,
      "Evaluate on at most this many test samples (0 = all)", "N" },
    { "neurons-only", 0, 0, G_OPTION_ARG_NONE, &neurons_only,
      "TINY: add the new neurons only, without the update dW* of the existing weights", NULL },
    { "no-fixed", 0, 0, G_OPTION_ARG_NONE, &no_fixed,
      "Do not train the fixed-size baselines", NULL },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Random seed", "S" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Number of threads", "N" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Write the run folder here", "DIR" },
    { "csv", 0, 0, G_OPTION_ARG_NONE, &csv,
      "Print the growth points as CSV on stdout (and the summary on stderr)", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No log lines", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("[RECIPE.ini]");
  g_option_context_set_summary (ctx,
    "Grow a tiny network where it lacks expressivity (TINY, Verbockhaven et al. 2024), or with "
    "the GradMax or random baselines, up to a parameter budget; then train the final "
    "architecture from scratch for the same epochs and for the same training compute. Options override the recipe's [grow], "
    "[data] and [model] keys; without a recipe: an mlp 2-2 on fashion-mnist.\n"
    "The run folder receives recipe.ini, growth.csv, summary.json, model.safetensors and "
    "fixed.safetensors.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!frugal_parse_options (ctx, "grow", &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (argc > 2)
    return frugal_usage_error ("grow", "expected at most one RECIPE.ini, got %d arguments",
                               argc - 1);
  FwGrowMethod mth;
  if (method != NULL && !fw_grow_method_parse (method, &mth))
    return frugal_usage_error ("grow", "--method %s: choose tiny, gradmax or random", method);
  if (arch != NULL && g_strcmp0 (arch, "mlp") != 0 && g_strcmp0 (arch, "cnn") != 0)
    return frugal_usage_error ("grow", "--arch %s: choose mlp or cnn", arch);
  if (start < 0 || budget < 0 || per < 0 || max_new < 0 || threads < 0 || stat < 0
      || (steps < -1) || final < -1 || seed < -1)
    return frugal_usage_error ("grow", "numbers must not be negative");

  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) r = argc == 2 ? fw_recipe_load (argv[1], &error)
                                     : fw_recipe_new_default ();
  if (r == NULL)
    return frugal_fail (error);
  if (argc < 2)
    {
      g_free (r->name);
      r->name = g_strdup ("grow");
      g_free (r->widths);
      r->widths = g_strdup ("2,2");
      r->val_fraction = 0;
      r->threads = 1;
    }
  if (dataset != NULL)
    {
      g_free (r->dataset);
      r->dataset = g_strdup (dataset);
    }
  if (arch != NULL || start > 0)
    {
      int w = start > 0 ? start : 2;
      gboolean cnn = arch != NULL ? g_strcmp0 (arch, "cnn") == 0
                                  : g_strcmp0 (r->arch, "custom") == 0;
      g_free (r->arch);
      g_free (r->widths);
      g_free (r->spec);
      r->arch = g_strdup (cnn ? "custom" : "mlp");
      r->widths = g_strdup_printf ("%d,%d", w, w);
      /* the number of classes is set when the dataset is known: 10 for every built-in one;
       * the job checks it against the data */
      r->spec = g_strdup_printf ("conv:%d:3:2:1,relu,conv:%d:3:2:1,relu,flatten,dense:10", w, w);
    }
  if (train_limit >= 0)
    r->train_limit = train_limit;
  if (threads > 0)
    r->threads = threads;
  if (seed >= 0)
    r->seed = r->train.seed = (guint64) seed;
  if (out != NULL)
    {
      g_free (r->out_dir);
      r->out_dir = g_strdup (out);
    }
  /* [grow] keys: present even when all defaults, so the recipe is a growth job */
  if (method != NULL || !fw_recipe_has_group (r, "grow"))
    fw_recipe_ext_set (r, "grow", "method", method != NULL ? method : "tiny");
#define SET_INT(key, v, cond)                                       \
  if (cond)                                                         \
    {                                                               \
      g_autofree char *t = g_strdup_printf ("%d", (int) (v));       \
      fw_recipe_ext_set (r, "grow", key, t);                        \
    }
  SET_INT ("budget", budget, budget > 0);
  SET_INT ("max_steps", steps, steps >= 0);
  SET_INT ("epochs_per_step", per, per > 0);
  SET_INT ("final_epochs", final, final >= 0);
  SET_INT ("max_new", max_new, max_new > 0);
  SET_INT ("stat_samples", stat, stat > 0);
  SET_INT ("test_limit", test_limit, test_limit >= 0);
#undef SET_INT
  if (no_fixed)
    fw_recipe_ext_set (r, "grow", "fixed_baseline", "false");
  if (neurons_only)
    fw_recipe_ext_set (r, "grow", "update_existing", "false");

  GrowState s = { .exit_code = FRUGAL_EXIT_ERROR, .quiet = quiet };
  s.loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  g_autoptr (FwJob) job = fw_job_runner_submit (runner, "grow", fw_grow_job_run,
                                                g_steal_pointer (&r),
                                                (GDestroyNotify) fw_recipe_free, NULL,
                                                on_event, &s);
  s.job = job;
  guint sigint = g_unix_signal_add (SIGINT, on_signal, &s);
  guint sigterm = g_unix_signal_add (SIGTERM, on_signal, &s);
  g_main_loop_run (s.loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_clear_pointer (&runner, fw_job_runner_free);
  g_main_loop_unref (s.loop);

  if (s.exit_code == FRUGAL_EXIT_OK)
    {
      if (csv && s.csv != NULL)
        fputs (s.csv, stdout);
      if (s.summary != NULL)
        fprintf (csv ? stderr : stdout, "%s\n", s.summary);
    }
  else if (s.exit_code == FRUGAL_EXIT_CANCELLED)
    fprintf (stderr, "cancelled\n");
  g_free (s.csv);
  g_free (s.summary);
  return s.exit_code;
}
