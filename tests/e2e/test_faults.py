#!/usr/bin/python3
"""End to end: the fault matrix.

Each test runs embedded-kafka, monitoring-sim and the worker as separate
processes, produces thousands of events over hundreds of keys, injects one
kind of fault while the stream is flowing, lifts it, and then checks the
ledger:

- every input eventId has at least one terminal message (an outcome or a
  dead letter), none is missing and nothing unknown was published;
- duplicates are counted and bounded (each test states its bound and why);
- the group's committed offsets reach the end of every input partition;
- where the fault holds messages back, committed offsets sampled during the
  fault never cover an event whose terminal message was not yet in the log.

Faults: a partition leader's broker down and back; request errors on
Produce, Fetch, OffsetCommit, Heartbeat and JoinGroup, and SIGTERM during
the rejoin they cause; the output topic leaderless; the Monitoring API
refusing connections, answering past the timeout, cutting answers short,
failing half of its calls, sending Retry-After; SIGTERM while retries and
long calls are in flight.

Run: EW_BUILD_DIR=build /usr/bin/python3 tests/e2e/test_faults.py (needs
embedded-kafka, monitoring-sim and engagement-worker built there).

docs/reliability.md describes the matrix and what was measured.
"""

import calendar
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest
import urllib.parse
from collections import Counter, defaultdict
from contextlib import contextmanager

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BUILD, DEAD, KAFKA_API, OUTPUT, Record,  # noqa: E402
                     Stack, _first_line, identity_event, run)

from kafka import KafkaConsumer, TopicPartition  # noqa: E402

# Throughput is set by the API: at most MAX_IN_FLIGHT calls at once, each
# about LATENCY_MS long, so roughly 20 / 0.0225 s = 900 answers/s. A stream of
# 6,000 events then lasts several seconds: long enough to hit it mid-way.
MAX_IN_FLIGHT = 20
LATENCY_MS = 20
LATENCY_JITTER_MS = 5
SIM_ARGS = ["--latency-ms", str(LATENCY_MS), "--latency-jitter-ms", str(LATENCY_JITTER_MS)]
HIGH_WATERMARK, LOW_WATERMARK = 300, 150
SHUTDOWN_TIMEOUT_MS = 3000
RETRY_DELAYS_MS = [100, 200, 300, 400]
ATTEMPTS_MAX = len(RETRY_DELAYS_MS) + 1
GROUP = "ew-test"
# The harness's librdkafka properties; a test that sets kafka.properties
# replaces the whole map, so it starts from these.
KAFKA_PROPS = {"consumer.session.timeout.ms": "6000", "consumer.heartbeat.interval.ms": "500",
               "topic.metadata.refresh.interval.ms": "2000"}
# The Kafka tests mix outcomes and dead letters (keys named reject-*).
REJECTS = {"default": "expose",
           "rules": [{"match": "reject-*", "behaviour": "reject", "status": 400,
                      "internalCode": 5, "message": "consumerId"}]}


def worker_conf(**extra):
    """The worker settings every test starts from; extra sections merge in."""
    conf = {
        "monitoring": {"max_in_flight": MAX_IN_FLIGHT, "timeout_ms": 2000},
        "retry": {"delays_ms": RETRY_DELAYS_MS, "jitter": 0.0},
        "worker": {"shutdown_timeout_ms": SHUTDOWN_TIMEOUT_MS,
                   "queue_high_watermark": HIGH_WATERMARK,
                   "queue_low_watermark": LOW_WATERMARK},
    }
    for section, values in extra.items():
        conf.setdefault(section, {}).update(values)
    return conf


# --- inputs -------------------------------------------------------------------

def make_events(tag, count, keys, special=None):
    """count events spread over `keys` keys, interleaved. special maps a key
    index to a name prefix that selects a simulator rule. The Kafka key is
    also the identity's sub, which the simulator's rules and per-key counts
    follow."""
    special = special or {}
    out = []
    for i in range(count):
        k = (i * 7919) % keys
        sub = f"{special.get(k, 'u')}-{tag}-{k}"
        out.append((sub, identity_event(f"{tag}-{i:06d}", sub)))
    return out


class Inputs:
    """What was produced: eventId -> (partition, offset) and key; the end
    offset of every input partition."""

    def __init__(self):
        self.where = {}
        self.key = {}
        self.ends = {}

    def add(self, events, metadata):
        for (key, value), md in zip(events, metadata):
            self.where[value["eventId"]] = (md.partition, md.offset)
            self.key[value["eventId"]] = key
            self.ends[md.partition] = max(self.ends.get(md.partition, 0), md.offset + 1)
        return self

    def produce(self, stack, events):
        return self.add(events, stack.produce(events))

    def with_prefix(self, prefix):
        return sorted(e for e, k in self.key.items() if k.startswith(prefix + "-"))

    def __len__(self):
        return len(self.where)


# --- the ledger -----------------------------------------------------------------

class Msg:
    """One terminal message, reduced to what the checks need."""

    __slots__ = ("topic", "partition", "offset", "kind", "attempts", "message", "http",
                 "event_id")

    def __init__(self, rec):
        r = Record(rec)
        self.topic, self.partition, self.offset = rec.topic, rec.partition, rec.offset
        if rec.topic == DEAD:
            self.kind = r.headers.get("error.kind")
            self.attempts = int(r.headers.get("error.attempts", "-1"))
            self.message = r.headers.get("error.message", "")
            self.http = r.headers.get("error.httpStatus")
        else:
            self.kind = "outcome:" + str((r.json or {}).get("outcome"))
            self.attempts = int((r.json or {}).get("attempts", -1))
            self.message = ""
            self.http = str((r.json or {}).get("httpStatus"))
        self.event_id = r.event_id

    @property
    def dead(self):
        return self.topic == DEAD


class Ledger:
    """Reads the output and dead-letter topics from the beginning, as they
    grow; keeps every terminal message per eventId."""

    def __init__(self, stack):
        self.consumer = KafkaConsumer(bootstrap_servers=stack.bootstrap, api_version=KAFKA_API,
                                      enable_auto_commit=False, request_timeout_ms=15000,
                                      max_poll_records=5000)
        self.out_parts = [TopicPartition(OUTPUT, p) for p in range(stack.partitions)]
        self.parts = self.out_parts + [TopicPartition(DEAD, 0)]
        self.consumer.assign(self.parts)
        self.consumer.seek_to_beginning(*self.parts)
        self.msgs = defaultdict(list)

    def poll(self, seconds=0.3):
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            batch = self.consumer.poll(timeout_ms=max(1, int(left * 1000)))
            for records in batch.values():
                for rec in records:
                    m = Msg(rec)
                    self.msgs[m.event_id].append(m)
            if time.monotonic() >= deadline:
                return

    def end_offsets(self, parts=None):
        return self.consumer.end_offsets(parts or self.parts)

    def catch_up(self, timeout=20.0):
        """Reads up to the end offsets of the moment; returns them."""
        ends = self.end_offsets()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.consumer.position(tp) >= end for tp, end in ends.items()):
                break
            self.poll(0.2)
        return ends

    def distinct(self):
        return len(self.msgs)

    def wait_for(self, count, timeout):
        deadline = time.monotonic() + timeout
        while self.distinct() < count and time.monotonic() < deadline:
            self.poll(0.2)
        return self.distinct() >= count

    def wait_all(self, inputs, timeout):
        """Polls until every input has a terminal message (or timeout);
        returns the seconds it took."""
        t0 = time.monotonic()
        want = set(inputs.where)
        while time.monotonic() - t0 < timeout:
            if want <= self.msgs.keys():
                break
            self.poll(0.2)
        return time.monotonic() - t0

    def duplicates(self):
        return sum(len(v) - 1 for v in self.msgs.values() if len(v) > 1)

    def kinds(self, ids=None):
        c = Counter()
        for e, ms in self.msgs.items():
            if ids is None or e in ids:
                c[ms[0].kind] += 1
        return c

    def close(self):
        self.consumer.close()


