//! Hostile and broken inputs, end to end: wrong files, absurd sizes and nesting, bad bytes and
//! numbers, unknown values, IPv6, CRLF, truncated documents and awkward snapshots. Each must
//! give a clear message, never a crash, and keep every valid record around the bad one.
//! (Truncated gzip is in `bad_input.rs`.)

use std::fs;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use crate::{flowq, INCIDENT};

/// A scratch folder under the system temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("flowq-hostile-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        Scratch(dir)
    }

    /// Writes `bytes` to `name` in the folder and returns the path as an argument.
    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let path = self.0.join(name);
        fs::write(&path, bytes).expect("write scratch file");
        path.to_str().expect("UTF-8 temp path").to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A Hubble policy denial from `src` to `dst:port` at second `sec`.
fn denial(src: &str, dst: &str, port: u16, sec: u32) -> String {
    format!(
        r#"{{"flow":{{"time":"2026-11-20T19:05:{sec:02}Z","verdict":"DROPPED","drop_reason_desc":"POLICY_DENIED","traffic_direction":"INGRESS","IP":{{"source":"{src}","destination":"{dst}"}},"l4":{{"TCP":{{"source_port":40000,"destination_port":{port}}}}}}},"node_name":"n1"}}"#
    )
}

/// The `line` field of every NDJSON row.
fn lines_of(stdout: &str) -> Vec<u64> {
    stdout
        .lines()
        .map(|l| {
            let row: serde_json::Value = serde_json::from_str(l).expect("an NDJSON row");
            row["line"].as_u64().expect("line is a number")
        })
        .collect()
}

