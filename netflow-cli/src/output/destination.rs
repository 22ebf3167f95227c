//! Where a command's result goes: standard output, or `--out FILE`. A file is written beside
//! its final name and renamed into place only when the command succeeds, so a failed or
//! interrupted run never leaves a half-written export behind.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tempfile::NamedTempFile;

use crate::args::{OutputArgs, OutputFormat};

/// Standard output or a file being written.
pub enum Destination<'a> {
    /// The command's standard output.
    Stdout(&'a mut dyn Write),
    /// A temporary file that becomes `path` on [`Destination::finish`].
    File {
        /// The temporary file, buffered.
        file: BufWriter<NamedTempFile>,
        /// The final name.
        path: PathBuf,
    },
}

impl<'a> Destination<'a> {
    /// Opens `--out` when given, otherwise standard output. Refuses to write Parquet to a
    /// terminal.
    pub fn open(args: &OutputArgs, stdout: &'a mut dyn Write) -> Result<Destination<'a>> {
        match &args.out {
            Some(path) => Destination::file(path),
            None => {
                if args.output == OutputFormat::Parquet && io::stdout().is_terminal() {
                    bail!(
                        "-o parquet writes a binary file: give --out FILE (or redirect standard \
                         output)"
                    );
                }
                Ok(Destination::Stdout(stdout))
            }
        }
    }

    /// A new file at `path` (created in the same folder, renamed on success).
    pub fn file(path: &Path) -> Result<Destination<'a>> {
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if path.is_dir() {
            bail!("--out {path:?} is a folder; give a file name");
        }
        let file = NamedTempFile::new_in(folder)
            .with_context(|| format!("cannot write {path:?} (in folder {folder:?})"))?;
        Ok(Destination::File {
            file: BufWriter::with_capacity(256 * 1024, file),
            path: path.to_path_buf(),
        })
    }

    /// Completes the output when the command succeeded (`status` is `Ok`). On failure
    /// standard output is still flushed (what was read is shown before the error), but a file
    /// is discarded: `--out` is replaced only by a complete result.
    pub fn settle(self, status: Result<()>) -> Result<()> {
        match (status, self) {
            (Ok(()), dest) => dest.finish(),
            (Err(e), Destination::Stdout(out)) => {
                let _ = out.flush();
                Err(e)
            }
            (Err(e), Destination::File { .. }) => Err(e),
        }
    }

    /// Flushes; a file is moved to its final name.
    pub fn finish(self) -> Result<()> {
        match self {
            Destination::Stdout(out) => Ok(out.flush()?),
            Destination::File { file, path } => {
                let file = file
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(|| format!("cannot write {path:?}"))?;
                file.persist(&path)
                    .map_err(|e| e.error)
                    .with_context(|| format!("cannot write {path:?}"))?;
                Ok(())
            }
        }
    }
}

impl Write for Destination<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Destination::Stdout(out) => out.write(buf),
            Destination::File { file, .. } => file.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Destination::Stdout(out) => out.write_all(buf),
            Destination::File { file, .. } => file.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Destination::Stdout(out) => out.flush(),
            Destination::File { file, .. } => file.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_appears_only_when_finished() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let mut dest = Destination::file(&path).unwrap();
        dest.write_all(b"a,b\n").unwrap();
        assert!(!path.exists());
        dest.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a,b\n");

        let abandoned = dir.path().join("abandoned.csv");
        let mut dest = Destination::file(&abandoned).unwrap();
        dest.write_all(b"partial").unwrap();
        drop(dest);
        assert!(!abandoned.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_folder_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = Destination::file(dir.path()).err().unwrap().to_string();
        assert!(err.contains("is a folder"), "{err}");
    }
}
