/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-recipe-ext.h: recipe extensions: a feature's own [group] in a recipe file.
 *
 * A recipe is the base groups ([data] [model] [train] [noise] [output] [run], fw-recipe.h)
 * plus the groups of extensions registered here. The base loader accepts a registered group,
 * checks its key names against the extension's list (a typo is an error, never a silent
 * default) and keeps the parsed file in FwRecipe.kf; the feature reads its own keys with the
 * fw_recipe_ext_get_*() helpers, which give errors like
 *   "prune.ini: [prune] sparsity: '1.5' is not in [0, 0.999] — ...".
 * fw_recipe_to_data() and fw_recipe_save() write extension groups back verbatim.
 *
 * An extension with a job function (run != NULL) makes the recipe a job of that kind:
 * `frugal run X.ini` and the GUI submit ext->run with the recipe as job data (an FwRecipe *,
 * freed with fw_recipe_free). A recipe holds at most one such group. Extensions without a job
 * (run == NULL) only carry metadata (for example [lecture]).
 *
 * Registering a feature: define `const FwRecipeExt fw_<feature>_recipe_ext = {...};` in the
 * feature's own file, declare it below and add it to the table in fw-recipe-ext.c. */
#pragma once

#include "fw-recipe.h"

G_BEGIN_DECLS

typedef struct {
  const char *group;              /* "prune" */
  const char *title;              /* "Pruning" (shown in the GUI and the CLI) */
  const char *const *keys;        /* NULL-terminated valid key names of the group */
  FwJobFunc run;                  /* the job; data = an FwRecipe * owned by the job; or NULL */
  const char *page;               /* the GUI page that shows this work ("compress"), or NULL */
} FwRecipeExt;

/* The registered extensions (NULL-terminated). */
const FwRecipeExt *const *fw_recipe_exts (void);
const FwRecipeExt *fw_recipe_ext_lookup (const char *group);
/* Adds an extension at run time (tests); call before recipes are loaded, not thread-safe. */
void      fw_recipe_ext_register   (const FwRecipeExt *ext);
/* The extension with a job function whose group the recipe has, or NULL (a plain training
 * recipe). */
const FwRecipeExt *fw_recipe_ext_of (const FwRecipe *r);
/* TRUE when the recipe file has this group. */
gboolean  fw_recipe_has_group      (const FwRecipe *r, const char *group);

/* Reading a key of an extension group. An absent key gives def (and TRUE); a present key that
 * does not parse or lies outside [min, max] gives FALSE and an error naming file, group, key
 * and value. */
gboolean  fw_recipe_ext_get_int    (const FwRecipe *r, const char *group, const char *key,
                                    int def, int min, int max, int *out, GError **error);
gboolean  fw_recipe_ext_get_double (const FwRecipe *r, const char *group, const char *key,
                                    double def, double min, double max, double *out,
                                    GError **error);
gboolean  fw_recipe_ext_get_bool   (const FwRecipe *r, const char *group, const char *key,
                                    gboolean def, gboolean *out, GError **error);
/* One of choices (NULL-terminated); *out = its index. */
gboolean  fw_recipe_ext_get_choice (const FwRecipe *r, const char *group, const char *key,
                                    const char *const *choices, int def, int *out,
                                    GError **error);
/* The stripped string value, or a copy of def when absent. Never fails. */
char     *fw_recipe_ext_get_string (const FwRecipe *r, const char *group, const char *key,
                                    const char *def);
/* Comma-separated numbers ("1,5,10"): a new GArray of int / double, or NULL with an error.
 * An absent key parses def. */
GArray   *fw_recipe_ext_get_int_list    (const FwRecipe *r, const char *group, const char *key,
                                         const char *def, int min, int max, GError **error);
GArray   *fw_recipe_ext_get_double_list (const FwRecipe *r, const char *group, const char *key,
                                         const char *def, double min, double max,
                                         GError **error);

/* Sets (or with value NULL removes) a key of an extension group, e.g. from a GUI form. The
 * group must be registered. Other copies of the recipe are not affected. */
void      fw_recipe_ext_set        (FwRecipe *r, const char *group, const char *key,
                                    const char *value);

/* ---- the registered extensions (one line each; keep in step with the table) ---- */
extern const FwRecipeExt fw_grow_recipe_ext;
extern const FwRecipeExt fw_transfer_recipe_ext;   /* engine/transfer/fw-transfer-job.c */
extern const FwRecipeExt fw_prune_recipe_ext;     /* engine/compress/fw-prune-job.c */
extern const FwRecipeExt fw_compare_recipe_ext;   /* engine/analysis/fw-compare-job.c */

extern const FwRecipeExt fw_decompose_recipe_ext; /* engine/compress/fw-decomp-job.c */
extern const FwRecipeExt fw_distill_recipe_ext;   /* engine/train/fw-distill.c */
extern const FwRecipeExt fw_aug_sweep_recipe_ext;       /* fw-aug-sweep.c */
extern const FwRecipeExt fw_quant_recipe_ext;           /* engine/compress/fw-quant-job.c */
extern const FwRecipeExt fw_cluster_recipe_ext;         /* engine/compress/fw-quant-job.c */
extern const FwRecipeExt fw_weak_recipe_ext;            /* fw-weak-job.c */
extern const FwRecipeExt fw_active_recipe_ext;          /* fw-weak-job.c */
extern const FwRecipeExt fw_calibrate_recipe_ext;       /* fw-weak-job.c */

extern const FwRecipeExt fw_lecture_recipe_ext;      /* [lecture] metadata, fw-lecture.h */

G_END_DECLS
