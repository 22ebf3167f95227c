//! `flowq suggest`: the smallest NetworkPolicy change that allows the selected denied
//! connections, as YAML (or a JSON List) for `kubectl apply -f`, or one row per added rule.
//! The filters select which denied connections to allow; every recorded connection is still
//! read, so that what else the change admits is known and said.

use std::io::Write;

use anyhow::{bail, Result};
use netflow_core::{DeclaredRow, DeniedQuery, FlowFilter, SuggestRow};

use super::Run;
use crate::args::{OutputFormat, SuggestArgs, SuggestFormat};
use crate::diagnostics::footer;
use crate::output::table::{new_table, write_table};
use crate::output::{write_rows, Destination};
use crate::settings;

/// Connections without a suggestion listed on stderr without `-v`.
const UNFIXABLE_SHOWN: usize = 5;

/// Runs the command.
pub fn run(args: &SuggestArgs, stdout: &mut dyn Write) -> Result<()> {
    if args.snapshot.snapshot.is_empty() {
        bail!("suggest needs --snapshot: a change is made against its pods and policies");
    }
    let select = settings::flow_filter(&args.filter, &[], chrono::Utc::now())?;
    let run = Run::new(&args.input, &args.snapshot, FlowFilter::default())?;
    let mut out = match &args.out {
        Some(path) => Destination::file(path)?,
        None => Destination::Stdout(stdout),
    };
    let query = DeniedQuery {
        include_drops: args.include_drops,
        unanswered_within: None,
        // Suggestions are made for denials the log records; requests of verdict-less logs
        // that only the snapshot denies are not (yet) taken as denials to fix.
        policy_denials: false,
    };
    let suggest = run.read(|session| Ok(session.suggest(&select, &query)?))?;
    {
        let mut err = std::io::stderr().lock();
        let shown = if args.input.verbose {
            usize::MAX
        } else {
            UNFIXABLE_SHOWN
        };
        for (connection, why) in suggest.unfixable.iter().take(shown) {
            let _ = writeln!(
                err,
                "flowq: warning: nothing to suggest for {connection}: {why}"
            );
        }
        if suggest.unfixable.len() > shown {
            let _ = writeln!(
                err,
                "flowq: warning: … and {} more selected connections with nothing to suggest; -v \
                 to list all",
                suggest.unfixable.len() - shown
            );
        }
        if !suggest.also_admitted.is_empty() {
            let _ = writeln!(
                err,
                "flowq: warning: the change also admits {} recorded connection{} that {} not \
                 selected (selectors name workloads, not single pods): {}",
                suggest.also_admitted.len(),
                if suggest.also_admitted.len() == 1 {
                    ""
                } else {
                    "s"
                },
                if suggest.also_admitted.len() == 1 {
                    "was"
                } else {
                    "were"
                },
                {
                    let mut list: Vec<&str> = suggest
                        .also_admitted
                        .iter()
                        .take(shown)
                        .map(String::as_str)
                        .collect();
                    let more = suggest.also_admitted.len().saturating_sub(shown);
                    let tail = format!("… and {more} more (-v to list all)");
                    if more > 0 {
                        list.push(&tail);
                    }
                    list.join("; ")
                }
            );
        }
        let new_denies = suggest
            .flips
            .iter()
            .filter(|f| f.change() == netflow_core::query::Change::ToDeny)
            .count();
        if new_denies > 0 {
            let _ = writeln!(
                err,
                "flowq: warning: the change denies {new_denies} recorded connection(s) that were \
                 allowed: check with flowq replay --add"
            );
        }
        if suggest.selected.is_empty() {
            let _ = writeln!(
                err,
                "flowq: no denied connection matches the filters {}",
                footer(&suggest.summary)
            );
        }
    }
    let rows: Vec<SuggestRow> = suggest.policies.iter().flat_map(SuggestRow::of).collect();
    match args.output {
        SuggestFormat::Yaml => write!(out, "{}", suggest.to_yaml()?)?,
        SuggestFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &suggest.to_json())?;
            writeln!(out)?;
        }
        SuggestFormat::Ndjson => {
            write_rows(OutputFormat::Ndjson, SuggestRow::COLUMNS, &rows, &mut out)?
        }
        SuggestFormat::Csv => write_rows(OutputFormat::Csv, SuggestRow::COLUMNS, &rows, &mut out)?,
        SuggestFormat::Table => {
            if rows.is_empty() {
                writeln!(out, "No change to suggest.")?;
            } else {
                let mut table =
                    new_table(&["ACTION", "POLICY", "RULE", "PEERS", "PORTS", "ADMITS"]);
                for r in &rows {
                    table.add_row(vec![
                        r.action.to_string(),
                        format!("{}/{}", r.namespace, r.policy),
                        format!("{} {}", r.direction, r.rule + 1),
                        r.peers.join("\n"),
                        r.ports.join(", "),
                        r.admits.join("\n"),
                    ]);
                }
                write_table(&mut out, &table)?;
            }
            let selected = suggest.selected.len();
            writeln!(
                out,
                "{} polic{} for {} selected denied connection{} ({} without a NetworkPolicy fix) {}.",
                suggest.policies.len(),
                if suggest.policies.len() == 1 { "y" } else { "ies" },
                selected,
                if selected == 1 { "" } else { "s" },
                suggest.unfixable.len(),
                footer(&suggest.summary)
            )?;
        }
    }
    out.settle(run.finish(&suggest.summary))
}
