/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-window.c: the workbench window. */
#include "fw-window-private.h"

#include "fw-recipe-ext.h"
#include "fw-error.h"
#include "fw-model-shelf.h"
#include "fw-page-noise.h"
#include "fw-page-weak.h"
#include "fw-page-transfer.h"
#include "fw-page-embed.h"
#include "fw-page-augment.h"
#include "fw-page-compress.h"
#include "fw-page-compare.h"
#include "fw-page-grow.h"
#include "fw-page-lecture.h"
#include "fw-session.h"
#include "fw-util.h"

struct _FwWindow {
  AdwApplicationWindow parent_instance;

  /* template widgets */
  AdwToastOverlay *toast_overlay;
  GtkLabel *dataset_label;
  FwJobIndicator *job_indicator;
  GtkRevealer *error_revealer;
  GtkLabel *error_label;
  GtkButton *error_close_button;
  GtkStack *stack;
  FwPageData *page_data;
  FwPageTrain *page_train;
  GtkBox *shelf_box;
  FwPageLecture *page_lecture;
  GtkWidget *sidebar;
  GtkMenuButton *lecture_menu_button;
  GtkWidget *header_bar;

  /* owned */
  char *last_toast;
  gboolean shelf_before_presentation;  /* the shelf's visibility when F5 was pressed */
};

G_DEFINE_FINAL_TYPE (FwWindow, fw_window, ADW_TYPE_APPLICATION_WINDOW)

/* One submitted job's link back to the window; freed after the final event. */
typedef struct {
  GWeakRef window;
  FwEventFunc on_event;
  gpointer user_data;
} JobLink;

FwWindow *
fw_window_new (FwApplication *app)
{
  FwWindow *self = g_object_new (FW_TYPE_WINDOW, "application", app, NULL);

  /* what needs the application (set after construction) */
  gtk_box_append (self->shelf_box, fw_model_shelf_view_new (fw_application_get_shelf (app)));
  fw_page_train_scan_runs (self->page_train, fw_application_get_runs_dir (app));
  fw_window_load_lecture_demos (self, NULL);
  /* the default dataset: Fashion-MNIST when installed, else the simulator */
  fw_page_data_load_default (self->page_data);
  return self;
}

FwWindow *
fw_window_for_widget (GtkWidget *widget)
{
  GtkRoot *root = widget != NULL ? gtk_widget_get_root (widget) : NULL;
  return root != NULL && FW_IS_WINDOW (root) ? FW_WINDOW (root) : NULL;
}

static FwApplication *
window_app (FwWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));
  return app != NULL && FW_IS_APPLICATION (app) ? FW_APPLICATION (app) : NULL;
}

FwJobRunner *
fw_window_get_runner (FwWindow *self)
{
  FwApplication *app = window_app (self);
  return app != NULL ? fw_application_get_runner (app) : NULL;
}

FwModelShelf *
fw_window_get_shelf (FwWindow *self)
{
  FwApplication *app = window_app (self);
  return app != NULL ? fw_application_get_shelf (app) : NULL;
}

const char *
fw_window_get_runs_dir (FwWindow *self)
{
  FwApplication *app = window_app (self);
  return app != NULL ? fw_application_get_runs_dir (app) : "runs";
}

FwPageData *
fw_window_get_page_data (FwWindow *self)
{
  return self->page_data;
}

FwPageTrain *
fw_window_get_page_train (FwWindow *self)
{
  return self->page_train;
}

FwJobIndicator *
fw_window_get_job_indicator (FwWindow *self)
{
  return self->job_indicator;
}

GtkStack *
fw_window_get_stack (FwWindow *self)
{
  return self->stack;
}

const char *
fw_window_get_error_text (FwWindow *self)
{
  if (!gtk_revealer_get_reveal_child (self->error_revealer))
    return NULL;
  return gtk_label_get_text (self->error_label);
}

const char *
fw_window_get_last_toast (FwWindow *self)
{
  return self->last_toast;
}

