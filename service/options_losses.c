/* options_losses.c - the option keys of the losses and trade-offs:
 * losses, loss_params, class_weights, smooth, compound, tradeoff_grid.
 * Names, parameters and ranges come from the library's catalog
 * (ss_loss_catalog), so an unknown loss or parameter is SS_EOPTION and an
 * out-of-range value SS_ERANGE, each naming the field (docs/losses.md).
 * SPDX-License-Identifier: MIT */
#include "options.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int
type_fail(ss_error *err, const char *field, const char *want)
{
  return svc_opt_fail(err, SS_ETYPE, field, "option %s must be %s", field,
                      want);
}

static int
unknown_loss(ss_error *err, const char *field, const char *name)
{
  return svc_opt_fail(err, SS_EOPTION, field, "unknown loss \"%.40s\"; the "
                      "names are listed by GET /v1/catalog and `segscore "
                      "catalog`", name);
}

/* "losses": ["dice", "focal"] or "all" or ["all"]. */
static int
opt_losses(const json_t *v, ss_plan *p, ss_error *err)
{
  ss_loss_plan *lp = &p->loss;
  if (json_is_string(v)) {
    if (strcmp(json_string_value(v), "all") != 0)
      return type_fail(err, "losses", "a list of loss names or \"all\"");
    lp->set = SS_LOSS_ALL;
    lp->set_given = true;
    return 0;
  }
  if (!json_is_array(v))
    return type_fail(err, "losses", "a list of loss names or \"all\"");
  uint32_t set = 0;
  for (size_t i = 0; i < json_array_size(v); i++) {
    char f[32];
    snprintf(f, sizeof f, "losses[%zu]", i);
    const char *s = json_string_value(json_array_get(v, i));
    if (s == NULL)
      return type_fail(err, f, "a loss name");
    if (strcmp(s, "all") == 0) {
      set = SS_LOSS_ALL;
      continue;
    }
    int id = ss_loss_find(s);
    if (id < 0)
      return unknown_loss(err, f, s);
    set |= 1u << id;
  }
  lp->set = set;
  lp->set_given = true;
  return 0;
}

/* "loss_params": {"tversky": {"alpha": 0.3}, "focal": {"alpha": [..]}} */
static int
opt_loss_params(const json_t *v, ss_plan *p, ss_error *err)
{
  if (!json_is_object(v))
    return type_fail(err, "loss_params", "an object of loss: {param: value}");
  const char *lname;
  json_t *params;
  json_object_foreach((json_t *)v, lname, params)
  {
    char f[96];
    snprintf(f, sizeof f, "loss_params.%.40s", lname);
    int id = ss_loss_find(lname);
    if (id < 0)
      return unknown_loss(err, f, lname);
    if (!json_is_object(params))
      return type_fail(err, f, "an object of parameter: value");
    const char *pname;
    json_t *val;
    json_object_foreach(params, pname, val)
    {
      char pf[96];
      snprintf(pf, sizeof pf, "loss_params.%.40s.%.40s", lname, pname);
      ss_status st;
      if (json_is_array(val)) {
        size_t n = json_array_size(val);
        if (n == 0 || n > SS_DEFAULT_MAX_LABELS)
          return svc_opt_fail(err, SS_ERANGE, pf, "option %s needs 1 to %d "
                              "values, one per channel", pf,
                              SS_DEFAULT_MAX_LABELS);
        double *a = malloc(n * sizeof *a);
        if (a == NULL)
          return svc_opt_fail(err, SS_ENOMEM, pf, "out of memory");
        for (size_t i = 0; i < n; i++) {
          json_t *x = json_array_get(val, i);
          if (!json_is_number(x)) {
            free(a);
            char ef[112];
            snprintf(ef, sizeof ef, "%s[%zu]", pf, i);
            return type_fail(err, ef, "a number");
          }
          a[i] = json_number_value(x);
        }
        st = ss_loss_param_set_list(&p->loss, (ss_loss_id)id, pname, a,
                                    (int)n, err);
        free(a);
      } else if (json_is_number(val)) {
        st = ss_loss_param_set(&p->loss, (ss_loss_id)id, pname,
                               json_number_value(val), err);
      } else {
        return type_fail(err, pf, "a number (or a per-class list)");
      }
      if (st != SS_OK) {
        if (err != NULL)
          snprintf(err->field, sizeof err->field, "%s", pf);
        return -1;
      }
    }
  }
  return 0;
}

