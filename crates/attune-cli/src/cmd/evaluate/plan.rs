//! Splits as folds over cells: which cells train the model, which ones users are folded in
//! from, which ones validate and which ones test.
//!
//! Every split is computed by `attune_core::eval::split` over the *eligible* cells (a protocol
//! may drop some before splitting, as RecBole drops ratings below 3) and mapped back to cell
//! positions here.

use attune_core::eval::cold::item_holdout;
use attune_core::eval::split::{
    k_fold, leave_last_n, new_user_holdout, random_holdout, ratio_split, temporal_cut,
    temporal_cut_time, user_temporal_split, Split,
};

use super::source::EvalData;

/// How the cells are split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitKind {
    /// Per user, a random `--test-fraction` of their items is held out.
    Random,
    /// Global time cut: the latest `--test-fraction` of pairs is held out.
    Temporal,
    /// Per user, the `--last-n` latest items are held out (leave-last-out).
    LastN,
    /// A `--test-fraction` of the users is held out entirely; each is folded in from the earliest
    /// `--fold-in-fraction` of their history and scored on the rest.
    NewUsers,
    /// A `--test-fraction` of the items is held out entirely; held-out items are ranked among
    /// themselves (cold start).
    NewItems,
    /// `--folds`-fold cross-validation over all pairs (Surprise's `KFold`).
    Kfold,
    /// Per user, 8:1:1 into train, validation and test (RecBole's `RS` with `group_by: user`);
    /// `--ratios` changes the shares.
    Ratio,
    /// Per user, the latest `--test-fraction` of their interactions is test and the latest
    /// `--test-fraction` of the rest validation (RecBole's `RS` with `order: TO`).
    UserTemporal,
}

/// Parameters of the split.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitOptions {
    pub kind: SplitKind,
    pub test_fraction: f64,
    pub folds: usize,
    pub last_n: usize,
    pub fold_in_fraction: f64,
    pub ratios: Vec<f64>,
    pub seed: u64,
}

/// One train/test round.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    /// `train[cell]`: the model trains on this cell.
    pub train: Vec<bool>,
    /// `history[cell]`: users are folded in from this cell (the training cells, plus the
    /// fold-in part of held-out users).
    pub history: Vec<bool>,
    /// Validation cells (empty without a validation part).
    pub valid: Vec<usize>,
    /// Test cells.
    pub test: Vec<usize>,
    /// Rank only these items (the held-out items); `None`: every item.
    pub candidates: Option<Vec<u32>>,
}

impl Fold {
    /// This fold with its validation cells moved into training and history: what `--refit`
    /// trains the chosen candidate on before measuring it on the same test cells.
    pub fn with_validation_in_training(&self) -> Fold {
        let mut f = self.clone();
        for &c in &self.valid {
            f.train[c] = true;
            f.history[c] = true;
        }
        f.valid.clear();
        f
    }
}

