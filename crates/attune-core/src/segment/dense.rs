//! [`Dense`]: the row-major `f64` matrix every segmentation algorithm takes (one row per user,
//! one column per feature).
//!
//! The constructor is the only way in and checks shape, emptiness and finiteness once, so the
//! algorithms never meet a NaN (which would make every distance NaN and every comparison false)
//! and never re-check.

use super::error::{invalid, Result, SegmentError};

/// A checked, non-empty, all-finite, row-major matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Dense {
    /// A `rows x cols` matrix from row-major `data`. Errors: `data.len() != rows * cols`, zero
    /// rows or columns, or a NaN/infinite value (the first one is named).
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        let expected = rows.saturating_mul(cols);
        if data.len() != expected {
            return Err(SegmentError::Shape {
                rows,
                cols,
                expected,
                got: data.len(),
            });
        }
        if rows == 0 || cols == 0 {
            return Err(SegmentError::Empty { rows, cols });
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(SegmentError::NonFinite {
                row: i / cols,
                col: i % cols,
                value: data[i],
            });
        }
        Ok(Self { rows, cols, data })
    }

    /// A matrix from equal-length rows (convenient for tests and small inputs).
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self> {
        let cols = rows.first().map_or(0, Vec::len);
        if let Some((i, bad)) = rows.iter().enumerate().find(|(_, r)| r.len() != cols) {
            return Err(invalid(
                "rows",
                format!("row {i} has {} values, row 0 has {cols}", bad.len()),
            ));
        }
        Self::new(rows.len(), cols, rows.concat())
    }

    /// Number of rows (users).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major values.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The matrix's rows in order.
    pub fn iter_rows(&self) -> impl Iterator<Item = &[f64]> {
        self.data.chunks_exact(self.cols)
    }

    /// Per-column means.
    pub(crate) fn column_means(&self) -> Vec<f64> {
        let mut mean = vec![0.0; self.cols];
        for row in self.iter_rows() {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        let n = self.rows as f64;
        mean.iter_mut().for_each(|m| *m /= n);
        mean
    }
}

/// Squared Euclidean distance, summed directly (not through `|a|^2 - 2ab + |b|^2`, which loses
/// digits when points are close relative to their norms).
pub(crate) fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructor_checks_shape_emptiness_and_finiteness() {
        assert!(matches!(
            Dense::new(2, 2, vec![1.0; 3]),
            Err(SegmentError::Shape { got: 3, .. })
        ));
        assert!(matches!(
            Dense::new(0, 3, vec![]),
            Err(SegmentError::Empty { rows: 0, cols: 3 })
        ));
        let err = Dense::new(2, 2, vec![1.0, 2.0, f64::NAN, 4.0]).unwrap_err();
        assert!(matches!(
            err,
            SegmentError::NonFinite { row: 1, col: 0, .. }
        ));
        assert!(Dense::new(1, 1, vec![f64::INFINITY]).is_err());
        assert!(Dense::from_rows(&[vec![1.0, 2.0], vec![3.0]]).is_err());
        let m = Dense::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0]]).unwrap();
        assert_eq!(m.row(1), &[3.0, 4.0]);
        assert_eq!(m.column_means(), vec![2.0, 3.0]);
    }
}
