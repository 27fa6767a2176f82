/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-compare.c: the Compare page. */
#include "fw-page-compare.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-page-data.h"
#include "fw-plot-view.h"
#include "fw-prune.h"
#include "fw-sparse.h"
#include "fw-util.h"
#include "fw-window-private.h"

#define N_SIDE 3

typedef struct {
  GtkWidget *box;
  GtkLabel *header;
  FwPlotView *conf_view;
  FwHeatmap *conf;
  FwMaskView *mask;
} SideColumn;

struct _FwPageCompare {
  GtkWidget parent_instance;

  /* template widgets */
  GtkWidget *root;
  GtkDropDown *baseline_dropdown;
  GtkStringList *baseline_names;
  GtkSpinButton *reps_spin;
  GtkCheckButton *timing_check;
  GtkWidget *measure_button;
  GtkWidget *cancel_button;
  GtkDropDown *side_a, *side_b, *side_c;
  GtkStringList *side_names;
  GtkWidget *export_button;
  GtkLabel *summary_label;
  GtkStack *viz_stack;
  GtkGrid *table_grid;
  GtkBox *table_box;
  GtkBox *pareto_box;
  GtkBox *side_box;

  /* plots (owned) and their views (children) */
  FwLinePlot *bytes_plot, *latency_plot;
  FwPlotView *bytes_view, *latency_view;
  FwHeatmap *deltas;           /* models x classes, percentage points vs the baseline */
  FwPlotView *deltas_view;
  SideColumn side[N_SIDE];

  /* owned */
  FwModelShelf *shelf;
  FwDataset *test_override;
  FwCompareTable *table;     /* measured rows, or NULL */
  GPtrArray *measured;       /* FwShelfItem refs, one per table row */
  GPtrArray *cells;          /* GtkLabel of the table grid, row-major (borrowed) */
  guint n_cols;
  FwJob *job;
  guint n_expected;          /* models in the running job */
  char *skipped;             /* shelf models left out (another dataset), or NULL */
  gboolean updating_names;
};

G_DEFINE_FINAL_TYPE (FwPageCompare, fw_page_compare, GTK_TYPE_WIDGET)

FwCompareTable *fw_page_compare_get_table (FwPageCompare *self) { return self->table; }
FwLinePlot *fw_page_compare_get_bytes_plot (FwPageCompare *self) { return self->bytes_plot; }
FwLinePlot *fw_page_compare_get_latency_plot (FwPageCompare *self) { return self->latency_plot; }
gboolean fw_page_compare_is_running (FwPageCompare *self) { return self->job != NULL; }

FwMaskView *
fw_page_compare_get_side_mask (FwPageCompare *self, guint column)
{
  return column < N_SIDE ? self->side[column].mask : NULL;
}

FwHeatmap *
fw_page_compare_get_deltas (FwPageCompare *self)
{
  return self->deltas;
}

FwHeatmap *
fw_page_compare_get_side_confusion (FwPageCompare *self, guint column)
{
  return column < N_SIDE ? self->side[column].conf : NULL;
}

const char *
fw_page_compare_get_cell (FwPageCompare *self, guint row, guint column)
{
  guint i = (row + 1) * self->n_cols + column;   /* row 0 of the grid holds the titles */
  if (self->cells == NULL || column >= self->n_cols || i >= self->cells->len)
    return NULL;
  return gtk_label_get_text (g_ptr_array_index (self->cells, i));
}

void
fw_page_compare_set_timing (FwPageCompare *self, gboolean timing, int reps)
{
  gtk_check_button_set_active (self->timing_check, timing);
  gtk_spin_button_set_value (self->reps_spin, reps);
}

void
fw_page_compare_set_test_set (FwPageCompare *self, FwDataset *test)
{
  g_clear_pointer (&self->test_override, fw_dataset_unref);
  if (test != NULL)
    self->test_override = fw_dataset_ref (test);
}

void
fw_page_compare_set_font_scale (FwPageCompare *self, double scale)
{
  fw_plot_view_set_font_scale (self->bytes_view, scale);
  fw_plot_view_set_font_scale (self->latency_view, scale);
  for (int k = 0; k < N_SIDE; k++)
    {
      fw_plot_view_set_font_scale (self->side[k].conf_view, scale);
      fw_mask_view_set_font_scale (self->side[k].mask, scale);
    }
}

/* ---- the table ---- */

/* The row of the table measured from @item, or -1. */
static int
row_of_item (FwPageCompare *self, FwShelfItem *item)
{
  /* rows arrive one by one while the job runs: only measured rows count */
  guint n = self->table != NULL ? self->table->rows->len : 0;
  for (guint i = 0; self->measured != NULL && i < MIN (n, self->measured->len); i++)
    if (g_ptr_array_index (self->measured, i) == item)
      return (int) i;
  return -1;
}

static int
baseline_row (FwPageCompare *self)
{
  guint pos = gtk_drop_down_get_selected (self->baseline_dropdown);
  if (self->shelf == NULL || pos >= g_list_model_get_n_items (G_LIST_MODEL (self->shelf)))
    return 0;
  int r = row_of_item (self, fw_model_shelf_get_item (self->shelf, pos));
  return r >= 0 ? r : 0;
}

