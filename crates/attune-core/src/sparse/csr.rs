//! Compressed sparse row matrix and its triplet builder.

use super::SparseError;

/// A compressed sparse row matrix of `f32` values with `u32` column indices.
///
/// Row `r` is `indices[indptr[r]..indptr[r + 1]]` with values at the same positions of `data`.
/// Column indices are `u32` (half the memory traffic of `usize` in the ALS inner loop; four
/// billion users or items is beyond one machine anyway) and row pointers are `usize` (the number
/// of entries can pass `u32::MAX`). See the module docs for the invariants.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    n_rows: usize,
    n_cols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    data: Vec<f32>,
}

impl Csr {
    /// A matrix with no entries.
    pub fn empty(n_rows: usize, n_cols: usize) -> Self {
        Self {
            n_rows,
            n_cols,
            indptr: vec![0; n_rows + 1],
            indices: Vec::new(),
            data: Vec::new(),
        }
    }

    /// Build from `(row, col, value)` triplets, summing duplicates (see [`CsrBuilder`]).
    pub fn from_triplets(
        n_rows: usize,
        n_cols: usize,
        triplets: impl IntoIterator<Item = (u32, u32, f32)>,
    ) -> Result<Self, SparseError> {
        let mut b = CsrBuilder::new();
        for (r, c, v) in triplets {
            b.push(r, c, v)?;
        }
        b.build(n_rows, n_cols)
    }

    /// Adopt raw CSR arrays (for example read back from a model artifact), checking every
    /// invariant so a corrupt file cannot cause out-of-bounds reads later.
    pub fn from_parts(
        n_rows: usize,
        n_cols: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        data: Vec<f32>,
    ) -> Result<Self, SparseError> {
        let bad = |reason: String| Err(SparseError::InvalidParts { reason });
        if indptr.len() != n_rows + 1 {
            return bad(format!(
                "indptr has {} entries, expected n_rows + 1 = {}",
                indptr.len(),
                n_rows + 1
            ));
        }
        if indices.len() != data.len() {
            return bad(format!(
                "{} indices but {} values",
                indices.len(),
                data.len()
            ));
        }
        if indptr[0] != 0 || indptr[n_rows] != indices.len() {
            return bad(format!(
                "indptr must start at 0 and end at nnz = {}, got {}..{}",
                indices.len(),
                indptr[0],
                indptr[n_rows]
            ));
        }
        // Monotone row pointers first: with the end fixed at nnz, every row range is then in
        // bounds before any row is sliced.
        if let Some(r) = indptr.windows(2).position(|w| w[0] > w[1]) {
            return bad(format!("indptr decreases at row {r}"));
        }
        for r in 0..n_rows {
            let (lo, hi) = (indptr[r], indptr[r + 1]);
            let row = &indices[lo..hi];
            if row.windows(2).any(|w| w[0] >= w[1]) {
                return bad(format!("row {r} has unsorted or duplicate columns"));
            }
            if let Some(&c) = row.last() {
                if c as usize >= n_cols {
                    return Err(SparseError::OutOfBounds {
                        row: r as u32,
                        col: c,
                        n_rows,
                        n_cols,
                    });
                }
            }
            if let Some(k) = data[lo..hi].iter().position(|v| !v.is_finite()) {
                return Err(SparseError::NonFinite {
                    row: r as u32,
                    col: row[k],
                    value: data[lo + k],
                });
            }
        }
        Ok(Self {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Stored entries over cells: the fraction of the user-item matrix that is known.
    /// 0 for a matrix without cells.
    pub fn density(&self) -> f64 {
        let cells = self.n_rows as f64 * self.n_cols as f64;
        if cells == 0.0 {
            0.0
        } else {
            self.nnz() as f64 / cells
        }
    }

    /// Row pointers (`n_rows + 1` entries).
    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }

    /// Column indices of all entries, row after row.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// Values of all entries, aligned with [`Csr::indices`].
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// Columns and values of row `r` (columns strictly increasing).
    ///
    /// # Panics
    /// If `r >= n_rows`.
    #[inline]
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (lo, hi) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[lo..hi], &self.data[lo..hi])
    }

    /// Number of entries in row `r`.
    #[inline]
    pub fn row_nnz(&self, r: usize) -> usize {
        self.indptr[r + 1] - self.indptr[r]
    }

