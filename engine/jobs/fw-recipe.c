/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-recipe.c: recipes as GKeyFile .ini files: one table of keys (group, type, default,
 * bounds, comment) drives loading, validation and writing. */
#include "fw-recipe.h"
#include "fw-recipe-ext.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "fw-error.h"
#include "fw-model.h"
#include "fw-noise.h"
#include "fw-robust.h"

typedef enum {
  KEY_STRING,
  KEY_INT,
  KEY_DOUBLE,
  KEY_BOOL,
  KEY_UINT64,
  KEY_OPTIMIZER,
  KEY_SCHEDULE,
} KeyType;

/* One recipe key: where it lives in FwRecipe, its bounds and what it means. */
typedef struct {
  const char *group;
  const char *key;
  KeyType type;
  gsize offset;
  double min, max;            /* numbers: the valid range (inclusive unless noted below) */
  gboolean min_exclusive;     /* lr > 0, eps > 0 ... */
  gboolean max_exclusive;     /* momentum < 1 ... */
  const char *comment;        /* one line, written above the key */
  const char *hint;           /* what to do when the value is out of range */
} KeyDef;

#define R(field) offsetof (FwRecipe, field)
#define T(field) (offsetof (FwRecipe, train) + offsetof (FwTrainConfig, field))
#define BIG 1e300

