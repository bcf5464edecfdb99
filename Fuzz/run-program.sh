#!/usr/bin/env bash
# libFuzzer on the binary program decoder, the verifier and the VM (Fuzz/FuzzProgram.swift).
#
#   bash Fuzz/run-program.sh [SECONDS]      (default 60)
#
# Builds RuleLang as a module, then VM and the entry point on top of it, both with
# -sanitize=fuzzer,address, into .build-fuzz/fuzz-program (Fuzz/build-on-rulelang.sh).
# Seeds .build-fuzz/corpus-program with the binary form of Tests/RuleLangTests/golden/*.rules, then
# fuzzes for SECONDS. Crashes go to .build-fuzz/crashes-program/: fix the hole and keep each input
# as a regression test in Tests/VMTests/VerifierTests.swift.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN="${1:-60}"
OUT=.build-fuzz
BIN="$OUT/fuzz-program"
CORPUS="$OUT/corpus-program"
CRASHES="$OUT/crashes-program"
mkdir -p "$CORPUS" "$CRASHES"
source Fuzz/build-on-rulelang.sh
build_on_rulelang fuzz-program Fuzz/FuzzProgram.swift Sources/VM

echo "== seeding $CORPUS from the golden programs"
L7MP_FUZZ_SEED_FROM=Tests/RuleLangTests/golden L7MP_FUZZ_SEED_TO="$CORPUS" \
  "$BIN" -runs=0 >/dev/null 2>&1 || true
echo "   $(ls "$CORPUS" | wc -l) corpus files"

echo "== fuzzing for ${SECONDS_TO_RUN}s"
exec "$BIN" "$CORPUS" -max_total_time="$SECONDS_TO_RUN" -artifact_prefix="$CRASHES/" \
  -max_len=16384 -print_final_stats=1
