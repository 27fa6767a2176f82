/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-distill.c: the distillation loss against a direct double-precision computation and its
 * gradient against finite differences; the training loop and the [distill] job. */
#include <math.h>
#include <string.h>

#include "fw-distill.h"
#include "fw-engine.h"
#include "fw-recipe-ext.h"
#include "fw-test-util.h"

/* alpha T^2 KL(p_t^T || p_s^T) + (1 - alpha) CE, straight from the definition */
static double
naive_loss (const float *zs, const float *zt, const gint32 *y, int n, int k, double T,
            double alpha)
{
  double total = 0;
  for (int i = 0; i < n; i++)
    {
      double ss = 0, st = 0, s1 = 0;
      for (int j = 0; j < k; j++)
        {
          ss += exp (zs[i * k + j] / T);
          st += exp (zt[i * k + j] / T);
          s1 += exp (zs[i * k + j]);
        }
      double kl = 0;
      for (int j = 0; j < k; j++)
        {
          double ps = exp (zs[i * k + j] / T) / ss, pt = exp (zt[i * k + j] / T) / st;
          kl += pt * log (pt / ps);
        }
      double ce = -log (exp (zs[i * k + y[i]]) / s1);
      total += alpha * T * T * kl + (1 - alpha) * ce;
    }
  return total / n;
}

static void
random_logits (float *z, int n, guint64 seed, float scale)
{
  FwRng rng;
  fw_rng_init (&rng, seed);
  for (int i = 0; i < n; i++)
    z[i] = scale * (float) fw_rng_normal (&rng);
}

static void
test_loss_matches_definition (void)
{
  enum { N = 6, K = 5 };
  float zs[N * K], zt[N * K];
  gint32 y[N] = { 0, 1, 4, 2, 3, 1 };
  random_logits (zs, N * K, 1, 2.0f);
  random_logits (zt, N * K, 2, 3.0f);
  const double temps[] = { 1, 2, 4, 10 }, alphas[] = { 0, 0.3, 0.9, 1 };
  for (gsize a = 0; a < G_N_ELEMENTS (temps); a++)
    for (gsize b = 0; b < G_N_ELEMENTS (alphas); b++)
      {
        double got = fw_distill_loss (zs, zt, y, N, K, temps[a], alphas[b], NULL);
        double want = naive_loss (zs, zt, y, N, K, temps[a], alphas[b]);
        g_assert_cmpfloat (fabs (got - want), <, 1e-5 * (1 + fabs (want)));
      }
  /* alpha = 0 is the plain cross-entropy of the engine */
  double ce = fw_loss_softmax_xent (zs, N, K, y, NULL, 0, NULL, NULL);
  g_assert_cmpfloat (fabs (fw_distill_loss (zs, zt, y, N, K, 4, 0, NULL) - ce), <, 1e-5);
  /* a student equal to its teacher has no soft loss, whatever T */
  g_assert_cmpfloat (fabs (fw_distill_loss (zt, zt, y, N, K, 7, 1, NULL)), <, 1e-6);
  /* KL >= 0 */
  g_assert_cmpfloat (fw_distill_loss (zs, zt, y, N, K, 3, 1, NULL), >, 0);
}

static void
test_gradient_finite_differences (void)
{
  enum { N = 4, K = 6 };
  float zs[N * K], zt[N * K], g[N * K];
  gint32 y[N] = { 5, 0, 2, 2 };
  random_logits (zs, N * K, 3, 1.5f);
  random_logits (zt, N * K, 4, 2.5f);
  const double temps[] = { 1, 3, 8 }, alphas[] = { 0, 0.5, 1 };
  for (gsize a = 0; a < G_N_ELEMENTS (temps); a++)
    for (gsize b = 0; b < G_N_ELEMENTS (alphas); b++)
      {
        fw_distill_loss (zs, zt, y, N, K, temps[a], alphas[b], g);
        double worst = 0;
        for (int i = 0; i < N * K; i++)
          {
            /* central differences on the double-precision definition */
            const float h = 1e-2f;
            float keep = zs[i];
            zs[i] = keep + h;
            double lp = naive_loss (zs, zt, y, N, K, temps[a], alphas[b]);
            zs[i] = keep - h;
            double lm = naive_loss (zs, zt, y, N, K, temps[a], alphas[b]);
            zs[i] = keep;
            double num = (lp - lm) / (2 * h);
            worst = MAX (worst, fabs (num - g[i]) / (fabs (num) + 1e-3));
          }
        g_test_message ("T %g alpha %g: worst relative gradient error %.2g", temps[a],
                        alphas[b], worst);
        g_assert_cmpfloat (worst, <, 2e-3);
      }
}