static const KeyDef keys[] = {
  { "data", "dataset", KEY_STRING, R (dataset), 0, 0, 0, 0,
    "dataset spec: fashion-mnist[:train], digits, sim[:N[:SIZE]], idx:IMAGES[:LABELS], "
    "folder:PATH, csv:PATH", "name a dataset, e.g. dataset = sim:3000" },
  { "data", "per_class", KEY_INT, R (per_class), 0, G_MAXINT, 0, 0,
    "keep N labelled samples per class (seeded, stratified); 0 = all",
    "give 0 (all) or a positive count" },
  { "data", "val_fraction", KEY_DOUBLE, R (val_fraction), 0, 0.9, 0, 0,
    "part of the training set held out for validation, in [0, 0.9]; 0 = no validation",
    "give a fraction between 0 and 0.9, e.g. 0.1" },
  { "data", "test", KEY_STRING, R (test), 0, 0, 0, 0,
    "test set: auto (the dataset's own test split) | none | a dataset spec",
    "write auto, none or a dataset spec" },
  { "data", "train_limit", KEY_INT, R (train_limit), 0, G_MAXINT, 0, 0,
    "use at most this many training samples (seeded, stratified); 0 = all",
    "give 0 (all) or a positive count" },
  { "data", "augment", KEY_STRING, R (augment), 0, 0, 0, 0,
    "augmentation on the fly, each epoch new variants: op:key=value,...;op... e.g. "
    "rotate:deg=15;translate:px=2;elastic:alpha=8,sigma=3;cutmix:p=0.5; empty = none",
    "write a pipeline such as rotate:deg=15;translate:px=2 (docs/recipes.md lists the "
    "operations) or leave it empty" },

  { "model", "arch", KEY_STRING, R (arch), 0, 0, 0, 0,
    "architecture: mlp | lenet5 | cnn-small | mobilenet-tiny | squeezenet-tiny | custom",
    NULL },
  { "model", "widths", KEY_STRING, R (widths), 0, 0, 0, 0,
    "mlp hidden layer widths, comma-separated", "write positive integers, e.g. 256,128" },
  { "model", "spec", KEY_STRING, R (spec), 0, 0, 0, 0,
    "layer spec for arch = custom, e.g. flatten,dense:128,relu,dense:10", NULL },
  { "model", "init", KEY_STRING, R (init), 0, 0, 0, 0,
    "a .safetensors model to start from instead of random weights; empty = random", NULL },

  { "train", "epochs", KEY_INT, T (epochs), 1, 100000, 0, 0,
    "passes over the training set", "train for at least 1 epoch" },
  { "train", "batch", KEY_INT, T (batch), 1, 65536, 0, 0,
    "mini-batch size", "give a batch size of at least 1, e.g. 128" },
  { "train", "optimizer", KEY_OPTIMIZER, T (opt), 0, 0, 0, 0,
    "sgd | adam | adamw", NULL },
  { "train", "lr", KEY_DOUBLE, T (lr), 0, 100, 1, 0,
    "learning rate (the peak one when a schedule applies)",
    "give a positive learning rate, e.g. 0.05 for sgd or 0.001 for adam" },
  { "train", "momentum", KEY_DOUBLE, T (momentum), 0, 1, 0, 1,
    "sgd momentum in [0, 1); 0 = plain sgd", "give a value in [0, 1), e.g. 0.9" },
  { "train", "nesterov", KEY_BOOL, T (nesterov), 0, 0, 0, 0,
    "Nesterov momentum (sgd): true | false", NULL },
  { "train", "weight_decay", KEY_DOUBLE, T (weight_decay), 0, 10, 0, 0,
    "L2 penalty (sgd, adam: added to the gradient; adamw: decoupled); 0 = off",
    "give 0 or a small positive value, e.g. 5e-4" },
  { "train", "beta1", KEY_DOUBLE, T (beta1), 0, 1, 0, 1,
    "adam/adamw first-moment decay", "give a value in [0, 1), e.g. 0.9" },
  { "train", "beta2", KEY_DOUBLE, T (beta2), 0, 1, 0, 1,
    "adam/adamw second-moment decay", "give a value in [0, 1), e.g. 0.999" },
  { "train", "eps", KEY_DOUBLE, T (eps), 0, 1, 1, 0,
    "adam/adamw denominator guard", "give a small positive value, e.g. 1e-8" },
  { "train", "schedule", KEY_SCHEDULE, T (schedule), 0, 0, 0, 0,
    "learning-rate schedule: constant | step | cosine", NULL },
  { "train", "step_epochs", KEY_INT, T (step_epochs), 1, 100000, 0, 0,
    "step schedule: multiply the rate by step_gamma every step_epochs epochs",
    "give at least 1" },
  { "train", "step_gamma", KEY_DOUBLE, T (step_gamma), 0, 10, 1, 0,
    "step schedule: the factor applied every step_epochs epochs", "give a positive factor, "
    "e.g. 0.1" },
  { "train", "warmup_epochs", KEY_INT, T (warmup_epochs), 0, 100000, 0, 0,
    "linear warm-up from lr/10 over this many epochs; 0 = none", "give 0 or more" },
  { "train", "min_lr", KEY_DOUBLE, T (min_lr), 0, 100, 0, 0,
    "cosine schedule: the floor of the learning rate", "give 0 or a positive rate" },
  { "train", "clip_norm", KEY_DOUBLE, T (clip_norm), 0, BIG, 0, 0,
    "clip the global gradient norm to this value; 0 = off", "give 0 (off) or a positive norm" },
  { "train", "label_smoothing", KEY_DOUBLE, T (label_smoothing), 0, 1, 0, 1,
    "label smoothing of the cross-entropy targets, in [0, 1); 0 = off",
    "give a value in [0, 1), e.g. 0.1" },
  { "train", "patience", KEY_INT, T (patience), 0, 100000, 0, 0,
    "early stopping after this many epochs without a better validation loss (restores the "
    "best weights); 0 = off", "give 0 (off) or a positive number of epochs" },
  { "train", "loss", KEY_STRING, R (loss), 0, 0, 0, 0,
    "loss: ce (cross-entropy) | gce (generalised CE, robust to label noise) | sce "
    "(symmetric CE)", "write ce, gce or sce" },
  { "train", "gce_q", KEY_DOUBLE, T (gce_q), 0, 1, 1, 0,
    "gce: q in (0, 1]; q -> 0 is CE, q = 1 is MAE", "give a value in (0, 1], e.g. 0.7" },
  { "train", "sce_alpha", KEY_DOUBLE, T (sce_alpha), 0, 100, 0, 0,
    "sce: weight of the cross-entropy term", "give 0 or more, e.g. 0.1" },
  { "train", "sce_beta", KEY_DOUBLE, T (sce_beta), 0, 100, 0, 0,
    "sce: weight of the reverse cross-entropy term", "give 0 or more, e.g. 1.0" },
  { "train", "coteaching", KEY_BOOL, R (coteaching), 0, 0, 0, 0,
    "co-teaching: two networks train each other on their small-loss samples: true | false",
    NULL },
  { "train", "forget_rate", KEY_DOUBLE, R (forget_rate), 0, 1, 0, 1,
    "co-teaching: the final fraction of each batch left out (about the noise rate)",
    "give a value in [0, 1), e.g. 0.2" },
  { "train", "forget_epochs", KEY_INT, R (forget_epochs), 0, 100000, 0, 0,
    "co-teaching: epochs of the linear ramp of the forget rate from 0; 0 = at once",
    "give 0 or more, e.g. 10" },

  { "noise", "kind", KEY_STRING, R (noise_kind), 0, 0, 0, 0,
    "label noise on the training set: none | symmetric | pair | matrix",
    "write none, symmetric, pair or matrix" },
  { "noise", "rate", KEY_DOUBLE, R (noise_rate), 0, 1, 0, 0,
    "fraction of training labels flipped (exactly, stratified per class)",
    "give a fraction in [0, 1], e.g. 0.2" },
  { "noise", "matrix", KEY_STRING, R (noise_matrix), 0, 0, 0, 0,
    "kind = matrix: a text file of k rows of k numbers, P(given j | true i)", NULL },

  { "output", "dir", KEY_STRING, R (out_dir), 0, 0, 0, 0,
    "run folder; empty = runs/<recipe name>-YYYYmmdd-HHMMSS", NULL },
  { "output", "save_model", KEY_BOOL, R (save_model), 0, 0, 0, 0,
    "write model.safetensors into the run folder: true | false", NULL },
  { "output", "embed_points", KEY_INT, R (embed_points), 0, 5000, 0, 0,
    "each epoch, embed this many test samples' last hidden features in 2-D by t-SNE started "
    "from the previous epoch's layout (embedding.csv); 0 = off",
    "give 0 (off) or a number of points up to 5000, e.g. 500" },

  { "run", "seed", KEY_UINT64, R (seed), 0, 0, 0, 0,
    "seed of every random choice (init, shuffling, splits, simulator)", NULL },
  { "run", "threads", KEY_INT, R (threads), 1, 256, 0, 0,
    "OpenBLAS threads; same seed and threads give the same numbers", "give at least 1" },
};

