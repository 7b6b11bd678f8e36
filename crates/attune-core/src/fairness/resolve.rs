//! Group specifications resolved against data: the one place that says where a group's
//! members come from, so the offline audit, serving and the online figures group alike.
//!
//! Items are a model's item indices (`items`), users its user indices; popularity and activity
//! come from the training interactions (`training`, users × items).

use crate::catalog::{AttrValue, Item, User};
use crate::sparse::{Csr, Interner};

use super::groups::{
    activity_buckets, attribute_groups, new_item_groups, popularity_buckets, Groups, ItemGroupSpec,
    UserGroupSpec,
};
use super::FairnessError;

/// An attribute value as a group label (numbers as written: `25`, `2.5`).
pub fn attr_label(v: &AttrValue) -> String {
    match v {
        AttrValue::Bool(b) => b.to_string(),
        AttrValue::Number(n) => n.to_string(),
        AttrValue::Text(s) => s.clone(),
        // A dense vector is no group: every vector of one width is one label.
        AttrValue::Vector(v) => format!("vector[{}]", v.len()),
    }
}

/// `name` or `name:width`: an attribute whose numbers are banded by `width` (`age:10` groups
/// ages 20 to 29.9 as `20-30`). Text and booleans are never banded.
fn banded(name: &str) -> Result<(&str, Option<f64>), String> {
    match name.rsplit_once(':') {
        None => Ok((name, None)),
        Some((attr, w)) => match w.parse::<f64>() {
            Ok(w) if w.is_finite() && w > 0.0 => Ok((attr, Some(w))),
            _ => Err(format!(
                "band width {w:?} must be a number > 0 (attr:<name>:<width>)"
            )),
        },
    }
}

/// The group label of an attribute value, banded when asked.
fn label(v: &AttrValue, band: Option<f64>) -> String {
    match (v, band) {
        (AttrValue::Number(n), Some(w)) => {
            let lo = (n / w).floor() * w;
            format!("{lo}-{}", lo + w)
        }
        _ => attr_label(v),
    }
}

fn bad_band(field: &'static str, spec: String, rule: String) -> FairnessError {
    FairnessError::Spec {
        field,
        value: spec,
        rule,
    }
}

fn no_attribute(field: &'static str, spec: String, whose: &str) -> FairnessError {
    FairnessError::Spec {
        field,
        value: spec,
        rule: format!("no {whose} has this attribute"),
    }
}

/// Training popularity per item: the users with the item in `training` (users × items).
pub fn popularity(training: &Csr) -> Vec<f64> {
    training.col_nnz().iter().map(|&n| n as f64).collect()
}

/// Item groups over `items`: `popularity:K` from `popularity` (per item index; offline and in
/// serving [`popularity`] of the training interactions), `attr:<name>` from the catalog
/// (`attr:category`: the first category), `new:DAYS` from `published_at` against `now_micros`.
/// Catalog entries the model does not know are ignored.
///
/// # Panics
/// If `popularity` has fewer entries than `items` (`popularity:K` only).
pub fn item_groups(
    spec: &ItemGroupSpec,
    items: &Interner,
    catalog: &[Item],
    popularity: &[f64],
    now_micros: i64,
) -> Result<Groups, FairnessError> {
    let index = |it: &Item| items.get(&it.item_id).map(|i| i as usize);
    match spec {
        ItemGroupSpec::Popularity(k) => popularity_buckets(&popularity[..items.len()], *k),
        ItemGroupSpec::Attribute(name) => {
            let (name, band) =
                banded(name).map_err(|r| bad_band("item groups", spec.to_string(), r))?;
            let mut values = vec![None; items.len()];
            for it in catalog {
                if let Some(i) = index(it) {
                    values[i] = if name == "category" {
                        it.categories.first().cloned()
                    } else {
                        it.attributes.get(name).map(|v| label(v, band))
                    };
                }
            }
            if values.iter().all(Option::is_none) {
                return Err(no_attribute(
                    "item groups",
                    spec.to_string(),
                    "catalog item",
                ));
            }
            Ok(attribute_groups(&values))
        }
        ItemGroupSpec::New(days) => {
            let mut published = vec![None; items.len()];
            for it in catalog {
                if let Some(i) = index(it) {
                    published[i] = it.published_at;
                }
            }
            Ok(new_item_groups(&published, now_micros, *days))
        }
    }
}

