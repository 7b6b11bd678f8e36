//! `attune segment [--method rules|kmeans|dbscan] [--json] [--assignments FILE]`: the users of
//! an app grouped by `attune_pipeline::segments` and each segment described, in numbers (size,
//! means against everyone as standardized differences, top categories) and in a line of words.
//!
//! `--save-as ATTR` stores each user's segment in their profile, where monitoring by segment
//! and fairness by user group read profile attributes.
//!
//! The human report shows, per segment, the five numeric features that differ most; `--json`
//! has all of them, the choice-of-k table and the PCA loadings.

use std::io::Write as _;
use std::process::ExitCode;

use attune_core::features::UserFeatureParams;
use attune_core::segment::Description;
use attune_pipeline::resegment::{resegment, segment_app, SaveAs};
use attune_pipeline::segments::{Method, MethodReport, PcaSummary, SegmentReport, SegmentRequest};
use serde::Serialize;

use super::apps::{open_store, require_app};
use super::features::as_of;
use super::output::Output;
use crate::cli::{SegmentArgs, SegmentMethodArg};
use crate::config::Settings;

pub fn run(args: SegmentArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let method = match args.method {
        SegmentMethodArg::Rules => Method::Rules(
            settings
                .segments
                .rules
                .clone()
                .check()
                .map_err(|e| anyhow::anyhow!("invalid configuration: segments.rules.{e}"))?,
        ),
        SegmentMethodArg::Kmeans => Method::KMeans {
            k: args.k,
            k_max: args.k_max,
        },
        SegmentMethodArg::Dbscan => Method::Dbscan {
            eps: args.eps,
            min_samples: args.min_samples,
        },
    };
    let request = SegmentRequest {
        method,
        columns: args.columns.iter().map(|c| c.trim().to_string()).collect(),
        min_count: args.min_count,
        seed: args.seed,
        now: as_of(args.as_of.as_deref())?,
        params: UserFeatureParams::default(),
        pca_components: args.pca,
    };
    let store = open_store(settings)?;
    let app = args.app.app.as_str();
    require_app(&*store, app)?;
    let config = crate::serving::pipeline_config(settings)?;
    // One library call either way; with --save-as it is the scheduler's (`attune serve` with
    // `serving.segments.recompute_every_secs`). Profiles first: a refused attribute name
    // writes neither them nor the assignments.
    let report = match &args.save_as {
        None => segment_app(&*store, app, &config, &request)?,
        Some(attribute) => {
            let save = SaveAs {
                attribute: attribute.clone(),
                limits: settings.limits.to_core(),
            };
            let done = resegment(&*store, app, &config, &request, &save, None)?;
            eprintln!(
                "attune: stored the segment of {} users in their profiles as attributes.{attribute} \
                 ({} changed)",
                done.report.users.len(),
                done.changed.len()
            );
            done.report
        }
    };

    if let Some(path) = &args.assignments {
        let mut out = Output::new(Some(path))?;
        let mut w = csv::Writer::from_writer(out.writer());
        w.write_record(["user_id", "segment"])?;
        for (user, label) in report.users.iter().zip(&report.labels) {
            w.write_record([user, label])?;
        }
        w.flush()?;
        drop(w);
        out.finish()?;
    }
    let dto = ReportDto::new(app, &report);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &dto)?;
        writeln!(out)?;
    } else {
        dto.write_human(&mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON report.
#[derive(Serialize)]
struct ReportDto<'a> {
    app: &'a str,
    users: usize,
    method: MethodDto,
    /// Columns of the prepared matrix (empty for rules without PCA).
    features: &'a [String],
    #[serde(flatten)]
    description: &'a Description,
    pca: Option<PcaDto<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "name", rename_all = "lowercase")]
enum MethodDto {
    Rules {
        new_days: f64,
        dormant_days: f64,
        heavy_quantile: f64,
        heavy_min_actions: Option<u64>,
        heavy_threshold: Option<f64>,
    },
    Kmeans {
        k: usize,
        chosen_by: &'static str,
        choice_users: usize,
        choice: Vec<KRowDto>,
        inertia: f64,
        n_iter: usize,
    },
    Dbscan {
        eps: f64,
        eps_from_knee: bool,
        min_samples: usize,
        clusters: usize,
        noise: usize,
    },
}

#[derive(Serialize)]
struct KRowDto {
    k: usize,
    inertia: f64,
    silhouette: Option<f64>,
}

#[derive(Serialize)]
struct PcaDto<'a> {
    explained_variance_ratio: &'a [f64],
    top_loadings: Vec<Vec<(&'a str, f64)>>,
}

