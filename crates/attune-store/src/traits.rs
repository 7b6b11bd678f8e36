//! The storage contract shared by every backend.

use std::collections::BTreeMap;

use attune_core::catalog::{Item, User};
use attune_core::event::{Dismissal, Event};

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
    /// Leave out `impression` events (the server writes ten per served list): readers of
    /// interactions only (drift) then do not decode rows they would drop.
    pub skip_impressions: bool,
}

/// One page of a retention deletion ([`Store::delete_events`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeletedEvents {
    /// Events deleted.
    pub deleted: usize,
    /// The newest timestamp among them (`None` when nothing was deleted).
    pub last_ts_micros: Option<i64>,
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

/// Where a registered model's artifact file is and what it must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactRef {
    /// Where the file is. The store keeps it as given; attune writes paths relative to the
    /// data directory (`models/<app>/v0003.attune`) so a data directory can move.
    pub location: String,
    /// The artifact's own xxHash64 trailer (`attune_artifact::Artifact::checksum`): a file at
    /// `location` with another checksum is not this version, even if it is a valid artifact.
    pub checksum: u64,
    /// File size in bytes.
    pub size_bytes: u64,
}

/// What a trainer knows about a model it registers. The store assigns the version.
///
/// `params` and `data_snapshot` are JSON text the store checks for well-formedness and
/// otherwise keeps opaque (their shape belongs to the artifact format, not to the store).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Algorithm name as given to training (`als`, `item-knn`, ...).
    pub algorithm: String,
    /// Training parameters: a JSON object.
    pub params: String,
    /// What the model was trained on (users, items, interactions, time span, cleaning): JSON.
    pub data_snapshot: String,
    /// Offline metrics by name (e.g. `validation.ndcg@10`). Finite values only; they come back
    /// bit-identical, so promotion by metric compares what evaluation computed.
    pub metrics: BTreeMap<String, f64>,
    /// The artifact file.
    pub artifact: ArtifactRef,
    /// When the model was trained, UTC micros.
    pub created_micros: i64,
}

/// Where a registered version stands. Derived from the app's activation state and history on
/// every read (never stored), so it cannot disagree with what is actually active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelStatus {
    /// Registered, never activated: a candidate for promotion.
    Candidate,
    /// The version the app serves now.
    Active,
    /// Served before, replaced since (by an activation or a rollback); can be activated again.
    Inactive,
}

impl ModelStatus {
    /// `candidate`, `active` or `inactive`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelStatus::Candidate => "candidate",
            ModelStatus::Active => "active",
            ModelStatus::Inactive => "inactive",
        }
    }
}

/// A registered model version.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRecord {
    /// Version number: 1, 2, 3, ... per app, assigned by [`Store::reserve_model_version`].
    pub version: u32,
    /// Derived on read.
    pub status: ModelStatus,
    /// When it was registered, UTC micros (server clock).
    pub registered_micros: i64,
    /// What the trainer registered.
    pub info: ModelInfo,
}

/// The version an app serves: the answer to the replicas' poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveModel {
    /// The active version.
    pub version: u32,
    /// The app's activation sequence number: 1 for its first activation, +1 for every
    /// activation or rollback that changed the active version, never reused. A replica that
    /// remembers the seq it loaded needs only compare it to know whether to reload.
    pub seq: u64,
    /// When this version became active, UTC micros.
    pub since_micros: i64,
    /// The version [`Store::rollback_model`] would go back to, if any.
    pub rollback_to: Option<u32>,
}

/// How an activation entry came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationKind {
    /// [`Store::activate_model`].
    Activate,
    /// [`Store::rollback_model`].
    Rollback,
}

impl ActivationKind {
    /// `activate` or `rollback`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivationKind::Activate => "activate",
            ActivationKind::Rollback => "rollback",
        }
    }
}

/// One change of an app's active version (its history, oldest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activation {
    /// Activation sequence number of this change (see [`ActiveModel::seq`]).
    pub seq: u64,
    /// The version made active.
    pub version: u32,
    /// The version active before, if any.
    pub previous: Option<u32>,
    /// Activation or rollback.
    pub kind: ActivationKind,
    /// When, UTC micros.
    pub at_micros: i64,
}

