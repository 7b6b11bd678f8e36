#!/usr/bin/env bash
# Item-kNN fit speed, side by side in one run: attune's item-kNN (cosine, K neighbours per item)
# vs the Python `implicit` library's CosineRecommender on the same synthetic matrix
# (power-law popularity, generated deterministically by attune-testkit), same K and threads.
#
#   scripts/bench-itemknn-vs-implicit.sh [NNZ ...]        # default: 5000000
#   USERS=100000 ITEMS=50000 NEIGHBOURS=20 THREADS=2 REPEAT=1 scripts/bench-itemknn-vs-implicit.sh 1000000 5000000
#
# `implicit` lives in the side virtualenv scripts/bench-als-vs-implicit.sh creates (ATTUNE_VENV,
# default ~/.cache/attune/implicit-venv); nothing of it is committed. Prints one JSON line per
# run and a Markdown table with the attune/implicit ratios (below 1: attune faster / smaller).
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-100000} ITEMS=${ITEMS:-50000} NEIGHBOURS=${NEIGHBOURS:-20}
THREADS=${THREADS:-2} REPEAT=${REPEAT:-1}
VENV=${ATTUNE_VENV:-$HOME/.cache/attune/implicit-venv}
SIZES=("$@"); [ ${#SIZES[@]} -eq 0 ] && SIZES=(5000000)

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import implicit' 2>/dev/null; then
  echo "creating the side virtualenv $VENV with implicit" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet 'implicit==0.7.3' numpy scipy
fi

cargo build --release -q -p attune-bench --example knn_scale
BIN=${CARGO_TARGET_DIR:-target}/release/examples/knn_scale
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
RESULTS=$WORK/results.jsonl

for nnz in "${SIZES[@]}"; do
  for rep in $(seq "$REPEAT"); do
    echo "== nnz=$nnz run $rep/$REPEAT" >&2
    "$BIN" --users "$USERS" --items "$ITEMS" --nnz "$nnz" --neighbours "$NEIGHBOURS" \
      --threads "$THREADS" --dump "$WORK/m.bin" | tee -a "$RESULTS"
    OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_NUM_THREADS=$THREADS \
      "$VENV/bin/python" scripts/implicit_knn_scale.py "$WORK/m.bin" "$USERS" "$ITEMS" \
      "$NEIGHBOURS" "$THREADS" | tee -a "$RESULTS"
    rm -f "$WORK/m.bin"
  done
done

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print()
print("| nnz | library | fit wall s | fit CPU s | peak RSS MiB | neighbour entries |")
print("|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['nnz']:,} | {r['library']} | {r['fit_wall_s']:.2f} | {r['fit_cpu_s']:.2f} | {r['peak_rss_mib']:.0f} | {r['neighbour_entries']:,} |")
print()
print("| nnz | wall ratio attune/implicit | CPU ratio | peak RSS ratio |")
print("|---|---|---|---|")
for a, b in zip(rows[0::2], rows[1::2]):
    print(f"| {a['nnz']:,} | {a['fit_wall_s']/b['fit_wall_s']:.2f} | {a['fit_cpu_s']/b['fit_cpu_s']:.2f} | {a['peak_rss_mib']/b['peak_rss_mib']:.2f} |")
PY
