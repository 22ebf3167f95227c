//! The snapshot loader on arbitrary text (JSON Lists, objects, multi-document YAML): an error
//! or a snapshot, never a panic; a loaded snapshot must answer identity questions.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use netflow_core::Snapshot;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(snapshot) = Snapshot::from_text(text, "fuzz.yaml", None) else {
        return;
    };
    let mut ips: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "fd00::1".parse().unwrap()];
    for pod in snapshot.pods() {
        ips.extend(&pod.ips);
        let _ = snapshot.workload_of(pod);
        let _ = snapshot.pod_identity(pod);
    }
    for ip in &ips {
        let _ = snapshot.identify(ip, None).to_string();
        let _ = snapshot.identify(ip, snapshot.taken_at).to_string();
    }
});
