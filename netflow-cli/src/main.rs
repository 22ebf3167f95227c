//! `flowq`: parse the command line, run one command, turn the outcome into an exit code.
//! Exit 0 on success (an empty result is success), 1 when a command's assertion does not hold
//! (`check --expect`, `lint --fail-on`, `reconcile --fail-on-mismatch`, `replay
//! --fail-on-new-denies`), 2 on any error; a closed stdout (broken
//! pipe, e.g. `| head`) ends quietly with 0.

mod args;
mod commands;
mod diagnostics;
mod output;
mod report;
mod settings;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

// Decoding allocates many small strings on every core; mimalloc keeps that from serializing on
// the system allocator's locks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process. Where the system has them "always" on,
/// every 2 MB region the allocator touches becomes resident and zeroed in full; flowq's heap
/// is many small, short-lived allocations, so huge pages only raise its peak memory (`top` on
/// 4 GB: 263 MB with them, 219 MB without) and cost time zeroing pages.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn without_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes no pointers; it only sets a flag on this process (a
    // failure, e.g. on an old kernel, leaves huge pages as they were).
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

#[cfg(not(target_os = "linux"))]
fn without_huge_pages() {}

fn main() -> ExitCode {
    without_huge_pages();
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let result = run(&cli.command, &mut out).and_then(|()| Ok(out.flush()?));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e)
            if e.downcast_ref::<commands::check::ExpectationFailed>()
                .is_some()
                || e.downcast_ref::<commands::lint::FindingsFailed>().is_some()
                || e.downcast_ref::<commands::replay::NewDenies>().is_some()
                || e.downcast_ref::<commands::reconcile::MismatchFound>()
                    .is_some() =>
        {
            let _ = out.flush();
            eprintln!("flowq: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            // Flush what was produced before reporting the error after it.
            if let Err(flush) = out.flush() {
                if flush.kind() == io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            let mut message = e.to_string();
            for cause in e.chain().skip(1) {
                let text = cause.to_string();
                if !message.contains(&text) {
                    message.push_str(": ");
                    message.push_str(&text);
                }
            }
            eprintln!("flowq: error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(command: &Command, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        Command::Denied(a) => commands::denied::run(a, out),
        Command::Flows(a) => commands::flows::run(a, out),
        Command::Top(a) => commands::top::run(a, out),
        Command::Report(a) => commands::report::run(a, out),
        Command::Check(a) => commands::check::run(a, out),
        Command::Reconcile(a) => commands::reconcile::run(a, out),
        Command::Inspect(a) => commands::inspect::run(a, out),
        Command::Lint(a) => commands::lint::run(a, out),
        Command::Replay(a) => commands::replay::run(a, out),
        Command::Suggest(a) => commands::suggest::run(a, out),
        Command::Formats => commands::formats::run(out),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(*shell, &mut Cli::command(), "flowq", out);
            Ok(())
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
