//! Command-line arguments (clap derive): the subcommands and the argument groups they share
//! (inputs, snapshot, filters, output). Values are checked and turned into core types in
//! `settings.rs`, not here.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// flowq: which connection was denied, where, and why — from Kubernetes flow logs.
#[derive(Debug, Parser)]
#[command(name = "flowq", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// Subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Denied connections: one row per connection with count, first and last seen.
    Denied(DeniedArgs),
    /// Every flow record of the input, one row per record, any verdict.
    ///
    /// `-o json|ndjson|csv|parquet` rows also carry `l7` (the DNS, HTTP or Kafka message a
    /// proxy recorded, on one line: `dns response NXDOMAIN A zipkin.istio-system.svc.cluster.local.`)
    /// and `details` (what else the record says: its id, observation point, trace reason,
    /// interface, clusters, the L7 message whole, DSCP, locations, subnetworks, AS paths, the
    /// Cloud Logging resource). docs/output.md lists every column.
    Flows(FlowsArgs),
    /// Who is hitting what the most: flows grouped by columns (and time buckets), ranked.
    Top(TopArgs),
    /// Write a self-contained HTML page: denied connections, a graph of who is denied what,
    /// and a timeline.
    Report(ReportArgs),
    /// Would this connection be allowed? Evaluate it against a snapshot's NetworkPolicies.
    Check(CheckArgs),
    /// Compare what the log says happened with what the snapshot's policies decide, for every
    /// observed connection: where they disagree, and the likely cause.
    Reconcile(ReconcileArgs),
    /// What each input is: format (and why), records, flows, skips, time range, verdict mix.
    Inspect(InspectArgs),
    /// The NetworkPolicy pitfalls of a snapshot, each with its objects and a one-line fix;
    /// with flow files, also the denied DNS, API-server and kubelet-probe traffic they show.
    Lint(LintArgs),
    /// What if the policies changed? Replay recorded connections against NetworkPolicy
    /// manifests and show those whose verdict flips.
    Replay(ReplayArgs),
    /// The smallest NetworkPolicy change that allows the selected denied connections and
    /// nothing else recorded, as YAML for `kubectl apply`.
    Suggest(SuggestArgs),
    /// List the input formats flowq reads.
    Formats,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `flowq check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Snapshot options.
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// Source: `namespace/pod` or `namespace/workload`, `deploy|sts|ds|rs|job|cj/namespace/name`,
    /// `namespace/<label selector>` (`shop/app=web`), an IP address or `node/name`.
    #[arg(long, value_name = "SRC")]
    pub from: Option<String>,
    /// Destination: as `--from`, or a Service `svc/namespace/name`.
    #[arg(long, value_name = "DST")]
    pub to: Option<String>,
    /// Destination port (the service port for a service). Without it, TCP/UDP/SCTP ask
    /// whether any port is allowed; ICMP and other protocols without ports need none.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Protocol: TCP (default), UDP, SCTP, ICMP, ICMPv6 or an IP protocol number.
    #[arg(long, value_name = "PROTO")]
    pub protocol: Option<String>,
    /// Evaluate many connections: one JSON object per line with `src`, `dst` (any form of
    /// `--from`/`--to`), optionally `port` and `protocol` (`-` reads standard input); output
    /// line N answers input line N.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["from", "to", "port"])]
    pub batch: Option<String>,
    /// Which snapshot to use when several are given: the one in force at this time (RFC 3339
    /// or a duration ago); default the newest.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Exit 1 unless every verdict is this (`allow` or `deny`): for CI checks of policies.
    #[arg(long, value_name = "VERDICT")]
    pub expect: Option<String>,
    /// Also say on stderr what each snapshot holds (policies flowq does not evaluate included)
    /// and every snapshot warning.
    #[arg(short, long)]
    pub verbose: bool,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `flowq lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Flow log files to look for denied DNS, API-server and probe traffic in (gzip or not;
    /// `-` reads standard input); none: the snapshot alone.
    #[arg(value_name = "FILES")]
    pub files: Vec<String>,
    /// Read every flow file as this format instead of detecting it (see `flowq formats`).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Fail (exit 2) if any flow record is skipped.
    #[arg(long)]
    pub strict: bool,
    /// List every skipped record and snapshot warning on stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// Snapshot options.
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// Only the findings in this namespace (repeat for several); `--fail-on` counts only them.
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Vec<String>,
    /// Exit 1 when a finding of this severity or above exists: `error`, or `warning` (errors
    /// and warnings).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The least severity that fails `flowq lint --fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warning,
}

