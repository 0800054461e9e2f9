# syntax=docker/dockerfile:1
#
# The waqueue image: the worker (the entrypoint), the enqueuer and the
# Gupshup simulator, as static binaries in /usr/local/bin on a distroless
# base, running as a numeric non-root user. The Helm chart under
# deploy/helm/waqueue runs it (image.repository, enqueuer.command).
#
#   docker build -t ghcr.io/waqueue/waqueue:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t ... --push .

# At least the go line of go.mod: the golang image sets GOTOOLCHAIN=local,
# so an older Go refuses the module instead of fetching a newer one.
ARG GO_VERSION=1.26.8

# The build runs on the builder's own platform and cross-compiles: Go needs
# no emulation to target another architecture.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
# CGO off: the binaries must run without a C library. -trimpath keeps the
# builder's paths out of them; -s -w drops the symbol and debug tables.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w" -o /out/ \
      ./cmd/worker ./cmd/enqueuer ./cmd/gupshup-sim ./cmd/monitor

# distroless/static rather than scratch: it carries the CA certificates
# that HTTPS to Gupshup (and rediss://) needs, and time zone data, and
# still no shell or package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
# The image's nonroot user, by number: Kubernetes can verify runAsNonRoot
# only against a numeric user.
USER 65532:65532
# HTTP_ADDR's default: callbacks, /healthz, /readyz, /metrics.
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/worker"]
