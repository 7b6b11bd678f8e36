//! `attune apps create|list`, plus the store/app helpers every data command shares.
//!
//! Apps must exist before data is written to them, so a typo in `--app` fails loudly instead of
//! quietly creating a new, empty tenant. The one exception is the default app, which data
//! commands create on first use so that the single-app case needs no setup.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use attune_store::{Store, DEFAULT_APP};

use crate::cli::AppsCommand;
use crate::config::Settings;

/// Longest app name: it appears in URLs, metric labels and file names.
const MAX_APP_NAME_LEN: usize = 63;

pub fn run(args: AppsCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    match args {
        AppsCommand::Create { name } => {
            check_app_name(&name)?;
            let store = open_store(settings)?;
            let existed = store.list_apps()?.contains(&name);
            store
                .create_app(&name)
                .with_context(|| format!("cannot create app {name:?}"))?;
            let mut out = std::io::stdout().lock();
            if existed {
                writeln!(out, "app {name:?} already exists")?;
            } else {
                writeln!(out, "created app {name:?}")?;
            }
        }
        AppsCommand::List => {
            let store = open_store(settings)?;
            let apps = store.list_apps()?;
            let mut rows = Vec::with_capacity(apps.len());
            for app in &apps {
                let c = store
                    .counts(app)
                    .with_context(|| format!("cannot count app {app:?}"))?;
                rows.push([
                    app.clone(),
                    c.events.to_string(),
                    c.items.to_string(),
                    c.users.to_string(),
                ]);
            }
            let mut out = std::io::stdout().lock();
            if rows.is_empty() {
                writeln!(
                    out,
                    "no apps yet (attune apps create NAME, or import into the default app)"
                )?;
            } else {
                write_table(&mut out, &["app", "events", "items", "users"], &rows)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Enforce `^[a-z0-9][a-z0-9_-]{0,62}$`: names become URL segments and metric labels, so they
/// stay short, lowercase and free of anything that needs escaping.
pub fn check_app_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    anyhow::ensure!(
        first_ok && rest_ok && name.len() <= MAX_APP_NAME_LEN,
        "invalid app name {name:?}: use 1 to {MAX_APP_NAME_LEN} characters from a-z, 0-9, '-' and '_', \
         starting with a letter or digit (e.g. \"shop\", \"news-eu\")"
    );
    Ok(())
}

/// Open the configured store, naming the URL when that fails.
pub fn open_store(settings: &Settings) -> anyhow::Result<Box<dyn Store>> {
    let url = settings.store_url();
    attune_store::open(&url).with_context(|| format!("cannot open store {url}"))
}

/// Make sure `app` can receive data: the default app is created on first use, any other app
/// must have been created with `attune apps create`.
pub fn ensure_app(store: &dyn Store, app: &str) -> anyhow::Result<()> {
    check_app_name(app)?;
    if store.list_apps()?.iter().any(|a| a == app) {
        return Ok(());
    }
    anyhow::ensure!(
        app == DEFAULT_APP,
        "unknown app {app:?}; create it first with `attune apps create {app}`"
    );
    store
        .create_app(app)
        .with_context(|| format!("cannot create app {app:?}"))?;
    Ok(())
}

/// Make sure `app` exists before reading from it (reads never create apps).
pub fn require_app(store: &dyn Store, app: &str) -> anyhow::Result<()> {
    check_app_name(app)?;
    if store.list_apps()?.iter().any(|a| a == app) {
        return Ok(());
    }
    if app == DEFAULT_APP {
        // Nothing has been imported yet: an empty default app is the honest answer.
        store
            .create_app(app)
            .with_context(|| format!("cannot create app {app:?}"))?;
        return Ok(());
    }
    anyhow::bail!("unknown app {app:?}; see `attune apps list`")
}

/// A plain left/right-aligned text table: the first column left-aligned, the rest right-aligned
/// (they are numbers).
pub fn write_table<const N: usize>(
    out: &mut dyn std::io::Write,
    header: &[&str; N],
    rows: &[[String; N]],
) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn std::io::Write,
                cells: &mut dyn Iterator<Item = &str>|
     -> std::io::Result<()> {
        let mut text = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i == 0 {
                text.push_str(&format!("{cell:<w$}"));
            } else {
                text.push_str(&format!("  {cell:>w$}"));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, &mut header.iter().copied())?;
    for row in rows {
        line(out, &mut row.iter().map(String::as_str))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_follow_the_rule() {
        for ok in [
            "default",
            "shop",
            "news-eu",
            "a",
            "0",
            "a_b-9",
            &"x".repeat(63),
        ] {
            assert!(check_app_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Shop",
            "-shop",
            "_x",
            "shop eu",
            "shop/eu",
            "é",
            &"x".repeat(64),
        ] {
            let err = check_app_name(bad).unwrap_err().to_string();
            assert!(err.contains("invalid app name"), "{bad}: {err}");
        }
    }

    #[test]
    fn table_aligns_numbers_right() {
        let mut out = Vec::new();
        let rows = [
            ["shop".to_string(), "12".to_string()],
            ["news-eu".to_string(), "3".to_string()],
        ];
        write_table(&mut out, &["app", "events"], &rows).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "app      events\nshop         12\nnews-eu       3\n"
        );
    }
}
