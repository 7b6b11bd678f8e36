//! Segmenting an app's users: the user feature table ([`crate::features`]) grouped by rules,
//! k-means or DBSCAN, each segment described in numbers and words, with PCA for a look at how
//! separable the table is. `attune segment` prints it; one function, so every front-end that
//! segments gives the same answer.
//!
//! Rules read the raw table (days and counts); k-means and DBSCAN cluster the prepared matrix
//! (median-imputed, z-scored, one-hot), where every column weighs alike. Descriptions always
//! read the raw table, in units people act on.
//!
//! Cost: choosing k by silhouette and DBSCAN compare every pair of users, O(n²). Choosing k
//! therefore runs on a seeded sample of at most [`CHOOSE_K_SAMPLE`] users (the final k-means
//! runs on everyone); DBSCAN refuses more than [`DBSCAN_MAX_USERS`] users rather than run for
//! hours.

use std::collections::BTreeMap;

use attune_core::catalog::AttrValue;
use attune_core::features::{prepare, PreparedFeatures, UserFeatureParams, UserFeatures};
use attune_core::segment::rules::{assign, heavy_threshold};
use attune_core::segment::{
    choose_k, cluster_labels, dbscan, dbscan_labels, describe, eps_from_knee, kmeans, pca,
    DbscanParams, Dense, Description, KChoice, KMeansParams, ValidRuleSegments,
};
use attune_core::time::Timestamp;
use attune_store::Store;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::AppData;
use crate::dataset::Dataset;
use crate::error::{PipelineError, Result};
use crate::features::app_user_features;

/// Users choosing k looks at (silhouette is O(n²) in them).
pub const CHOOSE_K_SAMPLE: usize = 5_000;
/// Most users DBSCAN segments.
pub const DBSCAN_MAX_USERS: usize = 20_000;

/// How users are grouped.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// New / dormant / heavy / active by thresholds.
    Rules(ValidRuleSegments),
    /// k-means (k-means++, `n_init` runs); `k: None` chooses k in `2..=k_max` by the elbow of
    /// inertia, else the best silhouette.
    KMeans {
        /// Clusters, or `None` to choose.
        k: Option<usize>,
        /// Largest k tried when choosing.
        k_max: usize,
    },
    /// DBSCAN; `eps: None` takes it from the knee of the `min_samples`-distance curve.
    Dbscan {
        /// Neighbourhood radius in z-score units, or `None` for the knee.
        eps: Option<f64>,
        /// Neighbours (the point included) that make a core point.
        min_samples: usize,
    },
}

/// What to segment and how.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRequest {
    /// The grouping.
    pub method: Method,
    /// Only these features (empty: all); raw column names.
    pub columns: Vec<String>,
    /// A category seen fewer times gets no one-hot column.
    pub min_count: u64,
    /// Seeds k-means++ and the choose-k sample.
    pub seed: u64,
    /// Behaviour up to this time.
    pub now: Timestamp,
    /// How behaviour is summarized.
    pub params: UserFeatureParams,
    /// Principal components reported (0: no PCA).
    pub pca_components: usize,
}

/// How the method ran.
#[derive(Debug, Clone, PartialEq)]
pub enum MethodReport {
    /// Rule thresholds, with the frequency bar "heavy" came to (`None`: nobody active).
    Rules {
        /// The rules.
        rules: ValidRuleSegments,
        /// Actions at or above which an active user is heavy.
        heavy_threshold: Option<f64>,
    },
    /// k-means.
    KMeans {
        /// Clusters used.
        k: usize,
        /// The choice table, when k was chosen.
        choice: Option<KChoice>,
        /// Users the choice looked at.
        choice_users: usize,
        /// Inertia of the final fit (on all users, z-score units).
        inertia: f64,
        /// Lloyd iterations of the final fit.
        n_iter: usize,
    },
    /// DBSCAN.
    Dbscan {
        /// Radius used.
        eps: f64,
        /// Whether eps came from the knee.
        eps_from_knee: bool,
        /// Core-point neighbours.
        min_samples: usize,
        /// Clusters found.
        clusters: usize,
        /// Users labelled noise.
        noise: usize,
    },
}

/// Principal components of the prepared matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct PcaSummary {
    /// Share of variance of each component.
    pub explained_variance_ratio: Vec<f64>,
    /// Per component, its three heaviest features with their loadings.
    pub top_loadings: Vec<Vec<(String, f64)>>,
}

