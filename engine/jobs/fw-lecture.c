/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-lecture.c: lecture recipes ([lecture] group) and their result panels. */
#include "fw-lecture.h"

#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-lecture-config.h"
#include "fw-recipe-ext.h"

static const char *const lecture_keys[] = {
  /* what the demo is and how it is shown */
  "title", "section", "order", "explanation", "page", "demo", "steps", "note", "reduced",
  "requires",
  /* the demos' own keys (fw-lecture.h) */
  "variants", "pipeline", "samples", "sample", "labels", "seeds", "updates", "rates", "sizes",
  "sigma", "ns", "trials", "points", "plot", "pretrain",
  NULL
};

static const char *const demo_kinds[] = {
  "train", "compare", "augment-gallery", "cutmix", "augment-sweep", "noise-curve",
  "size-compensation", "sigma-n", "noise-embed", "ext", NULL
};

/* the course's parts in lecture order */
static const char *const sections[] = {
  "I. Small data", "I. Model reduction", "II. Few labels", "III. Noisy labels", NULL
};

/* [lecture] is metadata: a recipe extension without a job, so `frugal run` on a lecture
 * recipe runs the work it describes and the loader checks the key names */
const FwRecipeExt fw_lecture_recipe_ext = {
  .group = "lecture",
  .title = "Lecture demo",
  .keys = lecture_keys,
  .run = NULL,
  .page = "lecture",
};

const char *const *
fw_lecture_keys (void)
{
  return lecture_keys;
}

int
fw_lecture_section_rank (const char *section)
{
  for (int i = 0; sections[i] != NULL; i++)
    if (g_strcmp0 (section, sections[i]) == 0)
      return i;
  return G_N_ELEMENTS (sections);
}

int
fw_lecture_step_index (const FwLecture *l, const char *name)
{
  for (int i = 0; l->steps != NULL && l->steps[i] != NULL; i++)
    if (strcmp (l->steps[i], name) == 0)
      return i;
  return -1;
}

void
fw_lecture_free (FwLecture *l)
{
  if (l == NULL)
    return;
  g_free (l->name);
  g_free (l->path);
  g_free (l->title);
  g_free (l->section);
  g_free (l->explanation);
  g_free (l->page);
  g_free (l->demo);
  g_free (l->note);
  g_free (l->requires);
  g_free (l->unavailable);
  g_strfreev (l->steps);
  g_clear_pointer (&l->recipe, fw_recipe_free);
  g_clear_pointer (&l->kf, g_key_file_unref);
  g_free (l);
}

static gboolean
lecture_error (GError **error, const char *file, const char *key, const char *format, ...)
  G_GNUC_PRINTF (4, 5);

static gboolean
lecture_error (GError **error, const char *file, const char *key, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [lecture] %s: %s", file, key, msg);
  return FALSE;
}

static char *
get_string (GKeyFile *kf, const char *key)
{
  char *v = g_key_file_get_string (kf, "lecture", key, NULL);
  return v != NULL ? g_strstrip (v) : NULL;
}

/* "group.key=value;group.key=value" applied to kf */
static gboolean
apply_overrides (GKeyFile *kf, const char *text, const char *file, const char *what,
                 GError **error)
{
  g_auto (GStrv) items = g_strsplit (text, ";", -1);
  for (int i = 0; items[i] != NULL; i++)
    {
      char *item = g_strstrip (items[i]);
      if (*item == '\0')
        continue;
      const char *eq = strchr (item, '=');
      const char *dot = strchr (item, '.');
      if (eq == NULL || dot == NULL || dot > eq || dot == item || dot + 1 == eq)
        return lecture_error (error, file, what, "'%s' is not group.key=value — write e.g. "
                              "train.epochs=1", item);
      g_autofree char *group = g_strndup (item, dot - item);
      g_autofree char *key = g_strndup (dot + 1, eq - dot - 1);
      g_strstrip (group);
      g_strstrip (key);
      g_autofree char *value = g_strstrip (g_strdup (eq + 1));
      if (strcmp (group, "lecture") == 0 && strcmp (key, "reduced") == 0)
        return lecture_error (error, file, what, "cannot override lecture.reduced");
      g_key_file_set_value (kf, group, key, value);
    }
  return TRUE;
}

/* The build's feature groups: the registered recipe extensions. */
static gboolean
feature_built (const char *group)
{
  return fw_recipe_ext_lookup (group) != NULL;
}

