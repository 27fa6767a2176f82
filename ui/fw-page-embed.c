/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-embed.c: the Embeddings page. */
#include "fw-page-embed-private.h"

#include <math.h>
#include <string.h>

#include "fw-embed.h"
#include "fw-error.h"
#include "fw-features.h"
#include "fw-model-shelf.h"
#include "fw-sample-item.h"
#include "fw-util.h"
#include "fw-window-private.h"

#define THUMB_MIN 84        /* tooltip thumbnails: at least this many pixels wide */
#define SELECTED_MIN 96     /* the selected sample's picture */
#define FRAME_EVERY 10      /* t-SNE iterations between live frames (at most: coalesced) */

/* ---- what the worker shares with the page ---- */

/* A flag the worker raises when it emits a layout and the page lowers when it drew it: at
 * most one live frame is in flight, so a slow main loop sees fewer frames, never a backlog. */
typedef struct {
  gint pending;
} FrameGate;

static FrameGate *
frame_gate_new (void)
{
  return g_atomic_rc_box_new0 (FrameGate);
}

static void
frame_gate_unref (FrameGate *g)
{
  g_atomic_rc_box_release (g);
}

/* The job's input (owned by the job; freed on the worker). */
typedef struct {
  FwDataset *ds;          /* ref */
  FwModel *model;         /* a private copy, or NULL for pixels */
  int layer;
  gboolean tsne;
  int n, n_iter;
  double perplexity;
  guint64 seed;
  float *init;            /* [n x 2] a layout to continue from, or NULL */
  FrameGate *gate;        /* ref */
} EmbedInput;

static void
embed_input_free (gpointer p)
{
  EmbedInput *in = p;
  g_clear_pointer (&in->ds, fw_dataset_unref);
  g_clear_pointer (&in->model, fw_model_unref);
  g_free (in->init);
  g_clear_pointer (&in->gate, frame_gate_unref);
  g_free (in);
}

/* Snapshot "embed-points": who the points are (sent once, before any layout). */
typedef struct {
  int n, d;
  gint32 *index, *label;  /* [n] */
  gint32 *pred;           /* [n] or NULL (pixels) */
  float *conf;            /* [n] or NULL */
  char *desc;             /* "64-D features of layer 4: relu (64)" */
} EmbedPoints;

static void
embed_points_free (gpointer p)
{
  EmbedPoints *e = p;
  g_free (e->index);
  g_free (e->label);
  g_free (e->pred);
  g_free (e->conf);
  g_free (e->desc);
  g_free (e);
}

/* Snapshot "embed-layout": a copy of the layout. */
typedef struct {
  int n, iter, n_iter;
  double kl;              /* NaN for PCA */
  float *y;               /* [n x 2] */
  gboolean final;
  double seconds;         /* final: time of the projection */
  double agreement;       /* final: 1-NN label agreement in 2-D */
  double ratio[2];        /* PCA: explained variance ratios */
} EmbedLayout;

static void
embed_layout_free (gpointer p)
{
  EmbedLayout *e = p;
  g_free (e->y);
  g_free (e);
}

/* ---- the worker ---- */

typedef struct {
  FwJob *job;
  FrameGate *gate;
} TsneCtx;

static gboolean
tsne_frame (int iter, int n_iter, const float *y, int n, double kl, gpointer user_data)
{
  TsneCtx *ctx = user_data;

  fw_job_progress (ctx->job, 0.05 + 0.95 * iter / n_iter, 0, 0, iter, n_iter, kl, NAN);
  if (iter < n_iter && g_atomic_int_compare_and_exchange (&ctx->gate->pending, 0, 1))
    {
      EmbedLayout *l = g_new0 (EmbedLayout, 1);
      l->n = n;
      l->iter = iter;
      l->n_iter = n_iter;
      l->kl = kl;
      l->y = g_memdup2 (y, sizeof (float) * 2 * n);
      l->agreement = NAN;
      fw_job_emit_snapshot (ctx->job, "embed-layout", l, embed_layout_free);
    }
  return TRUE;
}

/* Fraction of points whose nearest other point in y [n x 2] has the same label. */
static double
nn_agreement (const float *y, const gint32 *label, int n)
{
  int ok = 0;
  for (int i = 0; i < n; i++)
    {
      float best = INFINITY;
      int bj = i;
      for (int j = 0; j < n; j++)
        {
          float dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
          float d2 = dx * dx + dy * dy;
          if (j != i && d2 < best)
            {
              best = d2;
              bj = j;
            }
        }
      ok += label[bj] == label[i];
    }
  return n > 0 ? (double) ok / n : NAN;
}

