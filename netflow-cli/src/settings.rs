//! Raw arguments resolved once into core types: filters, formats, snapshots, the session.
//! Every value is checked here so a bad flag fails before any input is read, and a bad value
//! is named by its flag (the library names only what it expected).

use anyhow::{anyhow, bail, Result};
use chrono::{DateTime, Utc};
use netflow_core::cluster::selector::LabelSelector;
use netflow_core::query::filter::{parse_ip_or_cidr, parse_protocol, parse_time};
use netflow_core::query::{FlowFilter, NodePattern, PodPattern, PortRange, VerdictFilter};
use netflow_core::{Format, Session, SnapshotSpec, Snapshots};

use crate::args::{FilterArgs, InputArgs, SnapshotArgs};

/// A library error about a value, told in the words of the flag it came from.
pub fn flag_error(flag: &str, error: netflow_core::Error) -> anyhow::Error {
    match error {
        netflow_core::Error::Invalid { value, detail, .. } => {
            anyhow!("invalid {flag} value {value:?}: {detail}")
        }
        other => anyhow::Error::new(other).context(format!("--{flag}")),
    }
}

/// Every value of a repeated flag, parsed.
fn all<T>(
    flag: &str,
    values: &[String],
    parse: impl Fn(&str) -> netflow_core::Result<T>,
) -> Result<Vec<T>> {
    values
        .iter()
        .map(|v| parse(v).map_err(|e| flag_error(flag, e)))
        .collect()
}

/// A time flag (`--since`, `--at`): RFC 3339 or a duration before now.
pub fn time(flag: &str, value: Option<&str>, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
    value
        .map(|v| parse_time(v, now).map_err(|e| flag_error(flag, e)))
        .transpose()
}

/// Builds the flow filter from the filter flags (and `--verdict` values).
pub fn flow_filter(
    args: &FilterArgs,
    verdicts: &[String],
    now: DateTime<Utc>,
) -> Result<FlowFilter> {
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
        from_pod: all("from-pod", &args.from_pod, PodPattern::parse)?,
        to_pod: all("to-pod", &args.to_pod, PodPattern::parse)?,
        ip: all("ip", &args.ip, parse_ip_or_cidr)?,
        from_ip: all("from-ip", &args.from_ip, parse_ip_or_cidr)?,
        to_ip: all("to-ip", &args.to_ip, parse_ip_or_cidr)?,
        dst_port: all("dst-port", &args.dst_port, PortRange::parse)?,
        protocol: all("protocol", &args.protocol, parse_protocol)?,
        from_label: all("from-label", &args.from_label, LabelSelector::parse)?,
        to_label: all("to-label", &args.to_label, LabelSelector::parse)?,
        node: all("node", &args.node, NodePattern::parse)?,
        verdict: all("verdict", verdicts, VerdictFilter::parse)?,
        since: time("since", args.since.as_deref(), now)?,
        until: time("until", args.until.as_deref(), now)?,
    })
}

/// The `--format` choice, if any.
pub fn format(args: &InputArgs) -> Result<Option<Format>> {
    args.format
        .as_deref()
        .map(|name| name.parse::<Format>().map_err(|e| anyhow!("--format: {e}")))
        .transpose()
}

/// The inputs to read: the files given, or standard input.
pub fn input_names(args: &InputArgs) -> Vec<String> {
    if args.files.is_empty() {
        vec!["-".to_string()]
    } else {
        args.files.clone()
    }
}

/// Every `--snapshot FILE[@TIME]`.
pub fn snapshot_specs(args: &SnapshotArgs) -> Result<Vec<SnapshotSpec>> {
    args.snapshot
        .iter()
        .map(|spec| spec.parse().map_err(|e| flag_error("snapshot", e)))
        .collect()
}

/// The session over the inputs: snapshots loading in the background, the filter, `--format`,
/// and `--strict` (every record decoded in full, so that every skip is found).
pub fn session(input: &InputArgs, snapshot: &SnapshotArgs, filter: FlowFilter) -> Result<Session> {
    let snapshots = Snapshots::load_in_background(snapshot_specs(snapshot)?)?;
    Ok(Session::new(input_names(input))
        .with_snapshots(snapshots)
        .with_filter(filter)
        .with_format(format(input)?)
        .read_every_record(input.strict))
}

/// The NetworkPolicy manifests of every `--{flag} PATH`, read together; `None` when the flag
/// was not given. A path that cannot be read at all is an error naming the flag.
pub fn policy_manifests(
    flag: &str,
    paths: &[std::path::PathBuf],
) -> Result<Option<netflow_core::PolicyManifests>> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut manifests = netflow_core::PolicyManifests::default();
    for path in paths {
        manifests
            .add_path(path)
            .map_err(|e| anyhow!("--{flag}: {e}"))?;
    }
    Ok(Some(manifests))
}
