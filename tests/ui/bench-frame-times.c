/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-frame-times.c: is the window smooth while it trains? Opens the workbench under Xvfb,
 * trains an MLP on the default dataset (Fashion-MNIST when installed) through the real
 * win.train-start action, records the interval between painted frames (GdkFrameClock
 * "after-paint"), and compares the engine's epoch time in the GUI with a headless run of the
 * same recipe.
 *
 *   meson test -C build --benchmark frame-times      (or run it under xvfb-run directly)
 *   FW_BENCH_EPOCHS=3 (default)  FW_BENCH_SHOTS=DIR (also write PNGs of the Train page)
 *   FW_BENCH_PRESENTATION=1 (in presentation mode)
 */
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "fw-application.h"
#include "fw-model-shelf.h"
#include "fw-page-data-private.h"
#include "fw-page-train-private.h"
#include "fw-util.h"
#include "fw-window-private.h"

static GArray *frame_times;   /* gint64 microseconds of each after-paint */
static GArray *phase_times;   /* Phases per frame: where a long frame's time went */
/* The window's own handlers of the frame clock's phases were connected when it was realized,
 * before ours, so ours mark the end of GTK's work in each phase: */
static gint64 t_begin;    /* before-paint: the frame starts */
static gint64 t_update;   /* end of "update" (tick callbacks added before the bench's handler;
                           * later ones, like the scrolling below, count in "layout") */
static gint64 t_layout;   /* end of "layout" (size requests and allocation) */
static gint64 t_paint;    /* end of "paint" (snapshots and rendering) */

typedef struct {
  double update_ms, layout_ms, paint_ms;
} Phases;

/* Handler of one frame-clock phase: stamps the time into the gint64 it is given. */
static void
stamp_phase (GdkFrameClock *clock, gint64 *stamp)
{
  *stamp = g_get_monotonic_time ();
}
static gboolean recording;
static const char *shot_name; /* take this screenshot right after the next paint */
static const char *shot_dir;

static void save_png (GtkWidget *widget, const char *dir, const char *name);

static double first_paint_s = -1;  /* seconds since the process started, at the first paint */

/* Seconds since this process started (/proc/self/stat's start time, 10 ms resolution). */
static double
process_age_seconds (void)
{
  g_autofree char *stat = NULL;
  struct timespec now;
  unsigned long long start = 0;

  if (!g_file_get_contents ("/proc/self/stat", &stat, NULL, NULL)
      || clock_gettime (CLOCK_BOOTTIME, &now) != 0)
    return NAN;
  /* field 22, counted after the ")" that ends the command name (which may hold spaces) */
  const char *p = strrchr (stat, ')');
  if (p == NULL || sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
                                  "%*d %*d %*d %*d %llu", &start) != 1)
    return NAN;
  return now.tv_sec + now.tv_nsec / 1e9 - (double) start / sysconf (_SC_CLK_TCK);
}

static void
after_paint (GdkFrameClock *clock, gpointer user_data)
{
  if (first_paint_s < 0)
    first_paint_s = process_age_seconds ();
  if (recording)
    {
      gint64 t = g_get_monotonic_time ();
      /* a phase GTK skipped this frame takes no time */
      gint64 tu = MAX (t_update, t_begin), tl = MAX (t_layout, tu), tp = MAX (t_paint, tl);
      Phases ph = { (tu - t_begin) / 1000.0, (tl - tu) / 1000.0, (tp - tl) / 1000.0 };
      g_array_append_val (frame_times, t);
      /* a frame that began before recording started has no start stamp */
      if (t_begin != 0)
        g_array_append_val (phase_times, ph);
      t_begin = t_update = t_layout = t_paint = 0;
      if (g_getenv ("FW_BENCH_VERBOSE") != NULL && ph.update_ms + ph.layout_ms + ph.paint_ms > 8)
        g_print ("  long frame at %.3f s: update %.1f, layout %.1f, paint %.1f ms\n",
                 fw_now (), ph.update_ms, ph.layout_ms, ph.paint_ms);
    }
  if (shot_name != NULL)
    {
      /* right after a paint the window's render nodes are all fresh */
      save_png (user_data, shot_dir, shot_name);
      shot_name = NULL;
    }
}

static gboolean
shot_taken (gpointer unused)
{
  return shot_name == NULL;
}

/* Keeps the frame clock ticking every frame (as an animation would) without forcing a
 * repaint: what gets painted is what the window itself redraws (curves, progress, spinner);
 * a late frame means the main thread was busy. */
