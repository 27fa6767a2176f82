/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-grow.c: the Grow page (see fw-page-grow.h). The form becomes a [grow] recipe run by
 * fw_grow_job_run, the same job as `frugal grow` and `frugal run`. */
#include "fw-page-grow.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-grow-diagram.h"
#include "fw-model-shelf.h"
#include "fw-plot-view.h"
#include "fw-recipe-ext.h"
#include "fw-util.h"
#include "fw-window-private.h"

static const char *const method_ids[] = { "tiny", "gradmax", "random" };
static const char *const method_titles[] = { "TINY", "GradMax", "random" };
/* curve colours (class palette): blue, vermillion, green; the fixed-size points violet */
static const int method_colors[] = { 0, 3, 2 };
#define FIXED_COLOR 7

struct _FwPageGrow {
  GtkWidget parent_instance;

  /* template widgets */
  GtkWidget *root;
  GtkDropDown *method_dropdown;
  GtkDropDown *arch_dropdown;
  GtkSpinButton *start_spin;
  GtkSpinButton *budget_spin;
  GtkSpinButton *steps_spin;
  GtkSpinButton *epochs_spin;
  GtkSpinButton *final_spin;
  GtkCheckButton *update_check;
  GtkSpinButton *max_new_spin;
  GtkSpinButton *limit_spin;
  GtkCheckButton *fixed_check;
  GtkWidget *grow_button;
  GtkWidget *cancel_button;
  GtkWidget *export_button;
  GtkWidget *clear_button;
  GtkLabel *summary_label;
  GtkDrawingArea *diagram_area;
  GtkBox *bars_box;
  GtkBox *curves_box;

  /* plots (owned) and their views (children) */
  FwLinePlot *acc, *loss;
  FwBarChart *bars;
  FwPlotView *acc_view, *loss_view, *bars_view;
  double font_scale;

  /* owned */
  FwJob *job;
  int job_method;             /* index into method_ids of the running / last run */
  GArray *points;             /* FwGrowPoint of the current run */
  int series[3];              /* curve series per method in acc and loss, -1 = none yet */
  int fixed_series[3];        /* the fixed-size point of each method's last run, -1 = none */
  char *spec_override;
  char *runs_dir;
  char *run_dir;
};

G_DEFINE_FINAL_TYPE (FwPageGrow, fw_page_grow, GTK_TYPE_WIDGET)

guint fw_page_grow_get_n_points (FwPageGrow *self) { return self->points->len; }
const char *fw_page_grow_get_run_dir (FwPageGrow *self) { return self->run_dir; }
FwLinePlot *fw_page_grow_get_accuracy_plot (FwPageGrow *self) { return self->acc; }
FwLinePlot *fw_page_grow_get_loss_plot (FwPageGrow *self) { return self->loss; }
FwBarChart *fw_page_grow_get_bottleneck_bars (FwPageGrow *self) { return self->bars; }
gboolean fw_page_grow_is_running (FwPageGrow *self) { return self->job != NULL; }

const FwGrowPoint *
fw_page_grow_get_last_point (FwPageGrow *self)
{
  return self->points->len > 0
           ? &g_array_index (self->points, FwGrowPoint, self->points->len - 1)
           : NULL;
}

void
fw_page_grow_set_form (FwPageGrow *self, const char *method, gboolean cnn, int start,
                       int budget, int steps, int epochs, int train_limit)
{
  for (guint i = 0; i < G_N_ELEMENTS (method_ids); i++)
    if (g_strcmp0 (method, method_ids[i]) == 0)
      gtk_drop_down_set_selected (self->method_dropdown, i);
  gtk_drop_down_set_selected (self->arch_dropdown, cnn ? 1 : 0);
  gtk_spin_button_set_value (self->start_spin, start);
  gtk_spin_button_set_value (self->budget_spin, budget);
  gtk_spin_button_set_value (self->steps_spin, steps);
  gtk_spin_button_set_value (self->epochs_spin, epochs);
  gtk_spin_button_set_value (self->limit_spin, train_limit);
}

