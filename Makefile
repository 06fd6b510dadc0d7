# stickyacd — make targets. `make test` is what CI runs (.ci/run).
GO          ?= go
BIN         := bin/stickyacd
CONFIG      ?= stickyacd.example.yaml
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X main.version=$(VERSION)

# Tests that drive real eslgo over TCP run without -race: eslgo v1.5.0 has an
# internal data race (see STYLE.md). Everything else runs with -race.
NORACE_PKGS := ./esl/internal/eslgotest/... ./cmd/stickyacd/internal/app/...
RACE_PKGS    = $(shell $(GO) list ./... | grep -v -e /esl/internal/eslgotest -e /cmd/stickyacd/internal/app)

.PHONY: build test unit contract run migrate fuzz lint compose-up bench demo clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/stickyacd

test: build
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 6m $(RACE_PKGS)
	$(GO) test -count=1 -timeout 6m $(NORACE_PKGS)
	@$(MAKE) --no-print-directory contract

# The external-contract check, against real PostgreSQL and Redis. The copy in
# test/contract must match the shared original when that is present.
contract: build
	@if [ -d ../shared/contract ]; then diff -r ../shared/contract test/contract >/dev/null || { echo "test/contract differs from ../shared/contract: copy it again"; exit 1; }; fi
	python3 test/contract/check.py --bin $(BIN)

run: build
	$(BIN) --config $(CONFIG) serve

migrate: build
	$(BIN) --config $(CONFIG) migrate

# Each fuzz target briefly, on its seed corpus and a few seconds of new input.
FUZZTIME ?= 5s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

compose-up:
	docker compose up --build

bench: build
	mkdir -p bench
	$(BIN) --config $(CONFIG) bench --json > bench/results.json.tmp && mv bench/results.json.tmp bench/results.json
	cat bench/results.json

demo: build
	$(BIN) --config $(CONFIG) demo

clean:
	rm -rf bin
