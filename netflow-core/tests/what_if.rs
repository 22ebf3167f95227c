//! The suggest → replay round trip on every denied connection of the project's fixtures: the
//! suggestion for one connection, written as YAML and read back as manifests, replayed with
//! `add` over the same files, flips exactly what the suggestion says it admits (the selected
//! connection among them, unless the suggestion says why it cannot) and denies nothing that was
//! allowed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use netflow_core::query::filter::{PodPattern, PortRange};
use netflow_core::query::{connection_text, Change};
use netflow_core::{
    DeniedQuery, FlowFilter, Identity, PolicyEdit, PolicyManifests, Session, SnapshotSpec,
    Snapshots,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every flow fixture with the snapshots it goes with.
fn fixtures() -> Vec<(PathBuf, Vec<SnapshotSpec>)> {
    let vamp = root().join("testdata/clusters/vamp.json");
    let mut out = Vec::new();
    let mut dirs = vec![root().join("testdata/flows")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let mut snapshots = vec![SnapshotSpec {
                path: vamp.clone(),
                taken_at: None,
            }];
            if path
                .file_name()
                .is_some_and(|n| n == "after-redeploy.ndjson")
            {
                snapshots.push(SnapshotSpec {
                    path: root().join("testdata/clusters/after-redeploy"),
                    taken_at: "2026-11-20T20:00:00Z".parse().ok(),
                });
            }
            out.push((path, snapshots));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn session(file: &Path, snapshots: &[SnapshotSpec]) -> Session {
    Session::new([file.display().to_string()]).with_snapshots(Snapshots::loaded(
        Snapshots::load(snapshots.to_vec()).unwrap(),
    ))
}

/// A filter picking one denied connection: its addresses, else its pods; port and protocol.
fn selecting(c: &netflow_core::DeniedConnection) -> FlowFilter {
    let mut f = FlowFilter::default();
    let pod = |ep: &netflow_core::Endpoint| match &ep.identity {
        Identity::Pod(p) if !p.name.is_empty() => {
            Some(PodPattern::parse(&format!("{}/{}", p.namespace, p.name)).unwrap())
        }
        _ => None,
    };
    match (c.src.ip, pod(&c.src)) {
        (Some(ip), _) => f.from_ip.push(ip.into()),
        (None, Some(p)) => f.from_pod.push(p),
        _ => {}
    }
    match (c.dst.ip, pod(&c.dst)) {
        (Some(ip), _) => f.to_ip.push(ip.into()),
        (None, Some(p)) => f.to_pod.push(p),
        _ => {}
    }
    if let Some(port) = c.dst.port {
        f.dst_port
            .push(PortRange::parse(&port.to_string()).unwrap());
    }
    f.protocol.push(c.protocol);
    f
}

/// What `flowq suggest` takes as denials to fix: those the log records (not the requests of
/// verdict-less logs that only the snapshot denies, nor the unanswered ones).
fn logged_denials() -> DeniedQuery {
    DeniedQuery {
        policy_denials: false,
        unanswered_within: None,
        ..DeniedQuery::default()
    }
}

#[test]
fn replaying_each_suggestion_flips_exactly_what_it_admits_and_denies_nothing_allowed() {
    let mut checked = 0;
    let mut admitted = 0;
    for (file, snapshots) in fixtures() {
        let denied = session(&file, &snapshots)
            .denied(&logged_denials())
            .unwrap();
        for c in &denied.connections {
            let name = format!("{}: {}", file.display(), connection_text(c));
            let suggest = session(&file, &snapshots)
                .suggest(&selecting(c), &logged_denials())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!suggest.selected.is_empty(), "{name}: nothing selected");
            checked += 1;
            let yaml = suggest.to_yaml().unwrap();
            let mut manifests = PolicyManifests::default();
            manifests.add_text(&yaml, Path::new("suggested.yaml"));
            assert!(
                manifests.problems.is_empty(),
                "{name}: {:?}\n{yaml}",
                manifests.problems
            );
            assert_eq!(manifests.policies.len(), suggest.policies.len(), "{name}");
            // A suggestion is made against the newest snapshot: replay it on that one.
            let replay = session(&file, &snapshots[snapshots.len() - 1..])
                .replay(
                    &PolicyEdit {
                        replace: None,
                        add: manifests.policies,
                    },
                    false,
                )
                .unwrap();
            let flipped = |flips: &[netflow_core::query::ReplayConnection], change| {
                flips
                    .iter()
                    .filter(|f| f.change() == change)
                    .map(|f| connection_text(&f.connection))
                    .collect::<BTreeSet<_>>()
            };
            assert!(
                flipped(&replay.connections, Change::ToDeny).is_empty(),
                "{name}: the suggestion denies what was allowed\n{yaml}"
            );
            assert_eq!(
                flipped(&replay.connections, Change::ToAllow),
                flipped(&suggest.flips, Change::ToAllow),
                "{name}\n{yaml}"
            );
            let admits: BTreeSet<String> = suggest
                .policies
                .iter()
                .flat_map(|p| p.admits.iter())
                .map(|a| {
                    let a = a.strip_suffix(" (not selected)").unwrap_or(a);
                    a[..a.rfind(" (").unwrap_or(a.len())].to_string()
                })
                .collect();
            assert_eq!(
                admits,
                flipped(&replay.connections, Change::ToAllow),
                "{name}: the comments name every flip\n{yaml}"
            );
            let text = connection_text(c);
            match suggest.unfixable.iter().find(|(t, _)| *t == text) {
                None => {
                    assert!(
                        flipped(&replay.connections, Change::ToAllow).contains(&text),
                        "{name}: not admitted\n{yaml}"
                    );
                    admitted += 1;
                }
                Some((_, why)) => assert!(
                    !flipped(&replay.connections, Change::ToAllow).contains(&text),
                    "{name}: said unfixable ({why}) yet admitted"
                ),
            }
        }
    }
    eprintln!("{checked} denied connections checked, {admitted} admitted by their suggestion");
    assert!(
        checked >= 10,
        "only {checked} denied connections in the fixtures"
    );
    assert!(admitted >= 5, "only {admitted} admitted");
}
