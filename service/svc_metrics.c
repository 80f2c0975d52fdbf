/* svc_metrics.c - counters for GET /metrics, written by hand in the
 * Prometheus text format 0.0.4 (no C client library is worth the
 * dependency).  Route labels come from the route table only, never from
 * client paths, so cardinality stays fixed.  SPDX-License-Identifier: MIT */
#include "svc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double buckets[]
    = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120 };
#define NBUCKETS (sizeof buckets / sizeof *buckets)
#define MAX_ROUTES 16
#define MAX_CODES 24
#define NREASONS 3

static const char *const reasons[NREASONS]
    = { "queue_full", "memory", "draining" };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  int code;
  uint64_t n;
} requests[MAX_ROUTES + 1][MAX_CODES];
static uint64_t hist[MAX_ROUTES + 1][NBUCKETS];
static uint64_t hist_count[MAX_ROUTES + 1];
static double hist_sum[MAX_ROUTES + 1];
static uint64_t bytes_in, voxels, rejected[NREASONS];

static int
route_index(const svc_conn *c)
{
  if (c->route == NULL)
    return svc_nroutes; /* "other": unknown paths */
  return (int)(c->route - svc_routes);
}

static const char *
route_name(int i)
{
  return i < svc_nroutes ? svc_routes[i].name : "other";
}

void
svc_metrics_request(const svc_conn *c, double seconds)
{
  int r = route_index(c);
  pthread_mutex_lock(&mu);
  for (int k = 0; k < MAX_CODES; k++) {
    if (requests[r][k].code == 0)
      requests[r][k].code = c->status;
    if (requests[r][k].code == c->status) {
      requests[r][k].n++;
      break;
    }
  }
  for (size_t b = 0; b < NBUCKETS; b++)
    if (seconds <= buckets[b])
      hist[r][b]++;
  hist_count[r]++;
  hist_sum[r] += seconds;
  bytes_in += c->bytes_in;
  voxels += c->voxels;
  pthread_mutex_unlock(&mu);
}

void
svc_metrics_rejected(const char *reason)
{
  pthread_mutex_lock(&mu);
  for (int i = 0; i < NREASONS; i++)
    if (reasons[i] == reason || strcmp(reasons[i], reason) == 0)
      rejected[i]++;
  pthread_mutex_unlock(&mu);
}

static void
gauge(FILE *f, const char *name, const char *help, double v)
{
  fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name,
          name, v);
}

char *
svc_metrics_render(size_t *len)
{
  char *text = NULL;
  FILE *f = open_memstream(&text, len);
  if (f == NULL)
    return NULL;
  pthread_mutex_lock(&mu);
  fputs("# HELP segscored_http_requests_total HTTP requests by route and "
        "status code.\n# TYPE segscored_http_requests_total counter\n",
        f);
  for (int r = 0; r <= svc_nroutes; r++)
    for (int k = 0; k < MAX_CODES && requests[r][k].code != 0; k++)
      fprintf(f,
              "segscored_http_requests_total{route=\"%s\",code=\"%d\"} "
              "%llu\n",
              route_name(r), requests[r][k].code,
              (unsigned long long)requests[r][k].n);
  fputs("# HELP segscored_http_request_duration_seconds Time from the "
        "request's headers to its completion.\n"
        "# TYPE segscored_http_request_duration_seconds histogram\n",
        f);
  for (int r = 0; r <= svc_nroutes; r++) {
    if (hist_count[r] == 0)
      continue;
    for (size_t b = 0; b < NBUCKETS; b++)
      fprintf(f,
              "segscored_http_request_duration_seconds_bucket{route=\"%s\","
              "le=\"%g\"} %llu\n",
              route_name(r), buckets[b], (unsigned long long)hist[r][b]);
    fprintf(f,
            "segscored_http_request_duration_seconds_bucket{route=\"%s\","
            "le=\"+Inf\"} %llu\n"
            "segscored_http_request_duration_seconds_sum{route=\"%s\"} "
            "%.9g\n"
            "segscored_http_request_duration_seconds_count{route=\"%s\"} "
            "%llu\n",
            route_name(r), (unsigned long long)hist_count[r], route_name(r),
            hist_sum[r], route_name(r), (unsigned long long)hist_count[r]);
  }
  fprintf(f,
          "# HELP segscored_upload_bytes_total Request body bytes "
          "received.\n# TYPE segscored_upload_bytes_total counter\n"
          "segscored_upload_bytes_total %llu\n"
          "# HELP segscored_voxels_scored_total Voxels scored (prediction "
          "grid, per reference).\n# TYPE segscored_voxels_scored_total "
          "counter\nsegscored_voxels_scored_total %llu\n"
          "# HELP segscored_rejected_total Score requests refused by "
          "admission control.\n# TYPE segscored_rejected_total counter\n",
          (unsigned long long)bytes_in, (unsigned long long)voxels);
  for (int i = 0; i < NREASONS; i++)
    fprintf(f, "segscored_rejected_total{reason=\"%s\"} %llu\n", reasons[i],
            (unsigned long long)rejected[i]);
  pthread_mutex_unlock(&mu);
  gauge(f, "segscored_queue_depth", "Jobs waiting for a worker.",
        svc_pool_queued());
  gauge(f, "segscored_jobs_in_flight", "Jobs running on workers.",
        svc_pool_running());
  gauge(f, "segscored_admitted_requests",
        "Score requests holding a job slot (uploaded; queued or running).",
        atomic_load(&svc.admitted));
  gauge(f, "segscored_uploads_in_flight",
        "Score requests whose body is still coming in (no slot yet).",
        atomic_load(&svc.uploading));
  gauge(f, "segscored_capacity", "Job slots: workers plus queue.",
        svc_capacity());
  gauge(f, "segscored_memory_reserved_bytes",
        "Memory reserved by admitted requests (estimate).",
        (double)atomic_load(&svc.mem_reserved));
  gauge(f, "segscored_memory_budget_bytes", "Admission memory budget.",
        (double)svc.cfg.max_memory_bytes);
  gauge(f, "segscored_workers", "Worker threads.", svc.cfg.workers);
  gauge(f, "segscored_threads_per_job", "OpenMP threads per job.",
        svc.cfg.threads_per_job);
  gauge(f, "segscored_draining", "1 while shutting down.",
        atomic_load(&svc.draining) ? 1 : 0);
  if (fclose(f) != 0) {
    free(text);
    return NULL;
  }
  return text;
}
