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
   With ``batching``, the instance runs one forward pass over a batch of
   requests (or prompt chunks) at a time instead (:mod:`batching`); a
   request is admitted with the first pass that computes part of it.
2. **Stage 1, KV fetch**: prompt blocks that hit the prefix cache are fetched
   from their holder layer by layer (layer ``l`` after layer ``l-1``,
   starting at arrival), ``tokens x kv_bytes`` per layer, each ahead of that
   layer's attention.
3. **Stage 2, collectives**: MoE all-to-all or dense TP ring all-reduce per
   layer (:mod:`moe_prefill`, :mod:`dense_prefill`), over one request's
   tokens, or a batch's: then one flow serves every request of the batch.
4. **Stage 3, P2D**: after each layer's attention the layer's KV for the whole
   prompt (``input x kv_bytes``) goes from the hosts holding it to the
   decode host (with chunked prefill, each chunk's KV after the chunk's
   attention); or, with ``p2d: bulk``, all layers in one transfer at the end.
   The terminal node (first token on the decode host) waits for the P2D and
   for the end of prefill.

Finally each request's TTFT SLO is ``slo_scale`` x its isolated TTFT (the
DAG's critical path with uncontended NICs), the convention of DistServe-style
evaluations.  With batching the base is still the request computed alone
(its unbatched isolated TTFT), so batching on and off are held to the same
SLOs.
"""

import dataclasses
import itertools

from traces.dag_builder import DagBuilder, split_integer
from traces.isolated import UncontendedClock, isolated_times
from traces.model import Batch
from traces.synth.batching import Scheduler, StepPlanner
from traces.synth.dense_prefill import build_dense_prefill
from traces.synth.moe_prefill import build_moe_prefill
from traces.synth.prefill_job import PrefillStep, StepEntry
from traces.synth.prefix_cache import PrefixCache
from traces.trace import Trace


@dataclasses.dataclass
class Placement:
    """Where a request runs, and what of its prompt the prefix cache holds."""

    request: object
    instance: int
    hosts: list                   # the instance's hosts
    attention_host: object        # MoE: the host running its attention (None: dense)
    decode: str
    hits: list                    # [(holder, cached tokens)]

    @property
    def cached(self):
        return sum(tokens for _, tokens in self.hits)

    @property
    def new_tokens(self):
        return self.request.input_tokens - self.cached

    @property
    def kv_hosts(self):
        """The hosts holding the request's KV cache."""
        return [self.attention_host] if self.attention_host else self.hosts


def synthesize(requests, model, deployment, p2d=None, slo_scale=None, seed=0, source=""):
    """Build the DAG trace; ``p2d`` / ``slo_scale`` override the deployment's."""
    p2d = p2d or deployment.p2d
    slo_scale = slo_scale or deployment.slo_scale
    trace = _build_dag(requests, model, deployment, p2d, slo_scale, seed, source)
    base = trace                           # the SLO base: each request computed alone
    if deployment.batching is not None:
        base = _build_dag(requests, model, deployment.model_copy(update={"batching": None}),
                          p2d, slo_scale, seed, source)
    isolated = isolated_times(base, deployment.nic)
    for req in trace.requests:             # (at least 1 us: an empty prompt has no work)
        req.ttft_slo_us = max(round(slo_scale * isolated[req.id].ttft_us, 3), 1.0)
    return trace


def _build_dag(requests, model, deployment, p2d, slo_scale, seed, source):
    """The trace of ``synthesize`` without SLOs."""
    builder = DagBuilder(deployment.intra_host_rate, deployment.protocol, deployment.server_of)
    placements = _place(requests, model, deployment, seed)
    build = _Build(builder, model, deployment, p2d)
    if deployment.batching is None:
        terminals = build.one_at_a_time(placements)
    else:
        terminals = build.batched(placements)
    placed = []
    for pl in placements:
        hosts = list(pl.hosts)
        if pl.attention_host:                      # the attention host first
            hosts = [pl.attention_host] + [h for h in hosts if h != pl.attention_host]
        placed.append(dataclasses.replace(pl.request, prefill_hosts=hosts, decode_host=pl.decode,
                                          terminal=terminals[pl.request.id],
                                          cached_tokens=pl.cached))
    meta = {"model": model.name, "layers": model.layers, "deployment": deployment.name,
            "p2d": p2d, "slo_scale": slo_scale, "instance_queue": deployment.instance_queue}
    if deployment.batching is not None:
        meta["batching"] = deployment.batching.model_dump()
    return Trace(requests=placed, nodes=builder.nodes, batches=build.batches, source=source,
                 nic_bps=deployment.nic_bps(), meta=meta)


