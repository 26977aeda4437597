#!/usr/bin/python3
"""End to end: faults in the middle of a stream lose nothing.

Each test runs its own embedded-kafka, monitoring-sim and worker processes,
produces thousands of events (hundreds of keys over several partitions), hits
the worker(s) with a fault while calls are in flight, and then checks the
ledger: every input eventId has at least one terminal message (outcome or
dead letter), nothing unknown was published, duplicates are counted and
bounded, and the group's committed offsets reach the end of every input
partition.
"""

import os
import re
import signal
import sys
import time
import unittest
from collections import Counter

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DEAD, KAFKA_API, OUTPUT, Record, Stack,  # noqa: E402
                     identity_event, run)

from kafka import KafkaConsumer, TopicPartition  # noqa: E402

# Every test uses these knobs: throughput is capped by the API, not by
# Kafka: at most MAX_IN_FLIGHT calls at once, each at least LATENCY_MS long,
# so at most MAX_IN_FLIGHT * 1000 / LATENCY_MS = 2000 answers per second.
MAX_IN_FLIGHT = 20
LATENCY_MS = 10
LATENCY_JITTER_MS = 10
RATE_CAP = MAX_IN_FLIGHT * 1000 // LATENCY_MS
HIGH_WATERMARK, LOW_WATERMARK = 200, 100
COMMIT_INTERVAL_S = 1.0  # the worker's auto.commit.interval.ms default
SHUTDOWN_TIMEOUT_MS = 5000
SIM_ARGS = ["--latency-ms", str(LATENCY_MS), "--latency-jitter-ms", str(LATENCY_JITTER_MS)]

SCENARIO = {
    "default": "expose",
    "rules": [
        {"match": "reject-*", "behaviour": "reject", "status": 400, "internalCode": 5,
         "message": "consumerId"},
        {"match": "fail1-*", "behaviour": "fail", "count": 1, "status": 503, "then": "expose"},
        {"match": "slow-*", "behaviour": "expose", "latency": {"ms": 4000}},
    ],
}


def worker_overrides(**extra):
    conf = {
        "monitoring": {"max_in_flight": MAX_IN_FLIGHT},
        "worker": {"shutdown_timeout_ms": SHUTDOWN_TIMEOUT_MS,
                   "queue_high_watermark": HIGH_WATERMARK,
                   "queue_low_watermark": LOW_WATERMARK},
    }
    for section, values in extra.items():
        conf.setdefault(section, {}).update(values)
    return conf


def make_events(tag, count, keys, special=None):
    """count events over `keys` keys, interleaved; special maps a key index
    to a name prefix ("reject", "fail1", ...) that picks a sim rule. The key
    is also the identity's sub (the sim's per-key state follows the sub)."""
    special = special or {}
    events = []
    for i in range(count):
        k = (i * 7919) % keys
        name = f"{special.get(k, 'u')}-{tag}-{k}"
        events.append((name, identity_event(f"{tag}-{i:06d}", name)))
    return events


class Inputs:
    """The produced events: eventId -> (partition, offset), and each
    partition's end offset."""

    def __init__(self, events, metadata):
        self.where = {}
        self.ends = {}
        for (_key, value), md in zip(events, metadata):
            self.where[value["eventId"]] = (md.partition, md.offset)
            self.ends[md.partition] = max(self.ends.get(md.partition, 0), md.offset + 1)

    def add(self, other):
        self.where.update(other.where)
        for p, end in other.ends.items():
            self.ends[p] = max(self.ends.get(p, 0), end)

    def __len__(self):
        return len(self.where)


