/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests of the job runner: event order on the consumer's context, coalesced progress, one final
 * event, cancel, failure, sequential jobs, pause, freeing a busy runner, training hooks. */
#include <math.h>
#include <string.h>

#include "fw-error.h"
#include "fw-job.h"
#include "fw-util.h"

/* ---- what the consumer saw ---- */

typedef struct {
  FwEventKind kind;
  double fraction, eta_s, elapsed_s;
  int epoch, batch;
  char *message;
  GQuark domain;
  int code;
  FwEpochMetrics metrics;
} Seen;

typedef struct {
  GArray *seen;          /* Seen */
  GThread *expected_thread;
  gboolean wrong_thread;
  int n_progress, n_final;
  gboolean event_after_final;
} Recorder;

static void
seen_clear (gpointer p)
{
  g_free (((Seen *) p)->message);
}

static void
recorder_init (Recorder *r)
{
  memset (r, 0, sizeof *r);
  r->seen = g_array_new (FALSE, TRUE, sizeof (Seen));
  g_array_set_clear_func (r->seen, seen_clear);
  r->expected_thread = g_thread_self ();
}

static void
recorder_clear (Recorder *r)
{
  g_array_unref (r->seen);
}

static void
record_event (FwJob *job, const FwEvent *ev, gpointer user)
{
  Recorder *r = user;
  if (g_thread_self () != r->expected_thread)
    r->wrong_thread = TRUE;
  if (r->n_final > 0)
    r->event_after_final = TRUE;
  Seen s = { 0 };
  s.kind = ev->kind;
  s.fraction = ev->fraction;
  s.eta_s = ev->eta_s;
  s.elapsed_s = ev->elapsed_s;
  s.epoch = ev->epoch;
  s.batch = ev->batch;
  s.message = g_strdup (ev->message);
  s.metrics = ev->metrics;
  if (ev->error != NULL)
    {
      s.domain = ev->error->domain;
      s.code = ev->error->code;
    }
  g_array_append_val (r->seen, s);
  if (ev->kind == FW_EVENT_PROGRESS)
    r->n_progress++;
  if (ev->kind == FW_EVENT_FINISHED || ev->kind == FW_EVENT_FAILED
      || ev->kind == FW_EVENT_CANCELLED)
    r->n_final++;
}

static const Seen *
last_of_kind (Recorder *r, FwEventKind kind)
{
  for (int i = (int) r->seen->len - 1; i >= 0; i--)
    if (g_array_index (r->seen, Seen, i).kind == kind)
      return &g_array_index (r->seen, Seen, i);
  return NULL;
}

static int
count_kind (Recorder *r, FwEventKind kind)
{
  int n = 0;
  for (guint i = 0; i < r->seen->len; i++)
    n += g_array_index (r->seen, Seen, i).kind == kind;
  return n;
}

/* Iterates ctx until cond(user) holds or timeout_s passes; returns whether it holds. */
static gboolean
wait_for (GMainContext *ctx, gboolean (*cond) (gpointer), gpointer user, double timeout_s)
{
  double end = fw_now () + timeout_s;
  while (!cond (user))
    {
      if (fw_now () > end)
        return FALSE;
      if (!g_main_context_iteration (ctx, FALSE))
        g_usleep (500);
    }
  return TRUE;
}

static gboolean
job_done_cond (gpointer job)
{
  return fw_job_is_done (job);
}

/* Iterates ctx for about s seconds. */
static void
spin (GMainContext *ctx, double s)
{
  double end = fw_now () + s;
  while (fw_now () < end)
    if (!g_main_context_iteration (ctx, FALSE))
      g_usleep (500);
}

/* ---- job functions ---- */

static gboolean
job_script (FwJob *job, gpointer data, GCancellable *c, GError **error)
{
  fw_job_log (job, "first");
  fw_job_progress (job, 0.25, 1, 2, 1, 2, 1.5, 0.5);
  FwEpochMetrics m = { .epoch = 1, .train_loss = 1.25, .train_acc = 0.5, .val_loss = NAN,
                       .val_acc = NAN, .test_acc = NAN, .lr = 0.1, .seconds = 0.01 };
  fw_job_emit_epoch (job, &m);
  fw_job_log (job, "second %d", 2);
  fw_job_emit_snapshot (job, "text", g_strdup ("payload"), g_free);
  fw_job_progress (job, 0.5, 2, 2, 1, 2, 1.0, 0.6);
  return TRUE;
}

