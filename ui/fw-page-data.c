/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-data.c: the Data page. */
#include "fw-page-data-private.h"

#include <string.h>

#include "fw-colors.h"
#include "fw-plot-view.h"
#include "fw-sample-item.h"
#include "fw-util.h"
#include "fw-window-private.h"

/* drop-down entries, in the order of the .ui's string list */
enum {
  CHOICE_FASHION,
  CHOICE_DIGITS,
  CHOICE_SIM,
  CHOICE_FOLDER,
  CHOICE_IDX,
  CHOICE_CSV,
};

#define THUMB_SIZE 56   /* logical pixels of a grid thumbnail */
#define SUBSET_SEED 1

struct _FwPageData {
  GtkWidget parent_instance;

  /* template widgets */
  GtkWidget *root;
  GtkDropDown *dataset_dropdown;
  GtkLabel *info_label;
  GtkSpinButton *per_class_spin;
  GtkLabel *count_label;
  GtkBox *legend_box;
  GtkStack *view_stack;
  GtkSpinner *loading_spinner;
  GtkLabel *loading_label;
  GtkGridView *grid_view;
  GtkBox *histogram_box;

  /* owned */
  FwPlotView *histogram_view;
  FwBarChart *histogram;
  FwDataset *dataset;          /* everything loaded */
  FwDataset *shown;            /* the per-class subset in the grid (or dataset itself) */
  char *spec;
  FwJob *load_job;             /* the latest load, while running */
  char *loading_spec;
  guint last_choice;           /* drop-down index of the dataset shown */
  gboolean syncing;            /* setting the drop-down from code */
  GtkNativeDialog *chooser;
};

G_DEFINE_FINAL_TYPE (FwPageData, fw_page_data, GTK_TYPE_WIDGET)

/* ---- accessors ---- */

FwDataset *
fw_page_data_get_dataset (FwPageData *self)
{
  return self->dataset;
}

const char *
fw_page_data_get_spec (FwPageData *self)
{
  return self->spec;
}

GListModel *
fw_page_data_get_grid_model (FwPageData *self)
{
  GtkSelectionModel *sel = gtk_grid_view_get_model (self->grid_view);
  return sel != NULL ? G_LIST_MODEL (sel) : NULL;
}

FwBarChart *
fw_page_data_get_histogram (FwPageData *self)
{
  return self->histogram;
}

GtkSpinButton *
fw_page_data_get_per_class_spin (FwPageData *self)
{
  return self->per_class_spin;
}

GtkGridView *
fw_page_data_get_grid_view (FwPageData *self)
{
  return self->grid_view;
}

GtkDropDown *
fw_page_data_get_dropdown (FwPageData *self)
{
  return self->dataset_dropdown;
}

gboolean
fw_page_data_is_loading (FwPageData *self)
{
  return self->load_job != NULL;
}

/* ---- showing a dataset ---- */

/* "60,000": counts a person reads */
static char *
format_int (int n)
{
  g_autofree char *digits = g_strdup_printf ("%d", ABS (n));
  GString *s = g_string_new (n < 0 ? "-" : "");
  int len = (int) strlen (digits);

  for (int i = 0; i < len; i++)
    {
      if (i > 0 && (len - i) % 3 == 0)
        g_string_append_c (s, ',');
      g_string_append_c (s, digits[i]);
    }
  return g_string_free (s, FALSE);
}

static const char *
class_name (const FwDataset *ds, int k, char *buf, gsize len)
{
  if (ds->class_names != NULL && ds->class_names[k] != NULL)
    return ds->class_names[k];
  g_snprintf (buf, len, "%d", k);
  return buf;
}

