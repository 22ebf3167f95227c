"""flowq.spark in local[2] mode on generated multi-file inputs: the same rows, in the same
order, as the CLI on the same files."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import flowq
import flowq.spark
from conftest import ROOT, TESTDATA, VAMP, _shift_hours, cli_times, strip_nulls

REQUIRED = bool(os.environ.get("FLOWQ_REQUIRE_SPARK"))


def _need(module):
    try:
        return __import__(module)
    except ImportError:
        if REQUIRED:
            pytest.fail(f"FLOWQ_REQUIRE_SPARK is set but {module} is not installed")
        pytest.skip(f"{module} is not installed")


@pytest.fixture(scope="module")
def spark():
    _need("pyspark")
    _need("pyarrow")
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        if REQUIRED:
            pytest.fail("FLOWQ_REQUIRE_SPARK is set but there is no Java")
        pytest.skip("Spark needs Java")
    from pyspark.sql import SparkSession

    # Workers run this interpreter, where flowq is installed.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    # Everything stays on this machine's loopback.
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    session = (
        SparkSession.builder.master("local[2]")
        .appName("flowq-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    yield session
    session.stop()


def _spark_rows(df):
    """Spark rows as the CLI's JSON writes them."""
    rows = []
    for row in df.collect():
        d = row.asDict(recursive=True)
        for key, value in d.items():
            if hasattr(value, "isoformat"):
                text = value.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
                d[key] = text + "Z"
        if d.get("evaluation") is not None:
            d["evaluation"] = json.loads(d["evaluation"])
        rows.append(d)
    return rows


def test_spark_denied_equals_the_cli_on_the_same_files(spark, cli, multi_files):
    df = flowq.spark.denied(spark, multi_files, snapshot=VAMP, partitions=3)
    got = _spark_rows(df)
    expected = json.loads(cli("denied", "--snapshot", VAMP, "-o", "json", *multi_files))
    cli_times(expected, ["first_seen", "last_seen"])
    assert len(got) == len(expected) > 3
    assert [strip_nulls(r) for r in got] == [strip_nulls(r) for r in expected]
    # The other end's report came from another file than the denials it sits beside.
    assert any(r["other_reports"] for r in got)


def test_spark_denied_without_a_snapshot_and_with_filters(spark, cli, multi_files):
    df = flowq.spark.denied(spark, multi_files, dst_port=9200, include_drops=True)
    expected = json.loads(
        cli("denied", "--dst-port", "9200", "--include-drops", "-o", "json", *multi_files)
    )
    cli_times(expected, ["first_seen", "last_seen"])
    assert [strip_nulls(r) for r in _spark_rows(df)] == [strip_nulls(r) for r in expected]


def test_spark_flows_equal_the_cli_parquet_in_input_order(spark, cli, multi_files, tmp_path):
    out = tmp_path / "flows.parquet"
    cli("flows", "--snapshot", VAMP, "-o", "parquet", "--out", out, *multi_files)
    expected = pl.read_parquet(out)
    df = flowq.spark.flows(spark, multi_files, snapshot=flowq.Snapshot(VAMP), partitions=2)
    order = {p: i for i, p in enumerate(multi_files)}
    got = pl.from_arrow(df.toArrow()).sort(
        pl.col("input").replace_strict(order, return_dtype=pl.Int64), "line"
    )
    assert_frame_equal(got, expected)


def test_spark_paths_fail_early_on_the_driver(spark, tmp_path):
    with pytest.raises(flowq.InvalidValueError, match="matches no file"):
        flowq.spark.denied(spark, [str(tmp_path / "*.json")])
    # A scheme Spark has no file system for here (no GCS connector on this machine).
    with pytest.raises(flowq.InputError, match="gs") as raised:
        flowq.spark.denied(spark, ["gs://bucket/flows.json"])
    assert raised.value.file == "gs://bucket/flows.json"
    missing = str(tmp_path / "missing.json")
    with pytest.raises(flowq.InputError, match="no such file") as raised:
        flowq.spark.denied(spark, [missing])
    assert raised.value.file == missing
    with pytest.raises(flowq.InvalidValueError, match="dst_port"):
        flowq.spark.denied(spark, [str(VAMP)], dst_port="nine")
    with pytest.raises(flowq.SnapshotError) as raised:
        flowq.spark.denied(spark, [str(VAMP)], snapshot="gs://bucket/cluster.json")
    assert raised.value.file == "gs://bucket/cluster.json"


