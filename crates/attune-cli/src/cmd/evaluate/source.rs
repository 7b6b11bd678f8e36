//! What `attune evaluate` evaluates on: an app's data (`attune_pipeline::Dataset`, the same path
//! training uses) or a pair of interaction files (bring-your-own split).
//!
//! Both are a list of [`Cell`]s, one per (user, item) pair, and build the [`TrainingSet`] of any
//! subset of cells, so splits, folds and protocols are written once over cells.

use std::path::Path;

use anyhow::Context as _;
use attune_core::model::spec::{ItemSequences, TrainingSet};
use attune_core::sparse::{Csr, CsrBuilder, HistoryWeights, Interner};

use attune_pipeline::dataset::{Cell, Dataset};

/// Cells plus the training set of any subset of them.
pub trait EvalData {
    /// Every (user, item) pair, sorted by (user, item).
    fn cells(&self) -> &[Cell];
    /// User id ↔ row.
    fn users(&self) -> &Interner;
    /// Item id ↔ column.
    fn items(&self) -> &Interner;
    /// Everything a model trains from, over the cells where `keep[cell]`.
    fn training_set(&self, keep: &[bool]) -> anyhow::Result<TrainingSet>;
    /// What users are folded in from, over the cells where `keep[cell]`: the training set,
    /// decayed per user when a user recency is set and rated cells weighed by their rating when
    /// a history rating factor is.
    fn history_set(&self, keep: &[bool]) -> anyhow::Result<TrainingSet>;
    /// Weigh the history users are folded in from this way from now on, so
    /// `--user-recency` and `--history-rating-exponent` compare values on one data set.
    fn set_history_weights(&mut self, h: HistoryWeights);
    /// The history weights in effect.
    fn history_weights(&self) -> HistoryWeights;

    /// Users (rows).
    fn n_users(&self) -> usize {
        self.users().len()
    }
    /// Items (columns).
    fn n_items(&self) -> usize {
        self.items().len()
    }
}

impl EvalData for Dataset {
    fn cells(&self) -> &[Cell] {
        &self.cells
    }
    fn users(&self) -> &Interner {
        &self.users
    }
    fn items(&self) -> &Interner {
        &self.items
    }
    fn training_set(&self, keep: &[bool]) -> anyhow::Result<TrainingSet> {
        Ok(Dataset::training_set(self, Some(keep))?)
    }
    fn history_set(&self, keep: &[bool]) -> anyhow::Result<TrainingSet> {
        Ok(Dataset::history_set(self, Some(keep))?)
    }
    fn set_history_weights(&mut self, h: HistoryWeights) {
        Dataset::set_history(self, h);
    }
    fn history_weights(&self) -> HistoryWeights {
        Dataset::history(self)
    }
}

/// Interactions read from a train file and a test file: cells of both, and which came from
/// the test file.
#[derive(Debug, Clone)]
pub struct FileData {
    users: Interner,
    items: Interner,
    cells: Vec<Cell>,
    /// `in_test[cell]`: the cell came from the test file.
    pub in_test: Vec<bool>,
    /// How the history is weighed (a cell's time, for the per-user decay, is its first row's).
    history: HistoryWeights,
}

/// One row of an interaction file.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Row {
    weight: f32,
    rating: Option<f32>,
    time_micros: i64,
}

/// Column positions of an interaction file's header.
#[derive(Debug, Clone, Copy)]
struct Columns {
    user: usize,
    item: usize,
    rating: Option<usize>,
    weight: Option<usize>,
    time: Option<usize>,
}

