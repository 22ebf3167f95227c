//! `flowq inspect`: what each input is — format and why, layout, records, flows, events,
//! skips, what the source lost, time range, and the mix of what the log says happened.

use std::io::Write;

use anyhow::{bail, Result};
use netflow_core::{DeclaredRow, InputRow, SnapshotRow};

use super::Run;
use crate::args::{InspectArgs, OutputFormat, SnapshotArgs};
use crate::diagnostics::counted;
use crate::output::table::{align_right, new_table, thousands, write_table};
use crate::output::{write_rows, Destination};

/// Runs the command.
pub fn run(args: &InspectArgs, stdout: &mut dyn Write) -> Result<()> {
    let mut out = Destination::open(&args.output, stdout)?;
    if !args.snapshot.snapshot.is_empty() {
        if !args.input.files.is_empty() && args.output.output != OutputFormat::Table {
            bail!(
                "inspect writes inputs or snapshots as rows, not both at once: run it once with \
                 FILES and once with --snapshot (or use -o table)"
            );
        }
        let run = Run::new(&args.input, &args.snapshot, Default::default())?;
        let rows = run.session.describe_snapshots()?;
        let status = if args.output.output == OutputFormat::Table {
            write_snapshot_table(&rows, &mut out, args.input.verbose)
        } else {
            write_rows(args.output.output, SnapshotRow::COLUMNS, &rows, &mut out)
        };
        if args.input.files.is_empty() || status.is_err() {
            return out.settle(status);
        }
        writeln!(out)?;
    }
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

/// The snapshots as a table, then per snapshot the policies flowq does not evaluate, the kinds
/// it ignored and its warnings (all of them with `-v`, else how many and the first).
fn write_snapshot_table(rows: &[SnapshotRow], out: &mut dyn Write, verbose: bool) -> Result<()> {
    let mut table = new_table(&[
        "SNAPSHOT",
        "TAKEN (UTC)",
        "NAMESPACES",
        "PODS",
        "SERVICES",
        "NODES",
        "NETWORKPOLICIES",
        "NOT EVALUATED",
        "WARNINGS",
    ]);
    for r in rows {
        table.add_row(vec![
            r.snapshot.clone(),
            r.taken_at
                .as_ref()
                .map(netflow_core::query::format_time)
                .unwrap_or_else(|| "-".into()),
            thousands(r.namespaces),
            thousands(r.pods),
            thousands(r.services),
            thousands(r.nodes),
            thousands(r.network_policies),
            thousands(r.not_evaluated),
            thousands(r.warnings.len() as u64),
        ]);
    }
    align_right(&mut table, &[2, 3, 4, 5, 6, 7, 8]);
    write_table(out, &table)?;
    for r in rows {
        if !r.not_evaluated_policies.is_empty() {
            writeln!(
                out,
                "{}: {} {} flowq does not evaluate (verdicts for the pods they select say so): {}",
                r.snapshot,
                r.not_evaluated,
                if r.not_evaluated == 1 {
                    "policy"
                } else {
                    "policies"
                },
                r.not_evaluated_policies.join(", ")
            )?;
        }
        if !r.ignored.is_empty() {
            writeln!(
                out,
                "{}: ignored kinds: {}",
                r.snapshot,
                r.ignored.join(", ")
            )?;
        }
        match (r.warnings.first(), verbose) {
            (None, _) => {}
            (Some(_), true) => {
                for w in &r.warnings {
                    writeln!(out, "{}: warning: {w}", r.snapshot)?;
                }
            }
            (Some(first), false) => writeln!(
                out,
                "{}: {} warning{} (first: {first}); -v to list all",
                r.snapshot,
                r.warnings.len(),
                if r.warnings.len() == 1 { "" } else { "s" }
            )?,
        }
    }
    Ok(())
}
