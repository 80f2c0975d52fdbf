/* evaluate.c - `segscore evaluate`: score every prediction of a folder
 * against the reference of the same name and summarise the data set
 * (docs/lesions.md "Dataset evaluation").  Cases run on a pool of --jobs
 * threads, each holding one case's volumes at a time; the summary comes
 * from aggregate.c.  SPDX-License-Identifier: MIT */
#include "aggregate.h"
#include "cli.h"
#include "shard.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* One file found in a folder: the case name and the file name. */
typedef struct {
  char *name, *file;
} found;

typedef struct {
  found *f;
  size_t n, cap;
} found_list;

/* One case to score and its outcome. */
typedef struct {
  const char *name;
  char *pred_path, *ref_path;
  json_t *report;   /* owned; NULL on failure */
  json_t *problem;  /* owned; NULL on success */
} ev_case;

typedef struct {
  const char *pred_dir, *ref_dir, *options, *csv, *out;
  int jobs, threads, strict, pretty;
  svc_shard shard; /* --shard I/N; count 0 = every case */
} ev_args;

/* Shared state of the worker pool. */
typedef struct {
  ev_case *cases;
  size_t n, next, done;
  const char *opt_text;
  size_t opt_len;
  svc_score_config cfg;
  pthread_mutex_t lock;
  double t0;
  bool progress;
} ev_pool;

static double
now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*---- folders ---------------------------------------------------------------*/

/* The case name of a NIfTI file name (without .nii.gz / .nii), or NULL. */
static char *
case_name(const char *file)
{
  size_t n = strlen(file);
  size_t cut = n > 7 && strcmp(file + n - 7, ".nii.gz") == 0 ? 7
               : n > 4 && strcmp(file + n - 4, ".nii") == 0  ? 4
                                                             : 0;
  if (cut == 0 || file[0] == '.')
    return NULL;
  return strndup(file, n - cut);
}

static int
cmp_found(const void *a, const void *b)
{
  const found *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c != 0 ? c : strcmp(x->file, y->file);
}

static void
found_free(found_list *l)
{
  for (size_t i = 0; i < l->n; i++) {
    free(l->f[i].name);
    free(l->f[i].file);
  }
  free(l->f);
}

/* The NIfTI files of DIR sorted by case name. */
static int
list_dir(const char *dir, found_list *out, ss_error *err)
{
  DIR *d = opendir(dir);
  if (d == NULL) {
    err->code = SS_EINVAL;
    snprintf(err->detail, sizeof err->detail, "cannot open the folder");
    return -1;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char *name = case_name(e->d_name);
    if (name == NULL)
      continue;
    if (out->n == out->cap) {
      size_t cap = out->cap ? 2 * out->cap : 64;
      found *nf = realloc(out->f, sizeof *nf * cap);
      if (nf == NULL) {
        free(name);
        closedir(d);
        err->code = SS_ENOMEM;
        snprintf(err->detail, sizeof err->detail, "out of memory");
        return -1;
      }
      out->f = nf;
      out->cap = cap;
    }
    out->f[out->n++] = (found){ name, strdup(e->d_name) };
  }
  closedir(d);
  qsort(out->f, out->n, sizeof *out->f, cmp_found);
  return 0;
}

static char *
join(const char *dir, const char *file)
{
  size_t n = strlen(dir) + strlen(file) + 2;
  char *p = malloc(n);
  if (p != NULL)
    snprintf(p, n, "%s/%s", dir, file);
  return p;
}

/* Pair the two sorted lists by case name.  A second file with the same
 * case name (x.nii next to x.nii.gz) is not used and is listed with the
 * extras. */
static size_t
pair_cases(const ev_args *a, const found_list *p, const found_list *r,
           ev_case *cases, json_t *missing, json_t *extra)
{
  size_t i = 0, j = 0, n = 0;
  while (i < p->n || j < r->n) {
    int c = i >= p->n ? 1 : j >= r->n ? -1 : strcmp(p->f[i].name, r->f[j].name);
    if (c < 0) {
      json_array_append_new(extra, json_string(p->f[i++].file));
    } else if (c > 0) {
      json_array_append_new(missing, json_string(r->f[j++].file));
    } else {
      cases[n++] = (ev_case){ p->f[i].name, join(a->pred_dir, p->f[i].file),
                              join(a->ref_dir, r->f[j].file), NULL, NULL };
      const char *nm = p->f[i].name;
      for (i++; i < p->n && strcmp(p->f[i].name, nm) == 0; i++)
        json_array_append_new(extra, json_string(p->f[i].file));
      for (j++; j < r->n && strcmp(r->f[j].name, nm) == 0; j++)
        json_array_append_new(extra, json_string(r->f[j].file));
    }
  }
  return n;
}

