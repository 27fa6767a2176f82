/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal-quantize.c: `frugal quantize` and `frugal cluster`.
 *
 * Both write the recipe their options describe ([data], [model] init, [quantize] or [cluster])
 * and run it exactly as `frugal run` runs a recipe file: the same job, the same run folder,
 * the same progress and Ctrl-C handling. Given a RECIPE.ini instead, they run it (it must have
 * the command's group). --print-recipe shows the recipe instead of running it. */
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "fw-engine.h"
#include "fw-quant.h"
#include "fw-recipe-ext.h"
#include "frugal-cli.h"

typedef struct {
  char *model, *data, *test, *out;
  int threads;
  gint64 seed;
  gboolean print;
} Common;

static void
common_entries (GOptionContext *ctx, Common *c)
{
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &c->model,
      "The float model to compress (.safetensors); without it a base model is trained from "
      "the recipe's [model] and [train] first", "FILE" },
    { "data", 'd', 0, G_OPTION_ARG_STRING, &c->data,
      "Dataset for calibration, fine-tuning and testing (default fashion-mnist)", "SPEC" },
    { "test", 0, 0, G_OPTION_ARG_STRING, &c->test,
      "Test set: auto (the dataset's own), none, or a dataset spec (default auto)", "SPEC" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &c->out, "Run folder to write", "DIR" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &c->threads, "Threads (default 1)", "N" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &c->seed, "Seed (default 1)", "S" },
    { "print-recipe", 0, 0, G_OPTION_ARG_NONE, &c->print,
      "Print the recipe these options make and exit", NULL },
    { NULL },
  };
  g_option_context_add_main_entries (ctx, entries, NULL);
}

static void
common_clear (Common *c)
{
  g_free (c->model);
  g_free (c->data);
  g_free (c->test);
  g_free (c->out);
}

/* the base groups of the recipe */
static GString *
common_recipe (const Common *c)
{
  GString *s = g_string_new ("# written by frugal; run it again with: frugal run FILE.ini\n");
  g_string_append_printf (s, "[data]\ndataset = %s\ntest = %s\n\n",
                          c->data != NULL ? c->data : "fashion-mnist",
                          c->test != NULL ? c->test : "auto");
  if (c->model != NULL)
    g_string_append_printf (s, "[model]\ninit = %s\n\n", c->model);
  if (c->out != NULL)
    g_string_append_printf (s, "[output]\ndir = %s\n\n", c->out);
  g_string_append_printf (s, "[run]\nseed = %" G_GINT64_FORMAT "\nthreads = %d\n\n",
                          c->seed >= 0 ? c->seed : 1, c->threads > 0 ? c->threads : 1);
  return s;
}

/* runs recipe text (name = the run's name) through `frugal run` */
static int
run_recipe_text (const char *cmd, const char *name, const char *text, gboolean print)
{
  if (print)
    {
      fputs (text, stdout);
      return FRUGAL_EXIT_OK;
    }
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("frugal-XXXXXX", &error);
  if (dir == NULL)
    return frugal_fail (error);
  g_autofree char *file = g_strconcat (name, ".ini", NULL);
  g_autofree char *path = g_build_filename (dir, file, NULL);
  if (!g_file_set_contents (path, text, -1, &error))
    return frugal_fail (error);
  char *argv[] = { (char *) "run", path, NULL };
  int rc = frugal_cmd_run (2, argv);
  g_unlink (path);
  g_rmdir (dir);
  (void) cmd;
  return rc;
}

/* a RECIPE.ini given instead of options: run it when it has the group */
static int
run_recipe_file (const char *cmd, const char *group, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) r = fw_recipe_load (path, &error);
  if (r == NULL)
    return frugal_fail (error);
  if (!fw_recipe_has_group (r, group))
    return frugal_failf ("%s: has no [%s] group; add one (see frugal %s --help) or use "
                         "frugal run", path, group, cmd);
  char *argv[] = { (char *) "run", (char *) path, NULL };
  return frugal_cmd_run (2, argv);
}

