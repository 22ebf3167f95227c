//! The graph of who is denied what: sources on the left, destinations on the right, grouped
//! in namespace boxes, one edge per source → destination with its ports and attempts. Laid
//! out here as SVG, so the page needs no script to show it.

use std::collections::BTreeMap;
use std::fmt::Write;

use netflow_core::query::DeniedRow;

use super::escape;

const WIDTH: u32 = 960;
const NODE_WIDTH: u32 = 250;
const NODE_HEIGHT: u32 = 24;
const NODE_GAP: u32 = 6;
const GROUP_HEADER: u32 = 22;
const GROUP_GAP: u32 = 14;
const MARGIN: u32 = 10;
const LABEL_CHARS: usize = 34;

/// One end of an edge as drawn: the box it sits in and its own label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GraphNode {
    /// Namespace, or a kind of place (`nodes`, `outside the cluster`, …).
    pub group: String,
    /// Workload, pod, service or address.
    pub label: String,
}

impl GraphNode {
    /// The source end of a denied connection.
    pub fn source(r: &DeniedRow) -> GraphNode {
        node_of(End {
            kind: r.src_kind,
            namespace: r.src_namespace.as_deref(),
            workload: r.src_workload.as_deref(),
            workload_kind: r.src_workload_kind.as_deref(),
            pod: r.src_pod.as_deref(),
            node: r.src_node.as_deref(),
            name: r.src_name.as_deref(),
            ip: r.src_ip.as_deref(),
            service: None,
        })
    }

    /// The destination end of a denied connection.
    pub fn destination(r: &DeniedRow) -> GraphNode {
        node_of(End {
            kind: r.dst_kind,
            namespace: r.dst_namespace.as_deref(),
            workload: r.dst_workload.as_deref(),
            workload_kind: r.dst_workload_kind.as_deref(),
            pod: r.dst_pod.as_deref(),
            node: r.dst_node.as_deref(),
            name: r.dst_name.as_deref(),
            ip: r.dst_ip.as_deref(),
            service: r.dst_service.as_deref(),
        })
    }
}

struct End<'a> {
    kind: &'a str,
    namespace: Option<&'a str>,
    workload: Option<&'a str>,
    workload_kind: Option<&'a str>,
    pod: Option<&'a str>,
    node: Option<&'a str>,
    name: Option<&'a str>,
    ip: Option<&'a str>,
    service: Option<&'a str>,
}

fn node_of(e: End<'_>) -> GraphNode {
    let ip = e.ip.unwrap_or("(no address)");
    let (group, label) = match e.kind {
        "pod" => (
            e.namespace.unwrap_or("?").to_string(),
            match (e.workload, e.workload_kind, e.pod) {
                (Some(w), Some(k), _) => format!("{w} ({k})"),
                (Some(w), None, _) => w.to_string(),
                (None, _, Some(p)) => p.to_string(),
                (None, _, None) => format!("{ip} (pod)"),
            },
        ),
        "service" => (
            e.namespace.unwrap_or("?").to_string(),
            format!(
                "svc {}",
                e.service
                    .and_then(|s| s.split_once('/').map(|(_, n)| n))
                    .unwrap_or(ip)
            ),
        ),
        "node" => ("nodes".to_string(), e.node.unwrap_or(ip).to_string()),
        "external" => ("outside the cluster".to_string(), ip.to_string()),
        "unknown" => ("unattributed".to_string(), ip.to_string()),
        _ => (
            "other".to_string(),
            e.name.map(str::to_string).unwrap_or_else(|| ip.to_string()),
        ),
    };
    GraphNode { group, label }
}

/// One drawn edge.
#[derive(Debug, Default)]
struct Edge {
    ports: Vec<String>,
    count: u64,
    rows: Vec<usize>,
}

/// Positions of the nodes of one column.
struct Column {
    positions: BTreeMap<GraphNode, u32>,
    svg: String,
    height: u32,
}

