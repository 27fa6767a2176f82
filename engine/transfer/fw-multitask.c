/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-multitask.c: one shared trunk, two heads, trained jointly ("multi-tasking: task 1 small
 * data, task 2 lots of data; beware the similarity of tasks").
 *
 * A step takes n1 samples of task 1 and n2 of task 2 through the trunk as one batch of
 * n1 + n2, then the first n1 feature rows through head 1 and the last n2 through head 2:
 *   L = CE(head1(f_1..n1), y1) + w2 CE(head2(f_n1+1..n1+n2), y2)
 * Each head's backward runs down to its input (dL/df), and the trunk's backward gets the two
 * blocks stacked, so both tasks' gradients reach the trunk's weights. */
#include "fw-transfer.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-loss.h"
#include "fw-util.h"

void
fw_multitask_free (FwMultiTask *mt)
{
  if (mt == NULL)
    return;
  fw_model_unref (mt->trunk);
  fw_model_unref (mt->head[0]);
  fw_model_unref (mt->head[1]);
  g_free (mt);
}

FwMultiTask *
fw_multitask_new (const char *trunk_spec, FwShape input, int k1, int k2, guint64 seed,
                  GError **error)
{
  if (k1 < 2 || k2 < 2)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "multi-task: each task needs 2 or more "
                   "classes (got %d and %d)", k1, k2);
      return NULL;
    }
  g_autoptr (FwMultiTask) mt = g_new0 (FwMultiTask, 1);
  mt->trunk = fw_model_new ("trunk", trunk_spec, input, error);
  if (mt->trunk == NULL)
    return NULL;
  fw_model_init (mt->trunk, seed);
  FwShape f = { mt->trunk->n_classes, 1, 1 };
  for (int h = 0; h < 2; h++)
    {
      g_autofree char *spec = g_strdup_printf ("dense:%d", h == 0 ? k1 : k2);
      mt->head[h] = fw_model_new ("head", spec, f, error);
      if (mt->head[h] == NULL)
        return NULL;
      fw_model_init (mt->head[h], seed + 1 + (guint64) h);
    }
  return g_steal_pointer (&mt);
}

/* Backward through every layer of m down to its input: dx[n x size(input)]. Must follow a
 * train-mode forward of the same n samples. m's input normalisation is the identity here. */
static void
backward_to_input (FwModel *m, const float *dlogits, int n, float *dx)
{
  for (int i = m->n_layers - 1; i >= 0; i--)
    {
      FwLayer *l = m->layers[i];
      const float *x = i == 0 ? m->act_in : m->act[i - 1];
      const float *dy = i == m->n_layers - 1 ? dlogits : m->dact[i];
      l->klass->backward (l, x, m->act[i], dy, i == 0 ? dx : m->dact[i - 1], n);
    }
}

/* head h on feature rows f[n x d]: loss (CE, or sum r . z with r), adds w dL/df into df */
static double
head_pass (FwMultiTask *mt, int h, const float *f, const gint32 *y, int n, double w,
           const float *r, float *df)
{
  FwModel *m = mt->head[h];
  int k = m->n_classes, d = (int) fw_shape_size (m->input);
  const float *z = fw_model_forward (m, f, n, TRUE);
  g_autofree float *dz = g_new (float, (gsize) n * k);
  double loss;
  if (r != NULL)
    {
      loss = 0;
      for (gsize i = 0; i < (gsize) n * k; i++)
        {
          loss += (double) r[i] * z[i];
          dz[i] = r[i];
        }
    }
  else
    loss = fw_loss_softmax_xent (z, n, k, y, NULL, 0.0f, dz, NULL);
  for (gsize i = 0; i < (gsize) n * k; i++)
    dz[i] *= (float) w;
  g_autofree float *dfh = g_new (float, (gsize) n * d);
  backward_to_input (m, dz, n, dfh);
  for (gsize i = 0; i < (gsize) n * d; i++)
    df[i] += dfh[i];
  return w * loss;
}

