# l7mp-swift — build, test, run.  `make run` and `make test` work on a fresh machine: both install
# what is missing first (Debian packages through apt-get; run as root, as on our machines and CI).

SWIFT        ?= swift
CONFIG       ?= debug
SWIFT_FLAGS  ?= -c $(CONFIG)
BIN           = $(shell $(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)
APT_PACKAGES  = libyaml-dev libedit-dev libpcap-dev pkg-config socat curl python3
EXAMPLE_RULES = examples/gateway.rules

.PHONY: all deps build test run rules-demo bench bench-proxy fuzz format lint clean help

all: build

help:
	@echo "make run    install, build, and run the seed's gateway example (proxies, echo servers, bridge)"
	@echo "make rules-demo  check, disasm and eval the DESIGN example rules"
	@echo "make test   install, build, and run every test"
	@echo "make bench  benchmarks (release build, ordo-one/benchmark)"
	@echo "make bench-proxy  UDP round trips through no proxy, nginx (both UDP configs), socat and l7mp (release); docs/performance.md"
	@echo "make fuzz   libFuzzer on the front end, the program decoder+verifier+VM and the YAML reader (FUZZ_SECONDS=60 each)"
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

# One test at a time: the end-to-end tests wait on processes and sockets, and on 2 cores their
# blocking waits starved the async tests of Swift's cooperative threads when run in parallel.
test: deps lint
	$(SWIFT) build --build-tests
	$(SWIFT) test --no-parallel

# The seed's gateway → transcoder → worker example on loopback (examples/udp-gateway/run.sh).
run: build
	L7MP=$(BIN)/l7mp bash examples/udp-gateway/run.sh

# The rule tools on the DESIGN example: check, disasm, eval on four packets, five mistakes.
rules-demo: build
	@echo "== l7mp check $(EXAMPLE_RULES)"
	$(BIN)/l7mp check $(EXAMPLE_RULES)
	@echo "== l7mp disasm $(EXAMPLE_RULES)"
	$(BIN)/l7mp disasm $(EXAMPLE_RULES)
	@echo "== l7mp eval $(EXAMPLE_RULES) on four packets"
	$(BIN)/l7mp eval $(EXAMPLE_RULES) \
	  --packet 'udp 10.0.0.7:9001 -> 10.0.0.1:9001 payload "hello"' \
	  --packet 'udp 192.168.1.5:5000 -> 10.0.0.1:5060 payload "INVITE sip:bob@example.com SIP/2.0"' \
	  --packet 'udp 10.0.0.9:4000 -> 10.0.0.1:7000 payload x"80 00 00 01 00 00 00 00 de ad be ef"' \
	  --packet 'udp 172.16.0.1:1234 -> 10.0.0.1:53 payload "?"'
	@echo "== l7mp check examples/mistakes.rules (five deliberate mistakes; exit 1 expected)"
	-$(BIN)/l7mp check examples/mistakes.rules

bench: deps
	L7MP_BENCHMARKS=1 $(SWIFT) package --scratch-path .build-bench --disable-sandbox benchmark $(BENCH_ARGS)

# Issue 7's proxy benchmarks (Benchmarks/proxy/run.sh: installs nginx + stream module if missing,
# builds l7mp in .build-release). Results in /tmp/l7mp-bench-proxy (results.tsv, summary.md).
bench-proxy: deps
	bash Benchmarks/proxy/run.sh

FUZZ_SECONDS ?= 60
fuzz: deps
	bash Fuzz/run.sh $(FUZZ_SECONDS)
	bash Fuzz/run-program.sh $(FUZZ_SECONDS)
	bash Fuzz/run-yaml.sh $(FUZZ_SECONDS)

format:
	$(SWIFT) format --in-place --recursive --parallel Package.swift Sources Tests Benchmarks Fuzz

# Every finding but over-long lines (string literals the formatter cannot break) fails the build.
lint:
	@out=$$($(SWIFT) format lint --strict --recursive Package.swift Sources Tests Benchmarks Fuzz 2>&1 | grep -v '\[LineLength\]'); \
	if [ -n "$$out" ]; then echo "$$out"; echo "swift format lint: run 'make format'"; exit 1; fi

clean:
	rm -rf .build .build-fuzz Benchmarks/.build