static void
test_events_arrive_in_order (void)
{
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  Recorder r;
  recorder_init (&r);
  g_autoptr (FwJob) job = fw_job_runner_submit (runner, "script", job_script, NULL, NULL, NULL,
                                                record_event, &r);
  g_assert_cmpstr (fw_job_get_name (job), ==, "script");
  g_assert_true (wait_for (NULL, job_done_cond, job, 10));

  /* the discrete events in emission order, the final one last and alone */
  const FwEventKind expect[] = { FW_EVENT_STARTED, FW_EVENT_LOG, FW_EVENT_EPOCH, FW_EVENT_LOG,
                                 FW_EVENT_SNAPSHOT, FW_EVENT_FINISHED };
  guint k = 0;
  for (guint i = 0; i < r.seen->len; i++)
    {
      const Seen *s = &g_array_index (r.seen, Seen, i);
      if (s->kind == FW_EVENT_PROGRESS)
        continue;
      if (k >= G_N_ELEMENTS (expect))
        g_error ("more discrete events than expected");
      g_assert_cmpint (s->kind, ==, expect[k]);
      if (k == 1)
        g_assert_cmpstr (s->message, ==, "first");
      if (k == 2)
        {
          g_assert_cmpint (s->metrics.epoch, ==, 1);
          g_assert_cmpfloat (s->metrics.train_loss, ==, 1.25);
          g_assert_true (isnan (s->metrics.val_loss));
        }
      if (k == 3)
        g_assert_cmpstr (s->message, ==, "second 2");
      k++;
    }
  g_assert_cmpuint (k, ==, G_N_ELEMENTS (expect));
  g_assert_cmpint (g_array_index (r.seen, Seen, r.seen->len - 1).kind, ==, FW_EVENT_FINISHED);
  g_assert_cmpint (r.n_final, ==, 1);
  g_assert_false (r.event_after_final);
  g_assert_false (r.wrong_thread);
  /* the latest progress reached the consumer */
  g_assert_nonnull (last_of_kind (&r, FW_EVENT_PROGRESS));
  g_assert_cmpfloat (last_of_kind (&r, FW_EVENT_PROGRESS)->fraction, ==, 0.5);
  /* nothing more arrives later */
  spin (NULL, 0.05);
  g_assert_cmpint (r.n_final, ==, 1);
  g_assert_cmpuint (fw_job_runner_pending (runner), ==, 0);
  recorder_clear (&r);
}

/* A snapshot payload that counts its frees. */
static void
count_free (gpointer p)
{
  g_atomic_int_inc ((int *) p);
}

static gboolean
job_snapshot_count (FwJob *job, gpointer data, GCancellable *c, GError **error)
{
  fw_job_emit_snapshot (job, "counter", data, count_free);
  return TRUE;
}

static void
test_snapshot_payload_is_freed_once (void)
{
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  int frees = 0;
  Recorder r;
  recorder_init (&r);
  g_autoptr (FwJob) job = fw_job_runner_submit (runner, "snap", job_snapshot_count, &frees,
                                                NULL, NULL, record_event, &r);
  fw_job_wait (job, NULL);
  g_assert_cmpint (count_kind (&r, FW_EVENT_SNAPSHOT), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&frees), ==, 1);
  recorder_clear (&r);
}

static gboolean
job_many_progress (FwJob *job, gpointer data, GCancellable *c, GError **error)
{
  int n = GPOINTER_TO_INT (data);
  for (int i = 1; i <= n; i++)
    fw_job_progress (job, (double) i / n, 1, 1, i, n, 1.0 / i, 0.5);
  return TRUE;
}

static void
test_progress_is_coalesced (void)
{
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  Recorder r;
  recorder_init (&r);
  const int n = 10000;
  g_autoptr (FwJob) job = fw_job_runner_submit (runner, "many", job_many_progress,
                                                GINT_TO_POINTER (n), NULL, NULL, record_event,
                                                &r);
  g_assert_true (wait_for (NULL, job_done_cond, job, 20));
  g_test_message ("%d progress calls -> %d deliveries", n, r.n_progress);
  g_assert_cmpint (r.n_progress, >=, 1);
  g_assert_cmpint (r.n_progress, <, n / 20);
  /* fractions never go back; the last delivered is the last reported */
  double prev = -1;
  for (guint i = 0; i < r.seen->len; i++)
    {
      const Seen *s = &g_array_index (r.seen, Seen, i);
      if (s->kind != FW_EVENT_PROGRESS)
        continue;
      g_assert_cmpfloat (s->fraction, >=, prev);
      prev = s->fraction;
    }
  const Seen *last = last_of_kind (&r, FW_EVENT_PROGRESS);
  g_assert_cmpfloat (last->fraction, ==, 1.0);
  g_assert_cmpint (last->batch, ==, n);
  g_assert_cmpint (r.n_final, ==, 1);
  g_assert_cmpint (g_array_index (r.seen, Seen, r.seen->len - 1).kind, ==, FW_EVENT_FINISHED);
  recorder_clear (&r);
}

