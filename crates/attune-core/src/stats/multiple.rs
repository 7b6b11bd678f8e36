//! Multiple comparisons: several metrics or several variants tested at once.
//!
//! Holm's step-down procedure (Holm 1979, "A Simple Sequentially Rejective Multiple Test
//! Procedure") controls the family-wise error rate like Bonferroni under any dependence
//! between the tests, and is uniformly more powerful. With the m p-values sorted ascending,
//! `p̃_(i) = min(1, max_{j ≤ i} (m − j + 1) p_(j))`; reject where `p̃ <= α`. This is statsmodels
//! `multipletests(p, method="holm")[1]`.

use super::error::{at_least, probability, Result};

/// Holm-adjusted p-values, in the input order (`p_values` non-empty, each in [0, 1]).
pub fn holm(p_values: &[f64]) -> Result<Vec<f64>> {
    at_least("p_values.len()", p_values.len() as u64, 1)?;
    for (i, &p) in p_values.iter().enumerate() {
        probability(format!("p_values[{i}]"), p)?;
    }
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    // Stable, so tied p-values keep their input order (their adjusted values are equal anyway).
    order.sort_by(|&i, &j| p_values[i].total_cmp(&p_values[j]));
    let mut adjusted = vec![0.0; m];
    let mut running_max = 0.0_f64;
    for (rank, &i) in order.iter().enumerate() {
        running_max = running_max.max(((m - rank) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running_max;
    }
    Ok(adjusted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::reference::{assert_close, cases, name, nums};

    #[test]
    fn matches_statsmodels_multipletests() {
        for c in cases("multiple", "holm") {
            let what = name(c);
            let got = holm(&nums(c, "p")).unwrap();
            for (i, (g, want)) in got.iter().zip(nums(c, "adjusted")).enumerate() {
                assert_close(*g, want, &format!("{what}: adjusted[{i}]"));
            }
        }
    }

    #[test]
    fn worked_example() {
        // m = 4: sorted 0.01·4, 0.02·3, 0.03·2, 0.5·1 → 0.04, 0.06, 0.06 (running max), 0.5.
        let got = holm(&[0.03, 0.5, 0.01, 0.02]).unwrap();
        let want = [0.06, 0.5, 0.04, 0.06];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{got:?}");
        }
    }

    #[test]
    fn rules_name_the_argument() {
        assert!(holm(&[])
            .unwrap_err()
            .to_string()
            .starts_with("p_values.len():"));
        let e = holm(&[0.1, -0.1]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("p_values[1]: must be a probability"),
            "{e}"
        );
        assert!(holm(&[f64::NAN]).is_err());
    }
}
