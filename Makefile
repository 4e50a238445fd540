# Backless — every command a developer or CI needs. `make run` and `make test` do their own set-up on a fresh
# Debian machine (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
GO ?= go
BIN := bin
PHOTO ?= shared/testdata/astronaut.jpg

.PHONY: setup model build run test test-go lint bench clean

## setup: fetch the ONNX Runtime library and the models into the cache (idempotent)
setup: model

model:
	build/setup-model.sh

## build: the Go binaries (the frontend is embedded when it has been built)
build:
	$(GO) build -o $(BIN)/worker ./worker

## run: set up, build, and remove the background of a sample photo
run: setup build
	$(BIN)/worker remove $(PHOTO) -o $(BIN)/sample.png
	@echo "cutout written to $(BIN)/sample.png"

## test: set up everything and run every test
test:
	build/test.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test-go:
	$(GO) test -count=1 ./...

## bench: stage timings, ratio to the session run alone, peak RSS (see build/bench/README.md)
bench: setup
	build/bench/engine.sh

clean:
	rm -rf $(BIN)
