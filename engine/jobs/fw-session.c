/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-session.c: session snapshots: a checked container of named entries (fw-session.h). */
#include "fw-session.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "fw-error.h"
#include "fw-safetensors.h"

#define MAGIC "FWSESS01"
#define MAX_ENTRIES 4096
#define MAX_NAME 200
#define DIGEST 32

/* ---- little-endian writer / checked reader ---- */

/* v as n little-endian bytes */
static void
put_le (GByteArray *b, guint64 v, int n)
{
  guint8 x[8];
  for (int i = 0; i < n; i++)
    x[i] = (v >> (8 * i)) & 0xff;
  g_byte_array_append (b, x, n);
}

static void
put_u16 (GByteArray *b, guint16 v)
{
  put_le (b, v, 2);
}

static void
put_u32 (GByteArray *b, guint32 v)
{
  put_le (b, v, 4);
}

static void
put_u64 (GByteArray *b, guint64 v)
{
  put_le (b, v, 8);
}

static void
put_f64 (GByteArray *b, double v)
{
  guint64 u;
  memcpy (&u, &v, 8);
  put_u64 (b, u);
}

static void
put_f32 (GByteArray *b, float v)
{
  guint32 u;
  memcpy (&u, &v, 4);
  put_u32 (b, u);
}

static void
put_str (GByteArray *b, const char *s)
{
  gsize n = s != NULL ? strlen (s) : 0;
  put_u32 (b, s != NULL ? (guint32) n : G_MAXUINT32);
  if (n > 0)
    g_byte_array_append (b, (const guint8 *) s, n);
}

typedef struct {
  const guint8 *p;
  gsize len, pos;
  gboolean bad;
} Reader;

static gboolean
need (Reader *r, gsize n)
{
  if (r->bad || n > r->len - r->pos)
    {
      r->bad = TRUE;
      return FALSE;
    }
  return TRUE;
}

static guint64
get_uint (Reader *r, int bytes)
{
  if (!need (r, bytes))
    return 0;
  guint64 v = 0;
  for (int i = 0; i < bytes; i++)
    v |= (guint64) r->p[r->pos + i] << (8 * i);
  r->pos += bytes;
  return v;
}

static double
get_f64 (Reader *r)
{
  guint64 u = get_uint (r, 8);
  double v;
  memcpy (&v, &u, 8);
  return v;
}

static float
get_f32 (Reader *r)
{
  guint32 u = (guint32) get_uint (r, 4);
  float v;
  memcpy (&v, &u, 4);
  return v;
}

/* a string of at most max bytes, valid UTF-8; *present FALSE for NULL */
static char *
get_str (Reader *r, gsize max)
{
  guint32 n = (guint32) get_uint (r, 4);
  if (r->bad || n == G_MAXUINT32)
    return NULL;
  if (n > max || !need (r, n) || !g_utf8_validate ((const char *) r->p + r->pos, n, NULL)
      || memchr (r->p + r->pos, 0, n) != NULL)
    {
      r->bad = TRUE;
      return NULL;
    }
  char *s = g_strndup ((const char *) r->p + r->pos, n);
  r->pos += n;
  return s;
}

/* a count that must fit: count * unit bytes still in the buffer */
static guint32
get_count (Reader *r, gsize unit, guint32 max)
{
  guint32 n = (guint32) get_uint (r, 4);
  if (r->bad || n > max || (unit > 0 && (gsize) n > (r->len - r->pos) / unit))
    {
      r->bad = TRUE;
      return 0;
    }
  return n;
}

/* ---- lecture results as bytes ---- */

#define PANEL_MAGIC 0x4c504e31u  /* "1NPL" */

static void
put_doubles (GByteArray *b, GArray *a)
{
  put_u32 (b, a->len);
  for (guint i = 0; i < a->len; i++)
    put_f64 (b, g_array_index (a, double, i));
}

static GArray *
get_doubles (Reader *r)
{
  guint32 n = get_count (r, 8, 1u << 24);
  GArray *a = g_array_sized_new (FALSE, FALSE, sizeof (double), n);
  for (guint32 i = 0; i < n && !r->bad; i++)
    {
      double v = get_f64 (r);
      g_array_append_val (a, v);
    }
  return a;
}

