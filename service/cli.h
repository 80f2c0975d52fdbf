/* cli.h - helpers shared by the segscore subcommands (one file each).
 * SPDX-License-Identifier: MIT */
#ifndef SVC_CLI_H
#define SVC_CLI_H

#include "score.h"

enum { CLI_EXIT_USAGE = 2, CLI_EXIT_INPUT = 3, CLI_EXIT_INTERNAL = 4 };

/* Print ERR as problem JSON on stderr; returns the exit code. */
int cli_problem(const ss_error *err);
/* Print a usage problem (FMT with one %s) and the usage; returns 2. */
int cli_usage_error(const char *fmt, const char *arg);
/* Read a whole file into a new buffer. */
int cli_read_file(const char *path, char **buf, size_t *len, ss_error *err);
/* Print JSON on stdout in the project's format; returns the exit code. */
int cli_print_json(json_t *j, int pretty);

int cli_inspect(int argc, char **argv);
int cli_catalog(int argc, char **argv); /* cli_catalog.c */
int cli_evaluate(int argc, char **argv); /* evaluate.c */

#endif
