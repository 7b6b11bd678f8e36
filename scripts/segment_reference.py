"""Reference values for attune-core's segmentation (`segment::{kmeans, choose_k, dbscan, pca}`),
from scikit-learn and numpy.

Run through scripts/segment-reference.sh (which makes the virtualenv); writes
testdata/segment/reference.json. Every fixture is seeded, so re-running with the same library
versions rewrites the same file. Keys mirror the Rust tests in crates/attune-core/src/segment/.

- k-means: `KMeans(algorithm="lloyd", init=<array>, n_init=1)`. The initial centroids are rows
  drawn without replacement by a seeded numpy generator and recorded, so the Rust Lloyd loop
  starts where sklearn's did (k-means++ draws from numpy's Mersenne Twister, which attune does
  not reproduce). `kmeanspp_inertia` is `init="k-means++", n_init=10`: on separated blobs every
  good seeding reaches the same optimum, so attune's own seeding must find the same inertia.
- k-means++ seeding: `kmeans_plusplus(X, k, random_state=seed)`'s chosen rows, with the uniform
  draws `np.random.RandomState(seed).random_sample` hands it (one for the first row's
  `choice`, then `2 + floor(ln k)` per further centre), so Rust can replay the same draws.
- silhouette: `sklearn.metrics.silhouette_score(X, labels)` (euclidean), on the k-means labels
  and on labels with one point moved into a cluster of its own (a singleton scores 0).
- elbow: best-of-10 k-means++ inertias for k = 1..10 and the Kneedle knee evaluated here with
  numpy (there is no sklearn knee): normalise k and inertia to [0, 1], take the k whose point
  lies furthest below the chord from the first point to the last.
- DBSCAN: `sklearn.cluster.DBSCAN(eps, min_samples)` labels; `eps_from_knee` is the same
  Kneedle rule on the ascending distances to each point's k-th nearest other point
  (`NearestNeighbors(n_neighbors=k + 1)`, column k).
- PCA: `PCA(svd_solver="full")`: mean, components (svd_flip signs), explained variance and
  ratio, singular values.
"""

import json
import sys
from importlib.metadata import version

import numpy as np
from sklearn.cluster import DBSCAN, KMeans, kmeans_plusplus
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from sklearn.neighbors import NearestNeighbors

f = float


def rows(x):
    return [[f(v) for v in r] for r in np.asarray(x)]


def fixtures():
    aniso, _ = make_blobs(n_samples=300, n_features=3, centers=3, random_state=14)
    transform = np.array([[0.6, -0.6, 0.2], [-0.4, 0.8, 0.1], [0.3, 0.2, 1.5]])
    return {
        "blobs_2d_4": (make_blobs(n_samples=300, n_features=2, centers=4, random_state=11)[0], 4),
        "blobs_5d_5": (make_blobs(n_samples=400, n_features=5, centers=5, cluster_std=1.5,
                                  random_state=12)[0], 5),
        "blobs_8d_3": (make_blobs(n_samples=250, n_features=8, centers=3,
                                  cluster_std=[0.5, 1.0, 2.0], random_state=13)[0], 3),
        "aniso_3d_3": (aniso @ transform, 3),
    }


def knee(y, decreasing):
    """Index of the Kneedle knee: the point furthest below the chord, after scaling to [0, 1]."""
    y = np.asarray(y, dtype=float)
    x = np.linspace(0.0, 1.0, len(y))
    yn = (y - y.min()) / (y.max() - y.min())
    d = (1.0 - x) - yn if decreasing else x - yn
    return int(np.argmax(d))


def kmeans_cases(data):
    out = []
    rng = np.random.default_rng(20261206)
    plan = [(name, k, {}) for name, (_, k) in data.items()]
    plan += [("blobs_2d_4", 4, {"max_iter": 2}), ("blobs_2d_4", 4, {"tol": 0.0}),
             ("blobs_2d_4", 6, {}), ("blobs_5d_5", 3, {"tol": 1e-2})]
    for name, k, extra in plan:
        x = data[name][0]
        init = x[rng.choice(len(x), size=k, replace=False)]
        params = {"tol": 1e-4, "max_iter": 300, **extra}
        km = KMeans(n_clusters=k, init=init, n_init=1, algorithm="lloyd", **params).fit(x)
        labels = km.labels_.copy()
        single = labels.copy()
        single[0] = k
        out.append({"fixture": name, "k": k, "tol": f(params["tol"]),
                    "max_iter": params["max_iter"], "init": rows(init),
                    "labels": [int(v) for v in labels], "centroids": rows(km.cluster_centers_),
                    "inertia": f(km.inertia_), "n_iter": int(km.n_iter_),
                    "silhouette": f(silhouette_score(x, labels)),
                    "silhouette_singleton": f(silhouette_score(x, single))})
    return out