/*---- the pool --------------------------------------------------------------*/

static void
score_case(ev_pool *pool, ev_case *c)
{
  ss_error err = { 0 };
  char *pb = NULL, *rb = NULL;
  size_t pl = 0, rl = 0;
  if (cli_read_file(c->pred_path, &pb, &pl, &err) != 0) {
    snprintf(err.field, sizeof err.field, "prediction");
  } else if (cli_read_file(c->ref_path, &rb, &rl, &err) != 0) {
    snprintf(err.field, sizeof err.field, "reference");
  } else {
    svc_score_input in = { .pred = pb, .pred_len = pl, .nrefs = 1,
                           .options = pool->opt_text,
                           .options_len = pool->opt_len };
    in.refs[0] = rb;
    in.ref_lens[0] = rl;
    svc_score(&in, &pool->cfg, &c->report, NULL, &err);
  }
  free(pb);
  free(rb);
  if (c->report == NULL)
    c->problem = svc_problem_json(&err, svc_http_status(err.code), NULL);
}

/* Cases done, rate and ETA on one terminal line (stderr is a TTY). */
static void
show_progress(const ev_pool *pool)
{
  double dt = now_s() - pool->t0;
  double rate = dt > 0 ? (double)pool->done / dt : 0.0;
  double eta = rate > 0 ? (double)(pool->n - pool->done) / rate : 0.0;
  fprintf(stderr, "\revaluate: %zu/%zu cases, %.2f cases/s, ETA %.0f s   ",
          pool->done, pool->n, rate, eta);
  if (pool->done == pool->n)
    fputc('\n', stderr);
  fflush(stderr);
}

static void *
worker(void *arg)
{
  ev_pool *pool = arg;
  for (;;) {
    pthread_mutex_lock(&pool->lock);
    size_t i = pool->next++;
    pthread_mutex_unlock(&pool->lock);
    if (i >= pool->n)
      return NULL;
    score_case(pool, &pool->cases[i]);
    pthread_mutex_lock(&pool->lock);
    pool->done++;
    if (pool->progress)
      show_progress(pool);
    pthread_mutex_unlock(&pool->lock);
  }
}

static int
run_pool(ev_pool *pool, int jobs)
{
  pthread_t tid[64];
  int started = 0;
  if (jobs > 64)
    jobs = 64;
  pthread_mutex_init(&pool->lock, NULL);
  pool->t0 = now_s();
  for (int k = 0; k < jobs; k++)
    if (pthread_create(&tid[k], NULL, worker, pool) == 0)
      started++;
  if (started == 0)
    worker(pool);
  for (int k = 0; k < started; k++)
    pthread_join(tid[k], NULL);
  pthread_mutex_destroy(&pool->lock);
  return 0;
}

/*---- arguments and output --------------------------------------------------*/

static int
parse_args(int argc, char **argv, ev_args *a)
{
  memset(a, 0, sizeof *a);
  a->jobs = 1;
  for (int i = 0; i < argc; i++) {
    const char *f = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(f, "--strict") == 0) {
      a->strict = 1;
    } else if (strcmp(f, "--pretty") == 0) {
      a->pretty = 1;
    } else if (v == NULL) {
      return cli_usage_error("evaluate: unknown flag or missing value: %s",
                             f);
    } else if (strcmp(f, "--pred-dir") == 0) {
      a->pred_dir = argv[++i];
    } else if (strcmp(f, "--ref-dir") == 0) {
      a->ref_dir = argv[++i];
    } else if (strcmp(f, "--options") == 0) {
      a->options = argv[++i];
    } else if (strcmp(f, "--csv") == 0) {
      a->csv = argv[++i];
    } else if (strcmp(f, "--shard") == 0) {
      if (svc_shard_parse(argv[++i], &a->shard) != 0)
        return cli_usage_error("evaluate: --shard must be I/N with "
                               "0 <= I < N, not %s", argv[i]);
    } else if (strcmp(f, "--out") == 0) {
      a->out = argv[++i];
    } else if (strcmp(f, "--jobs") == 0 || strcmp(f, "--threads") == 0) {
      int n = atoi(argv[++i]);
      if (n < 1 || n > 1024)
        return cli_usage_error("evaluate: %s must be 1..1024", f);
      *(f[2] == 'j' ? &a->jobs : &a->threads) = n;
    } else {
      return cli_usage_error("evaluate: unknown flag %s", f);
    }
  }
  if (a->pred_dir == NULL || a->ref_dir == NULL)
    return cli_usage_error("evaluate needs --pred-dir and --ref-dir%s", "");
  return 0;
}

