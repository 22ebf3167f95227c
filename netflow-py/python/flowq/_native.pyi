"""Type stubs of flowq's Rust extension. Use the wrappers in :mod:`flowq`; these return Arrow
tables (the PyCapsule interface) and each input's accounting as JSON text."""

from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

__version__: str

class ArrowTable:
    """Rows as Arrow record batches: ``polars.DataFrame(t)``, ``pyarrow.table(t)``."""

    def __arrow_c_stream__(self, requested_schema: Optional[object] = None) -> object: ...
    def __len__(self) -> int: ...
    @property
    def columns(self) -> List[str]: ...
    @property
    def json_columns(self) -> List[str]: ...

class Snapshot:
    """Cluster snapshots loaded once (each ``FILE[@TIME]``)."""

    def __init__(self, specs: Sequence[str]) -> None: ...
    @property
    def sources(self) -> List[str]: ...
    @property
    def taken_at(self) -> List[Optional[datetime]]: ...
    def counts(self) -> Dict[str, int]: ...

def flows(
    paths: Sequence[str],
    snapshot: Optional[Snapshot] = None,
    filters: Optional[Mapping[str, Any]] = None,
    format: Optional[str] = None,
    strict: bool = False,
    data: Optional[Sequence[bytes]] = None,
) -> Tuple[ArrowTable, str]:
    """``data``: the inputs' bytes as the caller read them (one per path, which names it)."""
def denied(
    paths: Sequence[str],
    snapshot: Optional[Snapshot] = None,
    filters: Optional[Mapping[str, Any]] = None,
    format: Optional[str] = None,
    strict: bool = False,
    include_drops: bool = False,
    unanswered: bool = True,
    reply_window: int = 60,
) -> Tuple[ArrowTable, str]: ...
def top(
    paths: Sequence[str],
    by: Sequence[str],
    k: int = 10,
    bucket: Optional[str] = None,
    include_replies: bool = False,
    snapshot: Optional[Snapshot] = None,
    filters: Optional[Mapping[str, Any]] = None,
    format: Optional[str] = None,
    strict: bool = False,
) -> Tuple[ArrowTable, str]: ...
def inspect(
    paths: Sequence[str],
    filters: Optional[Mapping[str, Any]] = None,
    format: Optional[str] = None,
) -> Tuple[ArrowTable, str]: ...
def check(
    snapshot: Snapshot,
    src: str,
    dst: str,
    port: int,
    protocol: str = "TCP",
    at: Optional[str] = None,
) -> Tuple[str, ArrowTable]: ...
def check_filters(
    filters: Optional[Mapping[str, Any]], with_verdict: bool, format: Optional[str] = None
) -> None: ...
def groupable_columns() -> List[str]: ...
def formats() -> List[str]: ...
def denied_shares(
    paths: Sequence[str],
    orders: Sequence[int],
    snapshot: Optional[Snapshot] = None,
    filters: Optional[Mapping[str, Any]] = None,
    format: Optional[str] = None,
    strict: bool = False,
    include_drops: bool = False,
    data: Optional[Sequence[bytes]] = None,
    unanswered: bool = True,
    reply_window: int = 60,
    part: bool = False,
) -> Tuple[ArrowTable, str]:
    """Each input read as one share: ``(pair, kind, part)`` rows (``group``, ``report``,
    ``tuple``) and the inputs' accounting. ``part``: each input's bytes are a byte range of
    its file cut at line starts."""

def unanswered_merge(
    parts: Sequence[str], snapshot: Optional[Snapshot] = None, reply_window: int = 60
) -> ArrowTable:
    """The ``tuple`` parts of some 5-tuple pairs (all parts of each) as the unanswered
    requests' ``group`` parts."""

def splittable(head: bytes, format: Optional[str] = None) -> Optional[str]:
    """The format to read a file in byte ranges with, from its first bytes; ``None``: whole."""

def top_shares(
    paths: Sequence[str],
    by: Sequence[str],
    k: int = 10,
    bucket: Optional[str] = None,
    include_replies: bool = False,
    snapshot: Optional[Snapshot] = None,
    filters: Optional[Mapping[str, Any]] = None,
    format: Optional[str] = None,
    strict: bool = False,
    data: Optional[Sequence[bytes]] = None,
    part: bool = False,
) -> Tuple[ArrowTable, str]:
    """Each input's ``top`` groups (unranked) as ``(pair, kind, part)`` rows keyed by the
    group's route, and the inputs' accounting."""

def top_candidates(
    parts: Sequence[str],
    by: Sequence[str],
    k: int = 10,
    bucket: Optional[str] = None,
    include_replies: bool = False,
) -> ArrowTable:
    """The merged groups of ``parts`` (every part of each) that a ``top`` over them shows."""

def top_finish(
    parts: Sequence[str],
    by: Sequence[str],
    k: int = 10,
    bucket: Optional[str] = None,
    include_replies: bool = False,
) -> ArrowTable:
    """The ``flowq top -o json`` rows of the candidate parts of every merge."""
def denied_merge(
    kinds: Sequence[str], parts: Sequence[str], snapshot: Optional[Snapshot] = None
) -> ArrowTable: ...
def denied_merge_columns() -> List[Tuple[str, str]]: ...
def flow_columns() -> List[Tuple[str, str]]: ...
