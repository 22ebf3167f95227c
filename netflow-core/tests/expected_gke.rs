//! The hand-verified facts of `../shared/formats/samples/EXPECTED.md` for the GKE samples (every
//! `gke-vpc-flows/*` section and the 2024 policy-logger fixtures), asserted through the public
//! API, and the names every VPC sample gives its endpoints kept as identities. Each test is
//! skipped (with a note) when `../shared` is not beside the project.
//!
//! The LogEntry envelope (`logName`, `resource.type` and labels, `labels`), `network_service.dscp`,
//! `internet_routing_details` and `*_location` are asserted through [`Flow::details`].

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use netflow_core::flow::{
    CloudIdentity, CloudResource, FlowDetails, LogEntryInfo, NodeIdentity, Workload,
};
use netflow_core::ingest::framing::Framing;
use netflow_core::{
    Action, Counting, Direction, Endpoint, Flow, Format, Identity, IdentitySource, InputReport,
    PolicyRef, Protocol, Session,
};

const VPC: &str = "gke-vpc-flows";
const POLICY: &str = "gke-policy-action";

fn sample(dir: &str, file: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/formats/samples")
        .join(dir)
        .join(file);
    if !path.is_file() {
        eprintln!("note: {} not found; its facts not checked", path.display());
        return None;
    }
    Some(path)
}