/// A header name without a RecBole type suffix (`user_id:token` → `user_id`), lowercased.
fn column_name(h: &str) -> String {
    h.split(':')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

impl Columns {
    fn from_header(header: &csv::StringRecord, path: &Path) -> anyhow::Result<Self> {
        let names: Vec<String> = header.iter().map(column_name).collect();
        let find = |aliases: &[&str]| names.iter().position(|n| aliases.contains(&n.as_str()));
        let user = find(&["user_id", "user", "userid", "uid"]);
        let item = find(&["item_id", "item", "itemid", "iid", "movie_id", "movieid"]);
        let (Some(user), Some(item)) = (user, item) else {
            anyhow::bail!(
                "{}: the header needs a user column (user_id) and an item column (item_id); found {:?}",
                path.display(),
                header.iter().collect::<Vec<_>>()
            );
        };
        Ok(Self {
            user,
            item,
            rating: find(&["rating", "score", "value"]),
            weight: find(&["weight", "count", "confidence"]),
            time: find(&["timestamp", "time", "ts"]),
        })
    }
}

/// Read `(user_id, item_id, row)` records of a delimited interaction file.
fn read_rows(path: &Path) -> anyhow::Result<Vec<(String, String, Row)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let first = text.lines().next().unwrap_or("");
    let delimiter = if first.contains('\t') { b'\t' } else { b',' };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .with_context(|| format!("{}: cannot read the header", path.display()))?
        .clone();
    let cols = Columns::from_header(&header, path)?;
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        let record = record.with_context(|| format!("{}:{line}", path.display()))?;
        let field = |c: usize| record.get(c).unwrap_or("").trim();
        let number = |c: Option<usize>, what: &str| -> anyhow::Result<Option<f64>> {
            let Some(c) = c else { return Ok(None) };
            let s = field(c);
            if s.is_empty() {
                return Ok(None);
            }
            let v: f64 = s.parse().map_err(|_| {
                anyhow::anyhow!("{}:{line}: {what} {s:?} is not a number", path.display())
            })?;
            anyhow::ensure!(
                v.is_finite(),
                "{}:{line}: {what} {s:?} is not finite",
                path.display()
            );
            Ok(Some(v))
        };
        let (user, item) = (field(cols.user), field(cols.item));
        anyhow::ensure!(
            !user.is_empty() && !item.is_empty(),
            "{}:{line}: empty user or item id",
            path.display()
        );
        let weight = number(cols.weight, "weight")?.unwrap_or(1.0);
        anyhow::ensure!(
            weight >= 0.0,
            "{}:{line}: weight {weight} is negative",
            path.display()
        );
        let rating = number(cols.rating, "rating")?.map(|r| r as f32);
        let time_micros = match cols.time {
            None => 0,
            Some(c) => parse_time(field(c))
                .with_context(|| format!("{}:{line}: timestamp", path.display()))?,
        };
        rows.push((
            user.to_string(),
            item.to_string(),
            Row {
                weight: weight as f32,
                rating,
                time_micros,
            },
        ));
    }
    Ok(rows)
}

/// Seconds since the Unix epoch (integer or fractional), or RFC 3339; empty is 0.
fn parse_time(s: &str) -> anyhow::Result<i64> {
    if s.is_empty() {
        return Ok(0);
    }
    if let Ok(secs) = s.parse::<f64>() {
        anyhow::ensure!(secs.is_finite(), "{s:?} is not finite");
        return Ok((secs * 1e6).round() as i64);
    }
    Ok(attune_core::time::Timestamp::parse_rfc3339(s)
        .map_err(|e| anyhow::anyhow!("{s:?}: {e}"))?
        .utc_micros)
}

impl FileData {
    /// Read both files. Ids are interned over both in sorted order; repeated rows of a pair in
    /// one file sum their weights and keep the latest rating; a pair in both files is an error
    /// (it would be trained on and tested at once).
    pub fn read(train: &Path, test: &Path) -> anyhow::Result<Self> {
        let train_rows = read_rows(train)?;
        let test_rows = read_rows(test)?;
        anyhow::ensure!(!train_rows.is_empty(), "{} has no rows", train.display());
        anyhow::ensure!(!test_rows.is_empty(), "{} has no rows", test.display());
        Self::from_rows(&train_rows, &test_rows, train, test)
    }

    /// Every interaction of one file (e.g. RecBole's `ml-100k.inter`), none held out: the
    /// caller splits the cells (`plan::folds`). Rows are merged as [`FileData::read`] merges them.
    pub fn read_one(path: &Path) -> anyhow::Result<Self> {
        let rows = read_rows(path)?;
        anyhow::ensure!(!rows.is_empty(), "{} has no rows", path.display());
        Self::from_rows(&rows, &[], path, path)
    }

