/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-model-shelf.c: the trained models of the session, shared by every page, and its view. */
#include "fw-model-shelf.h"

#include <glib/gstdio.h>
#include <math.h>

#include "fw-colors.h"
#include "fw-compare.h"
#include "fw-util.h"

/* ---- FwShelfItem ---- */

struct _FwShelfItem {
  GObject parent_instance;

  char *name;
  FwModel *model;       /* owned reference */
  double accuracy;
  GArray *metrics;      /* FwEpochMetrics, owned copy or NULL */
  char *run_dir;
  char *file;           /* the saved .safetensors, or NULL */
  char *method;         /* "trained", "pruned", ... */
};

G_DEFINE_FINAL_TYPE (FwShelfItem, fw_shelf_item, G_TYPE_OBJECT)

static void
fw_shelf_item_finalize (GObject *object)
{
  FwShelfItem *self = FW_SHELF_ITEM (object);

  g_free (self->name);
  g_clear_pointer (&self->model, fw_model_unref);
  g_clear_pointer (&self->metrics, g_array_unref);
  g_free (self->run_dir);
  g_free (self->file);
  g_free (self->method);
  G_OBJECT_CLASS (fw_shelf_item_parent_class)->finalize (object);
}

static void
fw_shelf_item_class_init (FwShelfItemClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = fw_shelf_item_finalize;
}

static void
fw_shelf_item_init (FwShelfItem *self)
{
  self->accuracy = NAN;
}

FwShelfItem *
fw_shelf_item_new (const char *name, FwModel *model, double accuracy, GArray *metrics,
                   const char *run_dir)
{
  FwShelfItem *self;

  g_return_val_if_fail (model != NULL, NULL);
  self = g_object_new (FW_TYPE_SHELF_ITEM, NULL);
  self->name = g_strdup (name != NULL ? name : model->arch);
  self->model = fw_model_ref (model);
  self->accuracy = accuracy;
  if (metrics != NULL)
    {
      self->metrics = g_array_sized_new (FALSE, FALSE, sizeof (FwEpochMetrics), metrics->len);
      g_array_append_vals (self->metrics, metrics->data, metrics->len);
    }
  self->run_dir = g_strdup (run_dir);
  if (run_dir != NULL)
    {
      g_autofree char *path = g_build_filename (run_dir, "model.safetensors", NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        self->file = g_steal_pointer (&path);
    }
  self->method = g_strdup ("trained");
  return self;
}

const char *
fw_shelf_item_get_file (FwShelfItem *self)
{
  return self->file;
}

void
fw_shelf_item_set_file (FwShelfItem *self, const char *path)
{
  g_free (self->file);
  self->file = g_strdup (path);
}

const char *
fw_shelf_item_get_method (FwShelfItem *self)
{
  return self->method;
}

void
fw_shelf_item_set_method (FwShelfItem *self, const char *method)
{
  g_free (self->method);
  self->method = g_strdup (method != NULL ? method : "trained");
}

const char *
fw_shelf_item_get_name (FwShelfItem *self)
{
  return self->name;
}

const char *
fw_shelf_item_get_arch (FwShelfItem *self)
{
  return self->model->arch;
}

FwModel *
fw_shelf_item_get_model (FwShelfItem *self)
{
  return self->model;
}

double
fw_shelf_item_get_accuracy (FwShelfItem *self)
{
  return self->accuracy;
}

gsize
fw_shelf_item_get_params (FwShelfItem *self)
{
  /* every weight stored, packed ones too (an int8 or clustered model has few float params);
   * index tensors of sparse layers are storage, not weights */
  gsize weights = 0;
  fw_compare_count_values (self->model, NULL, NULL, &weights);
  return weights;
}

double
fw_shelf_item_get_bytes (FwShelfItem *self)
{
  GStatBuf st;
  if (self->file != NULL && g_stat (self->file, &st) == 0)
    return (double) st.st_size;
  /* no file: fp32, every parameter and state value is 4 bytes */
  return 4.0 * (double) fw_model_param_count (self->model);
}

GArray *
fw_shelf_item_get_metrics (FwShelfItem *self)
{
  return self->metrics;
}

const char *
fw_shelf_item_get_run_dir (FwShelfItem *self)
{
  return self->run_dir;
}

char *
fw_format_percent (double fraction)
{
  if (!isfinite (fraction))
    return g_strdup ("—");
  return g_strdup_printf ("%.1f%%", 100.0 * fraction);
}

/* ---- FwModelShelf: a GListModel over a GListStore ---- */

struct _FwModelShelf {
  GObject parent_instance;

  GListStore *store;    /* FwShelfItem */
};

static GType
shelf_get_item_type (GListModel *model)
{
  return FW_TYPE_SHELF_ITEM;
}

static guint
shelf_get_n_items (GListModel *model)
{
  return g_list_model_get_n_items (G_LIST_MODEL (FW_MODEL_SHELF (model)->store));
}

static gpointer
shelf_get_item (GListModel *model, guint position)
{
  return g_list_model_get_item (G_LIST_MODEL (FW_MODEL_SHELF (model)->store), position);
}

static void
shelf_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = shelf_get_item_type;
  iface->get_n_items = shelf_get_n_items;
  iface->get_item = shelf_get_item;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (FwModelShelf, fw_model_shelf, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, shelf_list_model_init))

static void
store_items_changed (GListModel *store, guint position, guint removed, guint added,
                     FwModelShelf *self)
{
  g_list_model_items_changed (G_LIST_MODEL (self), position, removed, added);
}

static void
fw_model_shelf_dispose (GObject *object)
{
  FwModelShelf *self = FW_MODEL_SHELF (object);

  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (self->store, self);
  g_clear_object (&self->store);
  G_OBJECT_CLASS (fw_model_shelf_parent_class)->dispose (object);
}

