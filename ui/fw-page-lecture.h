/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-page-lecture.h: the Lecture page (the start screen): the lecture demos grouped like the
 * course, the chosen demo's explanation, and a stage that reveals its figure step by step
 * (Space / Page Down) while the demo's job runs. */
#pragma once

#include <gtk/gtk.h>

#include "fw-lecture.h"
#include "fw-session.h"

G_BEGIN_DECLS

#define FW_TYPE_PAGE_LECTURE (fw_page_lecture_get_type ())
G_DECLARE_FINAL_TYPE (FwPageLecture, fw_page_lecture, FW, PAGE_LECTURE, GtkWidget)

/* Lists the demos of dir (fw_lecture_dir() by default). A demo whose `requires` feature or
 * page is missing is listed greyed out, "not available in this build". Errors: the folder or
 * a recipe in it. */
gboolean         fw_page_lecture_load_dir     (FwPageLecture *self, const char *dir,
                                               GError **error);
guint            fw_page_lecture_get_n_demos  (FwPageLecture *self);
/* Shows demo `name` (its stored result, if it ran); FALSE if unknown. */
gboolean         fw_page_lecture_select       (FwPageLecture *self, const char *name);
const FwLecture *fw_page_lecture_get_current  (FwPageLecture *self);
/* Available in this build (its feature and its page exist); FALSE for unknown names. */
gboolean         fw_page_lecture_is_available (FwPageLecture *self, const char *name);

/* Runs the current demo (reduced sizes when set, for tests). */
void             fw_page_lecture_run          (FwPageLecture *self);
gboolean         fw_page_lecture_is_running   (FwPageLecture *self);
void             fw_page_lecture_set_reduced  (FwPageLecture *self, gboolean reduced);
/* Step by step: next starts the demo when it has not run, then reveals the next step. */
void             fw_page_lecture_next         (FwPageLecture *self);
void             fw_page_lecture_prev         (FwPageLecture *self);
int              fw_page_lecture_get_step     (FwPageLecture *self);  /* -1: nothing shown */
/* The current demo's result so far (NULL before it ran) and the panels revealed now. */
const FwLectureResult *fw_page_lecture_get_result (FwPageLecture *self);
guint            fw_page_lecture_get_n_visible (FwPageLecture *self);

/* Presentation view: list hidden, only run/step controls, presentation plot style. */
void             fw_page_lecture_set_presentation (FwPageLecture *self, gboolean on);
/* Opens the demo's page with its settings (the "Open ..." button). */
void             fw_page_lecture_open_page    (FwPageLecture *self);
/* The whole figure (every panel) in the presentation style; format from the extension. */
gboolean         fw_page_lecture_export       (FwPageLecture *self, const char *path,
                                               int width, int height, GError **error);
/* The stage as the window draws it now, to a PNG (tests, screenshots). */
gboolean         fw_page_lecture_render_stage (FwPageLecture *self, const char *path,
                                               int width, int height, GError **error);

/* Sessions: the stored results and the current demo and step. */
void             fw_page_lecture_save_session    (FwPageLecture *self, FwSession *s);
void             fw_page_lecture_restore_session (FwPageLecture *self, const FwSession *s);

G_END_DECLS
