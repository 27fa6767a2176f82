/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal-decompose.c: `frugal decompose` (low-rank / CP / Tucker / TT / HT of a trained model)
 * and `frugal distill` (a small student taught by a trained teacher). Both build a recipe
 * with a [decompose] / [distill] group from the options (or load one) and run the same work
 * as `frugal run RECIPE.ini` and the GUI, on this thread. */
#include <math.h>
#include <stdio.h>

#include "frugal-cli.h"
#include "fw-distill.h"
#include "fw-engine.h"
#include "fw-lowrank.h"
#include "fw-recipe-ext.h"

static void
set_int (FwRecipe *r, const char *group, const char *key, int v)
{
  g_autofree char *t = g_strdup_printf ("%d", v);
  fw_recipe_ext_set (r, group, key, t);
}

static void
set_double (FwRecipe *r, const char *group, const char *key, double v)
{
  char t[G_ASCII_DTOSTR_BUF_SIZE];
  fw_recipe_ext_set (r, group, key, g_ascii_dtostr (t, sizeof t, v));
}

/* A recipe from RECIPE.ini or the defaults, with the shared options applied. */
static FwRecipe *
base_recipe (const char *ini, const char *name, const char *data, int train_limit, gint64 seed,
             const char *out, GError **error)
{
  FwRecipe *r = ini != NULL ? fw_recipe_load (ini, error) : fw_recipe_new_default ();
  if (r == NULL)
    return NULL;
  if (ini == NULL)
    {
      g_free (r->name);
      r->name = g_strdup (name);
      r->val_fraction = 0;
      r->train.opt = FW_OPT_ADAM;
      r->train.lr = 1e-3;
      r->train.batch = 64;
    }
  if (data != NULL)
    {
      g_free (r->dataset);
      r->dataset = g_strdup (data);
    }
  if (train_limit >= 0)
    r->train_limit = train_limit;
  if (seed >= 0)
    r->seed = r->train.seed = (guint64) seed;
  if (out != NULL)
    {
      g_free (r->out_dir);
      r->out_dir = g_strdup (out);
    }
  fw_blas_set_threads (MAX (r->threads, 1));
  return r;
}

static gboolean
is_ini (const char *p)
{
  return g_str_has_suffix (p, ".ini");
}

