"""Build hnswlib's index (inner product) on factors dumped by attune's `ann_recall --dump DIR`
and print one JSON line with the fields `ann_recall --json` prints, so the two compare side by
side on the very same data and exact top-k.

Usage: python hnswlib_ann.py DIR M EF_CONSTRUCTION THREADS EF[,EF...] [ip|reduce] [SEED]

`ip` (default) indexes the factors with hnswlib's inner-product space as they are. `reduce`
is the textbook exact reduction of inner product to Euclidean search (Bachrach et al. 2014):
every item gets one more coordinate `sqrt(M² − ‖y‖²)` (M the largest norm), queries a 0, and
hnswlib's `l2` space ranks by `‖q‖² + M² − 2·q·y`, i.e. by `q·y`.

Recall@k is counted by item id against DIR/truth.u32 (attune's exact top-k), as attune's is.
Latency is single-threaded: `ms_mean`/`ms_p99` time one `knn_query` call per query from Python
(interpreter and binding overhead included, a few µs), `ms_batch` is one call over all
queries with num_threads=1 divided by their number (the library's own cost per query). Run by
scripts/bench-ann-vs-hnswlib.sh inside a side virtualenv; never imported by the product.
"""

import json
import sys
import time

import hnswlib
import numpy as np
from peer_measure import cpu_seconds, peak_rss_mib


def main():
    d, m, efc, threads, efs = sys.argv[1:6]
    mode = sys.argv[6] if len(sys.argv) > 6 else "ip"
    seed = int(sys.argv[7]) if len(sys.argv) > 7 else 42
    assert mode in ("ip", "reduce"), mode
    m, efc, threads = int(m), int(efc), int(threads)
    efs = [int(e) for e in efs.split(",")]
    meta = json.load(open(f"{d}/meta.json"))
    n, nq, dim, k = meta["items"], meta["queries"], meta["dim"], meta["k"]
    items = np.fromfile(f"{d}/items.f32", dtype="<f4").reshape(n, dim)
    queries = np.fromfile(f"{d}/queries.f32", dtype="<f4").reshape(nq, dim)
    truth = np.fromfile(f"{d}/truth.u32", dtype="<u4").reshape(nq, k)

    rss_before = peak_rss_mib()
    t, c = time.perf_counter(), cpu_seconds()
    if mode == "reduce":
        sq = np.einsum("ij,ij->i", items, items, dtype=np.float64)
        extra = np.sqrt(np.maximum(sq.max() - sq, 0.0)).astype(np.float32)
        data = np.hstack([items, extra[:, None]])
        qdata = np.hstack([queries, np.zeros((nq, 1), dtype=np.float32)])
        p = hnswlib.Index(space="l2", dim=dim + 1)
    else:
        data, qdata = items, queries
        p = hnswlib.Index(space="ip", dim=dim)
    p.init_index(max_elements=n, ef_construction=efc, M=m, random_seed=seed)
    p.set_num_threads(threads)
    p.add_items(data, np.arange(n), num_threads=threads)
    wall, cpu = time.perf_counter() - t, cpu_seconds() - c
    del data

    # Score of each query's k-th exact item: results scoring at least this much (within
    # rounding) count as hits in the recall by score, as in attune's harness.
    kth = np.einsum("ij,ij->i", queries, items[truth[:, -1]])
    rows = []
    for ef in efs:
        p.set_ef(max(ef, k))
        lat = []
        recalls = []
        by_score = []
        for i in range(nq):
            q = qdata[i : i + 1]
            t0 = time.perf_counter()
            labels, _ = p.knn_query(q, k=k, num_threads=1)
            lat.append((time.perf_counter() - t0) * 1e3)
            recalls.append(len(set(labels[0].tolist()) & set(truth[i].tolist())) / k)
            scores = items[labels[0].astype(np.int64)] @ queries[i]
            tol = 1e-5 * abs(kth[i]) + 1e-30
            by_score.append(min(int((scores >= kth[i] - tol).sum()), k) / k)
        t0 = time.perf_counter()
        p.knn_query(qdata, k=k, num_threads=1)
        batch = (time.perf_counter() - t0) * 1e3 / nq
        lat.sort()
        rows.append(
            {
                "ef": ef,
                "recall": round(float(np.mean(recalls)), 5),
                "worst": min(recalls),
                "zero_recall_queries": sum(r == 0 for r in recalls),
                "recall_by_score": round(float(np.mean(by_score)), 5),
                "worst_by_score": min(by_score),
                "ms_mean": round(float(np.mean(lat)), 5),
                "ms_p99": round(lat[int((len(lat) - 1) * 0.99)], 5),
                "ms_batch": round(batch, 5),
            }
        )
    print(
        json.dumps(
            {
                "library": "hnswlib " + getattr(hnswlib, "__version__", "0.8.0") + " " + mode,
                "items": n, "dim": dim, "queries": nq, "m": m, "ef_construction": efc,
                "threads": threads, "build_wall_s": round(wall, 3), "build_cpu_s": round(cpu, 2),
                "peak_rss_mib": round(peak_rss_mib(), 1), "rss_before_build_mib": round(rss_before, 1),
                "per_ef": rows,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