void
fw_page_grow_set_final_epochs (FwPageGrow *self, int epochs)
{
  g_return_if_fail (FW_IS_PAGE_GROW (self));
  gtk_spin_button_set_value (self->final_spin, epochs);
}

void
fw_page_grow_set_update_existing (FwPageGrow *self, gboolean update)
{
  g_return_if_fail (FW_IS_PAGE_GROW (self));
  gtk_check_button_set_active (self->update_check, update);
}

void
fw_page_grow_set_dataset_spec (FwPageGrow *self, const char *spec)
{
  g_free (self->spec_override);
  self->spec_override = g_strdup (spec);
}

void
fw_page_grow_set_runs_dir (FwPageGrow *self, const char *dir)
{
  g_free (self->runs_dir);
  self->runs_dir = g_strdup (dir);
}

void
fw_page_grow_set_font_scale (FwPageGrow *self, double scale)
{
  self->font_scale = scale;
  fw_plot_view_set_font_scale (self->acc_view, scale);
  fw_plot_view_set_font_scale (self->loss_view, scale);
  fw_plot_view_set_font_scale (self->bars_view, scale);
  gtk_widget_queue_draw (GTK_WIDGET (self->diagram_area));
}

/* ---- drawing ---- */

static void
diagram_style (FwPageGrow *self, FwPlotStyle *st)
{
  /* the same style as the plot views (theme, presentation scale) */
  fw_plot_view_get_style (self->acc_view, st);
}

static void
draw_diagram (GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer user_data)
{
  FwPageGrow *self = user_data;
  FwPlotStyle st;
  diagram_style (self, &st);
  fw_grow_draw_network (cr, fw_page_grow_get_last_point (self),
                        method_titles[self->job_method], width, height, &st);
}

/* The bars: relative bottleneck |V_proj| / |V_goal| of every site at the last growth step. */
static void
update_bars (FwPageGrow *self, const FwGrowPoint *pt)
{
  if (pt->step == 0 || pt->n_sites == 0)
    return;
  double v[FW_GROW_MAX_SITES];
  char *labels[FW_GROW_MAX_SITES + 1] = { 0 };
  int colors[FW_GROW_MAX_SITES];
  for (int s = 0; s < pt->n_sites; s++)
    {
      v[s] = pt->bottleneck[s];
      /* site s feeds weight layer s + 2 of the chain: hidden layer s + 1 grows */
      labels[s] = g_strdup_printf ("hidden %d", s + 1);
      colors[s] = s == pt->site ? 1 : 0;
    }
  fw_bar_chart_set_data (self->bars, v, (const char *const *) labels, pt->n_sites);
  fw_bar_chart_set_color_indices (self->bars, colors);
  for (int s = 0; s < pt->n_sites; s++)
    g_free (labels[s]);
  fw_plot_view_queue_update (self->bars_view);
}

static int
curve_series (FwPageGrow *self, int method)
{
  if (self->series[method] < 0)
    {
      g_autofree char *name = g_strdup_printf ("grown (%s)", method_titles[method]);
      self->series[method] = (int) fw_line_plot_add_series (self->acc, name,
                                                            method_colors[method]);
      fw_line_plot_add_series (self->loss, name, method_colors[method]);
      fw_line_plot_series_set_markers (self->acc, self->series[method], TRUE);
      fw_line_plot_series_set_markers (self->loss, self->series[method], TRUE);
    }
  return self->series[method];
}

