//! Reading flow logs: the closed registry of input [`Format`]s, detection, and the streaming
//! reader that turns an input into [`Flow`]s while accounting for every record.
//!
//! Records are read in batches of lines, decoded in parallel (rayon) and handed to the caller
//! in input order, so memory stays bounded by the batch and output is deterministic. Every
//! non-blank line is accounted for in the [`InputReport`]: a flow, a non-flow event, or a skip
//! with its line and cause. Nothing here prints.

pub mod calico;
mod cloud_logging;
mod detect;
pub mod framing;
pub mod gke_policy;
pub mod gke_vpc;
pub mod goldmane;
pub mod hubble;
mod input;
mod mapped;
mod value;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::flow::{Flow, Origin};

pub use detect::{detect_format, Detection};
use framing::{DocumentItem, Framing};
pub use input::InputReader;

/// The input formats flowq reads. Adding one is a module, a variant and a match arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Cilium Hubble flows: `hubble observe -o json|jsonpb`, exporter files, bare legacy flows.
    Hubble,
    /// Calico Enterprise / Calico Cloud flow logs (Felix `flows.log`, Linseed, Elasticsearch).
    Calico,
    /// Calico Open Source 3.30+ Goldmane / Whisker flows (protojson, emitter NDJSON, REST, SSE).
    Goldmane,
    /// Google Cloud VPC Flow Logs with GKE metadata (sampled observations, no verdict).
    GkeVpc,
    /// GKE Dataplane V2 network policy logs (`policy-action`).
    GkePolicyAction,
}

