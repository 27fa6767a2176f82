/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests of engine/nn/fw-safetensors.c: bit-exact round trips, the header read back by an
 * independent parser, every kind of damaged file refused with FW_ERROR_FORMAT naming the file,
 * atomic saving, metadata pairs. */
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-safetensors.h"
#include "fw-test-util.h"

static FwModel *
small_mlp (void)
{
  g_autoptr (GError) error = NULL;
  FwShape in = { 1, 8, 8 };
  g_autofree char *spec = fw_model_arch_spec ("mlp", "16,8", in, 3, &error);
  g_assert_no_error (error);
  FwModel *m = fw_model_new ("mlp", spec, in, &error);
  g_assert_no_error (error);
  fw_model_init (m, 17);
  m->in_mean = 0.2860f;
  m->in_std = 0.3530f;
  const char *names[] = { "T-shirt/top", "a, b \\ c", "Ankle boot", NULL };
  m->class_names = g_strdupv ((char **) names);
  m->layers[1]->frozen = TRUE;
  return m;
}

static GBytes *
read_bytes (const char *path)
{
  char *contents = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  return g_bytes_new_take (contents, len);
}

static void
assert_same_model (const FwModel *a, const FwModel *b)
{
  g_assert_cmpstr (a->arch, ==, b->arch);
  g_assert_cmpstr (a->spec, ==, b->spec);
  g_assert_cmpint (a->input.c, ==, b->input.c);
  g_assert_cmpint (a->input.h, ==, b->input.h);
  g_assert_cmpint (a->input.w, ==, b->input.w);
  g_assert_cmpint (a->n_classes, ==, b->n_classes);
  g_assert_cmpmem (&a->in_mean, sizeof (float), &b->in_mean, sizeof (float));
  g_assert_cmpmem (&a->in_std, sizeof (float), &b->in_std, sizeof (float));
  g_assert_cmpuint (a->n_params, ==, b->n_params);
  g_assert_cmpuint (a->n_state, ==, b->n_state);
  g_assert_cmpmem (a->params, sizeof (float) * a->n_params, b->params,
                   sizeof (float) * b->n_params);
  g_assert_cmpmem (a->state, sizeof (float) * a->n_state, b->state, sizeof (float) * b->n_state);
  g_assert_cmpint (a->n_layers, ==, b->n_layers);
  for (int i = 0; i < a->n_layers; i++)
    g_assert_cmpint (a->layers[i]->frozen, ==, b->layers[i]->frozen);
  if (a->class_names == NULL)
    g_assert_null (b->class_names);
  else
    g_assert_true (g_strv_equal ((const char *const *) a->class_names,
                                 (const char *const *) b->class_names));
}

