//! The streaming reader, for standard input, gzip, documents and concatenated values: a thread
//! cuts line-based input into chunks of whole lines while the chunk before is decoded; a
//! document (a JSON array or list envelope) is read whole and its records decoded in batches;
//! concatenated JSON values (`jq .` output) are split one at a time from a buffer that slides
//! over the input, and decoded in batches.

use std::io::Read;

use super::decode::{Piece, Reading, RECORDS_TO_CHECK, RECORDS_TO_DETECT};
use super::framing::{self, DocumentItem, Framing, JsonLayout, ValueStep};
use super::lines::{has_whole_lines, line_index};
use super::{FlowSink, InputReport, ProgressTracker, ReadOptions};
use crate::error::{Error, Result};
use crate::input::InputReader;

/// Like [`super::read_input`], for an already opened reader.
pub fn read_from(
    name: &str,
    mut reader: InputReader,
    options: &ReadOptions,
    sink: &mut FlowSink<'_>,
) -> Result<InputReport> {
    let batch_lines = options.batch_lines.max(1);
    let mut progress = ProgressTracker {
        progress: options.progress.as_ref(),
        counter: reader.consumed(),
        reported: 0,
    };
    let mut reading = Reading::new(name, reader.gzip, options, sink);
    let chunk_bytes = options.chunk_bytes.max(1);
    let mut buf: Vec<u8> = Vec::with_capacity(chunk_bytes + 64 * 1024);
    let (mut eof, mut failure) = fill(&mut reader, &mut buf, chunk_bytes);
    // The framing is decided on whole lines: the first two are read to their end even when
    // longer than a chunk (a minified document), as they would be for decoding anyway; and
    // the first chunk holds the records detection looks at.
    while !eof && failure.is_none() && !has_whole_lines(&buf, 2) {
        let target = buf.len().saturating_mul(2);
        (eof, failure) = fill(&mut reader, &mut buf, target);
    }
    while !eof
        && failure.is_none()
        && framing::line_framing(&buf).is_some()
        && !has_whole_lines(&buf, RECORDS_TO_CHECK)
    {
        let target = buf.len().saturating_mul(2);
        (eof, failure) = fill(&mut reader, &mut buf, target);
    }
    let framing = match framing::line_framing(&buf) {
        Some(framing) => framing,
        None => loop {
            // JSON values that span lines: one document, or several values one after another.
            match framing::json_layout(&buf, eof || failure.is_some()) {
                JsonLayout::Known(framing) => break framing,
                // The first value is held whole whatever it turns out to be: read on to its
                // end in one go (a document is read whole anyway).
                JsonLayout::ValueGoesOn => {
                    if let Err(e) = reader.read_to_end(&mut buf) {
                        failure = Some(e);
                    }
                    eof = true;
                }
                JsonLayout::NothingAfterYet => {
                    let target = buf.len().saturating_add(chunk_bytes);
                    (eof, failure) = fill(&mut reader, &mut buf, target);
                }
            }
        },
    };
    reading.report.framing = Some(framing);
    if matches!(framing, Framing::Lines | Framing::Sse) {
        // The format is detected from the lines at hand before the input is cut into chunks,
        // so that it may look past the first chunk: a log may hold many lines before its first
        // record, and more are read while detection finds none.
        let mut want_lines = LINES_BEFORE_CHUNKING;
        loop {
            while !eof && failure.is_none() && !has_whole_lines(&buf, want_lines) {
                let target = buf.len().saturating_mul(2).max(64);
                (eof, failure) = fill(&mut reader, &mut buf, target);
            }
            let ended = eof || failure.is_some();
            let whole = memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1);
            let head = if ended { &buf[..] } else { &buf[..whole] };
            match reading.detect_lines(head, 1, framing) {
                Ok(()) => break,
                Err(_) if !ended && want_lines < RECORDS_TO_DETECT => {
                    want_lines = want_lines.saturating_mul(4).min(RECORDS_TO_DETECT);
                }
                Err(e) => return Err(e),
            }
        }
    }
    match framing {
        Framing::Concatenated => {
            let values = Values {
                buf,
                eof,
                failure: failure.take(),
                batch: batch_lines,
                chunk_bytes,
            };
            failure = values.read(&mut reader, &mut reading, &mut progress)?;
        }
        Framing::Document => {
            if failure.is_none() && !eof {
                if let Err(e) = reader.read_to_end(&mut buf) {
                    failure = Some(e);
                }
            }
            let mut doc = buf;
            let line_of = line_index(&doc);
            let items = framing::document_items(&mut doc);
            let pieces: Vec<(u64, Piece)> = items
                .into_iter()
                .map(|item| match item {
                    DocumentItem::Record(range) => {
                        (line_of(range.start), Piece::Payload(&doc[range]))
                    }
                    DocumentItem::Broken { at, cause } => (line_of(at), Piece::Broken(cause)),
                })
                .collect();
            progress.update();
            reading.detect_pieces(&pieces[..pieces.len().min(RECORDS_TO_DETECT)])?;
            for chunk in pieces.chunks(batch_lines) {
                reading.process(chunk)?;
                if reading.stopped {
                    break;
                }
            }
        }
        Framing::Lines | Framing::Sse => {
            // A reader thread cuts the input into chunks of whole lines while the chunk before
            // is decoded, so reading and decoding overlap.
            let (chunks, received) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
            let reader_ref = &mut reader;
            let start = LineChunks {
                buf,
                eof,
                failure: failure.take(),
                chunk_bytes,
            };
            failure = std::thread::scope(|scope| -> Result<Option<std::io::Error>> {
                let producer = scope.spawn(move || start.send_all(reader_ref, chunks));
                let mut next_line: u64 = 1;
                for chunk in received.iter() {
                    match reading.process_lines(&chunk, next_line, framing) {
                        Ok(_) if reading.stopped => {
                            // The reader thread ends when it finds no one listening.
                            drop(received);
                            let _ = producer.join();
                            return Ok(None);
                        }
                        Ok(next) => {
                            next_line = next;
                            progress.update();
                        }
                        Err(e) => {
                            drop(received);
                            let _ = producer.join();
                            return Err(e);
                        }
                    }
                }
                Ok(producer.join().unwrap_or_else(|_| {
                    Some(std::io::Error::other(
                        "the reading thread stopped unexpectedly",
                    ))
                }))
            })?;
        }
    }
    progress.update();
    let mut report = reading.finish();
    if let Some(source) = failure {
        report.failure = Some(if reader.gzip {
            Error::Decompress {
                input: name.to_string(),
                line: report.last_line,
                source,
            }
        } else {
            Error::Io {
                input: name.to_string(),
                source,
            }
        });
    }
    Ok(report)
}