/* "class_weights": "uniform" | "inverse_frequency" | "median_frequency" |
 * [w0, w1, ...] (one per channel). */
static int
opt_class_weights(const json_t *v, ss_plan *p, ss_error *err)
{
  ss_loss_plan *lp = &p->loss;
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    if (strcmp(s, "uniform") == 0)
      lp->weighting = SS_WEIGHTS_UNIFORM;
    else if (strcmp(s, "inverse_frequency") == 0)
      lp->weighting = SS_WEIGHTS_INVERSE_FREQUENCY;
    else if (strcmp(s, "median_frequency") == 0)
      lp->weighting = SS_WEIGHTS_MEDIAN_FREQUENCY;
    else
      return svc_opt_fail(err, SS_ERANGE, "class_weights", "class_weights "
                          "must be uniform, inverse_frequency, "
                          "median_frequency or a list of weights");
    return 0;
  }
  if (!json_is_array(v))
    return type_fail(err, "class_weights", "a string or a list of numbers");
  size_t n = json_array_size(v);
  double *w = malloc((n > 0 ? n : 1) * sizeof *w);
  if (w == NULL)
    return svc_opt_fail(err, SS_ENOMEM, "class_weights", "out of memory");
  for (size_t i = 0; i < n; i++) {
    json_t *x = json_array_get(v, i);
    if (!json_is_number(x)) {
      free(w);
      char f[40];
      snprintf(f, sizeof f, "class_weights[%zu]", i);
      return type_fail(err, f, "a number");
    }
    w[i] = json_number_value(x);
  }
  ss_status st = ss_loss_plan_set_weights(lp, w, (int)n, err);
  free(w);
  return st == SS_OK ? 0 : -1;
}

/* "smooth": {"nr": 1e-5, "dr": 1e-5}, either key optional, or a number
 * for both. */
static int
opt_smooth(const json_t *v, ss_plan *p, ss_error *err)
{
  if (json_is_number(v)) {
    double s;
    if (svc_opt_number(v, "smooth", 0.0, 1e6, &s, err))
      return -1;
    p->smooth_nr = p->smooth_dr = s;
    return 0;
  }
  if (!json_is_object(v))
    return type_fail(err, "smooth", "an object {\"nr\": x, \"dr\": y}");
  const char *k;
  json_t *x;
  json_object_foreach((json_t *)v, k, x)
  {
    if (strcmp(k, "nr") == 0) {
      if (svc_opt_number(x, "smooth.nr", 0.0, 1e6, &p->smooth_nr, err))
        return -1;
    } else if (strcmp(k, "dr") == 0) {
      if (svc_opt_number(x, "smooth.dr", 0.0, 1e6, &p->smooth_dr, err))
        return -1;
    } else {
      char f[64];
      snprintf(f, sizeof f, "smooth.%.40s", k);
      return svc_opt_fail(err, SS_EOPTION, f, "unknown option %s (nr, dr)",
                          f);
    }
  }
  return 0;
}

