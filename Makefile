# A thin driver over CMake. `make bench` builds and runs the benchmark;
# `make test` builds and runs the whole suite in every configuration whose
# tools are installed (see tests/run-all.sh).
BUILD ?= build
CMAKE ?= cmake

.PHONY: all build bench test clean tools

all: build

# Says in one line what is missing when cmake or a C compiler is not there
# (a fresh Debian has neither, nor make).
PREREQUISITES = apt-get update && apt-get install -y make cmake gcc
FOUND_CMAKE = $(shell command -v $(CMAKE))
FOUND_CC = $(shell for c in "$$CC" cc gcc clang; do [ -n "$$c" ] && command -v "$$c" && break; done)
tools:
	$(if $(FOUND_CMAKE),,$(error cmake not found; install the prerequisites with: $(PREREQUISITES)))
	$(if $(FOUND_CC),,$(error no C compiler (cc, gcc or clang) found; install the prerequisites with: $(PREREQUISITES)))

build: tools
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	$(CMAKE) --build $(BUILD) --parallel

# Only the benchmark's targets; their build output goes to a log (shown if the
# build fails) so that stdout is the Markdown report alone.
bench: tools
	@mkdir -p $(BUILD) && \
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >$(BUILD)/bench-build.log 2>&1 && \
	$(CMAKE) --build $(BUILD) --parallel --target pagealloc_bench >>$(BUILD)/bench-build.log 2>&1 || \
	{ cat $(BUILD)/bench-build.log; exit 1; }
	@$(BUILD)/bench/pagealloc_bench

test: tools
	sh tests/run-all.sh

clean:
	rm -rf $(BUILD) build-* build-logs
