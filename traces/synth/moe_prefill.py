"""Prefill of a MoE model on one instance: DP attention, expert parallelism.

Each request's attention runs on one host of the instance (its *attention
host*, which also holds its KV cache); each layer then sends every token's
hidden state to its ``top_k`` experts spread over the ``EP`` GPU ranks of the
instance (dispatch) and gets the results back (combine).  Experts are assumed
balanced, so a host with ``g`` GPUs receives ``g / EP`` of the
``new x top_k x hidden x 2`` bytes each way; the share for the attention
host's own GPUs stays in the host (a local delay for the ``g - 1`` other
GPUs).  With one GPU per host, ``(EP - 1) / EP`` of the bytes cross the
network, as in the issue's formula.  With rail-style ``servers`` (one GPU and
NIC per host), the share for the other GPUs of the attention GPU's server is
one local delay per GPU, in parallel, each at ``intra_host_rate``: a GPU's
NVLink is then counted once per peer, so such copies are up to ``g - 1``
times faster than the one copy of a shared-NIC host (NVLink time is small
beside the network's either way).  Every byte to another server leaves
through the attention GPU's own NIC (no relay over NVLink).

A batched step has requests on several attention hosts: each attention host
computes its requests' attention in one node (their FLOPs summed) and
dispatches their tokens; each expert host computes the batch's tokens in one
node, once every attention host's dispatch has arrived, and combines each
attention host's share back to it.  The collective is then a true
all-to-all between the attention hosts and the expert hosts.

Per layer ``l``:  attn@A -> dispatch A>X -> expert@X -> combine X>A -> attn@A (l+1)
"""

from traces.dag_builder import split_integer
from traces.synth.compute_model import attention_flops, duration_us, expert_flops
from traces.synth.prefill_job import PrefillResult


def build_moe_prefill(builder, step):
    model, dep = step.model, step.deployment
    rid, hosts, g, p = step.request_id, step.hosts, dep.gpus_per_host, step.prefix
    flops = dep.host_flops()
    on_host = {}                                   # attention host -> its entries
    for entry in step.entries:
        on_host.setdefault(entry.attention_host, []).append(entry)
    weights = [g] * len(hosts)
    dispatch = {a: split_integer(sum(e.new_tokens for e in entries)
                                 * model.dispatch_bytes_per_token, weights)
                for a, entries in on_host.items()}
    attn_us = {a: sum(duration_us(attention_flops(model, e.new_tokens, e.context_tokens), flops)
                      for e in entries) for a, entries in on_host.items()}
    pairs = split_integer(step.tokens * model.top_k, weights)
    expert_us = [duration_us(expert_flops(model, n), flops) for n in pairs]
    result = PrefillResult()
    waiting = {a: list(step.start_deps) for a in on_host}
    for layer in range(model.layers):
        attn = {}
        for a, entries in on_host.items():
            fetched = [i for e in entries for i in e.fetch_done[layer].get(a, [])]
            attn[a] = [builder.compute(f"{p}.L{layer}.attn@{a}", rid, a, attn_us[a],
                                       waiting[a] + fetched, layer=layer, label="attention")]
        result.attention_done.append(attn)
        waiting, experts = {a: [] for a in on_host}, []
        for index, (host, took) in enumerate(zip(hosts, expert_us)):
            arrived = []
            for a in on_host:
                arrived += builder.transfer(
                    f"{p}.L{layer}.dispatch{_tag(a, host)}", rid, a, host,
                    _cross(dispatch[a][index], a, host, g), "collective", attn[a], layer,
                    label="all-to-all dispatch")
            expert = builder.compute(f"{p}.L{layer}.expert@{host}", rid, host, took, arrived,
                                     layer=layer, label="experts")
            experts.append(expert)
            for a in on_host:
                waiting[a] += builder.transfer(
                    f"{p}.L{layer}.combine{_tag(host, a)}", rid, host, a,
                    _cross(dispatch[a][index], a, host, g), "collective", [expert], layer,
                    label="all-to-all combine")
    result.done = [i for ids in waiting.values() for i in ids]
    result.release = experts
    return result


def _tag(src, dst):
    return f"@{src}" if src == dst else f".{src}>{dst}"


def _cross(nbytes, attention_host, host, g):
    """The bytes that move: on the attention host only those for its other GPUs."""
    return nbytes * (g - 1) // g if host == attention_host else nbytes
