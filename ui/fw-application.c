/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-application.c: the workbench application: app actions, the job runner, the model shelf. */
#include "fw-application.h"

#include "fw-simulator.h"

#include "fw-window.h"

struct _FwApplication {
  AdwApplication parent_instance;

  /* owned */
  FwJobRunner *runner;
  FwModelShelf *shelf;
  char *runs_dir;
};

G_DEFINE_FINAL_TYPE (FwApplication, fw_application, ADW_TYPE_APPLICATION)

FwApplication *
fw_application_new (void)
{
  return g_object_new (FW_TYPE_APPLICATION,
                       "application-id", FW_APPLICATION_ID,
                       "flags", G_APPLICATION_NON_UNIQUE | G_APPLICATION_HANDLES_OPEN,
                       "resource-base-path", "/org/frugal/Workbench",
                       NULL);
}

FwJobRunner *
fw_application_get_runner (FwApplication *self)
{
  g_return_val_if_fail (FW_IS_APPLICATION (self), NULL);
  if (self->runner == NULL)
    self->runner = fw_job_runner_new ();
  return self->runner;
}

FwModelShelf *
fw_application_get_shelf (FwApplication *self)
{
  g_return_val_if_fail (FW_IS_APPLICATION (self), NULL);
  return self->shelf;
}

const char *
fw_application_get_runs_dir (FwApplication *self)
{
  g_return_val_if_fail (FW_IS_APPLICATION (self), NULL);
  return self->runs_dir;
}

static void
quit_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  GApplication *app = user_data;
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (app));

  /* closing the windows cancels their jobs (see FwWindow's dispose) */
  for (GList *l = windows; l != NULL;)
    {
      GList *next = l->next;
      gtk_window_destroy (l->data);
      l = next;
    }
  g_application_quit (app);
}

static void
about_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  GtkApplication *app = user_data;
  const char *developers[] = { "The Frugal Workbench authors", NULL };
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", gtk_application_get_active_window (app),
                        "modal", TRUE,
                        "application-name", "Frugal Workbench",
                        "application-icon", FW_APPLICATION_ID,
                        "version", "0.1.0",
                        "comments", "Train small models on small data and watch them learn: "
                                    "datasets, live training curves, test results and a shelf "
                                    "of models, over the same engine as the frugal command.",
                        "developers", developers,
                        "license-type", GTK_LICENSE_GPL_3_0,
                        NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static void
shortcuts_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  GtkApplication *app = user_data;
  g_autoptr (GtkBuilder) builder = NULL;
  GtkWindow *win;

  builder = gtk_builder_new_from_resource ("/org/frugal/Workbench/ui/fw-shortcuts.ui");
  win = GTK_WINDOW (gtk_builder_get_object (builder, "shortcuts_window"));
  gtk_window_set_transient_for (win, gtk_application_get_active_window (app));
  gtk_window_present (win);
}

static const GActionEntry app_entries[] = {
  { "quit", quit_activated, NULL, NULL, NULL, { 0 } },
  { "about", about_activated, NULL, NULL, NULL, { 0 } },
  { "shortcuts", shortcuts_activated, NULL, NULL, NULL, { 0 } },
};

static void
fw_application_startup (GApplication *app)
{
  GtkApplication *gapp = GTK_APPLICATION (app);
  static const struct { const char *action; const char *accels[3]; } accels[] = {
    { "app.quit", { "<Control>q", NULL } },
    { "app.shortcuts", { "<Control>question", NULL } },
    { "win.open-recipe", { "<Control>o", NULL } },
    { "win.save-recipe", { "<Control>s", NULL } },
    { "win.train-start", { "<Control>Return", "<Control>KP_Enter", NULL } },
    { "win.job-pause", { "<Control>p", NULL } },
    { "win.job-cancel", { "Escape", NULL } },
    { "win.show-shelf", { "F9", NULL } },
    { "win.presentation", { "F5", NULL } },
    { "win.session-save", { "<Control><Shift>s", NULL } },
    { "win.session-open", { "<Control><Shift>o", NULL } },
    { "win.show-page('lecture')", { "<Alt>l", NULL } },
    { "win.show-page('data')", { "<Alt>1", NULL } },
    { "win.show-page('augment')", { "<Alt>2", NULL } },
    { "win.show-page('train')", { "<Alt>3", NULL } },
    { "win.show-page('transfer')", { "<Alt>4", NULL } },
    { "win.show-page('compress')", { "<Alt>5", NULL } },
    { "win.show-page('compare')", { "<Alt>6", NULL } },
    { "win.show-page('grow')", { "<Alt>7", NULL } },
    { "win.show-page('weak')", { "<Alt>8", NULL } },
    { "win.show-page('noise')", { "<Alt>9", NULL } },
    { "win.show-page('embed')", { "<Alt>0", NULL } },
  };
  g_autoptr (GtkCssProvider) css = NULL;

  G_APPLICATION_CLASS (fw_application_parent_class)->startup (app);

  /* trace the digit simulator's glyph outlines here, on the main thread, before any job can
   * run it on the worker: font code must not run on two threads at once (fw-simulator.h) */
  fw_simulator_warm_up ();

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_entries, G_N_ELEMENTS (app_entries),
                                   app);
  for (gsize i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (gapp, accels[i].action, accels[i].accels);

  css = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (css, "/org/frugal/Workbench/style.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (),
                                              GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  /* follow the desktop's light/dark preference; plots follow the widget colours */
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (),
                                      ADW_COLOR_SCHEME_PREFER_LIGHT);
  gtk_window_set_default_icon_name (FW_APPLICATION_ID);
}

static void
fw_application_activate (GApplication *app)
{
  GtkWindow *win = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (win == NULL)
    win = GTK_WINDOW (fw_window_new (FW_APPLICATION (app)));
  gtk_window_present (win);
}

/* frugal-workbench RECIPE.ini: open the recipe in the Train page (what `frugal run` takes). */
static void
fw_application_open (GApplication *app, GFile **files, int n_files, const char *hint)
{
  GtkWindow *win = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (win == NULL)
    win = GTK_WINDOW (fw_window_new (FW_APPLICATION (app)));
  for (int i = 0; i < n_files; i++)
    {
      g_autofree char *path = g_file_get_path (files[i]);
      if (path != NULL)
        fw_window_open_recipe_file (FW_WINDOW (win), path);
    }
  gtk_window_present (win);
}

static void
fw_application_shutdown (GApplication *app)
{
  FwApplication *self = FW_APPLICATION (app);

  /* cancels what is left and joins the worker before the shelf's models go */
  g_clear_pointer (&self->runner, fw_job_runner_free);
  G_APPLICATION_CLASS (fw_application_parent_class)->shutdown (app);
}

static void
fw_application_finalize (GObject *object)
{
  FwApplication *self = FW_APPLICATION (object);

  g_clear_pointer (&self->runner, fw_job_runner_free);
  g_clear_object (&self->shelf);
  g_free (self->runs_dir);
  G_OBJECT_CLASS (fw_application_parent_class)->finalize (object);
}

static void
fw_application_class_init (FwApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->finalize = fw_application_finalize;
  app_class->startup = fw_application_startup;
  app_class->activate = fw_application_activate;
  app_class->open = fw_application_open;
  app_class->shutdown = fw_application_shutdown;
}

static void
fw_application_init (FwApplication *self)
{
  const char *env = g_getenv ("FW_RUNS_DIR");

  self->shelf = fw_model_shelf_new ();
  self->runs_dir = g_strdup (env != NULL && *env != '\0' ? env : "runs");
}