double
fw_multitask_loss_grad (FwMultiTask *mt, const float *x1, const gint32 *y1, int n1,
                        const float *x2, const gint32 *y2, int n2, double w2, const float *r1,
                        const float *r2)
{
  gsize in = fw_shape_size (mt->trunk->input);
  int d = mt->trunk->n_classes, n = n1 + n2;
  g_autofree float *xb = g_new (float, (gsize) n * in);
  memcpy (xb, x1, sizeof (float) * n1 * in);
  if (n2 > 0)
    memcpy (xb + (gsize) n1 * in, x2, sizeof (float) * n2 * in);
  const float *f = fw_model_forward (mt->trunk, xb, n, TRUE);
  g_autofree float *fc = g_memdup2 (f, sizeof (float) * (gsize) n * d);
  g_autofree float *df = g_new0 (float, (gsize) n * d);
  double loss = head_pass (mt, 0, fc, y1, n1, 1.0, r1, df);
  if (n2 > 0)
    loss += head_pass (mt, 1, fc + (gsize) n1 * d, y2, n2, w2, r2, df + (gsize) n1 * d);
  else
    memset (mt->head[1]->grads, 0, sizeof (float) * mt->head[1]->n_params);
  fw_model_backward (mt->trunk, df, n);
  return loss;
}

static void
gather (const FwDataset *ds, const gint32 *idx, int n, float *x, gint32 *y)
{
  gsize in = fw_dataset_sample_size (ds);
  for (int i = 0; i < n; i++)
    {
      memcpy (x + (gsize) i * in, ds->x + (gsize) idx[i] * in, sizeof (float) * in);
      y[i] = ds->y[idx[i]];
    }
}

static void
shuffle (gint32 *a, int n, FwRng *rng)
{
  for (int i = n - 1; i > 0; i--)
    {
      int j = (int) fw_rng_below (rng, (guint32) (i + 1));
      gint32 t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
}

gboolean
fw_multitask_train (FwMultiTask *mt, const FwTrainConfig *cfg, FwDataset *t1, FwDataset *t2,
                    double w2, GCancellable *cancellable, GError **error)
{
  if (fw_shape_size (t1->shape) != fw_shape_size (mt->trunk->input)
      || (t2 != NULL && fw_shape_size (t2->shape) != fw_shape_size (mt->trunk->input)))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "multi-task: the tasks' samples do not "
                   "fit the trunk's input");
      return FALSE;
    }
  /* the trunk normalises with task 1's statistics */
  fw_dataset_stats (t1, &mt->trunk->in_mean, &mt->trunk->in_std);
  if (mt->trunk->in_std <= 0)
    mt->trunk->in_std = 1;
  gboolean two = t2 != NULL && w2 > 0;
  FwModel *models[3] = { mt->trunk, mt->head[0], mt->head[1] };
  FwOptimizer *opt[3];
  for (int i = 0; i < 3; i++)
    opt[i] = fw_optimizer_new (models[i], cfg);
  FwRng rng;
  fw_rng_init (&rng, cfg->seed ^ 0x6d74);
  int n1 = t1->n, n2 = two ? t2->n : 0;
  g_autofree gint32 *i1 = g_new (gint32, n1);
  g_autofree gint32 *i2 = g_new (gint32, MAX (n2, 1));
  for (int i = 0; i < n1; i++)
    i1[i] = i;
  for (int i = 0; i < n2; i++)
    i2[i] = i;
  /* every step: a minibatch of each task (the smaller set cycles); an epoch is one pass over
   * the larger set */
  int steps = MAX (1, (MAX (n1, n2) + cfg->batch - 1) / cfg->batch);
  int b1 = MIN (n1, cfg->batch);
  int b2 = two ? MIN (n2, cfg->batch) : 0;
  gsize in = fw_dataset_sample_size (t1);
  g_autofree float *x1 = g_new (float, (gsize) b1 * in);
  g_autofree float *x2 = g_new (float, (gsize) MAX (b2, 1) * in);
  g_autofree gint32 *y1 = g_new (gint32, b1);
  g_autofree gint32 *y2 = g_new (gint32, MAX (b2, 1));
  int p1 = n1, p2 = n2;
  gboolean ok = TRUE;
  for (int e = 0; e < cfg->epochs && ok; e++)
    {
      double lr = fw_train_lr_at (cfg, e);
      for (int s = 0; s < steps; s++)
        {
          if (g_cancellable_is_cancelled (cancellable))
            {
              g_set_error (error, FW_ERROR, FW_ERROR_CANCELLED, "Multi-task training cancelled");
              ok = FALSE;
              break;
            }
          if (p1 + b1 > n1)
            {
              shuffle (i1, n1, &rng);
              p1 = 0;
            }
          gather (t1, i1 + p1, b1, x1, y1);
          p1 += b1;
          if (two)
            {
              if (p2 + b2 > n2)
                {
                  shuffle (i2, n2, &rng);
                  p2 = 0;
                }
              gather (t2, i2 + p2, b2, x2, y2);
              p2 += b2;
            }
          double loss = fw_multitask_loss_grad (mt, x1, y1, b1, x2, y2, b2, w2, NULL, NULL);
          if (!isfinite (loss))
            {
              g_set_error (error, FW_ERROR, FW_ERROR_NUMERIC, "multi-task: the loss became %g "
                           "in epoch %d; lower the learning rate", loss, e + 1);
              ok = FALSE;
              break;
            }
          for (int i = 0; i < 3; i++)
            if (i < 2 || two)
              fw_optimizer_step (opt[i], models[i], lr);
        }
    }
  for (int i = 0; i < 3; i++)
    fw_optimizer_free (opt[i]);
  return ok;
}