    /// The value at `(r, c)`, if stored (binary search in the row).
    pub fn get(&self, r: usize, c: u32) -> Option<f32> {
        let (cols, vals) = self.row(r);
        cols.binary_search(&c).ok().map(|k| vals[k])
    }

    /// Number of entries in each column (item popularity for a user-item matrix).
    pub fn col_nnz(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.n_cols];
        for &c in &self.indices {
            counts[c as usize] += 1;
        }
        counts
    }

    /// Sum of values in each row, accumulated in `f64`.
    pub fn row_sums(&self) -> Vec<f64> {
        (0..self.n_rows)
            .map(|r| self.row(r).1.iter().map(|&v| f64::from(v)).sum())
            .collect()
    }

    /// The transpose (item-major when `self` is user-major), in O(nnz + n_rows + n_cols) by a
    /// counting sort; rows of the result come out sorted because rows of `self` are visited in
    /// order.
    pub fn transpose(&self) -> Csr {
        let mut indptr = vec![0usize; self.n_cols + 1];
        for &c in &self.indices {
            indptr[c as usize + 1] += 1;
        }
        for c in 0..self.n_cols {
            indptr[c + 1] += indptr[c];
        }
        let mut next = indptr.clone();
        let mut indices = vec![0u32; self.nnz()];
        let mut data = vec![0f32; self.nnz()];
        for r in 0..self.n_rows {
            let (cols, vals) = self.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let slot = &mut next[c as usize];
                indices[*slot] = r as u32;
                data[*slot] = v;
                *slot += 1;
            }
        }
        Csr {
            n_rows: self.n_cols,
            n_cols: self.n_rows,
            indptr,
            indices,
            data,
        }
    }

    /// The same pattern with every value replaced by `f(row, col, value)`.
    ///
    /// Used for confidence and BM25/TF-IDF weighting. Non-finite results are a bug in `f`.
    ///
    /// # Panics
    /// If `f` returns a non-finite value (the matrix invariant would break).
    pub fn map_values(&self, mut f: impl FnMut(usize, u32, f32) -> f32) -> Csr {
        let mut data = Vec::with_capacity(self.nnz());
        for r in 0..self.n_rows {
            let (cols, vals) = self.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let w = f(r, c, v);
                assert!(w.is_finite(), "map_values produced {w} at ({r}, {c})");
                data.push(w);
            }
        }
        Csr {
            data,
            ..self.clone()
        }
    }

    /// Keep only the rows in `keep` (a mask of length `n_rows`); other rows become empty. The
    /// shape is unchanged, so indices stay meaningful.
    pub fn retain_rows(&self, keep: &[bool]) -> Csr {
        assert_eq!(keep.len(), self.n_rows, "mask length must equal n_rows");
        let mut b = Csr::empty(self.n_rows, self.n_cols);
        for (r, &kept) in keep.iter().enumerate() {
            if kept {
                let (cols, vals) = self.row(r);
                b.indices.extend_from_slice(cols);
                b.data.extend_from_slice(vals);
            }
            b.indptr[r + 1] = b.indices.len();
        }
        b
    }

    /// A dense row-major copy (`n_rows * n_cols` values). For tests and tiny matrices.
    pub fn to_dense(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.n_rows * self.n_cols];
        for r in 0..self.n_rows {
            let (cols, vals) = self.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                out[r * self.n_cols + c as usize] = v;
            }
        }
        out
    }
}

/// Collects `(row, col, value)` triplets in any order, then builds a [`Csr`].
///
/// Duplicate cells are **summed** (repeated views of an item add up to a stronger signal), in
/// push order, so the result is deterministic. Building is two stable counting sorts (by column,
/// then by row): O(nnz + n_rows + n_cols), no comparison sort.
#[derive(Debug, Clone, Default)]
pub struct CsrBuilder {
    rows: Vec<u32>,
    cols: Vec<u32>,
    vals: Vec<f32>,
}

