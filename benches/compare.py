#!/usr/bin/env python3
"""Runs the same incident queries with flowq, jq and DuckDB on generated Hubble logs, checks that
the answers are identical, and prints a Markdown table of median wall time, ratios and peak RSS.

    python3 benches/compare.py --flowq PATH --data DIR --sizes 100M 1G [--runs 5]

Queries (each tool computes the same answer):
  denied-9200   denied flows to port 9200, records per source pod
                flowq denied --dst-port 9200 --snapshot cluster.json -o json
  flows-9200    every flow record to port 9200, per verdict
                flowq flows --dst-port 9200 -o ndjson
  full-scan     every record parsed, per verdict (flowq inspect: full decode and accounting)
"""
import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile

TIME = "/usr/bin/time"


def run(cmd, stdout_path):
    """Runs a shell pipeline under /usr/bin/time; returns (seconds, peak RSS MiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        full = "%s -f '%%e %%M' -o %s bash -c %s > %s" % (TIME, t.name, shell_quote(cmd), stdout_path)
        subprocess.run(full, shell=True, check=True)
        secs, kib = t.read().split()[-2:]
        return float(secs), int(kib) / 1024


def shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def duckdb_cmd(sql):
    code = "import duckdb,sys; con=duckdb.connect(); [print(*r, sep='\\t') for r in con.execute(sys.argv[1]).fetchall()]"
    return "python3 -c %s %s" % (shell_quote(code), shell_quote(sql))


def answers(tool, query, path):
    """Parses a tool's output into a comparable dict."""
    text = open(path).read()
    counts = collections.Counter()
    if tool == "flowq":
        if query == "denied-9200":
            for row in json.loads(text):
                counts["%s/%s" % (row["src_namespace"], row["src_pod"])] += row["records"]
        elif query == "flows-9200":
            for line in text.splitlines():
                counts[json.loads(line)["verdict_raw"]] += 1
        else:
            for row in json.loads(text):
                counts["FORWARDED"] += row["allowed"]
                counts["DROPPED"] += row["denied"] + row["dropped"]
    elif tool == "jq":
        for line in text.splitlines():
            n, key = line.strip().split(None, 1)
            counts[key] += int(n)
    else:
        for line in text.splitlines():
            key, n = line.rsplit("\t", 1)
            counts[key] += int(n)
    return dict(counts)


def commands(flowq, data, f):
    snap = os.path.join(data, "cluster.json")
    tcp = '.flow.l4.TCP.destination_port'
    return {
        "denied-9200": {
            "flowq": "%s denied --dst-port 9200 --snapshot %s -o json %s" % (flowq, snap, f),
            "jq": "jq -r 'select(.flow.verdict==\"DROPPED\" and %s==9200) | \"\\(.flow.source.namespace)/\\(.flow.source.pod_name)\"' %s | sort | uniq -c" % (tcp, f),
            "duckdb": duckdb_cmd("SELECT flow.source.namespace || '/' || flow.source.pod_name, count(*) FROM read_ndjson_auto('%s') "
                                 "WHERE flow.verdict = 'DROPPED' AND flow.l4.\"TCP\".destination_port = 9200 GROUP BY 1" % f),
        },
        "flows-9200": {
            "flowq": "%s flows --dst-port 9200 -o ndjson %s" % (flowq, f),
            "jq": "jq -r 'select(%s==9200) | .flow.verdict' %s | sort | uniq -c" % (tcp, f),
            "duckdb": duckdb_cmd("SELECT flow.verdict, count(*) FROM read_ndjson_auto('%s') "
                                 "WHERE flow.l4.\"TCP\".destination_port = 9200 GROUP BY 1" % f),
        },
        "full-scan": {
            "flowq": "%s inspect -o json %s" % (flowq, f),
            "duckdb": duckdb_cmd("SELECT flow.verdict, count(*) FROM read_ndjson_auto('%s') GROUP BY 1" % f),
        },
    }


