# jitscore build targets. CI runs .ci/run, which runs `make test`.
GO        ?= go
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.Version=$(VERSION)
BIN       := bin/jitscore
PKGS      := ./...
FUZZTIME  ?= 10s
# Build tags of every go command below (exported through GOFLAGS, so tests
# that build the binary get them too): duckdb_arrow turns on the columnar
# CloudTrail load in ingest/store_arrow.go; libdeflate (taken when its
# header is installed: Debian package libdeflate-dev, which .ci/packages
# installs) inflates CloudTrail's gzip through the C library, about 2.5x
# faster than the pure-Go reader (ingest/internal/gz). TAGS= builds the
# portable path.
LIBDEFLATE := $(shell printf '\043include <libdeflate.h>\n' | $${CC:-cc} -E -x c - >/dev/null 2>&1 && echo libdeflate)
TAGS      ?= $(strip duckdb_arrow $(LIBDEFLATE))
comma     := ,
space     := $(subst ,, )
export GOFLAGS := $(strip $(GOFLAGS) $(if $(TAGS),-tags=$(subst $(space),$(comma),$(strip $(TAGS)))))

.PHONY: all build test test-race bench eval demo lint fuzz-short cover clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/jitscore

# The README's test command: vet and every test, the end-to-end run of the
# built binary included (go test -short leaves out the slow suites).
# test also runs ingest without the tags: the portable paths (row appender,
# pure-Go gzip) that a plain go build takes stay tested too.
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 15m $(PKGS)
	$(GO) test -count=1 -tags= ./ingest/...

test-race:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# Every scripts/bench_*.sh prints its figure beside its baseline.
bench: build
	@set -e; for s in scripts/bench_*.sh; do echo "== $$s"; bash $$s; done

# Model and renewal quality on simulated organisations.
eval: build
	@set -e; for s in scripts/eval_*.sh; do echo "== $$s"; bash $$s; done

demo: build
	./$(BIN) demo

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKGS)

# A short run of every fuzz target.
fuzz-short:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

cover:
	$(GO) test -count=1 -coverprofile=cover.out $(PKGS)
	$(GO) tool cover -func=cover.out | tail -1

clean:
	rm -rf bin cover.out
