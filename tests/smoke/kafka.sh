#!/usr/bin/env bash
# Single-quoted $1/$3 below belong to bash -c and awk, not to this shell.
# shellcheck disable=SC2016 source-path=SCRIPTDIR
#
# Smoke test of embedded-kafka (tests/kafka): clients nobody here wrote,
# kcat and Debian's python3-kafka, produce and consume through consumer
# groups; the control socket answers and its faults take effect; SIGTERM
# ends it with status 0. Needs EW_BUILD_DIR and EW_SOURCE_DIR.
#
# Python: Debian's interpreter, which has python3-kafka (a python3 earlier
# on PATH, e.g. pyenv's, may not); override with EW_PYTHON.

set -u

: "${EW_BUILD_DIR:?EW_BUILD_DIR is not set}"
: "${EW_SOURCE_DIR:?EW_SOURCE_DIR is not set}"
# shellcheck source=../lib/stack.sh
. "$EW_SOURCE_DIR/tests/lib/stack.sh"

PY=${EW_PYTHON:-/usr/bin/python3}
passed=0
failed=0

ok() {
        passed=$((passed + 1))
        echo "ok - $1"
}

not_ok() {
        failed=$((failed + 1))
        echo "not ok - $1"
}

# check NAME COMMAND...: passes if COMMAND succeeds.
check() {
        local name=$1
        shift
        if "$@"; then ok "$name"; else not_ok "$name"; fi
}

finish() {
        echo "$passed passed, $failed failed"
        [ "$failed" -eq 0 ]
        exit $?
}

stack_tmpdir || exit 1
T=$STACK_TMP

# --- tools ---------------------------------------------------------------
if ! command -v kcat >/dev/null; then
        not_ok "kcat is installed (apt-get install kcat)"
        finish
fi
if ! "$PY" -c 'import kafka' 2>/dev/null; then
        not_ok "$PY has the kafka module (apt-get install python3-kafka)"
        finish
fi
ok "kcat and $PY with kafka-python are available"

# --- start ----------------------------------------------------------------
if ! ek_start --topic events:3; then
        not_ok "embedded-kafka starts"
        finish
fi
ok "embedded-kafka starts (pid $EK_PID)"
check "first stdout line is exactly the 3-broker bootstrap list" \
        grep -Eq '^127\.0\.0\.1:[0-9]+(,127\.0\.0\.1:[0-9]+){2}$' \
        <<<"$EK_BOOTSTRAP"

kcat -b "$EK_BOOTSTRAP" -L -t events >"$T/md.txt" 2>&1
check "topic events has 3 partitions with leaders 1, 2, 3" \
        grep -q 'topic "events" with 3 partitions' "$T/md.txt"
check "partition 2 of events is led by broker 3" \
        grep -Eq 'partition 2, leader 3,' "$T/md.txt"

# --- kcat: 300 keyed messages through a consumer group -------------------
for i in $(seq 1 300); do echo "key$i:value$i"; done >"$T/in.txt"
check "kcat produces 300 keyed messages" \
        kcat -b "$EK_BOOTSTRAP" -P -t events -K: -l "$T/in.txt"

timeout 40 kcat -b "$EK_BOOTSTRAP" -G kcat-group \
        -X auto.offset.reset=earliest -e -q -f '%p %k %s\n' events \
        >"$T/kcat-out.txt" 2>"$T/kcat-err.txt"
count=$(wc -l <"$T/kcat-out.txt")
keys=$(awk '{print $2}' "$T/kcat-out.txt" | sort -u | wc -l)
parts=$(awk '{print $1}' "$T/kcat-out.txt" | sort -u | tr '\n' ' ')
if [ "$count" -eq 300 ] && [ "$keys" -eq 300 ]; then
        ok "kcat group member consumes all 300 (partitions: $parts)"
else
        not_ok "kcat group member consumes all 300 (got $count, $keys keys)"
        tail -5 "$T/kcat-err.txt"
fi
check "messages came from all 3 partitions" test "$parts" = "0 1 2 "
check "key and value stay paired" \
        awk '"key" substr($3, 6) != $2 { exit 1 }' "$T/kcat-out.txt"

# --- python3-kafka: producer, group consumer, commits ---------------------
# The producer probes the broker version itself; the consumers name it.
cat >"$T/produce.py" <<'EOF'
import sys
from kafka import KafkaProducer

bootstrap, topic, first, count = sys.argv[1:5]
producer = KafkaProducer(bootstrap_servers=bootstrap.split(","))
futures = [producer.send(topic, key=b"k%d" % i, value=b"v%d" % i)
           for i in range(int(first), int(first) + int(count))]
producer.flush(timeout=20)
for f in futures:
    f.get(timeout=20)  # raises if a message was not delivered