static gboolean
embed_job_run (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  EmbedInput *in = data;
  int n = MIN (in->n, in->ds->n);
  g_autofree gint32 *idx = g_new (gint32, MAX (n, 1));

  if (n < 4)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "The dataset has %d samples: an embedding needs at least 4", in->ds->n);
      return FALSE;
    }
  n = fw_features_pick (in->ds, n, in->seed, idx);
  fw_job_progress (job, 0.0, 0, 0, 0, 0, NAN, NAN);

  g_autoptr (FwFeatures) f = NULL;
  if (in->model != NULL)
    {
      f = fw_features_layer (in->model, in->layer, in->ds, idx, n, 256, cancellable, error);
      if (f == NULL)
        return FALSE;
    }
  else
    f = fw_features_pixels (in->ds, idx, n);

  EmbedPoints *pts = g_new0 (EmbedPoints, 1);
  pts->n = f->n;
  pts->d = f->d;
  pts->index = g_memdup2 (f->index, sizeof (gint32) * f->n);
  pts->label = g_memdup2 (f->label, sizeof (gint32) * f->n);
  pts->pred = f->pred != NULL ? g_memdup2 (f->pred, sizeof (gint32) * f->n) : NULL;
  pts->conf = f->conf != NULL ? g_memdup2 (f->conf, sizeof (float) * f->n) : NULL;
  if (in->model != NULL)
    {
      g_autofree char *lab = fw_features_layer_label (in->model, in->layer);
      pts->desc = g_strdup_printf ("%d-D features of layer %s", f->d, lab);
    }
  else
    pts->desc = g_strdup_printf ("%d raw pixel values", f->d);
  fw_job_emit_snapshot (job, "embed-points", pts, embed_points_free);
  fw_job_progress (job, 0.05, 0, 0, 0, 0, NAN, NAN);

  EmbedLayout *l = g_new0 (EmbedLayout, 1);
  l->n = f->n;
  l->y = g_new0 (float, 2 * (gsize) f->n);
  l->final = TRUE;
  l->kl = NAN;
  l->ratio[0] = l->ratio[1] = NAN;
  double t0 = fw_now ();
  if (in->tsne)
    {
      FwTsneParams prm;
      TsneCtx ctx = { job, in->gate };
      fw_tsne_params_init (&prm);
      prm.perplexity = in->perplexity;
      prm.n_iter = in->n_iter;
      prm.seed = in->seed;
      prm.callback = tsne_frame;
      prm.user_data = &ctx;
      prm.callback_every = FRAME_EVERY;
      prm.cancellable = cancellable;
      if (in->init != NULL)
        {
          prm.init = in->init;
          prm.exaggeration_iters = 0;
        }
      if (!fw_tsne_run (f->x, f->n, f->d, &prm, l->y, error))
        {
          embed_layout_free (l);
          return FALSE;
        }
      l->iter = l->n_iter = in->n_iter;
    }
  else
    {
      g_autoptr (FwPca) pca = fw_pca_fit (f->x, f->n, f->d, MIN (2, f->d), error);
      if (pca == NULL)
        {
          embed_layout_free (l);
          return FALSE;
        }
      g_autofree float *yk = g_new (float, (gsize) f->n * pca->k);
      fw_pca_transform (pca, f->x, f->n, yk);
      for (int i = 0; i < f->n; i++)
        {
          l->y[2 * i] = yk[(gsize) i * pca->k];
          l->y[2 * i + 1] = pca->k > 1 ? yk[(gsize) i * pca->k + 1] : 0.0f;
        }
      l->ratio[0] = pca->ratio[0];
      l->ratio[1] = pca->k > 1 ? pca->ratio[1] : 0.0;
    }
  l->seconds = fw_now () - t0;
  l->agreement = nn_agreement (l->y, f->label, f->n);
  g_atomic_int_set (&in->gate->pending, 1);
  fw_job_emit_snapshot (job, "embed-layout", l, embed_layout_free);
  return TRUE;
}

/* ---- the page ---- */

struct _FwPageEmbed {
  GtkWidget parent_instance;

  /* template widgets */
  GtkWidget *root;
  GtkLabel *dataset_label;
  GtkDropDown *source_dropdown;
  GtkDropDown *layer_dropdown;
  GtkDropDown *method_dropdown;
  GtkSpinButton *points_spin;
  GtkSpinButton *perplexity_spin;
  GtkSpinButton *iter_spin;
  GtkSpinButton *seed_spin;
  GtkDropDown *color_dropdown;
  GtkCheckButton *keep_check;
  GtkPicture *selected_picture;
  GtkLabel *selected_label;
  GtkWidget *run_button;
  GtkWidget *cancel_button;
  GtkLabel *summary_label;
  GtkBox *plot_box;

  /* the plot (owned) and its view (a child) */
  FwScatterPlot *scatter;
  FwPlotView *view;

  /* borrowed */
  FwModelShelf *shelf;    /* connected while rooted */