impl CsrBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty builder with room for `n` triplets.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            rows: Vec::with_capacity(n),
            cols: Vec::with_capacity(n),
            vals: Vec::with_capacity(n),
        }
    }

    /// Add one triplet. Rejects non-finite values at once (bounds are checked by `build`, which
    /// knows the shape).
    pub fn push(&mut self, row: u32, col: u32, value: f32) -> Result<(), SparseError> {
        if !value.is_finite() {
            return Err(SparseError::NonFinite { row, col, value });
        }
        self.rows.push(row);
        self.cols.push(col);
        self.vals.push(value);
        Ok(())
    }

    /// Triplets pushed so far (duplicates included).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Build an `n_rows x n_cols` matrix. Fails if a triplet is out of bounds or a sum of
    /// duplicates overflows to infinity.
    pub fn build(self, n_rows: usize, n_cols: usize) -> Result<Csr, SparseError> {
        let n = self.rows.len();
        for k in 0..n {
            let (r, c) = (self.rows[k], self.cols[k]);
            if r as usize >= n_rows || c as usize >= n_cols {
                return Err(SparseError::OutOfBounds {
                    row: r,
                    col: c,
                    n_rows,
                    n_cols,
                });
            }
        }
        // Pass 1: stable counting sort of triplet positions by column.
        let mut col_ptr = vec![0usize; n_cols + 1];
        for &c in &self.cols {
            col_ptr[c as usize + 1] += 1;
        }
        for c in 0..n_cols {
            col_ptr[c + 1] += col_ptr[c];
        }
        let mut by_col = vec![0usize; n];
        for (k, &c) in self.cols.iter().enumerate() {
            let slot = &mut col_ptr[c as usize];
            by_col[*slot] = k;
            *slot += 1;
        }
        drop(col_ptr);
        // Pass 2: stable counting sort by row; columns come out sorted within each row and
        // duplicates adjacent, in push order.
        let mut row_ptr = vec![0usize; n_rows + 1];
        for &r in &self.rows {
            row_ptr[r as usize + 1] += 1;
        }
        for r in 0..n_rows {
            row_ptr[r + 1] += row_ptr[r];
        }
        let mut next = row_ptr.clone();
        let mut order = vec![0usize; n];
        for &k in &by_col {
            let slot = &mut next[self.rows[k] as usize];
            order[*slot] = k;
            *slot += 1;
        }
        drop(by_col);
        // Merge duplicates row by row.
        let mut indptr = Vec::with_capacity(n_rows + 1);
        indptr.push(0);
        let mut indices = Vec::with_capacity(n);
        let mut data: Vec<f32> = Vec::with_capacity(n);
        for r in 0..n_rows {
            let row_start = indices.len();
            for &k in &order[row_ptr[r]..row_ptr[r + 1]] {
                let (c, v) = (self.cols[k], self.vals[k]);
                if indices.len() > row_start && *indices.last().unwrap_or(&u32::MAX) == c {
                    let last = data.len() - 1;
                    data[last] += v;
                } else {
                    indices.push(c);
                    data.push(v);
                }
            }
            indptr.push(indices.len());
        }
        for r in 0..n_rows {
            for k in indptr[r]..indptr[r + 1] {
                if !data[k].is_finite() {
                    return Err(SparseError::NonFinite {
                        row: r as u32,
                        col: indices[k],
                        value: data[k],
                    });
                }
            }
        }
        Ok(Csr {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dense_oracle(n_rows: usize, n_cols: usize, t: &[(u32, u32, f32)]) -> Vec<f32> {
        let mut d = vec![0f32; n_rows * n_cols];
        for &(r, c, v) in t {
            d[r as usize * n_cols + c as usize] += v;
        }
        d
    }

    #[test]
    fn builder_sums_duplicates_and_sorts_rows() {
        let m = Csr::from_triplets(
            3,
            4,
            [
                (2, 3, 1.0),
                (0, 2, 1.0),
                (0, 1, 0.5),
                (0, 2, 2.0),
                (2, 0, 4.0),
            ],
        )
        .unwrap();
        assert_eq!(m.indptr(), &[0, 2, 2, 4]);
        assert_eq!(m.indices(), &[1, 2, 0, 3]);
        assert_eq!(m.data(), &[0.5, 3.0, 4.0, 1.0]);
        assert_eq!(m.nnz(), 4);
        assert!((m.density() - 4.0 / 12.0).abs() < 1e-12);
        assert_eq!(m.get(0, 2), Some(3.0));
        assert_eq!(m.get(1, 2), None);
        assert_eq!(m.col_nnz(), vec![1, 1, 1, 1]);
        assert_eq!(m.row_sums(), vec![3.5, 0.0, 5.0]);
    }

    #[test]
    fn builder_rejects_out_of_bounds_and_non_finite() {
        let err = Csr::from_triplets(2, 2, [(0, 2, 1.0)]).unwrap_err();
        assert_eq!(
            err,
            SparseError::OutOfBounds {
                row: 0,
                col: 2,
                n_rows: 2,
                n_cols: 2
            }
        );
        let err = Csr::from_triplets(2, 2, [(1, 1, f32::NAN)]).unwrap_err();
        assert!(matches!(err, SparseError::NonFinite { row: 1, col: 1, .. }));
        let err = Csr::from_triplets(1, 1, [(0, 0, f32::MAX), (0, 0, f32::MAX)]).unwrap_err();
        assert!(matches!(err, SparseError::NonFinite { row: 0, col: 0, .. }));
    }

    #[test]
    fn from_parts_checks_invariants() {
        assert!(Csr::from_parts(2, 3, vec![0, 1, 2], vec![2, 0], vec![1.0, 1.0]).is_ok());
        assert!(Csr::from_parts(2, 3, vec![0, 2], vec![2, 0], vec![1.0, 1.0]).is_err());
        assert!(Csr::from_parts(1, 3, vec![0, 2], vec![2, 0], vec![1.0, 1.0]).is_err());
        assert!(Csr::from_parts(1, 3, vec![0, 2], vec![0, 3], vec![1.0, 1.0]).is_err());
        assert!(Csr::from_parts(1, 3, vec![0, 1], vec![0], vec![f32::INFINITY]).is_err());
        // A middle row pointer past nnz (found by the artifact corruption tests): an error,
        // not an out-of-bounds slice.
        assert!(Csr::from_parts(2, 3, vec![0, 9, 1], vec![0], vec![1.0]).is_err());
    }

    #[test]
    fn empty_and_degenerate_shapes() {
        let m = Csr::from_triplets(0, 0, []).unwrap();
        assert_eq!(
            (m.n_rows(), m.n_cols(), m.nnz(), m.density()),
            (0, 0, 0, 0.0)
        );
        assert_eq!(m.transpose(), m);
        let m = Csr::empty(3, 2);
        assert_eq!(m.transpose().n_rows(), 2);
        assert_eq!(m.row(2).0.len(), 0);
    }

    #[test]
    fn retain_rows_and_map_values() {
        let m = Csr::from_triplets(3, 2, [(0, 0, 1.0), (1, 1, 2.0), (2, 0, 3.0)]).unwrap();
        let kept = m.retain_rows(&[true, false, true]);
        assert_eq!(kept.to_dense(), vec![1.0, 0.0, 0.0, 0.0, 3.0, 0.0]);
        let doubled = m.map_values(|r, c, v| v * 2.0 + r as f32 + c as f32);
        assert_eq!(doubled.data(), &[2.0, 6.0, 8.0]);
    }

    fn triplets() -> impl Strategy<Value = (usize, usize, Vec<(u32, u32, f32)>)> {
        (1usize..12, 1usize..12).prop_flat_map(|(nr, nc)| {
            let t = prop::collection::vec((0..nr as u32, 0..nc as u32, -4i32..5), 0..60)
                .prop_map(|v| v.into_iter().map(|(r, c, x)| (r, c, x as f32)).collect());
            (Just(nr), Just(nc), t)
        })
    }

    proptest! {
        #[test]
        fn build_equals_dense((nr, nc, t) in triplets()) {
            let m = Csr::from_triplets(nr, nc, t.iter().copied()).unwrap();
            prop_assert_eq!(m.to_dense(), dense_oracle(nr, nc, &t));
            for r in 0..nr {
                prop_assert!(m.row(r).0.windows(2).all(|w| w[0] < w[1]));
            }
            let again = Csr::from_parts(nr, nc, m.indptr().to_vec(), m.indices().to_vec(), m.data().to_vec());
            prop_assert_eq!(again.as_ref(), Ok(&m));
        }

        #[test]
        fn transpose_equals_dense_transpose((nr, nc, t) in triplets()) {
            let m = Csr::from_triplets(nr, nc, t.iter().copied()).unwrap();
            let tt = m.transpose();
            let d = m.to_dense();
            let dt = tt.to_dense();
            for r in 0..nr {
                for c in 0..nc {
                    prop_assert_eq!(d[r * nc + c], dt[c * nr + r]);
                }
            }
            prop_assert_eq!(tt.transpose(), m);
        }
    }
}
