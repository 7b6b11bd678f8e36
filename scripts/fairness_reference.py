"""Reference values for attune-core's `fairness` module, from numpy and scikit-learn.

Run through scripts/fairness-reference.sh (which makes the virtualenv); writes
testdata/fairness/reference.json: the fixture (seeded with numpy's PCG64, written out in full so
the Rust test reads the same inputs) and every figure computed here independently:
- NDCG@k by sklearn.metrics.ndcg_score (binary relevance over every item);
- Gini by the mean-absolute-difference definition sum|x_i - x_j| / (2 n^2 mean), not the
  sorted-rank formula attune uses;
- popularity buckets, exposure shares, gaps, recall, hit rate and the greedy exposure re-ranker
  in plain numpy, following the definitions in docs/fairness.md.
- the re-weighting multipliers of `[train.fairness]` on a weighted matrix.
Keys mirror crates/attune-core/src/fairness/reference.rs.
"""

import json
import sys
from importlib.metadata import version

import numpy as np
from sklearn.metrics import ndcg_score

N_ITEMS, N_USERS, N_CANDIDATES, K, BUCKETS = 40, 16, 20, 5, 3
USER_LABELS = ["a", "b", "c"]
LAMBDAS = [0.0, 0.5, 2.0]

rng = np.random.default_rng(20261205)
# Popularity with a long tail: a few items carry most interactions.
popularity = np.floor(60.0 / (1 + np.arange(N_ITEMS)) ** 1.1 * rng.uniform(0.5, 1.5, N_ITEMS))
popularity = rng.permutation(popularity)
user_group = rng.integers(0, len(USER_LABELS), N_USERS)
candidates, relevant = [], []
for u in range(N_USERS):
    # Candidates lean toward popular items, as a trained model's do.
    p = (popularity + 1) / (popularity + 1).sum()
    items = rng.choice(N_ITEMS, N_CANDIDATES, replace=False, p=p)
    scores = np.sort(rng.uniform(0, 1, N_CANDIDATES))[::-1].astype(np.float32)
    candidates.append([(int(i), float(s)) for i, s in zip(items, scores)])
    n_rel = int(rng.integers(0 if u == 0 else 1, 5))  # user 0 has nothing held out
    relevant.append(sorted(int(i) for i in rng.choice(N_ITEMS, n_rel, replace=False)))


def discount(pos):
    return 1.0 / np.log2(pos + 2.0)


def popularity_buckets(pop, k):
    order = sorted(range(len(pop)), key=lambda i: (-pop[i], i))
    total = pop.sum()
    out, before = np.zeros(len(pop), dtype=int), 0.0
    for i in order:
        out[i] = min(int(np.floor(before * k / total)), k - 1) if total > 0 else k - 1
        before += pop[i]
    return out


def relative_over(share, target):
    if share <= target:
        return 0.0
    return share / target - 1.0 if target > 0 else float("inf")


def rerank(cands, n, lam, group, targets):
    if lam == 0.0:
        return [c[0] for c in cands[:n]]
    s = np.array([c[1] for c in cands], dtype=np.float32)
    lo, hi = s.min(), s.max()
    span = float(hi - lo) if hi > lo else 1.0
    left = list(cands)
    exp, total, picked = np.zeros(len(targets)), 0.0, []
    for p in range(min(n, len(cands))):
        d = discount(p)
        values = [
            float(np.float32(sc - lo)) / span
            - lam * relative_over((exp[group[i]] + d) / (total + d), targets[group[i]])
            for i, sc in left
        ]
        b = int(np.argmax(values))  # first maximum: ties keep the model's order
        i, _ = left.pop(b)
        exp[group[i]] += d
        total += d
        picked.append(i)
    return picked


def gini_mad(x):
    x = np.asarray(x, dtype=float)
    if x.sum() == 0:
        return 0.0
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean()))


def ndcg_sklearn(lst, rel):
    y_true = np.zeros((1, N_ITEMS))
    y_true[0, rel] = 1
    y_score = np.zeros((1, N_ITEMS))
    for p, i in enumerate(lst):
        y_score[0, i] = len(lst) - p + 1  # list items above every other item, in order
    return float(ndcg_score(y_true, y_score, k=K))


