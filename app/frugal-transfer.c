/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal-transfer.c: `frugal transfer`: the transfer experiment, the multi-task demonstration,
 * and model surgery (new head, LoRA wrap / merge, parameter counts).
 *
 *   frugal transfer experiment [options]      = frugal run of a [transfer] recipe built from
 *   frugal transfer multitask [options]         the options (written next to the results)
 *   frugal transfer lora MODEL -o OUT [--rank R --alpha A --classes K]
 *   frugal transfer merge MODEL -o OUT
 *   frugal transfer params MODEL [--strategy S --classes K --unfreeze-last N] */
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frugal-cli.h"
#include "fw-error.h"
#include "fw-recipe-ext.h"
#include "fw-safetensors.h"
#include "fw-transfer.h"

/* Runs the recipe text through `frugal run` (progress, Ctrl-C, run folder, summary). */
static int
run_recipe_text (const char *name, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("frugal-transfer-XXXXXX", &error);
  if (tmp == NULL)
    return frugal_fail (error);
  g_autofree char *path = g_build_filename (tmp, name, NULL);
  if (!g_file_set_contents (path, text, -1, &error))
    return frugal_fail (error);
  /* validate before starting: errors name the option's key */
  g_autoptr (FwRecipe) r = fw_recipe_load (path, &error);
  FwTransferConfig c;
  int code;
  if (r == NULL)
    code = frugal_fail (error);
  else if (!fw_transfer_config_from_recipe (r, &c, &error))
    {
      fw_transfer_config_clear (&c); /* filled in part: the caller frees it either way */
      code = frugal_fail (error);
    }
  else
    {
      fw_transfer_config_clear (&c);
      char *argv[] = { (char *) "run", path, NULL };
      code = frugal_cmd_run (2, argv);
    }
  g_unlink (path);
  g_rmdir (tmp);
  return code;
}

static void
add_key (GString *s, const char *key, const char *value)
{
  if (value != NULL)
    g_string_append_printf (s, "%s = %s\n", key, value);
}

static void
add_int (GString *s, const char *key, int value)
{
  if (value >= 0)
    g_string_append_printf (s, "%s = %d\n", key, value);
}