/// Reads one sample through a [`Session`] with no snapshot: its one report and its flows.
fn read(path: &Path) -> (InputReport, Vec<Flow>) {
    let name = path.display().to_string();
    let mut flows = Vec::new();
    let mut summary = Session::new([name.clone()])
        .for_each_flow(|f| -> netflow_core::Result<()> {
            flows.push(f);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(summary.failed.is_empty(), "{name}: {:?}", summary.failed);
    let report = summary.reports.remove(0);
    assert_eq!(report.skipped, 0, "{name}: {:?}", report.skips);
    (report, flows)
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    Some(s.parse().unwrap())
}

/// Address and port of both ends.
fn ends(f: &Flow) -> (Option<IpAddr>, Option<u16>, Option<IpAddr>, Option<u16>) {
    (f.src.ip, f.src.port, f.dst.ip, f.dst.port)
}

fn cloud(ep: &Endpoint) -> &CloudIdentity {
    match &ep.identity {
        Identity::Cloud(c) => c,
        other => panic!("expected a cloud resource, found {other:?}"),
    }
}

/// A VM named by the log, with its zone and instance group.
fn assert_vm(ep: &Endpoint, name: &str, zone: &str, group: Option<&str>) {
    let vm = cloud(ep);
    assert_eq!(vm.resource, CloudResource::Vm, "{vm:?}");
    assert_eq!(vm.name, name);
    assert_eq!(vm.location.as_deref(), Some(zone), "{vm:?}");
    assert_eq!(vm.group.as_deref(), group, "{vm:?}");
    assert_eq!(ep.identity_source, IdentitySource::Log);
}

fn details(f: &Flow) -> &FlowDetails {
    f.details.as_deref().expect("details")
}

fn entry(f: &Flow) -> &LogEntryInfo {
    details(f).log_entry.as_ref().expect("a log entry")
}

/// The entry's log id and resource type, and one resource label.
fn assert_entry(f: &Flow, log_id: &str, resource_type: &str, label: (&str, &str)) {
    let e = entry(f);
    assert_eq!(e.log_id.as_deref(), Some(log_id));
    assert_eq!(e.resource_type.as_deref(), Some(resource_type));
    assert_eq!(
        e.resource_labels.get(label.0).map(String::as_str),
        Some(label.1),
        "{e:?}"
    );
}

const COMPUTE: &str = "compute.googleapis.com/vpc_flows";
const NETWORK_MANAGEMENT: &str = "networkmanagement.googleapis.com/vpc_flows";

/// What every VPC flow record is: an observation, sampled, one connection.
fn assert_observed(f: &Flow, reporter: &str) {
    assert_eq!(f.format, Format::GkeVpc);
    assert_eq!(f.action, Action::Unknown, "no verdict in VPC flow logs");
    assert_eq!(f.action_raw, format!("observed by {reporter}"));
    let direction = match reporter {
        "SRC" => Direction::Egress,
        _ => Direction::Ingress,
    };
    assert_eq!(f.direction, direction);
    assert_eq!(f.counting, Counting::Sampled);
    assert_eq!(f.count, 1);
    assert!(f.policies.is_empty());
}

#[test]
fn vpc_extended_first6_facts() {
    let Some(path) = sample(VPC, "otel-contrib_vpc-flow-log-extended.first6.json") else {
        return;
    };
    let (report, flows) = read(&path);
    // 1 document (a JSON array), 6 records = 6 LogEntries = 6 flows.
    assert_eq!(report.format, Some(Format::GkeVpc));
    assert_eq!(report.framing, Some(Framing::Document));
    assert_eq!((report.records, report.flows, flows.len()), (6, 6, 6));
    // logName compute.googleapis.com%2Fvpc_flows.
    assert!(
        report
            .detected_because
            .contains("projects/elastic-logstash/logs/compute.googleapis.com%2Fvpc_flows"),
        "{}",
        report.detected_because
    );
    // reporter: SRC 4 (records 2, 3, 4, 6), DEST 2 (records 1, 5); no verdict; all TCP.
    for (f, reporter) in flows
        .iter()
        .zip(["DEST", "SRC", "SRC", "SRC", "DEST", "SRC"])
    {
        assert_observed(f, reporter);
        assert_eq!(f.protocol, Protocol::Tcp);
        assert!(f.packets.is_some_and(|p| p > 0));
    }
    // All from project elastic-logstash, resource gce_subnetwork, subnetwork
    // andrewvc-flowfixtures-subnet (id 3489268495624148348).
    for f in &flows {
        assert_entry(
            f,
            COMPUTE,
            "gce_subnetwork",
            ("subnetwork_id", "3489268495624148348"),
        );
        assert_eq!(
            entry(f).resource_labels["subnetwork_name"],
            "andrewvc-flowfixtures-subnet"
        );
        assert_eq!(entry(f).project.as_deref(), Some("elastic-logstash"));
    }
    // Records 1 and 6 have bytes_sent "0"; the others send some.
    let bytes: Vec<bool> = flows.iter().map(|f| f.bytes == Some(0)).collect();
    assert_eq!(bytes, [true, false, false, false, false, true]);
    assert!(flows.iter().all(|f| f.bytes.is_some()));

    // Record 1: 45.78.219.169:39552 → 10.10.0.2:22 reported by DEST, whose VM the log names;
    // the source is outside the VPC (src_location).
    let r1 = &flows[0];
    assert_eq!(
        ends(r1),
        (ip("45.78.219.169"), Some(39552), ip("10.10.0.2"), Some(22))
    );
    assert_eq!(r1.src.identity, Identity::External);
    assert_eq!(r1.src.identity_source, IdentitySource::Log);
    let zh8x = "andrewvc-flowfixtures-vm-zh8x";
    let mig = Some("andrewvc-flowfixtures-mig");
    assert_vm(&r1.dst, zh8x, "us-central1-c", mig);
    assert_eq!(cloud(&r1.dst).project.as_deref(), Some("elastic-logstash"));
    assert_eq!(r1.node.as_deref(), Some(zh8x));
    assert_eq!(r1.time, time("2025-11-07T21:18:58.489621532Z"));
    // Its id, and src_location.country sgp.
    assert_eq!(details(r1).record_id.as_deref(), Some("abriadf35gp7q"));
    assert_eq!(
        details(r1)
            .src_location
            .as_ref()
            .and_then(|l| l.country.as_deref()),
        Some("sgp")
    );

    // Record 6: the reverse of record 1, reported by SRC.
    let r6 = &flows[5];
    assert_eq!(
        ends(r6),
        (ip("10.10.0.2"), Some(22), ip("45.78.219.169"), Some(39552))
    );
    assert_vm(&r6.src, zh8x, "us-central1-c", mig);
    assert_eq!(r6.dst.identity, Identity::External);
    // With internet_routing_details: AS path 3491, 150436.
    assert_eq!(details(r6).record_id.as_deref(), Some("1kxee92fj2sjtg"));
    assert_eq!(details(r6).egress_as_paths, [vec![3491, 150436]]);

    // Record 2: to a Google API over a public address; record 5 is its reverse.
    let r2 = &flows[1];
    assert_eq!(
        ends(r2),
        (
            ip("10.10.0.2"),
            Some(55502),
            ip("173.194.193.95"),
            Some(443)
        )
    );
    assert_vm(&r2.src, zh8x, "us-central1-c", mig);
    let google = cloud(&r2.dst);
    assert_eq!(google.resource, CloudResource::GoogleService);
    assert_eq!(google.service_type.as_deref(), Some("GOOGLE_API"));
    assert_eq!(google.connectivity.as_deref(), Some("PUBLIC_IP"));
    assert_eq!(r2.dst.identity_source, IdentitySource::Log);
    let r5 = &flows[4];
    assert_eq!(
        ends(r5),
        (
            ip("173.194.193.95"),
            Some(443),
            ip("10.10.0.2"),
            Some(55502)
        )
    );
    assert_eq!(r5.src.identity, r2.dst.identity);
    assert_vm(&r5.dst, zh8x, "us-central1-c", mig);
    assert_eq!(
        (
            details(r2).record_id.as_deref(),
            details(r5).record_id.as_deref()
        ),
        (Some("qyqi95f436wzq"), Some("lyrtuof5pcsxz"))
    );

    // Record 4's source VM is -2qhb in us-central1-f; every other record's VM is -zh8x.
    assert_vm(
        &flows[3].src,
        "andrewvc-flowfixtures-vm-2qhb",
        "us-central1-f",
        mig,
    );
    assert_eq!(
        flows[3].node.as_deref(),
        Some("andrewvc-flowfixtures-vm-2qhb")
    );
    for i in [0, 1, 2, 4, 5] {
        assert_eq!(flows[i].node.as_deref(), Some(zh8x), "record {}", i + 1);
    }

    // What an SRE reads in the row: the service type and how it was reached, the VM's zone.
    let session = Session::new([path.display().to_string()]);
    let row = session.row_of(r2);
    assert_eq!(row.dst_kind, "google_service");
    assert_eq!(
        row.dst_name.as_deref(),
        Some("google-service GOOGLE_API (PUBLIC_IP)")
    );
    assert_eq!(row.src_kind, "vm");
    assert_eq!(
        row.src_name.as_deref(),
        Some(
            "vm andrewvc-flowfixtures-vm-zh8x (us-central1-c, project elastic-logstash, \
             group andrewvc-flowfixtures-mig)"
        )
    );
    assert_eq!(row.src_identity_source, "log");
}

#[test]
fn vpc_0_bytes_sent_facts() {
    let Some(path) = sample(VPC, "otel-contrib_vpc-flow-log-0-bytes-sent.json") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!(report.format, Some(Format::GkeVpc));
    assert_eq!((report.records, report.flows, flows.len()), (1, 1, 1));
    // The Network Management API log name.
    assert!(
        report
            .detected_because
            .contains("projects/test-project-id/logs/networkmanagement.googleapis.com%2Fvpc_flows"),
        "{}",
        report.detected_because
    );
    let f = &flows[0];
    assert_eq!(
        ends(f),
        (ip("192.0.2.1"), Some(443), ip("203.0.113.1"), Some(40708))
    );
    assert_eq!(f.protocol, Protocol::Tcp);
    assert_observed(f, "SRC");
    assert_eq!((f.bytes, f.packets), (Some(0), Some(640)));
    assert_vm(
        &f.src,
        "proxy-crest-new-group-b51k",
        "us-central1-a",
        Some("proxy-crest-new-group"),
    );
    assert_eq!(f.node.as_deref(), Some("proxy-crest-new-group-b51k"));
    // No GKE details; the destination has no metadata at all.
    assert_eq!(f.dst.identity, Identity::Unknown);
    assert_eq!(f.dst.identity_source, IdentitySource::None);
    assert_eq!(
        (
            details(f).src_cluster.as_ref(),
            details(f).dst_cluster.as_ref()
        ),
        (None, None)
    );
    // resource vpc_flow_logs_config (name, location global, resource_container), the entry's
    // target_resource_name label, network_service.dscp 32.
    assert_entry(
        f,
        NETWORK_MANAGEMENT,
        "vpc_flow_logs_config",
        ("name", "joe-test-flow-logs-default"),
    );
    assert_eq!(entry(f).resource_labels["location"], "global");
    assert_eq!(
        entry(f).resource_labels["resource_container"],
        "projects/123456789012"
    );
    assert_eq!(entry(f).project.as_deref(), Some("test-project-id"));
    assert!(entry(f).labels.contains_key("target_resource_name"));
    assert_eq!(details(f).dscp, Some(32));
}

#[test]
fn vpc_19kb_sent_facts() {
    let Some(path) = sample(VPC, "otel-contrib_vpc-flow-log-19kb-sent.json") else {
        return;
    };
    // No trailing newline at the end of the file: still one whole record.
    let (report, flows) = read(&path);
    assert_eq!(report.format, Some(Format::GkeVpc));
    assert_eq!((report.records, report.flows, flows.len()), (1, 1, 1));
    assert!(
        report
            .detected_because
            .contains("networkmanagement.googleapis.com%2Fvpc_flows"),
        "{}",
        report.detected_because
    );
    let f = &flows[0];
    assert_eq!(
        ends(f),
        (ip("192.0.2.2"), Some(22), ip("203.0.113.2"), Some(52388))
    );
    assert_eq!(f.protocol, Protocol::Tcp);
    assert_observed(f, "SRC");
    assert_eq!((f.bytes, f.packets), (Some(19680), Some(60)));
    assert_vm(
        &f.src,
        "service-integration-dev-idc-ubuntu25-4",
        "asia-south1-c",
        None,
    );
    // dest_location: outside the VPC, asn 137718, country chn; the AS path to it.
    assert_eq!(f.dst.identity, Identity::External);
    assert_eq!(f.dst.identity_source, IdentitySource::Log);
    let d = details(f);
    let to = d.dst_location.as_ref().unwrap();
    assert_eq!((to.asn, to.country.as_deref()), (Some(137718), Some("chn")));
    assert_eq!(d.egress_as_paths, [vec![58453, 9808, 38019, 137718]]);
    assert_eq!(
        entry(f).resource_type.as_deref(),
        Some("vpc_flow_logs_config")
    );
    assert_eq!(entry(f).log_id.as_deref(), Some(NETWORK_MANAGEMENT));
}

#[test]
fn vpc_800_bytes_sent_facts() {
    let Some(path) = sample(VPC, "otel-contrib_vpc-flow-log-800-bytes-sent.json") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!(report.format, Some(Format::GkeVpc));
    assert_eq!((report.records, report.flows, flows.len()), (1, 1, 1));
    assert!(
        report
            .detected_because
            .contains("networkmanagement.googleapis.com%2Fvpc_flows"),
        "{}",
        report.detected_because
    );
    let f = &flows[0];
    // ICMP: no ports.
    assert_eq!(ends(f), (ip("203.0.113.3"), None, ip("192.0.2.3"), None));
    assert_eq!(f.protocol, Protocol::Icmpv4);
    assert_observed(f, "DEST");
    assert_eq!((f.bytes, f.packets), (Some(800), Some(20)));
    assert_vm(&f.dst, "test-vm-3", "asia-south1-c", None);
    assert_eq!(f.node.as_deref(), Some("test-vm-3"));
    assert_eq!(f.src.identity, Identity::External);
    // src_location {city Ashburn, region Virginia, asn 14618, country usa}.
    let from = details(f).src_location.as_ref().unwrap();
    assert_eq!(
        (
            from.city.as_deref(),
            from.region.as_deref(),
            from.asn,
            from.country.as_deref()
        ),
        (Some("Ashburn"), Some("Virginia"), Some(14618), Some("usa"))
    );
    assert_entry(
        f,
        NETWORK_MANAGEMENT,
        "vpc_flow_logs_config",
        ("name", "test-flow-logs-config"),
    );
}

#[test]
fn vpc_from_computeengine_facts() {
    let Some(path) = sample(VPC, "otel-contrib_vpc-flow-log-from-computeengine.json") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!(report.format, Some(Format::GkeVpc));
    assert_eq!((report.records, report.flows, flows.len()), (1, 1, 1));
    assert!(
        report
            .detected_because
            .contains("projects/test-project-id/logs/compute.googleapis.com%2Fvpc_flows"),
        "{}",
        report.detected_because
    );
    let f = &flows[0];
    assert_eq!(
        ends(f),
        (ip("203.0.113.4"), Some(55524), ip("192.0.2.4"), Some(443))
    );
    assert_eq!(f.protocol, Protocol::Tcp);
    assert_observed(f, "DEST");
    assert_eq!((f.bytes, f.packets), (Some(0), Some(16)));
    assert_vm(
        &f.dst,
        "proxy-crest-new-group-892l",
        "us-central1-a",
        Some("proxy-crest-new-group"),
    );
    // No src_* metadata: nobody knows the source.
    assert_eq!(f.src.identity, Identity::Unknown);
    assert_eq!(f.src.identity_source, IdentitySource::None);
    assert_eq!(
        (
            details(f).src_location.as_ref(),
            details(f).src_vpc.as_ref()
        ),
        (None, None)
    );
    // resource gce_subnetwork (subnetwork_id 1234548292813243874); network_service.dscp 32.
    assert_entry(
        f,
        COMPUTE,
        "gce_subnetwork",
        ("subnetwork_id", "1234548292813243874"),
    );
    assert_eq!(details(f).dscp, Some(32));
}

fn pod(ep: &Endpoint, namespace: &str, name: &str, workload: (&str, &str)) {
    let p = ep
        .identity
        .pod()
        .unwrap_or_else(|| panic!("expected a pod, found {:?}", ep.identity));
    assert_eq!((p.namespace.as_str(), p.name.as_str()), (namespace, name));
    assert_eq!(
        p.workload,
        Some(Workload {
            kind: workload.0.into(),
            name: workload.1.into(),
        })
    );
    assert_eq!(ep.identity_source, IdentitySource::Log);
}

#[test]
fn policy_action_2024_fixture_facts() {
    let Some(path) = sample(
        POLICY,
        "gke-policylogger-fixtures-2024_policy_action.log.ndjson",
    ) else {
        return;
    };
    let (report, flows) = read(&path);
    // 3 lines, 3 records.
    assert_eq!(report.format, Some(Format::GkePolicyAction));
    assert_eq!(report.framing, Some(Framing::Lines));
    assert_eq!((report.records, report.flows, flows.len()), (3, 3, 3));
    // allow 3, deny 0; count 1 on all; no node_name.
    for f in &flows {
        assert_eq!(
            (f.action, f.action_raw.as_str()),
            (Action::Allowed, "allow")
        );
        assert_eq!((f.count, f.counting), (1, Counting::Exact));
        assert_eq!(f.node, None);
    }

    // Record 1: allowed at ingress by default/np.
    let r1 = &flows[0];
    assert_eq!(
        ends(r1),
        (ip("10.84.1.7"), Some(55644), ip("10.84.0.11"), Some(8080))
    );
    assert_eq!(r1.protocol, Protocol::Tcp);
    assert_eq!(r1.direction, Direction::Ingress);
    assert_eq!(
        r1.policies,
        [PolicyRef {
            namespace: Some("default".into()),
            name: "np".into(),
            kind: Some("NetworkPolicy".into()),
            tier: None,
        }]
    );
    pod(
        &r1.src,
        "default",
        "client-allow-7b78d7c957-zkn54",
        ("ReplicaSet", "client-allow-7b78d7c957"),
    );
    pod(
        &r1.dst,
        "default",
        "test-service-745c798fc9-hzpxt",
        ("ReplicaSet", "test-service-745c798fc9"),
    );
    assert_eq!(r1.time, time("2020-06-13T21:29:31.445836587Z"));

    // Record 2: the same connection and endpoints, with no policy (uncorrelated allow).
    let r2 = &flows[1];
    assert_eq!(ends(r2), ends(r1));
    assert_eq!((r2.protocol, r2.direction), (r1.protocol, r1.direction));
    assert_eq!((&r2.src, &r2.dst), (&r1.src, &r1.dst));
    assert_eq!(r2.time, r1.time);
    assert!(r2.policies.is_empty());

    // Record 3: egress DNS to an `instance` address, allowed by an FQDNNetworkPolicy; its
    // keys come in another order.
    let r3 = &flows[2];
    assert_eq!(
        ends(r3),
        (
            ip("10.84.1.6"),
            Some(45084),
            ip("169.254.169.254"),
            Some(53)
        )
    );
    assert_eq!(r3.protocol, Protocol::Udp);
    assert_eq!(r3.direction, Direction::Egress);
    assert_eq!(
        r3.policies,
        [PolicyRef {
            namespace: Some("default".into()),
            name: "client-allow".into(),
            kind: Some("FQDNNetworkPolicy".into()),
            tier: None,
        }]
    );
    pod(
        &r3.src,
        "default",
        "client-allow-ffdfccbd5-d4cqp",
        ("Deployment", "client-allow"),
    );
    // `{"instance": "169.254.169.254"}` names nobody: the address alone.
    assert_eq!(r3.dst.identity, Identity::Unknown);
    assert_eq!(r3.dst.identity_source, IdentitySource::None);
    assert_eq!(r3.time, time("2020-06-13T21:32:00.000000001Z"));
}

/// Every side of every VPC sample that carries metadata (`*_gke_details`, `*_instance`,
/// `*_google_service`, `*_vpc`, `*_location`) gets an identity from the log, and the pod and
/// VM names the metadata gives are the ones kept.
#[test]
fn every_vpc_sample_keeps_the_names_its_metadata_gives() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/formats/samples/gke-vpc-flows");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "note: {} not found; shared samples not checked",
            dir.display()
        );
        return;
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 9);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let payloads: Vec<serde_json::Value> = match serde_json::from_str(&text).unwrap() {
            serde_json::Value::Array(items) => items,
            one => vec![one],
        }
        .into_iter()
        .map(|e| e.get("jsonPayload").cloned().unwrap_or(e))
        .collect();
        let (_, flows) = read(&path);
        assert_eq!(flows.len(), payloads.len(), "{}", path.display());
        for (i, (f, p)) in flows.iter().zip(&payloads).enumerate() {
            let at = format!("{} record {}", path.display(), i + 1);
            for (side, ep) in [("src", &f.src), ("dest", &f.dst)] {
                let has = |block: &str| p.get(format!("{side}_{block}")).is_some();
                let named = [
                    "gke_details",
                    "instance",
                    "google_service",
                    "vpc",
                    "location",
                ]
                .iter()
                .any(|b| has(b));
                if !named {
                    assert_eq!(ep.identity, Identity::Unknown, "{at} {side}");
                    continue;
                }
                assert_ne!(ep.identity, Identity::Unknown, "{at} {side}");
                assert_eq!(ep.identity_source, IdentitySource::Log, "{at} {side}");
                let gke_pod = &p[format!("{side}_gke_details")]["pod"];
                let vm = p[format!("{side}_instance")]["vm_name"].as_str();
                if let Some(name) = gke_pod["pod_name"].as_str() {
                    let pod = ep.identity.pod().unwrap_or_else(|| panic!("{at} {side}"));
                    assert_eq!(pod.name, name, "{at} {side}");
                    assert_eq!(pod.namespace, gke_pod["pod_namespace"].as_str().unwrap());
                    assert_eq!(pod.node.as_deref(), vm, "{at} {side}");
                } else if let Some(vm) = vm {
                    let vm_named = match &ep.identity {
                        Identity::Node(NodeIdentity { name, .. }) => name.as_deref(),
                        Identity::Cloud(c) => Some(c.name.as_str()),
                        _ => None,
                    };
                    assert_eq!(vm_named, Some(vm), "{at} {side}");
                }
            }
        }
    }
}

