/* cli_catalog.c - `segscore catalog [--pretty]`: the catalog of losses and
 * trade-offs as JSON, the same object the daemon serves in /v1/catalog.
 * SPDX-License-Identifier: MIT */
#include "cli.h"
#include "report_losses.h"

#include <string.h>

int
cli_catalog(int argc, char **argv)
{
  int pretty = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--pretty") == 0)
      pretty = 1;
    else
      return cli_usage_error("unknown argument %s", argv[i]);
  }
  json_t *j = svc_catalog_json();
  if (j == NULL) {
    ss_error err = { .code = SS_ENOMEM };
    strcpy(err.detail, "cannot build the catalog");
    return cli_problem(&err);
  }
  int rc = cli_print_json(j, pretty);
  json_decref(j);
  return rc;
}
