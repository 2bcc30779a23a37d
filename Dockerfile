# The proxyctl image, for those who build with Docker (or buildx, for
# several platforms: docker buildx build --platform linux/amd64,linux/arm64).
# `make image` builds the same image without Docker: a static binary as
# /proxyctl, run as the non-root user 65532, no shell (tools/image).
#
#   docker build --build-arg VERSION=$(cat VERSION) \
#     --build-arg COMMIT=$(git rev-parse HEAD) -t ghcr.io/proxyctl/proxyctl:$(cat VERSION) .

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
      -ldflags "-s -w -X github.com/proxyctl/proxyctl/internal/build.Version=${VERSION} -X github.com/proxyctl/proxyctl/internal/build.Commit=${COMMIT}" \
      -o /out/proxyctl ./cmd/proxyctl

# distroless static: /etc/passwd with nonroot (65532), CA certificates,
# tzdata; no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="proxyctl" \
      org.opencontainers.image.description="A Kubernetes ingress controller for Envoy, compatible with Contour's HTTPProxy" \
      org.opencontainers.image.source="https://github.com/proxyctl/proxyctl" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /out/proxyctl /proxyctl
USER 65532:65532
EXPOSE 8000 8001
ENTRYPOINT ["/proxyctl"]