static void
clear_grid (FwPageCompare *self)
{
  GtkWidget *c;
  while ((c = gtk_widget_get_first_child (GTK_WIDGET (self->table_grid))) != NULL)
    gtk_grid_remove (self->table_grid, c);
  g_ptr_array_set_size (self->cells, 0);
}

static GtkWidget *
cell_label (const char *text, gboolean numeric)
{
  GtkWidget *l = gtk_label_new (text);
  gtk_label_set_xalign (GTK_LABEL (l), numeric ? 1.0 : 0.0);
  if (numeric)
    gtk_widget_add_css_class (l, "numeric");
  return l;
}

/* Rows on the accuracy-vs-bytes frontier. */
static gboolean *
bytes_front (const FwCompareTable *t)
{
  guint n = t->rows->len;
  g_autofree double *cost = g_new (double, MAX (n, 1)), *acc = g_new (double, MAX (n, 1));
  gboolean *front = g_new0 (gboolean, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    {
      cost[i] = (double) fw_compare_table_row (t, i)->file_bytes;
      acc[i] = fw_compare_table_row (t, i)->accuracy;
    }
  fw_pareto_front (cost, acc, (int) n, front);
  return front;
}

static void
rebuild_table (FwPageCompare *self)
{
  clear_grid (self);
  /* the engine's columns, fitted beside the shelf: the kind, the worst class and the stored
   * parameter count go into tooltips (and every export) */
  static const char *const titles[] = { "", "model", "accuracy", "Δ acc", "non-zero",
                                        "on disk", "FLOPs", "latency", "images/s" };
  guint n_engine;
  fw_compare_column_titles (&n_engine);
  g_return_if_fail (n_engine == 11);
  self->n_cols = G_N_ELEMENTS (titles);
  for (guint c = 0; c < self->n_cols; c++)
    {
      GtkWidget *h = cell_label (titles[c], c >= 2);
      gtk_widget_add_css_class (h, "heading");
      gtk_grid_attach (self->table_grid, h, c, 0, 1, 1);
      g_ptr_array_add (self->cells, h);
    }
  if (self->table == NULL || self->table->rows->len == 0)
    {
      GtkWidget *empty = gtk_label_new (self->shelf != NULL
                                        && g_list_model_get_n_items (G_LIST_MODEL (self->shelf))
                                             > 0
                                          ? "Press Measure all (Ctrl+M) to fill the board."
                                          : "No model yet — train one on the Train page "
                                            "(Ctrl+Return), compress it on the Compress page.");
      gtk_widget_add_css_class (empty, "dim-label");
      gtk_label_set_xalign (GTK_LABEL (empty), 0);
      gtk_grid_attach (self->table_grid, empty, 0, 1, self->n_cols, 1);
      return;
    }
  g_autofree gboolean *front = bytes_front (self->table);
  for (guint i = 0; i < self->table->rows->len; i++)
    {
      const FwCompareRow *r = fw_compare_table_row (self->table, i);
      g_auto (GStrv) e = fw_compare_row_cells (self->table, i);
      g_autofree char *model_tip = g_strdup_printf ("%s\n%s%s%s", e[0], e[1],
                                                    r->path != NULL ? "\n" : "",
                                                    r->path != NULL ? r->path : "");
      g_autofree char *delta_tip = *e[4] != '\0'
                                     ? g_strdup_printf ("worst class: %s points", e[4]) : NULL;
      g_autofree char *nz_tip = g_strdup_printf ("%s of %s stored values are non-zero", e[6],
                                                 e[5]);
      const char *shown[] = { front[i] ? "★" : "", r->name, e[2],
                              (int) i == self->table->baseline ? "baseline" : e[3], e[6], e[7],
                              e[8], e[9], e[10] };
      const char *tips[] = { front[i] ? "On the Pareto frontier of accuracy vs bytes on disk: "
                                        "no other model is both smaller and more accurate"
                                      : NULL,
                             model_tip, NULL, delta_tip, nz_tip, NULL, NULL,
                             "median of repeated batch-1 forward passes",
                             "images per second at batch 256 (median)" };
      for (guint c = 0; c < self->n_cols; c++)
        {
          GtkWidget *l = cell_label (shown[c], c >= 2);
          if ((int) i == self->table->baseline && c > 0)
            gtk_widget_add_css_class (l, "heading");
          if (c == 1)
            {
              gtk_label_set_ellipsize (GTK_LABEL (l), PANGO_ELLIPSIZE_END);
              gtk_label_set_max_width_chars (GTK_LABEL (l), 22);
            }
          gtk_widget_set_tooltip_text (l, tips[c]);
          gtk_grid_attach (self->table_grid, l, c, i + 1, 1, 1);
          g_ptr_array_add (self->cells, l);
        }
    }
}

/* ---- Pareto plots ---- */

/* One series per variant (mean ± std over its seeds), the frontier as a staircase. */
static void
fill_pareto (FwPageCompare *self, FwLinePlot *p, gboolean latency)
{
  fw_line_plot_clear (p);
  if (self->table == NULL)
    return;
  const FwCompareTable *t = self->table;
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GArray) cx = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) cy = g_array_new (FALSE, FALSE, sizeof (double));
  int color = 0;
  for (guint i = 0; i < t->rows->len; i++)
    {
      const FwCompareRow *r = fw_compare_table_row (t, i);
      if (!g_hash_table_add (seen, r->variant))
        continue;
      double bytes = 0;
      int m = 0;
      for (guint j = 0; j < t->rows->len; j++)
        if (g_strcmp0 (fw_compare_table_row (t, j)->variant, r->variant) == 0)
          bytes += (double) fw_compare_table_row (t, j)->file_bytes, m++;
      double x = latency ? 1000.0 * r->latency_mean : bytes / m / 1024.0;
      double y = 100.0 * r->acc_mean, sd = 100.0 * r->acc_std;
      g_autofree char *name = r->n_seeds > 1 ? g_strdup_printf ("%s (%d seeds)", r->variant,
                                                                 r->n_seeds)
                                             : g_strdup (r->variant);
      guint s = fw_line_plot_add_series (p, name, color++ % FW_PALETTE_SIZE);
      fw_line_plot_series_set_points_only (p, s, TRUE);
      if (r->n_seeds > 1)
        fw_line_plot_append_band (p, s, x, y, y - sd, y + sd);
      else
        fw_line_plot_append (p, s, x, y);
      g_array_append_val (cx, x);
      g_array_append_val (cy, y);
    }
  /* the frontier over the variants: maximise accuracy, minimise cost */
  guint n = cx->len;
  g_autofree gboolean *front = g_new0 (gboolean, MAX (n, 1));
  fw_pareto_front ((double *) cx->data, (double *) cy->data, (int) n, front);
  g_autoptr (GArray) order = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < n; i++)
    if (front[i])
      g_array_append_val (order, i);
  for (guint a = 1; a < order->len; a++)    /* by cost */
    for (guint b = a; b > 0; b--)
      {
        guint *o = (guint *) order->data;
        if (g_array_index (cx, double, o[b]) >= g_array_index (cx, double, o[b - 1]))
          break;
        guint tmp = o[b];
        o[b] = o[b - 1];
        o[b - 1] = tmp;
      }
  if (order->len >= 2)
    {
      guint s = fw_line_plot_add_series (p, "Pareto frontier", 0);
      fw_line_plot_series_set_color (p, s, fw_theme_color (FW_THEME_TEXT_MUTED, FALSE));
      fw_line_plot_series_set_dashed (p, s, TRUE);
      for (guint k = 0; k < order->len; k++)
        {
          guint i = g_array_index (order, guint, k);
          double x = g_array_index (cx, double, i), y = g_array_index (cy, double, i);
          if (k > 0)   /* staircase: the better accuracy is reached only at the higher cost */
            fw_line_plot_append (p, s, x,
                                 g_array_index (cy, double, g_array_index (order, guint, k - 1)));
          fw_line_plot_append (p, s, x, y);
        }
    }
}

