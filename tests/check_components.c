/* check_components.c - connected-component labelling (lib/src/components.c):
 * hand-built layouts under 6/18/26 connectivity, and agreement with a
 * brute-force flood fill on random volumes for several thread counts.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/src/internal.h"

/* Run ss__components, failing the test on a non-OK status. */
static int32_t
label(const uint8_t *m, int64_t nx, int64_t ny, int64_t nz, int conn,
      int32_t *out, int threads)
{
  int32_t n = -1;
  ss_error err = { 0 };
  ss_status st = ss__components(m, nx, ny, nz, conn, out, &n, threads, &err);
  ck_assert_msg(st == SS_OK, "status %d: %s", st, err.detail);
  return n;
}

#define AT(x, y, z) ((x) + nx * ((y) + ny * (z)))

/*---- brute force: BFS flood fill, numbering in raster order -------------*/

static int32_t
flood_fill(const uint8_t *m, int64_t nx, int64_t ny, int64_t nz, int conn,
           int32_t *out)
{
  int64_t n = nx * ny * nz;
  int64_t *queue = malloc(sizeof *queue * (size_t)n);
  memset(out, 0, sizeof *out * (size_t)n);
  int32_t next = 0;
  for (int64_t s = 0; s < n; s++) {
    if (!m[s] || out[s])
      continue;
    out[s] = ++next;
    int64_t head = 0, tail = 0;
    queue[tail++] = s;
    while (head < tail) {
      int64_t i = queue[head++];
      int64_t x = i % nx, y = (i / nx) % ny, z = i / (nx * ny);
      for (int dz = -1; dz <= 1; dz++)
        for (int dy = -1; dy <= 1; dy++)
          for (int dx = -1; dx <= 1; dx++) {
            int order = abs(dx) + abs(dy) + abs(dz);
            if (order == 0 || (conn == 6 && order > 1) ||
                (conn == 18 && order > 2))
              continue;
            int64_t xx = x + dx, yy = y + dy, zz = z + dz;
            if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny ||
                zz >= nz)
              continue;
            int64_t j = AT(xx, yy, zz);
            if (m[j] && !out[j]) {
              out[j] = next;
              queue[tail++] = j;
            }
          }
    }
  }
  free(queue);
  return next;
}

/*---- hand-built layouts ---------------------------------------------------*/

START_TEST(test_components_empty_mask_has_none)
{
  uint8_t m[27] = { 0 };
  int32_t out[27];
  ck_assert_int_eq(label(m, 3, 3, 3, 26, out, 1), 0);
  for (int i = 0; i < 27; i++)
    ck_assert_int_eq(out[i], 0);
}
END_TEST

START_TEST(test_components_face_diagonal_depends_on_connectivity)
{
  /* (0,0,0) and (1,1,0) share an edge only: 2 components under 6,
   * 1 under 18 and 26. */
  const int64_t nx = 3, ny = 3;
  uint8_t m[27] = { 0 };
  int32_t out[27];
  m[AT(0, 0, 0)] = m[AT(1, 1, 0)] = 1;
  ck_assert_int_eq(label(m, 3, 3, 3, 6, out, 1), 2);
  ck_assert_int_eq(out[AT(0, 0, 0)], 1);
  ck_assert_int_eq(out[AT(1, 1, 0)], 2);
  ck_assert_int_eq(label(m, 3, 3, 3, 18, out, 1), 1);
  ck_assert_int_eq(label(m, 3, 3, 3, 26, out, 1), 1);
}
END_TEST

START_TEST(test_components_corner_diagonal_only_under_26)
{
  /* (0,0,0) and (1,1,1) share a corner only: joined under 26 alone. */
  const int64_t nx = 3, ny = 3;
  uint8_t m[27] = { 0 };
  int32_t out[27];
  m[AT(0, 0, 0)] = m[AT(1, 1, 1)] = 1;
  ck_assert_int_eq(label(m, 3, 3, 3, 6, out, 1), 2);
  ck_assert_int_eq(label(m, 3, 3, 3, 18, out, 1), 2);
  ck_assert_int_eq(label(m, 3, 3, 3, 26, out, 1), 1);
  ck_assert_int_eq(out[AT(1, 1, 1)], 1);
}
END_TEST

