/* score.h - the one scoring path shared by the CLI and the daemon:
 * bytes + options text in, report JSON (or an error) out.
 * SPDX-License-Identifier: MIT */
#ifndef SVC_SCORE_H
#define SVC_SCORE_H

#include <jansson.h>

#include "segscore.h"

#define SVC_MAX_REFS 16

/* Uploaded or read inputs, borrowed for the call. */
typedef struct {
  const void *pred;
  size_t pred_len;
  const void *refs[SVC_MAX_REFS];
  size_t ref_lens[SVC_MAX_REFS];
  int nrefs;
  const char *options;       /* JSON object text, or NULL */
  size_t options_len;
} svc_score_input;

/* Server- or CLI-side settings a request cannot change. */
typedef struct {
  ss_limits limits;
  int threads;               /* OpenMP team per job; 0 = default */
} svc_score_config;

/* Decode, plan, score and build the report.  On success returns 0 and
 * *REPORT owns the JSON object; otherwise returns -1, *REPORT is NULL and
 * ERR says why (the caller turns it into problem JSON).  If VOXELS is not
 * NULL it gets the number of voxels scored. */
int svc_score(const svc_score_input *in, const svc_score_config *cfg,
              json_t **report, uint64_t *voxels, ss_error *err);

/* Options JSON text -> plan (options.c).  PLAN must be initialised. */
int svc_options_parse(const char *text, size_t len, ss_plan *plan,
                      ss_error *err);

/* Report -> JSON (report_json.c); the same bytes for CLI and HTTP. */
json_t *svc_report_to_json(const ss_report *r, const ss_plan *plan);

/* RFC 9457 problem object for an error (reply.c): type, title, status,
 * detail, plus "field" and "request_id" when given. */
json_t *svc_problem_json(const ss_error *err, int http_status,
                         const char *request_id);

/* HTTP status for a library status: one table. */
int svc_http_status(ss_status s);

/* Dump JSON as the project writes it everywhere: compact, reals with 17
 * significant digits (round-trip exact).  Caller frees the string. */
char *svc_json_dump(const json_t *j, int pretty);

#endif /* SVC_SCORE_H */