#[test]
fn a_png_is_a_clear_error_and_other_inputs_are_still_read() {
    let dir = Scratch::new("png");
    let png = dir.write(
        "flows.json",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00",
    );
    let run = flowq(&["flows", "-o", "ndjson", &png]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!(
            "flowq: error: cannot detect the format of {png:?}: line 1 is not JSON"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("bytes 89 50 4e 47"), "{}", run.stderr);
    assert!(run.stderr.contains("pass --format"), "{}", run.stderr);
    assert_eq!(run.stdout, "");

    let run = flowq(&["flows", "-o", "ndjson", &png, INCIDENT]);
    assert_eq!(run.code, 2, "one unreadable input is still an error");
    assert_eq!(
        run.stdout.lines().count(),
        19,
        "the good input is read in full"
    );
}

#[test]
fn a_yaml_file_given_as_flows_is_a_clear_error() {
    let dir = Scratch::new("yaml");
    let yaml = dir.write(
        "pods.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-0\n  namespace: shop\n",
    );
    let run = flowq(&["flows", &yaml]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("line 1 is not JSON (expected value at line 1 column 1, starts with \"apiVersion: v1\")"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("pass --format to choose one: hubble, calico"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_empty_file_is_an_empty_result_with_a_warning() {
    let dir = Scratch::new("empty");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"").unwrap();
    for (name, bytes) in [
        ("empty.json", Vec::new()),
        ("blank.json", b"\n  \r\n\t\n".to_vec()),
        ("empty.json.gz", gz.finish().unwrap()),
    ] {
        let path = dir.write(name, bytes);
        let run = flowq(&["flows", "-o", "ndjson", &path]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{name}");
        assert!(
            run.stderr
                .contains(&format!("flowq: warning: {path:?} is empty")),
            "{name}: {}",
            run.stderr
        );
        let strict = flowq(&["denied", "--strict", "-o", "json", &path]);
        assert_eq!(
            strict.code, 0,
            "an empty input skips nothing: {}",
            strict.stderr
        );
        assert_eq!(strict.json(), serde_json::json!([]));
    }
}

#[test]
fn a_100_mb_line_is_read_without_losing_its_neighbours() {
    let dir = Scratch::new("long-line");
    let path = dir.0.join("long.ndjson");
    let mut out = BufWriter::new(fs::File::create(&path).unwrap());
    let megabyte = vec![b'x'; 1 << 20];
    writeln!(out, "{}", denial("10.0.0.1", "10.0.0.2", 80, 1)).unwrap();
    // Line 2: 100 MB of garbage.
    for _ in 0..100 {
        out.write_all(&megabyte).unwrap();
    }
    writeln!(out).unwrap();
    writeln!(out, "{}", denial("10.0.0.1", "10.0.0.2", 81, 2)).unwrap();
    // Line 4: a valid flow carrying a 100 MB field flowq does not use.
    write!(
        out,
        r#"{{"flow":{{"verdict":"DROPPED","IP":{{"source":"10.0.0.3","destination":"10.0.0.4"}},"l4":{{"TCP":{{"destination_port":82}}}},"padding":""#
    )
    .unwrap();
    for _ in 0..100 {
        out.write_all(&megabyte).unwrap();
    }
    writeln!(out, r#""}}}}"#).unwrap();
    writeln!(out, "{}", denial("10.0.0.1", "10.0.0.2", 83, 3)).unwrap();
    drop(out);

    let path = path.to_str().unwrap();
    let run = flowq(&["flows", "-v", "-o", "ndjson", path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(lines_of(&run.stdout), [1, 3, 4, 5]);
    assert!(
        run.stderr.contains(&format!(
            "skipped 1 of 5 records in {path:?} (first at line 2: expected a JSON object"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn deeply_nested_json_is_skipped_not_a_crash() {
    let dir = Scratch::new("nested");
    let deep = 100_000;
    let open = "[".repeat(deep);
    let balanced = format!("{open}{}", "]".repeat(deep));
    let objects = format!("{}1{}", r#"{"a":"#.repeat(deep), "}".repeat(deep));
    let text = [
        denial("10.0.0.1", "10.0.0.2", 80, 1),
        open.clone(),
        balanced.clone(),
        format!(r#"{{"flow":{{"verdict":{open}"#),
        // Nesting inside a field flowq ignores is accepted: the flow itself is fine.
        format!(
            r#"{{"flow":{{"verdict":"DROPPED","IP":{{"source":"10.0.0.5","destination":"10.0.0.6"}},"future":{objects}}}}}"#
        ),
        format!(r#"{{"flow":{{"verdict":"DROPPED","source":{{"labels":{balanced}}}}}}}"#),
        denial("10.0.0.1", "10.0.0.2", 81, 2),
    ]
    .join("\n");
    let path = dir.write("nested.ndjson", &text);
    let run = flowq(&["flows", "-v", "-o", "ndjson", &path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(lines_of(&run.stdout), [1, 5, 7]);
    assert!(
        run.stderr.contains("skipped 4 of 7 records"),
        "{}",
        run.stderr
    );

    // A document that is nothing but nesting is refused with the reason.
    for (name, body) in [("open.json", open), ("balanced.json", balanced)] {
        let path = dir.write(name, body);
        let run = flowq(&["flows", &path]);
        assert_eq!(run.code, 2, "{name}");
        assert!(
            run.stderr.contains(&format!(
                "flowq: error: cannot detect the format of {path:?}"
            )),
            "{name}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_deeply_nested_snapshot_is_refused_without_crashing() {
    let dir = Scratch::new("nested-snapshot");
    let deep = dir.write(
        "cluster.json",
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
    );
    let run = flowq(&["denied", "--snapshot", &deep, INCIDENT]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "flowq: error: cannot load snapshot {deep:?}: holds no Kubernetes objects"
        )),
        "{}",
        run.stderr
    );
    let lists = dir.write(
        "lists.json",
        format!(
            "{}{}",
            r#"{"kind":"List","items":["#.repeat(50_000),
            "]}".repeat(50_000)
        ),
    );
    let run = flowq(&["denied", "--snapshot", &lists, INCIDENT]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot load snapshot"),
        "{}",
        run.stderr
    );
}

#[test]
fn invalid_utf8_inside_a_json_string_skips_only_that_record() {
    let dir = Scratch::new("utf8");
    let good = br#"{"flow":{"time":"2026-11-20T19:05:00Z","verdict":"DROPPED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"source":{"namespace":"a","pod_name":"P"},"extra":"E"}}"#;
    let replace = |from: &[u8], to: &[u8]| {
        let at = good.windows(from.len()).position(|w| w == from).unwrap();
        [&good[..at], to, &good[at + from.len()..]].concat()
    };
    let lines = [
        good.to_vec(),
        replace(b"\"P\"", b"\"p\xff\xfeq\""),
        // Bad bytes in a field flowq never reads do not cost the record.
        replace(b"\"E\"", b"\"e\xc3\x28\""),
        replace(b"\"P\"", br#""\ud800""#),
        good.to_vec(),
    ];
    let path = dir.write("utf8.ndjson", lines.join(&b'\n'));
    let run = flowq(&["flows", "-v", "-o", "ndjson", &path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(lines_of(&run.stdout), [1, 3, 5]);
    assert!(
        run.stderr.contains(&format!(
            "{path}:2: invalid record: invalid unicode code point"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("{path}:4: ")),
        "{}",
        run.stderr
    );
}

#[test]
fn numbers_out_of_range_are_skipped_with_their_cause() {
    let dir = Scratch::new("numbers");
    let hubble = [
        denial("10.0.0.1", "10.0.0.2", 80, 1),
        r#"{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"many"}}"#.into(),
        r#"{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":-3}}"#.into(),
        r#"{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":1e400}}"#.into(),
        r#"{"flow":{"verdict":"DROPPED","l4":{"TCP":{"source_port":-1,"destination_port":80}}}}"#
            .into(),
        r#"{"flow":{"verdict":"DROPPED","l4":{"TCP":{"destination_port":18446744073709551616}}}}"#
            .into(),
        denial("10.0.0.1", "10.0.0.2", 81, 2),
    ]
    .join("\n");
    let path = dir.write("hubble.ndjson", hubble);
    let run = flowq(&["flows", "-v", "-o", "ndjson", &path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(lines_of(&run.stdout), [1, 7]);
    for cause in [
        ":2: invalid record: \"many\" is not an unsigned integer",
        ":3: invalid record: -3 is negative",
        ":4: invalid record: number out of range",
        ":5: invalid record: -1 is negative",
        ":6: invalid record: invalid type: floating point",
    ] {
        assert!(
            run.stderr.contains(&format!("{path}{cause}")),
            "{cause}: {}",
            run.stderr
        );
    }

    let calico =
        fs::read_to_string(crate::root().join("testdata/flows/calico/flows.log.ndjson")).unwrap();
    let first = calico.lines().next().unwrap();
    let with = |field: &str, value: &str| {
        let mut row: serde_json::Value = serde_json::from_str(first).unwrap();
        row[field] = serde_json::from_str(value).unwrap();
        row.to_string()
    };
    let text = [
        first.to_string(),
        with("bytes_in", "-5"),
        with("packets_out", "\"lots\""),
        with("dest_port", "70000"),
        first.to_string(),
    ]
    .join("\n");
    let path = dir.write("calico.ndjson", text);
    let run = flowq(&["flows", "-v", "-o", "ndjson", &path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(lines_of(&run.stdout), [1, 5]);
    assert!(
        run.stderr.contains(&format!("{path}:2: ")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("-5 is negative"), "{}", run.stderr);
    assert!(
        run.stderr.contains("dest_port 70000 is out of range"),
        "{}",
        run.stderr
    );
}

#[test]
fn huge_counts_saturate_instead_of_overflowing() {
    let dir = Scratch::new("huge");
    let lost = r#"{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"18446744073709551615"}}"#;
    let path = dir.write(
        "lost.ndjson",
        [lost, lost, &denial("10.0.0.1", "10.0.0.2", 80, 1)].join("\n"),
    );
    let run = flowq(&["denied", &path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "the source itself lost 18,446,744,073,709,551,615 events (HUBBLE_RING_BUFFER)"
        ),
        "{}",
        run.stderr
    );

    let calico =
        fs::read_to_string(crate::root().join("testdata/flows/calico/flows.log.ndjson")).unwrap();
    let mut row: serde_json::Value = serde_json::from_str(calico.lines().next().unwrap()).unwrap();
    row["num_flows_started"] = u64::MAX.into();
    row["bytes_in"] = u64::MAX.into();
    row["bytes_out"] = u64::MAX.into();
    let path = dir.write("calico.ndjson", format!("{row}\n{row}\n"));
    let run = flowq(&["denied", "-o", "json", &path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    assert_eq!(rows[0]["count"], u64::MAX);
    assert_eq!(rows[0]["records"], 2);
    let run = flowq(&["flows", "-o", "json", &path]);
    assert_eq!(run.json()[0]["bytes"], u64::MAX);
}

#[test]
fn unknown_enum_values_and_unknown_fields_are_accepted() {
    let dir = Scratch::new("unknown");
    let hubble = [
        r#"{"flow":{"time":"2026-11-20T19:05:00Z","verdict":42,"traffic_direction":77,"drop_reason_desc":9999,"IP":{"source":"10.0.0.1","destination":"10.0.0.2","ipVersion":"IPv9"},"l4":{"QUIC":{"source_port":1}},"event_type":{"type":99,"sub_type":7},"Type":"L9","future":{"a":[1,{"b":null}]},"source":{"labels":["reserved:quantum"]}},"node_name":"n","shiny_new_wrapper_key":true}"#,
        r#"{"flow":{"time":"2026-11-20T19:05:01Z","verdict":"DROPPED","drop_reason_desc":"BRAND_NEW_REASON","traffic_direction":"SIDEWAYS","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"destination_port":80}}}}"#,
        r#"{"future_event":{"x":1},"time":"2026-11-20T19:05:02Z","flow":{"verdict":"FORWARDED"}}"#,
    ]
    .join("\n");
    let path = dir.write("hubble.ndjson", hubble);
    let run = flowq(&["flows", "--strict", "-o", "json", &path]);
    assert_eq!(run.code, 0, "nothing is skipped: {}", run.stderr);
    let rows = run.json();
    assert_eq!(rows.as_array().unwrap().len(), 3);
    assert_eq!(rows[0]["verdict"], "unknown");
    assert_eq!(rows[0]["verdict_raw"], "42");
    assert_eq!(rows[0]["where"], "unknown");
    assert_eq!(rows[0]["reason"], "9999");
    assert_eq!(rows[0]["protocol"], "unknown");
    assert_eq!(rows[0]["src_kind"], "reserved");
    assert_eq!(
        rows[1]["verdict"], "dropped",
        "an unknown reason is not a policy denial"
    );
    assert_eq!(rows[1]["reason"], "BRAND_NEW_REASON");
    assert_eq!(rows[2]["verdict"], "allowed");

    let calico =
        fs::read_to_string(crate::root().join("testdata/flows/calico/flows.log.ndjson")).unwrap();
    let mut row: serde_json::Value = serde_json::from_str(calico.lines().next().unwrap()).unwrap();
    row["action"] = "quarantine".into();
    row["reporter"] = "middle".into();
    row["proto"] = "quic".into();
    row["brand_new"] = serde_json::json!({"x": [1]});
    let path = dir.write("calico.ndjson", format!("{row}\n"));
    let run = flowq(&["flows", "--strict", "-o", "json", &path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    assert_eq!(rows[0]["verdict"], "unknown");
    assert_eq!(rows[0]["verdict_raw"], "quarantine");
    assert_eq!(rows[0]["where"], "unknown");
}

const IPV6_SNAPSHOT: &str = r#"{"apiVersion":"v1","kind":"List","items":[
 {"kind":"Namespace","metadata":{"name":"shop","labels":{"team":"a"}}},
 {"kind":"Node","metadata":{"name":"node-6"},"spec":{"podCIDRs":["10.244.6.0/24","fd00:10:244:6::/64"]},"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.16"},{"type":"InternalIP","address":"fd00:10::16"}]}},
 {"kind":"Pod","metadata":{"name":"web-0","namespace":"shop","labels":{"app":"web"}},"spec":{"nodeName":"node-6"},"status":{"phase":"Running","podIP":"10.244.6.5","podIPs":[{"ip":"10.244.6.5"},{"ip":"fd00:10:244:6::5"}]}},
 {"kind":"Pod","metadata":{"name":"db-0","namespace":"shop","labels":{"app":"db"}},"spec":{"nodeName":"node-6"},"status":{"phase":"Running","podIPs":[{"ip":"FD00:10:244:6:0:0:0:a"}]}},
 {"kind":"Service","metadata":{"name":"db","namespace":"shop"},"spec":{"clusterIPs":["fd00:10:96::a"],"selector":{"app":"db"}}}
]}"#;

#[test]
fn ipv6_flows_join_ipv6_snapshot_identities() {
    let dir = Scratch::new("ipv6");
    let snapshot = dir.write("cluster.json", IPV6_SNAPSHOT);
    let flows = [
        // Written differently from the snapshot (zero runs, case): addresses compare as values.
        denial("fd00:10:244:6::5", "fd00:10:244:6:0::a", 5432, 0),
        denial("fd00:10:244:6::5", "fd00:10:96::a", 5432, 1),
        denial("fd00:10::16", "fd00:10:244:6::5", 8080, 2),
        denial("fd00:10:244:6::5", "2606:4700::1111", 443, 3),
        denial("fd00:10:244:6::99", "10.244.6.5", 80, 4),
    ]
    .join("\n");
    let flows = dir.write("flows.ndjson", flows);
    let run = flowq(&["flows", "--snapshot", &snapshot, "-o", "json", &flows]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    let ends = |i: usize, side: &str| {
        let r = &rows[i];
        (
            r[format!("{side}_kind")].as_str().unwrap().to_string(),
            r[format!("{side}_pod")]
                .as_str()
                .or(r[format!("{side}_service")].as_str())
                .or(r[format!("{side}_node")].as_str())
                .unwrap_or("-")
                .to_string(),
        )
    };
    let pair = |kind: &str, name: &str| (kind.to_string(), name.to_string());
    assert_eq!(ends(0, "src"), pair("pod", "web-0"));
    assert_eq!(ends(0, "dst"), pair("pod", "db-0"));
    assert_eq!(ends(1, "dst"), pair("service", "shop/db"));
    assert_eq!(ends(2, "src"), pair("node", "node-6"));
    assert_eq!(ends(3, "dst"), pair("external", "-"));
    assert_eq!(
        ends(4, "src"),
        pair("unknown", "-"),
        "in a pod CIDR, owned by nobody"
    );
    assert_eq!(rows[0]["src_ip"], "fd00:10:244:6::5");
    assert_eq!(
        rows[0]["dst_ip"], "fd00:10:244:6::a",
        "shown in canonical form"
    );

    let run = flowq(&[
        "denied",
        "--snapshot",
        &snapshot,
        "--to-ip",
        "fd00:10:244:6::/64",
        "--from-label",
        "app=web",
        "-o",
        "json",
        &flows,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["dst_pod"], "db-0");
}

#[test]
fn crlf_line_endings_read_like_lf_in_every_format() {
    let dir = Scratch::new("crlf");
    let mut compared = 0;
    for format_dir in fs::read_dir(crate::root().join("testdata/flows")).unwrap() {
        let format_dir = format_dir.unwrap().path();
        if !format_dir.is_dir() || format_dir.ends_with("malformed") {
            continue;
        }
        for fixture in fs::read_dir(&format_dir).unwrap() {
            let fixture = fixture.unwrap().path();
            let Some(ext) = fixture.extension().and_then(|e| e.to_str()) else {
                continue;
            };
            if !matches!(ext, "json" | "ndjson" | "log" | "txt") {
                continue;
            }
            let lf = fs::read(&fixture).unwrap();
            if lf.windows(2).any(|w| w == b"\r\n") {
                continue;
            }
            let crlf: Vec<u8> = lf
                .iter()
                .flat_map(|&b| {
                    if b == b'\n' {
                        vec![b'\r', b'\n']
                    } else {
                        vec![b]
                    }
                })
                .collect();
            let name = fixture.file_name().unwrap().to_str().unwrap();
            let a = dir.write(&format!("lf-{compared}-{name}"), &lf);
            let b = dir.write(&format!("crlf-{compared}-{name}"), &crlf);
            let rows = |path: &str| {
                let run = flowq(&["flows", "-o", "json", path]);
                assert_eq!(run.code, 0, "{path}: {}", run.stderr);
                let skipped = run.stderr.lines().find(|l| l.contains("skipped"));
                let skipped = skipped.map(|l| l.replace(path, "FILE"));
                let mut rows = run.json();
                for row in rows.as_array_mut().unwrap() {
                    row.as_object_mut().unwrap().remove("input");
                }
                (rows, skipped)
            };
            assert_eq!(rows(&a), rows(&b), "{}", fixture.display());
            compared += 1;
        }
    }
    assert!(compared >= 5, "only {compared} fixtures compared");
}

#[test]
fn a_json_array_truncated_midway_keeps_its_complete_elements() {
    let dir = Scratch::new("array");
    let incident = fs::read_to_string(crate::root().join(INCIDENT)).unwrap();
    let records: Vec<&str> = incident.lines().filter(|l| !l.is_empty()).collect();
    let whole = format!("[\n{}\n]\n", records.join(",\n"));
    let array = dir.write("array.json", &whole);
    let run = flowq(&["flows", "--strict", "-o", "ndjson", &array]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 19);

    // Cut inside the 10th record: the 9 before it are kept, the rest is one skip.
    let cut_at = whole.find(records[9]).unwrap() + records[9].len() / 2;
    let cut = dir.write("cut.json", &whole[..cut_at]);
    let run = flowq(&["flows", "-o", "ndjson", &cut]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let kept = records[..9]
        .iter()
        .filter(|r| r.contains("\"flow\""))
        .count();
    assert_eq!(run.stdout.lines().count(), kept);
    assert!(
        run.stderr
            .contains("(first at line 11: JSON array truncated inside element 10)"),
        "{}",
        run.stderr
    );
    let run = flowq(&["flows", "--strict", "-o", "ndjson", &cut]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("flowq: error: --strict: 1 record was skipped"),
        "{}",
        run.stderr
    );
}

#[test]
fn duplicate_pod_ips_are_ambiguous_with_a_warning() {
    let dir = Scratch::new("duplicate-ips");
    let snapshot = dir.write(
        "cluster.json",
        r#"{"kind":"List","items":[
 {"kind":"Namespace","metadata":{"name":"shop"}},
 {"kind":"Pod","metadata":{"name":"web-0","namespace":"shop"},"spec":{"nodeName":"n1"},"status":{"phase":"Running","podIP":"10.244.1.5"}},
 {"kind":"Pod","metadata":{"name":"web-1","namespace":"shop"},"spec":{"nodeName":"n2"},"status":{"phase":"Running","podIP":"10.244.1.5"}},
 {"kind":"Pod","metadata":{"name":"db-0","namespace":"shop"},"spec":{"nodeName":"n1"},"status":{"phase":"Running","podIP":"10.244.1.9"}}]}"#,
    );
    let named = r#"{"flow":{"time":"2026-11-20T19:05:01Z","verdict":"DROPPED","traffic_direction":"INGRESS","IP":{"source":"10.244.1.5","destination":"10.244.1.9"},"l4":{"TCP":{"source_port":40000,"destination_port":5432}},"source":{"namespace":"shop","pod_name":"web-1"}}}"#;
    let flows = dir.write(
        "flows.ndjson",
        format!("{}\n{named}\n", denial("10.244.1.5", "10.244.1.9", 5432, 0)),
    );
    let run = flowq(&["flows", "--snapshot", &snapshot, "-o", "json", &flows]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "address 10.244.1.5 is held by pod shop/web-0 and pod shop/web-1 in the snapshot"
        ),
        "{}",
        run.stderr
    );
    let rows = run.json();
    assert_eq!(rows[0]["src_kind"], "ambiguous");
    assert_eq!(rows[0]["src_pod"], serde_json::Value::Null, "never a guess");
    assert_eq!(
        rows[0]["src_name"],
        "ambiguous (pod shop/web-0 | pod shop/web-1)"
    );
    assert_eq!(rows[0]["dst_pod"], "db-0");
    assert_eq!(
        rows[1]["src_kind"], "pod",
        "the log names one of the candidates"
    );
    assert_eq!(rows[1]["src_pod"], "web-1");
}

#[test]
fn pods_without_ips_are_reported_and_do_not_disturb_the_join() {
    let dir = Scratch::new("no-ips");
    let snapshot = dir.write(
        "cluster.json",
        r#"{"kind":"List","items":[
 {"kind":"Namespace","metadata":{"name":"shop"}},
 {"kind":"Pod","metadata":{"name":"db-0","namespace":"shop"},"spec":{"nodeName":"n1"},"status":{"phase":"Running","podIP":"10.244.1.9"}},
 {"kind":"Pod","metadata":{"name":"starting-0","namespace":"shop"},"status":{"phase":"Pending"}},
 {"kind":"Pod","metadata":{"name":"noip-0","namespace":"shop"},"spec":{"nodeName":"n1"},"status":{"phase":"Running"}},
 {"kind":"Pod","metadata":{"name":"empty-0","namespace":"shop"},"status":{"phase":"Running","podIP":"","podIPs":[{"ip":""}]}},
 {"kind":"Pod","metadata":{"name":"nostatus-0","namespace":"shop"}}]}"#,
    );
    let flows = dir.write("flows.ndjson", denial("10.244.1.5", "10.244.1.9", 5432, 0));
    let run = flowq(&["flows", "-v", "--snapshot", &snapshot, "-o", "json", &flows]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for pod in ["noip-0", "empty-0", "nostatus-0"] {
        assert!(
            run.stderr
                .contains(&format!("pod shop/{pod} has no IP in the snapshot")),
            "{pod}: {}",
            run.stderr
        );
    }
    assert!(
        !run.stderr.contains("starting-0"),
        "a Pending pod has no IP yet"
    );
    assert!(
        !run.stderr.contains("is not an IP address"),
        "an empty podIP is no IP, not a bad one: {}",
        run.stderr
    );
    let rows = run.json();
    assert_eq!(rows[0]["dst_pod"], "db-0");
    assert_eq!(rows[0]["src_kind"], "unknown");
}

#[test]
fn policies_with_unknown_fields_are_read_and_evaluated() {
    let dir = Scratch::new("policy-fields");
    let snapshot = dir.write(
        "cluster.json",
        r#"{"kind":"List","items":[
 {"kind":"Namespace","metadata":{"name":"shop"}},
 {"kind":"Pod","metadata":{"name":"web-0","namespace":"shop","labels":{"app":"web"}},"spec":{"nodeName":"n1"},"status":{"phase":"Running","podIP":"10.244.1.5"}},
 {"kind":"Pod","metadata":{"name":"db-0","namespace":"shop","labels":{"app":"db"}},"spec":{"nodeName":"n1"},"status":{"phase":"Running","podIP":"10.244.1.9"}},
 {"kind":"NetworkPolicy","apiVersion":"networking.k8s.io/v1","metadata":{"name":"db-in","namespace":"shop","annotations":{"x":"y"},"managedFields":[{"manager":"kubectl"}]},
  "spec":{"podSelector":{"matchLabels":{"app":"db"},"futureSelectorField":true},"policyTypes":["Ingress"],
   "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"web"}},"futurePeerField":1}],"ports":[{"port":5432,"protocol":"TCP","futurePortField":"x"}],"futureRuleField":{}}],
   "futureSpecField":[1,2,3]},
  "status":{"conditions":[{"type":"Accepted","status":"True"}]}}]}"#,
    );
    let flows = dir.write(
        "flows.ndjson",
        [
            denial("10.244.1.5", "10.244.1.9", 5433, 0),
            denial("10.244.1.5", "10.244.1.9", 5432, 1),
        ]
        .join("\n"),
    );
    let run = flowq(&["denied", "--snapshot", &snapshot, "-o", "json", &flows]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !run.stderr.contains("skipped NetworkPolicy"),
        "{}",
        run.stderr
    );
    let rows = run.json();
    let verdict_for = |port: u64| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["dst_port"] == port)
            .map(|r| r["policy_verdict"].clone())
            .unwrap()
    };
    assert_eq!(verdict_for(5433), "deny");
    assert_eq!(verdict_for(5432), "allow");
}

#[test]
fn a_log_cut_inside_its_first_line_loses_only_that_line() {
    let dir = Scratch::new("first-line-cut");
    let incident = fs::read_to_string(crate::root().join(INCIDENT)).unwrap();
    let whole = flowq(&["flows", "-o", "ndjson", INCIDENT]);
    let flows_after_line_2 = lines_of(&whole.stdout)
        .into_iter()
        .filter(|l| *l > 2)
        .count();
    let second = incident.lines().nth(1).unwrap();
    assert!(second.starts_with("{\"flow\""), "line 2 is a flow");
    // `tail -c` cut inside line 2 at the start of a nested object, and a writer that died
    // inside its line and started a new one: the first line opens an object it never closes.
    let nested = second.find("{\"TCP\"").unwrap();
    let tail_cut = &incident[incident.find(second).unwrap() + nested..];
    let died = format!(
        "{}\n{}",
        &second[..40],
        &incident[incident.find(second).unwrap() + second.len() + 1..]
    );
    for (name, text) in [
        ("tail-cut.ndjson", tail_cut.to_string()),
        ("died.ndjson", died),
    ] {
        let path = dir.write(name, &text);
        let run = flowq(&["flows", "-o", "ndjson", &path]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert_eq!(run.stdout.lines().count(), flows_after_line_2, "{name}");
        assert!(
            run.stderr.contains(&format!(
                "skipped 1 of {} records in {path:?} (first at line 1: ",
                text.lines().filter(|l| !l.is_empty()).count()
            )),
            "{name}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_minified_list_document_is_read_like_a_pretty_printed_one() {
    let dir = Scratch::new("minified");
    let pretty = "testdata/flows/goldmane/whisker-list.json";
    let list: serde_json::Value =
        serde_json::from_slice(&fs::read(crate::root().join(pretty)).unwrap()).unwrap();
    let rows = |path: &str| {
        let run = flowq(&["flows", "--strict", "-o", "json", path]);
        assert_eq!(run.code, 0, "{path}: {}", run.stderr);
        let mut rows = run.json();
        for row in rows.as_array_mut().unwrap() {
            let row = row.as_object_mut().unwrap();
            row.remove("input");
            row.remove("line");
        }
        rows
    };
    let minified = dir.write("list.json", list.to_string());
    assert_eq!(rows(&minified), rows(pretty));

    // Longer than the reader's first chunk (4 MiB): still one document, not one record.
    let items = list["items"].as_array().unwrap();
    let copies = (5 << 20) / list["items"].to_string().len() + 1;
    let mut big = list.clone();
    big["items"] = items
        .iter()
        .cycle()
        .take(items.len() * copies)
        .cloned()
        .collect();
    let big = dir.write("big.json", big.to_string());
    let run = flowq(&["flows", "--strict", "-o", "ndjson", &big]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), items.len() * copies);
}
