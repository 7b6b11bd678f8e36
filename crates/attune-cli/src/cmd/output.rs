//! Where a command's file output goes: standard output, or a temporary file next to the
//! target that is renamed into place only once everything is written, so a failed run never
//! leaves a truncated file that looks complete.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Standard output, or a temporary file renamed to the target by [`Output::finish`].
pub(crate) struct Output {
    writer: BufWriter<Box<dyn Write>>,
    /// (temporary, final) paths.
    paths: Option<(PathBuf, PathBuf)>,
}

impl Output {
    pub(crate) fn new(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self {
                writer: BufWriter::new(Box::new(std::io::stdout().lock())),
                paths: None,
            });
        };
        let name = path
            .file_name()
            .with_context(|| format!("{} is not a file name", path.display()))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp-{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let file = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(Self {
            writer: BufWriter::new(Box::new(file)),
            paths: Some((tmp, path.to_path_buf())),
        })
    }

    pub(crate) fn writer(&mut self) -> &mut dyn Write {
        &mut self.writer
    }

    pub(crate) fn finish(mut self) -> anyhow::Result<()> {
        self.writer.flush().context("writing the output")?;
        if let Some((tmp, path)) = self.paths.take() {
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))?;
        }
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // Reached with paths still set only when the export failed: remove the partial file.
        if let Some((tmp, _)) = self.paths.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