    /// Cells of the rows of a train and a test file (named in errors).
    fn from_rows(
        train_rows: &[(String, String, Row)],
        test_rows: &[(String, String, Row)],
        train: &Path,
        test: &Path,
    ) -> anyhow::Result<Self> {
        let all = || train_rows.iter().chain(test_rows);
        let users = Interner::sorted(all().map(|r| r.0.as_str()));
        let items = Interner::sorted(all().map(|r| r.1.as_str()));
        let index = |r: &(String, String, Row)| {
            (
                users.get(&r.0).expect("interned"),
                items.get(&r.1).expect("interned"),
            )
        };
        let mut keyed: Vec<(u32, u32, bool, Row)> = train_rows
            .iter()
            .map(|r| (index(r), false, r.2))
            .chain(test_rows.iter().map(|r| (index(r), true, r.2)))
            .map(|((u, i), t, row)| (u, i, t, row))
            .collect();
        // Stable: rows of a pair keep file order, so "latest" ties go to the later row.
        keyed.sort_by_key(|k| (k.0, k.1, k.3.time_micros));
        let mut cells: Vec<Cell> = Vec::new();
        let mut in_test: Vec<bool> = Vec::new();
        for (u, i, t, row) in keyed {
            match cells.last_mut() {
                Some(c) if (c.user, c.item) == (u, i) => {
                    if *in_test.last().expect("one flag per cell") != t {
                        anyhow::bail!(
                            "user {:?} and item {:?} are in both {} and {}: a pair must be on one side",
                            users.name(u).unwrap_or_default(),
                            items.name(i).unwrap_or_default(),
                            train.display(),
                            test.display()
                        );
                    }
                    c.weight += row.weight;
                    c.rating = row.rating.or(c.rating);
                }
                _ => {
                    cells.push(Cell {
                        user: u,
                        item: i,
                        first_micros: row.time_micros,
                        weight: row.weight,
                        rating: row.rating,
                    });
                    in_test.push(t);
                }
            }
        }
        Ok(Self {
            users,
            items,
            cells,
            in_test,
            history: HistoryWeights::default(),
        })
    }
}