/// What an activation or rollback call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivationOutcome {
    /// The entry now in effect. For a call that changed nothing (activating the version
    /// already active), the existing entry.
    pub activation: Activation,
    /// Whether the call changed the active version (and so the seq).
    pub changed: bool,
}

/// Durable state of all apps. Implementations are thread-safe; every method is blocking (call
/// it from `spawn_blocking` in async code).
pub trait Store: ExperimentStore + MonitorStore + StudyStore + Send + Sync {
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

    /// Delete, oldest first, at most `limit` events of type `event_type` (its wire name) with
    /// `from_micros <= timestamp < before_micros`, in one short transaction (retention).
    /// Callers page through a large deletion by passing the answer's `last_ts_micros` as the
    /// next `from_micros`, so rows of other types before it are not scanned again, and each
    /// transaction holds the writer only briefly (ingestion waits for at most one page).
    fn delete_events(
        &self,
        app: &str,
        event_type: &str,
        from_micros: i64,
        before_micros: i64,
        limit: usize,
    ) -> Result<DeletedEvents>;

    /// The timestamp of the `n`-th newest event (1-based) of `app` before `until_micros`, or
    /// `None` when it holds fewer. An index-only walk backwards: how a reader with a cap on
    /// events finds where the latest `n` start without decoding any of them.
    fn nth_newest_event_ts(&self, app: &str, until_micros: i64, n: usize) -> Result<Option<i64>>;

    /// Bytes the store occupies: the database file and its write-ahead log on SQLite; this
    /// schema's tables with their indexes on PostgreSQL.
    fn size_bytes(&self) -> Result<u64>;

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

    /// What `user_key` (a user id, or a device id) said they are not interested in, with
    /// when: from their stored `not_interested` events, and their devices' once linked
    /// (`identify`). Oldest first.
    fn dismissals(&self, app: &str, user_key: &str) -> Result<Vec<(Dismissal, i64)>>;

    /// Visit all user profiles in id order.
    fn scan_users(&self, app: &str, visit: &mut dyn FnMut(User) -> bool) -> Result<()>;

    /// Link a device to a user and re-attribute that device's past anonymous events to the user;
    /// the device's experiment exposures carry over to the user where the user has none in
    /// that phase, so a visitor keeps their variant after logging in. Returns how many events
    /// were re-attributed. Linking a device already linked to another
    /// user is a [`StoreError::Conflict`].
    fn identify(&self, app: &str, anonymous_id: &str, user_id: &str) -> Result<u64>;

    /// The user a device is linked to.
    fn resolve_identity(&self, app: &str, anonymous_id: &str) -> Result<Option<String>>;

    /// How much the app holds.
    fn counts(&self, app: &str) -> Result<AppCounts>;

    // --- Model registry ------------------------------------------------------------------
    //
    // Every trained model is a version of its app: 1, 2, 3, ... assigned here, never reused,
    // so trainers on different machines sharing one PostgreSQL never collide. Registering is
    // two calls so the artifact can be named after its version and still be complete before
    // it is registered: reserve a version, write and verify `vNNNN.attune`, register it. A
    // reserved version that is never registered (the trainer died) is a gap, never reused.
    //
    // Activation picks the version the app serves. Each change is an entry in the app's
    // activation history with a per-app sequence number; rollback walks that history back one
    // step at a time. Activation and rollback are one transaction each, serialized per app
    // (PostgreSQL: a row lock on the app's registry row), so concurrent callers end in a state
    // some serial order of their calls would give.

    /// Reserve the next version number of `app` (1 for its first model). Atomic: concurrent
    /// callers, in any number of processes, get distinct numbers.
    fn reserve_model_version(&self, app: &str) -> Result<u32>;

    /// Register `info` as `version`, which must have been reserved and not yet registered
    /// (else [`StoreError::Conflict`]). `params` and `data_snapshot` must be JSON and every
    /// metric finite (else [`StoreError::InvalidModel`]). The new version is a
    /// [`ModelStatus::Candidate`]; registering never changes what is active.
    fn register_model(&self, app: &str, version: u32, info: &ModelInfo) -> Result<ModelRecord>;

