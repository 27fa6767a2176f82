/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-transfer.c: the Transfer page.
 *
 * The form becomes a [transfer] recipe (fw-transfer-job.c) run as a job on the window's
 * worker; the job's snapshot ("transfer": FwTransferResult, "multitask": FwMultiTaskResult)
 * fills the plots, the table and the phase times. The trainable / frozen counts of the chosen
 * strategy are computed on the main thread by the same surgery functions the job uses, on the
 * source model (the shelf's, the last experiment's, or a fresh one of the architecture). */
#include "fw-page-transfer.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"
#include "fw-model-shelf.h"
#include "fw-plot-view.h"
#include "fw-recipe-ext.h"
#include "fw-safetensors.h"
#include "fw-transfer.h"
#include "fw-util.h"
#include "fw-window.h"

struct _FwPageTransfer {
  GtkWidget parent_instance;

  GtkWidget *root;
  GtkDropDown *source_dropdown;
  GtkEntry *source_entry;
  GtkEntry *source_classes_entry;
  GtkDropDown *arch_dropdown;
  GtkSpinButton *pretrain_spin;
  GtkEntry *target_entry;
  GtkEntry *target_classes_entry;
  GtkDropDown *strategy_dropdown;
  GtkSpinButton *unfreeze_spin;
  GtkSpinButton *lr_scale_spin;
  GtkSpinButton *lr_decay_spin;
  GtkSpinButton *rank_spin;
  GtkSpinButton *k_spin;
  GtkLabel *params_label;
  GtkCheckButton *m_check[FW_TRANSFER_N_METHODS];
  GtkEntry *labels_entry;
  GtkSpinButton *seeds_spin;
  GtkSpinButton *steps_spin;
  GtkWidget *run_button;
  GtkWidget *multitask_button;
  GtkWidget *shelf_button;
  GtkWidget *cancel_button;
  GtkLabel *summary_label;
  GtkStack *viz_stack;
  GtkBox *labels_box;
  GtkBox *time_box;
  GtkLabel *table_label;

  FwLinePlot *labels_plot, *time_plot;
  FwPlotView *labels_view, *time_view;
  GtkStringList *sources;      /* "Pre-train on the source task", then the shelf's names */
  FwModelShelf *shelf;         /* borrowed from the window once realised */
  FwJob *job;
  FwModel *last_source;        /* the last experiment's source model */
  double last_source_acc;
  char *table_text;
  gsize trainable, frozen;
};

G_DEFINE_FINAL_TYPE (FwPageTransfer, fw_page_transfer, GTK_TYPE_WIDGET)

static const char *const check_ids[FW_TRANSFER_N_METHODS] = {
  "m_scratch", "m_head", "m_finetune", "m_lora", "m_prompt", "m_prefix", "m_knn",
};
static const char *const arch_names[] = { "lenet5", "cnn-small", "mlp" };

FwLinePlot *fw_page_transfer_get_labels_plot (FwPageTransfer *self) { return self->labels_plot; }
FwLinePlot *fw_page_transfer_get_time_plot (FwPageTransfer *self) { return self->time_plot; }
const char *fw_page_transfer_get_table_text (FwPageTransfer *self) { return self->table_text; }
gboolean fw_page_transfer_is_running (FwPageTransfer *self) { return self->job != NULL; }

void
fw_page_transfer_get_param_counts (FwPageTransfer *self, gsize *trainable, gsize *frozen)
{
  *trainable = self->trainable;
  *frozen = self->frozen;
}

void
fw_page_transfer_set_font_scale (FwPageTransfer *self, double scale)
{
  fw_plot_view_set_font_scale (self->labels_view, scale);
  fw_plot_view_set_font_scale (self->time_view, scale);
}

void
fw_page_transfer_show_view (FwPageTransfer *self, const char *name)
{
  gtk_stack_set_visible_child_name (self->viz_stack, name);
}

void
fw_page_transfer_set_strategy (FwPageTransfer *self, int method)
{
  gtk_drop_down_set_selected (self->strategy_dropdown, (guint) method);
}

