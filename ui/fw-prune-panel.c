/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-prune-panel.c: the Pruning method of the Compress page. */
#include "fw-prune-panel.h"

#include <glib/gstdio.h>
#include <math.h>

#include "fw-error.h"
#include "fw-page-compress.h"
#include "fw-page-data.h"
#include "fw-plot-view.h"
#include "fw-prune.h"
#include "fw-recipe-ext.h"
#include "fw-safetensors.h"
#include "fw-util.h"
#include "fw-window-private.h"

enum { SERIES_ACC, SERIES_SPARSITY, SERIES_TARGET };

struct _FwPrunePanel {
  GtkWidget parent_instance;

  FwPageCompress *page;          /* borrowed: the page owns the panel */
  GtkWidget *root;
  GtkDropDown *criterion, *granularity, *scope, *schedule;
  GtkSpinButton *sparsity, *steps, *epochs;
  GtkCheckButton *lottery, *compact;
  GtkWidget *run_button, *cancel_button;
  GtkLabel *status;
  FwMaskView *mask_view;
  FwLinePlot *steps_plot;
  FwPlotView *steps_view;

  FwJob *job;
  guint n_snapshots;
  char *result_path;
  char *source_name;
  guint point;                   /* x of the next progress point */
};

G_DEFINE_FINAL_TYPE (FwPrunePanel, fw_prune_panel, GTK_TYPE_WIDGET)

FwMaskView *fw_prune_panel_get_mask_view (FwPrunePanel *self) { return self->mask_view; }
FwLinePlot *fw_prune_panel_get_steps_plot (FwPrunePanel *self) { return self->steps_plot; }
guint fw_prune_panel_get_n_snapshots (FwPrunePanel *self) { return self->n_snapshots; }
const char *fw_prune_panel_get_result_path (FwPrunePanel *self) { return self->result_path; }
gboolean fw_prune_panel_is_running (FwPrunePanel *self) { return self->job != NULL; }

static void
set_running (FwPrunePanel *self, gboolean running)
{
  gtk_widget_set_sensitive (self->run_button, !running);
  gtk_widget_set_sensitive (self->cancel_button, running);
}

static int
name_index (const char *const *names, const char *name)
{
  for (int i = 0; names[i] != NULL; i++)
    if (g_strcmp0 (names[i], name) == 0)
      return i;
  return -1;
}

void
fw_prune_panel_set_form (FwPrunePanel *self, const char *criterion, const char *granularity,
                         const char *scope, double sparsity, const char *schedule, int steps,
                         int finetune_epochs)
{
  int i;
  if ((i = name_index (fw_prune_criterion_names (), criterion)) >= 0)
    gtk_drop_down_set_selected (self->criterion, i);
  if ((i = name_index (fw_prune_granularity_names (), granularity)) >= 0)
    gtk_drop_down_set_selected (self->granularity, i);
  if ((i = name_index (fw_prune_scope_names (), scope)) >= 0)
    gtk_drop_down_set_selected (self->scope, i);
  if ((i = name_index (fw_prune_schedule_names (), schedule)) >= 0)
    gtk_drop_down_set_selected (self->schedule, i);
  gtk_spin_button_set_value (self->sparsity, 100.0 * sparsity);
  gtk_spin_button_set_value (self->steps, steps);
  gtk_spin_button_set_value (self->epochs, finetune_epochs);
}

static const char *
selected_name (GtkDropDown *d, const char *const *names)
{
  guint i = gtk_drop_down_get_selected (d);
  return i < g_strv_length ((char **) names) ? names[i] : names[0];
}

