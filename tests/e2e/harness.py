"""End-to-end test harness: runs embedded-kafka, monitoring-sim and workers as
separate processes, produces events with an independent Kafka client
(Debian's python3-kafka), and reads what the workers published.

Everything listens on 127.0.0.1 only. Every process started here is stopped
when the Stack closes, whatever happened.
"""

import json
import os
import shutil
import signal
import sys
import subprocess
import tempfile
import time
import unittest

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

BUILD = os.environ.get("EW_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE = os.environ.get("EW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
KAFKA_API = (2, 5, 0)  # skip kafka-python's version probing against the mock

INPUT, OUTPUT, DEAD = "events", "outcomes", "dead-letters"


def _first_line(proc, what, timeout=15.0):
    """Reads the first stdout line of proc (its address), or fails."""
    deadline = time.monotonic() + timeout
    line = proc.stdout.readline()
    if not line or time.monotonic() > deadline:
        raise RuntimeError(f"{what} did not start (exit {proc.poll()})")
    return line.decode().strip()


def yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))


def to_yaml(d, indent=0):
    """Tiny YAML writer for the worker's config (maps, lists, scalars)."""
    out = []
    pad = " " * indent
    for k, v in d.items():
        if isinstance(v, dict):
            out.append(f"{pad}{k}:")
            out.append(to_yaml(v, indent + 2))
        elif isinstance(v, list):
            out.append(f"{pad}{k}: [{', '.join(yaml_scalar(x) for x in v)}]")
        else:
            out.append(f"{pad}{k}: {yaml_scalar(v)}")
    return "\n".join(x for x in out if x)


