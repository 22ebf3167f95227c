#!/usr/bin/env bash
# Generates logs (Hubble by default; FORMATS="hubble calico gke-policy-action gke-vpc" for more) of the
# given sizes (100 MB and 1 GB by default; pass sizes such as "100M 1G 4G"), builds
# flowq in release mode, installs DuckDB's Python package and jq when missing, then compares
# flowq, jq and DuckDB on the same queries and prints a table of medians, ratios and peak RSS.
# Data goes to $FLOWQ_BENCH_DIR (default /tmp/flowq-bench), never into the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-100M 1G}")
# shellcheck disable=SC2206
sizes=(${sizes[*]})
data="${FLOWQ_BENCH_DIR:-/tmp/flowq-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowq-target}"

cargo build --release -p netflow-cli
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq; }
venv="$HOME/.cache/bench-venv"
python3 -c 'import duckdb' 2>/dev/null || "$venv/bin/python" -c 'import duckdb' 2>/dev/null || {
    python3 -m venv "$venv" && "$venv/bin/pip" install --quiet duckdb
}

# shellcheck disable=SC2206
formats=(${FORMATS:-hubble})
for format in "${formats[@]}"; do
    for size in "${sizes[@]}"; do
        [ -f "$data/flows.$format.$size.ndjson" ] ||
            python3 benches/gen.py --out "$data" --size "$size" --format "$format"
    done
done
python3 benches/compare.py --flowq "$CARGO_TARGET_DIR/release/flowq" --data "$data" \
    --sizes "${sizes[@]}" --formats "${formats[@]}"
