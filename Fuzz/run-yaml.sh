#!/usr/bin/env bash
# libFuzzer on the YAML reader and writer (Fuzz/FuzzYAML.swift).
#
#   bash Fuzz/run-yaml.sh [SECONDS]      (default 60)
#
# Compiles the sources of Sources/Config with the fuzz entry point (-sanitize=fuzzer,address,
# linked with libyaml) into .build-fuzz/fuzz-yaml, seeds .build-fuzz/corpus-yaml with the YAML of
# examples/ and deploy/, and fuzzes for SECONDS. Crashes go to .build-fuzz/crashes-yaml/: fix the
# cause and keep the input as a test in Tests/ConfigTests/YAMLReaderTests.swift.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN="${1:-60}"
OUT=.build-fuzz
BIN="$OUT/fuzz-yaml"
CORPUS="$OUT/corpus-yaml"
CRASHES="$OUT/crashes-yaml"
SWIFTC="${SWIFTC:-swiftc}"
mkdir -p "$OUT" "$CORPUS" "$CRASHES"

echo "== building $BIN"
mapfile -t FILES < <(find Sources/Config -name '*.swift' | sort)
"$SWIFTC" -sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 -use-ld=lld \
  -module-name FuzzYAML \
  -I Sources/CLibYAML -lyaml "${FILES[@]}" Fuzz/FuzzYAML.swift -o "$BIN"

echo "== seeding $CORPUS"
find examples deploy Tests/ConfigTests -name '*.yaml' -exec cp {} "$CORPUS/" \; 2>/dev/null || true
echo "   $(ls "$CORPUS" | wc -l) corpus files"

export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
echo "== fuzzing for ${SECONDS_TO_RUN}s"
exec "$BIN" "$CORPUS" -max_total_time="$SECONDS_TO_RUN" -artifact_prefix="$CRASHES/" \
  -max_len=8192 -timeout=10 -print_final_stats=1