class Worker:
    """One engagement-worker process."""

    def __init__(self, stack, name, overrides):
        self.stack = stack
        self.name = name
        conf = {
            "kafka": {
                "brokers": stack.bootstrap,
                "group_id": "ew-test",
                "input_topic": INPUT,
                "output_topic": OUTPUT,
                "dead_letter_topic": DEAD,
                "properties": {"consumer.session.timeout.ms": "6000",
                               "consumer.heartbeat.interval.ms": "500",
                               "topic.metadata.refresh.interval.ms": "2000"},
            },
            "monitoring": {
                "base_url": stack.sim_url,
                "account_id": "acc-1",
                "app_installation_id": "app-1",
                "api_version": "1.1",
                "timeout_ms": 2000,
                "connect_timeout_ms": 1000,
                "max_in_flight": 100,
            },
            "retry": {"delays_ms": [100, 200, 300, 400], "jitter": 0.0},
            "worker": {"shutdown_timeout_ms": 5000},
            "log": {"level": "info"},
            "metrics": {"listen": ""},
        }
        for section, values in overrides.items():
            if isinstance(values, dict):
                conf.setdefault(section, {}).update(values)
            else:
                conf[section] = values
        self.config_path = os.path.join(stack.dir, f"{name}.yaml")
        with open(self.config_path, "w") as f:
            f.write(to_yaml(conf) + "\n")
        self.log_path = os.path.join(stack.dir, f"{name}.log")
        self.proc = None
        self.start()

    def start(self, extra_env=None):
        env = dict(os.environ)
        env.update(extra_env or {})
        self.log = open(self.log_path, "ab")
        cmd = self.stack.wrapper + [os.path.join(BUILD, "engagement-worker"), "--config", self.config_path]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        return self

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit status (None if it hung)."""
        self.signal(signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, text, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_text():
                return True
            time.sleep(0.1)
        return False


class Stack:
    """embedded-kafka + monitoring-sim (+ workers), torn down on close."""

    def __init__(self, partitions=3, scenario=None, sim_args=(), brokers=1, wrapper=()):
        self.dir = tempfile.mkdtemp(prefix="ew-e2e-")
        self.procs = []
        self.workers = []
        self.partitions = partitions
        self.wrapper = list(wrapper)
        try:
            self.kafka = subprocess.Popen(
                [os.path.join(BUILD, "embedded-kafka"), "--brokers", str(brokers),
                 "--topic", f"{INPUT}:{partitions}", "--topic", f"{OUTPUT}:{partitions}",
                 "--topic", f"{DEAD}:1"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=open(os.path.join(self.dir, "kafka.log"), "wb"))
            self.procs.append(self.kafka)
            self.bootstrap = _first_line(self.kafka, "embedded-kafka")
            self.sim_log_path = os.path.join(self.dir, "sim.log")
            args = [os.path.join(BUILD, "monitoring-sim"), "--port", "0", "--log", self.sim_log_path]
            if scenario is not None:
                path = os.path.join(self.dir, "scenario.json")
                with open(path, "w") as f:
                    json.dump(scenario, f)
                args += ["--scenario", path]
            args += list(sim_args)
            self.sim = subprocess.Popen(args, stdout=subprocess.PIPE,
                                        stderr=open(os.path.join(self.dir, "sim.err"), "wb"))
            self.procs.append(self.sim)
            line = _first_line(self.sim, "monitoring-sim")
            self.sim_url = line.split("listening on ", 1)[1]
            self.producer = KafkaProducer(bootstrap_servers=self.bootstrap, api_version=KAFKA_API,
                                          acks="all", linger_ms=5)
        except Exception:
            self.close()
            raise

    # --- processes -------------------------------------------------------
    def worker(self, name="w1", **overrides):
        w = Worker(self, name, overrides)
        self.workers.append(w)
        return w

    def kafka_ctl(self, command):
        """Sends one control line to embedded-kafka; returns its reply."""
        self.kafka.stdin.write((command + "\n").encode())
        self.kafka.stdin.flush()
        return self.kafka.stdout.readline().decode().strip()

    def close(self, keep=False):
        """Stops every process; removes the stack's directory unless keep
        (or EW_KEEP_TMP) is set, so a failure's logs stay behind."""
        for w in self.workers:
            if w.alive():
                w.proc.kill()
                w.proc.wait()
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if getattr(self, "producer", None):
            self.producer.close(timeout=2)
            self.producer = None
        if keep or os.environ.get("EW_KEEP_TMP"):
            print(f"stack files kept in {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(keep=exc_type is not None)

    # --- Kafka I/O ------------------------------------------------------
    def produce(self, events, topic=INPUT):
        """events: iterable of (key, value, headers); key/value str|bytes|None,
        value a dict is sent as JSON. Returns the record metadata list."""
        futures = []
        for key, value, *rest in events:
            headers = rest[0] if rest else None
            if isinstance(value, dict):
                value = json.dumps(value)
            if isinstance(key, str):
                key = key.encode()
            if isinstance(value, str):
                value = value.encode()
            futures.append(self.producer.send(topic, key=key, value=value,
                                              headers=[(k, v.encode() if isinstance(v, str) else v)
                                                       for k, v in (headers or [])]))
        self.producer.flush(timeout=30)
        return [f.get(timeout=30) for f in futures]

    def read(self, topic, count, timeout=30.0, min_wait=0.0):
        """Reads topic from the beginning until count records or timeout;
        waits at least min_wait seconds (to catch extras). Returns records."""
        c = KafkaConsumer(bootstrap_servers=self.bootstrap, api_version=KAFKA_API,
                          enable_auto_commit=False, consumer_timeout_ms=200)
        parts = [TopicPartition(topic, p) for p in (c.partitions_for_topic(topic) or [])]
        c.assign(parts)
        c.seek_to_beginning(*parts)
        out = []
        start = time.monotonic()
        deadline = start + timeout
        try:
            while time.monotonic() < deadline:
                for rec in c:
                    out.append(rec)
                if len(out) >= count and time.monotonic() - start >= min_wait:
                    break
        finally:
            c.close()
        return out

    def outcomes(self, count, **kw):
        return [Record(r) for r in self.read(OUTPUT, count, **kw)]

    def dead_letters(self, count, **kw):
        return [Record(r) for r in self.read(DEAD, count, **kw)]

    def committed(self, group="ew-test"):
        c = KafkaConsumer(bootstrap_servers=self.bootstrap, api_version=KAFKA_API,
                          group_id=group, enable_auto_commit=False)
        try:
            return {p: c.committed(TopicPartition(INPUT, p)) for p in range(self.partitions)}
        finally:
            c.close()

    # --- simulator --------------------------------------------------------
    def sim_requests(self):
        out = []
        try:
            with open(self.sim_log_path) as f:
                for line in f:
                    line = line.strip()
                    if line:
                        out.append(json.loads(line))
        except FileNotFoundError:
            pass
        return out


class Record:
    """A published message, decoded."""

    def __init__(self, rec):
        self.raw = rec
        self.key = rec.key.decode(errors="replace") if rec.key is not None else None
        self.value_bytes = rec.value
        self.headers = {k: v.decode(errors="replace") for k, v in (rec.headers or [])}
        self.partition = rec.partition
        self.offset = rec.offset
        self.timestamp = rec.timestamp
        try:
            self.json = json.loads(rec.value) if rec.value else None
        except (ValueError, RecursionError):
            self.json = None

    @property
    def event_id(self):
        if self.json and "outcome" in self.json:
            return self.json["eventId"]
        return self.headers.get("eventId")

    def __repr__(self):
        return f"Record(key={self.key!r}, json={self.json!r}, headers={self.headers!r})"


def wall_ms(ts):
    """RFC 3339 UTC time of the simulator's log ("...T06:39:28.131Z") to
    epoch milliseconds."""
    from datetime import datetime, timezone
    dt = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def by_event(records):
    """eventId -> list of records (duplicates show as lists longer than 1)."""
    out = {}
    for r in records:
        out.setdefault(r.event_id, []).append(r)
    return out


def identity_event(event_id, sub, **extra):
    ev = {"eventId": event_id, "identities": [{"iss": "https://crm.example", "acr": "0", "sub": sub}]}
    ev.update(extra)
    return ev


def run(module_name):
    """Runs the tests of a module; exit status non-zero on failure."""
    suite = unittest.defaultTestLoader.loadTestsFromName(module_name)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors)
    print(f"{module_name}: {result.testsRun - failed} passed, {failed} failed")
    raise SystemExit(1 if failed or not result.wasSuccessful() else 0)