START_TEST(test_components_backward_corner_merges_late)
{
  /* A "V": (0,0,0) and (2,0,0) are linked only through (1,1,1), which
   * comes later in raster order, so the union must merge two roots. */
  const int64_t nx = 3, ny = 3;
  uint8_t m[27] = { 0 };
  int32_t out[27];
  m[AT(0, 0, 0)] = m[AT(2, 0, 0)] = m[AT(1, 1, 1)] = 1;
  ck_assert_int_eq(label(m, 3, 3, 3, 26, out, 1), 1);
  ck_assert_int_eq(out[AT(2, 0, 0)], 1);
  ck_assert_int_eq(label(m, 3, 3, 3, 6, out, 1), 3);
  ck_assert_int_eq(out[AT(0, 0, 0)], 1);
  ck_assert_int_eq(out[AT(2, 0, 0)], 2);
  ck_assert_int_eq(out[AT(1, 1, 1)], 3);
}
END_TEST

START_TEST(test_components_nested_shell_and_core_are_two)
{
  /* A hollow 5^3 shell with a single voxel at its centre: the core does
   * not touch the shell under any connectivity (distance 2). */
  const int64_t nx = 5, ny = 5, nz = 5;
  uint8_t m[125] = { 0 };
  int32_t out[125];
  for (int z = 0; z < 5; z++)
    for (int y = 0; y < 5; y++)
      for (int x = 0; x < 5; x++)
        m[AT(x, y, z)] = x == 0 || y == 0 || z == 0 || x == 4 || y == 4 ||
                         z == 4;
  m[AT(2, 2, 2)] = 1;
  ck_assert_int_eq(label(m, nx, ny, nz, 26, out, 1), 2);
  ck_assert_int_eq(out[AT(0, 0, 0)], 1);
  ck_assert_int_eq(out[AT(2, 2, 2)], 2);
  ck_assert_int_eq(out[AT(4, 4, 4)], 1);
}
END_TEST

START_TEST(test_components_numbered_by_first_voxel)
{
  /* A "U" whose arms start at x=0 and x=4 on row y=0 and join at y=3; a
   * dot at (2,0) comes between the arms in raster order.  The U is 1 (its
   * first voxel is (0,0)); the dot is 2. */
  const int64_t nx = 5, ny = 4;
  uint8_t m[20] = { 0 };
  int32_t out[20];
  for (int y = 0; y < 4; y++)
    m[AT(0, y, 0)] = m[AT(4, y, 0)] = 1;
  for (int x = 0; x < 5; x++)
    m[AT(x, 3, 0)] = 1;
  m[AT(2, 0, 0)] = 1;
  ck_assert_int_eq(label(m, nx, ny, 1, 6, out, 1), 2);
  ck_assert_int_eq(out[AT(4, 0, 0)], 1);
  ck_assert_int_eq(out[AT(2, 0, 0)], 2);
}
END_TEST

START_TEST(test_components_split_across_slabs_join)
{
  /* A helix-like path that crosses every slab boundary several times:
   * one component whatever the thread count. */
  const int64_t nx = 64, ny = 64, nz = 32;
  int64_t n = nx * ny * nz;
  uint8_t *m = calloc((size_t)n, 1);
  int32_t *out = malloc(sizeof *out * (size_t)n);
  for (int z = 0; z < nz; z++) {
    for (int x = 0; x < 40; x++)
      m[AT(x, (z % 2) * 20, z)] = 1;           /* a bar per plane */
    m[AT(z % 2 ? 0 : 39, 0, z)] = 1;
    m[AT(z % 2 ? 0 : 39, 20, z)] = 1;
    for (int y = 0; y <= 20; y++)              /* a post joining planes */
      m[AT(z % 2 ? 0 : 39, y, z)] = 1;
  }
  for (int t = 1; t <= 4; t++) {
    ck_assert_int_eq(label(m, nx, ny, nz, 6, out, t), 1);
    ck_assert_int_eq(out[AT(0, 0, nz - 1)], 1);
  }
  free(m);
  free(out);
}
END_TEST