void
fw_page_transfer_set_form (FwPageTransfer *self, const char *source, const char *target,
                           const char *labels, int seeds, int steps, int pretrain_epochs,
                           const char *methods)
{
  if (source != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->source_entry), source);
  if (target != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->target_entry), target);
  if (labels != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->labels_entry), labels);
  if (seeds > 0)
    gtk_spin_button_set_value (self->seeds_spin, seeds);
  if (steps > 0)
    gtk_spin_button_set_value (self->steps_spin, steps);
  if (pretrain_epochs > 0)
    gtk_spin_button_set_value (self->pretrain_spin, pretrain_epochs);
  if (methods != NULL)
    {
      g_auto (GStrv) parts = g_strsplit (methods, ",", -1);
      for (int m = 0; m < FW_TRANSFER_N_METHODS; m++)
        {
          gboolean on = FALSE;
          for (int i = 0; parts[i] != NULL; i++)
            on |= g_strcmp0 (g_strstrip (parts[i]), fw_transfer_method_name (m)) == 0;
          gtk_check_button_set_active (self->m_check[m], on);
        }
    }
  gtk_drop_down_set_selected (self->source_dropdown, 0);
}

/* ---- the source model and the parameter counts ---- */

static FwShelfItem *
selected_shelf_item (FwPageTransfer *self)
{
  guint sel = gtk_drop_down_get_selected (self->source_dropdown);
  if (sel == 0 || sel == GTK_INVALID_LIST_POSITION || self->shelf == NULL
      || sel - 1 >= g_list_model_get_n_items (G_LIST_MODEL (self->shelf)))
    return NULL;
  return g_list_model_get_item (G_LIST_MODEL (self->shelf), sel - 1);
}

/* the image shape a source spec gives, without loading it: sim[:N[:SIZE]], digits, fashion */
static gboolean
guess_shape (const char *spec, FwShape *s)
{
  if (g_str_has_prefix (spec, "sim"))
    {
      g_auto (GStrv) p = g_strsplit (spec, ":", -1);
      int size = g_strv_length (p) >= 3 ? atoi (p[2]) : 28;
      *s = (FwShape) { 1, size, size };
      return size > 0;
    }
  if (g_str_has_prefix (spec, "digits"))
    {
      *s = (FwShape) { 1, 20, 20 };
      return TRUE;
    }
  if (g_str_has_prefix (spec, "fashion"))
    {
      *s = (FwShape) { 1, 28, 28 };
      return TRUE;
    }
  return FALSE;
}

/* A new reference on the model the counts are about, or NULL. */
static FwModel *
reference_model (FwPageTransfer *self)
{
  g_autoptr (FwShelfItem) item = selected_shelf_item (self);
  if (item != NULL)
    return fw_model_ref (fw_shelf_item_get_model (item));
  if (self->last_source != NULL)
    return fw_model_ref (self->last_source);
  FwShape s;
  if (!guess_shape (gtk_editable_get_text (GTK_EDITABLE (self->source_entry)), &s))
    return NULL;
  const char *arch = arch_names[MIN (gtk_drop_down_get_selected (self->arch_dropdown), 2)];
  g_autofree char *spec = fw_model_arch_spec (arch, NULL, s, 10, NULL);
  return spec != NULL ? fw_model_new (arch, spec, s, NULL) : NULL;
}

static void
update_params (FwPageTransfer *self)
{
  self->trainable = self->frozen = 0;
  g_autoptr (FwModel) src = reference_model (self);
  if (src == NULL)
    {
      gtk_label_set_text (self->params_label, "Parameters: choose a source model (a simulated "
                                              "or known dataset, or a shelf model).");
      return;
    }
  int method = (int) gtk_drop_down_get_selected (self->strategy_dropdown);
  int k = src->n_classes;
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) head = fw_transfer_new_head (src, k, NULL, 1, &error);
  g_autoptr (FwModel) m = NULL;
  if (head != NULL)
    switch (method)
      {
      case FW_TRANSFER_SCRATCH:
        m = fw_model_copy (src);
        fw_transfer_unfreeze_last (m, 0);
        break;
      case FW_TRANSFER_HEAD:
        m = fw_model_ref (head);
        break;
      case FW_TRANSFER_FINETUNE:
        m = fw_model_copy (head);
        fw_transfer_unfreeze_last (m, gtk_spin_button_get_value_as_int (self->unfreeze_spin));
        break;
      case FW_TRANSFER_LORA:
        {
          int r = gtk_spin_button_get_value_as_int (self->rank_spin);
          m = fw_lora_wrap (head, r, 2.0f * r, FALSE, 1, &error);
          break;
        }
      case FW_TRANSFER_PROMPT:
      case FW_TRANSFER_PREFIX:
        m = method == FW_TRANSFER_PROMPT ? fw_transfer_add_prompt (head, "pad", 2, &error)
                                         : fw_transfer_add_prefix (head, 1, &error);
        if (m != NULL)
          m->layers[fw_transfer_head_index (m)]->frozen = FALSE;
        break;
      default:
        break;
      }
  if (method == FW_TRANSFER_KNN && head != NULL)
    {
      fw_transfer_count (src, NULL, &self->frozen);
      self->frozen += src->n_params;
      g_autofree char *f = fw_format_count ((double) self->frozen);
      g_autofree char *markup = g_markup_printf_escaped (
          "<b>0</b> trainable · <b>%s</b> frozen: kNN retrieval trains nothing; new labelled "
          "examples change predictions at once.", f);
      gtk_label_set_markup (self->params_label, markup);
      return;
    }
  if (m == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("Parameters: %s",
                                              error != NULL ? error->message : "unknown");
      gtk_label_set_text (self->params_label, msg);
      return;
    }
  fw_transfer_count (m, &self->trainable, &self->frozen);
  g_autofree char *t = fw_format_count ((double) self->trainable);
  g_autofree char *f = fw_format_count ((double) self->frozen);
  double pct = 100.0 * self->trainable / MAX (1, self->trainable + self->frozen);
  const char *phase = method == FW_TRANSFER_FINETUNE ? " in the fine-tune phase (the head phase "
                                                       "trains the head only)" : "";
  g_autofree char *markup = g_markup_printf_escaped ("<b>%s</b> trainable · <b>%s</b> frozen "
                                                     "(%.1f%% trainable)%s", t, f, pct, phase);
  gtk_label_set_markup (self->params_label, markup);
}

