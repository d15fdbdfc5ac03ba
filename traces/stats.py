"""Summary of a trace: sizes by stage, compute time, span, and the network
share of each request's isolated TTFT (which regime the trace is in)."""

from collections import Counter, defaultdict

import numpy as np

from traces.isolated import isolated_times
from traces.model import STAGES, FlowNode, collective_of


def trace_stats(trace, rate_of=None):
    """A JSON-ready dict; ``rate_of(host) -> bit/s`` overrides the header's NIC rates."""
    flows = [n for n in trace.nodes if isinstance(n, FlowNode)]
    computes = [n for n in trace.nodes if not isinstance(n, FlowNode)]
    flow_count = Counter(f.stage for f in flows)
    flow_bytes = Counter()
    for f in flows:
        flow_bytes[f.stage] += f.bytes
    arrivals = [r.arrival_us for r in trace.requests]
    isolated = isolated_times(trace, rate_of)
    per_request = []
    for req in trace.requests:
        row = {"id": req.id, "arrival_us": req.arrival_us, "input_tokens": req.input_tokens,
               "ttft_slo_us": req.ttft_slo_us}
        if req.id in isolated:
            iso = isolated[req.id]
            row.update(isolated_ttft_us=round(iso.ttft_us, 3), network_us=round(iso.network_us, 3),
                       network_share=round(iso.network_share, 4))
        per_request.append(row)
    ends = [req.arrival_us + isolated[req.id].ttft_us for req in trace.requests
            if req.id in isolated]
    shares = [isolated[r].network_share for r in isolated]
    return {
        "requests": len(trace.requests),
        "nodes": len(trace.nodes),
        "flows": len(flows),
        "compute_nodes": len(computes),
        "bytes": sum(flow_bytes.values()),
        "flows_by_stage": {s: flow_count.get(s, 0) for s in STAGES},
        "bytes_by_stage": {s: flow_bytes.get(s, 0) for s in STAGES},
        "compute_us": round(sum(n.duration_us for n in computes), 3),
        "time_span_us": {
            "first_arrival": min(arrivals, default=0.0),
            "last_arrival": max(arrivals, default=0.0),
            "arrivals": max(arrivals, default=0.0) - min(arrivals, default=0.0),
            "isolated_end": round(max(ends), 3) if ends else None,
        },
        "hosts": sorted(trace.hosts(), key=_natural),
        "network_share": _summary(shares),
        "isolated_ttft_us": _summary([isolated[r].ttft_us for r in isolated]),
        "per_request": per_request,
        "per_host": _per_host(flows),
        "collectives": _collectives(flows, rate_of or trace.nic_rate),
        "batches": _batches(trace),
    }


def _batches(trace):
    """How many batches, and how many requests and prompt tokens each holds
    (None for an unbatched trace)."""
    if not trace.batches:
        return None
    sizes = [len(b.requests) for b in trace.batches]
    tokens = [sum(b.tokens) for b in trace.batches if b.tokens is not None]
    chunked = {r for b in trace.batches for r in b.requests}
    pieces = sum(sizes) - len(chunked)
    return {"count": len(trace.batches), "requests": _summary(sizes),
            "tokens": _summary(tokens) if tokens else None,
            "shared": sum(size > 1 for size in sizes),
            "extra_chunks": pieces}


def _per_host(flows):
    """Bytes each host sends and receives over the network (a rank's, when
    one rank runs per host)."""
    sent, received = Counter(), Counter()
    for f in flows:
        sent[f.src] += f.bytes
        received[f.dst] += f.bytes
    return {h: {"sent_bytes": sent[h], "received_bytes": received[h]}
            for h in sorted(set(sent) | set(received), key=_natural)}


def _collectives(flows, rate_of):
    """Each collective's flows, bytes and isolated CCT: its flows started
    together on an idle, non-blocking fabric, so the busiest NIC direction
    bounds it (``max over hosts of bytes out or in x 8 / NIC rate``); and the
    captured CCT where the trace has one."""
    members = defaultdict(list)
    for f in flows:
        if f.stage == "collective":
            members[collective_of(f)].append(f)
    rows = []
    for (cid, kind), group in members.items():
        out, into = Counter(), Counter()
        for f in group:
            out[f.src] += f.bytes
            into[f.dst] += f.bytes
        busiest = max([b * 8 / rate_of(h) for h, b in out.items()]
                      + [b * 8 / rate_of(h) for h, b in into.items()])
        recorded = [f.recorded_cct_us for f in group if f.recorded_cct_us is not None]
        rows.append({"id": cid, "kind": kind, "flows": len(group),
                     "bytes": sum(f.bytes for f in group),
                     "isolated_cct_us": round(busiest * 1e6, 3),
                     "recorded_cct_us": max(recorded) if recorded else None})
    return rows


