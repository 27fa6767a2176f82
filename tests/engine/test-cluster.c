/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cluster.c: weight clustering: nearest-centre assignment against a brute-force search,
 * k-means' fixed point, bit-packed codes, the centroid gradient against summed weight
 * gradients, the pull phase, and the codebook inference form's file size and outputs. */
#include <math.h>
#include <string.h>

#include "fw-cluster.h"
#include "fw-error.h"
#include "fw-layer-quant.h"
#include "fw-loss.h"
#include "fw-quant.h"
#include "fw-safetensors.h"
#include "fw-test-util.h"

static int
brute_nearest (float x, const float *c, int k)
{
  int best = 0;
  for (int j = 1; j < k; j++)
    if (fabsf (x - c[j]) < fabsf (x - c[best]))
      best = j;
  return best;
}

static void
test_assign_brute_force (void)
{
  FwRng rng;
  fw_rng_init (&rng, 1);
  for (int trial = 0; trial < 40; trial++)
    {
      int k = 1 + (int) fw_rng_below (&rng, 16);
      float c[16];
      for (int j = 0; j < k; j++) /* distinct sorted centres on a coarse grid */
        c[j] = (j == 0 ? -1.0f : c[j - 1]) + 0.125f * (1 + (int) fw_rng_below (&rng, 4));
      float x[300];
      guint8 codes[300];
      for (int i = 0; i < 300; i++)
        x[i] = -1.5f + 4.0f * (float) fw_rng_uniform (&rng);
      for (int i = 0; i + 1 < k && i < 20; i++) /* exact midpoints: ties go to the lower */
        x[i] = 0.5f * (c[i] + c[i + 1]);
      fw_cluster_assign (x, 300, c, k, codes);
      for (int i = 0; i < 300; i++)
        g_assert_cmpint (codes[i], ==, brute_nearest (x[i], c, k));
    }
}

static void
test_kmeans_fixed_point (void)
{
  FwRng rng;
  fw_rng_init (&rng, 2);
  const gsize n = 3000;
  g_autofree float *x = g_new (float, n);
  g_autofree guint8 *codes = g_new (guint8, n);
  /* three tight blobs: k-means finds their means */
  const float mu[3] = { -0.8f, 0.1f, 0.6f };
  double sum[3] = { 0 };
  int cnt[3] = { 0 };
  for (gsize i = 0; i < n; i++)
    {
      int b = (int) (i % 3);
      x[i] = mu[b] + 0.02f * (float) fw_rng_normal (&rng);
      sum[b] += x[i];
      cnt[b]++;
    }
  float c[3];
  fw_kmeans_1d (x, n, 3, 30, c, codes);
  for (int b = 0; b < 3; b++)
    g_assert_cmpfloat (fabs (c[b] - sum[b] / cnt[b]), <, 1e-5);
  /* on a continuous distribution: a fixed point (each centre is the mean of its members,
   * each code the nearest centre) no worse than the linear initialisation */
  for (gsize i = 0; i < n; i++)
    x[i] = (float) fw_rng_normal (&rng) * 0.1f;
  float c5[5], lin[5], lo = INFINITY, hi = -INFINITY;
  double sse = fw_kmeans_1d (x, n, 5, 100, c5, codes);
  for (gsize i = 0; i < n; i++)
    {
      lo = MIN (lo, x[i]);
      hi = MAX (hi, x[i]);
      g_assert_cmpint (codes[i], ==, brute_nearest (x[i], c5, 5));
    }
  double msum[5] = { 0 }, sse_lin = 0, sse_chk = 0;
  int mcnt[5] = { 0 };
  for (gsize i = 0; i < n; i++)
    {
      msum[codes[i]] += x[i];
      mcnt[codes[i]]++;
      sse_chk += (x[i] - c5[codes[i]]) * (double) (x[i] - c5[codes[i]]);
    }
  for (int j = 0; j < 5; j++)
    {
      g_assert_cmpint (mcnt[j], >, 0);
      g_assert_cmpfloat (fabs (c5[j] - msum[j] / mcnt[j]), <, 1e-5);
      if (j > 0)
        g_assert_cmpfloat (c5[j - 1], <, c5[j]);
      lin[j] = lo + (hi - lo) * j / 4.0f;
    }
  for (gsize i = 0; i < n; i++)
    {
      float d = x[i] - lin[brute_nearest (x[i], lin, 5)];
      sse_lin += d * (double) d;
    }
  g_assert_cmpfloat (fabs (sse - sse_chk), <=, 1e-6 * sse_chk);
  g_assert_cmpfloat (sse, <, sse_lin);
}

