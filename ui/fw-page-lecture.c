/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-lecture.c: the Lecture page: demo list, explanation, step-by-step stage. */
#include "fw-page-lecture.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-lecture-figure.h"
#include "fw-model-shelf.h"
#include "fw-page-augment.h"
#include "fw-recipe-ext.h"
#include "fw-safetensors.h"
#include "fw-window-private.h"

struct _FwPageLecture {
  GtkWidget parent_instance;

  /* template widgets */
  GtkWidget *root;
  GtkWidget *list_column;
  GtkWidget *list_separator;
  GtkListBox *demo_list;
  GtkLabel *explanation_label;
  GtkLabel *note_label;
  GtkWidget *button_box;
  GtkWidget *run_button;
  GtkWidget *prev_button;
  GtkWidget *next_button;
  GtkLabel *step_label;
  GtkButton *open_button;
  GtkWidget *export_button;
  GtkDrawingArea *stage;
  GtkLabel *summary_label;

  /* owned */
  GPtrArray *demos;          /* FwLecture, in course order (unreduced) */
  GHashTable *results;       /* demo name -> FwLectureResult (latest) */
  GHashTable *steps;         /* demo name -> GINT step revealed */
  FwLecture *current;        /* borrowed from demos */
  int step;
  char *running;             /* the demo whose job runs, or NULL */
  FwJob *job;
  gboolean reduced;
  gboolean presentation;
};

G_DEFINE_FINAL_TYPE (FwPageLecture, fw_page_lecture, GTK_TYPE_WIDGET)

/* One submitted demo job's link back to the page. */
typedef struct {
  GWeakRef page;
  char *name;
} JobLink;

static int
n_steps (const FwLecture *l)
{
  return l != NULL && l->steps != NULL ? (int) g_strv_length (l->steps) : 0;
}

static FwLecture *
find_demo (FwPageLecture *self, const char *name)
{
  for (guint i = 0; self->demos != NULL && i < self->demos->len; i++)
    {
      FwLecture *l = g_ptr_array_index (self->demos, i);
      if (g_strcmp0 (l->name, name) == 0)
        return l;
    }
  return NULL;
}

static const char *
page_title (FwPageLecture *self, const char *page)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win == NULL)
    return page;
  GtkStack *stack = fw_window_get_stack (win);
  GtkWidget *child = gtk_stack_get_child_by_name (stack, page);
  if (child == NULL)
    return NULL;
  return gtk_stack_page_get_title (gtk_stack_get_page (stack, child));
}

/* the page exists (in a window) or cannot be checked (not in one yet) */
static gboolean
page_exists (FwPageLecture *self, const char *page)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  return win == NULL || gtk_stack_get_child_by_name (fw_window_get_stack (win), page) != NULL;
}

gboolean
fw_page_lecture_is_available (FwPageLecture *self, const char *name)
{
  FwLecture *l = find_demo (self, name);
  return l != NULL && l->available && page_exists (self, l->page);
}

static char *
unavailable_text (FwPageLecture *self, const FwLecture *l)
{
  if (!l->available)
    return g_strdup (l->unavailable);
  if (!page_exists (self, l->page))
    return g_strdup_printf ("not available in this build (no %s page)", l->page);
  return NULL;
}

/* ---- the stage ---- */

static void
current_style (FwPageLecture *self, FwPlotStyle *st)
{
  if (self->presentation)
    fw_plot_style_presentation (st);
  else
    {
      fw_plot_style_init (st);
      GdkRGBA fg;
      G_GNUC_BEGIN_IGNORE_DEPRECATIONS
      gtk_style_context_get_color (gtk_widget_get_style_context (GTK_WIDGET (self->stage)),
                                   &fg);
      G_GNUC_END_IGNORE_DEPRECATIONS
      FwRgba c = { fg.red, fg.green, fg.blue, 1 };
      st->dark = fw_rgba_luminance (c) > 0.4;
    }
}

