/* shard.h - sharded dataset evaluation: `segscore evaluate --shard I/N`
 * scores every N-th case (cases sorted by name, starting at I) and marks
 * its output as shard I of N (shard.c); `segscore merge` combines the N
 * outputs into the output one run over all cases gives (merge.c), with
 * the summary recomputed by aggregate.c.  docs/deploy.md "Scale-out".
 * SPDX-License-Identifier: MIT */
#ifndef SVC_SHARD_H
#define SVC_SHARD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define SVC_SHARD_MAX 100000

/* Shard INDEX of COUNT; COUNT 0 means "not sharded" (every case). */
typedef struct {
  unsigned index, count;
} svc_shard;

/* Parse "I/N" (0 <= I < N <= SVC_SHARD_MAX, decimal, nothing else) into
 * *S.  Returns 0, or -1 when TEXT is not such a pair. */
int svc_shard_parse(const char *text, svc_shard *s);

/* Whether the case at position K of the name-sorted case list belongs to
 * shard S (always true when S is not sharded). */
bool svc_shard_has(const svc_shard *s, size_t k);

/* The "shard" member of an evaluate output: index, count, the number of
 * pairs before sharding, and the options as given (parsed, or null), so
 * that merge can refuse shards of different runs.  NULL when out of
 * memory. */
json_t *svc_shard_json(const svc_shard *s, size_t n_pairs_total,
                       const char *options, size_t options_len);

int cli_merge(int argc, char **argv); /* merge.c */

#endif
