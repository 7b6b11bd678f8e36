//! Term weighting of interaction matrices (BM25, TF-IDF), as used before item-kNN.
//!
//! Rows are *documents* and columns are *terms*. For item-item similarity the documents are
//! items and the terms are users (pass the item-major matrix), so a user who touches everything
//! counts less, and a long-tail item is not drowned by its few heavy users. The formulas follow
//! the `implicit` library (`implicit.nearest_neighbours.bm25_weight` / `tfidf_weight`), so
//! results can be compared one to one:
//!
//! - `idf(t) = ln(n_rows) − ln(1 + df(t))`, where `df(t)` counts documents containing `t`
//!   (it can be negative for terms in nearly every document; kept as in `implicit`);
//! - BM25: `w' = w · (k1 + 1) / (k1 · norm(d) + w) · idf(t)`, with
//!   `norm(d) = 1 − b + b · |d| / mean|d|` and `|d|` the row sum;
//! - TF-IDF: `w' = sqrt(w) · idf(t)`.

use super::Csr;

fn idf(m: &Csr) -> Vec<f32> {
    let n = (m.n_rows() as f64).ln();
    m.col_nnz()
        .iter()
        .map(|&df| (n - f64::from(df).ln_1p()) as f32)
        .collect()
}

/// BM25-weighted copy of `m` (see the module docs). Typical `k1 = 100`, `b = 0.8` for
/// interaction data (the `implicit` defaults), not the text-retrieval 1.2 / 0.75.
pub fn bm25_weight(m: &Csr, k1: f32, b: f32) -> Csr {
    let idf = idf(m);
    let lengths = m.row_sums();
    let mean = if lengths.is_empty() {
        0.0
    } else {
        lengths.iter().sum::<f64>() / lengths.len() as f64
    };
    m.map_values(|r, c, w| {
        let norm = if mean > 0.0 {
            (1.0 - f64::from(b)) + f64::from(b) * lengths[r] / mean
        } else {
            1.0
        };
        let w = f64::from(w);
        (w * (f64::from(k1) + 1.0) / (f64::from(k1) * norm + w) * f64::from(idf[c as usize])) as f32
    })
}

/// TF-IDF-weighted copy of `m` (see the module docs). Values must be non-negative.
pub fn tfidf_weight(m: &Csr) -> Csr {
    let idf = idf(m);
    m.map_values(|_, c, w| w.max(0.0).sqrt() * idf[c as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bm25_matches_hand_computation() {
        // Documents (rows): d0 = {t0:1, t1:3}, d1 = {t0:2}. N = 2, df = [2, 1].
        let m = Csr::from_triplets(2, 2, [(0, 0, 1.0), (0, 1, 3.0), (1, 0, 2.0)]).unwrap();
        let w = bm25_weight(&m, 100.0, 0.8);
        let idf0 = 2f64.ln() - 3f64.ln();
        let idf1 = 2f64.ln() - 2f64.ln();
        let mean = 3.0;
        let norm0 = 0.2 + 0.8 * 4.0 / mean;
        let norm1 = 0.2 + 0.8 * 2.0 / mean;
        let want = [
            1.0 * 101.0 / (100.0 * norm0 + 1.0) * idf0,
            3.0 * 101.0 / (100.0 * norm0 + 3.0) * idf1,
            2.0 * 101.0 / (100.0 * norm1 + 2.0) * idf0,
        ];
        for (got, want) in w.data().iter().zip(want) {
            assert!((f64::from(*got) - want).abs() < 1e-6, "{got} vs {want}");
        }
        assert_eq!(w.indices(), m.indices());
    }

    #[test]
    fn tfidf_matches_hand_computation() {
        let m = Csr::from_triplets(3, 2, [(0, 0, 4.0), (1, 1, 9.0)]).unwrap();
        let w = tfidf_weight(&m);
        let idf = 3f64.ln() - 2f64.ln();
        assert!((f64::from(w.data()[0]) - 2.0 * idf).abs() < 1e-6);
        assert!((f64::from(w.data()[1]) - 3.0 * idf).abs() < 1e-6);
    }
}