/* Per-class accuracy change vs the baseline: one row per model, one column per class. */
static void
rebuild_deltas (FwPageCompare *self)
{
  g_clear_pointer (&self->deltas, fw_heatmap_unref);
  if (self->table != NULL && self->table->rows->len > 0)
    {
      const FwCompareTable *t = self->table;
      guint n = t->rows->len;
      self->deltas = fw_heatmap_new (n, t->n_classes);
      g_autofree const char **names = g_new0 (const char *, n + 1);
      for (guint i = 0; i < n; i++)
        {
          const FwCompareRow *r = fw_compare_table_row (t, i);
          names[i] = r->name;
          for (int c = 0; c < t->n_classes; c++)
            fw_heatmap_set_value (self->deltas, i, c, 100.0 * r->delta[c]);
        }
      fw_heatmap_set_row_labels (self->deltas, names);
      fw_heatmap_set_col_labels (self->deltas, (const char *const *) t->class_names);
      fw_heatmap_set_colormap (self->deltas, FW_COLORMAP_DIVERGING);
      fw_heatmap_set_show_values (self->deltas, TRUE, "%+.0f");
      g_autofree char *title = g_strdup_printf ("Per-class accuracy change vs %s",
                                                fw_compare_table_row (t, t->baseline)->name);
      fw_heatmap_set_title (self->deltas, title);
      fw_heatmap_set_colorbar_label (self->deltas, "percentage points");
      fw_heatmap_set_axis_titles (self->deltas, NULL, "true class");
    }
  fw_plot_view_set_heatmap (self->deltas_view, self->deltas);
}

static void
rebuild_plots (FwPageCompare *self)
{
  rebuild_deltas (self);
  fill_pareto (self, self->bytes_plot, FALSE);
  fill_pareto (self, self->latency_plot, TRUE);
  fw_plot_view_queue_update (self->bytes_view);
  fw_plot_view_queue_update (self->latency_view);
}

/* ---- side by side ---- */