  /* owned */
  GtkStringList *sources;     /* "Raw pixels" + shelf names */
  GtkStringList *layers;
  FwDataset *own_ds;          /* set by fw_page_embed_set_dataset, else NULL */
  gint32 *own_truth;          /* [own_ds->n] true labels beside own_ds's noisy ones, or NULL */
  FwDataset *points_ds;       /* the dataset of the points shown */
  gint32 *points_truth;       /* [points_ds->n] its true labels, or NULL */
  FwJob *job;
  FrameGate *gate;
  EmbedPoints *points;        /* of the layout shown (or being computed) */
  float *y;                   /* [n x 2] the layout shown */
  int n_y;
  char *points_key;           /* what the points are: continuing needs the same */
  char *method_name;
  guint n_frames;
  int selected;
  char *summary;
};

G_DEFINE_FINAL_TYPE (FwPageEmbed, fw_page_embed, GTK_TYPE_WIDGET)

/* ---- accessors ---- */

FwScatterPlot *fw_page_embed_get_scatter (FwPageEmbed *self) { return self->scatter; }
FwPlotView *fw_page_embed_get_view (FwPageEmbed *self) { return self->view; }
GtkDropDown *fw_page_embed_get_source_dropdown (FwPageEmbed *self) { return self->source_dropdown; }
GtkDropDown *fw_page_embed_get_layer_dropdown (FwPageEmbed *self) { return self->layer_dropdown; }
GtkDropDown *fw_page_embed_get_method_dropdown (FwPageEmbed *self) { return self->method_dropdown; }
GtkDropDown *fw_page_embed_get_color_dropdown (FwPageEmbed *self) { return self->color_dropdown; }
GtkSpinButton *fw_page_embed_get_points_spin (FwPageEmbed *self) { return self->points_spin; }
GtkSpinButton *fw_page_embed_get_iter_spin (FwPageEmbed *self) { return self->iter_spin; }
guint fw_page_embed_get_n_frames (FwPageEmbed *self) { return self->n_frames; }
int fw_page_embed_get_selected (FwPageEmbed *self) { return self->selected; }
const char *fw_page_embed_get_summary (FwPageEmbed *self) { return self->summary; }

const gint32 *
fw_page_embed_get_indices (FwPageEmbed *self, int *n)
{
  *n = self->points != NULL ? self->points->n : 0;
  return self->points != NULL ? self->points->index : NULL;
}

const gint32 *
fw_page_embed_get_labels (FwPageEmbed *self, int *n)
{
  *n = self->points != NULL ? self->points->n : 0;
  return self->points != NULL ? self->points->label : NULL;
}

gboolean
fw_page_embed_is_running (FwPageEmbed *self)
{
  return self->job != NULL;
}

void
fw_page_embed_set_font_scale (FwPageEmbed *self, double scale)
{
  fw_plot_view_set_font_scale (self->view, scale);
}

/* ---- the dataset and the model ---- */

static FwDataset *
current_dataset (FwPageEmbed *self)
{
  if (self->own_ds != NULL)
    return self->own_ds;
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  /* while the window is being built its pages may not be bound yet */
  FwPageData *data = win != NULL ? fw_window_get_page_data (win) : NULL;
  return data != NULL ? fw_page_data_get_dataset (data) : NULL;
}

static void
update_dataset_label (FwPageEmbed *self)
{
  FwDataset *ds = current_dataset (self);
  g_autofree char *text = NULL;
  if (ds == NULL)
    text = g_strdup ("No dataset yet: choose one on the Data page.");
  else
    text = g_strdup_printf ("%s (%d samples, %dx%dx%d)", ds->name != NULL ? ds->name : "dataset",
                            ds->n, ds->shape.c, ds->shape.h, ds->shape.w);
  gtk_label_set_text (self->dataset_label, text);
}

void
fw_page_embed_set_dataset (FwPageEmbed *self, FwDataset *ds)
{
  fw_page_embed_set_noisy_dataset (self, ds, NULL);
}

void
fw_page_embed_set_noisy_dataset (FwPageEmbed *self, FwDataset *ds, const gint32 *true_labels)
{
  g_return_if_fail (FW_IS_PAGE_EMBED (self));
  g_clear_pointer (&self->own_ds, fw_dataset_unref);
  g_clear_pointer (&self->own_truth, g_free);
  if (ds != NULL)
    {
      self->own_ds = fw_dataset_ref (ds);
      if (true_labels != NULL)
        self->own_truth = g_memdup2 (true_labels, sizeof (gint32) * ds->n);
    }
  update_dataset_label (self);
}

/* The shelf item of the source drop-down's choice, or NULL for raw pixels. */
static FwShelfItem *
selected_item (FwPageEmbed *self)
{
  guint pos = gtk_drop_down_get_selected (self->source_dropdown);
  if (self->shelf == NULL || pos == 0 || pos == GTK_INVALID_LIST_POSITION)
    return NULL;
  return g_list_model_get_item (G_LIST_MODEL (self->shelf), pos - 1);   /* transfer full */
}

