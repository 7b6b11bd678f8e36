//! Algorithm specs (`attune train --algorithm als:factors=64,reg=0.01`): a spec that parses has
//! a canonical form that parses back to the same spec, every parameter can be set to its own
//! value, and (with small integers, so fitting stays fast) it fits a tiny data set.
#![no_main]

use attune_core::model::spec::{ItemContent, ParamValue, Spec, SpecFitError, TrainingSet};
use attune_core::sparse::Csr;
use libfuzzer_sys::fuzz_target;

fn tiny_data() -> TrainingSet {
    let triplets = [
        (0, 0, 1.0),
        (0, 1, 2.0),
        (1, 1, 1.0),
        (1, 2, 1.0),
        (2, 3, 3.0),
    ];
    let mut set = TrainingSet::new(Csr::from_triplets(3, 4, triplets).expect("valid"));
    set.ratings = Some(
        Csr::from_triplets(3, 4, [(0, 0, 4.0), (0, 1, 2.0), (1, 2, 5.0), (2, 3, 1.0)])
            .expect("valid"),
    );
    set.item_categories =
        Some(Csr::from_triplets(4, 2, [(0, 0, 1.0), (1, 0, 1.0), (2, 1, 1.0)]).expect("valid"));
    set.item_events = vec![
        (0, 1_000_000, 1.0),
        (1, 2_000_000, 1.0),
        (3, 3_000_000, 2.0),
    ];
    set.now_micros = 4_000_000;
    set.item_content = Some(ItemContent {
        titles: vec![
            "red shoe".into(),
            "blue shoe".into(),
            "tent".into(),
            String::new(),
        ],
        descriptions: vec![String::new(); 4],
        tags: vec![vec!["shoes".into()], vec!["shoes".into()], vec![], vec![]],
        // Dense vectors for `features=vector|both`; item 3 has none.
        vectors: vec![vec![1.0, 0.0], vec![0.9, 0.1], vec![0.0, 1.0], vec![]],
    });
    set
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(spec) = text.parse::<Spec>() else {
        return;
    };
    let canonical = spec.to_string();
    let back: Spec = canonical
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} -> {canonical:?} does not parse: {e}"));
    assert_eq!(back, spec, "{text:?} -> {canonical:?}");
    assert_eq!(back.to_string(), canonical);
    for (name, value) in spec.params() {
        let same = spec
            .with(name, &value.to_string())
            .unwrap_or_else(|e| panic!("{canonical}: {name}={value} refused: {e}"));
        assert_eq!(same, spec, "{canonical}: {name}={value}");
    }
    let small = spec.params().iter().all(|(_, v)| match v {
        ParamValue::Int(n) => *n <= 64,
        _ => true,
    });
    if small {
        // "A spec that parses can always fit" (attune_core::model::spec).
        match spec.fit(&tiny_data()) {
            Ok(fitted) => assert_eq!(fitted.model().as_recommender().n_items(), 4),
            Err(SpecFitError::MissingData { .. }) => {
                panic!("{canonical}: the tiny set has every part")
            }
            Err(e) => panic!("{canonical} parses but does not fit: {e}"),
        }
    }
});
