/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-simulator.h: simulated handwritten-looking digits rendered with Cairo + Pango.
 *
 * Each sample draws the digit (i % 10) in a random installed font (a curated set of
 * handwritten, comic and plain families when present, any family otherwise), then applies a
 * random weight, size, rotation, shear, translation, stroke width (the outline is stroked
 * on top of the fill) and Gaussian blur, stretches the contrast to a peak of 1, and adds
 * Gaussian noise. White digit on black, like MNIST; values in [0, 1].
 *
 * Determinism: sample i depends only on (seed, stream, i) and the installed fonts: the root
 * generator fw_rng_init(seed) is split into the stream (FW_SIM_TRAIN or FW_SIM_TEST), and that
 * into one generator per sample. So "sim:1000" is the first 1000 samples of "sim:5000", and
 * the test stream never repeats a training image. */
#pragma once

#include <gio/gio.h>

#include "fw-dataset.h"

G_BEGIN_DECLS

enum {
  FW_SIM_TRAIN = 0x51a1,
  FW_SIM_TEST = 0x7e57,
};

typedef struct {
  int size;            /* image side in pixels (28 like MNIST, 20 like digits.png) */
  double height;       /* digit ink height as a fraction of size (0.67) */
  double scale_jitter; /* relative height change, uniform in +-scale_jitter (0.15) */
  double aspect;       /* width stretch on top of the font's own proportions (1.0) */
  double aspect_jitter;/* relative width change, uniform in +-aspect_jitter (0.15) */
  double rotate_deg;   /* rotation, uniform in +-rotate_deg (15) */
  double shear;        /* horizontal shear, uniform in +-shear (0.25) */
  double shift;        /* translation, uniform in +-shift * size (0.08) */
  double stroke_max;   /* outline width in pixels, uniform in [0, stroke_max] (1.0 at 28) */
  double bold_prob;    /* chance of a bold face (0.2) */
  double blur_max;     /* Gaussian blur sigma in pixels, uniform in [0, blur_max] (0.8) */
  double noise_max;    /* additive Gaussian noise std, uniform in [0, noise_max] (0.06) */
  /* font families to draw from (NULL-terminated, borrowed), or NULL for
   * fw_simulator_font_families(); a name fontconfig does not know falls back to its default */
  const char *const *families;
} FwSimParams;

/* Default parameters for an image side of size pixels (families = NULL). */
void        fw_sim_params_init        (FwSimParams *p, int size);

/* n samples from stream (FW_SIM_TRAIN, FW_SIM_TEST or any other number) of seed.
 * Errors: FW_ERROR_INVALID (bad n or size), FW_ERROR_NOT_FOUND (no font at all),
 * FW_ERROR_CANCELLED. */
FwDataset  *fw_simulator_generate     (const FwSimParams *p, int n, guint64 seed,
                                       guint64 stream, GCancellable *cancellable,
                                       GError **error);

/* The font families the simulator draws from on this machine (sorted; transfer full). */
char      **fw_simulator_font_families (void);

/* Traces the outlines of the default font families now, on the calling thread. A GUI calls it
 * on its main thread before starting jobs: simulator runs on a worker then make no font calls
 * (Pango/cairo font code is not safe to run on two threads at once here). Idempotent. */
void        fw_simulator_warm_up      (void);

G_END_DECLS