static void
refill_layers (FwPageEmbed *self)
{
  g_autoptr (FwShelfItem) item = selected_item (self);
  guint old = g_list_model_get_n_items (G_LIST_MODEL (self->layers));
  FwModel *m = item != NULL ? fw_shelf_item_get_model (item) : NULL;

  if (m == NULL)
    {
      const char *const none[] = { "(pixels)", NULL };
      gtk_string_list_splice (self->layers, 0, old, none);
      gtk_widget_set_sensitive (GTK_WIDGET (self->layer_dropdown), FALSE);
      return;
    }
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; i < m->n_layers; i++)
    g_ptr_array_add (names, fw_features_layer_label (m, i));
  g_ptr_array_add (names, NULL);
  gtk_string_list_splice (self->layers, 0, old, (const char *const *) names->pdata);
  gtk_widget_set_sensitive (GTK_WIDGET (self->layer_dropdown), TRUE);
  /* the last hidden layer: the one before the logits (and before their activation) */
  int pick = MAX (0, m->n_layers - 2);
  gtk_drop_down_set_selected (self->layer_dropdown, pick);
}

static void
refill_sources (FwPageEmbed *self)
{
  guint old = g_list_model_get_n_items (G_LIST_MODEL (self->sources));
  guint keep = gtk_drop_down_get_selected (self->source_dropdown);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  g_ptr_array_add (names, (gpointer) "Raw pixels");
  guint n = self->shelf != NULL ? g_list_model_get_n_items (G_LIST_MODEL (self->shelf)) : 0;
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < n; i++)
    {
      FwShelfItem *it = g_list_model_get_item (G_LIST_MODEL (self->shelf), i);
      g_ptr_array_add (items, it);
      g_ptr_array_add (names, (gpointer) fw_shelf_item_get_name (it));
    }
  g_ptr_array_add (names, NULL);
  gtk_string_list_splice (self->sources, 0, old, (const char *const *) names->pdata);
  /* a new model on the shelf is the likely subject: select it; else keep the choice */
  if (n > 0 && n + 1 > old && old > 0)
    keep = n;
  if (keep == GTK_INVALID_LIST_POSITION || keep > n)
    keep = 0;
  gtk_drop_down_set_selected (self->source_dropdown, keep);
  refill_layers (self);
}

static void
shelf_changed (GListModel *model, guint position, guint removed, guint added, FwPageEmbed *self)
{
  refill_sources (self);
}

/* Follows the application's shelf; the window knows its application only once shown, so
 * this runs when rooted, when mapped and before a run. */
static void
ensure_shelf (FwPageEmbed *self)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  FwModelShelf *shelf = win != NULL ? fw_window_get_shelf (win) : NULL;
  if (shelf == self->shelf)
    return;
  if (self->shelf != NULL)
    g_signal_handlers_disconnect_by_data (self->shelf, self);
  g_set_object (&self->shelf, shelf);
  if (shelf != NULL)
    g_signal_connect (shelf, "items-changed", G_CALLBACK (shelf_changed), self);
  refill_sources (self);
}

/* ---- colours and the plot ---- */

static void
set_class_names (FwPageEmbed *self)
{
  guint mode = gtk_drop_down_get_selected (self->color_dropdown);
  gboolean have_pred = self->points != NULL && self->points->pred != NULL;

  if (mode == FW_EMBED_COLOR_NOISY && self->points_truth != NULL)
    {
      const char *const names[] = { "clean label", "flipped label" };
      fw_scatter_plot_set_class_names (self->scatter, names, 2);
    }
  else if (mode == FW_EMBED_COLOR_CORRECT && have_pred)
    {
      const char *const names[] = { "correct", "wrong" };
      fw_scatter_plot_set_class_names (self->scatter, names, 2);
    }
  else if (mode == FW_EMBED_COLOR_CONFIDENCE && have_pred)
    {
      const char *const names[] = { "confidence \u2265 90%", "50\u201390%", "< 50%" };
      fw_scatter_plot_set_class_names (self->scatter, names, 3);
    }
  else if (self->points_ds != NULL && self->points_ds->class_names != NULL)
    fw_scatter_plot_set_class_names (self->scatter,
                                     (const char *const *) self->points_ds->class_names,
                                     (guint) self->points_ds->n_classes);
  else
    fw_scatter_plot_set_class_names (self->scatter, NULL, 0);
}

/* Pushes the layout shown with the colours of the current mode. set_points resets the view:
 * only done when the layout changes. */