/* One point per method: the final architecture of its last run trained from scratch. */
static int
fixed_series (FwPageGrow *self, int method)
{
  if (self->fixed_series[method] < 0)
    {
      g_autofree char *name = g_strdup_printf ("fixed size, from scratch (%s's size)",
                                               method_titles[method]);
      FwRgba c = fw_rgba_with_alpha (fw_palette_color (method_colors[method]), 0.55);
      self->fixed_series[method] = (int) fw_line_plot_add_series (self->acc, name, FIXED_COLOR);
      fw_line_plot_add_series (self->loss, name, FIXED_COLOR);
      fw_line_plot_series_set_color (self->acc, self->fixed_series[method], c);
      fw_line_plot_series_set_color (self->loss, self->fixed_series[method], c);
      fw_line_plot_series_set_markers (self->acc, self->fixed_series[method], TRUE);
      fw_line_plot_series_set_markers (self->loss, self->fixed_series[method], TRUE);
    }
  return self->fixed_series[method];
}

static void
add_point (FwPageGrow *self, const FwGrowPoint *pt)
{
  g_array_append_val (self->points, *pt);
  int s = curve_series (self, self->job_method);
  if (isfinite (pt->test_acc))
    fw_line_plot_append (self->acc, s, (double) pt->params, 100 * pt->test_acc);
  if (isfinite (pt->test_loss))
    fw_line_plot_append (self->loss, s, (double) pt->params, pt->test_loss);
  fw_plot_view_queue_update (self->acc_view);
  fw_plot_view_queue_update (self->loss_view);
  update_bars (self, pt);
  gtk_widget_queue_draw (GTK_WIDGET (self->diagram_area));
  g_autofree char *params = fw_format_count ((double) pt->params);
  g_autofree char *markup = NULL;
  if (pt->step == 0)
    markup = g_markup_printf_escaped ("Start network: <b>%s</b> parameters, test accuracy "
                                      "<b>%.1f%%</b>", params, 100 * pt->test_acc);
  else if (pt->added > 0)
    markup = g_markup_printf_escaped ("Step %d: <b>+%d</b> neurons in hidden layer %d, "
                                      "<b>%s</b> parameters, test accuracy <b>%.1f%%</b>",
                                      pt->step, pt->added, pt->site + 1, params,
                                      100 * pt->test_acc);
  else
    markup = g_markup_printf_escaped ("Step %d: no step lowered the loss enough, trained on: "
                                      "<b>%s</b> parameters, test accuracy <b>%.1f%%</b>",
                                      pt->step, params, 100 * pt->test_acc);
  gtk_label_set_markup (self->summary_label, markup);
}

/* ---- the job ---- */

static void
set_running (FwPageGrow *self, gboolean running)
{
  gtk_widget_set_sensitive (self->grow_button, !running);
  gtk_widget_set_sensitive (self->cancel_button, running);
  gtk_widget_set_sensitive (self->export_button, !running && self->points->len > 0);
  gtk_widget_set_sensitive (self->clear_button, !running);
}

