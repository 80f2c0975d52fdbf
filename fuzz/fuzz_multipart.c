/* fuzz_multipart.c - libFuzzer target: a POST /v1/score request through
 * the daemon's own code (svc_dispatch -> upload checks -> MHD's multipart
 * post processor -> part rules -> admission -> h_score -> svc_score ->
 * reply -> completion), without sockets.  The harness stands in for the
 * few MHD calls that need a live connection (header lookups, queueing a
 * response, suspend/resume) and for the worker pool (the job runs inline,
 * then the handler is called again as after a resume).  MHD's post
 * processor itself is the real one: its only use of the connection is
 * the Content-Type lookup, which it makes through the PLT, so the
 * definition below serves it too.
 * Input: byte 0 = flags (Content-Length or chunked, chunk size, route),
 * then an optional "Content-Type: ...\n" line (else a fixed boundary), an
 * optional "X-Request-ID: ...\n" line, then the body.  SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc.h"

svc_state svc;

/*---- Stand-ins for a live MHD connection ----------------------------------*/

static struct {
  char ctype[256];
  char rid[128];
  bool has_rid;
  char clen[32];
  bool has_clen;
  int queued;          /* status queued, 0 = none */
  bool suspended;
  svc_conn *pending;   /* job submitted to the "pool" */
} fake;

static int fake_conn_storage;
#define FAKE_CONN ((struct MHD_Connection *)(void *)&fake_conn_storage)

static const char *
lookup(const char *key)
{
  if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_TYPE) == 0)
    return fake.ctype;
  if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0 && fake.has_clen)
    return fake.clen;
  if (strcasecmp(key, "X-Request-ID") == 0 && fake.has_rid)
    return fake.rid;
  return NULL;
}

const char *
MHD_lookup_connection_value(struct MHD_Connection *connection,
                            enum MHD_ValueKind kind, const char *key)
{
  if (connection != FAKE_CONN || kind != MHD_HEADER_KIND || key == NULL)
    abort();
  return lookup(key);
}

enum MHD_Result
MHD_lookup_connection_value_n(struct MHD_Connection *connection,
                              enum MHD_ValueKind kind, const char *key,
                              size_t key_size, const char **value_ptr,
                              size_t *value_size_ptr)
{
  (void)key_size;
  if (connection != FAKE_CONN || kind != MHD_HEADER_KIND)
    abort();
  const char *v = lookup(key);
  if (v == NULL)
    return MHD_NO;
  if (value_ptr != NULL)
    *value_ptr = v;
  if (value_size_ptr != NULL)
    *value_size_ptr = strlen(v);
  return MHD_YES;
}

enum MHD_Result
MHD_queue_response(struct MHD_Connection *connection, unsigned int status,
                   struct MHD_Response *response)
{
  if (connection != FAKE_CONN || response == NULL)
    abort();
  if (fake.queued != 0 || fake.suspended)
    return MHD_NO; /* as MHD: one response, not while suspended */
  fake.queued = (int)status;
  return MHD_YES;
}

void
MHD_suspend_connection(struct MHD_Connection *connection)
{
  if (connection != FAKE_CONN || fake.suspended)
    abort(); /* suspending twice is undefined in MHD */
  fake.suspended = true;
}

void
MHD_resume_connection(struct MHD_Connection *connection)
{
  if (connection != FAKE_CONN || !fake.suspended)
    abort();
  fake.suspended = false;
}

/*---- Stand-in for the worker pool (svc_pool.c) ---------------------------*/

int svc_pool_start(int workers) { (void)workers; return 0; }
void svc_pool_stop(void) {}
int svc_pool_queued(void) { return fake.pending != NULL; }
int svc_pool_running(void) { return 0; }

int
svc_pool_submit(svc_conn *c)
{
  if (fake.pending != NULL)
    return -1;
  atomic_store(&c->job, SVC_JOB_QUEUED);
  fake.pending = c;
  return 0;
}

/*---- The request ------------------------------------------------------------*/

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  svc.cfg = (svc_config){ .workers = 1, .queue = 2, .threads_per_job = 1,
                          .max_upload_bytes = 6144, /* some inputs exceed it */
                          .max_voxels = 4096,
                          .max_decompressed_bytes = 64u << 10,
                          .max_memory_bytes = (uint64_t)256 << 20 };
  /* Request logs go to stderr (FILE *); keep libFuzzer's output readable. */
  FILE *null = fopen("/dev/null", "w");
  if (null != NULL)
    stderr = null;
  return 0;
}

