//! Decoding in parallel and accounting in order: a chunk of lines (or a batch of document
//! records) is decoded on the pool, then every record is accounted for in input order — a flow
//! handed to the sink (a repeated report of one packet counting 0 attempts), an event, a loss,
//! a skip.

use std::sync::Arc;

use rayon::prelude::*;

use super::detect::detect_format;
use super::framing::Framing;
use super::joining::{Joiner, Outcome};
use super::lines::{line_payload, lines, split_lines, LineEnds};
use super::pairing::PacketPairer;
use super::record::{PacketReport, Part, Record};
use super::report::{InputReport, Skip};
use super::{
    decode_block, decode_record, may_report_losses, records_span_lines, FlowSink, ReadOptions,
};
use crate::error::{Error, Result};
use crate::flow::Origin;
use crate::format::Format;
use crate::needles::Needles;

/// What one line or document item holds.
pub(super) enum Piece<'a> {
    /// A record's bytes.
    Payload(&'a [u8]),
    /// The document could not be read from here on.
    Broken(String),
}

/// The state of reading one input.
pub(super) struct Reading<'o, 's> {
    pub(super) input: Arc<str>,
    pub(super) report: InputReport,
    pub(super) format: Option<Format>,
    options: &'o ReadOptions,
    pairer: PacketPairer,
    joiner: Joiner,
    sink: &'s mut FlowSink<'s>,
    /// The sink asked to stop: nothing more is read or handed on.
    pub(super) stopped: bool,
    /// Whether the format is settled: detected, or chosen by the caller and checked against
    /// the first records.
    settled: bool,
    /// The lines of a record that spans lines, joined so far, and the line it opens on.
    block: Option<(u64, Vec<u8>)>,
}

/// How many records detection, and the check of a format the caller chose, look at (the
/// readers give detection at least this many lines, however small their chunks: a log may
/// open with records that decide nothing, a program's startup messages).
pub(super) const RECORDS_TO_CHECK: usize = 16;

/// The most bytes a record that spans lines may hold: past it, the record is a skip (a
/// `calico-node -flows` record is a few hundred bytes).
const MAX_BLOCK_BYTES: usize = 1 << 20;

/// How many records detection may look at: it decides on the first record a format claims,
/// passing over the lines a log holds besides its records (an agent's start-up and controller
/// lines, which may be many before the first flow).
pub(super) const RECORDS_TO_DETECT: usize = 4096;

impl<'o, 's> Reading<'o, 's> {
    pub(super) fn new(
        name: &str,
        gzip: bool,
        options: &'o ReadOptions,
        sink: &'s mut FlowSink<'s>,
    ) -> Reading<'o, 's> {
        let mut report = InputReport {
            input: name.to_string(),
            gzip,
            ..Default::default()
        };
        if let Some(f) = options.format {
            report.format = Some(f);
            report.detected_because = "chosen by the caller".to_string();
        }
        Reading {
            input: Arc::from(name),
            report,
            format: options.format,
            options,
            pairer: PacketPairer::default(),
            joiner: Joiner::default(),
            sink,
            stopped: false,
            settled: false,
            block: None,
        }
    }

    /// Joins a line of a record that spans lines to the record it belongs to, accounting for
    /// the record before when this line opens a new one.
    fn join_line(&mut self, opens: bool, text: &[u8], line: u64) {
        if opens {
            self.flush_block();
            self.block = Some((line, text.to_vec()));
            return;
        }
        match &mut self.block {
            Some((_, block)) if block.len() + text.len() < MAX_BLOCK_BYTES => {
                block.push(b'\n');
                block.extend_from_slice(text);
            }
            Some((start, _)) => {
                let start = *start;
                self.block = None;
                self.account(
                    Record::Skip(format!(
                        "a record longer than {MAX_BLOCK_BYTES} bytes (from line {start} to line {line})"
                    )),
                    start,
                );
            }
            None => self.account(
                Record::Skip("a line of a record before any record opens".to_string()),
                line,
            ),
        }
    }

    /// Decodes and accounts for the record joined so far, if any.
    fn flush_block(&mut self) {
        if let (Some((line, block)), Some(format)) = (self.block.take(), self.format) {
            let origin = Origin {
                input: self.input.clone(),
                line,
            };
            let record = decode_block(format, &block, origin);
            self.account(record, line);
        }
    }

