//! Which series a served list counts in: every list in the overall one (no labels), and one
//! per model version, list source, experiment variant and segment it has.

use std::collections::{BTreeMap, HashMap};

use attune_core::attribution::ServedList;

use crate::series::Labels;

/// Label set → indices of the lists in it, overall first (the empty label set sorts first).
pub fn group_labels(
    lists: &[ServedList],
    segments: Option<&HashMap<String, String>>,
) -> BTreeMap<Labels, Vec<usize>> {
    let mut out: BTreeMap<Labels, Vec<usize>> = BTreeMap::new();
    let one = |k: &str, v: String| Labels::from([(k.to_string(), v)]);
    for (i, l) in lists.iter().enumerate() {
        let mut sets = vec![Labels::new()];
        if let Some(v) = l.model_version {
            sets.push(one("model_version", v.to_string()));
        }
        if let Some(s) = &l.source {
            sets.push(one("source", s.clone()));
        }
        if let Some((e, v)) = &l.experiment {
            sets.push(Labels::from([
                ("experiment".to_string(), e.clone()),
                ("variant".to_string(), v.clone()),
            ]));
        }
        if let Some(s) = segments.and_then(|m| m.get(&l.user)) {
            sets.push(one("segment", s.clone()));
        }
        for s in sets {
            out.entry(s).or_default().push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(
        user: &str,
        version: Option<u32>,
        source: &str,
        exp: Option<(&str, &str)>,
    ) -> ServedList {
        ServedList {
            recommendation_id: format!("r-{user}"),
            user: user.into(),
            served_micros: 0,
            items: vec!["a".into()],
            model_version: version,
            source: Some(source.into()),
            experiment: exp.map(|(e, v)| (e.into(), v.into())),
            latency_ms: None,
        }
    }

    #[test]
    fn every_list_is_in_the_overall_series_and_in_one_per_label() {
        let lists = vec![
            list("u1", Some(3), "personalized", Some(("ab", "b"))),
            list("u2", Some(3), "cold_start", None),
            list("u3", None, "popular", None),
        ];
        let segments = HashMap::from([("u1".to_string(), "de".to_string())]);
        let g = group_labels(&lists, Some(&segments));
        let key = |pairs: &[(&str, &str)]| crate::series::labels(pairs);
        assert_eq!(g[&Labels::new()], vec![0, 1, 2]);
        assert_eq!(g.keys().next(), Some(&Labels::new()));
        assert_eq!(g[&key(&[("model_version", "3")])], vec![0, 1]);
        assert_eq!(g[&key(&[("source", "cold_start")])], vec![1]);
        assert_eq!(g[&key(&[("experiment", "ab"), ("variant", "b")])], vec![0]);
        assert_eq!(g[&key(&[("segment", "de")])], vec![0]);
        assert_eq!(g.len(), 1 + 1 + 3 + 1 + 1);
    }
}