static void
round_trip (FwModel *m)
{
  const char *dir = fw_test_tmpdir ();
  g_autofree char *p1 = g_build_filename (dir, "a.safetensors", NULL);
  g_autofree char *p2 = g_build_filename (dir, "b.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_model_save (m, p1, NULL, &error));
  g_assert_no_error (error);
  g_autoptr (FwModel) back = fw_model_load (p1, NULL, &error);
  g_assert_no_error (error);
  assert_same_model (m, back);
  /* the reloaded model saves to the same bytes */
  g_assert_true (fw_model_save (back, p2, NULL, &error));
  g_autoptr (GBytes) b1 = read_bytes (p1);
  g_autoptr (GBytes) b2 = read_bytes (p2);
  g_assert_true (g_bytes_equal (b1, b2));
  /* and so does saving the original again over the first file */
  g_assert_true (fw_model_save (m, p1, NULL, &error));
  g_autoptr (GBytes) b3 = read_bytes (p1);
  g_assert_true (g_bytes_equal (b1, b3));
  /* the reloaded model computes the same logits */
  FwRng rng;
  fw_rng_init (&rng, 3);
  gsize in = fw_shape_size (m->input);
  g_autofree float *x = g_new (float, 4 * in);
  fw_test_fill_uniform (x, 4 * in, 0, 1, &rng);
  gsize k = (gsize) m->n_classes;
  g_autofree float *y1 = g_memdup2 (fw_model_forward (m, x, 4, FALSE), sizeof (float) * 4 * k);
  const float *y2 = fw_model_forward (back, x, 4, FALSE);
  g_assert_cmpmem (y1, sizeof (float) * 4 * k, y2, sizeof (float) * 4 * k);
}

static void
test_round_trip_mlp (void)
{
  g_autoptr (FwModel) m = small_mlp ();
  round_trip (m);
  /* without class names and with nothing frozen */
  g_clear_pointer (&m->class_names, g_strfreev);
  m->layers[1]->frozen = FALSE;
  round_trip (m);
}

static void
test_round_trip_conv (void)
{
  if (fw_layer_class_lookup ("conv") == NULL)
    {
      g_test_skip ("no conv layer kind in this build");
      return;
    }
  /* batch-norm brings non-trainable state when it exists */
  gboolean bn = fw_layer_class_lookup ("bn") != NULL;
  gboolean pool = fw_layer_class_lookup ("maxpool") != NULL;
  g_autofree char *spec = g_strdup_printf ("conv:4:3:1:1,%srelu,%sconv:6:3,relu,flatten,dense:5",
                                           bn ? "bn," : "", pool ? "maxpool:2," : "");
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new ("custom", spec, (FwShape) { 2, 10, 10 }, &error);
  g_assert_no_error (error);
  fw_model_init (m, 5);
  /* non-trivial state: whatever init put there, perturbed */
  for (gsize i = 0; i < m->n_state; i++)
    m->state[i] += 0.01f * (float) (i + 1);
  m->in_mean = 0.1f;
  m->in_std = 0.7f;
  round_trip (m);
}

/* The header read back with json-glib by the test itself. */
static void
test_header_independent_parse (void)
{
  g_autoptr (FwModel) m = small_mlp ();
  m->layers[0]->frozen = TRUE; /* flatten: no parameters, the flag is not stored */
  const char *dir = fw_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "m.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_model_save (m, path, NULL, &error));
  g_autoptr (GBytes) bytes = read_bytes (path);
  gsize len;
  const guint8 *b = g_bytes_get_data (bytes, &len);
  guint64 n = 0;
  for (int i = 7; i >= 0; i--)
    n = (n << 8) | b[i]; /* little-endian u64 */
  g_assert_cmpuint (n % 8, ==, 0);
  g_assert_cmpuint (8 + n, <=, len);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, (const char *) b + 8, (gssize) n, &error));
  g_assert_no_error (error);
  JsonObject *top = json_node_get_object (json_parser_get_root (parser));
  JsonObject *meta = json_object_get_object_member (top, "__metadata__");
  g_assert_cmpstr (json_object_get_string_member (meta, "format"), ==, "frugal-workbench");
  g_assert_cmpstr (json_object_get_string_member (meta, "arch"), ==, "mlp");
  g_assert_cmpstr (json_object_get_string_member (meta, "spec"), ==, m->spec);
  g_assert_cmpstr (json_object_get_string_member (meta, "input"), ==, "1,8,8");
  g_assert_cmpstr (json_object_get_string_member (meta, "frozen"), ==, "1");
  g_assert_cmpfloat ((float) g_ascii_strtod (json_object_get_string_member (meta, "in_mean"),
                                             NULL), ==, 0.2860f);
  /* layer 1 is the first dense (flatten is layer 0): weight [16 x 64] */
  JsonObject *t = json_object_get_object_member (top, "layers.1.weight");
  g_assert_nonnull (t);
  g_assert_cmpstr (json_object_get_string_member (t, "dtype"), ==, "F32");
  JsonArray *shape = json_object_get_array_member (t, "shape");
  g_assert_cmpuint (json_array_get_length (shape), ==, 2);
  g_assert_cmpint (json_array_get_int_element (shape, 0), ==, 16);
  g_assert_cmpint (json_array_get_int_element (shape, 1), ==, 64);
  JsonArray *off = json_object_get_array_member (t, "data_offsets");
  gint64 begin = json_array_get_int_element (off, 0), end = json_array_get_int_element (off, 1);
  g_assert_cmpint (end - begin, ==, 16 * 64 * 4);
  g_assert_cmpuint (8 + n + (guint64) end, <=, len);
  /* first values, decoded as little-endian floats */
  for (int i = 0; i < 5; i++)
    {
      const guint8 *p = b + 8 + n + begin + 4 * i;
      guint32 u = (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16
                  | (guint32) p[3] << 24;
      float v;
      memcpy (&v, &u, 4);
      g_assert_cmpmem (&v, 4, &m->layers[1]->w[i], 4);
    }
  /* the bias follows; the last tensor ends at the end of the file */
  JsonObject *last = json_object_get_object_member (top, "layers.5.bias");
  g_assert_nonnull (last);
  gint64 last_end = json_array_get_int_element (json_object_get_array_member (last,
                                                                              "data_offsets"), 1);
  g_assert_cmpuint (8 + n + (guint64) last_end, ==, len);
}