    /// Detects the format from the first lines if needed, then decodes a chunk of whole lines
    /// in parallel (lines the pre-filter rules out are counted, not decoded) and accounts for
    /// them in order. Returns the number of the line after the chunk.
    pub(super) fn process_lines(
        &mut self,
        chunk: &[u8],
        first_line: u64,
        framing: Framing,
    ) -> Result<u64> {
        self.detect_lines(chunk, first_line, framing)?;
        let parts = self.decoder(framing).decode_chunk(chunk);
        Ok(self.account_parts(parts, first_line))
    }

    /// How this input's lines are decoded, as far as it is known now.
    fn decoder(&self, framing: Framing) -> Decoder<'_> {
        Decoder {
            format: self.format,
            needles: self.options.needles.as_deref(),
            framing,
            input: &self.input,
        }
    }

    /// Detects the format from the first lines of `chunk` while it is still unknown (or checks
    /// the one the caller chose).
    pub(super) fn detect_lines(
        &mut self,
        chunk: &[u8],
        first_line: u64,
        framing: Framing,
    ) -> Result<()> {
        if self.settled {
            return Ok(());
        }
        let head: Vec<(u64, Piece)> = lines(chunk)
            .enumerate()
            .filter_map(|(i, l)| {
                line_payload(l, framing).map(|p| (first_line + i as u64, Piece::Payload(p)))
            })
            .take(RECORDS_TO_DETECT)
            .collect();
        if head.is_empty() {
            return Ok(());
        }
        self.detect(&head)
    }

    /// Detects the format from the first pieces of a document or of concatenated values while
    /// it is still unknown (or checks the one the caller chose).
    pub(super) fn detect_pieces(&mut self, pieces: &[(u64, Piece)]) -> Result<()> {
        self.detect(pieces)
    }

    /// Accounts for decoded parts in order, the first starting at `first_line`. Returns the
    /// number of the line after them.
    pub(super) fn account_parts(&mut self, parts: Vec<LinesPart>, first_line: u64) -> u64 {
        let mut base = first_line;
        for part in parts {
            self.report.records += part.prefiltered;
            self.report.prefiltered += part.prefiltered;
            for (offset, mut record) in part.records {
                let line = base + offset;
                match &mut record {
                    Record::Flow(flow, _)
                    | Record::Emitted(flow, _, _)
                    | Record::Part(Part::Evaluation { flow, .. }) => flow.origin.line = line,
                    _ => {}
                }
                if !self.stopped {
                    self.account(record, line);
                }
            }
            base += part.lines;
        }
        self.report.last_line = base.saturating_sub(1);
        base
    }

    /// Detects the format from the first pieces (an error when they match none), or checks the
    /// format the caller chose against them.
    fn detect(&mut self, pieces: &[(u64, Piece)]) -> Result<()> {
        if self.settled {
            return Ok(());
        }
        let payloads: Vec<(u64, &[u8])> = pieces
            .iter()
            .filter_map(|(line, p)| match p {
                Piece::Payload(bytes) => Some((*line, *bytes)),
                _ => None,
            })
            .take(RECORDS_TO_DETECT)
            .collect();
        if let Some(chosen) = self.format {
            if !payloads.is_empty() {
                self.settled = true;
                self.check_chosen(chosen, &payloads[..payloads.len().min(RECORDS_TO_CHECK)])?;
            }
            return Ok(());
        }
        if payloads.is_empty() {
            if let Some((line, Piece::Broken(cause))) = pieces.first() {
                return Err(Error::UnknownFormat {
                    input: self.report.input.clone(),
                    detail: format!("line {line}: {cause}"),
                });
            }
        }
        match detect_format(&payloads) {
            Some(Ok(detection)) => {
                self.settled = true;
                self.format = Some(detection.format);
                self.report.format = Some(detection.format);
                self.report.detected_because = detection.because;
                Ok(())
            }
            Some(Err(detail)) => Err(Error::UnknownFormat {
                input: self.report.input.clone(),
                detail,
            }),
            None => Ok(()),
        }
    }

    /// A format the caller chose must read the input, never turn it into a run of skips or
    /// of flows made up from another format's fields. It is an error, saying what the content
    /// looks like, when detection takes the first records for another format, or when none of
    /// them reads as the chosen one and detection does not take them for it either. Records
    /// detection recognises as no format are read as the caller says when some of them decode
    /// (an exporter's field mask can hide what detection looks for); bad records of the chosen
    /// format are skips as usual.
    fn check_chosen(&self, chosen: Format, payloads: &[(u64, &[u8])]) -> Result<()> {
        let mut first_skip = None;
        let mut decoded = false;
        for &(line, bytes) in payloads {
            let origin = Origin {
                input: self.input.clone(),
                line,
            };
            match decode_record(chosen, bytes, origin) {
                Record::Skip(cause) => {
                    first_skip.get_or_insert((line, cause));
                }
                Record::Blank => {}
                _ => decoded = true,
            }
        }
        let looks = match detect_format(payloads) {
            None => return Ok(()),
            Some(Ok(detection)) if detection.format == chosen => return Ok(()),
            Some(Ok(detection)) => format!(
                "the content looks like {} ({})",
                detection.format, detection.because
            ),
            Some(Err(_)) if decoded => return Ok(()),
            Some(Err(detail)) => format!("no format recognises the content: {detail}"),
        };
        let detail = match first_skip {
            Some((line, cause)) if !decoded => {
                let records = match payloads.len() {
                    1 => format!("its first record is not a {chosen} record"),
                    n => format!("none of its first {n} records is a {chosen} record"),
                };
                format!("{records} (line {line}: {cause}); {looks}")
            }
            _ => looks,
        };
        Err(Error::NotTheFormat {
            input: self.report.input.clone(),
            format: chosen,
            detail,
        })
    }

    /// Detects the format if still unknown, decodes the pieces in parallel and accounts for
    /// them in order.
    pub(super) fn process(&mut self, pieces: &[(u64, Piece)]) -> Result<()> {
        if let Some(&(last, _)) = pieces.last() {
            self.report.last_line = last;
        }
        self.detect(pieces)?;
        let format = self.format;
        let input = &self.input;
        let decoded: Vec<Record> = pieces
            .par_iter()
            .map(|(line, piece)| match (piece, format) {
                (Piece::Payload(bytes), Some(fmt)) => decode_record(
                    fmt,
                    bytes,
                    Origin {
                        input: input.clone(),
                        line: *line,
                    },
                ),
                (Piece::Payload(_), None) => Record::Skip("no format could be detected".into()),
                (Piece::Broken(cause), _) => Record::Skip(cause.clone()),
            })
            .collect();
        for ((line, _), record) in pieces.iter().zip(decoded) {
            if self.stopped {
                break;
            }
            self.account(record, *line);
        }
        Ok(())
    }
}

