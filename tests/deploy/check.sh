#!/usr/bin/env bash
# Static checks of the deployment artifacts (deploy/), without Docker or a
# cluster:
#   - yamllint (deploy/.yamllint) over deploy/ and config/, and over the
#     worker configuration embedded in the Kubernetes ConfigMap;
#   - cross-references between the Dockerfile, the compose file, the
#     Kubernetes manifests, the systemd unit and the worker
#     (tests/deploy/manifests.py: ports, probe paths, config paths, topics,
#     group, Secret keys, options listed by --help, partition count);
#   - engagement-worker --check-config on the ConfigMap's configuration with
#     exactly the Secret's variables (and refused without them), on the
#     compose configuration in both modes, and on config/production.yaml
#     with the systemd env example's variables;
#   - kubectl kustomize deploy/kubernetes, when kubectl is installed;
#   - systemd-analyze verify on the unit, when systemd-analyze is installed;
#   - the runtime package list of deploy/install-deps.sh against the
#     libraries the binary links, and every package named exists (apt-cache).
# Environment: EW_BUILD_DIR (holds engagement-worker), EW_SOURCE_DIR.
# Prints "N passed, 0 failed" last; exits non-zero on a failure.
set -u
src="${EW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
bin="${EW_BUILD_DIR:-$src/build}/engagement-worker"
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0 skipped=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [[ -n "${2:-}" ]] && sed 's/^/     /' "$2" | head -20; return 0; }
skip() { skipped=$((skipped + 1)); echo "skip $1"; }
check() { # name, command... (output shown on failure)
  local name=$1; shift
  if "$@" >"$tmp/out" 2>&1; then ok "$name"; else bad "$name" "$tmp/out"; fi
}

cd "$src" || exit 1
if [[ ! -x "$bin" ]]; then
  bad "engagement-worker is built ($bin)"
  echo "$pass passed, $fail failed"
  exit 1
fi

# --- YAML validity ---------------------------------------------------------
if command -v yamllint >/dev/null; then
  check "yamllint deploy/ config/ (deploy/.yamllint)" \
    yamllint -s -c deploy/.yamllint deploy config
else
  bad "yamllint is installed (deploy/install-deps.sh installs it)"
fi

# --- cross-references (also writes the configurations to validate) ----------
mkdir -p "$tmp/out.d"
if "$py" tests/deploy/manifests.py "$src" "$bin" "$tmp/out.d" >"$tmp/manifests" 2>&1; then
  while IFS= read -r line; do
    case "$line" in
      "ok   "*) ok "${line#ok   }" ;;
      "FAIL "*) bad "${line#FAIL }" ;;
      "skip "*) skip "${line#skip }" ;;
      *) echo "     $line" ;;
    esac
  done <"$tmp/manifests"
else
  bad "tests/deploy/manifests.py ran" "$tmp/manifests"
fi

# --- the worker's own validation of every embedded configuration ----------
if [[ -s "$tmp/out.d/configs.txt" ]]; then
  if command -v yamllint >/dev/null; then
    check "yamllint the ConfigMap's embedded config.yaml" \
      yamllint -s -c deploy/.yamllint "$tmp/out.d/kubernetes-configmap.yaml"
  fi
  while read -r name conf envfile expect; do
    [[ -n "$name" ]] || continue
    envs=()
    while IFS= read -r kv; do [[ -n "$kv" ]] && envs+=("$kv"); done <"$envfile"
    # Only the listed variables: nothing leaks in from the caller.
    env -i PATH=/usr/bin:/bin "${envs[@]}" "$bin" --check-config --config "$conf" \
      >"$tmp/cc.out" 2>"$tmp/cc.err"
    rc=$?
    if [[ "$expect" == valid ]]; then
      if ((rc == 0)); then ok "check-config $name (${#envs[@]} variables)"
      else bad "check-config $name (${#envs[@]} variables) exits 0, got $rc" "$tmp/cc.err"; fi
    else
      if ((rc == 1)) && grep -q "is not set" "$tmp/cc.err"; then
        ok "check-config $name is refused (a variable is not set)"
      else
        bad "check-config $name is refused for a missing variable, got $rc" "$tmp/cc.err"
      fi
    fi
    # Secrets never appear in the printed configuration.
    if [[ "$expect" == valid ]]; then
      leaked=0
      for kv in "${envs[@]}"; do
        v=${kv#*=}
        case "${kv%%=*}" in
          *PASSWORD*|*HASH_KEY*|*SECRET*|*TOKEN*)
            [[ -n "$v" ]] && grep -qF -- "$v" "$tmp/cc.out" && leaked=1 ;;
        esac
      done
      if ((leaked == 0)); then ok "check-config $name prints no secret"
      else bad "check-config $name prints no secret" "$tmp/cc.out"; fi
    fi
  done <"$tmp/out.d/configs.txt"
else
  bad "manifests.py wrote the configurations to validate"
fi

