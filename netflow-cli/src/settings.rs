//! Raw arguments resolved once into core types: filters, formats, snapshots. Every value is
//! checked here so a bad flag fails before any input is read.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use netflow_core::cluster::{selector::LabelSelector, Snapshot, SnapshotSet};
use netflow_core::query::filter::{parse_ip_or_cidr, parse_protocol, parse_time, parse_verdict};
use netflow_core::query::{FlowFilter, NodePattern, PodPattern, PortRange};
use netflow_core::{Format, ReadOptions};

use crate::args::{FilterArgs, InputArgs, SnapshotArgs};

/// Builds the flow filter from the filter flags (and `--verdict` values).
pub fn flow_filter(
    args: &FilterArgs,
    verdicts: &[String],
    now: DateTime<Utc>,
) -> Result<FlowFilter> {
    fn all<T>(
        values: &[String],
        parse: impl Fn(&str) -> netflow_core::Result<T>,
    ) -> Result<Vec<T>> {
        values.iter().map(|v| Ok(parse(v)?)).collect()
    }
    let names = |values: &[String], flag: &str| -> Result<Vec<String>> {
        values
            .iter()
            .map(|v| {
                let v = v.trim();
                if v.is_empty() {
                    bail!("--{flag} needs a namespace name");
                }
                Ok(v.to_string())
            })
            .collect()
    };
    Ok(FlowFilter {
        namespace: names(&args.namespace, "namespace")?,
        from_namespace: names(&args.from_namespace, "from-namespace")?,
        to_namespace: names(&args.to_namespace, "to-namespace")?,
        from_pod: all(&args.from_pod, PodPattern::parse)?,
        to_pod: all(&args.to_pod, PodPattern::parse)?,
        ip: all(&args.ip, |v| parse_ip_or_cidr("ip", v))?,
        from_ip: all(&args.from_ip, |v| parse_ip_or_cidr("from-ip", v))?,
        to_ip: all(&args.to_ip, |v| parse_ip_or_cidr("to-ip", v))?,
        dst_port: all(&args.dst_port, PortRange::parse)?,
        protocol: all(&args.protocol, parse_protocol)?,
        from_label: all(&args.from_label, LabelSelector::parse)?,
        to_label: all(&args.to_label, LabelSelector::parse)?,
        node: all(&args.node, NodePattern::parse)?,
        verdict: all(verdicts, parse_verdict)?,
        since: args
            .since
            .as_deref()
            .map(|s| parse_time("since", s, now))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|s| parse_time("until", s, now))
            .transpose()?,
    })
}

/// Reading options from the input flags.
pub fn read_options(args: &InputArgs) -> Result<ReadOptions> {
    let format = match &args.format {
        None => None,
        Some(name) => Some(Format::from_name(name).with_context(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
            format!(
                "unknown --format {name:?}; known formats: {}",
                names.join(", ")
            )
        })?),
    };
    Ok(ReadOptions {
        format,
        ..ReadOptions::default()
    })
}

/// The inputs to read: the files given, or standard input.
pub fn input_names(args: &InputArgs) -> Vec<String> {
    if args.files.is_empty() {
        vec!["-".to_string()]
    } else {
        args.files.clone()
    }
}

/// Loads every `--snapshot FILE[@TIME]`.
pub fn snapshots(args: &SnapshotArgs) -> Result<SnapshotSet> {
    snapshots_in_background(args)?.wait()
}

/// Starts loading every `--snapshot FILE[@TIME]` on another thread, so that reading the flow
/// logs can begin at once. Bad specs and files that cannot be opened fail here, before
/// anything is read.
pub fn snapshots_in_background(args: &SnapshotArgs) -> Result<SnapshotLoad> {
    let mut specs = Vec::new();
    for spec in &args.snapshot {
        let (path, taken_at) = split_snapshot_spec(spec)?;
        if std::fs::metadata(&path).is_err() {
            // Fails at once, with the library's message for a missing snapshot.
            Snapshot::load(&path, taken_at)?;
        }
        specs.push((path, taken_at));
    }
    if specs.is_empty() {
        return Ok(SnapshotLoad::Ready(SnapshotSet::new(Vec::new())));
    }
    Ok(SnapshotLoad::Loading(std::thread::spawn(move || {
        let loaded = specs
            .into_iter()
            .map(|(path, taken_at)| Snapshot::load(&path, taken_at))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(SnapshotSet::new(loaded))
    })))
}

/// Snapshots that are loaded, or still loading on another thread.
pub enum SnapshotLoad {
    /// Loaded (or none given).
    Ready(SnapshotSet),
    /// Still loading.
    Loading(std::thread::JoinHandle<Result<SnapshotSet>>),
}

impl SnapshotLoad {
    /// Whether waiting for the snapshots would not block.
    pub fn is_ready(&self) -> bool {
        match self {
            SnapshotLoad::Ready(_) => true,
            SnapshotLoad::Loading(handle) => handle.is_finished(),
        }
    }

    /// The snapshots, once loaded.
    pub fn wait(self) -> Result<SnapshotSet> {
        match self {
            SnapshotLoad::Ready(set) => Ok(set),
            SnapshotLoad::Loading(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        }
    }
}

/// Splits `FILE@TIME`; an `@` followed by something that is not a time is part of the name.
fn split_snapshot_spec(spec: &str) -> Result<(PathBuf, Option<DateTime<Utc>>)> {
    if let Some((path, time)) = spec.rsplit_once('@') {
        if let Ok(t) = DateTime::parse_from_rfc3339(time) {
            return Ok((PathBuf::from(path), Some(t.with_timezone(&Utc))));
        }
        if !std::path::Path::new(spec).exists() {
            bail!(
                "--snapshot {spec:?}: {time:?} after '@' is not an RFC 3339 time \
                 (e.g. 2026-11-20T19:00:00Z)"
            );
        }
    }
    Ok((PathBuf::from(spec), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_specs_take_an_optional_time() {
        let (p, t) = split_snapshot_spec("c.json@2026-11-20T19:00:00Z").unwrap();
        assert_eq!(p, PathBuf::from("c.json"));
        assert_eq!(t, "2026-11-20T19:00:00Z".parse().ok());
        assert!(split_snapshot_spec("c.json@noon").is_err());
        assert_eq!(split_snapshot_spec("c.json").unwrap().1, None);
    }
}