static void
show_layout (FwPageEmbed *self)
{
  if (self->points == NULL || self->y == NULL || self->n_y != self->points->n)
    return;
  int n = self->n_y;
  guint mode = gtk_drop_down_get_selected (self->color_dropdown);
  gboolean have_pred = self->points->pred != NULL;
  g_autofree int *cls = g_new (int, n);
  for (int i = 0; i < n; i++)
    {
      if (mode == FW_EMBED_COLOR_NOISY && self->points_truth != NULL)
        cls[i] = self->points_truth[self->points->index[i]] == self->points->label[i] ? 0 : 1;
      else if (mode == FW_EMBED_COLOR_CORRECT && have_pred)
        cls[i] = self->points->pred[i] == self->points->label[i] ? 0 : 1;
      else if (mode == FW_EMBED_COLOR_CONFIDENCE && have_pred)
        cls[i] = self->points->conf[i] >= 0.9f ? 0 : self->points->conf[i] >= 0.5f ? 1 : 2;
      else
        cls[i] = self->points->label[i];
    }
  set_class_names (self);
  fw_scatter_plot_set_points (self->scatter, self->y, cls, n);
  fw_plot_view_queue_update (self->view);
}

static void
color_changed (FwPageEmbed *self)
{
  guint mode = gtk_drop_down_get_selected (self->color_dropdown);
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  if (win != NULL && self->points != NULL)
    {
      if (mode == FW_EMBED_COLOR_NOISY && self->points_truth == NULL)
        fw_window_show_toast (win, "This dataset has no known true labels: colours by class. "
                                   "Noisy datasets come from the Noise page.");
      else if ((mode == FW_EMBED_COLOR_CORRECT || mode == FW_EMBED_COLOR_CONFIDENCE)
               && self->points->pred == NULL)
        fw_window_show_toast (win, "Raw pixels have no predictions: colours by class. "
                                   "Choose a shelf model as the source.");
    }
  /* keep the user's zoom: set_points resets it */
  double x0, x1, y0, y1;
  fw_scatter_plot_get_view (self->scatter, &x0, &x1, &y0, &y1);
  gboolean had = fw_scatter_plot_get_n_points (self->scatter) > 0;
  show_layout (self);
  if (had)
    fw_scatter_plot_set_view (self->scatter, x0, x1, y0, y1);
  fw_plot_view_queue_update (self->view);
}

/* The class's name, or NULL when it has none or is just its number ("3") */
static const char *
class_name (FwPageEmbed *self, int k)
{
  FwDataset *ds = self->points_ds;
  if (ds == NULL || ds->class_names == NULL || k < 0 || k >= ds->n_classes
      || ds->class_names[k] == NULL)
    return NULL;
  char num[16];
  g_snprintf (num, sizeof num, "%d", k);
  return strcmp (num, ds->class_names[k]) == 0 ? NULL : ds->class_names[k];
}

static char *
describe_point (FwPageEmbed *self, int i)
{
  const EmbedPoints *p = self->points;
  int lab = p->label[i];
  const char *ln = class_name (self, lab);
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "<b>Sample %d</b>\nclass: <span color='%s'>\u25cf</span> %d",
                          p->index[i], fw_palette_hex (lab), lab);
  if (ln != NULL)
    {
      g_autofree char *esc = g_markup_escape_text (ln, -1);
      g_string_append_printf (s, " %s", esc);
    }
  if (self->points_truth != NULL && self->points_truth[p->index[i]] != lab)
    {
      int t = self->points_truth[p->index[i]];
      const char *tn = class_name (self, t);
      g_autofree char *esc = tn != NULL ? g_markup_escape_text (tn, -1) : g_strdup ("");
      g_string_append_printf (s, "\n<b>flipped</b>: true class %d%s%s", t,
                              tn != NULL ? " " : "", esc);
    }
  if (p->pred != NULL)
    {
      const char *pn = class_name (self, p->pred[i]);
      g_autofree char *esc = pn != NULL ? g_markup_escape_text (pn, -1) : g_strdup ("");
      g_string_append_printf (s, "\npredicted: %d%s%s (%.1f%%)%s", p->pred[i],
                              pn != NULL ? " " : "", esc,
                              100.0 * p->conf[i],
                              p->pred[i] == lab ? "" : " \u2014 <b>wrong</b>");
    }
  return g_string_free (s, FALSE);
}

static GdkTexture *
sample_texture (FwPageEmbed *self, int i, int min_size)
{
  if (self->points == NULL || self->points_ds == NULL || i < 0 || i >= self->points->n)
    return NULL;
  int w0 = MAX (1, self->points_ds->shape.w);
  int scale = MAX (1, (min_size + w0 - 1) / w0);
  int w = 0, h = 0;
  g_autoptr (GBytes) px = fw_sample_pixels_rgb (self->points_ds, self->points->index[i], scale,
                                                &w, &h);
  if (px == NULL || w <= 0 || h <= 0)
    return NULL;
  return gdk_memory_texture_new (w, h, GDK_MEMORY_R8G8B8, px, (gsize) w * 3);
}

static GdkTexture *
thumbnail_cb (FwPlotView *view, gsize index, gpointer user_data)
{
  return sample_texture (FW_PAGE_EMBED (user_data), (int) index, THUMB_MIN);
}

static char *
tooltip_cb (FwPlotView *view, gsize index, gpointer user_data)
{
  FwPageEmbed *self = FW_PAGE_EMBED (user_data);
  if (self->points == NULL || index >= (gsize) self->points->n)
    return NULL;
  return describe_point (self, (int) index);
}

