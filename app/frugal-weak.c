/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal-weak.c: `frugal weak`, `frugal active`, `frugal calibrate`: the few-label recipe jobs
 * ([weak], [active], [calibrate]; fw-weak-job.h) from a recipe and/or command-line options. */
#include <stdio.h>
#include <string.h>

#include "fw-error.h"
#include "fw-recipe-ext.h"
#include "fw-weak-job.h"

#include "frugal-cli.h"

typedef struct {
  const char *option;     /* long option name */
  const char *key;        /* the group's key */
  const char *help;
  const char *arg;        /* argument name shown in --help */
} KeyOption;

#define MAX_OPTIONS 16

typedef struct {
  const char *command;    /* "weak" */
  const char *group;      /* "weak" */
  const char *title;      /* one line for the usage line */
  const char *summary;
  const char *default_dataset;
  KeyOption options[MAX_OPTIONS];
} CommandInfo;

static const CommandInfo weak_info = {
  "weak", "weak", "test accuracy with few labels per pre-training method",
  "Test accuracy with few labels (10 per class by default) for each method: supervised only,\n"
  "autoencoder pre-training (dense or conv), rotation and masked-patch pretexts, VICReg and\n"
  "DINO invariance learning, ClusterFit, self-training with pseudo-labels; each pre-trained\n"
  "encoder is linear-probed and fine-tuned on the labels. Mean ± std over seeds.\n"
  "Writes results.csv, pretext.csv, selftrain.csv, embedding-std.csv, summary.json.",
  "fashion-mnist",
  { { "method", "methods", "Methods: all or a list of supervised, ae, rotation, masked, vicreg, "
      "dino, clusterfit, selftrain", "LIST" },
    { "per-class", "per_class", "Labelled samples per class (10)", "N" },
    { "unlabelled", "unlabelled", "Unlabelled pool for pre-training (5000; 0 = all)", "N" },
    { "seeds", "seeds", "Seeds (3)", "N" },
    { "encoder", "encoder", "dense or conv (dense)", "KIND" },
    { "pretrain-epochs", "pretrain_epochs", "Pre-training epochs (10)", "N" },
    { "finetune-epochs", "finetune_epochs", "Fine-tuning epochs (60)", "N" },
    { "rounds", "rounds", "Self-training rounds (5)", "N" },
    { "threshold", "threshold", "Self-training confidence threshold (0.9)", "P" },
    { "test-limit", "test_limit", "Test on at most N samples (0 = all)", "N" },
    { NULL } },
};

static const CommandInfo active_info = {
  "active", "active", "active-learning curves per query strategy",
  "Active learning: start with a few labels per class, then rounds of train, query a batch\n"
  "by least-confidence, margin, entropy, core-set (k-centre on embeddings) or random, reveal\n"
  "the true labels. Test accuracy vs number of labels per strategy; writes curves.csv.",
  "fashion-mnist",
  { { "strategies", "strategies", "all or a list of least-confidence, margin, entropy, "
      "coreset, random", "LIST" },
    { "start", "start_per_class", "Labels per class to start with (2)", "N" },
    { "batch", "batch", "Samples queried per round (20)", "N" },
    { "rounds", "rounds", "Query rounds (8)", "N" },
    { "pool", "pool", "Candidates scored per round (3000; 0 = all)", "N" },
    { "seeds", "seeds", "Seeds (1)", "N" },
    { "epochs", "epochs", "Training epochs per round (40)", "N" },
    { "test-limit", "test_limit", "Test on at most N samples (0 = all)", "N" },
    { NULL } },
};

static const CommandInfo calibrate_info = {
  "calibrate", "calibrate", "calibration and class proportions of a classifier",
  "Trains an MLP on a few labels, fits a temperature on validation data and reports the\n"
  "reliability diagram (as reliability.csv) and ECE before and after temperature scaling; on a\n"
  "check set whose class proportions may be shifted (--shift-class, --shift-fraction) it\n"
  "compares predicted class proportions and EM re-estimated priors (Saerens et al. 2002) with\n"
  "the true ones (proportions.csv).",
  "fashion-mnist",
  { { "per-class", "per_class", "Labelled training samples per class (100)", "N" },
    { "val-per-class", "val_per_class", "Validation samples per class for T (50)", "N" },
    { "epochs", "epochs", "Training epochs (30)", "N" },
    { "bins", "bins", "Reliability bins (15)", "N" },
    { "check-size", "check_size", "Samples in the check set (2000)", "N" },
    { "shift-class", "shift_class", "Class whose share is changed in the check set (0)", "C" },
    { "shift-fraction", "shift_fraction", "Its share, e.g. 0.8 (0 = unchanged)", "P" },
    { "test-limit", "test_limit", "Test on at most N samples (0 = all)", "N" },
    { NULL } },
};