/* Runs until cancelled, counting its progress calls. */
typedef struct {
  int count;             /* atomic */
  int ran;               /* atomic */
  int freed;             /* atomic */
  int saw_cancel;        /* atomic */
} Loop;

static gboolean
job_loop (FwJob *job, gpointer data, GCancellable *c, GError **error)
{
  Loop *l = data;
  g_atomic_int_set (&l->ran, 1);
  for (int i = 0; ; i++)
    {
      if (g_cancellable_is_cancelled (c))
        {
          g_atomic_int_set (&l->saw_cancel, 1);
          g_set_error (error, FW_ERROR, FW_ERROR_CANCELLED, "cancelled at step %d", i);
          return FALSE;
        }
      fw_job_progress (job, 0.5, 1, 1, i, 0, 0, 0);
      g_atomic_int_inc (&l->count);
      g_usleep (200);
    }
}

static void
loop_free (gpointer data)
{
  g_atomic_int_set (&((Loop *) data)->freed, 1);
}

static gboolean
loop_started_cond (gpointer l)
{
  return g_atomic_int_get (&((Loop *) l)->count) > 10;
}

static void
test_cancel_mid_run (void)
{
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  Recorder r;
  recorder_init (&r);
  Loop l = { 0 };
  g_autoptr (FwJob) job = fw_job_runner_submit (runner, "loop", job_loop, &l, loop_free, NULL,
                                                record_event, &r);
  g_assert_true (wait_for (NULL, loop_started_cond, &l, 10));
  double t0 = fw_now ();
  fw_job_cancel (job);
  g_assert_true (wait_for (NULL, job_done_cond, job, 5));
  double dt = fw_now () - t0;
  g_test_message ("cancel took %.1f ms", dt * 1e3);
  g_assert_cmpfloat (dt, <, 1.0);
  g_assert_true (g_atomic_int_get (&l.saw_cancel));
  g_assert_true (g_atomic_int_get (&l.freed));
  g_assert_cmpint (r.n_final, ==, 1);
  g_assert_cmpint (g_array_index (r.seen, Seen, r.seen->len - 1).kind, ==, FW_EVENT_CANCELLED);
  g_assert_cmpint (count_kind (&r, FW_EVENT_FAILED), ==, 0);
  recorder_clear (&r);
}

static void
test_cancel_before_start_skips (void)
{
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  Recorder ra, rb;
  recorder_init (&ra);
  recorder_init (&rb);
  Loop la = { 0 }, lb = { 0 };
  g_autoptr (FwJob) a = fw_job_runner_submit (runner, "a", job_loop, &la, loop_free, NULL,
                                              record_event, &ra);
  g_autoptr (FwJob) b = fw_job_runner_submit (runner, "b", job_loop, &lb, loop_free, NULL,
                                              record_event, &rb);
  g_assert_true (wait_for (NULL, loop_started_cond, &la, 10));
  fw_job_cancel (b);
  fw_job_cancel (a);
  g_assert_true (wait_for (NULL, job_done_cond, b, 5));
  g_assert_true (wait_for (NULL, job_done_cond, a, 5));
  g_assert_false (g_atomic_int_get (&lb.ran));
  g_assert_true (g_atomic_int_get (&lb.freed));
  g_assert_cmpint (count_kind (&rb, FW_EVENT_STARTED), ==, 0);
  g_assert_cmpint (count_kind (&rb, FW_EVENT_QUEUED), ==, 1);
  g_assert_cmpint (rb.n_final, ==, 1);
  g_assert_cmpint (g_array_index (rb.seen, Seen, rb.seen->len - 1).kind, ==,
                   FW_EVENT_CANCELLED);
  recorder_clear (&ra);
  recorder_clear (&rb);
}

