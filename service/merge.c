/* merge.c - `segscore merge`: combine the outputs of `segscore evaluate
 * --shard I/N`, I = 0..N-1, into the output one unsharded run gives: the
 * cases in name order, the evaluate counts and lists, and the summary
 * recomputed from the case reports by aggregate.c (the same function the
 * single run uses, on reals that round-trip exactly), so it matches number
 * for number.  Shards of different runs are refused (shard.h).
 * SPDX-License-Identifier: MIT */
#include "aggregate.h"
#include "cli.h"
#include "shard.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *out, *csv;
  int pretty;
  char **files;
  size_t nfiles;
} mg_args;

/* What one shard output holds (borrowed from its document). */
typedef struct {
  json_t *doc;
  const char *version;
  json_int_t n_pairs, index, count, n_total;
  json_t *missing, *extra, *failed, *options, *cases, *worst;
} mg_shard;

/* One pair of the whole data set: a scored case or a failed one. */
typedef struct {
  const char *name;
  json_t *entry; /* {case, report} or {case, problem}; borrowed */
  json_int_t shard;
  bool failed;
} mg_pair;

/* Set ERR to an input error about the shards; returns -1. */
static int __attribute__((format(printf, 2, 3)))
bad(ss_error *err, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  err->code = SS_EINVAL;
  vsnprintf(err->detail, sizeof err->detail, fmt, ap);
  snprintf(err->field, sizeof err->field, "shard");
  va_end(ap);
  return -1;
}

static int
parse_args(int argc, char **argv, mg_args *a)
{
  *a = (mg_args){ .files = calloc((size_t)argc + 1, sizeof *a->files) };
  if (a->files == NULL)
    return CLI_EXIT_INTERNAL;
  for (int i = 0; i < argc; i++) {
    const char *f = argv[i];
    if (strcmp(f, "--pretty") == 0) {
      a->pretty = 1;
    } else if (strcmp(f, "--out") == 0 || strcmp(f, "--csv") == 0) {
      if (i + 1 >= argc)
        return cli_usage_error("merge: %s needs a file", f);
      *(f[2] == 'o' ? &a->out : &a->csv) = argv[++i];
    } else if (f[0] == '-' && f[1] != '\0') {
      return cli_usage_error("merge: unknown flag %s", f);
    } else {
      a->files[a->nfiles++] = argv[i];
    }
  }
  if (a->nfiles == 0)
    return cli_usage_error("merge needs the shard outputs%s", "");
  return 0;
}

/* Load shard file K and pick out its parts. */
static int
load_shard(const char *path, size_t k, mg_shard *s, ss_error *err)
{
  json_error_t jerr;
  s->doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  if (s->doc == NULL)
    return bad(err,
               "file %zu is not complete JSON (missing, truncated or "
               "still being written)",
               k + 1);
  json_t *conv; /* present, but a merge takes it from the first case */
  if (json_unpack_ex(s->doc, &jerr, 0,
                     "{s:{s:s},s:{s:I,s:o,s:o,s:o,s:{s:I,s:I,s:I,s:o}},"
                     "s:o,s:o,s:{s:o}}",
                     "segscore", "version", &s->version, "evaluate", "n_pairs",
                     &s->n_pairs, "missing_predictions", &s->missing,
                     "extra_files", &s->extra, "failed", &s->failed, "shard",
                     "index", &s->index, "count", &s->count, "n_pairs_total",
                     &s->n_total, "options", &s->options, "conventions", &conv,
                     "cases", &s->cases, "summary", "worst_distance_mm",
                     &s->worst)
          != 0
      || !json_is_array(s->cases) || !json_is_array(s->failed)
      || !json_is_array(s->missing) || !json_is_array(s->extra))
    return bad(err,
               "file %zu is not the output of segscore evaluate "
               "--shard I/N",
               k + 1);
  return 0;
}

/* The N shards must be 0..N-1 of one run: same version, options, folders
 * and worst-distance setting, pair counts adding up. */
