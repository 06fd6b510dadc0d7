# stickyacd — make targets. `make test` is what CI runs (.ci/run).
GO          ?= go
BIN         := bin/stickyacd
CONFIG      ?= stickyacd.example.yaml
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X main.version=$(VERSION)

# Tests that drive real eslgo over TCP run without -race: eslgo v1.5.0 has an
# internal data race (see STYLE.md). Everything else runs with -race.
NORACE_PKGS := ./esl/internal/eslgotest/... ./cmd/stickyacd/internal/app/... \
               ./cmd/stickyacd/internal/bench ./cmd/stickyacd/internal/demo/...
RACE_PKGS    = $(shell $(GO) list ./... | grep -v -e /esl/internal/eslgotest -e /cmd/stickyacd/internal/app \
                 -e '/cmd/stickyacd/internal/bench$$' -e /cmd/stickyacd/internal/demo)

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

# bench and demo use the servers `make test` uses (override PG_DSN and
# REDIS_ADDR); their data live in schemas and Redis key prefixes of their own
# (stickyacd_bench*, stickyacd_demo), never in a deployment's.
PG_DSN      ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
REDIS_ADDR  ?= 127.0.0.1:6379
SANDBOX_ENV  = STICKYACD_POSTGRES_DSN='$(PG_DSN)' STICKYACD_REDIS_ADDRS='$(REDIS_ADDR)'
# The standard size: 50 000 agents in teams of 10 and 1 000 000 customers.
# On it: 10 000 calls at issue 7's 500/s, a burst of 5 000 at 1 000/s and
# 1 000 calls held for the heap (BENCH_TARGET); 6 000 calls at 100/s, a rate
# this 2-core box sustains (BENCH_STEADY); and the same 100/s on a directory
# of 50 agents (BENCH_SMALL), for the 50-vs-50 000 comparison. stickyacd's
# own log goes to bench/stickyacd.log.tmp (ignored by git, like every .tmp there).
BENCH_DATA   ?= --agents 50000 --team-size 10 --customers 1000000
BENCH_TARGET ?= $(BENCH_DATA) --calls 10000 --rate 500 --burst-calls 5000 --burst-rate 1000 --hold 1000
BENCH_STEADY ?= $(BENCH_DATA) --calls 6000 --rate 100 --hold 0
BENCH_SMALL  ?= --schema stickyacd_bench_small --redis-prefix stickyacd_bench_small \
                --agents 50 --team-size 10 --customers 1000 --calls 6000 --rate 100 --hold 0
BENCH_RUN     = $(SANDBOX_ENV) $(BIN) --config $(CONFIG) bench --json --log-level error --log-file bench/stickyacd.log.tmp

bench: build
	mkdir -p bench
	$(BENCH_RUN) $(BENCH_TARGET) > bench/target.json.tmp
	$(BENCH_RUN) $(BENCH_STEADY) > bench/steady.json.tmp
	$(BENCH_RUN) $(BENCH_SMALL) > bench/small.json.tmp
	printf '{\n"target_rates": %s,\n"steady_100": %s,\n"agents_50_steady_100": %s\n}\n' \
	  "$$(cat bench/target.json.tmp)" "$$(cat bench/steady.json.tmp)" "$$(cat bench/small.json.tmp)" > bench/results.json.tmp
	mv bench/results.json.tmp bench/results.json
	rm -f bench/target.json.tmp bench/steady.json.tmp bench/small.json.tmp
	cat bench/results.json

demo: build
	$(SANDBOX_ENV) $(BIN) --config $(CONFIG) demo

clean:
	rm -rf bin
