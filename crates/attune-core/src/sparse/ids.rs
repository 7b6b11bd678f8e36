//! External string ids ⇄ dense `u32` indices.

use std::collections::HashMap;

/// Maps external string ids (user ids, item ids) to dense `u32` indices and back.
///
/// Indices are handed out in first-seen order, so the same input sequence always gives the same
/// indices (determinism: the same data and seed give the same model). [`Interner::sorted`] gives
/// an order that does not depend on input order at all, for data read from unordered sources.
///
/// Each id is stored twice (map key and reverse table); at tens of bytes per id this is small
/// next to the factors of the same user or item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interner {
    index: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    /// An interner whose indices follow the lexicographic order of the distinct ids.
    pub fn sorted<S: AsRef<str>>(ids: impl IntoIterator<Item = S>) -> Self {
        let mut all: Vec<Box<str>> = ids.into_iter().map(|s| Box::from(s.as_ref())).collect();
        all.sort_unstable();
        all.dedup();
        let mut out = Self::default();
        for id in all {
            out.intern(&id);
        }
        out
    }

    /// The index of `id`, assigning the next free one if it is new.
    ///
    /// # Panics
    /// After `u32::MAX` distinct ids (the index type is `u32` by design).
    pub fn intern(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = u32::try_from(self.names.len()).expect("more than u32::MAX distinct ids");
        assert!(i != u32::MAX, "more than u32::MAX distinct ids");
        self.names.push(Box::from(id));
        self.index.insert(Box::from(id), i);
        i
    }

    /// The index of `id`, if it was interned.
    pub fn get(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// The external id of index `i`.
    pub fn name(&self, i: u32) -> Option<&str> {
        self.names.get(i as usize).map(|s| &**s)
    }

    /// Number of distinct ids (= the next index).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no id was interned.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// External ids in index order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.names.iter().map(|s| &**s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_seen_order_round_trips() {
        let mut ids = Interner::default();
        assert_eq!(ids.intern("b"), 0);
        assert_eq!(ids.intern("a"), 1);
        assert_eq!(ids.intern("b"), 0);
        assert_eq!((ids.len(), ids.get("a"), ids.get("z")), (2, Some(1), None));
        assert_eq!(ids.name(1), Some("a"));
        assert_eq!(ids.name(2), None);
        assert_eq!(ids.names().collect::<Vec<_>>(), ["b", "a"]);
    }

    #[test]
    fn sorted_ignores_input_order() {
        let a = Interner::sorted(["u3", "u1", "u2", "u1"]);
        let b = Interner::sorted(vec!["u2".to_string(), "u3".into(), "u1".into()]);
        assert_eq!(a, b);
        assert_eq!(a.names().collect::<Vec<_>>(), ["u1", "u2", "u3"]);
    }

    proptest! {
        #[test]
        fn intern_is_a_bijection(ids in prop::collection::vec("[a-d]{0,3}", 0..40)) {
            let mut it = Interner::default();
            let idx: Vec<u32> = ids.iter().map(|s| it.intern(s)).collect();
            for (s, &i) in ids.iter().zip(&idx) {
                prop_assert_eq!(it.name(i), Some(s.as_str()));
                prop_assert_eq!(it.get(s), Some(i));
            }
            let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
            prop_assert_eq!(it.len(), distinct.len());
        }
    }
}
