/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-lecture.h: lecture demos: a recipe with a [lecture] group, run as one job that yields
 * figure panels (pure data; ui/fw-lecture-figure.h draws them).
 *
 * A lecture demo is an ordinary recipe file (resources/recipes/lecture/NAME.ini) with one extra
 * group that says what the demo is and how it is shown:
 *
 *   [lecture]  title = Label-noise curves              shown in the menu and on the stage
 *              section = III. Noisy labels             the course part it belongs to
 *              order = 20                              position inside the section
 *              explanation = One paragraph ...         shown beside the demo
 *              page = noise                            the GUI page that shows the work
 *              demo = noise-curve                      what runs (see below)
 *              steps = data;train;curve                the reveal order (Page Down / Space)
 *              note = 2,000 training images ...        what was reduced to fit in 60 s
 *              reduced = data.train_limit=300;train.epochs=1   overrides for --reduced (tests)
 *              requires = prune                        a feature group the build must have
 *
 * plus the demo's own keys (all optional, with defaults):
 *   train            a training run: learning curves, test confusion matrix
 *   compare          variants = NAME: group.key=value,...; NAME: ... trained one after the
 *                    other (same data, same seed): test accuracy per epoch per variant
 *   augment-gallery  pipeline (default [data] augment), samples = 15, sample = 0 (index)
 *   cutmix           pipeline = cutmix:p=1 (or mixup), samples = 6 pairs
 *   augment-sweep    labels = 5,10,20 (per class), seeds = 2, updates = 300
 *   noise-curve      rates = 0,0.2,0.4,0.6, sizes = 1000,4000, seeds = 1
 *   size-compensation  the same keys: noise curves, then the size each rate needs
 *   sigma-n          sigma = 1, ns = 1,2,4,...,256, trials = 2000
 *   noise-embed      points = 600 (test points embedded by PCA of the last hidden layer)
 *   ext              the recipe's feature group ([prune], [transfer] ...) runs its own job
 *                    (fw-recipe-ext.h) into <run folder>/work; the figure draws the tables it
 *                    wrote: plot = FILE: x=COL, y=COL[, series=COL][, title=TEXT][, log_y] | ...
 *                    (one panel per plot, mean +- std over rows sharing series and x);
 *                    pretrain = GROUP.KEY: overrides trains a model from the base groups
 *                    first and hands its file to the feature (distill.teacher)
 *
 * [lecture] is registered as a recipe extension without a job (fw-recipe-ext.h): the base
 * loader accepts it and checks its key names; everything else about it is read here.
 *
 * Determinism: every random choice comes from [run] seed, so a demo replays bit-identically
 * (same metrics.csv bytes) with the same seed and thread count. */
#pragma once

#include <gio/gio.h>

#include "fw-job.h"
#include "fw-recipe.h"

G_BEGIN_DECLS

/* NULL-terminated valid key names of [lecture] */
const char *const *fw_lecture_keys (void);

typedef struct {
  char *name;          /* file basename without .ini */
  char *path;
  char *title, *section, *explanation, *page, *demo, *note, *requires;
  int order;
  char **steps;        /* NULL-terminated, at least one */
  gboolean available;  /* FALSE: the build lacks `requires` (recipe == NULL) */
  char *unavailable;   /* why, when !available */
  gboolean reduced;    /* the reduced overrides were applied */
  FwRecipe *recipe;    /* the base recipe (NULL when unavailable) */
  GKeyFile *kf;        /* the whole file (after the reduced overrides) */
} FwLecture;

/* Loads a lecture recipe. reduced: apply [lecture] reduced overrides. Errors name the file,
 * group and key. A demo whose `requires` is not built loads with available = FALSE. */
FwLecture *fw_lecture_load  (const char *path, gboolean reduced, GError **error);
FwLecture *fw_lecture_load_data (const char *data, gsize len, const char *name,
                                 gboolean reduced, GError **error);
void       fw_lecture_free  (FwLecture *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwLecture, fw_lecture_free)

/* The folder of the lecture recipes: $FW_LECTURE_DIR, else the installed folder when it
 * exists, else the source tree's resources/recipes/lecture. */
char      *fw_lecture_dir   (void);
/* Every *.ini of dir loaded (unreduced), sorted by course section, then order, then name
 * (a GPtrArray of FwLecture, free func set). A file that fails to load is an error. */
GPtrArray *fw_lecture_list  (const char *dir, GError **error);
/* NAME or NAME.ini in dir, or a path to a file. */
char      *fw_lecture_find  (const char *dir, const char *name, GError **error);
/* Sorting rank of a section title ("I. ..." < "II. ..." < "III. ..."; others last). */
int        fw_lecture_section_rank (const char *section);
/* The index of step `name` in l->steps, or -1. */
int        fw_lecture_step_index (const FwLecture *l, const char *name);