/// A segmentation of an app's users.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentReport {
    /// Users, sorted.
    pub users: Vec<String>,
    /// Each user's segment.
    pub labels: Vec<String>,
    /// Columns of the prepared matrix clustered (empty for rules).
    pub features: Vec<String>,
    /// How the method ran.
    pub method: MethodReport,
    /// Each segment in numbers and words.
    pub description: Description,
    /// PCA of the prepared matrix, when asked for.
    pub pca: Option<PcaSummary>,
}

/// Segment the users of `data` as `request` says.
pub fn segment_users(data: &AppData, request: &SegmentRequest) -> Result<SegmentReport> {
    let mut raw = app_user_features(data, request.now, &request.params);
    if !request.columns.is_empty() {
        let names: Vec<&str> = request.columns.iter().map(String::as_str).collect();
        raw = raw.select(&names)?;
    }
    if raw.users.is_empty() {
        return Err(PipelineError::NoData(format!(
            "app {:?} has no users to segment: no one who allows personalization has acted or \
             has a profile",
            data.app
        )));
    }
    let needs_matrix = !matches!(request.method, Method::Rules(_)) || request.pca_components > 0;
    let prepared = needs_matrix
        .then(|| matrix(&raw, request.min_count))
        .transpose()?;
    let (labels, method) = match &request.method {
        Method::Rules(rules) => {
            let bar = heavy_threshold(&raw, rules)?;
            let labels = assign(&raw, rules)?
                .into_iter()
                .map(|s| s.as_str().to_string())
                .collect();
            let method = MethodReport::Rules {
                rules: rules.clone(),
                heavy_threshold: bar,
            };
            (labels, method)
        }
        Method::KMeans { k, k_max } => {
            let (_, dense) = prepared.as_ref().expect("prepared for k-means");
            run_kmeans(dense, *k, *k_max, request.seed)?
        }
        Method::Dbscan { eps, min_samples } => {
            let (_, dense) = prepared.as_ref().expect("prepared for DBSCAN");
            run_dbscan(dense, *eps, *min_samples)?
        }
    };
    let description = describe(&raw, &labels)?;
    let pca = match (&prepared, request.pca_components) {
        (Some((p, dense)), n) if n > 0 => Some(pca_summary(p, dense, n)?),
        _ => None,
    };
    Ok(SegmentReport {
        users: raw.users,
        labels,
        features: prepared.map(|(p, _)| p.columns).unwrap_or_default(),
        method,
        description,
        pca,
    })
}

/// Users written per store transaction by [`save_segments`].
const SAVE_BATCH: usize = 1_000;

/// Write each user's segment into their profile as the text attribute `attribute`, so what
/// reads profile attributes sees it: monitoring by segment (`monitor.segment_attribute`),
/// fairness by user group (`attr:<attribute>`), the explorer, serving by segment. Users
/// without a profile get one. Only profiles whose segment changes are written: a scheduled
/// recomputation where few users move rewrites few profiles, and the users written are the
/// ones serving must reload ([`crate::resegment`]). Every changed profile is validated
/// (`limits`) before the first write, so a bad attribute name writes nothing; the writes are
/// batched, and a profile changed by someone else between the read and the write of its
/// batch is overwritten with the read copy plus the label. Returns the users written, in the
/// report's order.
pub fn save_segments(
    store: &dyn attune_store::Store,
    app: &str,
    report: &SegmentReport,
    attribute: &str,
    limits: &attune_core::limits::InputLimits,
) -> Result<Vec<String>> {
    use attune_core::catalog::User;
    let mut profiles: std::collections::HashMap<String, User> = std::collections::HashMap::new();
    store.scan_users(app, &mut |u| {
        profiles.insert(u.user_id.clone(), u);
        true
    })?;
    let mut changed = Vec::with_capacity(report.users.len());
    for (user, label) in report.users.iter().zip(&report.labels) {
        let mut profile = profiles
            .remove(user)
            .unwrap_or_else(|| User::new(user.as_str()));
        let value = AttrValue::Text(label.clone());
        if profile.attributes.get(attribute) == Some(&value) {
            continue;
        }
        profile.attributes.insert(attribute.to_string(), value);
        profile
            .validate(limits)
            .map_err(|e| PipelineError::Invalid {
                field: "attribute",
                rule: format!("the profile of {user:?} would be refused: {e}"),
            })?;
        changed.push(profile);
    }
    for batch in changed.chunks(SAVE_BATCH) {
        store.upsert_users(app, batch)?;
    }
    Ok(changed.into_iter().map(|u| u.user_id).collect())
}