static int
load_options(const char *arg, char **text, size_t *len, ss_error *err)
{
  if (arg == NULL)
    return 0;
  if (arg[0] == '@')
    return cli_read_file(arg + 1, text, len, err);
  *text = strdup(arg);
  *len = strlen(arg);
  return *text != NULL ? 0 : -1;
}

/* Keep the cases of shard S (positions in name order), freeing the
 * others' paths; returns the new count. */
static size_t
shard_select(const svc_shard *s, ev_case *cases, size_t n)
{
  size_t kept = 0;
  for (size_t k = 0; k < n; k++) {
    if (svc_shard_has(s, k)) {
      cases[kept++] = cases[k];
    } else {
      free(cases[k].pred_path);
      free(cases[k].ref_path);
    }
  }
  return kept;
}

/* Record in ROOT's "evaluate" that it holds shard S of a run over N_TOTAL
 * pairs (shard.h); ROOT, or NULL when out of memory. */
static json_t *
add_shard(json_t *root, const svc_shard *s, size_t n_total, const char *opt,
          size_t opt_len, ss_error *err)
{
  json_t *ev = json_object_get(root, "evaluate");
  json_t *info = svc_shard_json(s, n_total, opt, opt_len);
  if (json_object_set_new(ev, "shard", info) == 0)
    return root;
  json_decref(root);
  err->code = SS_ENOMEM;
  snprintf(err->detail, sizeof err->detail, "out of memory");
  return NULL;
}

/* The output object; the case reports move into it. */
static json_t *
build_output(ev_case *cases, size_t n, json_t *missing, json_t *extra,
             const ss_plan *plan, ss_error *err)
{
  svc_agg *agg = svc_agg_new();
  json_t *cj = json_array(), *failed = json_array();
  json_t *conv = NULL;
  for (size_t i = 0; agg != NULL && i < n; i++) {
    if (cases[i].report == NULL) {
      json_array_append_new(failed,
                            json_pack("{s:s,s:O}", "case", cases[i].name,
                                      "problem", cases[i].problem));
      continue;
    }
    if (svc_agg_add(agg, cases[i].name, cases[i].report) != 0)
      break;
    if (conv == NULL)
      conv = json_incref(json_object_get(cases[i].report, "conventions"));
    json_array_append_new(cj, json_pack("{s:s,s:O}", "case", cases[i].name,
                                        "report", cases[i].report));
  }
  json_t *sum = agg != NULL ? svc_agg_summary(agg, plan->has_worst_distance,
                                              plan->worst_distance_mm)
                            : NULL;
  svc_agg_free(agg);
  if (sum == NULL) {
    json_decref(cj);
    json_decref(failed);
    json_decref(conv);
    err->code = SS_ENOMEM;
    snprintf(err->detail, sizeof err->detail, "cannot build the summary");
    return NULL;
  }
  json_t *ev = json_pack("{s:I,s:I,s:O,s:O,s:o}", "n_pairs", (json_int_t)n,
                         "n_scored", (json_int_t)json_array_size(cj),
                         "missing_predictions", missing,
                         "extra_files", extra, "failed", failed);
  return json_pack("{s:{s:s},s:o,s:o,s:o,s:o}", "segscore", "version",
                   SS_VERSION, "evaluate", ev, "conventions",
                   conv != NULL ? conv : json_null(), "cases", cj, "summary",
                   sum);
}

