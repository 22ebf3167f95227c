//! The whole reader on arbitrary bytes: framing, detection, chunking, decoding, pairing and
//! accounting. The first byte chooses options: bit 0 gzip-compresses the rest, bit 1 then cuts
//! the compressed stream in half, bit 2 uses tiny chunks and batches (so records straddle
//! them), bits 3-5 force a format (values past the last format: detect), bit 6 also reads the bytes from a file (the
//! memory-mapped reader).
//!
//! Whatever the input: records read = flows + events + skipped, every flow counted is
//! delivered, and (for input framed and detected alike) neither the chunk size nor the reader
//! (streaming or memory-mapped) changes what is read. Framing and detection look at the first chunk's lines, so a tiny chunk may
//! see fewer of them and decide differently; that is a heuristic, not a reading bug.
#![no_main]

use std::io::{Cursor, Write};

use libfuzzer_sys::fuzz_target;
use std::ops::ControlFlow;

use netflow_core::ingest::{read_from, read_input, InputReport, ReadOptions};
use netflow_core::input::InputReader;
use netflow_core::Format;

/// Reads `bytes`; `None` when the input is refused before any record (unknown format).
fn read(bytes: &[u8], options: &ReadOptions) -> Option<(InputReport, Vec<u64>)> {
    let reader = InputReader::from_reader(Box::new(Cursor::new(bytes.to_vec()))).ok()?;
    let mut lines = Vec::new();
    let report = read_from("fuzz", reader, options, &mut |flow| {
        lines.push(flow.origin.line);
        ControlFlow::Continue(())
    })
    .ok()?;
    Some((report, lines))
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let gzip = flags & 1 != 0;
    let bytes = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(rest).unwrap();
        let gz = enc.finish().unwrap();
        if flags & 2 != 0 {
            gz[..gz.len() / 2].to_vec()
        } else {
            gz
        }
    } else {
        rest.to_vec()
    };
    let tiny = flags & 4 != 0;
    let options = ReadOptions {
        format: Format::ALL.get(usize::from((flags >> 3) & 7)).copied(),
        max_skip_examples: 2,
        batch_lines: if tiny { 1 } else { 3 },
        chunk_bytes: if tiny { 7 } else { 512 },
        ..ReadOptions::default()
    };
    let Some((report, lines)) = read(&bytes, &options) else {
        return;
    };
    assert_eq!(
        report.records,
        report.flows + report.event_count() + report.skipped,
        "every record is a flow, an event or a skip: {report:?}"
    );
    assert_eq!(
        lines.len() as u64,
        report.flows,
        "every flow counted is delivered"
    );
    assert!(report.skips.len() as u64 <= report.skipped);
    assert!(report.skips.len() <= options.max_skip_examples);
    assert!(report.duplicates <= report.flows);

    if flags & 0x40 != 0 {
        let path = std::env::temp_dir().join(format!("flowq-fuzz-{}.input", std::process::id()));
        std::fs::write(&path, &bytes).expect("write the input file");
        let mut file_lines = Vec::new();
        let from_file = read_input(path.to_str().unwrap(), &options, &mut |flow| {
            file_lines.push(flow.origin.line);
            ControlFlow::Continue(())
        });
        if let Ok(file) = from_file {
            if (file.framing, file.format) == (report.framing, report.format) {
                assert_eq!(
                    (file.records, file.skipped, &file.skips, &file_lines),
                    (report.records, report.skipped, &report.skips, &lines),
                    "reading from a file changed what was read"
                );
            }
        }
    }

    if !gzip {
        let whole = ReadOptions {
            format: options.format,
            max_skip_examples: 2,
            ..ReadOptions::default()
        };
        let Some((again, again_lines)) = read(&bytes, &whole) else {
            return;
        };
        if (again.framing, again.format) != (report.framing, report.format) {
            return;
        }
        assert_eq!(
            (report.records, report.skipped, &report.skips, &lines),
            (again.records, again.skipped, &again.skips, &again_lines),
            "the chunk size changed what was read"
        );
    }
});
