#!/usr/bin/env bash
# Instructions per evaluation for the VM benchmark cases (issue 3), the figure that stays stable on
# a busy machine. Builds the VMCallgrind driver (release, Benchmarks/Tools/VMCallgrind), runs each
# case under callgrind with N and 2N evaluations, collecting only inside the measured loop
# (--toggle-collect), and prints (Ir(2N) - Ir(N)) / N.
#
#   Benchmarks/callgrind.sh [CASE-REGEX]     e.g. Benchmarks/callgrind.sh 'seed|ten'
#   N=20000 Benchmarks/callgrind.sh          (default N=10000)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-10000}
FILTER=${1:-.}
SCRATCH=${SCRATCH:-.build-bench}
export L7MP_BENCHMARKS=1
# Swift's hashing is seeded per process; the two runs must do the same setup work.
export SWIFT_DETERMINISTIC_HASHING=1

command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
swift build -c release --scratch-path "$SCRATCH" --product VMCallgrind >&2
BIN="$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)/VMCallgrind"

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# Ir of one run: the "summary:" line of the callgrind output.
ir() {
  local case=$1 n=$2 file="$OUT/$1.$2.out"
  valgrind --tool=callgrind --toggle-collect='$s11VMCallgrind8measuredyS2iF' \
    --callgrind-out-file="$file" "$BIN" "$case" "$n" >/dev/null 2>"$OUT/log"
  awk '/^summary:/ { print $2 }' "$file"
}

printf '%-28s %12s %12s %10s\n' "case" "Ir(N)" "Ir(2N)" "Ir/eval"
for case in $("$BIN" --list | grep -E -- "$FILTER"); do
  a=$(ir "$case" "$N")
  b=$(ir "$case" $((2 * N)))
  if [ -z "$a" ] || [ "$a" = 0 ]; then
    echo "$case: no instructions collected (see $OUT/log)" >&2
    cat "$OUT/log" >&2
    exit 1
  fi
  printf '%-28s %12d %12d %10.1f\n' "$case" "$a" "$b" "$(echo "($b - $a) / $N" | bc -l)"
done
