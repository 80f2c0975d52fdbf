/* options.h - option parsing helpers shared by the option tables of each
 * topic (options.c core keys; other topics add tables in options_extra.c).
 * SPDX-License-Identifier: MIT */
#ifndef SVC_OPTIONS_H
#define SVC_OPTIONS_H

#include <stdarg.h>
#include <string.h>

#include "score.h"

/* One option key and its parser: returns 0, or -1 with ERR set. */
typedef struct {
  const char *key;
  int (*parse)(const json_t *v, ss_plan *plan, ss_error *err);
} svc_option;

/* The losses' and trade-offs' keys (options_losses.c). */
#define SVC_LOSS_NOPTIONS 6
extern const svc_option svc_loss_options[SVC_LOSS_NOPTIONS];

/* The option of another topic named KEY, or NULL (options_extra.c). */
const svc_option *svc_options_extra(const char *key);

/* Set ERR with CODE, FIELD and a message; returns -1. */
int svc_opt_fail(ss_error *err, ss_status code, const char *field,
                 const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

int svc_opt_bool(const json_t *v, const char *field, bool *out, ss_error *err);
int svc_opt_number(const json_t *v, const char *field, double lo, double hi,
                   double *out, ss_error *err);
int svc_opt_integer(const json_t *v, const char *field, int64_t *out,
                    ss_error *err);
int svc_opt_number_list(const json_t *v, const char *field, double lo,
                        double hi, int max, double *out, int *n,
                        ss_error *err);

#endif
