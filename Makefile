# optel Makefile. Two commands set everything up on a fresh machine:
#   make demo   builds and runs the demo
#   make test   installs/builds the real peers and runs every test
SHELL   := /bin/bash
GO      ?= go
BIN     := $(CURDIR)/bin
export OPTEL_BIN_DIR := $(BIN)

DEMO_ARGS ?=

.PHONY: all build test fuzz unit vet fmt-check tools prometheus otelcol controlplane kustomize chromium demo demo-apps demo-standalone bench bench-1m bench-local bench-check getting-started-check docs clean

include hack/tools.mk

all: build

build:
	$(GO) build ./...

## tools: the real peers the tests run against (see ../shared/TESTBED.md)
tools: prometheus otelcol controlplane kustomize chromium

## controlplane: etcd, kube-apiserver and kube-controller-manager built from
## Go modules into bin/ (the last two share hack/kube-apiserver's module)
controlplane: $(BIN)/kube-apiserver $(BIN)/etcd $(BIN)/kube-controller-manager

prometheus: /usr/bin/prometheus /usr/bin/promtool
/usr/bin/prometheus /usr/bin/promtool:
	@echo ">> installing Prometheus and promtool (Debian package)"
	@if [ "$$(id -u)" != 0 ]; then echo "need root to apt-get install prometheus"; exit 1; fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
	@prometheus --version 2>&1 | head -1

## chromium: headless Chromium for the status page test (Debian package).
chromium: /usr/bin/chromium
/usr/bin/chromium:
	@echo ">> installing Chromium (Debian package) for the status page test"
	@if [ "$$(id -u)" != 0 ]; then echo "need root to apt-get install chromium"; exit 1; fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
	@chromium --version

## kustomize: renders the deploy overlays; built from sigs.k8s.io/kustomize/api.
kustomize: $(BIN)/kustomize
$(BIN)/kustomize: hack/kustomize/main.go hack/kustomize/go.mod hack/kustomize/go.sum
	@mkdir -p $(BIN)
	@hack/progress.sh "building kustomize from Go modules" \
		bash -c 'cd hack/kustomize && $(GO) build -o $(BIN)/kustomize .'

otelcol: $(BIN)/otelcol
$(BIN)/otelcol: hack/otelcol/main.go hack/otelcol/go.mod hack/otelcol/go.sum
	@mkdir -p $(BIN)
	@hack/progress.sh "building OpenTelemetry Collector from Go modules (cold ~2 min, warm seconds)" \
		bash -c 'cd hack/otelcol && $(GO) build -o $(BIN)/otelcol .'

$(BIN)/etcd: hack/etcd/main.go hack/etcd/go.mod hack/etcd/go.sum
	@mkdir -p $(BIN)
	@hack/progress.sh "building etcd from Go modules (cold ~1 min, warm seconds)" \
		bash -c 'cd hack/etcd && $(GO) build -o $(BIN)/etcd .'

$(BIN)/kube-apiserver: hack/kube-apiserver/main.go hack/kube-apiserver/go.mod hack/kube-apiserver/go.sum
	@mkdir -p $(BIN)
	@hack/progress.sh "building kube-apiserver from k8s.io/kubernetes (cold ~10-15 min on 2 cores, warm seconds)" \
		bash -c 'cd hack/kube-apiserver && $(GO) build -o $(BIN)/kube-apiserver .'

$(BIN)/kube-controller-manager: hack/kube-apiserver/cmd/kube-controller-manager/main.go hack/kube-apiserver/go.mod hack/kube-apiserver/go.sum
	@mkdir -p $(BIN)
	@hack/progress.sh "building kube-controller-manager from k8s.io/kubernetes (~3 min after kube-apiserver, warm seconds)" \
		bash -c 'cd hack/kube-apiserver && $(GO) build -o $(BIN)/kube-controller-manager ./cmd/kube-controller-manager'

$(BIN)/standalone: FORCE
	@mkdir -p $(BIN)
	$(GO) build -o $@ ./examples/standalone

$(BIN)/widgets: FORCE
	@mkdir -p $(BIN)
	$(GO) build -o $@ ./examples/widgets
FORCE:

## test: every test, against real Prometheus and a real Collector. Under
## CI=true a missing peer fails the test instead of skipping it.
test: tools vet fmt-check
	@echo ">> go test -race ./..."
	$(GO) test -race -short -count=1 ./...
	@echo ">> scrape storm: 50 scrapers for 60 s, and the heap kept between scrapes, alone so nothing else moves the heap"
	$(GO) test -count=1 -run '^(TestScrapeStorm|TestScrapeKeepsLittle)$$' -v ./exporters/prometheus
	@echo ">> 200 slow /metrics.json readers at 100k series, alone: heap bound"
	$(GO) test -count=1 -run '^(TestSlowJSONReaders|TestStaggeredSlowJSONReaders|TestStaggeredSlowScrapes|TestOneClientCannotHoldEverySlot)$$' -v ./server
	@echo ">> scrape storm as deployed: TLS and KubeAuth on the real API server, 20 s, alone"
	$(GO) test -count=1 -run '^TestSecureScrapeStorm$$' -v ./server
	@$(MAKE) --no-print-directory fuzz bench-check getting-started-check

