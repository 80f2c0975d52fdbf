/* segscore.c - the command-line tool: the same plan, scoring and JSON as
 * the daemon, on files.  Exit codes: 0 ok, 2 usage, 3 input, 4 internal.
 * Errors are the daemon's problem JSON, on stderr.
 * SPDX-License-Identifier: MIT */
#include "cli.h"
#include "shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
  fputs("usage: segscore score PRED REF [REF ...] [--options JSON|@FILE]\n"
        "                      [--threads N] [--pretty]\n"
        "       segscore inspect FILE [--pretty]\n"
        "       segscore catalog [--pretty]\n"
        "       segscore evaluate --pred-dir D --ref-dir D [--options ...]\n"
        "                      [--jobs N] [--threads N] [--csv FILE]\n"
        "                      [--out FILE] [--strict] [--pretty]\n"
        "                      [--shard I/N]\n"
        "       segscore merge SHARD.json ... [--out FILE] [--csv FILE]\n"
        "                      [--pretty]\n"
        "       segscore --version\n"
        "Scores a segmentation against a reference (NIfTI .nii/.nii.gz)\n"
        "and prints a JSON report; see README.md and docs/.\n",
        f);
}

int
cli_problem(const ss_error *err)
{
  int http = svc_http_status(err->code);
  json_t *p = svc_problem_json(err, http, NULL);
  char *s = p != NULL ? svc_json_dump(p, 0) : NULL;
  fprintf(stderr, "%s\n", s != NULL ? s : err->detail);
  free(s);
  json_decref(p);
  return err->code == SS_ENOMEM || err->code == SS_EINTERNAL ? CLI_EXIT_INTERNAL
                                                             : CLI_EXIT_INPUT;
}

int
cli_usage_error(const char *fmt, const char *arg)
{
  ss_error err = { .code = SS_EINVAL };
  snprintf(err.detail, sizeof err.detail, fmt, arg != NULL ? arg : "");
  json_t *p = svc_problem_json(&err, 400, NULL);
  char *s = p != NULL ? svc_json_dump(p, 0) : NULL;
  fprintf(stderr, "%s\n", s != NULL ? s : err.detail);
  free(s);
  json_decref(p);
  usage(stderr);
  return CLI_EXIT_USAGE;
}

int
cli_read_file(const char *path, char **buf, size_t *len, ss_error *err)
{
  *buf = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    err->code = SS_EINVAL;
    /* A path the user typed is not patient data in the CLI's own output,
     * but keep it out anyway: the message names the role, not the file. */
    snprintf(err->detail, sizeof err->detail, "cannot open input file: %s",
             strerror(errno));
    return -1;
  }
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap);
  while (b != NULL) {
    size_t got = fread(b + n, 1, cap - n, f);
    n += got;
    if (n < cap)
      break;
    char *nb = cap < ((size_t)1 << 40) ? realloc(b, cap * 2) : NULL;
    if (nb == NULL) {
      free(b);
      b = NULL;
      break;
    }
    b = nb;
    cap *= 2;
  }
  int bad = ferror(f);
  fclose(f);
  if (b == NULL || bad) {
    free(b);
    err->code = b == NULL ? SS_ENOMEM : SS_EINVAL;
    snprintf(err->detail, sizeof err->detail, "cannot read input file");
    return -1;
  }
  *buf = b;
  *len = n;
  return 0;
}

int
cli_print_json(json_t *j, int pretty)
{
  char *s = svc_json_dump(j, pretty);
  if (s == NULL)
    return CLI_EXIT_INTERNAL;
  fputs(s, stdout);
  fputc('\n', stdout);
  free(s);
  return fflush(stdout) == 0 ? 0 : CLI_EXIT_INTERNAL;
}

/* --options JSON or --options @FILE. */
static int
load_options(const char *arg, char **text, size_t *len, ss_error *err)
{
  if (arg[0] == '@') {
    if (cli_read_file(arg + 1, text, len, err) != 0) {
      snprintf(err->field, sizeof err->field, "options");
      return -1;
    }
    return 0;
  }
  *text = strdup(arg);
  *len = strlen(arg);
  return *text != NULL ? 0 : -1;
}

static int
cmd_score(int argc, char **argv)
{
  const char *files[1 + SVC_MAX_REFS];
  int nfiles = 0, pretty = 0, threads = 0;
  const char *opt = NULL;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--pretty") == 0) {
      pretty = 1;
    } else if (strcmp(argv[i], "--options") == 0 && i + 1 < argc) {
      opt = argv[++i];
    } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = atoi(argv[++i]);
      if (threads < 1 || threads > 1024)
        return cli_usage_error("--threads must be 1..1024", NULL);
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      return cli_usage_error("unknown flag %s", argv[i]);
    } else if (nfiles < 1 + SVC_MAX_REFS) {
      files[nfiles++] = argv[i];
    } else {
      return cli_usage_error("too many files (at most %s references)", "16");
    }
  }
  if (nfiles < 2)
    return cli_usage_error("score needs a prediction and a reference%s", "");
  ss_error err = { 0 };
  char *bufs[1 + SVC_MAX_REFS] = { 0 };
  size_t lens[1 + SVC_MAX_REFS] = { 0 };
  char *otext = NULL;
  size_t olen = 0;
  json_t *report = NULL;
  int rc = 0;
  for (int i = 0; i < nfiles && rc == 0; i++) {
    if (cli_read_file(files[i], &bufs[i], &lens[i], &err) != 0) {
      snprintf(err.field, sizeof err.field, "%s",
               i == 0 ? "prediction" : "reference");
      rc = cli_problem(&err);
    }
  }
  if (rc == 0 && opt != NULL && load_options(opt, &otext, &olen, &err) != 0)
    rc = cli_problem(&err);
  if (rc == 0) {
    svc_score_input in = { .pred = bufs[0], .pred_len = lens[0],
                           .nrefs = nfiles - 1, .options = otext,
                           .options_len = olen };
    for (int i = 1; i < nfiles; i++) {
      in.refs[i - 1] = bufs[i];
      in.ref_lens[i - 1] = lens[i];
    }
    svc_score_config cfg = { .threads = threads };
    if (svc_score(&in, &cfg, &report, NULL, &err) != 0)
      rc = cli_problem(&err);
    else
      rc = cli_print_json(report, pretty);
  }
  json_decref(report);
  free(otext);
  for (int i = 0; i < nfiles; i++)
    free(bufs[i]);
  return rc;
}

int
main(int argc, char **argv)
{
  json_object_seed(0);
  if (argc < 2) {
    usage(stderr);
    return CLI_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--version") == 0) {
    printf("segscore %s\n", SS_VERSION);
    return 0;
  }
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "score") == 0)
    return cmd_score(argc - 2, argv + 2);
  if (strcmp(cmd, "inspect") == 0)
    return cli_inspect(argc - 2, argv + 2);
  if (strcmp(cmd, "catalog") == 0)
    return cli_catalog(argc - 2, argv + 2);
  if (strcmp(cmd, "evaluate") == 0)
    return cli_evaluate(argc - 2, argv + 2);
  if (strcmp(cmd, "merge") == 0)
    return cli_merge(argc - 2, argv + 2);
  return cli_usage_error("unknown command %s", cmd);
}
