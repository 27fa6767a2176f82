/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal-prune.c: `frugal prune [RECIPE.ini] [--model M.safetensors] [OPTION...]`, the [prune]
 * job from the command line. The options mirror the recipe's keys ([prune] and a few of
 * [data], [model], [train], [run], [output]); given options override the recipe's values. */
#include <math.h>
#include <stdio.h>

#include "fw-prune.h"
#include "fw-recipe-ext.h"

#include "frugal-cli.h"

typedef struct {
  const char *key;     /* [prune] key */
  char *value;         /* a string option, or NULL when not given */
} StrOpt;

int
frugal_cmd_prune (int argc, char **argv)
{
  g_autofree char *model = NULL, *dataset = NULL, *arch = NULL, *widths = NULL;
  g_autofree char *criterion = NULL, *granularity = NULL, *scope = NULL, *schedule = NULL;
  g_autofree char *sparsity = NULL, *l1 = NULL, *group_lasso = NULL, *finetune_lr = NULL;
  g_autofree char *out = NULL, *lr = NULL;
  int steps = -1, finetune_epochs = -1, score_batches = -1, reg_epochs = -1;
  int rewind_batches = -1, seeds = -1, epochs = -1, threads = -1, train_limit = -1;
  gint64 seed = -1;
  gboolean lottery = FALSE, no_prune_last = FALSE, no_random = FALSE, no_compact = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model,
      "Prune this saved model instead of training one ([prune] model)", "M.safetensors" },
    { "dataset", 'd', 0, G_OPTION_ARG_STRING, &dataset,
      "Dataset spec for fine-tuning and testing ([data] dataset)", "SPEC" },
    { "arch", 0, 0, G_OPTION_ARG_STRING, &arch, "Architecture to train ([model] arch)", "A" },
    { "widths", 0, 0, G_OPTION_ARG_STRING, &widths, "mlp widths ([model] widths)", "W,W" },
    { "epochs", 'e', 0, G_OPTION_ARG_INT, &epochs, "Training epochs ([train] epochs)", "E" },
    { "lr", 0, 0, G_OPTION_ARG_STRING, &lr, "Learning rate ([train] lr)", "LR" },
    { "train-limit", 0, 0, G_OPTION_ARG_INT, &train_limit,
      "Use at most N training samples ([data] train_limit)", "N" },
    { "criterion", 'c', 0, G_OPTION_ARG_STRING, &criterion,
      "magnitude | saliency | snip | movement", "C" },
    { "granularity", 'g', 0, G_OPTION_ARG_STRING, &granularity,
      "weights | blocks | neurons | channels | units | layers", "G" },
    { "scope", 0, 0, G_OPTION_ARG_STRING, &scope, "per-layer | global", "S" },
    { "sparsity", 'p', 0, G_OPTION_ARG_STRING, &sparsity,
      "Fraction of weights (units, blocks) to remove, in [0, 1)", "F" },
    { "schedule", 0, 0, G_OPTION_ARG_STRING, &schedule, "oneshot | cubic | geometric", "S" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, "Prune steps (iterative schedules)", "N" },
    { "finetune-epochs", 'f', 0, G_OPTION_ARG_INT, &finetune_epochs,
      "Fine-tuning epochs after each step", "N" },
    { "finetune-lr", 0, 0, G_OPTION_ARG_STRING, &finetune_lr,
      "Fine-tuning learning rate (0 = the training lr)", "LR" },
    { "score-batches", 0, 0, G_OPTION_ARG_INT, &score_batches,
      "Minibatches of gradients for saliency and snip", "N" },
    { "no-prune-last", 0, 0, G_OPTION_ARG_NONE, &no_prune_last,
      "Leave the logits layer's weights unpruned", NULL },
    { "l1", 0, 0, G_OPTION_ARG_STRING, &l1, "L1 strength (proximal steps)", "L" },
    { "group-lasso", 0, 0, G_OPTION_ARG_STRING, &group_lasso,
      "Group-Lasso strength on neurons/filters", "L" },
    { "reg-epochs", 0, 0, G_OPTION_ARG_INT, &reg_epochs,
      "Regularised epochs before pruning", "N" },
    { "lottery", 0, 0, G_OPTION_ARG_NONE, &lottery,
      "Lottery ticket: train, prune, rewind, repeat; compare with a random re-init", NULL },
    { "rewind-batches", 0, 0, G_OPTION_ARG_INT, &rewind_batches,
      "Lottery: rewind to the weights after N minibatches (0 = init)", "N" },
    { "no-random-reinit", 0, 0, G_OPTION_ARG_NONE, &no_random,
      "Lottery: skip the random re-initialisation control", NULL },
    { "seeds", 0, 0, G_OPTION_ARG_INT, &seeds, "Lottery: number of seeds", "N" },
    { "no-compact", 0, 0, G_OPTION_ARG_NONE, &no_compact,
      "Save the masked dense model instead of the smaller one", NULL },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Run folder ([output] dir)", "DIR" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Random seed ([run] seed)", "S" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads ([run] threads)", "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("[RECIPE.ini]");
  g_option_context_set_summary (ctx, "Prune a model: train it (or load --model), prune weights, "
                                "neurons, channels or layers by magnitude, saliency, SNIP or "
                                "movement, fine-tune, and save the physically smaller model "
                                "(smaller dense/conv layers, or CSR sparse layers).\n"
                                "The run folder receives model.safetensors (as stored), "
                                "dense.safetensors, metrics.csv, summary.json, recipe.ini.\n"
                                "Options override the recipe's [prune] and base keys.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!frugal_parse_options (ctx, "prune", &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (argc > 2)
    return frugal_usage_error ("prune", "expected at most one RECIPE.ini, got %d arguments",
                               argc - 1);
  if (argc < 2 && model != NULL && dataset == NULL)
    return frugal_usage_error ("prune", "--model needs --dataset (the data to fine-tune and "
                               "test on), or a recipe");

  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) r = argc == 2 ? fw_recipe_load (argv[1], &error)
                                     : fw_recipe_new_default ();
  if (r == NULL)
    return frugal_fail (error);
  if (argc < 2)
    {
      g_free (r->name);
      r->name = g_strdup ("prune");
    }
