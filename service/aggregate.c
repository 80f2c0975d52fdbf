/* aggregate.c - dataset summaries from per-case reports (aggregate.h;
 * semantics in docs/lesions.md "Dataset evaluation").  Each case keeps a
 * flat list of (class, metric path, value or reason); the summary sorts
 * the cases by name, lays the values out as class x metric x case and
 * reduces each cell in case order.
 * SPDX-License-Identifier: MIT */
#include "aggregate.h"
#include "report_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The report sections whose numbers are summarised. */
static const char *const sections[] = { "overlap", "boundary", "lesions",
                                        "losses", "tradeoffs" };

typedef struct {
  int cls;      /* index into the class key table */
  int path;     /* index into the path table */
  ss_metric m;
} entry;

typedef struct {
  char *name;
  entry *e;
  size_t n, cap;
  int *cls_status;     /* per class key: status index + 1, 0 = absent */
  int ncls_status;
} case_rec;

/* Interned strings: class keys ("label:1", "region:tumour") and metric
 * paths ("overlap.dice", "boundary.nsd.1"). */
typedef struct {
  char **s;
  int n, cap;
} strtab;

struct svc_agg {
  case_rec *cases;
  size_t n, cap;
  strtab classes, paths;
};

static const char *const status_names[] = { "ok", "pred_empty", "ref_empty",
                                            "both_empty" };

static int
intern(strtab *t, const char *s)
{
  for (int i = 0; i < t->n; i++)
    if (strcmp(t->s[i], s) == 0)
      return i;
  if (t->n == t->cap) {
    int cap = t->cap ? 2 * t->cap : 32;
    char **ns = realloc(t->s, sizeof *ns * (size_t)cap);
    if (ns == NULL)
      return -1;
    t->s = ns;
    t->cap = cap;
  }
  if ((t->s[t->n] = strdup(s)) == NULL)
    return -1;
  return t->n++;
}

static void
strtab_free(strtab *t)
{
  for (int i = 0; i < t->n; i++)
    free(t->s[i]);
  free(t->s);
}

svc_agg *
svc_agg_new(void)
{
  return calloc(1, sizeof(svc_agg));
}

static void
case_free(case_rec *c)
{
  free(c->name);
  free(c->e);
  free(c->cls_status);
}

void
svc_agg_free(svc_agg *a)
{
  if (a == NULL)
    return;
  for (size_t i = 0; i < a->n; i++)
    case_free(&a->cases[i]);
  free(a->cases);
  strtab_free(&a->classes);
  strtab_free(&a->paths);
  free(a);
}

/*---- extraction ------------------------------------------------------------*/

static ss_undef
undef_from_name(const char *s)
{
  for (int w = SS_BOTH_EMPTY; s != NULL && w <= SS_NO_VALID_VALUES; w++)
    if (strcmp(ss_undef_name((ss_undef)w), s) == 0)
      return (ss_undef)w;
  return SS_NOT_FINITE;
}

/* The reason for a null at SECTION.REST: the class's "undefined" object
 * has either the full path or the path inside the section. */
static ss_undef
reason(const json_t *undef, const char *section, const char *rest)
{
  char full[160];
  snprintf(full, sizeof full, "%s.%s", section, rest);
  const json_t *r = json_object_get(undef, full);
  if (r == NULL)
    r = json_object_get(undef, rest);
  return undef_from_name(json_string_value(r));
}

static int
add_entry(svc_agg *a, case_rec *c, int cls, const char *path,
          const json_t *v, const json_t *undef, const char *section,
          const char *rest)
{
  int p = intern(&a->paths, path);
  if (p < 0)
    return -1;
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 64;
    entry *ne = realloc(c->e, sizeof *ne * cap);
    if (ne == NULL)
      return -1;
    c->e = ne;
    c->cap = cap;
  }
  entry *e = &c->e[c->n++];
  e->cls = cls;
  e->path = p;
  if (json_is_number(v))
    e->m = (ss_metric){ json_number_value(v), SS_DEFINED };
  else
    e->m = (ss_metric){ 0.0, reason(undef, section, rest) };
  return 0;
}

static bool
is_value(const json_t *v)
{
  return json_is_number(v) || json_is_null(v);
}