/// How many whole lines the reader holds before it detects the format of a line-based input
/// (more when a chunk holds more).
const LINES_BEFORE_CHUNKING: usize = 16;

/// Reads until `buf` holds at least `target` bytes or the input ends. Returns whether it ended
/// and the I/O error that ended it early, if any.
fn fill(
    reader: &mut InputReader,
    buf: &mut Vec<u8>,
    target: usize,
) -> (bool, Option<std::io::Error>) {
    while buf.len() < target {
        let want = (target - buf.len()) as u64;
        match reader.by_ref().take(want).read_to_end(buf) {
            Ok(0) => return (true, None),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (true, Some(e)),
        }
    }
    (false, None)
}

/// Concatenated JSON values, split from a buffer that slides over the input: only the values
/// of one batch (and the one being read) are held.
struct Values {
    buf: Vec<u8>,
    eof: bool,
    failure: Option<std::io::Error>,
    /// Records decoded together in parallel.
    batch: usize,
    chunk_bytes: usize,
}

impl Values {
    /// Reads every value to the end of the input (or until the sink stops), in batches. Returns
    /// the I/O error that ended the input early, if any.
    fn read(
        mut self,
        reader: &mut InputReader,
        reading: &mut Reading<'_, '_>,
        progress: &mut ProgressTracker<'_>,
    ) -> Result<Option<std::io::Error>> {
        let mut lines = LineCounter { at: 0, line: 1 };
        let mut pos = 0;
        let mut first = true;
        loop {
            let whole = self.eof || self.failure.is_some();
            // The first batch is large enough for detection to pass over a log's other lines.
            let batch = if first {
                self.batch.max(RECORDS_TO_DETECT)
            } else {
                self.batch
            };
            first = false;
            let buf = &self.buf;
            let mut pieces: Vec<(u64, Piece)> = Vec::new();
            let batch_start = pos;
            let mut wants_more = false;
            let mut ended = false;
            while pieces.len() < batch && pos - batch_start < self.chunk_bytes {
                let (step, next) = framing::next_value(buf, pos, whole);
                match step {
                    ValueStep::Record(range) => {
                        pieces.push((lines.line_of(buf, range.start), Piece::Payload(&buf[range])));
                    }
                    ValueStep::Items(items) => {
                        for item in items {
                            pieces.push(match item {
                                DocumentItem::Record(range) => {
                                    (lines.line_of(buf, range.start), Piece::Payload(&buf[range]))
                                }
                                DocumentItem::Broken { at, cause } => {
                                    (lines.line_of(buf, at), Piece::Broken(cause))
                                }
                            });
                        }
                    }
                    ValueStep::Broken {
                        at,
                        error_at,
                        cause,
                    } => {
                        let error_line = lines.line_of(buf, error_at);
                        let line = lines.line_of(buf, at);
                        pieces.push((line, Piece::Broken(format!("{cause} at line {error_line}"))));
                    }
                    ValueStep::More => {
                        wants_more = true;
                        break;
                    }
                    ValueStep::End => {
                        ended = true;
                        break;
                    }
                }
                pos = next;
            }
            if !pieces.is_empty() {
                reading.process(&pieces)?;
            }
            drop(pieces);
            progress.update();
            if ended || reading.stopped {
                return Ok(self.failure);
            }
            // Keep only what was not split yet, and read on: a value longer than what is held
            // doubles what is read.
            lines.line_of(&self.buf, pos);
            lines.at = 0;
            self.buf.drain(..pos);
            pos = 0;
            if !whole {
                let target = if wants_more {
                    self.chunk_bytes.max(self.buf.len().saturating_mul(2))
                } else {
                    self.chunk_bytes
                };
                (self.eof, self.failure) = fill(reader, &mut self.buf, target);
            }
        }
    }
}