GBytes *
fw_lecture_result_to_bytes (const FwLectureResult *r)
{
  GByteArray *b = g_byte_array_new ();
  put_u32 (b, PANEL_MAGIC);
  put_str (b, r->summary);
  put_str (b, r->run_dir);
  put_u32 (b, r->panels->len);
  for (guint i = 0; i < r->panels->len; i++)
    {
      const FwPanel *p = g_ptr_array_index (r->panels, i);
      put_u32 (b, p->kind);
      put_str (b, p->step);
      put_str (b, p->title);
      switch (p->kind)
        {
        case FW_PANEL_IMAGES:
          put_u32 (b, p->w);
          put_u32 (b, p->h);
          put_u32 (b, p->c);
          put_u32 (b, p->columns);
          put_u32 (b, p->captions->len);
          for (guint k = 0; k < p->captions->len; k++)
            {
              put_str (b, g_ptr_array_index (p->captions, k));
              put_u32 (b, (guint32) g_array_index (p->caption_colors, int, k));
            }
          put_u32 (b, p->pixels->len);
          for (guint k = 0; k < p->pixels->len; k++)
            put_f32 (b, g_array_index (p->pixels, float, k));
          break;
        case FW_PANEL_CURVES:
          put_str (b, p->x_label);
          put_str (b, p->x_unit);
          put_str (b, p->y_label);
          put_str (b, p->y_unit);
          put_u32 (b, p->log_y);
          put_f64 (b, p->y_min);
          put_f64 (b, p->y_max);
          put_f64 (b, p->x_min);
          put_f64 (b, p->x_max);
          put_u32 (b, p->series->len);
          for (guint k = 0; k < p->series->len; k++)
            {
              const FwPanelSeries *s = g_ptr_array_index (p->series, k);
              put_str (b, s->name);
              put_u32 (b, (guint32) s->color);
              put_u32 (b, s->dashed | (s->markers << 1));
              put_doubles (b, s->x);
              put_doubles (b, s->y);
              put_doubles (b, s->lo);
              put_doubles (b, s->hi);
            }
          break;
        case FW_PANEL_POINTS:
          put_u32 (b, p->classes->len);
          for (guint k = 0; k < p->classes->len; k++)
            {
              put_f32 (b, g_array_index (p->xy, float, 2 * k));
              put_f32 (b, g_array_index (p->xy, float, 2 * k + 1));
              put_u32 (b, (guint32) g_array_index (p->classes, int, k));
            }
          {
            guint nc = p->class_names != NULL ? g_strv_length (p->class_names) : 0;
            put_u32 (b, nc);
            for (guint k = 0; k < nc; k++)
              put_str (b, p->class_names[k]);
          }
          break;
        case FW_PANEL_MATRIX:
          put_u32 (b, p->rows);
          put_u32 (b, p->cols);
          put_doubles (b, p->values);
          put_str (b, p->row_title);
          put_str (b, p->col_title);
          {
            guint nc = p->class_names != NULL ? g_strv_length (p->class_names) : 0;
            put_u32 (b, nc);
            for (guint k = 0; k < nc; k++)
              put_str (b, p->class_names[k]);
          }
          break;
        }
    }
  return g_byte_array_free_to_bytes (b);
}

static char **
get_names (Reader *r)
{
  guint32 n = get_count (r, 4, 4096);
  GPtrArray *a = g_ptr_array_new ();
  for (guint32 k = 0; k < n && !r->bad; k++)
    {
      char *s = get_str (r, 1000);
      g_ptr_array_add (a, s != NULL ? s : g_strdup (""));
    }
  if (n == 0)
    {
      g_ptr_array_free (a, TRUE);
      return NULL;
    }
  g_ptr_array_add (a, NULL);
  return (char **) g_ptr_array_free (a, FALSE);
}

