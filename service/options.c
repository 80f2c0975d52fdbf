/* options.c - the options JSON object -> ss_plan.  One table of keys;
 * an unknown key, a wrong type or a value out of range is an error naming
 * the field (DESIGN.md section 2, docs/options.md).
 * SPDX-License-Identifier: MIT */
#include "options.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int
svc_opt_fail(ss_error *err, ss_status code, const char *field,
             const char *fmt, ...)
{
  if (err != NULL) {
    va_list ap;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    va_end(ap);
    snprintf(err->field, sizeof err->field, "%s", field);
  }
  return -1;
}

static int
type_fail(ss_error *err, const char *field, const char *want)
{
  return svc_opt_fail(err, SS_ETYPE, field, "option %s must be %s", field,
                      want);
}

int
svc_opt_bool(const json_t *v, const char *field, bool *out, ss_error *err)
{
  if (!json_is_boolean(v))
    return type_fail(err, field, "true or false");
  *out = json_is_true(v);
  return 0;
}

int
svc_opt_number(const json_t *v, const char *field, double lo, double hi,
               double *out, ss_error *err)
{
  if (!json_is_number(v))
    return type_fail(err, field, "a number");
  double d = json_number_value(v);
  if (!isfinite(d) || d < lo || d > hi)
    return svc_opt_fail(err, SS_ERANGE, field, "option %s = %g is out of "
                        "range [%g, %g]", field, d, lo, hi);
  *out = d;
  return 0;
}

int
svc_opt_integer(const json_t *v, const char *field, int64_t *out,
                ss_error *err)
{
  if (json_is_integer(v)) {
    *out = (int64_t)json_integer_value(v);
    return 0;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (d == nearbyint(d) && fabs(d) < 9007199254740992.0) {
      *out = (int64_t)d;
      return 0;
    }
  }
  return type_fail(err, field, "an integer");
}

int
svc_opt_number_list(const json_t *v, const char *field, double lo, double hi,
                    int max, double *out, int *n, ss_error *err)
{
  if (!json_is_array(v))
    return type_fail(err, field, "a list of numbers");
  size_t k = json_array_size(v);
  if (k == 0 || k > (size_t)max)
    return svc_opt_fail(err, SS_ERANGE, field, "option %s needs 1 to %d "
                        "values", field, max);
  for (size_t i = 0; i < k; i++) {
    char f[96];
    snprintf(f, sizeof f, "%s[%zu]", field, i);
    if (svc_opt_number(json_array_get(v, i), f, lo, hi, &out[i], err))
      return -1;
  }
  *n = (int)k;
  return 0;
}

static int
opt_kind(const json_t *v, ss_plan *p, ss_error *err)
{
  const char *s = json_string_value(v);
  if (s == NULL)
    return type_fail(err, "prediction_kind", "a string");
  if (strcmp(s, "labels") == 0)
    p->kind = SS_KIND_LABELS;
  else if (strcmp(s, "probabilities") == 0)
    p->kind = SS_KIND_PROBABILITIES;
  else if (strcmp(s, "logits") == 0)
    p->kind = SS_KIND_LOGITS;
  else
    return svc_opt_fail(err, SS_ERANGE, "prediction_kind", "prediction_kind "
                        "must be labels, probabilities or logits");
  return 0;
}

static int
label_list(const json_t *v, const char *field, int max, int64_t *out,
           int *n, ss_error *err)
{
  if (!json_is_array(v))
    return type_fail(err, field, "a list of integer labels");
  size_t k = json_array_size(v);
  if (k > (size_t)max)
    return svc_opt_fail(err, SS_ERANGE, field, "option %s has more than %d "
                        "labels", field, max);
  for (size_t i = 0; i < k; i++) {
    char f[96];
    snprintf(f, sizeof f, "%s[%zu]", field, i);
    if (svc_opt_integer(json_array_get(v, i), f, &out[i], err))
      return -1;
  }
  *n = (int)k;
  return 0;
}