/* A dense copy of a model whose "sparse" (CSR) layers become dense layers holding zeros where
 * nothing is stored: only for the mask view (the board measures the model as stored). NULL
 * when the model has no sparse layer. */
static FwModel *
dense_view (const FwModel *m)
{
  gboolean any = FALSE;
  g_autoptr (GString) spec = g_string_new (NULL);
  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = m->layers[i];
      g_autofree char *tok = g_strcmp0 (l->klass->name, "sparse") == 0
                               ? g_strdup_printf ("dense:%d", l->out.c) : l->klass->spec (l);
      any = any || g_strcmp0 (l->klass->name, "sparse") == 0;
      g_string_append_printf (spec, "%s%s", i > 0 ? "," : "", tok);
    }
  if (!any)
    return NULL;
  FwModel *d = fw_model_new (m->arch, spec->str, m->input, NULL);
  if (d == NULL || d->n_layers != m->n_layers)
    {
      g_clear_pointer (&d, fw_model_unref);
      return NULL;
    }
  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = m->layers[i];
      FwLayer *dl = d->layers[i];
      if (g_strcmp0 (l->klass->name, "sparse") == 0)
        {
          int out = l->out.c, in = (int) fw_shape_size (l->in);
          g_autofree gint32 *row_ptr = g_new (gint32, out + 1);
          gsize nnz = l->n_w - (gsize) out;
          g_autofree gint32 *cols = g_new (gint32, MAX (nnz, 1));
          fw_sparse_layer_get (l, row_ptr, cols);
          memset (dl->w, 0, sizeof (float) * dl->n_w);
          for (int r = 0; r < out; r++)
            {
              for (gint32 k = row_ptr[r]; k < row_ptr[r + 1]; k++)
                dl->w[(gsize) r * in + cols[k]] = l->w[k];
              dl->w[(gsize) out * in + r] = l->w[nnz + r];
            }
        }
      else
        {
          if (dl->n_w == l->n_w && l->n_w > 0)
            memcpy (dl->w, l->w, sizeof (float) * l->n_w);
          if (dl->n_st == l->n_st && l->n_st > 0)
            memcpy (dl->st, l->st, sizeof (float) * l->n_st);
        }
    }
  return d;
}

static void
fill_side (FwPageCompare *self, int k, int shelf_pos)
{
  SideColumn *col = &self->side[k];
  FwShelfItem *item = shelf_pos >= 0 && self->shelf != NULL
                        && (guint) shelf_pos < g_list_model_get_n_items (G_LIST_MODEL (self->shelf))
                        ? fw_model_shelf_get_item (self->shelf, shelf_pos) : NULL;
  gtk_widget_set_visible (col->box, item != NULL);
  if (item == NULL)
    return;
  int row = row_of_item (self, item);
  const FwCompareRow *r = row >= 0 ? fw_compare_table_row (self->table, row) : NULL;
  g_autofree char *markup = NULL;
  if (r != NULL)
    {
      g_auto (GStrv) cells = fw_compare_row_cells (self->table, row);
      markup = g_markup_printf_escaped ("<b>%s</b> · %s\naccuracy <b>%s</b> %s · %s on disk\n"
                                        "%s params (%s non-zero) · %s FLOPs · %s",
                                        fw_shelf_item_get_name (item),
                                        fw_shelf_item_get_method (item), cells[2],
                                        row == self->table->baseline ? "(baseline)" : cells[3],
                                        cells[7], cells[5], cells[6], cells[8], cells[9]);
    }
  else
    markup = g_markup_printf_escaped ("<b>%s</b> · %s\nnot measured yet: Measure all",
                                      fw_shelf_item_get_name (item),
                                      fw_shelf_item_get_method (item));
  gtk_label_set_markup (col->header, markup);

  /* confusion matrix, rows normalised to per-class accuracy */
  g_clear_pointer (&col->conf, fw_heatmap_unref);
  if (r != NULL)
    {
      int kc = r->n_classes;
      col->conf = fw_heatmap_new (kc, kc);
      for (int a = 0; a < kc; a++)
        {
          gint64 sum = 0;
          for (int b = 0; b < kc; b++)
            sum += r->confusion[a * kc + b];
          for (int b = 0; b < kc; b++)
            fw_heatmap_set_value (col->conf, a, b,
                                  sum > 0 ? 100.0 * r->confusion[a * kc + b] / sum : 0);
        }
      fw_heatmap_set_row_labels (col->conf, (const char *const *) self->table->class_names);
      fw_heatmap_set_col_labels (col->conf, (const char *const *) self->table->class_names);
      fw_heatmap_set_class_colored_labels (col->conf, TRUE);
      fw_heatmap_set_axis_titles (col->conf, "true class", "predicted class");
      fw_heatmap_set_range (col->conf, 0, 100);
      fw_heatmap_set_show_colorbar (col->conf, FALSE);
      fw_heatmap_set_show_values (col->conf, TRUE, "%.0f");
      fw_heatmap_set_title (col->conf, "Confusion (% of each true class)");
    }
  fw_plot_view_set_heatmap (col->conf_view, col->conf);

  /* masks: the prunable layers' weights, exact zeros (and entries a CSR layer does not store)
   * shown as pruned */
  FwModel *model = fw_shelf_item_get_model (item);
  g_autoptr (FwModel) dense = dense_view (model);
  g_autoptr (FwPruneSnapshot) snap = fw_prune_snapshot_new (dense != NULL ? dense : model, NULL);
  fw_mask_view_set_snapshot (col->mask, snap->n_layers > 0 ? snap : NULL);
}

