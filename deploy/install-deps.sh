#!/usr/bin/env bash
# Installs every Debian package that building, running and testing
# engagement-worker need. Idempotent: when everything is present it only
# checks (dpkg-query) and returns within a second, without touching apt.
#
#   deploy/install-deps.sh            build + run + test packages
#   deploy/install-deps.sh --build    only what building the worker needs
#                                     (cmake -DEW_TESTS=OFF; the image's
#                                     builder stage)
#   deploy/install-deps.sh --runtime  only what the worker needs at run time
#                                     (the shared libraries the binary links
#                                     and the CA store; the image's runtime)
set -euo pipefail

# Building the worker alone (EW_TESTS=OFF).
core_build_pkgs=(
  build-essential cmake pkg-config
  librdkafka-dev libcurl4-openssl-dev libjson-c-dev libyaml-dev
  libmicrohttpd-dev libssl-dev
)
build_pkgs=(
  "${core_build_pkgs[@]}" git libcunit1-dev
)
test_pkgs=(
  kcat wrk python3 python3-kafka python3-yaml yamllint
  clang libclang-rt-14-dev clang-format valgrind curl procps
)
# One package per library the binary links (tests/deploy/check.sh checks
# this against the binary's NEEDED entries), plus the CA certificates that
# TLS to the brokers and to the Monitoring API verifies against.
runtime_pkgs=(
  librdkafka1 libcurl4 libjson-c5 libyaml-0-2 libmicrohttpd12 libssl3 ca-certificates
)

want=()
case "${1:-}" in
  --runtime) want=("${runtime_pkgs[@]}") ;;
  --build) want=("${core_build_pkgs[@]}") ;;
  "") want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 [--build|--runtime]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
