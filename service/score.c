/* score.c - the one scoring path of the CLI and the daemon: options text
 * -> plan, bytes -> volumes, score, report -> JSON.
 * SPDX-License-Identifier: MIT */
#include "report_json.h"
#include "lesions.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int
svc_score(const svc_score_input *in, const svc_score_config *cfg,
          json_t **report, uint64_t *voxels, ss_error *err)
{
  *report = NULL;
  if (voxels != NULL)
    *voxels = 0;
  ss_plan plan;
  ss_plan_init(&plan);
  ss_volume *pred = NULL, *ref = NULL;
  ss_report *rep = NULL;
  int rc = -1;
  const double t0 = now_ms();

  if (svc_options_parse(in->options, in->options_len, &plan, err) != 0)
    goto done;
  plan.threads = cfg != NULL ? cfg->threads : 0;
  const ss_limits *lim = cfg != NULL ? &cfg->limits : NULL;
  if (in->nrefs < 1) {
    err->code = SS_EINVAL;
    snprintf(err->detail, sizeof err->detail, "a reference is required");
    snprintf(err->field, sizeof err->field, "reference");
    goto done;
  }
  if (ss_volume_read_mem(in->pred, in->pred_len, lim, &pred, err) != SS_OK) {
    snprintf(err->field, sizeof err->field, "prediction");
    goto done;
  }
  if (in->nrefs > 1) {
    rc = svc_score_multi(in, pred, &plan, lim, now_ms() - t0, report, err);
    if (rc == 0 && voxels != NULL) {
      ss_volume_info info;
      ss_volume_info_get(pred, &info);
      *voxels = (uint64_t)(info.nx * info.ny * info.nz);
    }
    goto done;
  }
  if (ss_volume_read_mem(in->refs[0], in->ref_lens[0], lim, &ref, err) !=
      SS_OK) {
    snprintf(err->field, sizeof err->field, "reference");
    goto done;
  }
  const double decode_ms = now_ms() - t0;
  if (ss_score(pred, ref, &plan, &rep, err) != SS_OK)
    goto done;
  rep->timing.decode_ms = decode_ms;
  rep->timing.total_ms = now_ms() - t0;
  *report = svc_report_to_json(rep, &plan);
  if (*report == NULL) {
    err->code = SS_ENOMEM;
    snprintf(err->detail, sizeof err->detail, "cannot build the report");
    goto done;
  }
  if (voxels != NULL) {
    ss_volume_info info;
    ss_volume_info_get(ref, &info);
    *voxels = (uint64_t)(info.nx * info.ny * info.nz);
  }
  rc = 0;
done:
  ss_report_free(rep);
  ss_volume_free(pred);
  ss_volume_free(ref);
  ss_plan_clear(&plan);
  return rc;
}