static void
rebuild_sources (FwPageTransfer *self)
{
  guint sel = gtk_drop_down_get_selected (self->source_dropdown);
  guint n_old = g_list_model_get_n_items (G_LIST_MODEL (self->sources));
  guint n = self->shelf != NULL ? g_list_model_get_n_items (G_LIST_MODEL (self->shelf)) : 0;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (names, g_strdup ("Pre-train on the source task"));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (FwShelfItem) it = g_list_model_get_item (G_LIST_MODEL (self->shelf), i);
      g_ptr_array_add (names, g_strdup_printf ("Shelf: %s", fw_shelf_item_get_name (it)));
    }
  g_ptr_array_add (names, NULL);
  gtk_string_list_splice (self->sources, 0, n_old, (const char *const *) names->pdata);
  gtk_drop_down_set_selected (self->source_dropdown, sel < n + 1 ? sel : 0);
}

static void
shelf_changed (FwPageTransfer *self)
{
  rebuild_sources (self);
  update_params (self);
}

static void
fw_page_transfer_realize (GtkWidget *widget)
{
  FwPageTransfer *self = FW_PAGE_TRANSFER (widget);
  GTK_WIDGET_CLASS (fw_page_transfer_parent_class)->realize (widget);
  FwWindow *win = fw_window_for_widget (widget);
  if (win != NULL && self->shelf == NULL)
    {
      self->shelf = fw_window_get_shelf (win);
      g_signal_connect_object (self->shelf, "items-changed", G_CALLBACK (shelf_changed), self,
                               G_CONNECT_SWAPPED);
      shelf_changed (self);
    }
}

/* ---- jobs ---- */

static void
set_running (FwPageTransfer *self, gboolean running)
{
  gtk_widget_set_sensitive (self->run_button, !running);
  gtk_widget_set_sensitive (self->multitask_button, !running);
  gtk_widget_set_sensitive (self->cancel_button, running);
  gtk_widget_set_sensitive (self->shelf_button, !running && self->last_source != NULL);
}

/* where a labels-per-class value sits on the x axis: "all" (0) at its mean per class */
static double
lpc_x (const FwTransferResult *r, int lpc, int n_classes)
{
  if (lpc > 0)
    return lpc;
  for (guint i = 0; i < r->rows->len; i++)
    {
      const FwTransferRow *row = &g_array_index (r->rows, FwTransferRow, i);
      if (row->lpc == 0)
        return MAX (1.0, (double) row->n_train / n_classes);
    }
  return 1;
}

