/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-packed.c: packed tensors (FwLayerClass.packed/unpack) through save, load and copy.
 *
 * A test-only layer kind "i8mat:OUT" stores its weight as int8 codes [OUT x IN] plus one F32
 * scale, y = scale * codes . x, registered with fw_layer_class_register(). The file written
 * must hold exactly those bytes (I8 and F32 entries in the header), load back to the same
 * outputs, and a file whose packed tensor has the wrong dtype or size must be refused. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "fw-error.h"
#include "fw-safetensors.h"
#include "fw-test-util.h"

typedef struct {
  gint8 *codes;   /* [out x in] */
  float scale;
} I8Mat;

static gboolean
i8_setup (FwLayer *l, char **args, int n_args, GError **error)
{
  int out;
  if (!fw_layer_parse_int (l, args, n_args, 0, -1, 1, 4096, &out, error))
    return FALSE;
  l->out = (FwShape) { out, 1, 1 };
  I8Mat *p = g_new0 (I8Mat, 1);
  p->codes = g_new0 (gint8, (gsize) out * fw_shape_size (l->in));
  l->priv = p;
  return TRUE;
}

static void
i8_forward (FwLayer *l, const float *x, float *y, int n, gboolean train)
{
  const I8Mat *p = l->priv;
  int in = (int) fw_shape_size (l->in), out = l->out.c;
  for (int s = 0; s < n; s++)
    for (int o = 0; o < out; o++)
      {
        float acc = 0;
        for (int i = 0; i < in; i++)
          acc += p->codes[o * in + i] * x[s * in + i];
        y[s * out + o] = p->scale * acc;
      }
}

static double
i8_flops (const FwLayer *l)
{
  return 2.0 * l->out.c * (double) fw_shape_size (l->in);
}

static char *
i8_spec (const FwLayer *l)
{
  return g_strdup_printf ("i8mat:%d", l->out.c);
}

static void
i8_finalize (FwLayer *l)
{
  I8Mat *p = l->priv;
  g_free (p->codes);
  g_free (p);
}

static int
i8_packed (const FwLayer *l, FwPackedTensor *out)
{
  const I8Mat *p = l->priv;
  int in = (int) fw_shape_size (l->in);
  out[0] = (FwPackedTensor) { "codes", FW_DTYPE_I8, 2, { l->out.c, in }, p->codes,
                              (gsize) l->out.c * in };
  out[1] = (FwPackedTensor) { "scale", FW_DTYPE_F32, 1, { 1 }, &p->scale, sizeof (float) };
  return 2;
}

static gboolean
i8_unpack (FwLayer *l, const FwPackedTensor *in, int n, GError **error)
{
  I8Mat *p = l->priv;
  gsize want = (gsize) l->out.c * fw_shape_size (l->in);
  if (n != 2 || in[0].bytes != want || in[1].bytes != sizeof (float))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "codes must hold %" G_GSIZE_FORMAT
                   " bytes and scale one float", want);
      return FALSE;
    }
  memcpy (p->codes, in[0].data, want);
  memcpy (&p->scale, in[1].data, sizeof (float));
  return TRUE;
}

static const FwLayerClass test_i8mat = {
  .name = "i8mat",
  .help = "i8mat:OUT  test-only int8 matrix",
  .setup = i8_setup,
  .forward = i8_forward,
  .flops = i8_flops,
  .tensors = fw_layer_no_tensors,
  .spec = i8_spec,
  .finalize = i8_finalize,
  .packed = i8_packed,
  .unpack = i8_unpack,
};

/* a model flatten -> dense:5 -> i8mat:3 with random weights and random int8 codes */
static FwModel *
make_model (void)
{
  g_autoptr (GError) error = NULL;
  FwModel *m = fw_model_new ("custom", "flatten,dense:5,i8mat:3", (FwShape) { 1, 2, 3 },
                             &error);
  g_assert_no_error (error);
  fw_model_init (m, 7);
  I8Mat *p = m->layers[2]->priv;
  FwRng rng;
  fw_rng_init (&rng, 99);
  for (int i = 0; i < 3 * 5; i++)
    p->codes[i] = (gint8) ((int) (fw_rng_uniform (&rng) * 255.0) - 127);
  p->scale = 0.03125f;
  return m;
}

