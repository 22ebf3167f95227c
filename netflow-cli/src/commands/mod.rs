//! One module per subcommand: flags → settings → session → rows → writer. What they share is
//! here: a [`Run`] is a session over the command's inputs with the progress bar and the
//! diagnostics that go with reading it.

pub mod check;
pub mod denied;
pub mod flows;
pub mod formats;
pub mod inspect;
pub mod lint;
pub mod reconcile;
pub mod replay;
pub mod report;
pub mod suggest;
pub mod top;

use anyhow::Result;
use netflow_core::query::FlowFilter;
use netflow_core::{ReadSummary, Session};

use crate::args::{InputArgs, SnapshotArgs};
use crate::output::progress::ReadProgress;
use crate::{diagnostics, settings};

/// A command's reading: its session, its progress bar, and how to report on it.
pub struct Run<'a> {
    /// The pipeline over the inputs.
    pub session: Session,
    input: &'a InputArgs,
    progress: Option<ReadProgress>,
}

impl<'a> Run<'a> {
    /// The session for the input, snapshot and filter flags; the snapshots start loading.
    pub fn new(
        input: &'a InputArgs,
        snapshot: &SnapshotArgs,
        filter: FlowFilter,
    ) -> Result<Run<'a>> {
        let mut session = settings::session(input, snapshot, filter)?;
        let progress = ReadProgress::for_inputs(session.inputs());
        if let Some(p) = &progress {
            session = session.with_progress(p.callback());
        }
        Ok(Run {
            session,
            input,
            progress,
        })
    }

    /// Reads with `read`, then takes the progress bar away.
    pub fn read<T>(&self, read: impl FnOnce(&Session) -> Result<T>) -> Result<T> {
        let result = read(&self.session);
        if let Some(p) = &self.progress {
            p.finish();
        }
        result
    }

    /// Says on stderr what reading skipped or could not read; an error when an input failed
    /// (or with `--strict`, when anything was skipped).
    pub fn finish(&self, summary: &ReadSummary) -> Result<()> {
        diagnostics::finish(&self.session, self.input, summary)
    }
}
