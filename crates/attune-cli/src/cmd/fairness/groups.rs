//! Group specifications resolved against one app's store: the catalog and profiles are read
//! here, the grouping itself is `attune_core::fairness::resolve` (the same as serving's).

use attune_core::fairness::resolve;
use attune_core::fairness::{Groups, ItemGroupSpec, UserGroupSpec};
use attune_core::sparse::{Csr, Interner};
use attune_store::Store;

/// Item groups of `items` (the dataset's item indices).
pub fn item_groups(
    spec: &ItemGroupSpec,
    store: &dyn Store,
    app: &str,
    items: &Interner,
    training: &Csr,
    now_micros: i64,
) -> anyhow::Result<Groups> {
    let mut catalog = Vec::new();
    if !matches!(spec, ItemGroupSpec::Popularity(_)) {
        store.scan_items(app, &mut |item| {
            catalog.push(item);
            true
        })?;
    }
    Ok(resolve::item_groups(
        spec,
        items,
        &catalog,
        &resolve::popularity(training),
        now_micros,
    )?)
}

/// User groups of `users` (matrix rows).
pub fn user_groups(
    spec: &UserGroupSpec,
    store: &dyn Store,
    app: &str,
    users: &Interner,
    training: &Csr,
) -> anyhow::Result<Groups> {
    let mut profiles = Vec::new();
    if matches!(spec, UserGroupSpec::Attribute(_)) {
        store.scan_users(app, &mut |user| {
            profiles.push(user);
            true
        })?;
    }
    Ok(resolve::user_groups(spec, users, &profiles, training)?)
}
