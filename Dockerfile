# syntax=docker/dockerfile:1.7
#
# One image per ClearSky service, and the all-in-one, from this one file. Every service is the same
# Go module, built with the same toolchain and flags into the same minimal image, so one file with a
# SERVICE build argument keeps them identical instead of one copy per service drifting apart.
# Needs BuildKit (Docker's default builder): the builds use cache mounts.
#
#   docker build --build-arg SERVICE=registry --build-arg VERSION=1.4.0 -t clearsky/registry:1.4.0 .
#   docker build --target allinone --build-arg VERSION=1.4.0 -t clearsky/clearsky:1.4.0 .
#
# SERVICE is a folder of services/ with a binary at services/<SERVICE>/cmd/<SERVICE> (registry,
# obd, muck, fuel, remotesensing, checkpoint, console). The binaries are static (CGO off; the all-in-one's
# embedded FerretDB uses pure-Go SQLite) with the time zone database embedded (-tags timetzdata),
# so the final images are `scratch` plus CA certificates, the binary and `probe`, the HTTP health
# check compose uses (there is no shell in the image). They run as the unprivileged user
# 65532:65532 and need no writable file system, except the all-in-one's /data volume.
# tools/deploycheck (scripts/deploy-check) checks this file's structure.

FROM golang:1.26.8 AS source
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY libs/ libs/
COPY seeds/ seeds/
COPY services/ services/
COPY docs/policy.go docs/policy.md docs/
COPY deploy/probe/ deploy/probe/
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /out/probe ./deploy/probe \
    && mkdir -p /out/data

# One service's binary. VERSION is stamped into the binary (-X) and into CLEARSKY_VERSION, which
# the services record in logs and spans.
FROM source AS build
ARG SERVICE
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    test -n "${SERVICE}" || { echo "pass --build-arg SERVICE=<a folder of services/>" >&2; exit 1; }; \
    test -f "./services/${SERVICE}/cmd/${SERVICE}/main.go" || { echo "no services/${SERVICE}/cmd/${SERVICE}/main.go" >&2; exit 1; }; \
    go build -trimpath -tags timetzdata \
      -ldflags="-s -w -X github.com/clearsky/clearsky/libs/platform.buildVersion=${VERSION}" \
      -o /out/service "./services/${SERVICE}/cmd/${SERVICE}"

FROM source AS build-allinone
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -tags timetzdata \
      -ldflags="-s -w -X github.com/clearsky/clearsky/libs/platform.buildVersion=${VERSION}" \
      -o /out/clearsky ./services/allinone/cmd/clearsky

# The all-in-one: every service in one process, embedded FerretDB and Redis, demo data on first
# start; its data (database files, generated token secret) lives in the /data volume. Also the
# image of compose's one-shot `seed` job (`clearsky seed ...`).
FROM scratch AS allinone
ARG VERSION=dev
LABEL org.opencontainers.image.title="clearsky" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/clearsky/clearsky"
COPY --from=source /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=source /out/probe /usr/local/bin/probe
COPY --from=build-allinone /out/clearsky /usr/local/bin/clearsky
COPY --from=source --chown=65532:65532 /out/data /data
ENV CLEARSKY_DATA_DIR=/data CLEARSKY_HTTP_ADDR=:8080 CLEARSKY_OBD_ADDR=:7700 CLEARSKY_VERSION=${VERSION}
VOLUME ["/data"]
USER 65532:65532
EXPOSE 8080 7700
HEALTHCHECK --interval=10s --timeout=4s --start-period=30s --retries=6 \
  CMD ["/usr/local/bin/probe", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/clearsky"]
CMD ["run"]

# One service (the default target, so a plain `docker build --build-arg SERVICE=...` gives it).
FROM scratch AS service
ARG SERVICE
ARG VERSION=dev
LABEL org.opencontainers.image.title="clearsky-${SERVICE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/clearsky/clearsky"
COPY --from=source /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=source /out/probe /usr/local/bin/probe
COPY --from=build /out/service /usr/local/bin/clearsky-service
ENV CLEARSKY_HTTP_ADDR=:8080 CLEARSKY_VERSION=${VERSION}
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=4s --start-period=20s --retries=6 \
  CMD ["/usr/local/bin/probe", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/clearsky-service"]
