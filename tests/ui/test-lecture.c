/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-lecture.c: the Lecture page and the presentation view under Xvfb: the demos listed like
 * the course (unavailable ones greyed out), F5 enters and leaves the presentation view (side
 * panels hidden and restored), Space/Page Down reveal a demo's steps one by one, screenshots of
 * the presentation view in the build folder, and a session snapshot round trip that restores
 * the same shelf, curves and stage. */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "fw-application.h"
#include "fw-lecture-figure.h"
#include "fw-model-shelf.h"
#include "fw-page-lecture.h"
#include "fw-session.h"
#include "fw-window-private.h"
#include "fw-ui-test-util.h"

static FwApplication *app;
static FwWindow *win;
static FwPageLecture *page;
static char *lecture_dir;

static gboolean
page_idle (gpointer p)
{
  return !fw_page_lecture_is_running (page);
}

static const char *
build_dir (void)
{
  const char *d = g_getenv ("G_TEST_BUILDDIR");
  return d != NULL ? d : ".";
}

static gboolean
presentation_on (void)
{
  g_autoptr (GVariant) st = g_action_group_get_action_state (G_ACTION_GROUP (win),
                                                              "presentation");
  return g_variant_get_boolean (st);
}

static void
press_key (guint keyval)
{
  /* the page's key bindings, as the keyboard reaches them from the focused stage */
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (win));
  g_assert_nonnull (focus);
  g_assert_true (focus == GTK_WIDGET (page) || gtk_widget_is_ancestor (focus, GTK_WIDGET (page)));
  const char *action = keyval == GDK_KEY_Page_Up ? "lecture.prev" : "lecture.next";
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), action, NULL));
}

static void
test_lists_demos (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) all = fw_lecture_list (lecture_dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (fw_page_lecture_get_n_demos (page), ==, all->len);
  for (guint i = 0; i < all->len; i++)
    {
      const FwLecture *l = g_ptr_array_index (all, i);
      gboolean has_page = gtk_stack_get_child_by_name (fw_window_get_stack (win), l->page)
                          != NULL;
      g_assert_cmpint (fw_page_lecture_is_available (page, l->name), ==,
                       l->available && has_page);
    }
  /* a demo of a feature this build lacks, and one of a page it lacks: greyed out */
  g_autofree char *dir = g_dir_make_tmp ("fw-test-lecture-dir-XXXXXX", &error);
  g_autofree char *a = g_build_filename (dir, "a.ini", NULL);
  g_autofree char *b = g_build_filename (dir, "b.ini", NULL);
  g_assert_true (g_file_set_contents (a, "[lecture]\ntitle=A\nsection=II. Few labels\n"
                                      "explanation=x\npage=noise\ndemo=ext\nsteps=s\n"
                                      "requires=no-such-feature\n", -1, NULL));
  g_assert_true (g_file_set_contents (b, "[lecture]\ntitle=B\nsection=II. Few labels\n"
                                      "explanation=x\npage=no-such-page\ndemo=sigma-n\n"
                                      "steps=curve\n", -1, NULL));
  g_assert_true (fw_window_load_lecture_demos (win, dir));
  g_assert_cmpuint (fw_page_lecture_get_n_demos (page), ==, 2);
  g_assert_false (fw_page_lecture_is_available (page, "a"));
  g_assert_false (fw_page_lecture_is_available (page, "b"));
  fw_page_lecture_select (page, "a");
  fw_page_lecture_next (page);   /* nothing starts */
  g_assert_false (fw_page_lecture_is_running (page));
  g_assert_null (fw_page_lecture_get_result (page));
  g_unlink (a);
  g_unlink (b);
  g_rmdir (dir);
  g_assert_true (fw_window_load_lecture_demos (win, lecture_dir));
  g_assert_cmpuint (fw_page_lecture_get_n_demos (page), ==, all->len);
}