int
frugal_cmd_quantize (int argc, char **argv)
{
  Common c = { .threads = 1, .seed = -1 };
  g_autofree char *mode = NULL;
  gboolean per_tensor = FALSE, affine = FALSE;
  int calib = 512, epochs = 3;
  double lr = 1e-4, clip = 1.0;
  GOptionEntry entries[] = {
    { "mode", 0, 0, G_OPTION_ARG_STRING, &mode,
      "f16, int8 (default), ternary or binary", "MODE" },
    { "per-tensor", 0, 0, G_OPTION_ARG_NONE, &per_tensor,
      "int8: one scale per weight tensor (default: per output channel)", NULL },
    { "affine", 0, 0, G_OPTION_ARG_NONE, &affine,
      "int8: affine (zero point) instead of symmetric", NULL },
    { "calib", 0, 0, G_OPTION_ARG_INT, &calib,
      "int8: calibration samples (default 512)", "N" },
    { "epochs", 'e', 0, G_OPTION_ARG_INT, &epochs,
      "ternary/binary: STE fine-tuning epochs (default 3)", "E" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "ternary/binary: Adam learning rate (1e-4)", "LR" },
    { "clip", 0, 0, G_OPTION_ARG_DOUBLE, &clip,
      "binary: no STE gradient where |w| > CLIP (default 1; 0 = never)", "CLIP" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("[RECIPE.ini]");
  g_option_context_set_summary (ctx,
    "Quantize a model: fp16 storage, int8 post-training quantization (calibrated on training "
    "samples, run by an int8 kernel), or ternary / binary weights trained with a "
    "straight-through estimator. The run folder gets base.safetensors and model.safetensors "
    "(its real size on disk), summary.json, metrics.csv and weights.csv.\n"
    "Example: frugal quantize --model runs/mlp/model.safetensors --mode int8 --out runs/int8");
  g_option_context_add_main_entries (ctx, entries, NULL);
  common_entries (ctx, &c);
  int rc;
  if (!frugal_parse_options (ctx, "quantize", &argc, &argv))
    rc = FRUGAL_EXIT_USAGE;
  else if (argc > 2)
    rc = frugal_usage_error ("quantize", "expected at most one RECIPE.ini, got %d arguments",
                             argc - 1);
  else if (argc == 2)
    rc = run_recipe_file ("quantize", "quantize", argv[1]);
  else
    {
      FwQuantMode m = FW_QUANT_INT8;
      g_autoptr (GError) error = NULL;
      if (mode != NULL && !fw_quant_mode_parse (mode, &m, &error))
        rc = frugal_usage_error ("quantize", "--mode: %s", error->message);
      else if (calib < 1 || epochs < 0 || !(lr > 0) || clip < 0)
        rc = frugal_usage_error ("quantize", "--calib, --epochs, --lr or --clip out of range");
      else
        {
          g_autoptr (GString) s = common_recipe (&c);
          g_string_append_printf (s, "[quantize]\nmode = %s\n", fw_quant_mode_name (m));
          if (m == FW_QUANT_INT8)
            g_string_append_printf (s, "per_channel = %s\nsymmetric = %s\ncalib = %d\n",
                                    per_tensor ? "false" : "true", affine ? "false" : "true",
                                    calib);
          else if (m != FW_QUANT_F16)
            {
              g_string_append_printf (s, "epochs = %d\n", epochs);
              char buf[G_ASCII_DTOSTR_BUF_SIZE];
              g_string_append_printf (s, "lr = %s\n", g_ascii_dtostr (buf, sizeof buf, lr));
              if (m == FW_QUANT_BINARY)
                g_string_append_printf (s, "clip = %s\n", g_ascii_dtostr (buf, sizeof buf, clip));
            }
          g_autofree char *name = g_strconcat ("quantize-", fw_quant_mode_name (m), NULL);
          rc = run_recipe_text ("quantize", name, s->str, c.print);
        }
    }
  common_clear (&c);
  return rc;
}

int
frugal_cmd_cluster (int argc, char **argv)
{
  Common c = { .threads = 1, .seed = -1 };
  int k = 5, iters = 30, epochs = 3, pull_epochs = 1;
  double pull = 0, lr = 1e-4;
  GOptionEntry entries[] = {
    { "k", 'k', 0, G_OPTION_ARG_INT, &k, "Centres per weight tensor (default 5)", "K" },
    { "iters", 0, 0, G_OPTION_ARG_INT, &iters, "k-means iterations (default 30)", "N" },
    { "epochs", 'e', 0, G_OPTION_ARG_INT, &epochs,
      "Clustered fine-tuning epochs (default 3; 0 = k-means only)", "E" },
    { "pull", 0, 0, G_OPTION_ARG_DOUBLE, &pull,
      "Strength of a first phase pulling free weights to their centres (default 0 = off)",
      "P" },
    { "pull-epochs", 0, 0, G_OPTION_ARG_INT, &pull_epochs,
      "Epochs of the pull phase, counted in --epochs (default 1)", "E" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Adam learning rate (default 1e-4)", "LR" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("[RECIPE.ini]");
  g_option_context_set_summary (ctx,
    "Cluster a model's weights: k-means per weight tensor, then fine-tuning with the weights "
    "tied to their centres (centroid gradients, as in Deep Compression). Stored as a "
    "codebook plus bit-packed codes (k = 5: 3 bits a weight).\n"
    "Example: frugal cluster --model runs/mlp/model.safetensors -k 5 --out runs/cluster5");
  g_option_context_add_main_entries (ctx, entries, NULL);
  common_entries (ctx, &c);
  int rc;
  if (!frugal_parse_options (ctx, "cluster", &argc, &argv))
    rc = FRUGAL_EXIT_USAGE;
  else if (argc > 2)
    rc = frugal_usage_error ("cluster", "expected at most one RECIPE.ini, got %d arguments",
                             argc - 1);
  else if (argc == 2)
    rc = run_recipe_file ("cluster", "cluster", argv[1]);
  else if (k < 2 || k > 256)
    rc = frugal_usage_error ("cluster", "-k %d: choose 2 to 256 centres", k);
  else if (iters < 1 || epochs < 0 || pull < 0 || pull_epochs < 0 || !(lr > 0))
    rc = frugal_usage_error ("cluster", "--iters, --epochs, --pull, --pull-epochs or --lr out "
                             "of range");
  else
    {
      g_autoptr (GString) s = common_recipe (&c);
      char b1[G_ASCII_DTOSTR_BUF_SIZE], b2[G_ASCII_DTOSTR_BUF_SIZE];
      g_string_append_printf (s, "[cluster]\nk = %d\niters = %d\nepochs = %d\npull = %s\n"
                              "pull_epochs = %d\nlr = %s\n", k, iters, epochs,
                              g_ascii_dtostr (b1, sizeof b1, pull), pull_epochs,
                              g_ascii_dtostr (b2, sizeof b2, lr));
      g_autofree char *name = g_strdup_printf ("cluster-k%d", k);
      rc = run_recipe_text ("cluster", name, s->str, c.print);
    }
  common_clear (&c);
  return rc;
}