FwLectureResult *
fw_lecture_result_from_bytes (const guint8 *data, gsize len, GError **error)
{
  Reader rd = { data, len, 0, FALSE }, *r = &rd;
  g_autoptr (FwLectureResult) res = fw_lecture_result_new ();
  const char *why = "truncated or corrupt";
  if (get_uint (r, 4) != PANEL_MAGIC)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "lecture result: not a panel encoding");
      return NULL;
    }
  res->summary = get_str (r, 100000);
  res->run_dir = get_str (r, 4096);
  guint32 n = get_count (r, 12, 256);
  for (guint32 i = 0; i < n && !r->bad; i++)
    {
      guint32 kind = (guint32) get_uint (r, 4);
      if (kind > FW_PANEL_MATRIX)
        {
          why = "unknown panel kind";
          r->bad = TRUE;
          break;
        }
      g_autofree char *step = get_str (r, 1000);
      g_autofree char *title = get_str (r, 10000);
      FwPanel *p = fw_panel_new (res, kind, step, title);
      switch (kind)
        {
        case FW_PANEL_IMAGES:
          {
            p->w = (int) get_uint (r, 4);
            p->h = (int) get_uint (r, 4);
            p->c = (int) get_uint (r, 4);
            p->columns = (int) get_uint (r, 4);
            if (p->w < 1 || p->w > 4096 || p->h < 1 || p->h > 4096 || p->c < 1 || p->c > 4
                || p->columns < 0 || p->columns > 1000)
              {
                why = "bad image size";
                r->bad = TRUE;
                break;
              }
            guint32 nc = get_count (r, 8, 100000);
            for (guint32 k = 0; k < nc && !r->bad; k++)
              {
                char *cap = get_str (r, 10000);
                int color = (int) (gint32) get_uint (r, 4);
                g_ptr_array_add (p->captions, cap != NULL ? cap : g_strdup (""));
                g_array_append_val (p->caption_colors, color);
              }
            guint32 np = get_count (r, 4, G_MAXUINT32 / 4);
            gsize sz = (gsize) p->w * p->h * p->c;
            if (r->bad || np != sz * nc)
              {
                why = "image pixels do not match the images";
                r->bad = TRUE;
                break;
              }
            g_array_set_size (p->pixels, np);
            for (guint32 k = 0; k < np; k++)
              g_array_index (p->pixels, float, k) = get_f32 (r);
            break;
          }
        case FW_PANEL_CURVES:
          {
            p->x_label = get_str (r, 1000);
            p->x_unit = get_str (r, 1000);
            p->y_label = get_str (r, 1000);
            p->y_unit = get_str (r, 1000);
            p->log_y = get_uint (r, 4) != 0;
            p->y_min = get_f64 (r);
            p->y_max = get_f64 (r);
            p->x_min = get_f64 (r);
            p->x_max = get_f64 (r);
            guint32 ns = get_count (r, 28, 256);
            for (guint32 k = 0; k < ns && !r->bad; k++)
              {
                g_autofree char *name = get_str (r, 1000);
                int color = (int) (gint32) get_uint (r, 4);
                guint32 flags = (guint32) get_uint (r, 4);
                FwPanelSeries *s = fw_panel_add_series (p, name, color);
                s->dashed = (flags & 1) != 0;
                s->markers = (flags & 2) != 0;
                GArray *a[4];
                for (int q = 0; q < 4; q++)
                  a[q] = get_doubles (r);
                g_array_unref (s->x), s->x = a[0];
                g_array_unref (s->y), s->y = a[1];
                g_array_unref (s->lo), s->lo = a[2];
                g_array_unref (s->hi), s->hi = a[3];
                if (!r->bad && (s->y->len != s->x->len || s->lo->len != s->x->len
                                || s->hi->len != s->x->len))
                  {
                    why = "series of different lengths";
                    r->bad = TRUE;
                  }
              }
            break;
          }
        case FW_PANEL_POINTS:
          {
            guint32 np = get_count (r, 12, 1u << 24);
            for (guint32 k = 0; k < np && !r->bad; k++)
              {
                float xy[2] = { get_f32 (r), get_f32 (r) };
                int c = (int) (gint32) get_uint (r, 4);
                g_array_append_vals (p->xy, xy, 2);
                g_array_append_val (p->classes, c);
              }
            p->class_names = get_names (r);
            break;
          }
        case FW_PANEL_MATRIX:
          {
            p->rows = (int) get_uint (r, 4);
            p->cols = (int) get_uint (r, 4);
            g_array_unref (p->values);
            p->values = get_doubles (r);
            p->row_title = get_str (r, 1000);
            p->col_title = get_str (r, 1000);
            p->class_names = get_names (r);
            if (!r->bad && (p->rows < 1 || p->rows > 1000 || p->cols < 1 || p->cols > 1000
                            || p->values->len != (guint) (p->rows * p->cols)))
              {
                why = "matrix size does not match its values";
                r->bad = TRUE;
              }
            break;
          }
        }
    }
  if (!r->bad && r->pos != r->len)
    {
      why = "trailing bytes";
      r->bad = TRUE;
    }
  if (r->bad)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "lecture result: %s at byte %" G_GSIZE_FORMAT,
                   why, r->pos);
      return NULL;
    }
  return g_steal_pointer (&res);
}

/* ---- the session ---- */

static void
model_free (FwSessionModel *m)
{
  g_free (m->name);
  g_free (m->run_dir);
  g_free (m->method);
  g_free (m->file);
  g_clear_pointer (&m->model, fw_model_unref);
  g_clear_pointer (&m->metrics, g_array_unref);
  g_free (m);
}

