//! Format and framing detection on arbitrary bytes: `detect_format` over the input's lines,
//! `Framing::detect`, and the document splitter (arrays, list envelopes, search hits, JSONC).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netflow_core::ingest::detect_format;
use netflow_core::ingest::framing::{self, DocumentItem, Framing};

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
        Some(Err(detail)) => assert!(detail.contains("--format"), "{detail}"),
        None => assert!(lines.iter().all(|l| l.trim_ascii().is_empty())),
    }

    if Framing::detect(&lines) == Framing::Sse {
        for line in &lines {
            let _ = framing::sse_payload(line);
        }
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
