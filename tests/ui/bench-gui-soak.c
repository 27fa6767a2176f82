/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-gui-soak.c: does the window leak over a long lecture? Opens the workbench under Xvfb,
 * loads simulated digits, then runs N short trainings through the window's own train-start
 * action (every 4th cancelled at a random point), showing another page after each and taking
 * the model off the shelf again (a kept model is memory by design). After every job it samples
 * the resident memory, the open file descriptors and the threads; prints the curve every 10
 * jobs and a verdict: the growth from the end of the warm-up (job N/10) to the end and the
 * least-squares RSS slope in KB per job over that range.
 *
 *   xvfb-run -a -s '-screen 0 1280x800x24' build/tests/ui/bench-gui-soak [JOBS]   (default 60)
 *   meson test -C build --benchmark gui-soak */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "../engine/fw-test-util.h"
#include "fw-application.h"
#include "fw-model-shelf.h"
#include "fw-page-data-private.h"
#include "fw-page-train-private.h"
#include "fw-ui-test-util.h"
#include "fw-window-private.h"

static FwWindow *win;

static gboolean
data_ready (gpointer spec)
{
  FwPageData *data = fw_window_get_page_data (win);
  return !fw_page_data_is_loading (data) && fw_page_data_get_dataset (data) != NULL;
}

static gboolean
train_idle (gpointer unused)
{
  return !fw_page_train_is_running (fw_window_get_page_train (win));
}

int
main (int argc, char **argv)
{
  int n_jobs = argc > 1 ? MAX (10, atoi (argv[1])) : 60;
  g_autoptr (GError) error = NULL;

  g_setenv ("GTK_A11Y", "none", TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_autofree char *runs = g_dir_make_tmp ("fw-gui-soak-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("FW_RUNS_DIR", runs, TRUE);
  if (!gtk_init_check ())
    {
      g_printerr ("bench-gui-soak: no display; run it under xvfb-run\n");
      return 77;
    }
  g_autoptr (FwApplication) app = fw_application_new ();
  if (!g_application_register (G_APPLICATION (app), NULL, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  g_application_activate (G_APPLICATION (app));
  win = FW_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  FwPageData *data = fw_window_get_page_data (win);
  FwPageTrain *page = fw_window_get_page_train (win);
  FwModelShelf *shelf = fw_application_get_shelf (app);
  GtkStack *stack = fw_window_get_stack (win);
  const char *pages[] = { "data", "train", "compare", "augment", "noise", "lecture" };

  fw_page_data_load (data, "sim:2000:28");
  if (!fw_ui_wait_until (data_ready, NULL, 60))
    {
      g_printerr ("the simulated digits did not load\n");
      return 1;
    }
  g_autoptr (FwRecipe) recipe = fw_page_train_get_recipe (page);
  g_free (recipe->arch);
  recipe->arch = g_strdup ("mlp");
  g_free (recipe->widths);
  recipe->widths = g_strdup ("64");
  recipe->train.epochs = 2;
  recipe->threads = 1;
  fw_page_train_set_recipe (page, recipe);

  g_autofree FwProcSample *s = g_new0 (FwProcSample, n_jobs);
  int finished = 0, cancelled = 0;
  double t0 = g_get_monotonic_time () / 1e6;
  for (int j = 0; j < n_jobs; j++)
    {
      gtk_stack_set_visible_child_name (stack, "train");
      g_action_group_activate_action (G_ACTION_GROUP (win), "train-start", NULL);
      if (j % 4 == 3)
        {
          fw_ui_spin_for (g_random_double_range (0.0, 0.3));
          g_action_group_activate_action (G_ACTION_GROUP (win), "job-cancel", NULL);
        }
      if (!fw_ui_wait_until (train_idle, NULL, 120))
        {
          g_printerr ("job %d did not end within 2 minutes\n", j + 1);
          return 1;
        }
      if (fw_window_get_error_text (win) != NULL && j % 4 != 3)
        {
          g_printerr ("job %d failed: %s\n", j + 1, fw_window_get_error_text (win));
          return 1;
        }
      /* what a lecturer does between demos: another page, and the shelf tidied */
      gtk_stack_set_visible_child_name (stack, pages[j % G_N_ELEMENTS (pages)]);
      fw_ui_spin_for (0.15);
      guint n = g_list_model_get_n_items (G_LIST_MODEL (shelf));
      if (n > 0)
        {
          finished++;
          while (g_list_model_get_n_items (G_LIST_MODEL (shelf)) > 0)
            fw_model_shelf_remove (shelf, 0);
        }
      else
        cancelled++;
      fw_ui_spin_for (0.05);
      s[j] = fw_test_proc_sample ();
      if ((j + 1) % 10 == 0)
        g_print ("job %3d: RSS %6ld KB, %3d fds, %2d threads (%.0f s)\n", j + 1, s[j].rss_kb,
                 s[j].fds, s[j].threads, g_get_monotonic_time () / 1e6 - t0);
    }

  /* the verdict, from the end of the warm-up */
  int w = n_jobs / 10;
  double slope = fw_test_rss_slope (s, w, n_jobs - 1);
  g_print ("%d jobs (%d trained, %d cancelled) in %.0f s\n", n_jobs, finished, cancelled,
           g_get_monotonic_time () / 1e6 - t0);
  g_print ("from job %d to %d: RSS %+ld KB (%ld -> %ld), fds %+d, threads %+d; RSS slope "
           "%.1f KB per job\n", w + 1, n_jobs, s[n_jobs - 1].rss_kb - s[w].rss_kb, s[w].rss_kb,
           s[n_jobs - 1].rss_kb, s[n_jobs - 1].fds - s[w].fds,
           s[n_jobs - 1].threads - s[w].threads, slope);
  gtk_window_destroy (GTK_WINDOW (win));
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", runs);
  if (system (cmd) != 0)
    g_printerr ("could not remove %s\n", runs);
  return 0;
}
