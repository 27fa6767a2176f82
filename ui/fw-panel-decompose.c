/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-panel-decompose.c: the decomposition and distillation methods of the Compress page
 * (see fw-panel-decompose.h). Both panels build a recipe with their extension group from the
 * form and the Data page's dataset, run the extension's job on the chosen shelf model (saved to
 * a temporary file first when it has none), and put the results on the shelf. */
#include "fw-panel-decompose.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "fw-distill.h"
#include "fw-error.h"
#include "fw-page-compress.h"
#include "fw-plot-view.h"
#include "fw-recipe-ext.h"
#include "fw-safetensors.h"
#include "fw-util.h"
#include "fw-window.h"

/* ---- shared: the job wrapper, the form helpers ---- */

/* A job for extension `group` on the page's model with recipe r (taken), or NULL with the
 * reason in the window's error bar. The recipe gets the dataset and a run folder. */
static FwJob *
panel_submit (GtkWidget *panel, FwPageCompress *page, const char *group, const char *key,
              FwRecipe *r, const char *what, FwEventFunc on_event, char **source_name)
{
  g_autoptr (FwRecipe) rr = r;
  FwWindow *win = fw_window_for_widget (panel);
  if (win == NULL)
    return NULL;
  const FwRecipeExt *ext = fw_recipe_ext_lookup (group);
  FwShelfItem *item = fw_page_compress_get_item (page);
  const char *spec = fw_window_get_data_spec (win);
  if (ext == NULL || ext->run == NULL)
    {
      fw_window_show_error (win, "This method is not available in this build.");
      return NULL;
    }
  if (item == NULL)
    {
      fw_window_show_error (win, "No model yet: train one on the Train page (Ctrl+Return), "
                                 "then pick it here.");
      return NULL;
    }
  if (spec == NULL)
    {
      fw_window_show_error (win, "No dataset yet: choose one on the Data page.");
      return NULL;
    }
  g_free (rr->dataset);
  rr->dataset = g_strdup (spec);
  g_free (rr->name);
  rr->name = g_strdup (group);
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *dir = g_strdup_printf ("%s-%s-%03d", group, stamp,
                                          (int) (g_date_time_get_microsecond (now) / 1000));
  g_free (rr->out_dir);
  rr->out_dir = g_build_filename (fw_window_get_runs_dir (win), dir, NULL);
  g_free (*source_name);
  *source_name = g_strdup (fw_shelf_item_get_name (item));
  fw_window_clear_error (win);
  g_autofree char *job_name = g_strdup_printf ("%s %s", what, *source_name);
  return fw_page_compress_submit_job (win, job_name, ext->run, g_steal_pointer (&rr), group, key,
                                      item, on_event, panel);
}

static void
grid_field (GtkGrid *grid, int row, const char *label, GtkWidget *w, const char *tip)
{
  GtkWidget *l = gtk_label_new (label);
  gtk_label_set_xalign (GTK_LABEL (l), 0);
  gtk_widget_set_hexpand (l, TRUE);
  gtk_widget_add_css_class (l, "fw-field");
  gtk_grid_attach (grid, l, 0, row, 1, 1);
  gtk_grid_attach (grid, w, 1, row, 1, 1);
  gtk_widget_set_tooltip_text (w, tip);
}

static GtkSpinButton *
spin (double lo, double hi, double step, double value, int digits)
{
  GtkSpinButton *s = GTK_SPIN_BUTTON (gtk_spin_button_new_with_range (lo, hi, step));
  gtk_spin_button_set_digits (s, digits);
  gtk_spin_button_set_value (s, value);
  return s;
}

/* The column of controls: a title, a caption, the form grid; returns the box. */
static GtkWidget *
controls_box (const char *title, const char *text, GtkGrid **grid)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *t = gtk_label_new (title);
  gtk_label_set_xalign (GTK_LABEL (t), 0);
  gtk_widget_add_css_class (t, "fw-section-title");
  gtk_box_append (GTK_BOX (box), t);
  GtkWidget *c = gtk_label_new (text);
  gtk_label_set_xalign (GTK_LABEL (c), 0);
  gtk_label_set_wrap (GTK_LABEL (c), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (c), 30);
  gtk_widget_add_css_class (c, "dim-label");
  gtk_widget_add_css_class (c, "caption");
  gtk_box_append (GTK_BOX (box), c);
  *grid = GTK_GRID (gtk_grid_new ());
  gtk_grid_set_row_spacing (*grid, 6);
  gtk_grid_set_column_spacing (*grid, 10);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (*grid));
  return box;
}

