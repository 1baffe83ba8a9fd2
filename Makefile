# The two commands a newcomer needs: `make run` and `make test`.
PRESET ?= dev
JOBS ?= $(shell nproc)
DATA_DIR ?= ./var
LISTEN ?= 0.0.0.0:8443

.PHONY: deps build run test asan fuzz clean

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)

run: build
	./build/bin/downbeatd serve --data-dir $(DATA_DIR) --listen $(LISTEN)

test: build
	@ctest --preset $(PRESET) -j $(JOBS)

asan: deps
	cmake --preset asan >/dev/null && cmake --build --preset asan -j $(JOBS) && ctest --preset asan -j $(JOBS)

fuzz: deps
	cmake --preset fuzz >/dev/null && cmake --build build-fuzz -j $(JOBS) --target fuzz_frame fuzz_jwt

clean:
	rm -rf build build-asan build-release build-fuzz
