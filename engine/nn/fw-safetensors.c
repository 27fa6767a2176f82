/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-safetensors.c: saving and loading models as .safetensors files.
 *
 * Layout written:
 *   [0, 8)          N, the header length, unsigned 64-bit little-endian
 *   [8, 8 + N)      JSON: "__metadata__" first, then one entry per tensor in layer order;
 *                   padded with spaces so the data starts at a multiple of 8 bytes
 *   [8 + N, end)    the tensors' float32 little-endian data, back to back, in that order
 *
 * __metadata__ (all values are strings):
 *   format   "frugal-workbench"        version "1"
 *   arch     "mlp" ...                 spec    the canonical layer spec
 *   input    "c,h,w"                   in_mean, in_std  printed with %.9g (exact for floats)
 *   classes  the class names joined by ",", a "," or "\" inside a name escaped by "\"
 *            (absent when the model has no names)
 *   frozen   0-based indices of the frozen layers that have parameters, joined by ","
 *            ("" when none)
 *   + the caller's extra pairs (a reserved key among them is an error)
 *
 * Loading checks everything a damaged or foreign file can get wrong and reports it as
 * FW_ERROR_FORMAT "<file>: <problem>"; the model is rebuilt from (arch, spec, input) and every
 * tensor it declares must be present exactly once, F32, with its shape, and the tensors must
 * tile the data section exactly.
 *
 * Compressed layer kinds add packed tensors (FwLayerClass.packed/unpack: sparse indices, int8
 * weights, codebooks, fp16) after their float tensors, with their real dtype (I32, I8, U8, F16
 * ...), so the file's size is the compressed size; their shapes come from the file and the
 * layer's unpack() validates them. */
#include "fw-safetensors.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"

#define FW_ST_FORMAT "frugal-workbench"
#define FW_ST_VERSION "1"
#define FW_ST_MAX_HEADER ((guint64) 100 * 1024 * 1024)

static const char *const reserved_keys[] = {
  "format", "version", "arch", "spec", "input", "in_mean", "in_std", "classes", "frozen", NULL,
};

/* ---- class names <-> one string ---- */

