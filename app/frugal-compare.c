/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal-compare.c: `frugal compare MODEL...`: the compare board's table on the terminal. */
#include <stdio.h>
#include <string.h>

#include "fw-compare.h"
#include "fw-dataset.h"
#include "fw-error.h"
#include "fw-gemm.h"

#include "frugal-cli.h"

int
frugal_cmd_compare (int argc, char **argv)
{
  char *data = NULL, *csv = NULL, *md = NULL, *latex = NULL;
  int baseline = 1, threads = 1, reps = 15;
  gboolean no_timing = FALSE;
  GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_STRING, &data,
      "Test set spec (required), e.g. fashion-mnist:test, digits:test, sim-test:2000", "SPEC" },
    { "baseline", 'b', 0, G_OPTION_ARG_INT, &baseline,
      "Which model (1 = the first given) the per-class deltas are taken against (default 1)",
      "N" },
    { "csv", 0, 0, G_OPTION_ARG_FILENAME, &csv, "Also write the table as CSV", "FILE" },
    { "md", 0, 0, G_OPTION_ARG_FILENAME, &md, "Also write the table as Markdown", "FILE" },
    { "latex", 0, 0, G_OPTION_ARG_FILENAME, &latex, "Also write the table as LaTeX", "FILE" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "BLAS threads for the timings (default 1)",
      "N" },
    { "reps", 0, 0, G_OPTION_ARG_INT, &reps,
      "Timed repetitions per measurement, the median is reported (default 15)", "N" },
    { "no-timing", 0, 0, G_OPTION_ARG_NONE, &no_timing,
      "Skip the latency and throughput measurements", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL.safetensors...");
  g_option_context_set_summary (
      ctx, "Compare saved models side by side, as they are stored: test accuracy, per-class "
           "accuracy change vs a baseline, parameters stored and non-zero, bytes on disk, FLOPs "
           "per image, batch-1 latency and batch-256 throughput (medians of repeated runs on "
           "this machine). Models named \"<variant> seed N\" (or -seedN, _sN) are also "
           "summarised per variant (mean ± standard deviation over the seeds).\n"
           "A model's name is its __metadata__ \"name\", else its file name (the run folder's "
           "name for model.safetensors); its kind is __metadata__ \"method\".");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!frugal_parse_options (ctx, "compare", &argc, &argv))
    return FRUGAL_EXIT_USAGE;

  g_autofree char *data_s = data, *csv_s = csv, *md_s = md, *latex_s = latex;
  if (argc < 2)
    return frugal_usage_error ("compare", "expected at least one MODEL.safetensors");
  if (data == NULL)
    return frugal_usage_error ("compare", "--data SPEC is required (e.g. --data "
                                          "fashion-mnist:test)");
  if (baseline < 1 || baseline > argc - 1)
    return frugal_usage_error ("compare", "--baseline %d: choose a model between 1 and %d",
                               baseline, argc - 1);
  if (threads < 1 || reps < 1)
    return frugal_usage_error ("compare", "--threads and --reps must be >= 1");
  /* check the output names before the slow part */
  const char *outs[] = { csv, md, latex };
  const FwTableFormat want[] = { FW_TABLE_CSV, FW_TABLE_MARKDOWN, FW_TABLE_LATEX };
  for (int i = 0; i < 3; i++)
    if (outs[i] != NULL)
      {
        FwTableFormat f;
        g_autoptr (GError) e = NULL;
        if (!fw_table_format_for_path (outs[i], &f, &e) || f != want[i])
          return frugal_usage_error ("compare", "%s: name the file %s", outs[i],
                                     i == 0 ? ".csv" : i == 1 ? ".md" : ".tex");
      }

  fw_blas_set_threads (threads);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) test = fw_dataset_load (data, 1, NULL, &error);
  if (test == NULL)
    return frugal_fail (error);

  FwCompareOptions opt;
  fw_compare_options_init (&opt);
  opt.measure_time = !no_timing;
  opt.reps = reps;
  g_autoptr (GArray) inputs = g_array_new (FALSE, TRUE, sizeof (FwCompareInput));
  g_array_set_clear_func (inputs, (GDestroyNotify) fw_compare_input_clear);
  if (!fw_compare_load_inputs (argv + 1, inputs, &error))
    return frugal_fail (error);
  g_autoptr (FwCompareTable) t = fw_compare_run_job (NULL, (FwCompareInput *) inputs->data,
                                                     argc - 1, test, &opt, NULL, &error);
  if (t == NULL)
    return frugal_fail (error);
  fw_compare_table_finish (t, baseline - 1);

  g_autofree char *text = fw_compare_table_format (t, FW_TABLE_TEXT);
  fputs (text, stdout);
  for (int i = 0; i < 3; i++)
    if (outs[i] != NULL)
      {
        if (!fw_compare_table_write (t, outs[i], &error))
          return frugal_fail (error);
        fprintf (stderr, "wrote %s\n", outs[i]);
      }
  return FRUGAL_EXIT_OK;
}
