//! `flowq inspect`: what each input is — format and why, layout, records, flows, events,
//! skips, what the source lost, time range, and the mix of what the log says happened.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{bail, Result};
use netflow_core::query::row::format_time;
use netflow_core::Action;
use serde::Serialize;

use super::Pipeline;
use crate::args::{InspectArgs, OutputFormat};
use crate::output::table::{align_right, new_table, thousands, write_table};
use crate::output::{Destination, RecordWriter};

/// One input's accounting, as printed.
#[derive(Serialize)]
struct InputSummary<'a> {
    input: &'a str,
    format: Option<&'static str>,
    detected_because: &'a str,
    framing: &'static str,
    gzip: bool,
    records: u64,
    flows: u64,
    events: u64,
    skipped: u64,
    lost_by_source: u64,
    duplicates: u64,
    first_time: Option<String>,
    last_time: Option<String>,
    allowed: u64,
    denied: u64,
    dropped: u64,
    unknown: u64,
    error: Option<String>,
}

/// Runs the command.
pub fn run(args: &InspectArgs, stdout: &mut dyn Write) -> Result<()> {
    if args.output.output == OutputFormat::Parquet {
        bail!("inspect writes -o table, json, ndjson or csv");
    }
    let mut out = Destination::open(&args.output, stdout)?;
    let pipeline = Pipeline::new(
        &args.input,
        crate::settings::SnapshotLoad::Ready(netflow_core::SnapshotSet::default()),
        Default::default(),
    )?;
    let mut mix: BTreeMap<String, BTreeMap<Action, u64>> = BTreeMap::new();
    let outcome = pipeline.run(|flow| {
        *mix.entry(flow.origin.input.to_string())
            .or_default()
            .entry(flow.action)
            .or_default() += 1;
    })?;
    let empty = BTreeMap::new();
    let summaries: Vec<InputSummary> = outcome
        .reports
        .iter()
        .map(|r| {
            let m = mix.get(&r.input).unwrap_or(&empty);
            let n = |a: Action| m.get(&a).copied().unwrap_or(0);
            InputSummary {
                input: &r.input,
                format: r.format.map(|f| f.name()),
                detected_because: &r.detected_because,
                framing: r.framing_name(),
                gzip: r.gzip,
                records: r.records,
                flows: r.flows,
                events: r.event_count(),
                skipped: r.skipped,
                lost_by_source: r.lost_count(),
                duplicates: r.duplicates,
                first_time: r.first_time.as_ref().map(format_time),
                last_time: r.last_time.as_ref().map(format_time),
                allowed: n(Action::Allowed),
                denied: n(Action::Denied),
                dropped: n(Action::Dropped),
                unknown: n(Action::Unknown),
                error: r.failure.as_ref().map(|e| e.to_string()),
            }
        })
        .collect();
    if args.output.output != OutputFormat::Table {
        if let Some(writer) = RecordWriter::new(args.output.output, &mut out) {
            writer.write_all(summaries.iter())?;
        }
        return out.settle(pipeline.finish(&outcome));
    }
    let mut table = new_table(&[
        "INPUT",
        "FORMAT",
        "RECORDS",
        "FLOWS",
        "EVENTS",
        "SKIPPED",
        "LOST",
        "ALLOWED",
        "DENIED",
        "DROPPED",
        "UNKNOWN",
        "FIRST (UTC)",
        "LAST (UTC)",
    ]);
    for s in &summaries {
        let layout = s.framing;
        let gzip = if s.gzip { ", gzip" } else { "" };
        table.add_row(vec![
            s.input.to_string(),
            format!("{} ({layout}{gzip})", s.format.unwrap_or("-")),
            thousands(s.records),
            thousands(s.flows),
            thousands(s.events),
            thousands(s.skipped),
            thousands(s.lost_by_source),
            thousands(s.allowed),
            thousands(s.denied),
            thousands(s.dropped),
            thousands(s.unknown),
            s.first_time.clone().unwrap_or_else(|| "-".into()),
            s.last_time.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    align_right(&mut table, &[2, 3, 4, 5, 6, 7, 8, 9, 10]);
    write_table(&mut out, &table)?;
    for s in &summaries {
        if !s.detected_because.is_empty() {
            writeln!(out, "{}: {}", s.input, s.detected_because)?;
        }
    }
    out.settle(pipeline.finish(&outcome))
}