/// `flowq inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Input options.
    #[command(flatten)]
    pub input: InputArgs,
    /// Snapshot options: describe each snapshot (what it holds, the policies flowq does not
    /// evaluate, its warnings); without FILES, only the snapshots are described.
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `flowq denied`.
#[derive(Debug, Args)]
pub struct DeniedArgs {
    /// Input options.
    #[command(flatten)]
    pub input: InputArgs,
    /// Snapshot options.
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// Filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
    /// `-o table`: one line per row with full names (node names included), however wide.
    #[arg(long)]
    pub wide: bool,
    /// List every denied record instead of one row per connection.
    #[arg(long)]
    pub each: bool,
    /// Also show packets dropped for reasons other than policy (e.g. STALE_OR_UNROUTABLE_IP).
    #[arg(long)]
    pub include_drops: bool,
    /// For records without a verdict (VPC Flow Logs): show requests that got no reply within
    /// the window as possibly denied (the default; records with a verdict are never flagged).
    #[arg(long, overrides_with = "no_unanswered")]
    pub unanswered: bool,
    /// Do not flag unanswered requests.
    #[arg(long)]
    pub no_unanswered: bool,
    /// How long a reply may come after its request, in seconds, for unanswered requests.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub reply_window: u32,
}

/// `flowq replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Input options.
    #[command(flatten)]
    pub input: InputArgs,
    /// Snapshot options.
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// NetworkPolicy manifests (a file or folder of YAML or JSON) used instead of the
    /// snapshot's policies. Repeat to combine.
    #[arg(long, value_name = "PATH")]
    pub policies: Vec<std::path::PathBuf>,
    /// NetworkPolicy manifests added to the snapshot's policies (one with the same
    /// namespace/name replaces it). Repeat to combine.
    #[arg(long, value_name = "PATH")]
    pub add: Vec<std::path::PathBuf>,
    /// Also list connections whose verdict does not change.
    #[arg(long)]
    pub all: bool,
    /// Exit 1 when any recorded connection that was allowed becomes denied.
    #[arg(long)]
    pub fail_on_new_denies: bool,
    /// Filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `flowq suggest`.
#[derive(Debug, Args)]
pub struct SuggestArgs {
    /// Input options.
    #[command(flatten)]
    pub input: InputArgs,
    /// Snapshot options (the change is made against the newest).
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// Filters: which denied connections to allow (every recorded connection is still checked).
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Also count packets dropped for reasons other than policy as denials to allow.
    #[arg(long)]
    pub include_drops: bool,
    /// Output format: yaml (for `kubectl apply -f`), json (a List for `kubectl apply -f`),
    /// table, ndjson or csv (one row per added rule).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = SuggestFormat::Yaml)]
    pub output: SuggestFormat,
    /// Write to this file instead of standard output (replaced only when complete).
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

/// `flowq suggest` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SuggestFormat {
    /// NetworkPolicy manifests as YAML, a comment above each.
    Yaml,
    /// NetworkPolicy manifests as one JSON `List`.
    Json,
    /// One line per added rule, for people.
    Table,
    /// One JSON object per added rule.
    Ndjson,
    /// One CSV row per added rule.
    Csv,
}

/// `flowq reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Input options.
    #[command(flatten)]
    pub input: InputArgs,
    /// Snapshot options.
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// Filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
    /// For records without a verdict (VPC Flow Logs): how long a reply may come after its
    /// request, in seconds, before the request counts as unanswered.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub reply_window: u32,
    /// Only list the connections where the log and the policies disagree (the summary still
    /// counts every connection).
    #[arg(long)]
    pub mismatches_only: bool,
    /// Exit 1 when the log and the policies disagree on any connection.
    #[arg(long)]
    pub fail_on_mismatch: bool,
}

/// `flowq flows`.
#[derive(Debug, Args)]
pub struct FlowsArgs {
    /// Input options.
    #[command(flatten)]
    pub input: InputArgs,
    /// Snapshot options.
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// Filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
    /// `-o table`: one line per row with full names (node names included), however wide.
    #[arg(long)]
    pub wide: bool,
    /// What the log says happened: allowed, denied, dropped, unknown, or the log's own word
    /// (FORWARDED, DROPPED, AUDIT, …). Repeat to OR.
    #[arg(long, value_name = "VERDICT", help_heading = "Filters")]
    pub verdict: Vec<String>,
}