void
fw_window_set_action_enabled (FwWindow *self, const char *name, gboolean enabled)
{
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), name);

  if (action != NULL)
    g_simple_action_set_enabled (G_SIMPLE_ACTION (action), enabled);
}

void
fw_window_show_error (FwWindow *self, const char *message)
{
  g_return_if_fail (FW_IS_WINDOW (self));
  gtk_label_set_text (self->error_label, message);
  gtk_revealer_set_reveal_child (self->error_revealer, TRUE);
}

void
fw_window_clear_error (FwWindow *self)
{
  gtk_revealer_set_reveal_child (self->error_revealer, FALSE);
}

void
fw_window_show_toast (FwWindow *self, const char *text)
{
  AdwToast *toast;

  g_return_if_fail (FW_IS_WINDOW (self));
  g_free (self->last_toast);
  self->last_toast = g_strdup (text);
  toast = adw_toast_new (text);
  adw_toast_set_timeout (toast, 4);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

void
fw_window_dataset_changed (FwWindow *self, const char *spec, FwDataset *ds)
{
  g_autofree char *text = NULL;

  if (ds != NULL)
    {
      g_autofree char *n = fw_format_count (ds->n);
      text = g_strdup_printf ("%s · %s samples · %d classes", ds->name, n, ds->n_classes);
    }
  gtk_label_set_text (self->dataset_label, text != NULL ? text : "no dataset");
  fw_page_train_set_dataset (self->page_train, spec, ds);
}

static void
update_job_actions (FwWindow *self)
{
  gboolean busy = fw_job_indicator_get_n_jobs (self->job_indicator) > 0;

  fw_window_set_action_enabled (self, "job-pause", busy);
  fw_window_set_action_enabled (self, "job-cancel", busy);
}

static gboolean
event_is_final (const FwEvent *ev)
{
  return ev->kind == FW_EVENT_FINISHED || ev->kind == FW_EVENT_FAILED
         || ev->kind == FW_EVENT_CANCELLED;
}

static void
job_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  JobLink *link = user_data;
  g_autoptr (FwWindow) self = g_weak_ref_get (&link->window);

  if (self != NULL && !gtk_widget_in_destruction (GTK_WIDGET (self)))
    {
      fw_job_indicator_update (self->job_indicator, job, ev);
      if (ev->kind == FW_EVENT_FAILED && ev->error != NULL
          && !g_error_matches (ev->error, FW_ERROR, FW_ERROR_CANCELLED)
          && !g_error_matches (ev->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *msg = g_strdup_printf ("%s failed: %s", fw_job_get_name (job),
                                                  ev->error->message);
          fw_window_show_error (self, msg);
        }
      else if (ev->kind == FW_EVENT_CANCELLED)
        {
          g_autofree char *msg = g_strdup_printf ("Cancelled: %s", fw_job_get_name (job));
          fw_window_show_toast (self, msg);
        }
      if (link->on_event != NULL)
        link->on_event (job, ev, link->user_data);
      update_job_actions (self);
    }
  if (event_is_final (ev))
    {
      g_weak_ref_clear (&link->window);
      g_free (link);
    }
}

FwJob *
fw_window_submit_job (FwWindow *self, const char *name, FwJobFunc run, gpointer data,
                      GDestroyNotify data_free, FwEventFunc on_event, gpointer user_data)
{
  FwJobRunner *runner;
  JobLink *link;
  FwJob *job;

  g_return_val_if_fail (FW_IS_WINDOW (self), NULL);
  runner = fw_window_get_runner (self);
  g_return_val_if_fail (runner != NULL, NULL);

  link = g_new0 (JobLink, 1);
  g_weak_ref_init (&link->window, self);
  link->on_event = on_event;
  link->user_data = user_data;
  job = fw_job_runner_submit (runner, name, run, data, data_free,
                              g_main_context_default (), job_event, link);
  fw_job_indicator_track (self->job_indicator, job);
  update_job_actions (self);
  return job;
}

gboolean
fw_window_open_recipe_file (FwWindow *self, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwRecipe) r = fw_recipe_load (path, &error);
  g_autofree char *msg = NULL;

  g_return_val_if_fail (FW_IS_WINDOW (self), FALSE);
  if (r == NULL)
    {
      fw_window_show_error (self, error->message);
      return FALSE;
    }
  const FwRecipeExt *ext = fw_recipe_ext_of (r);
  GtkWidget *page = NULL;
  FwRecipeOpener opener = NULL;
  if (ext != NULL)
    {
      page = ext->page != NULL ? gtk_stack_get_child_by_name (self->stack, ext->page) : NULL;
      opener = page != NULL ? g_object_get_data (G_OBJECT (page), "fw-recipe-opener") : NULL;
      if (opener == NULL)
        {
          g_autofree char *m = g_strdup_printf ("%s: this is a recipe for %s, which no page of "
                                                "this window opens — run it with: frugal run "
                                                "%s", path, ext->title, path);
          fw_window_show_error (self, m);
          return FALSE;
        }
    }
  else
    fw_page_train_set_recipe (self->page_train, r);
  if (r->dataset != NULL && *r->dataset != '\0'
      && g_strcmp0 (r->dataset, fw_page_data_get_spec (self->page_data)) != 0)
    fw_page_data_load (self->page_data, r->dataset);
  if (ext != NULL)
    {
      gtk_stack_set_visible_child (self->stack, page);
      opener (page, r);
    }
  else
    gtk_stack_set_visible_child_name (self->stack, "train");
  fw_window_clear_error (self);
  msg = g_strdup_printf ("Opened recipe %s", r->name != NULL ? r->name : path);
  fw_window_show_toast (self, msg);
  return TRUE;
}

