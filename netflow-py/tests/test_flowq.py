"""The flowq Python package: every function against the CLI on the same inputs, filters,
errors with their file and line, skip reporting, Arrow hand-over and the GIL."""

from __future__ import annotations

import gzip
import json
import pathlib
import re
import threading
import time
import warnings

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import flowq
from conftest import INCIDENT, ROOT, TESTDATA, VAMP, cli_times, rows_as_json, strip_nulls


@pytest.fixture(scope="module")
def snap():
    return flowq.Snapshot(VAMP)


def quiet(fn, *args, **kwargs):
    """Calls fn with flowq's skip/loss warnings silenced (the incident's log lost events)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", flowq.SkippedRecordsWarning)
        return fn(*args, **kwargs)


# --- the same rows as the CLI -------------------------------------------------------------


def test_denied_has_the_rows_of_the_cli_json_with_the_evaluation_as_a_struct(snap, cli):
    df = quiet(flowq.denied, [INCIDENT], snapshot=snap)
    expected = json.loads(cli("denied", "--snapshot", VAMP, "-o", "json", INCIDENT))
    assert df.columns == list(expected[0].keys())
    assert isinstance(df.schema["evaluation"], pl.Struct)
    assert df.schema["first_seen"] == pl.Datetime("us", "UTC")
    got = rows_as_json(df)
    cli_times(expected, ["first_seen", "last_seen"])
    assert [strip_nulls(r) for r in got] == [strip_nulls(r) for r in expected]
    first = df.row(0, named=True)
    assert first["dst_pod"] == "elasticsearch-0"
    assert first["other_reports"] == ["egress allowed @ prod/node-a"]
    assert first["evaluation"]["ingress"]["verdict"] == "deny"


def test_flows_equal_the_cli_parquet_export_in_rows_and_types(snap, cli, tmp_path):
    out = tmp_path / "flows.parquet"
    cli("flows", "--snapshot", VAMP, "-o", "parquet", "--out", out, INCIDENT)
    expected = pl.read_parquet(out)
    # What a record says beyond the common columns is JSON text in the CLI's Parquet and a
    # struct column in Python, as `evaluation` is in `denied`.
    expected = expected.with_columns(
        expected["details"].str.json_decode(infer_schema_length=None)
    )
    df = quiet(flowq.flows, INCIDENT, snapshot=snap)
    assert_frame_equal(df, expected)
    assert isinstance(df.schema["details"], pl.Struct)
    assert df.schema["dst_port"] == pl.Int32
    assert df.schema["policies"] == pl.List(pl.String)


def test_top_has_the_rows_of_the_cli(snap, cli):
    args = ["--by", "src_workload,dst_workload,dst_port", "--verdict", "denied", "-k", "5"]
    expected = json.loads(cli("top", *args, "-o", "json", INCIDENT))
    df = quiet(
        flowq.top, INCIDENT, by=["src_workload", "dst_workload", "dst_port"], verdict="denied", k=5
    )
    assert rows_as_json(df) == expected
    bucketed = quiet(flowq.top, INCIDENT, by="dst_port", bucket="1m", k=0)
    expected = json.loads(cli("top", "--by", "dst_port", "--bucket", "1m", "-k", "0", "-o", "json", INCIDENT))
    assert rows_as_json(bucketed) == cli_times(expected, ["bucket"])
    assert bucketed.schema["bucket"] == pl.Datetime("us", "UTC")


def test_check_returns_the_cli_json_object(snap, cli):
    src, dst = "customer1/release-agent-6c8f9b7d5-w4k2j", "svc/vamp/elasticsearch"
    expected = json.loads(
        cli("check", "--snapshot", VAMP, "--from", src, "--to", dst, "--port", 9200, "-o", "json")
    )
    got = flowq.check(snap, src, dst, 9200)
    assert got == expected
    assert got["verdict"] == "deny"
    # A path works as the snapshot too, and UDP is evaluated as UDP.
    assert flowq.check(str(VAMP), src, dst, port=9200, protocol="UDP")["protocol"] == "UDP"


def test_inspect_accounts_for_every_record(cli):
    df = flowq.inspect(INCIDENT)
    expected = json.loads(cli("inspect", "-o", "json", INCIDENT))
    assert rows_as_json(df) == cli_times(expected, ["first_time", "last_time"])
    assert df["records"].to_list() == [21]


# --- filters --------------------------------------------------------------------------------


def test_filters_take_the_cli_names_and_values(snap, cli):
    df = quiet(flowq.flows, INCIDENT, snap, dst_port=9200, to_namespace="vamp")
    expected = json.loads(
        cli("flows", "--snapshot", VAMP, "--dst-port", "9200", "--to-namespace", "vamp", "-o", "json", INCIDENT)
    )
    assert df.height == len(expected) > 0
    assert set(df["dst_port"].to_list()) == {9200}
    # A list ORs its values; different filters AND.
    either = quiet(flowq.flows, INCIDENT, snap, dst_port=[9200, 443], verdict="denied")
    assert set(either["dst_port"].to_list()) == {9200, 443}
    assert set(either["verdict"].to_list()) == {"denied"}
    denied = quiet(flowq.denied, INCIDENT, snap, from_label="io.vamp=release-agent", dst_port="9200")
    assert denied.height == 2


def test_time_filters_take_durations_and_times(snap):
    # The incident is in 2026-11-20: "30m" before now excludes it all, a time includes part.
    assert quiet(flowq.flows, INCIDENT, snap, since="30m").height == 0
    some = quiet(flowq.flows, INCIDENT, snap, since="2026-11-20T19:06:00Z")
    assert 0 < some.height < quiet(flowq.flows, INCIDENT, snap).height


def test_bad_filter_values_raise_invalid_value_errors_naming_the_keyword():
    with pytest.raises(flowq.InvalidValueError, match="dst_port") as e:
        flowq.flows(INCIDENT, dst_port="http-ish")
    assert isinstance(e.value, ValueError)
    with pytest.raises(flowq.InvalidValueError, match="since"):
        flowq.flows(INCIDENT, since="yesterday-ish")
    with pytest.raises(TypeError, match="to_namespce"):
        flowq.flows(INCIDENT, to_namespce="vamp")
    with pytest.raises(TypeError, match="verdict"):
        flowq.denied(INCIDENT, verdict="denied")
    with pytest.raises(flowq.InvalidValueError, match="bucket"):
        flowq.top(INCIDENT, by="dst_port", bucket="often")
    with pytest.raises(flowq.InvalidValueError, match="by"):
        flowq.top(INCIDENT, by="no_such_column")


# --- paths, gzip ----------------------------------------------------------------------------


def test_paths_may_be_pathlike_and_gzip(snap, tmp_path):
    gz = tmp_path / "incident.ndjson.gz"
    gz.write_bytes(gzip.compress(INCIDENT.read_bytes()))
    plain = quiet(flowq.denied, str(INCIDENT), snap).drop("evaluation")
    zipped = quiet(flowq.denied, [pathlib.Path(gz)], snap).drop("evaluation")
    assert_frame_equal(plain, zipped)
    assert zipped.height == 3


# --- errors and skips -----------------------------------------------------------------------


def test_an_unreadable_input_raises_an_input_error_with_its_file(tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(flowq.InputError) as e:
        flowq.flows([INCIDENT, missing])
    assert e.value.file == str(missing)
    assert isinstance(e.value, flowq.FlowqError)


def test_a_damaged_gzip_stream_raises_with_the_last_good_line(tmp_path):
    data = gzip.compress(INCIDENT.read_bytes() * 50)
    cut = tmp_path / "cut.ndjson.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(flowq.InputError) as e:
        quiet(flowq.flows, cut)
    assert e.value.file == str(cut)
    assert e.value.line is not None and e.value.line > 0


def test_an_undetectable_format_raises_and_format_can_be_forced(tmp_path):
    odd = tmp_path / "odd.json"
    odd.write_text('{"hello": "world"}\n')
    with pytest.raises(flowq.InputError, match="detect") as e:
        flowq.flows(odd)
    assert e.value.file == str(odd)
    with pytest.raises(flowq.InvalidValueError, match="format"):
        flowq.flows(odd, format="no-such-format")
    assert "hubble" in flowq.formats()


def test_a_bad_snapshot_raises_a_snapshot_error_with_its_file(tmp_path):
    bad = tmp_path / "cluster.json"
    bad.write_text("{not json")
    with pytest.raises(flowq.SnapshotError) as e:
        flowq.Snapshot(bad)
    assert e.value.file == str(bad)
    with pytest.raises(flowq.SnapshotError):
        flowq.denied(INCIDENT, snapshot=tmp_path / "absent.json")


def test_check_errors_say_what_is_wrong(snap):
    with pytest.raises(flowq.PolicyError, match="not in the snapshot"):
        flowq.check(snap, "customer1/nobody", "svc/vamp/elasticsearch", 9200)
    with pytest.raises(flowq.InvalidValueError, match="port"):
        flowq.check(snap, "customer1/release-agent-6c8f9b7d5-w4k2j", "svc/vamp/elasticsearch")
    with pytest.raises(flowq.InvalidValueError, match="protocol"):
        flowq.check(snap, "customer1/release-agent-6c8f9b7d5-w4k2j", "svc/vamp/elasticsearch", 9200, "TCPX")


@pytest.fixture
def damaged(tmp_path):
    """The incident with a truncated record as line 4."""
    lines = INCIDENT.read_text().splitlines()
    lines.insert(3, lines[3][:40])
    path = tmp_path / "damaged.ndjson"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_skipped_records_are_warned_about_and_in_the_report(snap, damaged):
    with pytest.warns(flowq.SkippedRecordsWarning, match=r"skipped 1 of 22 records .* line 4"):
        df = flowq.denied(damaged, snapshot=snap)
    assert df.height == 3
    assert df.report.skipped == 1
    assert df.report.records == 22
    assert df.report.inputs[0]["skips"][0]["line"] == 4
    assert "1 skipped" in str(df.report)


def test_strict_raises_on_the_first_skipped_record_with_its_file_and_line(damaged):
    with pytest.raises(flowq.SkippedRecordsError) as e:
        quiet(flowq.flows, damaged, strict=True)
    assert (e.value.file, e.value.line) == (str(damaged), 4)


def test_records_the_source_lost_are_warned_about():
    with pytest.warns(flowq.SkippedRecordsWarning, match="lost 12 events"):
        df = flowq.flows(INCIDENT)
    assert df.report.lost_by_source == 12


# --- Arrow, snapshots, the GIL --------------------------------------------------------------


def test_rows_cross_as_an_arrow_stream_any_arrow_library_reads(snap):
    pa = pytest.importorskip("pyarrow")
    from flowq import _native

    table, _report = _native.denied([str(INCIDENT)], snap._native)
    assert hasattr(table, "__arrow_c_stream__")
    read = pa.table(table)
    assert read.num_rows == len(table) == 3
    assert read.schema.field("first_seen").type == pa.timestamp("us", tz="UTC")
    assert read.schema.field("evaluation").metadata == {b"flowq.json": b"true"}
    # The table can be read again.
    assert pa.table(table).num_rows == 3


def test_a_snapshot_loads_once_and_serves_many_calls(snap):
    assert snap.sources == [str(VAMP)]
    assert snap.counts()["networkpolicies"] == 3
    both = flowq.Snapshot([VAMP, TESTDATA / "clusters" / "after-redeploy"])
    assert len(both.sources) == 2
    for _ in range(3):
        assert quiet(flowq.denied, INCIDENT, snapshot=snap).height == 3


def test_the_gil_is_released_while_rust_reads(tmp_path):
    big = tmp_path / "big.ndjson"
    lines = [l for l in INCIDENT.read_text().splitlines() if '"flow"' in l]
    big.write_text("\n".join(lines * 20000) + "\n")
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    try:
        time.sleep(0.01)
        start = time.perf_counter()
        df = flowq.denied(big)
        end = time.perf_counter()
    finally:
        stop.set()
        t.join()
    during = [x for x in ticks if start < x < end]
    assert df["count"].sum() > 0
    # With the GIL held the other thread could not run at all while Rust reads.
    assert len(during) >= 5, (len(during), end - start)


# --- a notebook ---------------------------------------------------------------------------


def test_the_notebook_examples_of_docs_python_md_run(monkeypatch, capsys):
    """Runs every ```python block of docs/python.md in order, in one namespace, from the
    repository root: the examples a notebook user copies must work as written."""
    text = (ROOT / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", flowq.SkippedRecordsWarning)
        for block in blocks:
            if "spark" in block:
                continue
            exec(compile(block, "docs/python.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "vamp/elasticsearch-ingress" in out
    assert "deny" in out
