//! Hostile bytes through the library's reader: every fixture of every format, cut short at
//! several points, with CRLF line ends, gzip-compressed whole or cut, plus binary, nesting and
//! encoding damage; read as each format and with detection, in tiny and default chunks. Whatever
//! the input, nothing panics, every record is accounted for (records = flows + events + skipped)
//! and every flow counted is delivered. The invariant the `read_input` fuzz target checks, on a
//! fixed set of inputs so that `cargo test` keeps it.

use std::io::{Cursor, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;

use netflow_core::ingest::{read_from, ReadOptions};
use netflow_core::input::InputReader;
use netflow_core::{Error, Format};

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/flows");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).expect("testdata/flows") {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "md") {
                continue;
            }
            let name = file.strip_prefix(&root).unwrap().display().to_string();
            out.push((name, std::fs::read(&file).unwrap()));
        }
    }
    out.sort();
    assert!(out.len() >= 5, "fixtures found: {}", out.len());
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The fixtures and damaged variants of them, and inputs that are hostile on their own.
fn hostile_inputs() -> Vec<(String, Vec<u8>)> {
    let mut inputs = Vec::new();
    for (name, bytes) in fixtures() {
        for (cut, at) in [("third", bytes.len() / 3), ("half", bytes.len() / 2)] {
            inputs.push((format!("{name} cut at {cut}"), bytes[..at].to_vec()));
        }
        let crlf: Vec<u8> = bytes
            .iter()
            .flat_map(|&b| {
                if b == b'\n' {
                    vec![b'\r', b'\n']
                } else {
                    vec![b]
                }
            })
            .collect();
        inputs.push((format!("{name} with CRLF"), crlf));
        let mut nul = bytes.clone();
        nul.iter_mut().step_by(97).for_each(|b| *b = 0);
        inputs.push((format!("{name} with NULs"), nul));
        let gz = gzip(&bytes);
        inputs.push((format!("{name} gzip cut"), gz[..gz.len() / 2].to_vec()));
        inputs.push((format!("{name} gzip"), gz));
        inputs.push((name, bytes));
    }
    let flow =
        br#"{"flow":{"verdict":"DROPPED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"}}}"#;
    let deep = 20_000;
    let mut long_line = flow.to_vec();
    long_line.push(b'\n');
    long_line.extend(std::iter::repeat_n(b'x', 1 << 20));
    long_line.push(b'\n');
    long_line.extend_from_slice(flow);
    for (name, bytes) in [
        ("empty", Vec::new()),
        ("blank lines", b"\n\r\n  \n".to_vec()),
        ("png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec()),
        ("gzip magic only", b"\x1f\x8b".to_vec()),
        ("one megabyte line", long_line),
        ("open brackets", "[".repeat(deep).into_bytes()),
        (
            "balanced brackets",
            format!("{}{}", "[".repeat(deep), "]".repeat(deep)).into_bytes(),
        ),
        (
            "nested objects after a flow",
            [
                flow.as_slice(),
                b"\n",
                r#"{"a":"#.repeat(deep).as_bytes(),
                b"1",
                "}".repeat(deep).as_bytes(),
            ]
            .concat(),
        ),
        (
            "invalid UTF-8",
            [
                flow.as_slice(),
                b"\n{\"flow\":{\"verdict\":\"\xff\xfe\"}}\n",
                flow,
            ]
            .concat(),
        ),
        (
            "SSE without data",
            b"event: flow\nid: 1\n\n: comment\n".to_vec(),
        ),
        (
            "truncated array",
            b"[{\"flow\":{\"verdict\":\"DROPPED\"}},{\"flow\":".to_vec(),
        ),
        ("array of scalars", b"[1, \"two\", null, [3]]".to_vec()),
        (
            "list envelope cut",
            b"{\"items\":[{\"a\":1},{\"b\"".to_vec(),
        ),
    ] {
        inputs.push((name.to_string(), bytes));
    }
    inputs
}

#[test]
fn every_record_is_accounted_for_whatever_the_input_format_or_chunking() {
    let formats: Vec<Option<Format>> = std::iter::once(None)
        .chain(Format::ALL.iter().copied().map(Some))
        .collect();
    let mut runs = 0;
    for (name, bytes) in hostile_inputs() {
        for format in &formats {
            for chunk_bytes in [7, ReadOptions::default().chunk_bytes] {
                let options = ReadOptions {
                    format: *format,
                    max_skip_examples: 3,
                    batch_lines: if chunk_bytes == 7 { 1 } else { 4096 },
                    chunk_bytes,
                    ..ReadOptions::default()
                };
                let reader = InputReader::from_reader(Box::new(Cursor::new(bytes.clone())))
                    .expect("an in-memory reader opens");
                let mut delivered = 0u64;
                let report = match read_from(&name, reader, &options, &mut |_| {
                    delivered += 1;
                    ControlFlow::Continue(())
                }) {
                    Ok(report) => report,
                    // Unrecognised content is an error before any record is read; so is
                    // content none of whose first records is of the format chosen.
                    Err(e) => {
                        assert_eq!(delivered, 0, "{name} as {format:?}: {e}");
                        match (format, &e) {
                            (None, Error::UnknownFormat { .. }) => {}
                            (Some(chosen), Error::NotTheFormat { format, .. }) => {
                                assert_eq!(chosen, format, "{name}: {e}")
                            }
                            _ => panic!("{name} as {format:?}: only detection may fail: {e}"),
                        }
                        continue;
                    }
                };
                let context = format!("{name} as {format:?}, chunks of {chunk_bytes}");
                assert_eq!(
                    report.records,
                    report.flows + report.event_count() + report.skipped,
                    "{context}: {report:?}"
                );
                assert_eq!(delivered, report.flows, "{context}");
                assert!(report.skips.len() as u64 <= report.skipped, "{context}");
                assert!(report.skips.len() <= 3, "{context}");
                assert!(report.duplicates <= report.flows, "{context}");
                runs += 1;
            }
        }
    }
    assert!(runs > 100, "only {runs} runs read anything");
}

#[test]
fn chunk_size_never_changes_what_is_read() {
    for (name, bytes) in fixtures() {
        let read = |chunk_bytes: usize| {
            let options = ReadOptions {
                chunk_bytes,
                batch_lines: 2,
                ..ReadOptions::default()
            };
            let reader = InputReader::from_reader(Box::new(Cursor::new(bytes.clone()))).unwrap();
            let mut flows = Vec::new();
            let report = read_from(&name, reader, &options, &mut |f| {
                flows.push(f);
                ControlFlow::Continue(())
            })
            .unwrap();
            (report.records, report.skipped, report.skips, flows)
        };
        let whole = read(ReadOptions::default().chunk_bytes);
        for chunk_bytes in [1, 7, 100, 4096] {
            assert_eq!(
                read(chunk_bytes),
                whole,
                "{name} in chunks of {chunk_bytes}"
            );
        }
    }
}

#[test]
fn chunk_size_never_changes_what_a_mapped_file_gives() {
    // Files are read through a memory map, decoded several chunks ahead of the one accounted
    // for: line numbers, skips and flows must not depend on where the chunks fall.
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in fixtures() {
        let path = dir.path().join(name.replace('/', "_"));
        std::fs::write(&path, &bytes).unwrap();
        let path = path.to_str().unwrap().to_string();
        let read = |chunk_bytes: usize| {
            let options = ReadOptions {
                chunk_bytes,
                ..ReadOptions::default()
            };
            let mut flows = Vec::new();
            let report = netflow_core::read_input(&path, &options, &mut |f| {
                flows.push((f.origin.line, f));
                ControlFlow::Continue(())
            });
            report.map(|r| (r.records, r.skipped, r.skips, r.last_line, flows))
        };
        let whole = read(ReadOptions::default().chunk_bytes);
        for chunk_bytes in [1, 7, 100, 4096] {
            let chunked = read(chunk_bytes);
            match (&chunked, &whole) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{name} in chunks of {chunk_bytes}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{name}"),
                _ => panic!("{name} in chunks of {chunk_bytes}: {chunked:?} vs {whole:?}"),
            }
        }
    }
}

#[test]
fn a_mapped_file_read_from_inside_a_one_thread_pool_does_not_wait_forever() {
    // The mapped reader queues chunk decoding on the rayon pool and waits for each result;
    // called from the pool's only thread, it used to wait for tasks queued behind itself.
    let dir = tempfile::tempdir().unwrap();
    let (name, bytes) = fixtures()
        .into_iter()
        .find(|(name, _)| name.starts_with("hubble"))
        .expect("a Hubble fixture");
    let path = dir.path().join("flows.json");
    std::fs::write(&path, &bytes).unwrap();
    let path = path.to_str().unwrap().to_string();
    let read = || {
        let options = ReadOptions {
            chunk_bytes: 256,
            ..ReadOptions::default()
        };
        let mut flows = 0u64;
        let report = netflow_core::read_input(&path, &options, &mut |_| {
            flows += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        (report.records, flows)
    };
    let outside = read();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    assert_eq!(pool.install(read), outside, "{name}");
    assert!(outside.1 > 0, "{name} has flows");
}
