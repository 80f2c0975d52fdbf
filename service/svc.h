/* svc.h - segscored internals shared by the daemon's files: configuration,
 * the per-request context, the route table, the worker pool, admission,
 * metrics and logging.  Definitions live in segscored.c (config, main),
 * svc_router.c (dispatch), svc_upload.c, svc_pool.c, svc_admit.c,
 * svc_http.c (replies), svc_metrics.c, svc_log.c and h_<endpoint>.c.
 * SPDX-License-Identifier: MIT */
#ifndef SVC_H
#define SVC_H

#include <stdarg.h>
#include <stddef.h>

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "score.h"

/*---- Configuration (segscored.c) ---------------------------------------*/

typedef struct {
  char listen[300]; /* "host:port", "[v6]:port" or ":port" */
  int cores;        /* CPU budget seen at start-up */
  int workers, threads_per_job, queue;
  uint64_t max_upload_bytes;       /* whole request body */
  uint64_t max_voxels;             /* per volume, voxels x channels */
  uint64_t max_decompressed_bytes; /* per volume */
  uint64_t max_memory_bytes;       /* admission budget over all requests */
  unsigned timeout_s;              /* inactivity */
  unsigned deadline_s;             /* whole request, upload to reply */
  unsigned grace_s;                /* drain time after SIGTERM */
  char token_file[4096], tls_cert[4096], tls_key[4096];
  unsigned job_delay_ms; /* testing only: sleep before each job */
} svc_config;

/* Process-wide daemon state (one daemon per process). */
typedef struct {
  svc_config cfg;
  struct MHD_Daemon *mhd;
  char **tokens; /* bearer tokens; NULL = auth off */
  size_t *token_lens;
  int ntokens;
  atomic_bool draining;
  atomic_int admitted;  /* score requests holding a job slot */
  atomic_int uploading; /* score requests whose body is coming in */
  atomic_uint_fast64_t mem_reserved; /* admission estimate, bytes */
} svc_state;

extern svc_state svc;

/*---- Per-request context -----------------------------------------------*/

#define SVC_RID_MAX 65

typedef struct {
  char *data;
  size_t len, cap;
} svc_buf;

typedef enum { SVC_JOB_NONE = 0, SVC_JOB_QUEUED, SVC_JOB_DONE } svc_job_state;

struct svc_route;

/* Allocated by the dispatcher on a request's first call and freed only by
 * the completion callback (svc_router.c). */
typedef struct svc_conn {
  const struct svc_route *route;
  struct MHD_Connection *mhd;
  char method[16]; /* copied: logged after MHD is done */
  const char *url; /* this call's path (MHD's, no query) */
  char request_id[SVC_RID_MAX];
  double t0_ms; /* monotonic, first call */
  int status;   /* HTTP status queued (0 = none yet) */
  bool aborted; /* connection ended without a full reply */
  uint64_t bytes_in, bytes_out, voxels;
  bool admitted;         /* holds a job slot (taken once uploaded) */
  bool uploading;        /* counted in svc.uploading */
  uint64_t mem_reserved; /* upload bytes held in svc.mem_reserved */
  uint64_t job_bytes;    /* estimated decode + working memory */

  /* A problem found while the body streams in; replied after the body. */
  int pend_status;
  const char *pend_slug;
  char pend_detail[200];

  /* Multipart upload (svc_upload.c); never logged, never on disk. */
  struct MHD_PostProcessor *pp;
  svc_buf pred, refs[SVC_MAX_REFS], options;
  int nrefs;
  bool has_pred, has_options;
  svc_buf *cur;        /* part being filled */
  const char *cur_key; /* its name, static */
  bool discard;        /* drop the rest of the body */

  /* Job (svc_pool.c, h_score.c). */
  _Atomic int job; /* svc_job_state */
  json_t *result;  /* report or problem, owned */
  int result_status;
  struct svc_conn *next; /* queue link */
} svc_conn;

/*---- Routes (svc_router.c) ---------------------------------------------*/

enum {
  SVC_R_AUTH = 1u << 0,   /* bearer token required when configured */
  SVC_R_UPLOAD = 1u << 1, /* multipart/form-data body, admission */
  SVC_R_QUIET = 1u << 2,  /* log only failures (probes, scrapes) */
  SVC_R_PREFIX = 1u << 3  /* path is a prefix ("/ui/"), not exact */
};

/* A handler runs once the generic checks passed and, for upload routes,
 * the whole body is in; it may run again after a suspended job resumes.
 * Every path ends in one svc_reply_*() or, for a suspended job, MHD_YES. */
typedef enum MHD_Result (*svc_handler)(svc_conn *c);

typedef struct svc_route {
  const char *method;
  const char *path;
  const char *name; /* label in metrics and logs */
  svc_handler fn;
  unsigned flags;
} svc_route;

