# segscore container image: the segscored HTTP service by default; the same
# image runs the CLI (`--entrypoint segscore`).  Build with `make image`
# (docker, or podman --format docker so HEALTHCHECK is kept); see
# docs/deploy.md.  SPDX-License-Identifier: MIT
#
# BASE is swappable: `make image` passes a local debootstrap bookworm image
# (docker/make-base.sh) where no registry can be reached.
ARG BASE=debian:bookworm-slim

# ---- build: compilers and -dev packages, never shipped ----------------------
FROM ${BASE} AS build
ARG MAKE_JOBS=2
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev make pkg-config binutils \
      libmicrohttpd-dev libjansson-dev libnifti2-dev libdeflate-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make -j"${MAKE_JOBS}" build/segscore build/segscored \
 && install -D -m 0755 -s build/segscore build/segscored -t /out/usr/local/bin/

# ---- runtime: bookworm-slim with the shared libraries only ------------------
FROM ${BASE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="segscore" \
      org.opencontainers.image.description="Scores medical image segmentations: overlap, surface distances, losses, lesion detection; CLI and HTTP service" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.documentation="docs/deploy.md" \
      org.opencontainers.image.base.name="debian:bookworm-slim"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libjansson4 libnifti2-2 libznz3 libdeflate0 zlib1g libgomp1 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && groupadd --gid 10001 segscore \
 && useradd --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin segscore
COPY --from=build /out/ /

# Configuration is by SEGSCORE_* variables (docs/deploy.md lists them all);
# worker and thread counts default to the cgroup CPU limit.
ENV SEGSCORE_LISTEN=0.0.0.0:8080
# Numeric, so Kubernetes runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
# Kubernetes ignores this and uses the probes; docker and compose use it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/segscored", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/segscored"]