static gboolean
job_fail (FwJob *job, gpointer data, GCancellable *c, GError **error)
{
  fw_job_progress (job, 0.3, 1, 1, 1, 3, 0, 0);
  g_set_error (error, FW_ERROR, FW_ERROR_IO, "cannot write /nowhere/x.csv: disk full");
  return FALSE;
}

static gboolean
job_fail_silently (FwJob *job, gpointer data, GCancellable *c, GError **error)
{
  return FALSE;
}

static void
test_failure_is_reported (void)
{
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  Recorder r, r2;
  recorder_init (&r);
  recorder_init (&r2);
  g_autoptr (FwJob) job = fw_job_runner_submit (runner, "fail", job_fail, NULL, NULL, NULL,
                                                record_event, &r);
  g_autoptr (FwJob) job2 = fw_job_runner_submit (runner, "mute", job_fail_silently, NULL, NULL,
                                                 NULL, record_event, &r2);
  fw_job_wait (job, NULL);
  fw_job_wait (job2, NULL);
  const Seen *f = last_of_kind (&r, FW_EVENT_FAILED);
  g_assert_nonnull (f);
  g_assert_cmpint (r.n_final, ==, 1);
  g_assert_true (f->domain == FW_ERROR);
  g_assert_cmpint (f->code, ==, FW_ERROR_IO);
  g_assert_nonnull (strstr (f->message, "disk full"));
  /* a job that fails without an error still fails, with a message */
  f = last_of_kind (&r2, FW_EVENT_FAILED);
  g_assert_nonnull (f);
  g_assert_nonnull (strstr (f->message, "mute"));
  recorder_clear (&r);
  recorder_clear (&r2);
}

/* Sequential: each job checks nobody else runs and appends its index. */
typedef struct {
  GMutex lock;
  GArray *order;
  int running;           /* atomic */
  gboolean overlap;
} Seq;

typedef struct {
  Seq *seq;
  int index;
} SeqItem;

static gboolean
job_seq (FwJob *job, gpointer data, GCancellable *c, GError **error)
{
  SeqItem *it = data;
  if (g_atomic_int_add (&it->seq->running, 1) != 0)
    it->seq->overlap = TRUE;
  for (int i = 0; i < 20; i++)
    {
      fw_job_progress (job, i / 20.0, 1, 1, i, 20, 0, 0);
      g_usleep (1000);
    }
  g_mutex_lock (&it->seq->lock);
  g_array_append_val (it->seq->order, it->index);
  g_mutex_unlock (&it->seq->lock);
  g_atomic_int_add (&it->seq->running, -1);
  return TRUE;
}

static void
test_jobs_run_in_submission_order (void)
{
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  Seq seq = { 0 };
  g_mutex_init (&seq.lock);
  seq.order = g_array_new (FALSE, FALSE, sizeof (int));
  Recorder r[4];
  SeqItem items[4];
  FwJob *jobs[4];
  for (int i = 0; i < 4; i++)
    {
      recorder_init (&r[i]);
      items[i] = (SeqItem) { &seq, i };
      jobs[i] = fw_job_runner_submit (runner, "seq", job_seq, &items[i], NULL, NULL,
                                      record_event, &r[i]);
    }
  g_assert_cmpuint (fw_job_runner_pending (runner), >=, 2);
  for (int i = 0; i < 4; i++)
    g_assert_true (wait_for (NULL, job_done_cond, jobs[i], 10));
  g_assert_false (seq.overlap);
  g_assert_cmpuint (seq.order->len, ==, 4);
  for (int i = 0; i < 4; i++)
    g_assert_cmpint (g_array_index (seq.order, int, i), ==, i);
  /* the first started at once; the others were told they wait */
  g_assert_cmpint (count_kind (&r[0], FW_EVENT_QUEUED), ==, 0);
  for (int i = 1; i < 4; i++)
    {
      g_assert_cmpint (count_kind (&r[i], FW_EVENT_QUEUED), ==, 1);
      g_assert_cmpint (g_array_index (r[i].seen, Seen, 0).kind, ==, FW_EVENT_QUEUED);
    }
  for (int i = 0; i < 4; i++)
    {
      g_assert_cmpint (r[i].n_final, ==, 1);
      g_assert_cmpint (count_kind (&r[i], FW_EVENT_STARTED), ==, 1);
      recorder_clear (&r[i]);
      fw_job_unref (jobs[i]);
    }
  g_assert_cmpuint (fw_job_runner_pending (runner), ==, 0);
  g_array_unref (seq.order);
  g_mutex_clear (&seq.lock);
}

