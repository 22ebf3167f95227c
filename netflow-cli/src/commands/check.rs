//! `flowq check`: would this connection be allowed? Evaluates one connection (or many, with
//! `--batch`) against a snapshot's NetworkPolicies and explains the verdict per direction.

use std::io::{BufRead, Write};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use netflow_core::policy::{PolicyVerdict, Target};
use netflow_core::query::filter::parse_protocol;
use netflow_core::query::CheckRow;
use netflow_core::{DeclaredRow, Protocol, Session, Snapshots};
use serde::Deserialize;

use crate::args::{CheckArgs, OutputFormat};
use crate::diagnostics;
use crate::output::{Destination, RowSink};
use crate::settings::{self, flag_error};

/// One line of a `--batch` input.
#[derive(Deserialize)]
struct BatchLine {
    src: String,
    dst: String,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    protocol: Option<String>,
}

/// Runs the command.
pub fn run(args: &CheckArgs, stdout: &mut dyn Write) -> Result<()> {
    let mut out = Destination::open(&args.output, stdout)?;
    match evaluate(args, &mut out) {
        // Verdicts that were not the expected ones are still a complete answer.
        Err(e) if e.is::<ExpectationFailed>() => {
            out.finish()?;
            Err(e)
        }
        status => out.settle(status),
    }
}

fn evaluate(args: &CheckArgs, out: &mut dyn Write) -> Result<()> {
    let snapshots = Snapshots::load(settings::snapshot_specs(&args.snapshot)?)?;
    if snapshots.is_empty() {
        bail!("check needs --snapshot");
    }
    let at = settings::time("at", args.at.as_deref(), chrono::Utc::now())?;
    // No flows are read: the session only evaluates connections against the snapshots.
    let session = Session::new(Vec::<String>::new()).with_snapshots(Snapshots::loaded(snapshots));
    if args.verbose {
        diagnostics::describe_snapshots(&session);
    }
    // As every command: a summary of the snapshot warnings, every one with -v.
    diagnostics::warn_snapshots(&session, args.verbose);
    let expect = args.expect.as_deref().map(parse_expect).transpose()?;

    if let Some(batch) = &args.batch {
        return run_batch(&session, at, batch, args.output.output, expect, out);
    }
    let (Some(from), Some(to)) = (&args.from, &args.to) else {
        bail!("check needs --from and --to (or --batch FILE)");
    };
    let protocol = match &args.protocol {
        Some(p) => parse_protocol(p).map_err(|e| flag_error("protocol", e))?,
        None => Protocol::Tcp,
    };
    let checked = session.check_targets(
        &Target::parse(from)?,
        &Target::parse(to)?,
        args.port,
        protocol,
        at,
    )?;
    let single = checked
        .pairs
        .first()
        .filter(|_| checked.one_to_one)
        .map(|p| &p.evaluation);
    match (args.output.output, single) {
        (OutputFormat::Table, _) => write!(out, "{checked}")?,
        // One end each: the evaluation object itself, the documented `check -o json` contract.
        (OutputFormat::Ndjson, Some(evaluation)) => {
            writeln!(out, "{}", serde_json::to_string(evaluation)?)?
        }
        (OutputFormat::Json, Some(evaluation)) => {
            writeln!(out, "{}", serde_json::to_string_pretty(evaluation)?)?
        }
        (OutputFormat::Ndjson, None) => {
            for pair in &checked.pairs {
                writeln!(out, "{}", serde_json::to_string(pair)?)?;
            }
        }
        (OutputFormat::Json, None) => writeln!(out, "{}", serde_json::to_string_pretty(&checked)?)?,
        (format @ (OutputFormat::Csv | OutputFormat::Parquet), _) => {
            let mut sink = RowSink::open(format, CheckRow::COLUMNS, &mut *out)?;
            for pair in &checked.pairs {
                sink.write(&CheckRow::of(&pair.evaluation))?;
            }
            sink.finish()?;
        }
    }
    out.flush()?;
    let unexpected = checked
        .pairs
        .iter()
        .filter(|p| expect.is_some_and(|want| want != p.evaluation.verdict))
        .count();
    if unexpected > 0 {
        return Err(ExpectationFailed(unexpected).into());
    }
    Ok(())
}

/// `allow` / `deny`.
fn parse_expect(text: &str) -> Result<PolicyVerdict> {
    match text.to_ascii_lowercase().as_str() {
        "allow" | "allowed" => Ok(PolicyVerdict::Allow),
        "deny" | "denied" => Ok(PolicyVerdict::Deny),
        other => bail!("--expect takes allow or deny, not {other:?}"),
    }
}

/// `--expect` did not hold for this many connections: exit 1, with no error message.
#[derive(Debug)]
pub struct ExpectationFailed(pub usize);

impl std::fmt::Display for ExpectationFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} connection(s) did not have the expected verdict",
            self.0
        )
    }
}

impl std::error::Error for ExpectationFailed {}

/// Evaluates every line of the batch input; output line N answers input line N.
fn run_batch(
    session: &Session,
    at: Option<DateTime<Utc>>,
    input: &str,
    format: OutputFormat,
    expect: Option<PolicyVerdict>,
    out: &mut dyn Write,
) -> Result<()> {
    if matches!(format, OutputFormat::Csv | OutputFormat::Parquet) {
        bail!("check --batch writes -o table, json or ndjson: one answer per input line");
    }
    let reader: Box<dyn BufRead> = if input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(input).with_context(|| format!("cannot read {input:?}"))?,
        ))
    };
    let mut errors = 0usize;
    let mut unexpected = 0usize;
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {input:?}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let result = serde_json::from_str::<BatchLine>(&line)
            .map_err(|e| {
                format!(
                    "line {}: expected {{\"src\", \"dst\", \"port\"}}: {e}",
                    i + 1
                )
            })
            .and_then(|b| {
                let protocol = match &b.protocol {
                    Some(p) => parse_protocol(p).map_err(|e| format!("line {}: {e}", i + 1))?,
                    None => Protocol::Tcp,
                };
                let src = Target::parse(&b.src).map_err(|e| format!("line {}: {e}", i + 1))?;
                let dst = Target::parse(&b.dst).map_err(|e| format!("line {}: {e}", i + 1))?;
                session
                    .check_targets(&src, &dst, b.port, protocol, at)
                    .map_err(|e| format!("line {}: {e}", i + 1))
            });
        match result {
            Ok(checked) => {
                unexpected += checked
                    .pairs
                    .iter()
                    .filter(|p| expect.is_some_and(|want| want != p.evaluation.verdict))
                    .count();
                let single = checked
                    .pairs
                    .first()
                    .filter(|_| checked.one_to_one)
                    .map(|p| &p.evaluation);
                match (format, single) {
                    (OutputFormat::Table, _) => writeln!(out, "{checked}")?,
                    (_, Some(evaluation)) => {
                        writeln!(out, "{}", serde_json::to_string(evaluation)?)?
                    }
                    (_, None) => writeln!(out, "{}", serde_json::to_string(&checked)?)?,
                }
            }
            Err(message) => {
                errors += 1;
                match format {
                    OutputFormat::Table => writeln!(out, "ERROR   {message}\n")?,
                    _ => writeln!(out, "{}", serde_json::json!({ "error": message }))?,
                }
            }
        }
    }
    out.flush()?;
    if errors > 0 {
        bail!("{errors} batch line(s) could not be evaluated (see the output)");
    }
    if unexpected > 0 {
        return Err(ExpectationFailed(unexpected).into());
    }
    Ok(())
}
