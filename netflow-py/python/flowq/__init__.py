"""flowq for Python: which connection was denied, where, and why — from Kubernetes network
flow logs (Cilium Hubble, Calico, GKE VPC Flow Logs, GKE Dataplane V2 policy logs).

Every function reads with flowq's Rust pipeline (netflow-core) with the GIL released and
returns a :class:`polars.DataFrame` whose rows and column types are those of the CLI
(``flowq flows -o parquet``, ``flowq denied -o json``, ``flowq top``); the data crosses as
Arrow (the PyCapsule interface), never as JSON.

>>> import flowq
>>> snap = flowq.Snapshot("testdata/clusters/vamp.json")             # doctest: +SKIP
>>> flowq.denied(["flows.json.gz"], snapshot=snap, dst_port=9200)    # doctest: +SKIP

Filters are keyword arguments with the CLI's names (``dst_port=9200``,
``to_namespace="vamp"``, ``since="30m"``); a list of values ORs them, different filters AND.
Skipped records are reported as a :class:`SkippedRecordsWarning` (``strict=True`` raises
:class:`SkippedRecordsError` instead) and in the ``report`` attribute of the returned frame.
Errors are :class:`FlowqError` subclasses carrying ``file`` and ``line``.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import polars as pl

from . import _native
from ._errors import (
    FlowqError,
    InputError,
    InvalidValueError,
    PolicyError,
    SkippedRecordsError,
    SkippedRecordsWarning,
    SnapshotError,
)

__version__: str = _native.__version__

__all__ = [
    "Snapshot",
    "Report",
    "flows",
    "denied",
    "top",
    "check",
    "inspect",
    "groupable_columns",
    "formats",
    "FlowqError",
    "InputError",
    "InvalidValueError",
    "PolicyError",
    "SkippedRecordsError",
    "SkippedRecordsWarning",
    "SnapshotError",
]

PathLike = Union[str, "os.PathLike[str]"]
Paths = Union[PathLike, Sequence[PathLike]]


def _paths(paths: Paths) -> List[str]:
    """One path or several, as text (``os.fspath``)."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    out = []
    for p in paths:
        p = os.fspath(p)
        if isinstance(p, bytes):
            p = os.fsdecode(p)
        out.append(p)
    return out


class Snapshot:
    """Cluster snapshots, loaded once and reused by any number of calls.

    ``path_or_paths`` is a file (``kubectl get namespaces,pods,services,endpointslices,nodes,
    networkpolicies -A -o json``, JSON or YAML, gzip or not), a folder of manifests, or a list
    of them taken at different times (``"before.json@2026-11-20T19:00:00Z"``): each flow is
    joined to the snapshot in force at its time.
    """

    __slots__ = ("_native", "_specs")

    def __init__(self, path_or_paths: Paths) -> None:
        self._specs = _paths(path_or_paths)
        self._native = _native.Snapshot(self._specs)

    @property
    def sources(self) -> List[str]:
        """Where each snapshot was loaded from, oldest first."""
        return self._native.sources

    @property
    def taken_at(self) -> list:
        """When each snapshot was taken (UTC datetimes, ``None`` when unknown)."""
        return self._native.taken_at

    def counts(self) -> Dict[str, int]:
        """What the newest snapshot holds: namespaces, pods, services, endpointslices,
        nodes and networkpolicies."""
        return dict(self._native.counts())

    def __repr__(self) -> str:
        return f"flowq.Snapshot({self.sources!r})"


SnapshotArg = Union[Snapshot, Paths, None]


def _snapshot(snapshot: SnapshotArg) -> Optional[Any]:
    if snapshot is None:
        return None
    if isinstance(snapshot, Snapshot):
        return snapshot._native
    return Snapshot(snapshot)._native


@dataclass
class Report:
    """What reading gave besides the rows: one entry per input, as ``flowq inspect`` and the
    CLI's warnings tell it (``input``, ``format``, ``records``, ``flows``, ``skipped``,
    ``skips`` with ``line`` and ``cause``, ``lost_by_source``, ``duplicates``, ...)."""

    inputs: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def records(self) -> int:
        """Records read over all inputs."""
        return sum(r.get("records", 0) for r in self.inputs)

    @property
    def skipped(self) -> int:
        """Records skipped as unusable over all inputs."""
        return sum(r.get("skipped", 0) for r in self.inputs)

    @property
    def lost_by_source(self) -> int:
        """Events the sources themselves say they lost."""
        return sum(sum(r.get("lost_by_source", {}).values()) for r in self.inputs)

    def __str__(self) -> str:
        n = len(self.inputs)
        return (
            f"in {n} file{'' if n == 1 else 's'}; {self.records} records read, "
            f"{self.skipped} skipped"
            + (f", {self.lost_by_source} lost by the source" if self.lost_by_source else "")
        )


def _report(text: str, stacklevel: int = 3) -> Report:
    """The report of a read, warning about skipped and lost records as the CLI does."""
    report = Report(json.loads(text))
    _warn(report, stacklevel + 1)
    return report


def _warn(report: Report, stacklevel: int) -> None:
    """Warns about what the report says was skipped or lost, one warning per input."""
    for r in report.inputs:
        if r.get("skipped"):
            first = (r.get("skips") or [{}])[0]
            warnings.warn(
                SkippedRecordsWarning(
                    f"skipped {r['skipped']} of {r['records']} records in {r['input']!r}"
                    f" (first at line {first.get('line')}: {first.get('cause')}); "
                    "pass strict=True to fail"
                ),
                stacklevel=stacklevel,
            )
        for source, lost in (r.get("lost_by_source") or {}).items():
            warnings.warn(
                SkippedRecordsWarning(
                    f"{r['input']!r}: the source itself lost {lost} events ({source}): "
                    "the log is incomplete there"
                ),
                stacklevel=stacklevel,
            )


