//! `flowq report`: the denied connections of the inputs as one self-contained HTML page
//! (table, graph, timeline), written to `--out`.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use netflow_core::{DeniedQuery, DeniedRow};

use super::Run;
use crate::args::ReportArgs;
use crate::diagnostics::footer;
use crate::output::Destination;
use crate::report::{self, timeline::Timeline, Report};
use crate::settings;

/// Runs the command.
pub fn run(args: &ReportArgs, _stdout: &mut dyn Write) -> Result<()> {
    let filter = settings::flow_filter(&args.filter, &[], chrono::Utc::now())?;
    let run = Run::new(&args.input, &args.snapshot, filter)?;
    let mut out = Destination::file(&args.out)?;
    let query = DeniedQuery {
        include_drops: args.include_drops,
        unanswered_within: None,
        policy_denials: false,
    };
    let mut per_second: BTreeMap<i64, u64> = BTreeMap::new();
    let denied = run.read(|session| {
        Ok(session.denied_with(&query, |flow| {
            if let Some(t) = flow.time {
                let n = per_second.entry(t.timestamp()).or_default();
                *n = n.saturating_add(flow.count);
            }
        })?)
    })?;
    let rows: Vec<DeniedRow> = denied.connections.iter().map(DeniedRow::of).collect();
    let title = args.title.clone().unwrap_or_else(|| {
        format!(
            "Denied connections: {}",
            settings::input_names(&args.input).join(", ")
        )
    });
    let page = report::render(&Report {
        title: &title,
        generated: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        footer: footer(&denied.summary),
        rows: &rows,
        timeline: Timeline::from_seconds(&per_second),
    });
    out.write_all(page.as_bytes())?;
    out.settle(run.finish(&denied.summary))
}