fn layout(nodes: &[GraphNode], x: u32, side: &str) -> Column {
    let mut groups: BTreeMap<&str, Vec<&GraphNode>> = BTreeMap::new();
    for n in nodes {
        groups.entry(n.group.as_str()).or_default().push(n);
    }
    let mut svg = String::new();
    let mut positions = BTreeMap::new();
    let mut y = MARGIN;
    for (group, members) in groups {
        let height = GROUP_HEADER + members.len() as u32 * (NODE_HEIGHT + NODE_GAP) + NODE_GAP;
        let _ = write!(
            svg,
            r#"<g class="group"><rect x="{x}" y="{y}" width="{w}" height="{height}" rx="6"/><text class="group-label" x="{tx}" y="{ty}">{label}</text></g>"#,
            w = NODE_WIDTH + 2 * NODE_GAP,
            tx = x + NODE_GAP,
            ty = y + 15,
            label = escape(&shorten(group))
        );
        let mut ny = y + GROUP_HEADER;
        for n in members {
            let _ = write!(
                svg,
                r#"<g class="node {side}" data-node="{id}"><title>{full}</title><rect x="{nx}" y="{ny}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="4"/><text x="{tx}" y="{ty}">{label}</text></g>"#,
                id = escape(&format!("{}/{}", n.group, n.label)),
                full = escape(&format!("{} / {}", n.group, n.label)),
                nx = x + NODE_GAP,
                tx = x + NODE_GAP + 8,
                ty = ny + 16,
                label = escape(&shorten(&n.label)),
            );
            positions.insert(n.clone(), ny + NODE_HEIGHT / 2);
            ny += NODE_HEIGHT + NODE_GAP;
        }
        y += height + GROUP_GAP;
    }
    Column {
        positions,
        svg,
        height: y,
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= LABEL_CHARS {
        text.to_string()
    } else {
        let head: String = text.chars().take(LABEL_CHARS - 1).collect();
        format!("{head}…")
    }
}

/// The SVG of the denied connections `rows` (edges carry the indices of their table rows in
/// `data-rows`, so the page can filter the table to an edge).
pub fn render(rows: &[DeniedRow]) -> String {
    let mut edges: BTreeMap<(GraphNode, GraphNode), Edge> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let edge = edges
            .entry((GraphNode::source(r), GraphNode::destination(r)))
            .or_default();
        let port = match r.dst_port {
            Some(p) => format!("{p}/{}", r.protocol),
            None => r.protocol.clone(),
        };
        if !edge.ports.contains(&port) {
            edge.ports.push(port);
        }
        edge.count = edge.count.saturating_add(r.count);
        edge.rows.push(i);
    }
    let mut sources: Vec<GraphNode> = edges.keys().map(|(s, _)| s.clone()).collect();
    let mut destinations: Vec<GraphNode> = edges.keys().map(|(_, d)| d.clone()).collect();
    sources.sort();
    sources.dedup();
    destinations.sort();
    destinations.dedup();
    let left = layout(&sources, MARGIN, "src");
    let right_x = WIDTH - MARGIN - NODE_WIDTH - 2 * NODE_GAP;
    let right = layout(&destinations, right_x, "dst");
    let height = left.height.max(right.height).max(60);

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="graph-svg" role="img" aria-label="denied connections graph" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}">"#
    );
    svg.push_str(r#"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>"#);
    let x1 = MARGIN + NODE_WIDTH + NODE_GAP;
    let x2 = right_x + NODE_GAP;
    for ((src, dst), edge) in &edges {
        let (Some(&y1), Some(&y2)) = (left.positions.get(src), right.positions.get(dst)) else {
            continue;
        };
        let width = 1.5 + 2.0 * (edge.count.max(1) as f64).log10();
        let mid = (x1 + x2) / 2;
        let label = format!("{} ×{}", edge.ports.join(", "), edge.count);
        let rows: Vec<String> = edge.rows.iter().map(usize::to_string).collect();
        let _ = write!(
            svg,
            r#"<g class="edge" data-rows="{rows}"><title>{title}</title><path d="M {x1} {y1} C {mid} {y1}, {mid} {y2}, {x2} {y2}" stroke-width="{width:.1}" marker-end="url(#arrow)"/><text x="{mid}" y="{ty}" text-anchor="middle">{label}</text></g>"#,
            rows = rows.join(" "),
            title = escape(&format!(
                "{}/{} → {}/{}: {label}",
                src.group, src.label, dst.group, dst.label
            )),
            ty = (y1 + y2) / 2 - 4,
            label = escape(&label),
        );
    }
    svg.push_str(&left.svg);
    svg.push_str(&right.svg);
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(src_ns: &str, src_pod: &str, dst_ip: &str, port: u16, count: u64) -> DeniedRow {
        DeniedRow {
            src_ip: Some("10.0.0.1".into()),
            src_kind: "pod",
            src_namespace: Some(src_ns.into()),
            src_pod: Some(src_pod.into()),
            src_workload: None,
            src_workload_kind: None,
            src_node: None,
            src_name: None,
            src_identity_source: "snapshot",
            dst_ip: Some(dst_ip.into()),
            dst_kind: "external",
            dst_namespace: None,
            dst_pod: None,
            dst_workload: None,
            dst_workload_kind: None,
            dst_node: None,
            dst_service: None,
            dst_name: None,
            dst_identity_source: "none",
            dst_port: Some(port),
            protocol: "TCP".into(),
            verdict: "denied",
            verdict_from: "log",
            where_: "egress",
            node: None,
            reason: None,
            policies: vec![],
            count,
            records: count,
            first_seen: None,
            last_seen: None,
            counting: "exact",
            other_reports: vec![],
            policy_verdict: None,
            explanation: None,
            evaluation: None,
            mismatch: None,
            also_subject_to: Vec::new(),
        }
    }

    #[test]
    fn one_edge_per_pair_with_every_port_and_the_total() {
        let rows = vec![
            row("a", "web", "1.1.1.1", 443, 2),
            row("a", "web", "1.1.1.1", 80, 3),
            row("b", "<script>", "1.1.1.1", 443, 1),
        ];
        let svg = render(&rows);
        assert_eq!(svg.matches(r#"class="edge""#).count(), 2);
        assert_eq!(svg.matches(r#"class="node src""#).count(), 2);
        assert_eq!(svg.matches(r#"class="node dst""#).count(), 1);
        assert!(svg.contains("443/TCP, 80/TCP ×5"), "{svg}");
        assert!(svg.contains(r#"data-rows="0 1""#));
        assert!(svg.contains("outside the cluster"));
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
    }

    #[test]
    fn long_names_are_shortened_but_kept_in_the_tooltip() {
        let long = "a-very-long-workload-name-that-goes-on-and-on-and-on";
        let svg = render(&[row("ns", long, "1.1.1.1", 1, 1)]);
        assert!(svg.contains(&format!("<title>ns / {long}</title>")));
        assert!(svg.contains("a-very-long-workload-name-that-go…"));
    }
}
