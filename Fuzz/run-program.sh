#!/usr/bin/env bash
# libFuzzer on the binary program decoder, the verifier and the VM (Fuzz/FuzzProgram.swift).
#
#   bash Fuzz/run-program.sh [SECONDS]      (default 60)
#
# Builds RuleLang as a module, then VM and the entry point on top of it, both with
# -sanitize=fuzzer,address, into .build-fuzz/fuzz-program (from a snapshot of the sources, so that
# edits made meanwhile do not break the build; RuleLang is rebuilt only when its sources change).
# Seeds .build-fuzz/corpus-program with the binary form of Tests/RuleLangTests/golden/*.rules, then
# fuzzes for SECONDS. Crashes go to .build-fuzz/crashes-program/: fix the hole and keep each input
# as a regression test in Tests/VMTests/VerifierTests.swift.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN="${1:-60}"
OUT=.build-fuzz
BIN="$OUT/fuzz-program"
WORK="$OUT/program-build"
CORPUS="$OUT/corpus-program"
CRASHES="$OUT/crashes-program"
SWIFTC="${SWIFTC:-swiftc}"
FLAGS=(-sanitize=fuzzer,address -parse-as-library -Onone -g -swift-version 6 -use-ld=lld)
mkdir -p "$WORK" "$CORPUS" "$CRASHES"

echo "== building $BIN"
rm -rf "$WORK/src.new"
mkdir -p "$WORK/src.new"
cp -R Sources/RuleLang Sources/VM "$WORK/src.new/"
cp Fuzz/FuzzProgram.swift "$WORK/src.new/"
if ! diff -r -q "$WORK/src.new/RuleLang" "$WORK/src/RuleLang" >/dev/null 2>&1 \
  || [ ! -f "$WORK/libRuleLang.a" ]; then
  echo "   RuleLang"
  mapfile -t RULELANG < <(find "$WORK/src.new/RuleLang" -name '*.swift' | sort)
  "$SWIFTC" "${FLAGS[@]}" -module-name RuleLang -emit-module \
    -emit-module-path "$WORK/RuleLang.swiftmodule" -emit-library -static \
    -o "$WORK/libRuleLang.a" "${RULELANG[@]}"
fi
rm -rf "$WORK/src"
mv "$WORK/src.new" "$WORK/src"
echo "   VM and the fuzz target"
mapfile -t VM < <(find "$WORK/src/VM" -name '*.swift' | sort)
"$SWIFTC" "${FLAGS[@]}" -module-name FuzzProgram -I "$WORK" -L "$WORK" -lRuleLang \
  "${VM[@]}" "$WORK/src/FuzzProgram.swift" -o "$BIN"

echo "== seeding $CORPUS from the golden programs"
L7MP_FUZZ_SEED_FROM=Tests/RuleLangTests/golden L7MP_FUZZ_SEED_TO="$CORPUS" \
  "$BIN" -runs=0 >/dev/null 2>&1 || true
echo "   $(ls "$CORPUS" | wc -l) corpus files"

echo "== fuzzing for ${SECONDS_TO_RUN}s"
exec "$BIN" "$CORPUS" -max_total_time="$SECONDS_TO_RUN" -artifact_prefix="$CRASHES/" \
  -max_len=16384 -print_final_stats=1
