/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal-cli.h: what the sub-command files of the `frugal` program share. */
#pragma once

#include <glib.h>

#include "fw-recipe.h"

G_BEGIN_DECLS

/* Exit codes of the frugal program. */
enum {
  FRUGAL_EXIT_OK = 0,
  FRUGAL_EXIT_ERROR = 1,       /* the command failed: "frugal: <message>" on stderr */
  FRUGAL_EXIT_USAGE = 2,       /* bad command line */
  FRUGAL_EXIT_INTERFERENCE = 3,/* bench: other processes disturbed a timed phase */
  FRUGAL_EXIT_CANCELLED = 130, /* Ctrl-C / SIGTERM */
};

/* A sub-command: argv[0] is the command name ("run"), options follow. Returns an exit code. */
typedef int (*FrugalCommandFunc) (int argc, char **argv);

int frugal_cmd_run      (int argc, char **argv);
int frugal_cmd_eval     (int argc, char **argv);
int frugal_cmd_info     (int argc, char **argv);
int frugal_cmd_datasets (int argc, char **argv);
int frugal_cmd_layers   (int argc, char **argv);
int frugal_cmd_bench    (int argc, char **argv);
int frugal_cmd_noise_curve (int argc, char **argv);
int frugal_cmd_embed    (int argc, char **argv);
int frugal_cmd_augment  (int argc, char **argv);
int frugal_cmd_augment_sweep (int argc, char **argv);
int frugal_cmd_prune    (int argc, char **argv);
int frugal_cmd_compare  (int argc, char **argv);
int frugal_cmd_transfer (int argc, char **argv);
int frugal_cmd_grow     (int argc, char **argv);
int frugal_cmd_quantize (int argc, char **argv);
int frugal_cmd_cluster  (int argc, char **argv);
int frugal_cmd_weak     (int argc, char **argv);
int frugal_cmd_active   (int argc, char **argv);
int frugal_cmd_calibrate (int argc, char **argv);

/* Runs a recipe's job (an extension's job when the recipe has its group, else training) on a
 * job runner, printing logs, epochs and a progress bar; Ctrl-C cancels. Takes the recipe.
 * Returns the exit code. (frugal-train.c) */
int  frugal_run_recipe_job (FwRecipe *recipe);
int frugal_cmd_decompose (int argc, char **argv);
int frugal_cmd_distill  (int argc, char **argv);
int frugal_cmd_lecture  (int argc, char **argv);
int frugal_cmd_session  (int argc, char **argv);


/* Prints "frugal: <message>" on stderr and returns FRUGAL_EXIT_ERROR. */
int  frugal_fail        (const GError *error);
/* The same for a printf-style message. */
int  frugal_failf       (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* Parses argv with ctx for command `name` ("run"). --help prints the command's help and
 * exits 0 (GOptionContext's own behaviour). On a bad option prints the message and a hint on
 * stderr and returns FALSE (exit with FRUGAL_EXIT_USAGE). On success argc/argv hold the
 * positional arguments, argv[0] being the command. */
gboolean frugal_parse_options (GOptionContext *ctx, const char *name, int *argc,
                               char ***argv);
/* For a command given the wrong number of positional arguments: prints the message and the
 * command's --help hint on stderr, returns FRUGAL_EXIT_USAGE. */
int      frugal_usage_error   (const char *name, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* "85.3%" for 0.853 (one decimal), "n/a" for NaN. */
char *frugal_format_percent (double fraction);

G_END_DECLS