def other_format_commands(flowq, data, fmt, f):
    """denied-9200 for the Calico and GKE policy-action generators' files."""
    snap = os.path.join(data, "cluster.json")
    flowq_cmd = "%s denied --dst-port 9200 --snapshot %s -o json %s" % (flowq, snap, f)
    if fmt == "calico":
        where = "action = 'deny' AND dest_port = 9200"
        key = "source_namespace || '/' || source_name"
        jq = "jq -r 'select(.action==\"deny\" and .dest_port==9200) | \"\\(.source_namespace)/\\(.source_name)\"' %s | sort | uniq -c" % f
    else:
        where = "jsonPayload.disposition = 'deny' AND jsonPayload.connection.dest_port = 9200"
        key = "jsonPayload.src.pod_namespace || '/' || jsonPayload.src.pod_name"
        jq = "jq -r 'select(.jsonPayload.disposition==\"deny\" and .jsonPayload.connection.dest_port==9200) | \"\\(.jsonPayload.src.pod_namespace)/\\(.jsonPayload.src.pod_name)\"' %s | sort | uniq -c" % f
    return {"denied-9200": {
        "flowq": flowq_cmd,
        "jq": jq,
        "duckdb": duckdb_cmd("SELECT %s, count(*) FROM read_ndjson_auto('%s') WHERE %s GROUP BY 1" % (key, f, where)),
    }}


def reread(path):
    """Drops the file from the page cache and reads it back once, so that every tool starts
    from the same cache state: pages read from disk through readahead (large folios), as for a
    log copied to the machine and read once. Pages still cached from writing the file are
    small ones, which made `cat` and every memory-mapped reader up to 2x slower."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    subprocess.run("cat %s > /dev/null" % shell_quote(path), shell=True, check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowq", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--sizes", nargs="+", default=["100M", "1G"])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--jq-runs", type=int, default=1)
    ap.add_argument("--skip-jq-above", default="1G", help="jq is slow; skip it for larger files")
    ap.add_argument("--formats", nargs="+", default=["hubble"],
                    help="hubble, calico, gke-policy-action (files from gen.py --format)")
    args = ap.parse_args()
    rows = []
    out = tempfile.mkdtemp(prefix="flowq-compare-")
    failures = 0
    for fmt in args.formats:
        for size in args.sizes:
            f = os.path.join(args.data, "flows.%s.%s.ndjson" % (fmt, size))
            reread(f)
            cat = statistics.median(run("cat %s" % f, "/dev/null")[0] for _ in range(args.runs))
            label = size if fmt == "hubble" else "%s %s" % (fmt, size)
            rows.append((label, "read", "cat > /dev/null", cat, None, 1.0))
            queries = commands(args.flowq, args.data, f) if fmt == "hubble" else other_format_commands(args.flowq, args.data, fmt, f)
            for query, tools in queries.items():
                results = {}
                for tool, cmd in tools.items():
                    if tool == "jq" and size_bytes(size) > size_bytes(args.skip_jq_above):
                        continue
                    n = args.jq_runs if tool == "jq" else args.runs
                    timings = []
                    rss = 0.0
                    path = os.path.join(out, "%s-%s-%s-%s.out" % (fmt, size, query, tool))
                    for _ in range(n):
                        secs, mib = run(cmd, path)
                        timings.append(secs)
                        rss = max(rss, mib)
                    results[tool] = (statistics.median(timings), rss, answers(tool, query, path))
                reference = results["flowq"][2]
                for tool, (secs, rss, got) in results.items():
                    same = got == reference
                    if not same:
                        failures += 1
                        print("MISMATCH %s %s %s: %s vs flowq %s" % (size, query, tool, sorted(got.items())[:5],
                                                                     sorted(reference.items())[:5]), file=sys.stderr)
                    rows.append((label, query, tool, secs, rss, results["flowq"][0] / secs if tool != "flowq" else None, same))
    print("| size | query | tool | median s | peak RSS MiB | flowq speed-up | same answer |")
    print("|---|---|---|---:|---:|---:|---|")
    for r in rows:
        if r[1] == "read":
            print("| %s | read | cat | %.2f | | | |" % (r[0], r[3]))
            continue
        size, query, tool, secs, rss, ratio, same = r
        speed = "" if ratio is None else "%.1f×" % (1 / ratio)
        print("| %s | %s | %s | %.2f | %.0f | %s | %s |" % (size, query, tool, secs, rss, speed, "yes" if same else "NO"))
    return 1 if failures else 0


def size_bytes(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


if __name__ == "__main__":
    sys.exit(main())
