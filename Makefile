# keyrotor — build, test and demo targets. `make help` lists them.
GO                 ?= go
STATICCHECK_VERSION := v0.8.2
OUT                ?= demo-out
BIN                := bin

.PHONY: help build test lint vet fmt-check staticcheck test-go demo bench awssim clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build bin/keyrotor and bin/awssim
	$(GO) build -o $(BIN)/keyrotor ./cmd/keyrotor
	$(GO) build -o $(BIN)/awssim ./cmd/awssim

test: lint test-go ## vet, staticcheck, gofmt check, then go test -race ./...

test-go:
	$(GO) test -race -count=1 ./...

lint: fmt-check vet staticcheck ## static checks only

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

demo: ## run the full demo on the built-in simulated organization
	$(GO) run ./cmd/keyrotor demo --out $(OUT)

bench: ## benchmarks: simulator cost, audit at org scale, report writers
	$(GO) test -run '^$$' -bench . -benchmem ./...

awssim: ## serve the demo organization on 127.0.0.1:4566
	$(GO) run ./cmd/awssim --demo

clean:
	rm -rf $(BIN) $(OUT) reports