/* Numbers and nulls of one section, one level of nesting deep. */
static int
add_section(svc_agg *a, case_rec *c, int cls, const char *section,
            const json_t *sec, const json_t *undef)
{
  const char *k;
  const json_t *v;
  json_object_foreach((json_t *)sec, k, v)
  {
    char path[200];
    if (is_value(v)) {
      snprintf(path, sizeof path, "%s.%s", section, k);
      if (add_entry(a, c, cls, path, v, undef, section, k))
        return -1;
    } else if (json_is_object(v)) {
      const char *k2;
      const json_t *v2;
      json_object_foreach((json_t *)v, k2, v2)
      {
        if (!is_value(v2))
          continue;
        char rest[160];
        snprintf(rest, sizeof rest, "%s.%s", k, k2);
        snprintf(path, sizeof path, "%s.%s", section, rest);
        if (add_entry(a, c, cls, path, v2, undef, section, rest))
          return -1;
      }
    }
  }
  return 0;
}

static int
class_key(const json_t *cls, char *buf, size_t size)
{
  const json_t *l = json_object_get(cls, "label");
  const json_t *r = json_object_get(cls, "region");
  if (json_is_integer(l))
    snprintf(buf, size, "label:%lld", (long long)json_integer_value(l));
  else if (json_is_string(r))
    snprintf(buf, size, "region:%s", json_string_value(r));
  else
    return -1;
  return 0;
}

static int
status_index(const json_t *s)
{
  const char *t = json_string_value(s);
  for (int i = 0; t != NULL && i < 4; i++)
    if (strcmp(t, status_names[i]) == 0)
      return i;
  return 0;
}

int
svc_agg_add(svc_agg *a, const char *name, const json_t *report)
{
  if (a->n == a->cap) {
    size_t cap = a->cap ? 2 * a->cap : 64;
    case_rec *nc = realloc(a->cases, sizeof *nc * cap);
    if (nc == NULL)
      return -1;
    a->cases = nc;
    a->cap = cap;
  }
  case_rec *c = &a->cases[a->n];
  memset(c, 0, sizeof *c);
  if ((c->name = strdup(name)) == NULL)
    return -1;
  const json_t *classes = json_object_get(report, "classes");
  size_t i;
  const json_t *cls;
  json_array_foreach(classes, i, cls)
  {
    char key[SS_NAME_MAX + 16];
    if (class_key(cls, key, sizeof key))
      continue;
    int ci = intern(&a->classes, key);
    if (ci < 0)
      goto fail;
    if (ci >= c->ncls_status) {
      int n = a->classes.cap;
      int *ns = realloc(c->cls_status, sizeof *ns * (size_t)n);
      if (ns == NULL)
        goto fail;
      memset(ns + c->ncls_status, 0,
             sizeof *ns * (size_t)(n - c->ncls_status));
      c->cls_status = ns;
      c->ncls_status = n;
    }
    c->cls_status[ci] = status_index(json_object_get(cls, "status")) + 1;
    const json_t *undef = json_object_get(cls, "undefined");
    for (size_t s = 0; s < sizeof sections / sizeof *sections; s++) {
      const json_t *sec = json_object_get(cls, sections[s]);
      if (json_is_object(sec) &&
          add_section(a, c, ci, sections[s], sec, undef))
        goto fail;
    }
  }
  a->n++;
  return 0;
fail:
  case_free(c);
  return -1;
}

/*---- summary ---------------------------------------------------------------*/

static int
cmp_case(const void *x, const void *y)
{
  const case_rec *const *a = x, *const *b = y;
  return strcmp((*a)->name, (*b)->name);
}

/* Cases in name order (pointers; the aggregate itself is not changed). */
static const case_rec **
sorted_cases(const svc_agg *a)
{
  const case_rec **s = malloc(sizeof *s * (a->n + 1));
  if (s == NULL)
    return NULL;
  for (size_t i = 0; i < a->n; i++)
    s[i] = &a->cases[i];
  qsort(s, a->n, sizeof *s, cmp_case);
  return s;
}