extern const svc_route svc_routes[];
extern const int svc_nroutes;

enum MHD_Result svc_dispatch(void *cls, struct MHD_Connection *conn,
                             const char *url, const char *method,
                             const char *version, const char *upload_data,
                             size_t *upload_data_size, void **con_cls);
void svc_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                   enum MHD_RequestTerminationCode toe);

/*---- Endpoints (h_*.c) -------------------------------------------------*/

enum MHD_Result h_score(svc_conn *c);
enum MHD_Result h_catalog(svc_conn *c);
enum MHD_Result h_openapi(svc_conn *c);
enum MHD_Result h_healthz(svc_conn *c);
enum MHD_Result h_readyz(svc_conn *c);
enum MHD_Result h_metrics(svc_conn *c);
/* GET / and /ui/<file>: the embedded web page (h_ui.c). */
enum MHD_Result h_ui(svc_conn *c);

/* Run one scoring job on a worker thread (h_score.c). */
void h_score_run(svc_conn *c);

/*---- Replies (svc_http.c) ----------------------------------------------*/

/* The problem-type URI prefix: every problem's "type" is this plus the
 * slug ("/problems/busy"), a relative URI reference
 * as reply.c writes it for the library statuses. */
#define SVC_PROBLEM_BASE "/problems/"

/* RFC 9457 object for a service-level problem (slug from svc_http.c's
 * table).  Returns a new reference or NULL on out of memory. */
json_t *svc_problem_new(int status, const char *slug, const char *detail,
                        const char *request_id);

/* Each queues one response with X-Request-ID and returns MHD's answer.
 * svc_reply_json steals BODY; svc_reply_text takes a malloc'd TEXT when
 * OWNED, else a static one. */
enum MHD_Result svc_reply_json(svc_conn *c, int status, json_t *body,
                               const char *ctype);
enum MHD_Result svc_reply_problem(svc_conn *c, int status, const char *slug,
                                  const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
enum MHD_Result svc_reply_error(svc_conn *c, const ss_error *err);
enum MHD_Result svc_reply_text(svc_conn *c, int status, const char *ctype,
                               const char *text, size_t len, bool owned);

/* Record a problem to answer once the body is in (first one wins). */
void svc_pend_problem(svc_conn *c, int status, const char *slug,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*---- Upload (svc_upload.c) ---------------------------------------------*/

/* Set up the multipart parser; false when the body is not parseable
 * multipart/form-data (a problem is then pending). */
bool svc_upload_begin(svc_conn *c);
/* Feed a chunk; counts bytes, enforces the upload cap, parts rules. */
void svc_upload_feed(svc_conn *c, const char *data, size_t size);
/* End of body: finish parsing and check required parts. */
void svc_upload_end(svc_conn *c);
void svc_upload_free(svc_conn *c);

/*---- Admission (svc_admit.c) -------------------------------------------*/

int svc_capacity(void);             /* workers + queue */
bool svc_admit_slot(svc_conn *c);   /* false = saturated */
bool svc_admit_saturated(void);     /* every job slot is taken */
void svc_admit_upload(svc_conn *c); /* count an upload in flight */
bool svc_admit_memory(svc_conn *c, uint64_t bytes);
void svc_admit_release(svc_conn *c);
/* Estimated bytes to decode and score the uploaded volumes. */
uint64_t svc_estimate_job_bytes(const svc_conn *c);
/* Whether a job of JOB_BYTES fits next to the running and queued ones
 * (svc_pool.c calls it under its lock): uploads held by every admitted
 * request, plus the working memory of the jobs that can run at once. */
bool svc_admit_job(uint64_t job_bytes, uint64_t max_other, int njobs);
/* Voxels x channels from a NIfTI-1/2 header (gzip or not); 0 unknown. */
uint64_t svc_nifti_peek_voxels(const void *buf, size_t len,
                               uint64_t *raw_bytes);

/*---- Worker pool (svc_pool.c) ------------------------------------------*/

int svc_pool_start(int workers);
/* Queue a job whose connection is suspended; -1 when the queue is full,
 * -2 when the memory budget is. */
int svc_pool_submit(svc_conn *c);
void svc_pool_stop(void); /* joins the workers */
int svc_pool_queued(void);
int svc_pool_running(void);

/*---- Metrics (svc_metrics.c) -------------------------------------------*/

void svc_metrics_request(const svc_conn *c, double seconds);
void svc_metrics_rejected(const char *reason);
char *svc_metrics_render(size_t *len); /* malloc'd Prometheus text */

/*---- Logging (svc_log.c) -----------------------------------------------*/

void svc_log_request(const svc_conn *c, double duration_ms);
void svc_log(const char *level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void svc_log_mhd(void *cls, const char *fmt, va_list ap);

/*---- Misc ---------------------------------------------------------------*/

double svc_now_ms(void); /* monotonic */

#endif /* SVC_H */
