//! Layered configuration: compiled-in `config/attune.toml` → `--config FILE` → `ATTUNE_*` env.
//!
//! Each section mirrors a library's own settings type; `into_*` methods convert, so library
//! crates never see figment or TOML.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use attune_core::clean::{BotRule, CleanConfig, ValidCleanConfig};
use attune_core::event::EventRules;
use attune_core::limits::InputLimits;
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The compiled-in defaults (documented, commented TOML).
pub const DEFAULT_TOML: &str = include_str!("../../../config/attune.toml");

/// The effective configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub store: StoreSection,
    pub server: ServerSection,
    pub auth: AuthSection,
    pub events: EventsSection,
    pub limits: LimitsSection,
    pub clean: CleanSection,
    pub train: attune_pipeline::TrainSettings,
    pub serving: ServingSection,
    pub monitor: attune_monitor::MonitorConfig,
    #[serde(default)]
    pub retention: attune_pipeline::retention::RetentionConfig,
    #[serde(default)]
    pub segments: SegmentsSection,
    /// `[ingest.kafka]` (docs/streaming.md).
    #[serde(default)]
    pub ingest: crate::ingest::IngestSection,
    /// `[embeddings]`: the text-embedding model of `attune embed items`.
    #[serde(default)]
    pub embeddings: EmbeddingsSection,
    pub log: LogSection,
}

/// `[embeddings]`: where the text-embedding model lives and how it is run (`attune embed
/// items`, a binary built with `--features embeddings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingsSection {
    /// The all-MiniLM-L6-v2 directory (config.json, tokenizer.json, model.safetensors);
    /// absent: $ATTUNE_MINILM_DIR.
    pub model_dir: Option<PathBuf>,
    /// Texts per forward pass.
    pub batch_size: usize,
}

impl Default for EmbeddingsSection {
    fn default() -> Self {
        Self {
            model_dir: None,
            batch_size: 32,
        }
    }
}

/// `[segments]`: how users are grouped (`attune segment`, docs/segments.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmentsSection {
    /// `[segments.rules]`: the new / dormant / heavy thresholds.
    pub rules: attune_core::segment::RuleSegments,
}

/// `[serving]`: the recommendation engine, activation polling and scheduled retraining.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServingSection {
    pub max_n: usize,
    pub live_users: u64,
    pub list_cache_capacity: u64,
    pub list_cache_ttl_secs: u64,
    pub trending_half_life_hours: f64,
    pub log_impressions: bool,
    pub impression_flush_ms: u64,
    pub impression_cold_start_sample: f64,
    pub refresh_interval_secs: u64,
    pub retrain_interval_secs: u64,
    pub retrain_algorithm: String,
    pub promote_metric: String,
    pub promote_margin: f64,
    pub redis_url: String,
    pub ann_min_items: usize,
    pub ann_m: usize,
    pub ann_ef_construction: usize,
    pub ann_ef_search: usize,
    pub bandit_update_secs: u64,
    /// New items without retraining: most items the active model does not know in one list
    /// (0: off).
    #[serde(default = "default_fresh_slots")]
    pub fresh_slots: usize,
    /// ... and the least recency-weighted cosine to a recent history item they need.
    #[serde(default = "default_fresh_min_similarity")]
    pub fresh_min_similarity: f32,
    #[serde(default)]
    pub fairness: FairnessSection,
    #[serde(default)]
    pub segments: ServingSegmentsSection,
}

/// `[serving.segments]`: a model version per user segment and the segment's cold-start list
/// (docs/segments.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServingSegmentsSection {
    /// The profile attribute holding the segment; empty: off.
    pub attribute: String,
    pub prior_users: f32,
    pub models: std::collections::BTreeMap<String, u32>,
    /// Seconds between recomputations of the rule segments into `attribute` inside `attune
    /// serve`; absent: never (signed, so a negative value is refused by name, not by serde).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recompute_every_secs: Option<i64>,
}

impl Default for ServingSegmentsSection {
    fn default() -> Self {
        Self {
            attribute: String::new(),
            prior_users: 20.0,
            models: std::collections::BTreeMap::new(),
            recompute_every_secs: None,
        }
    }
}