static void
on_result (FwPageGrow *self, const FwGrowResult *res)
{
  g_free (self->run_dir);
  self->run_dir = g_strdup (res->run_dir);
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  FwModelShelf *shelf = win != NULL ? fw_window_get_shelf (win) : NULL;
  const FwGrowPoint *last = fw_page_grow_get_last_point (self);
  g_autofree char *params = fw_format_count ((double) fw_model_param_count (res->model));
  if (shelf != NULL)
    {
      g_autofree char *name = g_strdup_printf ("grown %s %s", method_titles[self->job_method],
                                               params);
      g_autoptr (FwShelfItem) item = fw_shelf_item_new (name, res->model,
                                                        last != NULL ? last->test_acc : NAN,
                                                        NULL, res->run_dir);
      fw_model_shelf_add (shelf, item);
      if (res->fixed != NULL)
        {
          g_autofree char *fname = g_strdup_printf ("fixed-size %s", params);
          g_autoptr (FwShelfItem) fitem = fw_shelf_item_new (fname, res->fixed, res->fixed_acc,
                                                             NULL, res->run_dir);
          fw_model_shelf_add (shelf, fitem);
        }
    }
  g_autofree char *markup = NULL;
  if (res->fixed != NULL && last != NULL)
    {
      double p = (double) fw_model_param_count (res->fixed);
      int fs = fixed_series (self, self->job_method);
      fw_line_plot_clear_series (self->acc, fs);
      fw_line_plot_clear_series (self->loss, fs);
      fw_line_plot_append (self->acc, fs, p, 100 * res->fixed_acc);
      fw_line_plot_append (self->loss, fs, p, res->fixed_loss);
      fw_plot_view_queue_update (self->acc_view);
      fw_plot_view_queue_update (self->loss_view);
      markup = g_markup_printf_escaped (
        "Grown (%s): <b>%.1f%%</b> with %s parameters. The same architecture from scratch: "
        "<b>%.1f%%</b> in the same %d epochs, <b>%.1f%%</b> for the same training compute "
        "(%d epochs: growing took %.0f%% of the FLOPs, plus %.1f s of growth statistics). "
        "Grown and fixed-size models are on the shelf.",
        method_titles[self->job_method], 100 * last->test_acc, params, 100 * res->fixed_acc,
        res->total_epochs, 100 * res->fixed_compute_acc, res->fixed_compute_epochs,
        res->fixed_train_flops > 0 ? 100 * res->train_flops / res->fixed_train_flops : 0.0,
        res->grow_seconds);
    }
  else if (last != NULL)
    markup = g_markup_printf_escaped ("Grown (%s): <b>%.1f%%</b> with %s parameters; it is on "
                                      "the model shelf.", method_titles[self->job_method],
                                      100 * last->test_acc, params);
  if (markup != NULL)
    gtk_label_set_markup (self->summary_label, markup);
}

static void
grow_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  FwPageGrow *self = user_data;
  if (job != self->job)
    return;
  switch (ev->kind)
    {
    case FW_EVENT_SNAPSHOT:
      if (g_strcmp0 (ev->payload_type, "grow-step") == 0)
        add_point (self, ev->payload);
      else if (g_strcmp0 (ev->payload_type, "grow") == 0)
        on_result (self, ev->payload);
      break;
    case FW_EVENT_FINISHED:
    case FW_EVENT_FAILED:
    case FW_EVENT_CANCELLED:
      g_clear_pointer (&self->job, fw_job_unref);
      set_running (self, FALSE);
      if (ev->kind == FW_EVENT_CANCELLED)
        gtk_label_set_text (self->summary_label, "Cancelled: the run folder was not written.");
      break;
    default:
      break;
    }
}