static void
run_free (FwSessionRun *r)
{
  g_free (r->lecture);
  g_free (r->title);
  g_strfreev (r->steps);
  g_clear_pointer (&r->result, fw_lecture_result_free);
  g_free (r);
}

FwSession *
fw_session_new (void)
{
  FwSession *s = g_new0 (FwSession, 1);
  s->lecture_step = -1;
  s->models = g_ptr_array_new_with_free_func ((GDestroyNotify) model_free);
  s->runs = g_ptr_array_new_with_free_func ((GDestroyNotify) run_free);
  return s;
}

void
fw_session_free (FwSession *s)
{
  if (s == NULL)
    return;
  g_free (s->page);
  g_free (s->dataset);
  g_free (s->pipeline);
  g_free (s->lecture);
  g_ptr_array_unref (s->models);
  g_ptr_array_unref (s->runs);
  g_free (s);
}

FwSessionModel *
fw_session_add_model (FwSession *s, const char *name, FwModel *model, double accuracy,
                      const GArray *metrics, const char *run_dir)
{
  FwSessionModel *m = g_new0 (FwSessionModel, 1);
  m->name = g_strdup (name);
  m->model = fw_model_ref (model);
  m->accuracy = accuracy;
  m->run_dir = g_strdup (run_dir);
  m->metrics = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  if (metrics != NULL)
    g_array_append_vals (m->metrics, metrics->data, metrics->len);
  g_ptr_array_add (s->models, m);
  return m;
}

FwSessionRun *
fw_session_add_run (FwSession *s, const char *lecture, const char *title,
                    const char *const *steps, const FwLectureResult *r)
{
  FwSessionRun *run = g_new0 (FwSessionRun, 1);
  run->lecture = g_strdup (lecture);
  run->title = g_strdup (title);
  run->steps = g_strdupv ((char **) steps);
  run->result = fw_lecture_result_copy (r);
  g_ptr_array_add (s->runs, run);
  return run;
}

/* metrics: u32 n, then per epoch i32 epoch and 7 doubles */
static GBytes *
metrics_to_bytes (const GArray *a)
{
  GByteArray *b = g_byte_array_new ();
  put_u32 (b, a->len);
  for (guint i = 0; i < a->len; i++)
    {
      const FwEpochMetrics *m = &g_array_index (a, FwEpochMetrics, i);
      put_u32 (b, (guint32) m->epoch);
      put_f64 (b, m->train_loss);
      put_f64 (b, m->train_acc);
      put_f64 (b, m->val_loss);
      put_f64 (b, m->val_acc);
      put_f64 (b, m->test_acc);
      put_f64 (b, m->lr);
      put_f64 (b, m->seconds);
    }
  return g_byte_array_free_to_bytes (b);
}

static GArray *
metrics_from_bytes (const guint8 *data, gsize len)
{
  Reader rd = { data, len, 0, FALSE };
  guint32 n = get_count (&rd, 60, 1000000);
  GArray *a = g_array_new (FALSE, FALSE, sizeof (FwEpochMetrics));
  for (guint32 i = 0; i < n && !rd.bad; i++)
    {
      FwEpochMetrics m;
      m.epoch = (int) (gint32) get_uint (&rd, 4);
      m.train_loss = get_f64 (&rd);
      m.train_acc = get_f64 (&rd);
      m.val_loss = get_f64 (&rd);
      m.val_acc = get_f64 (&rd);
      m.test_acc = get_f64 (&rd);
      m.lr = get_f64 (&rd);
      m.seconds = get_f64 (&rd);
      g_array_append_val (a, m);
    }
  if (rd.bad || rd.pos != rd.len)
    {
      g_array_unref (a);
      return NULL;
    }
  return a;
}

typedef struct {
  char *name;
  GBytes *data;
} Entry;

static void
entry_clear (gpointer p)
{
  Entry *e = p;
  g_free (e->name);
  g_bytes_unref (e->data);
}

static GBytes *
model_bytes (FwModel *m, GError **error)
{
  g_autofree char *tmpdir = g_dir_make_tmp ("fwsession-XXXXXX", error);
  if (tmpdir == NULL)
    return NULL;
  g_autofree char *path = g_build_filename (tmpdir, "model.safetensors", NULL);
  GBytes *bytes = NULL;
  if (fw_model_save (m, path, NULL, error))
    {
      g_autofree char *data = NULL;
      gsize len = 0;
      if (g_file_get_contents (path, &data, &len, error))
        bytes = g_bytes_new_take (g_steal_pointer (&data), len);
    }
  g_unlink (path);
  g_rmdir (tmpdir);
  return bytes;
}

