//! Opening an input: a file path or `-` for standard input, gzip-compressed or not (decided by
//! the magic bytes, never by the file name), as a buffered byte reader. Lines are cut by the
//! reader in `mod.rs`, without assuming valid UTF-8.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

const BUFFER_SIZE: usize = 256 * 1024;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// An opened input, decompressed when it was gzip.
pub struct InputReader {
    reader: Box<dyn BufRead + Send>,
    /// Whether the input was gzip-compressed.
    pub gzip: bool,
    consumed: Arc<AtomicU64>,
}

impl InputReader {
    /// Opens `name` (`-` is standard input) and sniffs gzip by its magic bytes.
    pub fn open(name: &str) -> Result<InputReader> {
        let io_err = |source| Error::Io {
            input: name.to_string(),
            source,
        };
        let raw: Box<dyn Read + Send> = if name == "-" {
            Box::new(io::stdin())
        } else {
            Box::new(File::open(name).map_err(io_err)?)
        };
        Self::from_reader(raw).map_err(io_err)
    }

    /// Wraps any reader, sniffing gzip by its magic bytes.
    pub fn from_reader(raw: Box<dyn Read + Send>) -> io::Result<InputReader> {
        let consumed = Arc::new(AtomicU64::new(0));
        let raw: Box<dyn Read + Send> = Box::new(Counted {
            inner: raw,
            consumed: Arc::clone(&consumed),
        });
        let mut buffered = BufReader::with_capacity(BUFFER_SIZE, raw);
        let gzip = starts_with_gzip_magic(&mut buffered)?;
        let reader: Box<dyn BufRead + Send> = if gzip {
            Box::new(BufReader::with_capacity(
                BUFFER_SIZE,
                MultiGzDecoder::new(buffered),
            ))
        } else {
            Box::new(buffered)
        };
        Ok(InputReader {
            reader,
            gzip,
            consumed,
        })
    }

    /// Bytes taken from the underlying input so far (compressed bytes for gzip), for progress.
    pub fn consumed(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.consumed)
    }
}

/// Counts the bytes read through it.
struct Counted {
    inner: Box<dyn Read + Send>,
    consumed: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Read for InputReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

/// Peeks at the first two bytes; a short read (empty or one-byte input) is not gzip.
fn starts_with_gzip_magic(reader: &mut BufReader<Box<dyn Read + Send>>) -> io::Result<bool> {
    loop {
        match reader.fill_buf() {
            Ok(buf) => return Ok(buf.len() >= 2 && buf[..2] == GZIP_MAGIC),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    fn lines_of(bytes: Vec<u8>) -> (bool, Vec<String>) {
        let mut input = InputReader::from_reader(Box::new(io::Cursor::new(bytes))).unwrap();
        let mut text = String::new();
        input.read_to_string(&mut text).unwrap();
        (input.gzip, text.lines().map(str::to_string).collect())
    }

    #[test]
    fn gzip_is_detected_by_magic_bytes() {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(b"{\"x\":1}\n{\"x\":2}\n").unwrap();
        let (gzip, lines) = lines_of(enc.finish().unwrap());
        assert!(gzip);
        assert_eq!(lines, ["{\"x\":1}", "{\"x\":2}"]);
    }

    #[test]
    fn empty_input_has_no_lines() {
        let (gzip, lines) = lines_of(Vec::new());
        assert!(!gzip);
        assert!(lines.is_empty());
    }
}