/* Run and Cancel buttons appended to box */
static void
run_buttons (GtkWidget *box, const char *mnemonic, const char *tip, GtkWidget **run,
             GtkWidget **cancel)
{
  *run = gtk_button_new ();
  gtk_button_set_child (GTK_BUTTON (*run), gtk_label_new_with_mnemonic (mnemonic));
  gtk_widget_add_css_class (*run, "suggested-action");
  gtk_widget_add_css_class (*run, "pill");
  gtk_widget_set_tooltip_text (*run, tip);
  gtk_box_append (GTK_BOX (box), *run);
  *cancel = gtk_button_new_with_label ("Cancel");
  gtk_box_append (GTK_BOX (box), *cancel);
}

static GtkLabel *
status_label (const char *text)
{
  GtkLabel *l = GTK_LABEL (gtk_label_new (text));
  gtk_label_set_xalign (l, 0);
  gtk_label_set_wrap (l, TRUE);
  return l;
}

static FwPlotView *
plot_view (FwLinePlot *lp, FwBarChart *bc, const char *export_name)
{
  FwPlotView *v = FW_PLOT_VIEW (fw_plot_view_new ());
  fw_plot_view_set_export_name (v, export_name);
  if (lp != NULL)
    fw_plot_view_set_line_plot (v, lp);
  else
    fw_plot_view_set_bars (v, bc);
  gtk_widget_set_vexpand (GTK_WIDGET (v), TRUE);
  return v;
}

/* What both panels hold: the layout's root, buttons, status line, the two plot views, the
 * running job and what it started from. */
typedef struct {
  GtkWidget *root;
  FwPageCompress *page;
  GtkWidget *run_button, *cancel_button;
  GtkLabel *status;
  FwPlotView *views[2];
  FwJob *job;
  char *source_name;
  guint n_results;
} Panel;

static void
panel_set_running (Panel *p, gboolean running)
{
  gtk_widget_set_sensitive (p->run_button, !running);
  gtk_widget_set_sensitive (p->cancel_button, running);
}

/* The end of a job (FINISHED, FAILED, CANCELLED): TRUE when ev was one. */
static gboolean
panel_job_ended (Panel *p, const FwEvent *ev, const char *what)
{
  if (ev->kind != FW_EVENT_FINISHED && ev->kind != FW_EVENT_FAILED
      && ev->kind != FW_EVENT_CANCELLED)
    return FALSE;
  g_clear_pointer (&p->job, fw_job_unref);
  panel_set_running (p, FALSE);
  if (ev->kind == FW_EVENT_CANCELLED)
    gtk_label_set_text (p->status, "Cancelled: nothing was added to the shelf.");
  else if (ev->kind == FW_EVENT_FAILED)
    {
      g_autofree char *t = g_strdup_printf ("%s failed: see the message above.", what);
      gtk_label_set_text (p->status, t);
    }
  return TRUE;
}

static void
panel_cancel (Panel *p)
{
  if (p->job != NULL)
    fw_job_cancel (p->job);
}

static void
panel_font_scale (FwPageCompress *page, double scale, Panel *p)
{
  fw_plot_view_set_font_scale (p->views[0], scale);
  fw_plot_view_set_font_scale (p->views[1], scale);
}

/* The viz column: the status line above the two views in a paned; then the panel layout,
 * parented to self, with the buttons and the page's font scale connected. */
static void
panel_finish (Panel *p, GtkWidget *self, FwPageCompress *page, GtkWidget *controls,
              const char *status, GCallback run)
{
  p->page = page;
  GtkWidget *viz = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  p->status = status_label (status);
  gtk_box_append (GTK_BOX (viz), GTK_WIDGET (p->status));
  GtkWidget *paned = gtk_paned_new (GTK_ORIENTATION_VERTICAL);
  gtk_widget_set_vexpand (paned, TRUE);
  gtk_paned_set_start_child (GTK_PANED (paned), GTK_WIDGET (p->views[0]));
  gtk_paned_set_end_child (GTK_PANED (paned), GTK_WIDGET (p->views[1]));
  gtk_paned_set_position (GTK_PANED (paned), 310);
  gtk_box_append (GTK_BOX (viz), paned);
  p->root = fw_compress_panel_new (controls, viz);
  gtk_widget_set_parent (p->root, self);
  g_signal_connect_swapped (p->run_button, "clicked", run, self);
  g_signal_connect_swapped (p->cancel_button, "clicked", G_CALLBACK (panel_cancel), p);
  g_signal_connect (page, "font-scale-changed", G_CALLBACK (panel_font_scale), p);
  panel_set_running (p, FALSE);
}

