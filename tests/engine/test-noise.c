/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-noise.c: label-noise injection, the same-sample regression demo, robust losses,
 * co-teaching's schedule and mislabel detection. */
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-loss.h"
#include "fw-model.h"
#include "fw-noise.h"
#include "fw-recipe.h"
#include "fw-robust.h"
#include "fw-rng.h"
#include "fw-test-util.h"

/* n samples of 2-D points in k Gaussian clusters on a circle (radius r, std 1); class sizes
 * deliberately unequal: class c has weight c + 1. */
static FwDataset *
make_clusters (int n, int k, double r, guint64 seed)
{
  FwShape sh = { 2, 1, 1 };
  FwDataset *ds = fw_dataset_new ("clusters", n, sh, k);
  FwRng rng;
  fw_rng_init (&rng, seed);
  int wsum = k * (k + 1) / 2;
  for (int i = 0; i < n; i++)
    {
      int u = (int) fw_rng_below (&rng, wsum), c = 0;
      while (u >= c + 1)
        u -= ++c;
      ds->y[i] = c;
      double a = 2 * G_PI * c / k;
      ds->x[2 * i] = (float) (r * cos (a) + fw_rng_normal (&rng));
      ds->x[2 * i + 1] = (float) (r * sin (a) + fw_rng_normal (&rng));
    }
  return ds;
}

static void
check_exact (const FwDataset *ds, const FwNoisyLabels *nl, const double *T)
{
  int n = ds->n, k = ds->n_classes;
  g_autofree int *ni = g_new0 (int, k);
  g_autofree gint64 *cnt = g_new0 (gint64, (gsize) k * k);
  double expected = 0;
  int flips = 0;
  for (int i = 0; i < n; i++)
    {
      ni[ds->y[i]]++;
      /* true labels kept, equal to the input's */
      g_assert_cmpint (nl->y_true[i], ==, ds->y[i]);
      cnt[(gsize) ds->y[i] * k + nl->noisy->y[i]]++;
      flips += nl->noisy->y[i] != ds->y[i];
      /* samples unchanged */
      g_assert_cmpfloat (nl->noisy->x[2 * i], ==, ds->x[2 * i]);
    }
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++)
      {
        double e = T[i * k + j] * ni[i];
        if (i != j)
          expected += e;
        /* every cell of the realised matrix within rounding of the request */
        g_assert_cmpfloat (fabs ((double) cnt[i * k + j] - e), <, 1.0 + 1e-9);
        g_assert_cmpint (cnt[i * k + j], ==, nl->counts[i * k + j]);
      }
  g_assert_cmpint (flips, ==, nl->n_flipped);
  g_assert_cmpint (flips, ==, (int) llround (expected));
  g_assert_cmpfloat (fabs (nl->rate - (double) flips / n), <, 1e-12);
}

static void
test_symmetric_exact (void)
{
  g_autoptr (FwDataset) ds = make_clusters (20000, 10, 5, 3);
  g_autofree gint32 *orig = g_memdup2 (ds->y, sizeof (gint32) * ds->n);
  double rates[] = { 0, 0.1, 0.2, 0.5, 0.8, 0.9, 0.99 };
  for (guint r = 0; r < G_N_ELEMENTS (rates); r++)
    {
      g_autoptr (GError) err = NULL;
      g_autofree double *T = fw_noise_matrix_new (FW_NOISE_SYMMETRIC, rates[r], 10, NULL, &err);
      g_assert_no_error (err);
      g_autoptr (FwNoisyLabels) nl = fw_noise_apply (ds, T, 7 + r, &err);
      g_assert_no_error (err);
      check_exact (ds, nl, T);
      /* the requested rate, to rounding */
      g_assert_cmpint (nl->n_flipped, ==, (int) llround (rates[r] * ds->n));
      /* input labels never modified */
      g_assert_cmpmem (orig, sizeof (gint32) * ds->n, ds->y, sizeof (gint32) * ds->n);
    }
}