static FwModel *
model_from_bytes (GBytes *b, GError **error)
{
  g_autofree char *tmpdir = g_dir_make_tmp ("fwsession-XXXXXX", error);
  if (tmpdir == NULL)
    return NULL;
  g_autofree char *path = g_build_filename (tmpdir, "model.safetensors", NULL);
  FwModel *m = NULL;
  gsize len = 0;
  const char *data = g_bytes_get_data (b, &len);
  if (g_file_set_contents (path, data != NULL ? data : "", len, error))
    m = fw_model_load (path, NULL, error);
  g_unlink (path);
  g_rmdir (tmpdir);
  return m;
}

static void
add_entry (GArray *entries, const char *name, GBytes *data)
{
  Entry e = { g_strdup (name), data };
  g_array_append_val (entries, e);
}

GBytes *
fw_session_to_bytes (const FwSession *s, GError **error)
{
  g_autoptr (GArray) entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  g_array_set_clear_func (entries, entry_clear);
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_key_file_set_integer (kf, "session", "version", 1);
  if (s->page != NULL)
    g_key_file_set_string (kf, "session", "page", s->page);
  if (s->dataset != NULL)
    g_key_file_set_string (kf, "session", "dataset", s->dataset);
  if (s->pipeline != NULL)
    g_key_file_set_string (kf, "session", "pipeline", s->pipeline);
  g_key_file_set_boolean (kf, "session", "presentation", s->presentation);
  if (s->lecture != NULL)
    g_key_file_set_string (kf, "session", "lecture", s->lecture);
  g_key_file_set_integer (kf, "session", "lecture_step", s->lecture_step);
  add_entry (entries, "manifest.ini", NULL);   /* filled in below */

  for (guint i = 0; i < s->models->len; i++)
    {
      const FwSessionModel *m = g_ptr_array_index (s->models, i);
      g_autofree char *group = g_strdup_printf ("model %u", i + 1);
      g_autofree char *file = g_strdup_printf ("model-%u.safetensors", i + 1);
      g_autofree char *mfile = g_strdup_printf ("model-%u.metrics", i + 1);
      GBytes *b = model_bytes (m->model, error);
      if (b == NULL)
        return NULL;
      add_entry (entries, file, b);
      add_entry (entries, mfile, metrics_to_bytes (m->metrics));
      g_key_file_set_string (kf, group, "name", m->name != NULL ? m->name : "model");
      g_key_file_set_double (kf, group, "accuracy", m->accuracy);
      if (m->run_dir != NULL)
        g_key_file_set_string (kf, group, "run_dir", m->run_dir);
      if (m->method != NULL)
        g_key_file_set_string (kf, group, "method", m->method);
      if (m->file != NULL)
        g_key_file_set_string (kf, group, "path", m->file);
      g_key_file_set_string (kf, group, "file", file);
      g_key_file_set_string (kf, group, "metrics", mfile);
    }
  for (guint i = 0; i < s->runs->len; i++)
    {
      const FwSessionRun *r = g_ptr_array_index (s->runs, i);
      g_autofree char *group = g_strdup_printf ("run %u", i + 1);
      g_autofree char *file = g_strdup_printf ("run-%u.panels", i + 1);
      add_entry (entries, file, fw_lecture_result_to_bytes (r->result));
      g_key_file_set_string (kf, group, "lecture", r->lecture != NULL ? r->lecture : "");
      g_key_file_set_string (kf, group, "title", r->title != NULL ? r->title : "");
      if (r->steps != NULL && r->steps[0] != NULL)
        g_key_file_set_string_list (kf, group, "steps", (const char *const *) r->steps,
                                    g_strv_length (r->steps));
      g_key_file_set_string (kf, group, "file", file);
    }
  gsize mlen = 0;
  char *manifest = g_key_file_to_data (kf, &mlen, NULL);
  g_array_index (entries, Entry, 0).data = g_bytes_new_take (manifest, mlen);

  GByteArray *out = g_byte_array_new ();
  g_byte_array_append (out, (const guint8 *) MAGIC, 8);
  put_u32 (out, entries->len);
  put_u32 (out, 0);
  guint64 offset = 16;
  for (guint i = 0; i < entries->len; i++)
    offset += 2 + strlen (g_array_index (entries, Entry, i).name) + 8 + 8 + DIGEST;
  for (guint i = 0; i < entries->len; i++)
    {
      const Entry *e = &g_array_index (entries, Entry, i);
      gsize len = 0;
      const guint8 *data = g_bytes_get_data (e->data, &len);
      put_u16 (out, (guint16) strlen (e->name));
      g_byte_array_append (out, (const guint8 *) e->name, strlen (e->name));
      put_u64 (out, offset);
      put_u64 (out, len);
      guint8 digest[DIGEST];
      gsize dlen = DIGEST;
      g_autoptr (GChecksum) ck = g_checksum_new (G_CHECKSUM_SHA256);
      g_checksum_update (ck, data != NULL ? data : (const guint8 *) "", len);
      g_checksum_get_digest (ck, digest, &dlen);
      g_byte_array_append (out, digest, DIGEST);
      offset += len;
    }
  for (guint i = 0; i < entries->len; i++)
    {
      gsize len = 0;
      const guint8 *data = g_bytes_get_data (g_array_index (entries, Entry, i).data, &len);
      if (len > 0)
        g_byte_array_append (out, data, len);
    }
  return g_byte_array_free_to_bytes (out);
}

