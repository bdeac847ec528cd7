# A thin driver over CMake. `make bench` builds and runs the benchmark;
# `make test` builds and runs the whole suite in every configuration whose
# tools are installed (see tests/run-all.sh).
BUILD ?= build
CMAKE ?= cmake

.PHONY: all build bench test clean

all: build

build:
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	$(CMAKE) --build $(BUILD) --parallel

bench: build
	$(BUILD)/bench/pagealloc_bench

test:
	sh tests/run-all.sh

clean:
	rm -rf $(BUILD) build-* build-logs