static FwLecture *
load_keyfile (GKeyFile *kf, const char *file, const char *path, gboolean reduced,
              GError **error)
{
  g_autoptr (FwLecture) l = g_new0 (FwLecture, 1);
  g_autofree char *base = g_path_get_basename (file);
  if (g_str_has_suffix (base, ".ini"))
    base[strlen (base) - 4] = '\0';
  l->name = g_strdup (base);
  l->path = g_strdup (path);

  if (!g_key_file_has_group (kf, "lecture"))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: no [lecture] group — a lecture "
                   "demo needs [lecture] title, section, explanation, page, demo, steps", file);
      return NULL;
    }
  g_auto (GStrv) keys = g_key_file_get_keys (kf, "lecture", NULL, NULL);
  for (int k = 0; keys != NULL && keys[k] != NULL; k++)
    if (!g_strv_contains (lecture_keys, keys[k]))
      {
        g_autofree char *list = g_strjoinv (", ", (char **) lecture_keys);
        return lecture_error (error, file, keys[k], "unknown key — valid keys: %s", list),
               NULL;
      }

  static const char *const required[] = { "title", "section", "explanation", "page", "demo",
                                          "steps", NULL };
  for (int i = 0; required[i] != NULL; i++)
    {
      g_autofree char *v = get_string (kf, required[i]);
      if (v == NULL || *v == '\0')
        return lecture_error (error, file, required[i], "missing — every demo needs a title, "
                              "section, explanation, page, demo and steps"), NULL;
    }
  l->title = get_string (kf, "title");
  l->section = get_string (kf, "section");
  l->explanation = get_string (kf, "explanation");
  l->page = get_string (kf, "page");
  l->demo = get_string (kf, "demo");
  l->note = get_string (kf, "note");
  l->requires = get_string (kf, "requires");
  if (!g_strv_contains (demo_kinds, l->demo))
    {
      g_autofree char *list = g_strjoinv (", ", (char **) demo_kinds);
      return lecture_error (error, file, "demo", "'%s' is not a demo kind — use one of: %s",
                            l->demo, list), NULL;
    }
  for (const char *c = l->page; *c; c++)
    if (!g_ascii_islower (*c) && *c != '-')
      return lecture_error (error, file, "page", "'%s' is not a page name (data, train, "
                            "noise, ...)", l->page), NULL;
  if (g_key_file_has_key (kf, "lecture", "order", NULL))
    {
      g_autoptr (GError) local = NULL;
      l->order = g_key_file_get_integer (kf, "lecture", "order", &local);
      if (local != NULL)
        return lecture_error (error, file, "order", "not an integer — write e.g. order = 10"),
               NULL;
    }
  g_autofree char *steps = get_string (kf, "steps");
  g_auto (GStrv) parts = g_strsplit_set (steps, ";,", -1);
  GPtrArray *st = g_ptr_array_new ();
  for (int i = 0; parts[i] != NULL; i++)
    {
      char *s = g_strstrip (parts[i]);
      if (*s != '\0')
        g_ptr_array_add (st, g_strdup (s));
    }
  g_ptr_array_add (st, NULL);
  l->steps = (char **) g_ptr_array_free (st, FALSE);
  if (l->steps[0] == NULL)
    return lecture_error (error, file, "steps", "empty — list the reveal order, e.g. "
                          "steps = data;train;curve"), NULL;
  if (g_strv_length (l->steps) > 12)
    return lecture_error (error, file, "steps", "more than 12 steps"), NULL;

  if (l->requires != NULL && *l->requires != '\0' && !feature_built (l->requires))
    {
      l->available = FALSE;
      l->unavailable = g_strdup_printf ("not available in this build (needs the [%s] "
                                        "feature)", l->requires);
      l->kf = g_key_file_ref (kf);
      return g_steal_pointer (&l);
    }

  if (reduced)
    {
      g_autofree char *ov = get_string (kf, "reduced");
      if (ov != NULL && !apply_overrides (kf, ov, file, "reduced", error))
        return NULL;
      l->reduced = TRUE;
    }
  gsize len = 0;
  g_autofree char *data = g_key_file_to_data (kf, &len, NULL);
  l->recipe = fw_recipe_load_data (data, len, file, error);
  if (l->recipe == NULL)
    return NULL;
  g_free (l->recipe->name);
  l->recipe->name = g_strdup (l->name);
  g_free (l->recipe->path);
  l->recipe->path = g_strdup (path);
  l->available = TRUE;
  l->kf = g_key_file_ref (kf);
  return g_steal_pointer (&l);
}

