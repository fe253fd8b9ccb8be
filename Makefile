# keyrotor — build, test and demo targets. `make help` lists them.
GO                 ?= go
STATICCHECK_VERSION := v0.8.2
OUT                ?= demo-out
BIN                := bin
IMAGE              ?= keyrotor
VERSION            ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS            := -X main.version=$(VERSION)

.PHONY: help build install test lint vet fmt-check staticcheck gen-check tidy-check test-go seslocal demo bench awssim image clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build bin/keyrotor and bin/awssim, versioned from git describe
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/keyrotor ./cmd/keyrotor
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/awssim ./cmd/awssim

install: ## install keyrotor and awssim into $(go env GOPATH)/bin, versioned from git describe
	$(GO) install -ldflags "$(LDFLAGS)" ./cmd/keyrotor ./cmd/awssim

test: lint test-go ## vet, staticcheck, gofmt check, then go test -race ./... (with the SES peer test)

# The end-to-end mail test runs against aws-ses-v2-local, an independent SES
# v2 implementation on Node.js; make test installs it, and the test fails
# rather than skips without it.
test-go: seslocal
	@/usr/bin/python3 -c 'import openpyxl' 2>/dev/null || echo "note: /usr/bin/python3 cannot import openpyxl, so the openpyxl read-back of XLSX reports skips (install it: apt-get install python3-openpyxl)"
	KEYROTOR_REQUIRE_SESLOCAL=1 $(GO) test -race -count=1 ./...

seslocal: ## install aws-ses-v2-local for the SES peer test (needs Node.js and npm)
	@[ -d test/seslocal/node_modules ] || { \
	  command -v npm >/dev/null 2>&1 || { echo "make test needs Node.js and npm for the SES peer test (Debian: apt-get install nodejs npm)"; exit 1; }; \
	  npm ci --prefix test/seslocal --no-audit --no-fund; }

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
