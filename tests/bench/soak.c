/* SPDX-License-Identifier: GPL-3.0-or-later */
/* soak: N back-to-back jobs of mixed kinds on one FwJobRunner in one process (what the CLI's
 * job runner and the GUI's do through a lecture), sampling after each job the resident memory,
 * the open file descriptors and the threads. Every 4th job is cancelled at a random point.
 *
 *   soak [--jobs N] [--kinds train,quantize,prune,...] [--csv FILE]
 *
 * Kinds are recipe groups ("train" = a plain training recipe); each job runs the project's
 * example recipe with that group made small (simulated data, one epoch). Prints the curve
 * every 10 jobs and a verdict: the growth of RSS, fds and threads from the end of the warm-up
 * (job N/10) to the end, and the least-squares RSS slope in KB per job over that range.
 * Run on demand (meson test -C build --benchmark soak, or sh tests/bench/run-soak.sh). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "../engine/fw-test-util.h"
#include "fw-job.h"
#include "fw-recipe-ext.h"

typedef struct {
  FwEventKind final;
} Outcome;

static void
on_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  Outcome *o = user_data;
  if (ev->kind >= FW_EVENT_FINISHED)
    o->final = ev->kind;
  if (ev->kind == FW_EVENT_FAILED)
    g_printerr ("job %s failed: %s\n", fw_job_get_name (job), ev->error->message);
}

int
main (int argc, char **argv)
{
  int n_jobs = 200;
  g_autofree char *kinds_arg = g_strdup ("train,quantize,prune,cluster,calibrate");
  g_autofree char *csv_path = NULL;
  GOptionEntry entries[] = {
    { "jobs", 'n', 0, G_OPTION_ARG_INT, &n_jobs, "number of jobs (200)", "N" },
    { "kinds", 'k', 0, G_OPTION_ARG_STRING, &kinds_arg, "recipe groups, comma-separated", "K,..." },
    { "csv", 0, 0, G_OPTION_ARG_FILENAME, &csv_path, "write job,kind,outcome,rss_kb,fds,threads", "FILE" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- soak test of the job runner");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  g_setenv ("OPENBLAS_NUM_THREADS", "1", TRUE);
  g_auto (GStrv) kinds = g_strsplit (kinds_arg, ",", -1);
  int nk = (int) g_strv_length (kinds);
  g_autofree char *tmp = g_dir_make_tmp ("fw-soak-XXXXXX", &error);
  g_assert_no_error (error);

  FwRecipe **recipes = g_new0 (FwRecipe *, nk);
  FwJobFunc *runs = g_new0 (FwJobFunc, nk);
  g_autofree char *out = g_build_filename (tmp, "run", NULL);
  for (int k = 0; k < nk; k++)
    {
      recipes[k] = fw_test_small_example_recipe (kinds[k], out);
      const FwRecipeExt *ext = fw_recipe_ext_lookup (kinds[k]);
      runs[k] = strcmp (kinds[k], "train") == 0 ? fw_recipe_job_run : ext ? ext->run : NULL;
      if (!recipes[k] || !runs[k])
        {
          g_printerr ("%s: no example recipe or no job for this group\n", kinds[k]);
          return 2;
        }
    }

  FILE *csv = csv_path ? fopen (csv_path, "w") : NULL;
  if (csv)
    fprintf (csv, "job,kind,outcome,seconds,rss_kb,fds,threads\n");
  FwProcSample *s = g_new0 (FwProcSample, n_jobs + 1);
  s[0] = fw_test_proc_sample ();
  printf ("%5s %-12s %-9s %8s %10s %5s %7s\n", "job", "kind", "outcome", "seconds", "rss_kb",
          "fds", "threads");
  printf ("%5d %-12s %-9s %8s %10ld %5d %7d\n", 0, "(start)", "", "", s[0].rss_kb, s[0].fds,
          s[0].threads);
  GRand *rand = g_rand_new_with_seed (12);
  FwJobRunner *runner = fw_job_runner_new ();
  int n_failed = 0;
  for (int i = 1; i <= n_jobs; i++)
    {
      int k = (i - 1) % nk;
      gboolean cancel = i % 4 == 0;
      Outcome o = { 0 };
      gint64 t0 = g_get_monotonic_time ();
      FwJob *job = fw_job_runner_submit (runner, kinds[k], runs[k], fw_recipe_copy (recipes[k]),
                                         (GDestroyNotify) fw_recipe_free, NULL, on_event, &o);
      if (cancel)
        {
          gint64 t_end = t0 + g_rand_int_range (rand, 0, 300) * 1000;
          while (!fw_job_is_done (job) && g_get_monotonic_time () < t_end)
            g_main_context_iteration (NULL, FALSE);
          fw_job_cancel (job);
        }
      fw_job_wait (job, NULL);
      fw_job_unref (job);
      while (g_main_context_iteration (NULL, FALSE))
        ;
      double secs = (g_get_monotonic_time () - t0) / 1e6;
      fw_test_rm_rf (out);
      s[i] = fw_test_proc_sample ();
      const char *what = o.final == FW_EVENT_FINISHED ? "finished" :
                         o.final == FW_EVENT_CANCELLED ? "cancelled" : "FAILED";
      n_failed += o.final == FW_EVENT_FAILED;
      if (csv)
        fprintf (csv, "%d,%s,%s,%.3f,%ld,%d,%d\n", i, kinds[k], what, secs, s[i].rss_kb,
                 s[i].fds, s[i].threads);
      if (i % 10 == 0 || i == n_jobs)
        {
          printf ("%5d %-12s %-9s %8.2f %10ld %5d %7d\n", i, kinds[k], what, secs, s[i].rss_kb,
                  s[i].fds, s[i].threads);
          fflush (stdout);
        }
    }
  fw_job_runner_free (runner);
  g_rand_free (rand);
  if (csv)
    fclose (csv);

  int w = MAX (1, n_jobs / 10);
  /* least-squares slope of RSS over jobs w..n */
  double slope = fw_test_rss_slope (s, w, n_jobs);
  printf ("after warm-up (job %d -> %d): RSS %ld -> %ld KB (%+ld KB, slope %.1f KB/job), "
          "fds %d -> %d, threads %d -> %d; %d failed\n",
          w, n_jobs, s[w].rss_kb, s[n_jobs].rss_kb, s[n_jobs].rss_kb - s[w].rss_kb, slope,
          s[w].fds, s[n_jobs].fds, s[w].threads, s[n_jobs].threads, n_failed);
  gboolean ok = n_failed == 0 && s[n_jobs].fds <= s[w].fds && s[n_jobs].threads <= s[w].threads;
  printf ("%s\n", ok ? "fds and threads flat" : "GROWTH or failures: see above");
  for (int k = 0; k < nk; k++)
    fw_recipe_free (recipes[k]);
  g_free (recipes);
  g_free (runs);
  g_free (s);
  fw_test_rm_rf (tmp);
  return ok ? 0 : 1;
}
