# segscore - one plain Makefile (Redis-style).  SPDX-License-Identifier: MIT
#   make            library, segscore CLI, segscored daemon (when present)
#   make test       dependencies, build, unit + CLI + service tests, ASan/UBSan
#   make bench      benchmarks on generated realistic volumes
#   make run        build and run (see README)
#   make fuzz       libFuzzer targets (clang, ASan+UBSan), FUZZ_SECONDS each
#   make soak       the load/overload/shutdown tests with the long soak
#   make lint       cppcheck and clang-tidy on lib/ and service/
#   make image      container image (docker, else podman); docs/deploy.md
#   make image-test run the image and compare it with the host build

CC      ?= gcc
BUILD   ?= build
OPT     ?= -O2
SAN     ?=
PKGS    := jansson libdeflate zlib
HAVE_MHD := $(shell pkg-config --exists libmicrohttpd && echo 1)

CPPFLAGS += -D_GNU_SOURCE -Ilib/include -I/usr/include/nifti -MMD -MP
OMP     ?= -fopenmp
CFLAGS  += -std=c11 $(OPT) -g -Wall -Wextra -Wpedantic -Wshadow $(OMP) \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(SAN)
LDFLAGS += $(OMP) $(SAN)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lnifti2 -lznz -lz -lm -lpthread
MHD_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

