"""Shared fixtures of the flowq Python tests: the repository's test data, the `flowq` CLI to
compare with (its path in FLOWQ_BIN, else the debug build under CARGO_TARGET_DIR), and
generated multi-file inputs."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT / "testdata"
INCIDENT = TESTDATA / "flows" / "hubble" / "incident.ndjson"
VAMP = TESTDATA / "clusters" / "vamp.json"


def _flowq_bin():
    explicit = os.environ.get("FLOWQ_BIN")
    if explicit:
        return explicit
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    candidate = target / "debug" / "flowq"
    return str(candidate) if candidate.exists() else shutil.which("flowq")


@pytest.fixture(scope="session")
def flowq_bin():
    """The flowq CLI; the comparisons skip without it unless FLOWQ_REQUIRE_CLI is set."""
    path = _flowq_bin()
    if not path:
        if os.environ.get("FLOWQ_REQUIRE_CLI"):
            pytest.fail("FLOWQ_REQUIRE_CLI is set but no flowq binary was found (FLOWQ_BIN)")
        pytest.skip("no flowq binary to compare with (build it: cargo build -p netflow-cli)")
    return path


@pytest.fixture(scope="session")
def cli(flowq_bin):
    """Runs flowq with arguments and returns its stdout (text)."""

    def run(*args, ok=(0,)):
        done = subprocess.run(
            [flowq_bin, *map(str, args)], capture_output=True, text=True, cwd=ROOT
        )
        assert done.returncode in ok, done.stderr
        return done.stdout

    return run


def _shift_hours(line: str, hours: int) -> str:
    """The line with every `2026-11-20THH:` time moved by `hours` (same day)."""
    return re.sub(
        r"2026-11-20T(\d\d):",
        lambda m: f"2026-11-20T{int(m.group(1)) + hours:02d}:",
        line,
    )


@pytest.fixture(scope="session")
def multi_files(tmp_path_factory):
    """Generated inputs spread over several files: the incident's records dealt round-robin
    over three files (so a connection's denials and its other end's reports land in
    different files, one of them gzip), the whole incident an hour later in a fourth, and
    Calico's log in a fifth. Returns the paths in order."""
    out = tmp_path_factory.mktemp("multi")
    lines = INCIDENT.read_text().splitlines()
    files = []
    for i in range(3):
        part = "\n".join(lines[i::3]) + "\n"
        if i == 1:
            path = out / f"part-{i}.ndjson.gz"
            path.write_bytes(gzip.compress(part.encode()))
        else:
            path = out / f"part-{i}.ndjson"
            path.write_text(part)
        files.append(path)
    later = out / "later.ndjson"
    later.write_text("\n".join(_shift_hours(l, 1) for l in lines) + "\n")
    files.append(later)
    files.append(TESTDATA / "flows" / "calico" / "flows.log.ndjson")
    return [str(f) for f in files]


def strip_nulls(value):
    """JSON with null members left out, so a struct column's unified fields (null where a
    row lacked them) compare equal to the object the CLI wrote."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def rows_as_json(df):
    """DataFrame rows as the CLI's JSON writes them: times in RFC 3339 UTC."""
    from datetime import datetime

    def value(v):
        if isinstance(v, datetime):
            text = v.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
            return text + "Z"
        return v

    return [{k: value(v) for k, v in row.items()} for row in df.to_dicts()]


def cli_times(rows, columns):
    """The CLI's RFC 3339 times at the frames' precision (µs, trailing zeros dropped)."""
    for row in rows:
        for c in columns:
            t = row.get(c)
            if t:
                head, _, frac = t.rstrip("Z").partition(".")
                frac = frac[:6].rstrip("0")
                row[c] = head + ("." + frac if frac else "") + "Z"
    return rows
