#!/usr/bin/env python3
"""Runs the same queries with flowq, jq and DuckDB on generated logs (benches/gen.py), checks
that the answers are identical, and prints a Markdown table of median wall time, ratios and
peak RSS.

    python3 benches/compare.py --flowq PATH --data DIR --sizes 100M 1G [--runs 5]
        [--formats hubble calico gke-policy-action gke-vpc] [--queries full-scan top-denied ...]
        [--suffix .hot9200] [--duckdb PATH]

Selective queries (Hubble, Calico, GKE policy-action; each tool computes the same answer):
  denied-9200   denied flows to port 9200, records per source pod
                flowq denied --dst-port 9200 --snapshot cluster.json -o json
  flows-9200    every flow record to port 9200, per verdict (Hubble only)
                flowq flows --dst-port 9200 -o ndjson
Whole-file queries (every line-based format gen.py writes, GKE VPC included):
  full-scan     every record decoded, records per verdict
                flowq inspect -o json  vs  SELECT verdict, count(*) … GROUP BY 1
  top-denied    denied records per destination namespace and port (GKE VPC, which has no
                verdicts: every record)
                flowq top --by dst_namespace,dst_port --verdict denied -k 0 -o csv
                vs  SELECT namespace, port, count(*) … WHERE denied GROUP BY 1, 2
  parquet       every record written to a Parquet file (zstd), rows compared
                flowq flows -o parquet --out F  vs  COPY (SELECT …) TO F

--suffix picks the files gen.py writes with --hot-port (flows.<format>.<size>.hot9200.ndjson).
DuckDB runs through its Python module (the first of: this Python, $HOME/.cache/bench-venv,
$HOME/.cache/flowq-venv that can import it) or its CLI when --duckdb names a `duckdb` binary;
its times include the interpreter's start-up (~0.1 s).
"""
import argparse
import collections
import csv
import io
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


DUCKDB = None


def find_duckdb(given):
    """The command that runs DuckDB: a `duckdb` CLI, or a Python that can import the module."""
    if given:
        return given
    home = os.path.expanduser("~")
    for python in (sys.executable, os.path.join(home, ".cache/bench-venv/bin/python"),
                   os.path.join(home, ".cache/flowq-venv/bin/python")):
        if os.path.exists(python) and subprocess.run([python, "-c", "import duckdb"], capture_output=True).returncode == 0:
            return python
    sys.exit("compare.py: DuckDB not found: python3 -m venv ~/.cache/bench-venv && "
             "~/.cache/bench-venv/bin/pip install duckdb (or pass --duckdb PATH)")


def duckdb_cmd(sql):
    """A shell command printing the rows of `sql`, tab-separated, nulls as empty text."""
    if os.path.basename(DUCKDB).startswith("duckdb"):
        return "%s -noheader -list -separator %s -nullvalue '' -c %s" % (DUCKDB, shell_quote("\t"), shell_quote(sql))
    # The progress bar would print to stdout on long queries, among the rows.
    code = ("import duckdb,sys; con=duckdb.connect(); con.execute('SET enable_progress_bar=false'); "
            "[print(*('' if v is None else v for v in r), sep='\\t') for r in con.execute(sys.argv[1]).fetchall()]")
    return "%s -c %s %s" % (DUCKDB, shell_quote(code), shell_quote(sql))