static int
opt_labels(const json_t *v, ss_plan *p, ss_error *err)
{
  size_t k = json_is_array(v) ? json_array_size(v) : 0;
  int64_t *l = malloc((k > 0 ? k : 1) * sizeof *l);
  if (l == NULL)
    return svc_opt_fail(err, SS_ENOMEM, "labels", "out of memory");
  int n = 0;
  if (label_list(v, "labels", SS_DEFAULT_MAX_LABELS, l, &n, err)) {
    free(l);
    return -1;
  }
  free(p->labels);
  p->labels = l;
  p->nlabels = n;
  return 0;
}

static int
opt_include_background(const json_t *v, ss_plan *p, ss_error *err)
{
  return svc_opt_bool(v, "include_background", &p->include_background, err);
}

static int
opt_regions(const json_t *v, ss_plan *p, ss_error *err)
{
  if (!json_is_object(v))
    return type_fail(err, "regions", "an object of name: [labels]");
  size_t k = json_object_size(v);
  if (k > SS_MAX_REGIONS)
    return svc_opt_fail(err, SS_ERANGE, "regions", "at most %d regions",
                        SS_MAX_REGIONS);
  ss_region *r = calloc(k > 0 ? k : 1, sizeof *r);
  if (r == NULL)
    return svc_opt_fail(err, SS_ENOMEM, "regions", "out of memory");
  const char *name;
  json_t *val;
  int i = 0;
  json_object_foreach((json_t *)v, name, val)
  {
    char f[96];
    snprintf(f, sizeof f, "regions.%.80s", name);
    if (name[0] == '\0' || strlen(name) >= SS_NAME_MAX) {
      free(r);
      return svc_opt_fail(err, SS_ERANGE, f, "region names need 1 to %d "
                          "characters", SS_NAME_MAX - 1);
    }
    snprintf(r[i].name, sizeof r[i].name, "%s", name);
    if (label_list(val, f, SS_MAX_REGION_LABELS, r[i].labels,
                   &r[i].nlabels, err) ||
        (r[i].nlabels == 0 &&
         svc_opt_fail(err, SS_ERANGE, f, "region %s has no labels", f))) {
      free(r);
      return -1;
    }
    i++;
  }
  free(p->regions);
  p->regions = r;
  p->nregions = i;
  return 0;
}

static int
opt_ignore_label(const json_t *v, ss_plan *p, ss_error *err)
{
  if (json_is_null(v)) {
    p->has_ignore = false;
    return 0;
  }
  p->has_ignore = true;
  return svc_opt_integer(v, "ignore_label", &p->ignore_label, err);
}

static int
opt_metrics(const json_t *v, ss_plan *p, ss_error *err)
{
  if (!json_is_array(v))
    return type_fail(err, "metrics", "a list of metric families");
  unsigned m = 0;
  for (size_t i = 0; i < json_array_size(v); i++) {
    const char *s = json_string_value(json_array_get(v, i));
    char f[32];
    snprintf(f, sizeof f, "metrics[%zu]", i);
    if (s == NULL)
      return type_fail(err, f, "a string");
    if (strcmp(s, "overlap") == 0)
      m |= SS_METRIC_OVERLAP;
    else if (strcmp(s, "boundary") == 0)
      m |= SS_METRIC_BOUNDARY;
    else if (strcmp(s, "tradeoffs") == 0)
      m |= SS_METRIC_TRADEOFFS;
    else if (strcmp(s, "lesions") == 0)
      m |= SS_METRIC_LESIONS;
    else
      return svc_opt_fail(err, SS_ERANGE, f, "unknown metric family \"%.40s\""
                          " (overlap, boundary, tradeoffs, lesions)", s);
  }
  p->metrics = m;
  p->metrics_set = true;
  return 0;
}

static int
opt_surface(const json_t *v, ss_plan *p, ss_error *err)
{
  const char *s = json_string_value(v);
  if (s == NULL)
    return type_fail(err, "surface", "a string");
  if (strcmp(s, "surfel") == 0)
    p->surface = SS_SURFACE_SURFEL;
  else if (strcmp(s, "voxel") == 0)
    p->surface = SS_SURFACE_VOXEL;
  else
    return svc_opt_fail(err, SS_ERANGE, "surface", "surface must be surfel "
                        "or voxel");
  return 0;
}

