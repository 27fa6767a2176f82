/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-grow.c: growth sites, the TINY algebra, the baselines' neurons and the model surgery
 * that adds them (see fw-grow.h for the equations). */
#include "fw-grow.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-loss.h"

const char *
fw_grow_method_name (FwGrowMethod m)
{
  switch (m)
    {
    case FW_GROW_TINY: return "tiny";
    case FW_GROW_GRADMAX: return "gradmax";
    case FW_GROW_RANDOM: return "random";
    }
  return "?";
}

gboolean
fw_grow_method_parse (const char *s, FwGrowMethod *out)
{
  for (int m = FW_GROW_TINY; m <= FW_GROW_RANDOM; m++)
    if (g_strcmp0 (s, fw_grow_method_name (m)) == 0)
      {
        *out = m;
        return TRUE;
      }
  return FALSE;
}

void
fw_grow_options_defaults (FwGrowOptions *o)
{
  *o = (FwGrowOptions) { .lambda_rel = 0.1, .max_new = 8, .eig_rel = 1e-6,
                         .random_scale = 0.1 };
}

/* ---- sites ---- */

static gboolean
is_weight_layer (const FwLayer *l)
{
  return l->klass == &fw_layer_dense || l->klass == &fw_layer_conv;
}

static gboolean
is_passthrough (const FwLayer *l)
{
  return l->klass == &fw_layer_relu || l->klass == &fw_layer_tanh
         || l->klass == &fw_layer_leaky_relu || l->klass == &fw_layer_sigmoid
         || l->klass == &fw_layer_flatten;
}

int
fw_grow_sites (const FwModel *m, FwGrowSite *out, int max)
{
  int n = 0;
  for (int a = 0; a < m->n_layers && n < max; a++)
    {
      if (!is_weight_layer (m->layers[a]))
        continue;
      int b = a + 1;
      while (b < m->n_layers && is_passthrough (m->layers[b]))
        b++;
      if (b >= m->n_layers || !is_weight_layer (m->layers[b]))
        continue;
      /* a dense layer's units feeding a convolution has no sensible tap geometry */
      if (m->layers[a]->klass == &fw_layer_dense && m->layers[b]->klass == &fw_layer_conv)
        continue;
      out[n++] = (FwGrowSite) { a, b };
    }
  return n;
}

/* ---- geometry of a site ---- */

typedef struct {
  const FwLayer *A, *B;
  gboolean a_conv, b_conv;
  int dA, QA;          /* A's patch + 1, A's output pixels */
  int dB, OUT, P, U;   /* B's patch + 1, B's outputs per pixel, B's output pixels, taps */
  int C;               /* A's output channels (= B's input channels) */
} Geo;

static Geo
site_geo (const FwModel *m, FwGrowSite s)
{
  Geo g = { .A = m->layers[s.a], .B = m->layers[s.b] };
  g.a_conv = g.A->klass == &fw_layer_conv;
  g.b_conv = g.B->klass == &fw_layer_conv;
  if (g.a_conv)
    {
      g.dA = g.A->in.c * g.A->iarg[1] * g.A->iarg[1] + 1;
      g.QA = g.A->out.h * g.A->out.w;
    }
  else
    {
      g.dA = g.A->iarg[1] + 1;
      g.QA = 1;
    }
  g.C = g.A->out.c;
  g.OUT = g.B->iarg[0];
  if (g.b_conv)
    {
      g.dB = g.B->in.c * g.B->iarg[1] * g.B->iarg[1] + 1;
      g.P = g.B->out.h * g.B->out.w;
      g.U = g.B->iarg[1] * g.B->iarg[1];
    }
  else
    {
      g.dB = g.B->iarg[1] + 1;
      g.P = 1;
      g.U = g.QA;
    }
  return g;
}

