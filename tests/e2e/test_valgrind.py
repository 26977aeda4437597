#!/usr/bin/python3
"""The worker under valgrind memcheck, end to end: every kind of answer, a
retry, a dead letter, bad input, then SIGTERM. Valgrind must report no
error and no leak."""

import os
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Stack, by_event, identity_event, run  # noqa: E402

SCENARIO = {
    "default": "expose",
    "rules": [
        {"match": "conv-*", "behaviour": "conversation"},
        {"match": "unavail-*", "behaviour": "unavailable"},
        {"match": "load-*", "behaviour": "loading", "then": "expose"},
        {"match": "fail-*", "behaviour": "fail", "count": 1, "status": 503, "then": "expose"},
        {"match": "down-*", "behaviour": "always", "status": 500},
        {"match": "reject-*", "behaviour": "reject", "status": 400, "internalCode": 5},
    ],
}


@unittest.skipUnless(shutil.which("valgrind"), "valgrind not installed")
class Memcheck(unittest.TestCase):
    def test_no_errors_no_leaks(self):
        with Stack(scenario=SCENARIO) as stack:
            vlog = os.path.join(stack.dir, "valgrind.log")
            stack.wrapper = ["valgrind", "--tool=memcheck", "--leak-check=full",
                             "--show-leak-kinds=definite,indirect,possible",
                             "--errors-for-leak-kinds=definite,indirect,possible",
                             "--error-exitcode=99", f"--log-file={vlog}"]
            w = stack.worker(retry={"delays_ms": [50, 50, 50, 50], "jitter": 0.1},
                             worker={"shutdown_timeout_ms": 10000})
            events = [
                ("k1", identity_event("v1", "user-1")),
                ("k2", identity_event("v2", "conv-1")),
                ("k3", {"eventId": "v3", "consumerId": "unavail-1"}),
                ("k4", identity_event("v4", "load-1")),
                ("k5", identity_event("v5", "fail-1")),
                ("k6", identity_event("v6", "down-1")),
                ("k7", identity_event("v7", "reject-1")),
                ("k8", "not json \x00 at all"),
                ("k1", identity_event("v9", "user-1")),
                (None, {"eventId": "v10", "identities": [{"acr": "loa1"}]}),
            ]
            stack.produce(events, )
            out = by_event(stack.outcomes(6, timeout=180))
            dead = stack.dead_letters(4, timeout=180)
            self.assertEqual(len(out), 6)
            self.assertEqual(len(dead), 4)
            rc = w.stop(timeout=120)
            report = open(vlog).read()
            self.assertEqual(rc, 0, "valgrind found errors or leaks:\n" + report[-4000:])
            self.assertRegex(report, r"ERROR SUMMARY: 0 errors")
            m = re.search(r"definitely lost: ([\d,]+) bytes", report)
            if m:  # absent when nothing leaked at all
                self.assertEqual(m.group(1), "0", report[-4000:])


if __name__ == "__main__":
    run("__main__")
