//! What a command says on stderr about its inputs once it has read them: skipped records
//! (with `-v`, every one), events the source lost, empty inputs, snapshot warnings; and the
//! error it ends with when an input could not be read or, with `--strict`, anything was
//! skipped. Also the footer line tables end with.

use std::io::Write;

use anyhow::Result;
use netflow_core::{ReadSummary, Session};

use crate::args::InputArgs;
use crate::output::table::thousands;

/// `in 2 files; 48,211 records read, 0 skipped` (plus what the source lost).
pub fn footer(summary: &ReadSummary) -> String {
    let n = summary.inputs();
    let records = summary.records();
    let mut text = format!(
        "in {n} {}; {} record{} read, {} skipped",
        if n == 1 { "file" } else { "files" },
        thousands(records),
        if records == 1 { "" } else { "s" },
        thousands(summary.skipped())
    );
    if summary.lost() > 0 {
        text.push_str(&format!(
            ", {} lost by the source",
            thousands(summary.lost())
        ));
    }
    let failed = summary.errors().count();
    if failed > 0 {
        text.push_str(&format!(
            "; {failed} {} could not be read in full (see the error)",
            if failed == 1 { "input" } else { "inputs" }
        ));
    }
    text
}

/// Whether an empty result would read like an answer it is not: an input could not be read
/// (in full), so "nothing found" says nothing. The error says what happened instead.
pub fn empty_is_no_answer(summary: &ReadSummary) -> bool {
    summary.errors().next().is_some()
}

/// Says on stderr what each snapshot holds, the policies flowq does not evaluate by name.
pub fn describe_snapshots(session: &Session) {
    let Ok(rows) = session.describe_snapshots() else {
        return;
    };
    let mut err = std::io::stderr().lock();
    for r in rows {
        let count =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut line = format!(
            "flowq: snapshot {:?}: {}, {}, {}, {}, {}",
            r.snapshot,
            count(r.namespaces, "namespace", "namespaces"),
            count(r.pods, "pod", "pods"),
            count(r.services, "service", "services"),
            count(r.nodes, "node", "nodes"),
            count(r.network_policies, "NetworkPolicy", "NetworkPolicies")
        );
        if r.not_evaluated > 0 {
            line.push_str(&format!(
                "; {} {} flowq does not evaluate: {}",
                r.not_evaluated,
                if r.not_evaluated == 1 {
                    "policy"
                } else {
                    "policies"
                },
                r.not_evaluated_policies.join(", ")
            ));
        }
        let _ = writeln!(err, "{line}");
    }
}

/// Warns about what the snapshots lacked (every warning with `-v`).
pub fn warn_snapshots(session: &Session, verbose: bool) {
    let Ok(set) = session.snapshots() else {
        return;
    };
    let mut err = std::io::stderr().lock();
    for s in set.snapshots() {
        if s.warnings.is_empty() {
            continue;
        }
        if verbose {
            for w in &s.warnings {
                let _ = writeln!(err, "flowq: warning: snapshot {:?}: {w}", s.source);
            }
        } else {
            let _ = writeln!(
                err,
                "flowq: warning: snapshot {:?}: {} warning{} (first: {}); -v to list all",
                s.source,
                s.warnings.len(),
                if s.warnings.len() == 1 { "" } else { "s" },
                s.warnings[0]
            );
        }
    }
}

/// Reports skipped records, lost events and failed inputs on stderr; returns an error when
/// an input failed, or when `--strict` and anything was skipped.
pub fn finish(session: &Session, input: &InputArgs, summary: &ReadSummary) -> Result<()> {
    warn_snapshots(session, input.verbose);
    let mut err = std::io::stderr().lock();
    for r in &summary.reports {
        if r.skipped > 0 {
            let first = &r.skips[0];
            let _ = writeln!(
                err,
                "flowq: warning: skipped {} of {} records in {:?} (first at line {}: {}); {}",
                thousands(r.skipped),
                thousands(r.records),
                r.input,
                first.line,
                first.cause,
                if input.verbose {
                    "all listed below"
                } else {
                    "use --strict to fail, -v to list all"
                }
            );
            if input.verbose {
                for s in &r.skips {
                    let _ = writeln!(err, "  {}:{}: {}", r.input, s.line, s.cause);
                }
                if r.skipped as usize > r.skips.len() {
                    let _ = writeln!(
                        err,
                        "  … and {} more",
                        thousands(r.skipped - r.skips.len() as u64)
                    );
                }
            }
        }
        for (source, lost) in &r.lost_by_source {
            let _ = writeln!(
                err,
                "flowq: warning: {:?}: the source itself lost {} events ({source}): the log \
                 is incomplete there",
                r.input,
                thousands(*lost)
            );
        }
        if r.incomplete > 0 {
            let _ = writeln!(
                err,
                "flowq: warning: {:?}: {} without a verdict record (verdict unknown): the log \
                 was cut or lost records",
                r.input,
                counted(r.incomplete, "flow", "flows")
            );
        }
        if r.orphans > 0 {
            let _ = writeln!(
                err,
                "flowq: warning: {:?}: {} without the evaluation of their packet (no flow): \
                 the log was cut or lost records",
                r.input,
                counted(r.orphans, "verdict record", "verdict records")
            );
        }
        if r.format.is_none() && r.failure.is_none() {
            let _ = writeln!(err, "flowq: warning: {:?} is empty", r.input);
        }
    }
    let mut failures: Vec<String> = summary.errors().map(describe).collect();
    if input.strict && summary.skipped() > 0 {
        failures.push(match summary.skipped() {
            1 => "--strict: 1 record was skipped".to_string(),
            n => format!("--strict: {} records were skipped", thousands(n)),
        });
    }
    match failures.split_last() {
        None => Ok(()),
        Some((last, rest)) => {
            for f in rest {
                let _ = writeln!(err, "flowq: error: {f}");
            }
            anyhow::bail!("{last}")
        }
    }
}

/// An input's error in the CLI's words: a format that could not be detected gets the hint
/// of the flag that names it.
pub fn describe(error: &netflow_core::Error) -> String {
    match error {
        netflow_core::Error::UnknownFormat { .. } => format!(
            "{error}; pass --format to choose one: {}",
            netflow_core::Format::names()
        ),
        other => other.to_string(),
    }
}

/// Warns about every manifest of `--{flag}` that could not be used (the others are); an error
/// instead with `--strict`.
pub fn manifest_problems(
    flag: &str,
    manifests: &netflow_core::PolicyManifests,
    strict: bool,
) -> Result<()> {
    if manifests.problems.is_empty() {
        return Ok(());
    }
    if strict {
        anyhow::bail!(
            "--strict: {} manifest problem{} in --{flag}, first: {}",
            manifests.problems.len(),
            if manifests.problems.len() == 1 {
                ""
            } else {
                "s"
            },
            manifests.problems[0]
        );
    }
    let mut err = std::io::stderr().lock();
    for p in &manifests.problems {
        let _ = writeln!(
            err,
            "flowq: warning: --{flag}: {p}; left out, the other manifests are used"
        );
    }
    Ok(())
}

/// `1 flow`, `3 flows`.
pub(crate) fn counted(n: u64, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        n => format!("{} {many}", thousands(n)),
    }
}
