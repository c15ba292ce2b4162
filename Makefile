# obsctl. `make demo` and `make test` are the two commands a fresh machine needs.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -X github.com/obsctl/obsctl/internal/version.Version=$(VERSION) -X github.com/obsctl/obsctl/internal/version.Commit=$(COMMIT)
# How long each fuzz target runs: briefly in `make test`, longer in `make fuzz`.
# `make test`'s budget is a count of executions, not a duration: with a
# duration, Go 1.26's fuzzing coordinator can report its own deadline as a
# failure when a worker is still running at that moment on a loaded machine
# (golang/go#75804, fixed in Go 1.27), with no failing input behind it.
FUZZTIME ?= 5000x
FUZZMINIMIZE ?= 1000x
FUZZ_TARGETS := \
	./internal/source:FuzzParseYAML \
	./internal/source:FuzzScalarPos \
	./internal/config:FuzzParse \
	./internal/promrule:FuzzLoad \
	./internal/lint:FuzzLint \
	./internal/lint:FuzzTemplateFastPath \
	./internal/manifest:FuzzRead \
	./internal/fluentd:FuzzLoad \
	./internal/lint:FuzzDashboardRefs \
	./internal/dashboard:FuzzParse \
	./internal/load:FuzzLoadConfig \
	./internal/load:FuzzLoadRules \
	./internal/load:FuzzLoadDashboards \
	./internal/load:FuzzLoadPipelines \
	./internal/load:FuzzLoadPaths \
	./internal/secret:FuzzScan \
	./internal/report:FuzzTextExcerpt

.PHONY: all build test unit fuzz-smoke fuzz bench bench-apply precision precision-corpus generate demo dist clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/obsctl ./cmd/obsctl

## test: the whole suite: unit, golden, CLI scripts, oracles, and a short run of every fuzz target.
test: unit fuzz-smoke

# The cluster tests' programs are built (or found in test/bin) first: a cold
# build inside a test would run into go test's timeout.
unit: kube-bins promtool-bin programs
	$(GO) vet ./...
	@# internal/cli's scripts and hostile corpus take 6 of go test's default
	@# 10 minutes on a 2-core machine, more when it is loaded: a package gets
	@# the whole of make test's 20.
	$(GO) test -count=1 -timeout 20m ./...

fuzz-smoke:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg; \
	done

## fuzz: every fuzz target for longer (FUZZTIME=60s by default here).
fuzz:
	$(MAKE) fuzz-smoke FUZZTIME=$${FUZZTIME:-60s} FUZZMINIMIZE=$${FUZZMINIMIZE:-10s}

## bench: lint CPU and peak memory on generated corpora, beside the parse-only floor and promtool; obsctl test on the embedded default's tests against promtool test rules (target: half its time); 1,000 routing cases in one process (target: under 0.1 s); Argo CD's generate of the default repo (its limits: 60 s, 90 s).
bench: build promtool-bin
	@fail=0; \
	$(GO) run ./test/bench/lintbench -obsctl $(BIN)/obsctl || fail=1; \
	$(GO) run ./test/bench/testbench -obsctl $(BIN)/obsctl -promtool $(PROMTOOL) || fail=1; \
	$(GO) test -run '^$$' -bench '^BenchmarkRun1000$$' -benchtime 50x ./internal/routetest || fail=1; \
	$(GO) test -run '^$$' -bench '^BenchmarkArgoCDGenerate$$' -benchtime 5x ./test/gitops || fail=1; \
	exit $$fail

## bench-apply: obsctl apply against kubectl apply --server-side on a fresh local control plane (~300 objects; needs kubectl).
bench-apply: build kube-bins
	$(GO) run ./test/bench/applybench -obsctl $(BIN)/obsctl

## precision: lint a corpus of public rule collections (CORPUS, built by precision-corpus outside
## the repo) and fail on any finding not judged yet, or judged false, in test/precision/judgements.tsv.
precision: build
	@test -n "$(CORPUS)" || { echo "make precision CORPUS=DIR (make precision-corpus CORPUS=DIR builds one)"; exit 2; }
	$(GO) run ./test/precision run -corpus $(CORPUS) -obsctl $(BIN)/obsctl

## precision-corpus: fetch the pinned public collections into CORPUS (outside the repo).
precision-corpus:
	@test -n "$(CORPUS)" || { echo "make precision-corpus CORPUS=DIR"; exit 2; }
	$(GO) run ./test/precision corpus -out $(CORPUS)

## generate: refresh generated files (Prometheus Operator CRDs, the metric catalog scraped from the pinned programs running, check docs, README reference, golden files).
generate: kube-bins programs
	cd internal/render/crds/gen && $(GO) run . -out ..
	OBSCTL_E2E=1 $(GO) test -count=1 -run '^TestCatalogMatchesThePrograms$$' ./test/e2ecatalog -update
	$(GO) test ./internal/lint -run TestExplainDocs -update
	$(GO) test ./internal/cli -run 'TestREADME|TestRenderGolden|TestBuildGolden' -update

