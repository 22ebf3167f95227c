#!/usr/bin/env bash
# Peak memory on a large input. Generates a ~1 GB Hubble NDJSON log and its cluster snapshot with
# the seeded generator (benches/gen.py, ~1.4 KB lines like testdata/flows/hubble/incident.ndjson)
# under $FLOWQ_RSS_DIR (default /tmp/flowq-rss, never in the repository), builds flowq in release
# mode and measures each command's peak RSS and wall time with GNU `/usr/bin/time -v`:
#
#   flowq denied FILE
#   flowq denied --snapshot cluster.json FILE
#   flowq flows -o ndjson FILE > /dev/null
#   flowq flows --snapshot cluster.json -o ndjson FILE > /dev/null
#   flowq denied --dst-port 9200 --snapshot cluster.json FILE
#   flowq top --snapshot cluster.json FILE                 (default keys, every record)
#   flowq top --bucket 5m --verdict denied --snapshot cluster.json FILE
#   flowq inspect FILE                                     (every record decoded)
#   flowq top --by dst_namespace,dst_port --verdict denied FILE
#   flowq flows -o parquet --out DIR/flows.parquet FILE
#
# Exits 1 when a run's peak RSS exceeds $FLOWQ_RSS_LIMIT_MB (default 256). Reading streams, so
# `flows` holds no state and its peak does not grow with the input; `denied` keeps one row per
# distinct denied connection (the table it prints) and a ~60-byte digest per distinct connection
# reported by an end that did not deny it, so its peak grows with those counts, not with bytes.
# `top` keeps ~50 bytes per group (the generator's random traffic makes 720k groups of source
# and destination workload and port per GB, 2.65M at 4 GB).
#
#   benches/rss.sh [SIZE]        SIZE as gen.py takes it (100M, 1G, 4G); default 1G
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1G}"
data="${FLOWQ_RSS_DIR:-/tmp/flowq-rss}"
limit_mb="${FLOWQ_RSS_LIMIT_MB:-256}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowq-target}"

[ -x /usr/bin/time ] || {
    echo "rss.sh: needs GNU time at /usr/bin/time (apt-get install time)" >&2
    exit 2
}
cargo build --release -p netflow-cli
flowq="$CARGO_TARGET_DIR/release/flowq"
mkdir -p "$data"
flows="$data/flows.hubble.$size.ndjson"
[ -f "$flows" ] || python3 benches/gen.py --out "$data" --size "$size" >/dev/null
snapshot="$data/cluster.json"

echo "input: $flows ($(du -h "$flows" | cut -f1), $(wc -l <"$flows") lines); snapshot: $(du -h "$snapshot" | cut -f1)"
printf '%-52s %10s %14s\n' "command" "wall" "peak RSS"
over=0
# Runs a command under GNU time, stdout to $out; prints wall time and peak RSS.
out="$data/out.txt"
measure() {
    local label=$1
    shift
    /usr/bin/time -v -o "$data/time.txt" "$@" >"$out" 2>"$data/err.txt" || {
        echo "rss.sh: failed: $*" >&2
        cat "$data/err.txt" >&2
        exit 2
    }
    local kb wall
    kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$data/time.txt")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$data/time.txt")
    printf '%-52s %10s %11d MB\n' "$label" "$wall" $((kb / 1024))
    if [ $((kb / 1024)) -gt "$limit_mb" ]; then
        over=1
    fi
}
measure "flowq denied FILE" "$flowq" denied "$flows"
echo "  $(tail -n 1 "$data/out.txt")"
measure "flowq denied --snapshot cluster.json FILE" "$flowq" denied --snapshot "$snapshot" "$flows"
echo "  $(tail -n 1 "$data/out.txt")"
out=/dev/null
measure "flowq flows -o ndjson FILE > /dev/null" "$flowq" flows -o ndjson "$flows"
measure "flowq flows --snapshot cluster.json -o ndjson FILE" "$flowq" flows --snapshot "$snapshot" -o ndjson "$flows"
measure "flowq denied --dst-port 9200 --snapshot cluster.json FILE" "$flowq" denied --dst-port 9200 --snapshot "$snapshot" "$flows"
measure "flowq top --snapshot cluster.json FILE" "$flowq" top --snapshot "$snapshot" "$flows"
measure "flowq top --bucket 5m --verdict denied --snapshot ..." "$flowq" top --bucket 5m --verdict denied --snapshot "$snapshot" "$flows"
measure "flowq inspect FILE" "$flowq" inspect "$flows"
measure "flowq top --by dst_namespace,dst_port --verdict denied" "$flowq" top --by dst_namespace,dst_port --verdict denied "$flows"
measure "flowq flows -o parquet --out DIR/flows.parquet FILE" "$flowq" flows -o parquet --out "$data/flows.parquet" "$flows"
rm -f "$data/out.txt" "$data/err.txt" "$data/time.txt" "$data/flows.parquet"

if [ "$over" = 1 ]; then
    echo "rss.sh: peak RSS above ${limit_mb} MB" >&2
    exit 1
fi
echo "peak RSS within ${limit_mb} MB"