static int
write_outputs(const ev_args *a, json_t *root, ev_case *cases, size_t n,
              ss_error *err)
{
  if (a->csv != NULL) {
    svc_agg *agg = svc_agg_new();
    FILE *f = fopen(a->csv, "w");
    int bad = agg == NULL || f == NULL;
    for (size_t i = 0; !bad && i < n; i++)
      if (cases[i].report != NULL)
        bad = svc_agg_add(agg, cases[i].name, cases[i].report) != 0;
    if (!bad)
      bad = svc_agg_csv(agg, f) != 0;
    if (f != NULL && fclose(f) != 0)
      bad = 1;
    svc_agg_free(agg);
    if (bad) {
      err->code = SS_EINVAL;
      snprintf(err->detail, sizeof err->detail, "cannot write the CSV file");
      return -1;
    }
  }
  char *s = svc_json_dump(root, a->pretty);
  if (s == NULL)
    return -1;
  FILE *f = a->out != NULL ? fopen(a->out, "w") : stdout;
  int bad = f == NULL || fputs(s, f) < 0 || fputc('\n', f) == EOF;
  if (f != NULL && f != stdout)
    bad |= fclose(f) != 0;
  else if (f == stdout)
    bad |= fflush(stdout) != 0;
  free(s);
  if (bad) {
    err->code = SS_EINVAL;
    snprintf(err->detail, sizeof err->detail, "cannot write the output");
    return -1;
  }
  return 0;
}

int
cli_evaluate(int argc, char **argv)
{
  ev_args a;
  int rc = parse_args(argc, argv, &a);
  if (rc != 0)
    return rc;
  ss_error err = { 0 };
  found_list p = { 0 }, r = { 0 };
  ev_case *cases = NULL;
  size_t n = 0;
  char *otext = NULL;
  size_t olen = 0;
  json_t *root = NULL, *missing = json_array(), *extra = json_array();
  ss_plan plan;
  ss_plan_init(&plan);
  if (load_options(a.options, &otext, &olen, &err) != 0 ||
      svc_options_parse(otext, olen, &plan, &err) != 0) {
    if (err.field[0] == '\0')
      snprintf(err.field, sizeof err.field, "options");
    rc = cli_problem(&err);
    goto done;
  }
  if (list_dir(a.pred_dir, &p, &err) != 0 ||
      list_dir(a.ref_dir, &r, &err) != 0) {
    snprintf(err.field, sizeof err.field, "%s",
             p.f == NULL && err.code == SS_EINVAL ? "pred-dir" : "ref-dir");
    rc = cli_problem(&err);
    goto done;
  }
  cases = calloc(r.n + 1, sizeof *cases);
  if (cases == NULL) {
    rc = CLI_EXIT_INTERNAL;
    goto done;
  }
  n = pair_cases(&a, &p, &r, cases, missing, extra);
  size_t n_total = n;
  n = shard_select(&a.shard, cases, n);
  if (a.strict && (json_array_size(missing) || json_array_size(extra))) {
    err.code = SS_EINVAL;
    snprintf(err.detail, sizeof err.detail, "--strict: %zu reference(s) "
             "without a prediction, %zu unpaired file(s)",
             json_array_size(missing), json_array_size(extra));
    snprintf(err.field, sizeof err.field, "pred-dir");
    rc = cli_problem(&err);
    goto done;
  }

  int cores = 1;
#ifdef _OPENMP
  cores = omp_get_num_procs();
#endif
  ev_pool pool = { .cases = cases, .n = n, .opt_text = otext,
                   .opt_len = olen, .progress = isatty(STDERR_FILENO) };
  pool.cfg.threads = a.threads > 0 ? a.threads
                                   : (cores / a.jobs > 0 ? cores / a.jobs : 1);
  run_pool(&pool, a.jobs);

  size_t nfail = 0;
  for (size_t i = 0; i < n; i++)
    nfail += cases[i].report == NULL;
  root = build_output(cases, n, missing, extra, &plan, &err);
  if (root != NULL && a.shard.count > 0)
    root = add_shard(root, &a.shard, n_total, otext, olen, &err);
  if (root == NULL || write_outputs(&a, root, cases, n, &err) != 0) {
    rc = cli_problem(&err);
    goto done;
  }
  if (nfail > 0 || json_array_size(missing) || json_array_size(extra))
    fprintf(stderr, "evaluate: %zu case(s) failed, %zu reference(s) without "
            "a prediction, %zu unpaired file(s); see \"evaluate\" in the "
            "output\n", nfail, json_array_size(missing),
            json_array_size(extra));
  rc = nfail > 0 && a.strict ? CLI_EXIT_INPUT : 0;
done:
  for (size_t i = 0; cases != NULL && i < n; i++) {
    free(cases[i].pred_path);
    free(cases[i].ref_path);
    json_decref(cases[i].report);
    json_decref(cases[i].problem);
  }
  free(cases);
  found_free(&p);
  found_free(&r);
  free(otext);
  json_decref(missing);
  json_decref(extra);
  json_decref(root);
  ss_plan_clear(&plan);
  return rc;
}
