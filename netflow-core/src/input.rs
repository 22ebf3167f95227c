//! Opening an input: a file path or `-` for standard input, gzip-compressed or not (decided by
//! the magic bytes, never by the file name), as a buffered byte reader. Lines are cut by the
//! reader in `mod.rs`, without assuming valid UTF-8.
//!
//! An input may also be bytes another system already read ([`InputBytes`]: an object-store
//! client, a Spark task), with the name messages give it and, for a byte range of a larger
//! file, the line its first byte is on in that file.

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

/// A flow log's bytes held in memory, read as the file `name` would be (gzip or not, any
/// framing), or a byte range of such a file cut at a line start: its lines are numbered from
/// `first_line`, so that skips and errors name the file's own lines.
///
/// ```
/// use netflow_core::input::InputBytes;
///
/// let range = InputBytes::new("gs://bucket/flows.json", b"{}\n".to_vec()).starting_at_line(1001);
/// assert_eq!((range.name(), range.first_line(), range.bytes().len()), ("gs://bucket/flows.json", 1001, 3));
/// ```
#[derive(Debug, Clone)]
pub struct InputBytes {
    name: String,
    bytes: Arc<Vec<u8>>,
    first_line: u64,
    part: bool,
}

impl InputBytes {
    /// The bytes of the input named `name` (a path or URI, used in reports and messages),
    /// from its first line.
    pub fn new(name: impl Into<String>, bytes: Vec<u8>) -> InputBytes {
        InputBytes {
            name: name.into(),
            bytes: Arc::new(bytes),
            first_line: 1,
            part: false,
        }
    }

    /// The same bytes as a part of a larger file whose first line is that file's line `line`
    /// (1 for a whole file; 0 is taken as 1). Only uncompressed line-based records can be
    /// read from a line other than the first: the reader says so otherwise.
    pub fn starting_at_line(mut self, line: u64) -> InputBytes {
        self.first_line = line.max(1);
        self.part = true;
        self
    }

    /// The same bytes as a part of a larger file cut at line starts (wherever in the file it
    /// starts): read as records one per line, whatever its first lines look like (a part may
    /// open with a broken record that would otherwise look like JSON spanning lines).
    /// [`InputBytes::starting_at_line`] implies it.
    pub fn part_of_file(mut self) -> InputBytes {
        self.part = true;
        self
    }

    /// Whether the bytes are a part of a larger file, cut at line starts.
    pub fn is_part(&self) -> bool {
        self.part
    }

    /// The name messages and reports give the input.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The line number of the first line.
    pub fn first_line(&self) -> u64 {
        self.first_line
    }

    /// A reader over the bytes, decompressed when they are gzip.
    pub fn reader(&self) -> InputReader {
        // Reading from memory cannot fail before the first byte: sniffing the magic bytes of
        // a slice returns what is there.
        let cursor = io::Cursor::new(Shared(Arc::clone(&self.bytes)));
        InputReader::from_reader(Box::new(cursor)).unwrap_or_else(|_| InputReader {
            reader: Box::new(io::empty()),
            gzip: false,
            consumed: Arc::new(AtomicU64::new(0)),
        })
    }
}

/// Shared bytes as a slice, for a cursor.
struct Shared(Arc<Vec<u8>>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
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
    fn bytes_in_memory_read_like_a_file_gzip_or_not() {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(b"a\nb\n").unwrap();
        for bytes in [b"a\nb\n".to_vec(), enc.finish().unwrap()] {
            let gz = bytes.starts_with(&GZIP_MAGIC);
            let mut input = InputBytes::new("mem", bytes).reader();
            let mut text = String::new();
            input.read_to_string(&mut text).unwrap();
            assert_eq!((input.gzip, text.as_str()), (gz, "a\nb\n"));
        }
        assert_eq!(
            InputBytes::new("x", Vec::new())
                .starting_at_line(0)
                .first_line(),
            1
        );
    }

    #[test]
    fn empty_input_has_no_lines() {
        let (gzip, lines) = lines_of(Vec::new());
        assert!(!gzip);
        assert!(lines.is_empty());
    }
}