## getting-started-check: run docs/getting-started.md's commands, as a reader
## would, in a fresh copy of the repository.
getting-started-check:
	hack/getting-started.sh

## bench-check: the bench/ module builds, vets, and its tests pass (they
## check the benchmarks compare identical data); no benchmark runs.
bench-check:
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./...

## fuzz: each fuzz target for a bounded time (FUZZTIME, default 10s); seed
## corpora live in testdata/fuzz/.
FUZZTIME ?= 10s
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzConfig$$' -fuzztime=$(FUZZTIME) ./telemetry
	$(GO) test -run='^$$' -fuzz='^FuzzProbeReport$$' -fuzztime=$(FUZZTIME) ./probes
	$(GO) test -run='^$$' -fuzz='^FuzzAppendJSON$$' -fuzztime=$(FUZZTIME) ./exporters/jsonexp
	$(GO) test -run='^$$' -fuzz='^FuzzMatchesClientGo$$' -fuzztime=$(FUZZTIME) ./internal/watchstream

unit:
	$(GO) test -short -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## demo: the widgets operator with live telemetry. Without KUBECONFIG it
## starts an embedded control plane (kube-apiserver + etcd from bin/); with
## KUBECONFIG set it uses that cluster. Extra flags:
##   make demo DEMO_ARGS='--otlp-endpoint=http://127.0.0.1:4317'
demo: controlplane $(BIN)/widgets
	@echo ">> starting the widgets operator demo; Ctrl-C to stop"
	$(BIN)/widgets --telemetry-exporters=$(if $(findstring otlp-endpoint,$(DEMO_ARGS)),prometheus$(,)json$(,)otlp,prometheus$(,)json) $(if $(KUBECONFIG),--demo-create) $(DEMO_ARGS)

## demo-apps: the typed App operator (examples/apps) owning a Deployment
## and a Service, on an embedded control plane with kube-controller-manager.
demo-apps: controlplane $(BIN)/apps
	@echo ">> starting the apps operator demo; Ctrl-C to stop"
	$(BIN)/apps $(if $(KUBECONFIG),--demo-create) $(DEMO_ARGS)

$(BIN)/apps: FORCE
	@mkdir -p $(BIN)
	$(GO) build -o $@ ./examples/apps

## demo-standalone: the telemetry core alone, without Kubernetes.
demo-standalone: $(BIN)/standalone
	$(BIN)/standalone $(DEMO_ARGS)

, := ,

