#!/usr/bin/env bash
# Serving cost of the sequence-aware models against ALS (issue 16: "the serving benchmark's
# uncached p99 stays within 10% when a sequence-aware model serves"). One `attune serve`
# holds four apps trained on the same seeded matrix as scripts/bench-serving.sh (100,000 users
# x 50,000 items x 5,000,000 interactions): `bench` (ALS, the serving benchmark's model),
# `seq` (seq-knn), `blend` (als-transition) and `trans` (the item-to-item transition model).
# wrk then runs the uncached paced run (every request a user seen for the first time, Poisson
# arrivals at RATE) against each app in turn, ROUNDS times with fresh user ranges, so the
# machine's load drifts over all of them alike. APPS picks a subset (e.g. APPS="bench seq").
#
#   scripts/bench-serving-sequence.sh           # RATE=1000 DURATION=10 ROUNDS=2
# Needs wrk. Server and load generator share the machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-1000} DURATION=${DURATION:-10} ROUNDS=${ROUNDS:-2} CONNECTIONS=${CONNECTIONS:-32} THREADS=${THREADS:-2}
SEQ_SPEC=${SEQ_SPEC:-seq-knn:neighbours=100,position_decay=10}
BLEND_SPEC=${BLEND_SPEC:-als-transition:factors=64,iterations=15,alpha=1,reg=0.01,confidence=proportional,window=10,mix=0.3}
TRANS_SPEC=${TRANS_SPEC:-transition:window=10}
APPS=${APPS:-bench seq blend trans}
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p attune-cli
ATTUNE=${CARGO_TARGET_DIR:-$PWD/target}/release/attune
DATA=${DATA:-$(mktemp -d)}
export ATTUNE_DATA_DIR=$DATA ATTUNE_LOG__LEVEL=warn ATTUNE_SERVING__LOG_IMPRESSIONS=false ATTUNE_MONITOR__INTERVAL_SECS=0
[ -f "$DATA/models/bench/v0001.attune" ] || "$ATTUNE" bench model --app bench
[ -f "$DATA/models/seq/v0001.attune" ] || "$ATTUNE" bench model --app seq --algorithm "$SEQ_SPEC"
[ -f "$DATA/models/blend/v0001.attune" ] || "$ATTUNE" bench model --app blend --algorithm "$BLEND_SPEC"
[ -f "$DATA/models/trans/v0001.attune" ] || "$ATTUNE" bench model --app trans --algorithm "$TRANS_SPEC"
PORT=${PORT:-18125}
"$ATTUNE" serve --bind 127.0.0.1:$PORT & SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do curl -sf http://127.0.0.1:$PORT/ready >/dev/null && break; sleep 0.2; done
for app in $APPS; do
  curl -sf -H "x-attune-app: $app" "http://127.0.0.1:$PORT/v1/users/u000001/recommendations?n=10" | grep -q '"source":"personalized"' \
    || { echo "app $app does not serve u000001 a personalized list" >&2; exit 1; }
  # Warm the process and this app's artifact on users no measured run asks for.
  APP=$app SEQ=1 FIRST=95000 N_IDS=5000 RATE=0 CONNECTIONS=$CONNECTIONS THREADS=$THREADS \
    wrk -t$THREADS -c$CONNECTIONS -d3s -s scripts/wrk/recs.lua http://127.0.0.1:$PORT >/dev/null
done
# The server's own CPU time (user + system, clock ticks) from /proc: CPU per request does not
# depend on what else the shared machine runs, where latency does.
server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
ticks_per_s=$(getconf CLK_TCK)
for round in $(seq 1 "$ROUNDS"); do
  first=$(( (round - 1) * 20000 ))
  for app in $APPS; do
    before=$(server_ticks)
    result=$(APP=$app RATE=$RATE SEQ=1 FIRST=$first N_IDS=20000 CONNECTIONS=$CONNECTIONS THREADS=$THREADS \
      wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency -s scripts/wrk/recs.lua http://127.0.0.1:$PORT \
      | grep RESULT | sed "s/^RESULT/round$round $app/")
    after=$(server_ticks)
    requests=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$result")
    cpu=$(awk -v t=$((after - before)) -v n="$requests" -v hz="$ticks_per_s" 'BEGIN { printf "%.3f", (n > 0) ? t * 1000 / hz / n : 0 }')
    echo "$result server_cpu_ms_per_request=$cpu"
  done
done