static char *
join_class_names (char **names)
{
  GString *s = g_string_new (NULL);
  for (int i = 0; names[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append_c (s, ',');
      for (const char *p = names[i]; *p; p++)
        {
          if (*p == ',' || *p == '\\')
            g_string_append_c (s, '\\');
          g_string_append_c (s, *p);
        }
    }
  return g_string_free (s, FALSE);
}

static char **
split_class_names (const char *s)
{
  GPtrArray *out = g_ptr_array_new ();
  GString *cur = g_string_new (NULL);
  for (const char *p = s;; p++)
    {
      if (*p == '\\' && p[1] != '\0')
        g_string_append_c (cur, *++p);
      else if (*p == ',' || *p == '\0')
        {
          g_ptr_array_add (out, g_strdup (cur->str));
          g_string_truncate (cur, 0);
          if (*p == '\0')
            break;
        }
      else
        g_string_append_c (cur, *p);
    }
  g_string_free (cur, TRUE);
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

static gsize
tensor_numel (const FwTensorInfo *t)
{
  gsize n = 1;
  for (int d = 0; d < t->ndim; d++)
    n *= (gsize) t->dims[d];
  return n;
}

static void
copy_le_floats (void *dst, const void *src, gsize n)
{
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  memcpy (dst, src, n * sizeof (float));
#else
  const guint32 *s = src;
  guint32 *d = dst;
  for (gsize i = 0; i < n; i++)
    d[i] = GUINT32_SWAP_LE_BE (s[i]);
#endif
}

/* ---- save ---- */

/* qsort hands pointers to the array's entries: compare the strings they point to */
static int
cmp_key_ptr (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static void
add_tensor_entry (JsonBuilder *jb, const char *name, const char *dtype, const int *dims,
                  int ndim, gsize begin, gsize bytes)
{
  json_builder_set_member_name (jb, name);
  json_builder_begin_object (jb);
  json_builder_set_member_name (jb, "dtype");
  json_builder_add_string_value (jb, dtype);
  json_builder_set_member_name (jb, "shape");
  json_builder_begin_array (jb);
  for (int d = 0; d < ndim; d++)
    json_builder_add_int_value (jb, dims[d]);
  json_builder_end_array (jb);
  json_builder_set_member_name (jb, "data_offsets");
  json_builder_begin_array (jb);
  json_builder_add_int_value (jb, (gint64) begin);
  json_builder_add_int_value (jb, (gint64) (begin + bytes));
  json_builder_end_array (jb);
  json_builder_end_object (jb);
}

gboolean
fw_model_save (const FwModel *m, const char *path, GHashTable *extra_metadata, GError **error)
{
  g_return_val_if_fail (m != NULL && path != NULL, FALSE);

  g_autoptr (JsonBuilder) jb = json_builder_new ();
  json_builder_begin_object (jb);

  /* __metadata__ */
  json_builder_set_member_name (jb, "__metadata__");
  json_builder_begin_object (jb);
  char num[G_ASCII_DTOSTR_BUF_SIZE];
#define META(k, v) G_STMT_START { json_builder_set_member_name (jb, k); \
                                  json_builder_add_string_value (jb, v); } G_STMT_END
  META ("format", FW_ST_FORMAT);
  META ("version", FW_ST_VERSION);
  META ("arch", m->arch != NULL ? m->arch : "custom");
  META ("spec", m->spec);
  g_autofree char *input = g_strdup_printf ("%d,%d,%d", m->input.c, m->input.h, m->input.w);
  META ("input", input);
  META ("in_mean", g_ascii_formatd (num, sizeof num, "%.9g", m->in_mean));
  META ("in_std", g_ascii_formatd (num, sizeof num, "%.9g", m->in_std));
  if (m->class_names != NULL)
    {
      g_autofree char *classes = join_class_names (m->class_names);
      META ("classes", classes);
    }
  g_autoptr (GString) frozen = g_string_new (NULL);
  /* a frozen flag on a layer without parameters means nothing: not stored */
  for (int i = 0; i < m->n_layers; i++)
    if (m->layers[i]->frozen && m->layers[i]->n_w > 0)
      g_string_append_printf (frozen, "%s%d", frozen->len ? "," : "", i);
  META ("frozen", frozen->str);
  if (extra_metadata != NULL)
    {
      /* sorted, so that saving twice gives the same bytes */
      g_autofree gpointer *keys = g_hash_table_get_keys_as_array (extra_metadata, NULL);
      guint n_keys = g_hash_table_size (extra_metadata);
      qsort (keys, n_keys, sizeof (gpointer), cmp_key_ptr);
      for (guint i = 0; i < n_keys; i++)
        {
          const char *k = keys[i];
          const char *v = g_hash_table_lookup (extra_metadata, k);
          if (g_strv_contains (reserved_keys, k))
            {
              g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                           "%s: metadata key '%s' is reserved for the model itself; rename it",
                           path, k);
              return FALSE;
            }
          META (k, v != NULL ? v : "");
        }
    }
#undef META
  json_builder_end_object (jb);

  /* the tensors, in layer order */
  gsize data_bytes = 0;
  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = m->layers[i];
      FwTensorInfo ti[FW_LAYER_MAX_TENSORS];
      int nt = l->klass->tensors (l, ti);
      for (int t = 0; t < nt; t++)
        {
          g_autofree char *name = g_strdup_printf ("layers.%d.%s", i, ti[t].name);
          gsize bytes = tensor_numel (&ti[t]) * sizeof (float);
          add_tensor_entry (jb, name, "F32", ti[t].dims, ti[t].ndim, data_bytes, bytes);
          data_bytes += bytes;
        }
      FwPackedTensor pt[FW_LAYER_MAX_TENSORS];
      int np = l->klass->packed != NULL ? l->klass->packed (l, pt) : 0;
      for (int t = 0; t < np; t++)
        {
          g_autofree char *name = g_strdup_printf ("layers.%d.%s", i, pt[t].name);
          add_tensor_entry (jb, name, fw_dtype_name (pt[t].dtype), pt[t].dims, pt[t].ndim,
                            data_bytes, pt[t].bytes);
          data_bytes += pt[t].bytes;
        }
    }
  json_builder_end_object (jb);

  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (jb);
  json_generator_set_root (gen, root);
  gsize json_len = 0;
  g_autofree char *json = json_generator_to_data (gen, &json_len);
  gsize header_len = (json_len + 7) & ~(gsize) 7;

  gsize total = 8 + header_len + data_bytes;
  g_autofree guint8 *buf = g_malloc (total);
  guint64 n_le = GUINT64_TO_LE ((guint64) header_len);
  memcpy (buf, &n_le, 8);
  memcpy (buf + 8, json, json_len);
  memset (buf + 8 + json_len, ' ', header_len - json_len);
  guint8 *data = buf + 8 + header_len;
  gsize off = 0;
  for (int i = 0; i < m->n_layers; i++)
    {
      const FwLayer *l = m->layers[i];
      FwTensorInfo ti[FW_LAYER_MAX_TENSORS];
      int nt = l->klass->tensors (l, ti);
      for (int t = 0; t < nt; t++)
        {
          gsize numel = tensor_numel (&ti[t]);
          const float *src = (ti[t].trainable ? l->w : l->st) + ti[t].offset;
          copy_le_floats (data + off, src, numel);
          off += numel * sizeof (float);
        }
      FwPackedTensor pt[FW_LAYER_MAX_TENSORS];
      int np = l->klass->packed != NULL ? l->klass->packed (l, pt) : 0;
      for (int t = 0; t < np; t++)
        {
          if (pt[t].bytes > 0)
            memcpy (data + off, pt[t].data, pt[t].bytes);
          off += pt[t].bytes;
        }
    }
  g_assert (off == data_bytes);

  /* temp file in the same directory, then rename over the target */
  g_autoptr (GError) local = NULL;
  if (!g_file_set_contents_full (path, (const char *) buf, (gssize) total,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0644, &local))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "Could not save the model to %s: %s", path,
                   local->message);
      return FALSE;
    }
  return TRUE;
}

