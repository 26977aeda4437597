#!/bin/bash
# Builds the worker and the stand-ins in Release mode and runs the benchmark.
#
#   tests/bench/run.sh                      # every scenario (about 5 minutes)
#   tests/bench/run.sh --quick              # smaller counts (under 2 minutes)
#   tests/bench/run.sh --scenario fast --scenario idle
#   tests/bench/run.sh --callgrind          # instructions per event under callgrind
#
# Every option is passed to tests/bench/bench.py (see --help there and
# tests/bench/README.md). EW_BUILD_DIR picks another build directory (default
# build-release, configured with `cmake --preset release`). Exit status 0
# unless the benchmark could not run; missed targets are printed as FAIL.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${EW_BUILD_DIR:-$SRC/build-release}
TARGETS=(engagement-worker monitoring-sim embedded-kafka)

for tool in cmake kcat wrk; do
        if ! command -v "$tool" >/dev/null; then
                echo "bench: $tool is not installed (tests/run.sh installs the dependencies)" >&2
                exit 2
        fi
done
if ! /usr/bin/python3 -c 'import kafka' 2>/dev/null; then
        echo "bench: /usr/bin/python3 has no kafka module (apt-get install python3-kafka)" >&2
        exit 2
fi

if [ "$BUILD" = "$SRC/build-release" ]; then
        (cd "$SRC" && cmake --preset release >/dev/null)
else
        cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" --target "${TARGETS[@]}" >/dev/null

exec /usr/bin/python3 "$SRC/tests/bench/bench.py" --build "$BUILD" "$@"