def _frame(table: Any, report: Optional[Report] = None) -> pl.DataFrame:
    """The Arrow table as a polars DataFrame; JSON columns become structs."""
    df = pl.DataFrame(table)
    for name in table.json_columns:
        if df.height and df[name].null_count() < df.height:
            df = df.with_columns(df[name].str.json_decode(infer_schema_length=None))
    if report is not None:
        df.report = report  # type: ignore[attr-defined]
    return df


def flows(
    paths: Paths,
    snapshot: SnapshotArg = None,
    *,
    format: Optional[str] = None,
    strict: bool = False,
    **filters: Any,
) -> pl.DataFrame:
    """Every flow record passing the filters: the rows and column types of
    ``flowq flows -o parquet`` (``time`` is a UTC timestamp, ports Int32, counts Int64,
    ``policies`` a list of text), joined to identities when a snapshot is given.

    ``paths``: one or more flow logs (str or ``os.PathLike``, gzip or not; the format is
    detected per file, or forced with ``format``). ``snapshot``: a :class:`Snapshot` or the
    path(s) to load one from. ``filters``: ``namespace``, ``from_namespace``,
    ``to_namespace``, ``from_pod``, ``to_pod``, ``ip``, ``from_ip``, ``to_ip``, ``dst_port``,
    ``protocol``, ``from_label``, ``to_label``, ``node``, ``verdict``, ``since``, ``until``
    (each a value or a list of values).
    """
    table, report = _native.flows(_paths(paths), _snapshot(snapshot), filters, format, strict)
    return _frame(table, _report(report))


def denied(
    paths: Paths,
    snapshot: SnapshotArg = None,
    *,
    include_drops: bool = False,
    unanswered: bool = True,
    reply_window: int = 60,
    format: Optional[str] = None,
    strict: bool = False,
    **filters: Any,
) -> pl.DataFrame:
    """Denied connections, one row per source → destination:port at one enforcing side and
    node: the rows of ``flowq denied -o json``, in its order (most attempts first), with
    the other end's reports and, with a snapshot, the WHY — ``explanation`` as text and
    ``evaluation`` as a struct column (the ``flowq check -o json`` object).

    ``include_drops`` counts datapath drops as denials; ``unanswered`` (on, as in the CLI)
    flags requests with no reply within ``reply_window`` seconds in logs without verdicts (VPC
    Flow Logs), and with a snapshot those the policies deny are listed as computed. Filters
    as for :func:`flows`, without ``verdict``.
    """
    table, report = _native.denied(
        _paths(paths),
        _snapshot(snapshot),
        filters,
        format,
        strict,
        include_drops,
        unanswered,
        reply_window,
    )
    return _frame(table, _report(report))


def top(
    paths: Paths,
    by: Union[str, Sequence[str]] = ("src_namespace", "src_workload", "dst_namespace", "dst_workload", "dst_port"),
    verdict: Union[str, Sequence[str], None] = None,
    k: int = 10,
    bucket: Optional[str] = None,
    snapshot: SnapshotArg = None,
    *,
    include_replies: bool = False,
    format: Optional[str] = None,
    strict: bool = False,
    **filters: Any,
) -> pl.DataFrame:
    """Flows grouped by the ``by`` columns (any of :func:`groupable_columns`; with a
    ``bucket`` width such as ``"5m"`` also per time bucket), ranked by attempts, with bytes,
    packets and distinct peers: the rows of ``flowq top -o json``. ``k`` keeps the largest
    groups (0 keeps all); ``verdict`` filters on what the log says (``"denied"``).
    """
    if isinstance(by, str):
        by = [b.strip() for b in by.split(",") if b.strip()]
    if verdict is not None:
        filters["verdict"] = verdict
    table, report = _native.top(
        _paths(paths),
        list(by),
        k,
        bucket,
        include_replies,
        _snapshot(snapshot),
        filters,
        format,
        strict,
    )
    return _frame(table, _report(report))


def check(
    snapshot: SnapshotArg,
    src: str,
    dst: str,
    port: Optional[int] = None,
    protocol: str = "TCP",
    *,
    at: Optional[str] = None,
) -> Dict[str, Any]:
    """Would ``src`` → ``dst`` on ``port`` be allowed by the snapshot's NetworkPolicies, and
    why not? Returns the ``flowq check -o json`` object: ``verdict`` (``allow``/``deny``),
    ``src``, ``dst``, and per direction (``egress``, ``ingress``) the selecting policies,
    the matching rule or, per rule, the clause that missed.

    ``src`` and ``dst`` are ``namespace/pod``, ``svc/namespace/name``, ``node/NAME`` or an
    address; ``at`` picks the snapshot in force at that time (RFC 3339 or a duration ago).
    """
    if port is None:
        raise InvalidValueError("check needs a port: a connection is evaluated on one port")
    native = _snapshot(snapshot)
    if native is None:
        raise InvalidValueError("check needs a snapshot to evaluate the connection against")
    text, _table = _native.check(native, src, dst, int(port), protocol, at)
    return json.loads(text)


def inspect(paths: Paths, *, format: Optional[str] = None, **filters: Any) -> pl.DataFrame:
    """What each input is — format (and why), framing, gzip, records, flows, skipped, lost,
    time range, verdict mix — one row per input, as ``flowq inspect -o json``."""
    table, report = _native.inspect(_paths(paths), filters, format)
    return _frame(table, Report(json.loads(report)))


def groupable_columns() -> List[str]:
    """The columns :func:`top` can group by."""
    return list(_native.groupable_columns())


def formats() -> List[str]:
    """The input formats flowq reads (names for ``format=``)."""
    return list(_native.formats())
