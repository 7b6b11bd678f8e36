//! Alerts: rules over the store's metric series, their states, and the notifications they
//! send (docs/monitoring.md, "Alerts").
//!
//! A rule (`[[monitor.alerts]]`, [`AlertRule`]) names a metric, a label matcher, a window
//! and how its points are summarized, and a condition: above or below a threshold, or a
//! relative drop against the baseline window just before. Every matching series is its own
//! alert, which the monitoring tick ([`evaluate()`]) moves inactive → pending → firing →
//! resolved ([`state::next`], pure) and saves in the store, so replicas and restarts agree.
//! Firing and resolution go to the sinks ([`Notifier`]): the log, and webhooks that receive
//! Prometheus Alertmanager's webhook JSON ([`payload`]), retried with backoff on their own
//! threads. Other parts send event alerts (a rollback) through [`Notifier::send`].
//!
//! - [`rule`]: a rule and its checks; [`sinks`]: where notifications go;
//! - [`window`]: what a rule reads at one evaluation; [`state`]: the transitions;
//! - [`evaluate()`]: one evaluation of an app; [`view`]: what the API and CLI list;
//! - [`notification`], [`payload`], [`retry`], [`webhook`], [`notifier`]: delivery;
//!   [`detail`]: the JSON stored with an alert's state.

pub mod detail;
pub mod evaluate;
pub mod notification;
pub mod notifier;
pub mod payload;
pub mod retry;
pub mod rule;
pub mod sinks;
pub mod state;
pub mod text;
pub mod view;
pub mod webhook;
pub mod window;

pub use evaluate::{evaluate, Change};
pub use notification::{Notification, Status};
pub use notifier::{EventAlert, Notifier};
pub use rule::{check_rules, Aggregate, AlertRule, Condition, NoData, Severity};
pub use sinks::{SinksConfig, WebhookConfig};
pub use state::AlertState;
pub use view::AlertView;