/// The log's names stand in for what a snapshot does not know; where it knows the address, the
/// snapshot wins (a VM the log names is the snapshot's node), and a Google service stays named
/// although the snapshot calls its public address external.
#[test]
fn the_snapshot_wins_only_where_it_knows_the_address() {
    use netflow_core::{Snapshot, SnapshotSet, Snapshots};
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("vpc.ndjson");
    std::fs::write(
        &log,
        concat!(
            r#"{"jsonPayload":{"connection":{"src_ip":"10.10.0.2","dest_ip":"173.194.193.95","src_port":55502,"dest_port":443,"protocol":6},"reporter":"SRC","src_instance":{"vm_name":"gke-prod-pool-zh8x","zone":"us-central1-c"},"dest_google_service":{"type":"GOOGLE_API","service_name":"storage.googleapis.com","connectivity":"PUBLIC_IP"}},"logName":"projects/p/logs/compute.googleapis.com%2Fvpc_flows"}"#,
            "\n",
            r#"{"jsonPayload":{"connection":{"src_ip":"10.10.0.3","dest_ip":"10.10.0.9","src_port":41000,"dest_port":22,"protocol":6},"reporter":"SRC","src_instance":{"vm_name":"bastion-2qhb","zone":"us-central1-f"}},"logName":"projects/p/logs/compute.googleapis.com%2Fvpc_flows"}"#,
            "\n"
        ),
    )
    .unwrap();
    let cluster = r#"{"kind":"List","items":[{"kind":"Node","metadata":{"name":"node-zh8x"},"status":{"addresses":[{"type":"InternalIP","address":"10.10.0.2"}]}}]}"#;
    let snapshots = SnapshotSet::new(vec![
        Snapshot::from_text(cluster, "cluster.json", None).unwrap()
    ]);
    let session =
        Session::new([log.display().to_string()]).with_snapshots(Snapshots::loaded(snapshots));
    let mut flows = Vec::new();
    session
        .for_each_flow(|f| -> netflow_core::Result<()> {
            flows.push(f);
            Ok(())
        })
        .unwrap();
    assert_eq!(flows.len(), 2);
    assert_eq!(
        flows[0].src.identity,
        Identity::Node(NodeIdentity {
            name: Some("node-zh8x".into()),
            host_network_pods: Vec::new(),
        })
    );
    assert_eq!(flows[0].src.identity_source, IdentitySource::Snapshot);
    assert_eq!(cloud(&flows[0].dst).name, "storage.googleapis.com");
    assert_eq!(flows[0].dst.identity_source, IdentitySource::Log);
    assert_vm(&flows[1].src, "bastion-2qhb", "us-central1-f", None);
}
