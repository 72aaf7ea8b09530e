# kiln: `make demo` and `make test` work on a fresh Debian 12 machine (they run set-up first).
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
# Lets ccache reuse objects across checkouts in different directories (CI clones afresh).
export CCACHE_BASEDIR := $(CURDIR)
KILN := $(BUILD)/kiln
DEMO_MODEL := conformance-data/light/test_squeezenet/model.onnx
DEMO_DATA := conformance-data/light/test_squeezenet/test_data_set_0
FLOOR := $(shell cat tests/conformance_floor.txt 2>/dev/null || echo 0)

.PHONY: all setup build demo test unit conformance models asan tsan fuzz clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_TESTS=ON > /dev/null
	@ninja -C $(BUILD) -j $(JOBS)

# Build an engine for a bundled model (SqueezeNet from the onnx package's light models),
# inspect it, run it on the model's test input and compare with its reference output.
demo: build
	@mkdir -p demo-out
	$(KILN) build $(DEMO_MODEL) -o demo-out/squeezenet.kiln
	$(KILN) inspect demo-out/squeezenet.kiln --summary
	$(KILN) run demo-out/squeezenet.kiln --output-dir demo-out/outputs \
	  --input data_0=$(DEMO_DATA)/input_0.pb --expect softmaxout_1=$(DEMO_DATA)/output_0.pb

# `kiln backends` first: on a machine without a GPU its cuda line says why the CUDA tests skip
# ("skipped: no CUDA device"), which ctest's summary lists as Skipped.
unit: build
	@$(KILN) backends
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

conformance: build
	@$(KILN) conformance conformance-data --quiet --json $(BUILD)/conformance.json --min-passed $(FLOOR)

# The generated architectures (small variants) against ONNX Runtime on the same inputs, and what
# the optimizer fused in each (full sizes too: ResNet-50 <= 60 layers, BERT-base per-layer fusions).
models: build
	@.venv/bin/python tests/models/test_models.py --kiln $(KILN) --full-structure

# The unit tests and the malformed-input corpus again under AddressSanitizer + UBSan (clang).
asan: setup
	@CC=clang CXX=clang++ cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_SANITIZE=ON -DKILN_TESTS=ON > /dev/null
	@ninja -C $(ASAN_BUILD) -j $(JOBS) kiln_tests kiln_cli
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

# Several ExecutionContexts of one engine running at once, under ThreadSanitizer (clang; kiln and
# the concurrency test instrumented). One intra-op thread per context: libgomp, the OpenMP runtime
# oneDNN and kiln's kernels share, is not instrumented, so TSan could not see its barriers; the
# contexts' own threads are what this checks (shared kernels, plan caches, scratch buffers).
tsan: setup
	@CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_TSAN=ON -DKILN_TESTS=ON > /dev/null
	@ninja -C build-tsan -j $(JOBS) kiln_concurrency_test
	@OMP_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1 build-tsan/tests/kiln_concurrency_test

# libFuzzer targets (fuzz/README.md says how to make seeds and run them). KILN_WARNINGS has
# g++-only -Wno-* flags, which clang rejects under -Werror unless told to ignore unknown ones.
fuzz: setup
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_FUZZ=ON -DKILN_TESTS=OFF \
		-DCMAKE_CXX_FLAGS=-Wno-unknown-warning-option > /dev/null
	@ninja -C build-fuzz -j $(JOBS) fuzz_onnx_import fuzz_engine_load

test: unit conformance models asan

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz demo-out kiln_outputs