static void
test_pair_exact (void)
{
  g_autoptr (FwDataset) ds = make_clusters (9999, 10, 5, 4);
  static const char *fm[] = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                              "Shirt", "Sneaker", "Bag", "Ankle boot", NULL };
  g_strfreev (ds->class_names);
  ds->class_names = g_strdupv ((char **) fm);
  g_autofree int *pm = fw_noise_pair_map (10, fm);
  /* T-shirt <-> Shirt, Pullover <-> Coat, Sneaker <-> Ankle boot: an involution */
  g_assert_cmpint (pm[0], ==, 6);
  g_assert_cmpint (pm[2], ==, 4);
  g_assert_cmpint (pm[7], ==, 9);
  for (int c = 0; c < 10; c++)
    g_assert_cmpint (pm[pm[c]], ==, c);
  g_autoptr (GError) err = NULL;
  g_autoptr (FwNoisyLabels) nl = fw_noise_apply_kind (ds, FW_NOISE_PAIR, 0.3, NULL, 11, &err);
  g_assert_no_error (err);
  g_autofree double *T = fw_noise_matrix_new (FW_NOISE_PAIR, 0.3, 10, pm, &err);
  check_exact (ds, nl, T);
  for (int i = 0; i < ds->n; i++)
    if (nl->noisy->y[i] != ds->y[i])
      g_assert_cmpint (nl->noisy->y[i], ==, pm[ds->y[i]]);
  /* another seed flips other samples, the same counts */
  g_autoptr (FwNoisyLabels) nl2 = fw_noise_apply_kind (ds, FW_NOISE_PAIR, 0.3, NULL, 12, &err);
  g_assert_cmpint (nl2->n_flipped, ==, nl->n_flipped);
  g_assert_true (memcmp (nl2->noisy->y, nl->noisy->y, sizeof (gint32) * ds->n) != 0);
}

static void
test_matrix_file (void)
{
  g_autoptr (FwDataset) ds = make_clusters (6000, 3, 5, 5);
  g_autofree char *path = g_build_filename (fw_test_tmpdir (), "noise.txt", NULL);
  /* rows normalised: 8 1 1 -> 0.8 0.1 0.1 */
  g_assert_true (g_file_set_contents (path, "# true x given\n8 1 1\n0, 0.7, 0.3\n0.5 0 0.5\n",
                                      -1, NULL));
  g_autoptr (GError) err = NULL;
  g_autoptr (FwNoisyLabels) nl = fw_noise_apply_kind (ds, FW_NOISE_MATRIX, 0, path, 2, &err);
  g_assert_no_error (err);
  double T[9] = { 0.8, 0.1, 0.1, 0, 0.7, 0.3, 0.5, 0, 0.5 };
  check_exact (ds, nl, T);

  /* bad files: clear errors naming the file */
  g_assert_true (g_file_set_contents (path, "1 0 0\n0 1\n0 0 1\n", -1, NULL));
  g_autoptr (FwNoisyLabels) bad = fw_noise_apply_kind (ds, FW_NOISE_MATRIX, 0, path, 2, &err);
  g_assert_null (bad);
  g_assert_error (err, FW_ERROR, FW_ERROR_FORMAT);
  g_assert_nonnull (strstr (err->message, "noise.txt"));
  g_assert_nonnull (strstr (err->message, "row 2"));
  g_clear_error (&err);
  g_assert_true (g_file_set_contents (path, "1 0 0\n0 1 -1\n0 0 1\n", -1, NULL));
  g_assert_null (fw_noise_matrix_load (path, 3, &err));
  g_assert_error (err, FW_ERROR, FW_ERROR_FORMAT);
  g_clear_error (&err);
  g_assert_null (fw_noise_matrix_load ("/nonexistent/m.txt", 3, &err));
  g_assert_nonnull (err);
  g_clear_error (&err);
  g_assert_null (fw_noise_apply_kind (ds, FW_NOISE_MATRIX, 0, NULL, 2, &err));
  g_assert_error (err, FW_ERROR, FW_ERROR_INVALID);
  g_clear_error (&err);
  g_assert_null (fw_noise_matrix_new (FW_NOISE_SYMMETRIC, 1.5, 3, NULL, &err));
  g_assert_error (err, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (err->message, "1.5"));
  g_clear_error (&err);
  FwNoiseKind kind;
  g_assert_true (fw_noise_kind_from_string ("pair", &kind) && kind == FW_NOISE_PAIR);
  g_assert_false (fw_noise_kind_from_string ("bogus", &kind));
}

