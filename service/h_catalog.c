/* h_catalog.c - GET /v1/catalog: every metric (and, once the losses land,
 * every loss) with its formula reference, parameters, units and citation.
 * NOTE: the losses' catalog is not on main yet; until the losses work
 * provides one, this serves the metrics below and "losses": [].
 * SPDX-License-Identifier: MIT */
#include "svc.h"

typedef struct {
  const char *name, *group, *units, *formula, *citation;
} metric_entry;

static const metric_entry metrics[] = {
  { "dice", "overlap", "ratio", "2TP / (2TP + FP + FN)", "Dice 1945" },
  { "jaccard", "overlap", "ratio", "TP / (TP + FP + FN)", "Jaccard 1912" },
  { "precision", "overlap", "ratio", "TP / (TP + FP)", NULL },
  { "recall", "overlap", "ratio", "TP / (TP + FN)", NULL },
  { "specificity", "overlap", "ratio", "TN / (TN + FP)", NULL },
  { "fbeta", "overlap", "ratio",
    "(1 + b^2) TP / ((1 + b^2) TP + b^2 FN + FP), one key per beta", NULL },
  { "voe", "overlap", "ratio", "1 - jaccard", NULL },
  { "rvd", "overlap", "ratio", "(|P| - |R|) / |R|", NULL },
  { "volume_similarity", "overlap", "ratio", "1 - ||P| - |R|| / (|P| + |R|)",
    "Taha & Hanbury 2015" },
  { "hd", "boundary", "mm", "max of the two directed maximum distances",
    "Huttenlocher et al. 1993" },
  { "hd<p>", "boundary", "mm",
    "max of the two directed p-th percentile distances (hd95)", NULL },
  { "assd", "boundary", "mm", "mean distance pooled over both surfaces", NULL },
  { "masd", "boundary", "mm", "mean of the two directed mean distances", NULL },
  { "nsd", "boundary", "ratio",
    "surface Dice at tolerance tau: boundary fraction within tau mm",
    "Nikolov et al. 2021" },
};

static json_t *
metric_json(const metric_entry *m)
{
  json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "name", m->name, "group",
                        m->group, "units", m->units, "formula", m->formula);
  if (o != NULL && m->citation != NULL)
    json_object_set_new(o, "citation", json_string(m->citation));
  return o;
}

enum MHD_Result
h_catalog(svc_conn *c)
{
  json_t *list = json_array();
  for (size_t i = 0; list && i < sizeof metrics / sizeof *metrics; i++)
    json_array_append_new(list, metric_json(&metrics[i]));
  json_t *params = json_pack(
      "{s:{s:[f,f], s:s}, s:{s:[f], s:s}, s:{s:[f], s:s}}", "fbeta_betas",
      "default", 0.5, 2.0, "units", "1", "percentiles", "default", 95.0,
      "units", "percent", "nsd_tolerances_mm", "default", 1.0, "units", "mm");
  json_t *body = json_pack("{s:s, s:o, s:o, s:[]}", "version", SS_VERSION,
                           "metrics", list, "parameters", params, "losses");
  return svc_reply_json(c, MHD_HTTP_OK, body, NULL);
}
