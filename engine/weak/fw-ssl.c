/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-ssl.c: invariance learning on two augmented views (VICReg; DINO's EMA teacher with
 * centring and sharpening) and ClusterFit (see fw-weak.h for the equations). */
#include "fw-weak-private.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-features.h"
#include "fw-loss.h"
#include "fw-util.h"

void
fw_vicreg_params_init (FwVicregParams *p)
{
  p->lambda = 25.0;
  p->mu = 25.0;
  p->nu = 1.0;
  p->gamma = 1.0;
  p->eps = 1e-4;
}

/* zc [n x d] <- z centred per column (double) */
static void
centre_columns (const float *z, int n, int d, double *zc)
{
  for (int j = 0; j < d; j++)
    {
      double m = 0.0;
      for (int i = 0; i < n; i++)
        m += z[(gsize) i * d + j];
      m /= n;
      for (int i = 0; i < n; i++)
        zc[(gsize) i * d + j] = z[(gsize) i * d + j] - m;
    }
}

/* variance term of centred zc; adds scale * gradient to g (double [n x d], may be NULL) */
static double
variance_term (const double *zc, int n, int d, double gamma, double eps, double scale,
               double *g)
{
  double v = 0.0;
  for (int j = 0; j < d; j++)
    {
      double var = 0.0;
      for (int i = 0; i < n; i++)
        var += zc[(gsize) i * d + j] * zc[(gsize) i * d + j];
      var /= (n - 1);
      double sj = sqrt (var + eps);
      if (sj >= gamma)
        continue;
      v += gamma - sj;
      if (g != NULL)
        for (int i = 0; i < n; i++)
          g[(gsize) i * d + j] -= scale * zc[(gsize) i * d + j] / (d * (n - 1) * sj);
    }
  return v / d;
}

/* covariance term of centred zc; adds scale * gradient to g (may be NULL) */
static double
covariance_term (const double *zc, int n, int d, double scale, double *g)
{
  g_autofree double *cm = g_new0 (double, (gsize) d * d);
  for (int i = 0; i < n; i++)
    {
      const double *r = zc + (gsize) i * d;
      for (int a = 0; a < d; a++)
        for (int b = 0; b < d; b++)
          cm[a * d + b] += r[a] * r[b];
    }
  double c = 0.0;
  for (int a = 0; a < d; a++)
    {
      cm[a * d + a] = 0.0;
      for (int b = 0; b < d; b++)
        {
          cm[a * d + b] /= (n - 1);
          c += cm[a * d + b] * cm[a * d + b];
        }
    }
  if (g != NULL)
    {
      double f = scale * 4.0 / ((double) d * (n - 1));
      for (int i = 0; i < n; i++)
        for (int b = 0; b < d; b++)
          {
            double s = 0.0;
            for (int a = 0; a < d; a++)
              s += zc[(gsize) i * d + a] * cm[a * d + b];
            g[(gsize) i * d + b] += f * s;
          }
    }
  return c / d;
}

double
fw_vicreg_variance (const float *z, int n, int d, double gamma, double eps, float *g)
{
  g_autofree double *zc = g_new (double, (gsize) n * d);
  g_autofree double *gd = g != NULL ? g_new0 (double, (gsize) n * d) : NULL;
  centre_columns (z, n, d, zc);
  double v = variance_term (zc, n, d, gamma, eps, 1.0, gd);
  if (g != NULL)
    for (gsize i = 0; i < (gsize) n * d; i++)
      g[i] = (float) gd[i];
  return v;
}

double
fw_vicreg_loss (const float *z1, const float *z2, int n, int d, const FwVicregParams *p,
                float *g1, float *g2, FwVicregTerms *terms)
{
  gsize nd = (gsize) n * d;
  g_autofree double *zc = g_new (double, nd);
  g_autofree double *ga = g_new0 (double, nd);
  g_autofree double *gb = g_new0 (double, nd);
  double inv = 0.0;
  for (gsize i = 0; i < nd; i++)
    {
      double e = (double) z1[i] - z2[i];
      inv += e * e;
      ga[i] = p->lambda * 2.0 * e / nd;
      gb[i] = -ga[i];
    }
  inv /= nd;
  double var = 0.0, cov = 0.0;
  centre_columns (z1, n, d, zc);
  var += variance_term (zc, n, d, p->gamma, p->eps, p->mu, ga);
  if (p->nu != 0.0 || terms != NULL)
    cov += covariance_term (zc, n, d, p->nu, ga);
  centre_columns (z2, n, d, zc);
  var += variance_term (zc, n, d, p->gamma, p->eps, p->mu, gb);
  if (p->nu != 0.0 || terms != NULL)
    cov += covariance_term (zc, n, d, p->nu, gb);
  double loss = p->lambda * inv + p->mu * var + p->nu * cov;
  if (g1 != NULL)
    for (gsize i = 0; i < nd; i++)
      {
        g1[i] = (float) ga[i];
        g2[i] = (float) gb[i];
      }
  if (terms != NULL)
    *terms = (FwVicregTerms) { inv, var, cov, loss };
  return loss;
}