static void
fw_model_shelf_class_init (FwModelShelfClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = fw_model_shelf_dispose;
}

static void
fw_model_shelf_init (FwModelShelf *self)
{
  self->store = g_list_store_new (FW_TYPE_SHELF_ITEM);
  g_signal_connect (self->store, "items-changed", G_CALLBACK (store_items_changed), self);
}

FwModelShelf *
fw_model_shelf_new (void)
{
  return g_object_new (FW_TYPE_MODEL_SHELF, NULL);
}

FwShelfItem *
fw_model_shelf_get_item (FwModelShelf *self, guint position)
{
  g_autoptr (FwShelfItem) item = g_list_model_get_item (G_LIST_MODEL (self->store), position);
  /* the store keeps its reference: transfer none */
  return item;
}

void
fw_model_shelf_add (FwModelShelf *self, FwShelfItem *item)
{
  g_return_if_fail (FW_IS_MODEL_SHELF (self));
  g_return_if_fail (FW_IS_SHELF_ITEM (item));
  g_list_store_append (self->store, item);
}

void
fw_model_shelf_remove (FwModelShelf *self, guint position)
{
  g_return_if_fail (FW_IS_MODEL_SHELF (self));
  if (position < g_list_model_get_n_items (G_LIST_MODEL (self->store)))
    g_list_store_remove (self->store, position);
}

/* ---- the view ---- */

static void
row_setup (GtkSignalListItemFactory *factory, GtkListItem *list_item, gpointer user_data)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *name = gtk_label_new (NULL);
  GtkWidget *detail = gtk_label_new (NULL);

  gtk_widget_add_css_class (box, "fw-shelf-row");
  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (name, "fw-shelf-name");
  gtk_label_set_xalign (GTK_LABEL (detail), 0);
  gtk_label_set_wrap (GTK_LABEL (detail), TRUE);
  gtk_widget_add_css_class (detail, "dim-label");
  gtk_widget_add_css_class (detail, "caption");
  gtk_box_append (GTK_BOX (box), name);
  gtk_box_append (GTK_BOX (box), detail);
  gtk_list_item_set_child (list_item, box);
}

static void
row_bind (GtkSignalListItemFactory *factory, GtkListItem *list_item, gpointer user_data)
{
  FwShelfItem *item = gtk_list_item_get_item (list_item);
  GtkWidget *box = gtk_list_item_get_child (list_item);
  GtkWidget *name = gtk_widget_get_first_child (box);
  GtkWidget *detail = gtk_widget_get_last_child (box);
  g_autofree char *pct = fw_format_percent (item->accuracy);
  g_autofree char *params = fw_format_count ((double) fw_shelf_item_get_params (item));
  g_autofree char *bytes = fw_format_bytes (fw_shelf_item_get_bytes (item));
  gboolean trained = g_strcmp0 (item->method, "trained") == 0;
  g_autofree char *text = g_strdup_printf ("%s%s%s · %s params · %s",
                                           fw_shelf_item_get_arch (item),
                                           trained ? "" : " · ", trained ? "" : item->method,
                                           params, bytes);
  g_autofree char *tip = NULL;

  /* the name carries the accuracy ("mlp 88.9%"), the line below the costs */
  gtk_label_set_text (GTK_LABEL (name), item->name);
  gtk_label_set_text (GTK_LABEL (detail), text);
  tip = g_strdup_printf ("%s\n%s\ntest accuracy %s%s%s", item->name, text, pct,
                         item->run_dir != NULL ? "\n" : "",
                         item->run_dir != NULL ? item->run_dir : "");
  gtk_widget_set_tooltip_text (box, tip);
}

static void
shelf_view_update_state (GListModel *model, guint position, guint removed, guint added,
                         GtkStack *stack)
{
  gtk_stack_set_visible_child_name (stack, g_list_model_get_n_items (model) > 0 ? "list"
                                                                                : "empty");
}

GtkWidget *
fw_model_shelf_view_new (FwModelShelf *shelf)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  GtkSelectionModel *selection;
  GtkWidget *list, *scrolled, *stack, *empty;

  g_return_val_if_fail (FW_IS_MODEL_SHELF (shelf), NULL);

  g_signal_connect (factory, "setup", G_CALLBACK (row_setup), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (row_bind), NULL);
  selection = GTK_SELECTION_MODEL (gtk_single_selection_new (
    G_LIST_MODEL (g_object_ref (shelf))));
  gtk_single_selection_set_autoselect (GTK_SINGLE_SELECTION (selection), FALSE);
  gtk_single_selection_set_can_unselect (GTK_SINGLE_SELECTION (selection), TRUE);
  list = gtk_list_view_new (selection, factory);
  gtk_widget_add_css_class (list, "navigation-sidebar");
  scrolled = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), list);

  empty = gtk_label_new ("No model yet — train one on the Train page (Ctrl+Return).");
  gtk_label_set_wrap (GTK_LABEL (empty), TRUE);
  gtk_label_set_justify (GTK_LABEL (empty), GTK_JUSTIFY_CENTER);
  gtk_widget_set_margin_start (empty, 16);
  gtk_widget_set_margin_end (empty, 16);
  gtk_widget_add_css_class (empty, "dim-label");

  stack = gtk_stack_new ();
  gtk_widget_set_vexpand (stack, TRUE);
  gtk_stack_add_named (GTK_STACK (stack), empty, "empty");
  gtk_stack_add_named (GTK_STACK (stack), scrolled, "list");
  shelf_view_update_state (G_LIST_MODEL (shelf), 0, 0, 0, GTK_STACK (stack));
  g_signal_connect_object (shelf, "items-changed", G_CALLBACK (shelf_view_update_state), stack,
                           0);
  return stack;
}