/* ---- damaged files ---- */

typedef struct {
  GBytes *good;        /* a valid file */
  guint64 n;           /* its header length */
  JsonObject *top;     /* its parsed header */
  JsonParser *parser;
} Sample;

static void
sample_load (Sample *s, const char *path)
{
  s->good = read_bytes (path);
  const guint8 *b = g_bytes_get_data (s->good, NULL);
  s->n = 0;
  for (int i = 7; i >= 0; i--)
    s->n = (s->n << 8) | b[i];
  s->parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (s->parser, (const char *) b + 8, (gssize) s->n,
                                             NULL));
  s->top = json_node_get_object (json_parser_get_root (s->parser));
}

/* Writes 8-byte length + header text (padded) + data[data_len] to path. */
static void
write_file (const char *path, const char *header, const guint8 *data, gsize data_len)
{
  gsize hl = strlen (header), padded = (hl + 7) & ~(gsize) 7;
  g_autofree guint8 *buf = g_malloc (8 + padded + data_len);
  for (int i = 0; i < 8; i++)
    buf[i] = (guint8) ((guint64) padded >> (8 * i));
  memcpy (buf + 8, header, hl);
  memset (buf + 8 + hl, ' ', padded - hl);
  if (data_len > 0)
    memcpy (buf + 8 + padded, data, data_len);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, (const char *) buf, (gssize) (8 + padded + data_len),
                                      &error));
}

static char *
object_to_string (JsonObject *o)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, o);
  g_autoptr (JsonGenerator) g = json_generator_new ();
  json_generator_set_root (g, node);
  return json_generator_to_data (g, NULL);
}

/* A deep copy (json_node_copy shares the object), through text. */
static JsonObject *
copy_object (JsonObject *o)
{
  g_autofree char *text = object_to_string (o);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, text, -1, NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (p)));
}

static void
assert_format_error (const char *path, const char *what, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_load (path, NULL, &error);
  if (m != NULL)
    g_test_message ("case '%s' was accepted", what);
  g_assert_null (m);
  g_assert_error (error, FW_ERROR, FW_ERROR_FORMAT);
  g_test_message ("%s: %s", what, error->message);
  g_assert_true (g_str_has_prefix (error->message, path));
  if (needle != NULL && strstr (error->message, needle) == NULL)
    g_test_message ("case '%s': '%s' not in the message", what, needle);
  if (needle != NULL)
    g_assert_nonnull (strstr (error->message, needle));
}

typedef enum {
  MUT_NO_METADATA, MUT_NO_SPEC, MUT_F16, MUT_SHAPE, MUT_OVERLAP, MUT_MISSING, MUT_EXTRA,
  MUT_BAD_SPEC, MUT_BAD_INPUT, MUT_OFFSET_SIZE, MUT_BAD_CLASSES,
} Mutation;