def kmeanspp_cases(data):
    return [{"fixture": name, "k": k,
             "inertia": f(KMeans(n_clusters=k, n_init=10, random_state=0).fit(x).inertia_)}
            for name, (x, k) in data.items()]


def seeding_cases(data):
    out = []
    for name, (x, k) in data.items():
        for kk, seed in [(k, 1), (k + 2, 2), (8, 3)]:
            trials = 2 + int(np.log(kk))
            draws = np.random.RandomState(seed).random_sample(1 + (kk - 1) * trials)
            _, indices = kmeans_plusplus(x, kk, random_state=seed)
            out.append({"fixture": name, "k": kk, "seed": seed, "draws": [f(u) for u in draws],
                        "indices": [int(i) for i in indices]})
    return out


def elbow_cases(data):
    out = []
    for name in ["blobs_2d_4", "blobs_5d_5"]:
        x = data[name][0]
        ks = list(range(1, 11))
        inertia = [f(KMeans(n_clusters=k, n_init=10, random_state=0).fit(x).inertia_) for k in ks]
        out.append({"fixture": name, "ks": ks, "inertia": inertia,
                    "knee_k": ks[knee(inertia, decreasing=True)]})
    return out


def dbscan_cases():
    rng = np.random.default_rng(99)
    x2, _ = make_blobs(n_samples=300, n_features=2, centers=3, cluster_std=0.6, random_state=21)
    x2 = np.vstack([x2, rng.uniform(-12, 12, size=(30, 2))])
    x4, _ = make_blobs(n_samples=240, n_features=4, centers=4, cluster_std=0.8, random_state=22)
    x4 = np.vstack([x4, rng.uniform(-12, 12, size=(20, 4))])
    plan = [("noisy_2d", x2, 0.6, 5), ("noisy_2d_strict", x2, 0.4, 10),
            ("noisy_4d", x4, 1.3, 6), ("all_core", x2[:80], 0.5, 1)]
    out = []
    for name, x, eps, min_samples in plan:
        labels = DBSCAN(eps=eps, min_samples=min_samples).fit(x).labels_
        k = max(min_samples - 1, 1)
        dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
        kdist = np.sort(dist[:, k])
        out.append({"name": name, "data": rows(x), "eps": f(eps), "min_samples": min_samples,
                    "labels": [int(v) for v in labels], "knee_k": k,
                    "knee_eps": f(kdist[knee(kdist, decreasing=False)])})
    return out


def pca_cases(data):
    out = []
    for name, (x, _) in data.items():
        p = PCA(svd_solver="full").fit(x)
        out.append({"fixture": name, "mean": [f(v) for v in p.mean_],
                    "components": rows(p.components_),
                    "explained_variance": [f(v) for v in p.explained_variance_],
                    "explained_variance_ratio": [f(v) for v in p.explained_variance_ratio_],
                    "singular_values": [f(v) for v in p.singular_values_],
                    "transformed_head": rows(p.transform(x[:5]))})
    return out


def main(path):
    data = fixtures()
    doc = {
        "generated_by": "scripts/segment_reference.py",
        "versions": {"numpy": version("numpy"), "scikit-learn": version("scikit-learn")},
        "fixtures": {name: rows(x) for name, (x, _) in data.items()},
        "kmeans": kmeans_cases(data),
        "kmeanspp": kmeanspp_cases(data),
        "seeding": seeding_cases(data),
        "elbow": elbow_cases(data),
        "dbscan": dbscan_cases(),
        "pca": pca_cases(data),
    }
    with open(path, "w") as out:
        json.dump(doc, out, separators=(",", ":"))
        out.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