static void
panel_dispose (Panel *p)
{
  if (p->page != NULL)
    g_signal_handlers_disconnect_by_data (p->page, p);
  p->page = NULL;
  panel_cancel (p);
  g_clear_pointer (&p->job, fw_job_unref);
  g_clear_pointer (&p->root, gtk_widget_unparent);
}

/* ==== decompositions ==== */

struct _FwDecompPanel {
  GtkWidget parent_instance;
  Panel p;
  FwDecompMethod methods[5];
  int n_methods;

  GtkDropDown *method;
  GtkSpinButton *rank, *energy, *epochs;
  GtkEntry *ranks;
  FwLinePlot *err_plot, *acc_plot;
};

G_DEFINE_FINAL_TYPE (FwDecompPanel, fw_decomp_panel, GTK_TYPE_WIDGET)

FwLinePlot *fw_decomp_panel_get_error_plot (FwDecompPanel *self) { return self->err_plot; }
FwLinePlot *fw_decomp_panel_get_acc_plot (FwDecompPanel *self) { return self->acc_plot; }
guint fw_decomp_panel_get_n_results (FwDecompPanel *self) { return self->p.n_results; }
gboolean fw_decomp_panel_is_running (FwDecompPanel *self) { return self->p.job != NULL; }

void
fw_decomp_panel_set_form (FwDecompPanel *self, int rank, double energy, const char *ranks,
                          int finetune_epochs)
{
  gtk_spin_button_set_value (self->rank, rank);
  gtk_spin_button_set_value (self->energy, 100 * energy);
  gtk_editable_set_text (GTK_EDITABLE (self->ranks), ranks != NULL ? ranks : "");
  gtk_spin_button_set_value (self->epochs, finetune_epochs);
}

static void
decomp_show_result (FwDecompPanel *self, FwDecompResult *res)
{
  /* the curves: relative error (%) vs rank, one series per layer */
  fw_line_plot_clear (self->err_plot);
  for (guint c = 0; c < res->curves->len; c++)
    {
      const FwDecompCurve *cu = g_ptr_array_index (res->curves, c);
      guint s = fw_line_plot_add_series (self->err_plot, cu->name, (int) c);
      fw_line_plot_series_set_markers (self->err_plot, s, TRUE);
      for (int i = 0; i < cu->n; i++)
        fw_line_plot_append (self->err_plot, s, cu->ranks[i], 100 * cu->errs[i]);
    }
  fw_plot_view_queue_update (self->p.views[0]);
  /* accuracy vs compression ratio (bytes on disk), before and after fine-tuning */
  fw_line_plot_clear (self->acc_plot);
  guint s0 = fw_line_plot_add_series (self->acc_plot, "decomposed", 0);
  guint s1 = fw_line_plot_add_series (self->acc_plot, "fine-tuned", 1);
  guint s2 = fw_line_plot_add_series (self->acc_plot, "original", 2);
  fw_line_plot_series_set_markers (self->acc_plot, s0, TRUE);
  fw_line_plot_series_set_markers (self->acc_plot, s1, TRUE);
  fw_line_plot_series_set_points_only (self->acc_plot, s2, TRUE);
  fw_line_plot_append (self->acc_plot, s2, 1, 100 * res->base_acc);
  for (guint p = 0; p < res->points->len; p++)
    {
      const FwDecompPoint *pt = &g_array_index (res->points, FwDecompPoint, p);
      double ratio = (double) res->base_bytes / MAX (pt->bytes, 1);
      fw_line_plot_append (self->acc_plot, s0, ratio, 100 * pt->acc);
      if (!isnan (pt->acc_ft))
        fw_line_plot_append (self->acc_plot, s1, ratio, 100 * pt->acc_ft);
      /* onto the shelf, as saved */
      g_autofree char *path = g_build_filename (res->run_dir, pt->file, NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (FwModel) m = fw_model_load (path, NULL, &error);
      if (m == NULL)
        continue;
      g_autofree char *name = g_strdup_printf ("%s %s r%s", self->p.source_name,
                                               fw_decomp_method_name (res->method), pt->ranks);
      fw_page_compress_add_result (self->p.page, name, fw_decomp_method_name (res->method), m,
                                   isnan (pt->acc_ft) ? pt->acc : pt->acc_ft, path,
                                   res->run_dir);
      self->p.n_results++;
    }
  fw_plot_view_queue_update (self->p.views[1]);
  g_autofree char *summary = fw_decomp_result_summary (res);
  gtk_label_set_text (self->p.status, summary);
}

static void
decomp_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  FwDecompPanel *self = user_data;
  if (job != self->p.job)
    return;
  switch (ev->kind)
    {
    case FW_EVENT_SNAPSHOT:
      if (g_strcmp0 (ev->payload_type, "decompose") == 0)
        decomp_show_result (self, ev->payload);
      break;
    case FW_EVENT_STARTED:
      gtk_label_set_text (self->p.status, "Decomposing: error curves, then each rank…");
      break;
    default:
      panel_job_ended (&self->p, ev, "Decomposition");
      break;
    }
}