static void
test_presentation_steps (void)
{
  GtkStack *stack = fw_window_get_stack (win);
  g_action_group_activate_action (G_ACTION_GROUP (win), "lecture-demo",
                                  g_variant_new_string ("augmentation-gallery"));
  fw_ui_spin_for (0.2);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "lecture");
  g_assert_cmpstr (fw_page_lecture_get_current (page)->name, ==, "augmentation-gallery");
  GtkWidget *sidebar = gtk_widget_get_prev_sibling (gtk_widget_get_prev_sibling (
                                                      GTK_WIDGET (stack)));
  g_assert_true (GTK_IS_STACK_SIDEBAR (sidebar));
  g_assert_true (gtk_widget_get_visible (sidebar));

  /* F5: the presentation view */
  g_action_group_activate_action (G_ACTION_GROUP (win), "presentation", NULL);
  fw_ui_spin_for (0.5);
  g_assert_true (presentation_on ());
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (win), "fw-presentation"));
  g_assert_false (gtk_widget_get_visible (sidebar));
  g_assert_cmpint (fw_page_lecture_get_step (page), ==, -1);
  g_assert_cmpuint (fw_page_lecture_get_n_visible (page), ==, 0);

  /* Space: the demo starts and its first step (the sample) shows */
  press_key (GDK_KEY_space);
  g_assert_true (fw_ui_wait_until (page_idle, NULL, 60));
  fw_ui_spin_for (0.3);
  const FwLectureResult *r = fw_page_lecture_get_result (page);
  g_assert_nonnull (r);
  g_assert_cmpint (fw_page_lecture_get_step (page), ==, 0);
  g_assert_cmpuint (fw_page_lecture_get_n_visible (page), ==, 1);
  const FwPanel *p0 = g_ptr_array_index (r->panels, 0);
  g_assert_cmpstr (p0->step, ==, "image");
  g_autofree char *shot1 = g_build_filename (build_dir (), "lecture-presentation-step1.png", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_page_lecture_render_stage (page, shot1, 1920, 1080, &error));
  g_assert_no_error (error);

  /* Page Down: the augmented grid joins it; no step beyond the last */
  press_key (GDK_KEY_Page_Down);
  g_assert_cmpint (fw_page_lecture_get_step (page), ==, 1);
  g_assert_cmpuint (fw_page_lecture_get_n_visible (page), ==, 2);
  const FwPanel *p1 = g_ptr_array_index (r->panels, 1);
  g_assert_cmpuint (p1->captions->len, ==, 5);   /* [lecture] reduced: samples = 5 */
  g_assert_false (gtk_widget_activate_action (GTK_WIDGET (page), "lecture.next", NULL)
                  && fw_page_lecture_get_step (page) != 1);
  g_assert_cmpint (fw_page_lecture_get_step (page), ==, 1);
  g_autofree char *shot2 = g_build_filename (build_dir (), "lecture-presentation-step2.png", NULL);
  g_assert_true (fw_page_lecture_render_stage (page, shot2, 1920, 1080, &error));
  fw_ui_spin_for (0.5);
  g_autofree char *root_shot = g_build_filename (build_dir (), "lecture-presentation-window.png",
                                                 NULL);
  g_autofree char *cmd = g_strdup_printf ("import -window root %s", root_shot);
  int status = 0;
  if (g_spawn_command_line_sync (cmd, NULL, NULL, &status, NULL) && status == 0)
    g_test_message ("wrote %s", root_shot);

  /* Page Up goes back one step */
  press_key (GDK_KEY_Page_Up);
  g_assert_cmpint (fw_page_lecture_get_step (page), ==, 0);
  g_assert_cmpuint (fw_page_lecture_get_n_visible (page), ==, 1);
  press_key (GDK_KEY_Page_Down);

  /* the slide figure: every panel, 1920x1080, in the presentation style */
  g_autofree char *fig = g_build_filename (build_dir (), "lecture-figure.svg", NULL);
  g_assert_true (fw_page_lecture_export (page, fig, 1920, 1080, &error));
  g_assert_no_error (error);
  g_autofree char *svg = NULL;
  g_assert_true (g_file_get_contents (fig, &svg, NULL, NULL));
  g_assert_nonnull (strstr (svg, "width=\"1920"));

  /* F5 again: back to the workbench, panels as they were */
  g_action_group_activate_action (G_ACTION_GROUP (win), "presentation", NULL);
  fw_ui_spin_for (0.3);
  g_assert_false (presentation_on ());
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (win), "fw-presentation"));
  g_assert_true (gtk_widget_get_visible (sidebar));
  g_assert_cmpint (fw_page_lecture_get_step (page), ==, 1);
}

static gboolean
png_differs (const char *a, const char *b)
{
  g_autofree char *x = NULL, *y = NULL;
  gsize lx = 0, ly = 0;
  g_assert_true (g_file_get_contents (a, &x, &lx, NULL));
  g_assert_true (g_file_get_contents (b, &y, &ly, NULL));
  return lx != ly || memcmp (x, y, lx) != 0;
}

static void
test_screenshots_differ_by_step (void)
{
  g_autofree char *a = g_build_filename (build_dir (), "lecture-presentation-step1.png", NULL);
  g_autofree char *b = g_build_filename (build_dir (), "lecture-presentation-step2.png", NULL);
  g_assert_true (png_differs (a, b));
}

