//! `flowq denied`: denied connections, one row per connection (or per record with `--each`).

use std::io::Write;

use anyhow::Result;
use netflow_core::frame::parquet::ParquetRowWriter;
use netflow_core::query::{DeniedAggregator, DeniedRow, Explainer, UnansweredDetector};
use netflow_core::{Action, Flow};

use super::Pipeline;
use crate::args::{DeniedArgs, OutputFormat};
use crate::output::table::{denied_table, thousands, write_long_table, TimeStyle};
use crate::output::{Destination, RecordWriter};
use crate::settings;

/// Runs the command.
pub fn run(args: &DeniedArgs, stdout: &mut dyn Write) -> Result<()> {
    let filter = settings::flow_filter(&args.filter, &[], chrono::Utc::now())?;
    let pipeline = Pipeline::new(
        &args.input,
        settings::snapshots_in_background(&args.snapshot)?,
        filter,
    )?;
    let mut out = Destination::open(&args.output, stdout)?;
    let wanted = |flow: &Flow| {
        flow.action == Action::Denied || (args.include_drops && flow.action == Action::Dropped)
    };
    let what = if args.include_drops {
        "denied or dropped"
    } else {
        "denied"
    };

    if args.each {
        return super::flows::list_records(&pipeline, args.output.output, out, what, wanted);
    }

    let mut aggregator = DeniedAggregator::default();
    let mut unanswered = args
        .unanswered
        .then(|| UnansweredDetector::new(chrono::Duration::seconds(args.reply_window.into())));
    let outcome = pipeline.run(|flow| {
        if wanted(&flow) {
            aggregator.add(&flow);
        } else {
            aggregator.observe(&flow);
            if let Some(detector) = unanswered.as_mut() {
                detector.observe(&flow);
            }
        }
    })?;
    for flow in unanswered
        .map(UnansweredDetector::finish)
        .unwrap_or_default()
    {
        aggregator.add(&flow);
    }
    let mut connections = aggregator.finish();
    let snapshots = pipeline.snapshots()?;
    if !snapshots.is_empty() {
        let explainer = Explainer::new(snapshots);
        for c in &mut connections {
            c.explain(&explainer);
        }
    }
    if args.output.output == OutputFormat::Parquet {
        let mut writer = ParquetRowWriter::<DeniedRow, _>::new(&mut out)?;
        for c in &connections {
            writer.push(&DeniedRow::of(c))?;
        }
        writer.finish()?;
        return out.settle(pipeline.finish(&outcome));
    }
    if args.output.output != OutputFormat::Table {
        if let Some(writer) = RecordWriter::new(args.output.output, &mut out) {
            writer.write_all(connections.iter().map(DeniedRow::of))?;
        }
        return out.settle(pipeline.finish(&outcome));
    }
    if connections.is_empty() {
        writeln!(out, "No {what} connections {}.", outcome.footer())?;
    } else {
        {
            let attempts = connections
                .iter()
                .fold(0u64, |total, c| total.saturating_add(c.count));
            let style = TimeStyle::for_times(
                connections
                    .iter()
                    .flat_map(|c| c.first_seen.iter().chain(c.last_seen.iter())),
            );
            write_long_table(&mut out, &connections, |rows| denied_table(rows, style))?;
            writeln!(
                out,
                "{} {what} connection{} ({} attempt{}) {}.",
                thousands(connections.len() as u64),
                if connections.len() == 1 { "" } else { "s" },
                thousands(attempts),
                if attempts == 1 { "" } else { "s" },
                outcome.footer()
            )?;
            if connections.iter().any(|c| c.inexact) {
                writeln!(
                    out,
                    "~ counts folded or sampled by the source (Calico aggregation, GKE count, VPC \
                     sampling) are not exact."
                )?;
            }
        }
    }
    out.settle(pipeline.finish(&outcome))
}