void
fw_page_compare_set_side (FwPageCompare *self, int a, int b, int c)
{
  GtkDropDown *d[N_SIDE] = { self->side_a, self->side_b, self->side_c };
  int pos[N_SIDE] = { a, b, c };
  for (int k = 0; k < N_SIDE; k++)
    gtk_drop_down_set_selected (d[k], pos[k] >= 0 ? (guint) pos[k] + 1 : 0);
}

static void
rebuild_side (FwPageCompare *self)
{
  GtkDropDown *d[N_SIDE] = { self->side_a, self->side_b, self->side_c };
  for (int k = 0; k < N_SIDE; k++)
    {
      guint sel = gtk_drop_down_get_selected (d[k]);
      fill_side (self, k, sel == GTK_INVALID_LIST_POSITION || sel == 0 ? -1 : (int) sel - 1);
    }
}

static void
rebuild_all (FwPageCompare *self)
{
  if (self->table != NULL)
    fw_compare_table_finish (self->table, baseline_row (self));
  rebuild_table (self);
  rebuild_plots (self);
  rebuild_side (self);
}

void
fw_page_compare_set_baseline (FwPageCompare *self, guint index)
{
  /* index into the measured rows -> that row's shelf position */
  if (self->measured != NULL && index < self->measured->len && self->shelf != NULL)
    {
      FwShelfItem *item = g_ptr_array_index (self->measured, index);
      for (guint p = 0; p < g_list_model_get_n_items (G_LIST_MODEL (self->shelf)); p++)
        if (fw_model_shelf_get_item (self->shelf, p) == item)
          gtk_drop_down_set_selected (self->baseline_dropdown, p);
    }
  rebuild_all (self);
}

/* ---- the shelf's names in the drop-downs ---- */

static void
shelf_changed (FwPageCompare *self)
{
  guint n = self->shelf != NULL ? g_list_model_get_n_items (G_LIST_MODEL (self->shelf)) : 0;
  guint base = gtk_drop_down_get_selected (self->baseline_dropdown);
  GtkDropDown *d[N_SIDE] = { self->side_a, self->side_b, self->side_c };
  guint sel[N_SIDE];
  for (int k = 0; k < N_SIDE; k++)
    sel[k] = gtk_drop_down_get_selected (d[k]);

  self->updating_names = TRUE;
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (names, (gpointer) fw_shelf_item_get_name (
                                fw_model_shelf_get_item (self->shelf, i)));
  g_ptr_array_add (names, NULL);
  guint old = g_list_model_get_n_items (G_LIST_MODEL (self->baseline_names));
  gtk_string_list_splice (self->baseline_names, 0, old, (const char *const *) names->pdata);
  g_ptr_array_insert (names, 0, (gpointer) "(none)");
  old = g_list_model_get_n_items (G_LIST_MODEL (self->side_names));
  gtk_string_list_splice (self->side_names, 0, old, (const char *const *) names->pdata);
  gtk_drop_down_set_selected (self->baseline_dropdown, base < n ? base : 0);
  /* keep the choices; new shelves show the first two or three models */
  for (int k = 0; k < N_SIDE; k++)
    {
      guint want = sel[k] != GTK_INVALID_LIST_POSITION && sel[k] > 0 && sel[k] <= n
                     ? sel[k] : (guint) k < MIN (n, 2) ? (guint) k + 1 : 0;
      gtk_drop_down_set_selected (d[k], want);
    }
  self->updating_names = FALSE;
  rebuild_all (self);
}

void
fw_page_compare_set_shelf (FwPageCompare *self, FwModelShelf *shelf)
{
  if (self->shelf == shelf)
    return;
  if (self->shelf != NULL)
    g_signal_handlers_disconnect_by_data (self->shelf, self);
  g_set_object (&self->shelf, shelf);
  if (shelf != NULL)
    g_signal_connect_swapped (shelf, "items-changed", G_CALLBACK (shelf_changed), self);
  shelf_changed (self);
}

static void
choice_changed (FwPageCompare *self)
{
  if (!self->updating_names)
    rebuild_all (self);
}

/* ---- measuring ---- */

typedef struct {
  GArray *models;       /* FwCompareInput, models are copies: the job's own */
  char *spec;
  FwDataset *test;      /* or NULL: the spec's test split */
  FwCompareOptions opt;
} MeasureJob;

static void
measure_job_free (gpointer p)
{
  MeasureJob *mj = p;
  g_array_unref (mj->models);   /* clear func: fw_compare_input_clear */
  g_free (mj->spec);
  g_clear_pointer (&mj->test, fw_dataset_unref);
  g_free (mj);
}

