use crate::{flowq, INCIDENT, SNAPSHOT};

#[test]
fn top_ranks_the_denied_destinations() {
    let run = flowq(&[
        "top",
        "--by",
        "src_namespace,src_workload,dst_namespace,dst_workload,dst_port",
        "--verdict",
        "denied",
        "--snapshot",
        SNAPSHOT,
        INCIDENT,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("top_denied_by_workload", run.stdout);
}

#[test]
fn top_json_rows_carry_the_keys_and_metrics() {
    let run = flowq(&[
        "top",
        "--by",
        "dst_workload,dst_port",
        "--verdict",
        "denied",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "json",
        INCIDENT,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    let first = &rows[0];
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "dst_workload",
            "dst_port",
            "count",
            "records",
            "bytes",
            "packets",
            "sources",
            "destinations"
        ]
    );
    assert_eq!(first["dst_workload"], "elasticsearch");
    assert_eq!(first["dst_port"], 9200);
    // The same attempts `flowq denied` counts (3 + 2), not the 10 records behind them.
    assert_eq!(first["count"], 5);
    assert_eq!(first["records"], 10);
    assert_eq!(first["sources"], 1);
    assert_eq!(first["destinations"], 2);
}

#[test]
fn buckets_say_when_it_started() {
    let run = flowq(&[
        "top",
        "--by",
        "dst_pod",
        "--verdict",
        "denied",
        "--dst-port",
        "9200",
        "--bucket",
        "1m",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "ndjson",
        INCIDENT,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<(String, String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["bucket"].as_str().unwrap().to_string(),
                r["dst_pod"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("2026-11-20T19:05:00Z".into(), "elasticsearch-0".into(), 3),
            ("2026-11-20T19:06:00Z".into(), "elasticsearch-1".into(), 2),
        ]
    );
}

#[test]
fn k_keeps_the_largest_groups() {
    let all = flowq(&["top", "--by", "dst_port", "-k", "0", "-o", "json", INCIDENT]);
    let one = flowq(&["top", "--by", "dst_port", "-k", "1", "-o", "json", INCIDENT]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    let all = all.json();
    let one = one.json();
    assert!(all.as_array().unwrap().len() > 1);
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0], all[0]);
    let counts: Vec<u64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
}

#[test]
fn unknown_columns_and_widths_are_refused_before_reading() {
    let run = flowq(&["top", "--by", "dst_colour", "missing.json"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("not a column to group by"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("dst_workload"), "{}", run.stderr);
    let run = flowq(&["top", "--bucket", "soon", "missing.json"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("invalid --bucket"), "{}", run.stderr);
}

#[test]
fn replies_are_left_out_unless_asked_for() {
    let file = "testdata/flows/hubble/unenforced.ndjson";
    let records = |extra: &[&str]| -> u64 {
        let run = flowq(&[&["top", "--by", "verdict", "-o", "json", file], extra].concat());
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["records"].as_u64().unwrap())
            .sum()
    };
    let all = flowq(&["flows", "-o", "json", file]).json();
    let all = all.as_array().unwrap();
    let replies = all.iter().filter(|r| r["is_reply"] == true).count() as u64;
    assert_eq!(replies, 1);
    assert_eq!(records(&[]), all.len() as u64 - replies);
    assert_eq!(records(&["--include-replies"]), all.len() as u64);
    let table = flowq(&["top", "--by", "verdict", file]);
    assert!(
        table
            .stdout
            .contains("(1 reply left out; --include-replies)"),
        "{}",
        table.stdout
    );
}

#[test]
fn top_counts_the_flows_an_exporter_aggregate_stands_for() {
    let run = flowq(&[
        "top",
        "--by",
        "dst_pod,verdict",
        "-o",
        "json",
        "testdata/flows/hubble/exporter-aggregate.ndjson",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    let got: Vec<(&str, &str, i64, i64)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["dst_pod"].as_str().unwrap(),
                r["verdict"].as_str().unwrap(),
                r["count"].as_i64().unwrap(),
                r["records"].as_i64().unwrap(),
            )
        })
        .collect();
    // 120 + 1 denied SYNs to elasticsearch-0 in two records, 37 in one to elasticsearch-1,
    // and 12 + 3 allowed ones folded into one record: not one attempt per record.
    assert_eq!(
        got,
        [
            ("elasticsearch-0", "denied", 121, 2),
            ("elasticsearch-1", "denied", 37, 1),
            ("elasticsearch-0", "allowed", 15, 1),
        ]
    );
}