# --- processes and logs ---------------------------------------------------------

def wall_ms(ts):
    """The simulator's RFC 3339 UTC time with milliseconds, as epoch ms."""
    secs = calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))
    frac = ts[19:].rstrip("Z")
    return secs * 1000 + (int(round(float(frac) * 1000)) if frac else 0)


def sim_log(*paths):
    """Engagement requests of one or more simulator logs."""
    out = []
    for path in paths:
        try:
            with open(path) as f:
                for line in f:
                    line = line.strip()
                    if line:
                        r = json.loads(line)
                        if r.get("path", "").endswith("/engagement"):
                            out.append(r)
        except FileNotFoundError:
            pass
    return out


def request_sub(req):
    body = req.get("body")
    if not isinstance(body, dict):
        return None
    ids = body.get("identities") or []
    return ids[0].get("sub") if ids else body.get("consumerId")


def requests_by_sub(reqs):
    out = defaultdict(list)
    for r in reqs:
        out[request_sub(r)].append(r)
    for v in out.values():
        v.sort(key=lambda r: wall_ms(r["time"]))
    return out


def sim_config(stack, body):
    """POST /_sim/config; returns the answer's JSON (fails on non-200)."""
    u = urllib.parse.urlparse(stack.sim_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    try:
        conn.request("POST", "/_sim/config", body=json.dumps(body),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise AssertionError(f"/_sim/config said {resp.status}: {data[:300]!r}")
        return json.loads(data)
    finally:
        conn.close()


def sim_port(stack):
    return urllib.parse.urlparse(stack.sim_url).port


def stop_sim(stack):
    stack.sim.terminate()
    stack.sim.wait(timeout=10)


def start_sim(stack, port, log_path, extra=()):
    """Starts monitoring-sim again on `port` (the one the worker knows),
    logging to log_path (a new file: the simulator truncates its log)."""
    args = [os.path.join(BUILD, "monitoring-sim"), "--port", str(port), "--log", log_path]
    args += SIM_ARGS + list(extra)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                            stderr=open(os.path.join(stack.dir, "sim2.err"), "ab"))
    stack.procs.append(proc)
    line = _first_line(proc, "monitoring-sim (restart)")
    if not line.endswith(f":{port}"):
        raise AssertionError(f"restarted simulator is not on port {port}: {line}")
    stack.sim = proc
    return proc


@contextmanager
def frozen(worker, settle=0.3):
    """Stops the worker process (SIGSTOP) and lets what it already sent reach
    the broker, so the log ends where the worker left it; resumes on exit.
    Used to read exact end offsets right before a fault starts."""
    os.kill(worker.proc.pid, signal.SIGSTOP)
    try:
        time.sleep(settle)
        yield
    finally:
        os.kill(worker.proc.pid, signal.SIGCONT)


def republished(worker):
    """How many times the engine published a terminal message again after a
    failed delivery report (each can add at most one copy to the log)."""
    return len(re.findall(r"not delivered \(.*\); publishing again", worker.log_text()))


def held(worker):
    """Most events the worker held at once, from its backpressure lines."""
    return max([HIGH_WATERMARK] + [int(x) for x in re.findall(r"(\d+) events waiting: pausing",
                                                             worker.log_text())])


def final_stats(worker):
    lines = re.findall(r"consumed (\d+), outcomes (\d+), dead letters (\d+), API calls (\d+), "
                       r"retries (\d+)", worker.log_text())
    if not lines:
        return None
    names = ("consumed", "outcomes", "dead_letters", "api_calls", "retries")
    return dict(zip(names, (int(x) for x in lines[-1])))


def wait_until(pred, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def done_prefix(inputs, published, parts):
    """Per input partition, the offset of its first event without a
    terminal message in `published`: what a worker that commits exactly
    its acknowledged contiguous prefix has committed."""
    prefix = {}
    for p in range(parts):
        offs = sorted((o, e) for e, (q, o) in inputs.where.items() if q == p)
        k = 0
        while k < len(offs) and offs[k][1] in published:
            k += 1
        prefix[p] = offs[k][0] if k < len(offs) else inputs.ends.get(p, 0)
    return prefix


def committed_now(stack):
    """The group's committed offsets, {partition: offset or None}."""
    return stack.committed(GROUP)


class ErrorQueues:
    """embedded-kafka's per-broker error queues (`broker errors`), with the
    means to tell how many of the injected errors are still waiting: a
    NO_ERROR pushed behind them reports the queue's depth; the queue is FIFO
    and the errors went in first, so what was consumed was errors first.
    A probe's NO_ERROR is taken later by some request, harmlessly."""

    def __init__(self, stack, test):
        self.stack, self.test = stack, test
        self.pushed = Counter()  # (broker, api) -> entries pushed so far
        self.errors = Counter()  # (broker, api) -> injected errors among them

    def push(self, broker, api, *errs):
        cmd = f"broker errors {broker} {api} {' '.join(errs)}"
        reply = self.stack.kafka_ctl(cmd)
        self.test.assertTrue(reply.startswith("ok"), f"{cmd}: {reply}")
        self.pushed[broker, api] += len(errs)
        self.errors[broker, api] += len(errs)

    def consumed(self, broker, api):
        """Entries of broker/api taken by requests so far."""
        reply = self.stack.kafka_ctl(f"broker errors {broker} {api} NO_ERROR")
        self.pushed[broker, api] += 1
        depth = int(re.search(r"queued (\d+)", reply).group(1))
        return self.pushed[broker, api] - depth

    def left(self, broker, api):
        """Injected errors of broker/api not yet met by any request."""
        return max(0, self.errors[broker, api] - self.consumed(broker, api))

    def all_left(self):
        out = {}
        for broker, api in sorted(self.errors):
            k = self.left(broker, api)
            if k:
                out[f"{api}@{broker}"] = k
        return out


def note(text):
    print(f"\n  {text}", file=sys.stderr, end="")


# --- checks ----------------------------------------------------------------------

class FaultCase(unittest.TestCase):

    def check_ledger(self, ledger, inputs, dup_bound, why, timeout=60.0):
        """Waits for every input's terminal message, then asserts none is
        missing, none unknown, duplicates <= dup_bound. Returns the
        duplicates."""
        ledger.wait_all(inputs, timeout)
        ledger.catch_up()
        ledger.poll(0.3)
        missing = sorted(set(inputs.where) - set(ledger.msgs))
        unknown = sorted(set(ledger.msgs) - set(inputs.where))
        self.assertEqual(missing, [], f"{len(missing)} of {len(inputs)} events have neither an "
                                      f"outcome nor a dead letter, e.g. "
                                      f"{[(m, inputs.where[m]) for m in missing[:8]]}")
        self.assertEqual(unknown, [], "messages for events that were never produced")
        dups = ledger.duplicates()
        kinds = ledger.kinds()
        note(f"ledger: {len(inputs)} events -> {dict(kinds)}; {dups} duplicate(s) "
             f"(bound {dup_bound}: {why})")
        self.assertLessEqual(dups, dup_bound, f"too many duplicates ({why})")
        return dups

    def check_committed_to_end(self, stack, inputs, timeout=20.0):
        """Committed offsets reach the end of every input partition (auto
        commit runs every second); returns the seconds it took."""
        t0 = time.monotonic()
        got = {}
        while time.monotonic() - t0 < timeout:
            got = committed_now(stack)
            if all(got.get(p) == end for p, end in inputs.ends.items()):
                break
            time.sleep(0.3)
        self.assertEqual({p: got.get(p) for p in inputs.ends}, inputs.ends,
                         "the group's committed offsets do not reach the end of the input")
        return time.monotonic() - t0

    def commit_violations(self, inputs, ledger, committed, frozen_ends=None):
        """Events below a committed offset whose terminal message was not in
        the log when the offsets were read. frozen_ends maps output
        partitions that could not take writes then to their end offset at
        the time: a message there at or past it came later and does not
        count. Call after the ledger has read everything."""
        frozen_ends = frozen_ends or {}
        bad = []
        for e, (p, o) in inputs.where.items():
            c = committed.get(p)
            if c is None or o >= c:
                continue
            ok = False
            for m in ledger.msgs.get(e, ()):
                end = frozen_ends.get(TopicPartition(m.topic, m.partition))
                if end is None or m.offset < end:
                    ok = True
                    break
            if not ok:
                bad.append((e, p, o, c))
        return bad


# --- 1. Kafka: a leader's broker goes down; request errors --------------------------

class BrokerDown(FaultCase):
    def test_partition_leader_broker_down_and_back(self):
        """Three brokers with pinned leaders: broker 2 leads events[1] and
        outcomes[1]. It goes down for DOWN_S mid-stream (connections
        refused), then comes back on the same port. The group coordinator is
        pinned to broker 3 so the fault is the partitions' alone.

        During the outage the worker cannot fetch events[1] nor publish to
        outcomes[1]; outcomes keyed there wait in the producer
        (message.timeout.ms 60 s > DOWN_S), and the committed offsets of every
        input partition must stop short of them: checked against the
        outcome log's end offsets read right before the broker went down.

        Duplicate bound: the worker publishes one message per event and
        publishes again only after a failed delivery report (logged); the
        idempotent producer's own retries are deduplicated by a real broker
        (the mock does not check sequence numbers, so a duplicate here could
        also be the mock's: none was seen). So duplicates <= the number of
        re-publishes the worker logged.
        """
        DOWN_S = 4.0
        n, parts = 6000, 3
        with Stack(partitions=parts, brokers=3, scenario=REJECTS, sim_args=SIM_ARGS) as stack:
            self.assertTrue(stack.kafka_ctl(f"coordinator group {GROUP} 3").startswith("ok"))
            events = make_events("bd", n, 600, {k: "reject" for k in range(0, 600, 20)})
            inputs = Inputs().produce(stack, events)
            ledger = Ledger(stack)
            try:
                w = stack.worker("w1", **worker_conf())
                self.assertTrue(ledger.wait_for(n // 4, 40), "no progress before the fault")
                with frozen(w):
                    before = ledger.end_offsets(ledger.out_parts)
                    self.assertEqual(stack.kafka_ctl("broker down 2"), "ok broker 2 down")
                t_down = time.monotonic()
                samples = []
                while time.monotonic() - t_down < DOWN_S:
                    samples.append(committed_now(stack))
                    time.sleep(0.4)
                self.assertEqual(stack.kafka_ctl("broker up 2"), "ok broker 2 up")
                t_up = time.monotonic()

                dups = self.check_ledger(ledger, inputs, republished(w),
                                         "re-publishes after failed delivery reports")
                recover = time.monotonic() - t_up
                self.check_committed_to_end(stack, inputs)
                frozen_ends = {TopicPartition(OUTPUT, 1): before[TopicPartition(OUTPUT, 1)]}
                bad = []
                for c in samples:
                    bad += self.commit_violations(inputs, ledger, c, frozen_ends)
                self.assertEqual(bad[:5], [], "offsets committed during the outage cover events "
                                              "whose outcome was not in the log (event, partition, "
                                              "offset, committed)")
                held_back = sum(1 for ms in ledger.msgs.values()
                                if all(m.topic == OUTPUT and m.partition == 1 and
                                       m.offset >= frozen_ends[TopicPartition(OUTPUT, 1)]
                                       for m in ms))
                self.assertGreater(held_back, 0, "no outcome waited for broker 2: the fault "
                                                 "did not hit the stream")
                note(f"broker 2 down {DOWN_S:.0f} s after {n // 4}+ events were done; all {n} "
                     f"terminal {recover:.1f} s after it came back; {held_back} outcomes waited "
                     f"for it; committed samples during the outage: {samples[-1]}; "
                     f"re-publishes {republished(w)}, duplicates {dups}")
                self.assertEqual(w.stop(), 0)
            finally:
                ledger.close()


class RequestErrors(FaultCase):
    def test_produce_fetch_commit_join_errors(self):
        """Mid-stream, every broker's next Produce requests fail with
        NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS and
        a dropped connection; its next Fetch requests with
        NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT and a dropped connection;
        the coordinator's next OffsetCommits fail (COORDINATOR_NOT_AVAILABLE,
        REQUEST_TIMED_OUT, NOT_COORDINATOR); a Heartbeat answered
        REBALANCE_IN_PROGRESS makes the member rejoin, and its next
        JoinGroups fail (COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR). Then a
        non-retriable Produce error (TOPIC_AUTHORIZATION_FAILED) on every
        broker fails whole batches: the engine must publish them again.

        Per-broker error queues (`broker errors`) are used so that the test
        can tell that the worker, not the test's own clients, met every
        injected error: the depth a NO_ERROR probe reports tells how many
        entries requests have taken (see ErrorQueues). The ledger does not
        read while the Fetch errors are queued, so that only the worker's
        fetches take them.

        The producer runs with max.in.flight.requests.per.connection=1 here:
        librdkafka's mock does not check an idempotent producer's sequence
        numbers (only a transactional one's), so when a Produce request
        fails while a later one of the same partition is in flight, the mock
        stores the later batch with a gap that a real broker would refuse
        (OUT_OF_ORDER_SEQUENCE_NUMBER), and librdkafka then "implicitly acks"
        the failed batch: it is lost in the mock only (see
        docs/reliability.md). One request at a time keeps the test honest.

        Duplicate bound: the worker's logged re-publishes (a failed delivery
        report means the broker refused the batch, so in fact none is
        expected).
        """
        n, parts = 6000, 3
        with Stack(partitions=parts, brokers=3, scenario=REJECTS, sim_args=SIM_ARGS) as stack:
            self.assertTrue(stack.kafka_ctl(f"coordinator group {GROUP} 1").startswith("ok"))
            # Two halves: the worker prefetches the first at once, so the
            # second is produced after the Fetch errors are queued and the
            # worker's fetches meet them mid-stream.
            first = make_events("re", n // 2, 600, {k: "reject" for k in range(3, 600, 25)})
            second = make_events("rf", n // 2, 600, {k: "reject" for k in range(3, 600, 25)})
            inputs = Inputs().produce(stack, first)
            ledger = Ledger(stack)
            q = ErrorQueues(stack, self)
            try:
                w = stack.worker("w1", **worker_conf(kafka={"properties": dict(
                    KAFKA_PROPS, **{"producer.max.in.flight.requests.per.connection": "1"})}))
                self.assertTrue(ledger.wait_for(n // 10, 40), "no progress before the fault")
                t0 = time.monotonic()
                for b in (1, 2, 3):
                    q.push(b, "Fetch", "NOT_LEADER_FOR_PARTITION", "REQUEST_TIMED_OUT",
                           "DISCONNECT")
                q.push(1, "OffsetCommit", "COORDINATOR_NOT_AVAILABLE", "REQUEST_TIMED_OUT",
                       "NOT_COORDINATOR")
                q.push(1, "JoinGroup", "COORDINATOR_NOT_AVAILABLE", "NOT_COORDINATOR")
                q.push(1, "Heartbeat", "REBALANCE_IN_PROGRESS")
                # The test's own producer must be done before Produce errors
                # are queued, or it would take some.
                inputs.produce(stack, second)
                for b in (1, 2, 3):
                    q.push(b, "Produce", "NOT_LEADER_FOR_PARTITION", "REQUEST_TIMED_OUT",
                           "NOT_ENOUGH_REPLICAS", "DISCONNECT", "TOPIC_AUTHORIZATION_FAILED")
                fetch_left = {}
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    time.sleep(0.3)
                    fetch_left = {b: q.left(b, "Fetch") for b in (1, 2, 3)}
                    if not any(fetch_left.values()):
                        break
                self.assertEqual(fetch_left, {1: 0, 2: 0, 3: 0},
                                 "Fetch errors the worker never met (broker: left)")
                fetch_s = time.monotonic() - t0
                self.assertLess(ledger.distinct(), n // 2, "the first half was over before the "
                                                           "Fetch errors were met")
                dups = self.check_ledger(ledger, inputs, republished(w),
                                         "re-publishes after failed delivery reports")
                took = time.monotonic() - t0
                commit_s = self.check_committed_to_end(stack, inputs, timeout=30)
                self.assertEqual(q.all_left(), {}, "injected errors the worker never met "
                                                   "(API@broker: left in the queue)")
                self.assertGreater(republished(w), 0, "TOPIC_AUTHORIZATION_FAILED failed no "
                                                      "delivery: the re-publish path was not "
                                                      "exercised")
                rejoins = len(re.findall(r"assigned \d+ partition", w.log_text())) - 1
                note(f"Fetch errors met {fetch_s:.1f} s after the injection; all {n} terminal "
                     f"{took:.1f} s after it; committed at the end {commit_s:.1f} s later; "
                     f"{rejoins} rejoin(s); re-publishes {republished(w)}, duplicates {dups}")
                self.assertEqual(w.stop(), 0)
            finally:
                ledger.close()


class RejoinThenSigterm(FaultCase):
    def test_sigterm_during_a_rejoin_commits_what_was_published(self):
        """A Heartbeat answered REBALANCE_IN_PROGRESS makes the member rejoin
        and its next JoinGroup fails (COORDINATOR_NOT_AVAILABLE), so the
        rejoin lasts a few seconds (the mock completes a rebalance on a
        timer). SIGTERM arrives while it is under way; no API fault, so the
        drain finishes at once.

        Expected, from the README ("commits and leaves the group, then exits
        0"; "duplicates are limited to events that were in flight"): exit 0
        within shutdown_timeout_ms + MARGIN_S, and the offsets committed at
        exit equal each partition's acknowledged done prefix (the contiguous
        run of input offsets whose terminal message is in the log), so the
        next owner redoes nothing that was published. A second worker then
        finishes the stream; duplicates == the events published but left
        uncommitted (counted exactly).

        Checked last, after the ledger: the commit. See docs/reliability.md
        for what was observed.
        """
        MARGIN_S = 3.0  # leaving the group waits for the rebalance to end
        n, parts = 6000, 3
        with Stack(partitions=parts, brokers=3, scenario=REJECTS, sim_args=SIM_ARGS) as stack:
            self.assertTrue(stack.kafka_ctl(f"coordinator group {GROUP} 1").startswith("ok"))
            events = make_events("rj", n, 600, {k: "reject" for k in range(7, 600, 25)})
            inputs = Inputs().produce(stack, events)
            ledger = Ledger(stack)
            try:
                w = stack.worker("w1", **worker_conf())
                self.assertTrue(ledger.wait_for(n // 5, 40), "no progress before the fault")
                q = ErrorQueues(stack, self)
                q.push(1, "JoinGroup", "COORDINATOR_NOT_AVAILABLE")
                q.push(1, "Heartbeat", "REBALANCE_IN_PROGRESS")
                # The failing JoinGroup and the one after it were taken: the
                # second waits in the coordinator for the rebalance to end.
                self.assertTrue(wait_until(lambda: q.consumed(1, "JoinGroup") >= 2, 15, 0.1),
                                "the member did not rejoin")
                time.sleep(0.5)
                ledger.poll(0.1)
                self.assertLess(ledger.distinct(), n, "the stream was over before SIGTERM")
                t0 = time.monotonic()
                w.signal(signal.SIGTERM)
                rc = w.wait(SHUTDOWN_TIMEOUT_MS / 1000 + 15)
                took = time.monotonic() - t0
                w.log.close()
                self.assertEqual(rc, 0, f"exit status after SIGTERM (took {took:.1f} s)")
                committed = committed_now(stack)
                ledger.catch_up()
                published = set(ledger.msgs)
                prefix = done_prefix(inputs, published, parts)
                redo = sum(1 for e in published
                           if inputs.where[e][1] >= (committed.get(inputs.where[e][0]) or 0))
                lost = [e for e, (p, o) in inputs.where.items()
                        if committed.get(p) is not None and o < committed[p] and e not in published]
                self.assertEqual(lost[:5], [], "offsets committed before their message was "
                                               "published")
                final = re.findall(r"final commit: (.*)", w.log_text())
                note(f"SIGTERM during the rejoin -> exit {rc} in {took:.2f} s; committed "
                     f"{committed}, done prefix {prefix}: {redo} published events left "
                     f"uncommitted; final commit: {final or 'ok'}")

                w2 = stack.worker("w2", **worker_conf())
                dups = self.check_ledger(ledger, inputs, redo,
                                         "published by w1 but not committed at its exit")
                # At most those: a commit the mock takes late (during the
                # close, after the rejoin) can still spare some of them.
                self.assertLessEqual(dups, redo, "more duplicates than events published but "
                                                 "uncommitted at exit")
                self.check_committed_to_end(stack, inputs)
                self.assertEqual(w2.stop(), 0)

                # A broker answers a member's requests in order, so the final
                # commit waits behind the pending JoinGroup. The worker keeps
                # its shutdown deadline instead of waiting for the rebalance
                # (commit sent asynchronously, abandoned at the deadline): if
                # the rejoin outlasts the deadline the commit cannot happen,
                # and the worker says so. Then the duplicates are exactly the
                # events published but not committed (checked above); when
                # the rejoin ended in time, the commit must equal the done
                # prefix.
                gave_up = "final commit not done by the shutdown deadline" in w.log_text()
                note(f"final commit {'abandoned at the deadline' if gave_up else 'made'}")
                if not gave_up:
                    self.assertEqual({p: committed.get(p) or 0 for p in range(parts)}, prefix,
                                     "committed offsets at exit should equal the done prefix")
                self.assertLess(took, SHUTDOWN_TIMEOUT_MS / 1000 + MARGIN_S,
                                f"exit took {took:.2f} s: more than shutdown_timeout_ms + "
                                f"{MARGIN_S} s")
            finally:
                ledger.close()


# --- 2. The output topic unavailable ---------------------------------------------------

class OutputTopicDown(FaultCase):
    def test_outcomes_leaderless_then_back(self):
        """`topic-down outcomes` for DOWN_S mid-stream: every partition of the
        output topic is leaderless; the dead-letter topic stays up. The
        producer's message.timeout.ms is 2 s, shorter than the outage, so
        outcomes first wait in the producer, then fail with a timed-out
        delivery report, and the engine must publish them again (with its
        back-off) until the topic returns: the worker keeps the events.

        While the topic is down, the committed offsets are sampled; none may
        cover an event whose terminal message was not in the log. The
        outcome log cannot grow during the outage, so "in the log" means: a
        dead letter, or an outcome below the output partitions' end offsets
        read right before the topic went down (worker frozen for that read).

        Duplicate bound: the worker's logged re-publishes (a timed-out
        message of a leaderless partition was never written, so in fact
        none is expected).
        """
        DOWN_S = 5.0
        n, parts = 6000, 3
        with Stack(partitions=parts, scenario=REJECTS, sim_args=SIM_ARGS) as stack:
            events = make_events("td", n, 600, {k: "reject" for k in range(0, 600, 10)})
            inputs = Inputs().produce(stack, events)
            ledger = Ledger(stack)
            over = worker_conf(kafka={"properties": dict(
                KAFKA_PROPS, **{"producer.message.timeout.ms": "2000"})})
            try:
                w = stack.worker("w1", **over)
                self.assertTrue(ledger.wait_for(n // 4, 40), "no progress before the fault")
                with frozen(w):
                    ledger.poll(0.2)
                    before = ledger.end_offsets(ledger.out_parts)
                    reply = stack.kafka_ctl(f"topic-down {OUTPUT}")
                    self.assertTrue(reply.startswith("ok"), reply)
                t_down = time.monotonic()
                samples = []
                while time.monotonic() - t_down < DOWN_S:
                    samples.append(committed_now(stack))
                    time.sleep(0.4)
                dead_during = ledger.end_offsets([TopicPartition(DEAD, 0)])
                reply = stack.kafka_ctl(f"topic-up {OUTPUT}")
                self.assertTrue(reply.startswith("ok"), reply)
                t_up = time.monotonic()

                dups = self.check_ledger(ledger, inputs, republished(w),
                                         "re-publishes after failed delivery reports")
                recover = time.monotonic() - t_up
                commit_s = self.check_committed_to_end(stack, inputs)
                bad = []
                for c in samples:
                    bad += self.commit_violations(inputs, ledger, c, before)
                self.assertEqual(bad[:5], [], "offsets committed while the output topic was down "
                                              "cover events whose outcome was not published "
                                              "(event, partition, offset, committed)")
                waited = sum(1 for ms in ledger.msgs.values()
                             if all(m.topic == OUTPUT and m.offset >= before[TopicPartition(
                                 OUTPUT, m.partition)] for m in ms))
                self.assertGreater(waited, 0, "no outcome waited for the topic")
                self.assertGreater(republished(w), 0,
                                   "no delivery timed out: the outage did not outlast "
                                   "message.timeout.ms, the re-publish path was not exercised")
                first, last = samples[0], samples[-1]
                note(f"outcomes down {DOWN_S:.0f} s; committed during it {first} -> {last}; "
                     f"dead letters kept flowing (end {list(dead_during.values())[0]}); "
                     f"{waited} outcomes published after topic-up, all terminal "
                     f"{recover:.1f} s after it, committed at the end {commit_s:.1f} s later; "
                     f"re-publishes {republished(w)}, duplicates {dups}; worker held at most "
                     f"{held(w)} events")
                self.assertEqual(w.stop(), 0)
            finally:
                ledger.close()


# --- 3. The Monitoring API -------------------------------------------------------------

class ApiDown(FaultCase):
    def test_api_refuses_connections_longer_than_the_retry_schedule(self):
        """The simulator is stopped mid-stream (connections refused) for
        DOWN_S, longer than the whole retry schedule (100+200+300+400 ms),
        then started again on the same port. The circuit breaker is off
        (circuit_failure_ratio 0) so the retry schedule alone decides.

        Events whose five attempts all fell in the outage end as dead
        letters retries_exhausted (attempts 5, a transport error); the
        others get their outcome; none is lost. An event whose fifth attempt
        is the first call after the restart also ends retries_exhausted: it
        carries the visit the old simulator gave, which the new one does not
        know (404, internalCode 39), and the worker's immediate re-ask
        without it would be a sixth attempt. Jitter is on (0.1), so the keys'
        retries do not march in step. Duplicate bound: 0 (no Kafka fault, no
        restart: one message per event).
        """
        DOWN_S = 3.0
        n, parts = 5000, 3
        with Stack(partitions=parts, sim_args=SIM_ARGS) as stack:
            events = make_events("ad", n, 500)
            inputs = Inputs().produce(stack, events)
            ledger = Ledger(stack)
            port = sim_port(stack)
            log2 = os.path.join(stack.dir, "sim-restarted.log")
            try:
                w = stack.worker("w1", **worker_conf(monitoring={"circuit_failure_ratio": 0},
                                                     retry={"jitter": 0.1}))
                self.assertTrue(ledger.wait_for(n // 4, 40), "no progress before the fault")
                stop_sim(stack)
                t_down = time.monotonic()
                time.sleep(DOWN_S)
                start_sim(stack, port, log2)
                t_up = time.monotonic()
                down_for = t_up - t_down
                at_up = ledger.distinct()
                self.assertLess(at_up, n, "the stream was over before the API came back")

                dups = self.check_ledger(ledger, inputs, 0, "no Kafka fault, no restart")
                recover = time.monotonic() - t_up
                self.check_committed_to_end(stack, inputs)
                dead = {e: ms[0] for e, ms in ledger.msgs.items() if ms[0].dead}
                self.assertGreater(len(dead), 0, "an outage longer than the retry schedule "
                                                 "exhausted no event")
                kinds = Counter(m.kind for m in dead.values())
                self.assertEqual(set(kinds), {"retries_exhausted"}, f"dead letters: {kinds}")
                attempts = Counter(m.attempts for m in dead.values())
                self.assertEqual(set(attempts), {ATTEMPTS_MAX}, f"attempts of dead letters: "
                                                                f"{attempts}")
                # The last attempt of an event may be the first call after the
                # restart: it carries the visit the old simulator gave, which
                # the new one does not know (404/39); the worker asks again
                # without it, but that was attempt 5: exhausted.
                why = Counter("transport error" if "transport error" in m.message else
                              "expired visit" if "invalid sessionId" in m.message else
                              re.sub(r"\d+", "N", m.message) for m in dead.values())
                self.assertLessEqual(set(why), {"transport error", "expired visit"},
                                     f"dead letters should name the transport error: {why}")
                self.assertIn("transport error", why)
                sample = next(m.message for m in dead.values() if "transport error" in m.message)
                after = [r for r in sim_log(log2)]
                self.assertGreater(len(after), 0, "the worker did not call the restarted API")
                outcomes = sum(1 for ms in ledger.msgs.values() if not ms[0].dead)
                note(f"API down {down_for:.1f} s (schedule {sum(RETRY_DELAYS_MS)} ms): "
                     f"{len(dead)} retries_exhausted {dict(why)} ({sample!r}), {outcomes} "
                     f"outcomes; all terminal {recover:.1f} s after the restart; duplicates {dups}")
                self.assertEqual(w.stop(), 0)
            finally:
                ledger.close()


# The misbehaviours injected mid-stream by replacing the simulator's scenario
# (POST /_sim/config); each names keys by prefix. timeout_ms is TIMEOUT_MS.
TIMEOUT_MS = 400
SLOW_MS = 1200
MISBEHAVIOUR = {
    "default": "expose",
    "rules": [
        # answers later than timeout_ms: every attempt / the first two
        {"match": "tmo-*", "behaviour": "expose", "latency": {"ms": SLOW_MS}},
        # (the "then" names its latency: monitoring-sim 0.1 otherwise keeps
        # the counted behaviour's latency for the requests after the count)
        {"match": "tmo2-*", "behaviour": "expose", "latency": {"ms": SLOW_MS}, "count": 2,
         "then": {"behaviour": "expose", "latency": {"ms": LATENCY_MS}}},
        # connection closed mid-answer, once
        {"match": "cut-*", "behaviour": "close", "after": "headers", "count": 1, "then": "expose"},
        {"match": "half-*", "behaviour": "close", "after": "partial", "count": 1,
         "then": "expose"},
        {"match": "drop-*", "behaviour": "close", "after": "none", "count": 1, "then": "expose"},
        # ... and every time
        {"match": "cutall-*", "behaviour": "close", "after": "partial"},
        # Retry-After longer than the configured delays; and shorter
        {"match": "ra-*", "behaviour": "fail", "status": 503, "count": 2, "retryAfter": "1",
         "then": "expose"},
        {"match": "ra429-*", "behaviour": "fail", "status": 429, "count": 1, "retryAfter": "2",
         "then": "expose"},
        {"match": "ra0-*", "behaviour": "fail", "status": 503, "count": 1, "retryAfter": "0",
         "then": "expose"},
    ],
}
# prefix -> (keys, events per key)
SPECIAL = {"tmo": (8, 1), "tmo2": (8, 2), "cut": (10, 2), "half": (10, 2), "drop": (10, 2),
           "cutall": (5, 1), "ra": (10, 2), "ra429": (6, 1), "ra0": (10, 1)}


class ApiMisbehaves(FaultCase):
    """One stream; mid-way the simulator's scenario is replaced so that some
    keys' answers come too late, are cut short, or carry Retry-After; the
    events of those keys are produced after the switch, among ordinary ones.
    Each test checks one behaviour on the same run."""

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(partitions=3, sim_args=SIM_ARGS)
        stack = cls.stack
        try:
            cls.inputs = Inputs().produce(stack, make_events("mb", 3000, 300))
            cls.ledger = Ledger(stack)
            cls.worker = stack.worker("w1", **worker_conf(
                monitoring={"timeout_ms": TIMEOUT_MS, "connect_timeout_ms": TIMEOUT_MS,
                            "circuit_failure_ratio": 0}))
            if not cls.ledger.wait_for(600, 40):
                raise AssertionError("no progress before the fault")
            sim_config(stack, {"scenario": MISBEHAVIOUR})
            cls.switched_ms = int(time.time() * 1000)
            special = []
            for prefix, (keys, per_key) in SPECIAL.items():
                for k in range(keys):
                    for j in range(per_key):
                        special.append((f"{prefix}-mb-{k}",
                                        identity_event(f"mb-{prefix}-{k}-{j}", f"{prefix}-mb-{k}")))
            more = make_events("mb2", 2000, 300)
            mixed = []
            step = max(1, len(more) // len(special))
            for i, ev in enumerate(more):
                mixed.append(ev)
                if i % step == 0 and special:
                    mixed.append(special.pop(0))
            mixed += special
            cls.inputs.produce(stack, mixed)
            cls.t0 = time.monotonic()
            cls.ledger.wait_all(cls.inputs, 60)
            cls.took = time.monotonic() - cls.t0
            cls.ledger.catch_up()
            cls.reqs = requests_by_sub(stack.sim_requests())
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "ledger", None):
            cls.ledger.close()
        w = getattr(cls, "worker", None)
        if w and w.alive():
            cls.rc = w.stop()
        cls.stack.close()

    def terminal(self, prefix):
        """eventId -> its messages, for every event of the prefix's keys."""
        ids = self.inputs.with_prefix(prefix)
        self.assertTrue(ids)
        return {e: self.ledger.msgs.get(e, []) for e in ids}

    def test_ledger(self):
        """Nothing lost. Duplicate bound: 0 (no Kafka fault, no restart)."""
        self.check_ledger(self.ledger, self.inputs, 0, "no Kafka fault, no restart")
        self.check_committed_to_end(self.stack, self.inputs)
        note(f"{len(self.inputs)} events terminal {self.took:.1f} s after the misbehaving "
             f"ones were produced")

    def test_answers_past_timeout_are_retried_then_exhausted(self):
        msgs = self.terminal("tmo")
        for e, ms in msgs.items():
            self.assertEqual(len(ms), 1, e)
            m = ms[0]
            self.assertEqual(m.kind, "retries_exhausted", f"{e}: {m.kind}")
            self.assertEqual(m.attempts, ATTEMPTS_MAX, e)
            self.assertIn("timeout", m.message, f"{e}: the dead letter should say it timed out")
        for k in range(SPECIAL["tmo"][0]):
            reqs = self.reqs[f"tmo-mb-{k}"]
            self.assertEqual(len(reqs), ATTEMPTS_MAX, f"tmo-mb-{k}: {len(reqs)} calls")
            gaps = [wall_ms(reqs[i + 1]["time"]) - wall_ms(reqs[i]["time"])
                    for i in range(len(reqs) - 1)]
            for i, g in enumerate(gaps):
                # each attempt waited for its timeout, then the delay
                self.assertGreaterEqual(g, TIMEOUT_MS + RETRY_DELAYS_MS[i] - 1,
                                        f"tmo-mb-{k}: retry {i + 1} after {g} ms")
        note(f"e.g. {next(iter(msgs.values()))[0].message!r}")
        # two late answers, then a timely one: the third attempt succeeds
        for k in range(SPECIAL["tmo2"][0]):
            key = f"tmo2-mb-{k}"
            att = sorted(self.ledger.msgs[e][0].attempts
                         for e in self.inputs.with_prefix("tmo2") if self.inputs.key[e] == key)
            self.assertEqual(att, [1, 3], f"{key}: attempts of its two events")

    def test_connections_closed_mid_answer_are_retried(self):
        """A connection closed after the headers or half-way through the body
        fails the attempt (transport error) and the worker retries it. A
        connection closed before any byte of the answer ("drop") looks to
        libcurl like a keep-alive connection the server had already closed:
        on a reused connection libcurl sends the request again by itself, so
        the worker may see one attempt where the simulator saw two calls.
        Either way the simulator sees exactly three calls for the key's two
        events, and both end as outcomes."""
        absorbed = 0
        for prefix in ("cut", "half", "drop"):
            for k in range(SPECIAL[prefix][0]):
                key = f"{prefix}-mb-{k}"
                ids = [e for e in self.inputs.with_prefix(prefix) if self.inputs.key[e] == key]
                att = sorted(self.ledger.msgs[e][0].attempts for e in ids)
                kinds = {self.ledger.msgs[e][0].kind for e in ids}
                self.assertEqual(kinds, {"outcome:engagement"}, f"{key}: {kinds}")
                closes = [r for r in self.reqs[key] if r.get("behaviour") == "close"]
                self.assertEqual(len(closes), 1, f"{key}: {len(closes)} closed answers")
                self.assertEqual(len(self.reqs[key]), 3, f"{key}: calls for its two events")
                if prefix == "drop" and att == [1, 1]:
                    absorbed += 1
                    continue
                self.assertEqual(att, [1, 2], f"{key}: the cut answer is retried once")
        msgs = self.terminal("cutall")
        for e, ms in msgs.items():
            self.assertEqual(ms[0].kind, "retries_exhausted", e)
            self.assertEqual(ms[0].attempts, ATTEMPTS_MAX, e)
            self.assertIn("transport error", ms[0].message, e)
        note(f"always cut: {next(iter(msgs.values()))[0].message!r}; {absorbed} of "
             f"{SPECIAL['drop'][0]} unanswered calls re-sent by libcurl itself")

    def test_retry_after_never_sooner(self):
        """Retry-After (delta-seconds) wins over a shorter configured delay;
        a shorter Retry-After does not shorten the configured delay. The gap
        is measured in the simulator's log between the starts of two calls of
        one key: 1 ms is allowed for the log's millisecond truncation."""
        checked = 0
        gaps_seen = []
        for prefix, fails, wait_ms in (("ra", 2, 1000), ("ra429", 1, 2000), ("ra0", 1, None)):
            for k in range(SPECIAL[prefix][0]):
                key = f"{prefix}-mb-{k}"
                reqs = self.reqs[key]
                statuses = [r["status"] for r in reqs]
                first_ok = statuses.index(201) if 201 in statuses else -1
                self.assertEqual(first_ok, fails, f"{key}: statuses {statuses}")
                for i in range(fails):
                    gap = wall_ms(reqs[i + 1]["time"]) - wall_ms(reqs[i]["time"])
                    floor = max(wait_ms or 0, RETRY_DELAYS_MS[i])
                    self.assertGreaterEqual(gap, floor - 1, f"{key}: retry {i + 1} came {gap} ms "
                                                            f"after the answer asking for "
                                                            f"{floor} ms")
                    gaps_seen.append((prefix, gap))
                    checked += 1
        att = Counter(self.ledger.msgs[e][0].attempts for e in self.inputs.with_prefix("ra")
                      if e.endswith("-0"))
        self.assertEqual(att, Counter({3: SPECIAL["ra"][0]}))
        by = defaultdict(list)
        for p, g in gaps_seen:
            by[p].append(g)
        note(f"{checked} retries after Retry-After; min gap per rule "
             f"{ {p: min(v) for p, v in by.items()} } ms")


class ApiFailStorm(FaultCase):
    def test_half_the_calls_fail(self):
        """Mid-stream the simulator starts failing 50% of all engagement
        calls with 503 (POST /_sim/config failRatio 0.5, the same as
        --fail-ratio 0.5) and keeps on. Events produced after that see the
        storm on every attempt: with 4 retries an event is lost to it with
        probability 0.5^5 = 3%, so nearly all end as outcomes, about half
        after more than one attempt. The circuit breaker is set to open at
        80% failures so that it stays closed (at the default 0.5 it would
        open, see docs/reliability.md).

        Duplicate bound: 0 (no Kafka fault, no restart).
        """
        with Stack(partitions=3, sim_args=SIM_ARGS) as stack:
            inputs = Inputs().produce(stack, make_events("st", 2000, 300))
            ledger = Ledger(stack)
            try:
                w = stack.worker("w1", **worker_conf(monitoring={"circuit_failure_ratio": 0.8}))
                self.assertTrue(ledger.wait_for(500, 40), "no progress before the fault")
                sim_config(stack, {"failRatio": 0.5, "failStatus": 503})
                storm = make_events("st2", 4000, 400)
                inputs.produce(stack, storm)
                storm_ids = {ev["eventId"] for _k, ev in storm}
                t0 = time.monotonic()
                dups = self.check_ledger(ledger, inputs, 0, "no Kafka fault, no restart")
                took = time.monotonic() - t0
                self.check_committed_to_end(stack, inputs)
                firsts = {e: ledger.msgs[e][0] for e in storm_ids}
                outcomes = [m for m in firsts.values() if not m.dead]
                dead = [m for m in firsts.values() if m.dead]
                share_out = len(outcomes) / len(firsts)
                retried = sum(1 for m in outcomes if m.attempts > 1) / max(1, len(outcomes))
                att = Counter(m.attempts for m in firsts.values())
                self.assertGreaterEqual(share_out, 0.93, f"outcomes {share_out:.1%}: with 4 "
                                                         f"retries ~97% should succeed")
                self.assertTrue(0.35 <= retried <= 0.65,
                                f"{retried:.0%} of outcomes took more than one attempt "
                                f"(expected about 48%)")
                for m in dead:
                    self.assertEqual((m.kind, m.attempts, m.http),
                                     ("retries_exhausted", ATTEMPTS_MAX, "503"))
                fails = sum(1 for r in stack.sim_requests() if r.get("behaviour") == "fail-ratio")
                self.assertEqual(w.stop(), 0)
                stats = final_stats(w)
                note(f"storm on {len(storm_ids)} events: {share_out:.1%} outcomes, "
                     f"{len(dead)} retries_exhausted, attempts {dict(sorted(att.items()))}; "
                     f"{fails} calls failed by the storm; drained in {took:.1f} s; "
                     f"duplicates {dups}; worker {stats}")
            finally:
                ledger.close()


# --- 4. SIGTERM while retries and long calls are in flight --------------------------------

class SigtermUnderRetries(FaultCase):
    def test_sigterm_in_a_retry_storm_exits_in_time_and_restart_completes(self):
        """A 50% 503 storm from the start (so hundreds of events sit on retry
        timers of 400..1600 ms) and a few keys whose calls take 8 s, longer
        than the 3 s shutdown timeout. SIGTERM mid-stream: the worker starts
        no new call, waits for in-flight calls until the shutdown timeout,
        abandons the rest (retry timers and the 8 s calls), flushes,
        commits, exits 0 within shutdown_timeout_ms + MARGIN_S. A second
        worker finishes everything.

        Duplicate bound: the offsets committed at exit must equal each
        partition's done prefix (the run of offsets, from the start, whose
        terminal message is in the log): a clean stop commits everything it
        published up to the first event it did not finish. What is redone is
        then exactly the events published beyond that first unfinished event
        (in flight past the deadline, or waiting on a retry timer): computed
        from the log, and duplicates must equal it (each redone once). How
        many that is depends on how long the unfinished event had been
        waiting (up to the retry schedule, 4 s here) times the throughput.
        """
        MARGIN_S = 2.0
        n, parts = 4000, 3
        scenario = {"default": "expose",
                    "rules": [{"match": "hang-*", "behaviour": "expose",
                               "latency": {"ms": 8000}}]}
        with Stack(partitions=parts, scenario=scenario,
                   sim_args=SIM_ARGS + ["--fail-ratio", "0.5"]) as stack:
            first = make_events("tm", n // 2, 400)
            inputs = Inputs().produce(stack, first)
            ledger = Ledger(stack)
            over = worker_conf(monitoring={"timeout_ms": 10000, "circuit_failure_ratio": 0},
                               retry={"delays_ms": [400, 800, 1200, 1600], "jitter": 0.0})
            try:
                w = stack.worker("w1", **over)
                self.assertTrue(ledger.wait_for(n // 4, 40), "no progress before SIGTERM")
                # Mid-stream: six calls that outlast the shutdown timeout (one
                # event per key) ahead of the second half. Once events behind
                # them are done, they were dispatched; 1.5 s later each has
                # its 8 s call in flight unless the storm failed it twice
                # (1 in 4, so none in flight: 1 in 4096).
                hang = [(f"hang-tm-{k}", identity_event(f"tm-hang-{k}", f"hang-tm-{k}"))
                        for k in range(6)]
                second = make_events("tn", n // 2 - len(hang), 400)
                inputs.produce(stack, hang + second)
                second_ids = {ev["eventId"] for _k, ev in second}
                self.assertTrue(wait_until(lambda: ledger.poll(0.1) or len(
                    second_ids & ledger.msgs.keys()) >= 100, 30), "the second half did not start")
                time.sleep(1.5)
                t_sig_wall = time.time()
                t0 = time.monotonic()
                w.signal(signal.SIGTERM)
                rc = w.wait(SHUTDOWN_TIMEOUT_MS / 1000 + 15)
                took = time.monotonic() - t0
                w.log.close()
                self.assertEqual(rc, 0, f"exit status after SIGTERM (took {took:.1f} s)")
                self.assertLess(took, SHUTDOWN_TIMEOUT_MS / 1000 + MARGIN_S,
                                f"exit took {took:.2f} s: more than shutdown_timeout_ms + "
                                f"{MARGIN_S} s")
                hung = [r for r in stack.sim_requests() if request_sub(r) and
                        request_sub(r).startswith("hang-") and r.get("delayMs", 0) >= 8000 and
                        wall_ms(r["time"]) < t_sig_wall * 1000]
                self.assertTrue(hung, "no 8 s call was in flight at SIGTERM")
                self.assertGreaterEqual(took, SHUTDOWN_TIMEOUT_MS / 1000 - 0.3,
                                        "the 8 s calls in flight were not waited for")
                stats = final_stats(w)
                self.assertIsNotNone(stats, "no final stats line")
                self.assertGreater(stats["retries"], 100, "not a retry storm")
                # No call starts after the signal (1 ms for the log's
                # truncation, 20 ms for a call already being started).
                late = [r for r in stack.sim_requests()
                        if r.get("path", "").endswith("/engagement") and
                        wall_ms(r["time"]) > t_sig_wall * 1000 + 20]
                self.assertEqual(late[:3], [], "calls started after SIGTERM")
                committed = committed_now(stack)
                ledger.catch_up()
                before = {e for e, ms in ledger.msgs.items() if ms}
                self.assertLess(len(before), n, "the stream was over at SIGTERM")
                lost = [e for e, (p, o) in inputs.where.items()
                        if committed.get(p) is not None and o < committed[p] and e not in before]
                self.assertEqual(lost[:5], [], "offsets committed before their message was "
                                               "published")
                redo = sum(1 for e in before
                           if inputs.where[e][1] >= (committed.get(inputs.where[e][0]) or 0))
                prefix = done_prefix(inputs, before, parts)
                self.assertEqual({p: committed.get(p) or 0 for p in range(parts)}, prefix,
                                 "a clean stop commits exactly each partition's done prefix")

                w2 = stack.worker("w2", **over)
                dups = self.check_ledger(ledger, inputs, redo,
                                         "published by w1 but not committed at its exit")
                # At most those: a commit the mock takes late (during the
                # close, after the rejoin) can still spare some of them.
                self.assertLessEqual(dups, redo, "more duplicates than events published but "
                                                 "uncommitted at exit")
                self.check_committed_to_end(stack, inputs)
                note(f"SIGTERM -> exit 0 in {took:.2f} s (timeout {SHUTDOWN_TIMEOUT_MS} ms) with "
                     f"{stats['retries']} retries so far; committed {committed} = done prefix; "
                     f"{redo} events published beyond it redone; worker held at most "
                     f"{held(w)} events")
                self.assertEqual(w2.stop(), 0)
            finally:
                ledger.close()


if __name__ == "__main__":
    run("__main__")
