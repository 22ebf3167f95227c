"""flowq on Apache Spark, for inputs larger than one machine.

The files are spread over the executors; each decodes and filters its files with flowq's
Rust reader inside ``mapInArrow``, joining addresses to identities with the snapshot (shipped
to every executor once), and returns partial denied-connection groups with the other ends'
reports, keyed by a digest of the connection. Spark routes every part of one connection to
one place, where the parts are merged and the connection is explained once against the
snapshot. The result has the rows of ``flowq denied -o json`` on the same files, in its
order. See docs/distributed.md.

>>> import flowq.spark
>>> df = flowq.spark.denied(spark, ["/data/hubble/*.json.gz"], snapshot="cluster.json")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import glob as _glob
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import json

from . import Report, _native, _warn
from . import _paths as _as_paths
from ._errors import InvalidValueError

__all__ = ["denied", "flows"]

Paths = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]

# Snapshots loaded in this worker process, by their specs: loaded once per Python worker,
# reused by every task it runs.
_LOADED: Dict[Tuple[str, ...], Any] = {}


def _ddl(columns: List[Tuple[str, str]]) -> str:
    return ", ".join(f"`{name}` {kind}" for name, kind in columns)


def _expand(paths: Paths) -> List[str]:
    """The files to read, in the order given (a glob expands in sorted order)."""
    out: List[str] = []
    for p in _as_paths(paths):
        if p.startswith("file://"):
            p = p[len("file://"):]
        if "://" in p:
            raise InvalidValueError(
                f"{p!r}: flowq.spark reads files every executor can open by path (a shared or "
                "mounted file system: NFS, /dbfs, gcsfuse, mountpoint-s3); copy or mount "
                "object-store paths first (docs/distributed.md)"
            )
        matched = sorted(_glob.glob(p)) if _glob.has_magic(p) else [p]
        if not matched:
            raise InvalidValueError(f"{p!r} matches no file")
        out.extend(matched)
    return out


def _ship_snapshot(spark: Any, snapshot: Any) -> Optional[List[str]]:
    """Ships the snapshot files to every executor (``SparkContext.addFile``) and returns how
    a worker names them (``NAME[@TIME]``); ``None`` without a snapshot."""
    if snapshot is None:
        return None
    from . import Snapshot

    if isinstance(snapshot, Snapshot):
        specs = list(snapshot._specs)
    else:
        specs = _as_paths(snapshot)
    # Loading it here first fails early, on the driver, with the file and the reason.
    Snapshot(specs)
    shipped = []
    for spec in specs:
        path, time = spec.rsplit("@", 1) if "@" in os.path.basename(spec) else (spec, "")
        spark.sparkContext.addFile(os.path.abspath(path), recursive=os.path.isdir(path))
        shipped.append(os.path.basename(os.path.normpath(path)) + (f"@{time}" if time else ""))
    return shipped


def _worker_snapshot(shipped: Optional[List[str]]) -> Any:
    if not shipped:
        return None
    key = tuple(shipped)
    if key not in _LOADED:
        from pyspark import SparkFiles

        specs = []
        for spec in shipped:
            name, _, time = spec.rpartition("@") if "@" in spec else (spec, "", "")
            specs.append(SparkFiles.get(name) + (f"@{time}" if time else ""))
        _LOADED[key] = _native.Snapshot(specs)
    return _LOADED[key]


def _resolve_times(filters: Dict[str, Any]) -> Dict[str, Any]:
    """``since``/``until`` given as durations ("30m") mean before now on the driver: resolved
    here, so every executor filters on the same instant."""
    out = dict(filters)
    now = _dt.datetime.now(_dt.timezone.utc)
    for key in ("since", "until"):
        value = out.get(key)
        if isinstance(value, str):
            text = value.strip()
            units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
            if text[:-1].isdigit() and text[-1:] in units:
                out[key] = (now - _dt.timedelta(seconds=int(text[:-1]) * units[text[-1]])).isoformat()
    return out


def _files_frame(spark: Any, files: List[str], partitions: Optional[int]):
    rows = [(i, f) for i, f in enumerate(files)]
    n = partitions or min(len(files), spark.sparkContext.defaultParallelism) or 1
    return spark.createDataFrame(rows, "order long, path string").repartition(n, "order")


def denied(
    spark: Any,
    paths: Paths,
    snapshot: Any = None,
    *,
    include_drops: bool = False,
    format: Optional[str] = None,
    strict: bool = False,
    partitions: Optional[int] = None,
    **filters: Any,
):
    """Denied connections over many files, on Spark: a ``pyspark.sql.DataFrame`` with the
    rows and order of ``flowq denied -o json`` (``evaluation`` as JSON text; parse it with
    ``from_json`` or read it back in Python).

    The files are read when this is called (the partial groups stay on the executors,
    persisted); skipped and lost records are warned about as :func:`flowq.denied` does and
    are in the ``report`` attribute of the result. An input that cannot be read fails the
    Spark job with flowq's error (``InputError: cannot read ...``).

    ``paths``: files or glob patterns every executor can open (a shared or mounted file
    system). ``snapshot``: a :class:`flowq.Snapshot` or path(s), shipped to every executor.
    ``partitions``: how many tasks read files (default: the cluster's parallelism). Filters
    as for :func:`flowq.denied`.
    """
    if "verdict" in filters:
        raise TypeError("unexpected keyword argument 'verdict': denied connections are denials")
    files = _expand(paths)
    shipped = _ship_snapshot(spark, snapshot)
    filters = _resolve_times(filters)
    # Bad filter values fail here, on the driver, before any task starts.
    _native.check_filters(filters, False, format)

    def read_shares(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        snap = _worker_snapshot(shipped)
        for batch in batches:
            orders = batch.column("order").to_pylist()
            files_ = batch.column("path").to_pylist()
            if not files_:
                continue
            table, report = _native.denied_shares(
                files_, orders, snap, filters, format, strict, include_drops
            )
            reader = pa.RecordBatchReader.from_stream(table)
            yield from reader
            # The files' accounting travels to the driver beside the parts.
            yield pa.RecordBatch.from_pydict(
                {"pair": [""], "kind": ["input"], "part": [json.dumps([orders, json.loads(report)])]},
                schema=reader.schema,
            )

    def merge(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        kinds: List[str] = []
        parts: List[str] = []
        for batch in batches:
            kinds.extend(batch.column("kind").to_pylist())
            parts.extend(batch.column("part").to_pylist())
        if not parts:
            return
        table = _native.denied_merge(kinds, parts, _worker_snapshot(shipped))
        yield from pa.RecordBatchReader.from_stream(table)

    from pyspark.sql import functions as F

    columns = _native.denied_merge_columns()
    # Reading happens now, as with flowq.denied: the parts are kept on the executors and the
    # files' accounting comes back, so skipped records are reported like the CLI does.
    shares = (
        _files_frame(spark, files, partitions)
        .mapInArrow(read_shares, "pair string, kind string, part string")
        .persist()
    )
    report = _collect_report(shares.filter(F.col("kind") == "input").select("part").collect())
    parts = shares.filter(F.col("kind") != "input")
    merged = parts.repartition(max(1, spark.sparkContext.defaultParallelism), "pair").mapInArrow(
        merge, _ddl(columns)
    )

    order = [
        F.col("_order_count").desc(),
        F.col("_order_first").asc_nulls_first(),
        F.col("_order_src").asc(),
        F.col("_order_dst").asc(),
        F.col("_order_port").asc_nulls_first(),
        F.col("_order_protocol").asc(),
        F.col("_order_action").asc(),
        F.col("_order_direction").asc(),
        F.col("_order_node").asc_nulls_first(),
    ]
    visible = [name for name, _ in columns if not name.startswith("_order_")]
    result = merged.orderBy(*order).select(*visible)
    result.report = report
    return result


def _collect_report(rows: List[Any]) -> Report:
    """The files' reports in input order, with the warnings flowq.denied gives."""
    reports = []
    for row in rows:
        orders, inputs = json.loads(row.part)
        reports.extend(zip(orders, inputs))
    report = Report([r for _, r in sorted(reports, key=lambda x: x[0])])
    _warn(report, stacklevel=4)
    return report


def flows(
    spark: Any,
    paths: Paths,
    snapshot: Any = None,
    *,
    format: Optional[str] = None,
    strict: bool = False,
    partitions: Optional[int] = None,
    **filters: Any,
):
    """Every flow record passing the filters, on Spark: a ``pyspark.sql.DataFrame`` with
    the rows and column types of ``flowq flows -o parquet`` (order by ``input`` and ``line``
    for the CLI's order). Arguments as for :func:`denied`, filters as for :func:`flowq.flows`.
    """
    files = _expand(paths)
    shipped = _ship_snapshot(spark, snapshot)
    filters = _resolve_times(filters)
    # Bad filter values fail here, on the driver, before any task starts.
    _native.check_filters(filters, True, format)
    columns = _native.flow_columns()
    accumulator = spark.sparkContext.accumulator({}, _ReportsParam())

    def read(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        snap = _worker_snapshot(shipped)
        for batch in batches:
            for order, path in zip(batch.column("order").to_pylist(), batch.column("path").to_pylist()):
                table, report = _native.flows([path], snap, filters, format, strict)
                accumulator.add({order: json.loads(report)})
                yield from pa.RecordBatchReader.from_stream(table)

    result = _files_frame(spark, files, partitions).mapInArrow(read, _ddl(columns))
    result.report = _AccumulatedReport(accumulator)
    return result


class _ReportsParam:
    """Spark accumulator of the files' reports by their place in input order (a file read
    again by a second action replaces its report rather than adding to it)."""

    def zero(self, value: Dict[int, Any]) -> Dict[int, Any]:
        return {}

    def addInPlace(self, a: Dict[int, Any], b: Dict[int, Any]) -> Dict[int, Any]:
        a.update(b)
        return a


class _AccumulatedReport(Report):
    """The report of :func:`flows` on Spark: filled in as Spark actions read the files."""

    def __init__(self, accumulator: Any) -> None:
        self._accumulator = accumulator

    @property
    def inputs(self) -> List[Dict[str, Any]]:  # type: ignore[override]
        value = self._accumulator.value
        return [r for order in sorted(value) for r in value[order]]