gboolean
fw_decomp_panel_run (FwDecompPanel *self)
{
  if (self->p.job != NULL)
    return FALSE;
  FwRecipe *r = fw_recipe_new_default ();
  r->val_fraction = 0;
  r->train.opt = FW_OPT_ADAM;
  r->train.lr = 1e-3;
  r->train.batch = 64;
  guint mi = gtk_drop_down_get_selected (self->method);
  FwDecompMethod m = self->methods[MIN (mi, (guint) self->n_methods - 1)];
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_autofree char *rank = g_strdup_printf ("%d", gtk_spin_button_get_value_as_int (self->rank));
  g_autofree char *ep = g_strdup_printf ("%d", gtk_spin_button_get_value_as_int (self->epochs));
  fw_recipe_ext_set (r, "decompose", "method", fw_decomp_method_name (m));
  fw_recipe_ext_set (r, "decompose", "rank", rank);
  fw_recipe_ext_set (r, "decompose", "energy",
                     g_ascii_dtostr (buf, sizeof buf,
                                     gtk_spin_button_get_value (self->energy) / 100));
  fw_recipe_ext_set (r, "decompose", "finetune_epochs", ep);
  const char *ranks = gtk_editable_get_text (GTK_EDITABLE (self->ranks));
  if (ranks != NULL && *ranks != '\0')
    fw_recipe_ext_set (r, "decompose", "ranks", ranks);
  self->p.job = panel_submit (GTK_WIDGET (self), self->p.page, "decompose", "model", r,
                            "Decomposing", decomp_event, &self->p.source_name);
  if (self->p.job == NULL)
    return FALSE;
  panel_set_running (&self->p, TRUE);
  return TRUE;
}

static const char *
method_help (FwDecompMethod m)
{
  switch (m)
    {
    case FW_DECOMP_SVD:
      return "Truncated SVD of each dense layer: W [out x in] becomes two thin layers "
             "(in -> rank -> out). Parameters r (in + out) instead of in out.";
    case FW_DECOMP_CP:
      return "CP decomposition (alternating least squares) of each conv kernel: the layer runs "
             "as 1x1 -> Kx1 -> 1xK -> 1x1 convolutions through R channels (Lebedev 2015).";
    case FW_DECOMP_TUCKER:
      return "Tucker-2 of each conv kernel over its channel modes (HOSVD): 1x1 down to R3 "
             "channels, a KxK core to R4, 1x1 back up.";
    case FW_DECOMP_TT:
    case FW_DECOMP_HT:
      return "Tensor train (TT-SVD) or hierarchical Tucker of each dense weight seen as a "
             "tensor of (out, in) mode pairs; the layer runs in that form (Novikov 2015).";
    }
  return "";
}

