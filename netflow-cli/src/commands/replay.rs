//! `flowq replay`: recorded connections evaluated against changed NetworkPolicies (`--policies`
//! instead of the snapshot's, `--add` on top of them), one row per connection whose computed
//! verdict flips (every connection with `--all`); `--fail-on-new-denies` exits 1 when an
//! allowed connection becomes denied.

use std::io::Write;

use anyhow::{bail, Result};
use netflow_core::query::ReplayRow;
use netflow_core::{DeclaredRow, PolicyEdit};

use super::Run;
use crate::args::{OutputFormat, ReplayArgs};
use crate::diagnostics::{footer, manifest_problems};
use crate::output::table::{thousands, write_replay, TimeStyle};
use crate::output::{write_rows, Destination};
use crate::settings;

/// Recorded connections that were allowed and become denied: exit 1 with
/// `--fail-on-new-denies`.
#[derive(Debug)]
pub struct NewDenies(pub u64);

impl std::fmt::Display for NewDenies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} recorded connection{} that {} allowed become{} denied (--fail-on-new-denies)",
            self.0,
            if self.0 == 1 { "" } else { "s" },
            if self.0 == 1 { "was" } else { "were" },
            if self.0 == 1 { "s" } else { "" }
        )
    }
}

impl std::error::Error for NewDenies {}

/// Runs the command.
pub fn run(args: &ReplayArgs, stdout: &mut dyn Write) -> Result<()> {
    if args.policies.is_empty() && args.add.is_empty() {
        bail!("replay needs the changed policies: --policies PATH (instead of the snapshot's) or --add PATH (on top of them)");
    }
    if args.snapshot.snapshot.is_empty() {
        bail!("replay needs --snapshot: connections are evaluated against its pods and policies");
    }
    let replace = settings::policy_manifests("policies", &args.policies)?;
    let add = settings::policy_manifests("add", &args.add)?;
    for (flag, m) in [("policies", &replace), ("add", &add)] {
        if let Some(m) = m {
            manifest_problems(flag, m, args.input.strict)?;
        }
    }
    let edit = PolicyEdit {
        replace: replace.map(|m| m.policies),
        add: add.map(|m| m.policies).unwrap_or_default(),
    };
    let filter = settings::flow_filter(&args.filter, &[], chrono::Utc::now())?;
    let run = Run::new(&args.input, &args.snapshot, filter)?;
    let mut out = Destination::open(&args.output, stdout)?;
    let replay = run.read(|session| Ok(session.replay(&edit, args.all)?))?;
    let counts = replay.counts;
    if args.output.output != OutputFormat::Table {
        let rows: Vec<ReplayRow> = replay.connections.iter().map(ReplayRow::of).collect();
        write_rows(args.output.output, ReplayRow::COLUMNS, &rows, &mut out)?;
    } else {
        let flips = counts.to_allow + counts.to_deny;
        if replay.connections.is_empty() {
            writeln!(out, "No recorded connection changes verdict.")?;
        } else {
            let style = TimeStyle::for_times(replay.connections.iter().flat_map(|c| {
                c.connection
                    .first_seen
                    .iter()
                    .chain(c.connection.last_seen.iter())
            }));
            write_replay(&mut out, &replay.connections, style)?;
        }
        let attempts =
            |n: u64| format!("{} attempt{}", thousands(n), if n == 1 { "" } else { "s" });
        writeln!(
            out,
            "{} connection{} change{}: {} denied → allowed ({}), {} allowed → denied ({}); {} \
             record{} unchanged, {} not evaluated {}.",
            thousands(flips),
            if flips == 1 { "" } else { "s" },
            if flips == 1 { "s" } else { "" },
            thousands(counts.to_allow),
            attempts(counts.to_allow_attempts),
            thousands(counts.to_deny),
            attempts(counts.to_deny_attempts),
            thousands(counts.unchanged_records),
            if counts.unchanged_records == 1 {
                ""
            } else {
                "s"
            },
            thousands(counts.not_evaluated_records),
            footer(&replay.summary)
        )?;
    }
    let finished = run.finish(&replay.summary);
    if finished.is_ok() && args.fail_on_new_denies && counts.to_deny > 0 {
        out.finish()?;
        return Err(NewDenies(counts.to_deny).into());
    }
    out.settle(finished)
}
