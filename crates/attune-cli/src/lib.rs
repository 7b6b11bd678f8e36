//! The code of the `attune` binary, as a library.
//!
//! `main.rs` is only the entry point (global allocator, error printing); everything else lives
//! here so that the pure parts the binary owns can be reached from outside it: the fuzz targets
//! under `fuzz/` drive the configuration loader ([`config::Settings::from_toml`]) and the
//! `attune import` file readers ([`import`]) exactly as the binary does. The subcommands stay
//! private behind [`run`].

pub mod cli;
mod cmd;
pub mod config;
pub mod ingest;
mod models;
mod serving;
#[cfg(feature = "kafka")]
mod stream;

pub use cmd::run;

/// An error and its causes on one line, as `attune` prints them: each cause is appended after
/// `: ` unless the line already holds its text. Library errors that name their source in their
/// own message (`invalid algorithm "…": ease: …`) would otherwise print it twice, as anyhow's
/// `{:#}` does.
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::error_line;

    /// Like the library errors made with thiserror's `#[error("…: {source}")]`: the message
    /// names the source, and `source()` returns it too.
    #[derive(Debug)]
    struct Repeats {
        text: String,
        source: std::io::Error,
    }

    impl std::fmt::Display for Repeats {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "invalid algorithm {:?}: {}", self.text, self.source)
        }
    }

    impl std::error::Error for Repeats {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn a_cause_already_in_the_message_is_printed_once() {
        let io = std::io::Error::other("`budget` = 0 is invalid");
        let err = anyhow::Error::new(Repeats {
            text: "seq-knn:budget=0".into(),
            source: io,
        });
        assert_eq!(format!("{err:#}").matches("is invalid").count(), 2);
        assert_eq!(
            error_line(&err),
            "invalid algorithm \"seq-knn:budget=0\": `budget` = 0 is invalid"
        );
    }

    #[test]
    fn context_and_distinct_causes_are_all_kept() {
        let err = anyhow::Error::new(std::io::Error::other("permission denied"))
            .context("reading data/attune.db")
            .context("opening the store");
        assert_eq!(
            error_line(&err),
            "opening the store: reading data/attune.db: permission denied"
        );
    }
}

/// The file readers of `attune import` and the validation they share with the HTTP API: a
/// [`CsvSource`](import::CsvSource) or [`JsonlSource`](import::JsonlSource) turns bytes into
/// [`Record`](import::Record)s, the [`Validator`](import::Validator) turns those into
/// [`Row`](import::Row)s. No store is involved.
pub mod import {
    pub use crate::cmd::import::fields::Field;
    pub use crate::cmd::import::{CsvSource, Decoded, JsonlSource, Record, Row, Validator};
}