/// The folds of `opts` over the cells where `eligible[cell]`.
pub fn folds(
    data: &dyn EvalData,
    eligible: &[bool],
    opts: &SplitOptions,
) -> anyhow::Result<Vec<Fold>> {
    let cells = data.cells();
    assert_eq!(eligible.len(), cells.len(), "one flag per cell");
    // Positions of the eligible cells: split position p is cell at[p].
    let at: Vec<usize> = (0..cells.len()).filter(|&c| eligible[c]).collect();
    anyhow::ensure!(!at.is_empty(), "no interactions left to split");
    let users: Vec<u32> = at.iter().map(|&c| cells[c].user).collect();
    let items: Vec<u32> = at.iter().map(|&c| cells[c].item).collect();
    let times: Vec<i64> = at.iter().map(|&c| cells[c].first_micros).collect();
    let n = cells.len();
    let mask = |positions: &[usize]| {
        let mut m = vec![false; n];
        for &p in positions {
            m[at[p]] = true;
        }
        m
    };
    let cells_of = |positions: &[usize]| positions.iter().map(|&p| at[p]).collect::<Vec<_>>();
    let simple = |s: Split| {
        let train = mask(&s.train);
        Fold {
            history: train.clone(),
            train,
            valid: Vec::new(),
            test: cells_of(&s.test),
            candidates: None,
        }
    };
    let seed = opts.seed;
    let folds = match opts.kind {
        SplitKind::Random => vec![simple(random_holdout(&users, opts.test_fraction, seed)?)],
        SplitKind::Temporal => {
            let cut = temporal_cut_time(&times, opts.test_fraction)?.expect("times is not empty");
            anyhow::ensure!(
                times.iter().any(|&t| t < cut),
                "every interaction has the same time, so a temporal split has no training part"
            );
            vec![simple(temporal_cut(&times, cut))]
        }
        SplitKind::LastN => vec![simple(leave_last_n(&users, &times, opts.last_n)?)],
        SplitKind::Kfold => k_fold(at.len(), opts.folds, seed)?
            .into_iter()
            .map(simple)
            .collect(),
        SplitKind::NewUsers => {
            let (split, fold_in) = new_user_holdout(
                &users,
                &times,
                opts.test_fraction,
                opts.fold_in_fraction,
                seed,
            )?;
            let train = mask(&split.train);
            let mut history = train.clone();
            for &p in &fold_in {
                history[at[p]] = true;
            }
            vec![Fold {
                train,
                history,
                valid: Vec::new(),
                test: cells_of(&split.test),
                candidates: None,
            }]
        }
        SplitKind::NewItems => {
            let (split, held) = item_holdout(&items, opts.test_fraction, seed)?;
            let mut f = simple(split);
            f.candidates = Some(held);
            vec![f]
        }
        SplitKind::Ratio | SplitKind::UserTemporal => {
            let parts = if opts.kind == SplitKind::Ratio {
                ratio_split(&users, &opts.ratios, seed)?
            } else {
                let t = opts.test_fraction;
                anyhow::ensure!(
                    t > 0.0 && t < 1.0,
                    "--test-fraction must be between 0 and 1 (exclusive), got {t}"
                );
                user_temporal_split(&users, &times, &[(1.0 - t) * (1.0 - t), t * (1.0 - t), t])?
            };
            anyhow::ensure!(
                parts.len() == 3,
                "--ratios needs three parts (train, validation, test), got {}",
                parts.len()
            );
            let train = mask(&parts[0]);
            vec![Fold {
                history: train.clone(),
                train,
                valid: cells_of(&parts[1]),
                test: cells_of(&parts[2]),
                candidates: None,
            }]
        }
    };
    for (f, fold) in folds.iter().enumerate() {
        anyhow::ensure!(
            !fold.test.is_empty(),
            "fold {} has no test interactions: too little data for this split",
            f + 1
        );
    }
    Ok(folds)
}

