/* options_extra.c - option tables of the topics beyond the core keys
 * (losses, lesions, ...).  Each topic adds one line to TABLES.
 * SPDX-License-Identifier: MIT */
#include "options.h"
#include "lesions.h"

typedef struct {
  const svc_option *opts;
  size_t n;
} table;

static const table tables[] = {
  { svc_loss_options, SVC_LOSS_NOPTIONS }, /* options_losses.c */
  { svc_lesion_options, 1 },
  { NULL, 0 }, /* each topic adds { its_table, its_count } above this */
};

const svc_option *
svc_options_extra(const char *key)
{
  for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
    for (size_t i = 0; i < tables[t].n; i++)
      if (strcmp(tables[t].opts[i].key, key) == 0)
        return &tables[t].opts[i];
  return NULL;
}