static void
test_corrupt_files_refused (void)
{
  g_autoptr (FwModel) m = small_mlp ();
  const char *dir = fw_test_tmpdir ();
  g_autofree char *good = g_build_filename (dir, "good.safetensors", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_model_save (m, good, NULL, &error));
  Sample s;
  sample_load (&s, good);
  gsize len;
  const guint8 *b = g_bytes_get_data (s.good, &len);
  const guint8 *data = b + 8 + s.n;
  gsize data_len = len - 8 - s.n;
  g_autofree char *header = g_strndup ((const char *) b + 8, s.n);

  /* byte-level damage */
  g_assert_true (g_file_set_contents (bad, (const char *) b, 5, NULL));
  assert_format_error (bad, "too short", "too short");
  {
    g_autofree guint8 *c = g_memdup2 (b, len);
    c[5] = 0x01; /* N ~ 2^40 */
    g_assert_true (g_file_set_contents (bad, (const char *) c, (gssize) len, NULL));
    assert_format_error (bad, "absurd N", "absurd");
    memcpy (c, b, 8);
    guint64 big = GUINT64_TO_LE ((guint64) len); /* more than the file holds */
    memcpy (c, &big, 8);
    g_assert_true (g_file_set_contents (bad, (const char *) c, (gssize) len, NULL));
    assert_format_error (bad, "N past the end", "larger than the file");
  }
  write_file (bad, "{\"__metadata__\": {\"spec\": ", data, data_len);
  assert_format_error (bad, "JSON syntax", "not valid JSON");
  write_file (bad, "[1, 2, 3]", data, data_len);
  assert_format_error (bad, "JSON array", "not a JSON object");
  write_file (bad, header, data, data_len - 4);
  assert_format_error (bad, "truncated data", "out of range");
  {
    g_autofree guint8 *more = g_malloc0 (data_len + 8);
    memcpy (more, data, data_len);
    write_file (bad, header, more, data_len + 8);
    assert_format_error (bad, "trailing bytes", "trailing");
  }
  {
    /* a tensor named twice: splice a copy of one member right after the opening brace */
    JsonObject *t = json_object_get_object_member (s.top, "layers.3.bias");
    g_autofree char *tj = object_to_string (t);
    g_autofree char *dup = g_strdup_printf ("{\"layers.3.bias\": %s, %s", tj, header + 1);
    write_file (bad, dup, data, data_len);
    assert_format_error (bad, "duplicate tensor", "twice");
  }

  /* header-level damage, one mutation at a time on a copy of the header */
  static const struct {
    Mutation mut;
    const char *what, *needle;
  } cases[] = {
    { MUT_NO_METADATA, "no __metadata__", "__metadata__" },
    { MUT_NO_SPEC, "no spec", "spec" },
    { MUT_F16, "F16 tensor", "wrong dtype F16" },
    { MUT_SHAPE, "wrong shape", "shape" },
    { MUT_OVERLAP, "overlapping offsets", "overlap" },
    { MUT_MISSING, "missing tensor", "missing" },
    { MUT_EXTRA, "extra tensor", "unexpected tensor" },
    { MUT_BAD_SPEC, "unknown layer in spec", "spec" },
    { MUT_BAD_INPUT, "bad input shape", "input" },
    { MUT_OFFSET_SIZE, "offsets of the wrong size", "data_offsets" },
    { MUT_BAD_CLASSES, "class count", "classes" },
  };
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (JsonObject) top = copy_object (s.top);
      JsonObject *meta = json_object_get_object_member (top, "__metadata__");
      switch (cases[c].mut)
        {
        case MUT_NO_METADATA:
          json_object_remove_member (top, "__metadata__");
          break;
        case MUT_NO_SPEC:
          json_object_remove_member (meta, "spec");
          break;
        case MUT_F16:
          json_object_set_string_member (json_object_get_object_member (top, "layers.1.weight"),
                                         "dtype", "F16");
          break;
        case MUT_SHAPE:
          {
            JsonArray *sh = json_object_get_array_member (
              json_object_get_object_member (top, "layers.1.weight"), "shape");
            json_array_remove_element (sh, 1);
            json_array_add_int_element (sh, 63);
          }
          break;
        case MUT_OVERLAP:
          {
            /* bias of layer 1 points at the start of its weight, same size */
            JsonArray *o = json_object_get_array_member (
              json_object_get_object_member (top, "layers.1.bias"), "data_offsets");
            json_array_remove_element (o, 1);
            json_array_remove_element (o, 0);
            json_array_add_int_element (o, 0);
            json_array_add_int_element (o, 16 * 4);
          }
          break;
        case MUT_MISSING:
          json_object_remove_member (top, "layers.5.bias");
          break;
        case MUT_EXTRA:
          json_object_set_object_member (
            top, "layers.9.weight",
            json_object_ref (json_object_get_object_member (top, "layers.5.bias")));
          break;
        case MUT_BAD_SPEC:
          json_object_set_string_member (meta, "spec", "flatten,warp:3");
          break;
        case MUT_BAD_INPUT:
          json_object_set_string_member (meta, "input", "1,8");
          break;
        case MUT_OFFSET_SIZE:
          {
            JsonArray *o = json_object_get_array_member (
              json_object_get_object_member (top, "layers.5.bias"), "data_offsets");
            gint64 e = json_array_get_int_element (o, 1);
            json_array_remove_element (o, 1);
            json_array_add_int_element (o, e - 4);
          }
          break;
        case MUT_BAD_CLASSES:
          json_object_set_string_member (meta, "classes", "a,b");
          break;
        }
      g_autofree char *h = object_to_string (top);
      write_file (bad, h, data, data_len);
      assert_format_error (bad, cases[c].what, cases[c].needle);
    }

  /* the untouched copy still loads: the cases above failed for their own reason */
  {
    g_autofree char *h = object_to_string (s.top);
    write_file (bad, h, data, data_len);
    g_autoptr (FwModel) ok = fw_model_load (bad, NULL, &error);
    g_assert_no_error (error);
    assert_same_model (m, ok);
  }

  /* a missing file is NOT_FOUND, not a format problem */
  g_autofree char *nowhere = g_build_filename (dir, "nowhere.safetensors", NULL);
  g_autoptr (FwModel) none = fw_model_load (nowhere, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, FW_ERROR, FW_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, nowhere));

  g_bytes_unref (s.good);
  g_object_unref (s.parser);
}

