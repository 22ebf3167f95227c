//! A progress bar on stderr for long reads: only when stderr is a terminal, and only once a
//! read has taken more than half a second, so quick runs and pipelines never see it.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use netflow_core::ingest::Progress;

/// How long a read runs before the bar appears.
const DELAY: Duration = Duration::from_millis(500);

/// The bar over all inputs of one command.
pub struct ReadProgress {
    bar: ProgressBar,
    started: Instant,
    shown: Arc<AtomicBool>,
}

impl ReadProgress {
    /// A bar sized to the inputs' total size (a spinner with a byte count when an input is
    /// standard input); `None` when stderr is not a terminal.
    pub fn for_inputs(inputs: &[String]) -> Option<ReadProgress> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let sizes: Option<Vec<u64>> = inputs
            .iter()
            .map(|name| {
                (name != "-")
                    .then(|| std::fs::metadata(name).ok().map(|m| m.len()))
                    .flatten()
            })
            .collect();
        let bar = match sizes {
            Some(sizes) => ProgressBar::with_draw_target(
                Some(sizes.iter().sum()),
                ProgressDrawTarget::hidden(),
            )
            .with_style(
                ProgressStyle::with_template(
                    "{spinner} reading {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left) {wide_bar}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()).with_style(
                ProgressStyle::with_template("{spinner} reading {bytes} ({bytes_per_sec})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        Some(ReadProgress {
            bar,
            started: Instant::now(),
            shown: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The callback the reader calls with each chunk's size.
    pub fn callback(&self) -> Progress {
        let bar = self.bar.clone();
        let started = self.started;
        let shown = Arc::clone(&self.shown);
        Progress(Arc::new(move |bytes| {
            bar.inc(bytes);
            if !shown.load(Ordering::Relaxed) && started.elapsed() > DELAY {
                shown.store(true, Ordering::Relaxed);
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
        }))
    }

    /// Removes the bar, leaving stderr as it was.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
