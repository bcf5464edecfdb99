#!/usr/bin/env bash
# libFuzzer on captured frames (FrameDecoder, every link type) and packet literals
# (Fuzz/FuzzPackets.swift).
#
#   bash Fuzz/run-packets.sh [SECONDS]      (default 60)
#
# Builds RuleLang as a module, then VM, the Repl's frame decoder and the entry point on top of it
# (Fuzz/build-on-rulelang.sh) into .build-fuzz/fuzz-packets. Seeds .build-fuzz/corpus-packets with
# the frames of examples/captures/gateway.pcap and the packet literals of docs/packets.md, then
# fuzzes for SECONDS. Crashes go to .build-fuzz/crashes-packets/: fix the cause and keep the input
# as a test in Tests/ReplTests/FrameDecoderTests.swift or Tests/VMTests/PacketLiteralTests.swift.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN="${1:-60}"
BIN=.build-fuzz/fuzz-packets
CORPUS=.build-fuzz/corpus-packets
CRASHES=.build-fuzz/crashes-packets
mkdir -p "$CORPUS" "$CRASHES"
source Fuzz/build-on-rulelang.sh
build_on_rulelang fuzz-packets Fuzz/FuzzPackets.swift Sources/VM Sources/Repl/FrameDecoder.swift

echo "== seeding $CORPUS"
python3 - "$CORPUS" <<'PY'
import re, struct, sys
out = sys.argv[1]
data = open("examples/captures/gateway.pcap", "rb").read()
order = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
link = struct.unpack(order + "I", data[20:24])[0]
kinds = [0, 1, 101, 113, 276, 228, 229]  # LinkType.allCases, in order
n, at = 0, 24
while at + 16 <= len(data):
    incl = struct.unpack(order + "I", data[at + 8:at + 12])[0]
    frame = data[at + 16:at + 16 + incl]
    open(f"{out}/frame-{n}", "wb").write(bytes([kinds.index(link)]) + frame)
    n, at = n + 1, at + 16 + incl
text = open("docs/packets.md").read()
for k, line in enumerate(re.findall(r"^(?:udp|tcp|ws|uds) .*$", text, re.M)):
    open(f"{out}/literal-{k}", "wb").write(b"\x80" + line.encode())
PY
echo "   $(ls "$CORPUS" | wc -l) corpus files"

export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
echo "== fuzzing for ${SECONDS_TO_RUN}s"
exec "$BIN" "$CORPUS" -max_total_time="$SECONDS_TO_RUN" -artifact_prefix="$CRASHES/" \
  -max_len=4096 -timeout=10 -print_final_stats=1
