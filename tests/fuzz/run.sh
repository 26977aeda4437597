#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, build-fuzz/) and runs them.
# Exits non-zero if any target crashed, leaked, hit undefined behaviour,
# broke one of its checks or timed out.
#
#   tests/fuzz/run.sh                 fuzz each target 20 s
#   tests/fuzz/run.sh -t 600          fuzz each target 600 s
#   tests/fuzz/run.sh fuzz_event      only that target (several may be named)
#   tests/fuzz/run.sh --replay        run every seed and regression once
#                                     (no mutation; fast, for CI)
#   tests/fuzz/run.sh -- -fork=2      pass the rest on to libFuzzer
#
# Fuzzing grows tests/fuzz/corpus-<target>/ (not in git) and writes a
# failing input to build-fuzz/artifacts/<target>/; the log of each run is
# build-fuzz/logs/<target>.log. See tests/fuzz/README.md.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build="$top/build-fuzz"
all_targets=(fuzz_event fuzz_response fuzz_config fuzz_ewjson)

seconds=${EW_FUZZ_SECONDS:-20}
replay=0
targets=()
extra=()
while (($#)); do
  case "$1" in
    -t|--time) seconds="$2"; shift 2 ;;
    --replay) replay=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    fuzz_*) targets+=("$1"); shift ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
((${#targets[@]})) || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ -f "$here/$t.c" ]] || { echo "run.sh: no target '$t'" >&2; exit 2; }
done
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "run.sh: -t wants a number of seconds, got '$seconds'" >&2
  exit 2
fi

command -v clang >/dev/null || { echo "run.sh: clang not found" >&2; exit 2; }

# The top-level CMakeLists.txt adds this directory when EW_FUZZ=ON. Until
# it does, a two-line wrapper project adds both (same targets, same flags).
src="$top"
if ! grep -q 'tests/fuzz' "$top/CMakeLists.txt"; then
  src="$build-wrapper"
  mkdir -p "$src"
  cat >"$src/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.25)
project(ew-fuzz LANGUAGES C)
add_subdirectory("$top" main)
add_subdirectory("$here" fuzz)
EOF
fi
# A build directory configured from the other source tree cannot be reused.
if [[ -f "$build/CMakeCache.txt" ]] &&
   ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$src" "$build/CMakeCache.txt"; then
  rm -rf "$build"
fi

echo "== build ($build, clang, EW_FUZZ=ON)"
mkdir -p "$build"
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DEW_FUZZ=ON \
      -DEW_TESTS=OFF -DEW_WERROR=ON >"$build/configure.log" 2>&1 || {
  cat "$build/configure.log" >&2
  exit 2
}
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" \
      --target "${targets[@]}" || exit 2

# UB already aborts (-fno-sanitize-recover); say where it happened.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

passed=0
failed=0
mkdir -p "$build/logs"
for t in "${targets[@]}"; do
  log="$build/logs/$t.log"
  seeds="$here/seeds/$t"
  regr="$here/regressions/$t"
  mkdir -p "$regr"
  if ((replay)); then
    # Every file once, each by name, so none is skipped or merged away.
    mapfile -t inputs < <(find "$seeds" "$regr" -type f | sort)
    "$build/$t" "${extra[@]}" "${inputs[@]}" >"$log" 2>&1
    rc=$?
    summary="${#inputs[@]} inputs"
  else
    corpus="$here/corpus-$t"
    art="$build/artifacts/$t"
    mkdir -p "$corpus" "$art"
    dict=()
    [[ -f "$here/$t.dict" ]] && dict=(-dict="$here/$t.dict")
    # The working corpus comes first: libFuzzer adds new inputs there
    # only, the seeds and regressions stay as they are.
    "$build/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" \
      "${extra[@]}" "$corpus" "$seeds" "$regr" >"$log" 2>&1
    rc=$?
    # The last status line: "#N ... cov: C ft: F corp: ... exec/s: E ..."
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    summary="$(sed -E 's/^#([0-9]+).*cov: ([0-9]+).*exec\/s: ([0-9]+).*/\1 execs, cov \2, \3 exec\/s/' <<<"$last")"
  fi
  if ((rc == 0)); then
    passed=$((passed + 1))
    echo "PASS $t ($summary)"
  else
    failed=$((failed + 1))
    echo "FAIL $t (exit $rc, log $log)"
    grep -E 'ERROR: |runtime error|check failed|SUMMARY|Test unit written|^Running: ' \
      "$log" | tail -n 8 | sed 's/^/    /'
  fi
done

echo "fuzz: $passed passed, $failed failed"
((failed == 0))