/// What decoding the lines of one input needs, fixed once its format is known (and shared by
/// the pool's threads).
#[derive(Clone, Copy)]
pub(super) struct Decoder<'a> {
    pub(super) format: Option<Format>,
    pub(super) needles: Option<&'a Needles>,
    pub(super) framing: Framing,
    pub(super) input: &'a Arc<str>,
}

impl Decoder<'_> {
    /// Decodes a chunk of whole lines in parallel, in parts spread over the pool's threads.
    pub(super) fn decode_chunk(self, chunk: &[u8]) -> Vec<LinesPart> {
        split_lines(chunk, rayon::current_num_threads() * 4)
            .par_iter()
            .map(|part| self.decode_part(part))
            .collect()
    }

    /// Decodes the whole lines of one part (lines the pre-filter rules out are counted, not
    /// decoded); record offsets are 0-based within the part.
    fn decode_part(self, part: &[u8]) -> LinesPart {
        let Decoder {
            format,
            needles,
            framing,
            input,
        } = self;
        let mut out = LinesPart {
            lines: 0,
            records: Vec::new(),
            prefiltered: 0,
        };
        // Where the needles hit, found over the whole part at once (only once the format is
        // known, so that detection always sees real records); line ends and backslashes are found
        // in one more pass below.
        let mut hits = needles.filter(|_| format.is_some()).map(|p| p.hits(part));
        let mut next_start = 0;
        for (end, has_backslash) in LineEnds::new(part) {
            let start = std::mem::replace(&mut next_start, end + 1);
            let line = &part[start..end];
            let index = out.lines;
            out.lines += 1;
            let Some(payload) = line_payload(line, framing) else {
                continue;
            };
            let Some(fmt) = format else {
                out.records
                    .push((index, Record::Skip("no format could be detected".into())));
                continue;
            };
            if let Some(h) = hits.as_mut().filter(|_| !records_span_lines(fmt)) {
                if !has_backslash && !h.within(start, end) && !may_report_losses(fmt, payload) {
                    out.prefiltered += 1;
                    continue;
                }
            }
            let origin = Origin {
                input: input.clone(),
                line: 0,
            };
            out.records
                .push((index, decode_record(fmt, payload, origin)));
        }
        out
    }
}

