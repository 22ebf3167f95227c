//! The HTML report: one self-contained page (inline style and script, no network fetches,
//! enforced by its Content-Security-Policy) with the denied-connection table, a graph of who
//! is denied what, and a timeline of denials.

pub mod graph;
pub mod timeline;

use std::fmt::Write;

use netflow_core::query::{format_time, DeniedRow};

use crate::output::table::thousands;

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// What the page shows.
pub struct Report<'a> {
    /// Page title.
    pub title: &'a str,
    /// When the page was made (RFC 3339).
    pub generated: String,
    /// The input accounting line (`in 2 files; 48,211 records read, 0 skipped`).
    pub footer: String,
    /// Denied connections, in table order.
    pub rows: &'a [DeniedRow],
    /// Denials over time.
    pub timeline: timeline::Timeline,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn endpoint(
    namespace: &Option<String>,
    workload: &Option<String>,
    workload_kind: &Option<String>,
    pod: &Option<String>,
    ip: &Option<String>,
    kind: &str,
    name: &Option<String>,
) -> (String, String) {
    let ip = ip.clone().unwrap_or_default();
    match (namespace, workload, pod) {
        (Some(ns), Some(w), pod) => (
            format!(
                "{ns}/{w}{}",
                workload_kind
                    .as_ref()
                    .map(|k| format!(" ({k})"))
                    .unwrap_or_default()
            ),
            pod.clone().unwrap_or_default(),
        ),
        (Some(ns), None, Some(pod)) => (format!("{ns}/{pod}"), ip),
        _ => (
            name.clone()
                .unwrap_or_else(|| format!("{} ({kind})", if ip.is_empty() { "?" } else { &ip })),
            String::new(),
        ),
    }
}

fn table(rows: &[DeniedRow]) -> String {
    let mut html = String::from(
        r#"<table id="denied"><thead><tr><th>Source</th><th>Destination</th><th>Port</th><th>Where</th><th>Why</th><th class="num">Count</th><th>First (UTC)</th><th>Last (UTC)</th></tr></thead><tbody>"#,
    );
    for (i, r) in rows.iter().enumerate() {
        let (src, src_sub) = endpoint(
            &r.src_namespace,
            &r.src_workload,
            &r.src_workload_kind,
            &r.src_pod,
            &r.src_ip,
            r.src_kind,
            &r.src_name,
        );
        let (mut dst, dst_sub) = endpoint(
            &r.dst_namespace,
            &r.dst_workload,
            &r.dst_workload_kind,
            &r.dst_pod,
            &r.dst_ip,
            r.dst_kind,
            &r.dst_name,
        );
        if let (Some(svc), true) = (&r.dst_service, r.dst_kind != "service") {
            dst.push_str(&format!(" via svc {svc}"));
        }
        let port = match r.dst_port {
            Some(p) => format!("{p}/{}", r.protocol),
            None => r.protocol.clone(),
        };
        let mut place = r.where_.to_string();
        if let Some(node) = &r.node {
            place.push_str(&format!(" @ {node}"));
        }
        let mut why = Vec::new();
        if let Some(reason) = &r.reason {
            why.push(reason.clone());
        }
        if !r.policies.is_empty() {
            why.push(r.policies.join(", "));
        }
        let mut detail = Vec::new();
        if let Some(explanation) = &r.explanation {
            detail.push(format!("→ {explanation}"));
        }
        if let Some(mismatch) = &r.mismatch {
            detail.push(format!("≠ {mismatch}"));
        }
        for other in &r.other_reports {
            detail.push(format!("({other})"));
        }
        let count = if r.counting == "exact" {
            thousands(r.count)
        } else {
            format!("~{}", thousands(r.count))
        };
        let time = |t: &Option<chrono::DateTime<chrono::Utc>>| {
            let full = t.as_ref().map(format_time).unwrap_or_default();
            let short = full.get(11..19).unwrap_or("-").to_string();
            format!(
                r#"<td data-sort="{}" title="{}">{}</td>"#,
                escape(&full),
                escape(&full),
                escape(&short)
            )
        };
        let _ = write!(
            html,
            r#"<tr data-row="{i}"><td>{src}<div class="sub">{src_sub}</div></td><td>{dst}<div class="sub">{dst_sub}</div></td><td>{port}</td><td>{place}</td><td>{why}<div class="sub">{detail}</div></td><td class="num" data-sort="{n}">{count}</td>{first}{last}</tr>"#,
            src = escape(&src),
            src_sub = escape(&src_sub),
            dst = escape(&dst),
            dst_sub = escape(&dst_sub),
            port = escape(&port),
            place = escape(&place),
            why = escape(&why.join(" · ")),
            detail = detail
                .iter()
                .map(|d| escape(d))
                .collect::<Vec<_>>()
                .join("<br>"),
            n = r.count,
            count = escape(&count),
            first = time(&r.first_seen),
            last = time(&r.last_seen),
        );
    }
    html.push_str("</tbody></table>");
    html
}

