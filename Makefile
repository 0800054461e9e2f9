# waqueue: the targets people and CI run. `make help` lists them.
GO        ?= go
PKGS      ?= ./...
BIN       ?= bin
TEST_FLAGS ?= -race -count=1 -timeout 20m

.PHONY: help build test vet fmt fuzz demo sim clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build every command into bin/
	$(GO) build -o $(BIN)/ ./cmd/...

vet: ## go vet and a gofmt check
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Timing tests skip themselves under the race detector (it stretches every
# wait); the second run gives them a machine without it.
TIMING_TESTS ?= TestFleetRateLimit|TestCampaignEndToEnd|TestDefaultsReachSendRate

test: vet ## unit and integration tests (integration tests start their own redis-server)
	$(GO) test $(TEST_FLAGS) $(PKGS)
	$(GO) test -count=1 -run '$(TIMING_TESTS)' ./worker/

# The chart's linter is a Go module of its own (tools/helmlint), so that
# Helm's dependency tree never enters the worker's go.mod. Its tests feed
# it broken values and templates and expect it to fail.
.PHONY: helm-lint
helm-lint: ## lint the Helm chart, render it with its defaults and every example, check each object against the Kubernetes API types
	cd tools/helmlint && $(GO) test -count=1 ./... && $(GO) run . -repo ../..

demo: ## send a sample campaign through an embedded Redis and the Gupshup simulator (REDIS_URL: use that Redis; DEMO_FLAGS=--help)
	$(GO) run ./cmd/demo $(DEMO_FLAGS)

# asynqmon on its own, with the worker's /monitor auth and masking: it
# refuses to start without MONITOR_PASSWORD (or MONITOR_PASSWORD_FILE).
.PHONY: monitor
monitor: ## run the asynq UI against REDIS_URL on MONITOR_ADDR (127.0.0.1:8081), basic auth MONITOR_USER/MONITOR_PASSWORD, read-only unless MONITOR_READ_ONLY=false
	$(GO) run ./cmd/monitor $(MONITOR_FLAGS)

sim: ## run the Gupshup simulator on 127.0.0.1:8089 (see gupshup-sim --help)
	$(GO) run ./cmd/gupshup-sim --addr 127.0.0.1:8089

# The benchmarks are tests of package bench that run only with WAQUEUE_BENCH
# set; they start their own redis-server, simulator and worker processes.
.PHONY: bench
bench: ## run the benchmarks (about 20 minutes on 2 cores) and write BENCHMARKS.md; a quicker look: BENCH_FLAGS='-rss.messages=200000'
	@mkdir -p $(BIN)/bench
	WAQUEUE_BENCH=1 $(GO) test -count=1 -v -timeout 120m -run '^TestBenchmarks$$' ./bench \
		-args -out $(CURDIR)/BENCHMARKS.md -micro.raw $(CURDIR)/$(BIN)/bench/micro.txt $(BENCH_FLAGS)

clean: ## remove build output
	rm -rf $(BIN)

# The chaos scenarios are tests of package worker behind the build tag
# chaos (worker/chaos_*_test.go): kill -9, a Redis restart, a Gupshup
# outage, a callback storm and poison input, against real worker and
# enqueuer processes on loopback. Each adds its figures to CHAOS_RESULTS;
# RELIABILITY.md is rendered from them even when a scenario fails, and the
# target then fails. Without -race: the promises are about processes, and
# the race detector would change every timing (make test runs with it).
CHAOS_RESULTS ?= $(CURDIR)/$(BIN)/chaos/results.json
.PHONY: chaos
chaos: ## fault scenarios against real processes (about 5 minutes), then RELIABILITY.md from their figures; CHAOS_RUN=Crash runs one
	@mkdir -p $(dir $(CHAOS_RESULTS)) && rm -f $(CHAOS_RESULTS)
	@status=0; \
	CHAOS_RESULTS=$(CHAOS_RESULTS) CHAOS_COMMIT="$$(git describe --always --dirty 2>/dev/null)" \
		$(GO) test -tags chaos -count=1 -v -timeout 15m -run '^TestChaos$(CHAOS_RUN)' ./worker || status=$$?; \
	$(GO) run ./chaos/report -in $(CHAOS_RESULTS) -out RELIABILITY.md || status=1; \
	exit $$status

# Every fuzz target of the module (found by grep; tools/ holds other
# modules), one after the other: go test -fuzz takes one target at a time.
# New corpus entries go to the Go build cache; a failing input is written
# to testdata/fuzz/<target>/ and fails the run. Go 1.26's fuzz coordinator
# sometimes ends a clean run with a bare "context deadline exceeded" at
# the -fuzztime boundary (go.dev/issue/75804, fixed in Go 1.27): such a
# run, with no failing input written, is reported and not failed.
FUZZTIME ?= 20s
fuzz: ## run every fuzz target (FuzzParseCallback, FuzzDecodeSend, FuzzParseCSVRow, FuzzParseJSONLRow, ...) for FUZZTIME each (default 20s)
	@log=$$(mktemp); trap 'rm -f $$log' EXIT; failed=0; \
	for hit in $$(grep -rHo --include='*_test.go' --exclude-dir=tools --exclude-dir=bin '^func Fuzz[A-Za-z0-9_]*' . | sed 's/:func /:/' | sort -u); do \
		file=$${hit%%:*}; fn=$${hit##*:}; pkg=$$(dirname $$file); \
		echo "== $$fn ($$pkg) for $(FUZZTIME)"; \
		before=$$(ls $$pkg/testdata/fuzz/$$fn 2>/dev/null | wc -l); \
		if $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg >$$log 2>&1; then tail -n 3 $$log; continue; fi; \
		cat $$log; after=$$(ls $$pkg/testdata/fuzz/$$fn 2>/dev/null | wc -l); \
		if [ "$$after" = "$$before" ] && ! grep -q 'Failing input written' $$log && grep -qx '    context deadline exceeded' $$log; then \
			echo "== $$fn: no failing input; the fuzzing engine's end-of-run race (go.dev/issue/75804), not counted as a failure"; \
		else failed=1; fi; \
	done; exit $$failed
