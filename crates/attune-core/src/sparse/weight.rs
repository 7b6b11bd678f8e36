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
    TermWeighting::fit(m, TermScheme::Bm25 { k1, b }).apply(m)
}

/// Which term weighting to fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TermScheme {
    /// BM25 with saturation `k1` and length normalization `b`.
    Bm25 {
        /// Term-frequency saturation.
        k1: f32,
        /// Length normalization in `[0, 1]`.
        b: f32,
    },
    /// `sqrt(w) · idf`.
    TfIdf,
}

/// Term weighting statistics fitted on a matrix (idf per column, mean row length), so that a
/// row that was not in the matrix (a new user's history) can be weighted the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct TermWeighting {
    scheme: TermScheme,
    idf: Vec<f32>,
    mean_len: f64,
}

impl TermWeighting {
    /// Fit idf and mean length on `m` (rows are documents).
    pub fn fit(m: &Csr, scheme: TermScheme) -> Self {
        let lengths = m.row_sums();
        let mean_len = if lengths.is_empty() {
            0.0
        } else {
            lengths.iter().sum::<f64>() / lengths.len() as f64
        };
        Self {
            scheme,
            idf: idf(m),
            mean_len,
        }
    }

    /// The scheme this weighting was fitted with.
    pub fn scheme(&self) -> TermScheme {
        self.scheme
    }

    /// The weight of value `w` in column `c` of a row whose values sum to `row_len`. Columns
    /// unknown at fit time get idf 0.
    pub fn weight(&self, c: u32, w: f32, row_len: f64) -> f32 {
        let idf = f64::from(self.idf.get(c as usize).copied().unwrap_or(0.0));
        match self.scheme {
            TermScheme::Bm25 { k1, b } => {
                let norm = if self.mean_len > 0.0 {
                    (1.0 - f64::from(b)) + f64::from(b) * row_len / self.mean_len
                } else {
                    1.0
                };
                let w = f64::from(w);
                (w * (f64::from(k1) + 1.0) / (f64::from(k1) * norm + w) * idf) as f32
            }
            TermScheme::TfIdf => (f64::from(w.max(0.0)).sqrt() * idf) as f32,
        }
    }

    /// Weight one row given as parallel column and value slices, into `out`.
    pub fn weight_row(&self, cols: &[u32], vals: &[f32], out: &mut Vec<f32>) {
        let len: f64 = vals.iter().map(|&v| f64::from(v)).sum();
        out.clear();
        out.extend(cols.iter().zip(vals).map(|(&c, &w)| self.weight(c, w, len)));
    }

    /// A weighted copy of `m`.
    pub fn apply(&self, m: &Csr) -> Csr {
        let lengths = m.row_sums();
        m.map_values(|r, c, w| self.weight(c, w, lengths[r]))
    }
}

/// TF-IDF-weighted copy of `m` (see the module docs). Values must be non-negative.
pub fn tfidf_weight(m: &Csr) -> Csr {
    TermWeighting::fit(m, TermScheme::TfIdf).apply(m)
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

    #[test]
    fn weighting_a_new_row_matches_weighting_it_inside_the_matrix() {
        let m =
            Csr::from_triplets(3, 3, [(0, 0, 1.0), (0, 1, 3.0), (1, 0, 2.0), (2, 2, 5.0)]).unwrap();
        for scheme in [TermScheme::Bm25 { k1: 1.2, b: 0.75 }, TermScheme::TfIdf] {
            let tw = TermWeighting::fit(&m, scheme);
            let whole = tw.apply(&m);
            let mut out = Vec::new();
            for r in 0..3 {
                let (cols, vals) = m.row(r);
                tw.weight_row(cols, vals, &mut out);
                assert_eq!(out, whole.row(r).1);
            }
        }
    }
}