static void
show_snapshot (FwPrunePanel *self, FwPruneSnapshot *s)
{
  self->n_snapshots++;
  fw_mask_view_set_snapshot (self->mask_view, s);
  double x = self->point++;
  if (isfinite (s->accuracy))
    fw_line_plot_append (self->steps_plot, SERIES_ACC, x, 100.0 * s->accuracy);
  fw_line_plot_append (self->steps_plot, SERIES_SPARSITY, x, 100.0 * s->sparsity);
  if (isfinite (s->target))
    fw_line_plot_append (self->steps_plot, SERIES_TARGET, x, 100.0 * s->target);
  fw_plot_view_queue_update (self->steps_view);
  g_autofree char *nz = fw_format_count ((double) s->params_nonzero);
  g_autofree char *all = fw_format_count ((double) s->params);
  g_autofree char *acc = fw_format_percent (s->accuracy);
  g_autofree char *epoch = s->epoch > 0 ? g_strdup_printf (", epoch %d", s->epoch)
                                        : g_strdup ("");
  g_autofree char *markup = g_markup_printf_escaped (
      "%s · step <b>%d/%d</b>%s · sparsity <b>%.1f%%</b> · accuracy <b>%s</b> · %s of %s "
      "parameters non-zero", s->phase, s->step, s->n_steps, epoch, 100.0 * s->sparsity, acc,
      nz, all);
  gtk_label_set_markup (self->status, markup);
}

static void
show_result (FwPrunePanel *self, FwPruneResult *r)
{
  g_free (self->result_path);
  self->result_path = g_strdup (r->model_path);
  g_autofree char *name = g_strdup_printf ("%s pruned %.0f%%",
                                           self->source_name != NULL ? self->source_name
                                                                     : "model",
                                           100.0 * r->sparsity);
  if (r->model != NULL)
    fw_page_compress_add_result (self->page, name, "pruned", r->model, r->final_acc,
                                 r->model_path, r->run_dir);
  g_autofree char *a0 = fw_format_percent (r->base_acc), *a1 = fw_format_percent (r->final_acc);
  g_autofree char *markup = g_markup_printf_escaped (
      "Done: <b>%.1f%%</b> of the weights pruned; test accuracy %s → <b>%s</b>. "
      "The pruned model is on the shelf and the compare board.", 100.0 * r->sparsity, a0, a1);
  gtk_label_set_markup (self->status, markup);
}

static void
prune_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  FwPrunePanel *self = user_data;
  if (job != self->job)
    return;
  switch (ev->kind)
    {
    case FW_EVENT_SNAPSHOT:
      if (g_strcmp0 (ev->payload_type, "prune-step") == 0)
        show_snapshot (self, ev->payload);
      else if (g_strcmp0 (ev->payload_type, "prune-result") == 0)
        show_result (self, ev->payload);
      break;
    case FW_EVENT_STARTED:
      gtk_label_set_text (self->status, "Pruning: scoring the weights…");
      break;
    case FW_EVENT_FINISHED:
    case FW_EVENT_FAILED:
    case FW_EVENT_CANCELLED:
      g_clear_pointer (&self->job, fw_job_unref);
      set_running (self, FALSE);
      if (ev->kind == FW_EVENT_CANCELLED)
        gtk_label_set_text (self->status, "Cancelled: nothing was added to the shelf.");
      else if (ev->kind == FW_EVENT_FAILED)
        gtk_label_set_text (self->status, "Pruning failed: see the message above.");
      break;
    default:
      break;
    }
}