static void
test_regression_sigma2_over_n (void)
{
  int ns[] = { 1, 4, 16, 100 };
  double mse[4];
  int trials = 4000;
  double sigma = 1.7;
  fw_noise_regression_curve (3.0, sigma, ns, 4, trials, 42, mse);
  for (int i = 0; i < 4; i++)
    {
      /* (g - target)^2 = sigma^2/N * chi2_1: mean sigma^2/N, relative sd sqrt(2/trials) */
      double theory = sigma * sigma / ns[i];
      double tol = 5 * sqrt (2.0 / trials);
      g_assert_cmpfloat (fabs (mse[i] / theory - 1), <, tol);
    }
  /* sigma = 0: the mean is exact */
  fw_noise_regression_curve (3.0, 0, ns, 4, 10, 1, mse);
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat (mse[i], <, 1e-20);
}

/* naive softmax in double */
static double
p_of (const float *z, int k, int j)
{
  double s = 0;
  for (int i = 0; i < k; i++)
    s += exp ((double) z[i]);
  return exp ((double) z[j]) / s;
}

static void
test_size_needed (void)
{
  /* accuracy that depends only on the number of correct labels, linearly in its log:
   * a = 0.2 + 0.05 log(n (1 - r)); then the size that restores the clean accuracy at n0 is
   * exactly n0 / (1 - r), which the log interpolation must find */
  double sizes[] = { 1000, 2000, 4000, 8000, 16000 };
  double rates[] = { 0, 0.2, 0.5, 0.8 };
  double acc[5 * 4], needed[4], predicted[4];
  for (int s = 0; s < 5; s++)
    for (int r = 0; r < 4; r++)
      acc[s * 4 + r] = 0.2 + 0.05 * log (sizes[s] * (1 - rates[r]));
  g_assert_true (fw_noise_size_needed (sizes, 5, rates, 4, acc, needed, predicted));
  for (int r = 0; r < 4; r++)
    {
      g_assert_cmpfloat (fabs (predicted[r] - 1000 / (1 - rates[r])), <, 1e-9);
      g_assert_cmpfloat (fabs (needed[r] / predicted[r] - 1), <, 1e-9);
    }
  /* a curve that never reaches the reference within the measured sizes: NaN */
  for (int s = 0; s < 5; s++)
    acc[s * 4 + 3] = 0.1;
  g_assert_true (fw_noise_size_needed (sizes, 5, rates, 4, acc, needed, predicted));
  g_assert_true (isnan (needed[3]));
  /* no clean column: FALSE */
  double rates2[] = { 0.1, 0.2, 0.5, 0.8 };
  g_assert_false (fw_noise_size_needed (sizes, 5, rates2, 4, acc, needed, predicted));
}