static int
cmd_experiment (int argc, char **argv, gboolean multitask)
{
  g_autofree char *source = NULL, *target = NULL, *source_classes = NULL;
  g_autofree char *target_classes = NULL, *methods = NULL, *labels = NULL, *arch = NULL;
  g_autofree char *source_model = NULL, *out = NULL, *head = NULL;
  int seeds = -1, steps = -1, pretrain = -1, source_limit = -1, test_limit = -1;
  int rank = -1, unfreeze = -1, k = -1, t1 = -1, t2 = -1, epochs = -1, prompt = -1;
  double lr = -1, lr_scale = -1, lr_decay = -1, alpha = -1, mix = -1;
  gint64 seed = 1;
  gboolean quick = FALSE;
  GOptionEntry entries[] = {
    { "source", 0, 0, G_OPTION_ARG_STRING, &source, "Source task dataset (sim:3000:20)", "SPEC" },
    { "source-classes", 0, 0, G_OPTION_ARG_STRING, &source_classes, "Source classes (0-4)",
      "LIST" },
    { "source-model", 0, 0, G_OPTION_ARG_FILENAME, &source_model,
      "A pre-trained model instead of pre-training", "FILE" },
    { "source-limit", 0, 0, G_OPTION_ARG_INT, &source_limit, "Pre-train on at most N samples",
      "N" },
    { "pretrain-epochs", 0, 0, G_OPTION_ARG_INT, &pretrain, "Pre-training epochs (4)", "E" },
    { "target", 0, 0, G_OPTION_ARG_STRING, &target, "Target task dataset (digits)", "SPEC" },
    { "data", 'd', 0, G_OPTION_ARG_STRING, &target, "multitask: the dataset (fashion-mnist)",
      "SPEC" },
    { "target-classes", 0, 0, G_OPTION_ARG_STRING, &target_classes, "Target classes (5-9)",
      "LIST" },
    { "methods", 'm', 0, G_OPTION_ARG_STRING, &methods,
      "scratch,head,finetune,lora,prompt,prefix,knn", "LIST" },
    { "labels", 'l', 0, G_OPTION_ARG_STRING, &labels, "Labels per class (1,5,10,50,0; 0 = all)",
      "LIST" },
    { "seeds", 'n', 0, G_OPTION_ARG_INT, &seeds, "Seeds per point (3)", "N" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "First seed (1)", "S" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, "Optimizer steps per training (150)", "N" },
    { "arch", 'a', 0, G_OPTION_ARG_STRING, &arch, "Architecture (lenet5)", "NAME" },
    { "head", 0, 0, G_OPTION_ARG_STRING, &head, "New head spec (dense:CLASSES)", "SPEC" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Adam learning rate (0.002)", "LR" },
    { "lr-scale", 0, 0, G_OPTION_ARG_DOUBLE, &lr_scale, "Fine-tune lr factor (0.1)", "F" },
    { "lr-decay", 0, 0, G_OPTION_ARG_DOUBLE, &lr_decay, "Fine-tune: per-layer lr factor "
      "decay^depth below the head (1 = off)", "D" },
    { "unfreeze-last", 0, 0, G_OPTION_ARG_INT, &unfreeze, "Fine-tune the last N weight layers "
      "(0 = all)", "N" },
    { "lora-rank", 0, 0, G_OPTION_ARG_INT, &rank, "LoRA rank (4)", "R" },
    { "lora-alpha", 0, 0, G_OPTION_ARG_DOUBLE, &alpha, "LoRA alpha (8)", "A" },
    { "prompt", 0, 0, G_OPTION_ARG_INT, &prompt, "Visual prompt frame width (2)", "PIXELS" },
    { "retrieval-k", 'k', 0, G_OPTION_ARG_INT, &k, "Neighbours of kNN retrieval (5)", "K" },
    { "retrieval-mix", 0, 0, G_OPTION_ARG_DOUBLE, &mix, "Weight of the kNN vote (1)", "W" },
    { "test-limit", 0, 0, G_OPTION_ARG_INT, &test_limit, "At most N test samples", "N" },
    { "task1-per-class", 0, 0, G_OPTION_ARG_INT, &t1, "multitask: task 1 labels per class (10)",
      "N" },
    { "task2-limit", 0, 0, G_OPTION_ARG_INT, &t2, "multitask: task 2 samples (6000)", "N" },
    { "epochs", 'e', 0, G_OPTION_ARG_INT, &epochs, "multitask: epochs (10)", "E" },
    { "quick", 'q', 0, G_OPTION_ARG_NONE, &quick, "Small sizes for a first look (a minute)",
      NULL },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Run folder", "DIR" },
    { NULL },
  };
  const char *name = multitask ? "multitask" : "experiment";
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, multitask
    ? "Multi-task learning: task 1 (few labels per class) alone, with a similar task 2 (coarse "
      "groups of many other images) and with a dissimilar task 2 (random labels), on one shared "
      "trunk. Prints task 1's test accuracy for each (negative transfer shows as a drop)."
    : "Accuracy vs labels per class on the target task for each transfer method, over seeds, "
      "from a model pre-trained on the source task; and accuracy vs training time. Writes "
      "results.csv, curves.csv, summary.json, table.txt, source.safetensors, recipe.ini.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autofree char *cmd = g_strdup_printf ("transfer %s", name);
  if (!frugal_parse_options (ctx, cmd, &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (argc != 1)
    return frugal_usage_error (cmd, "unexpected argument '%s'", argv[1]);
  GString *s = g_string_new ("[model]\n");
  add_key (s, "arch", arch != NULL ? arch : multitask ? "mlp" : "lenet5");
  g_string_append (s, "[train]\n");
  g_autofree char *lrs = g_strdup_printf ("%g", lr > 0 ? lr : 0.002);
  add_key (s, "lr", lrs);
  add_int (s, "epochs", epochs > 0 ? epochs : multitask ? (quick ? 5 : 10) : -1);
  g_string_append (s, "[transfer]\n");
  add_key (s, "mode", name);
  add_key (s, "source", source);
  add_key (s, "source_classes", source_classes);
  add_key (s, "source_model", source_model);
  add_key (s, "target", target != NULL ? target : multitask ? "fashion-mnist" : NULL);
  add_key (s, "target_classes", target_classes);
  add_key (s, "methods", methods);
  add_key (s, "labels_per_class", labels);
  add_key (s, "head", head);
  add_int (s, "source_limit", source_limit);
  add_int (s, "pretrain_epochs", pretrain);
  add_int (s, "seeds", seeds);
  add_int (s, "steps", steps);
  add_int (s, "unfreeze_last", unfreeze);
  add_int (s, "lora_rank", rank);
  add_int (s, "prompt", prompt);
  add_int (s, "retrieval_k", k);
  add_int (s, "test_limit", test_limit);
  add_int (s, "task1_per_class", t1);
  add_int (s, "task2_limit", t2);
  if (lr_scale > 0)
    g_string_append_printf (s, "lr_scale = %g\n", lr_scale);
  if (lr_decay > 0)
    g_string_append_printf (s, "lr_decay = %g\n", lr_decay);
  if (alpha > 0)
    g_string_append_printf (s, "lora_alpha = %g\n", alpha);
  if (mix >= 0)
    g_string_append_printf (s, "retrieval_mix = %g\n", mix);
  if (quick)
    {
      /* a first look: smaller source, fewer points, one seed (explicit options win) */
      if (source == NULL && !multitask)
        add_key (s, "source", "sim:1000:20");
      if (labels == NULL && !multitask)
        add_key (s, "labels_per_class", "1,10,0");
      if (seeds < 0)
        add_int (s, "seeds", 1);
      if (steps < 0 && !multitask)
        add_int (s, "steps", 60);
      if (pretrain < 0 && !multitask)
        add_int (s, "pretrain_epochs", 3);
      if (test_limit < 0)
        add_int (s, "test_limit", 500);
      if (t2 < 0 && multitask)
        add_int (s, "task2_limit", 2000);
    }
  g_string_append_printf (s, "[run]\nseed = %" G_GINT64_FORMAT "\nthreads = 1\n", seed);
  if (out != NULL)
    g_string_append_printf (s, "[output]\ndir = %s\n", out);
  g_autofree char *text = g_string_free (s, FALSE);
  g_autofree char *file = g_strdup_printf ("transfer-%s.ini", name);
  return run_recipe_text (file, text);
}

static void
print_counts (const FwModel *m)
{
  gsize t, f;
  fw_transfer_count (m, &t, &f);
  printf ("trainable parameters: %" G_GSIZE_FORMAT "\nfrozen parameters: %" G_GSIZE_FORMAT
          " (%.1f%% trainable)\n", t, f, t + f > 0 ? 100.0 * t / (t + f) : 0.0);
}

static int
cmd_surgery (int argc, char **argv, const char *what)
{
  g_autofree char *out = NULL, *strategy = NULL;
  int rank = 4, classes = 0, unfreeze = 0, prompt = 2;
  double alpha = 8;
  GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Write the new model here", "FILE" },
    { "rank", 'r', 0, G_OPTION_ARG_INT, &rank, "LoRA rank (4)", "R" },
    { "alpha", 0, 0, G_OPTION_ARG_DOUBLE, &alpha, "LoRA alpha (8)", "A" },
    { "classes", 'c', 0, G_OPTION_ARG_INT, &classes, "A new head with K classes first", "K" },
    { "strategy", 0, 0, G_OPTION_ARG_STRING, &strategy,
      "params: scratch, head, finetune, lora, prompt or prefix", "S" },
    { "unfreeze-last", 0, 0, G_OPTION_ARG_INT, &unfreeze,
      "finetune: the last N weight layers (0 = all)", "N" },
    { "prompt", 0, 0, G_OPTION_ARG_INT, &prompt, "prompt: frame width (2)", "PIXELS" },
    { NULL },
  };
  g_autofree char *cmd = g_strdup_printf ("transfer %s", what);
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL.safetensors");
  g_option_context_set_summary (ctx,
    g_str_equal (what, "lora") ? "Wraps every dense and conv layer before the head in a LoRA "
                                 "adapter (B = 0: the outputs are unchanged) and saves it."
    : g_str_equal (what, "merge") ? "Merges LoRA adapters into plain dense/conv weights "
                                    "W + (alpha/r) B A for inference."
    : "Trainable and frozen parameters of a model under a transfer strategy.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!frugal_parse_options (ctx, cmd, &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (argc != 2)
    return frugal_usage_error (cmd, "expected one MODEL.safetensors, got %d arguments",
                               argc - 1);
  if (!g_str_equal (what, "params") && out == NULL)
    return frugal_usage_error (cmd, "give the output file with --out FILE");
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) src = fw_model_load (argv[1], NULL, &error);
  if (src == NULL)
    return frugal_fail (error);
  g_autoptr (FwModel) m = NULL;
  if (classes > 0)
    {
      m = fw_transfer_new_head (src, classes, NULL, 1, &error);
      if (m == NULL)
        return frugal_fail (error);
      fw_model_unref (src);
      src = g_steal_pointer (&m);
    }
  if (g_str_equal (what, "lora"))
    m = fw_lora_wrap (src, rank, (float) alpha, FALSE, 1, &error);
  else if (g_str_equal (what, "merge"))
    m = fw_lora_merge (src, &error);
  else
    {
      int s = fw_transfer_method_parse (strategy != NULL ? strategy : "head", &error);
      if (s < 0)
        return frugal_fail (error);
      switch (s)
        {
        case FW_TRANSFER_SCRATCH:
          m = fw_model_copy (src);
          fw_transfer_unfreeze_last (m, 0);
          break;
        case FW_TRANSFER_HEAD:
        case FW_TRANSFER_FINETUNE:
          m = fw_transfer_new_head (src, src->n_classes, NULL, 1, &error);
          if (m != NULL && s == FW_TRANSFER_FINETUNE)
            fw_transfer_unfreeze_last (m, unfreeze);
          break;
        case FW_TRANSFER_LORA:
          m = fw_lora_wrap (src, rank, (float) alpha, FALSE, 1, &error);
          break;
        case FW_TRANSFER_PROMPT:
          m = fw_transfer_add_prompt (src, "pad", prompt, &error);
          break;
        case FW_TRANSFER_PREFIX:
          m = fw_transfer_add_prefix (src, 1, &error);
          break;
        default:
          return frugal_failf ("transfer params: '%s' trains nothing (kNN retrieval only "
                               "stores embeddings)", strategy);
        }
    }
  if (m == NULL)
    return frugal_fail (error);
  g_autofree char *desc = fw_model_describe (m);
  printf ("%s", desc);
  print_counts (m);
  if (out != NULL)
    {
      if (!fw_model_save (m, out, NULL, &error))
        return frugal_fail (error);
      printf ("saved %s\n", out);
    }
  return FRUGAL_EXIT_OK;
}

int
frugal_cmd_transfer (int argc, char **argv)
{
  static const char *const usage =
    "Usage: frugal transfer COMMAND [OPTIONS]\n\n"
    "  experiment   accuracy vs labels per class for each transfer method (and vs time)\n"
    "  multitask    one trunk, two heads: similar vs dissimilar second task\n"
    "  lora         wrap a model's dense/conv layers in LoRA adapters\n"
    "  merge        merge LoRA adapters into the weights\n"
    "  params       trainable vs frozen parameters under a strategy\n\n"
    "frugal transfer COMMAND --help for the options. A [transfer] recipe runs with frugal run.\n";
  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    {
      fputs (usage, argc < 2 ? stderr : stdout);
      return argc < 2 ? FRUGAL_EXIT_USAGE : FRUGAL_EXIT_OK;
    }
  const char *sub = argv[1];
  if (g_str_equal (sub, "experiment") || g_str_equal (sub, "multitask"))
    return cmd_experiment (argc - 1, argv + 1, g_str_equal (sub, "multitask"));
  if (g_str_equal (sub, "lora") || g_str_equal (sub, "merge") || g_str_equal (sub, "params"))
    return cmd_surgery (argc - 1, argv + 1, sub);
  fprintf (stderr, "frugal transfer: unknown command '%s'\n\n%s", sub, usage);
  return FRUGAL_EXIT_USAGE;
}
