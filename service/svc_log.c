/* svc_log.c - structured logs: one JSON line per request on stderr (time,
 * request id, route, status, bytes, duration, voxels) and a few lifecycle
 * events.  Never file names, NIfTI header text or voxel data: a request
 * line holds only the fields below.  SPDX-License-Identifier: MIT */
#include "svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double
svc_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* RFC 3339 UTC with milliseconds. */
static void
timestamp(char *out, size_t cap)
{
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static void
emit(json_t *line)
{
  char *text
      = line ? json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
  json_decref(line);
  if (text == NULL)
    return;
  flockfile(stderr);
  fputs(text, stderr);
  fputc('\n', stderr);
  funlockfile(stderr);
  free(text);
}

void
svc_log_request(const svc_conn *c, double duration_ms)
{
  char ts[40];
  timestamp(ts, sizeof ts);
  json_t *line
      = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:f, s:I}",
                  "ts", ts, "level",
                  c->status == 503   ? "warn"
                  : c->status >= 500 ? "error"
                                     : "info",
                  "msg", "request", "request_id", c->request_id, "method",
                  c->method, "route", c->route ? c->route->name : "other",
                  "status", c->status, "bytes_in", (json_int_t)c->bytes_in,
                  "bytes_out", (json_int_t)c->bytes_out, "duration_ms",
                  (double)(int64_t)(duration_ms * 1000.0) / 1000.0, "voxels",
                  (json_int_t)c->voxels);
  if (line != NULL && c->aborted)
    json_object_set_new(line, "aborted", json_true());
  emit(line);
}

void
svc_log(const char *level, const char *msg, const char *fmt, ...)
{
  char ts[40];
  timestamp(ts, sizeof ts);
  json_t *line
      = json_pack("{s:s, s:s, s:s}", "ts", ts, "level", level, "msg", msg);
  if (line != NULL && fmt != NULL) {
    /* FMT is a JSON object text of extra fields ("{\"port\":8080}"). */
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_t *extra = json_loads(buf, 0, NULL);
    if (json_is_object(extra))
      json_object_update(line, extra);
    else
      json_object_set_new(line, "detail", json_string(buf));
    json_decref(extra);
  }
  emit(line);
}

void
svc_log_mhd(void *cls, const char *fmt, va_list ap)
{
  (void)cls;
  char buf[512];
  vsnprintf(buf, sizeof buf, fmt, ap);
  size_t n = strlen(buf);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
  char ts[40];
  timestamp(ts, sizeof ts);
  emit(json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level", "warn", "msg",
                 "libmicrohttpd", "detail", buf));
}