## bench: the comparison suite in bench/ (its own module), every figure
## paired with its anchor's, in rotated order (docs/benchmarks.md). The
## scrape stage runs each system in its own process, so the heap the GC
## marks is that system's alone; a pair is optel and client_golang back to
## back, the first of the pair alternating. BENCH_PAIRS pairs (default 10)
## at 4k and 100k series, and as Prometheus scrapes at 1M. About 43 minutes
## on 2 cores (the run of 2026-12-01). The raw output is kept in .cache/bench/.
BENCH_OUT ?= $(CURDIR)/.cache/bench/$(shell date +%Y-%m-%d)
BENCH_BIN := $(CURDIR)/.cache/bench/bench.test
BENCH_RUN  = cd $(CURDIR)/bench && $(BENCH_BIN) -test.run='^$$' -test.benchmem
BENCH_PAIRS ?= 10
bench: controlplane $(BIN)/benchstat
	@mkdir -p $(dir $(BENCH_OUT))
	@rm -f $(BENCH_OUT).txt
	@start=$$(date +%s); \
	set -o pipefail; \
	echo "# optel make bench: commit $$(git rev-parse --short HEAD 2>/dev/null)$$(git status --porcelain 2>/dev/null | grep -q . && echo ' (uncommitted changes)'), $$($(GO) version), BENCH_PAIRS=$(BENCH_PAIRS), started $$(date -u +%FT%TZ)" | tee $(BENCH_OUT).txt && \
	echo ">> building the bench/ suite" && (cd bench && $(GO) test -c -o $(BENCH_BIN) .) && \
	echo ">> [1/4] recording: optel vs the raw SDK (options hoisted, exemplars off) and client_golang, $(BENCH_PAIRS)+ rotated pairs each" && \
	$(BENCH_RUN) -test.bench='^BenchmarkRecord(Exemplars)?$$' -test.benchtime=1x -test.count=1 | tee -a $(BENCH_OUT).txt && \
	for i in $$(seq 1 $(BENCH_PAIRS)); do \
		if [ $$((i % 2)) -eq 1 ]; then order="Optel ClientGolang"; else order="ClientGolang Optel"; fi; \
		echo ">> [2/4] scrapes at 4k and 100k series, pair $$i/$(BENCH_PAIRS): $$order ($$(( $$(date +%s) - start ))s so far)"; \
		for sys in $$order; do \
			$(BENCH_RUN) -test.bench="^BenchmarkScrape$${sys}(4k|100k)$$" -test.count=1 -test.timeout=30m | tee -a $(BENCH_OUT).txt || exit 1; \
			$(BENCH_RUN) -test.bench="^BenchmarkScrapeChurn$${sys}(4k|100k)$$" -test.benchtime=20x -test.count=1 -test.timeout=30m | tee -a $(BENCH_OUT).txt || exit 1; \
		done; \
	done && \
	for i in $$(seq 1 $(BENCH_PAIRS)); do \
		if [ $$((i % 2)) -eq 1 ]; then order="Optel ClientGolang"; else order="ClientGolang Optel"; fi; \
		echo ">> [3/4] scrapes at 1M series as Prometheus scrapes, pair $$i/$(BENCH_PAIRS): $$order; one client_golang scrape takes ~20 s ($$(( $$(date +%s) - start ))s so far)"; \
		for sys in $$order; do \
			$(BENCH_RUN) -test.bench="^BenchmarkScrape$${sys}1M$$/^prometheus-gzip$$" -test.count=1 -test.timeout=30m | tee -a $(BENCH_OUT).txt || exit 1; \
		done; \
	done && \
	echo ">> [3/4] for information: the stock exporter, JSON and OTLP, once ($$(( $$(date +%s) - start ))s so far)" && \
	$(BENCH_RUN) -test.bench='^Benchmark(ScrapeStock|Export)(4k|100k)$$' -test.count=1 -test.timeout=30m | tee -a $(BENCH_OUT).txt && \
	echo ">> [4/4] operator throughput on the embedded API server: optel (telemetry on/off) vs controller-runtime (cached reads), $(BENCH_PAIRS) rotated samples ($$(( $$(date +%s) - start ))s so far)" && \
	$(BENCH_RUN) -test.bench='^BenchmarkOperatorThroughput$$' -test.benchtime=1x -test.count=$(BENCH_PAIRS) -test.timeout=60m | tee -a $(BENCH_OUT).txt && \
	echo ">> operator, tracing on and off ($(BENCH_PAIRS) rotated pairs)" && \
	$(BENCH_RUN) -test.bench='^BenchmarkOperatorTracing$$' -test.benchtime=1x -test.count=$(BENCH_PAIRS) -test.timeout=60m | tee -a $(BENCH_OUT).txt && \
	echo "# suite done in $$(( $$(date +%s) - start ))s, $$(date -u +%FT%TZ)" | tee -a $(BENCH_OUT).txt
	@$(BIN)/benchstat $(BENCH_OUT).txt > $(BENCH_OUT).benchstat.txt || true
	@echo; echo ">> paired ratio tables (raw output $(BENCH_OUT).txt, benchstat $(BENCH_OUT).benchstat.txt)"
	@cd bench && $(GO) run ./cmd/benchtable $(BENCH_OUT).txt

## bench-1m: the stock OTel exporter and JSON/OTLP at 1M series, once: one
## stock scrape takes about a minute here.
bench-1m: $(BIN)/benchstat
	@mkdir -p $(dir $(BENCH_OUT))
	cd bench && $(GO) test -run='^$$' -bench='^Benchmark(ScrapeStock|Export)1M$$' -benchmem -count=1 -timeout=60m . | tee $(BENCH_OUT)-1m.txt
	@cd bench && $(GO) run ./cmd/benchtable $(BENCH_OUT)-1m.txt

## bench-local: the benchmarks beside the hot paths in the library itself.
bench-local:
	$(GO) test -run='^$$' -bench=. -benchmem -count=5 ./telemetry ./exporters/...

$(BIN)/benchstat: hack/tools.mk
	@mkdir -p $(BIN)
	@hack/progress.sh "building benchstat (golang.org/x/perf)" \
		env GOBIN=$(BIN) $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)

## docs: regenerate docs/configuration.md and docs/metrics.md from the code.
docs:
	$(GO) test -run 'TestDocs' -count=1 . -update

clean:
	rm -rf $(BIN) .cache