def test_spark_denied_reports_skipped_records_on_the_driver(spark, multi_files, tmp_path):
    damaged = tmp_path / "damaged.ndjson"
    lines = open(multi_files[0]).read().splitlines()
    lines.insert(1, lines[1][:30])
    damaged.write_text("\n".join(lines) + "\n")
    files = [str(damaged), *multi_files[1:]]
    with pytest.warns(flowq.SkippedRecordsWarning, match=r"skipped 1 of .* line 2"):
        df = flowq.spark.denied(spark, files, snapshot=VAMP)
    assert df.report.skipped == 1
    assert [r["input"] for r in df.report.inputs] == files
    assert df.count() > 0


def test_spark_flows_reports_what_its_actions_read(spark, multi_files):
    df = flowq.spark.flows(spark, multi_files, verdict="denied")
    assert df.report.inputs == []
    rows = df.count()
    df.count()
    assert rows > 0
    # Read twice, each file is counted once.
    assert [r["input"] for r in df.report.inputs] == multi_files
    assert df.report.lost_by_source == 24
    with pytest.raises(flowq.InvalidValueError, match="verdict"):
        flowq.spark.flows(spark, multi_files, verdict="not a verdict!")


def _denied_cli(cli, files, *args):
    expected = json.loads(cli("denied", *args, "-o", "json", *files))
    return [strip_nulls(r) for r in cli_times(expected, ["first_seen", "last_seen"])]


