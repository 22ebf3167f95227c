//! `flowq report`: the denied connections of the inputs as one self-contained HTML page
//! (table, graph, timeline), written to `--out`.

use std::io::Write;

use anyhow::Result;
use netflow_core::frame::{TopAggregator, TopQuery};
use netflow_core::query::{DeniedAggregator, DeniedRow, Explainer, FlowRow};
use netflow_core::{Action, Flow};

use super::Pipeline;
use crate::args::ReportArgs;
use crate::output::Destination;
use crate::report::{self, timeline::Timeline, Report};
use crate::settings;

/// Runs the command.
pub fn run(args: &ReportArgs, _stdout: &mut dyn Write) -> Result<()> {
    let filter = settings::flow_filter(&args.filter, &[], chrono::Utc::now())?;
    let pipeline = Pipeline::new(
        &args.input,
        settings::snapshots_in_background(&args.snapshot)?,
        filter,
    )?;
    let mut out = Destination::file(&args.out)?;
    let wanted = |flow: &Flow| {
        flow.action == Action::Denied || (args.include_drops && flow.action == Action::Dropped)
    };

    let mut aggregator = DeniedAggregator::default();
    let per_second = TopQuery::new(
        vec!["verdict".into()],
        Some(chrono::TimeDelta::seconds(1)),
        0,
    )?;
    let mut times = TopAggregator::new(per_second);
    let mut failure = None;
    let outcome = pipeline.run(|flow| {
        if wanted(&flow) {
            aggregator.add(&flow);
            if failure.is_none() {
                failure = times.push(&FlowRow::of(&flow)).err();
            }
        } else {
            aggregator.observe(&flow);
        }
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    let mut connections = aggregator.finish();
    let snapshots = pipeline.snapshots()?;
    if !snapshots.is_empty() {
        let explainer = Explainer::new(snapshots);
        for c in &mut connections {
            c.explain(&explainer);
        }
    }
    let rows: Vec<DeniedRow> = connections.iter().map(DeniedRow::of).collect();
    let timeline = Timeline::from_seconds(&times.finish()?)?;
    let title = args.title.clone().unwrap_or_else(|| {
        format!(
            "Denied connections: {}",
            settings::input_names(&args.input).join(", ")
        )
    });
    let page = report::render(&Report {
        title: &title,
        generated: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        footer: outcome.footer(),
        rows: &rows,
        timeline,
    });
    out.write_all(page.as_bytes())?;
    out.settle(pipeline.finish(&outcome))
}