static void
show_result (FwPageTransfer *self, const FwTransferResult *r)
{
  const FwTransferConfig *c = &r->config;
  /* plot 1: accuracy vs labels per class, mean ± sd over seeds */
  fw_line_plot_clear (self->labels_plot);
  g_autofree int *order = g_memdup2 (c->labels_per_class, sizeof (int) * c->n_lpc);
  for (int i = 1; i < c->n_lpc; i++) /* ascending, "all" (0) last */
    for (int j = i; j > 0 && (order[j - 1] == 0 || (order[j] != 0 && order[j] < order[j - 1]));
         j--)
      {
        int t = order[j];
        order[j] = order[j - 1];
        order[j - 1] = t;
      }
  int n_classes = 10;
  for (guint i = 0; i < r->rows->len; i++)
    {
      const FwTransferRow *row = &g_array_index (r->rows, FwTransferRow, i);
      if (row->lpc > 0 && row->n_train > 0)
        n_classes = MAX (1, row->n_train / row->lpc);
    }
  for (int m = 0; m < FW_TRANSFER_N_METHODS; m++)
    {
      if (!((c->methods >> m) & 1))
        continue;
      guint s = fw_line_plot_add_series (self->labels_plot, fw_transfer_method_title (m), m);
      fw_line_plot_series_set_markers (self->labels_plot, s, TRUE);
      for (int i = 0; i < c->n_lpc; i++)
        {
          double mean, sd;
          if (fw_transfer_result_stats (r, m, order[i], &mean, &sd, NULL) == 0)
            continue;
          double x = lpc_x (r, order[i], n_classes);
          fw_line_plot_append_band (self->labels_plot, s, log10 (x), 100 * mean,
                                    100 * (mean - sd), 100 * (mean + sd));
        }
    }
  if (!isnan (r->zero_shot))
    {
      guint z = fw_line_plot_add_series (self->labels_plot, "source model, no target label",
                                         FW_TRANSFER_N_METHODS);
      fw_line_plot_series_set_dashed (self->labels_plot, z, TRUE);
      double lo = log10 (lpc_x (r, order[0], n_classes));
      double hi = log10 (lpc_x (r, order[c->n_lpc - 1], n_classes));
      fw_line_plot_append (self->labels_plot, z, lo, 100 * r->zero_shot);
      fw_line_plot_append (self->labels_plot, z, MAX (hi, lo + 0.1), 100 * r->zero_shot);
    }
  fw_plot_view_queue_update (self->labels_view);

  /* plot 2: accuracy vs cumulative training time, mean over the seeds' curves; time from 0 */
  fw_line_plot_clear (self->time_plot);
  double t_max = 0;
  for (guint i = 0; i < r->curves->len; i++)
    {
      const FwTransferCurve *cv = g_ptr_array_index (r->curves, i);
      for (guint j = 0; j < cv->seconds->len; j++)
        t_max = MAX (t_max, g_array_index (cv->seconds, double, j));
    }
  fw_line_plot_set_x_range (self->time_plot, 0, t_max > 0 ? 1.05 * t_max : 1);
  for (int m = 0; m < FW_TRANSFER_N_METHODS; m++)
    {
      guint len = 0, n = 0;
      for (guint i = 0; i < r->curves->len; i++)
        {
          const FwTransferCurve *cv = g_ptr_array_index (r->curves, i);
          if ((int) cv->method == m)
            len = MAX (len, cv->seconds->len), n++;
        }
      if (n == 0)
        continue;
      guint s = fw_line_plot_add_series (self->time_plot, fw_transfer_method_title (m), m);
      fw_line_plot_series_set_markers (self->time_plot, s, TRUE);
      for (guint j = 0; j < len; j++)
        {
          double st = 0, sa = 0, sq = 0;
          int cnt = 0;
          for (guint i = 0; i < r->curves->len; i++)
            {
              const FwTransferCurve *cv = g_ptr_array_index (r->curves, i);
              if ((int) cv->method != m || j >= cv->seconds->len)
                continue;
              double a = 100 * g_array_index (cv->accuracy, double, j);
              st += g_array_index (cv->seconds, double, j);
              sa += a;
              sq += a * a;
              cnt++;
            }
          double mean = sa / cnt, sd = cnt > 1 ? sqrt (MAX (0, sq - cnt * mean * mean)
                                                      / (cnt - 1)) : 0;
          fw_line_plot_append_band (self->time_plot, s, st / cnt, mean, mean - sd, mean + sd);
        }
    }
  fw_plot_view_queue_update (self->time_view);

  /* the table and the phase times */
  g_autofree char *table = fw_transfer_result_table (r);
  g_free (self->table_text);
  self->table_text = g_strdup_printf ("%s\n%s", r->run_dir != NULL ? r->run_dir : "", table);
  gtk_label_set_text (self->table_label, self->table_text);
  g_autoptr (GString) s = g_string_new (NULL);
  if (!isnan (r->source_accuracy))
    g_string_append_printf (s, "Source model <b>%.1f%%</b> on its own test set (pre-training "
                            "%.1f s). ", 100 * r->source_accuracy, r->pretrain_seconds);
  if (!isnan (r->zero_shot))
    g_string_append_printf (s, "On the target task with no target label: <b>%.1f%%</b>. ",
                            100 * r->zero_shot);
  /* phase times of the largest label count, medians over the seeds */
  int big = c->labels_per_class[0];
  for (int i = 0; i < c->n_lpc; i++)
    if (c->labels_per_class[i] == 0 || (big != 0 && c->labels_per_class[i] > big))
      big = c->labels_per_class[i];
  g_string_append (s, "\nPhase wall times (");
  g_string_append (s, big > 0 ? "" : "all labels");
  if (big > 0)
    g_string_append_printf (s, "%d labels per class", big);
  g_string_append (s, ", median): ");
  for (int m = 0; m < FW_TRANSFER_N_METHODS; m++)
    {
      if (!((c->methods >> m) & 1))
        continue;
      double p[2][16];
      int n = 0;
      gsize tr = 0, fr = 0;
      for (guint i = 0; i < r->rows->len && n < 16; i++)
        {
          const FwTransferRow *row = &g_array_index (r->rows, FwTransferRow, i);
          if ((int) row->method == m && row->lpc == big)
            {
              p[0][n] = row->seconds_phase[0];
              p[1][n] = row->seconds_phase[1];
              tr = row->trainable;
              fr = row->frozen;
              n++;
            }
        }
      if (n == 0)
        continue;
      for (int ph = 0; ph < 2; ph++) /* insertion sort for the median */
        for (int i = 1; i < n; i++)
          for (int j = i; j > 0 && p[ph][j] < p[ph][j - 1]; j--)
            {
              double t = p[ph][j];
              p[ph][j] = p[ph][j - 1];
              p[ph][j - 1] = t;
            }
      g_autofree char *tc = fw_format_count ((double) tr);
      g_autofree char *fc = fw_format_count ((double) fr);
      if (m == FW_TRANSFER_FINETUNE)
        g_string_append_printf (s, "%s %.2f s + %.2f s (%s trainable / %s frozen); ",
                                fw_transfer_method_title (m), p[0][n / 2], p[1][n / 2], tc, fc);
      else
        g_string_append_printf (s, "%s %.2f s (%s / %s); ", fw_transfer_method_title (m),
                                p[0][n / 2], tc, fc);
    }
  gtk_label_set_markup (self->summary_label, s->str);
  /* the source model for the counts and the shelf */
  g_clear_pointer (&self->last_source, fw_model_unref);
  if (r->source_model != NULL)
    self->last_source = fw_model_ref (r->source_model);
  self->last_source_acc = r->source_accuracy;
  update_params (self);
}