static const FwLectureResult *
current_result (FwPageLecture *self)
{
  return self->current != NULL ? g_hash_table_lookup (self->results, self->current->name)
                               : NULL;
}

static const char *
empty_text (FwPageLecture *self)
{
  if (self->current == NULL)
    return "Choose a demo";
  if (!fw_page_lecture_is_available (self, self->current->name))
    return "Not available in this build";
  if (self->running != NULL && g_strcmp0 (self->running, self->current->name) == 0)
    return "Running…";
  if (current_result (self) != NULL && self->step < 0)
    return "Press Space for the first step";
  return "Press Space (or Run) to start the demo";
}

static void
stage_draw (GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer user_data)
{
  FwPageLecture *self = user_data;
  FwPlotStyle st;
  current_style (self, &st);
  const char *title = self->presentation && self->current != NULL ? self->current->title : NULL;
  fw_lecture_figure_draw (cr, title,
                          self->current != NULL ? (const char *const *) self->current->steps
                                                : NULL,
                          self->step >= 0 ? current_result (self) : NULL, self->step,
                          empty_text (self), width, height, &st);
}

static void
update_controls (FwPageLecture *self)
{
  FwLecture *l = self->current;
  gboolean avail = l != NULL && fw_page_lecture_is_available (self, l->name);
  gboolean running = self->running != NULL;
  int n = n_steps (l);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "lecture.run", avail && !running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "lecture.next",
                                 avail && (self->step < n - 1 || current_result (self) == NULL));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "lecture.prev", avail && self->step >= 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "lecture.export",
                                 avail && current_result (self) != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "lecture.open-page", avail);

  if (l == NULL)
    {
      gtk_label_set_text (self->explanation_label, "Choose a demo on the left.");
      gtk_label_set_text (self->note_label, "");
      gtk_label_set_text (self->step_label, "");
      gtk_widget_set_visible (GTK_WIDGET (self->open_button), FALSE);
      gtk_label_set_text (self->summary_label, "");
      gtk_widget_queue_draw (GTK_WIDGET (self->stage));
      return;
    }
  gtk_label_set_text (self->explanation_label, l->explanation);
  g_autofree char *why = unavailable_text (self, l);
  g_autofree char *note = why != NULL ? g_strdup_printf ("%s", why)
                          : l->note != NULL ? g_strdup_printf ("Reduced to fit in a minute: %s",
                                                               l->note)
                          : g_strdup ("");
  gtk_label_set_text (self->note_label, note);
  GString *steps = g_string_new (NULL);
  for (int i = 0; i < n; i++)
    g_string_append_printf (steps, "%s%s%s%s", i ? "  ›  " : "", i == self->step ? "<u>" : "",
                            l->steps[i], i == self->step ? "</u>" : "");
  g_autofree char *steps_text = g_string_free (steps, FALSE);
  g_autofree char *step_markup = g_strdup_printf ("Step %d of %d:  %s", self->step + 1, n,
                                                  steps_text);
  gtk_label_set_markup (self->step_label, step_markup);
  const char *title = page_title (self, l->page);
  g_autofree char *open = g_strdup_printf ("Open %s", title != NULL ? title : l->page);
  gtk_button_set_label (self->open_button, open);
  gtk_widget_set_visible (GTK_WIDGET (self->open_button), !self->presentation);
  gtk_widget_set_visible (self->export_button, !self->presentation);
  const FwLectureResult *r = current_result (self);
  gtk_label_set_text (self->summary_label, r != NULL && r->summary != NULL && self->step >= n - 1
                                             ? r->summary : "");
  gtk_widget_queue_draw (GTK_WIDGET (self->stage));
}

/* ---- the list ---- */

