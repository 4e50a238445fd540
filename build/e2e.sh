#!/usr/bin/env bash
# End-to-end test of the web app: builds the frontend and the all-in-one server (server + in-process worker, real
# model), starts it on a free 127.0.0.1 port with its data in a temporary folder, and runs frontend/e2e/upload.e2e.mjs
# in Debian's Chromium against it. Exits non-zero when any step fails; the test's last line is "N passed, M failed".
#
# Needs: Go, Node with frontend/node_modules (npm ci is run when it is missing), the model (build/setup-model.sh) and
# the chromium package. Env: PHOTO (default shared/testdata/coffee.jpg), CHROMIUM (default /usr/bin/chromium),
# SCREENSHOTS (default frontend/e2e/screenshots).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

step() { printf '\n==> %s\n' "$*" >&2; }

photo=$(realpath "${PHOTO:-shared/testdata/coffee.jpg}")

step "frontend build"
if [ ! -d frontend/node_modules ]; then
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd frontend && npm run build --silent)

tmp=$(mktemp -d)
pid=""
stop_server() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    # The server shuts down within its SHUTDOWN_TIMEOUT (10 s); do not wait for ever.
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  pid=""
}
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  stop_server
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "server build (the frontend is embedded)"
go build -o "$tmp/server" ./server

step "server start"
# PORT=0: the kernel picks a free port, which the "listening" log line names (JSON logs, to read it reliably).
# DELETE_GRACE=2s keeps the reload checks honest: a finished job whose page is gone is deleted after 2 s.
# The log file is made here: the redirect below happens in the background child, which may not have run yet when the
# loop first reads it.
: >"$tmp/server.log"
PORT=0 HOST=127.0.0.1 DATA_DIR="$tmp/data" DELETE_GRACE=2s LOG_FORMAT=json \
  "$tmp/server" >"$tmp/server.log" 2>&1 &
pid=$!

server_failed() {
  echo "e2e: $*; server log:" >&2
  tail -n 40 "$tmp/server.log" >&2 || true
  exit 1
}

# Loading the model takes seconds, more on a busy machine.
addr=""
deadline=$((SECONDS + 180))
while [ -z "$addr" ]; do
  kill -0 "$pid" 2>/dev/null || server_failed "the server exited"
  [ $SECONDS -lt $deadline ] || server_failed "the server did not start listening within 180 s"
  addr=$(sed -n 's/.*"addr":"\(127\.0\.0\.1:[0-9]*\)".*"message":"listening".*/\1/p' "$tmp/server.log" | head -n 1)
  [ -n "$addr" ] || sleep 0.2
done
url="http://$addr"
until curl -fsS --max-time 5 "$url/readyz" >/dev/null 2>&1; do
  kill -0 "$pid" 2>/dev/null || server_failed "the server exited"
  [ $SECONDS -lt $deadline ] || server_failed "$url/readyz did not answer 200 within 180 s"
  sleep 0.2
done
echo "server ready at $url" >&2

step "browser test: $(basename "$photo")"
status=0
BACKLESS_URL="$url" PHOTO="$photo" timeout --kill-after=30s 20m node "$root/frontend/e2e/upload.e2e.mjs" || status=$?

stop_server
if [ "$status" -ne 0 ]; then
  echo "e2e: the browser test failed (exit $status); server log:" >&2
  tail -n 60 "$tmp/server.log" >&2 || true
fi
exit "$status"
