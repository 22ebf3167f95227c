//! `flowq top`: flows grouped by columns (and time buckets), ranked by count, with bytes,
//! packets and distinct peers.

use std::io::Write;

use anyhow::{Context, Result};
use netflow_core::frame::{TopAggregator, TopQuery};
use netflow_core::query::filter::parse_duration;
use netflow_core::query::{Explainer, FlowRow};

use super::Pipeline;
use crate::args::{OutputFormat, TopArgs};
use crate::output::frame::{write_frame, write_table_of};
use crate::output::table::thousands;
use crate::output::Destination;
use crate::settings;

/// Columns that need the snapshot's verdict on each flow.
const WHY_COLUMNS: &[&str] = &["policy_verdict", "mismatch"];

/// Runs the command.
pub fn run(args: &TopArgs, stdout: &mut dyn Write) -> Result<()> {
    let bucket = args
        .bucket
        .as_deref()
        .map(|b| {
            parse_duration(b)
                .filter(|d| *d > chrono::TimeDelta::zero())
                .with_context(|| {
                    format!("invalid --bucket {b:?}: expected a width like 30s, 1m, 5m, 1h or 1d")
                })
        })
        .transpose()?;
    let query = TopQuery::new(args.by.clone(), bucket, args.k)?;
    let filter = settings::flow_filter(&args.filter, &args.verdict, chrono::Utc::now())?;
    let pipeline = Pipeline::new(
        &args.input,
        settings::snapshots_in_background(&args.snapshot)?,
        filter,
    )?;
    let explainer = query
        .by()
        .iter()
        .any(|k| WHY_COLUMNS.contains(&k.as_str()))
        .then(|| pipeline.snapshots())
        .transpose()?
        .filter(|snapshots| !snapshots.is_empty())
        .map(Explainer::new);

    let mut out = Destination::open(&args.output, stdout)?;
    let mut aggregator = TopAggregator::new(query);
    let mut failure = None;
    let mut flows = 0u64;
    let mut replies = 0u64;
    let outcome = pipeline.run(|flow| {
        if failure.is_some() {
            return;
        }
        if !args.include_replies && flow.is_reply == Some(true) {
            replies += 1;
            return;
        }
        flows += 1;
        let why = explainer.as_ref().and_then(|e| e.explain_flow(&flow));
        if let Err(e) = aggregator.push(&FlowRow::of(&flow).with_why(why.as_ref())) {
            failure = Some(e);
        }
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    let mut groups = aggregator.finish()?;
    if args.output.output == OutputFormat::Table {
        if groups.height() == 0 {
            writeln!(out, "No flow records {}.", outcome.footer())?;
        } else {
            write_table_of(&groups, &mut out)?;
            writeln!(
                out,
                "{} group{} of {} flow record{}{} {}.",
                thousands(groups.height() as u64),
                if groups.height() == 1 { "" } else { "s" },
                thousands(flows),
                if flows == 1 { "" } else { "s" },
                match replies {
                    0 => String::new(),
                    1 => " (1 reply left out; --include-replies)".to_string(),
                    n => format!(" ({} replies left out; --include-replies)", thousands(n)),
                },
                outcome.footer()
            )?;
        }
    } else {
        write_frame(&mut groups, args.output.output, &mut out)?;
    }
    out.settle(pipeline.finish(&outcome))
}