/// The 1-based line of offsets in a buffer, counted from the last offset asked about.
struct LineCounter {
    /// The offset last asked about.
    at: usize,
    /// Its line.
    line: u64,
}

impl LineCounter {
    fn line_of(&mut self, buf: &[u8], offset: usize) -> u64 {
        if offset >= self.at {
            self.line += memchr::memchr_iter(b'\n', &buf[self.at..offset]).count() as u64;
        } else {
            self.line -= memchr::memchr_iter(b'\n', &buf[offset..self.at]).count() as u64;
        }
        self.at = offset;
        self.line
    }
}

/// Cuts an input into chunks of whole lines.
struct LineChunks {
    buf: Vec<u8>,
    eof: bool,
    failure: Option<std::io::Error>,
    chunk_bytes: usize,
}

impl LineChunks {
    /// Sends chunks ending at a line end (the last may not) until the input ends or the
    /// receiver hangs up. Returns the I/O error that ended the input early, if any.
    fn send_all(
        mut self,
        reader: &mut InputReader,
        out: std::sync::mpsc::SyncSender<Vec<u8>>,
    ) -> Option<std::io::Error> {
        let mut want = self.chunk_bytes;
        loop {
            let done = self.eof || self.failure.is_some();
            let cut = if done {
                self.buf.len()
            } else {
                match memchr::memrchr(b'\n', &self.buf) {
                    Some(i) => i + 1,
                    None => {
                        // One line longer than a chunk: read on until it ends.
                        want = want.saturating_mul(2);
                        (self.eof, self.failure) = fill(reader, &mut self.buf, want);
                        continue;
                    }
                }
            };
            let mut tail = self.buf.split_off(cut);
            let chunk = std::mem::take(&mut self.buf);
            if !chunk.is_empty() && out.send(chunk).is_err() {
                return None;
            }
            if done {
                return self.failure;
            }
            tail.reserve(self.chunk_bytes);
            self.buf = tail;
            want = self.chunk_bytes;
            (self.eof, self.failure) = fill(reader, &mut self.buf, want);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Flow;
    use crate::ingest::InputReport;
    use std::io::Cursor;

    fn read_bytes(bytes: &[u8]) -> (InputReport, Vec<Flow>) {
        let reader = InputReader::from_reader(Box::new(Cursor::new(bytes.to_vec()))).unwrap();
        let mut flows = Vec::new();
        let options = ReadOptions {
            batch_lines: 2,
            chunk_bytes: 16,
            ..Default::default()
        };
        let report = read_from("mem", reader, &options, &mut |f| {
            flows.push(f);
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        (report, flows)
    }

    #[test]
    fn framing_is_decided_on_a_whole_first_line_longer_than_a_chunk() {
        // Found by the chunk-size test (tests/hostile.rs): a minified document longer than the
        // first chunk was framed from its first 16 bytes and read as one unknown record.
        let flow =
            r#"{"flow":{"verdict":"DROPPED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"}}}"#;
        let text = format!("{{\"total\":2,\"items\":[{flow},{flow}]}}");
        let (report, flows) = read_bytes(text.as_bytes());
        assert_eq!(report.framing, Some(Framing::Document));
        assert_eq!((report.records, report.skipped, flows.len()), (2, 0, 2));
        let (report, flows) = read_bytes(format!("\n  \n{flow}\n{flow}").as_bytes());
        assert_eq!(report.framing, Some(Framing::Lines));
        assert_eq!(flows.len(), 2);
    }

    #[test]
    fn truncated_gzip_keeps_what_was_read_and_reports_the_failure() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
        for i in 0..200 {
            writeln!(
                enc,
                r#"{{"flow":{{"verdict":"DROPPED","IP":{{"source":"10.0.0.{}","destination":"10.0.1.1"}}}}}}"#,
                i % 250
            )
            .unwrap();
        }
        let full = enc.finish().unwrap();
        let cut = &full[..full.len() * 2 / 3];
        let (report, flows) = read_bytes(cut);
        assert!(report.failure.is_some());
        assert!(!flows.is_empty());
        assert_eq!(report.flows as usize, flows.len());
    }

    /// A Hubble record for destination `10.0.1.{n}`, pretty-printed as `jq .` prints it.
    fn pretty(n: u32) -> String {
        let record = serde_json::json!({"flow": {
            "verdict": "DROPPED",
            "IP": {"source": "10.0.0.1", "destination": format!("10.0.1.{n}")},
            "l4": {"TCP": {"source_port": 40000, "destination_port": 9200}},
        }});
        serde_json::to_string_pretty(&record).unwrap()
    }

    fn read_with(bytes: &[u8], chunk_bytes: usize, batch_lines: usize) -> (InputReport, Vec<Flow>) {
        let reader = InputReader::from_reader(Box::new(Cursor::new(bytes.to_vec()))).unwrap();
        let mut flows = Vec::new();
        let options = ReadOptions {
            batch_lines,
            chunk_bytes,
            ..Default::default()
        };
        let report = read_from("mem", reader, &options, &mut |f| {
            flows.push(f);
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        (report, flows)
    }

    #[test]
    fn concatenated_records_read_alike_whatever_the_chunk_and_batch_sizes() {
        // Pretty records with and without a blank line between them, `}{`, then NDJSON.
        let ndjson = |n: u32| {
            serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&pretty(n)).unwrap())
                .unwrap()
        };
        let text = format!(
            "{}\n\n{}\n{}{}\n{}\n{}\n",
            pretty(1),
            pretty(2),
            pretty(3),
            pretty(4),
            ndjson(5),
            ndjson(6)
        );
        let height = pretty(1).lines().count() as u64;
        let starts = [
            1,
            height + 2,
            2 * height + 2,
            3 * height + 1,
            4 * height + 1,
            4 * height + 2,
        ];
        for chunk_bytes in [1, 16, 200, 1 << 20] {
            for batch_lines in [1, 2, 4096] {
                let (report, flows) = read_with(text.as_bytes(), chunk_bytes, batch_lines);
                let at = format!("chunk {chunk_bytes}, batch {batch_lines}");
                assert_eq!(report.framing, Some(Framing::Concatenated), "{at}");
                assert_eq!(
                    (report.records, report.skipped),
                    (6, 0),
                    "{at}: {:?}",
                    report.skips
                );
                let lines: Vec<u64> = flows.iter().map(|f| f.origin.line).collect();
                assert_eq!(lines, starts, "{at}");
                let last: Vec<String> = flows
                    .iter()
                    .map(|f| f.dst.ip.unwrap().to_string())
                    .collect();
                assert_eq!(last[5], "10.0.1.6", "{at}");
                assert_eq!(report.last_line, starts[5], "{at}");
            }
        }
    }

    #[test]
    fn a_broken_value_among_concatenated_records_is_one_skip_at_its_line() {
        let cut = &pretty(2)[..40];
        let text = format!("{}\n{cut}\n{}\n", pretty(1), pretty(3));
        let height = pretty(1).lines().count() as u64;
        for chunk_bytes in [16, 1 << 20] {
            let (report, flows) = read_with(text.as_bytes(), chunk_bytes, 2);
            assert_eq!((report.records, report.flows, report.skipped), (3, 2, 1));
            assert_eq!(report.skips[0].line, height + 1);
            assert!(
                report.skips[0].cause.starts_with("invalid JSON value"),
                "{:?}",
                report.skips
            );
            // The third record starts on the line after the cut one (wherever the cut ends:
            // serde_json's key order, and so the cut, depends on its features).
            let third = text.find(&pretty(3)).unwrap();
            let third_line = text[..third].matches('\n').count() as u64 + 1;
            assert_eq!(flows[1].origin.line, third_line);
        }
        // A first value that is not JSON does not stop detection from the records after it.
        let text = format!("{cut}\n{}\n{}\n", pretty(1), pretty(2));
        let (report, flows) = read_with(text.as_bytes(), 1 << 20, 4096);
        assert_eq!(report.framing, Some(Framing::Concatenated));
        assert_eq!((report.flows, report.skipped, flows.len()), (2, 1, 2));
        assert_eq!(report.skips[0].line, 1);
    }

    #[test]
    fn a_sink_that_breaks_stops_reading_concatenated_values() {
        let text = (1..=20).map(pretty).collect::<Vec<_>>().join("\n");
        let reader = InputReader::from_reader(Box::new(Cursor::new(text.into_bytes()))).unwrap();
        let options = ReadOptions {
            batch_lines: 2,
            chunk_bytes: 64,
            ..Default::default()
        };
        let mut seen = 0;
        let report = read_from("mem", reader, &options, &mut |_| {
            seen += 1;
            if seen == 3 {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        })
        .unwrap();
        assert_eq!(seen, 3);
        assert!(report.records < 20);
    }

    #[test]
    fn concatenated_values_are_read_as_they_are_decoded_not_whole() {
        // 4 MB of `jq .` records of one length: when each flow is handed on, no more than a
        // chunk and the reader's buffer past it have been read.
        let record = |i: u32| pretty(i % 90 + 10);
        let step = record(0).len() as u64 + 1;
        let count = 4_000_000 / step;
        let text: String = (0..count as u32).map(|i| record(i) + "\n").collect();
        let reader = InputReader::from_reader(Box::new(Cursor::new(text.into_bytes()))).unwrap();
        let consumed = reader.consumed();
        let options = ReadOptions {
            chunk_bytes: 64 * 1024,
            ..Default::default()
        };
        let mut seen = 0u64;
        let mut furthest_ahead = 0;
        let report = read_from("mem", reader, &options, &mut |_| {
            let read = consumed.load(std::sync::atomic::Ordering::Relaxed);
            furthest_ahead = furthest_ahead.max(read.saturating_sub(seen * step));
            seen += 1;
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!((report.flows, report.skipped), (count, 0));
        assert_eq!(report.framing, Some(Framing::Concatenated));
        assert!(
            furthest_ahead < 1 << 20,
            "read {furthest_ahead} bytes ahead"
        );
    }
}
