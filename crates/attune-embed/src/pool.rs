//! Sentence vectors from token vectors: the mean under the attention mask, then unit length.

use candle_core::{DType, Tensor, D};

/// The mean of each sequence's token vectors where `mask` is 1: `hidden` is
/// `(batch, seq, dim)`, `mask` `(batch, seq)` of 0/1 (any integer or float type); the result
/// is `(batch, dim)`. A sequence with no unmasked token gives zeros (never a division by 0).
pub fn mean_pool(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(hidden.dtype())?.unsqueeze(D::Minus1)?; // (b, s, 1)
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?; // (b, d)
    let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (b, 1)
    summed.broadcast_div(&counts)
}

/// Each row scaled to unit L2 norm (`(batch, dim)`; an all-zero row stays zero).
pub fn l2_normalize(v: &Tensor) -> candle_core::Result<Tensor> {
    let norm = v
        .to_dtype(DType::F32)?
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12f32, f32::MAX)?;
    v.broadcast_div(&norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
    }

    #[test]
    fn mean_pool_averages_only_unmasked_tokens() {
        let d = Device::Cpu;
        // Two sequences of three tokens, two dimensions; the second has one padding token
        // whose (large) vector must not count.
        let hidden = Tensor::from_vec(
            vec![
                1f32, 2., 3., 4., 5., 6., //
                10., 0., 20., 0., 999., 999.,
            ],
            (2, 3, 2),
            &d,
        )
        .unwrap();
        let mask = Tensor::from_vec(vec![1u32, 1, 1, 1, 1, 0], (2, 3), &d).unwrap();
        let p = mean_pool(&hidden, &mask).unwrap().to_vec2::<f32>().unwrap();
        assert!(close(&p[0], &[3.0, 4.0]), "{p:?}");
        assert!(close(&p[1], &[15.0, 0.0]), "{p:?}");
    }

    #[test]
    fn a_fully_masked_sequence_pools_to_zeros() {
        let d = Device::Cpu;
        let hidden = Tensor::from_vec(vec![5f32, 5.0], (1, 1, 2), &d).unwrap();
        let mask = Tensor::from_vec(vec![0u32], (1, 1), &d).unwrap();
        let p = mean_pool(&hidden, &mask).unwrap().to_vec2::<f32>().unwrap();
        assert!(close(&p[0], &[0.0, 0.0]), "{p:?}");
        let n = l2_normalize(&mean_pool(&hidden, &mask).unwrap())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert!(close(&n[0], &[0.0, 0.0]), "{n:?}");
    }

    #[test]
    fn l2_normalize_gives_unit_rows_in_the_same_direction() {
        let d = Device::Cpu;
        let v = Tensor::from_vec(vec![3f32, 4.0, -1.0, 0.0], (2, 2), &d).unwrap();
        let n = l2_normalize(&v).unwrap().to_vec2::<f32>().unwrap();
        assert!(close(&n[0], &[0.6, 0.8]), "{n:?}");
        assert!(close(&n[1], &[-1.0, 0.0]), "{n:?}");
    }
}
