/* consensus.c - majority-vote consensus of several reference label maps
 * (ss_volume_consensus, segscore.h; docs/lesions.md "Several
 * references").  SPDX-License-Identifier: MIT */
#include "internal.h"

#include <stdlib.h>

static unsigned
idx_at(const ss_volume *v, int64_t i)
{
  return v->idx_width == 1 ? ((const uint8_t *)v->idx)[i]
                           : ((const uint16_t *)v->idx)[i];
}

/* Union of the label tables, ascending; *LUT gets, per reference, its
 * label index -> union index (rows of stride maxl). */
static ss_status
union_labels(const ss_volume *const *refs, int n, int64_t **out, int *nout,
             uint16_t **lut, int *stride, ss_error *err)
{
  int total = 0, maxl = 0;
  for (int k = 0; k < n; k++) {
    total += refs[k]->nlabels;
    maxl = refs[k]->nlabels > maxl ? refs[k]->nlabels : maxl;
  }
  int64_t *u = malloc(sizeof *u * (size_t)(total + 1));
  uint16_t *l = malloc(sizeof *l * (size_t)(n * maxl + 1));
  if (u == NULL || l == NULL) {
    free(u);
    free(l);
    return ss__fail(err, SS_ENOMEM, "consensus: out of memory");
  }
  /* k-way merge of sorted tables, small n: repeated minimum. */
  int *pos = calloc((size_t)n, sizeof *pos), nu = 0;
  if (pos == NULL) {
    free(u);
    free(l);
    return ss__fail(err, SS_ENOMEM, "consensus: out of memory");
  }
  for (;;) {
    int best = -1;
    for (int k = 0; k < n; k++)
      if (pos[k] < refs[k]->nlabels &&
          (best < 0 || refs[k]->labels[pos[k]] < refs[best]->labels[pos[best]]))
        best = k;
    if (best < 0)
      break;
    int64_t v = refs[best]->labels[pos[best]];
    for (int k = 0; k < n; k++)
      if (pos[k] < refs[k]->nlabels && refs[k]->labels[pos[k]] == v)
        l[k * maxl + pos[k]++] = (uint16_t)nu;
    u[nu++] = v;
    if (nu > 65535) {
      free(u);
      free(l);
      free(pos);
      return ss__fail(err, SS_ECLASSES, "consensus: more than 65535 "
                      "distinct labels over the references");
    }
  }
  free(pos);
  *out = u;
  *nout = nu;
  *lut = l;
  *stride = maxl;
  return SS_OK;
}

/* The vote at voxel I: the most frequent union index, the smallest index
 * (= smallest label) among equals; *TIE is set when another label had as
 * many votes. */
static unsigned
vote(const ss_volume *const *refs, int n, const uint16_t *lut, int stride,
     int64_t i, int *tie)
{
  unsigned v[SS_MAX_RATERS];
  int c[SS_MAX_RATERS], top = 0;
  for (int k = 0; k < n; k++)
    v[k] = lut[k * stride + (int)idx_at(refs[k], i)];
  for (int a = 0; a < n; a++) {
    c[a] = 0;
    for (int b = 0; b < n; b++)
      c[a] += v[b] == v[a];
    top = c[a] > top ? c[a] : top;
  }
  unsigned best = 65535;
  for (int a = 0; a < n; a++)
    if (c[a] == top && v[a] < best)
      best = v[a];
  *tie = 0;
  for (int a = 0; a < n; a++)
    *tie |= c[a] == top && v[a] != best;
  return best;
}

ss_status
ss_volume_consensus(const ss_volume *const *refs, int n, int threads,
                    ss_volume **out, int64_t *tied, ss_error *err)
{
  *out = NULL;
  if (refs == NULL || n < 1 || n > SS_MAX_RATERS)
    return ss__fail(err, SS_EINVAL, "consensus needs 1 to %d references",
                    SS_MAX_RATERS);
  for (int k = 0; k < n; k++) {
    if (refs[k] == NULL || refs[k]->idx == NULL)
      return ss__fail(err, SS_ELABELS, "reference %d is not a label map",
                      k + 1);
    if (refs[k]->info.nx != refs[0]->info.nx ||
        refs[k]->info.ny != refs[0]->info.ny ||
        refs[k]->info.nz != refs[0]->info.nz)
      return ss__fail(err, SS_ESHAPE, "reference %d grid differs from "
                      "reference 1", k + 1);
  }
  int64_t *u = NULL;
  uint16_t *lut = NULL;
  int nu = 0, stride = 0;
  ss_status st = union_labels(refs, n, &u, &nu, &lut, &stride, err);
  if (st != SS_OK)
    return st;
  const int64_t nvox = refs[0]->nvox;
  uint16_t *win = malloc(sizeof *win * (size_t)(nvox > 0 ? nvox : 1));
  ss_volume *v = calloc(1, sizeof *v);
  if (win == NULL || v == NULL) {
    free(u);
    free(lut);
    free(win);
    free(v);
    return ss__fail(err, SS_ENOMEM, "consensus: out of memory");
  }
  int64_t ties = 0;
  const int nt = nvox >= SS_PAR_MIN_VOXELS ? threads : 1;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+:ties)
  for (int64_t i = 0; i < nvox; i++) {
    int tie;
    win[i] = (uint16_t)vote(refs, n, lut, stride, i, &tie);
    ties += tie;
  }
  /* Keep only the labels that won somewhere, so the table lists what the
   * volume holds. */
  uint8_t *seen = calloc((size_t)nu, 1);
  uint16_t *remap = malloc(sizeof *remap * (size_t)nu);
  if (seen == NULL || remap == NULL) {
    st = ss__fail(err, SS_ENOMEM, "consensus: out of memory");
    goto fail;
  }
  for (int64_t i = 0; i < nvox; i++)
    seen[win[i]] = 1;
  int nl = 0;
  for (int j = 0; j < nu; j++) {
    remap[j] = (uint16_t)nl;
    if (seen[j])
      u[nl++] = u[j];
  }
  v->info = refs[0]->info;
  v->nvox = nvox;
  v->labels = u;
  v->nlabels = nl;
  v->idx_width = nl <= 256 ? 1 : 2;
  if (v->idx_width == 1) {
    uint8_t *o = (uint8_t *)win; /* shrink in place: o[i] is written after
                                    win[i] is read, and i only grows */
    for (int64_t i = 0; i < nvox; i++)
      o[i] = (uint8_t)remap[win[i]];
  } else {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t i = 0; i < nvox; i++)
      win[i] = remap[win[i]];
  }
  v->idx = win;
  v->info.labels = v->labels;
  v->info.nlabels = nl;
  v->info.integral = true;
  v->info.channels = 1;
  v->info.min = nl > 0 ? (double)u[0] : 0.0;
  v->info.max = nl > 0 ? (double)u[nl - 1] : 0.0;
  free(seen);
  free(remap);
  free(lut);
  if (tied != NULL)
    *tied = ties;
  *out = v;
  return SS_OK;
fail:
  free(seen);
  free(remap);
  free(lut);
  free(u);
  free(win);
  free(v);
  return st;
}