/// Users grouped by the value of profile attribute `attr` (numbers and booleans as text): one
/// mask over `data`'s user rows per value, in value order. Users without the attribute, or
/// without interactions, are in no group. Tuning per segment and evaluation by segment read
/// segments this way, whether `attune segment --save-as` wrote them or an import did.
pub fn attribute_masks(
    store: &dyn Store,
    app: &str,
    data: &Dataset,
    attr: &str,
) -> Result<Vec<(String, Vec<bool>)>> {
    let mut masks: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    let app_data = AppData::read(store, app)?;
    for user in &app_data.users {
        let Some(value) = user.attributes.get(attr) else {
            continue;
        };
        let Some(row) = data.users.get(&user.user_id) else {
            continue;
        };
        let value = match value {
            AttrValue::Text(s) => s.clone(),
            AttrValue::Number(n) => n.to_string(),
            AttrValue::Bool(b) => b.to_string(),
            AttrValue::Vector(_) => continue, // a dense vector names no segment
        };
        masks
            .entry(value)
            .or_insert_with(|| vec![false; data.n_users()])[row as usize] = true;
    }
    if masks.is_empty() {
        return Err(PipelineError::NoData(format!(
            "no user profile has attribute {attr:?} (write it with `attune segment --save-as {attr}` or import users with it)"
        )));
    }
    Ok(masks.into_iter().collect())
}

/// The prepared matrix, refused when no column has a value.
fn matrix(raw: &UserFeatures, min_count: u64) -> Result<(PreparedFeatures, Dense)> {
    let p = prepare(raw, min_count)?;
    if p.columns.is_empty() {
        return Err(PipelineError::Invalid {
            field: "columns",
            rule: "no selected feature has a value for any user; nothing to cluster on".into(),
        });
    }
    let dense = Dense::new(p.users.len(), p.columns.len(), p.values.clone())?;
    Ok((p, dense))
}

fn run_kmeans(
    dense: &Dense,
    k: Option<usize>,
    k_max: usize,
    seed: u64,
) -> Result<(Vec<String>, MethodReport)> {
    let params = KMeansParams {
        seed,
        n_init: 4,
        ..KMeansParams::new(1)
    };
    let (k, choice, choice_users) = match k {
        Some(k) => (k, None, 0),
        None => {
            if k_max < 2 {
                return Err(PipelineError::Invalid {
                    field: "k_max",
                    rule: format!("must be at least 2 to choose k, got {k_max}"),
                });
            }
            let sample = sample_rows(dense, CHOOSE_K_SAMPLE, seed)?;
            let top = k_max.min(sample.rows().saturating_sub(1));
            if top < 2 {
                return Err(PipelineError::Invalid {
                    field: "k",
                    rule: format!(
                        "choosing k needs at least 3 users, this app has {}",
                        dense.rows()
                    ),
                });
            }
            let choice = choose_k(&sample, 2..=top, &params)?;
            (choice.k, Some(choice), sample.rows())
        }
    };
    let fit = kmeans(dense, &KMeansParams { k, ..params })?;
    let report = MethodReport::KMeans {
        k,
        choice,
        choice_users,
        inertia: fit.inertia,
        n_iter: fit.n_iter,
    };
    Ok((cluster_labels(&fit.labels), report))
}

fn run_dbscan(
    dense: &Dense,
    eps: Option<f64>,
    min_samples: usize,
) -> Result<(Vec<String>, MethodReport)> {
    if dense.rows() > DBSCAN_MAX_USERS {
        return Err(PipelineError::Invalid {
            field: "method",
            rule: format!(
                "DBSCAN compares every pair of users and is limited to {DBSCAN_MAX_USERS} users \
                 (this app has {}); use k-means or rules",
                dense.rows()
            ),
        });
    }
    let (eps, from_knee) = match eps {
        Some(e) => (e, false),
        None => (eps_from_knee(dense, min_samples)?, true),
    };
    let fit = dbscan(dense, &DbscanParams { eps, min_samples })?;
    let noise = fit.labels.iter().filter(|&&l| l < 0).count();
    let report = MethodReport::Dbscan {
        eps,
        eps_from_knee: from_knee,
        min_samples,
        clusters: fit.n_clusters,
        noise,
    };
    Ok((dbscan_labels(&fit.labels), report))
}

