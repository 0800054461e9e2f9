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

test: vet ## unit and integration tests (integration tests start their own redis-server)
	$(GO) test $(TEST_FLAGS) $(PKGS)

sim: ## run the Gupshup simulator on 127.0.0.1:8089 (see gupshup-sim --help)
	$(GO) run ./cmd/gupshup-sim --addr 127.0.0.1:8089

clean: ## remove build output
	rm -rf $(BIN)