double
fw_dino_loss (const float *s, const float *t, int n, int k, const float *center, double tau_s,
              double tau_t, float *grad_s)
{
  g_autofree double *ps = g_new (double, k);
  g_autofree double *pt = g_new (double, k);
  double loss = 0.0;
  for (int r = 0; r < 2 * n; r++)
    {
      const float *sr = s + (gsize) r * k;
      const float *tr = t + (gsize) ((r + n) % (2 * n)) * k;    /* the other view */
      double ms = -INFINITY, mt = -INFINITY;
      for (int j = 0; j < k; j++)
        {
          ms = MAX (ms, sr[j] / tau_s);
          mt = MAX (mt, (tr[j] - center[j]) / tau_t);
        }
      double zs = 0.0, zt = 0.0;
      for (int j = 0; j < k; j++)
        {
          ps[j] = exp (sr[j] / tau_s - ms);
          pt[j] = exp ((tr[j] - center[j]) / tau_t - mt);
          zs += ps[j];
          zt += pt[j];
        }
      double lzs = log (zs) + ms;
      for (int j = 0; j < k; j++)
        {
          ps[j] /= zs;
          pt[j] /= zt;
          loss -= pt[j] * (sr[j] / tau_s - lzs);
          if (grad_s != NULL)
            grad_s[(gsize) r * k + j] = (float) ((ps[j] - pt[j]) / (tau_s * 2.0 * n));
        }
    }
  return loss / (2.0 * n);
}

void
fw_dino_center_update (float *center, const float *t, int rows, int k, double m)
{
  for (int j = 0; j < k; j++)
    {
      double s = 0.0;
      for (int r = 0; r < rows; r++)
        s += t[(gsize) r * k + j];
      center[j] = (float) (m * center[j] + (1.0 - m) * s / rows);
    }
}

void
fw_ema_update (FwModel *teacher, const FwModel *student, double m)
{
  g_return_if_fail (teacher->n_params == student->n_params);
  g_return_if_fail (teacher->n_state == student->n_state);
  float a = (float) m, b = (float) (1.0 - m);
  for (gsize i = 0; i < teacher->n_params; i++)
    teacher->params[i] = a * teacher->params[i] + b * student->params[i];
  for (gsize i = 0; i < teacher->n_state; i++)
    teacher->state[i] = a * teacher->state[i] + b * student->state[i];
}

/* ---- two views ---- */

typedef struct {
  const FwWeakConfig *c;
  const FwWeakData *d;
  float *xb, *views, *scratch, *grad, *tout, *center;
  FwModel *teacher;
  int k;
} ViewState;

/* views [2 nb x size]: rows [0, nb) view 1, [nb, 2 nb) view 2 of the same samples */
static void
make_views (ViewState *st, const gint32 *idx, int nb, FwRng *rng)
{
  FwShape s = st->d->labelled->shape;
  gsize size = st->d->size;
  fw_weak_gather (st->d, idx, nb, st->xb);
  for (int v = 0; v < 2; v++)
    for (int i = 0; i < nb; i++)
      {
        float *img = st->views + ((gsize) v * nb + i) * size;
        memcpy (img, st->xb + (gsize) i * size, sizeof (float) * size);
        fw_aug_apply (st->c->views, img, s.c, s.h, s.w, rng, st->scratch, NULL);
      }
}

static double
vicreg_step (gpointer user, FwModel *m, const gint32 *idx, int nb, FwRng *rng)
{
  ViewState *st = user;
  make_views (st, idx, nb, rng);
  const float *z = fw_model_forward (m, st->views, 2 * nb, TRUE);
  gsize half = (gsize) nb * st->k;
  double loss = fw_vicreg_loss (z, z + half, nb, st->k, &st->c->vicreg, st->grad,
                                st->grad + half, NULL);
  fw_model_backward (m, st->grad, 2 * nb);
  return loss;
}

