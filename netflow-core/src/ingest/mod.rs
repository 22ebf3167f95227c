//! Reading flow logs: detection, framing, one decoder per [`Format`], and the reader that
//! turns an input into [`Flow`]s while accounting for every record in an [`InputReport`].
//!
//! Records are read in chunks of lines, decoded in parallel (rayon) and handed to the caller
//! in input order, so memory stays bounded by a few chunks and output is deterministic. Every
//! non-blank line is accounted for: a flow, a non-flow event, a skip with its line and cause,
//! or a line the pre-filter ruled out. Nothing here prints.
//!
//! The files: this one holds the options, the entry points and the one `match` over
//! [`Format`] for decoding; `decode.rs` decodes in parallel and accounts in order,
//! `stream.rs` (stdin, gzip, documents, concatenated values) and `mapped.rs` (line-based
//! regular files) feed it, `lines.rs` cuts lines, `pairing.rs` finds the repeated reports of
//! one packet, `detect.rs` and `framing.rs` recognise an input (and a format the caller chose
//! is checked against its first records), `text.rs` holds what the text-line formats share,
//! and each format has its decoder file.

mod antrea;
mod aws_npa;
mod calico;
mod calico_fields;
mod calico_node;
mod cloud_logging;
mod decode;
mod detect;
pub mod framing;
mod gke_policy;
mod gke_vpc;
mod goldmane;
mod hubble;
mod joining;
mod kube_network_policies;
mod lines;
mod mapped;
mod ovn_acl;
mod pairing;
mod record;
mod report;
mod scan;
mod shared;
mod stream;
mod text;
mod value;

use std::fmt;
use std::ops::ControlFlow;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::flow::{Flow, Origin};
use crate::format::Format;
use crate::input::{InputBytes, InputReader};
use crate::needles::Needles;

pub use detect::{detect_format, Detection};
pub use record::{Observation, PacketReport, Part, Record, ReportPoint};
pub use report::{InputReport, Skip};
pub use stream::read_from;

/// Where the reader hands each flow, in input order; [`ControlFlow::Break`] stops reading.
pub type FlowSink<'a> = dyn FnMut(Flow) -> ControlFlow<()> + 'a;

/// Decodes one record (a line, or one item of a document) of `format`, read at `origin`: with
/// the format's fast path when it reads the record, else with its general decoder. Both give
/// the same record.
pub fn decode_record(format: Format, record: &[u8], origin: Origin) -> Record {
    match decode_record_fast(format, record, origin) {
        Ok(decoded) => decoded,
        Err(origin) => decode_record_general(format, record, origin),
    }
}

/// Decodes one record with a format's fast path alone (a scanner written for the record shape
/// that format's logs are made of), or gives `origin` back when the fast path leaves the
/// record to the general decoder — or the format has no fast path. Whenever it decodes a
/// record, the result is the one [`decode_record_general`] gives; [`decode_record`] uses it
/// first.
pub fn decode_record_fast(format: Format, record: &[u8], origin: Origin) -> Result<Record, Origin> {
    match format {
        Format::Hubble => hubble::decode_line_fast(record, origin),
        Format::Calico => calico::decode_fast(record, origin),
        Format::GkeVpc => gke_vpc::decode_fast(record, origin),
        Format::GkePolicyAction => gke_policy::decode_fast(record, origin),
        _ => Err(origin),
    }
}

/// Decodes one record with the general decoder of `format` alone (serde, for the JSON
/// formats), never a fast path: the reference the fast paths are tested and fuzzed against.
/// Same result as [`decode_record`], which is faster.
pub fn decode_record_general(format: Format, record: &[u8], origin: Origin) -> Record {
    match format {
        Format::Hubble => hubble::decode_line_general(record, origin),
        Format::Calico => calico::decode_general(record, origin),
        Format::Goldmane => goldmane::decode(record, origin),
        Format::GkeVpc => gke_vpc::decode_general(record, origin),
        Format::GkePolicyAction => gke_policy::decode_general(record, origin),
        Format::KubeNetworkPolicies => kube_network_policies::decode(record, origin),
        Format::AwsNetworkPolicyAgent => aws_npa::decode(record, origin),
        Format::OvnKubernetesAcl => ovn_acl::decode(record, origin),
        Format::AntreaNpLog => antrea::decode(record, origin),
        Format::CalicoNodeFlows => calico_node::line(record),
    }
}

