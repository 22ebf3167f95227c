//! One module per subcommand, plus the pipeline they share: read every input, join identities
//! from the snapshots, filter, hand each flow on; then account for the input on stderr.

pub mod check;
pub mod denied;
pub mod flows;
pub mod formats;
pub mod inspect;
pub mod report;
pub mod top;

use std::io::Write;

use anyhow::Result;
use netflow_core::cluster::SnapshotSet;
use netflow_core::query::{FlowFilter, Prefilter};
use netflow_core::{read_input, Flow, InputReport, ReadOptions};

use crate::args::InputArgs;
use crate::output::table::thousands;
use crate::settings::{self, SnapshotLoad};

/// How many flows wait for the snapshots to finish loading before reading waits too.
const MAX_WAITING_FLOWS: usize = 16 * 1024;

/// Everything a command needs to read flows.
pub struct Pipeline {
    inputs: Vec<String>,
    progress: Option<crate::output::progress::ReadProgress>,
    options: ReadOptions,
    snapshots: std::cell::OnceCell<SnapshotSet>,
    loading: std::cell::RefCell<Option<SnapshotLoad>>,
    load_failure: std::cell::RefCell<Option<String>>,
    filter: FlowFilter,
    strict: bool,
    verbose: bool,
}

/// What reading all inputs produced besides the flows.
#[derive(Default)]
pub struct Outcome {
    /// One report per input that could be read.
    pub reports: Vec<InputReport>,
    /// Inputs that could not be read at all, with the message.
    pub errors: Vec<String>,
}

impl Outcome {
    /// Records read over all inputs.
    pub fn records(&self) -> u64 {
        self.reports.iter().map(|r| r.records).sum()
    }

    /// Records skipped over all inputs.
    pub fn skipped(&self) -> u64 {
        self.reports.iter().map(|r| r.skipped).sum()
    }

    /// Events the sources say they lost.
    pub fn lost(&self) -> u64 {
        self.reports
            .iter()
            .fold(0, |total, r| total.saturating_add(r.lost_count()))
    }

    /// `in 2 files; 48,211 records read, 0 skipped` (plus what the source lost).
    pub fn footer(&self) -> String {
        let n = self.reports.len() + self.errors.len();
        let mut text = format!(
            "in {n} {}; {} records read, {} skipped",
            if n == 1 { "file" } else { "files" },
            thousands(self.records()),
            thousands(self.skipped())
        );
        if self.lost() > 0 {
            text.push_str(&format!(", {} lost by the source", thousands(self.lost())));
        }
        text
    }
}

impl Pipeline {
    /// Resolves the shared flags; the snapshots may still be loading (reading waits for them
    /// only once it has flows to enrich).
    pub fn new(input: &InputArgs, snapshots: SnapshotLoad, filter: FlowFilter) -> Result<Pipeline> {
        let mut options = settings::read_options(input)?;
        let names_from_log = matches!(&snapshots, SnapshotLoad::Ready(set) if set.is_empty());
        // --strict must see every malformed line, so it reads every line in full.
        if !input.strict {
            options.prefilter =
                Prefilter::for_filter(&filter, names_from_log).map(std::sync::Arc::new);
        }
        let inputs = settings::input_names(input);
        let progress = crate::output::progress::ReadProgress::for_inputs(&inputs);
        if let Some(p) = &progress {
            options.progress = Some(p.callback());
        }
        Ok(Pipeline {
            inputs,
            progress,
            options,
            snapshots: std::cell::OnceCell::new(),
            loading: std::cell::RefCell::new(Some(snapshots)),
            load_failure: std::cell::RefCell::new(None),
            filter,
            strict: input.strict,
            verbose: input.verbose,
        })
    }