gboolean
fw_session_save (const FwSession *s, const char *path, GError **error)
{
  g_autoptr (GBytes) b = fw_session_to_bytes (s, error);
  if (b == NULL)
    return FALSE;
  gsize len = 0;
  const char *data = g_bytes_get_data (b, &len);
  g_autoptr (GError) local = NULL;
  /* g_file_set_contents writes a temporary file and renames it: atomic */
  if (!g_file_set_contents (path, data, len, &local))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "%s: %s — choose a writable folder", path,
                   local->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
valid_entry_name (const char *n, gsize len)
{
  if (len == 0 || len > MAX_NAME || n[0] == '.')
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (n[i]) && n[i] != '.' && n[i] != '-' && n[i] != '_')
      return FALSE;
  return TRUE;
}

static GBytes *
find_entry (GArray *entries, const char *name)
{
  for (guint i = 0; i < entries->len; i++)
    if (strcmp (g_array_index (entries, Entry, i).name, name) == 0)
      return g_array_index (entries, Entry, i).data;
  return NULL;
}

static gboolean
fail (GError **error, const char *file, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, const char *file, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "%s: %s — the session file is damaged; save "
               "the session again", file, msg);
  return FALSE;
}

static char *
manifest_string (GKeyFile *kf, const char *group, const char *key, gboolean required,
                 const char *file, GError **error)
{
  if (!g_key_file_has_key (kf, group, key, NULL))
    {
      if (required)
        fail (error, file, "manifest.ini: [%s] %s is missing", group, key);
      return NULL;
    }
  char *v = g_key_file_get_string (kf, group, key, NULL);
  if (v == NULL || strlen (v) > 100000)
    {
      g_free (v);
      fail (error, file, "manifest.ini: [%s] %s is not a valid string", group, key);
      return NULL;
    }
  return v;
}