static void
test_failed_save_leaves_nothing (void)
{
  g_autoptr (FwModel) m = small_mlp ();
  const char *dir = fw_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "no-such-dir", "m.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_false (fw_model_save (m, path, NULL, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_IO);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_null (g_dir_read_name (d)); /* no temporary left behind either */
  g_clear_error (&error);

  /* an existing model is not damaged by a failed save (reserved metadata key) */
  g_autofree char *good = g_build_filename (dir, "m.safetensors", NULL);
  g_assert_true (fw_model_save (m, good, NULL, &error));
  g_autoptr (GBytes) before = read_bytes (good);
  g_autoptr (GHashTable) extra = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (extra, "spec", "dense:3");
  g_assert_false (fw_model_save (m, good, extra, &error));
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "spec"));
  g_autoptr (GBytes) after = read_bytes (good);
  g_assert_true (g_bytes_equal (before, after));
}

static void
test_metadata_pairs_come_back (void)
{
  g_autoptr (FwModel) m = small_mlp ();
  const char *dir = fw_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "m.safetensors", NULL);
  g_autoptr (GHashTable) extra = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (extra, "recipe", "[train]\nepochs=3\n");
  g_hash_table_insert (extra, "test_accuracy", "0.8626");
  g_hash_table_insert (extra, "note", "\"quoted\" \xc3\xa9t\xc3\xa9");
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_model_save (m, path, extra, &error));
  g_autoptr (GHashTable) meta = NULL;
  g_autoptr (FwModel) back = fw_model_load (path, &meta, &error);
  g_assert_no_error (error);
  g_assert_nonnull (meta);
  g_assert_cmpstr (g_hash_table_lookup (meta, "recipe"), ==, "[train]\nepochs=3\n");
  g_assert_cmpstr (g_hash_table_lookup (meta, "test_accuracy"), ==, "0.8626");
  g_assert_cmpstr (g_hash_table_lookup (meta, "note"), ==, "\"quoted\" \xc3\xa9t\xc3\xa9");
  g_assert_cmpstr (g_hash_table_lookup (meta, "format"), ==, "frugal-workbench");
  g_assert_cmpstr (g_hash_table_lookup (meta, "arch"), ==, "mlp");
  g_assert_cmpstr (g_hash_table_lookup (meta, "classes"), ==,
                   "T-shirt/top,a\\, b \\\\ c,Ankle boot");
  /* the same extra pairs, inserted in another order, give the same bytes */
  g_autoptr (GHashTable) extra2 = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (extra2, "note", "\"quoted\" \xc3\xa9t\xc3\xa9");
  g_hash_table_insert (extra2, "test_accuracy", "0.8626");
  g_hash_table_insert (extra2, "recipe", "[train]\nepochs=3\n");
  g_autofree char *path2 = g_build_filename (dir, "m2.safetensors", NULL);
  g_assert_true (fw_model_save (m, path2, extra2, &error));
  g_autoptr (GBytes) b1 = read_bytes (path);
  g_autoptr (GBytes) b2 = read_bytes (path2);
  g_assert_true (g_bytes_equal (b1, b2));
  /* ... because the extra keys are written in strcmp order (string literals' addresses, which
   * a comparator on the pointers would sort by, need not be in that order) */
  gsize len = 0;
  const char *raw = g_bytes_get_data (b1, &len);
  const char *keys[] = { "\"note\"", "\"recipe\"", "\"test_accuracy\"" };
  const char *prev = NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      /* past the 8-byte length, which holds NUL bytes */
      const char *at = memmem (raw + 8, len - 8, keys[i], strlen (keys[i]));
      g_assert_nonnull (at);
      if (prev != NULL)
        g_assert_true (at > prev);
      prev = at;
    }
}

