# Backless — every command a developer or CI needs. `make run` and `make test` do their own set-up on a fresh
# Debian machine (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
GO ?= go
BIN := bin
PORT ?= 8080
DESKTOP_TAGS := desktop,production,webkit2_41

.PHONY: setup deps model frontend build desktop run test e2e lint bench bench-load clean

## setup: packages the app needs, the ONNX Runtime library and the models (idempotent)
setup: deps model

deps:
	build/deps.sh run

model:
	build/setup-model.sh

## frontend: install the npm packages from the lockfile and build frontend/dist (embedded by the Go binaries)
frontend:
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run build

## build: the server and the worker, with the frontend embedded
build: frontend
	$(GO) build -o $(BIN)/server ./server
	$(GO) build -o $(BIN)/worker ./worker

## desktop: the Wails desktop app (needs build/desktop-deps.sh's packages)
desktop: frontend
	build/desktop-deps.sh
	$(GO) build -tags $(DESKTOP_TAGS) -o $(BIN)/backless-desktop ./desktop

## run: set up, build, and start the all-in-one server (server + in-process worker) on $(PORT)
run: setup build
	PORT=$(PORT) LOG_FORMAT=$${LOG_FORMAT:-console} $(BIN)/server

## test: set up everything (packages, model, frontend, services) and run every test
test:
	build/test.sh

## e2e: the web app in Debian's Chromium against the all-in-one server (screenshots in frontend/e2e/screenshots)
e2e: model
	build/deps.sh test
	build/e2e.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

## bench: engine stage timings, ratio to the ONNX session run alone, peak RSS
bench: model
	build/bench/engine.sh

## bench-load: concurrent uploads to the all-in-one server: throughput, p50/p95 latency, peak RSS
bench-load: model
	build/bench/load.sh

clean:
	rm -rf $(BIN)
