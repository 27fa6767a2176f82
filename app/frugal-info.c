/* SPDX-License-Identifier: GPL-3.0-or-later */
/* frugal-info.c: the descriptive sub-commands: info (a saved model), datasets, layers. */
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw-dataset.h"
#include "fw-error.h"
#include "fw-layer.h"
#include "fw-model.h"
#include "fw-safetensors.h"
#include "fw-util.h"

#include "frugal-cli.h"

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

int
frugal_cmd_info (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL.safetensors");
  g_option_context_set_summary (ctx, "Describe a saved model: architecture, layers, parameters, "
                                "bytes on disk, FLOPs per image and the file's metadata.");
  if (!frugal_parse_options (ctx, "info", &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (argc != 2)
    return frugal_usage_error ("info", "expected one MODEL.safetensors, got %d arguments",
                               argc - 1);

  const char *path = argv[1];
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) meta = NULL;
  g_autoptr (FwModel) m = fw_model_load (path, &meta, &error);
  if (m == NULL)
    return frugal_fail (error);

  GStatBuf st;
  gint64 file_bytes = g_stat (path, &st) == 0 ? (gint64) st.st_size : -1;

  printf ("model:        %s\n", path);
  printf ("architecture: %s\n", m->arch != NULL ? m->arch : "custom");
  printf ("spec:         %s\n", m->spec);
  printf ("input:        %dx%dx%d (channels x height x width), normalised (x - %g) / %g\n",
          m->input.c, m->input.h, m->input.w, m->in_mean, m->in_std);
  printf ("classes:      %d", m->n_classes);
  if (m->class_names != NULL)
    {
      g_autofree char *names = g_strjoinv (", ", m->class_names);
      printf (" (%s)", names);
    }
  printf ("\n\n");

  g_autofree char *table = fw_model_describe (m);
  fputs (table, stdout);
  printf ("\n");

  gsize params = fw_model_param_count (m);
  double flops = fw_model_flops (m);
  g_autofree char *params_h = fw_format_count ((double) params);
  g_autofree char *flops_h = fw_format_count (flops);
  printf ("parameters: %" G_GSIZE_FORMAT " (%s)\n", params, params_h);
  /* what is really there: non-zero values (a pruned dense model stores its zeros) and the
   * packed storage of compressed layers (sparse indices, codes), with its bytes */
  gsize nonzero = 0, packed_n = 0, packed_bytes = 0;
  for (gsize i = 0; i < m->n_params; i++)
    nonzero += m->params[i] != 0.0f;
  for (gsize i = 0; i < m->n_state; i++)
    nonzero += m->state[i] != 0.0f;
  for (int i = 0; i < m->n_layers; i++)
    if (m->layers[i]->klass->packed != NULL)
      {
        FwPackedTensor pt[FW_LAYER_MAX_TENSORS];
        int np = m->layers[i]->klass->packed (m->layers[i], pt);
        for (int t = 0; t < np; t++)
          {
            packed_n += pt[t].bytes / MAX (fw_dtype_size (pt[t].dtype), 1);
            packed_bytes += pt[t].bytes;
          }
      }
  printf ("non-zero parameters: %" G_GSIZE_FORMAT " (%.1f%%)\n", nonzero,
          params > 0 ? 100.0 * (double) nonzero / (double) params : 0.0);
  if (packed_n > 0)
    {
      g_autofree char *pb = fw_format_bytes ((double) packed_bytes);
      printf ("packed entries: %" G_GSIZE_FORMAT " (indices, codes: %s)\n", packed_n, pb);
    }
  if (file_bytes >= 0)
    {
      g_autofree char *bytes_h = fw_format_bytes ((double) file_bytes);
      printf ("bytes on disk: %" G_GINT64_FORMAT " (%s)\n", file_bytes, bytes_h);
    }
  printf ("FLOPs per image: %.0f (%s)\n", flops, flops_h);

  if (meta != NULL && g_hash_table_size (meta) > 0)
    {
      g_autofree gpointer *keys = g_hash_table_get_keys_as_array (meta, NULL);
      guint n = g_hash_table_size (meta);
      qsort (keys, n, sizeof (gpointer), compare_strings);
      printf ("\nmetadata:\n");
      for (guint i = 0; i < n; i++)
        printf ("  %s = %s\n", (const char *) keys[i],
                (const char *) g_hash_table_lookup (meta, keys[i]));
    }
  return FRUGAL_EXIT_OK;
}

int
frugal_cmd_datasets (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "List the known datasets, whether they are available on "
                                "this machine, and how to get the missing ones.\n"
                                "FW_DATA_DIR overrides where datasets are looked for.");
  if (!frugal_parse_options (ctx, "datasets", &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (argc != 1)
    return frugal_usage_error ("datasets", "takes no arguments");

  g_autofree char *report = fw_datasets_report ();
  fputs (report, stdout);
  if (report[0] != '\0' && report[strlen (report) - 1] != '\n')
    fputc ('\n', stdout);
  printf ("\nDataset specs: fashion-mnist[:train|test], digits[:train|test], sim[:N[:SIZE]], "
          "sim-test[:N[:SIZE]], idx:IMAGES[:LABELS], folder:PATH, csv:PATH\n");
  return FRUGAL_EXIT_OK;
}

int
frugal_cmd_layers (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "List the layer kinds a model spec can use (comma-separated "
                                "tokens such as \"conv:6:5,relu,maxpool:2,flatten,dense:10\") "
                                "and the named architectures with their specs for a 1x28x28 "
                                "input and 10 classes.");
  if (!frugal_parse_options (ctx, "layers", &argc, &argv))
    return FRUGAL_EXIT_USAGE;
  if (argc != 1)
    return frugal_usage_error ("layers", "takes no arguments");

  printf ("Layer kinds:\n");
  const FwLayerClass *const *klasses = fw_layer_classes ();
  for (int i = 0; klasses[i] != NULL; i++)
    printf ("  %-10s %s\n", klasses[i]->name,
            klasses[i]->help != NULL ? klasses[i]->help : "");

  printf ("\nArchitectures (for a 1x28x28 input, 10 classes):\n");
  const char *const *names = fw_model_arch_names ();
  FwShape in = { 1, 28, 28 };
  for (int i = 0; names[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *spec = fw_model_arch_spec (names[i], NULL, in, 10, &error);
      printf ("  %-16s %s\n", names[i], spec != NULL ? spec : error->message);
    }
  return FRUGAL_EXIT_OK;
}
