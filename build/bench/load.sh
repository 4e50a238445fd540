#!/usr/bin/env bash
# Load test of the all-in-one server (`make run`'s): N concurrent users each upload a photo, follow it on its
# websocket, and download the result. Prints throughput, p50/p95/max latency and the server's peak RSS (VmHWM) for
# each concurrency level. Everything stays on 127.0.0.1 and stops by itself.
#
# Usage: build/bench/load.sh [uploads per level, default 12] [concurrency levels, default "1 4 12"]
#   PHOTO=path      photo to upload (default shared/testdata/coffee.jpg, 600×400)
#   server settings such as CONCURRENCY, BACKLESS_SESSIONS or BACKLESS_THREADS are passed through.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-12}
levels=${2:-"1 4 12"}
photo=${PHOTO:-shared/testdata/coffee.jpg}

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/server" ./server
go build -o "$work/loadgen" ./build/bench/loadgen

# The all-in-one server as `make run` starts it, on a free port, with its data in a throw-away folder. Services
# configured in the caller's environment are ignored: this measures the embedded set-up.
env -u DATABASE_URL -u REDIS_URL -u WORKER_URL -u STORAGE \
  HOST=127.0.0.1 PORT=0 DATA_DIR="$work/data" DELETE_GRACE=2s LOG_LEVEL=info \
  "$work/server" 2>"$work/server.log" &
server_pid=$!
addr=
for _ in $(seq 1 600); do
  addr=$(grep -o '"addr":"[^"]*","in_process_queue' "$work/server.log" 2>/dev/null | head -n 1 | cut -d'"' -f4 || true)
  [ -n "$addr" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.5
done
[ -n "$addr" ] || { echo "the server did not start" >&2; exit 1; }
rss_idle=$(awk '/^VmRSS:/ {printf "%.0f", $2/1024}' "/proc/$server_pid/status")
echo "server pid $server_pid on $addr; RSS after start (model loaded): ${rss_idle} MiB; photo $photo; $(nproc) CPUs"

header=-header
for c in $levels; do
  "$work/loadgen" -url "http://$addr" -n "$n" -c "$c" -image "$photo" -pid "$server_pid" $header
  header=
done | awk -F'|' '
  # The first level is the baseline of this run (the machine is noisy): each row also gets its throughput and
  # median latency as ratios to that level'"'"'s.
  /^\| *uploads/ { print $0 " jobs/s ratio | p50 ratio |"; next }
  /^\|---/ { print $0 "---:|---:|"; next }
  /^\|/ { if (base == "") { base = $7; p50 = $8 }
          printf "%s %.2f | %.2f |\n", $0, $7 / base, $8 / p50; next }
  { print }'
echo "(latency: upload start to last byte of the result; peak RSS is the server's VmHWM so far; ratios are to the"
echo " first concurrency level of this run)"
