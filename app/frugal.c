/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal.c: the headless `frugal` program: a tiny main that dispatches to sub-commands. */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frugal-cli.h"

typedef struct {
  const char *name;
  FrugalCommandFunc func;
  const char *summary;
} FrugalCommand;

static const FrugalCommand commands[] = {
  { "run",      frugal_cmd_run,      "train a model from a recipe (.ini) into a run folder" },
  { "eval",     frugal_cmd_eval,     "evaluate a saved model on a dataset" },
  { "info",     frugal_cmd_info,     "describe a saved model: layers, parameters, bytes, FLOPs" },
  { "datasets", frugal_cmd_datasets, "list the known datasets and whether they are here" },
  { "layers",   frugal_cmd_layers,   "list the layer kinds and named architectures" },
  { "bench",    frugal_cmd_bench,    "time training and inference on Fashion-MNIST "
                                     "(the counterpart of torch_fmnist.py)" },
  { "noise-curve", frugal_cmd_noise_curve, "test accuracy vs label-noise rate per training-set "
                                     "size and seed, as CSV" },
  { "embed",    frugal_cmd_embed,    "project pixels or a model layer's features to 2-D "
                                     "(PCA, t-SNE) as CSV" },
  { "augment",  frugal_cmd_augment,  "a PNG grid of augmented samples; the pipeline's cost" },
  { "augment-sweep", frugal_cmd_augment_sweep, "test accuracy vs labels per class with no "
                                     "augmentation, geometric, RandAugment, CutMix, as CSV" },
  { "prune",    frugal_cmd_prune,    "prune weights, neurons, channels or layers; lottery tickets; "
                                     "save the physically smaller model" },
  { "compare",  frugal_cmd_compare,  "compare saved models: accuracy, bytes on disk, FLOPs, "
                                     "latency; CSV/Markdown/LaTeX" },
  { "transfer", frugal_cmd_transfer, "transfer learning: experiment, multitask, lora, merge, "
                                     "params" },
  { "decompose", frugal_cmd_decompose, "low-rank (SVD), CP, Tucker, tensor-train or "
                                     "hierarchical Tucker layers of a trained model" },
  { "distill",  frugal_cmd_distill,  "train a small student on a teacher's softened outputs" },
  { "grow",     frugal_cmd_grow,     "grow a tiny network where it lacks expressivity (TINY, "
                                     "GradMax, random) up to a parameter budget" },
  { "quantize", frugal_cmd_quantize, "quantize a model: fp16, int8 (calibrated), ternary or "
                                     "binary (STE)" },
  { "cluster",  frugal_cmd_cluster,  "cluster a model's weights (k-means, k = 5) and fine-tune "
                                     "them tied to the centres" },
  { "weak",     frugal_cmd_weak,     "few labels: supervised vs autoencoder, pretext, invariance "
                                     "pre-training, self-training" },
  { "active",   frugal_cmd_active,   "active learning: accuracy vs labels per query strategy" },
  { "calibrate", frugal_cmd_calibrate, "reliability diagram, ECE, temperature scaling, class "
                                     "proportions by EM" },
  { "lecture",  frugal_cmd_lecture,  "the lecture demos: list them, run one headless with its figure" },
  { "session",  frugal_cmd_session,  "check and describe a session snapshot (.fwsession)" },
};

static void
print_usage (FILE *out)
{
  fprintf (out,
           "Usage:\n"
           "  frugal COMMAND [OPTION...] [ARGUMENT...]\n"
           "\n"
           "Frugal Workbench on the command line.\n"
           "\n"
           "Commands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-12s %s\n", commands[i].name, commands[i].summary);
  fprintf (out,
           "\n"
           "Run 'frugal COMMAND --help' for a command's options.\n");
}

int
frugal_fail (const GError *error)
{
  fprintf (stderr, "frugal: %s\n", error != NULL ? error->message : "unknown error");
  return FRUGAL_EXIT_ERROR;
}

int
frugal_failf (const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  fprintf (stderr, "frugal: %s\n", msg);
  return FRUGAL_EXIT_ERROR;
}

gboolean
frugal_parse_options (GOptionContext *ctx, const char *name, int *argc, char ***argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *prgname = g_strdup_printf ("frugal %s", name);

  /* --help output starts with "Usage: <prgname> ..." */
  g_set_prgname (prgname);
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      fprintf (stderr, "frugal %s: %s\nTry 'frugal %s --help'.\n", name, error->message, name);
      return FALSE;
    }
  return TRUE;
}

int
frugal_usage_error (const char *name, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  fprintf (stderr, "frugal %s: %s\nTry 'frugal %s --help'.\n", name, msg, name);
  return FRUGAL_EXIT_USAGE;
}

char *
frugal_format_percent (double fraction)
{
  if (isnan (fraction))
    return g_strdup ("n/a");
  return g_strdup_printf ("%.1f%%", 100.0 * fraction);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  /* Numbers on stdout are read by scripts (JSON, CSV): always a decimal point. */
  setlocale (LC_NUMERIC, "C");
  g_set_prgname ("frugal");

  if (argc < 2)
    {
      print_usage (stderr);
      return FRUGAL_EXIT_USAGE;
    }
  const char *cmd = argv[1];
  if (strcmp (cmd, "--help") == 0 || strcmp (cmd, "-h") == 0 || strcmp (cmd, "help") == 0)
    {
      print_usage (stdout);
      return FRUGAL_EXIT_OK;
    }
  if (strcmp (cmd, "--version") == 0)
    {
      printf ("frugal 0.1.0\n");
      return FRUGAL_EXIT_OK;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (cmd, commands[i].name) == 0)
      return commands[i].func (argc - 1, argv + 1);

  fprintf (stderr, "frugal: unknown command '%s'\n\n", cmd);
  print_usage (stderr);
  return FRUGAL_EXIT_USAGE;
}
