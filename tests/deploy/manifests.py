#!/usr/bin/python3
"""Static cross-checks of the deployment artifacts under deploy/.

Run by tests/deploy/check.sh:

    manifests.py SOURCE_DIR BINARY OUT_DIR

Reads the Dockerfiles, the compose file, the Kubernetes manifests and the
systemd unit, checks that they agree with each other and with the worker
(ports, probe paths, config paths, topics, group, secrets, options listed
by `engagement-worker --help`), and writes into OUT_DIR what check.sh
validates with the worker itself:

    <name>.yaml  a worker configuration (the ConfigMap's embedded file, ...)
    <name>.env   the environment it runs with (KEY=VALUE lines)
    configs.txt  one "<name> <config path> <env path> <expect>" line each,
                 expect being "valid" or "invalid"

Prints one line per check: "ok   NAME", "FAIL NAME: why" or
"skip NAME: why". Exit status 0 unless it could not run at all.
"""
import fnmatch
import os
import re
import shlex
import subprocess
import sys

try:
    import yaml
except ImportError:  # python3-yaml, deploy/install-deps.sh installs it
    print("FAIL python3-yaml is importable: install python3-yaml")
    sys.exit(0)

VAR_RE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")
PARTITIONS_RE = re.compile(r"Partitions of the input topic: \*\*(\d+)\*\*")


class Checks:
    """Collects results; each check prints one line."""

    def __init__(self):
        self.failed = 0

    def ok(self, name, cond, why=""):
        if cond:
            print("ok   " + name)
        else:
            self.failed += 1
            print("FAIL %s%s" % (name, ": " + why if why else ""))
        return bool(cond)

    def eq(self, name, got, want):
        return self.ok(name, got == want, "got %r, want %r" % (got, want))

    def skip(self, name, why):
        print("skip %s: %s" % (name, why))


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_all(path):
    return [d for d in yaml.safe_load_all(read(path)) if d is not None]


def required_vars(text):
    """Names of the ${VAR} references without a :- default."""
    return {m.group(1) for m in VAR_RE.finditer(text) if m.group(2) is None}


def all_vars(text):
    return {m.group(1) for m in VAR_RE.finditer(text)}


def listen_port(listen):
    """Port of a metrics.listen HOST:PORT value, or None."""
    if not isinstance(listen, str) or ":" not in listen:
        return None
    port = listen.rsplit(":", 1)[1]
    return int(port) if port.isdigit() else None


def listen_host(listen):
    return listen.rsplit(":", 1)[0].strip("[]") if listen else ""


