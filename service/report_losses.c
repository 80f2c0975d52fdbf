/* report_losses.c - the losses and trade-offs sections of the report
 * (DESIGN.md sections 2 and 4, docs/losses.md).  Undefined values are
 * null with the reason in the class's "undefined" object under
 * "losses.<name>" / "tradeoffs.<key>", and in summary.losses_undefined.
 * SPDX-License-Identifier: MIT */
#include "report_losses.h"

#include <stdio.h>

static const char *
weighting_name(ss_class_weighting w)
{
  switch (w) {
  case SS_WEIGHTS_UNIFORM: return "uniform";
  case SS_WEIGHTS_INVERSE_FREQUENCY: return "inverse_frequency";
  case SS_WEIGHTS_MEDIAN_FREQUENCY: return "median_frequency";
  case SS_WEIGHTS_LIST: return "list";
  }
  return "uniform";
}

static json_t *
metric_list(const ss_metric *m, int n)
{
  json_t *a = json_array();
  for (int i = 0; i < n; i++)
    json_array_append_new(a, m[i].why == SS_DEFINED ? svc_json_real(m[i].value)
                                                    : json_null());
  return a;
}

static json_t *
tradeoffs_json(const ss_class_tradeoffs *to, json_t *undef)
{
  json_t *j = json_object();
  json_t *tv = json_array();
  for (int k = 0; k < to->ntversky; k++) {
    json_t *e = json_object();
    json_object_set_new(e, "alpha", svc_json_real(to->tversky_alpha[k]));
    json_object_set_new(e, "beta", svc_json_real(to->tversky_beta[k]));
    char path[64];
    snprintf(path, sizeof path, "tradeoffs.tversky[%d]", k);
    svc_json_set_metric(e, "index", to->tversky[k], undef, path);
    json_array_append_new(tv, e);
  }
  json_object_set_new(j, "tversky", tv);
  json_t *fb = json_object();
  for (int k = 0; k < to->nfbeta; k++) {
    char key[40], path[80];
    svc_json_number_key(to->fbeta_beta[k], key, sizeof key);
    snprintf(path, sizeof path, "tradeoffs.fbeta.%s", key);
    svc_json_set_metric(fb, key, to->fbeta[k], undef, path);
  }
  json_object_set_new(j, "fbeta", fb);
  if (!to->have_prob)
    return j;
  json_t *th = json_array();
  for (int k = 0; k < to->npr; k++)
    json_array_append_new(th, svc_json_real(to->pr_threshold[k]));
  json_t *pr = json_object();
  json_object_set_new(pr, "thresholds", th);
  json_object_set_new(pr, "precision",
                      metric_list(to->pr_precision, to->npr));
  json_object_set_new(pr, "recall", metric_list(to->pr_recall, to->npr));
  json_object_set_new(j, "pr_curve", pr);
  svc_json_set_metric(j, "average_precision", to->average_precision, undef,
                      "tradeoffs.average_precision");
  json_t *bt = json_object();
  svc_json_set_metric(bt, "threshold", to->best_threshold, undef,
                      "tradeoffs.best_threshold.threshold");
  svc_json_set_metric(bt, "dice", to->best_dice, undef,
                      "tradeoffs.best_threshold.dice");
  json_object_set_new(j, "best_threshold", bt);
  svc_json_set_metric(j, "brier", to->brier, undef, "tradeoffs.brier");
  svc_json_set_metric(j, "ece", to->ece, undef, "tradeoffs.ece");
  return j;
}

void
svc_report_losses_class(json_t *cls, json_t *undef, const ss_report *r,
                        int i, const ss_plan *plan)
{
  (void)plan;
  const ss_class_report *c = &r->classes[i];
  const ss_loss_info *cat = ss_loss_catalog(NULL);
  if (c->losses.have != 0) {
    json_t *l = json_object(), *s = json_object();
    for (int id = 0; id < SS_LOSS_COUNT; id++) {
      if (!(c->losses.have >> id & 1u))
        continue;
      char path[64];
      snprintf(path, sizeof path, "losses.%s", cat[id].name);
      svc_json_set_metric(l, cat[id].name, c->losses.loss[id], undef, path);
      if (cat[id].has_score)
        svc_json_set_metric(s, cat[id].name, c->losses.score[id], NULL, NULL);
    }
    json_object_set_new(cls, "losses", l);
    json_object_set_new(cls, "loss_scores", s);
  }
  if (c->tradeoffs.have)
    json_object_set_new(cls, "tradeoffs", tradeoffs_json(&c->tradeoffs, undef));
}

