#!/usr/bin/env bash
# Runs every test of Backless on a fresh Debian machine, doing all the set-up it needs first: Debian packages, the
# ONNX Runtime and models, the frontend's npm packages and build, and the services (PostgreSQL, Redis, MinIO, the
# Cloud Tasks emulator) as processes on 127.0.0.1, stopped again at the end. `make test` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "Debian packages"
build/deps.sh test

step "ONNX Runtime and models"
build/setup-model.sh

step "frontend: install, unit tests, type check, build"
(cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm test && npm run check && npm run build)

step "format, vet and staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go vet -tags desktop,production,webkit2_41 ./desktop/...
# staticcheck, pinned, built from the Go module proxy (go run caches the build).
staticcheck=honnef.co/go/tools/cmd/staticcheck@v0.8.2
go run "$staticcheck" ./...
go run "$staticcheck" -tags desktop,production,webkit2_41 ./desktop/...

step "services"
trap 'build/services/stop.sh >&2 || true' EXIT
env_file=$(build/services/start.sh)
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a

step "Go tests"
go build -o bin/server ./server
# The desktop's cloud-mode tests reuse this server binary instead of building their own. With the race detector:
# the queue, hub, sockets and batch are all concurrent, and it costs about a minute here.
BACKLESS_TEST_SERVER_BIN=$PWD/bin/server go test -race -count=1 -timeout 40m ./...

step "web app in a real browser: Chromium against the all-in-one server"
build/e2e.sh

step "desktop: build, and smoke test of the real binary under Xvfb"
go build -tags desktop,production,webkit2_41 -o bin/backless-desktop ./desktop
build/desktop-smoke.sh bin/backless-desktop