void
fw_page_set_recipe_opener (GtkWidget *page, FwRecipeOpener opener)
{
  g_object_set_data (G_OBJECT (page), "fw-recipe-opener", opener);
}

const char *
fw_window_get_data_spec (FwWindow *self)
{
  g_return_val_if_fail (FW_IS_WINDOW (self), NULL);
  return fw_page_data_get_spec (self->page_data);
}

FwDataset *
fw_window_get_dataset (FwWindow *self)
{
  g_return_val_if_fail (FW_IS_WINDOW (self), NULL);
  return fw_page_data_get_dataset (self->page_data);
}

/* ---- actions ---- */

static void
train_start_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  FwWindow *self = user_data;

  gtk_stack_set_visible_child_name (self->stack, "train");
  fw_page_train_start (self->page_train);
}

static void
job_pause_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  FwWindow *self = user_data;
  fw_job_indicator_toggle_pause (self->job_indicator);
  fw_page_train_sync_buttons (self->page_train);
}

static void
job_cancel_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  FwWindow *self = user_data;
  fw_job_indicator_cancel (self->job_indicator);
}

static void
open_recipe_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  FwWindow *self = user_data;
  gtk_stack_set_visible_child_name (self->stack, "train");
  fw_page_train_open_recipe (self->page_train);
}

static void
save_recipe_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  FwWindow *self = user_data;
  fw_page_train_save_recipe (self->page_train);
}

static void
show_page_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  FwWindow *self = user_data;
  const char *name = g_variant_get_string (param, NULL);

  if (gtk_stack_get_child_by_name (self->stack, name) != NULL)
    gtk_stack_set_visible_child_name (self->stack, name);
}