impl<'a> ReportDto<'a> {
    fn new(app: &'a str, r: &'a SegmentReport) -> Self {
        let method = match &r.method {
            MethodReport::Rules {
                rules,
                heavy_threshold,
            } => {
                let rules = rules.rules();
                MethodDto::Rules {
                    new_days: rules.new_days,
                    dormant_days: rules.dormant_days,
                    heavy_quantile: rules.heavy_quantile,
                    heavy_min_actions: rules.heavy_min_actions,
                    heavy_threshold: *heavy_threshold,
                }
            }
            MethodReport::KMeans {
                k,
                choice,
                choice_users,
                inertia,
                n_iter,
            } => MethodDto::Kmeans {
                k: *k,
                chosen_by: match choice {
                    None => "given",
                    Some(c) if c.elbow_k == Some(*k) => "elbow",
                    Some(c) if c.best_silhouette_k == Some(*k) => "silhouette",
                    Some(_) => "smallest",
                },
                choice_users: *choice_users,
                choice: choice
                    .iter()
                    .flat_map(|c| &c.table)
                    .map(|s| KRowDto {
                        k: s.k,
                        inertia: s.inertia,
                        silhouette: s.silhouette,
                    })
                    .collect(),
                inertia: *inertia,
                n_iter: *n_iter,
            },
            MethodReport::Dbscan {
                eps,
                eps_from_knee,
                min_samples,
                clusters,
                noise,
            } => MethodDto::Dbscan {
                eps: *eps,
                eps_from_knee: *eps_from_knee,
                min_samples: *min_samples,
                clusters: *clusters,
                noise: *noise,
            },
        };
        Self {
            app,
            users: r.users.len(),
            method,
            features: &r.features,
            description: &r.description,
            pca: r.pca.as_ref().map(PcaDto::new),
        }
    }

    fn write_human(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(out, "app {:?}: {} users", self.app, self.users)?;
        match &self.method {
            MethodDto::Rules {
                new_days,
                dormant_days,
                heavy_threshold,
                ..
            } => {
                let heavy = heavy_threshold.map_or("nobody active".to_string(), |t| {
                    format!("at least {t} actions")
                });
                writeln!(
                    out,
                    "rules: new under {new_days} days, dormant after {dormant_days} idle days, heavy {heavy}"
                )?;
            }
            MethodDto::Kmeans {
                k,
                chosen_by,
                choice_users,
                choice,
                inertia,
                ..
            } => {
                writeln!(
                    out,
                    "k-means on {} prepared features: k = {k} ({chosen_by}), inertia {inertia:.1}",
                    self.features.len()
                )?;
                if !choice.is_empty() {
                    writeln!(out, "  choosing k on {choice_users} users:")?;
                    writeln!(out, "  {:>4} {:>12} {:>11}", "k", "inertia", "silhouette")?;
                    for row in choice {
                        let sil = row
                            .silhouette
                            .map_or("-".to_string(), |s| format!("{s:.3}"));
                        writeln!(out, "  {:>4} {:>12.1} {:>11}", row.k, row.inertia, sil)?;
                    }
                }
            }
            MethodDto::Dbscan {
                eps,
                eps_from_knee,
                min_samples,
                clusters,
                noise,
            } => {
                let from = if *eps_from_knee {
                    " (k-distance knee)"
                } else {
                    ""
                };
                writeln!(
                    out,
                    "DBSCAN on {} prepared features: eps {eps:.3}{from}, min_samples {min_samples}: {clusters} clusters, {noise} noise users",
                    self.features.len()
                )?;
            }
        }
        writeln!(out)?;
        for s in &self.description.segments {
            writeln!(
                out,
                "{}: {} users ({:.1}%): {}",
                s.segment,
                s.size,
                100.0 * s.share,
                s.summary
            )?;
            let mut numeric: Vec<_> = s.numeric.iter().filter(|c| c.std_diff.is_some()).collect();
            numeric.sort_by(|a, b| {
                let key = |c: &&attune_core::segment::NumericContrast| c.std_diff.unwrap().abs();
                key(b).total_cmp(&key(a))
            });
            for c in numeric.iter().take(5) {
                writeln!(
                    out,
                    "    {:<22} {:>10} (all {:.3}, {:+.2} sd)",
                    c.column,
                    c.mean.map_or("-".to_string(), |m| format!("{m:.3}")),
                    c.overall_mean,
                    c.std_diff.unwrap()
                )?;
            }
            for c in &s.categorical {
                writeln!(
                    out,
                    "    {:<22} {} {:.0}% (all {:.0}%)",
                    c.column,
                    c.value,
                    100.0 * c.share,
                    100.0 * c.overall_share
                )?;
            }
        }
        if let Some(p) = &self.pca {
            writeln!(out)?;
            for (i, (ratio, loads)) in p
                .explained_variance_ratio
                .iter()
                .zip(&p.top_loadings)
                .enumerate()
            {
                let loads: Vec<String> = loads
                    .iter()
                    .map(|(name, w)| format!("{name} {w:+.2}"))
                    .collect();
                writeln!(
                    out,
                    "PC{}: {:.1}% of variance ({})",
                    i + 1,
                    100.0 * ratio,
                    loads.join(", ")
                )?;
            }
        }
        Ok(())
    }
}

impl<'a> PcaDto<'a> {
    fn new(p: &'a PcaSummary) -> Self {
        Self {
            explained_variance_ratio: &p.explained_variance_ratio,
            top_loadings: p
                .top_loadings
                .iter()
                .map(|l| l.iter().map(|(n, w)| (n.as_str(), *w)).collect())
                .collect(),
        }
    }
}
