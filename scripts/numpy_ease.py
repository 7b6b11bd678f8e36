"""EASE as the paper's reference code computes it (Steck 2019, numpy), on a matrix dumped by
attune's `ease_scale` harness; prints one JSON line with the same fields, and when attune's B
was dumped too, the largest absolute difference between the two weight matrices.

Usage: python numpy_ease.py DUMP USERS ITEMS LAMBDA [ATTUNE_B]

DUMP holds little-endian (u32 user, u32 item, f32 value) records; ATTUNE_B is n_items² f32
row-major. Run by scripts/bench-ease-vs-numpy.sh in a side virtualenv; never imported by the
product.
"""

import json
import resource
import sys
import time

import numpy as np
import scipy.sparse as sp
from peer_measure import cpu_seconds


def main():
    dump, users, items, lam = sys.argv[1:5]
    users, items, lam = int(users), int(items), float(lam)
    rec = np.fromfile(dump, dtype=np.dtype([("u", "<u4"), ("i", "<u4"), ("v", "<f4")]))
    x = sp.csr_matrix((rec["v"], (rec["u"], rec["i"])), shape=(users, items), dtype=np.float64)
    del rec
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    # The paper's code: G = XᵀX; G += λI; P = G⁻¹; B = P / (−diag(P)); diag(B) = 0.
    g = x.T.dot(x).toarray()
    d = np.diag_indices(items)
    g[d] += lam
    p = np.linalg.inv(g)
    b = p / (-np.diag(p))
    b[d] = 0.0
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    out = {
        "library": "numpy",
        "users": users,
        "items": items,
        "nnz": int(x.nnz),
        "lambda": lam,
        "fit_wall_s": wall,
        "fit_cpu_s": cpu,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "rss_before_mib": rss_before,
        "blas": np.__config__.CONFIG["Build Dependencies"]["blas"]["name"]
        if hasattr(np.__config__, "CONFIG")
        else "unknown",
    }
    if len(sys.argv) > 5:
        theirs = np.fromfile(sys.argv[5], dtype="<f4").reshape(items, items)
        out["max_abs_diff_b"] = float(np.max(np.abs(theirs.astype(np.float64) - b)))
        out["max_abs_b"] = float(np.max(np.abs(b)))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
