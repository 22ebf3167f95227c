#!/usr/bin/env python3
"""Seeded generator of realistic cluster snapshots and flow logs for flowq benchmarks.

    python3 benches/gen.py --out DIR --size 1G
           [--format hubble|calico|gke-policy-action|gke-vpc|aws-network-policy-agent]
           [--pods 5000] [--policies 1000] [--seed 7] [--hot-port PORT:SHARE]

Writes DIR/cluster.json (a `kubectl get … -o json` List) and DIR/flows.<format>.<size>.ndjson of
about the requested size (for aws-network-policy-agent: an EKS agent's node file at log level
debug, v1.3 message lines with Direction and Tier, ACCEPT and DENY, among controller lines; for
gke-vpc: Cloud Logging entries of VPC Flow Logs with GKE pod details, a SRC and a DEST record
for each direction of a connection, no verdict, 4% of the connections unanswered). Traffic: pods of many namespaces calling services of
others; most flows are forwarded, a few percent are denied by policy (each denied Hubble SYN as
a policy-verdict event plus a drop notification, as Cilium writes them), some go to port 9200
(Elasticsearch: about one connection in 40).

--hot-port 9200:0.12 sends that share of the connections to the port (to the pods serving it,
or to random pods on that port when no app serves it) and the rest to the other ports, so that
a selective query's needle is common, as for the busy port of an incident; the file is then
DIR/flows.<format>.<size>.hot<PORT>.ndjson. Everything derives from the seed, so runs are
reproducible (without --hot-port the files are the same as before the option existed).
"""
import argparse
import json
import zlib
import os
import random
import sys


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().rstrip("B")
    if text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


