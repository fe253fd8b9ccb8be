# keyrotor — build, test and demo targets. `make help` lists them.
GO                 ?= go
STATICCHECK_VERSION := v0.8.2
OUT                ?= demo-out
BIN                := bin
IMAGE              ?= keyrotor
VERSION            ?= $(shell git describe --tags --always 2>/dev/null || echo dev)

.PHONY: help build test lint vet fmt-check staticcheck gen-check tidy-check test-go demo bench awssim image clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build bin/keyrotor and bin/awssim
	$(GO) build -o $(BIN)/keyrotor ./cmd/keyrotor
	$(GO) build -o $(BIN)/awssim ./cmd/awssim

test: lint test-go ## vet, staticcheck, gofmt check, then go test -race ./...

test-go:
	@[ -d test/seslocal/node_modules ] || echo "note: test/seslocal/node_modules is missing, so the aws-ses-v2-local mail test skips (install it: npm ci --prefix test/seslocal)"
	@/usr/bin/python3 -c 'import openpyxl' 2>/dev/null || echo "note: /usr/bin/python3 cannot import openpyxl, so the openpyxl read-back of XLSX reports skips (install it: apt-get install python3-openpyxl)"
	$(GO) test -race -count=1 ./...

lint: fmt-check vet staticcheck gen-check tidy-check ## static checks only

tidy-check: ## fail when go.mod/go.sum are not what go mod tidy makes them
	$(GO) mod tidy -diff

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

gen-check: ## fail when deploy/cloudformation differs from what deploy/iam and the skeletons generate
	$(GO) run ./deploy/gen -check

demo: ## run the full demo on the built-in simulated organization
	$(GO) run ./cmd/keyrotor demo --out $(OUT)

bench: ## benchmarks: simulator cost, audit at org scale, report writers
	$(GO) test -run '^$$' -bench . -benchmem ./...

awssim: ## serve the demo organization on 127.0.0.1:4566
	$(GO) run ./cmd/awssim --demo

image: ## build the container image $(IMAGE):$(VERSION) with docker (not built in CI here)
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE):$(VERSION) .

clean:
	rm -rf $(BIN) $(OUT) reports
