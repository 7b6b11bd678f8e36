#!/usr/bin/env bash
# MovieLens-100K, implicit top-10: attune's ALS against the Python `implicit` library's ALS with
# the same factors, regularization, alpha, iterations and confidence convention (c = alpha·w),
# on the same documented split, measured by the same metric code (`attune evaluate --lists`).
#
#   scripts/compare-implicit-ml100k.sh                    # defaults below
#   FACTORS=64 REG=0.05 ALPHA=10 ITERATIONS=15 SEED=42 scripts/compare-implicit-ml100k.sh
#
# The split: every rating is an interaction of weight 1; per user, round(20%) of their items
# (seeded shuffle, SEED) are held out, at least one item always stays in training
# (`attune evaluate --split random --test-fraction 0.2`); cleaning off. Ranking is over all
# items the user has not rated in training. `implicit` lives in a side virtualenv outside the
# repository (ATTUNE_VENV, default ~/.cache/attune/implicit-venv); nothing of it is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

FACTORS=${FACTORS:-64} REG=${REG:-0.05} ALPHA=${ALPHA:-10} ITERATIONS=${ITERATIONS:-15}
THREADS=${THREADS:-2} SEED=${SEED:-42} K=10
VENV=${ATTUNE_VENV:-$HOME/.cache/attune/implicit-venv}

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import implicit' 2>/dev/null; then
  echo "creating the side virtualenv $VENV with implicit" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet 'implicit==0.7.3' numpy scipy
fi

scripts/fetch-movielens.sh >&2
cargo build --release -q -p attune-cli
ATTUNE=target/release/attune
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
export ATTUNE_DATA_DIR=$WORK/data RAYON_NUM_THREADS=$THREADS

"$ATTUNE" apps create ml100k >&2
"$ATTUNE" import movielens testdata/ml-100k --app ml100k >&2
# Save the split (attune's random per-user holdout); popularity is only there to run it.
"$ATTUNE" evaluate --app ml100k --no-clean --split random --test-fraction 0.2 --seed "$SEED" \
  -a popularity --save-split "$WORK/split" >/dev/null

# Three initializations of each library (attune `seed`, implicit `random_state`), so the
# comparison is not one lucky draw; the summary averages them.
LISTS=() ALS=()
for s in ${MODEL_SEEDS:-1 2 3}; do
  OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_NUM_THREADS=$THREADS \
    "$VENV/bin/python" scripts/implicit_ml100k.py "$WORK/split" "$WORK/implicit-$s.csv" \
    "$FACTORS" "$REG" "$ALPHA" "$ITERATIONS" "$THREADS" "$K" "$s"
  LISTS+=(--lists "implicit-$s=$WORK/implicit-$s.csv")
  ALS+=(-a "als:factors=$FACTORS,reg=$REG,alpha=$ALPHA,iterations=$ITERATIONS,confidence=proportional,cg_steps=3,seed=$s")
done

"$ATTUNE" evaluate --train "$WORK/split/train.csv" --test "$WORK/split/test.csv" -k "$K" \
  "${ALS[@]}" -a ease:lambda=250 -a item-knn:neighbours=200 -a popularity \
  "${LISTS[@]}" --json "$WORK/report.json"
[ -n "${JSON:-}" ] && cp "$WORK/report.json" "$JSON"

python3 - "$WORK/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
metrics = ["precision@10", "recall@10", "ndcg@10", "map@10", "hit_rate@10", "mrr@10", "coverage@10"]
def mean(cols, m):
    return sum(c["mean"][m] for c in cols) / len(cols)
groups = {
    "attune ALS": [c for c in r if c["label"].startswith("als:")],
    "implicit ALS": [c for c in r if c["label"].startswith("implicit-")],
    "attune EASE": [c for c in r if c["label"].startswith("ease")],
}
print()
print("| metric | " + " | ".join(f"{g} (mean of {len(c)})" for g, c in groups.items()) + " | attune ALS / implicit |")
print("|---|" + "---|" * (len(groups) + 1))
for m in metrics:
    v = [mean(c, m) for c in groups.values()]
    print(f"| {m} | " + " | ".join(f"{x:.4f}" for x in v) + f" | {v[0] / v[1]:.3f} |")
PY
