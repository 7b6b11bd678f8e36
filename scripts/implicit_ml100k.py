"""Train the `implicit` library's ALS on a split saved by `attune evaluate --save-split` and
write every test user's top-k as `user_id,rank,item_id,score` rows, the format
`attune evaluate --lists NAME=FILE` scores. attune's metric code then measures both libraries,
so nothing but the model differs.

Usage: python implicit_ml100k.py SPLIT_DIR OUT_CSV FACTORS REG ALPHA ITERATIONS THREADS K SEED

Run by scripts/compare-implicit-ml100k.sh inside a side virtualenv; never imported by the
product. Every training pair has weight 1 (the split's `weight` column), as attune trains.
"""

import csv
import sys
import time

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares


def read(path):
    with open(path, newline="") as f:
        return [(r["user_id"], r["item_id"], float(r["weight"])) for r in csv.DictReader(f)]


def main():
    split, out, factors, reg, alpha, iterations, threads, k, seed = sys.argv[1:10]
    factors, iterations, threads, k, seed = int(factors), int(iterations), int(threads), int(k), int(seed)
    reg, alpha = float(reg), float(alpha)
    train = read(f"{split}/train.csv")
    test = read(f"{split}/test.csv")
    users = sorted({u for u, _, _ in train} | {u for u, _, _ in test})
    items = sorted({i for _, i, _ in train} | {i for _, i, _ in test})
    uix = {u: n for n, u in enumerate(users)}
    iix = {i: n for n, i in enumerate(items)}
    rows = np.array([uix[u] for u, _, _ in train])
    cols = np.array([iix[i] for _, i, _ in train])
    vals = np.array([w for _, _, w in train], dtype=np.float32)
    m = sp.csr_matrix((vals, (rows, cols)), shape=(len(users), len(items)), dtype=np.float32)
    model = AlternatingLeastSquares(
        factors=factors,
        regularization=reg,
        alpha=alpha,
        iterations=iterations,
        num_threads=threads,
        random_state=seed,
    )
    t = time.perf_counter()
    model.fit(m, show_progress=False)
    fit_s = time.perf_counter() - t
    test_users = sorted({uix[u] for u, _, _ in test})
    ids, scores = model.recommend(
        np.array(test_users), m[test_users], N=k, filter_already_liked_items=True
    )
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user_id", "rank", "item_id", "score"])
        for u, row, srow in zip(test_users, ids, scores):
            for r, (i, s) in enumerate(zip(row, srow)):
                if i >= 0:
                    w.writerow([users[u], r + 1, items[i], f"{s:.6g}"])
    print(f"implicit {__import__('implicit').__version__}: fit {fit_s:.2f} s, lists for {len(test_users)} users -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