gboolean
fw_prune_panel_run (FwPrunePanel *self)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win == NULL || self->job != NULL)
    return FALSE;
  const FwRecipeExt *ext = fw_recipe_ext_lookup ("prune");
  if (ext == NULL || ext->run == NULL)
    {
      fw_window_show_error (win, "Pruning is not available in this build (no [prune] job).");
      return FALSE;
    }
  FwShelfItem *item = fw_page_compress_get_item (self->page);
  if (item == NULL)
    {
      fw_window_show_error (win, "No model to prune: train one on the Train page "
                                 "(Ctrl+Return), then pick it here.");
      return FALSE;
    }
  FwPageData *data = fw_window_get_page_data (win);
  const char *spec = fw_page_data_get_spec (data);
  if (spec == NULL || fw_page_data_get_dataset (data) == NULL)
    {
      fw_window_show_error (win, "No dataset yet: choose one on the Data page.");
      return FALSE;
    }

  g_autoptr (FwRecipe) r = fw_recipe_new_default ();
  g_free (r->dataset);
  r->dataset = g_strdup (spec);
  g_free (r->name);
  r->name = g_strdup ("prune");
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *dir = g_strdup_printf ("prune-%s-%03d", stamp,
                                          (int) (g_date_time_get_microsecond (now) / 1000));
  g_free (r->out_dir);
  r->out_dir = g_build_filename (fw_window_get_runs_dir (win), dir, NULL);

  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  fw_recipe_ext_set (r, "prune", "criterion",
                     selected_name (self->criterion, fw_prune_criterion_names ()));
  fw_recipe_ext_set (r, "prune", "granularity",
                     selected_name (self->granularity, fw_prune_granularity_names ()));
  fw_recipe_ext_set (r, "prune", "scope", selected_name (self->scope, fw_prune_scope_names ()));
  fw_recipe_ext_set (r, "prune", "schedule",
                     selected_name (self->schedule, fw_prune_schedule_names ()));
  fw_recipe_ext_set (r, "prune", "sparsity",
                     g_ascii_dtostr (buf, sizeof buf,
                                     gtk_spin_button_get_value (self->sparsity) / 100.0));
  g_autofree char *steps = g_strdup_printf ("%d", gtk_spin_button_get_value_as_int (self->steps));
  g_autofree char *ep = g_strdup_printf ("%d", gtk_spin_button_get_value_as_int (self->epochs));
  fw_recipe_ext_set (r, "prune", "steps", steps);
  fw_recipe_ext_set (r, "prune", "finetune_epochs", ep);
  fw_recipe_ext_set (r, "prune", "lottery",
                     gtk_check_button_get_active (self->lottery) ? "true" : "false");
  fw_recipe_ext_set (r, "prune", "compact",
                     gtk_check_button_get_active (self->compact) ? "true" : "false");

  g_free (self->source_name);
  self->source_name = g_strdup (fw_shelf_item_get_name (item));
  self->n_snapshots = 0;
  self->point = 0;
  for (guint s = 0; s < fw_line_plot_get_n_series (self->steps_plot); s++)
    fw_line_plot_clear_series (self->steps_plot, s);
  fw_plot_view_queue_update (self->steps_view);
  fw_window_clear_error (win);
  g_autofree char *job_name = g_strdup_printf ("Pruning %s", self->source_name);
  self->job = fw_page_compress_submit_job (win, job_name, ext->run, g_steal_pointer (&r),
                                           "prune", "model", item, prune_event, self);
  set_running (self, TRUE);
  return TRUE;
}

void
fw_prune_panel_cancel (FwPrunePanel *self)
{
  if (self->job != NULL)
    fw_job_cancel (self->job);
}

/* ---- the form ---- */

static GtkWidget *
field (GtkGrid *grid, int row, const char *label, GtkWidget *w, const char *tip)
{
  GtkWidget *l = gtk_label_new (label);
  gtk_label_set_xalign (GTK_LABEL (l), 0);
  gtk_widget_set_hexpand (l, TRUE);
  gtk_widget_add_css_class (l, "fw-field");
  gtk_grid_attach (grid, l, 0, row, 1, 1);
  gtk_grid_attach (grid, w, 1, row, 1, 1);
  gtk_widget_set_tooltip_text (w, tip);
  return w;
}

static GtkDropDown *
names_dropdown (const char *const *names)
{
  return GTK_DROP_DOWN (gtk_drop_down_new_from_strings (names));
}

static GtkSpinButton *
spin (double lo, double hi, double step, double value, int digits)
{
  GtkSpinButton *s = GTK_SPIN_BUTTON (gtk_spin_button_new_with_range (lo, hi, step));
  gtk_spin_button_set_digits (s, digits);
  gtk_spin_button_set_value (s, value);
  return s;
}

static GtkWidget *
caption (const char *text)
{
  GtkWidget *l = gtk_label_new (text);
  gtk_label_set_xalign (GTK_LABEL (l), 0);
  gtk_label_set_wrap (GTK_LABEL (l), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (l), 30);
  gtk_widget_add_css_class (l, "dim-label");
  gtk_widget_add_css_class (l, "caption");
  return l;
}

static void
font_scale_changed (FwPageCompress *page, double scale, FwPrunePanel *self)
{
  fw_mask_view_set_font_scale (self->mask_view, scale);
  fw_plot_view_set_font_scale (self->steps_view, scale);
}

GtkWidget *
fw_prune_panel_new (FwPageCompress *page)
{
  FwPrunePanel *self = g_object_new (FW_TYPE_PRUNE_PANEL, NULL);
  self->page = page;
  g_signal_connect_object (page, "font-scale-changed", G_CALLBACK (font_scale_changed), self,
                           0);
  return GTK_WIDGET (self);
}