static void
test_pause_blocks_progress (void)
{
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  Recorder r;
  recorder_init (&r);
  Loop l = { 0 };
  g_autoptr (FwJob) job = fw_job_runner_submit (runner, "loop", job_loop, &l, NULL, NULL,
                                                record_event, &r);
  g_assert_true (wait_for (NULL, loop_started_cond, &l, 10));
  g_assert_false (fw_job_is_paused (job));
  int c0 = g_atomic_int_get (&l.count);
  fw_job_set_paused (job, TRUE);
  g_assert_true (fw_job_is_paused (job));
  /* the worker may finish the step in flight (one count), then stands still in
   * fw_job_progress() however long we wait */
  double end = fw_now () + 0.3;
  while (fw_now () < end)
    {
      spin (NULL, 0.01);
      g_assert_cmpint (g_atomic_int_get (&l.count), <=, c0 + 1);
    }
  int c2 = g_atomic_int_get (&l.count);
  g_assert_false (fw_job_is_done (job));

  fw_job_set_paused (job, FALSE);
  g_assert_false (fw_job_is_paused (job));
  end = fw_now () + 5;
  while (g_atomic_int_get (&l.count) < c2 + 10 && fw_now () < end)
    spin (NULL, 0.01);
  g_assert_cmpint (g_atomic_int_get (&l.count), >=, c2 + 10);

  /* cancel wakes a paused job */
  fw_job_set_paused (job, TRUE);
  spin (NULL, 0.05);
  double t0 = fw_now ();
  fw_job_cancel (job);
  g_assert_true (wait_for (NULL, job_done_cond, job, 5));
  g_assert_cmpfloat (fw_now () - t0, <, 1.0);
  g_assert_cmpint (g_array_index (r.seen, Seen, r.seen->len - 1).kind, ==, FW_EVENT_CANCELLED);
  recorder_clear (&r);
}

static void
test_runner_free_cancels_and_joins (void)
{
  FwJobRunner *runner = fw_job_runner_new ();
  Recorder r;
  recorder_init (&r);
  Loop la = { 0 }, lb = { 0 };
  FwJob *a = fw_job_runner_submit (runner, "a", job_loop, &la, loop_free, NULL, record_event,
                                   &r);
  FwJob *b = fw_job_runner_submit (runner, "b", job_loop, &lb, loop_free, NULL, record_event,
                                   &r);
  g_assert_true (wait_for (NULL, loop_started_cond, &la, 10));
  double t0 = fw_now ();
  fw_job_runner_free (runner);
  double dt = fw_now () - t0;
  g_test_message ("free took %.1f ms", dt * 1e3);
  g_assert_cmpfloat (dt, <, 1.0);
  /* joined: the running job saw the cancel and returned; its data and the queued job's data
   * were released; the queued job never ran */
  g_assert_true (g_atomic_int_get (&la.saw_cancel));
  g_assert_true (g_atomic_int_get (&la.freed));
  g_assert_false (g_atomic_int_get (&lb.ran));
  g_assert_true (g_atomic_int_get (&lb.freed));
  int before = r.seen->len;
  /* pending sources still hold job references: iterating after free is safe and delivers
   * nothing more */
  spin (NULL, 0.05);
  int n_after_free = 0;
  for (guint i = before; i < r.seen->len; i++)
    n_after_free++;
  g_assert_cmpint (n_after_free, ==, 0);
  g_assert_true (fw_job_is_done (a));
  g_assert_true (fw_job_is_done (b));
  fw_job_unref (a);
  fw_job_unref (b);
  recorder_clear (&r);
}

/* The ETA is the remaining fraction at the average rate so far. */
static gboolean
job_timed (FwJob *job, gpointer data, GCancellable *c, GError **error)
{
  g_usleep (60000);
  fw_job_progress (job, 0.25, 1, 1, 1, 4, 0, 0);
  g_usleep (60000);  /* leaves time for the delivery */
  return TRUE;
}

static void
test_eta_from_elapsed_and_fraction (void)
{
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  Recorder r;
  recorder_init (&r);
  g_autoptr (FwJob) job = fw_job_runner_submit (runner, "timed", job_timed, NULL, NULL, NULL,
                                                record_event, &r);
  fw_job_wait (job, NULL);
  const Seen *p = last_of_kind (&r, FW_EVENT_PROGRESS);
  g_assert_nonnull (p);
  g_assert_cmpfloat (p->fraction, ==, 0.25);
  /* 0.25 done after >= 60 ms: about 3 x elapsed left */
  g_assert_cmpfloat (p->elapsed_s, >=, 0.055);
  g_assert_cmpfloat (fabs (p->eta_s - 3 * p->elapsed_s), <, 0.05 * p->eta_s);
  recorder_clear (&r);
}

