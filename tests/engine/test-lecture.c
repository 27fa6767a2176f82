/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-lecture.c: lecture recipes ([lecture] group: loading, reduced overrides, errors,
 * unavailable features), demo results (replay, sigma^2/N against its closed form), and session
 * snapshots (round trip; every truncation and many corruptions are errors, never crashes). */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "fw-engine.h"
#include "fw-lecture.h"
#include "fw-session.h"
#include "fw-test-util.h"

static const char *sigma_ini =
  "[lecture]\n"
  "title = Sigma\nsection = III. Noisy labels\norder = 3\n"
  "explanation = Averages.\npage = noise\ndemo = sigma-n\nsteps = curve\n"
  "ns = 1,4,16,64\ntrials = 3000\nsigma = 2\n"
  "reduced = lecture.trials=50;run.seed=7\n"
  "[run]\nseed = 1\n";

static void
test_load_and_reduce (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwLecture) l = fw_lecture_load_data (sigma_ini, -1, "sigma.ini", FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (l->available);
  g_assert_cmpstr (l->title, ==, "Sigma");
  g_assert_cmpstr (l->page, ==, "noise");
  g_assert_cmpuint (g_strv_length (l->steps), ==, 1);
  g_assert_cmpuint (l->recipe->seed, ==, 1);
  g_assert_false (l->reduced);
  g_autoptr (FwLecture) r = fw_lecture_load_data (sigma_ini, -1, "sigma.ini", TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (r->reduced);
  g_assert_cmpuint (r->recipe->seed, ==, 7);
  g_assert_cmpint (g_key_file_get_integer (r->kf, "lecture", "trials", NULL), ==, 50);
  /* the base loader accepts the group: a lecture recipe is a recipe */
  g_autoptr (FwRecipe) rec = fw_recipe_load_data (sigma_ini, -1, "sigma.ini", &error);
  g_assert_no_error (error);
}

static void
test_errors_name_the_key (void)
{
  static const struct { const char *ini; const char *needle; } cases[] = {
    { "[lecture]\ntitle = x\n", "section" },
    { "[lecture]\ntitle=a\nsection=b\nexplanation=c\npage=noise\ndemo=nope\nsteps=a\n",
      "demo kind" },
    { "[lecture]\ntitle=a\nsection=b\nexplanation=c\npage=No Page\ndemo=train\nsteps=a\n",
      "page name" },
    { "[lecture]\ntitle=a\nsection=b\nexplanation=c\npage=noise\ndemo=train\nsteps=a\n"
      "typo=1\n", "typo" },
    { "[lecture]\ntitle=a\nsection=b\nexplanation=c\npage=noise\ndemo=train\nsteps=;\n",
      "steps" },
    { "[lecture]\ntitle=a\nsection=b\nexplanation=c\npage=noise\ndemo=train\nsteps=a\n"
      "reduced=epochs\n", "group.key=value" },
    { "[data]\ndataset = sim:100\n", "no [lecture]" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (FwLecture) l = fw_lecture_load_data (cases[i].ini, -1, "bad.ini", TRUE,
                                                      &error);
      g_assert_null (l);
      g_assert_nonnull (error);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, "bad.ini"));
      g_assert_nonnull (strstr (error->message, cases[i].needle));
    }
}