/// At most `max` rows, drawn without replacement by `seed`, in their original order.
fn sample_rows(dense: &Dense, max: usize, seed: u64) -> Result<Dense> {
    if dense.rows() <= max {
        return Ok(dense.clone());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut picked = sample(&mut rng, dense.rows(), max).into_vec();
    picked.sort_unstable();
    let data = picked.iter().flat_map(|&i| dense.row(i).to_vec()).collect();
    Ok(Dense::new(max, dense.cols(), data)?)
}

fn pca_summary(p: &PreparedFeatures, dense: &Dense, n: usize) -> Result<PcaSummary> {
    let n = n.min(dense.cols()).min(dense.rows());
    let fit = pca(dense, Some(n))?;
    let top_loadings = (0..fit.components.rows())
        .map(|c| {
            let mut loads: Vec<(String, f64)> = fit
                .components
                .row(c)
                .iter()
                .zip(&p.columns)
                .map(|(&w, name)| (name.clone(), w))
                .collect();
            loads.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
            loads.truncate(3);
            loads
        })
        .collect();
    Ok(PcaSummary {
        explained_variance_ratio: fit.explained_variance_ratio,
        top_loadings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::event::{Context, Event, EventType, Properties};
    use attune_core::segment::RuleSegments;
    use attune_core::time::{MICROS_PER_DAY, MICROS_PER_SEC};

    const DAY0: i64 = 20_000; // days since the epoch

    fn event(n: usize, user: &str, ty: EventType, day: i64, hour: i64) -> Event {
        Event {
            event_id: format!("e{n}"),
            event_type: ty,
            user_id: Some(user.into()),
            anonymous_id: None,
            item_id: Some(format!("i{}", n % 7)),
            timestamp: Timestamp::from_utc_micros(
                (DAY0 + day) * MICROS_PER_DAY + hour * 3600 * MICROS_PER_SEC,
            ),
            value: None,
            properties: Properties::default(),
            context: Context::default(),
        }
    }

    /// Ten evening buyers who came back in the last few days and ten morning browsers last seen
    /// months ago, each a little different.
    fn two_kinds() -> AppData {
        let mut events = Vec::new();
        for u in 0..10i64 {
            let buyer = format!("buyer{u}");
            for d in 0..6 {
                let ty = if d % 2 == 0 {
                    EventType::Purchase
                } else {
                    EventType::View
                };
                events.push(event(
                    events.len(),
                    &buyer,
                    ty,
                    99 - u % 3 - d * 10,
                    19 + u % 4,
                ));
            }
            let browser = format!("browser{u}");
            events.push(event(
                events.len(),
                &browser,
                EventType::View,
                10 - u,
                8 + u % 3,
            ));
            events.push(event(events.len(), &browser, EventType::View, 9 - u, 9));
        }
        AppData::from_parts("shop", events, Vec::new(), Vec::new())
    }

    /// Every buyer in one segment that no browser is in.
    fn buyers_apart(r: &SegmentReport) {
        let label = |u: &str| r.labels[r.users.iter().position(|x| x == u).unwrap()].clone();
        let buyers = label("buyer0");
        for u in 0..10 {
            assert_eq!(label(&format!("buyer{u}")), buyers, "{:?}", r.labels);
            assert_ne!(label(&format!("browser{u}")), buyers, "{:?}", r.labels);
        }
    }

    fn request(method: Method) -> SegmentRequest {
        SegmentRequest {
            method,
            columns: Vec::new(),
            min_count: 1,
            seed: 7,
            now: Timestamp::from_utc_micros((DAY0 + 100) * MICROS_PER_DAY),
            params: UserFeatureParams::default(),
            pca_components: 2,
        }
    }

    #[test]
    fn kmeans_finds_the_two_kinds_of_user_and_says_how_they_differ() {
        let data = two_kinds();
        let r = segment_users(&data, &request(Method::KMeans { k: None, k_max: 6 })).unwrap();
        let MethodReport::KMeans { k, choice, .. } = &r.method else {
            panic!("{:?}", r.method)
        };
        assert!((2..=6).contains(k), "{choice:?}");
        assert_eq!(choice.as_ref().unwrap().table.len(), 5);
        buyers_apart(&r);
        let buyers = &r.labels[r.users.iter().position(|x| x == "buyer0").unwrap()];
        let seg = r
            .description
            .segments
            .iter()
            .find(|s| &s.segment == buyers)
            .unwrap();
        assert_eq!(seg.size, 10);
        assert!(
            seg.summary.contains("more actions (frequency +1.0 sd)"),
            "{}",
            seg.summary
        );
        let recency = seg
            .numeric
            .iter()
            .find(|c| c.column == "recency_days")
            .unwrap();
        assert!(recency.std_diff.unwrap() < -0.9, "{recency:?}");
        let pca = r.pca.unwrap();
        assert_eq!(pca.explained_variance_ratio.len(), 2);
        assert!(pca.explained_variance_ratio[0] > 0.5, "{pca:?}");
        // Same seed, same answer.
        let again = segment_users(&data, &request(Method::KMeans { k: None, k_max: 6 })).unwrap();
        assert_eq!(again.labels, r.labels);
    }

    #[test]
    fn rules_and_dbscan_label_every_user() {
        let data = two_kinds();
        let rules = RuleSegments::default().check().unwrap();
        let r = segment_users(&data, &request(Method::Rules(rules))).unwrap();
        let label = |u: &str| r.labels[r.users.iter().position(|x| x == u).unwrap()].clone();
        assert_eq!(label("browser0"), "dormant"); // last seen 90 days ago
        assert_ne!(label("buyer0"), "dormant");
        assert!(r.features.iter().any(|c| c == "recency_days")); // prepared for PCA

        let method = Method::Dbscan {
            eps: Some(1.5),
            min_samples: 3,
        };
        let r = segment_users(&data, &request(method)).unwrap();
        let MethodReport::Dbscan { clusters, .. } = r.method else {
            panic!()
        };
        assert!(clusters >= 2, "{:?}", r.labels);
        buyers_apart(&r);
    }

    #[test]
    fn segments_are_saved_into_profiles_or_not_at_all() {
        use attune_store::sqlite::SqliteStore;
        use attune_store::Store as _;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("a.db")).unwrap();
        store.create_app("shop").unwrap();
        let data = two_kinds();
        store.insert_events("shop", &data.events).unwrap();
        let mut buyer = attune_core::catalog::User::new("buyer0");
        buyer.attributes.insert(
            "tier".into(),
            attune_core::catalog::AttrValue::Text("gold".into()),
        );
        store.upsert_users("shop", &[buyer]).unwrap();
        let data = AppData::read(&store, "shop").unwrap();
        let rules = attune_core::segment::RuleSegments::default()
            .check()
            .unwrap();
        let r = segment_users(&data, &request(Method::Rules(rules))).unwrap();
        let limits = attune_core::limits::InputLimits::default();

        let err = save_segments(&store, "shop", &r, "bad\nname", &limits).unwrap_err();
        assert!(
            err.is_user_error() && err.to_string().contains("attributes"),
            "{err}"
        );
        assert_eq!(store.counts("shop").unwrap().users, 1, "nothing written");

        assert_eq!(
            save_segments(&store, "shop", &r, "segment", &limits)
                .unwrap()
                .len(),
            20
        );
        // Saved again, nothing changed: nothing is written.
        assert!(save_segments(&store, "shop", &r, "segment", &limits)
            .unwrap()
            .is_empty());
        let b = store.get_user("shop", "buyer0").unwrap().unwrap();
        let text = |v: Option<&attune_core::catalog::AttrValue>| match v {
            Some(attune_core::catalog::AttrValue::Text(t)) => t.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            text(b.attributes.get("tier")),
            "gold",
            "other attributes kept"
        );
        assert_ne!(text(b.attributes.get("segment")), "dormant");
        let browser = store.get_user("shop", "browser3").unwrap().unwrap();
        assert_eq!(text(browser.attributes.get("segment")), "dormant");
    }

    #[test]
    fn bad_requests_are_refused_with_their_reason() {
        let data = two_kinds();
        let err = segment_users(
            &data,
            &request(Method::KMeans {
                k: Some(50),
                k_max: 8,
            }),
        )
        .unwrap_err();
        assert!(err.is_user_error());
        assert_eq!(
            err.to_string(),
            "k larger than the number of users: k = 50, users = 20"
        );
        let mut r = request(Method::KMeans {
            k: Some(2),
            k_max: 8,
        });
        r.columns = vec!["frequency".into(), "shoe_size".into()];
        let err = segment_users(&data, &r).unwrap_err();
        assert!(
            err.to_string().starts_with("unknown feature \"shoe_size\""),
            "{err}"
        );
        let empty = AppData::from_parts("none", Vec::new(), Vec::new(), Vec::new());
        let err =
            segment_users(&empty, &request(Method::KMeans { k: None, k_max: 8 })).unwrap_err();
        assert!(err.to_string().contains("no users to segment"), "{err}");
    }
}
