/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-simulator.c: simulated digits, drawn as font outlines with Cairo + Pango, then blurred
 * and noised. See fw-simulator.h for the model of one sample. */
#include "fw-simulator.h"

#include <math.h>
#include <string.h>

#include <pango/pangocairo.h>

#include "fw-error.h"
#include "fw-idx.h"

/* Families worth drawing digits with, in no particular order: handwritten (fonts-bwht,
 * Humor Sans, Comic Neue) first, then plain sans, serif and mono faces. Those installed are
 * used; with none of them, every installed family is. */
static const char *const curated_families[] = {
  "Because We Build", "Because We Connect", "Because We Create", "Because We Learn",
  "Because We Mentor", "Because We Organize", "Humor Sans", "Comic Neue", "Comic Neue Angular",
  "xkcd Script", "Purisa", "Kalam", "Caveat", "Gochi Hand", "Patrick Hand",
  "DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono", "Liberation Sans", "Liberation Serif",
  "Liberation Mono", "FreeSans", "FreeSerif", "FreeMono", "Cantarell", "Noto Sans",
  "Noto Serif", "Ubuntu", "URW Gothic", "Nimbus Sans", "Nimbus Roman", "C059", "P052",
  "Z003", "TeX Gyre Heros", "TeX Gyre Schola",
};

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

static char **
list_font_families_locked (void)
{
  PangoFontMap *map = pango_cairo_font_map_get_default ();
  PangoFontFamily **families = NULL;
  int n = 0;
  pango_font_map_list_families (map, &families, &n);
  GPtrArray *curated = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *all = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; i < n; i++)
    {
      const char *name = pango_font_family_get_name (families[i]);
      g_ptr_array_add (all, g_strdup (name));
      for (gsize j = 0; j < G_N_ELEMENTS (curated_families); j++)
        if (g_ascii_strcasecmp (name, curated_families[j]) == 0)
          {
            g_ptr_array_add (curated, g_strdup (name));
            break;
          }
    }
  g_free (families);
  GPtrArray *use = curated->len > 0 ? curated : all;
  g_ptr_array_unref (curated->len > 0 ? all : curated);
  /* sorted, so that the choice of a font by index does not depend on fontconfig's order */
  g_ptr_array_sort (use, cmp_str);
  g_ptr_array_add (use, NULL);
  g_ptr_array_set_free_func (use, NULL);
  return (char **) g_ptr_array_free (use, FALSE);
}

/* Text rendering is not safe to run on two threads at once with this stack (cairo 1.16 can
 * crash in its scaled-font code when a worker draws glyphs while the GUI draws text): every
 * Pango/cairo font call of the simulator happens under font_lock, the outlines are traced
 * once per process into a cache that is never freed, and the GUI calls
 * fw_simulator_warm_up() on its main thread before it starts any job, so that a simulator run
 * on the worker finds every outline traced and draws plain paths only. */
static GMutex font_lock;
static char **default_families;   /* under font_lock, computed once */
static GHashTable *glyph_cache;   /* "family\n<bold>\n<digit>" -> Glyph*, under font_lock */

char **
fw_simulator_font_families (void)
{
  g_mutex_lock (&font_lock);
  if (default_families == NULL)
    default_families = list_font_families_locked ();
  char **copy = g_strdupv (default_families);
  g_mutex_unlock (&font_lock);
  return copy;
}

void
fw_sim_params_init (FwSimParams *p, int size)
{
  double k = size / 28.0;
  p->size = size;
  /* MNIST fits a digit in a 20x20 box inside 28x28 (digits.png shrinks those to 20x20):
   * ink about 0.7 of the side. With stroke and blur, 0.67 matches digits.png's mean ink box
   * (14 px of 20) and its mean pixel (0.13) best; tuned by a nearest-class-mean transfer
   * from simulated to real digits (0.35 -> 0.49 accuracy on digits:test) */
  p->height = 0.67;
  p->scale_jitter = 0.15;
  p->aspect = 1.0;
  p->aspect_jitter = 0.15;
  p->rotate_deg = 15.0;
  p->shear = 0.25;
  p->shift = 0.08;
  p->stroke_max = 1.0 * k;
  p->bold_prob = 0.2;
  p->blur_max = 0.8 * k;
  p->noise_max = 0.06;
  p->families = NULL;
}

