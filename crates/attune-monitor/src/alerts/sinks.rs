//! Where notifications go (`[monitor.sinks]`): the log, and webhooks that receive
//! Alertmanager's webhook JSON, with the retry policy they share.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::alerts::retry::RetryPolicy;
use crate::alerts::rule::valid_name;
use crate::error::{MonitorError, Result};

/// One `[[monitor.sinks.webhooks]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The receiver's name (the payload's `receiver`; the delivery record's key), unique.
    pub name: String,
    /// Where to POST, `http://host[:port]/path`.
    pub url: String,
}

/// The `[monitor.sinks]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SinksConfig {
    /// Log every notification (firing at WARN, critical at ERROR, resolved at INFO).
    pub log: bool,
    /// Webhooks; each gets every notification.
    pub webhooks: Vec<WebhookConfig>,
    /// This service's address as receivers should link to it (the payload's `externalURL`;
    /// `generatorURL` is it plus `/v1/alerts`). Empty: not sent.
    pub external_url: String,
    /// Attempts per notification and webhook, the first included.
    pub max_attempts: u32,
    /// The wait before the second attempt, milliseconds; it doubles after each failure.
    pub initial_backoff_ms: u64,
    /// The longest wait between attempts, milliseconds.
    pub max_backoff_ms: u64,
    /// How long one attempt may take (connect, send, answer), milliseconds.
    pub timeout_ms: u64,
    /// Notifications waiting per webhook; beyond it new ones are dropped and logged.
    pub queue_capacity: usize,
}

impl Default for SinksConfig {
    fn default() -> Self {
        Self {
            log: true,
            webhooks: Vec::new(),
            external_url: String::new(),
            max_attempts: 5,
            initial_backoff_ms: 1_000,
            max_backoff_ms: 60_000,
            timeout_ms: 10_000,
            queue_capacity: 1_000,
        }
    }
}

/// The most attempts a notification may get (bounded: a dead receiver must not hold a
/// queue for hours).
pub const MAX_ATTEMPTS: u32 = 20;

impl SinksConfig {
    /// The retry policy of every webhook.
    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts,
            initial_backoff: Duration::from_millis(self.initial_backoff_ms),
            max_backoff: Duration::from_millis(self.max_backoff_ms),
        }
    }

    /// The sinks' names as delivery records and listings show them: `log` (when on), then
    /// `webhook:<name>` per webhook.
    pub fn names(&self) -> Vec<String> {
        let log = self.log.then(|| "log".to_string());
        log.into_iter()
            .chain(self.webhooks.iter().map(|w| webhook_sink(&w.name)))
            .collect()
    }

    /// One attempt's time limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Check every value; `field` is where the section sits (`monitor.sinks`).
    pub fn check(&self, field: &str) -> Result<()> {
        let bad =
            |key: &str, reason: String| MonitorError::invalid(format!("{field}.{key}"), reason);
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err(bad(
                "max_attempts",
                format!("must be in 1..={MAX_ATTEMPTS}, got {}", self.max_attempts),
            ));
        }
        if self.initial_backoff_ms == 0 {
            return Err(bad("initial_backoff_ms", "must be at least 1".into()));
        }
        if self.max_backoff_ms < self.initial_backoff_ms {
            return Err(bad(
                "max_backoff_ms",
                format!(
                    "must be at least initial_backoff_ms ({}), got {}",
                    self.initial_backoff_ms, self.max_backoff_ms
                ),
            ));
        }
        if self.timeout_ms == 0 {
            return Err(bad("timeout_ms", "must be at least 1".into()));
        }
        if self.queue_capacity == 0 {
            return Err(bad("queue_capacity", "must be at least 1".into()));
        }
        if !self.external_url.is_empty() && !is_http_url(&self.external_url) {
            return Err(bad(
                "external_url",
                format!(
                    "must start with http:// or https://, got {:?}",
                    self.external_url
                ),
            ));
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            let at = |key: &str, reason: String| bad(&format!("webhooks[{i}].{key}"), reason);
            if !valid_name(&w.name) {
                return Err(at(
                    "name",
                    format!(
                        "{:?} is not a valid name: 1 to 128 characters A-Z, a-z, 0-9, '_', '.', ':' or '-'",
                        w.name
                    ),
                ));
            }
            if let Some(j) = self.webhooks[..i].iter().position(|o| o.name == w.name) {
                return Err(at(
                    "name",
                    format!("{:?} is already the name of webhooks[{j}]", w.name),
                ));
            }
            check_webhook_url(&w.url).map_err(|reason| at("url", reason))?;
        }
        Ok(())
    }
}

