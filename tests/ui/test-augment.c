/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-augment.c: the Augment page driven under Xvfb: adding an operation and moving its
 * slider change the preview's pixels, re-sampling draws new variants, the step and mix views
 * and the recipe text follow the pipeline, colour operations are disabled on grey images, and
 * a PNG of the page (FW_AUGMENT_SHOT_DIR). */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "fw-application.h"
#include "fw-augment.h"
#include "fw-dataset.h"
#include "fw-page-augment.h"
#include "fw-plot.h"
#include "fw-window-private.h"
#include "fw-ui-test-util.h"

static FwApplication *app;
static FwWindow *win;
static FwPageAugment *page;
static FwDataset *ds;

/* the 8-bit pixels of one tile, copied */
static GBytes *
tile_pixels (FwImageGrid *g, guint tile)
{
  cairo_surface_t *s = fw_image_grid_get_surface (g, tile);
  g_assert_nonnull (s);
  cairo_surface_flush (s);
  gsize n = (gsize) cairo_image_surface_get_stride (s) * cairo_image_surface_get_height (s);
  return g_bytes_new (cairo_image_surface_get_data (s), n);
}

/* an asymmetric test card: a bright "L" on dark, so every geometric change shows */
static FwDataset *
make_dataset (void)
{
  FwDataset *d = fw_dataset_new ("L shapes", 4, (FwShape) { 1, 20, 20 }, 2);
  for (int i = 0; i < 4; i++)
    {
      d->y[i] = i % 2;
      float *x = d->x + i * 400;
      for (int q = 0; q < 400; q++)
        x[q] = 0.05f;
      for (int y = 3; y < 17; y++)
        x[y * 20 + 5 + i] = 1.f;
      for (int xx = 5; xx < 15; xx++)
        x[16 * 20 + xx] = 1.f;
    }
  return d;
}

static void
test_add_op_and_slider_change_preview (void)
{
  g_action_group_activate_action (G_ACTION_GROUP (win), "show-page",
                                  g_variant_new_string ("augment"));
  fw_ui_spin_for (0.2);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (fw_window_get_stack (win)), ==, "augment");
  fw_page_augment_set_dataset (page, ds);
  FwImageGrid *g = fw_page_augment_get_grid (page);
  /* the original plus 32 variants; with an empty pipeline every variant is the original */
  g_assert_cmpuint (fw_image_grid_get_n_tiles (g), ==, 33);
  g_autoptr (GBytes) orig = tile_pixels (g, 0);
  g_autoptr (GBytes) v0 = tile_pixels (g, 1);
  g_assert_true (g_bytes_equal (orig, v0));

  /* add a rotation: the variants change */
  int i = fw_page_augment_add_op (page, FW_AUG_ROTATE);
  g_assert_cmpint (i, ==, 0);
  GtkRange *deg = fw_page_augment_get_scale (page, 0, "deg");
  g_assert_nonnull (deg);
  g_assert_cmpfloat (gtk_range_get_value (deg), ==, 15);
  g = fw_page_augment_get_grid (page);
  g_autoptr (GBytes) v1 = tile_pixels (g, 1);
  g_assert_false (g_bytes_equal (orig, v1));

  /* move the slider as a user would: same draw, another angle range, other pixels; and it is
   * exactly what the engine gives for that pipeline and seed */
  gtk_range_set_value (deg, 90);
  fw_ui_spin_for (0.05);
  g = fw_page_augment_get_grid (page);
  g_autoptr (GBytes) v2 = tile_pixels (g, 1);
  g_assert_false (g_bytes_equal (v1, v2));
  g_autofree char *text = fw_page_augment_get_pipeline_text (page);
  g_assert_cmpstr (text, ==, "rotate:deg=90");

  /* Space-like re-sample: new variants, the original tile stays */
  fw_page_augment_resample (page);
  g = fw_page_augment_get_grid (page);
  g_autoptr (GBytes) v3 = tile_pixels (g, 1);
  g_autoptr (GBytes) o3 = tile_pixels (g, 0);
  g_assert_false (g_bytes_equal (v2, v3));
  g_assert_true (g_bytes_equal (orig, o3));
  g_test_message ("preview of 32 variants: %.2f ms", fw_page_augment_get_last_ms (page));
  g_assert_cmpfloat (fw_page_augment_get_last_ms (page), <, 1000);
}

