#!/usr/bin/env bash
# EASE fit speed, side by side in one run: attune (faer Cholesky inverse) against the EASE
# paper's numpy code (`np.linalg.inv`, OpenBLAS) on the same synthetic matrix (power-law
# popularity, generated deterministically by attune-testkit; the default shape is MovieLens-1M's
# after its rating filter: 6,040 users, 3,600 items, 1,000,000 interactions).
#
#   scripts/bench-ease-vs-numpy.sh
#   USERS=6040 ITEMS=3600 NNZ=1000000 LAMBDA=500 THREADS=2 REPEAT=3 scripts/bench-ease-vs-numpy.sh
#
# numpy and scipy live in a side virtualenv outside the repository (ATTUNE_VENV, default
# ~/.cache/attune/numpy-venv); nothing of it is committed. Both sides use THREADS threads
# (rayon for attune, OpenBLAS for numpy). Prints one JSON line per run, the largest difference
# between the two weight matrices, and a Markdown table of the ratios (below 1: attune faster).
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-6040} ITEMS=${ITEMS:-3600} NNZ=${NNZ:-1000000} LAMBDA=${LAMBDA:-500}
THREADS=${THREADS:-2} REPEAT=${REPEAT:-3}
VENV=${ATTUNE_VENV:-$HOME/.cache/attune/numpy-venv}

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import numpy, scipy' 2>/dev/null; then
  echo "creating the side virtualenv $VENV with numpy and scipy" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet numpy scipy
fi

cargo build --release -q -p attune-bench --example ease_scale
BIN=target/release/examples/ease_scale
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
RESULTS=$WORK/results.jsonl

for rep in $(seq "$REPEAT"); do
  echo "== run $rep/$REPEAT" >&2
  dump_b=()
  [ "$rep" = 1 ] && dump_b=(--dump-b "$WORK/b.bin")
  "$BIN" --users "$USERS" --items "$ITEMS" --nnz "$NNZ" --lambda "$LAMBDA" --threads "$THREADS" \
    --dump "$WORK/m.bin" "${dump_b[@]}" | tee -a "$RESULTS"
  cmp_b=()
  [ "$rep" = 1 ] && cmp_b=("$WORK/b.bin")
  OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS \
    "$VENV/bin/python" scripts/numpy_ease.py "$WORK/m.bin" "$USERS" "$ITEMS" "$LAMBDA" "${cmp_b[@]}" \
    | tee -a "$RESULTS"
done

python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
a = [r for r in rows if r["library"] == "attune"]
n = [r for r in rows if r["library"] == "numpy"]
med = lambda rs, k: statistics.median(r[k] for r in rs)
print()
print("| | attune | numpy | ratio |")
print("|---|---|---|---|")
for k, label in [("fit_wall_s", "fit wall (s, median)"), ("fit_cpu_s", "fit CPU (s, median)"),
                 ("peak_rss_mib", "peak RSS (MiB)")]:
    print(f"| {label} | {med(a, k):.2f} | {med(n, k):.2f} | {med(a, k) / med(n, k):.2f} |")
diff = [r["max_abs_diff_b"] for r in n if "max_abs_diff_b" in r]
if diff:
    print(f"\nlargest |B_attune - B_numpy|: {diff[0]:.2e} (largest |B|: {n[0]['max_abs_b']:.3f})")
PY