static GtkWidget *
demo_row (FwPageLecture *self, const FwLecture *l)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  gtk_widget_set_valign (box, GTK_ALIGN_CENTER);
  GtkWidget *title = gtk_label_new (l->title);
  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_label_set_wrap (GTK_LABEL (title), TRUE);
  gtk_box_append (GTK_BOX (box), title);
  g_autofree char *why = unavailable_text (self, l);
  if (why != NULL)
    {
      GtkWidget *sub = gtk_label_new (why);
      gtk_label_set_xalign (GTK_LABEL (sub), 0);
      gtk_label_set_wrap (GTK_LABEL (sub), TRUE);
      gtk_widget_add_css_class (sub, "caption");
      gtk_box_append (GTK_BOX (box), sub);
    }
  GtkWidget *row = gtk_list_box_row_new ();
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  gtk_widget_set_sensitive (row, why == NULL);
  gtk_widget_set_tooltip_text (row, why != NULL ? why : l->explanation);
  g_object_set_data_full (G_OBJECT (row), "demo", g_strdup (l->name), g_free);
  return row;
}

static void
header_func (GtkListBoxRow *row, GtkListBoxRow *before, gpointer user_data)
{
  FwPageLecture *self = user_data;
  FwLecture *l = find_demo (self, g_object_get_data (G_OBJECT (row), "demo"));
  FwLecture *p = before != NULL ? find_demo (self, g_object_get_data (G_OBJECT (before), "demo"))
                                : NULL;
  if (l != NULL && (p == NULL || g_strcmp0 (p->section, l->section) != 0))
    {
      GtkWidget *h = gtk_label_new (l->section);
      gtk_label_set_xalign (GTK_LABEL (h), 0);
      gtk_widget_add_css_class (h, "fw-lecture-section");
      gtk_list_box_row_set_header (row, h);
    }
  else
    gtk_list_box_row_set_header (row, NULL);
}

static void
show_demo (FwPageLecture *self, FwLecture *l)
{
  if (self->current != NULL)
    g_hash_table_insert (self->steps, g_strdup (self->current->name),
                         GINT_TO_POINTER (self->step));
  self->current = l;
  gpointer st;
  self->step = l != NULL && g_hash_table_lookup_extended (self->steps, l->name, NULL, &st)
                 ? GPOINTER_TO_INT (st) : -1;
  update_controls (self);
}

static void
row_selected (GtkListBox *box, GtkListBoxRow *row, gpointer user_data)
{
  FwPageLecture *self = user_data;
  if (row == NULL)
    return;
  FwLecture *l = find_demo (self, g_object_get_data (G_OBJECT (row), "demo"));
  if (l != self->current)
    show_demo (self, l);
}

gboolean
fw_page_lecture_load_dir (FwPageLecture *self, const char *dir, GError **error)
{
  g_return_val_if_fail (FW_IS_PAGE_LECTURE (self), FALSE);
  g_autofree char *d = dir != NULL ? g_strdup (dir) : fw_lecture_dir ();
  GPtrArray *list = fw_lecture_list (d, error);
  if (list == NULL)
    return FALSE;
  self->current = NULL;
  g_clear_pointer (&self->demos, g_ptr_array_unref);
  self->demos = list;
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->demo_list))) != NULL)
    gtk_list_box_remove (self->demo_list, child);
  GtkListBoxRow *first = NULL;
  for (guint i = 0; i < list->len; i++)
    {
      FwLecture *l = g_ptr_array_index (list, i);
      GtkWidget *row = demo_row (self, l);
      gtk_list_box_append (self->demo_list, row);
      if (first == NULL && gtk_widget_get_sensitive (row))
        first = GTK_LIST_BOX_ROW (row);
    }
  if (first != NULL)
    gtk_list_box_select_row (self->demo_list, first);
  else
    show_demo (self, NULL);
  return TRUE;
}

guint
fw_page_lecture_get_n_demos (FwPageLecture *self)
{
  return self->demos != NULL ? self->demos->len : 0;
}