static const char *const groups[] = { "data", "model", "train", "output", "run", "noise",
                                      NULL };
static const char *const optimizer_names[] = { "sgd", "adam", "adamw", NULL };
static const char *const schedule_names[] = { "constant", "step", "cosine", NULL };

#define FIELD(r, def, type) ((type *) ((char *) (r) + (def)->offset))
#define CFIELD(r, def, type) ((const type *) ((const char *) (r) + (def)->offset))

FwRecipe *
fw_recipe_new_default (void)
{
  FwRecipe *r = g_new0 (FwRecipe, 1);
  r->name = g_strdup ("recipe");
  r->dataset = g_strdup ("fashion-mnist");
  r->per_class = 0;
  r->val_fraction = 0.1;
  r->test = g_strdup ("auto");
  r->train_limit = 0;
  r->arch = g_strdup ("mlp");
  r->widths = g_strdup ("256,128");
  r->spec = g_strdup ("");
  r->init = g_strdup ("");
  fw_train_config_defaults (&r->train);
  r->out_dir = g_strdup ("");
  r->save_model = TRUE;
  r->seed = 1;
  r->threads = 1;
  r->train.seed = r->seed;
  r->noise_kind = g_strdup ("none");
  r->noise_rate = 0.2;
  r->noise_matrix = g_strdup ("");
  r->loss = g_strdup ("ce");
  r->train.gce_q = 0.7;
  r->train.sce_alpha = 0.1;
  r->train.sce_beta = 1.0;
  r->coteaching = FALSE;
  r->forget_rate = 0.2;
  r->forget_epochs = 10;
  r->augment = g_strdup ("");
  return r;
}

void
fw_recipe_free (FwRecipe *r)
{
  if (r == NULL)
    return;
  g_free (r->name);
  g_free (r->path);
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    if (keys[i].type == KEY_STRING)
      g_free (*FIELD (r, &keys[i], char *));
  g_clear_pointer (&r->kf, g_key_file_unref);
  g_free (r);
}