# --- kustomize ---------------------------------------------------------------
if command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1; then
  if kubectl kustomize deploy/kubernetes >"$tmp/rendered.yaml" 2>"$tmp/kerr"; then
    ok "kubectl kustomize deploy/kubernetes renders"
    kinds=$("$py" -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
print(" ".join(sorted(d["kind"] for d in docs)))
ns = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
print(" ".join(sorted(str(n) for n in ns)))
imgs = {c["image"] for d in docs if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]}
print(" ".join(sorted(imgs)))' "$tmp/rendered.yaml" 2>&1)
    want="ConfigMap Deployment Namespace PodDisruptionBudget ScaledObject Service TriggerAuthentication"
    if [[ "$(sed -n 1p <<<"$kinds")" == "$want" ]]; then ok "kustomize output has every resource"
    else bad "kustomize output has every resource: got '$(sed -n 1p <<<"$kinds")'"; fi
    if [[ "$(sed -n 2p <<<"$kinds")" == engagement-worker ]]; then ok "kustomize puts everything in namespace engagement-worker"
    else bad "kustomize puts everything in namespace engagement-worker: got '$(sed -n 2p <<<"$kinds")'"; fi
    if [[ "$(sed -n 3p <<<"$kinds")" == *:* ]]; then ok "kustomize sets a tagged image ($(sed -n 3p <<<"$kinds"))"
    else bad "kustomize sets a tagged image: got '$(sed -n 3p <<<"$kinds")'"; fi
  else
    bad "kubectl kustomize deploy/kubernetes renders" "$tmp/kerr"
  fi
else
  skip "kubectl kustomize: kubectl is not installed (not a Debian 12 package)"
fi

# --- systemd -----------------------------------------------------------------
unit=deploy/systemd/engagement-worker.service
if command -v systemd-analyze >/dev/null; then
  # The unit names the installed path; verify against the built binary.
  mkdir -p "$tmp/unit"
  sed "s|/usr/local/bin/engagement-worker|$bin|g" "$unit" >"$tmp/unit/engagement-worker.service"
  check "systemd-analyze verify $unit" \
    systemd-analyze verify --man=no "$tmp/unit/engagement-worker.service"
  if grep -q . "$tmp/out"; then bad "systemd-analyze verify prints no warning" "$tmp/out"
  else ok "systemd-analyze verify prints no warning"; fi
else
  skip "systemd-analyze verify: systemd-analyze is not installed"
fi

# --- Debian packages -----------------------------------------------------------
read -r -a runtime_pkgs < <(sed -n 1p "$tmp/out.d/packages.txt" 2>/dev/null)
read -r -a every_pkg < <(sed -n 2p "$tmp/out.d/packages.txt" 2>/dev/null)
if command -v dpkg-query >/dev/null && command -v ldd >/dev/null; then
  missing=()
  unknown=()
  while read -r lib; do
    path=$(ldd "$bin" | awk -v l="$lib" '$1 == l { print $3 }')
    [[ -n "$path" ]] || { unknown+=("$lib"); continue; }
    pkg=$(dpkg-query -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1)
    [[ -n "$pkg" ]] || pkg=$(dpkg-query -S "$path" 2>/dev/null | head -1 | cut -d: -f1)
    case "$pkg" in
      libc6) ;;                                   # essential
      "") unknown+=("$lib") ;;
      *) [[ " ${runtime_pkgs[*]} " == *" $pkg "* ]] || missing+=("$lib ($pkg)") ;;
    esac
  done < <(objdump -p "$bin" 2>/dev/null | awk '/NEEDED/ { print $2 }')
  if ((${#missing[@]} == 0)); then ok "install-deps.sh --runtime installs every library the binary links"
  else echo "     not in runtime_pkgs: ${missing[*]}" >"$tmp/m"; bad "install-deps.sh --runtime installs every library the binary links" "$tmp/m"; fi
  ((${#unknown[@]} == 0)) || skip "no Debian package found for: ${unknown[*]} (sanitizer build?)"
else
  skip "runtime libraries: dpkg-query or ldd missing"
fi
if command -v apt-cache >/dev/null && ((${#every_pkg[@]})); then
  # One apt-cache call (each costs most of a second): "name:" starts a
  # package's block, "Candidate:" gives its installable version.
  have=$(apt-cache policy "${every_pkg[@]}" 2>/dev/null | awk '
    /^[^ ].*:$/ { name = substr($0, 1, length($0) - 1) }
    /^  Candidate:/ && $2 != "(none)" { print name }')
  nocand=()
  for p in "${every_pkg[@]}"; do
    grep -qxF -- "$p" <<<"$have" || nocand+=("$p")
  done
  if ((${#nocand[@]} == 0)); then ok "every package install-deps.sh and the Dockerfiles name exists (${#every_pkg[@]}, apt-cache policy)"
  else echo "     no candidate: ${nocand[*]}" >"$tmp/m"; bad "every package install-deps.sh and the Dockerfiles name exists" "$tmp/m"; fi
else
  skip "package names: apt-cache missing"
fi

# --- shell --------------------------------------------------------------------
check "bash -n deploy/install-deps.sh" bash -n deploy/install-deps.sh
if command -v shellcheck >/dev/null; then
  check "shellcheck tests/deploy/check.sh deploy/install-deps.sh" \
    shellcheck tests/deploy/check.sh deploy/install-deps.sh
fi

((skipped)) && echo "($skipped skipped)"
echo "$pass passed, $fail failed"
((fail == 0))
