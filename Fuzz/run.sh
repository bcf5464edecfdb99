#!/usr/bin/env bash
# libFuzzer on the rule-language front end: lexer, parser, checker and diagnostic rendering
# (Fuzz/FuzzRuleLang.swift). `make fuzz` runs it.
#
#   bash Fuzz/run.sh [SECONDS]      (default 60; 0 only builds and runs the corpus once)
#
# Compiles every Swift file of Sources/RuleLang together with the fuzz entry point, with
# -sanitize=fuzzer,address, into .build-fuzz/fuzz-rulelang (from a snapshot of the sources, so that
# edits made meanwhile do not break the build; nothing is rebuilt when nothing changed). Seeds
# .build-fuzz/corpus from examples/*.rules and Tests/RuleLangTests/cases/**/*.rules, then fuzzes
# for SECONDS. Exits non-zero if libFuzzer found a crash, a sanitizer report or a timeout; the
# input is in .build-fuzz/crashes-rulelang/. Fix the cause, and keep the minimized input
# (`.build-fuzz/fuzz-rulelang -minimize_crash=1 -runs=10000 FILE`) as a case in
# Tests/RuleLangTests/cases/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN="${1:-60}"
OUT=.build-fuzz
BIN="$OUT/fuzz-rulelang"
WORK="$OUT/rulelang-build"
CORPUS="$OUT/corpus"
CRASHES="$OUT/crashes-rulelang"
SWIFTC="${SWIFTC:-swiftc}"
# -O: a slower build than -Onone, but several times the executions per second.
FLAGS=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 -module-name FuzzRuleLang)
mkdir -p "$WORK" "$CORPUS" "$CRASHES"

echo "== building $BIN"
rm -rf "$WORK/src.new"
mkdir -p "$WORK/src.new"
cp -R Sources/RuleLang "$WORK/src.new/"
cp Fuzz/FuzzRuleLang.swift "$WORK/src.new/"
if ! diff -r -q "$WORK/src.new" "$WORK/src" >/dev/null 2>&1 || [ ! -x "$BIN" ]; then
  mapfile -t FILES < <(find "$WORK/src.new" -name '*.swift' | sort)
  "$SWIFTC" "${FLAGS[@]}" -debug-prefix-map "$WORK/src.new=$WORK/src" "${FILES[@]}" -o "$BIN.new"
  mv "$BIN.new" "$BIN"
  # Only a snapshot that built counts as built.
  rm -rf "$WORK/src"
  mv "$WORK/src.new" "$WORK/src"
else
  rm -rf "$WORK/src.new"
  echo "   up to date"
fi

echo "== seeding $CORPUS"
seeded=0
while IFS= read -r -d '' f; do
  name="seed-$(echo "${f#./}" | tr '/' '_')"
  cp "$f" "$CORPUS/$name"
  seeded=$((seeded + 1))
done < <(find examples Tests/RuleLangTests/cases -name '*.rules' -print0 2>/dev/null)
echo "   $seeded seed files, $(ls "$CORPUS" | wc -l) corpus files"

# No leak checks (also not at exit): Swift's lazily initialized globals look like leaks to LSan.
export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
# A corpus grown by many runs takes much of a short run just to load: keep only what adds coverage.
if [ "$(ls "$CORPUS" | wc -l)" -gt 3000 ]; then
  echo "== merging the corpus"
  rm -rf "$CORPUS.merged"
  mkdir -p "$CORPUS.merged"
  if "$BIN" -merge=1 -max_len=4096 -timeout=10 "$CORPUS.merged" "$CORPUS" >/dev/null 2>&1; then
    rm -rf "$CORPUS"
    mv "$CORPUS.merged" "$CORPUS"
    echo "   $(ls "$CORPUS" | wc -l) corpus files"
  else
    echo "   the merge failed; keeping the corpus as it is"
    rm -rf "$CORPUS.merged"
  fi
fi

# 0 seconds (which libFuzzer would take as "forever"): only run the corpus once.
if [ "$SECONDS_TO_RUN" = 0 ]; then
  echo "== running the corpus once"
  LIMIT=(-runs=0)
else
  echo "== fuzzing for ${SECONDS_TO_RUN}s"
  LIMIT=(-max_total_time="$SECONDS_TO_RUN")
fi
status=0
"$BIN" "$CORPUS" "${LIMIT[@]}" -max_len=4096 -timeout=10 \
  -dict=Fuzz/rulelang.dict -artifact_prefix="$CRASHES/" -print_final_stats=1 \
  -detect_leaks=0 || status=$?
if [ "$status" -ne 0 ]; then
  echo "== libFuzzer found a problem (exit $status); the input is in $CRASHES/:"
  ls -t "$CRASHES" | head -5
fi
exit "$status"