FwLecture *
fw_lecture_load_data (const char *data, gsize len, const char *name, gboolean reduced,
                      GError **error)
{
  const char *file = name != NULL && *name ? name : "lecture.ini";
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  if (!g_key_file_load_from_data (kf, data, len == (gsize) -1 ? strlen (data) : len,
                                  G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "%s: %s — write [group] lines and "
                   "key = value lines", file, local->message);
      return NULL;
    }
  return load_keyfile (kf, file, NULL, reduced, error);
}

FwLecture *
fw_lecture_load (const char *path, gboolean reduced, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &data, &len, &local))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "%s: %s", path, local->message);
      return NULL;
    }
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  if (!g_key_file_load_from_data (kf, data, len, G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "%s: %s — write [group] lines and "
                   "key = value lines", path, local->message);
      return NULL;
    }
  g_autofree char *base = g_path_get_basename (path);
  return load_keyfile (kf, base, path, reduced, error);
}

char *
fw_lecture_dir (void)
{
  const char *env = g_getenv ("FW_LECTURE_DIR");
  if (env != NULL && *env != '\0')
    return g_strdup (env);
#ifdef FW_LECTURE_INSTALL_DIR
  if (g_file_test (FW_LECTURE_INSTALL_DIR, G_FILE_TEST_IS_DIR))
    return g_strdup (FW_LECTURE_INSTALL_DIR);
#endif
#ifdef FW_LECTURE_SOURCE_DIR
  return g_strdup (FW_LECTURE_SOURCE_DIR);
#else
  return g_strdup ("resources/recipes/lecture");
#endif
}

static int
compare_lectures (gconstpointer a, gconstpointer b)
{
  const FwLecture *x = *(FwLecture *const *) a, *y = *(FwLecture *const *) b;
  int rx = fw_lecture_section_rank (x->section), ry = fw_lecture_section_rank (y->section);
  if (rx != ry)
    return rx < ry ? -1 : 1;
  int c = g_strcmp0 (x->section, y->section);
  if (c != 0)
    return c;
  if (x->order != y->order)
    return x->order < y->order ? -1 : 1;
  return g_strcmp0 (x->name, y->name);
}

GPtrArray *
fw_lecture_list (const char *dir, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &local);
  if (d == NULL)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "lecture demos: %s — set FW_LECTURE_DIR to "
                   "the folder resources/recipes/lecture", local->message);
      return NULL;
    }
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) fw_lecture_free);
  const char *f;
  while ((f = g_dir_read_name (d)) != NULL)
    {
      if (!g_str_has_suffix (f, ".ini"))
        continue;
      g_autofree char *path = g_build_filename (dir, f, NULL);
      FwLecture *l = fw_lecture_load (path, FALSE, error);
      if (l == NULL)
        return NULL;
      g_ptr_array_add (list, l);
    }
  g_ptr_array_sort (list, compare_lectures);
  return g_steal_pointer (&list);
}

