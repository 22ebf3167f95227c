//! Tables for people (comfy-table): borderless, kubectl-like, workload first with the pod
//! underneath, wrapped to the terminal width when stdout is a terminal and never otherwise, so
//! piped output is stable.

use std::io::IsTerminal;

use chrono::{DateTime, Utc};
use comfy_table::{
    presets, Cell, CellAlignment, ColumnConstraint, ContentArrangement, Table, Width,
};
use netflow_core::flow::{Endpoint, Flow, Identity};
use netflow_core::query::{DenialBasis, DeniedConnection, ReplayConnection};
use netflow_core::{Column, ColumnType, Row};

use super::terminal::{Grid, GridRow, Layout, NodeNames};

/// A new table with flowq's look and the given header.
pub fn new_table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    if std::io::stdout().is_terminal() {
        table.set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        table.set_content_arrangement(ContentArrangement::Disabled);
    }
    table.set_header(header.iter().map(|h| Cell::new(*h)));
    for column in table.column_iter_mut() {
        column.set_padding((0, COLUMN_GAP));
    }
    table
}

/// Spaces after each column.
const COLUMN_GAP: u16 = 2;

/// Rows rendered at a time by [`write_long_table`].
const SLICE_ROWS: usize = 1024;

/// Writes the table `build` makes of `rows`. When stdout is not a terminal (no wrapping), a
/// long table is rendered a slice of rows at a time with the column widths of the whole
/// table: the same text as rendering it whole, while memory holds one slice's rendering
/// (tens of thousands of rows otherwise take hundreds of MB). `build` must lay out every
/// slice alike (per-table settings such as a time style computed from all rows, not the slice).
pub fn write_long_table<R>(
    out: &mut dyn std::io::Write,
    rows: &[R],
    build: impl Fn(&[R]) -> Table,
) -> std::io::Result<()> {
    if rows.len() <= SLICE_ROWS || std::io::stdout().is_terminal() {
        return write_table(out, &build(rows));
    }
    write_table_in_slices(out, rows, SLICE_ROWS, build)
}

