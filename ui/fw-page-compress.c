/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-compress.c: the Compress page: a shelf model, a method, the method's panel. */
#include "fw-page-compress.h"

#include <glib/gstdio.h>
#include <unistd.h>

#include "fw-prune-panel.h"
#include "fw-recipe-ext.h"
#include "fw-safetensors.h"
#include "fw-panel-quant.h"
#include "fw-panel-decompose.h"
#include "fw-util.h"
#include "fw-window.h"

struct _FwPageCompress {
  GtkWidget parent_instance;

  /* template widgets */
  GtkWidget *root;
  GtkDropDown *model_dropdown;
  GtkDropDown *method_dropdown;
  GtkStringList *method_titles;
  GtkLabel *model_label;
  GtkStack *method_stack;

  /* owned */
  FwModelShelf *shelf;
  GPtrArray *method_ids;   /* char *, in drop-down order */
  double font_scale;
};

enum { SIGNAL_ITEM_CHANGED, SIGNAL_FONT_SCALE_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (FwPageCompress, fw_page_compress, GTK_TYPE_WIDGET)

/* ---- methods ---- */

void
fw_page_compress_add_method (FwPageCompress *page, const char *id, const char *title,
                             GtkWidget *panel)
{
  g_return_if_fail (FW_IS_PAGE_COMPRESS (page));
  g_return_if_fail (id != NULL && title != NULL && GTK_IS_WIDGET (panel));
  g_return_if_fail (gtk_stack_get_child_by_name (page->method_stack, id) == NULL);
  gtk_stack_add_titled (page->method_stack, panel, id, title);
  g_ptr_array_add (page->method_ids, g_strdup (id));
  gtk_string_list_append (page->method_titles, title);
  if (page->method_ids->len == 1)
    fw_page_compress_set_method (page, id);
}

gboolean
fw_page_compress_set_method (FwPageCompress *page, const char *id)
{
  for (guint i = 0; i < page->method_ids->len; i++)
    if (g_strcmp0 (g_ptr_array_index (page->method_ids, i), id) == 0)
      {
        gtk_drop_down_set_selected (page->method_dropdown, i);
        gtk_stack_set_visible_child_name (page->method_stack, id);
        return TRUE;
      }
  return FALSE;
}

const char *
fw_page_compress_get_method (FwPageCompress *page)
{
  return gtk_stack_get_visible_child_name (page->method_stack);
}

GtkWidget *
fw_page_compress_get_panel (FwPageCompress *page, const char *id)
{
  return gtk_stack_get_child_by_name (page->method_stack, id);
}

static void
method_selected (FwPageCompress *self)
{
  guint i = gtk_drop_down_get_selected (self->method_dropdown);
  if (i < self->method_ids->len)
    gtk_stack_set_visible_child_name (self->method_stack,
                                      g_ptr_array_index (self->method_ids, i));
}

/* ---- the model ---- */

static char *
item_name (FwShelfItem *item)
{
  return g_strdup (item != NULL ? fw_shelf_item_get_name (item) : "");
}

FwShelfItem *
fw_page_compress_get_item (FwPageCompress *page)
{
  g_return_val_if_fail (FW_IS_PAGE_COMPRESS (page), NULL);
  return page->shelf != NULL ? gtk_drop_down_get_selected_item (page->model_dropdown) : NULL;
}

void
fw_page_compress_select (FwPageCompress *page, guint position)
{
  gtk_drop_down_set_selected (page->model_dropdown, position);
}

static void
update_model_label (FwPageCompress *self)
{
  FwShelfItem *item = fw_page_compress_get_item (self);
  if (item == NULL)
    {
      gtk_label_set_text (self->model_label,
                          "No model yet — train one on the Train page (Ctrl+Return).");
      return;
    }
  FwModel *m = fw_shelf_item_get_model (item);
  g_autofree char *pct = fw_format_percent (fw_shelf_item_get_accuracy (item));
  g_autofree char *params = fw_format_count ((double) fw_model_param_count (m));
  g_autofree char *bytes = fw_format_bytes (fw_shelf_item_get_bytes (item));
  g_autofree char *text = g_strdup_printf ("%s · %s · %s params · %s · test accuracy %s",
                                           fw_shelf_item_get_arch (item),
                                           fw_shelf_item_get_method (item), params, bytes, pct);
  gtk_label_set_text (self->model_label, text);
}

static void
model_selected (FwPageCompress *self)
{
  update_model_label (self);
  g_signal_emit (self, signals[SIGNAL_ITEM_CHANGED], 0);
}

void
fw_page_compress_set_shelf (FwPageCompress *page, FwModelShelf *shelf)
{
  g_return_if_fail (FW_IS_PAGE_COMPRESS (page));
  if (page->shelf == shelf)
    return;
  g_set_object (&page->shelf, shelf);
  gtk_drop_down_set_model (page->model_dropdown, G_LIST_MODEL (shelf));
  model_selected (page);
}

FwModelShelf *
fw_page_compress_get_shelf (FwPageCompress *page)
{
  return page->shelf;
}

static void
page_map (GtkWidget *widget)
{
  FwPageCompress *self = FW_PAGE_COMPRESS (widget);
  FwWindow *win = fw_window_for_widget (widget);
  if (self->shelf == NULL && win != NULL && fw_window_get_shelf (win) != NULL)
    fw_page_compress_set_shelf (self, fw_window_get_shelf (win));
  GTK_WIDGET_CLASS (fw_page_compress_parent_class)->map (widget);
}

FwShelfItem *
fw_page_compress_add_result (FwPageCompress *page, const char *name, const char *method,
                             FwModel *model, double accuracy, const char *file,
                             const char *run_dir)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (page));
  FwModelShelf *shelf = page->shelf != NULL ? page->shelf
                        : win != NULL ? fw_window_get_shelf (win) : NULL;
  g_return_val_if_fail (shelf != NULL && model != NULL, NULL);
  g_autoptr (FwShelfItem) item = fw_shelf_item_new (name, model, accuracy, NULL, run_dir);
  fw_shelf_item_set_method (item, method);
  if (file != NULL)
    fw_shelf_item_set_file (item, file);
  fw_model_shelf_add (shelf, item);
  if (win != NULL)
    {
      g_autofree char *pct = fw_format_percent (accuracy);
      g_autofree char *msg = g_strdup_printf ("%s (%s) is on the shelf and the compare board",
                                              name, pct);
      fw_window_show_toast (win, msg);
    }
  return item;
}