char *
fw_lecture_find (const char *dir, const char *name, GError **error)
{
  if (g_file_test (name, G_FILE_TEST_IS_REGULAR) && strchr (name, '/') != NULL)
    return g_strdup (name);
  g_autofree char *file = g_str_has_suffix (name, ".ini") ? g_strdup (name)
                                                          : g_strconcat (name, ".ini", NULL);
  char *path = g_build_filename (dir, file, NULL);
  if (strchr (name, '/') == NULL && g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return path;
  g_free (path);
  g_set_error (error, FW_ERROR, FW_ERROR_NOT_FOUND, "no lecture demo '%s' in %s — "
               "'frugal lecture list' shows the demos", name, dir);
  return NULL;
}

/* ---- result panels ---- */

static void
series_free (FwPanelSeries *s)
{
  g_free (s->name);
  g_array_unref (s->x);
  g_array_unref (s->y);
  g_array_unref (s->lo);
  g_array_unref (s->hi);
  g_free (s);
}

static void
panel_free (FwPanel *p)
{
  g_free (p->step);
  g_free (p->title);
  g_clear_pointer (&p->pixels, g_array_unref);
  g_clear_pointer (&p->captions, g_ptr_array_unref);
  g_clear_pointer (&p->caption_colors, g_array_unref);
  g_free (p->x_label);
  g_free (p->x_unit);
  g_free (p->y_label);
  g_free (p->y_unit);
  g_clear_pointer (&p->series, g_ptr_array_unref);
  g_clear_pointer (&p->xy, g_array_unref);
  g_clear_pointer (&p->classes, g_array_unref);
  g_strfreev (p->class_names);
  g_clear_pointer (&p->values, g_array_unref);
  g_free (p->row_title);
  g_free (p->col_title);
  g_free (p);
}

static void
lecture_model_free (FwLectureModel *m)
{
  g_free (m->name);
  g_free (m->path);
  g_clear_pointer (&m->metrics, g_array_unref);
  g_free (m);
}

FwLectureResult *
fw_lecture_result_new (void)
{
  FwLectureResult *r = g_new0 (FwLectureResult, 1);
  r->panels = g_ptr_array_new_with_free_func ((GDestroyNotify) panel_free);
  r->models = g_ptr_array_new_with_free_func ((GDestroyNotify) lecture_model_free);
  return r;
}

void
fw_lecture_result_free (FwLectureResult *r)
{
  if (r == NULL)
    return;
  g_ptr_array_unref (r->panels);
  g_ptr_array_unref (r->models);
  g_free (r->summary);
  g_free (r->run_dir);
  g_free (r);
}

static GArray *
array_copy (GArray *a)
{
  if (a == NULL)
    return NULL;
  GArray *b = g_array_sized_new (FALSE, FALSE, g_array_get_element_size (a), a->len);
  g_array_append_vals (b, a->data, a->len);
  return b;
}

FwLectureResult *
fw_lecture_result_copy (const FwLectureResult *r)
{
  FwLectureResult *c = fw_lecture_result_new ();
  c->summary = g_strdup (r->summary);
  c->run_dir = g_strdup (r->run_dir);
  for (guint i = 0; i < r->models->len; i++)
    {
      const FwLectureModel *m = g_ptr_array_index (r->models, i);
      FwLectureModel *n = g_new0 (FwLectureModel, 1);
      n->name = g_strdup (m->name);
      n->path = g_strdup (m->path);
      n->accuracy = m->accuracy;
      n->metrics = array_copy (m->metrics);
      g_ptr_array_add (c->models, n);
    }
  for (guint i = 0; i < r->panels->len; i++)
    {
      const FwPanel *p = g_ptr_array_index (r->panels, i);
      FwPanel *q = g_new0 (FwPanel, 1);
      *q = *p;
      q->step = g_strdup (p->step);
      q->title = g_strdup (p->title);
      q->pixels = array_copy (p->pixels);
      if (p->captions != NULL)
        {
          q->captions = g_ptr_array_new_with_free_func (g_free);
          for (guint k = 0; k < p->captions->len; k++)
            g_ptr_array_add (q->captions, g_strdup (g_ptr_array_index (p->captions, k)));
        }
      q->caption_colors = array_copy (p->caption_colors);
      q->x_label = g_strdup (p->x_label);
      q->x_unit = g_strdup (p->x_unit);
      q->y_label = g_strdup (p->y_label);
      q->y_unit = g_strdup (p->y_unit);
      q->series = NULL;
      if (p->series != NULL)
        {
          q->series = g_ptr_array_new_with_free_func ((GDestroyNotify) series_free);
          for (guint s = 0; s < p->series->len; s++)
            {
              const FwPanelSeries *a = g_ptr_array_index (p->series, s);
              FwPanelSeries *b = g_new0 (FwPanelSeries, 1);
              *b = *a;
              b->name = g_strdup (a->name);
              b->x = array_copy (a->x);
              b->y = array_copy (a->y);
              b->lo = array_copy (a->lo);
              b->hi = array_copy (a->hi);
              g_ptr_array_add (q->series, b);
            }
        }
      q->xy = array_copy (p->xy);
      q->classes = array_copy (p->classes);
      q->class_names = g_strdupv (p->class_names);
      q->values = array_copy (p->values);
      q->row_title = g_strdup (p->row_title);
      q->col_title = g_strdup (p->col_title);
      g_ptr_array_add (c->panels, q);
    }
  return c;
}

FwPanel *
fw_panel_new (FwLectureResult *r, FwPanelKind kind, const char *step, const char *title)
{
  FwPanel *p = g_new0 (FwPanel, 1);
  p->kind = kind;
  p->step = g_strdup (step);
  p->title = g_strdup (title);
  p->y_min = NAN;
  p->y_max = NAN;
  p->x_min = NAN;
  p->x_max = NAN;
  switch (kind)
    {
    case FW_PANEL_IMAGES:
      p->pixels = g_array_new (FALSE, FALSE, sizeof (float));
      p->captions = g_ptr_array_new_with_free_func (g_free);
      p->caption_colors = g_array_new (FALSE, FALSE, sizeof (int));
      break;
    case FW_PANEL_CURVES:
      p->series = g_ptr_array_new_with_free_func ((GDestroyNotify) series_free);
      break;
    case FW_PANEL_POINTS:
      p->xy = g_array_new (FALSE, FALSE, sizeof (float));
      p->classes = g_array_new (FALSE, FALSE, sizeof (int));
      break;
    case FW_PANEL_MATRIX:
      p->values = g_array_new (FALSE, FALSE, sizeof (double));
      break;
    }
  g_ptr_array_add (r->panels, p);
  return p;
}

FwPanelSeries *
fw_panel_add_series (FwPanel *p, const char *name, int color)
{
  g_return_val_if_fail (p->kind == FW_PANEL_CURVES, NULL);
  FwPanelSeries *s = g_new0 (FwPanelSeries, 1);
  s->name = g_strdup (name);
  s->color = color;
  s->x = g_array_new (FALSE, FALSE, sizeof (double));
  s->y = g_array_new (FALSE, FALSE, sizeof (double));
  s->lo = g_array_new (FALSE, FALSE, sizeof (double));
  s->hi = g_array_new (FALSE, FALSE, sizeof (double));
  g_ptr_array_add (p->series, s);
  return s;
}

void
fw_panel_series_append (FwPanelSeries *s, double x, double y, double lo, double hi)
{
  g_array_append_val (s->x, x);
  g_array_append_val (s->y, y);
  g_array_append_val (s->lo, lo);
  g_array_append_val (s->hi, hi);
}

void
fw_panel_add_image (FwPanel *p, const float *hwc, const char *caption, int caption_color)
{
  g_return_if_fail (p->kind == FW_PANEL_IMAGES);
  g_array_append_vals (p->pixels, hwc, (guint) (p->w * p->h * p->c));
  g_ptr_array_add (p->captions, g_strdup (caption != NULL ? caption : ""));
  g_array_append_val (p->caption_colors, caption_color);
}

static void
csv_num (GString *s, double v)
{
  if (isnan (v))
    g_string_append (s, "");
  else
    {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];
      g_ascii_formatd (buf, sizeof buf, "%.9g", v);
      g_string_append (s, buf);
    }
}