void
fw_page_embed_select (FwPageEmbed *self, int i)
{
  if (self->points == NULL || i < 0 || i >= self->points->n)
    {
      self->selected = -1;
      gtk_picture_set_paintable (self->selected_picture, NULL);
      gtk_label_set_text (self->selected_label,
                          "Click a point to see its sample here; hover one to see its image.");
      gtk_widget_add_css_class (GTK_WIDGET (self->selected_label), "dim-label");
      fw_scatter_plot_set_highlight (self->scatter, -1);
      fw_plot_view_queue_update (self->view);
      return;
    }
  self->selected = i;
  g_autoptr (GdkTexture) tex = sample_texture (self, i, SELECTED_MIN);
  gtk_picture_set_paintable (self->selected_picture, GDK_PAINTABLE (tex));
  g_autofree char *text = describe_point (self, i);
  gtk_label_set_markup (self->selected_label, text);
  gtk_widget_remove_css_class (GTK_WIDGET (self->selected_label), "dim-label");
  fw_scatter_plot_set_highlight (self->scatter, i);
  fw_plot_view_queue_update (self->view);
}

static void
item_activated (FwPlotView *view, int index, FwPageEmbed *self)
{
  fw_page_embed_select (self, index);
}

/* ---- the job ---- */

static void
set_running (FwPageEmbed *self, gboolean running)
{
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "embed.run", !running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "embed.cancel", running);
}

static void
set_summary (FwPageEmbed *self, const char *markup)
{
  g_free (self->summary);
  self->summary = g_strdup (markup);
  gtk_label_set_markup (self->summary_label, markup);
}

static void
embed_event (FwJob *job, const FwEvent *ev, gpointer user_data)
{
  FwPageEmbed *self = FW_PAGE_EMBED (user_data);

  if (job != self->job)
    return;
  switch (ev->kind)
    {
    case FW_EVENT_SNAPSHOT:
      if (g_strcmp0 (ev->payload_type, "embed-points") == 0)
        {
          const EmbedPoints *src = ev->payload;
          EmbedPoints *p = g_new0 (EmbedPoints, 1);
          *p = *src;
          p->index = g_memdup2 (src->index, sizeof (gint32) * src->n);
          p->label = g_memdup2 (src->label, sizeof (gint32) * src->n);
          p->pred = src->pred != NULL ? g_memdup2 (src->pred, sizeof (gint32) * src->n) : NULL;
          p->conf = src->conf != NULL ? g_memdup2 (src->conf, sizeof (float) * src->n) : NULL;
          p->desc = g_strdup (src->desc);
          g_clear_pointer (&self->points, embed_points_free);
          self->points = p;
          fw_page_embed_select (self, -1);
          g_autofree char *msg = g_strdup_printf ("%s of %d points \u00b7 %s \u2026",
                                                  self->method_name, p->n, p->desc);
          set_summary (self, msg);
        }
      else if (g_strcmp0 (ev->payload_type, "embed-layout") == 0)
        {
          const EmbedLayout *l = ev->payload;
          if (self->points == NULL || l->n != self->points->n)
            break;
          g_free (self->y);
          self->y = g_memdup2 (l->y, sizeof (float) * 2 * l->n);
          self->n_y = l->n;
          self->n_frames++;
          show_layout (self);
          g_atomic_int_set (&self->gate->pending, 0);
          g_autofree char *msg = NULL;
          if (!l->final)
            msg = g_strdup_printf ("%s of %d points \u00b7 %s \u00b7 iteration %d/%d, "
                                   "KL %.3f", self->method_name, l->n, self->points->desc,
                                   l->iter, l->n_iter, l->kl);
          else
            {
              g_autofree char *secs = fw_format_seconds (l->seconds);
              g_autofree char *agree = fw_format_percent (l->agreement);
              if (isnan (l->ratio[0]))
                msg = g_strdup_printf ("%s of %d points \u00b7 %s \u00b7 %s \u00b7 "
                                       "nearest neighbour same class: %s", self->method_name,
                                       l->n, self->points->desc, secs, agree);
              else
                msg = g_strdup_printf ("%s of %d points \u00b7 %s \u00b7 %s \u00b7 variance "
                                       "explained %.1f%% + %.1f%% \u00b7 nearest neighbour "
                                       "same class: %s", self->method_name, l->n,
                                       self->points->desc, secs, 100.0 * l->ratio[0],
                                       100.0 * l->ratio[1], agree);
            }
          set_summary (self, msg);
        }
      break;
    case FW_EVENT_FINISHED:
    case FW_EVENT_FAILED:
    case FW_EVENT_CANCELLED:
      g_clear_pointer (&self->job, fw_job_unref);
      set_running (self, FALSE);
      if (ev->kind == FW_EVENT_CANCELLED)
        set_summary (self, "Embedding cancelled: the layout reached stays.");
      else if (ev->kind == FW_EVENT_FAILED && ev->error != NULL)
        {
          g_autofree char *esc = g_markup_escape_text (ev->error->message, -1);
          set_summary (self, esc);
        }
      break;
    default:
      break;
    }
}