FwSession *
fw_session_load_data (const guint8 *data, gsize len, const char *name, GError **error)
{
  const char *file = name != NULL ? name : "session";
  Reader rd = { data, len, 0, FALSE }, *r = &rd;
  if (len < 16 || memcmp (data, MAGIC, 8) != 0)
    return fail (error, file, "not a Frugal Workbench session (no FWSESS01 header)"), NULL;
  r->pos = 8;
  guint32 n = (guint32) get_uint (r, 4);
  guint32 reserved = (guint32) get_uint (r, 4);
  if (n < 1 || n > MAX_ENTRIES || reserved != 0)
    return fail (error, file, "bad entry count %u", n), NULL;
  g_autoptr (GArray) entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  g_array_set_clear_func (entries, entry_clear);
  guint64 expect = 0;
  typedef struct { guint64 off, len; guint8 digest[DIGEST]; } Slot;
  g_autofree Slot *slots = g_new0 (Slot, n);
  for (guint32 i = 0; i < n; i++)
    {
      guint16 nl = (guint16) get_uint (r, 2);
      if (r->bad || !need (r, nl) || !valid_entry_name ((const char *) data + r->pos, nl))
        return fail (error, file, "entry %u: bad name", i + 1), NULL;
      Entry e = { g_strndup ((const char *) data + r->pos, nl), NULL };
      r->pos += nl;
      if (find_entry (entries, e.name) != NULL || (i == 0 && strcmp (e.name, "manifest.ini")))
        {
          g_autofree char *en = e.name;
          return fail (error, file, "entry %s: %s", en, i == 0 ? "the first entry must be "
                       "manifest.ini" : "appears twice"), NULL;
        }
      g_array_append_val (entries, e);
      slots[i].off = get_uint (r, 8);
      slots[i].len = get_uint (r, 8);
      if (!need (r, DIGEST))
        return fail (error, file, "the entry table is truncated"), NULL;
      memcpy (slots[i].digest, data + r->pos, DIGEST);
      r->pos += DIGEST;
    }
  expect = r->pos;
  for (guint32 i = 0; i < n; i++)
    {
      const char *en = g_array_index (entries, Entry, i).name;
      if (slots[i].off != expect || slots[i].len > len || slots[i].off > len - slots[i].len)
        return fail (error, file, "entry %s: its bytes lie outside the file (truncated?)", en),
               NULL;
      const guint8 *p = data + slots[i].off;
      guint8 digest[DIGEST];
      gsize dlen = DIGEST;
      g_autoptr (GChecksum) ck = g_checksum_new (G_CHECKSUM_SHA256);
      g_checksum_update (ck, p, slots[i].len);
      g_checksum_get_digest (ck, digest, &dlen);
      if (memcmp (digest, slots[i].digest, DIGEST) != 0)
        return fail (error, file, "entry %s: checksum mismatch", en), NULL;
      g_array_index (entries, Entry, i).data = g_bytes_new (p, slots[i].len);
      expect += slots[i].len;
    }
  if (expect != len)
    return fail (error, file, "%" G_GUINT64_FORMAT " bytes after the last entry",
                 (guint64) (len - expect)), NULL;

  /* the manifest */
  GBytes *mb = g_array_index (entries, Entry, 0).data;
  gsize mlen = 0;
  const char *mdata = g_bytes_get_data (mb, &mlen);
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  if (mdata == NULL || !g_utf8_validate (mdata, mlen, NULL)
      || !g_key_file_load_from_data (kf, mdata, mlen, G_KEY_FILE_NONE, &local))
    return fail (error, file, "manifest.ini: %s", local != NULL ? local->message : "not text"),
           NULL;
  if (!g_key_file_has_group (kf, "session")
      || g_key_file_get_integer (kf, "session", "version", NULL) != 1)
    return fail (error, file, "manifest.ini: [session] version is not 1 (a newer workbench "
                 "wrote it?)"), NULL;
  g_autoptr (FwSession) s = fw_session_new ();
  GError *e2 = NULL;
  s->page = manifest_string (kf, "session", "page", FALSE, file, &e2);
  if (e2 == NULL)
    s->dataset = manifest_string (kf, "session", "dataset", FALSE, file, &e2);
  if (e2 == NULL)
    s->pipeline = manifest_string (kf, "session", "pipeline", FALSE, file, &e2);
  if (e2 == NULL)
    s->lecture = manifest_string (kf, "session", "lecture", FALSE, file, &e2);
  if (e2 != NULL)
    {
      g_propagate_error (error, e2);
      return NULL;
    }
  s->presentation = g_key_file_get_boolean (kf, "session", "presentation", NULL);
  s->lecture_step = g_key_file_has_key (kf, "session", "lecture_step", NULL)
                      ? g_key_file_get_integer (kf, "session", "lecture_step", NULL) : -1;
  if (s->lecture_step < -1 || s->lecture_step > 64)
    return fail (error, file, "manifest.ini: [session] lecture_step %d out of range",
                 s->lecture_step), NULL;

  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);
  for (int g = 0; groups[g] != NULL; g++)
    {
      const char *gr = groups[g];
      if (strcmp (gr, "session") == 0)
        continue;
      GError *ge = NULL;
      g_autofree char *fname = manifest_string (kf, gr, "file", TRUE, file, &ge);
      if (fname == NULL)
        {
          g_propagate_error (error, ge);
          return NULL;
        }
      GBytes *blob = find_entry (entries, fname);
      if (blob == NULL)
        return fail (error, file, "manifest.ini: [%s] file = %s: no such entry", gr, fname),
               NULL;
      if (g_str_has_prefix (gr, "model "))
        {
          g_autofree char *mname = manifest_string (kf, gr, "name", TRUE, file, &ge);
          g_autofree char *mfile = mname != NULL ? manifest_string (kf, gr, "metrics", TRUE,
                                                                    file, &ge) : NULL;
          g_autofree char *run_dir = mfile != NULL ? manifest_string (kf, gr, "run_dir", FALSE,
                                                                      file, &ge) : NULL;
          g_autofree char *method = ge == NULL ? manifest_string (kf, gr, "method", FALSE, file,
                                                                  &ge) : NULL;
          g_autofree char *mpath = ge == NULL ? manifest_string (kf, gr, "path", FALSE, file,
                                                                 &ge) : NULL;
          if (ge != NULL)
            {
              g_propagate_error (error, ge);
              return NULL;
            }
          GBytes *mblob = find_entry (entries, mfile);
          if (mblob == NULL)
            return fail (error, file, "manifest.ini: [%s] metrics = %s: no such entry", gr,
                         mfile), NULL;
          double acc = g_key_file_get_double (kf, gr, "accuracy", &local);
          if (local != NULL)
            return fail (error, file, "manifest.ini: [%s] accuracy is not a number", gr), NULL;
          g_autoptr (GError) me = NULL;
          g_autoptr (FwModel) model = model_from_bytes (blob, &me);
          if (model == NULL)
            return fail (error, file, "entry %s: %s", fname, me->message), NULL;
          gsize ml = 0;
          const guint8 *md = g_bytes_get_data (mblob, &ml);
          g_autoptr (GArray) metrics = metrics_from_bytes (md != NULL ? md : (const guint8 *) "",
                                                           ml);
          if (metrics == NULL)
            return fail (error, file, "entry %s: not a metrics table", mfile), NULL;
          FwSessionModel *sm = fw_session_add_model (s, mname, model, acc, metrics, run_dir);
          sm->method = g_steal_pointer (&method);
          sm->file = g_steal_pointer (&mpath);
        }
      else if (g_str_has_prefix (gr, "run "))
        {
          g_autofree char *lec = manifest_string (kf, gr, "lecture", TRUE, file, &ge);
          g_autofree char *title = lec != NULL ? manifest_string (kf, gr, "title", TRUE, file,
                                                                  &ge) : NULL;
          if (ge != NULL)
            {
              g_propagate_error (error, ge);
              return NULL;
            }
          g_auto (GStrv) steps = g_key_file_get_string_list (kf, gr, "steps", NULL, NULL);
          if (steps != NULL && g_strv_length (steps) > 64)
            return fail (error, file, "manifest.ini: [%s] steps: too many", gr), NULL;
          gsize bl = 0;
          const guint8 *bd = g_bytes_get_data (blob, &bl);
          g_autoptr (GError) pe = NULL;
          g_autoptr (FwLectureResult) res = fw_lecture_result_from_bytes (
            bd != NULL ? bd : (const guint8 *) "", bl, &pe);
          if (res == NULL)
            return fail (error, file, "entry %s: %s", fname, pe->message), NULL;
          FwSessionRun *run = g_new0 (FwSessionRun, 1);
          run->lecture = g_steal_pointer (&lec);
          run->title = g_steal_pointer (&title);
          run->steps = g_steal_pointer (&steps);
          run->result = g_steal_pointer (&res);
          g_ptr_array_add (s->runs, run);
        }
      else
        return fail (error, file, "manifest.ini: unknown group [%s]", gr), NULL;
    }
  return g_steal_pointer (&s);
}

