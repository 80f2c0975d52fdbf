#!/bin/sh
# make-base.sh [TOOL] - build a local Debian bookworm base image with
# debootstrap, for machines that reach Debian's package mirror but no
# container registry.  The result is tagged $SEGSCORE_BASE_LOCAL
# (localhost/debian:bookworm-slim-local) in TOOL's store (podman or docker)
# and is reused when it already exists (delete it to rebuild).
#
# Like the official slim image: minbase variant, no docs, man pages or
# locales, no apt lists; a dpkg filter keeps later installs small too.
# The mirror is the one this machine's apt uses unless DEBIAN_MIRROR is set.
# Needs root and debootstrap.  SPDX-License-Identifier: MIT
set -eu

TOOL=${1:-podman}
TAG=${SEGSCORE_BASE_LOCAL:-localhost/debian:bookworm-slim-local}
SUITE=bookworm

if "$TOOL" image inspect "$TAG" >/dev/null 2>&1; then
  echo "make-base: $TAG exists (cached)" >&2
  exit 0
fi

command -v debootstrap >/dev/null 2>&1 || {
  echo "make-base: debootstrap is missing (apt-get install debootstrap)" >&2
  exit 1
}

# The first Debian mirror URI in the host's apt sources (deb822 or
# one-line) that matches (grep -v security) or does not match (grep) $1.
host_mirror() {
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list \
           /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    u=$(sed -n -e 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' \
               -e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\([^[:space:]]*\).*/\2/p' \
               "$f" | grep $1 security | head -n 1)
    [ -n "$u" ] && { echo "$u"; return 0; }
  done
  return 1
}
MIRROR=${DEBIAN_MIRROR:-$(host_mirror -v)} || {
  echo "make-base: no Debian mirror found; set DEBIAN_MIRROR" >&2
  exit 1
}

ROOT=$(mktemp -d /tmp/segscore-base.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT INT TERM

echo "make-base: debootstrap $SUITE (minbase) from $MIRROR" >&2
debootstrap --variant=minbase "$SUITE" "$ROOT/rootfs" "$MIRROR" >"$ROOT/log" 2>&1 || {
  tail -n 20 "$ROOT/log" >&2
  exit 1
}
R=$ROOT/rootfs

# Updates and security updates too, as in the official image.
SECURITY=${DEBIAN_SECURITY_MIRROR:-$(host_mirror -e || echo "$MIRROR-security")}
printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
  "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" "$SECURITY" "$SUITE" \
  >"$R/etc/apt/sources.list"

# Keep packages installed later (the runtime stage) free of docs too.
cat >"$R/etc/dpkg/dpkg.cfg.d/segscore-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
cat >"$R/etc/apt/apt.conf.d/segscore-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF

find "$R/usr/share/doc" -mindepth 1 -not -name copyright -not -type d \
  -delete 2>/dev/null || true
rm -rf "$R/usr/share/man"/* "$R/usr/share/info"/* "$R/usr/share/locale"/* \
       "$R/var/lib/apt/lists"/* "$R/var/cache/apt"/*.bin \
       "$R/var/cache/apt/archives"/*.deb "$R/var/log"/*.log "$R/tmp"/* \
       "$R/debootstrap" 2>/dev/null || true

tar --numeric-owner -C "$R" -c . |
  "$TOOL" import --change 'CMD ["/bin/bash"]' - "$TAG" >/dev/null
echo "make-base: built $TAG" >&2