static void
update_legend (FwPageData *self, const int *counts)
{
  GtkWidget *child;
  const FwDataset *ds = self->shown;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->legend_box))) != NULL)
    gtk_box_remove (self->legend_box, child);
  if (ds == NULL)
    return;
  for (int k = 0; k < ds->n_classes && k < 100; k++)
    {
      char buf[16];
      g_autofree char *markup = NULL;
      g_autofree char *num = fw_format_count (counts[k]);
      GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
      GtkWidget *name = gtk_label_new (NULL);
      GtkWidget *count = gtk_label_new (num);

      markup = g_markup_printf_escaped ("<span foreground=\"%s\">\u25a0</span>  %s",
                                        fw_palette_hex (k),
                                        class_name (ds, k, buf, sizeof buf));
      gtk_label_set_markup (GTK_LABEL (name), markup);
      gtk_label_set_xalign (GTK_LABEL (name), 0);
      gtk_widget_set_hexpand (name, TRUE);
      gtk_widget_add_css_class (count, "numeric");
      gtk_widget_add_css_class (count, "dim-label");
      gtk_box_append (GTK_BOX (row), name);
      gtk_box_append (GTK_BOX (row), count);
      gtk_box_append (self->legend_box, row);
    }
}

static void
update_view (FwPageData *self)
{
  FwDataset *ds = self->dataset;
  int per_class = gtk_spin_button_get_value_as_int (self->per_class_spin);
  g_autoptr (FwSampleList) list = NULL;
  g_autofree int *counts = NULL;
  g_autofree double *values = NULL;
  g_autofree char *info = NULL;
  g_autofree char *count_text = NULL;
  g_autofree char *n_all = NULL;
  g_autofree char *n_shown = NULL;
  const char **labels;

  g_clear_pointer (&self->shown, fw_dataset_unref);
  if (ds == NULL)
    {
      gtk_grid_view_set_model (self->grid_view, NULL);
      fw_bar_chart_set_data (self->histogram, NULL, NULL, 0);
      fw_plot_view_queue_update (self->histogram_view);
      gtk_label_set_text (self->info_label, "");
      gtk_label_set_text (self->count_label, "");
      update_legend (self, NULL);
      gtk_stack_set_visible_child_name (self->view_stack, "empty");
      return;
    }

  self->shown = per_class > 0 ? fw_dataset_per_class (ds, per_class, SUBSET_SEED, NULL)
                              : fw_dataset_ref (ds);
  list = fw_sample_list_new (self->shown);
  gtk_grid_view_set_model (self->grid_view,
                           GTK_SELECTION_MODEL (gtk_no_selection_new (
                             G_LIST_MODEL (g_steal_pointer (&list)))));

  counts = g_new0 (int, ds->n_classes);
  values = g_new0 (double, ds->n_classes);
  labels = g_new0 (const char *, ds->n_classes + 1);
  fw_dataset_class_counts (self->shown, counts);
  for (int k = 0; k < ds->n_classes; k++)
    {
      values[k] = counts[k];
      labels[k] = ds->class_names != NULL ? ds->class_names[k] : NULL;
    }
  fw_bar_chart_set_data (self->histogram, values,
                         ds->class_names != NULL ? labels : NULL, ds->n_classes);
  g_free (labels);
  fw_plot_view_queue_update (self->histogram_view);
  update_legend (self, counts);

  {
    const char *kind = ds->shape.h == 1 && ds->shape.w == 1 ? "features"
                       : ds->shape.c == 3                   ? "colour"
                                                            : "grey";
    g_autofree char *size = ds->shape.h == 1 && ds->shape.w == 1
                              ? g_strdup_printf ("%d", ds->shape.c)
                              : g_strdup_printf ("%d×%d", ds->shape.w, ds->shape.h);
    n_all = fw_format_count (ds->n);
    info = g_markup_printf_escaped ("<b>%s</b>\n%s samples · %s %s · %d classes\n"
                                    "<small>%s</small>",
                                    ds->name, n_all, size, kind, ds->n_classes,
                                    ds->source != NULL ? ds->source : "");
    gtk_label_set_markup (self->info_label, info);
  }
  n_shown = format_int (self->shown->n);
  g_free (n_all);
  n_all = format_int (ds->n);
  count_text = per_class > 0
                 ? g_strdup_printf ("%s of %s samples shown (at most %d per class)", n_shown,
                                    n_all, per_class)
                 : g_strdup_printf ("all %s samples shown", n_shown);
  gtk_label_set_text (self->count_label, count_text);
  gtk_stack_set_visible_child_name (self->view_stack, "grid");
}

