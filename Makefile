# The two commands a newcomer needs: `make run` and `make test`.
PRESET ?= dev
JOBS ?= $(shell nproc)
DATA_DIR ?= ./var
LISTEN ?= 0.0.0.0:8443

.PHONY: deps build run test test-dev asan fuzz clean

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)

run: build
	./build/bin/downbeatd serve --data-dir $(DATA_DIR) --listen $(LISTEN)

# Every test: the dev suite, then the unit / integration / fuzz-replay tests under ASan + UBSan.
test: build
	@JOBS=$(JOBS) bash scripts/test.sh

# The dev suite alone (quicker while working).
test-dev: build
	@ctest --preset $(PRESET) -j $(JOBS)

asan: deps
	cmake --preset asan >/dev/null && cmake --build --preset asan -j $(JOBS) && ctest --preset asan -j $(JOBS) -LE bench

# libFuzzer targets (clang, ASan + UBSan), each run briefly on a scratch copy of its corpus;
# long runs: fuzz/campaign.sh (bench/fuzz/REPORT.md).
FUZZ_TARGETS ?= frame jwt url auth_body headers chart import_song
FUZZ_SECONDS ?= 30
fuzz: deps
	cmake --preset fuzz >/dev/null && cmake --build build-fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	fuzz/campaign.sh build-fuzz 100000000 $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf build build-asan build-release build-fuzz