FwRecipe *
fw_recipe_copy (const FwRecipe *r)
{
  FwRecipe *c = g_new (FwRecipe, 1);
  *c = *r;
  c->name = g_strdup (r->name);
  c->path = g_strdup (r->path);
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    if (keys[i].type == KEY_STRING)
      *FIELD (c, &keys[i], char *) = g_strdup (*CFIELD (r, &keys[i], char *));
  if (r->kf != NULL)
    c->kf = g_key_file_ref (r->kf);
  return c;
}

/* ---- loading ---- */

static char *
keys_of_group (const char *group)
{
  GString *s = g_string_new (NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    if (strcmp (keys[i].group, group) == 0)
      g_string_append_printf (s, "%s%s", s->len ? ", " : "", keys[i].key);
  return g_string_free (s, FALSE);
}

static const KeyDef *
find_key (const char *group, const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    if (strcmp (keys[i].group, group) == 0 && strcmp (keys[i].key, key) == 0)
      return &keys[i];
  return NULL;
}

static int
name_index (const char *const *names, const char *value)
{
  for (int i = 0; names[i] != NULL; i++)
    if (g_ascii_strcasecmp (names[i], value) == 0)
      return i;
  return -1;
}

static gboolean G_GNUC_PRINTF (5, 6)
key_error (GError **error, const char *file, const KeyDef *def, const char *value,
           const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *what = g_strdup_vprintf (format, args);
  va_end (args);
  if (value != NULL)
    g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [%s] %s: '%s' %s", file, def->group,
                 def->key, value, what);
  else
    g_set_error (error, FW_ERROR, FW_ERROR_INVALID, "%s: [%s] %s: %s", file, def->group,
                 def->key, what);
  return FALSE;
}

/* Range check of a number against the key's bounds. */
static gboolean
check_range (double v, const KeyDef *def, const char *file, const char *text, GError **error)
{
  const char *hint = def->hint != NULL ? def->hint : "see docs/recipes.md";
  if (v < def->min || (def->min_exclusive && v == def->min))
    {
      if (v < 0 && def->min >= 0)
        return key_error (error, file, def, text, "is negative — %s", hint);
      return key_error (error, file, def, text, "is %s %g — %s",
                        def->min_exclusive ? "not above" : "less than", def->min, hint);
    }
  if (v > def->max || (def->max_exclusive && v == def->max))
    return key_error (error, file, def, text, "is %s %g — %s",
                      def->max_exclusive ? "not below" : "more than", def->max, hint);
  return TRUE;
}

/* Parses one value into r; text is stripped already. */
static gboolean
parse_value (FwRecipe *r, const KeyDef *def, const char *text, const char *file,
             GError **error)
{
  switch (def->type)
    {
    case KEY_STRING:
      {
        g_autofree char *v = g_strdup (text);
        gsize len = strlen (v);
        /* `init = ""` as the header comment writes it: quotes are not part of the value */
        if (len >= 2 && ((v[0] == '"' && v[len - 1] == '"')
                         || (v[0] == '\'' && v[len - 1] == '\'')))
          {
            v[len - 1] = '\0';
            memmove (v, v + 1, len - 1);
          }
        char **field = FIELD (r, def, char *);
        g_free (*field);
        *field = g_steal_pointer (&v);
        return TRUE;
      }
    case KEY_INT:
      {
        char *end = NULL;
        errno = 0;
        gint64 v = g_ascii_strtoll (text, &end, 10);
        if (*text == '\0' || end == text || *end != '\0' || errno != 0)
          return key_error (error, file, def, text, "is not a whole number — %s",
                            def->hint != NULL ? def->hint : "write e.g. 10");
        if (!check_range ((double) v, def, file, text, error))
          return FALSE;
        *FIELD (r, def, int) = (int) v;
        return TRUE;
      }
    case KEY_DOUBLE:
      {
        char *end = NULL;
        errno = 0;
        double v = g_ascii_strtod (text, &end);
        if (*text == '\0' || end == text || *end != '\0' || errno != 0 || !isfinite (v))
          return key_error (error, file, def, text, "is not a number — %s",
                            def->hint != NULL ? def->hint : "write e.g. 0.1");
        if (!check_range (v, def, file, text, error))
          return FALSE;
        *FIELD (r, def, double) = v;
        return TRUE;
      }
    case KEY_BOOL:
      {
        static const char *const yes[] = { "true", "yes", "on", "1", NULL };
        static const char *const no[] = { "false", "no", "off", "0", NULL };
        if (name_index (yes, text) >= 0)
          *FIELD (r, def, gboolean) = TRUE;
        else if (name_index (no, text) >= 0)
          *FIELD (r, def, gboolean) = FALSE;
        else
          return key_error (error, file, def, text, "is not a boolean — write true or false");
        return TRUE;
      }
    case KEY_UINT64:
      {
        guint64 v = 0;
        if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, &v, NULL))
          return key_error (error, file, def, text,
                            "is not a non-negative whole number — write e.g. 1");
        *FIELD (r, def, guint64) = v;
        return TRUE;
      }
    case KEY_OPTIMIZER:
    case KEY_SCHEDULE:
      {
        const char *const *names = def->type == KEY_OPTIMIZER ? optimizer_names
                                                              : schedule_names;
        int i = name_index (names, text);
        if (i < 0)
          {
            g_autofree char *list = g_strjoinv (", ", (char **) names);
            return key_error (error, file, def, text, "is not a known %s — use one of: %s",
                              def->type == KEY_OPTIMIZER ? "optimizer" : "schedule", list);
          }
        *FIELD (r, def, int) = i;
        return TRUE;
      }
    default:
      g_assert_not_reached ();
    }
  return FALSE;
}