static void
test_gce_limits_and_gradient (void)
{
  enum { N = 6, K = 5 };
  float z[N * K], g[N * K], g2[N * K];
  gint32 y[N];
  FwRng rng;
  fw_rng_init (&rng, 9);
  fw_test_fill_uniform (z, N * K, -3, 3, &rng);
  for (int i = 0; i < N; i++)
    y[i] = (gint32) fw_rng_below (&rng, K);
  double ce = 0, mae = 0;
  for (int i = 0; i < N; i++)
    {
      double py = p_of (z + i * K, K, y[i]);
      ce += -log (py);
      mae += 1 - py; /* = (1/2) sum_j |p_j - onehot_j| */
    }
  ce /= N, mae /= N;
  double l0 = fw_loss_gce (z, N, K, y, 1e-5, g, NULL);
  g_assert_cmpfloat (fabs (l0 - ce), <, 1e-3 * ce);
  /* its gradient tends to CE's, softmax - onehot */
  fw_loss_softmax_xent (z, N, K, y, NULL, 0, g2, NULL);
  g_assert_cmpfloat (fw_test_max_rel_err (g, g2, N * K, 1e-4), <, 1e-3);
  double l1 = fw_loss_gce (z, N, K, y, 1.0, NULL, NULL);
  g_assert_cmpfloat (fabs (l1 - mae), <, 1e-9);

  /* gradients against central finite differences (double-precision losses) */
  double qs[] = { 0.3, 0.7, 1.0 };
  for (int t = 0; t < 4; t++)
    {
      if (t < 3)
        fw_loss_gce (z, N, K, y, qs[t], g, NULL);
      else
        fw_loss_sce (z, N, K, y, 0.1, 1.0, g, NULL);
      for (int c = 0; c < N * K; c++)
        {
          float save = z[c];
          float h = 1e-2f;
          z[c] = save + h;
          double lp = t < 3 ? fw_loss_gce (z, N, K, y, qs[t], NULL, NULL)
                            : fw_loss_sce (z, N, K, y, 0.1, 1.0, NULL, NULL);
          z[c] = save - h;
          double lm = t < 3 ? fw_loss_gce (z, N, K, y, qs[t], NULL, NULL)
                            : fw_loss_sce (z, N, K, y, 0.1, 1.0, NULL, NULL);
          z[c] = save;
          double fd = (lp - lm) / (2 * h);
          g_assert_cmpfloat (fabs (fd - g[c]), <, 1e-4 + 1e-3 * fabs (fd));
        }
    }
  /* SCE closed form: 0.1 CE + 1.0 * 4 (1 - p_y) */
  double sce = fw_loss_sce (z, N, K, y, 0.1, 1.0, NULL, NULL);
  g_assert_cmpfloat (fabs (sce - (0.1 * ce + 4 * mae)), <, 1e-6);
  FwLossKind kind;
  g_assert_true (fw_loss_kind_from_string ("gce", &kind) && kind == FW_LOSS_GCE);
  g_assert_false (fw_loss_kind_from_string ("hinge", &kind));
}

