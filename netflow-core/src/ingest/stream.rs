//! The streaming reader, for standard input, gzip and documents: a thread cuts the input into
//! chunks of whole lines while the chunk before is decoded; a document (a JSON array or list
//! envelope) is read whole and its records decoded in batches.

use std::io::Read;

use super::decode::{Piece, Reading};
use super::framing::{self, DocumentItem, Framing};
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
    // longer than a chunk (a minified document), as they would be for decoding anyway.
    while !eof && failure.is_none() && !has_whole_lines(&buf, 2) {
        let target = buf.len().saturating_mul(2);
        (eof, failure) = fill(&mut reader, &mut buf, target);
    }
    let head: Vec<&[u8]> = buf.split(|b| *b == b'\n').take(32).collect();
    let framing = Framing::detect(&head);
    reading.report.framing = Some(framing);
    match framing {
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
    let mut report = reading.report;
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
}
