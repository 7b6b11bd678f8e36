//! Diversity re-ranking by maximal marginal relevance (Carbonell and Goldstein 1998): pick, one
//! at a time, the candidate maximizing `λ · relevance − (1 − λ) · max similarity to the items
//! already picked`. λ = 1 keeps the model's order; smaller values trade relevance for variety.

/// Re-rank `candidates` (`(item, score)`, best first) and return the first `n`. Relevance is
/// the score min-max normalized over the candidates, so λ means the same for every model;
/// `sim` should be in `[0, 1]`-ish (cosines). Ties keep the model's order.
pub fn mmr(
    candidates: &[(u32, f32)],
    n: usize,
    lambda: f32,
    sim: impl Fn(u32, u32) -> f32,
) -> Vec<(u32, f32)> {
    let (lo, hi) = candidates
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), c| {
            (lo.min(c.1), hi.max(c.1))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut left: Vec<(u32, f32)> = candidates.to_vec();
    // max similarity of each remaining candidate to the picked set.
    let mut closest = vec![0f32; left.len()];
    let mut picked: Vec<(u32, f32)> = Vec::with_capacity(n.min(left.len()));
    while picked.len() < n && !left.is_empty() {
        let mut best = 0;
        let mut best_value = f32::NEG_INFINITY;
        for (p, &(_, score)) in left.iter().enumerate() {
            let rel = (score - lo) / span;
            let value = lambda * rel - (1.0 - lambda) * closest[p];
            if value > best_value {
                best_value = value;
                best = p;
            }
        }
        let chosen = left.remove(best);
        closest.remove(best);
        for (p, c) in left.iter().enumerate() {
            closest[p] = closest[p].max(sim(chosen.0, c.0));
        }
        picked.push(chosen);
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items 0..4 are near-duplicates of each other; 10 and 11 are different.
    fn sim(a: u32, b: u32) -> f32 {
        if a < 5 && b < 5 {
            0.95
        } else {
            0.0
        }
    }

    #[test]
    fn lambda_one_keeps_the_order_and_lower_lambda_diversifies() {
        let c = [
            (0, 1.0),
            (1, 0.99),
            (2, 0.98),
            (3, 0.97),
            (10, 0.6),
            (11, 0.5),
        ];
        let order = |l: f32| mmr(&c, 3, l, sim).iter().map(|x| x.0).collect::<Vec<_>>();
        assert_eq!(order(1.0), vec![0, 1, 2]);
        // Relevance is min-max normalized: the weakest candidate has relevance 0.
        assert_eq!(order(0.3), vec![0, 10, 11]);
        assert_eq!(order(0.5), vec![0, 10, 1]);
        // Scores travel with their items.
        assert_eq!(mmr(&c, 2, 0.3, sim)[1], (10, 0.6));
        assert!(mmr(&[], 3, 0.5, sim).is_empty());
        assert_eq!(mmr(&c, 10, 0.3, sim).len(), c.len());
    }
}
