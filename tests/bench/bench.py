#!/usr/bin/python3
"""engagement-worker benchmark: the worker against the limits of this machine.

Runs embedded-kafka, monitoring-sim and a Release build of the worker on
127.0.0.1, pre-loads the input topic, lets the worker drain it, and measures
from the outcome messages and the worker's /proc accounting. One line per
scenario on stdout, PASS/FAIL per target, a JSON summary under
tests/bench/results/. Exit status 0 unless the benchmark could not run.

See tests/bench/README.md for the scenarios, the targets and how each figure
is measured. Needs Debian's /usr/bin/python3 (python3-kafka), kcat, wrk and,
for --callgrind, valgrind.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from kafka import KafkaConsumer, TopicPartition

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
RESULTS = os.path.join(HERE, "results")
INPUT, OUTPUT, DEAD = "events", "outcomes", "dead-letters"
KAFKA_API = (2, 5, 0)  # skips kafka-python's version probe against the mock
CLK_TCK = os.sysconf("SC_CLK_TCK")
ACCOUNT, APP = "12345678", "app-1"
MIB = 1024 * 1024

# ---------------------------------------------------------------------------
# Scenarios and targets
# ---------------------------------------------------------------------------

# Per scenario: full size and --quick size. "events" are pre-loaded; "keys"
# distinct message keys; "paced_s" is the length of the latency phase.
SCENARIOS = {
    "fast": dict(full=dict(events=200_000, paced_s=5.0, wrk_s=5.0),
                 quick=dict(events=40_000, paced_s=2.0, wrk_s=2.0),
                 keys=20_000, latency_ms=0, max_in_flight=200),
    "latency": dict(full=dict(events=100_000, paced_s=5.0),
                    quick=dict(events=30_000, paced_s=2.0),
                    keys=20_000, latency_ms=50, max_in_flight=1000),
    "retries": dict(full=dict(events=50_000), quick=dict(events=15_000),
                    keys=20_000, latency_ms=0, max_in_flight=200,
                    retry_share=0.2),
    "slow-api": dict(full=dict(events=40_000, slow_s=30.0),
                     quick=dict(events=15_000, slow_s=10.0),
                     keys=20_000, latency_ms=2000, max_in_flight=200),
    "idle": dict(full=dict(idle_s=10.0), quick=dict(idle_s=10.0)),
    "naive": dict(full=dict(events=5_000), quick=dict(events=2_000),
                  keys=5_000, latency_ms=0, max_in_flight=1),
    "callgrind": dict(full=dict(events=5_000), quick=dict(events=5_000),
                      keys=2_000, latency_ms=0, max_in_flight=200),
}
DEFAULT_ORDER = ["fast", "latency", "retries", "slow-api", "idle", "naive"]

FAST_MIN_EPS = 15_000
FAST_MAX_CPU_US = 60.0
LATENCY_BOUND_EPS = 20_000  # max_in_flight 1000 / 50 ms
LATENCY_MIN_SHARE = 0.8
RETRIES_MIN_SHARE = 0.7
MAX_RSS_MIB = 64.0
IDLE_MAX_CPU_S = 0.05
SLOW_FLAT_MIB = 4.0  # allowed RSS growth over the slow phase


def p99_bound_ms(added_latency_ms):
    return 2 * added_latency_ms + 20


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

T0 = time.monotonic()


def note(msg):
    """Progress on stderr (results go to stdout)."""
    sys.stderr.write(f"[{time.monotonic() - T0:7.1f}s] {msg}\n")
    sys.stderr.flush()


def proc_cpu_s(pid):
    """user+sys CPU seconds of a process, all threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_cpu_ns(pid):
    """CPU time of a process in nanoseconds, summed over its live threads
    (/proc/PID/task/*/schedstat, first field). Finer than /proc/PID/stat's
    10 ms ticks, which matter when a whole measurement is a few ticks (the
    idle scenario); threads that exit meanwhile are not counted."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def proc_mem_kib(pid):
    """(VmRSS, VmHWM) in KiB."""
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


def machine_busy_s():
    """CPU seconds the whole machine has been busy (all CPUs), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / CLK_TCK


def wait_quiet(max_wait_s, max_busy=0.3):
    """Waits (up to max_wait_s) until other processes use less than max_busy
    CPUs over a second: the machine may be shared. Returns the last load."""
    deadline = time.monotonic() + max_wait_s
    said = False
    while True:
        b0 = machine_busy_s()
        time.sleep(1.0)
        busy = machine_busy_s() - b0
        if busy < max_busy or time.monotonic() >= deadline:
            return busy
        if not said:
            note(f"other processes use {busy:.1f} CPUs: waiting up to {max_wait_s:g} s for a quieter machine")
            said = True
        time.sleep(1.0)


def self_cpu_s():
    t = os.times()
    return t.user + t.system


def percentile(sorted_vals, q):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(round(q / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))


def to_yaml(d, indent=0):
    """YAML for the worker's config: maps, lists of scalars, scalars."""
    out = []
    pad = " " * indent
    for k, v in d.items():
        key = json.dumps(k) if "." in k else k
        if isinstance(v, dict):
            if not v:
                out.append(f"{pad}{key}: {{}}")
                continue
            out.append(f"{pad}{key}:")
            out.append(to_yaml(v, indent + 2))
        elif isinstance(v, list):
            out.append(f"{pad}{key}: [{', '.join(yaml_scalar(x) for x in v)}]")
        else:
            out.append(f"{pad}{key}: {yaml_scalar(v)}")
    return "\n".join(x for x in out if x)


def set_path(conf, dotted, value):
    """--set monitoring.max_in_flight=500 / kafka.properties.producer.linger.ms=20."""
    parts = dotted.split(".")
    if parts[:2] == ["kafka", "properties"]:
        conf["kafka"]["properties"][".".join(parts[2:])] = value
        return
    if len(parts) != 2:
        raise ValueError(f"--set {dotted}: expected SECTION.KEY or kafka.properties.NAME")
    try:
        value = json.loads(value)
    except ValueError:
        pass
    conf.setdefault(parts[0], {})[parts[1]] = value


def machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rev = None
    try:
        rev = subprocess.run(["git", "-C", SOURCE, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    mem_mib = None
    try:
        with open("/proc/meminfo") as f:
            mem_mib = int(f.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": os.cpu_count(), "cpu_model": model, "mem_mib": mem_mib,
            "kernel": platform.release(), "python": platform.python_version(),
            "librdkafka": RdKafka.version(), "git": rev}


# ---------------------------------------------------------------------------
# librdkafka through ctypes: a paced producer (kcat cannot pace from a pipe,
# and kafka-python costs too much CPU on a 2-core machine)
# ---------------------------------------------------------------------------

class RdKafka:
    _lib = None

    @classmethod
    def lib(cls):
        if cls._lib is None:
            lib = ctypes.CDLL("librdkafka.so.1")
            vp, cp, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
            lib.rd_kafka_version_str.restype = cp
            lib.rd_kafka_conf_new.restype = vp
            lib.rd_kafka_conf_set.argtypes = [vp, cp, cp, cp, sz]
            lib.rd_kafka_conf_set.restype = ctypes.c_int
            lib.rd_kafka_new.argtypes = [ctypes.c_int, vp, cp, sz]
            lib.rd_kafka_new.restype = vp
            lib.rd_kafka_topic_new.argtypes = [vp, cp, vp]
            lib.rd_kafka_topic_new.restype = vp
            lib.rd_kafka_produce.argtypes = [vp, ctypes.c_int32, ctypes.c_int, cp, sz, cp, sz, vp]
            lib.rd_kafka_produce.restype = ctypes.c_int
            lib.rd_kafka_last_error.restype = ctypes.c_int
            lib.rd_kafka_poll.argtypes = [vp, ctypes.c_int]
            lib.rd_kafka_flush.argtypes = [vp, ctypes.c_int]
            lib.rd_kafka_outq_len.argtypes = [vp]
            lib.rd_kafka_topic_destroy.argtypes = [vp]
            lib.rd_kafka_destroy.argtypes = [vp]
            cls._lib = lib
        return cls._lib

    @classmethod
    def version(cls):
        try:
            return cls.lib().rd_kafka_version_str().decode()
        except OSError:
            return None


class PacedProducer:
    """Produces keyed messages to one topic at a fixed rate. Each message's
    timestamp (CreateTime) is taken by librdkafka when it is produced."""

    QUEUE_FULL = -184

    def __init__(self, bootstrap, topic):
        lib = self.lib = RdKafka.lib()
        err = ctypes.create_string_buffer(512)
        conf = lib.rd_kafka_conf_new()
        for k, v in {"bootstrap.servers": bootstrap, "linger.ms": "2",
                     "acks": "all", "enable.idempotence": "false"}.items():
            if lib.rd_kafka_conf_set(conf, k.encode(), v.encode(), err, 512) != 0:
                raise RuntimeError(f"librdkafka {k}: {err.value.decode()}")
        self.rk = lib.rd_kafka_new(0, conf, err, 512)
        if not self.rk:
            raise RuntimeError(f"librdkafka producer: {err.value.decode()}")
        self.rkt = lib.rd_kafka_topic_new(self.rk, topic.encode(), None)

    def run(self, messages, rate):
        """messages: list of (key bytes, value bytes). Returns seconds taken."""
        lib = self.lib
        start = time.monotonic()
        i, n = 0, len(messages)
        while i < n:
            due = min(n, int((time.monotonic() - start) * rate) + 1)
            while i < due:
                k, v = messages[i]
                if lib.rd_kafka_produce(self.rkt, -1, 2, v, len(v), k, len(k), None) == -1:
                    if lib.rd_kafka_last_error() != self.QUEUE_FULL:
                        raise RuntimeError(f"produce failed: {lib.rd_kafka_last_error()}")
                    lib.rd_kafka_poll(self.rk, 5)
                    continue
                i += 1
            lib.rd_kafka_poll(self.rk, 0)
            time.sleep(0.001)
        took = time.monotonic() - start
        lib.rd_kafka_flush(self.rk, 30000)
        if lib.rd_kafka_outq_len(self.rk):
            raise RuntimeError("paced producer: messages left undelivered")
        return took

    def close(self):
        self.lib.rd_kafka_topic_destroy(self.rkt)
        self.lib.rd_kafka_destroy(self.rk)


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------

def key_name(k, retry_share):
    # every (1/retry_share)-th key is a retrying one: "r-", else "c-"
    if retry_share and k % int(round(1 / retry_share)) == 0:
        return f"r-{k:05d}"
    return f"c-{k:05d}"


def event_value(event_id, key):
    """A realistic mid-size event (about 210 bytes): one identity, client
    properties, one entry point. Compact JSON, as producers send it."""
    return ('{"eventId":"%s","identities":[{"iss":"https://crm.example","acr":"0",'
            '"sub":"%s"}],"clientProperties":{"deviceFamily":"DESKTOP","osName":"WINDOWS",'
            '"ipAddress":"10.1.2.3"},"entryPoints":["https://www.example.com/cart"]}'
            % (event_id, key))


def request_body(key):
    """The body the worker sends for event_value(..., key)."""
    return json.dumps({"identities": [{"iss": "https://crm.example", "acr": "0", "sub": key}],
                       "clientProperties": {"deviceFamily": "DESKTOP", "osName": "WINDOWS",
                                            "ipAddress": "10.1.2.3"},
                       "entryPoints": ["https://www.example.com/cart"]},
                      separators=(",", ":"))


def make_events(prefix, n, keys, retry_share=0.0, first=0):
    """n (key, value) pairs; key i*7919 mod keys spreads consecutive events
    over all keys, each key recurring every `keys` events."""
    out = []
    for i in range(first, first + n):
        key = key_name((i * 7919) % keys, retry_share)
        out.append((key, event_value(f"{prefix}-{i:07d}", key)))
    return out


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

class Stack:
    """embedded-kafka + monitoring-sim for one scenario; closed whatever
    happened."""

    def __init__(self, build, rundir, partitions=6, brokers=1, sim_args=(), scenario=None):
        self.build, self.dir, self.partitions = build, rundir, partitions
        self.procs, self.readers = [], []
        self.offsets = None
        os.makedirs(rundir, exist_ok=True)
        try:
            self.kafka = subprocess.Popen(
                [os.path.join(build, "embedded-kafka"), "--brokers", str(brokers),
                 "--topic", f"{INPUT}:{partitions}", "--topic", f"{OUTPUT}:{partitions}",
                 "--topic", f"{DEAD}:1", "--exit-on-eof"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=open(os.path.join(rundir, "kafka.log"), "wb"))
            self.procs.append(self.kafka)
            self.bootstrap = self._first_line(self.kafka, "embedded-kafka")
            args = [os.path.join(build, "monitoring-sim"), "--port", "0"]
            if scenario is not None:
                path = os.path.join(rundir, "scenario.json")
                with open(path, "w") as f:
                    json.dump(scenario, f, indent=1)
                args += ["--scenario", path]
            args += list(sim_args)
            self.sim = subprocess.Popen(args, stdout=subprocess.PIPE,
                                        stderr=open(os.path.join(rundir, "sim.log"), "wb"))
            self.procs.append(self.sim)
            self.sim_url = self._first_line(self.sim, "monitoring-sim").split("listening on ", 1)[1]
            self.offsets = KafkaConsumer(bootstrap_servers=self.bootstrap, api_version=KAFKA_API)
        except Exception:
            self.close()
            raise

    @staticmethod
    def _first_line(proc, what):
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{what} did not start (exit {proc.poll()})")
        return line.decode().strip()

    def sim_config(self, body):
        req = urllib.request.Request(self.sim_url + "/_sim/config", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def end_offsets(self, topic, partitions):
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        return self.offsets.end_offsets(tps)

    def written(self):
        """Messages on the output and dead-letter topics."""
        return (sum(self.end_offsets(OUTPUT, self.partitions).values())
                + sum(self.end_offsets(DEAD, 1).values()))

    def preload(self, events, name="preload"):
        """Produces (key, value) pairs with kcat, lz4-compressed batches (the
        mock keeps only ~5 MiB of batches per partition)."""
        path = os.path.join(self.dir, f"{name}.txt")
        with open(path, "w") as f:
            for k, v in events:
                f.write(f"{k}|{v}\n")
        subprocess.run(["kcat", "-P", "-b", self.bootstrap, "-t", INPUT, "-K", "|", "-z", "lz4",
                        "-X", "linger.ms=50", "-X", "batch.size=65536", "-l", path], check=True,
                       stderr=open(os.path.join(self.dir, "kcat-produce.log"), "ab"))
        low = self._low_offsets(INPUT)
        if any(low.values()):
            raise RuntimeError(f"broker dropped pre-loaded batches (log start offsets {low}); "
                               "use fewer or smaller events")
        os.unlink(path)

    def _low_offsets(self, topic):
        tps = [TopicPartition(topic, p) for p in range(self.partitions)]
        return self.offsets.beginning_offsets(tps)

    def reader(self, topic, partitions):
        r = TopicReader(self, topic, partitions)
        self.readers.append(r)
        return r

    def close(self):
        for r in self.readers:
            r.kill()
        if self.offsets is not None:
            try:
                self.offsets.close()
            except Exception:
                pass
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def cpu(self):
        return {"kafka": proc_cpu_s(self.kafka.pid), "sim": proc_cpu_s(self.sim.pid)}


class TopicReader:
    """kcat reading a topic from the beginning while the worker writes it:
    the mock keeps only ~5 MiB per partition, so outcomes are read as they
    come. Lines: timestamp TAB partition TAB offset TAB value."""

    FMT = "%T\t%p\t%o\t%s\n"

    def __init__(self, stack, topic, partitions):
        self.stack, self.topic, self.partitions = stack, topic, partitions
        self.path = os.path.join(stack.dir, f"{topic}.tsv")
        self.out = open(self.path, "wb")
        self.proc = subprocess.Popen(
            ["kcat", "-C", "-b", stack.bootstrap, "-t", topic, "-o", "beginning", "-q",
             "-X", "fetch.wait.max.ms=20", "-f", self.FMT],
            stdout=self.out, stderr=open(self.path + ".err", "wb"))

    def cpu(self):
        return proc_cpu_s(self.proc.pid) if self.proc.poll() is None else 0.0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()

    def finish(self):
        """Stops kcat (its buffered lines are written on exit), then reads
        what it missed per partition. Returns (records, notes): records are
        (timestamp_ms, partition, offset, value)."""
        time.sleep(0.3)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        recs = parse_tsv(self.path)
        notes = []
        ends = self.stack.end_offsets(self.topic, self.partitions)
        seen = {}
        for r in recs:
            s = seen.setdefault(r[1], [None, -1, 0])
            s[0] = r[2] if s[0] is None else min(s[0], r[2])
            s[1] = max(s[1], r[2])
            s[2] += 1
        for tp, end in ends.items():
            lo, hi, cnt = seen.get(tp.partition, [0, -1, 0])
            if (lo or 0) != 0 or cnt != hi + 1:
                notes.append(f"{self.topic}[{tp.partition}]: read {cnt} of offsets "
                             f"{lo}..{hi}: the reader fell behind the mock's retention")
            if hi + 1 < end:
                more = subprocess.run(
                    ["kcat", "-C", "-b", self.stack.bootstrap, "-t", self.topic,
                     "-p", str(tp.partition), "-o", str(hi + 1), "-e", "-q", "-f", self.FMT],
                    capture_output=True, timeout=60).stdout
                recs.extend(parse_tsv_bytes(more))
        return recs, notes


def parse_tsv_bytes(data):
    out = []
    for line in data.split(b"\n"):
        parts = line.split(b"\t", 3)
        if len(parts) == 4:
            out.append((int(parts[0]), int(parts[1]), int(parts[2]), parts[3]))
    return out


def parse_tsv(path):
    with open(path, "rb") as f:
        return parse_tsv_bytes(f.read())


EVENT_ID = re.compile(rb'"eventId":"([^"]*)"')
ATTEMPTS = re.compile(rb'"attempts":(\d+)')


class Worker:
    """One engagement-worker process, sampled by a thread."""

    def __init__(self, stack, name, conf, wrapper=()):
        self.stack, self.name = stack, name
        self.config_path = os.path.join(stack.dir, f"{name}.yaml")
        with open(self.config_path, "w") as f:
            f.write(to_yaml(conf) + "\n")
        self.log_path = os.path.join(stack.dir, f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            list(wrapper) + [os.path.join(stack.build, "engagement-worker"),
                             "--config", self.config_path],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self._worker_pid(self.proc.pid) if wrapper else self.proc.pid
        self.samples = []  # (monotonic, rss KiB, cpu s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    @staticmethod
    def _worker_pid(pid, timeout=10.0):
        """The worker's own pid under a wrapper: the wrapper itself when it
        becomes the worker (valgrind), else its child running the worker
        (strace, perf), so that signals and /proc figures reach the worker."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if b"engagement-worker" in f.read().split(b"\0")[0]:
                        return pid
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    for child in f.read().split():
                        with open(f"/proc/{child}/cmdline", "rb") as c:
                            if b"engagement-worker" in c.read():
                                return int(child)
            except OSError:
                pass
            time.sleep(0.05)
        return pid

    def _sample(self):
        while not self._stop.is_set():
            try:
                rss, _ = proc_mem_kib(self.pid)
                self.samples.append((time.monotonic(), rss, proc_cpu_s(self.pid)))
            except (OSError, ValueError, IndexError):
                return
            self._stop.wait(0.25)

    def alive(self):
        return self.proc.poll() is None

    def cpu_s(self):
        return proc_cpu_s(self.pid)

    def mem_kib(self):
        return proc_mem_kib(self.pid)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, text, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_text():
                return True
            if not self.alive():
                return False
            time.sleep(0.05)
        return False

    def stop(self, timeout=60):
        self._stop.set()
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def worker_conf(stack, spec, args, extra=None, short_fetch_wait=True):
    """The worker's config for a scenario. short_fetch_wait: the mock holds
    an empty Fetch for the whole fetch.wait.max.ms even when data arrives
    meanwhile (a real broker answers at once), which would add up to the
    worker's 100 ms default to every latency; 5 ms hides that artefact."""
    props = {"consumer.session.timeout.ms": "6000", "consumer.heartbeat.interval.ms": "1000"}
    if short_fetch_wait:
        props["consumer.fetch.wait.max.ms"] = "5"
    conf = {
        "kafka": {
            "brokers": stack.bootstrap,
            "group_id": "bench",
            "input_topic": INPUT,
            "output_topic": OUTPUT,
            "dead_letter_topic": DEAD,
            "properties": props,
        },
        "monitoring": {
            "base_url": stack.sim_url,
            "account_id": ACCOUNT,
            "app_installation_id": APP,
            "api_version": "1.1",
            "timeout_ms": 10000,
            "connect_timeout_ms": 1000,
            "max_in_flight": spec.get("max_in_flight", 200),
        },
        "retry": {"delays_ms": [10, 20, 60, 180], "jitter": 0.0},
        "worker": {"shutdown_timeout_ms": 5000},
        "log": {"level": "info"},
        "metrics": {"listen": ""},
    }
    for section, values in (extra or {}).items():
        conf.setdefault(section, {}).update(values)
    for item in args.set or []:
        name, _, value = item.partition("=")
        set_path(conf, name, value)
    return conf


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------

def wait_written(stack, worker, expected, timeout, what="outcomes"):
    """Waits until the output + dead-letter topics hold `expected` messages.
    Returns seconds waited, or raises if the worker died or time ran out."""
    start = time.monotonic()
    last_note = start
    while True:
        n = stack.written()
        if n >= expected:
            return time.monotonic() - start
        if not worker.alive():
            raise RuntimeError(f"worker exited ({worker.proc.returncode}) with {n} of "
                               f"{expected} {what} written; see {worker.log_path}")
        now = time.monotonic()
        if now - start > timeout:
            raise RuntimeError(f"timed out with {n} of {expected} {what} written")
        if now - last_note >= 5:
            note(f"  {n}/{expected} {what}")
            last_note = now
        time.sleep(0.2)


def collect(stack, readers):
    """Stops the readers, returns a dict eventId -> list of records
    (timestamp_ms, partition, offset, value, dead) and notes."""
    by_id, notes = {}, []
    for reader, dead in readers:
        recs, n = reader.finish()
        notes += n
        for ts, p, o, value in recs:
            m = EVENT_ID.search(value)
            eid = m.group(1).decode() if m else f"?{reader.topic}:{p}:{o}"
            by_id.setdefault(eid, []).append((ts, p, o, value, dead))
    return by_id, notes


def input_timestamps(stack, prefix):
    """eventId -> input CreateTime (ms) for events whose id starts with prefix."""
    data = subprocess.run(["kcat", "-C", "-b", stack.bootstrap, "-t", INPUT, "-o", "beginning",
                           "-e", "-q", "-f", "%T\t%s\n"], capture_output=True, timeout=120).stdout
    out = {}
    pre = prefix.encode()
    for line in data.split(b"\n"):
        ts, _, value = line.partition(b"\t")
        m = EVENT_ID.search(value)
        if m and m.group(1).startswith(pre):
            out[m.group(1).decode()] = int(ts)
    return out


def accounting(by_id, ids):
    """lost / duplicates / dead-letter counts for the expected ids."""
    lost = [i for i in ids if i not in by_id]
    dup = sum(len(by_id[i]) - 1 for i in ids if i in by_id)
    dead = sum(1 for i in ids if i in by_id and any(r[4] for r in by_id[i]))
    return {"lost": len(lost), "duplicates": dup, "dead_letters": dead,
            "lost_sample": lost[:5]}


def throughput(by_id, ids):
    """events/s from the first to the last outcome (first record of each)."""
    ts = sorted(by_id[i][0][0] for i in ids if i in by_id)
    if len(ts) < 2:
        return None, None
    span = (ts[-1] - ts[0]) / 1000.0
    return (len(ts) / span if span > 0 else None), span


def stalls(by_id, ids, slot_ms=100):
    """Share of the 100 ms slots between the first and the last outcome in
    which no outcome was written: the worker stood still (e.g. waiting for
    a fetch after a resume) rather than being slow."""
    ts = sorted(by_id[i][0][0] for i in ids if i in by_id)
    if len(ts) < 2:
        return None
    slots = set((t - ts[0]) // slot_ms for t in ts)
    n = (ts[-1] - ts[0]) // slot_ms + 1
    return (n - len(slots)) / n


def latencies(by_id, input_ts):
    pairs = [(t, by_id[i][0][0] - t) for i, t in input_ts.items() if i in by_id]
    lat = sorted(v for _, v in pairs)
    if not lat:
        return {}
    # per second of the phase: does latency stay flat or grow (overload)?
    t0 = min(t for t, _ in pairs)
    secs = {}
    for t, v in pairs:
        secs.setdefault(int((t - t0) / 1000), []).append(v)
    timeline = [[k, percentile(sorted(v), 50), max(v)] for k, v in sorted(secs.items())]
    return {"count": len(lat), "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
            "max_ms": lat[-1], "per_second_p50_max_ms": timeline}


def wrk_reference(stack, seconds, connections):
    """The simulator's own capacity: wrk POSTing the worker's request body
    on keep-alive connections, reusing one session as the worker does."""
    key = "c-00001"
    body = request_body(key)
    q = f"/api/account/{ACCOUNT}/app/{APP}/engagement?v=1.1&obh=true"
    req = urllib.request.Request(stack.sim_url + q, data=body.encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        first = json.loads(r.read())
    url = (f"{stack.sim_url}/api/account/{ACCOUNT}/app/{APP}/engagement?v=1.1"
           f"&vid={first['visitorId']}&sid={first['sessionId']}&obh=true")
    script = os.path.join(stack.dir, "wrk-body.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
                'wrk.headers["Accept"] = "application/json"\n'
                f"wrk.body = [[{body}]]\n")
    sim_cpu0 = proc_cpu_s(stack.sim.pid)
    res = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", script, url],
                         capture_output=True, text=True, timeout=seconds + 60)
    sim_cpu = proc_cpu_s(stack.sim.pid) - sim_cpu0
    m = re.search(r"Requests/sec:\s+([\d.]+)", res.stdout)
    if not m:
        raise RuntimeError(f"wrk: no Requests/sec in its output:\n{res.stdout}{res.stderr}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", res.stdout)
    rps = float(m.group(1))
    with open(os.path.join(stack.dir, "wrk.txt"), "w") as f:
        f.write(res.stdout)
    return {"req_per_s": rps, "connections": connections, "seconds": seconds,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "sim_cpu_us_per_req": sim_cpu / (rps * seconds) * 1e6 if rps else None}


# ---------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.rundir = os.path.join(RESULTS, f"run-{stamp}")
        os.makedirs(self.rundir, exist_ok=True)
        self.results = {}
        self.size = "quick" if args.quick else "full"

    def spec(self, name):
        s = dict(SCENARIOS[name])
        s.update(s.pop(self.size))
        s.pop("full", None)
        s.pop("quick", None)
        return s

    # -- the common backlog run ------------------------------------------
    def backlog(self, name, spec, sim_args=(), scenario=None, extra=None, paced=False,
                before_worker=None, during=None):
        """Pre-loads spec['events'], runs a worker until every event has a
        message, optionally runs a paced latency phase. Returns results."""
        res = {"events": spec["events"], "keys": spec["keys"],
               "max_in_flight": spec["max_in_flight"], "sim_latency_ms": spec["latency_ms"]}
        stack = Stack(self.build, os.path.join(self.rundir, name), sim_args=sim_args,
                      scenario=scenario, brokers=self.args.brokers)
        worker = None
        try:
            events = make_events("b", spec["events"], spec["keys"], spec.get("retry_share", 0.0))
            t = time.monotonic()
            stack.preload(events)
            note(f"{name}: pre-loaded {len(events)} events in {time.monotonic() - t:.1f} s")
            ids = [f"b-{i:07d}" for i in range(spec["events"])]
            del events
            if before_worker:
                res.update(before_worker(stack))
            readers = [(stack.reader(OUTPUT, stack.partitions), False), (stack.reader(DEAD, 1), True)]
            conf = worker_conf(stack, spec, self.args, extra)
            cpu_others0 = stack.cpu()
            busy0, self0 = machine_busy_s(), self_cpu_s()
            wrapper = shlex.split(self.args.wrap.replace("{dir}", stack.dir)) if self.args.wrap else ()
            worker = Worker(stack, "worker", conf, wrapper=wrapper)
            t_start = time.monotonic()
            if not worker.wait_log("assigned", 30):
                raise RuntimeError(f"worker got no partitions; see {worker.log_path}")
            t_assigned = time.monotonic()
            if during:
                res.update(during(stack, worker, t_assigned))
            wait_written(stack, worker, len(ids), timeout=max(120, len(ids) / 500))
            t_done = time.monotonic()
            if "t_fast" in res:
                res["drain_after_slow_s"] = t_done - res.pop("t_fast")
            cpu = worker.cpu_s()
            rss, hwm = worker.mem_kib()
            others = {k: v - cpu_others0[k] for k, v in stack.cpu().items()}
            others["readers"] = sum(r.cpu() for r, _ in readers)
            others["bench"] = self_cpu_s() - self0
            busy = machine_busy_s() - busy0
            others["foreign"] = max(0.0, busy - cpu - sum(others.values()))
            res["foreign_load"] = others["foreign"] / (t_done - t_start)
            res.update({"worker_cpu_s": cpu, "cpu_us_per_event": cpu / len(ids) * 1e6,
                        "wall_s": t_done - t_start, "join_s": t_assigned - t_start,
                        "other_cpu_s": others})
            if paced:
                res["paced"] = self.paced_phase(stack, worker, spec, res)
                rss, hwm = worker.mem_kib()
            res["rss_end_mib"] = rss / 1024
            res["peak_rss_mib"] = hwm / 1024
            res["rss_samples_mib"] = [(round(s[0] - t_start, 2), round(s[1] / 1024, 1))
                                      for s in worker.samples][::4]
            rc = worker.stop()
            res["worker_exit"] = rc
            by_id, notes = collect(stack, readers)
            acc = accounting(by_id, ids)
            eps, span = throughput(by_id, ids)
            res.update(acc)
            res.update({"throughput_eps": eps, "span_s": span, "notes": notes,
                        "stalled_share": stalls(by_id, ids)})
            res["attempts"] = sum(int(ATTEMPTS.search(by_id[i][0][3]).group(1))
                                  for i in ids if i in by_id and ATTEMPTS.search(by_id[i][0][3]))
            if paced:
                pids = res["paced"].pop("ids")
                pacc = accounting(by_id, pids)
                res["paced"].update({"lost": pacc["lost"], "duplicates": pacc["duplicates"]})
                res["paced"].update(latencies(by_id, input_timestamps(stack, "p-")))
            return res
        finally:
            if worker and worker.alive():
                worker.stop(timeout=10)
            stack.close()

    def paced_phase(self, stack, worker, spec, res):
        """Latency at a steady rate: the backlog's events wait in the topic
        by construction, so latency is measured on events produced at a
        fixed rate once the backlog is drained."""
        target = spec.get("paced_rate") or 0.5 * self.throughput_target(spec)
        measured = self.quick_eps(stack, res)
        rate = min(target, 0.5 * measured) if measured else target
        n = int(rate * spec["paced_s"])
        events = make_events("p", n, spec["keys"], 0.0, first=spec["events"])
        msgs = [(k.encode(), v.encode()) for k, v in events]
        before = stack.written()
        prod = PacedProducer(stack.bootstrap, INPUT)
        try:
            took = prod.run(msgs, rate)
        finally:
            prod.close()
        wait_written(stack, worker, before + n, timeout=60, what="paced outcomes")
        return {"rate_eps": round(rate), "events": n, "produce_s": took,
                "ids": [f"p-{i:07d}" for i in range(spec["events"], spec["events"] + n)]}

    @staticmethod
    def quick_eps(stack, res):
        # the throughput isn't known before the readers stop; use wall time
        wall = res.get("wall_s", 0) - res.get("join_s", 0)
        return res["events"] / wall if wall > 0 else None

    @staticmethod
    def throughput_target(spec):
        if spec["latency_ms"] >= 50:
            return LATENCY_MIN_SHARE * LATENCY_BOUND_EPS
        return FAST_MIN_EPS

    # -- scenarios -------------------------------------------------------
    def run_fast(self):
        spec = self.spec("fast")

        def ref(stack):
            note(f"fast: wrk against the simulator for {spec['wrk_s']:g} s")
            return {"wrk": wrk_reference(stack, spec["wrk_s"], 64)}
        return self.backlog("fast", spec, paced=True, before_worker=ref)

    def run_latency(self):
        spec = self.spec("latency")
        return self.backlog("latency", spec, sim_args=["--latency-ms", str(spec["latency_ms"])],
                            paced=True)

    def run_retries(self):
        spec = self.spec("retries")
        scenario = {"comment": "bench retries: keys r-* answer 503 twice, then expose",
                    "default": "expose",
                    "rules": [{"match": "r-*", "behaviour": "fail", "count": 2, "status": 503,
                               "then": "expose"}]}
        res = self.backlog("retries", spec, scenario=scenario)
        res["retry_share"] = spec["retry_share"]
        return res

    def run_slow_api(self):
        spec = self.spec("slow-api")
        slow_s = spec["slow_s"]

        def during(stack, worker, t_assigned):
            deadline = t_assigned + slow_s
            while time.monotonic() < deadline:
                if not worker.alive():
                    raise RuntimeError("worker died during the slow phase")
                time.sleep(0.2)
            written = stack.written()
            stack.sim_config({"latencyMs": 0})
            t_fast = time.monotonic()
            window = [s for s in worker.samples if t_assigned + min(5.0, slow_s / 3) <= s[0] <= t_fast]
            third = max(1, len(window) // 3)
            first = max(s[1] for s in window[:third]) / 1024 if window else None
            last = max(s[1] for s in window[-third:]) / 1024 if window else None
            note(f"slow-api: {slow_s:g} s at {spec['latency_ms']} ms done; simulator fast again")
            return {"slow_s": slow_s, "slow_rss_first_mib": first, "slow_rss_last_mib": last,
                    "slow_rss_growth_mib": (last - first) if window else None,
                    "written_while_slow": written, "t_fast": t_fast}
        return self.backlog("slow-api", spec,
                            sim_args=["--latency-ms", str(spec["latency_ms"])], during=during)

    def run_naive(self):
        spec = self.spec("naive")
        return self.backlog("naive", spec)

    def run_idle(self):
        spec = self.spec("idle")
        stack = Stack(self.build, os.path.join(self.rundir, "idle"), brokers=self.args.brokers)
        worker = None
        try:
            worker = Worker(stack, "worker", worker_conf(stack, {"max_in_flight": 200}, self.args,
                                                         short_fetch_wait=False))
            if not worker.wait_log("assigned", 30):
                raise RuntimeError(f"worker got no partitions; see {worker.log_path}")
            time.sleep(1.0)
            c0, n0 = worker.cpu_s(), proc_cpu_ns(worker.pid)
            time.sleep(spec["idle_s"])
            ticks = worker.cpu_s() - c0
            used = (proc_cpu_ns(worker.pid) - n0) / 1e9
            rss, hwm = worker.mem_kib()
            worker.stop()
            return {"idle_s": spec["idle_s"], "cpu_s": used, "cpu_s_ticks": ticks,
                    "peak_rss_mib": hwm / 1024}
        finally:
            if worker and worker.alive():
                worker.stop(timeout=10)
            stack.close()

    def run_callgrind(self):
        """Fixed workload under callgrind; counters zeroed once the worker
        has its partitions, dumped once every event has its outcome."""
        spec = self.spec("callgrind")
        if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
            raise RuntimeError("valgrind / callgrind_control not installed")
        rundir = os.path.join(self.rundir, "callgrind")
        stack = Stack(self.build, rundir, brokers=self.args.brokers)
        worker = None
        try:
            out = os.path.join(rundir, "callgrind.out")
            wrapper = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p"]
            conf = worker_conf(stack, spec, self.args)
            worker = Worker(stack, "worker", conf, wrapper=wrapper)
            if not worker.wait_log("assigned", 120):
                raise RuntimeError(f"worker (callgrind) got no partitions; see {worker.log_path}")
            time.sleep(1.0)
            subprocess.run(["callgrind_control", "--zero", str(worker.pid)], check=True,
                           capture_output=True, timeout=60)
            events = make_events("b", spec["events"], spec["keys"])
            stack.preload(events)
            wait_written(stack, worker, spec["events"], timeout=600)
            subprocess.run(["callgrind_control", "--dump=bench", str(worker.pid)], check=True,
                           capture_output=True, timeout=120)
            worker.stop(timeout=120)
            dumps = sorted(f for f in os.listdir(rundir) if f.startswith("callgrind.out."))
            # the --dump file is "<out>.<pid>.1"; the final one at exit "<out>.<pid>"
            dump = [f for f in dumps if f.endswith(".1")]
            if not dump:
                raise RuntimeError(f"no callgrind dump in {rundir}: {dumps}")
            path = os.path.join(rundir, dump[0])
            ir = callgrind_total(path)
            top, by_obj = callgrind_top(path)
            return {"events": spec["events"], "ir_total": ir, "ir_per_event": ir / spec["events"],
                    "dump": os.path.relpath(path, SOURCE), "top": top,
                    "ir_per_event_by_object": {k: round(v / spec["events"]) for k, v in
                                               sorted(by_obj.items(), key=lambda kv: -kv[1])}}
        finally:
            if worker and worker.alive():
                worker.stop(timeout=30)
            stack.close()


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"{path}: no summary line")


CG_FRAMES = re.compile(r"\(below main\)|[?]{3}:main |__libc_start|start_thread|clone\.S:clone|ld-linux")


def callgrind_top(path, n=15):
    """Self cost from callgrind_annotate: the n costliest functions
    [(Ir, share %, function)] and the cost per shared object {object: Ir}.
    Frames that were on the stack when the counters were zeroed (main,
    thread starts, the worker's run loop) show their inclusive cost there,
    so they (and anything above 40%) are left out."""
    res = subprocess.run(["callgrind_annotate", "--threshold=100", path],
                         capture_output=True, text=True, timeout=300)
    top, by_obj = [], {}
    for line in res.stdout.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S.*)$", line)
        if not m or "PROGRAM TOTALS" in line or CG_FRAMES.search(m.group(3)) \
                or float(m.group(2)) >= 40.0:
            continue
        ir, fn = int(m.group(1).replace(",", "")), m.group(3).strip()
        obj = re.search(r"\[([^\]]+)\]\s*$", fn)
        key = os.path.basename(obj.group(1)) if obj else "?"
        by_obj[key] = by_obj.get(key, 0) + ir
        if len(top) < n:
            top.append((ir, float(m.group(2)), fn))
    return top, by_obj


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def fmt(v, spec="{:,.0f}", none="-"):
    return none if v is None else spec.format(v)


def targets(results):
    """[(scenario, what, ok, detail)]"""
    out = []

    def add(sc, what, ok, detail):
        out.append((sc, what, bool(ok), detail))

    fast = results.get("fast")
    if isinstance(fast, dict) and "error" not in fast:
        eps = fast.get("throughput_eps") or 0
        add("fast", f"throughput >= {FAST_MIN_EPS:,} ev/s", eps >= FAST_MIN_EPS, f"{eps:,.0f} ev/s")
        cpu = fast["cpu_us_per_event"]
        add("fast", f"worker CPU <= {FAST_MAX_CPU_US:g} us/event", cpu <= FAST_MAX_CPU_US,
            f"{cpu:.1f} us/event")
        p99 = fast.get("paced", {}).get("p99_ms")
        bound = p99_bound_ms(fast["sim_latency_ms"])
        add("fast", f"p99 < {bound} ms", p99 is not None and p99 < bound, f"{fmt(p99, '{:.0f}')} ms")
    lat = results.get("latency")
    if isinstance(lat, dict) and "error" not in lat:
        eps = lat.get("throughput_eps") or 0
        need = LATENCY_MIN_SHARE * LATENCY_BOUND_EPS
        add("latency", f"throughput >= {need:,.0f} ev/s (80% of {LATENCY_BOUND_EPS:,})",
            eps >= need, f"{eps:,.0f} ev/s")
        p99 = lat.get("paced", {}).get("p99_ms")
        bound = p99_bound_ms(lat["sim_latency_ms"])
        add("latency", f"p99 < {bound} ms", p99 is not None and p99 < bound, f"{fmt(p99, '{:.0f}')} ms")
    ret = results.get("retries")
    if isinstance(ret, dict) and "error" not in ret:
        eps = ret.get("throughput_eps") or 0
        if isinstance(fast, dict) and fast.get("throughput_eps"):
            need = RETRIES_MIN_SHARE * fast["throughput_eps"]
            add("retries", f"throughput >= 70% of fast ({need:,.0f} ev/s)", eps >= need,
                f"{eps:,.0f} ev/s ({eps / fast['throughput_eps']:.0%})")
    slow = results.get("slow-api")
    if isinstance(slow, dict) and "error" not in slow:
        g = slow.get("slow_rss_growth_mib")
        add("slow-api", f"RSS flat while the API is slow (growth <= {SLOW_FLAT_MIB:g} MiB)",
            g is not None and g <= SLOW_FLAT_MIB, f"{fmt(g, '{:+.1f}')} MiB")
        add("slow-api", "nothing lost", slow["lost"] == 0,
            f"lost {slow['lost']}, duplicates {slow['duplicates']}")
    idle = results.get("idle")
    if isinstance(idle, dict) and "error" not in idle:
        add("idle", f"CPU < {IDLE_MAX_CPU_S} s over {idle['idle_s']:g} s", idle["cpu_s"] < IDLE_MAX_CPU_S,
            f"{idle['cpu_s']:.3f} s")
    for name in DEFAULT_ORDER:
        r = results.get(name)
        if isinstance(r, dict) and "error" not in r and "peak_rss_mib" in r:
            add(name, f"peak RSS < {MAX_RSS_MIB:g} MiB", r["peak_rss_mib"] < MAX_RSS_MIB,
                f"{r['peak_rss_mib']:.1f} MiB")
        if isinstance(r, dict) and "error" not in r and "lost" in r and name != "slow-api":
            add(name, "every event has exactly one message", r["lost"] == 0 and r["duplicates"] == 0,
                f"lost {r['lost']}, duplicates {r['duplicates']}")
    return out


def line_for(name, r, results):
    if "error" in r:
        return f"{name:<9} ERROR {r['error']}"
    if name == "idle":
        return (f"{name:<9} {r['cpu_s']:.3f} CPU s over {r['idle_s']:g} s "
                f"({r.get('cpu_s_ticks', r['cpu_s']):.2f} in /proc/PID/stat ticks) "
                f"| peak RSS {r['peak_rss_mib']:.1f} MiB")
    if name == "callgrind":
        return (f"{name:<9} {r['events']} events: {r['ir_per_event']:,.0f} Ir/event "
                f"({r['ir_total']:,} Ir of the worker)")
    if name == "slow-api":
        parts = [f"{name:<9} {r['events']:>7,} ev: {r['written_while_slow']:,} done in {r['slow_s']:g} s "
                 f"at {r['sim_latency_ms']} ms, the rest {r['drain_after_slow_s']:.1f} s after"]
    else:
        parts = [f"{name:<9} {r['events']:>7,} ev {fmt(r.get('throughput_eps'))} ev/s"]
    wrk = (results.get("fast") or {}).get("wrk") if isinstance(results.get("fast"), dict) else None
    if name == "fast" and wrk:
        parts[-1] += f" ({r['throughput_eps'] / wrk['req_per_s']:.0%} of sim {wrk['req_per_s']:,.0f} req/s)"
    if name == "naive" and isinstance(results.get("fast"), dict) and results["fast"].get("throughput_eps"):
        parts[-1] += f" (fast is {results['fast']['throughput_eps'] / r['throughput_eps']:.1f}x)"
    if r.get("paced") and r["paced"].get("count"):
        p = r["paced"]
        parts.append(f"lat p50 {p['p50_ms']} p99 {p['p99_ms']} max {p['max_ms']} ms "
                     f"@{p['rate_eps']:,}/s")
    if name != "slow-api" and (r.get("stalled_share") or 0) >= 0.05:
        parts.append(f"no outcome in {r['stalled_share']:.0%} of 100 ms slots")
    parts.append(f"cpu {r['cpu_us_per_event']:.1f} us/ev")
    parts.append(f"peak RSS {r['peak_rss_mib']:.1f} MiB")
    if name == "slow-api":
        parts.append(f"RSS growth while slow {fmt(r.get('slow_rss_growth_mib'), '{:+.1f}')} MiB")
    if name == "retries":
        parts.append(f"{r['attempts']:,} calls")
    parts.append(f"lost {r['lost']} dup {r['duplicates']} dead {r['dead_letters']}")
    if r.get("foreign_load", 0) >= 0.1:
        parts.append(f"WARNING other processes used {r['foreign_load']:.1f} CPUs")
    return " | ".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", action="append", choices=list(SCENARIOS),
                    help="run this scenario (repeatable; default: all but callgrind)")
    ap.add_argument("--quick", action="store_true", help="smaller counts: a smoke run under 2 minutes")
    ap.add_argument("--json", metavar="FILE", help="also write the JSON summary to FILE")
    ap.add_argument("--callgrind", action="store_true",
                    help="run the callgrind workload (alone unless --scenario is given too)")
    ap.add_argument("--build", default=os.environ.get("EW_BUILD_DIR", os.path.join(SOURCE, "build-release")),
                    help="build directory with engagement-worker, monitoring-sim, embedded-kafka")
    ap.add_argument("--brokers", type=int, default=1, help="embedded-kafka brokers (default 1)")
    ap.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="override a worker config key in every scenario, e.g. "
                         "monitoring.max_in_flight=500 or kafka.properties.producer.linger.ms=20")
    ap.add_argument("--keep", action="store_true", help="keep the per-scenario message dumps")
    ap.add_argument("--wrap", metavar="CMD",
                    help="run the worker under CMD (diagnostics; {dir} is the scenario's directory), "
                         "e.g. 'valgrind --tool=massif --massif-out-file={dir}/massif.out'; "
                         "CPU and memory figures are then the wrapper's")
    ap.add_argument("--wait-quiet", type=float, default=None, metavar="S",
                    help="before each scenario wait up to S seconds for other processes to use "
                         "less than 0.3 CPUs (default 10, with --quick 0)")
    args = ap.parse_args()

    for tool in ("kcat", "wrk"):
        if not shutil.which(tool):
            print(f"bench: {tool} is not installed", file=sys.stderr)
            return 2
    for exe in ("engagement-worker", "monitoring-sim", "embedded-kafka"):
        if not os.access(os.path.join(args.build, exe), os.X_OK):
            print(f"bench: {os.path.join(args.build, exe)} missing (build it, or run tests/bench/run.sh)",
                  file=sys.stderr)
            return 2

    if args.wait_quiet is None:
        args.wait_quiet = 0.0 if args.quick else 10.0
    names = list(args.scenario or [])
    if args.callgrind and "callgrind" not in names:
        names.append("callgrind")
    if not names:
        names = list(DEFAULT_ORDER)

    bench = Bench(args)
    machine = machine_info()  # before the run: the build is of this revision
    note(f"results in {os.path.relpath(bench.rundir, SOURCE)}; scenarios: {', '.join(names)}"
         f"{' (quick)' if args.quick else ''}")
    ran = 0
    for name in names:
        if args.wait_quiet > 0:
            load = wait_quiet(args.wait_quiet)
            if load >= 0.3:
                note(f"machine still busy ({load:.1f} CPUs used by others): figures will suffer")
        note(f"{name}: start")
        t = time.monotonic()
        try:
            r = getattr(bench, "run_" + name.replace("-", "_"))()
            r["duration_s"] = round(time.monotonic() - t, 1)
            ran += 1
        except Exception as e:  # a scenario that could not run is reported, the rest go on
            r = {"error": str(e)}
        bench.results[name] = r
        print(line_for(name, r, bench.results), flush=True)
        if not args.keep:
            for f in (OUTPUT + ".tsv", DEAD + ".tsv"):
                p = os.path.join(bench.rundir, name, f)
                if os.path.exists(p):
                    os.unlink(p)

    tg = targets(bench.results)
    if tg:
        print("targets:")
        for sc, what, ok, detail in tg:
            print(f"  {'PASS' if ok else 'FAIL'}  {sc:<9} {what}: {detail}")
    cg = bench.results.get("callgrind")
    if isinstance(cg, dict) and cg.get("top"):
        print("callgrind: Ir/event by object (self cost, all threads): " +
              ", ".join(f"{k} {v:,}" for k, v in list(cg["ir_per_event_by_object"].items())[:6]))
        print("callgrind: top functions by self Ir:")
        for ir, share, fn in cg["top"]:
            print(f"  {share:5.1f}%  {ir / cg['events']:>10,.0f} Ir/event  {fn}")

    summary = {"machine": machine, "quick": args.quick, "set": args.set or [],
               "brokers": args.brokers, "finished": datetime.datetime.now().isoformat(timespec="seconds"),
               "scenarios": bench.results,
               "targets": [{"scenario": s, "target": w, "pass": ok, "value": d} for s, w, ok, d in tg]}
    for path in [os.path.join(bench.rundir, "summary.json"), os.path.join(RESULTS, "latest.json")] + \
            ([args.json] if args.json else []):
        with open(path, "w") as f:
            json.dump(summary, f, indent=1)
            f.write("\n")
    note(f"summary: {os.path.relpath(os.path.join(bench.rundir, 'summary.json'), SOURCE)}")
    return 0 if ran else 1


if __name__ == "__main__":
    sys.exit(main())