int
fw_grow_auto_stat_samples (const FwModel *m)
{
  FwGrowSite sites[FW_GROW_MAX_SITES];
  int n_sites = fw_grow_sites (m, sites, FW_GROW_MAX_SITES);
  double need = 512;
  for (int s = 0; s < n_sites; s++)
    {
      Geo g = site_geo (m, sites[s]);
      /* rows of S2 per sample: one per (output pixel of B, tap) */
      need = MAX (need, ceil (2.5 * g.dA / ((double) g.P * g.U)));
    }
  return (int) MIN (need, 8192.0);
}

/* The patch (with a trailing 1) of a conv layer l at output pixel (oy, ox) of one sample x. */
static void
conv_patch (const FwLayer *l, const float *x, int oy, int ox, double *out)
{
  int C = l->in.c, H = l->in.h, W = l->in.w, k = l->iarg[1], s = l->iarg[2], p = l->iarg[3];
  double *o = out;
  for (int c = 0; c < C; c++)
    for (int ky = 0; ky < k; ky++)
      for (int kx = 0; kx < k; kx++)
        {
          int iy = oy * s + ky - p, ix = ox * s + kx - p;
          *o++ = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? x[((gsize) c * H + iy) * W + ix]
                                                           : 0.0;
        }
  *o = 1.0;
}

/* All patches of layer l for n samples x [n x size(l->in)]: out [(n Q) x d], Q = out pixels. */
static void
layer_patches (const FwLayer *l, const float *x, int n, double *out, int d)
{
  gsize in = fw_shape_size (l->in);
  if (l->klass == &fw_layer_dense)
    {
      for (int i = 0; i < n; i++)
        {
          const float *xi = x + (gsize) i * in;
          double *r = out + (gsize) i * d;
          for (gsize j = 0; j < in; j++)
            r[j] = xi[j];
          r[in] = 1.0;
        }
      return;
    }
  int oh = l->out.h, ow = l->out.w;
  for (int i = 0; i < n; i++)
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++)
        conv_patch (l, x + (gsize) i * in, oy, ox,
                    out + (((gsize) i * oh + oy) * ow + ox) * d);
}

/* The A-output pixel read by B's tap u at B's output pixel p, or -1 (padding). */
static int
tap_pos (const Geo *g, int p, int u)
{
  if (!g->b_conv)
    return u;   /* dense: tap u = plane pixel u (one tap after a dense A) */
  int k = g->B->iarg[1], s = g->B->iarg[2], pad = g->B->iarg[3];
  int ow = g->B->out.w, H = g->B->in.h, W = g->B->in.w;
  int oy = p / ow, ox = p % ow, ky = u / k, kx = u % k;
  int iy = oy * s + ky - pad, ix = ox * s + kx - pad;
  return (iy >= 0 && iy < H && ix >= 0 && ix < W) ? iy * W + ix : -1;
}

/* ---- linear algebra ---- */

/* Eigendecomposition of the symmetric S [d x d]: vec [d x d] (eigenvector j in column j),
 * val[d] ascending. */
static gboolean
sym_eig (const double *S, int d, double *vec, double *val, GError **error)
{
  memcpy (vec, S, sizeof (double) * d * d);
  lapack_int info = LAPACKE_dsyevd (LAPACK_ROW_MAJOR, 'V', 'U', d, vec, d, val);
  if (info != 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_NUMERIC, "growth: the eigendecomposition of a "
                   "%dx%d covariance failed (LAPACK dsyevd info %d); the activations may hold "
                   "NaN — lower the learning rate", d, d, (int) info);
      return FALSE;
    }
  return TRUE;
}

/* f[j] <- val[j]^pw over the eigenvalues > eig_rel * max, 0 elsewhere; returns how many. */
static int
spectral_weights (const double *val, int d, double eig_rel, double pw, double *f)
{
  double vmax = 0;
  for (int j = 0; j < d; j++)
    vmax = MAX (vmax, val[j]);
  double thr = eig_rel * vmax;
  int rank = 0;
  for (int j = 0; j < d; j++)
    {
      f[j] = val[j] > thr && vmax > 0 ? pow (val[j], pw) : 0.0;
      rank += f[j] != 0.0;
    }
  return rank;
}