def get(d, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def help_options(binary):
    """Options and subcommands that the binary's --help texts list."""
    opts = {"run": set(), "batch": set(), "redrive": set()}
    subcommands = set()
    for sub in opts:
        argv = [binary, "--help"] if sub == "run" else [binary, sub, "--help"]
        out = subprocess.run(argv, capture_output=True, text=True,
                             timeout=10, check=False).stdout
        opts[sub] = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", out))
        if sub == "run":
            block = out.split("Subcommands", 1)[-1]
            subcommands = set(re.findall(r"^  ([a-z]+)  ", block, re.M))
    return opts, subcommands


def check_argv(c, name, argv, opts, subcommands):
    """argv (without the program) uses only documented options; returns the
    --config value, or None."""
    sub = "run"
    if argv and not argv[0].startswith("-"):
        sub = argv[0]
        c.ok("%s: subcommand '%s' is listed by --help" % (name, sub),
             sub in subcommands, "--help lists %s" % sorted(subcommands))
        argv = argv[1:]
    config = None
    for i, a in enumerate(argv):
        if a.startswith("--"):
            opt = a.split("=", 1)[0]
            c.ok("%s: option %s is listed by %s --help" % (name, opt, sub),
                 opt in opts.get(sub, set()))
            if opt == "--config":
                config = a.split("=", 1)[1] if "=" in a else (
                    argv[i + 1] if i + 1 < len(argv) else None)
    return config


def dummy_env(names):
    return {n: "check-%s-0123456789abcdef0123456789" % n.lower()
            for n in sorted(names)}


def write_env(path, env):
    with open(path, "w", encoding="utf-8") as f:
        for k in sorted(env):
            f.write("%s=%s\n" % (k, env[k]))


class Out:
    """The configurations check.sh runs --check-config on."""

    def __init__(self, out_dir):
        self.dir = out_dir
        self.lines = []

    def add(self, name, config_path, env, expect="valid"):
        env_path = os.path.join(self.dir, name + ".env")
        write_env(env_path, env)
        self.lines.append("%s %s %s %s" % (name, config_path, env_path, expect))

    def save_text(self, name, text):
        path = os.path.join(self.dir, name + ".yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def close(self):
        with open(os.path.join(self.dir, "configs.txt"), "w",
                  encoding="utf-8") as f:
            f.write("\n".join(self.lines) + "\n")


# --- Dockerfile ----------------------------------------------------------


def dockerfile_instructions(path):
    """(INSTRUCTION, arguments) pairs with continuation lines joined."""
    out, cur = [], ""
    for line in read(path).splitlines():
        s = line.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if s.startswith("#"):
            continue
        cur += (" " if cur else "") + s.rstrip("\\").strip()
        if not s.endswith("\\"):
            word, _, rest = cur.partition(" ")
            out.append((word.upper(), rest.strip()))
            cur = ""
    return out


def ignore_patterns(path):
    pats = []
    for line in read(path).splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            pats.append(s)
    return pats


def ignored(rel, pats):
    """Docker's rule: the last matching pattern decides; a pattern naming a
    directory covers what is inside it."""
    result = False
    for p in pats:
        neg = p.startswith("!")
        pat = p[1:] if neg else p
        pat = pat.strip("/")
        if fnmatch.fnmatchcase(rel, pat) or rel.startswith(pat + "/") or any(
                fnmatch.fnmatchcase(rel[:i], pat)
                for i in range(len(rel)) if rel[i] == "/"):
            result = not neg
    return result


def tracked_files(src, rel):
    """Files of the source tree under rel (build directories left out)."""
    base = os.path.join(src, rel)
    if os.path.isfile(base):
        return [rel]
    files = []
    for root, dirs, names in os.walk(base):
        dirs[:] = [d for d in dirs if not d.startswith("build")]
        for n in names:
            files.append(os.path.relpath(os.path.join(root, n), src))
    return files


def check_dockerfile(c, src, rel, ctx):
    """Checks one Dockerfile; returns facts for the cross-checks."""
    path = os.path.join(src, rel)
    ins = dockerfile_instructions(path)
    pats = ignore_patterns(path + ".dockerignore") \
        if os.path.exists(path + ".dockerignore") else []
    c.ok(rel + ": has a per-Dockerfile ignore file",
         os.path.exists(path + ".dockerignore"))
    facts = {"env": {}, "expose": [], "user": None, "healthcheck": None,
             "entrypoint": None, "stopsignal": None, "copies": [],
             "froms": [], "apt": []}
    for word, args in ins:
        if word == "FROM":
            facts["froms"].append(args)
        elif word == "ENV":
            k, _, v = args.partition("=")
            facts["env"][k.strip()] = v.strip().strip('"')
        elif word == "EXPOSE":
            facts["expose"] += [int(p.split("/")[0]) for p in args.split()]
        elif word == "USER":
            facts["user"] = args
        elif word == "HEALTHCHECK":
            facts["healthcheck"] = args
        elif word == "ENTRYPOINT":
            facts["entrypoint"] = yaml.safe_load(args)
        elif word == "STOPSIGNAL":
            facts["stopsignal"] = args
        elif word == "COPY":
            parts = shlex.split(args)
            if any(p.startswith("--from") for p in parts):
                continue
            parts = [p for p in parts if not p.startswith("--")]
            facts["copies"].append((parts[:-1], parts[-1]))
        elif word == "RUN":
            for m in re.finditer(r"apt-get install ([^&;]*)", args):
                facts["apt"] += [w for w in m.group(1).split()
                                 if not w.startswith("-")]
    # Every COPY source exists and survives the ignore file.
    for sources, _dest in facts["copies"]:
        for s in sources:
            s = s.rstrip("/")
            exists = os.path.exists(os.path.join(src, ctx, s))
            c.ok("%s: COPY source %s exists" % (rel, s), exists)
            if not exists:
                continue
            # Files a pattern inside the source excludes on purpose (e.g.
            # tests/bench/results/) are fine; the rest must reach the build.
            inner = [p for p in pats if not p.startswith("!") and
                     p.strip("/").startswith(s + "/")]
            dropped = [f for f in tracked_files(src, s) if ignored(f, pats)
                       and not ignored(f, inner)]
            c.ok("%s: COPY source %s is not excluded by %s.dockerignore"
                 % (rel, s, os.path.basename(rel)), not dropped,
                 "excluded: %s" % dropped[:3])
    c.ok(rel + ": every stage is Debian 12 (bookworm)",
         facts["froms"] and all("DEBIAN_IMAGE" in f or "bookworm" in f
                                or "debian:12" in f for f in facts["froms"]),
         str(facts["froms"]))
    return facts


def check_worker_dockerfile(c, src, facts):
    rel = "deploy/Dockerfile"
    user = facts["user"] or ""
    uid = user.split(":")[0]
    c.ok(rel + ": USER is a numeric non-root uid (runAsNonRoot can verify it)",
         uid.isdigit() and int(uid) != 0, "USER %r" % user)
    c.eq(rel + ": ENTRYPOINT runs the worker", facts["entrypoint"],
         ["engagement-worker"])
    c.eq(rel + ": STOPSIGNAL is SIGTERM", facts["stopsignal"], "SIGTERM")
    c.ok(rel + ": ENV sets ENGAGEMENT_WORKER_CONFIG",
         "ENGAGEMENT_WORKER_CONFIG" in facts["env"])
    hc = facts["healthcheck"] or ""
    m = re.search(r"http://(?:127\.0\.0\.1|localhost):(\d+)(/[\w/-]*)", hc)
    c.ok(rel + ": HEALTHCHECK calls an http URL on loopback", m, hc)
    hc_port = int(m.group(1)) if m else None
    if m:
        c.eq(rel + ": HEALTHCHECK path is /healthz", m.group(2), "/healthz")
        c.ok(rel + ": HEALTHCHECK port is EXPOSEd", hc_port in facts["expose"],
             "EXPOSE %s" % facts["expose"])
    prog = re.search(r'CMD \["([^"]+)"', hc)
    c.ok(rel + ": HEALTHCHECK's program is installed in the runtime stage",
         prog and prog.group(1) in facts["apt"],
         "installs %s" % facts["apt"])
    conf_dest = [d for s, d in facts["copies"] if "config/production.yaml" in s]
    c.ok(rel + ": the image's default config is where ENGAGEMENT_WORKER_CONFIG "
         "points", conf_dest and conf_dest[0] ==
         facts["env"].get("ENGAGEMENT_WORKER_CONFIG"), str(conf_dest))
    prod = yaml.safe_load(read(os.path.join(src, "config/production.yaml")))
    c.eq(rel + ": HEALTHCHECK port is the port of config/production.yaml's "
         "metrics.listen", hc_port, listen_port(get(prod, "metrics", "listen")))
    return hc_port


# --- Kubernetes ----------------------------------------------------------


def k8s_objects(src):
    kdir = os.path.join(src, "deploy/kubernetes")
    kust = yaml.safe_load(read(os.path.join(kdir, "kustomization.yaml")))
    objs = []
    for r in kust.get("resources", []):
        objs += load_all(os.path.join(kdir, r))
    return kust, objs


def by_kind(objs, kind):
    return [o for o in objs if o.get("kind") == kind]


def one(c, objs, kind, where):
    found = by_kind(objs, kind)
    c.eq("%s: exactly one %s" % (where, kind), len(found), 1)
    return found[0] if found else {}


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v
                                  for k, v in selector.items())


def probe_port_ok(probe, port_name, port_num):
    p = get(probe, "httpGet", "port")
    return p == port_name or p == port_num


def check_kubernetes(c, src, binary_opts, subcommands, out, image_facts):
    where = "deploy/kubernetes"
    kust, objs = k8s_objects(src)
    c.ok(where + ": every resource has apiVersion, kind and metadata.name",
         all(o.get("apiVersion") and o.get("kind") and get(o, "metadata", "name")
             for o in objs))
    secret_docs = load_all(os.path.join(src, where, "secret.example.yaml"))
    c.eq(where + ": secret.example.yaml holds one Secret",
         [d.get("kind") for d in secret_docs], ["Secret"])
    secret = secret_docs[0] if secret_docs else {}
    c.ok(where + ": the Secret example is not in the kustomization (applying "
         "it would overwrite real credentials)",
         "secret.example.yaml" not in kust.get("resources", []))
    secret_keys = set(secret.get("stringData", {}) or {}) | set(
        secret.get("data", {}) or {})
    secret_name = get(secret, "metadata", "name")
    ns = kust.get("namespace")
    c.eq(where + ": the Secret example is in the kustomization's namespace",
         get(secret, "metadata", "namespace"), ns)

    cm = one(c, objs, "ConfigMap", where)
    dep = one(c, objs, "Deployment", where)
    svc = one(c, objs, "Service", where)
    pdb = one(c, objs, "PodDisruptionBudget", where)
    so = one(c, objs, "ScaledObject", where)
    ta = one(c, objs, "TriggerAuthentication", where)

    # The worker configuration inside the ConfigMap.
    cm_data = cm.get("data", {}) or {}
    c.ok(where + ": the ConfigMap holds config.yaml", "config.yaml" in cm_data)
    text = cm_data.get("config.yaml", "")
    conf_path = out.save_text("kubernetes-configmap", text)
    conf = yaml.safe_load(text) or {}
    need = required_vars(text)
    c.ok(where + ": the ConfigMap's config refers to secrets through ${VAR}",
         need, "no ${VAR} without a default")
    c.ok(where + ": every ${VAR} of the ConfigMap's config is a key of the "
         "Secret", need <= secret_keys,
         "missing %s" % sorted(need - secret_keys))
    ta_keys = {r.get("key") for r in get(ta, "spec", "secretTargetRef",
                                         default=[]) or []}
    unused = secret_keys - all_vars(text) - ta_keys
    c.ok(where + ": every key of the Secret is used (by the config or KEDA)",
         not unused, "unused %s" % sorted(unused))
    out.add("kubernetes-configmap", conf_path, dummy_env(secret_keys))
    if need:
        # The same file without the Secret's variables must be refused, or
        # the check above proves nothing about the worker's expansion.
        out.add("kubernetes-configmap-without-secret", conf_path, {},
                expect="invalid")

    listen = get(conf, "metrics", "listen")
    mport = listen_port(listen)
    c.ok(where + ": metrics.listen has a port", mport, repr(listen))
    c.ok(where + ": metrics.listen is reachable from the kubelet (not loopback)",
         listen_host(listen) in ("0.0.0.0", "::", ""), repr(listen))

    # Deployment.
    spec = get(dep, "spec", "template", "spec", default={})
    pod_labels = get(dep, "spec", "template", "metadata", "labels", default={})
    c.ok(where + ": the Deployment's selector matches its pod labels",
         labels_match(get(dep, "spec", "selector", "matchLabels"), pod_labels))
    c.ok(where + ": the Deployment leaves replicas to KEDA",
         "replicas" not in (dep.get("spec") or {}))
    containers = spec.get("containers", []) or []
    c.eq(where + ": the pod has one container", len(containers), 1)
    ctr = containers[0] if containers else {}
    c.eq(where + ": the container's image is the kustomization's image",
         ctr.get("image"), get(kust, "images", default=[{}])[0].get("name"))
    ports = ctr.get("ports", []) or []
    metrics_port = [p for p in ports if p.get("containerPort") == mport]
    c.ok(where + ": the container port is metrics.listen's port (%s)" % mport,
         metrics_port, "ports %s" % ports)
    port_name = metrics_port[0].get("name") if metrics_port else None
    c.ok(where + ": the container port matches the image's EXPOSE",
         mport in image_facts["expose"], "EXPOSE %s" % image_facts["expose"])
    for probe, path in (("startupProbe", "/healthz"),
                        ("livenessProbe", "/healthz"),
                        ("readinessProbe", "/readyz")):
        pr = ctr.get(probe)
        if not c.ok("%s: the container has a %s" % (where, probe), pr):
            continue
        c.eq("%s: %s path" % (where, probe), get(pr, "httpGet", "path"), path)
        c.ok("%s: %s port is the metrics port" % (where, probe),
             probe_port_ok(pr, port_name, mport),
             "port %r" % get(pr, "httpGet", "port"))
    res = ctr.get("resources", {}) or {}
    c.ok(where + ": cpu and memory requests are set",
         get(res, "requests", "cpu") and get(res, "requests", "memory"))
    c.ok(where + ": a memory limit is set", get(res, "limits", "memory"))
    grace = spec.get("terminationGracePeriodSeconds")
    shutdown = get(conf, "worker", "shutdown_timeout_ms", default=30000)
    c.ok(where + ": terminationGracePeriodSeconds exceeds "
         "worker.shutdown_timeout_ms (%d ms)" % shutdown,
         isinstance(grace, int) and grace * 1000 > shutdown, "grace %r" % grace)
    psc = spec.get("securityContext", {}) or {}
    csc = ctr.get("securityContext", {}) or {}
    c.eq(where + ": runAsNonRoot", psc.get("runAsNonRoot") or
         csc.get("runAsNonRoot"), True)
    uid = (image_facts["user"] or "").split(":")[0]
    if "runAsUser" in psc:
        c.eq(where + ": runAsUser is the image's USER", str(psc["runAsUser"]), uid)
    c.eq(where + ": seccompProfile RuntimeDefault",
         get(psc, "seccompProfile", "type") or get(csc, "seccompProfile", "type"),
         "RuntimeDefault")
    c.eq(where + ": readOnlyRootFilesystem", csc.get("readOnlyRootFilesystem"),
         True)
    c.eq(where + ": allowPrivilegeEscalation is off",
         csc.get("allowPrivilegeEscalation"), False)
    c.eq(where + ": every capability dropped", get(csc, "capabilities", "drop"),
         ["ALL"])
    env_from = [get(e, "secretRef", "name") for e in ctr.get("envFrom", []) or []]
    c.ok(where + ": the container loads the Secret with envFrom",
         secret_name in env_from, "envFrom %s" % env_from)

    # Where the config file lands, and whether that is what the worker reads.
    args = ctr.get("args", []) or []
    arg_config = check_argv(c, where + " container args", args, binary_opts,
                            subcommands)
    env_config = {e.get("name"): e.get("value") for e in ctr.get("env", []) or []
                  }.get("ENGAGEMENT_WORKER_CONFIG")
    config_path = arg_config or env_config or image_facts["env"].get(
        "ENGAGEMENT_WORKER_CONFIG")
    mounted = []
    vols = {v.get("name"): v for v in spec.get("volumes", []) or []}
    for vm in ctr.get("volumeMounts", []) or []:
        v = vols.get(vm.get("name"), {})
        if get(v, "configMap", "name") != get(cm, "metadata", "name"):
            continue
        items = get(v, "configMap", "items") or [
            {"key": k, "path": k} for k in cm_data]
        for it in items:
            c.ok("%s: mounted ConfigMap key %s exists" % (where, it.get("key")),
                 it.get("key") in cm_data)
            mounted.append((os.path.join(vm.get("mountPath", ""),
                                         it.get("path", "")), it.get("key")))
    c.ok(where + ": the worker's config path (%s) is the ConfigMap's "
         "config.yaml" % config_path, (config_path, "config.yaml") in mounted,
         "mounted %s" % mounted)

    # Service, PodDisruptionBudget, ServiceMonitor.
    c.ok(where + ": the Service selects the worker pods",
         labels_match(get(svc, "spec", "selector"), pod_labels))
    sports = get(svc, "spec", "ports", default=[]) or []
    c.ok(where + ": the Service's targetPort is the metrics port",
         sports and sports[0].get("targetPort") in (port_name, mport),
         str(sports))
    c.ok(where + ": the PodDisruptionBudget selects the worker pods",
         labels_match(get(pdb, "spec", "selector", "matchLabels"), pod_labels))
    c.ok(where + ": the PodDisruptionBudget allows one disruption",
         get(pdb, "spec", "maxUnavailable") == 1 or
         get(pdb, "spec", "minAvailable") is not None)
    sm_path = os.path.join(src, where, "servicemonitor.optional.yaml")
    if os.path.exists(sm_path):
        sm = load_all(sm_path)[0]
        svc_labels = dict(get(svc, "metadata", "labels", default={}) or {})
        for lbl in kust.get("labels", []) or []:
            svc_labels.update(lbl.get("pairs", {}))
        c.ok(where + ": the ServiceMonitor selects the metrics Service",
             labels_match(get(sm, "spec", "selector", "matchLabels"),
                          svc_labels))
        c.ok(where + ": the ServiceMonitor scrapes the Service's port name",
             [e.get("port") for e in get(sm, "spec", "endpoints", default=[])]
             == [sports[0].get("name")] if sports else False)

    # KEDA.
    c.eq(where + ": the ScaledObject scales the Deployment",
         get(so, "spec", "scaleTargetRef", "name"), get(dep, "metadata", "name"))
    trig = (get(so, "spec", "triggers", default=[]) or [{}])[0]
    meta = trig.get("metadata", {}) or {}
    c.eq(where + ": the trigger is KEDA's kafka scaler", trig.get("type"), "kafka")
    c.eq(where + ": ScaledObject topic is kafka.input_topic", meta.get("topic"),
         get(conf, "kafka", "input_topic"))
    c.eq(where + ": ScaledObject consumerGroup is kafka.group_id",
         meta.get("consumerGroup"), get(conf, "kafka", "group_id"))
    c.eq(where + ": ScaledObject bootstrapServers is kafka.brokers",
         meta.get("bootstrapServers"), get(conf, "kafka", "brokers"))
    props = get(conf, "kafka", "properties", default={}) or {}
    reset = props.get("consumer.auto.offset.reset", props.get(
        "auto.offset.reset", worker_default(src, "auto.offset.reset")))
    c.eq(where + ": ScaledObject offsetResetPolicy is the worker's "
         "auto.offset.reset", meta.get("offsetResetPolicy"), reset)
    proto = str(props.get("security.protocol", "plaintext")).upper()
    c.eq(where + ": ScaledObject tls matches security.protocol " + proto,
         meta.get("tls", "disable"),
         "enable" if proto in ("SSL", "SASL_SSL") else "disable")
    mech = str(props.get("sasl.mechanisms", props.get("sasl.mechanism", "")))
    want_sasl = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256",
                 "SCRAM-SHA-512": "scram_sha512", "GSSAPI": "gssapi",
                 "OAUTHBEARER": "oauthbearer"}.get(mech.upper(), "none") \
        if proto.startswith("SASL") else "none"
    c.eq(where + ": ScaledObject sasl matches sasl.mechanisms",
         meta.get("sasl", "none"), want_sasl)
    c.ok(where + ": ScaledObject does not allow idle consumers",
         str(meta.get("allowIdleConsumers", "false")).lower() == "false")
    c.eq(where + ": the trigger authenticates with the TriggerAuthentication",
         get(trig, "authenticationRef", "name"), get(ta, "metadata", "name"))
    for ref in get(ta, "spec", "secretTargetRef", default=[]) or []:
        c.ok("%s: TriggerAuthentication %s comes from a key of the Secret"
             % (where, ref.get("parameter")),
             ref.get("name") == secret_name and ref.get("key") in secret_keys,
             "%s/%s" % (ref.get("name"), ref.get("key")))
    if want_sasl != "none":
        params = {r.get("parameter") for r in
                  get(ta, "spec", "secretTargetRef", default=[]) or []}
        c.ok(where + ": TriggerAuthentication gives username and password",
             {"username", "password"} <= params, str(sorted(params)))
        user_var = VAR_RE.search(str(props.get("sasl.username", "")))
        c.ok(where + ": KEDA's username is the worker's sasl.username",
             user_var and any(r.get("parameter") == "username" and
                              r.get("key") == user_var.group(1)
                              for r in get(ta, "spec", "secretTargetRef")))
    partitions = documented_partitions(c, src)
    c.eq(where + ": maxReplicaCount is the input topic's partition count",
         get(so, "spec", "maxReplicaCount"), partitions)
    mn = get(so, "spec", "minReplicaCount", default=0)
    c.ok(where + ": 0 < minReplicaCount <= maxReplicaCount",
         isinstance(mn, int) and 0 < mn <= (partitions or 0), "min %r" % mn)
    return conf