gboolean
fw_page_lecture_select (FwPageLecture *self, const char *name)
{
  FwLecture *l = find_demo (self, name);
  if (l == NULL)
    return FALSE;
  for (GtkWidget *c = gtk_widget_get_first_child (GTK_WIDGET (self->demo_list)); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    if (GTK_IS_LIST_BOX_ROW (c) && g_strcmp0 (g_object_get_data (G_OBJECT (c), "demo"), name) == 0)
      {
        if (gtk_widget_get_sensitive (c))
          gtk_list_box_select_row (self->demo_list, GTK_LIST_BOX_ROW (c));
        break;
      }
  if (self->current != l)
    show_demo (self, l);
  return TRUE;
}

const FwLecture *
fw_page_lecture_get_current (FwPageLecture *self)
{
  return self->current;
}

/* ---- running ---- */

static void
add_models_to_shelf (FwPageLecture *self, const FwLectureResult *r)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  FwModelShelf *shelf = win != NULL ? fw_window_get_shelf (win) : NULL;
  if (shelf == NULL)
    return;
  for (guint i = 0; i < r->models->len; i++)
    {
      const FwLectureModel *m = g_ptr_array_index (r->models, i);
      g_autoptr (GError) error = NULL;
      g_autoptr (FwModel) model = fw_model_load (m->path, NULL, &error);
      if (model == NULL)
        {
          g_autofree char *msg = g_strdup_printf ("%s: %s", m->name, error->message);
          fw_window_show_error (win, msg);
          continue;
        }
      g_autofree char *dir = g_path_get_dirname (m->path);
      g_autoptr (FwShelfItem) item = fw_shelf_item_new (m->name, model, m->accuracy,
                                                        m->metrics, dir);
      fw_model_shelf_add (shelf, item);
    }
}

static void
job_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  JobLink *link = user_data;
  g_autoptr (FwPageLecture) self = g_weak_ref_get (&link->page);

  if (self != NULL)
    {
      if (ev->kind == FW_EVENT_SNAPSHOT && g_strcmp0 (ev->payload_type, "lecture-result") == 0)
        {
          g_hash_table_insert (self->results, g_strdup (link->name),
                               fw_lecture_result_copy (ev->payload));
          if (self->current != NULL && g_strcmp0 (self->current->name, link->name) == 0)
            update_controls (self);
        }
      else if (ev->kind == FW_EVENT_FINISHED || ev->kind == FW_EVENT_FAILED
               || ev->kind == FW_EVENT_CANCELLED)
        {
          g_clear_pointer (&self->running, g_free);
          g_clear_pointer (&self->job, fw_job_unref);
          FwLectureResult *r = g_hash_table_lookup (self->results, link->name);
          if (ev->kind == FW_EVENT_FINISHED && r != NULL)
            {
              add_models_to_shelf (self, r);
              FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
              if (win != NULL)
                {
                  g_autofree char *msg = g_strdup_printf ("Demo finished: %s", link->name);
                  fw_window_show_toast (win, msg);
                }
            }
          update_controls (self);
        }
    }
  if (ev->kind == FW_EVENT_FINISHED || ev->kind == FW_EVENT_FAILED
      || ev->kind == FW_EVENT_CANCELLED)
    {
      g_weak_ref_clear (&link->page);
      g_free (link->name);
      g_free (link);
    }
}

