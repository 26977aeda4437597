#!/usr/bin/python3
"""End to end: each answer of the API doc gives its outcome; what goes on the
wire; retries with the configured delays; dead letters; sessions; bad input.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Stack, by_event, identity_event, run, wall_ms as ms  # noqa: E402

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

SCENARIO = {
    "default": "expose",
    "rules": [
        {"match": "conv-*", "behaviour": "conversation"},
        {"match": "unavail-*", "behaviour": "unavailable"},
        {"match": "load-*", "behaviour": "loading", "then": "expose"},
        {"match": "fail2-*", "behaviour": "fail", "count": 2, "status": 503, "then": "expose"},
        {"match": "ra-*", "behaviour": "fail", "count": 1, "status": 429, "retryAfter": "1",
         "then": "expose"},
        {"match": "down-*", "behaviour": "always", "status": 500},
        {"match": "reject-*", "behaviour": "reject", "status": 400, "internalCode": 5,
         "message": "consumerId"},
        {"match": "noapp-*", "behaviour": "reject", "status": 404, "internalCode": 18,
         "message": "invalid appInstallationId"},
    ],
}


def requests_for(stack, sub):
    out = []
    for r in stack.sim_requests():
        body = r.get("body") or {}
        if not isinstance(body, dict):
            continue
        ids = body.get("identities") or []
        if body.get("consumerId") == sub or any(i.get("sub") == sub for i in ids):
            out.append(r)
    return out




class Outcomes(unittest.TestCase):
    """One worker, one stack, every kind of answer (API version 1.1)."""

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(scenario=SCENARIO)
        cls.worker = cls.stack.worker()
        events = [
            ("k-expose", identity_event("e-expose", "user-expose")),
            ("k-conv", identity_event("e-conv", "conv-1")),
            ("k-unavail", {"eventId": "e-unavail", "consumerId": "unavail-1"}),
            ("k-load", identity_event("e-load", "load-1")),
            ("k-fail2", identity_event("e-fail2", "fail2-1")),
            ("k-ra", identity_event("e-ra", "ra-1")),
            ("k-down", identity_event("e-down", "down-1")),
            ("k-reject", identity_event("e-reject", "reject-1")),
            ("k-noapp", identity_event("e-noapp", "noapp-1")),
            (None, identity_event("e-nokey", "nokey-sub-1")),
            ("k-visit", identity_event("e-visit", "visit-1", visitorId="my-vid")),
            ("k-invalid", {"eventId": "e-invalid", "identities": [{"acr": "2", "sub": "x"}]}),
            ("k-notjson", "this is not json"),
            ("k-imp", identity_event("e-imp", "imp-1",
                                     engagementAttributes=[{"type": "impDisplay"}])),
            ("k-trace", identity_event("e-trace", "trace-1"), [("traceparent", TRACEPARENT)]),
            ("k-badtrace", identity_event("e-badtrace", "trace-2"),
             [("traceparent", "00-abc\r\nX-Evil: 1")]),
        ]
        cls.t0 = time.time()
        cls.stack.produce(events)
        cls.out = by_event(cls.stack.outcomes(10, timeout=60))
        cls.dead = by_event(cls.stack.dead_letters(6, timeout=60))

    @classmethod
    def tearDownClass(cls):
        cls.rc = cls.worker.stop()
        cls.stack.close()

    def outcome(self, event_id):
        self.assertIn(event_id, self.out, f"no outcome for {event_id}: {self.out.keys()}")
        self.assertEqual(len(self.out[event_id]), 1, f"duplicates for {event_id}")
        return self.out[event_id][0]

    def dead_letter(self, event_id):
        self.assertIn(event_id, self.dead, f"no dead letter for {event_id}: {self.dead.keys()}")
        return self.dead[event_id][0]

    def test_engagement(self):
        r = self.outcome("e-expose")
        self.assertEqual(r.json["outcome"], "engagement")
        self.assertEqual(r.json["httpStatus"], 201)
        self.assertEqual(r.json["attempts"], 1)
        self.assertEqual(r.json["accountId"], "acc-1")
        self.assertEqual(r.json["engagementDetails"][0]["status"], "expose")
        self.assertTrue(r.json["sessionId"] and r.json["visitorId"] and r.json["pageId"])
        self.assertEqual(r.key, "k-expose")
        self.assertEqual(r.json["source"]["topic"], "events")

    def test_conversation(self):
        r = self.outcome("e-conv")
        self.assertEqual(r.json["outcome"], "conversation")
        self.assertTrue(r.json["conversationId"])
        self.assertEqual(r.json["engagementDetails"][0]["conversationId"], r.json["conversationId"])

    def test_unavailable(self):
        r = self.outcome("e-unavail")
        self.assertEqual(r.json["outcome"], "unavailable")
        self.assertNotIn("engagementDetails", r.json)

    def test_loading_retried_with_announced_vid(self):
        r = self.outcome("e-load")
        self.assertEqual(r.json["outcome"], "engagement")
        self.assertEqual(r.json["attempts"], 2)
        reqs = requests_for(self.stack, "load-1")
        self.assertEqual([q["status"] for q in reqs], [202, 201])
        self.assertEqual(reqs[0]["internalCode"], 38)
        self.assertNotIn("vid", reqs[0]["query"])
        announced = reqs[0].get("responseVid") or reqs[1]["query"].get("vid")
        self.assertTrue(announced)
        self.assertEqual(reqs[1]["query"]["vid"], announced)

    def test_failures_then_success_with_configured_delays(self):
        r = self.outcome("e-fail2")
        self.assertEqual(r.json["attempts"], 3)
        reqs = requests_for(self.stack, "fail2-1")
        self.assertEqual([q["status"] for q in reqs], [503, 503, 201])
        gaps = [ms(reqs[i + 1]["time"]) - ms(reqs[i]["time"]) for i in range(2)]
        # retry.delays_ms [100, 200, ...], jitter 0: never sooner, not much later
        self.assertGreaterEqual(gaps[0], 95)
        self.assertLess(gaps[0], 100 + 400)
        self.assertGreaterEqual(gaps[1], 195)
        self.assertLess(gaps[1], 200 + 400)

    def test_retry_after_honoured(self):
        r = self.outcome("e-ra")
        self.assertEqual(r.json["attempts"], 2)
        reqs = requests_for(self.stack, "ra-1")
        self.assertEqual([q["status"] for q in reqs], [429, 201])
        gap = ms(reqs[1]["time"]) - ms(reqs[0]["time"])
        self.assertGreaterEqual(gap, 990, "Retry-After: 1 must win over the 100 ms delay")

    def test_retries_exhausted(self):
        r = self.dead_letter("e-down")
        self.assertEqual(r.headers["error.kind"], "retries_exhausted")
        self.assertEqual(r.headers["error.attempts"], "5")
        self.assertEqual(r.headers["error.httpStatus"], "500")
        self.assertEqual(len(requests_for(self.stack, "down-1")), 5)
        self.assertEqual(r.key, "k-down")
        self.assertEqual(r.json["eventId"], "e-down", "the value is the input, byte for byte")

    def test_rejected_not_retried(self):
        r = self.dead_letter("e-reject")
        self.assertEqual(r.headers["error.kind"], "rejected")
        self.assertEqual(r.headers["error.httpStatus"], "400")
        self.assertEqual(r.headers["error.internalCode"], "5")
        self.assertEqual(r.headers["error.attempts"], "1")
        self.assertEqual(len(requests_for(self.stack, "reject-1")), 1)
        r = self.dead_letter("e-noapp")
        self.assertEqual(r.headers["error.httpStatus"], "404")
        self.assertEqual(r.headers["error.internalCode"], "18")

    def test_wire(self):
        reqs = requests_for(self.stack, "user-expose")
        self.assertEqual(len(reqs), 1)
        q = reqs[0]
        self.assertEqual(q["method"], "POST")
        self.assertEqual(q["path"], "/api/account/acc-1/app/app-1/engagement")
        self.assertEqual(q["query"]["obh"], "true")
        self.assertEqual(q["query"]["v"], "1.1")
        self.assertNotIn("sid", q["query"])
        self.assertEqual(q["body"], {"identities": [{"iss": "https://crm.example", "acr": "0",
                                                     "sub": "user-expose"}]})
        self.assertTrue(q["headers"]["user-agent"].startswith("engagement-worker/"))

    def test_event_visit_sent(self):
        r = self.outcome("e-visit")
        q = requests_for(self.stack, "visit-1")[0]
        self.assertEqual(q["query"]["vid"], "my-vid")
        self.assertEqual(r.json["outcome"], "engagement")

    def test_derived_key(self):
        r = self.outcome("e-nokey")
        self.assertEqual(r.key, "nokey-sub-1")

    def test_invalid_events(self):
        r = self.dead_letter("e-invalid")
        self.assertEqual(r.headers["error.kind"], "invalid_event")
        self.assertIn("acr", r.headers["error.message"])
        self.assertEqual(r.headers["error.attempts"], "0")
        r = self.dead_letter("e-imp")
        self.assertIn("impDisplay", r.headers["error.message"])
        notjson = [x for xs in self.dead.values() for x in xs if x.key == "k-notjson"]
        self.assertEqual(len(notjson), 1)
        self.assertEqual(notjson[0].value_bytes, b"this is not json")
        self.assertTrue(notjson[0].headers["eventId"].startswith("events:"))
        self.assertEqual(requests_for(self.stack, "imp-1"), [])

    def test_traceparent_forwarded_when_well_formed(self):
        self.outcome("e-trace")
        self.outcome("e-badtrace")
        good = requests_for(self.stack, "trace-1")[0]
        bad = requests_for(self.stack, "trace-2")[0]
        self.assertEqual(good["headers"].get("traceparent"), TRACEPARENT)
        self.assertNotIn("traceparent", bad["headers"])

    def test_every_event_exactly_one_message(self):
        ids = set(self.out) | set(self.dead)
        self.assertEqual(len(self.out) + len(self.dead), len(ids), "an event in both topics")
        for r in list(self.out.values()) + list(self.dead.values()):
            self.assertEqual(len(r), 1)


class Sessions(unittest.TestCase):
    def test_session_reused_per_key_and_event_visit_wins(self):
        with Stack() as stack:
            w = stack.worker()
            stack.produce([("k1", identity_event("a1", "sess-1"))])
            first = stack.outcomes(1, timeout=30)
            self.assertEqual(len(first), 1)
            sid, vid = first[0].json["sessionId"], first[0].json["visitorId"]
            stack.produce([("k1", identity_event("a2", "sess-1")),
                           ("k1", identity_event("a3", "sess-1", visitorId="own-vid"))])
            out = by_event(stack.outcomes(3, timeout=30))
            self.assertEqual(out["a2"][0].json["httpStatus"], 200, "known session: 200")
            self.assertEqual(out["a2"][0].json["sessionId"], sid)
            reqs = requests_for(stack, "sess-1")
            self.assertEqual(len(reqs), 3)
            self.assertEqual(reqs[1]["query"].get("sid"), sid)
            self.assertEqual(reqs[1]["query"].get("vid"), vid)
            self.assertEqual(reqs[2]["query"].get("vid"), "own-vid", "the event's visit wins")
            self.assertNotIn("sid", reqs[2]["query"])
            self.assertEqual(w.stop(), 0)


class HashedIdentities(unittest.TestCase):
    def test_sub_and_consumer_id_hashed_before_leaving(self):
        import hashlib
        import hmac
        key = "k3y-for-hmac-tests"

        def h(v):
            return hmac.new(key.encode(), v.encode(), hashlib.sha256).hexdigest()

        with Stack() as stack:
            w = stack.worker(identity={"hash_key": key})
            stack.produce([("kh", {"eventId": "h1", "consumerId": "alice@example.com",
                                   "identities": [{"iss": "i", "acr": "0", "sub": "alice@example.com"},
                                                  {"acr": "loa1", "sub": "+15551234567"}]})])
            out = stack.outcomes(1, timeout=30)
            self.assertEqual(out[0].json["outcome"], "engagement")
            reqs = [r for r in stack.sim_requests() if r["path"].endswith("/engagement")]
            self.assertEqual(len(reqs), 1)
            body = reqs[0]["body"]
            self.assertEqual(body["consumerId"], h("alice@example.com"))
            self.assertEqual([i["sub"] for i in body["identities"]],
                             [h("alice@example.com"), h("+15551234567")])
            self.assertEqual(body["identities"][0]["iss"], "i")
            log = open(stack.sim_log_path).read() + w.log_text()
            self.assertNotIn("alice@example.com", log, "the clear identity never reaches the API or the log")
            self.assertEqual(w.stop(), 0)


class LoadingV10(unittest.TestCase):
    def test_loading_account_v1_0(self):
        with Stack(scenario=SCENARIO) as stack:
            w = stack.worker(monitoring={"api_version": "1.0"})
            stack.produce([("k", identity_event("l1", "load-v10"))])
            out = stack.outcomes(1, timeout=30)
            self.assertEqual(out[0].json["attempts"], 2)
            reqs = requests_for(stack, "load-v10")
            self.assertEqual([(q["status"], q["internalCode"]) for q in reqs][0], (500, 20))
            self.assertEqual(reqs[1]["query"]["v"], "1.0")
            self.assertTrue(reqs[1]["query"].get("vid"))
            self.assertEqual(w.stop(), 0)


if __name__ == "__main__":
    run("__main__")
