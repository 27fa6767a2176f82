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

  /* owned */
  char *last_toast;
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

  g_simple_action_set_state (action, state);
  if (on)
    gtk_widget_add_css_class (GTK_WIDGET (self), "fw-presentation");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "fw-presentation");
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

static const GActionEntry win_entries[] = {
  { "presentation", NULL, NULL, "false", presentation_changed, { 0 } },
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
}