void
fw_page_lecture_run (FwPageLecture *self)
{
  g_return_if_fail (FW_IS_PAGE_LECTURE (self));
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  FwLecture *cur = self->current;
  if (win == NULL || cur == NULL || self->running != NULL
      || !fw_page_lecture_is_available (self, cur->name))
    return;
  g_autoptr (GError) error = NULL;
  /* a fresh load: the file as it is now, reduced when asked */
  FwLecture *l = fw_lecture_load (cur->path, self->reduced, &error);
  if (l == NULL || !l->available)
    {
      fw_window_show_error (win, l == NULL ? error->message : l->unavailable);
      g_clear_pointer (&l, fw_lecture_free);
      return;
    }
  if (l->recipe->out_dir == NULL || *l->recipe->out_dir == '\0')
    {
      g_free (l->recipe->out_dir);
      g_autofree char *name = g_strdup_printf ("lecture-%s", l->name);
      l->recipe->out_dir = g_build_filename (fw_window_get_runs_dir (win), name, NULL);
    }
  g_hash_table_remove (self->results, cur->name);
  self->running = g_strdup (cur->name);
  JobLink *link = g_new0 (JobLink, 1);
  g_weak_ref_init (&link->page, self);
  link->name = g_strdup (cur->name);
  g_autofree char *job_name = g_strdup_printf ("Demo: %s", cur->title);
  self->job = fw_window_submit_job (win, job_name, fw_lecture_job_run, l,
                                    (GDestroyNotify) fw_lecture_free, job_event, link);
  if (self->step < 0)
    self->step = 0;
  update_controls (self);
}

gboolean
fw_page_lecture_is_running (FwPageLecture *self)
{
  return self->running != NULL;
}

void
fw_page_lecture_set_reduced (FwPageLecture *self, gboolean reduced)
{
  self->reduced = reduced;
}

void
fw_page_lecture_next (FwPageLecture *self)
{
  if (self->current == NULL || !fw_page_lecture_is_available (self, self->current->name))
    return;
  if (current_result (self) == NULL && self->running == NULL)
    {
      fw_page_lecture_run (self);
      return;
    }
  if (self->step < n_steps (self->current) - 1)
    self->step++;
  update_controls (self);
}

void
fw_page_lecture_prev (FwPageLecture *self)
{
  if (self->step >= 0)
    self->step--;
  update_controls (self);
}

int
fw_page_lecture_get_step (FwPageLecture *self)
{
  return self->step;
}

const FwLectureResult *
fw_page_lecture_get_result (FwPageLecture *self)
{
  return current_result (self);
}

guint
fw_page_lecture_get_n_visible (FwPageLecture *self)
{
  if (self->current == NULL || self->step < 0 || current_result (self) == NULL)
    return 0;
  g_autoptr (GPtrArray) v = fw_lecture_visible_panels ((const char *const *) self->current->steps,
                                                       current_result (self), self->step);
  return v->len;
}

void
fw_page_lecture_set_presentation (FwPageLecture *self, gboolean on)
{
  self->presentation = on;
  gtk_widget_set_visible (self->list_column, !on);
  gtk_widget_set_visible (self->list_separator, !on);
  if (on)
    gtk_widget_grab_focus (GTK_WIDGET (self->stage));
  update_controls (self);
}

void
fw_page_lecture_open_page (FwPageLecture *self)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  FwLecture *l = self->current;
  if (win == NULL || l == NULL || !fw_page_lecture_is_available (self, l->name))
    return;
  GtkStack *stack = fw_window_get_stack (win);
  /* the train page and the pages of features open the recipe itself (their recipe opener) */
  if (l->path != NULL && (strcmp (l->page, "train") == 0
                          || (l->recipe != NULL && fw_recipe_ext_of (l->recipe) != NULL)))
    {
      fw_window_open_recipe_file (win, l->path);
      return;
    }
  GtkWidget *page = gtk_stack_get_child_by_name (stack, l->page);
  if (FW_IS_PAGE_AUGMENT (page))
    {
      g_autofree char *pipe = g_key_file_get_string (l->kf, "lecture", "pipeline", NULL);
      if (pipe == NULL && l->recipe != NULL)
        pipe = g_strdup (l->recipe->augment);
      g_autoptr (GError) error = NULL;
      if (pipe != NULL && *g_strstrip (pipe) != '\0' && strstr (pipe, "cutmix") == NULL
          && !fw_page_augment_set_pipeline_text (FW_PAGE_AUGMENT (page), pipe, &error))
        fw_window_show_error (win, error->message);
    }
  gtk_stack_set_visible_child_name (stack, l->page);
}