/* alpha = 1, T = 1: distillation drives the student's outputs towards the teacher's. */
static void
test_training_matches_teacher (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) ds = fw_dataset_load ("sim:200:20", 3, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwModel) teacher = fw_model_new (NULL, "flatten,dense:32,tanh,dense:10", ds->shape,
                                              &error);
  g_autoptr (FwModel) student = fw_model_new (NULL, "flatten,dense:8,tanh,dense:10", ds->shape,
                                              &error);
  fw_model_init (teacher, 1);
  fw_model_init (student, 2);
  /* a teacher with confident outputs */
  for (gsize i = 0; i < teacher->n_params; i++)
    teacher->params[i] *= 3;
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 6;
  cfg.batch = 20;
  cfg.opt = FW_OPT_ADAM;
  cfg.lr = 1e-2;
  g_autoptr (GArray) metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  g_assert_true (fw_distill_train (student, teacher, &cfg, 1, 1, ds, NULL, NULL, NULL, metrics,
                                   &error));
  g_assert_no_error (error);
  g_assert_cmpint (metrics->len, ==, 6);
  double l0 = g_array_index (metrics, FwEpochMetrics, 0).train_loss;
  double l1 = g_array_index (metrics, FwEpochMetrics, 5).train_loss;
  g_test_message ("KL to the teacher: %.4f -> %.4f", l0, l1);
  g_assert_cmpfloat (l1, <, 0.7 * l0);
  /* the student now agrees with the teacher on most training samples */
  g_autofree gint32 *pt = g_new (gint32, ds->n), *ps = g_new (gint32, ds->n);
  fw_model_predict (teacher, ds->x, ds->n, 64, pt);
  fw_model_predict (student, ds->x, ds->n, 64, ps);
  int agree = 0;
  for (int i = 0; i < ds->n; i++)
    agree += pt[i] == ps[i];
  g_assert_cmpint (agree, >, ds->n / 2);
  /* bad settings are errors */
  g_autoptr (GError) e2 = NULL;
  g_assert_false (fw_distill_train (student, teacher, &cfg, 0.5f, 1, ds, NULL, NULL, NULL, NULL,
                                    &e2));
  g_assert_error (e2, FW_ERROR, FW_ERROR_INVALID);
}

static void
test_job_writes_run_folder (void)
{
  const char *dir = fw_test_tmpdir ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FwDataset) ds = fw_dataset_load ("sim:100:20", 1, NULL, &error);
  g_autoptr (FwModel) teacher = fw_model_new ("mlp", "flatten,dense:16,relu,dense:10", ds->shape,
                                              &error);
  fw_model_init (teacher, 5);
  g_autofree char *tpath = g_build_filename (dir, "teacher.safetensors", NULL);
  g_assert_true (fw_model_save (teacher, tpath, NULL, &error));
  g_autofree char *out = g_build_filename (dir, "run", NULL);
  g_autofree char *ini = g_strdup_printf ("[data]\ndataset = sim:100:20\nval_fraction = 0\n"
                                          "[model]\narch = mlp\nwidths = 8\n"
                                          "[train]\nepochs = 2\nbatch = 20\noptimizer = adam\n"
                                          "lr = 0.01\n[output]\ndir = %s\n"
                                          "[distill]\nteacher = %s\ntemperature = 5\n"
                                          "alpha = 0.8\nseeds = 2\n", out, tpath);
  g_autoptr (FwRecipe) r = fw_recipe_load_data (ini, -1, "distill-test", &error);
  g_assert_no_error (error);
  g_assert_true (fw_recipe_ext_of (r) == &fw_distill_recipe_ext);
  g_autoptr (FwDistillResult) res = fw_distill_run (r, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (res->n_seeds, ==, 2);
  for (int s = 0; s < 2; s++)
    {
      g_assert_true (res->acc_distilled[s] >= 0 && res->acc_distilled[s] <= 1);
      g_assert_true (res->acc_hard[s] >= 0 && res->acc_hard[s] <= 1);
    }
  /* the softened outputs are the teacher's softmax at T: sum 1, flatter than at T = 1 */
  double sum = 0, max_t = 0, max_1 = 0;
  for (int j = 0; j < res->n_classes; j++)
    {
      sum += res->soft_t[j];
      max_t = MAX (max_t, res->soft_t[j]);
      max_1 = MAX (max_1, res->soft_1[j]);
    }
  g_assert_cmpfloat (fabs (sum - 1), <, 1e-5);
  g_assert_cmpfloat (max_t, <=, max_1);
  const char *files[] = { "distill.csv", "summary.json", "student.safetensors", "recipe.ini" };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *p = g_build_filename (res->run_dir, files[i], NULL);
      g_assert_true (g_file_test (p, G_FILE_TEST_IS_REGULAR));
    }
  g_autofree char *csvp = g_build_filename (res->run_dir, "distill.csv", NULL);
  g_autofree char *csv = NULL;
  g_assert_true (g_file_get_contents (csvp, &csv, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (g_strchomp (csv), "\n", -1);
  g_assert_cmpint (g_strv_length (lines), ==, 5); /* header + 2 seeds x 2 variants */
  /* a missing teacher is a clear error */
  g_autoptr (FwRecipe) r2 = fw_recipe_load_data ("[data]\ndataset = sim:50:20\n[distill]\n"
                                                 "alpha = 0.5\n", -1, "no-teacher", &error);
  g_assert_no_error (error);
  g_autoptr (GError) e2 = NULL;
  g_assert_null (fw_distill_run (r2, NULL, NULL, &e2));
  g_assert_nonnull (strstr (e2->message, "teacher"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Distill/loss_matches_definition", test_loss_matches_definition);
  g_test_add_func ("/Distill/gradient_matches_finite_differences",
                   test_gradient_finite_differences);
  g_test_add_func ("/Distill/training_follows_teacher", test_training_matches_teacher);
  g_test_add_func ("/Distill/job_writes_run_folder", test_job_writes_run_folder);
  return g_test_run ();
}