static FwRecipe *
recipe_from_form (FwPageGrow *self, const char *spec, int n_classes)
{
  FwRecipe *r = fw_recipe_new_default ();
  int method = (int) gtk_drop_down_get_selected (self->method_dropdown);
  gboolean cnn = gtk_drop_down_get_selected (self->arch_dropdown) == 1;
  int w = gtk_spin_button_get_value_as_int (self->start_spin);
  g_free (r->name);
  r->name = g_strdup_printf ("grow-%s", method_ids[method]);
  g_free (r->dataset);
  r->dataset = g_strdup (spec);
  r->val_fraction = 0;
  r->train_limit = gtk_spin_button_get_value_as_int (self->limit_spin);
  g_free (r->arch);
  g_free (r->widths);
  r->arch = g_strdup (cnn ? "custom" : "mlp");
  r->widths = g_strdup_printf ("%d,%d", w, w);
  g_free (r->spec);
  r->spec = g_strdup_printf ("conv:%d:3:2:1,relu,conv:%d:3:2:1,relu,flatten,dense:%d", w, w,
                             n_classes);
  r->threads = 1;
  const char *runs = self->runs_dir;
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (runs == NULL && win != NULL)
    runs = fw_window_get_runs_dir (win);
  if (runs != NULL)
    {
      g_autoptr (GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
      g_autofree char *base = g_strdup_printf ("%s-%s", r->name, stamp);
      g_free (r->out_dir);
      r->out_dir = g_build_filename (runs, base, NULL);
    }
  char buf[32];
  fw_recipe_ext_set (r, "grow", "method", method_ids[method]);
#define SET(key, spin)                                                          \
  g_snprintf (buf, sizeof buf, "%d", gtk_spin_button_get_value_as_int (spin));  \
  fw_recipe_ext_set (r, "grow", key, buf);
  SET ("budget", self->budget_spin);
  SET ("max_steps", self->steps_spin);
  SET ("epochs_per_step", self->epochs_spin);
  SET ("final_epochs", self->final_spin);
  SET ("max_new", self->max_new_spin);
#undef SET
  fw_recipe_ext_set (r, "grow", "update_existing",
                     gtk_check_button_get_active (self->update_check) ? "true" : "false");
  fw_recipe_ext_set (r, "grow", "fixed_baseline",
                     gtk_check_button_get_active (self->fixed_check) ? "true" : "false");
  fw_recipe_ext_set (r, "grow", "test_limit", "5000");
  return r;
}

static gboolean
submit_recipe (FwPageGrow *self, FwRecipe *r)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win == NULL)
    {
      fw_recipe_free (r);
      return FALSE;
    }
  g_autofree char *m = fw_recipe_ext_get_string (r, "grow", "method", "tiny");
  self->job_method = 0;
  for (guint i = 0; i < G_N_ELEMENTS (method_ids); i++)
    if (g_strcmp0 (m, method_ids[i]) == 0)
      self->job_method = (int) i;
  g_array_set_size (self->points, 0);
  /* a new run of a method replaces that method's curve */
  if (self->series[self->job_method] >= 0)
    {
      fw_line_plot_clear_series (self->acc, self->series[self->job_method]);
      fw_line_plot_clear_series (self->loss, self->series[self->job_method]);
    }
  fw_bar_chart_set_data (self->bars, NULL, NULL, 0);
  fw_plot_view_queue_update (self->bars_view);
  gtk_widget_queue_draw (GTK_WIDGET (self->diagram_area));
  g_autofree char *name = g_strdup_printf ("Growing (%s)", method_titles[self->job_method]);
  gtk_label_set_text (self->summary_label, "Training the start network...");
  self->job = fw_window_submit_job (win, name, fw_grow_job_run, r,
                                    (GDestroyNotify) fw_recipe_free, grow_event, self);
  set_running (self, TRUE);
  return TRUE;
}

gboolean
fw_page_grow_start (FwPageGrow *self)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win == NULL || self->job != NULL)
    return FALSE;
  const char *spec = self->spec_override != NULL ? self->spec_override
                                                 : fw_window_get_data_spec (win);
  if (spec == NULL || *spec == '\0')
    {
      fw_window_show_error (win, "No dataset: load one on the Data page first, then grow.");
      return FALSE;
    }
  FwDataset *ds = self->spec_override == NULL ? fw_window_get_dataset (win) : NULL;
  return submit_recipe (self, recipe_from_form (self, spec, ds != NULL ? ds->n_classes : 10));
}

void
fw_page_grow_cancel (FwPageGrow *self)
{
  if (self->job != NULL)
    fw_job_cancel (self->job);
}

/* A recipe with [grow] opened in the window: its settings as they are, run at once. */
static void
open_recipe (GtkWidget *page, const FwRecipe *recipe)
{
  FwPageGrow *self = FW_PAGE_GROW (page);
  if (self->job != NULL)
    return;
  submit_recipe (self, fw_recipe_copy (recipe));
}

/* ---- figures ---- */

typedef struct {
  FwPageGrow *self;
  FwPlotStyle style;
} DiagramExport;

static void
export_diagram_draw (cairo_t *cr, double width, double height, gpointer user_data)
{
  DiagramExport *d = user_data;
  fw_grow_draw_network (cr, fw_page_grow_get_last_point (d->self),
                        method_titles[d->self->job_method], width, height, &d->style);
}

