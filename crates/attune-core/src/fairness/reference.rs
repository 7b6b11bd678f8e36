//! The fairness figures checked against an independent implementation: numpy (exposure, gaps,
//! the greedy re-ranker, Gini by mean absolute difference) and scikit-learn (`ndcg_score`), in
//! `testdata/fairness/reference.json` written by `scripts/fairness-reference.sh`.

use serde_json::Value;

use super::audit::{audit_lists, AuditInput};
use super::groups::{attribute_groups, popularity_buckets};
use super::rerank::ExposureReranker;
use super::reweight::Reweight;
use crate::sparse::Csr;

const JSON: &str = include_str!("../../../../testdata/fairness/reference.json");
const TOL: f64 = 1e-9;

fn f(v: &Value) -> f64 {
    v.as_f64().expect("a number")
}

fn close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= TOL * want.abs().max(1.0),
        "{what}: attune {got}, reference {want}"
    );
}

#[test]
fn figures_match_numpy_and_sklearn() {
    let r: Value = serde_json::from_str(JSON).expect("reference.json parses");
    let fx = &r["fixture"];
    let k = r["k"].as_u64().unwrap() as usize;
    let popularity: Vec<f64> = fx["popularity"].as_array().unwrap().iter().map(f).collect();
    let groups = popularity_buckets(&popularity, r["buckets"].as_u64().unwrap() as usize).unwrap();
    let want_buckets: Vec<usize> = r["popularity_buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let got_buckets: Vec<usize> = (0..popularity.len() as u32)
        .map(|i| groups.group_of(i))
        .collect();
    assert_eq!(got_buckets, want_buckets);

    let labels: Vec<Option<String>> = fx["user_labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Some(v.as_str().unwrap().to_string()))
        .collect();
    let user_groups = attribute_groups(&labels);
    let candidates: Vec<Vec<(u32, f32)>> = fx["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l.as_array()
                .unwrap()
                .iter()
                .map(|c| (c[0].as_u64().unwrap() as u32, f(&c[1]) as f32))
                .collect()
        })
        .collect();
    let relevant = fx["relevant"].as_array().unwrap();
    let triplets = relevant.iter().enumerate().flat_map(|(u, items)| {
        items
            .as_array()
            .unwrap()
            .iter()
            .map(move |i| (u as u32, i.as_u64().unwrap() as u32, 1.0))
    });
    let test = Csr::from_triplets(labels.len(), popularity.len(), triplets).unwrap();
    let users: Vec<u32> = (0..labels.len() as u32).collect();
    let input = AuditInput {
        test: &test,
        k,
        item_groups: &groups,
        user_groups: Some(&user_groups),
    };
    for run in r["runs"].as_array().unwrap() {
        let lambda = f(&run["lambda"]);
        let reranker = ExposureReranker::new(lambda, vec![1.0; groups.n_groups()]).unwrap();
        let got = audit_lists(
            &candidates,
            &users,
            &input,
            (lambda > 0.0).then_some(&reranker),
        );
        let at = |what: &str| format!("λ {lambda}: {what}");
        // The lists themselves: the same greedy choices.
        let want_lists: Vec<Vec<u32>> = run["lists"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                l.as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_u64().unwrap() as u32)
                    .collect()
            })
            .collect();
        for (u, c) in candidates.iter().enumerate() {
            let list: Vec<u32> = if lambda > 0.0 {
                reranker
                    .rerank(c, k, |i| groups.group_of(i))
                    .iter()
                    .map(|e| e.0)
                    .collect()
            } else {
                c.iter().take(k).map(|e| e.0).collect()
            };
            assert_eq!(list, want_lists[u], "{}", at(&format!("list of user {u}")));
        }
        close(&at("ndcg"), got.ndcg, f(&run["ndcg"]));
        close(&at("recall"), got.recall, f(&run["recall"]));
        close(&at("hit rate"), got.hit_rate, f(&run["hit_rate"]));
        close(&at("gap"), got.exposure.gap, f(&run["gap"]));
        close(
            &at("ratio gap"),
            got.exposure.ratio_gap,
            f(&run["ratio_gap"]),
        );
        close(&at("gini"), got.exposure.gini, f(&run["gini"]));
        for (g, share) in run["shares"].as_array().unwrap().iter().enumerate() {
            close(&at("share"), got.exposure.groups[g].share, f(share));
        }
        let q = got.quality.as_ref().unwrap();
        close(&at("dp gap"), q.dp_gap, f(&run["dp_gap"]));
        close(&at("eo gap"), q.eo_gap, f(&run["eo_gap"]));
        close(&at("ndcg gap"), q.ndcg_gap, f(&run["ndcg_gap"]));
        for (g, want) in run["user_groups"].as_array().unwrap().iter().enumerate() {
            let have = &q.groups[g];
            assert_eq!(have.users as u64, want["users"].as_u64().unwrap());
            close(&at("group ndcg"), have.ndcg, f(&want["ndcg"]));
            close(&at("group recall"), have.recall, f(&want["recall"]));
            close(&at("group hit rate"), have.hit_rate, f(&want["hit_rate"]));
        }
    }
}

#[test]
fn reweighting_multipliers_match_numpy() {
    let r: Value = serde_json::from_str(JSON).expect("reference.json parses");
    let n_items = r["fixture"]["n_items"].as_u64().unwrap() as usize;
    let triplets: Vec<(u32, u32, f32)> = r["train"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t[0].as_u64().unwrap() as u32,
                t[1].as_u64().unwrap() as u32,
                f(&t[2]) as f32,
            )
        })
        .collect();
    let n_users = triplets.iter().map(|t| t.0 as usize + 1).max().unwrap();
    let train = Csr::from_triplets(n_users, n_items, triplets).unwrap();
    for case in r["reweight"].as_array().unwrap() {
        let rw =
            Reweight::new(case["buckets"].as_u64().unwrap() as usize, f(&case["beta"])).unwrap();
        let got = rw.item_multipliers(&train);
        for (i, want) in case["multipliers"].as_array().unwrap().iter().enumerate() {
            let (g, w) = (f64::from(got[i]), f(want));
            // f32 multipliers: 1e-6 relative.
            assert!(
                (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                "β {}: item {i}: {g} vs {w}",
                rw.beta()
            );
        }
    }
}
