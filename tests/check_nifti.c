/* check_nifti.c - decoding from memory: every datatype, both byte orders,
 * NIfTI-1/2, plain and gzip (fixtures written by nibabel, an independent
 * writer: tests/tools/gen_fixtures.py), and malformed files, each with
 * its specific error.  SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "../lib/src/internal.h"

static const char *
fixdir(void)
{
  const char *d = getenv("SEGSCORE_FIXTURES");
  return d != NULL ? d : "tests/out/fixtures";
}

static char *
slurp(const char *name, size_t *len)
{
  char path[512];
  snprintf(path, sizeof path, "%s/%s", fixdir(), name);
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "missing fixture %s (run tests/run)", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(b);
  ck_assert_int_eq(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static ss_status
decode(const char *name, ss_volume **v, ss_error *err)
{
  size_t len;
  char *b = slurp(name, &len);
  ss_status st = ss_volume_read_mem(b, len, NULL, v, err);
  free(b);
  return st;
}

/* gen_fixtures.py: value(x,y,z) = {0,1,2,50}[(x + 2y + 3z) % 4] on a
 * 5x4x3 grid with spacing 0.5 x 0.75 x 2.5 mm. */
static int64_t
expected(int64_t x, int64_t y, int64_t z)
{
  static const int64_t vals[] = { 0, 1, 2, 50 };
  return vals[(x + 2 * y + 3 * z) % 4];
}

static int64_t
label_of(const ss_volume *v, int64_t i)
{
  unsigned k = v->idx_width == 1 ? ((const uint8_t *)v->idx)[i]
                                 : ((const uint16_t *)v->idx)[i];
  return v->labels[k];
}

static const char *const dtypes[] = { "uint8", "int8", "int16", "uint16",
                                      "int32", "uint32", "int64", "uint64",
                                      "float32", "float64" };

/* Loop index -> dtype x {le,be} x {n1,n2} x {plain,gz}: 10*2*2*2 = 80. */
START_TEST(test_decode_every_variant_gives_the_pattern)
{
  const int dt = _i / 8, en = (_i / 4) % 2, ver = (_i / 2) % 2, gz = _i % 2;
  char name[64];
  snprintf(name, sizeof name, "%s_%s_n%d.nii%s", dtypes[dt],
           en ? "be" : "le", ver + 1, gz ? ".gz" : "");
  ss_volume *v = NULL;
  ss_error err = { 0 };
  ck_assert_msg(decode(name, &v, &err) == SS_OK, "%s: %s", name, err.detail);
  ss_volume_info info;
  ss_volume_info_get(v, &info);
  ck_assert_int_eq(info.nifti_version, ver + 1);
  ck_assert_int_eq(info.gzip, gz);
  ck_assert_int_eq(info.nx, 5);
  ck_assert_int_eq(info.ny, 4);
  ck_assert_int_eq(info.nz, 3);
  ck_assert_int_eq(info.channels, 1);
  ck_assert_double_eq_tol(info.spacing_mm[0], 0.5, 1e-12);
  ck_assert_double_eq_tol(info.spacing_mm[1], 0.75, 1e-12);
  ck_assert_double_eq_tol(info.spacing_mm[2], 2.5, 1e-12);
  ck_assert_str_eq(info.datatype_name, dtypes[dt]);
  ck_assert(info.integral);
  ck_assert_int_eq(info.nlabels, 4);
  ck_assert_int_eq(info.labels[3], 50);
  ck_assert_double_eq(info.max, 50.0);
  for (int64_t z = 0; z < 3; z++)
    for (int64_t y = 0; y < 4; y++)
      for (int64_t x = 0; x < 5; x++)
        ck_assert_int_eq(label_of(v, x + 5 * (y + 4 * z)), expected(x, y, z));
  /* sform = diag(spacing): world of voxel (1,1,1) is (0.5, 0.75, 2.5). */
  ck_assert_str_eq(info.affine_source, "sform");
  ck_assert_double_eq_tol(info.affine[2][2], 2.5, 1e-12);
  ss_volume_free(v);
}
END_TEST

