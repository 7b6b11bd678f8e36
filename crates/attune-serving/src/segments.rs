//! Serving by user segment (`[serving.segments]`, docs/segments.md): the segment is a profile
//! attribute (`attune segment --save-as segment` writes it, the scheduler can refresh it), read
//! with the user's live state. It picks the model version that serves the user (a version per
//! segment, else the active one) and, for a user without history, the items their segment
//! engaged with before trending and popular overall ([`SegmentPopularity`]).

use std::collections::{BTreeMap, HashMap};

use attune_core::model::SegmentPopularity;
use attune_store::Store;

use crate::model::LoadedModel;

/// The settings of serving by segment.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentServing {
    /// The profile attribute that holds a user's segment.
    pub attribute: String,
    /// A model version per segment value; users of other segments (or none) get the active
    /// version.
    pub models: BTreeMap<String, u32>,
    /// `m` of [`SegmentPopularity`]: how many users' worth of evidence the overall popularity
    /// counts for in a segment's cold-start list.
    pub prior_users: f32,
}

impl SegmentServing {
    /// The version that serves `segment`, if one is configured for it.
    pub fn version_for(&self, segment: Option<&str>) -> Option<u32> {
        self.models.get(segment?).copied()
    }

    /// Every version a segment is served by (kept loaded beside experiment variants).
    pub fn versions(&self) -> impl Iterator<Item = u32> + '_ {
        self.models.values().copied()
    }
}

/// What a snapshot knows of segments: their names and each one's popularity over the model's
/// training history, counted with the segments users have when the version is loaded.
pub(crate) struct SegmentPrefs {
    names: Vec<String>,
    index: HashMap<String, u32>,
    pub(crate) popularity: SegmentPopularity,
}

impl SegmentPrefs {
    /// Counts for `model`'s training users from their profiles' `config.attribute`.
    pub(crate) fn build(
        store: &dyn Store,
        app: &str,
        model: &LoadedModel,
        config: &SegmentServing,
    ) -> Result<Self, attune_store::StoreError> {
        let mut of_user: HashMap<String, String> = HashMap::new();
        store.scan_users(app, &mut |u| {
            if let Some(s) = attune_experiment::assign::attribute(Some(&u), &config.attribute) {
                of_user.insert(u.user_id, s);
            }
            true
        })?;
        let mut names: Vec<String> = of_user.values().cloned().collect();
        names.sort_unstable();
        names.dedup();
        let index: HashMap<String, u32> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        let segment_of: Vec<Option<u32>> = (0..model.users.len() as u32)
            .map(|u| {
                let id = model.users.name(u)?;
                index.get(of_user.get(id)?).copied()
            })
            .collect();
        let popularity =
            SegmentPopularity::fit(&model.history, &segment_of, names.len(), config.prior_users);
        Ok(Self {
            names,
            index,
            popularity,
        })
    }

    /// The index of a segment seen at load, if it had any users.
    pub(crate) fn get(&self, segment: &str) -> Option<u32> {
        self.index
            .get(segment)
            .copied()
            .filter(|&s| self.popularity.users(s) > 0)
    }

    /// A segment's name.
    pub(crate) fn name(&self, segment: u32) -> Option<&str> {
        self.names.get(segment as usize).map(String::as_str)
    }

    /// Segments known.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_serves_only_its_segment() {
        let s = SegmentServing {
            attribute: "segment".into(),
            models: BTreeMap::from([("heavy".into(), 7), ("new".into(), 3)]),
            prior_users: 20.0,
        };
        assert_eq!(s.version_for(Some("heavy")), Some(7));
        assert_eq!(s.version_for(Some("active")), None);
        assert_eq!(s.version_for(None), None);
        assert_eq!(s.versions().collect::<Vec<_>>(), vec![7, 3]);
    }
}
