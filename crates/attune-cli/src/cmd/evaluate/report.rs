//! The evaluation report: a table (metrics down, algorithms across; mean ± sample standard
//! deviation over folds) and the same numbers, per fold, as JSON.

use std::collections::BTreeMap;
use std::io::Write;

use attune_core::eval::mean_std;
use serde_json::{json, Value};

use super::run::Metrics;

/// One column of the report: an algorithm (or an outside tool's lists) over every fold.
#[derive(Debug, Clone, Default)]
pub struct Column {
    /// What the user asked for (`als:factors=32|64`, or the lists name).
    pub label: String,
    /// Per fold: the canonical spec that produced the numbers (the chosen one when a
    /// validation part selected among several), or the lists file.
    pub specs: Vec<String>,
    /// Per fold metrics.
    pub folds: Vec<Metrics>,
    /// Per fold: every candidate's validation metric, when a validation part chose.
    pub validation: Vec<Vec<(String, f64)>>,
}

/// Everything `attune evaluate` reports.
#[derive(Debug, Clone)]
pub struct Report {
    /// The protocol or split, in words.
    pub protocol: String,
    /// Split parameters, data sizes and options, for the JSON.
    pub setup: BTreeMap<String, Value>,
    /// Metric the validation part selects by (when there is one).
    pub select_by: Option<String>,
    pub columns: Vec<Column>,
}

/// Row order of the table; metrics not listed follow in name order.
fn rank_of(metric: &str) -> usize {
    const ORDER: [&str; 15] = [
        "precision",
        "recall",
        "ndcg",
        "map",
        "hit_rate",
        "mrr",
        "coverage",
        "diversity",
        "novelty",
        "avg_popularity",
        "rmse",
        "mae",
        "users",
        "ratings",
        "fit_secs",
    ];
    let base = metric.split('@').next().unwrap_or(metric);
    ORDER.iter().position(|m| *m == base).unwrap_or(ORDER.len())
}

fn metric_names(columns: &[Column]) -> Vec<String> {
    let mut names: Vec<String> = columns
        .iter()
        .flat_map(|c| c.folds.iter().flat_map(|f| f.keys().cloned()))
        .collect();
    names.sort_by(|a, b| rank_of(a).cmp(&rank_of(b)).then(a.cmp(b)));
    names.dedup();
    names
}

/// A metric's values over the folds that have it.
fn values(c: &Column, metric: &str) -> Vec<f64> {
    c.folds
        .iter()
        .filter_map(|f| f.get(metric).copied())
        .collect()
}

fn cell(metric: &str, v: &[f64], folds: usize) -> String {
    if v.is_empty() {
        return "-".into();
    }
    let (mean, std) = mean_std(v);
    let digits = match metric.split('@').next().unwrap_or(metric) {
        "users" | "ratings" => 0,
        "fit_secs" | "novelty" | "avg_popularity" => 2,
        _ => 4,
    };
    if folds > 1 && digits > 0 {
        format!("{mean:.digits$}±{std:.digits$}")
    } else {
        format!("{mean:.digits$}")
    }
}

/// Short column headers: the algorithm name, numbered when repeated.
fn headers(columns: &[Column]) -> Vec<String> {
    let base: Vec<String> = columns
        .iter()
        .map(|c| c.label.split(':').next().unwrap_or(&c.label).to_string())
        .collect();
    base.iter()
        .enumerate()
        .map(|(i, b)| {
            if base.iter().filter(|x| *x == b).count() > 1 {
                let n = base[..=i].iter().filter(|x| *x == b).count();
                format!("{b}#{n}")
            } else {
                b.clone()
            }
        })
        .collect()
}

impl Report {
    fn n_folds(&self) -> usize {
        self.columns
            .iter()
            .map(|c| c.folds.len())
            .max()
            .unwrap_or(0)
    }

