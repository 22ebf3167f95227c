//! The library's examples print what the CLI prints: `denied_with_why` writes the same bytes
//! as `flowq denied --snapshot … -o json`, `check` the same explanation as `flowq check`.
//! The examples are built by `cargo test --workspace`; CI sets FLOWQ_REQUIRE_EXAMPLES=1 so
//! that a missing one fails instead of skipping.

use std::path::PathBuf;
use std::process::Command;

use crate::{flowq, root, INCIDENT, SNAPSHOT};

/// The example binary `name` of netflow-core, beside the flowq binary.
fn example(name: &str) -> Option<PathBuf> {
    let flowq = PathBuf::from(env!("CARGO_BIN_EXE_flowq"));
    let path = flowq.parent()?.join("examples").join(name);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("FLOWQ_REQUIRE_EXAMPLES").is_none(),
        "{} was not built (cargo test --workspace builds it)",
        path.display()
    );
    eprintln!("skipped: {} was not built", path.display());
    None
}

fn run(path: &PathBuf, args: &[&str]) -> (String, i32) {
    let out = Command::new(path)
        .args(args)
        .current_dir(root())
        .output()
        .expect("the example runs");
    (
        String::from_utf8(out.stdout).expect("UTF-8"),
        out.status.code().expect("exits normally"),
    )
}

#[test]
fn denied_with_why_prints_the_cli_json_byte_for_byte() {
    let Some(path) = example("denied_with_why") else {
        return;
    };
    for inputs in [
        vec![INCIDENT],
        vec![
            "testdata/flows/calico/flows.log.ndjson",
            "testdata/flows/gke-policy-action/policy_action.log",
        ],
    ] {
        let mut args = vec![SNAPSHOT];
        args.extend(&inputs);
        let (example, code) = run(&path, &args);
        assert_eq!(code, 0);
        let mut cli = vec!["denied", "--snapshot", SNAPSHOT, "-o", "json"];
        cli.extend(&inputs);
        let flowq = flowq(&cli);
        assert_eq!(flowq.code, 0, "{}", flowq.stderr);
        assert!(example.contains("\"evaluation\""), "{example}");
        assert_eq!(example, flowq.stdout, "{inputs:?}");
    }
}

#[test]
fn the_check_example_explains_like_flowq_check() {
    let Some(path) = example("check") else {
        return;
    };
    let (from, to) = (
        "customer1/release-agent-6c8f9b7d5-w4k2j",
        "svc/vamp/elasticsearch",
    );
    let (example, code) = run(&path, &[SNAPSHOT, from, to, "9200"]);
    let cli = flowq(&[
        "check",
        "--snapshot",
        SNAPSHOT,
        "--from",
        from,
        "--to",
        to,
        "--port",
        "9200",
    ]);
    assert_eq!(example, cli.stdout);
    assert_eq!(code, 1, "the connection is denied");
}