static void
per_class_changed (GtkSpinButton *spin, FwPageData *self)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));

  if (self->dataset != NULL)
    update_view (self);
  /* the Train page trains on the subset seen here */
  if (win != NULL)
    fw_page_train_set_per_class (fw_window_get_page_train (win),
                                 gtk_spin_button_get_value_as_int (spin));
}

void
fw_page_data_set_font_scale (FwPageData *self, double scale)
{
  g_return_if_fail (FW_IS_PAGE_DATA (self));
  fw_plot_view_set_font_scale (self->histogram_view, scale);
}

/* ---- loading ---- */

typedef struct {
  char *spec;
} LoadData;

static void
load_data_free (gpointer p)
{
  LoadData *d = p;
  g_free (d->spec);
  g_free (d);
}

/* worker thread: no widget here */
static gboolean
load_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  LoadData *d = data;
  FwDataset *ds = fw_dataset_load (d->spec, 1, cancellable, error);

  if (ds == NULL)
    return FALSE;
  fw_job_emit_snapshot (job, "dataset", ds, (GDestroyNotify) fw_dataset_unref);
  return TRUE;
}

static guint
choice_for_spec (const char *spec)
{
  if (g_str_has_prefix (spec, "fashion-mnist"))
    return CHOICE_FASHION;
  if (g_str_has_prefix (spec, "digits"))
    return CHOICE_DIGITS;
  if (g_str_has_prefix (spec, "sim"))
    return CHOICE_SIM;
  if (g_str_has_prefix (spec, "folder:"))
    return CHOICE_FOLDER;
  if (g_str_has_prefix (spec, "csv:"))
    return CHOICE_CSV;
  return CHOICE_IDX;
}

static void
set_choice (FwPageData *self, guint choice)
{
  self->syncing = TRUE;
  gtk_drop_down_set_selected (self->dataset_dropdown, choice);
  self->syncing = FALSE;
}

static void
load_job_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  FwPageData *self = user_data;

  if (job != self->load_job)
    return;   /* a load that was replaced by a newer one */

  switch (ev->kind)
    {
    case FW_EVENT_SNAPSHOT:
      if (g_strcmp0 (ev->payload_type, "dataset") == 0)
        {
          FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));

          g_clear_pointer (&self->dataset, fw_dataset_unref);
          self->dataset = fw_dataset_ref (ev->payload);
          g_free (self->spec);
          self->spec = g_strdup (self->loading_spec);
          self->last_choice = choice_for_spec (self->spec);
          set_choice (self, self->last_choice);
          update_view (self);
          if (win != NULL)
            {
              fw_window_clear_error (win);
              fw_window_dataset_changed (win, self->spec, self->dataset);
            }
        }
      break;

    case FW_EVENT_FINISHED:
    case FW_EVENT_FAILED:
    case FW_EVENT_CANCELLED:
      g_clear_pointer (&self->load_job, fw_job_unref);
      gtk_spinner_stop (self->loading_spinner);
      if (ev->kind != FW_EVENT_FINISHED)
        {
          /* back to what was shown; the window shows the error */
          set_choice (self, self->last_choice);
          gtk_stack_set_visible_child_name (self->view_stack,
                                            self->dataset != NULL ? "grid" : "empty");
        }
      break;

    default:
      break;
    }
}

static char *
display_name (const char *spec)
{
  switch (choice_for_spec (spec))
    {
    case CHOICE_FASHION: return g_strdup ("Fashion-MNIST");
    case CHOICE_DIGITS: return g_strdup ("handwritten digits");
    case CHOICE_SIM: return g_strdup ("simulated digits");
    default:
      {
        /* "idx:IMAGES[:LABELS]", "folder:PATH", "csv:PATH": the base name of the first path */
        const char *colon = strchr (spec, ':');
        g_autofree char *path = g_strdup (colon != NULL ? colon + 1 : spec);
        char *second = g_str_has_prefix (spec, "idx:") ? strchr (path, ':') : NULL;

        if (second != NULL)
          *second = '\0';
        return g_path_get_basename (path);
      }
    }
}

