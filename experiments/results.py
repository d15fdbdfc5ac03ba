"""Turning a replay's raw records into the results tables (real units).

Agents record CLOCK_MONOTONIC instants (shared by every namespace); here they
become real microseconds since the experiment's time zero ``t0``:
``real_us = (t - t0) / D * 1e6``.  The tables and their columns are those of
``analysis/RESULTS_FORMAT.md``.
"""

import csv
import os
import re

import numpy as np
import pandas as pd

from traces.isolated import ttft_lower_bounds
from traces.model import collective_of, unit_of
from common.safe_files import write_text_atomic

FLOW_COLUMNS = ["flow_id", "request_id", "stage", "layer", "collective_id", "src", "dst", "protocol",
                "bytes", "bottleneck_bps", "ready_us", "start_us", "first_byte_us", "end_us", "fct_us",
                "queue_initial", "queue_final", "promotions", "retransmits", "status", "reason",
                "capture_fct_us", "batch"]
REQUEST_COLUMNS = ["request_id", "arrival_us", "ttft_slo_us", "deadline_us", "ttft_us", "slo_met",
                   "scavenged", "input_tokens", "output_tokens", "ttft_bound_us", "feasible",
                   "capture_ttft_us"]
COLLECTIVE_COLUMNS = ["collective_id", "request_id", "layer", "kind", "flows", "ready_us", "end_us",
                      "cct_us", "capture_cct_us"]


def capture_scale(trace, node, bottleneck_bps):
    """Factor turning a duration the capture measured into one on this fabric.

    A transfer is taken as bandwidth-bound: recorded at the capture's NIC rate
    (the trace header's ``nic_bps``, the slower of the two ends), replayed at
    the path's bottleneck.  A trace without ``nic_bps`` is compared unscaled.
    """
    if not trace.nic_bps:
        return 1.0
    return min(trace.nic_rate(node.src), trace.nic_rate(node.dst)) / bottleneck_bps


