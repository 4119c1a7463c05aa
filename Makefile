# Thin wrapper around CMake (as neovim does): CMake is the real build.
# make build | make run | make test | make asan | make bench | make deb | make clean
# make fuzz: the libFuzzer harnesses in test/fuzz, FUZZ_SECONDS each
# make docker-test: builds docker/Dockerfile with podman and checks the image,
# alone, in docker/compose.yml and in the cluster of docker/compose.cluster.yml

BUILD_DIR  ?= build
ASAN_DIR   ?= build-asan
FUZZ_DIR   ?= build-fuzz
# Seconds per fuzz harness: make fuzz, and the short pass make test runs.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
PORT       ?= 5000

.PHONY: all deps deps-run build run test test-plain asan bench bench-quick clean
.PHONY: fuzz fuzz-build fuzz-smoke deb docker-test

all: build

# Everything make test needs; deps-run only what building and running do.
deps:
	@./scripts/install-deps.sh

deps-run:
	@./scripts/install-deps.sh --run

# Configured every time (a second or so): make run may have configured
# $(BUILD_DIR) without the tests, and make test must have them.
build: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
		-DBUILD_TESTING=ON $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Only the server: no test toolchain. A $(BUILD_DIR) configured by make
# test is reused as it is. History goes to ./chat.db here, as a developer
# expects; an installed chatd keeps it in its state directory (chatd(8)).
run: deps-run
	test -f $(BUILD_DIR)/CMakeCache.txt || cmake -S . -B $(BUILD_DIR) \
		-DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DBUILD_TESTING=OFF $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR) -j $(JOBS) --target chatd
	./$(BUILD_DIR)/chatd --port $(PORT) --www www --db chat.db

$(ASAN_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DCHAT_SANITIZE=ON \
		-DCHAT_WERROR=ON $(CMAKE_ARGS)

asan: deps $(ASAN_DIR)/CMakeCache.txt
	cmake --build $(ASAN_DIR) -j $(JOBS)

# Every test runs twice: the optimised build, then under ASan + UBSan.
test-plain: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

test: test-plain asan fuzz-smoke
	cd $(ASAN_DIR) && ctest --output-on-failure -j $(JOBS)

# libFuzzer harnesses (test/fuzz) under ASan + UBSan: clang only, so a
# build dir of their own. Crashing inputs land in $(FUZZ_DIR)/fuzz/artifacts.
$(FUZZ_DIR)/CMakeCache.txt: | deps
	CC=clang cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=Debug \
		-DCMAKE_C_FLAGS_DEBUG="-g -O1" -DCHAT_FUZZ=ON \
		-DBUILD_TESTING=OFF $(CMAKE_ARGS)

fuzz-build: deps $(FUZZ_DIR)/CMakeCache.txt
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target chat_fuzzers

fuzz: fuzz-build
	test/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	test/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SMOKE_SECONDS)

# Side by side with socket.io, the lws mirror and C ceiling servers;
# results in build/bench/results.md (see docs/performance.md).
bench: build
	bench/setup.sh
	bench/run.sh

bench-quick: build
	bench/setup.sh
	bench/run.sh --quick

# A .deb of chatd (CPack), in $(BUILD_DIR)/: installs under /usr, with
# Depends on the Debian libraries it links.
deb: deps-run
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
		-DBUILD_TESTING=OFF $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)
	cd $(BUILD_DIR) && cpack -G DEB

# The container image, built and run for real (podman; see docker/test.sh).
# Its own set-up: it needs none of the builds above.
docker-test:
	docker/test.sh

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
