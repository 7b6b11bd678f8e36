#!/usr/bin/env bash
# ALS training speed, side by side in one run: attune vs the Python `implicit` library on the
# same synthetic matrix (power-law popularity, generated deterministically by attune-testkit),
# same factors, regularization, alpha, iterations and thread count.
#
#   scripts/bench-als-vs-implicit.sh [NNZ ...]        # default: 5000000
#   USERS=100000 ITEMS=50000 FACTORS=64 ITERATIONS=15 THREADS=2 REPEAT=1 scripts/bench-als-vs-implicit.sh 1000000 5000000 20000000
#
# With CLI=1 (the default) the serving engine's batch path is timed on the same matrix too:
# `attune bench model` trains and activates ALS on it (same generator and seed), then
# `attune recommend --all-users -n 10` writes every user's top 10 (CSV), under /usr/bin/time -v
# for wall time and peak RSS, next to implicit's `recommend` for its SCORE_USERS users. Use
# USERS=SCORE_USERS to compare the same number of users (e.g. USERS=10000 SCORE_USERS=10000).
#
# `implicit` is installed in a side virtualenv outside the repository (ATTUNE_VENV, default
# ~/.cache/attune/implicit-venv); nothing of it is committed. Prints one JSON line per run and a
# Markdown table with the attune/implicit ratios (below 1 means attune is faster / smaller).
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-100000} ITEMS=${ITEMS:-50000} FACTORS=${FACTORS:-64}
ITERATIONS=${ITERATIONS:-15} THREADS=${THREADS:-2} ALPHA=${ALPHA:-1.0} REG=${REG:-0.01}
SCORE_USERS=${SCORE_USERS:-10000} REPEAT=${REPEAT:-1}
VENV=${ATTUNE_VENV:-$HOME/.cache/attune/implicit-venv}
SIZES=("$@"); [ ${#SIZES[@]} -eq 0 ] && SIZES=(5000000)

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import implicit' 2>/dev/null; then
  echo "creating the side virtualenv $VENV with implicit" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet 'implicit==0.7.3' numpy scipy
fi

cargo build --release -q -p attune-bench --example als_scale
BIN=${CARGO_TARGET_DIR:-target}/release/examples/als_scale
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
RESULTS=$WORK/results.jsonl

for nnz in "${SIZES[@]}"; do
  for rep in $(seq "$REPEAT"); do
    echo "== nnz=$nnz run $rep/$REPEAT" >&2
    "$BIN" --users "$USERS" --items "$ITEMS" --nnz "$nnz" --factors "$FACTORS" \
      --iterations "$ITERATIONS" --threads "$THREADS" --alpha "$ALPHA" --reg "$REG" \
      --score-users "$SCORE_USERS" --dump "$WORK/m.bin" | tee -a "$RESULTS"
    # implicit runs its own THREADS-thread pool (num_threads); BLAS single-threaded inside it,
    # as implicit itself asks (it warns that a BLAS thread pool "can lead to severe performance
    # issues").
    OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_NUM_THREADS=$THREADS \
      "$VENV/bin/python" scripts/implicit_als_scale.py "$WORK/m.bin" "$USERS" "$ITEMS" \
      "$FACTORS" "$ITERATIONS" "$THREADS" "$ALPHA" "$REG" "$SCORE_USERS" | tee -a "$RESULTS"
    rm -f "$WORK/m.bin"
  done
done

CLI_RESULTS=$WORK/cli.jsonl
if [ "${CLI:-1}" = 1 ]; then
  cargo build --release -q -p attune-cli
  ATTUNE=${CARGO_TARGET_DIR:-target}/release/attune
  nnz=${SIZES[-1]}
  echo "== attune recommend --all-users, nnz=$nnz" >&2
  ( export ATTUNE_DATA_DIR=$WORK/data ATTUNE_LOG__LEVEL=warn
    "$ATTUNE" bench model --app bench --users "$USERS" --items "$ITEMS" --nnz "$nnz" \
      --algorithm "als:factors=$FACTORS,iterations=$ITERATIONS,alpha=$ALPHA,reg=$REG,confidence=proportional" >/dev/null
    /usr/bin/time -v "$ATTUNE" recommend --app bench --all-users -n 10 -o "$WORK/recs.csv" 2>"$WORK/time.txt" )
  python3 - "$WORK/time.txt" "$USERS" "$ITEMS" "$nnz" "$WORK/recs.csv" <<'PY' | tee -a "$CLI_RESULTS"
import json, re, sys
text = open(sys.argv[1]).read()
def field(name):
    return re.search(re.escape(name) + r": (.+)", text).group(1).strip()
wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")
wall_s = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
rows = sum(1 for _ in open(sys.argv[5])) - 1
print(json.dumps({
    "library": "attune recommend --all-users", "users": int(sys.argv[2]), "items": int(sys.argv[3]),
    "nnz": int(sys.argv[4]), "rows": rows, "wall_s": wall_s,
    "cpu_s": float(field("User time (seconds)")) + float(field("System time (seconds)")),
    "peak_rss_mib": int(field("Maximum resident set size (kbytes)")) / 1024.0,
    "engine_line": re.search(r"recommended for .*", text).group(0),
}))
PY
fi

python3 - "$RESULTS" "$CLI_RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print()
print("| nnz | library | train wall s | train CPU s | loss | peak RSS MiB | top-10 x %d users wall s | top-10 CPU s |" % rows[0]["top10_users"])
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['nnz']:,} | {r['library']} | {r['train_wall_s']:.2f} | {r['train_cpu_s']:.2f} | {r['loss']:.7g} | {r['peak_rss_mib']:.0f} | {r['top10_wall_s']:.3f} | {r['top10_cpu_s']:.3f} |")
print()
print("| nnz | wall ratio | CPU ratio | loss ratio | peak RSS ratio | top-10 wall ratio | top-10 CPU ratio | attune lists = exact path |")
print("|---|---|---|---|---|---|---|---|")
for a, b in zip(rows[0::2], rows[1::2]):
    print(f"| {a['nnz']:,} | {a['train_wall_s']/b['train_wall_s']:.2f} | {a['train_cpu_s']/b['train_cpu_s']:.2f} | {a['loss']/b['loss']:.5f} | {a['peak_rss_mib']/b['peak_rss_mib']:.2f} | {a['top10_wall_s']/b['top10_wall_s']:.2f} | {a['top10_cpu_s']/b['top10_cpu_s']:.2f} | {a['top10_identical_to_exact']} (exact path {a['exact_top10_wall_s']:.2f} s) |")
import os
cli = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")] if os.path.exists(sys.argv[2]) else []
if cli:
    c, peer = cli[0], [r for r in rows if r["library"].startswith("implicit") and r["nnz"] == cli[0]["nnz"]][-1]
    print()
    print("| users x items | what | wall s | CPU s | peak RSS MiB |")
    print("|---|---|---|---|---|")
    print(f"| {c['users']:,} x {c['items']:,} | attune recommend --all-users -n 10 (whole process: load, live-state look-ups, pipeline, CSV of {c['rows']:,} rows) | {c['wall_s']:.2f} | {c['cpu_s']:.2f} | {c['peak_rss_mib']:.0f} |")
    print(f"| {peer['top10_users']:,} users of {peer['users']:,} x {peer['items']:,} | {peer['library']} recommend(N=10) (the call only; peak RSS of the process, training included) | {peer['top10_wall_s']:.2f} | {peer['top10_cpu_s']:.2f} | {peer['peak_rss_mib']:.0f} |")
    print(f"\n{c['engine_line']}")
PY
