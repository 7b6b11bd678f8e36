#!/usr/bin/env bash
# HNSW build and query, side by side in one run: attune's `model::ann` index (Möbius transform,
# batch-parallel seeded build) against hnswlib (`space='ip'`) on the SAME item factors, queries
# and exact top-10 (dumped once by attune's `ann_recall --dump`), same m and threads.
#
#   scripts/bench-ann-vs-hnswlib.sh                               # 1,000,000 x 64 synthetic
#   ITEMS=200000 scripts/bench-ann-vs-hnswlib.sh                  # quicker
#   SOURCE=als USERS=100000 ITEMS=200000 NNZ=10000000 scripts/bench-ann-vs-hnswlib.sh
#   UNIT=1 DATA=/tmp/unit1m scripts/bench-ann-vs-hnswlib.sh     # items scaled to length 1 (cosine)
#   EFC="64 100" PEER_EFC="100 200" EF=10,20,40,80,160 THREADS=2 scripts/bench-ann-vs-hnswlib.sh
#
# EFC / PEER_EFC: the ef_construction values built for attune / hnswlib (one build each), so
# recall can be compared at equal recall rather than at equal parameters; ATTUNE_M (default M)
# is attune's m, for the same reason: the cheapest attune graph that reaches the recall of
# hnswlib's best is the build to compare at equal recall. PEER_MODES: `ip`
# (hnswlib's inner-product space on the factors) and/or `reduce` (the exact reduction to
# Euclidean search, one extra coordinate; see scripts/hnswlib_ann.py); PEER_MODES="" builds no
# peer (another attune build added to an earlier run's RESULTS). DATA=DIR keeps the dumped
# data for a later run (reused when present); RESULTS=FILE appends the JSON lines there;
# ANN_RECALL_BIN=PATH runs that harness binary instead of building one. hnswlib lives in a
# side virtualenv outside the repository (ATTUNE_VENV, default ~/.cache/attune/hnswlib-venv);
# nothing of it is committed. Both sides build with THREADS threads (rayon / hnswlib's own);
# queries run on one thread. Build wall and CPU time are measured around the build call, peak
# RSS is the process's (`VmHWM` / `ru_maxrss`): factors + index + the harness. Prints one
# JSON line per build and Markdown tables (recall and latency per ef, build and memory ratios).
set -euo pipefail
cd "$(dirname "$0")/.."

SOURCE=${SOURCE:-synthetic} ITEMS=${ITEMS:-1000000} USERS=${USERS:-200000}
NNZ=${NNZ:-20000000} FACTORS=${FACTORS:-64} M=${M:-16} THREADS=${THREADS:-2}
ATTUNE_M=${ATTUNE_M:-$M}
EFC=${EFC:-100} PEER_EFC=${PEER_EFC:-"100 200"} EF=${EF:-10,20,40,80,100,160,320}
PEER_EF=${PEER_EF:-10,20,40,80,100,160,320,640,1280} PEER_MODES=${PEER_MODES-"ip reduce"}
QUERIES=${QUERIES:-1000}
VENV=${ATTUNE_VENV:-$HOME/.cache/attune/hnswlib-venv}

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import hnswlib, numpy' 2>/dev/null; then
  echo "creating the side virtualenv $VENV with hnswlib" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet 'hnswlib==0.8.0' numpy
fi

if [ -z "${ANN_RECALL_BIN:-}" ]; then
  cargo build --release -q -p attune-bench --example ann_recall
fi
BIN=${ANN_RECALL_BIN:-${CARGO_TARGET_DIR:-target}/release/examples/ann_recall}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
RESULTS=${RESULTS:-$WORK/results.jsonl}
# DATA: keep (or reuse) the dumped factors and exact top-k there instead of a temporary folder.
DATA=${DATA:-$WORK/data}

if [ ! -f "$DATA/truth.u32" ]; then
  echo "== factors: $SOURCE, $ITEMS items x $FACTORS, $QUERIES queries" >&2
  "$BIN" --source "$SOURCE" --items "$ITEMS" --users "$USERS" --nnz "$NNZ" --factors "$FACTORS" \
    --queries "$QUERIES" ${UNIT:+--unit} --dump "$DATA"
fi

for efc in $EFC; do
  echo "== attune, m=$ATTUNE_M ef_construction=$efc" >&2
  RAYON_NUM_THREADS=$THREADS "$BIN" --load "$DATA" --factors "$FACTORS" --m "$ATTUNE_M" \
    --ef-construction "$efc" --ef "$EF" --json | tee -a "$RESULTS"
done
for mode in $PEER_MODES; do
  for efc in $PEER_EFC; do
    echo "== hnswlib ($mode), M=$M ef_construction=$efc" >&2
    OMP_NUM_THREADS=$THREADS "$VENV/bin/python" scripts/hnswlib_ann.py "$DATA" "$M" "$efc" \
      "$THREADS" "$PEER_EF" "$mode" | tee -a "$RESULTS"
  done
done

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
name = lambda r: " ".join(r["library"].split()[::2]) + f" m={r['m']} efc={r['ef_construction']}"
print()
print("| build | wall s | CPU s | peak RSS MiB | RSS before build MiB |")
print("|---|---|---|---|---|")
for r in rows:
    print(f"| {name(r)} | {r['build_wall_s']:.1f} | {r['build_cpu_s']:.1f} | {r['peak_rss_mib']:.0f} | {r['rss_before_build_mib']:.0f} |")
print()
print("| build | ef | recall@10 | worst | queries at 0 | recall@10 by score | worst by score | ms mean | ms p99 | ms batch |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    for e in r["per_ef"]:
        b = f"{e['ms_batch']:.4f}" if "ms_batch" in e else "—"
        print(f"| {name(r)} | {e['ef']} | {e['recall']:.4f} | {e['worst']:.2f} | {e['zero_recall_queries']} | {e['recall_by_score']:.4f} | {e['worst_by_score']:.2f} | {e['ms_mean']:.4f} | {e['ms_p99']:.4f} | {b} |")
att = [r for r in rows if r["library"] == "attune"]
peer = [r for r in rows if r["library"] != "attune"]
if att and peer:
    print()
    print("| attune / hnswlib | build wall | build CPU | peak RSS |")
    print("|---|---|---|---|")
    for a in att:
        for p in peer:
            print(f"| {name(a)} / {name(p)} | {a['build_wall_s']/p['build_wall_s']:.2f} | {a['build_cpu_s']/p['build_cpu_s']:.2f} | {a['peak_rss_mib']/p['peak_rss_mib']:.2f} |")
    # Smallest latency reaching recall 0.95 / 0.99, per build (hnswlib: its batch latency).
    print()
    print("| build | first ef with recall ≥ 0.95 | its latency ms | first ef with recall ≥ 0.99 | its latency ms |")
    print("|---|---|---|---|---|")
    for r in rows:
        cells = []
        for target in (0.95, 0.99):
            hit = next((e for e in r["per_ef"] if e["recall"] >= target), None)
            cells += [str(hit["ef"]), f"{hit.get('ms_batch', hit['ms_mean']):.4f}"] if hit else ["—", "—"]
        print(f"| {name(r)} | " + " | ".join(cells) + " |")
PY