static int
cmp_double(const void *x, const void *y)
{
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

/* Distances (mm) are the boundary section's values except NSD; they are
 * the ones worst_distance_mm may stand in for. */
static bool
is_distance(const char *path)
{
  return strncmp(path, "boundary.", 9) == 0 &&
         strncmp(path, "boundary.nsd", 12) != 0;
}

typedef struct {
  double mean;
  bool defined;
} cell_mean;

/* Statistics of one (class, metric) over the cases: VALS holds the value
 * per case in name order, WHY the reason (or SS_DEFINED), PRESENT whether
 * the case reported the class at all. */
static json_t *
cell_json(const ss_metric *vals, const bool *present, size_t n, bool dist,
          bool has_worst, double worst, double *scratch, cell_mean *cm)
{
  size_t nv = 0, nu = 0, ns = 0, na = 0;
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    if (!present[i]) {
      na++;
      continue;
    }
    double x;
    if (vals[i].why == SS_DEFINED) {
      x = vals[i].value;
    } else if (dist && has_worst && (vals[i].why == SS_PRED_EMPTY ||
                                     vals[i].why == SS_REF_EMPTY)) {
      x = worst;
      ns++;
    } else {
      nu++;
      continue;
    }
    scratch[nv++] = x;
    sum += x;
  }
  json_t *j = json_object();
  cm->defined = nv > 0;
  if (nv > 0) {
    double mean = sum / (double)nv, ss = 0.0;
    for (size_t i = 0; i < nv; i++)
      ss += (scratch[i] - mean) * (scratch[i] - mean);
    qsort(scratch, nv, sizeof *scratch, cmp_double);
    double med = nv % 2 ? scratch[nv / 2]
                        : 0.5 * (scratch[nv / 2 - 1] + scratch[nv / 2]);
    json_object_set_new(j, "mean", svc_json_real(mean));
    json_object_set_new(j, "median", svc_json_real(med));
    json_object_set_new(j, "std", svc_json_real(sqrt(ss / (double)nv)));
    json_object_set_new(j, "min", svc_json_real(scratch[0]));
    json_object_set_new(j, "max", svc_json_real(scratch[nv - 1]));
    cm->mean = mean;
  } else {
    static const char *const k[] = { "mean", "median", "std", "min", "max" };
    for (int i = 0; i < 5; i++)
      json_object_set_new(j, k[i], json_null());
  }
  json_object_set_new(j, "n_valid", json_integer((json_int_t)nv));
  json_object_set_new(j, "n_undefined", json_integer((json_int_t)nu));
  json_object_set_new(j, "n_substituted", json_integer((json_int_t)ns));
  json_object_set_new(j, "n_absent", json_integer((json_int_t)na));
  return j;
}

static json_t *
class_id_json(const char *key)
{
  json_t *j = json_object();
  if (strncmp(key, "label:", 6) == 0)
    json_object_set_new(j, "label", json_integer(strtoll(key + 6, NULL, 10)));
  else
    json_object_set_new(j, "region", json_string(key + 7));
  return j;
}

/* LUT[i * cells + ci * np + pi] = 1 + index of the entry of case i for
 * class ci and metric pi, 0 when absent: one pass over the entries. */
static int32_t *
build_lut(const case_rec **cs, size_t n, size_t cells, int np)
{
  int32_t *lut = calloc(n * cells + 1, sizeof *lut);
  if (lut == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < cs[i]->n; k++) {
      const entry *e = &cs[i]->e[k];
      lut[i * cells + (size_t)e->cls * (size_t)np + (size_t)e->path] =
          (int32_t)k + 1;
    }
  return lut;
}

/* Fill VALS/PRESENT for cell CELL over the sorted cases. */
static size_t
gather(const case_rec **cs, size_t n, const int32_t *lut, size_t cells,
       size_t cell, ss_metric *vals, bool *present)
{
  size_t any = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t k = lut[i * cells + cell];
    present[i] = k != 0;
    if (k != 0)
      vals[i] = cs[i]->e[k - 1].m;
    any += k != 0;
  }
  return any;
}

