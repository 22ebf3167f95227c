//! `flowq flows`: every flow record, one row per record as the log has it. Also lists the
//! records of `flowq denied --each`.

use std::io::Write;

use anyhow::Result;
use netflow_core::frame::parquet::ParquetRowWriter;
use netflow_core::query::{Explainer, FlowRow};
use netflow_core::Flow;

use super::Pipeline;
use crate::args::{FlowsArgs, OutputFormat};
use crate::output::table::{flows_table, thousands, write_table};
use crate::output::{Destination, RecordWriter};
use crate::settings;

/// Runs the command.
pub fn run(args: &FlowsArgs, stdout: &mut dyn Write) -> Result<()> {
    let filter = settings::flow_filter(&args.filter, &args.verdict, chrono::Utc::now())?;
    let pipeline = Pipeline::new(
        &args.input,
        settings::snapshots_in_background(&args.snapshot)?,
        filter,
    )?;
    let out = Destination::open(&args.output, stdout)?;
    list_records(&pipeline, args.output.output, out, "flow", |_| true)
}

/// Writes one row per record that `keep` accepts: streamed for machine formats, as a table
/// (which needs every row first) otherwise. `noun` names the records in the footer.
pub fn list_records(
    pipeline: &Pipeline,
    format: OutputFormat,
    mut out: Destination,
    noun: &str,
    keep: impl Fn(&Flow) -> bool,
) -> Result<()> {
    let snapshots = pipeline.snapshots()?;
    let explainer = (!snapshots.is_empty()).then(|| Explainer::new(snapshots));
    let row = |flow: &Flow| {
        let why = explainer.as_ref().and_then(|e| e.explain_flow(flow));
        FlowRow::of(flow).with_why(why.as_ref())
    };
    if format == OutputFormat::Parquet {
        let mut writer = ParquetRowWriter::<FlowRow, _>::new(&mut out)?;
        let mut write_error = None;
        let outcome = pipeline.run(|flow| {
            if write_error.is_none() && keep(&flow) {
                write_error = writer.push(&row(&flow)).err();
            }
        })?;
        if let Some(e) = write_error {
            return Err(e.into());
        }
        writer.finish()?;
        return out.settle(pipeline.finish(&outcome));
    }
    if format != OutputFormat::Table {
        let mut outcome = None;
        if let Some(mut writer) = RecordWriter::new(format, &mut out) {
            let mut write_error = None;
            let read = pipeline.run(|flow| {
                if write_error.is_none() && keep(&flow) {
                    write_error = writer.write(&row(&flow)).err();
                }
            })?;
            if let Some(e) = write_error {
                return Err(e.into());
            }
            writer.finish()?;
            outcome = Some(read);
        }
        let outcome = outcome.unwrap_or_default();
        return out.settle(pipeline.finish(&outcome));
    }
    let mut flows = Vec::new();
    let outcome = pipeline.run(|flow| {
        if keep(&flow) {
            flows.push(flow);
        }
    })?;
    if flows.is_empty() {
        writeln!(out, "No {noun} records {}.", outcome.footer())?;
    } else {
        write_table(&mut out, &flows_table(&flows))?;
        writeln!(
            out,
            "{} {noun} records {}.",
            thousands(flows.len() as u64),
            outcome.footer()
        )?;
    }
    out.settle(pipeline.finish(&outcome))
}
