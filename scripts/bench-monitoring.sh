#!/usr/bin/env bash
# What monitoring costs serving: the uncached, paced recommendation run of
# scripts/bench-serving.sh (same model, same wrk script, same rate), against three servers
# started fresh in turn, ROUNDS times, so a noisy neighbour hits every arm alike:
#   off        impressions not logged, no monitoring ticks (the serving benchmark's setting)
#   logged     impressions logged (what outcomes, experiments and monitoring read), no ticks
#   monitored  impressions logged and a monitoring tick (quality, guarded rollouts, drift,
#              alerts, retention) every MONITOR_SECS seconds during the run
# A run lasts DURATION seconds, long enough to include ticks (the scheduler's first tick comes
# one interval after start). Every run starts from a fresh copy of the data directory: logged
# impressions are events of the users asked for, so runs on an accumulating store would each
# read more events per user than the one before. At 1,000 lists/s of 10 items a run logs
# 10,000 impressions/s, so a tick from 20 s on reads a window at monitor.quality.max_events.
# The arms' order rotates from round to round.
#
#   scripts/bench-monitoring.sh          # ROUNDS=2 DURATION=75 MONITOR_SECS=30 RATE=1000
# Prints one line per run and the median p99 of each arm with its ratio to `off`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2} DURATION=${DURATION:-75} MONITOR_SECS=${MONITOR_SECS:-30} RATE=${RATE:-1000}
CONNECTIONS=${CONNECTIONS:-32} THREADS=${THREADS:-2}
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
cargo build --release -q -p attune-cli
ATTUNE=$PWD/target/release/attune
DATA=${DATA:-$(mktemp -d)}
export ATTUNE_DATA_DIR=$DATA ATTUNE_LOG__LEVEL=warn
if [ ! -f "$DATA/models/bench/v0001.attune" ]; then
  "$ATTUNE" bench model --app bench
  "$ATTUNE" bench model --app bench --algorithm "als:factors=64,iterations=15,alpha=1,reg=0.02,confidence=proportional" >/dev/null
  "$ATTUNE" models activate v0001 --app bench >/dev/null
fi
PORT=${PORT:-18124}
# The measured users: DURATION * RATE of the first 90,000 (each asked once per run; every run
# starts a new server, so its cache is cold). 90,000..99,999 warm the process.
N_IDS=$((DURATION * RATE * 11 / 10)); [ "$N_IDS" -le 90000 ] || { echo "DURATION * RATE must stay below ~81,000 users" >&2; exit 1; }
OUT=$(mktemp)
RUN=$DATA.run
trap 'rm -rf "$RUN"' EXIT
arm() { # name log_impressions monitor_secs
  rm -rf "$RUN"; cp -r "$DATA" "$RUN"
  ATTUNE_DATA_DIR=$RUN ATTUNE_SERVING__LOG_IMPRESSIONS=$2 ATTUNE_MONITOR__INTERVAL_SECS=$3 "$ATTUNE" serve --bind 127.0.0.1:$PORT & local server=$!
  for _ in $(seq 1 150); do curl -sf http://127.0.0.1:$PORT/ready >/dev/null && break; sleep 0.2; done
  curl -sf -H 'x-attune-app: bench' "http://127.0.0.1:$PORT/v1/users/u000001/recommendations?n=10" | grep -q '"source":"personalized"' \
    || { echo "u000001 is not served a personalized list" >&2; kill $server; exit 1; }
  SEQ=1 FIRST=90000 N_IDS=10000 RATE=0 CONNECTIONS=$CONNECTIONS THREADS=$THREADS wrk -t$THREADS -c$CONNECTIONS -d5s -s scripts/wrk/recs.lua http://127.0.0.1:$PORT >/dev/null
  RATE=$RATE SEQ=1 FIRST=0 N_IDS=$N_IDS CONNECTIONS=$CONNECTIONS THREADS=$THREADS \
    wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency -s scripts/wrk/recs.lua http://127.0.0.1:$PORT \
    | grep RESULT | sed "s/^RESULT/$1/" | tee -a "$OUT"
  kill $server; wait $server 2>/dev/null || true
}
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round" >&2
  for k in 0 1 2; do
    case $(( (k + round - 1) % 3 )) in
      0) arm off false 0 ;;
      1) arm logged true 0 ;;
      2) arm monitored true "$MONITOR_SECS" ;;
    esac
  done
done
# Median p99 per arm, and its ratio to `off`.
awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^p99_ms=/) { split($i, kv, "="); p[$1] = p[$1] " " kv[2] } }
  END {
    for (a in p) { n = split(substr(p[a], 2), v, " "); asort(v); m[a] = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
    for (a in m) printf "median %s p99_ms=%.3f ratio_to_off=%.3f\n", a, m[a], m[a] / m["off"]
  }' "$OUT" | sort
rm -f "$OUT"
