#!/usr/bin/env bash
# MovieLens-100K fairness audit: items grouped by popularity bucket (3 buckets of equal
# training interaction mass: head, mid, tail), users by gender; EASE (λ_reg = 250) ranked as
# is and re-ranked toward equal exposure shares at λ ∈ {0.3, 0.5, 0.7}; then EASE trained on
# interactions re-weighted toward the under-exposed buckets (β ∈ REWEIGHT_BETAS), as ranked.
# The numbers in docs/fairness.md come from this script.
#
#   scripts/fairness-ml100k.sh                 # table
#   JSON=out.json scripts/fairness-ml100k.sh   # also keep the JSON report
#   ATTUNE=path/to/attune scripts/fairness-ml100k.sh   # a binary already built
#
# The split is `attune evaluate`'s default: per user, a random 20% of their items held out
# (seed 42), cleaning off, ranking over every item the user has not rated in training.
set -euo pipefail
cd "$(dirname "$0")/.."

LAMBDAS=${LAMBDAS:-0.3,0.5,0.7} ALGORITHM=${ALGORITHM:-ease:lambda=250}
CANDIDATES=${CANDIDATES:-500} TARGETS=${TARGETS:-equal}
DATA=${ML100K:-testdata/ml-100k}

scripts/fetch-movielens.sh "$DATA" >&2
if [ -z "${ATTUNE:-}" ]; then
  cargo build --release -q -p attune-cli
  ATTUNE=${CARGO_TARGET_DIR:-target}/release/attune
fi
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
export ATTUNE_DATA_DIR=$WORK/data

"$ATTUNE" apps create ml100k >&2
"$ATTUNE" import movielens "$DATA" --app ml100k >&2
ARGS=(fairness audit --app ml100k --no-clean -a "$ALGORITHM" --item-groups popularity:3
  --user-groups attr:gender --targets "$TARGETS" --candidates "$CANDIDATES"
  --rerank-lambda "$LAMBDAS")
"$ATTUNE" "${ARGS[@]}"
if [ -n "${JSON:-}" ]; then
  "$ATTUNE" "${ARGS[@]}" --json > "$JSON"
fi
echo
echo "re-weighting at training (λ = 0):"
for beta in ${REWEIGHT_BETAS:-0.1 0.15 0.2 0.25 0.5}; do
  printf 'β = %-5s' "$beta"
  "$ATTUNE" fairness audit --app ml100k --no-clean -a "$ALGORITHM" --item-groups popularity:3 \
    --targets "$TARGETS" --candidates "$CANDIDATES" --reweight-beta "$beta" | grep -E '^ +0 '
done