static void
test_session_round_trip (void)
{
  FwModelShelf *shelf = fw_window_get_shelf (win);
  guint before = g_list_model_get_n_items (G_LIST_MODEL (shelf));
  /* a training demo at its reduced size puts its model on the shelf */
  g_assert_true (fw_page_lecture_select (page, "plain-training"));
  fw_page_lecture_run (page);
  g_assert_true (fw_page_lecture_is_running (page));
  g_assert_true (fw_ui_wait_until (page_idle, NULL, 120));
  fw_ui_spin_for (0.2);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (shelf));
  g_assert_cmpuint (n, ==, before + 1);
  fw_page_lecture_next (page);
  fw_page_lecture_next (page);
  int step = fw_page_lecture_get_step (page);
  g_assert_cmpint (step, ==, 2);
  g_autofree char *csv_before = fw_lecture_result_metrics_csv (fw_page_lecture_get_result (page));

  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("fw-test-session-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "lecture.fwsession", NULL);
  g_assert_true (fw_window_save_session (win, path, &error));
  g_assert_no_error (error);

  /* what the shelf held, to compare with after the restore */
  g_autoptr (FwShelfItem) last = g_list_model_get_item (G_LIST_MODEL (shelf), n - 1);
  g_autoptr (FwModel) model = fw_model_ref (fw_shelf_item_get_model (last));
  GArray *metrics = fw_shelf_item_get_metrics (last);
  g_assert_nonnull (metrics);
  g_autoptr (GArray) metrics_copy = g_array_copy (metrics);
  double acc = fw_shelf_item_get_accuracy (last);

  /* change everything: another page, another demo, an empty shelf */
  while (g_list_model_get_n_items (G_LIST_MODEL (shelf)) > 0)
    fw_model_shelf_remove (shelf, 0);
  fw_page_lecture_select (page, "sigma-over-n");
  gtk_stack_set_visible_child_name (fw_window_get_stack (win), "noise");

  /* a damaged file changes nothing and says so */
  g_autofree char *bad = g_build_filename (dir, "bad.fwsession", NULL);
  g_autofree char *bytes = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &bytes, &len, NULL));
  bytes[len / 2] ^= 0x40;
  g_assert_true (g_file_set_contents (bad, bytes, len, NULL));
  g_assert_false (fw_window_open_session (win, bad, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (shelf)), ==, 0);

  g_assert_true (fw_window_open_session (win, path, &error));
  g_assert_no_error (error);
  fw_ui_spin_for (0.3);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (fw_window_get_stack (win)), ==, "lecture");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (shelf)), ==, n);
  g_autoptr (FwShelfItem) again = g_list_model_get_item (G_LIST_MODEL (shelf), n - 1);
  g_assert_cmpstr (fw_shelf_item_get_name (again), ==, fw_shelf_item_get_name (last));
  g_assert_cmpstr (fw_shelf_item_get_method (again), ==, fw_shelf_item_get_method (last));
  g_assert_cmpfloat (fw_shelf_item_get_accuracy (again), ==, acc);
  FwModel *m2 = fw_shelf_item_get_model (again);
  g_assert_cmpuint (m2->n_params, ==, model->n_params);
  g_assert_cmpmem (m2->params, m2->n_params * 4, model->params, model->n_params * 4);
  GArray *metrics2 = fw_shelf_item_get_metrics (again);
  g_assert_cmpuint (metrics2->len, ==, metrics_copy->len);
  /* field by field: the struct has padding after epoch, which a reader need not zero */
  for (guint i = 0; i < metrics2->len; i++)
    {
      const FwEpochMetrics *a = &g_array_index (metrics2, FwEpochMetrics, i);
      const FwEpochMetrics *b = &g_array_index (metrics_copy, FwEpochMetrics, i);
      g_assert_cmpint (a->epoch, ==, b->epoch);
      const double fa[] = { a->train_loss, a->train_acc, a->val_loss, a->val_acc, a->test_acc,
                            a->lr, a->seconds };
      const double fb[] = { b->train_loss, b->train_acc, b->val_loss, b->val_acc, b->test_acc,
                            b->lr, b->seconds };
      g_assert_cmpmem (fa, sizeof fa, fb, sizeof fb); /* bitwise: NaN equals NaN */
    }
  g_assert_cmpstr (fw_page_lecture_get_current (page)->name, ==, "plain-training");
  g_assert_cmpint (fw_page_lecture_get_step (page), ==, step);
  g_autofree char *csv_after = fw_lecture_result_metrics_csv (fw_page_lecture_get_result (page));
  g_assert_cmpstr (csv_after, ==, csv_before);
  g_unlink (path);
  g_unlink (bad);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  fw_ui_test_env ();
  g_autofree char *runs = g_dir_make_tmp ("fw-test-lecture-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("FW_RUNS_DIR", runs, TRUE);
  const char *root = g_getenv ("FW_SOURCE_ROOT");
  lecture_dir = g_build_filename (root != NULL ? root : ".", "resources", "recipes", "lecture",
                                  NULL);
  g_setenv ("FW_LECTURE_DIR", lecture_dir, TRUE);
  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      g_test_skip ("no display (run under xvfb-run)");
      return g_test_run ();
    }
  win = fw_ui_open_window (&app);
  page = fw_window_get_page_lecture (win);
  fw_page_lecture_set_reduced (page, TRUE);
  fw_ui_spin_for (0.3);

  g_test_add_func ("/LecturePage/lists_demos_greys_out_unavailable", test_lists_demos);
  g_test_add_func ("/LecturePage/presentation_view_and_steps", test_presentation_steps);
  g_test_add_func ("/LecturePage/screenshots_differ_by_step", test_screenshots_differ_by_step);
  g_test_add_func ("/LecturePage/session_round_trip_restores_shelf_curves_and_stage",
                   test_session_round_trip);
  int ret = g_test_run ();
  gtk_window_destroy (GTK_WINDOW (win));
  fw_ui_spin_for (0.1);
  g_application_quit (G_APPLICATION (app));
  g_object_unref (app);
  g_free (lecture_dir);
  return ret;
}