static void
test_codes_pack (void)
{
  FwRng rng;
  fw_rng_init (&rng, 3);
  for (int bits = 1; bits <= 8; bits++)
    for (gsize n = 0; n < 40; n += 7)
      {
        guint8 codes[40], back[40], packed[40];
        for (gsize i = 0; i < n; i++)
          codes[i] = (guint8) fw_rng_below (&rng, 1u << bits);
        gsize nb = fw_codes_packed_bytes (n, bits);
        g_assert_cmpuint (nb, ==, (n * bits + 7) / 8);
        fw_codes_pack (codes, n, bits, packed);
        /* bit b of code i is bit i bits + b of the stream */
        for (gsize i = 0; i < n; i++)
          for (int b = 0; b < bits; b++)
            {
              gsize pos = i * bits + b;
              g_assert_cmpint ((packed[pos / 8] >> (pos % 8)) & 1, ==, (codes[i] >> b) & 1);
            }
        fw_codes_unpack (packed, n, bits, back);
        g_assert_cmpmem (back, n, codes, n);
      }
  g_assert_cmpint (fw_cluster_bits (2), ==, 1);
  g_assert_cmpint (fw_cluster_bits (3), ==, 2);
  g_assert_cmpint (fw_cluster_bits (5), ==, 3);
  g_assert_cmpint (fw_cluster_bits (8), ==, 3);
  g_assert_cmpint (fw_cluster_bits (9), ==, 4);
  g_assert_cmpint (fw_cluster_bits (256), ==, 8);
}

static FwDataset *
random_data (int n, FwShape in, int classes, guint64 seed)
{
  FwDataset *ds = fw_dataset_new ("rand", n, in, classes);
  FwRng rng;
  fw_rng_init (&rng, seed);
  fw_test_fill_uniform (ds->x, (gsize) n * fw_shape_size (in), 0, 1, &rng);
  for (int i = 0; i < n; i++)
    ds->y[i] = i % classes;
  return ds;
}

static FwModel *
new_model (const char *spec, FwShape in, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  FwModel *m = fw_model_new ("custom", spec, in, &error);
  g_assert_no_error (error);
  fw_model_init (m, seed);
  return m;
}

/* One full-batch tied step: the clustering's stored dL/dc_j equals the sum of the plain
 * gradients of the weights coded j, computed on a copy of the snapped model; after training
 * every weight equals its centre. */