def test_spark_reads_file_uris_and_folders_through_spark(spark, cli, multi_files, tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    for i, f in enumerate(multi_files):
        name = os.path.basename(f)
        shutil.copy(f, folder / f"{i}-{name}")
    # Folders list their files in name order, as the CLI is given them here.
    listed = sorted(str(p) for p in folder.iterdir())
    expected = _denied_cli(cli, listed, "--snapshot", VAMP)
    for paths in ([str(folder)], ["file://" + str(folder)], ["file://" + p for p in listed]):
        # The snapshot too may be given as a URI Spark reads.
        df = flowq.spark.denied(spark, paths, snapshot="file://" + str(VAMP))
        assert [strip_nulls(r) for r in _spark_rows(df)] == expected, paths
        assert len(df.report.inputs) == len(listed)


@pytest.fixture(scope="module")
def large_files(tmp_path_factory):
    """Files larger than the ranges the tests cut: gen.py's Hubble (a few hundred KB; read
    whole all the same), the VPC fixture repeated hour after hour (computed and unanswered
    denials in every range), and Calico's log repeated, each with a damaged line in the
    middle."""
    out = tmp_path_factory.mktemp("large")
    gen = ROOT / "benches" / "gen.py"
    import subprocess

    subprocess.run(
        [sys.executable, str(gen), "--out", str(out), "--size", "400K", "--pods", "60",
         "--policies", "12"],
        check=True,
        capture_output=True,
    )
    hubble = out / "flows.hubble.400K.ndjson"
    vpc_lines = (TESTDATA / "flows" / "gke-vpc" / "computed.ndjson").read_text().splitlines()
    calico_lines = (TESTDATA / "flows" / "calico" / "flows.log.ndjson").read_text().splitlines()
    files = {"hubble": hubble}
    for name, lines in (("vpc", vpc_lines), ("calico", calico_lines)):
        repeated = [l for h in range(0, 4) for l in (_shift_hours(x, h) for x in lines)] * 3
        repeated.insert(len(repeated) // 2, '{"broken": ')
        path = out / f"{name}.ndjson"
        path.write_text("\n".join(repeated) + "\n")
        files[name] = path
    return {k: str(v) for k, v in files.items()} | {"cluster": str(out / "cluster.json")}


@pytest.mark.parametrize("kind", ["hubble", "vpc", "calico"])
def test_spark_a_file_cut_into_many_ranges_gives_the_rows_of_the_whole(spark, cli, large_files, kind):
    path = large_files[kind]
    snapshot = large_files["cluster"] if kind == "hubble" else VAMP
    expected = _denied_cli(cli, [path], "--snapshot", snapshot)
    whole = flowq.denied([path], snapshot=snapshot)
    size = os.path.getsize(path)
    range_bytes = max(1024, size // 23)
    df = flowq.spark.denied(spark, [path], snapshot=snapshot, range_bytes=range_bytes)
    assert [strip_nulls(r) for r in _spark_rows(df)] == expected
    with open(path, "rb") as fh:
        head = fh.read(256 * 1024)
    # Hubble files are read whole (one packet's reports on consecutive lines count once);
    # the others in ranges.
    assert (flowq._native.splittable(head) is None) == (kind == "hubble")
    # The file's own line numbers and counts, summed over its ranges.
    got, want = df.report.inputs[0], whole.report.inputs[0]
    for key in ("input", "records", "flows", "skipped", "skips", "lost_by_source", "last_line"):
        assert got[key] == want[key], key
    if kind == "vpc":
        assert {r["verdict_from"] for r in expected} >= {"snapshot", "no_reply"}
    assert size // range_bytes > 10


def test_spark_denied_computes_vpc_denials_as_the_cli_does(spark, cli, tmp_path):
    # The VPC fixture's records dealt over three files: a request and its reply, and the two
    # reports of one request, land in different files.
    lines = (TESTDATA / "flows" / "gke-vpc" / "computed.ndjson").read_text().splitlines()
    files = []
    for i in range(3):
        path = tmp_path / f"vpc-{i}.ndjson"
        path.write_text("\n".join(lines[i::3]) + "\n")
        files.append(str(path))
    expected = _denied_cli(cli, files, "--snapshot", VAMP)
    assert {r["verdict_from"] for r in expected} == {"snapshot", "no_reply"}
    df = flowq.spark.denied(spark, files, snapshot=VAMP, partitions=3)
    assert [strip_nulls(r) for r in _spark_rows(df)] == expected
    quiet = flowq.spark.denied(spark, files, snapshot=VAMP, unanswered=False)
    expected = _denied_cli(cli, files, "--snapshot", VAMP, "--no-unanswered")
    assert [strip_nulls(r) for r in _spark_rows(quiet)] == expected


def test_spark_unreadable_files_raise_flowq_errors_on_the_driver(spark, multi_files, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("# not a flow log\n")
    with pytest.raises(flowq.InputError, match="cannot detect the format") as raised:
        flowq.spark.denied(spark, [multi_files[0], str(text)])
    assert raised.value.file == str(text)
    damaged = tmp_path / "damaged.ndjson.gz"
    damaged.write_bytes(gzip.compress(open(multi_files[0], "rb").read())[:-30])
    with pytest.raises(flowq.InputError, match="damaged gzip") as raised:
        flowq.spark.top(spark, [str(damaged)], by="dst_pod")
    assert raised.value.file == str(damaged) and raised.value.line is not None
    # strict: the first skipped record, at the file's own line, from a range in its middle.
    # Calico's log (Hubble files are never cut), repeated into a file of many ranges.
    lines = open(multi_files[4]).read().splitlines() * 300
    assert len(lines) > 600
    lines.insert(500, "{oops")
    big = tmp_path / "big.ndjson"
    big.write_text("\n".join(lines) + "\n")
    with pytest.raises(flowq.SkippedRecordsError, match=r"range of .*\(first at line 501: ") as raised:
        flowq.spark.denied(spark, [str(big)], strict=True, range_bytes=8192)
    assert (raised.value.file, raised.value.line) == (str(big), 501)


@pytest.mark.parametrize(
    "args",
    [
        {"by": ["dst_pod"]},
        {"by": ["src_namespace", "dst_port"], "k": 3, "verdict": "denied"},
        {"by": ["dst_workload"], "bucket": "30m", "k": 2},
        {"by": ["verdict"], "k": 0, "snapshot": VAMP},
    ],
)
def test_spark_top_equals_the_cli(spark, cli, multi_files, large_files, args):
    files = [*multi_files, large_files["calico"]]
    # Small ranges: the large Calico file is cut (the Hubble files are read whole).
    range_bytes = 4096
    assert os.path.getsize(large_files["calico"]) > 4 * range_bytes
    flags = ["--by", ",".join(args["by"]), "-k", str(args.get("k", 10))]
    if "verdict" in args:
        flags += ["--verdict", args["verdict"]]
    if "bucket" in args:
        flags += ["--bucket", args["bucket"]]
    if "snapshot" in args:
        flags += ["--snapshot", str(args["snapshot"])]
    expected = json.loads(cli("top", *flags, "-o", "json", *files))
    cli_times(expected, ["bucket"])
    df = flowq.spark.top(spark, files, range_bytes=range_bytes, partitions=3, **args)
    assert _spark_rows(df) == expected
    assert df.report.records == flowq.top(files, **args).report.records
