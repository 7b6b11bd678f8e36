//! The storage contract shared by every backend.

use attune_core::catalog::{Item, User};
use attune_core::event::Event;

use crate::StoreError;

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The name of the app used when a request names none.
pub const DEFAULT_APP: &str = "default";

/// What happened to each event of an insert batch, in input order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertStatus {
    /// Newly stored.
    Accepted,
    /// An event with the same `event_id` already existed in this app (nothing changed).
    Duplicate,
}

/// Which events a scan returns. Every field narrows; the default returns everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events of this resolved user (user_id, or anonymous_id stitched to it).
    pub user_id: Option<String>,
    /// Only events at or after this instant (UTC micros).
    pub since_micros: Option<i64>,
    /// Only events before this instant (UTC micros).
    pub until_micros: Option<i64>,
}

/// Counts of what an app holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppCounts {
    /// Stored events.
    pub events: u64,
    /// Catalog items.
    pub items: u64,
    /// User profiles.
    pub users: u64,
    /// anonymous_id -> user_id links.
    pub identities: u64,
}

/// What deleting a user removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erasure {
    /// Whether a profile existed.
    pub profile: bool,
    /// Events removed (by user_id or by a linked anonymous_id).
    pub events: u64,
    /// Identity links removed.
    pub identities: u64,
}

/// Durable state of all apps. Implementations are thread-safe; every method is blocking (call
/// it from `spawn_blocking` in async code).
pub trait Store: Send + Sync {
    /// Which backend this is (`sqlite` or `postgres`), for logs and `/ready`.
    fn backend(&self) -> &'static str;

    /// Cheap liveness check of the underlying database.
    fn ping(&self) -> Result<()>;

    /// Register an app (idempotent). Apps must exist before data is written to them.
    fn create_app(&self, app: &str) -> Result<()>;

    /// All app names, sorted.
    fn list_apps(&self) -> Result<Vec<String>>;

    /// Store a batch of validated events in one durable transaction.
    ///
    /// Events whose `event_id` already exists in the app (or earlier in the same batch) are
    /// reported as [`InsertStatus::Duplicate`] and change nothing. An event with only an
    /// `anonymous_id` that is already linked to a user is stored with that `user_id`.
    fn insert_events(&self, app: &str, events: &[Event]) -> Result<Vec<InsertStatus>>;

    /// Visit events in (timestamp, event_id) order. The callback may stop the scan with `false`.
    fn scan_events(
        &self,
        app: &str,
        filter: &EventFilter,
        visit: &mut dyn FnMut(Event) -> bool,
    ) -> Result<()>;

    /// Insert or replace items (one transaction).
    fn upsert_items(&self, app: &str, items: &[Item]) -> Result<()>;

    /// One item.
    fn get_item(&self, app: &str, item_id: &str) -> Result<Option<Item>>;

    /// Remove an item; returns whether it existed. Its events stay (history is history).
    fn delete_item(&self, app: &str, item_id: &str) -> Result<bool>;

    /// Visit all items in id order.
    fn scan_items(&self, app: &str, visit: &mut dyn FnMut(Item) -> bool) -> Result<()>;

    /// Insert or replace user profiles (one transaction).
    fn upsert_users(&self, app: &str, users: &[User]) -> Result<()>;

    /// One user profile.
    fn get_user(&self, app: &str, user_id: &str) -> Result<Option<User>>;

    /// Erase a user: profile, every event attributed to them, and their identity links.
    fn delete_user(&self, app: &str, user_id: &str) -> Result<Erasure>;

    /// Visit all user profiles in id order.
    fn scan_users(&self, app: &str, visit: &mut dyn FnMut(User) -> bool) -> Result<()>;

    /// Link a device to a user and re-attribute that device's past anonymous events to the user.
    /// Returns how many events were re-attributed. Linking a device already linked to another
    /// user is a [`StoreError::Conflict`].
    fn identify(&self, app: &str, anonymous_id: &str, user_id: &str) -> Result<u64>;

    /// The user a device is linked to.
    fn resolve_identity(&self, app: &str, anonymous_id: &str) -> Result<Option<String>>;

    /// How much the app holds.
    fn counts(&self, app: &str) -> Result<AppCounts>;
}