/* ---- load ---- */

typedef struct {
  gsize begin, end;
  const char *name;
} Span;

static int
span_cmp (const void *a, const void *b)
{
  const Span *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin ? 1
       : x->end < y->end ? -1 : x->end > y->end ? 1 : 0;
}

/* JsonParser replaces a repeated member silently; this records repeats as they are parsed. */
typedef struct {
  GHashTable *seen;   /* "object-pointer/name" */
  char *duplicate;    /* first repeated name */
} DupCheck;

static void
on_object_member (JsonParser *parser, JsonObject *object, const char *name, gpointer user)
{
  DupCheck *dc = user;
  char *key = g_strdup_printf ("%p/%s", (void *) object, name);
  if (!g_hash_table_add (dc->seen, key) && dc->duplicate == NULL)
    dc->duplicate = g_strdup (name);
}

#define FAIL(...) G_STMT_START { \
    g_autofree char *msg_ = g_strdup_printf (__VA_ARGS__); \
    g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "%s: %s", path, msg_); \
    return NULL; } G_STMT_END

static const char *
meta_string (JsonObject *meta, const char *key)
{
  JsonNode *n = json_object_get_member (meta, key);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

static gboolean
json_uint (JsonNode *n, guint64 *out)
{
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  gint64 v = json_node_get_int (n);
  if (v < 0)
    return FALSE;
  *out = (guint64) v;
  return TRUE;
}

static gboolean
parse_float (const char *s, float *out)
{
  if (s == NULL || *s == '\0')
    return FALSE;
  char *end = NULL;
  double v = g_ascii_strtod (s, &end);
  if (*end != '\0' || !isfinite (v))
    return FALSE;
  *out = (float) v;
  return TRUE;
}

FwModel *
fw_model_load (const char *path, GHashTable **metadata, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  if (metadata != NULL)
    *metadata = NULL;

  g_autofree char *contents = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &contents, &len, &local))
    {
      int code = g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? FW_ERROR_NOT_FOUND
                                                                            : FW_ERROR_IO;
      g_set_error (error, FW_ERROR, code, "Could not read the model %s: %s", path,
                   local->message);
      return NULL;
    }
  if (len < 8)
    FAIL ("file too short (%" G_GSIZE_FORMAT " bytes) to be a .safetensors model", len);
  guint64 n_le;
  memcpy (&n_le, contents, 8);
  guint64 hlen = GUINT64_FROM_LE (n_le);
  if (hlen > FW_ST_MAX_HEADER)
    FAIL ("header length %" G_GUINT64_FORMAT " is absurd (more than 100 MB): not a "
          ".safetensors file or corrupt", hlen);
  if (hlen > len - 8)
    FAIL ("header length %" G_GUINT64_FORMAT " is larger than the file (%" G_GSIZE_FORMAT
          " bytes): the file is truncated or not a .safetensors file", hlen, len);
  if (hlen < 2)
    FAIL ("header is empty");
  const guint8 *data = (const guint8 *) contents + 8 + hlen;
  gsize data_len = len - 8 - (gsize) hlen;

  g_autoptr (JsonParser) parser = json_parser_new ();
  DupCheck dc = { g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL), NULL };
  g_signal_connect (parser, "object-member", G_CALLBACK (on_object_member), &dc);
  gboolean parsed = json_parser_load_from_data (parser, contents + 8, (gssize) hlen, &local);
  g_hash_table_unref (dc.seen);
  g_autofree char *duplicate = dc.duplicate;
  if (!parsed)
    FAIL ("the header is not valid JSON (%s)", local->message);
  if (duplicate != NULL)
    FAIL ("the header names '%s' twice", duplicate);
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    FAIL ("the header is not a JSON object");
  JsonObject *top = json_node_get_object (root);

  /* metadata */
  JsonNode *mnode = json_object_get_member (top, "__metadata__");
  if (mnode == NULL || !JSON_NODE_HOLDS_OBJECT (mnode))
    FAIL ("no __metadata__ object: not a Frugal Workbench model (the architecture is unknown)");
  JsonObject *meta = json_node_get_object (mnode);
  g_autoptr (GHashTable) pairs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                        g_free);
  {
    g_autoptr (GList) names = json_object_get_members (meta);
    for (GList *it = names; it != NULL; it = it->next)
      {
        const char *v = meta_string (meta, it->data);
        if (v == NULL)
          FAIL ("__metadata__ key '%s' is not a string", (const char *) it->data);
        g_hash_table_insert (pairs, g_strdup (it->data), g_strdup (v));
      }
  }
  const char *format = g_hash_table_lookup (pairs, "format");
  if (format != NULL && g_strcmp0 (format, FW_ST_FORMAT) != 0)
    FAIL ("__metadata__ format is '%s', expected '%s'", format, FW_ST_FORMAT);
  const char *version = g_hash_table_lookup (pairs, "version");
  if (version != NULL && g_strcmp0 (version, FW_ST_VERSION) != 0)
    FAIL ("format version '%s' is not supported (this build reads version %s); update "
          "Frugal Workbench", version, FW_ST_VERSION);
  const char *spec = g_hash_table_lookup (pairs, "spec");
  if (spec == NULL || *spec == '\0')
    FAIL ("__metadata__ has no 'spec' (the layer list): cannot rebuild the model");
  const char *input_s = g_hash_table_lookup (pairs, "input");
  FwShape input = { 0, 0, 0 };
  {
    g_auto (GStrv) p = g_strsplit (input_s != NULL ? input_s : "", ",", -1);
    int dims[3];
    gboolean good = g_strv_length (p) == 3;
    for (int i = 0; good && i < 3; i++)
      {
        char *end = NULL;
        long v = strtol (p[i], &end, 10);
        good = end != p[i] && *end == '\0' && v >= 1 && v <= 1 << 16;
        dims[i] = (int) v;
      }
    if (!good)
      FAIL ("__metadata__ 'input' is '%s', expected \"channels,height,width\"",
            input_s != NULL ? input_s : "(missing)");
    input = (FwShape) { dims[0], dims[1], dims[2] };
  }
  const char *arch = g_hash_table_lookup (pairs, "arch");
  float in_mean = 0.0f, in_std = 1.0f;
  const char *s_mean = g_hash_table_lookup (pairs, "in_mean");
  const char *s_std = g_hash_table_lookup (pairs, "in_std");
  if (s_mean != NULL && !parse_float (s_mean, &in_mean))
    FAIL ("__metadata__ 'in_mean' is '%s', not a finite number", s_mean);
  if (s_std != NULL && (!parse_float (s_std, &in_std) || !(in_std > 0)))
    FAIL ("__metadata__ 'in_std' is '%s', not a positive number", s_std);

  g_autoptr (GError) build_error = NULL;
  /* every parameter and state float is stored in the data section: a spec that needs more
   * cannot match this file (checked before the model's memory is allocated) */
  g_autoptr (FwModel) m = fw_model_new_limited (arch != NULL ? arch : "custom", spec, input,
                                                data_len / sizeof (float), &build_error);
  if (m == NULL && g_error_matches (build_error, FW_ERROR, FW_ERROR_FORMAT))
    FAIL ("%s: the data section (%" G_GSIZE_FORMAT " bytes) is out of range of what the spec "
          "'%s' stores — the file is truncated or corrupt", build_error->message, data_len,
          spec);
  if (m == NULL)
    FAIL ("the stored spec does not build a model: %s", build_error->message);
  m->in_mean = in_mean;
  m->in_std = in_std;

  const char *classes = g_hash_table_lookup (pairs, "classes");
  if (classes != NULL)
    {
      char **names = split_class_names (classes);
      if ((int) g_strv_length (names) != m->n_classes)
        {
          int got = (int) g_strv_length (names);
          g_strfreev (names);
          FAIL ("__metadata__ 'classes' lists %d names but the model has %d outputs", got,
                m->n_classes);
        }
      m->class_names = names;
    }
  const char *frozen = g_hash_table_lookup (pairs, "frozen");
  if (frozen != NULL && *frozen != '\0')
    {
      g_auto (GStrv) p = g_strsplit (frozen, ",", -1);
      for (int i = 0; p[i] != NULL; i++)
        {
          char *end = NULL;
          long v = strtol (p[i], &end, 10);
          if (end == p[i] || *end != '\0' || v < 0 || v >= m->n_layers)
            FAIL ("__metadata__ 'frozen' is '%s': '%s' is not a layer index in [0, %d)",
                  frozen, p[i], m->n_layers);
          m->layers[v]->frozen = TRUE;
        }
    }

  /* tensors: every declared one exactly once, F32, right shape, inside the data section */
  guint n_members = json_object_get_size (top);
  g_autofree Span *spans = g_new0 (Span, MAX (n_members, 1));
  guint n_spans = 0;
  g_autoptr (GHashTable) expected = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                           NULL);
  for (int i = 0; i < m->n_layers; i++)
    {
      FwLayer *l = m->layers[i];
      FwTensorInfo ti[FW_LAYER_MAX_TENSORS];
      int nt = l->klass->tensors (l, ti);
      for (int t = 0; t < nt; t++)
        {
          char *name = g_strdup_printf ("layers.%d.%s", i, ti[t].name);
          g_hash_table_add (expected, name);
          JsonNode *tn = json_object_get_member (top, name);
          if (tn == NULL)
            FAIL ("tensor '%s' is missing (the spec '%s' needs it)", name, spec);
          if (!JSON_NODE_HOLDS_OBJECT (tn))
            FAIL ("tensor '%s' is not a JSON object", name);
          JsonObject *to = json_node_get_object (tn);
          const char *dtype = meta_string (to, "dtype");
          if (dtype == NULL)
            FAIL ("tensor '%s' has no dtype", name);
          if (strcmp (dtype, "F32") != 0)
            FAIL ("wrong dtype %s for tensor '%s' (only F32 is supported)", dtype, name);
          JsonNode *sn = json_object_get_member (to, "shape");
          if (sn == NULL || !JSON_NODE_HOLDS_ARRAY (sn))
            FAIL ("tensor '%s' has no shape array", name);
          JsonArray *sa = json_node_get_array (sn);
          gboolean same = (int) json_array_get_length (sa) == ti[t].ndim;
          for (int d = 0; same && d < ti[t].ndim; d++)
            {
              guint64 v;
              same = json_uint (json_array_get_element (sa, d), &v)
                     && v == (guint64) ti[t].dims[d];
            }
          if (!same)
            {
              g_autoptr (GString) want = g_string_new ("[");
              for (int d = 0; d < ti[t].ndim; d++)
                g_string_append_printf (want, "%s%d", d ? "," : "", ti[t].dims[d]);
              g_string_append_c (want, ']');
              g_autoptr (JsonGenerator) g = json_generator_new ();
              json_generator_set_root (g, sn);
              g_autofree char *got = json_generator_to_data (g, NULL);
              FAIL ("tensor '%s' has shape %s, the architecture needs %s", name, got,
                    want->str);
            }
          JsonNode *on = json_object_get_member (to, "data_offsets");
          guint64 b, e;
          if (on == NULL || !JSON_NODE_HOLDS_ARRAY (on)
              || json_array_get_length (json_node_get_array (on)) != 2
              || !json_uint (json_array_get_element (json_node_get_array (on), 0), &b)
              || !json_uint (json_array_get_element (json_node_get_array (on), 1), &e))
            FAIL ("tensor '%s' has no valid data_offsets [begin, end]", name);
          gsize bytes = tensor_numel (&ti[t]) * sizeof (float);
          if (e < b || e - b != bytes)
            FAIL ("tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                  "] span %" G_GINT64_FORMAT " bytes, its shape needs %" G_GSIZE_FORMAT, name, b,
                  e, (gint64) e - (gint64) b, bytes);
          if (e > data_len)
            FAIL ("tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                  "] are out of range (the data section has %" G_GSIZE_FORMAT " bytes): the "
                  "file is truncated or corrupt", name, b, e, data_len);
          spans[n_spans++] = (Span) { b, e, name };
          float *dst = (ti[t].trainable ? l->w : l->st) + ti[t].offset;
          copy_le_floats (dst, data + b, tensor_numel (&ti[t]));
        }
      /* packed storage: names and dtypes from the layer, dims from the file */
      FwPackedTensor pt[FW_LAYER_MAX_TENSORS];
      int np = l->klass->packed != NULL && l->klass->unpack != NULL ? l->klass->packed (l, pt)
                                                                     : 0;
      for (int t = 0; t < np; t++)
        {
          char *name = g_strdup_printf ("layers.%d.%s", i, pt[t].name);
          g_hash_table_add (expected, name);
          JsonNode *tn = json_object_get_member (top, name);
          if (tn == NULL)
            FAIL ("tensor '%s' is missing (the spec '%s' needs it)", name, spec);
          if (!JSON_NODE_HOLDS_OBJECT (tn))
            FAIL ("tensor '%s' is not a JSON object", name);
          JsonObject *to = json_node_get_object (tn);
          const char *dtype = meta_string (to, "dtype");
          if (g_strcmp0 (dtype, fw_dtype_name (pt[t].dtype)) != 0)
            FAIL ("wrong dtype %s for tensor '%s' (the layer stores %s)",
                  dtype != NULL ? dtype : "(none)", name, fw_dtype_name (pt[t].dtype));
          JsonNode *sn = json_object_get_member (to, "shape");
          if (sn == NULL || !JSON_NODE_HOLDS_ARRAY (sn))
            FAIL ("tensor '%s' has no shape array", name);
          JsonArray *sa = json_node_get_array (sn);
          guint ndim = json_array_get_length (sa);
          if (ndim > FW_TENSOR_MAX_DIMS)
            FAIL ("tensor '%s' has %u dimensions (at most %d)", name, ndim, FW_TENSOR_MAX_DIMS);
          guint64 numel = 1;
          for (guint d = 0; d < ndim; d++)
            {
              guint64 v;
              if (!json_uint (json_array_get_element (sa, d), &v) || v > G_MAXINT32)
                FAIL ("tensor '%s' has an invalid shape", name);
              pt[t].dims[d] = (int) v;
              numel = v == 0 ? 0 : (numel > G_MAXUINT64 / v ? G_MAXUINT64 : numel * v);
            }
          pt[t].ndim = (int) ndim;
          JsonNode *on = json_object_get_member (to, "data_offsets");
          guint64 b, e;
          if (on == NULL || !JSON_NODE_HOLDS_ARRAY (on)
              || json_array_get_length (json_node_get_array (on)) != 2
              || !json_uint (json_array_get_element (json_node_get_array (on), 0), &b)
              || !json_uint (json_array_get_element (json_node_get_array (on), 1), &e))
            FAIL ("tensor '%s' has no valid data_offsets [begin, end]", name);
          if (e < b || numel > data_len || e - b != numel * fw_dtype_size (pt[t].dtype))
            FAIL ("tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                  "] do not match its shape and dtype %s", name, b, e, dtype);
          if (e > data_len)
            FAIL ("tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                  "] are out of range (the data section has %" G_GSIZE_FORMAT " bytes): the "
                  "file is truncated or corrupt", name, b, e, data_len);
          spans[n_spans++] = (Span) { b, e, name };
          pt[t].data = data + b;
          pt[t].bytes = (gsize) (e - b);
        }
      if (np > 0)
        {
          g_autoptr (GError) unpack_error = NULL;
          if (!l->klass->unpack (l, pt, np, &unpack_error))
            FAIL ("layer %d (%s): %s", i, l->klass->name, unpack_error->message);
        }
    }
  {
    g_autoptr (GList) names = json_object_get_members (top);
    for (GList *it = names; it != NULL; it = it->next)
      if (strcmp (it->data, "__metadata__") != 0
          && !g_hash_table_contains (expected, it->data))
        FAIL ("unexpected tensor '%s': the spec '%s' has no such tensor",
              (const char *) it->data, spec);
  }
  /* the tensors tile [0, data_len) exactly: sorted, each starts where the previous ended */
  qsort (spans, n_spans, sizeof (Span), span_cmp);
  gsize pos = 0;
  for (guint i = 0; i < n_spans; i++)
    {
      if (spans[i].begin < pos)
        FAIL ("tensors '%s' and '%s' overlap in the data section", spans[i - 1].name,
              spans[i].name);
      if (spans[i].begin > pos)
        FAIL ("bytes [%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT ") of the data section belong to "
              "no tensor", pos, spans[i].begin);
      pos = spans[i].end;
    }
  if (pos != data_len)
    FAIL ("the data section has %" G_GSIZE_FORMAT " bytes but the tensors cover %"
          G_GSIZE_FORMAT ": trailing bytes", data_len, pos);

  if (metadata != NULL)
    *metadata = g_steal_pointer (&pairs);
  return g_steal_pointer (&m);
}
