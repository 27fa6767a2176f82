/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal-lecture.c: `frugal lecture list|run` (the lecture demos headless, with their figure)
 * and `frugal session info FILE`. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "frugal-cli.h"
#include "fw-error.h"
#include "fw-lecture-figure.h"
#include "fw-lecture.h"
#include "fw-session.h"
#include "fw-util.h"

static int
lecture_list (const char *dir)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = fw_lecture_list (dir, &error);
  if (list == NULL)
    return frugal_fail (error);
  const char *section = NULL;
  for (guint i = 0; i < list->len; i++)
    {
      const FwLecture *l = g_ptr_array_index (list, i);
      if (g_strcmp0 (section, l->section) != 0)
        {
          printf ("%s%s\n", section != NULL ? "\n" : "", l->section);
          section = l->section;
        }
      printf ("  %-26s %s (page: %s)%s%s\n", l->name, l->title, l->page,
              l->available ? "" : " — ", l->available ? "" : l->unavailable);
    }
  return FRUGAL_EXIT_OK;
}

/* The demo as a job on a runner (a feature's own job needs one), events on this thread. */
typedef struct {
  GMainLoop *loop;
  FwJob *job;
  FwLectureResult *result;
  GError *error;
  gboolean cancelled, tty;
} RunState;

static void
on_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  RunState *s = user_data;
  switch (ev->kind)
    {
    case FW_EVENT_SNAPSHOT:
      if (g_strcmp0 (ev->payload_type, "lecture-result") == 0)
        {
          g_clear_pointer (&s->result, fw_lecture_result_free);
          s->result = fw_lecture_result_copy (ev->payload);
        }
      break;
    case FW_EVENT_PROGRESS:
      if (s->tty)
        fprintf (stderr, "\r%3.0f%%", 100.0 * ev->fraction);
      break;
    case FW_EVENT_FAILED:
      g_clear_error (&s->error);
      s->error = ev->error != NULL ? g_error_copy (ev->error)
                                   : g_error_new (FW_ERROR, FW_ERROR_FAILED, "the demo failed");
      g_main_loop_quit (s->loop);
      break;
    case FW_EVENT_CANCELLED:
      s->cancelled = TRUE;
      g_main_loop_quit (s->loop);
      break;
    case FW_EVENT_FINISHED:
      g_main_loop_quit (s->loop);
      break;
    default:
      break;
    }
  if (s->tty && (ev->kind == FW_EVENT_FINISHED || ev->kind == FW_EVENT_FAILED
                 || ev->kind == FW_EVENT_CANCELLED))
    fprintf (stderr, "\r     \r");
}

static gboolean
on_signal (gpointer user_data)
{
  RunState *s = user_data;
  fw_job_cancel (s->job);
  return G_SOURCE_CONTINUE;
}

static FwLectureResult *
run_job (FwLecture *l, gboolean *cancelled, GError **error)
{
  RunState s = { 0 };
  s.loop = g_main_loop_new (NULL, FALSE);
  s.tty = isatty (STDERR_FILENO);
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  g_autofree char *name = g_strdup_printf ("lecture %s", l->name);
  g_autoptr (FwJob) job = fw_job_runner_submit (runner, name, fw_lecture_job_run, l,
                                                (GDestroyNotify) fw_lecture_free, NULL,
                                                on_event, &s);
  s.job = job;
  guint sigint = g_unix_signal_add (SIGINT, on_signal, &s);
  guint sigterm = g_unix_signal_add (SIGTERM, on_signal, &s);
  g_main_loop_run (s.loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_clear_pointer (&runner, fw_job_runner_free);
  g_main_loop_unref (s.loop);
  *cancelled = s.cancelled;
  if (s.error != NULL || s.cancelled)
    {
      if (s.error != NULL)
        g_propagate_error (error, s.error);
      g_clear_pointer (&s.result, fw_lecture_result_free);
      return NULL;
    }
  return s.result;
}

static int
lecture_run (const char *dir, const char *name, gboolean reduced, const char *out,
             const char *figure, const char *size, int threads)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = fw_lecture_find (dir, name, &error);
  if (path == NULL)
    return frugal_fail (error);
  g_autoptr (FwLecture) l = fw_lecture_load (path, reduced, &error);
  if (l == NULL)
    return frugal_fail (error);
  if (!l->available)
    return frugal_failf ("%s: %s", l->name, l->unavailable);
  if (out != NULL)
    {
      g_free (l->recipe->out_dir);
      l->recipe->out_dir = g_strdup (out);
    }
  if (threads > 0)
    l->recipe->threads = threads;
  int fw = 1920, fh = 1080;
  if (size != NULL && (sscanf (size, "%dx%d", &fw, &fh) != 2 || fw < 64 || fh < 64
                       || fw > 16384 || fh > 16384))
    return frugal_usage_error ("lecture", "--size %s: write WIDTHxHEIGHT, e.g. 1920x1080",
                               size);

  double t0 = fw_now ();
  gboolean cancelled = FALSE;
  g_autofree char *title = g_strdup (l->title);
  g_auto (GStrv) steps = g_strdupv (l->steps);
  gboolean reduced_run = l->reduced;
  g_autoptr (FwLectureResult) res = run_job (g_steal_pointer (&l), &cancelled, &error);
  if (cancelled)
    {
      fprintf (stderr, "cancelled\n");
      return FRUGAL_EXIT_CANCELLED;
    }
  if (res == NULL)
    return frugal_fail (error);
  double seconds = fw_now () - t0;
  g_autofree char *fig = figure != NULL ? g_strdup (figure)
                                        : g_build_filename (res->run_dir, "figure.png", NULL);
  if (!fw_lecture_figure_export (fig, title, (const char *const *) steps, res, fw, fh, NULL,
                                 &error))
    return frugal_fail (error);
  g_autofree char *took = fw_format_seconds (seconds);
  printf ("%s: %s\n", title, res->summary != NULL ? res->summary : "done");
  printf ("run folder: %s\nfigure: %s\ntime: %s%s\n", res->run_dir, fig, took,
          reduced_run ? " (reduced)" : "");
  return FRUGAL_EXIT_OK;
}

