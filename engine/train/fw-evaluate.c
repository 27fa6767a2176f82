/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-evaluate.c: accuracy, mean loss, confusion matrix and per-class accuracy of a model on a
 * dataset, in eval mode and in batches. */
#include "fw-train.h"

#include <math.h>

#include "fw-error.h"
#include "fw-loss.h"

void
fw_eval_result_free (FwEvalResult *r)
{
  if (r == NULL)
    return;
  g_free (r->confusion);
  g_free (r->per_class_acc);
  g_free (r->preds);
  g_free (r);
}

FwEvalResult *
fw_evaluate (FwModel *m, const FwDataset *ds, int batch, GCancellable *cancellable,
             GError **error)
{
  g_return_val_if_fail (m != NULL && ds != NULL, NULL);
  if (fw_dataset_sample_size (ds) != fw_shape_size (m->input))
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "%s: samples of %dx%dx%d do not fit the model's input %dx%dx%d",
                   ds->name, ds->shape.c, ds->shape.h, ds->shape.w, m->input.c, m->input.h,
                   m->input.w);
      return NULL;
    }
  if (ds->n_classes > m->n_classes)
    {
      g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                   "%s has %d classes but the model predicts only %d", ds->name,
                   ds->n_classes, m->n_classes);
      return NULL;
    }
  if (batch < 1)
    batch = 1000;
  int k = m->n_classes;
  gsize in = fw_shape_size (m->input);
  FwEvalResult *r = g_new0 (FwEvalResult, 1);
  r->n = ds->n;
  r->n_classes = k;
  r->confusion = g_new0 (gint64, (gsize) k * k);
  r->per_class_acc = g_new0 (double, k);
  r->preds = g_new0 (gint32, MAX (ds->n, 1));

  double loss_sum = 0;
  gint64 correct = 0;
  for (int s = 0; s < ds->n; s += batch)
    {
      if (g_cancellable_is_cancelled (cancellable))
        {
          g_set_error (error, FW_ERROR, FW_ERROR_CANCELLED, "Evaluation cancelled");
          fw_eval_result_free (r);
          return NULL;
        }
      int b = MIN (batch, ds->n - s);
      const gint32 *y = ds->y + s;
      for (int i = 0; i < b; i++)
        if (y[i] < 0 || y[i] >= k)
          {
            g_set_error (error, FW_ERROR, FW_ERROR_INVALID,
                         "%s: sample %d has label %d outside [0, %d)", ds->name, s + i, y[i], k);
            fw_eval_result_free (r);
            return NULL;
          }
      const float *logits = fw_model_forward (m, ds->x + (gsize) s * in, b, FALSE);
      /* mean loss of the batch, weighted back to a sum over samples */
      loss_sum += fw_loss_softmax_xent (logits, b, k, y, NULL, 0.0f, NULL, NULL) * b;
      for (int i = 0; i < b; i++)
        {
          const float *z = logits + (gsize) i * k;
          int best = 0;
          for (int j = 1; j < k; j++)
            if (z[j] > z[best])
              best = j;
          r->preds[s + i] = best;
          r->confusion[(gsize) y[i] * k + best]++;
          correct += best == y[i];
        }
    }
  r->accuracy = ds->n > 0 ? (double) correct / ds->n : NAN;
  r->loss = ds->n > 0 ? loss_sum / ds->n : NAN;
  for (int c = 0; c < k; c++)
    {
      gint64 row = 0;
      for (int j = 0; j < k; j++)
        row += r->confusion[(gsize) c * k + j];
      r->per_class_acc[c] = row > 0 ? (double) r->confusion[(gsize) c * k + c] / row : NAN;
    }
  return r;
}