void
fw_page_embed_run (FwPageEmbed *self)
{
  FwWindow *win = fw_window_for_widget (GTK_WIDGET (self));
  g_return_if_fail (FW_IS_PAGE_EMBED (self));
  if (win == NULL || self->job != NULL)
    return;

  ensure_shelf (self);
  FwDataset *ds = current_dataset (self);
  update_dataset_label (self);
  if (ds == NULL)
    {
      fw_window_show_error (win, "No dataset to embed: choose one on the Data page.");
      return;
    }
  g_autoptr (FwShelfItem) item = selected_item (self);
  FwModel *m = item != NULL ? fw_shelf_item_get_model (item) : NULL;
  int layer = (int) gtk_drop_down_get_selected (self->layer_dropdown);
  if (m != NULL)
    {
      if (fw_shape_size (ds->shape) != fw_shape_size (m->input))
        {
          g_autofree char *msg = g_strdup_printf (
            "The model %s takes %dx%dx%d inputs but the dataset has %dx%dx%d samples: load "
            "the dataset it was trained on, or embed the raw pixels.",
            fw_shelf_item_get_name (item), m->input.c, m->input.h, m->input.w,
            ds->shape.c, ds->shape.h, ds->shape.w);
          fw_window_show_error (win, msg);
          return;
        }
      if (layer < 0 || layer >= m->n_layers)
        layer = MAX (0, m->n_layers - 2);
    }

  EmbedInput *in = g_new0 (EmbedInput, 1);
  in->ds = fw_dataset_ref (ds);
  in->model = m != NULL ? fw_model_copy (m) : NULL;   /* the worker's own copy */
  in->layer = layer;
  in->tsne = gtk_drop_down_get_selected (self->method_dropdown) == 1;
  in->n = gtk_spin_button_get_value_as_int (self->points_spin);
  in->n_iter = gtk_spin_button_get_value_as_int (self->iter_spin);
  in->perplexity = gtk_spin_button_get_value (self->perplexity_spin);
  in->seed = (guint64) gtk_spin_button_get_value_as_int (self->seed_spin);

  /* continuing needs the same points: same dataset, count and seed */
  g_autofree char *key = g_strdup_printf ("%p:%d:%" G_GUINT64_FORMAT, (void *) ds,
                                          MIN (in->n, ds->n), in->seed);
  if (in->tsne && gtk_check_button_get_active (self->keep_check) && self->y != NULL
      && g_strcmp0 (key, self->points_key) == 0)
    in->init = g_memdup2 (self->y, sizeof (float) * 2 * self->n_y);
  g_free (self->points_key);
  self->points_key = g_steal_pointer (&key);

  g_clear_pointer (&self->points_ds, fw_dataset_unref);
  g_clear_pointer (&self->points_truth, g_free);
  self->points_ds = fw_dataset_ref (ds);
  if (ds == self->own_ds && self->own_truth != NULL)
    self->points_truth = g_memdup2 (self->own_truth, sizeof (gint32) * ds->n);
  g_clear_pointer (&self->gate, frame_gate_unref);
  self->gate = frame_gate_new ();
  in->gate = g_atomic_rc_box_acquire (self->gate);
  g_free (self->method_name);
  self->method_name = g_strdup (in->tsne ? "t-SNE" : "PCA");
  self->n_frames = 0;

  g_autofree char *name = g_strdup_printf ("%s embedding", self->method_name);
  fw_window_clear_error (win);
  set_summary (self, in->tsne ? "Computing features and neighbour affinities\u2026"
                              : "Computing features\u2026");
  self->job = fw_window_submit_job (win, name, embed_job_run, in, embed_input_free,
                                    embed_event, self);
  set_running (self, TRUE);
}

gboolean
fw_page_embed_show_model (FwPageEmbed *self, FwModel *model)
{
  g_return_val_if_fail (FW_IS_PAGE_EMBED (self), FALSE);
  ensure_shelf (self);
  if (self->shelf == NULL || self->job != NULL)
    return FALSE;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->shelf));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (FwShelfItem) item = g_list_model_get_item (G_LIST_MODEL (self->shelf), i);
      if (fw_shelf_item_get_model (item) == model)
        {
          gtk_drop_down_set_selected (self->source_dropdown, i + 1);
          refill_layers (self);
          fw_page_embed_run (self);
          return self->job != NULL;
        }
    }
  return FALSE;
}

static void
run_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  fw_page_embed_run (FW_PAGE_EMBED (widget));
}

static void
cancel_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  FwPageEmbed *self = FW_PAGE_EMBED (widget);
  if (self->job != NULL)
    fw_job_cancel (self->job);
}