/* Mostly POST /v1/score; the other routes and wrong methods now and then
 * (flag bits 4-6), so the router's checks are fuzzed too. */
static const struct {
  const char *method, *url;
} routes[8] = {
  { "POST", "/v1/score" },   { "POST", "/v1/score" }, { "POST", "/v1/score" },
  { "POST", "/v1/score" },   { "GET", "/healthz" },   { "GET", "/metrics" },
  { "HEAD", "/v1/catalog" }, { "PUT", "/v1/score" },
};
static int route;

static enum MHD_Result
call(void **cls, const char *data, size_t size)
{
  size_t left = size;
  enum MHD_Result r =
      svc_dispatch(NULL, FAKE_CONN, routes[route].url, routes[route].method,
                   "HTTP/1.1", data, &left, cls);
  if (r == MHD_YES && left != 0)
    abort(); /* the handler must consume every chunk */
  return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  memset(&fake, 0, sizeof fake);
  const uint8_t fl = data[0];
  data++, size--;
  static const char head[] = "Content-Type: ";
  const uint8_t *nl = memchr(data, '\n', size < 255 ? size : 255);
  if (size > sizeof head - 1 && memcmp(data, head, sizeof head - 1) == 0 &&
      nl != NULL) {
    size_t n = (size_t)(nl - data) - (sizeof head - 1);
    memcpy(fake.ctype, data + sizeof head - 1, n);
    fake.ctype[n] = '\0';
    size -= (size_t)(nl - data) + 1;
    data = nl + 1;
  } else {
    strcpy(fake.ctype, "multipart/form-data; boundary=XyZ");
  }
  static const char rid[] = "X-Request-ID: ";
  nl = memchr(data, '\n', size < 120 ? size : 120);
  if (size > sizeof rid - 1 && memcmp(data, rid, sizeof rid - 1) == 0 &&
      nl != NULL) {
    size_t n = (size_t)(nl - data) - (sizeof rid - 1);
    memcpy(fake.rid, data + sizeof rid - 1, n);
    fake.rid[n] = '\0';
    fake.has_rid = true;
    size -= (size_t)(nl - data) + 1;
    data = nl + 1;
  }
  route = (fl >> 4) & 7;
  fake.has_clen = fl & 1;
  snprintf(fake.clen, sizeof fake.clen, "%zu", size);
  static const size_t chunks[8] = { 1, 7, 64, 511, 1440, 4096, 65536, 1u << 20 };
  const size_t chunk = chunks[(fl >> 1) & 7];

  void *cls = NULL;
  enum MHD_Result r = call(&cls, NULL, 0);
  for (size_t off = 0; r == MHD_YES && fake.queued == 0 && off < size;) {
    size_t n = size - off < chunk ? size - off : chunk;
    r = call(&cls, (const char *)data + off, n);
    off += n;
  }
  if (r == MHD_YES && fake.queued == 0) {
    r = call(&cls, NULL, 0); /* end of body */
    if (r == MHD_YES && fake.pending != NULL) {
      svc_conn *c = fake.pending;
      h_score_run(c);
      atomic_store(&c->job, SVC_JOB_DONE);
      fake.pending = NULL;
      MHD_resume_connection(FAKE_CONN);
      r = call(&cls, NULL, 0); /* MHD calls the handler again */
    }
  }
  if (r == MHD_YES && fake.queued == 0)
    abort(); /* every request that is not dropped gets an answer */
  if (fake.queued >= 500 && fake.queued != 503)
    abort(); /* no input is an internal error */
  svc_completed(NULL, FAKE_CONN, &cls,
                fake.queued ? MHD_REQUEST_TERMINATED_COMPLETED_OK
                            : MHD_REQUEST_TERMINATED_WITH_ERROR);
  if (cls != NULL || atomic_load(&svc.admitted) != 0 ||
      atomic_load(&svc.uploading) != 0 ||
      atomic_load(&svc.mem_reserved) != 0)
    abort(); /* admission slots and memory always come back */
  return 0;
}
