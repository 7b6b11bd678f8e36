//! The GroupLens download layouts: ml-100k's `u.*` files, ml-1m/ml-10m's `::`-separated
//! `.dat` files and the CSV files of ml-20m and later. Each is read line by line (ml-32m has
//! 32 million ratings), lines decoded as UTF-8 or, failing that, ISO-8859-1 (the older sets).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use attune_core::catalog::{AttrValue, Item};

use super::{is_placeholder, rating_event, user_row, Layout, Rows};
use crate::cmd::import::Decoded;

/// ml-100k's genre flags, in `u.item` column order (its `u.genre`).
const ML100K_GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// The files of one layout, checked to exist.
pub(super) struct Source {
    layout: Layout,
    items: PathBuf,
    users: Option<PathBuf>,
    ratings: PathBuf,
}

impl Source {
    /// The files `layout` needs in `dir` (`None` for RecBole, read elsewhere); a missing one
    /// is an error naming it.
    pub(super) fn open(dir: &Path, layout: &Layout) -> anyhow::Result<Option<Self>> {
        let (items, users, ratings, users_required) = match layout {
            Layout::RecBole(_) => return Ok(None),
            Layout::Ml100k => ("u.item", "u.user", "u.data", true),
            Layout::Dat => ("movies.dat", "users.dat", "ratings.dat", false),
            Layout::Csv => ("movies.csv", "", "ratings.csv", false),
        };
        let need = |name: &str| -> anyhow::Result<PathBuf> {
            let path = dir.join(name);
            anyhow::ensure!(
                path.is_file(),
                "{} is missing: the {} layout needs it",
                path.display(),
                layout.name()
            );
            Ok(path)
        };
        let users = if users_required {
            Some(need(users)?)
        } else {
            Some(dir.join(users)).filter(|p| !users.is_empty() && p.is_file())
        };
        Ok(Some(Self {
            layout: layout.clone(),
            items: need(items)?,
            users,
            ratings: need(ratings)?,
        }))
    }

    /// Items, then users, then ratings.
    pub(super) fn read(self, rows: &mut dyn Rows) -> anyhow::Result<()> {
        match self.layout {
            Layout::Ml100k => {
                each_line(&self.items, |path, line, text| {
                    rows.row(path, line, Decoded::Item(ml100k_item(&split(text, "|"))))
                })?;
                if let Some(users) = &self.users {
                    each_line(users, |path, line, text| {
                        let f = split(text, "|");
                        let user = user_row(
                            field(&f, 0),
                            field(&f, 1),
                            field(&f, 2),
                            field(&f, 3),
                            field(&f, 4),
                        );
                        rows.row(path, line, Decoded::User(user))
                    })?;
                }
                each_line(&self.ratings, |path, line, text| {
                    let f = split(text, "\t");
                    rows.row(path, line, rating(&f, "ml100k"))
                })
            }
            Layout::Dat => {
                each_line(&self.items, |path, line, text| {
                    let f = split(text, "::");
                    rows.row(
                        path,
                        line,
                        Decoded::Item(movie(field(&f, 0), field(&f, 1), field(&f, 2))),
                    )
                })?;
                if let Some(users) = &self.users {
                    each_line(users, |path, line, text| {
                        // UserID::Gender::Age::Occupation::Zip-code; age is the band's lower
                        // bound (1, 18, 25, ...), occupation a code.
                        let f = split(text, "::");
                        let user = user_row(
                            field(&f, 0),
                            field(&f, 2),
                            field(&f, 1),
                            field(&f, 3),
                            field(&f, 4),
                        );
                        rows.row(path, line, Decoded::User(user))
                    })?;
                }
                each_line(&self.ratings, |path, line, text| {
                    rows.row(path, line, rating(&split(text, "::"), "ml"))
                })
            }
            Layout::Csv => {
                each_csv(
                    &self.items,
                    ["movieId", "title", "genres"],
                    |path, line, [id, title, genres]| {
                        rows.row(path, line, Decoded::Item(movie(id, title, genres)))
                    },
                )?;
                each_csv(
                    &self.ratings,
                    ["userId", "movieId", "rating", "timestamp"],
                    |path, line, [user, item, value, ts]| {
                        rows.row(
                            path,
                            line,
                            Decoded::Event(rating_event("ml", user, item, value, ts)),
                        )
                    },
                )
            }
            Layout::RecBole(_) => unreachable!("RecBole has no Source"),
        }
    }
}

fn split<'a>(text: &'a str, sep: &str) -> Vec<&'a str> {
    text.split(sep).map(str::trim).collect()
}

fn field<'a>(f: &[&'a str], i: usize) -> &'a str {
    f.get(i).copied().unwrap_or("")
}

fn rating(f: &[&str], set: &str) -> Decoded {
    Decoded::Event(rating_event(
        set,
        field(f, 0),
        field(f, 1),
        field(f, 2),
        field(f, 3),
    ))
}