static void
presentation_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  FwWindow *self = user_data;
  gboolean on = g_variant_get_boolean (state);
  double scale = on ? 1.6 : 1.0;   /* plots: fonts x1.6, lines x sqrt(1.6) */

  g_autoptr (GVariant) old = g_action_get_state (G_ACTION (action));
  if (old != NULL && on == g_variant_get_boolean (old))
    return;
  g_simple_action_set_state (action, state);
  if (on)
    gtk_widget_add_css_class (GTK_WIDGET (self), "fw-presentation");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "fw-presentation");
  /* the presentation view: full screen, sidebar and shelf hidden (the shelf comes back as it
   * was), the lecture stage in the presentation style */
  if (on)
    {
      self->shelf_before_presentation = gtk_widget_get_visible (GTK_WIDGET (self->shelf_box));
      gtk_window_fullscreen (GTK_WINDOW (self));
    }
  else
    gtk_window_unfullscreen (GTK_WINDOW (self));
  gtk_widget_set_visible (self->sidebar, !on);
  gtk_widget_set_visible (GTK_WIDGET (self->shelf_box), on ? FALSE
                                                           : self->shelf_before_presentation);
  fw_page_lecture_set_presentation (self->page_lecture, on);
  fw_page_data_set_font_scale (self->page_data, scale);
  fw_page_train_set_font_scale (self->page_train, scale);
  {
    GtkWidget *transfer = gtk_stack_get_child_by_name (self->stack, "transfer");
    if (transfer != NULL && FW_IS_PAGE_TRANSFER (transfer))
      fw_page_transfer_set_font_scale (FW_PAGE_TRANSFER (transfer), scale);
    GtkWidget *noise = gtk_stack_get_child_by_name (self->stack, "noise");
    if (noise != NULL && FW_IS_PAGE_NOISE (noise))
      fw_page_noise_set_font_scale (FW_PAGE_NOISE (noise), scale);
  }
  {
    GtkWidget *compress = gtk_stack_get_child_by_name (self->stack, "compress");
    GtkWidget *compare = gtk_stack_get_child_by_name (self->stack, "compare");
    if (compress != NULL && FW_IS_PAGE_COMPRESS (compress))
      fw_page_compress_set_font_scale (FW_PAGE_COMPRESS (compress), scale);
    if (compare != NULL && FW_IS_PAGE_COMPARE (compare))
      fw_page_compare_set_font_scale (FW_PAGE_COMPARE (compare), scale);
  }
  {
    GtkWidget *weak = gtk_stack_get_child_by_name (self->stack, "weak");
    if (weak != NULL && FW_IS_PAGE_WEAK (weak))
      fw_page_weak_set_font_scale (FW_PAGE_WEAK (weak), scale);
  }
  {
    GtkWidget *grow = gtk_stack_get_child_by_name (self->stack, "grow");
    if (grow != NULL && FW_IS_PAGE_GROW (grow))
      fw_page_grow_set_font_scale (FW_PAGE_GROW (grow), scale);
  }
  {
    GtkWidget *embed = gtk_stack_get_child_by_name (self->stack, "embed");
    if (embed != NULL && FW_IS_PAGE_EMBED (embed))
      fw_page_embed_set_font_scale (FW_PAGE_EMBED (embed), scale);
  }
}

/* ---- lecture demos and sessions ---- */

static void
lecture_demo_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  FwWindow *self = user_data;
  const char *name = g_variant_get_string (param, NULL);

  if (fw_page_lecture_select (self->page_lecture, name))
    gtk_stack_set_visible_child_name (self->stack, "lecture");
}

/* The Lecture menu: one section per part of the course; a demo this build cannot run points
 * at the disabled action win.lecture-unavailable, so it shows greyed out. */
static void
build_lecture_menu (FwWindow *self, GPtrArray *demos)
{
  g_autoptr (GMenu) menu = g_menu_new ();
  GMenu *section = NULL;
  const char *current = NULL;
  for (guint i = 0; demos != NULL && i < demos->len; i++)
    {
      const FwLecture *l = g_ptr_array_index (demos, i);
      if (section == NULL || g_strcmp0 (current, l->section) != 0)
        {
          section = g_menu_new ();
          g_menu_append_section (menu, l->section, G_MENU_MODEL (section));
          g_object_unref (section);
          current = l->section;
        }
      if (fw_page_lecture_is_available (self->page_lecture, l->name))
        {
          g_autoptr (GMenuItem) item = g_menu_item_new (l->title, NULL);
          g_menu_item_set_action_and_target_value (item, "win.lecture-demo",
                                                   g_variant_new_string (l->name));
          g_menu_append_item (section, item);
        }
      else
        {
          g_autofree char *label = g_strdup_printf ("%s — not available in this build",
                                                    l->title);
          g_menu_append (section, label, "win.lecture-unavailable");
        }
    }
  gtk_menu_button_set_menu_model (self->lecture_menu_button, G_MENU_MODEL (menu));
}