GtkWidget *
fw_decomp_panel_new (FwPageCompress *page, const FwDecompMethod *methods, int n_methods)
{
  FwDecompPanel *self = g_object_new (FW_TYPE_DECOMP_PANEL, NULL);
  self->n_methods = CLAMP (n_methods, 1, 5);
  memcpy (self->methods, methods, sizeof (FwDecompMethod) * self->n_methods);

  const char *names[6] = { NULL };
  for (int i = 0; i < self->n_methods; i++)
    names[i] = fw_decomp_method_name (self->methods[i]);
  const char *titles[] = { "Low rank (SVD)", "CP decomposition", "Tucker-2",
                           "Tensor train", "Hierarchical Tucker" };
  GtkGrid *g;
  GtkWidget *controls = controls_box (titles[self->methods[0]], method_help (self->methods[0]),
                                      &g);
  self->method = GTK_DROP_DOWN (gtk_drop_down_new_from_strings (names));
  grid_field (g, 0, "Method", GTK_WIDGET (self->method),
              "svd: dense layers; cp, tucker: conv layers; tt, ht: dense layers");
  gtk_widget_set_sensitive (GTK_WIDGET (self->method), self->n_methods > 1);
  self->rank = spin (0, 1024, 1, self->methods[0] == FW_DECOMP_CP ? 8 : 0, 0);
  grid_field (g, 1, "Rank", GTK_WIDGET (self->rank),
              "The rank of every decomposed layer (TT/HT: the largest rank); 0 = the smallest "
              "rank keeping the energy below (not for CP)");
  self->energy = spin (1, 100, 1, 90, 0);
  grid_field (g, 2, "Kept energy (%)", GTK_WIDGET (self->energy),
              "With rank 0: keep this share of the squared Frobenius norm of each weight");
  self->ranks = GTK_ENTRY (gtk_entry_new ());
  gtk_entry_set_placeholder_text (self->ranks, "e.g. 2,4,8,16");
  gtk_editable_set_width_chars (GTK_EDITABLE (self->ranks), 10);
  grid_field (g, 3, "Rank sweep", GTK_WIDGET (self->ranks),
              "Several ranks: one model per rank, plotted as accuracy vs compression ratio");
  self->epochs = spin (0, 50, 1, 1, 0);
  grid_field (g, 4, "Fine-tune epochs", GTK_WIDGET (self->epochs),
              "Train each decomposed model in its factored form afterwards");
  run_buttons (controls, "_Decompose", "Decompose the chosen shelf model on the current dataset",
               &self->p.run_button, &self->p.cancel_button);

  self->err_plot = fw_line_plot_new ();
  fw_line_plot_set_title (self->err_plot, "Reconstruction error per layer vs rank");
  fw_line_plot_set_x_label (self->err_plot, "rank", NULL);
  fw_line_plot_set_y_label (self->err_plot, "relative error", "%");
  fw_line_plot_set_log_x (self->err_plot, TRUE);
  fw_line_plot_set_y_range (self->err_plot, 0, 100);
  fw_line_plot_set_empty_text (self->err_plot, "No curve yet: press Decompose");
  self->acc_plot = fw_line_plot_new ();
  fw_line_plot_set_title (self->acc_plot, "Test accuracy vs compression (bytes on disk)");
  fw_line_plot_set_x_label (self->acc_plot, "compression ratio", "x");
  fw_line_plot_set_y_label (self->acc_plot, "test accuracy", "%");
  fw_line_plot_set_log_x (self->acc_plot, TRUE);
  fw_line_plot_set_empty_text (self->acc_plot, "Give a rank sweep to see the trade-off");
  self->p.views[0] = plot_view (self->err_plot, NULL, "decomposition-error");
  self->p.views[1] = plot_view (self->acc_plot, NULL, "decomposition-accuracy");
  panel_finish (&self->p, GTK_WIDGET (self), page, controls,
                "Pick a shelf model and press Decompose: the reconstruction error of each layer "
                "vs rank appears here (pick the rank where the curve flattens), then accuracy "
                "vs compression.", G_CALLBACK (fw_decomp_panel_run));
  return GTK_WIDGET (self);
}

static void
fw_decomp_panel_dispose (GObject *object)
{
  panel_dispose (&FW_DECOMP_PANEL (object)->p);
  G_OBJECT_CLASS (fw_decomp_panel_parent_class)->dispose (object);
}

static void
fw_decomp_panel_finalize (GObject *object)
{
  FwDecompPanel *self = FW_DECOMP_PANEL (object);
  g_clear_pointer (&self->err_plot, fw_line_plot_unref);
  g_clear_pointer (&self->acc_plot, fw_line_plot_unref);
  g_free (self->p.source_name);
  G_OBJECT_CLASS (fw_decomp_panel_parent_class)->finalize (object);
}

