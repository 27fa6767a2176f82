/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-job-indicator.c: the header bar's view of the running job. */
#include "fw-job-indicator.h"

#include <math.h>

#include "fw-util.h"

struct _FwJobIndicator {
  GtkWidget parent_instance;

  /* template widgets */
  GtkWidget *box;
  GtkSpinner *spinner;
  GtkLabel *name_label;
  GtkLabel *eta_label;
  GtkProgressBar *progress_bar;
  GtkToggleButton *pause_button;
  GtkButton *cancel_button;

  /* owned */
  GPtrArray *jobs;           /* FwJob references, oldest first; [0] is the one shown */
  gboolean current_started;  /* jobs[0] got STARTED (else it is queued) */
  gboolean syncing;          /* updating the pause button from code */
};

G_DEFINE_FINAL_TYPE (FwJobIndicator, fw_job_indicator, GTK_TYPE_WIDGET)

GtkWidget *
fw_job_indicator_new (void)
{
  return g_object_new (FW_TYPE_JOB_INDICATOR, NULL);
}

FwJob *
fw_job_indicator_get_current (FwJobIndicator *self)
{
  g_return_val_if_fail (FW_IS_JOB_INDICATOR (self), NULL);
  return self->jobs->len > 0 ? g_ptr_array_index (self->jobs, 0) : NULL;
}

guint
fw_job_indicator_get_n_jobs (FwJobIndicator *self)
{
  return self->jobs->len;
}

const char *
fw_job_indicator_get_text (FwJobIndicator *self)
{
  return gtk_label_get_text (self->name_label);
}

double
fw_job_indicator_get_fraction (FwJobIndicator *self)
{
  return gtk_progress_bar_get_fraction (self->progress_bar);
}

/* Progress arrives many times a second: a label whose text really changes makes GTK lay the
 * whole window out again, so unchanged text is not set. */
static void
set_label_text (GtkLabel *label, const char *text)
{
  if (g_strcmp0 (gtk_label_get_text (label), text) != 0)
    gtk_label_set_text (label, text);
}

static void
set_name_text (FwJobIndicator *self, const char *state)
{
  FwJob *job = fw_job_indicator_get_current (self);
  g_autoptr (GString) s = g_string_new (job != NULL ? fw_job_get_name (job) : "");

  if (state != NULL && *state != '\0')
    g_string_append_printf (s, " — %s", state);
  if (self->jobs->len > 1)
    g_string_append_printf (s, "  (+%u queued)", self->jobs->len - 1);
  set_label_text (self->name_label, s->str);
}

static void
show_current (FwJobIndicator *self)
{
  FwJob *job = fw_job_indicator_get_current (self);

  gtk_widget_set_visible (GTK_WIDGET (self), job != NULL);
  if (job == NULL)
    {
      gtk_spinner_stop (self->spinner);
      return;
    }
  self->syncing = TRUE;
  gtk_toggle_button_set_active (self->pause_button, fw_job_is_paused (job));
  self->syncing = FALSE;
  gtk_spinner_set_spinning (self->spinner, self->current_started && !fw_job_is_paused (job));
  set_name_text (self, self->current_started ? (fw_job_is_paused (job) ? "paused" : NULL)
                                             : "queued");
  if (!self->current_started)
    {
      gtk_progress_bar_set_fraction (self->progress_bar, 0);
      gtk_label_set_text (self->eta_label, "");
    }
}

void
fw_job_indicator_track (FwJobIndicator *self, FwJob *job)
{
  g_return_if_fail (FW_IS_JOB_INDICATOR (self));
  g_ptr_array_add (self->jobs, fw_job_ref (job));
  if (self->jobs->len == 1)
    self->current_started = FALSE;
  show_current (self);
}

