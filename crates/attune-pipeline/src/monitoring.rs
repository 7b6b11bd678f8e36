//! One monitoring tick over every app (the scheduler's `attune-monitor` thread): each step
//! of [`attune_monitor`] in turn (quality, then drift against the active model's training
//! data, [`crate::drift`]), guarded rollouts ([`crate::rollout`]), then alert rules
//! over the series the steps wrote, then retention. A step that fails is logged and the others
//! still run: monitoring must never stop because one app's data is odd.

use std::sync::Arc;

use attune_monitor::MonitorConfig;

use crate::Pipeline;

/// Run one tick for every app at the current time.
pub fn monitor_all(pipeline: &Arc<Pipeline>, config: &MonitorConfig) {
    let store = pipeline.engine().store();
    let apps = match store.list_apps() {
        Ok(apps) => apps,
        Err(e) => {
            tracing::warn!(error = %e, "monitoring: cannot list apps");
            return;
        }
    };
    let now = chrono::Utc::now().timestamp_micros();
    for app in apps {
        monitor_app(pipeline, config, &app, now);
    }
}

/// One tick for `app` at `now_micros`.
pub fn monitor_app(pipeline: &Arc<Pipeline>, config: &MonitorConfig, app: &str, now_micros: i64) {
    let store = pipeline.engine().store();
    match attune_monitor::quality::record(
        &**store,
        app,
        now_micros,
        config.window_micros(),
        &config.quality,
    ) {
        Ok(points) => pipeline.quality().set(app, points),
        Err(e) => tracing::warn!(app, error = %e, "monitoring: quality not recorded"),
    }
    if config.drift.enabled {
        let window = config.window_micros();
        if let Err(e) = crate::drift::tick(pipeline, app, now_micros, window, &config.drift) {
            tracing::warn!(app, error = %e, "monitoring: drift not recorded");
        }
    }
    match crate::rollout::evaluate(pipeline.engine(), pipeline.notifier(), app, now_micros) {
        Ok(decided) => {
            for r in decided {
                tracing::info!(app, canary = r.canary, verdict = ?r.verdict, reason = r.reason, "guarded rollout decided");
            }
        }
        Err(e) => tracing::warn!(app, error = %e, "monitoring: guarded rollouts not judged"),
    }
    // Alerts read what this tick's steps wrote, so they run after them.
    alerts(pipeline, config, app, now_micros);
    match store.prune_points(app, now_micros.saturating_sub(config.retention_micros())) {
        Ok(0) => {}
        Ok(n) => tracing::debug!(app, points = n, "monitoring: old points pruned"),
        Err(e) => tracing::warn!(app, error = %e, "monitoring: pruning failed"),
    }
}

/// Evaluate `app`'s alert rules. Notifications are only enqueued here; delivery runs on the
/// notifier's threads, so a slow receiver never delays the tick.
fn alerts(pipeline: &Pipeline, config: &MonitorConfig, app: &str, now_micros: i64) {
    match attune_monitor::alerts::evaluate(pipeline.notifier(), app, &config.alerts, now_micros) {
        Ok(changes) if !changes.is_empty() => {
            tracing::debug!(
                app,
                changes = changes.len(),
                "monitoring: alert states changed"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(app, error = %e, "monitoring: alert rules not evaluated"),
    }
}

#[cfg(test)]
mod tests {
    use attune_core::event::EventWeighting;
    use attune_monitor::alerts::{AlertRule, Condition};
    use attune_serving::{Serving, ServingConfig};
    use attune_store::{MetricPoint, MonitorStore as _, Store as _};

    use super::*;
    use crate::PipelineConfig;

    #[test]
    fn the_tick_evaluates_alert_rules() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Arc::new(attune_store::sqlite::SqliteStore::open(dir.path().join("a.db")).unwrap());
        store.create_app("shop").unwrap();
        let engine = Serving::new(
            store.clone(),
            dir.path(),
            ServingConfig::default(),
            EventWeighting::default(),
        );
        let pipeline = Arc::new(Pipeline::new(Arc::new(engine), PipelineConfig::default()));
        let now = 1_700_000_000_000_000;
        store
            .put_points(
                "shop",
                &[MetricPoint {
                    metric: "latency_p99_ms".into(),
                    labels: Default::default(),
                    at_micros: now - 60_000_000,
                    value: 900.0,
                }],
            )
            .unwrap();
        let rule: AlertRule = serde_json::from_value(serde_json::json!({
            "name": "slow", "metric": "latency_p99_ms", "condition": "above", "threshold": 500.0
        }))
        .unwrap();
        assert_eq!(rule.condition, Condition::Above);
        let config = MonitorConfig {
            alerts: vec![rule],
            ..MonitorConfig::default()
        };
        monitor_app(&pipeline, &config, "shop", now);
        let alerts = store.list_alerts("shop").unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(
            (alerts[0].rule.as_str(), alerts[0].state.as_str()),
            ("slow", "firing")
        );
        assert_eq!(alerts[0].value, Some(900.0));
    }
}