impl EvalData for FileData {
    fn cells(&self) -> &[Cell] {
        &self.cells
    }
    fn users(&self) -> &Interner {
        &self.users
    }
    fn items(&self) -> &Interner {
        &self.items
    }
    fn training_set(&self, keep: &[bool]) -> anyhow::Result<TrainingSet> {
        anyhow::ensure!(keep.len() == self.cells.len(), "one keep flag per cell");
        let kept = || self.cells.iter().zip(keep).filter(|(_, &k)| k).map(|x| x.0);
        let (n_users, n_items) = (self.n_users(), self.n_items());
        let mut implicit = CsrBuilder::new();
        let mut ratings = CsrBuilder::new();
        for c in kept() {
            if c.weight > 0.0 {
                implicit.push(c.user, c.item, c.weight)?;
            }
            if let Some(r) = c.rating {
                ratings.push(c.user, c.item, r)?;
            }
        }
        let mut t = TrainingSet::new(implicit.build(n_users, n_items)?);
        let ratings: Csr = ratings.build(n_users, n_items)?;
        t.ratings = (ratings.nnz() > 0).then_some(ratings);
        t.item_events = kept()
            .filter(|c| c.weight > 0.0)
            .map(|c| (c.item, c.first_micros, c.weight))
            .collect();
        t.now_micros = self.cells.iter().map(|c| c.first_micros).max().unwrap_or(0);
        t.sequences = Some(ItemSequences::from_timed(
            n_users,
            kept()
                .filter(|c| c.weight > 0.0)
                .map(|c| (c.user, c.first_micros, c.item))
                .collect(),
        ));
        Ok(t)
    }
    fn history_set(&self, keep: &[bool]) -> anyhow::Result<TrainingSet> {
        let mut t = self.training_set(keep)?;
        if let Some(r) = self.history.recency {
            // Kept cells are sorted by (user, item), as the matrix stores them.
            let times: Vec<i64> = (self.cells.iter().zip(keep))
                .filter(|(c, &k)| k && c.weight > 0.0)
                .map(|(c, _)| c.first_micros)
                .collect();
            t.interactions = r.apply(&t.interactions, &times)?;
        }
        if let (Some(h), Some(ratings)) = (self.history.rating, &t.ratings) {
            t.interactions = h.apply(&t.interactions, ratings)?;
        }
        Ok(t)
    }
    fn set_history_weights(&mut self, h: HistoryWeights) {
        self.history = h;
    }
    fn history_weights(&self) -> HistoryWeights {
        self.history
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_recbole_and_csv_headers_and_sums_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(
            dir.path(),
            "train.inter",
            "user_id:token\titem_id:token\trating:float\ttimestamp:float\n\
             u1\tm1\t4\t100\nu1\tm2\t2\t50\nu2\tm1\t5\t10\nu1\tm1\t3\t200\n",
        );
        let test = write(
            dir.path(),
            "test.csv",
            "item_id,user_id,weight\nm3,u2,2.5\nm3,u3,1\n",
        );
        let d = FileData::read(&train, &test).unwrap();
        assert_eq!(d.n_users(), 3);
        assert_eq!(d.n_items(), 3);
        let (u1, m1) = (d.users.get("u1").unwrap(), d.items.get("m1").unwrap());
        let c = d
            .cells
            .iter()
            .find(|c| (c.user, c.item) == (u1, m1))
            .unwrap();
        // Two rows: weights summed, the later rating (time 200) wins, first time kept.
        assert_eq!(
            (c.weight, c.rating, c.first_micros),
            (2.0, Some(3.0), 100_000_000)
        );
        assert_eq!(d.in_test.iter().filter(|&&t| t).count(), 2);
        let keep: Vec<bool> = d.in_test.iter().map(|t| !t).collect();
        let t = d.training_set(&keep).unwrap();
        assert_eq!(t.interactions.nnz(), 3);
        assert_eq!(t.ratings.as_ref().unwrap().get(u1 as usize, m1), Some(3.0));
        // The history users are folded in from weighs the training cells' ratings when asked:
        // u1's m1 (rated 3, weight 2) at pivot 2 and exponent 1 doubles to 3, m2 (rated 2)
        // stays; the training matrix does not change.
        let mut d = d;
        d.set_history_weights(HistoryWeights {
            recency: None,
            rating: Some(attune_core::sparse::RatedHistory::new(1.0, 2.0).unwrap()),
        });
        let h = d.history_set(&keep).unwrap().interactions;
        let m2 = d.items.get("m2").unwrap();
        assert_eq!(h.get(u1 as usize, m1), Some(3.0));
        assert_eq!(h.get(u1 as usize, m2), Some(1.0));
        assert_eq!(d.training_set(&keep).unwrap().interactions, t.interactions);
    }

    #[test]
    fn bad_files_are_errors_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let ok = write(dir.path(), "ok.csv", "user_id,item_id\na,b\n");
        let cases = [
            ("user,thing\na,b\n", "item column"),
            (
                "user_id,item_id,rating\na,b,good\n",
                ":2: rating \"good\" is not a number",
            ),
            (
                "user_id,item_id,weight\na,b,-1\n",
                ":2: weight -1 is negative",
            ),
            ("user_id,item_id\n,b\n", "empty user or item id"),
            (
                "user_id,item_id,timestamp\na,c,yesterday\n",
                ":2: timestamp",
            ),
            ("user_id,item_id\n", "has no rows"),
        ];
        for (text, want) in cases {
            let bad = write(dir.path(), "bad.csv", text);
            let err = format!("{:#}", FileData::read(&ok, &bad).unwrap_err());
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let both = write(dir.path(), "both.csv", "user_id,item_id\na,b\n");
        let err = FileData::read(&ok, &both).unwrap_err().to_string();
        assert!(err.contains("in both"), "{err}");
    }
}
