/* cli_inspect.c - segscore inspect FILE: the header facts as JSON.
 * Never prints the NIfTI description or other free-text header fields.
 * SPDX-License-Identifier: MIT */
#include "cli.h"
#include "report_json.h"

#include <stdlib.h>

static json_t *
inspect_json(const ss_volume_info *v)
{
  json_t *j = json_object();
  json_object_set_new(j, "nifti_version", json_integer(v->nifti_version));
  json_object_set_new(j, "datatype", json_string(v->datatype_name));
  json_object_set_new(j, "datatype_code", json_integer(v->datatype));
  json_object_set_new(j, "byte_order",
                      json_string(v->swapped ? "swapped" : "native"));
  json_object_set_new(j, "gzip", json_boolean(v->gzip));
  json_t *shape = json_array();
  for (int i = 0; i < v->ndim && i < 7; i++)
    json_array_append_new(shape, json_integer(v->dim[i]));
  json_object_set_new(j, "shape", shape);
  json_object_set_new(j, "channels", json_integer(v->channels));
  json_object_set_new(j, "spacing_mm",
                      json_pack("[o,o,o]", svc_json_real(v->spacing_mm[0]),
                                svc_json_real(v->spacing_mm[1]),
                                svc_json_real(v->spacing_mm[2])));
  json_t *aff = json_array();
  for (int r = 0; r < 4; r++) {
    json_t *row = json_array();
    for (int c = 0; c < 4; c++)
      json_array_append_new(row, svc_json_real(v->affine[r][c]));
    json_array_append_new(aff, row);
  }
  json_object_set_new(j, "affine", aff);
  json_object_set_new(j, "affine_source", json_string(v->affine_source));
  json_object_set_new(j, "intent_code", json_integer(v->intent_code));
  json_object_set_new(j, "scaling",
                      json_pack("{s:o,s:o,s:b}", "slope",
                                svc_json_real(v->scl_slope), "inter",
                                svc_json_real(v->scl_inter), "applied",
                                v->scaled));
  json_object_set_new(j, "min", svc_json_real(v->min));
  json_object_set_new(j, "max", svc_json_real(v->max));
  json_object_set_new(j, "label_map", json_boolean(v->integral));
  if (v->integral) {
    json_t *l = json_array();
    for (int i = 0; i < v->nlabels; i++)
      json_array_append_new(l, json_integer(v->labels[i]));
    json_object_set_new(j, "labels", l);
  }
  return j;
}

int
cli_inspect(int argc, char **argv)
{
  const char *file = NULL;
  int pretty = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--pretty") == 0)
      pretty = 1;
    else if (argv[i][0] == '-' && argv[i][1] != '\0')
      return cli_usage_error("unknown flag %s", argv[i]);
    else if (file == NULL)
      file = argv[i];
    else
      return cli_usage_error("inspect takes one file%s", "");
  }
  if (file == NULL)
    return cli_usage_error("inspect needs a file%s", "");
  ss_error err = { 0 };
  char *buf = NULL;
  size_t len = 0;
  if (cli_read_file(file, &buf, &len, &err) != 0)
    return cli_problem(&err);
  ss_volume *v = NULL;
  ss_status st = ss_volume_read_mem(buf, len, NULL, &v, &err);
  free(buf);
  if (st != SS_OK)
    return cli_problem(&err);
  ss_volume_info info;
  ss_volume_info_get(v, &info);
  json_t *j = inspect_json(&info);
  int rc = j != NULL ? cli_print_json(j, pretty) : CLI_EXIT_INTERNAL;
  json_decref(j);
  ss_volume_free(v);
  return rc;
}
