/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw-job.c: the worker thread that runs jobs in order, and the event hand-over to the consumer.
 *
 * Threads and locks:
 *   - one worker GThread per runner pops jobs from a GAsyncQueue and runs them one at a time;
 *   - each job has a mutex guarding its event queue, its "latest progress" slot, the pause
 *     flag and the "an idle source is pending" flag;
 *   - the worker never waits for the consumer: it appends (or overwrites the progress slot) and,
 *     when no source is pending, attaches ONE source to the job's GMainContext. The callback
 *     (on the consumer's thread) takes everything out under the lock and delivers it unlocked.
 *   - progress-only wake-ups are throttled to about 60 per second (a timeout source instead of
 *     an idle one when the last delivery was recent): training at full speed cannot flood the
 *     main loop. Discrete events (epoch, log, snapshot, final) are delivered at the next idle.
 * g_main_context_invoke() is never used from the worker (see PLATFORM.md: it may run the
 * callback on the worker itself). */
#include "fw-job.h"

#include <math.h>

#include "fw-error.h"
#include "fw-util.h"

/* ThreadSanitizer does not see GLib's synchronisation (GMutex and GCond are futexes, GLib is
 * not instrumented): in TSan builds the hand-offs of this file are announced to it, so that a
 * report from the engine suite means a real race (.ci/run-sanitizers). No-ops otherwise. */
#if defined(__SANITIZE_THREAD__)
#define FW_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FW_TSAN 1
#endif
#endif
#ifdef FW_TSAN
void __tsan_acquire (void *addr);
void __tsan_release (void *addr);
#define tsan_acquire(a) __tsan_acquire ((void *) (a))
#define tsan_release(a) __tsan_release ((void *) (a))
#else
#define tsan_acquire(a) ((void) (a))
#define tsan_release(a) ((void) (a))
#endif

static inline void
lock (GMutex *m)
{
  g_mutex_lock (m);
  tsan_acquire (m);
}

static inline void
unlock (GMutex *m)
{
  tsan_release (m);
  g_mutex_unlock (m);
}

#define PROGRESS_INTERVAL_S (1.0 / 60.0)

struct _FwJob {
  /* set at submission, immutable afterwards */
  char *name;
  FwJobFunc run;
  gpointer data;
  GDestroyNotify data_free;
  GMainContext *context;      /* owned reference */
  FwEventFunc on_event;
  gpointer user_data;
  GCancellable *cancellable;  /* owned */

  /* guarded by lock */
  GMutex lock;
  GCond cond;                 /* pause / resume / cancel */
  GQueue events;              /* FwEvent*, discrete events in emission order */
  FwEvent progress;           /* the latest progress (kind PROGRESS) */
  guint64 progress_seq;       /* bumped by each fw_job_progress() */
  guint64 delivered_seq;      /* progress_seq at the last delivery */
  GSource *source;            /* the one pending delivery source, or NULL */
  double last_delivery;       /* fw_now() of the last progress delivery */
  gboolean paused;
  double paused_since;        /* fw_now() when the current pause began */
  double paused_total;        /* seconds spent paused so far (excluded from ETA) */
  gboolean muted;             /* the runner was freed: deliver nothing more */

  /* worker-side only */
  char *summary;              /* fw_job_set_summary(): the FINISHED event's message */
  double t_start;

  gint done;                  /* atomic: the final event was delivered (or dropped) */
};

struct _FwJobRunner {
  GThread *thread;
  GAsyncQueue *queue;         /* FwJob* (a reference each), or the quit marker */
  GMutex lock;
  GPtrArray *jobs;            /* queued or running jobs (references), guarded by lock */
};

/* A distinct address that is never a job: tells the worker to exit. */
static int quit_marker;

/* ---- events ---- */

static void
event_free (FwEvent *ev)
{
  if (ev == NULL)
    return;
  g_free (ev->message);
  g_clear_error (&ev->error);
  if (ev->payload != NULL && ev->payload_free != NULL)
    ev->payload_free (ev->payload);
  g_free (ev);
}

static gboolean
event_is_final (const FwEvent *ev)
{
  return ev->kind == FW_EVENT_FINISHED || ev->kind == FW_EVENT_FAILED
         || ev->kind == FW_EVENT_CANCELLED;
}

static FwEvent *
event_new (FwEventKind kind)
{
  FwEvent *ev = g_new0 (FwEvent, 1);
  ev->kind = kind;
  ev->eta_s = -1;
  ev->metrics.val_loss = ev->metrics.val_acc = ev->metrics.test_acc = NAN;
  return ev;
}

/* ---- jobs ---- */

static void
job_clear (gpointer p)
{
  FwJob *job = p;
  tsan_acquire (job); /* every earlier release of a reference happened before */
  /* data is normally freed by the worker; a job that never ran (runner never started) frees
   * it here */
  if (job->data != NULL && job->data_free != NULL)
    job->data_free (job->data);
  g_free (job->name);
  g_free (job->summary);
  g_clear_pointer (&job->context, g_main_context_unref);
  g_clear_object (&job->cancellable);
  g_queue_clear_full (&job->events, (GDestroyNotify) event_free);
  g_clear_pointer (&job->source, g_source_unref);
  g_mutex_clear (&job->lock);
  g_cond_clear (&job->cond);
}

FwJob *
fw_job_ref (FwJob *job)
{
  return g_atomic_rc_box_acquire (job);
}

void
fw_job_unref (FwJob *job)
{
  if (job != NULL)
    {
      tsan_release (job);
      g_atomic_rc_box_release_full (job, job_clear);
    }
}

const char *
fw_job_get_name (FwJob *job)
{
  return job->name;
}

gboolean
fw_job_is_done (FwJob *job)
{
  return g_atomic_int_get (&job->done) != 0;
}

/* Consumer side: takes what is pending and delivers it. Discrete events come in emission
 * order; the latest progress (when newer than the last one delivered) comes after them but
 * before the final event. */
static gboolean
job_dispatch (gpointer user)
{
  FwJob *job = user;
  GQueue events = G_QUEUE_INIT;
  FwEvent progress;
  gboolean have_progress = FALSE, muted;

  lock (&job->lock);
  GSource *src = g_steal_pointer (&job->source);
  events = job->events;
  g_queue_init (&job->events);
  if (job->progress_seq != job->delivered_seq)
    {
      progress = job->progress;
      job->delivered_seq = job->progress_seq;
      job->last_delivery = fw_now ();
      have_progress = TRUE;
    }
  muted = job->muted;
  unlock (&job->lock);
  g_clear_pointer (&src, g_source_unref);

  FwEvent *ev;
  while ((ev = g_queue_pop_head (&events)) != NULL)
    {
      if (event_is_final (ev) && have_progress)
        {
          if (!muted && job->on_event != NULL)
            job->on_event (job, &progress, job->user_data);
          have_progress = FALSE;
        }
      if (!muted && job->on_event != NULL)
        job->on_event (job, ev, job->user_data);
      if (event_is_final (ev))
        g_atomic_int_set (&job->done, 1);
      event_free (ev);
    }
  if (have_progress && !muted && job->on_event != NULL)
    job->on_event (job, &progress, job->user_data);
  return G_SOURCE_REMOVE;
}

/* A source that fires at its ready time (GLib handles sources without prepare/check through
 * g_source_set_ready_time). */
static gboolean
source_dispatch (GSource *src, GSourceFunc callback, gpointer user)
{
  g_source_set_ready_time (src, -1);
  return callback (user);
}

static GSourceFuncs job_source_funcs = { NULL, NULL, source_dispatch, NULL, NULL, NULL };

/* With job->lock held: makes sure one source will deliver what is pending, at the next idle
 * moment (discrete events) or within PROGRESS_INTERVAL_S of the last delivery (progress). */
static void
job_schedule_locked (FwJob *job, gboolean progress_only)
{
  gint64 now = g_get_monotonic_time ();
  gint64 ready = 0;
  if (progress_only)
    {
      double since = fw_now () - job->last_delivery;
      if (since < PROGRESS_INTERVAL_S)
        ready = now + (gint64) ((PROGRESS_INTERVAL_S - since) * G_USEC_PER_SEC);
    }
  if (job->source != NULL)
    {
      /* already pending: a discrete event makes a throttled delivery immediate */
      if (!progress_only)
        g_source_set_ready_time (job->source, 0);
      return;
    }
  GSource *src = g_source_new (&job_source_funcs, sizeof (GSource));
  /* G_PRIORITY_DEFAULT, above GTK's redraw (G_PRIORITY_HIGH_IDLE + 20): at idle priority a
   * main loop whose frames take longer than the frame interval (software GL under Xvfb, a slow
   * laptop) never reaches the source, and a finished job stays "queued" for ever. Deliveries
   * are coalesced and progress is throttled, so this cannot starve drawing in turn. */
  g_source_set_priority (src, G_PRIORITY_DEFAULT);
  g_source_set_name (src, "fw-job events");
  /* the source holds a reference: the callback never sees a freed job */
  g_source_set_callback (src, job_dispatch, fw_job_ref (job), (GDestroyNotify) fw_job_unref);
  g_source_set_ready_time (src, ready);
  job->source = src;  /* the job's reference, dropped when the callback takes the events */
  g_source_attach (src, job->context);
}

/* Appends a discrete event (takes ownership) and schedules its delivery. */
static void
job_push (FwJob *job, FwEvent *ev)
{
  lock (&job->lock);
  ev->elapsed_s = job->t_start > 0 ? fw_now () - job->t_start : 0;
  g_queue_push_tail (&job->events, ev);
  job_schedule_locked (job, FALSE);
  unlock (&job->lock);
}

void
fw_job_cancel (FwJob *job)
{
  g_return_if_fail (job != NULL);
  g_cancellable_cancel (job->cancellable);
  /* wake a paused worker */
  lock (&job->lock);
  g_cond_broadcast (&job->cond);
  unlock (&job->lock);
}

void
fw_job_set_paused (FwJob *job, gboolean paused)
{
  g_return_if_fail (job != NULL);
  lock (&job->lock);
  paused = !!paused;
  if (paused != job->paused)
    {
      job->paused = paused;
      if (paused)
        job->paused_since = fw_now ();
      else
        job->paused_total += fw_now () - job->paused_since;
      g_cond_broadcast (&job->cond);
    }
  unlock (&job->lock);
}

gboolean
fw_job_is_paused (FwJob *job)
{
  lock (&job->lock);
  gboolean p = job->paused;
  unlock (&job->lock);
  return p;
}

void
fw_job_wait (FwJob *job, GMainContext *context)
{
  if (context == NULL)
    context = job->context;
  while (!fw_job_is_done (job))
    g_main_context_iteration (context, TRUE);
}

/* ---- worker side ---- */

void
fw_job_progress (FwJob *job, double fraction, int epoch, int n_epochs, int batch,
                 int n_batches, double loss, double acc)
{
  lock (&job->lock);
  /* pause: wait for resume or cancel. The timed wait re-checks the cancellable even if it was
   * tripped by someone who did not go through fw_job_cancel(). */
  while (job->paused && !g_cancellable_is_cancelled (job->cancellable))
    {
      gint64 until = g_get_monotonic_time () + 100 * G_TIME_SPAN_MILLISECOND;
      tsan_release (&job->lock);
      g_cond_wait_until (&job->cond, &job->lock, until);
      tsan_acquire (&job->lock);
    }

  double now = fw_now ();
  double paused = job->paused_total + (job->paused ? now - job->paused_since : 0);
  double elapsed = now - job->t_start - paused;
  fraction = CLAMP (fraction, 0.0, 1.0);

  FwEvent *p = &job->progress;
  p->kind = FW_EVENT_PROGRESS;
  p->fraction = fraction;
  p->epoch = epoch;
  p->n_epochs = n_epochs;
  p->batch = batch;
  p->n_batches = n_batches;
  p->loss = loss;
  p->acc = acc;
  p->elapsed_s = now - job->t_start;
  /* ETA: the remaining fraction at the average rate so far, time spent paused excluded:
   *   eta = elapsed * (1 - f) / f */
  p->eta_s = (fraction > 1e-6 && elapsed > 0) ? elapsed * (1.0 - fraction) / fraction : -1;
  job->progress_seq++;
  job_schedule_locked (job, TRUE);
  unlock (&job->lock);
}

void
fw_job_emit_epoch (FwJob *job, const FwEpochMetrics *m)
{
  FwEvent *ev = event_new (FW_EVENT_EPOCH);
  ev->metrics = *m;
  ev->epoch = m->epoch;
  job_push (job, ev);
}

void
fw_job_set_summary (FwJob *job, const char *text)
{
  g_free (job->summary);
  job->summary = g_strdup (text);
}

void
fw_job_log (FwJob *job, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  FwEvent *ev = event_new (FW_EVENT_LOG);
  ev->message = g_strdup_vprintf (format, args);
  va_end (args);
  job_push (job, ev);
}

void
fw_job_emit_snapshot (FwJob *job, const char *type, gpointer payload,
                      GDestroyNotify payload_free)
{
  FwEvent *ev = event_new (FW_EVENT_SNAPSHOT);
  ev->payload_type = type;
  ev->payload = payload;
  ev->payload_free = payload_free;
  job_push (job, ev);
}

static void
hook_batch (gpointer user, int epoch, int n_epochs, int batch, int n_batches, double loss,
            double acc)
{
  /* overall fraction = (completed epochs + fraction of this one) / epochs, epoch 1-based */
  double f = n_epochs > 0 && n_batches > 0
               ? ((epoch - 1) + (double) batch / n_batches) / n_epochs : 0;
  fw_job_progress (user, f, epoch, n_epochs, batch, n_batches, loss, acc);
}

static void
hook_epoch (gpointer user, const FwEpochMetrics *m)
{
  fw_job_emit_epoch (user, m);
}

const FwTrainHooks *
fw_job_train_hooks (void)
{
  static const FwTrainHooks hooks = { hook_batch, hook_epoch, NULL };
  return &hooks;
}

void
fw_job_train_hooks_init (FwTrainHooks *hooks, FwJob *job)
{
  *hooks = *fw_job_train_hooks ();
  hooks->user = job;
}

/* Runs one job on the worker and queues its final event. */
static void
runner_run_job (FwJobRunner *runner, FwJob *job)
{
  g_autoptr (GError) error = NULL;
  FwEvent *final;

  if (g_cancellable_is_cancelled (job->cancellable))
    final = event_new (FW_EVENT_CANCELLED);
  else
    {
      lock (&job->lock);
      job->t_start = fw_now ();
      unlock (&job->lock);
      job_push (job, event_new (FW_EVENT_STARTED));

      gboolean ok = job->run (job, job->data, job->cancellable, &error);
      if (ok)
        {
          final = event_new (FW_EVENT_FINISHED);
          final->message = g_steal_pointer (&job->summary);
        }
      else if (g_error_matches (error, FW_ERROR, FW_ERROR_CANCELLED)
               || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
               || g_cancellable_is_cancelled (job->cancellable))
        final = event_new (FW_EVENT_CANCELLED);
      else
        {
          final = event_new (FW_EVENT_FAILED);
          if (error == NULL)
            g_set_error (&error, FW_ERROR, FW_ERROR_FAILED,
                         "job '%s' failed without saying why (a bug: please report it)",
                         job->name);
          final->error = g_steal_pointer (&error);
          final->message = g_strdup (final->error->message);
        }
    }

  /* the job's data is released on the worker, before the consumer hears the end */
  if (job->data_free != NULL && job->data != NULL)
    job->data_free (job->data);
  job->data = NULL;

  lock (&runner->lock);
  g_ptr_array_remove (runner->jobs, job);  /* drops the runner's list reference */
  unlock (&runner->lock);

  lock (&job->lock);
  final->fraction = job->progress.fraction;
  unlock (&job->lock);
  if (final->kind == FW_EVENT_FINISHED)
    final->fraction = 1.0;
  job_push (job, final);
}

static gpointer
runner_thread (gpointer user)
{
  FwJobRunner *runner = user;
  tsan_acquire (runner);
  for (;;)
    {
      gpointer item = g_async_queue_pop (runner->queue);
      tsan_acquire (item);
      if (item == &quit_marker)
        break;
      FwJob *job = item;
      runner_run_job (runner, job);
      fw_job_unref (job);  /* the queue's reference */
    }
  tsan_release (runner);  /* the end of the thread, acquired after the join */
  return NULL;
}

FwJobRunner *
fw_job_runner_new (void)
{
  FwJobRunner *runner = g_new0 (FwJobRunner, 1);
  g_mutex_init (&runner->lock);
  runner->queue = g_async_queue_new ();
  runner->jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) fw_job_unref);
  tsan_release (runner);
  runner->thread = g_thread_new ("fw-worker", runner_thread, runner);
  return runner;
}