static void
test_steps_mix_and_text (void)
{
  GError *error = NULL;
  g_assert_true (fw_page_augment_set_pipeline_text (page, "hflip:p=1;vflip:p=1;cutmix", &error));
  g_assert_no_error (error);
  /* step view: input + one tile per step; hflip then vflip of the test card is a half turn,
   * which the test computes by index arithmetic */
  FwImageGrid *sg = fw_page_augment_get_steps_grid (page);
  g_assert_cmpuint (fw_image_grid_get_n_tiles (sg), ==, 4);
  cairo_surface_t *in = fw_image_grid_get_surface (sg, 0);
  cairo_surface_t *out = fw_image_grid_get_surface (sg, 2);
  cairo_surface_flush (in);
  cairo_surface_flush (out);
  int w = cairo_image_surface_get_width (in), h = cairo_image_surface_get_height (in);
  int st = cairo_image_surface_get_stride (in);
  const guint8 *a = cairo_image_surface_get_data (in), *b = cairo_image_surface_get_data (out);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      g_assert_cmpmem (a + y * st + 4 * x, 4, b + (h - 1 - y) * st + 4 * (w - 1 - x), 4);
  /* the mix view: 4 pairs of (source, partner, result) */
  g_assert_cmpuint (fw_image_grid_get_n_tiles (fw_page_augment_get_mix_grid (page)), ==, 12);
  /* the recipe text follows the pipeline; a bad text is an error naming the operation */
  g_autofree char *t = fw_page_augment_get_pipeline_text (page);
  g_assert_cmpstr (t, ==, "hflip:p=1;vflip:p=1;cutmix");
  g_assert_false (fw_page_augment_set_pipeline_text (page, "hflip;wobble", &error));
  g_assert_nonnull (strstr (error->message, "wobble"));
  g_clear_error (&error);
  /* colour balance on grey: its sliders are there but insensitive */
  int i = fw_page_augment_add_op (page, FW_AUG_COLOR);
  GtkRange *gain = fw_page_augment_get_scale (page, i, "gain");
  g_assert_nonnull (gain);
  g_assert_false (gtk_widget_is_sensitive (GTK_WIDGET (gain)));
  g_assert_true (gtk_widget_is_sensitive (GTK_WIDGET (fw_page_augment_get_scale (page, 0, "p"))));
}

static void
test_own_image (void)
{
  /* a 30x20 PNG: left half red, right half blue */
  g_autofree char *dir = g_dir_make_tmp ("fw-aug-img-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "mine.png", NULL);
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 30, 20);
  cairo_t *cr = cairo_create (s);
  cairo_set_source_rgb (cr, 1, 0, 0);
  cairo_rectangle (cr, 0, 0, 15, 20);
  cairo_fill (cr);
  cairo_set_source_rgb (cr, 0, 0, 1);
  cairo_rectangle (cr, 15, 0, 15, 20);
  cairo_fill (cr);
  cairo_destroy (cr);
  g_assert_cmpint (cairo_surface_write_to_png (s, path), ==, CAIRO_STATUS_SUCCESS);
  cairo_surface_destroy (s);

  g_autoptr (GError) error = NULL;
  g_assert_true (fw_page_augment_load_image (page, path, &error));
  g_assert_no_error (error);
  FwImageGrid *g = fw_page_augment_get_grid (page);
  cairo_surface_t *t = fw_image_grid_get_surface (g, 0);
  cairo_surface_flush (t);
  int w = cairo_image_surface_get_width (t), h = cairo_image_surface_get_height (t);
  /* fitted into 64x64 with its aspect kept */
  g_assert_cmpint (w, ==, 64);
  g_assert_cmpint (h, >=, 42);
  g_assert_cmpint (h, <=, 43);
  const guint8 *d = cairo_image_surface_get_data (t);
  int st = cairo_image_surface_get_stride (t);
  guint32 left = *(const guint32 *) (d + 5 * st + 4 * 3);
  guint32 right = *(const guint32 *) (d + 5 * st + 4 * (w - 4));
  g_assert_cmphex (left & 0xffffff, ==, 0xff0000);
  g_assert_cmphex (right & 0xffffff, ==, 0x0000ff);
  /* colour operations apply to it: colour balance's slider is live */
  int i = fw_page_augment_add_op (page, FW_AUG_COLOR);
  g_assert_true (gtk_widget_is_sensitive (GTK_WIDGET (fw_page_augment_get_scale (page, i,
                                                                                  "gain"))));
  /* a file that is not an image: an error naming it */
  g_autofree char *bad = g_build_filename (dir, "notes.png", NULL);
  g_assert_true (g_file_set_contents (bad, "not a picture", -1, NULL));
  g_assert_false (fw_page_augment_load_image (page, bad, &error));
  g_assert_nonnull (strstr (error->message, "notes.png"));
  g_unlink (path);
  g_unlink (bad);
  g_rmdir (dir);
  fw_page_augment_set_pipeline_text (page, "", NULL);
  fw_page_augment_set_dataset (page, ds);
}

static gboolean
sweep_done (gpointer p)
{
  return !fw_page_augment_is_running (page);
}

