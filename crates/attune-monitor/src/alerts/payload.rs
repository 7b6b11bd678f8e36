//! Prometheus Alertmanager's webhook JSON (version "4"), so anything that takes
//! Alertmanager webhooks (Alertmanager-compatible relays, incident tools, a small script)
//! takes attune's alerts unchanged.
//!
//! The shape follows Alertmanager's source: `notify/webhook/webhook.go` (`Message`: the
//! template data plus `version`, `groupKey`, `truncatedAlerts`) and `template/template.go`
//! (`Data`, `Alert`), documented at
//! <https://prometheus.io/docs/alerting/latest/configuration/#webhook_config>. Times are
//! RFC 3339; a firing alert's `endsAt` is Go's zero time `0001-01-01T00:00:00Z`, as
//! Alertmanager sends it. The `fingerprint` is Prometheus' label-set fingerprint
//! (`prometheus/common` `model/signature.go`): FNV-1a 64 over the sorted label names and
//! values, each followed by a 0xff byte, as 16 hex digits. Each notification carries one
//! alert, grouped by `alertname` and `app`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alerts::notification::Notification;
use crate::alerts::text::labels_text;

/// Go's zero `time.Time` in RFC 3339: the `endsAt` of an alert that has not ended.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The webhook body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookMessage {
    /// The receiver (webhook) name.
    pub receiver: String,
    /// `firing` if any alert is firing, else `resolved`.
    pub status: String,
    /// The alerts.
    pub alerts: Vec<WebhookAlert>,
    /// The labels the group is formed by.
    pub group_labels: BTreeMap<String, String>,
    /// Labels every alert shares.
    pub common_labels: BTreeMap<String, String>,
    /// Annotations every alert shares.
    pub common_annotations: BTreeMap<String, String>,
    /// Where the sender can be reached.
    #[serde(rename = "externalURL")]
    pub external_url: String,
    /// The protocol version, "4".
    pub version: String,
    /// Identifies the group (`{}:{alertname="...", app="..."}`).
    pub group_key: String,
    /// Alerts left out for size (always 0: one alert per message).
    pub truncated_alerts: u64,
}

/// One alert of a webhook body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Identifying labels (`alertname`, `app`, `severity`, the series').
    pub labels: BTreeMap<String, String>,
    /// Annotations (`summary`, `description`, `value`, ...).
    pub annotations: BTreeMap<String, String>,
    /// When it started firing (RFC 3339).
    pub starts_at: String,
    /// When it resolved, or [`ZERO_TIME`].
    pub ends_at: String,
    /// A link to where it came from.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// The label set's fingerprint.
    pub fingerprint: String,
}

/// Prometheus' fingerprint of a label set.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut add = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    };
    // A BTreeMap iterates by name, byte-wise: Go's sort.Strings order.
    for (name, value) in labels {
        add(name.as_bytes());
        add(&[0xff]);
        add(value.as_bytes());
        add(&[0xff]);
    }
    format!("{h:016x}")
}

/// UTC micros as RFC 3339 (`Z`, fraction only when non-zero).
pub fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| ZERO_TIME.to_string())
}