json_t *
svc_agg_summary(const svc_agg *a, bool has_worst, double worst)
{
  const case_rec **cs = sorted_cases(a);
  const size_t n = a->n;
  const int nc = a->classes.n, np = a->paths.n;
  ss_metric *vals = malloc(sizeof *vals * (n + 1));
  bool *present = malloc(sizeof *present * (n + 1));
  double *scratch = malloc(sizeof *scratch * (n + 1));
  const size_t cells = (size_t)nc * (size_t)np;
  cell_mean *means = calloc(cells + 1, sizeof *means);
  int32_t *lut = cs != NULL ? build_lut(cs, n, cells, np) : NULL;
  json_t *sum = json_object(), *classes = json_array(), *fg = json_object();
  if (cs == NULL || vals == NULL || present == NULL || scratch == NULL ||
      means == NULL || lut == NULL || sum == NULL) {
    json_decref(sum);
    json_decref(classes);
    json_decref(fg);
    sum = NULL;
    goto done;
  }
  for (int ci = 0; ci < nc; ci++) {
    json_t *cj = class_id_json(a->classes.s[ci]), *mj = json_object();
    size_t ncases = 0;
    for (size_t i = 0; i < n; i++)
      ncases += ci < cs[i]->ncls_status && cs[i]->cls_status[ci] != 0;
    json_object_set_new(cj, "n_cases", json_integer((json_int_t)ncases));
    for (int pi = 0; pi < np; pi++) {
      if (gather(cs, n, lut, cells, (size_t)ci * np + pi, vals, present) == 0)
        continue;
      json_object_set_new(mj, a->paths.s[pi],
                          cell_json(vals, present, n,
                                    is_distance(a->paths.s[pi]), has_worst,
                                    worst, scratch,
                                    &means[(size_t)ci * np + pi]));
    }
    json_object_set_new(cj, "metrics", mj);
    json_array_append_new(classes, cj);
  }
  /* Foreground mean (nnU-Net): mean of the class means, label 0 left
   * out, classes whose mean is undefined skipped and not counted. */
  for (int pi = 0; pi < np; pi++) {
    double s = 0.0;
    int k = 0;
    for (int ci = 0; ci < nc; ci++) {
      const cell_mean *m = &means[(size_t)ci * np + pi];
      if (!m->defined || strcmp(a->classes.s[ci], "label:0") == 0)
        continue;
      s += m->mean;
      k++;
    }
    json_object_set_new(fg, a->paths.s[pi],
                        json_pack("{s:o,s:i}", "mean",
                                  k > 0 ? svc_json_real(s / k) : json_null(),
                                  "n_classes", k));
  }
  json_object_set_new(sum, "n_cases", json_integer((json_int_t)n));
  json_object_set_new(sum, "worst_distance_mm",
                      has_worst ? svc_json_real(worst) : json_null());
  json_object_set_new(sum, "classes", classes);
  json_object_set_new(sum, "foreground_mean", fg);
done:
  free(lut);
  free(cs);
  free(vals);
  free(present);
  free(scratch);
  free(means);
  return sum;
}

/*---- CSV -------------------------------------------------------------------*/

/* A CSV field: quoted when it holds a comma, quote or line break. */
static void
csv_field(FILE *f, const char *s)
{
  if (strpbrk(s, ",\"\r\n") == NULL) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"')
      fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

int
svc_agg_csv(const svc_agg *a, FILE *f)
{
  const case_rec **cs = sorted_cases(a);
  const int np = a->paths.n;
  const entry **row = calloc((size_t)np + 1, sizeof *row);
  if (cs == NULL || row == NULL) {
    free(cs);
    free(row);
    return -1;
  }
  fputs("case,class,status", f);
  for (int pi = 0; pi < np; pi++) {
    fputc(',', f);
    csv_field(f, a->paths.s[pi]);
  }
  fputc('\n', f);
  for (size_t i = 0; i < a->n; i++) {
    const case_rec *c = cs[i];
    for (int ci = 0; ci < c->ncls_status; ci++) {
      if (c->cls_status[ci] == 0)
        continue;
      memset(row, 0, sizeof *row * (size_t)np);
      for (size_t k = 0; k < c->n; k++)
        if (c->e[k].cls == ci)
          row[c->e[k].path] = &c->e[k];
      const char *key = a->classes.s[ci];
      csv_field(f, c->name);
      fputc(',', f);
      csv_field(f, strchr(key, ':') + 1);
      fprintf(f, ",%s", status_names[c->cls_status[ci] - 1]);
      for (int pi = 0; pi < np; pi++) {
        fputc(',', f);
        if (row[pi] != NULL && row[pi]->m.why == SS_DEFINED)
          fprintf(f, "%.17g", row[pi]->m.value);
      }
      fputc('\n', f);
    }
  }
  free(cs);
  free(row);
  return ferror(f) ? -1 : 0;
}
