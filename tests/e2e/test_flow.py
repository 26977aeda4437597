#!/usr/bin/python3
"""End to end: flow properties of the worker.

- events of one key reach the API one at a time, in offset order;
- a key waiting on a retry holds back only its own later events;
- backpressure keeps memory flat and in-flight requests within
  monitoring.max_in_flight when the API is slow: the worker holds at
  queue_high_watermark and, when a hold outlasts worker.hold_max_ms, pauses
  fetching;
- a worker that reaches the high watermark over and over holds and
  releases without ever pausing fetching, and loses, repeats or reorders
  nothing;
- an idle worker uses (almost) no CPU.

Everything is judged from outside: the output and dead-letter topics, the
simulator's request log, /proc. In the request log, "time" is when the
simulator received the request (wall clock, ms) and "delayMs" the latency it
added before answering, so a request occupies [time, time + delayMs].
"""

import calendar
import contextlib
import http.client
import json
import os
import re
import shutil
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD, Stack, by_event, run  # noqa: E402

ENGAGEMENT_PATH_END = "/engagement"


# --- helpers ---------------------------------------------------------------

def wall_ms(ts):
    """RFC 3339 UTC with milliseconds ("2026-11-24T06:39:28.131Z") to epoch
    milliseconds."""
    secs = calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))
    frac = ts[19:].rstrip("Z")
    millis = int(round(float(frac) * 1000)) if frac else 0
    return secs * 1000 + millis


def engagement_requests(stack):
    """The simulator's engagement calls, in the order it logged them."""
    return [r for r in stack.sim_requests() if r.get("path", "").endswith(ENGAGEMENT_PATH_END)]


def request_sub(req):
    body = req.get("body")
    if not isinstance(body, dict):
        return None
    ids = body.get("identities") or []
    return ids[0].get("sub") if ids else body.get("consumerId")


def by_sub(reqs):
    out = {}
    for r in reqs:
        out.setdefault(request_sub(r), []).append(r)
    return out


# The simulator's clocks tick in whole milliseconds (its "time" is the wall
# clock truncated, its latency timer a truncated monotonic deadline), so an
# answer may leave up to ~1 ms before time + delayMs; and the latency runs on
# the monotonic clock while "time" is wall time, which NTP may slew by up to
# 0.05%. Measured without slack: a 2 s latency showed 54 "concurrent"
# requests for 50 slots; with 1 ms, 50.
CLOCK_SLACK_MS = 2


def answered_ms(req):
    """Earliest wall-clock ms at which req can have been answered."""
    delay = int(req["delayMs"])
    return wall_ms(req["time"]) + delay - CLOCK_SLACK_MS - delay // 1000


def overlaps(reqs):
    """Pairs (earlier, later) of consecutive requests where the later one was
    received before the earlier one had been answered."""
    bad = []
    for prev, cur in zip(reqs, reqs[1:]):
        if wall_ms(cur["time"]) < answered_ms(prev):
            bad.append((prev, cur))
    return bad


def max_concurrency(reqs):
    """Most requests the simulator held at once, each occupying the half-open
    interval [time, answered_ms)."""
    points = []
    for r in reqs:
        start = wall_ms(r["time"])
        end = answered_ms(r)
        if end > start:
            points.append((start, 1))
            points.append((end, -1))
    points.sort()  # at equal times -1 sorts first: an end frees the slot
    cur = best = 0
    for _, d in points:
        cur += d
        best = max(best, cur)
    return best


