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
use super::{decode_chunk, Flow, LinesPart, ReadOptions, Reading};
use crate::error::Result;

/// How much of the file stays mapped before the pages already decoded are let go of.
const RELEASE_BYTES: usize = 8 * 1024 * 1024;

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
    let input = reading.input.clone();
    // The file is read once, front to back (advice failures only cost speed, never
    // correctness).
    let _ = map.advise(memmap2::Advice::Sequential);
    // The records of the chunk before are accounted for (and handed to the sink) on this
    // thread while the pool decodes the next one.
    let mut pending: Option<(Vec<LinesPart>, u64)> = None;
    let mut next_line = 1;
    let mut start = 0;
    let mut mapped_from = 0;
    while start < data.len() {
        let mut end = (start + chunk_bytes).min(data.len());
        if end < data.len() {
            end = match memchr::memchr(b'\n', &data[end..]) {
                Some(i) => end + i + 1,
                None => data.len(),
            };
        }
        let chunk = &data[start..end];
        reading.detect_lines(chunk, next_line, framing)?;
        let (format, prefilter) = (reading.format, options.prefilter.as_deref());
        let mut decoded = None;
        rayon::in_place_scope(|scope| {
            scope.spawn(|_| {
                decoded = Some(decode_chunk(chunk, format, prefilter, framing, &input));
            });
            if let Some((parts, first)) = pending.take() {
                reading.account_parts(parts, first);
            }
        });
        let parts = decoded.unwrap_or_default();
        // Let go of what has been decoded, a batch of chunks at a time, so that resident
        // memory stays bounded however large the file.
        if end - mapped_from >= RELEASE_BYTES || end == data.len() {
            // SAFETY: DONTNEED on a read-only shared file mapping only drops our page table
            // entries; the next access reads the same file contents back from the page cache.
            let _ = unsafe {
                map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    mapped_from,
                    end - mapped_from,
                )
            };
            mapped_from = end;
        }
        let lines: u64 = parts.iter().map(|p| p.lines).sum();
        pending = Some((parts, next_line));
        next_line += lines;
        if let Some(progress) = &options.progress {
            (progress.0)((end - start) as u64);
        }
        start = end;
    }
    if let Some((parts, first)) = pending {
        reading.account_parts(parts, first);
    }
    Ok(Some(reading.report))
}
