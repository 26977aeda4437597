#!/usr/bin/python3
"""Batch mode end to end: `engagement-worker batch` against monitoring-sim,
on a file of events covering every outcome, from a file and from stdin."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD, SOURCE, run, to_yaml  # noqa: E402

WORKER = os.path.join(BUILD, "engagement-worker")
DEMO = os.path.join(SOURCE, "tests", "data", "demo")


class Batch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ew-batch-")
        cls.sim_log = os.path.join(cls.dir, "sim.log")
        cls.sim = subprocess.Popen(
            [os.path.join(BUILD, "monitoring-sim"), "--port", "0", "--log", cls.sim_log,
             "--scenario", os.path.join(DEMO, "scenario.json")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        url = cls.sim.stdout.readline().decode().split("listening on ", 1)[1].strip()
        cls.config = os.path.join(cls.dir, "batch.yaml")
        with open(cls.config, "w") as f:
            f.write(to_yaml({
                "kafka": {"brokers": "unused:9092"},
                "monitoring": {"base_url": url, "account_id": "acc-b", "app_installation_id": "app-b",
                               "max_in_flight": 4},
                "retry": {"delays_ms": [20, 40, 60, 80], "jitter": 0.0},
            }) + "\n")
        # The demo's events without their Kafka keys: one event per line.
        cls.events = os.path.join(cls.dir, "events.ndjson")
        with open(os.path.join(DEMO, "events.txt")) as src, open(cls.events, "w") as dst:
            cls.lines = [line.split("|", 1)[1] for line in src if line.strip()]
            dst.write("".join(cls.lines) + "\n")  # plus a blank line, skipped

    @classmethod
    def tearDownClass(cls):
        cls.sim.terminate()
        cls.sim.wait()

    def batch(self, *args, stdin=None):
        return subprocess.run([WORKER, "batch", "--config", self.config, *args],
                              input=stdin, capture_output=True, timeout=120)

    def test_every_outcome_from_a_file(self):
        out = os.path.join(self.dir, "out.ndjson")
        dead = os.path.join(self.dir, "dead.ndjson")
        p = self.batch("--input", self.events, "--output", out, "--dead-letter", dead)
        self.assertEqual(p.returncode, 3, "some events failed: exit 3\n" + p.stderr.decode())
        outcomes = [json.loads(x) for x in open(out)]
        deads = [json.loads(x) for x in open(dead)]
        self.assertEqual(len(outcomes) + len(deads), len(self.lines), "one line per event")
        kinds = sorted(o["outcome"] for o in outcomes)
        self.assertEqual(kinds, ["conversation"] + ["engagement"] * 5 + ["unavailable"])
        dkinds = sorted(d["error.kind"] for d in deads)
        self.assertEqual(dkinds, ["invalid_event", "invalid_event", "rejected", "retries_exhausted"])
        by_id = {o["eventId"]: o for o in outcomes}
        self.assertEqual(by_id["demo-4-loading-account"]["attempts"], 2)
        self.assertEqual(by_id["demo-5-flaky-api"]["attempts"], 3)
        # per-key order and sessions: the second event of the same consumer
        # reuses the first one's session
        self.assertEqual(by_id["demo-11-same-visit"]["sessionId"], by_id["demo-1-engagement"]["sessionId"])
        self.assertEqual(by_id["demo-11-same-visit"]["httpStatus"], 200)
        for o in outcomes:
            self.assertEqual(o["source"]["topic"], self.events)
            self.assertEqual(o["accountId"], "acc-b")
        # dead-letter lines carry the header fields and the original line
        rej = [d for d in deads if d["error.kind"] == "rejected"][0]
        self.assertEqual(rej["error.httpStatus"], 400)
        self.assertEqual(rej["error.internalCode"], 5)
        self.assertEqual(rej["eventId"], "demo-6-rejected")
        self.assertEqual(rej["event"], self.lines[rej["source.offset"] - 1].rstrip("\n"))
        notjson = [d for d in deads if d["event"] == "this is not JSON"]
        self.assertEqual(len(notjson), 1)
        self.assertEqual(notjson[0]["source.offset"], 9)
        summary = p.stderr.decode()
        self.assertIn("11 events", summary)
        self.assertIn("1 retries_exhausted", summary)

    def test_stdin_all_good_exits_0(self):
        good = "".join(x for x in self.lines if "demo-1-" in x or "demo-3-" in x)
        p = self.batch("--input", "-", stdin=good.encode())
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        lines = [json.loads(x) for x in p.stdout.decode().splitlines()]
        self.assertEqual(sorted(x["outcome"] for x in lines), ["engagement", "unavailable"])
        self.assertEqual(lines[0]["source"]["topic"], "stdin")
        self.assertNotIn("\r", p.stderr.decode(), "no progress line when stderr is not a terminal")

    def test_usage_errors(self):
        p = subprocess.run([WORKER, "batch", "--config", self.config], capture_output=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--input", p.stderr)
        p = self.batch("--input", os.path.join(self.dir, "missing.ndjson"))
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"missing.ndjson", p.stderr)
        p = subprocess.run([WORKER, "batch", "--help"], capture_output=True)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"NDJSON", p.stdout)


if __name__ == "__main__":
    run("__main__")
