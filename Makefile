# The project's entry points. Every target installs missing Debian packages
# first (scripts/deps.sh), so a fresh machine needs nothing else.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
# ON: -march=native outside the per-path kernels (the binary then needs this CPU).
VTAG_NATIVE ?= OFF
CTEST_ARGS ?= --output-on-failure -j $(JOBS)

.PHONY: all deps build build-asan test demo bench clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DVTAG_NATIVE=$(VTAG_NATIVE) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVTAG_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# Release and ASan+UBSan builds, every test in both (the release suite runs
# even when the sanitizer suite failed); the release run's ctest summary is the
# last line when both pass. The SIMD kernel tests run every kernel path this
# CPU runs (each test prints its list; vtag info says which those are here).
test: deps build build-asan
	@$(BUILD)/vtag info | sed -n 's/^kernel path: .*this CPU runs: \(.*\))$$/== kernel paths tested on this CPU: \1 (see vtag info) ==/p'
	@echo "== tests: ASan+UBSan build =="
	@ctest --test-dir $(ASAN_BUILD) $(CTEST_ARGS); asan=$$?; \
	echo "== tests: release build =="; \
	ctest --test-dir $(BUILD) $(CTEST_ARGS); release=$$?; \
	if [ $$asan -ne 0 ] || [ $$release -ne 0 ]; then \
	  echo "make test: FAILED (ASan+UBSan suite exit $$asan, release suite exit $$release)"; exit 1; fi

demo: deps build
	@scripts/demo.sh $(BUILD)

bench: deps build
	@bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