class Ledger:
    """Reads the output and dead-letter topics incrementally from the start;
    counts terminal messages per eventId."""

    def __init__(self, stack):
        self.consumer = KafkaConsumer(bootstrap_servers=stack.bootstrap, api_version=KAFKA_API,
                                      enable_auto_commit=False)
        parts = []
        for topic in (OUTPUT, DEAD):
            deadline = time.monotonic() + 10
            found = None
            while not found and time.monotonic() < deadline:
                found = self.consumer.partitions_for_topic(topic)
                if not found:
                    time.sleep(0.1)
            parts += [TopicPartition(topic, p) for p in sorted(found or [])]
        self.consumer.assign(parts)
        self.consumer.seek_to_beginning(*parts)
        self.counts = Counter()
        self.kinds = Counter()

    def poll(self, seconds=0.3):
        """Reads what arrived within about `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            batch = self.consumer.poll(timeout_ms=max(1, int(left * 1000)), max_records=5000)
            for records in batch.values():
                for raw in records:
                    r = Record(raw)
                    self.counts[r.event_id] += 1
                    self.kinds["dead letter" if raw.topic == DEAD else "outcome"] += 1
            if time.monotonic() >= deadline:
                return

    def distinct(self):
        return len(self.counts)

    def wait_distinct(self, count, timeout):
        """Polls until `count` distinct eventIds were seen; returns whether
        they were, within timeout seconds."""
        deadline = time.monotonic() + timeout
        while self.distinct() < count and time.monotonic() < deadline:
            self.poll(0.2)
        return self.distinct() >= count

    def duplicates(self):
        return sum(n - 1 for n in self.counts.values() if n > 1)

    def close(self):
        self.consumer.close()


def wait_committed(stack, ends, timeout=15.0):
    """Polls the group's committed offsets until every input partition's
    offset reached its end (auto commit runs every second). Returns the
    last offsets seen."""
    deadline = time.monotonic() + timeout
    while True:
        got = stack.committed()
        if all(got.get(p) == end for p, end in ends.items()) or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def assigned_counts(worker):
    """Ns of the worker's "assigned N partition(s)" lines."""
    return [int(n) for n in re.findall(r"assigned (\d+) partition\(s\)", worker.log_text())]


def final_stats(worker):
    """The worker's last stats line as a dict (consumed, outcomes, ...)."""
    lines = re.findall(r"consumed (\d+), outcomes (\d+), dead letters (\d+), API calls (\d+), "
                       r"retries (\d+)", worker.log_text())
    if not lines:
        return None
    names = ("consumed", "outcomes", "dead_letters", "api_calls", "retries")
    return dict(zip(names, (int(x) for x in lines[-1])))