/* `frugal lecture plot SPEC...`: CSV tables drawn like a demo's figure. */
static int
lecture_plot (char **specs, const char *figure, const char *size, const char *title)
{
  int fw = 1920, fh = 1080;
  if (size != NULL && (sscanf (size, "%dx%d", &fw, &fh) != 2 || fw < 64 || fh < 64
                       || fw > 16384 || fh > 16384))
    return frugal_usage_error ("lecture", "--size %s: write WIDTHxHEIGHT, e.g. 1920x1080",
                               size);
  g_autoptr (GError) error = NULL;
  g_autoptr (FwLectureResult) res = fw_lecture_plot_files ((const char *const *) specs, &error);
  if (res == NULL)
    return frugal_fail (error);
  const char *steps[] = { "plot", NULL };
  const char *fig = figure != NULL ? figure : "plot.png";
  if (!fw_lecture_figure_export (fig, title, steps, res, fw, fh, NULL, &error))
    return frugal_fail (error);
  printf ("figure: %s (%u panel%s)\n", fig, res->panels->len, res->panels->len == 1 ? "" : "s");
  return FRUGAL_EXIT_OK;
}

int
frugal_cmd_lecture (int argc, char **argv)
{
  gboolean reduced = FALSE;
  char *out = NULL, *figure = NULL, *size = NULL, *dir = NULL, *title = NULL;
  int threads = 0;
  GOptionEntry entries[] = {
    { "reduced", 0, 0, G_OPTION_ARG_NONE, &reduced, "run at the reduced size of the tests "
      "([lecture] reduced)", NULL },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "run folder (default: the recipe's "
      "[output] dir, else runs/lecture-NAME)", "DIR" },
    { "figure", 0, 0, G_OPTION_ARG_FILENAME, &figure, "figure file, .png/.svg/.pdf "
      "(default: figure.png in the run folder)", "FILE" },
    { "size", 0, 0, G_OPTION_ARG_STRING, &size, "figure size (default 1920x1080)", "WxH" },
    { "title", 0, 0, G_OPTION_ARG_STRING, &title, "plot: the figure's title line (default: "
      "none)", "TEXT" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "OpenBLAS threads (default: the "
      "recipe's)", "N" },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "folder of the lecture recipes (default: "
      "$FW_LECTURE_DIR or the installed ones)", "DIR" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("list | run NAME | plot "
                                                          "'FILE.csv: x=COL, y=COL[, ...]'...");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_summary (ctx, "The lecture demos: 'list' shows them grouped like the "
                                "course; 'run NAME' runs one headless and writes its run "
                                "folder (metrics.csv, summary.json) and its figure in the "
                                "presentation style; 'plot' draws CSV tables the same way, one "
                                "panel per 'FILE.csv: x=COLUMN, y=COLUMN[, series=COLUMN][, "
                                "title=TEXT][, log_y][, each_row][, last]' (rows sharing series "
                                "and x averaged, with their sd; last: the last row only), into --figure (default plot.png).");
  if (!frugal_parse_options (ctx, "lecture", &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  g_autofree char *d = dir != NULL ? g_strdup (dir) : fw_lecture_dir ();
  int rc;
  if (argc == 2 && strcmp (argv[1], "list") == 0)
    rc = lecture_list (d);
  else if (argc == 3 && strcmp (argv[1], "run") == 0)
    rc = lecture_run (d, argv[2], reduced, out, figure, size, threads);
  else if (argc >= 3 && strcmp (argv[1], "plot") == 0)
    rc = lecture_plot (argv + 2, figure, size, title);
  else
    rc = frugal_usage_error ("lecture", "give 'list', 'run NAME' or 'plot SPEC...'");
  g_free (out);
  g_free (figure);
  g_free (size);
  g_free (dir);
  g_free (title);
  return rc;
}

int
frugal_cmd_session (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("info FILE");
  g_option_context_set_summary (ctx, "Check a session snapshot (.fwsession) and describe it: "
                                "open page, dataset, pipeline, shelf models and runs.");
  if (!frugal_parse_options (ctx, "session", &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (argc != 3 || strcmp (argv[1], "info") != 0)
    return frugal_usage_error ("session", "give 'info FILE'");
  g_autoptr (GError) error = NULL;
  g_autoptr (FwSession) s = fw_session_load (argv[2], &error);
  if (s == NULL)
    return frugal_fail (error);
  g_autofree char *text = fw_session_describe (s);
  fputs (text, stdout);
  return FRUGAL_EXIT_OK;
}
