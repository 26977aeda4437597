#!/usr/bin/env bash
# Runs engagement-worker end to end on this machine:
#   installs missing packages, builds, starts embedded-kafka (a local Kafka
#   broker) and monitoring-sim (the Monitoring API stand-in), starts the
#   worker with config/local.yaml, sends the sample visitor events of
#   tests/data/demo/events.txt (one of every outcome), and prints outcomes and
#   dead letters as they arrive. Ctrl-C stops everything.
#
#   deploy/local/run.sh           run until Ctrl-C
#   deploy/local/run.sh --once    stop after the sample batch is answered
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

once=0
case "${1:-}" in
  --once) once=1 ;;
  "") ;;
  -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--once]" >&2; exit 2 ;;
esac

deploy/install-deps.sh
echo "== building"
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" --target engagement-worker embedded-kafka monitoring-sim >/dev/null

run=$(mktemp -d "${TMPDIR:-/tmp}/engagement-worker-local.XXXXXX")
pids=()
cleanup() {
  local i
  trap - EXIT INT TERM
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  echo "== stopped; logs kept in $run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

topics=(visitor-activity:3 engagement-outcomes:3 engagement-dead-letter:1)
echo "== starting embedded-kafka"
# Line one of its stdout is the bootstrap list; the rest (control replies)
# goes to the log.
coproc_out="$run/kafka.out"
build/embedded-kafka --brokers 1 --no-stdin $(printf -- '--topic %s ' "${topics[@]}") \
  >"$coproc_out" 2>"$run/kafka.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$coproc_out" ]] && break; sleep 0.1; done
brokers=$(head -n1 "$coproc_out")
[[ -n "$brokers" ]] || { echo "embedded-kafka did not start: $run/kafka.log" >&2; exit 1; }
echo "   Kafka bootstrap: $brokers"

echo "== starting monitoring-sim"
build/monitoring-sim --port 0 --scenario tests/data/demo/scenario.json --log "$run/sim-requests.ndjson" \
  >"$run/sim.out" 2>"$run/sim.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$run/sim.out" ]] && break; sleep 0.1; done
api=$(head -n1 "$run/sim.out" | sed 's/^listening on //')
[[ -n "$api" ]] || { echo "monitoring-sim did not start: $run/sim.log" >&2; exit 1; }
echo "   Monitoring API: $api (requests logged to $run/sim-requests.ndjson)"

echo "== starting engagement-worker (config/local.yaml; log in $run/worker.log)"
EW_BROKERS="$brokers" EW_MONITORING_URL="$api" EW_METRICS_LISTEN="" \
  build/engagement-worker --config config/local.yaml 2>"$run/worker.log" &
pids+=($!)

events=tests/data/demo/events.txt
count=$(grep -c . "$events")
echo "== sending $count visitor events from $events"
kcat -b "$brokers" -P -t visitor-activity -K '|' <"$events"

echo "== outcomes and dead letters (retries use the demo delays 0.3/1/3/9 s)"
watch=(/usr/bin/python3 deploy/local/watch.py "$brokers" engagement-outcomes engagement-dead-letter)
if ((once)); then
  "${watch[@]}" --expect "$count" --timeout 120
  echo "== all $count events answered"
else
  echo "   (Ctrl-C to stop)"
  "${watch[@]}"
fi
