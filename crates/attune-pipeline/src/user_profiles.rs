//! The hybrid's user features for a [`crate::dataset::Dataset`]: the profile attribute columns
//! of the app's user feature table (`attune features users --prepared --columns attr.*`), in the
//! data set's user order. Other algorithms ignore them.
//!
//! Only attributes: they are what a user who arrived after training has before any history
//! (serving encodes the profile with the encoding the model keeps), while the behavioural
//! columns would repeat what the interactions already teach and cost a recomputation from
//! events on the serving path.

use attune_core::catalog::User;
use attune_core::features::{prepare, user_features, UserFeatureParams};
use attune_core::model::spec::UserFeatureRows;
use attune_core::model::UserFeatureEncoding;
use attune_core::sparse::{Csr, Interner};
use attune_core::time::Timestamp;

use crate::error::{PipelineError, Result};

/// A category becomes a feature when at least this many users have it (the default of
/// `attune features users --prepared --min-count`): rarer values would get embeddings trained
/// on a handful of users.
pub const MIN_COUNT: u64 = 5;

/// The encoded profiles of `users` (those interned in `rows`) as rows of `rows`' users;
/// `None` when no profile has an attribute with a usable value.
pub fn profile_rows(users: &[User], rows: &Interner) -> Result<Option<UserFeatureRows>> {
    let known: Vec<User> = users
        .iter()
        .filter(|u| !u.attributes.is_empty() && rows.get(&u.user_id).is_some())
        .cloned()
        .collect();
    if known.is_empty() {
        return Ok(None);
    }
    let raw = user_features(
        std::iter::empty(),
        &known,
        |_| None,
        Timestamp::from_utc_micros(0),
        &UserFeatureParams::default(),
    );
    let attrs: Vec<&str> = raw
        .column_names()
        .into_iter()
        .filter(|n| n.starts_with("attr."))
        .collect();
    let raw = raw.select(&attrs).map_err(PipelineError::internal)?;
    let prepared = prepare(&raw, MIN_COUNT).map_err(PipelineError::internal)?;
    let (encoding, by_profile) =
        UserFeatureEncoding::from_prepared(&prepared).map_err(PipelineError::internal)?;
    if encoding.width() == 0 {
        return Ok(None);
    }
    let mut triplets = Vec::with_capacity(by_profile.nnz());
    for (r, id) in prepared.users.iter().enumerate() {
        let u = rows.get(id).expect("only interned users were encoded");
        let (cols, vals) = by_profile.row(r);
        triplets.extend(cols.iter().zip(vals).map(|(&c, &v)| (u, c, v)));
    }
    let matrix = Csr::from_triplets(rows.len(), encoding.width(), triplets)
        .map_err(PipelineError::internal)?;
    Ok(Some(UserFeatureRows { encoding, matrix }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::catalog::AttrValue;

    fn user(id: &str, attrs: &[(&str, AttrValue)]) -> User {
        let mut u = User::new(id);
        u.attributes = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        u
    }

    #[test]
    fn rows_follow_the_data_sets_users_and_skip_users_outside_it() {
        let mut users: Vec<User> = (0..6)
            .map(|i| user(&format!("u{i}"), &[("plan", AttrValue::Text("pro".into()))]))
            .collect();
        users.push(user("gone", &[("plan", AttrValue::Text("pro".into()))]));
        users.push(user("u9", &[]));
        // "a" sorts first and has no profile: an empty row 0.
        let rows = Interner::sorted(["a", "u0", "u1", "u2", "u3", "u4", "u5", "u9"]);
        let f = profile_rows(&users, &rows).unwrap().unwrap();
        assert_eq!(f.encoding.names(), ["attr.plan=pro"]);
        assert_eq!(f.matrix.n_rows(), 8);
        assert_eq!(f.matrix.row(0).0.len(), 0);
        assert_eq!(f.matrix.row(1), (&[0u32][..], &[1f32][..]));
        assert_eq!(f.matrix.row(7).0.len(), 0);
    }

    #[test]
    fn no_usable_attribute_means_no_features() {
        let rows = Interner::sorted(["u0"]);
        assert!(profile_rows(&[user("u0", &[])], &rows).unwrap().is_none());
        // A category below MIN_COUNT users is not a feature.
        let one = [user("u0", &[("plan", AttrValue::Text("pro".into()))])];
        assert!(profile_rows(&one, &rows).unwrap().is_none());
    }
}