def duckdb_rows(sql):
    out = subprocess.run(duckdb_cmd(sql), shell=True, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


# Per format: the log's verdict field and flowq's name for each of its words, the denied
# records, the destination namespace and port, and the columns DuckDB exports to Parquet
# (the flat columns flowq writes that the record holds).
FORMATS = {
    "hubble": {
        "verdict": "flow.verdict", "words": {"FORWARDED": "allowed", "DROPPED": "denied"},
        "denied": "flow.verdict = 'DROPPED'",
        "dst": ("flow.destination.namespace", 'flow.l4."TCP".destination_port'),
        "export": ["flow.time AS time", "flow.IP.source AS src_ip", 'flow.l4."TCP".source_port AS src_port',
                   "flow.source.namespace AS src_namespace", "flow.source.pod_name AS src_pod",
                   "flow.source.workloads[1].name AS src_workload", "flow.IP.destination AS dst_ip",
                   'flow.l4."TCP".destination_port AS dst_port', "flow.destination.namespace AS dst_namespace",
                   "flow.destination.pod_name AS dst_pod", "flow.destination.workloads[1].name AS dst_workload",
                   "flow.verdict AS verdict", "flow.traffic_direction AS direction", "flow.node_name AS node",
                   "flow.drop_reason_desc AS reason", "flow.is_reply AS is_reply"],
    },
    "calico": {
        "verdict": "action", "words": {"allow": "allowed", "deny": "denied"},
        "denied": "action = 'deny'", "dst": ("dest_namespace", "dest_port"),
        "export": ["to_timestamp(start_time) AS time", "source_ip AS src_ip", "source_port AS src_port",
                   "source_namespace AS src_namespace", "source_name AS src_pod", "dest_ip AS dst_ip",
                   "dest_port AS dst_port", "dest_namespace AS dst_namespace", "dest_name AS dst_pod", "proto AS protocol",
                   "action AS verdict", "reporter", "host AS node", "policies.enforced_policies AS policies",
                   "bytes_in + bytes_out AS bytes", "packets_in + packets_out AS packets", "num_flows_started AS count"],
    },
    "gke-policy-action": {
        "verdict": "jsonPayload.disposition", "words": {"allow": "allowed", "deny": "denied"},
        "denied": "jsonPayload.disposition = 'deny'",
        "dst": ("jsonPayload.dest.pod_namespace", "jsonPayload.connection.dest_port"),
        "export": ["jsonPayload.timestamp AS time", "jsonPayload.connection.src_ip AS src_ip",
                   "jsonPayload.connection.src_port AS src_port", "jsonPayload.src.pod_namespace AS src_namespace",
                   "jsonPayload.src.pod_name AS src_pod", "jsonPayload.src.workload_name AS src_workload",
                   "jsonPayload.connection.dest_ip AS dst_ip", "jsonPayload.connection.dest_port AS dst_port",
                   "jsonPayload.dest.pod_namespace AS dst_namespace", "jsonPayload.dest.pod_name AS dst_pod",
                   "jsonPayload.dest.workload_name AS dst_workload", "jsonPayload.connection.protocol AS protocol",
                   "jsonPayload.disposition AS verdict", "jsonPayload.connection.direction AS direction",
                   "resource.labels.node_name AS node", "jsonPayload.count AS count"],
    },
    "gke-vpc": {
        # No verdict: every record is "unknown" to flowq; the reporter stands in as the
        # grouped field, and top groups every record.
        "verdict": "jsonPayload.reporter", "words": {"SRC": "unknown", "DEST": "unknown"},
        "denied": None,
        "dst": ("jsonPayload.dest_gke_details.pod.pod_namespace", "jsonPayload.connection.dest_port"),
        "export": ["jsonPayload.start_time AS time", "jsonPayload.connection.src_ip AS src_ip",
                   "jsonPayload.connection.src_port AS src_port",
                   "jsonPayload.src_gke_details.pod.pod_namespace AS src_namespace",
                   "jsonPayload.src_gke_details.pod.pod_name AS src_pod",
                   "jsonPayload.src_gke_details.pod.pod_workload.workload_name AS src_workload",
                   "jsonPayload.connection.dest_ip AS dst_ip", "jsonPayload.connection.dest_port AS dst_port",
                   "jsonPayload.dest_gke_details.pod.pod_namespace AS dst_namespace",
                   "jsonPayload.dest_gke_details.pod.pod_name AS dst_pod",
                   "jsonPayload.dest_gke_details.pod.pod_workload.workload_name AS dst_workload",
                   "jsonPayload.connection.protocol AS protocol", "jsonPayload.reporter AS reporter",
                   "CAST(jsonPayload.bytes_sent AS BIGINT) AS bytes", "CAST(jsonPayload.packets_sent AS BIGINT) AS packets"],
    },
}


def whole_file_commands(flowq, fmt, f, out):
    """full-scan, top-denied and parquet for one file of any format gen.py writes."""
    spec = FORMATS[fmt]
    src = "read_ndjson_auto('%s')" % f
    ns, port = spec["dst"]
    where = "WHERE %s " % spec["denied"] if spec["denied"] else ""
    verdict = "--verdict denied " if spec["denied"] else ""
    flowq_parquet = os.path.join(out, "%s.flowq.parquet" % fmt)
    duckdb_parquet = os.path.join(out, "%s.duckdb.parquet" % fmt)
    return {
        "full-scan": {
            "flowq": "%s inspect -o json %s" % (flowq, f),
            "duckdb": duckdb_cmd("SELECT %s, count(*) FROM %s GROUP BY 1" % (spec["verdict"], src)),
        },
        "top-denied": {
            "flowq": "%s top --by dst_namespace,dst_port %s-k 0 -o csv %s" % (flowq, verdict, f),
            "duckdb": duckdb_cmd("SELECT %s, %s, count(*) FROM %s %sGROUP BY 1, 2" % (ns, port, src, where)),
        },
        "parquet": {
            "flowq": "%s flows -o parquet --out %s %s" % (flowq, flowq_parquet, f),
            "duckdb": duckdb_cmd("COPY (SELECT %s FROM %s) TO '%s' (FORMAT parquet, COMPRESSION zstd)"
                                 % (", ".join(spec["export"]), src, duckdb_parquet)),
            "files": {"flowq": flowq_parquet, "duckdb": duckdb_parquet},
        },
    }


def answers(tool, query, path, fmt, files=None):
    """Parses a tool's output into a comparable dict."""
    counts = collections.Counter()
    if query == "parquet":
        return {"rows": int(duckdb_rows("SELECT count(*) FROM '%s'" % files[tool])[0][0])}
    text = open(path).read()
    if query == "full-scan" and tool == "duckdb":
        for line in text.splitlines():
            word, n = line.rsplit("\t", 1)
            counts[FORMATS[fmt]["words"].get(word, "unknown")] += int(n)
        return dict(counts)
    if query == "full-scan":
        for row in json.loads(text):
            for verdict, key in (("allowed", "allowed"), ("denied", "denied"), ("dropped", "denied"), ("unknown", "unknown")):
                if row[verdict]:
                    counts[key] += row[verdict]
        return dict(counts)
    if query == "top-denied" and tool == "flowq":
        for row in csv.DictReader(io.StringIO(text)):
            counts["%s\t%s" % (row["dst_namespace"], row["dst_port"])] += int(row["records"])
        return dict(counts)
    if tool == "flowq":
        if query == "denied-9200":
            for row in json.loads(text):
                counts["%s/%s" % (row["src_namespace"], row["src_pod"])] += row["records"]
        else:
            for line in text.splitlines():
                counts[json.loads(line)["verdict_raw"]] += 1
    elif tool == "jq":
        for line in text.splitlines():
            n, key = line.strip().split(None, 1)
            counts[key] += int(n)
    else:
        for line in filter(None, text.splitlines()):
            if "\t" not in line:
                sys.exit("%s %s: unexpected output line %r (in %s)" % (tool, query, line, path))
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


QUERIES = ["denied-9200", "flows-9200", "full-scan", "top-denied", "parquet"]


def main():
    global DUCKDB
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowq", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--sizes", nargs="+", default=["100M", "1G"])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--jq-runs", type=int, default=1)
    ap.add_argument("--skip-jq-above", default="1G", help="jq is slow; skip it for larger files")
    ap.add_argument("--formats", nargs="+", default=["hubble"], choices=list(FORMATS),
                    help="files from gen.py --format")
    ap.add_argument("--queries", nargs="+", default=QUERIES, choices=QUERIES)
    ap.add_argument("--suffix", default="", help="file name suffix, e.g. .hot9200 for gen.py --hot-port 9200:…")
    ap.add_argument("--no-jq", action="store_true", help="leave jq out")
    ap.add_argument("--duckdb", help="a duckdb CLI, or a Python that can import duckdb")
    args = ap.parse_args()
    DUCKDB = find_duckdb(args.duckdb)
    rows = []
    out = tempfile.mkdtemp(prefix="flowq-compare-")
    failures = 0
    for fmt in args.formats:
        for size in args.sizes:
            f = os.path.join(args.data, "flows.%s.%s%s.ndjson" % (fmt, size, args.suffix))
            reread(f)
            cat = statistics.median(run("cat %s" % f, "/dev/null")[0] for _ in range(args.runs))
            label = "%s %s%s" % (fmt, size, args.suffix)
            rows.append((label, "read", "cat > /dev/null", cat, None, 1.0))
            queries = {}
            if fmt == "hubble":
                queries.update(commands(args.flowq, args.data, f))
            elif fmt != "gke-vpc":
                queries.update(other_format_commands(args.flowq, args.data, fmt, f))
            queries.update(whole_file_commands(args.flowq, fmt, f, out))
            for query in [q for q in args.queries if q in queries]:
                tools = dict(queries[query])
                files = tools.pop("files", None)
                results = {}
                for tool, cmd in tools.items():
                    if tool == "jq" and (args.no_jq or size_bytes(size) > size_bytes(args.skip_jq_above)):
                        continue
                    n = args.jq_runs if tool == "jq" else args.runs
                    timings = []
                    rss = 0.0
                    path = os.path.join(out, "%s-%s-%s-%s.out" % (fmt, size, query, tool))
                    for _ in range(n):
                        secs, mib = run(cmd, path)
                        timings.append(secs)
                        rss = max(rss, mib)
                    results[tool] = (statistics.median(timings), rss, answers(tool, query, path, fmt, files))
                reference = results["flowq"][2]
                if not reference:
                    failures += 1
                    print("EMPTY %s %s: flowq's answer is empty" % (label, query), file=sys.stderr)
                for tool, (secs, rss, got) in results.items():
                    same = got == reference
                    if not same:
                        failures += 1
                        print("MISMATCH %s %s %s: %s vs flowq %s" % (label, query, tool, sorted(got.items())[:5],
                                                                     sorted(reference.items())[:5]), file=sys.stderr)
                    rows.append((label, query, tool, secs, rss, results["flowq"][0] / secs if tool != "flowq" else None, same))
    print("| input | query | tool | median s | peak RSS MiB | flowq speed-up | same answer |")
    print("|---|---|---|---:|---:|---:|---|")
    for r in rows:
        if r[1] == "read":
            print("| %s | read | cat | %.2f | | | |" % (r[0], r[3]))
            continue
        size, query, tool, secs, rss, ratio, same = r
        speed = "" if ratio is None else "%.2f×" % (1 / ratio)
        print("| %s | %s | %s | %.2f | %.0f | %s | %s |" % (size, query, tool, secs, rss, speed, "yes" if same else "NO"))
    for f in os.listdir(out):
        if f.endswith(".parquet"):
            os.remove(os.path.join(out, f))
    return 1 if failures else 0


def size_bytes(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


if __name__ == "__main__":
    sys.exit(main())