void
fw_job_indicator_update (FwJobIndicator *self, FwJob *job, const FwEvent *ev)
{
  guint index;
  gboolean current;

  g_return_if_fail (FW_IS_JOB_INDICATOR (self));
  if (!g_ptr_array_find (self->jobs, job, &index))
    return;
  current = index == 0;

  switch (ev->kind)
    {
    case FW_EVENT_STARTED:
      if (current)
        {
          self->current_started = TRUE;
          gtk_progress_bar_set_fraction (self->progress_bar, 0);
          gtk_label_set_text (self->eta_label, "");
          show_current (self);
        }
      break;

    case FW_EVENT_PROGRESS:
      if (current)
        {
          g_autofree char *eta = NULL;
          g_autofree char *state = NULL;

          self->current_started = TRUE;
          gtk_progress_bar_set_fraction (self->progress_bar, CLAMP (ev->fraction, 0, 1));
          if (ev->n_epochs > 0)
            state = g_strdup_printf ("epoch %d/%d", ev->epoch, ev->n_epochs);
          if (fw_job_is_paused (job))
            {
              g_free (state);
              state = g_strdup ("paused");
            }
          set_name_text (self, state);
          /* whole seconds: the text changes about once a second, not with every batch */
          if (ev->eta_s >= 60)
            {
              g_autofree char *t = fw_format_seconds (ev->eta_s);
              eta = g_strdup_printf ("%s left", t);
            }
          else if (ev->eta_s >= 1)
            eta = g_strdup_printf ("%.0f s left", ceil (ev->eta_s));
          else if (ev->eta_s >= 0)
            eta = g_strdup ("< 1 s left");
          set_label_text (self->eta_label, eta != NULL ? eta : "");
        }
      break;

    case FW_EVENT_FINISHED:
    case FW_EVENT_FAILED:
    case FW_EVENT_CANCELLED:
      g_ptr_array_remove_index (self->jobs, index);
      if (current)
        {
          /* the next job, if any, has not reported STARTED through us yet */
          self->current_started = FALSE;
          gtk_progress_bar_set_fraction (self->progress_bar, 0);
          gtk_label_set_text (self->eta_label, "");
        }
      show_current (self);
      break;

    case FW_EVENT_QUEUED:
    case FW_EVENT_EPOCH:
    case FW_EVENT_LOG:
    case FW_EVENT_SNAPSHOT:
    default:
      break;
    }
}

void
fw_job_indicator_toggle_pause (FwJobIndicator *self)
{
  FwJob *job = fw_job_indicator_get_current (self);

  if (job == NULL)
    return;
  fw_job_set_paused (job, !fw_job_is_paused (job));
  show_current (self);
}

void
fw_job_indicator_cancel (FwJobIndicator *self)
{
  FwJob *job = fw_job_indicator_get_current (self);

  if (job != NULL)
    {
      fw_job_cancel (job);
      set_name_text (self, "cancelling");
    }
}

static void
pause_toggled (GtkToggleButton *button, FwJobIndicator *self)
{
  FwJob *job = fw_job_indicator_get_current (self);

  if (self->syncing || job == NULL)
    return;
  if (gtk_toggle_button_get_active (button) != fw_job_is_paused (job))
    fw_job_indicator_toggle_pause (self);
}

static void
cancel_clicked (GtkButton *button, FwJobIndicator *self)
{
  fw_job_indicator_cancel (self);
}

static void
fw_job_indicator_dispose (GObject *object)
{
  FwJobIndicator *self = FW_JOB_INDICATOR (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), FW_TYPE_JOB_INDICATOR);
  G_OBJECT_CLASS (fw_job_indicator_parent_class)->dispose (object);
}

static void
fw_job_indicator_finalize (GObject *object)
{
  FwJobIndicator *self = FW_JOB_INDICATOR (object);

  g_ptr_array_unref (self->jobs);
  G_OBJECT_CLASS (fw_job_indicator_parent_class)->finalize (object);
}

static void
fw_job_indicator_class_init (FwJobIndicatorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = fw_job_indicator_dispose;
  object_class->finalize = fw_job_indicator_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/frugal/Workbench/ui/fw-job-indicator.ui");
  gtk_widget_class_bind_template_child (widget_class, FwJobIndicator, box);
  gtk_widget_class_bind_template_child (widget_class, FwJobIndicator, spinner);
  gtk_widget_class_bind_template_child (widget_class, FwJobIndicator, name_label);
  gtk_widget_class_bind_template_child (widget_class, FwJobIndicator, eta_label);
  gtk_widget_class_bind_template_child (widget_class, FwJobIndicator, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, FwJobIndicator, pause_button);
  gtk_widget_class_bind_template_child (widget_class, FwJobIndicator, cancel_button);
  gtk_widget_class_bind_template_callback (widget_class, pause_toggled);
  gtk_widget_class_bind_template_callback (widget_class, cancel_clicked);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "fwjobindicator");
}

static void
fw_job_indicator_init (FwJobIndicator *self)
{
  self->jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) fw_job_unref);
  gtk_widget_init_template (GTK_WIDGET (self));
}