START_TEST(test_decode_float_channels_dim4_and_dim5)
{
  const char *names[] = { "probs4.nii.gz", "probs5.nii" };
  for (int k = 0; k < 2; k++) {
    ss_volume *v = NULL;
    ss_error err = { 0 };
    ck_assert_msg(decode(names[k], &v, &err) == SS_OK, "%s", err.detail);
    ss_volume_info info;
    ss_volume_info_get(v, &info);
    ck_assert_int_eq(info.channels, 4);
    ck_assert(!info.integral);
    ck_assert_ptr_nonnull(v->data);
    /* The generator normalised the channels: they sum to 1 per voxel. */
    for (int64_t i = 0; i < v->nvox; i++) {
      double s = 0;
      for (int c = 0; c < 4; c++)
        s += v->data[c * v->nvox + i];
      ck_assert_double_eq_tol(s, 1.0, 1e-5);
    }
    ss_volume_free(v);
  }
}
END_TEST

START_TEST(test_decode_fraction_map_is_not_labels)
{
  ss_volume *v = NULL;
  ss_error err = { 0 };
  ck_assert_int_eq(decode("fraction.nii", &v, &err), SS_OK);
  ck_assert(!v->info.integral);
  ck_assert_ptr_null(v->idx);
  ck_assert_ptr_nonnull(v->nolabel_reason);
  ss_volume_free(v);
}
END_TEST

START_TEST(test_decode_scaled_labels_are_floats_and_refused_as_reference)
{
  ss_volume *v = NULL, *p = NULL;
  ss_error err = { 0 };
  ck_assert_int_eq(decode("scaled.nii", &v, &err), SS_OK);
  ck_assert(v->info.scaled);
  ck_assert(!v->info.integral);
  /* raw {0,1,2,50} * 2 + 1 -> max 101 */
  ck_assert_double_eq_tol(v->info.max, 101.0, 1e-9);
  ck_assert_int_eq(decode("uint8_le_n1.nii", &p, &err), SS_OK);
  ss_report *r = NULL;
  ck_assert_int_eq(ss_score(p, v, NULL, &r, &err), SS_ELABELS);
  ck_assert_ptr_nonnull(strstr(err.detail, "scl_slope"));
  ck_assert_ptr_null(r);
  ss_volume_free(v);
  ss_volume_free(p);
}
END_TEST

START_TEST(test_decode_units_in_meters_become_mm)
{
  ss_volume *v = NULL;
  ss_error err = { 0 };
  ck_assert_int_eq(decode("meters.nii", &v, &err), SS_OK);
  /* pixdim 0.001 m stored as float32 -> 1 mm to float32 precision */
  ck_assert_double_eq_tol(v->info.spacing_mm[0], 1.0, 1e-6);
  ck_assert_double_eq_tol(v->info.spacing_mm[2], 3.0, 1e-6);
  ss_volume_free(v);
}
END_TEST

START_TEST(test_decode_multimember_gzip_works)
{
  ss_volume *v = NULL;
  ss_error err = { 0 };
  ck_assert_msg(decode("multimember.nii.gz", &v, &err) == SS_OK, "%s",
                err.detail);
  ck_assert_int_eq(label_of(v, 59), expected(4, 3, 2));
  ss_volume_free(v);
}
END_TEST

