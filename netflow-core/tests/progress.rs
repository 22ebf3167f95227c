//! The progress callback is told every input byte exactly once, however the input is read.

use std::io::Write;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use netflow_core::ingest::Progress;
use netflow_core::{read_input, ReadOptions};

const LINE: &str = r#"{"flow":{"time":"2026-11-20T19:05:02Z","verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":1,"destination_port":80}}}}"#;

fn progress_total(path: &std::path::Path, chunk_bytes: usize) -> (u64, u64) {
    let seen = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&seen);
    let options = ReadOptions {
        chunk_bytes,
        progress: Some(Progress(Arc::new(move |n| {
            counter.fetch_add(n, Ordering::Relaxed);
        }))),
        ..ReadOptions::default()
    };
    let mut flows = 0u64;
    let report = read_input(&path.to_string_lossy(), &options, &mut |_| {
        flows += 1;
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(report.flows, flows);
    (seen.load(Ordering::Relaxed), flows)
}

#[test]
fn plain_gzip_and_document_inputs_report_their_stored_size() {
    let dir = tempfile::tempdir().unwrap();
    let lines: String = (0..2000).map(|_| format!("{LINE}\n")).collect();

    let plain = dir.path().join("flows.ndjson");
    std::fs::write(&plain, &lines).unwrap();
    assert_eq!(progress_total(&plain, 4096), (lines.len() as u64, 2000));

    let gz = dir.path().join("flows.ndjson.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(lines.as_bytes()).unwrap();
    let compressed = encoder.finish().unwrap();
    std::fs::write(&gz, &compressed).unwrap();
    assert_eq!(progress_total(&gz, 4096), (compressed.len() as u64, 2000));

    let array = dir.path().join("flows.json");
    let doc = format!("[\n{}\n]\n", vec![LINE; 50].join(",\n"));
    std::fs::write(&array, &doc).unwrap();
    assert_eq!(progress_total(&array, 4096), (doc.len() as u64, 50));
}