static void
fw_prune_panel_dispose (GObject *object)
{
  FwPrunePanel *self = FW_PRUNE_PANEL (object);
  if (self->job != NULL)
    fw_job_cancel (self->job);
  g_clear_pointer (&self->job, fw_job_unref);
  g_clear_pointer (&self->root, gtk_widget_unparent);
  G_OBJECT_CLASS (fw_prune_panel_parent_class)->dispose (object);
}

static void
fw_prune_panel_finalize (GObject *object)
{
  FwPrunePanel *self = FW_PRUNE_PANEL (object);
  g_clear_pointer (&self->steps_plot, fw_line_plot_unref);
  g_free (self->result_path);
  g_free (self->source_name);
  G_OBJECT_CLASS (fw_prune_panel_parent_class)->finalize (object);
}

static void
fw_prune_panel_class_init (FwPrunePanelClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = fw_prune_panel_dispose;
  G_OBJECT_CLASS (klass)->finalize = fw_prune_panel_finalize;
  gtk_widget_class_set_layout_manager_type (GTK_WIDGET_CLASS (klass), GTK_TYPE_BIN_LAYOUT);
}

static void
fw_prune_panel_init (FwPrunePanel *self)
{
  /* controls */
  GtkWidget *controls = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *title = gtk_label_new ("Pruning");
  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_widget_add_css_class (title, "fw-section-title");
  gtk_box_append (GTK_BOX (controls), title);
  gtk_box_append (GTK_BOX (controls),
                  caption ("Remove the least important weights (or whole neurons and "
                           "channels), fine-tune, repeat. The result is physically smaller: "
                           "structured pruning drops rows and channels, unstructured sparsity "
                           "is stored and run as a sparse matrix."));
  GtkGrid *g = GTK_GRID (gtk_grid_new ());
  gtk_grid_set_row_spacing (g, 6);
  gtk_grid_set_column_spacing (g, 10);
  self->criterion = names_dropdown (fw_prune_criterion_names ());
  field (g, 0, "Criterion", GTK_WIDGET (self->criterion),
         "magnitude |w|; saliency |w·dL/dw|; snip: saliency at initialisation; movement: "
         "weights moving towards zero during fine-tuning go first");
  self->granularity = names_dropdown (fw_prune_granularity_names ());
  field (g, 1, "Granularity", GTK_WIDGET (self->granularity),
         "weights: one by one (unstructured); neurons / channels / units: whole rows of dense "
         "layers, filters of conv layers; layers: whole blocks replaced by identity");
  self->scope = names_dropdown (fw_prune_scope_names ());
  field (g, 2, "Scope", GTK_WIDGET (self->scope),
         "per-layer: every layer loses the same fraction; global: one ranking over all layers");
  self->sparsity = spin (0, 99.9, 5, 90, 1);
  field (g, 3, "Target (% pruned)", GTK_WIDGET (self->sparsity),
         "Fraction of the prunable weights (or units) removed at the end");
  self->schedule = names_dropdown (fw_prune_schedule_names ());
  gtk_drop_down_set_selected (self->schedule, FW_PRUNE_CUBIC);
  field (g, 4, "Schedule", GTK_WIDGET (self->schedule),
         "oneshot: all at once; cubic: fast first, then slowly (Zhu & Gupta); geometric: the "
         "same fraction of what is left at every step");
  self->steps = spin (1, 50, 1, 5, 0);
  field (g, 5, "Steps", GTK_WIDGET (self->steps), "Prune steps (1 with oneshot)");
  self->epochs = spin (0, 50, 1, 1, 0);
  field (g, 6, "Fine-tune epochs", GTK_WIDGET (self->epochs),
         "Epochs of training with the mask after each step");
  gtk_box_append (GTK_BOX (controls), GTK_WIDGET (g));
  self->lottery = GTK_CHECK_BUTTON (gtk_check_button_new_with_label ("Lottery ticket"));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->lottery),
                               "Iterative magnitude pruning with rewinding to the initial "
                               "weights, against the same mask from a random "
                               "re-initialisation");
  gtk_box_append (GTK_BOX (controls), GTK_WIDGET (self->lottery));
  self->compact = GTK_CHECK_BUTTON (gtk_check_button_new_with_label ("Save the compact model"));
  gtk_check_button_set_active (self->compact, TRUE);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->compact),
                               "Save the physically smaller model (rows and channels removed, "
                               "sparse layers as CSR) rather than the masked dense one");
  gtk_box_append (GTK_BOX (controls), GTK_WIDGET (self->compact));
  GtkWidget *run_label = gtk_label_new_with_mnemonic ("_Prune");
  self->run_button = gtk_button_new ();
  gtk_button_set_child (GTK_BUTTON (self->run_button), run_label);
  gtk_widget_add_css_class (self->run_button, "suggested-action");
  gtk_widget_add_css_class (self->run_button, "pill");
  gtk_widget_set_tooltip_text (self->run_button, "Prune the chosen shelf model on the current "
                                                 "dataset (Ctrl+Shift+Return)");
  gtk_box_append (GTK_BOX (controls), self->run_button);
  self->cancel_button = gtk_button_new_with_label ("Cancel");
  gtk_widget_set_tooltip_text (self->cancel_button, "Stop pruning (nothing goes on the shelf)");
  gtk_box_append (GTK_BOX (controls), self->cancel_button);

  /* visualisation: the masks, and accuracy / sparsity per step below */
  GtkWidget *viz = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  self->status = GTK_LABEL (gtk_label_new ("Pick a shelf model and press Prune: the masks "
                                           "appear here, step by step."));
  gtk_label_set_xalign (self->status, 0);
  gtk_label_set_wrap (self->status, TRUE);
  gtk_box_append (GTK_BOX (viz), GTK_WIDGET (self->status));
  GtkWidget *paned = gtk_paned_new (GTK_ORIENTATION_VERTICAL);
  gtk_widget_set_vexpand (paned, TRUE);
  self->mask_view = FW_MASK_VIEW (fw_mask_view_new ());
  fw_mask_view_set_empty_text (self->mask_view, "No mask yet: pick a model and press Prune. "
                                                "Grey hatching = pruned weights.");
  gtk_paned_set_start_child (GTK_PANED (paned), GTK_WIDGET (self->mask_view));
  gtk_paned_set_resize_start_child (GTK_PANED (paned), TRUE);
  self->steps_plot = fw_line_plot_new ();
  fw_line_plot_set_title (self->steps_plot, "Accuracy and sparsity per step");
  fw_line_plot_set_x_label (self->steps_plot, "prune step / fine-tuning epoch", NULL);
  fw_line_plot_set_y_label (self->steps_plot, "value", "%");
  fw_line_plot_set_y_range (self->steps_plot, 0, 100);
  fw_line_plot_set_empty_text (self->steps_plot, "Accuracy and sparsity appear here per step");
  guint s0 = fw_line_plot_add_series (self->steps_plot, "test accuracy", 0);
  guint s1 = fw_line_plot_add_series (self->steps_plot, "sparsity", 1);
  guint s2 = fw_line_plot_add_series (self->steps_plot, "schedule target", 1);
  fw_line_plot_series_set_markers (self->steps_plot, s0, TRUE);
  fw_line_plot_series_set_markers (self->steps_plot, s1, TRUE);
  fw_line_plot_series_set_dashed (self->steps_plot, s2, TRUE);
  self->steps_view = FW_PLOT_VIEW (fw_plot_view_new ());
  fw_plot_view_set_export_name (self->steps_view, "pruning-steps");
  fw_plot_view_set_line_plot (self->steps_view, self->steps_plot);
  gtk_widget_set_size_request (GTK_WIDGET (self->steps_view), -1, 180);
  gtk_paned_set_end_child (GTK_PANED (paned), GTK_WIDGET (self->steps_view));
  gtk_paned_set_resize_end_child (GTK_PANED (paned), FALSE);
  gtk_paned_set_position (GTK_PANED (paned), 420);
  gtk_box_append (GTK_BOX (viz), paned);

  self->root = fw_compress_panel_new (controls, viz);
  gtk_widget_set_parent (self->root, GTK_WIDGET (self));
  g_signal_connect_swapped (self->run_button, "clicked", G_CALLBACK (fw_prune_panel_run), self);
  g_signal_connect_swapped (self->cancel_button, "clicked", G_CALLBACK (fw_prune_panel_cancel),
                            self);
  set_running (self, FALSE);
}
