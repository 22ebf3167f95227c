//! `-o parquet|csv|ndjson --out FILE`: files that read back with the documented columns and
//! types, written only when the run succeeds.

use std::path::Path;
use std::process::Command;

use netflow_core::frame::polars::prelude::*;

use crate::{flowq, root, INCIDENT, SNAPSHOT};

fn read_parquet(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).expect("the parquet file exists");
    ParquetReader::new(file)
        .finish()
        .expect("a readable parquet file")
}

fn out_path(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).to_string_lossy().into_owned()
}

#[test]
fn flows_parquet_has_the_json_columns_with_typed_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = out_path(&dir, "flows.parquet");
    let run = flowq(&[
        "flows",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "parquet",
        "--out",
        &path,
        INCIDENT,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "", "nothing on stdout when writing a file");
    let frame = read_parquet(Path::new(&path));

    let json = flowq(&["flows", "--snapshot", SNAPSHOT, "-o", "json", INCIDENT]).json();
    let rows = json.as_array().unwrap();
    assert_eq!(frame.height(), rows.len());
    let json_columns: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(frame.get_column_names(), json_columns);

    let schema = frame.schema();
    assert_eq!(
        schema.get("time"),
        Some(&DataType::Datetime(
            TimeUnit::Microseconds,
            Some(TimeZone::UTC)
        ))
    );
    assert_eq!(schema.get("src_ip"), Some(&DataType::String));
    assert_eq!(schema.get("dst_port"), Some(&DataType::Int32));
    assert_eq!(schema.get("count"), Some(&DataType::Int64));
    assert_eq!(
        schema.get("policies"),
        Some(&DataType::List(Box::new(DataType::String)))
    );
    // Row by row, the same values as the JSON output.
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(
            frame.column("src_ip").unwrap().str().unwrap().get(i),
            row["src_ip"].as_str(),
            "row {i}"
        );
        assert_eq!(
            frame
                .column("dst_port")
                .unwrap()
                .i32()
                .unwrap()
                .get(i)
                .map(i64::from),
            row["dst_port"].as_i64(),
            "row {i}"
        );
        assert_eq!(
            frame.column("line").unwrap().i64().unwrap().get(i),
            row["line"].as_i64(),
            "row {i}"
        );
        let micros = frame
            .column("time")
            .unwrap()
            .datetime()
            .unwrap()
            .physical()
            .get(i);
        let want = row["time"].as_str().map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .unwrap()
                .timestamp_micros()
        });
        assert_eq!(micros, want, "row {i}");
    }
}

