# Two entry points on a fresh Debian 12 machine (see README.md):
#   make demo   installs what is missing, builds Release, imports ../shared/data, runs rigshift market
#   make test   installs what is missing, builds, runs every test
SHELL := /bin/bash
PRESET ?= release
BIN := build/$(PRESET)/src/cli/rigshift
SOURCE ?= ../shared/data
DATA ?= data
JOBS ?= $(shell nproc)

.PHONY: deps configure build test demo asan bench clean

deps:
	bash scripts/install-deps.sh

configure: deps
	cmake --preset $(PRESET) >/dev/null

build: configure
	cmake --build --preset $(PRESET) -j $(JOBS)

test: build
	ctest --preset $(PRESET) -j $(JOBS)

demo: build
	$(BIN) data import --source $(SOURCE) --out $(DATA)
	$(BIN) market --data $(DATA) --from 2021-01-01 --to 2021-12-31 \
	  --models "RTX 3090,RTX 3060 Ti,RX 6800" --power-price 0.06 --by month

# Sanitizer build and tests (slower; not part of `make test`).
asan:
	$(MAKE) test PRESET=asan

bench: build
	build/$(PRESET)/bench/market_bench

clean:
	rm -rf build