static void
job_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  FwPageTransfer *self = user_data;
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  switch (ev->kind)
    {
    case FW_EVENT_LOG:
      if (ev->message != NULL)
        gtk_label_set_text (self->summary_label, ev->message);
      break;
    case FW_EVENT_SNAPSHOT:
      if (g_strcmp0 (ev->payload_type, "transfer") == 0 && ev->payload != NULL)
        show_result (self, ev->payload);
      else if (g_strcmp0 (ev->payload_type, "multitask") == 0 && ev->payload != NULL)
        {
          g_autofree char *t = fw_multitask_result_table (ev->payload);
          g_free (self->table_text);
          self->table_text = g_steal_pointer (&t);
          gtk_label_set_text (self->table_label, self->table_text);
          gtk_label_set_text (self->summary_label, self->table_text);
          gtk_stack_set_visible_child_name (self->viz_stack, "table");
        }
      break;
    case FW_EVENT_FINISHED:
    case FW_EVENT_FAILED:
    case FW_EVENT_CANCELLED:
      if (self->job == job)
        g_clear_pointer (&self->job, fw_job_unref);
      set_running (self, FALSE);
      if (ev->kind == FW_EVENT_CANCELLED)
        gtk_label_set_text (self->summary_label, "Cancelled.");
      else if (ev->kind == FW_EVENT_FAILED)
        gtk_label_set_text (self->summary_label, ev->error != NULL ? ev->error->message
                                                                   : "Failed.");
      else if (win != NULL)
        fw_window_show_toast (win, "Transfer experiment finished");
      break;
    default:
      break;
    }
}

static void
set_key (FwRecipe *r, const char *key, const char *value)
{
  fw_recipe_ext_set (r, "transfer", key, value);
}

