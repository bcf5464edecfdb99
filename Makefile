# l7mp-swift — build, test, run.  `make run` and `make test` work on a fresh machine: both install
# what is missing first (Debian packages through apt-get; run as root, as on our machines and CI).

SWIFT        ?= swift
CONFIG       ?= debug
SWIFT_FLAGS  ?= -c $(CONFIG)
BIN           = $(shell $(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)
APT_PACKAGES  = libyaml-dev libedit-dev libpcap-dev pkg-config socat
EXAMPLE_RULES = examples/gateway.rules

.PHONY: all deps build test run bench fuzz format lint clean help

all: build

help:
	@echo "make run    install, build, and run l7mp on the built-in example"
	@echo "make test   install, build, and run every test"
	@echo "make bench  benchmarks (release build, ordo-one/benchmark)"
	@echo "make fuzz   libFuzzer on the rule-language front end (FUZZ_SECONDS=60)"
	@echo "make format swift format the sources in place"
	@echo "make lint   swift format lint (what CI checks)"

# Installs only what is missing, so it is quick when everything is there.
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

test: deps lint
	$(SWIFT) build --build-tests
	$(SWIFT) test

run: build
	@echo "== l7mp check $(EXAMPLE_RULES)"
	$(BIN)/l7mp check $(EXAMPLE_RULES)
	@echo "== l7mp check examples/mistakes.rules (five deliberate mistakes; exit 1 expected)"
	-$(BIN)/l7mp check examples/mistakes.rules

bench: deps
	L7MP_BENCHMARKS=1 $(SWIFT) package --scratch-path .build-bench --disable-sandbox benchmark $(BENCH_ARGS)

FUZZ_SECONDS ?= 60
fuzz: deps
	bash Fuzz/run.sh $(FUZZ_SECONDS)

format:
	$(SWIFT) format --in-place --recursive --parallel Package.swift Sources Tests Benchmarks Fuzz

lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests Benchmarks Fuzz

clean:
	rm -rf .build .build-fuzz Benchmarks/.build