void
fw_page_data_load (FwPageData *self, const char *spec)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  g_autofree char *name = NULL;
  g_autofree char *job_name = NULL;
  LoadData *d;

  g_return_if_fail (FW_IS_PAGE_DATA (self));
  g_return_if_fail (spec != NULL);
  if (win == NULL)
    return;

  if (self->load_job != NULL)
    fw_job_cancel (self->load_job);
  g_clear_pointer (&self->load_job, fw_job_unref);

  name = display_name (spec);
  job_name = g_strdup_printf ("Loading %s", name);
  g_free (self->loading_spec);
  self->loading_spec = g_strdup (spec);
  gtk_label_set_text (self->loading_label, job_name);
  gtk_spinner_start (self->loading_spinner);
  gtk_stack_set_visible_child_name (self->view_stack, "loading");

  d = g_new0 (LoadData, 1);
  d->spec = g_strdup (spec);
  self->load_job = fw_window_submit_job (win, job_name, load_job_run, d, load_data_free,
                                         load_job_event, self);
}

void
fw_page_data_load_default (FwPageData *self)
{
  g_autofree char *fmnist = fw_dataset_find_fashion_mnist ();

  fw_page_data_load (self, fmnist != NULL ? "fashion-mnist" : "sim:5000");
}

/* ---- choosing a dataset ---- */

static void
chooser_response (GtkNativeDialog *dialog, int response, FwPageData *self)
{
  guint choice = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (dialog), "fw-choice"));

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;

      if (path != NULL)
        {
          g_autofree char *spec = g_strdup_printf ("%s:%s",
                                                   choice == CHOICE_FOLDER ? "folder"
                                                   : choice == CHOICE_CSV  ? "csv"
                                                                           : "idx",
                                                   path);
          fw_page_data_load (self, spec);
        }
    }
  else
    set_choice (self, self->last_choice);
  if (self->chooser == dialog)
    g_clear_object (&self->chooser);
}

static void
open_chooser (FwPageData *self, guint choice)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  const char *title = choice == CHOICE_FOLDER ? "Open an Image Folder (one sub-folder per class)"
                      : choice == CHOICE_CSV  ? "Open a CSV File"
                                              : "Open an IDX Images File";
  GtkFileChooserNative *chooser;
  g_autoptr (GtkFileFilter) filter = gtk_file_filter_new ();

  chooser = gtk_file_chooser_native_new (title, GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                         choice == CHOICE_FOLDER
                                           ? GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER
                                           : GTK_FILE_CHOOSER_ACTION_OPEN,
                                         "_Open", "_Cancel");
  if (choice == CHOICE_CSV)
    {
      gtk_file_filter_set_name (filter, "CSV files");
      gtk_file_filter_add_pattern (filter, "*.csv");
      gtk_file_filter_add_pattern (filter, "*.CSV");
      gtk_file_filter_add_pattern (filter, "*.tsv");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
    }
  else if (choice == CHOICE_IDX)
    {
      gtk_file_filter_set_name (filter, "IDX files");
      gtk_file_filter_add_pattern (filter, "*-ubyte*");
      gtk_file_filter_add_pattern (filter, "*.idx*");
      gtk_file_filter_add_pattern (filter, "*.gz");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
    }
  g_object_set_data (G_OBJECT (chooser), "fw-choice", GUINT_TO_POINTER (choice));
  g_signal_connect (chooser, "response", G_CALLBACK (chooser_response), self);
  g_clear_object (&self->chooser);
  self->chooser = GTK_NATIVE_DIALOG (chooser);
  gtk_native_dialog_show (self->chooser);
}

static void
dataset_selected (GtkDropDown *dropdown, GParamSpec *pspec, FwPageData *self)
{
  guint choice = gtk_drop_down_get_selected (dropdown);

  if (self->syncing || choice == GTK_INVALID_LIST_POSITION)
    return;
  switch (choice)
    {
    case CHOICE_FASHION: fw_page_data_load (self, "fashion-mnist"); break;
    case CHOICE_DIGITS: fw_page_data_load (self, "digits"); break;
    case CHOICE_SIM: fw_page_data_load (self, "sim:5000"); break;
    default: open_chooser (self, choice); break;
    }
}

