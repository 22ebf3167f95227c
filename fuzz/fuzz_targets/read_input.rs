//! The whole reader on arbitrary bytes: framing, detection, batching, decoding, pairing and
//! accounting. The first byte chooses options: bit 0 gzip-compresses the rest, bit 1 then cuts
//! the compressed stream in half, bit 2 uses batches of one line, bits 3-5 force a format (5-7:
//! detect). Whatever the input, records read = flows + events + skipped, and every flow counted
//! is delivered.
#![no_main]

use std::io::{Cursor, Write};

use libfuzzer_sys::fuzz_target;
use netflow_core::ingest::{read_from, Format, InputReader, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let bytes = if flags & 1 != 0 {
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
    let options = ReadOptions {
        format: Format::ALL.get(usize::from((flags >> 3) & 7)).copied(),
        max_skip_examples: 2,
        batch_lines: if flags & 4 != 0 { 1 } else { 3 },
    };
    let Ok(reader) = InputReader::from_reader(Box::new(Cursor::new(bytes))) else {
        return;
    };
    let mut delivered = 0u64;
    let Ok(report) = read_from("fuzz", reader, &options, &mut |_flow| delivered += 1) else {
        return;
    };
    assert_eq!(
        report.records,
        report.flows + report.event_count() + report.skipped,
        "every record is a flow, an event or a skip: {report:?}"
    );
    assert_eq!(delivered, report.flows, "every flow counted is delivered");
    assert!(report.skips.len() as u64 <= report.skipped);
    assert!(report.skips.len() <= options.max_skip_examples);
    assert!(report.duplicates <= report.flows);
});
