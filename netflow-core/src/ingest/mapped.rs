//! Line-based regular files are read through a memory map: no read copies, no buffers, the
//! chunks handed to the decoders are slices of the page cache. Everything else — standard
//! input, gzip, documents, files that cannot be mapped — goes through the streaming reader.
//!
//! This is the crate's only `unsafe`: mapping a file is unsound if another process truncates
//! it while it is mapped (the access then faults). Flow logs handed to flowq are exports and
//! rotated files, not files being truncated in place; a file that is still growing is safe
//! (the map covers the length it had when opened).
#![allow(unsafe_code)]

use std::fs::File;

use super::framing::Framing;
use super::{Flow, ReadOptions, Reading};
use crate::error::Result;

/// Reads `name` through a memory map when it is a non-empty, uncompressed, line-based regular
/// file; `Ok(None)` means "use the streaming reader".
pub(super) fn read_mapped(
    name: &str,
    options: &ReadOptions,
    sink: &mut dyn FnMut(Flow),
) -> Result<Option<super::InputReport>> {
    if name == "-" {
        return Ok(None);
    }
    let Ok(file) = File::open(name) else {
        return Ok(None);
    };
    match file.metadata() {
        Ok(m) if m.is_file() && m.len() > 0 => {}
        _ => return Ok(None),
    }
    // SAFETY: see the module comment; the map is only read, and dropped before returning.
    let Ok(map) = (unsafe { memmap2::MmapOptions::new().map(&file) }) else {
        return Ok(None);
    };
    let data: &[u8] = &map;
    if data.starts_with(&[0x1f, 0x8b]) {
        return Ok(None);
    }
    let head: Vec<&[u8]> = data.split(|b| *b == b'\n').take(32).collect();
    let framing = Framing::detect(&head);
    if framing == Framing::Document {
        return Ok(None);
    }
    let mut reading = Reading::new(name, false, options, sink);
    reading.report.framing = Some(framing);
    let chunk_bytes = options.chunk_bytes.max(1);
    let mut next_line = 1;
    let mut start = 0;
    while start < data.len() {
        let mut end = (start + chunk_bytes).min(data.len());
        if end < data.len() {
            end = match memchr::memchr(b'\n', &data[end..]) {
                Some(i) => end + i + 1,
                None => data.len(),
            };
        }
        // Announce the chunk, and let go of it once decoded, so that resident memory stays
        // about one chunk however large the file (advice failures only cost speed or memory,
        // never correctness).
        let _ = map.advise_range(memmap2::Advice::WillNeed, start, end - start);
        next_line = reading.process_lines(&data[start..end], next_line, framing)?;
        if let Some(progress) = &options.progress {
            (progress.0)((end - start) as u64);
        }
        // SAFETY: DONTNEED on a read-only shared file mapping only drops our page table
        // entries; the next access reads the same file contents back from the page cache.
        let _ = unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
        };
        start = end;
    }
    Ok(Some(reading.report))
}