impl ServingSegmentsSection {
    /// The engine's setting (`None` when off); an error names the `serving.segments.*` key.
    pub fn to_engine(&self) -> anyhow::Result<Option<attune_serving::segments::SegmentServing>> {
        let bad = |key: &str, rule: String| {
            anyhow::anyhow!("invalid configuration: serving.segments.{key} {rule}")
        };
        self.recompute_every()?;
        if self.attribute.is_empty() {
            if !self.models.is_empty() {
                return Err(bad(
                    "models",
                    "needs serving.segments.attribute: which profile attribute holds the segment"
                        .into(),
                ));
            }
            return Ok(None);
        }
        if !(self.prior_users.is_finite() && self.prior_users >= 0.0) {
            return Err(bad(
                "prior_users",
                format!("= {} must be a number >= 0", self.prior_users),
            ));
        }
        if let Some((segment, _)) = self.models.iter().find(|(_, &v)| v == 0) {
            return Err(bad(
                &format!("models.{segment}"),
                "= 0 is not a model version (versions start at 1; see `attune models list`)".into(),
            ));
        }
        Ok(Some(attune_serving::segments::SegmentServing {
            attribute: self.attribute.clone(),
            models: self.models.clone(),
            prior_users: self.prior_users,
        }))
    }

    /// How often `attune serve` recomputes the rule segments (`None`: never); an error names
    /// `serving.segments.recompute_every_secs`.
    pub fn recompute_every(&self) -> anyhow::Result<Option<std::time::Duration>> {
        let Some(secs) = self.recompute_every_secs else {
            return Ok(None);
        };
        anyhow::ensure!(
            secs > 0,
            "invalid configuration: serving.segments.recompute_every_secs = {secs} must be a \
             positive number of seconds (leave the key out to never recompute)"
        );
        anyhow::ensure!(
            !self.attribute.is_empty(),
            "invalid configuration: serving.segments.recompute_every_secs needs \
             serving.segments.attribute: the profile attribute the segments are saved into"
        );
        Ok(Some(std::time::Duration::from_secs(secs as u64)))
    }
}

fn default_fresh_slots() -> usize {
    2
}

fn default_fresh_min_similarity() -> f32 {
    0.2
}

/// `[serving.fairness]`: exposure-aware re-ranking of personalized lists (docs/fairness.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FairnessSection {
    pub enabled: bool,
    pub item_groups: String,
    pub targets: String,
    pub lambda: f64,
    pub candidates: usize,
}

impl Default for FairnessSection {
    fn default() -> Self {
        Self {
            enabled: false,
            item_groups: "popularity:3".into(),
            targets: "equal".into(),
            lambda: 0.5,
            candidates: 100,
        }
    }
}

impl FairnessSection {
    /// The engine's setting (`None` when off); an error names the `serving.fairness.*` key.
    pub fn to_engine(&self) -> anyhow::Result<Option<attune_serving::fairness::FairnessConfig>> {
        let bad = |key: &str, rule: String| {
            anyhow::anyhow!(
                "invalid configuration: serving.fairness.{key} {rule} (set it in the config file or ATTUNE_SERVING__FAIRNESS__{})",
                key.to_ascii_uppercase()
            )
        };
        let item_groups = self
            .item_groups
            .parse()
            .map_err(|e| bad("item_groups", format!("{e}")))?;
        let targets = self
            .targets
            .parse()
            .map_err(|e| bad("targets", format!("{e}")))?;
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return Err(bad(
                "lambda",
                format!("= {} must be a number >= 0", self.lambda),
            ));
        }
        if self.candidates == 0 {
            return Err(bad("candidates", "must be at least 1".into()));
        }
        Ok(self
            .enabled
            .then_some(attune_serving::fairness::FairnessConfig {
                item_groups,
                targets,
                lambda: self.lambda,
                candidates: self.candidates,
            }))
    }
}

