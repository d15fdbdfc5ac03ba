"""Requests + model + deployment -> communication DAG (the three stages).

For each request, in arrival order:

1. **Placement**: prefill instances, attention hosts within an instance and
   decode hosts are used round-robin.  With ``instance_queue: fcfs`` an
   instance prefills one request at a time: a request's first layer waits
   for the previous request's last layer on that instance (the previous
   request's P2D and combine traffic then overlap the next one's compute and
   all-to-all).  The instance *admits* the request then: a zero-length
   ``admit`` node reports layer 0 as executing, so a scheduler can tell a
   request whose GPU waits for its first KV fetch from one still queued.
2. **Stage 1, KV fetch**: prompt blocks that hit the prefix cache are fetched
   from their holder layer by layer (layer ``l`` after layer ``l-1``,
   starting at arrival), ``tokens x kv_bytes`` per layer, each ahead of that
   layer's attention.
3. **Stage 2, collectives**: MoE all-to-all or dense TP ring all-reduce per
   layer (:mod:`moe_prefill`, :mod:`dense_prefill`).
4. **Stage 3, P2D**: after each layer's attention the layer's KV for the whole
   prompt (``input x kv_bytes``) goes from the hosts holding it to the
   decode host; or, with ``p2d: bulk``, all layers in one transfer at the end.
   The terminal node (first token on the decode host) waits for the P2D and
   for the end of prefill.

Finally each request's TTFT SLO is ``slo_scale`` x its isolated TTFT (the
DAG's critical path with uncontended NICs), the convention of DistServe-style
evaluations.
"""

import dataclasses
import itertools

from traces.dag_builder import DagBuilder, split_integer
from traces.isolated import isolated_times
from traces.synth.dense_prefill import build_dense_prefill
from traces.synth.moe_prefill import build_moe_prefill
from traces.synth.prefill_job import PrefillJob
from traces.synth.prefix_cache import PrefixCache
from traces.trace import Trace


def synthesize(requests, model, deployment, p2d=None, slo_scale=None, seed=0, source=""):
    """Build the DAG trace; ``p2d`` / ``slo_scale`` override the deployment's."""
    p2d = p2d or deployment.p2d
    slo_scale = slo_scale or deployment.slo_scale
    builder = DagBuilder(deployment.intra_host_rate, deployment.protocol, deployment.server_of)
    cache = PrefixCache(deployment.kv_cache, seed)
    instances = itertools.cycle(range(len(deployment.prefill_instances)))
    decode_hosts = itertools.cycle(deployment.decode_hosts)
    attention_turn = [itertools.cycle(inst.hosts) for inst in deployment.prefill_instances]
    busy_until = {}                                # instance -> ids of its last request
    placed = []
    for req in sorted(requests, key=lambda r: r.arrival_us):
        index = next(instances)
        hosts = list(deployment.prefill_instances[index].hosts)
        attention_host = next(attention_turn[index]) if model.is_moe else None
        decode = next(decode_hosts)
        hits = cache.lookup(req)
        cached = sum(tokens for _, tokens in hits)
        kv_hosts = [attention_host] if model.is_moe else hosts
        admit = builder.compute(f"{req.id}.admit@{kv_hosts[0]}", req.id, kv_hosts[0], 0.0,
                                busy_until.get(index, []), layer=0, label="admitted")
        job = PrefillJob(request_id=req.id, model=model, deployment=deployment, hosts=hosts,
                         new_tokens=req.input_tokens - cached, cached_tokens=cached,
                         start_deps=[admit],
                         fetch_done=_kv_fetch(builder, req.id, model, hits, kv_hosts))
        if model.is_moe:
            result = build_moe_prefill(builder, job, attention_host)
        else:
            result = build_dense_prefill(builder, job)
        if deployment.instance_queue == "fcfs":
            busy_until[index] = result.release
        sent = _p2d(builder, req, model, kv_hosts, decode, result, p2d)
        terminal = builder.compute(f"{req.id}.first_token@{decode}", req.id, decode, 0.0,
                                   sent + result.done, label="first token")
        if model.is_moe:                           # the attention host first
            hosts = [attention_host] + [h for h in hosts if h != attention_host]
        placed.append(dataclasses.replace(req, prefill_hosts=hosts, decode_host=decode,
                                          terminal=terminal, cached_tokens=cached))
    trace = Trace(requests=placed, nodes=builder.nodes, source=source,
                  nic_bps=deployment.nic_bps(),
                  meta={"model": model.name, "layers": model.layers, "deployment": deployment.name,
                        "p2d": p2d, "slo_scale": slo_scale,
                        "instance_queue": deployment.instance_queue})
    isolated = isolated_times(trace, deployment.nic)
    for req in trace.requests:             # (at least 1 us: an empty prompt has no work)
        req.ttft_slo_us = max(round(slo_scale * isolated[req.id].ttft_us, 3), 1.0)
    return trace


def _kv_fetch(builder, rid, model, hits, kv_hosts):
    """Per layer: host -> ids of that layer's fetched KV (a chain per holder and host)."""
    per_layer = [dict() for _ in range(model.layers)]
    previous = {}
    for holder, tokens in hits:
        shares = split_integer(tokens * model.kv_bytes_per_token_layer, [1] * len(kv_hosts))
        for host, nbytes in zip(kv_hosts, shares):
            for layer in range(model.layers):
                after = previous.get((holder, host), [])
                got = builder.transfer(f"{rid}.L{layer}.kv_fetch.{holder}>{host}", rid, holder,
                                       host, nbytes, "kv_fetch", after, layer,
                                       label="prefix KV fetch")
                previous[(holder, host)] = got
                per_layer[layer].setdefault(host, []).extend(got)
    return per_layer


def _p2d(builder, req, model, kv_hosts, decode, result, mode):
    """KV of the whole prompt to the decode host: per layer, or in bulk at the end."""
    rid = req.id
    shares = split_integer(req.input_tokens * model.kv_bytes_per_token_layer, [1] * len(kv_hosts))
    sent = []
    for host, nbytes in zip(kv_hosts, shares):
        if mode == "bulk":
            sent += builder.transfer(f"{rid}.p2d.{host}>{decode}", rid, host, decode,
                                     nbytes * model.layers, "p2d", result.done, None,
                                     label="P2D KV transfer (all layers)")
            continue
        for layer in range(model.layers):
            sent += builder.transfer(f"{rid}.L{layer}.p2d.{host}>{decode}", rid, host, decode,
                                     nbytes, "p2d", result.attention_done[layer][host], layer,
                                     label="P2D KV transfer")
    return sent
