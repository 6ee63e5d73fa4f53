# The two commands a new user needs (see README.md):
#   make up     install what is missing, build, start the embedded default
#   make test   install what is missing, build, run every test and check
# and, for developers:
#   make bench  build the release preset and run the benchmarks (docs/benchmarks.md)
#   make format rewrite sources with clang-format

SHELL := /bin/bash
FUZZ_SECONDS ?= 30
JOBS ?= $(shell nproc)

.PHONY: up test bench format deps release

deps:
	scripts/install-deps

release: deps
	cmake --preset release
	cmake --build --preset release -j $(JOBS)

up: release
	scripts/up

test: deps
	scripts/check-format
	scripts/check-deps
	cmake --preset asan
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)
	scripts/run-fuzzers $(FUZZ_SECONDS)

bench: release
	scripts/install-deps bench
	scripts/bench

format:
	scripts/check-format --fix
