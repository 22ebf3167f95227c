//! `flowq flows`: every flow record, one row per record as the log has it. Also lists the
//! records of `flowq denied --each`.

use std::io::Write;

use anyhow::Result;
use netflow_core::query::FlowCells;
use netflow_core::{DeclaredRow, Flow, FlowRow};

use super::Run;
use crate::args::{FlowsArgs, OutputFormat};
use crate::diagnostics::{empty_is_no_answer, footer};
use crate::output::table::{thousands, write_flows};
use crate::output::terminal::Layout;
use crate::output::{Destination, RowSink};
use crate::settings;

/// Runs the command.
pub fn run(args: &FlowsArgs, stdout: &mut dyn Write) -> Result<()> {
    let filter = settings::flow_filter(&args.filter, &args.verdict, chrono::Utc::now())?;
    let run = Run::new(&args.input, &args.snapshot, filter)?;
    let out = Destination::open(&args.output, stdout)?;
    let layout = Layout::choose(args.wide);
    list_records(&run, args.output.output, layout, out, "flow", |_| true)
}

/// Writes one row per record that `keep` accepts: streamed for machine formats, as a table
/// in `layout` (which needs every row first) otherwise. `noun` names the records in the
/// footer.
pub fn list_records(
    run: &Run,
    format: OutputFormat,
    layout: Layout,
    mut out: Destination,
    noun: &str,
    keep: impl Fn(&Flow) -> bool,
) -> Result<()> {
    if format != OutputFormat::Table {
        let mut sink = RowSink::open(format, FlowRow::COLUMNS, &mut out)?;
        let mut cells = FlowCells::default();
        let summary = run.read(|session| {
            session.for_each_flow(|flow| {
                if keep(&flow) {
                    let why = session.why_of(&flow);
                    sink.write(&cells.view(&flow, why.as_ref()))?;
                }
                Ok(())
            })
        })?;
        sink.finish()?;
        return out.settle(run.finish(&summary));
    }
    let mut flows = Vec::new();
    let summary = run.read(|session| {
        session.for_each_flow(|flow| -> Result<()> {
            if keep(&flow) {
                flows.push(flow);
            }
            Ok(())
        })
    })?;
    if flows.is_empty() {
        if !empty_is_no_answer(&summary) {
            writeln!(out, "No {noun} records {}.", footer(&summary))?;
        }
    } else {
        write_flows(&mut out, &flows, layout)?;
        writeln!(
            out,
            "{} {noun} record{} {}.",
            thousands(flows.len() as u64),
            if flows.len() == 1 { "" } else { "s" },
            footer(&summary)
        )?;
    }
    out.settle(run.finish(&summary))
}