class Cluster:
    def __init__(self, rng, pods, policies):
        self.rng = rng
        self.namespaces = ["ns-%03d" % i for i in range(max(4, pods // 50))]
        self.namespaces[0] = "vamp"
        self.apps = ["api", "web", "worker", "cache", "db", "elasticsearch", "agent", "gateway"]
        self.ports = {"api": 8080, "web": 80, "worker": 9000, "cache": 6379, "db": 5432,
                      "elasticsearch": 9200, "agent": 7000, "gateway": 443}
        # Many more services on their own ports, so Elasticsearch is one service among ~40.
        for i in range(32):
            name = "svc%02d" % i
            self.apps.append(name)
            self.ports[name] = 10000 + 37 * i
        self.nodes = [("node-%02d" % i, "10.0.%d.%d" % (i // 200, i % 200 + 10)) for i in range(max(2, pods // 100))]
        self.pods = []
        for i in range(pods):
            ns = self.namespaces[i % len(self.namespaces)]
            app = self.apps[(i // len(self.namespaces)) % len(self.apps)]

            h = "%09x" % rng.getrandbits(36)
            name = "%s-%s-%05x" % (app, h, rng.getrandbits(20))
            node = self.nodes[i % len(self.nodes)][0]
            ip = "10.%d.%d.%d" % (100 + (i >> 16), (i >> 8) & 255, i & 255)
            self.pods.append({"ns": ns, "app": app, "name": name, "hash": h, "ip": ip, "node": node})
        self.policy_count = policies

    def snapshot(self):
        items = []
        for ns in self.namespaces:
            labels = {"kubernetes.io/metadata.name": ns}
            if ns == "vamp":
                labels["role"] = "core"
            items.append({"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": ns, "labels": labels, "creationTimestamp": "2026-10-01T00:00:00Z"}})
        for name, ip in self.nodes:
            items.append({"apiVersion": "v1", "kind": "Node",
                          "metadata": {"name": name, "creationTimestamp": "2026-10-01T00:00:00Z"},
                          "status": {"addresses": [{"type": "InternalIP", "address": ip}]}})
        for p in self.pods:
            items.append({"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": p["name"], "namespace": p["ns"],
                                       "labels": {"app": p["app"], "pod-template-hash": p["hash"]},
                                       "creationTimestamp": "2026-11-01T00:00:00Z",
                                       "ownerReferences": [{"kind": "ReplicaSet", "name": "%s-%s" % (p["app"], p["hash"]), "controller": True}]},
                          "spec": {"nodeName": p["node"], "containers": [{"name": p["app"], "ports": [
                              {"containerPort": self.ports[p["app"]], "name": "serve", "protocol": "TCP"}]}]},
                          "status": {"phase": "Running", "podIP": p["ip"], "podIPs": [{"ip": p["ip"]}]}})
        for i in range(self.policy_count):
            ns = self.namespaces[i % len(self.namespaces)]
            app = self.apps[i % len(self.apps)]
            items.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                          "metadata": {"name": "%s-ingress-%d" % (app, i), "namespace": ns,
                                       "creationTimestamp": "2026-10-02T00:00:00Z"},
                          "spec": {"podSelector": {"matchLabels": {"app": app}}, "policyTypes": ["Ingress"],
                                   "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"role": "core"}}},
                                                         {"podSelector": {"matchLabels": {"app": "gateway"}}}],
                                                "ports": [{"port": self.ports[app], "protocol": "TCP"}]}]}})
        return {"apiVersion": "v1", "kind": "List", "items": items}


class Destinations:
    """Picks the destination pod and port of each connection: uniformly among the pods, or,
    with a hot port, that port with the given share of the connections."""

    def __init__(self, cluster, hot):
        self.cluster = cluster
        self.hot = hot
        if hot:
            port, _ = hot
            self.serving = [p for p in cluster.pods if cluster.ports[p["app"]] == port]
            self.others = [p for p in cluster.pods if cluster.ports[p["app"]] != port]

    def pick(self, rng):
        if not self.hot:
            dst = rng.choice(self.cluster.pods)
            return dst, self.cluster.ports[dst["app"]]
        port, share = self.hot
        if rng.random() < share:
            if self.serving:
                return rng.choice(self.serving), port
            return rng.choice(self.cluster.pods), port
        dst = rng.choice(self.others)
        return dst, self.cluster.ports[dst["app"]]


def parse_hot_port(text):
    port, _, share = text.partition(":")
    try:
        port, share = int(port), float(share)
    except ValueError:
        raise argparse.ArgumentTypeError("expected PORT:SHARE such as 9200:0.12, found %r" % text)
    if not 0 < port < 65536 or not 0 <= share <= 1:
        raise argparse.ArgumentTypeError("expected a port 1-65535 and a share 0-1, found %r" % text)
    return port, share


def stable_hash(text):
    return zlib.crc32(text.encode())


def hubble_endpoint(p, local):
    e = {}
    if local:
        e["ID"] = 100 + (stable_hash(p["name"]) & 0xfff)
    e.update({"identity": 10000 + (stable_hash(p["ns"] + p["app"]) & 0xffff), "namespace": p["ns"],
              "labels": ["k8s:app=%s" % p["app"], "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=%s" % p["ns"],
                         "k8s:io.cilium.k8s.policy.cluster=prod", "k8s:io.cilium.k8s.policy.serviceaccount=default",
                         "k8s:io.kubernetes.pod.namespace=%s" % p["ns"]],
              "pod_name": p["name"], "workloads": [{"name": p["app"], "kind": "Deployment"}]})
    return e


def hubble_lines(cluster, rng, t0, dests):
    seq = 0
    while True:
        seq += 1
        src = rng.choice(cluster.pods)
        dst, port = dests.pick(rng)
        t = t0 + seq * 0.0004
        denied = rng.random() < 0.04
        sport = rng.randint(32768, 60999)
        node = dst["node"]
        base = {"ethernet": {"source": "5e:12:9a:33:0c:41", "destination": "a6:4f:10:be:72:09"},
                "IP": {"source": src["ip"], "destination": dst["ip"], "ipVersion": "IPv4"},
                "l4": {"TCP": {"source_port": sport, "destination_port": port, "flags": {"SYN": True}}},
                "source": hubble_endpoint(src, False), "destination": hubble_endpoint(dst, True),
                "Type": "L3_L4", "node_name": "prod/" + node}
        events = []
        if denied:
            for etype, extra in ((5, {}), (1, {"file": {"name": "bpf_lxc.c", "line": 2108}})):
                f = {"time": ts(t + (0.0003 if etype == 1 else 0)), "uuid": uuid(rng), "verdict": "DROPPED", "drop_reason": 133}
                f.update(base)
                f["event_type"] = {"type": etype, "sub_type": 133} if etype == 1 else {"type": 5}
                f.update({"traffic_direction": "INGRESS", "drop_reason_desc": "POLICY_DENIED", "is_reply": False,
                          "Summary": "TCP Flags: SYN"})
                f.update(extra)
                events.append(f)
        else:
            f = {"time": ts(t), "uuid": uuid(rng), "verdict": "FORWARDED"}
            f.update(base)
            f.update({"event_type": {"type": 4}, "traffic_direction": "INGRESS", "trace_observation_point": "TO_ENDPOINT",
                      "is_reply": False, "interface": {"index": 12, "name": "lxc%08x" % (stable_hash(dst["name"]) & 0xffffffff)},
                      "Summary": "TCP Flags: SYN"})
            events.append(f)
        for f in events:
            yield json.dumps({"flow": f, "node_name": "prod/" + node, "time": f["time"]}, separators=(",", ":"))


def calico_lines(cluster, rng, t0, dests):
    seq = 0
    while True:
        seq += 1
        src = rng.choice(cluster.pods)
        dst, port = dests.pick(rng)
        denied = rng.random() < 0.04
        doc = {"start_time": int(t0) + seq // 100, "end_time": int(t0) + seq // 100 + 300,
               "source_ip": src["ip"], "source_name": src["name"], "source_name_aggr": "%s-%s-*" % (src["app"], src["hash"]),
               "source_namespace": src["ns"], "source_port": None, "source_type": "wep",
               "source_labels": {"labels": ["app=%s" % src["app"], "pod-template-hash=%s" % src["hash"]]},
               "dest_ip": dst["ip"], "dest_name": dst["name"], "dest_name_aggr": "%s-%s-*" % (dst["app"], dst["hash"]),
               "dest_namespace": dst["ns"], "dest_port": port, "dest_type": "wep",
               "dest_labels": {"labels": ["app=%s" % dst["app"], "pod-template-hash=%s" % dst["hash"]]},
               "dest_service_namespace": "-", "dest_service_name": "-", "dest_service_port": "-", "dest_service_port_num": None,
               "proto": "tcp", "action": "deny" if denied else "allow", "reporter": "dst",
               "policies": {"enforced_policies": ["0|default|%s/knp.default.%s-ingress|%s|%d" % (dst["ns"], dst["app"], "deny" if denied else "allow", -1 if denied else 0)]},
               "bytes_in": rng.randint(0, 90000), "bytes_out": rng.randint(0, 90000), "num_flows": 1, "num_flows_started": rng.randint(1, 5),
               "num_flows_completed": 1, "packets_in": 10, "packets_out": 9, "host": dst["node"],
               "@timestamp": (int(t0) + seq // 100 + 300) * 1000}
        yield json.dumps(doc, separators=(",", ":"))


def gke_policy_lines(cluster, rng, t0, dests):
    seq = 0
    while True:
        seq += 1
        src = rng.choice(cluster.pods)
        dst, port = dests.pick(rng)
        denied = rng.random() < 0.04
        payload = {"connection": {"src_ip": src["ip"], "dest_ip": dst["ip"], "src_port": rng.randint(32768, 60999),
                                  "dest_port": port, "protocol": "tcp", "direction": "ingress"},
                   "disposition": "deny" if denied else "allow",
                   "src": {"pod_name": src["name"], "pod_namespace": src["ns"], "namespace": src["ns"], "workload_kind": "ReplicaSet",
                           "workload_name": "%s-%s" % (src["app"], src["hash"])},
                   "dest": {"pod_name": dst["name"], "pod_namespace": dst["ns"], "namespace": dst["ns"], "workload_kind": "ReplicaSet",
                            "workload_name": "%s-%s" % (dst["app"], dst["hash"])},
                   "count": 1, "timestamp": ts(t0 + seq * 0.001)}
        if not denied:
            payload["policies"] = [{"kind": "NetworkPolicy", "name": "%s-ingress" % dst["app"], "namespace": dst["ns"]}]
        entry = {"insertId": "%016x" % rng.getrandbits(64), "jsonPayload": payload,
                 "logName": "projects/flowq-bench/logs/policy-action",
                 "resource": {"type": "k8s_node", "labels": {"project_id": "flowq-bench", "location": "europe-west1",
                                                             "cluster_name": "prod", "node_name": dst["node"]}},
                 "timestamp": payload["timestamp"], "receiveTimestamp": payload["timestamp"]}
        yield json.dumps(entry, separators=(",", ":"))


def gke_vpc_lines(cluster, rng, t0, dests):
    """VPC Flow Logs with GKE metadata: each direction of a connection is its own flow, seen
    by both nodes (a SRC and a DEST record), counters as strings as the proto3 JSON mapping
    writes them, no verdict. The reply's flow is missing for 4% of the connections (what a
    NetworkPolicy denial looks like in these logs: `flowq denied` flags them as unanswered);
    one request in five carries an RTT (a reply was seen)."""
    seq = 0

    def side(p):
        return ({"cluster": {"cluster_name": "prod", "cluster_location": "europe-west1"},
                 "pod": {"pod_name": p["name"], "pod_namespace": p["ns"],
                         "pod_workload": {"workload_name": p["app"], "workload_type": "DEPLOYMENT"}}},
                {"project_id": "flowq-bench", "vm_name": "gke-prod-pool-a-%s" % p["node"], "zone": "europe-west1-b",
                 "region": "europe-west1"})

    vpc = {"project_id": "flowq-bench", "vpc_name": "prod", "subnetwork_name": "gke"}
    while True:
        seq += 1
        src = rng.choice(cluster.pods)
        dst, port = dests.pick(rng)
        start = t0 + seq * 0.004
        packets = rng.randint(1, 40)
        sport = rng.randint(32768, 60999)
        answered = rng.random() >= 0.04
        rtt = answered and rng.random() < 0.2
        flows = [(src, sport, dst, port, False)]
        if answered:
            flows.append((dst, port, src, sport, True))
        for a, a_port, b, b_port, reply in flows:
            connection = {"src_ip": a["ip"], "src_port": a_port, "dest_ip": b["ip"], "dest_port": b_port, "protocol": 6}
            a_gke, a_vm = side(a)
            b_gke, b_vm = side(b)
            for reporter in ("SRC", "DEST"):
                payload = {"connection": connection, "reporter": reporter, "bytes_sent": str(packets * (900 if reply else 120)),
                           "packets_sent": str(packets), "start_time": ts(start), "end_time": ts(start + 5),
                           "src_gke_details": a_gke, "src_instance": a_vm, "src_vpc": vpc,
                           "dest_gke_details": b_gke, "dest_instance": b_vm, "dest_vpc": vpc}
                if rtt and not reply:
                    payload["rtt_msec"] = str(rng.randint(1, 9))
                entry = {"insertId": "%014x" % rng.getrandbits(56), "jsonPayload": payload,
                         "logName": "projects/flowq-bench/logs/compute.googleapis.com%2Fvpc_flows",
                         "resource": {"type": "gce_subnetwork", "labels": {"project_id": "flowq-bench", "location": "europe-west1-b",
                                                                           "subnetwork_id": "4242", "subnetwork_name": "gke"}},
                         "timestamp": ts(start + 20), "receiveTimestamp": ts(start + 21)}
                yield json.dumps(entry, separators=(",", ":"))


def eks_lines(cluster, rng, t0, dests):
    seq = 0
    while True:
        seq += 1
        t = t0 + seq * 0.0004
        if seq % 97 == 0:
            yield json.dumps({"level": "info", "ts": ts_ms(t), "caller": "controllers/policyendpoints_controller.go:211",
                              "msg": "Processing Policy Endpoints"}, separators=(",", ":"))
            continue
        src = rng.choice(cluster.pods)
        dst, port = dests.pick(rng)
        denied = rng.random() < 0.04
        msg = ("Flow Info: Src IP: %s Src Port: %d Dest IP: %s Dest Port: %d Proto TCP Verdict %s Direction ingress, Tier %s"
               % (src["ip"], rng.randint(32768, 60999), dst["ip"], port,
                  "DENY" if denied else "ACCEPT", "NETWORK_POLICY" if denied else "DEFAULT"))
        yield json.dumps({"level": "info" if denied else "debug", "ts": ts_ms(t), "caller": "runtime/asm_amd64.s:1700",
                          "msg": msg}, separators=(",", ":"))


def ts_ms(t):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(t))) + ".%03dZ" % int((t - int(t)) * 1000)


def ts(t):
    whole = int(t)
    nanos = int((t - whole) * 1e9)
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + ".%09dZ" % nanos


def uuid(rng):
    h = "%032x" % rng.getrandbits(128)
    return "%s-%s-4%s-a%s-%s" % (h[:8], h[8:12], h[13:16], h[17:20], h[20:32])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", default="100M")
    ap.add_argument("--format", default="hubble",
                    choices=["hubble", "calico", "gke-policy-action", "gke-vpc", "aws-network-policy-agent"])
    ap.add_argument("--pods", type=int, default=5000)
    ap.add_argument("--policies", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--hot-port", type=parse_hot_port, metavar="PORT:SHARE",
                    help="send SHARE (0-1) of the connections to PORT, e.g. 9200:0.12")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    cluster = Cluster(rng, args.pods, args.policies)
    snap = os.path.join(args.out, "cluster.json")
    if not os.path.exists(snap):
        with open(snap, "w") as fh:
            json.dump(cluster.snapshot(), fh)
    gen = {"hubble": hubble_lines, "calico": calico_lines, "gke-policy-action": gke_policy_lines,
           "gke-vpc": gke_vpc_lines, "aws-network-policy-agent": eks_lines}[args.format]
    target = parse_size(args.size)
    hot = ".hot%d" % args.hot_port[0] if args.hot_port else ""
    path = os.path.join(args.out, "flows.%s.%s%s.ndjson" % (args.format, args.size, hot))
    written = 0
    dests = Destinations(cluster, args.hot_port)
    with open(path, "w", buffering=1 << 20) as fh:
        for line in gen(cluster, rng, 1795201500.0, dests):
            fh.write(line)
            fh.write("\n")
            written += len(line) + 1
            if written >= target:
                break
    print(path)


if __name__ == "__main__":
    sys.exit(main())
