//! `flowq inspect`: what each input is — format and why, layout, records, flows, events,
//! skips, what the source lost, time range, and the mix of what the log says happened.

use std::io::Write;

use anyhow::Result;
use netflow_core::{DeclaredRow, InputRow};

use super::Run;
use crate::args::{InspectArgs, OutputFormat, SnapshotArgs};
use crate::diagnostics::counted;
use crate::output::table::{align_right, new_table, thousands, write_table};
use crate::output::{write_rows, Destination};

/// Runs the command.
pub fn run(args: &InspectArgs, stdout: &mut dyn Write) -> Result<()> {
    let mut out = Destination::open(&args.output, stdout)?;
    let no_snapshot = SnapshotArgs { snapshot: vec![] };
    let run = Run::new(&args.input, &no_snapshot, Default::default())?;
    let (rows, summary) = run.read(|session| Ok(session.inspect()?))?;
    if args.output.output != OutputFormat::Table {
        write_rows(args.output.output, InputRow::COLUMNS, &rows, &mut out)?;
        return out.settle(run.finish(&summary));
    }
    if rows.is_empty() {
        // Nothing could be read: the errors on stderr say why; an empty table says nothing.
        return out.settle(run.finish(&summary));
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
    let time = |t: &Option<chrono::DateTime<chrono::Utc>>| {
        t.as_ref()
            .map(netflow_core::query::format_time)
            .unwrap_or_else(|| "-".into())
    };
    for s in &rows {
        let gzip = if s.gzip { ", gzip" } else { "" };
        table.add_row(vec![
            s.input.to_string(),
            format!("{} ({}{gzip})", s.format.unwrap_or("-"), s.framing),
            thousands(s.records),
            thousands(s.flows),
            thousands(s.events),
            thousands(s.skipped),
            thousands(s.lost_by_source),
            thousands(s.allowed),
            thousands(s.denied),
            thousands(s.dropped),
            thousands(s.unknown),
            time(&s.first_time),
            time(&s.last_time),
        ]);
    }
    align_right(&mut table, &[2, 3, 4, 5, 6, 7, 8, 9, 10]);
    write_table(&mut out, &table)?;
    for s in &rows {
        if !s.detected_because.is_empty() {
            writeln!(out, "{}: {}", s.input, s.detected_because)?;
        }
        if !s.emitters.is_empty() {
            writeln!(out, "{}: written by {}", s.input, s.emitters.join(", "))?;
        }
        if s.orphans > 0 {
            writeln!(
                out,
                "{}: {} without the evaluation of their packet (no flow)",
                s.input,
                counted(s.orphans, "verdict record", "verdict records")
            )?;
        }
        if s.incomplete > 0 {
            writeln!(
                out,
                "{}: {} without a verdict record (verdict unknown)",
                s.input,
                counted(s.incomplete, "flow", "flows")
            )?;
        }
    }
    out.settle(run.finish(&summary))
}
