#!/usr/bin/python3
"""Prints the worker's outcomes and dead letters as they arrive, one readable
line each. Used by deploy/local/run.sh.

  watch.py BOOTSTRAP OUTPUT_TOPIC DEAD_TOPIC [--expect N] [--timeout S]

With --expect N it exits 0 once N messages were seen (1 on timeout)."""
import argparse
import json
import sys
import time

from kafka import KafkaConsumer

p = argparse.ArgumentParser()
p.add_argument("bootstrap")
p.add_argument("output")
p.add_argument("dead")
p.add_argument("--expect", type=int, default=0)
p.add_argument("--timeout", type=float, default=120)
a = p.parse_args()

c = KafkaConsumer(a.output, a.dead, bootstrap_servers=a.bootstrap, api_version=(2, 5, 0),
                  auto_offset_reset="earliest", enable_auto_commit=False,
                  consumer_timeout_ms=500)
seen = 0
start = time.monotonic()
tty = sys.stdout.isatty()
green, red, dim, off = ("\033[32m", "\033[31m", "\033[2m", "\033[0m") if tty else ("",) * 4


def outcome_line(key, v):
    extra = ""
    if v.get("outcome") == "conversation":
        extra = f" conversationId={v.get('conversationId')}"
    elif v.get("outcome") == "engagement":
        d = (v.get("engagementDetails") or [{}])[0]
        extra = f" engagementId={d.get('engagementId')} campaignId={d.get('campaignId')}"
    return (f"{green}OUTCOME{off}  {v['eventId']:<24} {v['outcome']:<17} HTTP {v['httpStatus']}, "
            f"{v['attempts']} attempt(s), key={key}{extra} {dim}sid={v.get('sessionId')}{off}")


try:
    while True:
        for rec in c:
            key = rec.key.decode(errors="replace") if rec.key is not None else "-"
            if rec.topic == a.output:
                print(outcome_line(key, json.loads(rec.value)), flush=True)
            else:
                h = {k: v.decode(errors="replace") for k, v in rec.headers or []}
                status = f" HTTP {h['error.httpStatus']}" if "error.httpStatus" in h else ""
                print(f"{red}DEAD{off}     {h.get('eventId', '?'):<24} {h.get('error.kind'):<17}"
                      f"{status}, {h.get('error.attempts')} attempt(s), key={key}: "
                      f"{h.get('error.message')}", flush=True)
            seen += 1
        if a.expect and seen >= a.expect:
            sys.exit(0)
        if a.expect and time.monotonic() - start > a.timeout:
            print(f"watch: only {seen} of {a.expect} messages after {a.timeout:.0f} s", file=sys.stderr)
            sys.exit(1)
except KeyboardInterrupt:
    pass
