# The project's entry points. Every target installs missing Debian packages
# first (scripts/deps.sh), so a fresh machine needs nothing else.
BUILD      ?= build
ASAN_BUILD ?= build-asan
# clang, libFuzzer, ASan+UBSan: the fuzz targets of tests/fuzz
FUZZ_BUILD ?= build-fuzz
# seconds per fuzz target: make fuzz, and the fuzz step of make test
FUZZ_SECONDS      ?= 600
FUZZ_TEST_SECONDS ?= 30
JOBS       ?= $(shell nproc)
# ON: -march=native outside the per-path kernels (the binary then needs this CPU).
VTAG_NATIVE ?= OFF
CTEST_ARGS ?= --output-on-failure -j $(JOBS)

.PHONY: all deps build build-asan build-fuzz test fuzz demo bench install clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DVTAG_NATIVE=$(VTAG_NATIVE) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVTAG_SANITIZE=ON -DVTAG_TEST_HOOKS=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# Only the library and the fuzz targets (the rest of the project is not needed here).
build-fuzz: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVTAG_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets

# Every fuzz target for FUZZ_SECONDS on a copy of its seed corpus; findings in $(FUZZ_BUILD)/fuzz-run/artifacts.
fuzz: build-fuzz
	@FUZZ_JOBS=$(JOBS) tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Release and ASan+UBSan builds, every test in both (the release suite runs
# even when the sanitizer suite failed), and between them every fuzz target for
# FUZZ_TEST_SECONDS under ASan+UBSan; the release run's ctest summary is the
# last line when all pass. The SIMD kernel tests run every kernel path this
# CPU runs (each test prints its list; vtag info says which those are here).
test: deps build build-asan build-fuzz
	@$(BUILD)/vtag info | awk -F'this CPU runs: ' '/^kernel path:/ { sub(/\)$$/, "", $$2); \
	  n = split("generic avx2 avx512", all, " "); miss = ""; \
	  for (i = 1; i <= n; i++) if (index(", " $$2 ", ", ", " all[i] ", ") == 0) miss = miss " " all[i]; \
	  printf "== SIMD kernel tests run on every path this CPU runs: %s%s ==\n", $$2, \
	         miss == "" ? "" : "; not on this CPU (built, not run):" miss }'
	@echo "== tests: ASan+UBSan build =="
	@ctest --test-dir $(ASAN_BUILD) $(CTEST_ARGS); asan=$$?; \
	echo "== fuzz: every target for $(FUZZ_TEST_SECONDS) s, ASan+UBSan =="; \
	FUZZ_JOBS=$(JOBS) tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_TEST_SECONDS); fuzz=$$?; \
	echo "== tests: release build =="; \
	ctest --test-dir $(BUILD) $(CTEST_ARGS); release=$$?; \
	if [ $$asan -ne 0 ] || [ $$fuzz -ne 0 ] || [ $$release -ne 0 ]; then \
	  echo "make test: FAILED (ASan+UBSan suite exit $$asan, fuzz exit $$fuzz, release suite exit $$release)"; exit 1; fi

demo: deps build
	@scripts/demo.sh $(BUILD)

bench: deps build
	@bench/run.sh $(BUILD)

# The release build under PREFIX: lib/libvtag.so* (versioned soname), include/vtag/*.h,
# lib/pkgconfig/vtag.pc, bin/vtag and share/man/man1/vtag.1 (DESTDIR=... stages a package).
# The Python package is separate: pip install ./python (python/README.md).
PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
