//! End-to-end runs of the `flowq` binary on the fixtures in `testdata/`: one module per
//! subcommand, golden tables (insta) and JSON parsed back field by field.

mod bad_input;
mod check;
mod denied;
mod enforcers;
mod examples;
mod export;
mod flows;
mod formats;
mod hostile;
mod lint;
mod reconcile;
mod replay;
mod report;
mod suggest;
mod top;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// What one run of flowq produced.
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Run {
    /// Parses stdout as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// The workspace root (fixtures are addressed relative to it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs flowq from the workspace root with `args`, feeding `stdin`.
pub fn flowq_with_stdin(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowq"))
        .args(args)
        .current_dir(root())
        .env_remove("COLUMNS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowq starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("stdin accepts input");
    let out = child.wait_with_output().expect("flowq runs");
    Run {
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        code: out.status.code().expect("flowq exits normally"),
    }
}

/// Runs flowq with `args` and an empty stdin.
pub fn flowq(args: &[&str]) -> Run {
    flowq_with_stdin(args, b"")
}

pub const SNAPSHOT: &str = "testdata/clusters/vamp.json";
pub const INCIDENT: &str = "testdata/flows/hubble/incident.ndjson";