/* out <- Q f(val) Q^T over the eigenvalues >= eig_rel * max, f(v) = v^pw. */
static int
spectral_fn (const double *vec, const double *val, int d, double eig_rel, double pw,
             double *out)
{
  g_autofree double *f = g_new (double, d);
  int rank = spectral_weights (val, d, eig_rel, pw, f);
  g_autofree double *qf = g_new (double, (gsize) d * d);   /* Q diag(f) */
  for (int i = 0; i < d; i++)
    for (int j = 0; j < d; j++)
      qf[(gsize) i * d + j] = vec[(gsize) i * d + j] * f[j];
  /* out [d x d] <- (Q diag f) Q^T */
  cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasTrans, d, d, d, 1.0, qf, d, vec, d, 0.0,
               out, d);
  return rank;
}

double
fw_grow_best_update (const double *S, const double *M, int d, int o, double eig_rel,
                     double *dW, GError **error)
{
  g_autofree double *vec = g_new (double, (gsize) d * d);
  g_autofree double *val = g_new (double, d);
  if (!sym_eig (S, d, vec, val, error))
    return NAN;
  g_autofree double *pinv = g_new (double, (gsize) d * d);
  spectral_fn (vec, val, d, eig_rel, -1.0, pinv);
  /* X [d x o] <- S^+ M ; dW = X^T */
  g_autofree double *X = g_new (double, (gsize) d * o);
  cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, d, o, d, 1.0, pinv, d, M, o, 0.0, X,
               o);
  double gain = 0;
  for (int i = 0; i < d; i++)
    for (int j = 0; j < o; j++)
      {
        dW[(gsize) j * d + i] = X[(gsize) i * o + j];
        gain += M[(gsize) i * o + j] * X[(gsize) i * o + j];   /* tr(M dW) */
      }
  return gain;
}

gboolean
fw_grow_inv_sqrt (const double *S, int d, double eig_rel, double *out, int *rank,
                  GError **error)
{
  g_autofree double *vec = g_new (double, (gsize) d * d);
  g_autofree double *val = g_new (double, d);
  if (!sym_eig (S, d, vec, val, error))
    return FALSE;
  int r = spectral_fn (vec, val, d, eig_rel, -0.5, out);
  if (rank != NULL)
    *rank = r;
  return TRUE;
}

/* Thin SVD of A [m x n] (destroyed): s[min], U [m x min], Vt [min x n]. */
static gboolean
svd (double *A, int m, int n, double *s, double *U, double *Vt, GError **error)
{
  int r = MIN (m, n);
  lapack_int info = LAPACKE_dgesdd (LAPACK_ROW_MAJOR, 'S', m, n, A, n, s, U, r, Vt, n);
  if (info != 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_NUMERIC, "growth: the SVD of a %dx%d matrix "
                   "failed (LAPACK dgesdd info %d)", m, n, (int) info);
      return FALSE;
    }
  return TRUE;
}

/* ---- proposals ---- */

void
fw_grow_proposal_free (FwGrowProposal *p)
{
  if (p == NULL)
    return;
  g_free (p->dW);
  g_free (p->lambda);
  g_free (p->alpha);
  g_free (p->omega);
  g_free (p);
}

double
fw_grow_loss (FwModel *m, const float *x, const gint32 *y, int n)
{
  const float *logits = fw_model_forward (m, x, n, FALSE);
  return fw_loss_softmax_xent (logits, n, m->n_classes, y, NULL, 0.0f, NULL, NULL);
}

/* RMS norm of B's weight block per input channel (the outgoing weights of one old neuron). */
static double
outgoing_rms (const Geo *g)
{
  double s = 0;
  int cu = g->dB - 1;
  for (int o = 0; o < g->OUT; o++)
    for (int j = 0; j < cu; j++)
      {
        double w = g->B->w[(gsize) o * cu + j];
        s += w * w;
      }
  return sqrt (s / MAX (g->C, 1));
}