static int
opt_percentiles(const json_t *v, ss_plan *p, ss_error *err)
{
  return svc_opt_number_list(v, "percentiles", 0.0, 100.0,
                             SS_MAX_PERCENTILES, p->percentiles,
                             &p->npercentiles, err);
}

static int
opt_tolerances(const json_t *v, ss_plan *p, ss_error *err)
{
  return svc_opt_number_list(v, "nsd_tolerances_mm", 0.0, 1e6,
                             SS_MAX_TOLERANCES, p->nsd_tolerances_mm,
                             &p->ntolerances, err);
}

static int
opt_betas(const json_t *v, ss_plan *p, ss_error *err)
{
  return svc_opt_number_list(v, "fbeta_betas", 1e-6, 1e6, SS_MAX_BETAS,
                             p->betas, &p->nbetas, err);
}

static int
opt_threshold(const json_t *v, ss_plan *p, ss_error *err)
{
  if (svc_opt_number(v, "threshold", 0.0, 1.0, &p->threshold, err))
    return -1;
  if (p->threshold <= 0.0 || p->threshold >= 1.0)
    return svc_opt_fail(err, SS_ERANGE, "threshold", "threshold must lie "
                        "strictly between 0 and 1");
  return 0;
}

static int
opt_both_empty_dice(const json_t *v, ss_plan *p, ss_error *err)
{
  if (json_is_null(v)) {
    p->has_both_empty_dice = false;
    return 0;
  }
  p->has_both_empty_dice = true;
  return svc_opt_number(v, "both_empty_dice", 0.0, 1.0, &p->both_empty_dice,
                        err);
}

static int
opt_worst_distance(const json_t *v, ss_plan *p, ss_error *err)
{
  if (json_is_null(v)) {
    p->has_worst_distance = false;
    return 0;
  }
  p->has_worst_distance = true;
  return svc_opt_number(v, "worst_distance_mm", 0.0, 1e9,
                        &p->worst_distance_mm, err);
}

static int
opt_check_geometry(const json_t *v, ss_plan *p, ss_error *err)
{
  return svc_opt_bool(v, "check_geometry", &p->check_geometry, err);
}

static const svc_option options[] = {
  { "prediction_kind", opt_kind },
  { "labels", opt_labels },
  { "include_background", opt_include_background },
  { "regions", opt_regions },
  { "ignore_label", opt_ignore_label },
  { "metrics", opt_metrics },
  { "surface", opt_surface },
  { "percentiles", opt_percentiles },
  { "nsd_tolerances_mm", opt_tolerances },
  { "fbeta_betas", opt_betas },
  { "threshold", opt_threshold },
  { "both_empty_dice", opt_both_empty_dice },
  { "worst_distance_mm", opt_worst_distance },
  { "check_geometry", opt_check_geometry },
};

static const svc_option *
find_option(const char *key)
{
  for (size_t i = 0; i < sizeof options / sizeof *options; i++)
    if (strcmp(options[i].key, key) == 0)
      return &options[i];
  return svc_options_extra(key);
}

int
svc_options_parse(const char *text, size_t len, ss_plan *plan, ss_error *err)
{
  if (text == NULL || len == 0)
    return 0;
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL)
    return svc_opt_fail(err, SS_ETYPE, "options", "options are not valid "
                        "JSON: %.120s (line %d, column %d)", jerr.text,
                        jerr.line, jerr.column);
  if (!json_is_object(root)) {
    json_decref(root);
    return type_fail(err, "options", "a JSON object");
  }
  const char *key;
  json_t *val;
  int rc = 0;
  json_object_foreach(root, key, val)
  {
    const svc_option *o = find_option(key);
    if (o == NULL) {
      rc = svc_opt_fail(err, SS_EOPTION, key, "unknown option \"%.60s\"; "
                        "see GET /v1/openapi.yaml for the option list", key);
      break;
    }
    if ((rc = o->parse(val, plan, err)) != 0)
      break;
  }
  json_decref(root);
  return rc;
}
