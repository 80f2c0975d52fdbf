# segscore - one plain Makefile (Redis-style).  SPDX-License-Identifier: MIT
#   make            library, segscore CLI, segscored daemon (when present)
#   make test       dependencies, build, unit + CLI + service tests, ASan/UBSan
#   make bench      benchmarks on generated realistic volumes
#   make run        build and run (see README)
#   make image      container image (docker, else podman); docs/deploy.md
#   make image-test run the image and compare it with the host build

CC      ?= gcc
BUILD   ?= build
OPT     ?= -O2
SAN     ?=
PKGS    := jansson libdeflate zlib
HAVE_MHD := $(shell pkg-config --exists libmicrohttpd && echo 1)

CPPFLAGS += -D_GNU_SOURCE -Ilib/include -I/usr/include/nifti -MMD -MP
CFLAGS  += -std=c11 $(OPT) -g -Wall -Wextra -Wpedantic -Wshadow -fopenmp \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(SAN)
LDFLAGS += -fopenmp $(SAN)
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
	rm -rf $(BUILD) build-asan segscore segscored

-include $(LIB_OBJ:.o=.d) $(SVC_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d) \
         $(CHECK_BIN:=.d) $(TOOL_BIN:=.d)