static void
set_key_int (FwRecipe *r, const char *key, int v)
{
  g_autofree char *s = g_strdup_printf ("%d", v);
  set_key (r, key, s);
}

static FwRecipe *
form_recipe (FwPageTransfer *self, gboolean multitask, GError **error)
{
  g_autoptr (FwRecipe) r = fw_recipe_new_default ();
  g_free (r->name);
  r->name = g_strdup (multitask ? "transfer-multitask" : "transfer");
  g_free (r->arch);
  r->arch = g_strdup (arch_names[MIN (gtk_drop_down_get_selected (self->arch_dropdown), 2)]);
  r->train.batch = 64;
  r->train.epochs = 10;
  r->threads = 1;
  set_key (r, "mode", multitask ? "multitask" : "experiment");
  set_key (r, "source", gtk_editable_get_text (GTK_EDITABLE (self->source_entry)));
  set_key (r, "source_classes", gtk_editable_get_text (GTK_EDITABLE (self->source_classes_entry)));
  set_key (r, "target", gtk_editable_get_text (GTK_EDITABLE (self->target_entry)));
  set_key (r, "target_classes", gtk_editable_get_text (GTK_EDITABLE (self->target_classes_entry)));
  set_key (r, "labels_per_class", gtk_editable_get_text (GTK_EDITABLE (self->labels_entry)));
  set_key_int (r, "seeds", gtk_spin_button_get_value_as_int (self->seeds_spin));
  set_key_int (r, "steps", gtk_spin_button_get_value_as_int (self->steps_spin));
  set_key_int (r, "pretrain_epochs", gtk_spin_button_get_value_as_int (self->pretrain_spin));
  set_key_int (r, "unfreeze_last", gtk_spin_button_get_value_as_int (self->unfreeze_spin));
  g_autofree char *lrs = g_strdup_printf ("%g", gtk_spin_button_get_value (self->lr_scale_spin));
  set_key (r, "lr_scale", lrs);
  g_autofree char *lrd = g_strdup_printf ("%g", gtk_spin_button_get_value (self->lr_decay_spin));
  set_key (r, "lr_decay", lrd);
  int rank = gtk_spin_button_get_value_as_int (self->rank_spin);
  set_key_int (r, "lora_rank", rank);
  set_key_int (r, "lora_alpha", 2 * rank);
  set_key_int (r, "retrieval_k", gtk_spin_button_get_value_as_int (self->k_spin));
  g_autoptr (GString) methods = g_string_new (NULL);
  for (int m = 0; m < FW_TRANSFER_N_METHODS; m++)
    if (gtk_check_button_get_active (self->m_check[m]))
      g_string_append_printf (methods, "%s%s", methods->len ? "," : "",
                              fw_transfer_method_name (m));
  if (methods->len == 0 && !multitask)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "Check at least one method to compare.");
      return NULL;
    }
  if (methods->len > 0)
    set_key (r, "methods", methods->str);
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  const char *runs = win != NULL ? fw_window_get_runs_dir (win) : "runs";
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *leaf = g_strdup_printf ("%s-%s", r->name, stamp);
  g_free (r->out_dir);
  r->out_dir = g_build_filename (runs, leaf, NULL);
  /* a shelf model as the source: saved next to the runs so the job can load it */
  g_autoptr (FwShelfItem) item = selected_shelf_item (self);
  if (item != NULL && !multitask)
    {
      if (g_mkdir_with_parents (runs, 0755) != 0)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_IO, "%s: cannot create the runs folder", runs);
          return NULL;
        }
      g_autofree char *path = g_build_filename (runs, ".transfer-source.safetensors", NULL);
      if (!fw_model_save (fw_shelf_item_get_model (item), path, NULL, error))
        return NULL;
      set_key (r, "source_model", path);
    }
  /* validate here: errors name the field's key */
  FwTransferConfig c;
  gboolean ok = fw_transfer_config_from_recipe (r, &c, error);
  fw_transfer_config_clear (&c);
  return ok ? g_steal_pointer (&r) : NULL;
}

static void
submit (FwPageTransfer *self, gboolean multitask)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win == NULL || self->job != NULL)
    return;
  g_autoptr (GError) error = NULL;
  FwRecipe *r = form_recipe (self, multitask, &error);
  if (r == NULL)
    {
      fw_window_show_error (win, error->message);
      return;
    }
  fw_window_clear_error (win);
  gtk_label_set_text (self->summary_label, multitask ? "Multi-task demonstration running…"
                                                     : "Experiment running…");
  if (!multitask)
    gtk_stack_set_visible_child_name (self->viz_stack, "labels");
  self->job = fw_window_submit_job (win, multitask ? "Multi-task demo" : "Transfer experiment",
                                    fw_transfer_recipe_ext.run, r,
                                    (GDestroyNotify) fw_recipe_free, job_event, self);
  set_running (self, TRUE);
}