def _place(requests, model, deployment, seed):
    """Instance, attention and decode host of each request (round-robin, in
    arrival order) and its prefix-cache hits."""
    cache = PrefixCache(deployment.kv_cache, seed)
    instances = itertools.cycle(range(len(deployment.prefill_instances)))
    decode_hosts = itertools.cycle(deployment.decode_hosts)
    attention_turn = [itertools.cycle(inst.hosts) for inst in deployment.prefill_instances]
    placements = []
    for req in sorted(requests, key=lambda r: r.arrival_us):
        index = next(instances)
        attention_host = next(attention_turn[index]) if model.is_moe else None
        placements.append(Placement(req, index, list(deployment.prefill_instances[index].hosts),
                                    attention_host, next(decode_hosts), cache.lookup(req)))
    return placements


class _BatchIds:
    """Batch ids ``i{instance}.b{k}``, never one of the request ids (the data
    planes schedule both by id)."""

    def __init__(self, request_ids):
        self.taken = set(request_ids)

    def make(self, instance, k):
        batch_id = f"i{instance}.b{k}"
        while batch_id in self.taken:
            batch_id = f"batch-{batch_id}"
        self.taken.add(batch_id)
        return batch_id


class _Build:
    """Adds the nodes of every request's three stages to ``builder``."""

    def __init__(self, builder, model, deployment, p2d):
        self.builder, self.model, self.deployment, self.p2d = builder, model, deployment, p2d
        self.batches = []
        self.prefill = build_moe_prefill if model.is_moe else build_dense_prefill

    def one_at_a_time(self, placements):
        """Each request in a forward pass of its own; returns request -> terminal node."""
        busy_until, terminals = {}, {}
        for pl in placements:
            rid = pl.request.id
            admit = self._admit(pl, busy_until.get(pl.instance, []))
            entry = self._entry(pl, pl.new_tokens, pl.cached, self._kv_fetch(pl))
            result = self._step(rid, rid, pl, [entry], [admit])
            if self.deployment.instance_queue == "fcfs":
                busy_until[pl.instance] = result.release
            sent = self._p2d(pl, rid, pl.request.input_tokens, result)
            terminals[rid] = self._first_token(pl, sent + result.done)
        return terminals

    def batched(self, placements):
        """Continuous batching on each instance; returns request -> terminal node."""
        arrivals = {pl.request.id: pl.request.arrival_us for pl in placements}
        clock = UncontendedClock(arrivals, self.deployment.nic)
        batch_ids = _BatchIds(arrivals)
        terminals, sent = {}, {}
        for index in range(len(self.deployment.prefill_instances)):
            planner = self._planner([pl for pl in placements if pl.instance == index])
            release, count = [], 0
            while planner:
                _, chunks = planner.next_step(clock.end_of(release))
                batch_id = batch_ids.make(index, count)
                count += 1
                start_deps, entries = list(release), []
                for chunk in chunks:
                    pl = chunk.placement
                    fetched = None
                    if chunk.first:
                        start_deps.append(self._admit(pl, release))
                        fetched = self._kv_fetch(pl)
                    entries.append(self._entry(pl, chunk.tokens, pl.cached + chunk.done_before,
                                               fetched))
                first = chunks[0].placement
                self.batches.append(Batch(
                    id=batch_id, requests=[c.placement.request.id for c in chunks],
                    tokens=[c.tokens for c in chunks], prefill_hosts=list(first.hosts)))
                with self.builder.serving(batch_id):
                    result = self._step(batch_id, first.request.id, first, entries, start_deps)
                release = result.release
                for chunk in chunks:
                    pl, rid = chunk.placement, chunk.placement.request.id
                    whole = chunk.first and chunk.last
                    kv_tokens = chunk.tokens + (pl.cached if chunk.first else 0)
                    prefix = rid if whole else f"{rid}.c{chunk.index}"
                    sent.setdefault(rid, [])
                    if self.p2d != "bulk":
                        sent[rid] += self._p2d(pl, prefix, kv_tokens, result)
                    if chunk.last:
                        if self.p2d == "bulk":
                            sent[rid] += self._p2d(pl, rid, pl.request.input_tokens, result)
                        terminals[rid] = self._first_token(pl, sent.pop(rid) + result.done)
                clock.update(self.builder.nodes)
        return terminals

    def _planner(self, queue):
        """A dense instance is one engine; a MoE instance one engine per
        attention host (its DP ranks), each with its GPUs' budget."""
        config = self.deployment.batching
        if not self.model.is_moe:
            return StepPlanner([Scheduler(queue, config.max_num_batched_tokens,
                                          config.max_num_seqs, config.chunked_prefill)])
        g = self.deployment.gpus_per_host
        hosts = list(dict.fromkeys(pl.attention_host for pl in queue))
        return StepPlanner([Scheduler([pl for pl in queue if pl.attention_host == host],
                                      g * config.max_num_batched_tokens, g * config.max_num_seqs,
                                      config.chunked_prefill) for host in hosts])

    # -- the pieces --------------------------------------------------------------

    def _admit(self, pl, after):
        host = pl.kv_hosts[0]
        return self.builder.compute(f"{pl.request.id}.admit@{host}", pl.request.id, host, 0.0,
                                    after, layer=0, label="admitted")

    def _entry(self, pl, tokens, context, fetched):
        if fetched is None:                        # a later chunk: its KV is fetched already
            fetched = [{} for _ in range(self.model.layers)]
        return StepEntry(pl.request.id, tokens, context, fetched, pl.attention_host)

    def _step(self, prefix, request_id, pl, entries, start_deps):
        return self.prefill(self.builder, PrefillStep(
            prefix=prefix, request_id=request_id, model=self.model, deployment=self.deployment,
            hosts=pl.hosts, entries=entries, start_deps=start_deps))

    def _first_token(self, pl, after):
        rid = pl.request.id
        return self.builder.compute(f"{rid}.first_token@{pl.decode}", rid, pl.decode, 0.0,
                                    after, label="first token")

    def _kv_fetch(self, pl):
        """Per layer: host -> ids of that layer's fetched KV (a chain per holder and host)."""
        model, rid, kv_hosts = self.model, pl.request.id, pl.kv_hosts
        per_layer = [dict() for _ in range(model.layers)]
        previous = {}
        for holder, tokens in pl.hits:
            shares = split_integer(tokens * model.kv_bytes_per_token_layer, [1] * len(kv_hosts))
            for host, nbytes in zip(kv_hosts, shares):
                for layer in range(model.layers):
                    after = previous.get((holder, host), [])
                    got = self.builder.transfer(f"{rid}.L{layer}.kv_fetch.{holder}>{host}", rid,
                                                holder, host, nbytes, "kv_fetch", after, layer,
                                                label="prefix KV fetch")
                    previous[(holder, host)] = got
                    per_layer[layer].setdefault(host, []).extend(got)
        return per_layer

    def _p2d(self, pl, prefix, tokens, result):
        """KV of ``tokens`` prompt tokens to the decode host: per layer after
        its attention, or (``p2d: bulk``) all layers at the end."""
        model, rid, decode = self.model, pl.request.id, pl.decode
        shares = split_integer(tokens * model.kv_bytes_per_token_layer, [1] * len(pl.kv_hosts))
        sent = []
        for host, nbytes in zip(pl.kv_hosts, shares):
            if self.p2d == "bulk":
                sent += self.builder.transfer(f"{prefix}.p2d.{host}>{decode}", rid, host, decode,
                                              nbytes * model.layers, "p2d", result.done, None,
                                              label="P2D KV transfer (all layers)")
                continue
            for layer in range(model.layers):
                sent += self.builder.transfer(f"{prefix}.L{layer}.p2d.{host}>{decode}", rid,
                                              host, decode, nbytes, "p2d",
                                              result.attention_done[layer][host], layer,
                                              label="P2D KV transfer")
        return sent
