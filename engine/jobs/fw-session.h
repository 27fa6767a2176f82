/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-session.h: session snapshots: the whole workbench state in one file (.fwsession).
 *
 * What a session holds: the open page, the dataset spec, the augmentation pipeline, the
 * presentation state and the lecture demo on the stage (with its revealed step), the models of
 * the shelf (weights, accuracy, learning curves) and the lecture runs (their result panels).
 * Datasets are referenced by spec, not copied: they are local files or the simulator, so a
 * session opens offline with no recomputation.
 *
 * The file: a small container of named entries.
 *
 *   offset 0   "FWSESS01"                          magic and format version
 *          8   u32 n_entries (1..4096), u32 0      little-endian
 *         16   n_entries times: u16 name length (1..200), name (UTF-8: letters, digits,
 *              '.', '-', '_'), u64 offset, u64 length, 32-byte SHA-256 of the data
 *          ..  the entries' data, in table order, back to back, up to the end of the file
 *
 * Entry 0 is "manifest.ini" (a GKeyFile: [session] page, dataset, pipeline, presentation,
 * lecture, lecture_step; [model N] name, accuracy, run_dir, method, path, file, metrics; [run N] lecture,
 * title, steps, file). Models are .safetensors entries, metrics CSV entries, lecture results a
 * binary panel encoding. Reading validates everything (sizes, order, checksums, names, every
 * key, every model, every panel) and never trusts a length it has not checked against the
 * file size: a corrupt file is an error naming the entry, never a crash. */
#pragma once

#include <gio/gio.h>

#include "fw-lecture.h"
#include "fw-model.h"

G_BEGIN_DECLS

typedef struct {
  char *name;
  double accuracy;     /* [0, 1] or NaN */
  char *run_dir;       /* may be NULL */
  char *method;        /* how it was made ("trained", "pruned" ...), may be NULL */
  char *file;          /* the .safetensors it was saved as, may be NULL */
  FwModel *model;
  GArray *metrics;     /* FwEpochMetrics, may be empty */
} FwSessionModel;

typedef struct {
  char *lecture;       /* the demo's name */
  char *title;
  char **steps;
  FwLectureResult *result;
} FwSessionRun;

typedef struct {
  char *page;          /* the open page, or NULL */
  char *dataset;       /* a dataset spec, or NULL */
  char *pipeline;      /* augmentation pipeline text, or NULL */
  gboolean presentation;
  char *lecture;       /* the demo on the lecture stage, or NULL */
  int lecture_step;    /* its revealed step (-1 = none) */
  GPtrArray *models;   /* FwSessionModel */
  GPtrArray *runs;     /* FwSessionRun */
} FwSession;

FwSession      *fw_session_new        (void);
void            fw_session_free       (FwSession *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwSession, fw_session_free)

/* Appends a model (takes a reference on model, copies metrics; metrics may be NULL). */
FwSessionModel *fw_session_add_model  (FwSession *s, const char *name, FwModel *model,
                                       double accuracy, const GArray *metrics,
                                       const char *run_dir);
/* Appends a run (copies the result and steps). */
FwSessionRun   *fw_session_add_run    (FwSession *s, const char *lecture, const char *title,
                                       const char *const *steps, const FwLectureResult *r);

/* Writes atomically (temp file + rename). */
gboolean        fw_session_save       (const FwSession *s, const char *path, GError **error);
FwSession      *fw_session_load       (const char *path, GError **error);
/* From bytes in memory (name for the messages). */
FwSession      *fw_session_load_data  (const guint8 *data, gsize len, const char *name,
                                       GError **error);
/* The serialised form (for tests and fuzzers). */
GBytes         *fw_session_to_bytes   (const FwSession *s, GError **error);
/* Several lines: page, dataset, pipeline, each model and run. */
char           *fw_session_describe   (const FwSession *s);

/* Panels <-> bytes (the lecture results inside a session). */
GBytes          *fw_lecture_result_to_bytes   (const FwLectureResult *r);
FwLectureResult *fw_lecture_result_from_bytes (const guint8 *data, gsize len, GError **error);

G_END_DECLS
