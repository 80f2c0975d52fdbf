/* options_lesions.c - the "lesions" option object -> plan->lesion
 * (docs/lesions.md).  Registered in options_extra.c.
 * SPDX-License-Identifier: MIT */
#include "lesions.h"

#include <stdio.h>

static int
opt_connectivity(const json_t *v, ss_lesion_options *o, ss_error *err)
{
  int64_t c;
  if (svc_opt_integer(v, "lesions.connectivity", &c, err))
    return -1;
  if (c != 6 && c != 18 && c != 26)
    return svc_opt_fail(err, SS_ERANGE, "lesions.connectivity",
                        "lesions.connectivity must be 6, 18 or 26");
  o->connectivity = (int)c;
  return 0;
}

static int
opt_match(const json_t *v, ss_lesion_options *o, ss_error *err)
{
  const char *s = json_string_value(v);
  if (s != NULL && strcmp(s, "any_overlap") == 0)
    o->match = SS_LESION_MATCH_ANY_OVERLAP;
  else if (s != NULL && strcmp(s, "iou") == 0)
    o->match = SS_LESION_MATCH_IOU;
  else
    return svc_opt_fail(err, s == NULL ? SS_ETYPE : SS_ERANGE,
                        "lesions.match", "lesions.match must be "
                        "\"any_overlap\" or \"iou\"");
  return 0;
}

static int
opt_iou_threshold(const json_t *v, ss_lesion_options *o, ss_error *err)
{
  if (svc_opt_number(v, "lesions.iou_threshold", 0.0, 1.0,
                     &o->iou_threshold, err))
    return -1;
  if (o->iou_threshold <= 0.0)
    return svc_opt_fail(err, SS_ERANGE, "lesions.iou_threshold",
                        "lesions.iou_threshold must be in (0, 1]");
  return 0;
}

static int
opt_min_voxels(const json_t *v, ss_lesion_options *o, ss_error *err)
{
  if (svc_opt_integer(v, "lesions.min_voxels", &o->min_voxels, err))
    return -1;
  if (o->min_voxels < 0)
    return svc_opt_fail(err, SS_ERANGE, "lesions.min_voxels",
                        "lesions.min_voxels must be >= 0");
  return 0;
}

static int
opt_min_volume(const json_t *v, ss_lesion_options *o, ss_error *err)
{
  return svc_opt_number(v, "lesions.min_volume_mm3", 0.0, 1e12,
                        &o->min_volume_mm3, err);
}

static int
opt_min_side(const json_t *v, ss_lesion_options *o, ss_error *err)
{
  const char *s = json_string_value(v);
  if (s != NULL && strcmp(s, "both") == 0)
    o->min_side = SS_LESION_MIN_BOTH;
  else if (s != NULL && strcmp(s, "reference") == 0)
    o->min_side = SS_LESION_MIN_REFERENCE;
  else
    return svc_opt_fail(err, s == NULL ? SS_ETYPE : SS_ERANGE,
                        "lesions.min_size_applies_to",
                        "lesions.min_size_applies_to must be \"both\" or "
                        "\"reference\"");
  return 0;
}

static int
opt_dilation(const json_t *v, ss_lesion_options *o, ss_error *err)
{
  int64_t d;
  if (svc_opt_integer(v, "lesions.dilation_voxels", &d, err))
    return -1;
  if (d < 0 || d > SS_LESION_MAX_DILATION)
    return svc_opt_fail(err, SS_ERANGE, "lesions.dilation_voxels",
                        "lesions.dilation_voxels must be 0..%d",
                        SS_LESION_MAX_DILATION);
  o->dilation_voxels = (int)d;
  return 0;
}

static int
opt_list(const json_t *v, ss_lesion_options *o, ss_error *err)
{
  return svc_opt_bool(v, "lesions.list", &o->list_lesions, err);
}

typedef struct {
  const char *key;
  int (*parse)(const json_t *v, ss_lesion_options *o, ss_error *err);
} lesion_key;

static const lesion_key keys[] = {
  { "connectivity", opt_connectivity },
  { "match", opt_match },
  { "iou_threshold", opt_iou_threshold },
  { "min_voxels", opt_min_voxels },
  { "min_volume_mm3", opt_min_volume },
  { "min_size_applies_to", opt_min_side },
  { "dilation_voxels", opt_dilation },
  { "list", opt_list },
};

/* Parse into a copy, so a failed request leaves the plan as it was; the
 * combination rule (dilation needs any_overlap) is checked at the end. */
static int
opt_lesions(const json_t *v, ss_plan *plan, ss_error *err)
{
  if (!json_is_object(v))
    return svc_opt_fail(err, SS_ETYPE, "lesions", "option lesions must be "
                        "an object");
  ss_lesion_options o = plan->lesion;
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)v, key, val)
  {
    size_t k = 0;
    while (k < sizeof keys / sizeof *keys && strcmp(keys[k].key, key) != 0)
      k++;
    if (k == sizeof keys / sizeof *keys) {
      char f[96];
      snprintf(f, sizeof f, "lesions.%.80s", key);
      return svc_opt_fail(err, SS_EOPTION, f, "unknown option \"%s\" (known: "
                          "connectivity, match, iou_threshold, min_voxels, "
                          "min_volume_mm3, min_size_applies_to, "
                          "dilation_voxels, list)", f);
    }
    if (keys[k].parse(val, &o, err))
      return -1;
  }
  if (o.dilation_voxels > 0 && o.match != SS_LESION_MATCH_ANY_OVERLAP)
    return svc_opt_fail(err, SS_ERANGE, "lesions.dilation_voxels",
                        "lesions.dilation_voxels needs match "
                        "\"any_overlap\"");
  plan->lesion = o;
  return 0;
}

const svc_option svc_lesion_options[1] = { { "lesions", opt_lesions } };