gboolean
fw_window_load_lecture_demos (FwWindow *self, const char *dir)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *d = dir != NULL ? g_strdup (dir) : fw_lecture_dir ();
  if (!fw_page_lecture_load_dir (self->page_lecture, d, &error))
    {
      fw_window_show_error (self, error->message);
      return FALSE;
    }
  g_autoptr (GPtrArray) list = fw_lecture_list (d, NULL);
  build_lecture_menu (self, list);
  return TRUE;
}

FwPageLecture *
fw_window_get_page_lecture (FwWindow *self)
{
  return self->page_lecture;
}

static FwPageAugment *
page_augment (FwWindow *self)
{
  GtkWidget *w = gtk_stack_get_child_by_name (self->stack, "augment");
  return w != NULL && FW_IS_PAGE_AUGMENT (w) ? FW_PAGE_AUGMENT (w) : NULL;
}

FwSession *
fw_window_get_session (FwWindow *self)
{
  FwSession *s = fw_session_new ();
  s->page = g_strdup (gtk_stack_get_visible_child_name (self->stack));
  s->dataset = g_strdup (fw_page_data_get_spec (self->page_data));
  if (page_augment (self) != NULL)
    s->pipeline = fw_page_augment_get_pipeline_text (page_augment (self));
  GVariant *st = g_action_group_get_action_state (G_ACTION_GROUP (self), "presentation");
  s->presentation = st != NULL && g_variant_get_boolean (st);
  g_clear_pointer (&st, g_variant_unref);
  FwModelShelf *shelf = fw_window_get_shelf (self);
  guint n = shelf != NULL ? g_list_model_get_n_items (G_LIST_MODEL (shelf)) : 0;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (FwShelfItem) item = g_list_model_get_item (G_LIST_MODEL (shelf), i);
      FwSessionModel *m = fw_session_add_model (s, fw_shelf_item_get_name (item),
                                                fw_shelf_item_get_model (item),
                                                fw_shelf_item_get_accuracy (item),
                                                fw_shelf_item_get_metrics (item),
                                                fw_shelf_item_get_run_dir (item));
      m->method = g_strdup (fw_shelf_item_get_method (item));
      m->file = g_strdup (fw_shelf_item_get_file (item));
    }
  fw_page_lecture_save_session (self->page_lecture, s);
  return s;
}

void
fw_window_apply_session (FwWindow *self, const FwSession *s)
{
  FwModelShelf *shelf = fw_window_get_shelf (self);
  while (shelf != NULL && g_list_model_get_n_items (G_LIST_MODEL (shelf)) > 0)
    fw_model_shelf_remove (shelf, 0);
  for (guint i = 0; shelf != NULL && i < s->models->len; i++)
    {
      const FwSessionModel *m = g_ptr_array_index (s->models, i);
      g_autoptr (FwShelfItem) item = fw_shelf_item_new (m->name, m->model, m->accuracy,
                                                        m->metrics, m->run_dir);
      if (m->method != NULL)
        fw_shelf_item_set_method (item, m->method);
      if (m->file != NULL)
        fw_shelf_item_set_file (item, m->file);
      fw_model_shelf_add (shelf, item);
    }
  if (s->dataset != NULL && *s->dataset != '\0'
      && g_strcmp0 (s->dataset, fw_page_data_get_spec (self->page_data)) != 0)
    fw_page_data_load (self->page_data, s->dataset);
  if (s->pipeline != NULL && page_augment (self) != NULL)
    {
      g_autoptr (GError) error = NULL;
      if (!fw_page_augment_set_pipeline_text (page_augment (self), s->pipeline, &error))
        fw_window_show_error (self, error->message);
    }
  fw_page_lecture_restore_session (self->page_lecture, s);
  if (s->page != NULL && gtk_stack_get_child_by_name (self->stack, s->page) != NULL)
    gtk_stack_set_visible_child_name (self->stack, s->page);
  g_action_group_change_action_state (G_ACTION_GROUP (self), "presentation",
                                      g_variant_new_boolean (s->presentation));
}

