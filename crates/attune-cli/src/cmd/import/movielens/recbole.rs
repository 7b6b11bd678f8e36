//! RecBole's atomic-file layout of MovieLens-100K (what `scripts/fetch-movielens.sh` extracts):
//! three tab-separated files with typed headers (`name:type`):
//!
//! - `ml-100k.inter`: `user_id:token  item_id:token  rating:float  timestamp:float`
//! - `ml-100k.item`:  `item_id:token  movie_title:token_seq  release_year:token  class:token_seq`
//! - `ml-100k.user`:  `user_id:token  age:token  gender:token  occupation:token  zip_code:token`
//!
//! They become 1,682 items (title, categories = the genres, `attributes.release_year`), 943
//! users (`attributes.age` as a number, `gender`, `occupation`, `zip_code` as text) and 100,000
//! `rating` events (`value` = the rating, time from the Unix seconds). Event ids are
//! `ml100k-<user>-<item>-<unix seconds>`, so running the import again stores nothing new.
//!
//! Columns are found by name, not position. The data's own placeholders are not copied into the
//! catalog: item 267's title and year are `unkonwn` (sic), item 1412's year is `V`, and the
//! pseudo-genre `unknown` marks a film without genre; those fields are left absent instead.

use std::path::Path;

use anyhow::Context as _;
use attune_core::catalog::{AttrValue, Item, User};
use attune_core::event::RawEvent;

use super::{is_placeholder, rating_event, Rows};
use crate::cmd::import::Decoded;

/// A tab-separated atomic file: typed header, then rows.
struct AtomicFile {
    path: String,
    columns: Vec<String>,
    rows: csv::Reader<std::fs::File>,
}

impl AtomicFile {
    fn open(dir: &Path, name: &str) -> anyhow::Result<Self> {
        let path = dir.join(name);
        let file = std::fs::File::open(&path).with_context(|| {
            format!(
                "cannot open {} (a RecBole data set needs its .inter, .item and .user files; \
                 fetch MovieLens-100K with scripts/fetch-movielens.sh)",
                path.display()
            )
        })?;
        let mut rows = csv::ReaderBuilder::new()
            .delimiter(b'\t')
            .quoting(false)
            .has_headers(true)
            .from_reader(file);
        // `user_id:token` -> `user_id`.
        let columns = rows
            .headers()
            .with_context(|| format!("cannot read the header of {}", path.display()))?
            .iter()
            .map(|h| h.split(':').next().unwrap_or(h).to_string())
            .collect();
        Ok(Self {
            path: path.display().to_string(),
            columns,
            rows,
        })
    }

    /// Index of each named column, or an error listing what the header has.
    fn indices<const N: usize>(&self, names: [&str; N]) -> anyhow::Result<[usize; N]> {
        let mut out = [0; N];
        for (slot, name) in out.iter_mut().zip(names) {
            *slot = self
                .columns
                .iter()
                .position(|c| c == name)
                .with_context(|| {
                    format!(
                        "{}: no column {name:?} in the header (it has: {})",
                        self.path,
                        self.columns.join(", ")
                    )
                })?;
        }
        Ok(out)
    }

    /// Call `visit(line, fields)` per row.
    fn each<const N: usize>(
        &mut self,
        idx: [usize; N],
        mut visit: impl FnMut(u64, [&str; N]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut rec = csv::StringRecord::new();
        while self
            .rows
            .read_record(&mut rec)
            .with_context(|| format!("reading {}", self.path))?
        {
            let line = rec.position().map_or(0, |p| p.line());
            let fields = idx.map(|i| rec.get(i).unwrap_or("").trim());
            visit(line, fields)?;
        }
        Ok(())
    }
}

fn item_row([id, title, year, genres]: [&str; 4]) -> Item {
    let mut item = Item::new(id);
    item.title = (!is_placeholder(title)).then(|| title.to_string());
    item.categories = genres
        .split(' ')
        .filter(|g| !is_placeholder(g))
        .map(str::to_string)
        .collect();
    if let Ok(y) = year.parse::<u16>() {
        item.attributes
            .insert("release_year".into(), AttrValue::Number(f64::from(y)));
    }
    item
}

fn user_row([id, age, gender, occupation, zip]: [&str; 5]) -> User {
    super::user_row(id, age, gender, occupation, zip)
}

/// A rating row as a raw event; a malformed number leaves the field absent so validation names
/// it.
fn rating_row([user, item, rating, ts]: [&str; 4]) -> RawEvent {
    rating_event("ml100k", user, item, rating, ts)
}

/// Visit the three files as decoded rows (items, users, ratings), each with its line.
pub(super) fn read(dir: &Path, prefix: &str, rows: &mut dyn Rows) -> anyhow::Result<()> {
    // Open all three first: a wrong directory fails before anything is written.
    let mut items = AtomicFile::open(dir, &format!("{prefix}.item"))?;
    let mut users = AtomicFile::open(dir, &format!("{prefix}.user"))?;
    let mut inter = AtomicFile::open(dir, &format!("{prefix}.inter"))?;
    let item_idx = items.indices(["item_id", "movie_title", "release_year", "class"])?;
    let user_idx = users.indices(["user_id", "age", "gender", "occupation", "zip_code"])?;
    let inter_idx = inter.indices(["user_id", "item_id", "rating", "timestamp"])?;
    let path = items.path.clone();
    items.each(item_idx, |line, f| {
        rows.row(&path, line, Decoded::Item(item_row(f)))
    })?;
    let path = users.path.clone();
    users.each(user_idx, |line, f| {
        rows.row(&path, line, Decoded::User(user_row(f)))
    })?;
    let path = inter.path.clone();
    inter.each(inter_idx, |line, f| {
        rows.row(&path, line, Decoded::Event(rating_row(f)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_left_absent() {
        let item = item_row(["267", "unkonwn", "unkonwn", "unknown"]);
        assert_eq!(item.title, None);
        assert!(item.categories.is_empty() && item.attributes.is_empty());
        let odd_year = item_row([
            "1412",
            "Land Before Time III (1995)",
            "V",
            "Animation Children's",
        ]);
        assert_eq!(odd_year.categories, vec!["Animation", "Children's"]);
        assert!(odd_year.attributes.is_empty());
        let toy = item_row(["1", "Toy Story", "1995", "Animation Children's Comedy"]);
        assert_eq!(toy.attributes["release_year"], AttrValue::Number(1995.0));
    }

    #[test]
    fn users_keep_zip_codes_as_text() {
        let u = user_row(["1", "24", "M", "technician", "00501"]);
        assert_eq!(u.attributes["age"], AttrValue::Number(24.0));
        assert_eq!(u.attributes["zip_code"], AttrValue::Text("00501".into()));
    }

    #[test]
    fn ratings_get_the_ml100k_ids() {
        let e = rating_row(["196", "242", "3", "881250949"]);
        assert_eq!(e.event_id.as_deref(), Some("ml100k-196-242-881250949"));
    }
}
