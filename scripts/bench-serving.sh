#!/usr/bin/env bash
# Serving load benchmark: the release binary serves an ALS model (64 factors) trained on the
# seeded synthetic set (100,000 users x 50,000 items x 5,000,000 interactions); wrk, a real
# HTTP load generator in a second process, measures recommendations with the cache cold
# (each user asked once, paced at RATE) and warm (a hot set of users, as fast as possible), similar
# items, and then activation and rollback during a load run (zero failed requests expected).
#
#   scripts/bench-serving.sh                 # RATE=1000 DURATION=15 CONNECTIONS=32
#   LOG_IMPRESSIONS=true MONITOR_SECS=5 scripts/bench-serving.sh   # with impressions and monitoring ticks
# DURATION at most 15 at these rates: longer uncached runs would use up their user ranges.
# Needs wrk (apt-get install wrk). Server and load generator share the machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-1000} DURATION=${DURATION:-15} CONNECTIONS=${CONNECTIONS:-32} THREADS=${THREADS:-2}
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
cargo build --release -q -p attune-cli
ATTUNE=$PWD/target/release/attune
DATA=${DATA:-$(mktemp -d)}
export ATTUNE_DATA_DIR=$DATA ATTUNE_LOG__LEVEL=warn ATTUNE_SERVING__LOG_IMPRESSIONS=${LOG_IMPRESSIONS:-false} ATTUNE_MONITOR__INTERVAL_SECS=${MONITOR_SECS:-0}
if [ ! -f "$DATA/models/bench/v0001.attune" ]; then
  "$ATTUNE" bench model --app bench
  "$ATTUNE" bench model --app bench --algorithm "als:factors=64,iterations=15,alpha=1,reg=0.02,confidence=proportional" >/dev/null
  "$ATTUNE" models activate v0001 --app bench >/dev/null
fi
PORT=${PORT:-18123}
"$ATTUNE" serve --bind 127.0.0.1:$PORT & SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:$PORT/ready >/dev/null && break; sleep 0.2; done
# The load must hit training users (personalized lists), not unknown ids (cold start).
curl -sf -H 'x-attune-app: bench' "http://127.0.0.1:$PORT/v1/users/u000001/recommendations?n=10" | grep -q '"source":"personalized"' \
  || { echo "u000001 is not served a personalized list: the ids do not match the bench model" >&2; exit 1; }
run() { # name, env...
  local name=$1; shift
  echo "== $name" >&2
  env "$@" CONNECTIONS=$CONNECTIONS THREADS=$THREADS wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency -s scripts/wrk/recs.lua http://127.0.0.1:$PORT | grep RESULT | sed "s/^RESULT/$name/"
}
# Users of the 100,000: the uncached runs walk disjoint ranges in order (each user asked once),
# the warm-up and the hot set have their own.
# Warm the process, not the measured users: blocking-pool threads, store connections, the
# artifact's pages.
SEQ=1 FIRST=95000 N_IDS=5000 RATE=0 CONNECTIONS=$CONNECTIONS THREADS=$THREADS wrk -t$THREADS -c$CONNECTIONS -d5s -s scripts/wrk/recs.lua http://127.0.0.1:$PORT >/dev/null
run uncached_paced RATE=$RATE SEQ=1 FIRST=0 N_IDS=25000
run uncached_max RATE=0 SEQ=1 FIRST=25000 N_IDS=65000
HOT=1000 FIRST=90000 RATE=0 CONNECTIONS=$CONNECTIONS THREADS=$THREADS wrk -t$THREADS -c$CONNECTIONS -d5s -s scripts/wrk/recs.lua http://127.0.0.1:$PORT >/dev/null # warm the hot set
run warm_max HOT=1000 FIRST=90000 RATE=0
run similar_max PATH_KIND=items N_IDS=50000 WIDTH=5 RATE=0 SEED=3
# Activation and rollback during a paced run: every request must succeed.
( sleep 3; for i in 1 2 3; do
    curl -sf -X POST -H 'x-attune-app: bench' http://127.0.0.1:$PORT/v1/models/v0002/activate >/dev/null
    sleep 2
    curl -sf -X POST -H 'x-attune-app: bench' http://127.0.0.1:$PORT/v1/models/rollback >/dev/null
    sleep 2
  done; echo "swaps done" >&2 ) & SWAPS=$!
run swap_under_load RATE=$RATE SEED=4
wait $SWAPS