static gboolean
drop_file (GtkDropTarget *target, const GValue *value, double x, double y, FwPageData *self)
{
  GFile *file = g_value_get_object (value);
  g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
  g_autofree char *lower = NULL;
  g_autofree char *spec = NULL;

  if (path == NULL)
    return FALSE;
  lower = g_ascii_strdown (path, -1);
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    spec = g_strdup_printf ("folder:%s", path);
  else if (g_str_has_suffix (lower, ".csv") || g_str_has_suffix (lower, ".tsv"))
    spec = g_strdup_printf ("csv:%s", path);
  else
    spec = g_strdup_printf ("idx:%s", path);
  fw_page_data_load (self, spec);
  return TRUE;
}

/* ---- grid items ---- */

static const char *
item_class_name (FwSampleItem *item, char *buf, gsize len)
{
  const char *name = fw_sample_item_get_class_name (item);

  if (name != NULL)
    return name;
  g_snprintf (buf, len, "%d", fw_sample_item_get_label (item));
  return buf;
}

static gboolean
item_query_tooltip (GtkWidget *box, int x, int y, gboolean keyboard, GtkTooltip *tooltip,
                    GtkListItem *list_item)
{
  FwSampleItem *item = gtk_list_item_get_item (list_item);
  char buf[16];
  g_autofree char *tip = NULL;

  if (item == NULL)
    return FALSE;
  tip = g_strdup_printf ("#%d: %s", fw_sample_item_get_index (item),
                         item_class_name (item, buf, sizeof buf));
  gtk_tooltip_set_text (tooltip, tip);
  return TRUE;
}

static void
item_setup (GtkSignalListItemFactory *factory, GtkListItem *list_item, gpointer user_data)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *picture = gtk_picture_new ();
  GtkWidget *label = gtk_label_new (NULL);

  gtk_widget_set_size_request (picture, THUMB_SIZE, THUMB_SIZE);
  gtk_picture_set_can_shrink (GTK_PICTURE (picture), TRUE);
  gtk_picture_set_content_fit (GTK_PICTURE (picture), GTK_CONTENT_FIT_CONTAIN);
  gtk_widget_set_halign (picture, GTK_ALIGN_CENTER);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 11);
  gtk_label_set_width_chars (GTK_LABEL (label), 11);
  gtk_widget_add_css_class (label, "fw-sample-label");
  gtk_box_append (GTK_BOX (box), picture);
  gtk_box_append (GTK_BOX (box), label);
  /* The tooltip text is made when asked for: gtk_widget_set_tooltip_text() on every bind asks
   * the X server where the pointer is (a round trip per item) and halved the frame rate while
   * scrolling. The list item outlives its child. */
  gtk_widget_set_has_tooltip (box, TRUE);
  g_signal_connect (box, "query-tooltip", G_CALLBACK (item_query_tooltip), list_item);
  gtk_list_item_set_child (list_item, box);
}

static void
item_bind (GtkSignalListItemFactory *factory, GtkListItem *list_item, gpointer user_data)
{
  FwSampleItem *item = gtk_list_item_get_item (list_item);
  GtkWidget *box = gtk_list_item_get_child (list_item);
  GtkWidget *picture = gtk_widget_get_first_child (box);
  GtkWidget *label = gtk_widget_get_last_child (box);
  int scale = gtk_widget_get_scale_factor (box);
  char buf[16];
  g_autofree char *markup = NULL;

  /* the thumbnail is made here, on first show, at the screen's scale (sharp on HiDPI) */
  gtk_picture_set_paintable (GTK_PICTURE (picture),
                             GDK_PAINTABLE (fw_sample_item_get_texture (item,
                                                                        THUMB_SIZE * scale)));
  /* a chip of the class colour, then the name in the text colour (the light palette
   * colours, yellow and sky blue, are hard to read as text on a light background) */
  markup = g_markup_printf_escaped ("<span foreground=\"%s\">\u25a0</span> %s",
                                    fw_palette_hex (fw_sample_item_get_label (item)),
                                    item_class_name (item, buf, sizeof buf));
  gtk_label_set_markup (GTK_LABEL (label), markup);
}