/* ---- results: figure panels (pure data) ---------------------------------------------------- */

typedef enum {
  FW_PANEL_IMAGES,   /* a grid of small images with captions */
  FW_PANEL_CURVES,   /* line series (x, y, optional band) */
  FW_PANEL_POINTS,   /* a 2-D scatter coloured by class */
  FW_PANEL_MATRIX,   /* a k x k matrix (confusion) */
} FwPanelKind;

typedef struct {
  char *name;
  int color;           /* class palette index */
  gboolean dashed, markers;
  GArray *x, *y, *lo, *hi;   /* doubles; lo/hi NaN = no band at that point */
} FwPanelSeries;

typedef struct {
  char *step;          /* the step that reveals the panel */
  char *title;
  FwPanelKind kind;
  /* IMAGES */
  int w, h, c, columns;
  GArray *pixels;      /* floats, per image h x w x c interleaved (ready for FwImageGrid) */
  GPtrArray *captions; /* char *, markup-free text */
  GArray *caption_colors;  /* int, palette index or -1 */
  /* CURVES */
  char *x_label, *x_unit, *y_label, *y_unit;
  gboolean log_y;
  double y_min, y_max; /* NAN = automatic */
  double x_min, x_max; /* NAN = automatic */
  GPtrArray *series;   /* FwPanelSeries */
  gboolean categorical;  /* one series per category, its one point at x = 1, 2, ... (bars) */
  /* POINTS */
  GArray *xy;          /* floats, 2 per point */
  GArray *classes;     /* int per point */
  char **class_names;
  /* MATRIX */
  int rows, cols;
  GArray *values;      /* doubles rows x cols */
  char *row_title, *col_title;
} FwPanel;

/* A model a demo trained (the GUI puts it on the shelf). */
typedef struct {
  char *name;          /* "robust-training: GCE (q = 0.7)" */
  char *path;          /* its model.safetensors */
  double accuracy;     /* test accuracy, NaN without a test set */
  GArray *metrics;     /* FwEpochMetrics */
} FwLectureModel;

typedef struct {
  GPtrArray *panels;   /* FwPanel */
  GPtrArray *models;   /* FwLectureModel (not part of the figure) */
  char *summary;       /* one line for the CLI / stage */
  char *run_dir;       /* where metrics.csv and the rest were written, or NULL */
} FwLectureResult;

FwLectureResult *fw_lecture_result_new  (void);
FwLectureResult *fw_lecture_result_copy (const FwLectureResult *r);
void             fw_lecture_result_free (FwLectureResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwLectureResult, fw_lecture_result_free)

FwPanel       *fw_panel_new          (FwLectureResult *r, FwPanelKind kind, const char *step,
                                      const char *title);  /* appended to r, transfer none */
FwPanelSeries *fw_panel_add_series   (FwPanel *p, const char *name, int color);
void           fw_panel_series_append (FwPanelSeries *s, double x, double y, double lo,
                                       double hi);
void           fw_panel_add_image    (FwPanel *p, const float *hwc, const char *caption,
                                      int caption_color);
/* The panels as CSV (panel,series,x,y,lo,hi for curves; panel,row,col,value for matrices),
 * numbers with 9 significant digits: the demo's metrics file (replay compares it bytewise). */
char          *fw_lecture_result_metrics_csv (const FwLectureResult *r);

/* The job: data = an FwLecture (owned by the job). Runs the demo, writes the run folder
 * (r->out_dir of the recipe: metrics.csv, summary.json, lecture.ini = the recipe as run),
 * emits a SNAPSHOT "lecture-result" (an FwLectureResult copy) whenever panels change and once
 * at the end, and returns the run folder in the FINISHED message. */
gboolean fw_lecture_job_run (FwJob *job, gpointer lecture, GCancellable *cancellable,
                             GError **error);
/* Panels drawn from CSV files with the [lecture] plot syntax, one per spec
 * "DIR/FILE.csv: x=COLUMN, y=COLUMN[, series=COLUMN][, title=TEXT][, log_y][, each_row][, last]"
 * (rows sharing series and x averaged, with their sd), all revealed by the step "plot". For
 * figures of experiment tables (`frugal lecture plot`). */
FwLectureResult *fw_lecture_plot_files (const char *const *specs, GError **error);

/* The same on the calling thread (no events): the final result, or NULL with an error. */
FwLectureResult *fw_lecture_run_sync (const FwLecture *l, GCancellable *cancellable,
                                      GError **error);

G_END_DECLS