FwGrowProposal *
fw_grow_propose (FwModel *m, FwGrowSite site, FwGrowMethod method, const float *x,
                 const gint32 *y, int n, const FwGrowOptions *opt, FwRng *rng, GError **error)
{
  Geo g = site_geo (m, site);
  g_autoptr (FwGrowProposal) p = g_new0 (FwGrowProposal, 1);
  p->method = method;
  p->site = site;
  p->d_b = g.dB;
  p->d_out = g.OUT;
  p->d_a = g.dA;
  p->n_taps = g.U;
  p->pixels = g.P;

  /* forward + backward: B's input, A's input and dL/da_B */
  const float *logits = fw_model_forward (m, x, n, TRUE);
  g_autofree float *dlogits = g_new (float, (gsize) n * m->n_classes);
  fw_loss_softmax_xent (logits, n, m->n_classes, y, NULL, 0.0f, dlogits, NULL);
  fw_model_backward (m, dlogits, n);
  const float *xa = site.a == 0 ? m->act_in : m->act[site.a - 1];
  const float *xb = m->act[site.b - 1];
  const float *dy = site.b == m->n_layers - 1 ? dlogits : m->dact[site.b];

  gsize rows = (gsize) n * g.P;     /* (sample, pixel) pairs */
  double inv = 1.0 / (double) rows;
  g_autofree double *XB = g_new (double, rows * g.dB);
  g_autofree double *V = g_new (double, rows * g.OUT);
  layer_patches (g.B, xb, n, XB, g.dB);
  /* v[i, p][o] = -n dL/da_B[i][o][p] (the per-sample loss gradient, negated) */
  for (int i = 0; i < n; i++)
    for (int o = 0; o < g.OUT; o++)
      for (int q = 0; q < g.P; q++)
        V[((gsize) i * g.P + q) * g.OUT + o] =
          -(double) n * dy[((gsize) i * g.OUT + o) * g.P + q];

  /* S [dB x dB] <- XB^T XB / nP ; M [dB x OUT] <- XB^T V / nP */
  g_autofree double *S = g_new (double, (gsize) g.dB * g.dB);
  g_autofree double *M = g_new (double, (gsize) g.dB * g.OUT);
  cblas_dgemm (CblasRowMajor, CblasTrans, CblasNoTrans, g.dB, g.dB, (int) rows, inv, XB, g.dB,
               XB, g.dB, 0.0, S, g.dB);
  cblas_dgemm (CblasRowMajor, CblasTrans, CblasNoTrans, g.dB, g.OUT, (int) rows, inv, XB, g.dB,
               V, g.OUT, 0.0, M, g.OUT);
  p->dW = g_new0 (double, (gsize) g.OUT * g.dB);
  g_autofree double *dWs = g_new0 (double, (gsize) g.OUT * g.dB);
  double gain_dw = fw_grow_best_update (S, M, g.dB, g.OUT, opt->eig_rel, dWs, error);
  if (isnan (gain_dw))
    return NULL;

  /* V_proj [rows x OUT] <- V - XB dW*^T */
  g_autofree double *Vp = g_memdup2 (V, sizeof (double) * rows * g.OUT);
  cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int) rows, g.OUT, g.dB, -1.0, XB,
               g.dB, dWs, g.dB, 1.0, Vp, g.OUT);
  double gn = 0, bn = 0;
  for (gsize i = 0; i < rows * g.OUT; i++)
    {
      gn += V[i] * V[i];
      bn += Vp[i] * Vp[i];
    }
  p->goal_norm = sqrt (gn * inv);
  p->bottleneck = sqrt (bn * inv);
  g_clear_pointer (&XB, g_free);

  /* A's patches [(n QA) x dA], then per tap u the rows x_{p,u} [rows x dA]:
   * S2 += Xu^T Xu / nP ; N[:, o U + u] <- Xu^T V_proj / nP ; Ngoal likewise with V */
  g_autofree double *XA = g_new (double, (gsize) n * g.QA * g.dA);
  layer_patches (g.A, xa, n, XA, g.dA);
  int NU = g.OUT * g.U;
  g_autofree double *S2 = method == FW_GROW_TINY ? g_new0 (double, (gsize) g.dA * g.dA) : NULL;
  g_autofree double *N = g_new0 (double, (gsize) g.dA * NU);
  g_autofree double *Ng = g_new0 (double, (gsize) g.dA * NU);
  g_autofree double *Xu = g_new (double, rows * g.dA);
  g_autofree double *Nu = g_new (double, (gsize) g.dA * g.OUT);
  for (int u = 0; u < g.U; u++)
    {
      for (int i = 0; i < n; i++)
        for (int q = 0; q < g.P; q++)
          {
            int pos = tap_pos (&g, q, u);
            double *r = Xu + ((gsize) i * g.P + q) * g.dA;
            if (pos < 0)
              memset (r, 0, sizeof (double) * g.dA);
            else
              memcpy (r, XA + ((gsize) i * g.QA + pos) * g.dA, sizeof (double) * g.dA);
          }
      if (method == FW_GROW_TINY)   /* upper triangle: what dsyevd reads */
        cblas_dsyrk (CblasRowMajor, CblasUpper, CblasTrans, g.dA, (int) rows, inv, Xu, g.dA,
                     1.0, S2, g.dA);
      for (int pass = 0; pass < 2; pass++)
        {
          cblas_dgemm (CblasRowMajor, CblasTrans, CblasNoTrans, g.dA, g.OUT, (int) rows, inv,
                       Xu, g.dA, pass == 0 ? Vp : V, g.OUT, 0.0, Nu, g.OUT);
          double *dst = pass == 0 ? N : Ng;
          for (int d = 0; d < g.dA; d++)
            for (int o = 0; o < g.OUT; o++)
              dst[(gsize) d * NU + (gsize) o * g.U + u] = Nu[(gsize) d * g.OUT + o];
        }
    }
  g_clear_pointer (&XA, g_free);
  g_clear_pointer (&Xu, g_free);

  int r = MIN (g.dA, NU);
  p->lambda = g_new0 (double, r);
  p->n_lambda = r;
  g_autofree double *Us = g_new (double, (gsize) g.dA * r);
  g_autofree double *Vt = g_new (double, (gsize) r * NU);
  /* S2^{-1/2} = E diag(f) E^T (E: eigenvectors of S2, f: eigenvalues^-1/2 over the kept
   * ones), applied as thin products E (f (E^T X)) without forming the d x d matrix */
  g_autofree double *E = NULL, *fw = NULL, *t = NULL;   /* TINY only; t: one alpha */

  if (method == FW_GROW_TINY)
    {
      E = g_new (double, (gsize) g.dA * g.dA);
      fw = g_new (double, g.dA);
      t = g_new (double, g.dA);
      memcpy (p->dW, dWs, sizeof (double) * g.OUT * g.dB);
      p->gain_dw = gain_dw;
      if (!sym_eig (S2, g.dA, E, fw, error))
        return NULL;
      spectral_weights (fw, g.dA, opt->eig_rel, -0.5, fw);
      /* Q [dA x OU] <- S2^{-1/2} N, then Q = U diag(lambda) Vt */
      g_autofree double *T = g_new (double, (gsize) g.dA * NU);
      g_autofree double *Q = g_new (double, (gsize) g.dA * NU);
      cblas_dgemm (CblasRowMajor, CblasTrans, CblasNoTrans, g.dA, NU, g.dA, 1.0, E, g.dA, N,
                   NU, 0.0, T, NU);
      for (int a = 0; a < g.dA; a++)
        cblas_dscal (NU, fw[a], T + (gsize) a * NU, 1);
      cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, g.dA, NU, g.dA, 1.0, E, g.dA, T,
                   NU, 0.0, Q, NU);
      if (!svd (Q, g.dA, NU, p->lambda, Us, Vt, error))
        return NULL;
    }
  else
    {
      g_autofree double *Q = g_memdup2 (Ng, sizeof (double) * g.dA * NU);
      if (!svd (Q, g.dA, NU, p->lambda, Us, Vt, error))
        return NULL;
    }

  /* how many */
  int k = 0;
  if (method == FW_GROW_TINY)
    {
      double l1 = p->lambda[0];
      while (k < r && k < opt->max_new && l1 > 0 && p->lambda[k] >= opt->lambda_rel * l1
             && p->lambda[k] > 1e-12 * l1)
        k++;
      if (k == 0 && l1 > 0)
        k = 1;
    }
  else
    k = method == FW_GROW_RANDOM ? opt->max_new : MIN (opt->max_new, r);
  p->k = k;
  p->alpha = g_new0 (double, (gsize) MAX (k, 1) * g.dA);
  p->omega = g_new0 (double, (gsize) MAX (k, 1) * NU);

  if (method == FW_GROW_TINY)
    for (int j = 0; j < k; j++)
      {
        double sl = sqrt (fabs (p->lambda[j]));
        double sg = p->lambda[j] >= 0 ? 1.0 : -1.0;
        /* alpha_j = sign sqrt|lambda| S2^{-1/2} u_j ; omega_j = sqrt|lambda| v_j */
        cblas_dgemv (CblasRowMajor, CblasTrans, g.dA, g.dA, 1.0, E, g.dA, Us + j, r, 0.0, t, 1);
        for (int a = 0; a < g.dA; a++)
          t[a] *= fw[a];
        cblas_dgemv (CblasRowMajor, CblasNoTrans, g.dA, g.dA, sg * sl, E, g.dA, t, 1, 0.0,
                     p->alpha + (gsize) j * g.dA, 1);
        for (int c = 0; c < NU; c++)
          p->omega[(gsize) j * NU + c] = sl * Vt[(gsize) j * NU + c];
        p->gain_neurons += p->lambda[j] * p->lambda[j];
      }
  else if (method == FW_GROW_GRADMAX)
    {
      /* incoming zero (but a bias of 1e-3: ReLU passes no gradient at exactly 0, so a zero
       * bias would leave the new neurons dead); outgoing the top singular vectors of N_goal,
       * at the scale of the existing outgoing weights */
      double scale = outgoing_rms (&g);
      if (!(scale > 0))
        scale = 1.0;
      for (int j = 0; j < k; j++)
        {
          p->alpha[(gsize) j * g.dA + g.dA - 1] = 1e-3;
          for (int c = 0; c < NU; c++)
            p->omega[(gsize) j * NU + c] = scale * Vt[(gsize) j * NU + c];
        }
    }
  else
    {
      /* incoming as a fresh layer (uniform +-1/sqrt(fan_in)), outgoing random_scale times
       * that of B's fan-in */
      double ba = 1.0 / sqrt ((double) MAX (g.dA - 1, 1));
      double bo = opt->random_scale / sqrt ((double) MAX ((g.C + k) * g.U, 1));
      for (int j = 0; j < k; j++)
        {
          for (int a = 0; a < g.dA; a++)
            p->alpha[(gsize) j * g.dA + a] = ba * (2.0 * fw_rng_uniform (rng) - 1.0);
          for (int c = 0; c < NU; c++)
            p->omega[(gsize) j * NU + c] = bo * (2.0 * fw_rng_uniform (rng) - 1.0);
        }
    }

  /* first-order decrease per unit gamma: P (tr(M dW) + sum_j alpha_j^T N_goal omega_j) */
  double fo = p->gain_dw;
  for (int j = 0; j < k; j++)
    for (int a = 0; a < g.dA; a++)
      {
        double s = 0;
        for (int c = 0; c < NU; c++)
          s += Ng[(gsize) a * NU + c] * p->omega[(gsize) j * NU + c];
        fo += p->alpha[(gsize) j * g.dA + a] * s;
      }
  p->first_order = g.P * fo;
  return g_steal_pointer (&p);
}