static gboolean
measure_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  MeasureJob *mj = data;
  g_autoptr (FwDataset) test = mj->test != NULL
                                 ? fw_dataset_ref (mj->test)
                                 : fw_compare_load_test (mj->spec, job, cancellable, error);
  if (test == NULL)
    return FALSE;
  g_autoptr (FwCompareTable) t = fw_compare_run_job (job, (FwCompareInput *) mj->models->data,
                                                     (int) mj->models->len, test, &mj->opt,
                                                     cancellable, error);
  return t != NULL;
}

static void
set_running (FwPageCompare *self, gboolean running)
{
  gtk_widget_set_sensitive (self->measure_button, !running);
  gtk_widget_set_sensitive (self->cancel_button, running);
}

static void
measure_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  FwPageCompare *self = user_data;
  if (job != self->job)
    return;
  switch (ev->kind)
    {
    case FW_EVENT_SNAPSHOT:
      if (g_strcmp0 (ev->payload_type, "compare-start") == 0)
        {
          const FwCompareTable *t = ev->payload;
          g_clear_pointer (&self->table, fw_compare_table_free);
          self->table = fw_compare_table_new ((const char *const *) t->class_names,
                                              t->n_classes);
          self->table->data_name = g_strdup (t->data_name);
          self->table->n_test = t->n_test;
        }
      else if (g_strcmp0 (ev->payload_type, "compare-times") == 0 && self->table != NULL)
        {
          /* latency[n], throughput[n], the models timed side by side */
          const double *times = ev->payload;
          guint n = self->table->rows->len;
          for (guint i = 0; i < n; i++)
            {
              fw_compare_table_row (self->table, i)->latency_s = times[i];
              fw_compare_table_row (self->table, i)->throughput = times[n + i];
            }
          rebuild_all (self);
        }
      else if (g_strcmp0 (ev->payload_type, "compare-row") == 0 && self->table != NULL)
        {
          fw_compare_table_add_row (self->table, ev->payload);
          rebuild_all (self);
          g_autofree char *markup = g_markup_printf_escaped (
              "Evaluated <b>%u</b> of %u models on %s (%d test images)…",
              self->table->rows->len, self->n_expected, self->table->data_name,
              self->table->n_test);
          gtk_label_set_markup (self->summary_label, markup);
        }
      break;
    case FW_EVENT_FINISHED:
    case FW_EVENT_FAILED:
    case FW_EVENT_CANCELLED:
      g_clear_pointer (&self->job, fw_job_unref);
      set_running (self, FALSE);
      if (ev->kind == FW_EVENT_FINISHED && self->table != NULL)
        {
          g_autofree char *markup = g_markup_printf_escaped (
              "<b>%u</b> models measured on %s (%d test images). ★ = on the Pareto frontier "
              "of accuracy vs bytes on disk. Latency: median of repeated batch-1 runs on this "
              "machine, the models timed side by side.%s%s%s", self->table->rows->len,
              self->table->data_name, self->table->n_test,
              self->skipped != NULL ? " Left out (made for other data): " : "",
              self->skipped != NULL ? self->skipped : "", self->skipped != NULL ? "." : "");
          gtk_label_set_markup (self->summary_label, markup);
        }
      else if (ev->kind == FW_EVENT_CANCELLED)
        gtk_label_set_text (self->summary_label, "Cancelled: the rows measured so far are "
                                                 "shown.");
      break;
    default:
      break;
    }
}

