/* shard.c - which cases a `segscore evaluate --shard I/N` run scores, and
 * the record of it in the output (shard.h).  SPDX-License-Identifier: MIT */
#include "shard.h"

#include <errno.h>
#include <stdlib.h>

/* A decimal number without sign, spaces or leading "+"; -1 if not. */
static long
parse_count(const char *p, const char **end)
{
  if (*p < '0' || *p > '9')
    return -1;
  errno = 0;
  char *e;
  unsigned long v = strtoul(p, &e, 10);
  if (errno != 0 || v > SVC_SHARD_MAX)
    return -1;
  *end = e;
  return (long)v;
}

int
svc_shard_parse(const char *text, svc_shard *s)
{
  const char *p;
  long i = parse_count(text, &p);
  if (i < 0 || *p != '/')
    return -1;
  long n = parse_count(p + 1, &p);
  if (n < 1 || *p != '\0' || i >= n)
    return -1;
  *s = (svc_shard){ .index = (unsigned)i, .count = (unsigned)n };
  return 0;
}

bool
svc_shard_has(const svc_shard *s, size_t k)
{
  return s->count == 0 || k % s->count == s->index;
}

json_t *
svc_shard_json(const svc_shard *s, size_t n_pairs_total, const char *options,
               size_t options_len)
{
  json_t *opt = options != NULL ? json_loadb(options, options_len,
                                             JSON_REJECT_DUPLICATES, NULL)
                                : json_null();
  if (opt == NULL)
    return NULL;
  return json_pack("{s:I,s:I,s:I,s:o}", "index", (json_int_t)s->index, "count",
                   (json_int_t)s->count, "n_pairs_total",
                   (json_int_t)n_pairs_total, "options", opt);
}
