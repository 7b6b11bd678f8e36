#!/usr/bin/env bash
# Cold start by segment on MovieLens-100K (docs/segments.md, "Cold start by segment, measured").
#
# Holds out 20% of the users whole (seeded), trains `popularity` on the others with the real
# `attune` binary, and asks it for each held-out user's list of 10 with no history at all:
# once with the popular-only chain (no [serving.segments]) and once per segment attribute
# (occupation, age band, gender, and the rule segment `attune segment --save-as rule` wrote),
# where the list comes from the user's segment's popularity. Every held-out user keeps a
# profile (u.user's attributes), as a new user who filled in a sign-up form. NDCG@10 and
# recall@10 are computed on all of the user's real ratings, with attune_core::eval's
# formulas (binary relevance, log2 discount; recall over all relevant items).
#
# Usage: scripts/cold-start-by-segment.sh [ATTUNE_BINARY]   (default: target/release/attune)
# Seed and share: SEED=7 HOLDOUT=0.2. Needs python3; fetches the data if missing.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
attune="${1:-${CARGO_TARGET_DIR:-$repo_root/target}/release/attune}"
seed="${SEED:-7}"
holdout="${HOLDOUT:-0.2}"
data="$repo_root/testdata/ml-100k"
[[ -x "$attune" ]] || { echo "error: no attune binary at $attune (cargo build --release -p attune-cli)" >&2; exit 2; }
bash "$repo_root/scripts/fetch-movielens.sh" "$data" >/dev/null

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/train" "$work/db"

# The split: held-out users' ratings out of the training files; every profile kept, with an
# age band (MovieLens-1M's bands) beside the raw age.
python3 - "$data" "$work" "$seed" "$holdout" <<'PY'
import json, pathlib, random, sys
data, work, seed, share = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
inter = (data / "ml-100k.inter").read_text().splitlines()
header, rows = inter[0], [r.split("\t") for r in inter[1:] if r]
users = sorted({r[0] for r in rows}, key=int)
held = set(random.Random(seed).sample(users, round(share * len(users))))
(work / "train/ml-100k.inter").write_text("\n".join([header] + ["\t".join(r) for r in rows if r[0] not in held]) + "\n")
for f in ("ml-100k.item", "ml-100k.user"):
    (work / "train" / f).write_text((data / f).read_text())
truth = {}
for r in rows:
    if r[0] in held:
        truth.setdefault(r[0], []).append(r[1])
(work / "truth.json").write_text(json.dumps(truth))
def band(age):
    for top, name in ((17, "under 18"), (24, "18-24"), (34, "25-34"), (44, "35-44"), (49, "45-49"), (55, "50-55")):
        if age <= top:
            return name
    return "56+"
lines = (data / "ml-100k.user").read_text().splitlines()
cols = [c.split(":")[0] for c in lines[0].split("\t")]
with open(work / "users.jsonl", "w") as out:
    for line in lines[1:]:
        u = dict(zip(cols, line.split("\t")))
        attrs = {"age": int(u["age"]), "age_band": band(int(u["age"])), "gender": u["gender"],
                 "occupation": u["occupation"], "zip_code": u["zip_code"]}
        out.write(json.dumps({"user_id": u["user_id"], "attributes": attrs}) + "\n")
print(f"held out {len(held)} of {len(users)} users ({sum(map(len, truth.values()))} ratings); seed {seed}", file=sys.stderr)
PY

# Cleaning off, as the published protocols run MovieLens (its timestamps come in bursts).
run() { env -u RUST_LOG ATTUNE_DATA_DIR="$work/db" ATTUNE_LOG__LEVEL=error ATTUNE_TRAIN__CLEAN=false "$@"; }
run "$attune" import movielens "$work/train" >/dev/null
run "$attune" import users "$work/users.jsonl" >/dev/null
run "$attune" train --algorithm popularity >/dev/null
# The rule segment as `attune serve` would recompute it (as of now: every training user's last
# rating is from 1998, so they are dormant; a held-out user has a profile and no action: new).
run "$attune" segment --method rules --save-as rule >/dev/null

