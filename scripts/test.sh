#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs the packages, builds once
# (ccache), then runs unit tests, integration tests (real clients in network namespaces), the
# fuzzers (bounded time) and the QEMU end-to-end boots. Needs root (netns, taps, apt-get).
#
#   scripts/test.sh              everything
#   scripts/test.sh unit fuzz    only those suites (unit, integration, fuzz, e2e)
set -euo pipefail
cd "$(dirname "$0")/.."

suites=("$@")
((${#suites[@]})) || suites=(unit integration fuzz e2e)
want() { local s; for s in "${suites[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

start=$(date +%s)
step() { printf '\n=== [%4ds] %s\n' $(($(date +%s) - start)) "$*"; }

step "setup: packages"
bash scripts/setup.sh

# ccache keyed on paths relative to the checkout, so a clone in another folder (CI) reuses it.
export CCACHE_DIR=${CCACHE_DIR:-/var/cache/paddock/ccache}
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=true
mkdir -p "$CCACHE_DIR"
ccache --max-size=5G >/dev/null

step "build (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPADDOCK_ONLY= >/dev/null
ninja -C build

if want fuzz; then
  step "build fuzzers (build-fuzz/, clang + ASan/UBSan)"
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DPADDOCK_BUILD_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  ninja -C build-fuzz fuzzers
fi

passed=0 failed=0
declare -a failures=()
run_ctest() {  # run_ctest NAME DIR ARGS...: runs ctest, adds its counts to the totals
  local name=$1 dir=$2
  shift 2
  step "$name"
  local log
  log=$(mktemp)
  set +e
  ctest --test-dir "$dir" --output-on-failure "$@" 2>&1 | tee "$log"
  set -e
  local line total nfail
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1)
  if [ -z "$line" ]; then
    if grep -q 'No tests were found' "$log"; then rm -f "$log"; return; fi
    failed=$((failed + 1)); failures+=("$name: ctest did not finish"); rm -f "$log"; return
  fi
  nfail=$(sed -E 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  passed=$((passed + total - nfail))
  failed=$((failed + nfail))
  ((nfail == 0)) || failures+=("$name: $(grep -E '^\s+[0-9]+ - ' "$log" | tr -s ' ' | paste -sd';')")
  rm -f "$log"
}

want unit && run_ctest "unit tests" build -L unit -j2
want integration && run_ctest "integration tests" build -L integration
want fuzz && run_ctest "fuzzers" build-fuzz -L fuzz -j2
want e2e && run_ctest "end-to-end (QEMU)" build -L e2e

step "done"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "total: $passed passed, $failed failed"
((failed == 0))
