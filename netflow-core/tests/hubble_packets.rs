//! One Hubble packet is one attempt however many times the log reports it, in every answer
//! that counts attempts (`flows`' `count`, `top`, `denied` and the timeline of the report),
//! and the names the log gives an endpoint survive a `reserved:world` label. Read from
//! `testdata/flows/hubble/observation-points.ndjson`: two DNS queries from one socket seen at
//! several points of node `gke-pool-a` (and the first also at the server's node), the answer,
//! and a denied SYN reported as policy verdict and drop.

use std::ops::ControlFlow;
use std::path::PathBuf;

use netflow_core::query::{KeyValue, PodPattern};
use netflow_core::{
    read_input, DeniedQuery, Flow, FlowFilter, IdentitySource, ReadOptions, Result, Session,
    TopQuery,
};

fn fixture() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/flows/hubble/observation-points.ndjson")
        .display()
        .to_string()
}

fn flows() -> (netflow_core::InputReport, Vec<Flow>) {
    let mut flows = Vec::new();
    let report = read_input(&fixture(), &ReadOptions::default(), &mut |f| {
        flows.push(f);
        ControlFlow::Continue(())
    })
    .unwrap();
    (report, flows)
}

#[test]
fn each_packet_counts_once_across_its_observation_points() {
    let (report, flows) = flows();
    assert_eq!(report.flows, 12);
    let repeats: Vec<u64> = flows
        .iter()
        .filter(|f| f.duplicate)
        .map(|f| f.origin.line)
        .collect();
    // 2–3: the first query's policy verdict and `TO_PROXY` trace; 5: the second query's
    // `TO_PROXY`; 6–7: the proxy's record of each query; 10: the answer's trace after the
    // proxy's record of it; 12: the drop notification after the policy verdict.
    assert_eq!(repeats, [2, 3, 5, 6, 7, 10, 12]);
    assert_eq!(report.duplicates, 7);
    assert!(flows.iter().all(|f| f.count == u64::from(!f.duplicate)));
    // The server's node reports the first query too: the other end's report stands.
    let server_side = &flows[7];
    assert_eq!(server_side.node.as_deref(), Some("gke-pool-b"));
    assert_eq!(server_side.count, 1);
}

#[test]
fn top_counts_queries_not_reports() -> Result<()> {
    let session = Session::new([fixture()]);
    let top = session.top(&TopQuery::new(
        vec!["dst_pod".into(), "node".into()],
        None,
        0,
    )?)?;
    let groups: Vec<(String, String, i64, i64)> = top
        .groups
        .rows
        .iter()
        .map(|g| {
            let text = |k: &KeyValue| match k {
                KeyValue::Text(s) => s.to_string(),
                other => format!("{other:?}"),
            };
            (text(&g.keys[0]), text(&g.keys[1]), g.count, g.records)
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("kube-dns-5f7c-abcde".into(), "gke-pool-a".into(), 2, 7),
            ("kube-dns-5f7c-abcde".into(), "gke-pool-b".into(), 1, 1),
            ("redis-0".into(), "gke-pool-a".into(), 1, 2),
        ]
    );
    assert_eq!(top.replies_left_out, 2);
    Ok(())
}

#[test]
fn denied_and_the_report_timeline_count_the_denied_packet_once() -> Result<()> {
    let session = Session::new([fixture()]);
    let mut timeline = 0;
    let denied = session.denied_with(&DeniedQuery::default(), |f| timeline += f.count)?;
    assert_eq!(denied.connections.len(), 1);
    let row = &denied.connections[0];
    assert_eq!((row.count, row.records), (1, 2));
    assert_eq!(timeline, 1);
    assert_eq!(row.src.identity.to_string(), "shop/cart-7d9f-x2k4q");
    // The log labels the destination `reserved:world` and names it: the names win.
    assert_eq!(row.dst.identity.to_string(), "shop/redis-0");
    assert_eq!(row.dst.identity_source, IdentitySource::Log);
    assert!(row.other_reports.is_empty(), "{:?}", row.other_reports);
    Ok(())
}

#[test]
fn endpoints_labelled_world_are_found_by_the_names_the_log_gives() -> Result<()> {
    let count = |filter: FlowFilter| -> Result<usize> {
        let mut n = 0;
        Session::new([fixture()])
            .with_filter(filter)
            .for_each_flow(|_| -> Result<()> {
                n += 1;
                Ok(())
            })?;
        Ok(n)
    };
    let to_dns = FlowFilter {
        to_pod: vec![PodPattern::parse("kube-system/kube-dns")?],
        ..Default::default()
    };
    assert_eq!(count(to_dns)?, 8, "every report of the two queries");
    let from_dns = FlowFilter {
        from_pod: vec![PodPattern::parse("kube-system/kube-dns")?],
        ..Default::default()
    };
    assert_eq!(count(from_dns)?, 2, "the answer's two reports");
    let to_shop = FlowFilter {
        to_namespace: vec!["shop".into()],
        ..Default::default()
    };
    assert_eq!(
        count(to_shop)?,
        4,
        "the answer's two reports and the denied SYN's two"
    );
    Ok(())
}

/// Regression: a trace of the packet leaving the source pod (`FROM_ENDPOINT`, before its
/// egress policy) was shown beside a drop of the same packet as the other end's report
/// ("egress allowed @ gke-pool-a").
#[test]
fn the_source_pods_own_trace_is_not_the_other_ends_report() -> Result<()> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/flows/hubble/from-endpoint-then-drop.ndjson")
        .display()
        .to_string();
    let denied = Session::new([path]).denied(&DeniedQuery::default())?;
    assert_eq!(denied.connections.len(), 1);
    let row = &denied.connections[0];
    assert_eq!(row.node.as_deref(), Some("gke-pool-a"));
    assert_eq!(row.count, 1);
    assert!(row.other_reports.is_empty(), "{:?}", row.other_reports);
    Ok(())
}