impl Format {
    /// Every supported format, in the order detection tries them.
    pub const ALL: &'static [Format] = &[
        Format::Hubble,
        Format::Calico,
        Format::Goldmane,
        Format::GkeVpc,
        Format::GkePolicyAction,
    ];

    /// The name used on the command line (`--format hubble`) and in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Format::Hubble => "hubble",
            Format::Calico => "calico",
            Format::Goldmane => "goldmane",
            Format::GkeVpc => "gke-vpc",
            Format::GkePolicyAction => "gke-policy-action",
        }
    }

    /// One line saying what the format is and where it comes from.
    pub fn description(self) -> &'static str {
        match self {
            Format::Hubble => {
                "Cilium Hubble flows: `hubble observe -o json/jsonpb` lines, exporter files \
                 (events.log), bare legacy-JSON flows"
            }
            Format::Calico => {
                "Calico Enterprise/Cloud flow logs: Felix flows.log lines, Linseed lists, \
                 Elasticsearch hits (aggregated)"
            }
            Format::Goldmane => {
                "Calico OSS Goldmane/Whisker flows: gRPC protojson, emitter NDJSON, Whisker \
                 REST lists and SSE streams (aggregated, no IPs)"
            }
            Format::GkeVpc => {
                "Google Cloud VPC Flow Logs with GKE metadata: LogEntry NDJSON or gcloud JSON \
                 arrays (sampled, no verdict)"
            }
            Format::GkePolicyAction => {
                "GKE Dataplane V2 network policy logs (policy-action): node files or Cloud \
                 Logging entries"
            }
        }
    }

    /// Looks a format up by its command-line name.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL
            .iter()
            .copied()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// Whether a line the pre-filter rules out must be decoded all the same, because it may
    /// say the source lost events (the reader must see those to say the log is incomplete).
    fn may_report_losses(self, line: &[u8]) -> bool {
        match self {
            Format::Hubble => hubble::may_report_losses(line),
            _ => false,
        }
    }

    fn decode(self, line: &[u8], origin: Origin) -> Record {
        match self {
            Format::Hubble => hubble::decode_line(line, origin),
            Format::Calico => calico::decode(line, origin),
            Format::Goldmane => goldmane::decode(line, origin),
            Format::GkeVpc => gke_vpc::decode(line, origin),
            Format::GkePolicyAction => gke_policy::decode(line, origin),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one input record turned out to be.
#[derive(Debug)]
pub enum Record {
    /// A flow, and which report of its packet it is.
    Flow(Box<Flow>, hubble::PacketReport),
    /// A record of the format that is not a flow (Hubble `node_status`, `agent_event`, …).
    Event {
        /// The kind of event, as the format names it.
        kind: &'static str,
    },
    /// The source reports it lost events before they were written (Hubble `lost_events`).
    Lost {
        /// How many events the source lost.
        count: u64,
        /// Where it lost them (e.g. `PERF_EVENT_RING_BUFFER`).
        source: String,
    },
    /// A blank line: not a record.
    Blank,
    /// A record that could not be used, and why.
    Skip(String),
}

/// A record that was skipped, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    /// 1-based line in the (decompressed) input.
    pub line: u64,
    /// What was wrong with it.
    pub cause: String,
}

/// The accounting of one input: records read = flows + events + skipped.
#[derive(Debug, Default, Serialize)]
pub struct InputReport {
    /// Input name as given.
    pub input: String,
    /// The format it was read as; `None` for an empty input.
    pub format: Option<Format>,
    /// Why that format was chosen (`--format`, or what detection saw).
    pub detected_because: String,
    /// How records are laid out (lines, SSE, one document); `None` before anything was read.
    #[serde(serialize_with = "serialize_framing")]
    pub framing: Option<Framing>,
    /// Last line of the input that was looked at.
    pub last_line: u64,
    /// Whether the input was gzip-compressed.
    pub gzip: bool,
    /// Non-blank lines read.
    pub records: u64,
    /// Records that were flows.
    pub flows: u64,
    /// Records that were non-flow events, by kind.
    pub events: BTreeMap<&'static str, u64>,
    /// Records skipped as unusable.
    pub skipped: u64,
    /// The first skipped records (up to [`ReadOptions::max_skip_examples`]).
    pub skips: Vec<Skip>,
    /// Events the source itself says it lost (Hubble `lost_events`), by where it lost them.
    pub lost_by_source: BTreeMap<String, u64>,
    /// Flows that repeat a packet already reported by an earlier flow (counted once).
    pub duplicates: u64,
    /// Records the pre-filter ruled out without decoding them (they cannot match the query).
    pub prefiltered: u64,
    /// Earliest flow time seen.
    pub first_time: Option<DateTime<Utc>>,
    /// Latest flow time seen.
    pub last_time: Option<DateTime<Utc>>,
    /// An error that stopped reading part-way (e.g. a truncated gzip stream): everything
    /// before it was read and delivered.
    #[serde(serialize_with = "serialize_failure")]
    pub failure: Option<Error>,
}

fn serialize_framing<S: serde::Serializer>(
    framing: &Option<Framing>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(framing.map_or("none", Framing::name))
}

fn serialize_failure<S: serde::Serializer>(
    failure: &Option<Error>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match failure {
        Some(e) => serializer.serialize_some(&e.to_string()),
        None => serializer.serialize_none(),
    }
}

impl InputReport {
    /// How records were laid out: `lines`, `sse`, `document`, or `none` for an empty input.
    pub fn framing_name(&self) -> &'static str {
        self.framing.map_or("none", Framing::name)
    }

    /// Non-flow events in total.
    pub fn event_count(&self) -> u64 {
        self.events.values().sum()
    }

    /// Events the source lost in total.
    pub fn lost_count(&self) -> u64 {
        self.lost_by_source
            .values()
            .fold(0, |total, n| total.saturating_add(*n))
    }

    fn note_time(&mut self, time: Option<DateTime<Utc>>) {
        if let Some(t) = time {
            if self.first_time.is_none_or(|first| t < first) {
                self.first_time = Some(t);
            }
            if self.last_time.is_none_or(|last| t > last) {
                self.last_time = Some(t);
            }
        }
    }
}

/// How to read inputs.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Read every input as this format instead of detecting it.
    pub format: Option<Format>,
    /// How many skipped records to keep as examples in the report.
    pub max_skip_examples: usize,
    /// Records of a document decoded together in parallel.
    pub batch_lines: usize,
    /// Bytes of a line-based input read and decoded together in parallel.
    pub chunk_bytes: usize,
    /// An exact pre-filter: lines it rules out are counted but not decoded (see
    /// [`crate::query::Prefilter`]).
    pub prefilter: Option<std::sync::Arc<crate::query::Prefilter>>,
    /// Told how many more input bytes (as stored: compressed for gzip) were read, after each
    /// chunk; for progress bars.
    pub progress: Option<Progress>,
}

/// A callback told how many more input bytes were read.
#[derive(Clone)]
pub struct Progress(pub Arc<dyn Fn(u64) + Send + Sync>);

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress")
    }
}

