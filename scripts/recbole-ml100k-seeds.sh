#!/usr/bin/env bash
# MovieLens-100K under RecBole's protocol (`attune evaluate --protocol recbole`: ratings >= 3,
# per-user random 8:1:1, full-sort top-10), over several split seeds: one seed's split moves
# NDCG@10 by up to ±0.008, more than any single refinement, so the mean over seeds is the
# number to compare (docs/evaluation.md, "Rated history").
#
#   scripts/recbole-ml100k-seeds.sh                       # seeds 42 1 2 3 4 5, chosen by NDCG@10
#   SEEDS="42 7" SELECT_BY=mrr@10 scripts/recbole-ml100k-seeds.sh
#   GRID='ease:lambda=250|500' HISTORY=0 scripts/recbole-ml100k-seeds.sh
#
# Each column is the test NDCG@10 of the candidate (and history rating exponent) chosen on
# validation alone; the grid is the one docs/evaluation.md measures. About a minute per seed
# on 2 cores (release build).
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS=${SEEDS:-42 1 2 3 4 5}
SELECT_BY=${SELECT_BY:-ndcg@10}
HISTORY=${HISTORY:-0,1}
GRID=${GRID:-'ease:lambda=100|250|500,popularity_exponent=0|0.125|0.25,activity_exponent=0|0.25|0.5,two_hop=0|0.1|0.2,rating_exponent=0|1|2'}

scripts/fetch-movielens.sh >&2
cargo build --release -q -p attune-cli
ATTUNE=$PWD/target/release/attune
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
export ATTUNE_DATA_DIR=$WORK/data

"$ATTUNE" apps create ml100k >&2
"$ATTUNE" import movielens testdata/ml-100k --app ml100k >&2
for s in $SEEDS; do
  echo "seed $s" >&2
  "$ATTUNE" evaluate --app ml100k --protocol recbole --select-by "$SELECT_BY" --seed "$s" \
    --history-rating-exponent "$HISTORY" -a "$GRID" --json "$WORK/seed-$s.json" >/dev/null
done

python3 - "$WORK" "$SELECT_BY" $SEEDS <<'PY'
import json, statistics, sys
work, select_by, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
print(f"| split seed | test NDCG@10 | validation {select_by} | chosen |")
print("|---|---|---|---|")
scores = []
for s in seeds:
    col = json.load(open(f"{work}/seed-{s}.json"))["results"][0]
    ndcg = col["mean"]["ndcg@10"]
    scores.append(ndcg)
    print(f"| {s} | {ndcg:.4f} | {col['mean']['validation_' + select_by]:.4f} | `{col['specs'][0]}` |")
sd = statistics.stdev(scores) if len(scores) > 1 else 0.0
print(f"| mean | **{statistics.mean(scores):.4f}** (sd {sd:.4f}, "
      f"{sum(x >= 0.30 for x in scores)} of {len(scores)} seeds >= 0.30) | | |")
PY
