//! A Cilium 1.19+ exporter record that aggregates stands for as many flows as its counters
//! say, in every answer that counts attempts (`flows`' `count`, `denied`, `top`, the report's
//! timeline), and the program that wrote the records (`emitter`) is in the input's report.
//! Read from `testdata/flows/hubble/exporter-aggregate.ndjson`: the release agent's denied
//! SYNs to both Elasticsearch pods folded into two records (120 and 37 flows), vamp-api's
//! allowed ones folded into one (12 ingress + 3 of unknown direction), and one more denied SYN
//! to `elasticsearch-0` written on its own.

use std::ops::ControlFlow;
use std::path::PathBuf;

use netflow_core::query::KeyValue;
use netflow_core::{
    read_input, Counting, DeniedQuery, Flow, FlowRow, ReadOptions, Result, Session, TopQuery,
};

fn fixture() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/flows/hubble/exporter-aggregate.ndjson")
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
fn each_record_counts_the_flows_its_counters_say() {
    let (report, flows) = flows();
    assert_eq!((report.records, report.flows, report.skipped), (4, 4, 0));
    let counts: Vec<(u64, Counting)> = flows.iter().map(|f| (f.count, f.counting)).collect();
    assert_eq!(
        counts,
        [
            (120, Counting::Aggregated),
            (37, Counting::Aggregated),
            (15, Counting::Aggregated),
            (1, Counting::Exact),
        ]
    );
    let row = FlowRow::of(&flows[0]);
    assert_eq!((row.count, row.counting), (120, "aggregated"));
    assert_eq!(
        report.emitters.iter().collect::<Vec<_>>(),
        [(&"Hubble 1.19.1+gd0d0c879".to_string(), &4)]
    );
}

#[test]
fn denied_and_the_report_timeline_count_the_folded_flows() -> Result<()> {
    let session = Session::new([fixture()]);
    let mut timeline = 0;
    let denied = session.denied_with(&DeniedQuery::default(), |f| timeline += f.count)?;
    let rows: Vec<(String, u64, u64, bool)> = denied
        .connections
        .iter()
        .map(|c| (c.dst.identity.to_string(), c.count, c.records, c.inexact))
        .collect();
    assert_eq!(
        rows,
        [
            ("vamp/elasticsearch-0".to_string(), 121, 2, true),
            ("vamp/elasticsearch-1".to_string(), 37, 1, true),
        ]
    );
    assert_eq!(timeline, 158);
    Ok(())
}

#[test]
fn top_counts_the_folded_flows_of_every_verdict() -> Result<()> {
    let session = Session::new([fixture()]);
    let top = session.top(&TopQuery::new(
        vec!["dst_pod".into(), "verdict".into()],
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
            ("elasticsearch-0".into(), "denied".into(), 121, 2),
            ("elasticsearch-1".into(), "denied".into(), 37, 1),
            ("elasticsearch-0".into(), "allowed".into(), 15, 1),
        ]
    );
    Ok(())
}

#[test]
fn inspect_names_the_emitter() -> Result<()> {
    let (rows, _) = Session::new([fixture()]).inspect()?;
    assert_eq!(rows[0].emitters, ["Hubble 1.19.1+gd0d0c879 (4 flows)"]);
    Ok(())
}

/// hubble-flows.md §8: no published record carries `aggregate`, and the shared samples predate
/// Cilium 1.19's `emitter`: every one reads with no skip, each record counting one flow.
#[test]
fn shared_hubble_samples_have_no_aggregates_and_no_emitter() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/formats/samples/hubble");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("note: {} not found; not checked", dir.display());
        return;
    };
    let mut read = 0;
    for entry in entries {
        let path = entry.unwrap().path().display().to_string();
        let mut flows = Vec::new();
        let report = read_input(&path, &ReadOptions::default(), &mut |f| {
            flows.push(f);
            ControlFlow::Continue(())
        })
        .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(report.skipped, 0, "{path}: {:?}", report.skips);
        assert!(report.emitters.is_empty(), "{path}: {:?}", report.emitters);
        assert!(
            flows
                .iter()
                .all(|f| f.counting == Counting::Exact && f.count == u64::from(!f.duplicate)),
            "{path}"
        );
        read += 1;
    }
    assert!(read >= 9, "{read} samples");
}