## demo: build obsctl, start the local control plane (with the real Prometheus Operator), apply the default stack, show status.
## The default routing reads three receiver Secrets that users create: the first apply
## applies everything else and says how to create them; the demo creates placeholders
## (loopback addresses) and applies again.
demo: build kube-bins
	@$(MAKE) --no-print-directory cluster-up
	@echo
	@echo "Applying the embedded default stack (ha profile) to the local control plane:"
	cd $$(mktemp -d) && KUBECONFIG=$(CURDIR)/test/bin/cluster/kubeconfig $(CURDIR)/$(BIN)/obsctl apply --profile ha --timeout 5m || test $$? -eq 1
	@echo
	@echo "Alertmanager was held back: it reads receiver Secrets nobody created yet. Creating placeholders, as kubectl create secret would:"
	$(KUBECLUSTER) secret -namespace monitoring alertmanager-opsgenie api-key alertmanager-pagerduty routing-key alertmanager-slack webhook-url
	cd $$(mktemp -d) && KUBECONFIG=$(CURDIR)/test/bin/cluster/kubeconfig $(CURDIR)/$(BIN)/obsctl apply --profile ha --timeout 5m
	@echo
	@echo "The real Prometheus Operator runs beside the control plane with its ServiceAccount's token (the simulated nodes run no containers); it turns the stack's Prometheus and Alertmanager into StatefulSets:"
	KUBECONFIG=$(CURDIR)/test/bin/cluster/kubeconfig $(CURDIR)/$(BIN)/obsctl status --wait 5m
	@echo
	@echo "The control plane keeps running: export KUBECONFIG=$(CURDIR)/test/bin/cluster/kubeconfig to explore it; 'make cluster-down' stops it."

## dist: the release binaries, static (no cgo), for Linux and macOS on amd64 and arm64:
## dist/obsctl-VERSION-OS-ARCH/obsctl, each also as a .tar.gz, and their SHA256SUMS.
## The Dockerfile copies the Linux ones.
DIST_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
dist:
	rm -rf dist
	for p in $(DIST_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; dir=dist/obsctl-$(VERSION)-$$os-$$arch; \
		echo "dist $$dir"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS) -s -w' -o $$dir/obsctl ./cmd/obsctl; \
		tar -C $$dir --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - obsctl | gzip -n > $$dir.tar.gz; \
	done
	cd dist && sha256sum *.tar.gz > SHA256SUMS

clean:
	rm -rf $(BIN) out dist

# The local control plane (test/kube builds it, test/cluster runs it).
KUBECLUSTER := test/bin/kubecluster
NODES ?= 3
.PHONY: kube-bins programs promtool-bin cluster-up cluster-down

# promtool built from the Prometheus module obsctl evaluates rules with: the
# oracle of TestPromtoolAgrees (internal/ruletest), which builds it the same
# way when it is missing.
PROM_VERSION := $(shell awk '$$1 == "github.com/prometheus/prometheus" { print $$2 }' go.mod)
PROMTOOL := test/bin/promtool-$(PROM_VERSION)

## promtool-bin: build promtool at the Prometheus version go.mod pins into test/bin/promtool-<version> (cached; ~6 min cold).
promtool-bin: $(PROMTOOL)

$(PROMTOOL):
	@mkdir -p $(@D)
	d=$$(mktemp -d) && cd $$d && $(GO) mod init promtoolbuild >/dev/null 2>&1 && \
		GOFLAGS=-mod=mod $(GO) get github.com/prometheus/prometheus/cmd/promtool@$(PROM_VERSION) && \
		GOFLAGS=-mod=mod $(GO) build -trimpath -o $(CURDIR)/$@.tmp github.com/prometheus/prometheus/cmd/promtool && \
		cd / && rm -rf $$d && mv $(CURDIR)/$@.tmp $(CURDIR)/$@

## kube-bins: build kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kwok into test/bin/kube-<versions>/ (cached; ~7 min cold).
kube-bins:
	$(GO) run ./test/cluster/cmd/kubecluster bins

## programs: build the stack's real programs (Prometheus Operator, Prometheus, Alertmanager, kube-state-metrics, node-exporter, Jaeger) at the pinned versions into test/bin/<name>-<version>-<hash>/ (cached; ~10 min cold).
programs:
	$(GO) run ./test/cluster/cmd/kubecluster programs

## cluster-up: start a local control plane with NODES simulated nodes in the background; prints the KUBECONFIG to export.
cluster-up:
	$(GO) build -o $(KUBECLUSTER) ./test/cluster/cmd/kubecluster
	$(KUBECLUSTER) up -nodes $(NODES)

## cluster-down: stop the control plane cluster-up started and check that no process is left.
cluster-down:
	$(GO) build -o $(KUBECLUSTER) ./test/cluster/cmd/kubecluster
	$(KUBECLUSTER) down