/// The body `receiver` gets for `n`; `external_url` is the service's address (may be empty).
pub fn message(n: &Notification, receiver: &str, external_url: &str) -> WebhookMessage {
    let labels = n.wire_labels();
    let group_labels = n.group_labels();
    let base = external_url.trim_end_matches('/');
    let alert = WebhookAlert {
        status: n.status.as_str().into(),
        fingerprint: fingerprint(&labels),
        labels: labels.clone(),
        annotations: n.annotations.clone(),
        starts_at: rfc3339(n.starts_micros),
        ends_at: n.ends_micros.map_or_else(|| ZERO_TIME.to_string(), rfc3339),
        generator_url: if base.is_empty() {
            String::new()
        } else {
            format!("{base}/v1/alerts")
        },
    };
    WebhookMessage {
        receiver: receiver.into(),
        status: n.status.as_str().into(),
        alerts: vec![alert],
        group_key: format!("{{}}:{}", labels_text(&group_labels)),
        group_labels,
        common_labels: labels,
        common_annotations: n.annotations.clone(),
        external_url: external_url.into(),
        version: "4".into(),
        truncated_alerts: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::notification::Status;
    use crate::alerts::rule::Severity;
    use crate::series::labels;

    #[test]
    fn fingerprint_matches_prometheus() {
        // The vectors of prometheus/common model/signature_test.go (as decimal there).
        assert_eq!(
            fingerprint(&BTreeMap::new()),
            format!("{:016x}", 14695981039346656037u64)
        );
        assert_eq!(
            fingerprint(&labels(&[
                ("name", "garland, briggs"),
                ("fear", "love is not enough")
            ])),
            format!("{:016x}", 5799056148416392346u64)
        );
        assert_eq!(
            fingerprint(&labels(&[
                ("first-label", "first-label-value"),
                ("second-label", "second-label-value"),
                ("third-label", "third-label-value"),
            ])),
            format!("{:016x}", 13843036195897128121u64)
        );
        assert_ne!(
            fingerprint(&labels(&[("ab", "")])),
            fingerprint(&labels(&[("a", "b")]))
        );
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_500_000), "1970-01-01T00:00:01.500Z");
    }

    fn notification(status: Status, ends: Option<i64>) -> Notification {
        Notification {
            app: "shop".into(),
            alertname: "ctr_low".into(),
            labels: labels(&[("source", "model"), ("app", "spoofed")]),
            severity: Severity::Critical,
            status,
            annotations: BTreeMap::from([("summary".to_string(), "CTR low".to_string())]),
            starts_micros: 1_700_000_000_000_000,
            ends_micros: ends,
        }
    }

    #[test]
    fn a_firing_message_has_alertmanagers_shape() {
        let m = message(
            &notification(Status::Firing, None),
            "ops",
            "http://attune:8080/",
        );
        let v = serde_json::to_value(&m).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = vec![
            "receiver",
            "status",
            "alerts",
            "groupLabels",
            "commonLabels",
            "commonAnnotations",
            "externalURL",
            "version",
            "groupKey",
            "truncatedAlerts",
        ];
        let mut got = keys.clone();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(v["version"], "4");
        assert_eq!(v["status"], "firing");
        assert_eq!(v["groupKey"], r#"{}:{alertname="ctr_low", app="shop"}"#);
        assert_eq!(v["truncatedAlerts"], 0);
        let a = &v["alerts"][0];
        let mut akeys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
        akeys.sort_unstable();
        assert_eq!(
            akeys,
            vec![
                "annotations",
                "endsAt",
                "fingerprint",
                "generatorURL",
                "labels",
                "startsAt",
                "status"
            ]
        );
        assert_eq!(a["labels"]["alertname"], "ctr_low");
        assert_eq!(a["labels"]["app"], "shop", "attune's labels win");
        assert_eq!(a["labels"]["severity"], "critical");
        assert_eq!(a["labels"]["source"], "model");
        assert_eq!(a["startsAt"], "2023-11-14T22:13:20Z");
        assert_eq!(a["endsAt"], ZERO_TIME);
        assert_eq!(a["generatorURL"], "http://attune:8080/v1/alerts");
        assert_eq!(a["fingerprint"].as_str().unwrap().len(), 16);
        assert_eq!(v["commonLabels"], a["labels"]);
        assert_eq!(v["commonAnnotations"]["summary"], "CTR low");
    }

    #[test]
    fn a_resolved_message_ends_and_keeps_the_fingerprint() {
        let f = message(&notification(Status::Firing, None), "ops", "");
        let r = message(
            &notification(Status::Resolved, Some(1_700_000_060_000_000)),
            "ops",
            "",
        );
        assert_eq!(r.status, "resolved");
        assert_eq!(r.alerts[0].ends_at, "2023-11-14T22:14:20Z");
        assert_eq!(r.alerts[0].starts_at, f.alerts[0].starts_at);
        assert_eq!(r.alerts[0].fingerprint, f.alerts[0].fingerprint);
        assert_eq!(r.alerts[0].generator_url, "");
    }
}