gboolean
fw_window_save_session (FwWindow *self, const char *path, GError **error)
{
  g_autoptr (FwSession) s = fw_window_get_session (self);
  return fw_session_save (s, path, error);
}

gboolean
fw_window_open_session (FwWindow *self, const char *path, GError **error)
{
  g_autoptr (FwSession) s = fw_session_load (path, error);
  if (s == NULL)
    return FALSE;
  fw_window_apply_session (self, s);
  return TRUE;
}

static void
session_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  FwWindow *self = user_data;
  gboolean save = gtk_file_chooser_get_action (GTK_FILE_CHOOSER (dialog))
                  == GTK_FILE_CHOOSER_ACTION_SAVE;
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      g_autoptr (GError) error = NULL;
      if (path != NULL && save && !g_str_has_suffix (path, ".fwsession"))
        {
          char *with = g_strconcat (path, ".fwsession", NULL);
          g_free (path);
          path = with;
        }
      if (path != NULL && (save ? fw_window_save_session (self, path, &error)
                                : fw_window_open_session (self, path, &error)))
        {
          g_autofree char *msg = g_strdup_printf (save ? "Session saved to %s"
                                                       : "Session %s restored", path);
          fw_window_clear_error (self);
          fw_window_show_toast (self, msg);
        }
      else if (path != NULL)
        fw_window_show_error (self, error->message);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
  g_object_unref (self);
}

static void
session_dialog (FwWindow *self, gboolean save)
{
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (
    save ? "Save Session" : "Open Session", GTK_WINDOW (self),
    save ? GTK_FILE_CHOOSER_ACTION_SAVE : GTK_FILE_CHOOSER_ACTION_OPEN,
    save ? "_Save" : "_Open", "_Cancel");
  g_autoptr (GtkFileFilter) filter = gtk_file_filter_new ();
  gtk_file_filter_set_name (filter, "Workbench sessions (*.fwsession)");
  gtk_file_filter_add_pattern (filter, "*.fwsession");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  if (save)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), "lecture.fwsession");
  g_signal_connect (chooser, "response", G_CALLBACK (session_response), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
session_save_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  session_dialog (user_data, TRUE);
}

static void
session_open_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  session_dialog (user_data, FALSE);
}

static const GActionEntry win_entries[] = {
  { "presentation", NULL, NULL, "false", presentation_changed, { 0 } },
  { "lecture-demo", lecture_demo_activated, "s", NULL, NULL, { 0 } },
  { "lecture-unavailable", NULL, NULL, NULL, NULL, { 0 } },
  { "session-save", session_save_activated, NULL, NULL, NULL, { 0 } },
  { "session-open", session_open_activated, NULL, NULL, NULL, { 0 } },
  { "train-start", train_start_activated, NULL, NULL, NULL, { 0 } },
  { "job-pause", job_pause_activated, NULL, NULL, NULL, { 0 } },
  { "job-cancel", job_cancel_activated, NULL, NULL, NULL, { 0 } },
  { "open-recipe", open_recipe_activated, NULL, NULL, NULL, { 0 } },
  { "save-recipe", save_recipe_activated, NULL, NULL, NULL, { 0 } },
  { "show-page", show_page_activated, "s", NULL, NULL, { 0 } },
};

