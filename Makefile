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

# Only the benchmark's targets; their build output goes to a log (shown if the
# build fails) so that stdout is the Markdown report alone.
bench:
	@mkdir -p $(BUILD) && \
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >$(BUILD)/bench-build.log 2>&1 && \
	$(CMAKE) --build $(BUILD) --parallel --target pagealloc_bench >>$(BUILD)/bench-build.log 2>&1 || \
	{ cat $(BUILD)/bench-build.log; exit 1; }
	@$(BUILD)/bench/pagealloc_bench

test:
	sh tests/run-all.sh

clean:
	rm -rf $(BUILD) build-* build-logs
