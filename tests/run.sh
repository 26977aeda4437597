#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through ctest.
# Exits non-zero on any failure.
#
#   tests/run.sh              everything: unit, smoke, e2e and fault tests;
#                             then unit, smoke and functional e2e tests again
#                             under ASan+UBSan; then a 10 s fuzzing smoke run
#                             per libFuzzer target
#   tests/run.sh -L unit      only tests with that ctest label (unit, smoke,
#                             e2e, faults)
#   tests/run.sh --no-asan    skip the sanitizer build
#   tests/run.sh --no-fuzz    skip the fuzzing smoke run
#
# In CI (CI=true) warnings are errors.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

label=""
asan=1
fuzz=1
fuzz_seconds=10
while (($#)); do
  case "$1" in
    -L) label="$2"; shift 2 ;;
    --no-asan) asan=0; shift ;;
    --no-fuzz) fuzz=0; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "tests/run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

deploy/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
werror=OFF
[[ "${CI:-}" == "true" ]] && werror=ON

echo "== build (build/, EW_WERROR=$werror)"
cmake -S . -B build -DEW_WERROR="$werror" >/dev/null
cmake --build build -j"$jobs"

rc=0
run_ctest() { # dir, extra args...
  local dir=$1; shift
  ctest --test-dir "$dir" --output-on-failure --no-tests=error "$@" || rc=1
}

if [[ -n "$label" ]]; then
  run_ctest build -L "$label"
else
  echo "== unit tests"
  run_ctest build -L unit -j"$jobs"
  echo "== process tests (smoke, e2e, faults)"
  run_ctest build -LE unit
fi

if ((asan)) && [[ -z "$label" ]]; then
  echo "== ASan+UBSan build (build-asan/): unit, smoke and the functional e2e tests"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEW_SANITIZE=ON -DEW_WERROR=ON >/dev/null
  cmake --build build-asan -j"$jobs"
  # The fault, resilience and flow tests run once, on the normal build: they
  # measure timing and memory that a sanitizer changes, and the suite must
  # stay within CI's time.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_ctest build-asan -L unit -j"$jobs"
  run_ctest build-asan -R '^(smoke_cli|smoke_sim|e2e_pipeline|e2e_batch|e2e_badinput)$'
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi

if ((fuzz)) && [[ -z "$label" ]]; then
  echo "== fuzzing smoke run (clang, libFuzzer): ${fuzz_seconds} s per target"
  tests/fuzz/run.sh --replay || rc=1
  tests/fuzz/run.sh -t "$fuzz_seconds" || rc=1
fi

if ((rc)); then
  echo "tests/run.sh: FAILED"
else
  echo "tests/run.sh: all tests passed"
fi
exit $rc
