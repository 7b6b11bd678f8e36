"""Reference values for attune-core's drift statistics (`stats::psi`, `stats::ks`), from
numpy and scipy.

Run through scripts/drift-reference.sh (which makes the virtualenv); writes
testdata/drift/reference.json. Every fixture is seeded, so re-running with the same library
versions rewrites the same file. Keys mirror the Rust tests in crates/attune-core/src/stats/{psi,ks}.rs.

- PSI: bins at numpy's default (linear) deciles of the reference, duplicate edges merged,
  `np.searchsorted(edges, v, side="left")` as the bin of v, shares floored at 1e-4; there is
  no library PSI, so the formula is evaluated here with numpy on the same inputs.
- KS: `scipy.stats.ks_2samp`; the exact branch (n*m <= 10,000) against `method="exact"`, the
  asymptotic one against `scipy.stats.kstwobign.sf(D * sqrt(nm/(n+m)))`, and every case also
  records `method="auto"`'s p-value (which above the exact range uses the finite-n `kstwo`).
"""

import json
import math
import sys
from importlib.metadata import version

import numpy as np
from scipy import stats

EPS = 1e-4
f = float


def psi_counts(r, c):
    r = np.asarray(r, dtype=float)
    c = np.asarray(c, dtype=float)
    pr = np.maximum(r / r.sum(), EPS)
    pc = np.maximum(c / c.sum(), EPS)
    return f(np.sum((pc - pr) * np.log(pc / pr)))


def edges_of(reference):
    q = np.quantile(np.asarray(reference, dtype=float), np.arange(1, 10) / 10.0)
    return np.unique(q)


def psi(reference, current):
    e = edges_of(reference)
    bins = len(e) + 1
    r = np.bincount(np.searchsorted(e, reference, side="left"), minlength=bins)
    c = np.bincount(np.searchsorted(e, current, side="left"), minlength=bins)
    return psi_counts(r, c), e


def psi_cases():
    rng = np.random.default_rng(20261205)
    fixtures = {
        "normal_same": (rng.normal(0, 1, 600), rng.normal(0, 1, 500)),
        "normal_shifted": (rng.normal(0, 1, 600), rng.normal(0.5, 1.2, 500)),
        "lognormal_scores": (rng.lognormal(0, 0.7, 800), rng.lognormal(0.1, 0.7, 800)),
        # Discrete counts with many ties (events per item): duplicate deciles merge.
        "poisson_counts": (rng.poisson(1.3, 1000), rng.poisson(1.3, 800)),
        "zipf_counts": (np.minimum(rng.zipf(1.8, 1000), 500), np.minimum(rng.zipf(1.5, 1000), 500)),
        # Current values outside the reference's range: empty bins on one side.
        "disjoint": (rng.uniform(0, 1, 500), rng.uniform(2, 3, 500)),
        "constant_reference": (np.full(100, 3.0), rng.integers(1, 6, 100)),
        "tiny": (np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 5.0, 0.5])),
    }
    out = []
    for name, (r, c) in fixtures.items():
        value, e = psi(r, c)
        out.append({"name": name, "reference": [f(x) for x in r], "current": [f(x) for x in c],
                    "edges": [f(x) for x in e], "psi": value})
    return out


def psi_count_cases():
    fixtures = {
        "event_mix_same": ([5000, 1200, 300, 150], [4950, 1230, 290, 160]),
        "event_mix_shift": ([5000, 1200, 300, 150], [4000, 1200, 1100, 650]),
        "new_category": ([100, 50, 0], [100, 50, 20]),
        "lost_category": ([100, 50, 20], [100, 50, 0]),
    }
    return [{"name": n, "reference": r, "current": c, "psi": psi_counts(r, c)}
            for n, (r, c) in fixtures.items()]


def ks_cases():
    rng = np.random.default_rng(7)
    fixtures = {
        "exact_small": (rng.normal(0, 1, 20), rng.normal(0.8, 1, 30)),
        "exact_equal_sizes": (rng.normal(0, 1, 50), rng.normal(0.3, 1, 50)),
        "exact_ties": (rng.integers(0, 5, 40).astype(float), rng.integers(1, 6, 60).astype(float)),
        "exact_tiny_p": (rng.normal(0, 1, 100), rng.normal(3, 1, 100)),
        "exact_unequal": (rng.normal(0, 1, 7), rng.normal(0, 1, 1400)),
        "asymp_same": (rng.normal(0, 1, 300), rng.normal(0, 1, 250)),
        "asymp_shift": (rng.normal(0, 1, 400), rng.normal(0.25, 1, 350)),
        "asymp_counts": (rng.poisson(2, 500).astype(float), rng.poisson(2.3, 400).astype(float)),
        "asymp_unequal": (rng.exponential(1, 60), rng.exponential(1.1, 2000)),
    }
    out = []
    for name, (a, b) in fixtures.items():
        n, m = len(a), len(b)
        auto = stats.ks_2samp(a, b, method="auto")
        if n * m <= 10_000:
            method = "exact"
            p = stats.ks_2samp(a, b, method="exact").pvalue
        else:
            method = "asymptotic"
            p = stats.kstwobign.sf(auto.statistic * math.sqrt(n * m / (n + m)))
        out.append({"name": name, "a": [f(x) for x in a], "b": [f(x) for x in b],
                    "statistic": f(auto.statistic), "method": method, "p_value": f(p),
                    "auto_p_value": f(auto.pvalue)})
    return out


def kstwobign_cases():
    return [{"x": f(x), "sf": f(stats.kstwobign.sf(x))}
            for x in [0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0, 1.05, 1.2, 1.36, 1.63, 2.0, 3.0, 5.0]]


def main(path):
    doc = {
        "generated_by": "scripts/drift_reference.py",
        "versions": {"numpy": version("numpy"), "scipy": version("scipy")},
        "psi": psi_cases(),
        "psi_counts": psi_count_cases(),
        "ks": ks_cases(),
        "kstwobign": kstwobign_cases(),
    }
    with open(path, "w") as out:
        json.dump(doc, out, separators=(",", ":"))
        out.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