int
frugal_cmd_decompose (int argc, char **argv)
{
  g_autofree char *method = NULL, *ranks = NULL, *layers = NULL, *data = NULL, *out = NULL;
  int rank = -1, iters = -2, modes = -1, min_weights = -1, finetune = -1, train_limit = -1;
  double energy = -1;
  gint64 seed = -1;
  gboolean csv = FALSE, curves = FALSE;
  GOptionEntry entries[] = {
    { "method", 'm', 0, G_OPTION_ARG_STRING, &method,
      "svd (dense, default), cp or tucker (conv), tt or ht (dense)", "METHOD" },
    { "rank", 'r', 0, G_OPTION_ARG_INT, &rank, "Rank (svd, cp), Tucker ranks, maximal TT/HT "
      "rank; 0 = chosen by --energy", "R" },
    { "ranks", 0, 0, G_OPTION_ARG_STRING, &ranks,
      "A sweep of ranks, e.g. 2,4,8,16: one model per rank (accuracy vs compression)", "LIST" },
    { "energy", 'e', 0, G_OPTION_ARG_DOUBLE, &energy,
      "With rank 0: keep this fraction of the squared Frobenius norm (default 0.9)", "F" },
    { "iters", 0, 0, G_OPTION_ARG_INT, &iters,
      "CP: ALS sweeps (40); Tucker: HOOI refinement sweeps after HOSVD (0)", "N" },
    { "modes", 0, 0, G_OPTION_ARG_INT, &modes, "TT: number of modes (default 3)", "D" },
    { "layers", 'l', 0, G_OPTION_ARG_STRING, &layers,
      "Only these layers (1-based, as in 'frugal info'), e.g. 2,4", "LIST" },
    { "min-weights", 0, 0, G_OPTION_ARG_INT, &min_weights,
      "Leave layers with fewer weights (default 1000)", "N" },
    { "finetune", 'f', 0, G_OPTION_ARG_INT, &finetune,
      "Fine-tune each decomposed model for this many epochs in factored form", "EPOCHS" },
    { "data", 'd', 0, G_OPTION_ARG_STRING, &data,
      "Dataset to measure (and fine-tune) on (default fashion-mnist)", "SPEC" },
    { "train-limit", 0, 0, G_OPTION_ARG_INT, &train_limit,
      "Fine-tune on at most this many training samples", "N" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Random seed", "S" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Write the run folder here", "DIR" },
    { "csv", 0, 0, G_OPTION_ARG_NONE, &csv, "Print decompose.csv on stdout", NULL },
    { "curves", 0, 0, G_OPTION_ARG_NONE, &curves,
      "Print curves.csv (reconstruction error vs rank per layer) on stdout", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL.safetensors | RECIPE.ini");
  g_option_context_set_summary (ctx,
    "Decompose the layers of a trained model and run it in factored form: truncated SVD of "
    "dense layers (two thin layers), CP (1x1, Kx1, 1xK, 1x1 convolutions) or Tucker-2 (1x1, "
    "KxK, 1x1) of conv kernels, tensor-train or hierarchical Tucker dense layers. Measures "
    "parameters, bytes on disk, FLOPs and test accuracy of each result, optionally after "
    "fine-tuning. The run folder receives decompose.csv, curves.csv, layers.csv, "
    "summary.json, original.safetensors and the decomposed models. Options override a "
    "recipe's [decompose] keys.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!frugal_parse_options (ctx, "decompose", &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (argc != 2)
    return frugal_usage_error ("decompose", "expected one MODEL.safetensors or RECIPE.ini");
  FwDecompMethod mth;
  if (method != NULL && !fw_decomp_method_parse (method, &mth, NULL))
    return frugal_usage_error ("decompose", "--method %s: choose svd, cp, tucker, tt or ht",
                               method);
  if (energy != -1 && !(energy > 0 && energy <= 1))
    return frugal_usage_error ("decompose", "--energy %g: give a fraction in (0, 1]", energy);

  g_autoptr (GError) error = NULL;
  gboolean ini = is_ini (argv[1]);
  g_autoptr (FwRecipe) r = base_recipe (ini ? argv[1] : NULL, "decompose", data, train_limit,
                                        seed, out, &error);
  if (r == NULL)
    return frugal_fail (error);
  const char *G = "decompose";
  if (!ini)
    fw_recipe_ext_set (r, G, "model", argv[1]);
  if (method != NULL || !fw_recipe_has_group (r, G))
    fw_recipe_ext_set (r, G, "method", method != NULL ? method : "svd");
  if (rank >= 0)
    set_int (r, G, "rank", rank);
  if (ranks != NULL)
    fw_recipe_ext_set (r, G, "ranks", ranks);
  if (energy != -1)
    set_double (r, G, "energy", energy);
  if (iters != -2)
    set_int (r, G, "iters", iters);
  if (modes >= 0)
    set_int (r, G, "modes", modes);
  if (layers != NULL)
    fw_recipe_ext_set (r, G, "layers", layers);
  if (min_weights >= 0)
    set_int (r, G, "min_weights", min_weights);
  if (finetune >= 0)
    set_int (r, G, "finetune_epochs", finetune);

  g_autoptr (FwDecompResult) res = fw_decomp_run (r, NULL, NULL, &error);
  if (res == NULL)
    return frugal_fail (error);
  g_autofree char *summary = fw_decomp_result_summary (res);
  if (csv || curves)
    {
      g_autofree char *path = g_build_filename (res->run_dir, csv ? "decompose.csv" : "curves.csv",
                                                NULL);
      g_autofree char *text = NULL;
      if (!g_file_get_contents (path, &text, NULL, &error))
        return frugal_fail (error);
      fputs (text, stdout);
      fputs (summary, stderr);
    }
  else
    fputs (summary, stdout);
  return FRUGAL_EXIT_OK;
}

int
frugal_cmd_distill (int argc, char **argv)
{
  g_autofree char *arch = NULL, *widths = NULL, *data = NULL, *out = NULL, *opt = NULL;
  int seeds = -1, epochs = -1, batch = -1, train_limit = -1;
  double temperature = -1, alpha = -1, lr = -1;
  gint64 seed = -1;
  gboolean no_hard = FALSE, csv = FALSE;
  GOptionEntry entries[] = {
    { "arch", 'a', 0, G_OPTION_ARG_STRING, &arch,
      "Student architecture (default mlp; see 'frugal layers')", "ARCH" },
    { "widths", 'w', 0, G_OPTION_ARG_STRING, &widths,
      "Student mlp hidden widths (default 32)", "LIST" },
    { "temperature", 'T', 0, G_OPTION_ARG_DOUBLE, &temperature, "Temperature T >= 1 (4)", "T" },
    { "alpha", 0, 0, G_OPTION_ARG_DOUBLE, &alpha,
      "Weight of the soft (teacher) term in [0, 1] (0.9)", "A" },
    { "seeds", 0, 0, G_OPTION_ARG_INT, &seeds, "Students per variant (1)", "N" },
    { "no-hard", 0, 0, G_OPTION_ARG_NONE, &no_hard,
      "Do not train the same student on hard labels for comparison", NULL },
    { "epochs", 'e', 0, G_OPTION_ARG_INT, &epochs, "Training epochs (default 10)", "N" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Batch size (64)", "N" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Learning rate (Adam, 0.001)", "LR" },
    { "optimizer", 0, 0, G_OPTION_ARG_STRING, &opt, "sgd, adam (default) or adamw", "OPT" },
    { "data", 'd', 0, G_OPTION_ARG_STRING, &data, "Dataset (default fashion-mnist)", "SPEC" },
    { "train-limit", 0, 0, G_OPTION_ARG_INT, &train_limit,
      "Use at most this many training samples", "N" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "First seed", "S" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Write the run folder here", "DIR" },
    { "csv", 0, 0, G_OPTION_ARG_NONE, &csv, "Print distill.csv on stdout", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("TEACHER.safetensors | RECIPE.ini");
  g_option_context_set_summary (ctx,
    "Knowledge distillation: train a small student on a trained teacher's outputs softened at "
    "temperature T, with the loss alpha T^2 KL(teacher_T || student_T) + (1 - alpha) CE, and "
    "(unless --no-hard) the same student on hard labels with the same seeds. The run folder "
    "receives distill.csv, summary.json and student.safetensors. Options override a recipe's "
    "[distill], [model], [train] and [data] keys.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!frugal_parse_options (ctx, "distill", &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (argc != 2)
    return frugal_usage_error ("distill", "expected one TEACHER.safetensors or RECIPE.ini");
  if (temperature != -1 && !(temperature >= 1 && temperature <= 100))
    return frugal_usage_error ("distill", "--temperature %g: give T in [1, 100]", temperature);
  if (alpha != -1 && !(alpha >= 0 && alpha <= 1))
    return frugal_usage_error ("distill", "--alpha %g: give a weight in [0, 1]", alpha);
  if (opt != NULL && g_strcmp0 (opt, "sgd") != 0 && g_strcmp0 (opt, "adam") != 0
      && g_strcmp0 (opt, "adamw") != 0)
    return frugal_usage_error ("distill", "--optimizer %s: choose sgd, adam or adamw", opt);

  g_autoptr (GError) error = NULL;
  gboolean ini = is_ini (argv[1]);
  g_autoptr (FwRecipe) r = base_recipe (ini ? argv[1] : NULL, "distill", data, train_limit, seed,
                                        out, &error);
  if (r == NULL)
    return frugal_fail (error);
  const char *G = "distill";
  if (!ini)
    {
      fw_recipe_ext_set (r, G, "teacher", argv[1]);
      g_free (r->widths);
      r->widths = g_strdup ("32");
    }
  if (arch != NULL)
    {
      g_free (r->arch);
      r->arch = g_strdup (arch);
    }
  if (widths != NULL)
    {
      g_free (r->widths);
      r->widths = g_strdup (widths);
    }
  if (temperature != -1)
    set_double (r, G, "temperature", temperature);
  if (alpha != -1)
    set_double (r, G, "alpha", alpha);
  if (seeds > 0)
    set_int (r, G, "seeds", seeds);
  if (no_hard)
    fw_recipe_ext_set (r, G, "hard_baseline", "false");
  if (epochs > 0)
    r->train.epochs = epochs;
  if (batch > 0)
    r->train.batch = batch;
  if (lr > 0)
    r->train.lr = lr;
  if (opt != NULL)
    r->train.opt = g_strcmp0 (opt, "sgd") == 0 ? FW_OPT_SGD
                 : g_strcmp0 (opt, "adam") == 0 ? FW_OPT_ADAM : FW_OPT_ADAMW;

  g_autoptr (FwDistillResult) res = fw_distill_run (r, NULL, NULL, &error);
  if (res == NULL)
    return frugal_fail (error);
  FILE *o = csv ? stderr : stdout;
  if (csv)
    {
      g_autofree char *path = g_build_filename (res->run_dir, "distill.csv", NULL);
      g_autofree char *text = NULL;
      if (!g_file_get_contents (path, &text, NULL, &error))
        return frugal_fail (error);
      fputs (text, stdout);
    }
  fprintf (o, "run folder: %s\n", res->run_dir);
  fprintf (o, "teacher: %.2f%% (%zu parameters)\n", 100 * res->teacher_acc, res->teacher_params);
  for (int s = 0; s < res->n_seeds; s++)
    {
      fprintf (o, "seed %" G_GUINT64_FORMAT ": distilled %.2f%%", r->seed + s,
               100 * res->acc_distilled[s]);
      if (!isnan (res->acc_hard[s]))
        fprintf (o, ", hard labels %.2f%%, difference %+.2f points", 100 * res->acc_hard[s],
                 100 * (res->acc_distilled[s] - res->acc_hard[s]));
      fputc ('\n', o);
    }
  fprintf (o, "student: %zu parameters (%.1fx fewer than the teacher), T = %g, alpha = %g\n",
           res->student_params, (double) res->teacher_params / MAX (res->student_params, 1),
           res->temperature, res->alpha);
  return FRUGAL_EXIT_OK;
}
