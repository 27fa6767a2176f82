/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cli.c: the `frugal` program as a user meets it: exit codes, messages, the run folder,
 * info and eval on the trained model, and Ctrl-C during a run. The binary is $FRUGAL_BIN. */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <signal.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---- */

typedef struct {
  gboolean done;
  char *out, *err;
  GError *error;
} Communicate;

static void
communicate_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Communicate *c = user_data;
  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), res, &c->out, &c->err,
                                        &c->error);
  c->done = TRUE;
}

static gboolean
timeout_reached (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the default context until *flag or timeout_s; returns *flag. */
static gboolean
wait_for (gboolean *flag, double timeout_s)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add ((guint) (timeout_s * 1000), timeout_reached, &expired);
  while (!*flag && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  return *flag;
}

static void
on_process_exit (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), res, NULL);
  *(gboolean *) user_data = TRUE;
}

static const char *
frugal_bin (void)
{
  const char *bin = g_getenv ("FRUGAL_BIN");
  g_assert_nonnull (bin);
  return bin;
}

/* Runs frugal with the NULL-terminated args, waiting at most timeout_s. Returns the exit code
 * (or -signal); out and err receive the output. */
static int
run_frugal (char **out, char **err, double timeout_s, const char *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) frugal_bin ());
  va_list ap;
  va_start (ap, first);
  for (const char *a = first; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_newv ((const char *const *) argv->pdata,
                                                 G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                 | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  Communicate c = { 0 };
  g_subprocess_communicate_utf8_async (p, NULL, NULL, communicate_done, &c);
  if (!wait_for (&c.done, timeout_s))
    {
      g_subprocess_force_exit (p);
      wait_for (&c.done, 5);
      g_error ("frugal %s did not finish within %.0f s", first, timeout_s);
    }
  g_assert_no_error (c.error);
  /* communicate returns at EOF of the pipes; the exit status may come a moment later */
  gboolean exited = FALSE;
  g_subprocess_wait_async (p, NULL, on_process_exit, &exited);
  if (!wait_for (&exited, 10))
    g_error ("frugal %s closed its output but did not exit", first);
  g_test_message ("frugal %s -> stdout:\n%s\nstderr:\n%s", first, c.out ? c.out : "",
                  c.err ? c.err : "");
  if (out != NULL)
    *out = g_steal_pointer (&c.out);
  if (err != NULL)
    *err = g_steal_pointer (&c.err);
  g_free (c.out);
  g_free (c.err);
  if (g_subprocess_get_if_signaled (p))
    return -g_subprocess_get_term_sig (p);
  return g_subprocess_get_exit_status (p);
}

static void
rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      GDir *d = g_dir_open (path, 0, NULL);
      const char *name;
      while (d != NULL && (name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          rm_rf (child);
        }
      if (d != NULL)
        g_dir_close (d);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

/* TRUE when a file named `name` exists anywhere under dir. */
static gboolean
find_file (const char *dir, const char *name)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  if (d == NULL)
    return FALSE;
  gboolean found = FALSE;
  const char *entry;
  while (!found && (entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *child = g_build_filename (dir, entry, NULL);
      if (strcmp (entry, name) == 0)
        found = TRUE;
      else if (g_file_test (child, G_FILE_TEST_IS_DIR))
        found = find_file (child, name);
    }
  g_dir_close (d);
  return found;
}

/* The value after "label" up to the end of its line, or NULL. */
static char *
value_after (const char *text, const char *label)
{
  const char *p = text != NULL ? strstr (text, label) : NULL;
  if (p == NULL)
    return NULL;
  p += strlen (label);
  while (*p == ' ')
    p++;
  const char *e = strchr (p, '\n');
  return e != NULL ? g_strndup (p, (gsize) (e - p)) : g_strdup (p);
}

/* Shared by the tests that use the trained model. */
static struct {
  char *tmp;          /* the test's temporary directory */
  char *run_dir;      /* the run folder of the small recipe, once trained */
} fx;

static void
write_file (const char *path, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

/* ---- tests ---- */

static void
test_help_lists_commands (void)
{
  g_autofree char *out = NULL, *err = NULL;
  int code = run_frugal (&out, &err, 20, "--help", NULL);
  g_assert_cmpint (code, ==, 0);
  const char *cmds[] = { "run", "info", "eval", "datasets", "layers", "bench" };
  for (gsize i = 0; i < G_N_ELEMENTS (cmds); i++)
    {
      g_autofree char *needle = g_strdup_printf ("\n  %s ", cmds[i]);
      if (strstr (out, needle) == NULL)
        g_error ("'frugal --help' does not list the command '%s'", cmds[i]);
    }

  /* each command has its own --help */
  g_autofree char *out2 = NULL;
  code = run_frugal (&out2, NULL, 20, "run", "--help", NULL);
  g_assert_cmpint (code, ==, 0);
  g_assert_nonnull (strstr (out2, "RECIPE.ini"));
  g_assert_nonnull (strstr (out2, "--epochs"));
}

static void
test_unknown_command_exits_2 (void)
{
  g_autofree char *out = NULL, *err = NULL;
  int code = run_frugal (&out, &err, 20, "frobnicate", NULL);
  g_assert_cmpint (code, ==, 2);
  g_assert_nonnull (strstr (err, "frobnicate"));
  g_assert_nonnull (strstr (err, "Usage"));

  g_autofree char *out2 = NULL, *err2 = NULL;
  code = run_frugal (&out2, &err2, 20, NULL);
  g_assert_cmpint (code, ==, 2);
}

static void
test_datasets_and_layers (void)
{
  g_autofree char *out = NULL, *err = NULL;
  int code = run_frugal (&out, &err, 30, "datasets", NULL);
  g_assert_cmpint (code, ==, 0);
  /* the simulator is always available, Fashion-MNIST is always listed (present or not) */
  g_assert_nonnull (strcasestr (out, "fashion-mnist"));
  g_assert_nonnull (strcasestr (out, "sim"));

  g_autofree char *out2 = NULL;
  code = run_frugal (&out2, NULL, 30, "layers", NULL);
  g_assert_cmpint (code, ==, 0);
  g_assert_nonnull (strstr (out2, "dense"));
  g_assert_nonnull (strstr (out2, "relu"));
  g_assert_nonnull (strstr (out2, "lenet5"));
}

static void
test_run_writes_run_folder (void)
{
  g_autofree char *recipe = g_build_filename (fx.tmp, "small.ini", NULL);
  g_autofree char *out_dir = g_build_filename (fx.tmp, "small-run", NULL);
  g_autofree char *text = g_strdup_printf ("[data]\n"
                                           "dataset = sim:400\n"
                                           "val_fraction = 0.1\n"
                                           "[model]\n"
                                           "arch = mlp\n"
                                           "widths = 16\n"
                                           "[train]\n"
                                           "epochs = 2\n"
                                           "batch = 32\n"
                                           "[output]\n"
                                           "dir = %s\n"
                                           "[run]\n"
                                           "seed = 3\n", out_dir);
  write_file (recipe, text);

  g_autofree char *out = NULL, *err = NULL;
  int code = run_frugal (&out, &err, 90, "run", recipe, NULL);
  g_assert_cmpint (code, ==, 0);

  /* one plain line per epoch when the output is not a terminal */
  g_assert_nonnull (strstr (out, "epoch 1/2"));
  g_assert_nonnull (strstr (out, "epoch 2/2"));

  fx.run_dir = value_after (out, "run folder:");
  g_assert_nonnull (fx.run_dir);
  g_assert_true (g_str_has_prefix (fx.run_dir, out_dir));
  const char *files[] = { "recipe.ini", "metrics.csv", "summary.json", "model.safetensors" };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *p = g_build_filename (fx.run_dir, files[i], NULL);
      if (!g_file_test (p, G_FILE_TEST_IS_REGULAR))
        g_error ("the run folder lacks %s", files[i]);
    }

  /* metrics.csv: a header and one row per epoch */
  g_autofree char *csv_path = g_build_filename (fx.run_dir, "metrics.csv", NULL);
  g_autofree char *csv = NULL;
  g_assert_true (g_file_get_contents (csv_path, &csv, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (csv, "\n", -1);
  int rows = 0;
  for (int i = 1; lines[0] != NULL && lines[i] != NULL; i++)
    if (*g_strstrip (lines[i]) != '\0')
      rows++;
  g_assert_cmpint (rows, ==, 2);
}

/* Reads everything the child writes to the terminal until it closes, at most timeout_s. */
static void
drain_pty (int master, GString *text, double timeout_s)
{
  gint64 end = g_get_monotonic_time () + (gint64) (timeout_s * 1e6);
  while (g_get_monotonic_time () < end)
    {
      struct pollfd pfd = { master, POLLIN, 0 };
      int r = poll (&pfd, 1, 100);
      if (r < 0 && errno != EINTR)
        break;
      if (r <= 0)
        continue;
      char buf[4096];
      ssize_t n = read (master, buf, sizeof buf);
      if (n <= 0)   /* EIO once the last writer closed the terminal */
        break;
      g_string_append_len (text, buf, n);
    }
}

static void
test_run_draws_progress_bar_on_terminal (void)
{
  int master = posix_openpt (O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt (master) != 0 || unlockpt (master) != 0)
    {
      g_test_skip ("no pseudo-terminal here");
      return;
    }
  int slave = open (ptsname (master), O_RDWR | O_NOCTTY);
  g_assert_cmpint (slave, >=, 0);

  g_autofree char *recipe = g_build_filename (fx.tmp, "tty.ini", NULL);
  g_autofree char *out_dir = g_build_filename (fx.tmp, "tty-run", NULL);
  g_autofree char *text = g_strdup_printf ("[data]\n"
                                           "dataset = sim:1000\n"
                                           "[model]\n"
                                           "arch = mlp\n"
                                           "widths = 16\n"
                                           "[train]\n"
                                           "epochs = 3\n"
                                           "batch = 16\n"
                                           "[output]\n"
                                           "dir = %s\n", out_dir);
  write_file (recipe, text);

  /* stderr on a terminal, stdout on a pipe */
  g_autoptr (GError) error = NULL;
  GSubprocessLauncher *l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_subprocess_launcher_take_stderr_fd (l, slave);
  g_autoptr (GSubprocess) p = g_subprocess_launcher_spawn (l, &error, frugal_bin (), "run",
                                                           recipe, NULL);
  g_object_unref (l);   /* closes our copy of the slave side */
  g_assert_no_error (error);

  g_autoptr (GString) tty = g_string_new (NULL);
  drain_pty (master, tty, 60);
  close (master);
  gboolean exited = FALSE;
  g_subprocess_wait_async (p, NULL, on_process_exit, &exited);
  if (!wait_for (&exited, 10))
    {
      g_subprocess_force_exit (p);
      g_error ("frugal run did not finish");
    }
  g_test_message ("terminal output: %s", tty->str);
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 0);

  /* one line redrawn in place: carriage returns, a bar, the batch counter, loss, ETA */
  g_assert_nonnull (strchr (tty->str, '\r'));
  g_assert_true (g_regex_match_simple ("epoch [1-3]/3 \\[[#-]{24}\\] batch [0-9]+/[0-9]+ "
                                       "loss [0-9.]+ acc [0-9.]+% ETA ", tty->str, 0, 0));
}

static void
test_info_counts_mlp_parameters (void)
{
  if (fx.run_dir == NULL)
    {
      g_test_skip ("needs the model of /Cli/run_writes_run_folder");
      return;
    }
  g_autofree char *model = g_build_filename (fx.run_dir, "model.safetensors", NULL);
  g_autofree char *out = NULL, *err = NULL;
  int code = run_frugal (&out, &err, 30, "info", model, NULL);
  g_assert_cmpint (code, ==, 0);

  /* 784 inputs -> 16 hidden -> 10 classes: weights and biases of two dense layers */
  const gint64 expected = 784 * 16 + 16 + 16 * 10 + 10;
  g_autofree char *params = value_after (out, "\nparameters:");
  g_assert_nonnull (params);
  g_assert_cmpint (g_ascii_strtoll (params, NULL, 10), ==, expected);

  /* bytes on disk: the file's size, which holds at least the fp32 weights */
  g_autofree char *bytes = value_after (out, "bytes on disk:");
  g_assert_nonnull (bytes);
  GStatBuf st;
  g_assert_cmpint (g_stat (model, &st), ==, 0);
  g_assert_cmpint (g_ascii_strtoll (bytes, NULL, 10), ==, (gint64) st.st_size);
  g_assert_cmpint ((gint64) st.st_size, >=, 4 * expected);

  /* FLOPs per image: two multiply-adds' worth per weight at least */
  g_autofree char *flops = value_after (out, "FLOPs per image:");
  g_assert_nonnull (flops);
  g_assert_cmpfloat (g_ascii_strtod (flops, NULL), >=, 2.0 * (784 * 16 + 16 * 10));
  g_assert_nonnull (strstr (out, "mlp"));
}

static void
test_eval_matches_summary (void)
{
  if (fx.run_dir == NULL)
    {
      g_test_skip ("needs the model of /Cli/run_writes_run_folder");
      return;
    }
  g_autofree char *summary = g_build_filename (fx.run_dir, "summary.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  json_parser_load_from_file (parser, summary, &error);
  g_assert_no_error (error);
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  g_assert_true (json_object_has_member (root, "test_accuracy"));
  double acc = json_object_get_double_member (root, "test_accuracy");
  g_assert_cmpfloat (acc, >=, 0.0);
  g_assert_cmpfloat (acc, <=, 1.0);

  /* With test = auto, the run's test set for sim:N is sim-test:N/5 drawn with the recipe's
   * seed (fw_dataset_load_test in fw-dataset.h); the recipe above has seed = 3. */
  g_autofree char *model = g_build_filename (fx.run_dir, "model.safetensors", NULL);
  g_autofree char *out = NULL, *err = NULL;
  int code = run_frugal (&out, &err, 60, "eval", model, "--data", "sim-test:80",
                         "--seed", "3", NULL);
  g_assert_cmpint (code, ==, 0);
  g_autofree char *printed = value_after (out, "accuracy:");
  g_assert_nonnull (printed);
  g_autofree char *expected = g_strdup_printf ("%.1f%%", 100.0 * acc);
  g_assert_true (g_str_has_prefix (printed, expected));
  g_assert_nonnull (strstr (out, "confusion matrix"));
}

static void
test_eval_rejects_incompatible_data (void)
{
  if (fx.run_dir == NULL)
    {
      g_test_skip ("needs the model of /Cli/run_writes_run_folder");
      return;
    }
  g_autofree char *model = g_build_filename (fx.run_dir, "model.safetensors", NULL);
  /* 20x20 digits for a 28x28 model */
  g_autofree char *out = NULL, *err = NULL;
  int code = run_frugal (&out, &err, 60, "eval", model, "--data", "sim:20:20", NULL);
  g_assert_cmpint (code, ==, 1);
  g_assert_true (g_str_has_prefix (err, "frugal: "));
  g_assert_nonnull (strstr (err, "1x20x20"));
  g_assert_nonnull (strstr (err, "1x28x28"));

  /* three classes of features for a ten-class image model */
  g_autofree char *csv = g_build_filename (fx.tmp, "three.csv", NULL);
  write_file (csv, "0.1,0.2,0\n0.3,0.4,1\n0.5,0.6,2\n");
  g_autofree char *spec = g_strdup_printf ("csv:%s", csv);
  g_autofree char *err2 = NULL;
  code = run_frugal (NULL, &err2, 60, "eval", model, "--data", spec, NULL);
  g_assert_cmpint (code, ==, 1);
  g_assert_nonnull (strstr (err2, "expects"));
}

static void
test_unknown_recipe_key_fails_cleanly (void)
{
  g_autofree char *recipe = g_build_filename (fx.tmp, "typo.ini", NULL);
  g_autofree char *out_dir = g_build_filename (fx.tmp, "typo-run", NULL);
  g_autofree char *text = g_strdup_printf ("[data]\n"
                                           "dataset = sim:400\n"
                                           "[train]\n"
                                           "epochs = 1\n"
                                           "learnin_rate = 0.1\n"
                                           "[output]\n"
                                           "dir = %s\n", out_dir);
  write_file (recipe, text);
  g_autofree char *out = NULL, *err = NULL;
  int code = run_frugal (&out, &err, 30, "run", recipe, NULL);
  g_assert_cmpint (code, !=, 0);
  /* one line, naming the file, the group and the key */
  g_assert_true (g_str_has_prefix (err, "frugal: "));
  g_assert_nonnull (strchr (err, '\n'));
  g_assert_cmpstr (strchr (err, '\n') + 1, ==, "");
  g_assert_nonnull (strstr (err, "typo.ini"));
  g_assert_nonnull (strstr (err, "train"));
  g_assert_nonnull (strstr (err, "learnin_rate"));
  g_assert_false (g_file_test (out_dir, G_FILE_TEST_EXISTS));
}

static void
test_missing_model_is_clear_error (void)
{
  g_autofree char *model = g_build_filename (fx.tmp, "no-such-model.safetensors", NULL);
  g_autofree char *out = NULL, *err = NULL;
  int code = run_frugal (&out, &err, 30, "info", model, NULL);
  g_assert_cmpint (code, ==, 1);
  g_assert_true (g_str_has_prefix (err, "frugal: "));
  g_assert_nonnull (strstr (err, "no-such-model.safetensors"));

  g_autofree char *out2 = NULL, *err2 = NULL;
  code = run_frugal (&out2, &err2, 30, "eval", model, "--data", "sim:10", NULL);
  g_assert_cmpint (code, ==, 1);
  g_assert_nonnull (strstr (err2, "no-such-model.safetensors"));

  /* a command-line mistake is a usage error (2), not a failure (1) */
  g_autofree char *err3 = NULL;
  code = run_frugal (NULL, &err3, 30, "eval", model, NULL);
  g_assert_cmpint (code, ==, 2);
  g_assert_nonnull (strstr (err3, "--data"));
}

typedef struct {
  GDataInputStream *in;
  GString *text;
  gboolean saw_epoch, eof;
} LineReader;

static void
on_line (GObject *source, GAsyncResult *res, gpointer user_data)
{
  LineReader *r = user_data;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (r->in, res, NULL, NULL);
  if (line == NULL)
    {
      r->eof = TRUE;
      return;
    }
  g_string_append_printf (r->text, "%s\n", line);
  if (g_str_has_prefix (line, "epoch "))
    r->saw_epoch = TRUE;
  else
    g_data_input_stream_read_line_async (r->in, G_PRIORITY_DEFAULT, NULL, on_line, r);
}

static void
test_sigint_cancels_run (void)
{
  g_autofree char *recipe = g_build_filename (fx.tmp, "long.ini", NULL);
  g_autofree char *out_dir = g_build_filename (fx.tmp, "long-run", NULL);
  /* minutes of work: 200 epochs of a wide MLP */
  g_autofree char *text = g_strdup_printf ("[data]\n"
                                           "dataset = sim:3000\n"
                                           "[model]\n"
                                           "arch = mlp\n"
                                           "widths = 512,512\n"
                                           "[train]\n"
                                           "epochs = 200\n"
                                           "[output]\n"
                                           "dir = %s\n", out_dir);
  write_file (recipe, text);

  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error,
                                                frugal_bin (), "run", recipe, NULL);
  g_assert_no_error (error);
  LineReader r = { 0 };
  r.in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p));
  r.text = g_string_new (NULL);
  g_data_input_stream_read_line_async (r.in, G_PRIORITY_DEFAULT, NULL, on_line, &r);

  /* wait for the first epoch line (training is under way), bounded */
  gboolean expired = FALSE;
  guint timer = g_timeout_add_seconds (60, timeout_reached, &expired);
  while (!r.saw_epoch && !r.eof && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (timer);
  g_test_message ("output before the signal:\n%s", r.text->str);
  if (!r.saw_epoch)
    {
      g_subprocess_force_exit (p);
      g_error ("no epoch line within 60 s (eof %d)", r.eof);
    }

  gboolean exited = FALSE;
  g_subprocess_wait_async (p, NULL, on_process_exit, &exited);
  double t_sig = g_get_monotonic_time () / 1e6;
  g_subprocess_send_signal (p, SIGINT);
  if (!wait_for (&exited, 2.5))
    {
      g_subprocess_force_exit (p);
      wait_for (&exited, 5);
      g_error ("frugal run did not exit within 2.5 s of SIGINT");
    }
  double dt = g_get_monotonic_time () / 1e6 - t_sig;
  g_test_message ("exited %.3f s after SIGINT", dt);
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 130);
  if (g_file_test (out_dir, G_FILE_TEST_EXISTS))
    g_assert_false (find_file (out_dir, "model.safetensors"));

  g_object_unref (r.in);
  g_string_free (r.text, TRUE);
}

static JsonObject *
parse_record (const char *line, JsonParser *parser)
{
  g_autoptr (GError) error = NULL;
  json_parser_load_from_data (parser, line, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_node_get_object (json_parser_get_root (parser));
}

static void
assert_members (JsonObject *o, const char *const *names)
{
  for (int i = 0; names[i] != NULL; i++)
    if (!json_object_has_member (o, names[i]))
      g_error ("bench record lacks the field '%s' of torch_fmnist.py's records", names[i]);
}

static void
test_bench_prints_torch_records (void)
{
  if (!g_file_test ("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
                    G_FILE_TEST_EXISTS))
    {
      g_test_skip ("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
      return;
    }
  g_autofree char *out = NULL, *err = NULL;
  int code = run_frugal (&out, &err, 100, "bench", "--model", "mlp", "--threads", "1",
                         "--epochs", "1", "--repeats", "1", "--latency-calls", "100",
                         "--min-window", "0.05", "--foreign-limit", "1000", NULL);
  g_assert_cmpint (code, ==, 0);

  /* the fields torch_fmnist.py writes, kind by kind */
  const char *common[] = { "kind", "model", "threads", "opt", NULL };
  const char *epoch_f[] = { "rep", "epoch", "seconds", "last_batch_loss", "foreign_cores", NULL };
  const char *train_f[] = { "rep", "epoch_seconds", "test_acc", "params", "foreign_cores_max",
                            NULL };
  const char *infer_f[] = { "rep", "latency_b1_us_median", "latency_b1_us_min",
                            "latency_calls", "throughput_b1000_img_s", "foreign_cores_latency",
                            "foreign_cores_throughput", NULL };
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  int n_meta = 0, n_epoch = 0, n_train = 0, n_infer = 0;
  double epoch_seconds = NAN;
  for (int i = 0; lines[i] != NULL; i++)
    {
      if (*lines[i] == '\0')
        continue;
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonObject *o = parse_record (lines[i], parser);
      const char *kind = json_object_get_string_member (o, "kind");
      assert_members (o, common);
      if (strcmp (kind, "meta") == 0)
        n_meta++;
      else
        {
          g_assert_cmpstr (json_object_get_string_member (o, "model"), ==, "mlp");
          g_assert_cmpint (json_object_get_int_member (o, "threads"), ==, 1);
          g_assert_cmpstr (json_object_get_string_member (o, "opt"), ==, "sgd");
        }
      if (strcmp (kind, "epoch") == 0)
        {
          n_epoch++;
          assert_members (o, epoch_f);
          epoch_seconds = json_object_get_double_member (o, "seconds");
          g_assert_cmpfloat (epoch_seconds, >, 0.0);
          /* better than chance (ln 10 = 2.30) after an epoch */
          g_assert_cmpfloat (json_object_get_double_member (o, "last_batch_loss"), <, 2.0);
        }
      else if (strcmp (kind, "train") == 0)
        {
          n_train++;
          assert_members (o, train_f);
          /* 784-256-128-10 with biases */
          g_assert_cmpint (json_object_get_int_member (o, "params"), ==,
                           784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
          JsonArray *es = json_object_get_array_member (o, "epoch_seconds");
          g_assert_cmpint (json_array_get_length (es), ==, 1);
          g_assert_cmpfloat (json_array_get_double_element (es, 0), ==, epoch_seconds);
          double acc = json_object_get_double_member (o, "test_acc");
          g_assert_cmpfloat (acc, >, 0.6);
          g_assert_cmpfloat (acc, <=, 1.0);
        }
      else if (strcmp (kind, "infer") == 0)
        {
          n_infer++;
          assert_members (o, infer_f);
          double med = json_object_get_double_member (o, "latency_b1_us_median");
          double min = json_object_get_double_member (o, "latency_b1_us_min");
          g_assert_cmpfloat (min, >, 0.0);
          g_assert_cmpfloat (min, <=, med);
          g_assert_cmpint (json_object_get_int_member (o, "latency_calls"), >=, 100);
          g_assert_cmpfloat (json_object_get_double_member (o, "throughput_b1000_img_s"), >, 0);
        }
    }
  g_assert_cmpint (n_meta, ==, 1);
  g_assert_cmpint (n_epoch, ==, 1);
  g_assert_cmpint (n_train, ==, 1);
  g_assert_cmpint (n_infer, ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  if (g_getenv ("FRUGAL_BIN") == NULL)
    {
      g_printerr ("FRUGAL_BIN is not set: run this test through 'meson test'\n");
      return 77;
    }
  g_autoptr (GError) error = NULL;
  fx.tmp = g_dir_make_tmp ("frugal-cli-XXXXXX", &error);
  g_assert_no_error (error);

  g_test_add_func ("/Cli/help_lists_commands", test_help_lists_commands);
  g_test_add_func ("/Cli/unknown_command_exits_2", test_unknown_command_exits_2);
  g_test_add_func ("/Cli/datasets_and_layers_list_what_exists", test_datasets_and_layers);
  g_test_add_func ("/Cli/run_writes_run_folder", test_run_writes_run_folder);
  g_test_add_func ("/Cli/run_draws_progress_bar_on_terminal",
                   test_run_draws_progress_bar_on_terminal);
  g_test_add_func ("/Cli/info_counts_mlp_parameters", test_info_counts_mlp_parameters);
  g_test_add_func ("/Cli/eval_matches_run_summary", test_eval_matches_summary);
  g_test_add_func ("/Cli/eval_rejects_incompatible_data", test_eval_rejects_incompatible_data);
  g_test_add_func ("/Cli/unknown_recipe_key_fails_cleanly", test_unknown_recipe_key_fails_cleanly);
  g_test_add_func ("/Cli/missing_model_is_clear_error", test_missing_model_is_clear_error);
  g_test_add_func ("/Cli/sigint_cancels_run_without_model", test_sigint_cancels_run);
  g_test_add_func ("/Cli/bench_prints_torch_records", test_bench_prints_torch_records);

  int ret = g_test_run ();
  rm_rf (fx.tmp);
  g_free (fx.tmp);
  g_free (fx.run_dir);
  return ret;
}
