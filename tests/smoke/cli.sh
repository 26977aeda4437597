#!/usr/bin/env bash
# Smoke test of the command line: --version, --help, --check-config on the
# example configs, a broken config naming file/line/key, secrets masked,
# $ENGAGEMENT_WORKER_CONFIG, and docs/configuration.md matching the table.
set -u
bin="$EW_BUILD_DIR/engagement-worker"
src="$EW_SOURCE_DIR"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

check() { # name, command...
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); echo "ok   $name"
  else fail=$((fail + 1)); echo "FAIL $name"; fi
}

out() { "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
rc() { [ "$(cat "$tmp/rc")" = "$1" ]; }
has() { grep -qF -- "$1" "$tmp/$2"; }
hasnt() { ! grep -qF -- "$1" "$tmp/$2"; }

out "$bin" --version
check "version exits 0" rc 0
check "version names the worker" has "engagement-worker " out
check "version names librdkafka" has "librdkafka" out

out "$bin" --help
check "help exits 0" rc 0
check "help explains --check-config" has "--check-config" out

out "$bin" --bogus
check "unknown option exits 2" rc 2

out "$bin"
check "no config exits 2" rc 2
check "no config says how to give one" has "ENGAGEMENT_WORKER_CONFIG" err

for f in local production; do
  out env KAFKA_PASSWORD=hunter2-secret EW_HASH_KEY=0123456789abcdef0123456789 \
    KAFKA_BROKERS=b1:9093 KAFKA_USERNAME=svc LP_ACCOUNT_ID=123 LP_APP_INSTALLATION_ID=app \
    "$bin" --config "$src/config/$f.yaml" --check-config
  check "check-config $f.yaml exits 0" rc 0
  check "check-config $f.yaml prints brokers" has "brokers:" out
  check "check-config $f.yaml masks the password" hasnt "hunter2-secret" out
  check "check-config $f.yaml masks the hash key" hasnt "0123456789abcdef0123456789" out
done
check "production.yaml shows a masked secret" grep -q '\*\*\*\*\*\*\*\*' "$tmp/out"

cat >"$tmp/broken.yaml" <<'YAML'
kafka:
  brokers: 127.0.0.1:9092
monitoring:
  base_url: http://127.0.0.1:8080
  account_id: "123"
  app_installation_id: app
  timeout_ms: soon
YAML
out "$bin" --config "$tmp/broken.yaml" --check-config
check "broken config exits 1" rc 1
check "broken config names the file and line" has "broken.yaml:7" err
check "broken config names the key" has "monitoring.timeout_ms" err

cat >"$tmp/unknown.yaml" <<'YAML'
kafka:
  brokers: 127.0.0.1:9092
  grup_id: typo
YAML
out "$bin" --config "$tmp/unknown.yaml" --check-config
check "unknown key exits 1" rc 1
check "unknown key is named" has "grup_id" err

out env ENGAGEMENT_WORKER_CONFIG="$tmp/broken.yaml" "$bin" --check-config
check "ENGAGEMENT_WORKER_CONFIG is read" has "broken.yaml:7" err

"$bin" --config-reference >"$tmp/ref.md"
check "docs/configuration.md is generated from the table" \
  diff -u "$tmp/ref.md" "$src/docs/configuration.md"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