START_TEST(test_components_bad_connectivity_is_einval)
{
  uint8_t m[1] = { 1 };
  int32_t out[1], n;
  ss_error err = { 0 };
  ck_assert_int_eq(ss__components(m, 1, 1, 1, 8, out, &n, 1, &err),
                   SS_EINVAL);
  ck_assert_int_eq(err.code, SS_EINVAL);
}
END_TEST

/*---- random volumes against the brute force ------------------------------*/

static uint64_t rng_state;

static uint32_t
rng(void)
{
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(rng_state >> 33);
}

/* Independent voxels on with probability PCT %: below and above the
 * percolation thresholds, so components range from dust to one giant. */
static void
random_mask(uint8_t *m, int64_t nx, int64_t ny, int64_t nz, unsigned pct)
{
  for (int64_t i = 0; i < nx * ny * nz; i++)
    m[i] = rng() % 100 < pct;
}

START_TEST(test_components_random_matches_flood_fill)
{
  /* 48*40*40 = 76800 voxels: above SS_PAR_MIN_VOXELS, so slabs are used. */
  const int64_t nx = 48, ny = 40, nz = 40, n = nx * ny * nz;
  static const int conns[3] = { 6, 18, 26 };
  static const unsigned pcts[4] = { 5, 20, 35, 60 };
  uint8_t *m = malloc((size_t)n);
  int32_t *want = malloc(sizeof *want * (size_t)n);
  int32_t *got = malloc(sizeof *got * (size_t)n);
  rng_state = 12345 + (uint64_t)_i;
  for (int c = 0; c < 3; c++)
    for (int p = 0; p < 4; p++) {
      random_mask(m, nx, ny, nz, pcts[p]);
      int32_t nw = flood_fill(m, nx, ny, nz, conns[c], want);
      for (int t = 1; t <= 5; t++) {
        int32_t ng = label(m, nx, ny, nz, conns[c], got, t);
        ck_assert_int_eq(ng, nw);
        ck_assert_msg(memcmp(got, want, sizeof *got * (size_t)n) == 0,
                      "labels differ: conn %d, %u%%, %d threads", conns[c],
                      pcts[p], t);
      }
    }
  free(m);
  free(want);
  free(got);
}
END_TEST

START_TEST(test_components_thin_slabs_match_flood_fill)
{
  /* More threads than planes and odd shapes: 97x83x5 with 7 threads. */
  const int64_t nx = 97, ny = 83, nz = 9, n = nx * ny * nz;
  uint8_t *m = malloc((size_t)n);
  int32_t *want = malloc(sizeof *want * (size_t)n);
  int32_t *got = malloc(sizeof *got * (size_t)n);
  rng_state = 99;
  random_mask(m, nx, ny, nz, 40);
  for (int c = 6; c <= 26; c += c == 6 ? 12 : 8) {
    int32_t nw = flood_fill(m, nx, ny, nz, c, want);
    for (int t = 1; t <= 12; t += 5) {
      ck_assert_int_eq(label(m, nx, ny, nz, c, got, t), nw);
      ck_assert(memcmp(got, want, sizeof *got * (size_t)n) == 0);
    }
  }
  free(m);
  free(want);
  free(got);
}
END_TEST

static Suite *
components_suite(void)
{
  Suite *s = suite_create("components");
  TCase *tc = tcase_create("layouts");
  tcase_add_test(tc, test_components_empty_mask_has_none);
  tcase_add_test(tc, test_components_face_diagonal_depends_on_connectivity);
  tcase_add_test(tc, test_components_corner_diagonal_only_under_26);
  tcase_add_test(tc, test_components_backward_corner_merges_late);
  tcase_add_test(tc, test_components_nested_shell_and_core_are_two);
  tcase_add_test(tc, test_components_numbered_by_first_voxel);
  tcase_add_test(tc, test_components_split_across_slabs_join);
  tcase_add_test(tc, test_components_bad_connectivity_is_einval);
  suite_add_tcase(s, tc);
  tc = tcase_create("random");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, test_components_random_matches_flood_fill, 0, 2);
  tcase_add_test(tc, test_components_thin_slabs_match_flood_fill);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(components_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