/* Checks that involve more than one key, or a list of names from elsewhere. */
static gboolean
validate (FwRecipe *r, const char *file, GError **error)
{
  g_strstrip (r->dataset);
  if (*r->dataset == '\0')
    return key_error (error, file, find_key ("data", "dataset"), NULL,
                      "is empty — name a dataset, e.g. dataset = sim:3000");
  g_strstrip (r->test);
  if (*r->test == '\0')
    return key_error (error, file, find_key ("data", "test"), NULL,
                      "is empty — write auto, none or a dataset spec");

  g_strstrip (r->augment);
  if (*r->augment != '\0')
    {
      g_autoptr (GError) aug_error = NULL;
      g_autoptr (FwAugPipeline) pipe = fw_aug_pipeline_parse (r->augment, &aug_error);
      if (pipe == NULL)
        return key_error (error, file, find_key ("data", "augment"), r->augment, "— %s",
                          aug_error->message);
    }

  FwNoiseKind nk;
  g_strstrip (r->noise_kind);
  if (!fw_noise_kind_from_string (r->noise_kind, &nk))
    return key_error (error, file, find_key ("noise", "kind"), r->noise_kind,
                      "is not a noise kind — use one of: none, symmetric, pair, matrix");
  g_strstrip (r->noise_matrix);
  if (nk == FW_NOISE_MATRIX && *r->noise_matrix == '\0')
    return key_error (error, file, find_key ("noise", "matrix"), NULL,
                      "is empty — kind = matrix needs a file of k rows of k numbers");
  FwLossKind lk;
  g_strstrip (r->loss);
  if (!fw_loss_kind_from_string (r->loss, &lk))
    return key_error (error, file, find_key ("train", "loss"), r->loss,
                      "is not a known loss — use one of: ce, gce, sce");
  r->train.loss = (int) lk;

  g_strstrip (r->arch);
  const char *const *archs = fw_model_arch_names ();
  gboolean known = g_strcmp0 (r->arch, "custom") == 0;
  for (int i = 0; !known && archs[i] != NULL; i++)
    known = g_strcmp0 (archs[i], r->arch) == 0;
  if (!known)
    {
      g_autofree char *list = g_strjoinv (", ", (char **) archs);
      return key_error (error, file, find_key ("model", "arch"), r->arch,
                        "is not a known architecture — use one of: %s, custom", list);
    }
  g_strstrip (r->spec);
  if (g_strcmp0 (r->arch, "custom") == 0 && *r->spec == '\0')
    return key_error (error, file, find_key ("model", "spec"), NULL,
                      "is empty but arch = custom needs it — write a layer spec, e.g. "
                      "spec = flatten,dense:128,relu,dense:10 (or choose another arch)");

  /* widths: positive integers, comma-separated (checked here so the error names the file) */
  g_auto (GStrv) ws = g_strsplit (r->widths, ",", -1);
  int n_widths = 0;
  for (int i = 0; ws[i] != NULL; i++)
    {
      char *end = NULL;
      g_strstrip (ws[i]);
      gint64 w = g_ascii_strtoll (ws[i], &end, 10);
      if (end == ws[i] || *end != '\0' || w < 1 || w > 1 << 20)
        return key_error (error, file, find_key ("model", "widths"), r->widths,
                          "has '%s', not a positive width — write e.g. 256,128", ws[i]);
      n_widths++;
    }
  if (n_widths == 0 && g_strcmp0 (r->arch, "mlp") == 0)
    return key_error (error, file, find_key ("model", "widths"), NULL,
                      "is empty — write the hidden widths, e.g. 256,128");
  g_strstrip (r->init);
  g_strstrip (r->out_dir);
  return TRUE;
}