impl Progress {
    fn advance(&self, bytes: u64) {
        if bytes > 0 {
            (self.0)(bytes);
        }
    }
}

/// Reports the growth of a byte counter to an optional [`Progress`].
struct ProgressTracker<'a> {
    progress: Option<&'a Progress>,
    counter: Arc<std::sync::atomic::AtomicU64>,
    reported: u64,
}

impl ProgressTracker<'_> {
    fn update(&mut self) {
        if let Some(p) = self.progress {
            let now = self.counter.load(std::sync::atomic::Ordering::Relaxed);
            p.advance(now.saturating_sub(self.reported));
            self.reported = now;
        }
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            max_skip_examples: 1000,
            batch_lines: 4096,
            chunk_bytes: 4 * 1024 * 1024,
            prefilter: None,
            progress: None,
        }
    }
}

/// Reads one input (`-` is standard input) and hands each flow to `sink` in input order.
///
/// Errors before any record is read (cannot open, unknown format) are returned as `Err`; an
/// error part-way through is kept in [`InputReport::failure`] after delivering what was read.
pub fn read_input(
    name: &str,
    options: &ReadOptions,
    sink: &mut dyn FnMut(Flow),
) -> Result<InputReport> {
    if let Some(report) = mapped::read_mapped(name, options, sink)? {
        return Ok(report);
    }
    let reader = InputReader::open(name)?;
    read_from(name, reader, options, sink)
}

