//! `attune experiment simulate`: simulated users with known effects, driven through a running
//! server the way a site would use it — ask for a list, click its first item with a
//! probability that depends on the variant served, send the click with the list's
//! recommendation id — then the server's own report. The effects are known, so the report
//! can be checked: it should find the lifts that were planted and no others.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context as _;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{json, Value};

use crate::cli::SimulateArgs;

/// An HTTP client of the server with the app and key headers set.
struct Client<'a> {
    base: String,
    args: &'a SimulateArgs,
}

impl Client<'_> {
    fn get(&self, path: &str) -> anyhow::Result<Value> {
        let mut req =
            ureq::get(&format!("{}{path}", self.base)).header("x-attune-app", &self.args.app.app);
        if let Some(k) = &self.args.api_key {
            req = req.header("authorization", &format!("Bearer {k}"));
        }
        let mut res = req
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .with_context(|| format!("GET {path}"))?;
        let status = res.status().as_u16();
        let body: Value = res.body_mut().read_json().unwrap_or(Value::Null);
        anyhow::ensure!(status < 300, "GET {path}: {status} {body}");
        Ok(body)
    }

    fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let mut req =
            ureq::post(&format!("{}{path}", self.base)).header("x-attune-app", &self.args.app.app);
        if let Some(k) = &self.args.api_key {
            req = req.header("authorization", &format!("Bearer {k}"));
        }
        let mut res = req
            .config()
            .http_status_as_error(false)
            .build()
            .send_json(body)
            .with_context(|| format!("POST {path}"))?;
        let status = res.status().as_u16();
        let body: Value = res.body_mut().read_json().unwrap_or(Value::Null);
        anyhow::ensure!(status < 300, "POST {path}: {status} {body}");
        Ok(body)
    }
}

pub fn run(args: &SimulateArgs, out: &mut dyn std::io::Write) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.base_ctr),
        "--base-ctr must be a probability, got {}",
        args.base_ctr
    );
    let mut lifts: BTreeMap<String, f64> = BTreeMap::new();
    for l in &args.lift {
        let (name, x) = l
            .split_once('=')
            .with_context(|| format!("--lift takes variant=relative_lift, got {l:?}"))?;
        let x: f64 = x
            .parse()
            .with_context(|| format!("--lift {name}: {x:?} is not a number"))?;
        anyhow::ensure!(x > -1.0, "--lift {name} must be above -1, got {x}");
        lifts.insert(name.to_string(), x);
    }
    let c = Client {
        base: args.url.trim_end_matches('/').to_string(),
        args,
    };
    c.get(&format!("/v1/experiments/{}", args.name))
        .context("the experiment must exist on the server")?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let mut served: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut outside = 0u64;
    for u in 0..args.users {
        let user = format!("{}{u}", args.user_prefix);
        for _ in 0..args.lists_per_user {
            let list = c.get(&format!("/v1/users/{user}/recommendations?n=10"))?;
            let Some(variant) = list["experiment"]["variant"].as_str() else {
                outside += 1;
                continue;
            };
            let p = (args.base_ctr * (1.0 + lifts.get(variant).copied().unwrap_or(0.0))).min(1.0);
            let entry = served.entry(variant.to_string()).or_default();
            entry.0 += 1;
            let (Some(rec), Some(item)) = (
                list["recommendation_id"].as_str(),
                list["items"][0]["item_id"].as_str(),
            ) else {
                continue;
            };
            if rng.random::<f64>() < p {
                entry.1 += 1;
                c.post(
                    "/v1/events",
                    &json!({"type": "click", "user_id": user, "item_id": item,
                            "context": {"recommendation_id": rec}}),
                )?;
            }
        }
    }
    writeln!(
        out,
        "simulated {} users x {} lists:",
        args.users, args.lists_per_user
    )?;
    for (v, (lists, clicks)) in &served {
        writeln!(
            out,
            "  {v:<16} {lists:>7} lists  {clicks:>6} clicked  ({:.4})",
            *clicks as f64 / (*lists).max(1) as f64
        )?;
    }
    if outside > 0 {
        writeln!(out, "  outside the experiment: {outside} lists")?;
    }
    // Exposures are written right after each first serve, impressions at most
    // `serving.impression_flush_ms` (default 1 s) after their list: let the last ones land.
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    let report = c.get(&format!("/v1/experiments/{}/results", args.name))?;
    writeln!(
        out,
        "report: {}",
        report["decision"].as_str().unwrap_or_default()
    )?;
    Ok(ExitCode::SUCCESS)
}