gboolean
fw_page_lecture_export (FwPageLecture *self, const char *path, int width, int height,
                        GError **error)
{
  const FwLectureResult *r = current_result (self);
  if (self->current == NULL || r == NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "no demo result to export — run the demo "
                   "first");
      return FALSE;
    }
  return fw_lecture_figure_export (path, self->current->title,
                                   (const char *const *) self->current->steps, r, width, height,
                                   NULL, error);
}

typedef struct {
  FwPageLecture *self;
} StageData;

static void
stage_export_draw (cairo_t *cr, double width, double height, gpointer user_data)
{
  StageData *s = user_data;
  stage_draw (s->self->stage, cr, (int) width, (int) height, s->self);
}

gboolean
fw_page_lecture_render_stage (FwPageLecture *self, const char *path, int width, int height,
                              GError **error)
{
  StageData s = { self };
  return fw_export_drawing (path, FW_EXPORT_AUTO, width, height, 1.0, stage_export_draw, &s,
                            error);
}

static void
export_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  FwPageLecture *self = user_data;
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      g_autoptr (GError) error = NULL;
      FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
      if (path != NULL && fw_export_format_for_path (path) == FW_EXPORT_AUTO)
        {
          char *with = g_strconcat (path, ".png", NULL);
          g_free (path);
          path = with;
        }
      if (path != NULL && !fw_page_lecture_export (self, path, 1920, 1080, &error))
        {
          if (win != NULL)
            fw_window_show_error (win, error->message);
        }
      else if (path != NULL && win != NULL)
        {
          g_autofree char *msg = g_strdup_printf ("Figure written to %s", path);
          fw_window_show_toast (win, msg);
        }
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
  g_object_unref (self);
}

/* ---- actions ---- */

static void
action_run (GtkWidget *widget, const char *name, GVariant *param)
{
  fw_page_lecture_run (FW_PAGE_LECTURE (widget));
}

static void
action_next (GtkWidget *widget, const char *name, GVariant *param)
{
  fw_page_lecture_next (FW_PAGE_LECTURE (widget));
}

static void
action_prev (GtkWidget *widget, const char *name, GVariant *param)
{
  fw_page_lecture_prev (FW_PAGE_LECTURE (widget));
}

static void
action_open_page (GtkWidget *widget, const char *name, GVariant *param)
{
  fw_page_lecture_open_page (FW_PAGE_LECTURE (widget));
}

static void
action_export (GtkWidget *widget, const char *name, GVariant *param)
{
  FwPageLecture *self = FW_PAGE_LECTURE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (
    "Export figure", GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
    GTK_FILE_CHOOSER_ACTION_SAVE, "_Export", "_Cancel");
  g_autofree char *suggested = g_strdup_printf ("%s.png", self->current != NULL
                                                           ? self->current->name : "figure");
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), suggested);
  g_signal_connect (chooser, "response", G_CALLBACK (export_response), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* ---- sessions ---- */

void
fw_page_lecture_save_session (FwPageLecture *self, FwSession *s)
{
  if (self->current != NULL)
    {
      g_free (s->lecture);
      s->lecture = g_strdup (self->current->name);
      s->lecture_step = self->step;
    }
  for (guint i = 0; self->demos != NULL && i < self->demos->len; i++)
    {
      const FwLecture *l = g_ptr_array_index (self->demos, i);
      const FwLectureResult *r = g_hash_table_lookup (self->results, l->name);
      if (r != NULL)
        fw_session_add_run (s, l->name, l->title, (const char *const *) l->steps, r);
    }
}

void
fw_page_lecture_restore_session (FwPageLecture *self, const FwSession *s)
{
  g_hash_table_remove_all (self->results);
  g_hash_table_remove_all (self->steps);
  for (guint i = 0; i < s->runs->len; i++)
    {
      const FwSessionRun *r = g_ptr_array_index (s->runs, i);
      g_hash_table_insert (self->results, g_strdup (r->lecture),
                           fw_lecture_result_copy (r->result));
    }
  if (s->lecture != NULL && find_demo (self, s->lecture) != NULL)
    {
      g_hash_table_insert (self->steps, g_strdup (s->lecture),
                           GINT_TO_POINTER (MIN (s->lecture_step,
                                                 n_steps (find_demo (self, s->lecture)) - 1)));
      self->current = NULL;
      fw_page_lecture_select (self, s->lecture);
    }
  update_controls (self);
}

/* ---- life cycle ---- */

static void
fw_page_lecture_dispose (GObject *object)
{
  FwPageLecture *self = FW_PAGE_LECTURE (object);
  if (self->job != NULL)
    fw_job_cancel (self->job);
  g_clear_pointer (&self->job, fw_job_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), FW_TYPE_PAGE_LECTURE);
  G_OBJECT_CLASS (fw_page_lecture_parent_class)->dispose (object);
}

