//! `flowq top`: flows grouped by columns (and time buckets), ranked by count, with bytes,
//! packets and distinct peers.

use std::io::Write;

use anyhow::{Context, Result};
use netflow_core::query::filter::parse_duration;
use netflow_core::TopQuery;

use super::Run;
use crate::args::{OutputFormat, TopArgs};
use crate::diagnostics::{empty_is_no_answer, footer};
use crate::output::table::{rows_table, thousands, write_table};
use crate::output::{write_rows, Destination};
use crate::settings::{self, flag_error};

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
    let query = TopQuery::new(args.by.clone(), bucket, args.k)
        .map_err(|e| flag_error("by", e))?
        .include_replies(args.include_replies);
    let filter = settings::flow_filter(&args.filter, &args.verdict, chrono::Utc::now())?;
    let run = Run::new(&args.input, &args.snapshot, filter)?;
    let mut out = Destination::open(&args.output, stdout)?;
    let top = run.read(|session| Ok(session.top(&query)?))?;
    let groups = &top.groups;
    if groups.rows.is_empty() && empty_is_no_answer(&top.summary) {
        return out.settle(run.finish(&top.summary));
    }
    if args.output.output != OutputFormat::Table {
        write_rows(args.output.output, &groups.columns, &groups.rows, &mut out)?;
        return out.settle(run.finish(&top.summary));
    }
    if groups.rows.is_empty() {
        writeln!(out, "No flow records {}.", footer(&top.summary))?;
    } else {
        write_table(&mut out, &rows_table(&groups.columns, &groups.rows))?;
        let (flows, replies) = (top.flows, top.replies_left_out);
        writeln!(
            out,
            "{} group{} of {} flow record{}{} {}.",
            thousands(groups.rows.len() as u64),
            if groups.rows.len() == 1 { "" } else { "s" },
            thousands(flows),
            if flows == 1 { "" } else { "s" },
            match replies {
                0 => String::new(),
                1 => " (1 reply left out; --include-replies)".to_string(),
                n => format!(" ({} replies left out; --include-replies)", thousands(n)),
            },
            footer(&top.summary)
        )?;
    }
    out.settle(run.finish(&top.summary))
}
