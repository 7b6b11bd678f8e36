//! The audit's table and JSON. The JSON is the CLI's report format (core types are not
//! `Serialize`); the table shows one row per λ with the change against λ = 0.

use std::io::Write;

use attune_core::fairness::{AuditRun, ExposureReport, QualityReport};
use serde_json::{json, Value};

/// What the audit ran on.
#[derive(Debug, Clone)]
pub struct Setup {
    pub app: String,
    pub algorithm: String,
    pub split: String,
    pub k: usize,
    pub candidates: usize,
    pub users: usize,
    pub items: usize,
    pub item_groups: String,
    pub user_groups: Option<String>,
    /// Target exposure share per item group.
    pub targets: Vec<f64>,
    /// β of the training re-weighting (`None`: off).
    pub reweight_beta: Option<f64>,
}

/// Every run of one audit; the first is the model's own ranking (λ = 0).
#[derive(Debug, Clone)]
pub struct AuditReport {
    pub setup: Setup,
    pub runs: Vec<AuditRun>,
}

/// Relative change of `x` against `base` (0 when the base is 0).
fn change(x: f64, base: f64) -> f64 {
    if base == 0.0 {
        0.0
    } else {
        x / base - 1.0
    }
}

pub fn exposure_json(e: &ExposureReport, targets: Option<&[f64]>) -> Value {
    json!({
        "lists": e.lists,
        "gap": e.gap,
        "ratio_gap": e.ratio_gap,
        "recommended_rate_gap": e.recommended_rate_gap,
        "gini": e.gini,
        "groups": e.groups.iter().enumerate().map(|(g, x)| json!({
            "label": x.label,
            "items": x.items,
            "exposure": x.exposure,
            "share": x.share,
            "catalogue_share": x.catalogue_share,
            "ratio": x.ratio,
            "recommended_rate": x.recommended_rate,
            "target": targets.map(|t| t[g]),
        })).collect::<Vec<_>>(),
    })
}

pub fn quality_json(q: &QualityReport) -> Value {
    json!({
        "dp_gap": q.dp_gap,
        "eo_gap": q.eo_gap,
        "ndcg_gap": q.ndcg_gap,
        "groups": q.groups.iter().map(|g| json!({
            "label": g.label,
            "users": g.users,
            "ndcg": g.ndcg,
            "recall": g.recall,
            "hit_rate": g.hit_rate,
        })).collect::<Vec<_>>(),
    })
}

impl AuditReport {
    fn base(&self) -> &AuditRun {
        &self.runs[0]
    }

    pub fn to_json(&self) -> Value {
        let s = &self.setup;
        let k = s.k;
        json!({
            "app": s.app,
            "algorithm": s.algorithm,
            "split": s.split,
            "k": k,
            "candidates": s.candidates,
            "users": s.users,
            "items": s.items,
            "item_groups": s.item_groups,
            "user_groups": s.user_groups,
            "reweight_beta": s.reweight_beta,
            "runs": self.runs.iter().map(|r| json!({
                "lambda": r.lambda,
                "users": r.users,
                format!("ndcg@{k}"): r.ndcg,
                format!("recall@{k}"): r.recall,
                format!("hit_rate@{k}"): r.hit_rate,
                "ndcg_change": change(r.ndcg, self.base().ndcg),
                "gap_change": change(r.exposure.gap, self.base().exposure.gap),
                "exposure": exposure_json(&r.exposure, Some(&s.targets)),
                "user_quality": r.quality.as_ref().map(quality_json),
            })).collect::<Vec<_>>(),
        })
    }

    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let s = &self.setup;
        let base = self.base();
        writeln!(
            out,
            "fairness audit: {} on app {:?} ({} users, {} items), {}, top {} re-ranked from {} candidates",
            s.algorithm, s.app, s.users, s.items, s.split, s.k, s.candidates
        )?;
        if let Some(beta) = s.reweight_beta {
            writeln!(
                out,
                "trained on interactions re-weighted toward under-exposed popularity buckets, β = {beta}"
            )?;
        }
        let labels: Vec<&str> = base
            .exposure
            .groups
            .iter()
            .map(|g| g.label.as_str())
            .collect();
        write!(out, "item groups {}:", s.item_groups)?;
        for (g, x) in base.exposure.groups.iter().enumerate() {
            write!(
                out,
                " {} {} items ({:.1}% of the catalogue, target {:.1}%)",
                x.label,
                x.items,
                100.0 * x.catalogue_share,
                100.0 * s.targets[g]
            )?;
            if g + 1 < labels.len() {
                write!(out, ";")?;
            }
        }
        writeln!(out, "\n")?;
        let k = s.k;
        write!(
            out,
            "{:>6} {:>9} {:>8} {:>10} {:>8} {:>7} {:>8} {:>9} {:>6}",
            "λ",
            format!("ndcg@{k}"),
            "Δndcg",
            format!("recall@{k}"),
            format!("hit@{k}"),
            "gap",
            "Δgap",
            "ratio_gap",
            "gini"
        )?;
        for l in &labels {
            write!(out, " {:>7}", format!("{l}%"))?;
        }
        writeln!(out)?;
        for r in &self.runs {
            write!(
                out,
                "{:>6} {:>9.4} {:>7.1}% {:>10.4} {:>8.4} {:>7.4} {:>7.1}% {:>9.3} {:>6.4}",
                r.lambda,
                r.ndcg,
                100.0 * change(r.ndcg, base.ndcg),
                r.recall,
                r.hit_rate,
                r.exposure.gap,
                100.0 * change(r.exposure.gap, base.exposure.gap),
                r.exposure.ratio_gap,
                r.exposure.gini
            )?;
            for g in &r.exposure.groups {
                write!(out, " {:>7.1}", 100.0 * g.share)?;
            }
            writeln!(out)?;
        }
        if let (Some(ug), Some(_)) = (&s.user_groups, &base.quality) {
            writeln!(
                out,
                "\nuser groups {ug}: NDCG@{k} / recall@{k} / hit rate per group"
            )?;
            for r in &self.runs {
                let q = r.quality.as_ref().expect("every run has user groups");
                write!(out, "λ {:<4}", r.lambda)?;
                for g in &q.groups {
                    write!(
                        out,
                        "  {} ({} users) {:.4} / {:.4} / {:.4}",
                        g.label, g.users, g.ndcg, g.recall, g.hit_rate
                    )?;
                }
                writeln!(
                    out,
                    "  | demographic-parity gap {:.4}, equal-opportunity gap {:.4}",
                    q.dp_gap, q.eo_gap
                )?;
            }
        }
        writeln!(
            out,
            "\ngap: max − min of the item groups' exposure shares (position-discounted); Δ against λ = 0"
        )
    }
}
