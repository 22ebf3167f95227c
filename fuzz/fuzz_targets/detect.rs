//! Format and framing detection on arbitrary bytes: `detect_format` over the input's lines,
//! `Framing::detect`, the document splitter (arrays, list envelopes, search hits, JSONC) and
//! the splitter of concatenated values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netflow_core::ingest::detect_format;
use netflow_core::ingest::framing::{self, DocumentItem, Framing, ValueStep};

fuzz_target!(|data: &[u8]| {
    let lines: Vec<Vec<u8>> = data
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
        .collect();
    let numbered: Vec<(u64, &[u8])> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.as_slice()))
        .collect();
    match detect_format(&numbered) {
        Some(Ok(detection)) => assert!(!detection.because.is_empty()),
        Some(Err(detail)) => assert!(!detail.is_empty()),
        None => assert!(lines.iter().all(|l| l.trim_ascii().is_empty())),
    }

    let framing = Framing::detect(data, true);
    assert!(framing.is_some(), "a whole input always has a layout");
    if framing == Some(Framing::Sse) {
        for line in &lines {
            let _ = framing::sse_payload(line);
        }
    }

    // Splitting concatenated values always moves forward, and every range is in bounds.
    let mut pos = 0;
    loop {
        let (step, next) = framing::next_value(data, pos, true);
        match step {
            ValueStep::End => break,
            ValueStep::More => panic!("more asked of a whole input"),
            ValueStep::Record(range) => {
                assert!(pos <= range.start && range.end <= next && next <= data.len())
            }
            ValueStep::Items(items) => {
                for item in items {
                    match item {
                        DocumentItem::Record(range) => {
                            assert!(pos <= range.start && range.end <= next)
                        }
                        DocumentItem::Broken { at, .. } => assert!(pos <= at && at <= next),
                    }
                }
            }
            ValueStep::Broken { at, error_at, cause } => {
                assert!(pos <= at && at <= error_at && error_at <= data.len());
                assert!(!cause.is_empty());
            }
        }
        assert!(next > pos, "splitting stopped moving at {pos}");
        pos = next;
    }

    let mut doc = data.to_vec();
    let mut last_end = 0;
    for item in framing::document_items(&mut doc) {
        match item {
            DocumentItem::Record(range) => {
                assert!(range.start <= range.end && range.end <= doc.len());
                assert!(range.start >= last_end, "records overlap or go backwards");
                last_end = range.end;
            }
            DocumentItem::Broken { at, cause } => {
                assert!(at <= doc.len());
                assert!(!cause.is_empty());
            }
        }
    }
});