    /// Every registered version of `app`, ascending.
    fn list_models(&self, app: &str) -> Result<Vec<ModelRecord>>;

    /// One registered version, or `None`.
    fn get_model(&self, app: &str, version: u32) -> Result<Option<ModelRecord>>;

    /// Make `version` the app's active version. Unregistered: [`StoreError::UnknownModel`].
    /// Already active: nothing changes (`changed: false`, no new seq).
    ///
    /// `expected_seq`, when given, must equal the app's current activation seq (0 before the
    /// first activation) or the call fails with [`StoreError::StaleActivation`] and changes
    /// nothing: "activate only if nobody else did since I looked" (a verify-then-activate, an
    /// HTTP `If-Match`, a scheduled promotion that must not undo an operator's rollback).
    fn activate_model(
        &self,
        app: &str,
        version: u32,
        expected_seq: Option<u64>,
    ) -> Result<ActivationOutcome>;

    /// Go back to the version that was active before the current one. Repeated rollbacks walk
    /// further back (activate 1, 2, 3; rollback → 2; rollback → 1), and an activation after a
    /// rollback is undone by the next rollback. Nothing to go back to (no activation yet, or
    /// the first one reached): [`StoreError::NoRollbackTarget`]. `expected_seq` as in
    /// [`Store::activate_model`].
    fn rollback_model(&self, app: &str, expected_seq: Option<u64>) -> Result<ActivationOutcome>;

    /// The app's active version, or `None` before its first activation. One primary-key read:
    /// cheap enough for every serving replica to poll.
    fn active_model(&self, app: &str) -> Result<Option<ActiveModel>>;

    /// Every change of the app's active version, oldest first.
    fn model_activations(&self, app: &str) -> Result<Vec<Activation>>;
}

/// Buckets of one experiment layer: a user falls in one bucket of each layer, and a running
/// experiment holds a contiguous range of them.
pub const LAYER_BUCKETS: u32 = 10_000;

/// Where an experiment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExperimentStatus {
    /// Created, never started.
    Draft,
    /// Assigning users and being served.
    Running,
    /// Stopped: no new assignments; its data stays for reports.
    Stopped,
}

impl ExperimentStatus {
    /// `draft`, `running`, `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExperimentStatus::Draft => "draft",
            ExperimentStatus::Running => "running",
            ExperimentStatus::Stopped => "stopped",
        }
    }

    /// The inverse of [`ExperimentStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(ExperimentStatus::Draft),
            "running" => Some(ExperimentStatus::Running),
            "stopped" => Some(ExperimentStatus::Stopped),
            _ => None,
        }
    }
}

/// An experiment as the store keeps it: identity, lifecycle and place in its layer. The
/// definition (variants, shares, targeting) is JSON the experiments crate owns and checks;
/// the store only requires it to be JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentRecord {
    /// Unique in the app.
    pub name: String,
    /// Experiments running in one layer never share a user.
    pub layer: String,
    /// Lifecycle.
    pub status: ExperimentStatus,
    /// The current phase: 0 before the first start, then 1, 2, ... — every start begins a new
    /// phase, and exposures belong to one phase, so a changed definition never mixes with an
    /// earlier one.
    pub phase: u32,
    /// The definition of the current phase (JSON).
    pub definition: String,
    /// The buckets `[start, end)` of the layer it holds while running.
    pub buckets: Option<(u32, u32)>,
    /// Created, UTC micros.
    pub created_micros: i64,
    /// Start of the current phase.
    pub started_micros: Option<i64>,
    /// End of the current phase (set while stopped).
    pub stopped_micros: Option<i64>,
}

/// One phase of an experiment, kept for reports after the definition changed.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentPhase {
    /// 1, 2, ...
    pub phase: u32,
    /// Its definition (JSON).
    pub definition: String,
    /// The buckets it held.
    pub buckets: (u32, u32),
    /// Started, UTC micros.
    pub started_micros: i64,
    /// Stopped (`None` while it runs).
    pub stopped_micros: Option<i64>,
}

