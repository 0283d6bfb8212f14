# Two entry points on a fresh Debian 12 machine (see README.md):
#   make demo   installs what is missing, builds Release, imports ../shared/data, runs the demo farm
#               (rigshift server --demo on http://127.0.0.1:8080 until Ctrl-C)
#   make test   installs what is missing, builds, runs every test, then fuzzes the API parsers 20 s
SHELL := /bin/bash
PRESET ?= release
BIN := build/$(PRESET)/src/cli/rigshift
SOURCE ?= ../shared/data
DATA ?= data
SERVER_DIR ?= rigshift-data
LISTEN ?= 127.0.0.1:8080
FUZZ_SECONDS ?= 20
JOBS ?= $(shell nproc)

.PHONY: deps configure build test demo market-demo screenshots package asan bench bench-server fuzz clean

deps:
	bash scripts/install-deps.sh

configure: deps
	cmake --preset $(PRESET) >/dev/null

build: configure
	cmake --build --preset $(PRESET) -j $(JOBS)

test: build
	ctest --preset $(PRESET) -j $(JOBS)
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

demo: build
	$(BIN) data import --source $(SOURCE) --out $(DATA)
	$(BIN) server --demo --data $(DATA) --data-dir $(SERVER_DIR) --listen $(LISTEN)

# The Debian package (cmake/Package.cmake; docs/operations.md, "Packages"), into out/.
package: build
	cd build/$(PRESET) && cpack -G DEB -B $(abspath out)

# Screenshots of the web console's main views (docs/console/, shown in README.md), taken by its
# browser test.
screenshots: build
	SCREENSHOTS=docs/console bash tests/console_test.sh $(abspath $(BIN)) $(abspath $(SOURCE))

# The 2021 mining table the first demo printed (issue 2).
market-demo: build
	$(BIN) market --data $(DATA) --from 2021-01-01 --to 2021-12-31 \
	  --models "RTX 3090,RTX 3060 Ti,RX 6800" --power-price 0.06 --by month

# Sanitizer build and tests (slower; not part of `make test`).
asan:
	$(MAKE) test PRESET=asan

bench: build
	build/$(PRESET)/bench/market_bench

# GET /v1/offers and POST /v1/leases under wrk beside nginx (installs wrk and nginx-light).
bench-server: build
	bash bench/server_load.sh --binary $(BIN) --data $(DATA)

# The long fuzz run of the API parsers (make fuzz FUZZ_SECONDS=3600).
fuzz:
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf build
