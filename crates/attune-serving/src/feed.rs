//! Committed changes out of this replica, so that every other replica applies them too.
//!
//! A replica's live state (each user's latest events, trending counts, catalog items the
//! serving version does not know) is in its own memory. Shared state (Redis) tells the other
//! replicas *that* a user changed; a [`ChangeFeed`] carries *what* changed (the events and
//! items themselves), so trending and new items move on every replica, not just the one that
//! received them. The streaming crate (`attune-stream`) implements it over a Kafka topic.

use attune_core::catalog::Item;
use attune_core::event::Event;

/// Receives every change [`crate::Serving`] applied locally from this process's own writes
/// (never the changes it applied on behalf of another replica, so a change crosses the feed
/// once). Implementations must not block on the network: they queue and return.
pub trait ChangeFeed: Send + Sync {
    /// Events the store acknowledged.
    fn events(&self, app: &str, events: &[Event]);
    /// Catalog items created or replaced.
    fn items_upserted(&self, app: &str, items: &[Item]);
    /// Catalog items deleted.
    fn items_deleted(&self, app: &str, ids: &[String]);
}