print(producer.config["api_version"])
producer.close()
EOF
cat >"$T/consume.py" <<'EOF'
import sys, time
from kafka import KafkaConsumer

bootstrap, topic, group, want, wait_s = sys.argv[1:6]
consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap.split(","),
                         group_id=group, api_version=(2, 3, 0),
                         auto_offset_reset="earliest",
                         enable_auto_commit=False,
                         # A member joining soon after another left waits
                         # for the mock's rebalance timer, which is the
                         # session timeout: keep it short.
                         session_timeout_ms=6000, heartbeat_interval_ms=1000)
keys = []
deadline = time.time() + float(wait_s)
while time.time() < deadline and len(keys) < int(want):
    for records in consumer.poll(timeout_ms=200).values():
        keys.extend(r.key.decode() for r in records)
if keys:
    consumer.commit()
consumer.close()
print(" ".join(sorted(keys, key=lambda k: int(k[1:]))))
EOF

api=$("$PY" "$T/produce.py" "$EK_BOOTSTRAP" pyevents 0 100 2>"$T/py.err")
check "python3-kafka produces 100 messages (probed api_version $api)" \
        test -n "$api"
kcat -b "$EK_BOOTSTRAP" -L -t pyevents >"$T/md2.txt" 2>&1
check "an unknown topic is auto-created with 4 partitions" \
        grep -q 'topic "pyevents" with 4 partitions' "$T/md2.txt"

got=$("$PY" "$T/consume.py" "$EK_BOOTSTRAP" pyevents py-group 100 30 \
        2>>"$T/py.err")
check "python3-kafka group consumer gets all 100 and commits" \
        test "$(wc -w <<<"$got")" -eq 100

"$PY" "$T/produce.py" "$EK_BOOTSTRAP" pyevents 100 5 >/dev/null \
        2>>"$T/py.err"
got=$("$PY" "$T/consume.py" "$EK_BOOTSTRAP" pyevents py-group 6 15 \
        2>>"$T/py.err")
if [ "$got" = "k100 k101 k102 k103 k104" ]; then
        ok "second consumer in the group gets only the 5 uncommitted"
else
        not_ok "second consumer in the group gets only the 5 uncommitted (got: ${got:0:80})"
        tail -5 "$T/py.err"
fi

# --- control channel ------------------------------------------------------
b1=${EK_BOOTSTRAP%%,*}
check "broker down 1 is answered ok" \
        test "$(ek_ctl 'broker down 1')" = "ok broker 1 down"
check "broker 1 refuses connections while down" \
        bash -c '! kcat -b "$1" -L -m 2 >/dev/null 2>&1' _ "$b1"
check "broker up 1 is answered ok" \
        test "$(ek_ctl 'broker up 1')" = "ok broker 1 up"
check "broker 1 serves metadata again" \
        bash -c 'kcat -b "$1" -L -m 5 -t events >/dev/null 2>&1' _ "$b1"

reply=$(ek_ctl "errors Produce NOT_LEADER_FOR_PARTITION")
check "pushed Produce error is acknowledged" \
        test "$reply" = "ok Produce pushed 1: NOT_LEADER_FOR_PARTITION"
echo "k:retried" | kcat -b "$EK_BOOTSTRAP" -P -t events -p 0 -K: \
        -X debug=msg >/dev/null 2>"$T/retry.txt"
check "next produce gets NOT_LEADER_FOR_PARTITION and is retried" \
        grep -q 'Not leader for partition' "$T/retry.txt"
check "the retried message is stored once" \
        test "$(kcat -b "$EK_BOOTSTRAP" -C -t events -p 0 -e -q |
                grep -c '^retried$')" -eq 1

reply=$(ek_ctl "errors NoSuchApi 7")
rc=$?
check "a bad command is answered 'error ...' with non-zero status" \
        test "$rc" -eq 1 -a "${reply%% *}" = error

check "topic-error makes the topic unavailable in metadata" \
        test "$(ek_ctl 'topic-error pyevents UNKNOWN_TOPIC_OR_PART')" = \
        "ok topic pyevents UNKNOWN_TOPIC_OR_PART"
kcat -b "$EK_BOOTSTRAP" -L -t pyevents >"$T/md3.txt" 2>&1
check "metadata reports Unknown topic for pyevents" \
        grep -q 'Unknown topic or partition' "$T/md3.txt"

# --- stop -----------------------------------------------------------------
sock=$EK_CONTROL
pid=$EK_PID
ek_stop
rc=$?
check "SIGTERM stops embedded-kafka with status 0" test "$rc" -eq 0
check "the process is gone" bash -c '! kill -0 "$1" 2>/dev/null' _ "$pid"
check "the control socket is removed" test ! -e "$sock"

finish