static gboolean
views_init (const FwWeakConfig *c, const FwWeakData *d, int k, ViewState *st, GError **error)
{
  FwShape s = d->labelled->shape;
  if (!fw_aug_pipeline_check (c->views, s.c, error))
    return FALSE;
  int bs = MAX (c->pre.batch, 2);
  memset (st, 0, sizeof *st);
  st->c = c;
  st->d = d;
  st->k = k;
  st->xb = g_new (float, (gsize) bs * d->size);
  st->views = g_new (float, (gsize) 2 * bs * d->size);
  st->scratch = g_new (float, fw_aug_scratch_floats (s.c, s.h, s.w));
  st->grad = g_new (float, (gsize) 2 * bs * k);
  st->tout = g_new (float, (gsize) 2 * bs * k);
  st->center = g_new0 (float, k);
  return TRUE;
}

static void
views_clear (ViewState *st)
{
  g_free (st->xb);
  g_free (st->views);
  g_free (st->scratch);
  g_free (st->grad);
  g_free (st->tout);
  g_free (st->center);
}

static double
dino_step (gpointer user, FwModel *m, const gint32 *idx, int nb, FwRng *rng)
{
  ViewState *st = user;
  make_views (st, idx, nb, rng);
  gsize rows = (gsize) 2 * nb * st->k;
  const float *t = fw_model_forward (st->teacher, st->views, 2 * nb, FALSE);
  memcpy (st->tout, t, sizeof (float) * rows);
  const float *s = fw_model_forward (m, st->views, 2 * nb, TRUE);
  double loss = fw_dino_loss (s, st->tout, nb, st->k, st->center, st->c->dino_tau_s,
                              st->c->dino_tau_t, st->grad);
  fw_model_backward (m, st->grad, 2 * nb);
  if (st->c->dino_centre)
    fw_dino_center_update (st->center, st->tout, 2 * nb, st->k, st->c->dino_center_m);
  return loss;
}

static void
dino_after (gpointer user, FwModel *m)
{
  ViewState *st = user;
  fw_ema_update (st->teacher, m, st->c->dino_ema);
}

/* encoder + projector trained on two views; DINO keeps the EMA teacher */
static FwModel *
two_view_pretrain (const FwWeakConfig *c, const FwWeakData *d, gboolean dino, FwWeakResult *r,
                   const FwWeakHooks *hooks, GCancellable *cancellable, GError **error)
{
  g_autofree char *spec = g_strdup_printf ("%s,relu,dense:%d", d->enc_spec, c->proj_dim);
  g_autoptr (FwModel) m = fw_weak_model_new (spec, d->labelled->shape, d->seed, d->mean,
                                             d->std, error);
  ViewState st;
  if (m == NULL || !views_init (c, d, c->proj_dim, &st, error))
    return NULL;
  g_autoptr (FwModel) teacher = dino ? fw_model_copy (m) : NULL;
  st.teacher = teacher;
  FwTrainConfig cfg = c->pre;
  cfg.seed = d->seed;
  gboolean ok = fw_weak_loop (m, &cfg, d->n_images, dino ? dino_step : vicreg_step,
                              dino ? dino_after : NULL, &st, dino ? "DINO" : "VICReg", hooks,
                              r->pretext_loss, cancellable, error);
  views_clear (&st);
  if (!ok)
    return NULL;
  /* the teacher is the network DINO keeps */
  return dino ? g_steal_pointer (&teacher) : g_steal_pointer (&m);
}

FwModel *
fw_weak_pretrain_vicreg (const FwWeakConfig *c, const FwWeakData *d, FwWeakResult *r,
                         const FwWeakHooks *hooks, GCancellable *cancellable, GError **error)
{
  return two_view_pretrain (c, d, FALSE, r, hooks, cancellable, error);
}

FwModel *
fw_weak_pretrain_dino (const FwWeakConfig *c, const FwWeakData *d, FwWeakResult *r,
                       const FwWeakHooks *hooks, GCancellable *cancellable, GError **error)
{
  return two_view_pretrain (c, d, TRUE, r, hooks, cancellable, error);
}

/* ---- k-means and ClusterFit ---- */

double
fw_weak_sqdist (const float *a, const float *b, int d)
{
  double s = 0.0;
  for (int j = 0; j < d; j++)
    {
      double e = (double) a[j] - b[j];
      s += e * e;
    }
  return s;
}