static int
run_command (const CommandInfo *info, int argc, char **argv)
{
  char *values[MAX_OPTIONS] = { NULL };
  g_autofree char *data = NULL, *out = NULL;
  g_auto (GStrv) sets = NULL;
  int threads = 0;
  gint64 seed = -1;
  GOptionEntry entries[MAX_OPTIONS + 6];
  int n = 0;
  entries[n++] = (GOptionEntry) { "data", 'd', 0, G_OPTION_ARG_STRING, &data,
                                  "Dataset spec (default fashion-mnist)", "SPEC" };
  for (int i = 0; info->options[i].option != NULL; i++)
    entries[n++] = (GOptionEntry) { info->options[i].option, 0, 0, G_OPTION_ARG_STRING,
                                    &values[i], info->options[i].help, info->options[i].arg };
  entries[n++] = (GOptionEntry) { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets,
                                  "Any key of the group (repeatable), e.g. --set dim=32",
                                  "KEY=VALUE" };
  entries[n++] = (GOptionEntry) { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out,
                                  "Run folder (default runs/<name>-<date>)", "DIR" };
  entries[n++] = (GOptionEntry) { "threads", 't', 0, G_OPTION_ARG_INT, &threads,
                                  "BLAS threads (default: the recipe's, else 1)", "N" };
  entries[n++] = (GOptionEntry) { "seed", 's', 0, G_OPTION_ARG_INT64, &seed,
                                  "Base seed (default: the recipe's, else 1)", "S" };
  entries[n] = (GOptionEntry) { NULL };

  g_autofree char *param = g_strdup_printf ("[RECIPE.ini] - %s", info->title);
  g_autoptr (GOptionContext) ctx = g_option_context_new (param);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autofree char *desc = g_strdup_printf ("%s\nA recipe gives the settings ([data] dataset, "
                                           "[run] seed and threads, [output] dir, [%s] keys);\n"
                                           "options given on the command line win.",
                                           info->summary, info->group);
  g_option_context_set_description (ctx, desc);
  gboolean ok = frugal_parse_options (ctx, info->command, &argc, &argv);
  if (!ok)
    {
      for (int i = 0; i < MAX_OPTIONS; i++)
        g_free (values[i]);
      return FRUGAL_EXIT_USAGE;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) r = NULL;
  int code = FRUGAL_EXIT_OK;
  if (argc > 2)
    code = frugal_usage_error (info->command, "unexpected argument '%s'", argv[2]);
  else if (threads < 0)
    code = frugal_usage_error (info->command, "--threads %d: give at least 1", threads);
  else if (argc == 2)
    {
      r = fw_recipe_load (argv[1], &error);
      if (r == NULL)
        code = frugal_fail (error);
      else if (!fw_recipe_has_group (r, info->group))
        /* a plain recipe gives data and run settings; the group comes from the options */
        fw_recipe_ext_set (r, info->group, "seeds", NULL);
    }
  else
    {
      g_autofree char *text = g_strdup_printf ("[data]\ndataset = %s\n[%s]\n",
                                               info->default_dataset, info->group);
      r = fw_recipe_load_data (text, strlen (text), info->command, &error);
      if (r == NULL)
        code = frugal_fail (error);
    }
  for (int i = 0; code == FRUGAL_EXIT_OK && info->options[i].option != NULL; i++)
    if (values[i] != NULL)
      fw_recipe_ext_set (r, info->group, info->options[i].key, values[i]);
  for (int i = 0; i < MAX_OPTIONS; i++)
    g_free (values[i]);
  if (code != FRUGAL_EXIT_OK)
    return code;
  const FwRecipeExt *ext = fw_recipe_ext_lookup (info->group);
  for (int i = 0; sets != NULL && sets[i] != NULL; i++)
    {
      g_auto (GStrv) kv = g_strsplit (sets[i], "=", 2);
      gboolean known = FALSE;
      for (int j = 0; kv[0] != NULL && ext->keys[j] != NULL; j++)
        known |= strcmp (g_strstrip (kv[0]), ext->keys[j]) == 0;
      if (kv[0] == NULL || kv[1] == NULL || !known)
        {
          g_autofree char *keys = g_strjoinv (", ", (char **) ext->keys);
          return frugal_usage_error (info->command, "--set %s: write KEY=VALUE with KEY one "
                                     "of %s", sets[i], keys);
        }
      fw_recipe_ext_set (r, info->group, kv[0], g_strstrip (kv[1]));
    }
  if (data != NULL)
    {
      g_free (r->dataset);
      r->dataset = g_strdup (data);
    }
  if (out != NULL)
    {
      g_free (r->out_dir);
      r->out_dir = g_strdup (out);
    }
  if (threads > 0)
    r->threads = threads;
  if (seed >= 0)
    r->seed = (guint64) seed;
  return frugal_run_recipe_job (g_steal_pointer (&r));
}

int
frugal_cmd_weak (int argc, char **argv)
{
  return run_command (&weak_info, argc, argv);
}

int
frugal_cmd_active (int argc, char **argv)
{
  return run_command (&active_info, argc, argv);
}

int
frugal_cmd_calibrate (int argc, char **argv)
{
  return run_command (&calibrate_info, argc, argv);
}