static void
fw_page_lecture_finalize (GObject *object)
{
  FwPageLecture *self = FW_PAGE_LECTURE (object);
  g_clear_pointer (&self->demos, g_ptr_array_unref);
  g_hash_table_unref (self->results);
  g_hash_table_unref (self->steps);
  g_free (self->running);
  G_OBJECT_CLASS (fw_page_lecture_parent_class)->finalize (object);
}

static void
fw_page_lecture_class_init (FwPageLectureClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = fw_page_lecture_dispose;
  object_class->finalize = fw_page_lecture_finalize;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/frugal/Workbench/ui/fw-page-lecture.ui");
  gtk_widget_class_bind_template_child (widget_class, FwPageLecture, root);
  gtk_widget_class_bind_template_child (widget_class, FwPageLecture, list_column);
  gtk_widget_class_bind_template_child (widget_class, FwPageLecture, list_separator);
  gtk_widget_class_bind_template_child (widget_class, FwPageLecture, demo_list);
  gtk_widget_class_bind_template_child (widget_class, FwPageLecture, explanation_label);
  gtk_widget_class_bind_template_child (widget_class, FwPageLecture, note_label);
  gtk_widget_class_bind_template_child (widget_class, FwPageLecture, button_box);
  gtk_widget_class_bind_template_child (widget_class, FwPageLecture, run_button);
  gtk_widget_class_bind_template_child (widget_class, FwPageLecture, prev_button);
  gtk_widget_class_bind_template_child (widget_class, FwPageLecture, next_button);
  gtk_widget_class_bind_template_child (widget_class, FwPageLecture, step_label);
  gtk_widget_class_bind_template_child (widget_class, FwPageLecture, open_button);
  gtk_widget_class_bind_template_child (widget_class, FwPageLecture, export_button);
  gtk_widget_class_bind_template_child (widget_class, FwPageLecture, stage);
  gtk_widget_class_bind_template_child (widget_class, FwPageLecture, summary_label);

  gtk_widget_class_install_action (widget_class, "lecture.run", NULL, action_run);
  gtk_widget_class_install_action (widget_class, "lecture.next", NULL, action_next);
  gtk_widget_class_install_action (widget_class, "lecture.prev", NULL, action_prev);
  gtk_widget_class_install_action (widget_class, "lecture.open-page", NULL, action_open_page);
  gtk_widget_class_install_action (widget_class, "lecture.export", NULL, action_export);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Page_Down, 0, "lecture.next", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_space, 0, "lecture.next", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Page_Up, 0, "lecture.prev", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_BackSpace, 0, "lecture.prev",
                                       NULL);
}

static void
fw_page_lecture_init (FwPageLecture *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->results = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) fw_lecture_result_free);
  self->steps = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->step = -1;
  gtk_drawing_area_set_draw_func (self->stage, stage_draw, self, NULL);
  gtk_list_box_set_header_func (self->demo_list, header_func, self, NULL);
  g_signal_connect (self->demo_list, "row-selected", G_CALLBACK (row_selected), self);
  update_controls (self);
}