/* fw_train's hooks become progress and epoch events. */
static gboolean
job_hooks (FwJob *job, gpointer data, GCancellable *c, GError **error)
{
  FwTrainHooks h;
  fw_job_train_hooks_init (&h, job);
  g_assert_true (h.user == job);
  g_assert_null (fw_job_train_hooks ()->user);
  h.batch (h.user, 2, 4, 5, 10, 0.7, 0.8);
  FwEpochMetrics m = { .epoch = 2, .train_loss = 0.7, .train_acc = 0.8, .val_loss = 0.9,
                       .val_acc = 0.75, .test_acc = NAN, .lr = 0.01, .seconds = 1.5 };
  h.epoch (h.user, &m);
  return TRUE;
}

static void
test_train_hooks_forward_to_events (void)
{
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  Recorder r;
  recorder_init (&r);
  g_autoptr (FwJob) job = fw_job_runner_submit (runner, "hooks", job_hooks, NULL, NULL, NULL,
                                                record_event, &r);
  fw_job_wait (job, NULL);
  g_assert_cmpint (count_kind (&r, FW_EVENT_FINISHED), ==, 1);
  const Seen *p = last_of_kind (&r, FW_EVENT_PROGRESS);
  g_assert_nonnull (p);
  /* (epoch - 1 + batch / n_batches) / n_epochs = (1 + 5/10) / 4 */
  g_assert_cmpfloat (fabs (p->fraction - 0.375), <, 1e-12);
  g_assert_cmpint (p->epoch, ==, 2);
  g_assert_cmpint (p->batch, ==, 5);
  const Seen *e = last_of_kind (&r, FW_EVENT_EPOCH);
  g_assert_nonnull (e);
  g_assert_cmpint (e->metrics.epoch, ==, 2);
  g_assert_cmpfloat (e->metrics.val_acc, ==, 0.75);
  g_assert_cmpfloat (e->metrics.seconds, ==, 1.5);
  recorder_clear (&r);
}

/* Events go to the context given at submission, not to the default one. */
static void
test_events_on_given_context (void)
{
  g_autoptr (FwJobRunner) runner = fw_job_runner_new ();
  g_autoptr (GMainContext) ctx = g_main_context_new ();
  Recorder r;
  recorder_init (&r);
  g_autoptr (FwJob) job = fw_job_runner_submit (runner, "ctx", job_script, NULL, NULL, ctx,
                                                record_event, &r);
  /* iterate only the default context: nothing may arrive */
  spin (NULL, 0.1);
  g_assert_cmpuint (r.seen->len, ==, 0);
  g_assert_true (wait_for (ctx, job_done_cond, job, 10));
  g_assert_cmpint (r.n_final, ==, 1);
  g_assert_false (r.wrong_thread);
  recorder_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Jobs/events_arrive_in_order", test_events_arrive_in_order);
  g_test_add_func ("/Jobs/snapshot_payload_is_freed_once", test_snapshot_payload_is_freed_once);
  g_test_add_func ("/Jobs/progress_is_coalesced", test_progress_is_coalesced);
  g_test_add_func ("/Jobs/cancel_mid_run_yields_cancelled", test_cancel_mid_run);
  g_test_add_func ("/Jobs/cancel_before_start_skips_the_job", test_cancel_before_start_skips);
  g_test_add_func ("/Jobs/failure_is_reported_with_its_message", test_failure_is_reported);
  g_test_add_func ("/Jobs/jobs_run_in_submission_order", test_jobs_run_in_submission_order);
  g_test_add_func ("/Jobs/pause_blocks_progress_until_resume", test_pause_blocks_progress);
  g_test_add_func ("/Jobs/runner_free_cancels_and_joins", test_runner_free_cancels_and_joins);
  g_test_add_func ("/Jobs/eta_from_elapsed_and_fraction", test_eta_from_elapsed_and_fraction);
  g_test_add_func ("/Jobs/train_hooks_forward_to_events", test_train_hooks_forward_to_events);
  g_test_add_func ("/Jobs/events_on_the_given_context", test_events_on_given_context);
  return g_test_run ();
}
