/* status.c - status codes, undefined-value names, error helper, plans.
 * SPDX-License-Identifier: MIT */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *const status_msg[] = {
#define X(name, slug, msg) msg,
  SS_STATUS_MAP(X)
#undef X
};

static const char *const status_slug[] = {
#define X(name, slug, msg) slug,
  SS_STATUS_MAP(X)
#undef X
};

static const char *const undef_name[] = {
#define X(name, str) str,
  SS_UNDEF_MAP(X)
#undef X
};

const char *
ss_strerror(ss_status s)
{
  return (unsigned)s < SS_STATUS_COUNT ? status_msg[s] : "unknown status";
}

const char *
ss_status_name(ss_status s)
{
  return (unsigned)s < SS_STATUS_COUNT ? status_slug[s] : "unknown";
}

const char *
ss_undef_name(ss_undef why)
{
  return (unsigned)why < sizeof undef_name / sizeof *undef_name
             ? undef_name[why]
             : "unknown";
}

const char *
ss_class_status_name(ss_class_status s)
{
  switch (s) {
  case SS_CLASS_OK: return "ok";
  case SS_CLASS_PRED_EMPTY: return "pred_empty";
  case SS_CLASS_REF_EMPTY: return "ref_empty";
  case SS_CLASS_BOTH_EMPTY: return "both_empty";
  }
  return "unknown";
}

#undef ss__fail /* the analyzer's stand-in (internal.h) */
ss_status
ss__fail(ss_error *err, ss_status code, const char *fmt, ...)
{
  if (err != NULL) {
    err->code = code;
    err->field[0] = '\0';
    if (fmt != NULL) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(err->detail, sizeof err->detail, fmt, ap);
      va_end(ap);
    } else {
      snprintf(err->detail, sizeof err->detail, "%s", ss_strerror(code));
    }
  }
  return code;
}

double
ss__now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int
ss__threads(const ss_plan *plan)
{
  int n = plan != NULL ? plan->threads : 0;
#ifdef _OPENMP
  if (n <= 0)
    n = omp_get_max_threads();
#endif
  return n > 0 ? n : 1;
}

void
ss_plan_init(ss_plan *plan)
{
  memset(plan, 0, sizeof *plan);
  plan->kind = SS_KIND_AUTO;
  plan->nbetas = 2;
  plan->betas[0] = 0.5;
  plan->betas[1] = 2.0;
  plan->surface = SS_SURFACE_SURFEL;
  plan->npercentiles = 1;
  plan->percentiles[0] = 95.0;
  plan->ntolerances = 1;
  plan->nsd_tolerances_mm[0] = 1.0;
  plan->threshold = 0.5;
  plan->check_geometry = true;
  plan->geometry_tol_mm = 1e-3;
  plan->smooth_nr = 1e-5;
  plan->smooth_dr = 1e-5;
  ss_loss_plan_init(&plan->loss);
  ss_lesion_options_init(&plan->lesion);
}

void
ss_plan_clear(ss_plan *plan)
{
  if (plan == NULL)
    return;
  free(plan->labels);
  free(plan->regions);
  plan->labels = NULL;
  plan->regions = NULL;
  plan->nlabels = plan->nregions = 0;
  ss_loss_plan_clear(&plan->loss);
}