static void
test_sweep_fills_the_plot (void)
{
  /* 80 "L" and mirrored "L" shapes at random places: two classes */
  g_autoptr (FwDataset) d = fw_dataset_new ("L and J", 80, (FwShape) { 1, 20, 20 }, 2);
  FwRng r;
  fw_rng_init (&r, 3);
  for (int i = 0; i < 80; i++)
    {
      d->y[i] = i % 2;
      float *x = d->x + i * 400;
      for (int q = 0; q < 400; q++)
        x[q] = 0.1f * (float) fw_rng_uniform (&r);
      int ox = (int) fw_rng_below (&r, 6), oy = (int) fw_rng_below (&r, 6);
      for (int y = 0; y < 10; y++)
        x[(oy + y) * 20 + ox + (d->y[i] ? 8 : 0)] = 1.f;
      for (int xx = 0; xx < 9; xx++)
        x[(oy + 9) * 20 + ox + xx] = 1.f;
    }
  fw_page_augment_set_dataset (page, d);
  fw_page_augment_set_sweep_form (page, "2,5", 1, 10);
  fw_page_augment_run_sweep (page);
  g_assert_true (fw_page_augment_is_running (page));
  g_assert_true (fw_ui_wait_until (sweep_done, NULL, 90));
  FwLinePlot *plot = fw_page_augment_get_sweep_plot (page);
  g_assert_cmpuint (fw_line_plot_get_n_series (plot), ==, 4);
  for (guint sidx = 0; sidx < 4; sidx++)
    {
      g_assert_cmpuint (fw_line_plot_series_len (plot, sidx), ==, 2);
      double x0, y0, x1, y1;
      g_assert_true (fw_line_plot_get_point (plot, sidx, 0, &x0, &y0));
      g_assert_true (fw_line_plot_get_point (plot, sidx, 1, &x1, &y1));
      g_assert_cmpfloat (x0, ==, 2);
      g_assert_cmpfloat (x1, ==, 5);
      g_assert_true (y0 >= 0 && y0 <= 100 && y1 >= 0 && y1 <= 100);
    }
  fw_page_augment_set_dataset (page, ds);
}

static void
test_png (void)
{
  const char *dir = g_getenv ("FW_AUGMENT_SHOT_DIR");
  if (dir == NULL)
    {
      g_test_skip ("set FW_AUGMENT_SHOT_DIR to write the page PNG");
      return;
    }
  g_autoptr (FwDataset) sim = fw_dataset_load ("sim:200", 3, NULL, NULL);
  if (sim != NULL)
    fw_page_augment_set_dataset (page, sim);
  fw_page_augment_set_pipeline_text (page, "rotate:deg=20;translate:px=2;"
                                     "elastic:alpha=20,sigma=4;cutout:p=0.5", NULL);
  fw_ui_spin_for (0.5);
  /* the page's view stack, found by walking its children */
  GtkWidget *viz = NULL;
  GPtrArray *todo = g_ptr_array_new ();
  g_ptr_array_add (todo, page);
  while (todo->len > 0 && viz == NULL)
    {
      GtkWidget *c = g_ptr_array_steal_index (todo, todo->len - 1);
      if (GTK_IS_STACK (c) && gtk_stack_get_child_by_name (GTK_STACK (c), "steps"))
        viz = c;
      for (GtkWidget *k = gtk_widget_get_first_child (c); k != NULL;
           k = gtk_widget_get_next_sibling (k))
        g_ptr_array_add (todo, k);
    }
  g_ptr_array_unref (todo);
  g_assert_nonnull (viz);
  const char *views[] = { "variants", "steps", "mix", "sweep" };
  for (guint v = 0; v < G_N_ELEMENTS (views); v++)
    {
      if (v == 2)
        fw_page_augment_set_pipeline_text (page, "rotate;cutmix;mixup:p=0.5", NULL);
      gtk_stack_set_visible_child_name (GTK_STACK (viz), views[v]);
      fw_ui_spin_for (0.5);
      /* the X server's picture of the screen (a widget paintable has no node before a
       * frame) */
      g_autofree char *path = g_strdup_printf ("%s/augment-%s.png", dir, views[v]);
      g_autofree char *cmd = g_strdup_printf ("import -window root %s", path);
      g_autoptr (GError) error = NULL;
      int status = 0;
      if (!g_spawn_command_line_sync (cmd, NULL, NULL, &status, &error) || status != 0)
        {
          g_test_skip ("import (imagemagick) could not take the screenshot");
          return;
        }
      g_test_message ("wrote %s", path);
    }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  fw_ui_test_env ();
  g_autofree char *runs = g_dir_make_tmp ("fw-test-augment-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("FW_RUNS_DIR", runs, TRUE);
  g_test_init (&argc, &argv, NULL);
  ds = make_dataset ();
  if (!gtk_init_check ())
    {
      g_test_skip ("no display (run under xvfb-run)");
      return g_test_run ();
    }
  win = fw_ui_open_window (&app);
  GtkWidget *child = gtk_stack_get_child_by_name (fw_window_get_stack (win), "augment");
  g_assert_nonnull (child);
  page = FW_PAGE_AUGMENT (child);

  g_test_add_func ("/AugmentPage/add_op_and_slider_change_preview",
                   test_add_op_and_slider_change_preview);
  g_test_add_func ("/AugmentPage/steps_mix_and_text", test_steps_mix_and_text);
  g_test_add_func ("/AugmentPage/own_image", test_own_image);
  g_test_add_func ("/AugmentPage/sweep_fills_the_plot", test_sweep_fills_the_plot);
  g_test_add_func ("/AugmentPage/renders_to_png", test_png);
  int ret = g_test_run ();
  gtk_window_destroy (GTK_WINDOW (win));
  fw_ui_spin_for (0.1);
  g_application_quit (G_APPLICATION (app));
  g_object_unref (app);
  fw_dataset_unref (ds);
  return ret;
}