/* ---- life cycle ---- */

static void
fw_page_embed_root (GtkWidget *widget)
{
  FwPageEmbed *self = FW_PAGE_EMBED (widget);
  GTK_WIDGET_CLASS (fw_page_embed_parent_class)->root (widget);
  ensure_shelf (self);
  update_dataset_label (self);
}

static void
fw_page_embed_map (GtkWidget *widget)
{
  FwPageEmbed *self = FW_PAGE_EMBED (widget);
  GTK_WIDGET_CLASS (fw_page_embed_parent_class)->map (widget);
  ensure_shelf (self);
  update_dataset_label (self);
}

static void
fw_page_embed_dispose (GObject *object)
{
  FwPageEmbed *self = FW_PAGE_EMBED (object);

  if (self->job != NULL)
    fw_job_cancel (self->job);
  g_clear_pointer (&self->job, fw_job_unref);
  if (self->shelf != NULL)
    g_signal_handlers_disconnect_by_data (self->shelf, self);
  g_clear_object (&self->shelf);
  gtk_widget_dispose_template (GTK_WIDGET (self), FW_TYPE_PAGE_EMBED);
  G_OBJECT_CLASS (fw_page_embed_parent_class)->dispose (object);
}

static void
fw_page_embed_finalize (GObject *object)
{
  FwPageEmbed *self = FW_PAGE_EMBED (object);

  g_clear_pointer (&self->scatter, fw_scatter_plot_unref);
  g_clear_object (&self->sources);
  g_clear_object (&self->layers);
  g_clear_pointer (&self->own_ds, fw_dataset_unref);
  g_clear_pointer (&self->own_truth, g_free);
  g_clear_pointer (&self->points_ds, fw_dataset_unref);
  g_clear_pointer (&self->points_truth, g_free);
  g_clear_pointer (&self->gate, frame_gate_unref);
  g_clear_pointer (&self->points, embed_points_free);
  g_free (self->y);
  g_free (self->points_key);
  g_free (self->method_name);
  g_free (self->summary);
  G_OBJECT_CLASS (fw_page_embed_parent_class)->finalize (object);
}

static void
fw_page_embed_class_init (FwPageEmbedClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = fw_page_embed_dispose;
  object_class->finalize = fw_page_embed_finalize;
  widget_class->root = fw_page_embed_root;
  widget_class->map = fw_page_embed_map;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/frugal/Workbench/ui/fw-page-embed.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, FwPageEmbed, name)
  BIND (root);
  BIND (dataset_label);
  BIND (source_dropdown);
  BIND (layer_dropdown);
  BIND (method_dropdown);
  BIND (points_spin);
  BIND (perplexity_spin);
  BIND (iter_spin);
  BIND (seed_spin);
  BIND (color_dropdown);
  BIND (keep_check);
  BIND (selected_picture);
  BIND (selected_label);
  BIND (run_button);
  BIND (cancel_button);
  BIND (summary_label);
  BIND (plot_box);
#undef BIND
  gtk_widget_class_install_action (widget_class, "embed.run", NULL, run_action);
  gtk_widget_class_install_action (widget_class, "embed.cancel", NULL, cancel_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_r, GDK_CONTROL_MASK, "embed.run",
                                       NULL);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
fw_page_embed_init (FwPageEmbed *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->selected = -1;

  self->sources = gtk_string_list_new (NULL);
  self->layers = gtk_string_list_new (NULL);
  gtk_drop_down_set_model (self->source_dropdown, G_LIST_MODEL (self->sources));
  gtk_drop_down_set_model (self->layer_dropdown, G_LIST_MODEL (self->layers));
  refill_sources (self);

  self->scatter = fw_scatter_plot_new ();
  fw_scatter_plot_set_empty_text (self->scatter, "Press Embed (Ctrl+R): each sample becomes a "
                                                 "point, near points have similar features");
  fw_scatter_plot_set_point_size (self->scatter, 5);
  self->view = FW_PLOT_VIEW (fw_plot_view_new ());
  gtk_widget_set_hexpand (GTK_WIDGET (self->view), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self->view), TRUE);
  fw_plot_view_set_export_name (self->view, "embedding");
  fw_plot_view_set_scatter (self->view, self->scatter);
  fw_plot_view_set_thumbnail_func (self->view, thumbnail_cb, self, NULL);
  fw_plot_view_set_tooltip_func (self->view, tooltip_cb, self, NULL);
  gtk_box_append (self->plot_box, GTK_WIDGET (self->view));
  g_signal_connect (self->view, "item-activated", G_CALLBACK (item_activated), self);

  g_signal_connect_swapped (self->source_dropdown, "notify::selected",
                            G_CALLBACK (refill_layers), self);
  g_signal_connect_swapped (self->color_dropdown, "notify::selected",
                            G_CALLBACK (color_changed), self);
  set_running (self, FALSE);
  set_summary (self, "Embeddings: where the features put each sample");
}
