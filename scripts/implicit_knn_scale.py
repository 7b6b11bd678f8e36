"""Fit the `implicit` library's CosineRecommender on a matrix dumped by attune's `knn_scale`
harness and print one JSON line with the same fields, so the two runs compare side by side.

Usage: python implicit_knn_scale.py DUMP USERS ITEMS NEIGHBOURS THREADS

DUMP holds little-endian (u32 user, u32 item, f32 value) records. Run by
scripts/bench-itemknn-vs-implicit.sh inside a side virtualenv; never imported by the product.
"""

import json
import sys
import time

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import CosineRecommender
from peer_measure import cpu_seconds, peak_rss_mib


def main():
    dump, users, items, neighbours, threads = sys.argv[1:6]
    users, items, neighbours, threads = map(int, (users, items, neighbours, threads))
    rec = np.fromfile(dump, dtype=np.dtype([("u", "<u4"), ("i", "<u4"), ("v", "<f4")]))
    m = sp.csr_matrix((rec["v"], (rec["u"], rec["i"])), shape=(users, items), dtype=np.float32)
    del rec
    model = CosineRecommender(K=neighbours, num_threads=threads)
    rss_before = peak_rss_mib()
    t, c = time.perf_counter(), cpu_seconds()
    model.fit(m, show_progress=False)
    wall, cpu = time.perf_counter() - t, cpu_seconds() - c
    print(
        json.dumps(
            {
                "library": "implicit " + __import__("implicit").__version__,
                "users": users, "items": items, "nnz": int(m.nnz),
                "neighbours": neighbours, "threads": threads,
                "fit_wall_s": wall, "fit_cpu_s": cpu,
                "neighbour_entries": int(model.similarity.nnz),
                "peak_rss_mib": peak_rss_mib(), "rss_before_fit_mib": rss_before,
            }
        )
    )


if __name__ == "__main__":
    main()
