#!/usr/bin/env bash
# Schemathesis (PyPI) against a live engine and its own /openapi.json, for a bounded
# time: no answer may be a 5xx, and every answer must match the document (status,
# content type, body schema). Run by .ci/run after the test suite, whose build left
# the debug binary; builds it if it is missing. SCHEMATHESIS_ARGS adds arguments for a
# run by hand (e.g. `--include-path /query --report ndjson`).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
# Hard wall limit for the run itself; --max-time asks schemathesis to stop before it.
WALL_SECONDS=180
RUN_SECONDS=120

fail() {
  echo "schemathesis.sh: $*" >&2
  exit 1
}

command -v python3 >/dev/null 2>&1 || {
  (apt-get update -qq && apt-get install -y -qq python3 python3-venv) >/dev/null ||
    fail "python3 is missing and could not be installed with apt-get"
}

target_dir=$(cargo metadata --format-version 1 --no-deps --offline 2>/dev/null |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])') ||
  fail "cargo metadata failed: cannot locate the target directory"
bin="$target_dir/debug/switchboard"
if [[ ! -x "$bin" ]]; then
  cargo build --bin switchboard || fail "cannot build the switchboard binary"
fi

# A virtual environment of our own under the target directory: a pinned version,
# kept between runs, never touching the system's Python packages.
venv="$target_dir/schemathesis-$SCHEMATHESIS_VERSION"
st="$venv/bin/schemathesis"
if ! "$st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  rm -rf "$venv"
  python3 -m venv "$venv" ||
    fail "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION" ||
    fail "pip could not install schemathesis==$SCHEMATHESIS_VERSION from PyPI"
fi

work=$(mktemp -d)
engine_pid=""
cleanup() {
  if [[ -n "$engine_pid" ]]; then
    kill "$engine_pid" 2>/dev/null || true
    wait "$engine_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

: >"$work/config.toml"
sb() { "$bin" --data-dir "$work/data" --config "$work/config.toml" "$@"; }
export SWITCHBOARD_LOG=warn

sb tokens create --role admin --name schemathesis --out "$work/admin.token" >/dev/null ||
  fail "switchboard tokens create failed"
sb keys create --source "Switchboard Console" --json >"$work/key.json" ||
  fail "switchboard keys create failed"

sb serve --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
engine_pid=$!
base=""
for _ in $(seq 100); do
  base=$(sed -n 's/^switchboard listening on //p' "$work/serve.out")
  [[ -n "$base" ]] && break
  kill -0 "$engine_pid" 2>/dev/null || fail "the engine exited: $(cat "$work/serve.err")"
  sleep 0.1
done
[[ -n "$base" ]] || fail "the engine did not start listening within 10 s"

# What the operations need: a source's access token, and the own organization's ID
# for the Platform API's {org}.
export SB_BASE="$base" SB_KEY_FILE="$work/key.json" SB_ADMIN_TOKEN_FILE="$work/admin.token"
eval "$(python3 - <<'EOF'
import json, os, shlex, urllib.request
base = os.environ["SB_BASE"]
key = json.load(open(os.environ["SB_KEY_FILE"]))
admin = open(os.environ["SB_ADMIN_TOKEN_FILE"]).read().strip()
req = urllib.request.Request(base + "/auth/authenticate",
    data=json.dumps({"apiKey": key["apiKey"], "secret": key["secret"]}).encode(),
    headers={"content-type": "application/json"})
source = json.load(urllib.request.urlopen(req))["accessToken"]
req = urllib.request.Request(base + "/admin/v1/connections",
    headers={"authorization": "Bearer " + admin})
orgs = json.load(urllib.request.urlopen(req))["organizations"]
own = next(o["id"] for o in orgs if o.get("own"))
print(f"export SB_SOURCE_TOKEN={shlex.quote(source)} SB_ADMIN_TOKEN={shlex.quote(admin)} SB_ORG={shlex.quote(own)}")
EOF
)" || fail "could not authenticate against the engine"

cat >"$work/schemathesis.toml" <<'EOF'
[auth.openapi.sourceToken]
bearer = "${SB_SOURCE_TOKEN}"

[auth.openapi.adminToken]
bearer = "${SB_ADMIN_TOKEN}"

# Real values where a made-up one could only be refused: the own organization, the
# sandbox's FHIR slug and environment.
[parameters]
"path.org" = "${SB_ORG}"
"path.slug" = "sandbox-ehr"
"path.env" = "Development"
EOF

# One worker: CPython 3.11.7's ast.parse is not safe across threads (hypothesis calls it
# while describing strategies; seen as a SystemError in a run with two workers).
# Left out: the event stream never ends, a backup writes wherever `dir` says, and the
# revocations would revoke the run's own credentials (stateful testing finds their
# names in the listings), leaving every later request a 401.
started=$SECONDS
status=0
# From the temporary directory: schemathesis leaves its cache (.schemathesis/) where it runs.
(cd "$work" && timeout --kill-after=10 "$WALL_SECONDS" "$st" --config-file "$work/schemathesis.toml" \
  run "$base/openapi.json" \
  --checks ${SCHEMATHESIS_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance} \
  --exclude-path /admin/v1/events --exclude-path /admin/v1/backup \
  --exclude-path '/admin/v1/tokens/{name}/revoke' --exclude-path '/admin/v1/keys/{key}/revoke' \
  --max-examples 25 --max-time "$RUN_SECONDS" --workers 1 --seed 19 \
  --request-timeout 20 --no-color --output-truncate false ${SCHEMATHESIS_ARGS:-}) ||
  status=$?
echo "schemathesis.sh: finished in $((SECONDS - started)) s with status $status"
if [[ $status -eq 124 || $status -eq 137 ]]; then
  fail "schemathesis did not finish within $WALL_SECONDS s"
fi
if ! kill -0 "$engine_pid" 2>/dev/null; then
  fail "the engine died during the run: $(tail -20 "$work/serve.err")"
fi
exit "$status"