/* an extension group's keys must be in its list */
static gboolean
check_ext_keys (GKeyFile *kf, const FwRecipeExt *ext, const char *file, GError **error)
{
  g_auto (GStrv) file_keys = g_key_file_get_keys (kf, ext->group, NULL, NULL);
  for (int k = 0; file_keys != NULL && file_keys[k] != NULL; k++)
    if (ext->keys == NULL || !g_strv_contains (ext->keys, file_keys[k]))
      {
        g_autofree char *list = ext->keys != NULL ? g_strjoinv (", ", (char **) ext->keys)
                                                  : g_strdup ("(none)");
        g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                     "%s: [%s] %s: unknown key — valid keys in [%s]: %s", file, ext->group,
                     file_keys[k], ext->group, list);
        return FALSE;
      }
  return TRUE;
}

static FwRecipe *
load_keyfile (GKeyFile *kf, const char *file, GError **error)
{
  g_autoptr (FwRecipe) r = fw_recipe_new_default ();

  /* unknown groups and keys are errors: a typo must not silently fall back to a default */
  g_auto (GStrv) file_groups = g_key_file_get_groups (kf, NULL);
  const FwRecipeExt *job_ext = NULL;
  for (int g = 0; file_groups[g] != NULL; g++)
    {
      const FwRecipeExt *ext = fw_recipe_ext_lookup (file_groups[g]);
      if (ext != NULL)
        {
          if (ext->run != NULL && job_ext != NULL)
            {
              g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                           "%s: [%s] and [%s] are two kinds of job in one recipe — keep one "
                           "(one recipe = one job)", file, job_ext->group, ext->group);
              return NULL;
            }
          if (ext->run != NULL)
            job_ext = ext;
          if (!check_ext_keys (kf, ext, file, error))
            return NULL;
          continue;
        }
      if (!g_strv_contains (groups, file_groups[g]))
        {
          g_autoptr (GString) list = g_string_new (NULL);
          for (int i = 0; groups[i] != NULL; i++)
            g_string_append_printf (list, "%s[%s]", i ? ", " : "", groups[i]);
          for (const FwRecipeExt *const *e = fw_recipe_exts (); *e != NULL; e++)
            g_string_append_printf (list, ", [%s]", (*e)->group);
          g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                       "%s: [%s]: unknown group — use %s", file, file_groups[g], list->str);
          return NULL;
        }
      g_auto (GStrv) file_keys = g_key_file_get_keys (kf, file_groups[g], NULL, NULL);
      for (int k = 0; file_keys != NULL && file_keys[k] != NULL; k++)
        if (find_key (file_groups[g], file_keys[k]) == NULL)
          {
            g_autofree char *list = keys_of_group (file_groups[g]);
            g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                         "%s: [%s] %s: unknown key — valid keys in [%s]: %s", file,
                         file_groups[g], file_keys[k], file_groups[g], list);
            return NULL;
          }
    }

  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const KeyDef *def = &keys[i];
      if (!g_key_file_has_key (kf, def->group, def->key, NULL))
        continue;
      g_autoptr (GError) local = NULL;
      /* strings are unescaped (\s, \n ...); numbers are taken raw */
      g_autofree char *v = def->type == KEY_STRING
                             ? g_key_file_get_string (kf, def->group, def->key, &local)
                             : g_key_file_get_value (kf, def->group, def->key, &local);
      if (v == NULL)
        {
          key_error (error, file, def, NULL, "%s — fix the value", local->message);
          return NULL;
        }
      g_strstrip (v);
      if (!parse_value (r, def, v, file, error))
        return NULL;
    }
  if (!validate (r, file, error))
    return NULL;
  r->train.seed = r->seed;
  r->kf = g_key_file_ref (kf);
  return g_steal_pointer (&r);
}

