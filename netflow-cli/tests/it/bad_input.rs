use std::io::Write;

use crate::{flowq, flowq_with_stdin, INCIDENT, SNAPSHOT};

const MESSY: &[u8] = b"{\"flow\":{\"verdict\":\"DROPPED\",\"IP\":{\"source\":\"10.0.0.1\",\"destination\":\"10.0.0.2\"},\"l4\":{\"TCP\":{\"destination_port\":80}},\"traffic_direction\":\"INGRESS\",\"drop_reason_desc\":\"POLICY_DENIED\"}}\r\n\
not json at all\r\n\
{\"flow\":{\"verdict\":\"DROPPED\",\"l4\":{\"TCP\":{\"destination_port\":70000}}}}\r\n\
{\"flow\":{\"verdict\":\"SOMETHING_NEW\",\"brand_new_field\":{\"x\":1},\"IP\":{\"source\":\"fd00::1\",\"destination\":\"fd00::2\"}}}\r\n\
{\"flow\":{\"verdict\":\"DROPPED\",\"IP\":{\"source\":\"10.0.0.1\"\r\n";

#[test]
fn malformed_lines_are_skipped_counted_and_located() {
    let run = flowq_with_stdin(&["flows", "-o", "ndjson", "-"], MESSY);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("skipped 3 of 5 records in \"-\" (first at line 2:"),
        "{}",
        run.stderr
    );
    let verbose = flowq_with_stdin(&["flows", "-v", "-o", "ndjson"], MESSY);
    assert!(
        verbose
            .stderr
            .contains("-:3: destination_port 70000 is out of range"),
        "{}",
        verbose.stderr
    );
    assert!(
        verbose.stderr.contains("-:5: truncated JSON"),
        "{}",
        verbose.stderr
    );
}

#[test]
fn unknown_verdicts_and_fields_are_kept_as_unknown() {
    let run = flowq_with_stdin(&["flows", "-o", "json", "--verdict", "unknown"], MESSY);
    let rows = run.json();
    assert_eq!(rows[0]["verdict_raw"], "SOMETHING_NEW");
    assert_eq!(rows[0]["src_ip"], "fd00::1");
}

#[test]
fn strict_turns_a_skip_into_exit_2() {
    let run = flowq_with_stdin(&["flows", "--strict", "-o", "ndjson"], MESSY);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("flowq: error: --strict: 3 records were skipped"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_wrong_file_is_a_clear_error() {
    let run = flowq(&["flows", "Cargo.toml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("cannot detect the format of \"Cargo.toml\""),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--format"), "{}", run.stderr);
    let run = flowq(&["flows", "no/such/file.json"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("flowq: error: cannot read \"no/such/file.json\""),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bad_flag_value_fails_before_reading() {
    let run = flowq(&["denied", "--dst-port", "70000", INCIDENT]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("invalid dst-port value \"70000\""),
        "{}",
        run.stderr
    );
    let run = flowq(&["denied", "--from-label", "app in (x", INCIDENT]);
    assert_eq!(run.code, 2);
    let run = flowq(&[
        "denied",
        "--snapshot",
        "testdata/flows/hubble/incident.ndjson",
        INCIDENT,
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot load snapshot"),
        "{}",
        run.stderr
    );
}

#[test]
fn gzip_input_is_detected_by_content_and_truncation_keeps_what_was_read() {
    let original = std::fs::read(crate::root().join(INCIDENT)).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&original).unwrap();
    let gz = enc.finish().unwrap();
    let dir = std::env::temp_dir().join(format!("flowq-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let whole = dir.join("incident.log");
    std::fs::write(&whole, &gz).unwrap();
    let run = flowq(&["flows", "-o", "ndjson", whole.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 19);

    let cut = dir.join("cut.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let run = flowq(&["flows", "-o", "ndjson", cut.to_str().unwrap()]);
    assert_eq!(run.code, 2, "a damaged file is an error");
    assert!(run.stderr.contains("damaged gzip stream"), "{}", run.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stdin_is_read_when_no_file_is_given() {
    let original = std::fs::read(crate::root().join(INCIDENT)).unwrap();
    let run = flowq_with_stdin(&["denied", "-o", "json", "--dst-port", "9200"], &original);
    assert_eq!(run.json().as_array().unwrap().len(), 2);
}

#[test]
fn snapshot_secrets_never_reach_the_output() {
    for args in [
        vec!["denied", "--snapshot", SNAPSHOT, "-o", "json", INCIDENT],
        vec!["flows", "--snapshot", SNAPSHOT, "-o", "csv", "-v", INCIDENT],
        vec!["flows", "--snapshot", SNAPSHOT, INCIDENT],
    ] {
        let run = flowq(&args);
        for secret in ["s3cr3t-flowq-canary", "czNjcjN0LWZsb3dxLWNhbmFyeQ"] {
            assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
        }
    }
}

#[test]
fn an_unreadable_input_gives_its_error_and_no_line_that_reads_like_an_answer() {
    for args in [
        &["denied", "no/such/flows.json"][..],
        &["denied", "-o", "json", "no/such/flows.json"],
        &["flows", "no/such/flows.json"],
        &["top", "no/such/flows.json"],
    ] {
        let run = flowq(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stdout, "",
            "{args:?}: nothing found is not what happened"
        );
        assert!(
            run.stderr.contains("cannot read \"no/such/flows.json\""),
            "{args:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn rows_read_beside_an_unreadable_input_say_that_one_was_not_read() {
    let run = flowq(&[
        "denied",
        "--dst-port",
        "9200",
        INCIDENT,
        "no/such/flows.json",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let footer = run.stdout.lines().last().unwrap_or_default();
    assert!(
        footer.contains("2 denied connections")
            && footer.contains("1 input could not be read in full"),
        "{}",
        run.stdout
    );
}
