//! Deterministic assignment: which layer bucket a user falls in, whether they enter a running
//! experiment, and which variant they get. Pure functions of the user key and the experiment,
//! so every replica, and the same replica after a restart, assigns alike without coordination.
//!
//! - The layer bucket is `xxh64("layer:{layer}:{user}") mod 10,000`; an experiment holds the
//!   buckets `[start, end)` the store allocated when its phase started. Different layers hash
//!   independently, so membership in one layer's experiment says nothing about another's.
//! - The variant is chosen by `u = xxh64("{experiment}:{phase}:{user}") / 2^64` against the
//!   cumulative shares, so a new phase (a changed definition) re-randomizes and never mixes.
//!
//! xxHash64 (seed 0) is fixed by its specification: the same key gives the same bucket on any
//! platform, release and process; `std`'s hasher is randomized per process and so unusable.

use std::collections::BTreeMap;

use attune_core::catalog::{AttrValue, User};
use xxhash_rust::xxh64::xxh64;

use crate::definition::{Condition, Definition};

/// The user's bucket in `layer`, in `[0, 10,000)`.
pub fn layer_bucket(layer: &str, user_key: &str) -> u32 {
    let h = xxh64(format!("layer:{layer}:{user_key}").as_bytes(), 0);
    (h % u64::from(attune_store::LAYER_BUCKETS)) as u32
}

/// A uniform draw in `[0, 1)` for `user_key` in `experiment`'s `phase`.
pub fn variant_draw(experiment: &str, phase: u32, user_key: &str) -> f64 {
    let h = xxh64(format!("{experiment}:{phase}:{user_key}").as_bytes(), 0);
    // The top 53 bits: every f64 in [0, 1) with that spacing, exactly.
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The index of the variant a draw `u` in `[0, 1)` falls in, by cumulative shares (the last
/// variant takes any rounding remainder).
pub fn pick(shares: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (i, s) in shares.iter().enumerate() {
        acc += s;
        if u < acc {
            return i;
        }
    }
    shares.len().saturating_sub(1)
}

/// The variant index `user_key` gets in `experiment`'s `phase` under `definition`'s shares.
pub fn variant_of(definition: &Definition, experiment: &str, phase: u32, user_key: &str) -> usize {
    let shares: Vec<f64> = definition.variants.iter().map(|v| v.share).collect();
    pick(&shares, variant_draw(experiment, phase, user_key))
}

/// The text of a profile attribute, for targeting and bandit contexts (`user_type` is `known`
/// for a user with a profile, `anonymous` without one).
pub fn attribute(profile: Option<&User>, name: &str) -> Option<String> {
    if name == "user_type" {
        return Some(
            if profile.is_some() {
                "known"
            } else {
                "anonymous"
            }
            .into(),
        );
    }
    let attrs: &BTreeMap<String, AttrValue> = &profile?.attributes;
    Some(match attrs.get(name)? {
        AttrValue::Text(t) => t.clone(),
        AttrValue::Number(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => format!("{}", *x as i64),
        AttrValue::Number(x) => x.to_string(),
        AttrValue::Bool(b) => b.to_string(),
        // A dense vector is no targeting value: no condition matches it.
        AttrValue::Vector(_) => return None,
    })
}

/// Whether the user passes every condition.
pub fn targeted(conditions: &[Condition], profile: Option<&User>) -> bool {
    conditions.iter().all(|c| {
        let value = attribute(profile, &c.attribute);
        let in_ok = c.one_of.is_empty() || value.as_ref().is_some_and(|v| c.one_of.contains(v));
        let not_ok = value.as_ref().is_none_or(|v| !c.not_in.contains(v));
        in_ok && not_ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two(shares: [f64; 2]) -> Definition {
        Definition::from_json(&format!(
            r#"{{"variants": [{{"name": "a", "share": {}}}, {{"name": "b", "share": {}}}]}}"#,
            shares[0], shares[1]
        ))
        .unwrap()
    }

    #[test]
    fn the_hash_is_the_specified_one() {
        // Pinned values: a change of hash would reassign every running experiment.
        assert_eq!(xxh64(b"", 0), 0xEF46DB3751D8E999);
        assert_eq!(
            layer_bucket("recs", "user-1"),
            layer_bucket("recs", "user-1")
        );
        let u = variant_draw("homepage", 1, "user-1");
        assert!((0.0..1.0).contains(&u));
        assert_ne!(
            u,
            variant_draw("homepage", 2, "user-1"),
            "a new phase re-randomizes"
        );
    }

    #[test]
    fn shares_are_met_and_layers_are_independent() {
        let d = two([0.3, 0.7]);
        let n = 100_000;
        let mut counts = [0usize; 2];
        let mut both = 0usize;
        for u in 0..n {
            let key = format!("user-{u}");
            counts[variant_of(&d, "homepage", 1, &key)] += 1;
            // In the lower half of layer A and the lower half of layer B: a quarter, if the
            // layers are independent.
            if layer_bucket("a", &key) < 5_000 && layer_bucket("b", &key) < 5_000 {
                both += 1;
            }
        }
        let share = counts[0] as f64 / n as f64;
        // 3 standard errors of a binomial share at n = 100,000.
        assert!(
            (share - 0.3).abs() < 3.0 * (0.3f64 * 0.7 / n as f64).sqrt(),
            "{share}"
        );
        let q = both as f64 / n as f64;
        assert!(
            (q - 0.25).abs() < 3.0 * (0.25f64 * 0.75 / n as f64).sqrt(),
            "{q}"
        );
    }

    #[test]
    fn pick_follows_cumulative_shares() {
        assert_eq!(pick(&[0.5, 0.5], 0.0), 0);
        assert_eq!(pick(&[0.5, 0.5], 0.4999), 0);
        assert_eq!(pick(&[0.5, 0.5], 0.5), 1);
        assert_eq!(pick(&[0.2, 0.3, 0.5], 0.49), 1);
        // Rounding remainders go to the last variant.
        assert_eq!(pick(&[0.1, 0.2, 0.7 - 1e-12], 0.999_999_999_999_9), 2);
    }

    #[test]
    fn targeting_reads_profile_attributes() {
        let mut u = User {
            user_id: "u".into(),
            ..User::default()
        };
        u.attributes
            .insert("country".into(), AttrValue::Text("DE".into()));
        u.attributes.insert("age".into(), AttrValue::Number(34.0));
        let c = |attribute: &str, one_of: &[&str], not_in: &[&str]| Condition {
            attribute: attribute.into(),
            one_of: one_of.iter().map(|s| s.to_string()).collect(),
            not_in: not_in.iter().map(|s| s.to_string()).collect(),
        };
        assert!(targeted(&[c("country", &["DE", "FR"], &[])], Some(&u)));
        assert!(!targeted(&[c("country", &["US"], &[])], Some(&u)));
        assert!(targeted(&[c("age", &["34"], &[])], Some(&u)));
        assert!(!targeted(&[c("country", &[], &["DE"])], Some(&u)));
        // Without the attribute: `in` fails, `not_in` passes.
        assert!(!targeted(&[c("tier", &["gold"], &[])], Some(&u)));
        assert!(targeted(&[c("tier", &[], &["gold"])], Some(&u)));
        assert!(targeted(&[c("user_type", &["anonymous"], &[])], None));
        assert!(!targeted(&[c("user_type", &["anonymous"], &[])], Some(&u)));
        assert!(targeted(&[], None));
    }
}