gboolean
fw_page_compare_measure (FwPageCompare *self)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win == NULL || self->job != NULL)
    return FALSE;
  guint n = self->shelf != NULL ? g_list_model_get_n_items (G_LIST_MODEL (self->shelf)) : 0;
  if (n == 0)
    {
      fw_window_show_error (win, "Nothing to compare yet: train a model on the Train page "
                                 "(Ctrl+Return), compress it on the Compress page.");
      return FALSE;
    }
  const char *spec = fw_page_data_get_spec (fw_window_get_page_data (win));
  FwDataset *ds = self->test_override != NULL ? self->test_override
                                              : fw_page_data_get_dataset (fw_window_get_page_data (win));
  if (ds == NULL || (self->test_override == NULL && spec == NULL))
    {
      fw_window_show_error (win, "No dataset yet: choose one on the Data page.");
      return FALSE;
    }
  /* the models made for this dataset's images and classes; the others are left out (said) */
  g_autoptr (GPtrArray) fit = g_ptr_array_new ();
  g_autoptr (GString) skipped = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    {
      FwShelfItem *item = fw_model_shelf_get_item (self->shelf, i);
      FwModel *m = fw_shelf_item_get_model (item);
      if (m->input.c == ds->shape.c && m->input.h == ds->shape.h && m->input.w == ds->shape.w
          && m->n_classes == ds->n_classes)
        g_ptr_array_add (fit, item);
      else
        g_string_append_printf (skipped, "%s%s", skipped->len > 0 ? ", " : "",
                                fw_shelf_item_get_name (item));
    }
  if (fit->len == 0)
    {
      g_autofree char *msg = g_strdup_printf (
          "No shelf model fits %s (%dx%dx%d images, %d classes): choose the dataset the models "
          "were trained on, on the Data page.", ds->name, ds->shape.c, ds->shape.h, ds->shape.w,
          ds->n_classes);
      fw_window_show_error (win, msg);
      return FALSE;
    }
  n = fit->len;
  g_free (self->skipped);
  self->skipped = skipped->len > 0 ? g_strdup (skipped->str) : NULL;
  MeasureJob *mj = g_new0 (MeasureJob, 1);
  mj->models = g_array_new (FALSE, TRUE, sizeof (FwCompareInput));
  g_array_set_clear_func (mj->models, (GDestroyNotify) fw_compare_input_clear);
  mj->spec = g_strdup (spec);
  mj->test = self->test_override != NULL ? fw_dataset_ref (self->test_override) : NULL;
  fw_compare_options_init (&mj->opt);
  mj->opt.measure_time = gtk_check_button_get_active (self->timing_check);
  mj->opt.reps = gtk_spin_button_get_value_as_int (self->reps_spin);
  if (self->measured == NULL)
    self->measured = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_set_size (self->measured, 0);
  for (guint i = 0; i < n; i++)
    {
      FwShelfItem *item = g_ptr_array_index (fit, i);
      FwCompareInput m = {
        g_strdup (fw_shelf_item_get_name (item)), g_strdup (fw_shelf_item_get_method (item)),
        g_strdup (fw_shelf_item_get_file (item)), fw_model_copy (fw_shelf_item_get_model (item)),
      };
      g_array_append_val (mj->models, m);
      g_ptr_array_add (self->measured, g_object_ref (item));
    }
  self->n_expected = n;
  g_clear_pointer (&self->table, fw_compare_table_free);
  rebuild_all (self);
  gtk_label_set_text (self->summary_label, "Measuring…");
  fw_window_clear_error (win);
  self->job = fw_window_submit_job (win, "Comparing models", measure_job_run, mj,
                                    measure_job_free, measure_event, self);
  set_running (self, TRUE);
  return TRUE;
}

void
fw_page_compare_cancel (FwPageCompare *self)
{
  if (self->job != NULL)
    fw_job_cancel (self->job);
}

/* ---- export ---- */

gboolean
fw_page_compare_export_table (FwPageCompare *self, const char *path, GError **error)
{
  if (self->table == NULL || self->table->rows->len == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "Nothing to export yet: press Measure all first");
      return FALSE;
    }
  return fw_compare_table_write (self->table, path, error);
}