FwSession *
fw_session_load (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &data, &len, &local))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "%s: %s", path, local->message);
      return NULL;
    }
  return fw_session_load_data ((const guint8 *) data, len, path, error);
}

char *
fw_session_describe (const FwSession *s)
{
  GString *t = g_string_new (NULL);
  g_string_append_printf (t, "page: %s\n", s->page != NULL ? s->page : "(none)");
  g_string_append_printf (t, "dataset: %s\n", s->dataset != NULL ? s->dataset : "(none)");
  g_string_append_printf (t, "pipeline: %s\n",
                          s->pipeline != NULL && *s->pipeline ? s->pipeline : "(none)");
  g_string_append_printf (t, "presentation: %s\n", s->presentation ? "on" : "off");
  if (s->lecture != NULL)
    g_string_append_printf (t, "lecture: %s, step %d\n", s->lecture, s->lecture_step + 1);
  g_string_append_printf (t, "models: %u\n", s->models->len);
  for (guint i = 0; i < s->models->len; i++)
    {
      const FwSessionModel *m = g_ptr_array_index (s->models, i);
      g_string_append_printf (t, "  %s: %s, %" G_GSIZE_FORMAT " parameters, %u epochs, "
                              "accuracy %.1f%%\n", m->name, m->model->arch,
                              fw_model_param_count (m->model), m->metrics->len,
                              100.0 * m->accuracy);
    }
  g_string_append_printf (t, "runs: %u\n", s->runs->len);
  for (guint i = 0; i < s->runs->len; i++)
    {
      const FwSessionRun *r = g_ptr_array_index (s->runs, i);
      g_string_append_printf (t, "  %s (%s): %u panels%s%s\n", r->title, r->lecture,
                              r->result->panels->len, r->result->summary != NULL ? ", " : "",
                              r->result->summary != NULL ? r->result->summary : "");
    }
  return g_string_free (t, FALSE);
}