/* "runs/lenet.ini" -> "lenet" */
static char *
name_from_file (const char *file)
{
  g_autofree char *base = g_path_get_basename (file);
  if (g_str_has_suffix (base, ".ini"))
    base[strlen (base) - 4] = '\0';
  return g_steal_pointer (&base);
}

FwRecipe *
fw_recipe_load_data (const char *data, gsize len, const char *name, GError **error)
{
  const char *file = name != NULL && *name ? name : "recipe";
  if (len == (gsize) -1)
    len = strlen (data);
  /* a recipe is text: control characters (a NUL, a lone CR) would not survive being written
   * back (found by tests/fuzz/fuzz-recipe) */
  for (gsize i = 0; i < len; i++)
    {
      guchar c = (guchar) data[i];
      if ((c < 0x20 && c != '\t' && c != '\n' && !(c == '\r' && i + 1 < len && data[i + 1] == '\n'))
          || c == 0x7f)
        {
          int line = 1;
          for (gsize j = 0; j < i; j++)
            line += data[j] == '\n';
          g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "%s: line %d: control character 0x%02x: "
                       "a recipe is a text file (is this the right file?)", file, line, c);
          return NULL;
        }
    }
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  if (!g_key_file_load_from_data (kf, data, len,
                                  G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_FORMAT, "%s: %s — write [group] lines and "
                   "key = value lines (see docs/recipes.md)", file, local->message);
      return NULL;
    }
  FwRecipe *r = load_keyfile (kf, file, error);
  if (r != NULL)
    {
      g_free (r->name);
      r->name = name_from_file (file);
    }
  return r;
}

FwRecipe *
fw_recipe_load (const char *path, GError **error)
{
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &data, &len, &local))
    {
      g_set_error (error, FW_ERROR,
                   g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                     ? FW_ERROR_NOT_FOUND : FW_ERROR_IO,
                   "%s: cannot read the recipe: %s", path, local->message);
      return NULL;
    }
  FwRecipe *r = fw_recipe_load_data (data, len, base, error);
  if (r != NULL)
    r->path = g_strdup (path);
  return r;
}

/* ---- writing ---- */

/* The shortest of %.15g / %.17g that reads back to the same double. */
static void
format_double (char *buf, gsize size, double v)
{
  g_ascii_formatd (buf, size, "%.15g", v);
  if (g_ascii_strtod (buf, NULL) != v)
    g_ascii_formatd (buf, size, "%.17g", v);
}

/* copies the recipe's extension groups (as written in its file) into kf */
static void
append_ext_groups (GKeyFile *kf, const FwRecipe *r)
{
  if (r->kf == NULL)
    return;
  g_auto (GStrv) file_groups = g_key_file_get_groups (r->kf, NULL);
  for (int g = 0; file_groups[g] != NULL; g++)
    {
      if (fw_recipe_ext_lookup (file_groups[g]) == NULL)
        continue;
      g_auto (GStrv) ks = g_key_file_get_keys (r->kf, file_groups[g], NULL, NULL);
      for (int k = 0; ks != NULL && ks[k] != NULL; k++)
        {
          g_autofree char *v = g_key_file_get_value (r->kf, file_groups[g], ks[k], NULL);
          g_key_file_set_value (kf, file_groups[g], ks[k], v != NULL ? v : "");
        }
      if (ks == NULL || ks[0] == NULL)
        g_key_file_set_comment (kf, file_groups[g], NULL, " (no keys: all defaults)", NULL);
    }
}

