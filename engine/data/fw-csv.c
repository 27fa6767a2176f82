/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-csv.c: numeric features with the class label in the last column. */
#include "fw-dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw-error.h"
#include "fw-idx.h"

/* Splits one line on sep; fields are trimmed and lose one pair of surrounding quotes. */
static char **
split_fields (const char *line, char sep)
{
  char s[2] = { sep, 0 };
  char **f = g_strsplit (line, s, -1);
  for (int i = 0; f[i] != NULL; i++)
    {
      g_strstrip (f[i]);
      gsize l = strlen (f[i]);
      if (l >= 2 && f[i][0] == '"' && f[i][l - 1] == '"')
        {
          memmove (f[i], f[i] + 1, l - 2);
          f[i][l - 2] = 0;
        }
    }
  return f;
}

static gboolean
parse_number (const char *s, double *v)
{
  if (*s == '\0')
    return FALSE;
  char *end = NULL;
  *v = g_ascii_strtod (s, &end);
  return end != s && *end == '\0' && isfinite (*v);
}

static gboolean
is_missing (const char *s)
{
  return *s == '\0' || g_ascii_strcasecmp (s, "na") == 0 || g_ascii_strcasecmp (s, "nan") == 0 ||
         g_ascii_strcasecmp (s, "null") == 0 || strcmp (s, "?") == 0;
}

typedef struct {
  char **fields;
  int line;  /* 1-based line number in the file */
} Row;

static void
row_clear (gpointer p)
{
  g_strfreev (((Row *) p)->fields);
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

FwDataset *
fw_dataset_load_csv (const char *path, GCancellable *cancellable, GError **error)
{
  g_autoptr (GBytes) bytes = fw_read_file_maybe_gzip (path, cancellable, error);
  if (bytes == NULL)
    return NULL;
  gsize len = 0;
  const char *data = g_bytes_get_data (bytes, &len);
  g_autofree char *text = g_strndup (data, len);
  if (strlen (text) != len)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                   "%s: binary data (a zero byte) in what should be a CSV text file", path);
      return NULL;
    }
  /* a UTF-8 byte order mark, as spreadsheets write, is not part of the first field */
  const char *start = g_str_has_prefix (text, "\xef\xbb\xbf") ? text + 3 : text;
  g_auto (GStrv) lines = g_strsplit (start, "\n", -1);

  g_autoptr (GArray) rows = g_array_new (FALSE, TRUE, sizeof (Row));
  g_array_set_clear_func (rows, row_clear);
  g_auto (GStrv) header = NULL;
  char sep = 0;
  int ncols = 0, first_line = 0;
  for (int li = 0; lines[li] != NULL; li++)
    {
      if ((li & 4095) == 0 && fw_data_cancelled (cancellable, error))
        return NULL;
      char *l = lines[li];
      gsize ll = strlen (l);
      if (ll > 0 && l[ll - 1] == '\r')
        l[ll - 1] = 0;
      const char *t = l;
      while (g_ascii_isspace (*t))
        t++;
      if (*t == '\0' || *t == '#')
        continue;
      if (sep == 0)
        {
          /* the separator of the first row: ',' unless it has none and has ';' or a tab */
          sep = strchr (t, ',') ? ',' : strchr (t, ';') ? ';' : strchr (t, '\t') ? '\t' : ',';
        }
      char **f = split_fields (l, sep);
      int nf = (int) g_strv_length (f);
      if (ncols == 0)
        {
          if (nf < 2)
            {
              g_strfreev (f);
              g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                           "%s: line %d has a single column: a CSV dataset needs feature "
                           "columns and a label in the last column, separated by ',', ';' or "
                           "tabs", path, li + 1);
              return NULL;
            }
          ncols = nf;
          first_line = li + 1;
          /* a header when none of the feature fields is a number */
          gboolean any_number = FALSE;
          for (int k = 0; k < nf - 1; k++)
            {
              double v;
              any_number = any_number || parse_number (f[k], &v);
            }
          if (!any_number)
            {
              header = f;
              continue;
            }
        }
      else if (nf != ncols)
        {
          g_strfreev (f);
          g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                       "%s: line %d has %d fields where line %d has %d", path, li + 1, nf,
                       first_line, ncols);
          return NULL;
        }
      Row r = { f, li + 1 };
      g_array_append_val (rows, r);
    }
  if (rows->len == 0)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "%s: no data rows", path);
      return NULL;
    }

  int d = ncols - 1;
  int n = (int) rows->len;

  /* labels: all integers >= 0 -> class indices, otherwise class names in sorted order */
  gboolean all_int = TRUE;
  gint64 max_label = 0;
  for (int i = 0; i < n && all_int; i++)
    {
      Row *r = &g_array_index (rows, Row, i);
      const char *s = r->fields[d];
      if (is_missing (s))
        {
          g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                       "%s: line %d, column %d: missing label", path, r->line, ncols);
          return NULL;
        }
      /* "3" and "3.0" are both class 3 */
      double v;
      if (!parse_number (s, &v) || v != floor (v))
        all_int = FALSE;
      else if (v < 0 || v >= 100000)
        {
          g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                       "%s: line %d, column %d: class index %s out of range (0 to 99999)",
                       path, r->line, ncols, s);
          return NULL;
        }
      else
        max_label = MAX (max_label, (gint64) v);
    }
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  g_autoptr (GHashTable) index = g_hash_table_new (g_str_hash, g_str_equal);
  if (!all_int)
    {
      for (int i = 0; i < n; i++)
        {
          const char *s = g_array_index (rows, Row, i).fields[d];
          if (!g_hash_table_contains (index, s))
            {
              g_hash_table_add (index, (gpointer) s);
              g_ptr_array_add (names, (gpointer) s);
            }
        }
      g_ptr_array_sort (names, cmp_str);
      for (guint k = 0; k < names->len; k++)
        g_hash_table_insert (index, names->pdata[k], GINT_TO_POINTER (k));
    }
  int n_classes = all_int ? (int) max_label + 1 : (int) names->len;

  FwShape shape = { d, 1, 1 };
  g_autofree char *base = g_path_get_basename (path);
  g_autoptr (FwDataset) ds = fw_dataset_new (base, n, shape, n_classes);
  ds->source = g_strdup (path);
  if (!all_int)
    {
      g_ptr_array_add (names, NULL);
      fw_data_set_class_names (ds, (const char *const *) names->pdata);
    }
  for (int i = 0; i < n; i++)
    {
      if ((i & 4095) == 0 && fw_data_cancelled (cancellable, error))
        return NULL;
      Row *r = &g_array_index (rows, Row, i);
      for (int k = 0; k < d; k++)
        {
          const char *s = r->fields[k];
          double v;
          if (parse_number (s, &v))
            {
              ds->x[(gsize) i * d + k] = (float) v;
              continue;
            }
          g_autofree char *col = header != NULL
                                     ? g_strdup_printf ("column %d (%s)", k + 1, header[k])
                                     : g_strdup_printf ("column %d", k + 1);
          if (is_missing (s))
            g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                         "%s: line %d, %s: missing value: fill it in or drop the row", path,
                         r->line, col);
          else
            g_set_error (error, FW_ERROR, FW_ERROR_FORMAT,
                         "%s: line %d, %s: \"%s\" is not a number", path, r->line, col, s);
          return NULL;
        }
      const char *s = r->fields[d];
      ds->y[i] = all_int ? (gint32) g_ascii_strtod (s, NULL)
                         : GPOINTER_TO_INT (g_hash_table_lookup (index, s));
    }
  return g_steal_pointer (&ds);
}
