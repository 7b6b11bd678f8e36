"""Train the `implicit` library's ALS on a matrix dumped by attune's `als_scale` harness and
print one JSON line with the same fields, so the two runs compare side by side.

Usage: python implicit_als_scale.py DUMP USERS ITEMS FACTORS ITERATIONS THREADS ALPHA REG SCORE_USERS

DUMP holds little-endian (u32 user, u32 item, f32 value) records. Run by
scripts/bench-als-vs-implicit.sh inside a side virtualenv; never imported by the product.
"""

import json
import sys
import time

import numpy as np
import scipy.sparse as sp
from implicit.cpu._als import calculate_loss
from implicit.cpu.als import AlternatingLeastSquares
from peer_measure import cpu_seconds, peak_rss_mib


def main():
    dump, users, items, factors, iterations, threads, alpha, reg, score_users = sys.argv[1:10]
    users, items, factors, iterations, threads, score_users = map(
        int, (users, items, factors, iterations, threads, score_users)
    )
    alpha, reg = float(alpha), float(reg)
    rec = np.fromfile(dump, dtype=np.dtype([("u", "<u4"), ("i", "<u4"), ("v", "<f4")]))
    m = sp.csr_matrix((rec["v"], (rec["u"], rec["i"])), shape=(users, items), dtype=np.float32)
    del rec
    model = AlternatingLeastSquares(
        factors=factors,
        regularization=reg,
        alpha=alpha,
        iterations=iterations,
        num_threads=threads,
        random_state=42,
    )
    rss_before = peak_rss_mib()
    t, c = time.perf_counter(), cpu_seconds()
    model.fit(m, show_progress=False)
    wall, cpu = time.perf_counter() - t, cpu_seconds() - c
    loss = calculate_loss(
        (alpha * m).astype(np.float32), model.user_factors, model.item_factors, reg, num_threads=threads
    )
    ids = np.arange(min(score_users, users))
    t, c = time.perf_counter(), cpu_seconds()
    got, _ = model.recommend(ids, m[ids], N=10, filter_already_liked_items=True)
    score, score_cpu = time.perf_counter() - t, cpu_seconds() - c
    assert got.shape == (len(ids), 10)
    print(
        json.dumps(
            {
                "library": "implicit " + __import__("implicit").__version__,
                "solver": "Cg { steps: 3 }",
                "users": users, "items": items, "nnz": int(m.nnz),
                "factors": factors, "iterations": iterations, "threads": threads,
                "alpha": alpha, "reg": reg,
                "train_wall_s": wall, "train_cpu_s": cpu, "loss": float(loss),
                "peak_rss_mib": peak_rss_mib(), "rss_before_fit_mib": rss_before,
                "top10_users": len(ids), "top10_wall_s": score, "top10_cpu_s": score_cpu,
            }
        )
    )


if __name__ == "__main__":
    main()