/// The sink name of webhook `name`: the key of its delivery records.
pub fn webhook_sink(name: &str) -> String {
    format!("webhook:{name}")
}

fn is_http_url(url: &str) -> bool {
    url.strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .is_some_and(|rest| !rest.is_empty())
}

/// Whether `url` is one the webhook sink can POST to: plain `http://` with a host. HTTPS
/// needs a TLS stack this build leaves out; point the webhook at a local relay on plain HTTP.
pub fn check_webhook_url(url: &str) -> std::result::Result<(), String> {
    if url.starts_with("https://") {
        return Err(format!(
            "{url:?}: https is not supported by this build (no TLS stack); use an http:// receiver, such as a local relay"
        ));
    }
    match url.strip_prefix("http://") {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        _ => Err(format!("{url:?} is not an http://host[:port]/path URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(c: &SinksConfig) -> String {
        match c.check("monitor.sinks").unwrap_err() {
            MonitorError::Invalid { field, .. } => field,
            other => panic!("{other}"),
        }
    }

    fn with_hook(url: &str) -> SinksConfig {
        SinksConfig {
            webhooks: vec![WebhookConfig {
                name: "ops".into(),
                url: url.into(),
            }],
            ..SinksConfig::default()
        }
    }

    #[test]
    fn defaults_pass() {
        SinksConfig::default().check("monitor.sinks").unwrap();
        with_hook("http://127.0.0.1:9093/hook")
            .check("monitor.sinks")
            .unwrap();
    }

    #[test]
    fn names_list_the_log_then_each_webhook() {
        assert_eq!(with_hook("http://a/").names(), vec!["log", "webhook:ops"]);
        let quiet = SinksConfig {
            log: false,
            ..SinksConfig::default()
        };
        assert!(quiet.names().is_empty());
    }

    #[test]
    fn attempts_are_bounded() {
        for n in [0, MAX_ATTEMPTS + 1] {
            let c = SinksConfig {
                max_attempts: n,
                ..SinksConfig::default()
            };
            assert_eq!(field(&c), "monitor.sinks.max_attempts");
        }
    }

    #[test]
    fn backoff_and_timeout_are_named() {
        let c = SinksConfig {
            initial_backoff_ms: 0,
            ..SinksConfig::default()
        };
        assert_eq!(field(&c), "monitor.sinks.initial_backoff_ms");
        let c = SinksConfig {
            max_backoff_ms: 10,
            ..SinksConfig::default()
        };
        assert_eq!(field(&c), "monitor.sinks.max_backoff_ms");
        let c = SinksConfig {
            timeout_ms: 0,
            ..SinksConfig::default()
        };
        assert_eq!(field(&c), "monitor.sinks.timeout_ms");
        let c = SinksConfig {
            queue_capacity: 0,
            ..SinksConfig::default()
        };
        assert_eq!(field(&c), "monitor.sinks.queue_capacity");
        let c = SinksConfig {
            external_url: "attune.example".into(),
            ..SinksConfig::default()
        };
        assert_eq!(field(&c), "monitor.sinks.external_url");
    }

    #[test]
    fn webhook_urls_are_plain_http_with_a_host() {
        for url in [
            "https://hooks.example/x",
            "ftp://x",
            "http://",
            "http:///x",
            "x",
        ] {
            assert_eq!(
                field(&with_hook(url)),
                "monitor.sinks.webhooks[0].url",
                "{url}"
            );
        }
        let err = with_hook("https://hooks.example/x")
            .check("monitor.sinks")
            .unwrap_err()
            .to_string();
        assert!(err.contains("https is not supported"), "{err}");
    }

    #[test]
    fn webhook_names_are_valid_and_unique() {
        let mut c = with_hook("http://a/");
        c.webhooks[0].name = "o p s".into();
        assert_eq!(field(&c), "monitor.sinks.webhooks[0].name");
        let mut c = with_hook("http://a/");
        c.webhooks.push(c.webhooks[0].clone());
        assert_eq!(field(&c), "monitor.sinks.webhooks[1].name");
    }
}