double
fw_kmeans (const float *x, int n, int d, int k, int iters, guint64 seed, float *centres,
           gint32 *assign)
{
  FwRng rng;
  fw_rng_init (&rng, seed);
  k = MIN (k, n);
  g_autofree double *best = g_new (double, n);
  /* k-means++ seeding: each next centre drawn with probability proportional to D(x)^2 */
  int first = (int) fw_rng_below (&rng, (guint32) n);
  memcpy (centres, x + (gsize) first * d, sizeof (float) * d);
  for (int i = 0; i < n; i++)
    best[i] = fw_weak_sqdist (x + (gsize) i * d, centres, d);
  for (int c = 1; c < k; c++)
    {
      double total = 0.0;
      for (int i = 0; i < n; i++)
        total += best[i];
      double u = fw_rng_uniform (&rng) * total;
      int pick = n - 1;
      for (int i = 0; i < n; i++)
        {
          u -= best[i];
          if (u < 0.0)
            {
              pick = i;
              break;
            }
        }
      memcpy (centres + (gsize) c * d, x + (gsize) pick * d, sizeof (float) * d);
      for (int i = 0; i < n; i++)
        best[i] = MIN (best[i],
                       fw_weak_sqdist (x + (gsize) i * d, centres + (gsize) c * d, d));
    }
  g_autofree double *sum = g_new (double, (gsize) k * d);
  g_autofree int *count = g_new (int, k);
  double inertia = 0.0;
  for (int it = 0; it <= iters; it++)
    {
      inertia = 0.0;
      for (int i = 0; i < n; i++)
        {
          int bc = 0;
          double bd = INFINITY;
          for (int c = 0; c < k; c++)
            {
              double dd = fw_weak_sqdist (x + (gsize) i * d, centres + (gsize) c * d, d);
              if (dd < bd)
                {
                  bd = dd;
                  bc = c;
                }
            }
          assign[i] = bc;
          inertia += bd;
        }
      if (it == iters)
        break;
      memset (sum, 0, sizeof (double) * k * d);
      memset (count, 0, sizeof (int) * k);
      for (int i = 0; i < n; i++)
        {
          count[assign[i]]++;
          for (int j = 0; j < d; j++)
            sum[(gsize) assign[i] * d + j] += x[(gsize) i * d + j];
        }
      for (int c = 0; c < k; c++)
        if (count[c] > 0)     /* an empty cluster keeps its centre */
          for (int j = 0; j < d; j++)
            centres[(gsize) c * d + j] = (float) (sum[(gsize) c * d + j] / count[c]);
    }
  return inertia;
}

FwModel *
fw_weak_pretrain_clusterfit (const FwWeakConfig *c, const FwWeakData *d, FwWeakResult *r,
                             const FwWeakHooks *hooks, GCancellable *cancellable,
                             GError **error)
{
  /* 1. features of a rotation-pretrained encoder on all images */
  g_autoptr (FwModel) rot = fw_weak_pretrain_rotation (c, d, NULL, hooks, cancellable, error);
  if (rot == NULL)
    return NULL;
  FwShape s = d->labelled->shape;
  g_autoptr (FwDataset) all = fw_dataset_new ("all images", d->n_images, s,
                                              MIN (MAX (c->clusters, 2), d->n_images));
  memcpy (all->x, d->images, sizeof (float) * d->n_images * d->size);
  g_autoptr (FwFeatures) f = fw_features_layer (rot, d->n_enc - 1, all, NULL, 0, 256,
                                                cancellable, error);
  if (f == NULL)
    return NULL;
  /* 2. k-means pseudo-classes */
  int k = MIN (MAX (c->clusters, 2), d->n_images);
  g_autofree float *centres = g_new (float, (gsize) k * f->d);
  all->n_classes = k;
  fw_kmeans (f->x, f->n, f->d, k, 20, d->seed, centres, all->y);
  /* 3. a fresh network learns to predict them */
  g_autofree char *spec = g_strdup_printf ("%s,relu,dense:%d", d->enc_spec, k);
  g_autoptr (FwModel) m = fw_weak_model_new (spec, s, d->seed + 1000, d->mean, d->std, error);
  if (m == NULL)
    return NULL;
  FwTrainConfig cfg = c->pre;
  cfg.seed = d->seed;
  if (!fw_weak_train (m, &cfg, all, "ClusterFit", hooks, r->pretext_loss, cancellable, error))
    return NULL;
  return g_steal_pointer (&m);
}