static gboolean
tick (GtkWidget *widget, GdkFrameClock *clock, gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

static void
spin_until (gboolean (*cond) (gpointer), gpointer data, double timeout_s)
{
  gint64 end = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);

  while (!cond (data) && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
}

static gboolean
data_loaded (gpointer w)
{
  FwPageData *page = fw_window_get_page_data (w);
  return !fw_page_data_is_loading (page) && fw_page_data_get_dataset (page) != NULL;
}

static gboolean
train_done (gpointer w)
{
  return !fw_page_train_is_running (fw_window_get_page_train (w));
}

static gboolean
epochs_done (gpointer w)
{
  FwLinePlot *loss = fw_page_train_get_loss_plot (fw_window_get_page_train (w));
  return fw_line_plot_series_len (loss, FW_LOSS_TRAIN) >= 2 || train_done (w);
}

/* CPU seconds used by the calling thread so far. */
static double
thread_cpu_seconds (void)
{
  struct rusage ru;

  if (getrusage (RUSAGE_THREAD, &ru) != 0)
    return NAN;
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec
         + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Scrolls the sample grid by a quarter page per frame (a fast fling through the dataset). */
static gboolean
scroll_tick (GtkWidget *widget, GdkFrameClock *clock, gpointer user_data)
{
  GtkAdjustment *adj = user_data;

  gtk_adjustment_set_value (adj, gtk_adjustment_get_value (adj)
                                   + gtk_adjustment_get_page_size (adj) / 4);
  return G_SOURCE_CONTINUE;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static void
save_png (GtkWidget *widget, const char *dir, const char *name)
{
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autofree char *path = g_build_filename (dir, name, NULL);

  gdk_paintable_snapshot (paintable, snapshot, w, h);
  node = gtk_snapshot_free_to_node (snapshot);
  if (node == NULL)
    {
      g_printerr ("screenshot %s: nothing drawn\n", name);
      return;
    }
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (gtk_widget_get_native (widget)),
                                         node, &GRAPHENE_RECT_INIT (0, 0, w, h));
  if (gdk_texture_save_to_png (texture, path))
    g_print ("screenshot: %s\n", path);
  else
    g_printerr ("screenshot %s: could not write\n", path);
}

static int cmp_double (const void *a, const void *b);

/* p50 / p99 / max of the intervals between the recorded frames, from index first on. */
static void
print_intervals (const char *what, guint first, double seconds)
{
  guint n = frame_times->len > first + 1 ? frame_times->len - first - 1 : 0;
  g_autofree double *iv = g_new (double, MAX (n, 1));

  for (guint i = 0; i < n; i++)
    iv[i] = (g_array_index (frame_times, gint64, first + i + 1)
             - g_array_index (frame_times, gint64, first + i)) / 1000.0;
  qsort (iv, n, sizeof (double), cmp_double);
  if (n == 0)
    {
      g_print ("%s: no frames painted\n", what);
      return;
    }
  g_print ("%s: %u frames in %.1f s (%.1f fps); interval p50 %.1f ms, p99 %.1f ms, "
           "max %.1f ms\n", what, n + 1, seconds, (n + 1) / seconds, iv[n / 2],
           iv[MIN (n - 1, (guint) floor (0.99 * n))], iv[n - 1]);
  /* the main thread's own share of each frame: the three phases' and their sum's
   * p50 / p99 / max */
  {
    const char *names[] = { "update", "layout", "paint", "whole" };
    for (int k = 0; k < 4; k++)
      {
        guint m = phase_times->len > first ? phase_times->len - first : 0;
        g_autofree double *v = g_new (double, MAX (m, 1));
        for (guint i = 0; i < m; i++)
          {
            const Phases *ph = &g_array_index (phase_times, Phases, first + i);
            v[i] = k == 0 ? ph->update_ms : k == 1 ? ph->layout_ms : k == 2 ? ph->paint_ms
                 : ph->update_ms + ph->layout_ms + ph->paint_ms;
          }
        qsort (v, m, sizeof (double), cmp_double);
        if (m > 0)
          g_print ("  %-6s %s: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", names[k], k < 3 ? "phase" : "frame",
                   v[m / 2], v[MIN (m - 1, (guint) floor (0.99 * m))], v[m - 1]);
      }
  }
}

/* Runs the main loop for `seconds` without blocking in it (frames come from the clock). */
static void
iterate_for (double seconds)
{
  double until = fw_now () + seconds;

  while (fw_now () < until)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (500);
}

/* Stops recording, prints the frames since t0 and forgets them. */
static void
report_frames (const char *what, double t0)
{
  recording = FALSE;
  print_intervals (what, 0, fw_now () - t0);
  g_array_set_size (frame_times, 0);
  g_array_set_size (phase_times, 0);
}

static double
mean_epoch_seconds (GArray *metrics)
{
  double s = 0;
  guint n = 0;

  for (guint i = 0; metrics != NULL && i < metrics->len; i++)
    {
      const FwEpochMetrics *m = &g_array_index (metrics, FwEpochMetrics, i);
      if (isfinite (m->seconds))
        {
          s += m->seconds;
          n++;
        }
    }
  return n > 0 ? s / n : NAN;
}

/* ---- the same recipe, headless ---- */

typedef struct {
  GArray *metrics;
  char *error;
} Headless;

static void
headless_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  Headless *h = user_data;

  if (ev->kind == FW_EVENT_SNAPSHOT && g_strcmp0 (ev->payload_type, "run") == 0)
    {
      const FwRunResult *r = ev->payload;
      h->metrics = g_array_copy (r->metrics);
    }
  else if (ev->kind == FW_EVENT_FAILED && ev->error != NULL)
    h->error = g_strdup (ev->error->message);
}

static GArray *
run_headless (const FwRecipe *recipe, const char *runs_dir)
{
  g_autoptr (GMainContext) ctx = g_main_context_new ();
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  g_autoptr (FwJob) job = NULL;
  FwRecipe *r = fw_recipe_copy (recipe);
  Headless h = { NULL, NULL };

  g_free (r->out_dir);
  r->out_dir = g_build_filename (runs_dir, "headless", NULL);
  job = fw_job_runner_submit (runner, "headless", fw_recipe_job_run, r,
                              (GDestroyNotify) fw_recipe_free, ctx, headless_event, &h);
  fw_job_wait (job, ctx);
  if (h.error != NULL)
    {
      g_printerr ("headless run failed: %s\n", h.error);
      g_free (h.error);
    }
  return h.metrics;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwApplication) app = NULL;
  g_autoptr (FwRecipe) recipe = NULL;
  g_autoptr (GArray) headless = NULL;
  g_autofree char *runs_dir = NULL;
  const char *shots = g_getenv ("FW_BENCH_SHOTS");
  const char *epochs_env = g_getenv ("FW_BENCH_EPOCHS");
  FwWindow *win;
  FwPageTrain *page;
  FwModelShelf *shelf;
  g_autoptr (FwShelfItem) item = NULL;
  double t0, gui_wall, gui_epoch, head_epoch, cpu0, main_cpu;

  g_setenv ("GTK_A11Y", "none", TRUE);
  runs_dir = g_dir_make_tmp ("fw-bench-frames-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("FW_RUNS_DIR", runs_dir, TRUE);
  if (!gtk_init_check ())
    {
      g_printerr ("bench-frame-times: no display; run it under xvfb-run\n");
      return 77;
    }

  app = fw_application_new ();
  if (!g_application_register (G_APPLICATION (app), NULL, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  g_application_activate (G_APPLICATION (app));
  win = FW_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  page = fw_window_get_page_train (win);
  shelf = fw_application_get_shelf (app);

  frame_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  phase_times = g_array_new (FALSE, FALSE, sizeof (Phases));
  {
    GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (win));
    g_signal_connect (clock, "before-paint", G_CALLBACK (stamp_phase), &t_begin);
    g_signal_connect (clock, "update", G_CALLBACK (stamp_phase), &t_update);
    g_signal_connect (clock, "layout", G_CALLBACK (stamp_phase), &t_layout);
    g_signal_connect (clock, "paint", G_CALLBACK (stamp_phase), &t_paint);
    g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint), win);
  }
  t0 = fw_now ();
  spin_until (data_loaded, win, 60);
  if (!data_loaded (win))
    {
      g_printerr ("the default dataset did not load\n");
      return 1;
    }
  g_print ("first frame painted %.2f s after the process started\n", first_paint_s);
  g_print ("dataset: %s (%d samples), loaded %.2f s after the window opened\n",
           fw_page_data_get_dataset (fw_window_get_page_data (win))->name,
           fw_page_data_get_dataset (fw_window_get_page_data (win))->n, fw_now () - t0);

  /* scrolling through every sample of the dataset */
  {
    GtkGridView *grid = fw_page_data_get_grid_view (fw_window_get_page_data (win));
    GtkAdjustment *adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (grid));
    guint id;

    /* the window opens on the Lecture page: an unmapped grid gets no frame ticks */
    g_action_group_activate_action (G_ACTION_GROUP (win), "show-page",
                                    g_variant_new_string ("data"));
    recording = TRUE;
    t0 = fw_now ();
    id = gtk_widget_add_tick_callback (GTK_WIDGET (grid), scroll_tick, adj, NULL);
    iterate_for (3);
    gtk_widget_remove_tick_callback (GTK_WIDGET (grid), id);
    g_print ("scrolled past sample %.0f of %.0f\n",
             gtk_adjustment_get_value (adj) / MAX (1, gtk_adjustment_get_upper (adj))
               * fw_page_data_get_dataset (fw_window_get_page_data (win))->n,
             (double) fw_page_data_get_dataset (fw_window_get_page_data (win))->n);
    report_frames ("frames while scrolling the sample grid", t0);
  }

  if (g_getenv ("FW_BENCH_PRESENTATION") != NULL)
    g_action_group_activate_action (G_ACTION_GROUP (win), "presentation", NULL);
  recipe = fw_page_train_get_recipe (page);
  g_free (recipe->arch);
  recipe->arch = g_strdup ("mlp");
  g_free (recipe->widths);
  recipe->widths = g_strdup ("256,128");
  recipe->train.epochs = epochs_env != NULL ? MAX (1, atoi (epochs_env)) : 3;
  recipe->train.batch = 128;
  recipe->threads = 1;
  fw_page_train_set_recipe (page, recipe);

  gtk_widget_add_tick_callback (GTK_WIDGET (win), tick, NULL, NULL);
  /* switching pages (the crossfade and the first layout of the Train page) */
  recording = TRUE;
  t0 = fw_now ();
  g_action_group_activate_action (G_ACTION_GROUP (win), "show-page",
                                  g_variant_new_string ("train"));
  iterate_for (1);
  report_frames ("frames while switching to the Train page", t0);
  /* the idle window: what the frame clock gives with nothing to do (the baseline jitter of
   * the display server and the scheduler) */
  recording = TRUE;
  t0 = fw_now ();
  iterate_for (2);
  report_frames ("frames while idle on the Train page", t0);

  recording = TRUE;
  t0 = fw_now ();
  cpu0 = thread_cpu_seconds ();
  g_action_group_activate_action (G_ACTION_GROUP (win), "train-start", NULL);
  if (shots != NULL)
    {
      spin_until (epochs_done, win, 600);
      shot_dir = shots;
      shot_name = "train-running.png";
      spin_until (shot_taken, NULL, 5);
    }
  spin_until (train_done, win, 1800);
  gui_wall = fw_now () - t0;
  main_cpu = thread_cpu_seconds () - cpu0;
  recording = FALSE;
  if (shots != NULL)
    {
      /* every tab of the Train page, each right after a paint */
      const char *tabs[] = { "results", "curves", "per-class", "history" };
      GtkStack *viz = fw_page_train_get_viz_stack (page);

      for (gsize i = 0; i < G_N_ELEMENTS (tabs); i++)
        {
          g_autofree char *name = g_strdup_printf ("train-%s.png", tabs[i]);
          double until = fw_now () + 0.4;

          gtk_stack_set_visible_child_name (viz, tabs[i]);
          while (fw_now () < until)   /* the crossfade */
            g_main_context_iteration (NULL, FALSE);
          shot_dir = shots;
          shot_name = name;
          spin_until (shot_taken, NULL, 5);
        }
    }
  if (g_list_model_get_n_items (G_LIST_MODEL (shelf)) == 0)
    {
      g_printerr ("training failed: %s\n", fw_window_get_error_text (win) != NULL
                                            ? fw_window_get_error_text (win) : "?");
      return 1;
    }
  item = g_list_model_get_item (G_LIST_MODEL (shelf), 0);
  gui_epoch = mean_epoch_seconds (fw_shelf_item_get_metrics (item));

  gtk_window_destroy (GTK_WINDOW (win));

  /* the same recipe with no window */
  headless = run_headless (recipe, runs_dir);
  head_epoch = mean_epoch_seconds (headless);

  g_print ("training in the GUI: %s, %d epochs, %.1f s wall, test accuracy %.1f%%\n",
           fw_shelf_item_get_name (item), recipe->train.epochs, gui_wall,
           100 * fw_shelf_item_get_accuracy (item));
  print_intervals ("frames while training", 0, gui_wall);
  g_print ("main thread CPU while training: %.2f s of %.1f s wall (%.0f%%)\n", main_cpu,
           gui_wall, 100 * main_cpu / gui_wall);
  g_print ("engine epoch time: GUI %.3f s, headless %.3f s (GUI/headless %.2f)\n", gui_epoch,
           head_epoch, gui_epoch / head_epoch);

  g_array_unref (frame_times);
  g_array_unref (phase_times);
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", runs_dir);
    if (system (cmd) != 0)
      g_printerr ("could not remove %s\n", runs_dir);
  }
  return 0;
}
