# Thin wrapper over hack/ scripts and CMake. Builds use 2 parallel jobs.
BUILD_DIR ?= build
JOBS ?= 2

.PHONY: all deps controlplane build test test-unit demo clean format images

all: build

deps:
	bash hack/install-deps.sh

controlplane: deps
	bash hack/controlplane.sh build

build: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Every test: unit, sanitizer, fuzz smoke runs, and integration tests on the
# real local control plane.
test:
	bash hack/test.sh

test-unit: build
	ctest --test-dir $(BUILD_DIR) -L unit --output-on-failure -j $(JOBS)

# OCI images (oci-archive) of the built binaries under $(BUILD_DIR)/images/;
# see hack/images.sh.
images: build
	bash hack/images.sh --build-dir $(BUILD_DIR)

demo:
	bash hack/demo.sh $(DEMO_ARGS)

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz
