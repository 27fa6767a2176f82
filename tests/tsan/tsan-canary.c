/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tsan-canary: a deliberate data race in project code, for .ci/run-sanitizers: a job on the
 * FwJobRunner worker writes a plain (non-atomic) counter that the main thread reads and
 * writes with no lock. Under TSan with tests/tsan.supp this MUST be reported (exit 66): if it
 * is not, the suppressions hide races in our own code. Built only in TSan builds. */
#include <stdio.h>

#include "fw-job.h"

static int counter;        /* shared, unsynchronised: the race */

static gboolean
racy_job (FwJob *job, gpointer data, GCancellable *cancellable, GError **error)
{
  for (int i = 0; i < 100000; i++)
    counter++;
  return TRUE;
}

int
main (void)
{
  g_autoptr(FwJobRunner) runner = fw_job_runner_new ();
  g_autoptr(FwJob) job = fw_job_runner_submit (runner, "race", racy_job, NULL, NULL, NULL,
                                               NULL, NULL);
  for (int i = 0; i < 100000; i++)
    counter--;
  fw_job_wait (job, NULL);
  printf ("counter = %d (not 0 means the race even lost updates)\n", counter);
  return 0;
}
