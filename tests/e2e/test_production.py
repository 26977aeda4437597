#!/usr/bin/python3
"""Production features end to end: host discovery through the Domain API
(CSDS) for several accounts, session repair, the per-account rate limit and
circuit breaker, and dead-letter redrive."""

import json
import os
import re
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD, Stack, by_event, identity_event, run, wall_ms  # noqa: E402

WORKER = os.path.join(BUILD, "engagement-worker")


def sim_control(stack, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(stack.sim_url + path, data=data, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def engagement_requests(stack, sub_prefix=None):
    out = []
    for r in stack.sim_requests():
        if not r["path"].endswith("/engagement"):
            continue
        body = r.get("body") if isinstance(r.get("body"), dict) else {}
        subs = [i.get("sub", "") for i in body.get("identities") or []]
        if sub_prefix is None or any(s.startswith(sub_prefix) for s in subs):
            out.append(r)
    return out


def ts(r):
    return wall_ms(r["time"]) / 1000.0


class Discovery(unittest.TestCase):
    def test_hosts_discovered_per_account(self):
        with Stack() as stack:
            w = stack.worker(monitoring={"base_url": "", "csds_base_url": stack.sim_url,
                                         "discovered_scheme": "http", "account_id": ""})
            events = []
            for i in range(30):
                acc = "acc-a" if i % 2 else "acc-b"
                events.append((f"k{i}", identity_event(f"d{i}", f"disc-{i}", accountId=acc)))
            stack.produce(events)
            out = by_event(stack.outcomes(30, timeout=60))
            self.assertEqual(len(out), 30)
            for i in range(30):
                self.assertEqual(out[f"d{i}"][0].json["accountId"], "acc-a" if i % 2 else "acc-b")
            reqs = stack.sim_requests()
            csds = [r for r in reqs if r["path"].endswith("/service/smt/baseURI.json")]
            self.assertEqual(sorted(r["path"] for r in csds),
                             ["/api/account/acc-a/service/smt/baseURI.json",
                              "/api/account/acc-b/service/smt/baseURI.json"],
                             "one lookup per account, cached")
            self.assertEqual(csds[0]["query"].get("version"), "1.0")
            first_call = min(ts(r) for r in engagement_requests(stack))
            self.assertLessEqual(max(ts(r) for r in csds), first_call + 0.001,
                                 "events waited for their account's host")
            paths = {r["path"] for r in engagement_requests(stack)}
            self.assertEqual(paths, {"/api/account/acc-a/app/app-1/engagement",
                                     "/api/account/acc-b/app/app-1/engagement"})
            self.assertEqual(w.stop(), 0)

    def test_failed_lookup_waits_then_recovers(self):
        with Stack() as stack:
            # The Domain API answers 500 for a while: events wait, none fail.
            sim_control(stack, "/_sim/config", {"failRatio": 1.0, "failStatus": 500})
            w = stack.worker(monitoring={"base_url": "", "csds_base_url": stack.sim_url + "/broken",
                                         "discovered_scheme": "http"})
            stack.produce([(f"k{i}", identity_event(f"f{i}", f"fl-{i}")) for i in range(5)])
            time.sleep(3)
            self.assertEqual(stack.outcomes(1, timeout=1), [], "nothing answered without a host")
            self.assertEqual(stack.dead_letters(1, timeout=1), [], "and nothing failed")
            self.assertTrue(w.wait_log("Domain API lookup failed"))
            w.stop()
            # Same events, a working Domain API: they all complete.
            sim_control(stack, "/_sim/config", {"failRatio": 0.0})
            w2 = stack.worker("w2", monitoring={"base_url": "", "csds_base_url": stack.sim_url,
                                                "discovered_scheme": "http"})
            self.assertEqual(len(by_event(stack.outcomes(5, timeout=60))), 5)
            self.assertEqual(w2.stop(), 0)


class SessionRepair(unittest.TestCase):
    def test_expired_cached_visit_is_dropped_and_retried(self):
        with Stack() as stack:
            w = stack.worker()
            stack.produce([("k1", identity_event("s1", "rep-1"))])
            self.assertEqual(len(stack.outcomes(1, timeout=30)), 1)
            sim_control(stack, "/_sim/expire-sessions", {})
            stack.produce([("k1", identity_event("s2", "rep-1")),
                           ("k2", identity_event("s3", "rep-2", visitorId="v-own", sessionId="gone-sid"))])
            out = by_event(stack.outcomes(2, timeout=30))
            dead = by_event(stack.dead_letters(1, timeout=30))
            self.assertEqual(out["s2"][0].json["attempts"], 2, "one 404/39 then a fresh visit")
            self.assertEqual(out["s2"][0].json["httpStatus"], 201)
            reqs = engagement_requests(stack, "rep-1")
            self.assertEqual([r["status"] for r in reqs], [201, 404, 201])
            self.assertIn("sid", reqs[1]["query"])
            self.assertNotIn("sid", reqs[2]["query"], "retried without the expired visit")
            # the event's own visit is not repaired: rejected
            self.assertEqual(dead["s3"][0].headers["error.kind"], "rejected")
            self.assertEqual(dead["s3"][0].headers["error.internalCode"], "39")
            self.assertEqual(w.stop(), 0)


class RateLimit(unittest.TestCase):
    def test_requests_per_second_capped_per_account(self):
        with Stack() as stack:
            w = stack.worker(monitoring={"rate_limit_per_s": 20})
            n = 100
            stack.produce([(f"k{i}", identity_event(f"r{i}", f"rl-{i}")) for i in range(n)]
                          + [(f"x{i}", identity_event(f"rx{i}", f"rlx-{i}", accountId="acc-other"))
                             for i in range(20)])
            self.assertEqual(len(by_event(stack.outcomes(n + 20, timeout=60))), n + 20)
            times = sorted(ts(r) for r in engagement_requests(stack, "rl-"))
            self.assertEqual(len(times), n)
            # A bucket of 20 plus 20/s: 100 calls need at least 4 s ...
            self.assertGreaterEqual(times[-1] - times[0], 3.8)
            # ... and no 1-second window holds more than the bucket + 1 s of tokens.
            worst = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
            self.assertLessEqual(worst, 41)
            # The other account has its own bucket: its 20 calls were not held back.
            other = sorted(ts(r) for r in engagement_requests(stack, "rlx-"))
            self.assertLess(other[-1] - other[0], 2.0)
            self.assertEqual(w.stop(), 0)


class CircuitBreaker(unittest.TestCase):
    def test_open_circuit_holds_calls_instead_of_burning_retries(self):
        scenario = {"default": "expose", "rules": [{"match": "cb-*", "behaviour": "always", "status": 503}]}
        with Stack(scenario=scenario) as stack:
            w = stack.worker(monitoring={"circuit_failure_ratio": 0.5, "circuit_min_requests": 5,
                                         "circuit_window_ms": 5000, "circuit_cooldown_ms": 1500,
                                         "max_in_flight": 5},
                             retry={"delays_ms": [50, 50, 50, 50], "jitter": 0.0})
            stack.produce([(f"k{i}", identity_event(f"c{i}", f"cb-{i}")) for i in range(10)])
            self.assertTrue(w.wait_log("circuit open", timeout=20), "the circuit opened")
            opened = time.time()
            time.sleep(1.0)
            # While open, and until the cool-down ends, no call is made.
            before = len(engagement_requests(stack, "cb-"))
            time.sleep(0.3)
            self.assertEqual(len(engagement_requests(stack, "cb-")), before, "no calls while open")
            # The API recovers: the held events end with outcomes, their
            # retries were not burnt while the circuit was open.
            sim_control(stack, "/_sim/config", {"scenario": {"default": "expose", "rules": []}})
            out = by_event(stack.outcomes(10, timeout=60))
            self.assertEqual(len(out), 10)
            self.assertEqual(stack.dead_letters(1, timeout=1), [])
            self.assertTrue(w.wait_log("circuit closed", timeout=10))
            self.assertGreater(time.time() - opened, 1.0)
            self.assertEqual(w.stop(), 0)


class Redrive(unittest.TestCase):
    def test_redrive_replays_dead_letters_with_a_limit(self):
        scenario = {"default": "expose", "rules": [{"match": "rd-*", "behaviour": "always", "status": 500}]}
        with Stack(scenario=scenario) as stack:
            # The breaker off: this test is about the replay alone.
            w = stack.worker(monitoring={"circuit_failure_ratio": 0})
            stack.produce([(f"k{i}", identity_event(f"rd{i}", f"rd-{i}"), [("trace", "t-1")]) for i in range(4)]
                          + [("kr", identity_event("rej", "x", identities=[{"acr": "9", "sub": "x"}]))])
            dead = stack.dead_letters(5, timeout=60)
            self.assertEqual(sorted(d.headers["error.kind"] for d in dead),
                             ["invalid_event"] + ["retries_exhausted"] * 4)

            def redrive(*args):
                return subprocess.run([WORKER, "redrive", "--config", w.config_path, *args],
                                      capture_output=True, timeout=120)

            p = redrive("--kind", "retries_exhausted", "--dry-run")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(b"would replay 4", p.stderr)
            # Still failing: replayed once, they come back as dead letters
            # carrying redrive.count=1.
            p = redrive("--kind", "retries_exhausted", "--since", "2000-01-01T00:00:00Z")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(b"replayed 4", p.stderr)
            dead = stack.dead_letters(9, timeout=60)
            again = [d for d in dead if d.headers.get("redrive.count") == "1"]
            self.assertEqual(len(again), 4)
            self.assertEqual(again[0].headers["trace"], "t-1", "the event's own headers travel")
            # With a limit of 1 those are refused; the first round is replayed
            # again (count 0) only if selected: --since now excludes it.
            p = redrive("--kind", "retries_exhausted", "--max-redrives", "1")
            self.assertIn(b"refused 4", p.stderr)
            # The API recovers: replaying the round-one dead letters answers them.
            sim_control(stack, "/_sim/config", {"scenario": {"default": "expose", "rules": []}})
            p = redrive("--kind", "retries_exhausted", "--max-redrives", "2")
            self.assertEqual(p.returncode, 0, p.stderr)
            out = by_event(stack.outcomes(8, timeout=60))
            self.assertEqual(sorted(out), ["rd0", "rd1", "rd2", "rd3"])
            # invalid_event was never selected
            self.assertNotIn(b"invalid", p.stdout)
            p = redrive("--since", "yesterday")
            self.assertEqual(p.returncode, 2)
            self.assertEqual(w.stop(), 0)


def scrape(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def parse_prometheus(text):
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


class Metrics(unittest.TestCase):
    def test_metrics_health_and_readiness_during_a_run(self):
        scenario = {"default": "expose", "rules": [
            {"match": "mconv-*", "behaviour": "conversation"},
            {"match": "mfail-*", "behaviour": "fail", "count": 1, "status": 503, "then": "expose"},
            {"match": "mrej-*", "behaviour": "reject", "status": 400, "internalCode": 5}]}
        with Stack(scenario=scenario) as stack:
            w = stack.worker(metrics={"listen": "127.0.0.1:0"},
                             kafka={"properties": {"consumer.statistics.interval.ms": "1000",
                                                   "consumer.session.timeout.ms": "6000"}})
            self.assertTrue(w.wait_log("metrics and health on port"))
            port = int(re.search(r"metrics and health on port (\d+)", w.log_text()).group(1))
            self.assertEqual(scrape(port, "/healthz")[0], 200)
            self.assertTrue(w.wait_log("assigned 3 partition", timeout=30))
            deadline = time.time() + 10
            while scrape(port, "/readyz")[0] != 200 and time.time() < deadline:
                time.sleep(0.2)
            self.assertEqual(scrape(port, "/readyz")[0], 200, "ready once partitions are assigned")
            events = [(f"k{i}", identity_event(f"m{i}", f"m-{i}")) for i in range(10)]
            events += [("kc", identity_event("mc", "mconv-1")), ("kf", identity_event("mf", "mfail-1")),
                       ("kr", identity_event("mr", "mrej-1")), ("kx", "not json")]
            stack.produce(events)
            stack.outcomes(12, timeout=30)
            stack.dead_letters(2, timeout=30)
            time.sleep(2.5)  # a statistics interval for the lag
            status, text = scrape(port, "/metrics")
            self.assertEqual(status, 200)
            m = parse_prometheus(text)
            p = "engagement_worker_"
            self.assertEqual(m[p + "events_consumed_total"], 14)
            self.assertEqual(m[p + 'outcomes_total{outcome="engagement"}'], 11)
            self.assertEqual(m[p + 'outcomes_total{outcome="conversation"}'], 1)
            self.assertEqual(m[p + 'dead_letters_total{kind="rejected"}'], 1)
            self.assertEqual(m[p + 'dead_letters_total{kind="invalid_event"}'], 1)
            self.assertEqual(m[p + 'api_responses_total{class="2xx"}'], 12)
            self.assertEqual(m[p + 'api_responses_total{class="5xx"}'], 1)
            self.assertEqual(m[p + 'api_responses_total{class="4xx"}'], 1)
            self.assertEqual(m[p + "retries_total"], 1)
            self.assertEqual(m[p + "attempts_count"], 13)
            self.assertEqual(m[p + "api_latency_seconds_count"], 14)
            self.assertEqual(m[p + "end_to_end_latency_seconds_count"], 14)
            self.assertEqual(m[p + "in_flight"], 0)
            self.assertEqual(m[p + "assigned_partitions"], 3)
            self.assertEqual(m[p + 'circuit_state{account="acc-1"}'], 0)
            lags = {k: v for k, v in m.items() if k.startswith(p + "consumer_lag{")}
            self.assertEqual(len(lags), 3, "a lag per assigned partition: " + repr(lags))
            self.assertTrue(all(v == 0 for v in lags.values()), lags)
            self.assertIn("# TYPE engagement_worker_api_latency_seconds histogram", text)
            self.assertEqual(scrape(port, "/nope")[0], 404)
            self.assertEqual(w.stop(), 0)


if __name__ == "__main__":
    run("__main__")
