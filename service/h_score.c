/* h_score.c - POST /v1/score: the upload is in (svc_upload.c checked its
 * parts); admit its memory, suspend the connection, queue the job; a
 * worker runs h_score_run; after resume, reply with the report or the
 * problem.  SPDX-License-Identifier: MIT */
#include "svc.h"

#include <time.h>

static enum MHD_Result
reply_result(svc_conn *c)
{
  json_t *body = c->result;
  c->result = NULL;
  if (body == NULL)
    return svc_reply_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                             "internal-error", "the job produced no result");
  return svc_reply_json(c, c->result_status, body,
                        c->result_status == MHD_HTTP_OK
                            ? "application/json"
                            : "application/problem+json");
}

enum MHD_Result
h_score(svc_conn *c)
{
  if (atomic_load(&c->job) == SVC_JOB_DONE)
    return reply_result(c);
  if (!c->admitted && !svc_admit_slot(c)) {
    svc_metrics_rejected("queue_full");
    return svc_reply_problem(c, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                             "all %d job slots are taken; retry later",
                             svc_capacity());
  }
  c->job_bytes = svc_estimate_job_bytes(c);
  /* Suspend first: a worker may finish and resume before we return. */
  MHD_suspend_connection(c->mhd);
  int rc = svc_pool_submit(c);
  if (rc != 0) {
    MHD_resume_connection(c->mhd);
    svc_metrics_rejected(rc == -2 ? "memory" : "queue_full");
    return svc_reply_problem(c, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                             rc == -2 ? "the memory budget is taken by "
                                        "other jobs; retry later"
                                      : "the job queue is full; retry "
                                        "later");
  }
  return MHD_YES;
}

static void
sleep_ms(unsigned ms)
{
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0)
    ;
}

/* On a worker thread; C is the worker's until the connection resumes. */
void
h_score_run(svc_conn *c)
{
  if (svc.cfg.deadline_s > 0
      && svc_now_ms() - c->t0_ms > 1000.0 * svc.cfg.deadline_s) {
    c->result_status = MHD_HTTP_SERVICE_UNAVAILABLE;
    c->result = svc_problem_new(c->result_status, "deadline-exceeded",
                                "the request waited in the queue past the "
                                "deadline (--deadline); retry later",
                                c->request_id);
    svc_upload_free(c);
    return;
  }
  if (svc.cfg.job_delay_ms > 0)
    sleep_ms(svc.cfg.job_delay_ms);

  svc_score_input in = {
    .pred = c->pred.data,
    .pred_len = c->pred.len,
    .nrefs = c->nrefs,
    .options = c->has_options ? c->options.data : NULL,
    .options_len = c->has_options ? c->options.len : 0,
  };
  for (int i = 0; i < c->nrefs; i++) {
    in.refs[i] = c->refs[i].data;
    in.ref_lens[i] = c->refs[i].len;
  }
  svc_score_config cfg = {
    .limits = { .max_voxels = svc.cfg.max_voxels,
                .max_bytes = svc.cfg.max_decompressed_bytes },
    .threads = svc.cfg.threads_per_job,
  };
  json_t *report = NULL;
  uint64_t voxels = 0;
  ss_error err = { 0 };
  if (svc_score(&in, &cfg, &report, &voxels, &err) == 0 && report != NULL) {
    c->result = report;
    c->result_status = MHD_HTTP_OK;
    c->voxels = voxels;
  } else {
    json_decref(report);
    c->result_status = svc_http_status(err.code);
    c->result = svc_problem_json(&err, c->result_status, c->request_id);
  }
  svc_upload_free(c); /* the uploads are no longer needed */
}