char *
fw_recipe_to_data (const FwRecipe *r)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const KeyDef *def = &keys[i];
      char buf[64];
      switch (def->type)
        {
        case KEY_STRING:
          {
            const char *s = *CFIELD (r, def, char *);
            gsize n = s != NULL ? strlen (s) : 0;
            /* a value that is itself quoted ('x' or "x") gets a pair of the other quotes,
             * which the loader strips (found by tests/fuzz/fuzz-recipe) */
            g_autofree char *quoted = NULL;
            if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0])
              quoted = g_strdup_printf (s[0] == '"' ? "'%s'" : "\"%s\"", s);
            g_key_file_set_string (kf, def->group, def->key,
                                   quoted != NULL ? quoted : s != NULL ? s : "");
            break;
          }
        case KEY_INT:
          g_snprintf (buf, sizeof buf, "%d", *CFIELD (r, def, int));
          g_key_file_set_value (kf, def->group, def->key, buf);
          break;
        case KEY_DOUBLE:
          format_double (buf, sizeof buf, *CFIELD (r, def, double));
          g_key_file_set_value (kf, def->group, def->key, buf);
          break;
        case KEY_BOOL:
          g_key_file_set_value (kf, def->group, def->key,
                                *CFIELD (r, def, gboolean) ? "true" : "false");
          break;
        case KEY_UINT64:
          g_snprintf (buf, sizeof buf, "%" G_GUINT64_FORMAT, *CFIELD (r, def, guint64));
          g_key_file_set_value (kf, def->group, def->key, buf);
          break;
        case KEY_OPTIMIZER:
        case KEY_SCHEDULE:
          {
            const char *const *names = def->type == KEY_OPTIMIZER ? optimizer_names
                                                                  : schedule_names;
            int v = *CFIELD (r, def, int);
            int n = (int) g_strv_length ((char **) names);
            g_key_file_set_value (kf, def->group, def->key, names[CLAMP (v, 0, n - 1)]);
            break;
          }
        default:
          g_assert_not_reached ();
        }
      g_autofree char *comment = g_strconcat (" ", def->comment, NULL);
      g_key_file_set_comment (kf, def->group, def->key, comment, NULL);
    }
  append_ext_groups (kf, r);
  g_autofree char *head = g_strdup_printf (" Frugal Workbench recipe '%s' (every key, resolved; "
                                           "see docs/recipes.md)",
                                           r->name != NULL ? r->name : "recipe");
  g_key_file_set_comment (kf, NULL, NULL, head, NULL);
  return g_key_file_to_data (kf, NULL, NULL);
}

gboolean
fw_recipe_save (const FwRecipe *r, const char *path, GError **error)
{
  g_autofree char *data = fw_recipe_to_data (r);
  g_autoptr (GError) local = NULL;
  /* g_file_set_contents writes a temporary file and renames it over path */
  if (!g_file_set_contents (path, data, -1, &local))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_IO, "%s: cannot write the recipe: %s — check the "
                   "folder exists and is writable", path, local->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
fw_recipe_equal (const FwRecipe *a, const FwRecipe *b)
{
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const KeyDef *def = &keys[i];
      gboolean same = TRUE;
      switch (def->type)
        {
        case KEY_STRING:
          same = g_strcmp0 (*CFIELD (a, def, char *), *CFIELD (b, def, char *)) == 0;
          break;
        case KEY_INT:
        case KEY_OPTIMIZER:
        case KEY_SCHEDULE:
          same = *CFIELD (a, def, int) == *CFIELD (b, def, int);
          break;
        case KEY_BOOL:
          same = !*CFIELD (a, def, gboolean) == !*CFIELD (b, def, gboolean);
          break;
        case KEY_DOUBLE:
          same = *CFIELD (a, def, double) == *CFIELD (b, def, double);
          break;
        case KEY_UINT64:
          same = *CFIELD (a, def, guint64) == *CFIELD (b, def, guint64);
          break;
        default:
          g_assert_not_reached ();
        }
      if (!same)
        return FALSE;
    }
  /* extension groups: compare their text as written back */
  g_autoptr (GKeyFile) ka = g_key_file_new ();
  g_autoptr (GKeyFile) kb = g_key_file_new ();
  append_ext_groups (ka, a);
  append_ext_groups (kb, b);
  g_autofree char *ta = g_key_file_to_data (ka, NULL, NULL);
  g_autofree char *tb = g_key_file_to_data (kb, NULL, NULL);
  return g_strcmp0 (ta, tb) == 0;
}

char **
fw_recipe_keys (void)
{
  char **out = g_new0 (char *, G_N_ELEMENTS (keys) + 1);
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    out[i] = g_strdup_printf ("%s.%s", keys[i].group, keys[i].key);
  return out;
}
