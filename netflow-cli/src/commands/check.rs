//! `flowq check`: would this connection be allowed? Evaluates one connection (or many, with
//! `--batch`) against a snapshot's NetworkPolicies and explains the verdict per direction.

use std::io::{BufRead, Write};

use anyhow::{bail, Context, Result};
use netflow_core::policy::{Engine, Subject, Verdict};
use netflow_core::query::filter::parse_protocol;
use netflow_core::Protocol;
use serde::Deserialize;

use crate::args::{CheckArgs, OutputFormat};
use crate::output::Destination;
use crate::settings;

/// One line of a `--batch` input.
#[derive(Deserialize)]
struct BatchLine {
    src: String,
    dst: String,
    port: u16,
    #[serde(default)]
    protocol: Option<String>,
}

/// Runs the command.
pub fn run(args: &CheckArgs, stdout: &mut dyn Write) -> Result<()> {
    if args.output.output == OutputFormat::Parquet {
        bail!("check writes -o table, json or ndjson");
    }
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
    let snapshots = settings::snapshots(&args.snapshot)?;
    if snapshots.is_empty() {
        bail!("check needs --snapshot");
    }
    let at = args
        .at
        .as_deref()
        .map(|t| netflow_core::query::filter::parse_time("at", t, chrono::Utc::now()))
        .transpose()?;
    let snapshot = snapshots.at(at).context("no snapshot")?;
    let engine = Engine::new(snapshot);
    let expect = args.expect.as_deref().map(parse_expect).transpose()?;

    if let Some(batch) = &args.batch {
        return run_batch(&engine, batch, args.output.output, expect, out);
    }
    let (Some(from), Some(to), Some(port)) = (&args.from, &args.to, args.port) else {
        bail!("check needs --from, --to and --port (or --batch FILE)");
    };
    let protocol = match &args.protocol {
        Some(p) => parse_protocol(p)?,
        None => Protocol::Tcp,
    };
    let evaluation =
        engine.evaluate(&Subject::parse(from)?, &Subject::parse(to)?, port, protocol)?;
    match args.output.output {
        OutputFormat::Table => write!(out, "{evaluation}")?,
        OutputFormat::Ndjson => writeln!(out, "{}", serde_json::to_string(&evaluation)?)?,
        OutputFormat::Json | OutputFormat::Csv | OutputFormat::Parquet => {
            writeln!(out, "{}", serde_json::to_string_pretty(&evaluation)?)?
        }
    }
    out.flush()?;
    match expect {
        Some(want) if want != evaluation.verdict => Err(ExpectationFailed(1).into()),
        _ => Ok(()),
    }
}

/// `allow` / `deny`.
fn parse_expect(text: &str) -> Result<Verdict> {
    match text.to_ascii_lowercase().as_str() {
        "allow" | "allowed" => Ok(Verdict::Allow),
        "deny" | "denied" => Ok(Verdict::Deny),
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
    engine: &Engine,
    input: &str,
    format: OutputFormat,
    expect: Option<Verdict>,
    out: &mut dyn Write,
) -> Result<()> {
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
                let src = Subject::parse(&b.src).map_err(|e| format!("line {}: {e}", i + 1))?;
                let dst = Subject::parse(&b.dst).map_err(|e| format!("line {}: {e}", i + 1))?;
                engine
                    .evaluate_cached(&src, &dst, b.port, protocol)
                    .map_err(|e| format!("line {}: {e}", i + 1))
            });
        match result {
            Ok(evaluation) => {
                if expect.is_some_and(|want| want != evaluation.verdict) {
                    unexpected += 1;
                }
                match format {
                    OutputFormat::Table => writeln!(out, "{evaluation}")?,
                    _ => writeln!(out, "{}", serde_json::to_string(&*evaluation)?)?,
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