def _summary(values):
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    return {"mean": round(float(data.mean()), 4), "min": round(float(data.min()), 4),
            "p50": round(float(np.median(data)), 4), "max": round(float(data.max()), 4)}


def format_stats(stats, per_request_rows=20):
    """Plain-text rendering of :func:`trace_stats`."""
    mb = 1e6
    lines = [f"requests        {stats['requests']}",
             f"nodes           {stats['nodes']} ({stats['flows']} flows, "
             f"{stats['compute_nodes']} compute)",
             f"bytes           {stats['bytes'] / mb:.3f} MB"]
    for stage in STAGES:
        count = stats["flows_by_stage"][stage]
        if count:
            megabytes = stats["bytes_by_stage"][stage] / mb
            lines.append(f"  {stage:<13} {count:>6} flows {megabytes:>12.3f} MB")
    batches = stats.get("batches")
    if batches:
        size = batches["requests"]
        lines.append(f"batches         {batches['count']} ({batches['shared']} of several "
                     f"requests; requests per batch mean {size['mean']:.2f}, max "
                     f"{size['max']:.0f}; {batches['extra_chunks']} extra prompt chunks)")
    span = stats["time_span_us"]
    lines.append(f"compute time    {stats['compute_us'] / 1e3:.3f} ms (sum of compute nodes)")
    lines.append(f"arrivals        {span['first_arrival'] / 1e3:.3f} .. "
                 f"{span['last_arrival'] / 1e3:.3f} ms")
    if span["isolated_end"] is not None:
        lines.append(f"isolated end    {span['isolated_end'] / 1e3:.3f} ms")
    if stats["network_share"]:
        share, ttft = stats["network_share"], stats["isolated_ttft_us"]
        lines.append(f"isolated TTFT   mean {ttft['mean'] / 1e3:.3f} ms, "
                     f"max {ttft['max'] / 1e3:.3f} ms")
        lines.append(f"network share   mean {share['mean']:.2f} (min {share['min']:.2f}, "
                     f"max {share['max']:.2f}) of isolated TTFT")
        lines.append("")
        lines.append(f"{'request':<10} {'arrival ms':>10} {'tokens':>7} {'isolated ms':>11} "
                     f"{'network':>8} {'SLO ms':>8}")
        rows = [r for r in stats["per_request"] if "isolated_ttft_us" in r]
        for row in rows[:per_request_rows]:
            slo = "-" if row["ttft_slo_us"] is None else f"{row['ttft_slo_us'] / 1e3:.3f}"
            lines.append(f"{row['id']:<10} {row['arrival_us'] / 1e3:>10.3f} "
                         f"{row['input_tokens']:>7} {row['isolated_ttft_us'] / 1e3:>11.3f} "
                         f"{row['network_share']:>8.2f} {slo:>8}")
        if len(rows) > per_request_rows:
            lines.append(f"... {len(rows) - per_request_rows} more (--json lists all)")
    lines += _format_hosts(stats["per_host"]) + _format_collectives(stats["collectives"],
                                                                    per_request_rows)
    return "\n".join(lines)


def _format_hosts(per_host):
    if not per_host:
        return []
    lines = ["", f"{'host':<10} {'sent MB':>12} {'received MB':>12}"]
    for host, row in per_host.items():
        lines.append(f"{host:<10} {row['sent_bytes'] / 1e6:>12.3f} "
                     f"{row['received_bytes'] / 1e6:>12.3f}")
    return lines


def _format_collectives(rows, limit):
    if not rows:
        return []
    lines = ["", f"{'collective':<40} {'kind':<14} {'flows':>5} {'MB':>9} {'isolated us':>12} "
                 f"{'captured us':>12}"]
    for row in rows[:limit]:
        recorded = "-" if row["recorded_cct_us"] is None else f"{row['recorded_cct_us']:.1f}"
        lines.append(f"{row['id'][:40]:<40} {row['kind']:<14} {row['flows']:>5} "
                     f"{row['bytes'] / 1e6:>9.3f} {row['isolated_cct_us']:>12.1f} {recorded:>12}")
    if len(rows) > limit:
        lines.append(f"... {len(rows) - limit} more collectives (--json lists all)")
    return lines


def _natural(name):
    head = name.rstrip("0123456789")
    tail = name[len(head):]
    return head, int(tail) if tail else -1