static void
test_centroid_gradient (void)
{
  g_autoptr (GError) error = NULL;
  FwShape in = { 1, 4, 4 };
  g_autoptr (FwModel) m = new_model ("flatten,dense:12,relu,dense:3", in, 4);
  FwDataset *ds = random_data (30, in, 3, 5);
  g_autoptr (FwClustering) c = fw_clustering_new (m, 4, 20, &error);
  g_assert_no_error (error);
  g_assert_cmpint (c->n_tensors, ==, 2);
  g_autoptr (FwModel) ref = fw_model_copy (m);
  fw_clustering_snap (c, ref);
  const float *logits = fw_model_forward (ref, ds->x, ds->n, TRUE);
  g_autofree float *dl = g_new (float, ds->n * 3);
  fw_loss_softmax_xent (logits, ds->n, 3, ds->y, NULL, 0, dl, NULL);
  fw_model_backward (ref, dl, ds->n);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 1;
  cfg.batch = ds->n;
  cfg.opt = FW_OPT_ADAM;
  cfg.lr = 1e-3;
  g_autoptr (GArray) before = g_array_new (FALSE, FALSE, sizeof (float));
  for (int t = 0; t < c->n_tensors; t++)
    g_array_append_vals (before, c->t[t].centres, c->k);
  g_assert_true (fw_cluster_train (m, c, &cfg, 0, 0, ds, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  for (int t = 0; t < c->n_tensors; t++)
    {
      const FwClusterTensor *ct = &c->t[t];
      double want[8] = { 0 }, gmax = 0;
      for (gsize j = 0; j < ct->n; j++)
        want[ct->codes[j]] += ref->grads[ct->offset + j];
      for (int j = 0; j < ct->k; j++)
        gmax = MAX (gmax, fabs (want[j]));
      for (int j = 0; j < ct->k; j++)
        {
          g_assert_cmpfloat (fabs (ct->grad[j] - want[j]), <=, 1e-4 * gmax + 1e-9);
          /* Adam's first step moves a centre by lr against its gradient's sign */
          float moved = ct->centres[j] - g_array_index (before, float, t * c->k + j);
          if (fabs (want[j]) > 1e-3 * gmax)
            g_assert_cmpfloat (fabs (moved + cfg.lr * (want[j] > 0 ? 1 : -1)), <, 1e-5);
        }
      for (gsize j = 0; j < ct->n; j++)
        g_assert_cmpfloat (m->params[ct->offset + j], ==, ct->centres[ct->codes[j]]);
    }
  fw_dataset_unref (ds);
}

static double
distance_to_centres (const FwClustering *c, const FwModel *m)
{
  double d = 0;
  for (int t = 0; t < c->n_tensors; t++)
    for (gsize j = 0; j < c->t[t].n; j++)
      {
        double e = m->params[c->t[t].offset + j] - c->t[t].centres[c->t[t].codes[j]];
        d += e * e;
      }
  return d;
}

static void
test_pull_phase (void)
{
  g_autoptr (GError) error = NULL;
  FwShape in = { 1, 4, 4 };
  g_autoptr (FwModel) m = new_model ("flatten,dense:10,relu,dense:3", in, 6);
  FwDataset *ds = random_data (64, in, 3, 7);
  g_autoptr (FwClustering) c = fw_clustering_new (m, 3, 20, &error);
  g_assert_no_error (error);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 3;
  cfg.batch = 16;
  cfg.opt = FW_OPT_SGD;
  cfg.momentum = 0;
  cfg.lr = 0.05;
  g_autoptr (GArray) metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  /* two pull epochs, one tied: epochs numbered on, every weight on its centre at the end */
  g_assert_true (fw_cluster_train (m, c, &cfg, 20.0f, 2, ds, ds, NULL, NULL, metrics, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (metrics->len, ==, 3);
  for (guint e = 0; e < metrics->len; e++)
    {
      const FwEpochMetrics *em = &g_array_index (metrics, FwEpochMetrics, e);
      g_assert_cmpint (em->epoch, ==, (int) e + 1);
      g_assert_true (em->test_acc >= 0 && em->test_acc <= 1);
    }
  g_assert_cmpfloat (distance_to_centres (c, m), ==, 0.0);
  fw_dataset_unref (ds);
}

/* the pull phase alone leaves the weights free but much closer to their centres than the
 * same training without the penalty */
static void
test_pull_shrinks_distance (void)
{
  g_autoptr (GError) error = NULL;
  FwShape in = { 1, 3, 3 };
  g_autoptr (FwModel) m0 = new_model ("flatten,dense:8,relu,dense:2", in, 8);
  g_autoptr (FwModel) m1 = fw_model_copy (m0);
  FwDataset *ds = random_data (32, in, 2, 9);
  g_autoptr (FwClustering) c0 = fw_clustering_new (m0, 3, 20, &error);
  g_autoptr (FwClustering) c1 = fw_clustering_new (m1, 3, 20, &error);
  g_assert_no_error (error);
  double d_init = distance_to_centres (c0, m0);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 2;
  cfg.batch = 8;
  cfg.opt = FW_OPT_SGD;
  cfg.momentum = 0;
  cfg.lr = 0.02;
  g_assert_true (fw_cluster_pull (m0, c0, &cfg, 0.0f, ds, NULL, NULL, NULL, NULL, &error));
  g_assert_true (fw_cluster_pull (m1, c1, &cfg, 20.0f, ds, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  double d0 = distance_to_centres (c0, m0), d1 = distance_to_centres (c1, m1);
  g_test_message ("squared distance to the centres: start %g, no pull %g, pull %g", d_init, d0,
                  d1);
  g_assert_cmpfloat (d1, >, 0.0);
  g_assert_cmpfloat (d1, <, 0.5 * d0);
  g_assert_cmpfloat (d1, <, 0.5 * d_init);
  fw_dataset_unref (ds);
}

static gsize
file_data_bytes (const char *path)
{
  g_autofree char *buf = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &buf, &len, NULL));
  guint64 hl = 0;
  for (int i = 7; i >= 0; i--)
    hl = (hl << 8) | (guint8) buf[i];
  return len - 8 - (gsize) hl;
}

static void
test_pack_model (void)
{
  g_autoptr (GError) error = NULL;
  FwShape in = { 2, 6, 6 };
  g_autoptr (FwModel) m = new_model ("conv:4:3:1:1,bn,relu,maxpool:2,flatten,dense:9,relu,"
                                     "dense:3", in, 10);
  /* not clustered yet: packing is refused, naming the layer */
  g_autoptr (FwModel) bad = fw_cluster_model_pack (m, 5, &error);
  g_assert_null (bad);
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "layer 1"));
  g_clear_error (&error);
  g_autoptr (FwClustering) c = fw_clustering_new (m, 5, 20, &error);
  g_assert_no_error (error);
  fw_clustering_snap (c, m);
  g_autoptr (FwModel) p = fw_cluster_model_pack (m, 5, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (p->spec, ==, "cluster:5:conv:4:3:1:1,bn,relu,maxpool:2,flatten,"
                   "cluster:5:dense:9,relu,cluster:5:dense:3");
  const char *dir = fw_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "c.safetensors", NULL);
  g_assert_true (fw_model_save (p, path, NULL, &error));
  g_assert_no_error (error);
  /* bytes: each weight tensor ceil(3 n / 8) code bytes + 5 centres; biases and bn float32 */
  gsize want = 0, packed = 0, f32 = 0;
  for (int t = 0; t < c->n_tensors; t++)
    want += (c->t[t].n * 3 + 7) / 8 + 5 * 4;
  fw_clustering_bytes (c, &packed, &f32);
  g_assert_cmpuint (packed, ==, want);
  gsize other = (m->n_params + m->n_state) * 4 - f32;
  g_assert_cmpuint (file_data_bytes (path), ==, want + other);
  g_autoptr (FwModel) l = fw_model_load (path, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (l->spec, ==, p->spec);
  const int n = 5;
  g_autofree float *x = g_new (float, n * 72);
  FwRng rng;
  fw_rng_init (&rng, 11);
  fw_test_fill_uniform (x, n * 72, 0, 1, &rng);
  g_autofree float *ym = g_memdup2 (fw_model_forward (m, x, n, FALSE), sizeof (float) * n * 3);
  const float *yl = fw_model_forward (l, x, n, FALSE);
  for (int i = 0; i < n * 3; i++)
    g_assert_cmpfloat (yl[i], ==, ym[i]);
  /* corrupt codes (a code beyond the codebook) are refused on load */
  FwLayer *cl = l->layers[0];
  FwPackedTensor pt[FW_LAYER_MAX_TENSORS];
  int np = cl->klass->packed (cl, pt);
  int cb = -1;
  for (int i = 0; i < np; i++)
    if (g_strcmp0 (pt[i].name, "weight.codebook") == 0)
      cb = i;
  g_assert_cmpint (cb, >=, 0);
  pt[cb].dims[0] = 2;
  pt[cb].bytes = 8;
  gboolean ok = cl->klass->unpack (cl, pt, np, &error);
  if (!ok) /* unless every code happened to be 0 or 1 */
    {
      g_assert_error (error, FW_ERROR, FW_ERROR_FORMAT);
      g_assert_nonnull (strstr (error->message, "weight.codes"));
    }
}

/* ternary STE training packs into 2-bit codebook layers with at most 3 values per tensor */
static void
test_ternary_packs (void)
{
  g_autoptr (GError) error = NULL;
  FwShape in = { 1, 4, 4 };
  g_autoptr (FwModel) m = new_model ("flatten,dense:8,relu,dense:3", in, 12);
  FwDataset *ds = random_data (40, in, 3, 13);
  FwTrainConfig cfg;
  fw_train_config_defaults (&cfg);
  cfg.epochs = 1;
  cfg.batch = 10;
  g_assert_true (fw_quant_train_ste (m, FW_QUANT_TERNARY, 0, &cfg, ds, NULL, NULL, NULL, NULL,
                                     &error));
  g_autoptr (FwModel) p = fw_cluster_model_pack (m, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (p->spec, ==, "flatten,cluster:3:dense:8,relu,cluster:3:dense:3");
  const float *ym = fw_model_forward (m, ds->x, 4, FALSE);
  g_autofree float *a = g_memdup2 (ym, sizeof (float) * 12);
  const float *yp = fw_model_forward (p, ds->x, 4, FALSE);
  for (int i = 0; i < 12; i++)
    g_assert_cmpfloat (yp[i], ==, a[i]);
  fw_dataset_unref (ds);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Cluster/assign_matches_brute_force", test_assign_brute_force);
  g_test_add_func ("/Cluster/kmeans_reaches_a_fixed_point", test_kmeans_fixed_point);
  g_test_add_func ("/Cluster/codes_pack_bit_exact", test_codes_pack);
  g_test_add_func ("/Cluster/centroid_gradient_is_sum_of_weight_gradients",
                   test_centroid_gradient);
  g_test_add_func ("/Cluster/pull_then_tied_training_ends_on_centres", test_pull_phase);
  g_test_add_func ("/Cluster/pull_brings_weights_to_their_centres", test_pull_shrinks_distance);
  g_test_add_func ("/Cluster/packed_model_size_and_outputs", test_pack_model);
  g_test_add_func ("/Cluster/ternary_model_packs_into_2_bit_codes", test_ternary_packs);
  return g_test_run ();
}
