//! Personalization strength: a request can turn personalization down. The list blends two
//! rankings of the same allowed, unseen candidates — the model's and popularity's — by rank
//! (Borda-style): an item at rank `r` (0-based) of a ranking of `m` candidates earns
//! `1 − r/m` from it (0 when absent), and its blended score is
//! `s · model part + (1 − s) · popularity part`. Ranks rather than raw scores, because model
//! scores and popularity counts live on unrelated scales: `s` then means the same for every
//! model. `s = 1` is the model's order, `s = 0` popularity's.

use std::collections::HashMap;

/// One blended candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Blended {
    /// The item.
    pub item: u32,
    /// Its blended score.
    pub score: f32,
    /// The model's part outweighs popularity's (its explanation is the model's).
    pub personal: bool,
}

/// Blend `model` and `popular` (each `(item, score)`, best first) at strength `s`, best
/// first; ties keep the model's order, then popularity's.
pub fn blend(model: &[(u32, f32)], popular: &[(u32, f32)], s: f32) -> Vec<Blended> {
    let part = |rank: usize, m: usize| 1.0 - rank as f32 / m.max(1) as f32;
    let mut at: HashMap<u32, (f32, f32, usize)> = HashMap::new();
    for (r, &(i, _)) in model.iter().enumerate() {
        at.entry(i).or_insert((0.0, 0.0, r)).0 = part(r, model.len());
    }
    for (r, &(i, _)) in popular.iter().enumerate() {
        let e = at.entry(i).or_insert((0.0, 0.0, model.len() + r));
        e.1 = part(r, popular.len());
    }
    let mut out: Vec<(Blended, usize)> = at
        .into_iter()
        .map(|(item, (m, p, order))| {
            let (a, b) = (s * m, (1.0 - s) * p);
            (
                Blended {
                    item,
                    score: a + b,
                    personal: a >= b,
                },
                order,
            )
        })
        .collect();
    out.sort_by(|x, y| y.0.score.total_cmp(&x.0.score).then(x.1.cmp(&y.1)));
    out.into_iter().map(|(b, _)| b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(v: &[Blended]) -> Vec<u32> {
        v.iter().map(|b| b.item).collect()
    }

    #[test]
    fn the_ends_are_the_two_rankings() {
        let model = [(1, 0.9), (2, 0.8), (3, 0.7)];
        let popular = [(3, 100.0), (4, 90.0), (1, 80.0)];
        assert_eq!(items(&blend(&model, &popular, 1.0))[..3], [1, 2, 3]);
        assert_eq!(items(&blend(&model, &popular, 0.0))[..3], [3, 4, 1]);
        assert!(blend(&model, &popular, 1.0)[0].personal);
        assert!(!blend(&model, &popular, 0.0)[0].personal);
    }

    #[test]
    fn half_way_favours_what_both_rank_high() {
        // Model ranks: 1 → 1, 2 → 2/3, 3 → 1/3; popularity: 3 → 1, 4 → 2/3, 1 → 1/3.
        // At s = 0.5: 1 → 2/3, 3 → 2/3, 2 → 1/3, 4 → 1/3; ties by the model's order.
        let model = [(1, 0.9), (2, 0.8), (3, 0.7)];
        let popular = [(3, 100.0), (4, 90.0), (1, 80.0)];
        let b = blend(&model, &popular, 0.5);
        assert_eq!(items(&b), [1, 3, 2, 4]);
        assert!((b[0].score - 2.0 / 3.0).abs() < 1e-6);
    }
}