/* ---- layout helper ---- */

GtkWidget *
fw_compress_panel_new (GtkWidget *controls, GtkWidget *viz)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_widget_set_size_request (scrolled, 290, -1);
  gtk_widget_add_css_class (controls, "fw-controls");
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), controls);
  gtk_box_append (GTK_BOX (box), scrolled);
  gtk_box_append (GTK_BOX (box), gtk_separator_new (GTK_ORIENTATION_VERTICAL));
  gtk_widget_add_css_class (viz, "fw-viz");
  gtk_widget_set_hexpand (viz, TRUE);
  gtk_widget_set_vexpand (viz, TRUE);
  gtk_box_append (GTK_BOX (box), viz);
  return box;
}

void
fw_page_compress_set_font_scale (FwPageCompress *page, double scale)
{
  page->font_scale = scale;
  g_signal_emit (page, signals[SIGNAL_FONT_SCALE_CHANGED], 0, scale);
}

/* ---- life cycle ---- */

static void
fw_page_compress_dispose (GObject *object)
{
  FwPageCompress *self = FW_PAGE_COMPRESS (object);
  gtk_widget_dispose_template (GTK_WIDGET (self), FW_TYPE_PAGE_COMPRESS);
  g_clear_object (&self->shelf);
  G_OBJECT_CLASS (fw_page_compress_parent_class)->dispose (object);
}

static void
fw_page_compress_finalize (GObject *object)
{
  FwPageCompress *self = FW_PAGE_COMPRESS (object);
  g_ptr_array_unref (self->method_ids);
  G_OBJECT_CLASS (fw_page_compress_parent_class)->finalize (object);
}