/// Decodes a whole record of `format` (for a format whose records span lines, the lines the
/// reader joined; for the others, as [`decode_record`]).
pub fn decode_block(format: Format, block: &[u8], origin: Origin) -> Record {
    match format {
        Format::CalicoNodeFlows => calico_node::decode(block, origin),
        other => decode_record(other, block, origin),
    }
}

/// Whether the records of `format` span several lines, so that a line alone says nothing of
/// whether its record matches (the pre-filter does not rule such lines out).
fn records_span_lines(format: Format) -> bool {
    matches!(format, Format::CalicoNodeFlows)
}

/// Whether a line the pre-filter rules out must be decoded all the same, because it may say
/// the source lost events (the reader must see those to say the log is incomplete), or holds
/// a part of a record whose other parts may match (a kube-network-policies verdict names only
/// its packet id).
fn may_report_losses(format: Format, line: &[u8]) -> bool {
    match format {
        Format::Hubble => hubble::may_report_losses(line),
        Format::KubeNetworkPolicies => true,
        _ => false,
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
    /// An exact pre-filter: lines holding none of a group's needles are counted but not
    /// decoded (the query layer builds them so that such lines cannot match).
    pub needles: Option<Arc<Needles>>,
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
pub(super) struct ProgressTracker<'a> {
    pub(super) progress: Option<&'a Progress>,
    pub(super) counter: Arc<std::sync::atomic::AtomicU64>,
    pub(super) reported: u64,
}

impl ProgressTracker<'_> {
    pub(super) fn update(&mut self) {
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
            needles: None,
            progress: None,
        }
    }
}

/// Reads one input (`-` is standard input) and hands each flow to `sink` in input order.
///
/// Errors before any record is read (cannot open, unknown format) are returned as `Err`; an
/// error part-way through is kept in [`InputReport::failure`] after delivering what was read.
/// When `sink` returns [`ControlFlow::Break`], reading stops: the report accounts for what was
/// read until then.
pub fn read_input(
    name: &str,
    options: &ReadOptions,
    sink: &mut FlowSink<'_>,
) -> Result<InputReport> {
    if let Some(report) = mapped::read_mapped(name, options, sink)? {
        return Ok(report);
    }
    let reader = InputReader::open(name)?;
    read_from(name, reader, options, sink)
}

/// The format to read a file in parts with, when it can be cut at line starts into parts
/// that read on their own ([`InputBytes::starting_at_line`]) and together give what one
/// reading gives: uncompressed records one per line, of a format whose records neither span
/// lines nor relate to the records around them. `head` is the file's first bytes (a few
/// hundred KB: whole lines are looked at), `format` the caller's choice if any. `None` means
/// "read it whole": gzip, a JSON document or values that span lines, Server-Sent Events,
/// `calico-node -flows` text (records of several lines), kube-network-policies (evaluations
/// joined to later verdicts), Hubble (one packet's reports at several observation points,
/// on consecutive lines, count once: a cut between two of them would count it twice), or a
/// head no format is recognised in (the whole reading says why).
///
/// ```
/// use netflow_core::{ingest::splittable_as, Format};
///
/// let calico = br#"{"action":"deny","reporter":"dst","proto":"tcp","source_ip":"10.0.0.1","dest_ip":"10.0.0.2","dest_port":9200}"#;
/// assert_eq!(splittable_as(&[calico.as_slice(), b"\n"].concat(), None), Some(Format::Calico));
/// assert_eq!(splittable_as(&[b"[".as_slice(), calico, b"]\n"].concat(), None), None);
/// ```
pub fn splittable_as(head: &[u8], format: Option<Format>) -> Option<Format> {
    if head.starts_with(&[0x1f, 0x8b])
        || framing::line_framing(head) != Some(framing::Framing::Lines)
    {
        return None;
    }
    let format = match format {
        Some(f) => f,
        None => {
            let whole = memchr::memrchr(b'\n', head).map_or(head.len(), |i| i + 1);
            let records: Vec<(u64, &[u8])> = head[..whole]
                .split(|b| *b == b'\n')
                .enumerate()
                .map(|(i, line)| (i as u64 + 1, line))
                .collect();
            detect_format(&records)?.ok()?.format
        }
    };
    let related = matches!(format, Format::KubeNetworkPolicies | Format::Hubble);
    (!records_span_lines(format) && !related).then_some(format)
}