static int
check_shards(const mg_shard *s, size_t n, ss_error *err)
{
  bool *seen = calloc(n, sizeof *seen);
  if (seen == NULL)
    return bad(err, "out of memory");
  json_int_t pairs = 0;
  int rc = 0;
  for (size_t k = 0; k < n && rc == 0; k++) {
    if (strcmp(s[k].version, SS_VERSION) != 0)
      rc = bad(err, "file %zu was written by another segscore version", k + 1);
    else if (s[k].count != (json_int_t)n)
      rc = bad(err,
               "file %zu is a shard of %ld, but the merge was given a "
               "different number of files",
               k + 1, (long)s[k].count);
    else if (s[k].index < 0 || s[k].index >= (json_int_t)n || seen[s[k].index])
      rc = bad(err, "shard %ld is given twice or out of range (file %zu)",
               (long)s[k].index, k + 1);
    else if (s[k].n_total != s[0].n_total
             || !json_equal(s[k].options, s[0].options)
             || !json_equal(s[k].missing, s[0].missing)
             || !json_equal(s[k].extra, s[0].extra)
             || !json_equal(s[k].worst, s[0].worst))
      rc = bad(err,
               "file %zu comes from another run than file 1 (folders "
               "or options differ)",
               k + 1);
    if (rc == 0)
      seen[s[k].index] = true;
    pairs += s[k].n_pairs;
  }
  free(seen);
  /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): n >= 1 (parse_args) */
  if (rc == 0 && pairs != s[0].n_total)
    rc = bad(err, "the shards hold %ld pairs, the run had %ld", (long)pairs,
             (long)s[0].n_total);
  return rc;
}

static int
cmp_pair(const void *a, const void *b)
{
  return strcmp(((const mg_pair *)a)->name, ((const mg_pair *)b)->name);
}

/* Every pair of every shard (scored and failed), in name order; checks
 * that pair k came from shard k mod N, as evaluate --shard deals them. */
static mg_pair *
collect_pairs(const mg_shard *s, size_t n, size_t *np, ss_error *err)
{
  size_t total = 0;
  for (size_t k = 0; k < n; k++)
    total += json_array_size(s[k].cases) + json_array_size(s[k].failed);
  mg_pair *p = calloc(total + 1, sizeof *p);
  if (p == NULL) {
    bad(err, "out of memory");
    return NULL;
  }
  size_t m = 0;
  for (size_t k = 0; k < n; k++) {
    for (int f = 0; f < 2; f++) {
      json_t *list = f ? s[k].failed : s[k].cases, *e;
      size_t i;
      json_array_foreach(list, i, e)
      {
        const char *name = json_string_value(json_object_get(e, "case"));
        if (name == NULL
            || !json_is_object(json_object_get(e, f ? "problem" : "report"))) {
          free(p);
          bad(err, "file %zu has a malformed case entry", k + 1);
          return NULL;
        }
        p[m++] = (mg_pair){ name, e, s[k].index, f };
      }
    }
  }
  qsort(p, m, sizeof *p, cmp_pair);
  for (size_t i = 0; i < m; i++) {
    if (i > 0 && strcmp(p[i - 1].name, p[i].name) == 0) {
      free(p);
      bad(err, "a case is in two shards (pair %zu)", i);
      return NULL;
    }
    if (p[i].shard != (json_int_t)(i % n)) {
      free(p);
      bad(err,
          "pair %zu belongs to shard %zu by name order: the shards "
          "were not made from the same folders",
          i, i % n);
      return NULL;
    }
  }
  *np = m;
  return p;
}

/* The merged output, shaped as evaluate.c's build_output() shapes a
 * single run's.  AGG receives the scored cases. */