    /// The snapshots in use, waiting for them to finish loading (and warning about them
    /// once loaded).
    pub fn snapshots(&self) -> Result<&SnapshotSet> {
        if let Some(set) = self.snapshots.get() {
            return Ok(set);
        }
        if let Some(message) = self.load_failure.borrow().as_ref() {
            anyhow::bail!("{message}");
        }
        let Some(load) = self.loading.borrow_mut().take() else {
            anyhow::bail!("the snapshots could not be loaded");
        };
        match load.wait() {
            Ok(set) => {
                self.warn_snapshots(&set);
                Ok(self.snapshots.get_or_init(|| set))
            }
            Err(e) => {
                *self.load_failure.borrow_mut() = Some(format!("{e:#}"));
                Err(e)
            }
        }
    }

    /// Whether the snapshots are still loading.
    fn still_loading(&self) -> bool {
        self.loading
            .borrow()
            .as_ref()
            .is_some_and(|load| !load.is_ready())
    }

    /// Reads every input and calls `sink` with each enriched flow that passes the filter.
    /// Flows read while the snapshots are still loading wait (up to [`MAX_WAITING_FLOWS`]),
    /// in order, for them. Fails when the snapshots cannot be loaded.
    pub fn run(&self, mut sink: impl FnMut(Flow)) -> Result<Outcome> {
        let mut outcome = Outcome::default();
        let mut waiting: Vec<Flow> = Vec::new();
        let mut failure: Option<anyhow::Error> = None;
        let mut pass_on = |set: &SnapshotSet, mut flow: Flow| {
            set.enrich(&mut flow);
            if self.filter.matches(&flow) {
                sink(flow);
            }
        };
        for name in &self.inputs {
            let mut deliver = |flow: Flow| {
                if failure.is_some() {
                    return;
                }
                if self.snapshots.get().is_none() {
                    if waiting.len() < MAX_WAITING_FLOWS && self.still_loading() {
                        waiting.push(flow);
                        return;
                    }
                    match self.snapshots() {
                        Ok(set) => waiting.drain(..).for_each(|f| pass_on(set, f)),
                        Err(e) => {
                            failure = Some(e);
                            return;
                        }
                    }
                }
                if let Some(set) = self.snapshots.get() {
                    pass_on(set, flow);
                }
            };
            match read_input(name, &self.options, &mut deliver) {
                Ok(report) => outcome.reports.push(report),
                Err(e) => outcome.errors.push(e.to_string()),
            }
        }
        if let Some(p) = &self.progress {
            p.finish();
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let set = self.snapshots()?;
        waiting.drain(..).for_each(|f| pass_on(set, f));
        Ok(outcome)
    }

    fn warn_snapshots(&self, set: &SnapshotSet) {
        let mut err = std::io::stderr().lock();
        for s in set.snapshots() {
            if s.warnings.is_empty() {
                continue;
            }
            if self.verbose {
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
    pub fn finish(&self, outcome: &Outcome) -> Result<()> {
        let mut err = std::io::stderr().lock();
        for r in &outcome.reports {
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
                    if self.verbose {
                        "all listed below"
                    } else {
                        "use --strict to fail, -v to list all"
                    }
                );
                if self.verbose {
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
            if r.format.is_none() && r.failure.is_none() {
                let _ = writeln!(err, "flowq: warning: {:?} is empty", r.input);
            }
        }
        let mut failures: Vec<String> = outcome.errors.clone();
        failures.extend(
            outcome
                .reports
                .iter()
                .filter_map(|r| r.failure.as_ref().map(|f| f.to_string())),
        );
        if self.strict && outcome.skipped() > 0 {
            failures.push(match outcome.skipped() {
                1 => "--strict: 1 record was skipped".to_string(),
                n => format!("--strict: {} records were skipped", thousands(n)),
            });
        }
        match failures.len() {
            0 => Ok(()),
            1 => anyhow::bail!("{}", failures[0]),
            _ => {
                for f in &failures[..failures.len() - 1] {
                    let _ = writeln!(err, "flowq: error: {f}");
                }
                anyhow::bail!("{}", failures[failures.len() - 1])
            }
        }
    }
}