/// What one worker made of its share of a chunk of lines.
pub(super) struct LinesPart {
    /// Lines in the share.
    lines: u64,
    /// Decoded records with their line offset in the share (0-based).
    records: Vec<(u64, Record)>,
    /// Lines the pre-filter ruled out without decoding.
    prefiltered: u64,
}

impl Reading<'_, '_> {
    /// Accounts for one record at `line`: a flow that repeats a packet an earlier flow
    /// reported counts 0 attempts, and every flow is handed to the sink (which may ask to
    /// stop); anything else is counted.
    fn account(&mut self, record: Record, line: u64) {
        if let Record::Line { opens, text } = record {
            self.join_line(opens, &text, line);
            return;
        }
        let report = &mut self.report;
        match record {
            Record::Blank | Record::Line { .. } => return,
            Record::Flow(flow, packet_report) => self.account_flow(flow, packet_report),
            Record::Emitted(flow, packet_report, emitter) => {
                match report.emitters.get_mut(emitter.as_str()) {
                    Some(n) => *n += 1,
                    None => {
                        report.emitters.insert(emitter, 1);
                    }
                }
                self.account_flow(flow, packet_report);
            }
            Record::Part(part) => {
                let mut joined = Vec::new();
                self.joiner.join(part, line, &mut joined);
                self.account_joined(joined);
                return;
            }
            Record::Event { kind } => *report.events.entry(kind).or_default() += 1,
            Record::Lost { count, source } => {
                *report.events.entry("lost_events").or_default() += 1;
                // A source may claim any 64-bit count; saturate rather than overflow.
                let lost = report.lost_by_source.entry(source).or_default();
                *lost = lost.saturating_add(count);
            }
            Record::Skip(cause) => self.account_skip(line, cause),
        }
        self.report.records += 1;
    }

    /// Accounts for a flow (not its record): a flow that repeats a packet an earlier flow
    /// reported counts 0 attempts; every flow is handed to the sink, which may ask to stop.
    fn account_flow(&mut self, mut flow: Box<crate::flow::Flow>, packet_report: PacketReport) {
        let report = &mut self.report;
        if self.pairer.is_repeat(&flow, packet_report) {
            flow.duplicate = true;
            flow.count = 0;
            report.duplicates += 1;
        }
        report.flows += 1;
        report.note_time(flow.time);
        if (self.sink)(*flow).is_break() {
            self.stopped = true;
        }
    }

    fn account_skip(&mut self, line: u64, cause: String) {
        let report = &mut self.report;
        report.skipped += 1;
        if report.skips.len() < self.options.max_skip_examples {
            report.skips.push(Skip { line, cause });
        }
    }

    /// Accounts for what joining the parts of packets gave: each is one record.
    fn account_joined(&mut self, joined: Vec<Outcome>) {
        for j in joined {
            if self.stopped {
                return;
            }
            match j {
                Outcome::Flow { flow, incomplete } => {
                    if incomplete {
                        self.report.incomplete += 1;
                    }
                    self.account_flow(flow, PacketReport::Single);
                }
                Outcome::Folded(kind) => *self.report.events.entry(kind).or_default() += 1,
                Outcome::Orphan => {
                    self.report.orphans += 1;
                    *self
                        .report
                        .events
                        .entry("verdict_without_evaluation")
                        .or_default() += 1;
                }
                Outcome::Skip { line, cause } => self.account_skip(line, cause),
            }
            self.report.records += 1;
        }
    }

    /// Ends the input: the last record of a format whose records span lines and the parts
    /// still waiting for the rest of their packet are accounted for (unless the sink asked to
    /// stop), and the report is complete.
    pub(super) fn finish(mut self) -> InputReport {
        if !self.stopped {
            self.flush_block();
            let mut joined = Vec::new();
            self.joiner.finish(&mut joined);
            self.account_joined(joined);
        }
        self.report
    }
}