void
fw_page_transfer_run_experiment (FwPageTransfer *self)
{
  submit (self, FALSE);
}

void
fw_page_transfer_run_multitask (FwPageTransfer *self)
{
  submit (self, TRUE);
}

static void
cancel_clicked (FwPageTransfer *self)
{
  if (self->job != NULL)
    fw_job_cancel (self->job);
}

static void
shelf_clicked (FwPageTransfer *self)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win == NULL || self->last_source == NULL)
    return;
  g_autofree char *name = g_strdup_printf ("source %s",
                                           gtk_editable_get_text (GTK_EDITABLE (self->source_entry)));
  g_autoptr (FwShelfItem) item = fw_shelf_item_new (name, self->last_source,
                                                    self->last_source_acc, NULL, NULL);
  fw_model_shelf_add (fw_window_get_shelf (win), item);
  fw_window_show_toast (win, "Source model added to the shelf");
}

/* [transfer] recipes opened in the window land here: fill the form and run */
static void
open_recipe (GtkWidget *page, const FwRecipe *r)
{
  FwPageTransfer *self = FW_PAGE_TRANSFER (page);
  g_autofree char *source = fw_recipe_ext_get_string (r, "transfer", "source", NULL);
  g_autofree char *target = fw_recipe_ext_get_string (r, "transfer", "target", NULL);
  g_autofree char *labels = fw_recipe_ext_get_string (r, "transfer", "labels_per_class", NULL);
  g_autofree char *methods = fw_recipe_ext_get_string (r, "transfer", "methods", NULL);
  int seeds = 0, steps = 0, pre = 0, mode = 0;
  /* out-of-range values keep the form's; the job reports them when run */
  fw_recipe_ext_get_int (r, "transfer", "seeds", 0, 1, 100, &seeds, NULL);
  fw_recipe_ext_get_int (r, "transfer", "steps", 0, 1, 1000000, &steps, NULL);
  fw_recipe_ext_get_int (r, "transfer", "pretrain_epochs", 0, 1, 1000, &pre, NULL);
  fw_page_transfer_set_form (self, source, target, labels, seeds, steps, pre, methods);
  for (guint i = 0; i < G_N_ELEMENTS (arch_names); i++)
    if (g_strcmp0 (r->arch, arch_names[i]) == 0)
      gtk_drop_down_set_selected (self->arch_dropdown, i);
  mode = fw_transfer_recipe_mode (r, NULL);
  submit (self, mode == 1);
}

/* ---- life cycle ---- */

static FwPlotView *
add_view (GtkBox *box, FwLinePlot *plot, const char *export_name)
{
  FwPlotView *view = FW_PLOT_VIEW (fw_plot_view_new ());
  gtk_widget_set_hexpand (GTK_WIDGET (view), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (view), TRUE);
  fw_plot_view_set_export_name (view, export_name);
  fw_plot_view_set_line_plot (view, plot);
  gtk_box_append (box, GTK_WIDGET (view));
  return view;
}

static void
fw_page_transfer_dispose (GObject *object)
{
  FwPageTransfer *self = FW_PAGE_TRANSFER (object);
  if (self->job != NULL)
    fw_job_cancel (self->job);
  g_clear_pointer (&self->job, fw_job_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), FW_TYPE_PAGE_TRANSFER);
  G_OBJECT_CLASS (fw_page_transfer_parent_class)->dispose (object);
}

static void
fw_page_transfer_finalize (GObject *object)
{
  FwPageTransfer *self = FW_PAGE_TRANSFER (object);
  g_clear_pointer (&self->labels_plot, fw_line_plot_unref);
  g_clear_pointer (&self->time_plot, fw_line_plot_unref);
  g_clear_pointer (&self->last_source, fw_model_unref);
  g_clear_object (&self->sources);
  g_free (self->table_text);
  G_OBJECT_CLASS (fw_page_transfer_parent_class)->finalize (object);
}