static json_t *
merged_output(const mg_shard *s, const mg_pair *p, size_t m, svc_agg *agg,
              ss_error *err)
{
  json_t *cases = json_array(), *failed = json_array(), *conv = NULL;
  int bad_add = cases == NULL || failed == NULL;
  for (size_t i = 0; i < m && !bad_add; i++) {
    if (p[i].failed) {
      bad_add = json_array_append(failed, p[i].entry) != 0;
      continue;
    }
    json_t *report = json_object_get(p[i].entry, "report");
    if (conv == NULL)
      conv = json_object_get(report, "conventions");
    bad_add = svc_agg_add(agg, p[i].name, report) != 0
              || json_array_append(cases, p[i].entry) != 0;
  }
  /* NOLINTBEGIN(clang-analyzer-unix.Malloc): at least one shard (parse_args) */
  json_t *sum = bad_add ? NULL
                        : svc_agg_summary(agg, json_is_number(s[0].worst),
                                          json_number_value(s[0].worst));
  /* NOLINTEND(clang-analyzer-unix.Malloc) */
  if (sum == NULL) {
    json_decref(cases);
    json_decref(failed);
    bad(err, "out of memory");
    err->code = SS_ENOMEM;
    return NULL;
  }
  json_t *ev
      = json_pack("{s:I,s:I,s:O,s:O,s:o}", "n_pairs", s[0].n_total, "n_scored",
                  (json_int_t)json_array_size(cases), "missing_predictions",
                  s[0].missing, "extra_files", s[0].extra, "failed", failed);
  return json_pack("{s:{s:s},s:o,s:O,s:o,s:o}", "segscore", "version",
                   SS_VERSION, "evaluate", ev, "conventions",
                   conv != NULL ? conv : json_null(), "cases", cases, "summary",
                   sum);
}

static int
write_all(const mg_args *a, const json_t *root, const svc_agg *agg,
          ss_error *err)
{
  if (a->csv != NULL) {
    FILE *f = fopen(a->csv, "w");
    int fail = f == NULL || svc_agg_csv(agg, f) != 0;
    if (f != NULL && fclose(f) != 0)
      fail = 1;
    if (fail)
      return bad(err, "cannot write the CSV file");
  }
  char *text = svc_json_dump(root, a->pretty);
  if (text == NULL)
    return bad(err, "out of memory");
  FILE *f = a->out != NULL ? fopen(a->out, "w") : stdout;
  int fail = f == NULL || fputs(text, f) < 0 || fputc('\n', f) == EOF;
  if (f != NULL)
    fail |= (f == stdout ? fflush(f) : fclose(f)) != 0;
  free(text);
  return fail ? bad(err, "cannot write the output") : 0;
}

int
cli_merge(int argc, char **argv)
{
  mg_args a;
  int rc = parse_args(argc, argv, &a);
  if (rc != 0) {
    free(a.files);
    return rc;
  }
  ss_error err = { 0 };
  mg_shard *s = calloc(a.nfiles, sizeof *s);
  mg_pair *pairs = NULL;
  svc_agg *agg = svc_agg_new();
  json_t *root = NULL;
  size_t m = 0;
  if (s == NULL || agg == NULL) {
    rc = CLI_EXIT_INTERNAL;
    goto done;
  }
  for (size_t k = 0; k < a.nfiles && rc == 0; k++)
    if (load_shard(a.files[k], k, &s[k], &err) != 0)
      rc = cli_problem(&err);
  if (rc == 0 && check_shards(s, a.nfiles, &err) != 0)
    rc = cli_problem(&err);
  if (rc == 0 && (pairs = collect_pairs(s, a.nfiles, &m, &err)) == NULL)
    rc = cli_problem(&err);
  if (rc == 0 && (root = merged_output(s, pairs, m, agg, &err)) == NULL)
    rc = cli_problem(&err);
  if (rc == 0 && write_all(&a, root, agg, &err) != 0)
    rc = cli_problem(&err);
done:
  json_decref(root);
  free(pairs);
  svc_agg_free(agg);
  for (size_t k = 0; s != NULL && k < a.nfiles; k++)
    json_decref(s[k].doc);
  free(s);
  free(a.files);
  return rc;
}