static void
item_unbind (GtkSignalListItemFactory *factory, GtkListItem *list_item, gpointer user_data)
{
  GtkWidget *box = gtk_list_item_get_child (list_item);
  gtk_picture_set_paintable (GTK_PICTURE (gtk_widget_get_first_child (box)), NULL);
}

/* ---- life cycle ---- */

static void
fw_page_data_dispose (GObject *object)
{
  FwPageData *self = FW_PAGE_DATA (object);

  if (self->load_job != NULL)
    fw_job_cancel (self->load_job);
  g_clear_pointer (&self->load_job, fw_job_unref);
  if (self->chooser != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->chooser, self);
      gtk_native_dialog_destroy (self->chooser);
      g_clear_object (&self->chooser);
    }
  gtk_widget_dispose_template (GTK_WIDGET (self), FW_TYPE_PAGE_DATA);
  G_OBJECT_CLASS (fw_page_data_parent_class)->dispose (object);
}

static void
fw_page_data_finalize (GObject *object)
{
  FwPageData *self = FW_PAGE_DATA (object);

  g_clear_pointer (&self->histogram, fw_bar_chart_unref);
  g_clear_pointer (&self->dataset, fw_dataset_unref);
  g_clear_pointer (&self->shown, fw_dataset_unref);
  g_free (self->spec);
  g_free (self->loading_spec);
  G_OBJECT_CLASS (fw_page_data_parent_class)->finalize (object);
}

static void
fw_page_data_class_init (FwPageDataClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = fw_page_data_dispose;
  object_class->finalize = fw_page_data_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/frugal/Workbench/ui/fw-page-data.ui");
  gtk_widget_class_bind_template_child (widget_class, FwPageData, root);
  gtk_widget_class_bind_template_child (widget_class, FwPageData, dataset_dropdown);
  gtk_widget_class_bind_template_child (widget_class, FwPageData, info_label);
  gtk_widget_class_bind_template_child (widget_class, FwPageData, per_class_spin);
  gtk_widget_class_bind_template_child (widget_class, FwPageData, count_label);
  gtk_widget_class_bind_template_child (widget_class, FwPageData, legend_box);
  gtk_widget_class_bind_template_child (widget_class, FwPageData, view_stack);
  gtk_widget_class_bind_template_child (widget_class, FwPageData, loading_spinner);
  gtk_widget_class_bind_template_child (widget_class, FwPageData, loading_label);
  gtk_widget_class_bind_template_child (widget_class, FwPageData, grid_view);
  gtk_widget_class_bind_template_child (widget_class, FwPageData, histogram_box);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
fw_page_data_init (FwPageData *self)
{
  GtkListItemFactory *factory;
  GtkDropTarget *drop;

  gtk_widget_init_template (GTK_WIDGET (self));

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (item_setup), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (item_bind), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (item_unbind), NULL);
  gtk_grid_view_set_factory (self->grid_view, factory);
  g_object_unref (factory);

  self->histogram = fw_bar_chart_new ();
  fw_bar_chart_set_title (self->histogram, "Samples per class");
  fw_bar_chart_set_y_label (self->histogram, "samples", NULL);
  fw_bar_chart_set_format (self->histogram, FW_VALUE_COUNT);
  fw_bar_chart_set_empty_text (self->histogram, "No dataset loaded");
  self->histogram_view = FW_PLOT_VIEW (fw_plot_view_new ());
  fw_plot_view_set_bars (self->histogram_view, self->histogram);
  fw_plot_view_set_export_name (self->histogram_view, "class-histogram");
  /* a fixed height: the sample grid above takes the rest */
  gtk_widget_set_size_request (GTK_WIDGET (self->histogram_view), -1, 200);
  gtk_widget_set_vexpand (GTK_WIDGET (self->histogram_view), FALSE);
  gtk_box_append (self->histogram_box, GTK_WIDGET (self->histogram_view));

  self->last_choice = CHOICE_FASHION;
  g_signal_connect (self->dataset_dropdown, "notify::selected", G_CALLBACK (dataset_selected),
                    self);
  g_signal_connect (self->per_class_spin, "value-changed", G_CALLBACK (per_class_changed),
                    self);

  drop = gtk_drop_target_new (G_TYPE_FILE, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (drop_file), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));
}
