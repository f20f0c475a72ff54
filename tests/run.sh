#!/bin/sh
# Builds convroute and runs every test: the C suite (cmocka, ctest), the
# exported-symbols and install checks, the Python bindings' unittest suite,
# then the whole C suite again under AddressSanitizer + UBSan.
# Installs missing Debian packages when run as root.
set -eu
cd "$(dirname "$0")/.."
. ./.ci/deps.sh
cr_need_packages cmake make gcc pkg-config binutils libcmocka-dev uthash-dev python3
# What lets the optional checks run instead of skipping: a real offline
# `pip install` of the Python package into a venv (venv, setuptools,
# wheel), and rendering cr-sim's SVG chart (rsvg-convert).
cr_need_packages python3-venv python3-setuptools python3-wheel librsvg2-bin

jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (release, warnings as errors)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONVROUTE_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
echo "== tests"
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCONVROUTE_SANITIZE=ON \
  -DCONVROUTE_WERROR=ON -DCONVROUTE_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"
echo "== tests under sanitizers"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"