/// The single fold of a bring-your-own split: the train file trains, the test file tests.
pub fn fixed(in_test: &[bool]) -> Fold {
    let train: Vec<bool> = in_test.iter().map(|t| !t).collect();
    Fold {
        history: train.clone(),
        train,
        valid: Vec::new(),
        test: (0..in_test.len()).filter(|&c| in_test[c]).collect(),
        candidates: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::evaluate::source::FileData;

    /// 20 users x 10 items, user u has items u..u+6 (mod 10) at times item * 10 + u.
    fn data() -> FileData {
        let dir = tempfile::tempdir().unwrap();
        let mut train = String::from("user_id,item_id,timestamp\n");
        for u in 0..20 {
            for j in 0..6 {
                let i = (u + j) % 10;
                train.push_str(&format!("u{u:02},i{i},{}\n", i * 10 + u));
            }
        }
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        std::fs::write(&a, train).unwrap();
        std::fs::write(&b, "user_id,item_id\nnew,i0\n").unwrap();
        FileData::read(&a, &b).unwrap()
    }

    fn opts(kind: SplitKind) -> SplitOptions {
        SplitOptions {
            kind,
            test_fraction: 0.2,
            folds: 4,
            last_n: 1,
            fold_in_fraction: 0.5,
            ratios: vec![0.8, 0.1, 0.1],
            seed: 3,
        }
    }

    #[test]
    fn every_split_partitions_the_eligible_cells() {
        let d = data();
        // The test-file cell is not eligible: it must never appear anywhere.
        let eligible: Vec<bool> = d.in_test.iter().map(|t| !t).collect();
        let n = eligible.iter().filter(|&&e| e).count();
        for kind in [
            SplitKind::Random,
            SplitKind::Temporal,
            SplitKind::LastN,
            SplitKind::NewUsers,
            SplitKind::NewItems,
            SplitKind::Kfold,
            SplitKind::Ratio,
            SplitKind::UserTemporal,
        ] {
            let folds = folds(&d, &eligible, &opts(kind)).unwrap();
            assert_eq!(folds.len(), if kind == SplitKind::Kfold { 4 } else { 1 });
            for f in &folds {
                let train = f.train.iter().filter(|&&t| t).count();
                let history_extra = f
                    .history
                    .iter()
                    .zip(&f.train)
                    .filter(|(h, t)| **h && !**t)
                    .count();
                // New users: the fold-in part is history but neither train nor test.
                assert_eq!(
                    train + history_extra + f.valid.len() + f.test.len(),
                    n,
                    "{kind:?}"
                );
                for &c in f.test.iter().chain(&f.valid) {
                    assert!(eligible[c] && !f.train[c], "{kind:?}");
                }
                assert!(f.train.iter().zip(&eligible).all(|(t, e)| !t || *e));
            }
            let again = super::folds(&d, &eligible, &opts(kind)).unwrap();
            assert_eq!(folds, again, "{kind:?} is seeded");
        }
    }

    #[test]
    fn split_specific_shapes() {
        let d = data();
        let all = vec![true; d.cells().len()];
        let last = &folds(&d, &all, &opts(SplitKind::LastN)).unwrap()[0];
        // One test pair per user with two or more pairs: its latest one.
        for &c in &last.test {
            let cell = d.cells()[c];
            let latest = d
                .cells()
                .iter()
                .filter(|x| x.user == cell.user)
                .map(|x| x.first_micros)
                .max()
                .unwrap();
            assert_eq!(cell.first_micros, latest);
        }
        let cold = &folds(&d, &all, &opts(SplitKind::NewItems)).unwrap()[0];
        let held = cold.candidates.as_ref().unwrap();
        assert_eq!(held.len(), 2); // round(0.2 · 10 items, the 11th only in "new")
        assert!(cold.test.iter().all(|&c| held.contains(&d.cells()[c].item)));
        let mut o = opts(SplitKind::Ratio);
        o.ratios = vec![0.5, 0.5];
        assert!(folds(&d, &all, &o)
            .unwrap_err()
            .to_string()
            .contains("three parts"));
        let fixed = fixed(&d.in_test);
        assert_eq!(fixed.test.len(), 1);
        assert_eq!(fixed.train.iter().filter(|&&t| t).count(), 120);
    }

    #[test]
    fn user_temporal_holds_out_each_users_latest_items() {
        let d = data();
        let eligible: Vec<bool> = d.in_test.iter().map(|t| !t).collect();
        let f = &folds(&d, &eligible, &opts(SplitKind::UserTemporal)).unwrap()[0];
        let cells = d.cells();
        // 6 items per user at test fraction 0.2: test floor(1.2) = 1, validation floor(0.96)
        // = 0 then 1 (0 < 0.96 < 1), train 4.
        assert_eq!((f.test.len(), f.valid.len()), (20, 20));
        let users: std::collections::BTreeSet<u32> = (0..cells.len())
            .filter(|&c| eligible[c])
            .map(|c| cells[c].user)
            .collect();
        assert_eq!(users.len(), 20);
        for u in users {
            let time = |c: &usize| cells[*c].first_micros;
            let of_user = |c: &&usize| cells[**c].user == u;
            let train_max = (0..cells.len())
                .filter(|&c| f.train[c] && cells[c].user == u)
                .map(|c| cells[c].first_micros)
                .max()
                .unwrap();
            let valid: Vec<i64> = f.valid.iter().filter(of_user).map(time).collect();
            let test: Vec<i64> = f.test.iter().filter(of_user).map(time).collect();
            assert_eq!((valid.len(), test.len()), (1, 1));
            assert!(train_max < valid[0] && valid[0] < test[0], "user {u}");
        }
    }
}
