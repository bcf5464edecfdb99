#!/usr/bin/env bash
# Instructions per evaluation for the VM benchmark cases (issue 3), the figure that stays stable on
# a busy machine. Builds the VMCallgrind driver (release, Benchmarks/Tools/VMCallgrind), runs each
# case under callgrind with N and 2N evaluations, collecting only inside the measured loop
# (--toggle-collect), and prints (Ir(2N) - Ir(N)) / N, and the same difference for the calls to
# swift_retain + swift_release (reference counting) and to malloc made in the loop.
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

# One run: "Ir arc mallocs", from the callgrind output's summary and its call records (a function
# is named once as "(id) name", later by "(id)" alone).
run() {
  local case=$1 n=$2 file="$OUT/$1.$2.out"
  valgrind --tool=callgrind --toggle-collect='$s11VMCallgrind8measuredyS2iF' \
    --callgrind-out-file="$file" "$BIN" "$case" "$n" >/dev/null 2>"$OUT/log"
  awk '
    /^summary:/ { ir = $2 }
    /^c?fn=\([0-9]+\)/ {
      match($0, /\([0-9]+\)/); id = substr($0, RSTART, RLENGTH)
      rest = substr($0, RSTART + RLENGTH + 1); if (rest != "") name[id] = rest
      if ($0 ~ /^cfn=/) callee = id
    }
    /^calls=/ {
      split($0, f, /[= ]/); n = name[callee]
      if (n == "swift_retain" || n == "swift_release") arc += f[2]
      if (n == "malloc") mallocs += f[2]
    }
    END { printf "%d %d %d\n", ir, arc, mallocs }
  ' "$file"
}

printf '%-24s %12s %12s %9s %9s %9s\n' "case" "Ir(N)" "Ir(2N)" "Ir/eval" "ARC/eval" "malloc/eval"
for case in $("$BIN" --list | grep -E -- "$FILTER"); do
  read -r a arcA mallocA < <(run "$case" "$N")
  read -r b arcB mallocB < <(run "$case" $((2 * N)))
  if [ "$a" = 0 ]; then
    echo "$case: no instructions collected (see the log below)" >&2
    cat "$OUT/log" >&2
    exit 1
  fi
  printf '%-24s %12d %12d %9.1f %9.2f %9.2f\n' "$case" "$a" "$b" \
    "$(echo "($b - $a) / $N" | bc -l)" "$(echo "($arcB - $arcA) / $N" | bc -l)" \
    "$(echo "($mallocB - $mallocA) / $N" | bc -l)"
done
