//! `attune fairness audit`: one model, one split, the same candidates measured as ranked and
//! re-ranked at each λ, so the accuracy cost sits next to the exposure gain.

use std::process::ExitCode;

use anyhow::Context as _;
use attune_core::eval::{rank_users_scored, test_users, Candidates};
use attune_core::fairness::reweight::Reweight;
use attune_core::fairness::{audit_lists, AuditInput, ExposureReranker, ItemGroupSpec};
use attune_core::model::TrainedModel as _;
use attune_pipeline::train::grid;
use attune_pipeline::Dataset;

use super::groups::{item_groups, user_groups};
use super::report::{AuditReport, Setup};
use crate::cli::FairnessAuditArgs;
use crate::cmd::apps::{open_store, require_app};
use crate::cmd::evaluate::plan::{self, SplitKind, SplitOptions};
use crate::cmd::evaluate::run::{self, FoldData, Measure, Phase};
use crate::config::Settings;

pub fn run(args: FairnessAuditArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.k > 0,
        "invalid -k 0: the list length must be at least 1"
    );
    anyhow::ensure!(
        args.candidates >= args.k,
        "invalid --candidates {}: re-ranking needs at least -k {} candidates",
        args.candidates,
        args.k
    );
    anyhow::ensure!(
        args.split != SplitKind::Kfold && args.split != SplitKind::NewItems,
        "--split {:?} is not supported by the audit; use random, temporal, last-n, new-users or ratio",
        args.split
    );
    for &l in &args.rerank_lambdas {
        anyhow::ensure!(
            l.is_finite() && l >= 0.0,
            "invalid --rerank-lambda {l}: must be a number >= 0"
        );
    }
    let cands = grid::expand(&args.algorithm)?;
    anyhow::ensure!(
        cands.len() == 1,
        "--algorithm {} is a grid of {} candidates; the audit measures one model",
        args.algorithm,
        cands.len()
    );
    let spec = cands[0].spec.clone();

    let store = open_store(settings)?;
    let app = args.app.app.as_str();
    require_app(&*store, app)?;
    let config = crate::serving::pipeline_config(settings)?;
    let mut data = Dataset::load(&*store, app, &config, args.no_clean.then_some(false))?;
    if let Some(beta) = args.reweight_beta {
        // The audit's own popularity buckets, else [train.fairness]'s default of 3.
        let k = match args.item_groups {
            ItemGroupSpec::Popularity(k) => k,
            _ => 3,
        };
        data.reweight = (beta > 0.0)
            .then(|| Reweight::new(k, beta))
            .transpose()
            .context("--reweight-beta")?;
    }
    anyhow::ensure!(
        !data.cells.is_empty(),
        "app {app:?} has no interactions to audit; import events first"
    );
    let split = SplitOptions {
        kind: args.split,
        test_fraction: args.test_fraction,
        folds: 5,
        last_n: 1,
        fold_in_fraction: 0.5,
        ratios: vec![0.8, 0.1, 0.1],
        seed: args.seed,
    };
    let eligible = vec![true; data.cells.len()];
    let fold = plan::folds(&data, &eligible, &split)?.remove(0);
    let measure = Measure {
        k: args.k,
        ranking: true,
        rating: false,
        candidates: Candidates::All,
        min_relevant_rating: None,
        diversity_users: 0,
        long_tail: None,
    };
    let fd = FoldData::new(&data, &fold, &measure)?;
    let items = item_groups(
        &args.item_groups,
        &*store,
        app,
        &data.items,
        &fd.training.interactions,
        data.now_micros,
    )?;
    let users_g = args
        .user_groups
        .as_ref()
        .map(|s| user_groups(s, &*store, app, &data.users, &fd.training.interactions))
        .transpose()?;
    let targets = args.targets.resolve(&items)?;

    tracing::info!(spec = %spec, users = data.n_users(), items = data.n_items(), "fitting");
    let fitted = run::fit(&spec, &fd)?;
    let input = fd.rank_input(&fitted.model, Phase::Test)?;
    let users = test_users(input.held_out);
    let scored = rank_users_scored(
        &fitted.model,
        &input,
        &users,
        args.candidates,
        Candidates::All,
    );
    let audit_input = AuditInput {
        test: input.held_out,
        k: args.k,
        item_groups: &items,
        user_groups: users_g.as_ref(),
    };
    let mut lambdas = args.rerank_lambdas.clone();
    lambdas.retain(|&l| l > 0.0);
    let mut runs = vec![audit_lists(&scored, &users, &audit_input, None)];
    for l in lambdas {
        let r = ExposureReranker::new(l, targets.clone()).context("--rerank-lambda")?;
        runs.push(audit_lists(&scored, &users, &audit_input, Some(&r)));
    }
    let report = AuditReport {
        setup: Setup {
            app: app.to_string(),
            algorithm: fitted.model.spec().to_string(),
            split: format!(
                "{:?} split, test fraction {}, seed {}",
                args.split, args.test_fraction, args.seed
            )
            .to_lowercase(),
            k: args.k,
            candidates: args.candidates,
            users: data.n_users(),
            items: data.n_items(),
            item_groups: args.item_groups.to_string(),
            user_groups: args.user_groups.as_ref().map(ToString::to_string),
            targets,
            reweight_beta: data.reweight.map(|r| r.beta()),
        },
        runs,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report.to_json())?;
        use std::io::Write as _;
        writeln!(out)?;
    } else {
        report.write_table(&mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}