/// [`write_long_table`]'s slices, `slice_rows` rows each.
fn write_table_in_slices<R>(
    out: &mut dyn std::io::Write,
    rows: &[R],
    slice_rows: usize,
    build: impl Fn(&[R]) -> Table,
) -> std::io::Result<()> {
    let mut widths: Vec<u16> = Vec::new();
    for slice in rows.chunks(slice_rows.max(1)) {
        let slice_widths = build(slice).column_max_content_widths();
        if widths.is_empty() {
            widths = slice_widths;
        } else {
            for (width, w) in widths.iter_mut().zip(slice_widths) {
                *width = (*width).max(w);
            }
        }
    }
    for (i, slice) in rows.chunks(slice_rows.max(1)).enumerate() {
        let mut table = build(slice);
        for (column, width) in table.column_iter_mut().zip(&widths) {
            column.set_constraint(ColumnConstraint::Absolute(Width::Fixed(
                width.saturating_add(COLUMN_GAP),
            )));
        }
        // The header is one line (no column is narrower than its title); only the first
        // slice prints it.
        for line in table.lines().skip(usize::from(i > 0)) {
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    Ok(())
}

/// A table of any rows by their columns: upper-case headers, numbers right-aligned with
/// thousands separators (ports without), times as `YYYY-MM-DD HH:MM:SS` UTC, nulls as `-`.
pub fn rows_table<'r, R: Row + 'r>(
    columns: &[Column],
    rows: impl IntoIterator<Item = &'r R>,
) -> Table {
    let header: Vec<String> = columns
        .iter()
        .map(|c| match c.kind {
            ColumnType::Time => format!("{} (UTC)", c.name.to_uppercase()),
            _ => c.name.to_uppercase(),
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = new_table(&header);
    for row in rows {
        table.add_row(columns.iter().enumerate().map(|(i, column)| {
            let cell = row.cell(i);
            match cell {
                netflow_core::Cell::Null => "-".to_string(),
                netflow_core::Cell::Time(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
                _ if column.kind.is_integer() && !column.name.ends_with("port") => cell
                    .as_i64()
                    .and_then(|n| u64::try_from(n).ok())
                    .map(thousands)
                    .unwrap_or_else(|| cell.to_text()),
                _ => cell.to_text(),
            }
        }));
    }
    let numeric: Vec<usize> = columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind.is_integer())
        .map(|(i, _)| i)
        .collect();
    align_right(&mut table, &numeric);
    table
}

/// Right-aligns the columns at `indices` (counts).
pub fn align_right(table: &mut Table, indices: &[usize]) {
    for i in indices {
        if let Some(column) = table.column_mut(*i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// An endpoint as people think of it: `namespace/workload (Kind)` with the pod underneath, or
/// `namespace/pod`, `node NAME`, `svc ns/name`, an address with what is known of it.
pub fn endpoint_cell(ep: &Endpoint) -> String {
    let ip = ep.ip.map(|ip| ip.to_string());
    let mut text = match &ep.identity {
        Identity::Pod(p) => match (&p.workload, p.name.is_empty()) {
            (Some(w), false) => format!("{}/{} ({})\n  {}", p.namespace, w.name, w.kind, p.name),
            (Some(w), true) => format!("{}/{} ({})", p.namespace, w.name, w.kind),
            (None, false) => format!("{}/{}", p.namespace, p.name),
            (None, true) => format!("{}/* (pod unknown)", p.namespace),
        },
        Identity::Node(n) => {
            let mut s = match &n.name {
                Some(name) => format!("node {name}"),
                None => "remote node".to_string(),
            };
            if !n.host_network_pods.is_empty() {
                s.push_str(&format!(
                    "\n  shared by hostNetwork pods: {}",
                    n.host_network_pods.join(", ")
                ));
            }
            s
        }
        Identity::Service(s) => format!("svc {}/{}", s.namespace, s.name),
        Identity::External => match &ip {
            Some(ip) => format!("{ip} (external)"),
            None => "external (public network)".to_string(),
        },
        Identity::Reserved { name } => format!("reserved:{name}"),
        Identity::Cloud(c) => c.to_string(),
        Identity::Network(n) => n.to_string(),
        Identity::Ambiguous { candidates } => format!(
            "{} (ambiguous: {})",
            ip.as_deref().unwrap_or("?"),
            candidates.join(" | ")
        ),
        // Unknown, and any kind of identity a later library version adds.
        _ => match &ip {
            Some(ip) => format!("{ip} ({})", ep.identity.kind_name()),
            None => ep.identity.kind_name().to_string(),
        },
    };
    if matches!(
        ep.identity,
        Identity::Node(_)
            | Identity::Service(_)
            | Identity::Reserved { .. }
            | Identity::Cloud(_)
            | Identity::Network(_)
    ) {
        if let Some(ip) = ip {
            text = match text.split_once('\n') {
                Some((first, rest)) => format!("{first} {ip}\n{rest}"),
                None => format!("{text} {ip}"),
            };
        }
    }
    if let (Some(svc), Identity::Pod(_)) = (&ep.service, &ep.identity) {
        text.push_str(&format!("\n  via svc {}/{}", svc.namespace, svc.name));
    }
    text
}

/// `9200/TCP`, or the protocol alone when it has no ports.
pub fn port_cell(port: Option<u16>, protocol: impl std::fmt::Display) -> String {
    match port {
        Some(p) => format!("{p}/{protocol}"),
        None => protocol.to_string(),
    }
}

/// `ingress @ node`: the enforcing side and node.
pub fn where_cell(direction: &str, node: Option<&str>) -> String {
    match (direction, node) {
        ("unknown", Some(n)) => format!("@ {n}"),
        ("unknown", None) => "unknown".to_string(),
        (d, Some(n)) => format!("{d} @ {n}"),
        (d, None) => d.to_string(),
    }
}

/// What the log says, then what the snapshot's policies say and any disagreement.
fn why_with_snapshot(r: &DeniedConnection, log_says: String) -> String {
    let Some(why) = &r.why else {
        return log_says;
    };
    let mut text = if log_says == "-" {
        format!("→ {}", why.summary)
    } else {
        format!("{log_says}\n→ {}", why.summary)
    };
    if let Some(mismatch) = &why.mismatch {
        text.push_str(&format!("\n! mismatch: {mismatch}"));
    }
    for also in why.evaluation.iter().flat_map(|e| &e.also_subject_to) {
        text.push_str(&format!("\n! {}", also.note));
    }
    text
}

/// How times are shown in one table: time of day when every time falls on one UTC date,
/// date and time otherwise.
#[derive(Debug, Clone, Copy)]
pub struct TimeStyle {
    one_day: bool,
}

impl TimeStyle {
    /// Chooses the style for a set of times.
    pub fn for_times<'a>(times: impl Iterator<Item = &'a DateTime<Utc>>) -> TimeStyle {
        let mut dates = times.map(|t| t.date_naive());
        let first = dates.next();
        TimeStyle {
            one_day: dates.all(|d| Some(d) == first),
        }
    }

    /// Formats one time.
    pub fn format(self, t: Option<&DateTime<Utc>>) -> String {
        match t {
            None => "-".to_string(),
            Some(t) if self.one_day => t.format("%H:%M:%S").to_string(),
            Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        }
    }
}

/// What the log says about why a connection was denied.
pub fn why_cell(reasons: &[&str], policies: &[String]) -> String {
    let mut text = reasons.join(", ");
    if !policies.is_empty() {
        if !text.is_empty() {
            text.push_str(" by ");
        }
        text.push_str(&policies.join(", "));
    }
    if text.is_empty() {
        "-".to_string()
    } else {
        text
    }
}

/// The denied-connections table in the stable layout. Times are written in `style` (that of
/// all rows, when `rows` is a slice of them).
pub fn denied_table(rows: &[DeniedConnection], style: TimeStyle) -> Table {
    let mut table = new_table(&DENIED_HEADER);
    for r in rows {
        let (mut cells, why) = denied_cells(r, style, &NodeNames::default());
        cells.insert(4, why);
        table.add_row(cells);
    }
    align_right(&mut table, &[5]);
    table
}

/// The cells of a denied connection, the WHY apart: source, destination, port, where (with
/// the other end's reports underneath), count, first and last seen. Node names as `nodes`
/// shows them.
fn denied_cells(
    r: &DeniedConnection,
    style: TimeStyle,
    nodes: &NodeNames,
) -> (Vec<String>, String) {
    let reasons: Vec<&str> = r.drop_reasons.iter().map(String::as_str).collect();
    let policies: Vec<String> = r.policies.iter().map(|p| p.to_string()).collect();
    let mut place = where_cell(
        r.direction.as_str(),
        r.node.as_deref().map(|n| nodes.show(n)).as_deref(),
    );
    match r.basis {
        // An unanswered request's reason already says it.
        DenialBasis::Log | DenialBasis::NoReply => {}
        DenialBasis::Snapshot => place.push_str("\n  (computed: the log has no verdict)"),
    }
    for other in &r.other_reports {
        let mut other = other.clone();
        other.node = other.node.map(|n| nodes.show(&n));
        place.push_str(&format!("\n  ({other})"));
    }
    let cells = vec![
        endpoint_cell(&r.src),
        endpoint_cell(&r.dst),
        port_cell(r.dst.port, r.protocol),
        place,
        if r.inexact {
            format!("~{}", thousands(r.count))
        } else {
            thousands(r.count)
        },
        style.format(r.first_seen.as_ref()),
        style.format(r.last_seen.as_ref()),
    ];
    (cells, why_with_snapshot(r, why_cell(&reasons, &policies)))
}

/// Writes the denied-connections table in `layout`.
pub fn write_denied(
    out: &mut dyn std::io::Write,
    rows: &[DeniedConnection],
    style: TimeStyle,
    layout: Layout,
) -> std::io::Result<()> {
    match layout {
        Layout::Stable => write_long_table(out, rows, |rows| denied_table(rows, style)),
        Layout::Wide => {
            let mut table = new_table(&DENIED_HEADER);
            table.set_content_arrangement(ContentArrangement::Disabled);
            for r in rows {
                let (mut cells, why) = denied_cells(r, style, &NodeNames::default());
                cells.insert(4, why);
                table.add_row(cells.iter().map(|c| one_line(c)));
            }
            align_right(&mut table, &[5]);
            write_table(out, &table)
        }
        Layout::Terminal(width) => {
            let nodes = NodeNames::for_names(rows.iter().flat_map(|r| {
                r.node
                    .iter()
                    .chain(r.other_reports.iter().filter_map(|o| o.node.as_ref()))
                    .map(String::as_str)
            }));
            let mut header: Vec<String> = DENIED_HEADER.iter().map(|h| h.to_string()).collect();
            header.remove(4);
            let grid = Grid {
                header,
                rows: rows
                    .iter()
                    .map(|r| {
                        let (cells, why) = denied_cells(r, style, &nodes);
                        GridRow {
                            cells,
                            under: why
                                .lines()
                                .filter(|l| *l != "-")
                                .map(String::from)
                                .collect(),
                        }
                    })
                    .collect(),
                right: vec![4],
                flexible: vec![0, 1, 3],
            };
            for line in grid.render(width) {
                writeln!(out, "{line}")?;
            }
            Ok(())
        }
    }
}

/// The column titles of the replay table.
const REPLAY_HEADER: [&str; 9] = [
    "CHANGE",
    "SOURCE",
    "DESTINATION",
    "PORT",
    "WHERE",
    "WHY",
    "COUNT",
    "FIRST (UTC)",
    "LAST (UTC)",
];

/// The replay table: per connection, how its verdict changes, the denied columns, and the
/// WHY before and after the change.
pub fn replay_table(rows: &[ReplayConnection], style: TimeStyle) -> Table {
    let mut table = new_table(&REPLAY_HEADER);
    for r in rows {
        let (mut cells, _) = denied_cells(&r.connection, style, &NodeNames::default());
        let mut why = String::new();
        if let Some(before) = &r.explanation_before {
            why.push_str(&format!("before: {before}"));
        }
        if let Some(after) = r.connection.why.as_ref().map(|w| &w.summary) {
            if !why.is_empty() {
                why.push('\n');
            }
            why.push_str(&format!("after:  {after}"));
        }
        cells.insert(4, if why.is_empty() { "-".to_string() } else { why });
        cells.insert(0, r.change().as_str().to_string());
        table.add_row(cells);
    }
    align_right(&mut table, &[6]);
    table
}

/// Writes the replay table (long tables a slice at a time).
pub fn write_replay(
    out: &mut dyn std::io::Write,
    rows: &[ReplayConnection],
    style: TimeStyle,
) -> std::io::Result<()> {
    write_long_table(out, rows, |rows| replay_table(rows, style))
}

/// A cell's lines on one line.
fn one_line(cell: &str) -> String {
    cell.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The column titles of the denied-connections table.
const DENIED_HEADER: [&str; 8] = [
    "SOURCE",
    "DESTINATION",
    "PORT",
    "WHERE",
    "WHY",
    "COUNT",
    "FIRST (UTC)",
    "LAST (UTC)",
];

/// The column titles of the flow-records table.
const FLOWS_HEADER: [&str; 7] = [
    "TIME (UTC)",
    "SOURCE",
    "DESTINATION",
    "PORT",
    "VERDICT",
    "WHERE",
    "REASON",
];

/// The cells of one flow record. A reply (as the log marks it) is shown in the connection's
/// direction — client, then server and its port — and its verdict says `(reply)`, so that it
/// does not read like a connection to the client's ephemeral port.
fn flow_cells(f: &Flow, style: TimeStyle, nodes: &NodeNames) -> Vec<String> {
    let mut verdict = if f.action_raw.is_empty() {
        f.action.to_string()
    } else {
        f.action_raw.clone()
    };
    let reply = f.is_reply == Some(true);
    let (client, server) = if reply {
        (&f.dst, &f.src)
    } else {
        (&f.src, &f.dst)
    };
    if reply {
        verdict.push_str(" (reply)");
    }
    let reasons: Vec<&str> = f.drop_reason.iter().map(String::as_str).collect();
    let policies: Vec<String> = f.policies.iter().map(|p| p.to_string()).collect();
    vec![
        style.format(f.time.as_ref()),
        endpoint_cell(client),
        endpoint_cell(server),
        port_cell(server.port, f.protocol),
        verdict,
        where_cell(
            f.direction.as_str(),
            f.node.as_deref().map(|n| nodes.show(n)).as_deref(),
        ),
        why_cell(&reasons, &policies),
    ]
}

/// The one-row-per-record table of `flowq flows` and `flowq denied --each`.
pub fn flows_table(flows: &[Flow]) -> Table {
    let mut table = new_table(&FLOWS_HEADER);
    let style = TimeStyle::for_times(flows.iter().filter_map(|f| f.time.as_ref()));
    for f in flows {
        table.add_row(flow_cells(f, style, &NodeNames::default()));
    }
    table
}

/// Writes the flow-records table in `layout`.
pub fn write_flows(
    out: &mut dyn std::io::Write,
    flows: &[Flow],
    layout: Layout,
) -> std::io::Result<()> {
    let style = TimeStyle::for_times(flows.iter().filter_map(|f| f.time.as_ref()));
    match layout {
        Layout::Stable => write_table(out, &flows_table(flows)),
        Layout::Wide => {
            let mut table = new_table(&FLOWS_HEADER);
            table.set_content_arrangement(ContentArrangement::Disabled);
            for f in flows {
                let cells = flow_cells(f, style, &NodeNames::default());
                table.add_row(cells.iter().map(|c| one_line(c)));
            }
            write_table(out, &table)
        }
        Layout::Terminal(width) => {
            let nodes = NodeNames::for_names(flows.iter().filter_map(|f| f.node.as_deref()));
            let grid = Grid {
                header: FLOWS_HEADER.iter().map(|h| h.to_string()).collect(),
                rows: flows
                    .iter()
                    .map(|f| GridRow {
                        cells: flow_cells(f, style, &nodes),
                        // The message a proxy recorded (a DNS query and its answer, an HTTP
                        // request) on its own line: what an SRE reads a DNS log for.
                        under: f
                            .details
                            .as_ref()
                            .and_then(|d| d.l7.as_ref())
                            .map(|l7| vec![l7.to_string()])
                            .unwrap_or_default(),
                    })
                    .collect(),
                right: Vec::new(),
                flexible: vec![1, 2, 5, 6],
            };
            for line in grid.render(width) {
                writeln!(out, "{line}")?;
            }
            Ok(())
        }
    }
}

/// Writes a table without the padding comfy-table leaves at the end of each line.
pub fn write_table(out: &mut dyn std::io::Write, table: &Table) -> std::io::Result<()> {
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `48211` → `48,211`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_written_in_slices_is_the_table_written_whole() {
        // Widths vary from slice to slice; some cells span two lines; counts align right.
        let rows: Vec<(String, String, u64)> = (0..50u64)
            .map(|i| {
                let name = "x".repeat(1 + (i * 7 % 23) as usize);
                let why = if i % 5 == 0 {
                    format!("denied\n  by policy-{i}")
                } else {
                    "-".to_string()
                };
                (name, why, i * i * 37)
            })
            .collect();
        let build = |rows: &[(String, String, u64)]| {
            let mut table = new_table(&["NAME", "WHY", "COUNT"]);
            table.set_content_arrangement(ContentArrangement::Disabled);
            for (name, why, count) in rows {
                table.add_row(vec![name.clone(), why.clone(), thousands(*count)]);
            }
            align_right(&mut table, &[2]);
            table
        };
        let mut whole = Vec::new();
        write_table(&mut whole, &build(&rows)).unwrap();
        for slice_rows in [1, 7, 49, 50, 64] {
            let mut sliced = Vec::new();
            write_table_in_slices(&mut sliced, &rows, slice_rows, build).unwrap();
            assert_eq!(
                String::from_utf8(sliced).unwrap(),
                String::from_utf8(whole.clone()).unwrap(),
                "{slice_rows} rows per slice"
            );
        }
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(48211), "48,211");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn a_proxys_dns_message_sits_under_its_row_on_a_terminal_only() {
        let line = r#"{"flow":{"time":"2021-10-04T11:22:27.312725353Z","verdict":"FORWARDED","IP":{"source":"10.156.2.3","destination":"10.156.2.2"},"l4":{"TCP":{"source_port":53,"destination_port":59102}},"source":{"namespace":"kube-system","pod_name":"kube-dns-b4f5c58c7-vnx5s"},"destination":{"namespace":"kube-system","pod_name":"node-local-dns-88zrp"},"node_name":"n1","l7":{"type":"RESPONSE","dns":{"query":"zipkin.istio-system.svc.cluster.local.","rcode":3,"qtypes":["A"]}},"event_type":{"type":129},"traffic_direction":"EGRESS","is_reply":true}}"#;
        let origin = netflow_core::Origin {
            input: std::sync::Arc::from("t"),
            line: 1,
        };
        let flow = match netflow_core::ingest::decode_record(
            netflow_core::Format::Hubble,
            line.as_bytes(),
            origin,
        ) {
            netflow_core::ingest::Record::Flow(flow, _) => *flow,
            other => panic!("expected a flow, found {other:?}"),
        };
        let render = |layout: Layout| {
            let mut out = Vec::new();
            write_flows(&mut out, std::slice::from_ref(&flow), layout).unwrap();
            String::from_utf8(out).unwrap()
        };
        let message = "dns response NXDOMAIN A zipkin.istio-system.svc.cluster.local.";
        for width in [80, 120, 200] {
            let text = render(Layout::Terminal(width));
            let under = text
                .lines()
                .find(|l| l.contains("NXDOMAIN"))
                .unwrap_or_else(|| panic!("{width}: no DNS line in\n{text}"));
            assert_eq!(under.trim_start(), message, "{width}");
            assert!(under.starts_with("    "), "{width}: {under:?}");
        }
        // Scripts reading the stable layout see the columns they always did.
        assert!(!render(Layout::Stable).contains("NXDOMAIN"));
    }

    #[test]
    fn where_names_side_and_node() {
        assert_eq!(where_cell("ingress", Some("n1")), "ingress @ n1");
        assert_eq!(where_cell("unknown", None), "unknown");
    }
}
