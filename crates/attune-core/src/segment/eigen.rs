//! Eigen-decomposition of a small symmetric matrix by the cyclic Jacobi method, for
//! [`mod@super::pca`] (a covariance matrix is features x features, rarely more than a few dozen).
//!
//! Jacobi is chosen over a linear-algebra crate (linfa/ndarray bring a BLAS-shaped build) and
//! over QR iteration because it is short, needs no shifts or deflation and computes small
//! eigenvalues and their vectors to high relative accuracy. Each rotation zeroes one
//! off-diagonal pair (`t` is the smaller root of `t² + 2θt - 1 = 0`, the stable choice); sweeps
//! over all pairs repeat until the off-diagonal part is negligible (convergence is quadratic:
//! typically 6–10 sweeps).

/// Eigenvalues (descending; ties keep their original order) and the matching unit eigenvectors,
/// `vectors[i]` for `values[i]`, of the symmetric `n x n` row-major matrix `a`.
pub(crate) fn symmetric_eigen(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    debug_assert_eq!(a.len(), n * n);
    let mut v = vec![0.0; n * n];
    (0..n).for_each(|i| v[i * n + i] = 1.0);
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|p| (p + 1..n).map(move |q| (p, q)))
            .map(|(p, q)| a[p * n + q] * a[p * n + q])
            .sum();
        if off.sqrt() <= f64::EPSILON * 1e-3 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + theta.hypot(1.0));
                let c = 1.0 / t.hypot(1.0);
                let s = t * c;
                rotate(&mut a, n, p, q, c, s);
                a[p * n + q] = 0.0;
                a[q * n + p] = 0.0;
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]).then(i.cmp(&j)));
    let values = order.iter().map(|&i| a[i * n + i]).collect();
    let vectors = order
        .iter()
        .map(|&i| (0..n).map(|k| v[k * n + i]).collect())
        .collect();
    (values, vectors)
}

/// `a <- Jᵀ a J` for the rotation `J` in the (p, q) plane (`J_pp = J_qq = c`, `J_pq = s`,
/// `J_qp = -s`).
fn rotate(a: &mut [f64], n: usize, p: usize, q: usize, c: f64, s: f64) {
    for k in 0..n {
        let (akp, akq) = (a[k * n + p], a[k * n + q]);
        a[k * n + p] = c * akp - s * akq;
        a[k * n + q] = s * akp + c * akq;
    }
    for k in 0..n {
        let (apk, aqk) = (a[p * n + k], a[q * n + k]);
        a[p * n + k] = c * apk - s * aqk;
        a[q * n + k] = s * apk + c * aqk;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn decomposes_random_symmetric_matrices() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for n in [1, 2, 3, 6, 12] {
            let mut a = vec![0.0; n * n];
            for i in 0..n {
                for j in i..n {
                    let x: f64 = rng.random_range(-2.0..2.0);
                    a[i * n + j] = x;
                    a[j * n + i] = x;
                }
            }
            let (values, vectors) = symmetric_eigen(a.clone(), n);
            assert!(values.windows(2).all(|w| w[0] >= w[1]));
            for (lambda, x) in values.iter().zip(&vectors) {
                for i in 0..n {
                    let ax: f64 = (0..n).map(|j| a[i * n + j] * x[j]).sum();
                    assert!((ax - lambda * x[i]).abs() < 1e-12, "n={n}");
                }
            }
            for (i, x) in vectors.iter().enumerate() {
                for (j, y) in vectors.iter().enumerate() {
                    let dot: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn diagonal_input_is_already_decomposed() {
        let (values, vectors) = symmetric_eigen(vec![1.0, 0.0, 0.0, 3.0], 2);
        assert_eq!(values, vec![3.0, 1.0]);
        assert_eq!(vectors, vec![vec![0.0, 1.0], vec![1.0, 0.0]]);
    }
}