/// A user's first serve in an experiment's phase: the variant they saw. The first one recorded
/// wins, so assignment stays sticky whatever replica or process serves them later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    /// The experiment.
    pub experiment: String,
    /// Its phase.
    pub phase: u32,
    /// The user id, or the device id of an anonymous visitor.
    pub user_key: String,
    /// The variant served.
    pub variant: String,
    /// When, UTC micros.
    pub at_micros: i64,
}

/// Experiments: definitions, their lifecycle, exposures and (for bandits) allocation state.
/// Part of every [`Store`]; a separate trait so the registry and data traits stay readable.
pub trait ExperimentStore {
    /// Create a draft. A name the app already uses is [`StoreError::Conflict`]; a definition
    /// that is not JSON, or an empty name or layer, is [`StoreError::InvalidExperiment`].
    fn create_experiment(
        &self,
        app: &str,
        name: &str,
        layer: &str,
        definition: &str,
    ) -> Result<ExperimentRecord>;

    /// One experiment, or `None`.
    fn get_experiment(&self, app: &str, name: &str) -> Result<Option<ExperimentRecord>>;

    /// Every experiment of the app, by name.
    fn list_experiments(&self, app: &str) -> Result<Vec<ExperimentRecord>>;

    /// Replace a draft's or stopped experiment's definition (a running one is
    /// [`StoreError::Conflict`]: change it by stopping and starting a new phase).
    fn update_experiment(
        &self,
        app: &str,
        name: &str,
        definition: &str,
    ) -> Result<ExperimentRecord>;

    /// Start a new phase: the first free range of `buckets` buckets in the layer (among the
    /// experiments running in it) is taken, atomically, or [`StoreError::LayerFull`]; the
    /// phase number goes up by one and the definition in effect is recorded with it. A running
    /// experiment is [`StoreError::Conflict`].
    fn start_experiment(&self, app: &str, name: &str, buckets: u32) -> Result<ExperimentRecord>;

    /// Stop the running phase and free its buckets (stopping a stopped experiment changes
    /// nothing; a draft is [`StoreError::Conflict`]).
    fn stop_experiment(&self, app: &str, name: &str) -> Result<ExperimentRecord>;

    /// Every phase of an experiment, oldest first.
    fn experiment_phases(&self, app: &str, name: &str) -> Result<Vec<ExperimentPhase>>;

    /// Record first serves; for a `(experiment, phase, user_key)` already recorded nothing
    /// changes (the first variant stands). Returns how many were new.
    fn record_exposures(&self, app: &str, exposures: &[Exposure]) -> Result<u64>;

    /// A user's exposure in one phase.
    fn get_exposure(
        &self,
        app: &str,
        experiment: &str,
        phase: u32,
        user_key: &str,
    ) -> Result<Option<Exposure>>;

    /// Every exposure of one phase, by user key.
    fn scan_exposures(
        &self,
        app: &str,
        experiment: &str,
        phase: u32,
        visit: &mut dyn FnMut(Exposure) -> bool,
    ) -> Result<()>;

    /// Save an experiment's allocation state (a bandit's posterior, JSON); the latest save
    /// wins.
    fn put_experiment_state(&self, app: &str, name: &str, state: &str) -> Result<()>;

    /// The saved allocation state and when it was saved.
    fn get_experiment_state(&self, app: &str, name: &str) -> Result<Option<(String, i64)>>;
}

/// One observation of a monitored series: a metric, its labels (model version, variant,
/// segment, ...), a time and a value.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    /// The metric (`ctr`, `drift_psi`, `latency_p99_ms`, ...); not empty.
    pub metric: String,
    /// Its labels; the series is `(metric, labels)`.
    pub labels: std::collections::BTreeMap<String, String>,
    /// When (the end of the window it summarizes), UTC micros.
    pub at_micros: i64,
    /// The value; finite.
    pub value: f64,
}

/// The state of one alert: a rule and the label set it fired for.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    /// The rule's name.
    pub rule: String,
    /// The series' labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// `pending`, `firing` or `resolved` (the monitor defines the states; the store keeps text).
    pub state: String,
    /// When the current state began, UTC micros.
    pub since_micros: i64,
    /// When it was last evaluated, UTC micros.
    pub updated_micros: i64,
    /// The value last evaluated, if any.
    pub value: Option<f64>,
    /// A JSON object: annotations, notification attempts.
    pub detail: String,
}