    /// The table, then each column's full spec (and what validation chose).
    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let folds = self.n_folds();
        writeln!(out, "{}", self.protocol)?;
        if folds > 1 {
            writeln!(out, "mean ± sample standard deviation over {folds} folds")?;
        }
        let heads = headers(&self.columns);
        let metrics = metric_names(&self.columns);
        let cells: Vec<Vec<String>> = metrics
            .iter()
            .map(|m| {
                self.columns
                    .iter()
                    .map(|c| cell(m, &values(c, m), folds))
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|j| {
                cells
                    .iter()
                    .map(|r| r[j].chars().count())
                    .chain([heads[j].chars().count()])
                    .max()
                    .unwrap_or(0)
                    + 2
            })
            .collect();
        let first = metrics.iter().map(|m| m.len()).max().unwrap_or(6).max(6);
        write!(out, "{:<first$}", "metric")?;
        for (h, w) in heads.iter().zip(&widths) {
            write!(out, "{h:>w$}")?;
        }
        writeln!(out)?;
        for (m, row) in metrics.iter().zip(&cells) {
            write!(out, "{m:<first$}")?;
            for (v, w) in row.iter().zip(&widths) {
                write!(out, "{v:>w$}")?;
            }
            writeln!(out)?;
        }
        writeln!(out)?;
        for (h, c) in heads.iter().zip(&self.columns) {
            let mut specs = c.specs.clone();
            specs.dedup();
            writeln!(out, "{h}: {}", specs.join(" | "))?;
            if let (Some(by), Some(v)) = (&self.select_by, c.validation.first()) {
                if v.len() > 1 {
                    writeln!(
                        out,
                        "  chosen on validation {by} among {} candidates",
                        v.len()
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Everything as JSON: setup, then per column the per-fold metrics, their mean and
    /// standard deviation, and the validation scores of every candidate.
    pub fn to_json(&self) -> Value {
        let metrics = metric_names(&self.columns);
        let columns: Vec<Value> = self
            .columns
            .iter()
            .map(|c| {
                let mut mean = serde_json::Map::new();
                let mut std = serde_json::Map::new();
                for m in &metrics {
                    let v = values(c, m);
                    if !v.is_empty() {
                        let (a, s) = mean_std(&v);
                        mean.insert(m.clone(), json!(a));
                        std.insert(m.clone(), json!(s));
                    }
                }
                json!({
                    "label": c.label,
                    "specs": c.specs,
                    "folds": c.folds,
                    "mean": mean,
                    "std": std,
                    "validation": c.validation.iter().map(|v| v.iter().map(|(s, x)| json!({"spec": s, "value": x})).collect::<Vec<_>>()).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "protocol": self.protocol,
            "setup": self.setup,
            "select_by": self.select_by,
            "results": columns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(pairs: &[(&str, f64)]) -> Metrics {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn table_shows_mean_and_std_and_json_has_every_fold() {
        let r = Report {
            protocol: "5-fold".into(),
            setup: BTreeMap::new(),
            select_by: None,
            columns: vec![
                Column {
                    label: "mf".into(),
                    specs: vec!["mf:factors=2".into(); 2],
                    folds: vec![
                        metrics(&[("rmse", 0.9), ("ndcg@10", 0.1)]),
                        metrics(&[("rmse", 0.8), ("ndcg@10", 0.3)]),
                    ],
                    validation: vec![],
                },
                Column {
                    label: "popularity".into(),
                    specs: vec!["popularity".into(); 2],
                    folds: vec![metrics(&[("ndcg@10", 0.2)]), metrics(&[("ndcg@10", 0.2)])],
                    validation: vec![],
                },
            ],
        };
        let mut out = Vec::new();
        r.write_table(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // NDCG before RMSE; std of (0.9, 0.8) is 0.0707.
        let ndcg = lines.iter().position(|l| l.starts_with("ndcg@10")).unwrap();
        let rmse = lines.iter().position(|l| l.starts_with("rmse")).unwrap();
        assert!(ndcg < rmse, "{text}");
        assert!(lines[rmse].contains("0.8500±0.0707"), "{text}");
        assert!(lines[rmse].trim_end().ends_with('-'), "{text}");
        assert!(lines[ndcg].contains("0.2000±0.1414"), "{text}");
        assert!(text.contains("mf: mf:factors=2\n"), "{text}");
        let j = r.to_json();
        assert_eq!(j["results"][0]["folds"][1]["rmse"], json!(0.8));
        assert!((j["results"][0]["mean"]["rmse"].as_f64().unwrap() - 0.85).abs() < 1e-12);
        assert!(j["results"][1]["mean"].get("rmse").is_none());
    }

    #[test]
    fn repeated_algorithms_get_numbered_headers() {
        let col = |l: &str| Column {
            label: l.into(),
            ..Column::default()
        };
        assert_eq!(
            headers(&[col("als:factors=8"), col("ease"), col("als:factors=16")]),
            ["als#1", "ease", "als#2"]
        );
    }
}
