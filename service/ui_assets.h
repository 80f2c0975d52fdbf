/* ui_assets.h - the web page's files, embedded at build time: the table is
 * generated from web/ by scripts/embed-ui and served by h_ui.c.
 * SPDX-License-Identifier: MIT */
#ifndef UI_ASSETS_H
#define UI_ASSETS_H

#include <stddef.h>

typedef struct {
  const char *path;          /* "/" or "/ui/<file>" */
  const char *ctype;         /* Content-Type */
  const char *etag;          /* strong, quoted: "\"0123abcd...\"" */
  const unsigned char *data; /* the file's bytes (NUL-terminated) */
  size_t len;                /* without the NUL */
} svc_ui_asset;

extern const svc_ui_asset svc_ui_assets[];
extern const int svc_ui_nassets;

#endif /* UI_ASSETS_H */
