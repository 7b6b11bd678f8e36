//! Seeded synthetic interaction data for the model and eval tests (the testkit crate depends on
//! attune-core, so core tests carry their own small generator).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::sparse::Csr;

/// Users in `n_groups` taste groups; item `i` belongs to group `i % n_groups`. Each user draws
/// `per_user` distinct items, 85% from their own group with a skewed (power-law-like) choice,
/// the rest uniformly. Weights are 1, 2 or 3 (say view, cart, purchase).
pub(crate) fn taste_matrix(
    n_users: usize,
    n_items: usize,
    n_groups: usize,
    per_user: usize,
    seed: u64,
) -> Csr {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let per_group = n_items / n_groups;
    let mut t = Vec::new();
    for u in 0..n_users {
        let g = u % n_groups;
        let mut chosen = std::collections::BTreeSet::new();
        while chosen.len() < per_user.min(n_items) {
            let item = if rng.random::<f64>() < 0.85 {
                let x: f64 = rng.random();
                let rank = ((x * x * x) * per_group as f64) as usize;
                rank.min(per_group - 1) * n_groups + g
            } else {
                rng.random_range(0..n_items)
            };
            chosen.insert(item as u32);
        }
        for i in chosen {
            t.push((u as u32, i, rng.random_range(1..=3) as f32));
        }
    }
    Csr::from_triplets(n_users, n_items, t).unwrap()
}

/// A uniformly random sparse matrix with values in `1..=max_value` and about `density` filled.
pub(crate) fn random_matrix(
    n_rows: usize,
    n_cols: usize,
    density: f64,
    max_value: u32,
    seed: u64,
) -> Csr {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut t = Vec::new();
    for r in 0..n_rows {
        for c in 0..n_cols {
            if rng.random::<f64>() < density {
                t.push((r as u32, c as u32, rng.random_range(1..=max_value) as f32));
            }
        }
    }
    Csr::from_triplets(n_rows, n_cols, t).unwrap()
}

/// Item content matching [`taste_matrix`]'s groups: item `i` (group `g = i % n_groups`) has
/// category `cat{g}`, a title of two words from its group's vocabulary (`g{g}w{0..12}`) and one
/// generic word, and a description of mostly generic words with one more group word, so text
/// and category both carry the taste signal and TF-IDF has generic words to discount.
pub(crate) fn taste_docs(
    n_items: usize,
    n_groups: usize,
    seed: u64,
) -> Vec<crate::features::ItemDoc> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let generic = [
        "new", "great", "value", "classic", "best", "daily", "home", "pack",
    ];
    (0..n_items)
        .map(|i| {
            let g = i % n_groups;
            let word = |rng: &mut ChaCha8Rng| format!("g{g}w{}", rng.random_range(0..12));
            let title = format!(
                "{} {} {}",
                word(&mut rng),
                word(&mut rng),
                generic[rng.random_range(0..generic.len())]
            );
            let description = format!(
                "{} {} {}",
                generic[rng.random_range(0..generic.len())],
                word(&mut rng),
                generic[rng.random_range(0..generic.len())]
            );
            crate::features::ItemDoc {
                title,
                description,
                categories: vec![format!("cat{g}")],
                ..Default::default()
            }
        })
        .collect()
}