/// Reads an input held in memory ([`InputBytes`]) as [`read_input`] reads a file: gzip or
/// not, any framing; its lines are numbered from [`InputBytes::first_line`].
///
/// A part of a file ([`InputBytes::is_part`]) is read as records one per line; it must not
/// be gzip (a gzip stream cannot be cut): that is an [`Error::Invalid`] saying so.
pub fn read_bytes(
    input: &InputBytes,
    options: &ReadOptions,
    sink: &mut FlowSink<'_>,
) -> Result<InputReport> {
    let name = input.name();
    let done = |_: usize, _: usize| {};
    let part = input.is_part();
    if let Some(report) = mapped::read_lines_in(
        name,
        input.bytes(),
        input.first_line(),
        part,
        options,
        sink,
        &done,
    )? {
        return Ok(report);
    }
    if part && input.bytes().starts_with(&[0x1f, 0x8b]) {
        return Err(Error::Invalid {
            what: "input part",
            value: format!("{name} from line {}", input.first_line()),
            detail: "a part of a file must hold uncompressed records one per line, found gzip-compressed bytes".into(),
        });
    }
    read_from(name, input.reader(), options, sink)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn collect(
        name: &str,
        bytes: &[u8],
        options: &ReadOptions,
    ) -> Result<(InputReport, Vec<Flow>)> {
        let reader = InputReader::from_reader(Box::new(Cursor::new(bytes.to_vec()))).unwrap();
        let mut flows = Vec::new();
        let report = read_from(name, reader, options, &mut |f| {
            flows.push(f);
            ControlFlow::Continue(())
        })?;
        Ok((report, flows))
    }

    fn read_bytes(bytes: &[u8]) -> (InputReport, Vec<Flow>) {
        let options = ReadOptions {
            batch_lines: 2,
            chunk_bytes: 16,
            ..Default::default()
        };
        collect("mem", bytes, &options).unwrap()
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
    fn the_prefilter_still_lets_every_loss_report_through() {
        let mut needles = Needles::new();
        needles.add("dst-port", true, ["9200".to_string()]);
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
            needles: Some(Arc::new(needles)),
            ..Default::default()
        };
        let mut flows = Vec::new();
        let report = read_from("mem", reader, &options, &mut |f| {
            flows.push(f);
            ControlFlow::Continue(())
        })
        .unwrap();
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
    fn detection_looks_past_the_first_chunk_for_a_logs_first_record() {
        // Found by tests/hostile.rs: with small chunks, detection saw only the agent's first
        // lines (no flow yet) and gave up on the input.
        let agent =
            r#"{"level":"info","ts":"2026-01-01T00:00:00Z","caller":"main.go:1","msg":"starting"}"#;
        let flow = r#"{"level":"info","ts":"2026-01-01T00:00:01Z","msg":"Flow Info: Src IP: 10.0.0.1 Src Port: 1 Dest IP: 10.0.0.2 Dest Port: 80 Proto TCP Verdict DENY Direction ingress"}"#;
        let text = format!("{}{flow}\n", format!("{agent}\n").repeat(40));
        let (report, flows) = read_bytes(text.as_bytes());
        assert_eq!(report.format, Some(Format::AwsNetworkPolicyAgent));
        assert_eq!((report.records, report.flows, report.skipped), (41, 1, 0));
        assert_eq!(report.events["agent_log"], 40);
        assert_eq!(flows[0].origin.line, 41);
    }

    #[test]
    fn only_line_records_that_read_on_their_own_are_cut_into_parts() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/flows");
        let head = |path: &str| {
            let bytes = std::fs::read(dir.join(path)).unwrap();
            bytes[..bytes.len().min(64 * 1024)].to_vec()
        };
        let cases = [
            ("hubble/incident.ndjson", None),
            ("gke-vpc/computed.ndjson", Some(Format::GkeVpc)),
            ("calico/flows.log.ndjson", Some(Format::Calico)),
            ("antrea-np-log/np.log", Some(Format::AntreaNpLog)),
            ("hubble/jq-pretty.json", None),
            ("gke-vpc/gcloud-logging-read.json", None),
            ("calico-node-flows/flows.txt", None),
            ("kube-network-policies/klog-text.log", None),
            ("goldmane/whisker-stream.sse.txt", None),
        ];
        for (path, expected) in cases {
            assert_eq!(splittable_as(&head(path), None), expected, "{path}");
        }
        // A head cut mid-line looks at its whole lines only.
        let vpc = head("gke-vpc/computed.ndjson");
        let cut = memchr::memchr(b'\n', &vpc).unwrap() + 10;
        assert_eq!(splittable_as(&vpc[..cut], None), Some(Format::GkeVpc));
        assert_eq!(splittable_as(b"not json\n", None), None);
        assert_eq!(
            splittable_as(b"anything\n", Some(Format::Calico)),
            Some(Format::Calico)
        );
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &vpc).unwrap();
        assert_eq!(
            splittable_as(&enc.finish().unwrap(), Some(Format::GkeVpc)),
            None
        );
        // Hubble, even when the caller names it: its packets' reports relate across lines.
        assert_eq!(
            splittable_as(&head("hubble/incident.ndjson"), Some(Format::Hubble)),
            None
        );
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
    fn unknown_content_is_an_error_saying_what_was_found() {
        let reader =
            InputReader::from_reader(Box::new(Cursor::new(b"\x89PNG\r\n\x1a\n".to_vec()))).unwrap();
        let err = read_from("x.png", reader, &ReadOptions::default(), &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("x.png"), "{msg}");
        assert!(msg.contains("not JSON"), "{msg}");
        assert!(matches!(err, crate::Error::UnknownFormat { .. }));
    }

    #[test]
    fn a_sink_that_breaks_stops_reading() {
        let line =
            r#"{"flow":{"verdict":"DROPPED","IP":{"source":"10.0.0.1","destination":"10.0.1.1"}}}"#;
        let text = format!("{line}\n").repeat(50);
        for chunk_bytes in [16, 1 << 20] {
            let options = ReadOptions {
                chunk_bytes,
                ..Default::default()
            };
            let reader =
                InputReader::from_reader(Box::new(Cursor::new(text.clone().into_bytes()))).unwrap();
            let mut seen = 0;
            read_from("mem", reader, &options, &mut |_| {
                seen += 1;
                if seen == 3 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
            assert_eq!(seen, 3, "chunk of {chunk_bytes} bytes");
        }
    }

    #[test]
    fn a_chosen_format_the_records_are_not_in_is_an_error_saying_what_they_look_like() {
        let calico = r#"{"action":"deny","reporter":"dst","proto":"tcp","source_ip":"10.0.0.1","dest_ip":"10.0.0.2","dest_port":9200}"#;
        let text = format!("{calico}\n{calico}\n");
        let options = ReadOptions {
            format: Some(Format::Hubble),
            ..Default::default()
        };
        let err = collect("flows.log", text.as_bytes(), &options).unwrap_err();
        assert!(matches!(
            err,
            crate::Error::NotTheFormat {
                format: Format::Hubble,
                ..
            }
        ));
        let msg = err.to_string();
        assert!(
            msg.starts_with("\"flows.log\" does not read as hubble: none of its first 2 records is a hubble record (line 1: "),
            "{msg}"
        );
        assert!(msg.contains("looks like calico (line 1: "), "{msg}");
        // Not JSON at all.
        let err = collect("x.txt", b"hello\nworld\n", &options).unwrap_err();
        assert!(
            err.to_string()
                .contains("no format recognises the content: line 1 is not JSON"),
            "{err}"
        );
    }

    #[test]
    fn a_chosen_format_with_some_of_its_records_among_bad_ones_reads_with_skips() {
        let flow =
            r#"{"flow":{"verdict":"DROPPED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"}}}"#;
        let options = ReadOptions {
            format: Some(Format::Hubble),
            ..Default::default()
        };
        let (report, flows) =
            collect("mem", format!("not json\n{flow}\n").as_bytes(), &options).unwrap();
        assert_eq!((report.skipped, flows.len()), (1, 1));
        // Records of the format that are all bad are skips, not a format error: detection
        // takes the content for that format too.
        let bad = r#"{"flow":{"verdict":"DROPPED","IP":{"source":"999.0.0.1","destination":"10.0.0.2"}}}"#;
        let (report, _) = collect("mem", format!("{bad}\n{bad}\n").as_bytes(), &options).unwrap();
        assert_eq!(report.skipped, 2);
        // Records detection recognises as no format (a field mask hid the verdict) are read as
        // the caller says when they decode.
        let masked = r#"{"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"destination_port":9200}}}"#;
        assert!(collect("mem", masked.as_bytes(), &ReadOptions::default()).is_err());
        let (report, flows) = collect("mem", masked.as_bytes(), &options).unwrap();
        assert_eq!((report.skipped, flows.len()), (0, 1));
        // Records another format's decoder would make flows of are an error all the same.
        let calico = ReadOptions {
            format: Some(Format::Calico),
            ..Default::default()
        };
        let err = collect("mem", flow.as_bytes(), &calico).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "\"mem\" does not read as calico: the content looks like hubble (line 1: "
            ),
            "{err}"
        );
    }
}