double
fw_multitask_accuracy (FwMultiTask *mt, int h, const FwDataset *ds)
{
  gsize in = fw_dataset_sample_size (ds);
  int d = mt->trunk->n_classes, correct = 0;
  FwModel *head = mt->head[h];
  int k = head->n_classes;
  for (int s = 0; s < ds->n; s += 256)
    {
      int b = MIN (256, ds->n - s);
      const float *f = fw_model_forward (mt->trunk, ds->x + (gsize) s * in, b, FALSE);
      g_autofree float *fc = g_memdup2 (f, sizeof (float) * (gsize) b * d);
      const float *z = fw_model_forward (head, fc, b, FALSE);
      for (int i = 0; i < b; i++)
        {
          int best = 0;
          for (int c = 1; c < k; c++)
            if (z[(gsize) i * k + c] > z[(gsize) i * k + best])
              best = c;
          correct += best == ds->y[s + i];
        }
    }
  return ds->n > 0 ? (double) correct / ds->n : NAN;
}

/* ---- the demonstration: similar vs dissimilar second task ---- */

/* Fashion-MNIST's coarse groups: tops (T-shirt, Pullover, Dress, Coat, Shirt), trousers,
 * footwear (Sandal, Sneaker, Ankle boot), bags; other 10-class sets: the lower and upper half
 * of the classes. */
static int
coarse_of (const FwDataset *ds, int y)
{
  static const int fashion[10] = { 0, 1, 0, 0, 0, 2, 0, 2, 3, 2 };
  if (ds->n_classes == 10 && ds->name != NULL && strstr (ds->name, "Fashion") != NULL)
    return fashion[y];
  return y < ds->n_classes / 2 ? 0 : 1;
}

FwDataset *
fw_multitask_task2 (const FwDataset *ds, gboolean dissimilar, guint64 seed)
{
  int k = 0;
  for (int i = 0; i < ds->n; i++)
    k = MAX (k, coarse_of (ds, ds->y[i]) + 1);
  k = MAX (k, 2);
  FwDataset *t = fw_dataset_new (dissimilar ? "random labels" : "coarse groups", ds->n,
                                 ds->shape, k);
  memcpy (t->x, ds->x, sizeof (float) * (gsize) ds->n * fw_dataset_sample_size (ds));
  FwRng rng;
  fw_rng_init (&rng, seed ^ 0xd155);
  for (int i = 0; i < ds->n; i++)
    t->y[i] = dissimilar ? (gint32) fw_rng_below (&rng, (guint32) k)
                         : coarse_of (ds, ds->y[i]);
  return t;
}

char *
fw_multitask_trunk_spec (const char *arch, FwShape input, int n_classes, GError **error)
{
  g_autofree char *spec = fw_model_arch_spec (arch, NULL, input, n_classes, error);
  if (spec == NULL)
    return NULL;
  g_autoptr (FwModel) m = fw_model_new (arch, spec, input, error);
  if (m == NULL)
    return NULL;
  int head = fw_transfer_head_index (m);
  GString *s = g_string_new (NULL);
  for (int i = 0; i < head; i++)
    {
      g_autofree char *tok = m->layers[i]->klass->spec (m->layers[i]);
      g_string_append_printf (s, "%s%s", i ? "," : "", tok);
    }
  return g_string_free (s, FALSE);
}