/// The whole page.
pub fn render(report: &Report<'_>) -> String {
    let attempts = report
        .rows
        .iter()
        .fold(0u64, |total, r| total.saturating_add(r.count));
    let sources: std::collections::BTreeSet<_> =
        report.rows.iter().map(graph::GraphNode::source).collect();
    let destinations: std::collections::BTreeSet<_> = report
        .rows
        .iter()
        .map(graph::GraphNode::destination)
        .collect();
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="flowq {version}">
<title>{title}</title>
<style>{STYLE}</style>
</head>
<body>
<header><h1>{title}</h1><p class="meta">Generated {generated} by flowq {version}: {connections} denied connection{cs} ({attempts} attempt{as_}) {footer}.</p></header>
<section class="cards"><div><b>{connections}</b>connections</div><div><b>{attempts}</b>attempts</div><div><b>{nsrc}</b>sources</div><div><b>{ndst}</b>destinations</div></section>
<section id="timeline"><h2>Denials over time <span class="meta">{width}</span></h2>{timeline}</section>
<section id="graph"><h2>Who is denied what <span class="meta">click an edge to show its rows</span></h2>{graph}</section>
<section id="table"><h2>Denied connections</h2><p><input id="filter" type="search" placeholder="Filter rows…" aria-label="Filter rows"> <button id="clear" type="button">Show all</button> <span id="shown" class="meta"></span></p>{table}</section>
<script>{SCRIPT}</script>
</body>
</html>
"#,
        version = env!("CARGO_PKG_VERSION"),
        title = escape(report.title),
        generated = escape(&report.generated),
        connections = thousands(report.rows.len() as u64),
        cs = if report.rows.len() == 1 { "" } else { "s" },
        attempts = thousands(attempts),
        as_ = if attempts == 1 { "" } else { "s" },
        footer = escape(&report.footer),
        nsrc = thousands(sources.len() as u64),
        ndst = thousands(destinations.len() as u64),
        width = escape(&report.timeline.caption()),
        timeline = report.timeline.render(),
        graph = if report.rows.is_empty() {
            r#"<p class="empty">No denied connections.</p>"#.to_string()
        } else {
            graph::render(report.rows)
        },
        table = table(report.rows),
    );
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn an_empty_report_is_a_complete_page_without_network_references() {
        let page = render(&Report {
            title: "nothing <here>",
            generated: "2026-11-23T12:00:00Z".into(),
            footer: "in 1 file; 0 records read, 0 skipped".into(),
            rows: &[],
            timeline: timeline::Timeline::default(),
        });
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.trim_end().ends_with("</html>"));
        assert!(page.contains("<title>nothing &lt;here&gt;</title>"));
        assert!(page.contains("No denied connections."));
        for fetch in ["http://", "https://", "src=", "@import", "url(http"] {
            assert!(!page.contains(fetch), "page refers to {fetch}");
        }
    }
}
