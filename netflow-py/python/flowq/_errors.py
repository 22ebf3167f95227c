"""flowq's exceptions and warnings.

Every exception flowq raises is a :class:`FlowqError`; ``file`` and ``line`` say where the
problem is when it is about an input or a snapshot (``None`` otherwise).
"""

from __future__ import annotations

from typing import Optional


class FlowqError(Exception):
    """An error from flowq, with the file and line it is about (``None`` when it is not
    about a place in a file)."""

    file: Optional[str] = None
    line: Optional[int] = None


class InputError(FlowqError):
    """A flow log could not be read: missing or unreadable, a format that cannot be
    detected, a damaged gzip stream (``line`` is the last good line)."""


class SnapshotError(FlowqError):
    """A cluster snapshot could not be loaded."""


class InvalidValueError(FlowqError, ValueError):
    """An argument's value is invalid: a filter, a time, a port, a connection end."""


class PolicyError(FlowqError):
    """A connection could not be evaluated against the snapshot (a pod or service it does
    not hold, an address held by several objects)."""


class SkippedRecordsError(FlowqError):
    """With ``strict=True``: records were skipped as unusable (``file`` and ``line`` are
    the first one's)."""


class SkippedRecordsWarning(UserWarning):
    """Records were skipped as unusable, or the source itself says it lost events: the
    result is complete for what was read, the log is not."""