def wait_until(predicate, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class ResilienceCase(unittest.TestCase):
    """Shared checks."""

    def check_ledger(self, ledger, inputs, dup_bound, why, timeout=40.0):
        """Every input has a terminal message, nothing else was published,
        duplicates are at most dup_bound. Returns the duplicate count."""
        ledger.wait_distinct(len(inputs), timeout)
        ledger.poll(0.5)  # late duplicates
        missing = sorted(set(inputs.where) - set(ledger.counts))
        unknown = sorted(set(ledger.counts) - set(inputs.where))
        self.assertEqual(missing, [], f"{len(missing)} of {len(inputs)} events have no outcome "
                                      f"and no dead letter, e.g. "
                                      f"{[(m, inputs.where[m]) for m in missing[:10]]}")
        self.assertEqual(unknown, [], "messages for events that were never produced")
        dups = ledger.duplicates()
        print(f"\n  ledger: {len(inputs)} events, {ledger.kinds['outcome']} outcomes, "
              f"{ledger.kinds['dead letter']} dead letters, {dups} duplicates "
              f"(bound {dup_bound}: {why})", file=sys.stderr)
        self.assertLessEqual(dups, dup_bound, f"too many duplicates ({why})")
        return dups

    def check_committed(self, stack, inputs):
        got = wait_committed(stack, inputs.ends)
        self.assertEqual({p: got.get(p) for p in inputs.ends}, inputs.ends,
                         "committed offsets of the group do not reach the end of the input")


class KillAndRestart(ResilienceCase):
    def test_kill9_mid_stream_then_restart_loses_nothing(self):
        """SIGKILL after a third of the outcomes appeared; a restarted worker
        redoes what was not committed.

        Duplicate bound: the dead worker's duplicates are exactly the events
        whose message reached the broker but whose offset was not committed.
        Offsets are committed every COMMIT_INTERVAL_S from the acknowledged
        contiguous prefix, so at most ~1 commit interval (+0.5 s for the
        commit's round trip and the prefix lagging behind events finished out
        of order) of answers, at RATE_CAP answers/s, plus the events
        published but not yet acknowledged (at most MAX_IN_FLIGHT answers
        arrive per latency period). A worker that never commits before it
        dies would duplicate the whole third already done (> the bound).
        """
        n, parts = 6000, 4
        bound = int(RATE_CAP * (COMMIT_INTERVAL_S + 0.5)) + MAX_IN_FLIGHT
        with Stack(partitions=parts, scenario=SCENARIO, sim_args=SIM_ARGS) as stack:
            events = make_events("kill", n, 500, {k: "reject" for k in range(0, 500, 50)})
            inputs = Inputs(events, stack.produce(events))
            ledger = Ledger(stack)
            try:
                w = stack.worker("w1", **worker_overrides())
                self.assertTrue(ledger.wait_distinct(n // 3, 40), "no progress before the kill")
                w.kill9()
                killed_at = ledger.distinct()
                # What the dead worker committed is final until the restart.
                committed = stack.committed()
                ledger.poll(0.5)
                before = Counter(ledger.counts)
                self.assertLess(len(before), n, "the stream was over before the kill")
                # Committed means acknowledged: every event below the
                # committed offset of its partition has its message already.
                lost = [e for e, (p, o) in inputs.where.items()
                        if committed.get(p) is not None and o < committed[p] and e not in before]
                self.assertEqual(lost, [], "offsets committed before their message was published")
                uncommitted_done = sum(1 for e in before
                                       if inputs.where[e][1] >= (committed.get(inputs.where[e][0]) or 0))
                print(f"\n  killed after {killed_at} outcomes; committed {committed}; "
                      f"{uncommitted_done} published but uncommitted", file=sys.stderr)

                w.start()
                dups = self.check_ledger(ledger, inputs, bound,
                                         f"{RATE_CAP}/s x {COMMIT_INTERVAL_S + 0.5:.1f} s "
                                         f"+ max_in_flight")
                # Only events the dead worker had not committed were redone.
                redone_committed = [e for e, c in ledger.counts.items() if c > 1 and
                                    inputs.where[e][1] < (committed.get(inputs.where[e][0]) or 0)]
                self.assertEqual(redone_committed, [], "committed events were processed again")
                self.assertEqual(dups, uncommitted_done,
                                 "every published-but-uncommitted event is redone exactly once")
                self.check_committed(stack, inputs)
                self.assertEqual(w.stop(), 0)
            finally:
                ledger.close()


class TwoWorkers(ResilienceCase):
    def test_two_workers_share_partitions_and_one_leaving_loses_nothing(self):
        """Two members of one group split 4 partitions; SIGTERM one of them
        mid-stream: it exits 0, the other takes its partitions over.

        Duplicate bound: a clean stop publishes nothing it does not commit
        (in-flight calls finish, the producer is flushed, the done prefix is
        committed before leaving); the only events redone are those finished
        beyond the first event it abandoned (not yet started) in a partition:
        at most the events it held, the high watermark plus one fetch
        overshoot, which the worker's "N events waiting: pausing fetch" line
        reports, plus MAX_IN_FLIGHT.
        """
        n, parts = 8000, 4
        with Stack(partitions=parts, scenario=SCENARIO, sim_args=SIM_ARGS) as stack:
            events = make_events("two", n, 600, {k: "reject" for k in range(0, 600, 60)})
            inputs = Inputs(events, stack.produce(events))
            ledger = Ledger(stack)
            try:
                a = stack.worker("wa", **worker_overrides())
                b = stack.worker("wb", **worker_overrides())
                both = wait_until(lambda: any(assigned_counts(a)) and any(assigned_counts(b)), 30)
                self.assertTrue(both, f"both members must own partitions: wa {assigned_counts(a)}, "
                                      f"wb {assigned_counts(b)}")
                self.assertTrue(ledger.wait_distinct(n // 4, 40), "no progress")
                self.assertLess(ledger.distinct(), n * 3 // 4, "stream over too soon")
                t0 = time.monotonic()
                rc = a.stop(timeout=SHUTDOWN_TIMEOUT_MS / 1000 + 10)
                took = time.monotonic() - t0
                self.assertEqual(rc, 0, "a SIGTERMed member exits 0")
                self.assertLess(took, SHUTDOWN_TIMEOUT_MS / 1000 + 5)
                held = max([HIGH_WATERMARK] + [int(x) for x in re.findall(
                    r"(\d+) events waiting: pausing", a.log_text())])
                bound = held + MAX_IN_FLIGHT
                self.check_ledger(ledger, inputs, bound, f"events wa held ({held}) + max_in_flight")
                self.check_committed(stack, inputs)
                self.assertIn("revoked", a.log_text())
                # b took a's partitions over: it owns all of them now.
                self.assertTrue(re.search(rf"assigned \d+ partition\(s\) of events, now {parts}",
                                          b.log_text()), "wb did not take over wa's partitions")
                self.assertEqual(b.stop(), 0)
                sa, sb = final_stats(a), final_stats(b)
                self.assertIsNotNone(sa, "wa logged no final stats")
                self.assertIsNotNone(sb, "wb logged no final stats")
                print(f"\n  wa {sa}\n  wb {sb}", file=sys.stderr)
                self.assertGreater(sa["api_calls"], 0, "wa made no API calls")
                self.assertGreater(sb["api_calls"], 0, "wb made no API calls")
                self.assertGreaterEqual(sa["outcomes"] + sa["dead_letters"] + sb["outcomes"] +
                                        sb["dead_letters"], n)
            finally:
                ledger.close()


class Sigterm(ResilienceCase):
    def test_sigterm_with_retries_exits_0_and_restart_completes(self):
        """Some keys fail once with 503 and retry after 200 ms; SIGTERM
        mid-stream: exit 0 within shutdown_timeout_ms + margin; events
        waiting on a retry timer are abandoned (not committed) and a new
        worker finishes them.

        Duplicate bound: events finished beyond an abandoned one are redone;
        an event waits at most one retry delay (200 ms) + latency, so at most
        RATE_CAP x 0.25 s finish beyond it, plus what the worker held (the
        high watermark plus one fetch overshoot, as logged).
        """
        n, parts = 6000, 3
        with Stack(partitions=parts, scenario=SCENARIO, sim_args=SIM_ARGS) as stack:
            special = {k: "fail1" for k in range(0, 500, 10)}
            special.update({k: "reject" for k in range(5, 500, 50)})
            events = make_events("term", n, 500, special)
            inputs = Inputs(events, stack.produce(events))
            ledger = Ledger(stack)
            over = worker_overrides(retry={"delays_ms": [200, 200, 200], "jitter": 0.0})
            try:
                w = stack.worker("w1", **over)
                self.assertTrue(ledger.wait_distinct(n // 3, 40), "no progress")
                self.assertLess(ledger.distinct(), n * 3 // 4, "stream over too soon")
                t0 = time.monotonic()
                w.signal(signal.SIGTERM)
                rc = w.wait(SHUTDOWN_TIMEOUT_MS / 1000 + 10)
                took = time.monotonic() - t0
                self.assertEqual(rc, 0, f"exit status after SIGTERM (took {took:.1f} s)")
                self.assertLess(took, SHUTDOWN_TIMEOUT_MS / 1000 + 3,
                                "did not exit within shutdown_timeout_ms + 3 s")
                w.log.close()
                stats = final_stats(w)
                self.assertIsNotNone(stats)
                self.assertGreater(stats["retries"], 0, "no retry was in the mix")
                print(f"\n  SIGTERM -> exit 0 in {took:.2f} s; {stats}", file=sys.stderr)
                held = max([HIGH_WATERMARK] + [int(x) for x in re.findall(
                    r"(\d+) events waiting: pausing", w.log_text())])
                bound = held + int(RATE_CAP * 0.25) + MAX_IN_FLIGHT

                w2 = stack.worker("w2", **over)
                self.check_ledger(ledger, inputs, bound,
                                  f"held {held} + {RATE_CAP}/s x 0.25 s + max_in_flight")
                self.check_committed(stack, inputs)
                self.assertEqual(w2.stop(), 0)
            finally:
                ledger.close()

    def test_second_sigterm_stops_at_once(self):
        """With calls that take 4 s in flight, a first SIGTERM would wait for
        them; a second one right after stops the worker promptly. What it had
        not committed is redone by the next worker."""
        n, parts = 3000, 3
        with Stack(partitions=parts, scenario=SCENARIO, sim_args=SIM_ARGS) as stack:
            special = {k: "slow" for k in range(0, 300, 30)}
            events = make_events("hard", n, 300, special)
            inputs = Inputs(events, stack.produce(events))
            ledger = Ledger(stack)
            try:
                w = stack.worker("w1", **worker_overrides())
                self.assertTrue(ledger.wait_distinct(n // 4, 40), "no progress")
                t0 = time.monotonic()
                w.signal(signal.SIGTERM)
                time.sleep(0.05)
                w.signal(signal.SIGTERM)
                rc = w.wait(SHUTDOWN_TIMEOUT_MS / 1000 + 10)
                took = time.monotonic() - t0
                w.log.close()
                print(f"\n  two SIGTERMs -> exit {rc} in {took:.2f} s", file=sys.stderr)
                self.assertIsNotNone(rc, "still running after two SIGTERMs")
                self.assertLess(took, 2.0, "a second SIGTERM must stop at once, not wait for "
                                           "the 4 s calls in flight")
                self.assertIn("again: stopping now", w.log_text())
                w2 = stack.worker("w2", **worker_overrides())
                # The cut-short worker committed at most what auto commit
                # stored; everything after is redone.
                self.check_ledger(ledger, inputs, n, "anything uncommitted may be redone")
                self.check_committed(stack, inputs)
                self.assertEqual(w2.stop(), 0)
            finally:
                ledger.close()


class Rebalance(ResilienceCase):
    def test_member_joining_mid_stream_revoke_drains(self):
        """Worker A owns 6 partitions; B joins mid-stream and the
        cooperative-sticky rebalance moves some of A's partitions to B. A
        drains what it has in flight for them, commits, lets go.

        Duplicate bound: as for a clean stop, only events finished beyond an
        event A abandoned in a revoked partition are redone: at most what A
        held (high watermark plus one fetch overshoot, as logged) plus
        MAX_IN_FLIGHT.
        """
        n, parts = 9000, 6
        with Stack(partitions=parts, scenario=SCENARIO, sim_args=SIM_ARGS) as stack:
            events = make_events("reb", n, 700, {k: "reject" for k in range(3, 700, 70)})
            ledger = Ledger(stack)
            try:
                a = stack.worker("wa", **worker_overrides())
                self.assertTrue(wait_until(lambda: any(assigned_counts(a)), 20), "wa never assigned")
                inputs = Inputs(events, stack.produce(events))
                self.assertTrue(ledger.wait_distinct(n // 6, 40), "no progress")
                b = stack.worker("wb", **worker_overrides())
                self.assertTrue(wait_until(lambda: any(assigned_counts(b)), 30),
                                f"wb never got partitions: {assigned_counts(b)}")
                at_join = ledger.distinct()
                self.assertLess(at_join, n, "stream over before the rebalance")
                self.assertTrue(wait_until(lambda: "revoke of" in a.log_text(), 5),
                                "wa logged no revoke drain")
                drain = re.search(r"revoke of (\d+) partition\(s\): (\d+) event\(s\) pending, "
                                  r"(\d+) still publishing after (\d+) ms", a.log_text())
                print(f"\n  wb assigned at {at_join} done; wa: {drain.group(0)}", file=sys.stderr)
                self.assertEqual(drain.group(3), "0", "revoke left events publishing")
                held = max([HIGH_WATERMARK] + [int(x) for x in re.findall(
                    r"(\d+) events waiting: pausing", a.log_text())])
                self.check_ledger(ledger, inputs, held + MAX_IN_FLIGHT,
                                  f"events wa held ({held}) + max_in_flight")
                self.check_committed(stack, inputs)
                self.assertEqual(a.stop(), 0)
                self.assertEqual(b.stop(), 0)
                sa, sb = final_stats(a), final_stats(b)
                print(f"  wa {sa}\n  wb {sb}", file=sys.stderr)
                self.assertGreater(sb["api_calls"], 0, "wb made no API calls")
            finally:
                ledger.close()


if __name__ == "__main__":
    run("__main__")