void
svc_report_losses_summary(json_t *sum, const ss_report *r,
                          const ss_plan *plan)
{
  (void)plan;
  const ss_case_losses *cl = &r->losses;
  if (!cl->computed || (cl->have == 0 && !cl->has_compound))
    return;
  const ss_loss_info *cat = ss_loss_catalog(NULL);
  json_t *l = json_object(), *s = json_object(), *u = json_object();
  for (int id = 0; id < SS_LOSS_COUNT; id++) {
    if (!(cl->have >> id & 1u))
      continue;
    svc_json_set_metric(l, cat[id].name, cl->loss[id], u, NULL);
    if (cat[id].has_score)
      svc_json_set_metric(s, cat[id].name, cl->score[id], NULL, NULL);
  }
  if (cl->has_compound)
    svc_json_set_metric(l, "compound", cl->compound, u, NULL);
  json_object_set_new(sum, "losses", l);
  json_object_set_new(sum, "loss_scores", s);
  json_object_set_new(sum, "losses_undefined", u);
}

void
svc_report_losses_root(json_t *root, const ss_report *r, const ss_plan *plan)
{
  const ss_case_losses *cl = &r->losses;
  json_t *conv = json_object_get(root, "conventions");
  if (!cl->computed || conv == NULL)
    return;
  const ss_loss_plan *lp = &plan->loss;
  const ss_loss_info *cat = ss_loss_catalog(NULL);
  json_t *j = json_object();
  json_object_set_new(j, "hard", json_boolean(cl->hard));
  json_object_set_new(j, "prediction",
                      json_string(cl->hard ? "label map scored as one-hot "
                                             "probabilities (hard losses)"
                                           : "probabilities per channel"));
  json_object_set_new(j, "log_clamp_eps", json_real(1e-7));
  json_object_set_new(j, "probability_sum_tolerance", json_real(1e-3));
  json_t *ch = json_array(), *w = json_object();
  for (int k = 0; k < cl->nweights; k++) {
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)cl->channel_labels[k]);
    json_array_append_new(ch, json_integer(cl->channel_labels[k]));
    json_object_set_new(w, key, svc_json_real(cl->weights[k]));
  }
  json_object_set_new(j, "channel_labels", ch);
  json_object_set_new(j, "class_weights", json_string(weighting_name(lp->weighting)));
  json_object_set_new(j, "class_weights_used", w);
  json_t *params = json_object();
  for (int id = 0; id < SS_LOSS_COUNT; id++) {
    if (cat[id].nparams == 0 || !(cl->have >> id & 1u))
      continue;
    json_t *p = json_object();
    for (int k = 0; k < cat[id].nparams; k++) {
      if (cat[id].params[k].per_class) {
        if (id == SS_LOSS_FOCAL && lp->nfocal_alpha > 0) {
          json_t *a = json_array();
          for (int q = 0; q < lp->nfocal_alpha; q++)
            json_array_append_new(a, svc_json_real(lp->focal_alpha[q]));
          json_object_set_new(p, cat[id].params[k].name, a);
        } else {
          json_object_set_new(p, cat[id].params[k].name,
                              svc_json_real(cat[id].params[k].def));
        }
        continue;
      }
      json_object_set_new(p, cat[id].params[k].name,
                          svc_json_real(lp->params[id][k]));
    }
    json_object_set_new(params, cat[id].name, p);
  }
  json_object_set_new(j, "params", params);
  if (lp->ncompound > 0) {
    json_t *c = json_array();
    for (int k = 0; k < lp->ncompound; k++)
      json_array_append_new(c, json_pack("{s:s,s:f}", "loss",
                                         cat[lp->compound[k].loss].name,
                                         "weight", lp->compound[k].weight));
    json_object_set_new(j, "compound", c);
  }
  json_object_set_new(conv, "losses", j);
  if (r->metrics & SS_METRIC_TRADEOFFS) {
    json_t *t = json_object();
    json_object_set_new(t, "pr_bins", json_integer(lp->pr_bins));
    json_object_set_new(t, "pr_rule", json_string("positive when p >= threshold; thresholds j/pr_bins, j = 0..pr_bins"));
    json_object_set_new(t, "ece_bins", json_integer(lp->ece_bins));
    json_object_set_new(t, "ece_binning", json_string(
        "equal-width bins on [0, 1] of the class probability (the last bin "
        "closed), one-vs-rest per class, over all scored voxels"));
    json_object_set_new(t, "tversky_and_fbeta_on",
                        json_string("argmax (or threshold) counts"));
    json_object_set_new(conv, "tradeoffs", t);
  }
}
