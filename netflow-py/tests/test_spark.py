"""flowq.spark in local[2] mode on generated multi-file inputs: the same rows, in the same
order, as the CLI on the same files."""

from __future__ import annotations

import json
import os
import shutil
import sys

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import flowq
import flowq.spark
from conftest import VAMP, cli_times, strip_nulls

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
    with pytest.raises(flowq.InvalidValueError, match="mount"):
        flowq.spark.denied(spark, ["gs://bucket/flows.json"])
    with pytest.raises(flowq.InvalidValueError, match="dst_port"):
        flowq.spark.denied(spark, [str(VAMP)], dst_port="nine")


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