static void
export_response (GtkNativeDialog *dialog, int response, FwPageCompare *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      g_autoptr (GError) error = NULL;
      FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
      if (path != NULL && !fw_page_compare_export_table (self, path, &error) && win != NULL)
        fw_window_show_error (win, error->message);
      else if (path != NULL && win != NULL)
        {
          g_autofree char *msg = g_strdup_printf ("Table written to %s", path);
          fw_window_show_toast (win, msg);
        }
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
export_clicked (FwPageCompare *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkFileChooserNative *dialog = gtk_file_chooser_native_new (
      "Export the compare table (.csv, .md, .tex)",
      GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, GTK_FILE_CHOOSER_ACTION_SAVE, "_Export",
      "_Cancel");
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), "compare.csv");
  g_signal_connect (dialog, "response", G_CALLBACK (export_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

/* ---- life cycle ---- */

static void
page_map (GtkWidget *widget)
{
  FwPageCompare *self = FW_PAGE_COMPARE (widget);
  FwWindow *win = fw_window_for_widget (widget);
  if (self->shelf == NULL && win != NULL && fw_window_get_shelf (win) != NULL)
    fw_page_compare_set_shelf (self, fw_window_get_shelf (win));
  GTK_WIDGET_CLASS (fw_page_compare_parent_class)->map (widget);
}

static void
measure_action (GtkWidget *widget, const char *name, GVariant *param)
{
  fw_page_compare_measure (FW_PAGE_COMPARE (widget));
}

static void
fw_page_compare_dispose (GObject *object)
{
  FwPageCompare *self = FW_PAGE_COMPARE (object);
  if (self->job != NULL)
    fw_job_cancel (self->job);
  g_clear_pointer (&self->job, fw_job_unref);
  if (self->shelf != NULL)
    g_signal_handlers_disconnect_by_data (self->shelf, self);
  g_clear_object (&self->shelf);
  gtk_widget_dispose_template (GTK_WIDGET (self), FW_TYPE_PAGE_COMPARE);
  G_OBJECT_CLASS (fw_page_compare_parent_class)->dispose (object);
}

static void
fw_page_compare_finalize (GObject *object)
{
  FwPageCompare *self = FW_PAGE_COMPARE (object);
  g_clear_pointer (&self->bytes_plot, fw_line_plot_unref);
  g_clear_pointer (&self->latency_plot, fw_line_plot_unref);
  g_clear_pointer (&self->deltas, fw_heatmap_unref);
  for (int k = 0; k < N_SIDE; k++)
    g_clear_pointer (&self->side[k].conf, fw_heatmap_unref);
  g_clear_pointer (&self->table, fw_compare_table_free);
  g_clear_pointer (&self->measured, g_ptr_array_unref);
  g_clear_pointer (&self->cells, g_ptr_array_unref);
  g_clear_pointer (&self->test_override, fw_dataset_unref);
  g_free (self->skipped);
  G_OBJECT_CLASS (fw_page_compare_parent_class)->finalize (object);
}

static void
fw_page_compare_class_init (FwPageCompareClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = fw_page_compare_dispose;
  object_class->finalize = fw_page_compare_finalize;
  widget_class->map = page_map;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/frugal/Workbench/ui/fw-page-compare.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, FwPageCompare, name)
  BIND (root);
  BIND (baseline_dropdown);
  BIND (baseline_names);
  BIND (reps_spin);
  BIND (timing_check);
  BIND (measure_button);
  BIND (cancel_button);
  BIND (side_a);
  BIND (side_b);
  BIND (side_c);
  BIND (side_names);
  BIND (export_button);
  BIND (summary_label);
  BIND (viz_stack);
  BIND (table_grid);
  BIND (table_box);
  BIND (pareto_box);
  BIND (side_box);
#undef BIND
  gtk_widget_class_install_action (widget_class, "compare.measure", NULL, measure_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_m, GDK_CONTROL_MASK,
                                       "compare.measure", NULL);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static FwPlotView *
new_view (const char *export_name)
{
  FwPlotView *v = FW_PLOT_VIEW (fw_plot_view_new ());
  gtk_widget_set_hexpand (GTK_WIDGET (v), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (v), TRUE);
  fw_plot_view_set_export_name (v, export_name);
  return v;
}

static FwLinePlot *
pareto_plot (const char *title, const char *x_label, const char *x_unit)
{
  FwLinePlot *p = fw_line_plot_new ();
  fw_line_plot_set_title (p, title);
  fw_line_plot_set_x_label (p, x_label, x_unit);
  fw_line_plot_set_y_label (p, "test accuracy", "%");
  fw_line_plot_set_log_x (p, TRUE);
  fw_line_plot_set_empty_text (p, "Measure the shelf models (Measure all) to see the frontier");
  return p;
}

static void
fw_page_compare_init (FwPageCompare *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cells = g_ptr_array_new ();

  self->bytes_plot = pareto_plot ("Accuracy vs size on disk", "bytes on disk",
                                  "KiB, log scale");
  self->latency_plot = pareto_plot ("Accuracy vs latency", "batch-1 latency", "ms, log scale");
  self->bytes_view = new_view ("pareto-accuracy-bytes");
  self->latency_view = new_view ("pareto-accuracy-latency");
  fw_plot_view_set_line_plot (self->bytes_view, self->bytes_plot);
  fw_plot_view_set_line_plot (self->latency_view, self->latency_plot);
  gtk_box_append (self->pareto_box, GTK_WIDGET (self->bytes_view));
  gtk_box_append (self->pareto_box, GTK_WIDGET (self->latency_view));
  self->deltas_view = new_view ("per-class-accuracy-change");
  gtk_box_append (self->table_box, GTK_WIDGET (self->deltas_view));

  for (int k = 0; k < N_SIDE; k++)
    {
      SideColumn *c = &self->side[k];
      c->box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
      c->header = GTK_LABEL (gtk_label_new (NULL));
      gtk_label_set_xalign (c->header, 0);
      gtk_label_set_wrap (c->header, TRUE);
      gtk_box_append (GTK_BOX (c->box), GTK_WIDGET (c->header));
      c->conf_view = new_view ("confusion-matrix");
      gtk_box_append (GTK_BOX (c->box), GTK_WIDGET (c->conf_view));
      c->mask = FW_MASK_VIEW (fw_mask_view_new ());
      fw_mask_view_set_empty_text (c->mask, "No dense or conv weights to show");
      gtk_box_append (GTK_BOX (c->box), GTK_WIDGET (c->mask));
      gtk_widget_set_visible (c->box, FALSE);
      gtk_box_append (self->side_box, c->box);
    }

  g_signal_connect_swapped (self->measure_button, "clicked",
                            G_CALLBACK (fw_page_compare_measure), self);
  g_signal_connect_swapped (self->cancel_button, "clicked", G_CALLBACK (fw_page_compare_cancel),
                            self);
  g_signal_connect_swapped (self->export_button, "clicked", G_CALLBACK (export_clicked), self);
  g_signal_connect_swapped (self->baseline_dropdown, "notify::selected",
                            G_CALLBACK (choice_changed), self);
  g_signal_connect_swapped (self->side_a, "notify::selected", G_CALLBACK (choice_changed), self);
  g_signal_connect_swapped (self->side_b, "notify::selected", G_CALLBACK (choice_changed), self);
  g_signal_connect_swapped (self->side_c, "notify::selected", G_CALLBACK (choice_changed), self);
  set_running (self, FALSE);
  rebuild_table (self);
}