static const struct {
  const char *name;
  ss_status want;
  const char *words; /* a phrase the detail must contain */
} malformed[] = {
  { "empty.nii", SS_ENIFTI, "empty" },
  { "short.nii", SS_ETRUNC, "truncated" },
  { "badmagic.nii", SS_ENIFTI, "magic" },
  { "truncated.nii", SS_ETRUNC, "truncated" },
  { "truncated.nii.gz", SS_EGZIP, "truncated" },
  { "garbage.nii.gz", SS_EGZIP, "corrupt" },
  { "lyingdims.nii", SS_ETRUNC, "60352" },
  { "hugedims.nii", SS_ETOOBIG, "1000000000000" },
  { "zerodim.nii", SS_ENIFTI, "dim[1]" },
  { "negdim.nii", SS_ENIFTI, "dim[1]" },
  { "dim0.nii", SS_ENIFTI, "dim[0]" },
  { "badtype.nii", SS_EDTYPE, "32" },
  { "hugedims_n2.nii", SS_ETOOBIG, "voxels" },
  { "overflow_n2.nii", SS_ETOOBIG, "overflow" },
  { "bomb.nii.gz", SS_ETOOBIG, "8000000000" },
};

START_TEST(test_decode_malformed_gives_its_specific_error)
{
  ss_volume *v = (ss_volume *)1;
  ss_error err = { 0 };
  ss_status st = decode(malformed[_i].name, &v, &err);
  ck_assert_msg(st == malformed[_i].want, "%s: got %s (%s)",
                malformed[_i].name, ss_status_name(st), err.detail);
  ck_assert_int_eq(err.code, st);
  ck_assert_ptr_null(v);
  ck_assert_msg(strstr(err.detail, malformed[_i].words) != NULL,
                "%s: detail \"%s\" lacks \"%s\"", malformed[_i].name,
                err.detail, malformed[_i].words);
}
END_TEST

START_TEST(test_decode_respects_voxel_and_byte_limits)
{
  size_t len;
  char *b = slurp("uint8_le_n1.nii.gz", &len);
  ss_volume *v = NULL;
  ss_error err = { 0 };
  ss_limits lim = { .max_voxels = 59 };
  ck_assert_int_eq(ss_volume_read_mem(b, len, &lim, &v, &err), SS_ETOOBIG);
  ss_limits lim2 = { .max_bytes = 352 + 59 };
  ck_assert_int_eq(ss_volume_read_mem(b, len, &lim2, &v, &err), SS_ETOOBIG);
  ss_limits lim3 = { .max_labels = 3 };
  /* 4 labels over a cap of 3: not a label map (kept as floats). */
  ck_assert_int_eq(ss_volume_read_mem(b, len, &lim3, &v, &err), SS_OK);
  ck_assert(!v->info.integral);
  ss_volume_free(v);
  free(b);
}
END_TEST

START_TEST(test_decode_every_truncation_point_fails_cleanly)
{
  /* Cut a valid gzip file at every length: never a crash, never OK
   * except for the full file. */
  size_t len;
  char *b = slurp("int16_be_n2.nii.gz", &len);
  for (size_t n = 0; n < len; n++) {
    ss_volume *v = NULL;
    ss_error err = { 0 };
    ss_status st = ss_volume_read_mem(b, n, NULL, &v, &err);
    ck_assert_msg(st != SS_OK, "cut at %zu decoded", n);
    ck_assert_ptr_null(v);
  }
  free(b);
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("nifti");
  TCase *tc = tcase_create("read_mem");
  tcase_add_loop_test(tc, test_decode_every_variant_gives_the_pattern, 0, 80);
  tcase_add_test(tc, test_decode_float_channels_dim4_and_dim5);
  tcase_add_test(tc, test_decode_fraction_map_is_not_labels);
  tcase_add_test(tc, test_decode_scaled_labels_are_floats_and_refused_as_reference);
  tcase_add_test(tc, test_decode_units_in_meters_become_mm);
  tcase_add_test(tc, test_decode_multimember_gzip_works);
  tcase_add_loop_test(tc, test_decode_malformed_gives_its_specific_error, 0,
                      (int)(sizeof malformed / sizeof *malformed));
  tcase_add_test(tc, test_decode_respects_voxel_and_byte_limits);
  tcase_add_test(tc, test_decode_every_truncation_point_fails_cleanly);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
