/* fuzz_options.c - libFuzzer target: the options JSON -> plan parser
 * (svc_options_parse, service/options.c).  When the options parse, the
 * plan scores a fixed tiny pair (a label map, or a 3-channel probability
 * map when the plan asks for probabilities or logits) and the report is
 * written as JSON, so every accepted plan is also exercised end to end.
 * SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <stdlib.h>

#include "score.h"

enum { NX = 5, NY = 4, NZ = 3, N = NX * NY * NZ, C = 3 };
static ss_volume *pred_labels, *pred_probs, *ref;

static void
setup(void)
{
  static int32_t p[N], r[N];
  static float f[C * N];
  const double sp[3] = { 0.5, 0.75, 2.5 };
  for (int i = 0; i < N; i++) {
    r[i] = (i / 7) % 3;               /* labels 0, 1, 2 in runs */
    p[i] = (i % 11 == 0) ? 3 : (i / 6) % 3;
    for (int c = 0; c < C; c++)       /* softmax-like rows summing to 1 */
      f[c * N + i] = c == p[i] % C ? 0.8f : 0.1f;
  }
  ss_error err;
  if (ss_volume_from_labels(p, NX, NY, NZ, sp, &pred_labels, &err) ||
      ss_volume_from_labels(r, NX, NY, NZ, sp, &ref, &err) ||
      ss_volume_from_floats(f, NX, NY, NZ, C, sp, &pred_probs, &err))
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (ref == NULL)
    setup();
  ss_plan plan;
  ss_plan_init(&plan);
  ss_error err = { 0 };
  /* Plans with many classes are scored rarely (one in 16): the per-class
   * surface work would otherwise swamp the parser, the target's focus. */
  const int rc = svc_options_parse((const char *)data, size, &plan, &err);
  if (rc == 0 && (plan.nlabels + plan.nregions <= 8 || size % 16 == 0)) {
    const ss_volume *pred = plan.kind == SS_KIND_PROBABILITIES ||
                                    plan.kind == SS_KIND_LOGITS
                                ? pred_probs
                                : pred_labels;
    ss_report *rep = NULL;
    if (ss_score(pred, ref, &plan, &rep, &err) == SS_OK) {
      json_t *j = svc_report_to_json(rep, &plan);
      char *text = j != NULL ? svc_json_dump(j, 0) : NULL;
      if (text == NULL)
        abort(); /* a report always serialises (no NaN reaches JSON) */
      free(text);
      json_decref(j);
    } else if (rep != NULL || err.code == SS_OK) {
      abort();
    }
    ss_report_free(rep);
  } else if (rc != 0 && err.code == SS_OK) {
    abort(); /* a rejected option names its code */
  }
  ss_plan_clear(&plan);
  return 0;
}