static void
fw_page_transfer_class_init (FwPageTransferClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = fw_page_transfer_dispose;
  object_class->finalize = fw_page_transfer_finalize;
  widget_class->realize = fw_page_transfer_realize;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/frugal/Workbench/ui/fw-page-transfer.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, FwPageTransfer, name)
  BIND (root);
  BIND (source_dropdown);
  BIND (source_entry);
  BIND (source_classes_entry);
  BIND (arch_dropdown);
  BIND (pretrain_spin);
  BIND (target_entry);
  BIND (target_classes_entry);
  BIND (strategy_dropdown);
  BIND (unfreeze_spin);
  BIND (lr_scale_spin);
  BIND (lr_decay_spin);
  BIND (rank_spin);
  BIND (k_spin);
  BIND (params_label);
  BIND (labels_entry);
  BIND (seeds_spin);
  BIND (steps_spin);
  BIND (run_button);
  BIND (multitask_button);
  BIND (shelf_button);
  BIND (cancel_button);
  BIND (summary_label);
  BIND (viz_stack);
  BIND (labels_box);
  BIND (time_box);
  BIND (table_label);
#undef BIND
  for (int m = 0; m < FW_TRANSFER_N_METHODS; m++)
    gtk_widget_class_bind_template_child_full (widget_class, check_ids[m], FALSE, 0);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
fw_page_transfer_init (FwPageTransfer *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  fw_page_set_recipe_opener (GTK_WIDGET (self), open_recipe);
  for (int m = 0; m < FW_TRANSFER_N_METHODS; m++)
    {
      /* the check buttons are looked up by id: the template has one per method */
      GtkWidget *w = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (self),
                                                                FW_TYPE_PAGE_TRANSFER,
                                                                check_ids[m]));
      self->m_check[m] = GTK_CHECK_BUTTON (w);
    }
  self->sources = gtk_string_list_new ((const char *[]) { "Pre-train on the source task",
                                                          NULL });
  gtk_drop_down_set_model (self->source_dropdown, G_LIST_MODEL (self->sources));
  gtk_drop_down_set_selected (self->strategy_dropdown, FW_TRANSFER_HEAD);

  self->labels_plot = fw_line_plot_new ();
  fw_line_plot_set_title (self->labels_plot, "Test accuracy vs labels per class");
  fw_line_plot_set_x_label (self->labels_plot, "labelled examples per class", "log10");
  fw_line_plot_set_y_label (self->labels_plot, "test accuracy", "%");
  fw_line_plot_set_y_range (self->labels_plot, 0, 100);
  fw_line_plot_set_empty_text (self->labels_plot, "Run the experiment: each method at each "
                                                  "label count, bands ± one standard "
                                                  "deviation over the seeds");
  self->labels_view = add_view (self->labels_box, self->labels_plot, "transfer-accuracy-vs-labels");

  self->time_plot = fw_line_plot_new ();
  fw_line_plot_set_title (self->time_plot, "Test accuracy vs training time (largest label count)");
  fw_line_plot_set_x_label (self->time_plot, "training wall time", "s");
  fw_line_plot_set_y_label (self->time_plot, "test accuracy", "%");
  fw_line_plot_set_y_range (self->time_plot, 0, 100);
  fw_line_plot_set_empty_text (self->time_plot, "Run the experiment: one point per epoch, "
                                                "evaluation time excluded");
  self->time_view = add_view (self->time_box, self->time_plot, "transfer-accuracy-vs-time");

  g_signal_connect_swapped (self->run_button, "clicked",
                            G_CALLBACK (fw_page_transfer_run_experiment), self);
  g_signal_connect_swapped (self->multitask_button, "clicked",
                            G_CALLBACK (fw_page_transfer_run_multitask), self);
  g_signal_connect_swapped (self->cancel_button, "clicked", G_CALLBACK (cancel_clicked), self);
  g_signal_connect_swapped (self->shelf_button, "clicked", G_CALLBACK (shelf_clicked), self);
  g_signal_connect_swapped (self->strategy_dropdown, "notify::selected",
                            G_CALLBACK (update_params), self);
  g_signal_connect_swapped (self->source_dropdown, "notify::selected",
                            G_CALLBACK (update_params), self);
  g_signal_connect_swapped (self->arch_dropdown, "notify::selected",
                            G_CALLBACK (update_params), self);
  g_signal_connect_swapped (self->unfreeze_spin, "value-changed", G_CALLBACK (update_params),
                            self);
  g_signal_connect_swapped (self->rank_spin, "value-changed", G_CALLBACK (update_params), self);
  g_signal_connect_swapped (self->source_entry, "changed", G_CALLBACK (update_params), self);
  set_running (self, FALSE);
  update_params (self);
}
