# routerd: the targets a newcomer needs. `make test` is what CI runs.
GO      ?= go
BIN     ?= bin
PKGS    ?= ./...
# Packages whose state is shared across goroutines or processes run again
# under the race detector.
RACE    ?= ./internal/rib/... ./internal/fib/... ./internal/kernel/... ./internal/api/... ./internal/bgp/... ./internal/daemon/... ./pkg/...

.PHONY: build test vet lab lab-down proto bench-kernel clean

build:
	$(GO) build -o $(BIN)/ ./cmd/...

vet:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

# Unit tests, then end-to-end tests in network namespaces (they need root;
# without it they skip and say why), then the race detector pass.
test: vet
	$(GO) test -count=1 -timeout 30m $(PKGS)
	$(GO) test -count=1 -race -short -timeout 30m $(RACE)

# Build and start the lab: hosts and routers in network namespaces, routerd
# in each router, routes shown and a ping end to end. Needs root.
lab: build
	$(BIN)/routerlab up

lab-down:
	$(BIN)/routerlab down

proto:
	sh api/generate.sh

bench-kernel:
	$(GO) run ./bench/kernel

clean:
	rm -rf $(BIN)