/// Like [`read_input`], for an already opened reader.
pub fn read_from(
    name: &str,
    mut reader: InputReader,
    options: &ReadOptions,
    sink: &mut dyn FnMut(Flow),
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

/// Whether `buf` holds its first `n` non-blank lines up to their ends.
fn has_whole_lines(buf: &[u8], n: usize) -> bool {
    let whole = buf.split(|b| *b == b'\n').rev().skip(1);
    whole.filter(|l| !l.trim_ascii().is_empty()).take(n).count() == n
}

/// A maps from byte offset to 1-based line number in `doc`.
fn line_index(doc: &[u8]) -> impl Fn(usize) -> u64 {
    let newlines: Vec<usize> = memchr::memchr_iter(b'\n', doc).collect();
    move |offset| newlines.partition_point(|&n| n < offset) as u64 + 1
}

/// What one line or document item holds.
enum Piece<'a> {
    /// A record's bytes.
    Payload(&'a [u8]),
    /// The document could not be read from here on.
    Broken(String),
}

/// The state of reading one input.
struct Reading<'o, 's> {
    input: Arc<str>,
    report: InputReport,
    format: Option<Format>,
    options: &'o ReadOptions,
    pairer: hubble::PacketPairer,
    sink: &'s mut dyn FnMut(Flow),
}

impl<'o, 's> Reading<'o, 's> {
    fn new(
        name: &str,
        gzip: bool,
        options: &'o ReadOptions,
        sink: &'s mut dyn FnMut(Flow),
    ) -> Reading<'o, 's> {
        let mut report = InputReport {
            input: name.to_string(),
            gzip,
            ..Default::default()
        };
        if let Some(f) = options.format {
            report.format = Some(f);
            report.detected_because = "chosen with --format".to_string();
        }
        Reading {
            input: Arc::from(name),
            report,
            format: options.format,
            options,
            pairer: hubble::PacketPairer::default(),
            sink,
        }
    }

    /// Detects the format from the first lines if needed, then decodes a chunk of whole lines
    /// in parallel (lines the pre-filter rules out are counted, not decoded) and accounts for
    /// them in order. Returns the number of the line after the chunk.
    fn process_lines(&mut self, chunk: &[u8], first_line: u64, framing: Framing) -> Result<u64> {
        self.detect_lines(chunk, first_line, framing)?;
        let parts = self.decoder(framing).decode_chunk(chunk);
        Ok(self.account_parts(parts, first_line))
    }

    /// How this input's lines are decoded, as far as it is known now.
    fn decoder(&self, framing: Framing) -> Decoder<'_> {
        Decoder {
            format: self.format,
            prefilter: self.options.prefilter.as_deref(),
            framing,
            input: &self.input,
        }
    }

    /// Detects the format from the first lines of `chunk` while it is still unknown.
    fn detect_lines(&mut self, chunk: &[u8], first_line: u64, framing: Framing) -> Result<()> {
        if self.format.is_some() {
            return Ok(());
        }
        let head: Vec<(u64, Piece)> = lines(chunk)
            .enumerate()
            .filter_map(|(i, l)| {
                line_payload(l, framing).map(|p| (first_line + i as u64, Piece::Payload(p)))
            })
            .take(16)
            .collect();
        if head.is_empty() {
            return Ok(());
        }
        self.detect(&head)
    }

    /// Accounts for decoded parts in order, the first starting at `first_line`. Returns the
    /// number of the line after them.
    fn account_parts(&mut self, parts: Vec<LinesPart>, first_line: u64) -> u64 {
        let mut base = first_line;
        for part in parts {
            self.report.records += part.prefiltered;
            self.report.prefiltered += part.prefiltered;
            for (offset, mut record) in part.records {
                let line = base + offset;
                if let Record::Flow(flow, _) = &mut record {
                    flow.origin.line = line;
                }
                account(
                    &mut self.report,
                    &mut self.pairer,
                    record,
                    line,
                    self.options,
                    &mut *self.sink,
                );
            }
            base += part.lines;
        }
        self.report.last_line = base.saturating_sub(1);
        base
    }

    /// Detects the format from the first pieces (an error when they match none).
    fn detect(&mut self, pieces: &[(u64, Piece)]) -> Result<()> {
        if let Some((line, Piece::Broken(cause))) = pieces.first() {
            return Err(Error::UnknownFormat {
                input: self.report.input.clone(),
                detail: format!(
                    "line {line}: {cause}; pass --format to choose one: {}",
                    Format::ALL
                        .iter()
                        .map(|f| f.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let payloads: Vec<(u64, &[u8])> = pieces
            .iter()
            .filter_map(|(line, p)| match p {
                Piece::Payload(bytes) => Some((*line, *bytes)),
                _ => None,
            })
            .collect();
        match detect_format(&payloads) {
            Some(Ok(detection)) => {
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

    /// Detects the format if still unknown, decodes the pieces in parallel and accounts for
    /// them in order.
    fn process(&mut self, pieces: &[(u64, Piece)]) -> Result<()> {
        if let Some(&(last, _)) = pieces.last() {
            self.report.last_line = last;
        }
        if self.format.is_none() {
            self.detect(pieces)?;
        }
        let format = self.format;
        let input = &self.input;
        let decoded: Vec<Record> = pieces
            .par_iter()
            .map(|(line, piece)| match (piece, format) {
                (Piece::Payload(bytes), Some(fmt)) => fmt.decode(
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
            account(
                &mut self.report,
                &mut self.pairer,
                record,
                *line,
                self.options,
                &mut *self.sink,
            );
        }
        Ok(())
    }
}

/// What decoding the lines of one input needs, fixed once its format is known (and shared by
/// the pool's threads).
#[derive(Clone, Copy)]
struct Decoder<'a> {
    format: Option<Format>,
    prefilter: Option<&'a crate::query::Prefilter>,
    framing: Framing,
    input: &'a Arc<str>,
}

impl Decoder<'_> {
    /// Decodes a chunk of whole lines in parallel, in parts spread over the pool's threads.
    fn decode_chunk(self, chunk: &[u8]) -> Vec<LinesPart> {
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
            prefilter,
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
        let mut hits = prefilter.filter(|_| format.is_some()).map(|p| p.hits(part));
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
            if let Some(h) = &mut hits {
                if !has_backslash && !h.within(start, end) && !fmt.may_report_losses(payload) {
                    out.prefiltered += 1;
                    continue;
                }
            }
            let origin = Origin {
                input: input.clone(),
                line: 0,
            };
            out.records.push((index, fmt.decode(payload, origin)));
        }
        out
    }
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

/// The record a line holds: the line without its `\r`, or an SSE line's data; `None` for
/// blank lines and SSE fields other than `data`.
fn line_payload(line: &[u8], framing: Framing) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let payload = match framing {
        Framing::Sse => framing::sse_payload(line)?,
        _ => line,
    };
    (!payload.trim_ascii().is_empty()).then_some(payload)
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

/// What one worker made of its share of a chunk of lines.
struct LinesPart {
    /// Lines in the share.
    lines: u64,
    /// Decoded records with their line offset in the share (0-based).
    records: Vec<(u64, Record)>,
    /// Lines the pre-filter ruled out without decoding.
    prefiltered: u64,
}

/// The lines of a buffer (without their `\n`).
fn lines(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    LineEnds::new(buf).map(move |(end, _)| {
        let line = &buf[start..end];
        start = end + 1;
        line
    })
}

/// Where the lines of a buffer end (a `\n`, or the end of the buffer for a last line without
/// one), and whether each holds a backslash: one memchr2 pass for both.
struct LineEnds<'a> {
    buf: &'a [u8],
    found: memchr::Memchr2<'a>,
    done: bool,
}

impl<'a> LineEnds<'a> {
    fn new(buf: &'a [u8]) -> LineEnds<'a> {
        LineEnds {
            buf,
            found: memchr::memchr2_iter(b'\n', b'\\', buf),
            done: buf.is_empty(),
        }
    }
}

impl Iterator for LineEnds<'_> {
    /// The end of the line (its `\n`) and whether it holds a backslash.
    type Item = (usize, bool);

    fn next(&mut self) -> Option<(usize, bool)> {
        if self.done {
            return None;
        }
        let mut escaped = false;
        for pos in self.found.by_ref() {
            if self.buf[pos] == b'\n' {
                return Some((pos, escaped));
            }
            escaped = true;
        }
        self.done = true;
        (self.buf.last() != Some(&b'\n')).then_some((self.buf.len(), escaped))
    }
}

/// Where a piece of `buf` meant to end at `at` ends so that it holds whole lines: just after
/// the first `\n` from `at` on, or at the end of `buf`.
fn whole_lines_end(buf: &[u8], at: usize) -> usize {
    if at >= buf.len() {
        return buf.len();
    }
    memchr::memchr(b'\n', &buf[at..]).map_or(buf.len(), |i| at + i + 1)
}

/// Splits `chunk` into about `parts` pieces, each ending at a line end.
fn split_lines(chunk: &[u8], parts: usize) -> Vec<&[u8]> {
    let target = (chunk.len() / parts.max(1)).max(64 * 1024);
    let mut out = Vec::new();
    let mut start = 0;
    while start < chunk.len() {
        let end = whole_lines_end(chunk, start.saturating_add(target));
        out.push(&chunk[start..end]);
        start = end;
    }
    out
}

fn account(
    report: &mut InputReport,
    pairer: &mut hubble::PacketPairer,
    record: Record,
    line: u64,
    options: &ReadOptions,
    sink: &mut dyn FnMut(Flow),
) {
    match record {
        Record::Blank => return,
        Record::Flow(mut flow, packet_report) => {
            if pairer.is_second_report(&flow, packet_report) {
                flow.duplicate = true;
                flow.count = 0;
                report.duplicates += 1;
            }
            report.flows += 1;
            report.note_time(flow.time);
            sink(*flow);
        }
        Record::Event { kind } => *report.events.entry(kind).or_default() += 1,
        Record::Lost { count, source } => {
            *report.events.entry("lost_events").or_default() += 1;
            // A source may claim any 64-bit count; saturate rather than overflow.
            let lost = report.lost_by_source.entry(source).or_default();
            *lost = lost.saturating_add(count);
        }
        Record::Skip(cause) => {
            report.skipped += 1;
            if report.skips.len() < options.max_skip_examples {
                report.skips.push(Skip { line, cause });
            }
        }
    }
    report.records += 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read_bytes(bytes: &[u8]) -> (InputReport, Vec<Flow>) {
        let reader = InputReader::from_reader(Box::new(Cursor::new(bytes.to_vec()))).unwrap();
        let mut flows = Vec::new();
        let options = ReadOptions {
            batch_lines: 2,
            chunk_bytes: 16,
            ..Default::default()
        };
        let report = read_from("mem", reader, &options, &mut |f| flows.push(f)).unwrap();
        (report, flows)
    }

    #[test]
    fn every_record_is_accounted_for_across_batches() {
        let text = concat!(
            r#"{"flow":{"verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":1,"destination_port":80}}}}"#,
            "\n\n",
            r#"{"node_status":{"state_change":"NODE_CONNECTED"},"time":"2025-01-01T00:00:00Z"}"#,
            "\nnot json\n",
            r#"{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"7"}}"#,
            "\n",
        );
        let (report, flows) = read_bytes(text.as_bytes());
        assert_eq!(report.records, 4);
        assert_eq!(report.flows, 1);
        assert_eq!(report.event_count(), 2);
        assert_eq!(report.skipped, 1);
        assert_eq!(report.skips[0].line, 4);
        assert_eq!(report.lost_count(), 7);
        assert_eq!(
            report.records,
            report.flows + report.event_count() + report.skipped + report.prefiltered
        );
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].origin.line, 1);
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
    fn the_prefilter_still_lets_every_loss_report_through() {
        let filter = crate::query::FlowFilter {
            dst_port: vec![crate::query::PortRange::parse("9200").unwrap()],
            ..Default::default()
        };
        let flow = |port: u16, app: &str| {
            format!(
                r#"{{"flow":{{"verdict":"DROPPED","IP":{{"source":"10.0.0.1","destination":"10.0.0.2"}},"l4":{{"TCP":{{"source_port":1,"destination_port":{port}}}}},"source":{{"labels":["k8s:app={app}"]}}}}}}"#
            )
        };
        let text = [
            flow(80, "\"lost"),
            r#"{"node_name":"n1","lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"3"}}"#.into(),
            r#"{"flow":null,"lostEvents":{"numEventsLost":"2"}}"#.into(),
            r#" {"lost_events":{"num_events_lost":"1"}}"#.into(),
            flow(9200, "web"),
        ]
        .join("\n");
        let reader = InputReader::from_reader(Box::new(Cursor::new(text.into_bytes()))).unwrap();
        let options = ReadOptions {
            prefilter: crate::query::Prefilter::for_filter(&filter, true).map(Arc::new),
            ..Default::default()
        };
        let mut flows = Vec::new();
        let report = read_from("mem", reader, &options, &mut |f| flows.push(f)).unwrap();
        assert_eq!(report.lost_count(), 6);
        assert_eq!(
            (report.prefiltered, report.flows, report.records),
            (1, 1, 5)
        );
        assert_eq!(flows[0].dst.port, Some(9200));
        assert!(!hubble::may_report_losses(
            flow(80, "lost_events").as_bytes()
        ));
    }

    #[test]
    fn line_ends_agree_with_splitting_and_see_backslashes() {
        for text in [&b"a\r\nb\\n\n\n  \nc"[..], b"\\", b"\n\n", b"x\\\n", b""] {
            let mut start = 0;
            let from_ends: Vec<(&[u8], bool)> = LineEnds::new(text)
                .map(|(end, escaped)| {
                    let line = &text[start..end];
                    start = end + 1;
                    (line, escaped)
                })
                .collect();
            let mut pieces: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
            if pieces.last() == Some(&&b""[..]) {
                pieces.pop();
            }
            let from_lines: Vec<(&[u8], bool)> = pieces
                .into_iter()
                .map(|l| (l, l.contains(&b'\\')))
                .collect();
            assert_eq!(from_ends, from_lines, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn lost_event_counts_saturate_instead_of_overflowing() {
        // Two `lost_events` claiming u64::MAX each used to overflow the per-source total.
        let lost = r#"{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"18446744073709551615"}}"#;
        let other = r#"{"lost_events":{"source":"OBSERVER_EVENTS_QUEUE","num_events_lost":"18446744073709551615"}}"#;
        let text = format!("{lost}\n{lost}\n{other}\n");
        let (report, _) = read_bytes(text.as_bytes());
        assert_eq!(report.records, 3);
        assert_eq!(report.lost_by_source["HUBBLE_RING_BUFFER"], u64::MAX);
        assert_eq!(report.lost_count(), u64::MAX);
    }

    #[test]
    fn crlf_blank_lines_and_a_missing_final_newline_are_handled() {
        let text = b"a\r\nb\n\n  \nc";
        let payloads: Vec<&[u8]> = lines(text)
            .filter_map(|l| line_payload(l, Framing::Lines))
            .collect();
        assert_eq!(payloads, [&b"a"[..], b"b", b"c"]);
        assert_eq!(lines(text).count(), 5);
    }

    #[test]
    fn unknown_content_is_an_error_naming_the_formats() {
        let reader =
            InputReader::from_reader(Box::new(Cursor::new(b"\x89PNG\r\n\x1a\n".to_vec()))).unwrap();
        let err = read_from("x.png", reader, &ReadOptions::default(), &mut |_| {}).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("x.png"), "{msg}");
        assert!(msg.contains("--format"), "{msg}");
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