static void
fw_decomp_panel_class_init (FwDecompPanelClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = fw_decomp_panel_dispose;
  G_OBJECT_CLASS (klass)->finalize = fw_decomp_panel_finalize;
  gtk_widget_class_set_layout_manager_type (GTK_WIDGET_CLASS (klass), GTK_TYPE_BIN_LAYOUT);
}

static void
fw_decomp_panel_init (FwDecompPanel *self)
{
}

/* ==== distillation ==== */

struct _FwDistillPanel {
  GtkWidget parent_instance;
  Panel p;

  GtkDropDown *arch;
  GtkEntry *widths;
  GtkSpinButton *temperature, *alpha, *epochs, *seeds;
  FwBarChart *soft_chart;
  FwLinePlot *seed_plot;
};

G_DEFINE_FINAL_TYPE (FwDistillPanel, fw_distill_panel, GTK_TYPE_WIDGET)

FwBarChart *fw_distill_panel_get_soft_chart (FwDistillPanel *self) { return self->soft_chart; }
guint fw_distill_panel_get_n_results (FwDistillPanel *self) { return self->p.n_results; }
gboolean fw_distill_panel_is_running (FwDistillPanel *self) { return self->p.job != NULL; }

static const char *const student_archs[] = {
  "mlp", "lenet5", "cnn-small", "mobilenet-tiny", "squeezenet-tiny", "efficientnet-tiny", NULL,
};

void
fw_distill_panel_set_form (FwDistillPanel *self, const char *arch, const char *widths,
                           double temperature, double alpha, int epochs, int seeds)
{
  for (int i = 0; student_archs[i] != NULL; i++)
    if (g_strcmp0 (student_archs[i], arch) == 0)
      gtk_drop_down_set_selected (self->arch, i);
  gtk_editable_set_text (GTK_EDITABLE (self->widths), widths != NULL ? widths : "");
  gtk_spin_button_set_value (self->temperature, temperature);
  gtk_spin_button_set_value (self->alpha, alpha);
  gtk_spin_button_set_value (self->epochs, epochs);
  gtk_spin_button_set_value (self->seeds, seeds);
}

static void
distill_show_result (FwDistillPanel *self, FwDistillResult *res)
{
  /* the teacher's softened outputs for one test sample: at T, then at T = 1 */
  int k = res->n_classes;
  g_autofree double *v = g_new (double, 2 * k);
  g_autofree char **labels = g_new0 (char *, 2 * k + 1);
  g_autofree int *colors = g_new (int, 2 * k);
  for (int j = 0; j < k; j++)
    {
      const char *cn = res->class_names != NULL && j < (int) g_strv_length (res->class_names)
                         ? res->class_names[j] : NULL;
      v[j] = res->soft_t[j];
      v[k + j] = res->soft_1[j];
      labels[j] = cn != NULL ? g_strdup_printf ("%s T=%g", cn, res->temperature)
                             : g_strdup_printf ("%d T=%g", j, res->temperature);
      labels[k + j] = cn != NULL ? g_strdup_printf ("%s T=1", cn) : g_strdup_printf ("%d T=1", j);
      colors[j] = 0;
      colors[k + j] = 1;
    }
  fw_bar_chart_set_data (self->soft_chart, v, (const char *const *) labels, 2 * k);
  fw_bar_chart_set_color_indices (self->soft_chart, colors);
  for (int j = 0; j < 2 * k; j++)
    g_free (labels[j]);
  const char *true_name = res->class_names != NULL && res->sample_label < (int) g_strv_length (res->class_names)
                            ? res->class_names[res->sample_label] : "?";
  g_autofree char *title = g_strdup_printf ("Teacher's soft targets, T = %g vs T = 1 "
                                            "(a test %s)", res->temperature, true_name);
  fw_bar_chart_set_title (self->soft_chart, title);
  fw_plot_view_queue_update (self->p.views[0]);
  /* accuracy per seed */
  fw_line_plot_clear (self->seed_plot);
  guint s0 = fw_line_plot_add_series (self->seed_plot, "distilled", 0);
  guint s1 = fw_line_plot_add_series (self->seed_plot, "hard labels", 1);
  guint s2 = fw_line_plot_add_series (self->seed_plot, "teacher", 2);
  fw_line_plot_series_set_markers (self->seed_plot, s0, TRUE);
  fw_line_plot_series_set_markers (self->seed_plot, s1, TRUE);
  fw_line_plot_series_set_dashed (self->seed_plot, s2, TRUE);
  for (int s = 0; s < res->n_seeds; s++)
    {
      fw_line_plot_append (self->seed_plot, s0, s + 1, 100 * res->acc_distilled[s]);
      if (!isnan (res->acc_hard[s]))
        fw_line_plot_append (self->seed_plot, s1, s + 1, 100 * res->acc_hard[s]);
      fw_line_plot_append (self->seed_plot, s2, s + 1, 100 * res->teacher_acc);
    }
  fw_line_plot_set_x_range (self->seed_plot, 0.5, res->n_seeds + 0.5);
  fw_plot_view_queue_update (self->p.views[1]);

  g_autofree char *path = g_build_filename (res->run_dir, "student.safetensors", NULL);
  g_autoptr (FwModel) m = fw_model_load (path, NULL, NULL);
  if (m != NULL)
    {
      g_autofree char *name = g_strdup_printf ("student of %s (T %g)", self->p.source_name,
                                               res->temperature);
      fw_page_compress_add_result (self->p.page, name, "distilled", m, res->acc_distilled[0],
                                   path, res->run_dir);
      self->p.n_results++;
    }
  double md = 0, mh = 0;
  for (int s = 0; s < res->n_seeds; s++)
    {
      md += res->acc_distilled[s] / res->n_seeds;
      mh += res->acc_hard[s] / res->n_seeds;
    }
  char hard[32] = "not trained";
  if (!isnan (mh))
    g_snprintf (hard, sizeof hard, "%.2f%%", 100 * mh);
  g_autofree char *markup = g_markup_printf_escaped (
      "Done: student (%zu parameters, %.1fx fewer than the teacher) distilled <b>%.2f%%</b>, "
      "on hard labels <b>%s</b> (mean of %d seeds); teacher %.2f%%.", res->student_params,
      (double) res->teacher_params / MAX (res->student_params, 1), 100 * md,
      hard, res->n_seeds,
      100 * res->teacher_acc);
  gtk_label_set_markup (self->p.status, markup);
}