gboolean
fw_page_grow_export_figures (FwPageGrow *self, const char *dir, GError **error)
{
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "cannot create %s — choose a writable folder",
                   dir);
      return FALSE;
    }
  static const FwExportFormat formats[] = { FW_EXPORT_PNG, FW_EXPORT_SVG, FW_EXPORT_PDF };
  DiagramExport d = { self };
  fw_plot_style_init (&d.style);
  d.style.font_scale = self->font_scale;
  for (guint f = 0; f < G_N_ELEMENTS (formats); f++)
    {
      const char *ext = fw_export_format_extension (formats[f]);
      g_autofree char *net = g_strdup_printf ("%s/grow-network.%s", dir, ext);
      g_autofree char *acc = g_strdup_printf ("%s/grow-accuracy.%s", dir, ext);
      g_autofree char *loss = g_strdup_printf ("%s/grow-loss.%s", dir, ext);
      g_autofree char *bars = g_strdup_printf ("%s/grow-bottleneck.%s", dir, ext);
      if (!fw_export_drawing (net, formats[f], 900, 480, 2.0, export_diagram_draw, &d, error)
          || !fw_plot_export (acc, formats[f], FW_PLOT_LINE, self->acc, 800, 500, 2.0, &d.style,
                              error)
          || !fw_plot_export (loss, formats[f], FW_PLOT_LINE, self->loss, 800, 500, 2.0,
                              &d.style, error)
          || !fw_plot_export (bars, formats[f], FW_PLOT_BARS, self->bars, 600, 450, 2.0,
                              &d.style, error))
        return FALSE;
    }
  return TRUE;
}

static void
export_clicked (FwPageGrow *self)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  g_autofree char *dir = self->run_dir != NULL
    ? g_strdup (self->run_dir)
    : g_build_filename (win != NULL ? fw_window_get_runs_dir (win) : "runs", "grow-figures",
                        NULL);
  g_autoptr (GError) error = NULL;
  if (!fw_page_grow_export_figures (self, dir, &error))
    {
      if (win != NULL)
        fw_window_show_error (win, error->message);
      return;
    }
  if (win != NULL)
    {
      g_autofree char *msg = g_strdup_printf ("Figures written to %s (PNG, SVG, PDF)", dir);
      fw_window_show_toast (win, msg);
    }
}

static void
clear_clicked (FwPageGrow *self)
{
  fw_line_plot_clear (self->acc);
  fw_line_plot_clear (self->loss);
  for (int i = 0; i < 3; i++)
    self->series[i] = self->fixed_series[i] = -1;
  fw_plot_view_queue_update (self->acc_view);
  fw_plot_view_queue_update (self->loss_view);
}

/* ---- life cycle ---- */

static void
fw_page_grow_dispose (GObject *object)
{
  FwPageGrow *self = FW_PAGE_GROW (object);
  if (self->job != NULL)
    fw_job_cancel (self->job);
  g_clear_pointer (&self->job, fw_job_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), FW_TYPE_PAGE_GROW);
  G_OBJECT_CLASS (fw_page_grow_parent_class)->dispose (object);
}

static void
fw_page_grow_finalize (GObject *object)
{
  FwPageGrow *self = FW_PAGE_GROW (object);
  g_clear_pointer (&self->acc, fw_line_plot_unref);
  g_clear_pointer (&self->loss, fw_line_plot_unref);
  g_clear_pointer (&self->bars, fw_bar_chart_unref);
  g_clear_pointer (&self->points, g_array_unref);
  g_free (self->spec_override);
  g_free (self->runs_dir);
  g_free (self->run_dir);
  G_OBJECT_CLASS (fw_page_grow_parent_class)->finalize (object);
}

static void
grow_action (GtkWidget *widget, const char *name, GVariant *param)
{
  fw_page_grow_start (FW_PAGE_GROW (widget));
}