impl ServingSection {
    /// The engine's settings; an error names the `serving.*` key.
    pub fn to_engine(&self) -> anyhow::Result<attune_serving::ServingConfig> {
        let bad = |key: &str, rule: &str| {
            anyhow::anyhow!(
                "invalid configuration: serving.{key} {rule} (set it in the config file or ATTUNE_SERVING__{})",
                key.to_ascii_uppercase()
            )
        };
        if self.max_n == 0 {
            return Err(bad("max_n", "must be at least 1"));
        }
        if self.live_users == 0 || self.list_cache_capacity == 0 {
            return Err(bad(
                "live_users",
                "and serving.list_cache_capacity must be at least 1",
            ));
        }
        if !(self.trending_half_life_hours.is_finite() && self.trending_half_life_hours > 0.0) {
            return Err(bad("trending_half_life_hours", "must be a number > 0"));
        }
        if !(self.promote_margin.is_finite() && self.promote_margin >= 0.0) {
            return Err(bad("promote_margin", "must be a number >= 0"));
        }
        if self.refresh_interval_secs == 0 {
            return Err(bad("refresh_interval_secs", "must be at least 1"));
        }
        Ok(attune_serving::ServingConfig {
            topk: self.to_topk()?,
            max_n: self.max_n,
            live_users: self.live_users,
            list_cache_capacity: self.list_cache_capacity,
            list_cache_ttl: std::time::Duration::from_secs(self.list_cache_ttl_secs.max(1)),
            trending_half_life_micros: (self.trending_half_life_hours * 3.6e9) as i64,
            fairness: self.fairness.to_engine()?,
            segments: self.segments.to_engine()?,
            fresh: attune_core::model::fresh::FreshParams::new()
                .slots(self.fresh_slots)
                .min_similarity(self.fresh_min_similarity)
                .check()
                .map_err(|e| {
                    anyhow::anyhow!(
                        "invalid configuration: serving.fresh_{} = {}: {} (set it in the config file or ATTUNE_SERVING__FRESH_{})",
                        e.field,
                        e.value,
                        e.rule,
                        e.field.to_ascii_uppercase()
                    )
                })?,
            ..attune_serving::ServingConfig::default()
        })
    }

    /// Exact or approximate top-k (`serving.ann_*`); training reads it too, to store the index
    /// in the artifacts of catalogs that will be served through it.
    pub fn to_topk(&self) -> anyhow::Result<attune_core::model::ann::TopKValidParams> {
        use attune_core::model::ann::{HnswParams, TopKParams};
        TopKParams::default()
            .ann_min_items(self.ann_min_items)
            .hnsw(
                HnswParams::default()
                    .m(self.ann_m)
                    .ef_construction(self.ann_ef_construction)
                    .ef_search(self.ann_ef_search),
            )
            .check()
            .map_err(|e| {
                anyhow::anyhow!(
                    "invalid configuration: serving.ann_{} = {}: {} (set it in the config file or ATTUNE_SERVING__ANN_{})",
                    e.field,
                    e.value,
                    e.rule,
                    e.field.to_ascii_uppercase()
                )
            })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub bind: String,
    pub max_body_bytes: usize,
    pub max_batch_events: usize,
    pub max_batch_items: usize,
    pub strict_fields: bool,
    /// Browser origins allowed to call the API (CORS): `https://shop.example`, or `*`.
    pub cors_allowed_origins: Vec<String>,
    /// Connection and request time limits (`attune_server::Timeouts`), seconds.
    pub header_read_timeout_secs: f64,
    pub body_read_timeout_secs: f64,
    pub idle_timeout_secs: f64,
    pub request_timeout_secs: f64,
    /// Most client connections at once; more are answered 503 `overloaded`.
    pub max_connections: usize,
    /// `[server.rate_limits]`.
    #[serde(default)]
    pub rate_limits: RateLimitsSection,
}

/// `[server.rate_limits]`: token buckets per API key (or anonymous client) and app, for
/// ingestion and for reads; a rate of 0 turns that class off (the default).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsSection {
    pub ingest_per_sec: f64,
    pub ingest_burst: u32,
    pub read_per_sec: f64,
    pub read_burst: u32,
}

