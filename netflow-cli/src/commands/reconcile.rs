//! `flowq reconcile`: every observed connection compared with what the snapshot's policies
//! decide — a summary per namespace pair, then the connections, disagreements first, each
//! with the causes the evidence supports. `--fail-on-mismatch` exits 1 on any disagreement.

use std::io::Write;

use anyhow::{bail, Result};
use netflow_core::flow::Direction;
use netflow_core::query::{Agreement, ReconcileRow, ReconcileSummaryRow, ReconciledConnection};
use netflow_core::{DeclaredRow, Reconciliation};

use super::Run;
use crate::args::{OutputFormat, ReconcileArgs};
use crate::diagnostics::{empty_is_no_answer, footer};
use crate::output::table::{
    align_right, endpoint_cell, new_table, port_cell, thousands, where_cell, write_long_table,
    write_table,
};
use crate::output::{write_rows, Destination};
use crate::settings;

/// `--fail-on-mismatch` found this many disagreeing connections: exit 1.
#[derive(Debug)]
pub struct MismatchFound(pub usize);

impl std::fmt::Display for MismatchFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the log and the policies disagree on {} connection{}",
            self.0,
            if self.0 == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for MismatchFound {}

/// Runs the command.
pub fn run(args: &ReconcileArgs, stdout: &mut dyn Write) -> Result<()> {
    if args.snapshot.snapshot.is_empty() {
        bail!(
            "reconcile compares the log with a snapshot's policies: pass --snapshot (kubectl get \
             namespaces,pods,services,endpointslices,nodes,networkpolicies -A -o json)"
        );
    }
    let filter = settings::flow_filter(&args.filter, &[], chrono::Utc::now())?;
    let run = Run::new(&args.input, &args.snapshot, filter)?;
    let mut out = Destination::open(&args.output, stdout)?;
    let window = chrono::Duration::seconds(args.reply_window.into());
    let result = run.read(|session| Ok(session.reconcile(window)?))?;
    let status = write(args, &result, &mut out).and_then(|()| run.finish(&result.summary));
    let mismatches = result.mismatches();
    match status {
        Ok(()) if args.fail_on_mismatch && mismatches > 0 => {
            out.finish()?;
            Err(MismatchFound(mismatches).into())
        }
        status => out.settle(status),
    }
}

fn write(args: &ReconcileArgs, result: &Reconciliation, out: &mut Destination) -> Result<()> {
    let all = &result.connections;
    if all.is_empty() && empty_is_no_answer(&result.summary) {
        return Ok(());
    }
    let listed: Vec<&ReconciledConnection> = all
        .iter()
        .filter(|c| !args.mismatches_only || c.agreement.is_mismatch())
        .collect();
    let summary = ReconcileSummaryRow::of_all(all);
    match args.output.output {
        OutputFormat::Table => {}
        OutputFormat::Json => {
            // One document: the summary, then the rows (the other formats hold one kind of
            // row, the connections).
            let rows: Vec<ReconcileRow> = listed.iter().map(|c| ReconcileRow::of(c)).collect();
            serde_json::to_writer_pretty(
                &mut *out,
                &serde_json::json!({ "summary": summary, "connections": rows }),
            )?;
            writeln!(out)?;
            return Ok(());
        }
        format => {
            let rows: Vec<ReconcileRow> = listed.iter().map(|c| ReconcileRow::of(c)).collect();
            return write_rows(format, ReconcileRow::COLUMNS, &rows, out);
        }
    }
    if all.is_empty() {
        writeln!(out, "No connections {}.", footer(&result.summary))?;
        return Ok(());
    }
    write_table(out, &summary_table(&summary))?;
    writeln!(out)?;
    if !listed.is_empty() {
        write_long_table(out, &listed, connections_table)?;
    }
    let mismatches = result.mismatches();
    writeln!(
        out,
        "{} connection{}, {} where the log and the policies disagree, {}.",
        thousands(all.len() as u64),
        if all.len() == 1 { "" } else { "s" },
        thousands(mismatches as u64),
        footer(&result.summary)
    )?;
    Ok(())
}

/// Counts per namespace pair.
fn summary_table(rows: &[ReconcileSummaryRow]) -> comfy_table::Table {
    let mut table = new_table(&[
        "SOURCE NS",
        "DESTINATION NS",
        "CONNECTIONS",
        "AGREE",
        "LOG ALLOWED, POLICIES DENY",
        "LOG DENIED, POLICIES ALLOW",
        "UNANSWERED, POLICIES ALLOW",
        "NOT EVALUATED",
    ]);
    for r in rows {
        table.add_row(vec![
            r.src_namespace.clone(),
            r.dst_namespace.clone(),
            thousands(r.connections),
            thousands(r.agree),
            thousands(r.log_allows_policies_deny),
            thousands(r.log_denies_policies_allow),
            thousands(r.unanswered_policies_allow),
            thousands(r.not_evaluated),
        ]);
    }
    align_right(&mut table, &[2, 3, 4, 5, 6, 7]);
    table
}

/// One row per connection: class, ends, port, what the log shows and where, what the
/// policies say, attempts, and the causes.
fn connections_table(rows: &[&ReconciledConnection]) -> comfy_table::Table {
    let mut table = new_table(&[
        "CLASS",
        "SOURCE",
        "DESTINATION",
        "PORT",
        "LOG",
        "POLICIES",
        "COUNT",
        "CAUSE",
    ]);
    for r in rows {
        let c = &r.connection;
        let mut log = r.observed.as_str().to_string();
        let place = where_cell(c.direction.as_str(), c.node.as_deref());
        if place != "unknown" {
            log.push_str(&format!(" ({place})"));
        }
        if !c.drop_reasons.is_empty() {
            log.push_str(&format!("\n{}", c.drop_reasons.join(", ")));
        }
        let side = ReconcileRow::of(r).policy_verdict;
        let policies = match (&c.why, side) {
            // A record from one end speaks for that end: say what its side decides first.
            (Some(why), Some(verdict)) if c.direction != Direction::Unknown => {
                let verb = if verdict == "allow" {
                    "allows"
                } else {
                    "denies"
                };
                format!("{} {verb}\n{}", c.direction.as_str(), why.summary)
            }
            (Some(why), _) => why.summary.clone(),
            (None, _) => "-".to_string(),
        };
        let causes = if r.causes.is_empty() {
            "-".to_string()
        } else {
            r.causes
                .iter()
                .map(|k| format!("{}: {}", k.kind.as_str(), k.detail))
                .collect::<Vec<_>>()
                .join("\n")
        };
        table.add_row(vec![
            class_cell(r.agreement),
            endpoint_cell(&c.src),
            endpoint_cell(&c.dst),
            port_cell(c.dst.port, c.protocol),
            log,
            policies,
            if c.inexact {
                format!("~{}", thousands(c.count))
            } else {
                thousands(c.count)
            },
            causes,
        ]);
    }
    align_right(&mut table, &[6]);
    table
}

/// The class in words, marked when it is a disagreement.
fn class_cell(class: Agreement) -> String {
    if class.is_mismatch() {
        format!("! {}", class.describe())
    } else {
        class.describe().to_string()
    }
}