def sim_config(stack, settings):
    """POST /_sim/config on the simulator (loopback, no proxy)."""
    u = urllib.parse.urlsplit(stack.sim_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request("POST", "/_sim/config", body=json.dumps(settings),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        text = resp.read().decode()
    finally:
        conn.close()
    if resp.status != 200:
        raise AssertionError(f"POST /_sim/config {settings}: {resp.status} {text}")
    return json.loads(text)


def event(event_id, sub, vid=None, **extra):
    ev = {"eventId": event_id, "identities": [{"acr": "0", "sub": sub}]}
    if vid is not None:
        ev["visitorId"] = vid
    ev.update(extra)
    return ev


@contextlib.contextmanager
def stack_of(**kw):
    """A Stack that is closed in any case; its directory (logs, request log)
    is removed when the test passed and kept, and named, when it failed."""
    stack = Stack(**kw)
    try:
        yield stack
    except BaseException:
        stack.close()
        print(f"\n  logs kept in {stack.dir}", file=sys.stderr)
        raise
    stack.close()
    shutil.rmtree(stack.dir, ignore_errors=True)


def sanitized_build():
    """True when the binaries under test were built with EW_SANITIZE (their
    memory use says nothing about the worker's)."""
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            return any(line.strip() in ("EW_SANITIZE:BOOL=ON", "EW_SANITIZE:BOOL=TRUE")
                       for line in f)
    except OSError:
        return False


def thread_cpu_seconds(pid, tid=None):
    """CPU time (user + system) of one thread; the main thread by default."""
    with open(f"/proc/{pid}/task/{tid or pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_assigned(test, worker, timeout=30):
    test.assertTrue(worker.wait_log("assigned ", timeout=timeout),
                    f"worker got no partitions:\n{worker.log_text()[-2000:]}")


def backpressure_lines(log):
    """The worker's backpressure log lines, in order, as (what, waiting,
    ms) with what one of "holding", "releasing", "pausing" (ms: how long
    the hold lasted, None when it paused without holding), "resuming"."""
    out = []
    for m in re.finditer(r"(\d+) events waiting(?:, held for (\d+) ms)?: (holding|releasing|"
                         r"pausing fetch|resuming fetch)(?: after (\d+) ms held)?", log):
        what = m.group(3).split()[0]
        ms = m.group(2) or m.group(4)
        out.append((what, int(m.group(1)), int(ms) if ms else None))
    return out


def consumed_count(log):
    """The "consumed N" of the worker's last stats line (at shutdown)."""
    found = re.findall(r"consumed (\d+), outcomes", log)
    return int(found[-1]) if found else None


def exactly_once(test, records, expected_ids, what):
    """Each expected eventId has exactly one record, and there are no others."""
    got = by_event(records)
    missing = sorted(set(expected_ids) - set(got))
    extra = sorted(set(got) - set(expected_ids))
    dups = sorted(e for e, rs in got.items() if len(rs) > 1)
    test.assertEqual(missing, [], f"{what}: {len(missing)} events without a message, e.g. {missing[:5]}")
    test.assertEqual(extra, [], f"{what}: messages for unknown events, e.g. {extra[:5]}")
    test.assertEqual(dups, [], f"{what}: {len(dups)} events with several messages, e.g. {dups[:5]}")
    return got


# --- 0. the checkers themselves ----------------------------------------------

def fake_request(t_ms, delay_ms, vid="v"):
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_ms // 1000)) + f".{t_ms % 1000:03d}Z"
    return {"time": ts, "delayMs": delay_ms, "query": {"vid": vid}}


class Checkers(unittest.TestCase):
    """The log checks catch what they are meant to (no processes)."""

    def test_wall_ms(self):
        self.assertEqual(wall_ms("1970-01-01T00:00:01.234Z"), 1234)
        self.assertEqual(wall_ms("2026-11-24T23:59:59.999Z") + 1, wall_ms("2026-11-25T00:00:00.000Z"))

    def test_overlaps(self):
        t = 1_800_000_000_000
        serial = [fake_request(t, 20), fake_request(t + 20, 5), fake_request(t + 26, 40)]
        self.assertEqual(overlaps(serial), [])
        self.assertEqual(overlaps([fake_request(t, 20), fake_request(t + 19, 5)]), [],
                         "1 ms early is the simulator's clock, not an overlap")
        parallel = [fake_request(t, 20), fake_request(t + 3, 20), fake_request(t + 30, 5)]
        self.assertEqual(len(overlaps(parallel)), 1)

    def test_max_concurrency(self):
        t = 1_800_000_000_000
        window = [fake_request(t + i, 2000) for i in range(50)]
        refill = [fake_request(t + 2000 + i, 2000) for i in range(50)]  # each as one ends
        self.assertEqual(max_concurrency(window + refill), 50)
        self.assertEqual(max_concurrency(window + refill + [fake_request(t + 1000, 2000)]), 51)
        self.assertEqual(max_concurrency([fake_request(t, 0)] * 10), 0, "instant answers")


# --- 1. per-key ordering ----------------------------------------------------

class PerKeyOrdering(unittest.TestCase):
    KEYS, PER_KEY = 100, 20

    def test_one_request_per_key_at_a_time_in_offset_order(self):
        with stack_of(partitions=3, sim_args=["--latency-ms", "5", "--latency-jitter-ms", "35"]) as stack:
            w = stack.worker(monitoring={"max_in_flight": 64, "timeout_ms": 5000})
            events, ids = [], []
            # Round robin over keys: one key's events are spread over the
            # input, interleaved with everybody else's.
            for seq in range(self.PER_KEY):
                for k in range(self.KEYS):
                    eid = f"ord-{k:03d}-{seq:02d}"
                    ids.append(eid)
                    events.append((f"key-{k:03d}", event(eid, f"ord-{k:03d}", vid=f"v-{eid}")))
            meta = stack.produce(events)
            where = {eid: (m.partition, m.offset) for eid, m in zip(ids, meta)}
            out = stack.outcomes(len(ids), timeout=120, min_wait=1.0)
            dead = stack.dead_letters(0, timeout=3.0, min_wait=1.0)
            self.assertEqual(w.stop(), 0, "clean shutdown")

            self.assertEqual(dead, [], "no event should fail")
            got = exactly_once(self, out, ids, "outcomes")
            for eid, (rec,) in got.items():
                src = rec.json["source"]
                self.assertEqual((src["partition"], src["offset"]), where[eid], f"source of {eid}")

            reqs = by_sub(engagement_requests(stack))
            self.assertEqual(len(reqs), self.KEYS, "every key called the API")
            checked = 0
            for k in range(self.KEYS):
                sub = f"ord-{k:03d}"
                seen = reqs.get(sub, [])
                vids = [r["query"].get("vid") or "" for r in seen]
                self.assertEqual(len(seen), self.PER_KEY,
                                 f"{sub}: one request per event, got vids {vids}")
                self.assertTrue(all(v[2:] in where for v in vids), f"{sub}: vids {vids}")
                offsets = [where[v[2:]] for v in vids]
                self.assertEqual(len({p for p, _ in offsets}), 1, f"{sub}: one partition")
                self.assertEqual(offsets, sorted(offsets),
                                 f"{sub}: requests not in offset order: {vids}")
                bad = overlaps(seen)
                self.assertEqual(
                    bad, [],
                    f"{sub}: a request arrived while the key's previous one was still "
                    f"being answered (time/delayMs): "
                    + "; ".join(f"{a['query'].get('vid')} {a['time']}+{a['delayMs']}ms then "
                                f"{b['query'].get('vid')} {b['time']}" for a, b in bad[:3]))
                checked += len(seen) - 1
            # The simulator's latency really was random: reordering had room.
            delays = [int(r["delayMs"]) for rs in reqs.values() for r in rs]
            self.assertGreater(max(delays) - min(delays), 20, "latency spread")
            self.assertEqual(checked, self.KEYS * (self.PER_KEY - 1))


# --- 2. a retry blocks only its own key ---------------------------------------

class RetryBlocksOnlyItsKey(unittest.TestCase):
    DELAY_MS = 4000
    OTHERS, PER_OTHER = 60, 5

    def test_other_keys_flow_while_one_waits(self):
        scenario = {"default": "expose",
                    "rules": [{"match": {"sub": "retry-A"}, "behaviour": "fail", "count": 1,
                               "status": 503, "then": "expose"}]}
        with stack_of(partitions=3, scenario=scenario) as stack:
            w = stack.worker(retry={"delays_ms": [self.DELAY_MS, self.DELAY_MS], "jitter": 0.0})
            events = [("key-A", event("A-1", "retry-A", vid="v-A-1"))]
            others = []
            for s in range(self.PER_OTHER):
                for k in range(self.OTHERS):
                    eid = f"o-{k:02d}-{s}"
                    others.append(eid)
                    events.append((f"key-o{k:02d}", event(eid, f"other-{k:02d}")))
            events.append(("key-A", event("A-2", "retry-A", vid="v-A-2")))
            meta = stack.produce(events)
            a_part, a_off = meta[0].partition, meta[0].offset
            behind_a = sum(1 for m in meta[1:-1] if m.partition == a_part and m.offset > a_off)
            self.assertGreater(behind_a, 10, "other keys' events queue behind A-1 in its partition")

            out = stack.outcomes(len(events), timeout=60, min_wait=0.5)
            self.assertEqual(w.stop(), 0, "clean shutdown")
            got = exactly_once(self, out, others + ["A-1", "A-2"], "outcomes")

            a = [r for r in engagement_requests(stack) if request_sub(r) == "retry-A"]
            summary = [(r["query"].get("vid"), r["status"], r["time"]) for r in a]
            self.assertEqual([(v, s if s == 503 else s // 100 * 100) for v, s, _ in summary],
                             [("v-A-1", 503), ("v-A-1", 200), ("v-A-2", 200)],
                             f"A's calls (vid, status, time): {summary}")
            first, retry, second = (wall_ms(r["time"]) for r in a)
            self.assertGreaterEqual(retry - first, self.DELAY_MS - 10,
                                    "A-1's retry waited retry.delays_ms[0]")
            self.assertEqual(got["A-1"][0].json["attempts"], 2)

            # Every other key finished while A-1 waited for its retry.
            last = max(wall_ms(got[e][0].json["completedAt"]) for e in others)
            print(f"\n  retry: other keys done {last - first} ms after A-1's first call, "
                  f"{retry - last} ms before its retry", file=sys.stderr)
            late = sorted((wall_ms(got[e][0].json["completedAt"]) - retry, e) for e in others
                          if wall_ms(got[e][0].json["completedAt"]) >= retry)
            self.assertEqual(late, [],
                             f"{len(late)} other-key outcomes completed only after A's retry "
                             f"(ms after it, eventId): {late[:5]}")
            other_reqs = [r for r in engagement_requests(stack) if request_sub(r) != "retry-A"]
            self.assertEqual(len(other_reqs), len(others))
            self.assertLess(max(wall_ms(r["time"]) for r in other_reqs), retry)

            # A-2 waited behind A-1's retry: asked only once that was answered.
            self.assertGreaterEqual(second, answered_ms(a[1]),
                                    "A-2 requested before A-1's retry was answered")
            self.assertGreaterEqual(second - first, self.DELAY_MS - 10,
                                    "A-2 overtook A-1 while it waited for its retry")
            self.assertGreaterEqual(wall_ms(got["A-2"][0].json["completedAt"]),
                                    wall_ms(got["A-1"][0].json["completedAt"]))


# --- 3. backpressure ----------------------------------------------------------

class Backpressure(unittest.TestCase):
    COUNT = 20000
    MAX_IN_FLIGHT, HIGH, LOW = 50, 200, 100
    LATENCY_MS = 2000
    # 50 calls per 2 s: going from the high to the low watermark takes 4 s,
    # so every hold outlasts hold_max_ms and becomes a pause.
    HOLD_MAX_MS = 2000
    SAMPLE_S, SAMPLES, WARMUP = 0.5, 40, 8   # 20 s of samples, first 4 s warm-up
    # Measured (2 cores): baseline ~13 MiB, peak ~21 MiB, spread after
    # warm-up < 0.1 MiB. With fetching never paused (watermarks 1000000) the
    # worker takes all 20,000 events in at once: peak ~90 MiB.
    MAX_RSS_KIB = 64 * 1024
    MAX_GROWTH_KIB = 24 * 1024
    MAX_SPREAD_KIB = 4 * 1024

    def test_slow_api_memory_flat_in_flight_bounded(self):
        with stack_of(partitions=6, sim_args=["--latency-ms", str(self.LATENCY_MS)]) as stack:
            w = stack.worker(
                monitoring={"max_in_flight": self.MAX_IN_FLIGHT, "timeout_ms": 20000},
                worker={"queue_high_watermark": self.HIGH, "queue_low_watermark": self.LOW,
                        "hold_max_ms": self.HOLD_MAX_MS, "shutdown_timeout_ms": 5000},
                log={"level": "info"})
            wait_assigned(self, w)
            time.sleep(1.0)
            baseline = w.rss_kib()

            ids = [f"bp-{i:05d}" for i in range(self.COUNT)]
            # Small events (about 80 bytes): 20,000 over 6 partitions stay far
            # below the mock's 5 MiB per partition.
            stack.produce((f"k{i:05d}", event(eid, f"s{i:05d}")) for i, eid in enumerate(ids))

            rss = []
            for _ in range(self.SAMPLES):
                self.assertTrue(w.alive(), "worker died")
                rss.append(w.rss_kib())
                time.sleep(self.SAMPLE_S)
            slow_reqs = len(engagement_requests(stack))
            slow_log = w.log_text()

            # The API gets fast again; everything must come out, once.
            sim_config(stack, {"latencyMs": 0})
            out = stack.outcomes(self.COUNT, timeout=120, min_wait=1.0)
            dead = stack.dead_letters(0, timeout=3.0, min_wait=1.0)
            self.assertEqual(w.stop(), 0, "clean shutdown")

            log = w.log_text()
            steady = rss[self.WARMUP:]
            report = f"RSS KiB: baseline {baseline}, samples every {self.SAMPLE_S} s {rss}"
            print(f"\n  backpressure: baseline {baseline} KiB, max {max(rss)} KiB, "
                  f"steady spread {max(steady) - min(steady)} KiB, "
                  f"{slow_reqs} calls while slow", file=sys.stderr)
            # Backpressure engaged: while the API was slow the worker held
            # at the high watermark, the holds (longer than hold_max_ms with
            # this API) became pauses, and fetching resumed at the low
            # watermark. Once the API is fast, holds end by a release.
            kinds = [k for k, _, _ in backpressure_lines(slow_log)]
            self.assertIn("holding", kinds, "the worker never held")
            self.assertIn("pausing", kinds, "a long hold never became a pause")
            self.assertIn("resuming", kinds, "the worker never resumed fetching")
            self.assertNotIn("releasing", kinds,
                             "a hold ended within hold_max_ms although the API takes 4 s "
                             "to drain it")
            lines = backpressure_lines(log)
            for (k0, _, _), (k1, n1, ms1) in zip(lines, lines[1:]):
                if k1 == "pausing":
                    self.assertEqual(k0, "holding", f"paused without holding first: {lines}")
                    self.assertGreaterEqual(ms1, self.HOLD_MAX_MS,
                                            f"paused after a hold of {ms1} ms")
                if k1 == "resuming":
                    self.assertLessEqual(n1, self.LOW, "resumed above the low watermark")
            most = max(n for k, n, _ in lines if k in ("holding", "pausing"))
            self.assertLessEqual(most, self.HIGH,
                                 f"the worker held {most} events (high watermark {self.HIGH})")
            # Each message was handed over once: none was refetched after a
            # pause (a pause refetches from after the last message taken).
            self.assertEqual(consumed_count(log), self.COUNT, "events taken")
            self.assertNotIn("out of order", log)
            if sanitized_build():
                print("  sanitizer build: RSS bounds not checked", file=sys.stderr)
            else:
                self.assertLess(max(rss), self.MAX_RSS_KIB, "RSS too high; " + report)
                self.assertLess(max(rss) - baseline, self.MAX_GROWTH_KIB,
                                "RSS grew with the backlog; " + report)
                self.assertLess(max(steady) - min(steady), self.MAX_SPREAD_KIB,
                                "RSS not flat after warm-up; " + report)
            self.assertEqual(dead, [], "no event should fail")
            exactly_once(self, out, ids, "outcomes")
            reqs = engagement_requests(stack)
            self.assertEqual(len(reqs), self.COUNT, "one API call per event")
            peak = max_concurrency(reqs)
            self.assertLessEqual(peak, self.MAX_IN_FLIGHT,
                                 f"{peak} requests in flight at once (max_in_flight "
                                 f"{self.MAX_IN_FLIGHT})")
            self.assertGreaterEqual(peak, self.MAX_IN_FLIGHT * 8 // 10,
                                    "the slow API should have filled the window")


class HoldWithoutPause(unittest.TestCase):
    """A backlog already in Kafka, small watermarks and a fast API: the worker
    reaches queue_high_watermark again and again. Each time it holds (takes
    no messages; librdkafka keeps the partitions fetched) and, at the low
    watermark, takes again from what librdkafka already holds. It never
    pauses fetching: after a resume librdkafka 2.0.2 fetches again only
    after up to a second, which left the worker idle on every cycle (see
    tests/bench/README.md). Speed is the benchmark's business; this checks
    the behaviour: holds and releases, no pause, nothing lost, nothing
    repeated, each key in offset order."""
    KEYS, PER_KEY = 200, 25
    MAX_IN_FLIGHT, HIGH, LOW = 50, 150, 50
    # A hold lasts as long as 100 calls (milliseconds here); far more than
    # that so a busy machine does not turn one into a pause.
    HOLD_MAX_MS = 10000

    def test_holds_and_releases_without_pausing(self):
        with stack_of(partitions=3, sim_args=["--latency-ms", "2"]) as stack:
            events, ids = [], []
            for seq in range(self.PER_KEY):
                for k in range(self.KEYS):
                    eid = f"hold-{k:03d}-{seq:02d}"
                    ids.append(eid)
                    events.append((f"key-{k:03d}", event(eid, f"hold-{k:03d}", vid=f"v-{eid}")))
            meta = stack.produce(events)  # the backlog, before the worker starts
            where = {eid: (m.partition, m.offset) for eid, m in zip(ids, meta)}
            w = stack.worker(
                monitoring={"max_in_flight": self.MAX_IN_FLIGHT},
                worker={"queue_high_watermark": self.HIGH, "queue_low_watermark": self.LOW,
                        "hold_max_ms": self.HOLD_MAX_MS})
            out = stack.outcomes(len(ids), timeout=120, min_wait=1.0)
            dead = stack.dead_letters(0, timeout=3.0, min_wait=1.0)
            self.assertEqual(w.stop(), 0, "clean shutdown")
            log = w.log_text()

            lines = backpressure_lines(log)
            holds = [n for k, n, _ in lines if k == "holding"]
            releases = [(n, ms) for k, n, ms in lines if k == "releasing"]
            print(f"\n  {len(holds)} holds, {len(releases)} releases, longest hold "
                  f"{max([ms for _, ms in releases] or [0])} ms", file=sys.stderr)
            # 5,000 events, 100 taken per cycle: about 50 cycles.
            self.assertGreaterEqual(len(holds), 10, "the worker rarely reached the high watermark")
            self.assertEqual([k for k, _, _ in lines if k in ("pausing", "resuming")], [],
                             "the worker paused fetching")
            self.assertGreaterEqual(len(releases), len(holds) - 1, "holds that never ended")
            self.assertEqual([k for k, _, _ in lines[::2]], ["holding"] * len(lines[::2]))
            self.assertEqual([k for k, _, _ in lines[1::2]], ["releasing"] * len(lines[1::2]))
            self.assertLessEqual(max(holds), self.HIGH, "took more than the high watermark")
            self.assertLessEqual(max(n for n, _ in releases), self.LOW,
                                 "took again above the low watermark")

            self.assertEqual(dead, [], "no event should fail")
            got = exactly_once(self, out, ids, "outcomes")
            for eid, (rec,) in got.items():
                src = rec.json["source"]
                self.assertEqual((src["partition"], src["offset"]), where[eid], f"source of {eid}")
            self.assertEqual(consumed_count(log), len(ids), "events taken (each once)")
            self.assertNotIn("out of order", log)
            reqs = by_sub(engagement_requests(stack))
            self.assertEqual(len(reqs), self.KEYS, "every key called the API")
            for k in range(self.KEYS):
                seen = reqs[f"hold-{k:03d}"]
                vids = [r["query"].get("vid") or "" for r in seen]
                self.assertEqual(len(seen), self.PER_KEY, f"key {k}: one call per event: {vids}")
                offsets = [where.get(v[2:]) for v in vids]
                self.assertNotIn(None, offsets, f"key {k}: vids {vids}")
                self.assertEqual(offsets, sorted(offsets), f"key {k}: calls not in offset order")


# --- 4. idle CPU ----------------------------------------------------------------

class IdleCpu(unittest.TestCase):
    IDLE_S = 10.0
    MAX_CPU_S = 0.1       # whole process, librdkafka's threads included
    MAX_MAIN_CPU_S = 0.05  # the worker's own loop (main thread): ~1 wake-up/s
    AFTER_WORK_S = 5.0

    def measure(self, w, seconds):
        before, main_before = w.cpu_seconds(), thread_cpu_seconds(w.proc.pid)
        time.sleep(seconds)
        self.assertTrue(w.alive(), "worker died")
        return w.cpu_seconds() - before, thread_cpu_seconds(w.proc.pid) - main_before

    def test_idle_worker_sleeps(self):
        with stack_of(partitions=3) as stack:
            w = stack.worker()
            wait_assigned(self, w)
            time.sleep(1.0)  # let the assignment settle (first fetches, commits)
            used, main = self.measure(w, self.IDLE_S)
            print(f"\n  idle: {used:.3f} CPU s ({main:.3f} s main thread) in {self.IDLE_S:.0f} s",
                  file=sys.stderr)
            self.assertLess(used, self.MAX_CPU_S,
                            f"idle worker used {used:.3f} CPU seconds in {self.IDLE_S} s")
            self.assertLess(main, self.MAX_MAIN_CPU_S,
                            f"idle worker's loop used {main:.3f} CPU seconds in {self.IDLE_S} s")

            # Idle again after some work: no timer or connection left spinning.
            ids = [f"idle-{i}" for i in range(20)]
            stack.produce((f"k{i}", event(eid, f"idle-{i}")) for i, eid in enumerate(ids))
            exactly_once(self, stack.outcomes(len(ids), timeout=30), ids, "outcomes")
            time.sleep(1.5)  # offsets commit within a second
            used, main = self.measure(w, self.AFTER_WORK_S)
            print(f"  idle after work: {used:.3f} CPU s ({main:.3f} s main thread) "
                  f"in {self.AFTER_WORK_S:.0f} s", file=sys.stderr)
            bound = self.MAX_CPU_S * self.AFTER_WORK_S / self.IDLE_S
            self.assertLess(used, bound, f"worker used {used:.3f} CPU seconds idling after work")
            self.assertLess(main, self.MAX_MAIN_CPU_S,
                            f"worker's loop used {main:.3f} CPU seconds idling after work")
            self.assertEqual(w.stop(), 0, "clean shutdown")


if __name__ == "__main__":
    run("__main__")