/// Monitoring: time series of online metrics (bounded by pruning), alert states, and the
/// training profile each model version was built from (the drift reference). Part of every
/// [`Store`].
pub trait MonitorStore {
    /// Write points; a point with the series and time of a stored one replaces it. All or
    /// nothing: an invalid point ([`StoreError::InvalidMonitoring`]) writes none.
    fn put_points(&self, app: &str, points: &[MetricPoint]) -> Result<()>;

    /// The points of `metric` with `since_micros <= at < until_micros`, by time then labels.
    fn scan_points(
        &self,
        app: &str,
        metric: &str,
        since_micros: i64,
        until_micros: i64,
        visit: &mut dyn FnMut(MetricPoint) -> bool,
    ) -> Result<()>;

    /// Every metric with a stored point, by name.
    fn metric_names(&self, app: &str) -> Result<Vec<String>>;

    /// Delete the points older than `before_micros` (retention); how many were deleted.
    fn prune_points(&self, app: &str, before_micros: i64) -> Result<u64>;

    /// Save an alert's state (replacing the rule and label set's previous one).
    fn put_alert(&self, app: &str, alert: &AlertRecord) -> Result<()>;

    /// Every alert state of the app, by rule then labels.
    fn list_alerts(&self, app: &str) -> Result<Vec<AlertRecord>>;

    /// Save the training profile (JSON object) model `version` was built from; a second save
    /// replaces it.
    fn put_training_profile(&self, app: &str, version: u32, profile: &str) -> Result<()>;

    /// The training profile of model `version`.
    fn get_training_profile(&self, app: &str, version: u32) -> Result<Option<String>>;
}

/// A hyperparameter-tuning study as stored: one row per `(app, name)`.
///
/// The store keeps the study's documents as opaque JSON text (the pipeline owns their
/// format: `attune_core::tune::Study` and its search space) plus a few columns to list studies
/// without decoding them.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyRecord {
    /// The study's name within the app (`ease-lambda`, `als/segment=heavy`); not empty.
    pub name: String,
    /// The algorithm family tuned (`ease`, `als`, ...); fixed for the study's life.
    pub algorithm: String,
    /// What is optimized and how it is measured (JSON object: metric, k, folds, segment, ...).
    pub objective: String,
    /// The search space (JSON); fixed for the study's life.
    pub space: String,
    /// The whole study: space, direction and every trial (JSON).
    pub study: String,
    /// `running` while a process works on it, `done` when its last run ended (the pipeline
    /// defines the states; the store keeps text, not empty).
    pub state: String,
    /// Trials asked so far; a study never loses trials.
    pub n_trials: u32,
    /// The best complete trial's value, if any; finite.
    pub best_value: Option<f64>,
    /// When the study was first saved, UTC micros (set by the store).
    pub created_micros: i64,
    /// When it was last saved, UTC micros (set by the store).
    pub updated_micros: i64,
}

/// Tuning studies, stored after every trial so a search can be listed, shown and resumed.
/// Part of every [`Store`].
pub trait StudyStore {
    /// Insert the study, or update the stored one of that name, in one transaction; returns
    /// what was stored (with the store's times). Refused, changing nothing: a record breaking
    /// a rule ([`StoreError::InvalidStudy`]), and an update whose algorithm or space differ
    /// from the stored ones or that has fewer trials than the stored study
    /// ([`StoreError::Conflict`]: another search or a concurrent run owns that name).
    fn save_study(&self, app: &str, study: &StudyRecord) -> Result<StudyRecord>;

    /// The study of that name.
    fn load_study(&self, app: &str, name: &str) -> Result<Option<StudyRecord>>;

    /// Every study of the app, by name.
    fn list_studies(&self, app: &str) -> Result<Vec<StudyRecord>>;

    /// Delete the study of that name; whether one existed.
    fn delete_study(&self, app: &str, name: &str) -> Result<bool>;
}