#[test]
fn denied_parquet_keeps_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = out_path(&dir, "denied.parquet");
    let run = flowq(&[
        "denied",
        "--dst-port",
        "9200",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "parquet",
        "--out",
        &path,
        INCIDENT,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let frame = read_parquet(Path::new(&path));
    assert_eq!(frame.height(), 2);
    let counts: Vec<Option<i64>> = frame
        .column("count")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(counts, [Some(3), Some(2)]);
    let pods: Vec<Option<&str>> = frame
        .column("dst_pod")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(pods, [Some("elasticsearch-0"), Some("elasticsearch-1")]);
    let explanation = frame
        .column("explanation")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap();
    assert!(
        explanation.contains("vamp/elasticsearch-ingress"),
        "{explanation}"
    );
}

#[test]
fn top_parquet_and_csv_files_match_the_json_answer() {
    let dir = tempfile::tempdir().unwrap();
    let parquet = out_path(&dir, "top.parquet");
    let csv = out_path(&dir, "top.csv");
    let args = ["top", "--by", "dst_port", "--bucket", "1m", INCIDENT];
    let json = flowq(&[&args[..], &["-o", "json"]].concat()).json();
    let run = flowq(&[&args[..], &["-o", "parquet", "--out", &parquet]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = flowq(&[&args[..], &["-o", "csv", "--out", &csv]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);

    let frame = read_parquet(Path::new(&parquet));
    assert_eq!(frame.height(), json.as_array().unwrap().len());
    assert_eq!(
        frame.schema().get("bucket"),
        Some(&DataType::Datetime(
            TimeUnit::Microseconds,
            Some(TimeZone::UTC)
        ))
    );
    let counts: Vec<Option<i64>> = frame
        .column("count")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .collect();
    let want: Vec<Option<i64>> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_i64())
        .collect();
    assert_eq!(counts, want);

    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("bucket,dst_port,count,records,bytes,packets,sources,destinations")
    );
    assert_eq!(lines.count(), want.len());
}

#[test]
fn a_failed_run_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = out_path(&dir, "flows.csv");
    let bad = dir.path().join("bad.ndjson");
    let good = std::fs::read_to_string(root().join(INCIDENT)).unwrap();
    std::fs::write(&bad, format!("{good}{{\"flow\": truncated\n")).unwrap();
    let bad = bad.to_string_lossy().into_owned();
    let run = flowq(&["flows", "--strict", "-o", "csv", "--out", &path, &bad]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!Path::new(&path).exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // Without --strict the skip is reported and the file is written.
    let run = flowq(&["flows", "-o", "csv", "--out", &path, &bad]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("skipped 1 of"), "{}", run.stderr);
    assert!(Path::new(&path).exists());
}

#[test]
fn every_command_writes_every_output_format_it_lists() {
    let dir = tempfile::tempdir().unwrap();
    let check = [
        "check",
        "--snapshot",
        SNAPSHOT,
        "--from",
        "customer1/release-agent-6c8f9b7d5-w4k2j",
        "--to",
        "svc/vamp/elasticsearch",
        "--port",
        "9200",
    ];
    let commands: [&[&str]; 6] = [
        &["denied", "--snapshot", SNAPSHOT, INCIDENT],
        &["denied", "--each", INCIDENT],
        &["flows", INCIDENT],
        &["top", "--by", "dst_port", INCIDENT],
        &["inspect", INCIDENT],
        &check,
    ];
    for command in commands {
        for format in ["table", "json", "ndjson", "csv", "parquet"] {
            let path = out_path(&dir, &format!("{}-{format}", command[0]));
            let mut args = command.to_vec();
            args.extend(["-o", format, "--out", &path]);
            let run = flowq(&args);
            // check exits 1 for a denied connection: a complete answer all the same.
            assert!(
                run.code == 0 || (command[0] == "check" && run.code == 1),
                "{args:?}: {}",
                run.stderr
            );
            let bytes = std::fs::read(&path).unwrap();
            assert!(!bytes.is_empty(), "{args:?} wrote nothing");
            match format {
                "json" => drop(serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()),
                "ndjson" => {
                    for line in String::from_utf8(bytes).unwrap().lines() {
                        serde_json::from_str::<serde_json::Value>(line).unwrap();
                    }
                }
                "csv" => {
                    let text = String::from_utf8(bytes).unwrap();
                    let header = text.lines().next().unwrap();
                    assert!(!header.starts_with('{'), "{args:?} wrote JSON for CSV");
                    assert!(text.lines().count() >= 2, "{args:?}: {text}");
                }
                "parquet" => assert_eq!(&bytes[..4], b"PAR1", "{args:?}"),
                _ => {}
            }
        }
    }
}

/// DuckDB reads the export with the documented SQL types. Runs where Python's duckdb is
/// installed (CI installs it and sets FLOWQ_REQUIRE_DUCKDB=1 so it cannot silently skip).
#[test]
fn duckdb_reads_the_parquet_types() {
    let has_duckdb = Command::new("python3")
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_duckdb {
        assert!(
            std::env::var_os("FLOWQ_REQUIRE_DUCKDB").is_none(),
            "FLOWQ_REQUIRE_DUCKDB is set but python3 cannot import duckdb"
        );
        eprintln!("skipped: python3 cannot import duckdb");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = out_path(&dir, "flows.parquet");
    let run = flowq(&["flows", "-o", "parquet", "--out", &path, INCIDENT]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let script = r#"
import duckdb, sys
rows = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{sys.argv[1]}')").fetchall()
print("\n".join(f"{r[0]} {r[1]}" for r in rows))
n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{sys.argv[1]}') WHERE verdict = 'denied' AND dst_port = 9200").fetchall()[0][0]
print(f"denied_9200 {n}")
"#;
    let out = Command::new("python3")
        .args(["-c", script, &path])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "time TIMESTAMP WITH TIME ZONE",
        "src_ip VARCHAR",
        "dst_port INTEGER",
        "count BIGINT",
        "duplicate BOOLEAN",
        "policies VARCHAR[]",
        "denied_9200 10",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
    }
}