static void
test_round_trip (void)
{
  g_autoptr (FwModel) m = make_model ();
  g_autofree char *path = g_build_filename (fw_test_tmpdir (), "packed.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (fw_model_save (m, path, NULL, &error));
  g_assert_no_error (error);

  /* the file: 8 + header + dense (5x6 + 5 floats) + 15 int8 codes + 1 float */
  g_autofree char *contents = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  guint64 hlen;
  memcpy (&hlen, contents, 8);
  hlen = GUINT64_FROM_LE (hlen);
  g_assert_cmpuint (len, ==, 8 + hlen + (30 + 5) * 4 + 15 + 4);
  g_autoptr (JsonParser) jp = json_parser_new ();
  g_assert_true (json_parser_load_from_data (jp, contents + 8, (gssize) hlen, NULL));
  JsonObject *top = json_node_get_object (json_parser_get_root (jp));
  JsonObject *codes = json_object_get_object_member (top, "layers.2.codes");
  g_assert_nonnull (codes);
  g_assert_cmpstr (json_object_get_string_member (codes, "dtype"), ==, "I8");
  JsonArray *off = json_object_get_array_member (codes, "data_offsets");
  gsize b = (gsize) json_array_get_int_element (off, 0);
  const I8Mat *p = m->layers[2]->priv;
  g_assert_cmpmem (contents + 8 + hlen + b, 15, p->codes, 15);

  g_autoptr (FwModel) back = fw_model_load (path, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (FwModel) copy = fw_model_copy (m);
  float x[2 * 6];
  FwRng rng;
  fw_rng_init (&rng, 3);
  fw_test_fill_uniform (x, G_N_ELEMENTS (x), 0, 1, &rng);
  float want[6], got[6], got_copy[6];
  memcpy (want, fw_model_forward (m, x, 2, FALSE), sizeof want);
  memcpy (got, fw_model_forward (back, x, 2, FALSE), sizeof got);
  memcpy (got_copy, fw_model_forward (copy, x, 2, FALSE), sizeof got_copy);
  g_assert_cmpmem (got, sizeof got, want, sizeof want);
  g_assert_cmpmem (got_copy, sizeof got_copy, want, sizeof want);
  /* the packed bytes really came from the file: a zero-scale model would give zeros */
  gboolean nonzero = FALSE;
  for (int i = 0; i < 6; i++)
    nonzero |= want[i] != 0.0f;
  g_assert_true (nonzero);
}

/* rewrites the header's dtype of layers.2.codes and returns the load error */
static GError *
load_with_header_edit (const char *from, const char *to)
{
  g_autoptr (FwModel) m = make_model ();
  g_autofree char *path = g_build_filename (fw_test_tmpdir (), "packed-bad.safetensors", NULL);
  g_assert_true (fw_model_save (m, path, NULL, NULL));
  g_autofree char *contents = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  /* search the JSON header only (the length prefix holds NUL bytes) */
  char *at = g_strstr_len (contents + 8, (gssize) len - 8, from);
  g_assert_nonnull (at);
  g_assert_cmpuint (strlen (from), ==, strlen (to));
  memcpy (at, to, strlen (to));
  g_assert_true (g_file_set_contents (path, contents, (gssize) len, NULL));
  GError *error = NULL;
  FwModel *back = fw_model_load (path, NULL, &error);
  g_assert_null (back);
  return error;
}

static void
test_bad_packed_refused (void)
{
  /* wrong dtype: the codes claim U8 */
  g_autoptr (GError) e1 = load_with_header_edit ("\"dtype\":\"I8\"", "\"dtype\":\"U8\"");
  g_assert_error (e1, FW_ERROR, FW_ERROR_FORMAT);
  g_assert_nonnull (strstr (e1->message, "layers.2.codes"));
  /* wrong shape: 3x5 claimed as 3x4 (bytes no longer match the offsets) */
  g_autoptr (GError) e2 = load_with_header_edit ("\"shape\":[3,5]", "\"shape\":[3,4]");
  g_assert_error (e2, FW_ERROR, FW_ERROR_FORMAT);
  g_assert_nonnull (strstr (e2->message, "layers.2.codes"));
}

static void
test_dtype_names (void)
{
  /* every dtype's name parses back to itself and sizes match the safetensors format */
  const gsize sizes[FW_N_DTYPES] = { 4, 2, 1, 1, 2, 2, 4 };
  for (int t = 0; t < FW_N_DTYPES; t++)
    {
      FwDType back;
      g_assert_true (fw_dtype_parse (fw_dtype_name (t), &back));
      g_assert_cmpint (back, ==, t);
      g_assert_cmpuint (fw_dtype_size (t), ==, sizes[t]);
    }
  FwDType dummy;
  g_assert_false (fw_dtype_parse ("F64", &dummy));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  fw_layer_class_register (&test_i8mat);
  g_test_add_func ("/Packed/save_load_copy_round_trip", test_round_trip);
  g_test_add_func ("/Packed/wrong_dtype_or_shape_refused", test_bad_packed_refused);
  g_test_add_func ("/Packed/dtype_names", test_dtype_names);
  return g_test_run ();
}