/// `[auth]`: API keys (see `attune_server::auth`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    pub required: bool,
    pub metrics_require_admin: bool,
    #[serde(default)]
    pub keys: Vec<KeySection>,
}

/// One `[[auth.keys]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySection {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_sha256: Option<String>,
    pub scopes: Vec<String>,
    pub apps: Vec<String>,
}

impl AuthSection {
    /// The server's checked key set; an error names the `auth.*` key at fault.
    pub fn to_server(&self) -> anyhow::Result<attune_server::AuthConfig> {
        let specs: Vec<attune_server::ApiKeySpec> = self
            .keys
            .iter()
            .map(|k| attune_server::ApiKeySpec {
                name: k.name.clone(),
                key: k.key.clone(),
                key_sha256: k.key_sha256.clone(),
                scopes: k.scopes.clone(),
                apps: k.apps.clone(),
            })
            .collect();
        attune_server::AuthConfig::new(self.required, self.metrics_require_admin, &specs)
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))
    }
}

impl ServerSection {
    /// The server's checked CORS origins; an error names the list entry at fault.
    pub fn cors(&self) -> anyhow::Result<attune_server::CorsConfig> {
        attune_server::CorsConfig::new(&self.cors_allowed_origins)
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))
    }

    /// The checked time limits; an error names the `server.*_timeout_secs` key.
    pub fn timeouts(&self) -> anyhow::Result<attune_server::Timeouts> {
        let secs = |key: &str, v: f64| {
            // A day at most: longer is a mistake, and keeps the Duration conversion exact.
            anyhow::ensure!(
                v.is_finite() && v > 0.0 && v <= 86_400.0,
                "invalid configuration: server.{key} = {v} must be a number of seconds > 0 and at most 86400 (set it in the config file or ATTUNE_SERVER__{})",
                key.to_ascii_uppercase()
            );
            Ok(std::time::Duration::from_secs_f64(v))
        };
        let t = attune_server::Timeouts {
            header_read: secs("header_read_timeout_secs", self.header_read_timeout_secs)?,
            body_read: secs("body_read_timeout_secs", self.body_read_timeout_secs)?,
            idle: secs("idle_timeout_secs", self.idle_timeout_secs)?,
            request: secs("request_timeout_secs", self.request_timeout_secs)?,
        };
        anyhow::ensure!(
            t.body_read <= t.request,
            "invalid configuration: server.body_read_timeout_secs ({}) must not exceed server.request_timeout_secs ({}): a slow body would get the request's 503 instead of its 408",
            self.body_read_timeout_secs,
            self.request_timeout_secs
        );
        Ok(t)
    }

    /// The checked rate limits; an error names the `server.rate_limits.*` key.
    pub fn rate_limits(&self) -> anyhow::Result<attune_server::RateLimits> {
        let r = &self.rate_limits;
        let bucket = |name: &str, per_sec: f64, burst: u32| {
            attune_server::Bucket::new(name, per_sec, burst)
                .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))
        };
        Ok(attune_server::RateLimits {
            ingest: bucket("ingest", r.ingest_per_sec, r.ingest_burst)?,
            read: bucket("read", r.read_per_sec, r.read_burst)?,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSection {
    pub custom_types: Vec<String>,
    pub rating_min: f64,
    pub rating_max: f64,
    pub max_future_skew_secs: i64,
}

/// `[limits]`: id and text lengths, names and counts of event properties and item/user
/// attributes, labels per record (`attune_core::limits::InputLimits`), applied by the API and by
/// `attune import` alike.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    pub max_id_len: usize,
    pub max_event_text_len: usize,
    pub max_item_text_len: usize,
    pub max_labels: usize,
    pub max_name_len: usize,
    pub max_event_properties: usize,
    pub max_event_properties_bytes: usize,
    pub max_item_attributes: usize,
    pub max_user_attributes: usize,
}

impl LimitsSection {
    /// The core's limits (unchecked; [`Settings::load`] checks them).
    pub fn to_core(&self) -> InputLimits {
        InputLimits {
            max_id_len: self.max_id_len,
            max_event_text_len: self.max_event_text_len,
            max_item_text_len: self.max_item_text_len,
            max_labels: self.max_labels,
            max_name_len: self.max_name_len,
            max_event_properties: self.max_event_properties,
            max_event_properties_bytes: self.max_event_properties_bytes,
            max_item_attributes: self.max_item_attributes,
            max_user_attributes: self.max_user_attributes,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanSection {
    pub near_duplicate_window_secs: f64,
    pub bot_mad_k: f64,
    pub min_events_for_outlier: u64,
    pub rate_window_secs: u64,
    pub bot_min_events_per_sec: f64,
    /// `count_and_rate` or `count_or_rate` (see `attune_core::clean::BotRule`).
    pub bot_rule: String,
    pub drop_bot_users: bool,
    pub item_outlier_mad_k: f64,
    pub drop_outlier_items: bool,
    pub drop_unknown_items: bool,
    pub drop_unavailable_items: bool,
}

impl CleanSection {
    /// The core's checked cleaning parameters; a bad value names its `clean.*` key.
    pub fn to_core(&self) -> anyhow::Result<ValidCleanConfig> {
        let bot_rule = match self.bot_rule.as_str() {
            "count_and_rate" => BotRule::CountAndRate,
            "count_or_rate" => BotRule::CountOrRate,
            other => anyhow::bail!(
                "invalid configuration: clean.bot_rule must be \"count_and_rate\" or \"count_or_rate\", got {other:?}"
            ),
        };
        CleanConfig {
            near_duplicate_window_secs: self.near_duplicate_window_secs,
            bot_mad_k: self.bot_mad_k,
            min_events_for_outlier: self.min_events_for_outlier,
            rate_window_secs: self.rate_window_secs,
            bot_min_events_per_sec: self.bot_min_events_per_sec,
            bot_rule,
            drop_bot_users: self.drop_bot_users,
            item_outlier_mad_k: self.item_outlier_mad_k,
            drop_outlier_items: self.drop_outlier_items,
            drop_unknown_items: self.drop_unknown_items,
            drop_unavailable_items: self.drop_unavailable_items,
        }
        .check()
        .map_err(|e| {
            anyhow::anyhow!(
                "invalid configuration: clean.{}: {} (set it in the config file or ATTUNE_CLEAN__{})",
                e.field,
                e.reason,
                e.field.to_ascii_uppercase()
            )
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    pub level: String,
}

impl Settings {
    /// Compose the layers. `file` falls back to `$ATTUNE_CONFIG`.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut fig = Figment::from(Toml::string(DEFAULT_TOML));
        let env_file = std::env::var_os("ATTUNE_CONFIG").map(PathBuf::from);
        if let Some(path) = file.map(Path::to_path_buf).or(env_file) {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            fig = fig.merge(Toml::string(&text));
        }
        fig = fig.merge(Env::prefixed("ATTUNE_").ignore(&["CONFIG"]).split("__"));
        Self::extract_checked(fig)
    }

    /// The compiled-in defaults overlaid with `text` (a config file's contents), checked like
    /// [`Settings::load`] but without reading a file or the environment: what one TOML text
    /// means on its own, deterministically (the `config` fuzz target drives this).
    pub fn from_toml(text: &str) -> anyhow::Result<Settings> {
        Self::extract_checked(Figment::from(Toml::string(DEFAULT_TOML)).merge(Toml::string(text)))
    }

    fn extract_checked(fig: Figment) -> anyhow::Result<Settings> {
        let settings: Settings = fig
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.events.rating_min < self.events.rating_max,
            "invalid configuration: events.rating_min ({}) must be below events.rating_max ({})",
            self.events.rating_min,
            self.events.rating_max
        );
        anyhow::ensure!(
            self.server.max_body_bytes > 0,
            "invalid configuration: server.max_body_bytes must be > 0"
        );
        anyhow::ensure!(
            self.server.max_batch_events > 0,
            "invalid configuration: server.max_batch_events must be > 0"
        );
        anyhow::ensure!(
            self.server.max_connections > 0,
            "invalid configuration: server.max_connections must be > 0"
        );
        self.server.timeouts()?;
        self.server.rate_limits()?;
        self.limits
            .to_core()
            .check()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        self.auth.to_server()?;
        self.server.cors()?;
        self.train.check()?;
        self.serving.to_engine()?;
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.serving.impression_cold_start_sample),
            "invalid configuration: serving.impression_cold_start_sample must be between 0 and 1, got {}",
            self.serving.impression_cold_start_sample
        );
        self.monitor
            .check()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        self.retention.check(&self.events.custom_types)?;
        self.ingest.kafka.check()?;
        self.ingest.rabbitmq.check()?;
        self.segments
            .rules
            .clone()
            .check()
            .map_err(|e| anyhow::anyhow!("invalid configuration: segments.rules.{e}"))?;
        Ok(())
    }

    /// The store URL: explicit, else SQLite under the data directory.
    pub fn store_url(&self) -> String {
        if self.store.url.is_empty() {
            format!("sqlite:{}", self.data_dir.join("attune.db").display())
        } else {
            self.store.url.clone()
        }
    }

    /// Event validation rules for the core.
    pub fn event_rules(&self) -> EventRules {
        EventRules {
            custom_types: self.events.custom_types.clone(),
            rating_min: self.events.rating_min,
            rating_max: self.events.rating_max,
            max_future_skew_secs: self.events.max_future_skew_secs,
            limits: self.limits.to_core(),
            ..EventRules::default()
        }
    }

    /// The effective config as TOML (for `attune config`). Keys given in clear are printed as
    /// their `key_sha256`: the output stays a valid config that grants the same access, and
    /// printing the configuration does not print secrets.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        let mut shown = self.clone();
        for k in &mut shown.auth.keys {
            if let Some(key) = k.key.take() {
                k.key_sha256 = Some(attune_server::auth::sha256_hex(&key));
            }
        }
        Ok(toml::to_string_pretty(&shown)?)
    }
}

/// Start logging to stderr; `RUST_LOG` overrides the configured level, `-v` raises it.
pub fn init_tracing(settings: &Settings, verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let level = match verbose {
        0 => settings.log.level.clone(),
        1 => "debug".to_string(),
        _ => "trace".to_string(),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // Colour codes only for a person at a terminal: piped logs and log files stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_segments_are_off_by_default_and_bad_values_name_their_key() {
        let s: Settings = Figment::from(Toml::string(DEFAULT_TOML)).extract().unwrap();
        assert_eq!(s.serving.segments.to_engine().unwrap(), None);
        let on = Figment::from(Toml::string(DEFAULT_TOML))
            .merge(Toml::string(
                "[serving.segments]\nattribute = \"segment\"\n[serving.segments.models]\nheavy = 7\n",
            ))
            .extract::<Settings>()
            .unwrap();
        let engine = on.serving.segments.to_engine().unwrap().unwrap();
        assert_eq!(engine.version_for(Some("heavy")), Some(7));
        assert_eq!(engine.prior_users, 20.0);
        let err = |section: ServingSegmentsSection| section.to_engine().unwrap_err().to_string();
        let models = std::collections::BTreeMap::from([("heavy".to_string(), 0u32)]);
        assert!(err(ServingSegmentsSection {
            models: models.clone(),
            ..ServingSegmentsSection::default()
        })
        .contains("serving.segments.models needs serving.segments.attribute"));
        assert!(err(ServingSegmentsSection {
            attribute: "segment".into(),
            models,
            ..ServingSegmentsSection::default()
        })
        .contains("serving.segments.models.heavy = 0"));
        assert!(err(ServingSegmentsSection {
            attribute: "segment".into(),
            prior_users: -1.0,
            ..ServingSegmentsSection::default()
        })
        .contains("serving.segments.prior_users = -1"));
    }

    #[test]
    fn segment_recomputation_is_off_by_default_and_its_interval_must_be_positive() {
        let s: Settings = Figment::from(Toml::string(DEFAULT_TOML)).extract().unwrap();
        assert_eq!(s.serving.segments.recompute_every().unwrap(), None);
        assert!(crate::serving::schedule(&s).unwrap().segments.is_none());
        let with = |extra: &str| {
            Figment::from(Toml::string(DEFAULT_TOML))
                .merge(Toml::string(extra))
                .extract::<Settings>()
                .unwrap()
        };
        let on = with("[serving.segments]\nattribute = \"segment\"\nrecompute_every_secs = 600\n");
        assert!(on.check().is_ok());
        let (every, schedule) = crate::serving::schedule(&on).unwrap().segments.unwrap();
        assert_eq!(every, std::time::Duration::from_secs(600));
        assert_eq!(schedule.save.attribute, "segment");
        for bad in ["0", "-5"] {
            let s = with(&format!(
                "[serving.segments]\nattribute = \"segment\"\nrecompute_every_secs = {bad}\n"
            ));
            let err = s.check().unwrap_err().to_string();
            assert!(
                err.contains(&format!(
                    "serving.segments.recompute_every_secs = {bad} must be a positive"
                )),
                "{err}"
            );
        }
        let err = with("[serving.segments]\nrecompute_every_secs = 60\n")
            .check()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("recompute_every_secs needs serving.segments.attribute"),
            "{err}"
        );
    }

    #[test]
    fn defaults_parse_and_point_at_sqlite() {
        let s: Settings = Figment::from(Toml::string(DEFAULT_TOML)).extract().unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        assert!(s.store_url().starts_with("sqlite:"));
        assert!(s.check().is_ok());
    }

    #[test]
    fn auth_keys_and_cors_are_checked_and_clear_keys_are_not_printed() {
        let file = "[[auth.keys]]\nname = \"tracker\"\nkey = \"tracker-secret-0123456789\"\nscopes = [\"ingest\"]\napps = [\"shop\"]\n";
        let s: Settings = Figment::from(Toml::string(DEFAULT_TOML))
            .merge(Toml::string(file))
            .extract()
            .unwrap();
        assert!(s.check().is_ok());
        let auth = s.auth.to_server().unwrap();
        assert_eq!(auth.keys().len(), 1);
        assert!(auth.lookup("tracker-secret-0123456789").is_some());
        let printed = s.to_toml().unwrap();
        assert!(!printed.contains("tracker-secret"), "{printed}");
        let again: Settings = Figment::from(Toml::string(&printed)).extract().unwrap();
        assert_eq!(again.auth.to_server().unwrap(), auth);

        let mut bad = s.clone();
        bad.auth.keys[0].scopes = vec!["write".into()];
        let err = bad.check().unwrap_err().to_string();
        assert!(
            err.contains("auth.keys[0].scopes") && err.contains("write"),
            "{err}"
        );
        let mut bad = s.clone();
        bad.server.cors_allowed_origins = vec!["shop.example".into()];
        let err = bad.check().unwrap_err().to_string();
        assert!(err.contains("server.cors_allowed_origins[0]"), "{err}");
        let mut bad = s;
        bad.auth.keys.clear();
        bad.auth.required = true;
        assert!(bad
            .check()
            .unwrap_err()
            .to_string()
            .contains("auth.required"));
    }

    #[test]
    fn alert_rules_and_sinks_load_from_a_file_and_errors_name_the_key() {
        let file = r#"
[[monitor.alerts]]
name = "ctr_low"
metric = "ctr"
match_labels = { source = "model" }
condition = "below"
threshold = 0.02
for_secs = 600

[[monitor.alerts]]
name = "ctr_drop"
metric = "ctr"
condition = "drop"
threshold = 0.3
baseline_secs = 86400

[[monitor.sinks.webhooks]]
name = "ops"
url = "http://127.0.0.1:5001/alerts"
"#;
        let s: Settings = Figment::from(Toml::string(DEFAULT_TOML))
            .merge(Toml::string(file))
            .extract()
            .unwrap();
        s.check().unwrap();
        assert_eq!(s.monitor.alerts.len(), 2);
        assert_eq!(s.monitor.alerts[1].baseline_secs, Some(86_400));
        assert_eq!(s.monitor.sinks.names(), vec!["log", "webhook:ops"]);
        assert_eq!(s.monitor.sinks.max_attempts, 5, "defaults kept");
        // `attune config` prints a file that loads back to the same rules.
        let again: Settings = Figment::from(Toml::string(&s.to_toml().unwrap()))
            .extract()
            .unwrap();
        assert_eq!(again.monitor, s.monitor);

        let mut bad = s.clone();
        bad.monitor.alerts[1].threshold = 2.0;
        let err = bad.check().unwrap_err().to_string();
        assert!(err.contains("monitor.alerts[1].threshold"), "{err}");
        let mut bad = s;
        bad.monitor.sinks.webhooks[0].url = "https://hooks.example/x".into();
        let err = bad.check().unwrap_err().to_string();
        assert!(err.contains("monitor.sinks.webhooks[0].url"), "{err}");
    }

    #[test]
    fn limits_defaults_match_the_core_and_zero_is_refused_by_key() {
        let s: Settings = Figment::from(Toml::string(DEFAULT_TOML)).extract().unwrap();
        assert_eq!(s.limits.to_core(), InputLimits::default());
        assert_eq!(s.event_rules().limits, InputLimits::default());
        let s: Settings = Figment::from(Toml::string(DEFAULT_TOML))
            .merge(Toml::string("[limits]\nmax_name_len = 0\n"))
            .extract()
            .unwrap();
        let err = s.check().unwrap_err().to_string();
        assert!(err.contains("limits.max_name_len"), "{err}");
    }

    #[test]
    fn server_defaults_match_the_library_and_bad_limits_name_their_key() {
        let s: Settings = Figment::from(Toml::string(DEFAULT_TOML)).extract().unwrap();
        let lib = attune_server::ServerConfig::default();
        assert_eq!(s.server.timeouts().unwrap(), lib.timeouts);
        assert_eq!(s.server.max_connections, lib.max_connections);
        assert_eq!(s.server.rate_limits().unwrap(), lib.rate_limits);
        let load = |toml: &str| {
            let s: Settings = Figment::from(Toml::string(DEFAULT_TOML))
                .merge(Toml::string(toml))
                .extract()
                .unwrap();
            s.check().map(|()| s)
        };
        let s = load("[server.rate_limits]\ningest_per_sec = 20\ningest_burst = 40\n").unwrap();
        let limits = s.server.rate_limits().unwrap();
        assert_eq!(limits.ingest.unwrap().per_sec, 20.0);
        assert_eq!(limits.ingest.unwrap().burst, 40);
        assert_eq!(limits.read, None);
        for (toml, key) in [
            (
                "[server]\nidle_timeout_secs = 0\n",
                "server.idle_timeout_secs",
            ),
            (
                "[server]\nheader_read_timeout_secs = -1\n",
                "server.header_read_timeout_secs",
            ),
            (
                "[server]\nbody_read_timeout_secs = 120\n",
                "server.body_read_timeout_secs",
            ),
            ("[server]\nmax_connections = 0\n", "server.max_connections"),
            (
                "[server.rate_limits]\nread_per_sec = 5\nread_burst = 0\n",
                "server.rate_limits.read_burst",
            ),
            (
                "[server.rate_limits]\ningest_per_sec = -2\n",
                "server.rate_limits.ingest_per_sec",
            ),
        ] {
            let err = load(toml).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }

    #[test]
    fn clean_defaults_match_the_core() {
        let s: Settings = Figment::from(Toml::string(DEFAULT_TOML)).extract().unwrap();
        let core = attune_core::clean::CleanConfig::default();
        assert_eq!(s.clean.to_core().unwrap().config(), &core);
    }

    #[test]
    fn clean_param_errors_name_the_key() {
        let mut s: Settings = Figment::from(Toml::string(DEFAULT_TOML)).extract().unwrap();
        s.clean.bot_mad_k = -1.0;
        let err = s.clean.to_core().unwrap_err().to_string();
        assert!(
            err.contains("clean.bot_mad_k") && err.contains("ATTUNE_CLEAN__BOT_MAD_K"),
            "{err}"
        );
        s.clean.bot_mad_k = 6.0;
        s.clean.bot_rule = "either".into();
        assert!(s
            .clean
            .to_core()
            .unwrap_err()
            .to_string()
            .contains("clean.bot_rule"));
    }
}
