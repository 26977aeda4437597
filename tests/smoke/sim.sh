#!/usr/bin/env bash
# Smoke test of monitoring-sim: starts it on a free port with the smoke
# scenario and a request log, talks to it with curl, checks the answers,
# the request log and a clean exit on SIGTERM.
#
# Env: EW_BUILD_DIR (where monitoring-sim is), EW_SOURCE_DIR (the checkout).
set -u

SRC=${EW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${EW_BUILD_DIR:-$SRC/build}
SIM=$BUILD/monitoring-sim
SCENARIO=$SRC/tests/data/scenarios/smoke.json
TMP=$(mktemp -d)
LOG=$TMP/requests.ndjson
SIM_PID=

cleanup() {
        if [ -n "$SIM_PID" ]; then
                kill "$SIM_PID" 2>/dev/null
                wait "$SIM_PID" 2>/dev/null
        fi
        [ -n "${PYJSON_PID:-}" ] && kill "$PYJSON_PID" 2>/dev/null
        rm -rf "$TMP"
}
trap cleanup EXIT
trap "exit 1" INT TERM

passed=0
failed=0
requests=0

ok() { passed=$((passed + 1)); echo "ok   $1"; }
ko() { failed=$((failed + 1)); echo "FAIL $1"; }
expect_eq() { # description got want
        if [ "$2" == "$3" ]; then ok "$1"; else ko "$1: got '$2', want '$3'"; fi
}
# jget FILE EXPR: evaluates a Python expression over the JSON in FILE (d).
# One python3 process answers every query (starting one per check is slow).
coproc PYJSON { python3 -u -c 'import json, sys
for line in sys.stdin:
    path, expr = line.rstrip("\n").split("\t", 1)
    try:
        d = json.load(open(path))
        v = eval(expr)
        out = v if isinstance(v, str) else json.dumps(v)
    except Exception as e:
        out = "error: %r" % e
    print(out.replace("\n", "\\n"))'; }
jget() {
        printf '%s\t%s\n' "$1" "$2" >&"${PYJSON[1]}"
        local line
        IFS= read -r line <&"${PYJSON[0]}"
        echo "$line"
}

# req METHOD PATH_AND_QUERY [BODY_FILE|-] [extra curl args...]
# Leaves the status in $STATUS, the body in $TMP/b, headers in $TMP/h.
req() {
        local method=$1 url=$2 body=${3:--}
        shift 3 2>/dev/null || shift $#
        local data=()
        [ "$body" != "-" ] && data=(--data-binary "@$body")
        requests=$((requests + 1))
        STATUS=$(curl -sS -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' \
                -X "$method" "${data[@]}" "$@" "$BASE$url" 2>"$TMP/curl.err")
        CURL_RC=$?
}
# A body whose consumer key (first identity's sub) is $1.
body_sub() {
        printf '{"identities":[{"iss":"LivePerson","acr":"0","sub":"%s"}]}' \
                "$1" >"$TMP/sub.json"
        echo "$TMP/sub.json"
}

if [ ! -x "$SIM" ]; then
        echo "FAIL $SIM not built"
        echo "0 passed, 1 failed"
        exit 1
fi

# The engagement page's example body.
cat >"$TMP/doc.json" <<'JSON'
{
 "clientProperties":{
   "osName": "MAC_OSX",
   "osVersion": "1.2",
   "appVersion": "1.0",
   "deviceFamily": "MOBILE",
   "ipAddress": "192.168.5.2"
 },
 "consumerId":"uniqueIdInBrand",
 "identities": [
   {
        "iss": "LivePerson",
        "acr": "0",
        "sub": "identifierForNoAuth"
    },
    {
        "iss": "TMO",
        "acr": "loa1",
        "sub": "identifierForAuth"
    }
 ],
 "entryPoints":[
   "tel://972737004000",
   "https://www.liveperson.com/",
   "sec://Sport",
   "lang://English"
 ],
 "engagementAttributes": [
   {
     "type": "personal",
     "personal": {
       "contacts": [{"email":"user123@gmail.com","phone":"12345678"},{"email":"aaa@domain.co.il","phone":"98765430"}],
       "age": {
         "age":30.0,
         "year":1985,
         "month":7,
         "day":22
       },
       "firstname": "test",
       "lastname": "test2",
       "gender": "FEMALE",
       "company": "liveperson"
     }
   }
 ]
}
JSON

"$SIM" --port 0 --scenario "$SCENARIO" --log "$LOG" --apps 123,456 \
        >"$TMP/out" 2>"$TMP/err" &
SIM_PID=$!
for _ in $(seq 1 100); do
        grep -q '^listening on ' "$TMP/out" 2>/dev/null && break
        sleep 0.05
done
FIRST=$(head -n 1 "$TMP/out")
PORT=${FIRST##*:}
if [[ ! "$FIRST" =~ ^listening\ on\ http://127\.0\.0\.1:[0-9]+$ ]]; then
        echo "FAIL simulator did not start: '$FIRST'"
        cat "$TMP/err"
        echo "0 passed, 1 failed"
        exit 1
fi
ok "prints '$FIRST' first"
BASE=http://127.0.0.1:$PORT
ENG=/api/account/acc1/app/123/engagement

# --- the doc's example: a new session ---------------------------------------
req POST "$ENG?v=1.0&obh=true" "$TMP/doc.json" \
        -H 'traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' \
        -H 'User-Agent: engagement-worker/test'
expect_eq "doc example: 201" "$STATUS" 201
SID=$(jget "$TMP/b" 'd["sessionId"]')
VID=$(jget "$TMP/b" 'd["visitorId"]')
expect_eq "doc example: sessionId, visitorId, pageId present" \
        "$(jget "$TMP/b" 'all(isinstance(d.get(k), str) and d[k] for k in ("sessionId","visitorId","pageId"))')" true
expect_eq "doc example: engagementDetails status expose" \
        "$(jget "$TMP/b" 'd["engagementDetails"][0]["status"]')" expose
expect_eq "doc example: expose carries the engagement's ids" \
        "$(jget "$TMP/b" 'sorted(k for k in d["engagementDetails"][0] if k in ("campaignId","engagementId","engagementRevision","contextId","connectorId","windowId","language"))')" \
        '["campaignId", "connectorId", "contextId", "engagementId", "engagementRevision", "language", "windowId"]'
expect_eq "Content-Type application/octet-stream" \
        "$(tr -d '\r' <"$TMP/h" | grep -i '^content-type:' | cut -d' ' -f2)" application/octet-stream
expect_eq "Transfer-Encoding chunked" \
        "$(tr -d '\r' <"$TMP/h" | grep -i '^transfer-encoding:' | cut -d' ' -f2)" chunked

# --- the same session again ---------------------------------------------------
req POST "$ENG?v=1.0&obh=true&sid=$SID&vid=$VID" "$TMP/doc.json"
expect_eq "reused sid: 200" "$STATUS" 200
expect_eq "reused sid: same session and visitor" \
        "$(jget "$TMP/b" 'd["sessionId"] + " " + d["visitorId"]')" "$SID $VID"
req POST "$ENG?v=1.0&sid=$SID&vid=someoneElse" "$TMP/doc.json"
expect_eq "sid with another visitor's vid: 404/37" \
        "$STATUS/$(jget "$TMP/b" 'd["internalCode"]')" 404/37
req POST "$ENG?v=1.0&sid=noSuchSession" "$TMP/doc.json"
expect_eq "unknown sid: 404/39" \
        "$STATUS/$(jget "$TMP/b" 'd["internalCode"]')" 404/39
expect_eq "unknown sid: error body time/message" \
        "$(jget "$TMP/b" 'isinstance(d["time"], int) and d["message"]')" "invalid sessionId"
req POST "/api/account/acc2/app/123/engagement?v=1.0&sid=$SID" "$TMP/doc.json"
expect_eq "sid of another account: 404/39" \
        "$STATUS/$(jget "$TMP/b" 'd["internalCode"]')" 404/39

# --- validation ---------------------------------------------------------------
req POST "${ENG}?v=2.0" "$TMP/doc.json"
expect_eq "v=2.0: 400/33" "$STATUS/$(jget "$TMP/b" 'd["internalCode"]')" 400/33
sed 's/"acr": "0"/"acr": "2"/' "$TMP/doc.json" >"$TMP/badacr.json"
req POST "$ENG?v=1.0" "$TMP/badacr.json"
expect_eq "bad acr: 400/5" "$STATUS/$(jget "$TMP/b" 'd["internalCode"]')" 400/5
echo '{"entryPoints":[]}' >"$TMP/anon.json"
req POST "$ENG?v=1.0" "$TMP/anon.json"
expect_eq "no consumer: 400/5 consumerId" \
        "$STATUS/$(jget "$TMP/b" 'd["internalCode"]')/$(jget "$TMP/b" 'd["message"]')" 400/5/consumerId
echo 'not json' >"$TMP/garbage.txt"
req POST "$ENG?v=1.0" "$TMP/garbage.txt"
expect_eq "body not JSON: 400/5" "$STATUS/$(jget "$TMP/b" 'd["internalCode"]')" 400/5
req POST "$ENG?v=1.0&obh=maybe" "$TMP/doc.json"
expect_eq "obh=maybe: 400/5" "$STATUS/$(jget "$TMP/b" 'd["internalCode"]')" 400/5
req POST "/api/account/acc1/app/999/engagement?v=1.0" "$TMP/doc.json"
expect_eq "unknown app: 404/18" "$STATUS/$(jget "$TMP/b" 'd["internalCode"]')" 404/18
req GET "$ENG?v=1.0"
expect_eq "GET engagement: 405 with Allow: POST" \
        "$STATUS $(tr -d '\r' <"$TMP/h" | grep -i '^allow:' | cut -d' ' -f2)" "405 POST"
req POST "/api/account/acc1/app/123/other?v=1.0" "$TMP/doc.json"
expect_eq "other path: 404" "$STATUS" 404

# --- scripted behaviours --------------------------------------------------------
req POST "$ENG?v=1.0" "$(body_sub conv-1)"
expect_eq "conversation: status conversation with a conversationId" \
        "$(jget "$TMP/b" 'd["engagementDetails"][0]["status"] + " " + json.dumps(bool(d["engagementDetails"][0]["conversationId"]))')" \
        "conversation true"
req POST "$ENG?v=1.0" "$(body_sub unavail-1)"
expect_eq "unavailable: 201 without engagementDetails" \
        "$STATUS $(jget "$TMP/b" '"engagementDetails" in d and "pageId" in d')" "201 false"

req POST "$ENG?v=1.0" "$(body_sub load-10)"
expect_eq "loading v1.0: 500/20" "$STATUS/$(jget "$TMP/b" 'd["internalCode"]')" 500/20
LVID=$(jget "$TMP/b" 'd["message"].split("vid: ")[1]')
expect_eq "loading v1.0: message names account and vid" \
        "$(jget "$TMP/b" 'd["message"]')" "Loading account: acc1, vid: $LVID"
req POST "$ENG?v=1.0" "$(body_sub load-10)"
expect_eq "loading: retry without the vid still loading" "$STATUS" 500
req POST "$ENG?v=1.0&vid=$LVID" "$(body_sub load-10)"
expect_eq "loading: retry with the announced vid: 201 with that visitorId" \
        "$STATUS $(jget "$TMP/b" 'd["visitorId"]')" "201 $LVID"
req POST "$ENG?v=1.1" "$(body_sub load-11)"
expect_eq "loading v1.1: 202/38" "$STATUS/$(jget "$TMP/b" 'd["internalCode"]')" 202/38
LVID=$(jget "$TMP/b" 'd["message"].split("vid: ")[1]')
req POST "$ENG?v=1.1&vid=$LVID" "$(body_sub load-11)"
expect_eq "loading v1.1: then 201" "$STATUS" 201

req POST "$ENG?v=1.0" "$(body_sub fail2-1)"
S1=$STATUS
RA=$(tr -d '\r' <"$TMP/h" | grep -i '^retry-after:' | cut -d' ' -f2)
req POST "$ENG?v=1.0" "$(body_sub fail2-1)"
S2=$STATUS
req POST "$ENG?v=1.0" "$(body_sub fail2-1)"
expect_eq "fail 2 then success: 503 503 201, Retry-After 1" \
        "$S1 $S2 $STATUS $RA" "503 503 201 1"
req POST "$ENG?v=1.0" "$(body_sub down-1)"
expect_eq "always 500: 500/18" "$STATUS/$(jget "$TMP/b" 'd["internalCode"]')" 500/18

T0=$(date +%s%N)
req POST "$ENG?v=1.0" "$(body_sub slow-1)"
T1=$(date +%s%N)
MS=$(((T1 - T0) / 1000000))
if [ "$STATUS" = 201 ] && [ "$MS" -ge 290 ]; then ok "latency 300 ms: answered in $MS ms"; else ko "latency 300 ms: status $STATUS in $MS ms"; fi

req POST "$ENG?v=1.0" "$(body_sub closeh-1)"
expect_eq "close after headers: curl sees a broken transfer (18)" "$CURL_RC" 18
req POST "$ENG?v=1.0" "$(body_sub closen-1)"
expect_eq "close without answer: curl sees an empty reply (52)" "$CURL_RC" 52

# expire: the first call with a sid is told the session is gone
req POST "$ENG?v=1.0" "$(body_sub other-1)"
XSID=$(jget "$TMP/b" 'd["sessionId"]')
req POST "$ENG?v=1.0&sid=$XSID" "$(body_sub expire-1)"
expect_eq "expire: 404/39" "$STATUS/$(jget "$TMP/b" 'd["internalCode"]')" 404/39
req POST "$ENG?v=1.0&sid=$XSID" "$(body_sub other-1)"
expect_eq "expire: the session is really gone" "$STATUS" 404

# --- control endpoints, Domain API, reload --------------------------------------
req POST /_sim/expire-sessions
expect_eq "expire-sessions: 200" "$STATUS" 200
req POST "$ENG?v=1.0&sid=$SID" "$TMP/doc.json"
expect_eq "after expire-sessions: 404/39" "$STATUS/$(jget "$TMP/b" 'd["internalCode"]')" 404/39
echo '{"latencyMs":200}' >"$TMP/cfg.json"
req POST /_sim/config "$TMP/cfg.json"
T0=$(date +%s%N)
req POST "$ENG?v=1.0" "$TMP/doc.json"
T1=$(date +%s%N)
MS=$(((T1 - T0) / 1000000))
if [ "$MS" -ge 190 ]; then ok "config latencyMs 200: answered in $MS ms"; else ko "config latencyMs 200: $MS ms"; fi
echo '{"latencyMs":0,"failRatio":1,"failStatus":500}' >"$TMP/cfg.json"
req POST /_sim/config "$TMP/cfg.json"
req POST "$ENG?v=1.0" "$TMP/doc.json"
expect_eq "config failRatio 1: 500" "$STATUS" 500
echo '{"failRatio":0,"scenario":{"default":"unavailable"}}' >"$TMP/cfg.json"
req POST /_sim/config "$TMP/cfg.json"
req POST "$ENG?v=1.0" "$TMP/doc.json"
expect_eq "config scenario: default unavailable" \
        "$STATUS $(jget "$TMP/b" '"engagementDetails" in d')" "201 false"
kill -HUP "$SIM_PID"
sleep 0.3
req POST "$ENG?v=1.0" "$TMP/doc.json"
expect_eq "SIGHUP re-reads the scenario file: expose again" \
        "$(jget "$TMP/b" 'd["engagementDetails"][0]["status"]')" expose
req GET "/api/account/acc1/service/smt/baseURI.json?version=1.0"
expect_eq "Domain API smt" "$(jget "$TMP/b" 'd')" \
        "{\"service\": \"smt\", \"account\": \"acc1\", \"baseURI\": \"127.0.0.1:$PORT\"}"
req GET "/api/account/acc1/service/other/baseURI.json?version=1.0"
expect_eq "Domain API other service: 404" "$STATUS" 404

# --- the request log ------------------------------------------------------------
sleep 0.3 # flushed every 100 ms
python3 - "$LOG" "$requests" >"$TMP/logcheck" 2>&1 <<'PY'
import json, re, sys
path, want = sys.argv[1], int(sys.argv[2])
lines = open(path).read().splitlines()
problems = []
if len(lines) != want:
    problems.append("%d lines for %d requests" % (len(lines), want))
recs = [json.loads(l) for l in lines]
keys = {"time", "method", "path", "query", "headers", "body", "status",
        "internalCode", "behaviour"}
for i, r in enumerate(recs):
    if not keys <= set(r):
        problems.append("line %d lacks %s" % (i + 1, keys - set(r)))
    elif not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"]):
        problems.append("line %d time %r" % (i + 1, r["time"]))
first = recs[0]
expect = {"method": "POST", "path": "/api/account/acc1/app/123/engagement",
          "query": {"v": "1.0", "obh": "true"}, "status": 201,
          "internalCode": None, "behaviour": "expose"}
for k, v in expect.items():
    if first.get(k) != v:
        problems.append("first line %s=%r, want %r" % (k, first.get(k), v))
if first["headers"].get("traceparent", "")[:3] != "00-" or \
   first["headers"].get("user-agent") != "engagement-worker/test":
    problems.append("first line headers %r" % first["headers"])
if first["body"].get("consumerId") != "uniqueIdInBrand":
    problems.append("first line body not parsed")
v2 = [r for r in recs if r["query"].get("v") == "2.0"]
if len(v2) != 1 or v2[0]["status"] != 400 or v2[0]["internalCode"] != 33:
    problems.append("v=2.0 line %r" % v2)
garbage = [r for r in recs if r["body"] == "not json\n"]
if len(garbage) != 1 or garbage[0]["internalCode"] != 5:
    problems.append("non-JSON body not logged as a string")
beh = {r["behaviour"] for r in recs}
for b in ("expose", "conversation", "unavailable", "loading", "fail",
          "always", "close", "expire", "validation", "session", "control",
          "domain", "fail-ratio"):
    if b not in beh:
        problems.append("no %s line" % b)
print("; ".join(problems) if problems else "ok")
PY
expect_eq "request log: one line per request with the fields" "$(cat "$TMP/logcheck")" ok

# --- SIGTERM --------------------------------------------------------------------
kill -TERM "$SIM_PID"
wait "$SIM_PID"
RC=$?
SIM_PID=
expect_eq "SIGTERM: exit 0" "$RC" 0
expect_eq "request log complete after exit" "$(wc -l <"$LOG")" "$requests"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
