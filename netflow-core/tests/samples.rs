//! Every real and constructed Hubble sample in `../shared/formats/samples/hubble/` reads with
//! no skipped flow record. Skipped (with a note) when `../shared` is not beside the project.

use std::ops::ControlFlow;
use std::path::PathBuf;

use netflow_core::{read_input, Action, Format, ReadOptions};

fn samples(dir: &str) -> Option<Vec<PathBuf>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/formats/samples");
    let dir = root.join(dir);
    if !dir.is_dir() {
        eprintln!(
            "note: {} not found; shared samples not checked",
            dir.display()
        );
        return None;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    Some(files)
}

#[test]
fn every_hubble_sample_reads_without_skips() {
    let Some(files) = samples("hubble") else {
        return;
    };
    assert!(files.len() >= 6);
    for file in files {
        let name = file.to_str().unwrap();
        let mut flows = Vec::new();
        let report = read_input(name, &ReadOptions::default(), &mut |f| {
            flows.push(f);
            ControlFlow::Continue(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.format, Some(Format::Hubble), "{name}");
        assert_eq!(report.skipped, 0, "{name}: {:?}", report.skips);
        assert!(report.flows > 0, "{name}");
        assert_eq!(
            report.records,
            report.flows + report.event_count(),
            "{name}"
        );
        assert!(
            flows
                .iter()
                .all(|f| f.src.ip.is_some() && f.dst.ip.is_some()),
            "{name}"
        );
    }
}

#[test]
fn every_sample_of_every_format_reads_without_skips() {
    for (dir, format) in [
        ("calico", None),
        ("gke-vpc-flows", Some(Format::GkeVpc)),
        ("gke-policy-action", Some(Format::GkePolicyAction)),
    ] {
        let Some(files) = samples(dir) else {
            return;
        };
        for file in files {
            let name = file.to_str().unwrap();
            let mut flows = 0;
            let report = read_input(name, &ReadOptions::default(), &mut |_| {
                flows += 1;
                ControlFlow::Continue(())
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            if let Some(f) = format {
                assert_eq!(report.format, Some(f), "{name}");
            } else {
                let calico_family = [Format::Calico, Format::Goldmane];
                assert!(calico_family.contains(&report.format.unwrap()), "{name}");
            }
            assert_eq!(report.skipped, 0, "{name}: {:?}", report.skips);
            assert!(flows > 0, "{name}");
            assert_eq!(
                report.records,
                report.flows + report.event_count(),
                "{name}"
            );
        }
    }
}

#[test]
fn goldmane_and_calico_samples_explain_their_denials() {
    let Some(files) = samples("calico") else {
        return;
    };
    for file in files {
        let name = file.to_str().unwrap();
        let mut denied = Vec::new();
        read_input(name, &ReadOptions::default(), &mut |f| {
            if f.action == Action::Denied {
                denied.push(f)
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        for flow in denied {
            assert!(
                !flow.policies.is_empty() && flow.drop_reason.is_some(),
                "{name}:{}: a Calico deny names its policy and rule",
                flow.origin.line
            );
        }
    }
}

#[test]
fn constructed_policy_verdicts_pair_and_attribute() {
    let Some(files) = samples("hubble") else {
        return;
    };
    let file = files
        .iter()
        .find(|f| f.to_string_lossy().contains("policy-verdicts"))
        .expect("the policy-verdict sample");
    let mut flows = Vec::new();
    let report = read_input(file.to_str().unwrap(), &ReadOptions::default(), &mut |f| {
        flows.push(f);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(report.flows, 5);
    assert_eq!(report.duplicates, 1, "policy verdict + drop of one packet");
    assert_eq!(report.lost_count(), 42);
    assert_eq!(report.events.get("node_status"), Some(&1));
    let explicit = flows
        .iter()
        .find(|f| f.drop_reason.as_deref() == Some("POLICY_DENY"))
        .unwrap();
    assert_eq!(explicit.action, Action::Denied);
    assert_eq!(
        explicit.policies[0].to_string(),
        "storefront/block-external-https (CiliumNetworkPolicy)"
    );
    let audit = flows.iter().find(|f| f.action_raw == "AUDIT").unwrap();
    assert_eq!(audit.action, Action::Allowed);
    assert_eq!(audit.policies[0].name, "ledger-deny-batch");
}