static void
distill_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  FwDistillPanel *self = user_data;
  if (job != self->p.job)
    return;
  switch (ev->kind)
    {
    case FW_EVENT_SNAPSHOT:
      if (g_strcmp0 (ev->payload_type, "distill") == 0)
        distill_show_result (self, ev->payload);
      break;
    case FW_EVENT_STARTED:
      gtk_label_set_text (self->p.status, "Distilling: the teacher labels the training set, "
                                        "then the students train…");
      break;
    default:
      panel_job_ended (&self->p, ev, "Distillation");
      break;
    }
}

gboolean
fw_distill_panel_run (FwDistillPanel *self)
{
  if (self->p.job != NULL)
    return FALSE;
  FwRecipe *r = fw_recipe_new_default ();
  r->val_fraction = 0;
  r->train.opt = FW_OPT_ADAM;
  r->train.lr = 1e-3;
  r->train.batch = 64;
  r->train.epochs = gtk_spin_button_get_value_as_int (self->epochs);
  guint a = gtk_drop_down_get_selected (self->arch);
  g_free (r->arch);
  r->arch = g_strdup (student_archs[MIN (a, G_N_ELEMENTS (student_archs) - 2)]);
  g_free (r->widths);
  r->widths = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->widths)));
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  fw_recipe_ext_set (r, "distill", "temperature",
                     g_ascii_dtostr (buf, sizeof buf,
                                     gtk_spin_button_get_value (self->temperature)));
  fw_recipe_ext_set (r, "distill", "alpha",
                     g_ascii_dtostr (buf, sizeof buf, gtk_spin_button_get_value (self->alpha)));
  g_autofree char *seeds = g_strdup_printf ("%d", gtk_spin_button_get_value_as_int (self->seeds));
  fw_recipe_ext_set (r, "distill", "seeds", seeds);
  self->p.job = panel_submit (GTK_WIDGET (self), self->p.page, "distill", "teacher", r,
                            "Distilling", distill_event, &self->p.source_name);
  if (self->p.job == NULL)
    return FALSE;
  panel_set_running (&self->p, TRUE);
  return TRUE;
}