void
fw_grow_proposal_drop_update (FwGrowProposal *p)
{
  g_return_if_fail (p != NULL);
  if (p->dW != NULL)
    memset (p->dW, 0, sizeof (double) * p->d_out * p->d_b);
  p->first_order -= p->pixels * p->gain_dw;
  p->gain_dw = 0;
}

/* ---- surgery ---- */

FwModel *
fw_grow_apply (const FwModel *m, const FwGrowProposal *p, int k_use, double gamma,
               GError **error)
{
  g_return_val_if_fail (k_use >= 0 && k_use <= p->k, NULL);
  Geo g = site_geo (m, p->site);
  if (g.dA != p->d_a || g.dB != p->d_b || g.OUT != p->d_out || g.U != p->n_taps)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "growth: the proposal was made for "
                   "another architecture (site %d->%d)", p->site.a, p->site.b);
      return NULL;
    }
  g_autoptr (GString) spec = g_string_new (NULL);
  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = m->layers[i];
      if (i > 0)
        g_string_append_c (spec, ',');
      if (i == p->site.a && g.a_conv)
        g_string_append_printf (spec, "conv:%d:%d:%d:%d", l->iarg[0] + k_use, l->iarg[1],
                                l->iarg[2], l->iarg[3]);
      else if (i == p->site.a)
        g_string_append_printf (spec, "dense:%d", l->iarg[0] + k_use);
      else
        {
          g_autofree char *tok = l->klass->spec (l);
          g_string_append (spec, tok);
        }
    }
  FwModel *nm = fw_model_new (m->arch, spec->str, m->input, error);
  if (nm == NULL)
    return NULL;
  nm->in_mean = m->in_mean;
  nm->in_std = m->in_std;
  nm->class_names = g_strdupv (m->class_names);
  nm->dropout_rng = m->dropout_rng;
  memcpy (nm->state, m->state, sizeof (float) * m->n_state);   /* no state in A..B */

  double sa = sqrt (MAX (gamma, 0.0)), sw = gamma;
  int NU = g.OUT * g.U;
  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = m->layers[i];
      FwLayer *nl = nm->layers[i];
      nl->frozen = l->frozen;
      if (i == p->site.a)
        {
          /* weight [C x (dA-1)] + k new rows alpha sqrt(gamma); bias [C] + k entries */
          int da = g.dA - 1, C = g.C;
          memcpy (nl->w, l->w, sizeof (float) * C * da);
          float *nb = nl->w + (gsize) (C + k_use) * da;
          memcpy (nb, l->w + (gsize) C * da, sizeof (float) * C);
          for (int j = 0; j < k_use; j++)
            {
              const double *al = p->alpha + (gsize) j * g.dA;
              for (int a = 0; a < da; a++)
                nl->w[(gsize) (C + j) * da + a] = (float) (sa * al[a]);
              nb[C + j] = (float) (sa * al[da]);
            }
        }
      else if (i == p->site.b)
        {
          /* row o: old row + gamma dW[o, :CU] then, per new neuron j, sqrt(gamma) omega_j
           * [o U .. o U + U); bias + gamma dW[o, CU] */
          int cu = g.dB - 1, ncu = cu + k_use * g.U;
          for (int o = 0; o < g.OUT; o++)
            {
              const float *row = l->w + (gsize) o * cu;
              float *nrow = nl->w + (gsize) o * ncu;
              const double *dw = p->dW + (gsize) o * g.dB;
              for (int c = 0; c < cu; c++)
                nrow[c] = (float) (row[c] + sw * dw[c]);
              for (int j = 0; j < k_use; j++)
                for (int u = 0; u < g.U; u++)
                  nrow[cu + j * g.U + u] =
                    (float) (sa * p->omega[(gsize) j * NU + (gsize) o * g.U + u]);
              nl->w[(gsize) g.OUT * ncu + o] =
                (float) (l->w[(gsize) g.OUT * cu + o] + sw * dw[cu]);
            }
        }
      else
        {
          g_assert (nl->n_w == l->n_w);
          memcpy (nl->w, l->w, sizeof (float) * l->n_w);
        }
    }
  return nm;
}

int
fw_grow_widths (const FwModel *m, int *out, int max)
{
  int n = 0;
  for (int i = 0; i < m->n_layers && n < max; i++)
    if (is_weight_layer (m->layers[i]))
      out[n++] = m->layers[i]->out.c;
  return n;
}