static void
fw_page_grow_class_init (FwPageGrowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = fw_page_grow_dispose;
  object_class->finalize = fw_page_grow_finalize;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/frugal/Workbench/ui/fw-page-grow.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, FwPageGrow, name)
  BIND (root);
  BIND (method_dropdown);
  BIND (arch_dropdown);
  BIND (start_spin);
  BIND (budget_spin);
  BIND (steps_spin);
  BIND (epochs_spin);
  BIND (final_spin);
  BIND (update_check);
  BIND (max_new_spin);
  BIND (limit_spin);
  BIND (fixed_check);
  BIND (grow_button);
  BIND (cancel_button);
  BIND (export_button);
  BIND (clear_button);
  BIND (summary_label);
  BIND (diagram_area);
  BIND (bars_box);
  BIND (curves_box);
#undef BIND
  gtk_widget_class_install_action (widget_class, "grow.start", NULL, grow_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_g, GDK_CONTROL_MASK, "grow.start",
                                       NULL);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
fw_page_grow_init (FwPageGrow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_spin_button_set_value (self->final_spin, FW_GROW_DEFAULT_FINAL_EPOCHS);
  self->points = g_array_new (FALSE, TRUE, sizeof (FwGrowPoint));
  self->font_scale = 1.0;
  self->acc = fw_line_plot_new ();
  fw_line_plot_set_title (self->acc, "Test accuracy as the network grows");
  fw_line_plot_set_x_label (self->acc, "parameters", NULL);
  fw_line_plot_set_y_label (self->acc, "test accuracy", "%");
  fw_line_plot_set_x_range (self->acc, 0, NAN);
  fw_line_plot_set_empty_text (self->acc, "Accuracy against parameters appears here");
  self->acc_view = fw_plot_view_new_in_box (self->curves_box, "grow-accuracy");
  fw_plot_view_set_line_plot (self->acc_view, self->acc);

  self->loss = fw_line_plot_new ();
  fw_line_plot_set_title (self->loss, "Test loss as the network grows");
  fw_line_plot_set_x_label (self->loss, "parameters", NULL);
  fw_line_plot_set_y_label (self->loss, "test loss", "cross-entropy");
  fw_line_plot_set_x_range (self->loss, 0, NAN);
  fw_line_plot_set_empty_text (self->loss, "Loss against parameters appears here");
  self->loss_view = fw_plot_view_new_in_box (self->curves_box, "grow-loss");
  fw_plot_view_set_line_plot (self->loss_view, self->loss);
  clear_clicked (self);

  self->bars = fw_bar_chart_new ();
  fw_bar_chart_set_title (self->bars, "Expressivity bottleneck");
  fw_bar_chart_set_y_label (self->bars, "not expressible: |V_proj| / |V_goal|", "%");
  fw_bar_chart_set_x_label (self->bars, "hidden layer (orange: grown now)");
  fw_bar_chart_set_empty_text (self->bars, "The share of the desired change each layer cannot "
                                           "express appears here");
  fw_bar_chart_set_format (self->bars, FW_VALUE_PERCENT);
  fw_bar_chart_set_range (self->bars, 0, 1);
  self->bars_view = fw_plot_view_new_in_box (self->bars_box, "grow-bottleneck");
  gtk_widget_set_hexpand (GTK_WIDGET (self->bars_view), FALSE);
  fw_plot_view_set_bars (self->bars_view, self->bars);

  gtk_drawing_area_set_draw_func (self->diagram_area, draw_diagram, self, NULL);
  g_signal_connect_swapped (self->grow_button, "clicked", G_CALLBACK (fw_page_grow_start), self);
  g_signal_connect_swapped (self->cancel_button, "clicked", G_CALLBACK (fw_page_grow_cancel),
                            self);
  g_signal_connect_swapped (self->export_button, "clicked", G_CALLBACK (export_clicked), self);
  g_signal_connect_swapped (self->clear_button, "clicked", G_CALLBACK (clear_clicked), self);
  fw_page_set_recipe_opener (GTK_WIDGET (self), open_recipe);
  set_running (self, FALSE);
}