LIB_SRC := $(wildcard lib/src/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A   := $(BUILD)/libsegscore.a

# service/: shared front-end code (options, JSON) in one archive; the two
# programs and the daemon-only files (svc_*.c, h_*.c) on top.
SVC_MAINS := service/segscore.c service/segscored.c
SVC_DAEMON_SRC := $(wildcard service/svc_*.c service/h_*.c)
SVC_SRC := $(filter-out $(SVC_MAINS) $(SVC_DAEMON_SRC),$(wildcard service/*.c))
SVC_OBJ := $(SVC_SRC:%.c=$(BUILD)/%.o)
SVC_A   := $(BUILD)/libsvc.a
DAEMON_OBJ := $(SVC_DAEMON_SRC:%.c=$(BUILD)/%.o)
# api/openapi.yaml is served by the daemon: embedded as a generated C file.
OPENAPI_C := $(BUILD)/gen/openapi_yaml.c
OPENAPI_O := $(BUILD)/gen/openapi_yaml.o
# The web page (docs/web.md): web/ and the committed web/vendor/ copies of
# the charting library, embedded as one asset table (no npm needed here).
UI_FILES := web/index.html web/app.js web/app.css $(sort $(wildcard web/vendor/*))
UI_C := $(BUILD)/gen/ui_assets.c
UI_O := $(BUILD)/gen/ui_assets.o

CLI := $(BUILD)/segscore
DAEMON := $(if $(wildcard service/segscored.c),$(BUILD)/segscored,)

CHECK_SRC := $(wildcard tests/check_*.c)
CHECK_BIN := $(CHECK_SRC:tests/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c bench/*.c)
TOOL_BIN := $(TOOL_SRC:%.c=$(BUILD)/%)

.PHONY: all deps test check unit test-asan bench run clean lint web-vendor image image-test
all: $(LIB_A) $(CLI) $(DAEMON) segscore $(if $(DAEMON),segscored)

deps:
	@scripts/install-deps

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# rm first: "ar rcs" keeps members whose source file is gone.
$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR) rcs $@ $^

$(SVC_A): $(SVC_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR) rcs $@ $^

$(CLI): $(BUILD)/service/segscore.o $(SVC_A) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/segscored: $(BUILD)/service/segscored.o $(DAEMON_OBJ) $(OPENAPI_O) \
                   $(UI_O) $(SVC_A) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(MHD_LIBS) $(LDLIBS)

$(OPENAPI_C): api/openapi.yaml scripts/embed
	@mkdir -p $(dir $@)
	scripts/embed svc_openapi_yaml api/openapi.yaml > $@.tmp && mv $@.tmp $@
$(OPENAPI_O): $(OPENAPI_C)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(UI_C): $(UI_FILES) scripts/embed-ui
	@mkdir -p $(dir $@)
	scripts/embed-ui $(UI_FILES) > $@.tmp && mv $@.tmp $@
$(UI_O): $(UI_C) service/ui_assets.h
	$(CC) $(CPPFLAGS) -Iservice $(CFLAGS) -c -o $@ $<

# Refresh web/vendor/ from npm (web/package-lock.json); not part of `make`.
web-vendor:
	scripts/web-vendor

# Convenience copies at the top level (git-ignored).
segscore: $(CLI)
	cp $< $@
segscored: $(BUILD)/segscored
	cp $< $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(SVC_A) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

$(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o $(SVC_A) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bench/%: $(BUILD)/bench/%.o $(SVC_A) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit: $(CHECK_BIN) $(TOOL_BIN) all

# The whole suite: tests/run builds the normal and the ASan+UBSan trees and
# runs every test group, ending with one "N passed, N failed" line.
test check: deps
	@tests/run

bench: deps all $(TOOL_BIN)
	@bench/run

run: deps all
	@scripts/run

# Fuzzing (fuzz/README.md): the library and service objects rebuilt with
# clang, ASan+UBSan and libFuzzer's coverage into build-fuzz/, without
# OpenMP (deterministic, fast), linked with one fuzz/fuzz_<target>.c each.
FUZZ_SECONDS ?= 60
FUZZ_BUILD := build-fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
            -fno-omit-frame-pointer
FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz/fuzz_%)
.PHONY: fuzz fuzz-build fuzz-coverage soak
fuzz-build:
	@$(MAKE) -s fuzz-bin BUILD=$(FUZZ_BUILD) CC=clang OMP=-Wno-unused OPT=-O1 \
	  SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link"
fuzz-bin: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
$(BUILD)/fuzz/%.o: CPPFLAGS += -Iservice
.PRECIOUS: $(BUILD)/fuzz/%.o
# The daemon's files as an archive, so a target may stand in for some of
# them (the worker pool: jobs run inline, no threads).
$(BUILD)/libsvcd.a: $(DAEMON_OBJ) $(OPENAPI_O) $(UI_O)
	@rm -f $@
	$(AR) rcs $@ $^
$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/libsvcd.a $(SVC_A) $(LIB_A)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -rdynamic -o $@ $^ $(MHD_LIBS) $(LDLIBS)
fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run $(FUZZ_TARGETS)
# Source coverage of lib/ and service/ reached by the corpora (seeds plus
# build-fuzz/corpus): the same targets built with clang's coverage mapping.
fuzz-coverage:
	@$(MAKE) -s fuzz-bin BUILD=build-fuzzcov CC=clang OMP=-Wno-unused OPT=-O0 \
	  SAN="-fprofile-instr-generate -fcoverage-mapping -fsanitize=fuzzer-no-link"
	@fuzz/coverage $(FUZZ_TARGETS)
soak: deps all
	@SOAK_SECONDS=$${SOAK_SECONDS:-120} bash tests/groups/load.sh
# Not part of `make test`: slow, and needs podman/buildah (or docker).
CONTAINER_DEPS := podman buildah debootstrap
image:
	@docker info >/dev/null 2>&1 || \
	  SEGSCORE_DEPS_EXTRA="$(CONTAINER_DEPS)" scripts/install-deps
	@docker/build-image.sh

image-test: deps all
	@docker info >/dev/null 2>&1 || \
	  SEGSCORE_DEPS_EXTRA="$(CONTAINER_DEPS)" scripts/install-deps
	@docker/image-test.sh

clean:
	rm -rf $(BUILD) build-asan $(FUZZ_BUILD) build-fuzzcov segscore segscored

-include $(LIB_OBJ:.o=.d) $(SVC_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d) \
         $(CHECK_BIN:=.d) $(TOOL_BIN:=.d) $(FUZZ_BIN:=.d)

# Static checks (config: .clang-tidy, the cppcheck flags below): zero
# findings on lib/ and service/.  Inline suppressions carry their reason;
# invalidPointerCast is off: a malloc'd pool reused for another type is
# valid C (the store sets the effective type).
LINT_SRC := $(wildcard lib/src/*.c service/*.c)
LINT_INC := -D_GNU_SOURCE -Ilib/include -Ilib/src -Iservice -I/usr/include/nifti
lint:
	cppcheck -q --std=c11 --enable=warning,performance,portability \
	  --inline-suppr --suppress=invalidPointerCast --error-exitcode=1 -j2 \
	  $(LINT_INC) lib/src service
	clang-tidy -quiet $(LINT_SRC) -- -std=c11 $(LINT_INC) -fopenmp \
	  $(shell pkg-config --cflags $(PKGS) libmicrohttpd 2>/dev/null)