/* One cached outline per (family, weight, digit), with its ink rectangle, in the units of
 * a 64-pixel font. Rendering a glyph through Pango under a new transform for every sample
 * would build a new scaled font (and reload the outline) each time; appending the cached
 * path under the sample's transform draws the same curves several times faster. */
typedef struct {
  cairo_path_t *path;
  double ix, iy, iw, ih;
} Glyph;

typedef struct {
  char **families;
  int n_families;
  const Glyph **glyphs;  /* [n_families x 2 weights x 10 digits], borrowed from glyph_cache */
} Fonts;

static void
fonts_clear (Fonts *f)
{
  g_free (f->glyphs);
  g_strfreev (f->families);
}

/* Traces one outline; font_lock held. */
static Glyph *
trace_glyph_locked (PangoContext *ctx, cairo_t *scratch_cr, const char *family, int bold,
                    int digit)
{
  Glyph *g = g_new0 (Glyph, 1);
  g_autoptr (PangoLayout) layout = pango_layout_new (ctx);
  PangoFontDescription *desc = pango_font_description_new ();
  pango_font_description_set_family (desc, family);
  pango_font_description_set_weight (desc, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
  pango_font_description_set_absolute_size (desc, 64.0 * PANGO_SCALE);
  pango_layout_set_font_description (layout, desc);
  pango_font_description_free (desc);
  char text[2] = { (char) ('0' + digit), 0 };
  pango_layout_set_text (layout, text, 1);
  PangoRectangle ink;
  pango_layout_get_extents (layout, &ink, NULL);
  g->ix = ink.x / (double) PANGO_SCALE;
  g->iy = ink.y / (double) PANGO_SCALE;
  g->iw = ink.width / (double) PANGO_SCALE;
  g->ih = ink.height / (double) PANGO_SCALE;
  cairo_new_path (scratch_cr);
  pango_cairo_layout_path (scratch_cr, layout);
  g->path = cairo_copy_path (scratch_cr);
  cairo_new_path (scratch_cr);
  return g;
}

/* Resolves every glyph of families into out (may be NULL), tracing the missing ones. */
static void
resolve_glyphs (char **families, int n_families, const Glyph **out)
{
  g_mutex_lock (&font_lock);
  if (glyph_cache == NULL)
    glyph_cache = g_hash_table_new (g_str_hash, g_str_equal);
  PangoContext *ctx = NULL;
  cairo_surface_t *scratch = NULL;
  cairo_t *scratch_cr = NULL;
  for (int fam = 0; fam < n_families; fam++)
    for (int bold = 0; bold < 2; bold++)
      for (int digit = 0; digit < 10; digit++)
        {
          g_autofree char *key = g_strdup_printf ("%s\n%d\n%d", families[fam], bold, digit);
          Glyph *g = g_hash_table_lookup (glyph_cache, key);
          if (g == NULL)
            {
              if (ctx == NULL)
                {
                  ctx = pango_font_map_create_context (pango_cairo_font_map_get_default ());
                  /* no hinting: glyph outlines and positions must not snap to the
                   * (untransformed) pixel grid, since every sample is drawn under its own
                   * rotation and scale */
                  cairo_font_options_t *fo = cairo_font_options_create ();
                  cairo_font_options_set_antialias (fo, CAIRO_ANTIALIAS_GRAY);
                  cairo_font_options_set_hint_style (fo, CAIRO_HINT_STYLE_NONE);
                  cairo_font_options_set_hint_metrics (fo, CAIRO_HINT_METRICS_OFF);
                  pango_cairo_context_set_font_options (ctx, fo);
                  cairo_font_options_destroy (fo);
                  pango_context_set_round_glyph_positions (ctx, FALSE);
                  scratch = cairo_image_surface_create (CAIRO_FORMAT_A8, 1, 1);
                  scratch_cr = cairo_create (scratch);
                }
              g = trace_glyph_locked (ctx, scratch_cr, families[fam], bold, digit);
              g_hash_table_insert (glyph_cache, g_steal_pointer (&key), g);
            }
          if (out != NULL)
            out[(fam * 2 + bold) * 10 + digit] = g;
        }
  if (scratch_cr != NULL)
    cairo_destroy (scratch_cr);
  if (scratch != NULL)
    cairo_surface_destroy (scratch);
  g_clear_object (&ctx);
  g_mutex_unlock (&font_lock);
}

void
fw_simulator_warm_up (void)
{
  g_auto (GStrv) families = fw_simulator_font_families ();
  resolve_glyphs (families, (int) g_strv_length (families), NULL);
}

static const Glyph *
fonts_glyph (Fonts *f, int family, int bold, int digit)
{
  return f->glyphs[(family * 2 + bold) * 10 + digit];
}

static gboolean
fonts_init (Fonts *f, const char *const *families, GError **error)
{
  memset (f, 0, sizeof *f);
  f->families = families != NULL ? g_strdupv ((char **) families)
                                 : fw_simulator_font_families ();
  f->n_families = (int) g_strv_length (f->families);
  if (f->n_families == 0)
    {
      g_set_error_literal (error, FW_ERROR, FW_ERROR_NOT_FOUND,
                           "The digit simulator found no font: install a font package such "
                           "as fonts-dejavu-core (fc-list lists the installed fonts)");
      return FALSE;
    }
  f->glyphs = g_new0 (const Glyph *, f->n_families * 20);
  resolve_glyphs (f->families, f->n_families, f->glyphs);
  return TRUE;
}

static double
uniform_pm (FwRng *rng, double a)
{
  return a * (2.0 * fw_rng_uniform (rng) - 1.0);
}

/* In-place separable Gaussian blur of a size x size image (zero outside). */
static void
blur (float *img, float *tmp, int size, double sigma)
{
  if (sigma < 0.15)
    return;
  int r = MIN ((int) ceil (2.5 * sigma), 16);
  float k[33];
  double sum = 0;
  for (int i = -r; i <= r; i++)
    sum += (k[i + r] = (float) exp (-0.5 * i * i / (sigma * sigma)));
  for (int i = 0; i <= 2 * r; i++)
    k[i] = (float) (k[i] / sum);
  /* tmp <- rows of img convolved with k; img <- columns of tmp convolved with k */
  for (int y = 0; y < size; y++)
    for (int x = 0; x < size; x++)
      {
        float s = 0;
        for (int i = -r; i <= r; i++)
          if (x + i >= 0 && x + i < size)
            s += k[i + r] * img[y * size + x + i];
        tmp[y * size + x] = s;
      }
  for (int y = 0; y < size; y++)
    for (int x = 0; x < size; x++)
      {
        float s = 0;
        for (int i = -r; i <= r; i++)
          if (y + i >= 0 && y + i < size)
            s += k[i + r] * tmp[(y + i) * size + x];
        img[y * size + x] = s;
      }
}

FwDataset *
fw_simulator_generate (const FwSimParams *p, int n, guint64 seed, guint64 stream,
                       GCancellable *cancellable, GError **error)
{
  if (n <= 0 || n > 10000000)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "Simulated digits: %d samples asked, expected 1 to 10000000", n);
      return NULL;
    }
  if (p->size < 8 || p->size > 128)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "Simulated digits: image size %d, expected 8 to 128 (28 like MNIST, 20 like "
                   "digits.png)", p->size);
      return NULL;
    }
  Fonts fonts;
  if (!fonts_init (&fonts, p->families, error))
    {
      fonts_clear (&fonts);
      return NULL;
    }

  int S = p->size;
  FwShape shape = { 1, S, S };
  g_autoptr (FwDataset) ds = fw_dataset_new (stream == FW_SIM_TEST ? "Simulated digits (test)"
                                                                   : "Simulated digits",
                                             n, shape, 10);
  ds->source = g_strdup_printf ("simulator (%d font famil%s)", fonts.n_families,
                                fonts.n_families == 1 ? "y" : "ies");

  cairo_surface_t *surf = cairo_image_surface_create (CAIRO_FORMAT_A8, S, S);
  cairo_t *cr = cairo_create (surf);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  g_autofree float *tmp = g_new (float, (gsize) S * S);

  FwRng root, rs;
  fw_rng_init (&root, seed);
  fw_rng_split (&root, stream, &rs);
  gboolean cancelled = FALSE;
  for (int i = 0; i < n && !cancelled; i++)
    {
      if ((i & 255) == 0 && fw_data_cancelled (cancellable, error))
        {
          cancelled = TRUE;
          break;
        }
      int digit = i % 10;
      FwRng rng;
      fw_rng_split (&rs, (guint64) i, &rng);
      /* every draw below happens for every sample, in this order, so that one sample's
       * parameters do not depend on another's */
      int family = (int) fw_rng_below (&rng, (guint32) fonts.n_families);
      int bold = fw_rng_uniform (&rng) < p->bold_prob;
      double height = p->height * S * (1.0 + uniform_pm (&rng, p->scale_jitter));
      double aspect = p->aspect * (1.0 + uniform_pm (&rng, p->aspect_jitter));
      double angle = uniform_pm (&rng, p->rotate_deg) * G_PI / 180.0;
      double shear = uniform_pm (&rng, p->shear);
      double dx = uniform_pm (&rng, p->shift * S), dy = uniform_pm (&rng, p->shift * S);
      double stroke = p->stroke_max * fw_rng_uniform (&rng);
      double sigma = p->blur_max * fw_rng_uniform (&rng);
      double noise = p->noise_max * fw_rng_uniform (&rng);

      const Glyph *g = fonts_glyph (&fonts, family, bold, digit);
      cairo_identity_matrix (cr);
      cairo_set_operator (cr, CAIRO_OPERATOR_CLEAR);
      cairo_paint (cr);
      cairo_set_operator (cr, CAIRO_OPERATOR_OVER);
      cairo_set_source_rgba (cr, 1, 1, 1, 1);
      if (g->ih > 0 && g->iw > 0 && g->path->status == CAIRO_STATUS_SUCCESS)
        {
          /* device <- translate(centre + d) * rotate * shear * scale * translate(-ink centre) */
          double sy = (height - stroke) / g->ih;
          double sx = sy * aspect;
          /* keep wide glyphs inside the image */
          if (sx * g->iw > 0.9 * S)
            {
              double k = 0.9 * S / (sx * g->iw);
              sx *= k;
              sy *= k;
            }
          /* MNIST puts the centre of mass on pixel (S/2, S/2), whose centre is S/2 + 0.5 */
          cairo_translate (cr, S / 2.0 + 0.5 + dx, S / 2.0 + 0.5 + dy);
          cairo_rotate (cr, angle);
          cairo_matrix_t sh;
          cairo_matrix_init (&sh, 1, 0, shear, 1, 0, 0); /* x' = x + shear * y */
          cairo_transform (cr, &sh);
          cairo_scale (cr, sx, sy);
          cairo_translate (cr, -(g->ix + g->iw / 2), -(g->iy + g->ih / 2));
          /* path points are user-space coordinates: the transform above applies */
          cairo_append_path (cr, g->path);
          /* the path is kept in device space: stroke it with a width in pixels */
          cairo_identity_matrix (cr);
          cairo_fill_preserve (cr);
          if (stroke > 0.05)
            {
              cairo_set_line_width (cr, stroke);
              cairo_stroke (cr);
            }
          else
            cairo_new_path (cr);
        }
      cairo_surface_flush (surf);
      const guint8 *px = cairo_image_surface_get_data (surf);
      int stride = cairo_image_surface_get_stride (surf);
      float *x = ds->x + (gsize) i * S * S;
      for (int yy = 0; yy < S; yy++)
        for (int xx = 0; xx < S; xx++)
          x[yy * S + xx] = px[yy * stride + xx] * (1.0f / 255.0f);
      blur (x, tmp, S, sigma);
      /* full contrast, as in MNIST: a thin blurred stroke would otherwise stay grey */
      float peak = 0;
      for (int j = 0; j < S * S; j++)
        peak = MAX (peak, x[j]);
      if (peak > 0.05f && peak < 1.0f)
        for (int j = 0; j < S * S; j++)
          x[j] = MIN (x[j] / peak, 1.0f);
      FwRng nrng;
      fw_rng_split (&rng, FW_RNG_NOISE, &nrng);
      if (noise > 0)
        for (int j = 0; j < S * S; j++)
          {
            float v = x[j] + (float) (noise * fw_rng_normal (&nrng));
            x[j] = CLAMP (v, 0.0f, 1.0f);
          }
      ds->y[i] = digit;
    }
  cairo_destroy (cr);
  cairo_surface_destroy (surf);
  fonts_clear (&fonts);
  if (cancelled)
    return NULL;
  return g_steal_pointer (&ds);
}