class RunRecords:
    """The merged records of one replay."""

    def __init__(self, trace, records, t0, dilation, routes, queue_changes, failures):
        self.trace = trace
        self.t0 = t0
        self.d = dilation
        self.routes = routes
        self.failures = failures          # node -> reason (from the hub)
        self.sends, self.recvs, self.computes = {}, {}, {}
        for rec in records:
            role = rec.get("role")
            if role == "send":
                self.sends[rec["flow_id"]] = rec
            elif role == "recv":
                self.recvs[rec["flow_id"]] = rec
            elif role == "compute":
                self.computes[rec["node_id"]] = rec
        self.changes = queue_changes
        self._nodes = {n.id: n for n in trace.nodes}
        self._arrivals = trace.unit_arrivals_us()

    def us(self, instant):
        return None if instant is None else round(self.d.real_time(instant - self.t0) * 1e6, 3)

    def node_end(self, node):
        if node.kind == "compute":
            rec = self.computes.get(node.id)
            return None if rec is None else rec["end"]
        rec = self.recvs.get(node.id)
        ok = rec is not None and node.id not in self.failures
        return rec["last_byte"] if ok else None

    def node_start(self, node):
        if node.kind == "compute":
            rec = self.computes.get(node.id)
            return None if rec is None else rec["start"]
        rec = self.sends.get(node.id)
        return None if rec is None else rec.get("start")

    def flows(self):
        # every flow's first and last queue and its promotions, in one pass
        first = last = promotions = {}
        if len(self.changes):
            by_flow = self.changes.groupby("flow_id", sort=False)
            first = by_flow["new_queue"].first().to_dict()
            last = by_flow["new_queue"].last().to_dict()
            promotions = (self.changes["reason"] == "promotion").groupby(
                self.changes["flow_id"], sort=False).sum().to_dict()
        rows = []
        rates = self.routes.directed_link_rates()
        bottleneck = {}     # (src, dst) -> the slowest link rate on the path
        for node in self.trace.nodes:
            if node.kind != "flow":
                continue
            send, recv = self.sends.get(node.id, {}), self.recvs.get(node.id, {})
            pair = (node.src, node.dst)
            if pair not in bottleneck:
                bottleneck[pair] = min(rates[link] for link in self.routes.directed_path(*pair))
            status = "ok" if node.id not in self.failures and recv.get("last_byte") else "failed"
            lost = self.lost_bytes(node)
            start = self.us(send.get("start"))
            end = self.us(recv.get("last_byte")) if status == "ok" else None
            coll = collective_of(node)[0] if node.stage == "collective" else ""
            rows.append({
                "flow_id": node.id, "request_id": node.request_id, "stage": node.stage,
                "layer": node.layer, "collective_id": coll, "src": node.src, "dst": node.dst,
                "protocol": node.protocol, "bytes": node.bytes,
                "bottleneck_bps": bottleneck[pair],
                "ready_us": self.us(self.dag_ready(node) or send.get("ready")), "start_us": start,
                "first_byte_us": self.us(recv.get("first_byte")), "end_us": end,
                "fct_us": None if start is None or end is None else round(end - start, 3),
                "queue_initial": None if node.id not in first else int(first[node.id]),
                "queue_final": None if node.id not in last else int(last[node.id]),
                "promotions": int(promotions.get(node.id, 0)),
                "retransmits": send.get("retransmits"),
                "status": status,
                "reason": (f"udp: lost {self.d.real_bytes(lost):.0f} of {node.bytes} bytes" if lost else "")
                if status == "ok" else self.failures.get(node.id, send.get("reason", "never completed")),
                "capture_fct_us": self._scaled(node.recorded_fct_us, node, bottleneck[pair]),
                "batch": node.batch,
            })
        return pd.DataFrame(rows, columns=FLOW_COLUMNS)

    def _scaled(self, recorded_us, node, bottleneck_bps):
        if recorded_us is None:
            return None
        return round(recorded_us * capture_scale(self.trace, node, bottleneck_bps), 3)

    def requests(self):
        nodes = self._nodes
        scavenged = set()
        if len(self.changes):
            scavenged = set(self.changes.loc[self.changes["reason"] == "scavenger", "request_id"].astype(str))
        topology = self.routes.topology
        bounds = ttft_lower_bounds(self.trace, lambda host: topology.host_link(host).rate_bps)
        rows = []
        for req in self.trace.requests:
            end = self.node_end(nodes[req.terminal]) if req.terminal in nodes else None
            ttft = None if end is None else round(self.us(end) - req.arrival_us, 3)
            bound = bounds.get(req.id)
            rows.append({
                "request_id": req.id, "arrival_us": req.arrival_us, "ttft_slo_us": req.ttft_slo_us,
                "deadline_us": req.deadline_us, "ttft_us": ttft,
                "slo_met": ttft is not None and req.ttft_slo_us is not None and ttft <= req.ttft_slo_us,
                "scavenged": req.id in scavenged,
                "input_tokens": req.input_tokens, "output_tokens": req.output_tokens,
                "ttft_bound_us": None if bound is None else round(bound, 3),
                # no scheduler can meet an SLO below the bound (None: no SLO or no bound)
                "feasible": None if bound is None or req.ttft_slo_us is None
                else bound <= req.ttft_slo_us,
                # as the deployment measured it (compute included: not rescaled)
                "capture_ttft_us": req.recorded_ttft_us})
        return pd.DataFrame(rows, columns=REQUEST_COLUMNS)

    def collectives(self, flows):
        coll = flows[flows["collective_id"].astype(bool)]
        if coll.empty:
            return pd.DataFrame(columns=COLLECTIVE_COLUMNS)
        kinds = {collective_of(n)[0]: collective_of(n)[1] for n in self.trace.nodes
                 if n.kind == "flow" and n.stage == "collective"}
        # the collective's recorded CCT, scaled by each flow's path
        recorded = {n.id: n for n in self.trace.nodes if n.kind == "flow" and n.recorded_cct_us}
        coll = coll.assign(capture=[
            self._scaled(recorded[f].recorded_cct_us, recorded[f], rate) if f in recorded else None
            for f, rate in zip(coll["flow_id"], coll["bottleneck_bps"])]).astype({"capture": float})
        # one groupby for every collective (a group lookup each costs minutes at 10^5)
        table = coll.assign(ok=coll["status"].eq("ok")).groupby(
            "collective_id", sort=False).agg(
            request_id=("request_id", "first"), layer=("layer", "first"),
            flows=("flow_id", "size"), ready_us=("ready_us", "min"), end_us=("end_us", "max"),
            done=("ok", "all"),
            # the slowest path's scaling: the flow that bounds the recorded CCT
            capture_cct_us=("capture", "max")).reset_index()
        table["end_us"] = table["end_us"].where(table["done"])
        table["kind"] = table["collective_id"].map(lambda cid: kinds.get(cid, "other"))
        table["cct_us"] = (table["end_us"] - table["ready_us"]).round(3)
        table = table.astype({"end_us": object, "cct_us": object, "capture_cct_us": object})
        table.loc[table["capture_cct_us"].isna(), "capture_cct_us"] = None
        missing = table["end_us"].isna() | table["ready_us"].isna()
        table.loc[missing, "cct_us"] = None
        table.loc[table["end_us"].isna(), "end_us"] = None
        return table[COLLECTIVE_COLUMNS]

    def dependency_violations(self):
        """Nodes that started before one of their dependencies ended (expected 0)."""
        nodes = self._nodes
        count = 0
        for node in self.trace.nodes:
            start = self.node_start(node)
            if start is None:
                continue
            for dep in node.deps:
                end = self.node_end(nodes[dep])
                if end is None or end > start + 1e-6:
                    count += 1
        return count

    def dag_ready(self, node):
        """The instant ``node`` could start: its request arrived and every
        dependency ended (None when one never did)."""
        ready = self.t0 + self.d.emu_time(self._arrivals[unit_of(node)] / 1e6)
        for dep in node.deps:
            end = self.node_end(self._nodes[dep])
            if end is None:
                return None
            ready = max(ready, end)
        return ready

    def engine_overheads(self):
        """What the replay engine itself costs, in wall-clock microseconds.

        * ``start_lag``: flows, from the instant the DAG made them ready (the
          end of their last dependency, wherever it ran, or their request's
          arrival) to their first byte written: notification, timer and
          loop latency, and the round trip for the flow's first decision.
        * ``dispatch_lag``: the same for every node, compute included.
        * ``compute_overrun``: how much later than its duration a timed compute
          node ended.
        * ``decision_to_mark``: from the controller's decision to the sender's
          socket carrying it (``IP_TOS``, pacing).
        """
        start_lag, dispatch, overrun, to_mark = [], [], [], []
        for node in self.trace.nodes:
            rec = self.computes.get(node.id) if node.kind == "compute" else self.sends.get(node.id)
            if rec is None or rec.get("start") is None:
                continue
            ready = self.dag_ready(node)
            if ready is not None:
                lag = rec["start"] - ready
                dispatch.append(lag)
                if node.kind == "flow":
                    start_lag.append(lag)
            if node.kind == "compute":
                overrun.append(rec["end"] - rec["start"] - self.d.emu_time(node.duration_us / 1e6))
                continue
            applied = rec.get("queues") or []
            to_mark += [q[0] - q[3] for q in applied if len(q) > 3 and q[3] is not None]
        out = {}
        for name, values in (("start_lag", start_lag), ("dispatch_lag", dispatch),
                             ("compute_overrun", overrun), ("decision_to_mark", to_mark)):
            arr = np.array(values) * 1e6
            for q in (50, 99):
                out[f"{name}_p{q}_wall_us"] = round(float(np.percentile(arr, q)), 1) if arr.size else None
        return out

    def lost_bytes(self, node):
        """Emulated bytes of a UDP flow its sender sent and its receiver never
        got (0 for TCP, or when either side's record is missing)."""
        if node.protocol != "udp":
            return 0
        sent = self.sends.get(node.id, {}).get("bytes")
        got = self.recvs.get(node.id, {}).get("bytes_received")
        return 0 if sent is None or got is None else max(0, sent - got)

    def byte_check(self):
        """Flows whose sender did not send the trace's bytes, or whose receiver
        got other than that (TCP) or more than was sent (UDP, where the
        difference is the loss, counted apart)."""
        bad = 0
        for node in self.trace.nodes:
            if node.kind != "flow" or node.id in self.failures:
                continue
            recv, sent = self.recvs.get(node.id), self.sends.get(node.id, {}).get("bytes")
            expected = self.d.emu_bytes(node.bytes)
            got = None if recv is None else recv["bytes_received"]
            if sent != expected or got is None or got > sent or (
                    node.protocol != "udp" and got != expected):
                bad += 1
        return bad

    def udp_losses(self):
        """(real bytes UDP flows lost, how many flows lost any): UDP does not
        retransmit, so these are reported, not hidden."""
        lost = [self.lost_bytes(n) for n in self.trace.nodes if n.kind == "flow"]
        return self.d.real_bytes(sum(lost)), sum(1 for b in lost if b)


QUEUE_CHANGE_COLUMNS = ["time_us", "flow_id", "request_id", "old_queue", "new_queue", "reason",
                        "pace_bps"]


def read_queue_changes(path):
    """The controller's queue changes; empty when it wrote none, or died before
    flushing any (a killed controller's last line may be cut: skipped)."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return pd.DataFrame(columns=QUEUE_CHANGE_COLUMNS)
    return pd.read_csv(path, dtype={"flow_id": str, "request_id": str}, on_bad_lines="skip")


def write_csv(frame, path):
    write_text_atomic(path, frame.to_csv(index=False, quoting=csv.QUOTE_MINIMAL))


def safe_name(text):
    return re.sub(r"[^A-Za-z0-9_.=-]", "_", text)
