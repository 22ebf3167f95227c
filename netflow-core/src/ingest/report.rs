//! The accounting of one input: every record is a flow, an event, a skip (with its line and
//! cause) or was ruled out by the pre-filter; what the source lost is kept apart.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::framing::Framing;
use crate::error::Error;
use crate::format::Format;

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
    /// How records are laid out (lines, SSE, one document, concatenated values); `None` before
    /// anything was read.
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
    /// The first skipped records (up to [`super::ReadOptions::max_skip_examples`]).
    pub skips: Vec<Skip>,
    /// Events the source itself says it lost (Hubble `lost_events`), by where it lost them.
    pub lost_by_source: BTreeMap<String, u64>,
    /// Flows that repeat a packet already reported by an earlier flow (counted once).
    pub duplicates: u64,
    /// Flows read without all their parts (a kube-network-policies evaluation whose verdict
    /// is not in the input): their verdict is unknown.
    pub incomplete: u64,
    /// Records that are a part of a flow whose other parts are not in the input before them
    /// (a kube-network-policies verdict without its evaluation): counted as events, no flow.
    pub orphans: u64,
    /// The programs that wrote the flows, when the records name them (Hubble `emitter`, as
    /// `name version`), with how many flows each wrote.
    pub emitters: BTreeMap<String, u64>,
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
    /// How records were laid out: `lines`, `sse`, `document`, `concatenated`, or `none` for an
    /// empty input.
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

    pub(super) fn note_time(&mut self, time: Option<DateTime<Utc>>) {
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