static void
test_coteaching_schedule (void)
{
  g_autoptr (FwDataset) ds = make_clusters (2000, 4, 4, 21);
  g_autoptr (GError) err = NULL;
  g_autoptr (FwNoisyLabels) nl = fw_noise_apply_kind (ds, FW_NOISE_SYMMETRIC, 0.3, NULL, 5,
                                                      &err);
  g_assert_no_error (err);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 6;
  cfg.batch = 100;
  cfg.lr = 0.05;
  FwShape in = { 2, 1, 1 };
  g_autoptr (FwModel) a = fw_model_new ("mlp", "flatten,dense:32,relu,dense:4", in, &err);
  g_assert_no_error (err);
  g_autoptr (FwModel) b = fw_model_copy (a);
  fw_model_init (a, 1);
  fw_model_init (b, 2);
  FwCoteachConfig ct = { .tau = 0.3, .tk = 3 };
  g_autoptr (GArray) eps = g_array_new (FALSE, FALSE, sizeof (FwCoteachEpoch));
  g_assert_true (fw_train_coteaching (a, b, &cfg, &ct, nl->noisy, nl->y_true, ds, NULL, NULL,
                                      NULL, eps, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (eps->len, ==, 6);
  for (guint e = 0; e < eps->len; e++)
    {
      FwCoteachEpoch *ep = &g_array_index (eps, FwCoteachEpoch, e);
      double fr = 0.3 * MIN (e / 3.0, 1.0);
      g_assert_cmpfloat (fabs (ep->forget_rate - fr), <, 1e-12);
      /* batches of 100: the kept fraction is exactly 1 - forget rate */
      g_assert_cmpfloat (fabs (ep->kept_fraction - (1 - fr)), <, 1e-9);
    }
  /* once forgetting is on, the kept samples are cleaner than the set (70% clean) */
  FwCoteachEpoch *last = &g_array_index (eps, FwCoteachEpoch, eps->len - 1);
  g_assert_cmpfloat (last->clean_kept, >, 0.85);
  g_assert_cmpfloat (last->test_acc_a, >, 0.8);
  g_assert_cmpfloat (last->test_acc_b, >, 0.8);

  /* single-network small-loss selection, and a bad forget rate */
  g_autoptr (GArray) eps1 = g_array_new (FALSE, FALSE, sizeof (FwCoteachEpoch));
  cfg.epochs = 2;
  g_assert_true (fw_train_coteaching (a, NULL, &cfg, &ct, nl->noisy, NULL, NULL, NULL, NULL,
                                      NULL, eps1, &err));
  g_assert_cmpfloat (fabs (g_array_index (eps1, FwCoteachEpoch, 1).kept_fraction - 0.9), <,
                     1e-9);
  ct.tau = 1.0;
  g_assert_false (fw_train_coteaching (a, b, &cfg, &ct, nl->noisy, NULL, NULL, NULL, NULL,
                                       NULL, NULL, &err));
  g_assert_error (err, FW_ERROR, FW_ERROR_INVALID);
}

static void
test_detection_recovers_flips (void)
{
  int k = 5;
  double r = 8;
  g_autoptr (FwDataset) ds = make_clusters (5000, k, r, 31);
  g_autoptr (GError) err = NULL;
  g_autoptr (FwNoisyLabels) nl = fw_noise_apply_kind (ds, FW_NOISE_SYMMETRIC, 0.2, NULL, 8,
                                                      &err);
  g_assert_no_error (err);
  /* a classifier that never saw the labels: softmax of -|x - centre_c|^2 / 2 */
  g_autofree float *probs = g_new (float, (gsize) ds->n * k);
  for (int i = 0; i < ds->n; i++)
    {
      double d[8], s = 0, mn = 1e300;
      for (int c = 0; c < k; c++)
        {
          double a = 2 * G_PI * c / k;
          double dx = ds->x[2 * i] - r * cos (a), dy = ds->x[2 * i + 1] - r * sin (a);
          d[c] = (dx * dx + dy * dy) / 2;
          mn = MIN (mn, d[c]);
        }
      for (int c = 0; c < k; c++)
        s += exp (-(d[c] - mn));
      for (int c = 0; c < k; c++)
        probs[(gsize) i * k + c] = (float) (exp (-(d[c] - mn)) / s);
    }
  g_autoptr (FwMislabelReport) rep = fw_noise_detect (probs, ds->n, k, nl->noisy->y,
                                                      nl->y_true, &err);
  g_assert_no_error (err);
  g_assert_cmpint (rep->n_true_flips, ==, nl->n_flipped);
  g_assert_cmpfloat (rep->precision, >, 0.9);
  g_assert_cmpfloat (rep->recall, >, 0.9);
  /* suggested labels of flagged samples mostly equal the true labels */
  int right = 0;
  for (int i = 0; i < ds->n; i++)
    right += rep->flagged[i] && rep->suggested[i] == nl->y_true[i];
  g_assert_cmpfloat ((double) right / rep->n_flagged, >, 0.9);
  /* independent precision from the flags */
  int hits = 0;
  for (int i = 0; i < ds->n; i++)
    hits += rep->flagged[i] && nl->noisy->y[i] != nl->y_true[i];
  g_assert_cmpint (hits, ==, rep->n_hits);

  gint32 bad[1] = { 9 };
  g_assert_null (fw_noise_detect (probs, 1, k, bad, NULL, &err));
  g_assert_error (err, FW_ERROR, FW_ERROR_INVALID);
}

/* detection with probabilities from 2-fold cross-validation of a small MLP on noisy labels */
static void
test_detection_cross_validated (void)
{
  g_autoptr (FwDataset) ds = make_clusters (1500, 4, 6, 41);
  g_autoptr (GError) err = NULL;
  g_autoptr (FwNoisyLabels) nl = fw_noise_apply_kind (ds, FW_NOISE_SYMMETRIC, 0.2, NULL, 3,
                                                      &err);
  g_assert_no_error (err);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 8;
  cfg.batch = 50;
  g_autofree float *probs = g_new (float, (gsize) ds->n * 4);
  g_assert_true (fw_cross_val_probs (nl->noisy, "mlp", "32", &cfg, 2, 5, NULL, probs, &err));
  g_assert_no_error (err);
  for (int i = 0; i < ds->n; i++)
    {
      double s = 0;
      for (int c = 0; c < 4; c++)
        s += probs[i * 4 + c];
      g_assert_cmpfloat (fabs (s - 1), <, 1e-4);
    }
  g_autoptr (FwMislabelReport) rep = fw_noise_detect (probs, ds->n, 4, nl->noisy->y,
                                                      nl->y_true, &err);
  g_assert_no_error (err);
  g_assert_cmpfloat (rep->precision, >, 0.85);
  g_assert_cmpfloat (rep->recall, >, 0.7);
  g_assert_false (fw_cross_val_probs (nl->noisy, "mlp", "32", &cfg, 1, 5, NULL, probs, &err));
  g_assert_error (err, FW_ERROR, FW_ERROR_INVALID);
}

static FwRecipe *
recipe_from (const char *ini, GError **error)
{
  return fw_recipe_load_data (ini, -1, "noisy.ini", error);
}

static void
test_recipe_noise_on_training_set_only (void)
{
  g_autofree char *dir = g_build_filename (fw_test_tmpdir (), "noisy-run", NULL);
  g_autofree char *ini = g_strdup_printf (
      "[data]\ndataset = sim:400:20\nval_fraction = 0.25\n"
      "[model]\narch = mlp\nwidths = 32\n"
      "[train]\nepochs = 1\nloss = gce\ngce_q = 0.5\n"
      "[noise]\nkind = symmetric\nrate = 0.3\n"
      "[output]\ndir = %s\nsave_model = false\n", dir);
  g_autoptr (GError) err = NULL;
  g_autoptr (FwRecipe) r = recipe_from (ini, &err);
  g_assert_no_error (err);
  g_assert_cmpint (r->train.loss, ==, FW_LOSS_GCE);
  g_assert_cmpfloat (r->train.gce_q, ==, 0.5);
  /* the resolved recipe round-trips */
  g_autofree char *text = fw_recipe_to_data (r);
  g_autoptr (FwRecipe) back = recipe_from (text, &err);
  g_assert_no_error (err);
  g_assert_true (fw_recipe_equal (r, back));

  g_autoptr (FwRunResult) res = fw_recipe_run_sync (r, NULL, NULL, &err);
  g_assert_no_error (err);
  g_autofree char *js = g_build_filename (dir, "summary.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (parser, js, &err));
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  int n_train = (int) json_object_get_int_member (o, "n_train");
  JsonObject *noise = json_object_get_object_member (o, "noise");
  g_assert_cmpstr (json_object_get_string_member (noise, "kind"), ==, "symmetric");
  int flipped = (int) json_object_get_int_member (noise, "flipped");
  g_assert_cmpint (flipped, ==, (int) llround (0.3 * n_train));
  g_assert_cmpfloat (fabs (json_object_get_double_member (noise, "realised_rate")
                           - (double) flipped / n_train), <, 1e-12);
  g_assert_cmpstr (json_object_get_string_member (o, "loss"), ==, "gce");
  /* the test set keeps its own labels */
  g_autoptr (FwDataset) test = fw_dataset_load_test ("sim:400:20", r->seed, NULL, &err);
  g_assert_no_error (err);
  g_assert_nonnull (res->test);
  g_assert_cmpint (res->test->n, ==, test->n);
  g_assert_cmpmem (res->test->y, sizeof (gint32) * test->n, test->y, sizeof (gint32) * test->n);

  /* co-teaching through the recipe: one metrics row per epoch */
  g_autofree char *dir2 = g_build_filename (fw_test_tmpdir (), "coteach-run", NULL);
  g_autofree char *ini2 = g_strdup_printf (
      "[data]\ndataset = sim:300:20\nval_fraction = 0\n[model]\nwidths = 16\n"
      "[train]\nepochs = 2\ncoteaching = true\nforget_rate = 0.3\nforget_epochs = 1\n"
      "[noise]\nkind = pair\nrate = 0.3\n[output]\ndir = %s\nsave_model = false\n", dir2);
  g_autoptr (FwRecipe) r2 = recipe_from (ini2, &err);
  g_assert_no_error (err);
  g_autoptr (FwRunResult) res2 = fw_recipe_run_sync (r2, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (res2->metrics->len, ==, 2);
  g_assert_nonnull (res2->test_eval);
}

static void
test_recipe_noise_errors (void)
{
  struct {
    const char *ini, *needle;
  } bad[] = {
    { "[noise]\nkind = bogus\n", "[noise] kind" },
    { "[noise]\nrate = 1.5\n", "[noise] rate" },
    { "[noise]\nkind = matrix\n", "[noise] matrix" },
    { "[train]\nloss = hinge\n", "[train] loss" },
    { "[train]\ngce_q = 0\n", "[train] gce_q" },
    { "[train]\nforget_rate = 1\n", "[train] forget_rate" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) err = NULL;
      g_autoptr (FwRecipe) r = recipe_from (bad[i].ini, &err);
      g_assert_null (r);
      g_assert_error (err, FW_ERROR, FW_ERROR_INVALID);
      g_assert_nonnull (strstr (err->message, "noisy.ini"));
      g_assert_nonnull (strstr (err->message, bad[i].needle));
    }
  /* a matrix file that does not fit fails at run time, naming the recipe and [noise] */
  g_autofree char *m = g_build_filename (fw_test_tmpdir (), "m2.txt", NULL);
  g_assert_true (g_file_set_contents (m, "1 0\n0 1\n", -1, NULL));
  g_autofree char *ini = g_strdup_printf ("[data]\ndataset = sim:100:20\n[noise]\nkind = "
                                          "matrix\nmatrix = %s\n[output]\nsave_model = "
                                          "false\n", m);
  g_autoptr (GError) err = NULL;
  g_autoptr (FwRecipe) r = recipe_from (ini, &err);
  g_assert_no_error (err);
  g_autoptr (FwRunResult) res = fw_recipe_run_sync (r, NULL, NULL, &err);
  g_assert_null (res);
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err->message, "[noise]"));
  g_assert_nonnull (strstr (err->message, "m2.txt"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Noise/symmetric_rate_and_matrix_exact", test_symmetric_exact);
  g_test_add_func ("/Noise/pair_flips_exact", test_pair_exact);
  g_test_add_func ("/Noise/matrix_file_and_errors", test_matrix_file);
  g_test_add_func ("/Noise/regression_error_is_sigma2_over_n", test_regression_sigma2_over_n);
  g_test_add_func ("/Noise/size_needed_keeps_correct_labels", test_size_needed);
  g_test_add_func ("/Robust/gce_limits_and_gradients", test_gce_limits_and_gradient);
  g_test_add_func ("/Robust/coteaching_follows_schedule", test_coteaching_schedule);
  g_test_add_func ("/Noise/detection_recovers_flips", test_detection_recovers_flips);
  g_test_add_func ("/Noise/detection_with_cross_validated_mlp", test_detection_cross_validated);
  g_test_add_func ("/Noise/recipe_noise_on_training_set_only",
                   test_recipe_noise_on_training_set_only);
  g_test_add_func ("/Noise/recipe_noise_errors", test_recipe_noise_errors);
  return g_test_run ();
}