static void
csv_text (GString *s, const char *t)
{
  g_string_append_c (s, '"');
  for (const char *c = t != NULL ? t : ""; *c; c++)
    {
      if (*c == '"')
        g_string_append_c (s, '"');
      g_string_append_c (s, *c);
    }
  g_string_append_c (s, '"');
}

char *
fw_lecture_result_metrics_csv (const FwLectureResult *r)
{
  GString *s = g_string_new ("panel,series,x,y,lo,hi\n");
  for (guint i = 0; i < r->panels->len; i++)
    {
      const FwPanel *p = g_ptr_array_index (r->panels, i);
      if (p->kind == FW_PANEL_CURVES)
        for (guint k = 0; k < p->series->len; k++)
          {
            const FwPanelSeries *se = g_ptr_array_index (p->series, k);
            for (guint j = 0; j < se->x->len; j++)
              {
                csv_text (s, p->title);
                g_string_append_c (s, ',');
                csv_text (s, se->name);
                g_string_append_c (s, ',');
                csv_num (s, g_array_index (se->x, double, j));
                g_string_append_c (s, ',');
                csv_num (s, g_array_index (se->y, double, j));
                g_string_append_c (s, ',');
                csv_num (s, g_array_index (se->lo, double, j));
                g_string_append_c (s, ',');
                csv_num (s, g_array_index (se->hi, double, j));
                g_string_append_c (s, '\n');
              }
          }
      else if (p->kind == FW_PANEL_MATRIX)
        for (int a = 0; a < p->rows; a++)
          for (int b = 0; b < p->cols; b++)
            {
              csv_text (s, p->title);
              g_string_append_printf (s, ",\"row %d\",%d,", a, b);
              csv_num (s, g_array_index (p->values, double, a * p->cols + b));
              g_string_append (s, ",,\n");
            }
      else if (p->kind == FW_PANEL_POINTS)
        for (guint j = 0; j < p->classes->len; j++)
          {
            csv_text (s, p->title);
            g_string_append_printf (s, ",\"class %d\",", g_array_index (p->classes, int, j));
            csv_num (s, g_array_index (p->xy, float, 2 * j));
            g_string_append_c (s, ',');
            csv_num (s, g_array_index (p->xy, float, 2 * j + 1));
            g_string_append (s, ",,\n");
          }
    }
  return g_string_free (s, FALSE);
}
