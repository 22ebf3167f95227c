"""flowq on Apache Spark, for inputs larger than one machine.

Spark reads the files — any path it reads: local, ``file://``, ``hdfs://``, ``gs://``,
``s3a://``, ``abfss://`` — and hands their bytes to flowq's Rust reader inside
``mapInArrow``, so executors need no shared file system. Small files and files that cannot be
cut (gzip, JSON documents, records that span lines, Hubble's related reports of one packet) are
read whole (Spark's ``binaryFile``); a large file of records one per line is cut into byte
ranges at line boundaries (Spark's
line reader: a range starts after the first newline at or after its start and runs through
the line that crosses its end), each range read on its own. Each share returns partial
denied-connection groups with the other ends' reports, keyed by a digest of the connection,
and what it saw of each 5-tuple without a verdict; Spark routes every part of one
connection (and of one 5-tuple and its reverse) to one place, where the parts are merged and
the connection is explained once against the snapshot (shipped to every executor once). The
result has the rows of ``flowq denied -o json`` on the same files, in its order. Skips,
losses and errors are reported on the driver, with each file's own line numbers. See
docs/distributed.md.

>>> import flowq.spark
>>> df = flowq.spark.denied(spark, ["gs://logs/hubble/*.json.gz"], snapshot="cluster.json")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union
from urllib.parse import unquote

from . import Report, _native, _warn
from . import _paths as _as_paths
from ._errors import FlowqError, InputError, InvalidValueError
from . import _errors

__all__ = ["denied", "flows", "top"]

Paths = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]

# Snapshots loaded in this worker process, by their specs: loaded once per Python worker,
# reused by every task it runs.
_LOADED: Dict[Tuple[str, ...], Any] = {}

#: Files larger than this are cut into byte ranges of about this size when their records
#: allow it (Spark's ``spark.sql.files.maxPartitionBytes`` default).
RANGE_BYTES = 128 * 1024 * 1024

# How many bytes of a large file are looked at to decide whether it can be cut.
_HEAD_BYTES = 256 * 1024

# A share's place in input order: the file's place, shifted, plus the range's first byte.
_ORDER_SHIFT = 40

# Extensions Hadoop decompresses by name when reading lines: such files are read whole.
_COMPRESSED = (".gz", ".bz2", ".deflate", ".lz4", ".snappy", ".zst", ".zstd", ".xz", ".br")

# How many skipped records a report keeps as examples (netflow-core's default).
_SKIP_EXAMPLES = 1000

# The parts every share returns: routing key, kind, and the part (JSON).
_PARTS = "pair string, kind string, part string"


def _ddl(columns: List[Tuple[str, str]]) -> str:
    return ", ".join(f"`{name}` {kind}" for name, kind in columns)


def _norm(uri: str) -> str:
    """One spelling of a file's URI, for matching Hadoop's and Spark's names of it
    (``file:/x``, ``file:///x`` and ``/x`` are the same local file)."""
    uri = unquote(uri)
    if uri.startswith("file:"):
        return "/" + uri[len("file:"):].lstrip("/")
    if "://" not in uri and uri.startswith("/"):
        return uri
    return uri


@dataclass
class _File:
    """One input file: its place in input order, its URI, the name messages and rows give
    it, its length, and the format to read it in byte ranges with (``None``: read whole)."""

    order: int
    uri: str
    name: str
    length: int
    split_as: Optional[str] = None


def _java_error(e: Exception) -> str:
    """The Java exception's own message, without py4j's trace."""
    java = getattr(e, "java_exception", None)
    if java is not None:
        try:
            return str(java.toString())
        except Exception:  # pragma: no cover - the JVM went away
            pass
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _list_files(spark: Any, paths: Paths) -> List[_File]:
    """The files to read, in the order given (a glob or a folder lists in sorted order),
    found with Hadoop's file system for each path's scheme, as Spark would."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    files: List[_File] = []
    for given in _as_paths(paths):
        try:
            path = jvm.org.apache.hadoop.fs.Path(given)
            fs = path.getFileSystem(conf)
            statuses = fs.globStatus(path)
        except Exception as e:
            err = InputError(f"cannot read {given!r}: {_java_error(e)}")
            err.file = given
            raise err from None
        glob = any(c in given for c in "*?[{")
        if statuses is None or len(statuses) == 0:
            if glob:
                raise InvalidValueError(f"{given!r} matches no file")
            err = InputError(f"cannot read {given!r}: no such file or directory")
            err.file = given
            raise err
        found: List[Tuple[str, int]] = []
        for status in statuses:
            if status.isDirectory():
                listed = fs.listFiles(status.getPath(), True)
                while listed.hasNext():
                    f = listed.next()
                    base = f.getPath().getName()
                    if not base.startswith((".", "_")):
                        found.append((f.getPath().toString(), f.getLen()))
            else:
                found.append((status.getPath().toString(), status.getLen()))
        found.sort()
        single = not glob and len(found) == 1 and not statuses[0].isDirectory()
        for uri, length in found:
            local = uri.startswith("file:")
            name = given if single else (_norm(uri) if local else uri)
            files.append(_File(len(files), uri, name, length))
    return files


def _plan(spark: Any, files: List[_File], range_bytes: int, format: Optional[str]) -> None:
    """Decides which large files are read in byte ranges: those whose first bytes show
    records one per line that read on their own (uncompressed, no document)."""
    if range_bytes <= 0:
        return
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    for f in files:
        if f.length <= range_bytes or f.uri.lower().endswith(_COMPRESSED):
            continue
        try:
            path = jvm.org.apache.hadoop.fs.Path(f.uri)
            stream = path.getFileSystem(conf).open(path)
            try:
                head = bytes(stream.readNBytes(_HEAD_BYTES))
            finally:
                stream.close()
        except Exception as e:
            err = InputError(f"cannot read {f.name!r}: {_java_error(e)}")
            err.file = f.name
            raise err from None
        f.split_as = _native.splittable(head, format)


def _local_snapshot(spark: Any, path: str) -> str:
    """A local path for a snapshot file or folder given as any path Spark reads: local paths
    and ``file:`` URIs as they are, others (``gs://``, ``s3a://``, ``hdfs://``) copied to a
    temporary folder on the driver with Hadoop's file system."""
    if path.startswith("file:"):
        return _norm(path)
    if "://" not in path:
        return path
    import tempfile

    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    local = os.path.join(tempfile.mkdtemp(prefix="flowq-snapshot-"), os.path.basename(path.rstrip("/")))
    try:
        source = jvm.org.apache.hadoop.fs.Path(path)
        source.getFileSystem(conf).copyToLocalFile(
            False, source, jvm.org.apache.hadoop.fs.Path("file://" + local), True
        )
    except Exception as e:
        err = _errors.SnapshotError(f"cannot load snapshot {path!r}: {_java_error(e)}")
        err.file = path
        raise err from None
    return local


def _ship_snapshot(spark: Any, snapshot: Any) -> Optional[List[str]]:
    """Ships the snapshot files to every executor (``SparkContext.addFile``) and returns how
    a worker names them (``NAME[@TIME]``); ``None`` without a snapshot. A snapshot path may
    be anything Spark reads (fetched to the driver first)."""
    if snapshot is None:
        return None
    from . import Snapshot

    if isinstance(snapshot, Snapshot):
        specs = list(snapshot._specs)
    else:
        specs = []
        for spec in _as_paths(snapshot):
            path, time = spec.rsplit("@", 1) if "@" in spec.rsplit("/", 1)[-1] else (spec, "")
            specs.append(_local_snapshot(spark, path) + (f"@{time}" if time else ""))
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


class _RangeConf:
    """Spark cuts files into ranges of ``range_bytes`` while this is in force (the
    session's ``spark.sql.files.maxPartitionBytes``, restored after)."""

    KEY = "spark.sql.files.maxPartitionBytes"

    def __init__(self, spark: Any, range_bytes: int) -> None:
        self.spark, self.range_bytes = spark, range_bytes

    def __enter__(self) -> None:
        self.before = self.spark.conf.get(self.KEY, None)
        if self.range_bytes > 0:
            self.spark.conf.set(self.KEY, str(self.range_bytes))

    def __exit__(self, *exc: Any) -> None:
        if self.before is None:
            self.spark.conf.unset(self.KEY)
        else:
            self.spark.conf.set(self.KEY, self.before)


def _shares(spark: Any, files: List[_File], read_one: Any):
    """A DataFrame of every share's parts (``pair``, ``kind``, ``part``): whole files read
    with ``binaryFile``, the others in Spark's line ranges, each share handed to
    ``read_one(name, order, data, format, part)`` (which returns an Arrow stream of parts
    and the share's report as JSON; ``part``: the bytes are a byte range of the file) on an
    executor. Each share adds an ``input`` part (its report,
    its file, first byte and lines) or, when flowq could not read it, an ``error`` part."""
    from pyspark.sql import functions as F

    by_uri = {_norm(f.uri): (f.order, f.name, f.split_as) for f in files}

    def share(name: str, order: int, data: bytes, fmt: Optional[str], file: int, start: int, lines: int):
        import pyarrow as pa

        schema = pa.schema([("pair", pa.string()), ("kind", pa.string()), ("part", pa.string())])
        try:
            stream, report = read_one(name, order, data, fmt, lines > 0)
            reader = pa.RecordBatchReader.from_stream(stream)
            # Spark wants the schema it was told, nullability included.
            batches = [b.cast(schema) for b in reader]
        except FlowqError as e:
            error = {
                "file": file,
                "start": start,
                "lines": lines,
                "class": type(e).__name__,
                "message": str(e),
                "at": getattr(e, "file", None),
                "line": getattr(e, "line", None),
            }
            yield pa.RecordBatch.from_pydict(
                {"pair": [""], "kind": ["error"], "part": [json.dumps(error)]}, schema=schema
            )
            return
        yield from batches
        accounting = {"file": file, "start": start, "lines": lines, "reports": json.loads(report)}
        yield pa.RecordBatch.from_pydict(
            {"pair": [""], "kind": ["input"], "part": [json.dumps(accounting)]}, schema=schema
        )

    def whole(batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            uris = batch.column("path").to_pylist()
            contents = batch.column("content")
            for i, uri in enumerate(uris):
                order, name, _ = by_uri[_norm(uri)]
                data = contents[i].as_py() or b""
                yield from share(name, order << _ORDER_SHIFT, data, None, order, 0, 0)

    def ranges(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.compute as pc

        pending: List[Any] = []
        key: Optional[Tuple[str, int]] = None

        def flush() -> Iterator[Any]:
            if key is None or not pending:
                return
            values = pa.concat_arrays(pending)
            lines = len(values)
            lists = pa.ListArray.from_arrays(pa.array([0, lines], pa.int32()), values)
            data = pc.binary_join(lists, b"\n")[0].as_py() + b"\n"
            order, name, fmt = by_uri[_norm(key[0])]
            yield from share(name, (order << _ORDER_SHIFT) + key[1], data, fmt, order, key[1], lines)

        for batch in batches:
            paths = batch.column("file").to_pylist()
            starts = batch.column("start").to_pylist()
            values = batch.column("value")
            run = 0
            for i in range(1, len(paths) + 1):
                if i == len(paths) or (paths[i], starts[i]) != (paths[run], starts[run]):
                    here = (paths[run], starts[run])
                    if here != key:
                        yield from flush()
                        pending, key = [], here
                    pending.append(values.slice(run, i - run))
                    run = i
        yield from flush()

    frames = []
    whole_files = [f.uri for f in files if not f.split_as]
    if whole_files:
        read = spark.read.format("binaryFile").load(whole_files).select("path", "content")
        frames.append(read.mapInArrow(whole, _PARTS))
    split_files = [f.uri for f in files if f.split_as]
    if split_files:
        read = spark.read.text(split_files).select(
            F.col("value").cast("binary").alias("value"),
            F.col("_metadata.file_path").alias("file"),
            F.col("_metadata.file_block_start").alias("start"),
        )
        frames.append(read.mapInArrow(ranges, _PARTS))
    out = frames[0]
    for other in frames[1:]:
        out = out.unionByName(other)
    return out


def _settle(rows: List[Any], files: List[_File], stacklevel: int) -> Report:
    """The shares' accounting, on the driver: ranges' line numbers made the file's own,
    each file's ranges summed into one report; the first share flowq could not read raises
    its error (the right :class:`FlowqError` subclass, with the file and line); skipped and
    lost records are warned about as :func:`flowq.denied` does."""
    accounts = [json.loads(r.part) | {"kind": r.kind} for r in rows]
    lines: Dict[int, List[Tuple[int, int]]] = {}
    for a in accounts:
        lines.setdefault(a["file"], []).append((a["start"], a["lines"]))
    before: Dict[Tuple[int, int], int] = {}
    for file, ranges in lines.items():
        total = 0
        for start, n in sorted(ranges):
            before[(file, start)] = total
            total += n
    errors = sorted((a for a in accounts if a["kind"] == "error"), key=lambda a: (a["file"], a["start"]))
    if errors:
        e = errors[0]
        cls = getattr(_errors, e["class"], FlowqError)
        shift = before[(e["file"], e["start"])]
        line = e["line"] + shift if e["line"] is not None else None
        message = e["message"]
        if e["lines"]:
            # Read from a byte range: its first line number is the file's own, and its
            # counts are the range's.
            if e["line"] is not None:
                message = message.replace(f"line {e['line']}", f"line {line}", 1)
            message = message.replace(" records in ", " records in a byte range of ", 1)
        err = cls(message)
        err.file = e["at"] if e["at"] is not None else files[e["file"]].name
        err.line = line
        raise err
    by_file: Dict[int, List[Tuple[int, Dict[str, Any]]]] = {}
    for a in accounts:
        for r in a["reports"]:
            by_file.setdefault(a["file"], []).append((a["start"], _shifted(r, before[(a["file"], a["start"])])))
    report = Report([_summed([r for _, r in sorted(by_file[f], key=lambda x: x[0])]) for f in sorted(by_file)])
    _warn(report, stacklevel=stacklevel)
    return report


def _shifted(report: Dict[str, Any], lines: int) -> Dict[str, Any]:
    """A range's report with its line numbers made the file's own (`lines` before it)."""
    if lines:
        report = dict(report)
        report["skips"] = [dict(s, line=s["line"] + lines) for s in report.get("skips") or []]
        if report.get("last_line"):
            report["last_line"] += lines
    return report


def _summed(parts: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The reports of one file's ranges (in file order) as one."""
    out = dict(parts[0])
    for r in parts[1:]:
        for key, value in r.items():
            if isinstance(value, bool) or key in ("input", "format", "detected_because", "framing"):
                continue
            if isinstance(value, int):
                out[key] = (out.get(key) or 0) + value if key != "last_line" else max(out.get(key) or 0, value)
            elif isinstance(value, dict):
                merged = dict(out.get(key) or {})
                for k, v in value.items():
                    merged[k] = merged.get(k, 0) + v
                out[key] = merged
            elif key == "skips":
                # As one reading keeps them: the first ones, in line order.
                out[key] = ((out.get(key) or []) + value)[:_SKIP_EXAMPLES]
            elif key == "first_time" and value and (not out.get(key) or value < out[key]):
                out[key] = value
            elif key == "last_time" and value and (not out.get(key) or value > out[key]):
                out[key] = value
            elif key == "failure" and value and not out.get(key):
                out[key] = value
    return out


def _read(spark: Any, paths: Paths, range_bytes: Optional[int], format: Optional[str]) -> List[_File]:
    files = _list_files(spark, paths)
    _plan(spark, files, RANGE_BYTES if range_bytes is None else range_bytes, format)
    return files


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


def _merge_partitions(spark: Any, partitions: Optional[int]) -> int:
    return max(1, partitions or spark.sparkContext.defaultParallelism)


def denied(
    spark: Any,
    paths: Paths,
    snapshot: Any = None,
    *,
    include_drops: bool = False,
    unanswered: bool = True,
    reply_window: int = 60,
    format: Optional[str] = None,
    strict: bool = False,
    partitions: Optional[int] = None,
    range_bytes: Optional[int] = None,
    **filters: Any,
):
    """Denied connections over many files, on Spark: a ``pyspark.sql.DataFrame`` with the
    rows and order of ``flowq denied -o json`` (``evaluation`` as JSON text; parse it with
    ``from_json`` or read it back in Python).

    With a snapshot, as ``flowq denied --snapshot`` does, requests of logs without verdicts
    (GKE VPC Flow Logs) that the policies deny are listed as computed denials, and requests
    nobody answered within ``reply_window`` seconds as possibly denied (``unanswered=False``
    leaves those out): the parts of a 5-tuple and its reply from any file meet in one place.

    The files are read when this is called (the partial groups stay on the executors,
    persisted); skipped and lost records are warned about as :func:`flowq.denied` does and
    are in the ``report`` attribute of the result, with each file's own line numbers. A
    file flowq cannot read raises its :class:`flowq.FlowqError` subclass (``InputError``,
    ...) here, on the driver, with the file and line.

    ``paths``: files, folders or glob patterns in any file system Spark reads (local,
    ``file://``, ``hdfs://``, ``gs://``, ``s3a://``). ``snapshot``: a
    :class:`flowq.Snapshot` or path(s) (local, or anything Spark reads: fetched to the
    driver), shipped to every executor. ``range_bytes``:
    files larger than this whose records are one per line are read in byte ranges of about
    this size (default :data:`RANGE_BYTES`; 0 reads every file whole). ``partitions``: how
    many tasks merge the parts (default: the cluster's parallelism). Filters as for
    :func:`flowq.denied`.
    """
    if "verdict" in filters:
        raise TypeError("unexpected keyword argument 'verdict': denied connections are denials")
    files = _read(spark, paths, range_bytes, format)
    shipped = _ship_snapshot(spark, snapshot)
    filters = _resolve_times(filters)
    # Bad filter values fail here, on the driver, before any task starts.
    _native.check_filters(filters, False, format)

    def read_one(name: str, order: int, data: bytes, fmt: Optional[str], part: bool):
        return _native.denied_shares(
            [name],
            [order],
            _worker_snapshot(shipped),
            filters,
            format or fmt,
            strict,
            include_drops,
            [data],
            unanswered,
            reply_window,
            part,
        )

    def tuples(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        parts: List[str] = []
        for batch in batches:
            parts.extend(batch.column("part").to_pylist())
        if parts:
            table = _native.unanswered_merge(parts, _worker_snapshot(shipped), reply_window)
            yield from pa.RecordBatchReader.from_stream(table)

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
    n = _merge_partitions(spark, partitions)
    # Reading happens now, as with flowq.denied: the parts are kept on the executors and the
    # files' accounting (or what stopped a file) comes back to the driver.
    with _RangeConf(spark, RANGE_BYTES if range_bytes is None else range_bytes):
        shares = _shares(spark, files, read_one).persist()
        accounting = shares.filter(F.col("kind").isin("input", "error")).collect()
    try:
        report = _settle(accounting, files, stacklevel=4)
    except FlowqError:
        shares.unpersist()
        raise
    groups = shares.filter(F.col("kind").isin("group", "report"))
    found = (
        shares.filter(F.col("kind") == "tuple")
        .repartition(n, "pair")
        .mapInArrow(tuples, _PARTS)
    )
    merged = groups.unionByName(found).repartition(n, "pair").mapInArrow(merge, _ddl(columns))

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


def top(
    spark: Any,
    paths: Paths,
    by: Union[str, Sequence[str]] = ("src_namespace", "src_workload", "dst_namespace", "dst_workload", "dst_port"),
    verdict: Union[str, Sequence[str], None] = None,
    k: int = 10,
    bucket: Optional[str] = None,
    snapshot: Any = None,
    *,
    include_replies: bool = False,
    format: Optional[str] = None,
    strict: bool = False,
    partitions: Optional[int] = None,
    range_bytes: Optional[int] = None,
    **filters: Any,
):
    """Flows grouped and ranked over many files, on Spark: a ``pyspark.sql.DataFrame`` with
    the rows and order of ``flowq top -o json`` (arguments as for :func:`flowq.top`).

    Each share counts its groups with their distinct peers; the parts of a group (all its
    time buckets when bucketed) meet in one place and are summed there, each place hands on
    the ``k`` groups it ranks first, and the driver ranks those: exactly what one reading
    ranks. Files are read as :func:`denied` reads them (``range_bytes``, errors and the
    ``report`` attribute likewise).
    """
    if isinstance(by, str):
        by = [b.strip() for b in by.split(",") if b.strip()]
    by = list(by)
    if verdict is not None:
        filters["verdict"] = verdict
    files = _read(spark, paths, range_bytes, format)
    shipped = _ship_snapshot(spark, snapshot)
    filters = _resolve_times(filters)
    _native.check_filters(filters, True, format)
    # A bad column or bucket fails here, before any task starts.
    _native.top_candidates([], by, k, bucket, include_replies)

    def read_one(name: str, order: int, data: bytes, fmt: Optional[str], part: bool):
        return _native.top_shares(
            [name], by, k, bucket, include_replies, _worker_snapshot(shipped), filters,
            format or fmt, strict, [data], part,
        )

    def candidates(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        parts: List[str] = []
        for batch in batches:
            parts.extend(batch.column("part").to_pylist())
        if parts:
            table = _native.top_candidates(parts, by, k, bucket, include_replies)
            yield from pa.RecordBatchReader.from_stream(table)

    from pyspark.sql import functions as F
    import pyarrow as pa

    n = _merge_partitions(spark, partitions)
    with _RangeConf(spark, RANGE_BYTES if range_bytes is None else range_bytes):
        shares = _shares(spark, files, read_one).persist()
        accounting = shares.filter(F.col("kind").isin("input", "error")).collect()
    try:
        report = _settle(accounting, files, stacklevel=4)
        kept = (
            shares.filter(F.col("kind") == "group")
            .repartition(n, "pair")
            .mapInArrow(candidates, _PARTS)
            .select("part")
            .collect()
        )
    finally:
        shares.unpersist()
    table = pa.table(_native.top_finish([r.part for r in kept], by, k, bucket, include_replies))
    result = spark.createDataFrame(table)
    result.report = report
    return result


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

    Lazy, as Spark DataFrames are: the files are read by the actions on the result, each
    file whole (its ``line`` column is the file's own; a file above 2 GiB cannot be read
    whole by Spark: split it, or use :func:`denied`/:func:`top`, which read byte ranges).
    The ``report`` attribute fills in as actions read the files; a file flowq cannot read
    fails the action with flowq's message. ``partitions``: spread the files' bytes over this
    many tasks before decoding (default: as Spark packs the files, by size).
    """
    files = _read(spark, paths, 0, format)
    shipped = _ship_snapshot(spark, snapshot)
    filters = _resolve_times(filters)
    # Bad filter values fail here, on the driver, before any task starts.
    _native.check_filters(filters, True, format)
    columns = _native.flow_columns()
    accumulator = spark.sparkContext.accumulator({}, _ReportsParam())
    by_uri = {_norm(f.uri): (f.order, f.name) for f in files}

    def read(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        snap = _worker_snapshot(shipped)
        for batch in batches:
            contents = batch.column("content")
            for i, uri in enumerate(batch.column("path").to_pylist()):
                order, name = by_uri[_norm(uri)]
                data = contents[i].as_py() or b""
                table, report = _native.flows([name], snap, filters, format, strict, [data])
                accumulator.add({order: json.loads(report)})
                yield from pa.RecordBatchReader.from_stream(table)

    source = spark.read.format("binaryFile").load([f.uri for f in files]).select("path", "content")
    if partitions:
        source = source.repartition(partitions)
    result = source.mapInArrow(read, _ddl(columns))
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