#define SET_STR(field, v) \
  if ((v) != NULL) \
    { \
      g_free (r->field); \
      r->field = g_strdup (v); \
    }
  SET_STR (dataset, dataset);
  SET_STR (arch, arch);
  SET_STR (widths, widths);
  SET_STR (out_dir, out);
#undef SET_STR
  if (epochs >= 0)
    r->train.epochs = epochs;
  if (train_limit >= 0)
    r->train_limit = train_limit;
  if (threads > 0)
    r->threads = threads;
  if (seed >= 0)
    r->seed = r->train.seed = (guint64) seed;
  if (lr != NULL)
    {
      char *end = NULL;
      double v = g_ascii_strtod (lr, &end);
      if (end == lr || *end != '\0' || !(v > 0))
        return frugal_usage_error ("prune", "--lr %s: give a positive number", lr);
      r->train.lr = v;
    }

  const StrOpt strs[] = {
    { "model", model }, { "criterion", criterion }, { "granularity", granularity },
    { "scope", scope }, { "sparsity", sparsity }, { "schedule", schedule }, { "l1", l1 },
    { "group_lasso", group_lasso }, { "finetune_lr", finetune_lr },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (strs); i++)
    if (strs[i].value != NULL)
      fw_recipe_ext_set (r, "prune", strs[i].key, strs[i].value);
  const struct { const char *key; int v; } ints[] = {
    { "steps", steps }, { "finetune_epochs", finetune_epochs },
    { "score_batches", score_batches }, { "reg_epochs", reg_epochs },
    { "rewind_batches", rewind_batches }, { "seeds", seeds },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (ints); i++)
    if (ints[i].v >= 0)
      {
        g_autofree char *v = g_strdup_printf ("%d", ints[i].v);
        fw_recipe_ext_set (r, "prune", ints[i].key, v);
      }
  if (lottery)
    fw_recipe_ext_set (r, "prune", "lottery", "true");
  if (no_prune_last)
    fw_recipe_ext_set (r, "prune", "prune_last", "false");
  if (no_random)
    fw_recipe_ext_set (r, "prune", "random_reinit", "false");
  if (no_compact)
    fw_recipe_ext_set (r, "prune", "compact", "false");
  if (!fw_recipe_has_group (r, "prune"))
    fw_recipe_ext_set (r, "prune", "sparsity", "0.9");

  /* bad values are usage errors, before any work starts */
  FwPruneConfig cfg;
  if (!fw_prune_config_from_recipe (&cfg, r, &error))
    return frugal_usage_error ("prune", "%s", error->message);
  fw_prune_config_clear (&cfg);
  return frugal_run_recipe_job (g_steal_pointer (&r));
}
