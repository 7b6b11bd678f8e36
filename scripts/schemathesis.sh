#!/usr/bin/env bash
# API conformance: schemathesis against a real `attune serve`, driven by /v1/openapi.json.
#
#   scripts/schemathesis.sh [-n EXAMPLES] [-s SEED] [-- EXTRA_ST_ARGS...]   (default: 20 examples)
#
# Builds the binary (debug, $CARGO_TARGET_DIR or target/), makes a demo data directory (catalog,
# events, a trained model), starts `attune serve` on a free loopback port with API keys
# required (one admin key for every app, sent with each request), runs every operation of the
# document with these checks: not_a_server_error, status_code_conformance,
# content_type_conformance, response_schema_conformance, then stops the server. Exits non-zero
# when schemathesis reports a failure (the server log is printed then).
#
# schemathesis comes from PyPI into a virtualenv outside the repository
# ($ST_VENV, default ${XDG_CACHE_HOME:-~/.cache}/attune/venv-schemathesis), made on first use.
# The version is pinned so runs are comparable; raise it deliberately.
set -euo pipefail

cd "$(dirname "$0")/.."

examples=20
seed=17
while getopts "n:s:" opt; do
    case "$opt" in
        n) examples=$OPTARG ;;
        s) seed=$OPTARG ;;
        *) echo "usage: $0 [-n EXAMPLES] [-s SEED] [-- EXTRA_ST_ARGS...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

log() { printf '==> %s\n' "$*" >&2; }

ST_VERSION=4.32.5
venv=${ST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/attune/venv-schemathesis}
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$ST_VERSION"; then
    log "installing schemathesis $ST_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "schemathesis==$ST_VERSION"
fi

log "building attune (debug)"
nice -n 19 cargo build -q -p attune-cli
bin="${CARGO_TARGET_DIR:-target}/debug/attune"

work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

log "demo data in $work/data"
nice -n 19 "$bin" demo --no-serve --data-dir "$work/data" >"$work/demo.log"

# Keys required, as in production; one admin key for every app.
key="schemathesis-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
cat >"$work/attune.toml" <<EOF
[auth]
required = true

[[auth.keys]]
name = "schemathesis"
key = "$key"
scopes = ["admin"]
apps = ["*"]
EOF

ATTUNE_CONFIG="$work/attune.toml" ATTUNE_DATA_DIR="$work/data" ATTUNE_SERVER__BIND=127.0.0.1:0 \
    nice -n 19 "$bin" serve 2>"$work/serve.log" &
server_pid=$!
addr=""
for _ in $(seq 1 300); do
    addr=$(grep -o 'listening on http://[0-9.:]*' "$work/serve.log" | head -n 1 | sed 's#listening on http://##' || true)
    [ -n "$addr" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
[ -n "$addr" ] || { cat "$work/serve.log" >&2; log "the server did not start"; exit 1; }
log "attune serve on $addr; schemathesis $ST_VERSION, $examples examples per operation, seed $seed"

status=0
"$venv/bin/st" run "http://$addr/v1/openapi.json" \
    --url "http://$addr" \
    --header "Authorization: Bearer $key" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$examples" \
    --seed "$seed" \
    --workers 1 \
    --request-timeout 60 \
    --output-sanitize true \
    "$@" || status=$?

if [ "$status" -ne 0 ]; then
    log "schemathesis failed (exit $status); the server log:"
    tail -n 100 "$work/serve.log" >&2
    exit "$status"
fi
log "schemathesis passed"
