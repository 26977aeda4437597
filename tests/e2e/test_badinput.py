#!/usr/bin/python3
"""Bad input through the whole pipeline: each hostile message ends in a
dead letter with a clear message naming what is wrong, the input's key,
value and headers are kept byte for byte, no API call is made for it, and
the worker stays up with bounded memory."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Stack, by_event, identity_event, run  # noqa: E402

from kafka import KafkaProducer  # noqa: E402

TEN_MB = 10 * 1024 * 1024
# librdkafka's mock broker keeps at most ~5 MiB per partition, so through
# Kafka the oversized value is 4 MiB; batch mode (the same engine) takes the
# 10 MiB line below.
FOUR_MB = 4 * 1024 * 1024


def nested(depth):
    return '{"eventId":"deep","identities":' + "[" * depth + "]" * depth + "}"


CASES = [
    # (name, key, value bytes, headers, words the message must contain)
    ("empty", b"k-empty", b"", [], ["empty"]),
    ("four-mb", b"k-big", b'{"eventId":"big","consumerId":"' + b"x" * FOUR_MB + b'"}', [],
     ["bytes", "limit"]),
    ("deep", b"k-deep", nested(10000).encode(), [], ["deep"]),
    ("utf8", b"k-utf8", b'{"eventId":"u","consumerId":"\xff\xfe"}', [], ["UTF-8"]),
    ("nul", b"k-nul", b'{"eventId":"n","consumerId":"a\x00b"}', [], ["NUL"]),
    ("number", b"k-num", b'{"eventId":"num","consumerId":42}', [], ["consumerId", "string"]),
    ("ids", b"k-ids", json.dumps({"eventId": "ids", "identities": [
        {"acr": "0", "sub": f"s{i}"} for i in range(10000)]}).encode(), [],
     ["over the limit"]),  # 10,000 identities cannot fit 64 KiB; the unit
                            # tests check the identity count limit itself
    ("nullkey", None, b'{"eventId":"nk","identities":[{"acr":"7","sub":"x"}]}', [], ["acr"]),
    ("junkhdr", b"k-hdr", b"[1,2,3]", [("\x00junk", b"\xff\x00\xfe"), ("", b"")],
     ["object"]),
]


class BadInput(unittest.TestCase):
    def test_each_bad_message_is_a_dead_letter_and_the_worker_stays_up(self):
        with Stack() as stack:
            w = stack.worker(kafka={"properties": {
                "consumer.fetch.max.bytes": str(12 * 1024 * 1024),
                "consumer.max.partition.fetch.bytes": str(12 * 1024 * 1024),
                "consumer.receive.message.max.bytes": str(40 * 1024 * 1024),
                # librdkafka never fetches more than this per partition: the
                # largest message must fit (README, Configuration).
                "consumer.queued.max.messages.kbytes": "16384",
                "consumer.session.timeout.ms": "6000"}})
            big = KafkaProducer(bootstrap_servers=stack.bootstrap, api_version=(2, 5, 0),
                                max_request_size=12 * 1024 * 1024, acks="all")
            try:
                futures = [big.send("events", key=key, value=value, headers=headers)
                           for name, key, value, headers, _ in CASES]
                big.flush(60)
                for f in futures:
                    f.get(10)  # every bad message really is in the topic
            finally:
                big.close()
            # A good event after them: the worker is still answering.
            stack.produce([("k-good", identity_event("good", "good-1"))])
            out = by_event(stack.outcomes(1, timeout=60))
            dead = stack.dead_letters(len(CASES), timeout=60)
            self.assertIn("good", out)
            self.assertEqual(len(dead), len(CASES), [d.headers.get("error.message") for d in dead])
            by_key = {d.raw.key: d for d in dead}
            for name, key, value, headers, words in CASES:
                d = by_key.get(key)
                self.assertIsNotNone(d, f"{name}: no dead letter")
                msg = d.headers.get("error.message", "")
                self.assertEqual(d.headers.get("error.kind"), "invalid_event", f"{name}: {msg}")
                self.assertEqual(d.headers.get("error.attempts"), "0", name)
                for word in words:
                    self.assertIn(word, msg, f"{name}: message {msg!r} should name {word!r}")
                self.assertLess(len(msg), 1000, f"{name}: the message stays short")
                got = d.raw.value if d.raw.value is not None else b""
                if name == "four-mb":
                    # Over the producer's 1 MB message.max.bytes: the dead
                    # letter carries the first 64 KiB and the original size;
                    # the input stays at its source offset.
                    self.assertEqual(d.headers.get("error.valueTruncated"), str(len(value)))
                    self.assertEqual(got, value[:65536])
                else:
                    self.assertEqual(got, value, f"{name}: the value is kept byte for byte")
                    self.assertNotIn("error.valueTruncated", d.headers)
                kept = [(k, v) for k, v in (d.raw.headers or []) if not k.startswith(
                    ("error.", "source.")) and k not in ("eventId", "failedAt")]
                self.assertEqual(kept, [(k, v) for k, v in headers], f"{name}: headers kept")
            calls = [r for r in stack.sim_requests() if r["path"].endswith("/engagement")]
            self.assertEqual(len(calls), 1, "only the good event reached the API")
            self.assertTrue(w.alive(), "the worker is still running")
            self.assertLess(w.rss_kib(), 96 * 1024, "memory stays bounded after a 10 MB value")
            self.assertEqual(w.stop(), 0)


class BadInputBatch(unittest.TestCase):
    def test_ten_megabyte_and_binary_lines_in_batch_mode(self):
        import subprocess
        import tempfile
        from harness import BUILD, to_yaml
        d = tempfile.mkdtemp(prefix="ew-bad-")
        conf = os.path.join(d, "c.yaml")
        with open(conf, "w") as f:
            f.write(to_yaml({"kafka": {"brokers": "unused:9092"},
                             "monitoring": {"base_url": "http://127.0.0.1:9", "account_id": "a",
                                            "app_installation_id": "b"}}) + "\n")
        lines = [b'{"eventId":"big","consumerId":"' + b"x" * TEN_MB + b'"}',
                 b'{"eventId":"n","consumerId":"a\x00b"}', b"\xff\xfe not utf-8", b"[]"]
        p = subprocess.run([os.path.join(BUILD, "engagement-worker"), "batch", "--config", conf,
                            "--input", "-"], input=b"\n".join(lines) + b"\n",
                           capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 3, p.stderr[-2000:])
        dead = [json.loads(x) for x in p.stdout.splitlines()]
        self.assertEqual(len(dead), 4)
        msgs = [x["error.message"] for x in dead]
        self.assertIn("over the limit", msgs[0])
        self.assertIn("NUL", msgs[1])
        self.assertIn("UTF-8", msgs[2])
        self.assertIn("JSON object", msgs[3])
        self.assertTrue(all(x["error.kind"] == "invalid_event" for x in dead))
        self.assertLess(len(p.stdout), 4 * 70000, "an oversized line is cut, not copied whole")


if __name__ == "__main__":
    run("__main__")