/// `visit(path, line, text)` for every non-empty line.
fn each_line(
    path: &Path,
    mut visit: impl FnMut(&str, u64, &str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let shown = path.display().to_string();
    let file = File::open(path).with_context(|| format!("cannot open {shown}"))?;
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("reading {shown}"))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        let text = decode(&buf);
        let text = text.trim_end_matches(['\n', '\r']);
        if !text.trim().is_empty() {
            visit(&shown, line, text)?;
        }
    }
}

/// UTF-8 when it is, else ISO-8859-1 (every byte is the code point of the same value).
fn decode(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => std::borrow::Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// `visit(path, line, fields)` per CSV row, columns found by header name.
fn each_csv<const N: usize>(
    path: &Path,
    names: [&str; N],
    mut visit: impl FnMut(&str, u64, [&str; N]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let shown = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot open {shown}"))?;
    let header = reader
        .headers()
        .with_context(|| format!("cannot read the header of {shown}"))?
        .clone();
    let mut idx = [0usize; N];
    for (slot, name) in idx.iter_mut().zip(names) {
        *slot = header.iter().position(|h| h == name).with_context(|| {
            format!(
                "{shown}: no column {name:?} in the header (it has: {})",
                header.iter().collect::<Vec<_>>().join(", ")
            )
        })?;
    }
    let mut rec = csv::StringRecord::new();
    while reader
        .read_record(&mut rec)
        .with_context(|| format!("reading {shown}"))?
    {
        let line = rec.position().map_or(0, |p| p.line());
        visit(&shown, line, idx.map(|i| rec.get(i).unwrap_or("").trim()))?;
    }
    Ok(())
}

/// `Toy Story (1995)` → (`Toy Story`, 1995); a title without a year is kept whole.
fn split_title(title: &str) -> (&str, Option<u16>) {
    let t = title.trim();
    if let Some(open) = t.strip_suffix(')').and_then(|s| s.rfind('(')) {
        if let Ok(year) = t[open + 1..t.len() - 1].parse::<u16>() {
            if (1800..=2100).contains(&year) {
                return (t[..open].trim_end(), Some(year));
            }
        }
    }
    (t, None)
}

/// A `movies.dat` / `movies.csv` row: id, "Title (year)", `|`-separated genres.
fn movie(id: &str, title: &str, genres: &str) -> Item {
    let mut item = Item::new(id);
    let (name, year) = split_title(title);
    item.title = (!is_placeholder(name)).then(|| name.to_string());
    item.categories = genres
        .split('|')
        .map(str::trim)
        .filter(|g| !is_placeholder(g))
        .map(str::to_string)
        .collect();
    if let Some(y) = year {
        item.attributes
            .insert("release_year".into(), AttrValue::Number(f64::from(y)));
    }
    item
}

/// A `u.item` row: id|title|release date|video release date|URL|19 genre flags.
fn ml100k_item(f: &[&str]) -> Item {
    let genres: Vec<&str> = ML100K_GENRES
        .iter()
        .enumerate()
        .filter(|(k, _)| field(f, 5 + k) == "1")
        .map(|(_, g)| *g)
        .collect();
    let mut item = movie(field(f, 0), field(f, 1), &genres.join("|"));
    // The release date (`01-Jan-1995`) is there when the title has no year.
    if !item.attributes.contains_key("release_year") {
        if let Some(y) = field(f, 2)
            .rsplit('-')
            .next()
            .and_then(|y| y.parse::<u16>().ok())
        {
            item.attributes
                .insert("release_year".into(), AttrValue::Number(f64::from(y)));
        }
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_lose_their_year_and_genres_their_placeholders() {
        assert_eq!(split_title("Toy Story (1995)"), ("Toy Story", Some(1995)));
        assert_eq!(
            split_title("City of Lost Children, The (Cité des enfants perdus, La) (1995)"),
            (
                "City of Lost Children, The (Cité des enfants perdus, La)",
                Some(1995)
            )
        );
        assert_eq!(split_title("Babylon 5"), ("Babylon 5", None));
        assert_eq!(split_title("Movie (V)"), ("Movie (V)", None));
        let m = movie("1", "Toy Story (1995)", "Adventure|Animation");
        assert_eq!(m.categories, ["Adventure", "Animation"]);
        assert_eq!(m.attributes["release_year"], AttrValue::Number(1995.0));
        assert!(movie("2", "X", "(no genres listed)").categories.is_empty());
    }

    #[test]
    fn ml100k_items_read_the_genre_flags() {
        let line = "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0";
        let item = ml100k_item(&split(line, "|"));
        assert_eq!(item.title.as_deref(), Some("Toy Story"));
        assert_eq!(item.categories, ["Animation", "Children's", "Comedy"]);
        let unknown = ml100k_item(&split(
            "267|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0",
            "|",
        ));
        assert_eq!(unknown.title, None);
        assert!(unknown.categories.is_empty() && unknown.attributes.is_empty());
    }

    #[test]
    fn latin1_lines_are_decoded() {
        assert_eq!(decode(b"Mis\xe9rables"), "Misérables");
        assert_eq!(decode("Misérables".as_bytes()), "Misérables");
    }
}