FwJob *
fw_job_runner_submit (FwJobRunner *runner, const char *name, FwJobFunc run, gpointer data,
                      GDestroyNotify data_free, GMainContext *context, FwEventFunc on_event,
                      gpointer user_data)
{
  g_return_val_if_fail (runner != NULL && run != NULL, NULL);

  FwJob *job = g_atomic_rc_box_new0 (FwJob);
  g_mutex_init (&job->lock);
  g_cond_init (&job->cond);
  g_queue_init (&job->events);
  job->name = g_strdup (name != NULL ? name : "job");
  job->run = run;
  job->data = data;
  job->data_free = data_free;
  job->context = g_main_context_ref (context != NULL ? context : g_main_context_default ());
  job->on_event = on_event;
  job->user_data = user_data;
  job->cancellable = g_cancellable_new ();
  job->last_delivery = -1e9;
  job->progress.kind = FW_EVENT_PROGRESS;
  job->progress.eta_s = -1;

  lock (&runner->lock);
  gboolean busy = runner->jobs->len > 0;
  g_ptr_array_add (runner->jobs, fw_job_ref (job));
  unlock (&runner->lock);

  if (busy)
    job_push (job, event_new (FW_EVENT_QUEUED));
  tsan_release (job);
  g_async_queue_push (runner->queue, fw_job_ref (job));
  return job;
}

guint
fw_job_runner_pending (FwJobRunner *runner)
{
  lock (&runner->lock);
  guint n = runner->jobs->len;
  unlock (&runner->lock);
  return n;
}

void
fw_job_runner_free (FwJobRunner *runner)
{
  if (runner == NULL)
    return;
  /* cancel and mute every job still queued or running: after free, nothing more reaches the
   * consumer (whose callbacks may point at objects being destroyed too) */
  lock (&runner->lock);
  for (guint i = 0; i < runner->jobs->len; i++)
    {
      FwJob *job = runner->jobs->pdata[i];
      lock (&job->lock);
      job->muted = TRUE;
      unlock (&job->lock);
      fw_job_cancel (job);
    }
  unlock (&runner->lock);

  /* queued jobs are popped behind the running one, seen cancelled and skipped */
  tsan_release (&quit_marker);
  g_async_queue_push (runner->queue, &quit_marker);
  g_thread_join (runner->thread);
  tsan_acquire (runner);

  g_async_queue_unref (runner->queue);
  g_ptr_array_unref (runner->jobs);
  g_mutex_clear (&runner->lock);
  g_free (runner);
}