buckets = popularity_buckets(popularity, BUCKETS)
targets = np.full(BUCKETS, 1.0 / BUCKETS)
runs = []
for lam in LAMBDAS:
    lists = [rerank(c, K, lam, buckets, targets) for c in candidates]
    per_item = np.zeros(N_ITEMS)
    for lst in lists:
        for p, i in enumerate(lst[:K]):
            per_item[i] += discount(p)
    g_exp = np.array([per_item[buckets == g].sum() for g in range(BUCKETS)])
    share = g_exp / g_exp.sum()
    cat = np.array([(buckets == g).mean() for g in range(BUCKETS)])
    ratio = share / cat
    evaluated = [u for u in range(N_USERS) if relevant[u]]
    ndcg = {u: ndcg_sklearn(lists[u], relevant[u]) for u in evaluated}
    recall = {u: len(set(lists[u][:K]) & set(relevant[u])) / len(relevant[u]) for u in evaluated}
    hit = {u: float(len(set(lists[u][:K]) & set(relevant[u])) > 0) for u in evaluated}
    groups = []
    for g in range(len(USER_LABELS)):
        us = [u for u in evaluated if user_group[u] == g]
        groups.append({
            "users": len(us),
            "ndcg": float(np.mean([ndcg[u] for u in us])) if us else 0.0,
            "recall": float(np.mean([recall[u] for u in us])) if us else 0.0,
            "hit_rate": float(np.mean([hit[u] for u in us])) if us else 0.0,
        })
    present = [g for g in groups if g["users"] > 0]
    spread = lambda key: max(g[key] for g in present) - min(g[key] for g in present)
    runs.append({
        "lambda": lam,
        "lists": lists,
        "ndcg": float(np.mean(list(ndcg.values()))),
        "recall": float(np.mean(list(recall.values()))),
        "hit_rate": float(np.mean(list(hit.values()))),
        "shares": [float(x) for x in share],
        "gap": float(share.max() - share.min()),
        "ratio_gap": float(ratio.max() - ratio.min()),
        "gini": gini_mad(per_item),
        "user_groups": groups,
        "dp_gap": spread("hit_rate"),
        "eo_gap": spread("recall"),
        "ndcg_gap": spread("ndcg"),
    })

# Re-weighting at training: a users x items matrix whose column counts are the popularity
# above (item i in the rows 0..popularity[i]) with weights drawn in [1, 5].
train = [
    (u, i, float(np.float32(w)))
    for i in range(N_ITEMS)
    for u, w in zip(range(int(popularity[i])), rng.uniform(1, 5, int(popularity[i])))
]


def reweight(k, beta):
    pop = np.array([sum(1 for t in train if t[1] == i) for i in range(N_ITEMS)], dtype=float)
    b = popularity_buckets(pop, k)
    mean = np.array([pop[b == g].mean() if (b == g).any() else 0.0 for g in range(k)])
    raw = np.array([m ** -beta if m > 0 else 1.0 for m in mean])
    weight = np.zeros(k)
    for _, i, w in train:
        weight[b[i]] += w
    c = weight.sum() / (weight * raw).sum()
    return [float(c * raw[b[i]]) for i in range(N_ITEMS)]


reweights = [{"buckets": 3, "beta": beta, "multipliers": reweight(3, beta)} for beta in [0.5, 1.0]]

out = {
    "generated_by": "scripts/fairness_reference.py",
    "versions": {"numpy": version("numpy"), "scikit-learn": version("scikit-learn")},
    "k": K,
    "buckets": BUCKETS,
    "fixture": {
        "n_items": N_ITEMS,
        "popularity": [float(x) for x in popularity],
        "user_labels": [USER_LABELS[g] for g in user_group],
        "candidates": candidates,
        "relevant": relevant,
    },
    "popularity_buckets": [int(b) for b in buckets],
    "runs": runs,
    "train": train,
    "reweight": reweights,
}
with open(sys.argv[1], "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
