//! `flowq denied`: denied connections, one row per connection (or per record with `--each`).

use std::io::Write;

use anyhow::Result;
use netflow_core::{DeclaredRow, DeniedQuery, DeniedRow};

use super::Run;
use crate::args::{DeniedArgs, OutputFormat};
use crate::diagnostics::{empty_is_no_answer, footer};
use crate::output::table::{thousands, write_denied, TimeStyle};
use crate::output::terminal::Layout;
use crate::output::{write_rows, Destination};
use crate::settings;

/// Runs the command.
pub fn run(args: &DeniedArgs, stdout: &mut dyn Write) -> Result<()> {
    let filter = settings::flow_filter(&args.filter, &[], chrono::Utc::now())?;
    let run = Run::new(&args.input, &args.snapshot, filter)?;
    let mut out = Destination::open(&args.output, stdout)?;
    let query = DeniedQuery {
        include_drops: args.include_drops,
        unanswered_within: (!args.no_unanswered)
            .then(|| chrono::Duration::seconds(args.reply_window.into())),
        policy_denials: true,
    };
    let what = if args.include_drops {
        "denied or dropped"
    } else {
        "denied"
    };
    if args.each {
        let layout = Layout::choose(args.wide);
        return super::flows::list_records(&run, args.output.output, layout, out, what, |flow| {
            query.counts(flow)
        });
    }

    let denied = run.read(|session| Ok(session.denied(&query)?))?;
    if denied.verdictless > 0 && args.snapshot.snapshot.is_empty() {
        eprintln!(
            "flowq: note: {} flow record{} no verdict (VPC Flow Logs observe, they do not \
             decide): only requests that got no reply are listed; pass --snapshot (kubectl get \
             namespaces,pods,services,endpointslices,nodes,networkpolicies -A -o json) to list \
             the connections the policies deny",
            thousands(denied.verdictless),
            if denied.verdictless == 1 {
                " carries"
            } else {
                "s carry"
            },
        );
    }
    let connections = &denied.connections;
    if connections.is_empty() && empty_is_no_answer(&denied.summary) {
        return out.settle(run.finish(&denied.summary));
    }
    if args.output.output != OutputFormat::Table {
        let rows: Vec<DeniedRow> = connections.iter().map(DeniedRow::of).collect();
        write_rows(args.output.output, DeniedRow::COLUMNS, &rows, &mut out)?;
        return out.settle(run.finish(&denied.summary));
    }
    if connections.is_empty() {
        writeln!(out, "No {what} connections {}.", footer(&denied.summary))?;
    } else {
        let attempts = denied.attempts();
        let style = TimeStyle::for_times(
            connections
                .iter()
                .flat_map(|c| c.first_seen.iter().chain(c.last_seen.iter())),
        );
        write_denied(&mut out, connections, style, Layout::choose(args.wide))?;
        writeln!(
            out,
            "{} {what} connection{} ({} attempt{}) {}.",
            thousands(connections.len() as u64),
            if connections.len() == 1 { "" } else { "s" },
            thousands(attempts),
            if attempts == 1 { "" } else { "s" },
            footer(&denied.summary)
        )?;
        if connections.iter().any(|c| c.inexact) {
            writeln!(
                out,
                "~ counts folded or sampled by the source (Calico aggregation, GKE count, VPC \
                 sampling) are not exact."
            )?;
        }
    }
    out.settle(run.finish(&denied.summary))
}