/// `flowq top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Input options.
    #[command(flatten)]
    pub input: InputArgs,
    /// Snapshot options.
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// Filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Columns to group by, comma-separated (any column of `flowq flows -o json` but lists,
    /// time and details; `l7` groups by DNS query or HTTP request) [default: src_namespace,src_workload,dst_namespace,dst_workload,dst_port]
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub by: Vec<String>,
    /// Keep the K largest groups by count; 0 keeps all.
    #[arg(short = 'k', long = "top", value_name = "K", default_value_t = 20)]
    pub k: usize,
    /// Also group by time bucket (`30s`, `1m`, `5m`, `1h`, `1d`): when did it start.
    #[arg(long, value_name = "WIDTH")]
    pub bucket: Option<String>,
    /// Also count records the log marks as replies (by default they are left out: their
    /// source and destination are the other way round, their destination port ephemeral).
    #[arg(long)]
    pub include_replies: bool,
    /// What the log says happened: allowed, denied, dropped, unknown, or the log's own word.
    /// Repeat to OR.
    #[arg(long, value_name = "VERDICT", help_heading = "Filters")]
    pub verdict: Vec<String>,
}

/// `flowq report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Input options.
    #[command(flatten)]
    pub input: InputArgs,
    /// Snapshot options.
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// Filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The HTML file to write.
    #[arg(long, value_name = "FILE")]
    pub out: std::path::PathBuf,
    /// Also show packets dropped for reasons other than policy.
    #[arg(long)]
    pub include_drops: bool,
    /// Page title [default: the input names].
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}

/// Where flows come from.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Flow log files (gzip or not); `-` or none reads standard input.
    #[arg(value_name = "FILES")]
    pub files: Vec<String>,
    /// Read every input as this format instead of detecting it (see `flowq formats`).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Fail (exit 2) if any record is skipped.
    #[arg(long)]
    pub strict: bool,
    /// List every skipped record and snapshot warning on stderr.
    #[arg(short, long)]
    pub verbose: bool,
}

/// Cluster snapshots.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Cluster snapshot (`kubectl get namespaces,pods,services,endpointslices,nodes,
    /// networkpolicies -A -o json`, or a folder of manifests), optionally `FILE@TIME` for when
    /// it was taken. Repeat for snapshots taken at different times.
    #[arg(long, value_name = "FILE[@TIME]")]
    pub snapshot: Vec<String>,
}

/// Filters, hubble-style: repeating a flag ORs its values, different flags AND.
#[derive(Debug, Args)]
#[command(next_help_heading = "Filters")]
pub struct FilterArgs {
    /// Namespace of either end.
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Vec<String>,
    /// Namespace of the source.
    #[arg(long, value_name = "NS")]
    pub from_namespace: Vec<String>,
    /// Namespace of the destination.
    #[arg(long, value_name = "NS")]
    pub to_namespace: Vec<String>,
    /// Source pod: `namespace/name`, `namespace/` or a name prefix.
    #[arg(long, value_name = "POD")]
    pub from_pod: Vec<String>,
    /// Destination pod: `namespace/name`, `namespace/` or a name prefix.
    #[arg(long, value_name = "POD")]
    pub to_pod: Vec<String>,
    /// Address or CIDR of either end.
    #[arg(long, value_name = "IP|CIDR")]
    pub ip: Vec<String>,
    /// Source address or CIDR.
    #[arg(long, value_name = "IP|CIDR")]
    pub from_ip: Vec<String>,
    /// Destination address or CIDR.
    #[arg(long, value_name = "IP|CIDR")]
    pub to_ip: Vec<String>,
    /// Destination port or range (`9200`, `8000-8100`).
    #[arg(long, value_name = "PORT")]
    pub dst_port: Vec<String>,
    /// Protocol: tcp, udp, sctp, icmpv4, icmpv6 or a number.
    #[arg(long, value_name = "PROTO")]
    pub protocol: Vec<String>,
    /// Source pod labels, selector syntax (`app=x,tier!=db,env in (a,b)`).
    #[arg(long, value_name = "SELECTOR")]
    pub from_label: Vec<String>,
    /// Destination pod labels, selector syntax.
    #[arg(long, value_name = "SELECTOR")]
    pub to_label: Vec<String>,
    /// Node that reported the flow (name, `cluster/name`, or prefix ending in `*`).
    #[arg(long, value_name = "NODE")]
    pub node: Vec<String>,
    /// Only flows at or after this time: RFC 3339 or a duration ago (`15m`, `2h`, `3d`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only flows at or before this time: RFC 3339 or a duration ago.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

/// How results are written.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Write to this file instead of standard output (replaced only when complete).
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned table for people.
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header.
    Csv,
    /// Apache Parquet (binary: use --out FILE or a pipe); times are UTC timestamps.
    Parquet,
}
