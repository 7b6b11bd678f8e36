//! `[monitor]`: how often monitoring runs, over what window, and how long series are kept.
//! Each part's own settings live beside it and are gathered here.

use serde::{Deserialize, Serialize};

use crate::alerts::{AlertRule, SinksConfig};
use crate::error::{MonitorError, Result};

/// The `[monitor]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    /// Seconds between monitoring ticks on each replica (0: off).
    pub interval_secs: u64,
    /// The sliding window online metrics summarize, seconds.
    pub window_secs: u64,
    /// Days of metric points kept; older ones are pruned at each tick.
    pub retention_days: f64,
    /// `[monitor.quality]`.
    pub quality: crate::quality::QualityConfig,
    /// `[monitor.drift]`.
    pub drift: crate::drift::DriftConfig,
    /// Alert rules (`[[monitor.alerts]]`), evaluated at every tick.
    pub alerts: Vec<AlertRule>,
    /// Where alert notifications go (`[monitor.sinks]`).
    pub sinks: SinksConfig,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            interval_secs: 60,
            window_secs: 3_600,
            retention_days: 30.0,
            quality: crate::quality::QualityConfig::default(),
            drift: crate::drift::DriftConfig::default(),
            alerts: Vec::new(),
            sinks: SinksConfig::default(),
        }
    }
}

impl MonitorConfig {
    /// Check every value; an error names `monitor.<key>`.
    pub fn check(&self) -> Result<()> {
        if self.window_secs == 0 {
            return Err(MonitorError::invalid(
                "monitor.window_secs",
                "must be at least 1",
            ));
        }
        if !(self.retention_days.is_finite() && self.retention_days > 0.0) {
            return Err(MonitorError::invalid(
                "monitor.retention_days",
                format!("must be a positive number, got {}", self.retention_days),
            ));
        }
        self.drift.check("monitor.drift")?;
        crate::alerts::check_rules(&self.alerts, "monitor.alerts")?;
        self.sinks.check("monitor.sinks")?;
        Ok(())
    }

    /// The window in micros.
    pub fn window_micros(&self) -> i64 {
        (self.window_secs as i64).saturating_mul(1_000_000)
    }

    /// Points older than this many micros before now are pruned.
    pub fn retention_micros(&self) -> i64 {
        (self.retention_days * 86_400e6) as i64
    }
}
