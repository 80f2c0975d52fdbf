#!/bin/sh
# build-image.sh - `make image`: build the segscore image from the top-level
# Dockerfile with docker when an engine answers, otherwise with podman
# (chroot isolation; docker format so the HEALTHCHECK is kept).  When the
# base image cannot be pulled (no registry), docker/make-base.sh builds a
# local bookworm base with debootstrap first and the build uses that.
# Prints the image size at the end.
#   SEGSCORE_IMAGE   tag to build (localhost/segscore:latest)
#   SEGSCORE_ENGINE  docker or podman (default: detected)
#   BASE             base image (default: debian:bookworm-slim, else local)
# SPDX-License-Identifier: MIT
set -eu
cd "$(dirname "$0")/.."

IMAGE=${SEGSCORE_IMAGE:-localhost/segscore:latest}
LOCAL_BASE=${SEGSCORE_BASE_LOCAL:-localhost/debian:bookworm-slim-local}

engine() {
  if [ -n "${SEGSCORE_ENGINE:-}" ]; then
    echo "$SEGSCORE_ENGINE"
  elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    echo docker
  elif command -v podman >/dev/null 2>&1; then
    echo podman
  else
    echo "build-image: neither a docker engine nor podman is available" >&2
    echo "build-image: install podman and buildah (apt-get install podman buildah debootstrap)" >&2
    exit 1
  fi
}
ENGINE=$(engine)

# The base: as given, else the official slim image if present or pullable,
# else the local debootstrap one (built once, then cached).
if [ -z "${BASE:-}" ]; then
  OFFICIAL=docker.io/library/debian:bookworm-slim
  if "$ENGINE" image inspect "$OFFICIAL" >/dev/null 2>&1 ||
     timeout 120 "$ENGINE" pull -q "$OFFICIAL" >/dev/null 2>&1; then
    BASE=$OFFICIAL
  else
    echo "build-image: cannot pull $OFFICIAL; using a local debootstrap base" >&2
    docker/make-base.sh "$ENGINE"
    BASE=$LOCAL_BASE
  fi
fi

REVISION=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  REVISION="$REVISION-dirty"
fi
VERSION=$(sed -n 's/^#define SS_VERSION "\(.*\)"/\1/p' lib/include/segscore.h | head -n 1)
CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)

set -- --build-arg "BASE=$BASE" --build-arg "VERSION=${VERSION:-0.0.0}" \
       --build-arg "REVISION=$REVISION" --build-arg "CREATED=$CREATED" \
       -t "$IMAGE" -f Dockerfile .
echo "build-image: $ENGINE build $IMAGE from $BASE" >&2
start=$(date +%s)
if [ "$ENGINE" = podman ]; then
  podman build --isolation=chroot --format docker --layers "$@"
else
  docker build "$@"
fi
echo "build-image: built in $(( $(date +%s) - start )) s" >&2

bytes=$("$ENGINE" image inspect --format '{{.Size}}' "$IMAGE")
echo "build-image: $IMAGE is $(( bytes / 1000000 )) MB ($bytes bytes; target < 150 MB)"