static void
test_unavailable_feature (void)
{
  g_autoptr (GError) error = NULL;
  const char *ini = "[lecture]\ntitle=Pruning\nsection=I. Model reduction\nexplanation=x\n"
                    "page=compress\ndemo=ext\nsteps=a\nrequires=no-such-feature\n";
  g_autoptr (FwLecture) l = fw_lecture_load_data (ini, -1, "prune.ini", FALSE, &error);
  g_assert_no_error (error);
  g_assert_false (l->available);
  g_assert_null (l->recipe);
  g_assert_nonnull (strstr (l->unavailable, "not available in this build"));
  /* running it is an error, not a fake result */
  g_assert_null (fw_lecture_run_sync (l, NULL, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_NOT_FOUND);
}

static void
test_sigma_n_follows_theory (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ini = g_strdup_printf ("%s[output]\ndir = %s/sigma\n", sigma_ini,
                                          fw_test_tmpdir ());
  g_autoptr (FwLecture) l = fw_lecture_load_data (ini, -1, "sigma.ini", FALSE, &error);
  g_assert_no_error (error);
  g_autoptr (FwLectureResult) r = fw_lecture_run_sync (l, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (r->panels->len, ==, 1);
  FwPanel *p = g_ptr_array_index (r->panels, 0);
  g_assert_cmpint (p->kind, ==, FW_PANEL_CURVES);
  FwPanelSeries *meas = g_ptr_array_index (p->series, 0), *th = g_ptr_array_index (p->series, 1);
  static const int ns[] = { 1, 4, 16, 64 };
  g_assert_cmpuint (meas->x->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    {
      double x = g_array_index (meas->x, double, i), y = g_array_index (meas->y, double, i);
      double t = g_array_index (th->y, double, i);
      g_assert_cmpfloat (fabs (x - log2 (ns[i])), <, 1e-12);
      g_assert_cmpfloat (fabs (t - 4.0 / ns[i]), <, 1e-12);   /* sigma = 2 */
      /* 3000 trials: the mean of a scaled chi-square(1) is within 10% of its expectation */
      g_assert_cmpfloat (fabs (y / t - 1), <, 0.1);
    }
  /* the run folder: metrics.csv holds every point */
  g_autofree char *csv_path = g_build_filename (r->run_dir, "metrics.csv", NULL);
  g_autofree char *csv = NULL;
  g_assert_true (g_file_get_contents (csv_path, &csv, NULL, NULL));
  g_autofree char *expect = fw_lecture_result_metrics_csv (r);
  g_assert_cmpstr (csv, ==, expect);
  g_auto (GStrv) lines = g_strsplit (g_strchomp (csv), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 1 + 8);
}

/* ---- sessions ---- */

static FwModel *
small_model (guint64 seed)
{
  g_autoptr (GError) error = NULL;
  FwShape in = { 1, 8, 8 };
  FwModel *m = fw_model_new ("custom", "flatten,dense:12,relu,dense:3", in, &error);
  g_assert_no_error (error);
  fw_model_init (m, seed);
  return m;
}

static FwLectureResult *
some_result (void)
{
  FwLectureResult *r = fw_lecture_result_new ();
  r->summary = g_strdup ("summary ✓");
  FwPanel *c = fw_panel_new (r, FW_PANEL_CURVES, "curve", "Curves");
  c->x_label = g_strdup ("epoch");
  c->log_y = TRUE;
  FwPanelSeries *s = fw_panel_add_series (c, "a", 2);
  s->dashed = TRUE;
  for (int i = 0; i < 5; i++)
    fw_panel_series_append (s, i, 1.0 / (i + 1), i == 2 ? 0.1 : NAN, i == 2 ? 0.9 : NAN);
  FwPanel *im = fw_panel_new (r, FW_PANEL_IMAGES, "image", "Images");
  im->w = 3, im->h = 2, im->c = 1, im->columns = 2;
  float px[6] = { 0, 0.2f, 0.4f, 0.6f, 0.8f, 1 };
  fw_panel_add_image (im, px, "one", 1);
  fw_panel_add_image (im, px, NULL, -1);
  FwPanel *pt = fw_panel_new (r, FW_PANEL_POINTS, "embed", "Points");
  for (int i = 0; i < 7; i++)
    {
      float xy[2] = { i * 0.5f, -i * 0.25f };
      int k = i % 3 - 1;
      g_array_append_vals (pt->xy, xy, 2);
      g_array_append_val (pt->classes, k);
    }
  const char *names[] = { "x", "y", "z", NULL };
  pt->class_names = g_strdupv ((char **) names);
  FwPanel *mx = fw_panel_new (r, FW_PANEL_MATRIX, "confusion", "Matrix");
  mx->rows = mx->cols = 2;
  for (int i = 0; i < 4; i++)
    {
      double v = i * 3;
      g_array_append_val (mx->values, v);
    }
  return r;
}

static FwSession *
some_session (void)
{
  FwSession *s = fw_session_new ();
  s->page = g_strdup ("lecture");
  s->dataset = g_strdup ("sim:300");
  s->pipeline = g_strdup ("rotate:deg=15");
  s->presentation = TRUE;
  s->lecture = g_strdup ("demo-a");
  s->lecture_step = 1;
  for (int k = 0; k < 2; k++)
    {
      g_autoptr (FwModel) m = small_model (k + 1);
      g_autoptr (GArray) metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
      for (int e = 1; e <= 3; e++)
        {
          FwEpochMetrics em = { e, 1.0 / e, 0.5 + 0.1 * e, NAN, NAN, 0.4 + 0.1 * e, 0.05, 0.01 };
          g_array_append_val (metrics, em);
        }
      g_autofree char *name = g_strdup_printf ("model %d", k);
      FwSessionModel *sm = fw_session_add_model (s, name, m, 0.5 + k * 0.1, metrics,
                                                 k ? "runs/x" : NULL);
      sm->method = g_strdup (k ? "pruned" : "trained");
    }
  g_autoptr (FwLectureResult) r = some_result ();
  const char *steps[] = { "image", "curve", NULL };
  fw_session_add_run (s, "demo-a", "Demo A", steps, r);
  return s;
}

/* fw_lecture_plot_files on one spec "CSV: OPTS"; fails the test on an error. */
static FwLectureResult *
plot_one (const char *csv, const char *opts)
{
  g_autofree char *spec = g_strdup_printf ("%s: %s", csv, opts);
  const char *specs[] = { spec, NULL };
  g_autoptr (GError) error = NULL;
  FwLectureResult *r = fw_lecture_plot_files (specs, &error);
  g_assert_no_error (error);
  return r;
}

/* fw_lecture_plot_files: a CSV drawn with the [lecture] plot syntax — rows sharing series and x
 * become their mean with mean -/+ sd (population sd over the rows), accuracies as fractions
 * become %, the axis titles words; errors name the file and the column. */
static void
test_plot_files (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fw-plot-XXXXXX", NULL);
  g_autofree char *csv = g_build_filename (dir, "final.csv", NULL);
  /* series A: x=10 twice (0.5, 0.7), x=20 once (0.9); series B: x=10 three times */
  const char *text = "method,params,test_acc\nA,10,0.5\nA,20,0.9\nB,10,0.2\nA,10,0.7\n"
                     "B,10,0.4\nB,10,0.6\n";
  g_assert_true (g_file_set_contents (csv, text, -1, NULL));
  g_autoptr (FwLectureResult) r = plot_one (csv, "x=params, y=test_acc, series=method, title=T");
  g_assert_cmpuint (r->panels->len, ==, 1);
  const FwPanel *p = g_ptr_array_index (r->panels, 0);
  g_assert_cmpstr (p->title, ==, "T");
  g_assert_cmpstr (p->x_label, ==, "parameters");
  g_assert_cmpstr (p->y_label, ==, "test accuracy");
  g_assert_cmpstr (p->y_unit, ==, "%");
  g_assert_cmpstr (p->step, ==, "plot");
  g_assert_cmpuint (p->series->len, ==, 2);
  const FwPanelSeries *a = g_ptr_array_index (p->series, 0), *b = g_ptr_array_index (p->series, 1);
  g_assert_cmpstr (a->name, ==, "A");
  g_assert_cmpstr (b->name, ==, "B");
  g_assert_cmpuint (a->x->len, ==, 2);
  g_assert_cmpuint (b->x->len, ==, 1);
  /* A at 10: mean 60%, sd 10 points; at 20: 90%, one row: no band */
  g_assert_cmpfloat (g_array_index (a->x, double, 0), ==, 10);
  g_assert_cmpfloat (fabs (g_array_index (a->y, double, 0) - 60), <, 1e-9);
  g_assert_cmpfloat (fabs (g_array_index (a->lo, double, 0) - 50), <, 1e-9);
  g_assert_cmpfloat (fabs (g_array_index (a->hi, double, 0) - 70), <, 1e-9);
  g_assert_cmpfloat (fabs (g_array_index (a->y, double, 1) - 90), <, 1e-9);
  g_assert_true (isnan (g_array_index (a->lo, double, 1)));
  /* B: 20, 40, 60 -> 40 +- sqrt(800/3) */
  double sd = sqrt (((20 - 40) * (20 - 40) + 0 + (60 - 40) * (60 - 40)) / 3.0);
  g_assert_cmpfloat (fabs (g_array_index (b->y, double, 0) - 40), <, 1e-9);
  g_assert_cmpfloat (fabs (g_array_index (b->hi, double, 0) - (40 + sd)), <, 1e-9);

  /* each_row: every row its own point */
  g_autoptr (FwLectureResult) r2 = plot_one (csv, "x=params, y=test_acc, series=method, each_row");
  const FwPanel *p2 = g_ptr_array_index (r2->panels, 0);
  g_assert_cmpuint (((const FwPanelSeries *) g_ptr_array_index (p2->series, 1))->x->len, ==, 3);

  /* last: the last row of each (series, x) only: A at 10 -> 0.7 (not the mean 0.6), B -> 0.6,
   * no sd band */
  g_autoptr (FwLectureResult) r5 = plot_one (csv, "x=params, y=test_acc, series=method, last");
  const FwPanel *p5 = g_ptr_array_index (r5->panels, 0);
  const FwPanelSeries *a5 = g_ptr_array_index (p5->series, 0);
  const FwPanelSeries *b5 = g_ptr_array_index (p5->series, 1);
  g_assert_cmpuint (a5->x->len, ==, 2);
  g_assert_cmpfloat (fabs (g_array_index (a5->y, double, 0) - 70), <, 1e-9);
  g_assert_true (isnan (g_array_index (a5->lo, double, 0)));
  g_assert_cmpfloat (fabs (g_array_index (a5->y, double, 1) - 90), <, 1e-9);
  g_assert_cmpuint (b5->x->len, ==, 1);
  g_assert_cmpfloat (fabs (g_array_index (b5->y, double, 0) - 60), <, 1e-9);

  /* a missing column and a missing file are errors naming them */
  g_autoptr (GError) error = NULL;
  g_autofree char *bad = g_strdup_printf ("%s: x=params, y=nope", csv);
  const char *specs3[] = { bad, NULL };
  g_assert_null (fw_lecture_plot_files (specs3, &error));
  g_assert_nonnull (strstr (error->message, "nope"));
  g_assert_nonnull (strstr (error->message, "final.csv"));
  g_clear_error (&error);
  g_autofree char *missing = g_strdup_printf ("%s/none.csv: x=a, y=b", dir);
  const char *specs4[] = { missing, NULL };
  g_assert_null (fw_lecture_plot_files (specs4, &error));
  g_assert_nonnull (strstr (error->message, "none.csv"));
  g_remove (csv);
  g_rmdir (dir);
}

static void
test_session_round_trip (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwSession) s = some_session ();
  g_autofree char *path = g_build_filename (fw_test_tmpdir (), "a.fwsession", NULL);
  g_assert_true (fw_session_save (s, path, &error));
  g_assert_no_error (error);
  g_autoptr (FwSession) t = fw_session_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (t->page, ==, "lecture");
  g_assert_cmpstr (t->dataset, ==, "sim:300");
  g_assert_cmpstr (t->pipeline, ==, "rotate:deg=15");
  g_assert_true (t->presentation);
  g_assert_cmpstr (t->lecture, ==, "demo-a");
  g_assert_cmpint (t->lecture_step, ==, 1);
  g_assert_cmpuint (t->models->len, ==, 2);
  for (guint k = 0; k < 2; k++)
    {
      FwSessionModel *a = g_ptr_array_index (s->models, k), *b = g_ptr_array_index (t->models, k);
      g_assert_cmpstr (a->name, ==, b->name);
      g_assert_cmpstr (a->run_dir, ==, b->run_dir);
      g_assert_cmpstr (a->method, ==, b->method);
      g_assert_null (b->file);
      g_assert_cmpfloat (a->accuracy, ==, b->accuracy);
      g_assert_cmpuint (a->model->n_params, ==, b->model->n_params);
      g_assert_cmpmem (a->model->params, a->model->n_params * sizeof (float), b->model->params,
                       b->model->n_params * sizeof (float));
      g_assert_cmpuint (a->metrics->len, ==, b->metrics->len);
      for (guint e = 0; e < a->metrics->len; e++)
        {
          FwEpochMetrics *x = &g_array_index (a->metrics, FwEpochMetrics, e);
          FwEpochMetrics *y = &g_array_index (b->metrics, FwEpochMetrics, e);
          g_assert_cmpint (x->epoch, ==, y->epoch);
          g_assert_cmpfloat (x->train_loss, ==, y->train_loss);
          g_assert_cmpfloat (x->test_acc, ==, y->test_acc);
          g_assert_true (isnan (y->val_acc));
        }
    }
  g_assert_cmpuint (t->runs->len, ==, 1);
  FwSessionRun *ra = g_ptr_array_index (s->runs, 0), *rb = g_ptr_array_index (t->runs, 0);
  g_assert_cmpstr (rb->title, ==, "Demo A");
  g_assert_cmpstrv (rb->steps, ra->steps);
  g_assert_cmpstr (rb->result->summary, ==, "summary ✓");
  g_autofree char *ca = fw_lecture_result_metrics_csv (ra->result);
  g_autofree char *cb = fw_lecture_result_metrics_csv (rb->result);
  g_assert_cmpstr (ca, ==, cb);
  FwPanel *ia = g_ptr_array_index (ra->result->panels, 1), *ib = g_ptr_array_index (rb->result->panels, 1);
  g_assert_cmpmem (ia->pixels->data, ia->pixels->len * 4, ib->pixels->data, ib->pixels->len * 4);
  g_assert_cmpstr (g_ptr_array_index (ib->captions, 0), ==, "one");
  /* the same session twice gives the same bytes */
  g_autoptr (GBytes) b1 = fw_session_to_bytes (s, &error);
  g_autoptr (GBytes) b2 = fw_session_to_bytes (t, &error);
  g_assert_true (g_bytes_equal (b1, b2));
  g_autofree char *desc = fw_session_describe (t);
  g_assert_nonnull (strstr (desc, "model 1: custom"));
}

static void
test_session_damage_is_an_error (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwSession) s = some_session ();
  g_autoptr (GBytes) b = fw_session_to_bytes (s, &error);
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (b, &len);
  g_autofree guint8 *copy = g_memdup2 (data, len);
  /* every proper prefix fails (a dense sweep at the start, sparser later) */
  guint tried = 0;
  for (gsize cut = 0; cut < len; cut += cut < 400 ? 1 : 97, tried++)
    {
      g_autoptr (GError) e = NULL;
      g_autoptr (FwSession) t = fw_session_load_data (data, cut, "cut", &e);
      g_assert_null (t);
      g_assert_nonnull (e);
    }
  /* single flipped bytes anywhere: a checksum, header or manifest error */
  for (gsize at = 0; at < len; at += 37)
    {
      copy[at] ^= 0x5a;
      g_autoptr (GError) e = NULL;
      g_autoptr (FwSession) t = fw_session_load_data (copy, len, "flip", &e);
      g_assert_null (t);
      g_assert_nonnull (e);
      copy[at] ^= 0x5a;
    }
  g_test_message ("%u truncations", tried);
  /* trailing garbage */
  g_autofree guint8 *longer = g_malloc (len + 3);
  memcpy (longer, data, len);
  memcpy (longer + len, "abc", 3);
  g_assert_null (fw_session_load_data (longer, len + 3, "tail", &error));
  g_assert_nonnull (strstr (error->message, "after the last entry"));
  g_clear_error (&error);
  /* the panel decoder on its own: random bytes and truncations */
  g_autoptr (FwLectureResult) r = some_result ();
  g_autoptr (GBytes) pb = fw_lecture_result_to_bytes (r);
  gsize pl = 0;
  const guint8 *pd = g_bytes_get_data (pb, &pl);
  for (gsize cut = 0; cut < pl; cut++)
    {
      g_autoptr (GError) e = NULL;
      g_autoptr (FwLectureResult) q = fw_lecture_result_from_bytes (pd, cut, &e);
      g_assert_null (q);
    }
  GRand *rand = g_rand_new_with_seed (3);
  g_autofree guint8 *noise = g_malloc (pl);
  for (int k = 0; k < 200; k++)
    {
      memcpy (noise, pd, pl);
      for (int j = 0; j < 4; j++)
        noise[g_rand_int_range (rand, 0, (gint32) pl)] = (guint8) g_rand_int (rand);
      g_autoptr (GError) e = NULL;
      g_autoptr (FwLectureResult) q = fw_lecture_result_from_bytes (noise, pl, &e);
      /* either decoded (changed a number) or refused; never a crash */
      g_assert_true ((q != NULL) != (e != NULL));
    }
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Lecture/load_and_reduced_overrides", test_load_and_reduce);
  g_test_add_func ("/Lecture/errors_name_the_file_and_key", test_errors_name_the_key);
  g_test_add_func ("/Lecture/unavailable_feature_is_listed_not_faked",
                   test_unavailable_feature);
  g_test_add_func ("/Lecture/sigma_n_demo_follows_sigma2_over_n", test_sigma_n_follows_theory);
  g_test_add_func ("/Lecture/plot_files_average_rows_and_name_errors", test_plot_files);
  g_test_add_func ("/Session/round_trip_keeps_models_curves_and_panels",
                   test_session_round_trip);
  g_test_add_func ("/Session/truncated_or_damaged_files_are_errors",
                   test_session_damage_is_an_error);
  return g_test_run ();
}
