//! Segments recomputed and saved, and serving told: the one path behind `attune segment
//! --save-as` and the scheduler's segment loop (`[serving.segments] recompute_every_secs`).
//!
//! Serving routes a user by the segment it read with their profile when it loaded their live
//! state ([`attune_serving::segments`]). Saving new segments therefore ends by forgetting, in
//! the engine, the users whose segment moved (the path a profile change through the API
//! takes), so their next request is routed by the new segment without a restart.
//!
//! The scheduler recomputes **rule** segments only: their names (`new`, `dormant`, `heavy`,
//! `active`) mean the same from one run to the next, so `[serving.segments.models]` can name
//! them. k-means numbers its clusters afresh on every fit ("cluster 2" today is not
//! yesterday's), so a schedule of it would move users between versions at random.

use std::collections::BTreeMap;
use std::sync::Arc;

use attune_core::features::UserFeatureParams;
use attune_core::limits::InputLimits;
use attune_core::segment::ValidRuleSegments;
use attune_core::time::Timestamp;
use attune_serving::Serving;
use attune_store::Store;

use crate::config::PipelineConfig;
use crate::data::AppData;
use crate::error::{PipelineError, Result};
use crate::segments::{save_segments, segment_users, Method, SegmentReport, SegmentRequest};
use crate::Pipeline;

/// Where segments are saved.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveAs {
    /// The profile attribute that holds the segment (`[serving.segments] attribute`).
    pub attribute: String,
    /// The `[limits]` every written profile must pass.
    pub limits: InputLimits,
}

/// What one recomputation did.
#[derive(Debug, Clone, PartialEq)]
pub struct Resegmented {
    /// The segmentation (every user's segment, the description).
    pub report: SegmentReport,
    /// Users whose stored segment changed (the profiles written).
    pub changed: Vec<String>,
    /// Users the serving engine forgot, to be reloaded with their new segment.
    pub reloaded: usize,
}

impl Resegmented {
    /// Users per segment, by name.
    pub fn sizes(&self) -> BTreeMap<&str, usize> {
        let mut sizes = BTreeMap::new();
        for label in &self.report.labels {
            *sizes.entry(label.as_str()).or_insert(0) += 1;
        }
        sizes
    }
}

/// The segments of `app`'s users as training sees them (consent applied, cleaned as
/// `[train].clean` says): `attune segment` without `--save-as`, and the first half of
/// [`resegment`].
pub fn segment_app(
    store: &dyn Store,
    app: &str,
    config: &PipelineConfig,
    request: &SegmentRequest,
) -> Result<SegmentReport> {
    let data = AppData::for_training(store, app, config, None)?;
    segment_users(&data, request)
}

/// Segment `app`'s users, save each one's segment into their profile (only those that
/// changed are written) and, given the `serving` engine of this process, make it reload the
/// users whose segment moved. Nothing is written when segmenting fails or a profile would be
/// refused.
pub fn resegment(
    store: &dyn Store,
    app: &str,
    config: &PipelineConfig,
    request: &SegmentRequest,
    save: &SaveAs,
    serving: Option<&Serving>,
) -> Result<Resegmented> {
    let report = segment_app(store, app, config, request)?;
    let changed = save_segments(store, app, &report, &save.attribute, &save.limits)?;
    let reloaded = serving.map_or(0, |s| {
        let pairs = report
            .users
            .iter()
            .zip(&report.labels)
            .map(|(u, l)| (u.as_str(), l.as_str()));
        s.segments_changed(app, pairs, &changed)
    });
    Ok(Resegmented {
        report,
        changed,
        reloaded,
    })
}

/// The scheduler's segment loop: rule segments into `save`'s attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentSchedule {
    /// The thresholds (`[segments.rules]`).
    pub rules: ValidRuleSegments,
    /// Where segments go (the attribute serving routes by).
    pub save: SaveAs,
}

impl SegmentSchedule {
    /// The request of a run at `now`: rules over the default feature table.
    pub fn request(&self, now: Timestamp) -> SegmentRequest {
        SegmentRequest {
            method: Method::Rules(self.rules.clone()),
            columns: Vec::new(),
            min_count: 5,
            seed: 0,
            now,
            params: UserFeatureParams::default(),
            pca_components: 0,
        }
    }
}

/// Recompute the segments of every app with users, as of now, through [`resegment`] with the
/// pipeline's engine; one log line per app with the users per segment. An app without users
/// is skipped; a failing app is logged and the others still run. Returns the apps done.
pub fn resegment_all(pipeline: &Arc<Pipeline>, schedule: &SegmentSchedule) -> Vec<Resegmented> {
    let store = pipeline.store();
    let apps = match store.list_apps() {
        Ok(apps) => apps,
        Err(e) => {
            tracing::warn!(error = %e, "segment recomputation: cannot list apps");
            return Vec::new();
        }
    };
    let mut done = Vec::new();
    for app in apps {
        let request = schedule.request(Timestamp::from_utc_micros(
            chrono::Utc::now().timestamp_micros(),
        ));
        let started = std::time::Instant::now();
        match resegment(
            store,
            &app,
            pipeline.config(),
            &request,
            &schedule.save,
            Some(pipeline.engine()),
        ) {
            Ok(r) => {
                tracing::info!(
                    app,
                    attribute = schedule.save.attribute,
                    users = r.report.users.len(),
                    segments = ?r.sizes(),
                    changed = r.changed.len(),
                    reloaded = r.reloaded,
                    ms = started.elapsed().as_millis() as u64,
                    "segments recomputed"
                );
                done.push(r);
            }
            Err(PipelineError::NoData(why)) => {
                tracing::debug!(app, why, "segment recomputation skipped");
            }
            Err(e) => tracing::warn!(app, error = %e, "segment recomputation failed"),
        }
    }
    done
}
