/* svc_upload.c - multipart/form-data streamed part by part into memory
 * buffers with MHD's post processor.  Parts: prediction (once), reference
 * (1..SVC_MAX_REFS), options (at most once).  Uploads never touch disk and
 * nothing of them (file names included) is logged.
 * SPDX-License-Identifier: MIT */
#include "svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PP_BUFFER (64 * 1024) /* MHD advises 32-64 KiB for speed */
#define MEM_STEP ((uint64_t)1 << 20)

static bool
buf_append(svc_buf *b, const char *data, size_t size)
{
  if (b->len + size > b->cap) {
    size_t cap = b->cap ? b->cap : 256 * 1024;
    while (cap < b->len + size)
      cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL)
      return false;
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, size);
  b->len += size;
  return true;
}

/* A part name for a detail message: plain characters only, truncated. */
static void
safe_name(char *out, size_t cap, const char *key)
{
  size_t n = 0;
  for (; key && key[n] && n + 1 < cap && n < 32; n++) {
    char ch = key[n];
    out[n] = (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') ? ch : '?';
  }
  out[n] = '\0';
}

static void
fail(svc_conn *c, int status, const char *slug, const char *fmt,
     const char *arg)
{
  svc_pend_problem(c, status, slug, fmt, arg);
  c->discard = true;
}

/* Pick the buffer of a part that starts here; NULL after a problem. */
static svc_buf *
part_begin(svc_conn *c, const char *key)
{
  if (strcmp(key, "prediction") == 0) {
    if (c->has_pred) {
      fail(c, 400, "duplicate-part", "part '%s' was given twice", key);
      return NULL;
    }
    c->has_pred = true;
    c->cur_key = "prediction";
    return &c->pred;
  }
  if (strcmp(key, "reference") == 0) {
    if (c->nrefs == SVC_MAX_REFS) {
      fail(c, 400, "duplicate-part", "at most 16 '%s' parts", key);
      return NULL;
    }
    c->cur_key = "reference";
    return &c->refs[c->nrefs++];
  }
  if (strcmp(key, "options") == 0) {
    if (c->has_options) {
      fail(c, 400, "duplicate-part", "part '%s' was given twice", key);
      return NULL;
    }
    c->has_options = true;
    c->cur_key = "options";
    return &c->options;
  }
  char name[40];
  safe_name(name, sizeof name, key);
  fail(c, 400, "unknown-part",
       "unknown part '%s'; expected prediction, reference, options", name);
  return NULL;
}

static enum MHD_Result
part_data(void *cls, enum MHD_ValueKind kind, const char *key,
          const char *filename, const char *content_type,
          const char *transfer_encoding, const char *data, uint64_t off,
          size_t size)
{
  (void)kind;
  (void)filename; /* never stored, never logged */
  (void)content_type;
  (void)transfer_encoding;
  svc_conn *c = cls;
  if (c->discard || key == NULL)
    return MHD_YES;
  /* A part starts at offset 0; a repeated name at offset 0 after data
   * is the next part of that name (several references). */
  if (off == 0
      && (c->cur == NULL || c->cur->len > 0 || strcmp(c->cur_key, key) != 0)) {
    c->cur = part_begin(c, key);
    if (c->cur == NULL)
      return MHD_YES;
  }
  if (size > 0 && !buf_append(c->cur, data, size))
    fail(c, 500, "internal-error", "%s", "out of memory buffering the upload");
  return MHD_YES;
}

bool
svc_upload_begin(svc_conn *c)
{
  c->pp = MHD_create_post_processor(c->mhd, PP_BUFFER, part_data, c);
  if (c->pp == NULL) {
    svc_pend_problem(c, 400, "invalid-multipart",
                     "multipart/form-data without a usable boundary");
    return false;
  }
  return true;
}

void
svc_upload_feed(svc_conn *c, const char *data, size_t size)
{
  c->bytes_in += size;
  if (c->discard)
    return;
  if (c->bytes_in > svc.cfg.max_upload_bytes) {
    svc_pend_problem(c, 413, "upload-too-large",
                     "request body exceeds the limit of %llu bytes "
                     "(--max-upload-mb)",
                     (unsigned long long)svc.cfg.max_upload_bytes);
    c->discard = true;
    return;
  }
  /* Chunked bodies reserve memory as they grow. */
  if (c->bytes_in > c->mem_reserved) {
    uint64_t want = c->bytes_in - c->mem_reserved;
    want = (want + MEM_STEP - 1) / MEM_STEP * MEM_STEP;
    if (!svc_admit_memory(c, want)) {
      svc_metrics_rejected("memory");
      svc_pend_problem(c, 503, "busy",
                       "the memory budget is taken by other requests; "
                       "retry later");
      c->discard = true;
      return;
    }
  }
  if (MHD_post_process(c->pp, data, size) != MHD_YES) {
    svc_pend_problem(c, 400, "invalid-multipart",
                     "the multipart/form-data body could not be parsed");
    c->discard = true;
  }
}

void
svc_upload_end(svc_conn *c)
{
  if (c->pp != NULL) {
    enum MHD_Result ok = MHD_destroy_post_processor(c->pp);
    c->pp = NULL;
    if (ok != MHD_YES && !c->discard)
      svc_pend_problem(c, 400, "invalid-multipart",
                       "the body ended before the closing boundary");
  }
  if (c->pend_status != 0)
    return;
  if (!c->has_pred)
    svc_pend_problem(c, 400, "missing-part",
                     "part 'prediction' (a NIfTI file) is required");
  else if (c->nrefs == 0)
    svc_pend_problem(c, 400, "missing-part",
                     "part 'reference' (a NIfTI file) is required");
}

static void
buf_free(svc_buf *b)
{
  free(b->data);
  *b = (svc_buf){ 0 };
}

void
svc_upload_free(svc_conn *c)
{
  if (c->pp != NULL) {
    MHD_destroy_post_processor(c->pp);
    c->pp = NULL;
  }
  buf_free(&c->pred);
  for (int i = 0; i < c->nrefs; i++)
    buf_free(&c->refs[i]);
  buf_free(&c->options);
  c->nrefs = 0;
  c->cur = NULL;
}
