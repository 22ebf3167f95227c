//! A distributed reading, as `flowq.spark` does it, in one process: every file cut into parts
//! at line starts, each part read on its own from memory ([`Session::from_bytes`],
//! `denied_partial`), the parts of each 5-tuple without a verdict brought together
//! ([`UnansweredPart::pair`], `unanswered_denials`), every share merged (`merge_partials`)
//! and each connection explained once: the same `denied` rows as one reading of the files,
//! computed (VPC, no verdicts) and unanswered denials included.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use netflow_core::input::InputBytes;
use netflow_core::query::{merge_partials, unanswered_denials, PartialDenied, UnansweredPart};
use netflow_core::{
    DeniedConnection, DeniedQuery, DeniedRow, Explainer, RowFormat, RowWriter, Session,
    SnapshotSet, SnapshotSpec, Snapshots,
};

fn testdata(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(path)
}

fn json_rows(connections: &[DeniedConnection]) -> String {
    let mut writer = RowWriter::new(
        RowFormat::Json,
        <DeniedRow as netflow_core::DeclaredRow>::COLUMNS,
        Vec::new(),
    );
    for c in connections {
        writer.write(&DeniedRow::of(c)).unwrap();
    }
    String::from_utf8(writer.finish().unwrap()).unwrap()
}

fn snapshot(path: &str) -> SnapshotSet {
    Snapshots::load(vec![SnapshotSpec {
        path: testdata(path),
        taken_at: None,
    }])
    .unwrap()
}

/// Each file in parts of `lines` lines, each part a share read on its own.
fn distributed(files: &[PathBuf], set: &SnapshotSet, lines: usize) -> String {
    let query = DeniedQuery::default();
    let mut shares: Vec<PartialDenied> = Vec::new();
    for file in files {
        let text = std::fs::read(file).unwrap();
        let all: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
        for (i, part) in all.chunks(lines).enumerate() {
            let bytes = InputBytes::new(file.display().to_string(), part.concat())
                .starting_at_line((i * lines + 1) as u64);
            let session =
                Session::from_bytes([bytes]).with_snapshots(Snapshots::loaded(set.clone()));
            let order = shares.len() as u64;
            let (share, summary) = session.denied_partial(&query, order).unwrap();
            assert!(summary.failed.is_empty());
            // Parts travel as JSON between processes.
            let json = serde_json::to_string(&share).unwrap();
            shares.push(serde_json::from_str(&json).unwrap());
        }
    }
    let explainer = Explainer::new(set);
    let mut by_pair: BTreeMap<u64, Vec<UnansweredPart>> = BTreeMap::new();
    for share in &mut shares {
        for part in std::mem::take(&mut share.unanswered) {
            by_pair.entry(part.pair()).or_default().push(part);
        }
    }
    let window = query.unanswered_within.unwrap();
    for (_, parts) in by_pair {
        shares.push(unanswered_denials(parts, window, Some(&explainer), true));
    }
    let mut connections = merge_partials(shares);
    for c in &mut connections {
        c.explain(&explainer);
    }
    json_rows(&connections)
}

/// The first line where two outputs differ, with a few lines of context.
fn same(got: &str, expected: &str, what: &str) {
    let (g, e): (Vec<&str>, Vec<&str>) = (got.lines().collect(), expected.lines().collect());
    if let Some(i) = (0..g.len().max(e.len())).find(|&i| g.get(i) != e.get(i)) {
        let from = i.saturating_sub(12);
        panic!(
            "{what}: line {i} differs\n--- got\n{}\n--- expected\n{}",
            g[from..(i + 3).min(g.len())].join("\n"),
            e[from..(i + 3).min(e.len())].join("\n")
        );
    }
}

fn whole(files: &[PathBuf], set: &SnapshotSet) -> String {
    let session = Session::new(files.iter().map(|f| f.display().to_string()))
        .with_snapshots(Snapshots::loaded(set.clone()));
    json_rows(&session.denied(&DeniedQuery::default()).unwrap().connections)
}

#[test]
fn vpc_parts_read_apart_give_the_computed_and_unanswered_denials_of_one_reading() {
    let set = snapshot("clusters/vamp.json");
    let files = [testdata("flows/gke-vpc/computed.ndjson")];
    let expected = whole(&files, &set);
    assert!(
        expected.contains("\"verdict_from\": \"snapshot\""),
        "{expected}"
    );
    assert!(
        expected.contains("\"verdict_from\": \"no_reply\""),
        "{expected}"
    );
    for lines in [1, 2, 3, 1000] {
        same(
            &distributed(&files, &set, lines),
            &expected,
            &format!("{lines} lines a part"),
        );
    }
}

#[test]
fn unanswered_requests_through_services_are_found_across_parts() {
    let set = snapshot("clusters/shop.json");
    let files = [testdata("flows/gke-vpc/shop-unanswered.ndjson")];
    let expected = whole(&files, &set);
    for lines in [1, 2, 1000] {
        same(
            &distributed(&files, &set, lines),
            &expected,
            &format!("{lines} lines a part"),
        );
    }
}

/// Hubble reports one packet at several observation points on consecutive lines, counted
/// once within one reading: a part boundary between two reports of one packet would count it
/// twice, so Hubble files are shares whole (`ingest::splittable_as` never cuts them).
#[test]
fn hubble_files_read_as_shares_give_the_rows_of_one_reading() {
    let set = snapshot("clusters/vamp.json");
    let files = [
        testdata("flows/hubble/incident.ndjson"),
        testdata("flows/hubble/after-redeploy.ndjson"),
    ];
    let expected = whole(&files, &set);
    assert!(expected.len() > 2, "{expected}");
    same(
        &distributed(&files, &set, 1000),
        &expected,
        "one share per file",
    );
}