/* "compound": [{"loss": "dice", "weight": 1}, ...] */
static int
opt_compound(const json_t *v, ss_plan *p, ss_error *err)
{
  if (!json_is_array(v))
    return type_fail(err, "compound", "a list of {\"loss\", \"weight\"}");
  size_t n = json_array_size(v);
  if (n > SS_MAX_COMPOUND)
    return svc_opt_fail(err, SS_ERANGE, "compound", "at most %d compound "
                        "terms", SS_MAX_COMPOUND);
  ss_loss_plan *lp = &p->loss;
  for (size_t i = 0; i < n; i++) {
    json_t *t = json_array_get(v, i);
    char f[64];
    snprintf(f, sizeof f, "compound[%zu]", i);
    if (!json_is_object(t))
      return type_fail(err, f, "an object {\"loss\": name, \"weight\": w}");
    const char *k;
    json_t *x;
    const char *name = NULL;
    double w = 1.0;
    json_object_foreach(t, k, x)
    {
      char kf[112];
      snprintf(kf, sizeof kf, "%s.%.40s", f, k);
      if (strcmp(k, "loss") == 0) {
        name = json_string_value(x);
        if (name == NULL)
          return type_fail(err, kf, "a loss name");
      } else if (strcmp(k, "weight") == 0) {
        if (svc_opt_number(x, kf, -1e6, 1e6, &w, err))
          return -1;
      } else {
        return svc_opt_fail(err, SS_EOPTION, kf, "unknown option %s (loss, "
                            "weight)", kf);
      }
    }
    char lf[112];
    snprintf(lf, sizeof lf, "%s.loss", f);
    if (name == NULL)
      return svc_opt_fail(err, SS_ETYPE, lf, "option %s is required", lf);
    int id = ss_loss_find(name);
    if (id < 0)
      return unknown_loss(err, lf, name);
    lp->compound[i] = (ss_compound_term){ (ss_loss_id)id, w };
  }
  lp->ncompound = (int)n;
  return 0;
}

/* "tradeoff_grid": {"tversky": [[alpha, beta], ...], "fbeta_betas": [...],
 * "pr_bins": 1000, "ece_bins": 15} */
static int
opt_tradeoff_grid(const json_t *v, ss_plan *p, ss_error *err)
{
  if (!json_is_object(v))
    return type_fail(err, "tradeoff_grid", "an object");
  ss_loss_plan *lp = &p->loss;
  const char *k;
  json_t *x;
  json_object_foreach((json_t *)v, k, x)
  {
    char f[64];
    snprintf(f, sizeof f, "tradeoff_grid.%.40s", k);
    if (strcmp(k, "tversky") == 0) {
      if (!json_is_array(x) || json_array_size(x) == 0 ||
          json_array_size(x) > SS_MAX_TRADEOFF_PAIRS)
        return svc_opt_fail(err, json_is_array(x) ? SS_ERANGE : SS_ETYPE, f,
                            "option %s must be a list of 1 to %d [alpha, "
                            "beta] pairs", f, SS_MAX_TRADEOFF_PAIRS);
      for (size_t i = 0; i < json_array_size(x); i++) {
        char pf[96];
        snprintf(pf, sizeof pf, "%s[%zu]", f, i);
        int n = 0;
        double ab[2];
        if (svc_opt_number_list(json_array_get(x, i), pf, 0.0, 1e6, 2, ab, &n,
                                err))
          return -1;
        if (n != 2)
          return svc_opt_fail(err, SS_ERANGE, pf, "option %s must be an "
                              "[alpha, beta] pair", pf);
        lp->tversky_grid[i][0] = ab[0];
        lp->tversky_grid[i][1] = ab[1];
      }
      lp->ntversky = (int)json_array_size(x);
    } else if (strcmp(k, "fbeta_betas") == 0) {
      if (svc_opt_number_list(x, f, 1e-6, 1e6, SS_MAX_BETAS, lp->fbeta_betas,
                              &lp->nfbeta, err))
        return -1;
    } else if (strcmp(k, "pr_bins") == 0 || strcmp(k, "ece_bins") == 0) {
      bool pr = k[0] == 'p';
      double d;
      if (svc_opt_number(x, f, pr ? SS_MIN_PR_BINS : 1,
                         pr ? SS_MAX_PR_BINS : 1000, &d, err))
        return -1;
      if (d != floor(d))
        return type_fail(err, f, "an integer");
      if (pr)
        lp->pr_bins = (int)d;
      else
        lp->ece_bins = (int)d;
    } else {
      return svc_opt_fail(err, SS_EOPTION, f, "unknown option %s (tversky, "
                          "fbeta_betas, pr_bins, ece_bins)", f);
    }
  }
  return 0;
}

const svc_option svc_loss_options[SVC_LOSS_NOPTIONS] = {
  { "losses", opt_losses },
  { "loss_params", opt_loss_params },
  { "class_weights", opt_class_weights },
  { "smooth", opt_smooth },
  { "compound", opt_compound },
  { "tradeoff_grid", opt_tradeoff_grid },
};
