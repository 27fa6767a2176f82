/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-job.h: long work on the engine's one worker thread, with events and cancellation.
 *
 * A job is a function run on the worker thread: run(job, data, cancellable, error). It reports
 * through fw_job_progress() (coalesced: only the latest value is kept until delivered),
 * fw_job_emit() (queued, never dropped: epoch metrics, logs, snapshots) and its result.
 * Events reach the consumer on the GMainContext given at submission (the GUI's main context,
 * or the CLI's) through at most ONE pending idle source per job: the worker never waits for
 * the consumer. Jobs run in submission order, one at a time; pause blocks the job at its next
 * fw_job_progress() call; cancel trips the job's GCancellable. */
#pragma once

#include <gio/gio.h>

#include "fw-model.h"
#include "fw-train.h"

G_BEGIN_DECLS

typedef enum {
  FW_EVENT_QUEUED,       /* the job waits behind another one */
  FW_EVENT_STARTED,
  FW_EVENT_PROGRESS,     /* fraction, epoch, batch, loss, acc, eta */
  FW_EVENT_EPOCH,        /* metrics */
  FW_EVENT_LOG,          /* message */
  FW_EVENT_SNAPSHOT,     /* payload: an immutable refcounted object, see payload_type */
  FW_EVENT_FINISHED,     /* success; message may hold a summary */
  FW_EVENT_FAILED,       /* error set */
  FW_EVENT_CANCELLED,
} FwEventKind;

typedef struct {
  FwEventKind kind;
  double fraction;       /* [0, 1] overall progress */
  int epoch, n_epochs, batch, n_batches;
  double loss, acc;
  double eta_s;          /* seconds left, < 0 when unknown */
  double elapsed_s;
  FwEpochMetrics metrics;
  char *message;         /* LOG / FINISHED */
  GError *error;         /* FAILED */
  const char *payload_type;  /* SNAPSHOT: "model", "eval", "dataset", ... (static string) */
  gpointer payload;      /* SNAPSHOT: owned by the event, freed with payload_free */
  GDestroyNotify payload_free;
} FwEvent;

typedef struct _FwJob FwJob;
typedef struct _FwJobRunner FwJobRunner;

typedef gboolean (*FwJobFunc) (FwJob *job, gpointer data, GCancellable *cancellable,
                               GError **error);
/* Called on the consumer's main context, in order. The event is valid during the call. */
typedef void (*FwEventFunc) (FwJob *job, const FwEvent *event, gpointer user_data);

FwJobRunner *fw_job_runner_new     (void);
/* Cancels every job, waits for the worker to finish, frees the runner. */
void         fw_job_runner_free    (FwJobRunner *runner);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwJobRunner, fw_job_runner_free)

/* Queues a job. data is freed with data_free on the worker thread after run returns.
 * on_event runs on context (NULL = the global default context). Returns a new reference. */
FwJob       *fw_job_runner_submit  (FwJobRunner *runner, const char *name, FwJobFunc run,
                                    gpointer data, GDestroyNotify data_free,
                                    GMainContext *context, FwEventFunc on_event,
                                    gpointer user_data);
/* The number of jobs queued or running. */
guint        fw_job_runner_pending (FwJobRunner *runner);

FwJob       *fw_job_ref            (FwJob *job);
void         fw_job_unref          (FwJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwJob, fw_job_unref)
const char  *fw_job_get_name       (FwJob *job);
void         fw_job_cancel         (FwJob *job);
void         fw_job_set_paused     (FwJob *job, gboolean paused);
gboolean     fw_job_is_paused      (FwJob *job);
/* TRUE once the final event (FINISHED / FAILED / CANCELLED) has been delivered. */
gboolean     fw_job_is_done        (FwJob *job);
/* Blocks the calling (consumer) thread, iterating context, until the job is done. */
void         fw_job_wait           (FwJob *job, GMainContext *context);

/* ---- for the job function, on the worker thread ---- */

/* Coalesced progress. Blocks here while paused (returns at once when cancelled). */
void         fw_job_progress       (FwJob *job, double fraction, int epoch, int n_epochs,
                                    int batch, int n_batches, double loss, double acc);
void         fw_job_emit_epoch     (FwJob *job, const FwEpochMetrics *m);
void         fw_job_log            (FwJob *job, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* The text of the FINISHED event when the job succeeds (the CLI prints it: put the run folder
 * and the headline numbers there, one per line). */
void         fw_job_set_summary    (FwJob *job, const char *text);
/* Takes ownership of payload. */
void         fw_job_emit_snapshot  (FwJob *job, const char *type, gpointer payload,
                                    GDestroyNotify payload_free);
/* Training hooks that forward batch/epoch callbacks of fw_train() to this job's events
 * (user = the job). */
const FwTrainHooks *fw_job_train_hooks (void);
/* The hooks above are shared (their user is NULL): copy them and set user = the job, which
 * this does: FwTrainHooks h; fw_job_train_hooks_init (&h, job); fw_train (..., &h, ...). */
void         fw_job_train_hooks_init (FwTrainHooks *hooks, FwJob *job);

G_END_DECLS