/// User groups over `users`: `attr:<name>` from profiles (`attr:age:10`: numbers in bands of
/// 10, `20-30`), `activity:K` from `training`'s row counts.
pub fn user_groups(
    spec: &UserGroupSpec,
    users: &Interner,
    profiles: &[User],
    training: &Csr,
) -> Result<Groups, FairnessError> {
    match spec {
        UserGroupSpec::Activity(k) => {
            let act: Vec<f64> = (0..training.n_rows())
                .map(|u| training.row_nnz(u) as f64)
                .collect();
            activity_buckets(&act, *k)
        }
        UserGroupSpec::Attribute(name) => {
            let (name, band) =
                banded(name).map_err(|r| bad_band("user groups", spec.to_string(), r))?;
            let mut values = vec![None; users.len()];
            for p in profiles {
                if let (Some(u), Some(v)) = (users.get(&p.user_id), p.attributes.get(name)) {
                    values[u as usize] = Some(label(v, band));
                }
            }
            if values.iter().all(Option::is_none) {
                return Err(no_attribute(
                    "user groups",
                    spec.to_string(),
                    "user profile",
                ));
            }
            Ok(attribute_groups(&values))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_attributes_band_by_width() {
        let users = Interner::sorted(["a", "b", "c"]);
        let profile = |id: &str, age: f64| {
            let mut u = User {
                user_id: id.into(),
                ..User::default()
            };
            u.attributes.insert("age".into(), AttrValue::Number(age));
            u
        };
        let profiles = [profile("a", 24.0), profile("b", 29.5), profile("c", 31.0)];
        let spec = UserGroupSpec::Attribute("age:10".into());
        let g = user_groups(&spec, &users, &profiles, &Csr::empty(3, 0)).unwrap();
        assert_eq!(g.labels(), ["20-30", "30-40"]);
        assert_eq!((0..3).map(|u| g.group_of(u)).collect::<Vec<_>>(), [0, 0, 1]);
        let bad = UserGroupSpec::Attribute("age:0".into());
        let e = user_groups(&bad, &users, &profiles, &Csr::empty(3, 0)).unwrap_err();
        assert!(e.to_string().contains("band width"), "{e}");
    }

    #[test]
    fn catalog_attributes_and_popularity_resolve_by_model_index() {
        let items = Interner::sorted(["a", "b", "c"]);
        let mut a = Item {
            item_id: "a".into(),
            ..Item::default()
        };
        a.attributes
            .insert("brand".into(), AttrValue::Text("acme".into()));
        let ghost = Item {
            item_id: "zzz".into(),
            ..Item::default()
        };
        let training = Csr::from_triplets(2, 3, [(0, 1, 1.0), (1, 1, 1.0), (0, 2, 1.0)]).unwrap();
        let g = item_groups(
            &ItemGroupSpec::Attribute("brand".into()),
            &items,
            &[a, ghost],
            &popularity(&training),
            0,
        )
        .unwrap();
        assert_eq!(g.labels(), ["(none)", "acme"]);
        assert_eq!(g.group_of(0), 1);
        let e = item_groups(
            &ItemGroupSpec::Attribute("colour".into()),
            &items,
            &[],
            &[],
            0,
        )
        .unwrap_err();
        assert!(e.to_string().contains("attr:colour"), "{e}");
        // Users per item 0, 2, 1 (total 3), K = 2: b (mass before 0) head, c (2 → 1) and a
        // (3 → 2, clamped) tail.
        let pop = popularity(&training);
        let p = item_groups(&ItemGroupSpec::Popularity(2), &items, &[], &pop, 0).unwrap();
        assert_eq!((0..3).map(|i| p.group_of(i)).collect::<Vec<_>>(), [1, 0, 1]);
    }
}