python3 - "$work" "$attune" <<'PY'
import json, math, os, pathlib, subprocess, sys
work, attune = pathlib.Path(sys.argv[1]), sys.argv[2]
truth = json.loads((work / "truth.json").read_text())
def lists(attribute):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")}
    env.update(ATTUNE_DATA_DIR=str(work / "db"), ATTUNE_LOG__LEVEL="error")
    if attribute:
        env["ATTUNE_SERVING__SEGMENTS__ATTRIBUTE"] = attribute
    out = {}
    for user in sorted(truth, key=int):
        r = subprocess.run([attune, "recommend", user, "-n", "10", "--json"], env=env, capture_output=True, text=True, check=True)
        body = json.loads(r.stdout)
        out[user] = (body.get("segment"), [i["item_id"] for i in body["items"]])
        for i in body["items"]:
            kinds[attribute][i["explanation"]["kind"]] = kinds[attribute].get(i["explanation"]["kind"], 0) + 1
    return out
kinds = {a: {} for a in (None, "occupation", "age_band", "gender", "rule")}
# Overall popularity computed here from the training file (most-rated first, ties by id): the
# list a plain popularity recommender gives, without the engine's trending stage.
counts = {}
for line in (work / "train/ml-100k.inter").read_text().splitlines()[1:]:
    item = line.split("\t")[1]
    counts[item] = counts.get(item, 0) + 1
most_rated = sorted(counts, key=lambda i: (-counts[i], int(i)))[:10]
def ndcg(ranked, rel, k=10):
    ideal = sum(1 / math.log2(p + 2) for p in range(min(k, len(rel))))
    return sum(1 / math.log2(p + 2) for p, i in enumerate(ranked[:k]) if i in rel) / ideal if ideal else 0.0
def recall(ranked, rel, k=10):
    return sum(1 for i in ranked[:k] if i in rel) / len(rel) if rel else 0.0
base = lists(None)
print(f"{len(truth)} held-out users, lists of 10, relevant = all of the user's ratings\n")
print("| cold-start list | segments | NDCG@10 | recall@10 | users better / worse than most rated |")
print("|---|---|---|---|---|")
def row(name, got):
    n = r = 0.0
    better = worse = 0
    segs = set()
    per_seg = {}
    for user, (seg, items) in got.items():
        rel = set(truth[user])
        a, b = ndcg(items, rel), ndcg(most_rated, rel)
        n += a; r += recall(items, rel)
        better += a > b; worse += a < b
        segs.add(seg)
        s = per_seg.setdefault(seg, [0, 0.0, 0.0])
        s[0] += 1; s[1] += a; s[2] += b
    k = len(got)
    print(f"| {name} | {len(segs - {None})} | {n / k:.4f} | {r / k:.4f} | {better} / {worse} |")
    return per_seg
row("most rated overall (computed from the training file)", {u: (None, most_rated) for u in truth})
row("engine without `[serving.segments]` (trending, then popular)", base)
details = {}
for attribute in ("occupation", "age_band", "gender", "rule"):
    details[attribute] = row(f"popular in segment: `{attribute}`", lists(attribute))
print("\nitems by reason (explanation kind) per condition:")
for attribute, k in kinds.items():
    print(f"  {attribute or 'no segments'}: {dict(sorted(k.items()))}")
for attribute, per_seg in details.items():
    losing = sorted((s, c, a / c, b / c) for s, (c, a, b) in per_seg.items() if a < b)
    if losing:
        text = ", ".join(f"{s} ({c} users: {a:.3f} vs {b:.3f})" for s, c, a, b in losing)
        print(f"\n`{attribute}`: segments whose held-out users do worse than with the most-rated list (mean NDCG@10, segment list vs most rated): {text}")
PY
