#!/usr/bin/env bash
# The Python package's tests, as a user installs it: `pip install ./netflow-py` (a release
# build of the extension) into a virtual environment kept under $HOME/.cache, then pytest,
# comparing every function, and the Spark path in local mode, with the flowq CLI.
# Run from anywhere; CI runs it after the README's test command (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${FLOWQ_VENV:-$HOME/.cache/flowq-py}"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$HOME/.cache/pip}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

if ! [ -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
py="$venv/bin/python"

start=$(date +%s)
"$py" -m pip install --quiet polars pyarrow pytest pyspark "pandas>=2.2,<3"
echo "== python test dependencies: $(( $(date +%s) - start )) s"

start=$(date +%s)
"$py" -m pip install --quiet --force-reinstall --no-deps ./netflow-py
echo "== pip install ./netflow-py: $(( $(date +%s) - start )) s"

# The CLI the tests compare with (built by `cargo test --workspace`; built here if not).
export FLOWQ_BIN="$CARGO_TARGET_DIR/debug/flowq"
[ -x "$FLOWQ_BIN" ] || cargo build -p netflow-cli --locked
export FLOWQ_REQUIRE_CLI=1
# Spark's tests need Java; without it they would skip, which CI must not allow.
export FLOWQ_REQUIRE_SPARK=1

start=$(date +%s)
"$py" -m pytest -q -p no:cacheprovider netflow-py/tests
echo "== pytest: $(( $(date +%s) - start )) s"
