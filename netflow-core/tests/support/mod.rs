//! What the tests of the shared samples have in common: finding a sample of
//! `../shared/formats/samples` beside the project (absent: the test notes it and checks
//! nothing), reading one input through a [`Session`] into its report and flows, and writing
//! addresses, times and 5-tuples as EXPECTED.md does. Each test binary uses a part of it.
#![allow(dead_code)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use netflow_core::{Flow, Format, InputReport, Session};

/// The shared sample `dir/file`, or `None` (with a note) when `../shared` is not beside the
/// project.
pub fn sample(dir: &str, file: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/formats/samples")
        .join(dir)
        .join(file);
    if !path.is_file() {
        eprintln!("note: {} not found; its facts not checked", path.display());
        return None;
    }
    Some(path)
}

/// Reads one input with no snapshot and checks what every sample must give: it was read,
/// nothing was skipped, it was detected as `format`, and every record is a flow or an event.
pub fn read_clean(path: &Path, format: Format) -> (InputReport, Vec<Flow>) {
    let name = path.display().to_string();
    let mut flows = Vec::new();
    let mut summary = Session::new([name.clone()])
        .for_each_flow(|f| -> netflow_core::Result<()> {
            flows.push(f);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(summary.failed.is_empty(), "{name}: {:?}", summary.failed);
    let report = summary.reports.remove(0);
    assert_eq!(report.skipped, 0, "{name}: {:?}", report.skips);
    assert_eq!(report.format, Some(format), "{name}");
    assert_eq!(
        report.records,
        report.flows + report.event_count(),
        "{name}"
    );
    (report, flows)
}

/// An address as EXPECTED.md writes it.
pub fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// A time as EXPECTED.md writes it (RFC 3339).
pub fn time(s: &str) -> Option<DateTime<Utc>> {
    Some(s.parse().unwrap())
}

/// `src_ip:port → dst_ip:port` (no `:port` for a portless protocol), as EXPECTED.md writes it.
pub fn tuple(f: &Flow) -> String {
    let end = |ip: Option<IpAddr>, port: Option<u16>| match port {
        Some(p) => format!("{}:{p}", ip.unwrap()),
        None => ip.unwrap().to_string(),
    };
    format!(
        "{} → {}",
        end(f.src.ip, f.src.port),
        end(f.dst.ip, f.dst.port)
    )
}