static void
error_close_clicked (GtkButton *button, FwWindow *self)
{
  fw_window_clear_error (self);
}

/* ---- life cycle ---- */

static void
fw_window_dispose (GObject *object)
{
  FwWindow *self = FW_WINDOW (object);

  /* the window's jobs stop with it; their events find no window (weak reference) */
  if (self->job_indicator != NULL)
    while (fw_job_indicator_get_current (self->job_indicator) != NULL)
      {
        FwJob *job = fw_job_ref (fw_job_indicator_get_current (self->job_indicator));
        FwEvent ev = { .kind = FW_EVENT_CANCELLED };

        fw_job_cancel (job);
        fw_job_indicator_update (self->job_indicator, job, &ev);
        fw_job_unref (job);
      }
  gtk_widget_dispose_template (GTK_WIDGET (self), FW_TYPE_WINDOW);
  G_OBJECT_CLASS (fw_window_parent_class)->dispose (object);
}

static void
fw_window_finalize (GObject *object)
{
  FwWindow *self = FW_WINDOW (object);

  g_free (self->last_toast);
  G_OBJECT_CLASS (fw_window_parent_class)->finalize (object);
}

static void
fw_window_class_init (FwWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = fw_window_dispose;
  object_class->finalize = fw_window_finalize;

  g_type_ensure (FW_TYPE_JOB_INDICATOR);
  g_type_ensure (FW_TYPE_PAGE_DATA);
  g_type_ensure (FW_TYPE_PAGE_TRAIN);
  g_type_ensure (FW_TYPE_PAGE_NOISE);
  g_type_ensure (FW_TYPE_PAGE_WEAK);
  g_type_ensure (FW_TYPE_PAGE_EMBED);
  g_type_ensure (FW_TYPE_PAGE_AUGMENT);
  g_type_ensure (FW_TYPE_PAGE_TRANSFER);
  g_type_ensure (FW_TYPE_PAGE_COMPRESS);
  g_type_ensure (FW_TYPE_PAGE_COMPARE);
  g_type_ensure (FW_TYPE_PAGE_GROW);
  g_type_ensure (FW_TYPE_PAGE_LECTURE);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/frugal/Workbench/ui/fw-window.ui");
  gtk_widget_class_bind_template_child (widget_class, FwWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, FwWindow, dataset_label);
  gtk_widget_class_bind_template_child (widget_class, FwWindow, job_indicator);
  gtk_widget_class_bind_template_child (widget_class, FwWindow, error_revealer);
  gtk_widget_class_bind_template_child (widget_class, FwWindow, error_label);
  gtk_widget_class_bind_template_child (widget_class, FwWindow, error_close_button);
  gtk_widget_class_bind_template_child (widget_class, FwWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, FwWindow, page_data);
  gtk_widget_class_bind_template_child (widget_class, FwWindow, page_train);
  gtk_widget_class_bind_template_child (widget_class, FwWindow, shelf_box);
  gtk_widget_class_bind_template_child (widget_class, FwWindow, page_lecture);
  gtk_widget_class_bind_template_child (widget_class, FwWindow, sidebar);
  gtk_widget_class_bind_template_child (widget_class, FwWindow, lecture_menu_button);
  gtk_widget_class_bind_template_callback (widget_class, error_close_clicked);
}

static void
fw_window_init (FwWindow *self)
{
  GPropertyAction *shelf_action;

  gtk_widget_init_template (GTK_WIDGET (self));
  shelf_action = g_property_action_new ("show-shelf", self->shelf_box, "visible");
  g_action_map_add_action (G_ACTION_MAP (self), G_ACTION (shelf_action));
  g_object_unref (shelf_action);
  g_action_map_add_action_entries (G_ACTION_MAP (self), win_entries, G_N_ELEMENTS (win_entries),
                                   self);
  update_job_actions (self);
  fw_window_set_action_enabled (self, "lecture-unavailable", FALSE);
  self->shelf_before_presentation = TRUE;
}
