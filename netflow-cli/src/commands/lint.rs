//! `flowq lint`: the NetworkPolicy pitfalls of a snapshot, and with flow files the denied DNS,
//! API-server and probe traffic they show. A table prints one block per finding (severity,
//! rule, objects; what is wrong; the fix); the machine formats write [`LintRow`]s.
//! `--fail-on` turns findings into exit code 1.

use std::io::Write;

use anyhow::{bail, Result};
use netflow_core::policy::lint::{self, Finding, Severity};
use netflow_core::query::LintRow;
use netflow_core::{DeclaredRow, ReadSummary, Session, Snapshots};

use super::Run;
use crate::args::{FailOn, InputArgs, LintArgs, OutputFormat};
use crate::diagnostics::{footer, warn_snapshots};
use crate::output::table::thousands;
use crate::output::terminal::{wrap_cell, Layout};
use crate::output::{write_rows, Destination};
use crate::settings;

/// `--fail-on` found findings at or above its level: exit 1 once the findings are written.
#[derive(Debug)]
pub struct FindingsFailed {
    count: usize,
    level: Severity,
}

impl std::fmt::Display for FindingsFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} finding{} at or above {} (--fail-on {})",
            self.count,
            if self.count == 1 { "" } else { "s" },
            self.level,
            self.level
        )
    }
}

impl std::error::Error for FindingsFailed {}

/// Runs the command.
pub fn run(args: &LintArgs, stdout: &mut dyn Write) -> Result<()> {
    let specs = settings::snapshot_specs(&args.snapshot)?;
    if specs.is_empty() {
        bail!(
            "lint needs --snapshot FILE (kubectl get namespaces,pods,services,endpointslices,\
             nodes,networkpolicies -A -o json, or a folder of manifests)"
        );
    }
    let input = InputArgs {
        files: args.files.clone(),
        format: args.format.clone(),
        strict: args.strict,
        verbose: args.verbose,
    };
    let mut out = Destination::open(&args.output, stdout)?;
    let (mut findings, read) = if args.files.is_empty() {
        // The snapshot alone: no flow is read (not even standard input).
        let snapshots = Snapshots::load(specs)?;
        let session =
            Session::new(Vec::<String>::new()).with_snapshots(Snapshots::loaded(snapshots));
        let findings = session.lint_snapshots()?;
        warn_snapshots(&session, args.verbose);
        (findings, None)
    } else {
        let run = Run::new(&input, &args.snapshot, Default::default())?;
        let lint = run.read(|session| Ok(session.lint()?))?;
        (lint.findings, Some((run, lint.summary)))
    };
    lint::retain_namespaces(&mut findings, &args.namespace);
    let status = write(args, &findings, read.as_ref().map(|(_, s)| s), &mut out);
    let status = status.and_then(|()| match &read {
        Some((run, summary)) => run.finish(summary),
        None => Ok(()),
    });
    out.settle(status)?;
    let level = match args.fail_on {
        None => return Ok(()),
        Some(FailOn::Error) => Severity::Error,
        Some(FailOn::Warning) => Severity::Warning,
    };
    let count = findings.iter().filter(|f| f.severity >= level).count();
    if count > 0 {
        return Err(FindingsFailed { count, level }.into());
    }
    Ok(())
}

fn write(
    args: &LintArgs,
    findings: &[Finding],
    summary: Option<&ReadSummary>,
    out: &mut dyn Write,
) -> Result<()> {
    if args.output.output != OutputFormat::Table {
        let rows: Vec<LintRow> = findings.iter().map(LintRow::of).collect();
        return write_rows(args.output.output, LintRow::COLUMNS, &rows, out);
    }
    let width = match Layout::choose(false) {
        Layout::Terminal(w) => Some(w),
        Layout::Stable | Layout::Wide => None,
    };
    let indent = "         ";
    let para = |out: &mut dyn Write, text: &str| -> std::io::Result<()> {
        match width {
            Some(w) => {
                for line in wrap_cell(text, w.saturating_sub(indent.len()).max(20)) {
                    writeln!(out, "{indent}{line}")?;
                }
                Ok(())
            }
            None => writeln!(out, "{indent}{text}"),
        }
    };
    for f in findings {
        let objects: Vec<String> = f.objects.iter().map(|o| o.to_string()).collect();
        writeln!(
            out,
            "{:<8} {}  {}",
            f.severity.as_str().to_uppercase(),
            f.rule,
            objects.join(", ")
        )?;
        para(out, &f.message)?;
        para(out, &format!("fix: {}", f.fix))?;
        if let Some(seen) = &f.seen {
            let time = |t: &Option<chrono::DateTime<chrono::Utc>>| {
                t.as_ref()
                    .map(netflow_core::query::format_time)
                    .unwrap_or_else(|| "-".into())
            };
            para(
                out,
                &format!(
                    "seen: {} attempt{}, {} to {}",
                    thousands(seen.attempts),
                    if seen.attempts == 1 { "" } else { "s" },
                    time(&seen.first),
                    time(&seen.last)
                ),
            )?;
        }
        writeln!(out)?;
    }
    let by = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let mut line = match findings.len() {
        0 => "No findings".to_string(),
        1 => "1 finding".to_string(),
        n => format!("{} findings", thousands(n as u64)),
    };
    if !findings.is_empty() {
        line.push_str(&format!(
            " ({} error{}, {} warning{}, {} info)",
            by(Severity::Error),
            if by(Severity::Error) == 1 { "" } else { "s" },
            by(Severity::Warning),
            if by(Severity::Warning) == 1 { "" } else { "s" },
            by(Severity::Info)
        ));
    }
    if !args.namespace.is_empty() {
        line.push_str(&format!(" in namespace {}", args.namespace.join(", ")));
    }
    let snapshots = args.snapshot.snapshot.join(", ");
    line.push_str(&format!(" in snapshot {snapshots}"));
    match summary {
        Some(summary) => line.push_str(&format!("; flows {}", footer(summary))),
        None => line.push_str("; no flow files given"),
    }
    writeln!(out, "{line}.")?;
    Ok(())
}