/* a tiny file whose spec asks for a huge model is refused before its memory is allocated
 * (a hostile file must not take the machine down); so is a spec too large for any file */
static void
test_huge_spec_refused_early (void)
{
  const char *dir = fw_test_tmpdir ();
  g_autofree char *bad = g_build_filename (dir, "huge.safetensors", NULL);
  /* 784 x 1e6 weights = 3 GB for a file of 64 data bytes */
  write_file (bad, "{\"__metadata__\":{\"spec\":\"flatten,dense:1000000\",\"input\":"
              "\"1,28,28\"}}", (const guint8 *) "0123456789abcdef0123456789abcdef"
              "0123456789abcdef0123456789abcdef", 64);
  assert_format_error (bad, "huge spec", "parameters but only 16 are available");
  /* an input of 65536 x 65536 x 16 floats per sample */
  write_file (bad, "{\"__metadata__\":{\"spec\":\"flatten,dense:2\",\"input\":"
              "\"16,65536,65536\"}}", NULL, 0);
  assert_format_error (bad, "huge input", "too large");
  g_autoptr (GError) error = NULL;
  g_autoptr (FwModel) m = fw_model_new ("custom", "flatten,dense:65536,dense:65536",
                                        (FwShape) { 1, 28, 28 }, &error);
  g_assert_null (m);
  g_assert_error (error, FW_ERROR, FW_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "too large"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Safetensors/round_trip_mlp_bit_exact", test_round_trip_mlp);
  g_test_add_func ("/Safetensors/huge_spec_refused_before_allocating",
                   test_huge_spec_refused_early);
  g_test_add_func ("/Safetensors/round_trip_conv_bit_exact", test_round_trip_conv);
  g_test_add_func ("/Safetensors/header_parses_independently", test_header_independent_parse);
  g_test_add_func ("/Safetensors/corrupt_files_refused_naming_the_file",
                   test_corrupt_files_refused);
  g_test_add_func ("/Safetensors/failed_save_leaves_nothing", test_failed_save_leaves_nothing);
  g_test_add_func ("/Safetensors/metadata_pairs_come_back", test_metadata_pairs_come_back);
  return g_test_run ();
}
