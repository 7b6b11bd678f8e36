//! Ranked lists made by another tool, scored with attune's metrics: `--lists NAME=FILE`.
//!
//! The file has a header with `user_id`, `rank` and `item_id` columns (others, such as `score`,
//! are ignored): exactly what `attune recommend --all-users --format csv` writes, so attune's own
//! lists and an outside library's go through the same metric code. Each user's rows are ordered
//! by rank. A test user without rows gets an empty list (every metric 0 for them: a tool that
//! recommends nothing is not rewarded); an item the data does not know can never be relevant.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::source::EvalData;

/// Stands for items outside the data's id space: never relevant, ignored by coverage.
const UNKNOWN_ITEM: u32 = u32::MAX;

/// One `--lists` argument.
#[derive(Debug, Clone, PartialEq)]
pub struct ListsArg {
    pub name: String,
    pub path: PathBuf,
}

impl std::str::FromStr for ListsArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, path) = s
            .split_once('=')
            .ok_or_else(|| format!("expected NAME=FILE, got {s:?}"))?;
        if name.trim().is_empty() || path.trim().is_empty() {
            return Err(format!("expected NAME=FILE, got {s:?}"));
        }
        Ok(Self {
            name: name.trim().to_string(),
            path: PathBuf::from(path.trim()),
        })
    }
}

/// Every user's list (by user index), ordered by rank.
pub fn read(path: &Path, data: &dyn EvalData) -> anyhow::Result<HashMap<u32, Vec<u32>>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let header = reader
        .headers()
        .with_context(|| format!("{}: cannot read the header", path.display()))?
        .clone();
    let col = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(uc), Some(rc), Some(ic)) = (col("user_id"), col("rank"), col("item_id")) else {
        anyhow::bail!(
            "{}: the header needs user_id, rank and item_id columns",
            path.display()
        );
    };
    let mut rows: HashMap<u32, Vec<(u64, u32)>> = HashMap::new();
    let mut unknown_users = 0usize;
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        let record = record.with_context(|| format!("{}:{line}", path.display()))?;
        let get = |c: usize| record.get(c).unwrap_or("").trim();
        let rank: u64 = get(rc).parse().map_err(|_| {
            anyhow::anyhow!(
                "{}:{line}: rank {:?} is not a positive integer",
                path.display(),
                get(rc)
            )
        })?;
        let Some(user) = data.users().get(get(uc)) else {
            unknown_users += 1;
            continue;
        };
        let item = data.items().get(get(ic)).unwrap_or(UNKNOWN_ITEM);
        rows.entry(user).or_default().push((rank, item));
    }
    if unknown_users > 0 {
        tracing::warn!(
            rows = unknown_users,
            file = %path.display(),
            "list rows of users the data does not know were ignored"
        );
    }
    Ok(rows
        .into_iter()
        .map(|(u, mut r)| {
            r.sort_by_key(|e| e.0);
            (u, r.into_iter().map(|e| e.1).collect())
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::evaluate::source::FileData;

    #[test]
    fn lists_are_ordered_by_rank_and_unknown_items_kept_as_misses() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, l) = (
            dir.path().join("a.csv"),
            dir.path().join("b.csv"),
            dir.path().join("l.csv"),
        );
        std::fs::write(&a, "user_id,item_id\nu1,x\nu2,y\n").unwrap();
        std::fs::write(&b, "user_id,item_id\nu1,y\n").unwrap();
        std::fs::write(
            &l,
            "user_id,rank,item_id,score\nu1,2,x,0.5\nu1,1,zzz,0.9\nu1,3,y,0.1\nghost,1,x,1\n",
        )
        .unwrap();
        let d = FileData::read(&a, &b).unwrap();
        let lists = read(&l, &d).unwrap();
        let u1 = d.users().get("u1").unwrap();
        let (x, y) = (d.items().get("x").unwrap(), d.items().get("y").unwrap());
        assert_eq!(lists[&u1], vec![UNKNOWN_ITEM, x, y]);
        assert_eq!(lists.len(), 1);
        std::fs::write(&l, "user_id,rank,item_id\nu1,first,x\n").unwrap();
        let err = read(&l, &d).unwrap_err().to_string();
        assert!(err.contains(":2: rank \"first\""), "{err}");
        assert!("noequals".parse::<ListsArg>().is_err());
        assert_eq!(
            "implicit=out/recs.csv".parse::<ListsArg>().unwrap().name,
            "implicit"
        );
    }
}