_partitions_cache = {}


def documented_partitions(c, src):
    if "n" not in _partitions_cache:
        m = PARTITIONS_RE.search(read(os.path.join(src, "deploy/README.md")))
        c.ok("deploy/README.md documents the input topic's partition count", m)
        _partitions_cache["n"] = int(m.group(1)) if m else None
    return _partitions_cache["n"]


def worker_default(src, prop):
    text = read(os.path.join(src, "worker/ew_kafka_conf.c"))
    m = re.search(r'\{"%s",\s*"([^"]*)"' % re.escape(prop), text)
    return m.group(1) if m else None


# --- docker compose --------------------------------------------------------


def interpolate(value, env):
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?message}; None when a
    required variable is missing."""
    missing = []

    def sub(m):
        name, op, arg = m.group(1), m.group(2), m.group(3)
        v = env.get(name, "")
        if op == ":-":
            return v or arg
        if op == ":?" and not v:
            missing.append(name)
        return v

    s = re.sub(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-?])([^}]*))?\}",
               sub, str(value))
    return None if missing else s.replace("$$", "$")


def parse_env_file(path):
    env = {}
    for line in read(path).splitlines():
        s = line.strip()
        if s and not s.startswith("#") and "=" in s:
            k, _, v = s.partition("=")
            env[k.strip()] = v.strip()
    return env


def check_compose(c, src, out, image_facts):
    rel = "deploy/docker-compose.yaml"
    base = os.path.join(src, "deploy")
    comp = yaml.safe_load(read(os.path.join(src, rel)))
    svcs = comp.get("services", {}) or {}
    for name in ("kafka", "topic-init", "worker", "monitoring-sim"):
        c.ok("%s: service %s" % (rel, name), name in svcs)
    kafka, init = svcs.get("kafka", {}), svcs.get("topic-init", {})
    worker, sim = svcs.get("worker", {}), svcs.get("monitoring-sim", {})
    c.ok(rel + ": Kafka is Apache Kafka's image",
         str(kafka.get("image", "")).startswith("apache/kafka:"))
    kenv = kafka.get("environment", {}) or {}
    c.ok(rel + ": Kafka runs in KRaft mode (broker and controller)",
         set(str(kenv.get("KAFKA_PROCESS_ROLES", "")).split(",")) ==
         {"broker", "controller"})

    for svc_name, svc in (("worker", worker), ("monitoring-sim", sim)):
        b = svc.get("build", {}) or {}
        ctx = os.path.normpath(os.path.join(base, b.get("context", ".")))
        df = os.path.join(ctx, b.get("dockerfile", "Dockerfile"))
        c.ok("%s: %s's build context is the repository root" % (rel, svc_name),
             os.path.samefile(ctx, src))
        c.ok("%s: %s's Dockerfile exists" % (rel, svc_name), os.path.isfile(df))
    c.eq(rel + ": worker is built from deploy/Dockerfile",
         (worker.get("build") or {}).get("dockerfile"), "deploy/Dockerfile")

    # The worker's mounted configuration.
    target = image_facts["env"].get("ENGAGEMENT_WORKER_CONFIG")
    conf_src = None
    for v in worker.get("volumes", []) or []:
        parts = str(v).split(":")
        if len(parts) >= 2 and parts[1] == target:
            conf_src = os.path.normpath(os.path.join(base, parts[0]))
    c.ok(rel + ": the worker's config is mounted at ENGAGEMENT_WORKER_CONFIG "
         "(%s)" % target, conf_src and os.path.isfile(conf_src), str(conf_src))
    if not conf_src or not os.path.isfile(conf_src):
        return
    text = read(conf_src)
    conf = yaml.safe_load(text) or {}
    wenv = worker.get("environment", {}) or {}
    need = required_vars(text)
    c.ok(rel + ": the worker's environment gives every ${VAR} its config "
         "needs", need <= set(wenv), "missing %s" % sorted(need - set(wenv)))
    used = all_vars(text)
    c.ok(rel + ": every variable of the worker's environment is used by its "
         "config", set(wenv) <= used, "unused %s" % sorted(set(wenv) - used))

    # Offline mode (sim.env) and LivePerson mode (only the two ids).
    sim_env = parse_env_file(os.path.join(base, "compose/sim.env"))
    for mode, shell in (("sim", sim_env),
                        ("liveperson", {"LP_ACCOUNT_ID": "12345678",
                                        "LP_APP_INSTALLATION_ID": "app-1"})):
        env = {k: interpolate(v, shell) for k, v in wenv.items()}
        bad = [k for k, v in env.items() if v is None]
        c.ok("%s: %s mode interpolates the worker's environment" % (rel, mode),
             not bad, "unset %s" % bad)
        out.add("compose-" + mode, conf_src,
                {k: v for k, v in env.items() if v is not None})
    env_none = {k: interpolate(v, {}) for k, v in wenv.items()}
    c.ok(rel + ": without the account ids, compose refuses to start the worker",
         any(v is None for v in env_none.values()))
    url = sim_env.get("EW_MONITORING_URL", "")
    m = re.match(r"http://([^:/]+):(\d+)$", url)
    c.ok(rel + ": sim.env points EW_MONITORING_URL at the monitoring-sim "
         "service", m and m.group(1) == "monitoring-sim" and
         m.group(2) in [str(p) for p in sim.get("expose", [])], url)
    sim_ins = dockerfile_instructions(os.path.join(
        src, "deploy/compose/Dockerfile.sim"))
    ep = [yaml.safe_load(a) for w, a in sim_ins if w == "ENTRYPOINT"]
    c.ok(rel + ": monitoring-sim listens on the port sim.env names",
         m and ep and "--port" in ep[0] and
         ep[0][ep[0].index("--port") + 1] == m.group(2), str(ep))

    # Kafka, topics, partitions.
    brokers = get(conf, "kafka", "brokers")
    adv = str(kenv.get("KAFKA_ADVERTISED_LISTENERS", ""))
    c.ok(rel + ": kafka.brokers (%s) is a listener Kafka advertises" % brokers,
         brokers and ("://" + brokers) in adv, adv)
    cmd = " ".join(str(x) for x in (init.get("command") or []))
    topics = dict(re.findall(r"--topic (\S+) --partitions (\d+)", cmd))
    for key in ("input_topic", "output_topic", "dead_letter_topic"):
        t = get(conf, "kafka", key)
        c.ok("%s: topic-init creates kafka.%s (%s)" % (rel, key, t),
             t in topics, "creates %s" % sorted(topics))
    c.eq(rel + ": the input topic has the documented partition count",
         int(topics.get(get(conf, "kafka", "input_topic"), -1)),
         documented_partitions(c, src))
    c.eq(rel + ": the worker waits for topic-init",
         get(worker, "depends_on", "topic-init", "condition"),
         "service_completed_successfully")
    c.eq(rel + ": topic-init waits for a healthy Kafka",
         get(init, "depends_on", "kafka", "condition"), "service_healthy")

    # Ports, shutdown.
    mport = listen_port(get(conf, "metrics", "listen"))
    c.ok(rel + ": the worker's metrics port is the image's HEALTHCHECK port",
         mport == image_facts["healthcheck_port"],
         "%r vs %r" % (mport, image_facts["healthcheck_port"]))
    c.ok(rel + ": the worker's metrics.listen is not loopback-only (published"
         " through expose)", listen_host(get(conf, "metrics", "listen")) in
         ("0.0.0.0", "::", ""))
    grace = str(worker.get("stop_grace_period", "10s"))
    m = re.match(r"^(\d+)s$", grace)
    shutdown = get(conf, "worker", "shutdown_timeout_ms", default=30000)
    c.ok(rel + ": stop_grace_period exceeds worker.shutdown_timeout_ms",
         m and int(m.group(1)) * 1000 > shutdown, grace)


# --- systemd ---------------------------------------------------------------


def unit_entries(path):
    entries = []
    section = None
    for line in read(path).splitlines():
        s = line.strip()
        if not s or s.startswith("#") or s.startswith(";"):
            continue
        if s.startswith("["):
            section = s.strip("[]")
            continue
        k, _, v = s.partition("=")
        entries.append((section, k.strip(), v.strip()))
    return entries


def check_systemd(c, src, binary_opts, subcommands, out):
    rel = "deploy/systemd/engagement-worker.service"
    ent = unit_entries(os.path.join(src, rel))
    svc = {}
    for sec, k, v in ent:
        if sec == "Service":
            svc.setdefault(k, []).append(v)

    def last(k):
        return svc.get(k, [None])[-1]

    execs = svc.get("ExecStart", [])
    c.eq(rel + ": one ExecStart", len(execs), 1)
    argv = shlex.split(execs[0]) if execs else [""]
    c.eq(rel + ": ExecStart runs engagement-worker",
         os.path.basename(argv[0]), "engagement-worker")
    config = check_argv(c, rel + " ExecStart", argv[1:], binary_opts,
                        subcommands)
    envs = dict(e.split("=", 1) for v in svc.get("Environment", [])
                for e in shlex.split(v))
    config = config or envs.get("ENGAGEMENT_WORKER_CONFIG")
    c.ok(rel + ": ExecStart names a config path", config)
    if "ENGAGEMENT_WORKER_CONFIG" in envs:
        c.eq(rel + ": ENGAGEMENT_WORKER_CONFIG is ExecStart's config",
             envs["ENGAGEMENT_WORKER_CONFIG"], config)
    for k, want in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                    ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                    ("PrivateDevices", "yes"), ("ProtectKernelTunables", "yes"),
                    ("ProtectKernelModules", "yes"),
                    ("ProtectKernelLogs", "yes"),
                    ("ProtectControlGroups", "yes"),
                    ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
                    ("CapabilityBoundingSet", ""),
                    ("Restart", "on-failure"), ("KillSignal", "SIGTERM")):
        c.eq("%s: %s=%s" % (rel, k, want), last(k), want)
    c.ok(rel + ": SystemCallFilter allows @system-service",
         "@system-service" in svc.get("SystemCallFilter", []))
    c.ok(rel + ": runs as an unprivileged user",
         last("DynamicUser") == "yes" or (last("User") not in (None, "root")))
    c.ok(rel + ": MemoryMax is set", last("MemoryMax"))
    prod_text = read(os.path.join(src, "config/production.yaml"))
    prod = yaml.safe_load(prod_text)
    shutdown = get(prod, "worker", "shutdown_timeout_ms", default=30000)
    tss = last("TimeoutStopSec") or ""
    c.ok(rel + ": TimeoutStopSec exceeds worker.shutdown_timeout_ms",
         tss.isdigit() and int(tss) * 1000 > shutdown, tss)
    envfile = last("EnvironmentFile") or ""
    c.ok(rel + ": secrets come from an EnvironmentFile", envfile)
    c.eq(rel + ": the EnvironmentFile sits next to the config",
         os.path.dirname(envfile.lstrip("-")), os.path.dirname(config or ""))
    example = os.path.join(src, "deploy/systemd/engagement-worker.env.example")
    env = parse_env_file(example)
    need = required_vars(prod_text)
    c.ok("deploy/systemd/engagement-worker.env.example gives every ${VAR} of "
         "config/production.yaml", need <= set(env),
         "missing %s" % sorted(need - set(env)))
    out.add("systemd-production", os.path.join(src, "config/production.yaml"),
            dummy_env(env))


# --- install-deps.sh and README -------------------------------------------


def check_packages(c, src, facts, out_dir):
    text = read(os.path.join(src, "deploy/install-deps.sh"))
    lists = {}
    for name, body in re.findall(r"^(\w+_pkgs)=\(\s*(.*?)\)", text, re.M | re.S):
        lists[name] = [w for w in body.split() if not w.startswith('"')]
    c.ok("deploy/install-deps.sh has build, test and runtime lists",
         {"core_build_pkgs", "runtime_pkgs", "test_pkgs"} <= set(lists),
         str(sorted(lists)))
    c.ok("deploy/install-deps.sh installs python3-yaml for this check",
         "python3-yaml" in lists.get("test_pkgs", []))
    # For check.sh: line 1 the runtime list, line 2 every package named.
    pk = os.path.join(out_dir, "packages.txt")
    with open(pk, "w", encoding="utf-8") as f:
        f.write(" ".join(lists.get("runtime_pkgs", [])) + "\n")
        every = sorted({p for v in lists.values() for p in v} |
                       set(facts["worker"]["apt"]) | set(facts["sim"]["apt"]))
        f.write(" ".join(every) + "\n")


def check_readme(c, src):
    rel = "deploy/README.md"
    text = read(os.path.join(src, rel))
    for root, dirs, names in os.walk(os.path.join(src, "deploy")):
        dirs[:] = [d for d in dirs if d != "local"]
        for n in names:
            if n in ("install-deps.sh", "README.md"):
                continue
            path = os.path.relpath(os.path.join(root, n),
                                   os.path.join(src, "deploy"))
            c.ok("%s describes %s" % (rel, path), path in text)
    for cmd in (r"docker build -f deploy/Dockerfile (-t \S+ )?\.",
                r"kubectl apply -k deploy/kubernetes",
                r"docker compose -f deploy/docker-compose\.yaml"):
        c.ok("%s shows how to run /%s/" % (rel, cmd), re.search(cmd, text))


def main():
    if len(sys.argv) != 4:
        print("usage: manifests.py SOURCE_DIR BINARY OUT_DIR", file=sys.stderr)
        return 2
    src, binary, out_dir = sys.argv[1:]
    c = Checks()
    out = Out(out_dir)
    opts, subcommands = help_options(binary)
    c.ok("engagement-worker --help lists --config and the run subcommand",
         "--config" in opts["run"] and "run" in subcommands,
         "options %s, subcommands %s" % (sorted(opts["run"]),
                                         sorted(subcommands)))
    facts = {
        "worker": check_dockerfile(c, src, "deploy/Dockerfile", "."),
        "sim": check_dockerfile(c, src, "deploy/compose/Dockerfile.sim", "."),
    }
    facts["worker"]["healthcheck_port"] = check_worker_dockerfile(
        c, src, facts["worker"])
    check_kubernetes(c, src, opts, subcommands, out, facts["worker"])
    check_compose(c, src, out, facts["worker"])
    check_systemd(c, src, opts, subcommands, out)
    check_packages(c, src, facts, out_dir)
    check_readme(c, src)
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