static void
fw_page_compress_class_init (FwPageCompressClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = fw_page_compress_dispose;
  object_class->finalize = fw_page_compress_finalize;
  widget_class->map = page_map;
  /* "item-changed": the Model drop-down chose another shelf model (or none) */
  signals[SIGNAL_ITEM_CHANGED] = g_signal_new ("item-changed", G_TYPE_FROM_CLASS (klass),
                                               G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                               G_TYPE_NONE, 0);
  /* "font-scale-changed" (double): presentation mode; panels scale their plots */
  signals[SIGNAL_FONT_SCALE_CHANGED] = g_signal_new ("font-scale-changed",
                                                     G_TYPE_FROM_CLASS (klass),
                                                     G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                     G_TYPE_NONE, 1, G_TYPE_DOUBLE);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/frugal/Workbench/ui/fw-page-compress.ui");
  gtk_widget_class_bind_template_child (widget_class, FwPageCompress, root);
  gtk_widget_class_bind_template_child (widget_class, FwPageCompress, model_dropdown);
  gtk_widget_class_bind_template_child (widget_class, FwPageCompress, method_dropdown);
  gtk_widget_class_bind_template_child (widget_class, FwPageCompress, method_titles);
  gtk_widget_class_bind_template_child (widget_class, FwPageCompress, model_label);
  gtk_widget_class_bind_template_child (widget_class, FwPageCompress, method_stack);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
fw_page_compress_init (FwPageCompress *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->method_ids = g_ptr_array_new_with_free_func (g_free);
  self->font_scale = 1.0;

  /* the Model drop-down shows the shelf items' names */
  GtkExpression *expr = gtk_cclosure_expression_new (G_TYPE_STRING, NULL, 0, NULL,
                                                     G_CALLBACK (item_name), NULL, NULL);
  gtk_drop_down_set_expression (self->model_dropdown, expr);
  gtk_expression_unref (expr);
  g_signal_connect_swapped (self->model_dropdown, "notify::selected",
                            G_CALLBACK (model_selected), self);
  g_signal_connect_swapped (self->model_dropdown, "notify::model",
                            G_CALLBACK (model_selected), self);
  g_signal_connect_swapped (self->method_dropdown, "notify::selected",
                            G_CALLBACK (method_selected), self);

  /* the methods, one line each */
  fw_page_compress_add_method (self, "prune", "Pruning", fw_prune_panel_new (self));
  fw_page_compress_add_method (self, "quantize", "Quantization", fw_panel_quant_new_for_page (self, FALSE));
  fw_page_compress_add_method (self, "cluster", "Weight clustering", fw_panel_quant_new_for_page (self, TRUE));
  fw_page_compress_add_method (self, "lowrank", "Low rank (SVD)", fw_decomp_panel_new (self, (FwDecompMethod[]) { FW_DECOMP_SVD }, 1));
  fw_page_compress_add_method (self, "cp", "CP decomposition", fw_decomp_panel_new (self, (FwDecompMethod[]) { FW_DECOMP_CP }, 1));
  fw_page_compress_add_method (self, "tucker", "Tucker-2", fw_decomp_panel_new (self, (FwDecompMethod[]) { FW_DECOMP_TUCKER }, 1));
  fw_page_compress_add_method (self, "tt", "Tensor train / HT", fw_decomp_panel_new (self, (FwDecompMethod[]) { FW_DECOMP_TT, FW_DECOMP_HT }, 2));
  fw_page_compress_add_method (self, "distill", "Distillation", fw_distill_panel_new (self));
  update_model_label (self);
}

/* ---- the method jobs: the shelf model handed to a recipe extension's job ---- */

typedef struct {
  FwRecipe *recipe;
  const char *group;    /* where the model key goes */
  const char *key;      /* "model" / "teacher" */
  FwModel *model;       /* a copy of the shelf model when it has no file */
  char *tmp_path;       /* where the job saves it */
  FwJobFunc run;
} MethodJob;

static void
method_job_free (gpointer p)
{
  MethodJob *mj = p;
  fw_recipe_free (mj->recipe);
  g_clear_pointer (&mj->model, fw_model_unref);
  if (mj->tmp_path != NULL)
    g_unlink (mj->tmp_path);
  g_free (mj->tmp_path);
  g_free (mj);
}

static gboolean
method_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  MethodJob *mj = data;
  if (mj->model != NULL)
    {
      if (!fw_model_save (mj->model, mj->tmp_path, NULL, error))
        return FALSE;
      fw_recipe_ext_set (mj->recipe, mj->group, mj->key, mj->tmp_path);
    }
  /* the recipe job owns its data in the CLI; here the wrapper keeps it (freed above) */
  return mj->run (job, mj->recipe, cancellable, error);
}

FwJob *
fw_page_compress_submit_job (FwWindow *win, const char *job_name, FwJobFunc run, FwRecipe *r,
                             const char *group, const char *key, FwShelfItem *item,
                             FwEventFunc on_event, gpointer data)
{
  g_return_val_if_fail (win != NULL && run != NULL && r != NULL && item != NULL, NULL);
  MethodJob *mj = g_new0 (MethodJob, 1);
  mj->run = run;
  mj->group = group;
  mj->key = key;
  const char *file = fw_shelf_item_get_file (item);
  if (file != NULL)
    fw_recipe_ext_set (r, group, key, file);
  else
    {
      g_autofree char *tmp = NULL;
      int fd = g_file_open_tmp ("fw-method-XXXXXX.safetensors", &tmp, NULL);
      if (fd >= 0)
        close (fd);
      mj->model = fw_model_copy (fw_shelf_item_get_model (item));
      mj->tmp_path = g_steal_pointer (&tmp);
    }
  mj->recipe = r;
  return fw_window_submit_job (win, job_name, method_job_run, mj, method_job_free, on_event,
                               data);
}
