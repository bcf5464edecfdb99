#!/usr/bin/env bash
# The seed's gateway → transcoder → worker example on loopback (`make run`): two l7mp proxies, the
# UDS echo (the "transcoder"), the UDP echo (the "worker"), and the bridge configuring the proxies
# from this folder's manifests. Ctrl-C stops everything.
set -euo pipefail

BIN=${L7MP:-.build/debug/l7mp}
HERE=$(cd "$(dirname "$0")" && pwd)
RUN=/tmp/l7mp-udp-gateway
mkdir -p "$RUN"
rm -f "$RUN/uds-echo.sock"

pids=()
stop() {
  trap - EXIT INT TERM
  printf '\nstopping...\n'
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped; logs in $RUN/*.log"
}
trap stop EXIT INT TERM

start() { # NAME ARGS…: starts `l7mp ARGS…` with its output in $RUN/NAME.log
  local name=$1
  shift
  L7MP_LOG_LEVEL=${L7MP_LOG_LEVEL:-info} "$BIN" "$@" >"$RUN/$name.log" 2>&1 &
  pids+=($!)
}

wait_for() { # FILE TEXT: up to 30 s
  for _ in $(seq 300); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1:" >&2
  cat "$1" >&2
  exit 1
}

for a in 127.0.0.1:1234 127.0.0.2:1234 127.0.0.1:9001; do
  if (exec 3<>"/dev/tcp/${a%:*}/${a#*:}") 2>/dev/null; then
    echo "$a is in use (another 'make run'?): stop it first" >&2
    exit 1
  fi
done

start worker echo --udp 127.0.0.3:9999
start uds-echo echo --uds "$RUN/uds-echo.sock"
start gateway run --api-bind 127.0.0.1
L7MP_LOG_LEVEL=debug start transcoder run --api-bind 127.0.0.2
wait_for "$RUN/gateway.log" "l7mp: ready"
wait_for "$RUN/transcoder.log" "l7mp: ready"
start bridge bridge --manifests "$HERE"
for _ in $(seq 300); do
  curl -s http://127.0.0.1:1234/api/v1/listeners | grep -q my-udp-endpoint && break
  sleep 0.1
done

cat <<TEXT

  client 127.0.0.4:9001 ──► gateway (l7mp, UDP 127.0.0.1:9001, API 127.0.0.1:1234)
                              │ set HTTP.headers.id = 1; route to worker via transcoder
                              ├──► transcoder sidecar (l7mp, WebSocket 127.0.0.2:9999, API 127.0.0.2:1234)
                              │      └──► UDS echo $RUN/uds-echo.sock
                              └──► worker (UDP echo 127.0.0.3:9999)
  bridge: l7mp bridge --manifests $HERE   (edit the manifests: the proxies follow)
  logs:   $RUN/{gateway,transcoder,worker,uds-echo,bridge}.log

Try it (from another terminal):
  echo hello | socat -t1 - UDP4:127.0.0.1:9001,bind=127.0.0.4:9001      # admitted: "hello" comes back
  echo hello | socat -t1 - UDP4:127.0.0.1:9001,bind=127.0.0.4:9002      # not admitted: dropped
  curl -s 127.0.0.1:1234/api/v1/sessions                                # live sessions

Ctrl-C stops everything.
TEXT

metric() { # TEXT NAME: sum of the samples of NAME
  awk -v n="$2" '$1 ~ "^"n"({|$)" {s += $NF} END {printf "%d", s}' <<<"$1"
}
while sleep 1; do
  m=$(curl -s --max-time 1 http://127.0.0.1:1234/metrics || true)
  s=$(curl -s --max-time 1 http://127.0.0.1:1234/api/v1/sessions | grep -o '"name"' | wc -l || true)
  printf '\rgateway: %s sessions, %s packets in, %s out, %s dropped   ' "$s" \
    "$(metric "$m" l7mp_listener_packets_total)" "$(metric "$m" l7mp_listener_packets_out_total)" \
    "$(metric "$m" l7mp_listener_drops_total)"
done
