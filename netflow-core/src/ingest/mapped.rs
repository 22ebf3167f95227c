//! Line-based regular files are read through a memory map: no read copies, no buffers, the
//! chunks handed to the decoders are slices of the page cache; bytes already in memory
//! ([`crate::input::InputBytes`]) take the same path. Everything else — standard
//! input, gzip, documents, concatenated values, files that cannot be mapped — goes through the
//! streaming reader.
//!
//! This is the crate's only `unsafe`: mapping a file is unsound if another process truncates
//! it while it is mapped (the access then faults). Flow logs handed to flowq are exports and
//! rotated files, not files being truncated in place; a file that is still growing is safe
//! (the map covers the length it had when opened).
#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::fs::File;
use std::sync::mpsc::{sync_channel, Receiver, TryRecvError};

use super::decode::{Decoder, LinesPart, Reading};
use super::framing;
use super::lines::whole_lines_end;
use super::{FlowSink, ReadOptions};
use crate::error::Result;
use memmap2::Mmap;

/// How many chunks may be started and not yet accounted for: while this thread accounts for
/// the oldest, the others decode.
const CHUNKS_IN_FLIGHT: usize = 3;

/// Reads `name` through a memory map when it is a non-empty, uncompressed, line-based regular
/// file; `Ok(None)` means "use the streaming reader".
pub(super) fn read_mapped(
    name: &str,
    options: &ReadOptions,
    sink: &mut FlowSink<'_>,
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
    // The file is read once, front to back (advice failures only cost speed, never
    // correctness).
    let _ = map.advise(memmap2::Advice::Sequential);
    let map = &map;
    read_lines_in(name, data, 1, false, options, sink, &|start, end| {
        release(map, start, end)
    })
}

/// Reads `data`, the bytes of `name` whose first line is that input's line `first_line`,
/// when they are uncompressed line-based records (always, for a `part` of a file cut at line
/// starts): decoded in chunks on the pool, accounted for in order. `done(start, end)` is told
/// when a chunk's bytes are no longer needed. `Ok(None)` means "use the streaming reader"
/// (gzip, documents, concatenated values).
#[allow(clippy::too_many_arguments)]
pub(super) fn read_lines_in(
    name: &str,
    data: &[u8],
    first_line: u64,
    part: bool,
    options: &ReadOptions,
    sink: &mut FlowSink<'_>,
    done: &(dyn Fn(usize, usize) + Sync),
) -> Result<Option<super::InputReport>> {
    if data.is_empty() || data.starts_with(&[0x1f, 0x8b]) {
        return Ok(None);
    }
    // Documents and concatenated values are split by the streaming reader; a part of a file
    // cut at line starts holds lines whatever its first ones look like.
    let framing = if part {
        framing::Framing::Lines
    } else {
        let Some(framing) = framing::line_framing(data) else {
            return Ok(None);
        };
        framing
    };
    let mut reading = Reading::new(name, false, options, sink);
    reading.report.framing = Some(framing);
    let chunk_bytes = options.chunk_bytes.max(1);
    // The tasks outlive each borrow of `reading`: they get their own handle on the name.
    let input = reading.input.clone();
    // Chunks are decoded on the pool, up to CHUNKS_IN_FLIGHT - 1 ahead of the one this thread
    // accounts for (and hands to the sink), so that neither waits for the other.
    rayon::in_place_scope(|scope| -> Result<()> {
        let mut in_flight: VecDeque<(Receiver<Vec<LinesPart>>, usize)> = VecDeque::new();
        let mut next_line = first_line.max(1);
        let mut start = 0;
        loop {
            // Until the format is known, a chunk is only started once those before it are
            // accounted for: detection needs its first line's number.
            while start < data.len()
                && in_flight.len() < CHUNKS_IN_FLIGHT
                && (reading.format.is_some() || in_flight.is_empty())
            {
                let end = whole_lines_end(data, start.saturating_add(chunk_bytes));
                let chunk = &data[start..end];
                // Detection may look past the chunk, at the lines after it.
                reading.detect_lines(&data[start..], next_line, framing)?;
                let decoder = Decoder {
                    format: reading.format,
                    needles: options.needles.as_deref(),
                    framing,
                    input: &input,
                };
                let (sent, decoded) = sync_channel(1);
                scope.spawn(move |_| {
                    let parts = decoder.decode_chunk(chunk);
                    done(start, end);
                    let _ = sent.send(parts);
                });
                in_flight.push_back((decoded, end - start));
                start = end;
            }
            let Some((decoded, len)) = in_flight.pop_front() else {
                return Ok(());
            };
            // A decoding task only fails to send when it panicked: stop, and the scope
            // re-raises that panic once the tasks still running are done.
            let Some(parts) = wait_for(&decoded) else {
                return Ok(());
            };
            next_line = reading.account_parts(parts, next_line);
            if reading.stopped {
                // Chunks still decoding finish in the scope; their results are not used.
                return Ok(());
            }
            if let Some(progress) = &options.progress {
                (progress.0)(len as u64);
            }
        }
    })?;
    Ok(Some(reading.finish()))
}

/// The decoded parts of a chunk once its task is done; `None` when the task panicked. A
/// thread of the pool itself (a library caller reading inside rayon) runs other pool work
/// while it waits, since the task may be queued behind it on that very thread.
fn wait_for(decoded: &Receiver<Vec<LinesPart>>) -> Option<Vec<LinesPart>> {
    if rayon::current_thread_index().is_none() {
        return decoded.recv().ok();
    }
    loop {
        match decoded.try_recv() {
            Ok(parts) => return Some(parts),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// Lets go of the pages of `start..end` once decoded, so that resident memory stays bounded
/// however large the file.
fn release(map: &Mmap, start: usize, end: usize) {
    // SAFETY: DONTNEED on a read-only shared file mapping only drops our page table entries;
    // the next access (a neighbouring chunk sharing a page) reads the same file contents back
    // from the page cache.
    let _ = unsafe {
        map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
    };
}
