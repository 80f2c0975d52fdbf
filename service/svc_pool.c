/* svc_pool.c - the fixed pool of worker threads and its bounded FIFO.  A
 * job is a suspended connection; the worker scores it, marks it done and
 * resumes the connection so MHD's thread queues the reply.
 * SPDX-License-Identifier: MIT */
#include "svc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static svc_conn *head, *tail;
static int nqueued, nrunning, nworkers;
static bool stopping;
static pthread_t *threads;
static uint64_t *running_bytes; /* per worker: its job's estimate */

static void *
worker(void *arg)
{
  const int me = (int)(intptr_t)arg;
  for (;;) {
    pthread_mutex_lock(&mu);
    while (head == NULL && !stopping)
      pthread_cond_wait(&cv, &mu);
    if (head == NULL) { /* stopping and nothing left */
      pthread_mutex_unlock(&mu);
      return NULL;
    }
    svc_conn *c = head;
    head = c->next;
    if (head == NULL)
      tail = NULL;
    nqueued--;
    nrunning++;
    running_bytes[me] = c->job_bytes;
    pthread_mutex_unlock(&mu);

    h_score_run(c);
    atomic_store(&c->job, SVC_JOB_DONE);
    pthread_mutex_lock(&mu);
    nrunning--;
    running_bytes[me] = 0;
    pthread_mutex_unlock(&mu);
    MHD_resume_connection(c->mhd); /* c belongs to MHD's thread again */
  }
}

int
svc_pool_start(int workers)
{
  threads = calloc((size_t)workers, sizeof *threads);
  running_bytes = calloc((size_t)workers, sizeof *running_bytes);
  if (threads == NULL || running_bytes == NULL)
    return -1;
  for (nworkers = 0; nworkers < workers; nworkers++)
    if (pthread_create(&threads[nworkers], NULL, worker,
                       (void *)(intptr_t)nworkers)
        != 0)
      return -1;
  return 0;
}

int
svc_pool_submit(svc_conn *c)
{
  pthread_mutex_lock(&mu);
  if (stopping || nqueued >= svc_capacity()) {
    pthread_mutex_unlock(&mu);
    return -1;
  }
  uint64_t max_other = 0;
  for (svc_conn *q = head; q != NULL; q = q->next)
    max_other = q->job_bytes > max_other ? q->job_bytes : max_other;
  for (int i = 0; i < nworkers; i++)
    max_other = running_bytes[i] > max_other ? running_bytes[i] : max_other;
  if (!svc_admit_job(c->job_bytes, max_other, nqueued + nrunning)) {
    pthread_mutex_unlock(&mu);
    return -2;
  }
  c->next = NULL;
  if (tail != NULL)
    tail->next = c;
  else
    head = c;
  tail = c;
  nqueued++;
  atomic_store(&c->job, SVC_JOB_QUEUED);
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  return 0;
}

void
svc_pool_stop(void)
{
  pthread_mutex_lock(&mu);
  stopping = true;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  for (int i = 0; i < nworkers; i++)
    pthread_join(threads[i], NULL);
  free(threads);
  free(running_bytes);
  threads = NULL;
  running_bytes = NULL;
  nworkers = 0;
}

int
svc_pool_queued(void)
{
  pthread_mutex_lock(&mu);
  int n = nqueued;
  pthread_mutex_unlock(&mu);
  return n;
}

int
svc_pool_running(void)
{
  pthread_mutex_lock(&mu);
  int n = nrunning;
  pthread_mutex_unlock(&mu);
  return n;
}