GtkWidget *
fw_distill_panel_new (FwPageCompress *page)
{
  FwDistillPanel *self = g_object_new (FW_TYPE_DISTILL_PANEL, NULL);
  GtkGrid *g;
  GtkWidget *controls = controls_box (
      "Distillation",
      "The chosen shelf model is the teacher. A smaller student learns from its outputs "
      "softened at temperature T (the 'dark knowledge' in the wrong classes), mixed with the "
      "hard labels: alpha T² KL(teacher_T ‖ student_T) + (1 − alpha) CE.", &g);
  self->arch = GTK_DROP_DOWN (gtk_drop_down_new_from_strings (student_archs));
  grid_field (g, 0, "Student", GTK_WIDGET (self->arch), "The student's architecture");
  self->widths = GTK_ENTRY (gtk_entry_new ());
  gtk_editable_set_text (GTK_EDITABLE (self->widths), "32");
  gtk_editable_set_width_chars (GTK_EDITABLE (self->widths), 8);
  grid_field (g, 1, "mlp widths", GTK_WIDGET (self->widths), "Hidden widths of an mlp student");
  self->temperature = spin (1, 20, 0.5, 4, 1);
  grid_field (g, 2, "Temperature T", GTK_WIDGET (self->temperature),
              "Higher T: flatter teacher outputs, more weight on the wrong classes' ranking");
  self->alpha = spin (0, 1, 0.05, 0.9, 2);
  grid_field (g, 3, "alpha", GTK_WIDGET (self->alpha),
              "Weight of the teacher term (1 - alpha on the hard labels)");
  self->epochs = spin (1, 100, 1, 5, 0);
  grid_field (g, 4, "Epochs", GTK_WIDGET (self->epochs), "Training epochs of each student");
  self->seeds = spin (1, 10, 1, 1, 0);
  grid_field (g, 5, "Seeds", GTK_WIDGET (self->seeds),
              "Students per variant (distilled and hard-label, same seeds)");
  run_buttons (controls, "_Distill", "Train the student on the teacher's softened outputs and "
               "the same student on hard labels", &self->p.run_button, &self->p.cancel_button);

  self->soft_chart = fw_bar_chart_new ();
  fw_bar_chart_set_title (self->soft_chart, "Teacher's softened outputs for a test sample");
  fw_bar_chart_set_format (self->soft_chart, FW_VALUE_PERCENT);
  fw_bar_chart_set_range (self->soft_chart, 0, 1);
  fw_bar_chart_set_y_label (self->soft_chart, "probability", "%");
  fw_bar_chart_set_empty_text (self->soft_chart, "The teacher's soft targets appear here");
  self->seed_plot = fw_line_plot_new ();
  fw_line_plot_set_title (self->seed_plot, "Test accuracy per seed");
  fw_line_plot_set_x_label (self->seed_plot, "seed", NULL);
  fw_line_plot_set_y_label (self->seed_plot, "test accuracy", "%");
  fw_line_plot_set_empty_text (self->seed_plot, "Distilled vs hard-label students appear here");
  self->p.views[0] = plot_view (NULL, self->soft_chart, "distillation-soft-targets");
  self->p.views[1] = plot_view (self->seed_plot, NULL, "distillation-accuracy");
  panel_finish (&self->p, GTK_WIDGET (self), page, controls,
                "Pick a trained teacher on the shelf and press Distill.",
                G_CALLBACK (fw_distill_panel_run));
  return GTK_WIDGET (self);
}

static void
fw_distill_panel_dispose (GObject *object)
{
  panel_dispose (&FW_DISTILL_PANEL (object)->p);
  G_OBJECT_CLASS (fw_distill_panel_parent_class)->dispose (object);
}

static void
fw_distill_panel_finalize (GObject *object)
{
  FwDistillPanel *self = FW_DISTILL_PANEL (object);
  g_clear_pointer (&self->soft_chart, fw_bar_chart_unref);
  g_clear_pointer (&self->seed_plot, fw_line_plot_unref);
  g_free (self->p.source_name);
  G_OBJECT_CLASS (fw_distill_panel_parent_class)->finalize (object);
}

static void
fw_distill_panel_class_init (FwDistillPanelClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = fw_distill_panel_dispose;
  G_OBJECT_CLASS (klass)->finalize = fw_distill_panel_finalize;
  gtk_widget_class_set_layout_manager_type (GTK_WIDGET_CLASS (klass), GTK_TYPE_BIN_LAYOUT);
}

static void
fw_distill_panel_init (FwDistillPanel *self)
{
}
